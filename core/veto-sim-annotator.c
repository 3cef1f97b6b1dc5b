/* veto-sim-annotator: simulated annotators, including ones that follow a measured CL matrix. */
#include "veto-sim.h"

#include <math.h>
#include <string.h>

#include "veto-import.h"

struct _VetoSimAnnotator
{
  VetoSimKind kind;
  char *profile;
  guint k;
  guint n_candidates;
  double rate;         /* noise (ordinary) or rho (noisy) */
  double *preferences; /* K×K */
};

/* Floor of a preference, so that a class T never saw answered can still be answered when it is
 * the only choice left. */
#define PREFERENCE_FLOOR 1e-6

void
veto_sim_annotator_free (VetoSimAnnotator *a)
{
  if (a == NULL)
    return;
  g_free (a->profile);
  g_free (a->preferences);
  g_free (a);
}

VetoSimKind
veto_sim_annotator_get_kind (const VetoSimAnnotator *a)
{
  return a->kind;
}

const char *
veto_sim_annotator_get_profile (const VetoSimAnnotator *a)
{
  return a->profile;
}

double
veto_sim_annotator_get_rate (const VetoSimAnnotator *a)
{
  return a->rate;
}

const double *
veto_sim_annotator_get_preferences (const VetoSimAnnotator *a)
{
  return a->preferences;
}

/* Calls func for every m-subset of 0..k-1 (as a bitmask walk over combinations). */
static void
foreach_subset (guint k, guint m, void (*func) (const guint *set, guint m, gpointer data),
                gpointer data)
{
  guint set[64];

  for (guint i = 0; i < m; i++)
    set[i] = i;
  for (;;)
    {
      gint i;

      func (set, m, data);
      for (i = (gint) m - 1; i >= 0 && set[i] == k - m + i; i--)
        ;
      if (i < 0)
        return;
      set[i]++;
      for (guint j = i + 1; j < m; j++)
        set[j] = set[j - 1] + 1;
    }
}

typedef struct
{
  const double *a; /* one row of preferences */
  double *expected;/* K: sum over subsets of P(answer c | S) */
  guint count;
} RowFit;

static void
accumulate_subset (const guint *set, guint m, gpointer data)
{
  RowFit *fit = data;
  double total = 0;

  for (guint i = 0; i < m; i++)
    total += fit->a[set[i]];
  for (guint i = 0; i < m; i++)
    fit->expected[set[i]] += fit->a[set[i]] / total;
  fit->count++;
}

/* Fits preferences a (one row) so that E_S[P(c | S)] = t[c] when S is a uniform m-subset: the
 * minorise-maximise fixed point a_c ← a_c · t_c / E_S[P(c | S)] (as for Plackett–Luce).
 * Returns max_c |E_S[P(c | S)] - t_c| of the fit, large when no choice model reproduces t. */
static double
fit_row (const double *t, guint k, guint m, double *a)
{
  g_autofree double *expected = g_new (double, k);
  double residual = 0;

  for (guint c = 0; c < k; c++)
    a[c] = MAX (t[c], PREFERENCE_FLOOR);
  for (guint iter = 0; iter < 500; iter++)
    {
      RowFit fit = { a, expected, 0 };
      double change = 0, sum = 0;

      memset (expected, 0, k * sizeof (double));
      foreach_subset (k, m, accumulate_subset, &fit);
      for (guint c = 0; c < k; c++)
        {
          double e = expected[c] / fit.count;
          double next = MAX (a[c] * (t[c] > 0 ? t[c] / e : 0), PREFERENCE_FLOOR);

          change = MAX (change, fabs (next - a[c]) / MAX (a[c], 1e-12));
          a[c] = next;
          sum += next;
        }
      for (guint c = 0; c < k; c++)
        a[c] /= sum;
      if (change < 1e-10)
        break;
    }
  {
    RowFit fit = { a, expected, 0 };

    memset (expected, 0, k * sizeof (double));
    foreach_subset (k, m, accumulate_subset, &fit);
    for (guint c = 0; c < k; c++)
      residual = MAX (residual, fabs (expected[c] / fit.count - t[c]));
  }
  return residual;
}

static double
subset_count (guint k, guint m)
{
  double count = 1;

  for (guint i = 0; i < m; i++)
    count = count * (k - i) / (i + 1);
  return count;
}

VetoSimAnnotator *
veto_sim_annotator_new_biased (const double *t, guint k, guint n_candidates, GError **error)
{
  g_autoptr (VetoSimAnnotator) a = g_new0 (VetoSimAnnotator, 1);

  if (n_candidates < 2 || n_candidates > k || subset_count (k, n_candidates) > 2e5)
    {
      g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                   "a biased annotator needs 2 ≤ candidates ≤ K and at most 200,000 candidate "
                   "sets to fit (K = %u, %u candidates)", k, n_candidates);
      return NULL;
    }
  a->kind = VETO_SIM_BIASED;
  a->k = k;
  a->n_candidates = n_candidates;
  a->preferences = g_new (double, (gsize) k * k);
  for (guint y = 0; y < k; y++)
    {
      double residual = fit_row (t + (gsize) y * k, k, n_candidates,
                                 a->preferences + (gsize) y * k);

      if (residual > VETO_SIM_PROFILE_TOLERANCE)
        {
          g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                       "row %u (true class %u) of the profile: no choice model over %u uniform "
                       "candidates of %u reproduces it (max |E - T| = %.3f > %.3f; an entry "
                       "above %u/%u = %.3f is no annotator's)", y, y, n_candidates, k, residual,
                       VETO_SIM_PROFILE_TOLERANCE, n_candidates, k, (double) n_candidates / k);
          return NULL;
        }
    }
  return g_steal_pointer (&a);
}

static gboolean
parse_rate (const char *profile, const char *prefix, double fallback, double *out_rate,
            GError **error)
{
  const char *arg = profile + strlen (prefix);
  char *end = NULL;

  *out_rate = fallback;
  if (*arg == '\0')
    return TRUE;
  if (*arg == ':' && (g_str_has_prefix (arg + 1, "noise=") || g_str_has_prefix (arg + 1, "rho=")))
    {
      const char *number = strchr (arg, '=') + 1;

      *out_rate = g_ascii_strtod (number, &end);
      if (end != number && *end == '\0' && *out_rate >= 0 && *out_rate <= 1)
        return TRUE;
    }
  g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
               "annotator profile \"%s\": expected %s[:%s=RATE] with RATE in [0, 1]", profile,
               prefix, g_str_equal (prefix, "ordinary") ? "noise" : "rho");
  return FALSE;
}

/* CLImage's human profile: the transition matrix T[true][CL] of CLCIFAR10's 3 human CLs per
 * image (yahcreepers/PAKDD_ACLImage_Dataset @692066ec, logs/cifar10_cl/logs.csv), the same
 * numbers as data/profiles/human_cifar10_T.txt (a test keeps them equal). */
static const double human_cifar10[10 * 10] = {
  0.0475, 0.0791, 0.0915, 0.1287, 0.1193, 0.1259, 0.1215, 0.1235, 0.0738, 0.0893,
  0.1045, 0.0597, 0.1128, 0.1083, 0.1044, 0.1249, 0.1185, 0.1184, 0.0916, 0.0569,
  0.1429, 0.1608, 0.0369, 0.0795, 0.0748, 0.0858, 0.0768, 0.0917, 0.1137, 0.1372,
  0.1667, 0.1666, 0.0785, 0.0354, 0.0697, 0.0549, 0.0742, 0.0891, 0.1277, 0.1371,
  0.1696, 0.1713, 0.0860, 0.0805, 0.0319, 0.0682, 0.0784, 0.0542, 0.1208, 0.1391,
  0.1652, 0.1626, 0.0823, 0.0490, 0.0717, 0.0339, 0.0824, 0.0892, 0.1231, 0.1405,
  0.1557, 0.1642, 0.0741, 0.0709, 0.0784, 0.0741, 0.0354, 0.0953, 0.1175, 0.1345,
  0.1579, 0.1615, 0.0915, 0.0861, 0.0571, 0.0795, 0.0850, 0.0372, 0.1092, 0.1350,
  0.0883, 0.0820, 0.1151, 0.1255, 0.1128, 0.1273, 0.1117, 0.1162, 0.0361, 0.0850,
  0.0981, 0.0613, 0.1242, 0.1220, 0.1102, 0.1233, 0.1203, 0.1240, 0.0777, 0.0391,
};

const double *
veto_sim_human_profile (void)
{
  return human_cifar10;
}

VetoSimAnnotator *
veto_sim_annotator_new (const char *profile, guint k, guint n_candidates, GError **error)
{
  g_autoptr (VetoSimAnnotator) a = NULL;

  if (g_str_equal (profile, "human"))
    {
      g_autofree double *t = NULL;

      if (k != 10)
        {
          g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                       "the human profile is a 10×10 matrix (CLCIFAR10); the project has %u "
                       "classes: give biased:FILE with a %u×%u one", k, k, k);
          return NULL;
        }
      t = g_memdup2 (human_cifar10, sizeof human_cifar10);
      /* rows normalised as veto_import_read_transition () does for the shipped file */
      for (guint y = 0; y < k; y++)
        {
          double sum = 0;

          for (guint c = 0; c < k; c++)
            sum += t[y * k + c];
          for (guint c = 0; c < k; c++)
            t[y * k + c] /= sum;
        }
      a = veto_sim_annotator_new_biased (t, k, n_candidates, error);
      if (a == NULL)
        return NULL;
    }
  else if (g_str_has_prefix (profile, "biased:"))
    {
      guint file_k = 0;
      g_autofree double *t = veto_import_read_transition (profile + 7, &file_k, error);

      if (t == NULL)
        return NULL;
      if (file_k != k)
        {
          g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                       "%s: a %u×%u matrix for %u classes", profile + 7, file_k, file_k, k);
          return NULL;
        }
      a = veto_sim_annotator_new_biased (t, k, n_candidates, error);
      if (a == NULL)
        {
          g_prefix_error (error, "%s: ", profile + 7);
          return NULL;
        }
    }
  else
    {
      a = g_new0 (VetoSimAnnotator, 1);
      a->k = k;
      a->n_candidates = n_candidates;
      a->preferences = g_new (double, (gsize) k * k);
      if (g_str_has_prefix (profile, "ordinary"))
        {
          a->kind = VETO_SIM_ORDINARY;
          if (!parse_rate (profile, "ordinary", 0.0, &a->rate, error))
            return NULL;
        }
      else if (g_str_has_prefix (profile, "noisy"))
        {
          a->kind = VETO_SIM_NOISY;
          if (!parse_rate (profile, "noisy", 0.1, &a->rate, error))
            return NULL;
        }
      else if (g_str_equal (profile, "uniform"))
        a->kind = VETO_SIM_UNIFORM;
      else if (g_str_equal (profile, "teacher"))
        a->kind = VETO_SIM_TEACHER;
      else
        {
          g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                       "unknown annotator profile \"%s\" (ordinary[:noise=R], uniform, "
                       "noisy[:rho=R], human, biased:FILE, teacher)", profile);
          return NULL;
        }
      /* The uniform annotator's preferences: every wrong class alike, the true one never. */
      for (guint y = 0; y < k; y++)
        for (guint c = 0; c < k; c++)
          a->preferences[(gsize) y * k + c] = c == y ? PREFERENCE_FLOOR : 1.0;
    }
  a->profile = g_strdup (profile);
  return g_steal_pointer (&a);
}

guint
veto_sim_annotator_answer_ordinary (VetoSimAnnotator *a, VetoRng *rng, guint truth)
{
  guint wrong;

  if (a->kind != VETO_SIM_ORDINARY || veto_rng_uniform (rng) >= a->rate)
    return truth;
  wrong = veto_rng_below (rng, a->k - 1);
  return wrong >= truth ? wrong + 1 : wrong;
}

guint
veto_sim_annotator_answer_complementary (VetoSimAnnotator *a, VetoRng *rng, guint truth,
                                         const guint *shown, guint n_shown)
{
  const double *row = a->preferences + (gsize) truth * a->k;
  gboolean truth_shown = FALSE;
  double total = 0, r;

  for (guint i = 0; i < n_shown; i++)
    truth_shown |= shown[i] == truth;
  if (a->kind == VETO_SIM_NOISY && truth_shown && veto_rng_uniform (rng) < a->rate)
    return truth;
  for (guint i = 0; i < n_shown; i++)
    total += row[shown[i]];
  r = veto_rng_uniform (rng) * total;
  for (guint i = 0; i < n_shown; i++)
    {
      if (r < row[shown[i]])
        return shown[i];
      r -= row[shown[i]];
    }
  return shown[n_shown - 1];
}
