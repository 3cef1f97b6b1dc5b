/* Benchmark: one active-learning round at 1,000 labels on a project's pool (retrain, rescore
 * every pool item, pick a margin batch of 100), through the same code as veto simulate: from
 * scratch, and as in the loop, starting from the round before (900 labels). */
#include <glib/gstdio.h>
#include <sys/resource.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "veto-sim.h"

#define N_LABELS 1000
#define BATCH 100
#define REPEATS 5

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
median (double *v, guint n)
{
  qsort (v, n, sizeof (double), compare_doubles);
  return v[n / 2];
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) source = NULL;
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (VetoDataset) ds = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *copy = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (1);
  g_autofree gboolean *labeled = NULL;
  g_autofree float *x_pool_copy = NULL;
  g_autoptr (VetoModel) previous = NULL;
  const float *x_pool;
  const char *features;
  struct rusage usage;
  g_autofree float *probs = NULL;
  FILE *indices_out;
  const guint *pool;
  guint n_pool, d, k;
  gint64 annotator;
  double t_train[2][REPEATS], t_score[2][REPEATS], t_select[2][REPEATS], t_total[2][REPEATS];
  gboolean consecutive = TRUE;

  if (argc != 3 && argc != 4)
    {
      fprintf (stderr, "usage: bench-round PROJECT INDICES-OUT [FEATURES]   (default pixels)\n");
      return 2;
    }
  features = argc == 4 ? argv[3] : "pixels";
  source = veto_store_open (argv[1], TRUE, &error);
  dir = g_dir_make_tmp ("veto-bench-XXXXXX", NULL);
  copy = g_build_filename (dir, "bench.veto", NULL);
  if (source == NULL || !veto_store_copy_to (source, copy, &error)
      || !(store = veto_store_open (copy, FALSE, &error))
      || !(ds = veto_dataset_load (store, features, TRUE, NULL, NULL, NULL, &error))
      || !veto_store_ensure_annotator (store, "bench", VETO_ANNOTATOR_SIMULATED, &annotator,
                                       &error))
    {
      fprintf (stderr, "bench-round: %s\n", error->message);
      return 1;
    }
  pool = veto_dataset_get_split (ds, VETO_SPLIT_POOL, &n_pool);
  d = veto_dataset_get_dim (ds);
  k = veto_dataset_get_n_classes (ds);
  labeled = g_new0 (gboolean, n_pool);
  indices_out = fopen (argv[2], "w");
  /* The same 1,000 random labels for Veto and for the scikit-learn loop; the round before had
   * the first 900. */
  veto_store_begin (store, NULL);
  for (guint got = 0; got < N_LABELS;)
    {
      if (got == N_LABELS - BATCH)
        {
          VetoTrainSpec spec;

          veto_store_commit (store, NULL);
          veto_train_spec_init (&spec);
          spec.supervision = VETO_SUPERVISION_ANSWERS;
          spec.annotator = "bench";
          previous = veto_sim_train (store, ds, &spec, NULL, NULL, &error);
          if (previous == NULL)
            {
              fprintf (stderr, "bench-round: %s\n", error->message);
              return 1;
            }
          veto_store_begin (store, NULL);
        }
      guint i = g_rand_int_range (rand, 0, n_pool);
      VetoAnswer answer = { .kind = VETO_KIND_ORDINARY, .annotator = annotator, .score = NAN };

      if (labeled[i])
        continue;
      labeled[i] = TRUE;
      answer.item = veto_dataset_item_of_row (ds, pool[i]);
      answer.answer_class = veto_dataset_class_id (ds, veto_dataset_get_gold (ds, pool[i]));
      veto_store_add_annotation (store, &answer, NULL, NULL);
      fprintf (indices_out, "%u\n", i);
      got++;
    }
  fclose (indices_out);
  veto_store_commit (store, NULL);
  /* A big pool's rows are used where they are (a memory-mapped .npy is never copied). */
  for (guint i = 1; i < n_pool && consecutive; i++)
    consecutive = pool[i] == pool[0] + i;
  if (consecutive)
    x_pool = veto_dataset_get_features (ds) + (gsize) pool[0] * d;
  else
    {
      x_pool_copy = g_new (float, (gsize) n_pool * d);
      for (guint i = 0; i < n_pool; i++)
        memcpy (x_pool_copy + (gsize) i * d, veto_dataset_get_features (ds) + (gsize) pool[i] * d,
                d * sizeof (float));
      x_pool = x_pool_copy;
    }
  probs = g_new (float, (gsize) n_pool * k);

  for (guint r = 0; r < 2 * REPEATS; r++)
    {
      guint warm = r / REPEATS, rep = r % REPEATS;
      VetoTrainSpec spec;
      g_autoptr (VetoModel) model = NULL;
      g_autofree float *free_probs = g_new (float, (gsize) n_pool * k);
      guint chosen[BATCH], n_free = 0;
      VetoActivePool active = { 0 };
      gint64 t0, t1, t2, t3;

      veto_train_spec_init (&spec);
      spec.supervision = VETO_SUPERVISION_ANSWERS;
      spec.annotator = "bench";
      spec.seed = rep + 1;
      if (warm)
        spec.warm_start = previous;
      t0 = g_get_monotonic_time ();
      model = veto_sim_train (store, ds, &spec, NULL, NULL, &error);
      t1 = g_get_monotonic_time ();
      veto_model_predict_proba (model, x_pool, n_pool, d, probs);
      t2 = g_get_monotonic_time ();
      for (guint i = 0; i < n_pool; i++)
        if (!labeled[i])
          memcpy (free_probs + (gsize) n_free++ * k, probs + (gsize) i * k, k * sizeof (float));
      active = (VetoActivePool) { .n = n_free, .probs = free_probs, .n_classes = k };
      if (!veto_active_select (VETO_ACTIVE_MARGIN, &active, BATCH, NULL, chosen, NULL, &error))
        {
          fprintf (stderr, "bench-round: %s\n", error->message);
          return 1;
        }
      t3 = g_get_monotonic_time ();
      t_train[warm][rep] = (t1 - t0) / 1e3;
      t_score[warm][rep] = (t2 - t1) / 1e3;
      t_select[warm][rep] = (t3 - t2) / 1e3;
      t_total[warm][rep] = (t3 - t0) / 1e3;
    }
  for (guint warm = 0; warm < 2; warm++)
    printf ("veto round at %u labels%s (median of %u): retrain %.1f ms, rescore %u items %.1f ms, "
            "select %u by margin %.1f ms, total %.1f ms\n", N_LABELS,
            warm ? ", warm-started from the round before" : "", REPEATS,
            median (t_train[warm], REPEATS), n_pool, median (t_score[warm], REPEATS), BATCH,
            median (t_select[warm], REPEATS), median (t_total[warm], REPEATS));
  getrusage (RUSAGE_SELF, &usage);
  printf ("features %s: %u x %u float32 (%.0f MB); peak resident memory %.0f MB\n", features,
          veto_dataset_get_n (ds), d, (double) veto_dataset_get_n (ds) * d * 4 / 1e6,
          usage.ru_maxrss / 1e3);
  g_clear_pointer (&store, veto_store_close);
  {
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", dir);

    if (system (cmd) != 0)
      fprintf (stderr, "bench-round: could not remove %s\n", dir);
  }
  return 0;
}
