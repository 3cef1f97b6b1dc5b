/* veto-window: the main window: the welcome page, or an open project's views and its engine. */
#pragma once

#include <adwaita.h>

#include "veto-engine.h"
#include "veto-label-view.h"

G_BEGIN_DECLS

#define VETO_TYPE_WINDOW (veto_window_get_type ())
G_DECLARE_FINAL_TYPE (VetoWindow, veto_window, VETO, WINDOW, AdwApplicationWindow)

/*
 * Actions:
 *   win.open               chooses a project file to open (Ctrl+O)
 *   win.open-project    s  opens the project at a path; a failure is shown as a toast
 *   win.close-project      back to the welcome page (Ctrl+W)
 *   win.preferences        the preferences window (Ctrl+,)
 * The engine follows the settings: changing the question kind, strategy, candidates, features,
 * retraining or the annotator makes a new engine on the same project.
 */

VetoWindow *veto_window_new (GtkApplication *application, GSettings *settings);

gboolean veto_window_open_project (VetoWindow *self, const char *path, GError **error);
void veto_window_close_project (VetoWindow *self);
/* The open project's path and engine (NULL on the welcome page). */
const char *veto_window_get_project (VetoWindow *self);
VetoEngine *veto_window_get_engine (VetoWindow *self);
VetoLabelView *veto_window_get_label_view (VetoWindow *self);
void veto_window_show_toast (VetoWindow *self, const char *text);

G_END_DECLS
