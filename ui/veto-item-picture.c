/* veto-item-picture: one item of a project drawn as large as fits, crisp when enlarged. */
#include "veto-item-picture.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "veto-image.h"

/* A zoomed-in copy is never built larger than this many pixels a side. */
#define MAX_ENLARGED_SIDE 4096
#define CORNER_RADIUS 6

struct _VetoItemPicture
{
  GtkWidget parent_instance;

  GBytes *rgb;          /* the pixels as packed RGB */
  guint width;
  guint height;
  GdkTexture *texture;  /* rgb at its own size */
  GdkTexture *enlarged; /* rgb enlarged enlarged_factor times, nearest neighbour */
  guint enlarged_factor;
  double zoom;
  gint64 item;
  GCancellable *cancellable;
};

G_DEFINE_FINAL_TYPE (VetoItemPicture, veto_item_picture, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_ZOOM,
  N_PROPS
};

enum
{
  LOAD_FAILED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

/* GTK 4.8 draws textures with linear filtering only, which turns a 28×28 digit into a blur.
 * Copying each pixel into a factor × factor block keeps every one a sharp square of the same
 * size; the copy is made once per size, not per frame. */
static GdkTexture *
enlarged_texture (VetoItemPicture *self, guint factor)
{
  const guint8 *in = g_bytes_get_data (self->rgb, NULL);
  gsize out_width = (gsize) self->width * factor;
  gsize out_height = (gsize) self->height * factor;
  gsize stride = out_width * 3;
  guint8 *out;
  g_autoptr (GBytes) bytes = NULL;

  if (self->enlarged != NULL && self->enlarged_factor == factor)
    return self->enlarged;
  out = g_malloc (stride * out_height);
  for (guint y = 0; y < self->height; y++)
    {
      guint8 *row = out + (gsize) y * factor * stride;

      for (guint x = 0; x < self->width; x++)
        for (guint f = 0; f < factor; f++)
          memcpy (row + ((gsize) x * factor + f) * 3, in + ((gsize) y * self->width + x) * 3, 3);
      for (guint r = 1; r < factor; r++)
        memcpy (row + r * stride, row, stride);
    }
  bytes = g_bytes_new_take (out, stride * out_height);
  g_clear_object (&self->enlarged);
  self->enlarged = gdk_memory_texture_new ((int) out_width, (int) out_height,
                                           GDK_MEMORY_R8G8B8, bytes, stride);
  self->enlarged_factor = factor;
  return self->enlarged;
}

static void
veto_item_picture_snapshot (GtkWidget *widget, GtkSnapshot *snapshot)
{
  VetoItemPicture *self = VETO_ITEM_PICTURE (widget);
  double width = gtk_widget_get_width (widget);
  double height = gtk_widget_get_height (widget);
  int scale_factor = gtk_widget_get_scale_factor (widget);
  GdkTexture *texture = self->texture;
  double scale, draw_width, draw_height, x, y;
  GskRoundedRect corners;

  if (texture == NULL || width <= 0 || height <= 0)
    return;
  scale = MIN (width / self->width, height / self->height) * self->zoom;
  if (scale * scale_factor >= 2)
    {
      guint factor = (guint) floor (scale * scale_factor);

      factor = MIN (factor, MAX_ENLARGED_SIDE / MAX (self->width, self->height));
      if (factor >= 2)
        {
          texture = enlarged_texture (self, factor);
          scale = (double) factor / scale_factor;
        }
    }
  draw_width = self->width * scale;
  draw_height = self->height * scale;
  /* On whole device pixels, so the enlarged blocks are not resampled across a seam. */
  x = round ((width - draw_width) / 2 * scale_factor) / scale_factor;
  y = round ((height - draw_height) / 2 * scale_factor) / scale_factor;
  gsk_rounded_rect_init_from_rect (&corners, &GRAPHENE_RECT_INIT (x, y, draw_width, draw_height),
                                   CORNER_RADIUS);
  gtk_snapshot_push_clip (snapshot, &GRAPHENE_RECT_INIT (0, 0, width, height));
  gtk_snapshot_push_rounded_clip (snapshot, &corners);
  gtk_snapshot_append_texture (snapshot, texture, &corners.bounds);
  gtk_snapshot_pop (snapshot);
  gtk_snapshot_pop (snapshot);
}

static void
veto_item_picture_measure (GtkWidget *widget, GtkOrientation orientation, int for_size,
                           int *minimum, int *natural, int *minimum_baseline,
                           int *natural_baseline)
{
  *minimum = 64;
  *natural = 360;
}

static void
clear_pixels (VetoItemPicture *self)
{
  g_clear_pointer (&self->rgb, g_bytes_unref);
  g_clear_object (&self->texture);
  g_clear_object (&self->enlarged);
  self->enlarged_factor = 0;
  self->width = self->height = 0;
}

void
veto_item_picture_set_pixels (VetoItemPicture *self, guint width, guint height, guint channels,
                              const guint8 *pixels)
{
  gsize n = (gsize) width * height;
  guint8 *rgb;

  g_return_if_fail (VETO_IS_ITEM_PICTURE (self));
  g_return_if_fail (width > 0 && height > 0 && (channels == 1 || channels == 3));

  clear_pixels (self);
  rgb = g_malloc (n * 3);
  if (channels == 3)
    memcpy (rgb, pixels, n * 3);
  else
    for (gsize i = 0; i < n; i++)
      rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = pixels[i];
  self->rgb = g_bytes_new_take (rgb, n * 3);
  self->width = width;
  self->height = height;
  self->texture = gdk_memory_texture_new ((int) width, (int) height, GDK_MEMORY_R8G8B8,
                                          self->rgb, (gsize) width * 3);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

void
veto_item_picture_clear (VetoItemPicture *self)
{
  g_return_if_fail (VETO_IS_ITEM_PICTURE (self));

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->item = 0;
  clear_pixels (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
load_failed (VetoItemPicture *self, const GError *error)
{
  clear_pixels (self);
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_signal_emit (self, signals[LOAD_FAILED], 0, error);
}

static void
decode_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  char **file = task_data; /* path, sha256, name */
  GError *error = NULL;
  VetoImage *image = veto_image_load_verified (file[0], file[1], file[2], 0, 0, &error);

  if (image == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, image, (GDestroyNotify) veto_image_free);
}

static void
decode_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  VetoItemPicture *self = VETO_ITEM_PICTURE (source);
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoImage) image = g_task_propagate_pointer (G_TASK (result), &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (image == NULL)
    load_failed (self, error);
  else
    veto_item_picture_set_pixels (self, image->width, image->height, image->channels,
                                  image->data);
}

void
veto_item_picture_set_item (VetoItemPicture *self, VetoStore *store, gint64 item)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoItem) record = NULL;
  g_autofree char *label = NULL;

  g_return_if_fail (VETO_IS_ITEM_PICTURE (self));
  g_return_if_fail (store != NULL);

  veto_item_picture_clear (self);
  self->item = item;
  /* Translators: the spoken name of the picture being labeled; %lld is the item's number. */
  label = g_strdup_printf (_("Item %lld"), (long long) item);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                  -1);
  record = veto_store_get_item (store, item, &error);
  if (record == NULL)
    {
      load_failed (self, error);
      return;
    }
  if (record->pixels != NULL)
    {
      gsize expected = (gsize) record->width * record->height * record->channels;

      if (g_bytes_get_size (record->pixels) != expected
          || (record->channels != 1 && record->channels != 3))
        {
          g_set_error (&error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE,
                       _("Item %lld: its stored pixels do not match its size"), (long long) item);
          load_failed (self, error);
          return;
        }
      veto_item_picture_set_pixels (self, record->width, record->height, record->channels,
                                    g_bytes_get_data (record->pixels, NULL));
    }
  else
    {
      g_autoptr (GTask) task = NULL;
      char *path = veto_store_item_file (store, record, &error);
      char **file;

      if (path == NULL)
        {
          load_failed (self, error);
          return;
        }
      file = g_new0 (char *, 4);
      file[0] = path;
      file[1] = g_strdup (record->sha256);
      file[2] = veto_store_describe_item (store, record);
      self->cancellable = g_cancellable_new ();
      task = g_task_new (self, self->cancellable, decode_done, NULL);
      g_task_set_source_tag (task, veto_item_picture_set_item);
      g_task_set_task_data (task, file, (GDestroyNotify) g_strfreev);
      g_task_run_in_thread (task, decode_thread);
    }
}

void
veto_item_picture_set_zoom (VetoItemPicture *self, double zoom)
{
  g_return_if_fail (VETO_IS_ITEM_PICTURE (self));

  zoom = CLAMP (zoom, VETO_ITEM_PICTURE_MIN_ZOOM, VETO_ITEM_PICTURE_MAX_ZOOM);
  if (zoom == self->zoom)
    return;
  self->zoom = zoom;
  gtk_widget_queue_draw (GTK_WIDGET (self));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ZOOM]);
}

GtkWidget *
veto_item_picture_new (void)
{
  return g_object_new (VETO_TYPE_ITEM_PICTURE, NULL);
}

static void
veto_item_picture_dispose (GObject *object)
{
  VetoItemPicture *self = VETO_ITEM_PICTURE (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  clear_pixels (self);

  G_OBJECT_CLASS (veto_item_picture_parent_class)->dispose (object);
}

static void
veto_item_picture_get_property (GObject *object, guint prop_id, GValue *value,
                                GParamSpec *pspec)
{
  VetoItemPicture *self = VETO_ITEM_PICTURE (object);

  switch (prop_id)
    {
    case PROP_ZOOM:
      g_value_set_double (value, self->zoom);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
veto_item_picture_set_property (GObject *object, guint prop_id, const GValue *value,
                                GParamSpec *pspec)
{
  VetoItemPicture *self = VETO_ITEM_PICTURE (object);

  switch (prop_id)
    {
    case PROP_ZOOM:
      veto_item_picture_set_zoom (self, g_value_get_double (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
veto_item_picture_class_init (VetoItemPictureClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = veto_item_picture_dispose;
  object_class->get_property = veto_item_picture_get_property;
  object_class->set_property = veto_item_picture_set_property;
  widget_class->snapshot = veto_item_picture_snapshot;
  widget_class->measure = veto_item_picture_measure;

  properties[PROP_ZOOM] =
    g_param_spec_double ("zoom", NULL, NULL, VETO_ITEM_PICTURE_MIN_ZOOM,
                         VETO_ITEM_PICTURE_MAX_ZOOM, 1.0,
                         G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  signals[LOAD_FAILED] =
    g_signal_new ("load-failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);

  gtk_widget_class_set_css_name (widget_class, "item-picture");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
veto_item_picture_init (VetoItemPicture *self)
{
  self->zoom = 1.0;
  gtk_widget_set_hexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_vexpand (GTK_WIDGET (self), TRUE);
  gtk_widget_set_overflow (GTK_WIDGET (self), GTK_OVERFLOW_HIDDEN);
}
