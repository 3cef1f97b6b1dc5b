/* veto-sessions: per-annotator sessions over a campaign or the free pool: leases, composed questions, grouped commits. */
#include "veto-sessions.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/random.h>

#define DEFAULT_LEASE_SECONDS 300
#define UNDO_DEPTH 10
#define MAX_CANDIDATES G_N_ELEMENTS (((VetoLease *) NULL)->candidates)
/* Random draws for a pair's partner before the pool is walked for one. */
#define RANDOM_TRIES 64
/* veto_sessions_get_status counts the ready items up to this. */
#define MAX_READY 1000

G_DEFINE_QUARK (veto-sessions-error-quark, veto_sessions_error)

/* An item that may be asked and how far it is covered: standing answers (pending ones included)
 * and live leases. With a campaign, answers + leases never exceeds m through these sessions. */
typedef struct
{
  gint64 item;
  guint answers;
  guint leases;
  guint recent;   /* free: answers since the learner's last order */
  float key;      /* the learner's priority (larger first); -INFINITY without one */
  float score;    /* the strategy's score (NAN: none) */
  gint64 partner; /* preference: the learner's pair for it (0: none) */
  gint row;       /* its row of VetoSessions.probs, or -1 */
  gboolean anchor; /* a gold anchor outside the pool (VetoSessions.anchors) */
} Slot;

typedef struct
{
  gint64 annotation;
  VetoLease lease;
  double seconds;
} Undo;

typedef struct
{
  gint64 annotator;
  GHashTable *done;    /* item id → standing answers of this person (campaign or pool) */
  GHashTable *skipped; /* item ids given back, passed over while anything else is left */
  guint asks;          /* how many times this person may be asked one pool item now: 1, and in
                          free complementary sessions up to VETO_SESSIONS_MAX_ASKS once every
                          item has been asked as many times (ask_again ()) */
  guint cursor;        /* in the learner's order: what comes before is done or skipped */
  VetoLease *current;  /* owned by VetoSessions.leases */
  GPtrArray *held;     /* leases an undo put aside, the next last (owned by leases) */
  GArray *undo;        /* Undo, oldest first */
  guint timed;
  double seconds;
} Session;

struct _VetoSessions
{
  VetoStore *store;
  VetoCampaign *campaign;   /* NULL: free */
  VetoAnswerKind kind;
  VetoActiveCandidateRule rule;
  guint n_candidates;
  GPtrArray *classes;
  guint lease_seconds;
  char *criterion;          /* NULL: the left item's predicted class */
  GRand *rand;
  GArray *slots;            /* Slot, in the campaign's item order (free: the pool's) */
  GHashTable *slot_of;      /* item id → index + 1 */
  GArray *anchors;          /* Slot: free complementary, the gold anchors outside the pool */
  GHashTable *anchor_of;    /* item id → index in anchors + 1 */
  double anchor_rate;
  GArray *order;            /* indices of the slots with a key, highest key first */
  float *probs;             /* the learner's probabilities, n_classes a row */
  guint n_classes;
  double *annotator_model;  /* n_classes × n_classes, for informative candidates (NULL: the
                               uniform annotator): the pooled model */
  guint n_own;              /* annotators with a model of their own */
  gint64 *own_annotators;   /* n_own annotator ids */
  double *own_models;       /* n_own × n_classes × n_classes: theirs, in that order */
  char strategy[32];        /* the learner's, for the items it ordered */
  GHashTable *sessions;     /* annotator id → Session */
  GHashTable *leases;       /* question id → VetoLease (owned) */
  GHashTable *pending_uids; /* answer id → annotation id, written but not committed */
  GHashTable *pending_by;   /* answer id → annotator id */
  gboolean pending;
  gboolean prioritized; /* the learner has given keys */
  gint64 model_version; /* of its last round */
};

static void lease_drop (VetoSessions *ss, VetoLease *lease);
static gboolean load_leases (VetoSessions *ss, GError **error);

void
veto_sessions_options_init (VetoSessionsOptions *options)
{
  *options = (VetoSessionsOptions) {
    .lease_seconds = DEFAULT_LEASE_SECONDS,
    .criterion = "clearer",
    .seed = 1,
    .kind = VETO_KIND_COMPLEMENTARY,
    .candidates = VETO_ACTIVE_CANDIDATES_INFORMATIVE,
    .n_candidates = 4,
    .anchors = VETO_SESSIONS_DEFAULT_ANCHORS,
  };
}

static void
session_free (gpointer data)
{
  Session *s = data;

  g_hash_table_unref (s->done);
  g_hash_table_unref (s->skipped);
  g_ptr_array_unref (s->held);
  g_array_unref (s->undo);
  g_free (s);
}

static Session *
session_get (VetoSessions *ss, gint64 annotator)
{
  Session *s = g_hash_table_lookup (ss->sessions, &annotator);

  if (s == NULL)
    {
      s = g_new0 (Session, 1);
      s->annotator = annotator;
      s->done = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
      s->skipped = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
      s->held = g_ptr_array_new ();
      s->undo = g_array_new (FALSE, FALSE, sizeof (Undo));
      s->asks = 1;
      g_hash_table_insert (ss->sessions, g_memdup2 (&annotator, sizeof annotator), s);
    }
  return s;
}

static guint
done_count (const Session *s, gint64 item)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (s->done, &item));
}

static void
done_add (Session *s, gint64 item, int delta)
{
  guint n = done_count (s, item) + delta;

  if (n == 0)
    g_hash_table_remove (s->done, &item);
  else
    g_hash_table_insert (s->done, g_memdup2 (&item, sizeof item), GUINT_TO_POINTER (n));
}

/* The item's slot in the pool (or the campaign), else among the anchors, else NULL. */
static Slot *
slot_of (VetoSessions *ss, gint64 item)
{
  guint index = GPOINTER_TO_UINT (g_hash_table_lookup (ss->slot_of, &item));

  if (index > 0)
    return &g_array_index (ss->slots, Slot, index - 1);
  index = GPOINTER_TO_UINT (g_hash_table_lookup (ss->anchor_of, &item));
  return index == 0 ? NULL : &g_array_index (ss->anchors, Slot, index - 1);
}

static void
forget_pending (VetoSessions *ss)
{
  g_hash_table_remove_all (ss->pending_uids);
  g_hash_table_remove_all (ss->pending_by);
  ss->pending = FALSE;
}

/* Counts the standing answers again, from the store's own connection. With a campaign, the
 * sessions start again and take back the leases saved in the store; free leases (in memory only)
 * and sessions stay. */
static gboolean
load_answers (VetoSessions *ss, GError **error)
{
  g_autoptr (GArray) answers = ss->campaign
                               ? veto_store_campaign_list_answers (ss->store, ss->campaign->id,
                                                                   error)
                               : veto_store_list_answered (ss->store, error);
  GHashTableIter iter;
  gpointer value;

  if (answers == NULL)
    return FALSE;
  if (ss->campaign)
    {
      g_hash_table_remove_all (ss->leases);
      g_hash_table_remove_all (ss->sessions);
    }
  g_hash_table_iter_init (&iter, ss->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      g_hash_table_remove_all (((Session *) value)->done);
      ((Session *) value)->cursor = 0;
    }
  for (guint i = 0; i < ss->slots->len; i++)
    {
      Slot *slot = &g_array_index (ss->slots, Slot, i);

      slot->answers = slot->recent = 0;
      if (ss->campaign)
        slot->leases = 0;
    }
  for (guint i = 0; i < ss->anchors->len; i++)
    g_array_index (ss->anchors, Slot, i).answers = 0;
  for (guint i = 0; i < answers->len; i++)
    {
      const VetoCampaignAnswer *a = &g_array_index (answers, VetoCampaignAnswer, i);
      Slot *slot = slot_of (ss, a->item);

      if (slot)
        slot->answers++;
      done_add (session_get (ss, a->annotator), a->item, 1);
    }
  return ss->campaign == NULL || load_leases (ss, error);
}

/* The campaign named, or the only open one; NULL without error when none is open. */
static VetoCampaign *
find_campaign (VetoStore *store, const char *name, GError **error)
{
  g_autoptr (GPtrArray) all = NULL;
  VetoCampaign *open = NULL;

  if (name)
    return veto_store_get_campaign (store, name, error);
  all = veto_store_list_campaigns (store, error);
  if (all == NULL)
    return NULL;
  for (guint i = 0; i < all->len; i++)
    {
      VetoCampaign *c = g_ptr_array_index (all, i);

      if (c->closed)
        continue;
      if (open)
        {
          g_set_error (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_INVALID,
                       "the project has several open campaigns (%s, %s…): name one",
                       open->name, c->name);
          return NULL;
        }
      open = c;
    }
  /* None open: free active learning on the pool. */
  if (open == NULL)
    return NULL;
  g_ptr_array_set_free_func (all, NULL);
  for (guint i = 0; i < all->len; i++)
    if (g_ptr_array_index (all, i) != open)
      veto_campaign_free (g_ptr_array_index (all, i));
  return open;
}

/* The items asked about: the campaign's, or the whole pool. */
static gboolean
load_slots (VetoSessions *ss, GError **error)
{
  g_autoptr (GArray) items = ss->campaign
                             ? veto_store_campaign_list_items (ss->store, ss->campaign->id, error)
                             : veto_store_list_item_ids (ss->store, VETO_SPLIT_POOL, error);

  if (items == NULL)
    return FALSE;
  for (guint i = 0; i < items->len; i++)
    {
      Slot slot = {
        .item = ss->campaign ? g_array_index (items, VetoCampaignItem, i).item
                             : g_array_index (items, gint64, i),
        .key = -INFINITY, .score = NAN, .row = -1,
      };

      g_array_append_val (ss->slots, slot);
      g_hash_table_insert (ss->slot_of, g_memdup2 (&slot.item, sizeof slot.item),
                           GUINT_TO_POINTER (i + 1));
    }
  return TRUE;
}

/* Free complementary questions: the validation split's gold items are the anchors. The test
 * split never is: its gold labels measure the model, and answers on it would leak them. */
static gboolean
load_anchors (VetoSessions *ss, GError **error)
{
  g_autoptr (GArray) items = NULL;

  if (ss->campaign || ss->kind != VETO_KIND_COMPLEMENTARY || !(ss->anchor_rate > 0))
    return TRUE;
  items = veto_store_list_gold_item_ids (ss->store, VETO_SPLIT_VALIDATION, error);
  if (items == NULL)
    return FALSE;
  for (guint i = 0; i < items->len; i++)
    {
      Slot slot = { .item = g_array_index (items, gint64, i), .key = -INFINITY, .score = NAN,
                    .row = -1, .anchor = TRUE };

      if (g_hash_table_contains (ss->slot_of, &slot.item))
        continue;
      g_array_append_val (ss->anchors, slot);
      g_hash_table_insert (ss->anchor_of, g_memdup2 (&slot.item, sizeof slot.item),
                           GUINT_TO_POINTER (ss->anchors->len));
    }
  return TRUE;
}

static gboolean
check_setup (VetoSessions *ss, GError **error)
{
  guint n = ss->classes->len;

  if (ss->campaign && ss->campaign->closed)
    g_set_error (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_INVALID,
                 "campaign %s is closed", ss->campaign->name);
  else if (ss->campaign && ss->kind != VETO_KIND_PREFERENCE
           && (n < 2 || n > MAX_CANDIDATES))
    g_set_error (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_INVALID,
                 "the project has %u classes; the server shows between 2 and %u", n,
                 (guint) MAX_CANDIDATES);
  else if (ss->campaign == NULL && ss->kind != VETO_KIND_ORDINARY
           && ss->kind != VETO_KIND_COMPLEMENTARY && ss->kind != VETO_KIND_PREFERENCE)
    g_set_error_literal (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_INVALID,
                         "questions are ordinary, complementary or preference");
  else if (ss->campaign == NULL && n < 2)
    g_set_error (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_INVALID,
                 "the project has %u classes; questions need 2 at least", n);
  else if (ss->campaign == NULL && !(ss->anchor_rate >= 0 && ss->anchor_rate <= 1))
    g_set_error (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_INVALID,
                 "the share of anchor questions must be in [0, 1], not %g", ss->anchor_rate);
  else if (ss->campaign == NULL && ss->kind == VETO_KIND_COMPLEMENTARY
           && (ss->n_candidates < 2 || ss->n_candidates > MIN (n, MAX_CANDIDATES)))
    g_set_error (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_INVALID,
                 "a complementary question shows between 2 and %u candidates here, not %u",
                 (guint) MIN (n, MAX_CANDIDATES), ss->n_candidates);
  else
    return TRUE;
  return FALSE;
}

VetoSessions *
veto_sessions_new (VetoStore *store, const VetoSessionsOptions *options, GError **error)
{
  g_autoptr (VetoSessions) ss = g_new0 (VetoSessions, 1);
  g_autoptr (GError) local = NULL;

  ss->store = store;
  ss->lease_seconds = options->lease_seconds > 0 ? options->lease_seconds
                                                 : DEFAULT_LEASE_SECONDS;
  ss->rand = g_rand_new_with_seed ((guint32) (options->seed ^ (options->seed >> 32)));
  ss->slots = g_array_new (FALSE, FALSE, sizeof (Slot));
  ss->slot_of = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  ss->anchors = g_array_new (FALSE, FALSE, sizeof (Slot));
  ss->anchor_of = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  ss->order = g_array_new (FALSE, FALSE, sizeof (guint));
  ss->sessions = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, session_free);
  ss->leases = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_free);
  ss->pending_uids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ss->pending_by = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_strlcpy (ss->strategy, "random", sizeof ss->strategy);

  if (!options->free)
    {
      ss->campaign = find_campaign (store, options->campaign, &local);
      if (local)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
    }
  if (ss->campaign)
    {
      ss->kind = ss->campaign->protocol;
      ss->rule = VETO_ACTIVE_CANDIDATES_UNIFORM;
      ss->n_candidates = ss->campaign->n_candidates;
      ss->criterion = g_strdup (options->criterion ? options->criterion : "clearer");
    }
  else
    {
      ss->kind = options->kind;
      ss->rule = options->candidates;
      ss->n_candidates = options->n_candidates;
      ss->criterion = g_strdup (options->criterion);
      ss->anchor_rate = options->anchors;
    }
  ss->classes = veto_store_list_classes (store, error);
  if (ss->classes == NULL || !check_setup (ss, error) || !load_slots (ss, error)
      || !load_anchors (ss, error) || !load_answers (ss, error))
    return NULL;
  return g_steal_pointer (&ss);
}

void
veto_sessions_free (VetoSessions *ss)
{
  if (ss == NULL)
    return;
  if (ss->pending)
    veto_store_rollback (ss->store);
  g_clear_pointer (&ss->campaign, veto_campaign_free);
  g_clear_pointer (&ss->classes, g_ptr_array_unref);
  g_clear_pointer (&ss->rand, g_rand_free);
  g_clear_pointer (&ss->slots, g_array_unref);
  g_clear_pointer (&ss->slot_of, g_hash_table_unref);
  g_clear_pointer (&ss->anchors, g_array_unref);
  g_clear_pointer (&ss->anchor_of, g_hash_table_unref);
  g_clear_pointer (&ss->order, g_array_unref);
  g_clear_pointer (&ss->probs, g_free);
  g_clear_pointer (&ss->annotator_model, g_free);
  g_clear_pointer (&ss->own_annotators, g_free);
  g_clear_pointer (&ss->own_models, g_free);
  g_clear_pointer (&ss->sessions, g_hash_table_unref);
  g_clear_pointer (&ss->leases, g_hash_table_unref);
  g_clear_pointer (&ss->pending_uids, g_hash_table_unref);
  g_clear_pointer (&ss->pending_by, g_hash_table_unref);
  g_free (ss->criterion);
  g_free (ss);
}

const VetoCampaign *
veto_sessions_get_campaign (VetoSessions *ss)
{
  return ss->campaign;
}

VetoAnswerKind
veto_sessions_get_kind (VetoSessions *ss)
{
  return ss->kind;
}

GPtrArray *
veto_sessions_get_classes (VetoSessions *ss)
{
  return ss->classes;
}

gboolean
veto_sessions_reload_classes (VetoSessions *ss, GError **error)
{
  g_autoptr (GPtrArray) classes = veto_store_list_classes (ss->store, error);

  if (classes == NULL)
    return FALSE;
  /* In place: callers may hold the array veto_sessions_get_classes () lent them. */
  g_ptr_array_set_size (ss->classes, 0);
  g_ptr_array_extend_and_steal (ss->classes, g_steal_pointer (&classes));
  return TRUE;
}

/* Question ids come from the kernel's random source: one annotator cannot guess another's. */
static gint64
new_question_id (VetoSessions *ss)
{
  for (;;)
    {
      guint64 bits = 0;
      gint64 id;

      if (getrandom (&bits, sizeof bits, 0) != sizeof bits)
        bits = ((guint64) g_rand_int (ss->rand) << 32) ^ g_rand_int (ss->rand);
      id = (gint64) (bits & ((G_GUINT64_CONSTANT (1) << 53) - 1));
      if (id > 0 && !g_hash_table_contains (ss->leases, &id))
        return id;
    }
}

static gboolean
ensure_transaction (VetoSessions *ss, GError **error)
{
  if (ss->pending)
    return TRUE;
  if (!veto_store_begin (ss->store, error))
    return FALSE;
  ss->pending = TRUE;
  return TRUE;
}

static char *
lease_to_json (const VetoLease *lease)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, lease->id);
  json_builder_set_member_name (b, "annotator");
  json_builder_add_int_value (b, lease->annotator);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, veto_answer_kind_to_string (lease->kind));
  json_builder_set_member_name (b, "item");
  json_builder_add_int_value (b, lease->item);
  json_builder_set_member_name (b, "right_item");
  json_builder_add_int_value (b, lease->right_item);
  json_builder_set_member_name (b, "candidates");
  json_builder_begin_array (b);
  for (guint i = 0; i < lease->n_candidates; i++)
    json_builder_add_int_value (b, lease->candidates[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "criterion");
  json_builder_add_string_value (b, lease->criterion);
  json_builder_set_member_name (b, "shown_at_us");
  json_builder_add_int_value (b, lease->shown_at_us);
  json_builder_set_member_name (b, "flagged");
  json_builder_add_boolean_value (b, lease->flagged);
  json_builder_set_member_name (b, "model_version");
  json_builder_add_int_value (b, lease->model_version);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* A lease as saved, or NULL when the text is not one (a damaged row is dropped, not trusted). */
static VetoLease *
lease_from_json (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree VetoLease *lease = g_new0 (VetoLease, 1);
  JsonObject *o;
  JsonArray *candidates;

  if (!json_parser_load_from_data (parser, text, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return NULL;
  o = json_node_get_object (json_parser_get_root (parser));
  if (!json_object_has_member (o, "candidates")
      || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (o, "candidates")))
    return NULL;
  candidates = json_object_get_array_member (o, "candidates");
  if (json_array_get_length (candidates) > MAX_CANDIDATES
      || !veto_answer_kind_from_string (json_object_get_string_member_with_default (o, "kind",
                                                                                    ""),
                                        &lease->kind))
    return NULL;
  lease->id = json_object_get_int_member_with_default (o, "id", 0);
  lease->annotator = json_object_get_int_member_with_default (o, "annotator", 0);
  lease->item = json_object_get_int_member_with_default (o, "item", 0);
  lease->right_item = json_object_get_int_member_with_default (o, "right_item", 0);
  lease->n_candidates = json_array_get_length (candidates);
  for (guint i = 0; i < lease->n_candidates; i++)
    lease->candidates[i] = json_array_get_int_element (candidates, i);
  g_strlcpy (lease->criterion, json_object_get_string_member_with_default (o, "criterion", ""),
             sizeof lease->criterion);
  lease->shown_at_us = json_object_get_int_member_with_default (o, "shown_at_us", 0);
  lease->flagged = json_object_get_boolean_member_with_default (o, "flagged", FALSE);
  lease->model_version = json_object_get_int_member_with_default (o, "model_version", 0);
  g_strlcpy (lease->strategy, "campaign", sizeof lease->strategy);
  lease->score = NAN;
  if (lease->id <= 0 || lease->annotator <= 0 || lease->item <= 0)
    return NULL;
  return g_steal_pointer (&lease);
}

/* Leases are written in the open transaction, committed with the next batch. */
static gboolean
lease_save (VetoSessions *ss, const VetoLease *lease, GError **error)
{
  g_autofree char *text = NULL;

  if (ss->campaign == NULL)
    return TRUE;
  text = lease_to_json (lease);
  return ensure_transaction (ss, error)
         && veto_store_put_lease (ss->store, lease->id, ss->campaign->id, lease->annotator, text,
                                  error);
}

/* Ends a lease. Its row is deleted in the open transaction; should that fail, the row comes back
 * at the next start and is dropped then if its item is no longer free. */
static void
lease_end (VetoSessions *ss, VetoLease *lease)
{
  if (ss->campaign && ensure_transaction (ss, NULL))
    veto_store_delete_lease (ss->store, lease->id, NULL);
  lease_drop (ss, lease);
}

/* The items a question holds: a free preference question holds both of its own. */
static guint
lease_items (VetoSessions *ss, const VetoLease *lease, gint64 out_items[2])
{
  out_items[0] = lease->item;
  out_items[1] = lease->right_item;
  return ss->campaign == NULL && lease->kind == VETO_KIND_PREFERENCE ? 2 : 1;
}

static void
lease_hold (VetoSessions *ss, const VetoLease *lease, int delta)
{
  gint64 items[2];
  guint n = lease_items (ss, lease, items);

  for (guint i = 0; i < n; i++)
    {
      Slot *slot = slot_of (ss, items[i]);

      if (slot && (delta > 0 || slot->leases > 0))
        slot->leases += delta;
    }
}

static void
lease_drop (VetoSessions *ss, VetoLease *lease)
{
  Session *s = session_get (ss, lease->annotator);

  lease_hold (ss, lease, -1);
  if (s->current == lease)
    s->current = NULL;
  g_ptr_array_remove (s->held, lease);
  g_hash_table_remove (ss->leases, &lease->id);
}

static int
compare_newest_first (gconstpointer a, gconstpointer b)
{
  const VetoLease *x = *(VetoLease *const *) a, *y = *(VetoLease *const *) b;

  return x->shown_at_us != y->shown_at_us ? (x->shown_at_us > y->shown_at_us ? -1 : 1)
                                          : (x->id > y->id) - (x->id < y->id);
}

/* The leases a previous run handed out come back with a fresh term: each person's newest is the
 * current question again, older ones (put aside by an undo) come after it, newest first; those
 * whose item is no longer free for their holder are ended. */
static gboolean
load_leases (VetoSessions *ss, GError **error)
{
  g_autoptr (GPtrArray) texts = veto_store_list_leases (ss->store, ss->campaign->id, error);
  g_autoptr (GPtrArray) saved = g_ptr_array_new ();
  gint64 now = g_get_real_time ();

  if (texts == NULL)
    return FALSE;
  for (guint i = 0; i < texts->len; i++)
    {
      VetoLease *lease = lease_from_json (g_ptr_array_index (texts, i));

      if (lease)
        g_ptr_array_add (saved, lease);
    }
  g_ptr_array_sort (saved, compare_newest_first);
  for (guint i = 0; i < saved->len; i++)
    {
      VetoLease *lease = g_ptr_array_index (saved, i);
      Slot *slot = slot_of (ss, lease->item);
      Session *s = session_get (ss, lease->annotator);

      if (slot == NULL || done_count (s, lease->item) > 0
          || slot->answers + slot->leases >= ss->campaign->per_item
          || g_hash_table_contains (ss->leases, &lease->id))
        {
          if (ensure_transaction (ss, NULL))
            veto_store_delete_lease (ss->store, lease->id, NULL);
          g_free (lease);
          continue;
        }
      lease->expires_us = now + (gint64) ss->lease_seconds * G_USEC_PER_SEC;
      slot->leases++;
      g_hash_table_insert (ss->leases, &lease->id, lease);
      if (s->current == NULL)
        s->current = lease;
      else
        g_ptr_array_insert (s->held, 0, lease);
    }
  return TRUE;
}

void
veto_sessions_expire (VetoSessions *ss, gint64 now_us)
{
  GHashTableIter iter;
  gpointer value;
  g_autoptr (GPtrArray) ended = g_ptr_array_new ();

  g_hash_table_iter_init (&iter, ss->leases);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((VetoLease *) value)->expires_us <= now_us)
      g_ptr_array_add (ended, value);
  for (guint i = 0; i < ended->len; i++)
    lease_end (ss, g_ptr_array_index (ended, i));
}

/* Whether this person has answered the slot's item as many times as they may for now (a gold
 * anchor, and any item of a campaign, once). */
static gboolean
done_for_now (const Session *s, const Slot *slot)
{
  return done_count (s, slot->item) >= (slot->anchor ? 1 : s->asks);
}

/* Whether this person may be handed the slot's item now. */
static gboolean
may_get (VetoSessions *ss, Session *s, const Slot *slot)
{
  if (ss->campaign ? slot->answers + slot->leases >= ss->campaign->per_item : slot->leases > 0)
    return FALSE;
  return !done_for_now (s, slot) && !g_hash_table_contains (s->skipped, &slot->item);
}

/* Once a person has answered every pool item of a free complementary session, each may be
 * asked again with a new set (the informative one under the item's posterior, which holds the
 * earlier answers), up to VETO_SESSIONS_MAX_ASKS times: one "not this" rules out one class, and
 * CLImage asks each image three times. FALSE when the person may not be asked more, or has
 * items left that others hold now. */
static gboolean
ask_again (VetoSessions *ss, Session *s)
{
  if (ss->campaign || ss->kind != VETO_KIND_COMPLEMENTARY || s->asks >= VETO_SESSIONS_MAX_ASKS)
    return FALSE;
  for (guint i = 0; i < ss->slots->len; i++)
    if (!done_for_now (s, &g_array_index (ss->slots, Slot, i)))
      return FALSE;
  s->asks++;
  s->cursor = 0;
  return TRUE;
}

/* With a campaign: the least covered item this person may get, the learner's first among those;
 * remaining ties broken by a random starting point. */
static Slot *
choose_campaign_slot (VetoSessions *ss, Session *s)
{
  guint n = ss->slots->len;
  guint start, best_cover = G_MAXUINT;
  Slot *best = NULL;

  if (n == 0)
    return NULL;
  start = g_rand_int_range (ss->rand, 0, n);
  /* Without keys the first uncovered item found will do; with them the whole campaign is read. */
  for (guint k = 0; k < n && (best_cover > 0 || ss->prioritized); k++)
    {
      Slot *slot = &g_array_index (ss->slots, Slot, (start + k) % n);
      guint cover = slot->answers + slot->leases;

      if (cover > best_cover || (cover == best_cover && slot->key <= best->key)
          || !may_get (ss, s, slot))
        continue;
      best = slot;
      best_cover = cover;
    }
  return best;
}

/* The class the learner's newest scores predict for the slot's item, or -1 without scores. */
static gint
slot_label (const VetoSessions *ss, const Slot *slot)
{
  return slot->row >= 0
             ? (gint) veto_active_argmax (ss->probs + (gsize) slot->row * ss->n_classes,
                                          ss->n_classes)
             : -1;
}

/* A slot this person may get, other than avoid, at random; of class label (the model's guess)
 * when label >= 0 and it turns up within a few draws. */
static Slot *
random_slot (VetoSessions *ss, Session *s, const Slot *avoid, gint label)
{
  guint n = ss->slots->len, start;

  if (n == 0)
    return NULL;
  for (guint t = 0; t < RANDOM_TRIES; t++)
    {
      Slot *slot = &g_array_index (ss->slots, Slot, g_rand_int_range (ss->rand, 0, n));

      if (slot != avoid && may_get (ss, s, slot) && (label < 0 || slot_label (ss, slot) == label))
        return slot;
    }
  if (label >= 0)
    return NULL;
  start = g_rand_int_range (ss->rand, 0, n);
  for (guint k = 0; k < n; k++)
    {
      Slot *slot = &g_array_index (ss->slots, Slot, (start + k) % n);

      if (slot != avoid && may_get (ss, s, slot))
        return slot;
    }
  return NULL;
}

/* Free: the learner's first item this person may get that nobody has answered since the order
 * was made; then any such item; then the answered ones. */
static Slot *
choose_free_slot (VetoSessions *ss, Session *s)
{
  guint n = ss->slots->len, start;
  Slot *later = NULL;

  /* What this person answered or gave back stays so until an undo or a new order: the walk
   * starts past it (someone skipping through many items costs no more than one walk). */
  while (s->cursor < ss->order->len)
    {
      const Slot *slot = &g_array_index (ss->slots, Slot,
                                         g_array_index (ss->order, guint, s->cursor));

      if (!done_for_now (s, slot) && !g_hash_table_contains (s->skipped, &slot->item))
        break;
      s->cursor++;
    }
  for (guint i = s->cursor; i < ss->order->len; i++)
    {
      Slot *slot = &g_array_index (ss->slots, Slot, g_array_index (ss->order, guint, i));

      if (!may_get (ss, s, slot))
        continue;
      if (slot->recent == 0)
        return slot;
      if (later == NULL)
        later = slot;
    }
  if (n == 0)
    return NULL;
  start = g_rand_int_range (ss->rand, 0, n);
  for (guint k = 0; k < n; k++)
    {
      Slot *slot = &g_array_index (ss->slots, Slot, (start + k) % n);

      if (slot->recent == 0 && may_get (ss, s, slot))
        return slot;
    }
  return later ? later : random_slot (ss, s, NULL, -1);
}

/* A gold anchor this person has not been asked and nobody holds, at random; NULL when none is
 * left (the pool's questions go on). */
static Slot *
choose_anchor_slot (VetoSessions *ss, Session *s)
{
  guint n = ss->anchors->len, start = g_rand_int_range (ss->rand, 0, n);

  for (guint k = 0; k < n; k++)
    {
      Slot *slot = &g_array_index (ss->anchors, Slot, (start + k) % n);

      if (may_get (ss, s, slot))
        return slot;
    }
  return NULL;
}

static void
rewind_cursors (VetoSessions *ss)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, ss->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    ((Session *) value)->cursor = 0;
}

typedef struct
{
  float key;
  guint index;
} Keyed;

static int
compare_keyed (const void *a, const void *b)
{
  const Keyed *x = a, *y = b;

  if (x->key != y->key)
    return x->key > y->key ? -1 : 1;
  return (x->index > y->index) - (x->index < y->index);
}

/* This runs on the thread that answers, once a round: the pool is walked in step with the slots
 * when both are in the same order (the usual case), and sorted as plain pairs. */
void
veto_sessions_set_priority (VetoSessions *ss, const VetoSessionsPriority *p)
{
  g_autofree Keyed *keyed = g_new (Keyed, MAX (p->n, 1));
  guint n_keyed = 0;

  ss->model_version = p->model_version;
  g_strlcpy (ss->strategy, p->strategy ? p->strategy : "random", sizeof ss->strategy);
  g_clear_pointer (&ss->probs, g_free);
  ss->n_classes = p->probs ? p->n_classes : 0;
  if (p->probs)
    ss->probs = g_memdup2 (p->probs, sizeof (float) * p->n * p->n_classes);
  g_clear_pointer (&ss->annotator_model, g_free);
  g_clear_pointer (&ss->own_annotators, g_free);
  g_clear_pointer (&ss->own_models, g_free);
  ss->n_own = 0;
  if (p->probs && p->annotator_model)
    ss->annotator_model = g_memdup2 (p->annotator_model,
                                     sizeof (double) * p->n_classes * p->n_classes);
  if (p->probs && p->n_own_models > 0)
    {
      ss->n_own = p->n_own_models;
      ss->own_annotators = g_memdup2 (p->own_annotators, sizeof (gint64) * p->n_own_models);
      ss->own_models = g_memdup2 (p->own_models, sizeof (double) * p->n_own_models
                                                     * p->n_classes * p->n_classes);
    }
  for (guint i = 0; i < ss->slots->len; i++)
    {
      Slot *slot = &g_array_index (ss->slots, Slot, i);

      slot->key = -INFINITY;
      slot->score = NAN;
      slot->partner = 0;
      slot->row = -1;
      slot->recent = 0;
    }
  for (guint i = 0; i < p->n; i++)
    {
      Slot *slot = i < ss->slots->len && g_array_index (ss->slots, Slot, i).item == p->items[i]
                   ? &g_array_index (ss->slots, Slot, i) : slot_of (ss, p->items[i]);

      if (slot == NULL || slot->anchor)
        continue;
      slot->row = p->probs ? (gint) i : -1;
      slot->partner = p->partners ? p->partners[i] : 0;
      if (p->keys == NULL || isnan (p->keys[i]))
        continue;
      slot->key = p->keys[i];
      slot->score = p->scores ? p->scores[i] : NAN;
      keyed[n_keyed++] = (Keyed) { slot->key, slot - &g_array_index (ss->slots, Slot, 0) };
    }
  qsort (keyed, n_keyed, sizeof *keyed, compare_keyed);
  g_array_set_size (ss->order, n_keyed);
  for (guint i = 0; i < n_keyed; i++)
    g_array_index (ss->order, guint, i) = keyed[i].index;
  rewind_cursors (ss);
  ss->prioritized = TRUE;
}

/* The model's guess for the slot's item, when it has one. */
static void
set_guess (VetoSessions *ss, VetoLease *lease, const Slot *slot)
{
  const float *p = slot && slot->row >= 0 ? ss->probs + (gsize) slot->row * ss->n_classes : NULL;
  guint best = p ? veto_active_argmax (p, ss->n_classes) : 0;

  lease->guess_class = 0;
  lease->guess_confidence = 0;
  if (p && best < ss->classes->len)
    {
      lease->guess_class = ((VetoClass *) g_ptr_array_index (ss->classes, best))->id;
      lease->guess_confidence = p[best];
    }
}

/* The pair: the learner's partner for the item if it is free, else one the model puts in the
 * same class, else any; the left side at random unless the learner made the pair. The criterion
 * is the configured one or the left item's predicted class. FALSE when no partner is left. */
static gboolean
compose_pair (VetoSessions *ss, Session *s, Slot *slot, VetoLease *lease)
{
  Slot *right = slot->partner ? slot_of (ss, slot->partner) : NULL;
  gint label = slot_label (ss, slot);

  if (ss->campaign)
    {
      /* A campaign's pairs are at random; its right items are not leased. */
      guint n = ss->slots->len;

      lease->right_item = slot->item;
      for (guint tries = 0; tries < 16 && lease->right_item == slot->item && n > 1; tries++)
        lease->right_item = g_array_index (ss->slots, Slot,
                                           g_rand_int_range (ss->rand, 0, n)).item;
      g_strlcpy (lease->criterion, ss->criterion, sizeof lease->criterion);
      return TRUE;
    }
  if (right == NULL || right == slot || !may_get (ss, s, right))
    {
      right = label >= 0 ? random_slot (ss, s, slot, label) : NULL;
      if (right == NULL)
        right = random_slot (ss, s, slot, -1);
      if (right == NULL)
        return FALSE;
      if (g_rand_boolean (ss->rand))
        {
          Slot *t = slot;

          slot = right;
          right = t;
          lease->item = slot->item;
          set_guess (ss, lease, slot);
          label = slot_label (ss, slot);
        }
    }
  lease->right_item = right->item;
  if (label < 0 || label >= (gint) ss->classes->len)
    label = g_rand_int_range (ss->rand, 0, ss->classes->len);
  g_strlcpy (lease->criterion,
             ss->criterion ? ss->criterion
                           : ((VetoClass *) g_ptr_array_index (ss->classes, label))->name,
             sizeof lease->criterion);
  return TRUE;
}

/* The choice model of an annotator, for informative candidates: their own from the learner's
 * last round, else the pooled one, else NULL (the uniform annotator). */
static const double *
model_of (const VetoSessions *ss, gint64 annotator)
{
  for (guint i = 0; i < ss->n_own; i++)
    if (ss->own_annotators[i] == annotator)
      return ss->own_models + (gsize) i * ss->n_classes * ss->n_classes;
  return ss->annotator_model;
}

static gint
class_index (const VetoSessions *ss, gint64 id)
{
  for (guint i = 0; i < ss->classes->len; i++)
    if (((VetoClass *) g_ptr_array_index (ss->classes, i))->id == id)
      return (gint) i;
  return -1;
}

/* The item's standing complementary answers (pending ones included), each with its answerer's
 * model and whether that is `asker`, for its posterior: out_answers gets VetoActiveAnswer,
 * pointing into out_shown (class indices). An answer about a class these sessions have not
 * loaded yet is left out. */
static gboolean
earlier_answers (VetoSessions *ss, gint64 item, gint64 asker, GArray *out_answers,
                 GArray *out_shown, GError **error)
{
  g_autoptr (GArray) rows = veto_store_list_complementary (ss->store, item, error);
  g_autoptr (GArray) starts = g_array_new (FALSE, FALSE, sizeof (guint));

  if (rows == NULL)
    return FALSE;
  for (guint i = 0; i < rows->len;)
    {
      const VetoShownClass *first = &g_array_index (rows, VetoShownClass, i);
      VetoActiveAnswer an = { NULL, 0, 0, model_of (ss, first->annotator),
                              first->annotator == asker };
      gint answer = class_index (ss, first->answer_class);
      guint start = out_shown->len;
      gboolean known = answer >= 0;

      an.answer = (guint) MAX (answer, 0);
      for (; i < rows->len && g_array_index (rows, VetoShownClass, i).annotation
                                  == first->annotation; i++)
        {
          gint c = class_index (ss, g_array_index (rows, VetoShownClass, i).shown_class);
          guint index = (guint) MAX (c, 0);

          g_array_append_val (out_shown, index);
          known &= c >= 0;
        }
      an.n_shown = out_shown->len - start;
      if (!known)
        {
          g_array_set_size (out_shown, start);
          continue;
        }
      g_array_append_val (out_answers, an);
      g_array_append_val (starts, start);
    }
  for (guint t = 0; t < out_answers->len; t++)
    g_array_index (out_answers, VetoActiveAnswer, t).shown
        = &g_array_index (out_shown, guint, g_array_index (starts, guint, t));
  return TRUE;
}

/* Every question is composed here: the item, what chose it, the model's guess, and the
 * candidates (complementary: K by the rule, uniform for a campaign or before the scores cover
 * every class; ordinary: every class) or the pair. FALSE (without error) when no pair is left. */
static gboolean
compose (VetoSessions *ss, Session *s, Slot *slot, gint64 now_us, VetoLease *lease,
         GError **error)
{
  guint n = ss->classes->len;

  *lease = (VetoLease) {
    .annotator = s->annotator,
    .kind = ss->kind,
    .item = slot->item,
    .shown_at_us = now_us,
    .expires_us = now_us + (gint64) ss->lease_seconds * G_USEC_PER_SEC,
    .model_version = ss->model_version,
    .score = NAN,
  };
  if (ss->campaign)
    g_strlcpy (lease->strategy, "campaign", sizeof lease->strategy);
  else if (slot->anchor)
    g_strlcpy (lease->strategy, "anchor", sizeof lease->strategy);
  else if (slot->key > -INFINITY)
    {
      g_strlcpy (lease->strategy, ss->strategy, sizeof lease->strategy);
      lease->score = slot->score;
    }
  else
    g_strlcpy (lease->strategy, "random", sizeof lease->strategy);
  set_guess (ss, lease, slot);
  lease->asked_before = done_count (s, slot->item);
  if (lease->kind == VETO_KIND_PREFERENCE)
    return compose_pair (ss, s, slot, lease);
  if (lease->kind == VETO_KIND_COMPLEMENTARY)
    {
      guint k = MIN (MAX (ss->n_candidates, 2u), MIN (n, MAX_CANDIDATES));
      const float *p = slot->row >= 0 && ss->n_classes == n
                       ? ss->probs + (gsize) slot->row * ss->n_classes : NULL;
      guint shown[MAX_CANDIDATES];
      guint64 seed = ((guint64) g_rand_int (ss->rand) << 32) | g_rand_int (ss->rand);

      /* an anchor's candidates are uniform (CLImage's protocol): sets the model did not choose;
       * informative ones are chosen under the item's posterior (the model's p and its earlier
       * answers) for the person asked, with their fitted model once there is one, and without
       * the classes they ruled out for it before */
      if (p && !slot->anchor && ss->rule == VETO_ACTIVE_CANDIDATES_INFORMATIVE)
        {
          g_autoptr (GArray) earlier = g_array_new (FALSE, FALSE, sizeof (VetoActiveAnswer));
          g_autoptr (GArray) earlier_shown = g_array_new (FALSE, FALSE, sizeof (guint));

          if (!earlier_answers (ss, slot->item, s->annotator, earlier, earlier_shown, error)
              || !veto_active_informative_candidates (
                  p, n, (const VetoActiveAnswer *) (gpointer) earlier->data, earlier->len,
                  model_of (ss, s->annotator), k, seed, shown, error))
            return FALSE;
        }
      else if (!veto_active_candidates (p && !slot->anchor ? ss->rule
                                                           : VETO_ACTIVE_CANDIDATES_UNIFORM,
                                        p, 1, n, k, VETO_ACTIVE_DEFAULT_FLOOR, seed, shown,
                                        error))
        return FALSE;
      for (guint i = 0; i < k; i++)
        lease->candidates[i] = ((VetoClass *) g_ptr_array_index (ss->classes, shown[i]))->id;
      lease->n_candidates = k;
    }
  else if (n <= MAX_CANDIDATES)
    {
      for (guint i = 0; i < n; i++)
        lease->candidates[i] = ((VetoClass *) g_ptr_array_index (ss->classes, i))->id;
      lease->n_candidates = n;
    }
  return TRUE;
}

/* Takes the composed question as the person's current one, with a fresh id. */
static VetoLease *
lease_take (VetoSessions *ss, Session *s, const VetoLease *composed)
{
  VetoLease *lease = g_memdup2 (composed, sizeof *composed);

  lease->id = new_question_id (ss);
  lease_hold (ss, lease, 1);
  g_hash_table_insert (ss->leases, &lease->id, lease);
  s->current = lease;
  return lease;
}

static void
fail_and_reload (VetoSessions *ss)
{
  veto_store_rollback (ss->store);
  forget_pending (ss);
  load_answers (ss, NULL);
}

/* The next slot for this person, or NULL; what was given back comes again once nothing else is
 * left, and then, in free complementary sessions, every item again (ask_again ()). */
static Slot *
choose_slot (VetoSessions *ss, Session *s)
{
  Slot *slot = ss->campaign ? choose_campaign_slot (ss, s) : choose_free_slot (ss, s), *anchor;

  if (slot == NULL && g_hash_table_size (s->skipped) > 0)
    {
      g_hash_table_remove_all (s->skipped);
      s->cursor = 0;
      slot = ss->campaign ? choose_campaign_slot (ss, s) : choose_free_slot (ss, s);
    }
  while (slot == NULL && ask_again (ss, s))
    slot = choose_free_slot (ss, s);
  /* Anchors are mixed into the pool's questions, and end with them. */
  if (slot && ss->anchors->len > 0 && g_rand_double (ss->rand) < ss->anchor_rate
      && (anchor = choose_anchor_slot (ss, s)) != NULL)
    return anchor;
  return slot;
}

const VetoLease *
veto_sessions_question (VetoSessions *ss, gint64 annotator, gint64 now_us, GError **error)
{
  Session *s = session_get (ss, annotator);
  VetoLease composed, *lease;
  Slot *slot;

  veto_sessions_expire (ss, now_us);
  if (s->current == NULL && s->held->len > 0)
    s->current = g_ptr_array_steal_index (s->held, s->held->len - 1);
  if (s->current)
    {
      s->current->expires_us = now_us + (gint64) ss->lease_seconds * G_USEC_PER_SEC;
      return s->current;
    }
  if (ss->kind == VETO_KIND_PREFERENCE && ss->slots->len < 2)
    return NULL;
  /* A free pair may find no partner for the first item chosen: a few other items are tried. */
  for (guint tries = 0; tries < RANDOM_TRIES; tries++)
    {
      g_autoptr (GError) local = NULL;

      slot = choose_slot (ss, s);
      if (slot == NULL)
        return NULL;
      if (compose (ss, s, slot, now_us, &composed, &local))
        break;
      if (local)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      /* Nothing pairs with this item for now. */
      g_hash_table_add (s->skipped, g_memdup2 (&slot->item, sizeof slot->item));
      slot = NULL;
    }
  if (slot == NULL)
    return NULL;
  lease = lease_take (ss, s, &composed);
  if (!lease_save (ss, lease, error))
    {
      fail_and_reload (ss);
      return NULL;
    }
  return lease;
}

const VetoLease *
veto_sessions_lookup (VetoSessions *ss, gint64 annotator, gint64 question, gint64 now_us,
                      GError **error)
{
  VetoLease *lease = g_hash_table_lookup (ss->leases, &question);

  if (lease && lease->expires_us <= now_us)
    {
      lease_end (ss, lease);
      lease = NULL;
    }
  if (lease == NULL)
    {
      g_set_error (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_UNKNOWN,
                   "no question %" G_GINT64_FORMAT " is open (answered, skipped or expired)",
                   question);
      return NULL;
    }
  if (lease->annotator != annotator)
    {
      g_set_error (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_FORBIDDEN,
                   "question %" G_GINT64_FORMAT " was put to someone else", question);
      return NULL;
    }
  lease->expires_us = now_us + (gint64) ss->lease_seconds * G_USEC_PER_SEC;
  return lease;
}

/* An answer id seen before, committed or waiting for the commit: the same answer again. */
static gboolean
known_uid (VetoSessions *ss, gint64 annotator, const char *uid, gint64 *out_annotation,
           gboolean *out_known, GError **error)
{
  gint64 *pending = g_hash_table_lookup (ss->pending_uids, uid);
  gint64 id = 0, by = 0;

  if (pending)
    {
      id = *pending;
      by = *(gint64 *) g_hash_table_lookup (ss->pending_by, uid);
    }
  else if (!veto_store_find_answer_uid (ss->store, uid, &id, &by, error))
    return FALSE;
  *out_known = id > 0;
  if (id > 0 && by != annotator)
    {
      g_set_error_literal (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_FORBIDDEN,
                           "that answer id belongs to someone else's answer");
      return FALSE;
    }
  *out_annotation = id;
  return TRUE;
}

static gboolean
check_answer (VetoSessions *ss, const VetoLease *lease, const VetoSessionAnswer *answer,
              GError **error)
{
  if (lease->kind == VETO_KIND_PREFERENCE)
    {
      if (answer->preferred != VETO_PREFER_LEFT && answer->preferred != VETO_PREFER_RIGHT
          && answer->preferred != VETO_PREFER_TIE)
        goto invalid;
      return TRUE;
    }
  /* An ordinary answer may name any class, one added since the question was shown too. */
  if (lease->kind == VETO_KIND_ORDINARY)
    for (guint i = 0; i < ss->classes->len; i++)
      if (((VetoClass *) g_ptr_array_index (ss->classes, i))->id == answer->answer_class)
        return TRUE;
  if (lease->kind == VETO_KIND_COMPLEMENTARY)
    for (guint i = 0; i < lease->n_candidates; i++)
      if (lease->candidates[i] == answer->answer_class)
        return TRUE;

invalid:
  g_set_error_literal (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_INVALID,
                       lease->kind == VETO_KIND_PREFERENCE
                       ? "the answer must prefer left, right or neither"
                       : lease->kind == VETO_KIND_ORDINARY
                       ? "the class answered is not a class of the project"
                       : "the class answered is not one of the candidates shown");
  return FALSE;
}

gboolean
veto_sessions_answer (VetoSessions *ss, gint64 annotator, const VetoSessionAnswer *answer,
                      gint64 now_us, gint64 *out_annotation, gboolean *out_duplicate,
                      GError **error)
{
  Session *s;
  VetoLease *lease;
  VetoAnswer record;
  Undo undo;
  gint64 id = 0, items[2];
  gboolean known = FALSE;
  guint n_items;

  *out_duplicate = FALSE;
  if (answer->answer_uid && !known_uid (ss, annotator, answer->answer_uid, &id, &known, error))
    return FALSE;
  if (known)
    {
      *out_annotation = id;
      *out_duplicate = TRUE;
      return TRUE;
    }
  lease = (VetoLease *) veto_sessions_lookup (ss, annotator, answer->question, now_us, error);
  if (lease == NULL || !check_answer (ss, lease, answer, error))
    return FALSE;
  record = (VetoAnswer) {
    .kind = lease->kind,
    .item = lease->item,
    .annotator = annotator,
    .answer_class = lease->kind == VETO_KIND_PREFERENCE ? 0 : answer->answer_class,
    .candidates = lease->kind == VETO_KIND_COMPLEMENTARY ? lease->candidates : NULL,
    .n_candidates = lease->kind == VETO_KIND_COMPLEMENTARY ? lease->n_candidates : 0,
    .right_item = lease->right_item,
    .criterion = lease->kind == VETO_KIND_PREFERENCE ? lease->criterion : NULL,
    .preferred = answer->preferred,
    .model_version = lease->model_version,
    .strategy = ss->campaign == NULL ? lease->strategy
                : lease->model_version > 0 ? "campaign+margin" : "campaign",
    .score = lease->score,
    .campaign = ss->campaign ? ss->campaign->id : 0,
    .shown_at_us = lease->shown_at_us,
    .answered_at_us = now_us,
    .answer_uid = answer->answer_uid,
  };
  /* A failure inside the open transaction would leave it half written: roll everything back. */
  if (!ensure_transaction (ss, error))
    return FALSE;
  if (!veto_store_add_annotation (ss->store, &record, &id, error)
      || (lease->flagged && !veto_store_flag_annotation (ss->store, id, TRUE, error)))
    {
      fail_and_reload (ss);
      return FALSE;
    }
  if (answer->answer_uid)
    {
      g_hash_table_insert (ss->pending_uids, g_strdup (answer->answer_uid),
                           g_memdup2 (&id, sizeof id));
      g_hash_table_insert (ss->pending_by, g_strdup (answer->answer_uid),
                           g_memdup2 (&annotator, sizeof annotator));
    }
  s = session_get (ss, annotator);
  n_items = lease_items (ss, lease, items);
  for (guint i = 0; i < n_items; i++)
    {
      Slot *slot = slot_of (ss, items[i]);

      if (slot)
        {
          slot->answers++;
          slot->recent++;
        }
      done_add (s, items[i], 1);
    }
  undo = (Undo) { id, *lease, (now_us - lease->shown_at_us) / (double) G_USEC_PER_SEC };
  s->timed++;
  s->seconds += undo.seconds;
  g_array_append_val (s->undo, undo);
  if (s->undo->len > UNDO_DEPTH)
    g_array_remove_index (s->undo, 0);
  lease_end (ss, lease);
  *out_annotation = id;
  return TRUE;
}

gboolean
veto_sessions_answer_now (VetoSessions *ss, gint64 annotator, const VetoSessionAnswer *answer,
                          gint64 now_us, gint64 *out_annotation, GError **error)
{
  const VetoLease *lease = veto_sessions_lookup (ss, annotator, answer->question, now_us, error);
  Session *s = session_get (ss, annotator);
  VetoLease saved;
  gboolean duplicate;
  gint64 id = 0;

  if (lease == NULL)
    return FALSE;
  saved = *lease;
  if (!veto_sessions_answer (ss, annotator, answer, now_us, &id, &duplicate, error))
    return FALSE;
  if (veto_sessions_commit (ss, error))
    {
      *out_annotation = id;
      return TRUE;
    }
  /* Rolled back: the answer is forgotten and its question is current again. */
  if (s->undo->len > 0 && g_array_index (s->undo, Undo, s->undo->len - 1).annotation == id)
    {
      s->timed--;
      s->seconds -= g_array_index (s->undo, Undo, s->undo->len - 1).seconds;
      g_array_remove_index (s->undo, s->undo->len - 1);
    }
  if (!g_hash_table_contains (ss->leases, &saved.id))
    {
      VetoLease *back = g_memdup2 (&saved, sizeof saved);

      if (s->current)
        g_ptr_array_add (s->held, s->current);
      lease_hold (ss, back, 1);
      g_hash_table_insert (ss->leases, &back->id, back);
      s->current = back;
    }
  return FALSE;
}

gboolean
veto_sessions_pending (VetoSessions *ss)
{
  return ss->pending;
}

gboolean
veto_sessions_commit (VetoSessions *ss, GError **error)
{
  if (!ss->pending)
    return TRUE;
  if (!veto_store_commit (ss->store, error))
    {
      fail_and_reload (ss);
      return FALSE;
    }
  forget_pending (ss);
  return TRUE;
}

gboolean
veto_sessions_skip (VetoSessions *ss, gint64 annotator, gint64 question, gint64 now_us,
                     GError **error)
{
  VetoLease *lease = (VetoLease *) veto_sessions_lookup (ss, annotator, question, now_us, error);

  if (lease == NULL)
    return FALSE;
  g_hash_table_add (session_get (ss, annotator)->skipped,
                    g_memdup2 (&lease->item, sizeof lease->item));
  lease_end (ss, lease);
  return TRUE;
}

gboolean
veto_sessions_flag (VetoSessions *ss, gint64 annotator, gint64 question, gint64 now_us,
                     GError **error)
{
  VetoLease *lease = (VetoLease *) veto_sessions_lookup (ss, annotator, question, now_us, error);

  if (lease == NULL)
    return FALSE;
  lease->flagged = TRUE;
  if (!lease_save (ss, lease, error))
    {
      fail_and_reload (ss);
      return FALSE;
    }
  return TRUE;
}

gboolean
veto_sessions_undo (VetoSessions *ss, gint64 annotator, gint64 now_us, gint64 *out_undone,
                    GError **error)
{
  Session *s = session_get (ss, annotator);
  Undo undo;
  VetoLease *lease;
  gint64 items[2];
  guint n_items;

  if (s->undo->len == 0)
    {
      g_set_error (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_NOTHING,
                   "nothing left to undo (the last %d answers can be undone)", UNDO_DEPTH);
      return FALSE;
    }
  if (!veto_sessions_commit (ss, error))
    return FALSE;
  undo = g_array_index (s->undo, Undo, s->undo->len - 1);
  if (!veto_store_undo_annotation (ss->store, undo.annotation, error))
    return FALSE;
  g_array_remove_index (s->undo, s->undo->len - 1);
  s->timed--;
  s->seconds -= undo.seconds;
  n_items = lease_items (ss, &undo.lease, items);
  for (guint i = 0; i < n_items; i++)
    {
      Slot *slot = slot_of (ss, items[i]);

      if (slot && slot->answers > 0)
        slot->answers--;
      if (slot && slot->recent > 0)
        slot->recent--;
      done_add (s, items[i], -1);
    }
  s->cursor = 0;
  /* The question shown keeps its lease and comes after the one undone. */
  if (s->current)
    g_ptr_array_add (s->held, s->current);
  s->current = NULL;
  /* The same question again, under a new id and a fresh lease. */
  undo.lease.shown_at_us = now_us;
  undo.lease.expires_us = now_us + (gint64) ss->lease_seconds * G_USEC_PER_SEC;
  undo.lease.flagged = FALSE;
  lease = lease_take (ss, s, &undo.lease);
  *out_undone = undo.annotation;
  if (!lease_save (ss, lease, error))
    {
      fail_and_reload (ss);
      return FALSE;
    }
  return TRUE;
}

void
veto_sessions_get_progress (VetoSessions *ss, VetoSessionsProgress *out)
{
  guint m = ss->campaign ? ss->campaign->per_item : 1;

  *out = (VetoSessionsProgress) { .items = ss->slots->len };
  for (guint i = 0; i < ss->slots->len; i++)
    {
      const Slot *slot = &g_array_index (ss->slots, Slot, i);

      out->answers += slot->answers;
      out->leased += slot->leases;
      if (slot->answers >= m)
        out->complete++;
      else
        out->missing += m - slot->answers;
    }
}

void
veto_sessions_get_status (VetoSessions *ss, gint64 annotator, VetoSessionStatus *out)
{
  Session *s = session_get (ss, annotator);
  GHashTableIter iter;
  gpointer key, value;

  *out = (VetoSessionStatus) {
    .session_answers = s->timed,
    .mean_seconds = s->timed ? s->seconds / s->timed : NAN,
  };
  if (ss->campaign)
    {
      for (guint i = 0; i < ss->slots->len; i++)
        if (g_array_index (ss->slots, Slot, i).answers < ss->campaign->per_item)
          out->remaining++;
    }
  else
    out->remaining = ss->slots->len;
  /* The person's own items (a few hundred at most) rather than a lookup per item. */
  g_hash_table_iter_init (&iter, s->done);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Slot *slot = slot_of (ss, *(gint64 *) key);

      if (slot && slot->anchor)
        continue;
      out->answers += GPOINTER_TO_UINT (value);
      if (slot && (ss->campaign == NULL || slot->answers < ss->campaign->per_item)
          && done_for_now (s, slot) && out->remaining > 0)
        out->remaining--;
    }
  for (guint i = 0; i < ss->order->len && out->ready < MAX_READY; i++)
    if (may_get (ss, s, &g_array_index (ss->slots, Slot, g_array_index (ss->order, guint, i))))
      out->ready++;
}
