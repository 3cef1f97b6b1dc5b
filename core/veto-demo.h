/* veto-demo: the Fashion-MNIST demo project: where it lives, whether it is whole, building it. */
#pragma once

#include <glib.h>

#include "veto-import.h"

G_BEGIN_DECLS

/* Debian's dataset-fashion-mnist package. */
#define VETO_DEMO_DATA_DIR "/usr/share/datasets/fashion-mnist"
#define VETO_DEMO_POOL 60000
#define VETO_DEMO_TEST 10000

/* ~/.local/share/veto/fashion-mnist-demo.veto */
char *veto_demo_default_path (void);

/* Whether the project at PATH is the whole demo (every pool and test item). FALSE with error
 * when it cannot be read as a project. */
gboolean veto_demo_is_complete (const char *path, gboolean *out_complete, GError **error);

/* Builds the demo at PATH (replacing whatever is there) from DATA_DIR's IDX files. It is built
 * beside PATH and renamed at the end, so an interrupted build never leaves a half demo where the
 * next run would take it for a whole one; on failure nothing is left. progress (may be NULL)
 * counts items over both parts; cancellable (may be NULL) stops the build. */
gboolean veto_demo_build (const char *path, const char *data_dir, VetoImportProgressFunc progress,
                          gpointer progress_data, GCancellable *cancellable, GError **error);

G_END_DECLS
