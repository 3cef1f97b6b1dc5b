/* fuzz-matrix: libFuzzer target for the transition-matrix reader (train --q FILE), through a temp file. */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "veto-import.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The reader's own limits (veto-import.c): a larger K is refused. */
#define MAX_K 1000

static char *work_dir;
static char *input_path;

static void remove_work_dir (void);

G_GNUC_NORETURN static void
die (const char *what, const char *detail)
{
  static gboolean dying;

  fprintf (stderr, "fuzz-matrix: invariant broken: %s%s%s\n", what, detail ? ": " : "",
           detail ? detail : "");
  /* abort () skips atexit: clean up here (the input is saved by libFuzzer, not in there). */
  if (!dying)
    {
      dying = TRUE;
      remove_work_dir ();
    }
  abort ();
}

static void
remove_work_dir (void)
{
  if (work_dir == NULL)
    return;
  g_unlink (input_path);
  g_rmdir (work_dir);
  g_clear_pointer (&input_path, g_free);
  g_clear_pointer (&work_dir, g_free);
}

/* A matrix handed to a loss must be a row-stochastic K×K matrix: every entry finite and
 * non-negative, every row summing to 1. */
static void
check_matrix (const double *q, guint k)
{
  if (k < 2 || k > MAX_K)
    die ("a matrix of a size the reader promises to refuse", NULL);
  for (guint r = 0; r < k; r++)
    {
      double sum = 0;

      for (guint c = 0; c < k; c++)
        {
          double v = q[(gsize) r * k + c];

          if (!isfinite (v) || v < 0)
            die ("an entry that is not a finite non-negative number", NULL);
          sum += v;
        }
      if (fabs (sum - 1.0) > 1e-9)
        {
          g_autofree char *detail = g_strdup_printf ("row %u sums to %.17g", r + 1, sum);

          die ("a row that does not sum to 1", detail);
        }
    }
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  const char *base = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : g_get_tmp_dir ();
  char *template_dir = g_build_filename (base, "veto-fuzz-matrix-XXXXXX", NULL);

  work_dir = g_mkdtemp (template_dir);
  if (work_dir == NULL)
    die ("cannot make a temporary folder", g_strerror (errno));
  input_path = g_build_filename (work_dir, "transition-matrix.txt", NULL);
  atexit (remove_work_dir);
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autofree double *q = NULL;
  guint k = 0;

  if (!g_file_set_contents (input_path, (const char *) data, size, &error))
    die ("cannot write the input file", error->message);
  q = veto_import_read_transition (input_path, &k, &error);
  if (q == NULL)
    {
      if (error == NULL)
        die ("veto_import_read_transition failed without setting an error", NULL);
      /* Every refusal names the file, so that a user knows which argument was wrong. */
      if (strstr (error->message, input_path) == NULL)
        die ("an error that does not name the file", error->message);
      return 0;
    }
  if (error != NULL)
    die ("veto_import_read_transition succeeded but set an error", error->message);
  check_matrix (q, k);
  return 0;
}
