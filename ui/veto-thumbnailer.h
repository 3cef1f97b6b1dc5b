/* veto-thumbnailer: item thumbnails decoded off the main thread, kept in an LRU cache. */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define VETO_TYPE_THUMBNAILER (veto_thumbnailer_get_type ())
G_DECLARE_FINAL_TYPE (VetoThumbnailer, veto_thumbnailer, VETO, THUMBNAILER, GObject)

/* Thumbnails fit in a square of this many pixels; smaller images are enlarged by a whole
 * factor with nearest-neighbour sampling, so that 28×28 digits stay crisp. */
#define VETO_THUMBNAILER_SIZE 112
#define VETO_THUMBNAILER_DEFAULT_CAPACITY 2000

/* Reads items from project_path through read-only connections of its own; keeps the most
 * recently used `capacity` thumbnails. */
VetoThumbnailer *veto_thumbnailer_new (const char *project_path, guint capacity);

/* TRUE when item's thumbnail is cached (marking it recently used); *out_texture is then the
 * borrowed thumbnail, or NULL when the image could not be read. */
gboolean veto_thumbnailer_lookup (VetoThumbnailer *self, gint64 item, GdkTexture **out_texture);
/* Queues item's thumbnail unless it is cached or queued; newest requests are decoded first.
 * "ready" (gint64 item) is emitted on the main context once it is cached. */
void veto_thumbnailer_request (VetoThumbnailer *self, gint64 item);
/* Drops a queued request nobody waits for any longer (a tile scrolled away). */
void veto_thumbnailer_cancel (VetoThumbnailer *self, gint64 item);
guint veto_thumbnailer_get_n_cached (VetoThumbnailer *self);
/* Requests queued or being decoded. */
guint veto_thumbnailer_get_n_pending (VetoThumbnailer *self);

G_END_DECLS
