/* AGCD: Hungarian matching, semi-supervised k-means on sgemm, label mapping, queries, metrics. */
#include "veto-agcd.h"

#include "veto-rng.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Rows per sgemm in a distance pass: few enough (800 KB of 784 floats) that the block of X
 * is still in cache when the M-step adds its rows up, so a Lloyd iteration reads X from memory
 * once; measured 2x faster than 4096 on 60,000 × 784. */
#define BLOCK_ROWS 256
/* Beyond this the dual potentials, sums of up to n weights, could overflow and stall the
 * augmenting-path search on NaNs; counts and scores are nowhere near it. */
#define HUNGARIAN_MAX_WEIGHT 1e150
/* Candidates drawn per seed by greedy k-means++: 2 + ln K reaches it only past a million
 * clusters. */
#define SEED_MAX_TRIALS 16

G_DEFINE_QUARK (veto-agcd-error-quark, veto_agcd_error)

/* Hungarian algorithm */

/* Kuhn-Munkres in the shortest-augmenting-path form with dual potentials u (rows) and v
 * (columns): rows join one at a time, each along the cheapest path of reduced costs, so the
 * whole is O(n² m). Minimises the cost of an n × m matrix, n <= m; indices inside are 1-based
 * so that column 0 can stand for the row being added. */
static void
hungarian_min (const double *cost,
               guint         n,
               guint         m,
               int          *out_col_of_row)
{
  g_autofree double *u = g_new0 (double, n + 1);
  g_autofree double *v = g_new0 (double, m + 1);
  g_autofree double *min_slack = g_new (double, m + 1);
  g_autofree guint *row_of_col = g_new0 (guint, m + 1);
  g_autofree guint *way = g_new0 (guint, m + 1);
  g_autofree gboolean *used = g_new (gboolean, m + 1);

  for (guint i = 1; i <= n; i++)
    {
      guint j0 = 0;

      row_of_col[0] = i;
      for (guint j = 0; j <= m; j++)
        {
          min_slack[j] = INFINITY;
          used[j] = FALSE;
        }
      do
        {
          guint i0 = row_of_col[j0];
          guint j1 = 0;
          double delta = INFINITY;

          used[j0] = TRUE;
          for (guint j = 1; j <= m; j++)
            {
              double slack;

              if (used[j])
                continue;
              slack = cost[(gsize) (i0 - 1) * m + (j - 1)] - u[i0] - v[j];
              if (slack < min_slack[j])
                {
                  min_slack[j] = slack;
                  way[j] = j0;
                }
              if (min_slack[j] < delta)
                {
                  delta = min_slack[j];
                  j1 = j;
                }
            }
          for (guint j = 0; j <= m; j++)
            {
              if (used[j])
                {
                  u[row_of_col[j]] += delta;
                  v[j] -= delta;
                }
              else
                {
                  min_slack[j] -= delta;
                }
            }
          j0 = j1;
        }
      while (row_of_col[j0] != 0);

      do
        {
          guint j1 = way[j0];

          row_of_col[j0] = row_of_col[j1];
          j0 = j1;
        }
      while (j0 != 0);
    }

  for (guint j = 1; j <= m; j++)
    if (row_of_col[j] != 0)
      out_col_of_row[row_of_col[j] - 1] = (int) j - 1;
}

gboolean
veto_agcd_hungarian (const double *weights,
                     guint         n_rows,
                     guint         n_cols,
                     int          *out_assignment,
                     double       *out_total,
                     GError      **error)
{
  gboolean transpose = n_rows > n_cols;
  guint n = transpose ? n_cols : n_rows;
  guint m = transpose ? n_rows : n_cols;
  g_autofree double *cost = NULL;
  g_autofree int *match = NULL;
  double total = 0.0;

  g_return_val_if_fail (weights != NULL || (gsize) n_rows * n_cols == 0, FALSE);
  g_return_val_if_fail (out_assignment != NULL || n_rows == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (gsize i = 0; i < (gsize) n_rows * n_cols; i++)
    if (!(fabs (weights[i]) <= HUNGARIAN_MAX_WEIGHT))
      {
        g_set_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID,
                     "weight %" G_GSIZE_FORMAT " (row %" G_GSIZE_FORMAT ", column %"
                     G_GSIZE_FORMAT ") is %g; weights must be finite and at most %g in size",
                     i, i / n_cols, i % n_cols, weights[i], HUNGARIAN_MAX_WEIGHT);
        return FALSE;
      }

  /* Maximising the weight is minimising its negation; the smaller side is the one that is
   * fully assigned, so it goes first. */
  cost = g_new (double, (gsize) n * m);
  for (guint r = 0; r < n_rows; r++)
    for (guint c = 0; c < n_cols; c++)
      cost[transpose ? (gsize) c * m + r : (gsize) r * m + c] = -weights[(gsize) r * n_cols + c];
  match = g_new (int, n);
  hungarian_min (cost, n, m, match);

  for (guint r = 0; r < n_rows; r++)
    out_assignment[r] = -1;
  for (guint i = 0; i < n; i++)
    {
      guint r = transpose ? (guint) match[i] : i;
      guint c = transpose ? i : (guint) match[i];

      out_assignment[r] = (int) c;
      total += weights[(gsize) r * n_cols + c];
    }
  if (out_total != NULL)
    *out_total = total;
  return TRUE;
}

/* Semi-supervised k-means */

void
veto_agcd_cluster_options_init (VetoAgcdClusterOptions *options)
{
  g_return_if_fail (options != NULL);

  *options = (VetoAgcdClusterOptions) {
    .n_known = 0,
    .n_novel = 0,
    .max_iterations = 100,
    .tolerance = 1e-4,
    .temperature = 0.5,
    .seed = 0,
  };
}

typedef struct
{
  const float *X;
  guint n;
  guint d;
  guint k;
  const int *labels;     /* n, or NULL */
  float *centroids;      /* k × d */
  float *row_norms;      /* n: ‖x‖² */
  float *centroid_norms; /* k: ‖c‖² */
  float *block;          /* BLOCK_ROWS × k */
  guint *counts;         /* k: the M-step's cluster sizes */
  float *partial;        /* k × d: the M-step's sums over one block */
  double *sums;          /* k × d: the M-step's sums */
} KMeans;

static gboolean
is_labeled (const KMeans *km,
            guint         row)
{
  return km->labels != NULL && km->labels[row] >= 0;
}

static float
squared_norm (const float *x,
              guint        d)
{
  double sum = 0.0;

  for (guint j = 0; j < d; j++)
    sum += (double) x[j] * x[j];
  return (float) sum;
}

/* Squared distances of rows start .. start + rows - 1 to every centroid, rows × k into out, as
 * ‖x‖² + ‖c‖² - 2 x·c with the cross terms from one sgemm; rounding can take a tiny distance
 * below zero, so it is clamped. */
static void
block_distances (const KMeans *km,
                 guint         start,
                 guint         rows,
                 float        *out)
{
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int) rows, (int) km->k, (int) km->d,
               -2.0f, km->X + (gsize) start * km->d, (int) km->d, km->centroids, (int) km->d,
               0.0f, out, (int) km->k);
  for (guint i = 0; i < rows; i++)
    {
      float *o = out + (gsize) i * km->k;
      float xx = km->row_norms[start + i];

      for (guint c = 0; c < km->k; c++)
        o[c] = MAX (o[c] + xx + km->centroid_norms[c], 0.0f);
    }
}

/* Adds x (d) times sign to a cluster's double sums. */
static void
add_to_sums (double      *sums,
             const float *x,
             guint        d,
             double       sign)
{
  for (guint j = 0; j < d; j++)
    sums[j] += sign * x[j];
}

/* The E-step: a labeled row goes to its own cluster, any other to its nearest centroid.
 * out_dist (n) gets each row's squared distance to its cluster, all_dist (n × k, optional) every
 * distance. With gather, it also takes the M-step's sizes and sums of the clusters while each
 * block of rows is still in cache: saxpy (vectorised whatever the compiler's flags) into float
 * sums of one block, folded into double ones. Returns the inertia. */
static double
assign_rows (KMeans   *km,
             guint    *clusters,
             float    *out_dist,
             float    *all_dist,
             gboolean  gather)
{
  gsize size = (gsize) km->k * km->d;
  double inertia = 0.0;

  for (guint c = 0; c < km->k; c++)
    km->centroid_norms[c] = squared_norm (km->centroids + (gsize) c * km->d, km->d);
  if (gather)
    {
      memset (km->counts, 0, km->k * sizeof (guint));
      memset (km->sums, 0, size * sizeof (double));
    }

  for (guint start = 0; start < km->n; start += BLOCK_ROWS)
    {
      guint rows = MIN (BLOCK_ROWS, km->n - start);
      float *block = all_dist != NULL ? all_dist + (gsize) start * km->k : km->block;

      block_distances (km, start, rows, block);
      if (gather)
        memset (km->partial, 0, size * sizeof (float));
      for (guint i = 0; i < rows; i++)
        {
          const float *o = block + (gsize) i * km->k;
          guint row = start + i;
          guint best = 0;

          if (is_labeled (km, row))
            best = (guint) km->labels[row];
          else
            for (guint c = 1; c < km->k; c++)
              if (o[c] < o[best])
                best = c;
          clusters[row] = best;
          out_dist[row] = o[best];
          inertia += o[best];
          if (gather)
            {
              km->counts[best]++;
              cblas_saxpy ((int) km->d, 1.0f, km->X + (gsize) row * km->d, 1,
                           km->partial + (gsize) best * km->d, 1);
            }
        }
      if (gather)
        for (gsize j = 0; j < size; j++)
          km->sums[j] += km->partial[j];
    }
  return inertia;
}

/* A cluster left without rows would keep a centroid that explains nothing; like scikit-learn,
 * hand it the unlabeled row farthest from its own centroid, taken from a cluster that keeps
 * others, and move that row's share of the gathered sizes and sums with it. */
static void
relocate_empty_clusters (KMeans *km,
                         guint  *clusters,
                         float  *dist)
{
  for (guint c = 0; c < km->k; c++)
    {
      const float *x;
      guint far = G_MAXUINT;
      float far_dist = -1.0f;

      if (km->counts[c] > 0)
        continue;
      for (guint i = 0; i < km->n; i++)
        if (!is_labeled (km, i) && km->counts[clusters[i]] > 1 && dist[i] > far_dist)
          {
            far = i;
            far_dist = dist[i];
          }
      if (far == G_MAXUINT)
        return;
      x = km->X + (gsize) far * km->d;
      km->counts[clusters[far]]--;
      add_to_sums (km->sums + (gsize) clusters[far] * km->d, x, km->d, -1.0);
      clusters[far] = c;
      km->counts[c] = 1;
      add_to_sums (km->sums + (gsize) c * km->d, x, km->d, 1.0);
      dist[far] = 0.0f;
    }
}

/* The M-step on the gathered sums: each non-empty cluster's centroid moves to the mean of its
 * rows. Returns the total squared shift of the centroids. */
static double
update_centroids (KMeans *km)
{
  double shift = 0.0;

  for (guint c = 0; c < km->k; c++)
    {
      const double *s = km->sums + (gsize) c * km->d;
      float *centroid = km->centroids + (gsize) c * km->d;

      if (km->counts[c] == 0)
        continue;
      for (guint j = 0; j < km->d; j++)
        {
          float mean = (float) (s[j] / km->counts[c]);
          double diff = (double) mean - centroid[j];

          shift += diff * diff;
          centroid[j] = mean;
        }
    }
  return shift;
}

/* Squared distances of every candidate row to each of the m points P (m × d), into out
 * (n_candidates × m); the cross terms come from one sgemm over X into dots (n × m). */
static void
candidate_distances (const KMeans *km,
                     const float  *P,
                     guint         m,
                     const guint  *candidates,
                     guint         n_candidates,
                     float        *dots,
                     float        *out)
{
  g_autofree float *p_norms = g_new (float, m);

  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, (int) km->n, (int) m, (int) km->d, 1.0f,
               km->X, (int) km->d, P, (int) km->d, 0.0f, dots, (int) m);
  for (guint t = 0; t < m; t++)
    p_norms[t] = squared_norm (P + (gsize) t * km->d, km->d);
  for (guint j = 0; j < n_candidates; j++)
    {
      guint row = candidates[j];

      for (guint t = 0; t < m; t++)
        out[(gsize) j * m + t] = MAX (km->row_norms[row] + p_norms[t]
                                      - 2.0f * dots[(gsize) row * m + t], 0.0f);
    }
}

/* A candidate drawn with probability ∝ nearest[j], total being their sum (> 0). */
static guint
draw_candidate (const float *nearest,
                guint        n_candidates,
                double       total,
                VetoRng     *state)
{
  double target = veto_rng_uniform (state) * total;
  double acc = 0.0;

  /* Summed in the same order as total, acc ends at total > target, so it first passes target
   * at a candidate of positive weight (the last one if the loop gets that far). */
  for (guint j = 0; j + 1 < n_candidates; j++)
    {
      acc += nearest[j];
      if (acc > target)
        return j;
    }
  return n_candidates - 1;
}

/* Labeled clusters start at the mean of their rows. The rest are seeded one by one by greedy
 * k-means++ (scikit-learn's): draw 2 + ln K candidate rows with probability ∝ squared distance
 * to the nearest centroid so far and keep the one that lowers the sum of those distances most,
 * which makes two seeds in one blob much rarer than plain k-means++ does. Candidates are the
 * unlabeled rows, or all rows when every row is labeled. */
static gboolean
seed_centroids (KMeans  *km,
                guint    n_known,
                guint64  seed,
                GError **error)
{
  guint n_trials = MIN (2 + (guint) log (km->k), SEED_MAX_TRIALS);
  g_autofree guint *counts = g_new0 (guint, km->k);
  g_autofree double *sums = g_new0 (double, (gsize) km->k * km->d);
  g_autofree guint *candidates = g_new (guint, km->n);
  g_autofree float *nearest = NULL;
  g_autofree float *trial_dist = NULL;
  g_autofree float *dots = NULL;
  g_autofree float *trials = NULL;
  guint n_candidates = 0;
  guint n_labeled = 0;
  guint width;
  VetoRng state;

  veto_rng_init (&state, seed);

  for (guint i = 0; i < km->n; i++)
    {
      const float *x = km->X + (gsize) i * km->d;
      double *s;

      if (!is_labeled (km, i))
        {
          candidates[n_candidates++] = i;
          continue;
        }
      counts[km->labels[i]]++;
      s = sums + (gsize) km->labels[i] * km->d;
      for (guint j = 0; j < km->d; j++)
        s[j] += x[j];
    }
  for (guint c = 0; c < n_known; c++)
    if (counts[c] == 0)
      {
        g_set_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID,
                     "known cluster %u has no labeled row to start from", c);
        return FALSE;
      }
  if (n_candidates == 0)
    for (guint i = 0; i < km->n; i++)
      candidates[n_candidates++] = i;

  /* The labeled means, and a copy of them side by side in trials for one distance pass. */
  for (guint c = 0; c < km->k; c++)
    n_labeled += counts[c] > 0;
  width = MAX (n_trials, n_labeled);
  trials = g_new (float, (gsize) width * km->d);
  dots = g_new (float, (gsize) km->n * width);
  trial_dist = g_new (float, (gsize) n_candidates * width);
  nearest = g_new (float, n_candidates);
  for (guint c = 0, t = 0; c < km->k; c++)
    {
      float *centroid = km->centroids + (gsize) c * km->d;

      if (counts[c] == 0)
        continue;
      for (guint j = 0; j < km->d; j++)
        centroid[j] = (float) (sums[(gsize) c * km->d + j] / counts[c]);
      memcpy (trials + (gsize) t++ * km->d, centroid, km->d * sizeof (float));
    }
  for (guint j = 0; j < n_candidates; j++)
    nearest[j] = INFINITY;
  if (n_labeled > 0)
    {
      candidate_distances (km, trials, n_labeled, candidates, n_candidates, dots, trial_dist);
      for (guint j = 0; j < n_candidates; j++)
        for (guint t = 0; t < n_labeled; t++)
          nearest[j] = MIN (nearest[j], trial_dist[(gsize) j * n_labeled + t]);
    }

  for (guint c = 0; c < km->k; c++)
    {
      double total = 0.0;
      double best_potential = INFINITY;
      guint m = 1;
      guint best = 0;

      if (counts[c] > 0)
        continue;
      for (guint j = 0; j < n_candidates; j++)
        total += nearest[j];
      /* Infinite before the first centroid, zero when every candidate sits on one: then any
       * candidate will do. */
      if (isfinite (total) && total > 0.0)
        {
          m = n_trials;
          for (guint t = 0; t < m; t++)
            memcpy (trials + (gsize) t * km->d,
                    km->X + (gsize) candidates[draw_candidate (nearest, n_candidates, total,
                                                               &state)] * km->d,
                    km->d * sizeof (float));
        }
      else
        {
          memcpy (trials, km->X + (gsize) candidates[veto_rng_below (&state, n_candidates)] * km->d,
                  km->d * sizeof (float));
        }
      candidate_distances (km, trials, m, candidates, n_candidates, dots, trial_dist);
      for (guint t = 0; t < m; t++)
        {
          double potential = 0.0;

          for (guint j = 0; j < n_candidates; j++)
            potential += MIN (nearest[j], trial_dist[(gsize) j * m + t]);
          if (potential < best_potential)
            {
              best_potential = potential;
              best = t;
            }
        }
      memcpy (km->centroids + (gsize) c * km->d, trials + (gsize) best * km->d,
              km->d * sizeof (float));
      for (guint j = 0; j < n_candidates; j++)
        nearest[j] = MIN (nearest[j], trial_dist[(gsize) j * m + best]);
    }
  return TRUE;
}

/* Turns each row of squared distances (n × k) into softmax (-dist / denominator), in place. */
static void
soft_assignments (float  *dist,
                  guint   n,
                  guint   k,
                  double  denominator)
{
  for (guint i = 0; i < n; i++)
    {
      float *row = dist + (gsize) i * k;
      double smallest = row[0];
      double sum = 0.0;

      for (guint c = 1; c < k; c++)
        smallest = MIN (smallest, (double) row[c]);
      for (guint c = 0; c < k; c++)
        {
          double e = exp (-(row[c] - smallest) / denominator);

          row[c] = (float) e;
          sum += e;
        }
      for (guint c = 0; c < k; c++)
        row[c] = (float) (row[c] / sum);
    }
}

gboolean
veto_agcd_cluster (const float                  *X,
                   guint                         n,
                   guint                         d,
                   const int                    *labels,
                   const VetoAgcdClusterOptions *options,
                   guint                        *out_clusters,
                   float                        *out_centroids,
                   float                        *out_soft,
                   VetoAgcdClusterReport        *out_report,
                   GCancellable                 *cancellable,
                   GError                      **error)
{
  guint64 k64;
  KMeans km = { 0 };
  g_autofree float *centroids = NULL;
  g_autofree float *row_norms = NULL;
  g_autofree float *centroid_norms = NULL;
  g_autofree float *block = NULL;
  g_autofree float *dist = NULL;
  g_autofree guint *counts = NULL;
  g_autofree float *partial = NULL;
  g_autofree double *sums = NULL;
  g_autofree double *feature_sum = NULL;
  g_autofree double *feature_sq = NULL;
  VetoAgcdClusterReport report = { 0 };
  double total_variance = 0.0;
  double tolerance;

  g_return_val_if_fail (X != NULL, FALSE);
  g_return_val_if_fail (options != NULL, FALSE);
  g_return_val_if_fail (out_clusters != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  k64 = (guint64) options->n_known + options->n_novel;
  if (n == 0 || d == 0 || k64 == 0 || n > G_MAXINT || d > G_MAXINT || k64 > n)
    {
      g_set_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID,
                   "cannot cluster %u rows of %u features into %" G_GUINT64_FORMAT " clusters",
                   n, d, k64);
      return FALSE;
    }
  if (!(options->temperature > 0.0) || !isfinite (options->temperature)
      || !(options->tolerance >= 0.0))
    {
      g_set_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID,
                   "temperature %g must be positive and tolerance %g not negative",
                   options->temperature, options->tolerance);
      return FALSE;
    }
  for (guint i = 0; labels != NULL && i < n; i++)
    if (labels[i] < -1 || (labels[i] >= 0 && (guint64) labels[i] >= k64))
      {
        g_set_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID,
                     "row %u is labeled %d, not a cluster of 0 .. %" G_GUINT64_FORMAT " or -1",
                     i, labels[i], k64 - 1);
        return FALSE;
      }

  km.X = X;
  km.n = n;
  km.d = d;
  km.k = (guint) k64;
  km.labels = labels;
  km.centroids = centroids = g_new (float, (gsize) km.k * d);
  km.row_norms = row_norms = g_new (float, n);
  km.centroid_norms = centroid_norms = g_new (float, km.k);
  km.block = block = g_new (float, (gsize) MIN (BLOCK_ROWS, n) * km.k);

  /* One pass for the row norms and the per-feature variance of the tolerance; a NaN or an
   * infinity anywhere makes its feature's sum of squares non-finite. */
  feature_sum = g_new0 (double, d);
  feature_sq = g_new0 (double, d);
  for (guint i = 0; i < n; i++)
    {
      const float *x = X + (gsize) i * d;
      double norm = 0.0;

      for (guint j = 0; j < d; j++)
        {
          double v = x[j];

          feature_sum[j] += v;
          feature_sq[j] += v * v;
          norm += v * v;
        }
      row_norms[i] = (float) norm;
    }
  for (guint j = 0; j < d; j++)
    {
      double mean = feature_sum[j] / n;

      if (!isfinite (feature_sq[j]))
        {
          g_set_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID,
                       "feature %u is not finite in every row", j);
          return FALSE;
        }
      total_variance += MAX (feature_sq[j] / n - mean * mean, 0.0);
    }
  tolerance = options->tolerance * total_variance / d;

  if (!seed_centroids (&km, options->n_known, options->seed, error))
    return FALSE;

  dist = g_new (float, n);
  km.counts = counts = g_new (guint, km.k);
  km.partial = partial = g_new (float, (gsize) km.k * d);
  km.sums = sums = g_new (double, (gsize) km.k * d);
  while (report.iterations < options->max_iterations)
    {
      double shift;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      assign_rows (&km, out_clusters, dist, NULL, TRUE);
      relocate_empty_clusters (&km, out_clusters, dist);
      shift = update_centroids (&km);
      report.iterations++;
      if (shift <= tolerance)
        {
          report.converged = TRUE;
          break;
        }
    }

  /* A last E-step, so that the clusters, the soft assignments and the inertia all belong to
   * the centroids handed back. */
  report.inertia = assign_rows (&km, out_clusters, dist, out_soft, FALSE);
  report.scale = report.inertia / n;
  if (out_soft != NULL)
    soft_assignments (out_soft, n, km.k, options->temperature * MAX (report.scale, DBL_MIN));
  if (out_centroids != NULL)
    memcpy (out_centroids, centroids, (gsize) km.k * d * sizeof (float));
  if (out_report != NULL)
    *out_report = report;
  return TRUE;
}

/* Stable label mapping */

struct _VetoAgcdMapping
{
  guint n_clusters;
  guint n_classes;
  int *class_of_cluster; /* n_clusters */
  int *cluster_of_class; /* n_classes */
};

VetoAgcdMapping *
veto_agcd_mapping_new (guint n_clusters,
                       guint n_classes)
{
  VetoAgcdMapping *mapping = g_new0 (VetoAgcdMapping, 1);

  mapping->n_clusters = n_clusters;
  mapping->n_classes = n_classes;
  mapping->class_of_cluster = g_new (int, n_clusters);
  mapping->cluster_of_class = g_new (int, n_classes);
  for (guint c = 0; c < n_clusters; c++)
    mapping->class_of_cluster[c] = -1;
  for (guint k = 0; k < n_classes; k++)
    mapping->cluster_of_class[k] = -1;
  return mapping;
}

void
veto_agcd_mapping_free (VetoAgcdMapping *mapping)
{
  if (mapping == NULL)
    return;
  g_free (mapping->class_of_cluster);
  g_free (mapping->cluster_of_class);
  g_free (mapping);
}

guint
veto_agcd_mapping_get_n_clusters (const VetoAgcdMapping *mapping)
{
  g_return_val_if_fail (mapping != NULL, 0);

  return mapping->n_clusters;
}

guint
veto_agcd_mapping_get_n_classes (const VetoAgcdMapping *mapping)
{
  g_return_val_if_fail (mapping != NULL, 0);

  return mapping->n_classes;
}

static gboolean
check_indices (const guint *values,
               guint        n,
               guint        bound,
               const char  *what,
               GError     **error)
{
  for (guint i = 0; i < n; i++)
    if (values[i] >= bound)
      {
        g_set_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID,
                     "%s %u of entry %u is out of range (%u of them)", what, values[i], i, bound);
        return FALSE;
      }
  return TRUE;
}

gboolean
veto_agcd_mapping_update (VetoAgcdMapping *mapping,
                          const guint     *clusters,
                          const guint     *classes,
                          guint            n,
                          GError         **error)
{
  guint n_clusters, n_classes;
  g_autofree guint *counts = NULL;
  g_autofree double *weights = NULL;
  g_autofree int *match = NULL;
  double bonus;

  g_return_val_if_fail (mapping != NULL, FALSE);
  g_return_val_if_fail (n == 0 || (clusters != NULL && classes != NULL), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  n_clusters = mapping->n_clusters;
  n_classes = mapping->n_classes;
  if (!check_indices (clusters, n, n_clusters, "cluster", error)
      || !check_indices (classes, n, n_classes, "class", error))
    return FALSE;

  counts = g_new0 (guint, (gsize) n_clusters * n_classes);
  for (guint i = 0; i < n; i++)
    counts[(gsize) clusters[i] * n_classes + classes[i]]++;

  /* Counts are whole numbers and the bonuses of all pairs of a matching add up to less than
   * one half, so the bonus for keeping last round's pairs only ever decides between matchings
   * that agree with the same number of rows. */
  bonus = 0.5 / (MIN (n_clusters, n_classes) + 1.0);
  weights = g_new (double, (gsize) n_clusters * n_classes);
  for (gsize i = 0; i < (gsize) n_clusters * n_classes; i++)
    weights[i] = counts[i];
  for (guint c = 0; c < n_clusters; c++)
    if (mapping->class_of_cluster[c] >= 0)
      weights[(gsize) c * n_classes + (guint) mapping->class_of_cluster[c]] += bonus;

  match = g_new (int, n_clusters);
  if (!veto_agcd_hungarian (weights, n_clusters, n_classes, match, NULL, error))
    return FALSE;

  for (guint k = 0; k < n_classes; k++)
    mapping->cluster_of_class[k] = -1;
  for (guint c = 0; c < n_clusters; c++)
    {
      int k = match[c];

      if (k >= 0 && counts[(gsize) c * n_classes + (guint) k] == 0)
        k = -1;
      mapping->class_of_cluster[c] = k;
      if (k >= 0)
        mapping->cluster_of_class[k] = (int) c;
    }
  return TRUE;
}

int
veto_agcd_mapping_get_class (const VetoAgcdMapping *mapping,
                             guint                  cluster)
{
  g_return_val_if_fail (mapping != NULL, -1);

  return cluster < mapping->n_clusters ? mapping->class_of_cluster[cluster] : -1;
}

int
veto_agcd_mapping_get_cluster (const VetoAgcdMapping *mapping,
                               guint                  klass)
{
  g_return_val_if_fail (mapping != NULL, -1);

  return klass < mapping->n_classes ? mapping->cluster_of_class[klass] : -1;
}

gboolean
veto_agcd_mapping_remap (const VetoAgcdMapping *mapping,
                         const guint           *classes,
                         guint                  n,
                         int                   *out_clusters,
                         GError               **error)
{
  g_return_val_if_fail (mapping != NULL, FALSE);
  g_return_val_if_fail (n == 0 || (classes != NULL && out_clusters != NULL), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_indices (classes, n, mapping->n_classes, "class", error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    out_clusters[i] = mapping->cluster_of_class[classes[i]];
  return TRUE;
}

/* Selection */

/* A row in a ranking: by group, then key, then row, so that every order is total and the
 * same on every platform. */
typedef struct
{
  guint group;
  float key;
  guint row;
} Ranked;

static int
compare_ranked (const void *a,
                const void *b)
{
  const Ranked *x = a;
  const Ranked *y = b;

  if (x->group != y->group)
    return x->group < y->group ? -1 : 1;
  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  if (x->row != y->row)
    return x->row < y->row ? -1 : 1;
  return 0;
}

gboolean
veto_agcd_select (const float *probs,
                  guint        n_rows,
                  guint        n_clusters,
                  guint        n_known,
                  guint        batch,
                  guint        round,
                  guint        warm_rounds,
                  guint       *out_rows,
                  GError     **error)
{
  guint n_take = MIN (batch, n_rows);
  guint n_novel, n_out = 0, n_novel_rows = 0, n_rest = 0;
  gboolean warm = round < warm_rounds;
  guint64 cap;
  g_autofree float *margins = NULL;
  g_autofree guint *predicted = NULL;
  g_autofree gboolean *taken = NULL;
  g_autofree Ranked *novel = NULL;
  g_autofree Ranked *rest = NULL;
  g_autofree guint *group_start = NULL;

  g_return_val_if_fail (probs != NULL || (gsize) n_rows * n_clusters == 0, FALSE);
  g_return_val_if_fail (out_rows != NULL || n_take == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (n_clusters == 0 || n_known > n_clusters)
    {
      g_set_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID,
                   "%u known clusters among %u clusters", n_known, n_clusters);
      return FALSE;
    }
  n_novel = n_clusters - n_known;

  margins = g_new (float, n_rows);
  predicted = g_new (guint, n_rows);
  for (guint i = 0; i < n_rows; i++)
    {
      const float *p = probs + (gsize) i * n_clusters;
      guint best = 0;
      float second = -INFINITY;

      for (guint c = 0; c < n_clusters; c++)
        if (!isfinite (p[c]))
          {
            g_set_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID,
                         "probability of row %u, cluster %u is not finite", i, c);
            return FALSE;
          }
      for (guint c = 1; c < n_clusters; c++)
        {
          if (p[c] > p[best])
            {
              second = p[best];
              best = c;
            }
          else
            {
              second = MAX (second, p[c]);
            }
        }
      predicted[i] = best;
      margins[i] = n_clusters > 1 ? p[best] - second : p[best];
    }

  /* Novelty: rows predicted in a novel cluster, grouped by cluster, each group in the order of
   * the round (most confident first while warm, least confident afterwards). */
  novel = g_new (Ranked, n_rows);
  rest = g_new (Ranked, n_rows);
  for (guint i = 0; i < n_rows; i++)
    {
      if (predicted[i] >= n_known)
        novel[n_novel_rows++] = (Ranked) { predicted[i] - n_known,
                                           warm ? -margins[i] : margins[i], i };
      else
        rest[n_rest++] = (Ranked) { 0, margins[i], i };
    }
  qsort (novel, n_novel_rows, sizeof (Ranked), compare_ranked);
  group_start = g_new0 (guint, n_novel + 1);
  for (guint j = 0; j < n_novel_rows; j++)
    group_start[novel[j].group + 1]++;
  for (guint g = 0; g < n_novel; g++)
    group_start[g + 1] += group_start[g];

  /* Diversity: round-robin over the novel clusters, at most cap rows from each. */
  taken = g_new0 (gboolean, n_rows);
  cap = n_novel > 0 ? ((guint64) batch + n_novel - 1) / n_novel : 0;
  for (guint64 r = 0; r < cap && n_out < n_take; r++)
    {
      gboolean any = FALSE;

      for (guint g = 0; g < n_novel && n_out < n_take; g++)
        if (group_start[g] + r < group_start[g + 1])
          {
            guint row = novel[group_start[g] + r].row;

            out_rows[n_out++] = row;
            taken[row] = TRUE;
            any = TRUE;
          }
      if (!any)
        break;
    }

  /* Shortfall: the other predicted-novel rows in the round's order, whatever their cluster. */
  if (n_out < n_take)
    {
      guint n_left = 0;

      for (guint j = 0; j < n_novel_rows; j++)
        if (!taken[novel[j].row])
          {
            novel[n_left] = novel[j];
            novel[n_left++].group = 0;
          }
      qsort (novel, n_left, sizeof (Ranked), compare_ranked);
      for (guint j = 0; j < n_left && n_out < n_take; j++)
        out_rows[n_out++] = novel[j].row;
    }

  /* Then the rest of the pool, smallest margin first. */
  if (n_out < n_take)
    {
      qsort (rest, n_rest, sizeof (Ranked), compare_ranked);
      for (guint j = 0; j < n_rest && n_out < n_take; j++)
        out_rows[n_out++] = rest[j].row;
    }
  return TRUE;
}

/* Metrics */

gboolean
veto_agcd_evaluate (const guint     *clusters,
                    const guint     *classes,
                    guint            n,
                    guint            n_clusters,
                    guint            n_classes,
                    const guint     *old_classes,
                    guint            n_old_classes,
                    const guint     *queried,
                    guint            n_queried,
                    VetoAgcdMetrics *out_metrics,
                    GError         **error)
{
  g_autofree double *counts = NULL;
  g_autofree int *class_of_cluster = NULL;
  g_autofree gboolean *is_old = NULL;
  g_autofree gboolean *hit = NULL;
  guint correct_all = 0, correct_old = 0, correct_new = 0;
  guint n_new_classes = 0, n_hit = 0;
  VetoAgcdMetrics metrics = { 0 };

  g_return_val_if_fail (n == 0 || (clusters != NULL && classes != NULL), FALSE);
  g_return_val_if_fail (old_classes != NULL || n_old_classes == 0, FALSE);
  g_return_val_if_fail (queried != NULL || n_queried == 0, FALSE);
  g_return_val_if_fail (out_metrics != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_indices (clusters, n, n_clusters, "cluster", error)
      || !check_indices (classes, n, n_classes, "class", error)
      || !check_indices (old_classes, n_old_classes, n_classes, "old class", error)
      || !check_indices (queried, n_queried, n_classes, "queried class", error))
    return FALSE;

  counts = g_new0 (double, (gsize) n_clusters * n_classes);
  for (guint i = 0; i < n; i++)
    counts[(gsize) clusters[i] * n_classes + classes[i]] += 1.0;
  class_of_cluster = g_new (int, n_clusters);
  if (!veto_agcd_hungarian (counts, n_clusters, n_classes, class_of_cluster, NULL, error))
    return FALSE;

  is_old = g_new0 (gboolean, n_classes);
  for (guint j = 0; j < n_old_classes; j++)
    is_old[old_classes[j]] = TRUE;
  for (guint i = 0; i < n; i++)
    {
      gboolean right = class_of_cluster[clusters[i]] == (int) classes[i];

      correct_all += right;
      if (is_old[classes[i]])
        {
          metrics.n_old++;
          correct_old += right;
        }
      else
        {
          metrics.n_new++;
          correct_new += right;
        }
    }
  metrics.n_all = n;
  metrics.acc_all = n > 0 ? (double) correct_all / n : NAN;
  metrics.acc_old = metrics.n_old > 0 ? (double) correct_old / metrics.n_old : NAN;
  metrics.acc_new = metrics.n_new > 0 ? (double) correct_new / metrics.n_new : NAN;

  hit = g_new0 (gboolean, n_classes);
  for (guint j = 0; j < n_queried; j++)
    hit[queried[j]] = TRUE;
  for (guint k = 0; k < n_classes; k++)
    if (!is_old[k])
      {
        n_new_classes++;
        n_hit += hit[k];
      }
  metrics.novel_coverage = queried != NULL && n_new_classes > 0
                             ? (double) n_hit / n_new_classes
                             : NAN;

  *out_metrics = metrics;
  return TRUE;
}
