/* fuzz-cifar: libFuzzer target for the CIFAR-10 and CIFAR-100 (fine and coarse) binary importers. */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "veto-import.h"
#include "veto-store.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define N_CLASSES 10

static char *work_dir;
static char *project_path;
static char *input_path;
static GBytes *template;  /* the project file with 10 classes and no item */
static VetoStore *store;  /* open across inputs while it holds what the template holds */
static gboolean dirty;    /* an import succeeded: the project must be reset */

static void remove_work_dir (void);

G_GNUC_NORETURN static void
die (const char *what, const char *detail)
{
  static gboolean dying;

  fprintf (stderr, "fuzz-cifar: invariant broken: %s%s%s\n", what, detail ? ": " : "",
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
write_file (const char *path, const void *data, gsize size)
{
  g_autoptr (GError) error = NULL;

  if (!g_file_set_contents (path, data, size, &error))
    die ("cannot write a work file", error->message);
}

static void
remove_project (void)
{
  g_autofree char *wal = g_strconcat (project_path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (project_path, "-shm", NULL);

  g_clear_pointer (&store, veto_store_close);
  g_unlink (project_path);
  g_unlink (wal);
  g_unlink (shm);
}

static void
remove_work_dir (void)
{
  if (work_dir == NULL)
    return;
  remove_project ();
  g_unlink (input_path);
  g_rmdir (work_dir);
  g_clear_pointer (&template, g_bytes_unref);
  g_clear_pointer (&input_path, g_free);
  g_clear_pointer (&project_path, g_free);
  g_clear_pointer (&work_dir, g_free);
}

/* Every input starts from the same project: copying the template back is much cheaper than
 * creating the schema again, and only needed after an import that succeeded. */
static void
reset_project (void)
{
  g_autoptr (GError) error = NULL;

  remove_project ();
  write_file (project_path, g_bytes_get_data (template, NULL), g_bytes_get_size (template));
  store = veto_store_open (project_path, FALSE, &error);
  if (store == NULL)
    die ("cannot open the project", error->message);
  dirty = FALSE;
}

static void
make_template (void)
{
  g_autoptr (GError) error = NULL;
  char *contents;
  gsize length;

  remove_project ();
  store = veto_store_create (project_path, &error);
  if (store == NULL || !veto_store_begin (store, &error))
    die ("cannot create the project", error->message);
  for (guint i = 0; i < N_CLASSES; i++)
    {
      g_autofree char *name = g_strdup_printf ("class-%u", i);
      gint64 id;

      if (!veto_store_ensure_class (store, name, &id, NULL, &error))
        die ("cannot add a class", error->message);
    }
  if (!veto_store_commit (store, &error))
    die ("cannot commit the classes", error->message);
  /* Closing the last connection folds the WAL into the file. */
  g_clear_pointer (&store, veto_store_close);
  if (!g_file_get_contents (project_path, &contents, &length, &error))
    die ("cannot read the project back", error->message);
  template = g_bytes_new_take (contents, length);
}

static guint
count_classes (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) classes = veto_store_list_classes (store, &error);

  if (classes == NULL)
    die ("cannot list the classes", error->message);
  return classes->len;
}

/* The import is one transaction: a failure leaves the project as it was (and usable), a success
 * adds exactly result.added items. */
static void
check_import (const char *source, VetoImportFormat format, gboolean coarse)
{
  VetoImportOptions options = { .format = format, .split = VETO_SPLIT_TEST,
                                .cifar100_coarse = coarse };
  VetoImportResult result = { 0 };
  VetoStoreSummary before, after;
  g_autoptr (GError) error = NULL;
  guint classes_before;
  gboolean ok;

  if (!veto_store_summarize (store, &before, &error))
    die ("cannot summarize the project", error->message);
  classes_before = count_classes ();
  ok = veto_import (store, source, &options, &result, &error);
  if (!ok && error == NULL)
    die ("veto_import failed without setting an error", NULL);
  if (ok && error != NULL)
    die ("veto_import succeeded but set an error", error->message);
  g_clear_error (&error);
  if (!veto_store_summarize (store, &after, &error))
    die ("cannot summarize the project after the import", error->message);
  if (ok)
    {
      dirty = TRUE;
      if (after.items != before.items + result.added)
        die ("a successful import added another number of items than result.added", NULL);
      if (after.per_split[VETO_SPLIT_TEST] != before.per_split[VETO_SPLIT_TEST] + result.added)
        die ("a successful import put items outside the split asked for", NULL);
      return;
    }
  if (after.items != before.items || count_classes () != classes_before)
    die ("a failed import changed the project", NULL);
  if (!veto_store_begin (store, &error))
    die ("a failed import left the project unable to begin a transaction", error->message);
  veto_store_rollback (store);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  const char *base = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : g_get_tmp_dir ();
  char *template_dir = g_build_filename (base, "veto-fuzz-cifar-XXXXXX", NULL);
  /* One CIFAR-10 record (label 3) and one CIFAR-100 record (coarse 1, fine 7). */
  g_autofree guint8 *record = g_malloc0 (2 + 3 * 32 * 32);

  /* Keep GIO from loading GVfs modules: only local files are read. */
  g_setenv ("GIO_USE_VFS", "local", TRUE);
  work_dir = g_mkdtemp (template_dir);
  if (work_dir == NULL)
    die ("cannot make a temporary folder", g_strerror (errno));
  project_path = g_build_filename (work_dir, "project.veto", NULL);
  /* Named like no CIFAR file, so that only the forced format decides. */
  input_path = g_build_filename (work_dir, "input.bin", NULL);
  atexit (remove_work_dir);
  make_template ();
  reset_project ();
  /* Once through the importer, so that GLib's one-time allocations are not charged to an input. */
  record[0] = 3;
  write_file (input_path, record, 1 + 3 * 32 * 32);
  check_import (input_path, VETO_FORMAT_CIFAR10, FALSE);
  record[0] = 1;
  record[1] = 7;
  write_file (input_path, record, 2 + 3 * 32 * 32);
  check_import (input_path, VETO_FORMAT_CIFAR100, FALSE);
  check_import (input_path, VETO_FORMAT_CIFAR100, TRUE);
  reset_project ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (dirty)
    reset_project ();
  write_file (input_path, data, size);
  check_import (input_path, VETO_FORMAT_CIFAR10, FALSE);
  check_import (input_path, VETO_FORMAT_CIFAR100, FALSE);
  check_import (input_path, VETO_FORMAT_CIFAR100, TRUE);
  return 0;
}
