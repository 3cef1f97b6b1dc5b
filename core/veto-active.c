/* veto-active.c: query strategies, candidate sets, preference pairs and active distillation. */
#include "veto-active.h"

#include "veto-agcd.h"
#include "veto-rng.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (veto-active-error-quark, veto_active_error)

/* Probability rows may be off by float rounding, not by more. */
#define PROB_SUM_TOLERANCE 1e-3
/* Rows and centres of one sgemm tile of distances: the tile (1 MiB) stays in cache. */
#define TILE_ROWS 1024
#define TILE_CENTRES 256
/* Lloyd iterations of kmeans-margin's clustering (veto_agcd_cluster ()) at most. */
#define KMEANS_MAX_ITERATIONS 25
/* BADGE rejection trials within one pick before every bound is brought up to date at once:
 * one sgemm pass over h costs about as much as this many single refreshes. */
#define BADGE_REFRESH_TRIALS 16
/* Pairs examined per pair asked, unless the caller says otherwise. */
#define PAIR_CANDIDATE_FACTOR 20
/* Below this many times the candidate cap, every eligible pair is examined. */
#define PAIR_ENUMERATE_FACTOR 4

/* Moves a uniform choice of k of the n entries to the front, in a uniformly random order. */
static void
rng_partial_shuffle (VetoRng   *rng,
                     guint *items,
                     guint  n,
                     guint  k)
{
  for (guint j = 0; j < k && j + 1 < n; j++)
    {
      guint r = j + veto_rng_below (rng, n - j);
      guint t = items[j];

      items[j] = items[r];
      items[r] = t;
    }
}

/* Names */

static const char *const strategy_names[] = {
  "random", "least-confidence", "margin", "entropy", "density", "coreset", "badge", "distill",
  "information", "kmeans-margin", NULL,
};

static const char *const candidate_rule_names[] = { "uniform", "proportional", "informative",
                                                    NULL };

const char *
veto_active_strategy_to_string (VetoActiveStrategy strategy)
{
  g_return_val_if_fail ((guint) strategy < G_N_ELEMENTS (strategy_names) - 1, NULL);
  return strategy_names[strategy];
}

gboolean
veto_active_strategy_from_string (const char         *name,
                                  VetoActiveStrategy *out_strategy,
                                  GError            **error)
{
  g_return_val_if_fail (name != NULL && out_strategy != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; strategy_names[i] != NULL; i++)
    if (g_ascii_strcasecmp (name, strategy_names[i]) == 0)
      {
        *out_strategy = (VetoActiveStrategy) i;
        return TRUE;
      }
  g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
               "Unknown query strategy “%s”", name);
  return FALSE;
}

const char *const *
veto_active_strategy_names (void)
{
  return strategy_names;
}

const char *
veto_active_candidate_rule_to_string (VetoActiveCandidateRule rule)
{
  g_return_val_if_fail ((guint) rule < G_N_ELEMENTS (candidate_rule_names) - 1, NULL);
  return candidate_rule_names[rule];
}

gboolean
veto_active_candidate_rule_from_string (const char              *name,
                                        VetoActiveCandidateRule *out_rule,
                                        GError                 **error)
{
  g_return_val_if_fail (name != NULL && out_rule != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; candidate_rule_names[i] != NULL; i++)
    if (g_ascii_strcasecmp (name, candidate_rule_names[i]) == 0)
      {
        *out_rule = (VetoActiveCandidateRule) i;
        return TRUE;
      }
  g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
               "Unknown candidate rule “%s”", name);
  return FALSE;
}

const char *const *
veto_active_candidate_rule_names (void)
{
  return candidate_rule_names;
}

/* Ranking: larger key first, then lower index, so every order is total and reproducible. */

typedef struct
{
  double key;
  guint index;
} Ranked;

static inline gboolean
ranked_better (const Ranked *a,
               const Ranked *b)
{
  return a->key > b->key || (a->key == b->key && a->index < b->index);
}

static int
ranked_compare (gconstpointer a,
                gconstpointer b)
{
  if (ranked_better (a, b))
    return -1;
  return ranked_better (b, a) ? 1 : 0;
}

/* A binary heap with the best entry on top (best_on_top) or the worst. */
static inline gboolean
heap_above (const Ranked *a,
            const Ranked *b,
            gboolean      best_on_top)
{
  return best_on_top ? ranked_better (a, b) : ranked_better (b, a);
}

static void
heap_sift_down (Ranked   *heap,
                guint     size,
                guint     i,
                gboolean  best_on_top)
{
  for (;;)
    {
      guint left = 2 * i + 1;
      guint top = i;
      Ranked t;

      if (left < size && heap_above (&heap[left], &heap[top], best_on_top))
        top = left;
      if (left + 1 < size && heap_above (&heap[left + 1], &heap[top], best_on_top))
        top = left + 1;
      if (top == i)
        return;
      t = heap[i];
      heap[i] = heap[top];
      heap[top] = t;
      i = top;
    }
}

static void
heap_sift_up (Ranked   *heap,
              guint     i,
              gboolean  best_on_top)
{
  while (i > 0)
    {
      guint parent = (i - 1) / 2;
      Ranked t;

      if (!heap_above (&heap[i], &heap[parent], best_on_top))
        return;
      t = heap[i];
      heap[i] = heap[parent];
      heap[parent] = t;
      i = parent;
    }
}

/* The b best of n keys (b <= n), best first, in O(n log b): a heap of the b best so far with
 * the worst of them on top. */
static void
top_ranked (const double *keys,
            guint         n,
            guint         b,
            Ranked       *out)
{
  guint size = 0;

  if (b == 0)
    return;
  for (guint i = 0; i < n; i++)
    {
      Ranked r = { keys[i], i };

      if (size < b)
        {
          out[size] = r;
          heap_sift_up (out, size++, FALSE);
        }
      else if (ranked_better (&r, &out[0]))
        {
          out[0] = r;
          heap_sift_down (out, size, 0, FALSE);
        }
    }
  qsort (out, size, sizeof (Ranked), ranked_compare);
}

/* Efraimidis-Spirakis key of an item of weight w > 0: the items of the k largest keys are a
 * draw of k without replacement with probability ∝ w, in the order successive draws take. */
static double
weighted_key (VetoRng    *rng,
              double  weight)
{
  return log (1.0 - veto_rng_uniform (rng)) / weight;
}

/* Probabilities */

/* The precise check of one row, with the first problem described. */
static gboolean
check_prob_row (const float  *p,
                guint         k,
                guint         row,
                GError      **error)
{
  double sum = 0.0;

  for (guint c = 0; c < k; c++)
    {
      if (!(p[c] >= 0.0f && p[c] <= 1.0f + PROB_SUM_TOLERANCE))
        {
          g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                       "Probability %u of row %u is %g, not in [0, 1]", c, row, p[c]);
          return FALSE;
        }
      sum += p[c];
    }
  if (!(fabs (sum - 1.0) <= PROB_SUM_TOLERANCE))
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                   "Probabilities of row %u sum to %g, not 1", row, sum);
      return FALSE;
    }
  return TRUE;
}

/* One pass with no branch taken on good rows: a float's raw bits exceed those of
 * 1 + tolerance exactly when it is negative (-0 included), too large or NaN. */
static gboolean
check_probs (const float  *probs,
             guint         n,
             guint         k,
             GError      **error)
{
  const float limit = 1.0f + PROB_SUM_TOLERANCE;
  guint32 limit_bits;

  memcpy (&limit_bits, &limit, sizeof limit_bits);
  for (guint i = 0; i < n; i++)
    {
      const float *p = probs + (gsize) i * k;
      float sum = 0.0f;
      guint32 largest = 0;

      for (guint c = 0; c < k; c++)
        {
          guint32 u;

          memcpy (&u, &p[c], sizeof u);
          largest = MAX (largest, u);
          sum += p[c];
        }
      if ((largest > limit_bits || !(fabsf (sum - 1.0f) <= PROB_SUM_TOLERANCE))
          && !check_prob_row (p, k, i, error))
        return FALSE;
    }
  return TRUE;
}

/* The bits of a checked probability, sign cleared: for floats >= 0 (and -0) they order as
 * the values do, and unsigned min and max compile to conditional moves, not to branches
 * that random rows would mispredict. */
static inline guint32
prob_bits (float v)
{
  guint32 u;

  memcpy (&u, &v, sizeof u);
  return u & 0x7fffffffu;
}

static inline double
bits_prob (guint32 u)
{
  float v;

  memcpy (&v, &u, sizeof v);
  return v;
}

/* p1 - p2 of the two largest entries of each row, or 1 - p1. */
static void
top_two_scores (const float        *probs,
                guint               n,
                guint               k,
                VetoActiveStrategy  strategy,
                double             *out)
{
  for (guint i = 0; i < n; i++)
    {
      const float *p = probs + (gsize) i * k;
      guint32 p1 = prob_bits (p[0]);
      guint32 p2 = 0;

      for (guint c = 1; c < k; c++)
        {
          guint32 v = prob_bits (p[c]);

          p2 = MAX (p2, MIN (v, p1));
          p1 = MAX (p1, v);
        }
      out[i] = strategy == VETO_ACTIVE_MARGIN ? bits_prob (p1) - bits_prob (p2)
                                              : 1.0 - bits_prob (p1);
    }
}

guint
veto_active_argmax (const float *p, guint k)
{
  guint best = 0;

  for (guint c = 1; c < k; c++)
    if (p[c] > p[best])
      best = c;
  return best;
}

/* The score a strategy reports for each row: least confidence, margin or entropy. */
static void
uncertainty_scores (VetoActiveStrategy  strategy,
                    const float        *probs,
                    guint               n,
                    guint               k,
                    double             *out)
{
  if (strategy != VETO_ACTIVE_ENTROPY)
    {
      top_two_scores (probs, n, k, strategy, out);
      return;
    }
  for (guint i = 0; i < n; i++)
    {
      const float *p = probs + (gsize) i * k;
      double h = 0.0;

      for (guint c = 0; c < k; c++)
        if (p[c] > 0.0f)
          h -= p[c] * log (p[c]);
      out[i] = h;
    }
}

/* Noise floor of the uniform annotator (VETO_LOSS_DEFAULT_EPSILON: active knows no losses). */
#define UNIFORM_NOISE 1e-3

static double
annotator_weight (const double *a, guint k, guint y, guint c)
{
  if (a != NULL)
    return a[(gsize) y * k + c];
  return y == c ? UNIFORM_NOISE : 1.0;
}

double
veto_active_information_gain (const double *posterior, guint n_classes, const double *a,
                              const guint *shown, guint k)
{
  double choice[64][64]; /* [y][s]: P(shown[s] | y, S), for y < 64 */
  double marginal[64] = { 0 };
  double gain = 0.0;

  g_return_val_if_fail (posterior != NULL && shown != NULL, NAN);
  g_return_val_if_fail (n_classes <= 64 && k >= 1 && k <= n_classes, NAN);

  for (guint y = 0; y < n_classes; y++)
    {
      double total = 0.0;

      if (posterior[y] <= 0.0)
        continue;
      for (guint s = 0; s < k; s++)
        total += choice[y][s] = annotator_weight (a, n_classes, y, shown[s]);
      for (guint s = 0; s < k; s++)
        {
          choice[y][s] = total > 0 ? choice[y][s] / total : 1.0 / k;
          marginal[s] += posterior[y] * choice[y][s];
        }
    }
  for (guint y = 0; y < n_classes; y++)
    {
      if (posterior[y] <= 0.0)
        continue;
      for (guint s = 0; s < k; s++)
        if (choice[y][s] > 0.0)
          gain += posterior[y] * choice[y][s] * log (choice[y][s] / marginal[s]);
    }
  return MAX (gain, 0.0);
}

void
veto_active_posterior (const float *p, guint n_classes, const VetoActiveAnswer *answers,
                       guint n_answers, double *out_posterior)
{
  double total = 0.0;

  g_return_if_fail (p != NULL && out_posterior != NULL);
  g_return_if_fail (answers != NULL || n_answers == 0);

  for (guint y = 0; y < n_classes; y++)
    out_posterior[y] = MAX (p[y], 1e-12);
  for (guint t = 0; t < n_answers; t++)
    {
      const VetoActiveAnswer *an = &answers[t];

      for (guint y = 0; y < n_classes; y++)
        {
          double shown_sum = 0.0;

          for (guint s = 0; s < an->n_shown; s++)
            shown_sum += annotator_weight (an->a, n_classes, y, an->shown[s]);
          out_posterior[y] *= annotator_weight (an->a, n_classes, y, an->answer) / shown_sum;
        }
    }
  for (guint y = 0; y < n_classes; y++)
    total += out_posterior[y];
  for (guint y = 0; y < n_classes; y++)
    out_posterior[y] = total > 0 ? out_posterior[y] / total : 1.0 / n_classes;
}

guint64
veto_active_named_by_asked (const VetoActiveAnswer *answers, guint n_answers)
{
  guint64 named = 0;

  for (guint t = 0; t < n_answers; t++)
    if (answers[t].by_asked && answers[t].answer < 64)
      named |= G_GUINT64_CONSTANT (1) << answers[t].answer;
  return named;
}

double
veto_active_informative_set (const double *posterior, guint n_classes, const double *a, guint k,
                             guint *out_shown)
{
  return veto_active_informative_set_without (posterior, n_classes, a, k, 0, out_shown);
}

double
veto_active_informative_set_without (const double *posterior, guint n_classes, const double *a,
                                     guint k, guint64 left_out, guint *out_shown)
{
  double count = 1.0, best = -1.0;
  guint set[64], n_left_out = 0;

  g_return_val_if_fail (posterior != NULL && out_shown != NULL, NAN);
  g_return_val_if_fail (n_classes <= 64 && k >= 1 && k <= n_classes, NAN);

  if (n_classes < 64)
    left_out &= (G_GUINT64_CONSTANT (1) << n_classes) - 1;
  for (guint c = 0; c < n_classes; c++)
    n_left_out += (left_out >> c) & 1;
  if (n_classes - n_left_out < k)
    left_out = 0;
  for (guint i = 0; i < k; i++)
    count = count * (n_classes - i) / (i + 1);
  if (count <= 5000)
    {
      for (guint i = 0; i < k; i++)
        set[i] = i;
      for (;;)
        {
          double gain = -1.0;
          gboolean allowed = TRUE;
          gint i;

          for (guint m = 0; m < k && allowed; m++)
            allowed = !((left_out >> set[m]) & 1);
          if (allowed)
            gain = veto_active_information_gain (posterior, n_classes, a, set, k);
          if (gain > best)
            {
              best = gain;
              memcpy (out_shown, set, k * sizeof (guint));
            }
          for (i = (gint) k - 1; i >= 0 && set[i] == n_classes - k + i; i--)
            ;
          if (i < 0)
            break;
          set[i]++;
          for (guint j = i + 1; j < k; j++)
            set[j] = set[j - 1] + 1;
        }
      return best;
    }
  /* Greedy: start from the likeliest class, add the class that raises the gain most. */
  {
    gboolean taken[64] = { FALSE };
    guint first = n_classes;

    for (guint y = 0; y < n_classes; y++)
      taken[y] = (left_out >> y) & 1;
    for (guint y = 0; y < n_classes; y++)
      if (!taken[y] && (first == n_classes || posterior[y] > posterior[first]))
        first = y;
    set[0] = first;
    taken[first] = TRUE;
    for (guint m = 1; m < k; m++)
      {
        guint pick = 0;

        best = -1.0;
        for (guint c = 0; c < n_classes; c++)
          {
            double gain;

            if (taken[c])
              continue;
            set[m] = c;
            gain = veto_active_information_gain (posterior, n_classes, a, set, m + 1);
            if (gain > best)
              {
                best = gain;
                pick = c;
              }
          }
        set[m] = pick;
        taken[pick] = TRUE;
      }
    for (guint i = 1; i < k; i++)
      for (guint j = i; j > 0 && set[j - 1] > set[j]; j--)
        {
          guint t = set[j];

          set[j] = set[j - 1];
          set[j - 1] = t;
        }
    memcpy (out_shown, set, k * sizeof (guint));
    return best;
  }
}

gboolean
veto_active_informative_questions (const double *posteriors, guint n, guint n_classes,
                                   const double *a, guint k, guint batch, guint *out_indices,
                                   guint *out_shown, double *out_scores, GError **error)
{
  g_autofree double *entropy = g_new (double, MAX (n, 1));
  g_autofree Ranked *order = g_new (Ranked, MAX (n, 1));
  g_autofree Ranked *best = g_new (Ranked, MAX (batch, 1));
  g_autofree guint *sets = g_new (guint, (gsize) MAX (n, 1) * MAX (k, 1));
  guint size = 0;

  g_return_val_if_fail (posteriors != NULL || n == 0, FALSE);
  g_return_val_if_fail (out_indices != NULL || batch == 0, FALSE);

  if (n_classes < 2 || n_classes > 64 || k < 2 || k > n_classes || batch == 0 || batch > n)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                   "Informative questions need 2 to 64 classes, 2 to K shown and a batch of 1 to "
                   "n items (K = %u, %u shown, batch %u of %u)", n_classes, k, batch, n);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      const double *p = posteriors + (gsize) i * n_classes;

      entropy[i] = 0.0;
      for (guint c = 0; c < n_classes; c++)
        if (p[c] > 0.0)
          entropy[i] -= p[c] * log (p[c]);
    }
  top_ranked (entropy, n, n, order);
  /* The gain never exceeds H(pi): once the next item's entropy is below the batch-th best gain
   * so far, no later item can enter the batch. */
  for (guint r = 0; r < n; r++)
    {
      guint i = order[r].index;
      Ranked candidate = { 0.0, i };

      if (size == batch && entropy[i] <= best[0].key)
        break;
      candidate.key = veto_active_informative_set (posteriors + (gsize) i * n_classes, n_classes,
                                                   a, k, sets + (gsize) i * k);
      if (size < batch)
        {
          best[size] = candidate;
          heap_sift_up (best, size++, FALSE);
        }
      else if (ranked_better (&candidate, &best[0]))
        {
          best[0] = candidate;
          heap_sift_down (best, size, 0, FALSE);
        }
    }
  qsort (best, size, sizeof (Ranked), ranked_compare);
  for (guint j = 0; j < size; j++)
    {
      out_indices[j] = best[j].index;
      if (out_shown != NULL)
        memcpy (out_shown + (gsize) j * k, sets + (gsize) best[j].index * k, k * sizeof (guint));
      if (out_scores != NULL)
        out_scores[j] = best[j].key;
    }
  return TRUE;
}

/* The same uncertainty scaled to [0, 1], larger meaning less sure. */
static double
uncertainty_unit (VetoActiveStrategy strategy,
                  double             score,
                  guint              k)
{
  switch (strategy)
    {
    case VETO_ACTIVE_MARGIN:
      return 1.0 - score;
    case VETO_ACTIVE_ENTROPY:
      return score / log (k);
    default:
      return score;
    }
}

/* Distances */

static void
row_sq_norms (const float *x,
              guint        n,
              guint        dim,
              float       *out)
{
  for (guint i = 0; i < n; i++)
    out[i] = cblas_sdot ((int) dim, x + (gsize) i * dim, 1, x + (gsize) i * dim, 1);
}

/* inout_min[i] = min (inout_min[i], ‖x_i - c_j‖² over the n_c centres), by tiles of sgemm. */
static void
update_min_sq_dist (const float *x,
                    const float *x_sq,
                    guint        n,
                    const float *centres,
                    guint        n_c,
                    guint        dim,
                    double      *inout_min)
{
  g_autofree float *c_sq = g_new (float, n_c);
  g_autofree float *tile = g_new (float, TILE_ROWS * TILE_CENTRES);

  row_sq_norms (centres, n_c, dim, c_sq);
  for (guint r0 = 0; r0 < n; r0 += TILE_ROWS)
    {
      guint rows = MIN (TILE_ROWS, n - r0);

      for (guint c0 = 0; c0 < n_c; c0 += TILE_CENTRES)
        {
          guint cols = MIN (TILE_CENTRES, n_c - c0);

          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int) rows, (int) cols,
                       (int) dim, 1.0f, x + (gsize) r0 * dim, (int) dim,
                       centres + (gsize) c0 * dim, (int) dim, 0.0f, tile, (int) cols);
          for (guint i = 0; i < rows; i++)
            for (guint j = 0; j < cols; j++)
              {
                double d = (double) x_sq[r0 + i] + c_sq[c0 + j] - 2.0 * tile[i * cols + j];

                inout_min[r0 + i] = MIN (inout_min[r0 + i], MAX (d, 0.0));
              }
        }
    }
}

/* k-center greedy over the n rows of x: batch picks, each the row farthest from the labeled
 * rows and the earlier picks; with no labeled rows the first pick is `first`. Writes the
 * picks and their distances (0 for `first`).
 *
 * The nearest-centre distances are kept as upper bounds refreshed lazily (Minoux's lazy
 * greedy): a row on top of the max-heap is brought up to date against the picks it has not
 * seen, and once the top is up to date no stale bound below it can beat it. The picks are
 * those of the plain algorithm, ties included, without a pass over x per pick. */
static void
kcenter_greedy (const float *x,
                guint        n,
                guint        dim,
                const float *labeled,
                guint        n_labeled,
                guint        first,
                guint        batch,
                guint       *out,
                double      *out_dist)
{
  g_autofree float *sq = g_new (float, n);
  g_autofree double *mind = g_new (double, n);
  g_autofree guint *seen = g_new (guint, n);
  g_autofree Ranked *heap = g_new (Ranked, n);
  guint n_picked = 0;
  guint size = 0;

  row_sq_norms (x, n, dim, sq);
  for (guint i = 0; i < n; i++)
    mind[i] = INFINITY;
  if (n_labeled > 0)
    update_min_sq_dist (x, sq, n, labeled, n_labeled, dim, mind);
  else
    {
      out[0] = first;
      out_dist[0] = 0.0;
      n_picked = 1;
      update_min_sq_dist (x, sq, n, x + (gsize) first * dim, 1, dim, mind);
    }
  for (guint i = 0; i < n; i++)
    {
      seen[i] = n_picked;
      if (n_picked == 0 || i != first)
        heap[size++] = (Ranked) { mind[i], i };
    }
  for (guint j = size / 2; j-- > 0;)
    heap_sift_down (heap, size, j, TRUE);

  while (n_picked < batch)
    {
      guint i = heap[0].index;
      const float *xi = x + (gsize) i * dim;

      if (seen[i] < n_picked)
        {
          for (guint c = seen[i]; c < n_picked; c++)
            {
              const float *xc = x + (gsize) out[c] * dim;
              double d = (double) sq[i] + sq[out[c]] - 2.0 * cblas_sdot ((int) dim, xi, 1, xc, 1);

              mind[i] = MIN (mind[i], MAX (d, 0.0));
            }
          seen[i] = n_picked;
          heap[0].key = mind[i];
          heap_sift_down (heap, size, 0, TRUE);
          continue;
        }
      out[n_picked] = i;
      out_dist[n_picked] = sqrt (mind[i]);
      n_picked++;
      heap[0] = heap[--size];
      heap_sift_down (heap, size, 0, TRUE);
    }
}

/* A running sum tree over non-negative weights: O(log n) updates and draws ∝ weight, and
 * every node is recomputed from its children, so no rounding drifts in. */
typedef struct
{
  guint size;
  double *sum;
} SumTree;

static void
sum_tree_build (SumTree      *tree,
                const double *weights,
                guint         n)
{
  if (tree->sum == NULL)
    {
      tree->size = 1;
      while (tree->size < n)
        tree->size *= 2;
      tree->sum = g_new0 (double, 2 * (gsize) tree->size);
    }
  memcpy (tree->sum + tree->size, weights, n * sizeof (double));
  for (guint j = tree->size - 1; j >= 1; j--)
    tree->sum[j] = tree->sum[2 * j] + tree->sum[2 * j + 1];
}

static void
sum_tree_set (SumTree *tree,
              guint    i,
              double   weight)
{
  guint j = tree->size + i;

  tree->sum[j] = weight;
  for (j /= 2; j >= 1; j /= 2)
    tree->sum[j] = tree->sum[2 * j] + tree->sum[2 * j + 1];
}

/* Needs a positive total; never lands on a zero weight, whatever the rounding. */
static guint
sum_tree_draw (const SumTree *tree,
               VetoRng           *rng)
{
  double u = veto_rng_uniform (rng) * tree->sum[1];
  guint j = 1;

  while (j < tree->size)
    {
      guint left = 2 * j;

      if (tree->sum[left + 1] <= 0.0 || (u < tree->sum[left] && tree->sum[left] > 0.0))
        j = left;
      else
        {
          u -= tree->sum[left];
          j = left + 1;
        }
    }
  return j - tree->size;
}

/* BADGE state. d2[i] is an upper bound of row i's squared gradient distance to the nearest
 * pick, exact against the first seen[i] picks; picked rows have d2 = 0. */
typedef struct
{
  const float *probs;
  const float *h;
  guint n;
  guint k;
  guint e;
  guint *argmax;
  double *norm2;  /* ‖g_i‖² = ‖p̃_i‖² ‖h_i‖² */
  double *d2;
  guint *seen;
  gboolean *picked;
  SumTree tree;
} Badge;

static void
badge_clear (Badge *b)
{
  g_free (b->argmax);
  g_free (b->norm2);
  g_free (b->d2);
  g_free (b->seen);
  g_free (b->picked);
  g_free (b->tree.sum);
}

/* p̃_i · p̃_j with p̃ = p - onehot(argmax p), from p and the two argmaxes. */
static double
residual_dot (const Badge *b,
              guint        i,
              guint        j)
{
  const float *pi = b->probs + (gsize) i * b->k;
  const float *pj = b->probs + (gsize) j * b->k;
  double s = 0.0;

  for (guint c = 0; c < b->k; c++)
    s += (double) pi[c] * pj[c];
  s -= (double) pi[b->argmax[j]] + pj[b->argmax[i]];
  if (b->argmax[i] == b->argmax[j])
    s += 1.0;
  return s;
}

static double
badge_distance (const Badge *b,
                guint        i,
                guint        j,
                double       h_dot)
{
  double d = b->norm2[i] + b->norm2[j] - 2.0 * residual_dot (b, i, j) * h_dot;

  return MAX (d, 0.0);
}

static void
badge_refresh_one (Badge       *b,
                   guint        i,
                   const guint *picks,
                   guint        n_picks)
{
  const float *hi = b->h + (gsize) i * b->e;

  for (guint c = b->seen[i]; c < n_picks; c++)
    {
      const float *hc = b->h + (gsize) picks[c] * b->e;
      double h_dot = cblas_sdot ((int) b->e, hi, 1, hc, 1);

      b->d2[i] = MIN (b->d2[i], badge_distance (b, i, picks[c], h_dot));
    }
  b->seen[i] = n_picks;
}

/* Brings every bound up to date with one tiled sgemm against the picks some row has not
 * seen, then rebuilds the tree. */
static void
badge_refresh_all (Badge       *b,
                   const guint *picks,
                   guint        n_picks)
{
  guint from = n_picks;
  guint n_c;
  g_autofree float *centres = NULL;
  g_autofree float *tile = g_new (float, TILE_ROWS * TILE_CENTRES);

  for (guint i = 0; i < b->n; i++)
    if (!b->picked[i])
      from = MIN (from, b->seen[i]);
  n_c = n_picks - from;
  centres = g_new (float, (gsize) n_c * b->e);
  for (guint c = 0; c < n_c; c++)
    memcpy (centres + (gsize) c * b->e, b->h + (gsize) picks[from + c] * b->e,
            b->e * sizeof (float));

  for (guint r0 = 0; r0 < b->n; r0 += TILE_ROWS)
    {
      guint rows = MIN (TILE_ROWS, b->n - r0);

      for (guint c0 = 0; c0 < n_c; c0 += TILE_CENTRES)
        {
          guint cols = MIN (TILE_CENTRES, n_c - c0);

          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int) rows, (int) cols,
                       (int) b->e, 1.0f, b->h + (gsize) r0 * b->e, (int) b->e,
                       centres + (gsize) c0 * b->e, (int) b->e, 0.0f, tile, (int) cols);
          for (guint r = 0; r < rows; r++)
            {
              guint i = r0 + r;

              if (b->picked[i])
                continue;
              for (guint c = MAX (b->seen[i], from + c0); c < from + c0 + cols; c++)
                b->d2[i] = MIN (b->d2[i],
                                badge_distance (b, i, picks[c], tile[r * cols + c - from - c0]));
            }
        }
    }
  for (guint i = 0; i < b->n; i++)
    if (!b->picked[i])
      b->seen[i] = n_picks;
  sum_tree_build (&b->tree, b->d2, b->n);
}

/* One rejection-sampling draw ∝ the exact d2: propose ∝ the bounds, bring the proposal up
 * to date, accept with probability exact / bound. Each trial accepts row i with probability
 * d2_i / sum of bounds, so an accepted row is distributed ∝ d2 whatever the bounds were.
 * Returns FALSE when every remaining d2 is 0. */
static gboolean
badge_draw (Badge       *b,
            const guint *picks,
            guint        n_picks,
            VetoRng         *rng,
            guint       *out_row)
{
  gboolean all_fresh = FALSE;

  for (guint trials = 0;; trials++)
    {
      guint i;
      double bound;

      if (trials == BADGE_REFRESH_TRIALS && !all_fresh)
        {
          badge_refresh_all (b, picks, n_picks);
          all_fresh = TRUE;
        }
      if (b->tree.sum[1] <= 0.0)
        return FALSE;
      i = sum_tree_draw (&b->tree, rng);
      bound = b->d2[i];
      if (b->seen[i] < n_picks)
        {
          badge_refresh_one (b, i, picks, n_picks);
          if (b->d2[i] < bound)
            sum_tree_set (&b->tree, i, b->d2[i]);
        }
      if (b->d2[i] >= bound || veto_rng_uniform (rng) * bound < b->d2[i])
        {
          *out_row = i;
          return TRUE;
        }
    }
}

static void
select_badge (const float *probs,
              guint        k,
              const float *h,
              guint        e,
              guint        n,
              guint        batch,
              VetoRng         *rng,
              guint       *out,
              double      *out_scores)
{
  Badge b = { .probs = probs, .h = h, .n = n, .k = k, .e = e };
  g_autofree float *h_dot = g_new (float, n);
  guint first = 0;
  guint t;

  b.argmax = g_new (guint, n);
  b.norm2 = g_new (double, n);
  b.d2 = g_new (double, n);
  b.seen = g_new (guint, n);
  b.picked = g_new0 (gboolean, n);
  for (guint i = 0; i < n; i++)
    {
      const float *hi = h + (gsize) i * e;

      b.argmax[i] = veto_active_argmax (probs + (gsize) i * k, k);
      b.norm2[i] = residual_dot (&b, i, i) * cblas_sdot ((int) e, hi, 1, hi, 1);
      if (b.norm2[i] > b.norm2[first])
        first = i;
    }

  out[0] = first;
  out_scores[0] = b.norm2[first];
  b.picked[first] = TRUE;
  cblas_sgemv (CblasRowMajor, CblasNoTrans, (int) n, (int) e, 1.0f, h, (int) e,
               h + (gsize) first * e, 1, 0.0f, h_dot, 1);
  for (guint i = 0; i < n; i++)
    {
      b.d2[i] = b.picked[i] ? 0.0 : badge_distance (&b, i, first, h_dot[i]);
      b.seen[i] = 1;
    }
  sum_tree_build (&b.tree, b.d2, n);

  for (t = 1; t < batch; t++)
    {
      guint i;

      if (!badge_draw (&b, out, t, rng, &i))
        break;
      out[t] = i;
      out_scores[t] = b.d2[i];
      b.picked[i] = TRUE;
      b.d2[i] = 0.0;
      sum_tree_set (&b.tree, i, 0.0);
    }

  /* Every row left coincides with a pick: the largest gradients are still the most useful. */
  if (t < batch)
    {
      g_autofree double *keys = g_new (double, n);
      g_autofree Ranked *rest = g_new (Ranked, batch - t);

      for (guint i = 0; i < n; i++)
        keys[i] = b.picked[i] ? -INFINITY : b.norm2[i];
      top_ranked (keys, n, batch - t, rest);
      for (guint j = 0; t < batch; j++, t++)
        {
          out[t] = rest[j].index;
          out_scores[t] = 0.0;
        }
    }
  badge_clear (&b);
}

/* The rows a strategy works on: the pool itself, or a gathered subsample of it. */
typedef struct
{
  guint n;
  const float *probs;
  guint k;
  const float *space; /* n × dim, or NULL */
  guint dim;
  const float *labeled; /* n_labeled × dim */
  guint n_labeled;
  const float *correctness;
  guint *rows; /* view row -> pool index; NULL: the identity */
  float *gathered_probs;
  float *gathered_space;
  float *gathered_correctness;
} View;

static void
view_clear (View *view)
{
  g_free (view->rows);
  g_free (view->gathered_probs);
  g_free (view->gathered_space);
  g_free (view->gathered_correctness);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (View, view_clear)

static float *
gather_rows (const float *x,
             guint        dim,
             const guint *rows,
             guint        n_rows)
{
  float *out = g_new (float, (gsize) n_rows * dim);

  for (guint i = 0; i < n_rows; i++)
    memcpy (out + (gsize) i * dim, x + (gsize) rows[i] * dim, dim * sizeof (float));
  return out;
}

static int
compare_guint (gconstpointer a,
               gconstpointer b)
{
  guint x = *(const guint *) a;
  guint y = *(const guint *) b;

  return x < y ? -1 : x > y;
}

/* Replaces the view's rows by a uniform subsample of m of them, in pool order. */
static void
view_subsample (View  *view,
                guint  m,
                VetoRng   *rng)
{
  g_autofree guint *perm = g_new (guint, view->n);

  for (guint i = 0; i < view->n; i++)
    perm[i] = i;
  rng_partial_shuffle (rng, perm, view->n, m);
  view->rows = g_memdup2 (perm, m * sizeof (guint));
  qsort (view->rows, m, sizeof (guint), compare_guint);
  if (view->probs != NULL)
    view->probs = view->gathered_probs = gather_rows (view->probs, view->k, view->rows, m);
  if (view->space != NULL)
    view->space = view->gathered_space = gather_rows (view->space, view->dim, view->rows, m);
  if (view->correctness != NULL)
    view->correctness = view->gathered_correctness
      = gather_rows (view->correctness, 1, view->rows, m);
  view->n = m;
}

static gboolean
is_uncertainty (VetoActiveStrategy strategy)
{
  return strategy == VETO_ACTIVE_LEAST_CONFIDENCE || strategy == VETO_ACTIVE_MARGIN
         || strategy == VETO_ACTIVE_ENTROPY;
}

static gboolean
check_options (VetoActiveStrategy       strategy,
               const VetoActiveOptions *options,
               GError                 **error)
{
  const char *problem = NULL;

  if ((guint) strategy >= G_N_ELEMENTS (strategy_names) - 1)
    problem = "unknown strategy";
  else if ((guint) options->space > VETO_ACTIVE_SPACE_FEATURES)
    problem = "unknown space";
  else if (options->factor == 0)
    problem = "the factor must be at least 1";
  else if (!is_uncertainty (options->density_base))
    problem = "density needs least-confidence, margin or entropy as its base";
  else if (!(options->density_beta >= 0.0) || !isfinite (options->density_beta))
    problem = "beta must be finite and not negative";
  else if (!(options->distill_gamma >= 0.0) || !isfinite (options->distill_gamma))
    problem = "gamma must be finite and not negative";
  if (problem == NULL)
    return TRUE;
  g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID, "Bad options: %s", problem);
  return FALSE;
}

static gboolean
check_batch (guint    batch,
             guint    n,
             GError **error)
{
  if (batch == 0)
    g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                 "A batch must hold at least one item");
  else if (batch > n)
    g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                 "A batch of %u is larger than the %u items to choose from", batch, n);
  else if (n > G_MAXINT)
    g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                 "%u items is more than can be scored at once", n);
  return batch >= 1 && batch <= n && n <= G_MAXINT;
}

/* Fills the view from the pool: what the strategy reads, checked for presence and size. */
static gboolean
view_init (View                    *view,
           VetoActiveStrategy       strategy,
           const VetoActivePool    *pool,
           const VetoActiveOptions *options,
           GError                 **error)
{
  const char *name = strategy_names[strategy];
  gboolean diverse = options->diversity && (is_uncertainty (strategy)
                                            || strategy == VETO_ACTIVE_DENSITY);
  gboolean needs_space = diverse || strategy == VETO_ACTIVE_DENSITY
                         || strategy == VETO_ACTIVE_CORESET || strategy == VETO_ACTIVE_BADGE
                         || strategy == VETO_ACTIVE_KMEANS_MARGIN;
  gboolean needs_labeled = diverse || strategy == VETO_ACTIVE_CORESET;
  gboolean embedding;

  view->n = pool->n;
  if (strategy != VETO_ACTIVE_CORESET)
    {
      if (pool->probs == NULL)
        {
          g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_MISSING,
                       "The %s strategy needs the model's probabilities", name);
          return FALSE;
        }
      if (pool->n_classes < 2)
        {
          g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                       "The %s strategy needs at least 2 classes, not %u", name,
                       pool->n_classes);
          return FALSE;
        }
      view->probs = pool->probs;
      view->k = pool->n_classes;
    }
  if (strategy == VETO_ACTIVE_DISTILL)
    {
      if (pool->correctness == NULL)
        {
          g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_MISSING,
                       "The distill strategy needs the teacher's correctness estimates");
          return FALSE;
        }
      view->correctness = pool->correctness;
    }
  if (!needs_space)
    return TRUE;

  if (options->space == VETO_ACTIVE_SPACE_AUTO)
    embedding = pool->embedding != NULL;
  else
    embedding = options->space == VETO_ACTIVE_SPACE_EMBEDDING;
  view->space = embedding ? pool->embedding : pool->features;
  view->dim = embedding ? pool->embedding_dim : pool->n_features;
  view->labeled = embedding ? pool->labeled_embedding : pool->labeled_features;
  view->n_labeled = needs_labeled ? pool->n_labeled : 0;
  if (view->space == NULL || view->dim == 0)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_MISSING,
                   "The %s strategy%s needs %s", name, diverse ? " with diversity" : "",
                   options->space == VETO_ACTIVE_SPACE_AUTO ? "an embedding or features"
                   : embedding ? "an embedding" : "features");
      return FALSE;
    }
  if (view->dim > G_MAXINT)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                   "A dimension of %u is too large", view->dim);
      return FALSE;
    }
  if (view->n_labeled > 0 && view->labeled == NULL)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_MISSING,
                   "The pool has %u labeled items but not their %s", view->n_labeled,
                   embedding ? "embedding" : "features");
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_correctness (const float  *c,
                   guint         n,
                   GError      **error)
{
  for (guint i = 0; i < n; i++)
    if (!(c[i] >= 0.0f && c[i] <= 1.0f))
      {
        g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                     "Teacher correctness %u is %g, not in [0, 1]", i, c[i]);
        return FALSE;
      }
  return TRUE;
}

static void
select_random (guint  n,
               guint  batch,
               VetoRng   *rng,
               guint *out,
               double *out_scores)
{
  g_autofree guint *perm = g_new (guint, n);

  for (guint i = 0; i < n; i++)
    perm[i] = i;
  rng_partial_shuffle (rng, perm, n, batch);
  memcpy (out, perm, batch * sizeof (guint));
  for (guint j = 0; j < batch; j++)
    out_scores[j] = 0.0;
}

/* Writes the mean cosine similarity of each row to all rows, itself included, clamped at 0:
 * x̂_i · mean_j x̂_j, three passes over x and no n × n product. */
static void
mean_similarity (const float *x,
                 guint        n,
                 guint        dim,
                 double      *out_sim)
{
  g_autofree float *inv_norm = g_new (float, n);
  g_autofree float *mean = g_new (float, dim);
  g_autofree float *dots = g_new (float, n);

  row_sq_norms (x, n, dim, inv_norm);
  for (guint i = 0; i < n; i++)
    inv_norm[i] = inv_norm[i] > 0.0f ? 1.0f / (sqrtf (inv_norm[i]) * n) : 0.0f;
  cblas_sgemv (CblasRowMajor, CblasTrans, (int) n, (int) dim, 1.0f, x, (int) dim, inv_norm, 1,
               0.0f, mean, 1);
  cblas_sgemv (CblasRowMajor, CblasNoTrans, (int) n, (int) dim, 1.0f, x, (int) dim, mean, 1,
               0.0f, dots, 1);
  for (guint i = 0; i < n; i++)
    out_sim[i] = MAX ((double) dots[i] * inv_norm[i] * n, 0.0);
}

/* Least confidence, margin, entropy and density: top scores, or k-center among the top. */
static void
select_by_score (const View              *view,
                 VetoActiveStrategy       strategy,
                 const VetoActiveOptions *options,
                 guint                    batch,
                 guint                   *out,
                 double                  *out_scores)
{
  g_autofree double *keys = g_new (double, view->n);
  g_autofree Ranked *top = NULL;
  guint n_top = batch;

  if (strategy == VETO_ACTIVE_INFORMATION && view->k <= 64)
    {
      g_autofree double *p = g_new (double, (gsize) view->n * view->k);

      for (gsize i = 0; i < (gsize) view->n * view->k; i++)
        p[i] = view->probs[i];
      veto_active_informative_questions (p, view->n, view->k, NULL, MIN (4, view->k), batch,
                                         out, NULL, out_scores, NULL);
      return;
    }
  if (strategy == VETO_ACTIVE_INFORMATION)
    strategy = VETO_ACTIVE_ENTROPY;
  if (strategy == VETO_ACTIVE_DENSITY)
    {
      g_autofree double *sim = g_new (double, view->n);

      mean_similarity (view->space, view->n, view->dim, sim);
      uncertainty_scores (options->density_base, view->probs, view->n, view->k, keys);
      for (guint i = 0; i < view->n; i++)
        keys[i] = uncertainty_unit (options->density_base, keys[i], view->k)
                  * pow (sim[i], options->density_beta);
    }
  else
    {
      uncertainty_scores (strategy, view->probs, view->n, view->k, keys);
      if (strategy == VETO_ACTIVE_MARGIN)
        for (guint i = 0; i < view->n; i++)
          keys[i] = -keys[i];
    }

  if (options->diversity)
    n_top = (guint) MIN ((guint64) batch * options->factor, view->n);
  top = g_new (Ranked, n_top);
  top_ranked (keys, view->n, n_top, top);

  if (options->diversity)
    {
      g_autofree guint *rows = g_new (guint, n_top);
      g_autofree float *x = NULL;
      g_autofree guint *picks = g_new (guint, batch);
      g_autofree double *dist = g_new (double, batch);

      for (guint j = 0; j < n_top; j++)
        rows[j] = top[j].index;
      x = gather_rows (view->space, view->dim, rows, n_top);
      kcenter_greedy (x, n_top, view->dim, view->labeled, view->n_labeled, 0, batch, picks,
                      dist);
      for (guint j = 0; j < batch; j++)
        top[j] = (Ranked) { keys[rows[picks[j]]], rows[picks[j]] };
    }
  for (guint j = 0; j < batch; j++)
    {
      out[j] = top[j].index;
      out_scores[j] = strategy == VETO_ACTIVE_MARGIN ? -top[j].key : top[j].key;
    }
}

/* Margin's shortlist cut into batch clusters, the member nearest each centre asked (formula in
 * veto-active.h). */
static void
select_kmeans_margin (const View              *view,
                      const VetoActiveOptions *options,
                      guint                    batch,
                      VetoRng                 *rng,
                      guint                   *out,
                      double                  *out_scores)
{
  guint n_top = (guint) MIN ((guint64) batch * options->factor, view->n), n_picked = 0;
  g_autofree double *keys = g_new (double, view->n);
  g_autofree Ranked *top = g_new (Ranked, n_top);
  g_autofree guint *rows = g_new (guint, n_top);
  g_autofree float *x = NULL;
  g_autofree guint *assign = g_new (guint, n_top);
  g_autofree float *centres = g_new (float, (gsize) batch * view->dim);
  g_autofree guint *sizes = g_new0 (guint, batch);
  g_autofree guint *nearest = g_new (guint, batch);
  g_autofree double *nearest_d = g_new (double, batch);
  g_autofree gboolean *picked = g_new0 (gboolean, n_top);
  g_autofree Ranked *order = g_new (Ranked, batch);
  VetoAgcdClusterOptions clustering;
  guint n_order = 0;

  uncertainty_scores (VETO_ACTIVE_MARGIN, view->probs, view->n, view->k, keys);
  for (guint i = 0; i < view->n; i++)
    keys[i] = -keys[i];
  top_ranked (keys, view->n, n_top, top);
  for (guint j = 0; j < n_top; j++)
    rows[j] = top[j].index;
  x = gather_rows (view->space, view->dim, rows, n_top);
  veto_agcd_cluster_options_init (&clustering);
  clustering.n_novel = batch;
  clustering.max_iterations = KMEANS_MAX_ITERATIONS;
  clustering.seed = veto_rng_next (rng);
  /* It refuses only a shortlist smaller than the batch (never: n_top ≥ batch) or a space
   * that is not finite everywhere, where no distance means anything: margin's order then. */
  if (!veto_agcd_cluster (x, n_top, view->dim, NULL, &clustering, assign, centres, NULL, NULL,
                          NULL, NULL))
    {
      for (guint j = 0; j < batch; j++)
        {
          out[j] = rows[j];
          out_scores[j] = -top[j].key;
        }
      return;
    }
  for (guint c = 0; c < batch; c++)
    nearest_d[c] = INFINITY;
  for (guint j = 0; j < n_top; j++)
    {
      guint c = assign[j];
      const float *xj = x + (gsize) j * view->dim, *centre = centres + (gsize) c * view->dim;
      double d = 0.0;

      for (guint t = 0; t < view->dim; t++)
        d += ((double) xj[t] - centre[t]) * ((double) xj[t] - centre[t]);
      sizes[c]++;
      if (d < nearest_d[c])
        {
          nearest_d[c] = d;
          nearest[c] = j;
        }
    }
  /* Larger clusters first, then the pick of smaller margin. */
  for (guint c = 0; c < batch; c++)
    if (sizes[c] > 0)
      order[n_order++] = (Ranked) { sizes[c] * (double) n_top - nearest[c], nearest[c] };
  qsort (order, n_order, sizeof (Ranked), ranked_compare);
  for (guint j = 0; j < n_order; j++)
    {
      out[n_picked++] = order[j].index;
      picked[order[j].index] = TRUE;
    }
  /* Clusters left empty: the shortlist's smallest margins not yet asked. */
  for (guint j = 0; j < n_top && n_picked < batch; j++)
    if (!picked[j])
      out[n_picked++] = j;
  for (guint j = 0; j < batch; j++)
    {
      out_scores[j] = -top[out[j]].key;
      out[j] = rows[out[j]];
    }
}

static void
select_distill (const View              *view,
                const VetoActiveOptions *options,
                guint                    batch,
                VetoRng                     *rng,
                guint                   *out,
                double                  *out_scores)
{
  guint n = view->n;
  g_autofree double *gain = g_new (double, n);
  g_autofree double *weight = g_new (double, n);
  g_autofree double *keys = g_new (double, n);
  g_autofree Ranked *window = NULL;
  g_autofree Ranked *drawn = NULL;
  guint n_positive = 0;
  guint n_window, n_drawn;

  uncertainty_scores (VETO_ACTIVE_MARGIN, view->probs, n, view->k, gain);
  for (guint i = 0; i < n; i++)
    {
      gain[i] = 1.0 - gain[i];
      weight[i] = pow (view->correctness[i], options->distill_gamma) * gain[i];
      keys[i] = weight[i] > 0.0 ? gain[i] : -INFINITY;
      n_positive += weight[i] > 0.0;
    }
  n_window = (guint) MIN ((guint64) batch * options->factor, n_positive);
  window = g_new (Ranked, MAX (n_window, 1));
  top_ranked (keys, n, n_window, window);

  n_drawn = MIN (batch, n_window);
  drawn = g_new (Ranked, MAX (n_drawn, 1));
  for (guint j = 0; j < n_window; j++)
    keys[j] = weighted_key (rng, weight[window[j].index]);
  top_ranked (keys, n_window, n_drawn, drawn);
  for (guint j = 0; j < n_drawn; j++)
    {
      out[j] = window[drawn[j].index].index;
      out_scores[j] = weight[out[j]];
    }

  /* Too few items the teacher might get right: the rest are the most informative others. */
  if (n_drawn < batch)
    {
      g_autofree Ranked *rest = g_new (Ranked, batch - n_drawn);

      for (guint i = 0; i < n; i++)
        keys[i] = weight[i] > 0.0 ? -INFINITY : gain[i];
      top_ranked (keys, n, batch - n_drawn, rest);
      for (guint j = n_drawn; j < batch; j++)
        {
          out[j] = rest[j - n_drawn].index;
          out_scores[j] = 0.0;
        }
    }
}

void
veto_active_options_init (VetoActiveOptions *options)
{
  g_return_if_fail (options != NULL);

  memset (options, 0, sizeof *options);
  options->space = VETO_ACTIVE_SPACE_AUTO;
  options->factor = VETO_ACTIVE_DEFAULT_FACTOR;
  options->density_base = VETO_ACTIVE_MARGIN;
  options->density_beta = 1.0;
  options->distill_gamma = 1.0;
}

gboolean
veto_active_select (VetoActiveStrategy       strategy,
                    const VetoActivePool    *pool,
                    guint                    batch,
                    const VetoActiveOptions *options,
                    guint                   *out_indices,
                    double                  *out_scores,
                    GError                 **error)
{
  VetoActiveOptions defaults;
  g_auto (View) view = { 0 };
  g_autofree double *scores = NULL;
  VetoRng rng;

  g_return_val_if_fail (pool != NULL && out_indices != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (options == NULL)
    {
      veto_active_options_init (&defaults);
      options = &defaults;
    }
  if (!check_options (strategy, options, error) || !check_batch (batch, pool->n, error))
    return FALSE;
  veto_rng_init (&rng, options->seed);
  scores = g_new (double, batch);

  if (strategy == VETO_ACTIVE_RANDOM)
    select_random (pool->n, batch, &rng, out_indices, scores);
  else
    {
      if (!view_init (&view, strategy, pool, options, error))
        return FALSE;
      if (options->max_pool > 0 && view.n > options->max_pool)
        {
          if (batch > options->max_pool)
            {
              g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                           "A batch of %u is larger than the %u items max_pool scores",
                           batch, options->max_pool);
              return FALSE;
            }
          view_subsample (&view, options->max_pool, &rng);
        }
      if (view.probs != NULL && !check_probs (view.probs, view.n, view.k, error))
        return FALSE;
      if (view.correctness != NULL && !check_correctness (view.correctness, view.n, error))
        return FALSE;

      switch (strategy)
        {
        case VETO_ACTIVE_CORESET:
          kcenter_greedy (view.space, view.n, view.dim, view.labeled, view.n_labeled,
                          view.n_labeled == 0 ? veto_rng_below (&rng, view.n) : 0, batch,
                          out_indices, scores);
          break;
        case VETO_ACTIVE_BADGE:
          select_badge (view.probs, view.k, view.space, view.dim, view.n, batch, &rng,
                        out_indices, scores);
          break;
        case VETO_ACTIVE_DISTILL:
          select_distill (&view, options, batch, &rng, out_indices, scores);
          break;
        case VETO_ACTIVE_KMEANS_MARGIN:
          select_kmeans_margin (&view, options, batch, &rng, out_indices, scores);
          break;
        default:
          select_by_score (&view, strategy, options, batch, out_indices, scores);
          break;
        }
      if (view.rows != NULL)
        for (guint j = 0; j < batch; j++)
          out_indices[j] = view.rows[out_indices[j]];
    }
  if (out_scores != NULL)
    memcpy (out_scores, scores, batch * sizeof (double));
  return TRUE;
}

/* Candidate sets */

/* One item's informative set for posterior pi under annotator model a (NULL: uniform), shown
 * in an order drawn from rng. */
static void
informative_shown (const double *pi, guint n_classes, const double *a, guint k, guint64 left_out,
                   VetoRng *rng, guint *out_shown)
{
  veto_active_informative_set_without (pi, n_classes, a, k, left_out, out_shown);
  rng_partial_shuffle (rng, out_shown, k, k);
}

gboolean
veto_active_candidates (VetoActiveCandidateRule rule,
                        const float            *probs,
                        guint                   n,
                        guint                   n_classes,
                        guint                   k,
                        double                  weight_floor,
                        guint64                 seed,
                        guint                  *out_classes,
                        GError                **error)
{
  gboolean proportional = rule == VETO_ACTIVE_CANDIDATES_PROPORTIONAL;
  gboolean informative = rule == VETO_ACTIVE_CANDIDATES_INFORMATIVE;
  g_autofree guint *perm = NULL;
  g_autofree double *keys = NULL;
  g_autofree Ranked *top = NULL;
  VetoRng rng;

  g_return_val_if_fail (out_classes != NULL || n == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((guint) rule >= G_N_ELEMENTS (candidate_rule_names) - 1)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                   "Unknown candidate rule %d", (int) rule);
      return FALSE;
    }
  if (k == 0 || k > n_classes)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                   "Cannot show %u distinct candidates out of %u classes", k, n_classes);
      return FALSE;
    }
  if (informative && n_classes > 64)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                   "Informative candidates handle at most 64 classes, not %u", n_classes);
      return FALSE;
    }
  if (proportional || informative)
    {
      if (probs == NULL)
        {
          g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_MISSING,
                       "%s candidates need the model's probabilities",
                       proportional ? "Proportional" : "Informative");
          return FALSE;
        }
      if (!(weight_floor > 0.0 && weight_floor <= 1.0))
        {
          g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                       "The weight floor is %g, not in (0, 1]", weight_floor);
          return FALSE;
        }
      if (!check_probs (probs, n, n_classes, error))
        return FALSE;
    }

  veto_rng_init (&rng, seed);
  perm = g_new (guint, n_classes);
  keys = g_new (double, n_classes);
  top = g_new (Ranked, k);
  for (guint i = 0; i < n; i++)
    {
      guint *set = out_classes + (gsize) i * k;

      if (informative)
        {
          veto_active_posterior (probs + (gsize) i * n_classes, n_classes, NULL, 0, keys);
          informative_shown (keys, n_classes, NULL, k, 0, &rng, set);
        }
      else if (proportional)
        {
          const float *p = probs + (gsize) i * n_classes;

          for (guint c = 0; c < n_classes; c++)
            keys[c] = weighted_key (&rng, MAX (p[c], weight_floor));
          top_ranked (keys, n_classes, k, top);
          for (guint j = 0; j < k; j++)
            set[j] = top[j].index;
          rng_partial_shuffle (&rng, set, k, k);
        }
      else
        {
          for (guint c = 0; c < n_classes; c++)
            perm[c] = c;
          rng_partial_shuffle (&rng, perm, n_classes, k);
          memcpy (set, perm, k * sizeof (guint));
        }
    }
  return TRUE;
}

gboolean
veto_active_informative_candidates (const float *p, guint n_classes,
                                    const VetoActiveAnswer *answers, guint n_answers,
                                    const double *a, guint k, guint64 seed, guint *out_shown,
                                    GError **error)
{
  double pi[64];
  VetoRng rng;

  g_return_val_if_fail (p != NULL && out_shown != NULL, FALSE);
  g_return_val_if_fail (answers != NULL || n_answers == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (k == 0 || k > n_classes || n_classes > 64)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                   "Cannot show %u informative candidates out of %u classes (at most 64)", k,
                   n_classes);
      return FALSE;
    }
  if (!check_probs (p, 1, n_classes, error))
    return FALSE;
  for (guint t = 0; t < n_answers; t++)
    {
      gboolean valid = answers[t].answer < n_classes && answers[t].n_shown > 0
                       && answers[t].shown != NULL;

      for (guint s = 0; valid && s < answers[t].n_shown; s++)
        valid = answers[t].shown[s] < n_classes;
      if (!valid)
        {
          g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                       "Earlier answer %u does not fit %u classes", t, n_classes);
          return FALSE;
        }
    }
  veto_active_posterior (p, n_classes, answers, n_answers, pi);
  veto_rng_init (&rng, seed);
  informative_shown (pi, n_classes, a, k, veto_active_named_by_asked (answers, n_answers), &rng,
                     out_shown);
  return TRUE;
}

/* Pairs */

typedef struct
{
  guint a;
  guint b;
} Pair;

/* Items that may be paired with each other: items[start, start + size). */
typedef struct
{
  guint start;
  guint size;
  guint64 pairs_before; /* pairs in the groups before this one */
} Group;

typedef struct
{
  gint label;
  guint index;
} LabeledItem;

static int
compare_labeled_items (gconstpointer a,
                       gconstpointer b)
{
  const LabeledItem *x = a;
  const LabeledItem *y = b;

  if (x->label != y->label)
    return x->label < y->label ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

static gboolean
check_pair_pool (const VetoActivePairPool *pool,
                 GError                  **error)
{
  if (pool->n > 0 && pool->scores == NULL)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_MISSING,
                   "Pair choice needs the model's scores");
      return FALSE;
    }
  for (guint i = 0; i < pool->n; i++)
    {
      const char *problem = NULL;

      if (!isfinite (pool->scores[i]))
        problem = "its score is not finite";
      else if (pool->variances != NULL
               && !(pool->variances[i] >= 0.0f && isfinite (pool->variances[i])))
        problem = "its variance is not finite and non-negative";
      else if (pool->labels != NULL && pool->labels[i] < -1)
        problem = "its label is below -1";
      if (problem != NULL)
        {
          g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID, "Item %u: %s", i,
                       problem);
          return FALSE;
        }
    }
  return TRUE;
}

/* |P(a before b) - 1/2| = tanh(|z| / 2) / 2 for P = σ(z). */
static double
pair_score (const VetoActivePairPool *pool,
            Pair                      pair)
{
  double z = (double) pool->scores[pair.a] - pool->scores[pair.b];

  if (pool->variances != NULL)
    z /= sqrt (1.0 + G_PI * ((double) pool->variances[pair.a] + pool->variances[pair.b]) / 8.0);
  return 0.5 * tanh (fabs (z) / 2.0);
}

gboolean
veto_active_pairs (const VetoActivePairPool *pool,
                   guint                     batch,
                   guint                     max_candidates,
                   guint64                   seed,
                   guint                    *out_a,
                   guint                    *out_b,
                   double                   *out_scores,
                   GError                  **error)
{
  g_autofree guint *items = g_new (guint, MAX (pool->n, 1));
  g_autofree gint *item_labels = g_new (gint, MAX (pool->n, 1));
  g_autoptr (GArray) groups = g_array_new (FALSE, FALSE, sizeof (Group));
  g_autoptr (GArray) candidates = g_array_new (FALSE, FALSE, sizeof (Pair));
  g_autofree double *keys = NULL;
  g_autofree Ranked *best = NULL;
  guint64 cap, total = 0;
  guint n_items = 0;
  VetoRng rng;

  g_return_val_if_fail (pool != NULL && out_a != NULL && out_b != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_pair_pool (pool, error))
    return FALSE;
  cap = max_candidates > 0 ? max_candidates : (guint64) PAIR_CANDIDATE_FACTOR * batch;
  if (batch == 0 || cap < batch || cap > G_MAXUINT)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                   "Cannot choose %u pairs among %" G_GUINT64_FORMAT " candidates", batch, cap);
      return FALSE;
    }

  /* One group of every item, or one per known label. */
  if (pool->labels == NULL)
    for (guint i = 0; i < pool->n; i++)
      {
        items[n_items] = i;
        item_labels[n_items++] = 0;
      }
  else
    {
      g_autofree LabeledItem *sorted = g_new (LabeledItem, MAX (pool->n, 1));

      for (guint i = 0; i < pool->n; i++)
        if (pool->labels[i] >= 0)
          sorted[n_items++] = (LabeledItem) { pool->labels[i], i };
      qsort (sorted, n_items, sizeof (LabeledItem), compare_labeled_items);
      for (guint j = 0; j < n_items; j++)
        {
          items[j] = sorted[j].index;
          item_labels[j] = sorted[j].label;
        }
    }
  for (guint start = 0, end; start < n_items; start = end)
    {
      Group group = { start, 0, total };

      for (end = start + 1; end < n_items && item_labels[end] == item_labels[start]; end++)
        ;
      group.size = end - start;
      if (group.size < 2)
        continue;
      total += (guint64) group.size * (group.size - 1) / 2;
      g_array_append_val (groups, group);
    }
  if (total < batch)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                   "Only %" G_GUINT64_FORMAT " pairs can be formed, %u were asked for", total,
                   batch);
      return FALSE;
    }

  veto_rng_init (&rng, seed);
  if (total <= PAIR_ENUMERATE_FACTOR * cap)
    for (guint g = 0; g < groups->len; g++)
      {
        const Group *group = &g_array_index (groups, Group, g);

        for (guint x = group->start; x < group->start + group->size; x++)
          for (guint y = x + 1; y < group->start + group->size; y++)
            {
              Pair pair = { items[x], items[y] };

              if (veto_rng_below (&rng, 2) == 1)
                pair = (Pair) { items[y], items[x] };
              g_array_append_val (candidates, pair);
            }
      }
  else
    {
      /* At most a quarter of the pairs are taken, so a draw is new at least 3 times in 4. */
      g_autofree gint64 *seen_keys = g_new (gint64, cap);
      g_autoptr (GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);

      while (candidates->len < cap)
        {
          guint64 r = veto_rng_next (&rng) % total;
          guint lo = 0, hi = groups->len - 1;
          const Group *group;
          gint64 *key = &seen_keys[candidates->len];
          guint x, y;
          Pair pair;

          /* The last group whose first pair is at or before r. */
          while (lo < hi)
            {
              guint mid = (lo + hi + 1) / 2;

              if (g_array_index (groups, Group, mid).pairs_before <= r)
                lo = mid;
              else
                hi = mid - 1;
            }
          group = &g_array_index (groups, Group, lo);
          x = veto_rng_below (&rng, group->size);
          y = veto_rng_below (&rng, group->size - 1);
          y += y >= x;
          pair = (Pair) { items[group->start + x], items[group->start + y] };
          *key = (gint64) ((guint64) MIN (pair.a, pair.b) << 32 | MAX (pair.a, pair.b));
          if (g_hash_table_contains (seen, key))
            continue;
          g_hash_table_add (seen, key);
          g_array_append_val (candidates, pair);
        }
    }

  keys = g_new (double, candidates->len);
  best = g_new (Ranked, batch);
  for (guint j = 0; j < candidates->len; j++)
    keys[j] = -pair_score (pool, g_array_index (candidates, Pair, j));
  top_ranked (keys, candidates->len, batch, best);
  for (guint j = 0; j < batch; j++)
    {
      Pair pair = g_array_index (candidates, Pair, best[j].index);

      out_a[j] = pair.a;
      out_b[j] = pair.b;
      if (out_scores != NULL)
        out_scores[j] = -best[j].key;
    }
  return TRUE;
}
