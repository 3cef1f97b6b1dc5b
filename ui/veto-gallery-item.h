/* veto-gallery-item: one project item as the gallery lists, filters and sorts it. */
#pragma once

#include <glib-object.h>

#include "veto-store.h"

G_BEGIN_DECLS

#define VETO_TYPE_GALLERY_ITEM (veto_gallery_item_get_type ())
G_DECLARE_FINAL_TYPE (VetoGalleryItem, veto_gallery_item, VETO, GALLERY_ITEM, GObject)

VetoGalleryItem *veto_gallery_item_new (gint64 id);
gint64 veto_gallery_item_get_id (VetoGalleryItem *self);

/* Its standing answers (copied; a preference answer counts for both of its items). */
void veto_gallery_item_set_answers (VetoGalleryItem *self, const VetoItemAnswer *answers,
                                    guint n_answers);
const VetoItemAnswer *veto_gallery_item_get_answers (VetoGalleryItem *self, guint *out_n_answers);
/* TRUE when one of its answers is of kind (VETO_N_KINDS: any) and names answer_class (0: any). */
gboolean veto_gallery_item_has_answer (VetoGalleryItem *self, VetoAnswerKind kind,
                                       gint64 answer_class);

/* The newest model's view of it: the predicted class index (-1: not scored), its probability,
 * the margin between the two most probable classes (NAN: not scored) and its AGCD cluster
 * (-1: none). */
void veto_gallery_item_set_prediction (VetoGalleryItem *self, int predicted, double confidence,
                                       double margin, int cluster);
int veto_gallery_item_get_predicted (VetoGalleryItem *self);
double veto_gallery_item_get_confidence (VetoGalleryItem *self);
double veto_gallery_item_get_margin (VetoGalleryItem *self);
int veto_gallery_item_get_cluster (VetoGalleryItem *self);

G_END_DECLS
