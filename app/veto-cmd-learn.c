/* veto-cmd-learn: the subcommands that train and evaluate a classifier: train, eval. */
#include "veto-cli.h"

#include <json-glib/json-glib.h>
#include <math.h>

#include "veto-import.h"
#include "veto-sim.h"

static VetoDataset *
load_dataset (VetoStore *store, const char *features, gboolean cache, double *out_seconds,
              GError **error)
{
  g_autoptr (VetoCliProgress) progress = veto_cli_progress_new ("Features");
  gint64 started = g_get_monotonic_time ();
  VetoDataset *ds = veto_dataset_load (store, features, cache, veto_cli_progress_update_count, progress, NULL,
                                       error);

  *out_seconds = (g_get_monotonic_time () - started) / 1e6;
  return ds;
}

static void
add_evaluation (JsonBuilder *b, const VetoDataset *ds, const VetoEvaluation *e)
{
  guint k = e->n_classes;

  json_builder_set_member_name (b, "test_accuracy");
  json_builder_add_double_value (b, e->accuracy);
  json_builder_set_member_name (b, "test_items");
  json_builder_add_int_value (b, e->n);
  json_builder_set_member_name (b, "ece");
  json_builder_add_double_value (b, e->ece);
  json_builder_set_member_name (b, "per_class_accuracy");
  json_builder_begin_object (b);
  for (guint c = 0; c < k; c++)
    {
      json_builder_set_member_name (b, veto_dataset_get_class_name (ds, c));
      if (isnan (e->per_class_accuracy[c]))
        json_builder_add_null_value (b);
      else
        json_builder_add_double_value (b, e->per_class_accuracy[c]);
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "confusion");
  json_builder_begin_array (b);
  for (guint r = 0; r < k; r++)
    {
      json_builder_begin_array (b);
      for (guint c = 0; c < k; c++)
        json_builder_add_int_value (b, e->confusion[(gsize) r * k + c]);
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
}

static void
print_evaluation_text (const VetoDataset *ds, const VetoEvaluation *e)
{
  g_print ("Test accuracy %.4f on %u items (ECE %.4f)\n", e->accuracy, e->n, e->ece);
  for (guint c = 0; c < e->n_classes; c++)
    g_print ("  %-16s %.4f\n", veto_dataset_get_class_name (ds, c), e->per_class_accuracy[c]);
}

static char *
json_text (JsonBuilder *b, gboolean pretty)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);

  return json_to_string (root, pretty);
}

int
veto_cmd_train (int argc, char **argv)
{
  g_autofree char *features = NULL;
  g_autofree char *model_name = NULL;
  g_autofree char *supervision_name = NULL;
  g_autofree char *loss_name = NULL;
  g_autofree char *q_name = NULL;
  g_autofree char *schedule_name = NULL;
  g_autofree char *recipe = NULL;
  gint per_item = 1, estimate_q = 0, hidden = 0, epochs = 0, batch = 0, seed = 1;
  double lr = 0, weight_decay = -1, q_smoothing = -1;
  gboolean as_json = FALSE, no_save = FALSE;
  GOptionEntry entries[] = {
    { "features", 'F', 0, G_OPTION_ARG_STRING, &features,
      "pixels (default), hog, kmeans[:k=N] or npy:FILE", "SPEC" },
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model_name, "softmax (default) or mlp", "MODEL" },
    { "hidden", 0, 0, G_OPTION_ARG_INT, &hidden, "MLP hidden width (default 256)", "N" },
    { "supervision", 's', 0, G_OPTION_ARG_STRING, &supervision_name,
      "gold (default: the pool's gold labels, a ceiling), answers (what annotators gave) or "
      "synthetic-complementary (CLs drawn from gold labels through --q)", "KIND" },
    { "loss", 'l', 0, G_OPTION_ARG_STRING, &loss_name,
      "complementary loss: scl-nl (default), scl-exp, fwd, ure, ure-nn, ure-ga, pc, cpe-f, "
      "mcl-log, candidate", "NAME" },
    { "q", 'q', 0, G_OPTION_ARG_FILENAME, &q_name,
      "uniform (default) or a K×K transition matrix file (rows = true class)", "uniform|FILE" },
    { "per-item", 'n', 0, G_OPTION_ARG_INT, &per_item, "synthetic CLs per item (default 1)", "N" },
    { "estimate-q", 0, 0, G_OPTION_ARG_INT, &estimate_q,
      "fwd/ure/cpe-f: estimate Q from N pool items' gold labels and CLs instead of using --q",
      "N" },
    { "q-smoothing", 0, 0, G_OPTION_ARG_DOUBLE, &q_smoothing,
      "with --estimate-q: α of Q = αU + (1−α)Q̂ (default 0.5)", "A" },
    { "recipe", 0, 0, G_OPTION_ARG_STRING, &recipe,
      "ishida2019: the training settings of Ishida et al. (ICML 2019) for the MNIST family "
      "(pixels in [0, 1], Adam at a constant 5e-5, batches of 256, 300 epochs, weight decay "
      "1e-4, 500 hidden units for an mlp); the options below override it", "NAME" },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &epochs,
      "most epochs (default: about 250 steps, 5 to 200 epochs)", "N" },
    { "batch", 'b', 0, G_OPTION_ARG_INT, &batch, "minibatch size (default 256)", "N" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "Adam learning rate (default 0.002)", "X" },
    { "schedule", 0, 0, G_OPTION_ARG_STRING, &schedule_name,
      "learning-rate schedule: cosine (default, annealed to 0) or constant", "NAME" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &weight_decay, "AdamW weight decay", "X" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, "random seed (default 1)", "N" },
    { "no-save", 0, 0, G_OPTION_ARG_NONE, &no_save,
      "do not save the model (opens the project read-only)", NULL },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &as_json, "print JSON (schema in the README)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "PROJECT — train a classifier and evaluate it on the test split");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (VetoDataset) ds = NULL;
  g_autoptr (VetoModel) model = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree double *q = NULL;
  g_autofree char *metrics = NULL;
  VetoTrainSpec spec;
  VetoTrainResult result = { 0 };
  VetoEvaluation eval = { 0 };
  double features_seconds = 0;
  gint64 version = 0;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Features are cached in the project and recomputed when their parameters change.\n"
      "The model is saved as a new round unless --no-save.\n"
      "Exit status: 0 done, 1 training failed or a file is bad, 2 usage, 3 the project cannot "
      "be used.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return veto_cli_usage (context, "train takes one PROJECT");
  veto_train_spec_init (&spec);
  if (model_name && !veto_model_kind_from_string (model_name, &spec.model))
    return veto_cli_usage (context, "--model must be softmax or mlp");
  if (supervision_name && !veto_supervision_from_string (supervision_name, &spec.supervision))
    return veto_cli_usage (context,
                           "--supervision must be gold, answers or synthetic-complementary");
  if (loss_name && !veto_loss_complementary_from_string (loss_name, &spec.cl_loss, &error))
    return veto_cli_usage (context, error->message);
  if (per_item < 1 || estimate_q < 0 || hidden < 0 || epochs < 0 || batch < 0 || seed < 0)
    return veto_cli_usage (context, "numbers must be positive");
  spec.hidden = hidden;
  spec.per_item = per_item;
  spec.estimate_q_from = estimate_q;
  if (q_smoothing > 1)
    return veto_cli_usage (context, "--q-smoothing must be between 0 and 1");
  if (q_smoothing >= 0)
    spec.q_smoothing = q_smoothing;
  spec.seed = seed;
  if (g_strcmp0 (recipe, "ishida2019") == 0)
    {
      spec.train.solver = VETO_SOLVER_ADAMW;
      spec.train.learning_rate = 5e-5;
      spec.train.schedule = VETO_LR_CONSTANT;
      spec.train.batch_size = 256;
      spec.train.max_epochs = 300;
      spec.train.weight_decay = 1e-4;
      if (!hidden)
        spec.hidden = 500;
      if (!features)
        features = g_strdup ("pixels:std=0");
    }
  else if (recipe)
    return veto_cli_usage (context, "--recipe must be ishida2019");
  if (epochs)
    spec.train.max_epochs = epochs;
  if (batch)
    spec.train.batch_size = batch;
  if (lr > 0)
    spec.train.learning_rate = lr;
  if (weight_decay >= 0)
    spec.train.weight_decay = weight_decay;
  if (g_strcmp0 (schedule_name, "constant") == 0)
    spec.train.schedule = VETO_LR_CONSTANT;
  else if (g_strcmp0 (schedule_name, "cosine") == 0)
    spec.train.schedule = VETO_LR_COSINE;
  else if (schedule_name)
    return veto_cli_usage (context, "--schedule must be cosine or constant");

  store = veto_store_open (argv[1], no_save, &error);
  if (store == NULL)
    return veto_cli_fail (error);
  ds = load_dataset (store, features ? features : "pixels", !no_save, &features_seconds, &error);
  if (ds == NULL)
    return veto_cli_fail (error);
  if (q_name && g_strcmp0 (q_name, "uniform") != 0)
    {
      guint k = 0;

      q = veto_import_read_transition (q_name, &k, &error);
      if (q == NULL)
        return veto_cli_fail (error);
      if (k != veto_dataset_get_n_classes (ds))
        {
          g_printerr ("veto: %s: a %u×%u matrix for a project of %u classes\n", q_name, k, k,
                      veto_dataset_get_n_classes (ds));
          return VETO_EXIT_FAILED;
        }
      spec.q = q;
    }
  model = veto_sim_train (store, ds, &spec, &result, NULL, &error);
  if (model == NULL)
    return veto_cli_fail (error);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "features");
  json_builder_add_string_value (b, veto_dataset_get_features_key (ds));
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, veto_model_kind_to_string (spec.model));
  json_builder_set_member_name (b, "supervision");
  json_builder_add_string_value (b, supervision_name ? supervision_name : "gold");
  json_builder_set_member_name (b, "loss");
  json_builder_add_string_value (b, spec.supervision == VETO_SUPERVISION_GOLD
                                        ? "ce"
                                        : veto_loss_complementary_to_string (spec.cl_loss));
  json_builder_set_member_name (b, "train_size");
  json_builder_add_int_value (b, result.train_size);
  json_builder_set_member_name (b, "answers_used");
  json_builder_add_int_value (b, result.n_terms);
  json_builder_set_member_name (b, "annotator_model_anchor_answers");
  json_builder_add_int_value (b, result.anchor_answers);
  if (result.q_used != NULL)
    {
      /* the transition matrix the loss used (rows = true class) */
      json_builder_set_member_name (b, "q_used");
      json_builder_begin_array (b);
      for (guint y = 0; y < veto_dataset_get_n_classes (ds); y++)
        {
          json_builder_begin_array (b);
          for (guint c = 0; c < veto_dataset_get_n_classes (ds); c++)
            json_builder_add_double_value (
                b, result.q_used[(gsize) y * veto_dataset_get_n_classes (ds) + c]);
          json_builder_end_array (b);
        }
      json_builder_end_array (b);
    }
  json_builder_set_member_name (b, "validation");
  json_builder_add_string_value (b, result.validation);
  json_builder_set_member_name (b, "epochs");
  json_builder_add_int_value (b, result.epochs);
  json_builder_set_member_name (b, "features_seconds");
  json_builder_add_double_value (b, features_seconds);
  json_builder_set_member_name (b, "train_seconds");
  json_builder_add_double_value (b, result.train_seconds);
  if (veto_sim_evaluate (ds, model,  VETO_SPLIT_TEST,
                         spec.cl_loss == VETO_LOSS_COMPLEMENTARY_CPE_F ? result.q_used : NULL,
                         &eval, &error))
    add_evaluation (b, ds, &eval);
  else
    g_clear_error (&error);
  json_builder_end_object (b);
  metrics = json_text (b, FALSE);
  if (!no_save)
    {
      g_autoptr (GBytes) weights = veto_model_save (model);

      if (!veto_store_add_round (store, features ? features : "pixels",
                                 veto_model_kind_to_string (spec.model), result.train_size,
                                 metrics, result.train_seconds, weights, &version, &error))
        return veto_cli_fail (error);
    }
  if (as_json)
    {
      g_autofree char *pretty = json_text (b, TRUE);

      g_print ("%s\n", pretty);
    }
  else
    {
      g_print ("Trained %s on %s features: %u items, %u answers, %u epochs, %.2f s "
               "(features %.2f s)%s\n",
               veto_model_kind_to_string (spec.model), veto_dataset_get_features_key (ds),
               result.train_size, result.n_terms, result.epochs, result.train_seconds,
               features_seconds, version ? "" : "; not saved");
      if (eval.n)
        print_evaluation_text (ds, &eval);
    }
  veto_evaluation_clear (&eval);
  veto_train_result_clear (&result);
  return VETO_EXIT_OK;
}

int
veto_cmd_eval (int argc, char **argv)
{
  g_autofree char *split_name = NULL;
  gint64 round = 0;
  gboolean as_json = FALSE;
  GOptionEntry entries[] = {
    { "round", 'r', 0, G_OPTION_ARG_INT64, &round, "the round to evaluate (default: latest)",
      "N" },
    { "split", 's', 0, G_OPTION_ARG_STRING, &split_name, "test (default), validation or pool",
      "SPLIT" },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &as_json, "print JSON (schema in the README)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "PROJECT — evaluate a saved model on a split's gold labels");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (VetoDataset) ds = NULL;
  g_autoptr (VetoModel) model = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) weights = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree char *features = NULL;
  VetoSplit split = VETO_SPLIT_TEST;
  VetoEvaluation eval = { 0 };
  double seconds;
  gint64 version;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Reads the project without writing to it.\n"
      "Exit status: 0 done, 1 nothing to evaluate, 2 usage, 3 the project cannot be read.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return veto_cli_usage (context, "eval takes one PROJECT");
  if (split_name && !veto_split_from_string (split_name, &split))
    return veto_cli_usage (context, "--split must be pool, test or validation");
  store = veto_store_open (argv[1], TRUE, &error);
  if (store == NULL)
    return veto_cli_fail (error);
  if (!veto_store_get_round (store, round, &version, &features, &weights, &error)
      || !veto_model_load (weights, &model, &error))
    {
      g_printerr ("veto: %s\n", error->message);
      return VETO_EXIT_FAILED;
    }
  ds = load_dataset (store, features, FALSE, &seconds, &error);
  if (ds == NULL)
    return veto_cli_fail (error);
  if (!veto_sim_evaluate (ds, model, split, NULL, &eval, &error))
    {
      g_printerr ("veto: %s\n", error->message);
      return VETO_EXIT_FAILED;
    }
  if (as_json)
    {
      g_autofree char *text = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "round");
      json_builder_add_int_value (b, version);
      json_builder_set_member_name (b, "split");
      json_builder_add_string_value (b, veto_split_to_string (split));
      add_evaluation (b, ds, &eval);
      json_builder_end_object (b);
      text = json_text (b, TRUE);
      g_print ("%s\n", text);
    }
  else
    {
      g_print ("Round %" G_GINT64_FORMAT " on the %s split:\n", version,
               veto_split_to_string (split));
      print_evaluation_text (ds, &eval);
    }
  veto_evaluation_clear (&eval);
  return VETO_EXIT_OK;
}
