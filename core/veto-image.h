/* veto-image: decoded images as plain pixel buffers, decoding with GdkPixbuf and resizing. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VETO_IMAGE_ERROR (veto_image_error_quark ())
GQuark veto_image_error_quark (void);

typedef enum
{
  VETO_IMAGE_ERROR_DECODE,
  VETO_IMAGE_ERROR_TOO_LARGE,
  VETO_IMAGE_ERROR_MISMATCH, /* not the file that was imported */
} VetoImageError;

/* Largest image accepted from any file: anything bigger is refused before decoding. */
#define VETO_IMAGE_MAX_SIDE 10000
#define VETO_IMAGE_MAX_PIXELS 40000000
#define VETO_IMAGE_MAX_FILE_BYTES (256u * 1024 * 1024)

/* An 8-bit image, rows packed without padding: data[(y * width + x) * channels + c].
 * channels is 1 (grey) or 3 (RGB); alpha is composited on white when decoding. */
typedef struct
{
  guint width;
  guint height;
  guint channels;
  guint8 *data;
} VetoImage;

VetoImage *veto_image_new (guint width, guint height, guint channels);
VetoImage *veto_image_new_from_data (guint width, guint height, guint channels,
                                     const guint8 *data);
void veto_image_free (VetoImage *image);
gsize veto_image_n_bytes (const VetoImage *image);

/* Decodes any format GdkPixbuf knows, from a regular file of at most VETO_IMAGE_MAX_FILE_BYTES
 * read whole (as veto_image_load_verified () reads it). Refuses absurd dimensions (read from
 * the header before the pixels are decoded). Grey images (all channels equal) come back with
 * 1 channel. */
VetoImage *veto_image_load (const char *path, GError **error);
VetoImage *veto_image_load_bytes (GBytes *bytes, const char *name, GError **error);
/* The same, but a decoder that can scale while it decodes (JPEG: libjpeg's DCT scaling by 1/2,
 * 1/4 or 1/8) returns the smallest such scale that is still at least min_width × min_height
 * (0 × 0: the full size), which costs a fraction of a full decode; other formats come back at
 * full size. Every byte is still decoded, so a corrupt file is refused all the same. The file's
 * own dimensions go to out_width and out_height (either may be NULL). */
VetoImage *veto_image_load_bytes_scaled (GBytes *bytes, const char *name, guint min_width,
                                         guint min_height, guint *out_width, guint *out_height,
                                         GError **error);
VetoImage *veto_image_load_scaled (const char *path, guint min_width, guint min_height,
                                   guint *out_width, guint *out_height, GError **error);
/* Reads a regular file of at most VETO_IMAGE_MAX_FILE_BYTES and decodes it only when its bytes
 * have the sha256 (hex) given: how a project's file items are read, so that a path edited to
 * name another file is refused (MISMATCH). name is what errors call the file. It decodes as
 * veto_image_load_bytes_scaled does, at the smallest scale still at least min_width ×
 * min_height (0 × 0: the full size). */
VetoImage *veto_image_load_verified (const char *path, const char *sha256, const char *name,
                                     guint min_width, guint min_height, GError **error);

/* Box-filtered (area-averaging) resize; the result keeps the channel count. */
VetoImage *veto_image_resize (const VetoImage *image, guint width, guint height);

/* Writes a PNG, for exports and thumbnails. */
gboolean veto_image_save_png (const VetoImage *image, const char *path, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoImage, veto_image_free)

G_END_DECLS
