/* The window driven in process under Xvfb: every question kind answered through its actions. */
#include <adwaita.h>
#include <glib/gstdio.h>
#include <sqlite3.h>
#include <string.h>

#include "veto-image.h"
#include "veto-import-job.h"
#include "veto-item-picture.h"
#include "veto-preferences-window.h"
#include "veto-welcome.h"
#include "veto-window.h"

#define SIDE 8
#define N_POOL 60
#define N_TEST 20
#define WAIT_MS 30000
#define ANNOTATOR "Tester"

typedef struct
{
  char *dir;
  char *path;
  GSettings *settings;
  VetoWindow *window;
  GPtrArray *class_names;
} Fixture;

/* Class c lights its own pixels, so the model learns something in a few answers. */
static void
make_project (Fixture *f, const char *const *names)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  guint k = g_strv_length ((GStrv) names);
  gint64 import_id;
  guint index = 0;

  store = veto_store_create (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (veto_store_begin (store, &error));
  for (guint c = 0; c < k; c++)
    {
      gint64 id;

      g_assert_true (veto_store_ensure_class (store, names[c], &id, NULL, &error));
      g_array_append_val (ids, id);
      g_ptr_array_add (f->class_names, g_strdup (names[c]));
    }
  g_assert_true (veto_store_add_import (store, "generated", "idx", VETO_SPLIT_POOL, &import_id,
                                        &error));
  for (guint i = 0; i < N_POOL + N_TEST; i++)
    {
      guint8 pixels[SIDE * SIDE];
      guint c = i % k;
      VetoItemRecord record = {
        .pixels = pixels, .width = SIDE, .height = SIDE, .channels = 1,
        .split = i < N_POOL ? VETO_SPLIT_POOL : VETO_SPLIT_TEST,
        .gold_class = g_array_index (ids, gint64, c), .import_id = import_id,
        .import_index = index++,
      };

      for (guint p = 0; p < SIDE * SIDE; p++)
        pixels[p] = (guint8) ((p % k == c ? 200 : 40) + g_rand_int_range (rand, 0, 40));
      g_checksum_reset (sum);
      g_checksum_update (sum, pixels, sizeof pixels);
      record.sha256 = g_checksum_get_string (sum);
      g_assert_true (veto_store_add_item (store, &record, NULL, &error));
    }
  g_assert_true (veto_store_commit (store, &error));
}

static gboolean
timed_out_cb (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the main context until cond holds (or fails the test after WAIT_MS). */
static void
wait_until (gboolean (*cond) (gpointer), gpointer data)
{
  gboolean timed_out = FALSE;
  guint id = g_timeout_add (WAIT_MS, timed_out_cb, &timed_out);

  while (!cond (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (timed_out);
  g_source_remove (id);
}

static gboolean
is_mapped (gpointer widget)
{
  return gtk_widget_get_mapped (widget);
}

/* Lets GTK run whatever is pending: idles, redraws, settings signals. */
static void
drain (void)
{
  for (guint i = 0; i < 50 && g_main_context_pending (NULL); i++)
    g_main_context_iteration (NULL, FALSE);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  const char *const default_names[] = { "circle", "square", "star", "ring", "cross", NULL };
  const char *const *names = data != NULL ? data : default_names;
  g_autoptr (GSettingsSchema) schema = NULL;

  f->dir = g_dir_make_tmp ("veto-ui-XXXXXX", NULL);
  f->path = g_build_filename (f->dir, "shapes.veto", NULL);
  f->class_names = g_ptr_array_new_with_free_func (g_free);
  make_project (f, names);

  /* The memory backend lives as long as the process: every test starts from the defaults. */
  f->settings = g_settings_new ("io.github.veto.Veto");
  g_object_get (f->settings, "settings-schema", &schema, NULL);
  {
    g_auto (GStrv) keys = g_settings_schema_list_keys (schema);

    for (guint i = 0; keys[i] != NULL; i++)
      g_settings_reset (f->settings, keys[i]);
  }
  g_settings_set_string (f->settings, "annotator", ANNOTATOR);
  g_settings_set_uint (f->settings, "retrain-every", 3);
  f->window = veto_window_new (NULL, f->settings);
  gtk_window_present (GTK_WINDOW (f->window));
  wait_until (is_mapped, f->window);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);

  gtk_window_destroy (GTK_WINDOW (f->window));
  drain ();
  g_object_unref (f->settings);
  g_ptr_array_unref (f->class_names);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (f->path);
  g_free (f->dir);
}

static void
set_mode_and_open (Fixture *f, const char *mode)
{
  g_autoptr (GError) error = NULL;

  g_settings_set_string (f->settings, "mode", mode);
  drain ();
  g_assert_true (veto_window_open_project (f->window, f->path, &error));
  g_assert_no_error (error);
  wait_until (is_mapped, veto_window_get_label_view (f->window));
}

static gboolean
copy_annotation (const VetoAnnotation *a, gpointer user_data)
{
  VetoAnnotation *copy = g_new0 (VetoAnnotation, 1);

  copy->id = a->id;
  copy->kind = a->kind;
  copy->item = a->item;
  copy->annotator = g_strdup (a->annotator);
  copy->annotator_kind = g_strdup (a->annotator_kind);
  copy->answer_class = g_strdup (a->answer_class);
  copy->candidates = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < a->candidates->len; i++)
    g_ptr_array_add (copy->candidates, g_strdup (a->candidates->pdata[i]));
  copy->right_item = a->right_item;
  copy->criterion = g_strdup (a->criterion);
  copy->preferred = g_strdup (a->preferred);
  copy->undone = a->undone;
  copy->flagged = a->flagged;
  g_ptr_array_add (user_data, copy);
  return TRUE;
}

/* Every annotation of the project, undone ones included, read through a second connection. */
static GPtrArray *
read_annotations (Fixture *f)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = veto_store_open (f->path, TRUE, &error);
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify) veto_annotation_free);

  g_assert_no_error (error);
  g_assert_true (veto_store_foreach_annotation (store, TRUE, copy_annotation, all, &error));
  return all;
}

static const char *
name_of (Fixture *f, gint64 class_id)
{
  GPtrArray *classes = veto_engine_get_classes (veto_window_get_engine (f->window));

  for (guint i = 0; i < classes->len; i++)
    if (((VetoClass *) classes->pdata[i])->id == class_id)
      return ((VetoClass *) classes->pdata[i])->name;
  g_assert_not_reached ();
  return NULL;
}

static VetoLabelView *
view_of (Fixture *f)
{
  return veto_window_get_label_view (f->window);
}

static GtkWidget *
find_first (GtkWidget *widget, GType type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (widget, type))
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_first (child, type);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
activate (Fixture *f, const char *action, const char *format, ...)
{
  va_list args;
  GVariant *parameter = NULL;

  if (format != NULL)
    {
      va_start (args, format);
      parameter = g_variant_new_va (format, NULL, &args);
      va_end (args);
    }
  g_assert_true (gtk_widget_activate_action_variant (GTK_WIDGET (view_of (f)), action,
                                                     parameter));
  drain ();
}

static void
test_complementary (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GArray) choices = NULL;
  VetoQuestion shown;
  VetoAnnotation *a;

  set_mode_and_open (f, "complementary");
  shown = *veto_label_view_get_question (view_of (f));
  g_assert_cmpint (shown.kind, ==, VETO_KIND_COMPLEMENTARY);
  g_assert_cmpuint (shown.n_candidates, ==, 4);
  choices = veto_label_view_get_choices (view_of (f));
  g_assert_cmpuint (choices->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpint (g_array_index (choices, gint64, i), ==, shown.candidates[i]);

  /* Key 3: the third candidate as shown. */
  activate (f, "label.answer", "u", 2);
  rows = read_annotations (f);
  g_assert_cmpuint (rows->len, ==, 1);
  a = rows->pdata[0];
  g_assert_cmpint (a->kind, ==, VETO_KIND_COMPLEMENTARY);
  g_assert_cmpint (a->item, ==, shown.item);
  g_assert_cmpstr (a->annotator, ==, ANNOTATOR);
  g_assert_cmpstr (a->annotator_kind, ==, "human");
  g_assert_cmpstr (a->answer_class, ==, name_of (f, shown.candidates[2]));
  g_assert_cmpuint (a->candidates->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpstr (a->candidates->pdata[i], ==, name_of (f, shown.candidates[i]));
  g_assert_false (a->undone);
  g_assert_false (a->flagged);
  g_assert_cmpint (veto_label_view_get_question (view_of (f))->item, !=, shown.item);

  /* Undo: the row is marked, not deleted, and the question comes back. */
  activate (f, "label.undo", NULL);
  g_clear_pointer (&rows, g_ptr_array_unref);
  rows = read_annotations (f);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_true (((VetoAnnotation *) rows->pdata[0])->undone);
  g_assert_cmpint (veto_label_view_get_question (view_of (f))->item, ==, shown.item);

  /* Flagged, then answered: the flag is saved with the answer. */
  activate (f, "label.flag", NULL);
  activate (f, "label.answer", "u", 0);
  g_clear_pointer (&rows, g_ptr_array_unref);
  rows = read_annotations (f);
  g_assert_cmpuint (rows->len, ==, 2);
  a = rows->pdata[1];
  g_assert_true (a->flagged);
  g_assert_false (a->undone);
  g_assert_cmpstr (a->answer_class, ==, name_of (f, shown.candidates[0]));

  /* + and − zoom the picture, Ctrl+0 fits it again; the zoom outlives the question. */
  {
    GtkWidget *picture = find_first (GTK_WIDGET (view_of (f)), VETO_TYPE_ITEM_PICTURE);
    double zoom;

    activate (f, "label.zoom-in", NULL);
    activate (f, "label.zoom-in", NULL);
    activate (f, "label.skip", NULL);
    g_object_get (picture, "zoom", &zoom, NULL);
    g_assert_cmpfloat_with_epsilon (zoom, 1.5625, 1e-9);
    activate (f, "label.zoom-reset", NULL);
    g_object_get (picture, "zoom", &zoom, NULL);
    g_assert_cmpfloat (zoom, ==, 1.0);
  }
}

static gboolean
has_model (gpointer data)
{
  Fixture *f = data;
  VetoEngineStatus status;

  veto_engine_get_status (veto_window_get_engine (f->window), &status);
  return status.model_version > 0;
}

/* The choice button of a class, found by its action target. */
static GtkWidget *
find_choice (GtkWidget *widget, gint64 class_id)
{
  if (GTK_IS_BUTTON (widget)
      && g_strcmp0 (gtk_actionable_get_action_name (GTK_ACTIONABLE (widget)), "label.choose") == 0
      && g_variant_get_int64 (gtk_actionable_get_action_target_value (GTK_ACTIONABLE (widget)))
             == class_id)
    return widget;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      GtkWidget *found = find_choice (child, class_id);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
test_ordinary (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GArray) choices = NULL;
  GPtrArray *classes;
  const VetoQuestion *q;
  VetoAnnotation *a;
  gint64 first_item;

  set_mode_and_open (f, "ordinary");
  classes = veto_engine_get_classes (veto_window_get_engine (f->window));
  q = veto_label_view_get_question (view_of (f));
  g_assert_cmpint (q->kind, ==, VETO_KIND_ORDINARY);
  first_item = q->item;
  choices = veto_label_view_get_choices (view_of (f));
  g_assert_cmpuint (choices->len, ==, classes->len);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (veto_label_view_get_filter (view_of (f)))));

  /* A click on a class's button, then keys 1 and 5. */
  activate (f, "label.choose", "x", ((VetoClass *) classes->pdata[3])->id);
  activate (f, "label.answer", "u", 0);
  activate (f, "label.answer", "u", 4);
  rows = read_annotations (f);
  g_assert_cmpuint (rows->len, ==, 3);
  a = rows->pdata[0];
  g_assert_cmpint (a->kind, ==, VETO_KIND_ORDINARY);
  g_assert_cmpint (a->item, ==, first_item);
  g_assert_cmpstr (a->answer_class, ==, ((VetoClass *) classes->pdata[3])->name);
  g_assert_cmpuint (a->candidates->len, ==, 0);
  g_assert_cmpstr (((VetoAnnotation *) rows->pdata[1])->answer_class, ==,
                   ((VetoClass *) classes->pdata[0])->name);
  g_assert_cmpstr (((VetoAnnotation *) rows->pdata[2])->answer_class, ==,
                   ((VetoClass *) classes->pdata[4])->name);

  /* Three answers make a round; once it is in, the next question carries its guess. */
  wait_until (has_model, f);
  activate (f, "label.skip", NULL);
  q = veto_label_view_get_question (view_of (f));
  g_assert_cmpint (q->guess_class, !=, 0);
  g_assert_true (gtk_widget_has_css_class (find_choice (GTK_WIDGET (view_of (f)), q->guess_class),
                                           "suggested-action"));
}

static void
test_preference (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) rows = NULL;
  VetoQuestion shown;
  VetoAnnotation *a;

  set_mode_and_open (f, "preference");
  shown = *veto_label_view_get_question (view_of (f));
  g_assert_cmpint (shown.kind, ==, VETO_KIND_PREFERENCE);
  g_assert_cmpint (shown.right_item, !=, 0);
  g_assert_cmpint (shown.right_item, !=, shown.item);
  g_assert_cmpstr (shown.criterion, !=, "");

  activate (f, "label.prefer", "s", "right");
  activate (f, "label.prefer", "s", "tie");
  rows = read_annotations (f);
  g_assert_cmpuint (rows->len, ==, 2);
  a = rows->pdata[0];
  g_assert_cmpint (a->kind, ==, VETO_KIND_PREFERENCE);
  g_assert_cmpint (a->item, ==, shown.item);
  g_assert_cmpint (a->right_item, ==, shown.right_item);
  g_assert_cmpstr (a->criterion, ==, shown.criterion);
  g_assert_cmpstr (a->preferred, ==, "right");
  g_assert_cmpstr (a->annotator, ==, ANNOTATOR);
  g_assert_cmpstr (((VetoAnnotation *) rows->pdata[1])->preferred, ==, "tie");
}

static void
test_skip_and_undo_depth (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) rows = NULL;
  guint undone = 0;

  set_mode_and_open (f, "complementary");
  activate (f, "label.skip", NULL);
  rows = read_annotations (f);
  g_assert_cmpuint (rows->len, ==, 0);
  g_clear_pointer (&rows, g_ptr_array_unref);

  for (guint i = 0; i < VETO_ENGINE_UNDO_DEPTH + 2; i++)
    activate (f, "label.answer", "u", i % 4);
  for (guint i = 0; i < VETO_ENGINE_UNDO_DEPTH; i++)
    activate (f, "label.undo", NULL);
  /* The eleventh undo is not offered: the action is disabled and does nothing. */
  gtk_widget_activate_action (GTK_WIDGET (view_of (f)), "label.undo", NULL);
  drain ();
  rows = read_annotations (f);
  g_assert_cmpuint (rows->len, ==, VETO_ENGINE_UNDO_DEPTH + 2);
  for (guint i = 0; i < rows->len; i++)
    undone += ((VetoAnnotation *) rows->pdata[i])->undone;
  g_assert_cmpuint (undone, ==, VETO_ENGINE_UNDO_DEPTH);
  g_assert_false (((VetoAnnotation *) rows->pdata[0])->undone);
  g_assert_false (((VetoAnnotation *) rows->pdata[1])->undone);
}

static const char *const many_names[] = {
  "apple", "apricot", "banana", "cherry", "date", "fig", "grape", "kiwi", "lemon", "mango",
  "melon", "olive", "peach", NULL,
};

static void
test_filter (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) rows = NULL;
  g_autoptr (GArray) choices = NULL;
  GtkEditable *filter;

  set_mode_and_open (f, "ordinary");
  filter = veto_label_view_get_filter (view_of (f));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (filter)));
  gtk_editable_set_text (filter, "ap");
  drain ();
  choices = veto_label_view_get_choices (view_of (f));
  g_assert_cmpuint (choices->len, ==, 2);
  /* Key 2 picks the second match. */
  activate (f, "label.answer", "u", 1);
  rows = read_annotations (f);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_cmpstr (((VetoAnnotation *) rows->pdata[0])->answer_class, ==, "apricot");
  g_assert_cmpstr (gtk_editable_get_text (filter), ==, "");
  g_clear_pointer (&choices, g_array_unref);
  choices = veto_label_view_get_choices (view_of (f));
  g_assert_cmpuint (choices->len, ==, 13);
}

typedef struct
{
  Fixture *f;
  VetoEngine *before;
} EngineChange;

static gboolean
engine_changed (gpointer data)
{
  EngineChange *c = data;

  return veto_window_get_engine (c->f->window) != c->before;
}

/* Changes settings together, then waits for the one new engine made from them. */
static void
wait_for_new_engine (Fixture *f, VetoEngine *before)
{
  EngineChange change = { f, before };

  wait_until (engine_changed, &change);
  drain ();
}

static void
test_settings_remake_engine (Fixture *f, gconstpointer data)
{
  const VetoEngineOptions *options;

  set_mode_and_open (f, "complementary");
  g_settings_set_string (f->settings, "mode", "preference");
  wait_for_new_engine (f, veto_window_get_engine (f->window));
  options = veto_engine_get_options (veto_window_get_engine (f->window));
  g_assert_cmpint (options->kind, ==, VETO_KIND_PREFERENCE);
  g_assert_cmpint (veto_label_view_get_question (view_of (f))->kind, ==, VETO_KIND_PREFERENCE);

  g_settings_set_string (f->settings, "mode", "complementary");
  g_settings_set_uint (f->settings, "candidates", 3);
  g_settings_set_string (f->settings, "strategy", "agcd");
  wait_for_new_engine (f, veto_window_get_engine (f->window));
  options = veto_engine_get_options (veto_window_get_engine (f->window));
  g_assert_cmpuint (options->n_candidates, ==, 3);
  g_assert_true (options->agcd);
  g_assert_cmpuint (veto_label_view_get_question (view_of (f))->n_candidates, ==, 3);

  /* K is capped by the project's five classes. */
  g_settings_set_uint (f->settings, "candidates", 9);
  wait_for_new_engine (f, veto_window_get_engine (f->window));
  g_assert_cmpuint (veto_label_view_get_question (view_of (f))->n_candidates, ==, 5);

  /* Recent projects and earlier names remember what was opened and by whom. */
  {
    g_auto (GStrv) recent = g_settings_get_strv (f->settings, "recent-projects");
    g_auto (GStrv) names = g_settings_get_strv (f->settings, "known-annotators");

    g_assert_cmpstr (recent[0], ==, f->path);
    g_assert_cmpstr (names[0], ==, ANNOTATOR);
  }
  veto_window_close_project (f->window);
  g_assert_null (veto_window_get_engine (f->window));
  g_assert_null (veto_window_get_project (f->window));
}

/* While another process holds the write lock, an answer cannot be committed: the window says so
 * and keeps the question; once the lock is gone the same key records it. */
static void
test_answer_fails_and_stays (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) other = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  VetoQuestion shown;

  set_mode_and_open (f, "complementary");
  shown = *veto_label_view_get_question (view_of (f));
  other = veto_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (veto_store_begin (other, &error));
  activate (f, "label.answer", "u", 1);
  g_assert_cmpint (veto_label_view_get_question (view_of (f))->item, ==, shown.item);
  veto_store_rollback (other);
  rows = read_annotations (f);
  g_assert_cmpuint (rows->len, ==, 0);
  g_clear_pointer (&rows, g_ptr_array_unref);

  activate (f, "label.answer", "u", 1);
  rows = read_annotations (f);
  g_assert_cmpuint (rows->len, ==, 1);
  g_assert_cmpstr (((VetoAnnotation *) rows->pdata[0])->answer_class, ==,
                   name_of (f, shown.candidates[1]));
}

static void
test_open_failure (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *missing = g_build_filename (f->dir, "missing.veto", NULL);

  g_assert_false (veto_window_open_project (f->window, missing, &error));
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_NOT_FOUND);
  g_assert_null (veto_window_get_project (f->window));
  /* The action reports it as a toast instead, and the welcome page stays. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.open-project", "s",
                                             missing));
  g_assert_null (veto_window_get_project (f->window));
}

/* Edits the project behind Veto's back, as a person with the sqlite3 shell could. */
static void
tamper (const char *path, const char *sql)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

/* Whether a label under widget shows text containing needle (a toast's title, once drawn). */
static gboolean
shows_text (GtkWidget *widget, const char *needle)
{
  if (GTK_IS_LABEL (widget) && gtk_widget_get_mapped (widget)
      && strstr (gtk_label_get_label (GTK_LABEL (widget)), needle))
    return TRUE;
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child;
       child = gtk_widget_get_next_sibling (child))
    if (shows_text (child, needle))
      return TRUE;
  return FALSE;
}

typedef struct
{
  GtkWidget *window;
  const char *needle;
} Shown;

static gboolean
is_shown (gpointer data)
{
  Shown *shown = data;

  return shows_text (shown->window, shown->needle);
}

/* A tampered project: the window refuses it, says which row is wrong, and stays usable. */
static void
test_open_tampered (Fixture *f, gconstpointer data)
{
  static const struct
  {
    const char *sql;
    int code;
    const char *needle;
  } cases[] = {
    { "UPDATE items SET pixels = substr (pixels, 1, 10) WHERE id = 1",
      VETO_STORE_ERROR_CORRUPT, "items row 1:" },
    { "PRAGMA foreign_keys = OFF; UPDATE items SET gold_class_id = 99 WHERE id = 2",
      VETO_STORE_ERROR_CORRUPT, "items row 2:" },
    { "CREATE TRIGGER wipe AFTER INSERT ON annotations BEGIN DELETE FROM items; END",
      VETO_STORE_ERROR_NOT_A_PROJECT, "trigger wipe" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *name = g_strdup_printf ("tampered-%u.veto", i);
      g_autofree char *copy = g_build_filename (f->dir, name, NULL);
      g_autofree char *contents = NULL;
      gsize length;
      Shown shown = { GTK_WIDGET (f->window), cases[i].needle };

      g_assert_true (g_file_get_contents (f->path, &contents, &length, &error));
      g_assert_true (g_file_set_contents (copy, contents, length, &error));
      tamper (copy, cases[i].sql);
      g_assert_false (veto_window_open_project (f->window, copy, &error));
      g_assert_error (error, VETO_STORE_ERROR, cases[i].code);
      g_assert_nonnull (strstr (error->message, name));
      g_assert_nonnull (strstr (error->message, cases[i].needle));
      g_assert_null (veto_window_get_project (f->window));
      /* Opened through the window's action, the error shows as a toast naming the row. */
      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.open-project", "s",
                                                 copy));
      wait_until (is_shown, &shown);
      g_assert_null (veto_window_get_project (f->window));
    }
  /* The window still opens a sound project afterwards. */
  set_mode_and_open (f, "complementary");
  g_assert_nonnull (veto_window_get_project (f->window));
}

/* Finds a combo row of the preferences window by its title. */
static AdwComboRow *
find_combo (GtkWidget *widget, const char *title)
{
  if (ADW_IS_COMBO_ROW (widget)
      && g_strcmp0 (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), title) == 0)
    return ADW_COMBO_ROW (widget);
  for (GtkWidget *child = gtk_widget_get_first_child (widget); child != NULL;
       child = gtk_widget_get_next_sibling (child))
    {
      AdwComboRow *found = find_combo (child, title);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
test_preferences (Fixture *f, gconstpointer data)
{
  GtkWidget *preferences = veto_preferences_window_new (f->settings);
  AdwComboRow *mode = find_combo (preferences, "Question Kind");
  AdwComboRow *strategy = find_combo (preferences, "Query Strategy");
  GtkSpinButton *candidates = GTK_SPIN_BUTTON (find_first (preferences, GTK_TYPE_SPIN_BUTTON));
  GListModel *strategies = adw_combo_row_get_model (strategy);
  const char *const *names = veto_active_strategy_names ();
  g_autofree char *chosen = NULL;

  g_assert_nonnull (mode);
  g_assert_cmpuint (adw_combo_row_get_selected (mode), ==, 1);
  adw_combo_row_set_selected (mode, 2);
  g_assert_cmpint (g_settings_get_enum (f->settings, "mode"), ==, 2);
  /* Every strategy of the engine, and AGCD last. */
  g_assert_cmpuint (g_list_model_get_n_items (strategies), ==, g_strv_length ((GStrv) names) + 1);
  adw_combo_row_set_selected (strategy, g_list_model_get_n_items (strategies) - 1);
  chosen = g_settings_get_string (f->settings, "strategy");
  g_assert_cmpstr (chosen, ==, "agcd");
  /* The first spin button is K, the candidates shown. */
  g_assert_cmpfloat (gtk_spin_button_get_value (candidates), ==, 4);
  gtk_spin_button_set_value (candidates, 6);
  g_assert_cmpuint (g_settings_get_uint (f->settings, "candidates"), ==, 6);
  gtk_window_destroy (GTK_WINDOW (preferences));
}

static gboolean
rendered (gpointer data)
{
  return gtk_widget_get_width (data) > 0;
}

/* A 2×2 image on 100×100 pixels is four even blocks: enlarged by copying, not by blurring. */
static void
test_picture_is_crisp (Fixture *f, gconstpointer data)
{
  const guint8 pixels[] = { 0, 255, 255, 0 };
  GtkWidget *window = gtk_window_new ();
  GtkWidget *picture = veto_item_picture_new ();
  g_autoptr (GtkSnapshot) snapshot = gtk_snapshot_new ();
  g_autoptr (GskRenderNode) node = NULL;
  g_autoptr (GdkTexture) texture = NULL;
  g_autofree guint8 *out = NULL;
  GskRenderer *renderer;
  int width, height;

  gtk_window_set_child (GTK_WINDOW (window), picture);
  gtk_window_set_default_size (GTK_WINDOW (window), 100, 100);
  veto_item_picture_set_pixels (VETO_ITEM_PICTURE (picture), 2, 2, 1, pixels);
  gtk_window_present (GTK_WINDOW (window));
  wait_until (rendered, picture);
  width = gtk_widget_get_width (picture);
  height = gtk_widget_get_height (picture);
  GTK_WIDGET_GET_CLASS (picture)->snapshot (picture, snapshot);
  node = gtk_snapshot_free_to_node (g_steal_pointer (&snapshot));
  renderer = gtk_native_get_renderer (GTK_NATIVE (window));
  texture = gsk_renderer_render_texture (renderer, node,
                                         &GRAPHENE_RECT_INIT (0, 0, width, height));
  out = g_malloc (4 * (gsize) width * height);
  gdk_texture_download (texture, out, 4 * width);
  {
    int side = MIN (width, height) / 2 * 2;
    int x0 = (width - side) / 2, y0 = (height - side) / 2;
    /* Just inside each block's corners, away from the rounded corners of the picture. */
    int xs[] = { x0 + side / 2 - 2, x0 + side / 2 + 1 };
    int ys[] = { y0 + side / 4, y0 + 3 * side / 4 };

    for (guint by = 0; by < 2; by++)
      for (guint bx = 0; bx < 2; bx++)
        {
          const guint8 *px = out + 4 * ((gsize) ys[by] * width + xs[bx]);

          /* GDK_MEMORY_DEFAULT is B8G8R8A8 premultiplied; grey makes the order moot. */
          g_assert_cmpuint (px[1], ==, pixels[by * 2 + bx]);
        }
  }
  gtk_window_destroy (GTK_WINDOW (window));
}

/* Builds a project from an IDX file in a thread, reporting progress on the main context. */
typedef struct
{
  gboolean finished;
  GError *error;
} JobResult;

static void
job_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  JobResult *r = user_data;

  veto_import_job_run_finish (VETO_IMPORT_JOB (source), result, &r->error);
  r->finished = TRUE;
}

static gboolean
job_finished (gpointer data)
{
  return ((JobResult *) data)->finished;
}

static void
count_progress (GObject *job, double fraction, gpointer user_data)
{
  double *last = user_data;

  g_assert_cmpfloat (fraction, >=, *last);
  *last = fraction;
}

static void
test_import_job (Fixture *f, gconstpointer data)
{
  g_autofree char *idx = g_build_filename (f->dir, "images-idx3-ubyte", NULL);
  g_autofree char *labels = g_build_filename (f->dir, "labels-idx1-ubyte", NULL);
  g_autofree char *project = g_build_filename (f->dir, "imported.veto", NULL);
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  g_autoptr (GByteArray) label_bytes = g_byte_array_new ();
  const guint8 header[] = { 0, 0, 8, 3, 0, 0, 0, 30, 0, 0, 0, 4, 0, 0, 0, 4 };
  const guint8 label_header[] = { 0, 0, 8, 1, 0, 0, 0, 30 };
  g_autoptr (VetoImportJob) job = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = NULL;
  VetoStoreSummary summary;
  JobResult result = { 0 };
  double last = 0;

  g_byte_array_append (bytes, header, sizeof header);
  g_byte_array_append (label_bytes, label_header, sizeof label_header);
  for (guint i = 0; i < 30; i++)
    {
      guint8 label = (guint8) (i % 3);

      for (guint p = 0; p < 16; p++)
        {
          guint8 v = (guint8) (i * 7 + p);

          g_byte_array_append (bytes, &v, 1);
        }
      g_byte_array_append (label_bytes, &label, 1);
    }
  g_assert_true (g_file_set_contents (idx, (char *) bytes->data, bytes->len, NULL));
  g_assert_true (g_file_set_contents (labels, (char *) label_bytes->data, label_bytes->len,
                                      NULL));

  job = veto_import_job_new (project, idx, VETO_FORMAT_IDX, labels);
  g_signal_connect (job, "progress", G_CALLBACK (count_progress), &last);
  veto_import_job_run_async (job, job_done_cb, &result);
  wait_until (job_finished, &result);
  g_assert_no_error (result.error);
  drain ();
  g_assert_cmpfloat (last, ==, 1.0);
  store = veto_store_open (project, TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (veto_store_summarize (store, &summary, &error));
  g_assert_cmpuint (summary.items, ==, 30);
  g_assert_cmpuint (summary.with_gold, ==, 30);

  /* A source that is not data leaves no project behind. */
  g_clear_pointer (&store, veto_store_close);
  g_clear_object (&job);
  g_unlink (project);
  result.finished = FALSE;
  job = veto_import_job_new (project, labels, VETO_FORMAT_CSV, NULL);
  veto_import_job_run_async (job, job_done_cb, &result);
  wait_until (job_finished, &result);
  g_assert_nonnull (result.error);
  g_clear_error (&result.error);
  g_assert_false (g_file_test (project, G_FILE_TEST_EXISTS));

  /* A cancelled import of a folder of images leaves no project behind either. */
  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *name = g_strdup_printf ("%02u.png", i);
      g_autofree char *png = g_build_filename (f->dir, "photos", "cat", name, NULL);
      g_autofree char *parent = g_path_get_dirname (png);
      g_autoptr (VetoImage) image = veto_image_new (8, 8, 3);

      memset (image->data, i * 11, veto_image_n_bytes (image));
      g_mkdir_with_parents (parent, 0700);
      g_assert_true (veto_image_save_png (image, png, NULL));
    }
  g_clear_object (&job);
  result.finished = FALSE;
  g_clear_pointer (&idx, g_free);
  idx = g_build_filename (f->dir, "photos", NULL);
  job = veto_import_job_new (project, idx, VETO_FORMAT_IMAGE_FOLDER, NULL);
  veto_import_job_run_async (job, job_done_cb, &result);
  veto_import_job_cancel (job);
  wait_until (job_finished, &result);
  g_assert_error (result.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&result.error);
  g_assert_false (g_file_test (project, G_FILE_TEST_EXISTS));
}

/* The guard of tests/display-test.sh: with GL disabled, showing a window maps no GL library.
 * A GL driver is unloaded at exit and leaks that no suppression can name (Debian 12's Mesa). */
static void
test_no_gl_driver (void)
{
  GtkWidget *window = gtk_window_new ();
  g_autofree char *maps = NULL;
  g_auto (GStrv) lines = NULL;

  gtk_window_present (GTK_WINDOW (window));
  wait_until (rendered, window);
  g_assert_true (g_file_get_contents ("/proc/self/maps", &maps, NULL, NULL));
  lines = g_strsplit (maps, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], "_dri.so") != NULL || strstr (lines[i], "libEGL") != NULL
        || strstr (lines[i], "libGLX") != NULL)
      g_error ("a GL library is mapped although GDK_DEBUG=%s: %s (the environment loads GL; run "
               "display tests through tests/display-test.sh)",
               g_getenv ("GDK_DEBUG"), lines[i]);
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  adw_init ();

#define ADD(name, func, names) \
  g_test_add (name, Fixture, names, fixture_set_up, func, fixture_tear_down)
  ADD ("/window/complementary", test_complementary, NULL);
  ADD ("/window/ordinary", test_ordinary, NULL);
  ADD ("/window/preference", test_preference, NULL);
  ADD ("/window/skip-and-undo-depth", test_skip_and_undo_depth, NULL);
  ADD ("/window/filter", test_filter, many_names);
  ADD ("/window/settings-remake-engine", test_settings_remake_engine, NULL);
  ADD ("/window/answer-fails-and-stays", test_answer_fails_and_stays, NULL);
  ADD ("/window/open-failure", test_open_failure, NULL);
  ADD ("/window/open-tampered", test_open_tampered, NULL);
  ADD ("/window/preferences", test_preferences, NULL);
  ADD ("/window/picture-is-crisp", test_picture_is_crisp, NULL);
  ADD ("/window/import-job", test_import_job, NULL);
#undef ADD
  g_test_add_func ("/window/no-gl-driver", test_no_gl_driver);
  return g_test_run ();
}
