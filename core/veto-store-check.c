/* veto-store-check: a project file is untrusted input: hardened connections, its schema and rows checked. */
#include "veto-store.h"
#include "veto-store-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

#include "veto-image.h"
#include "veto-json.h"

void
veto_store_problem_free (VetoStoreProblem *problem)
{
  if (problem == NULL)
    return;
  g_free (problem->table);
  g_free (problem->problem);
  g_free (problem);
}

gboolean
veto_store_harden (sqlite3 *db, const char *display, GError **error)
{
  /* Nothing in a file may run code of its own or bend SQLite: no extension, no function called
   * from the schema, no trigger or view at all (Veto creates none), no write to the schema or to
   * the file's header pages, and cells checked for sizes that lie. */
  static const int off[] = { SQLITE_DBCONFIG_TRUSTED_SCHEMA, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION,
                             SQLITE_DBCONFIG_ENABLE_TRIGGER, SQLITE_DBCONFIG_ENABLE_VIEW };
  int rc = sqlite3_db_config (db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);

  for (guint i = 0; rc == SQLITE_OK && i < G_N_ELEMENTS (off); i++)
    rc = sqlite3_db_config (db, off[i], 0, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec (db, "PRAGMA cell_size_check = ON", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    {
      veto_store_set_sqlite_error (db, display, rc, "opening the project safely", error);
      return FALSE;
    }
  return TRUE;
}

/* Where the problems go: returning FALSE stops the checks. */
typedef gboolean (*ProblemFunc) (const char *table, gint64 row, const char *problem,
                                 gpointer user_data);

typedef struct
{
  char *type;
  char *table;
  char *sql;
} SchemaEntry;

static void
schema_entry_free (SchemaEntry *entry)
{
  g_free (entry->type);
  g_free (entry->table);
  g_free (entry->sql);
  g_free (entry);
}

/* name → SchemaEntry of every object in db's schema. */
static GHashTable *
read_schema (sqlite3 *db, const char *display, GError **error)
{
  g_autoptr (GHashTable) entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                          (GDestroyNotify) schema_entry_free);
  g_autoptr (VetoStoreStatement) stmt = NULL;
  int rc = sqlite3_prepare_v2 (db, "SELECT type, name, tbl_name, sql FROM sqlite_schema", -1,
                               &stmt, NULL);

  if (rc == SQLITE_OK)
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
      {
        SchemaEntry *entry = g_new0 (SchemaEntry, 1);

        entry->type = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
        entry->table = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
        entry->sql = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
        g_hash_table_replace (entries, g_strdup ((const char *) sqlite3_column_text (stmt, 1)),
                              entry);
      }
  if (rc != SQLITE_DONE)
    {
      veto_store_set_sqlite_error (db, display, rc, "reading the project's schema", error);
      return NULL;
    }
  return g_steal_pointer (&entries);
}

/* Compares the schema of db with the one Veto writes for version: the same tables (same columns
 * and constraints), the same indexes, nothing else (statistics tables of ANALYZE aside). */
static gboolean
check_schema (sqlite3 *db, const char *display, int version, ProblemFunc func, gpointer data,
              GError **error)
{
  g_autoptr (GHashTable) found = read_schema (db, display, error);
  g_autoptr (GHashTable) expected = NULL;
  sqlite3 *mem = NULL;
  GHashTableIter iter;
  gpointer key, value;
  int rc;

  if (found == NULL)
    return FALSE;
  rc = sqlite3_open_v2 (":memory:", &mem, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  for (int v = 0; rc == SQLITE_OK && v < version; v++)
    rc = sqlite3_exec (mem, veto_store_migrations[v], NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    {
      veto_store_set_sqlite_error (mem, display, rc, "building Veto's schema", error);
      sqlite3_close_v2 (mem);
      return FALSE;
    }
  expected = read_schema (mem, display, error);
  sqlite3_close_v2 (mem);
  if (expected == NULL)
    return FALSE;
  g_hash_table_iter_init (&iter, found);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      const SchemaEntry *have = value;
      const SchemaEntry *want = g_hash_table_lookup (expected, key);
      g_autofree char *problem = NULL;

      if (g_str_has_prefix (key, "sqlite_stat"))
        continue;
      if (want == NULL)
        problem = g_strdup_printf ("a %s that Veto did not create (on table %s): the schema is "
                                   "not Veto's", have->type, have->table);
      else if (g_strcmp0 (have->type, want->type) != 0 || g_strcmp0 (have->table, want->table) != 0
               || g_strcmp0 (have->sql, want->sql) != 0)
        problem = g_strdup_printf ("the %s differs from Veto's (its columns, constraints or "
                                   "definition were changed)", want->type);
      if (problem)
        {
          g_autofree char *what = g_strdup_printf ("%s %s", have->type, (const char *) key);

          if (!func (what, 0, problem, data))
            return TRUE;
        }
    }
  g_hash_table_iter_init (&iter, expected);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!g_hash_table_contains (found, key))
      {
        const SchemaEntry *want = value;
        g_autofree char *what = g_strdup_printf ("%s %s", want->type, (const char *) key);

        if (!func (what, 0, "missing: the schema is not Veto's", data))
          return TRUE;
      }
  return TRUE;
}

/* One rule per table: each returns (row id, the first problem of that row) for every bad row.
 * They restate what the importer, the answer path and campaign creation check before they
 * write, so that a row edited behind Veto's back never reaches the rest of the program. */
typedef struct
{
  const char *table;
  const char *sql;
  int since; /* the schema version that brought what it reads (0: the first) */
} RowRule;

#define SPLIT_OK(col) col " IN ('pool', 'test', 'validation')"
#define IS_INT(col) "typeof (" col ") = 'integer'"
#define EXISTS_IN(table, col) "EXISTS (SELECT 1 FROM " table " WHERE id = " col ")"

static const RowRule row_rules[] = {
  { "classes",
    "SELECT id, CASE"
    " WHEN typeof (name) <> 'text' OR name = '' THEN 'the name is not non-empty text'"
    " WHEN typeof (description) <> 'text' THEN 'the description is not text'"
    " WHEN novel IS NOT 0 AND novel IS NOT 1 THEN 'novel is not 0 or 1'"
    " END FROM classes" },
  { "imports",
    "SELECT id, CASE"
    " WHEN NOT " SPLIT_OK ("split") " THEN printf ('unknown split %Q', split)"
    " WHEN typeof (source) <> 'text' OR typeof (format) <> 'text' THEN"
    "  'the source or format is not text'"
    " END FROM imports" },
  { "items",
    "SELECT id, CASE"
    " WHEN source IS NOT 'file' AND source IS NOT 'embedded' THEN"
    "  printf ('source is %Q, not file or embedded', source)"
    " WHEN NOT (" IS_INT ("width") " AND " IS_INT ("height") " AND " IS_INT ("channels") ") THEN"
    "  'width, height and channels are not all integers'"
    " WHEN width NOT BETWEEN 1 AND " G_STRINGIFY (VETO_IMAGE_MAX_SIDE)
    "  OR height NOT BETWEEN 1 AND " G_STRINGIFY (VETO_IMAGE_MAX_SIDE)
    "  OR width * height > " G_STRINGIFY (VETO_IMAGE_MAX_PIXELS) " THEN"
    "  printf ('%s×%s pixels is outside what the importer accepts (1 to "
    G_STRINGIFY (VETO_IMAGE_MAX_SIDE) " a side, at most " G_STRINGIFY (VETO_IMAGE_MAX_PIXELS)
    " pixels)', width, height)"
    " WHEN channels NOT IN (1, 3) THEN printf ('%s channels (1 or 3 expected)', channels)"
    " WHEN NOT " SPLIT_OK ("split") " THEN printf ('unknown split %Q', split)"
    " WHEN typeof (sha256) <> 'text' OR length (sha256) <> 64 THEN"
    "  'sha256 is not a digest of 64 hex digits'"
    " WHEN gold_class_id IS NOT NULL AND NOT (" IS_INT ("gold_class_id")
    "  AND " EXISTS_IN ("classes", "gold_class_id") ") THEN"
    "  printf ('the gold class %s does not exist', gold_class_id)"
    " WHEN NOT (" IS_INT ("import_id") " AND " EXISTS_IN ("imports", "import_id") ") THEN"
    "  printf ('the import %s does not exist', import_id)"
    " WHEN NOT " IS_INT ("import_index") " OR import_index < 0 THEN"
    "  'import_index is not a non-negative integer'"
    " WHEN source = 'embedded' AND path IS NOT NULL THEN 'an embedded item with a path'"
    " WHEN source = 'embedded' AND typeof (pixels) <> 'blob' THEN"
    "  'an embedded item without its pixels'"
    " WHEN source = 'embedded' AND length (pixels) <> width * height * channels THEN"
    "  printf ('the pixels hold %d bytes, but %s×%s×%s needs %d', length (pixels), width,"
    "  height, channels, width * height * channels)"
    " WHEN source = 'file' AND pixels IS NOT NULL THEN 'a file item with embedded pixels'"
    " WHEN source = 'file' AND (typeof (path) <> 'text' OR path = '') THEN"
    "  'a file item without a path'"
    " WHEN source = 'file' AND substr (path, 1, 1) = '/' THEN"
    "  printf ('the path %Q is not relative to the project''s folder', path)"
    " END FROM items" },
  { "annotators",
    "SELECT id, CASE"
    " WHEN typeof (name) <> 'text' OR name = '' THEN 'the name is not non-empty text'"
    " WHEN kind NOT IN ('human', 'simulated', 'teacher') THEN printf ('unknown kind %Q', kind)"
    " END FROM annotators" },
  { "campaigns",
    "SELECT id, CASE"
    " WHEN typeof (name) <> 'text' OR name = '' THEN 'the name is not non-empty text'"
    " WHEN protocol NOT IN ('ordinary', 'complementary', 'preference') THEN"
    "  printf ('unknown protocol %Q', protocol)"
    " WHEN NOT " IS_INT ("answers_per_item") " OR answers_per_item NOT BETWEEN 1 AND 1000000"
    "  THEN printf ('%s answers per item (1 to 1,000,000 expected)', answers_per_item)"
    " WHEN NOT " IS_INT ("n_candidates") " OR (protocol = 'complementary' AND n_candidates NOT"
    "  BETWEEN 2 AND (SELECT count (*) FROM classes)) THEN"
    "  printf ('%s candidates shown (2 to the number of classes expected)', n_candidates)"
    " WHEN typeof (anchor_rate) NOT IN ('real', 'integer') OR NOT (anchor_rate >= 0"
    "  AND anchor_rate < 1) THEN printf ('the anchor rate %s is not in [0, 1)', anchor_rate)"
    " WHEN state NOT IN ('open', 'closed') THEN printf ('unknown state %Q', state)"
    " END FROM campaigns" },
  { "campaign_items",
    "SELECT rowid, CASE"
    " WHEN NOT (" IS_INT ("campaign_id") " AND " EXISTS_IN ("campaigns", "campaign_id") ") THEN"
    "  printf ('the campaign %s does not exist', campaign_id)"
    " WHEN NOT (" IS_INT ("item_id") " AND " EXISTS_IN ("items", "item_id") ") THEN"
    "  printf ('the item %s does not exist', item_id)"
    " WHEN anchor IS NOT 0 AND anchor IS NOT 1 THEN 'anchor is not 0 or 1'"
    " END FROM campaign_items" },
  { "rounds",
    "SELECT version, CASE"
    " WHEN typeof (features) <> 'text' OR typeof (model) <> 'text' THEN"
    "  'the features or model is not text'"
    " WHEN NOT " IS_INT ("train_size") " OR train_size < 0 THEN"
    "  'train_size is not a non-negative integer'"
    " WHEN typeof (metrics) <> 'text' THEN 'the metrics are not text'"
    " WHEN weights IS NOT NULL AND typeof (weights) <> 'blob' THEN 'the weights are not a blob'"
    " END FROM rounds" },
  { "annotations",
    "SELECT a.id, CASE"
    " WHEN a.kind NOT IN ('ordinary', 'complementary', 'preference', 'soft') THEN"
    "  printf ('unknown kind of answer %Q', a.kind)"
    " WHEN NOT (" IS_INT ("a.item_id") " AND " EXISTS_IN ("items", "a.item_id") ") THEN"
    "  printf ('the item %s does not exist', a.item_id)"
    " WHEN NOT (" IS_INT ("a.annotator_id") " AND " EXISTS_IN ("annotators", "a.annotator_id")
    ") THEN printf ('the annotator %s does not exist', a.annotator_id)"
    " WHEN a.answer_class_id IS NOT NULL AND NOT (" IS_INT ("a.answer_class_id")
    "  AND " EXISTS_IN ("classes", "a.answer_class_id") ") THEN"
    "  printf ('the class answered (%s) does not exist', a.answer_class_id)"
    " WHEN a.kind IN ('ordinary', 'complementary') AND a.answer_class_id IS NULL THEN"
    "  printf ('an %s answer without its class', a.kind)"
    " WHEN a.kind = 'complementary' AND NOT EXISTS (SELECT 1 FROM annotation_candidates ac"
    "  WHERE ac.annotation_id = a.id AND ac.class_id = a.answer_class_id) THEN"
    "  'the class answered is not among the candidates shown'"
    " WHEN a.kind = 'preference' AND NOT (" IS_INT ("a.right_item_id")
    "  AND " EXISTS_IN ("items", "a.right_item_id") ") THEN"
    "  printf ('the right item %s does not exist', a.right_item_id)"
    " WHEN a.kind = 'preference' AND (a.preferred IS NULL OR a.preferred NOT IN ('left',"
    "  'right', 'tie')) THEN printf ('preferred is %Q, not left, right or tie', a.preferred)"
    " WHEN a.kind = 'preference' AND typeof (a.criterion) <> 'text' THEN"
    "  'a preference without its criterion'"
    " WHEN a.kind = 'soft' AND typeof (a.soft_labels) <> 'text' THEN"
    "  'a soft answer without its probabilities'"
    " WHEN a.campaign_id IS NOT NULL AND NOT (" IS_INT ("a.campaign_id")
    "  AND " EXISTS_IN ("campaigns", "a.campaign_id") ") THEN"
    "  printf ('the campaign %s does not exist', a.campaign_id)"
    " WHEN a.model_version IS NOT NULL AND NOT " IS_INT ("a.model_version") " THEN"
    "  'model_version is not an integer'"
    " WHEN a.undone IS NOT 0 AND a.undone IS NOT 1 OR a.flagged IS NOT 0 AND a.flagged IS NOT 1"
    "  THEN 'undone or flagged is not 0 or 1'"
    " WHEN typeof (a.question) <> 'text' THEN 'the question is not text'"
    " WHEN typeof (a.answered_at) <> 'text' THEN 'answered_at is not text'"
    " END FROM annotations a" },
  { "annotation_candidates",
    "SELECT rowid, CASE"
    " WHEN NOT (" IS_INT ("annotation_id") " AND " EXISTS_IN ("annotations", "annotation_id")
    ") THEN printf ('the answer %s does not exist', annotation_id)"
    " WHEN NOT (" IS_INT ("class_id") " AND " EXISTS_IN ("classes", "class_id") ") THEN"
    "  printf ('the candidate class %s (answer %s, position %s) does not exist', class_id,"
    "  annotation_id, position)"
    " WHEN NOT " IS_INT ("position") " OR position < 0 THEN"
    "  'position is not a non-negative integer'"
    " END FROM annotation_candidates" },
  { "cache",
    "SELECT rowid, CASE"
    " WHEN typeof (key) <> 'text' THEN 'the key is not text'"
    " WHEN typeof (value) <> 'blob' THEN 'the value is not a blob'"
    " END FROM cache" },
  { "annotations",
    "SELECT id, CASE"
    " WHEN answer_uid IS NOT NULL AND (typeof (answer_uid) <> 'text' OR answer_uid = '') THEN"
    "  'answer_uid is not non-empty text'"
    " END FROM annotations", 2 },
  { "tokens",
    "SELECT id, CASE"
    " WHEN NOT (" IS_INT ("annotator_id") " AND " EXISTS_IN ("annotators", "annotator_id") ")"
    "  THEN printf ('the annotator %s does not exist', annotator_id)"
    " WHEN typeof (hash) <> 'text' OR hash = '' THEN 'the hash is not non-empty text'"
    " WHEN admin IS NOT 0 AND admin IS NOT 1 THEN 'admin is not 0 or 1'"
    " WHEN revoked_at IS NOT NULL AND typeof (revoked_at) <> 'text' THEN"
    "  'revoked_at is not text'"
    " END FROM tokens", 2 },
  { "leases",
    "SELECT question, CASE"
    " WHEN NOT (" IS_INT ("campaign_id") " AND " EXISTS_IN ("campaigns", "campaign_id") ") THEN"
    "  printf ('the campaign %s does not exist', campaign_id)"
    " WHEN NOT (" IS_INT ("annotator_id") " AND " EXISTS_IN ("annotators", "annotator_id") ")"
    "  THEN printf ('the annotator %s does not exist', annotator_id)"
    " WHEN typeof (lease) <> 'text' THEN 'the lease is not text'"
    " END FROM leases", 2 },
};

static gboolean
run_rule (sqlite3 *db, const char *display, const RowRule *rule, ProblemFunc func, gpointer data,
          gboolean *out_go_on, GError **error)
{
  g_autofree char *sql = g_strdup_printf ("WITH r (rid, problem) AS (%s) SELECT rid, problem"
                                          " FROM r WHERE problem IS NOT NULL", rule->sql);
  g_autoptr (VetoStoreStatement) stmt = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
  *out_go_on = TRUE;
  if (rc == SQLITE_OK)
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
      if (!func (rule->table, sqlite3_column_int64 (stmt, 0),
                 (const char *) sqlite3_column_text (stmt, 1), data))
        {
          *out_go_on = FALSE;
          return TRUE;
        }
  if (rc != SQLITE_DONE)
    {
      g_autofree char *doing = g_strdup_printf ("checking the table %s", rule->table);

      veto_store_set_sqlite_error (db, display, rc, doing, error);
      return FALSE;
    }
  return TRUE;
}

/* A JSON member that must be a string equal to want. */
static gboolean
member_is_string (JsonObject *object, const char *name, const char *want)
{
  JsonNode *node = json_object_get_member (object, name);

  return node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING
         && g_strcmp0 (json_node_get_string (node), want) == 0;
}

static gboolean
member_is_int (JsonObject *object, const char *name, gint64 want)
{
  JsonNode *node = json_object_get_member (object, name);

  return node && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_INT64
         && json_node_get_int (node) == want;
}

/* Whether the candidates of a complementary question are the names shown, in order. */
static gboolean
candidates_agree (JsonObject *question, sqlite3_stmt *names)
{
  JsonNode *node = json_object_get_member (question, "candidates");
  JsonArray *array;
  guint i = 0;

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  array = json_node_get_array (node);
  while (sqlite3_step (names) == SQLITE_ROW)
    {
      JsonNode *element = i < json_array_get_length (array) ? json_array_get_element (array, i)
                                                              : NULL;

      if (element == NULL || !JSON_NODE_HOLDS_VALUE (element)
          || json_node_get_value_type (element) != G_TYPE_STRING
          || sqlite3_column_int64 (names, 0) != i
          || g_strcmp0 (json_node_get_string (element),
                        (const char *) sqlite3_column_text (names, 1)) != 0)
        return FALSE;
      i++;
    }
  return i == json_array_get_length (array);
}

/* A soft answer: a JSON array of n_classes probabilities. */
static const char *
soft_problem (JsonParser *parser, const char *text, guint n_classes)
{
  JsonNode *root;
  JsonArray *array;

  if (!json_parser_load_from_data (parser, text, -1, NULL)
      || !JSON_NODE_HOLDS_ARRAY (root = json_parser_get_root (parser)))
    return "the soft labels are not a JSON array";
  array = json_node_get_array (root);
  if (json_array_get_length (array) != n_classes)
    return "the soft labels do not give one probability per class";
  for (guint i = 0; i < n_classes; i++)
    {
      double p;

      if (!veto_json_get_number (json_array_get_element (array, i), &p))
        return "the soft labels are not all numbers";
      if (!(p >= 0 && p <= 1))
        return "a soft label is not a probability in [0, 1]";
    }
  return NULL;
}

/* What the question JSON of one answer says against its columns; NULL when they agree. */
static const char *
question_problem (JsonParser *parser, sqlite3_stmt *row, sqlite3_stmt *names, guint n_classes)
{
  const char *kind = (const char *) sqlite3_column_text (row, 1);
  gint64 item = sqlite3_column_int64 (row, 2);
  JsonNode *root;
  JsonObject *question;

  if (!json_parser_load_from_data (parser, (const char *) sqlite3_column_text (row, 6), -1, NULL))
    return "the question is not valid JSON";
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return "the question is not a JSON object";
  question = json_node_get_object (root);
  if (!member_is_string (question, "kind", kind))
    return "the question's kind is not the answer's";
  if (!member_is_int (question, "item", item))
    return "the question's item is not the answer's";
  if (g_strcmp0 (kind, "complementary") == 0)
    {
      sqlite3_reset (names);
      sqlite3_bind_int64 (names, 1, sqlite3_column_int64 (row, 0));
      if (!candidates_agree (question, names))
        return "the question's candidates are not the ones recorded as shown";
    }
  else if (g_strcmp0 (kind, "preference") == 0)
    {
      if (!member_is_int (question, "left", item)
          || !member_is_int (question, "right", sqlite3_column_int64 (row, 3))
          || !member_is_string (question, "criterion", (const char *) sqlite3_column_text (row, 4)))
        return "the question's items or criterion are not the answer's";
    }
  else if (g_strcmp0 (kind, "soft") == 0)
    return soft_problem (parser, (const char *) sqlite3_column_text (row, 5), n_classes);
  return NULL;
}

/* What SQL cannot check: UTF-8 text, and the JSON of questions and soft labels. */
static gboolean
check_text (sqlite3 *db, const char *display, ProblemFunc func, gpointer data, GError **error)
{
  static const RowRule names[] = {
    { "classes", "SELECT id, name FROM classes" },
    { "annotators", "SELECT id, name FROM annotators" },
    { "campaigns", "SELECT id, name FROM campaigns" },
    { "items", "SELECT id, path FROM items WHERE typeof (path) = 'text'" },
    { "annotations", "SELECT id, criterion FROM annotations WHERE typeof (criterion) = 'text'" },
  };
  g_autoptr (VetoStoreStatement) rows = NULL;
  g_autoptr (VetoStoreStatement) cand = NULL;
  g_autoptr (VetoStoreStatement) count = NULL;
  /* One parser for every answer: its root is replaced by each load. */
  g_autoptr (JsonParser) parser = json_parser_new ();
  guint n_classes = 0;
  int rc = SQLITE_OK;

  for (guint r = 0; r < G_N_ELEMENTS (names); r++)
    {
      g_autoptr (VetoStoreStatement) stmt = NULL;

      rc = sqlite3_prepare_v2 (db, names[r].sql, -1, &stmt, NULL);
      if (rc == SQLITE_OK)
        while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
          {
            const char *text = (const char *) sqlite3_column_text (stmt, 1);
            int bytes = sqlite3_column_bytes (stmt, 1);

            if (text != NULL
                && ((int) strlen (text) != bytes || !g_utf8_validate (text, bytes, NULL))
                && !func (names[r].table, sqlite3_column_int64 (stmt, 0),
                          "text that is not valid UTF-8 (or holds a NUL)", data))
              return TRUE;
          }
      if (rc != SQLITE_DONE)
        goto fail;
    }
  rc = sqlite3_prepare_v2 (db, "SELECT count (*) FROM classes", -1, &count, NULL);
  if (rc == SQLITE_OK && (rc = sqlite3_step (count)) == SQLITE_ROW)
    n_classes = sqlite3_column_int (count, 0);
  else
    goto fail;
  rc = sqlite3_prepare_v2 (db,
      "SELECT ac.position, c.name FROM annotation_candidates ac"
      " LEFT JOIN classes c ON c.id = ac.class_id WHERE ac.annotation_id = ? ORDER BY ac.position",
      -1, &cand, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (db,
        "SELECT id, kind, item_id, right_item_id, criterion, soft_labels, question"
        " FROM annotations WHERE typeof (question) = 'text' ORDER BY id", -1, &rows, NULL);
  if (rc == SQLITE_OK)
    while ((rc = sqlite3_step (rows)) == SQLITE_ROW)
      {
        const char *problem = question_problem (parser, rows, cand, n_classes);

        if (problem && !func ("annotations", sqlite3_column_int64 (rows, 0), problem, data))
          return TRUE;
      }
  if (rc == SQLITE_DONE)
    return TRUE;

fail:
  veto_store_set_sqlite_error (db, display, rc, "checking the project's text", error);
  return FALSE;
}

/* Whether stmt (one parameter) finds a row for id. */
static gboolean
exists (sqlite3_stmt *stmt, gint64 id)
{
  gboolean found;

  sqlite3_reset (stmt);
  sqlite3_bind_int64 (stmt, 1, id);
  found = sqlite3_step (stmt) == SQLITE_ROW;
  sqlite3_reset (stmt);
  return found;
}

/* What a lease's JSON (a question the server handed out) says against the project. */
static const char *
lease_problem (JsonParser *parser, sqlite3_stmt *row, sqlite3_stmt *item, sqlite3_stmt *klass)
{
  JsonNode *root, *node;
  JsonObject *lease;
  JsonArray *candidates;
  VetoAnswerKind kind;

  if (!json_parser_load_from_data (parser, (const char *) sqlite3_column_text (row, 2), -1, NULL)
      || (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return "the lease is not a JSON object";
  lease = json_node_get_object (root);
  node = json_object_get_member (lease, "kind");
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING
      || !veto_answer_kind_from_string (json_node_get_string (node), &kind))
    return "the lease's kind of question is unknown";
  if (!member_is_int (lease, "annotator", sqlite3_column_int64 (row, 1)))
    return "the lease's annotator is not its row's";
  node = json_object_get_member (lease, "item");
  if (node == NULL || json_node_get_value_type (node) != G_TYPE_INT64
      || !exists (item, json_node_get_int (node)))
    return "the lease's item does not exist";
  node = json_object_get_member (lease, "candidates");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return "the lease has no candidates array";
  candidates = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (candidates); i++)
    {
      JsonNode *c = json_array_get_element (candidates, i);

      if (!JSON_NODE_HOLDS_VALUE (c) || json_node_get_value_type (c) != G_TYPE_INT64
          || !exists (klass, json_node_get_int (c)))
        return "a candidate class of the lease does not exist";
    }
  return NULL;
}

static gboolean
check_leases (sqlite3 *db, const char *display, ProblemFunc func, gpointer data, GError **error)
{
  g_autoptr (VetoStoreStatement) rows = NULL;
  g_autoptr (VetoStoreStatement) item = NULL;
  g_autoptr (VetoStoreStatement) klass = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  int rc = sqlite3_prepare_v2 (db, "SELECT 1 FROM items WHERE id = ?", -1, &item, NULL);

  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (db, "SELECT 1 FROM classes WHERE id = ?", -1, &klass, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (db, "SELECT question, annotator_id, lease FROM leases"
                             " WHERE typeof (lease) = 'text' ORDER BY question", -1, &rows, NULL);
  if (rc == SQLITE_OK)
    while ((rc = sqlite3_step (rows)) == SQLITE_ROW)
      {
        const char *problem = lease_problem (parser, rows, item, klass);

        if (problem && !func ("leases", sqlite3_column_int64 (rows, 0), problem, data))
          return TRUE;
      }
  if (rc == SQLITE_DONE)
    return TRUE;
  veto_store_set_sqlite_error (db, display, rc, "checking the questions handed out", error);
  return FALSE;
}

/* An error's message without the "DISPLAY: " that starts it, for a problem of that file. */
static const char *
without_display (const GError *error, const char *display)
{
  gsize n = strlen (display);

  if (strncmp (error->message, display, n) == 0 && strncmp (error->message + n, ": ", 2) == 0)
    return error->message + n + 2;
  return error->message;
}

/* With keep_going, a rule that cannot run (on a schema that is not Veto's) is one more problem
 * for func, and the other rules still run; without it, it is an error. */
static gboolean
check_rows (sqlite3 *db, const char *display, int version, ProblemFunc func, gpointer data,
            gboolean keep_going, GError **error)
{
  g_autoptr (GError) local_error = NULL;

  for (guint r = 0; r < G_N_ELEMENTS (row_rules); r++)
    {
      gboolean go_on;

      if (row_rules[r].since > version)
        continue;
      if (!run_rule (db, display, &row_rules[r], func, data, &go_on, &local_error))
        {
          if (!keep_going)
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          go_on = func ("file", 0, without_display (local_error, display), data);
          g_clear_error (&local_error);
        }
      if (!go_on)
        return TRUE;
    }
  if (!check_text (db, display, func, data, &local_error)
      || (version >= 2 && !check_leases (db, display, func, data, &local_error)))
    {
      if (!keep_going)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      func ("file", 0, without_display (local_error, display), data);
    }
  return TRUE;
}

typedef struct
{
  const char *display;
  GError *error;
} FirstProblem;

static gboolean
keep_first (const char *table, gint64 row, const char *problem, gpointer user_data)
{
  FirstProblem *first = user_data;

  if (first->error)
    return FALSE;
  if (row > 0)
    g_set_error (&first->error, VETO_STORE_ERROR, VETO_STORE_ERROR_CORRUPT,
                 "%s: %s row %" G_GINT64_FORMAT ": %s (veto check lists every problem)",
                 first->display, table, row, problem);
  else
    g_set_error (&first->error, VETO_STORE_ERROR, VETO_STORE_ERROR_NOT_A_PROJECT,
                 "%s: %s: %s (veto check lists every problem)", first->display, table, problem);
  return FALSE;
}

gboolean
veto_store_validate_schema (sqlite3 *db, const char *display, int version, GError **error)
{
  FirstProblem first = { display, NULL };

  if (!check_schema (db, display, version, keep_first, &first, error))
    return FALSE;
  if (first.error)
    {
      g_propagate_error (error, first.error);
      return FALSE;
    }
  return TRUE;
}

gboolean
veto_store_validate_rows (sqlite3 *db, const char *display, GError **error)
{
  FirstProblem first = { display, NULL };

  /* Rows are checked once the file has been brought to this Veto's schema. */
  if (!check_rows (db, display, VETO_STORE_SCHEMA_VERSION, keep_first, &first, FALSE, error))
    return FALSE;
  if (first.error)
    {
      g_propagate_error (error, first.error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
collect (const char *table, gint64 row, const char *problem, gpointer user_data)
{
  VetoStoreProblem *p = g_new0 (VetoStoreProblem, 1);

  p->table = g_strdup (table);
  p->row = row;
  p->problem = g_strdup (problem);
  g_ptr_array_add (user_data, p);
  return TRUE;
}

/* Adds what SQLite's own check finds (structure, indexes, sizes): the file's pages themselves. */
static gboolean
check_integrity (sqlite3 *db, const char *display, GPtrArray *problems, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = NULL;
  int rc = sqlite3_prepare_v2 (db, "PRAGMA integrity_check", -1, &stmt, NULL);

  if (rc == SQLITE_OK)
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
      {
        const char *line = (const char *) sqlite3_column_text (stmt, 0);

        if (g_strcmp0 (line, "ok") != 0)
          collect ("file", 0, line, problems);
      }
  if (rc != SQLITE_DONE)
    {
      veto_store_set_sqlite_error (db, display, rc, "checking the file's integrity", error);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
veto_store_check (const char *path, GError **error)
{
  g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (
      (GDestroyNotify) veto_store_problem_free);
  g_autofree char *display = g_filename_display_name (path);
  sqlite3 *db = NULL;
  int version = 0;
  gboolean ok;

  if (!veto_store_open_untrusted (path, &db, &version, error))
    return NULL;
  ok = check_integrity (db, display, problems, error);
  if (ok)
    ok = check_schema (db, display, version, collect, problems, error);
  /* A schema that is not Veto's may lack what some row checks read: each says so, as a problem. */
  if (ok)
    check_rows (db, display, version, collect, problems, TRUE, NULL);
  sqlite3_close_v2 (db);
  if (!ok)
    return NULL;
  return g_steal_pointer (&problems);
}
