/* veto-preferences-window: question, selection and learning settings, bound to GSettings. */
#include "veto-preferences-window.h"

#include <glib/gi18n.h>

#include "veto-active.h"

struct _VetoPreferencesWindow
{
  AdwPreferencesWindow parent_instance;

  GSettings *settings;
  /* The setting's value of each combo row's items, in order (NULL-terminated). */
  GStrv modes;
  GStrv strategies;
  GStrv rules;
  GStrv features;

  AdwComboRow *mode_row;
  GtkSpinButton *candidates_spin;
  AdwComboRow *rule_row;
  AdwComboRow *strategy_row;
  AdwComboRow *features_row;
  GtkSpinButton *retrain_spin;
  GtkSpinButton *budget_spin;
  AdwEntryRow *annotator_row;
};

G_DEFINE_FINAL_TYPE (VetoPreferencesWindow, veto_preferences_window, ADW_TYPE_PREFERENCES_WINDOW)

enum
{
  PROP_0,
  PROP_SETTINGS,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static const char *
strategy_title (const char *name)
{
  static const struct
  {
    const char *name;
    const char *title;
  } titles[] = {
    { "random", N_("Random") },
    { "least-confidence", N_("Least confident first") },
    { "margin", N_("Smallest margin first") },
    { "entropy", N_("Highest entropy first") },
    { "density", N_("Uncertain and typical (density-weighted)") },
    { "coreset", N_("Spread over the data (core-set)") },
    { "badge", N_("BADGE (uncertain and diverse)") },
    { "distill", N_("Distillation (needs a teacher)") },
    { "information", N_("Most informative question (expected information gain)") },
    { "kmeans-margin", N_("Smallest margins, one per cluster (uncertain and diverse)") },
    { "agcd", N_("Find novel classes (AGCD)") },
  };

  for (guint i = 0; i < G_N_ELEMENTS (titles); i++)
    if (g_str_equal (titles[i].name, name))
      return _(titles[i].title);
  return name;
}

static const char *
features_title (const char *name)
{
  if (g_str_equal (name, "pixels"))
    return _("Pixels");
  if (g_str_equal (name, "hog"))
    return _("Shapes and edges (HOG)");
  if (g_str_equal (name, "kmeans"))
    return _("Learned patches (k-means)");
  return name;
}

/* The row's items are the values' titles; the setting holds the value of the selected one. */
static gboolean
index_from_value (GValue *value, GVariant *variant, gpointer user_data)
{
  const char *const *values = user_data;
  const char *current = g_variant_get_string (variant, NULL);

  for (guint i = 0; values[i] != NULL; i++)
    if (g_str_equal (values[i], current))
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  return FALSE;
}

static GVariant *
value_from_index (const GValue *value, const GVariantType *expected_type, gpointer user_data)
{
  const char *const *values = user_data;
  guint index = g_value_get_uint (value);

  if (index >= g_strv_length ((GStrv) values))
    return NULL;
  return g_variant_new_string (values[index]);
}

static void
bind_choice (VetoPreferencesWindow *self, AdwComboRow *row, const char *key, GStrv values,
             const char *(*title) (const char *))
{
  if (title != NULL)
    {
      g_autoptr (GtkStringList) titles = gtk_string_list_new (NULL);

      for (guint i = 0; values[i] != NULL; i++)
        gtk_string_list_append (titles, title (values[i]));
      adw_combo_row_set_model (row, G_LIST_MODEL (titles));
    }
  g_settings_bind_with_mapping (self->settings, key, row, "selected", G_SETTINGS_BIND_DEFAULT,
                                index_from_value, value_from_index, values, NULL);
}

/* Every strategy of the engine that the schema accepts, and AGCD. */
static GStrv
strategy_values (GSettings *settings)
{
  g_autoptr (GSettingsSchema) schema = NULL;
  g_autoptr (GSettingsSchemaKey) key = NULL;
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  const char *const *names = veto_active_strategy_names ();

  g_object_get (settings, "settings-schema", &schema, NULL);
  key = g_settings_schema_get_key (schema, "strategy");
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autoptr (GVariant) name = g_variant_ref_sink (g_variant_new_string (names[i]));

      if (g_settings_schema_key_range_check (key, name))
        g_strv_builder_add (builder, names[i]);
    }
  g_strv_builder_add (builder, "agcd");
  return g_strv_builder_end (builder);
}

static GStrv
features_values (GSettings *settings)
{
  g_autofree char *current = g_settings_get_string (settings, "features");
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  const char *known[] = { "pixels", "hog", "kmeans", NULL };

  g_strv_builder_addv (builder, known);
  if (!g_strv_contains (known, current))
    g_strv_builder_add (builder, current);
  return g_strv_builder_end (builder);
}

static void
annotator_apply_cb (VetoPreferencesWindow *self)
{
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (
      GTK_EDITABLE (self->annotator_row))));

  g_settings_set_string (self->settings, "annotator", name);
}

GtkWidget *
veto_preferences_window_new (GSettings *settings)
{
  return g_object_new (VETO_TYPE_PREFERENCES_WINDOW, "settings", settings, NULL);
}

static void
veto_preferences_window_constructed (GObject *object)
{
  VetoPreferencesWindow *self = VETO_PREFERENCES_WINDOW (object);
  g_autofree char *annotator = NULL;

  G_OBJECT_CLASS (veto_preferences_window_parent_class)->constructed (object);

  self->modes = g_strsplit ("ordinary complementary preference", " ", -1);
  self->rules = g_strsplit ("uniform proportional informative", " ", -1);
  self->strategies = strategy_values (self->settings);
  self->features = features_values (self->settings);
  bind_choice (self, self->mode_row, "mode", self->modes, NULL);
  bind_choice (self, self->rule_row, "candidate-rule", self->rules, NULL);
  bind_choice (self, self->strategy_row, "strategy", self->strategies, strategy_title);
  bind_choice (self, self->features_row, "features", self->features, features_title);
  g_settings_bind (self->settings, "candidates", self->candidates_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "retrain-every", self->retrain_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  g_settings_bind (self->settings, "budget", self->budget_spin, "value",
                   G_SETTINGS_BIND_DEFAULT);
  annotator = g_settings_get_string (self->settings, "annotator");
  gtk_editable_set_text (GTK_EDITABLE (self->annotator_row), annotator);
}

static void
veto_preferences_window_set_property (GObject *object, guint prop_id, const GValue *value,
                                      GParamSpec *pspec)
{
  VetoPreferencesWindow *self = VETO_PREFERENCES_WINDOW (object);

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
veto_preferences_window_dispose (GObject *object)
{
  VetoPreferencesWindow *self = VETO_PREFERENCES_WINDOW (object);

  /* The bindings point at the value arrays: they go first. */
  g_settings_unbind (self->mode_row, "selected");
  g_settings_unbind (self->rule_row, "selected");
  g_settings_unbind (self->strategy_row, "selected");
  g_settings_unbind (self->features_row, "selected");

  G_OBJECT_CLASS (veto_preferences_window_parent_class)->dispose (object);
}

static void
veto_preferences_window_finalize (GObject *object)
{
  VetoPreferencesWindow *self = VETO_PREFERENCES_WINDOW (object);

  g_strfreev (self->modes);
  g_strfreev (self->rules);
  g_strfreev (self->strategies);
  g_strfreev (self->features);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (veto_preferences_window_parent_class)->finalize (object);
}

static void
veto_preferences_window_class_init (VetoPreferencesWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = veto_preferences_window_constructed;
  object_class->set_property = veto_preferences_window_set_property;
  object_class->dispose = veto_preferences_window_dispose;
  object_class->finalize = veto_preferences_window_finalize;

  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, NULL, G_TYPE_SETTINGS,
                         G_PARAM_WRITABLE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (
      widget_class, "/io/github/veto/Veto/ui/veto-preferences-window.ui");
  gtk_widget_class_bind_template_child (widget_class, VetoPreferencesWindow, mode_row);
  gtk_widget_class_bind_template_child (widget_class, VetoPreferencesWindow, candidates_spin);
  gtk_widget_class_bind_template_child (widget_class, VetoPreferencesWindow, rule_row);
  gtk_widget_class_bind_template_child (widget_class, VetoPreferencesWindow, strategy_row);
  gtk_widget_class_bind_template_child (widget_class, VetoPreferencesWindow, features_row);
  gtk_widget_class_bind_template_child (widget_class, VetoPreferencesWindow, retrain_spin);
  gtk_widget_class_bind_template_child (widget_class, VetoPreferencesWindow, budget_spin);
  gtk_widget_class_bind_template_child (widget_class, VetoPreferencesWindow, annotator_row);
  gtk_widget_class_bind_template_callback (widget_class, annotator_apply_cb);
}

static void
veto_preferences_window_init (VetoPreferencesWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
