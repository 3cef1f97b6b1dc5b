/* veto-gallery-item: one project item as the gallery lists, filters and sorts it. */
#include "veto-gallery-item.h"

#include <math.h>

struct _VetoGalleryItem
{
  GObject parent_instance;

  gint64 id;
  VetoItemAnswer *answers;
  guint n_answers;
  int predicted;
  double confidence;
  double margin;
  int cluster;
};

G_DEFINE_FINAL_TYPE (VetoGalleryItem, veto_gallery_item, G_TYPE_OBJECT)

static void
veto_gallery_item_finalize (GObject *object)
{
  VetoGalleryItem *self = VETO_GALLERY_ITEM (object);

  g_free (self->answers);

  G_OBJECT_CLASS (veto_gallery_item_parent_class)->finalize (object);
}

static void
veto_gallery_item_class_init (VetoGalleryItemClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = veto_gallery_item_finalize;
}

static void
veto_gallery_item_init (VetoGalleryItem *self)
{
  self->predicted = -1;
  self->confidence = NAN;
  self->margin = NAN;
  self->cluster = -1;
}

VetoGalleryItem *
veto_gallery_item_new (gint64 id)
{
  VetoGalleryItem *self = g_object_new (VETO_TYPE_GALLERY_ITEM, NULL);

  self->id = id;
  return self;
}

gint64
veto_gallery_item_get_id (VetoGalleryItem *self)
{
  g_return_val_if_fail (VETO_IS_GALLERY_ITEM (self), 0);

  return self->id;
}

void
veto_gallery_item_set_answers (VetoGalleryItem *self, const VetoItemAnswer *answers,
                               guint n_answers)
{
  g_return_if_fail (VETO_IS_GALLERY_ITEM (self));

  g_clear_pointer (&self->answers, g_free);
  self->answers = n_answers ? g_memdup2 (answers, n_answers * sizeof *answers) : NULL;
  self->n_answers = n_answers;
}

const VetoItemAnswer *
veto_gallery_item_get_answers (VetoGalleryItem *self, guint *out_n_answers)
{
  g_return_val_if_fail (VETO_IS_GALLERY_ITEM (self), NULL);

  *out_n_answers = self->n_answers;
  return self->answers;
}

gboolean
veto_gallery_item_has_answer (VetoGalleryItem *self, VetoAnswerKind kind, gint64 answer_class)
{
  g_return_val_if_fail (VETO_IS_GALLERY_ITEM (self), FALSE);

  for (guint i = 0; i < self->n_answers; i++)
    if ((kind == VETO_N_KINDS || self->answers[i].kind == kind)
        && (answer_class == 0 || self->answers[i].answer_class == answer_class))
      return TRUE;
  return FALSE;
}

void
veto_gallery_item_set_prediction (VetoGalleryItem *self, int predicted, double confidence,
                                  double margin, int cluster)
{
  g_return_if_fail (VETO_IS_GALLERY_ITEM (self));

  self->predicted = predicted;
  self->confidence = confidence;
  self->margin = margin;
  self->cluster = cluster;
}

int
veto_gallery_item_get_predicted (VetoGalleryItem *self)
{
  g_return_val_if_fail (VETO_IS_GALLERY_ITEM (self), -1);

  return self->predicted;
}

double
veto_gallery_item_get_confidence (VetoGalleryItem *self)
{
  g_return_val_if_fail (VETO_IS_GALLERY_ITEM (self), NAN);

  return self->confidence;
}

double
veto_gallery_item_get_margin (VetoGalleryItem *self)
{
  g_return_val_if_fail (VETO_IS_GALLERY_ITEM (self), NAN);

  return self->margin;
}

int
veto_gallery_item_get_cluster (VetoGalleryItem *self)
{
  g_return_val_if_fail (VETO_IS_GALLERY_ITEM (self), -1);

  return self->cluster;
}
