/* veto-gallery: the project's items as thumbnails, filtered, sorted and grouped by cluster. */
#pragma once

#include <adwaita.h>

#include "veto-engine.h"
#include "veto-thumbnailer.h"

G_BEGIN_DECLS

#define VETO_TYPE_GALLERY (veto_gallery_get_type ())
G_DECLARE_FINAL_TYPE (VetoGallery, veto_gallery, VETO, GALLERY, GtkWidget)

/*
 * Actions (state = the property of the same name):
 *   gallery.kind-filter       s  "all", "answered", "unanswered", "ordinary", "complementary",
 *                                "preference" or "soft": items with a standing answer of it
 *   gallery.class-filter      i  class index (model order) named by one of those answers; -1 any
 *   gallery.predicted-filter  i  class index the newest model predicts; -1 any
 *   gallery.cluster-filter    i  AGCD cluster; -1 all
 *   gallery.sort              s  "uncertainty" (smallest margin first) or "id"; with AGCD the
 *                                items are grouped by cluster first
 *   gallery.name-cluster         asks for a name and adds it as a class (AGCD, one cluster shown)
 *   gallery.show-item         x  opens the list of an item's answers
 */

GtkWidget *veto_gallery_new (VetoEngine *engine);

/* The items shown, filtered and sorted (VetoGalleryItem objects): a GtkSortListModel over a
 * GtkFilterListModel, final once a refresh's reading has come back ("refreshing"). */
GListModel *veto_gallery_get_items (VetoGallery *self);
VetoThumbnailer *veto_gallery_get_thumbnailer (VetoGallery *self);
/* Re-reads items, answers, classes and the newest scores: the items and answers in a thread,
 * through a read-only connection of the gallery's own, then applied on the main loop (asked
 * again while a reading runs, it reads once more after it). The engine's signals do it,
 * throttled; an import that adds items should call it. */
void veto_gallery_refresh (VetoGallery *self);
/* The "refreshing" property: a reading runs (the items shown are those of the last one). */
gboolean veto_gallery_get_refreshing (VetoGallery *self);
/* Adds a class named after the cluster shown; what "Name This Cluster…" does once asked. */
gboolean veto_gallery_name_cluster (VetoGallery *self, const char *name, GError **error);

G_END_DECLS
