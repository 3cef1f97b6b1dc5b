/* fuzz-project: what the importer fuzz targets share: a work folder, a template project, and the
 * import invariants every input is checked against. */
#include "fuzz-project.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define N_CLASSES 10

static const char *target_name;
static char *work_dir;
static char *project_path;
static GBytes *template;  /* the project file with 10 classes and no item */
static VetoStore *store;  /* open across inputs while it holds what the template holds */
static gboolean dirty;    /* an import succeeded: the project must be reset */

static void
remove_work_dir (void)
{
  if (work_dir == NULL)
    return;
  g_clear_pointer (&store, veto_store_close);
  veto_test_remove_tree (work_dir);
  g_clear_pointer (&template, g_bytes_unref);
  g_clear_pointer (&project_path, g_free);
  g_clear_pointer (&work_dir, g_free);
}

void
fuzz_project_die (const char *what, const char *detail)
{
  static gboolean dying;

  fprintf (stderr, "fuzz-%s: invariant broken: %s%s%s\n", target_name, what,
           detail ? ": " : "", detail ? detail : "");
  /* abort () skips atexit: clean up here (the input is saved by libFuzzer, not in there). */
  if (!dying)
    {
      dying = TRUE;
      remove_work_dir ();
    }
  abort ();
}

void
fuzz_project_write (const char *path, const void *data, gsize size)
{
  g_autoptr (GError) error = NULL;

  if (!g_file_set_contents (path, data, size, &error))
    fuzz_project_die ("cannot write a work file", error->message);
}

char *
fuzz_project_path (const char *name)
{
  return g_build_filename (work_dir, name, NULL);
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

/* Copying the template back is much cheaper than creating the schema again. */
static void
reset_project (void)
{
  g_autoptr (GError) error = NULL;

  remove_project ();
  fuzz_project_write (project_path, g_bytes_get_data (template, NULL),
                      g_bytes_get_size (template));
  store = veto_store_open (project_path, FALSE, &error);
  if (store == NULL)
    fuzz_project_die ("cannot open the project", error->message);
  dirty = FALSE;
}

void
fuzz_project_reset_if_dirty (void)
{
  if (dirty)
    reset_project ();
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
    fuzz_project_die ("cannot create the project", error->message);
  for (guint i = 0; i < N_CLASSES; i++)
    {
      g_autofree char *name = g_strdup_printf ("class-%u", i);
      gint64 id;

      if (!veto_store_ensure_class (store, name, &id, NULL, &error))
        fuzz_project_die ("cannot add a class", error->message);
    }
  if (!veto_store_commit (store, &error))
    fuzz_project_die ("cannot commit the classes", error->message);
  /* Closing the last connection folds the WAL into the file. */
  g_clear_pointer (&store, veto_store_close);
  if (!g_file_get_contents (project_path, &contents, &length, &error))
    fuzz_project_die ("cannot read the project back", error->message);
  template = g_bytes_new_take (contents, length);
}

void
fuzz_project_init (const char *target)
{
  const char *base = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : g_get_tmp_dir ();
  g_autofree char *pattern = g_strdup_printf ("veto-fuzz-%s-XXXXXX", target);
  char *template_dir = g_build_filename (base, pattern, NULL);

  target_name = target;
  /* Keep GIO from loading GVfs modules: only local files are read. */
  g_setenv ("GIO_USE_VFS", "local", TRUE);
  work_dir = g_mkdtemp (template_dir);
  if (work_dir == NULL)
    fuzz_project_die ("cannot make a temporary folder", g_strerror (errno));
  project_path = g_build_filename (work_dir, "project.veto", NULL);
  atexit (remove_work_dir);
  make_template ();
  reset_project ();
}

static guint
count_classes (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) classes = veto_store_list_classes (store, &error);

  if (classes == NULL)
    fuzz_project_die ("cannot list the classes", error->message);
  return classes->len;
}

gboolean
fuzz_project_check_import (const char *source, const VetoImportOptions *options,
                           gboolean check_split)
{
  VetoImportResult result = { 0 };
  VetoStoreSummary before, after;
  g_autoptr (GError) error = NULL;
  guint classes_before;
  gboolean ok;

  if (!veto_store_summarize (store, &before, &error))
    fuzz_project_die ("cannot summarize the project", error->message);
  classes_before = count_classes ();
  ok = veto_import (store, source, options, &result, &error);
  if (!ok && error == NULL)
    fuzz_project_die ("veto_import failed without setting an error", NULL);
  if (ok && error != NULL)
    fuzz_project_die ("veto_import succeeded but set an error", error->message);
  g_clear_error (&error);
  if (!veto_store_summarize (store, &after, &error))
    fuzz_project_die ("cannot summarize the project after the import", error->message);
  if (ok)
    {
      dirty = TRUE;
      if (after.items != before.items + result.added)
        fuzz_project_die ("a successful import added another number of items than "
                          "result.added", NULL);
      if (check_split
          && after.per_split[options->split] != before.per_split[options->split] + result.added)
        fuzz_project_die ("a successful import put items outside the split asked for", NULL);
      return TRUE;
    }
  if (after.items != before.items || count_classes () != classes_before)
    fuzz_project_die ("a failed import changed the project", NULL);
  if (!veto_store_begin (store, &error))
    fuzz_project_die ("a failed import left the project unable to begin a transaction",
                      error->message);
  veto_store_rollback (store);
  return FALSE;
}
