/* Tests of the project file: schema, versions, classes, answers, undo, cache. */
#include <glib/gstdio.h>
#include <math.h>
#include <sqlite3.h>
#include <string.h>

#include "veto-store.h"
#include "test-util.h"

typedef struct
{
  char *dir;
  char *path;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  f->dir = g_dir_make_tmp ("veto-store-XXXXXX", NULL);
  f->path = g_build_filename (f->dir, "p.veto", NULL);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  veto_test_remove_tree (f->dir);
  g_free (f->dir);
  g_free (f->path);
}

static char *
file_sha (const char *path)
{
  g_autofree char *contents = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  return g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guint8 *) contents, length);
}

static void
sql (const char *path, const char *statement)
{
  sqlite3 *db;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, statement, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static void
test_create_and_reopen (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = veto_store_create (f->path, &error);
  VetoStoreSummary s;

  g_assert_no_error (error);
  g_clear_pointer (&store, veto_store_close);
  store = veto_store_create (f->path, &error);
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_EXISTS);
  g_assert_null (store);
  g_clear_error (&error);
  store = veto_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (veto_store_summarize (store, &s, &error));
  g_assert_cmpint (s.schema_version, ==, VETO_STORE_SCHEMA_VERSION);
  g_assert_cmpuint (s.items, ==, 0);
}

static void
test_not_a_project (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  VetoStore *store;

  g_assert_true (g_file_set_contents (f->path, "hello, I am text\n", -1, NULL));
  before = file_sha (f->path);
  store = veto_store_open (f->path, FALSE, &error);
  g_assert_null (store);
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_NOT_A_PROJECT);
  g_assert_nonnull (strstr (error->message, "p.veto"));
  after = file_sha (f->path);
  g_assert_cmpstr (before, ==, after);

  /* An SQLite database of another program is refused too, and left as it was. */
  g_unlink (f->path);
  sql (f->path, "CREATE TABLE other (x INTEGER)");
  g_clear_pointer (&before, g_free);
  g_clear_pointer (&after, g_free);
  before = file_sha (f->path);
  g_clear_error (&error);
  store = veto_store_open (f->path, FALSE, &error);
  g_assert_null (store);
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_NOT_A_PROJECT);
  after = file_sha (f->path);
  g_assert_cmpstr (before, ==, after);

  g_clear_error (&error);
  store = veto_store_open ("/nonexistent/dir/p.veto", FALSE, &error);
  g_assert_null (store);
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_NOT_FOUND);
  g_assert_false (g_file_test ("/nonexistent/dir/p.veto", G_FILE_TEST_EXISTS));
}

static void
test_newer_refused_older_migrated (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *backup = g_strconcat (f->path, ".v0.bak", NULL);
  VetoStore *store = veto_store_create (f->path, &error);
  VetoStoreSummary s;

  g_assert_no_error (error);
  veto_store_close (store);
  sql (f->path, "PRAGMA user_version = 99");
  before = file_sha (f->path);
  store = veto_store_open (f->path, FALSE, &error);
  g_assert_null (store);
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_TOO_NEW);
  g_assert_nonnull (strstr (error->message, "newer"));
  after = file_sha (f->path);
  g_assert_cmpstr (before, ==, after);

  /* A file of schema 0 (our application id, no tables yet) is upgraded after a backup. */
  g_unlink (f->path);
  sql (f->path, "PRAGMA application_id = 1447384143");
  g_clear_error (&error);
  store = veto_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (veto_store_summarize (store, &s, &error));
  g_assert_cmpint (s.schema_version, ==, VETO_STORE_SCHEMA_VERSION);
  g_assert_true (g_file_test (backup, G_FILE_TEST_EXISTS));
  veto_store_close (store);
}

static gint64
add_item (VetoStore *store, const char *sha, gint64 import_id, guint index)
{
  guint8 pixels[4] = { 1, 2, 3, index };
  VetoItemRecord record = {
    .pixels = pixels, .sha256 = sha, .width = 2, .height = 2, .channels = 1,
    .split = VETO_SPLIT_POOL, .import_id = import_id, .import_index = index,
  };
  g_autoptr (GError) error = NULL;
  gint64 id = 0;

  g_assert_true (veto_store_add_item (store, &record, &id, &error));
  g_assert_no_error (error);
  return id;
}

typedef struct
{
  guint count;
  char *candidates;
  gboolean undone_seen;
  gint64 annotator_id;
} Seen;

static gboolean
collect (const VetoAnnotation *a, gpointer user_data)
{
  Seen *seen = user_data;

  seen->count++;
  seen->annotator_id = a->annotator_id;
  if (a->kind == VETO_KIND_COMPLEMENTARY)
    {
      g_ptr_array_add (a->candidates, NULL);
      seen->candidates = g_strjoinv (",", (char **) a->candidates->pdata);
      g_ptr_array_set_size (a->candidates, a->candidates->len - 1);
    }
  seen->undone_seen |= a->undone;
  return TRUE;
}

static void
test_answers_and_undo (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = veto_store_create (f->path, &error);
  gint64 cls[4], item1, item2, import_id, annotator, ordinary, comp, pref;
  const char *names[] = { "cat", "dog", "ship", "frog" };
  VetoStoreSummary s;
  Seen seen = { 0 };

  g_assert_true (veto_store_begin (store, &error));
  for (guint i = 0; i < 4; i++)
    {
      gboolean created;

      g_assert_true (veto_store_ensure_class (store, names[i], &cls[i], &created, &error));
      g_assert_true (created);
    }
  g_assert_true (veto_store_add_import (store, "test", "idx", VETO_SPLIT_POOL, &import_id,
                                        &error));
  item1 = add_item (store, "aa", import_id, 0);
  item2 = add_item (store, "bb", import_id, 1);
  g_assert_true (veto_store_commit (store, &error));
  g_assert_true (veto_store_ensure_annotator (store, "ann", VETO_ANNOTATOR_HUMAN, &annotator,
                                              &error));

  {
    VetoAnswer a = { .kind = VETO_KIND_ORDINARY, .item = item1, .annotator = annotator,
                     .answer_class = cls[1], .score = NAN };

    g_assert_true (veto_store_add_annotation (store, &a, &ordinary, &error));
  }
  {
    gint64 shown[3] = { cls[2], cls[0], cls[3] };
    VetoAnswer a = { .kind = VETO_KIND_COMPLEMENTARY, .item = item1, .annotator = annotator,
                     .answer_class = cls[0], .candidates = shown, .n_candidates = 3,
                     .strategy = "random", .score = 0.5 };
    VetoAnswer bad = a;

    g_assert_true (veto_store_add_annotation (store, &a, &comp, &error));
    /* The answer must be one of the candidates shown. */
    bad.answer_class = cls[1];
    g_assert_false (veto_store_add_annotation (store, &bad, NULL, &error));
    g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID);
    g_clear_error (&error);
  }
  {
    VetoAnswer a = { .kind = VETO_KIND_PREFERENCE, .item = item2, .right_item = item1,
                     .annotator = annotator, .criterion = "brighter",
                     .preferred = VETO_PREFER_RIGHT, .score = NAN };

    g_assert_true (veto_store_add_annotation (store, &a, &pref, &error));
  }
  g_assert_true (veto_store_summarize (store, &s, &error));
  g_assert_cmpuint (s.annotations[VETO_KIND_ORDINARY], ==, 1);
  g_assert_cmpuint (s.annotations[VETO_KIND_COMPLEMENTARY], ==, 1);
  g_assert_cmpuint (s.annotations[VETO_KIND_PREFERENCE], ==, 1);
  /* An item's complementary answers, one row per class shown in the order shown; its ordinary
   * answer is not one, and item2 (asked about in a preference) has none. */
  {
    g_autoptr (GArray) rows = veto_store_list_complementary (store, item1, &error);
    g_autoptr (GArray) none = veto_store_list_complementary (store, item2, &error);
    const gint64 order[3] = { cls[2], cls[0], cls[3] };

    g_assert_no_error (error);
    g_assert_cmpuint (rows->len, ==, 3);
    for (guint i = 0; i < 3; i++)
      {
        const VetoShownClass *c = &g_array_index (rows, VetoShownClass, i);

        g_assert_cmpint (c->annotation, ==, comp);
        g_assert_cmpint (c->annotator, ==, annotator);
        g_assert_cmpint (c->answer_class, ==, cls[0]);
        g_assert_cmpint (c->shown_class, ==, order[i]);
      }
    g_assert_cmpuint (none->len, ==, 0);
  }

  g_assert_true (veto_store_undo_annotation (store, ordinary, &error));
  g_assert_false (veto_store_undo_annotation (store, ordinary, &error));
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_true (veto_store_summarize (store, &s, &error));
  g_assert_cmpuint (s.annotations[VETO_KIND_ORDINARY], ==, 0);
  g_assert_cmpuint (s.undone, ==, 1);

  /* Undo keeps the row: it is still there when undone ones are asked for. */
  g_assert_true (veto_store_foreach_annotation (store, TRUE, collect, &seen, &error));
  g_assert_cmpuint (seen.count, ==, 3);
  g_assert_true (seen.undone_seen);
  g_assert_cmpstr (seen.candidates, ==, "ship,cat,frog");
  g_free (seen.candidates);
  seen = (Seen) { 0 };
  g_assert_true (veto_store_foreach_annotation (store, FALSE, collect, &seen, &error));
  g_assert_cmpuint (seen.count, ==, 2);
  g_assert_cmpint (seen.annotator_id, ==, annotator);
  g_free (seen.candidates);

  /* An undone complementary answer no longer stands. */
  g_assert_true (veto_store_undo_annotation (store, comp, &error));
  {
    g_autoptr (GArray) rows = veto_store_list_complementary (store, item1, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (rows->len, ==, 0);
  }
}

static void
test_cache_and_rollback (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = veto_store_create (f->path, &error);
  g_autoptr (GBytes) blob = g_bytes_new_static ("abcdef", 6);
  g_autoptr (GBytes) back = NULL;
  g_autoptr (GPtrArray) classes = NULL;
  gint64 id;

  g_assert_true (veto_store_put_blob (store, "features:x", blob, &error));
  back = veto_store_get_blob (store, "features:x", &error);
  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (blob, back));
  g_assert_null (veto_store_get_blob (store, "absent", &error));
  g_assert_no_error (error);

  /* A rolled-back transaction leaves nothing behind. */
  g_assert_true (veto_store_begin (store, &error));
  g_assert_true (veto_store_ensure_class (store, "gone", &id, NULL, &error));
  veto_store_rollback (store);
  classes = veto_store_list_classes (store, &error);
  g_assert_cmpuint (classes->len, ==, 0);
}

/* A small sound project: two classes, two items, one complementary answer. */
static void
make_sound_project (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = veto_store_create (path, &error);
  gint64 cls[2], import_id, item, annotator;
  g_autofree char *sha1 = NULL;
  g_autofree char *sha2 = NULL;
  guint8 pixels1[4] = { 1, 2, 3, 0 }, pixels2[4] = { 1, 2, 3, 1 };

  g_assert_no_error (error);
  sha1 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, pixels1, 4);
  sha2 = g_compute_checksum_for_data (G_CHECKSUM_SHA256, pixels2, 4);
  g_assert_true (veto_store_begin (store, &error));
  g_assert_true (veto_store_ensure_class (store, "cat", &cls[0], NULL, &error));
  g_assert_true (veto_store_ensure_class (store, "dog", &cls[1], NULL, &error));
  g_assert_true (veto_store_add_import (store, "test", "idx", VETO_SPLIT_POOL, &import_id,
                                        &error));
  item = add_item (store, sha1, import_id, 0);
  add_item (store, sha2, import_id, 1);
  g_assert_true (veto_store_commit (store, &error));
  g_assert_true (veto_store_ensure_annotator (store, "ann", VETO_ANNOTATOR_HUMAN, &annotator,
                                              &error));
  {
    VetoAnswer a = { .kind = VETO_KIND_COMPLEMENTARY, .item = item, .annotator = annotator,
                     .answer_class = cls[0], .candidates = cls, .n_candidates = 2,
                     .score = NAN };

    g_assert_true (veto_store_add_annotation (store, &a, NULL, &error));
  }
  g_assert_no_error (error);
}

/* The problems of a check as "TABLE ROW: PROBLEM" lines, in the order found. */
static char *
check_lines (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) problems = veto_store_check (path, &error);
  g_autoptr (GString) text = g_string_new (NULL);

  g_assert_no_error (error);
  g_assert_nonnull (problems);
  for (guint i = 0; i < problems->len; i++)
    {
      const VetoStoreProblem *p = problems->pdata[i];

      g_string_append_printf (text, "%s %" G_GINT64_FORMAT ": %s\n", p->table, p->row,
                              p->problem);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
test_tampered_rows (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = NULL;
  g_autofree char *clean = NULL;
  g_autofree char *found = NULL;

  make_sound_project (f->path);
  clean = check_lines (f->path);
  g_assert_cmpstr (clean, ==, "");
  /* Three rows edited behind Veto's back (foreign keys and CHECKs off, as in the shell). */
  sql (f->path, "PRAGMA ignore_check_constraints = ON;"
                "UPDATE items SET pixels = x'0102' WHERE id = 1;"
                "UPDATE items SET channels = 2 WHERE id = 2;"
                "UPDATE annotation_candidates SET class_id = 7 WHERE position = 1;"
                "UPDATE annotations SET question = '{\"kind\": \"complementary\"' WHERE id = 1");
  found = check_lines (f->path);
  g_assert_cmpstr (found, ==,
                   "items 1: the pixels hold 2 bytes, but 2×2×1 needs 4\n"
                   "items 2: 2 channels (1 or 3 expected)\n"
                   "annotation_candidates 2: the candidate class 7 (answer 1, position 1) does "
                   "not exist\n"
                   "annotations 1: the question is not valid JSON\n");
  store = veto_store_open (f->path, TRUE, &error);
  g_assert_null (store);
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_CORRUPT);
  g_assert_nonnull (strstr (error->message, "p.veto: items row 1: the pixels hold 2 bytes"));
  g_clear_error (&error);
  store = veto_store_open (f->path, FALSE, &error);
  g_assert_null (store);
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_CORRUPT);
}

static void
test_foreign_schema (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = NULL;
  g_autofree char *found = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  make_sound_project (f->path);
  sql (f->path, "CREATE VIEW v AS SELECT * FROM items;"
                "ALTER TABLE annotations DROP COLUMN flagged;"
                "DROP INDEX items_split");
  found = check_lines (f->path);
  g_assert_nonnull (strstr (found, "view v 0: a view that Veto did not create (on table v)"));
  g_assert_nonnull (strstr (found, "table annotations 0: the table differs from Veto's"));
  g_assert_nonnull (strstr (found, "index items_split 0: missing"));
  before = file_sha (f->path);
  store = veto_store_open (f->path, FALSE, &error);
  g_assert_null (store);
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_NOT_A_PROJECT);
  g_assert_nonnull (strstr (error->message, "the schema is not Veto's"));
  /* Refused before anything was written: not even WAL mode. */
  after = file_sha (f->path);
  g_assert_cmpstr (before, ==, after);
}

/* An answer's time: answered_at − shown_at, fractions of a second kept; NAN when a time is
 * missing or is not ISO 8601. */
static void
test_annotation_seconds (void)
{
  VetoAnnotation a = { .shown_at = (char *) "2026-12-06T10:00:00.250000Z",
                       .answered_at = (char *) "2026-12-06T10:00:02Z" };

  g_assert_cmpfloat_with_epsilon (veto_annotation_seconds (&a), 1.75, 1e-9);
  a.shown_at = (char *) "2026-12-06T11:00:02+01:00";
  g_assert_cmpfloat_with_epsilon (veto_annotation_seconds (&a), 0.0, 1e-9);
  a.shown_at = NULL;
  g_assert_true (isnan (veto_annotation_seconds (&a)));
  a.shown_at = (char *) "yesterday";
  g_assert_true (isnan (veto_annotation_seconds (&a)));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/store/create-reopen", test_create_and_reopen);
  ADD ("/store/not-a-project", test_not_a_project);
  ADD ("/store/versions", test_newer_refused_older_migrated);
  ADD ("/store/answers-undo", test_answers_and_undo);
  ADD ("/store/cache-rollback", test_cache_and_rollback);
  ADD ("/store/tampered-rows", test_tampered_rows);
  ADD ("/store/foreign-schema", test_foreign_schema);
#undef ADD
  g_test_add_func ("/store/annotation-seconds", test_annotation_seconds);
  return g_test_run ();
}
