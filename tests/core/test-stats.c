/* Tests of veto-stats on examples solved by hand: Krippendorff's alpha, noise, T[gold][CL]. */
#include <math.h>

#include "veto-stats.h"

/* Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the nominal example:
 * 4 observers, 12 units, values 1..5, some missing (0 here). Its alpha is 113/152 = 0.743. */
static void
test_alpha_textbook (void)
{
  static const guint data[4][12] = {
    { 1, 2, 3, 3, 2, 1, 4, 1, 2, 0, 0, 0 },
    { 1, 2, 3, 3, 2, 2, 4, 1, 2, 5, 0, 3 },
    { 0, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 0 },
    { 1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, 0 },
  };
  guint units[48], values[48], pairable = 0;
  gsize n = 0;

  for (guint observer = 0; observer < 4; observer++)
    for (guint unit = 0; unit < 12; unit++)
      if (data[observer][unit])
        {
          units[n] = unit;
          values[n] = data[observer][unit] - 1;
          n++;
        }
  g_assert_cmpfloat_with_epsilon (veto_stats_krippendorff_alpha (units, values, n, 5, &pairable),
                                  113.0 / 152.0, 1e-12);
  /* Unit 12 has one value: it cannot be paired. */
  g_assert_cmpuint (pairable, ==, 40);
}

/* Two coders, three units (a,a) (a,b) (b,b): o_aa = o_bb = 2, o_ab = o_ba = 1, n = 6,
 * n_a = n_b = 3: alpha = 1 − (n − 1) · 2 / (2 · 3 · 3) = 4/9. */
static void
test_alpha_small (void)
{
  const guint units[] = { 0, 0, 1, 1, 2, 2 };
  const guint values[] = { 0, 0, 0, 1, 1, 1 };
  const guint same[] = { 1, 1, 1, 1, 1, 1 };
  const guint lonely_units[] = { 0, 1, 2 };

  g_assert_cmpfloat_with_epsilon (veto_stats_krippendorff_alpha (units, values, 6, 2, NULL),
                                  4.0 / 9.0, 1e-12);
  /* Perfect agreement on two categories is 1; one category only leaves alpha undefined. */
  {
    const guint agree[] = { 0, 0, 1, 1, 1, 1 };

    g_assert_cmpfloat_with_epsilon (veto_stats_krippendorff_alpha (units, agree, 6, 2, NULL),
                                    1.0, 1e-12);
  }
  g_assert_true (isnan (veto_stats_krippendorff_alpha (units, same, 6, 2, NULL)));
  g_assert_true (isnan (veto_stats_krippendorff_alpha (lonely_units, values, 3, 2, NULL)));
}

static void
test_majority (void)
{
  const guint clear[] = { 0, 3, 1 };
  const guint tie[] = { 2, 0, 2 };
  const guint none[] = { 0, 0, 0 };

  g_assert_cmpint (veto_stats_majority (clear, 3), ==, 1);
  g_assert_cmpint (veto_stats_majority (tie, 3), ==, -1);
  g_assert_cmpint (veto_stats_majority (none, 3), ==, -1);
}

/* Three classes; items 0, 1, 2 have gold 0, 1, 2 and item 3 none; item 0 is an anchor. */
static void
test_noise_and_transition (void)
{
  const gint gold[] = { 0, 1, 2, -1 };
  const gboolean anchor[] = { TRUE, FALSE, FALSE, FALSE };
  const VetoStatsAnswer answers[] = {
    { 0, 0, VETO_STATS_COMPLEMENTARY, 0, 2 },   /* names the gold class: noisy, on the anchor */
    { 0, 1, VETO_STATS_COMPLEMENTARY, 1, 4 },
    { 1, 0, VETO_STATS_COMPLEMENTARY, 2, 6 },
    { 1, 1, VETO_STATS_COMPLEMENTARY, 1, NAN }, /* noisy */
    { 2, 0, VETO_STATS_ORDINARY, 2, 1 },
    { 2, 1, VETO_STATS_ORDINARY, 0, 3 },        /* not the gold class: noisy */
    { 3, 0, VETO_STATS_ORDINARY, 1, 5 },
    { 3, 1, VETO_STATS_ORDINARY, 1, 7 },
    { 3, 1, VETO_STATS_COMPLEMENTARY, 1, 9 },   /* names item 3's majority class */
    { 2, 0, VETO_STATS_COMPLEMENTARY, 0, 8 },   /* item 2's ordinary answers tie */
  };
  const VetoStatsInput input = {
    .n_classes = 3, .n_items = 4, .gold = gold, .anchor = anchor, .n_annotators = 2,
    .answers = answers, .n_answers = G_N_ELEMENTS (answers),
  };
  const guint counts[9] = { 1, 1, 0, 0, 1, 1, 1, 0, 0 };
  const double probabilities[9] = { .5, .5, 0, 0, .5, .5, 1, 0, 0 };
  g_autoptr (GError) error = NULL;
  VetoStatsReport r = { 0 };

  g_assert_true (veto_stats_compute (&input, &r, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (r.overall.answers, ==, 10);
  g_assert_cmpuint (r.overall.gold.n, ==, 7);
  g_assert_cmpuint (r.overall.gold.noisy, ==, 3);
  g_assert_cmpuint (r.overall.gold_kind[VETO_STATS_COMPLEMENTARY].n, ==, 5);
  g_assert_cmpuint (r.overall.gold_kind[VETO_STATS_COMPLEMENTARY].noisy, ==, 2);
  g_assert_cmpuint (r.overall.gold_kind[VETO_STATS_ORDINARY].n, ==, 2);
  g_assert_cmpuint (r.overall.gold_kind[VETO_STATS_ORDINARY].noisy, ==, 1);
  g_assert_cmpuint (r.overall.anchor.n, ==, 2);
  g_assert_cmpuint (r.overall.anchor.noisy, ==, 1);
  g_assert_cmpfloat_with_epsilon (veto_stats_count_rate (&r.overall.gold), 3.0 / 7, 1e-12);

  g_assert_cmpuint (r.annotators[0].answers, ==, 5);
  g_assert_cmpuint (r.annotators[0].gold.n, ==, 4);
  g_assert_cmpuint (r.annotators[0].gold.noisy, ==, 1);
  g_assert_cmpuint (r.annotators[0].anchor.noisy, ==, 1);
  g_assert_cmpuint (r.annotators[1].gold.n, ==, 3);
  g_assert_cmpuint (r.annotators[1].gold.noisy, ==, 2);
  g_assert_cmpuint (r.annotators[1].anchor.n, ==, 1);
  g_assert_cmpuint (r.annotators[1].anchor.noisy, ==, 0);

  /* Times: annotator 0 took 2, 6, 1, 5, 8 s; annotator 1 4, 3, 7, 9 s and one unknown. */
  g_assert_cmpfloat_with_epsilon (r.annotators[0].mean_seconds, 4.4, 1e-12);
  g_assert_cmpfloat_with_epsilon (r.annotators[0].median_seconds, 5, 1e-12);
  g_assert_cmpuint (r.annotators[1].timed, ==, 4);
  g_assert_cmpfloat_with_epsilon (r.annotators[1].mean_seconds, 5.75, 1e-12);
  g_assert_cmpfloat_with_epsilon (r.annotators[1].median_seconds, 5.5, 1e-12);

  for (guint i = 0; i < 9; i++)
    {
      g_assert_cmpuint (r.transition_counts[i], ==, counts[i]);
      g_assert_cmpfloat_with_epsilon (r.transition[i], probabilities[i], 1e-12);
    }
  g_assert_cmpuint (r.cl_majority.n, ==, 1);
  g_assert_cmpuint (r.cl_majority.noisy, ==, 1);

  /* Ordinary units: item 2 {2, 0} and item 3 {1, 1}: n = 4, n_0 = n_2 = 1, n_1 = 2,
   * Σ_{c≠k} o = 2, Σ_{c≠k} n_c n_k = 10: alpha = 1 − 3 · 2 / 10 = 0.4. */
  g_assert_cmpfloat_with_epsilon (r.alpha, 0.4, 1e-12);
  g_assert_cmpuint (r.alpha_units, ==, 2);
  g_assert_cmpuint (r.alpha_values, ==, 4);
  veto_stats_report_clear (&r);
}

static void
test_empty_and_invalid (void)
{
  const gint gold[] = { 1 };
  const VetoStatsAnswer bad[] = { { 0, 0, VETO_STATS_ORDINARY, 7, NAN } };
  VetoStatsInput input = { .n_classes = 2, .n_items = 1, .gold = gold, .n_annotators = 1 };
  g_autoptr (GError) error = NULL;
  VetoStatsReport r = { 0 };

  /* No answers: every rate and T's rows are undefined, nothing fails. */
  g_assert_true (veto_stats_compute (&input, &r, &error));
  g_assert_true (isnan (veto_stats_count_rate (&r.overall.gold)));
  g_assert_true (isnan (r.transition[0]));
  g_assert_true (isnan (r.alpha));
  g_assert_true (isnan (r.overall.mean_seconds));
  veto_stats_report_clear (&r);

  input.answers = bad;
  input.n_answers = 1;
  g_assert_false (veto_stats_compute (&input, &r, &error));
  g_assert_error (error, VETO_STATS_ERROR, VETO_STATS_ERROR_INVALID);
}

/* Two annotators answer complementary questions on gold items with the sets recorded: the
 * first follows known Luce weights, and its fitted choice model (its own, pulled towards the
 * pooled one) recovers them; the second answers without a set and gets none; the overall row
 * has the pooled model of those answers. */
static void
test_choice_model (void)
{
  enum { KK = 4, M = 3, N = 12000 };
  static const double weights[KK * KK] = { 0.2, 1.6, 0.8, 0.6,
                                           0.4, 0.2, 1.2, 1.4,
                                           1.0, 1.0, 0.2, 1.0,
                                           2.1, 0.3, 0.6, 0.2 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);
  g_autofree VetoStatsAnswer *answers = g_new0 (VetoStatsAnswer, N + 1);
  g_autofree guint *shown = g_new (guint, N * M);
  g_autofree gint *gold = g_new (gint, N);
  VetoStatsInput input = { KK, N, gold, NULL, 2, answers, N + 1 };
  VetoStatsReport r;
  g_autoptr (GError) error = NULL;

  for (guint t = 0; t < N; t++)
    {
      guint y = t % KK, skip = g_rand_int_range (rand, 0, KK), m = 0;
      double total = 0.0, u;

      gold[t] = y;
      for (guint c = 0; c < KK; c++)
        if (c != skip)
          {
            shown[t * M + m++] = c;
            total += weights[y * KK + c];
          }
      u = g_rand_double (rand) * total;
      answers[t] = (VetoStatsAnswer) { t, 0, VETO_STATS_COMPLEMENTARY, shown[t * M + M - 1], NAN,
                                       shown + t * M, M };
      for (guint i = 0; i < M; i++)
        {
          if (u < weights[y * KK + shown[t * M + i]])
            {
              answers[t].label = shown[t * M + i];
              break;
            }
          u -= weights[y * KK + shown[t * M + i]];
        }
    }
  answers[N] = (VetoStatsAnswer) { 0, 1, VETO_STATS_COMPLEMENTARY, 1, NAN, NULL, 0 };
  g_assert_true (veto_stats_compute (&input, &r, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (r.annotators[0].choice_answers, ==, N);
  g_assert_true (r.annotators[0].choice_own);
  g_assert_true (r.annotators[0].choice_strength >= 1);
  g_assert_null (r.annotators[1].choice_model);
  g_assert_nonnull (r.overall.choice_model);
  g_assert_cmpuint (r.overall.choice_answers, ==, N);
  /* Weights are defined up to a factor per row: compare each with its row's wrong classes. */
  for (guint y = 0; y < KK; y++)
    {
      double truth_mean = 0.0, fit_mean = 0.0;

      for (guint c = 0; c < KK; c++)
        if (c != y)
          {
            truth_mean += weights[y * KK + c] / (KK - 1);
            fit_mean += r.annotators[0].choice_model[y * KK + c] / (KK - 1);
          }
      for (guint c = 0; c < KK; c++)
        if (c != y)
          g_assert_cmpfloat_with_epsilon (r.annotators[0].choice_model[y * KK + c] / fit_mean,
                                          weights[y * KK + c] / truth_mean, 0.12);
    }
  g_assert_cmpfloat (r.annotators[0].choice_noise, >, 0.0);
  g_assert_cmpfloat (r.annotators[0].choice_noise, <, 0.2);
  veto_stats_report_clear (&r);

  /* an answer that is not among the classes shown is refused */
  answers[0].shown = (const guint[]) { 1, 2, 3 };
  answers[0].label = 0;
  g_assert_false (veto_stats_compute (&input, &r, &error));
  g_assert_error (error, VETO_STATS_ERROR, VETO_STATS_ERROR_INVALID);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/stats/alpha/textbook", test_alpha_textbook);
  g_test_add_func ("/stats/alpha/small", test_alpha_small);
  g_test_add_func ("/stats/majority", test_majority);
  g_test_add_func ("/stats/noise-and-transition", test_noise_and_transition);
  g_test_add_func ("/stats/empty-and-invalid", test_empty_and_invalid);
  g_test_add_func ("/stats/choice-model", test_choice_model);
  return g_test_run ();
}
