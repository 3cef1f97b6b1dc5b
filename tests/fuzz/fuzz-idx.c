/* fuzz-idx: libFuzzer target for the IDX importer, the input read as an images file and as a labels file. */
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
/* The fixed files the input is paired with: 3 images of 2 x 2 and their 3 labels. */
#define FIXED_COUNT 3

static char *work_dir;
static char *project_path;
static char *input_path;
static char *fixed_images_path;
static char *fixed_labels_path;
static GBytes *template;  /* the project file with 10 classes and no item */
static VetoStore *store;  /* open across inputs while it holds what the template holds */
static gboolean dirty;    /* an import succeeded: the project must be reset */

static void remove_work_dir (void);

G_GNUC_NORETURN static void
die (const char *what, const char *detail)
{
  static gboolean dying;

  fprintf (stderr, "fuzz-idx: invariant broken: %s%s%s\n", what, detail ? ": " : "",
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
  g_unlink (fixed_images_path);
  g_unlink (fixed_labels_path);
  g_rmdir (work_dir);
  g_clear_pointer (&template, g_bytes_unref);
  g_clear_pointer (&input_path, g_free);
  g_clear_pointer (&fixed_images_path, g_free);
  g_clear_pointer (&fixed_labels_path, g_free);
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
check_import (const char *source, const char *labels)
{
  VetoImportOptions options = { .format = VETO_FORMAT_IDX, .split = VETO_SPLIT_TEST,
                                .labels_path = labels };
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
  /* Big-endian IDX: magic 0x00000803 (3 dims), count, rows, cols; then the pixels. */
  static const guint8 images[] = {
    0, 0, 8, 3, 0, 0, 0, FIXED_COUNT, 0, 0, 0, 2, 0, 0, 0, 2,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
  };
  static const guint8 labels[] = { 0, 0, 8, 1, 0, 0, 0, FIXED_COUNT, 0, 9, 4 };
  const char *base = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : g_get_tmp_dir ();
  char *template_dir = g_build_filename (base, "veto-fuzz-idx-XXXXXX", NULL);

  /* Keep GIO from loading GVfs modules: only local files are read. */
  g_setenv ("GIO_USE_VFS", "local", TRUE);
  work_dir = g_mkdtemp (template_dir);
  if (work_dir == NULL)
    die ("cannot make a temporary folder", g_strerror (errno));
  project_path = g_build_filename (work_dir, "project.veto", NULL);
  input_path = g_build_filename (work_dir, "input-idx-ubyte", NULL);
  fixed_images_path = g_build_filename (work_dir, "fixed-images-idx3-ubyte", NULL);
  fixed_labels_path = g_build_filename (work_dir, "fixed-labels-idx1-ubyte", NULL);
  write_file (fixed_images_path, images, sizeof images);
  write_file (fixed_labels_path, labels, sizeof labels);
  atexit (remove_work_dir);
  make_template ();
  reset_project ();
  /* Once through the importer, so that GLib's one-time allocations are not charged to an input. */
  check_import (fixed_images_path, fixed_labels_path);
  reset_project ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (dirty)
    reset_project ();
  write_file (input_path, data, size);
  /* The input as the images file, alone and with the fixed labels... */
  check_import (input_path, NULL);
  check_import (input_path, fixed_labels_path);
  /* ...and as the labels file of the fixed images. */
  check_import (fixed_images_path, input_path);
  return 0;
}
