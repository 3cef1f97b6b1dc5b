/* Tests of campaigns (assignment, anchors), merging copies of a project, and dataset exports. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "veto-export.h"
#include "veto-image.h"
#include "veto-npy.h"
#include "veto-stats-load.h"
#include "veto-store.h"
#include "test-util.h"

#define SIDE 4
#define K 3
#define N_POOL 24
#define N_TEST 8
/* Pool items 5 and 17 hold the same pixels: merging must pair them in order. */
#define TWIN_A 5
#define TWIN_B 17

typedef struct
{
  char *dir;
  VetoStore *store;
  gint64 classes[K];
} Fixture;

static const char *const class_names[K] = { "red", "green", "blue" };

static void
add_items (VetoStore *store, gint64 import_id, VetoSplit split, guint n, guint side,
           const gint64 *classes, guint seed)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guint8 *pixels = g_new (guint8, side * side);
  g_autofree guint8 *twin = g_new (guint8, side * side);

  for (guint i = 0; i < n; i++)
    {
      VetoItemRecord record = {
        .pixels = pixels, .width = side, .height = side, .channels = 1, .split = split,
        .gold_class = classes[i % K], .import_id = import_id, .import_index = i,
      };

      for (guint p = 0; p < side * side; p++)
        pixels[p] = g_rand_int_range (rand, 0, 256);
      if (split == VETO_SPLIT_POOL && i == TWIN_A)
        memcpy (twin, pixels, side * side);
      if (split == VETO_SPLIT_POOL && i == TWIN_B)
        {
          memcpy (pixels, twin, side * side);
          record.gold_class = classes[TWIN_A % K];
        }
      g_checksum_reset (sum);
      g_checksum_update (sum, pixels, side * side);
      record.sha256 = g_checksum_get_string (sum);
      g_assert_true (veto_store_add_item (store, &record, NULL, &error));
      g_assert_no_error (error);
    }
}

/* 24 pool items (4×4, gold i % 3), 8 test items (4×4) and one 8×8 validation item. */
static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  gint64 pool, test, validation;

  f->dir = g_dir_make_tmp ("veto-campaign-XXXXXX", NULL);
  path = g_build_filename (f->dir, "base.veto", NULL);
  f->store = veto_store_create (path, &error);
  g_assert_no_error (error);
  g_assert_true (veto_store_begin (f->store, &error));
  for (guint c = 0; c < K; c++)
    g_assert_true (veto_store_ensure_class (f->store, class_names[c], &f->classes[c], NULL,
                                            &error));
  g_assert_true (veto_store_add_import (f->store, "generated", "idx", VETO_SPLIT_POOL, &pool,
                                        &error));
  g_assert_true (veto_store_add_import (f->store, "generated", "idx", VETO_SPLIT_TEST, &test,
                                        &error));
  g_assert_true (veto_store_add_import (f->store, "generated", "idx", VETO_SPLIT_VALIDATION,
                                        &validation, &error));
  add_items (f->store, pool, VETO_SPLIT_POOL, N_POOL, SIDE, f->classes, 1);
  add_items (f->store, test, VETO_SPLIT_TEST, N_TEST, SIDE, f->classes, 2);
  add_items (f->store, validation, VETO_SPLIT_VALIDATION, 1, 2 * SIDE, f->classes, 3);
  g_assert_true (veto_store_commit (f->store, &error));
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  veto_store_close (f->store);
  veto_test_remove_tree (f->dir);
  g_free (f->dir);
}

static gint64
create_campaign (VetoStore *store, const char *name, VetoAnswerKind protocol, guint per_item,
                 VetoSplit split, guint limit, double anchor_rate)
{
  g_autoptr (GError) error = NULL;
  VetoCampaignSpec spec = {
    .name = name, .protocol = protocol, .per_item = per_item, .n_candidates = 2,
    .anchor_rate = anchor_rate, .split = split, .limit = limit, .seed = 7,
  };
  gint64 id = 0;

  g_assert_true (veto_store_campaign_create (store, &spec, &id, &error));
  g_assert_no_error (error);
  return id;
}

static guint
class_index (Fixture *f, gint64 id)
{
  for (guint c = 0; c < K; c++)
    if (f->classes[c] == id)
      return c;
  g_assert_not_reached ();
}

/* One answer of annotator to item in the campaign. Complementary: two candidates, the gold
 * class and the next one, in a random order; the CL is the next class, or the gold one (noise)
 * one time in ten. Ordinary: the gold class, or gold + shift on odd item ids. */
static gint64
answer_item (Fixture *f, VetoStore *store, gint64 campaign, VetoAnswerKind kind, gint64 who,
             gint64 item_id, GRand *rand, guint shift)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoItem) item = veto_store_get_item (store, item_id, &error);
  guint gold = class_index (f, item->gold_class);
  gint64 shown[2] = { f->classes[gold], f->classes[(gold + 1) % K] };
  VetoAnswer answer = {
    .kind = kind, .item = item_id, .annotator = who, .strategy = "campaign", .score = NAN,
    .campaign = campaign, .shown_at_us = g_get_real_time (),
  };
  gint64 id = 0;

  if (kind == VETO_KIND_COMPLEMENTARY)
    {
      if (g_rand_boolean (rand))
        {
          shown[0] = f->classes[(gold + 1) % K];
          shown[1] = f->classes[gold];
        }
      answer.candidates = shown;
      answer.n_candidates = 2;
      answer.answer_class = f->classes[g_rand_int_range (rand, 0, 10) == 0 ? gold
                                                                            : (gold + 1) % K];
    }
  else
    answer.answer_class = f->classes[(gold + (item_id % 2 ? shift : 0)) % K];
  answer.answered_at_us = g_get_real_time ();
  g_assert_true (veto_store_add_annotation (store, &answer, &id, &error));
  g_assert_no_error (error);
  return id;
}

static gint64
annotator (VetoStore *store, const char *name)
{
  g_autoptr (GError) error = NULL;
  gint64 id = 0;

  g_assert_true (veto_store_ensure_annotator (store, name, VETO_ANNOTATOR_HUMAN, &id, &error));
  return id;
}

/* The annotator answers through veto_store_campaign_next until nothing is left for it. */
static guint
answer_all (Fixture *f, VetoStore *store, gint64 campaign, VetoAnswerKind kind, const char *name,
            guint seed, guint shift)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  gint64 who = annotator (store, name);
  guint n = 0;

  for (;;)
    {
      gint64 item = 0;

      g_assert_true (veto_store_campaign_next (store, campaign, who, &item, NULL, &error));
      g_assert_no_error (error);
      if (item == 0)
        return n;
      answer_item (f, store, campaign, kind, who, item, rand, shift);
      n++;
    }
}

static void
coverage (VetoStore *store, gint64 campaign, VetoCampaignCoverage *cov)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (veto_store_campaign_coverage (store, campaign, cov, &error));
  g_assert_no_error (error);
}

typedef struct
{
  GHashTable *per_item;   /* item id → count of standing answers */
  GHashTable *pairs;      /* "item/annotator" seen */
  gboolean repeated;      /* an annotator answered an item twice */
} ItemCounts;

static gboolean
count_answer (const VetoAnnotation *a, gpointer user_data)
{
  ItemCounts *c = user_data;
  g_autofree char *pair = g_strdup_printf ("%" G_GINT64_FORMAT "/%s", a->item, a->annotator);
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (c->per_item, &a->item));

  g_hash_table_insert (c->per_item, g_memdup2 (&a->item, sizeof a->item),
                       GUINT_TO_POINTER (n + 1));
  if (!g_hash_table_add (c->pairs, g_steal_pointer (&pair)))
    c->repeated = TRUE;
  return TRUE;
}

/* Every campaign item has exactly m standing answers, each from a different annotator. */
static void
assert_exactly (VetoStore *store, gint64 campaign, guint m)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) items = veto_store_campaign_list_items (store, campaign, &error);
  ItemCounts c = {
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL),
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    FALSE,
  };

  g_assert_true (veto_store_foreach_annotation (store, FALSE, count_answer, &c, &error));
  for (guint i = 0; i < items->len; i++)
    g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (
                        c.per_item, &g_array_index (items, VetoCampaignItem, i).item)), ==, m);
  g_assert_false (c.repeated);
  g_hash_table_unref (c.per_item);
  g_hash_table_unref (c.pairs);
}

static void
test_assignment_one_after_another (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 campaign = create_campaign (f->store, "seq", VETO_KIND_COMPLEMENTARY, 3, VETO_SPLIT_POOL,
                                     0, 0);
  VetoCampaignCoverage cov = { 0 };
  gint64 first, late, item = 0, again = 0;

  /* The first annotator's first answer is kept to undo it later. */
  {
    g_autoptr (GRand) rand = g_rand_new_with_seed (1);
    gint64 who = annotator (f->store, "ann-1");

    g_assert_true (veto_store_campaign_next (f->store, campaign, who, &item, NULL, &error));
    first = answer_item (f, f->store, campaign, VETO_KIND_COMPLEMENTARY, who, item, rand, 0);
  }
  g_assert_cmpuint (answer_all (f, f->store, campaign, VETO_KIND_COMPLEMENTARY, "ann-1", 1, 0),
                    ==, N_POOL - 1);
  g_assert_cmpuint (answer_all (f, f->store, campaign, VETO_KIND_COMPLEMENTARY, "ann-2", 2, 0),
                    ==, N_POOL);
  g_assert_cmpuint (answer_all (f, f->store, campaign, VETO_KIND_COMPLEMENTARY, "ann-3", 3, 0),
                    ==, N_POOL);
  g_assert_cmpuint (answer_all (f, f->store, campaign, VETO_KIND_COMPLEMENTARY, "ann-4", 4, 0),
                    ==, 0);
  assert_exactly (f->store, campaign, 3);
  coverage (f->store, campaign, &cov);
  g_assert_cmpuint (cov.items, ==, N_POOL);
  g_assert_cmpuint (cov.answers, ==, 3 * N_POOL);
  g_assert_cmpuint (cov.complete, ==, N_POOL);
  g_assert_cmpuint (cov.over, ==, 0);
  g_assert_cmpuint (cov.missing, ==, 0);
  g_assert_cmpuint (cov.annotators->len, ==, 3);
  veto_campaign_coverage_clear (&cov);

  /* An undone answer no longer counts: its item is asked again, of anyone who has no standing
   * answer to it (its author included). */
  g_assert_true (veto_store_undo_annotation (f->store, first, &error));
  coverage (f->store, campaign, &cov);
  g_assert_cmpuint (cov.missing, ==, 1);
  veto_campaign_coverage_clear (&cov);
  g_assert_true (veto_store_campaign_next (f->store, campaign, annotator (f->store, "ann-4"),
                                           &late, NULL, &error));
  g_assert_cmpint (late, ==, item);
  g_assert_true (veto_store_campaign_next (f->store, campaign, annotator (f->store, "ann-1"),
                                           &again, NULL, &error));
  g_assert_cmpint (again, ==, item);
  g_assert_cmpuint (answer_all (f, f->store, campaign, VETO_KIND_COMPLEMENTARY, "ann-4", 4, 0),
                    ==, 1);
  assert_exactly (f->store, campaign, 3);

  /* A closed campaign asks nothing more. */
  g_assert_true (veto_store_campaign_close (f->store, campaign, &error));
  g_assert_false (veto_store_campaign_next (f->store, campaign, annotator (f->store, "ann-5"),
                                            &item, NULL, &error));
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID);
}

/* A batch is the order single questions would come in. */
static void
test_assignment_batch (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 campaign = create_campaign (f->store, "batch", VETO_KIND_COMPLEMENTARY, 2,
                                     VETO_SPLIT_POOL, 0, 0);
  gint64 who = annotator (f->store, "batcher");
  g_autoptr (GArray) batch = veto_store_campaign_next_items (f->store, campaign, who, 5, &error);
  g_autoptr (GArray) all = veto_store_campaign_next_items (f->store, campaign, who, 1000, &error);
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  g_autoptr (GHashTable) seen = g_hash_table_new (g_int64_hash, g_int64_equal);

  g_assert_no_error (error);
  g_assert_cmpuint (batch->len, ==, 5);
  g_assert_cmpuint (all->len, ==, N_POOL);
  for (guint i = 0; i < all->len; i++)
    g_assert_true (g_hash_table_add (seen, &g_array_index (all, VetoCampaignItem, i).item));
  for (guint i = 0; i < batch->len; i++)
    {
      gint64 next = 0;

      g_assert_true (veto_store_campaign_next (f->store, campaign, who, &next, NULL, &error));
      g_assert_cmpint (next, ==, g_array_index (batch, VetoCampaignItem, i).item);
      g_assert_cmpint (next, ==, g_array_index (all, VetoCampaignItem, i).item);
      answer_item (f, f->store, campaign, VETO_KIND_COMPLEMENTARY, who, next, rand, 0);
    }
  g_clear_pointer (&all, g_array_unref);
  all = veto_store_campaign_next_items (f->store, campaign, who, 1000, &error);
  g_assert_cmpuint (all->len, ==, N_POOL - 5);
}

static void
test_assignment_in_turns (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 campaign = create_campaign (f->store, "turns", VETO_KIND_COMPLEMENTARY, 2,
                                     VETO_SPLIT_POOL, 0, 0);
  g_autoptr (GRand) rand = g_rand_new_with_seed (9);
  gint64 who[3] = { annotator (f->store, "a"), annotator (f->store, "b"),
                    annotator (f->store, "c") };
  guint answered[3] = { 0 }, total = 0;
  gboolean busy = TRUE;

  while (busy)
    {
      busy = FALSE;
      for (guint j = 0; j < 3; j++)
        {
          gint64 item = 0;

          g_assert_true (veto_store_campaign_next (f->store, campaign, who[j], &item, NULL,
                                                   &error));
          if (item == 0)
            continue;
          answer_item (f, f->store, campaign, VETO_KIND_COMPLEMENTARY, who[j], item, rand, 0);
          answered[j]++;
          total++;
          busy = TRUE;
        }
    }
  g_assert_cmpuint (total, ==, 2 * N_POOL);
  for (guint j = 0; j < 3; j++)
    g_assert_cmpuint (answered[j], ==, 2 * N_POOL / 3);
  assert_exactly (f->store, campaign, 2);
}

/* Appends the answer's id and item. */
static gboolean
collect_answer (const VetoAnnotation *a, gpointer user_data)
{
  gint64 pair[2] = { a->id, a->item };

  g_array_append_vals (user_data, pair, 1);
  return TRUE;
}

/* Writes a complementary (or ordinary) answer asked as an anchor; its id. */
static gint64
ask_as_anchor (Fixture *f, VetoAnswerKind kind, gint64 who, gint64 item)
{
  g_autoptr (GError) error = NULL;
  VetoAnswer a = { .kind = kind, .item = item, .annotator = who,
                   .answer_class = f->classes[1], .candidates = f->classes,
                   .n_candidates = kind == VETO_KIND_COMPLEMENTARY ? K : 0,
                   .strategy = "anchor", .score = NAN };
  gint64 id;

  g_assert_true (veto_store_add_annotation (f->store, &a, &id, &error));
  g_assert_no_error (error);
  return id;
}

static void
test_anchors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) items = NULL;
  g_autoptr (GArray) pool = veto_store_list_item_ids (f->store, VETO_SPLIT_POOL, &error);
  gint64 campaign = create_campaign (f->store, "anchored", VETO_KIND_COMPLEMENTARY, 1,
                                     VETO_SPLIT_POOL, 16, 0.2);
  gint64 who = annotator (f->store, "solo");
  g_autoptr (GRand) rand = g_rand_new_with_seed (4);
  VetoCampaignSpec spec = {
    .name = "too-many", .protocol = VETO_KIND_ORDINARY, .per_item = 1, .anchor_rate = 0.5,
    .split = VETO_N_SPLITS,
  };
  guint anchors = 0, anchors_asked = 0, asked = 0;

  /* 0.2 · 16 / 0.8 = 4 anchors, drawn among the 17 gold items outside the first 16. */
  items = veto_store_campaign_list_items (f->store, campaign, &error);
  g_assert_cmpuint (items->len, ==, 20);
  for (guint i = 0; i < items->len; i++)
    {
      const VetoCampaignItem *item = &g_array_index (items, VetoCampaignItem, i);
      gboolean first_sixteen = FALSE;

      for (guint j = 0; j < 16; j++)
        first_sixteen |= g_array_index (pool, gint64, j) == item->item;
      g_assert_true (first_sixteen != item->anchor);
      anchors += item->anchor;
    }
  g_assert_cmpuint (anchors, ==, 4);
  /* Annotators get them mixed in, flagged only to the caller. */
  for (;;)
    {
      gint64 item = 0;
      gboolean is_anchor = FALSE;

      g_assert_true (veto_store_campaign_next (f->store, campaign, who, &item, &is_anchor,
                                               &error));
      if (item == 0)
        break;
      anchors_asked += is_anchor;
      asked++;
      answer_item (f, f->store, campaign, VETO_KIND_COMPLEMENTARY, who, item, rand, 0);
      /* Not all at the end: one among the first ten. */
      if (asked == 10)
        g_assert_cmpuint (anchors_asked, >, 0);
    }
  g_assert_cmpuint (anchors_asked, ==, 4);

  /* The answers the annotators' models are fitted to: the four on the campaign's anchors, and
   * the standing complementary ones asked as anchors elsewhere, in id order. */
  {
    g_autoptr (GArray) validation = veto_store_list_item_ids (f->store, VETO_SPLIT_VALIDATION,
                                                              &error);
    g_autoptr (GArray) found = g_array_new (FALSE, FALSE, sizeof (gint64) * 2);
    gint64 kept, undone;

    kept = ask_as_anchor (f, VETO_KIND_COMPLEMENTARY, who, g_array_index (validation, gint64, 0));
    undone = ask_as_anchor (f, VETO_KIND_COMPLEMENTARY, who,
                            g_array_index (validation, gint64, 0));
    g_assert_true (veto_store_undo_annotation (f->store, undone, &error));
    ask_as_anchor (f, VETO_KIND_ORDINARY, who, g_array_index (validation, gint64, 0));
    g_assert_true (veto_store_foreach_anchor_answer (f->store, collect_answer, found, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (found->len, ==, 5);
    for (guint i = 0; i < 4; i++)
      {
        const gint64 *answer = &g_array_index (found, gint64, 2 * i);
        gboolean on_anchor = FALSE;

        g_assert_cmpint (answer[0], <, answer[2]);
        for (guint j = 0; j < items->len; j++)
          on_anchor |= g_array_index (items, VetoCampaignItem, j).anchor
                       && g_array_index (items, VetoCampaignItem, j).item == answer[1];
        g_assert_true (on_anchor);
      }
    g_assert_cmpint (g_array_index (found, gint64, 8), ==, kept);
  }

  /* Every item is in the campaign: no gold item is left to be an anchor. */
  g_assert_false (veto_store_campaign_create (f->store, &spec, NULL, &error));
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID);
  g_clear_error (&error);
  spec.anchor_rate = 0;
  spec.name = "anchored";
  g_assert_false (veto_store_campaign_create (f->store, &spec, NULL, &error));
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID);
}

static VetoStore *
copy_of (Fixture *f, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  VetoStore *copy;

  g_assert_true (veto_store_copy_to (f->store, path, &error));
  copy = veto_store_open (path, FALSE, &error);
  g_assert_no_error (error);
  return copy;
}

static gboolean
describe_answer (const VetoAnnotation *a, gpointer user_data)
{
  GPtrArray *lines = user_data;
  g_autofree char *shown = NULL;

  g_ptr_array_add (a->candidates, NULL);
  shown = g_strjoinv ("|", (char **) a->candidates->pdata);
  g_ptr_array_set_size (a->candidates, a->candidates->len - 1);
  g_ptr_array_add (lines, g_strdup_printf ("%s %s %s %s %s %d", a->annotator, a->item_sha256,
                                           veto_answer_kind_to_string (a->kind), a->answer_class,
                                           shown, a->undone));
  return TRUE;
}

static int
compare_lines (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Who answered what about which content, sorted: equal for equal sets of answers. */
static char *
answers_digest (VetoStore *store)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) lines = g_ptr_array_new_with_free_func (g_free);

  g_assert_true (veto_store_foreach_annotation (store, TRUE, describe_answer, lines, &error));
  g_ptr_array_sort (lines, compare_lines);
  g_ptr_array_add (lines, NULL);
  return g_strjoinv ("\n", (char **) lines->pdata);
}

static gint64
campaign_id (VetoStore *store, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoCampaign) c = veto_store_get_campaign (store, name, &error);

  g_assert_no_error (error);
  return c->id;
}

static void
assert_same_coverage (VetoStore *a, VetoStore *b, const char *name)
{
  VetoCampaignCoverage x = { 0 }, y = { 0 };

  coverage (a, campaign_id (a, name), &x);
  coverage (b, campaign_id (b, name), &y);
  g_assert_cmpuint (x.items, ==, y.items);
  g_assert_cmpuint (x.answers, ==, y.answers);
  g_assert_cmpuint (x.complete, ==, y.complete);
  g_assert_cmpuint (x.over, ==, y.over);
  g_assert_cmpuint (x.annotators->len, ==, y.annotators->len);
  for (guint i = 0; i < x.annotators->len; i++)
    {
      const VetoCampaignAnnotator *p = x.annotators->pdata[i], *q = y.annotators->pdata[i];

      g_assert_cmpstr (p->name, ==, q->name);
      g_assert_cmpuint (p->answers, ==, q->answers);
    }
  veto_campaign_coverage_clear (&x);
  veto_campaign_coverage_clear (&y);
}

static void
merge_ok (VetoStore *target, VetoStore *a, VetoStore *b, VetoMergeReport *report)
{
  g_autoptr (GError) error = NULL;
  VetoStore *sources[] = { a, b };

  g_assert_true (veto_store_merge (target, sources, 2, report, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (report->conflicts->len, ==, 0);
}

static void
test_merge (Fixture *f, gconstpointer data)
{
  gint64 base = create_campaign (f->store, "pair", VETO_KIND_COMPLEMENTARY, 2, VETO_SPLIT_POOL,
                                 0, 0);
  g_autoptr (VetoStore) reference = copy_of (f, "reference.veto");
  g_autoptr (VetoStore) alice = copy_of (f, "alice.veto");
  g_autoptr (VetoStore) bob = copy_of (f, "bob.veto");
  g_autoptr (VetoStore) target = copy_of (f, "target.veto");
  g_autofree char *expected = NULL;
  g_autofree char *merged = NULL;
  g_autofree char *merged_twice = NULL;
  VetoMergeReport report = { 0 };
  VetoStoreSummary s = { 0 };

  g_assert_cmpint (base, >, 0);
  /* One project where alice then bob answer, and two copies each holding one of them. */
  answer_all (f, reference, campaign_id (reference, "pair"), VETO_KIND_COMPLEMENTARY, "alice", 1,
              0);
  answer_all (f, reference, campaign_id (reference, "pair"), VETO_KIND_COMPLEMENTARY, "bob", 2, 0);
  g_assert_cmpuint (answer_all (f, alice, campaign_id (alice, "pair"), VETO_KIND_COMPLEMENTARY,
                                "alice", 1, 0), ==, N_POOL);
  g_assert_cmpuint (answer_all (f, bob, campaign_id (bob, "pair"), VETO_KIND_COMPLEMENTARY, "bob",
                                2, 0), ==, N_POOL);

  merge_ok (target, alice, bob, &report);
  g_assert_cmpuint (report.answers_added, ==, 2 * N_POOL);
  g_assert_cmpuint (report.answers_present, ==, 0);
  g_assert_cmpuint (report.annotators_added, ==, 2);
  g_assert_cmpuint (report.classes_added, ==, 0);
  g_assert_cmpuint (report.campaigns_added, ==, 0);
  g_assert_cmpuint (report.items_over, ==, 0);
  veto_merge_report_clear (&report);
  assert_same_coverage (reference, target, "pair");
  assert_exactly (target, campaign_id (target, "pair"), 2);
  expected = answers_digest (reference);
  merged = answers_digest (target);
  g_assert_cmpstr (merged, ==, expected);

  /* Merging the same copies again adds nothing. */
  merge_ok (target, alice, bob, &report);
  g_assert_cmpuint (report.answers_added, ==, 0);
  g_assert_cmpuint (report.answers_present, ==, 2 * N_POOL);
  g_assert_cmpuint (report.annotators_added, ==, 0);
  veto_merge_report_clear (&report);
  merged_twice = answers_digest (target);
  g_assert_cmpstr (merged_twice, ==, expected);
  g_assert_true (veto_store_summarize (target, &s, NULL));
  g_assert_cmpuint (s.annotations[VETO_KIND_COMPLEMENTARY], ==, 2 * N_POOL);

  /* An undo made on a copy after the first merge travels with the next one. */
  {
    g_autoptr (GError) error = NULL;

    g_assert_true (veto_store_undo_annotation (alice, 1, &error));
    merge_ok (target, alice, bob, &report);
    g_assert_cmpuint (report.answers_added, ==, 0);
    g_assert_cmpuint (report.undos_added, ==, 1);
    veto_merge_report_clear (&report);
    g_assert_true (veto_store_summarize (target, &s, NULL));
    g_assert_cmpuint (s.undone, ==, 1);
  }
}

/* Everything a refused merge must leave as it was. */
static char *
snapshot (VetoStore *store)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) classes = veto_store_list_classes (store, &error);
  g_autoptr (GPtrArray) campaigns = veto_store_list_campaigns (store, &error);
  g_autofree char *answers = answers_digest (store);
  VetoStoreSummary s = { 0 };

  g_assert_true (veto_store_summarize (store, &s, &error));
  return g_strdup_printf ("%u classes, %u campaigns, %" G_GUINT64_FORMAT " items, %"
                          G_GUINT64_FORMAT " annotators\n%s", classes->len, campaigns->len,
                          s.items, s.annotators, answers);
}

static gboolean
has_conflict (const VetoMergeReport *report, const char *text)
{
  for (guint i = 0; i < report->conflicts->len; i++)
    if (strstr (report->conflicts->pdata[i], text))
      return TRUE;
  return FALSE;
}

static void
test_merge_conflicts (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) target = NULL;
  g_autoptr (VetoStore) source = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  VetoMergeReport report = { 0 };
  VetoStore *sources[1];
  gint64 purple, extra_import, extra_item, x, y;
  const guint8 pixels[SIDE * SIDE] = { 1, 2, 3 };
  VetoItemRecord record = {
    .pixels = pixels, .sha256 = "not-in-the-target", .width = SIDE, .height = SIDE,
    .channels = 1, .split = VETO_SPLIT_POOL,
  };
  VetoAnswer answer = {
    .kind = VETO_KIND_ORDINARY, .item = 1, .score = NAN, .answered_at_us = 1700000000000000,
  };

  create_campaign (f->store, "shared", VETO_KIND_COMPLEMENTARY, 2, VETO_SPLIT_POOL, 0, 0);
  target = copy_of (f, "target.veto");
  source = copy_of (f, "source.veto");
  /* The source has an item and a class the target lacks, and answers the item. */
  g_assert_true (veto_store_begin (source, &error));
  g_assert_true (veto_store_ensure_class (source, "purple", &purple, NULL, &error));
  g_assert_true (veto_store_add_import (source, "extra", "idx", VETO_SPLIT_POOL, &extra_import,
                                        &error));
  record.import_id = extra_import;
  g_assert_true (veto_store_add_item (source, &record, &extra_item, &error));
  g_assert_true (veto_store_commit (source, &error));
  answer.annotator = annotator (source, "carol");
  answer.item = extra_item;
  answer.answer_class = purple;
  g_assert_true (veto_store_add_annotation (source, &answer, NULL, &error));
  /* The same answer key in both, answered differently. */
  x = annotator (source, "dave");
  y = annotator (target, "dave");
  answer.item = 1;
  answer.annotator = x;
  answer.answer_class = f->classes[0];
  g_assert_true (veto_store_add_annotation (source, &answer, NULL, &error));
  answer.annotator = y;
  answer.answer_class = f->classes[1];
  g_assert_true (veto_store_add_annotation (target, &answer, NULL, &error));
  /* A campaign of the same name with other settings. */
  create_campaign (source, "other", VETO_KIND_COMPLEMENTARY, 2, VETO_SPLIT_TEST, 0, 0);
  create_campaign (target, "other", VETO_KIND_COMPLEMENTARY, 3, VETO_SPLIT_TEST, 0, 0);
  g_assert_no_error (error);

  before = snapshot (target);
  sources[0] = source;
  g_assert_false (veto_store_merge (target, sources, 1, &report, &error));
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID);
  g_assert_cmpuint (report.conflicts->len, ==, 3);
  g_assert_true (has_conflict (&report, "no such item"));
  g_assert_true (has_conflict (&report, "differs"));
  g_assert_true (has_conflict (&report, "campaign \"other\""));
  veto_merge_report_clear (&report);
  after = snapshot (target);
  g_assert_cmpstr (after, ==, before);
  g_clear_error (&error);

  /* A project is not merged into itself. */
  sources[0] = target;
  g_assert_false (veto_store_merge (target, sources, 1, &report, &error));
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID);
  veto_merge_report_clear (&report);
}

static VetoNpy *
read_npy (const char *dir, const char *name, VetoNpyDtype dtype, guint ndim, const gsize *shape)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *contents = NULL;
  g_autoptr (GBytes) bytes = NULL;
  VetoNpy *npy;
  const gsize *got;
  guint got_ndim;
  gsize size;

  g_assert_true (g_file_get_contents (path, &contents, &size, &error));
  bytes = g_bytes_new_take (g_steal_pointer (&contents), size);
  npy = veto_npy_decode (bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpint (veto_npy_get_dtype (npy), ==, dtype);
  got = veto_npy_get_shape (npy, &got_ndim);
  g_assert_cmpuint (got_ndim, ==, ndim);
  for (guint i = 0; i < ndim; i++)
    g_assert_cmpuint (got[i], ==, shape[i]);
  return npy;
}

/* A complementary campaign over the pool, three annotators, exported CLImage-style. */
static char *
export_climage (Fixture *f, VetoExportSummary *summary)
{
  g_autoptr (GError) error = NULL;
  gint64 campaign = create_campaign (f->store, "climage", VETO_KIND_COMPLEMENTARY, 3,
                                     VETO_SPLIT_POOL, 0, 0);
  char *out = g_build_filename (f->dir, "climage", NULL);

  for (guint j = 0; j < 3; j++)
    {
      g_autofree char *name = g_strdup_printf ("ann-%u", j);

      answer_all (f, f->store, campaign, VETO_KIND_COMPLEMENTARY, name, j + 10, 0);
    }
  g_assert_true (veto_export_climage (f->store, campaign, out, summary, &error));
  g_assert_no_error (error);
  return out;
}

static void
test_export_climage (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  VetoExportSummary summary = { 0 };
  g_autofree char *out = export_climage (f, &summary);
  g_autoptr (GArray) pool = veto_store_list_item_ids (f->store, VETO_SPLIT_POOL, &error);
  const gsize image_shape[] = { N_POOL, SIDE, SIDE, 1 }, cl_shape[] = { N_POOL, 3 };
  const gsize candidate_shape[] = { N_POOL, 3, 2 }, ord_shape[] = { N_POOL };
  g_autoptr (VetoNpy) images = read_npy (out, "images.npy", VETO_NPY_UINT8, 4, image_shape);
  g_autoptr (VetoNpy) cl = read_npy (out, "cl_labels.npy", VETO_NPY_INT64, 2, cl_shape);
  g_autoptr (VetoNpy) candidates = read_npy (out, "candidates.npy", VETO_NPY_INT64, 3,
                                             candidate_shape);
  g_autoptr (VetoNpy) ord = read_npy (out, "ord_labels.npy", VETO_NPY_INT64, 1, ord_shape);
  const guint8 *pixels = veto_npy_get_data (images, NULL);
  const gint64 *cls = veto_npy_get_data (cl, NULL);
  const gint64 *shown = veto_npy_get_data (candidates, NULL);
  const gint64 *gold = veto_npy_get_data (ord, NULL);
  g_autofree char *classes_path = g_build_filename (out, "classes.txt", NULL);
  g_autofree char *jsonl_path = g_build_filename (out, "dataset.jsonl", NULL);
  g_autofree char *classes = NULL;
  g_autofree char *jsonl = NULL;
  g_auto (GStrv) lines = NULL;

  g_assert_cmpuint (summary.items, ==, N_POOL);
  g_assert_cmpuint (summary.answers, ==, 3 * N_POOL);
  g_assert_cmpuint (summary.per_item, ==, 3);
  g_assert_cmpuint (summary.n_candidates, ==, 2);
  for (guint i = 0; i < N_POOL; i++)
    {
      g_autoptr (VetoItem) item = veto_store_get_item (f->store, g_array_index (pool, gint64, i),
                                                       &error);

      g_assert_cmpmem (pixels + i * SIDE * SIDE, SIDE * SIDE,
                       g_bytes_get_data (item->pixels, NULL), SIDE * SIDE);
      g_assert_cmpint (gold[i], ==, class_index (f, item->gold_class));
      for (guint j = 0; j < 3; j++)
        {
          const gint64 *set = shown + (i * 3 + j) * 2;

          /* Every CL is one of the candidates shown with it. */
          g_assert_cmpint (cls[i * 3 + j], >=, 0);
          g_assert_true (cls[i * 3 + j] == set[0] || cls[i * 3 + j] == set[1]);
          g_assert_cmpint (set[0], !=, set[1]);
        }
    }
  g_assert_true (g_file_get_contents (classes_path, &classes, NULL, &error));
  g_assert_cmpstr (classes, ==, "red\ngreen\nblue\n");
  g_assert_true (g_file_get_contents (jsonl_path, &jsonl, NULL, &error));
  lines = g_strsplit (g_strchomp (jsonl), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, N_POOL);
  {
    g_autoptr (JsonNode) node = json_from_string (lines[0], &error);
    JsonObject *o = json_node_get_object (node);

    g_assert_no_error (error);
    g_assert_cmpint (json_object_get_int_member (o, "index"), ==, 0);
    g_assert_cmpint (json_object_get_int_member (o, "item"), ==, g_array_index (pool, gint64, 0));
    g_assert_cmpstr (json_object_get_string_member (o, "gold"), ==, "red");
    g_assert_cmpuint (json_array_get_length (json_object_get_array_member (
                        o, "complementary_labels")), ==, 3);
    g_assert_cmpuint (json_array_get_length (json_array_get_array_element (
                        json_object_get_array_member (o, "candidates"), 0)), ==, 2);
  }
}

/* The same arrays, read by numpy alone, when it is installed. */
static void
test_export_numpy (Fixture *f, gconstpointer data)
{
  static const char script[] =
    "import numpy as np, sys\n"
    "d = sys.argv[1]\n"
    "x = np.load(d + '/images.npy'); cl = np.load(d + '/cl_labels.npy')\n"
    "c = np.load(d + '/candidates.npy'); y = np.load(d + '/ord_labels.npy')\n"
    "assert x.dtype == np.uint8 and x.shape == (24, 4, 4, 1), x.shape\n"
    "assert cl.dtype == np.int64 and cl.shape == (24, 3), cl.shape\n"
    "assert c.shape == (24, 3, 2) and y.shape == (24,)\n"
    "assert ((c == cl[:, :, None]).sum(axis=2) == 1).all()\n"
    "assert (y == np.arange(24) % 3).all()\n"
    "print('ok')\n";
  g_autoptr (GError) error = NULL;
  VetoExportSummary summary = { 0 };
  g_autofree char *out = NULL;
  g_autofree char *script_path = g_build_filename (f->dir, "check.py", NULL);
  g_autofree char *output = NULL;
  g_autofree char *errors = NULL;
  int status = 1;
  const char *probe[] = { "/usr/bin/python3", "-c", "import numpy", NULL };

  if (!g_spawn_sync (NULL, (char **) probe, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL,
                     NULL, &status, NULL) || !g_spawn_check_wait_status (status, NULL))
    {
      g_test_skip ("/usr/bin/python3 with numpy is not installed");
      return;
    }
  out = export_climage (f, &summary);
  g_assert_true (g_file_set_contents (script_path, script, -1, &error));
  {
    const char *argv[] = { "/usr/bin/python3", script_path, out, NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &output,
                                 &errors, &status, &error));
  }
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("numpy refused the export: %s", errors);
  g_assert_cmpstr (output, ==, "ok\n");
}

static void
test_export_mixed_sizes (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out = g_build_filename (f->dir, "mixed", NULL);
  gint64 campaign = create_campaign (f->store, "everything", VETO_KIND_COMPLEMENTARY, 1,
                                     VETO_N_SPLITS, 0, 0);

  g_assert_false (veto_export_climage (f->store, campaign, out, NULL, &error));
  g_assert_error (error, VETO_EXPORT_ERROR, VETO_EXPORT_ERROR_MIXED_SIZES);
  g_assert_nonnull (strstr (error->message, "one size"));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

static void
test_export_imagefolder (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out = g_build_filename (f->dir, "folder", NULL);
  g_autoptr (GArray) test = veto_store_list_item_ids (f->store, VETO_SPLIT_TEST, &error);
  gint64 campaign = create_campaign (f->store, "ordinary", VETO_KIND_ORDINARY, 3, VETO_SPLIT_TEST,
                                     0, 0);
  VetoExportSummary summary = { 0 };
  guint written = 0;

  /* On odd item ids the three annotators name three different classes: no majority. */
  answer_all (f, f->store, campaign, VETO_KIND_ORDINARY, "o-0", 1, 0);
  answer_all (f, f->store, campaign, VETO_KIND_ORDINARY, "o-1", 2, 1);
  answer_all (f, f->store, campaign, VETO_KIND_ORDINARY, "o-2", 3, 2);
  g_assert_true (veto_export_imagefolder (f->store, campaign, out, &summary, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < test->len; i++)
    {
      gint64 id = g_array_index (test, gint64, i);
      g_autoptr (VetoItem) item = veto_store_get_item (f->store, id, &error);
      g_autofree char *file = g_strdup_printf ("%" G_GINT64_FORMAT ".png", id);
      g_autofree char *path = g_build_filename (
          out, class_names[class_index (f, item->gold_class)], file, NULL);

      g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS) == (id % 2 == 0));
      if (id % 2 == 0)
        {
          g_autoptr (VetoImage) image = veto_image_load (path, &error);

          g_assert_no_error (error);
          g_assert_cmpuint (image->channels, ==, 1);
          g_assert_cmpmem (image->data, SIDE * SIDE, g_bytes_get_data (item->pixels, NULL),
                           SIDE * SIDE);
          written++;
        }
    }
  g_assert_cmpuint (summary.items, ==, written);
  g_assert_cmpuint (summary.skipped, ==, N_TEST - written);
  g_assert_cmpuint (summary.answers, ==, 3 * written);

  /* A complementary campaign has nothing to put in class folders. */
  g_assert_false (veto_export_imagefolder (f->store, create_campaign (f->store, "cl",
                                                                     VETO_KIND_COMPLEMENTARY, 1,
                                                                     VETO_SPLIT_POOL, 0, 0),
                                           out, NULL, &error));
  g_assert_error (error, VETO_EXPORT_ERROR, VETO_EXPORT_ERROR_EMPTY);
}

/* Is the answer's set the two classes answer_item () shows, gold first or second? */
static gboolean
shows_gold_and_next (const VetoStatsAnswer *a, gint gold)
{
  return a->n_shown == 2 && a->shown != NULL
         && ((a->shown[0] == (guint) gold && a->shown[1] == (guint) (gold + 1) % K)
             || (a->shown[1] == (guint) gold && a->shown[0] == (guint) (gold + 1) % K));
}

/* veto_stats_load (): a campaign of 20 complementary answers by one person (4 on its anchors),
 * an ordinary answer outside it and a complementary one asked as an anchor on the validation
 * item by another, read as `veto stats` reads them (all, then the campaign's), and as the
 * dashboard reads the answers the learner fits the choice models to. */
static void
test_stats_load (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  gint64 campaign = create_campaign (f->store, "anchored", VETO_KIND_COMPLEMENTARY, 1,
                                     VETO_SPLIT_POOL, 16, 0.2);
  gint64 solo = annotator (f->store, "solo"), other = annotator (f->store, "other");
  g_autoptr (GArray) items = veto_store_campaign_list_items (f->store, campaign, &error);
  g_autoptr (GArray) validation = veto_store_list_item_ids (f->store, VETO_SPLIT_VALIDATION,
                                                            &error);
  g_autoptr (GArray) pool = veto_store_list_item_ids (f->store, VETO_SPLIT_POOL, &error);
  g_autoptr (GHashTable) anchor_items = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  gint64 outside = 0;
  gboolean validation_in_campaign = FALSE;
  VetoStatsLoad load;
  VetoStatsReport report;

  for (guint i = 0; i < items->len; i++)
    {
      const VetoCampaignItem *item = &g_array_index (items, VetoCampaignItem, i);

      answer_item (f, f->store, campaign, VETO_KIND_COMPLEMENTARY, solo, item->item, rand, 0);
      if (item->anchor)
        g_hash_table_add (anchor_items, (gpointer) &item->item);
    }
  g_assert_cmpuint (g_hash_table_size (anchor_items), ==, 4);
  /* the ordinary answer: on a pool item outside the campaign */
  for (guint i = 0; i < pool->len && outside == 0; i++)
    {
      gboolean in_campaign = FALSE;

      for (guint j = 0; j < items->len; j++)
        in_campaign |= g_array_index (items, VetoCampaignItem, j).item
                       == g_array_index (pool, gint64, i);
      if (!in_campaign)
        outside = g_array_index (pool, gint64, i);
    }
  g_assert_cmpint (outside, >, 0);
  /* the campaign's anchors are drawn from every split, so may hold the validation item */
  for (guint j = 0; j < items->len; j++)
    validation_in_campaign |= g_array_index (items, VetoCampaignItem, j).item
                              == g_array_index (validation, gint64, 0);
  answer_item (f, f->store, 0, VETO_KIND_ORDINARY, other, outside, rand, 0);
  ask_as_anchor (f, VETO_KIND_COMPLEMENTARY, other, g_array_index (validation, gint64, 0));

  /* Every answer: both people, each item once with its gold class and anchor flag. */
  g_assert_true (
      veto_stats_load (f->store, VETO_STATS_LOAD_ANSWERS, NULL, NULL, &load, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (load.input.n_classes, ==, K);
  g_assert_cmpuint (load.input.n_answers, ==, items->len + 2);
  g_assert_cmpuint (load.input.n_annotators, ==, 2);
  g_assert_cmpstr (load.annotator_names->pdata[0], ==, "solo");
  g_assert_cmpstr (load.annotator_names->pdata[1], ==, "other");
  g_assert_cmpuint (load.input.n_items, ==, items->len + 2 - validation_in_campaign);
  for (guint t = 0; t < load.input.n_answers; t++)
    {
      const VetoStatsAnswer *a = &load.input.answers[t];
      gint gold = load.input.gold[a->item];

      g_assert_cmpint (gold, >=, 0);
      if (t < items->len)
        {
          const VetoCampaignItem *item = &g_array_index (items, VetoCampaignItem, t);
          g_autoptr (VetoItem) stored = veto_store_get_item (f->store, item->item, &error);

          g_assert_cmpuint (a->annotator, ==, 0);
          g_assert_cmpint (a->kind, ==, VETO_STATS_COMPLEMENTARY);
          g_assert_cmpint (gold, ==, (gint) class_index (f, stored->gold_class));
          g_assert_true (a->label == (guint) gold || a->label == (guint) (gold + 1) % K);
          g_assert_true (shows_gold_and_next (a, gold));
          g_assert_cmpint (load.input.anchor[a->item], ==, item->anchor);
          g_assert_false (isnan (a->seconds));
        }
      else if (t == items->len)
        {
          g_assert_cmpint (a->kind, ==, VETO_STATS_ORDINARY);
          g_assert_cmpuint (a->annotator, ==, 1);
          g_assert_null (a->shown);
          g_assert_false (load.input.anchor[a->item]);
        }
      else
        {
          /* asked as an anchor: its item is one, and its set is every class */
          g_assert_cmpint (a->kind, ==, VETO_STATS_COMPLEMENTARY);
          g_assert_cmpuint (a->label, ==, 1);
          g_assert_cmpuint (a->n_shown, ==, K);
          g_assert_true (load.input.anchor[a->item]);
        }
    }
  veto_stats_load_clear (&load);

  /* One campaign: its answers only. */
  g_assert_true (
      veto_stats_load (f->store, VETO_STATS_LOAD_ANSWERS, "anchored", NULL, &load, &error));
  g_assert_cmpint (load.campaign, ==, campaign);
  g_assert_cmpuint (load.input.n_answers, ==, items->len);
  g_assert_cmpuint (load.input.n_annotators, ==, 1);
  veto_stats_load_clear (&load);
  g_assert_false (
      veto_stats_load (f->store, VETO_STATS_LOAD_ANSWERS, "absent", NULL, &load, &error));
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "\"absent\""));
  g_assert_null (load.classes);
  g_clear_error (&error);

  /* What the learner fits to: the 4 campaign anchors' answers and the validation anchor's,
   * every item an anchor; the pooled choice model is fitted to all 5. */
  g_assert_true (veto_stats_load (f->store, VETO_STATS_LOAD_ANCHOR_ANSWERS, NULL, NULL,
                                  &load, &error));
  g_assert_cmpuint (load.input.n_answers, ==, 5);
  g_assert_cmpuint (load.input.n_items, ==, 5 - validation_in_campaign);
  for (guint t = 0; t < load.input.n_answers; t++)
    {
      g_assert_cmpint (load.input.answers[t].kind, ==, VETO_STATS_COMPLEMENTARY);
      g_assert_true (load.input.anchor[load.input.answers[t].item]);
      g_assert_cmpuint (load.input.answers[t].annotator, ==, t < 4 ? 0 : 1);
    }
  g_assert_true (veto_stats_compute (&load.input, &report, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (report.overall.choice_answers, ==, 5);
  veto_stats_report_clear (&report);
  veto_stats_load_clear (&load);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/campaign/assignment/one-after-another", test_assignment_one_after_another);
  ADD ("/campaign/assignment/in-turns", test_assignment_in_turns);
  ADD ("/campaign/assignment/batch", test_assignment_batch);
  ADD ("/campaign/anchors", test_anchors);
  ADD ("/campaign/stats-load", test_stats_load);
  ADD ("/campaign/merge/copies", test_merge);
  ADD ("/campaign/merge/conflicts", test_merge_conflicts);
  ADD ("/campaign/export/climage", test_export_climage);
  ADD ("/campaign/export/numpy", test_export_numpy);
  ADD ("/campaign/export/mixed-sizes", test_export_mixed_sizes);
  ADD ("/campaign/export/imagefolder", test_export_imagefolder);
#undef ADD
  return g_test_run ();
}
