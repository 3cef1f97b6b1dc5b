/* Tests of the composition store + features + model + loss on a small generated project. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "veto-import.h"
#include "veto-sim.h"
#include "test-util.h"

#define SIDE 4
#define K 3

typedef struct
{
  char *dir;
  VetoStore *store;
  gint64 classes[K];
} Fixture;

/* Class c lights up its own third of a 4×4 image; noise makes the problem not quite trivial. */
static void
make_image (GRand *rand, guint c, guint8 *pixels)
{
  for (guint i = 0; i < SIDE * SIDE; i++)
    {
      double v = (i % K == c ? 170 : 60) + g_rand_double_range (rand, -50, 50);

      pixels[i] = (guint8) CLAMP (v, 0, 255);
    }
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  gint64 import_id;
  guint index = 0;

  f->dir = g_dir_make_tmp ("veto-sim-XXXXXX", NULL);
  path = g_build_filename (f->dir, "p.veto", NULL);
  f->store = veto_store_create (path, &error);
  g_assert_no_error (error);
  g_assert_true (veto_store_begin (f->store, &error));
  for (guint c = 0; c < K; c++)
    {
      const char *names[] = { "left", "middle", "right" };

      g_assert_true (veto_store_ensure_class (f->store, names[c], &f->classes[c], NULL, &error));
    }
  g_assert_true (veto_store_add_import (f->store, "generated", "idx", VETO_SPLIT_POOL, &import_id,
                                        &error));
  for (guint s = 0; s < 2; s++)
    for (guint i = 0; i < (s == 0 ? 300 : 90); i++)
      {
        guint8 pixels[SIDE * SIDE];
        VetoItemRecord record = {
          .pixels = pixels, .width = SIDE, .height = SIDE, .channels = 1,
          .split = s == 0 ? VETO_SPLIT_POOL : VETO_SPLIT_TEST,
          .gold_class = f->classes[i % K], .import_id = import_id, .import_index = index++,
        };

        make_image (rand, i % K, pixels);
        g_checksum_reset (sum);
        g_checksum_update (sum, pixels, sizeof pixels);
        record.sha256 = g_checksum_get_string (sum);
        g_assert_true (veto_store_add_item (f->store, &record, NULL, &error));
      }
  g_assert_true (veto_store_commit (f->store, &error));
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  veto_store_close (f->store);
  veto_test_remove_tree (f->dir);
  g_free (f->dir);
}

static double
train_and_score (Fixture *f, VetoDataset *ds, VetoTrainSpec *spec, VetoModel **out_model)
{
  g_autoptr (GError) error = NULL;
  VetoTrainResult result = { 0 };
  VetoEvaluation eval = { 0 };
  VetoModel *model = veto_sim_train (f->store, ds, spec, &result, NULL, &error);
  double accuracy;

  g_assert_no_error (error);
  g_assert_nonnull (model);
  g_assert_true (veto_sim_evaluate (ds, model, VETO_SPLIT_TEST, NULL, &eval, &error));
  g_assert_cmpuint (eval.n, ==, 90);
  accuracy = eval.accuracy;
  veto_evaluation_clear (&eval);
  veto_train_result_clear (&result);
  if (out_model)
    *out_model = model;
  else
    veto_model_free (model);
  return accuracy;
}

static void
test_dataset_and_cache (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoDataset) first = veto_dataset_load (f->store, "pixels", TRUE, NULL, NULL, NULL,
                                                     &error);
  g_autoptr (VetoDataset) again = NULL;
  guint n_pool, n_test;

  g_assert_no_error (error);
  g_assert_cmpuint (veto_dataset_get_n (first), ==, 390);
  g_assert_cmpuint (veto_dataset_get_dim (first), ==, SIDE * SIDE);
  g_assert_cmpuint (veto_dataset_get_n_classes (first), ==, K);
  veto_dataset_get_split (first, VETO_SPLIT_POOL, &n_pool);
  veto_dataset_get_split (first, VETO_SPLIT_TEST, &n_test);
  g_assert_cmpuint (n_pool, ==, 300);
  g_assert_cmpuint (n_test, ==, 90);
  g_assert_cmpint (veto_dataset_get_gold (first, 4), ==, 1);
  /* The second load reads the cache the first one wrote: the same matrix. */
  again = veto_dataset_load (f->store, "pixels", TRUE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (veto_dataset_get_features (first), 390 * SIDE * SIDE * sizeof (float),
                   veto_dataset_get_features (again), 390 * SIDE * SIDE * sizeof (float));
}

static void
test_train_gold_and_synthetic (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoDataset) ds = veto_dataset_load (f->store, "pixels", TRUE, NULL, NULL, NULL,
                                                  &error);
  VetoTrainSpec spec;

  veto_train_spec_init (&spec);
  spec.train.max_epochs = 30;
  g_assert_cmpfloat (train_and_score (f, ds, &spec, NULL), >=, 0.95);

  /* Two uniform complementary labels per item still teach the classes. */
  spec.supervision = VETO_SUPERVISION_SYNTHETIC_CL;
  spec.per_item = 2;
  spec.train.max_epochs = 60;
  g_assert_cmpfloat (train_and_score (f, ds, &spec, NULL), >=, 0.9);

  /* K - 1 complementary labels name the class: an error to ask for K. */
  spec.per_item = K;
  g_assert_null (veto_sim_train (f->store, ds, &spec, NULL, NULL, &error));
  g_assert_nonnull (error);
}

/* Model selection from complementary labels alone: 30% of the pool items' synthetic CLs are
 * held out; of three learning rates for an MLP, two too small to move it far from its random
 * start, the held-out CLs' URE 0-1 risk (and SCEL) must choose the one that learns, which the
 * test split (never seen by the choice) confirms. */
static void
test_train_select (Fixture *f, gconstpointer data)
{
  static const double rates[] = { 1e-7, 1e-2, 1e-6 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoDataset) ds = veto_dataset_load (f->store, "pixels", TRUE, NULL, NULL, NULL,
                                                  &error);
  VetoTrainCandidate candidates[G_N_ELEMENTS (rates)] = { 0 };
  double accuracy[G_N_ELEMENTS (rates)];
  guint best = 99;

  g_assert_no_error (error);
  for (guint criterion = 0; criterion < 2; criterion++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (rates); i++)
        {
          VetoTrainSpec *spec = &candidates[i].spec;

          candidates[i].dataset = ds;
          veto_train_spec_init (spec);
          spec->supervision = VETO_SUPERVISION_SYNTHETIC_CL;
          spec->cl_loss = VETO_LOSS_COMPLEMENTARY_URE_GA;
          spec->cl_criterion = criterion;
          spec->model = VETO_MODEL_KIND_MLP;
          spec->hidden = 16;
          spec->per_item = 2;
          spec->holdout = 0.3;
          spec->train.learning_rate = rates[i];
          spec->train.max_epochs = 40;
          spec->train.patience = 0;
        }
      g_assert_true (veto_sim_train_select (f->store, candidates, G_N_ELEMENTS (rates), &best,
                                            NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (best, ==, 1);
      for (guint i = 0; i < G_N_ELEMENTS (rates); i++)
        {
          const VetoTrainResult *r = &candidates[i].result;
          VetoEvaluation eval = { 0 };

          g_assert_cmpstr (r->validation, ==, criterion ? "scel" : "ure-01");
          /* the held-out items' CLs never trained: 2 per item, by the item's id */
          g_assert_cmpuint (r->held_out % 2, ==, 0);
          g_assert_cmpuint (r->held_out, >, 120);
          g_assert_cmpuint (r->held_out, <, 240);
          g_assert_cmpuint (r->train_size, ==, 300 - r->held_out / 2);
          g_assert_cmpuint (r->n_terms, ==, 2 * r->train_size);
          g_assert_cmpuint (r->best_epoch, >=, 1);
          g_assert_cmpuint (r->best_epoch, <=, 40);
          g_assert_true (veto_sim_evaluate (ds, candidates[i].model, VETO_SPLIT_TEST, NULL, &eval,
                                            &error));
          accuracy[i] = eval.accuracy;
          veto_evaluation_clear (&eval);
          /* one minus the held-out URE 0-1 risk estimates the accuracy without gold */
          g_assert_cmpstr (r->estimated_from, ==, "cls");
          g_assert_cmpfloat (r->estimated_accuracy_low, <=, r->estimated_accuracy);
          g_assert_cmpfloat (r->estimated_accuracy, <=, r->estimated_accuracy_high);
          if (criterion == 0)
            g_assert_cmpfloat_with_epsilon (r->estimated_accuracy, 1.0 - r->validation_score,
                                            1e-9);
        }
      g_assert_cmpfloat (accuracy[1], >=, 0.9);
      g_assert_cmpfloat (accuracy[0], <, 0.8);
      g_assert_cmpfloat (accuracy[2], <, 0.8);
      g_assert_cmpfloat (fabs (candidates[1].result.estimated_accuracy - accuracy[1]), <, 0.15);
      for (guint i = 0; i < G_N_ELEMENTS (rates); i++)
        veto_train_candidate_clear (&candidates[i]);
    }

  /* Scores on other held-out data are not comparable, and without a holdout (or a validation
   * split) there is nothing to choose by. */
  candidates[2].spec.holdout = 0.2;
  g_assert_false (veto_sim_train_select (f->store, candidates, G_N_ELEMENTS (rates), &best, NULL,
                                         &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
  g_clear_error (&error);
  for (guint i = 0; i < G_N_ELEMENTS (rates); i++)
    candidates[i].spec.holdout = 0;
  g_assert_false (veto_sim_train_select (f->store, candidates, 1, &best, NULL, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
  for (guint i = 0; i < G_N_ELEMENTS (rates); i++)
    veto_train_candidate_clear (&candidates[i]);
}

/* k-fold cross-validation of a selection: with 3 folds every pool item's CLs are held out in
 * exactly one fold (fold 0 is the items --holdout 0.3335 holds out, by the same hash, folds 0
 * and 1 those of 0.6665); a setting's score is the mean of the scores its three fold runs get
 * when trained alone, with their standard error; the setting with the best mean (the rate that
 * learns) is chosen. */
static void
test_train_folds (Fixture *f, gconstpointer data)
{
  static const double rates[] = { 1e-7, 1e-2, 1e-6 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoDataset) ds = veto_dataset_load (f->store, "pixels", TRUE, NULL, NULL, NULL,
                                                  &error);
  VetoTrainCandidate candidates[G_N_ELEMENTS (rates)] = { 0 };
  VetoTrainSpec spec;
  VetoTrainResult alone[3] = { { 0 } }, share = { 0 };
  VetoModel *model;
  guint best = 99, held_out = 0;

  g_assert_no_error (error);
  veto_train_spec_init (&spec);
  spec.supervision = VETO_SUPERVISION_SYNTHETIC_CL;
  spec.cl_loss = VETO_LOSS_COMPLEMENTARY_URE_GA;
  spec.model = VETO_MODEL_KIND_MLP;
  spec.hidden = 16;
  spec.per_item = 2;
  spec.train.max_epochs = 20;
  spec.train.keep_last = TRUE;
  spec.folds = 3;
  for (guint i = 0; i < G_N_ELEMENTS (rates); i++)
    {
      candidates[i].dataset = ds;
      candidates[i].spec = spec;
      candidates[i].spec.train.learning_rate = rates[i];
    }

  /* Each fold trained alone, at the rate that learns. */
  spec.train.learning_rate = rates[1];
  for (guint fold = 0; fold < 3; fold++)
    {
      spec.fold = fold;
      model = veto_sim_train (f->store, ds, &spec, &alone[fold], NULL, &error);
      g_assert_no_error (error);
      veto_model_free (model);
      g_assert_cmpuint (alone[fold].held_out % 2, ==, 0);
      g_assert_cmpuint (alone[fold].train_size, ==, 300 - alone[fold].held_out / 2);
      g_assert_cmpuint (alone[fold].held_out, >, 150);
      g_assert_cmpuint (alone[fold].held_out, <, 250);
      held_out += alone[fold].held_out;
    }
  g_assert_cmpuint (held_out, ==, 2 * 300);
  spec.folds = 0;
  spec.fold = 0;
  spec.holdout = 0.3335;
  model = veto_sim_train (f->store, ds, &spec, &share, NULL, &error);
  g_assert_no_error (error);
  veto_model_free (model);
  g_assert_cmpuint (share.held_out, ==, alone[0].held_out);
  g_assert_cmpfloat (share.validation_score, ==, alone[0].validation_score);
  veto_train_result_clear (&share);
  spec.holdout = 0.6665;
  model = veto_sim_train (f->store, ds, &spec, &share, NULL, &error);
  g_assert_no_error (error);
  veto_model_free (model);
  g_assert_cmpuint (share.held_out, ==, alone[0].held_out + alone[1].held_out);
  veto_train_result_clear (&share);

  g_assert_true (veto_sim_train_select (f->store, candidates, G_N_ELEMENTS (rates), &best, NULL,
                                        &error));
  g_assert_no_error (error);
  g_assert_cmpuint (best, ==, 1);
  for (guint i = 0; i < G_N_ELEMENTS (rates); i++)
    {
      const VetoTrainResult *r = &candidates[i].result;
      double mean = (r->fold_scores[0] + r->fold_scores[1] + r->fold_scores[2]) / 3, ss = 0;

      g_assert_cmpuint (r->folds, ==, 3);
      g_assert_cmpuint (r->held_out, ==, 2 * 300);
      g_assert_cmpfloat_with_epsilon (r->validation_score, mean, 1e-12);
      for (guint fold = 0; fold < 3; fold++)
        ss += (r->fold_scores[fold] - mean) * (r->fold_scores[fold] - mean);
      g_assert_cmpfloat_with_epsilon (r->validation_se, sqrt (ss / 2 / 3), 1e-12);
      g_assert_cmpuint (r->best_epoch, ==, 20);
      g_assert_cmpfloat (r->validation_score, >=, candidates[best].result.validation_score);
      g_assert_cmpfloat_with_epsilon (r->estimated_accuracy, 1 - r->validation_score, 1e-9);
    }
  for (guint fold = 0; fold < 3; fold++)
    {
      g_assert_cmpfloat (candidates[1].result.fold_scores[fold], ==,
                         alone[fold].validation_score);
      veto_train_result_clear (&alone[fold]);
    }
  g_assert_cmpfloat (candidates[1].result.validation_score, <, 0.2);
  g_assert_cmpfloat (candidates[0].result.validation_score, >, 0.3);

  /* Folds against a single holdout are not comparable; one fold, a fold out of range, a
   * holdout beside the folds and folds of gold labels are refused. */
  candidates[2].spec.folds = 0;
  candidates[2].spec.holdout = 0.3;
  g_assert_false (veto_sim_train_select (f->store, candidates, G_N_ELEMENTS (rates), &best, NULL,
                                         &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
  g_clear_error (&error);
  for (guint bad = 0; bad < 4; bad++)
    {
      spec.holdout = bad == 2 ? 0.1 : 0;
      spec.folds = bad == 0 ? 1 : 3;
      spec.fold = bad == 1 ? 3 : 0;
      spec.supervision = bad == 3 ? VETO_SUPERVISION_GOLD : VETO_SUPERVISION_SYNTHETIC_CL;
      g_assert_null (veto_sim_train (f->store, ds, &spec, NULL, NULL, &error));
      g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
      g_clear_error (&error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (rates); i++)
    veto_train_candidate_clear (&candidates[i]);
}

static void
test_train_answers_and_round (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoDataset) ds = veto_dataset_load (f->store, "pixels", TRUE, NULL, NULL, NULL,
                                                  &error);
  g_autoptr (VetoModel) model = NULL;
  g_autoptr (VetoModel) loaded = NULL;
  g_autoptr (GBytes) weights = NULL;
  g_autoptr (GBytes) stored = NULL;
  g_autofree char *features = NULL;
  VetoEvaluation a = { 0 }, b = { 0 };
  VetoTrainSpec spec;
  gint64 annotator, version, got_version;
  guint n_pool;
  const guint *pool = veto_dataset_get_split (ds, VETO_SPLIT_POOL, &n_pool);

  g_assert_true (veto_store_ensure_annotator (f->store, "ann", VETO_ANNOTATOR_HUMAN, &annotator,
                                              &error));
  /* 60 ordinary answers and 120 complementary ones (shown 2 of the 3 classes). */
  for (guint i = 0; i < 180; i++)
    {
      guint row = pool[i];
      guint y = veto_dataset_get_gold (ds, row);
      gint64 shown[2] = { f->classes[(y + 1) % K], f->classes[(y + 2) % K] };
      VetoAnswer answer = {
        .kind = i < 60 ? VETO_KIND_ORDINARY : VETO_KIND_COMPLEMENTARY,
        .item = veto_dataset_item_of_row (ds, row),
        .annotator = annotator,
        .answer_class = i < 60 ? f->classes[y] : shown[i % 2],
        .candidates = shown,
        .n_candidates = i < 60 ? 0 : 2,
        .score = NAN,
      };

      g_assert_true (veto_store_add_annotation (f->store, &answer, NULL, &error));
    }
  veto_train_spec_init (&spec);
  spec.supervision = VETO_SUPERVISION_ANSWERS;
  spec.cl_loss = VETO_LOSS_COMPLEMENTARY_CANDIDATE;
  spec.train.max_epochs = 60;
  g_assert_cmpfloat (train_and_score (f, ds, &spec, &model), >=, 0.9);

  /* A saved round loads back into the same predictions. */
  weights = veto_model_save (model);
  g_assert_true (veto_store_add_round (f->store, "pixels", "softmax", 180, "{}", 0.1, weights,
                                       &version, &error));
  g_assert_true (veto_store_get_round (f->store, 0, &got_version, &features, &stored, &error));
  g_assert_cmpint (got_version, ==, version);
  g_assert_cmpstr (features, ==, "pixels");
  g_assert_true (veto_model_load (stored, &loaded, &error));
  g_assert_true (veto_sim_evaluate (ds, model, VETO_SPLIT_TEST, NULL, &a, &error));
  g_assert_true (veto_sim_evaluate (ds, loaded, VETO_SPLIT_TEST, NULL, &b, &error));
  g_assert_cmpfloat (a.accuracy, ==, b.accuracy);
  g_assert_cmpmem (a.confusion, K * K * sizeof (guint), b.confusion, K * K * sizeof (guint));
  veto_evaluation_clear (&a);
  veto_evaluation_clear (&b);
}


/* Adds 30 gold items to the validation split (anchors the pool never trains on), each distinct
 * from every pool item, and loads the dataset with them. */
static VetoDataset *
add_validation_items (Fixture *f, GRand *rand)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  VetoDataset *ds;
  gint64 import_id;

  g_assert_true (veto_store_begin (f->store, &error));
  g_assert_true (veto_store_add_import (f->store, "generated", "idx", VETO_SPLIT_VALIDATION,
                                        &import_id, &error));
  for (guint i = 0; i < 30; i++)
    {
      guint8 pixels[SIDE * SIDE];
      VetoItemRecord record = { .pixels = pixels, .width = SIDE, .height = SIDE, .channels = 1,
                                .split = VETO_SPLIT_VALIDATION, .gold_class = f->classes[i % K],
                                .import_id = import_id, .import_index = i };

      make_image (rand, i % K, pixels);
      pixels[0] = 255 - i; /* distinct from every pool item */
      g_checksum_reset (sum);
      g_checksum_update (sum, pixels, sizeof pixels);
      record.sha256 = g_checksum_get_string (sum);
      g_assert_true (veto_store_add_item (f->store, &record, NULL, &error));
    }
  g_assert_true (veto_store_commit (f->store, &error));
  ds = veto_dataset_load (f->store, "pixels", TRUE, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  return ds;
}

/* Answers on gold anchors outside the pool (the window's validation items) never train: the
 * model sees the pool's answers alone. They fit the annotators' models instead: two people who
 * each answered 30 of them (one always names the class after the truth, the other the one
 * after that) get a model of their own each, returned by store id for the engine's questions;
 * a third with 5 (below VETO_LOSS_MIN_OWN_ANSWERS) keeps the pooled one. */
static void
test_anchors_outside_pool_do_not_train (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  g_autoptr (VetoDataset) ds = NULL;
  g_autoptr (VetoModel) model = NULL;
  VetoTrainResult result = { 0 };
  VetoTrainSpec spec;
  gint64 annotator, other, few;
  guint n_pool, n_val;
  const guint *pool, *val;

  ds = add_validation_items (f, rand);
  pool = veto_dataset_get_split (ds, VETO_SPLIT_POOL, &n_pool);
  val = veto_dataset_get_split (ds, VETO_SPLIT_VALIDATION, &n_val);
  g_assert_cmpuint (n_val, ==, 30);
  g_assert_true (veto_store_ensure_annotator (f->store, "ann", VETO_ANNOTATOR_HUMAN, &annotator,
                                              &error));
  g_assert_true (veto_store_ensure_annotator (f->store, "other", VETO_ANNOTATOR_HUMAN, &other,
                                              &error));
  g_assert_true (veto_store_ensure_annotator (f->store, "few", VETO_ANNOTATOR_HUMAN, &few,
                                              &error));
  for (guint i = 0; i < 105; i++)
    {
      guint row = i < 40 ? pool[i] : val[(i - 40) % 30];
      guint y = veto_dataset_get_gold (ds, row);
      gint64 shown[2] = { f->classes[(y + 1) % K], f->classes[(y + 2) % K] };
      VetoAnswer answer = {
        .kind = VETO_KIND_COMPLEMENTARY, .item = veto_dataset_item_of_row (ds, row),
        .annotator = i < 70 ? annotator : i < 100 ? other : few,
        .answer_class = i < 40 ? shown[i % 2] : shown[i < 70 ? 0 : 1], .candidates = shown,
        .n_candidates = 2, .strategy = i < 40 ? "random" : "anchor", .score = NAN,
      };

      g_assert_true (veto_store_add_annotation (f->store, &answer, NULL, &error));
    }
  veto_train_spec_init (&spec);
  spec.supervision = VETO_SUPERVISION_ANSWERS;
  spec.cl_loss = VETO_LOSS_COMPLEMENTARY_CANDIDATE;
  spec.train.max_epochs = 5;
  model = veto_sim_train (f->store, ds, &spec, &result, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (result.train_size, ==, 40);
  g_assert_cmpuint (result.n_terms, ==, 40);
  g_assert_cmpuint (result.anchor_answers, ==, 65);
  g_assert_cmpuint (result.annotators_fitted, ==, 2);
  /* Their own models, in the order they first answered: "ann" prefers the class after the
   * truth, "other" the one after that. */
  g_assert_nonnull (result.own_annotators);
  g_assert_cmpint (result.own_annotators[0], ==, annotator);
  g_assert_cmpint (result.own_annotators[1], ==, other);
  for (guint y = 0; y < K; y++)
    {
      const double *ann = result.own_models + y * K, *oth = result.own_models + K * K + y * K;

      g_test_message ("own row %u: ann %g / %g, other %g / %g", y, ann[(y + 1) % K],
                      ann[(y + 2) % K], oth[(y + 1) % K], oth[(y + 2) % K]);
      g_assert_cmpfloat (ann[(y + 1) % K], >, 2 * ann[(y + 2) % K]);
      g_assert_cmpfloat (oth[(y + 2) % K], >, 2 * oth[(y + 1) % K]);
    }
  /* The pooled model, for the engine's informative questions: as many answers name the class
   * after the truth as the one after that, and the truth is named least. */
  g_assert_nonnull (result.annotator_model);
  for (guint y = 0; y < K; y++)
    {
      const double *row = result.annotator_model + y * K;
      double after = row[(y + 1) % K] / (row[(y + 1) % K] + row[(y + 2) % K]);

      g_test_message ("row %u: noise %g, after %g", y, row[y], after);
      g_assert_cmpfloat (fabs (after - 0.5), <, 0.15);
      for (guint c = 0; c < K; c++)
        if (c != y)
          g_assert_cmpfloat (row[y], <, row[c]);
    }
  veto_train_result_clear (&result);
}

/* The habit of naming the class after the truth in an annotator model: the mean over classes
 * of log(A[y][y+1] / A[y][y+2]). */
static double
habit_after_truth (const double *a)
{
  double habit = 0;

  for (guint y = 0; y < K; y++)
    habit += log (a[y * K + (y + 1) % K] / a[y * K + (y + 2) % K]) / K;
  return habit;
}

/* With the candidate-aware loss, the annotators' models fitted to the anchors are refined by
 * every other answer (EM with cross-fitted classifiers): an annotator who names the class after
 * the truth 9 times in 10, on 30 anchors and on every pool item, is seen to do so more surely
 * than the 30 anchors alone tell (the same fit without the refinement: FWD's; both pulled
 * towards uniform, so neither reaches 9). */
static void
test_models_refined_by_every_answer (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autoptr (VetoDataset) ds = NULL;
  VetoTrainResult refined = { 0 }, anchors_only = { 0 };
  VetoTrainSpec spec;
  gint64 annotator;
  guint n_pool, n_val;
  const guint *pool, *val;
  double habit_refined, habit_anchors;

  ds = add_validation_items (f, rand);
  pool = veto_dataset_get_split (ds, VETO_SPLIT_POOL, &n_pool);
  val = veto_dataset_get_split (ds, VETO_SPLIT_VALIDATION, &n_val);
  g_assert_true (veto_store_ensure_annotator (f->store, "ann", VETO_ANNOTATOR_HUMAN, &annotator,
                                              &error));
  for (guint i = 0; i < n_pool + n_val; i++)
    {
      guint row = i < n_pool ? pool[i] : val[i - n_pool];
      guint y = veto_dataset_get_gold (ds, row);
      gint64 shown[3] = { f->classes[0], f->classes[1], f->classes[2] };
      VetoAnswer answer = {
        .kind = VETO_KIND_COMPLEMENTARY, .item = veto_dataset_item_of_row (ds, row),
        .annotator = annotator, .answer_class = f->classes[(y + (i % 10 ? 1 : 2)) % K],
        .candidates = shown, .n_candidates = K, .strategy = i < n_pool ? "random" : "anchor",
        .score = NAN,
      };

      g_assert_true (veto_store_add_annotation (f->store, &answer, NULL, &error));
    }
  veto_train_spec_init (&spec);
  spec.supervision = VETO_SUPERVISION_ANSWERS;
  spec.train.max_epochs = 30;
  spec.cl_loss = VETO_LOSS_COMPLEMENTARY_CANDIDATE;
  veto_model_free (veto_sim_train (f->store, ds, &spec, &refined, NULL, &error));
  g_assert_no_error (error);
  spec.cl_loss = VETO_LOSS_COMPLEMENTARY_FWD;
  veto_model_free (veto_sim_train (f->store, ds, &spec, &anchors_only, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (refined.anchor_answers, ==, 30);
  g_assert_nonnull (refined.annotator_model);
  g_assert_nonnull (anchors_only.annotator_model);
  for (guint y = 0; y < K; y++)
    {
      const double *r = refined.annotator_model + y * K, *a = anchors_only.annotator_model + y * K;

      g_test_message ("row %u: refined %g / %g, anchors %g / %g", y, r[(y + 1) % K],
                      r[(y + 2) % K], a[(y + 1) % K], a[(y + 2) % K]);
    }
  habit_refined = habit_after_truth (refined.annotator_model);
  habit_anchors = habit_after_truth (anchors_only.annotator_model);
  g_assert_cmpfloat (habit_anchors, >, 0);
  g_assert_cmpfloat (habit_refined, >, habit_anchors + 0.05);
  veto_train_result_clear (&refined);
  veto_train_result_clear (&anchors_only);
}

/* Answers on the first n items of a split, two classes of the K shown (a pair drawn at random):
 * with the truth among them, the other is named; without it, the class after the truth with
 * probability after_truth, the one after that otherwise. The validation split's are asked as
 * gold anchors. */
static void
add_pair_answers (Fixture *f, const VetoDataset *ds, VetoSplit split, const char *name, guint n,
                  double after_truth, GRand *rand)
{
  g_autoptr (GError) error = NULL;
  guint n_rows;
  const guint *rows = veto_dataset_get_split (ds, split, &n_rows);
  gint64 annotator;

  g_assert_cmpuint (n, <=, n_rows);
  g_assert_true (veto_store_ensure_annotator (f->store, name, VETO_ANNOTATOR_HUMAN, &annotator,
                                              &error));
  for (guint i = 0; i < n; i++)
    {
      guint y = veto_dataset_get_gold (ds, rows[i]), left_out = g_rand_int_range (rand, 0, K);
      guint first = (left_out + 1) % K, second = (left_out + 2) % K, named;
      gint64 shown[2] = { f->classes[first], f->classes[second] };
      VetoAnswer answer = {
        .kind = VETO_KIND_COMPLEMENTARY, .item = veto_dataset_item_of_row (ds, rows[i]),
        .annotator = annotator, .candidates = shown, .n_candidates = 2,
        .strategy = split == VETO_SPLIT_VALIDATION ? "anchor" : "random", .score = NAN,
      };

      if (first == y || second == y)
        named = first == y ? second : first;
      else
        named = (y + (g_rand_double (rand) < after_truth ? 1 : 2)) % K;
      answer.answer_class = f->classes[named];
      g_assert_true (veto_store_add_annotation (f->store, &answer, NULL, &error));
    }
}

/* Short of the anchors' fit (none at all, or fewer than VETO_SIM_MIN_ANCHORS_PER_CLASS per
 * class) the candidate-aware loss's model is learned by EM (cross-fitted classifiers, from the
 * uniform model), once there are VETO_SIM_MIN_ANSWERS_FOR_EM answers: an annotator who, shown
 * two wrong classes, names the one after the truth 4 times in 5 is seen to (a log-ratio above
 * 0.7 with no anchor answer, above 0.5 with 20, their gold known to EM, of the truth's log 4 =
 * 1.39; the pull towards uniform keeps the fit short of it); one who names either alike is
 * given no such habit; with too few answers there is no model (the uniform one). The pairs with
 * the truth teach the classifiers the classes, and through them EM reads the pairs without it. */
static void
test_model_before_anchors (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  g_autoptr (VetoDataset) ds = add_validation_items (f, rand);
  const char *names[] = { "few", "even", "habit", "anchored" };
  const double after_truth[] = { 0.8, 0.5, 0.8, 0.8 };
  const guint n[] = { VETO_SIM_MIN_ANSWERS_FOR_EM - 1, 300, 300, 280 };
  VetoTrainSpec spec;

  g_assert_cmpuint (VETO_SIM_MIN_ANCHORS_PER_CLASS * K, >, 20);
  for (guint j = 0; j < G_N_ELEMENTS (names); j++)
    add_pair_answers (f, ds, VETO_SPLIT_POOL, names[j], n[j], after_truth[j], rand);
  veto_train_spec_init (&spec);
  spec.supervision = VETO_SUPERVISION_ANSWERS;
  spec.cl_loss = VETO_LOSS_COMPLEMENTARY_CANDIDATE;
  spec.train.max_epochs = 30;
  for (guint j = 0; j < G_N_ELEMENTS (names); j++)
    {
      VetoTrainResult result = { 0 };
      double habit;

      /* everyone's anchor answers fit the models: the last person's come last */
      if (j == 3)
        add_pair_answers (f, ds, VETO_SPLIT_VALIDATION, names[j], 20, after_truth[j], rand);
      spec.annotator = names[j];
      veto_model_free (veto_sim_train (f->store, ds, &spec, &result, NULL, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (result.anchor_answers, ==, j == 3 ? 20 : 0);
      g_assert_cmpuint (result.annotators_fitted, ==, 0);
      if (j == 0)
        {
          g_assert_null (result.annotator_model);
          veto_train_result_clear (&result);
          continue;
        }
      g_assert_nonnull (result.annotator_model);
      habit = habit_after_truth (result.annotator_model);
      g_test_message ("%s: habit %g", names[j], habit);
      for (guint y = 0; y < K; y++)
        /* EM keeps the truth's weight: it stays the uniform model's */
        g_assert_cmpfloat_with_epsilon (result.annotator_model[y * K + y],
                                        VETO_LOSS_DEFAULT_EPSILON, 1e-12);
      if (j == 1)
        g_assert_cmpfloat (fabs (habit), <, 0.15);
      else
        /* 0.83 without anchors (the bound before 20 anchors were added), 0.68 with them */
        g_assert_cmpfloat (habit, >, j == 3 ? 0.5 : 0.7);
      veto_train_result_clear (&result);
    }
}

/* veto_sim_refine_annotator_model (): an item's gold class, when known, is its prior in place
 * of the classifier's p. Every pool item is answered (all K shown) by naming the class after
 * the truth 9 times in 10. From the uniform model, the classifiers learn only "not the named
 * class", which leaves the truth and the class after the named one alike, so EM sees little of
 * the habit; told every item's gold class, it sees it plainly. An item with neither a gold class
 * nor a row is refused. */
static void
test_refine_annotator_model (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoDataset) ds = veto_dataset_load (f->store, "pixels", TRUE, NULL, NULL, NULL,
                                                  &error);
  guint n_pool;
  const guint *pool = veto_dataset_get_split (ds, VETO_SPLIT_POOL, &n_pool);
  g_autofree VetoLossChoiceObservation *obs = g_new (VetoLossChoiceObservation, n_pool);
  g_autofree guint *item_of = g_new (guint, n_pool);
  g_autofree gint *rows = g_new (gint, n_pool);
  g_autofree gint *gold = g_new (gint, n_pool);
  g_autofree gint *unknown = g_new (gint, n_pool);
  guint shown_index[K] = { 0, 1, 2 };
  gint64 shown[K] = { f->classes[0], f->classes[1], f->classes[2] };
  double told[K * K], untold[K * K], habit_told, habit_untold;
  VetoTrainSpec spec;
  gint64 annotator;

  g_assert_true (veto_store_ensure_annotator (f->store, "ann", VETO_ANNOTATOR_HUMAN, &annotator,
                                              &error));
  for (guint i = 0; i < n_pool; i++)
    {
      guint y = veto_dataset_get_gold (ds, pool[i]), named = (y + (i % 10 ? 1 : 2)) % K;
      VetoAnswer answer = {
        .kind = VETO_KIND_COMPLEMENTARY, .item = veto_dataset_item_of_row (ds, pool[i]),
        .annotator = annotator, .answer_class = f->classes[named], .candidates = shown,
        .n_candidates = K, .strategy = "random", .score = NAN,
      };

      g_assert_true (veto_store_add_annotation (f->store, &answer, NULL, &error));
      obs[i] = (VetoLossChoiceObservation) { shown_index, K, named, NULL };
      item_of[i] = i;
      rows[i] = pool[i];
      gold[i] = y;
      unknown[i] = -1;
    }
  veto_train_spec_init (&spec);
  spec.cl_loss = VETO_LOSS_COMPLEMENTARY_CANDIDATE;
  spec.train.max_epochs = 30;
  for (guint j = 0; j < K * K; j++)
    told[j] = untold[j] = j % (K + 1) == 0 ? VETO_LOSS_DEFAULT_EPSILON : 1.0;
  g_assert_true (veto_sim_refine_annotator_model (f->store, ds, &spec, obs, item_of, n_pool, rows,
                                                  gold, n_pool, told, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (veto_sim_refine_annotator_model (f->store, ds, &spec, obs, item_of, n_pool, rows,
                                                  unknown, n_pool, untold, NULL, &error));
  g_assert_no_error (error);
  habit_told = habit_after_truth (told);
  habit_untold = habit_after_truth (untold);
  g_test_message ("habit told %g, untold %g (the truth: log 9 = %g)", habit_told, habit_untold,
                  log (9.0));
  g_assert_cmpfloat (habit_told, >, log (2.0));
  g_assert_cmpfloat (habit_told, >, habit_untold + 0.5);

  rows[7] = -1;
  g_assert_false (veto_sim_refine_annotator_model (f->store, ds, &spec, obs, item_of, n_pool,
                                                   rows, unknown, n_pool, untold, NULL, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "neither a gold class nor a row"));
}

/* Answers about test items (a campaign over the test split, or anchors drawn from it) never
 * train: 90 ordinary answers on the test items, each naming the wrong class, beside 30 right
 * ones on the pool, leave 30 units, and the model still scores as the pool's answers teach. */
static void
test_test_answers_do_not_train (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoDataset) ds = veto_dataset_load (f->store, "pixels", TRUE, NULL, NULL, NULL,
                                                  &error);
  VetoTrainResult result = { 0 };
  VetoTrainSpec spec;
  gint64 annotator;
  guint n_pool, n_test;
  const guint *pool = veto_dataset_get_split (ds, VETO_SPLIT_POOL, &n_pool);
  const guint *test = veto_dataset_get_split (ds, VETO_SPLIT_TEST, &n_test);
  g_autoptr (VetoModel) model = NULL;

  g_assert_cmpuint (n_test, ==, 90);
  g_assert_true (veto_store_ensure_annotator (f->store, "ann", VETO_ANNOTATOR_HUMAN, &annotator,
                                              &error));
  for (guint i = 0; i < 120; i++)
    {
      guint row = i < 30 ? pool[i] : test[i - 30];
      guint y = veto_dataset_get_gold (ds, row);
      VetoAnswer answer = {
        .kind = VETO_KIND_ORDINARY, .item = veto_dataset_item_of_row (ds, row),
        .annotator = annotator, .answer_class = f->classes[i < 30 ? y : (y + 1) % K],
        .score = NAN,
      };

      g_assert_true (veto_store_add_annotation (f->store, &answer, NULL, &error));
    }
  veto_train_spec_init (&spec);
  spec.supervision = VETO_SUPERVISION_ANSWERS;
  model = veto_sim_train (f->store, ds, &spec, &result, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (result.train_size, ==, 30);
  g_assert_cmpuint (result.n_terms, ==, 30);
  veto_train_result_clear (&result);
  g_assert_cmpfloat (train_and_score (f, ds, &spec, NULL), >=, 0.9);
}

/* The fold of an item, as veto-sim.h documents the hash. */
static guint
item_fold (gint64 item, guint folds)
{
  return (guint) (((guint64) item * 2654435761u) % 1000) * folds / 1000;
}

/* Cross-fitted probabilities come from the model that never saw a row's answers: the items of
 * one half are labelled with their gold class and those of the other with the next class, so
 * each half's rows are scored by a model that learnt the other half's mapping; a model that
 * had seen a row's own answer would mostly agree with it. */
static void
test_cross_fitted_probs (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoDataset) ds = veto_dataset_load (f->store, "pixels", TRUE, NULL, NULL, NULL,
                                                  &error);
  g_autofree float *probs = NULL;
  VetoTrainSpec spec;
  gint64 annotator;
  guint n_pool, per_fold[2] = { 0 }, as_other_half[2] = { 0 };
  const guint *pool = veto_dataset_get_split (ds, VETO_SPLIT_POOL, &n_pool);

  g_assert_true (veto_store_ensure_annotator (f->store, "ann", VETO_ANNOTATOR_HUMAN, &annotator,
                                              &error));
  for (guint i = 0; i < n_pool; i++)
    {
      gint64 item = veto_dataset_item_of_row (ds, pool[i]);
      guint y = veto_dataset_get_gold (ds, pool[i]);
      VetoAnswer answer = {
        .kind = VETO_KIND_ORDINARY, .item = item, .annotator = annotator,
        .answer_class = f->classes[item_fold (item, 2) == 0 ? y : (y + 1) % K], .score = NAN,
      };

      g_assert_true (veto_store_add_annotation (f->store, &answer, NULL, &error));
    }
  veto_train_spec_init (&spec);
  spec.train.max_epochs = 60;
  probs = g_new (float, (gsize) n_pool * K);
  g_assert_true (veto_sim_cross_fitted_probs (f->store, ds, &spec, pool, n_pool, probs, NULL,
                                              &error));
  g_assert_no_error (error);
  for (guint i = 0; i < n_pool; i++)
    {
      guint fold = item_fold (veto_dataset_item_of_row (ds, pool[i]), 2);
      guint y = veto_dataset_get_gold (ds, pool[i]), top = 0;
      /* what the other half's answers say this row is */
      guint other = fold == 0 ? (y + 1) % K : y;

      for (guint c = 1; c < K; c++)
        if (probs[(gsize) i * K + c] > probs[(gsize) i * K + top])
          top = c;
      per_fold[fold]++;
      as_other_half[fold] += top == other;
    }
  g_assert_cmpuint (per_fold[0], >, 100);
  g_assert_cmpuint (per_fold[1], >, 100);
  g_assert_cmpuint (as_other_half[0], >=, per_fold[0] * 9 / 10);
  g_assert_cmpuint (as_other_half[1], >=, per_fold[1] * 9 / 10);

  /* Rows all on one side: nothing of them to learn from, so the uniform distribution. */
  {
    guint one_side[8], n_one = 0;
    float uniform[8 * K];

    for (guint i = 0; i < n_pool && n_one < G_N_ELEMENTS (one_side); i++)
      if (item_fold (veto_dataset_item_of_row (ds, pool[i]), 2) == 1)
        one_side[n_one++] = pool[i];
    g_assert_true (veto_sim_cross_fitted_probs (f->store, ds, &spec, one_side, n_one, uniform,
                                                NULL, &error));
    g_assert_no_error (error);
    for (guint j = 0; j < n_one * K; j++)
      g_assert_cmpfloat (uniform[j], ==, 1.0f / K);
  }

  /* Nothing to train on (no answer of this annotator) fails, naming why. */
  spec.annotator = "nobody";
  g_assert_false (veto_sim_cross_fitted_probs (f->store, ds, &spec, pool, n_pool, probs, NULL,
                                               &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "nothing to train on"));
}

static char *
write_text (Fixture *f, const char *name, const char *text)
{
  char *path = g_build_filename (f->dir, name, NULL);

  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
test_transition_files (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *torch = write_text (f, "t.txt",
      "Transition Matrix tensor([\n    [0.0, 0.5, 0.5],\n    [0.2, 0.2, 0.6],\n"
      "    [1.0, 3.0, 0.0]])\n");
  g_autofree char *square = write_text (f, "bad1.txt", "0.5 0.5\n0.1 0.4 0.5\n");
  g_autofree char *negative = write_text (f, "bad2.txt", "0.5 0.5\n-0.1 1.1\n");
  g_autofree char *zero = write_text (f, "bad3.txt", "0 0\n0.5 0.5\n");
  g_autofree double *q = NULL;
  guint k = 0;

  q = veto_import_read_transition (torch, &k, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (k, ==, 3);
  g_assert_cmpfloat_with_epsilon (q[1], 0.5, 1e-12);
  /* Rows are normalised: 1 3 0 becomes 0.25 0.75 0. */
  g_assert_cmpfloat_with_epsilon (q[6], 0.25, 1e-12);
  g_assert_cmpfloat_with_epsilon (q[7], 0.75, 1e-12);
  g_assert_null (veto_import_read_transition (square, &k, &error));
  g_assert_nonnull (strstr (error->message, "bad1.txt"));
  g_clear_error (&error);
  g_assert_null (veto_import_read_transition (negative, &k, &error));
  g_assert_nonnull (strstr (error->message, "bad2.txt"));
  g_clear_error (&error);
  g_assert_null (veto_import_read_transition (zero, &k, &error));
  g_assert_nonnull (strstr (error->message, "bad3.txt"));
}

/* Draws m distinct classes of k uniformly (the CLImage protocol). */
static void
uniform_candidates (VetoRng *rng, guint k, guint m, guint *out)
{
  guint pool[16];

  for (guint i = 0; i < k; i++)
    pool[i] = i;
  for (guint i = 0; i < m; i++)
    {
      guint j = i + veto_rng_below (rng, k - i);
      guint t = pool[i];

      pool[i] = pool[j];
      pool[j] = t;
      out[i] = pool[i];
    }
}

static void
test_biased_annotator_reproduces_matrix (void)
{
  enum { KK = 6, M = 4, DRAWS = 60000 };
  VetoRng rng;
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoSimAnnotator) annotator = NULL;
  double t[KK * KK], counts[KK * KK] = { 0 };

  /* A noisy, biased profile: a small diagonal (noise) and uneven wrong classes. */
  for (guint y = 0; y < KK; y++)
    {
      double sum = 0;

      for (guint c = 0; c < KK; c++)
        sum += t[y * KK + c] = c == y ? 0.3 : 1.0 + 0.8 * ((y * 7 + c * 3) % 5);
      for (guint c = 0; c < KK; c++)
        t[y * KK + c] /= sum;
    }
  annotator = veto_sim_annotator_new_biased (t, KK, M, &error);
  g_assert_no_error (error);
  veto_rng_init (&rng, 11);
  for (guint y = 0; y < KK; y++)
    for (guint i = 0; i < DRAWS; i++)
      {
        guint shown[M];

        uniform_candidates (&rng, KK, M, shown);
        counts[y * KK + veto_sim_annotator_answer_complementary (annotator, &rng, y, shown, M)]++;
      }
  /* Under the protocol the matrix was measured with, the answers reproduce it. */
  for (guint i = 0; i < KK * KK; i++)
    g_assert_cmpfloat_with_epsilon (counts[i] / DRAWS, t[i], 0.01);
}

/* A profile no choice model reproduces is refused, naming the row; CLImage's human profile
 * (the copy shipped in data/profiles) is reproduced within the tolerance. */
static void
test_profile_refused (void)
{
  enum { KK = 10, M = 4 };
  g_autoptr (GError) error = NULL;
  g_autofree char *human = g_test_build_filename (G_TEST_DIST, "..", "..", "data", "profiles",
                                                  "human_cifar10_T.txt", NULL);
  g_autofree char *profile = g_strconcat ("biased:", human, NULL);
  g_autoptr (VetoSimAnnotator) fitted = veto_sim_annotator_new (profile, KK, M, &error);
  double t[KK * KK];

  g_assert_no_error (error);
  g_assert_nonnull (fitted);
  /* the built-in "human" profile is the shipped file */
  {
    guint file_k = 0;
    g_autofree double *shipped = veto_import_read_transition (human, &file_k, &error);
    const double *built_in = veto_sim_human_profile ();

    g_assert_no_error (error);
    g_assert_cmpuint (file_k, ==, KK);
    for (guint i = 0; i < KK * KK; i++)
      {
        double row_sum = 0;

        for (guint c = 0; c < KK; c++)
          row_sum += built_in[i / KK * KK + c];
        g_assert_cmpfloat_with_epsilon (shipped[i], built_in[i] / row_sum, 1e-12);
      }
    g_clear_pointer (&fitted, veto_sim_annotator_free);
    fitted = veto_sim_annotator_new ("human", KK, M, &error);
    g_assert_no_error (error);
    g_assert_null (veto_sim_annotator_new ("human", 3, 3, &error));
    g_assert_nonnull (strstr (error->message, "10×10"));
    g_clear_error (&error);
  }
  /* Row 7 puts 0.55 on one class: above 4/10, what a class shown 40% of the time can get. */
  for (guint y = 0; y < KK; y++)
    for (guint c = 0; c < KK; c++)
      t[y * KK + c] = c == y ? 0.02 : 0.98 / (KK - 1);
  for (guint c = 0; c < KK; c++)
    t[7 * KK + c] = c == 7 ? 0.0 : c == 2 ? 0.55 : 0.45 / (KK - 2);
  g_assert_null (veto_sim_annotator_new_biased (t, KK, M, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "row 7"));
  g_clear_error (&error);
  /* a row just inside the bound is fine */
  for (guint c = 0; c < KK; c++)
    t[7 * KK + c] = c == 7 ? 0.0 : c == 2 ? 0.3 : 0.7 / (KK - 2);
  g_assert_nonnull (fitted = (veto_sim_annotator_free (fitted),
                              veto_sim_annotator_new_biased (t, KK, M, &error)));
  g_assert_no_error (error);
}

/* One seed reproduces the answers; another seed gives other answers. */
static void
test_annotator_seeded (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoSimAnnotator) uniform = veto_sim_annotator_new ("uniform", 10, 4, &error);
  guint first[200], differ = 0;
  VetoRng a, b;

  g_assert_no_error (error);
  veto_rng_init (&a, 42);
  for (guint i = 0; i < 200; i++)
    {
      guint shown[4];

      uniform_candidates (&a, 10, 4, shown);
      first[i] = veto_sim_annotator_answer_complementary (uniform, &a, i % 10, shown, 4);
    }
  for (guint seed = 42; seed <= 43; seed++)
    {
      veto_rng_init (&b, seed);
      for (guint i = 0; i < 200; i++)
        {
          guint shown[4], answer;

          uniform_candidates (&b, 10, 4, shown);
          answer = veto_sim_annotator_answer_complementary (uniform, &b, i % 10, shown, 4);
          if (seed == 42)
            g_assert_cmpuint (answer, ==, first[i]);
          else
            differ += answer != first[i];
        }
    }
  g_assert_cmpuint (differ, >, 100);
}

static void
test_simple_annotators (void)
{
  VetoRng rng;
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoSimAnnotator) uniform = veto_sim_annotator_new ("uniform", 10, 4, &error);
  g_autoptr (VetoSimAnnotator) noisy = veto_sim_annotator_new ("noisy:rho=0.25", 10, 4, &error);
  g_autoptr (VetoSimAnnotator) ordinary = veto_sim_annotator_new ("ordinary:noise=0.2", 10, 4,
                                                                  &error);
  guint shown[4] = { 7, 2, 5, 9 }, hits = 0, wrong = 0;

  g_assert_no_error (error);
  veto_rng_init (&rng, 5);
  for (guint i = 0; i < 20000; i++)
    {
      g_assert_cmpuint (veto_sim_annotator_answer_complementary (uniform, &rng, 2, shown, 4), !=, 2);
      hits += veto_sim_annotator_answer_complementary (noisy, &rng, 2, shown, 4) == 2;
      wrong += veto_sim_annotator_answer_ordinary (ordinary, &rng, 3) != 3;
    }
  g_assert_cmpfloat_with_epsilon (hits / 20000.0, 0.25, 0.015);
  g_assert_cmpfloat_with_epsilon (wrong / 20000.0, 0.2, 0.015);
  g_assert_null (veto_sim_annotator_new ("sloppy", 10, 4, &error));
  g_assert_nonnull (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, fn) g_test_add (name, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/sim/dataset-cache", test_dataset_and_cache);
  ADD ("/sim/train-gold-synthetic", test_train_gold_and_synthetic);
  ADD ("/sim/train-select", test_train_select);
  ADD ("/sim/train-folds", test_train_folds);
  ADD ("/sim/train-answers-round", test_train_answers_and_round);
  ADD ("/sim/transition-files", test_transition_files);
  ADD ("/sim/train/anchors-outside-pool", test_anchors_outside_pool_do_not_train);
  ADD ("/sim/train/test-answers", test_test_answers_do_not_train);
  ADD ("/sim/train/cross-fitted", test_cross_fitted_probs);
  ADD ("/sim/train/models-refined", test_models_refined_by_every_answer);
  ADD ("/sim/train/refine-annotator-model", test_refine_annotator_model);
  ADD ("/sim/train/model-before-anchors", test_model_before_anchors);
#undef ADD
  g_test_add_func ("/sim/annotator/biased", test_biased_annotator_reproduces_matrix);
  g_test_add_func ("/sim/annotator/simple", test_simple_annotators);
  g_test_add_func ("/sim/annotator/refused", test_profile_refused);
  g_test_add_func ("/sim/annotator/seeded", test_annotator_seeded);
  return g_test_run ();
}
