/* veto-item-picture: one item of a project drawn as large as fits, crisp when enlarged. */
#pragma once

#include <gtk/gtk.h>

#include "veto-store.h"

G_BEGIN_DECLS

#define VETO_TYPE_ITEM_PICTURE (veto_item_picture_get_type ())
G_DECLARE_FINAL_TYPE (VetoItemPicture, veto_item_picture, VETO, ITEM_PICTURE, GtkWidget)

#define VETO_ITEM_PICTURE_MIN_ZOOM 0.25
#define VETO_ITEM_PICTURE_MAX_ZOOM 4.0

GtkWidget *veto_item_picture_new (void);

/* Shows an item of the store: embedded pixels at once, a file item decoded in a thread (the
 * picture is blank meanwhile). A failure is reported by the "load-failed" signal (GError *). */
void veto_item_picture_set_item (VetoItemPicture *self, VetoStore *store, gint64 item);
/* Shows H×W×C 8-bit pixels (C = 1 grey or 3 RGB, rows packed). */
void veto_item_picture_set_pixels (VetoItemPicture *self, guint width, guint height,
                                   guint channels, const guint8 *pixels);
void veto_item_picture_clear (VetoItemPicture *self);

/* 1 fits the item in the widget; larger enlarges it around its centre (and crops it). */
void veto_item_picture_set_zoom (VetoItemPicture *self, double zoom);

G_END_DECLS
