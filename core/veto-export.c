/* veto-export: writes a project's answers out for other tools (JSONL, CSV). */
#include "veto-export.h"

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

gboolean
veto_export_format_from_string (const char *text, VetoExportFormat *out_format)
{
  if (g_strcmp0 (text, "jsonl") == 0)
    *out_format = VETO_EXPORT_JSONL;
  else if (g_strcmp0 (text, "csv") == 0)
    *out_format = VETO_EXPORT_CSV;
  else
    return FALSE;
  return TRUE;
}

typedef struct
{
  VetoExportFormat format;
  GString *out;
  guint count;
} Export;

static const char *const csv_columns[] = {
  "id", "kind", "item", "item_sha256", "annotator", "annotator_kind", "answer", "candidates",
  "right_item", "criterion", "preferred", "soft_labels", "model_version", "strategy", "score",
  "campaign", "shown_at", "answered_at", "undone", "flagged", "question",
};

static void
csv_field (GString *out, const char *value, gboolean last)
{
  if (value && strpbrk (value, ",\"\n\r"))
    {
      g_string_append_c (out, '"');
      for (const char *p = value; *p; p++)
        {
          if (*p == '"')
            g_string_append_c (out, '"');
          g_string_append_c (out, *p);
        }
      g_string_append_c (out, '"');
    }
  else if (value)
    g_string_append (out, value);
  g_string_append_c (out, last ? '\n' : ',');
}

static char *
int_or_empty (gint64 value)
{
  return value > 0 ? g_strdup_printf ("%" G_GINT64_FORMAT, value) : g_strdup ("");
}

static void
add_csv_row (Export *ex, const VetoAnnotation *a)
{
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, a->id);
  g_autofree char *item = g_strdup_printf ("%" G_GINT64_FORMAT, a->item);
  g_autofree char *right = int_or_empty (a->right_item);
  g_autofree char *version = int_or_empty (a->model_version);
  g_autofree char *campaign = int_or_empty (a->campaign);
  g_autofree char *score = isnan (a->score) ? g_strdup ("") : g_strdup_printf ("%.17g", a->score);
  g_autofree char *candidates = NULL;

  g_ptr_array_add (a->candidates, NULL);
  candidates = g_strjoinv ("|", (char **) a->candidates->pdata);
  g_ptr_array_set_size (a->candidates, a->candidates->len - 1);
  {
    const char *values[] = {
      id, veto_answer_kind_to_string (a->kind), item, a->item_sha256, a->annotator,
      a->annotator_kind, a->answer_class, candidates, right, a->criterion, a->preferred,
      a->soft_json, version, a->strategy, score, campaign, a->shown_at, a->answered_at,
      a->undone ? "1" : "0", a->flagged ? "1" : "0", a->question_json,
    };

    G_STATIC_ASSERT (G_N_ELEMENTS (values) == G_N_ELEMENTS (csv_columns));
    for (guint i = 0; i < G_N_ELEMENTS (values); i++)
      csv_field (ex->out, values[i], i + 1 == G_N_ELEMENTS (values));
  }
}

static void
member_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
member_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  if (value > 0)
    json_builder_add_int_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_json_line (Export *ex, const VetoAnnotation *a)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonNode) question = json_from_string (a->question_json, NULL);
  g_autoptr (JsonNode) soft = a->soft_json ? json_from_string (a->soft_json, NULL) : NULL;
  g_autofree char *line = NULL;

  json_builder_begin_object (b);
  member_int (b, "id", a->id);
  member_string (b, "kind", veto_answer_kind_to_string (a->kind));
  member_int (b, "item", a->item);
  member_string (b, "item_sha256", a->item_sha256);
  member_string (b, "annotator", a->annotator);
  member_string (b, "annotator_kind", a->annotator_kind);
  member_string (b, "answer", a->answer_class);
  json_builder_set_member_name (b, "candidates");
  json_builder_begin_array (b);
  for (guint i = 0; i < a->candidates->len; i++)
    json_builder_add_string_value (b, a->candidates->pdata[i]);
  json_builder_end_array (b);
  member_int (b, "right_item", a->right_item);
  member_string (b, "criterion", a->criterion);
  member_string (b, "preferred", a->preferred);
  json_builder_set_member_name (b, "soft_labels");
  if (soft)
    json_builder_add_value (b, g_steal_pointer (&soft));
  else
    json_builder_add_null_value (b);
  member_int (b, "model_version", a->model_version);
  member_string (b, "strategy", a->strategy);
  json_builder_set_member_name (b, "score");
  if (isnan (a->score))
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, a->score);
  member_int (b, "campaign", a->campaign);
  member_string (b, "shown_at", a->shown_at);
  member_string (b, "answered_at", a->answered_at);
  json_builder_set_member_name (b, "undone");
  json_builder_add_boolean_value (b, a->undone);
  json_builder_set_member_name (b, "flagged");
  json_builder_add_boolean_value (b, a->flagged);
  json_builder_set_member_name (b, "question");
  if (question)
    json_builder_add_value (b, g_steal_pointer (&question));
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  line = json_to_string (root, FALSE);
  g_string_append (ex->out, line);
  g_string_append_c (ex->out, '\n');
}

static gboolean
on_annotation (const VetoAnnotation *a, gpointer user_data)
{
  Export *ex = user_data;

  if (ex->format == VETO_EXPORT_CSV)
    add_csv_row (ex, a);
  else
    add_json_line (ex, a);
  ex->count++;
  return TRUE;
}

gboolean
veto_export_annotations (VetoStore *store, VetoExportFormat format, const char *path,
                         guint *out_count, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  Export ex = { .format = format, .out = out };

  if (format == VETO_EXPORT_CSV)
    for (guint i = 0; i < G_N_ELEMENTS (csv_columns); i++)
      csv_field (out, csv_columns[i], i + 1 == G_N_ELEMENTS (csv_columns));
  if (!veto_store_foreach_annotation (store, TRUE, on_annotation, &ex, error))
    return FALSE;
  /* g_file_set_contents writes beside and renames: the export is whole or absent. */
  if (!g_file_set_contents (path, out->str, out->len, error))
    return FALSE;
  if (out_count)
    *out_count = ex.count;
  return TRUE;
}
