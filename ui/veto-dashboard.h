/* veto-dashboard: the learning curve, confusion and transition matrices and annotator charts. */
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
 *
 * Actions:
 *   dashboard.export  s  asks where to save the chart named, as PNG or SVG by extension
 */

GtkWidget *veto_dashboard_new (VetoEngine *engine);

/* Re-reads everything now (the engine's signals do it, throttled). */
void veto_dashboard_refresh (VetoDashboard *self);
/* Saves a chart as PNG or SVG (by the extension of path) at its export size. */
gboolean veto_dashboard_export (VetoDashboard *self, const char *chart, const char *path,
                                GError **error);
/* The transition matrix shown, K × K row-major in model class order (NAN rows: no gold item of
 * that class has a complementary answer); NULL when none is shown. */
const double *veto_dashboard_get_transition (VetoDashboard *self, guint *out_k);

G_END_DECLS
