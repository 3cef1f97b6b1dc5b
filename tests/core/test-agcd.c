/* Tests for core/veto-agcd: Hungarian vs brute force, SS-k-means, mapping, queries, metrics. */
#include "veto-agcd.h"

#include <math.h>
#include <string.h>

/* A small generator of the test's own, so that fixtures do not depend on the library's. */
static guint64
test_next (guint64 *state)
{
  guint64 z = (*state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static double
test_uniform (guint64 *state)
{
  return (double) (test_next (state) >> 11) * 0x1.0p-53;
}

static double
test_normal (guint64 *state)
{
  double u1 = 1.0 - test_uniform (state);
  double u2 = test_uniform (state);

  return sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}

/* Hungarian */

/* Checks that the assignment uses each column at most once, pairs min (r, c) rows, and that
 * its weight is the total reported; returns that weight. */
static double
check_assignment (const double *w,
                  guint         r,
                  guint         c,
                  const int    *assignment,
                  double        total)
{
  g_autofree gboolean *used = g_new0 (gboolean, c);
  guint paired = 0;
  double sum = 0.0;

  for (guint i = 0; i < r; i++)
    {
      if (assignment[i] < 0)
        {
          g_assert_cmpint (assignment[i], ==, -1);
          continue;
        }
      g_assert_cmpint (assignment[i], <, (int) c);
      g_assert_false (used[assignment[i]]);
      used[assignment[i]] = TRUE;
      sum += w[(gsize) i * c + (guint) assignment[i]];
      paired++;
    }
  g_assert_cmpuint (paired, ==, MIN (r, c));
  g_assert_cmpfloat_with_epsilon (sum, total, 1e-9 * (1.0 + fabs (sum)));
  return sum;
}

static void
assert_hungarian (const double *w,
                  guint         r,
                  guint         c,
                  const int    *expected,
                  double        expected_total)
{
  g_autoptr (GError) error = NULL;
  g_autofree int *assignment = g_new (int, r);
  double total;

  g_assert_true (veto_agcd_hungarian (w, r, c, assignment, &total, &error));
  g_assert_no_error (error);
  check_assignment (w, r, c, assignment, total);
  g_assert_cmpfloat_with_epsilon (total, expected_total, 1e-9);
  for (guint i = 0; i < r; i++)
    g_assert_cmpint (assignment[i], ==, expected[i]);
}

static void
test_hungarian_hand (void)
{
  /* Permutations worth 6, 11, 5, 9, 7, 6: the best is 0→0, 1→2, 2→1. */
  const double square[] = { 4, 1, 3,
                            2, 0, 5,
                            3, 2, 2 };
  const int square_expected[] = { 0, 2, 1 };
  /* Rows 0 and 1 both want column 0; giving it to row 1 and column 1 to row 0 wins 17 against
   * 11; row 2 takes column 3. */
  const double wide[] = { 9, 8, 1, 0,
                          9, 2, 1, 0,
                          1, 1, 1, 7 };
  const int wide_expected[] = { 1, 0, 3 };
  /* The transpose: row 2 is the one left over. */
  const double tall[] = { 9, 9, 1,
                          8, 2, 1,
                          1, 1, 1,
                          0, 0, 7 };
  const int tall_expected[] = { 1, 0, -1, 2 };
  /* Negative weights are fine: the least bad full assignment. */
  const double negative[] = { -1, -5,
                              -3, -2 };
  const int negative_expected[] = { 0, 1 };

  assert_hungarian (square, 3, 3, square_expected, 11);
  assert_hungarian (wide, 3, 4, wide_expected, 24);
  assert_hungarian (tall, 4, 3, tall_expected, 24);
  assert_hungarian (negative, 2, 2, negative_expected, -3);
}

static void
test_hungarian_greedy_fails (void)
{
  /* Taking the largest weight first (10) forces 1 on the other row: 11 instead of 18. */
  const double w[] = { 10, 9,
                       9, 1 };
  const int expected[] = { 1, 0 };

  assert_hungarian (w, 2, 2, expected, 18);
}

static void
test_hungarian_degenerate (void)
{
  g_autoptr (GError) error = NULL;
  const double w[] = { 1, NAN };
  int assignment[2] = { 7, 7 };
  double total = 1.0;

  /* No columns: every row is left over. */
  g_assert_true (veto_agcd_hungarian (NULL, 2, 0, assignment, &total, &error));
  g_assert_no_error (error);
  g_assert_cmpint (assignment[0], ==, -1);
  g_assert_cmpint (assignment[1], ==, -1);
  g_assert_cmpfloat (total, ==, 0.0);

  g_assert_false (veto_agcd_hungarian (w, 1, 2, assignment, NULL, &error));
  g_assert_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID);
}

/* The best total over every way of giving the rows i .. r-1 distinct unused columns (r <= c). */
static double
brute_force (const double *w,
             guint         r,
             guint         c,
             guint         i,
             gboolean     *used)
{
  double best = -INFINITY;

  if (i == r)
    return 0.0;
  for (guint j = 0; j < c; j++)
    {
      if (used[j])
        continue;
      used[j] = TRUE;
      best = MAX (best, w[(gsize) i * c + j] + brute_force (w, r, c, i + 1, used));
      used[j] = FALSE;
    }
  return best;
}

static void
check_random (guint    r,
              guint    c,
              gboolean integers,
              guint64  seed)
{
  g_autoptr (GError) error = NULL;
  g_autofree double *w = g_new (double, r * c);
  g_autofree double *wt = g_new (double, r * c);
  g_autofree int *assignment = g_new (int, r);
  g_autofree gboolean *used = NULL;
  guint64 state = seed;
  double total, best;

  for (guint i = 0; i < r * c; i++)
    w[i] = integers ? floor (test_uniform (&state) * 4.0) : test_uniform (&state) * 200.0 - 50.0;
  for (guint i = 0; i < r; i++)
    for (guint j = 0; j < c; j++)
      wt[j * r + i] = w[i * c + j];
  if (r <= c)
    {
      used = g_new0 (gboolean, c);
      best = brute_force (w, r, c, 0, used);
    }
  else
    {
      used = g_new0 (gboolean, r);
      best = brute_force (wt, c, r, 0, used);
    }

  g_assert_true (veto_agcd_hungarian (w, r, c, assignment, &total, &error));
  g_assert_no_error (error);
  check_assignment (w, r, c, assignment, total);
  g_assert_cmpfloat_with_epsilon (total, best, 1e-9 * (1.0 + fabs (best)));
}

static void
test_hungarian_brute_force (void)
{
  for (guint64 seed = 1; seed <= 5; seed++)
    {
      check_random (8, 8, FALSE, seed);
      check_random (8, 8, TRUE, seed); /* many ties */
      check_random (5, 7, FALSE, seed);
      check_random (7, 5, TRUE, seed);
      check_random (1, 6, FALSE, seed);
    }
}

/* Clustering */

#define BLOB_ROWS 60
#define N_BLOBS 3

/* Three well separated 2-D blobs (σ 0.5, centres 10 apart), rows interleaved so that no blob
 * is a contiguous range; the first 10 rows of blob 0 are labeled as known cluster 0. */
static void
make_blobs (float *X,
            guint *truth,
            int   *labels)
{
  const float centres[N_BLOBS][2] = { { 0, 0 }, { 10, 0 }, { 0, 10 } };
  guint64 state = 42;
  guint seen0 = 0;

  for (guint i = 0; i < N_BLOBS * BLOB_ROWS; i++)
    {
      guint b = i % N_BLOBS;

      truth[i] = b;
      X[2 * i] = centres[b][0] + (float) (0.5 * test_normal (&state));
      X[2 * i + 1] = centres[b][1] + (float) (0.5 * test_normal (&state));
      labels[i] = b == 0 && seen0++ < 10 ? 0 : -1;
    }
}

static void
test_cluster_blobs (void)
{
  const guint n = N_BLOBS * BLOB_ROWS;
  const guint old_classes[] = { 0 };
  float X[N_BLOBS * BLOB_ROWS * 2];
  guint truth[N_BLOBS * BLOB_ROWS];
  int labels[N_BLOBS * BLOB_ROWS];

  make_blobs (X, truth, labels);
  for (guint64 seed = 0; seed < 8; seed++)
    {
      g_autoptr (GError) error = NULL;
      VetoAgcdClusterOptions options;
      VetoAgcdClusterReport report;
      VetoAgcdMetrics metrics;
      guint clusters[N_BLOBS * BLOB_ROWS];
      float centroids[N_BLOBS * 2];
      float soft[N_BLOBS * BLOB_ROWS * N_BLOBS];

      veto_agcd_cluster_options_init (&options);
      options.n_known = 1;
      options.n_novel = 2;
      options.seed = seed;
      g_assert_true (veto_agcd_cluster (X, n, 2, labels, &options, clusters, centroids, soft,
                                        &report, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (report.converged);
      g_assert_cmpuint (report.iterations, >=, 1);
      g_assert_cmpfloat_with_epsilon (report.scale, report.inertia / n, 1e-9);

      g_assert_true (veto_agcd_evaluate (clusters, truth, n, N_BLOBS, N_BLOBS, old_classes, 1,
                                         NULL, 0, &metrics, &error));
      g_assert_no_error (error);
      g_assert_cmpfloat (metrics.acc_all, ==, 1.0);
      g_assert_cmpfloat (metrics.acc_old, ==, 1.0);
      g_assert_cmpfloat (metrics.acc_new, ==, 1.0);

      /* The known blob is cluster 0 and its centroid sits on its centre. */
      for (guint i = 0; i < n; i++)
        if (truth[i] == 0)
          g_assert_cmpuint (clusters[i], ==, 0);
      g_assert_cmpfloat (hypotf (centroids[0], centroids[1]), <, 0.3f);

      for (guint i = 0; i < n; i++)
        {
          float sum = 0.0f;
          guint argmax = 0;

          for (guint c = 0; c < N_BLOBS; c++)
            {
              sum += soft[i * N_BLOBS + c];
              if (soft[i * N_BLOBS + c] > soft[i * N_BLOBS + argmax])
                argmax = c;
            }
          g_assert_cmpfloat_with_epsilon (sum, 1.0f, 1e-5f);
          g_assert_cmpuint (argmax, ==, clusters[i]);
        }
    }
}

static void
test_cluster_deterministic (void)
{
  const guint n = N_BLOBS * BLOB_ROWS;
  float X[N_BLOBS * BLOB_ROWS * 2];
  guint truth[N_BLOBS * BLOB_ROWS];
  int labels[N_BLOBS * BLOB_ROWS];
  guint clusters[2][N_BLOBS * BLOB_ROWS];
  float centroids[2][5 * 2];
  float soft[2][N_BLOBS * BLOB_ROWS * 5];
  VetoAgcdClusterOptions options;

  make_blobs (X, truth, labels);
  veto_agcd_cluster_options_init (&options);
  /* More novel clusters than blobs, so that k-means++ has real choices to make. */
  options.n_known = 1;
  options.n_novel = 4;
  options.seed = 7;
  for (guint run = 0; run < 2; run++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_true (veto_agcd_cluster (X, n, 2, labels, &options, clusters[run], centroids[run],
                                        soft[run], NULL, NULL, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpmem (clusters[0], sizeof clusters[0], clusters[1], sizeof clusters[1]);
  g_assert_cmpmem (centroids[0], sizeof centroids[0], centroids[1], sizeof centroids[1]);
  g_assert_cmpmem (soft[0], sizeof soft[0], soft[1], sizeof soft[1]);
}

static void
test_cluster_pinned (void)
{
  /* Row 4 sits among rows 2 .. 3 but is labeled known cluster 0 with rows 0 .. 1: it stays in
   * cluster 0 and pulls that centroid towards itself. */
  const float X[] = { 0, 0,  0, 1,  10, 10,  10, 11,  10, 10.5f };
  const int labels[] = { 0, 0, -1, -1, 0 };
  g_autoptr (GError) error = NULL;
  VetoAgcdClusterOptions options;
  guint clusters[5];
  float centroids[4];

  veto_agcd_cluster_options_init (&options);
  options.n_known = 1;
  options.n_novel = 1;
  g_assert_true (veto_agcd_cluster (X, 5, 2, labels, &options, clusters, centroids, NULL, NULL,
                                    NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (clusters[0], ==, 0);
  g_assert_cmpuint (clusters[1], ==, 0);
  g_assert_cmpuint (clusters[2], ==, 1);
  g_assert_cmpuint (clusters[3], ==, 1);
  g_assert_cmpuint (clusters[4], ==, 0);
  g_assert_cmpfloat_with_epsilon (centroids[0], 10.0f / 3.0f, 1e-5f);
  g_assert_cmpfloat_with_epsilon (centroids[1], 11.5f / 3.0f, 1e-5f);
}

static void
test_cluster_errors (void)
{
  const float X[] = { 0, 1, 2, 3 };
  const int missing[] = { -1, -1, -1, -1 };
  const int beyond[] = { 0, 2, -1, -1 };
  VetoAgcdClusterOptions options;
  guint clusters[4];

  veto_agcd_cluster_options_init (&options);
  options.n_known = 1;
  options.n_novel = 1;
  {
    g_autoptr (GError) error = NULL;

    g_assert_false (veto_agcd_cluster (X, 4, 1, missing, &options, clusters, NULL, NULL, NULL,
                                       NULL, &error));
    g_assert_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID);
  }
  {
    g_autoptr (GError) error = NULL;

    g_assert_false (veto_agcd_cluster (X, 4, 1, beyond, &options, clusters, NULL, NULL, NULL,
                                       NULL, &error));
    g_assert_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID);
  }
  {
    g_autoptr (GError) error = NULL;

    options.n_known = 0;
    options.n_novel = 5;
    g_assert_false (veto_agcd_cluster (X, 4, 1, NULL, &options, clusters, NULL, NULL, NULL,
                                       NULL, &error));
    g_assert_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID);
  }
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (GCancellable) cancellable = g_cancellable_new ();

    options.n_novel = 2;
    g_cancellable_cancel (cancellable);
    g_assert_false (veto_agcd_cluster (X, 4, 1, NULL, &options, clusters, NULL, NULL, NULL,
                                       cancellable, &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  }
}

/* Label mapping */

static void
test_mapping_permutation (void)
{
  /* Counts: cluster 2 holds class 4 twice and class 1 once, cluster 0 class 0 twice, cluster 3
   * class 2 twice, cluster 1 class 1 once. Best: 2→4, 0→0, 3→2, 1→1 (7 rows); class 3 is
   * never seen. */
  const guint clusters[] = { 2, 2, 2, 0, 0, 3, 3, 1 };
  const guint classes[] = { 4, 4, 1, 0, 0, 2, 2, 1 };
  const int expected_class[] = { 0, 1, 4, 2 };
  const int expected_cluster[] = { 0, 1, 3, -1, 2 };
  const guint permutation[] = { 3, 0, 1, 2 };
  const guint queried[] = { 4, 3, 0 };
  const int remapped[] = { 2, -1, 0 };
  guint permuted[G_N_ELEMENTS (clusters)];
  int out[G_N_ELEMENTS (queried)];
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoAgcdMapping) mapping = veto_agcd_mapping_new (4, 5);
  g_autoptr (VetoAgcdMapping) shuffled = veto_agcd_mapping_new (4, 5);

  g_assert_cmpuint (veto_agcd_mapping_get_n_clusters (mapping), ==, 4);
  g_assert_cmpuint (veto_agcd_mapping_get_n_classes (mapping), ==, 5);
  for (guint c = 0; c < 4; c++)
    g_assert_cmpint (veto_agcd_mapping_get_class (mapping, c), ==, -1);

  g_assert_true (veto_agcd_mapping_update (mapping, clusters, classes, G_N_ELEMENTS (clusters),
                                           &error));
  g_assert_no_error (error);
  for (guint c = 0; c < 4; c++)
    g_assert_cmpint (veto_agcd_mapping_get_class (mapping, c), ==, expected_class[c]);
  for (guint k = 0; k < 5; k++)
    g_assert_cmpint (veto_agcd_mapping_get_cluster (mapping, k), ==, expected_cluster[k]);
  g_assert_cmpint (veto_agcd_mapping_get_class (mapping, 4), ==, -1);
  g_assert_cmpint (veto_agcd_mapping_get_cluster (mapping, 5), ==, -1);

  g_assert_true (veto_agcd_mapping_remap (mapping, queried, G_N_ELEMENTS (queried), out, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (out, sizeof out, remapped, sizeof remapped);

  /* The same data under other cluster numbers gives the same pairs, renumbered. */
  for (guint i = 0; i < G_N_ELEMENTS (clusters); i++)
    permuted[i] = permutation[clusters[i]];
  g_assert_true (veto_agcd_mapping_update (shuffled, permuted, classes, G_N_ELEMENTS (clusters),
                                           &error));
  g_assert_no_error (error);
  for (guint c = 0; c < 4; c++)
    g_assert_cmpint (veto_agcd_mapping_get_class (shuffled, permutation[c]), ==,
                     expected_class[c]);
  for (guint k = 0; k < 5; k++)
    g_assert_cmpint (veto_agcd_mapping_get_cluster (shuffled, k), ==,
                     expected_cluster[k] < 0 ? -1 : (int) permutation[expected_cluster[k]]);
}

static void
test_mapping_stable (void)
{
  /* Round 2 is a tie between the identity and the swap: each mapping keeps what it had. */
  const guint first_clusters[] = { 0, 1 };
  const guint swapped_classes[] = { 1, 0 };
  const guint same_classes[] = { 0, 1 };
  const guint tie_clusters[] = { 0, 0, 1, 1 };
  const guint tie_classes[] = { 0, 1, 0, 1 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoAgcdMapping) swap = veto_agcd_mapping_new (2, 2);
  g_autoptr (VetoAgcdMapping) identity = veto_agcd_mapping_new (2, 2);

  for (guint round = 0; round < 4; round++)
    {
      if (round == 0)
        {
          g_assert_true (veto_agcd_mapping_update (swap, first_clusters, swapped_classes, 2,
                                                   &error));
          g_assert_true (veto_agcd_mapping_update (identity, first_clusters, same_classes, 2,
                                                   &error));
        }
      else
        {
          g_assert_true (veto_agcd_mapping_update (swap, tie_clusters, tie_classes, 4, &error));
          g_assert_true (veto_agcd_mapping_update (identity, tie_clusters, tie_classes, 4,
                                                   &error));
        }
      g_assert_no_error (error);
      g_assert_cmpint (veto_agcd_mapping_get_class (swap, 0), ==, 1);
      g_assert_cmpint (veto_agcd_mapping_get_class (swap, 1), ==, 0);
      g_assert_cmpint (veto_agcd_mapping_get_class (identity, 0), ==, 0);
      g_assert_cmpint (veto_agcd_mapping_get_class (identity, 1), ==, 1);
    }

  /* Evidence beats habit: a clear majority for the identity turns the swap round. */
  {
    const guint clusters[] = { 0, 0, 1 };
    const guint classes[] = { 0, 0, 1 };

    g_assert_true (veto_agcd_mapping_update (swap, clusters, classes, 3, &error));
    g_assert_no_error (error);
    g_assert_cmpint (veto_agcd_mapping_get_class (swap, 0), ==, 0);
    g_assert_cmpint (veto_agcd_mapping_get_class (swap, 1), ==, 1);
  }

  /* No labeled row at all: nothing is matched. */
  g_assert_true (veto_agcd_mapping_update (swap, NULL, NULL, 0, &error));
  g_assert_no_error (error);
  g_assert_cmpint (veto_agcd_mapping_get_class (swap, 0), ==, -1);
  g_assert_cmpint (veto_agcd_mapping_get_cluster (swap, 1), ==, -1);

  {
    const guint bad[] = { 2 };
    int out[1];

    g_assert_false (veto_agcd_mapping_update (swap, bad, same_classes, 1, &error));
    g_assert_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID);
    g_clear_error (&error);
    g_assert_false (veto_agcd_mapping_remap (swap, bad, 1, out, &error));
    g_assert_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID);
  }
}

/* Selection */

/* One known cluster (0) and two novel ones (1, 2); margins in the comments. */
static const float select_probs[] = {
  0.90f, 0.05f, 0.05f, /* 0: known, 0.85 */
  0.10f, 0.80f, 0.10f, /* 1: novel 1, 0.70 */
  0.10f, 0.50f, 0.40f, /* 2: novel 1, 0.10 */
  0.20f, 0.60f, 0.20f, /* 3: novel 1, 0.40 */
  0.05f, 0.05f, 0.90f, /* 4: novel 2, 0.85 */
  0.30f, 0.10f, 0.60f, /* 5: novel 2, 0.30 */
  0.10f, 0.35f, 0.55f, /* 6: novel 2, 0.20 */
  0.45f, 0.30f, 0.25f, /* 7: known, 0.15 */
};

static void
assert_select (const float *probs,
               guint        n_rows,
               guint        n_known,
               guint        batch,
               guint        round,
               const guint *expected,
               guint        n_expected)
{
  g_autoptr (GError) error = NULL;
  g_autofree guint *rows = g_new (guint, MAX (n_expected, 1));

  g_assert_true (veto_agcd_select (probs, n_rows, 3, n_known, batch, round, 2, rows, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (rows, n_expected * sizeof (guint), expected, n_expected * sizeof (guint));
}

static void
test_select_rule (void)
{
  /* Batch 4, two novel clusters: two from each, alternating. Warm rounds (0, 1) take the most
   * confident first, later rounds the least confident. */
  const guint warm[] = { 1, 4, 3, 5 };
  const guint later[] = { 2, 6, 3, 5 };
  /* Batch 7: all six novel rows, then the known row of smallest margin. */
  const guint seven[] = { 2, 6, 3, 5, 1, 4, 7 };
  /* Every row, when the batch is larger than the pool. */
  const guint all[] = { 1, 4, 3, 5, 2, 6, 7, 0 };

  assert_select (select_probs, 8, 1, 4, 0, warm, G_N_ELEMENTS (warm));
  assert_select (select_probs, 8, 1, 4, 1, warm, G_N_ELEMENTS (warm));
  assert_select (select_probs, 8, 1, 4, 2, later, G_N_ELEMENTS (later));
  assert_select (select_probs, 8, 1, 7, 5, seven, G_N_ELEMENTS (seven));
  assert_select (select_probs, 8, 1, 20, 0, all, G_N_ELEMENTS (all));
}

static void
test_select_shortfall (void)
{
  /* Rows 0 .. 4 only: novel 1 has rows 1, 2, 3 and novel 2 only row 4. Batch 4 caps each
   * cluster at 2, so novel 2 falls short and the third row of novel 1 fills in. */
  const guint four[] = { 2, 4, 3, 1 };
  /* Batch 6 (cap 3) runs out of novel rows: the known row 0 comes last. */
  const guint six[] = { 2, 4, 3, 1, 0 };
  /* No novel cluster at all: plain margin order; rows 0 and 4 tie, and the lower goes first. */
  const guint margin[] = { 2, 7, 6, 5, 3, 1, 0, 4 };
  g_autoptr (GError) error = NULL;
  guint rows[1];

  assert_select (select_probs, 5, 1, 4, 3, four, G_N_ELEMENTS (four));
  assert_select (select_probs, 5, 1, 6, 3, six, G_N_ELEMENTS (six));
  assert_select (select_probs, 8, 3, 8, 3, margin, G_N_ELEMENTS (margin));

  g_assert_false (veto_agcd_select (select_probs, 8, 3, 4, 1, 0, 2, rows, &error));
  g_assert_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID);
}

static void
test_select_not_finite (void)
{
  const float probs[] = { 0.5f, NAN, 0.2f, 0.8f };
  g_autoptr (GError) error = NULL;
  guint rows[2];

  g_assert_false (veto_agcd_select (probs, 2, 2, 1, 2, 0, 1, rows, &error));
  g_assert_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID);
}

/* Metrics */

static void
test_evaluate (void)
{
  /* Classes 0, 1 old, 2, 3 new; four clusters. Counts: cluster 0 holds classes 0, 1 once and
   * class 2 twice; cluster 1 class 0 twice; cluster 2 class 1 once; cluster 3 class 2 once and
   * class 3 twice. Best match 1→0, 2→1, 0→2, 3→3 with 7 of 10 rows right: old rows 0, 1, 3
   * (3 of 5), new rows 5, 6, 8, 9 (4 of 5). */
  const guint truth[] = { 0, 0, 0, 1, 1, 2, 2, 2, 3, 3 };
  const guint predicted[] = { 1, 1, 0, 2, 0, 0, 0, 3, 3, 3 };
  const guint old_classes[] = { 0, 1 };
  const guint queried_some[] = { 0, 2, 2, 1 };
  const guint queried_all[] = { 3, 2 };
  g_autoptr (GError) error = NULL;
  VetoAgcdMetrics metrics;

  g_assert_true (veto_agcd_evaluate (predicted, truth, 10, 4, 4, old_classes, 2, queried_some,
                                     G_N_ELEMENTS (queried_some), &metrics, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (metrics.n_all, ==, 10);
  g_assert_cmpuint (metrics.n_old, ==, 5);
  g_assert_cmpuint (metrics.n_new, ==, 5);
  g_assert_cmpfloat_with_epsilon (metrics.acc_all, 0.7, 1e-12);
  g_assert_cmpfloat_with_epsilon (metrics.acc_old, 0.6, 1e-12);
  g_assert_cmpfloat_with_epsilon (metrics.acc_new, 0.8, 1e-12);
  g_assert_cmpfloat_with_epsilon (metrics.novel_coverage, 0.5, 1e-12);

  g_assert_true (veto_agcd_evaluate (predicted, truth, 10, 4, 4, old_classes, 2, queried_all,
                                     G_N_ELEMENTS (queried_all), &metrics, &error));
  g_assert_cmpfloat (metrics.novel_coverage, ==, 1.0);
  g_assert_true (veto_agcd_evaluate (predicted, truth, 10, 4, 4, old_classes, 2, queried_all, 0,
                                     &metrics, &error));
  g_assert_cmpfloat (metrics.novel_coverage, ==, 0.0);
  g_assert_true (veto_agcd_evaluate (predicted, truth, 10, 4, 4, old_classes, 2, NULL, 0,
                                     &metrics, &error));
  g_assert_no_error (error);
  g_assert_true (isnan (metrics.novel_coverage));

  /* Only old rows in the set: New is undefined. */
  g_assert_true (veto_agcd_evaluate (predicted, truth, 5, 4, 4, old_classes, 2, NULL, 0,
                                     &metrics, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (metrics.acc_all, 0.6, 1e-12);
  g_assert_true (isnan (metrics.acc_new));

  g_assert_false (veto_agcd_evaluate (predicted, truth, 10, 3, 4, old_classes, 2, NULL, 0,
                                      &metrics, &error));
  g_assert_error (error, VETO_AGCD_ERROR, VETO_AGCD_ERROR_INVALID);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/agcd/hungarian/hand-solved", test_hungarian_hand);
  g_test_add_func ("/agcd/hungarian/greedy-fails", test_hungarian_greedy_fails);
  g_test_add_func ("/agcd/hungarian/degenerate", test_hungarian_degenerate);
  g_test_add_func ("/agcd/hungarian/brute-force", test_hungarian_brute_force);
  g_test_add_func ("/agcd/cluster/blobs", test_cluster_blobs);
  g_test_add_func ("/agcd/cluster/deterministic", test_cluster_deterministic);
  g_test_add_func ("/agcd/cluster/pinned", test_cluster_pinned);
  g_test_add_func ("/agcd/cluster/errors", test_cluster_errors);
  g_test_add_func ("/agcd/mapping/permutation", test_mapping_permutation);
  g_test_add_func ("/agcd/mapping/stable", test_mapping_stable);
  g_test_add_func ("/agcd/select/rule", test_select_rule);
  g_test_add_func ("/agcd/select/shortfall", test_select_shortfall);
  g_test_add_func ("/agcd/select/not-finite", test_select_not_finite);
  g_test_add_func ("/agcd/evaluate", test_evaluate);

  return g_test_run ();
}
