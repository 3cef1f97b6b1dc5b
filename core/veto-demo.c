/* veto-demo: the Fashion-MNIST demo project: where it lives, whether it is whole, building it. */
#include "veto-demo.h"

#include <errno.h>
#include <glib/gstdio.h>

static const char *const fashion_classes[] = {
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

char *
veto_demo_default_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "veto", "fashion-mnist-demo.veto", NULL);
}

gboolean
veto_demo_is_complete (const char *path, gboolean *out_complete, GError **error)
{
  g_autoptr (VetoStore) store = veto_store_open (path, TRUE, error);
  VetoStoreSummary s;

  if (store == NULL || !veto_store_summarize (store, &s, error))
    return FALSE;
  *out_complete = s.per_split[VETO_SPLIT_POOL] == VETO_DEMO_POOL
                  && s.per_split[VETO_SPLIT_TEST] == VETO_DEMO_TEST;
  return TRUE;
}

/* Progress of one part, reported to the caller as a share of both parts' items. */
typedef struct
{
  VetoImportProgressFunc progress;
  gpointer progress_data;
  GCancellable *cancellable;
  guint64 offset;
  guint64 part;
} PartProgress;

static void
part_progress (gpointer user_data, guint64 done, guint64 total)
{
  PartProgress *p = user_data;

  if (total > 0)
    p->progress (p->progress_data, p->offset + MIN (done, total) * p->part / total,
                 VETO_DEMO_POOL + VETO_DEMO_TEST);
}

static gboolean
import_part (VetoStore *store, const char *data_dir, const char *images, const char *labels,
             VetoSplit split, PartProgress *progress, GError **error)
{
  g_autofree char *images_path = g_build_filename (data_dir, images, NULL);
  g_autofree char *labels_path = g_build_filename (data_dir, labels, NULL);
  VetoImportOptions options = {
    .format = VETO_FORMAT_IDX,
    .split = split,
    .labels_path = labels_path,
    .progress = progress->progress != NULL ? part_progress : NULL,
    .progress_data = progress,
    .cancellable = progress->cancellable,
  };

  return veto_import (store, images_path, &options, NULL, error);
}

static gboolean
build_beside (const char *partial, const char *data_dir, PartProgress *progress, GError **error)
{
  g_autoptr (VetoStore) store = veto_store_create (partial, error);

  if (store == NULL || !veto_store_begin (store, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (fashion_classes); i++)
    {
      gint64 id;

      if (!veto_store_ensure_class (store, fashion_classes[i], &id, NULL, error))
        return FALSE;
    }
  if (!veto_store_commit (store, error))
    return FALSE;
  progress->offset = 0;
  progress->part = VETO_DEMO_POOL;
  if (!import_part (store, data_dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                    VETO_SPLIT_POOL, progress, error))
    return FALSE;
  progress->offset = VETO_DEMO_POOL;
  progress->part = VETO_DEMO_TEST;
  return import_part (store, data_dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                      VETO_SPLIT_TEST, progress, error);
}

gboolean
veto_demo_build (const char *path, const char *data_dir, VetoImportProgressFunc progress,
                 gpointer progress_data, GCancellable *cancellable, GError **error)
{
  g_autofree char *partial = g_strconcat (path, ".partial", NULL);
  g_autofree char *dir = g_path_get_dirname (path);
  PartProgress part = { .progress = progress, .progress_data = progress_data,
                        .cancellable = cancellable };

  g_mkdir_with_parents (dir, 0755);
  g_unlink (partial);
  if (!build_beside (partial, data_dir, &part, error))
    {
      g_unlink (partial);
      return FALSE;
    }
  g_unlink (path);
  if (g_rename (partial, path) != 0)
    {
      int saved = errno;

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: cannot rename: %s",
                   partial, g_strerror (saved));
      g_unlink (partial);
      return FALSE;
    }
  return TRUE;
}
