/* veto-dashboard: the learning curve, confusion and transition matrices, annotator charts and models. */
#include "veto-dashboard.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "veto-json.h"
#include "veto-loss.h"
#include "veto-plot.h"
#include "veto-refresh.h"
#include "veto-stats-load.h"

/* Engine signals arrive after every answer; the charts catch up at most this often. */
#define REFRESH_DELAY_MS 1000

typedef enum
{
  CHART_CURVE,
  CHART_ANSWERS,
  CHART_CONFUSION,
  CHART_TRANSITION,
  CHART_SECONDS,
  CHART_ANNOTATOR_MODEL,
  N_CHARTS
} Chart;

static const struct
{
  const char *name;      /* as the export action names it */
  const char *id;        /* how the template's ids for it begin */
  const char *file_name; /* suggested when exporting */
  int width, height;     /* exported size in pixels */
} charts[N_CHARTS] = {
  { "curve", "curve", "learning-curve", 1200, 750 },
  { "answers", "answers", "answers-per-annotator", 1000, 600 },
  { "confusion", "confusion", "confusion-matrix", 900, 800 },
  { "transition", "transition", "transition-matrix", 900, 800 },
  { "seconds", "seconds", "seconds-per-answer", 1000, 600 },
  { "annotator-model", "annotator_model", "annotator-model", 900, 800 },
};

struct _VetoDashboard
{
  GtkWidget parent_instance;

  VetoEngine *engine;
  VetoRefresh *refresh;  /* the charts' data, read in a thread */
  GtkNativeDialog *chooser;

  VetoPlotCurves *curves;
  VetoPlotBars *answers;
  VetoPlotMatrix *confusion;
  VetoPlotMatrix *transition;
  VetoPlotBars *seconds;
  double *transition_values;
  guint transition_k;

  /* The annotators' choice models, as veto_stats_compute () fits them to the anchor answers
   * (model_names and model_ids: the report's annotators); model_entries says what each of the
   * selector's entries shows. */
  VetoStatsReport models;
  GPtrArray *model_names;
  GArray *model_ids;
  GArray *model_entries;
  /* The models the learner's newest round read the answers through (its metrics'
   * annotator_model and own_annotator_models). */
  VetoRoundAnnotatorModels learner;
  gint64 learner_round;
  VetoPlotMatrix *annotator_model;
  const double *annotator_model_values;
  guint annotator_model_k;
  gboolean filling_choices;

  AdwToastOverlay *toast_overlay;
  AdwStatusPage *confusion_status;
  AdwStatusPage *annotator_model_status;
  GtkDropDown *annotator_model_dropdown;
  GtkStringList *annotator_model_choices;
  GtkLabel *annotator_model_caption;
  GtkStack *stacks[N_CHARTS];
  GtkDrawingArea *areas[N_CHARTS];
  GtkWidget *exports[N_CHARTS];
};

G_DEFINE_FINAL_TYPE (VetoDashboard, veto_dashboard, GTK_TYPE_WIDGET)

enum
{
  PROP_0,
  PROP_ENGINE,
  PROP_REFRESHING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static gboolean
has_chart (VetoDashboard *self, Chart chart)
{
  switch (chart)
    {
    case CHART_CURVE:
      return self->curves != NULL;
    case CHART_ANSWERS:
      return self->answers != NULL;
    case CHART_CONFUSION:
      return self->confusion != NULL;
    case CHART_TRANSITION:
      return self->transition != NULL;
    case CHART_ANNOTATOR_MODEL:
      return self->annotator_model != NULL;
    case CHART_SECONDS:
    case N_CHARTS:
    default:
      return self->seconds != NULL;
    }
}

static gboolean
draw_chart (VetoDashboard *self, Chart chart, cairo_t *cr, double width, double height,
            GError **error)
{
  switch (chart)
    {
    case CHART_CURVE:
      return veto_plot_curves_draw (self->curves, cr, width, height, error);
    case CHART_ANSWERS:
      return veto_plot_bars_draw (self->answers, cr, width, height, error);
    case CHART_CONFUSION:
      return veto_plot_matrix_draw (self->confusion, cr, width, height, error);
    case CHART_TRANSITION:
      return veto_plot_matrix_draw (self->transition, cr, width, height, error);
    case CHART_ANNOTATOR_MODEL:
      return veto_plot_matrix_draw (self->annotator_model, cr, width, height, error);
    case CHART_SECONDS:
    case N_CHARTS:
    default:
      return veto_plot_bars_draw (self->seconds, cr, width, height, error);
    }
}

static gboolean
save_chart (VetoDashboard *self, Chart chart, const char *path, GError **error)
{
  int width = charts[chart].width, height = charts[chart].height;

  switch (chart)
    {
    case CHART_CURVE:
      return veto_plot_curves_save (self->curves, path, width, height, error);
    case CHART_ANSWERS:
      return veto_plot_bars_save (self->answers, path, width, height, error);
    case CHART_CONFUSION:
      return veto_plot_matrix_save (self->confusion, path, width, height, error);
    case CHART_TRANSITION:
      return veto_plot_matrix_save (self->transition, path, width, height, error);
    case CHART_ANNOTATOR_MODEL:
      return veto_plot_matrix_save (self->annotator_model, path, width, height, error);
    case CHART_SECONDS:
    case N_CHARTS:
    default:
      return veto_plot_bars_save (self->seconds, path, width, height, error);
    }
}

static void
draw_area (GtkDrawingArea *area, cairo_t *cr, int width, int height, gpointer user_data)
{
  VetoDashboard *self = VETO_DASHBOARD (gtk_widget_get_ancestor (GTK_WIDGET (area),
                                                                 VETO_TYPE_DASHBOARD));
  Chart chart = GPOINTER_TO_INT (user_data);
  g_autoptr (GError) error = NULL;

  /* A card squeezed below what the chart needs stays blank until it grows again. */
  if (has_chart (self, chart) && !draw_chart (self, chart, cr, width, height, &error))
    g_debug ("Dashboard: %s: %s", charts[chart].name, error->message);
}

/* --- reading, in a thread of its own --- */

/* What one refresh reads from the project (veto_refresh_new ()). A thread fills it, so that the
 * window never waits for it (reading every answer and fitting the annotators' models takes a
 * time that grows with the project); the UI thread then draws from it. A part the store failed
 * to give stays NULL. */
typedef struct
{
  GPtrArray *classes;     /* VetoClass: the engine's, copied when the refresh began */
  GPtrArray *rounds;      /* VetoRoundInfo */
  GArray *gold;           /* VetoGoldAnswer */
  GPtrArray *annotators;  /* VetoAnnotatorStats */
  VetoStatsReport models; /* fitted when there are enough anchor answers */
  GPtrArray *model_names; /* the report's annotators, by name */
  GArray *model_ids;      /* … and their store ids (gint64) */
  guint anchor_answers;
} Snapshot;

static void
snapshot_free (Snapshot *snap)
{
  g_clear_pointer (&snap->classes, g_ptr_array_unref);
  g_clear_pointer (&snap->rounds, g_ptr_array_unref);
  g_clear_pointer (&snap->gold, g_array_unref);
  g_clear_pointer (&snap->annotators, g_ptr_array_unref);
  veto_stats_report_clear (&snap->models);
  g_clear_pointer (&snap->model_names, g_ptr_array_unref);
  g_clear_pointer (&snap->model_ids, g_array_unref);
  g_free (snap);
}

static void
warn_and_clear (GError **error)
{
  g_warning ("Dashboard: %s", (*error)->message);
  g_clear_error (error);
}

/* In a thread: touches nothing but snap. */
static void
read_snapshot (VetoStore *store, gpointer data)
{
  Snapshot *snap = data;
  guint k = snap->classes->len;
  g_autoptr (GError) error = NULL;
  VetoStatsLoad in;

  if ((snap->rounds = veto_store_list_rounds (store, &error)) == NULL)
    warn_and_clear (&error);
  if ((snap->gold = veto_store_list_complementary_gold (store, &error)) == NULL)
    warn_and_clear (&error);
  if ((snap->annotators = veto_store_list_annotator_stats (store, &error)) == NULL)
    warn_and_clear (&error);
  if (veto_stats_load (store, VETO_STATS_LOAD_ANCHOR_ANSWERS, NULL, snap->classes, &in, &error))
    {
      snap->anchor_answers = in.input.n_answers;
      if (k >= 2 && in.input.n_classes == k
          && in.input.n_answers >= VETO_SIM_MIN_ANCHORS_PER_CLASS * k
          && !veto_stats_compute (&in.input, &snap->models, &error))
        warn_and_clear (&error);
      snap->model_names = g_steal_pointer (&in.annotator_names);
      snap->model_ids = g_steal_pointer (&in.annotator_ids);
    }
  else
    warn_and_clear (&error);
  veto_stats_load_clear (&in);
}

/* --- data --- */

/* Class names in model order, for labels; the strings are borrowed from the engine. */
static GPtrArray *
class_labels (VetoDashboard *self)
{
  GPtrArray *classes = veto_engine_get_classes (self->engine);
  GPtrArray *labels = g_ptr_array_new_null_terminated (classes->len, NULL, TRUE);

  for (guint i = 0; i < classes->len; i++)
    g_ptr_array_add (labels, ((VetoClass *) classes->pdata[i])->name);
  return labels;
}

/* A finite number member of a round's metrics. */
static gboolean
json_member_number (JsonObject *object, const char *name, double *out_value)
{
  return veto_json_get_number (json_object_get_member (object, name), out_value)
         && isfinite (*out_value);
}

/* Adds (x, y) to a series, the newer round replacing an older one of the same size. */
static void
add_point (GArray *xs, GArray *ys, double x, double y)
{
  for (guint i = 0; i < xs->len; i++)
    if (g_array_index (xs, double, i) == x)
      {
        g_array_index (ys, double, i) = y;
        return;
      }
  g_array_append_val (xs, x);
  g_array_append_val (ys, y);
}

/* Keeps the newest round's annotator models (veto_round_annotator_models_read ()); none when
 * the round has none for the current classes, and a hand-edited project's other values are
 * warned about and left out. */
static void
refresh_learner_model (VetoDashboard *self, JsonObject *metrics, gint64 version)
{
  g_autoptr (GError) error = NULL;

  veto_round_annotator_models_clear (&self->learner);
  if (!veto_round_annotator_models_read (metrics, veto_engine_get_classes (self->engine)->len,
                                         &self->learner, &error))
    {
      g_warning ("Dashboard: round %lld's %s", (long long) version, error->message);
      return;
    }
  self->learner_round = version;
}

/* What one entry of the annotator-model selector shows. */
typedef struct
{
  gint annotator;  /* the report's annotator, -1: everyone (pooled) */
  gboolean learner; /* the learner's model of them, else the anchors' fit */
} ModelEntry;

/* The learner's own model of the report's annotator j, NULL when the round has none. */
static const double *
learner_model_of (VetoDashboard *self, guint j)
{
  if (self->model_ids == NULL || j >= self->model_ids->len)
    return NULL;
  return veto_round_annotator_models_find (&self->learner,
                                           g_array_index (self->model_ids, gint64, j));
}

/* The selector's entry showing that model, or GTK_INVALID_LIST_POSITION. */
static guint
find_model_entry (VetoDashboard *self, gint annotator, gboolean learner)
{
  for (guint i = 0; self->model_entries != NULL && i < self->model_entries->len; i++)
    {
      const ModelEntry *e = &g_array_index (self->model_entries, ModelEntry, i);

      if (e->annotator == annotator && e->learner == learner)
        return i;
    }
  return GTK_INVALID_LIST_POSITION;
}

/* The entry selected, NULL when there is none. */
static const ModelEntry *
selected_model_entry (VetoDashboard *self)
{
  guint selected = gtk_drop_down_get_selected (self->annotator_model_dropdown);

  if (self->model_entries == NULL || selected >= self->model_entries->len)
    return NULL;
  return &g_array_index (self->model_entries, ModelEntry, selected);
}

static void
refresh_rounds (VetoDashboard *self, const Snapshot *snap, GPtrArray *labels)
{
  g_autoptr (GError) error = NULL;
  GPtrArray *rounds = snap->rounds;
  g_autoptr (GArray) test_x = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) test_y = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) estimate_x = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GArray) estimate_y = g_array_new (FALSE, FALSE, sizeof (double));
  gboolean from_answers = FALSE;
  g_autofree double *confusion = NULL;
  g_autofree char *confusion_title = NULL;
  guint k = 0;

  g_clear_pointer (&self->curves, veto_plot_curves_free);
  g_clear_pointer (&self->confusion, veto_plot_matrix_free);
  if (rounds == NULL)
    return;
  if (rounds->len == 0)
    {
      adw_status_page_set_title (self->confusion_status, _("No Model Yet"));
      adw_status_page_set_description (self->confusion_status,
                                       _("The confusion matrix is that of the newest round"));
    }
  else
    {
      adw_status_page_set_title (self->confusion_status, _("No Confusion Matrix"));
      adw_status_page_set_description (self->confusion_status,
                                       _("The newest round has not been scored on a labelled "
                                         "test split"));
    }
  for (guint i = 0; i < rounds->len; i++)
    {
      const VetoRoundInfo *round = rounds->pdata[i];
      g_autoptr (JsonNode) root = json_from_string (round->metrics_json, NULL);
      JsonObject *metrics = root && JSON_NODE_HOLDS_OBJECT (root) ? json_node_get_object (root)
                                                                  : NULL;
      double accuracy;

      if (metrics == NULL)
        continue;
      /* `veto train` scores the test split; the engine writes its own best estimate. */
      if (json_member_number (metrics, "test_accuracy", &accuracy))
        add_point (test_x, test_y, round->train_size, accuracy);
      else if (json_member_number (metrics, "estimated_accuracy", &accuracy))
        {
          const char *from = json_object_get_string_member_with_default (metrics,
                                                                         "estimated_from", "");

          add_point (estimate_x, estimate_y, round->train_size, accuracy);
          from_answers |= g_str_equal (from, "answers") || g_str_equal (from, "anchors");
        }
      if (i == rounds->len - 1)
        {
          refresh_learner_model (self, metrics, round->version);
          g_clear_pointer (&confusion, g_free);
          /* the classes are never fewer than when a round trained */
          if (json_object_has_member (metrics, "confusion")
              && veto_json_read_square_matrix (json_object_get_member (metrics, "confusion"),
                                               veto_engine_get_classes (self->engine)->len,
                                               VETO_JSON_ENTRIES_COUNTS, &confusion, &k, &error))
            /* Translators: the title of the confusion matrix of a round of training. */
            confusion_title = g_strdup_printf (_("Confusion matrix, round %lld"),
                                               (long long) round->version);
          else if (error != NULL)
            {
              g_warning ("Dashboard: round %lld's confusion matrix: %s",
                         (long long) round->version, error->message);
              g_clear_error (&error);
              adw_status_page_set_description (self->confusion_status,
                                               _("The newest round's confusion matrix cannot be "
                                                 "read (the project was edited by hand?)"));
            }
        }
    }

  if (test_x->len > 0 || estimate_x->len > 0)
    {
      self->curves = veto_plot_curves_new (_("Learning curve"), _("items with answers"),
                                           _("accuracy"));
      veto_plot_curves_set_y_range (self->curves, 0, 1);
      if (test_x->len > 0
          && !veto_plot_curves_add_run (self->curves, _("test accuracy"),
                                        (double *) test_x->data, (double *) test_y->data,
                                        test_x->len, &error))
        g_warning ("Dashboard: %s", error->message);
      g_clear_error (&error);
      if (estimate_x->len > 0
          && !veto_plot_curves_add_run (self->curves,
                                        from_answers
                                        /* Translators: no gold labels to test on: the
                                         * estimate comes from answers kept out of training. */
                                        ? _("estimated accuracy (held-out answers, no gold)")
                                        : _("estimated accuracy"),
                                        (double *) estimate_x->data, (double *) estimate_y->data,
                                        estimate_x->len, &error))
        g_warning ("Dashboard: %s", error->message);
    }
  if (confusion != NULL)
    {
      self->confusion = veto_plot_matrix_new (confusion, k,
                                              k == labels->len
                                                  ? (const char *const *) labels->pdata
                                                  : NULL);
      veto_plot_matrix_set_titles (self->confusion, confusion_title, _("true class"),
                                   _("predicted class"));
      veto_plot_matrix_set_value_format (self->confusion, VETO_PLOT_VALUES_INTEGER);
    }
}

static void
refresh_transition (VetoDashboard *self, const Snapshot *snap, GPtrArray *labels)
{
  GPtrArray *classes = snap->classes;
  guint k = classes->len, n = 0;
  g_autoptr (GError) error = NULL;
  GArray *pairs = snap->gold;
  g_autoptr (GHashTable) index = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autofree guint *gold = NULL, *cls = NULL, *per_row = NULL;
  g_autofree double *q = NULL;

  g_clear_pointer (&self->transition, veto_plot_matrix_free);
  g_clear_pointer (&self->transition_values, g_free);
  self->transition_k = 0;
  if (pairs == NULL || pairs->len == 0 || k < 2)
    return;
  for (guint i = 0; i < k; i++)
    g_hash_table_insert (index, &((VetoClass *) classes->pdata[i])->id, GUINT_TO_POINTER (i + 1));
  gold = g_new (guint, pairs->len);
  cls = g_new (guint, pairs->len);
  per_row = g_new0 (guint, k);
  for (guint i = 0; i < pairs->len; i++)
    {
      const VetoGoldAnswer *pair = &g_array_index (pairs, VetoGoldAnswer, i);
      guint g = GPOINTER_TO_UINT (g_hash_table_lookup (index, &pair->gold_class));
      guint c = GPOINTER_TO_UINT (g_hash_table_lookup (index, &pair->answer_class));

      if (g == 0 || c == 0)
        continue;
      gold[n] = g - 1;
      cls[n] = c - 1;
      per_row[g - 1]++;
      n++;
    }
  if (n == 0)
    return;
  q = g_new (double, (gsize) k * k);
  if (!veto_loss_estimate_transition (gold, cls, n, k, 0.0, q, &error))
    {
      g_warning ("Dashboard: %s", error->message);
      return;
    }
  /* A class no gold item of which was answered is unknown, not uniform. */
  for (guint r = 0; r < k; r++)
    if (per_row[r] == 0)
      for (guint c = 0; c < k; c++)
        q[(gsize) r * k + c] = NAN;
  self->transition = veto_plot_matrix_new (q, k, (const char *const *) labels->pdata);
  veto_plot_matrix_set_titles (self->transition, _("Complementary-label transition matrix"),
                               _("true class"), _("complementary label"));
  veto_plot_matrix_set_value_format (self->transition, VETO_PLOT_VALUES_DECIMAL);
  self->transition_values = g_steal_pointer (&q);
  self->transition_k = k;
}

static void
refresh_annotators (VetoDashboard *self, const Snapshot *snap)
{
  GPtrArray *stats = snap->annotators;
  gboolean any_time = FALSE;

  g_clear_pointer (&self->answers, veto_plot_bars_free);
  g_clear_pointer (&self->seconds, veto_plot_bars_free);
  if (stats == NULL)
    return;
  for (guint i = 0; i < stats->len; i++)
    {
      const VetoAnnotatorStats *s = stats->pdata[i];

      if (s->answers == 0)
        continue;
      if (self->answers == NULL)
        {
          self->answers = veto_plot_bars_new (_("Answers per annotator"), _("answers"));
          veto_plot_bars_set_value_format (self->answers, VETO_PLOT_VALUES_INTEGER);
          self->seconds = veto_plot_bars_new (_("Seconds per answer"), _("mean seconds"));
          veto_plot_bars_set_value_format (self->seconds, VETO_PLOT_VALUES_DECIMAL);
        }
      veto_plot_bars_add (self->answers, s->name, s->answers);
      veto_plot_bars_add (self->seconds, s->name, s->mean_seconds);
      any_time = any_time || !isnan (s->mean_seconds);
    }
  if (!any_time)
    g_clear_pointer (&self->seconds, veto_plot_bars_free);
}

/* Draws the model the selector names, with its caption. */
static void
show_annotator_model (VetoDashboard *self)
{
  const ModelEntry *entry = selected_model_entry (self);
  const VetoStatsAnnotator *a = &self->models.overall;
  const char *name = NULL;
  g_autoptr (GPtrArray) labels = NULL;
  g_autofree char *title = NULL;
  g_autofree char *answers = NULL;
  g_autofree char *caption = NULL;
  gboolean fitted = self->models.overall.choice_model != NULL;
  guint k;
  const double *values;

  g_clear_pointer (&self->annotator_model, veto_plot_matrix_free);
  self->annotator_model_values = NULL;
  gtk_widget_queue_draw (GTK_WIDGET (self->areas[CHART_ANNOTATOR_MODEL]));
  if (entry == NULL || (!fitted && !entry->learner))
    return;
  /* the learner's models are read for the engine's classes (refresh_learner_model ()) */
  k = entry->learner ? veto_engine_get_classes (self->engine)->len : self->models.n_classes;
  if (entry->annotator >= 0)
    {
      a = &self->models.annotators[entry->annotator];
      name = self->model_names->pdata[entry->annotator];
    }
  /* Translators: how many complementary answers on gold anchors a model is fitted to. */
  answers = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "%u anchor answer",
                                          "%u anchor answers", a->choice_answers),
                             a->choice_answers);
  if (!fitted)
    {
      /* Translators: %lld is the number of a round of training. */
      title = g_strdup_printf (_("The learner's choice model, round %lld"),
                               (long long) self->learner_round);
      /* Translators: %u is how many answers on gold anchors the anchors' fit needs. */
      caption = g_strdup_printf (_("Learned before the anchors' fit (fewer than %u answers on gold "
                                   "anchors when the round trained): everyone's model is the "
                                   "uniform annotator refined by every answer, those on anchors "
                                   "with their gold class, through classifiers that never trained "
                                   "on the answers they explain"),
                                 VETO_SIM_MIN_ANCHORS_PER_CLASS
                                     * veto_engine_get_classes (self->engine)->len);
    }
  else if (entry->learner && name == NULL)
    {
      /* Translators: %lld is the number of a round of training. */
      title = g_strdup_printf (_("The learner's choice model, round %lld"),
                               (long long) self->learner_round);
      /* Translators: %s is "N anchor answers". */
      caption = g_strdup_printf (_("Everyone's model fitted to %s, then refined by every answer "
                                   "through classifiers that never trained on the answers they "
                                   "explain: the model the learner's loss read the answers "
                                   "through"),
                                 answers);
    }
  else if (entry->learner)
    {
      /* Translators: %s is an annotator's name, %lld the number of a round of training. */
      title = g_strdup_printf (_("The learner's choice model of %s, round %lld"), name,
                               (long long) self->learner_round);
      /* Translators: %s is "N anchor answers". */
      caption = g_strdup_printf (_("Their %s, pulled towards the learner's pooled model (the "
                                   "anchors' fit refined by every answer): the model the "
                                   "learner's loss read their answers through"),
                                 answers);
    }
  else if (name == NULL)
    {
      /* Translators: %s is "N anchor answers". */
      title = g_strdup_printf (_("Choice model of everyone (pooled), %s"), answers);
      /* Translators: %s is "N anchor answers"; the noise share follows. */
      caption = g_strdup_printf (_("%s from everyone; names the true class %.1f%% of the times "
                                   "it is shown"),
                                 answers, 100 * a->choice_noise);
    }
  else if (a->choice_own)
    {
      /* Translators: the first %s is an annotator's name, the second "N anchor answers". */
      title = g_strdup_printf (_("Choice model of %s (their own), %s"), name, answers);
      /* Translators: %s is "N anchor answers", %g how many answers the pull towards the pooled
       * model is worth, %.1f%% the noise share. */
      caption = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                              "%s; pulled towards the pooled model by %g answer "
                                              "per weight; names the true class %.1f%% of the "
                                              "times it is shown",
                                              "%s; pulled towards the pooled model by %g answers "
                                              "per weight; names the true class %.1f%% of the "
                                              "times it is shown",
                                              (gulong) a->choice_strength),
                                 answers, a->choice_strength, 100 * a->choice_noise);
    }
  else
    {
      /* Translators: the first %s is an annotator's name, the second "N anchor answers". */
      title = g_strdup_printf (_("Choice model of %s (the pooled one), %s"), name, answers);
      /* Translators: %s is "N anchor answers", %d the fewest for a model of one's own. */
      caption = g_strdup_printf (_("%s, fewer than %d: the learner gives this annotator the "
                                   "pooled model, which names the true class %.1f%% of the "
                                   "times it is shown"),
                                 answers, VETO_LOSS_MIN_OWN_ANSWERS, 100 * a->choice_noise);
    }
  labels = class_labels (self);
  if (!entry->learner)
    values = a->choice_model;
  else if (name == NULL)
    values = self->learner.pooled;
  else
    values = learner_model_of (self, entry->annotator);
  self->annotator_model = veto_plot_matrix_new (values, k,
                                                k == labels->len
                                                    ? (const char *const *) labels->pdata
                                                    : NULL);
  veto_plot_matrix_set_titles (self->annotator_model, title, _("true class"),
                               _("class named “not”"));
  veto_plot_matrix_set_value_format (self->annotator_model, VETO_PLOT_VALUES_DECIMAL);
  self->annotator_model_values = values;
  self->annotator_model_k = k;
  gtk_label_set_text (self->annotator_model_caption, caption);
}

/* Adds an entry to the selector. */
static void
add_model_entry (VetoDashboard *self, gint annotator, gboolean learner, const char *label)
{
  ModelEntry entry = { annotator, learner };

  g_array_append_val (self->model_entries, entry);
  gtk_string_list_append (self->annotator_model_choices, label);
}

/* Takes the annotators' models the reading fitted (veto_stats_compute () on the anchor answers
 * veto_stats_load () reads, as the learner does) and lists them in the selector: everyone's,
 * the learner's pooled model, then each annotator's with, when the learner has one of them, its
 * own; the one selected stays selected. */
static void
refresh_annotator_models (VetoDashboard *self, Snapshot *snap)
{
  guint needed = VETO_SIM_MIN_ANCHORS_PER_CLASS * snap->classes->len;
  const ModelEntry *entry = selected_model_entry (self);
  g_autofree char *selected_name = NULL;
  g_autofree char *description = NULL;
  gboolean selected_learner = entry != NULL && entry->learner;
  gboolean learner = FALSE;
  guint keep = GTK_INVALID_LIST_POSITION;

  if (entry != NULL && entry->annotator >= 0)
    selected_name = g_strdup (self->model_names->pdata[entry->annotator]);
  veto_stats_report_clear (&self->models);
  self->models = snap->models;
  memset (&snap->models, 0, sizeof snap->models);
  g_clear_pointer (&self->model_names, g_ptr_array_unref);
  self->model_names = snap->model_names != NULL ? g_steal_pointer (&snap->model_names)
                                                : g_ptr_array_new_with_free_func (g_free);
  g_clear_pointer (&self->model_ids, g_array_unref);
  self->model_ids = snap->model_ids != NULL ? g_steal_pointer (&snap->model_ids)
                                            : g_array_new (FALSE, FALSE, sizeof (gint64));
  g_clear_pointer (&self->model_entries, g_array_unref);
  self->model_entries = g_array_new (FALSE, FALSE, sizeof (ModelEntry));

  /* Translators: the first %u is how many complementary answers EM needs, the second how many
   * answers on gold anchors the anchors' fit needs (third %u per class), the last how many
   * there are. */
  description = g_strdup_printf (_("The learner keeps the uniform annotator until there are %u "
                                   "complementary answers, then learns a model by EM; it fits "
                                   "one to the answers on gold anchors once there are %u of them "
                                   "(%u per class): %u so far"),
                                 VETO_SIM_MIN_ANSWERS_FOR_EM, needed,
                                 VETO_SIM_MIN_ANCHORS_PER_CLASS, snap->anchor_answers);
  adw_status_page_set_description (self->annotator_model_status, description);

  self->filling_choices = TRUE;
  gtk_string_list_splice (self->annotator_model_choices, 0,
                          g_list_model_get_n_items (G_LIST_MODEL (self->annotator_model_choices)),
                          NULL);
  /* Without an anchors' fit the learner's model, when it has one, was learned by EM before
   * it: its entry alone */
  learner = self->learner.pooled != NULL
            && (self->models.overall.choice_model == NULL
                || self->models.n_classes == veto_engine_get_classes (self->engine)->len);
  if (self->models.overall.choice_model != NULL || !learner)
    add_model_entry (self, -1, FALSE, _("Everyone (pooled)"));
  if (learner)
    {
      /* Translators: the learner's model in the selector of models, %lld its round. */
      g_autofree char *label = g_strdup_printf (_("The learner (round %lld)"),
                                                (long long) self->learner_round);

      add_model_entry (self, -1, TRUE, label);
    }
  for (guint j = 0; self->models.overall.choice_model != NULL && j < self->models.n_annotators;
       j++)
    {
      const VetoStatsAnnotator *a = &self->models.annotators[j];
      const char *name = self->model_names->pdata[j];
      g_autofree char *label = NULL;

      if (a->choice_model == NULL)
        continue;
      /* Translators: an annotator in the selector of models, %s their name. */
      label = g_strdup_printf (a->choice_own ? _("%s (own model)") : _("%s (pooled model)"), name);
      add_model_entry (self, j, FALSE, label);
      if (learner && learner_model_of (self, j) != NULL)
        {
          g_autofree char *own = NULL;

          /* Translators: the learner's model of an annotator in the selector of models, %s
           * their name, %lld the round. */
          own = g_strdup_printf (_("%s, the learner’s (round %lld)"), name,
                                 (long long) self->learner_round);
          add_model_entry (self, j, TRUE, own);
        }
      if (g_strcmp0 (name, selected_name) == 0)
        keep = find_model_entry (self, j, selected_learner);
    }
  if (selected_name == NULL && selected_learner)
    keep = find_model_entry (self, -1, TRUE);
  gtk_drop_down_set_selected (self->annotator_model_dropdown,
                              keep != GTK_INVALID_LIST_POSITION ? keep : 0);
  self->filling_choices = FALSE;
  show_annotator_model (self);
}

static void
on_annotator_model_selected (VetoDashboard *self)
{
  if (self->filling_choices)
    return;
  show_annotator_model (self);
  gtk_widget_set_visible (self->exports[CHART_ANNOTATOR_MODEL],
                          has_chart (self, CHART_ANNOTATOR_MODEL));
}

/* Back on the UI thread: every chart redrawn from what was read. */
static void
apply_snapshot (GtkWidget *owner, gpointer data)
{
  VetoDashboard *self = VETO_DASHBOARD (owner);
  Snapshot *snap = data;
  g_autoptr (GPtrArray) labels = class_labels (self);

  refresh_rounds (self, snap, labels);
  refresh_transition (self, snap, labels);
  refresh_annotators (self, snap);
  refresh_annotator_models (self, snap);
  for (Chart chart = 0; chart < N_CHARTS; chart++)
    {
      gboolean shown = has_chart (self, chart);

      gtk_stack_set_visible_child_name (self->stacks[chart], shown ? "chart" : "empty");
      gtk_widget_set_visible (self->exports[chart], shown);
      gtk_widget_queue_draw (GTK_WIDGET (self->areas[chart]));
    }
}

/* When a reading starts: the engine's classes, copied for the thread. */
static gpointer
new_snapshot (GtkWidget *owner)
{
  GPtrArray *classes = veto_engine_get_classes (VETO_DASHBOARD (owner)->engine);
  Snapshot *snap = g_new0 (Snapshot, 1);

  snap->classes = g_ptr_array_new_full (classes->len, (GDestroyNotify) veto_class_free);
  for (guint i = 0; i < classes->len; i++)
    {
      const VetoClass *klass = classes->pdata[i];
      VetoClass *copy = g_new0 (VetoClass, 1);

      copy->id = klass->id;
      copy->name = g_strdup (klass->name);
      copy->description = g_strdup (klass->description);
      copy->novel = klass->novel;
      g_ptr_array_add (snap->classes, copy);
    }
  return snap;
}

void
veto_dashboard_refresh (VetoDashboard *self)
{
  g_return_if_fail (VETO_IS_DASHBOARD (self));

  veto_refresh_now (self->refresh);
}

gboolean
veto_dashboard_get_refreshing (VetoDashboard *self)
{
  g_return_val_if_fail (VETO_IS_DASHBOARD (self), FALSE);

  return veto_refresh_is_running (self->refresh);
}

/* The engine's signals arrive after every answer: a refresh at most every REFRESH_DELAY_MS. */
static void
on_engine_changed (VetoDashboard *self)
{
  veto_refresh_schedule (self->refresh);
}

/* --- export --- */

static gboolean
find_chart (const char *name, Chart *out_chart)
{
  for (Chart chart = 0; chart < N_CHARTS; chart++)
    if (g_strcmp0 (name, charts[chart].name) == 0)
      {
        *out_chart = chart;
        return TRUE;
      }
  return FALSE;
}

gboolean
veto_dashboard_export (VetoDashboard *self, const char *chart_name, const char *path,
                       GError **error)
{
  Chart chart;

  g_return_val_if_fail (VETO_IS_DASHBOARD (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  if (!find_chart (chart_name, &chart))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("No chart called “%s”"),
                   chart_name);
      return FALSE;
    }
  if (!has_chart (self, chart))
    {
      g_set_error_literal (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT,
                           _("This chart has nothing to show yet"));
      return FALSE;
    }
  return save_chart (self, chart, path, error);
}

static void
on_export_response (GtkNativeDialog *chooser, int response, VetoDashboard *self)
{
  g_autoptr (GFile) file = NULL;
  g_autofree char *path = NULL;
  g_autofree char *message = NULL;
  g_autoptr (GError) error = NULL;
  const char *chart = g_object_get_data (G_OBJECT (chooser), "chart");

  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
  if (file != NULL)
    {
      path = g_file_get_path (file);
      g_autofree char *lower = g_ascii_strdown (path, -1);

      /* A name without a known extension takes that of the filter chosen. */
      if (!g_str_has_suffix (lower, ".png") && !g_str_has_suffix (lower, ".svg")
          && !g_str_has_suffix (lower, ".pdf"))
        {
          GtkFileFilter *filter = gtk_file_chooser_get_filter (GTK_FILE_CHOOSER (chooser));
          const char *extension = ".png";
          char *with_extension;

          if (filter == g_object_get_data (G_OBJECT (chooser), "svg-filter"))
            extension = ".svg";
          else if (filter == g_object_get_data (G_OBJECT (chooser), "pdf-filter"))
            extension = ".pdf";
          with_extension = g_strconcat (path, extension, NULL);
          g_free (path);
          path = with_extension;
        }
      if (veto_dashboard_export (self, chart, path, &error))
        {
          g_autofree char *name = g_filename_display_basename (path);

          /* Translators: a toast once a chart was written to a file. */
          message = g_strdup_printf (_("Saved “%s”"), name);
        }
      else
        message = g_strdup (error->message);
      adw_toast_overlay_add_toast (self->toast_overlay, adw_toast_new (message));
    }
  if (self->chooser == chooser)
    g_clear_object (&self->chooser);
}

static void
export_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoDashboard *self = VETO_DASHBOARD (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  const char *name = g_variant_get_string (parameter, NULL);
  g_autofree char *file_name = NULL;
  GtkFileFilter *png, *svg, *pdf;
  Chart chart;

  if (!find_chart (name, &chart))
    {
      g_warning ("Dashboard: no chart called “%s”", name);
      return;
    }
  if (self->chooser != NULL)
    {
      gtk_native_dialog_destroy (self->chooser);
      g_clear_object (&self->chooser);
    }
  self->chooser = GTK_NATIVE_DIALOG (gtk_file_chooser_native_new (
      _("Export Chart"), GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
      GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel")));
  gtk_native_dialog_set_modal (self->chooser, TRUE);
  png = gtk_file_filter_new ();
  gtk_file_filter_set_name (png, _("PNG image"));
  gtk_file_filter_add_suffix (png, "png");
  svg = gtk_file_filter_new ();
  gtk_file_filter_set_name (svg, _("SVG image"));
  gtk_file_filter_add_suffix (svg, "svg");
  pdf = gtk_file_filter_new ();
  gtk_file_filter_set_name (pdf, _("PDF document"));
  gtk_file_filter_add_suffix (pdf, "pdf");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), png);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), svg);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), pdf);
  g_object_set_data_full (G_OBJECT (self->chooser), "svg-filter", svg, g_object_unref);
  g_object_set_data_full (G_OBJECT (self->chooser), "pdf-filter", pdf, g_object_unref);
  g_object_unref (png);
  file_name = g_strconcat (charts[chart].file_name, ".png", NULL);
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (self->chooser), file_name);
  g_object_set_data (G_OBJECT (self->chooser), "chart", (gpointer) charts[chart].name);
  g_signal_connect_object (self->chooser, "response", G_CALLBACK (on_export_response), self, 0);
  gtk_native_dialog_show (self->chooser);
}

/* Shows the anchors' fit of the annotator named (everyone's for ""), or with learner the
 * learner's model of them. */
static void
select_model (VetoDashboard *self, const char *name, gboolean learner)
{
  gint annotator = -1;
  guint entry;

  for (guint j = 0; *name != '\0' && self->model_names != NULL && j < self->model_names->len; j++)
    if (g_str_equal (self->model_names->pdata[j], name))
      annotator = (gint) j;
  entry = *name == '\0' || annotator >= 0 ? find_model_entry (self, annotator, learner)
                                          : GTK_INVALID_LIST_POSITION;
  if (entry != GTK_INVALID_LIST_POSITION)
    gtk_drop_down_set_selected (self->annotator_model_dropdown, entry);
  else if (learner)
    g_warning ("Dashboard: no round has the learner's model of “%s”", name);
  else
    g_warning ("Dashboard: no annotator model for “%s”", name);
}

static void
annotator_model_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  select_model (VETO_DASHBOARD (widget), g_variant_get_string (parameter, NULL), FALSE);
}

/* The learner's model of the annotator named, its pooled model for "". */
static void
learner_model_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  select_model (VETO_DASHBOARD (widget), g_variant_get_string (parameter, NULL), TRUE);
}

/* --- GObject --- */

const double *
veto_dashboard_get_annotator_model (VetoDashboard *self, guint *out_k)
{
  g_return_val_if_fail (VETO_IS_DASHBOARD (self), NULL);

  *out_k = self->annotator_model_values != NULL ? self->annotator_model_k : 0;
  return self->annotator_model_values;
}

GListModel *
veto_dashboard_get_annotator_model_choices (VetoDashboard *self)
{
  g_return_val_if_fail (VETO_IS_DASHBOARD (self), NULL);

  return G_LIST_MODEL (self->annotator_model_choices);
}

const double *
veto_dashboard_get_transition (VetoDashboard *self, guint *out_k)
{
  g_return_val_if_fail (VETO_IS_DASHBOARD (self), NULL);

  *out_k = self->transition_k;
  return self->transition_values;
}

static void
veto_dashboard_map (GtkWidget *widget)
{
  VetoDashboard *self = VETO_DASHBOARD (widget);

  GTK_WIDGET_CLASS (veto_dashboard_parent_class)->map (widget);
  veto_refresh_mapped (self->refresh);
}

static void
veto_dashboard_constructed (GObject *object)
{
  VetoDashboard *self = VETO_DASHBOARD (object);

  G_OBJECT_CLASS (veto_dashboard_parent_class)->constructed (object);

  for (Chart chart = 0; chart < N_CHARTS; chart++)
    gtk_drawing_area_set_draw_func (self->areas[chart], draw_area, GINT_TO_POINTER (chart), NULL);
  g_signal_connect_object (self->annotator_model_dropdown, "notify::selected",
                           G_CALLBACK (on_annotator_model_selected), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->engine, "model-updated", G_CALLBACK (on_engine_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->engine, "status-changed", G_CALLBACK (on_engine_changed), self,
                           G_CONNECT_SWAPPED);
  self->refresh = veto_refresh_new (GTK_WIDGET (self),
                                    veto_store_get_path (veto_engine_get_store (self->engine)),
                                    properties[PROP_REFRESHING], REFRESH_DELAY_MS, new_snapshot,
                                    read_snapshot, apply_snapshot, (GDestroyNotify) snapshot_free);
  /* Read when first shown, not here: the window makes a dashboard for every project it opens,
   * and opening one must not wait for its statistics (every answer read, T̂ and the annotator
   * models fitted: a time that grows with the project). */
  veto_refresh_when_mapped (self->refresh);
}

static void
veto_dashboard_dispose (GObject *object)
{
  VetoDashboard *self = VETO_DASHBOARD (object);

  veto_refresh_stop (self->refresh);
  if (self->chooser != NULL)
    {
      gtk_native_dialog_destroy (self->chooser);
      g_clear_object (&self->chooser);
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), VETO_TYPE_DASHBOARD);

  G_OBJECT_CLASS (veto_dashboard_parent_class)->dispose (object);
}

static void
veto_dashboard_finalize (GObject *object)
{
  VetoDashboard *self = VETO_DASHBOARD (object);

  g_clear_pointer (&self->curves, veto_plot_curves_free);
  g_clear_pointer (&self->answers, veto_plot_bars_free);
  g_clear_pointer (&self->confusion, veto_plot_matrix_free);
  g_clear_pointer (&self->transition, veto_plot_matrix_free);
  g_clear_pointer (&self->seconds, veto_plot_bars_free);
  g_clear_pointer (&self->annotator_model, veto_plot_matrix_free);
  g_clear_pointer (&self->model_names, g_ptr_array_unref);
  g_clear_pointer (&self->model_ids, g_array_unref);
  g_clear_pointer (&self->model_entries, g_array_unref);
  veto_round_annotator_models_clear (&self->learner);
  veto_stats_report_clear (&self->models);
  g_free (self->transition_values);
  g_clear_object (&self->engine);
  g_clear_pointer (&self->refresh, veto_refresh_free);

  G_OBJECT_CLASS (veto_dashboard_parent_class)->finalize (object);
}

static void
veto_dashboard_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  VetoDashboard *self = VETO_DASHBOARD (object);

  switch (prop_id)
    {
    case PROP_ENGINE:
      g_value_set_object (value, self->engine);
      break;
    case PROP_REFRESHING:
      g_value_set_boolean (value, veto_refresh_is_running (self->refresh));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
veto_dashboard_set_property (GObject *object, guint prop_id, const GValue *value,
                             GParamSpec *pspec)
{
  VetoDashboard *self = VETO_DASHBOARD (object);

  switch (prop_id)
    {
    case PROP_ENGINE:
      self->engine = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
veto_dashboard_class_init (VetoDashboardClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = veto_dashboard_constructed;
  object_class->dispose = veto_dashboard_dispose;
  object_class->finalize = veto_dashboard_finalize;
  object_class->get_property = veto_dashboard_get_property;
  object_class->set_property = veto_dashboard_set_property;
  widget_class->map = veto_dashboard_map;

  properties[PROP_ENGINE] = g_param_spec_object ("engine", NULL, NULL, VETO_TYPE_ENGINE,
                                                 G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY
                                                     | G_PARAM_STATIC_STRINGS);
  properties[PROP_REFRESHING] = g_param_spec_boolean ("refreshing", NULL, NULL, FALSE,
                                                      G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY
                                                          | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/veto/Veto/ui/veto-dashboard.ui");
  gtk_widget_class_bind_template_child (widget_class, VetoDashboard, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, VetoDashboard, confusion_status);
  gtk_widget_class_bind_template_child (widget_class, VetoDashboard, annotator_model_status);
  gtk_widget_class_bind_template_child (widget_class, VetoDashboard, annotator_model_dropdown);
  gtk_widget_class_bind_template_child (widget_class, VetoDashboard, annotator_model_choices);
  gtk_widget_class_bind_template_child (widget_class, VetoDashboard, annotator_model_caption);
  for (Chart chart = 0; chart < N_CHARTS; chart++)
    {
      g_autofree char *stack = g_strconcat (charts[chart].id, "_stack", NULL);
      g_autofree char *area = g_strconcat (charts[chart].id, "_area", NULL);
      g_autofree char *export = g_strconcat (charts[chart].id, "_export", NULL);

      gtk_widget_class_bind_template_child_full (widget_class, stack, FALSE,
                                                 G_STRUCT_OFFSET (VetoDashboard, stacks)
                                                     + chart * sizeof (gpointer));
      gtk_widget_class_bind_template_child_full (widget_class, area, FALSE,
                                                 G_STRUCT_OFFSET (VetoDashboard, areas)
                                                     + chart * sizeof (gpointer));
      gtk_widget_class_bind_template_child_full (widget_class, export, FALSE,
                                                 G_STRUCT_OFFSET (VetoDashboard, exports)
                                                     + chart * sizeof (gpointer));
    }
  gtk_widget_class_install_action (widget_class, "dashboard.export", "s", export_action);
  gtk_widget_class_install_action (widget_class, "dashboard.annotator-model", "s",
                                   annotator_model_action);
  gtk_widget_class_install_action (widget_class, "dashboard.learner-model", "s",
                                   learner_model_action);

  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
veto_dashboard_init (VetoDashboard *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
veto_dashboard_new (VetoEngine *engine)
{
  g_return_val_if_fail (VETO_IS_ENGINE (engine), NULL);

  return g_object_new (VETO_TYPE_DASHBOARD, "engine", engine, NULL);
}
