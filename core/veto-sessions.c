/* veto-sessions: per-annotator sessions over one campaign, leased questions and grouped commits. */
#include "veto-sessions.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/random.h>

#define DEFAULT_LEASE_SECONDS 300
#define UNDO_DEPTH 10
#define MAX_CANDIDATES G_N_ELEMENTS (((VetoLease *) NULL)->candidates)

G_DEFINE_QUARK (veto-sessions-error-quark, veto_sessions_error)

/* A campaign item and how far it is covered: standing answers (pending ones included) and live
 * leases. answers + leases never exceeds m through this server. */
typedef struct
{
  gint64 item;
  guint answers;
  guint leases;
  float key;      /* the learner's priority (larger first); -1 without one */
} Slot;

typedef struct
{
  gint64 annotation;
  VetoLease lease;
} Undo;

typedef struct
{
  gint64 annotator;
  GHashTable *done;    /* item id → standing answers of this person in the campaign */
  VetoLease *current;  /* owned by VetoSessions.leases */
  GArray *undo;        /* Undo, oldest first */
  guint timed;
  double seconds;
} Session;

struct _VetoSessions
{
  VetoStore *store;
  VetoCampaign *campaign;
  GPtrArray *classes;
  guint lease_seconds;
  char *criterion;
  GRand *rand;
  GArray *slots;            /* Slot, in the campaign's item order */
  GHashTable *slot_of;      /* item id → index + 1 */
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
  };
}

static void
session_free (gpointer data)
{
  Session *s = data;

  g_hash_table_unref (s->done);
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
      s->undo = g_array_new (FALSE, FALSE, sizeof (Undo));
      g_hash_table_insert (ss->sessions, g_memdup2 (&annotator, sizeof annotator), s);
    }
  return s;
}

static guint
done_count (Session *s, gint64 item)
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

static Slot *
slot_of (VetoSessions *ss, gint64 item)
{
  guint index = GPOINTER_TO_UINT (g_hash_table_lookup (ss->slot_of, &item));

  return index == 0 ? NULL : &g_array_index (ss->slots, Slot, index - 1);
}

static void
forget_pending (VetoSessions *ss)
{
  g_hash_table_remove_all (ss->pending_uids);
  g_hash_table_remove_all (ss->pending_by);
  ss->pending = FALSE;
}

/* Counts the campaign's standing answers again, from the store's own connection, and takes back
 * the leases saved there. */
static gboolean
load_answers (VetoSessions *ss, GError **error)
{
  g_autoptr (GArray) answers = veto_store_campaign_list_answers (ss->store, ss->campaign->id,
                                                                 error);

  if (answers == NULL)
    return FALSE;
  g_hash_table_remove_all (ss->leases);
  g_hash_table_remove_all (ss->sessions);
  for (guint i = 0; i < ss->slots->len; i++)
    {
      Slot *slot = &g_array_index (ss->slots, Slot, i);

      slot->answers = slot->leases = 0;
    }
  for (guint i = 0; i < answers->len; i++)
    {
      const VetoCampaignAnswer *a = &g_array_index (answers, VetoCampaignAnswer, i);
      Slot *slot = slot_of (ss, a->item);

      if (slot)
        slot->answers++;
      done_add (session_get (ss, a->annotator), a->item, 1);
    }
  return load_leases (ss, error);
}

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
  if (open == NULL)
    {
      g_set_error_literal (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_INVALID,
                           "the project has no open campaign: create one with 'veto campaign "
                           "create'");
      return NULL;
    }
  g_ptr_array_set_free_func (all, NULL);
  for (guint i = 0; i < all->len; i++)
    if (g_ptr_array_index (all, i) != open)
      veto_campaign_free (g_ptr_array_index (all, i));
  return open;
}

VetoSessions *
veto_sessions_new (VetoStore *store, const VetoSessionsOptions *options, GError **error)
{
  g_autoptr (VetoSessions) ss = g_new0 (VetoSessions, 1);
  g_autoptr (GArray) items = NULL;

  ss->store = store;
  ss->lease_seconds = options->lease_seconds > 0 ? options->lease_seconds
                                                 : DEFAULT_LEASE_SECONDS;
  ss->criterion = g_strdup (options->criterion ? options->criterion : "clearer");
  ss->rand = g_rand_new_with_seed ((guint32) (options->seed ^ (options->seed >> 32)));
  ss->slots = g_array_new (FALSE, FALSE, sizeof (Slot));
  ss->slot_of = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  ss->sessions = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, session_free);
  ss->leases = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL, g_free);
  ss->pending_uids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  ss->pending_by = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  ss->campaign = find_campaign (store, options->campaign, error);
  if (ss->campaign == NULL)
    return NULL;
  if (ss->campaign->closed)
    {
      g_set_error (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_INVALID,
                   "campaign %s is closed", ss->campaign->name);
      return NULL;
    }
  ss->classes = veto_store_list_classes (store, error);
  if (ss->classes == NULL)
    return NULL;
  if (ss->campaign->protocol != VETO_KIND_PREFERENCE
      && (ss->classes->len < 2 || ss->classes->len > MAX_CANDIDATES))
    {
      g_set_error (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_INVALID,
                   "the project has %u classes; the server shows between 2 and %u",
                   ss->classes->len, (guint) MAX_CANDIDATES);
      return NULL;
    }
  items = veto_store_campaign_list_items (store, ss->campaign->id, error);
  if (items == NULL)
    return NULL;
  for (guint i = 0; i < items->len; i++)
    {
      Slot slot = { g_array_index (items, VetoCampaignItem, i).item, 0, 0, -1 };

      g_array_append_val (ss->slots, slot);
      g_hash_table_insert (ss->slot_of, g_memdup2 (&slot.item, sizeof slot.item),
                           GUINT_TO_POINTER (i + 1));
    }
  if (!load_answers (ss, error))
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

GPtrArray *
veto_sessions_get_classes (VetoSessions *ss)
{
  return ss->classes;
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
  if (lease->id <= 0 || lease->annotator <= 0 || lease->item <= 0)
    return NULL;
  return g_steal_pointer (&lease);
}

/* Leases are written in the open transaction, committed with the next batch. */
static gboolean
lease_save (VetoSessions *ss, const VetoLease *lease, GError **error)
{
  g_autofree char *text = lease_to_json (lease);

  return ensure_transaction (ss, error)
         && veto_store_put_lease (ss->store, lease->id, ss->campaign->id, lease->annotator, text,
                                  error);
}

/* Ends a lease. Its row is deleted in the open transaction; should that fail, the row comes back
 * at the next start and is dropped then if its item is no longer free. */
static void
lease_end (VetoSessions *ss, VetoLease *lease)
{
  if (ensure_transaction (ss, NULL))
    veto_store_delete_lease (ss->store, lease->id, NULL);
  lease_drop (ss, lease);
}

static void
lease_drop (VetoSessions *ss, VetoLease *lease)
{
  Session *s = session_get (ss, lease->annotator);
  Slot *slot = slot_of (ss, lease->item);

  if (slot && slot->leases > 0)
    slot->leases--;
  if (s->current == lease)
    s->current = NULL;
  g_hash_table_remove (ss->leases, &lease->id);
}

/* The leases a previous run handed out come back with a fresh term; those whose item is no
 * longer free for their holder are ended. */
static gboolean
load_leases (VetoSessions *ss, GError **error)
{
  g_autoptr (GPtrArray) texts = veto_store_list_leases (ss->store, ss->campaign->id, error);
  gint64 now = g_get_real_time ();

  if (texts == NULL)
    return FALSE;
  for (guint i = 0; i < texts->len; i++)
    {
      VetoLease *lease = lease_from_json (g_ptr_array_index (texts, i));
      Slot *slot = lease ? slot_of (ss, lease->item) : NULL;
      Session *s = lease ? session_get (ss, lease->annotator) : NULL;

      if (slot == NULL || s->current || done_count (s, lease->item) > 0
          || slot->answers + slot->leases >= ss->campaign->per_item
          || g_hash_table_contains (ss->leases, &lease->id))
        {
          if (lease && ensure_transaction (ss, NULL))
            veto_store_delete_lease (ss->store, lease->id, NULL);
          g_free (lease);
          continue;
        }
      lease->expires_us = now + (gint64) ss->lease_seconds * G_USEC_PER_SEC;
      slot->leases++;
      g_hash_table_insert (ss->leases, &lease->id, lease);
      s->current = lease;
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

/* K distinct classes drawn uniformly, in a random order (CLImage's protocol). */
static void
draw_candidates (VetoSessions *ss, VetoLease *lease)
{
  guint n = ss->classes->len;
  guint k = ss->campaign->protocol == VETO_KIND_COMPLEMENTARY
            ? MIN (MAX (ss->campaign->n_candidates, 2u), n) : n;
  gint64 ids[MAX_CANDIDATES];

  for (guint i = 0; i < n; i++)
    ids[i] = ((VetoClass *) g_ptr_array_index (ss->classes, i))->id;
  if (ss->campaign->protocol == VETO_KIND_COMPLEMENTARY)
    for (guint i = 0; i < k; i++)
      {
        guint j = i + g_rand_int_range (ss->rand, 0, n - i);
        gint64 t = ids[i];

        ids[i] = ids[j];
        ids[j] = t;
      }
  memcpy (lease->candidates, ids, k * sizeof ids[0]);
  lease->n_candidates = k;
}

/* The least covered item this person may get, the learner's first among those; remaining ties
 * broken by a random starting point. */
static Slot *
choose_slot (VetoSessions *ss, Session *s)
{
  guint n = ss->slots->len;
  guint m = ss->campaign->per_item;
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

      if (cover >= m || cover > best_cover
          || (cover == best_cover && slot->key <= best->key)
          || done_count (s, slot->item) > 0)
        continue;
      best = slot;
      best_cover = cover;
    }
  return best;
}

void
veto_sessions_set_priority (VetoSessions *ss, gint64 model_version, const gint64 *items,
                            const float *keys, guint n)
{
  ss->model_version = model_version;
  for (guint i = 0; i < ss->slots->len; i++)
    g_array_index (ss->slots, Slot, i).key = -1;
  for (guint i = 0; i < n; i++)
    {
      Slot *slot = slot_of (ss, items[i]);

      if (slot)
        slot->key = keys[i];
    }
  ss->prioritized = TRUE;
}

static VetoLease *
lease_new (VetoSessions *ss, Session *s, gint64 item, gint64 now_us)
{
  VetoLease *lease = g_new0 (VetoLease, 1);
  Slot *slot = slot_of (ss, item);

  lease->id = new_question_id (ss);
  lease->annotator = s->annotator;
  lease->kind = ss->campaign->protocol;
  lease->item = item;
  lease->shown_at_us = now_us;
  lease->expires_us = now_us + (gint64) ss->lease_seconds * G_USEC_PER_SEC;
  lease->model_version = ss->model_version;
  if (lease->kind == VETO_KIND_PREFERENCE)
    {
      guint n = ss->slots->len;
      gint64 right = item;

      for (guint tries = 0; tries < 16 && right == item && n > 1; tries++)
        right = g_array_index (ss->slots, Slot, g_rand_int_range (ss->rand, 0, n)).item;
      lease->right_item = right;
      g_strlcpy (lease->criterion, ss->criterion, sizeof lease->criterion);
    }
  else
    draw_candidates (ss, lease);
  if (slot)
    slot->leases++;
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

const VetoLease *
veto_sessions_question (VetoSessions *ss, gint64 annotator, gint64 now_us, GError **error)
{
  Session *s = session_get (ss, annotator);
  VetoLease *lease;
  Slot *slot;

  veto_sessions_expire (ss, now_us);
  if (s->current)
    {
      s->current->expires_us = now_us + (gint64) ss->lease_seconds * G_USEC_PER_SEC;
      return s->current;
    }
  if (ss->campaign->protocol == VETO_KIND_PREFERENCE && ss->slots->len < 2)
    return NULL;
  slot = choose_slot (ss, s);
  if (slot == NULL)
    return NULL;
  lease = lease_new (ss, s, slot->item, now_us);
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
  for (guint i = 0; i < lease->n_candidates; i++)
    if (lease->candidates[i] == answer->answer_class)
      return TRUE;

invalid:
  g_set_error_literal (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_INVALID,
                       lease->kind == VETO_KIND_PREFERENCE
                       ? "the answer must prefer left, right or neither"
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
  Slot *slot;
  Undo undo;
  gint64 id = 0;
  gboolean known = FALSE;

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
    .strategy = lease->model_version > 0 ? "campaign+margin" : "campaign",
    .score = NAN,
    .campaign = ss->campaign->id,
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
  slot = slot_of (ss, lease->item);
  if (slot)
    slot->answers++;
  done_add (s, lease->item, 1);
  s->timed++;
  s->seconds += (now_us - lease->shown_at_us) / (double) G_USEC_PER_SEC;
  undo = (Undo) { id, *lease };
  g_array_append_val (s->undo, undo);
  if (s->undo->len > UNDO_DEPTH)
    g_array_remove_index (s->undo, 0);
  lease_end (ss, lease);
  *out_annotation = id;
  return TRUE;
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
  Slot *slot;

  if (s->undo->len == 0)
    {
      g_set_error_literal (error, VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_NOTHING,
                           "nothing to undo");
      return FALSE;
    }
  if (!veto_sessions_commit (ss, error))
    return FALSE;
  undo = g_array_index (s->undo, Undo, s->undo->len - 1);
  if (!veto_store_undo_annotation (ss->store, undo.annotation, error))
    return FALSE;
  g_array_remove_index (s->undo, s->undo->len - 1);
  slot = slot_of (ss, undo.lease.item);
  if (slot && slot->answers > 0)
    slot->answers--;
  done_add (s, undo.lease.item, -1);
  if (s->current)
    lease_end (ss, s->current);
  /* The same question again, under a new id and a fresh lease. */
  lease = g_memdup2 (&undo.lease, sizeof undo.lease);
  lease->id = new_question_id (ss);
  lease->shown_at_us = now_us;
  lease->expires_us = now_us + (gint64) ss->lease_seconds * G_USEC_PER_SEC;
  lease->flagged = FALSE;
  if (slot)
    slot->leases++;
  g_hash_table_insert (ss->leases, &lease->id, lease);
  s->current = lease;
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
  guint m = ss->campaign->per_item;

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
  guint m = ss->campaign->per_item;
  GHashTableIter iter;
  gpointer key, value;

  *out = (VetoSessionStatus) { .mean_seconds = s->timed ? s->seconds / s->timed : NAN };
  for (guint i = 0; i < ss->slots->len; i++)
    if (g_array_index (ss->slots, Slot, i).answers < m)
      out->remaining++;
  /* The person's own items (a few hundred at most) rather than a lookup per campaign item. */
  g_hash_table_iter_init (&iter, s->done);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Slot *slot = slot_of (ss, *(gint64 *) key);

      out->answers += GPOINTER_TO_UINT (value);
      if (slot && slot->answers < m)
        out->remaining--;
    }
}
