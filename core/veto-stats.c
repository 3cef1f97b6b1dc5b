/* veto-stats: agreement and noise statistics of annotations (pure computation: no store). */
#include "veto-stats.h"

#include <math.h>

#include "veto-loss.h"
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (veto-stats-error-quark, veto_stats_error)

double
veto_stats_count_rate (const VetoStatsCount *count)
{
  return count->n ? (double) count->noisy / count->n : NAN;
}

gint
veto_stats_majority (const guint *votes, guint n_classes)
{
  gint best = -1;
  guint top = 0;
  gboolean tie = FALSE;

  for (guint c = 0; c < n_classes; c++)
    if (votes[c] > top)
      {
        best = c;
        top = votes[c];
        tie = FALSE;
      }
    else if (votes[c] == top && top > 0)
      tie = TRUE;
  return tie ? -1 : best;
}

typedef struct
{
  guint unit;
  guint value;
} Pair;

/* One distinct value of a unit and how many times it was given. */
typedef struct
{
  guint value;
  guint count;
} Run;

static int
compare_pairs (const void *a, const void *b)
{
  const Pair *x = a, *y = b;

  if (x->unit != y->unit)
    return x->unit < y->unit ? -1 : 1;
  return (x->value > y->value) - (x->value < y->value);
}

double
veto_stats_krippendorff_alpha (const guint *units, const guint *values, gsize n,
                               guint n_categories, guint *out_pairable)
{
  g_autofree Pair *pairs = g_new (Pair, MAX (n, 1));
  g_autofree double *coincidence = g_new0 (double, (gsize) n_categories * n_categories);
  g_autofree Run *runs = g_new (Run, MAX (n, 1));
  g_autofree double *marginal = g_new0 (double, MAX (n_categories, 1));
  double total = 0, observed = 0, expected = 0;

  for (gsize i = 0; i < n; i++)
    {
      g_return_val_if_fail (values[i] < n_categories, NAN);
      pairs[i] = (Pair) { units[i], values[i] };
    }
  qsort (pairs, n, sizeof (Pair), compare_pairs);
  /* The coincidence matrix o[c][k] = Σ_u (number of c–k pairs of values in u) / (m_u − 1),
   * pairs ordered, so that o is symmetric and Σ_k o[c][k] is the count of c in pairable units. */
  for (gsize start = 0, end; start < n; start = end)
    {
      guint m, n_runs = 0;

      for (end = start; end < n && pairs[end].unit == pairs[start].unit; end++)
        if (n_runs && runs[n_runs - 1].value == pairs[end].value)
          runs[n_runs - 1].count++;
        else
          runs[n_runs++] = (Run) { .value = pairs[end].value, .count = 1 };
      m = end - start;
      if (m < 2)
        continue;
      for (guint i = 0; i < n_runs; i++)
        for (guint j = 0; j < n_runs; j++)
          coincidence[(gsize) runs[i].value * n_categories + runs[j].value]
            += (double) runs[i].count * (i == j ? runs[j].count - 1 : runs[j].count) / (m - 1);
    }
  for (guint c = 0; c < n_categories; c++)
    for (guint k = 0; k < n_categories; k++)
      {
        double o = coincidence[(gsize) c * n_categories + k];

        marginal[c] += o;
        total += o;
        if (c != k)
          observed += o;
      }
  if (out_pairable)
    *out_pairable = (guint) llround (total);
  for (guint c = 0; c < n_categories; c++)
    for (guint k = 0; k < n_categories; k++)
      if (c != k)
        expected += marginal[c] * marginal[k];
  /* α = 1 − D_o / D_e with D_o = Σ_{c≠k} o_ck / n and D_e = Σ_{c≠k} n_c n_k / (n (n − 1)). */
  if (total < 2 || expected == 0)
    return NAN;
  return 1.0 - (total - 1) * observed / expected;
}

static void
annotator_add (VetoStatsAnnotator *a, const VetoStatsAnswer *answer, gint gold, gboolean anchor)
{
  a->answers++;
  a->per_kind[answer->kind]++;
  if (gold >= 0)
    {
      gboolean noisy = answer->kind == VETO_STATS_ORDINARY ? (gint) answer->label != gold
                                                           : (gint) answer->label == gold;

      a->gold.n++;
      a->gold.noisy += noisy;
      a->gold_kind[answer->kind].n++;
      a->gold_kind[answer->kind].noisy += noisy;
      if (anchor)
        {
          a->anchor.n++;
          a->anchor.noisy += noisy;
        }
    }
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* Mean and median time of the answers selected by annotator (G_MAXUINT: everyone's). */
static void
annotator_times (VetoStatsAnnotator *a, const VetoStatsInput *input, guint annotator)
{
  g_autofree double *times = g_new (double, MAX (input->n_answers, 1));
  double sum = 0;
  guint n = 0;

  for (gsize i = 0; i < input->n_answers; i++)
    {
      const VetoStatsAnswer *answer = &input->answers[i];

      if ((annotator == G_MAXUINT || answer->annotator == annotator) && isfinite (answer->seconds))
        {
          times[n++] = answer->seconds;
          sum += answer->seconds;
        }
    }
  a->timed = n;
  a->mean_seconds = n ? sum / n : NAN;
  a->median_seconds = NAN;
  if (n)
    {
      qsort (times, n, sizeof (double), compare_doubles);
      a->median_seconds = n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
    }
}

static gboolean
check_input (const VetoStatsInput *input, GError **error)
{
  if (input->n_classes == 0)
    {
      g_set_error (error, VETO_STATS_ERROR, VETO_STATS_ERROR_INVALID, "no classes");
      return FALSE;
    }
  for (guint i = 0; i < input->n_items; i++)
    if (input->gold[i] >= (gint) input->n_classes)
      {
        g_set_error (error, VETO_STATS_ERROR, VETO_STATS_ERROR_INVALID,
                     "item %u: gold class %d of %u", i, input->gold[i], input->n_classes);
        return FALSE;
      }
  for (gsize i = 0; i < input->n_answers; i++)
    {
      const VetoStatsAnswer *a = &input->answers[i];

      gboolean shown_ok = a->shown == NULL;

      for (guint s = 0; a->shown != NULL && s < a->n_shown; s++)
        {
          if (a->shown[s] >= input->n_classes)
            {
              shown_ok = FALSE;
              break;
            }
          shown_ok |= a->shown[s] == a->label;
        }
      if (a->item >= input->n_items || a->annotator >= input->n_annotators
          || a->label >= input->n_classes || a->kind >= VETO_STATS_N_KINDS || !shown_ok)
        {
          g_set_error (error, VETO_STATS_ERROR, VETO_STATS_ERROR_INVALID,
                       "answer %" G_GSIZE_FORMAT ": item, annotator, kind or class out of range, "
                       "or the class answered is not among those shown", i);
          return FALSE;
        }
    }
  return TRUE;
}

/* Krippendorff's alpha over the ordinary answers, each item a unit. */
static void
ordinary_agreement (const VetoStatsInput *input, VetoStatsReport *r)
{
  g_autofree guint *units = g_new (guint, MAX (input->n_answers, 1));
  g_autofree guint *values = g_new (guint, MAX (input->n_answers, 1));
  g_autofree guint *per_item = g_new0 (guint, MAX (input->n_items, 1));
  gsize n = 0;

  for (gsize i = 0; i < input->n_answers; i++)
    if (input->answers[i].kind == VETO_STATS_ORDINARY)
      {
        units[n] = input->answers[i].item;
        values[n] = input->answers[i].label;
        per_item[units[n]]++;
        n++;
      }
  r->alpha = veto_stats_krippendorff_alpha (units, values, n, input->n_classes, &r->alpha_values);
  for (guint i = 0; i < input->n_items; i++)
    r->alpha_units += per_item[i] >= 2;
}

/* How often complementary answers name the class the ordinary answers agree on. */
static void
majority_hits (const VetoStatsInput *input, VetoStatsReport *r)
{
  guint k = input->n_classes;
  g_autofree guint *votes = g_new0 (guint, (gsize) MAX (input->n_items, 1) * k);

  for (gsize i = 0; i < input->n_answers; i++)
    if (input->answers[i].kind == VETO_STATS_ORDINARY)
      votes[(gsize) input->answers[i].item * k + input->answers[i].label]++;
  for (gsize i = 0; i < input->n_answers; i++)
    {
      const VetoStatsAnswer *a = &input->answers[i];
      gint majority;

      if (a->kind != VETO_STATS_COMPLEMENTARY)
        continue;
      majority = veto_stats_majority (votes + (gsize) a->item * k, k);
      if (majority < 0)
        continue;
      r->cl_majority.n++;
      r->cl_majority.noisy += (gint) a->label == majority;
    }
}

/* The annotators' choice models from their complementary answers on gold items with a set:
 * pooled (the overall row), and each annotator's (veto_loss_fit_annotators ()). */
static gboolean
fit_choice_models (const VetoStatsInput *input, VetoStatsReport *r, GError **error)
{
  guint k = input->n_classes, n = 0, n_ann = input->n_annotators;
  g_autofree VetoLossChoiceObservation *obs = g_new (VetoLossChoiceObservation,
                                                     MAX (input->n_answers, 1));
  g_autofree guint *who = g_new (guint, MAX (input->n_answers, 1));
  g_autofree double *truth = g_new0 (double, (gsize) k * k);
  g_autofree double *models = g_new (double, (gsize) MAX (n_ann, 1) * k * k);
  g_autofree VetoLossAnnotatorFit *fits = g_new (VetoLossAnnotatorFit, MAX (n_ann, 1));

  for (guint y = 0; y < k; y++)
    truth[(gsize) y * k + y] = 1.0;
  for (gsize i = 0; i < input->n_answers; i++)
    {
      const VetoStatsAnswer *ans = &input->answers[i];
      gint gold = input->gold[ans->item];

      if (ans->kind != VETO_STATS_COMPLEMENTARY || gold < 0 || ans->shown == NULL
          || ans->n_shown < 2)
        continue;
      who[n] = ans->annotator;
      obs[n++] = (VetoLossChoiceObservation) { ans->shown, ans->n_shown, ans->label,
                                               truth + (gsize) gold * k };
    }
  r->overall.choice_noise = NAN;
  for (guint j = 0; j < n_ann; j++)
    r->annotators[j].choice_noise = r->annotators[j].choice_strength = NAN;
  if (n == 0)
    return TRUE;
  r->overall.choice_model = g_new (double, (gsize) k * k);
  r->overall.choice_answers = n;
  r->overall.choice_strength = NAN;
  if (!veto_loss_fit_annotators (obs, who, n, n_ann, k, r->overall.choice_model,
                                 &r->overall.choice_noise, models, fits, error))
    return FALSE;
  for (guint j = 0; j < n_ann; j++)
    {
      VetoStatsAnnotator *a = &r->annotators[j];

      if (fits[j].answers == 0)
        continue;
      a->choice_model = g_memdup2 (models + (gsize) j * k * k, sizeof (double) * k * k);
      a->choice_answers = fits[j].answers;
      a->choice_own = fits[j].own;
      a->choice_strength = fits[j].strength;
      a->choice_noise = fits[j].noise;
    }
  return TRUE;
}

gboolean
veto_stats_compute (const VetoStatsInput *input, VetoStatsReport *out_report, GError **error)
{
  VetoStatsReport r = { 0 };
  guint k = input->n_classes;

  if (!check_input (input, error))
    return FALSE;
  r.n_classes = k;
  r.n_annotators = input->n_annotators;
  r.annotators = g_new0 (VetoStatsAnnotator, MAX (input->n_annotators, 1));
  r.transition_counts = g_new0 (guint, (gsize) k * k);
  r.transition = g_new (double, (gsize) k * k);
  for (gsize i = 0; i < input->n_answers; i++)
    {
      const VetoStatsAnswer *a = &input->answers[i];
      gint gold = input->gold[a->item];
      gboolean anchor = input->anchor && input->anchor[a->item];

      annotator_add (&r.overall, a, gold, anchor);
      annotator_add (&r.annotators[a->annotator], a, gold, anchor);
      if (a->kind == VETO_STATS_COMPLEMENTARY && gold >= 0)
        r.transition_counts[(gsize) gold * k + a->label]++;
    }
  annotator_times (&r.overall, input, G_MAXUINT);
  for (guint j = 0; j < input->n_annotators; j++)
    annotator_times (&r.annotators[j], input, j);
  for (guint y = 0; y < k; y++)
    {
      guint row = 0;

      for (guint c = 0; c < k; c++)
        row += r.transition_counts[(gsize) y * k + c];
      for (guint c = 0; c < k; c++)
        r.transition[(gsize) y * k + c] = row ? (double) r.transition_counts[(gsize) y * k + c]
                                                / row
                                              : NAN;
    }
  ordinary_agreement (input, &r);
  majority_hits (input, &r);
  if (!fit_choice_models (input, &r, error))
    {
      veto_stats_report_clear (&r);
      return FALSE;
    }
  *out_report = r;
  return TRUE;
}

void
veto_stats_report_clear (VetoStatsReport *report)
{
  for (guint j = 0; report->annotators != NULL && j < report->n_annotators; j++)
    g_clear_pointer (&report->annotators[j].choice_model, g_free);
  g_clear_pointer (&report->overall.choice_model, g_free);
  g_clear_pointer (&report->annotators, g_free);
  g_clear_pointer (&report->transition_counts, g_free);
  g_clear_pointer (&report->transition, g_free);
  memset (report, 0, sizeof *report);
}
