/* test-active.c: hand-solved answers and statistical checks for core/veto-active. */
#include "veto-active.h"

#include <math.h>
#include <string.h>

#define N_DRAWS 20000

/* Small helpers */

static guint64 test_rng_state;

/* splitmix64, for test data only. */
static double
test_uniform (void)
{
  guint64 z = (test_rng_state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return (double) ((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static double
test_normal (void)
{
  return sqrt (-2.0 * log (1.0 - test_uniform ())) * cos (2.0 * G_PI * test_uniform ());
}

/* n × k softmax rows of normal logits scaled by temperature. */
static float *
random_probs (guint  n,
              guint  k,
              double scale)
{
  float *p = g_new (float, (gsize) n * k);

  for (guint i = 0; i < n; i++)
    {
      double sum = 0.0;

      for (guint c = 0; c < k; c++)
        sum += p[i * k + c] = (float) exp (scale * test_normal ());
      for (guint c = 0; c < k; c++)
        p[i * k + c] /= (float) sum;
    }
  return p;
}

static float *
random_matrix (guint n,
               guint d)
{
  float *x = g_new (float, (gsize) n * d);

  for (gsize i = 0; i < (gsize) n * d; i++)
    x[i] = (float) test_normal ();
  return x;
}

static void
assert_distinct (const guint *indices,
                 guint        batch,
                 guint        n)
{
  g_autofree gboolean *seen = g_new0 (gboolean, n);

  for (guint j = 0; j < batch; j++)
    {
      g_assert_cmpuint (indices[j], <, n);
      g_assert_false (seen[indices[j]]);
      seen[indices[j]] = TRUE;
    }
}

static void
select_ok (VetoActiveStrategy       strategy,
           const VetoActivePool    *pool,
           guint                    batch,
           const VetoActiveOptions *options,
           guint                   *out,
           double                  *scores)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (veto_active_select (strategy, pool, batch, options, out, scores, &error));
  g_assert_no_error (error);
  assert_distinct (out, batch, pool->n);
}

/* Names */

static void
test_names (void)
{
  const char *const *names = veto_active_strategy_names ();
  g_autoptr (GError) error = NULL;
  VetoActiveStrategy strategy;
  VetoActiveCandidateRule rule;
  guint n = 0;

  for (; names[n] != NULL; n++)
    {
      g_assert_true (veto_active_strategy_from_string (names[n], &strategy, NULL));
      g_assert_cmpint (strategy, ==, n);
      g_assert_cmpstr (veto_active_strategy_to_string (strategy), ==, names[n]);
    }
  g_assert_cmpuint (n, ==, VETO_ACTIVE_KMEANS_MARGIN + 1);
  g_assert_true (veto_active_strategy_from_string ("BADGE", &strategy, NULL));
  g_assert_cmpint (strategy, ==, VETO_ACTIVE_BADGE);
  g_assert_false (veto_active_strategy_from_string ("bald", &strategy, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  g_clear_error (&error);

  names = veto_active_candidate_rule_names ();
  g_assert_cmpstr (names[0], ==, "uniform");
  g_assert_cmpstr (names[1], ==, "proportional");
  g_assert_cmpstr (names[2], ==, "informative");
  g_assert_null (names[3]);
  g_assert_true (veto_active_candidate_rule_from_string ("proportional", &rule, NULL));
  g_assert_cmpint (rule, ==, VETO_ACTIVE_CANDIDATES_PROPORTIONAL);
  g_assert_cmpstr (veto_active_candidate_rule_to_string (rule), ==, "proportional");
  g_assert_false (veto_active_candidate_rule_from_string ("model", &rule, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
}

/* Uncertainty orderings */

/*        p                   1 - max p   p1 - p2   entropy
 * 0: (.45, .45, .10)           .55          0      0.9489
 * 1: (.40, .30, .30)           .60         .10     1.0889
 * 2: (.70, .20, .10)           .30         .50     0.8018
 * 3: (.50, .25, .25)           .50         .25     1.0397 */
static const float orderings_p[] = {
  0.45f, 0.45f, 0.10f,
  0.40f, 0.30f, 0.30f,
  0.70f, 0.20f, 0.10f,
  0.50f, 0.25f, 0.25f,
};

static void
test_orderings (void)
{
  VetoActivePool pool = { .n = 4, .probs = orderings_p, .n_classes = 3 };
  const guint lc[] = { 1, 0, 3, 2 };
  const double lc_scores[] = { 0.60, 0.55, 0.50, 0.30 };
  const guint margin[] = { 0, 1, 3, 2 };
  const double margin_scores[] = { 0.0, 0.10, 0.25, 0.50 };
  const guint ent[] = { 1, 3, 0, 2 };
  guint out[4];
  double scores[4];

  select_ok (VETO_ACTIVE_LEAST_CONFIDENCE, &pool, 4, NULL, out, scores);
  for (guint j = 0; j < 4; j++)
    {
      g_assert_cmpuint (out[j], ==, lc[j]);
      g_assert_cmpfloat_with_epsilon (scores[j], lc_scores[j], 1e-6);
    }
  select_ok (VETO_ACTIVE_MARGIN, &pool, 4, NULL, out, scores);
  for (guint j = 0; j < 4; j++)
    {
      g_assert_cmpuint (out[j], ==, margin[j]);
      g_assert_cmpfloat_with_epsilon (scores[j], margin_scores[j], 1e-6);
    }
  select_ok (VETO_ACTIVE_ENTROPY, &pool, 4, NULL, out, scores);
  for (guint j = 0; j < 4; j++)
    {
      const float *p = orderings_p + 3 * out[j];
      double h = 0.0;

      g_assert_cmpuint (out[j], ==, ent[j]);
      for (guint c = 0; c < 3; c++)
        h -= p[c] * log (p[c]);
      g_assert_cmpfloat_with_epsilon (scores[j], h, 1e-6);
    }
  g_assert_cmpfloat_with_epsilon (scores[0], 1.0889, 1e-4);

  /* A batch is the head of the full ordering. */
  select_ok (VETO_ACTIVE_MARGIN, &pool, 2, NULL, out, NULL);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpuint (out[1], ==, 1);
}

/* Margin sees only the two largest probabilities: a clean two-way confusion (A) outranks an
 * item the model knows nothing about (B, nearly uniform), which entropy and least
 * confidence put first. */
static void
test_margin_blind_spot (void)
{
  const float p[] = {
    0.50f, 0.50f, 0.00f, 0.00f,
    0.28f, 0.24f, 0.24f, 0.24f,
  };
  VetoActivePool pool = { .n = 2, .probs = p, .n_classes = 4 };
  guint out[1];
  double score[1];

  select_ok (VETO_ACTIVE_MARGIN, &pool, 1, NULL, out, score);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpfloat_with_epsilon (score[0], 0.0, 1e-9);
  select_ok (VETO_ACTIVE_ENTROPY, &pool, 1, NULL, out, score);
  g_assert_cmpuint (out[0], ==, 1);
  g_assert_cmpfloat (score[0], >, log (2.0) + 0.6);
  select_ok (VETO_ACTIVE_LEAST_CONFIDENCE, &pool, 1, NULL, out, NULL);
  g_assert_cmpuint (out[0], ==, 1);
}

/* Coreset */

/* Pool {1, 10, 11}, labeled {0}: distances to 0 are 1, 10, 11, so 11 first; then 1 and 10
 * are both 1 away from their nearest centre (0 and 11) and the lower index, 1, goes first;
 * 10 is last, still 1 away. */
static void
test_coreset (void)
{
  const float x[] = { 1.0f, 10.0f, 11.0f };
  const float labeled[] = { 0.0f };
  const float all[] = { 0.0f, 1.0f, 10.0f, 11.0f };
  VetoActivePool pool = { .n = 3, .features = x, .n_features = 1,
                          .labeled_features = labeled, .n_labeled = 1 };
  VetoActivePool unlabeled = { .n = 4, .features = all, .n_features = 1 };
  VetoActiveOptions options;
  guint out[4];
  double scores[4];
  guint firsts = 0;

  select_ok (VETO_ACTIVE_CORESET, &pool, 3, NULL, out, scores);
  g_assert_cmpuint (out[0], ==, 2);
  g_assert_cmpuint (out[1], ==, 0);
  g_assert_cmpuint (out[2], ==, 1);
  g_assert_cmpfloat (scores[0], ==, 11.0);
  g_assert_cmpfloat (scores[1], ==, 1.0);
  g_assert_cmpfloat (scores[2], ==, 1.0);

  /* Nothing labeled: a seeded random first pick, then the point farthest from it. */
  veto_active_options_init (&options);
  for (options.seed = 0; options.seed < 16; options.seed++)
    {
      select_ok (VETO_ACTIVE_CORESET, &unlabeled, 2, &options, out, scores);
      g_assert_cmpfloat (scores[0], ==, 0.0);
      g_assert_cmpuint (out[1], ==, out[0] < 2 ? 3 : 0);
      g_assert_cmpfloat (scores[1], ==, fabs (all[out[1]] - all[out[0]]));
      firsts |= 1u << out[0];
    }
  g_assert_cmpuint (firsts, ==, 0xf);
}

/* The k-center picks on random data equal the plain O(n · batch) algorithm's. */
static void
test_coreset_matches_plain (void)
{
  const guint n = 300, d = 7, n_labeled = 5, batch = 40;
  g_autofree float *x = random_matrix (n, d);
  g_autofree float *labeled = random_matrix (n_labeled, d);
  g_autofree double *mind = g_new (double, n);
  VetoActivePool pool = { .n = n, .features = x, .n_features = d,
                          .labeled_features = labeled, .n_labeled = n_labeled };
  guint out[40];
  double scores[40];

  select_ok (VETO_ACTIVE_CORESET, &pool, batch, NULL, out, scores);
  for (guint i = 0; i < n; i++)
    {
      mind[i] = INFINITY;
      for (guint l = 0; l < n_labeled; l++)
        {
          double s = 0.0;

          for (guint j = 0; j < d; j++)
            s += (x[i * d + j] - labeled[l * d + j]) * (x[i * d + j] - labeled[l * d + j]);
          mind[i] = MIN (mind[i], s);
        }
    }
  for (guint t = 0; t < batch; t++)
    {
      guint best = 0;

      for (guint i = 1; i < n; i++)
        if (mind[i] > mind[best])
          best = i;
      g_assert_cmpuint (out[t], ==, best);
      g_assert_cmpfloat_with_epsilon (scores[t], sqrt (mind[best]), 1e-4);
      for (guint i = 0; i < n; i++)
        {
          double s = 0.0;

          for (guint j = 0; j < d; j++)
            s += (x[i * d + j] - x[best * d + j]) * (x[i * d + j] - x[best * d + j]);
          mind[i] = MIN (mind[i], s);
        }
    }
}

/* BADGE */

/* The explicit gradient embedding g_i = (p_i - onehot(argmax p_i)) ⊗ h_i, K·e floats. */
static double *
explicit_gradients (const float *p,
                    const float *h,
                    guint        n,
                    guint        k,
                    guint        e)
{
  double *g = g_new (double, (gsize) n * k * e);

  for (guint i = 0; i < n; i++)
    {
      guint argmax = 0;

      for (guint c = 1; c < k; c++)
        if (p[i * k + c] > p[i * k + argmax])
          argmax = c;
      for (guint c = 0; c < k; c++)
        for (guint j = 0; j < e; j++)
          g[((gsize) i * k + c) * e + j] = (p[i * k + c] - (c == argmax)) * h[i * e + j];
    }
  return g;
}

static double
sq_dist (const double *g,
         guint         len,
         guint         i,
         guint         j)
{
  double s = 0.0;

  for (guint t = 0; t < len; t++)
    s += (g[(gsize) i * len + t] - g[(gsize) j * len + t])
         * (g[(gsize) i * len + t] - g[(gsize) j * len + t]);
  return s;
}

static double
sq_norm (const double *g,
         guint         len,
         guint         i)
{
  double s = 0.0;

  for (guint t = 0; t < len; t++)
    s += g[(gsize) i * len + t] * g[(gsize) i * len + t];
  return s;
}

/* ‖p̃_i‖²‖h_i‖² + ‖p̃_j‖²‖h_j‖² - 2 (p̃_i · p̃_j)(h_i · h_j), from P and E alone. */
static double
factored_sq_dist (const float *p,
                  const float *h,
                  guint        k,
                  guint        e,
                  guint        i,
                  guint        j)
{
  double pij = 0.0, pii = 0.0, pjj = 0.0, hij = 0.0, hii = 0.0, hjj = 0.0;
  guint ai = 0, aj = 0;

  for (guint c = 1; c < k; c++)
    {
      ai = p[i * k + c] > p[i * k + ai] ? c : ai;
      aj = p[j * k + c] > p[j * k + aj] ? c : aj;
    }
  for (guint c = 0; c < k; c++)
    {
      double ri = p[i * k + c] - (c == ai), rj = p[j * k + c] - (c == aj);

      pij += ri * rj;
      pii += ri * ri;
      pjj += rj * rj;
    }
  for (guint t = 0; t < e; t++)
    {
      hij += (double) h[i * e + t] * h[j * e + t];
      hii += (double) h[i * e + t] * h[i * e + t];
      hjj += (double) h[j * e + t] * h[j * e + t];
    }
  return pii * hii + pjj * hjj - 2.0 * pij * hij;
}

/* The P,E-only distance equals the explicit ‖g_i - g_j‖²; each reported D² is the explicit
 * min over earlier picks (so the lazy bounds end exact); the first pick has the largest ‖g‖. */
static void
test_badge_distance_identity (void)
{
  const guint n = 500, k = 5, e = 6, batch = 120, len = 30;
  g_autofree float *p = random_probs (n, k, 1.5);
  g_autofree float *h = random_matrix (n, e);
  g_autofree double *g = explicit_gradients (p, h, n, k, e);
  VetoActivePool pool = { .n = n, .probs = p, .n_classes = k, .embedding = h,
                          .embedding_dim = e };
  guint out[120];
  double scores[120];
  guint first = 0;

  for (guint i = 0; i < n; i++)
    for (guint j = i % 7; j < n; j += 7)
      g_assert_cmpfloat (fabs (factored_sq_dist (p, h, k, e, i, j) - sq_dist (g, len, i, j)),
                         <=, 1e-5);

  select_ok (VETO_ACTIVE_BADGE, &pool, batch, NULL, out, scores);
  for (guint i = 1; i < n; i++)
    if (sq_norm (g, len, i) > sq_norm (g, len, first))
      first = i;
  g_assert_cmpuint (out[0], ==, first);
  g_assert_cmpfloat (fabs (scores[0] - sq_norm (g, len, first)), <=, 1e-5);
  for (guint t = 1; t < batch; t++)
    {
      double expected = INFINITY;

      for (guint s = 0; s < t; s++)
        expected = MIN (expected, sq_dist (g, len, out[t], out[s]));
      g_assert_cmpfloat (fabs (scores[t] - expected), <=, 1e-5 * (1.0 + expected));
      g_assert_cmpfloat (scores[t], >, 0.0);
    }
}

/* Picks 2 and 3 follow k-means++ exactly: P(2nd = j) = D²(j, 1st) / sum, and
 * P(3rd = l | 2nd = j) = min(D²(l, 1st), D²(l, j)) / sum over the rest. The third draw
 * goes through the lazy bound (exact against the first pick only) and rejection. */
static void
test_badge_sampling (void)
{
  const guint n = 5, k = 3, e = 2, len = 6;
  const float p[] = {
    0.40f, 0.35f, 0.25f,
    0.50f, 0.30f, 0.20f,
    0.20f, 0.70f, 0.10f,
    0.34f, 0.33f, 0.33f,
    0.10f, 0.15f, 0.75f,
  };
  const float h[] = { 1.0f, 0.5f, -0.5f, 1.0f, 0.8f, 0.8f, 2.0f, -1.0f, 0.3f, 0.9f };
  g_autofree double *g = explicit_gradients (p, h, n, k, e);
  VetoActivePool pool = { .n = n, .probs = p, .n_classes = k, .features = h,
                          .n_features = e };
  VetoActiveOptions options;
  double expected[5][5] = { { 0 } };
  guint counts[5][5] = { { 0 } };
  guint first = 0;
  double total2 = 0.0;

  for (guint i = 1; i < n; i++)
    if (sq_norm (g, len, i) > sq_norm (g, len, first))
      first = i;
  for (guint j = 0; j < n; j++)
    if (j != first)
      total2 += sq_dist (g, len, j, first);
  for (guint j = 0; j < n; j++)
    {
      double total3 = 0.0;

      if (j == first)
        continue;
      for (guint l = 0; l < n; l++)
        if (l != first && l != j)
          total3 += MIN (sq_dist (g, len, l, first), sq_dist (g, len, l, j));
      for (guint l = 0; l < n; l++)
        if (l != first && l != j)
          expected[j][l] = sq_dist (g, len, j, first) / total2
                           * MIN (sq_dist (g, len, l, first), sq_dist (g, len, l, j)) / total3;
    }

  veto_active_options_init (&options);
  for (options.seed = 0; options.seed < N_DRAWS; options.seed++)
    {
      guint out[3];

      select_ok (VETO_ACTIVE_BADGE, &pool, 3, &options, out, NULL);
      g_assert_cmpuint (out[0], ==, first);
      counts[out[1]][out[2]]++;
    }
  for (guint j = 0; j < n; j++)
    for (guint l = 0; l < n; l++)
      g_assert_cmpfloat (fabs ((double) counts[j][l] / N_DRAWS - expected[j][l]), <, 0.015);
}

/* Identical items: after the first pick every D² is 0 and the batch is filled by ‖g‖. */
static void
test_badge_duplicates (void)
{
  const float p[] = { 0.6f, 0.4f, 0.6f, 0.4f, 0.9f, 0.1f, 0.6f, 0.4f };
  const float h[] = { 1.0f, 1.0f, 1.0f, 1.0f };
  VetoActivePool pool = { .n = 4, .probs = p, .n_classes = 2, .embedding = h,
                          .embedding_dim = 1 };
  guint out[4];
  double scores[4];

  /* ‖g‖² = 2 (1 - p1)²: 0.32 for rows 0, 1, 3 and 0.02 for row 2; rows 0, 1, 3 coincide
   * and row 2 lies 0.3 · sqrt 2 away from them. */
  select_ok (VETO_ACTIVE_BADGE, &pool, 4, NULL, out, scores);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpfloat_with_epsilon (scores[0], 0.32, 1e-6);
  g_assert_cmpuint (out[1], ==, 2);
  g_assert_cmpfloat_with_epsilon (scores[1], 0.18, 1e-6);
  g_assert_cmpuint (out[2], ==, 1);
  g_assert_cmpuint (out[3], ==, 3);
  g_assert_cmpfloat (scores[2], ==, 0.0);
  g_assert_cmpfloat (scores[3], ==, 0.0);
}

/* Density and diversity */

/* Items 0 and 1 are equally uncertain (margin 0.2); 0 is an outlier at right angles to the
 * cluster of 1..4. Mean normalised vector ≈ (0.8, 0.2): similarity of 0 ≈ 0.2, of 1 ≈ 0.8. */
static void
test_density (void)
{
  const float p[] = {
    0.6f, 0.4f, 0.6f, 0.4f, 0.9f, 0.1f, 0.9f, 0.1f, 0.9f, 0.1f,
  };
  const float x[] = {
    0.0f, 1.0f, 1.0f, 0.0f, 1.0f, 0.1f, 1.0f, -0.1f, 2.0f, 0.0f,
  };
  VetoActivePool pool = { .n = 5, .probs = p, .n_classes = 2, .features = x, .n_features = 2 };
  VetoActiveOptions options;
  double mean[2] = { 0.0, 0.0 };
  double sim0, sim1;
  guint out[5];
  double scores[5];

  for (guint i = 0; i < 5; i++)
    {
      double norm = hypot (x[2 * i], x[2 * i + 1]);

      mean[0] += x[2 * i] / norm / 5;
      mean[1] += x[2 * i + 1] / norm / 5;
    }
  sim0 = mean[1];
  sim1 = mean[0];

  select_ok (VETO_ACTIVE_MARGIN, &pool, 2, NULL, out, NULL);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpuint (out[1], ==, 1);

  select_ok (VETO_ACTIVE_DENSITY, &pool, 5, NULL, out, scores);
  g_assert_cmpuint (out[0], ==, 1);
  g_assert_cmpfloat_with_epsilon (scores[0], 0.8 * sim1, 1e-6);
  for (guint j = 1; j < 5; j++)
    if (out[j] == 0)
      g_assert_cmpfloat_with_epsilon (scores[j], 0.8 * sim0, 1e-6);

  /* beta = 2 weighs density more: the outlier falls below the confident cluster points. */
  veto_active_options_init (&options);
  options.density_beta = 2.0;
  select_ok (VETO_ACTIVE_DENSITY, &pool, 5, &options, out, scores);
  g_assert_cmpuint (out[0], ==, 1);
  g_assert_cmpuint (out[4], ==, 0);
  g_assert_cmpfloat_with_epsilon (scores[4], 0.8 * sim0 * sim0, 1e-6);

  /* beta = 0 is the base strategy. */
  options.density_beta = 0.0;
  select_ok (VETO_ACTIVE_DENSITY, &pool, 2, &options, out, NULL);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpuint (out[1], ==, 1);
}

/* Two identical clusters of four uncertain items, around (0, 0) and (10, 10); the two most
 * uncertain are both in the first. */
static void
test_diversity (void)
{
  const float p[] = {
    0.50f, 0.50f, 0.52f, 0.48f, 0.58f, 0.42f, 0.59f, 0.41f,
    0.54f, 0.46f, 0.56f, 0.44f, 0.60f, 0.40f, 0.61f, 0.39f,
  };
  const float x[] = {
    0.0f, 0.0f, 0.1f, 0.0f, 0.0f, 0.1f, 0.1f, 0.1f,
    10.0f, 10.0f, 10.1f, 10.0f, 10.0f, 10.1f, 10.1f, 10.1f,
  };
  const float labeled[] = { 10.05f, 10.05f };
  VetoActivePool pool = { .n = 8, .probs = p, .n_classes = 2, .features = x, .n_features = 2 };
  VetoActiveOptions options;
  guint out[2];
  double scores[2];

  select_ok (VETO_ACTIVE_MARGIN, &pool, 2, NULL, out, NULL);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpuint (out[1], ==, 1);

  /* The most uncertain first, then the item farthest from it: (10.1, 10.1). */
  veto_active_options_init (&options);
  options.diversity = TRUE;
  select_ok (VETO_ACTIVE_MARGIN, &pool, 2, &options, out, scores);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpuint (out[1], ==, 7);
  g_assert_cmpfloat_with_epsilon (scores[0], 0.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (scores[1], 0.22, 1e-6);

  /* Entropy and density take the option too. */
  select_ok (VETO_ACTIVE_ENTROPY, &pool, 2, &options, out, NULL);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpuint (out[1], ==, 7);
  select_ok (VETO_ACTIVE_DENSITY, &pool, 2, &options, out, NULL);
  g_assert_cmpuint (out[0] < 4, !=, out[1] < 4);

  /* From a labeled item amid the second cluster, every item of which is 0.07 from it:
   * first the farthest, (0, 0), then (0.1, 0.1), 0.14 from it. */
  pool.labeled_features = labeled;
  pool.n_labeled = 1;
  select_ok (VETO_ACTIVE_MARGIN, &pool, 2, &options, out, NULL);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpuint (out[1], ==, 3);
  pool.n_labeled = 0;

  /* factor 1 leaves nothing to choose among. */
  options.factor = 1;
  select_ok (VETO_ACTIVE_MARGIN, &pool, 2, &options, out, NULL);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpuint (out[1], ==, 1);
}

/* Margin's shortlist in clusters */

/* Two-class rows of margin m: p = ((1 + m) / 2, (1 - m) / 2). */
static void
margin_rows (const double *m,
             guint         n,
             float        *out_p)
{
  for (guint i = 0; i < n; i++)
    {
      out_p[2 * i] = (float) ((1.0 + m[i]) / 2.0);
      out_p[2 * i + 1] = (float) ((1.0 - m[i]) / 2.0);
    }
}

static void
test_kmeans_margin (void)
{
  /* The shortlist (batch 2 × factor 3) is items 0-5: four around (0, 0.5), two around
   * (10, 11); items 6 and 7 are confident and never considered. Margin asks 0 and 1, two
   * near-duplicates of one confusion. k-means cuts the shortlist into the two groups whatever
   * the seed; the first group's member nearest its centre (0, 0.5) is item 2, (0, 0), at 0.25
   * (the others at 1.25 and 2.25), although three items of the group have smaller margins;
   * the second group's two members tie at 1 from (10, 11), and the smaller margin wins: item 4.
   * The larger cluster comes first. */
  const double m[] = { 0.00, 0.01, 0.02, 0.03, 0.04, 0.05, 0.90, 0.80 };
  const float x[] = {
    -1.0f, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 2.0f,
    10.0f, 10.0f, 10.0f, 12.0f, 50.0f, 50.0f, -50.0f, 50.0f,
  };
  float p[16];
  float same[16];
  VetoActivePool pool = { .n = 8, .probs = p, .n_classes = 2, .features = x, .n_features = 2 };
  VetoActiveOptions options;
  g_autoptr (GError) error = NULL;
  guint out[2];
  double scores[2];

  margin_rows (m, 8, p);
  select_ok (VETO_ACTIVE_MARGIN, &pool, 2, NULL, out, NULL);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpuint (out[1], ==, 1);

  veto_active_options_init (&options);
  options.factor = 3;
  for (guint64 seed = 1; seed <= 50; seed++)
    {
      options.seed = seed;
      select_ok (VETO_ACTIVE_KMEANS_MARGIN, &pool, 2, &options, out, scores);
      g_assert_cmpuint (out[0], ==, 2);
      g_assert_cmpuint (out[1], ==, 4);
      g_assert_cmpfloat_with_epsilon (scores[0], 0.02, 1e-6);
      g_assert_cmpfloat_with_epsilon (scores[1], 0.04, 1e-6);
    }

  /* factor 1: every cluster is one item of margin's batch, in margin's order. */
  options.factor = 1;
  select_ok (VETO_ACTIVE_KMEANS_MARGIN, &pool, 2, &options, out, scores);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpuint (out[1], ==, 1);
  g_assert_cmpfloat_with_epsilon (scores[1], 0.01, 1e-6);

  /* Identical rows: k-means++ finds no second centre apart from the first, one cluster stays
   * empty and is filled by the next smallest margin. */
  memset (same, 0, sizeof same);
  pool.features = same;
  options.factor = 3;
  select_ok (VETO_ACTIVE_KMEANS_MARGIN, &pool, 2, &options, out, NULL);
  g_assert_cmpuint (out[0], ==, 0);
  g_assert_cmpuint (out[1], ==, 1);

  /* It needs a space. */
  pool.features = NULL;
  g_assert_false (veto_active_select (VETO_ACTIVE_KMEANS_MARGIN, &pool, 2, &options, out, NULL,
                                      &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_MISSING);
}

/* Subsample cap */

static void
test_max_pool (void)
{
  const guint n = 1000, k = 3, d = 4, batch = 10;
  g_autofree float *p = random_probs (n, k, 1.0);
  g_autofree float *x = random_matrix (n, d);
  VetoActivePool pool = { .n = n, .probs = p, .n_classes = k, .features = x, .n_features = d };
  const VetoActiveStrategy strategies[] = {
    VETO_ACTIVE_MARGIN, VETO_ACTIVE_DENSITY, VETO_ACTIVE_CORESET, VETO_ACTIVE_BADGE,
  };
  VetoActiveOptions options;
  guint full[10], a[10], b[10], c[10];
  double scores[10], full_scores[10];

  veto_active_options_init (&options);
  select_ok (VETO_ACTIVE_MARGIN, &pool, batch, &options, full, full_scores);
  options.max_pool = 100;
  for (guint s = 0; s < G_N_ELEMENTS (strategies); s++)
    {
      options.seed = 7;
      select_ok (strategies[s], &pool, batch, &options, a, NULL);
      select_ok (strategies[s], &pool, batch, &options, b, NULL);
      g_assert_cmpmem (a, sizeof a, b, sizeof b);
      options.seed = 8;
      select_ok (strategies[s], &pool, batch, &options, c, NULL);
      g_assert_true (memcmp (a, c, sizeof a) != 0);
    }

  /* Scores come from the full pool's rows: a subsample can only do worse than the whole. */
  options.seed = 7;
  select_ok (VETO_ACTIVE_MARGIN, &pool, batch, &options, a, scores);
  for (guint j = 0; j < batch; j++)
    {
      const float *row = p + a[j] * k;
      double p1 = MAX (row[0], MAX (row[1], row[2]));
      double p3 = MIN (row[0], MIN (row[1], row[2]));

      g_assert_cmpfloat_with_epsilon (scores[j], p1 - (1.0 - p1 - p3), 1e-6);
      g_assert_cmpfloat (scores[j], >=, full_scores[j]);
      if (j > 0)
        g_assert_cmpfloat (scores[j], >=, scores[j - 1]);
    }

  /* A cap at least the pool's size changes nothing. */
  options.max_pool = n;
  select_ok (VETO_ACTIVE_MARGIN, &pool, batch, &options, a, NULL);
  g_assert_cmpmem (a, sizeof a, full, sizeof full);
}

static void
test_random (void)
{
  VetoActivePool pool = { .n = 10 };
  VetoActiveOptions options;
  guint counts[10] = { 0 };
  guint out[3];
  double scores[3];

  veto_active_options_init (&options);
  for (options.seed = 0; options.seed < N_DRAWS; options.seed++)
    {
      select_ok (VETO_ACTIVE_RANDOM, &pool, 3, &options, out, scores);
      g_assert_cmpfloat (scores[0], ==, 0.0);
      for (guint j = 0; j < 3; j++)
        counts[out[j]]++;
    }
  for (guint i = 0; i < 10; i++)
    g_assert_cmpfloat (fabs ((double) counts[i] / N_DRAWS - 0.3), <, 0.02);
}

/* Candidate sets */

static void
test_candidates_uniform (void)
{
  const guint k = 4, n_classes = 10;
  g_autofree guint *sets = g_new (guint, N_DRAWS * k);
  g_autofree guint *again = g_new (guint, N_DRAWS * k);
  guint counts[10] = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_true (veto_active_candidates (VETO_ACTIVE_CANDIDATES_UNIFORM, NULL, N_DRAWS,
                                         n_classes, k, VETO_ACTIVE_DEFAULT_FLOOR, 3, sets,
                                         &error));
  g_assert_no_error (error);
  for (guint i = 0; i < N_DRAWS; i++)
    {
      assert_distinct (sets + i * k, k, n_classes);
      for (guint j = 0; j < k; j++)
        counts[sets[i * k + j]]++;
    }
  for (guint c = 0; c < n_classes; c++)
    g_assert_cmpfloat (fabs ((double) counts[c] / N_DRAWS - 0.4), <, 0.02);

  g_assert_true (veto_active_candidates (VETO_ACTIVE_CANDIDATES_UNIFORM, NULL, N_DRAWS,
                                         n_classes, k, VETO_ACTIVE_DEFAULT_FLOOR, 3, again,
                                         NULL));
  g_assert_cmpmem (sets, N_DRAWS * k * sizeof (guint), again, N_DRAWS * k * sizeof (guint));

  /* k = K shows every class. */
  g_assert_true (veto_active_candidates (VETO_ACTIVE_CANDIDATES_UNIFORM, NULL, 1, 4, 4, 0.0, 1,
                                         sets, NULL));
  assert_distinct (sets, 4, 4);
}

static void
test_candidates_proportional (void)
{
  const guint k = 4, n_classes = 10;
  const float peaked[] = { 0.85f, 0.06f, 0.04f, 0.02f, 0.01f, 0.01f, 0.005f, 0.005f, 0.0f, 0.0f };
  g_autofree float *p = g_new (float, N_DRAWS * n_classes);
  g_autofree guint *sets = g_new (guint, N_DRAWS * k);
  guint counts[10] = { 0 };
  guint top_at[4] = { 0 };

  for (guint i = 0; i < N_DRAWS; i++)
    memcpy (p + i * n_classes, peaked, sizeof peaked);
  g_assert_true (veto_active_candidates (VETO_ACTIVE_CANDIDATES_PROPORTIONAL, p, N_DRAWS,
                                         n_classes, k, VETO_ACTIVE_DEFAULT_FLOOR, 5, sets,
                                         NULL));
  for (guint i = 0; i < N_DRAWS; i++)
    {
      assert_distinct (sets + i * k, k, n_classes);
      for (guint j = 0; j < k; j++)
        {
          counts[sets[i * k + j]]++;
          if (sets[i * k + j] == 0)
            top_at[j]++;
        }
    }
  /* By simulation of the rule: the top class is in 99.99% of the sets, a class with p = 0 in
   * 2.9% (never 0: the floor), a class with p = 0.01 in 27%. */
  g_assert_cmpfloat ((double) counts[0] / N_DRAWS, >, 0.999);
  for (guint c = 8; c < 10; c++)
    {
      g_assert_cmpfloat ((double) counts[c] / N_DRAWS, >, 0.02);
      g_assert_cmpfloat ((double) counts[c] / N_DRAWS, <, 0.04);
    }
  g_assert_cmpfloat (fabs ((double) counts[4] / N_DRAWS - 0.273), <, 0.02);
  /* The display order does not give the top class away. */
  for (guint j = 0; j < k; j++)
    g_assert_cmpfloat (fabs ((double) top_at[j] / N_DRAWS - 0.25), <, 0.02);

  /* Uniform p: the proportional rule is the uniform one. */
  for (guint i = 0; i < N_DRAWS * n_classes; i++)
    p[i] = 0.1f;
  memset (counts, 0, sizeof counts);
  g_assert_true (veto_active_candidates (VETO_ACTIVE_CANDIDATES_PROPORTIONAL, p, N_DRAWS,
                                         n_classes, k, VETO_ACTIVE_DEFAULT_FLOOR, 6, sets,
                                         NULL));
  for (guint i = 0; i < N_DRAWS * k; i++)
    counts[sets[i]]++;
  for (guint c = 0; c < n_classes; c++)
    g_assert_cmpfloat (fabs ((double) counts[c] / N_DRAWS - 0.4), <, 0.02);
}

/* Pairs */

static gboolean
is_pair (guint a,
         guint b,
         guint x,
         guint y)
{
  return (a == x && b == y) || (a == y && b == x);
}

static void
test_pairs (void)
{
  const float scores[] = { 0.0f, 1.0f, 1.05f, 3.0f, 5.0f };
  const gint labels[] = { 0, 0, 1, 1, 0 };
  VetoActivePairPool pool = { .n = 5, .scores = scores };
  guint a[3], b[3];
  double s[3];
  guint lefts = 0;

  /* Differences: (1,2) 0.05, (0,1) 1, (0,2) 1.05, (2,3) 1.95, (1,3) and (3,4) 2, ... */
  g_assert_true (veto_active_pairs (&pool, 3, 0, 1, a, b, s, NULL));
  g_assert_true (is_pair (a[0], b[0], 1, 2));
  g_assert_true (is_pair (a[1], b[1], 0, 1));
  g_assert_true (is_pair (a[2], b[2], 0, 2));
  g_assert_cmpfloat_with_epsilon (s[0], 0.5 * tanh (0.025), 1e-6);
  g_assert_cmpfloat_with_epsilon (s[1], 0.5 * tanh (0.5), 1e-6);

  /* Which item is on the left is random. */
  for (guint seed = 0; seed < 64; seed++)
    {
      g_assert_true (veto_active_pairs (&pool, 1, 0, seed, a, b, NULL, NULL));
      lefts += a[0] == 1;
    }
  g_assert_cmpuint (lefts, >, 16);
  g_assert_cmpuint (lefts, <, 48);

  /* With task labels: {0, 1, 4} and {2, 3}; best (0,1) at 1, then (2,3) at 1.95. */
  pool.labels = labels;
  g_assert_true (veto_active_pairs (&pool, 2, 0, 1, a, b, s, NULL));
  g_assert_true (is_pair (a[0], b[0], 0, 1));
  g_assert_true (is_pair (a[1], b[1], 2, 3));
}

/* Uncertain scores make an order less sure: (0,1) is 1 apart with variances 10 each,
 * z = 1 / sqrt(1 + 20π/8) = 0.336, which beats (2,3), 0.8 apart and certain. */
static void
test_pairs_variance (void)
{
  const float scores[] = { 0.0f, 1.0f, 30.0f, 30.8f };
  const float variances[] = { 10.0f, 10.0f, 0.0f, 0.0f };
  VetoActivePairPool pool = { .n = 4, .scores = scores };
  guint a[1], b[1];
  double s[1];

  g_assert_true (veto_active_pairs (&pool, 1, 0, 1, a, b, NULL, NULL));
  g_assert_true (is_pair (a[0], b[0], 2, 3));
  pool.variances = variances;
  g_assert_true (veto_active_pairs (&pool, 1, 0, 1, a, b, s, NULL));
  g_assert_true (is_pair (a[0], b[0], 0, 1));
  g_assert_cmpfloat_with_epsilon (s[0], 0.5 * tanh (0.5 / sqrt (1.0 + 20.0 * G_PI / 8.0)),
                                  1e-6);
}

/* A pool too large to enumerate: pairs are sampled, distinct, share a known label, and are
 * the same for a seed. */
static void
test_pairs_sampled (void)
{
  const guint n = 400, batch = 10;
  g_autofree float *scores = random_matrix (n, 1);
  g_autofree gint *labels = g_new (gint, n);
  VetoActivePairPool pool = { .n = n, .scores = scores, .labels = labels };
  guint a[10], b[10], a2[10], b2[10];
  double s[10];

  for (guint i = 0; i < n; i++)
    labels[i] = (gint) (i % 5) - 1;
  g_assert_true (veto_active_pairs (&pool, batch, 0, 9, a, b, s, NULL));
  g_assert_true (veto_active_pairs (&pool, batch, 0, 9, a2, b2, NULL, NULL));
  g_assert_cmpmem (a, sizeof a, a2, sizeof a2);
  g_assert_cmpmem (b, sizeof b, b2, sizeof b2);
  for (guint j = 0; j < batch; j++)
    {
      g_assert_cmpuint (a[j], !=, b[j]);
      g_assert_cmpint (labels[a[j]], >=, 0);
      g_assert_cmpint (labels[a[j]], ==, labels[b[j]]);
      g_assert_cmpfloat_with_epsilon (s[j], 0.5 * tanh (fabs (scores[a[j]] - scores[b[j]]) / 2),
                                      1e-6);
      for (guint i = 0; i < j; i++)
        g_assert_false (is_pair (a[i], b[i], a[j], b[j]));
      if (j > 0)
        g_assert_cmpfloat (s[j], >=, s[j - 1]);
    }
  /* Among 200 random pairs of normal scores, the closest is far closer than typical. */
  g_assert_cmpfloat (s[0], <, 0.01);
}

/* Active distillation */

/* 40 items: the even ones are the most informative (margin 0.05) but the teacher is surely
 * wrong on them (c = 0); the odd ones have margins 0.3 .. 0.88 and c = 0.9. */
static void
test_distill (void)
{
  const guint n = 40;
  float p[80], c[40];
  VetoActivePool pool = { .n = n, .probs = p, .n_classes = 2, .correctness = c };
  VetoActiveOptions options;
  guint out[10];
  double scores[10];
  guint hits[40] = { 0 };

  for (guint i = 0; i < n; i++)
    {
      float margin = i % 2 == 0 ? 0.05f : 0.3f + 0.03f * (i / 2);

      p[2 * i] = (1.0f + margin) / 2;
      p[2 * i + 1] = (1.0f - margin) / 2;
      c[i] = i % 2 == 0 ? 0.0f : 0.9f;
    }
  veto_active_options_init (&options);
  options.factor = 2;
  for (options.seed = 0; options.seed < 200; options.seed++)
    {
      select_ok (VETO_ACTIVE_DISTILL, &pool, 5, &options, out, scores);
      for (guint j = 0; j < 5; j++)
        {
          g_assert_cmpuint (out[j] % 2, ==, 1);
          /* The window is the 10 most informative odd items: 1, 3, .., 19. */
          g_assert_cmpuint (out[j], <, 20);
          g_assert_cmpfloat_with_epsilon (scores[j], 0.9 * (1.0 - (p[2 * out[j]]
                                                                   - p[2 * out[j] + 1])),
                                          1e-6);
          hits[out[j]]++;
        }
    }
  /* Sampling, not the top 5: every item of the window is drawn, the more informative more. */
  for (guint i = 1; i < 20; i += 2)
    g_assert_cmpuint (hits[i], >, 0);
  g_assert_cmpuint (hits[1], >, hits[19]);

  /* gamma = 0 ignores the teacher: the even items are back. */
  options.distill_gamma = 0.0;
  options.seed = 0;
  select_ok (VETO_ACTIVE_DISTILL, &pool, 5, &options, out, NULL);
  for (guint j = 0; j < 5; j++)
    g_assert_cmpuint (out[j] % 2, ==, 0);

  /* Only two items the teacher may get right: both, then the most informative others. */
  options.distill_gamma = 1.0;
  for (guint i = 0; i < n; i++)
    c[i] = i == 5 || i == 7 ? 0.5f : 0.0f;
  select_ok (VETO_ACTIVE_DISTILL, &pool, 4, &options, out, scores);
  g_assert_true (is_pair (out[0], out[1], 5, 7));
  g_assert_cmpuint (out[2], ==, 0);
  g_assert_cmpuint (out[3], ==, 2);
  g_assert_cmpfloat (scores[2], ==, 0.0);
}

/* Bad arguments */

static void
expect_select_error (VetoActiveStrategy       strategy,
                     const VetoActivePool    *pool,
                     guint                    batch,
                     const VetoActiveOptions *options,
                     gint                     code)
{
  g_autoptr (GError) error = NULL;
  guint out[8];

  g_assert_false (veto_active_select (strategy, pool, batch, options, out, NULL, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, code);
}

static void
test_errors (void)
{
  const float bad_sum[] = { 0.5f, 0.4f, 0.5f, 0.5f };
  const float negative[] = { 1.5f, -0.5f, 0.5f, 0.5f };
  const float x[] = { 1.0f, 2.0f, 3.0f, 4.0f };
  const float too_sure[] = { 0.5f, 1.5f };
  const float p1[] = { 0.5f, 0.5f, 0.5f, 0.5f };
  const gint unknown[] = { -1, -1, -1, -1 };
  const gint bad_label[] = { 0, -2, 0, 0 };
  const float nan_score[] = { 0.0f, NAN, 1.0f, 2.0f };
  VetoActivePool pool = { .n = 2, .probs = orderings_p, .n_classes = 3 };
  VetoActiveOptions options;
  VetoActivePairPool pairs = { .n = 4, .scores = x };
  g_autoptr (GError) error = NULL;
  guint out[8], a[8], b[8];

  expect_select_error (VETO_ACTIVE_MARGIN, &pool, 3, NULL, VETO_ACTIVE_ERROR_INVALID);
  expect_select_error (VETO_ACTIVE_RANDOM, &pool, 3, NULL, VETO_ACTIVE_ERROR_INVALID);
  expect_select_error (VETO_ACTIVE_MARGIN, &pool, 0, NULL, VETO_ACTIVE_ERROR_INVALID);
  expect_select_error (VETO_ACTIVE_BADGE, &pool, 1, NULL, VETO_ACTIVE_ERROR_MISSING);
  expect_select_error (VETO_ACTIVE_CORESET, &pool, 1, NULL, VETO_ACTIVE_ERROR_MISSING);
  expect_select_error (VETO_ACTIVE_DISTILL, &pool, 1, NULL, VETO_ACTIVE_ERROR_MISSING);
  expect_select_error ((VetoActiveStrategy) 99, &pool, 1, NULL, VETO_ACTIVE_ERROR_INVALID);

  /* K mismatch: probabilities read as one class, or rows of 2 that do not sum to 1. */
  pool.n_classes = 1;
  expect_select_error (VETO_ACTIVE_ENTROPY, &pool, 1, NULL, VETO_ACTIVE_ERROR_INVALID);
  pool.n_classes = 2;
  expect_select_error (VETO_ACTIVE_MARGIN, &pool, 1, NULL, VETO_ACTIVE_ERROR_INVALID);
  pool.probs = bad_sum;
  expect_select_error (VETO_ACTIVE_LEAST_CONFIDENCE, &pool, 1, NULL, VETO_ACTIVE_ERROR_INVALID);
  pool.probs = negative;
  expect_select_error (VETO_ACTIVE_LEAST_CONFIDENCE, &pool, 1, NULL, VETO_ACTIVE_ERROR_INVALID);
  pool.probs = NULL;
  expect_select_error (VETO_ACTIVE_MARGIN, &pool, 1, NULL, VETO_ACTIVE_ERROR_MISSING);

  pool.probs = p1;
  pool.correctness = too_sure;
  expect_select_error (VETO_ACTIVE_DISTILL, &pool, 1, NULL, VETO_ACTIVE_ERROR_INVALID);

  /* Labeled rows counted but not given; an embedding asked for but absent. */
  pool.features = x;
  pool.n_features = 2;
  pool.n_labeled = 1;
  expect_select_error (VETO_ACTIVE_CORESET, &pool, 1, NULL, VETO_ACTIVE_ERROR_MISSING);
  pool.n_labeled = 0;
  veto_active_options_init (&options);
  options.space = VETO_ACTIVE_SPACE_EMBEDDING;
  expect_select_error (VETO_ACTIVE_CORESET, &pool, 1, &options, VETO_ACTIVE_ERROR_MISSING);
  options.space = VETO_ACTIVE_SPACE_FEATURES;
  g_assert_true (veto_active_select (VETO_ACTIVE_CORESET, &pool, 1, &options, out, NULL, NULL));

  veto_active_options_init (&options);
  options.max_pool = 1;
  expect_select_error (VETO_ACTIVE_MARGIN, &pool, 2, &options, VETO_ACTIVE_ERROR_INVALID);
  veto_active_options_init (&options);
  options.factor = 0;
  expect_select_error (VETO_ACTIVE_MARGIN, &pool, 1, &options, VETO_ACTIVE_ERROR_INVALID);
  veto_active_options_init (&options);
  options.density_base = VETO_ACTIVE_BADGE;
  expect_select_error (VETO_ACTIVE_DENSITY, &pool, 1, &options, VETO_ACTIVE_ERROR_INVALID);
  veto_active_options_init (&options);
  options.density_beta = -1.0;
  expect_select_error (VETO_ACTIVE_DENSITY, &pool, 1, &options, VETO_ACTIVE_ERROR_INVALID);
  veto_active_options_init (&options);
  options.distill_gamma = NAN;
  expect_select_error (VETO_ACTIVE_DISTILL, &pool, 1, &options, VETO_ACTIVE_ERROR_INVALID);

  /* Candidate sets: more candidates than classes, probabilities that are not rows of K. */
  g_assert_false (veto_active_candidates (VETO_ACTIVE_CANDIDATES_UNIFORM, NULL, 1, 3, 4,
                                          VETO_ACTIVE_DEFAULT_FLOOR, 1, out, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (veto_active_candidates (VETO_ACTIVE_CANDIDATES_UNIFORM, NULL, 1, 3, 0,
                                          VETO_ACTIVE_DEFAULT_FLOOR, 1, out, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (veto_active_candidates (VETO_ACTIVE_CANDIDATES_PROPORTIONAL, NULL, 1, 3, 2,
                                          VETO_ACTIVE_DEFAULT_FLOOR, 1, out, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_MISSING);
  g_clear_error (&error);
  g_assert_false (veto_active_candidates (VETO_ACTIVE_CANDIDATES_PROPORTIONAL, orderings_p, 2, 4,
                                          2, VETO_ACTIVE_DEFAULT_FLOOR, 1, out, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (veto_active_candidates (VETO_ACTIVE_CANDIDATES_PROPORTIONAL, orderings_p, 1, 3,
                                          2, 0.0, 1, out, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (veto_active_candidates ((VetoActiveCandidateRule) 5, NULL, 1, 3, 2,
                                          VETO_ACTIVE_DEFAULT_FLOOR, 1, out, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  g_clear_error (&error);

  /* Pairs: more than can be formed, all labels unknown, a cap below the batch, bad values. */
  g_assert_false (veto_active_pairs (&pairs, 7, 0, 1, a, b, NULL, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (veto_active_pairs (&pairs, 0, 0, 1, a, b, NULL, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (veto_active_pairs (&pairs, 3, 2, 1, a, b, NULL, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  g_clear_error (&error);
  pairs.labels = unknown;
  g_assert_false (veto_active_pairs (&pairs, 1, 0, 1, a, b, NULL, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  g_clear_error (&error);
  pairs.labels = bad_label;
  g_assert_false (veto_active_pairs (&pairs, 1, 0, 1, a, b, NULL, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  g_clear_error (&error);
  pairs.labels = NULL;
  pairs.scores = nan_score;
  g_assert_false (veto_active_pairs (&pairs, 1, 0, 1, a, b, NULL, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  g_clear_error (&error);
  pairs.scores = NULL;
  g_assert_false (veto_active_pairs (&pairs, 1, 0, 1, a, b, NULL, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_MISSING);
}

/* Timings (-m perf): margin over 60,000 × 10, BADGE and kmeans-margin over 60,000 × 784,
 * batches of 100; the best of three runs after a first one that pays for page faults and BLAS
 * threads. */
static double
best_time (VetoActiveStrategy    strategy,
           const VetoActivePool *pool)
{
  double best = INFINITY;
  guint out[100];

  for (guint run = 0; run < 4; run++)
    {
      gint64 start = g_get_monotonic_time ();

      select_ok (strategy, pool, 100, NULL, out, NULL);
      if (run > 0)
        best = MIN (best, (g_get_monotonic_time () - start) / 1e6);
    }
  return best;
}

static void
test_perf (void)
{
  const guint n = 60000, k = 10, e = 784;
  g_autofree float *p = NULL;
  g_autofree float *h = NULL;
  VetoActivePool pool;
  double seconds;

  if (!g_test_perf ())
    {
      g_test_skip ("timings run with -m perf");
      return;
    }
  p = random_probs (n, k, 2.0);
  h = g_new (float, (gsize) n * e);
  for (gsize i = 0; i < (gsize) n * e; i++)
    h[i] = (float) test_uniform ();
  pool = (VetoActivePool) { .n = n, .probs = p, .n_classes = k, .embedding = h,
                            .embedding_dim = e };

  seconds = best_time (VETO_ACTIVE_MARGIN, &pool);
  g_test_minimized_result (seconds, "margin, 60000 x 10, batch 100: %.2f ms", seconds * 1e3);
  seconds = best_time (VETO_ACTIVE_BADGE, &pool);
  g_test_minimized_result (seconds, "badge, 60000 x 784, batch 100: %.0f ms", seconds * 1e3);
  seconds = best_time (VETO_ACTIVE_KMEANS_MARGIN, &pool);
  g_test_minimized_result (seconds, "kmeans-margin, 60000 x 784, batch 100: %.0f ms",
                           seconds * 1e3);
  /* The window's informative set for one question at a time. */
  {
    guint shown[4];
    gint64 start = g_get_monotonic_time ();

    for (guint i = 0; i < 1000; i++)
      g_assert_true (veto_active_candidates (VETO_ACTIVE_CANDIDATES_INFORMATIVE,
                                             p + (gsize) i * k, 1, k, 4,
                                             VETO_ACTIVE_DEFAULT_FLOOR, i, shown, NULL));
    seconds = (g_get_monotonic_time () - start) / 1e6 / 1000;
    g_test_minimized_result (seconds, "informative set of 4 of 10 classes: %.0f us a question",
                             seconds * 1e6);
  }
  /* The same for an item asked again: its posterior from p and three earlier answers. */
  {
    const guint sets[3][4] = { { 0, 1, 2, 3 }, { 2, 4, 6, 8 }, { 1, 3, 5, 7 } };
    VetoActiveAnswer earlier[3] = { { sets[0], 4, 0, NULL }, { sets[1], 4, 4, NULL },
                                    { sets[2], 4, 7, NULL } };
    guint shown[4];
    gint64 start = g_get_monotonic_time ();

    for (guint i = 0; i < 1000; i++)
      g_assert_true (veto_active_informative_candidates (p + (gsize) i * k, k, earlier, 3, NULL,
                                                         4, i, shown, NULL));
    seconds = (g_get_monotonic_time () - start) / 1e6 / 1000;
    g_test_minimized_result (seconds,
                             "informative set of 4 of 10 after 3 answers: %.0f us a question",
                             seconds * 1e6);
  }
}

/* One question's informative candidates under a fitted annotator model: the set of largest gain
 * for that model (for an annotator who names the truth of classes 0 and 1 as freely as any other,
 * {2, 3} rather than the uniform annotator's {0, 1}), in a display order drawn from the seed;
 * without a model, exactly what veto_active_candidates () shows for the same seed. */
static void
test_informative_candidates (void)
{
  g_autoptr (GError) error = NULL;
  const float p[5] = { 0.4f, 0.3f, 0.2f, 0.1f, 0.0f };
  double a[25];
  guint shown[4], again[4], orders = 0;

  for (guint y = 0; y < 5; y++)
    for (guint c = 0; c < 5; c++)
      a[y * 5 + c] = c != y || y < 2 ? 1.0 : 1e-3;
  for (guint64 seed = 1; seed <= 20; seed++)
    {
      g_assert_true (veto_active_informative_candidates (p, 5, NULL, 0, a, 2, seed, shown, &error));
      g_assert_no_error (error);
      g_assert_true ((shown[0] == 2 && shown[1] == 3) || (shown[0] == 3 && shown[1] == 2));
      orders |= 1u << shown[0];
      g_assert_true (veto_active_informative_candidates (p, 5, NULL, 0, NULL, 2, seed, shown, &error));
      g_assert_true ((shown[0] == 0 && shown[1] == 1) || (shown[0] == 1 && shown[1] == 0));
      g_assert_true (veto_active_informative_candidates (p, 5, NULL, 0, NULL, 4, seed, shown, &error));
      g_assert_true (veto_active_candidates (VETO_ACTIVE_CANDIDATES_INFORMATIVE, p, 1, 5, 4,
                                             VETO_ACTIVE_DEFAULT_FLOOR, seed, again, &error));
      g_assert_cmpmem (shown, sizeof shown, again, sizeof again);
    }
  /* Both display orders occur. */
  g_assert_cmpuint (orders, ==, (1u << 2) | (1u << 3));
  g_assert_false (veto_active_informative_candidates (p, 5, NULL, 0, a, 6, 1, shown, &error));
  g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  g_clear_error (&error);
  {
    const float bad[5] = { 0.5f, 0.5f, 0.5f, 0.0f, 0.0f };

    g_assert_false (veto_active_informative_candidates (bad, 5, NULL, 0, a, 2, 1, shown, &error));
    g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
  }
}

/* An item's posterior from p and its earlier answers, each under its answerer's model, by hand.
 * p = (.4, .3, .2, .1, 0), "not 0" among {0, 1, 2, 3} from the uniform annotator: class 0
 * keeps 1e-3 / 3.001 of its share, 1–3 keep 1 / 3.001, the unshown class 4 (floored at 1e-12)
 * 1 / 4, so pi = (.0004, .3, .2, .1, 3.001e-12 / 4) / .6004. Three classes, p = (.5, .25, .25),
 * an annotator with A[y][1] = 3 off the diagonal, 1 elsewhere and 0.1 on it answering "not 1"
 * among {1, 2}: the factors are 3/4, 0.1/1.1 and 3/3.1; then the uniform annotator's "not 0"
 * among {0, 2} multiplies by 1e-3/1.001, 1/2 and 1/1.001. */
static void
test_posterior (void)
{
  const float p5[5] = { 0.4f, 0.3f, 0.2f, 0.1f, 0.0f };
  const float p3[3] = { 0.5f, 0.25f, 0.25f };
  const guint four[4] = { 0, 1, 2, 3 }, one_two[2] = { 1, 2 }, zero_two[2] = { 0, 2 };
  const guint zero_one[2] = { 0, 1 };
  double a[9], never_zero[9], pi[5], want[3], total;
  VetoActiveAnswer answers[2];

  answers[0] = (VetoActiveAnswer) { four, 4, 0, NULL };
  veto_active_posterior (p5, 5, answers, 1, pi);
  g_assert_cmpfloat_with_epsilon (pi[0], 0.0004 / 0.6004, 1e-7);
  g_assert_cmpfloat_with_epsilon (pi[1], 0.3 / 0.6004, 1e-7);
  g_assert_cmpfloat_with_epsilon (pi[2], 0.2 / 0.6004, 1e-7);
  g_assert_cmpfloat_with_epsilon (pi[3], 0.1 / 0.6004, 1e-7);
  g_assert_cmpfloat_with_epsilon (pi[4], 3.001e-12 / 4 / 0.6004, 1e-15);
  /* no answers: p itself */
  veto_active_posterior (p5, 5, NULL, 0, pi);
  for (guint c = 0; c < 4; c++)
    g_assert_cmpfloat_with_epsilon (pi[c], p5[c], 1e-7);

  for (guint y = 0; y < 3; y++)
    for (guint c = 0; c < 3; c++)
      a[y * 3 + c] = c == y ? 0.1 : c == 1 ? 3.0 : 1.0;
  answers[0] = (VetoActiveAnswer) { one_two, 2, 1, a };
  answers[1] = (VetoActiveAnswer) { zero_two, 2, 0, NULL };
  want[0] = 0.5 * 3.0 / 4.0;
  want[1] = 0.25 * 0.1 / 1.1;
  want[2] = 0.25 * 3.0 / 3.1;
  total = want[0] + want[1] + want[2];
  veto_active_posterior (p3, 3, answers, 1, pi);
  for (guint c = 0; c < 3; c++)
    g_assert_cmpfloat_with_epsilon (pi[c], want[c] / total, 1e-7);
  want[0] *= 1e-3 / 1.001;
  want[1] *= 0.5;
  want[2] *= 1.0 / 1.001;
  total = want[0] + want[1] + want[2];
  veto_active_posterior (p3, 3, answers, 2, pi);
  for (guint c = 0; c < 3; c++)
    g_assert_cmpfloat_with_epsilon (pi[c], want[c] / total, 1e-7);

  /* An answer no class can give (weight 0 for the class named) leaves the uniform posterior. */
  for (guint y = 0; y < 3; y++)
    for (guint c = 0; c < 3; c++)
      never_zero[y * 3 + c] = c == 0 ? 0.0 : 1.0;
  answers[0] = (VetoActiveAnswer) { zero_one, 2, 0, never_zero };
  veto_active_posterior (p3, 3, answers, 1, pi);
  for (guint c = 0; c < 3; c++)
    g_assert_cmpfloat_with_epsilon (pi[c], 1.0 / 3, 1e-12);
}

/* An item asked again: with p = (.4, .3, .2, .1, 0) the uniform annotator's best pair is {0, 1};
 * after an earlier "not 0" among {0, 1, 2, 3} the posterior above puts nearly nothing on 0, and
 * the best pair is {1, 2} (by hand: 0.557 nats against 0.213 for {0, 1}), for every seed. An
 * earlier answer outside the classes is refused. */
static void
test_informative_candidates_after_answers (void)
{
  g_autoptr (GError) error = NULL;
  const float p[5] = { 0.4f, 0.3f, 0.2f, 0.1f, 0.0f };
  const guint four[4] = { 0, 1, 2, 3 }, beyond[2] = { 1, 7 };
  VetoActiveAnswer earlier = { four, 4, 0, NULL };
  VetoActiveAnswer bad[2] = { { four, 4, 5, NULL }, { beyond, 2, 1, NULL } };
  guint shown[2];

  for (guint64 seed = 1; seed <= 10; seed++)
    {
      g_assert_true (veto_active_informative_candidates (p, 5, &earlier, 1, NULL, 2, seed, shown,
                                                         &error));
      g_assert_no_error (error);
      g_assert_true ((shown[0] == 1 && shown[1] == 2) || (shown[0] == 2 && shown[1] == 1));
      g_assert_true (veto_active_informative_candidates (p, 5, NULL, 0, NULL, 2, seed, shown,
                                                         &error));
      g_assert_true ((shown[0] == 0 && shown[1] == 1) || (shown[0] == 1 && shown[1] == 0));
    }
  for (guint i = 0; i < 2; i++)
    {
      g_assert_false (veto_active_informative_candidates (p, 5, &bad[i], 1, NULL, 2, 1, shown,
                                                          &error));
      g_assert_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID);
      g_clear_error (&error);
    }
}

/* Expected information gain of a complementary question, solved by hand. */
static void
test_information_gain (void)
{
  /* A careful annotator (never the truth): two equally likely classes, both shown, so the
   * answer names the other one: one bit, ln 2 nats. */
  const double careful[4] = { 0.0, 1.0, 1.0, 0.0 };
  const double half[2] = { 0.5, 0.5 };
  const guint both[2] = { 0, 1 };
  /* Certain of class 0: nothing to learn, whatever is shown. */
  const double certain[3] = { 1.0, 0.0, 0.0 };
  const guint some[2] = { 1, 2 };
  /* Two likely classes among six: the best pair is those two; showing two unlikely ones
   * teaches little (the answer is almost surely one of them whatever the class). */
  const double two[6] = { 0.45, 0.45, 0.025, 0.025, 0.025, 0.025 };
  const guint unlikely[2] = { 2, 3 };
  guint best[2];
  double gain, h = 0.0;

  g_assert_cmpfloat_with_epsilon (veto_active_information_gain (half, 2, careful, both, 2),
                                  log (2.0), 1e-12);
  g_assert_cmpfloat_with_epsilon (veto_active_information_gain (certain, 3, NULL, some, 2), 0.0,
                                  1e-12);
  gain = veto_active_informative_set (two, 6, NULL, 2, best);
  g_assert_cmpuint (best[0], ==, 0);
  g_assert_cmpuint (best[1], ==, 1);
  g_assert_cmpfloat (gain, >, 0.6);
  g_assert_cmpfloat (veto_active_information_gain (two, 6, NULL, unlikely, 2), <, 0.05);
  for (guint c = 0; c < 6; c++)
    h -= two[c] * log (two[c]);
  g_assert_cmpfloat (gain, <=, h);
}

/* The informative set without some classes: the best of the sets that leave them out (all
 * pairs checked here), the mask ignored when fewer than k classes would remain, and the greedy
 * search of a large problem never starting from, nor adding, a class left out. */
static void
test_informative_set_without (void)
{
  const double two[6] = { 0.45, 0.45, 0.025, 0.025, 0.025, 0.025 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  double big[20], total = 0.0, best = -1.0, gain;
  guint found[5], want[2] = { 0, 0 }, top = 0, other = 0;
  guint64 left_out;

  gain = veto_active_informative_set_without (two, 6, NULL, 2, 1u << 0, found);
  for (guint i = 0; i < 6; i++)
    for (guint j = i + 1; j < 6; j++)
      if (i != 0 && j != 0)
        {
          const guint pair[2] = { i, j };
          double g = veto_active_information_gain (two, 6, NULL, pair, 2);

          if (g > best)
            {
              best = g;
              want[0] = i;
              want[1] = j;
            }
        }
  g_assert_cmpmem (found, 2 * sizeof (guint), want, sizeof want);
  g_assert_cmpuint (want[0], ==, 1);
  g_assert_cmpfloat_with_epsilon (gain, best, 1e-12);
  /* five of six left out: one class remains for a pair, so the mask is ignored */
  veto_active_informative_set_without (two, 6, NULL, 2, 0x1f, found);
  g_assert_cmpuint (found[0], ==, 0);
  g_assert_cmpuint (found[1], ==, 1);

  /* C(20, 5) = 15,504 sets: the greedy search */
  for (guint c = 0; c < 20; c++)
    total += big[c] = g_rand_double_range (rand, 0.01, 1.0);
  for (guint c = 0; c < 20; c++)
    {
      big[c] /= total;
      if (big[c] > big[top])
        top = c;
    }
  veto_active_informative_set (big, 20, NULL, 5, found);
  for (guint m = 0; m < 5; m++)
    if (found[m] != top)
      other = found[m];
  left_out = (G_GUINT64_CONSTANT (1) << top) | (G_GUINT64_CONSTANT (1) << other);
  gain = veto_active_informative_set_without (big, 20, NULL, 5, left_out, found);
  for (guint m = 0; m < 5; m++)
    g_assert_false ((left_out >> found[m]) & 1);
  g_assert_cmpfloat_with_epsilon (gain, veto_active_information_gain (big, 20, NULL, found, 5),
                                  1e-12);
}

/* The pruned search of informative questions returns exactly the best gains of an exhaustive
 * search, with the sets that give them. */
static void
test_informative_questions (void)
{
  enum { N = 60, KK = 7, M = 3, BATCH = 5 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (17);
  g_autofree double *post = g_new (double, N * KK);
  double gains[N], scores[BATCH], a[KK * KK];
  guint indices[BATCH], shown[BATCH * M], set[M];

  for (guint y = 0; y < KK; y++)
    for (guint c = 0; c < KK; c++)
      a[y * KK + c] = c == y ? 0.05 : g_rand_double_range (rand, 0.3, 2.0);
  for (guint i = 0; i < N; i++)
    {
      double total = 0.0;

      for (guint c = 0; c < KK; c++)
        total += post[i * KK + c] = pow (g_rand_double (rand), 1.0 + (i % 5) * 2.0);
      for (guint c = 0; c < KK; c++)
        post[i * KK + c] /= total;
      gains[i] = veto_active_informative_set (post + i * KK, KK, a, M, set);
    }
  g_assert_true (veto_active_informative_questions (post, N, KK, a, M, BATCH, indices, shown,
                                                    scores, NULL));
  for (guint j = 0; j < BATCH; j++)
    {
      guint better = 0;

      for (guint i = 0; i < N; i++)
        better += gains[i] > gains[indices[j]];
      g_assert_cmpuint (better, ==, j);
      g_assert_cmpfloat_with_epsilon (scores[j], gains[indices[j]], 1e-12);
      g_assert_cmpfloat_with_epsilon (veto_active_information_gain (post + indices[j] * KK, KK, a,
                                                                    shown + j * M, M),
                                      scores[j], 1e-12);
    }
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/active/names", test_names);
  g_test_add_func ("/active/orderings", test_orderings);
  g_test_add_func ("/active/margin-blind-spot", test_margin_blind_spot);
  g_test_add_func ("/active/coreset", test_coreset);
  g_test_add_func ("/active/coreset-matches-plain", test_coreset_matches_plain);
  g_test_add_func ("/active/badge-distance-identity", test_badge_distance_identity);
  g_test_add_func ("/active/badge-sampling", test_badge_sampling);
  g_test_add_func ("/active/badge-duplicates", test_badge_duplicates);
  g_test_add_func ("/active/density", test_density);
  g_test_add_func ("/active/diversity", test_diversity);
  g_test_add_func ("/active/kmeans-margin", test_kmeans_margin);
  g_test_add_func ("/active/max-pool", test_max_pool);
  g_test_add_func ("/active/random", test_random);
  g_test_add_func ("/active/candidates-uniform", test_candidates_uniform);
  g_test_add_func ("/active/candidates-proportional", test_candidates_proportional);
  g_test_add_func ("/active/pairs", test_pairs);
  g_test_add_func ("/active/pairs-variance", test_pairs_variance);
  g_test_add_func ("/active/pairs-sampled", test_pairs_sampled);
  g_test_add_func ("/active/distill", test_distill);
  g_test_add_func ("/active/information-gain", test_information_gain);
  g_test_add_func ("/active/informative-questions", test_informative_questions);
  g_test_add_func ("/active/informative-set-without", test_informative_set_without);
  g_test_add_func ("/active/informative-candidates", test_informative_candidates);
  g_test_add_func ("/active/posterior", test_posterior);
  g_test_add_func ("/active/informative-candidates-after-answers",
                   test_informative_candidates_after_answers);
  g_test_add_func ("/active/errors", test_errors);
  g_test_add_func ("/active/perf", test_perf);
  return g_test_run ();
}
