/* veto-export: answers for other tools: JSONL, CSV, CLImage-style arrays, ImageFolder. */
#include "veto-export.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "veto-image.h"
#include "veto-npy.h"
#include "veto-stats.h"

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

/* --- datasets --- */

G_DEFINE_QUARK (veto-export-error-quark, veto_export_error)

/* One standing answer of an item, as class indices. */
typedef struct
{
  gint label;
  GArray *candidates; /* gint */
  char *annotator;
} ItemAnswer;

static void
item_answer_free (ItemAnswer *a)
{
  g_clear_pointer (&a->candidates, g_array_unref);
  g_free (a->annotator);
  g_free (a);
}

typedef struct
{
  VetoAnswerKind kind;
  gint64 campaign;
  GHashTable *class_index; /* name → GINT_TO_POINTER (index + 1) */
  GHashTable *by_item;     /* item id (boxed) → GPtrArray of ItemAnswer */
  guint answers;
} Collect;

static gint
class_index (Collect *c, const char *name)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (c->class_index, name)) - 1;
}

static gboolean
collect_answer (const VetoAnnotation *a, gpointer user_data)
{
  Collect *c = user_data;
  ItemAnswer *answer;
  GPtrArray *list;

  if (a->kind != c->kind || (c->campaign > 0 && a->campaign != c->campaign))
    return TRUE;
  answer = g_new0 (ItemAnswer, 1);
  answer->label = class_index (c, a->answer_class);
  answer->annotator = g_strdup (a->annotator);
  answer->candidates = g_array_new (FALSE, FALSE, sizeof (gint));
  for (guint i = 0; i < a->candidates->len; i++)
    {
      gint index = class_index (c, a->candidates->pdata[i]);

      g_array_append_val (answer->candidates, index);
    }
  list = g_hash_table_lookup (c->by_item, &a->item);
  if (list == NULL)
    {
      list = g_ptr_array_new_with_free_func ((GDestroyNotify) item_answer_free);
      g_hash_table_insert (c->by_item, g_memdup2 (&a->item, sizeof a->item), list);
    }
  g_ptr_array_add (list, answer);
  c->answers++;
  return TRUE;
}

static int
compare_ids (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

/* The standing answers of one kind (in one campaign) by item, and the rows to write: the
 * campaign's items, or the answered ones, in id order. */
typedef struct
{
  GPtrArray *classes;  /* VetoClass */
  Collect collect;
  GArray *items;       /* VetoCampaignItem */
  VetoCampaign *campaign;
} Gathered;

static void
gathered_clear (Gathered *g)
{
  g_clear_pointer (&g->classes, g_ptr_array_unref);
  g_clear_pointer (&g->collect.class_index, g_hash_table_unref);
  g_clear_pointer (&g->collect.by_item, g_hash_table_unref);
  g_clear_pointer (&g->items, g_array_unref);
  g_clear_pointer (&g->campaign, veto_campaign_free);
}

static gboolean
gather (VetoStore *store, VetoAnswerKind kind, gint64 campaign, Gathered *g, GError **error)
{
  g->classes = veto_store_list_classes (store, error);
  if (g->classes == NULL)
    return FALSE;
  g->collect.kind = kind;
  g->collect.campaign = campaign;
  g->collect.class_index = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < g->classes->len; i++)
    g_hash_table_insert (g->collect.class_index, ((VetoClass *) g->classes->pdata[i])->name,
                         GINT_TO_POINTER (i + 1));
  g->collect.by_item = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                              (GDestroyNotify) g_ptr_array_unref);
  if (!veto_store_foreach_annotation (store, FALSE, collect_answer, &g->collect, error))
    return FALSE;
  if (campaign > 0)
    {
      GPtrArray *all = veto_store_list_campaigns (store, error);

      if (all == NULL)
        return FALSE;
      for (guint i = 0; i < all->len && g->campaign == NULL; i++)
        if (((VetoCampaign *) all->pdata[i])->id == campaign)
          g->campaign = g_ptr_array_steal_index (all, i);
      g_ptr_array_unref (all);
      g->items = veto_store_campaign_list_items (store, campaign, error);
      return g->items != NULL;
    }
  {
    g_autoptr (GList) keys = g_hash_table_get_keys (g->collect.by_item);

    g->items = g_array_new (FALSE, FALSE, sizeof (VetoCampaignItem));
    for (GList *l = keys; l; l = l->next)
      {
        VetoCampaignItem item = { .item = *(gint64 *) l->data };

        g_array_append_val (g->items, item);
      }
    g_array_sort (g->items, compare_ids);
  }
  return TRUE;
}

/* An item's image: its embedded pixels, or its file decoded. */
static VetoImage *
item_image (VetoStore *store, const VetoItem *item, GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *name = NULL;

  if (item->pixels)
    {
      gsize size;
      const guint8 *data = g_bytes_get_data (item->pixels, &size);

      if (size != (gsize) item->width * item->height * item->channels)
        {
          g_set_error (error, VETO_EXPORT_ERROR, VETO_EXPORT_ERROR_MIXED_SIZES,
                       "item %" G_GINT64_FORMAT ": its pixels do not fill %u×%u×%u", item->id,
                       item->width, item->height, item->channels);
          return NULL;
        }
      return veto_image_new_from_data (item->width, item->height, item->channels, data);
    }
  path = veto_store_item_file (store, item, error);
  if (path == NULL)
    return NULL;
  name = veto_store_describe_item (store, item);
  return veto_image_load_verified (path, item->sha256, name, 0, 0, error);
}

static gboolean
write_file (const char *dir, const char *name, const void *data, gsize size, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return g_file_set_contents (path, data, size, error);
}

static gboolean
write_npy (const char *dir, const char *name, VetoNpyDtype dtype, const gsize *shape, guint ndim,
           gconstpointer data, GError **error)
{
  g_autoptr (GBytes) bytes = veto_npy_encode (dtype, shape, ndim, data);
  gsize size;
  gconstpointer contents = g_bytes_get_data (bytes, &size);

  return write_file (dir, name, contents, size, error);
}

static gboolean
make_dir (const char *dir, GError **error)
{
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_autofree char *display = g_filename_display_name (dir);

      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved), "%s: cannot make the "
                   "folder: %s", display, g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

static const char *
class_name_at (GPtrArray *classes, gint index)
{
  return ((VetoClass *) classes->pdata[index])->name;
}

/* One dataset.jsonl line: where the item's row is, what it is, and what was answered. */
static void
climage_line (GString *out, GPtrArray *classes, const VetoItem *item, gboolean anchor,
              guint row, gint gold, GPtrArray *answers)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *line = NULL;
  guint n = answers ? answers->len : 0;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "index");
  json_builder_add_int_value (b, row);
  json_builder_set_member_name (b, "item");
  json_builder_add_int_value (b, item->id);
  member_string (b, "sha256", item->sha256);
  member_string (b, "path", item->path);
  member_string (b, "gold", gold >= 0 ? class_name_at (classes, gold) : NULL);
  json_builder_set_member_name (b, "anchor");
  json_builder_add_boolean_value (b, anchor);
  json_builder_set_member_name (b, "complementary_labels");
  json_builder_begin_array (b);
  for (guint j = 0; j < n; j++)
    json_builder_add_string_value (
        b, class_name_at (classes, ((ItemAnswer *) answers->pdata[j])->label));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "candidates");
  json_builder_begin_array (b);
  for (guint j = 0; j < n; j++)
    {
      GArray *shown = ((ItemAnswer *) answers->pdata[j])->candidates;

      json_builder_begin_array (b);
      for (guint c = 0; c < shown->len; c++)
        json_builder_add_string_value (b, class_name_at (classes, g_array_index (shown, gint, c)));
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "annotators");
  json_builder_begin_array (b);
  for (guint j = 0; j < n; j++)
    json_builder_add_string_value (b, ((ItemAnswer *) answers->pdata[j])->annotator);
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  line = json_to_string (root, FALSE);
  g_string_append (out, line);
  g_string_append_c (out, '\n');
}

static gboolean
mixed_sizes (const VetoItem *first, const VetoImage *a, const VetoItem *item, const VetoImage *b,
             GError **error)
{
  if (a->width == b->width && a->height == b->height && a->channels == b->channels)
    return FALSE;
  g_set_error (error, VETO_EXPORT_ERROR, VETO_EXPORT_ERROR_MIXED_SIZES,
               "the CLImage arrays need items of one size: item %" G_GINT64_FORMAT " is %u×%u×%u "
               "(width×height×channels) but item %" G_GINT64_FORMAT " is %u×%u×%u; export a "
               "campaign of items of one size", first->id, a->width, a->height, a->channels,
               item->id, b->width, b->height, b->channels);
  return TRUE;
}

gboolean
veto_export_climage (VetoStore *store, gint64 campaign, const char *dir,
                     VetoExportSummary *out_summary, GError **error)
{
  Gathered g = { 0 };
  g_autoptr (GString) jsonl = g_string_new (NULL);
  g_autoptr (GString) class_names = g_string_new (NULL);
  g_autoptr (GByteArray) pixels = g_byte_array_new ();
  g_autoptr (VetoItem) first = NULL;
  g_autoptr (VetoImage) first_image = NULL;
  g_autofree gint64 *cl = NULL;
  g_autofree gint64 *candidates = NULL;
  g_autofree gint64 *ord = NULL;
  VetoExportSummary summary = { 0 };
  gsize n, m = 0, k = 0;
  gboolean ok = FALSE;

  if (!gather (store, VETO_KIND_COMPLEMENTARY, campaign, &g, error))
    goto out;
  n = g.items->len;
  if (g.campaign && g.campaign->protocol != VETO_KIND_COMPLEMENTARY)
    {
      g_set_error (error, VETO_EXPORT_ERROR, VETO_EXPORT_ERROR_EMPTY,
                   "campaign \"%s\" collects %s answers; the climage format holds complementary "
                   "ones", g.campaign->name, veto_answer_kind_to_string (g.campaign->protocol));
      goto out;
    }
  if (n == 0)
    {
      g_set_error (error, VETO_EXPORT_ERROR, VETO_EXPORT_ERROR_EMPTY,
                   "no complementary answers to export");
      goto out;
    }
  if (g.campaign)
    {
      m = g.campaign->per_item;
      k = g.campaign->n_candidates;
    }
  for (gsize i = 0; i < n; i++)
    {
      GPtrArray *answers = g_hash_table_lookup (g.collect.by_item,
                                                &g_array_index (g.items, VetoCampaignItem, i).item);

      m = MAX (m, answers ? answers->len : 0);
      for (guint j = 0; answers && j < answers->len; j++)
        k = MAX (k, ((ItemAnswer *) answers->pdata[j])->candidates->len);
    }
  m = MAX (m, 1);
  k = MAX (k, 1);
  cl = g_new (gint64, n * m);
  candidates = g_new (gint64, n * m * k);
  ord = g_new (gint64, n);
  for (gsize i = 0; i < n * m; i++)
    cl[i] = -1;
  for (gsize i = 0; i < n * m * k; i++)
    candidates[i] = -1;
  for (gsize i = 0; i < n; i++)
    {
      const VetoCampaignItem *row = &g_array_index (g.items, VetoCampaignItem, i);
      GPtrArray *answers = g_hash_table_lookup (g.collect.by_item, &row->item);
      g_autoptr (VetoItem) item = veto_store_get_item (store, row->item, error);
      g_autoptr (VetoImage) image = NULL;
      gint gold = -1;

      if (item == NULL || !(image = item_image (store, item, error)))
        goto out;
      if (first && mixed_sizes (first, first_image, item, image, error))
        goto out;
      g_byte_array_append (pixels, image->data, veto_image_n_bytes (image));
      for (guint c = 0; c < g.classes->len && item->gold_class > 0; c++)
        if (((VetoClass *) g.classes->pdata[c])->id == item->gold_class)
          gold = c;
      ord[i] = gold;
      for (guint j = 0; answers && j < answers->len; j++)
        {
          ItemAnswer *a = answers->pdata[j];

          cl[i * m + j] = a->label;
          for (guint c = 0; c < a->candidates->len; c++)
            candidates[(i * m + j) * k + c] = g_array_index (a->candidates, gint, c);
        }
      climage_line (jsonl, g.classes, item, row->anchor, i, gold, answers);
      if (first == NULL)
        {
          first = g_steal_pointer (&item);
          first_image = g_steal_pointer (&image);
        }
    }
  for (guint c = 0; c < g.classes->len; c++)
    g_string_append_printf (class_names, "%s\n", class_name_at (g.classes, c));
  {
    gsize image_shape[4] = { n, first_image->height, first_image->width, first_image->channels };
    gsize cl_shape[2] = { n, m };
    gsize candidate_shape[3] = { n, m, k };

    if (!make_dir (dir, error)
        || !write_npy (dir, "images.npy", VETO_NPY_UINT8, image_shape, 4, pixels->data, error)
        || !write_npy (dir, "cl_labels.npy", VETO_NPY_INT64, cl_shape, 2, cl, error)
        || !write_npy (dir, "candidates.npy", VETO_NPY_INT64, candidate_shape, 3, candidates,
                       error)
        || !write_npy (dir, "ord_labels.npy", VETO_NPY_INT64, &n, 1, ord, error)
        || !write_file (dir, "classes.txt", class_names->str, class_names->len, error)
        || !write_file (dir, "dataset.jsonl", jsonl->str, jsonl->len, error))
      goto out;
  }
  summary.items = n;
  summary.answers = g.collect.answers;
  summary.per_item = m;
  summary.n_candidates = k;
  if (campaign > 0)
    {
      /* Answers on items outside the campaign's list are not in the arrays. */
      summary.answers = 0;
      for (gsize i = 0; i < n; i++)
        {
          GPtrArray *answers = g_hash_table_lookup (
              g.collect.by_item, &g_array_index (g.items, VetoCampaignItem, i).item);

          summary.answers += answers ? answers->len : 0;
        }
    }
  if (out_summary)
    *out_summary = summary;
  ok = TRUE;
out:
  gathered_clear (&g);
  return ok;
}

/* A class name as one folder name. */
static char *
folder_name (const char *name)
{
  char *safe = g_strdup (name);

  g_strdelimit (safe, "/\\", '_');
  if (g_str_equal (safe, ".") || g_str_equal (safe, ".."))
    {
      char *prefixed = g_strconcat ("_", safe, NULL);

      g_free (safe);
      return prefixed;
    }
  return safe;
}

gboolean
veto_export_imagefolder (VetoStore *store, gint64 campaign, const char *dir,
                         VetoExportSummary *out_summary, GError **error)
{
  Gathered g = { 0 };
  g_autofree guint *votes = NULL;
  VetoExportSummary summary = { 0 };
  gboolean ok = FALSE;
  guint k;

  if (!gather (store, VETO_KIND_ORDINARY, campaign, &g, error))
    goto out;
  if (g.collect.answers == 0)
    {
      g_set_error (error, VETO_EXPORT_ERROR, VETO_EXPORT_ERROR_EMPTY,
                   "no ordinary answers to export");
      goto out;
    }
  k = g.classes->len;
  votes = g_new (guint, MAX (k, 1));
  if (!make_dir (dir, error))
    goto out;
  for (guint i = 0; i < g.items->len; i++)
    {
      gint64 id = g_array_index (g.items, VetoCampaignItem, i).item;
      GPtrArray *answers = g_hash_table_lookup (g.collect.by_item, &id);
      g_autoptr (VetoItem) item = NULL;
      g_autoptr (VetoImage) image = NULL;
      g_autofree char *folder = NULL;
      g_autofree char *class_dir = NULL;
      g_autofree char *file = NULL;
      g_autofree char *path = NULL;
      gint majority;

      memset (votes, 0, MAX (k, 1) * sizeof (guint));
      for (guint j = 0; answers && j < answers->len; j++)
        votes[((ItemAnswer *) answers->pdata[j])->label]++;
      majority = veto_stats_majority (votes, k);
      if (majority < 0)
        {
          summary.skipped++;
          continue;
        }
      item = veto_store_get_item (store, id, error);
      if (item == NULL || !(image = item_image (store, item, error)))
        goto out;
      folder = folder_name (class_name_at (g.classes, majority));
      class_dir = g_build_filename (dir, folder, NULL);
      file = g_strdup_printf ("%" G_GINT64_FORMAT ".png", id);
      path = g_build_filename (class_dir, file, NULL);
      if (!make_dir (class_dir, error) || !veto_image_save_png (image, path, error))
        goto out;
      summary.items++;
      summary.answers += answers->len;
    }
  if (out_summary)
    *out_summary = summary;
  ok = TRUE;
out:
  gathered_clear (&g);
  return ok;
}
