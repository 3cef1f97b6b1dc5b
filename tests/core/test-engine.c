/* Tests of the engine: answers committed at once, questions never repeated, undo, the learner. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "veto-engine.h"
#include "test-util.h"

#define SIDE 5
#define BIG_SIDE 32
#define K 5
#define WAIT_MS 60000

typedef struct
{
  char *dir;
  char *path;
  gint64 classes[K];
  GHashTable *gold;   /* item id -> class index + 1 */
  GArray *pool;       /* pool item ids */
} Fixture;

/* Class c lights up every K-th pixel from c; noise keeps the problem from being trivial. */
static void
make_image (GRand *rand, guint c, guint side, guint8 *pixels)
{
  for (guint i = 0; i < side * side; i++)
    {
      double v = (i % K == c ? 170 : 60) + g_rand_double_range (rand, -50, 50);

      pixels[i] = (guint8) CLAMP (v, 0, 255);
    }
}

/* n_pool pool items and n_test more in split (the test split, or the validation one), every
 * item with a gold label. */
static void
fixture_make_split (Fixture *f, guint side, guint n_pool, guint n_test, VetoSplit split)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (VetoStore) store = NULL;
  gint64 import_id;
  guint index = 0;

  f->dir = g_dir_make_tmp ("veto-engine-XXXXXX", NULL);
  f->path = g_build_filename (f->dir, "p.veto", NULL);
  f->gold = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  f->pool = g_array_new (FALSE, FALSE, sizeof (gint64));
  store = veto_store_create (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (veto_store_begin (store, &error));
  for (guint c = 0; c < K; c++)
    {
      g_autofree char *name = g_strdup_printf ("class-%u", c);

      g_assert_true (veto_store_ensure_class (store, name, &f->classes[c], NULL, &error));
    }
  g_assert_true (veto_store_add_import (store, "generated", "idx", VETO_SPLIT_POOL, &import_id,
                                        &error));
  for (guint s = 0; s < 2; s++)
    for (guint i = 0; i < (s == 0 ? n_pool : n_test); i++)
      {
        guint8 pixels[BIG_SIDE * BIG_SIDE];
        gint64 id;
        VetoItemRecord record = {
          .pixels = pixels, .width = side, .height = side, .channels = 1,
          .split = s == 0 ? VETO_SPLIT_POOL : split,
          .gold_class = f->classes[i % K], .import_id = import_id, .import_index = index++,
        };

        make_image (rand, i % K, side, pixels);
        g_checksum_reset (sum);
        g_checksum_update (sum, pixels, side * side);
        g_checksum_update (sum, (const guint8 *) &index, sizeof index);
        record.sha256 = g_checksum_get_string (sum);
        g_assert_true (veto_store_add_item (store, &record, &id, &error));
        g_hash_table_insert (f->gold, g_memdup2 (&id, sizeof id), GUINT_TO_POINTER (i % K + 1));
        if (s == 0)
          g_array_append_val (f->pool, id);
      }
  g_assert_true (veto_store_commit (store, &error));
}

static void
fixture_make (Fixture *f, guint side, guint n_pool, guint n_test)
{
  fixture_make_split (f, side, n_pool, n_test, VETO_SPLIT_TEST);
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  fixture_make (f, SIDE, 300, 100);
}

static void
fixture_set_up_validation (Fixture *f, gconstpointer data)
{
  fixture_make_split (f, SIDE, 300, 100, VETO_SPLIT_VALIDATION);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  /* Results still queued for the default context belong to engines already gone. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  veto_test_remove_tree (f->dir);
  g_hash_table_unref (f->gold);
  g_array_unref (f->pool);
  g_free (f->path);
  g_free (f->dir);
}

static guint
gold_of (Fixture *f, gint64 item)
{
  guint c = GPOINTER_TO_UINT (g_hash_table_lookup (f->gold, &item));

  g_assert_cmpuint (c, >, 0);
  return c - 1;
}

static VetoEngine *
engine_new (Fixture *f, VetoAnswerKind kind, VetoEngineOptions *options)
{
  g_autoptr (GError) error = NULL;
  VetoEngineOptions defaults;
  VetoEngine *engine;

  if (options == NULL)
    {
      veto_engine_options_init (&defaults);
      options = &defaults;
    }
  options->kind = kind;
  options->annotator = "tester";
  engine = veto_engine_new (f->path, options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (engine);
  return engine;
}

/* Answers as many rows as the second, read-only connection sees, standing and undone. */
static guint64
count_rows (Fixture *f, guint64 *out_undone)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) reader = veto_store_open (f->path, TRUE, &error);
  VetoStoreSummary s;
  guint64 standing = 0;

  g_assert_no_error (error);
  g_assert_true (veto_store_summarize (reader, &s, &error));
  for (guint k = 0; k < VETO_N_KINDS; k++)
    standing += s.annotations[k];
  if (out_undone)
    *out_undone = s.undone;
  return standing;
}

/* What the tests check of an annotation, as a second connection reads it. */
typedef struct
{
  gint64 id;
  gboolean found;
  VetoAnswerKind kind;
  gint64 model_version;
  gboolean undone;
  gboolean flagged;
  gint64 campaign;
  guint n_candidates;
  gboolean answer_shown;   /* the answer is one of the candidates recorded */
  char annotator[64];
  char answer_class[64];
} Row;

static gboolean
find_row (const VetoAnnotation *a, gpointer user_data)
{
  Row *row = user_data;

  if (a->id != row->id)
    return TRUE;
  row->found = TRUE;
  row->kind = a->kind;
  row->model_version = a->model_version;
  row->undone = a->undone;
  row->flagged = a->flagged;
  row->campaign = a->campaign;
  row->n_candidates = a->candidates->len;
  for (guint i = 0; i < a->candidates->len; i++)
    row->answer_shown |= g_strcmp0 (a->candidates->pdata[i], a->answer_class) == 0;
  g_strlcpy (row->annotator, a->annotator, sizeof row->annotator);
  g_strlcpy (row->answer_class, a->answer_class ? a->answer_class : "", sizeof row->answer_class);
  return FALSE;
}

static Row
read_row (Fixture *f, gint64 id)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) reader = veto_store_open (f->path, TRUE, &error);
  Row row = { .id = id };

  g_assert_no_error (error);
  g_assert_true (veto_store_foreach_annotation (reader, TRUE, find_row, &row, &error));
  g_assert_no_error (error);
  g_assert_true (row.found);
  return row;
}

/* The simulated annotator of these tests: always right. */
static void
gold_answer (Fixture *f, VetoEngine *engine, const VetoQuestion *q, gint64 *out_class,
             VetoPreferred *out_preferred)
{
  guint y = gold_of (f, q->item);

  *out_class = f->classes[y];
  *out_preferred = VETO_PREFER_TIE;
  if (q->kind == VETO_KIND_COMPLEMENTARY)
    for (guint i = 0; i < q->n_candidates; i++)
      if (q->candidates[i] != f->classes[y])
        {
          *out_class = q->candidates[i];
          break;
        }
  if (q->kind == VETO_KIND_PREFERENCE)
    {
      GPtrArray *classes = veto_engine_get_classes (engine);
      gint c = -1;

      for (guint i = 0; i < classes->len; i++)
        if (g_strcmp0 (((VetoClass *) classes->pdata[i])->name, q->criterion) == 0)
          c = i;
      g_assert_cmpint (c, >=, 0);
      if ((gint) y == c && (gint) gold_of (f, q->right_item) != c)
        *out_preferred = VETO_PREFER_LEFT;
      else if ((gint) y != c && (gint) gold_of (f, q->right_item) == c)
        *out_preferred = VETO_PREFER_RIGHT;
    }
}

static void
drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
check_question (Fixture *f, const VetoQuestion *q, VetoAnswerKind kind, GHashTable *seen,
                guint n_candidates)
{
  g_assert_nonnull (q);
  g_assert_cmpint (q->kind, ==, kind);
  /* Never served twice in a session. */
  g_assert_false (g_hash_table_contains (seen, &q->item));
  g_hash_table_add (seen, g_memdup2 (&q->item, sizeof q->item));
  g_assert_cmpuint (gold_of (f, q->item), <, K);
  if (kind == VETO_KIND_COMPLEMENTARY)
    {
      g_assert_cmpuint (q->n_candidates, ==, n_candidates);
      for (guint i = 0; i < q->n_candidates; i++)
        {
          gboolean known = FALSE;

          for (guint c = 0; c < K; c++)
            known |= f->classes[c] == q->candidates[i];
          g_assert_true (known);
          for (guint j = 0; j < i; j++)
            g_assert_cmpint (q->candidates[i], !=, q->candidates[j]);
        }
    }
  if (kind == VETO_KIND_PREFERENCE)
    {
      g_assert_cmpint (q->right_item, !=, q->item);
      g_assert_false (g_hash_table_contains (seen, &q->right_item));
      g_hash_table_add (seen, g_memdup2 (&q->right_item, sizeof q->right_item));
      g_assert_cmpuint (strlen (q->criterion), >, 0);
    }
}

static void
on_count (gpointer instance, gpointer user_data)
{
  (*(guint *) user_data)++;
}

static void
on_model (VetoEngine *engine, gint64 version, gpointer user_data)
{
  *(gint64 *) user_data = version;
}

/* 50 answers of one kind from gold, each on disk when answer returns; then a model, whose
 * version goes on the next answers. The test waits for the learner's round after the start and
 * after every 10 answers (the default retrain_every), as `veto drive --lockstep` does, so which
 * model chooses each question, and so the last model's accuracy, do not depend on timing (under
 * valgrind beside other tests the complementary model once ended at 0.45). */
static void
test_answers (Fixture *f, gconstpointer data)
{
  VetoAnswerKind kind = GPOINTER_TO_INT (data);
  g_autoptr (VetoEngine) engine = engine_new (f, kind, NULL);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                       NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoEngineScores) scores = NULL;
  VetoEngineStatus status;
  guint status_signals = 0, question_signals = 0;
  gint64 announced = 0;

  g_signal_connect (engine, "status-changed", G_CALLBACK (on_count), &status_signals);
  g_signal_connect (engine, "question-changed", G_CALLBACK (on_count), &question_signals);
  g_signal_connect (engine, "model-updated", G_CALLBACK (on_model), &announced);
  g_assert_true (veto_engine_wait_for_round (engine, WAIT_MS));
  for (guint i = 0; i < 50; i++)
    {
      const VetoQuestion *q = veto_engine_current (engine);
      gint64 answer_class, id = 0;
      VetoPreferred preferred;

      check_question (f, q, kind, seen, 4);
      g_assert_true (veto_engine_current (engine) == q);
      gold_answer (f, engine, q, &answer_class, &preferred);
      g_assert_true (veto_engine_answer (engine, answer_class, preferred, &id, &error));
      g_assert_no_error (error);
      g_assert_cmpint (id, >, 0);
      g_assert_cmpuint (count_rows (f, NULL), ==, i + 1);
      if (kind == VETO_KIND_COMPLEMENTARY)
        {
          Row row = read_row (f, id);

          g_assert_cmpuint (row.n_candidates, ==, 4);
          g_assert_true (row.answer_shown);
        }
      drain ();
      if ((i + 1) % 10 == 0)
        g_assert_true (veto_engine_wait_for_round (engine, WAIT_MS));
    }
  veto_engine_get_status (engine, &status);
  g_assert_cmpuint (status.answers, ==, 50);
  g_assert_cmpuint (status.queue_length, <=, 20);
  g_assert_cmpfloat (status.seconds_per_answer, >=, 0);
  g_assert_cmpuint (question_signals, >=, 50);
  g_assert_cmpuint (status_signals, >=, 50);

  g_assert_true (veto_engine_wait_for_model (engine, 1, WAIT_MS));
  veto_engine_get_status (engine, &status);
  g_assert_cmpint (status.model_version, >, 0);
  g_assert_cmpint (announced, ==, status.model_version);
  /* The last round saw every answer. From preference answers alone the classifier learns
   * slowly: its estimate need only exist. */
  g_test_message ("estimated accuracy %g (model %" G_GINT64_FORMAT ")",
                  status.estimated_accuracy, status.model_version);
  g_assert_cmpfloat (status.estimated_accuracy, >=, kind == VETO_KIND_PREFERENCE ? 0 : 0.5);
  g_assert_cmpfloat (status.estimated_accuracy, <=, 1);
  g_assert_cmpint (announced, ==, status.model_version);
  scores = veto_engine_get_scores (engine);
  g_assert_nonnull (scores);
  g_assert_cmpint (scores->version, ==, status.model_version);
  g_assert_cmpuint (scores->n, ==, 300);
  g_assert_cmpuint (scores->n_classes, ==, K);
  g_assert_cmpint (scores->clusters[0], ==, -1);
  for (guint c = 0; c < K; c++)
    g_assert_cmpfloat (scores->probs[c], >=, 0);

  /* The questions the newest round chose carry its version onto their answers. */
  for (guint i = 0; i < 5; i++)
    {
      const VetoQuestion *q = veto_engine_current (engine);
      gint64 answer_class, id, version = q->model_version;
      VetoPreferred preferred;
      Row row;

      check_question (f, q, kind, seen, 4);
      g_assert_cmpint (version, >, 0);
      gold_answer (f, engine, q, &answer_class, &preferred);
      g_assert_true (veto_engine_answer (engine, answer_class, preferred, &id, &error));
      row = read_row (f, id);
      g_assert_cmpint (row.model_version, ==, version);
      g_assert_cmpint (row.kind, ==, kind);
      g_assert_cmpstr (row.annotator, ==, "tester");
    }
}

/* An answer the question does not allow records nothing and keeps the question. */
static void
fixture_set_up_no_test (Fixture *f, gconstpointer data)
{
  fixture_make (f, SIDE, 300, 0);
}

/* A project without test or validation gold (people labelling their own images): the engine
 * holds out a tenth of the items' complementary answers and estimates its accuracy from them,
 * says so, and the estimate is near the model's real accuracy on the pool's (hidden) gold. */
/* Answers n questions as the always-right annotator, then waits for a round that saw them all. */
static void
answer_and_settle (Fixture *f, VetoEngine *engine, guint n, VetoEngineStatus *out_status)
{
  g_autoptr (GError) error = NULL;
  gint64 version;

  for (guint i = 0; i < n; i++)
    {
      const VetoQuestion *q = veto_engine_current (engine);
      gint64 answer_class;
      VetoPreferred preferred;

      g_assert_nonnull (q);
      gold_answer (f, engine, q, &answer_class, &preferred);
      g_assert_true (veto_engine_answer (engine, answer_class, preferred, NULL, &error));
      g_assert_no_error (error);
      drain ();
    }
  veto_engine_get_status (engine, out_status);
  version = out_status->model_version;
  /* Not "no new model for a few seconds", which a loaded machine can outlast mid-round. */
  g_assert_true (veto_engine_wait_for_round (engine, WAIT_MS));
  veto_engine_get_status (engine, out_status);
  g_assert_cmpint (out_status->model_version, >, version);
}

/* A project without test or validation gold (people labelling their own images): the engine
 * holds out a tenth of the items' complementary answers and estimates its accuracy from them
 * once 20 items are held out (none before: a handful gives a figure off by tens of points), says
 * so, and the estimate is near the model's real accuracy on the pool's (hidden) gold. */
static void
test_estimate_without_gold (Fixture *f, gconstpointer data)
{
  g_autoptr (VetoEngine) engine = engine_new (f, VETO_KIND_COMPLEMENTARY, NULL);
  g_autoptr (VetoEngineScores) scores = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) reader = NULL;
  g_autoptr (GPtrArray) rounds = NULL;
  VetoEngineStatus status;
  guint right = 0;

  answer_and_settle (f, engine, 40, &status);
  g_assert_cmpint (status.model_version, >, 0);
  g_assert_null (status.accuracy_from);
  g_assert_true (isnan (status.estimated_accuracy));
  /* The rest of the pool, each item once: then every item the hash holds out (30 of these
   * 300) has its answer. After 240 answers it failed once on a fresh-clone CI (NULL): which
   * 60 items are left unasked depends on which round ordered each question, and 11 held-out
   * ones among them leave fewer than the 20 the estimate waits for. */
  answer_and_settle (f, engine, f->pool->len - 40, &status);
  g_assert_cmpstr (status.accuracy_from, ==, "answers");
  g_assert_false (isnan (status.estimated_accuracy));
  scores = veto_engine_get_scores (engine);
  for (guint i = 0; i < scores->n; i++)
    right += veto_active_argmax (scores->probs + (gsize) i * scores->n_classes,
                                 scores->n_classes) == gold_of (f, scores->items[i]);
  g_test_message ("estimated %.3f, on the pool's gold %.3f", status.estimated_accuracy,
                  (double) right / scores->n);
  g_assert_cmpfloat (fabs (status.estimated_accuracy - (double) right / scores->n), <, 0.2);
  /* The round's metrics say what the estimate rests on. */
  reader = veto_store_open (f->path, TRUE, &error);
  g_assert_no_error (error);
  rounds = veto_store_list_rounds (reader, &error);
  g_assert_no_error (error);
  g_assert_nonnull (strstr (((VetoRoundInfo *) g_ptr_array_index (rounds, rounds->len - 1))
                                ->metrics_json,
                            "\"estimated_from\":\"answers\""));
}

/* With validation gold, a share of the engine's questions (0.3 here) go to those items as gold
 * anchors, within binomial bounds, with uniform candidates; the learner never trains on them
 * but fits the annotator's model to them, and the window's progress leaves them out. */
static void
test_anchors (Fixture *f, gconstpointer data)
{
  VetoEngineOptions options;
  g_autoptr (VetoEngine) engine = NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_autoptr (GHashTable) pool = g_hash_table_new (g_int64_hash, g_int64_equal);
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) reader = NULL;
  g_autoptr (GPtrArray) rounds = NULL;
  g_autofree char *used = NULL, *anchored = NULL;
  VetoEngineStatus status;
  guint anchors = 0;

  for (guint i = 0; i < f->pool->len; i++)
    g_hash_table_add (pool, &g_array_index (f->pool, gint64, i));
  veto_engine_options_init (&options);
  options.anchors = 0.3;
  options.retrain_every = 1000;
  engine = engine_new (f, VETO_KIND_COMPLEMENTARY, &options);
  for (guint i = 0; i < 100; i++)
    {
      const VetoQuestion *q = veto_engine_current (engine);
      gint64 cls, id;
      VetoPreferred preferred;

      check_question (f, q, VETO_KIND_COMPLEMENTARY, seen, 4);
      if (g_str_equal (q->strategy, "anchor"))
        {
          g_assert_false (g_hash_table_contains (pool, &q->item));
          anchors++;
        }
      else
        g_assert_true (g_hash_table_contains (pool, &q->item));
      gold_answer (f, engine, q, &cls, &preferred);
      g_assert_true (veto_engine_answer (engine, cls, preferred, &id, &error));
      g_assert_no_error (error);
    }
  /* Binomial(100, 0.3): mean 30, standard deviation 4.6; four of them either side. */
  g_assert_cmpuint (anchors, >=, 12);
  g_assert_cmpuint (anchors, <=, 48);
  veto_engine_get_status (engine, &status);
  g_assert_cmpuint (status.answers, ==, 100);
  used = g_strdup_printf ("\"answers_used\":%u,", 100 - anchors);
  anchored = g_strdup_printf ("\"anchor_answers\":%u,", anchors);
  reader = veto_store_open (f->path, TRUE, &error);
  g_assert_no_error (error);
  /* An idle round may have started before the last answers: the round after it has them all. */
  for (guint tries = 0; tries < 5; tries++)
    {
      const char *metrics;

      veto_engine_get_status (engine, &status);
      veto_engine_note_answers (engine, 1000);
      g_assert_true (veto_engine_wait_for_model (engine, status.model_version + 1, WAIT_MS));
      g_clear_pointer (&rounds, g_ptr_array_unref);
      rounds = veto_store_list_rounds (reader, &error);
      g_assert_no_error (error);
      metrics = ((VetoRoundInfo *) g_ptr_array_index (rounds, rounds->len - 1))->metrics_json;
      if (strstr (metrics, anchored) && strstr (metrics, used))
        break;
    }
  g_assert_nonnull (strstr (((VetoRoundInfo *) g_ptr_array_index (rounds, rounds->len - 1))
                                ->metrics_json, used));
  g_assert_nonnull (strstr (((VetoRoundInfo *) g_ptr_array_index (rounds, rounds->len - 1))
                                ->metrics_json, anchored));
  /* validation gold now measures the model */
  veto_engine_get_status (engine, &status);
  g_assert_cmpstr (status.accuracy_from, ==, "validation");
}

/* The class indices of a question's candidates, in class order. */
static void
sorted_classes (Fixture *f, const gint64 *candidates, guint n, guint *out)
{
  guint m = 0;

  for (guint c = 0; c < K; c++)
    for (guint i = 0; i < n; i++)
      if (candidates[i] == f->classes[c])
        out[m++] = c;
  g_assert_cmpuint (m, ==, n);
}

/* The latest round's metrics carry the pooled annotator model the loss read the answers
 * through (`veto stats` prints it), K × K: test_own_models's anchors name the class after the
 * truth (100 answers) and the one three after (100) far more often than the one two after (10),
 * which the uniform model would not tell apart. They carry the own models of the two people
 * with enough anchors too (own, in the order they first answered), each K × K and showing
 * that person's habit: the class after the truth for the first, three after for the second. */
static void
assert_round_model_has_habits (Fixture *f, const gint64 *own)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) reader = veto_store_open (f->path, TRUE, &error);
  g_autoptr (GPtrArray) rounds = NULL;
  g_autoptr (JsonNode) root = NULL;
  JsonArray *model, *owns;

  g_assert_no_error (error);
  rounds = veto_store_list_rounds (reader, &error);
  g_assert_no_error (error);
  root = json_from_string (((VetoRoundInfo *) g_ptr_array_index (rounds, rounds->len - 1))
                               ->metrics_json, &error);
  g_assert_no_error (error);
  model = json_object_get_array_member (json_node_get_object (root), "annotator_model");
  owns = json_object_get_array_member (json_node_get_object (root), "own_annotator_models");
  g_assert_nonnull (owns);
  g_assert_cmpuint (json_array_get_length (owns), ==, 2);
  for (guint j = 0; j < 2; j++)
    {
      JsonObject *entry = json_array_get_object_element (owns, j);
      JsonArray *weights = json_object_get_array_member (entry, "weights");

      g_assert_cmpint (json_object_get_int_member (entry, "annotator_id"), ==, own[j]);
      g_assert_cmpuint (json_array_get_length (weights), ==, K);
      for (guint y = 0; y < K; y++)
        {
          JsonArray *row = json_array_get_array_element (weights, y);
          double habit = json_array_get_double_element (row, (y + (j == 0 ? 1 : 3)) % K);

          g_assert_cmpuint (json_array_get_length (row), ==, K);
          g_assert_cmpfloat (habit, >, json_array_get_double_element (row, (y + 2) % K));
          g_assert_cmpfloat (habit, >, json_array_get_double_element (row,
                                                                      (y + (j == 0 ? 3 : 1)) % K));
        }
    }
  g_assert_nonnull (model);
  g_assert_cmpuint (json_array_get_length (model), ==, K);
  for (guint y = 0; y < K; y++)
    {
      JsonArray *row = json_array_get_array_element (model, y);

      g_assert_cmpuint (json_array_get_length (row), ==, K);
      g_test_message ("round model row %u: +1 %g, +2 %g, +3 %g", y,
                      json_array_get_double_element (row, (y + 1) % K),
                      json_array_get_double_element (row, (y + 2) % K),
                      json_array_get_double_element (row, (y + 3) % K));
      g_assert_cmpfloat (json_array_get_double_element (row, (y + 1) % K), >,
                         json_array_get_double_element (row, (y + 2) % K));
      g_assert_cmpfloat (json_array_get_double_element (row, (y + 3) % K), >,
                         json_array_get_double_element (row, (y + 2) % K));
    }
}

/* The lab server's learner hands each person's own model, and the item's earlier answers, to
 * the sessions. Two people answered 100 gold anchors each with their habit (one always names
 * the class after the truth, the other the one three after), a newcomer 10 (below
 * VETO_LOSS_MIN_OWN_ANSWERS), a trainer (no anchors) every pool item once. After a round, the
 * three are asked about the same item in turn: each gets the pair of largest gain under the
 * item's posterior (the engine's p and the trainer's answer under the pooled model) for their
 * own model, or the pooled one for the newcomer, fitted the same way from the same answers; the
 * pairs are not all alike. */
static void
test_own_models (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = veto_store_open (f->path, FALSE, &error);
  g_autoptr (GArray) anchors = NULL;
  g_autoptr (VetoEngine) engine = NULL;
  g_autoptr (VetoEngineScores) scores = NULL;
  g_autoptr (VetoDataset) ds = NULL;
  g_autoptr (VetoModel) model = NULL;
  g_autoptr (GArray) earlier_rows = NULL;
  const char *names[4] = { "after", "three-after", "newcomer", "trainer" };
  gint64 people[4], item = 0;
  VetoEngineOptions options;
  VetoTrainSpec spec;
  VetoTrainResult fit = { 0 };
  VetoSessions *sessions;
  guint got[3][2], want[3][2], earlier_shown[K];
  double pi[K];
  const float *p = NULL;

  g_assert_no_error (error);
  for (guint i = 0; i < 4; i++)
    g_assert_true (veto_store_ensure_annotator (store, names[i], VETO_ANNOTATOR_HUMAN,
                                                &people[i], &error));
  anchors = veto_store_list_item_ids (store, VETO_SPLIT_VALIDATION, &error);
  g_assert_true (veto_store_begin (store, &error));
  for (guint i = 0; i < anchors->len; i++)
    for (guint who = 0; who < (i < 10 ? 3u : 2u); who++)
      {
        gint64 v = g_array_index (anchors, gint64, i);
        guint y = gold_of (f, v);
        gint64 shown[3] = { f->classes[(y + 1) % K], f->classes[(y + 2) % K],
                            f->classes[(y + 3) % K] };
        VetoAnswer a = { .kind = VETO_KIND_COMPLEMENTARY, .item = v, .annotator = people[who],
                         .answer_class = shown[who == 0 ? 0 : who == 1 ? 2 : 1],
                         .candidates = shown,
                         .n_candidates = 3, .strategy = "anchor", .score = NAN };

        g_assert_true (veto_store_add_annotation (store, &a, NULL, &error));
      }
  for (guint i = 0; i < f->pool->len; i++)
    {
      gint64 v = g_array_index (f->pool, gint64, i);
      guint y = gold_of (f, v);
      gint64 shown[2] = { f->classes[(y + 1 + i % 3) % K], f->classes[(y + 2 + i % 3) % K] };
      VetoAnswer a = { .kind = VETO_KIND_COMPLEMENTARY, .item = v, .annotator = people[3],
                       .answer_class = shown[i % 2], .candidates = shown, .n_candidates = 2,
                       .strategy = "random", .score = NAN };

      g_assert_true (veto_store_add_annotation (store, &a, NULL, &error));
    }
  g_assert_true (veto_store_commit (store, &error));

  veto_engine_options_init (&options);
  options.learner_only = TRUE;
  options.anchors = 0;
  options.n_candidates = 2;
  options.retrain_every = 1000;
  engine = engine_new (f, VETO_KIND_COMPLEMENTARY, &options);
  veto_engine_note_answers (engine, 1000);
  g_assert_true (veto_engine_wait_for_model (engine, 1, WAIT_MS));
  assert_round_model_has_habits (f, people);
  sessions = veto_engine_get_sessions (engine);
  for (guint who = 0; who < 3; who++)
    {
      gint64 now = g_get_real_time ();
      const VetoLease *q = veto_sessions_question (sessions, people[who], now, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (q->strategy, !=, "random");
      if (who == 0)
        item = q->item;
      /* the item given back goes to the next person */
      g_assert_cmpint (q->item, ==, item);
      sorted_classes (f, q->candidates, q->n_candidates, got[who]);
      g_assert_true (veto_sessions_skip (sessions, people[who], q->id, now, &error));
    }

  /* The same fit from the same answers, and the round's p for the item. */
  ds = veto_dataset_load (store, "pixels", FALSE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  veto_train_spec_init (&spec);
  spec.supervision = VETO_SUPERVISION_ANSWERS;
  spec.cl_loss = VETO_LOSS_COMPLEMENTARY_CANDIDATE;
  spec.train.max_epochs = 1;
  model = veto_sim_train (store, ds, &spec, &fit, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (fit.annotators_fitted, ==, 2);
  g_assert_cmpint (fit.own_annotators[0], ==, people[0]);
  g_assert_cmpint (fit.own_annotators[1], ==, people[1]);
  scores = veto_engine_get_scores (engine);
  for (guint i = 0; i < scores->n; i++)
    if (scores->items[i] == item)
      p = scores->probs + (gsize) i * K;
  g_assert_nonnull (p);
  earlier_rows = veto_store_list_complementary (store, item, &error);
  g_assert_cmpuint (earlier_rows->len, ==, 2);
  {
    guint answer = 0;
    VetoActiveAnswer earlier = { earlier_shown, 2, 0, fit.annotator_model };

    for (guint i = 0; i < 2; i++)
      {
        gint64 id = g_array_index (earlier_rows, VetoShownClass, i).shown_class;

        sorted_classes (f, &id, 1, &earlier_shown[i]);
      }
    sorted_classes (f, &g_array_index (earlier_rows, VetoShownClass, 0).answer_class, 1,
                    &answer);
    earlier.answer = answer;
    veto_active_posterior (p, K, &earlier, 1, pi);
  }
  veto_active_informative_set (pi, K, fit.own_models, 2, want[0]);
  veto_active_informative_set (pi, K, fit.own_models + K * K, 2, want[1]);
  veto_active_informative_set (pi, K, fit.annotator_model, 2, want[2]);
  for (guint who = 0; who < 3; who++)
    {
      g_test_message ("%s: asked {%u, %u}, expected {%u, %u}", names[who], got[who][0],
                      got[who][1], want[who][0], want[who][1]);
      g_assert_cmpmem (got[who], sizeof got[who], want[who], sizeof want[who]);
    }
  g_assert_true (memcmp (want[0], want[1], sizeof want[0]) != 0
                 || memcmp (want[0], want[2], sizeof want[0]) != 0);
  veto_train_result_clear (&fit);
}

static void
test_failed_answer (Fixture *f, gconstpointer data)
{
  g_autoptr (VetoEngine) engine = engine_new (f, VETO_KIND_COMPLEMENTARY, NULL);
  g_autoptr (GError) error = NULL;
  const VetoQuestion *q = veto_engine_current (engine);
  VetoQuestion before = *q;
  gint64 outside = 0, id = 0;

  for (guint c = 0; c < K && outside == 0; c++)
    {
      gboolean shown = FALSE;

      for (guint i = 0; i < q->n_candidates; i++)
        shown |= q->candidates[i] == f->classes[c];
      if (!shown)
        outside = f->classes[c];
    }
  g_assert_cmpint (outside, >, 0);
  g_assert_false (veto_engine_answer (engine, outside, VETO_PREFER_TIE, &id, &error));
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_cmpuint (count_rows (f, NULL), ==, 0);
  q = veto_engine_current (engine);
  g_assert_cmpmem (q, sizeof *q, &before, sizeof before);
  /* The same question then takes a right answer. */
  g_assert_true (veto_engine_answer (engine, q->candidates[0], VETO_PREFER_TIE, &id, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_rows (f, NULL), ==, 1);
}

static void
test_failed_ordinary (Fixture *f, gconstpointer data)
{
  g_autoptr (VetoEngine) engine = engine_new (f, VETO_KIND_ORDINARY, NULL);
  g_autoptr (GError) error = NULL;
  VetoQuestion before = *veto_engine_current (engine);

  g_assert_false (veto_engine_answer (engine, 9999, VETO_PREFER_TIE, NULL, &error));
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID);
  g_assert_cmpuint (count_rows (f, NULL), ==, 0);
  g_assert_cmpint (veto_engine_current (engine)->item, ==, before.item);
}

static gint64
answer_current (Fixture *f, VetoEngine *engine, VetoQuestion *out_question)
{
  g_autoptr (GError) error = NULL;
  const VetoQuestion *q = veto_engine_current (engine);
  gint64 answer_class, id = 0;
  VetoPreferred preferred;

  g_assert_nonnull (q);
  if (out_question)
    *out_question = *q;
  gold_answer (f, engine, q, &answer_class, &preferred);
  g_assert_true (veto_engine_answer (engine, answer_class, preferred, &id, &error));
  g_assert_no_error (error);
  return id;
}

/* Undo marks the row undone, brings its question back, and the question shown before it comes
 * after; ten answers back at most. */
static void
test_undo (Fixture *f, gconstpointer data)
{
  g_autoptr (VetoEngine) engine = engine_new (f, VETO_KIND_COMPLEMENTARY, NULL);
  g_autoptr (GError) error = NULL;
  VetoQuestion first, second, shown;
  VetoEngineStatus status;
  gint64 id1, id2, undone = 0;
  guint64 n_undone;

  id1 = answer_current (f, engine, &first);
  id2 = answer_current (f, engine, &second);
  shown = *veto_engine_current (engine);
  g_assert_true (veto_engine_undo (engine, &undone, &error));
  g_assert_no_error (error);
  g_assert_cmpint (undone, ==, id2);
  g_assert_true (read_row (f, id2).undone);
  g_assert_cmpuint (count_rows (f, &n_undone), ==, 1);
  g_assert_cmpuint (n_undone, ==, 1);
  veto_engine_get_status (engine, &status);
  g_assert_cmpuint (status.answers, ==, 1);
  /* The same question, candidates in the same order. */
  g_assert_cmpint (veto_engine_current (engine)->item, ==, second.item);
  g_assert_cmpmem (veto_engine_current (engine)->candidates, sizeof second.candidates,
                   second.candidates, sizeof second.candidates);
  answer_current (f, engine, NULL);
  g_assert_cmpint (veto_engine_current (engine)->item, ==, shown.item);
  g_assert_cmpuint (count_rows (f, NULL), ==, 2);
  g_assert_cmpint (id1, <, id2);

  /* Ten back, not eleven. */
  for (guint i = 0; i < 10; i++)
    answer_current (f, engine, NULL);
  for (guint i = 0; i < VETO_ENGINE_UNDO_DEPTH; i++)
    g_assert_true (veto_engine_undo (engine, NULL, &error));
  g_assert_false (veto_engine_undo (engine, NULL, &error));
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID);
  g_assert_cmpuint (count_rows (f, &n_undone), ==, 2);
  g_assert_cmpuint (n_undone, ==, 11);
  veto_engine_get_status (engine, &status);
  g_assert_cmpuint (status.answers, ==, 2);
}

/* Skip moves on without recording; a flag goes with the next answer to the item. */
static void
test_skip_and_flag (Fixture *f, gconstpointer data)
{
  g_autoptr (VetoEngine) engine = engine_new (f, VETO_KIND_ORDINARY, NULL);
  gint64 skipped = veto_engine_current (engine)->item, id;
  VetoQuestion q;

  veto_engine_skip (engine);
  g_assert_cmpint (veto_engine_current (engine)->item, !=, skipped);
  g_assert_cmpuint (count_rows (f, NULL), ==, 0);
  veto_engine_flag (engine);
  id = answer_current (f, engine, &q);
  g_assert_true (read_row (f, id).flagged);
  id = answer_current (f, engine, NULL);
  g_assert_false (read_row (f, id).flagged);
}

/* Coreset needs the model's space, AGCD its clusters: both prepare whole queues. */
static void
test_strategies (Fixture *f, gconstpointer data)
{
  gboolean agcd = GPOINTER_TO_INT (data);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                       NULL);
  g_autoptr (VetoEngine) engine = NULL;
  g_autoptr (VetoEngineScores) scores = NULL;
  VetoEngineOptions options;
  VetoEngineStatus status;

  veto_engine_options_init (&options);
  options.strategy = VETO_ACTIVE_CORESET;
  options.agcd = agcd;
  options.retrain_every = 5;
  engine = engine_new (f, VETO_KIND_ORDINARY, &options);
  for (guint i = 0; i < 12; i++)
    {
      check_question (f, veto_engine_current (engine), VETO_KIND_ORDINARY, seen, 0);
      answer_current (f, engine, NULL);
      drain ();
    }
  g_assert_true (veto_engine_wait_for_model (engine, 1, WAIT_MS));
  veto_engine_get_status (engine, &status);
  g_assert_cmpuint (status.queue_length, >, 0);
  g_assert_cmpstr (veto_engine_current (engine)->strategy, ==, agcd ? "agcd" : "coreset");
  for (guint i = 0; i < 12; i++)
    {
      check_question (f, veto_engine_current (engine), VETO_KIND_ORDINARY, seen, 0);
      answer_current (f, engine, NULL);
      drain ();
    }
  scores = veto_engine_get_scores (engine);
  g_assert_nonnull (scores);
  for (guint i = 0; i < scores->n; i++)
    if (agcd)
      g_assert_cmpint (scores->clusters[i], >=, 0);
    else
      g_assert_cmpint (scores->clusters[i], ==, -1);
}

/* A class added during the session is answerable at once and reaches the next model. */
static void
test_add_class (Fixture *f, gconstpointer data)
{
  g_autoptr (VetoEngine) engine = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoEngineScores) scores = NULL;
  VetoEngineOptions options;
  VetoEngineStatus status;
  GPtrArray *classes;
  gint64 novel = 0, id = 0;

  veto_engine_options_init (&options);
  options.retrain_every = 3;
  engine = engine_new (f, VETO_KIND_ORDINARY, &options);
  classes = veto_engine_get_classes (engine);
  for (guint i = 0; i < 3; i++)
    answer_current (f, engine, NULL);
  g_assert_true (veto_engine_wait_for_model (engine, 1, WAIT_MS));
  g_assert_false (veto_engine_add_class (engine, "  ", NULL, &error));
  g_clear_error (&error);
  g_assert_true (veto_engine_add_class (engine, "novel", &novel, &error));
  g_assert_no_error (error);
  g_assert_true (veto_engine_get_classes (engine) == classes);
  g_assert_cmpuint (classes->len, ==, K + 1);
  g_assert_cmpstr (((VetoClass *) classes->pdata[K])->name, ==, "novel");
  g_assert_true (veto_engine_answer (engine, novel, VETO_PREFER_TIE, &id, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (read_row (f, id).answer_class, ==, "novel");
  answer_current (f, engine, NULL);
  answer_current (f, engine, NULL);
  /* An idle round may come first; a later one has the new class. */
  do
    {
      g_clear_pointer (&scores, veto_engine_scores_free);
      veto_engine_get_status (engine, &status);
      g_assert_true (veto_engine_wait_for_model (engine, status.model_version + 1, WAIT_MS));
      scores = veto_engine_get_scores (engine);
    }
  while (scores->n_classes == K);
  g_assert_cmpuint (scores->n_classes, ==, K + 1);
}

/* A campaign's assignment chooses the questions, its K the candidates; the answers count. */
static void
test_campaign (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = veto_store_open (f->path, FALSE, &error);
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                       NULL);
  g_autoptr (VetoEngine) engine = NULL;
  VetoCampaignSpec spec = {
    .name = "first", .protocol = VETO_KIND_COMPLEMENTARY, .per_item = 1, .n_candidates = 3,
    .split = VETO_SPLIT_POOL, .limit = 30, .seed = 1,
  };
  VetoCampaignCoverage coverage = { 0 };
  VetoEngineOptions options;
  const VetoQuestion *q;
  gint64 campaign, id = 0;
  guint answered = 0;

  g_assert_true (veto_store_campaign_create (store, &spec, &campaign, &error));
  g_assert_no_error (error);
  veto_engine_options_init (&options);
  options.campaign = campaign;
  options.kind = VETO_KIND_ORDINARY;
  g_assert_null (veto_engine_new (f->path, &options, &error));
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID);
  g_clear_error (&error);
  engine = engine_new (f, VETO_KIND_COMPLEMENTARY, &options);
  while ((q = veto_engine_current (engine)))
    {
      gint64 answer_class;
      VetoPreferred preferred;

      check_question (f, q, VETO_KIND_COMPLEMENTARY, seen, 3);
      g_assert_cmpstr (q->strategy, ==, "campaign");
      gold_answer (f, engine, q, &answer_class, &preferred);
      g_assert_true (veto_engine_answer (engine, answer_class, preferred, &id, &error));
      g_assert_no_error (error);
      g_assert_cmpint (read_row (f, id).campaign, ==, campaign);
      answered++;
      drain ();
    }
  g_assert_cmpuint (answered, ==, 30);
  g_assert_true (veto_store_campaign_coverage (store, campaign, &coverage, &error));
  g_assert_cmpuint (coverage.complete, ==, 30);
  g_assert_cmpuint (coverage.missing, ==, 0);
  veto_campaign_coverage_clear (&coverage);
}

static void
test_open_errors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *missing = g_build_filename (f->dir, "missing.veto", NULL);
  VetoEngineOptions options;
  VetoEngine *engine;

  veto_engine_options_init (&options);
  engine = veto_engine_new (missing, &options, &error);
  g_assert_null (engine);
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_NOT_FOUND);
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  g_clear_error (&error);
  options.n_candidates = 1;
  g_assert_null (veto_engine_new (f->path, &options, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  veto_engine_options_init (&options);
  options.n_candidates = K + 1;
  g_assert_null (veto_engine_new (f->path, &options, &error));
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID);
}

/* A project whose first round is long (an MLP on 3,000 answers of 1,024 pixels: seconds):
 * shutdown cancels it. */
static void
fixture_set_up_big (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = NULL;
  gint64 oracle;

  fixture_make (f, BIG_SIDE, 3000, 100);
  store = veto_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  g_assert_true (veto_store_begin (store, &error));
  g_assert_true (veto_store_ensure_annotator (store, "oracle", VETO_ANNOTATOR_SIMULATED, &oracle,
                                              &error));
  for (guint i = 0; i < f->pool->len; i++)
    {
      gint64 item = g_array_index (f->pool, gint64, i);
      VetoAnswer answer = {
        .kind = VETO_KIND_ORDINARY, .item = item, .annotator = oracle,
        .answer_class = f->classes[gold_of (f, item)], .score = NAN,
      };

      g_assert_true (veto_store_add_annotation (store, &answer, NULL, &error));
    }
  g_assert_true (veto_store_commit (store, &error));
}

/* How much slower than native this run is: VETO_TEST_TIME_SCALE (tools/run-tests sets 10 for
 * its valgrind stage), else 1. */
static double
time_scale (void)
{
  const char *scale = g_getenv ("VETO_TEST_TIME_SCALE");

  return scale != NULL && g_ascii_strtod (scale, NULL) >= 1 ? g_ascii_strtod (scale, NULL) : 1;
}

static void
test_shutdown_during_retrain (Fixture *f, gconstpointer data)
{
  g_autoptr (VetoEngine) engine = NULL;
  VetoEngineOptions options;
  VetoEngineStatus status;
  gint64 deadline = g_get_monotonic_time () + WAIT_MS * 1000, started;

  veto_engine_options_init (&options);
  options.model = VETO_MODEL_KIND_MLP;
  engine = engine_new (f, VETO_KIND_ORDINARY, &options);
  /* The round that starts with the session trains on the oracle's answers. */
  do
    {
      g_main_context_iteration (NULL, FALSE);
      veto_engine_get_status (engine, &status);
      g_usleep (1000);
    }
  while (!status.training && g_get_monotonic_time () < deadline);
  g_assert_true (status.training);
  /* Answers go on while it trains. */
  answer_current (f, engine, NULL);
  started = g_get_monotonic_time ();
  veto_engine_shutdown (engine);
  /* The round is interrupted, not waited for; under valgrind everything runs ~10x slower. */
  g_assert_cmpint (g_get_monotonic_time () - started, <, 2 * G_USEC_PER_SEC * time_scale ());
  veto_engine_get_status (engine, &status);
  g_assert_false (status.training);
  g_assert_cmpint (status.model_version, ==, 0);
  /* Without a learner the session still serves and records. */
  answer_current (f, engine, NULL);
  g_assert_cmpuint (count_rows (f, NULL), ==, f->pool->len + 2);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/engine/answers/ordinary", Fixture, GINT_TO_POINTER (VETO_KIND_ORDINARY),
              fixture_set_up, test_answers, fixture_tear_down);
  g_test_add ("/engine/answers/complementary", Fixture,
              GINT_TO_POINTER (VETO_KIND_COMPLEMENTARY), fixture_set_up, test_answers,
              fixture_tear_down);
  g_test_add ("/engine/answers/preference", Fixture, GINT_TO_POINTER (VETO_KIND_PREFERENCE),
              fixture_set_up, test_answers, fixture_tear_down);
  g_test_add ("/engine/failed-answer/complementary", Fixture, NULL, fixture_set_up,
              test_failed_answer, fixture_tear_down);
  g_test_add ("/engine/failed-answer/ordinary", Fixture, NULL, fixture_set_up,
              test_failed_ordinary, fixture_tear_down);
  g_test_add ("/engine/estimate-without-gold", Fixture, NULL, fixture_set_up_no_test,
              test_estimate_without_gold, fixture_tear_down);
  g_test_add ("/engine/anchors", Fixture, NULL, fixture_set_up_validation, test_anchors,
              fixture_tear_down);
  g_test_add ("/engine/own-models", Fixture, NULL, fixture_set_up_validation, test_own_models,
              fixture_tear_down);
  g_test_add ("/engine/undo", Fixture, NULL, fixture_set_up, test_undo, fixture_tear_down);
  g_test_add ("/engine/skip-and-flag", Fixture, NULL, fixture_set_up, test_skip_and_flag,
              fixture_tear_down);
  g_test_add ("/engine/strategy/coreset", Fixture, GINT_TO_POINTER (FALSE), fixture_set_up,
              test_strategies, fixture_tear_down);
  g_test_add ("/engine/strategy/agcd", Fixture, GINT_TO_POINTER (TRUE), fixture_set_up,
              test_strategies, fixture_tear_down);
  g_test_add ("/engine/add-class", Fixture, NULL, fixture_set_up, test_add_class,
              fixture_tear_down);
  g_test_add ("/engine/campaign", Fixture, NULL, fixture_set_up, test_campaign,
              fixture_tear_down);
  g_test_add ("/engine/open-errors", Fixture, NULL, fixture_set_up, test_open_errors,
              fixture_tear_down);
  g_test_add ("/engine/shutdown-during-retrain", Fixture, NULL, fixture_set_up_big,
              test_shutdown_during_retrain, fixture_tear_down);
  return g_test_run ();
}
