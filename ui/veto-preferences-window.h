/* veto-preferences-window: question, selection and learning settings, bound to GSettings. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define VETO_TYPE_PREFERENCES_WINDOW (veto_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (VetoPreferencesWindow, veto_preferences_window, VETO, PREFERENCES_WINDOW,
                      AdwPreferencesWindow)

GtkWidget *veto_preferences_window_new (GSettings *settings);

G_END_DECLS
