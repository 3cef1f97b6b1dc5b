/* fuzz-store: libFuzzer target for project files edited behind Veto's back: the input's bytes become edits of a seed project's rows and schema, then every reader runs on it. */
#include <glib.h>
#include <glib/gstdio.h>
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz-project.h"
#include "veto-engine.h"
#include "veto-export.h"
#include "veto-image.h"
#include "veto-model.h"
#include "veto-sim.h"
#include "veto-store.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define N_CLASSES 4
#define SIDE 4
#define MAX_EDITS 8

static char *work_dir;
static char *project_path; /* the edited copy */
static char *target_path;  /* a pristine copy that the edited one is merged into */
static char *out_dir;      /* exports */
static GBytes *seed;       /* the seed project's bytes */

G_GNUC_NORETURN static void
die (const char *what, const char *detail)
{
  fprintf (stderr, "fuzz-store: invariant broken: %s%s%s\n", what, detail ? ": " : "",
           detail ? detail : "");
  abort ();
}

/* A failure must say why, a success must not. */
static void
check_error (gboolean ok, const GError *error, const char *what)
{
  if (!ok && (error == NULL || error->message == NULL || *error->message == '\0'))
    die (what, "failed without a message");
  if (ok && error != NULL)
    die (what, error->message);
}

static void
remove_work_dir (void)
{
  if (work_dir)
    veto_test_remove_tree (work_dir);
}

static void
remove_project (const char *path)
{
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autofree char *shm = g_strconcat (path, "-shm", NULL);

  g_unlink (path);
  g_unlink (wal);
  g_unlink (shm);
}

static void
write_seed (const char *path)
{
  g_autoptr (GError) error = NULL;

  remove_project (path);
  if (!g_file_set_contents (path, g_bytes_get_data (seed, NULL), g_bytes_get_size (seed), &error))
    die ("cannot write the seed project", error->message);
}

/* --- the seed: every kind of row, small enough to train on in a blink --- */

static gint64
add_answer (VetoStore *store, VetoAnswer *answer)
{
  g_autoptr (GError) error = NULL;
  gint64 id = 0;

  answer->score = NAN;
  if (!veto_store_add_annotation (store, answer, &id, &error))
    die ("cannot add an answer to the seed", error->message);
  return id;
}

static void
make_seed (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = veto_store_create (project_path, &error);
  g_autoptr (VetoImage) picture = veto_image_new (SIDE, SIDE, 1);
  g_autofree char *picture_path = g_build_filename (work_dir, "picture.png", NULL);
  g_autofree char *picture_bytes = NULL;
  g_autofree char *picture_sha = NULL;
  gint64 classes[N_CLASSES], pool, test, files, annotator, campaign_id, item = 0;
  g_autoptr (VetoDataset) ds = NULL;
  g_autoptr (VetoModel) model = NULL;
  g_autoptr (GBytes) weights = NULL;
  VetoTrainSpec spec;
  VetoTrainResult result = { 0 };
  gsize picture_size;
  char *contents;
  gsize length;

  if (store == NULL || !veto_store_begin (store, &error))
    die ("cannot create the seed", error->message);
  for (guint c = 0; c < N_CLASSES; c++)
    {
      g_autofree char *name = g_strdup_printf ("class-%u", c);

      if (!veto_store_ensure_class (store, name, &classes[c], NULL, &error))
        die ("cannot add a class", error->message);
    }
  if (!veto_store_add_import (store, "seed", "idx", VETO_SPLIT_POOL, &pool, &error)
      || !veto_store_add_import (store, "seed", "idx", VETO_SPLIT_TEST, &test, &error)
      || !veto_store_add_import (store, "picture.png", "folder", VETO_SPLIT_VALIDATION, &files,
                                 &error))
    die ("cannot add the imports", error->message);
  for (guint i = 0; i < 12; i++)
    {
      guint8 pixels[SIDE * SIDE];
      g_autofree char *sha = NULL;
      VetoItemRecord record = { 0 };

      for (guint p = 0; p < SIDE * SIDE; p++)
        pixels[p] = (guint8) ((i % N_CLASSES) * 60 + p * 3 + i);
      sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, pixels, sizeof pixels);
      record.pixels = pixels;
      record.sha256 = sha;
      record.width = record.height = SIDE;
      record.channels = 1;
      record.split = i < 8 ? VETO_SPLIT_POOL : VETO_SPLIT_TEST;
      record.gold_class = classes[i % N_CLASSES];
      record.import_id = i < 8 ? pool : test;
      record.import_index = i < 8 ? i : i - 8;
      if (!veto_store_add_item (store, &record, &item, &error))
        die ("cannot add an item", error->message);
    }
  /* One file item beside the project. */
  for (guint p = 0; p < SIDE * SIDE; p++)
    picture->data[p] = (guint8) (p * 16);
  if (!veto_image_save_png (picture, picture_path, &error)
      || !g_file_get_contents (picture_path, &picture_bytes, &picture_size, &error))
    die ("cannot write the seed's picture", error->message);
  picture_sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guint8 *) picture_bytes,
                                             picture_size);
  {
    VetoItemRecord record = {
      .path = "picture.png", .sha256 = picture_sha, .width = SIDE, .height = SIDE,
      .channels = 1, .split = VETO_SPLIT_VALIDATION, .gold_class = classes[0],
      .import_id = files,
    };

    if (!veto_store_add_item (store, &record, NULL, &error))
      die ("cannot add the file item", error->message);
  }
  if (!veto_store_ensure_annotator (store, "annotator", VETO_ANNOTATOR_HUMAN, &annotator, &error)
      || !veto_store_commit (store, &error))
    die ("cannot commit the seed's items", error->message);
  {
    const gint64 shown[3] = { classes[0], classes[1], classes[2] };
    VetoAnswer ordinary = { .kind = VETO_KIND_ORDINARY, .item = 1, .annotator = annotator,
                            .answer_class = classes[1] };
    VetoAnswer complementary = { .kind = VETO_KIND_COMPLEMENTARY, .item = 2,
                                 .annotator = annotator, .answer_class = classes[1],
                                 .candidates = shown, .n_candidates = 3 };
    VetoAnswer preference = { .kind = VETO_KIND_PREFERENCE, .item = 3, .right_item = 4,
                              .annotator = annotator, .criterion = "brighter",
                              .preferred = VETO_PREFER_RIGHT };
    VetoAnswer soft = { .kind = VETO_KIND_SOFT, .item = 5, .annotator = annotator,
                        .soft_json = "[0.25,0.25,0.25,0.25]" };

    add_answer (store, &ordinary);
    add_answer (store, &complementary);
    add_answer (store, &preference);
    add_answer (store, &soft);
  }
  {
    VetoCampaignSpec cspec = { .name = "c", .protocol = VETO_KIND_COMPLEMENTARY, .per_item = 1,
                               .n_candidates = 2, .anchor_rate = 0, .split = VETO_SPLIT_TEST };

    if (!veto_store_campaign_create (store, &cspec, &campaign_id, &error))
      die ("cannot create the seed's campaign", error->message);
  }
  {
    const gint64 shown[2] = { classes[2], classes[3] };
    VetoAnswer in_campaign = { .kind = VETO_KIND_COMPLEMENTARY, .item = 9,
                               .annotator = annotator, .answer_class = classes[3],
                               .candidates = shown, .n_candidates = 2, .campaign = campaign_id };

    add_answer (store, &in_campaign);
  }
  /* What `veto invite` and `veto serve` keep: a token's hash and a question handed out. */
  {
    g_autofree char *hash = g_compute_checksum_for_string (G_CHECKSUM_SHA256, "token", -1);
    g_autofree char *lease = g_strdup_printf (
        "{\"id\":1,\"annotator\":%" G_GINT64_FORMAT ",\"kind\":\"complementary\",\"item\":10,"
        "\"right_item\":0,\"candidates\":[%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT "],"
        "\"criterion\":\"\",\"shown_at_us\":0,\"flagged\":false,\"model_version\":0}",
        annotator, classes[0], classes[1]);

    if (!veto_store_add_token (store, annotator, hash, FALSE, &error)
        || !veto_store_put_lease (store, 1, campaign_id, annotator, lease, &error))
      die ("cannot add the seed's token and lease", error->message);
  }
  /* A trained round, and the pixel features in the cache. */
  ds = veto_dataset_load (store, "pixels", TRUE, NULL, NULL, NULL, &error);
  veto_train_spec_init (&spec);
  spec.train.max_epochs = 2;
  if (ds == NULL || !(model = veto_sim_train (store, ds, &spec, &result, NULL, &error)))
    die ("cannot train on the seed", error->message);
  weights = veto_model_save (model);
  veto_train_result_clear (&result);
  if (!veto_store_add_round (store, "pixels", "softmax", 8, "{}", 0.1, weights, NULL, &error))
    die ("cannot save the seed's round", error->message);
  g_clear_pointer (&store, veto_store_close);
  if (!g_file_get_contents (project_path, &contents, &length, &error))
    die ("cannot read the seed back", error->message);
  seed = g_bytes_new_take (contents, length);
}

/* --- the edits --- */

typedef struct
{
  const char *table;
  const char *const *columns;
} Table;

static const char *const classes_cols[] = { "id", "name", "description", "novel", NULL };
static const char *const imports_cols[] = { "id", "split", "n_items", NULL };
static const char *const items_cols[] = { "id", "source", "path", "pixels", "sha256", "width",
                                          "height", "channels", "split", "gold_class_id",
                                          "import_id", "import_index", NULL };
static const char *const annotators_cols[] = { "id", "name", "kind", NULL };
static const char *const campaigns_cols[] = { "id", "name", "protocol", "answers_per_item",
                                              "n_candidates", "anchor_rate", "state", NULL };
static const char *const campaign_items_cols[] = { "campaign_id", "item_id", "anchor", NULL };
static const char *const rounds_cols[] = { "version", "features", "model", "train_size",
                                           "metrics", "weights", NULL };
static const char *const annotations_cols[] = { "id", "item_id", "annotator_id", "kind",
                                                "answer_class_id", "right_item_id", "criterion",
                                                "preferred", "soft_labels", "question",
                                                "model_version", "score", "campaign_id",
                                                "shown_at", "undone", "flagged", NULL };
static const char *const candidates_cols[] = { "annotation_id", "position", "class_id", NULL };
static const char *const cache_cols[] = { "key", "value", NULL };
static const char *const tokens_cols[] = { "id", "annotator_id", "hash", "admin", NULL };
static const char *const leases_cols[] = { "question", "campaign_id", "annotator_id", "lease",
                                           NULL };

static const Table tables[] = {
  { "classes", classes_cols },           { "imports", imports_cols },
  { "items", items_cols },               { "annotators", annotators_cols },
  { "campaigns", campaigns_cols },       { "campaign_items", campaign_items_cols },
  { "rounds", rounds_cols },             { "annotations", annotations_cols },
  { "annotation_candidates", candidates_cols }, { "cache", cache_cols },
  { "tokens", tokens_cols },             { "leases", leases_cols },
};

/* What a person with the sqlite3 shell could do to the schema. */
static const char *const schema_edits[] = {
  "CREATE TRIGGER t AFTER INSERT ON annotations BEGIN DELETE FROM items; END",
  "CREATE VIEW v AS SELECT * FROM items",
  "CREATE TABLE extra (x)",
  "DROP INDEX items_split",
  "DROP INDEX annotations_item",
  "CREATE INDEX extra_index ON items (width)",
  "ALTER TABLE annotations DROP COLUMN flagged",
  "ALTER TABLE items ADD COLUMN extra TEXT",
  "ALTER TABLE classes RENAME COLUMN description TO other",
  "DROP TABLE cache",
  "PRAGMA user_version = 0",
  "PRAGMA user_version = 99",
  "PRAGMA application_id = 1",
  "CREATE TRIGGER u BEFORE UPDATE ON items BEGIN SELECT 1; END",
  ("PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = replace (sql, 'CHECK', '')"
   " WHERE name = 'items'"),
};

/* Reads the input as it is consumed; past its end everything reads as 0. */
typedef struct
{
  const uint8_t *data;
  size_t size;
  size_t at;
} Input;

static guint8
take (Input *in)
{
  return in->at < in->size ? in->data[in->at++] : 0;
}

static gsize
take_bytes (Input *in, gsize n, const uint8_t **out)
{
  n = MIN (n, in->size - MIN (in->at, in->size));
  *out = in->data + in->at;
  in->at += n;
  return n;
}

/* One edit, applied through a plain connection (no checks, like the sqlite3 shell's). Edits that
 * SQLite itself refuses are simply not made. */
static void
apply_edit (sqlite3 *db, Input *in)
{
  guint8 op = take (in) % 8;
  const Table *t = &tables[take (in) % G_N_ELEMENTS (tables)];
  guint n_cols = g_strv_length ((char **) t->columns);
  const char *col = t->columns[take (in) % n_cols];
  guint offset = take (in) % 16;
  g_autofree char *sql = NULL;
  sqlite3_stmt *stmt = NULL;
  const uint8_t *bytes;
  gsize n;

  switch (op)
    {
    case 5:
      sql = g_strdup_printf ("DELETE FROM %s WHERE rowid = (SELECT rowid FROM %s ORDER BY rowid"
                             " LIMIT 1 OFFSET %u)", t->table, t->table, offset);
      sqlite3_exec (db, sql, NULL, NULL, NULL);
      return;
    case 6:
      sql = g_strdup_printf ("INSERT INTO %s SELECT * FROM %s ORDER BY rowid LIMIT 1 OFFSET %u",
                             t->table, t->table, offset);
      sqlite3_exec (db, sql, NULL, NULL, NULL);
      return;
    case 7:
      sqlite3_exec (db, schema_edits[offset % G_N_ELEMENTS (schema_edits)], NULL, NULL, NULL);
      return;
    default:
      break;
    }
  switch (take (in) % 8)
    {
    case 0:
      sql = g_strdup_printf ("UPDATE %s SET %s = substr (%s, 1, %u)", t->table, col, col,
                             take (in));
      break;
    case 1:
      sql = g_strdup_printf ("UPDATE %s SET %s = %s || %s", t->table, col, col, col);
      break;
    default:
      sql = g_strdup_printf ("UPDATE %s SET %s = ?", t->table, col);
      break;
    }
  {
    g_autofree char *where = g_strdup_printf ("%s WHERE rowid = (SELECT rowid FROM %s ORDER BY"
                                              " rowid LIMIT 1 OFFSET %u)", sql, t->table, offset);

    if (sqlite3_prepare_v2 (db, where, -1, &stmt, NULL) != SQLITE_OK)
      {
        sqlite3_finalize (stmt);
        return;
      }
  }
  if (sqlite3_bind_parameter_count (stmt) == 1)
    switch (take (in) % 6)
      {
      case 0:
        sqlite3_bind_null (stmt, 1);
        break;
      case 1:
        sqlite3_bind_int64 (stmt, 1, (gint8) take (in));
        break;
      case 2:
        {
          guint64 v = 0;

          for (guint i = 0; i < 8; i++)
            v = v << 8 | take (in);
          sqlite3_bind_int64 (stmt, 1, (gint64) v);
          break;
        }
      case 3:
        {
          guint64 v = 0;
          double d;

          for (guint i = 0; i < 8; i++)
            v = v << 8 | take (in);
          memcpy (&d, &v, sizeof d);
          sqlite3_bind_double (stmt, 1, d);
          break;
        }
      case 4:
        n = take_bytes (in, take (in) % 64, &bytes);
        sqlite3_bind_text (stmt, 1, (const char *) bytes, (int) n, SQLITE_TRANSIENT);
        break;
      default:
        n = take_bytes (in, take (in) % 64, &bytes);
        sqlite3_bind_blob (stmt, 1, bytes, (int) n, SQLITE_TRANSIENT);
        break;
      }
  sqlite3_step (stmt);
  sqlite3_finalize (stmt);
}

static void
edit_project (const uint8_t *data, size_t size)
{
  Input in = { data, size, 0 };
  sqlite3 *db = NULL;

  if (sqlite3_open_v2 (project_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
    die ("cannot open the copy to edit it", sqlite3_errmsg (db));
  sqlite3_exec (db, "PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF", NULL,
                NULL, NULL);
  for (guint e = 0; e < MAX_EDITS && in.at < in.size; e++)
    apply_edit (db, &in);
  sqlite3_close (db);
}

/* --- what runs on the edited file --- */

static gboolean
visit_item (const VetoItem *item, gpointer user_data)
{
  return TRUE;
}

static gboolean
visit_annotation (const VetoAnnotation *annotation, gpointer user_data)
{
  return TRUE;
}

/* Reads what `veto info`, `stats`, `campaign show` and the dashboard read. */
static void
read_everything (VetoStore *store)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) classes = NULL;
  g_autoptr (GPtrArray) campaigns = NULL;
  g_autoptr (GPtrArray) rounds = NULL;
  g_autoptr (GPtrArray) annotator_stats = NULL;
  g_autoptr (GArray) answers = NULL;
  g_autoptr (GArray) gold = NULL;
  VetoStoreSummary summary;
  gboolean ok;

  ok = veto_store_summarize (store, &summary, &error);
  check_error (ok, error, "summarize");
  g_clear_error (&error);
  classes = veto_store_list_classes (store, &error);
  check_error (classes != NULL, error, "list classes");
  g_clear_error (&error);
  ok = veto_store_foreach_item (store, VETO_N_SPLITS, visit_item, NULL, &error);
  check_error (ok, error, "foreach item");
  g_clear_error (&error);
  ok = veto_store_foreach_annotation (store, TRUE, visit_annotation, NULL, &error);
  check_error (ok, error, "foreach annotation");
  g_clear_error (&error);
  answers = veto_store_list_item_answers (store, &error);
  g_clear_error (&error);
  gold = veto_store_list_complementary_gold (store, &error);
  g_clear_error (&error);
  rounds = veto_store_list_rounds (store, &error);
  g_clear_error (&error);
  annotator_stats = veto_store_list_annotator_stats (store, &error);
  g_clear_error (&error);
  campaigns = veto_store_list_campaigns (store, &error);
  g_clear_error (&error);
  for (guint i = 0; campaigns && i < campaigns->len; i++)
    {
      const VetoCampaign *c = campaigns->pdata[i];
      VetoCampaignCoverage coverage = { 0 };
      g_autoptr (GArray) items = veto_store_campaign_list_items (store, c->id, NULL);
      g_autoptr (GArray) next = veto_store_campaign_next_items (store, c->id, 1, 4, NULL);

      /* What is left to ask is among the campaign's items. */
      if (items && next && next->len > MIN (4, items->len))
        die ("the next items of a campaign outnumber its items", NULL);
      if (veto_store_campaign_coverage (store, c->id, &coverage, NULL))
        veto_campaign_coverage_clear (&coverage);
    }
}

/* What `veto train`, `eval` and `export` do. */
static void
learn_and_export (VetoStore *store)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoDataset) ds = veto_dataset_load (store, "pixels", TRUE, NULL, NULL, NULL,
                                                  &error);
  g_autoptr (VetoModel) model = NULL;
  g_autoptr (VetoModel) saved = NULL;
  g_autoptr (GBytes) weights = NULL;
  g_autofree char *features = NULL;
  g_autofree char *jsonl = g_build_filename (out_dir, "answers.jsonl", NULL);
  g_autofree char *csv = g_build_filename (out_dir, "answers.csv", NULL);
  g_autofree char *climage = g_build_filename (out_dir, "climage", NULL);
  g_autofree char *folder = g_build_filename (out_dir, "folder", NULL);
  VetoExportSummary summary = { 0 };
  VetoTrainSpec spec;
  gint64 version;
  gboolean ok;

  check_error (ds != NULL, error, "load the dataset");
  g_clear_error (&error);
  if (ds)
    {
      for (guint s = 0; s < 2; s++)
        {
          VetoTrainResult result = { 0 };
          VetoEvaluation evaluation = { 0 };

          veto_train_spec_init (&spec);
          spec.train.max_epochs = 1;
          spec.supervision = s == 0 ? VETO_SUPERVISION_GOLD : VETO_SUPERVISION_ANSWERS;
          g_clear_pointer (&model, veto_model_free);
          model = veto_sim_train (store, ds, &spec, &result, NULL, &error);
          check_error (model != NULL, error, "train");
          g_clear_error (&error);
          veto_train_result_clear (&result);
          if (model && veto_sim_evaluate (ds, model, VETO_SPLIT_TEST, NULL, &evaluation, NULL))
            veto_evaluation_clear (&evaluation);
        }
      if (veto_store_get_round (store, 0, &version, &features, &weights, NULL)
          && veto_model_load (weights, &saved, NULL))
        {
          VetoEvaluation evaluation = { 0 };

          if (veto_sim_evaluate (ds, saved, VETO_SPLIT_TEST, NULL, &evaluation, NULL))
            veto_evaluation_clear (&evaluation);
        }
    }
  ok = veto_export_annotations (store, VETO_EXPORT_JSONL, jsonl, NULL, &error);
  check_error (ok, error, "export jsonl");
  g_clear_error (&error);
  ok = veto_export_annotations (store, VETO_EXPORT_CSV, csv, NULL, &error);
  check_error (ok, error, "export csv");
  g_clear_error (&error);
  g_mkdir (climage, 0700);
  g_mkdir (folder, 0700);
  veto_export_climage (store, 0, climage, &summary, NULL);
  veto_export_imagefolder (store, 0, folder, &summary, NULL);
}

static void
merge_into_pristine (VetoStore *source)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) target = NULL;
  VetoMergeReport report = { 0 };
  gboolean ok;

  write_seed (target_path);
  target = veto_store_open (target_path, FALSE, &error);
  if (target == NULL)
    die ("cannot open the pristine target", error->message);
  ok = veto_store_merge (target, &source, 1, &report, &error);
  check_error (ok, error, "merge");
  veto_merge_report_clear (&report);
}

static void
first_question (void)
{
  g_autoptr (GError) error = NULL;
  VetoEngineOptions options;
  VetoEngine *engine;

  veto_engine_options_init (&options);
  options.annotator = "fuzz";
  options.kind = VETO_KIND_COMPLEMENTARY;
  options.seed = 1;
  engine = veto_engine_new (project_path, &options, &error);
  check_error (engine != NULL, error, "start the engine");
  if (engine == NULL)
    return;
  veto_engine_current (engine);
  veto_engine_shutdown (engine);
  g_object_unref (engine);
}

/* Whether a check's problems include one that every open must refuse (a row, or the schema);
 * SQLite's own integrity findings are for `veto check` to report. */
static gboolean
has_refusable (GPtrArray *problems)
{
  for (guint i = 0; i < problems->len; i++)
    if (g_strcmp0 (((VetoStoreProblem *) problems->pdata[i])->table, "file") != 0)
      return TRUE;
  return FALSE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) problems = NULL;
  g_autoptr (VetoStore) store = NULL;

  if (seed == NULL)
    {
      const char *base = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : g_get_tmp_dir ();
      char *template_dir = g_build_filename (base, "veto-fuzz-store-XXXXXX", NULL);

      g_setenv ("GIO_USE_VFS", "local", TRUE);
      work_dir = g_mkdtemp (template_dir);
      if (work_dir == NULL)
        die ("cannot make a temporary folder", NULL);
      atexit (remove_work_dir);
      project_path = g_build_filename (work_dir, "project.veto", NULL);
      target_path = g_build_filename (work_dir, "target.veto", NULL);
      out_dir = g_build_filename (work_dir, "out", NULL);
      make_seed ();
    }
  veto_test_remove_tree (out_dir);
  g_mkdir (out_dir, 0700);
  write_seed (project_path);
  edit_project (data, size);

  problems = veto_store_check (project_path, &error);
  check_error (problems != NULL, error, "check");
  g_clear_error (&error);
  store = veto_store_open (project_path, TRUE, &error);
  check_error (store != NULL, error, "open");
  /* Opening and checking must agree on what makes a file unusable. */
  if (problems && store == NULL && error->domain == VETO_STORE_ERROR
      && (error->code == VETO_STORE_ERROR_CORRUPT || error->code == VETO_STORE_ERROR_NOT_A_PROJECT)
      && problems->len == 0)
    die ("open refused a file that check finds sound", error->message);
  if (problems && store != NULL && has_refusable (problems))
    die ("open accepted a file in which check finds problems",
         ((VetoStoreProblem *) problems->pdata[0])->problem);
  if (store == NULL)
    return 0;
  read_everything (store);
  learn_and_export (store);
  merge_into_pristine (store);
  g_clear_pointer (&store, veto_store_close);
  first_question ();
  return 0;
}
