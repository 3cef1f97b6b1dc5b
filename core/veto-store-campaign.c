/* veto-store-campaign: collection campaigns (items, anchors, assignment) and merging projects. */
#include "veto-store.h"
#include "veto-store-private.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>

#define CAMPAIGN_BUSY_TIMEOUT_MS 5000

/* Campaign reads go through the store's own connection (borrowed), so the store's holder sees
 * its own uncommitted answers in them. What writes (creating or closing a campaign, merging)
 * goes through a short-lived connection of its own in one transaction; WAL lets it work beside
 * the store's connection. */
typedef struct
{
  sqlite3 *db;
  char *display;
  gboolean borrowed;  /* the store's: never closed here */
} Conn;

static void
conn_free (Conn *conn)
{
  if (conn == NULL)
    return;
  if (!conn->borrowed)
    sqlite3_close_v2 (conn->db);
  g_free (conn->display);
  g_free (conn);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Conn, conn_free)

static void
conn_error (Conn *conn, GError **error, int rc, const char *doing)
{
  veto_store_set_sqlite_error (conn->db, conn->display, rc, doing, error);
}

static void invalid (GError **error, const char *display, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static void
invalid (GError **error, const char *display, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID, "%s: %s", display, message);
}

static gboolean
conn_exec (Conn *conn, const char *sql, const char *doing, GError **error)
{
  int rc = sqlite3_exec (conn->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    {
      conn_error (conn, error, rc, doing);
      return FALSE;
    }
  return TRUE;
}

static Conn *
conn_open (const char *path, gboolean write, GError **error)
{
  g_autoptr (Conn) conn = g_new0 (Conn, 1);
  int flags = (write ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY) | SQLITE_OPEN_NOMUTEX;
  int rc;

  conn->display = g_filename_display_name (path);
  rc = sqlite3_open_v2 (path, &conn->db, flags, NULL);
  if (rc != SQLITE_OK)
    {
      conn_error (conn, error, rc, "opening the project");
      return NULL;
    }
  sqlite3_extended_result_codes (conn->db, 1);
  sqlite3_busy_timeout (conn->db, CAMPAIGN_BUSY_TIMEOUT_MS);
  if (!veto_store_harden (conn->db, conn->display, error)
      || !conn_exec (conn, "PRAGMA foreign_keys = ON", "configuring the project", error))
    return NULL;
  return g_steal_pointer (&conn);
}

static Conn *
conn_borrow (VetoStore *store)
{
  Conn *conn = g_new0 (Conn, 1);

  conn->db = veto_store_get_db (store);
  conn->display = g_filename_display_name (veto_store_get_path (store));
  conn->borrowed = TRUE;
  return conn;
}

static VetoStoreStatement *
conn_prepare (Conn *conn, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (conn->db, sql, -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    {
      conn_error (conn, error, rc, "reading the project");
      sqlite3_finalize (stmt);
      return NULL;
    }
  return stmt;
}

static gboolean
step_done (Conn *conn, sqlite3_stmt *stmt, const char *doing, GError **error)
{
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_DONE)
    {
      conn_error (conn, error, rc, doing);
      return FALSE;
    }
  return TRUE;
}

/* Ends a walk over rows: rc is the last sqlite3_step result. */
static gboolean
rows_done (Conn *conn, int rc, const char *doing, GError **error)
{
  if (rc != SQLITE_DONE)
    {
      conn_error (conn, error, rc, doing);
      return FALSE;
    }
  return TRUE;
}

static void
conn_rollback (Conn *conn)
{
  if (!sqlite3_get_autocommit (conn->db))
    sqlite3_exec (conn->db, "ROLLBACK", NULL, NULL, NULL);
}

static const char *
column_text (sqlite3_stmt *stmt, int column)
{
  return (const char *) sqlite3_column_text (stmt, column);
}

static char *
now_iso (void)
{
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

  return g_date_time_format (now, "%Y-%m-%dT%H:%M:%S.%fZ");
}

static gint64 *
box_int64 (gint64 value)
{
  return g_memdup2 (&value, sizeof value);
}

static GHashTable *
int64_table_new (GDestroyNotify value_free)
{
  return g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, value_free);
}

/* --- campaigns --- */

void
veto_campaign_free (VetoCampaign *campaign)
{
  if (campaign == NULL)
    return;
  g_free (campaign->name);
  g_free (campaign->created_at);
  g_free (campaign->closed_at);
  g_free (campaign);
}

#define CAMPAIGN_COLUMNS \
  "id, name, protocol, answers_per_item, n_candidates, anchor_rate, state, created_at, closed_at"

static VetoCampaign *
campaign_from_row (sqlite3_stmt *stmt)
{
  VetoCampaign *campaign = g_new0 (VetoCampaign, 1);

  campaign->id = sqlite3_column_int64 (stmt, 0);
  campaign->name = g_strdup (column_text (stmt, 1));
  veto_answer_kind_from_string (column_text (stmt, 2), &campaign->protocol);
  campaign->per_item = sqlite3_column_int (stmt, 3);
  campaign->n_candidates = sqlite3_column_int (stmt, 4);
  campaign->anchor_rate = sqlite3_column_double (stmt, 5);
  campaign->closed = g_strcmp0 (column_text (stmt, 6), "closed") == 0;
  campaign->created_at = g_strdup (column_text (stmt, 7));
  campaign->closed_at = g_strdup (column_text (stmt, 8));
  return campaign;
}

static VetoCampaign *
campaign_by (Conn *conn, const char *where, gint64 id, const char *name, GError **error)
{
  g_autofree char *sql = g_strconcat ("SELECT " CAMPAIGN_COLUMNS " FROM campaigns WHERE ", where,
                                      NULL);
  g_autoptr (VetoStoreStatement) stmt = conn_prepare (conn, sql, error);
  int rc;

  if (stmt == NULL)
    return NULL;
  if (name)
    sqlite3_bind_text (stmt, 1, name, -1, SQLITE_STATIC);
  else
    sqlite3_bind_int64 (stmt, 1, id);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return campaign_from_row (stmt);
  if (rc != SQLITE_DONE)
    conn_error (conn, error, rc, "reading campaigns");
  else if (name)
    invalid (error, conn->display, "no campaign named \"%s\"", name);
  else
    invalid (error, conn->display, "no campaign %" G_GINT64_FORMAT, id);
  return NULL;
}

VetoCampaign *
veto_store_get_campaign (VetoStore *store, const char *name, GError **error)
{
  g_autoptr (Conn) conn = conn_borrow (store);

  if (conn == NULL)
    return NULL;
  return campaign_by (conn, "name = ?", 0, name, error);
}

GPtrArray *
veto_store_list_campaigns (VetoStore *store, GError **error)
{
  g_autoptr (Conn) conn = conn_borrow (store);
  g_autoptr (VetoStoreStatement) stmt = NULL;
  g_autoptr (GPtrArray) campaigns = g_ptr_array_new_with_free_func (
      (GDestroyNotify) veto_campaign_free);
  int rc;

  if (conn == NULL || !(stmt = conn_prepare (conn, "SELECT " CAMPAIGN_COLUMNS
                                             " FROM campaigns ORDER BY id", error)))
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (campaigns, campaign_from_row (stmt));
  if (!rows_done (conn, rc, "reading campaigns", error))
    return NULL;
  return g_steal_pointer (&campaigns);
}

static gboolean
count_classes (Conn *conn, guint *out_count, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = conn_prepare (conn, "SELECT COUNT(*) FROM classes", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      conn_error (conn, error, rc, "reading classes");
      return FALSE;
    }
  *out_count = sqlite3_column_int (stmt, 0);
  return TRUE;
}

static gboolean
check_spec (Conn *conn, const VetoCampaignSpec *spec, GError **error)
{
  guint n_classes = 0;

  if (spec->name == NULL || *spec->name == '\0' || !g_utf8_validate (spec->name, -1, NULL))
    invalid (error, conn->display, "a campaign name must be non-empty UTF-8 text");
  else if (spec->protocol != VETO_KIND_ORDINARY && spec->protocol != VETO_KIND_COMPLEMENTARY
           && spec->protocol != VETO_KIND_PREFERENCE)
    invalid (error, conn->display, "a campaign's protocol is ordinary, complementary or "
             "preference");
  else if (spec->per_item == 0)
    invalid (error, conn->display, "a campaign needs at least one answer per item");
  else if (!(spec->anchor_rate >= 0 && spec->anchor_rate < 1))
    invalid (error, conn->display, "the anchor rate must be in [0, 1)");
  else if (!count_classes (conn, &n_classes, error))
    return FALSE;
  else if (spec->protocol == VETO_KIND_COMPLEMENTARY
           && (spec->n_candidates < 2 || spec->n_candidates > n_classes))
    invalid (error, conn->display, "a complementary campaign shows between 2 and the number of "
             "classes (%u) candidates, not %u", n_classes, spec->n_candidates);
  else
    return TRUE;
  return FALSE;
}

/* Item ids in id order: of one split (VETO_N_SPLITS: all), or the ones with a gold label outside
 * the test split (the candidates for anchors). */
static GArray *
select_item_ids (Conn *conn, VetoSplit split, gboolean with_gold, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = conn_prepare (conn,
      with_gold ? "SELECT id FROM items WHERE gold_class_id IS NOT NULL AND split <> 'test'"
                  " ORDER BY id"
      : split == VETO_N_SPLITS ? "SELECT id FROM items ORDER BY id"
                               : "SELECT id FROM items WHERE split = ? ORDER BY id", error);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;

  if (stmt == NULL)
    return NULL;
  if (!with_gold && split != VETO_N_SPLITS)
    sqlite3_bind_text (stmt, 1, veto_split_to_string (split), -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);

      g_array_append_val (ids, id);
    }
  if (!rows_done (conn, rc, "reading items", error))
    return NULL;
  return g_steal_pointer (&ids);
}

static int
compare_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

/* Gold items outside the selection, n_anchors of them drawn uniformly, in id order. */
static GArray *
draw_anchors (Conn *conn, GArray *selected, guint n_anchors, guint64 seed, GError **error)
{
  g_autoptr (GArray) gold = select_item_ids (conn, VETO_N_SPLITS, TRUE, error);
  g_autoptr (GHashTable) taken = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr (GArray) outside = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GRand) rand = NULL;
  guint32 seed_words[2] = { (guint32) seed, (guint32) (seed >> 32) };

  if (gold == NULL)
    return NULL;
  for (guint i = 0; i < selected->len; i++)
    g_hash_table_add (taken, &g_array_index (selected, gint64, i));
  for (guint i = 0; i < gold->len; i++)
    if (!g_hash_table_contains (taken, &g_array_index (gold, gint64, i)))
      g_array_append_val (outside, g_array_index (gold, gint64, i));
  if (outside->len < n_anchors)
    {
      invalid (error, conn->display, "the anchor rate asks for %u anchors, but only %u items "
               "with a gold label lie outside the campaign's items and the test split (anchors "
               "never come from the test split: import gold items with --split validation)",
               n_anchors, outside->len);
      return NULL;
    }
  rand = g_rand_new_with_seed_array (seed_words, G_N_ELEMENTS (seed_words));
  for (guint i = 0; i < n_anchors; i++)
    {
      guint j = g_rand_int_range (rand, i, outside->len);
      gint64 t = g_array_index (outside, gint64, i);

      g_array_index (outside, gint64, i) = g_array_index (outside, gint64, j);
      g_array_index (outside, gint64, j) = t;
    }
  g_array_set_size (outside, n_anchors);
  g_array_sort (outside, compare_int64);
  return g_steal_pointer (&outside);
}

static gboolean
insert_campaign_items (Conn *conn, gint64 campaign, GArray *ids, gboolean anchor, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = conn_prepare (conn,
      "INSERT INTO campaign_items (campaign_id, item_id, anchor) VALUES (?, ?, ?)", error);

  if (stmt == NULL)
    return FALSE;
  for (guint i = 0; i < ids->len; i++)
    {
      sqlite3_reset (stmt);
      sqlite3_bind_int64 (stmt, 1, campaign);
      sqlite3_bind_int64 (stmt, 2, g_array_index (ids, gint64, i));
      sqlite3_bind_int (stmt, 3, anchor ? 1 : 0);
      if (!step_done (conn, stmt, "adding the campaign's items", error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
create_in_transaction (Conn *conn, const VetoCampaignSpec *spec, gint64 *out_id, GError **error)
{
  g_autoptr (VetoStoreStatement) find = conn_prepare (conn, "SELECT id FROM campaigns WHERE name = ?",
                                             error);
  g_autoptr (VetoStoreStatement) insert = NULL;
  g_autoptr (GArray) selected = NULL;
  g_autoptr (GArray) anchors = NULL;
  g_autofree char *now = now_iso ();
  guint n_anchors = 0;
  int rc;

  if (find == NULL)
    return FALSE;
  sqlite3_bind_text (find, 1, spec->name, -1, SQLITE_STATIC);
  rc = sqlite3_step (find);
  if (rc == SQLITE_ROW)
    {
      invalid (error, conn->display, "a campaign named \"%s\" exists already", spec->name);
      return FALSE;
    }
  if (!rows_done (conn, rc, "reading campaigns", error))
    return FALSE;
  selected = select_item_ids (conn, spec->split, FALSE, error);
  if (selected == NULL)
    return FALSE;
  if (spec->limit > selected->len)
    {
      invalid (error, conn->display, "%u items asked for, but the %s has only %u", spec->limit,
               spec->split == VETO_N_SPLITS ? "project" : veto_split_to_string (spec->split),
               selected->len);
      return FALSE;
    }
  if (spec->limit > 0)
    g_array_set_size (selected, spec->limit);
  if (selected->len == 0)
    {
      invalid (error, conn->display, "no items to collect answers for");
      return FALSE;
    }
  if (spec->anchor_rate > 0)
    {
      double wanted = spec->anchor_rate * selected->len / (1 - spec->anchor_rate);

      n_anchors = MAX (1, (guint) (wanted + 0.5));
      anchors = draw_anchors (conn, selected, n_anchors, spec->seed, error);
      if (anchors == NULL)
        return FALSE;
    }
  insert = conn_prepare (conn,
      "INSERT INTO campaigns (name, protocol, answers_per_item, n_candidates, anchor_rate, state,"
      " created_at) VALUES (?, ?, ?, ?, ?, 'open', ?)", error);
  if (insert == NULL)
    return FALSE;
  sqlite3_bind_text (insert, 1, spec->name, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 2, veto_answer_kind_to_string (spec->protocol), -1, SQLITE_STATIC);
  sqlite3_bind_int (insert, 3, spec->per_item);
  sqlite3_bind_int (insert, 4, spec->protocol == VETO_KIND_COMPLEMENTARY ? spec->n_candidates : 0);
  sqlite3_bind_double (insert, 5, spec->anchor_rate);
  sqlite3_bind_text (insert, 6, now, -1, SQLITE_STATIC);
  if (!step_done (conn, insert, "adding the campaign", error))
    return FALSE;
  *out_id = sqlite3_last_insert_rowid (conn->db);
  return insert_campaign_items (conn, *out_id, selected, FALSE, error)
         && (anchors == NULL || insert_campaign_items (conn, *out_id, anchors, TRUE, error));
}

gboolean
veto_store_campaign_create (VetoStore *store, const VetoCampaignSpec *spec, gint64 *out_id,
                            GError **error)
{
  g_autoptr (Conn) conn = conn_open (veto_store_get_path (store), TRUE, error);
  gint64 id = 0;

  if (conn == NULL || !check_spec (conn, spec, error)
      || !conn_exec (conn, "BEGIN IMMEDIATE", "starting to write", error))
    return FALSE;
  if (!create_in_transaction (conn, spec, &id, error)
      || !conn_exec (conn, "COMMIT", "saving the campaign", error))
    {
      conn_rollback (conn);
      return FALSE;
    }
  if (out_id)
    *out_id = id;
  return TRUE;
}

gboolean
veto_store_campaign_close (VetoStore *store, gint64 campaign, GError **error)
{
  g_autoptr (Conn) conn = conn_open (veto_store_get_path (store), TRUE, error);
  g_autoptr (VetoStoreStatement) stmt = NULL;
  g_autofree char *now = now_iso ();

  if (conn == NULL || !(stmt = conn_prepare (conn,
      "UPDATE campaigns SET state = 'closed', closed_at = ? WHERE id = ? AND state = 'open'",
      error)))
    return FALSE;
  sqlite3_bind_text (stmt, 1, now, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, campaign);
  if (!step_done (conn, stmt, "closing the campaign", error))
    return FALSE;
  if (sqlite3_changes (conn->db) != 1)
    {
      invalid (error, conn->display, "campaign %" G_GINT64_FORMAT " is unknown or closed already",
               campaign);
      return FALSE;
    }
  return TRUE;
}

GArray *
veto_store_campaign_list_items (VetoStore *store, gint64 campaign, GError **error)
{
  g_autoptr (Conn) conn = conn_borrow (store);
  g_autoptr (VetoStoreStatement) stmt = NULL;
  g_autoptr (GArray) items = g_array_new (FALSE, FALSE, sizeof (VetoCampaignItem));
  int rc;

  if (conn == NULL || !(stmt = conn_prepare (conn,
      "SELECT item_id, anchor FROM campaign_items WHERE campaign_id = ? ORDER BY item_id", error)))
    return NULL;
  sqlite3_bind_int64 (stmt, 1, campaign);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      VetoCampaignItem item = {
        .item = sqlite3_column_int64 (stmt, 0),
        .anchor = sqlite3_column_int (stmt, 1) != 0,
      };

      g_array_append_val (items, item);
    }
  if (!rows_done (conn, rc, "reading the campaign's items", error))
    return NULL;
  return g_steal_pointer (&items);
}

/* FNV-1a: a tie-break order of the annotator's own, the same on every machine. */
static guint32
name_salt (const char *name)
{
  guint32 h = 2166136261u;

  for (const guchar *p = (const guchar *) name; *p; p++)
    h = (h ^ *p) * 16777619u;
  return h;
}

GArray *
veto_store_campaign_next_items (VetoStore *store, gint64 campaign, gint64 annotator,
                                guint max_items, GError **error)
{
  /* Items whose standing answers number fewer than m and none of them by this annotator,
   * least-covered first; ties in the order of a multiplicative hash of the id, salted by the
   * annotator's name. */
  static const char sql[] =
    "SELECT ci.item_id, ci.anchor, COUNT(a.id) AS standing"
    " FROM campaign_items ci LEFT JOIN annotations a"
    "  ON a.campaign_id = ci.campaign_id AND a.item_id = ci.item_id AND a.undone = 0"
    " WHERE ci.campaign_id = ?"
    " GROUP BY ci.item_id, ci.anchor"
    " HAVING COUNT(a.id) < ?"
    "  AND SUM(CASE WHEN a.annotator_id = ? THEN 1 ELSE 0 END) = 0"
    " ORDER BY standing, (ci.item_id * 2654435761 + ?) % 4294967291, ci.item_id"
    " LIMIT ?";
  g_autoptr (Conn) conn = conn_borrow (store);
  g_autoptr (VetoCampaign) c = NULL;
  g_autoptr (VetoStoreStatement) who = NULL;
  g_autoptr (VetoStoreStatement) stmt = NULL;
  g_autoptr (GArray) items = g_array_new (FALSE, FALSE, sizeof (VetoCampaignItem));
  guint32 salt;
  int rc;

  if (conn == NULL || !(c = campaign_by (conn, "id = ?", campaign, NULL, error)))
    return NULL;
  if (c->closed)
    {
      invalid (error, conn->display, "campaign \"%s\" is closed", c->name);
      return NULL;
    }
  who = conn_prepare (conn, "SELECT name FROM annotators WHERE id = ?", error);
  if (who == NULL)
    return NULL;
  sqlite3_bind_int64 (who, 1, annotator);
  rc = sqlite3_step (who);
  if (rc != SQLITE_ROW)
    {
      if (rc == SQLITE_DONE)
        invalid (error, conn->display, "no annotator %" G_GINT64_FORMAT, annotator);
      else
        conn_error (conn, error, rc, "reading annotators");
      return NULL;
    }
  salt = name_salt (column_text (who, 0));
  stmt = conn_prepare (conn, sql, error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, campaign);
  sqlite3_bind_int (stmt, 2, c->per_item);
  sqlite3_bind_int64 (stmt, 3, annotator);
  sqlite3_bind_int64 (stmt, 4, salt);
  sqlite3_bind_int64 (stmt, 5, max_items);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      VetoCampaignItem item = {
        .item = sqlite3_column_int64 (stmt, 0),
        .anchor = sqlite3_column_int (stmt, 1) != 0,
      };

      g_array_append_val (items, item);
    }
  if (!rows_done (conn, rc, "choosing the next item", error))
    return NULL;
  return g_steal_pointer (&items);
}

gboolean
veto_store_campaign_next (VetoStore *store, gint64 campaign, gint64 annotator, gint64 *out_item,
                          gboolean *out_is_anchor, GError **error)
{
  g_autoptr (GArray) items = veto_store_campaign_next_items (store, campaign, annotator, 1,
                                                             error);

  *out_item = 0;
  if (out_is_anchor)
    *out_is_anchor = FALSE;
  if (items == NULL)
    return FALSE;
  if (items->len > 0)
    {
      *out_item = g_array_index (items, VetoCampaignItem, 0).item;
      if (out_is_anchor)
        *out_is_anchor = g_array_index (items, VetoCampaignItem, 0).anchor;
    }
  return TRUE;
}

static void
campaign_annotator_free (VetoCampaignAnnotator *a)
{
  g_free (a->name);
  g_free (a);
}

void
veto_campaign_coverage_clear (VetoCampaignCoverage *coverage)
{
  g_clear_pointer (&coverage->annotators, g_ptr_array_unref);
  memset (coverage, 0, sizeof *coverage);
}

static gboolean
coverage_read (Conn *conn, gint64 campaign, VetoCampaignCoverage *out_coverage, GError **error)
{
  g_autoptr (VetoCampaign) c = NULL;
  g_autoptr (VetoStoreStatement) items = NULL;
  g_autoptr (VetoStoreStatement) people = NULL;
  VetoCampaignCoverage cov = { 0 };
  int rc;

  if (!(c = campaign_by (conn, "id = ?", campaign, NULL, error)))
    return FALSE;
  items = conn_prepare (conn,
      "SELECT ci.anchor, COUNT(a.id) FROM campaign_items ci LEFT JOIN annotations a"
      " ON a.campaign_id = ci.campaign_id AND a.item_id = ci.item_id AND a.undone = 0"
      " WHERE ci.campaign_id = ? GROUP BY ci.item_id, ci.anchor", error);
  people = conn_prepare (conn,
      "SELECT n.name, n.kind, COUNT(*), SUM(CASE WHEN ci.anchor = 1 THEN 1 ELSE 0 END)"
      " FROM annotations a JOIN annotators n ON n.id = a.annotator_id"
      " LEFT JOIN campaign_items ci ON ci.campaign_id = a.campaign_id AND ci.item_id = a.item_id"
      " WHERE a.campaign_id = ? AND a.undone = 0 GROUP BY n.id, n.name, n.kind ORDER BY n.id",
      error);
  if (items == NULL || people == NULL)
    return FALSE;
  sqlite3_bind_int64 (items, 1, campaign);
  while ((rc = sqlite3_step (items)) == SQLITE_ROW)
    {
      guint answers = sqlite3_column_int (items, 1);

      cov.items++;
      cov.anchors += sqlite3_column_int (items, 0) != 0;
      cov.complete += answers >= c->per_item;
      cov.over += answers > c->per_item;
      cov.missing += answers < c->per_item ? c->per_item - answers : 0;
    }
  if (!rows_done (conn, rc, "reading the campaign", error))
    return FALSE;
  cov.annotators = g_ptr_array_new_with_free_func ((GDestroyNotify) campaign_annotator_free);
  sqlite3_bind_int64 (people, 1, campaign);
  while ((rc = sqlite3_step (people)) == SQLITE_ROW)
    {
      VetoCampaignAnnotator *a = g_new0 (VetoCampaignAnnotator, 1);
      const char *kind = column_text (people, 1);

      a->name = g_strdup (column_text (people, 0));
      a->kind = g_strcmp0 (kind, "simulated") == 0 ? VETO_ANNOTATOR_SIMULATED
                : g_strcmp0 (kind, "teacher") == 0 ? VETO_ANNOTATOR_TEACHER
                                                   : VETO_ANNOTATOR_HUMAN;
      a->answers = sqlite3_column_int (people, 2);
      a->anchor_answers = sqlite3_column_int (people, 3);
      cov.answers += a->answers;
      g_ptr_array_add (cov.annotators, a);
    }
  if (!rows_done (conn, rc, "reading the campaign", error))
    {
      veto_campaign_coverage_clear (&cov);
      return FALSE;
    }
  *out_coverage = cov;
  return TRUE;
}

gboolean
veto_store_campaign_coverage (VetoStore *store, gint64 campaign,
                              VetoCampaignCoverage *out_coverage, GError **error)
{
  g_autoptr (Conn) conn = conn_borrow (store);
  gboolean ok;

  /* Both queries see one snapshot; a savepoint works inside the store's transaction too. */
  if (!conn_exec (conn, "SAVEPOINT veto_coverage", "reading the campaign", error))
    return FALSE;
  ok = coverage_read (conn, campaign, out_coverage, error);
  sqlite3_exec (conn->db, "RELEASE veto_coverage", NULL, NULL, NULL);
  return ok;
}

/* --- merging --- */

void
veto_merge_report_clear (VetoMergeReport *report)
{
  g_clear_pointer (&report->conflicts, g_ptr_array_unref);
  memset (report, 0, sizeof *report);
}

typedef struct
{
  gint64 id;
  char *kind;
} TargetAnnotator;

typedef struct
{
  gint64 id;
  char *protocol;
  int per_item;
  int n_candidates;
  double anchor_rate;
  gboolean closed;
  GHashTable *items; /* target item id → anchor (GINT_TO_POINTER (1 + anchor)) */
} TargetCampaign;

typedef struct
{
  gint64 id;
  char *value;       /* what was answered, to tell a conflict from a repeat */
  gboolean undone;
  gboolean flagged;
} TargetAnswer;

static void
target_annotator_free (TargetAnnotator *a)
{
  g_free (a->kind);
  g_free (a);
}

static void
target_campaign_free (TargetCampaign *c)
{
  g_free (c->protocol);
  g_clear_pointer (&c->items, g_hash_table_unref);
  g_free (c);
}

static void
target_answer_free (TargetAnswer *a)
{
  g_free (a->value);
  g_free (a);
}

/* The target in its write transaction, and what it holds, keyed as sources are matched. */
typedef struct
{
  Conn *w;
  VetoMergeReport *report;
  GHashTable *classes;    /* name → gint64 id */
  GHashTable *items;      /* "sha256#occurrence" → gint64 id */
  GHashTable *gold;       /* item id → gold class id (items with one) */
  GHashTable *annotators; /* name → TargetAnnotator */
  GHashTable *campaigns;  /* name → TargetCampaign */
  GHashTable *answers;    /* answer key → TargetAnswer */
  VetoStoreStatement *insert_answer;
  VetoStoreStatement *insert_candidate;
} Merge;

/* One source being merged: its ids mapped onto the target's. */
typedef struct
{
  Conn *r;
  GHashTable *classes;   /* source class id → target class id */
  GHashTable *items;     /* source item id → target item id (0: the target lacks it) */
  GHashTable *labels;    /* source item id → "sha256 (copy k)" for messages */
  GHashTable *reported;  /* source item ids already reported missing */
  GHashTable *campaigns; /* source campaign id → target campaign id */
} Source;

static void conflict (Merge *m, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
conflict (Merge *m, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (m->report->conflicts, g_strdup_vprintf (format, args));
  va_end (args);
}

/* The question with its item ids replaced by the target's (left/right for preference), written
 * back the same way every time so that the same question always reads the same. */
static char *
question_for_target (const char *question, gint64 item, gint64 right_item)
{
  g_autoptr (JsonNode) node = json_from_string (question, NULL);
  JsonObject *object;

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return g_strdup (question);
  object = json_node_get_object (node);
  if (item > 0 && json_object_has_member (object, "item"))
    json_object_set_int_member (object, "item", item);
  if (item > 0 && json_object_has_member (object, "left"))
    json_object_set_int_member (object, "left", item);
  if (right_item > 0 && json_object_has_member (object, "right"))
    json_object_set_int_member (object, "right", right_item);
  return json_to_string (node, FALSE);
}

static char *
answer_key (const char *annotator, gint64 item, const char *kind, const char *answered_at,
            const char *question)
{
  return g_strdup_printf ("%s\x1f%" G_GINT64_FORMAT "\x1f%s\x1f%s\x1f%s", annotator, item, kind,
                          answered_at, question);
}

static char *
answer_value (const char *answer_class, const char *preferred, const char *soft,
              const char *campaign)
{
  return g_strdup_printf ("class %s, preferred %s, soft labels %s, campaign %s",
                          answer_class ? answer_class : "-", preferred ? preferred : "-",
                          soft ? soft : "-", campaign ? campaign : "-");
}

static gboolean
load_target (Merge *m, GError **error)
{
  g_autoptr (VetoStoreStatement) classes = conn_prepare (m->w, "SELECT id, name FROM classes", error);
  g_autoptr (VetoStoreStatement) items = conn_prepare (m->w,
      "SELECT id, sha256, gold_class_id FROM items ORDER BY sha256, id", error);
  g_autoptr (VetoStoreStatement) people = conn_prepare (m->w, "SELECT id, name, kind FROM annotators",
                                               error);
  g_autoptr (VetoStoreStatement) campaigns = conn_prepare (m->w,
      "SELECT id, name, protocol, answers_per_item, n_candidates, anchor_rate, state"
      " FROM campaigns", error);
  g_autoptr (VetoStoreStatement) members = conn_prepare (m->w,
      "SELECT item_id, anchor FROM campaign_items WHERE campaign_id = ?", error);
  g_autoptr (VetoStoreStatement) answers = conn_prepare (m->w,
      "SELECT a.id, n.name, a.item_id, a.right_item_id, a.kind, a.answered_at, a.question,"
      " c.name, a.preferred, a.soft_labels, p.name, a.undone, a.flagged"
      " FROM annotations a JOIN annotators n ON n.id = a.annotator_id"
      " LEFT JOIN classes c ON c.id = a.answer_class_id"
      " LEFT JOIN campaigns p ON p.id = a.campaign_id", error);
  g_autofree char *last_sha = NULL;
  guint occurrence = 0;
  int rc;

  if (!classes || !items || !people || !campaigns || !members || !answers)
    return FALSE;
  while ((rc = sqlite3_step (classes)) == SQLITE_ROW)
    g_hash_table_insert (m->classes, g_strdup (column_text (classes, 1)),
                         box_int64 (sqlite3_column_int64 (classes, 0)));
  if (!rows_done (m->w, rc, "reading classes", error))
    return FALSE;
  while ((rc = sqlite3_step (items)) == SQLITE_ROW)
    {
      const char *sha = column_text (items, 1);
      gint64 id = sqlite3_column_int64 (items, 0);

      occurrence = g_strcmp0 (sha, last_sha) == 0 ? occurrence + 1 : 0;
      g_free (last_sha);
      last_sha = g_strdup (sha);
      g_hash_table_insert (m->items, g_strdup_printf ("%s#%u", sha, occurrence), box_int64 (id));
      if (sqlite3_column_type (items, 2) != SQLITE_NULL)
        g_hash_table_insert (m->gold, box_int64 (id),
                             box_int64 (sqlite3_column_int64 (items, 2)));
    }
  if (!rows_done (m->w, rc, "reading items", error))
    return FALSE;
  while ((rc = sqlite3_step (people)) == SQLITE_ROW)
    {
      TargetAnnotator *a = g_new0 (TargetAnnotator, 1);

      a->id = sqlite3_column_int64 (people, 0);
      a->kind = g_strdup (column_text (people, 2));
      g_hash_table_insert (m->annotators, g_strdup (column_text (people, 1)), a);
    }
  if (!rows_done (m->w, rc, "reading annotators", error))
    return FALSE;
  while ((rc = sqlite3_step (campaigns)) == SQLITE_ROW)
    {
      TargetCampaign *c = g_new0 (TargetCampaign, 1);
      int mrc;

      c->id = sqlite3_column_int64 (campaigns, 0);
      c->protocol = g_strdup (column_text (campaigns, 2));
      c->per_item = sqlite3_column_int (campaigns, 3);
      c->n_candidates = sqlite3_column_int (campaigns, 4);
      c->anchor_rate = sqlite3_column_double (campaigns, 5);
      c->closed = g_strcmp0 (column_text (campaigns, 6), "closed") == 0;
      c->items = int64_table_new (NULL);
      g_hash_table_insert (m->campaigns, g_strdup (column_text (campaigns, 1)), c);
      sqlite3_reset (members);
      sqlite3_bind_int64 (members, 1, c->id);
      while ((mrc = sqlite3_step (members)) == SQLITE_ROW)
        g_hash_table_insert (c->items, box_int64 (sqlite3_column_int64 (members, 0)),
                             GINT_TO_POINTER (1 + sqlite3_column_int (members, 1)));
      if (!rows_done (m->w, mrc, "reading campaigns", error))
        return FALSE;
    }
  if (!rows_done (m->w, rc, "reading campaigns", error))
    return FALSE;
  while ((rc = sqlite3_step (answers)) == SQLITE_ROW)
    {
      TargetAnswer *a = g_new0 (TargetAnswer, 1);
      g_autofree char *question = question_for_target (column_text (answers, 6), 0, 0);

      a->id = sqlite3_column_int64 (answers, 0);
      a->value = answer_value (column_text (answers, 7), column_text (answers, 8),
                               column_text (answers, 9), column_text (answers, 10));
      a->undone = sqlite3_column_int (answers, 11) != 0;
      a->flagged = sqlite3_column_int (answers, 12) != 0;
      g_hash_table_insert (m->answers,
                           answer_key (column_text (answers, 1), sqlite3_column_int64 (answers, 2),
                                       column_text (answers, 4), column_text (answers, 5),
                                       question), a);
    }
  return rows_done (m->w, rc, "reading answers", error);
}

/* Maps the source's classes by name, adding the ones the target lacks. */
static gboolean
merge_classes (Merge *m, Source *s, GError **error)
{
  g_autoptr (VetoStoreStatement) read = conn_prepare (s->r,
      "SELECT id, name, description, novel, created_at FROM classes ORDER BY id", error);
  g_autoptr (VetoStoreStatement) insert = conn_prepare (m->w,
      "INSERT INTO classes (name, description, novel, created_at) VALUES (?, ?, ?, ?)", error);
  int rc;

  if (read == NULL || insert == NULL)
    return FALSE;
  while ((rc = sqlite3_step (read)) == SQLITE_ROW)
    {
      const char *name = column_text (read, 1);
      gint64 *id = g_hash_table_lookup (m->classes, name);

      if (id == NULL)
        {
          sqlite3_reset (insert);
          for (int i = 1; i <= 4; i++)
            sqlite3_bind_value (insert, i, sqlite3_column_value (read, i));
          if (!step_done (m->w, insert, "adding a class", error))
            return FALSE;
          id = box_int64 (sqlite3_last_insert_rowid (m->w->db));
          g_hash_table_insert (m->classes, g_strdup (name), id);
          m->report->classes_added++;
        }
      g_hash_table_insert (s->classes, box_int64 (sqlite3_column_int64 (read, 0)),
                           box_int64 (*id));
    }
  return rows_done (s->r, rc, "reading the source's classes", error);
}

static gint64
map_id (GHashTable *table, gint64 id)
{
  gint64 *mapped = g_hash_table_lookup (table, &id);

  return mapped ? *mapped : 0;
}

/* Pairs the source's items with the target's by (sha256, occurrence in id order). */
static gboolean
merge_items (Merge *m, Source *s, GError **error)
{
  g_autoptr (VetoStoreStatement) read = conn_prepare (s->r,
      "SELECT id, sha256, gold_class_id FROM items ORDER BY sha256, id", error);
  g_autofree char *last_sha = NULL;
  guint occurrence = 0;
  int rc;

  if (read == NULL)
    return FALSE;
  while ((rc = sqlite3_step (read)) == SQLITE_ROW)
    {
      const char *sha = column_text (read, 1);
      gint64 id = sqlite3_column_int64 (read, 0);
      g_autofree char *key = NULL;
      gint64 *target;

      occurrence = g_strcmp0 (sha, last_sha) == 0 ? occurrence + 1 : 0;
      g_free (last_sha);
      last_sha = g_strdup (sha);
      key = g_strdup_printf ("%s#%u", sha, occurrence);
      target = g_hash_table_lookup (m->items, key);
      g_hash_table_insert (s->items, box_int64 (id), box_int64 (target ? *target : 0));
      g_hash_table_insert (s->labels, box_int64 (id),
                           occurrence ? g_strdup_printf ("%s (copy %u)", sha, occurrence + 1)
                                      : g_strdup (sha));
      if (target && sqlite3_column_type (read, 2) != SQLITE_NULL)
        {
          gint64 source_gold = map_id (s->classes, sqlite3_column_int64 (read, 2));
          gint64 target_gold = map_id (m->gold, *target);

          if (target_gold && target_gold != source_gold)
            conflict (m, "%s: item %s has another gold label than in the target",
                      s->r->display, sha);
        }
    }
  return rows_done (s->r, rc, "reading the source's items", error);
}

/* The target id of a source item, or 0 after reporting (once per item) that the target lacks
 * an item the source uses. */
static gint64
used_item (Merge *m, Source *s, gint64 source_id)
{
  gint64 id = map_id (s->items, source_id);

  if (id == 0 && !g_hash_table_contains (s->reported, &source_id))
    {
      g_hash_table_add (s->reported, box_int64 (source_id));
      conflict (m, "%s: item %s is answered or in a campaign there, but the target has no such "
                "item", s->r->display,
                (const char *) g_hash_table_lookup (s->labels, &source_id));
    }
  return id;
}

static gboolean
merge_annotators (Merge *m, Source *s, GError **error)
{
  g_autoptr (VetoStoreStatement) read = conn_prepare (s->r,
      "SELECT name, kind, created_at FROM annotators ORDER BY id", error);
  g_autoptr (VetoStoreStatement) insert = conn_prepare (m->w,
      "INSERT INTO annotators (name, kind, created_at) VALUES (?, ?, ?)", error);
  int rc;

  if (read == NULL || insert == NULL)
    return FALSE;
  while ((rc = sqlite3_step (read)) == SQLITE_ROW)
    {
      const char *name = column_text (read, 0);
      const char *kind = column_text (read, 1);
      TargetAnnotator *a = g_hash_table_lookup (m->annotators, name);

      if (a && g_strcmp0 (a->kind, kind) != 0)
        conflict (m, "%s: annotator \"%s\" is %s there but %s in the target", s->r->display,
                  name, kind, a->kind);
      if (a)
        continue;
      sqlite3_reset (insert);
      for (int i = 0; i < 3; i++)
        sqlite3_bind_value (insert, i + 1, sqlite3_column_value (read, i));
      if (!step_done (m->w, insert, "adding an annotator", error))
        return FALSE;
      a = g_new0 (TargetAnnotator, 1);
      a->id = sqlite3_last_insert_rowid (m->w->db);
      a->kind = g_strdup (kind);
      g_hash_table_insert (m->annotators, g_strdup (name), a);
      m->report->annotators_added++;
    }
  return rows_done (s->r, rc, "reading the source's annotators", error);
}

/* A source campaign's items as target ids → GINT_TO_POINTER (1 + anchor). */
static GHashTable *
source_campaign_items (Merge *m, Source *s, gint64 campaign, GError **error)
{
  g_autoptr (VetoStoreStatement) read = conn_prepare (s->r,
      "SELECT item_id, anchor FROM campaign_items WHERE campaign_id = ?", error);
  g_autoptr (GHashTable) items = int64_table_new (NULL);
  int rc;

  if (read == NULL)
    return NULL;
  sqlite3_bind_int64 (read, 1, campaign);
  while ((rc = sqlite3_step (read)) == SQLITE_ROW)
    {
      gint64 id = used_item (m, s, sqlite3_column_int64 (read, 0));

      if (id)
        g_hash_table_insert (items, box_int64 (id),
                             GINT_TO_POINTER (1 + sqlite3_column_int (read, 1)));
    }
  if (!rows_done (s->r, rc, "reading the source's campaigns", error))
    return NULL;
  return g_steal_pointer (&items);
}

static void
compare_campaign_items (Merge *m, Source *s, const char *name, GHashTable *theirs,
                        GHashTable *ours)
{
  GHashTableIter iter;
  gpointer key, value;
  guint only_theirs = 0, only_ours = 0, anchors_differ = 0;

  g_hash_table_iter_init (&iter, theirs);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      gpointer mine = g_hash_table_lookup (ours, key);

      only_theirs += mine == NULL;
      anchors_differ += mine && mine != value;
    }
  g_hash_table_iter_init (&iter, ours);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    only_ours += !g_hash_table_contains (theirs, key);
  if (only_theirs || only_ours || anchors_differ)
    conflict (m, "%s: campaign \"%s\" has other items than in the target (%u only there, %u "
              "only in the target, %u anchors differ)", s->r->display, name, only_theirs,
              only_ours, anchors_differ);
}

static gboolean
add_campaign (Merge *m, sqlite3_stmt *read, GHashTable *items, TargetCampaign **out_campaign,
              GError **error)
{
  g_autoptr (VetoStoreStatement) insert = conn_prepare (m->w,
      "INSERT INTO campaigns (name, protocol, answers_per_item, n_candidates, anchor_rate, state,"
      " created_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", error);
  g_autoptr (VetoStoreStatement) member = conn_prepare (m->w,
      "INSERT INTO campaign_items (campaign_id, item_id, anchor) VALUES (?, ?, ?)", error);
  TargetCampaign *c = g_new0 (TargetCampaign, 1);
  GHashTableIter iter;
  gpointer key, value;

  c->protocol = g_strdup (column_text (read, 2));
  c->per_item = sqlite3_column_int (read, 3);
  c->n_candidates = sqlite3_column_int (read, 4);
  c->anchor_rate = sqlite3_column_double (read, 5);
  c->closed = g_strcmp0 (column_text (read, 6), "closed") == 0;
  c->items = g_hash_table_ref (items);
  g_hash_table_insert (m->campaigns, g_strdup (column_text (read, 1)), c);
  *out_campaign = c;
  if (insert == NULL || member == NULL)
    return FALSE;
  for (int i = 1; i <= 8; i++)
    sqlite3_bind_value (insert, i, sqlite3_column_value (read, i));
  if (!step_done (m->w, insert, "adding a campaign", error))
    return FALSE;
  c->id = sqlite3_last_insert_rowid (m->w->db);
  g_hash_table_iter_init (&iter, items);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      sqlite3_reset (member);
      sqlite3_bind_int64 (member, 1, c->id);
      sqlite3_bind_int64 (member, 2, *(gint64 *) key);
      sqlite3_bind_int (member, 3, GPOINTER_TO_INT (value) - 1);
      if (!step_done (m->w, member, "adding a campaign's items", error))
        return FALSE;
    }
  m->report->campaigns_added++;
  return TRUE;
}

static gboolean
merge_campaigns (Merge *m, Source *s, GError **error)
{
  g_autoptr (VetoStoreStatement) read = conn_prepare (s->r,
      "SELECT id, name, protocol, answers_per_item, n_candidates, anchor_rate, state, created_at,"
      " closed_at FROM campaigns ORDER BY id", error);
  g_autoptr (VetoStoreStatement) closing = conn_prepare (m->w,
      "UPDATE campaigns SET state = 'closed', closed_at = ? WHERE id = ?", error);
  int rc;

  if (read == NULL || closing == NULL)
    return FALSE;
  while ((rc = sqlite3_step (read)) == SQLITE_ROW)
    {
      const char *name = column_text (read, 1);
      TargetCampaign *c = g_hash_table_lookup (m->campaigns, name);
      g_autoptr (GHashTable) items = source_campaign_items (m, s, sqlite3_column_int64 (read, 0),
                                                           error);

      if (items == NULL)
        return FALSE;
      if (c == NULL)
        {
          if (!add_campaign (m, read, items, &c, error))
            return FALSE;
        }
      else if (g_strcmp0 (c->protocol, column_text (read, 2)) != 0
               || c->per_item != sqlite3_column_int (read, 3)
               || c->n_candidates != sqlite3_column_int (read, 4)
               || c->anchor_rate != sqlite3_column_double (read, 5))
        conflict (m, "%s: campaign \"%s\" has another protocol, answers per item, candidates or "
                  "anchor rate than in the target", s->r->display, name);
      else
        compare_campaign_items (m, s, name, items, c->items);
      if (!c->closed && g_strcmp0 (column_text (read, 6), "closed") == 0)
        {
          sqlite3_reset (closing);
          sqlite3_bind_value (closing, 1, sqlite3_column_value (read, 8));
          sqlite3_bind_int64 (closing, 2, c->id);
          if (!step_done (m->w, closing, "closing a campaign", error))
            return FALSE;
          c->closed = TRUE;
          m->report->campaigns_closed++;
        }
      g_hash_table_insert (s->campaigns, box_int64 (sqlite3_column_int64 (read, 0)),
                           box_int64 (c->id));
    }
  return rows_done (s->r, rc, "reading the source's campaigns", error);
}

enum
{
  A_ID, A_ITEM, A_RIGHT, A_ANNOTATOR, A_KIND, A_CLASS, A_CLASS_NAME, A_CRITERION, A_PREFERRED,
  A_SOFT, A_QUESTION, A_STRATEGY, A_SCORE, A_CAMPAIGN, A_CAMPAIGN_NAME, A_SHOWN, A_ANSWERED,
  A_UNDONE, A_UNDONE_AT, A_FLAGGED,
};

static gboolean
insert_answer (Merge *m, Source *s, sqlite3_stmt *read, sqlite3_stmt *shown, gint64 item,
               gint64 right, const char *question, const TargetAnnotator *who, gint64 *out_id,
               GError **error)
{
  sqlite3_stmt *ins = m->insert_answer;
  int rc;

  sqlite3_reset (ins);
  sqlite3_clear_bindings (ins);
  sqlite3_bind_int64 (ins, 1, item);
  sqlite3_bind_int64 (ins, 2, who->id);
  sqlite3_bind_value (ins, 3, sqlite3_column_value (read, A_KIND));
  if (sqlite3_column_type (read, A_CLASS) != SQLITE_NULL)
    sqlite3_bind_int64 (ins, 4, map_id (s->classes, sqlite3_column_int64 (read, A_CLASS)));
  if (right)
    sqlite3_bind_int64 (ins, 5, right);
  sqlite3_bind_value (ins, 6, sqlite3_column_value (read, A_CRITERION));
  sqlite3_bind_value (ins, 7, sqlite3_column_value (read, A_PREFERRED));
  sqlite3_bind_value (ins, 8, sqlite3_column_value (read, A_SOFT));
  sqlite3_bind_text (ins, 9, question, -1, SQLITE_STATIC);
  sqlite3_bind_value (ins, 10, sqlite3_column_value (read, A_STRATEGY));
  sqlite3_bind_value (ins, 11, sqlite3_column_value (read, A_SCORE));
  if (sqlite3_column_type (read, A_CAMPAIGN) != SQLITE_NULL)
    sqlite3_bind_int64 (ins, 12, map_id (s->campaigns, sqlite3_column_int64 (read, A_CAMPAIGN)));
  sqlite3_bind_value (ins, 13, sqlite3_column_value (read, A_SHOWN));
  sqlite3_bind_value (ins, 14, sqlite3_column_value (read, A_ANSWERED));
  sqlite3_bind_value (ins, 15, sqlite3_column_value (read, A_UNDONE));
  sqlite3_bind_value (ins, 16, sqlite3_column_value (read, A_UNDONE_AT));
  sqlite3_bind_value (ins, 17, sqlite3_column_value (read, A_FLAGGED));
  if (!step_done (m->w, ins, "adding an answer", error))
    return FALSE;
  *out_id = sqlite3_last_insert_rowid (m->w->db);
  sqlite3_reset (shown);
  sqlite3_bind_int64 (shown, 1, sqlite3_column_int64 (read, A_ID));
  while ((rc = sqlite3_step (shown)) == SQLITE_ROW)
    {
      sqlite3_stmt *cand = m->insert_candidate;

      sqlite3_reset (cand);
      sqlite3_bind_int64 (cand, 1, *out_id);
      sqlite3_bind_int (cand, 2, sqlite3_column_int (shown, 0));
      sqlite3_bind_int64 (cand, 3, map_id (s->classes, sqlite3_column_int64 (shown, 1)));
      if (!step_done (m->w, cand, "adding the candidates shown", error))
        return FALSE;
    }
  return rows_done (s->r, rc, "reading the source's candidates", error);
}

/* Carries an undo or a flag made on the source's copy of an answer both hold. */
static gboolean
carry_marks (Merge *m, sqlite3_stmt *read, TargetAnswer *mine, GError **error)
{
  gboolean undone = sqlite3_column_int (read, A_UNDONE) != 0;
  gboolean flagged = sqlite3_column_int (read, A_FLAGGED) != 0;
  g_autoptr (VetoStoreStatement) update = NULL;

  if ((!undone || mine->undone) && (!flagged || mine->flagged))
    return TRUE;
  update = conn_prepare (m->w,
      "UPDATE annotations SET undone = ?, undone_at = COALESCE(undone_at, ?), flagged = ?"
      " WHERE id = ?", error);
  if (update == NULL)
    return FALSE;
  mine->undone |= undone;
  mine->flagged |= flagged;
  sqlite3_bind_int (update, 1, mine->undone);
  if (undone)
    sqlite3_bind_value (update, 2, sqlite3_column_value (read, A_UNDONE_AT));
  sqlite3_bind_int (update, 3, mine->flagged);
  sqlite3_bind_int64 (update, 4, mine->id);
  if (!step_done (m->w, update, "marking an answer", error))
    return FALSE;
  m->report->undos_added++;
  return TRUE;
}

static gboolean
merge_answers (Merge *m, Source *s, GError **error)
{
  g_autoptr (VetoStoreStatement) read = conn_prepare (s->r,
      "SELECT a.id, a.item_id, a.right_item_id, n.name, a.kind, a.answer_class_id, c.name,"
      " a.criterion, a.preferred, a.soft_labels, a.question, a.strategy, a.score, a.campaign_id,"
      " p.name, a.shown_at, a.answered_at, a.undone, a.undone_at, a.flagged"
      " FROM annotations a JOIN annotators n ON n.id = a.annotator_id"
      " LEFT JOIN classes c ON c.id = a.answer_class_id"
      " LEFT JOIN campaigns p ON p.id = a.campaign_id ORDER BY a.answered_at, a.id", error);
  g_autoptr (VetoStoreStatement) shown = conn_prepare (s->r,
      "SELECT position, class_id FROM annotation_candidates WHERE annotation_id = ?"
      " ORDER BY position", error);
  int rc;

  if (read == NULL || shown == NULL)
    return FALSE;
  while ((rc = sqlite3_step (read)) == SQLITE_ROW)
    {
      gboolean preference = sqlite3_column_type (read, A_RIGHT) != SQLITE_NULL;
      gint64 source_item = sqlite3_column_int64 (read, A_ITEM);
      gint64 item = used_item (m, s, source_item);
      gint64 right = preference ? used_item (m, s, sqlite3_column_int64 (read, A_RIGHT)) : 0;
      const char *name = column_text (read, A_ANNOTATOR);
      g_autofree char *question = NULL;
      g_autofree char *key = NULL;
      g_autofree char *value = NULL;
      TargetAnswer *mine;

      if (item == 0 || (preference && right == 0))
        continue;
      question = question_for_target (column_text (read, A_QUESTION), item, right);
      key = answer_key (name, item, column_text (read, A_KIND), column_text (read, A_ANSWERED),
                        question);
      value = answer_value (column_text (read, A_CLASS_NAME), column_text (read, A_PREFERRED),
                            column_text (read, A_SOFT), column_text (read, A_CAMPAIGN_NAME));
      mine = g_hash_table_lookup (m->answers, key);
      if (mine && g_strcmp0 (mine->value, value) != 0)
        conflict (m, "%s: the answer of %s at %s on item %s differs (there: %s; in the target: "
                  "%s)", s->r->display, name, column_text (read, A_ANSWERED),
                  (const char *) g_hash_table_lookup (s->labels, &source_item), value,
                  mine->value);
      else if (mine)
        {
          m->report->answers_present++;
          if (!carry_marks (m, read, mine, error))
            return FALSE;
        }
      else
        {
          TargetAnswer *added = g_new0 (TargetAnswer, 1);

          added->value = g_steal_pointer (&value);
          added->undone = sqlite3_column_int (read, A_UNDONE) != 0;
          added->flagged = sqlite3_column_int (read, A_FLAGGED) != 0;
          g_hash_table_insert (m->answers, g_steal_pointer (&key), added);
          if (!insert_answer (m, s, read, shown, item, right, question,
                              g_hash_table_lookup (m->annotators, name), &added->id, error))
            return FALSE;
          m->report->answers_added++;
        }
    }
  return rows_done (s->r, rc, "reading the source's answers", error);
}

static gboolean
same_file (const char *a, const char *b)
{
  GStatBuf sa, sb;

  return g_stat (a, &sa) == 0 && g_stat (b, &sb) == 0 && sa.st_dev == sb.st_dev
         && sa.st_ino == sb.st_ino;
}

static gboolean
merge_source (Merge *m, VetoStore *source, GError **error)
{
  g_autoptr (Conn) r = conn_open (veto_store_get_path (source), FALSE, error);
  Source s = { 0 };
  gboolean ok;

  if (r == NULL || !conn_exec (r, "BEGIN", "reading the source", error))
    return FALSE;
  s.r = r;
  s.classes = int64_table_new (g_free);
  s.items = int64_table_new (g_free);
  s.labels = int64_table_new (g_free);
  s.reported = int64_table_new (NULL);
  s.campaigns = int64_table_new (g_free);
  ok = merge_classes (m, &s, error) && merge_items (m, &s, error)
       && merge_annotators (m, &s, error) && merge_campaigns (m, &s, error)
       && merge_answers (m, &s, error);
  if (ok)
    {
      GHashTableIter iter;
      gpointer key, value;

      /* Items the target lacks that nothing uses do not stop a merge: they are counted. */
      g_hash_table_iter_init (&iter, s.items);
      while (g_hash_table_iter_next (&iter, &key, &value))
        m->report->items_unused += *(gint64 *) value == 0 && !g_hash_table_contains (s.reported,
                                                                                     key);
    }
  conn_rollback (r);
  g_hash_table_unref (s.classes);
  g_hash_table_unref (s.items);
  g_hash_table_unref (s.labels);
  g_hash_table_unref (s.reported);
  g_hash_table_unref (s.campaigns);
  return ok;
}

static gboolean
count_over (Merge *m, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = conn_prepare (m->w,
      "SELECT COUNT(*) FROM (SELECT ci.item_id FROM campaign_items ci"
      " JOIN campaigns c ON c.id = ci.campaign_id"
      " JOIN annotations a ON a.campaign_id = ci.campaign_id AND a.item_id = ci.item_id"
      "  AND a.undone = 0"
      " GROUP BY ci.campaign_id, ci.item_id, c.answers_per_item"
      " HAVING COUNT(*) > c.answers_per_item) AS over_covered", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      conn_error (m->w, error, rc, "counting answers");
      return FALSE;
    }
  m->report->items_over = sqlite3_column_int (stmt, 0);
  return TRUE;
}

static gboolean
merge_all (Merge *m, VetoStore *const *sources, guint n_sources, GError **error)
{
  m->insert_answer = conn_prepare (m->w,
      "INSERT INTO annotations (item_id, annotator_id, kind, answer_class_id, right_item_id,"
      " criterion, preferred, soft_labels, question, model_version, strategy, score, campaign_id,"
      " shown_at, answered_at, undone, undone_at, flagged)"
      " VALUES (?,?,?,?,?,?,?,?,?,NULL,?,?,?,?,?,?,?,?)", error);
  m->insert_candidate = conn_prepare (m->w,
      "INSERT INTO annotation_candidates (annotation_id, position, class_id) VALUES (?,?,?)",
      error);
  if (m->insert_answer == NULL || m->insert_candidate == NULL || !load_target (m, error))
    return FALSE;
  for (guint i = 0; i < n_sources; i++)
    if (!merge_source (m, sources[i], error))
      return FALSE;
  return count_over (m, error);
}

gboolean
veto_store_merge (VetoStore *store, VetoStore *const *sources, guint n_sources,
                  VetoMergeReport *out_report, GError **error)
{
  g_autoptr (Conn) w = NULL;
  Merge m = { 0 };
  gboolean ok;

  memset (out_report, 0, sizeof *out_report);
  out_report->conflicts = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < n_sources; i++)
    if (same_file (veto_store_get_path (store), veto_store_get_path (sources[i])))
      {
        g_autofree char *display = g_filename_display_name (veto_store_get_path (sources[i]));

        invalid (error, display, "is the project being merged into");
        return FALSE;
      }
  w = conn_open (veto_store_get_path (store), TRUE, error);
  if (w == NULL || !conn_exec (w, "BEGIN IMMEDIATE", "starting to write", error))
    return FALSE;
  m.w = w;
  m.report = out_report;
  m.classes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  m.items = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  m.gold = int64_table_new (g_free);
  m.annotators = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) target_annotator_free);
  m.campaigns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) target_campaign_free);
  m.answers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                     (GDestroyNotify) target_answer_free);
  ok = merge_all (&m, sources, n_sources, error);
  if (ok && out_report->conflicts->len > 0)
    {
      invalid (error, w->display, "%u conflicts: nothing was merged", out_report->conflicts->len);
      ok = FALSE;
    }
  sqlite3_finalize (m.insert_answer);
  sqlite3_finalize (m.insert_candidate);
  g_hash_table_unref (m.classes);
  g_hash_table_unref (m.items);
  g_hash_table_unref (m.gold);
  g_hash_table_unref (m.annotators);
  g_hash_table_unref (m.campaigns);
  g_hash_table_unref (m.answers);
  if (ok)
    ok = conn_exec (w, "COMMIT", "saving the merge", error);
  if (!ok)
    conn_rollback (w);
  return ok;
}
