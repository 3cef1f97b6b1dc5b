/* veto-application: the GtkApplication behind the window: settings, windows, about, quit. */
#include "veto-application.h"

#include <glib/gi18n.h>

#include "veto-window.h"

struct _VetoApplication
{
  AdwApplication parent_instance;

  GSettings *settings;
};

G_DEFINE_FINAL_TYPE (VetoApplication, veto_application, ADW_TYPE_APPLICATION)

gboolean
veto_application_can_show (void)
{
  const char *x11 = g_getenv ("DISPLAY");
  const char *wayland = g_getenv ("WAYLAND_DISPLAY");

  return (x11 != NULL && *x11 != '\0') || (wayland != NULL && *wayland != '\0');
}

/* The installed schema, else the one compiled in the build tree (an uninstalled run). */
static GSettings *
create_settings (void)
{
  GSettingsSchemaSource *installed = g_settings_schema_source_get_default ();
  g_autoptr (GSettingsSchema) schema = NULL;

  if (installed != NULL)
    schema = g_settings_schema_source_lookup (installed, VETO_APPLICATION_ID, TRUE);
  if (schema == NULL)
    {
      g_autoptr (GSettingsSchemaSource) build =
          g_settings_schema_source_new_from_directory (VETO_BUILD_SCHEMA_DIR, installed, FALSE,
                                                       NULL);

      if (build != NULL)
        schema = g_settings_schema_source_lookup (build, VETO_APPLICATION_ID, FALSE);
    }
  return schema != NULL ? g_settings_new_full (schema, NULL, NULL) : NULL;
}

static VetoWindow *
new_window (VetoApplication *self)
{
  return veto_window_new (GTK_APPLICATION (self), self->settings);
}

static void
veto_application_activate (GApplication *application)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (application));

  if (window == NULL)
    window = GTK_WINDOW (new_window (VETO_APPLICATION (application)));
  gtk_window_present (window);
}

static void
veto_application_open (GApplication *application, GFile **files, int n_files, const char *hint)
{
  VetoApplication *self = VETO_APPLICATION (application);

  for (int i = 0; i < n_files; i++)
    {
      GtkWindow *active = gtk_application_get_active_window (GTK_APPLICATION (self));
      VetoWindow *window;
      g_autofree char *path = g_file_get_path (files[i]);
      g_autoptr (GError) error = NULL;

      /* A window still on its welcome page takes the project; else a new window does. */
      if (VETO_IS_WINDOW (active) && veto_window_get_project (VETO_WINDOW (active)) == NULL)
        window = VETO_WINDOW (active);
      else
        window = new_window (self);
      if (path == NULL)
        g_set_error (&error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                     _("%s is not a local file"), g_file_peek_path (files[i]));
      if (path == NULL || !veto_window_open_project (window, path, &error))
        {
          /* Translators: a project could not be opened; %s says why. */
          g_autofree char *text = g_strdup_printf (_("Cannot open the project: %s"),
                                                   error->message);

          veto_window_show_toast (window, text);
        }
      gtk_window_present (GTK_WINDOW (window));
    }
}

static void
quit_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  GtkApplication *application = user_data;
  g_autoptr (GList) windows = g_list_copy (gtk_application_get_windows (application));

  /* Closing each window saves its size and shuts its engine down; the last one ends the
   * application. */
  for (GList *l = windows; l != NULL; l = l->next)
    gtk_window_close (l->data);
}

static void
about_action (GSimpleAction *action, GVariant *parameter, gpointer user_data)
{
  GtkApplication *application = user_data;
  GtkWindow *about;

  about = GTK_WINDOW (adw_about_window_new ());
  g_object_set (about,
                "application-name", "Veto",
                "application-icon", VETO_APPLICATION_ID,
                "developer-name", _("The Veto developers"),
                "version", PACKAGE_VERSION,
                "comments", _("Label images by saying what they are, or what they are not, "
                              "while a model learns from every answer."),
                "website", "https://github.com/veto/veto",
                "issue-url", "https://github.com/veto/veto/issues",
                "license-type", GTK_LICENSE_MIT_X11,
                /* Translators: your names, one per line. */
                "translator-credits", _("translator-credits"),
                NULL);
  gtk_window_set_transient_for (about, gtk_application_get_active_window (application));
  gtk_window_present (about);
}

static void
veto_application_startup (GApplication *application)
{
  static const GActionEntry actions[] = {
    { .name = "quit", .activate = quit_action },
    { .name = "about", .activate = about_action },
  };
  GtkApplication *gtk_app = GTK_APPLICATION (application);

  G_APPLICATION_CLASS (veto_application_parent_class)->startup (application);

  g_action_map_add_action_entries (G_ACTION_MAP (application), actions, G_N_ELEMENTS (actions),
                                   application);
  gtk_application_set_accels_for_action (gtk_app, "app.quit",
                                         (const char *const[]) { "<Control>q", NULL });
}

static void
veto_application_dispose (GObject *object)
{
  VetoApplication *self = VETO_APPLICATION (object);

  g_clear_object (&self->settings);

  G_OBJECT_CLASS (veto_application_parent_class)->dispose (object);
}

static void
veto_application_class_init (VetoApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *application_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = veto_application_dispose;
  application_class->startup = veto_application_startup;
  application_class->activate = veto_application_activate;
  application_class->open = veto_application_open;
}

static void
veto_application_init (VetoApplication *self)
{
}

int
veto_application_run (const char *const *projects, const char *mode)
{
  g_autoptr (VetoApplication) application = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GSettings) settings = NULL;

  bindtextdomain (GETTEXT_PACKAGE, VETO_LOCALE_DIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  settings = create_settings ();
  if (settings == NULL)
    {
      g_printerr ("veto: the settings schema %s is not installed; install Veto, or point "
                  "GSETTINGS_SCHEMA_DIR at the folder holding its compiled schema\n",
                  VETO_APPLICATION_ID);
      return 1;
    }
  if (mode != NULL)
    g_settings_set_string (settings, "mode", mode);

  application = g_object_new (VETO_TYPE_APPLICATION,
                              "application-id", VETO_APPLICATION_ID,
                              "flags", G_APPLICATION_HANDLES_OPEN,
                              "resource-base-path", "/io/github/veto/Veto",
                              NULL);
  application->settings = g_steal_pointer (&settings);
  g_ptr_array_add (argv, (gpointer) "veto");
  for (guint i = 0; projects != NULL && projects[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) projects[i]);
  g_ptr_array_add (argv, NULL);
  return g_application_run (G_APPLICATION (application), (int) argv->len - 1,
                            (char **) argv->pdata);
}
