/* veto-stats-load: answers read into a VetoStatsInput: `veto stats`, the dashboard, the learner. */
#include "veto-stats-load.h"

/* The state of one read. */
typedef struct
{
  VetoStore *store;
  VetoStatsLoad *load;
  VetoStatsLoadWhat what;
  GHashTable *class_of_name;    /* name → class index + 1 */
  GHashTable *class_of_id;      /* class id → class index + 1 */
  GHashTable *item_index;       /* item id → input item + 1 */
  GHashTable *campaign_anchors; /* item ids (boxed) */
  GHashTable *annotator_index;  /* name → input annotator + 1 */
  GError *error;
} Reader;

/* The class index + 1 of a name, 0 when the project has no such class. */
static guint
class_of (Reader *r, const char *name)
{
  return name ? GPOINTER_TO_UINT (g_hash_table_lookup (r->class_of_name, name)) : 0;
}

/* The input item of an item id, its gold class read once; 0 when it cannot be read. */
static guint
item_of (Reader *r, gint64 id)
{
  VetoStatsLoad *l = r->load;
  guint index = GPOINTER_TO_UINT (g_hash_table_lookup (r->item_index, &id));
  g_autoptr (VetoItem) item = NULL;
  gint gold = -1;
  gboolean anchor;

  if (index)
    return index;
  item = veto_store_get_item (r->store, id, &r->error);
  if (item == NULL)
    return 0;
  if (item->gold_class > 0)
    gold = (gint) GPOINTER_TO_UINT (g_hash_table_lookup (r->class_of_id, &item->gold_class)) - 1;
  anchor = g_hash_table_contains (r->campaign_anchors, &id);
  g_array_append_val (l->gold, gold);
  g_array_append_val (l->anchor, anchor);
  g_hash_table_insert (r->item_index, g_memdup2 (&id, sizeof id), GUINT_TO_POINTER (l->gold->len));
  return l->gold->len;
}

/* The known classes of a complementary answer's set, NULL when fewer than two or the answer
 * is not among them. */
static guint *
known_set (Reader *r, const VetoAnnotation *a, guint label, guint *out_n)
{
  g_autofree guint *shown = NULL;
  gboolean answered_shown = FALSE;
  guint m = 0;

  *out_n = 0;
  if (a->candidates == NULL || a->candidates->len == 0)
    return NULL;
  shown = g_new (guint, a->candidates->len);
  for (guint c = 0; c < a->candidates->len; c++)
    {
      guint cls = class_of (r, a->candidates->pdata[c]);

      if (cls > 0)
        shown[m++] = cls - 1;
      answered_shown |= cls == label;
    }
  if (m < 2 || !answered_shown)
    return NULL;
  *out_n = m;
  return g_steal_pointer (&shown);
}

static gboolean
collect (const VetoAnnotation *a, gpointer user_data)
{
  Reader *r = user_data;
  VetoStatsLoad *l = r->load;
  VetoStatsAnswer answer = { 0 };
  guint label = class_of (r, a->answer_class), item, who;
  guint *shown;

  if ((a->kind != VETO_KIND_ORDINARY && a->kind != VETO_KIND_COMPLEMENTARY) || label == 0
      || (l->campaign > 0 && a->campaign != l->campaign))
    return TRUE;
  item = item_of (r, a->item);
  if (item == 0)
    return FALSE;
  if (r->what == VETO_STATS_LOAD_ANCHOR_ANSWERS && g_array_index (l->gold, gint, item - 1) < 0)
    return TRUE;
  if (g_strcmp0 (a->strategy, "anchor") == 0)
    g_array_index (l->anchor, gboolean, item - 1) = TRUE;
  who = GPOINTER_TO_UINT (g_hash_table_lookup (r->annotator_index, a->annotator));
  if (who == 0)
    {
      g_ptr_array_add (l->annotator_names, g_strdup (a->annotator));
      g_array_append_val (l->annotator_ids, a->annotator_id);
      who = l->annotator_names->len;
      g_hash_table_insert (r->annotator_index, g_strdup (a->annotator), GUINT_TO_POINTER (who));
    }
  answer.item = item - 1;
  answer.annotator = who - 1;
  answer.kind = a->kind == VETO_KIND_ORDINARY ? VETO_STATS_ORDINARY : VETO_STATS_COMPLEMENTARY;
  answer.label = label - 1;
  answer.seconds = veto_annotation_seconds (a);
  if (a->kind == VETO_KIND_COMPLEMENTARY && (shown = known_set (r, a, label, &answer.n_shown)))
    {
      answer.shown = shown;
      g_ptr_array_add (l->shown, shown);
    }
  g_array_append_val (l->answers, answer);
  return TRUE;
}

/* The items that are anchors of the campaign read (of every campaign when none is named). */
static gboolean
read_campaigns (Reader *r, const char *campaign_name, GError **error)
{
  g_autoptr (GPtrArray) campaigns = veto_store_list_campaigns (r->store, error);

  if (campaigns == NULL)
    return FALSE;
  for (guint i = 0; i < campaigns->len; i++)
    {
      const VetoCampaign *c = campaigns->pdata[i];
      g_autoptr (GArray) items = NULL;

      if (campaign_name && !g_str_equal (c->name, campaign_name))
        continue;
      if (campaign_name)
        r->load->campaign = c->id;
      items = veto_store_campaign_list_items (r->store, c->id, error);
      if (items == NULL)
        return FALSE;
      for (guint j = 0; j < items->len; j++)
        if (g_array_index (items, VetoCampaignItem, j).anchor)
          g_hash_table_add (r->campaign_anchors,
                            g_memdup2 (&g_array_index (items, VetoCampaignItem, j).item,
                                       sizeof (gint64)));
    }
  if (campaign_name && r->load->campaign == 0)
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID, "no campaign named \"%s\"",
                   campaign_name);
      return FALSE;
    }
  return TRUE;
}

gboolean
veto_stats_load (VetoStore *store, VetoStatsLoadWhat what, const char *campaign_name,
                 GPtrArray *classes, VetoStatsLoad *out_load, GError **error)
{
  VetoStatsLoad *l = out_load;
  Reader r = { store, l, what };
  gboolean ok = FALSE;

  g_return_val_if_fail (store != NULL && out_load != NULL, FALSE);
  g_return_val_if_fail (campaign_name == NULL || what == VETO_STATS_LOAD_ANSWERS, FALSE);

  *l = (VetoStatsLoad) { 0 };
  l->gold = g_array_new (FALSE, FALSE, sizeof (gint));
  l->anchor = g_array_new (FALSE, FALSE, sizeof (gboolean));
  l->answers = g_array_new (FALSE, FALSE, sizeof (VetoStatsAnswer));
  l->shown = g_ptr_array_new_with_free_func (g_free);
  l->annotator_names = g_ptr_array_new_with_free_func (g_free);
  l->annotator_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  r.class_of_name = g_hash_table_new (g_str_hash, g_str_equal);
  r.class_of_id = g_hash_table_new (g_int64_hash, g_int64_equal);
  r.item_index = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  r.campaign_anchors = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  r.annotator_index = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  l->classes = classes ? g_ptr_array_ref (classes) : veto_store_list_classes (store, error);
  if (l->classes == NULL)
    goto out;
  for (guint c = 0; c < l->classes->len; c++)
    {
      VetoClass *klass = l->classes->pdata[c];

      g_hash_table_insert (r.class_of_name, klass->name, GUINT_TO_POINTER (c + 1));
      g_hash_table_insert (r.class_of_id, &klass->id, GUINT_TO_POINTER (c + 1));
    }
  if (!read_campaigns (&r, campaign_name, error))
    goto out;
  if (!(what == VETO_STATS_LOAD_ANCHOR_ANSWERS
            ? veto_store_foreach_anchor_answer (store, collect, &r, error)
            : veto_store_foreach_annotation (store, FALSE, collect, &r, error)))
    goto out;
  if (r.error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&r.error));
      goto out;
    }
  l->input = (VetoStatsInput) {
    .n_classes = l->classes->len,
    .n_items = l->gold->len,
    .gold = (const gint *) l->gold->data,
    .anchor = (const gboolean *) l->anchor->data,
    .n_annotators = l->annotator_names->len,
    .answers = (const VetoStatsAnswer *) l->answers->data,
    .n_answers = l->answers->len,
  };
  ok = TRUE;

out:
  g_hash_table_unref (r.class_of_name);
  g_hash_table_unref (r.class_of_id);
  g_hash_table_unref (r.item_index);
  g_hash_table_unref (r.campaign_anchors);
  g_hash_table_unref (r.annotator_index);
  g_clear_error (&r.error);
  if (!ok)
    {
      veto_stats_load_clear (l);
      *l = (VetoStatsLoad) { 0 };
    }
  return ok;
}

void
veto_stats_load_clear (VetoStatsLoad *load)
{
  g_clear_pointer (&load->classes, g_ptr_array_unref);
  g_clear_pointer (&load->annotator_names, g_ptr_array_unref);
  g_clear_pointer (&load->annotator_ids, g_array_unref);
  g_clear_pointer (&load->gold, g_array_unref);
  g_clear_pointer (&load->anchor, g_array_unref);
  g_clear_pointer (&load->answers, g_array_unref);
  g_clear_pointer (&load->shown, g_ptr_array_unref);
  load->input = (VetoStatsInput) { 0 };
}
