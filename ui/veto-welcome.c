/* veto-welcome: the start page: the annotator's name, recent projects, new projects, the demo. */
#include "veto-welcome.h"

#include <glib/gi18n.h>
#include <string.h>

#include "veto-demo.h"
#include "veto-import.h"
#include "veto-import-job.h"

struct _VetoWelcome
{
  AdwBin parent_instance;

  GSettings *settings;
  VetoImportJob *job;   /* the project being made, or NULL */

  GtkWidget *demo_button;
  GtkRevealer *progress_revealer;
  GtkLabel *progress_label;
  GtkProgressBar *progress_bar;
  AdwEntryRow *annotator_row;
  GtkMenuButton *annotators_button;
  GtkWidget *recent_group;
  GtkListBox *recent_list;
};

G_DEFINE_FINAL_TYPE (VetoWelcome, veto_welcome, ADW_TYPE_BIN)

enum
{
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void veto_welcome_update_actions (VetoWelcome *self);

static void
show_toast (VetoWelcome *self, const char *text)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);
  g_autofree char *escaped = g_markup_escape_text (text, -1);

  if (overlay != NULL)
    adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), adw_toast_new (escaped));
}

static gboolean
demo_data_present (void)
{
  g_autofree char *images = g_build_filename (VETO_DEMO_DATA_DIR, "train-images-idx3-ubyte.gz",
                                              NULL);

  return g_file_test (images, G_FILE_TEST_IS_REGULAR);
}

/* "~/data/shirts" rather than "/home/ada/data/shirts". */
static char *
folder_for_display (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  const char *home = g_get_home_dir ();
  gsize n = strlen (home);

  if (g_str_has_prefix (dir, home) && (dir[n] == '/' || dir[n] == '\0'))
    return g_strconcat ("~", dir + n, NULL);
  return g_filename_display_name (dir);
}

static GtkWidget *
recent_row (const char *path)
{
  g_autofree char *base = g_filename_display_basename (path);
  g_autofree char *folder = folder_for_display (path);
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *forget = gtk_button_new_from_icon_name ("window-close-symbolic");
  gboolean present = g_file_test (path, G_FILE_TEST_IS_REGULAR);

  if (g_str_has_suffix (base, ".veto"))
    base[strlen (base) - strlen (".veto")] = '\0';
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), base);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  if (present)
    adw_action_row_set_subtitle (ADW_ACTION_ROW (row), folder);
  else
    {
      /* Translators: a recent project whose file is gone; %s is its folder. */
      g_autofree char *missing = g_strdup_printf (_("%s (not found)"), folder);

      adw_action_row_set_subtitle (ADW_ACTION_ROW (row), missing);
    }
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), present);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (row), "welcome.open-recent");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (row), "s", path);

  gtk_widget_set_valign (forget, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (forget, "flat");
  gtk_widget_set_tooltip_text (forget, _("Remove From List"));
  gtk_accessible_update_property (GTK_ACCESSIBLE (forget), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Remove from the list of recent projects"), -1);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (forget), "welcome.forget");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (forget), "s", path);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), forget);
  if (present)
    adw_action_row_add_suffix (ADW_ACTION_ROW (row),
                               gtk_image_new_from_icon_name ("go-next-symbolic"));
  return row;
}

static void
update_recent (VetoWelcome *self)
{
  g_auto (GStrv) recent = g_settings_get_strv (self->settings, "recent-projects");
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->recent_list))) != NULL)
    gtk_list_box_remove (self->recent_list, child);
  for (guint i = 0; recent[i] != NULL; i++)
    gtk_list_box_append (self->recent_list, recent_row (recent[i]));
  gtk_widget_set_visible (self->recent_group, recent[0] != NULL);
}

static void
update_known_names (VetoWelcome *self)
{
  g_auto (GStrv) names = g_settings_get_strv (self->settings, "known-annotators");
  g_autoptr (GMenu) menu = g_menu_new ();

  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autoptr (GMenuItem) item = g_menu_item_new (names[i], NULL);

      g_menu_item_set_action_and_target_value (item, "welcome.use-name",
                                               g_variant_new_string (names[i]));
      g_menu_append_item (menu, item);
    }
  gtk_menu_button_set_menu_model (self->annotators_button, G_MENU_MODEL (menu));
  gtk_widget_set_visible (GTK_WIDGET (self->annotators_button), names[0] != NULL);
}

static void
settings_changed_cb (VetoWelcome *self, const char *key)
{
  if (g_strcmp0 (key, "recent-projects") == 0)
    update_recent (self);
  else if (g_strcmp0 (key, "known-annotators") == 0)
    update_known_names (self);
}

static void
open_project (VetoWelcome *self, const char *path)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "win.open-project", "s", path);
}

static void
job_progress_cb (VetoWelcome *self, double fraction)
{
  gtk_progress_bar_set_fraction (self->progress_bar, fraction);
}

static void
job_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (VetoWelcome) self = user_data;
  VetoImportJob *job = VETO_IMPORT_JOB (source);
  g_autoptr (GError) error = NULL;

  gtk_revealer_set_reveal_child (self->progress_revealer, FALSE);
  g_signal_handlers_disconnect_by_data (job, self);
  g_clear_object (&self->job);
  veto_welcome_update_actions (self);
  if (!veto_import_job_run_finish (job, result, &error)
      && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      show_toast (self, _("Import cancelled: no project made"));
      return;
    }
  if (error != NULL)
    {
      /* Translators: making a new project failed; %s says why. */
      g_autofree char *text = g_strdup_printf (_("No project made: %s"), error->message);

      show_toast (self, text);
      return;
    }
  open_project (self, veto_import_job_get_project (job));
}

static void
start_job (VetoWelcome *self, VetoImportJob *job, const char *what)
{
  g_return_if_fail (self->job == NULL);

  self->job = job;
  gtk_label_set_text (self->progress_label, what);
  gtk_progress_bar_set_fraction (self->progress_bar, 0);
  gtk_revealer_set_reveal_child (self->progress_revealer, TRUE);
  g_signal_connect_swapped (job, "progress", G_CALLBACK (job_progress_cb), self);
  veto_welcome_update_actions (self);
  veto_import_job_run_async (job, job_done_cb, g_object_ref (self));
}

/* Makes a new project at PROJECT from SOURCE in a thread (the page shows its progress), then
 * opens it. */
static void
create_project (VetoWelcome *self, const char *project, const char *source,
                VetoImportFormat format, const char *labels)
{
  g_autofree char *name = g_filename_display_basename (source);
  /* Translators: shown above the progress bar; %s is the file or folder being imported. */
  g_autofree char *what = g_strdup_printf (_("Importing %s…"), name);

  start_job (self, veto_import_job_new (project, source, format, labels), what);
}

/* --- choosing the data and the new project's file --- */

typedef struct
{
  VetoWelcome *self;
  VetoImportFormat format;
  char *source;
  char *labels;
} NewProject;

static void
new_project_free (NewProject *np)
{
  g_object_unref (np->self);
  g_free (np->source);
  g_free (np->labels);
  g_free (np);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (NewProject, new_project_free)

/* MNIST's names pair train-images-idx3-ubyte with train-labels-idx1-ubyte. */
static char *
idx_labels_beside (const char *images)
{
  g_autofree char *dir = g_path_get_dirname (images);
  g_autofree char *base = g_path_get_basename (images);
  g_autoptr (GString) name = g_string_new (base);
  g_autofree char *path = NULL;

  if (g_string_replace (name, "images", "labels", 1) == 0)
    return NULL;
  g_string_replace (name, "idx3", "idx1", 1);
  path = g_build_filename (dir, name->str, NULL);
  return g_file_test (path, G_FILE_TEST_IS_REGULAR) ? g_steal_pointer (&path) : NULL;
}

static void
save_response_cb (GtkNativeDialog *chooser, int response, gpointer user_data)
{
  g_autoptr (NewProject) np = user_data;
  g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  g_autofree char *path = NULL;

  gtk_native_dialog_destroy (chooser);
  g_object_unref (chooser);
  if (response != GTK_RESPONSE_ACCEPT || file == NULL)
    return;
  path = g_file_get_path (file);
  if (!g_str_has_suffix (path, ".veto"))
    {
      char *named = g_strconcat (path, ".veto", NULL);

      g_free (path);
      path = named;
    }
  create_project (np->self, path, np->source, np->format, np->labels);
}

static void
source_response_cb (GtkNativeDialog *chooser, int response, gpointer user_data)
{
  g_autoptr (NewProject) np = user_data;
  g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  g_autoptr (GFile) source = NULL;
  g_autoptr (GFile) parent = NULL;
  g_autofree char *stem = NULL;
  g_autofree char *name = NULL;
  GtkFileChooserNative *save;
  char *dot;

  gtk_native_dialog_destroy (chooser);
  g_object_unref (chooser);
  if (response != GTK_RESPONSE_ACCEPT || file == NULL)
    return;
  np->source = g_file_get_path (file);
  if (np->format == VETO_FORMAT_IDX)
    np->labels = idx_labels_beside (np->source);
  /* A CIFAR-10 batch stands for every batch of its folder. */
  stem = g_path_get_basename (np->source);
  if (np->format == VETO_FORMAT_AUTO && g_str_has_prefix (stem, "data_batch_"))
    {
      char *dir = g_path_get_dirname (np->source);

      g_free (np->source);
      np->source = dir;
      g_free (stem);
      stem = g_path_get_basename (dir);
    }
  if ((dot = strchr (stem, '.')) != NULL && dot != stem)
    *dot = '\0';
  name = g_strconcat (stem, ".veto", NULL);

  save = gtk_file_chooser_native_new (_("Save the New Project"),
                                      GTK_WINDOW (gtk_widget_get_root (GTK_WIDGET (np->self))),
                                      GTK_FILE_CHOOSER_ACTION_SAVE, _("_Create"), _("_Cancel"));
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (save), name);
  source = g_file_new_for_path (np->source);
  parent = g_file_get_parent (source);
  if (parent != NULL)
    gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (save), parent, NULL);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (save), TRUE);
  g_signal_connect (save, "response", G_CALLBACK (save_response_cb), g_steal_pointer (&np));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (save));
}

static void
add_filter (GtkFileChooser *chooser, const char *name, const char *const *patterns)
{
  g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();

  gtk_file_filter_set_name (filter, name);
  for (guint i = 0; patterns[i] != NULL; i++)
    gtk_file_filter_add_pattern (filter, patterns[i]);
  gtk_file_chooser_add_filter (chooser, filter);
}

static void
new_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoWelcome *self = VETO_WELCOME (widget);
  const char *kind = g_variant_get_string (parameter, NULL);
  GtkFileChooserAction mode = GTK_FILE_CHOOSER_ACTION_OPEN;
  NewProject *np = g_new0 (NewProject, 1);
  const char *title;
  GtkFileChooserNative *chooser;

  np->self = g_object_ref (self);
  if (g_str_equal (kind, "folder"))
    {
      np->format = VETO_FORMAT_IMAGE_FOLDER;
      mode = GTK_FILE_CHOOSER_ACTION_SELECT_FOLDER;
      title = _("Choose a Folder of Images (One Subfolder per Class)");
    }
  else if (g_str_equal (kind, "idx"))
    {
      np->format = VETO_FORMAT_IDX;
      title = _("Choose an IDX Images File");
    }
  else if (g_str_equal (kind, "cifar"))
    {
      np->format = VETO_FORMAT_AUTO;
      title = _("Choose a CIFAR Batch File");
    }
  else
    {
      np->format = VETO_FORMAT_CSV;
      title = _("Choose a CSV Manifest");
    }
  chooser = gtk_file_chooser_native_new (title, GTK_WINDOW (gtk_widget_get_root (widget)), mode,
                                         _("_Choose"), _("_Cancel"));
  if (np->format == VETO_FORMAT_IDX)
    add_filter (GTK_FILE_CHOOSER (chooser), _("IDX files"),
                (const char *const[]) { "*-ubyte", "*-ubyte.gz", "*.idx", "*.idx.gz", NULL });
  else if (np->format == VETO_FORMAT_AUTO)
    add_filter (GTK_FILE_CHOOSER (chooser), _("CIFAR batches"),
                (const char *const[]) { "*.bin", NULL });
  else if (np->format == VETO_FORMAT_CSV)
    add_filter (GTK_FILE_CHOOSER (chooser), _("CSV manifests"),
                (const char *const[]) { "*.csv", NULL });
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (source_response_cb), np);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
demo_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoWelcome *self = VETO_WELCOME (widget);
  g_autofree char *path = veto_demo_default_path ();

  start_job (self, veto_import_job_new_demo (path),
             _("Preparing the Fashion-MNIST demo (once)…"));
}

static void
open_recent_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  open_project (VETO_WELCOME (widget), g_variant_get_string (parameter, NULL));
}

static void
forget_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoWelcome *self = VETO_WELCOME (widget);
  const char *path = g_variant_get_string (parameter, NULL);
  g_auto (GStrv) recent = g_settings_get_strv (self->settings, "recent-projects");
  g_autoptr (GStrvBuilder) kept = g_strv_builder_new ();
  g_auto (GStrv) list = NULL;

  for (guint i = 0; recent[i] != NULL; i++)
    if (!g_str_equal (recent[i], path))
      g_strv_builder_add (kept, recent[i]);
  list = g_strv_builder_end (kept);
  g_settings_set_strv (self->settings, "recent-projects", (const char *const *) list);
}

static void
use_name_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoWelcome *self = VETO_WELCOME (widget);

  gtk_editable_set_text (GTK_EDITABLE (self->annotator_row),
                         g_variant_get_string (parameter, NULL));
}

static void
cancel_import_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoWelcome *self = VETO_WELCOME (widget);

  if (self->job != NULL)
    veto_import_job_cancel (self->job);
}

static void
veto_welcome_update_actions (VetoWelcome *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  gboolean idle = self->job == NULL;
  g_autofree char *demo = veto_demo_default_path ();
  gboolean demo_possible = demo_data_present () || g_file_test (demo, G_FILE_TEST_IS_REGULAR);

  gtk_widget_action_set_enabled (widget, "welcome.new", idle);
  gtk_widget_action_set_enabled (widget, "welcome.demo", idle && demo_possible);
  gtk_widget_action_set_enabled (widget, "welcome.open-recent", idle);
  gtk_widget_action_set_enabled (widget, "welcome.forget", idle);
  gtk_widget_action_set_enabled (widget, "welcome.cancel-import", !idle);
  if (!demo_possible)
    gtk_widget_set_tooltip_text (self->demo_button,
                                 _("Install the dataset-fashion-mnist package to try the demo"));
}

GtkWidget *
veto_welcome_new (GSettings *settings)
{
  return g_object_new (VETO_TYPE_WELCOME, "settings", settings, NULL);
}

static void
veto_welcome_constructed (GObject *object)
{
  VetoWelcome *self = VETO_WELCOME (object);

  G_OBJECT_CLASS (veto_welcome_parent_class)->constructed (object);

  g_settings_bind (self->settings, "annotator", self->annotator_row, "text",
                   G_SETTINGS_BIND_DEFAULT);
  /* A first run proposes the account's name (GLib says "Unknown" when it has none). */
  if (*gtk_editable_get_text (GTK_EDITABLE (self->annotator_row)) == '\0')
    gtk_editable_set_text (GTK_EDITABLE (self->annotator_row),
                           g_strcmp0 (g_get_real_name (), "Unknown") != 0 ? g_get_real_name ()
                                                                          : g_get_user_name ());
  g_signal_connect_object (self->settings, "changed", G_CALLBACK (settings_changed_cb), self,
                           G_CONNECT_SWAPPED);
  update_recent (self);
  update_known_names (self);
  veto_welcome_update_actions (self);
}

static void
veto_welcome_set_property (GObject *object, guint prop_id, const GValue *value,
                           GParamSpec *pspec)
{
  VetoWelcome *self = VETO_WELCOME (object);

  switch (prop_id)
    {
    case PROP_SETTINGS:
      self->settings = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
veto_welcome_dispose (GObject *object)
{
  VetoWelcome *self = VETO_WELCOME (object);

  if (self->job != NULL)
    g_signal_handlers_disconnect_by_data (self->job, self);
  g_clear_object (&self->job);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (veto_welcome_parent_class)->dispose (object);
}

static void
veto_welcome_class_init (VetoWelcomeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = veto_welcome_constructed;
  object_class->set_property = veto_welcome_set_property;
  object_class->dispose = veto_welcome_dispose;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                         G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/veto/Veto/ui/veto-welcome.ui");
  gtk_widget_class_bind_template_child (widget_class, VetoWelcome, demo_button);
  gtk_widget_class_bind_template_child (widget_class, VetoWelcome, progress_revealer);
  gtk_widget_class_bind_template_child (widget_class, VetoWelcome, progress_label);
  gtk_widget_class_bind_template_child (widget_class, VetoWelcome, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, VetoWelcome, annotator_row);
  gtk_widget_class_bind_template_child (widget_class, VetoWelcome, annotators_button);
  gtk_widget_class_bind_template_child (widget_class, VetoWelcome, recent_group);
  gtk_widget_class_bind_template_child (widget_class, VetoWelcome, recent_list);

  gtk_widget_class_install_action (widget_class, "welcome.new", "s", new_action);
  gtk_widget_class_install_action (widget_class, "welcome.demo", NULL, demo_action);
  gtk_widget_class_install_action (widget_class, "welcome.cancel-import", NULL,
                                   cancel_import_action);
  gtk_widget_class_install_action (widget_class, "welcome.open-recent", "s", open_recent_action);
  gtk_widget_class_install_action (widget_class, "welcome.forget", "s", forget_action);
  gtk_widget_class_install_action (widget_class, "welcome.use-name", "s", use_name_action);
}

static void
veto_welcome_init (VetoWelcome *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
