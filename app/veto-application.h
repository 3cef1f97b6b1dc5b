/* veto-application: the GtkApplication behind the window: settings, windows, about, quit. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define VETO_APPLICATION_ID "io.github.veto.Veto"

#define VETO_TYPE_APPLICATION (veto_application_get_type ())
G_DECLARE_FINAL_TYPE (VetoApplication, veto_application, VETO, APPLICATION, AdwApplication)

/* Whether there is a display to open a window on (X11 or Wayland). */
gboolean veto_application_can_show (void);

/* Opens a window on each project (none: the welcome page) and runs until the last window
 * closes. mode ("ordinary", "complementary", "preference"; NULL: as saved) sets the question
 * kind first. Returns the exit status. */
int veto_application_run (const char *const *projects, const char *mode);

G_END_DECLS
