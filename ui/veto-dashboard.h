/* veto-dashboard: the learning curve, confusion and transition matrices, annotator charts and models. */
#pragma once

#include <adwaita.h>

#include "veto-engine.h"

G_BEGIN_DECLS

#define VETO_TYPE_DASHBOARD (veto_dashboard_get_type ())
G_DECLARE_FINAL_TYPE (VetoDashboard, veto_dashboard, VETO, DASHBOARD, GtkWidget)

/*
 * Charts, by the names that export and its action use:
 *   "curve"       accuracy over the rounds (test accuracy, else the engine's estimate)
 *   "confusion"   the newest round's confusion matrix on the test split, when it has one
 *   "transition"  the complementary-label transition matrix estimated from answers on items
 *                 with a gold label (counts → veto_loss_estimate_transition, α = 0)
 *   "answers"     standing answers per annotator
 *   "seconds"     mean seconds from question to answer per annotator
 *   "annotator-model"
 *                 the annotators' fitted Luce choice models (rows the true class, columns the
 *                 class named; each row's wrong classes average 1, the diagonal is the weight of
 *                 naming the truth), pooled or one annotator's as the selector says, computed
 *                 by veto_stats_compute () on the answers the learner fits them to
 *                 (complementary answers on gold anchors); empty below
 *                 VETO_SIM_MIN_ANCHORS_PER_CLASS of them per class, where the learner keeps
 *                 the uniform annotator
 *
 * Actions:
 *   dashboard.export           s  asks where to save the chart named, as PNG, SVG or PDF
 *                                 by extension
 *   dashboard.annotator-model  s  shows that annotator's model ("": everyone's, pooled)
 */

GtkWidget *veto_dashboard_new (VetoEngine *engine);

/* Re-reads everything (the engine's signals do it, throttled, and the first showing): a thread
 * reads the project through a connection of its own, so the window never waits for it, and the
 * charts change when it is done. Meanwhile "refreshing" (and the accessible busy state) is TRUE;
 * a refresh asked for then reads again once the running one is done. */
void veto_dashboard_refresh (VetoDashboard *self);
gboolean veto_dashboard_get_refreshing (VetoDashboard *self);
/* Saves a chart as PNG, SVG or PDF (by the extension of path) at its export size. */
gboolean veto_dashboard_export (VetoDashboard *self, const char *chart, const char *path,
                                GError **error);
/* The transition matrix shown, K × K row-major in model class order (NAN rows: no gold item of
 * that class has a complementary answer); NULL when none is shown. */
const double *veto_dashboard_get_transition (VetoDashboard *self, guint *out_k);
/* The choice model shown, K × K row-major Luce weights in model class order; NULL when none is
 * shown (too few anchor answers). */
const double *veto_dashboard_get_annotator_model (VetoDashboard *self, guint *out_k);
/* The selector's entries (GtkStringObject): everyone (pooled) first, then each annotator with
 * anchor answers, marked as having their own model or the pooled one. */
GListModel *veto_dashboard_get_annotator_model_choices (VetoDashboard *self);

G_END_DECLS
