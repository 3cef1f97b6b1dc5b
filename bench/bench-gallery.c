/* Benchmark: how long the gallery's refresh holds the window's main loop on a project (reading items and answers, re-filtering and re-sorting every item), with nothing new, after answers and after a new model: the longest single hold, and the time until the refreshed items are shown. */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>

#include "veto-gallery.h"

#define REPEATS 5
#define ANSWERS_BETWEEN 20
#define ROUND_TIMEOUT_MS 600000

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* Runs what the main loop has ready (the engine's signals, drawing), without waiting. */
static void
drain_main_loop (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Whether the gallery's reading still runs; FALSE for a gallery that reads on the main loop
 * (no "refreshing" property), so that the bench runs on the code before it too. */
static gboolean
reading (VetoGallery *gallery)
{
  gboolean refreshing = FALSE;

  if (g_object_class_find_property (G_OBJECT_GET_CLASS (gallery), "refreshing") != NULL)
    g_object_get (gallery, "refreshing", &refreshing, NULL);
  return refreshing;
}

/* Whether the gallery still has a reading to apply or items to filter or sort. */
static gboolean
busy (VetoGallery *gallery)
{
  GListModel *sorted = veto_gallery_get_items (gallery);
  GtkFilterListModel *filtered = GTK_FILTER_LIST_MODEL (
      gtk_sort_list_model_get_model (GTK_SORT_LIST_MODEL (sorted)));

  return reading (gallery) || gtk_filter_list_model_get_pending (filtered) > 0
         || gtk_sort_list_model_get_pending (GTK_SORT_LIST_MODEL (sorted)) > 0;
}

/* One refresh, run to its end: the longest the main loop was held at once (the call itself
 * or one dispatch after it: the reading applied, a batch of filtering or sorting, a frame)
 * and the milliseconds until the items shown are the refreshed ones. */
static void
timed_refresh (VetoGallery *gallery, double *out_hold, double *out_total)
{
  gint64 start = g_get_monotonic_time (), before;
  double hold;

  veto_gallery_refresh (gallery);
  hold = (g_get_monotonic_time () - start) / 1000.0;
  while (busy (gallery))
    {
      before = g_get_monotonic_time ();
      g_main_context_iteration (NULL, FALSE);
      hold = MAX (hold, (g_get_monotonic_time () - before) / 1000.0);
    }
  *out_hold = hold;
  *out_total = (g_get_monotonic_time () - start) / 1000.0;
}

/* Answers n questions with their first candidate. */
static gboolean
answer (VetoEngine *engine, guint n)
{
  g_autoptr (GError) error = NULL;

  for (guint a = 0; a < n; a++)
    {
      const VetoQuestion *q = veto_engine_current (engine);
      gint64 id;

      if (q == NULL || q->n_candidates == 0
          || !veto_engine_answer (engine, q->candidates[0], VETO_PREFER_LEFT, &id, &error))
        {
          fprintf (stderr, "bench-gallery: no question to answer%s%s\n", error ? ": " : "",
                   error ? error->message : "");
          return FALSE;
        }
    }
  return TRUE;
}

static void
print_times (const char *what, double *hold, double *total)
{
  qsort (hold, REPEATS, sizeof (double), compare_doubles);
  qsort (total, REPEATS, sizeof (double), compare_doubles);
  printf ("%s: the longest hold of the main loop median %.1f ms (min %.1f, max %.1f); shown "
          "after median %.1f ms (min %.1f, max %.1f); %d runs\n",
          what, hold[REPEATS / 2], hold[0], hold[REPEATS - 1], total[REPEATS / 2], total[0],
          total[REPEATS - 1], REPEATS);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) source = NULL;
  g_autoptr (VetoEngine) engine = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *copy = NULL;
  VetoEngineOptions options;
  GtkWidget *window, *gallery;
  gint64 start;
  double load_hold, load_total, first_hold, first_total, hold[REPEATS], total[REPEATS], model_hold[REPEATS],
      model_total[REPEATS];

  if (argc != 2)
    {
      fprintf (stderr, "usage: bench-gallery PROJECT   (under a display: xvfb-run)\n");
      return 2;
    }
  gtk_init ();
  adw_init ();
  source = veto_store_open (argv[1], TRUE, &error);
  dir = g_dir_make_tmp ("veto-bench-XXXXXX", NULL);
  copy = g_build_filename (dir, "bench.veto", NULL);
  if (source == NULL || !veto_store_copy_to (source, copy, &error))
    {
      fprintf (stderr, "bench-gallery: %s\n", error->message);
      return 1;
    }
  veto_engine_options_init (&options);
  options.annotator = "bench";
  /* a new model every second batch of answers */
  options.retrain_every = 2 * ANSWERS_BETWEEN;
  engine = veto_engine_new (copy, &options, &error);
  if (engine == NULL)
    {
      fprintf (stderr, "bench-gallery: %s\n", error->message);
      return 1;
    }
  window = adw_window_new ();
  /* the first load: the gallery made, shown and its first reading applied */
  start = g_get_monotonic_time ();
  gallery = veto_gallery_new (engine);
  adw_window_set_content (ADW_WINDOW (window), gallery);
  gtk_window_set_default_size (GTK_WINDOW (window), 1280, 800);
  gtk_window_present (GTK_WINDOW (window));
  load_hold = (g_get_monotonic_time () - start) / 1000.0;
  while (!gtk_widget_get_mapped (gallery) || busy (VETO_GALLERY (gallery)))
    {
      gint64 before = g_get_monotonic_time ();

      g_main_context_iteration (NULL, FALSE);
      load_hold = MAX (load_hold, (g_get_monotonic_time () - before) / 1000.0);
    }
  load_total = (g_get_monotonic_time () - start) / 1000.0;
  /* the gallery refreshes when the bench says, not on the engine's signals */
  g_signal_handlers_disconnect_matched (engine, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, gallery);
  drain_main_loop ();
  /* What the window shows first was read when it was mapped; the timed refreshes re-read
   * everything and change what the answers changed. */
  timed_refresh (VETO_GALLERY (gallery), &first_hold, &first_total);
  for (guint r = 0; r < REPEATS; r++)
    {
      /* answers alone: no round starts before the second batch */
      if (!answer (engine, ANSWERS_BETWEEN))
        return 1;
      drain_main_loop ();
      timed_refresh (VETO_GALLERY (gallery), &hold[r], &total[r]);
      /* then a new model, whose scores re-sort the items */
      if (!answer (engine, ANSWERS_BETWEEN))
        return 1;
      if (!veto_engine_wait_for_round (engine, ROUND_TIMEOUT_MS))
        {
          fprintf (stderr, "bench-gallery: no new model within %d s\n", ROUND_TIMEOUT_MS / 1000);
          return 1;
        }
      drain_main_loop ();
      timed_refresh (VETO_GALLERY (gallery), &model_hold[r], &model_total[r]);
    }
  printf ("the first load (the window made and shown, the first reading applied): the longest "
          "hold of the main loop %.1f ms; shown after %.1f ms\n",
          load_hold, load_total);
  printf ("gallery refresh with nothing new: the longest hold of the main loop %.1f ms; shown "
          "after %.1f ms\n",
          first_hold, first_total);
  print_times ("after " G_STRINGIFY (ANSWERS_BETWEEN) " answers", hold, total);
  print_times ("after a new model", model_hold, model_total);
  gtk_window_destroy (GTK_WINDOW (window));
  veto_engine_shutdown (engine);
  g_unlink (copy);
  g_rmdir (dir);
  return 0;
}
