/* Benchmark: rescoring a 60,000-item pool with veto_model_predict_proba against the machine's sgemm. */
#include <cblas.h>
#include <glib.h>
#include <stdio.h>

#include "veto-model.h"

#define N_POOL 60000
#define DIM 784
#define K 10
#define REPEATS 5

static double
best_of (void (*run) (gpointer), gpointer data)
{
  double best = G_MAXDOUBLE;

  for (guint r = 0; r < REPEATS; r++)
    {
      gint64 t0 = g_get_monotonic_time ();

      run (data);
      best = MIN (best, (g_get_monotonic_time () - t0) / 1e6);
    }
  return best;
}

typedef struct
{
  const float *x;
  const float *w;
  float *out;
  guint m, n, k;
  VetoModel *model;
} Job;

static void
run_sgemm (gpointer data)
{
  Job *j = data;

  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, j->m, j->n, j->k, 1.0f, j->x, j->k,
               j->w, j->n, 0.0f, j->out, j->n);
}

static float stream_sink;

/* Reading X once: the memory side of the roofline for a shape this thin (K = 10). */
static void
run_stream (gpointer data)
{
  Job *j = data;

  stream_sink += cblas_sasum ((blasint) ((gsize) j->m * j->k), j->x, 1);
}

static void
run_predict (gpointer data)
{
  Job *j = data;

  veto_model_predict_proba (j->model, j->x, j->m, j->k, j->out);
}

int
main (int argc, char **argv)
{
  const guint big = 2048;
  g_autofree float *x = g_new (float, (gsize) N_POOL * DIM);
  g_autofree float *w = g_new (float, (gsize) DIM * K);
  g_autofree float *out = g_new (float, (gsize) N_POOL * K);
  g_autofree float *a = g_new (float, (gsize) big * big);
  g_autofree float *c = g_new (float, (gsize) big * big);
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autoptr (VetoModel) model = veto_model_new (VETO_MODEL_KIND_SOFTMAX, DIM, K, 0, 0);
  Job peak = { a, a, c, big, big, big, NULL };
  Job same = { x, w, out, N_POOL, K, DIM, NULL };
  Job predict = { x, NULL, out, N_POOL, K, DIM, model };
  double t_peak, t_same, t_predict, t_stream, gflop_peak, gflop_same, roofline;

  for (gsize i = 0; i < (gsize) N_POOL * DIM; i++)
    x[i] = (float) g_rand_double_range (rand, -1, 1);
  for (gsize i = 0; i < (gsize) DIM * K; i++)
    w[i] = (float) g_rand_double_range (rand, -0.1, 0.1);
  for (gsize i = 0; i < (gsize) big * big; i++)
    a[i] = (float) g_rand_double_range (rand, -1, 1);
  veto_model_init_weights (model, 1);

  t_peak = best_of (run_sgemm, &peak);
  t_same = best_of (run_sgemm, &same);
  t_predict = best_of (run_predict, &predict);
  t_stream = best_of (run_stream, &same);
  gflop_peak = 2.0 * big * big * big / 1e9;
  gflop_same = 2.0 * N_POOL * DIM * K / 1e9;
  printf ("sgemm %ux%ux%u (the machine's roofline): %.3f s, %.1f GFLOP/s\n", big, big, big,
          t_peak, gflop_peak / t_peak);
  printf ("sgemm %ux%ux%u (the pool's shape):        %.4f s, %.1f GFLOP/s\n", N_POOL, DIM, K,
          t_same, gflop_same / t_same);
  printf ("veto_model_predict_proba, %u x %u, K=%u:  %.4f s, %.1f GFLOP/s\n", N_POOL, DIM, K,
          t_predict, gflop_same / t_predict);
  printf ("rescore / bare sgemm of the same shape: %.2fx\n", t_predict / t_same);
  roofline = MAX (gflop_same / (gflop_peak / t_peak), t_stream);
  printf ("reading X once (%.0f MB): %.4f s, %.1f GB/s\n", N_POOL * DIM * 4 / 1e6, t_stream,
          N_POOL * DIM * 4 / 1e9 / t_stream);
  printf ("roofline = max (compute at peak %.4f s, one pass over X %.4f s) = %.4f s\n",
          gflop_same / (gflop_peak / t_peak), t_stream, roofline);
  printf ("rescore / roofline: %.2fx\n", t_predict / roofline);
  return 0;
}
