/* veto-cmd-demo: builds (once) the Fashion-MNIST demo project from Debian's dataset package. */
#include "veto-cli.h"

#include <errno.h>
#include <glib/gstdio.h>

#include "veto-import.h"
#include "veto-store.h"

#define DEMO_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define DEMO_POOL 60000
#define DEMO_TEST 10000

static const char *const fashion_classes[] = {
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

static char *
default_demo_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "veto", "fashion-mnist-demo.veto", NULL);
}

static gboolean
import_part (VetoStore *store, const char *data_dir, const char *images, const char *labels,
             VetoSplit split, GError **error)
{
  g_autofree char *images_path = g_build_filename (data_dir, images, NULL);
  g_autofree char *labels_path = g_build_filename (data_dir, labels, NULL);
  g_autofree char *label = g_strdup_printf ("Importing %s", images);
  g_autoptr (VetoCliProgress) progress = veto_cli_progress_new (label);
  VetoImportOptions options = {
    .format = VETO_FORMAT_IDX,
    .split = split,
    .labels_path = labels_path,
    .progress = veto_cli_progress_update,
    .progress_data = progress,
  };

  return veto_import (store, images_path, &options, NULL, error);
}

/* Builds the project beside its final name and renames it at the end, so that an interrupted
 * build never leaves a half demo where the next run would take it for a whole one. */
static gboolean
build_demo (const char *path, const char *data_dir, GError **error)
{
  g_autofree char *partial = g_strconcat (path, ".partial", NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autoptr (VetoStore) store = NULL;

  g_mkdir_with_parents (dir, 0755);
  g_unlink (partial);
  store = veto_store_create (partial, error);
  if (store == NULL)
    return FALSE;
  if (!veto_store_begin (store, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (fashion_classes); i++)
    {
      gint64 id;

      if (!veto_store_ensure_class (store, fashion_classes[i], &id, NULL, error))
        return FALSE;
    }
  if (!veto_store_commit (store, error)
      || !import_part (store, data_dir, "train-images-idx3-ubyte.gz",
                       "train-labels-idx1-ubyte.gz", VETO_SPLIT_POOL, error)
      || !import_part (store, data_dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                       VETO_SPLIT_TEST, error))
    return FALSE;
  g_clear_pointer (&store, veto_store_close);
  if (g_rename (partial, path) != 0)
    {
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s: cannot rename: %s",
                   partial, g_strerror (errno));
      return FALSE;
    }
  return TRUE;
}

/* The demo project at PATH, made if it is missing or incomplete. */
static gboolean
ensure_demo (const char *path, const char *data_dir, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_autoptr (VetoStore) store = veto_store_open (path, TRUE, error);
      VetoStoreSummary s;

      if (store == NULL || !veto_store_summarize (store, &s, error))
        return FALSE;
      if (s.per_split[VETO_SPLIT_POOL] == DEMO_POOL && s.per_split[VETO_SPLIT_TEST] == DEMO_TEST)
        return TRUE;
      g_printerr ("veto: %s is not the complete demo; making it again\n", path);
      g_clear_pointer (&store, veto_store_close);
      g_unlink (path);
    }
  g_print ("Building the Fashion-MNIST demo project at %s\n", path);
  if (!build_demo (path, data_dir, error))
    {
      g_autofree char *partial = g_strconcat (path, ".partial", NULL);

      g_unlink (partial);
      return FALSE;
    }
  return TRUE;
}

int
veto_cmd_demo (int argc, char **argv)
{
  g_autofree char *path = NULL;
  g_autofree char *data_dir = NULL;
  GOptionEntry entries[] = {
    { "project", 'p', 0, G_OPTION_ARG_FILENAME, &path,
      "Where the demo project lives (default: ~/.local/share/veto/fashion-mnist-demo.veto)",
      "PATH" },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Fashion-MNIST IDX files (default: " DEMO_DATA_DIR ")", "DIR" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "— build (once) and open the Fashion-MNIST demo project");
  g_autoptr (GError) error = NULL;
  g_autofree char *info_argv0 = g_strdup ("info");
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Needs Debian's dataset-fashion-mnist package: 60,000 pool items and 10,000 test items,\n"
      "their gold labels kept for evaluation only.\n"
      "Exit status: 0 done, 1 the data cannot be read, 2 usage, 3 the project cannot be made.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return veto_cli_usage (context, "demo takes no arguments");
  if (path == NULL)
    path = default_demo_path ();
  if (data_dir == NULL)
    data_dir = g_strdup (DEMO_DATA_DIR);
  if (!ensure_demo (path, data_dir, &error))
    return veto_cli_fail (error);
  {
    char *info_argv[] = { info_argv0, path, NULL };

    return veto_cmd_info (2, info_argv);
  }
}
