/* Benchmark: how long the gallery's refresh holds the window's main loop on a project (reading items and answers, re-filtering and re-sorting every item), with nothing new and after answers. */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>

#include "veto-gallery.h"

#define REPEATS 5
#define ANSWERS_BETWEEN 20

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

/* Milliseconds one veto_gallery_refresh () takes. */
static double
timed_refresh (VetoGallery *gallery)
{
  gint64 start = g_get_monotonic_time ();

  veto_gallery_refresh (gallery);
  return (g_get_monotonic_time () - start) / 1000.0;
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
  double first, later[REPEATS];

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
  options.retrain_every = 100000;
  engine = veto_engine_new (copy, &options, &error);
  if (engine == NULL)
    {
      fprintf (stderr, "bench-gallery: %s\n", error->message);
      return 1;
    }
  window = adw_window_new ();
  gallery = veto_gallery_new (engine);
  adw_window_set_content (ADW_WINDOW (window), gallery);
  gtk_window_set_default_size (GTK_WINDOW (window), 1280, 800);
  gtk_window_present (GTK_WINDOW (window));
  while (!gtk_widget_get_mapped (gallery))
    g_main_context_iteration (NULL, TRUE);
  drain_main_loop ();
  /* What the window shows first was read when it was mapped; the timed refreshes re-read
   * everything and change what the answers changed. */
  first = timed_refresh (VETO_GALLERY (gallery));
  for (guint r = 0; r < REPEATS; r++)
    {
      for (guint a = 0; a < ANSWERS_BETWEEN; a++)
        {
          const VetoQuestion *q = veto_engine_current (engine);
          gint64 id;

          if (q == NULL || q->n_candidates == 0
              || !veto_engine_answer (engine, q->candidates[0], VETO_PREFER_LEFT, &id,
                                      &error))
            {
              fprintf (stderr, "bench-gallery: no question to answer%s%s\n",
                       error ? ": " : "", error ? error->message : "");
              return 1;
            }
        }
      drain_main_loop ();
      later[r] = timed_refresh (VETO_GALLERY (gallery));
    }
  qsort (later, REPEATS, sizeof (double), compare_doubles);
  printf ("gallery refresh on the main loop: %.1f ms with nothing new; after %d answers: median "
          "%.1f ms (min %.1f, max %.1f, %d runs)\n",
          first, ANSWERS_BETWEEN, later[REPEATS / 2], later[0], later[REPEATS - 1], REPEATS);
  gtk_window_destroy (GTK_WINDOW (window));
  veto_engine_shutdown (engine);
  g_unlink (copy);
  g_rmdir (dir);
  return 0;
}
