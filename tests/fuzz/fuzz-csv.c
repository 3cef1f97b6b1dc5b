/* fuzz-csv: libFuzzer target for the CSV manifest importer (paths resolved in a folder of real images). */
#include <errno.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "veto-image.h"
#include "veto-import.h"
#include "veto-store.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define N_CLASSES 10

static char *work_dir;
static char *project_path;
static char *data_dir;    /* the manifest's folder */
static char *input_path;  /* the manifest */
static GBytes *template;  /* the project file with 10 classes and no item */
static VetoStore *store;  /* open across inputs while it holds what the template holds */
static gboolean dirty;    /* an import succeeded: the project must be reset */

static void remove_work_dir (void);

G_GNUC_NORETURN static void
die (const char *what, const char *detail)
{
  static gboolean dying;

  fprintf (stderr, "fuzz-csv: invariant broken: %s%s%s\n", what, detail ? ": " : "",
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
  if (data_dir)
    {
      static const char *const names[] = {
        "a.png", "sub/b.png", "not-an-image.png", "link.png", "../outside.png", "sub", "",
      };

      for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        {
          g_autofree char *path = g_build_filename (data_dir, names[i], NULL);

          g_remove (path);
        }
    }
  g_rmdir (work_dir);
  g_clear_pointer (&template, g_bytes_unref);
  g_clear_pointer (&input_path, g_free);
  g_clear_pointer (&data_dir, g_free);
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
static gboolean
check_import (const char *source)
{
  VetoImportOptions options = { .format = VETO_FORMAT_CSV, .split = VETO_SPLIT_POOL };
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
      return TRUE;
    }
  if (after.items != before.items || count_classes () != classes_before)
    die ("a failed import changed the project", NULL);
  if (!veto_store_begin (store, &error))
    die ("a failed import left the project unable to begin a transaction", error->message);
  veto_store_rollback (store);
  return FALSE;
}

static void
save_png (const char *path, guint8 shade)
{
  g_autoptr (VetoImage) image = veto_image_new (2, 2, 3);
  g_autoptr (GError) error = NULL;

  for (gsize i = 0; i < veto_image_n_bytes (image); i++)
    image->data[i] = (guint8) (shade + 40 * i);
  if (!veto_image_save_png (image, path, &error))
    die ("cannot write a PNG", error->message);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  static const char manifest[] = "path,label,split\na.png,cat,pool\nsub/b.png,dog,test\n";
  const char *base = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : g_get_tmp_dir ();
  char *template_dir = g_build_filename (base, "veto-fuzz-csv-XXXXXX", NULL);
  g_autofree char *sub = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *not_image = NULL;
  g_autofree char *symlink_path = NULL;
  g_autofree char *outside = NULL;

  /* Keep GIO from loading GVfs modules: only local files are read. */
  g_setenv ("GIO_USE_VFS", "local", TRUE);
  work_dir = g_mkdtemp (template_dir);
  if (work_dir == NULL)
    die ("cannot make a temporary folder", g_strerror (errno));
  project_path = g_build_filename (work_dir, "project.veto", NULL);
  /* What a manifest's paths can meet: two images (one in a subfolder), a file that is not an
   * image, an image outside the folder and a symbolic link to it. */
  data_dir = g_build_filename (work_dir, "data", NULL);
  sub = g_build_filename (data_dir, "sub", NULL);
  if (g_mkdir_with_parents (sub, 0700) != 0)
    die ("cannot make a folder", g_strerror (errno));
  input_path = g_build_filename (data_dir, "manifest.csv", NULL);
  a = g_build_filename (data_dir, "a.png", NULL);
  b = g_build_filename (sub, "b.png", NULL);
  not_image = g_build_filename (data_dir, "not-an-image.png", NULL);
  symlink_path = g_build_filename (data_dir, "link.png", NULL);
  outside = g_build_filename (work_dir, "outside.png", NULL);
  atexit (remove_work_dir);
  save_png (a, 10);
  save_png (b, 20);
  save_png (outside, 30);
  write_file (not_image, "not a PNG\n", 10);
  if (symlink ("../outside.png", symlink_path) != 0)
    die ("cannot make a symbolic link", g_strerror (errno));
  make_template ();
  reset_project ();
  /* Once through the importer, so that GLib's one-time allocations are not charged to an input. */
  write_file (input_path, manifest, sizeof manifest - 1);
  check_import (input_path);
  reset_project ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  if (dirty)
    reset_project ();
  write_file (input_path, data, size);
  /* Importing it again meets every image as a duplicate already in the project. */
  if (check_import (input_path))
    check_import (input_path);
  return 0;
}
