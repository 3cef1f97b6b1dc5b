/* veto-cli: what every subcommand shares: exit codes, error lines, terminal progress. */
#include "veto-cli.h"

#include <stdio.h>
#include <unistd.h>

#include "veto-image.h"
#include "veto-store.h"

int
veto_cli_fail (const GError *error)
{
  g_printerr ("veto: %s\n", error->message);
  if (error->domain == VETO_STORE_ERROR && error->code != VETO_STORE_ERROR_INVALID)
    return VETO_EXIT_PROJECT;
  /* A file item whose file is not the one imported: the project's row cannot be trusted. */
  if (g_error_matches (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_MISMATCH))
    return VETO_EXIT_PROJECT;
  if (error->domain == G_OPTION_ERROR)
    return VETO_EXIT_USAGE;
  return VETO_EXIT_FAILED;
}

int
veto_cli_usage (GOptionContext *context, const char *problem)
{
  g_printerr ("veto: %s\n", problem);
  g_printerr ("Try '%s --help' for more information.\n", g_get_prgname ());
  return VETO_EXIT_USAGE;
}

gboolean
veto_cli_parse (GOptionContext *context, int *argc, char ***argv, int *out_status)
{
  g_autoptr (GError) error = NULL;

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      *out_status = veto_cli_usage (context, error->message);
      return FALSE;
    }
  return TRUE;
}

struct _VetoCliProgress
{
  char *label;
  gboolean tty;
  gboolean shown;
  gint64 started_us;
};

VetoCliProgress *
veto_cli_progress_new (const char *label)
{
  VetoCliProgress *progress = g_new0 (VetoCliProgress, 1);

  progress->label = g_strdup (label);
  progress->tty = isatty (STDERR_FILENO);
  progress->started_us = g_get_monotonic_time ();
  return progress;
}

/* "12 s", "3 min 05 s", "1 h 02 min". */
static char *
format_duration (double seconds)
{
  guint64 s = (guint64) (seconds + 0.5);

  if (s < 60)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " s", s);
  if (s < 3600)
    return g_strdup_printf ("%" G_GUINT64_FORMAT " min %02" G_GUINT64_FORMAT " s", s / 60,
                            s % 60);
  return g_strdup_printf ("%" G_GUINT64_FORMAT " h %02" G_GUINT64_FORMAT " min", s / 3600,
                          s / 60 % 60);
}

void
veto_cli_progress_update (gpointer user_data, guint64 done, guint64 total)
{
  VetoCliProgress *progress = user_data;
  double elapsed = (g_get_monotonic_time () - progress->started_us) / 1e6;
  guint width = 30, filled;
  g_autofree char *left = NULL;
  double rate;

  /* Only for work that takes more than a second, and only where someone is watching. */
  if (!progress->tty || total == 0 || (elapsed < 1.0 && !progress->shown))
    return;
  done = MIN (done, total);
  filled = (guint) (width * done / total);
  rate = elapsed > 0 ? done / elapsed : 0;
  left = done >= total ? g_strdup_printf ("%.1f s", elapsed)
         : rate > 0    ? g_strdup_printf ("%s left", format_duration ((total - done) / rate))
                       : g_strdup ("");
  fprintf (stderr, "\r%s [", progress->label);
  for (guint i = 0; i < width; i++)
    fputc (i < filled ? '#' : '.', stderr);
  fprintf (stderr, "] %3u%%  %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "  %.0f/s  %s\033[K",
           (guint) (100 * done / total), done, total, rate, left);
  fflush (stderr);
  progress->shown = TRUE;
}

void
veto_cli_progress_update_count (gpointer progress, guint done, guint total)
{
  veto_cli_progress_update (progress, done, total);
}

void
veto_cli_progress_free (VetoCliProgress *progress)
{
  if (progress == NULL)
    return;
  if (progress->shown)
    fputc ('\n', stderr);
  g_free (progress->label);
  g_free (progress);
}
