/* veto-store: the project file (SQLite): schema, migrations, transactions and every query. */
#include "veto-store.h"
#include "veto-store-private.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

G_DEFINE_QUARK (veto-store-error-quark, veto_store_error)

/* 'VETO' in ASCII: PRAGMA application_id of every project file. */
#define VETO_APPLICATION_ID 0x5645544f
#define BUSY_TIMEOUT_MS 5000

struct _VetoStore
{
  sqlite3 *db;
  char *path;
  char *base_dir;
  gboolean read_only;
  sqlite3_stmt *insert_item; /* kept prepared: imports add tens of thousands of items */
  char *transaction_time;    /* when the open write transaction began */
  GHashTable *kept;          /* SQL text (static) → statement kept prepared, for the answer path */
  char *checked_key;         /* the file, among those whose rows were checked (veto_store_open) */
  char *scratch_dir;         /* veto_store_open_scratch: the temporary folder removed on close */
  VetoStoreClaim *claim;     /* this process's claim on the file: a lock while it writes */
  sqlite3 *checkpointer;     /* veto_store_checkpoint's own connection, on its caller's thread */
};

/* Schema version 1. Standard SQL types only, so that a PostgreSQL port needs no new model.
 * Times are ISO 8601 UTC text; booleans are 0/1 integers. */
static const char schema_v1[] =
  "CREATE TABLE meta ("
  "  key TEXT PRIMARY KEY,"
  "  value TEXT NOT NULL);"
  "CREATE TABLE classes ("
  "  id INTEGER PRIMARY KEY,"
  "  name TEXT NOT NULL UNIQUE,"
  "  description TEXT NOT NULL DEFAULT '',"
  "  novel INTEGER NOT NULL DEFAULT 0 CHECK (novel IN (0, 1)),"
  "  created_at TEXT NOT NULL);"
  "CREATE TABLE imports ("
  "  id INTEGER PRIMARY KEY,"
  "  source TEXT NOT NULL,"
  "  format TEXT NOT NULL,"
  "  split TEXT NOT NULL CHECK (split IN ('pool', 'test', 'validation')),"
  "  n_items INTEGER NOT NULL DEFAULT 0,"
  "  imported_at TEXT NOT NULL);"
  "CREATE TABLE items ("
  "  id INTEGER PRIMARY KEY,"
  "  source TEXT NOT NULL CHECK (source IN ('file', 'embedded')),"
  "  path TEXT,"
  "  pixels BLOB,"
  "  sha256 TEXT NOT NULL,"
  "  width INTEGER NOT NULL CHECK (width > 0),"
  "  height INTEGER NOT NULL CHECK (height > 0),"
  "  channels INTEGER NOT NULL CHECK (channels IN (1, 3)),"
  "  split TEXT NOT NULL CHECK (split IN ('pool', 'test', 'validation')),"
  "  gold_class_id INTEGER REFERENCES classes (id),"
  "  import_id INTEGER NOT NULL REFERENCES imports (id),"
  "  import_index INTEGER NOT NULL,"
  "  added_at TEXT NOT NULL,"
  "  CHECK ((source = 'file' AND path IS NOT NULL AND pixels IS NULL)"
  "      OR (source = 'embedded' AND path IS NULL AND pixels IS NOT NULL)));"
  "CREATE INDEX items_sha256 ON items (sha256);"
  "CREATE INDEX items_split ON items (split);"
  "CREATE TABLE annotators ("
  "  id INTEGER PRIMARY KEY,"
  "  name TEXT NOT NULL UNIQUE,"
  "  kind TEXT NOT NULL CHECK (kind IN ('human', 'simulated', 'teacher')),"
  "  created_at TEXT NOT NULL);"
  "CREATE TABLE campaigns ("
  "  id INTEGER PRIMARY KEY,"
  "  name TEXT NOT NULL UNIQUE,"
  "  protocol TEXT NOT NULL CHECK (protocol IN ('ordinary', 'complementary', 'preference')),"
  "  answers_per_item INTEGER NOT NULL CHECK (answers_per_item > 0),"
  "  n_candidates INTEGER NOT NULL DEFAULT 4,"
  "  anchor_rate REAL NOT NULL DEFAULT 0,"
  "  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),"
  "  created_at TEXT NOT NULL,"
  "  closed_at TEXT);"
  "CREATE TABLE campaign_items ("
  "  campaign_id INTEGER NOT NULL REFERENCES campaigns (id),"
  "  item_id INTEGER NOT NULL REFERENCES items (id),"
  "  anchor INTEGER NOT NULL DEFAULT 0 CHECK (anchor IN (0, 1)),"
  "  PRIMARY KEY (campaign_id, item_id));"
  "CREATE TABLE rounds ("
  "  version INTEGER PRIMARY KEY,"
  "  features TEXT NOT NULL,"
  "  model TEXT NOT NULL,"
  "  train_size INTEGER NOT NULL,"
  "  metrics TEXT NOT NULL,"
  "  seconds REAL NOT NULL,"
  "  weights BLOB,"
  "  trained_at TEXT NOT NULL);"
  "CREATE TABLE annotations ("
  "  id INTEGER PRIMARY KEY,"
  "  item_id INTEGER NOT NULL REFERENCES items (id),"
  "  annotator_id INTEGER NOT NULL REFERENCES annotators (id),"
  "  kind TEXT NOT NULL CHECK (kind IN ('ordinary', 'complementary', 'preference', 'soft')),"
  "  answer_class_id INTEGER REFERENCES classes (id),"
  "  right_item_id INTEGER REFERENCES items (id),"
  "  criterion TEXT,"
  "  preferred TEXT CHECK (preferred IN ('left', 'right', 'tie')),"
  "  soft_labels TEXT,"
  "  question TEXT NOT NULL,"
  "  model_version INTEGER,"
  "  strategy TEXT,"
  "  score REAL,"
  "  campaign_id INTEGER REFERENCES campaigns (id),"
  "  shown_at TEXT,"
  "  answered_at TEXT NOT NULL,"
  "  undone INTEGER NOT NULL DEFAULT 0 CHECK (undone IN (0, 1)),"
  "  undone_at TEXT,"
  "  flagged INTEGER NOT NULL DEFAULT 0 CHECK (flagged IN (0, 1)));"
  "CREATE INDEX annotations_item ON annotations (item_id);"
  "CREATE TABLE annotation_candidates ("
  "  annotation_id INTEGER NOT NULL REFERENCES annotations (id),"
  "  position INTEGER NOT NULL,"
  "  class_id INTEGER NOT NULL REFERENCES classes (id),"
  "  PRIMARY KEY (annotation_id, position));"
  "CREATE TABLE cache ("
  "  key TEXT PRIMARY KEY,"
  "  value BLOB NOT NULL,"
  "  written_at TEXT NOT NULL);";

/* Version 2: the lab server's access tokens (only a hash of each is kept), the answer id a
 * client makes, unique so that a retried request never records an answer twice, and the
 * questions handed out and not yet answered (leases), so that a restarted server keeps them. */
static const char schema_v2[] =
  "CREATE TABLE tokens ("
  "  id INTEGER PRIMARY KEY,"
  "  annotator_id INTEGER NOT NULL REFERENCES annotators (id),"
  "  hash TEXT NOT NULL UNIQUE,"
  "  admin INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),"
  "  created_at TEXT NOT NULL,"
  "  revoked_at TEXT);"
  "ALTER TABLE annotations ADD COLUMN answer_uid TEXT;"
  "CREATE UNIQUE INDEX annotations_answer_uid ON annotations (answer_uid);"
  "CREATE INDEX annotations_campaign ON annotations (campaign_id);"
  "CREATE TABLE leases ("
  "  question INTEGER PRIMARY KEY,"
  "  campaign_id INTEGER NOT NULL REFERENCES campaigns (id),"
  "  annotator_id INTEGER NOT NULL REFERENCES annotators (id),"
  "  lease TEXT NOT NULL);";

const char *const veto_store_migrations[VETO_STORE_SCHEMA_VERSION] = { schema_v1, schema_v2 };

static const char *const split_names[] = { "pool", "test", "validation" };
static const char *const kind_names[] = { "ordinary", "complementary", "preference", "soft" };
static const char *const annotator_kind_names[] = { "human", "simulated", "teacher" };
static const char *const preferred_names[] = { "left", "right", "tie" };

const char *
veto_split_to_string (VetoSplit split)
{
  g_return_val_if_fail (split < VETO_N_SPLITS, NULL);
  return split_names[split];
}

/* The index of text in names, for the enums stored as text. */
static gboolean
index_of_name (const char *const *names, guint n, const char *text, guint *out_index)
{
  for (guint i = 0; i < n; i++)
    if (g_strcmp0 (text, names[i]) == 0)
      {
        *out_index = i;
        return TRUE;
      }
  return FALSE;
}

gboolean
veto_split_from_string (const char *text, VetoSplit *out_split)
{
  guint index;

  if (!index_of_name (split_names, VETO_N_SPLITS, text, &index))
    return FALSE;
  *out_split = index;
  return TRUE;
}

const char *
veto_answer_kind_to_string (VetoAnswerKind kind)
{
  g_return_val_if_fail (kind < VETO_N_KINDS, NULL);
  return kind_names[kind];
}

gboolean
veto_answer_kind_from_string (const char *text, VetoAnswerKind *out_kind)
{
  guint index;

  if (!index_of_name (kind_names, VETO_N_KINDS, text, &index))
    return FALSE;
  *out_kind = index;
  return TRUE;
}

const char *
veto_annotator_kind_to_string (VetoAnnotatorKind kind)
{
  return annotator_kind_names[kind];
}

const char *
veto_preferred_to_string (VetoPreferred preferred)
{
  return preferred_names[preferred];
}

static char *
iso_time (gint64 real_time_us)
{
  g_autoptr (GDateTime) utc = g_date_time_new_from_unix_utc (real_time_us / G_USEC_PER_SEC);
  g_autoptr (GDateTime) precise = g_date_time_add (utc, real_time_us % G_USEC_PER_SEC);

  return g_date_time_format (precise, "%Y-%m-%dT%H:%M:%S.%fZ");
}

static char *
now_iso (void)
{
  return iso_time (g_get_real_time ());
}

void
veto_store_set_sqlite_error (sqlite3 *db, const char *display, int rc, const char *doing,
                             GError **error)
{
  VetoStoreError code = VETO_STORE_ERROR_FAILED;
  const char *why = db ? sqlite3_errmsg (db) : sqlite3_errstr (rc);

  switch (rc & 0xff)
    {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      code = VETO_STORE_ERROR_BUSY;
      why = "the project is in use by another process (it holds the write lock)";
      break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
      code = VETO_STORE_ERROR_READ_ONLY;
      why = "the project cannot be written (read-only file, folder or file system)";
      break;
    case SQLITE_FULL:
      code = VETO_STORE_ERROR_FULL;
      why = "the disk is full (nothing was written)";
      break;
    case SQLITE_NOTADB:
      code = VETO_STORE_ERROR_NOT_A_PROJECT;
      why = "not a Veto project (not an SQLite database)";
      break;
    case SQLITE_CORRUPT:
      code = VETO_STORE_ERROR_CORRUPT;
      why = "the project file is damaged";
      break;
    case SQLITE_CANTOPEN:
      code = VETO_STORE_ERROR_NOT_FOUND;
      break;
    case SQLITE_CONSTRAINT:
      code = VETO_STORE_ERROR_INVALID;
      break;
    default:
      break;
    }
  g_set_error (error, VETO_STORE_ERROR, code, "%s: %s: %s", display, doing, why);
}

static void
set_sqlite_error (VetoStore *store, GError **error, int rc, const char *doing)
{
  g_autofree char *display = g_filename_display_name (store->path);

  veto_store_set_sqlite_error (store->db, display, rc, doing, error);
}

static sqlite3_stmt *
prepare (VetoStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v2 (store->db, sql, -1, &stmt, NULL);

  if (rc != SQLITE_OK)
    {
      set_sqlite_error (store, error, rc, "reading the project");
      sqlite3_finalize (stmt);
      return NULL;
    }
  return stmt;
}

/* A statement of the answer path, prepared once per connection (sql must be a static string):
 * reset and unbound, owned by the store. A server answers hundreds of requests a second with
 * these; preparing them each time costs more than running them. */
static sqlite3_stmt *
kept (VetoStore *store, const char *sql, GError **error)
{
  sqlite3_stmt *stmt;

  if (store->kept == NULL)
    store->kept = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                         (GDestroyNotify) sqlite3_finalize);
  stmt = g_hash_table_lookup (store->kept, sql);
  if (stmt)
    {
      sqlite3_reset (stmt);
      sqlite3_clear_bindings (stmt);
      return stmt;
    }
  if (sqlite3_prepare_v3 (store->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL)
      != SQLITE_OK)
    {
      set_sqlite_error (store, error, sqlite3_errcode (store->db), "reading the project");
      sqlite3_finalize (stmt);
      return NULL;
    }
  g_hash_table_insert (store->kept, (gpointer) sql, stmt);
  return stmt;
}

void
veto_store_statement_free (VetoStoreStatement *stmt)
{
  sqlite3_finalize (stmt);
}

/* Runs a statement to completion, expecting no rows. */
static gboolean
step_done (VetoStore *store, sqlite3_stmt *stmt, const char *doing, GError **error)
{
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, doing);
      return FALSE;
    }
  return TRUE;
}

static gboolean
exec_sql (VetoStore *store, const char *sql, const char *doing, GError **error)
{
  int rc = sqlite3_exec (store->db, sql, NULL, NULL, NULL);

  if (rc != SQLITE_OK)
    {
      set_sqlite_error (store, error, rc, doing);
      return FALSE;
    }
  return TRUE;
}

static gboolean
pragma_int (VetoStore *store, const char *sql, int *out_value, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      set_sqlite_error (store, error, rc, "reading the project header");
      return FALSE;
    }
  *out_value = sqlite3_column_int (stmt, 0);
  return TRUE;
}

static VetoStore *
store_new (const char *path)
{
  VetoStore *store = g_new0 (VetoStore, 1);
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);

  store->path = g_strdup (path);
  store->base_dir = g_path_get_dirname (absolute);
  return store;
}

static void forget_checked (VetoStore *store);

/* Removes a scratch folder: the copy, its WAL and shared-memory files, a migration backup. */
static void
remove_scratch_dir (const char *dir)
{
  g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
  const char *name;

  while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
    {
      g_autofree char *file = g_build_filename (dir, name, NULL);

      if (g_unlink (file) != 0)
        g_warning ("could not remove %s: %s", file, g_strerror (errno));
    }
  if (g_rmdir (dir) != 0)
    g_warning ("could not remove %s: %s", dir, g_strerror (errno));
}

void
veto_store_close (VetoStore *store)
{
  if (store == NULL)
    return;
  forget_checked (store);
  sqlite3_finalize (store->insert_item);
  g_clear_pointer (&store->kept, g_hash_table_unref);
  sqlite3_close_v2 (store->checkpointer);
  sqlite3_close_v2 (store->db);
  /* After the connection: the claim may close the last descriptor of the file in this process. */
  veto_store_claim_release (store->claim);
  g_free (store->transaction_time);
  g_free (store->path);
  g_free (store->base_dir);
  if (store->scratch_dir != NULL)
    remove_scratch_dir (store->scratch_dir);
  g_free (store->scratch_dir);
  g_free (store);
}

sqlite3 *
veto_store_get_db (VetoStore *store)
{
  return store->db;
}

const char *
veto_store_get_path (VetoStore *store)
{
  return store->path;
}

const char *
veto_store_get_base_dir (VetoStore *store)
{
  return store->base_dir;
}

/* A connection, hardened before its first statement. */
static gboolean
connect_db (const char *path, int flags, sqlite3 **out_db, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);
  int rc = sqlite3_open_v2 (path, out_db, flags | SQLITE_OPEN_NOMUTEX, NULL);

  if (rc != SQLITE_OK)
    {
      veto_store_set_sqlite_error (*out_db, display, rc, "opening the project", error);
      sqlite3_close_v2 (*out_db);
      *out_db = NULL;
      return FALSE;
    }
  sqlite3_extended_result_codes (*out_db, 1);
  sqlite3_busy_timeout (*out_db, BUSY_TIMEOUT_MS);
  if (!veto_store_harden (*out_db, display, error))
    {
      sqlite3_close_v2 (*out_db);
      *out_db = NULL;
      return FALSE;
    }
  return TRUE;
}

static gboolean
open_connection (VetoStore *store, int flags, GError **error)
{
  return connect_db (store->path, flags, &store->db, error);
}

/* Settings of every connection, applied once the file is known to be ours. synchronous = FULL
 * syncs the WAL at every commit: an acknowledged answer survives an OS crash or a power cut, not
 * only a killed process. */
static gboolean
configure_connection (VetoStore *store, GError **error)
{
  if (!exec_sql (store, "PRAGMA foreign_keys = ON", "configuring the project", error))
    return FALSE;
  if (store->read_only)
    return TRUE;
  return exec_sql (store, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL",
                   "configuring the project", error);
}

static gboolean
migrate (VetoStore *store, int from_version, GError **error)
{
  if (!veto_store_begin (store, error))
    return FALSE;
  for (int v = from_version; v < VETO_STORE_SCHEMA_VERSION; v++)
    if (!exec_sql (store, veto_store_migrations[v], "upgrading the project", error))
      goto fail;
  {
    g_autofree char *sql = g_strdup_printf ("PRAGMA application_id = %d; PRAGMA user_version = %d",
                                            VETO_APPLICATION_ID, VETO_STORE_SCHEMA_VERSION);

    if (!exec_sql (store, sql, "upgrading the project", error))
      goto fail;
  }
  if (!veto_store_commit (store, error))
    goto fail;
  return TRUE;

fail:
  veto_store_rollback (store);
  return FALSE;
}

VetoStore *
veto_store_create (const char *path, GError **error)
{
  g_autoptr (VetoStore) store = store_new (path);
  g_autofree char *display = g_filename_display_name (path);
  g_autofree char *now = now_iso ();
  g_autoptr (VetoStoreStatement) stmt = NULL;

  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_EXISTS,
                   "%s: a file of that name exists already", display);
      return NULL;
    }
  if (!open_connection (store, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, error))
    {
      g_unlink (path);
      return NULL;
    }
  /* Nobody else can know of the file yet: the claim is only refused if someone raced to serve
   * it, and the file is then theirs. */
  store->claim = veto_store_claim (path, VETO_STORE_CLAIM_WRITE, error);
  if (store->claim == NULL)
    return NULL;
  if (!configure_connection (store, error) || !migrate (store, 0, error))
    {
      sqlite3_close_v2 (store->db);
      store->db = NULL;
      g_unlink (path);
      return NULL;
    }
  stmt = prepare (store, "INSERT INTO meta (key, value) VALUES ('created_by', ?), ('created_at', ?)",
                  error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, "veto " PACKAGE_VERSION, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, now, -1, SQLITE_TRANSIENT);
  if (!step_done (store, stmt, "creating the project", error))
    return NULL;
  return g_steal_pointer (&store);
}

gboolean
veto_store_copy_to (VetoStore *store, const char *path, GError **error)
{
  /* VACUUM INTO writes a consistent copy even while the file has a WAL beside it. */
  g_autoptr (VetoStoreStatement) stmt = prepare (store, "VACUUM INTO ?", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, path, -1, SQLITE_STATIC);
  return step_done (store, stmt, "copying the project", error);
}

/* Copies the file before a migration, so that a failed or unwanted upgrade can be undone. */
static gboolean
backup_before_migration (VetoStore *store, int version, GError **error)
{
  g_autofree char *backup = g_strdup_printf ("%s.v%d.bak", store->path, version);

  if (g_file_test (backup, G_FILE_TEST_EXISTS))
    return TRUE;
  return veto_store_copy_to (store, backup, error);
}

/* Refuses what is not a regular file: SQLite would block forever opening a pipe. */
static gboolean
check_file_kind (const char *path, const char *display, GError **error)
{
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_NOT_FOUND,
                   "%s: no such project file", display);
      return FALSE;
    }
  if (g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_NOT_A_PROJECT,
                   "%s: is a folder, not a Veto project", display);
      return FALSE;
    }
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_NOT_A_PROJECT,
                   "%s: not a regular file (a pipe or device), not a Veto project", display);
      return FALSE;
    }
  return TRUE;
}

static gboolean
db_pragma_int (sqlite3 *db, const char *display, const char *sql, int *out_value,
               GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = NULL;
  int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);

  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      veto_store_set_sqlite_error (db, display, rc, "reading the project header", error);
      return FALSE;
    }
  *out_value = sqlite3_column_int (stmt, 0);
  return TRUE;
}

/* Reads the header only: whose file it is and its schema version. */
static gboolean
identify (sqlite3 *db, const char *display, int *out_version, GError **error)
{
  int application_id = 0;

  if (!db_pragma_int (db, display, "PRAGMA application_id", &application_id, error)
      || !db_pragma_int (db, display, "PRAGMA user_version", out_version, error))
    return FALSE;
  if (application_id != VETO_APPLICATION_ID)
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_NOT_A_PROJECT,
                   "%s: not a Veto project (an SQLite database of another program)", display);
      return FALSE;
    }
  if (*out_version > VETO_STORE_SCHEMA_VERSION)
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_TOO_NEW,
                   "%s: written by a newer Veto (project schema %d, this Veto knows up to %d); "
                   "left untouched", display, *out_version, VETO_STORE_SCHEMA_VERSION);
      return FALSE;
    }
  return TRUE;
}

gboolean
veto_store_open_untrusted (const char *path, sqlite3 **out_db, int *out_version, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);

  *out_db = NULL;
  if (!check_file_kind (path, display, error)
      || !connect_db (path, SQLITE_OPEN_READONLY, out_db, error))
    return FALSE;
  if (!identify (*out_db, display, out_version, error))
    {
      sqlite3_close_v2 (*out_db);
      *out_db = NULL;
      return FALSE;
    }
  return TRUE;
}

/* While a store of a file is open in this process, another open of the same file does not check
 * its rows again as long as the file is as it was when they were checked: the window opens a
 * project on several connections at once (the engine's, the worker's, the thumbnailer's). What
 * stat says of the file and of its WAL is its signature; a write by anyone changes it. */
typedef struct
{
  guint open_stores;
  char *signature; /* when its rows were last checked */
} CheckedFile;

static GMutex checked_lock;
static GHashTable *checked_files; /* "dev:inode" → CheckedFile */

static void
checked_file_free (CheckedFile *file)
{
  g_free (file->signature);
  g_free (file);
}

/* "dev:inode" in out_key, and the signature; FALSE when the file cannot be stat'ed. */
static gboolean
file_signature (const char *path, char **out_key, char **out_signature)
{
  g_autofree char *wal_path = g_strconcat (path, "-wal", NULL);
  struct stat st, wal;

  if (stat (path, &st) != 0)
    return FALSE;
  if (stat (wal_path, &wal) != 0)
    memset (&wal, 0, sizeof wal);
  *out_key = g_strdup_printf ("%ju:%ju", (uintmax_t) st.st_dev, (uintmax_t) st.st_ino);
  *out_signature = g_strdup_printf ("%jd:%jd.%09ld:%jd.%09ld:%jd:%jd.%09ld",
                                    (intmax_t) st.st_size, (intmax_t) st.st_mtim.tv_sec,
                                    st.st_mtim.tv_nsec, (intmax_t) st.st_ctim.tv_sec,
                                    st.st_ctim.tv_nsec, (intmax_t) wal.st_size,
                                    (intmax_t) wal.st_mtim.tv_sec, wal.st_mtim.tv_nsec);
  return TRUE;
}

static gboolean
validate_rows_once (VetoStore *store, const char *display, GError **error)
{
  g_autofree char *key = NULL;
  g_autofree char *signature = NULL;
  CheckedFile *file;
  gboolean known = FALSE, stated = file_signature (store->path, &key, &signature);

  g_mutex_lock (&checked_lock);
  if (stated && checked_files && (file = g_hash_table_lookup (checked_files, key)))
    known = file->open_stores > 0 && g_strcmp0 (file->signature, signature) == 0;
  g_mutex_unlock (&checked_lock);
  if (!known && !veto_store_validate_rows (store->db, display, error))
    return FALSE;
  if (!stated)
    return TRUE;
  g_mutex_lock (&checked_lock);
  if (checked_files == NULL)
    checked_files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) checked_file_free);
  file = g_hash_table_lookup (checked_files, key);
  if (file == NULL)
    {
      file = g_new0 (CheckedFile, 1);
      g_hash_table_insert (checked_files, g_strdup (key), file);
    }
  file->open_stores++;
  g_free (file->signature);
  file->signature = g_steal_pointer (&signature);
  g_mutex_unlock (&checked_lock);
  store->checked_key = g_steal_pointer (&key);
  return TRUE;
}

static void
forget_checked (VetoStore *store)
{
  CheckedFile *file;

  if (store->checked_key == NULL)
    return;
  g_mutex_lock (&checked_lock);
  file = g_hash_table_lookup (checked_files, store->checked_key);
  if (file && --file->open_stores == 0)
    g_hash_table_remove (checked_files, store->checked_key);
  g_mutex_unlock (&checked_lock);
  g_clear_pointer (&store->checked_key, g_free);
}

typedef enum
{
  OPEN_READ,
  OPEN_WRITE,
  OPEN_TOKENS,
} OpenMode;

/* What `veto invite` may write beside a server: annotators and their tokens, nothing else (the
 * schema included). */
static int
authorize_tokens_only (void *data, int action, const char *arg1, const char *arg2,
                       const char *database, const char *trigger)
{
  switch (action)
    {
    case SQLITE_INSERT:
    case SQLITE_UPDATE:
    case SQLITE_DELETE:
      return g_strcmp0 (arg1, "tokens") == 0 || g_strcmp0 (arg1, "annotators") == 0
                 ? SQLITE_OK : SQLITE_DENY;
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_TRANSACTION:
    case SQLITE_FUNCTION:
    case SQLITE_RECURSIVE:
      return SQLITE_OK;
    default:
      return SQLITE_DENY;
    }
}

static VetoStore *
open_store (const char *path, OpenMode mode, GError **error)
{
  g_autoptr (VetoStore) store = store_new (path);
  g_autofree char *display = g_filename_display_name (path);
  gboolean read_only = mode == OPEN_READ, beside_server = FALSE;
  int version = 0;

  store->read_only = read_only;
  if (!check_file_kind (path, display, error))
    return NULL;
  /* The lock before anything could write to the file; invite goes on without one while a server
   * holds it (it alone refuses nothing else then: the server reads the tokens it writes). */
  store->claim = veto_store_claim (path, read_only ? VETO_STORE_CLAIM_READ : VETO_STORE_CLAIM_WRITE,
                                   mode == OPEN_TOKENS ? NULL : error);
  if (store->claim == NULL && mode == OPEN_TOKENS)
    {
      beside_server = TRUE;
      store->claim = veto_store_claim (path, VETO_STORE_CLAIM_READ, error);
    }
  if (store->claim == NULL)
    return NULL;
  /* Identify the file before anything could write to it (WAL mode would change its header), and
   * refuse a schema that is not Veto's before any query of ours runs on it. */
  if (!open_connection (store, read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE, error)
      || !identify (store->db, display, &version, error)
      || !veto_store_validate_schema (store->db, display, version, error))
    return NULL;
  if (!read_only && sqlite3_db_readonly (store->db, "main") == 1)
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_READ_ONLY,
                   "%s: the project cannot be written (read-only file or file system)", display);
      return NULL;
    }
  if (!configure_connection (store, error))
    return NULL;
  if (version < VETO_STORE_SCHEMA_VERSION)
    {
      if (read_only)
        {
          g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_READ_ONLY,
                       "%s: an older project (schema %d) needs an upgrade, which a read-only "
                       "open cannot do", display, version);
          return NULL;
        }
      if (beside_server)
        {
          g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_BUSY,
                       "%s: in use: an older veto serve is serving this project (schema %d); "
                       "stop it before upgrading the project", display, version);
          return NULL;
        }
      if (!backup_before_migration (store, version, error) || !migrate (store, version, error))
        return NULL;
    }
  /* Every row the rest of Veto will be handed is what Veto itself would have written. */
  if (!validate_rows_once (store, display, error))
    return NULL;
  if (mode == OPEN_TOKENS)
    sqlite3_set_authorizer (store->db, authorize_tokens_only, NULL);
  return g_steal_pointer (&store);
}

VetoStore *
veto_store_open_scratch (const char *path, GError **error)
{
  g_autoptr (VetoStore) source = store_new (path);
  g_autofree char *display = g_filename_display_name (path);
  g_autofree char *dir = NULL;
  g_autofree char *copy = NULL;
  g_autoptr (VetoStore) scratch = NULL;
  int version = 0;

  /* The source is only read, whatever its schema: its copy is what gets migrated and checked. */
  source->read_only = TRUE;
  if (!check_file_kind (path, display, error)
      || !open_connection (source, SQLITE_OPEN_READONLY, error)
      || !identify (source->db, display, &version, error)
      || !veto_store_validate_schema (source->db, display, version, error)
      || !configure_connection (source, error))
    return NULL;
  dir = g_dir_make_tmp ("veto-scratch-XXXXXX", error);
  if (dir == NULL)
    return NULL;
  copy = g_build_filename (dir, "scratch.veto", NULL);
  if (!veto_store_copy_to (source, copy, error))
    {
      remove_scratch_dir (dir);
      return NULL;
    }
  scratch = veto_store_open (copy, FALSE, error);
  if (scratch == NULL)
    {
      remove_scratch_dir (dir);
      return NULL;
    }
  g_free (scratch->base_dir);
  scratch->base_dir = g_strdup (source->base_dir);
  scratch->scratch_dir = g_steal_pointer (&dir);
  return g_steal_pointer (&scratch);
}

VetoStore *
veto_store_open (const char *path, gboolean read_only, GError **error)
{
  return open_store (path, read_only ? OPEN_READ : OPEN_WRITE, error);
}

VetoStore *
veto_store_open_tokens (const char *path, GError **error)
{
  return open_store (path, OPEN_TOKENS, error);
}

/* Deferred, the committing connection never checkpoints by itself: SQLite would do it inside
 * the COMMIT that crosses 1,000 pages of WAL (and, while a reader holds back a full checkpoint,
 * in every COMMIT after it), syncing the WAL and the database file each time, tens of
 * milliseconds on a loaded disk, on the thread that answers. veto_store_checkpoint does it
 * elsewhere. */
gboolean
veto_store_set_deferred_sync (VetoStore *store, gboolean deferred, GError **error)
{
  return exec_sql (store, deferred ? "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0"
                                   : "PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 1000",
                   "configuring the project", error);
}

gboolean
veto_store_checkpoint (VetoStore *store, guint64 min_wal_bytes, GError **error)
{
  g_autofree char *wal = g_strconcat (store->path, "-wal", NULL);
  g_autofree char *display = NULL;
  struct stat st;
  int rc;

  if (stat (wal, &st) != 0 || (guint64) st.st_size < min_wal_bytes)
    return TRUE;
  display = g_filename_display_name (store->path);
  if (store->checkpointer == NULL)
    {
      if (!connect_db (store->path, SQLITE_OPEN_READWRITE, &store->checkpointer, error))
        return FALSE;
      /* A connection knows the file is in WAL mode (and checkpoints it) once it has read it. */
      rc = sqlite3_exec (store->checkpointer, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
      if (rc != SQLITE_OK)
        {
          veto_store_set_sqlite_error (store->checkpointer, display, rc, "checkpointing", error);
          g_clear_pointer (&store->checkpointer, sqlite3_close_v2);
          return FALSE;
        }
    }
  /* PASSIVE: copies what no reader still needs, waits for nobody; the writer restarts the WAL
   * from its start once everything was copied. */
  rc = sqlite3_wal_checkpoint_v2 (store->checkpointer, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                  NULL);
  if (rc != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY)
    {
      veto_store_set_sqlite_error (store->checkpointer, display, rc, "checkpointing", error);
      return FALSE;
    }
  return TRUE;
}

/* In WAL mode with synchronous = NORMAL, SQLite syncs the WAL before each checkpoint and the
 * database after it; commits since the last checkpoint are only in the WAL. Syncing the WAL file
 * (through a descriptor of our own: fsync is per file, not per descriptor) makes them durable as
 * synchronous = FULL would have at each commit. */
gboolean
veto_store_sync (VetoStore *store, GError **error)
{
  g_autofree char *wal = g_strconcat (store->path, "-wal", NULL);
  int fd = g_open (wal, O_RDONLY | O_CLOEXEC, 0);
  int saved;

  if (fd < 0 && errno == ENOENT)
    return TRUE;
  if (fd >= 0 && fdatasync (fd) == 0)
    {
      close (fd);
      return TRUE;
    }
  saved = errno;
  if (fd >= 0)
    close (fd);
  {
    g_autofree char *display = g_filename_display_name (store->path);

    g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_FAILED, "%s: syncing the journal: %s",
                 display, g_strerror (saved));
  }
  return FALSE;
}

gboolean
veto_store_begin (VetoStore *store, GError **error)
{
  g_free (store->transaction_time);
  store->transaction_time = now_iso ();
  return exec_sql (store, "BEGIN IMMEDIATE", "starting to write", error);
}

gboolean
veto_store_commit (VetoStore *store, GError **error)
{
  return exec_sql (store, "COMMIT", "saving", error);
}

void
veto_store_rollback (VetoStore *store)
{
  if (!sqlite3_get_autocommit (store->db))
    sqlite3_exec (store->db, "ROLLBACK", NULL, NULL, NULL);
}

/* --- classes --- */

void
veto_class_free (VetoClass *klass)
{
  if (klass == NULL)
    return;
  g_free (klass->name);
  g_free (klass->description);
  g_free (klass);
}

gboolean
veto_store_ensure_class (VetoStore *store, const char *name, gint64 *out_id,
                         gboolean *out_created, GError **error)
{
  g_autoptr (VetoStoreStatement) find = NULL;
  g_autoptr (VetoStoreStatement) insert = NULL;
  g_autofree char *now = NULL;
  g_autofree char *display = g_filename_display_name (store->path);
  int rc;

  if (name == NULL || *name == '\0' || !g_utf8_validate (name, -1, NULL))
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                   "%s: a class name must be non-empty UTF-8 text", display);
      return FALSE;
    }
  find = prepare (store, "SELECT id FROM classes WHERE name = ?", error);
  if (find == NULL)
    return FALSE;
  sqlite3_bind_text (find, 1, name, -1, SQLITE_STATIC);
  rc = sqlite3_step (find);
  if (rc == SQLITE_ROW)
    {
      *out_id = sqlite3_column_int64 (find, 0);
      if (out_created)
        *out_created = FALSE;
      return TRUE;
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "reading classes");
      return FALSE;
    }
  insert = prepare (store, "INSERT INTO classes (name, created_at) VALUES (?, ?)", error);
  if (insert == NULL)
    return FALSE;
  now = now_iso ();
  sqlite3_bind_text (insert, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 2, now, -1, SQLITE_STATIC);
  if (!step_done (store, insert, "adding a class", error))
    return FALSE;
  *out_id = sqlite3_last_insert_rowid (store->db);
  if (out_created)
    *out_created = TRUE;
  return TRUE;
}

GPtrArray *
veto_store_list_classes (VetoStore *store, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      "SELECT id, name, description, novel FROM classes ORDER BY id", error);
  g_autoptr (GPtrArray) classes = g_ptr_array_new_with_free_func ((GDestroyNotify) veto_class_free);
  int rc;

  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      VetoClass *klass = g_new0 (VetoClass, 1);

      klass->id = sqlite3_column_int64 (stmt, 0);
      klass->name = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
      klass->description = g_strdup ((const char *) sqlite3_column_text (stmt, 2));
      klass->novel = sqlite3_column_int (stmt, 3) != 0;
      g_ptr_array_add (classes, klass);
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "reading classes");
      return NULL;
    }
  return g_steal_pointer (&classes);
}

/* --- imports and items --- */

gboolean
veto_store_add_import (VetoStore *store, const char *source, const char *format, VetoSplit split,
                       gint64 *out_id, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      "INSERT INTO imports (source, format, split, imported_at) VALUES (?, ?, ?, ?)", error);
  g_autofree char *now = now_iso ();

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, source, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, format, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 3, veto_split_to_string (split), -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, now, -1, SQLITE_STATIC);
  if (!step_done (store, stmt, "recording the import", error))
    return FALSE;
  *out_id = sqlite3_last_insert_rowid (store->db);
  return TRUE;
}

gboolean
veto_store_finish_import (VetoStore *store, gint64 import_id, guint n_items, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store, "UPDATE imports SET n_items = ? WHERE id = ?",
                                        error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, n_items);
  sqlite3_bind_int64 (stmt, 2, import_id);
  return step_done (store, stmt, "recording the import", error);
}

gboolean
veto_store_add_item (VetoStore *store, const VetoItemRecord *item, gint64 *out_id, GError **error)
{
  sqlite3_stmt *stmt;
  int rc;

  g_return_val_if_fail (!sqlite3_get_autocommit (store->db), FALSE);
  if (store->insert_item == NULL)
    {
      rc = sqlite3_prepare_v3 (store->db,
          "INSERT INTO items (source, path, pixels, sha256, width, height, channels, split,"
          " gold_class_id, import_id, import_index, added_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
          -1, SQLITE_PREPARE_PERSISTENT, &store->insert_item, NULL);
      if (rc != SQLITE_OK)
        {
          set_sqlite_error (store, error, rc, "adding an item");
          return FALSE;
        }
    }
  stmt = store->insert_item;
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
  sqlite3_bind_text (stmt, 1, item->pixels ? "embedded" : "file", -1, SQLITE_STATIC);
  if (item->path)
    sqlite3_bind_text (stmt, 2, item->path, -1, SQLITE_STATIC);
  if (item->pixels)
    sqlite3_bind_blob (stmt, 3, item->pixels,
                       (int) ((gsize) item->width * item->height * item->channels), SQLITE_STATIC);
  sqlite3_bind_text (stmt, 4, item->sha256, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 5, item->width);
  sqlite3_bind_int (stmt, 6, item->height);
  sqlite3_bind_int (stmt, 7, item->channels);
  sqlite3_bind_text (stmt, 8, veto_split_to_string (item->split), -1, SQLITE_STATIC);
  if (item->gold_class > 0)
    sqlite3_bind_int64 (stmt, 9, item->gold_class);
  sqlite3_bind_int64 (stmt, 10, item->import_id);
  sqlite3_bind_int64 (stmt, 11, item->import_index);
  sqlite3_bind_text (stmt, 12, store->transaction_time, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  sqlite3_reset (stmt);
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "adding an item");
      return FALSE;
    }
  if (out_id)
    *out_id = sqlite3_last_insert_rowid (store->db);
  return TRUE;
}

gboolean
veto_store_find_item_by_sha256 (VetoStore *store, const char *sha256, gint64 *out_id,
                                GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      "SELECT id FROM items WHERE sha256 = ? ORDER BY id LIMIT 1", error);
  int rc;

  *out_id = 0;
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, sha256, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    *out_id = sqlite3_column_int64 (stmt, 0);
  else if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "looking up an item");
      return FALSE;
    }
  return TRUE;
}

void
veto_item_free (VetoItem *item)
{
  if (item == NULL)
    return;
  g_free (item->path);
  g_clear_pointer (&item->pixels, g_bytes_unref);
  g_free (item->sha256);
  g_free (item);
}

#define ITEM_COLUMNS "id, path, pixels, sha256, width, height, channels, split, gold_class_id"

static void
item_fill (VetoItem *item, sqlite3_stmt *stmt)
{
  const void *blob = sqlite3_column_blob (stmt, 2);

  item->id = sqlite3_column_int64 (stmt, 0);
  item->path = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  item->pixels = blob ? g_bytes_new (blob, sqlite3_column_bytes (stmt, 2)) : NULL;
  item->sha256 = g_strdup ((const char *) sqlite3_column_text (stmt, 3));
  item->width = sqlite3_column_int (stmt, 4);
  item->height = sqlite3_column_int (stmt, 5);
  item->channels = sqlite3_column_int (stmt, 6);
  veto_split_from_string ((const char *) sqlite3_column_text (stmt, 7), &item->split);
  item->gold_class = sqlite3_column_int64 (stmt, 8);
}

static void
item_clear (VetoItem *item)
{
  g_clear_pointer (&item->path, g_free);
  g_clear_pointer (&item->pixels, g_bytes_unref);
  g_clear_pointer (&item->sha256, g_free);
}

VetoItem *
veto_store_get_item (VetoStore *store, gint64 id, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store, "SELECT " ITEM_COLUMNS " FROM items WHERE id = ?",
                                        error);
  g_autoptr (VetoItem) item = g_new0 (VetoItem, 1);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, id);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      if (rc == SQLITE_DONE)
        g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID, "no item %" G_GINT64_FORMAT,
                     id);
      else
        set_sqlite_error (store, error, rc, "reading an item");
      return NULL;
    }
  item_fill (item, stmt);
  return g_steal_pointer (&item);
}

gboolean
veto_store_foreach_item (VetoStore *store, VetoSplit split, VetoItemFunc func,
                         gpointer user_data, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      split == VETO_N_SPLITS ? "SELECT " ITEM_COLUMNS " FROM items ORDER BY id"
                             : "SELECT " ITEM_COLUMNS " FROM items WHERE split = ? ORDER BY id",
      error);
  VetoItem item = { 0 };
  int rc;

  if (stmt == NULL)
    return FALSE;
  if (split != VETO_N_SPLITS)
    sqlite3_bind_text (stmt, 1, veto_split_to_string (split), -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gboolean go_on;

      item_fill (&item, stmt);
      go_on = func (&item, user_data);
      item_clear (&item);
      if (!go_on)
        return TRUE;
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "reading items");
      return FALSE;
    }
  return TRUE;
}

/* The item ids a prepared query returns in its first column, split bound to ?1 when given. */
static GArray *
item_ids_of (VetoStore *store, VetoStoreStatement *stmt, VetoSplit split, GError **error)
{
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  int rc;

  if (split != VETO_N_SPLITS)
    sqlite3_bind_text (stmt, 1, veto_split_to_string (split), -1, SQLITE_STATIC);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 id = sqlite3_column_int64 (stmt, 0);

      g_array_append_val (ids, id);
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "reading items");
      return NULL;
    }
  return g_steal_pointer (&ids);
}

GArray *
veto_store_list_item_ids (VetoStore *store, VetoSplit split, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      split == VETO_N_SPLITS ? "SELECT id FROM items ORDER BY id"
                             : "SELECT id FROM items WHERE split = ? ORDER BY id", error);

  return stmt == NULL ? NULL : item_ids_of (store, stmt, split, error);
}

GArray *
veto_store_list_gold_item_ids (VetoStore *store, VetoSplit split, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      "SELECT id FROM items WHERE split = ? AND gold_class_id IS NOT NULL ORDER BY id", error);

  return stmt == NULL ? NULL : item_ids_of (store, stmt, split, error);
}

/* --- annotators --- */

gboolean
veto_store_ensure_annotator (VetoStore *store, const char *name, VetoAnnotatorKind kind,
                             gint64 *out_id, GError **error)
{
  g_autoptr (VetoStoreStatement) find = prepare (store, "SELECT id FROM annotators WHERE name = ?", error);
  g_autoptr (VetoStoreStatement) insert = NULL;
  g_autofree char *now = now_iso ();
  int rc;

  if (find == NULL)
    return FALSE;
  sqlite3_bind_text (find, 1, name, -1, SQLITE_STATIC);
  rc = sqlite3_step (find);
  if (rc == SQLITE_ROW)
    {
      *out_id = sqlite3_column_int64 (find, 0);
      return TRUE;
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "reading annotators");
      return FALSE;
    }
  insert = prepare (store, "INSERT INTO annotators (name, kind, created_at) VALUES (?, ?, ?)",
                    error);
  if (insert == NULL)
    return FALSE;
  sqlite3_bind_text (insert, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 2, veto_annotator_kind_to_string (kind), -1, SQLITE_STATIC);
  sqlite3_bind_text (insert, 3, now, -1, SQLITE_STATIC);
  if (!step_done (store, insert, "adding an annotator", error))
    return FALSE;
  *out_id = sqlite3_last_insert_rowid (store->db);
  return TRUE;
}

/* --- annotations --- */

static char *
class_name (VetoStore *store, gint64 id)
{
  sqlite3_stmt *stmt = kept (store, "SELECT name FROM classes WHERE id = ?", NULL);
  char *name = NULL;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, id);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    name = g_strdup ((const char *) sqlite3_column_text (stmt, 0));
  sqlite3_reset (stmt);
  return name;
}

/* The question exactly as it was put to the annotator, as one JSON object. */
static char *
question_json (VetoStore *store, const VetoAnswer *answer, GError **error)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *display = g_filename_display_name (store->path);

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "kind");
  json_builder_add_string_value (builder, veto_answer_kind_to_string (answer->kind));
  json_builder_set_member_name (builder, "item");
  json_builder_add_int_value (builder, answer->item);
  switch (answer->kind)
    {
    case VETO_KIND_COMPLEMENTARY:
      json_builder_set_member_name (builder, "candidates");
      json_builder_begin_array (builder);
      for (guint i = 0; i < answer->n_candidates; i++)
        {
          g_autofree char *name = class_name (store, answer->candidates[i]);

          if (name == NULL)
            {
              g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                           "%s: candidate class %" G_GINT64_FORMAT " does not exist", display,
                           answer->candidates[i]);
              return NULL;
            }
          json_builder_add_string_value (builder, name);
        }
      json_builder_end_array (builder);
      break;
    case VETO_KIND_PREFERENCE:
      json_builder_set_member_name (builder, "left");
      json_builder_add_int_value (builder, answer->item);
      json_builder_set_member_name (builder, "right");
      json_builder_add_int_value (builder, answer->right_item);
      json_builder_set_member_name (builder, "criterion");
      json_builder_add_string_value (builder, answer->criterion);
      break;
    case VETO_KIND_ORDINARY:
    case VETO_KIND_SOFT:
    case VETO_N_KINDS:
      break;
    }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

static gboolean
validate_answer (VetoStore *store, const VetoAnswer *answer, GError **error)
{
  g_autofree char *display = g_filename_display_name (store->path);
  const char *problem = NULL;

  switch (answer->kind)
    {
    case VETO_KIND_ORDINARY:
      if (answer->answer_class <= 0)
        problem = "an ordinary answer needs a class";
      break;
    case VETO_KIND_COMPLEMENTARY:
      if (answer->answer_class <= 0 || answer->n_candidates == 0)
        problem = "a complementary answer needs its class and the candidates shown";
      else
        {
          gboolean shown = FALSE;

          for (guint i = 0; i < answer->n_candidates; i++)
            shown |= answer->candidates[i] == answer->answer_class;
          if (!shown)
            problem = "a complementary answer must be one of the candidates shown";
        }
      break;
    case VETO_KIND_PREFERENCE:
      if (answer->right_item <= 0 || answer->criterion == NULL)
        problem = "a preference answer needs both items and the criterion";
      break;
    case VETO_KIND_SOFT:
      if (answer->soft_json == NULL)
        problem = "a soft answer needs its probabilities";
      break;
    case VETO_N_KINDS:
    default:
      problem = "unknown kind of answer";
      break;
    }
  if (problem)
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID, "%s: %s", display, problem);
      return FALSE;
    }
  return TRUE;
}

gboolean
veto_store_add_annotation (VetoStore *store, const VetoAnswer *answer, gint64 *out_id,
                           GError **error)
{
  static const char sql[] =
    "INSERT INTO annotations (item_id, annotator_id, kind, answer_class_id, right_item_id,"
    " criterion, preferred, soft_labels, question, model_version, strategy, score, campaign_id,"
    " shown_at, answered_at, answer_uid) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
  gboolean own_transaction = sqlite3_get_autocommit (store->db);
  sqlite3_stmt *stmt = NULL;
  sqlite3_stmt *cand = NULL;
  g_autofree char *question = NULL;
  g_autofree char *shown_at = NULL;
  g_autofree char *answered_at = NULL;
  gint64 id;

  if (!validate_answer (store, answer, error))
    return FALSE;
  if (own_transaction && !veto_store_begin (store, error))
    return FALSE;
  question = question_json (store, answer, error);
  if (question == NULL)
    goto fail;
  stmt = kept (store, sql, error);
  if (stmt == NULL)
    goto fail;
  sqlite3_bind_int64 (stmt, 1, answer->item);
  sqlite3_bind_int64 (stmt, 2, answer->annotator);
  sqlite3_bind_text (stmt, 3, veto_answer_kind_to_string (answer->kind), -1, SQLITE_STATIC);
  if (answer->answer_class > 0)
    sqlite3_bind_int64 (stmt, 4, answer->answer_class);
  if (answer->kind == VETO_KIND_PREFERENCE)
    {
      sqlite3_bind_int64 (stmt, 5, answer->right_item);
      sqlite3_bind_text (stmt, 6, answer->criterion, -1, SQLITE_STATIC);
      sqlite3_bind_text (stmt, 7, veto_preferred_to_string (answer->preferred), -1, SQLITE_STATIC);
    }
  if (answer->soft_json)
    sqlite3_bind_text (stmt, 8, answer->soft_json, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 9, question, -1, SQLITE_STATIC);
  if (answer->model_version > 0)
    sqlite3_bind_int64 (stmt, 10, answer->model_version);
  if (answer->strategy)
    sqlite3_bind_text (stmt, 11, answer->strategy, -1, SQLITE_STATIC);
  if (!isnan (answer->score))
    sqlite3_bind_double (stmt, 12, answer->score);
  if (answer->campaign > 0)
    sqlite3_bind_int64 (stmt, 13, answer->campaign);
  if (answer->shown_at_us > 0)
    {
      shown_at = iso_time (answer->shown_at_us);
      sqlite3_bind_text (stmt, 14, shown_at, -1, SQLITE_STATIC);
    }
  answered_at = answer->answered_at_us > 0 ? iso_time (answer->answered_at_us) : now_iso ();
  sqlite3_bind_text (stmt, 15, answered_at, -1, SQLITE_STATIC);
  if (answer->answer_uid)
    sqlite3_bind_text (stmt, 16, answer->answer_uid, -1, SQLITE_STATIC);
  if (!step_done (store, stmt, "saving the answer", error))
    goto fail;
  id = sqlite3_last_insert_rowid (store->db);
  if (answer->n_candidates > 0)
    {
      cand = kept (store,
          "INSERT INTO annotation_candidates (annotation_id, position, class_id) VALUES (?,?,?)",
          error);
      if (cand == NULL)
        goto fail;
      for (guint i = 0; i < answer->n_candidates; i++)
        {
          sqlite3_reset (cand);
          sqlite3_bind_int64 (cand, 1, id);
          sqlite3_bind_int (cand, 2, i);
          sqlite3_bind_int64 (cand, 3, answer->candidates[i]);
          if (!step_done (store, cand, "saving the candidates shown", error))
            goto fail;
        }
    }
  if (own_transaction && !veto_store_commit (store, error))
    goto fail;
  if (out_id)
    *out_id = id;
  return TRUE;

fail:
  if (own_transaction)
    veto_store_rollback (store);
  return FALSE;
}

gboolean
veto_store_find_answer_uid (VetoStore *store, const char *answer_uid, gint64 *out_id,
                            gint64 *out_annotator, GError **error)
{
  sqlite3_stmt *stmt
    = kept (store, "SELECT id, annotator_id FROM annotations WHERE answer_uid = ?", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, answer_uid, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  *out_id = rc == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : 0;
  if (out_annotator)
    *out_annotator = rc == SQLITE_ROW ? sqlite3_column_int64 (stmt, 1) : 0;
  sqlite3_reset (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "reading answers");
      return FALSE;
    }
  return TRUE;
}

/* Runs an UPDATE of one annotation (bound as the last parameter) that must change one row. */
static gboolean
update_one_annotation (VetoStore *store, sqlite3_stmt *stmt, int id_param, gint64 id,
                       GError **error)
{
  g_autofree char *display = g_filename_display_name (store->path);

  sqlite3_bind_int64 (stmt, id_param, id);
  if (!step_done (store, stmt, "saving", error))
    return FALSE;
  if (sqlite3_changes (store->db) != 1)
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                   "%s: no answer %" G_GINT64_FORMAT " to change", display, id);
      return FALSE;
    }
  return TRUE;
}

gboolean
veto_store_undo_annotation (VetoStore *store, gint64 annotation_id, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      "UPDATE annotations SET undone = 1, undone_at = ? WHERE id = ? AND undone = 0", error);
  g_autofree char *now = now_iso ();

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, now, -1, SQLITE_STATIC);
  return update_one_annotation (store, stmt, 2, annotation_id, error);
}

gboolean
veto_store_flag_annotation (VetoStore *store, gint64 annotation_id, gboolean flagged,
                            GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store, "UPDATE annotations SET flagged = ? WHERE id = ?",
                                        error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int (stmt, 1, flagged ? 1 : 0);
  return update_one_annotation (store, stmt, 2, annotation_id, error);
}

void
veto_annotation_free (VetoAnnotation *a)
{
  if (a == NULL)
    return;
  g_free (a->item_sha256);
  g_free (a->annotator);
  g_free (a->annotator_kind);
  g_free (a->answer_class);
  g_clear_pointer (&a->candidates, g_ptr_array_unref);
  g_free (a->criterion);
  g_free (a->preferred);
  g_free (a->soft_json);
  g_free (a->question_json);
  g_free (a->strategy);
  g_free (a->shown_at);
  g_free (a->answered_at);
  g_free (a);
}

double
veto_annotation_seconds (const VetoAnnotation *a)
{
  g_autoptr (GDateTime) shown = a->shown_at ? g_date_time_new_from_iso8601 (a->shown_at, NULL)
                                            : NULL;
  g_autoptr (GDateTime) answered = a->answered_at
                                       ? g_date_time_new_from_iso8601 (a->answered_at, NULL)
                                       : NULL;

  if (shown == NULL || answered == NULL)
    return NAN;
  return g_date_time_difference (answered, shown) / (double) G_TIME_SPAN_SECOND;
}

/* The annotations that where (a condition on a, with one parameter: include_undone) selects,
 * in id order. */
static gboolean
foreach_annotation_where (VetoStore *store, const char *where, gboolean include_undone,
                          VetoAnnotationFunc func, gpointer user_data, GError **error)
{
  g_autofree char *sql = g_strconcat (
      "SELECT a.id, a.kind, a.item_id, i.sha256, n.name, n.kind, c.name, a.right_item_id,"
      " a.criterion, a.preferred, a.soft_labels, a.question, a.model_version, a.strategy,"
      " a.score, a.campaign_id, a.shown_at, a.answered_at, a.undone, a.flagged, a.annotator_id"
      " FROM annotations a JOIN items i ON i.id = a.item_id"
      " JOIN annotators n ON n.id = a.annotator_id"
      " LEFT JOIN classes c ON c.id = a.answer_class_id"
      " WHERE ", where, " ORDER BY a.id", NULL);
  g_autoptr (VetoStoreStatement) stmt = prepare (store, sql, error);
  g_autoptr (VetoStoreStatement) cand = prepare (store,
      "SELECT c.name FROM annotation_candidates ac JOIN classes c ON c.id = ac.class_id"
      " WHERE ac.annotation_id = ? ORDER BY ac.position", error);
  int rc;

  if (stmt == NULL || cand == NULL)
    return FALSE;
  sqlite3_bind_int (stmt, 1, include_undone ? 1 : 0);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr (VetoAnnotation) a = g_new0 (VetoAnnotation, 1);
#define TEXT(i) g_strdup ((const char *) sqlite3_column_text (stmt, i))
      a->id = sqlite3_column_int64 (stmt, 0);
      veto_answer_kind_from_string ((const char *) sqlite3_column_text (stmt, 1), &a->kind);
      a->item = sqlite3_column_int64 (stmt, 2);
      a->item_sha256 = TEXT (3);
      a->annotator = TEXT (4);
      a->annotator_kind = TEXT (5);
      a->answer_class = TEXT (6);
      a->right_item = sqlite3_column_int64 (stmt, 7);
      a->criterion = TEXT (8);
      a->preferred = TEXT (9);
      a->soft_json = TEXT (10);
      a->question_json = TEXT (11);
      a->model_version = sqlite3_column_int64 (stmt, 12);
      a->strategy = TEXT (13);
      a->score = sqlite3_column_type (stmt, 14) == SQLITE_NULL ? NAN
                                                               : sqlite3_column_double (stmt, 14);
      a->campaign = sqlite3_column_int64 (stmt, 15);
      a->shown_at = TEXT (16);
      a->answered_at = TEXT (17);
      a->undone = sqlite3_column_int (stmt, 18) != 0;
      a->flagged = sqlite3_column_int (stmt, 19) != 0;
      a->annotator_id = sqlite3_column_int64 (stmt, 20);
#undef TEXT
      a->candidates = g_ptr_array_new_with_free_func (g_free);
      sqlite3_reset (cand);
      sqlite3_bind_int64 (cand, 1, a->id);
      while ((rc = sqlite3_step (cand)) == SQLITE_ROW)
        g_ptr_array_add (a->candidates, g_strdup ((const char *) sqlite3_column_text (cand, 0)));
      if (rc != SQLITE_DONE)
        break;
      if (!func (a, user_data))
        return TRUE;
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "reading answers");
      return FALSE;
    }
  return TRUE;
}

gboolean
veto_store_foreach_annotation (VetoStore *store, gboolean include_undone,
                               VetoAnnotationFunc func, gpointer user_data, GError **error)
{
  return foreach_annotation_where (store, "a.undone = 0 OR ?", include_undone, func, user_data,
                                   error);
}

gboolean
veto_store_foreach_anchor_answer (VetoStore *store, VetoAnnotationFunc func, gpointer user_data,
                                  GError **error)
{
  return foreach_annotation_where (
      store,
      "(a.undone = 0 OR ?) AND a.kind = 'complementary' AND (a.strategy = 'anchor' OR a.item_id"
      " IN (SELECT item_id FROM campaign_items WHERE anchor = 1))",
      FALSE, func, user_data, error);
}

/* --- the lab server's access tokens --- */

gboolean
veto_store_add_token (VetoStore *store, gint64 annotator, const char *hash, gboolean admin,
                      GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      "INSERT INTO tokens (annotator_id, hash, admin, created_at) VALUES (?, ?, ?, ?)", error);
  g_autofree char *now = now_iso ();

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, annotator);
  sqlite3_bind_text (stmt, 2, hash, -1, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 3, admin ? 1 : 0);
  sqlite3_bind_text (stmt, 4, now, -1, SQLITE_STATIC);
  return step_done (store, stmt, "adding a token", error);
}

gboolean
veto_store_revoke_tokens (VetoStore *store, gint64 annotator, guint *out_revoked, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      "UPDATE tokens SET revoked_at = ? WHERE annotator_id = ? AND revoked_at IS NULL", error);
  g_autofree char *now = now_iso ();

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, now, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, annotator);
  if (!step_done (store, stmt, "revoking tokens", error))
    return FALSE;
  if (out_revoked)
    *out_revoked = sqlite3_changes (store->db);
  return TRUE;
}

gboolean
veto_store_find_token (VetoStore *store, const char *hash, gint64 *out_annotator,
                       char **out_annotator_name, gboolean *out_admin, GError **error)
{
  sqlite3_stmt *stmt = kept (store,
      "SELECT t.annotator_id, a.name, t.admin FROM tokens t JOIN annotators a"
      " ON a.id = t.annotator_id WHERE t.hash = ? AND t.revoked_at IS NULL", error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, hash, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "reading tokens");
      sqlite3_reset (stmt);
      return FALSE;
    }
  *out_annotator = rc == SQLITE_ROW ? sqlite3_column_int64 (stmt, 0) : 0;
  if (out_annotator_name)
    *out_annotator_name = rc == SQLITE_ROW
                          ? g_strdup ((const char *) sqlite3_column_text (stmt, 1)) : NULL;
  if (out_admin)
    *out_admin = rc == SQLITE_ROW && sqlite3_column_int (stmt, 2) == 1;
  sqlite3_reset (stmt);
  return TRUE;
}

gboolean
veto_store_put_lease (VetoStore *store, gint64 question, gint64 campaign, gint64 annotator,
                      const char *lease, GError **error)
{
  sqlite3_stmt *stmt = kept (store,
      "INSERT OR REPLACE INTO leases (question, campaign_id, annotator_id, lease)"
      " VALUES (?, ?, ?, ?)", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, question);
  sqlite3_bind_int64 (stmt, 2, campaign);
  sqlite3_bind_int64 (stmt, 3, annotator);
  sqlite3_bind_text (stmt, 4, lease, -1, SQLITE_STATIC);
  return step_done (store, stmt, "saving a question handed out", error);
}

gboolean
veto_store_delete_lease (VetoStore *store, gint64 question, GError **error)
{
  sqlite3_stmt *stmt = kept (store, "DELETE FROM leases WHERE question = ?", error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, question);
  return step_done (store, stmt, "ending a question handed out", error);
}

GPtrArray *
veto_store_list_leases (VetoStore *store, gint64 campaign, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      "SELECT lease FROM leases WHERE campaign_id = ? ORDER BY question", error);
  g_autoptr (GPtrArray) leases = g_ptr_array_new_with_free_func (g_free);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, campaign);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (leases, g_strdup ((const char *) sqlite3_column_text (stmt, 0)));
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "reading the questions handed out");
      return NULL;
    }
  return g_steal_pointer (&leases);
}

GArray *
veto_store_campaign_list_answers (VetoStore *store, gint64 campaign, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      "SELECT item_id, annotator_id FROM annotations WHERE campaign_id = ? AND undone = 0"
      " ORDER BY id", error);
  g_autoptr (GArray) answers = g_array_new (FALSE, FALSE, sizeof (VetoCampaignAnswer));
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, campaign);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      VetoCampaignAnswer a = { sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1) };

      g_array_append_val (answers, a);
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "reading the campaign's answers");
      return NULL;
    }
  return g_steal_pointer (&answers);
}

GArray *
veto_store_list_answered (VetoStore *store, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      "SELECT item_id, annotator_id, right_item_id FROM annotations WHERE undone = 0 ORDER BY id",
      error);
  g_autoptr (GArray) answers = g_array_new (FALSE, FALSE, sizeof (VetoCampaignAnswer));
  int rc;

  if (stmt == NULL)
    return NULL;
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      VetoCampaignAnswer a = { sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1) };

      g_array_append_val (answers, a);
      if (sqlite3_column_type (stmt, 2) != SQLITE_NULL)
        {
          a.item = sqlite3_column_int64 (stmt, 2);
          g_array_append_val (answers, a);
        }
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "reading the answers");
      return NULL;
    }
  return g_steal_pointer (&answers);
}

GArray *
veto_store_list_complementary (VetoStore *store, gint64 item, GError **error)
{
  sqlite3_stmt *stmt = kept (store,
      "SELECT a.id, a.annotator_id, a.answer_class_id, c.class_id FROM annotations a"
      " JOIN annotation_candidates c ON c.annotation_id = a.id"
      " WHERE a.item_id = ? AND a.kind = 'complementary' AND a.undone = 0"
      " AND a.answer_class_id IS NOT NULL ORDER BY a.id, c.position", error);
  g_autoptr (GArray) shown = g_array_new (FALSE, FALSE, sizeof (VetoShownClass));
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, item);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      VetoShownClass c = { sqlite3_column_int64 (stmt, 0), sqlite3_column_int64 (stmt, 1),
                           sqlite3_column_int64 (stmt, 2), sqlite3_column_int64 (stmt, 3) };

      g_array_append_val (shown, c);
    }
  if (rc != SQLITE_DONE)
    set_sqlite_error (store, error, rc, "reading an item's answers");
  sqlite3_reset (stmt);
  return rc == SQLITE_DONE ? g_steal_pointer (&shown) : NULL;
}

/* --- summary --- */

static gboolean
count_rows (VetoStore *store, const char *sql, guint64 *out_count, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store, sql, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      set_sqlite_error (store, error, rc, "counting");
      return FALSE;
    }
  *out_count = sqlite3_column_int64 (stmt, 0);
  return TRUE;
}

gboolean
veto_store_summarize (VetoStore *store, VetoStoreSummary *out_summary, GError **error)
{
  VetoStoreSummary s = { 0 };
  g_autoptr (VetoStoreStatement) splits = NULL;
  g_autoptr (VetoStoreStatement) kinds = NULL;
  int rc, version = 0;

  splits = prepare (store, "SELECT split, COUNT(*) FROM items GROUP BY split", error);
  if (splits == NULL)
    return FALSE;
  while ((rc = sqlite3_step (splits)) == SQLITE_ROW)
    {
      VetoSplit split;

      if (veto_split_from_string ((const char *) sqlite3_column_text (splits, 0), &split))
        s.per_split[split] = sqlite3_column_int64 (splits, 1);
      s.items += sqlite3_column_int64 (splits, 1);
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "counting items");
      return FALSE;
    }
  kinds = prepare (store, "SELECT kind, undone, COUNT(*) FROM annotations GROUP BY kind, undone",
                   error);
  if (kinds == NULL)
    return FALSE;
  while ((rc = sqlite3_step (kinds)) == SQLITE_ROW)
    {
      VetoAnswerKind kind;

      if (sqlite3_column_int (kinds, 1))
        s.undone += sqlite3_column_int64 (kinds, 2);
      else if (veto_answer_kind_from_string ((const char *) sqlite3_column_text (kinds, 0), &kind))
        s.annotations[kind] = sqlite3_column_int64 (kinds, 2);
    }
  if (rc != SQLITE_DONE)
    {
      set_sqlite_error (store, error, rc, "counting answers");
      return FALSE;
    }
  if (!count_rows (store, "SELECT COUNT(*) FROM items WHERE gold_class_id IS NOT NULL",
                   &s.with_gold, error)
      || !count_rows (store, "SELECT COUNT(*) FROM annotators", &s.annotators, error)
      || !count_rows (store, "SELECT COUNT(*) FROM rounds", &s.rounds, error)
      || !count_rows (store, "SELECT COUNT(*) FROM campaigns", &s.campaigns, error)
      || !pragma_int (store, "PRAGMA user_version", &version, error))
    return FALSE;
  s.schema_version = version;
  *out_summary = s;
  return TRUE;
}

/* --- derived data cache --- */

gboolean
veto_store_put_blob (VetoStore *store, const char *key, GBytes *bytes, GError **error)
{
  g_autoptr (VetoStoreStatement) del = prepare (store, "DELETE FROM cache WHERE key = ?", error);
  g_autoptr (VetoStoreStatement) ins = prepare (store,
      "INSERT INTO cache (key, value, written_at) VALUES (?, ?, ?)", error);
  g_autofree char *now = now_iso ();
  gboolean own_transaction = sqlite3_get_autocommit (store->db);
  gsize size;
  const void *data = g_bytes_get_data (bytes, &size);

  if (del == NULL || ins == NULL)
    return FALSE;
  if (own_transaction && !veto_store_begin (store, error))
    return FALSE;
  sqlite3_bind_text (del, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_text (ins, 1, key, -1, SQLITE_STATIC);
  sqlite3_bind_blob64 (ins, 2, data, size, SQLITE_STATIC);
  sqlite3_bind_text (ins, 3, now, -1, SQLITE_STATIC);
  if (!step_done (store, del, "caching derived data", error)
      || !step_done (store, ins, "caching derived data", error)
      || (own_transaction && !veto_store_commit (store, error)))
    {
      if (own_transaction)
        veto_store_rollback (store);
      return FALSE;
    }
  return TRUE;
}

GBytes *
veto_store_get_blob (VetoStore *store, const char *key, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store, "SELECT value FROM cache WHERE key = ?", error);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_text (stmt, 1, key, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return g_bytes_new (sqlite3_column_blob (stmt, 0), sqlite3_column_bytes (stmt, 0));
  if (rc != SQLITE_DONE)
    set_sqlite_error (store, error, rc, "reading cached data");
  return NULL;
}

/* --- rounds --- */

gboolean
veto_store_add_round (VetoStore *store, const char *features, const char *model_kind,
                      guint train_size, const char *metrics_json, double seconds,
                      GBytes *weights, gint64 *out_version, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      "INSERT INTO rounds (features, model, train_size, metrics, seconds, weights, trained_at)"
      " VALUES (?,?,?,?,?,?,?)", error);
  g_autofree char *now = now_iso ();

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_text (stmt, 1, features, -1, SQLITE_STATIC);
  sqlite3_bind_text (stmt, 2, model_kind, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, train_size);
  sqlite3_bind_text (stmt, 4, metrics_json, -1, SQLITE_STATIC);
  sqlite3_bind_double (stmt, 5, seconds);
  if (weights)
    {
      gsize size;
      const void *data = g_bytes_get_data (weights, &size);

      sqlite3_bind_blob64 (stmt, 6, data, size, SQLITE_STATIC);
    }
  sqlite3_bind_text (stmt, 7, now, -1, SQLITE_STATIC);
  if (!step_done (store, stmt, "saving the model", error))
    return FALSE;
  if (out_version)
    *out_version = sqlite3_last_insert_rowid (store->db);
  return TRUE;
}

gboolean
veto_store_get_round (VetoStore *store, gint64 version, gint64 *out_version, char **out_features,
                      GBytes **out_weights, GError **error)
{
  g_autoptr (VetoStoreStatement) stmt = prepare (store,
      "SELECT version, features, weights FROM rounds WHERE weights IS NOT NULL"
      " AND (version = ? OR ? = 0) ORDER BY version DESC LIMIT 1", error);
  g_autofree char *display = g_filename_display_name (store->path);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, version);
  sqlite3_bind_int64 (stmt, 2, version);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      if (rc == SQLITE_DONE && version)
        g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                     "%s: no trained model of round %" G_GINT64_FORMAT, display, version);
      else if (rc == SQLITE_DONE)
        g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                     "%s: no trained model yet (run veto train)", display);
      else
        set_sqlite_error (store, error, rc, "reading a model");
      return FALSE;
    }
  *out_version = sqlite3_column_int64 (stmt, 0);
  *out_features = g_strdup ((const char *) sqlite3_column_text (stmt, 1));
  *out_weights = g_bytes_new (sqlite3_column_blob (stmt, 2), sqlite3_column_bytes (stmt, 2));
  return TRUE;
}

/* --- file items --- */

char *
veto_store_describe_item (VetoStore *store, const VetoItem *item)
{
  g_autofree char *display = g_filename_display_name (store->path);

  return g_strdup_printf ("%s: items row %" G_GINT64_FORMAT " (%s)", display, item->id,
                          item->path ? item->path : "embedded");
}

char *
veto_store_item_file (VetoStore *store, const VetoItem *item, GError **error)
{
  if (item->path == NULL || g_path_is_absolute (item->path))
    {
      g_autofree char *what = veto_store_describe_item (store, item);

      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_CORRUPT,
                   "%s: not a path relative to the project's folder", what);
      return NULL;
    }
  return g_build_filename (store->base_dir, item->path, NULL);
}
