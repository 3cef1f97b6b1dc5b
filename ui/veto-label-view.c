/* veto-label-view: asks the engine's current question and records the annotator's answer. */
#include "veto-label-view.h"

#include <glib/gi18n.h>
#include <math.h>
#include <string.h>

#include "veto-item-picture.h"

#define ZOOM_STEP 1.25
/* Toasts of this view are short: they report what a key just did, and the next key follows. */
#define TOAST_SECONDS 3
/* More classes than keys: the choices get a type-to-filter entry. */
#define MAX_KEYED_CHOICES 10

typedef struct
{
  GtkWidget *button;
  GtkWidget *keycap;
  gint64 class_id;
  char *name;
} Choice;

struct _VetoLabelView
{
  AdwBin parent_instance;

  VetoEngine *engine;
  VetoQuestion question;   /* a copy of what is on screen */
  gboolean has_question;
  gboolean flagged;
  guint undo_depth;        /* answers of this engine's session that can still be undone */
  double zoom;
  GPtrArray *choices;      /* Choice *, in display order */
  AdwToast *toast;         /* the last one shown, dismissed when the next comes */

  GtkStack *stack;
  VetoItemPicture *picture;
  VetoItemPicture *left_picture;
  VetoItemPicture *right_picture;
  GtkWidget *flag_badge;
  GtkLabel *prompt_label;
  GtkLabel *hint_label;
  GtkLabel *criterion_label;
  GtkSearchEntry *filter_entry;
  GtkBox *choices_box;
  GtkWidget *new_class_button;
  GtkLabel *session_label;
  GtkLabel *answers_label;
  GtkProgressBar *budget_bar;
  GtkLabel *speed_label;
  GtkLabel *model_label;
  GtkSpinner *spinner;
};

G_DEFINE_FINAL_TYPE (VetoLabelView, veto_label_view, ADW_TYPE_BIN)

/* The keys of the view's actions, shared by every view; see class_init. */
static GListStore *view_shortcuts;

static void veto_label_view_update_actions (VetoLabelView *self);

static void
choice_free (gpointer data)
{
  Choice *c = data;

  g_free (c->name);
  g_free (c);
}

static void
show_toast (VetoLabelView *self, const char *text)
{
  GtkWidget *overlay = gtk_widget_get_ancestor (GTK_WIDGET (self), ADW_TYPE_TOAST_OVERLAY);
  g_autofree char *escaped = g_markup_escape_text (text, -1);

  if (overlay == NULL)
    return;
  /* Only the newest toast matters to someone answering a question a second. */
  if (self->toast != NULL)
    adw_toast_dismiss (self->toast);
  g_clear_object (&self->toast);
  self->toast = g_object_ref (adw_toast_new (escaped));
  adw_toast_set_timeout (self->toast, TOAST_SECONDS);
  adw_toast_overlay_add_toast (ADW_TOAST_OVERLAY (overlay), g_object_ref (self->toast));
}

static const char *
class_name (VetoLabelView *self, gint64 class_id)
{
  GPtrArray *classes = veto_engine_get_classes (self->engine);

  for (guint i = 0; i < classes->len; i++)
    {
      VetoClass *klass = g_ptr_array_index (classes, i);

      if (klass->id == class_id)
        return klass->name;
    }
  return "?";
}

static gboolean
same_question (const VetoQuestion *a, const VetoQuestion *b)
{
  if (a->kind != b->kind || a->item != b->item || a->right_item != b->right_item
      || a->n_candidates != b->n_candidates || a->guess_class != b->guess_class
      || g_strcmp0 (a->criterion, b->criterion) != 0)
    return FALSE;
  for (guint i = 0; i < a->n_candidates; i++)
    if (a->candidates[i] != b->candidates[i])
      return FALSE;
  return TRUE;
}

static gboolean
filter_has_focus (VetoLabelView *self)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *focus = root != NULL ? gtk_root_get_focus (root) : NULL;

  return focus != NULL && gtk_widget_get_visible (GTK_WIDGET (self->filter_entry))
         && (focus == GTK_WIDGET (self->filter_entry)
             || gtk_widget_is_ancestor (focus, GTK_WIDGET (self->filter_entry)));
}

/* Typing anywhere in the window filters the classes, when there are too many for keys. */
static void
update_key_capture (VetoLabelView *self)
{
  GtkWidget *capture = NULL;

  if (gtk_widget_get_mapped (GTK_WIDGET (self))
      && gtk_widget_get_visible (GTK_WIDGET (self->filter_entry)))
    capture = GTK_WIDGET (gtk_widget_get_root (GTK_WIDGET (self)));
  gtk_search_entry_set_key_capture_widget (self->filter_entry, capture);
}

/* Numbers the visible choices 1–9, 0 in order; the rest are reached by filtering or clicking. */
static void
renumber_choices (VetoLabelView *self)
{
  guint n = 0;

  for (guint i = 0; i < self->choices->len; i++)
    {
      Choice *c = g_ptr_array_index (self->choices, i);
      gboolean keyed = gtk_widget_get_visible (c->button) && n < MAX_KEYED_CHOICES;

      if (keyed)
        {
          char key[2] = { (char) ('0' + (n + 1) % 10), '\0' };

          gtk_label_set_text (GTK_LABEL (c->keycap), key);
          n++;
        }
      gtk_widget_set_visible (c->keycap, keyed);
    }
}

static void
add_choice (VetoLabelView *self, gint64 class_id, const char *name, gboolean guess,
            double confidence)
{
  Choice *c = g_new0 (Choice, 1);
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 12);
  GtkWidget *label = gtk_label_new (name);

  c->class_id = class_id;
  c->name = g_strdup (name);
  c->keycap = gtk_label_new (NULL);
  gtk_widget_add_css_class (c->keycap, "keycap");
  gtk_box_append (GTK_BOX (box), c->keycap);
  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_box_append (GTK_BOX (box), label);
  c->button = gtk_button_new ();
  if (guess)
    {
      /* Translators: the model's confidence in its guess, on the guessed class's button. */
      g_autofree char *text = g_strdup_printf (_("%.0f%% sure"), 100 * confidence);
      GtkWidget *badge = gtk_label_new (text);

      gtk_widget_add_css_class (badge, "guess-badge");
      gtk_box_append (GTK_BOX (box), badge);
      gtk_widget_add_css_class (c->button, "suggested-action");
      gtk_accessible_update_property (GTK_ACCESSIBLE (c->button),
                                      GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                      _("The model’s guess"), -1);
    }
  gtk_button_set_child (GTK_BUTTON (c->button), box);
  gtk_widget_add_css_class (c->button, "choice");
  gtk_widget_set_focus_on_click (c->button, FALSE);
  gtk_actionable_set_action_name (GTK_ACTIONABLE (c->button), "label.choose");
  gtk_actionable_set_action_target (GTK_ACTIONABLE (c->button), "x", class_id);
  gtk_accessible_update_property (GTK_ACCESSIBLE (c->button), GTK_ACCESSIBLE_PROPERTY_LABEL, name,
                                  -1);
  gtk_box_append (self->choices_box, c->button);
  g_ptr_array_add (self->choices, c);
}

static void
clear_choices (VetoLabelView *self)
{
  GtkWidget *child;

  while ((child = gtk_widget_get_first_child (GTK_WIDGET (self->choices_box))) != NULL)
    gtk_box_remove (self->choices_box, child);
  g_ptr_array_set_size (self->choices, 0);
}

static void
build_choices (VetoLabelView *self)
{
  const VetoQuestion *q = &self->question;
  GPtrArray *classes = veto_engine_get_classes (self->engine);
  gboolean ordinary = q->kind == VETO_KIND_ORDINARY;
  g_autofree char *hint = NULL;

  clear_choices (self);
  gtk_editable_set_text (GTK_EDITABLE (self->filter_entry), "");
  if (ordinary)
    {
      gtk_label_set_text (self->prompt_label, _("Which class is this image?"));
      if (classes->len > MAX_KEYED_CHOICES)
        hint = g_strdup (_("Type to filter the classes; 1–9 and 0 pick from the matches."));
      for (guint i = 0; i < classes->len; i++)
        {
          VetoClass *klass = g_ptr_array_index (classes, i);

          add_choice (self, klass->id, klass->name, klass->id == q->guess_class,
                      q->guess_confidence);
        }
    }
  else
    {
      /* The wording of the CLImage collection protocol. */
      gtk_label_set_text (self->prompt_label, _("Choose one label that this image is NOT:"));
      hint = g_strdup_printf (g_dngettext (NULL, "At least %u of them is wrong; pick it.",
                                           "At least %u of them are wrong; pick any one.",
                                           q->n_candidates - 1),
                              q->n_candidates - 1);
      /* every image has been asked once: this one again, with other candidates */
      if (q->asked_before > 0)
        {
          g_autofree char *again = g_strdup_printf (
              g_dngettext (NULL, "Asked again: you have ruled out %u label for this image before.",
                           "Asked again: you have ruled out %u labels for this image before.",
                           q->asked_before),
              q->asked_before);
          char *both = g_strconcat (again, " ", hint, NULL);

          g_free (hint);
          hint = both;
        }
      for (guint i = 0; i < q->n_candidates; i++)
        add_choice (self, q->candidates[i], class_name (self, q->candidates[i]), FALSE, 0);
    }
  gtk_label_set_text (self->hint_label, hint != NULL ? hint : "");
  gtk_widget_set_visible (GTK_WIDGET (self->hint_label), hint != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->filter_entry),
                          ordinary && classes->len > MAX_KEYED_CHOICES);
  gtk_widget_set_visible (self->new_class_button, ordinary);
  update_key_capture (self);
  renumber_choices (self);
}

static void
picture_failed_cb (VetoLabelView *self, const GError *error)
{
  g_autofree char *text = g_strdup_printf (_("Cannot show the image: %s"), error->message);

  show_toast (self, text);
}

static void
show_question (VetoLabelView *self)
{
  const VetoQuestion *q = &self->question;
  VetoStore *store = veto_engine_get_store (self->engine);

  gtk_widget_set_visible (self->flag_badge, FALSE);
  if (q->kind == VETO_KIND_PREFERENCE)
    {
      /* Translators: the question of a preference pair; %s is a class name. */
      g_autofree char *text = g_strdup_printf (_("Which is more clearly a %s?"), q->criterion);

      gtk_label_set_text (self->criterion_label, text);
      veto_item_picture_clear (self->picture);
      clear_choices (self);
      veto_item_picture_set_item (self->left_picture, store, q->item);
      veto_item_picture_set_item (self->right_picture, store, q->right_item);
      gtk_stack_set_visible_child_name (self->stack, "pair");
    }
  else
    {
      veto_item_picture_clear (self->left_picture);
      veto_item_picture_clear (self->right_picture);
      veto_item_picture_set_item (self->picture, store, q->item);
      build_choices (self);
      gtk_stack_set_visible_child_name (self->stack, "single");
    }
}

/* Shows the engine's current question unless it is already on screen. */
static void
refresh (VetoLabelView *self)
{
  const VetoQuestion *q = self->engine != NULL ? veto_engine_current (self->engine) : NULL;

  if (q == NULL)
    {
      self->has_question = FALSE;
      self->flagged = FALSE;
      veto_item_picture_clear (self->picture);
      veto_item_picture_clear (self->left_picture);
      veto_item_picture_clear (self->right_picture);
      clear_choices (self);
      gtk_widget_set_visible (GTK_WIDGET (self->filter_entry), FALSE);
      update_key_capture (self);
      gtk_stack_set_visible_child_name (self->stack, "done");
    }
  else if (!self->has_question || !same_question (&self->question, q))
    {
      self->question = *q;
      self->has_question = TRUE;
      self->flagged = FALSE;
      show_question (self);
    }
  veto_label_view_update_actions (self);
}

static void
update_status (VetoLabelView *self)
{
  VetoEngineStatus st = { 0 };
  g_autofree char *answers = NULL;
  g_autofree char *speed = NULL;
  g_autofree char *model = NULL;

  if (self->engine != NULL)
    veto_engine_get_status (self->engine, &st);
  if (st.budget > 0)
    /* Translators: progress of the session, "12 of 200 answers". */
    answers = g_strdup_printf (g_dngettext (NULL, "%u of %u answer", "%u of %u answers",
                                            st.budget),
                               st.answers, st.budget);
  else
    answers = g_strdup_printf (g_dngettext (NULL, "%u answer", "%u answers", st.answers),
                               st.answers);
  gtk_label_set_text (self->answers_label, answers);
  gtk_widget_set_visible (GTK_WIDGET (self->budget_bar), st.budget > 0);
  if (st.budget > 0)
    gtk_progress_bar_set_fraction (self->budget_bar, MIN (1.0, (double) st.answers / st.budget));
  if (st.answers > 0)
    speed = g_strdup_printf (_("%.1f s per answer"), st.seconds_per_answer);
  gtk_label_set_text (self->speed_label, speed != NULL ? speed : "");
  if (st.model_version == 0)
    model = g_strdup (st.training ? _("Training the first model…") : _("No model yet"));
  else if (isnan (st.estimated_accuracy))
    /* Translators: %lld is the number of the model's training round. */
    model = g_strdup_printf (_("Model round %lld"), (long long) st.model_version);
  else if (g_strcmp0 (st.accuracy_from, "answers") == 0
           || g_strcmp0 (st.accuracy_from, "anchors") == 0)
    /* Translators: the project has no gold labels to test on: the estimate comes from answers
     * kept out of training. %lld is the training round, %.0f%% the estimated accuracy. */
    model = g_strdup_printf (_("Model round %lld · about %.0f%% accurate (estimated from "
                               "held-out answers, no gold labels)"),
                             (long long) st.model_version, 100 * st.estimated_accuracy);
  else
    /* Translators: %lld is the model's training round, %.0f%% its estimated accuracy. */
    model = g_strdup_printf (_("Model round %lld · about %.0f%% accurate"),
                             (long long) st.model_version, 100 * st.estimated_accuracy);
  gtk_label_set_text (self->model_label, model);
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), st.training);
  gtk_spinner_set_spinning (self->spinner, st.training);
}

/* Which project, and who is answering: the header shows the view switcher instead. */
static void
update_session (VetoLabelView *self)
{
  g_autofree char *project = NULL;
  g_autofree char *text = NULL;
  VetoStore *store;

  if (self->engine == NULL)
    {
      gtk_label_set_text (self->session_label, "");
      return;
    }
  store = veto_engine_get_store (self->engine);
  project = g_filename_display_basename (veto_store_get_path (store));
  if (g_str_has_suffix (project, ".veto"))
    project[strlen (project) - strlen (".veto")] = '\0';
  /* Translators: the footer's "project · annotator", e.g. "wardrobe · Ada". */
  text = g_strdup_printf (_("%s · %s"), project, veto_engine_get_options (self->engine)->annotator);
  gtk_label_set_text (self->session_label, text);
}

static void
engine_error_cb (VetoLabelView *self, const GError *error)
{
  g_autofree char *text = g_strdup_printf (_("The model could not learn: %s"), error->message);

  show_toast (self, text);
}

static void
answer (VetoLabelView *self, gint64 class_id, VetoPreferred preferred)
{
  g_autoptr (GError) error = NULL;

  if (!veto_engine_answer (self->engine, class_id, preferred, NULL, &error))
    {
      /* Translators: the answer could not be written to the project; %s says why. */
      g_autofree char *text = g_strdup_printf (_("Not saved: %s"), error->message);

      show_toast (self, text);
      return;
    }
  self->undo_depth = MIN (self->undo_depth + 1, VETO_ENGINE_UNDO_DEPTH);
  refresh (self);
  gtk_widget_grab_focus (GTK_WIDGET (self));
}

static void
answer_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoLabelView *self = VETO_LABEL_VIEW (widget);
  guint n = g_variant_get_uint32 (parameter);
  guint shown = 0;

  for (guint i = 0; i < self->choices->len; i++)
    {
      Choice *c = g_ptr_array_index (self->choices, i);

      if (gtk_widget_get_visible (c->button) && shown++ == n)
        {
          answer (self, c->class_id, VETO_PREFER_LEFT);
          return;
        }
    }
}

static void
choose_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  answer (VETO_LABEL_VIEW (widget), g_variant_get_int64 (parameter), VETO_PREFER_LEFT);
}

static void
prefer_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  const char *side = g_variant_get_string (parameter, NULL);
  VetoPreferred preferred;

  if (g_str_equal (side, "left"))
    preferred = VETO_PREFER_LEFT;
  else if (g_str_equal (side, "right"))
    preferred = VETO_PREFER_RIGHT;
  else if (g_str_equal (side, "tie"))
    preferred = VETO_PREFER_TIE;
  else
    return;
  answer (VETO_LABEL_VIEW (widget), 0, preferred);
}

static void
skip_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoLabelView *self = VETO_LABEL_VIEW (widget);

  veto_engine_skip (self->engine);
  refresh (self);
}

static void
flag_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoLabelView *self = VETO_LABEL_VIEW (widget);

  veto_engine_flag (self->engine);
  self->flagged = TRUE;
  gtk_widget_set_visible (self->flag_badge, self->question.kind != VETO_KIND_PREFERENCE);
  show_toast (self, _("Flagged for review; it is saved with your answer"));
  veto_label_view_update_actions (self);
}

static void
undo_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoLabelView *self = VETO_LABEL_VIEW (widget);
  g_autoptr (GError) error = NULL;

  if (!veto_engine_undo (self->engine, NULL, &error))
    {
      self->undo_depth = 0;
      show_toast (self, error->message);
    }
  else
    {
      self->undo_depth--;
      show_toast (self, _("Answer undone"));
    }
  refresh (self);
}

static void
new_class_entry_changed_cb (GtkEditable *entry, AdwMessageDialog *dialog)
{
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (entry)));

  adw_message_dialog_set_response_enabled (dialog, "add", *name != '\0');
}

static void
new_class_response_cb (AdwMessageDialog *dialog, const char *response, VetoLabelView *self)
{
  GtkEditable *entry = GTK_EDITABLE (adw_message_dialog_get_extra_child (dialog));
  g_autoptr (GError) error = NULL;
  gint64 id;

  if (!g_str_equal (response, "add") || self->engine == NULL || !self->has_question
      || self->question.kind != VETO_KIND_ORDINARY)
    return;
  if (!veto_engine_add_class (self->engine, gtk_editable_get_text (entry), &id, &error))
    {
      show_toast (self, error->message);
      return;
    }
  build_choices (self);
  answer (self, id, VETO_PREFER_LEFT);
}

static void
new_class_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoLabelView *self = VETO_LABEL_VIEW (widget);
  GtkWidget *entry = gtk_entry_new ();
  AdwMessageDialog *dialog;

  dialog = ADW_MESSAGE_DIALOG (adw_message_dialog_new (
      GTK_WINDOW (gtk_widget_get_root (widget)), _("New Class"),
      _("Name the class this image belongs to. The image is labeled with it, and it becomes a "
        "choice for every item.")));
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                  _("Class name"), -1);
  adw_message_dialog_set_extra_child (dialog, entry);
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "add", _("_Add and Answer"),
                                    NULL);
  adw_message_dialog_set_response_appearance (dialog, "add", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_response_enabled (dialog, "add", FALSE);
  adw_message_dialog_set_default_response (dialog, "add");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_signal_connect (entry, "changed", G_CALLBACK (new_class_entry_changed_cb), dialog);
  g_signal_connect_object (dialog, "response", G_CALLBACK (new_class_response_cb), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
set_zoom (VetoLabelView *self, double zoom)
{
  self->zoom = CLAMP (zoom, VETO_ITEM_PICTURE_MIN_ZOOM, VETO_ITEM_PICTURE_MAX_ZOOM);
  veto_item_picture_set_zoom (self->picture, self->zoom);
  veto_item_picture_set_zoom (self->left_picture, self->zoom);
  veto_item_picture_set_zoom (self->right_picture, self->zoom);
  veto_label_view_update_actions (self);
}

static void
zoom_action (GtkWidget *widget, const char *action_name, GVariant *parameter)
{
  VetoLabelView *self = VETO_LABEL_VIEW (widget);

  if (g_str_equal (action_name, "label.zoom-in"))
    set_zoom (self, self->zoom * ZOOM_STEP);
  else if (g_str_equal (action_name, "label.zoom-out"))
    set_zoom (self, self->zoom / ZOOM_STEP);
  else
    set_zoom (self, 1.0);
}

/* BackSpace, Space and F edit the filter while someone is typing in it. */
static gboolean
unless_filtering_cb (GtkWidget *widget, GVariant *args, gpointer user_data)
{
  VetoLabelView *self = VETO_LABEL_VIEW (widget);
  const char *action = g_variant_get_string (args, NULL);

  if (filter_has_focus (self) || !gtk_widget_is_sensitive (widget))
    return FALSE;
  return gtk_widget_activate_action (widget, action, NULL);
}

static void
filter_changed_cb (VetoLabelView *self)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (self->filter_entry));

  for (guint i = 0; i < self->choices->len; i++)
    {
      Choice *c = g_ptr_array_index (self->choices, i);

      gtk_widget_set_visible (c->button, *text == '\0' || g_str_match_string (text, c->name, TRUE));
    }
  renumber_choices (self);
}

static void
filter_activate_cb (VetoLabelView *self)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "label.answer", "u", 0);
}

static void
filter_stop_cb (VetoLabelView *self)
{
  gtk_editable_set_text (GTK_EDITABLE (self->filter_entry), "");
}

static void
veto_label_view_update_actions (VetoLabelView *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  gboolean asking = self->engine != NULL && self->has_question;
  gboolean preference = asking && self->question.kind == VETO_KIND_PREFERENCE;

  gtk_widget_action_set_enabled (widget, "label.answer", asking && !preference);
  gtk_widget_action_set_enabled (widget, "label.choose", asking && !preference);
  gtk_widget_action_set_enabled (widget, "label.prefer", preference);
  gtk_widget_action_set_enabled (widget, "label.skip", asking);
  gtk_widget_action_set_enabled (widget, "label.flag", asking && !self->flagged);
  gtk_widget_action_set_enabled (widget, "label.undo",
                                 self->engine != NULL && self->undo_depth > 0);
  gtk_widget_action_set_enabled (widget, "label.new-class",
                                 asking && self->question.kind == VETO_KIND_ORDINARY);
  gtk_widget_action_set_enabled (widget, "label.zoom-in",
                                 asking && self->zoom < VETO_ITEM_PICTURE_MAX_ZOOM);
  gtk_widget_action_set_enabled (widget, "label.zoom-out",
                                 asking && self->zoom > VETO_ITEM_PICTURE_MIN_ZOOM);
  gtk_widget_action_set_enabled (widget, "label.zoom-reset", asking && self->zoom != 1.0);
}

void
veto_label_view_set_engine (VetoLabelView *self, VetoEngine *engine)
{
  g_return_if_fail (VETO_IS_LABEL_VIEW (self));
  g_return_if_fail (engine == NULL || VETO_IS_ENGINE (engine));

  if (self->engine == engine)
    return;
  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  g_set_object (&self->engine, engine);
  self->has_question = FALSE;
  self->undo_depth = 0;
  if (engine != NULL)
    {
      g_signal_connect_swapped (engine, "question-changed", G_CALLBACK (refresh), self);
      g_signal_connect_swapped (engine, "status-changed", G_CALLBACK (update_status), self);
      g_signal_connect_swapped (engine, "error", G_CALLBACK (engine_error_cb), self);
    }
  update_session (self);
  refresh (self);
  update_status (self);
}

const VetoQuestion *
veto_label_view_get_question (VetoLabelView *self)
{
  g_return_val_if_fail (VETO_IS_LABEL_VIEW (self), NULL);

  return self->has_question ? &self->question : NULL;
}

GArray *
veto_label_view_get_choices (VetoLabelView *self)
{
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  g_return_val_if_fail (VETO_IS_LABEL_VIEW (self), ids);

  for (guint i = 0; i < self->choices->len; i++)
    {
      Choice *c = g_ptr_array_index (self->choices, i);

      if (gtk_widget_get_visible (c->button))
        g_array_append_val (ids, c->class_id);
    }
  return ids;
}

GtkEditable *
veto_label_view_get_filter (VetoLabelView *self)
{
  g_return_val_if_fail (VETO_IS_LABEL_VIEW (self), NULL);

  return GTK_EDITABLE (self->filter_entry);
}

static void
veto_label_view_map (GtkWidget *widget)
{
  GTK_WIDGET_CLASS (veto_label_view_parent_class)->map (widget);
  update_key_capture (VETO_LABEL_VIEW (widget));
}

static void
veto_label_view_unmap (GtkWidget *widget)
{
  VetoLabelView *self = VETO_LABEL_VIEW (widget);

  gtk_search_entry_set_key_capture_widget (self->filter_entry, NULL);
  GTK_WIDGET_CLASS (veto_label_view_parent_class)->unmap (widget);
}

static void
veto_label_view_dispose (GObject *object)
{
  VetoLabelView *self = VETO_LABEL_VIEW (object);

  if (self->engine != NULL)
    g_signal_handlers_disconnect_by_data (self->engine, self);
  g_clear_object (&self->engine);
  g_clear_object (&self->toast);
  g_clear_pointer (&self->choices, g_ptr_array_unref);

  G_OBJECT_CLASS (veto_label_view_parent_class)->dispose (object);
}

static void
bind_key (guint keyval, GdkModifierType modifiers, const char *action, GVariant *args)
{
  g_autoptr (GtkShortcut) shortcut = gtk_shortcut_new (gtk_keyval_trigger_new (keyval, modifiers),
                                                       gtk_named_action_new (action));

  gtk_shortcut_set_arguments (shortcut, args);
  g_list_store_append (view_shortcuts, shortcut);
}

static void
bind_key_unless_filtering (guint keyval, const char *action)
{
  g_autoptr (GtkShortcut) shortcut =
      gtk_shortcut_new (gtk_keyval_trigger_new (keyval, 0),
                        gtk_callback_action_new (unless_filtering_cb, NULL, NULL));

  gtk_shortcut_set_arguments (shortcut, g_variant_new_string (action));
  g_list_store_append (view_shortcuts, shortcut);
}

static void
veto_label_view_class_init (VetoLabelViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = veto_label_view_dispose;
  widget_class->map = veto_label_view_map;
  widget_class->unmap = veto_label_view_unmap;

  g_type_ensure (VETO_TYPE_ITEM_PICTURE);
  gtk_widget_class_set_template_from_resource (widget_class,
                                               "/io/github/veto/Veto/ui/veto-label-view.ui");
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, stack);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, picture);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, left_picture);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, right_picture);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, flag_badge);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, prompt_label);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, hint_label);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, criterion_label);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, filter_entry);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, choices_box);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, new_class_button);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, session_label);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, answers_label);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, budget_bar);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, speed_label);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, model_label);
  gtk_widget_class_bind_template_child (widget_class, VetoLabelView, spinner);
  gtk_widget_class_bind_template_callback (widget_class, filter_changed_cb);
  gtk_widget_class_bind_template_callback (widget_class, filter_activate_cb);
  gtk_widget_class_bind_template_callback (widget_class, filter_stop_cb);

  /* The keys are handled by the window in the capture phase (see init), so they work wherever
   * the focus is and before a focused button could take Space for itself. */
  view_shortcuts = g_list_store_new (GTK_TYPE_SHORTCUT);

  gtk_widget_class_install_action (widget_class, "label.answer", "u", answer_action);
  for (guint n = 0; n < MAX_KEYED_CHOICES; n++)
    {
      guint digit = (n + 1) % 10;

      bind_key (GDK_KEY_0 + digit, 0, "label.answer", g_variant_new_uint32 (n));
      bind_key (GDK_KEY_KP_0 + digit, 0, "label.answer", g_variant_new_uint32 (n));
    }
  gtk_widget_class_install_action (widget_class, "label.choose", "x", choose_action);

  gtk_widget_class_install_action (widget_class, "label.prefer", "s", prefer_action);
  bind_key (GDK_KEY_Left, 0, "label.prefer", g_variant_new_string ("left"));
  bind_key (GDK_KEY_Right, 0, "label.prefer", g_variant_new_string ("right"));
  bind_key (GDK_KEY_equal, 0, "label.prefer", g_variant_new_string ("tie"));
  bind_key (GDK_KEY_KP_Equal, 0, "label.prefer", g_variant_new_string ("tie"));

  gtk_widget_class_install_action (widget_class, "label.skip", NULL, skip_action);
  bind_key_unless_filtering (GDK_KEY_space, "label.skip");

  gtk_widget_class_install_action (widget_class, "label.flag", NULL, flag_action);
  bind_key_unless_filtering (GDK_KEY_f, "label.flag");

  gtk_widget_class_install_action (widget_class, "label.undo", NULL, undo_action);
  bind_key (GDK_KEY_z, GDK_CONTROL_MASK, "label.undo", NULL);
  bind_key_unless_filtering (GDK_KEY_BackSpace, "label.undo");

  gtk_widget_class_install_action (widget_class, "label.new-class", NULL, new_class_action);

  gtk_widget_class_install_action (widget_class, "label.zoom-in", NULL, zoom_action);
  bind_key (GDK_KEY_plus, 0, "label.zoom-in", NULL);
  bind_key (GDK_KEY_KP_Add, 0, "label.zoom-in", NULL);
  bind_key (GDK_KEY_plus, GDK_CONTROL_MASK, "label.zoom-in", NULL);
  gtk_widget_class_install_action (widget_class, "label.zoom-out", NULL, zoom_action);
  bind_key (GDK_KEY_minus, 0, "label.zoom-out", NULL);
  bind_key (GDK_KEY_KP_Subtract, 0, "label.zoom-out", NULL);
  bind_key (GDK_KEY_minus, GDK_CONTROL_MASK, "label.zoom-out", NULL);
  gtk_widget_class_install_action (widget_class, "label.zoom-reset", NULL, zoom_action);
  bind_key (GDK_KEY_0, GDK_CONTROL_MASK, "label.zoom-reset", NULL);
}

static void
veto_label_view_init (VetoLabelView *self)
{
  GtkEventController *keys;

  gtk_widget_init_template (GTK_WIDGET (self));
  self->choices = g_ptr_array_new_with_free_func (choice_free);
  self->zoom = 1.0;
  g_signal_connect_swapped (self->picture, "load-failed", G_CALLBACK (picture_failed_cb), self);
  g_signal_connect_swapped (self->left_picture, "load-failed", G_CALLBACK (picture_failed_cb),
                            self);
  g_signal_connect_swapped (self->right_picture, "load-failed", G_CALLBACK (picture_failed_cb),
                            self);

  keys = gtk_shortcut_controller_new_for_model (G_LIST_MODEL (view_shortcuts));
  gtk_shortcut_controller_set_scope (GTK_SHORTCUT_CONTROLLER (keys), GTK_SHORTCUT_SCOPE_GLOBAL);
  gtk_event_controller_set_propagation_phase (keys, GTK_PHASE_CAPTURE);
  gtk_widget_add_controller (GTK_WIDGET (self), keys);

  gtk_widget_set_focusable (GTK_WIDGET (self), TRUE);
  update_status (self);
  veto_label_view_update_actions (self);
}
