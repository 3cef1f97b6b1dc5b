/* veto-window: the main window: the welcome page, or an open project's views and its engine. */
#include "veto-window.h"

#include <glib/gi18n.h>

#include "veto-dashboard.h"
#include "veto-gallery.h"
#include "veto-preferences-window.h"
#include "veto-welcome.h"

#define MAX_RECENT 10
#define MAX_KNOWN_NAMES 10

struct _VetoWindow
{
  AdwApplicationWindow parent_instance;

  GSettings *settings;
  char *project;          /* absolute path of the open project, or NULL */
  VetoEngine *engine;
  guint reload_id;        /* idle that remakes the engine after a settings change */
  GtkWidget *gallery;     /* the project's other views, made for each engine */
  GtkWidget *dashboard;

  AdwToastOverlay *toast_overlay;
  AdwViewSwitcherTitle *switcher_title;
  AdwViewSwitcherBar *switcher_bar;
  GtkWidget *close_button;
  GtkStack *main_stack;
  AdwViewStack *view_stack;
  VetoLabelView *label_view;
};

G_DEFINE_FINAL_TYPE (VetoWindow, veto_window, ADW_TYPE_APPLICATION_WINDOW)

enum
{
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Settings the engine is made from: a change to one makes a new engine. */
static const char *const engine_keys[] = {
  "annotator", "mode", "strategy", "candidates", "candidate-rule", "anchors", "retrain-every",
  "features", "budget", NULL,
};

static void veto_window_update_actions (VetoWindow *self);

void
veto_window_show_toast (VetoWindow *self, const char *text)
{
  g_autofree char *escaped = g_markup_escape_text (text, -1);

  g_return_if_fail (VETO_IS_WINDOW (self));

  adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (escaped));
}

/* The name answers are recorded under: the setting, else the account's name. */
static char *
annotator_name (VetoWindow *self)
{
  g_autofree char *name = g_strstrip (g_settings_get_string (self->settings, "annotator"));
  const char *real = g_get_real_name ();

  if (*name != '\0')
    return g_steal_pointer (&name);
  return g_strdup (g_strcmp0 (real, "Unknown") != 0 && *real != '\0' ? real
                                                                     : g_get_user_name ());
}

static VetoAnswerKind
mode_kind (VetoWindow *self)
{
  switch (g_settings_get_enum (self->settings, "mode"))
    {
    case 0:
      return VETO_KIND_ORDINARY;
    case 2:
      return VETO_KIND_PREFERENCE;
    default:
      return VETO_KIND_COMPLEMENTARY;
    }
}

static const char *
mode_title (VetoAnswerKind kind)
{
  switch (kind)
    {
    case VETO_KIND_ORDINARY:
      return _("Ordinary questions");
    case VETO_KIND_PREFERENCE:
      return _("Preference questions");
    default:
      return _("Complementary questions");
    }
}

/* Candidates shown are capped by the project's classes, as `veto simulate` does. */
static guint
class_count (const char *path, GError **error)
{
  g_autoptr (VetoStore) store = veto_store_open (path, TRUE, error);
  g_autoptr (GPtrArray) classes = NULL;

  if (store == NULL)
    return 0;
  classes = veto_store_list_classes (store, error);
  return classes != NULL ? classes->len : 0;
}

static VetoEngine *
create_engine (VetoWindow *self, const char *path, GError **error)
{
  g_autofree char *annotator = annotator_name (self);
  g_autofree char *strategy = g_settings_get_string (self->settings, "strategy");
  g_autofree char *rule = g_settings_get_string (self->settings, "candidate-rule");
  g_autofree char *features = g_settings_get_string (self->settings, "features");
  VetoEngineOptions options;
  guint n_classes;

  n_classes = class_count (path, error);
  if (n_classes == 0 && error != NULL && *error != NULL)
    return NULL;
  veto_engine_options_init (&options);
  options.annotator = annotator;
  options.annotator_kind = VETO_ANNOTATOR_HUMAN;
  options.kind = mode_kind (self);
  options.agcd = g_str_equal (strategy, "agcd");
  if (!options.agcd && !veto_active_strategy_from_string (strategy, &options.strategy, error))
    return NULL;
  if (!veto_active_candidate_rule_from_string (rule, &options.candidates, error))
    return NULL;
  options.n_candidates = MAX (2, MIN (g_settings_get_uint (self->settings, "candidates"),
                                      n_classes));
  options.anchors = g_settings_get_double (self->settings, "anchors");
  options.retrain_every = g_settings_get_uint (self->settings, "retrain-every");
  options.budget = g_settings_get_uint (self->settings, "budget");
  options.features = features;
  return veto_engine_new (path, &options, error);
}

/* Newest first, without duplicates, at most max long. */
static void
push_front (GSettings *settings, const char *key, const char *value, guint max)
{
  g_auto (GStrv) old = g_settings_get_strv (settings, key);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) list = NULL;
  guint n = 1;

  g_strv_builder_add (builder, value);
  for (guint i = 0; old[i] != NULL && n < max; i++)
    if (!g_str_equal (old[i], value))
      {
        g_strv_builder_add (builder, old[i]);
        n++;
      }
  list = g_strv_builder_end (builder);
  if (!g_strv_equal ((const char *const *) list, (const char *const *) old))
    g_settings_set_strv (settings, key, (const char *const *) list);
}

static void
update_titles (VetoWindow *self)
{
  if (self->project != NULL)
    {
      g_autofree char *base = g_filename_display_basename (self->project);
      g_autofree char *annotator = annotator_name (self);
      g_autofree char *subtitle = NULL;
      g_autofree char *title = NULL;

      if (g_str_has_suffix (base, ".veto"))
        base[strlen (base) - strlen (".veto")] = '\0';
      /* Translators: the window's subtitle, "Complementary questions · Ada". */
      subtitle = g_strdup_printf (_("%s · %s"), mode_title (mode_kind (self)), annotator);
      /* Translators: the window's title, "shirts — Veto". */
      title = g_strdup_printf (_("%s — Veto"), base);
      adw_view_switcher_title_set_title (self->switcher_title, base);
      adw_view_switcher_title_set_subtitle (self->switcher_title, subtitle);
      gtk_window_set_title (GTK_WINDOW (self), title);
    }
  else
    {
      adw_view_switcher_title_set_title (self->switcher_title, "Veto");
      adw_view_switcher_title_set_subtitle (self->switcher_title, "");
      gtk_window_set_title (GTK_WINDOW (self), "Veto");
    }
}

static void
replace_view (VetoWindow *self, GtkWidget **slot, GtkWidget *view, const char *name,
              const char *title, const char *icon)
{
  if (*slot != NULL)
    adw_view_stack_remove (self->view_stack, *slot);
  *slot = view;
  if (view != NULL)
    {
      AdwViewStackPage *page = adw_view_stack_add_titled (self->view_stack, view, name, title);

      adw_view_stack_page_set_icon_name (page, icon);
      adw_view_stack_page_set_use_underline (page, TRUE);
    }
}

/* The project's views follow the engine: the label view takes the new one in place, the
 * gallery and the dashboard are made anew for it, and the view shown stays shown. */
static void
set_engine (VetoWindow *self, VetoEngine *engine)
{
  VetoEngine *old = self->engine;
  g_autofree char *shown = g_strdup (adw_view_stack_get_visible_child_name (self->view_stack));

  self->engine = engine != NULL ? g_object_ref (engine) : NULL;
  veto_label_view_set_engine (self->label_view, engine);
  replace_view (self, &self->gallery, engine != NULL ? veto_gallery_new (engine) : NULL,
                "gallery", _("_Gallery"), "view-grid-symbolic");
  replace_view (self, &self->dashboard, engine != NULL ? veto_dashboard_new (engine) : NULL,
                "dashboard", _("_Dashboard"), "x-office-spreadsheet-symbolic");
  if (engine != NULL && shown != NULL)
    adw_view_stack_set_visible_child_name (self->view_stack, shown);
  if (old != NULL)
    {
      veto_engine_shutdown (old);
      g_object_unref (old);
    }
}

static void
update_switcher_bar (VetoWindow *self)
{
  GtkSelectionModel *pages = adw_view_stack_get_pages (self->view_stack);
  gboolean several = g_list_model_get_n_items (G_LIST_MODEL (pages)) > 1;

  adw_view_switcher_bar_set_reveal (self->switcher_bar,
                                    several
                                    && adw_view_switcher_title_get_title_visible (
                                        self->switcher_title));
  g_object_unref (pages);
}

gboolean
veto_window_open_project (VetoWindow *self, const char *path, GError **error)
{
  g_autofree char *absolute = NULL;
  g_autoptr (VetoEngine) engine = NULL;
  g_autofree char *annotator = NULL;

  g_return_val_if_fail (VETO_IS_WINDOW (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  absolute = g_canonicalize_filename (path, NULL);
  engine = create_engine (self, absolute, error);
  if (engine == NULL)
    return FALSE;
  g_clear_handle_id (&self->reload_id, g_source_remove);
  set_engine (self, engine);
  g_free (self->project);
  self->project = g_steal_pointer (&absolute);
  push_front (self->settings, "recent-projects", self->project, MAX_RECENT);
  annotator = annotator_name (self);
  push_front (self->settings, "known-annotators", annotator, MAX_KNOWN_NAMES);
  adw_view_stack_set_visible_child_name (self->view_stack, "label");
  gtk_stack_set_visible_child_name (self->main_stack, "project");
  update_titles (self);
  update_switcher_bar (self);
  veto_window_update_actions (self);
  gtk_widget_grab_focus (GTK_WIDGET (self->label_view));
  return TRUE;
}

void
veto_window_close_project (VetoWindow *self)
{
  g_return_if_fail (VETO_IS_WINDOW (self));

  g_clear_handle_id (&self->reload_id, g_source_remove);
  set_engine (self, NULL);
  g_clear_pointer (&self->project, g_free);
  gtk_stack_set_visible_child_name (self->main_stack, "welcome");
  update_titles (self);
  veto_window_update_actions (self);
}

const char *
veto_window_get_project (VetoWindow *self)
{
  g_return_val_if_fail (VETO_IS_WINDOW (self), NULL);

  return self->project;
}

VetoEngine *
veto_window_get_engine (VetoWindow *self)
{
  g_return_val_if_fail (VETO_IS_WINDOW (self), NULL);

  return self->engine;
}

VetoLabelView *
veto_window_get_label_view (VetoWindow *self)
{
  g_return_val_if_fail (VETO_IS_WINDOW (self), NULL);

  return self->label_view;
}

static gboolean
reload_engine (gpointer user_data)
{
  VetoWindow *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoEngine) engine = NULL;

  self->reload_id = 0;
  if (self->project == NULL)
    return G_SOURCE_REMOVE;
  engine = create_engine (self, self->project, &error);
  if (engine == NULL)
    {
      /* Translators: new settings could not be used; %s says why. */
      g_autofree char *text = g_strdup_printf (_("Settings not applied: %s"), error->message);

      veto_window_show_toast (self, text);
    }
  else
    set_engine (self, engine);
  update_titles (self);
  return G_SOURCE_REMOVE;
}

static void
settings_changed_cb (VetoWindow *self, const char *key)
{
  if (self->project == NULL || !g_strv_contains (engine_keys, key) || self->reload_id != 0)
    return;
  /* Once for several keys changed together. */
  self->reload_id = g_idle_add (reload_engine, self);
}

static void
open_project_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoWindow *self = VETO_WINDOW (widget);
  g_autoptr (GError) error = NULL;

  if (!veto_window_open_project (self, g_variant_get_string (parameter, NULL), &error))
    {
      /* Translators: a project could not be opened; %s says why. */
      g_autofree char *text = g_strdup_printf (_("Cannot open the project: %s"), error->message);

      veto_window_show_toast (self, text);
    }
}

static void
open_response_cb (GtkNativeDialog *chooser, int response, VetoWindow *self)
{
  g_autoptr (GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));

  gtk_native_dialog_destroy (chooser);
  g_object_unref (chooser);
  if (response == GTK_RESPONSE_ACCEPT && file != NULL)
    {
      g_autofree char *path = g_file_get_path (file);

      gtk_widget_activate_action (GTK_WIDGET (self), "win.open-project", "s", path);
    }
  g_object_unref (self);
}

static void
open_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  GtkFileChooserNative *chooser;
  g_autoptr (GtkFileFilter) filter = gtk_file_filter_new ();

  chooser = gtk_file_chooser_native_new (_("Open a Project"), GTK_WINDOW (widget),
                                         GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"), _("_Cancel"));
  gtk_file_filter_set_name (filter, _("Veto projects"));
  gtk_file_filter_add_pattern (filter, "*.veto");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  g_signal_connect (chooser, "response", G_CALLBACK (open_response_cb), g_object_ref (widget));
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
close_project_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  veto_window_close_project (VETO_WINDOW (widget));
}

static void
preferences_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoWindow *self = VETO_WINDOW (widget);
  GtkWidget *preferences = veto_preferences_window_new (self->settings);

  gtk_window_set_transient_for (GTK_WINDOW (preferences), GTK_WINDOW (self));
  gtk_window_present (GTK_WINDOW (preferences));
}

static void
veto_window_update_actions (VetoWindow *self)
{
  gboolean open = self->project != NULL;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.close-project", open);
  gtk_widget_set_visible (self->close_button, open);
}

static gboolean
veto_window_close_request (GtkWindow *window)
{
  VetoWindow *self = VETO_WINDOW (window);
  int width, height;

  gtk_window_get_default_size (window, &width, &height);
  g_settings_set_int (self->settings, "window-width", width);
  g_settings_set_int (self->settings, "window-height", height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
  veto_window_close_project (self);
  return GTK_WINDOW_CLASS (veto_window_parent_class)->close_request (window);
}

VetoWindow *
veto_window_new (GtkApplication *application, GSettings *settings)
{
  return g_object_new (VETO_TYPE_WINDOW, "application", application, "settings", settings, NULL);
}

static void
veto_window_constructed (GObject *object)
{
  VetoWindow *self = VETO_WINDOW (object);

  G_OBJECT_CLASS (veto_window_parent_class)->constructed (object);

  gtk_stack_add_named (self->main_stack, veto_welcome_new (self->settings), "welcome");
  gtk_stack_set_visible_child_name (self->main_stack, "welcome");
  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
  g_signal_connect_object (self->settings, "changed", G_CALLBACK (settings_changed_cb), self,
                           G_CONNECT_SWAPPED);
  update_titles (self);
  veto_window_update_actions (self);
}

static void
veto_window_set_property (GObject *object, guint prop_id, const GValue *value,
                          GParamSpec *pspec)
{
  VetoWindow *self = VETO_WINDOW (object);

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
veto_window_dispose (GObject *object)
{
  VetoWindow *self = VETO_WINDOW (object);

  g_clear_handle_id (&self->reload_id, g_source_remove);
  if (self->engine != NULL)
    {
      veto_engine_shutdown (self->engine);
      g_clear_object (&self->engine);
    }
  g_clear_pointer (&self->project, g_free);

  G_OBJECT_CLASS (veto_window_parent_class)->dispose (object);
}

static void
veto_window_finalize (GObject *object)
{
  VetoWindow *self = VETO_WINDOW (object);

  g_clear_object (&self->settings);

  G_OBJECT_CLASS (veto_window_parent_class)->finalize (object);
}

static void
veto_window_class_init (VetoWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->constructed = veto_window_constructed;
  object_class->set_property = veto_window_set_property;
  object_class->dispose = veto_window_dispose;
  object_class->finalize = veto_window_finalize;
  window_class->close_request = veto_window_close_request;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                         G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  g_type_ensure (VETO_TYPE_LABEL_VIEW);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/veto/Veto/ui/veto-window.ui");
  gtk_widget_class_bind_template_child (widget_class, VetoWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, VetoWindow, switcher_title);
  gtk_widget_class_bind_template_child (widget_class, VetoWindow, switcher_bar);
  gtk_widget_class_bind_template_child (widget_class, VetoWindow, close_button);
  gtk_widget_class_bind_template_child (widget_class, VetoWindow, main_stack);
  gtk_widget_class_bind_template_child (widget_class, VetoWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, VetoWindow, label_view);

  gtk_widget_class_install_action (widget_class, "win.open", NULL, open_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_o, GDK_CONTROL_MASK, "win.open",
                                       NULL);
  gtk_widget_class_install_action (widget_class, "win.open-project", "s", open_project_action);
  gtk_widget_class_install_action (widget_class, "win.close-project", NULL,
                                   close_project_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_w, GDK_CONTROL_MASK,
                                       "win.close-project", NULL);
  gtk_widget_class_install_action (widget_class, "win.preferences", NULL, preferences_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_comma, GDK_CONTROL_MASK,
                                       "win.preferences", NULL);
}

static void
veto_window_init (VetoWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  g_signal_connect_swapped (self->switcher_title, "notify::title-visible",
                            G_CALLBACK (update_switcher_bar), self);
}
