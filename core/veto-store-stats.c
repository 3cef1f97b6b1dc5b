/* veto-store-stats: the read-only queries behind the gallery and the dashboard. */
#include "veto-store.h"
#include "veto-store-private.h"

#include <math.h>
#include <sqlite3.h>

/* Statistics read through the store's own connection (on the store's thread): they see what
 * its holder has written, committed or not. */
typedef struct
{
  sqlite3 *db;
  char *display;
} Reader;

static void
reader_free (Reader *reader)
{
  g_free (reader->display);
  g_free (reader);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (Reader, reader_free)

static void
set_error (Reader *reader, GError **error, int rc, const char *doing)
{
  veto_store_set_sqlite_error (reader->db, reader->display, rc, doing, error);
}

static Reader *
reader_open (VetoStore *store, GError **error)
{
  Reader *reader = g_new0 (Reader, 1);

  reader->db = veto_store_get_db (store);
  reader->display = g_filename_display_name (veto_store_get_path (store));
  return reader;
}

static sqlite3_stmt *
reader_prepare (Reader *reader, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (reader->db, sql, -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    {
      set_error (reader, error, rc, "reading the project");
      sqlite3_finalize (stmt);
      return NULL;
    }
  return stmt;
}

static char *
column_text (sqlite3_stmt *stmt, int column)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, column));
}

GArray *
veto_store_list_item_answers (VetoStore *store, GError **error)
{
  g_autoptr (Reader) reader = reader_open (store, error);
  g_autoptr (VetoStoreStatement) stmt = NULL;
  g_autoptr (GArray) answers = g_array_new (FALSE, FALSE, sizeof (VetoItemAnswer));
  int rc;

  if (reader == NULL)
    return NULL;
  /* A preference answer is about both of its items. */
  stmt = reader_prepare (reader,
      "SELECT item, kind, answer_class, id FROM ("
      "  SELECT item_id AS item, kind, answer_class_id AS answer_class, id"
      "  FROM annotations WHERE undone = 0"
      "  UNION ALL"
      "  SELECT right_item_id AS item, kind, answer_class_id AS answer_class, id"
      "  FROM annotations WHERE undone = 0 AND right_item_id IS NOT NULL"
      ") ORDER BY item, id", error);
  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      VetoItemAnswer answer = { 0 };

      answer.item = sqlite3_column_int64 (stmt, 0);
      if (!veto_answer_kind_from_string ((const char *) sqlite3_column_text (stmt, 1),
                                         &answer.kind))
        continue;
      answer.answer_class = sqlite3_column_int64 (stmt, 2);
      g_array_append_val (answers, answer);
    }
  if (rc != SQLITE_DONE)
    {
      set_error (reader, error, rc, "reading answers");
      return NULL;
    }
  return g_steal_pointer (&answers);
}

GPtrArray *
veto_store_list_item_annotations (VetoStore *store, gint64 item, GError **error)
{
  g_autoptr (Reader) reader = reader_open (store, error);
  g_autoptr (VetoStoreStatement) stmt = NULL;
  g_autoptr (VetoStoreStatement) cand = NULL;
  g_autoptr (GPtrArray) list = NULL;
  int rc;

  if (reader == NULL)
    return NULL;
  stmt = reader_prepare (reader,
      "SELECT a.id, a.kind, a.item_id, i.sha256, n.name, n.kind, c.name, a.right_item_id,"
      " a.criterion, a.preferred, a.soft_labels, a.question, a.model_version, a.strategy,"
      " a.score, a.campaign_id, a.shown_at, a.answered_at, a.undone, a.flagged"
      " FROM annotations a JOIN items i ON i.id = a.item_id"
      " JOIN annotators n ON n.id = a.annotator_id"
      " LEFT JOIN classes c ON c.id = a.answer_class_id"
      " WHERE a.item_id = ? OR a.right_item_id = ? ORDER BY a.id", error);
  cand = reader_prepare (reader,
      "SELECT c.name FROM annotation_candidates ac JOIN classes c ON c.id = ac.class_id"
      " WHERE ac.annotation_id = ? ORDER BY ac.position", error);
  if (stmt == NULL || cand == NULL)
    return NULL;
  list = g_ptr_array_new_with_free_func ((GDestroyNotify) veto_annotation_free);
  sqlite3_bind_int64 (stmt, 1, item);
  sqlite3_bind_int64 (stmt, 2, item);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      VetoAnnotation *a = g_new0 (VetoAnnotation, 1);

      g_ptr_array_add (list, a);
      a->id = sqlite3_column_int64 (stmt, 0);
      veto_answer_kind_from_string ((const char *) sqlite3_column_text (stmt, 1), &a->kind);
      a->item = sqlite3_column_int64 (stmt, 2);
      a->item_sha256 = column_text (stmt, 3);
      a->annotator = column_text (stmt, 4);
      a->annotator_kind = column_text (stmt, 5);
      a->answer_class = column_text (stmt, 6);
      a->right_item = sqlite3_column_int64 (stmt, 7);
      a->criterion = column_text (stmt, 8);
      a->preferred = column_text (stmt, 9);
      a->soft_json = column_text (stmt, 10);
      a->question_json = column_text (stmt, 11);
      a->model_version = sqlite3_column_int64 (stmt, 12);
      a->strategy = column_text (stmt, 13);
      a->score = sqlite3_column_type (stmt, 14) == SQLITE_NULL ? NAN
                                                               : sqlite3_column_double (stmt, 14);
      a->campaign = sqlite3_column_int64 (stmt, 15);
      a->shown_at = column_text (stmt, 16);
      a->answered_at = column_text (stmt, 17);
      a->undone = sqlite3_column_int (stmt, 18) != 0;
      a->flagged = sqlite3_column_int (stmt, 19) != 0;
      a->candidates = g_ptr_array_new_with_free_func (g_free);
      sqlite3_reset (cand);
      sqlite3_bind_int64 (cand, 1, a->id);
      while ((rc = sqlite3_step (cand)) == SQLITE_ROW)
        g_ptr_array_add (a->candidates, column_text (cand, 0));
      if (rc != SQLITE_DONE)
        break;
    }
  if (rc != SQLITE_DONE)
    {
      set_error (reader, error, rc, "reading the answers of an item");
      return NULL;
    }
  return g_steal_pointer (&list);
}

void
veto_round_info_free (VetoRoundInfo *round)
{
  if (round == NULL)
    return;
  g_free (round->model);
  g_free (round->metrics_json);
  g_free (round->trained_at);
  g_free (round);
}

GPtrArray *
veto_store_list_rounds (VetoStore *store, GError **error)
{
  g_autoptr (Reader) reader = reader_open (store, error);
  g_autoptr (VetoStoreStatement) stmt = NULL;
  g_autoptr (GPtrArray) rounds = NULL;
  int rc;

  if (reader == NULL)
    return NULL;
  stmt = reader_prepare (reader,
      "SELECT version, model, train_size, metrics, seconds, trained_at FROM rounds"
      " ORDER BY version", error);
  if (stmt == NULL)
    return NULL;
  rounds = g_ptr_array_new_with_free_func ((GDestroyNotify) veto_round_info_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      VetoRoundInfo *round = g_new0 (VetoRoundInfo, 1);

      round->version = sqlite3_column_int64 (stmt, 0);
      round->model = column_text (stmt, 1);
      round->train_size = sqlite3_column_int64 (stmt, 2);
      round->metrics_json = column_text (stmt, 3);
      round->seconds = sqlite3_column_double (stmt, 4);
      round->trained_at = column_text (stmt, 5);
      g_ptr_array_add (rounds, round);
    }
  if (rc != SQLITE_DONE)
    {
      set_error (reader, error, rc, "reading the rounds");
      return NULL;
    }
  return g_steal_pointer (&rounds);
}

GArray *
veto_store_list_complementary_gold (VetoStore *store, GError **error)
{
  g_autoptr (Reader) reader = reader_open (store, error);
  g_autoptr (VetoStoreStatement) stmt = NULL;
  g_autoptr (GArray) pairs = g_array_new (FALSE, FALSE, sizeof (VetoGoldAnswer));
  int rc;

  if (reader == NULL)
    return NULL;
  stmt = reader_prepare (reader,
      "SELECT i.gold_class_id, a.answer_class_id FROM annotations a"
      " JOIN items i ON i.id = a.item_id"
      " WHERE a.kind = 'complementary' AND a.undone = 0"
      " AND i.gold_class_id IS NOT NULL AND a.answer_class_id IS NOT NULL"
      " ORDER BY a.id", error);
  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      VetoGoldAnswer pair;

      pair.gold_class = sqlite3_column_int64 (stmt, 0);
      pair.answer_class = sqlite3_column_int64 (stmt, 1);
      g_array_append_val (pairs, pair);
    }
  if (rc != SQLITE_DONE)
    {
      set_error (reader, error, rc, "reading complementary answers");
      return NULL;
    }
  return g_steal_pointer (&pairs);
}

void
veto_annotator_stats_free (VetoAnnotatorStats *stats)
{
  if (stats == NULL)
    return;
  g_free (stats->name);
  g_free (stats);
}

GPtrArray *
veto_store_list_annotator_stats (VetoStore *store, GError **error)
{
  g_autoptr (Reader) reader = reader_open (store, error);
  g_autoptr (VetoStoreStatement) stmt = NULL;
  g_autoptr (GPtrArray) list = NULL;
  int rc;

  if (reader == NULL)
    return NULL;
  /* julianday() reads the ISO 8601 times the store writes; it is SQLite's, hence kept here. */
  stmt = reader_prepare (reader,
      "SELECT n.name, n.kind, COUNT(a.id),"
      " AVG(CASE WHEN a.shown_at IS NOT NULL"
      "     THEN (julianday (a.answered_at) - julianday (a.shown_at)) * 86400.0 END)"
      " FROM annotators n"
      " LEFT JOIN annotations a ON a.annotator_id = n.id AND a.undone = 0"
      " GROUP BY n.id, n.name, n.kind ORDER BY n.id", error);
  if (stmt == NULL)
    return NULL;
  list = g_ptr_array_new_with_free_func ((GDestroyNotify) veto_annotator_stats_free);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      VetoAnnotatorStats *stats = g_new0 (VetoAnnotatorStats, 1);
      const char *kind = (const char *) sqlite3_column_text (stmt, 1);

      stats->name = column_text (stmt, 0);
      stats->kind = VETO_ANNOTATOR_HUMAN;
      for (VetoAnnotatorKind k = VETO_ANNOTATOR_HUMAN; k <= VETO_ANNOTATOR_TEACHER; k++)
        if (g_strcmp0 (kind, veto_annotator_kind_to_string (k)) == 0)
          stats->kind = k;
      stats->answers = sqlite3_column_int64 (stmt, 2);
      stats->mean_seconds = sqlite3_column_type (stmt, 3) == SQLITE_NULL
                                ? NAN
                                : sqlite3_column_double (stmt, 3);
      g_ptr_array_add (list, stats);
    }
  if (rc != SQLITE_DONE)
    {
      set_error (reader, error, rc, "reading annotators");
      return NULL;
    }
  return g_steal_pointer (&list);
}
