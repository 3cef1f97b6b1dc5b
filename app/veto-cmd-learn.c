/* veto-cmd-learn: the subcommands that train and evaluate a classifier: train, eval. */
#include "veto-cli.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "veto-import.h"
#include "veto-json.h"
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
      veto_json_add_number (b, veto_dataset_get_class_name (ds, c), e->per_class_accuracy[c]);
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

/* One axis of a --select grid: a training option and the values to try. */
typedef struct
{
  char *key;
  GPtrArray *values; /* char * */
} SelectAxis;

static void
select_axis_free (gpointer data)
{
  SelectAxis *axis = data;

  g_free (axis->key);
  g_ptr_array_unref (axis->values);
  g_free (axis);
}

static const char *const select_keys[] = { "lr", "epochs", "model", "hidden", "features",
                                           "weight-decay" };

/* Parses every --select KEY=V1,V2,... into axes; a key given twice gathers its values, which is
 * how several feature specs (whose own parameters contain commas) are listed. */
static GPtrArray *
parse_select (char **select, char **out_problem)
{
  g_autoptr (GPtrArray) axes = g_ptr_array_new_with_free_func (select_axis_free);

  for (guint i = 0; select && select[i]; i++)
    {
      const char *eq = strchr (select[i], '=');
      g_autofree char *key = eq ? g_strndup (select[i], eq - select[i]) : NULL;
      SelectAxis *axis = NULL;
      g_auto (GStrv) values = NULL;
      gboolean known = FALSE;

      for (guint k = 0; key && k < G_N_ELEMENTS (select_keys); k++)
        known |= strcmp (key, select_keys[k]) == 0;
      if (!known || eq[1] == '\0')
        {
          *out_problem = g_strdup_printf ("--select %s: give KEY=V1,V2,... with KEY one of lr, "
                                          "epochs, model, hidden, features, weight-decay",
                                          select[i]);
          return NULL;
        }
      for (guint a = 0; a < axes->len; a++)
        if (strcmp (((SelectAxis *) axes->pdata[a])->key, key) == 0)
          axis = axes->pdata[a];
      if (axis == NULL)
        {
          axis = g_new0 (SelectAxis, 1);
          axis->key = g_strdup (key);
          axis->values = g_ptr_array_new_with_free_func (g_free);
          g_ptr_array_add (axes, axis);
        }
      if (strcmp (key, "features") == 0)
        g_ptr_array_add (axis->values, g_strdup (eq + 1));
      else
        {
          values = g_strsplit (eq + 1, ",", -1);
          for (guint v = 0; values[v]; v++)
            {
              char *end = NULL;
              double x = g_ascii_strtod (values[v], &end);
              VetoModelKind kind;

              if (strcmp (key, "model") == 0 ? !veto_model_kind_from_string (values[v], &kind)
                                             : (end == values[v] || *end != '\0' || !(x > 0)
                                                || (strcmp (key, "weight-decay") != 0
                                                    && strcmp (key, "lr") != 0
                                                    && x != (guint) x)))
                {
                  *out_problem = g_strdup_printf ("--select %s: \"%s\" is not a valid value",
                                                  key, values[v]);
                  return NULL;
                }
              g_ptr_array_add (axis->values, g_strdup (values[v]));
            }
        }
    }
  return g_steal_pointer (&axes);
}

/* Sets one grid value on a candidate's spec (features are handled by the caller). */
static void
apply_setting (VetoTrainSpec *spec, const char *key, const char *value)
{
  double x = g_ascii_strtod (value, NULL);

  if (strcmp (key, "lr") == 0)
    spec->train.learning_rate = x;
  else if (strcmp (key, "epochs") == 0)
    spec->train.max_epochs = (guint) x;
  else if (strcmp (key, "hidden") == 0)
    spec->hidden = (guint) x;
  else if (strcmp (key, "weight-decay") == 0)
    spec->train.weight_decay = x;
  else if (strcmp (key, "model") == 0)
    veto_model_kind_from_string (value, &spec->model);
}

typedef struct
{
  char *setting;       /* "lr=5e-4 features=pixels:std=0", the grid's values */
  char *features;
  GArray *epoch_scores; /* double: the validation score after every epoch */
} CandidateInfo;

static void
record_epoch (gpointer user_data, guint epoch, double loss, double score)
{
  g_array_append_val ((GArray *) user_data, score);
}

/* What chose the epoch (and the setting), and the accuracy estimate without gold. */
static void
add_validation (JsonBuilder *b, const VetoTrainResult *r)
{
  json_builder_set_member_name (b, "validation");
  json_builder_add_string_value (b, r->validation);
  veto_json_add_number (b, "validation_score", r->validation_score);
  json_builder_set_member_name (b, "best_epoch");
  json_builder_add_int_value (b, r->best_epoch);
  json_builder_set_member_name (b, "held_out");
  json_builder_add_int_value (b, r->held_out);
  json_builder_set_member_name (b, "estimated_from");
  json_builder_add_string_value (b, r->estimated_from);
  veto_json_add_number (b, "estimated_accuracy", r->estimated_accuracy);
  veto_json_add_number (b, "estimated_accuracy_low", r->estimated_accuracy_low);
  veto_json_add_number (b, "estimated_accuracy_high", r->estimated_accuracy_high);
}

static const char *
describe_validation (const char *validation)
{
  if (g_strcmp0 (validation, "ure-01") == 0)
    return "the held-out CLs' unbiased estimate of the 0-1 risk";
  if (g_strcmp0 (validation, "scel") == 0)
    return "the held-out CLs' SCEL";
  if (g_strcmp0 (validation, "answers") == 0)
    return "the held-out answers' likelihood";
  if (g_strcmp0 (validation, "gold") == 0)
    return "the validation split's gold error rate";
  return "nothing (the last epoch)";
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
  g_autofree char *criterion_name = NULL;
  g_autofree char *keep_name = NULL;
  g_auto (GStrv) select = NULL;
  gint per_item = 1, estimate_q = 0, hidden = 0, epochs = 0, batch = 0, seed = 1, patience = -1;
  gint average = 0, folds = 0;
  double lr = 0, weight_decay = -1, q_smoothing = -1, holdout = -1;
  gboolean as_json = FALSE, no_save = FALSE, refit = FALSE;
  GOptionEntry entries[] = {
    { "features", 'F', 0, G_OPTION_ARG_STRING, &features,
      "pixels (default), hog, kmeans[:k=N] or npy:FILE", "SPEC" },
    { "model", 'm', 0, G_OPTION_ARG_STRING, &model_name, "softmax (default) or mlp", "MODEL" },
    { "hidden", 0, 0, G_OPTION_ARG_INT, &hidden, "MLP hidden width (default 256)", "N" },
    { "supervision", 's', 0, G_OPTION_ARG_STRING, &supervision_name,
      "gold (default: the pool's gold labels, a ceiling), answers (what annotators gave) or "
      "synthetic-complementary (CLs drawn from gold labels through --q)", "KIND" },
    { "loss", 'l', 0, G_OPTION_ARG_STRING, &loss_name,
      "complementary loss: candidate (the default with --supervision answers: each answer's "
      "likelihood given the candidates it was asked with, under its annotator's fitted model, "
      "as the engine learns), scl-nl (the default with synthetic-complementary), scl-exp, fwd, "
      "ure, ure-nn, ure-ga, pc, cpe-f, mcl-log", "NAME" },
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
    { "holdout", 0, 0, G_OPTION_ARG_DOUBLE, &holdout,
      "synthetic-complementary or answers: share of the pool items whose CLs are held out of "
      "training to choose the epoch (and the --select setting) without gold (default 0; 0.1 "
      "with --select, unless --folds)", "R" },
    { "criterion", 0, 0, G_OPTION_ARG_STRING, &criterion_name,
      "what scores held-out synthetic CLs: ure-01 (default: the unbiased estimate of the 0-1 "
      "risk) or scel", "NAME" },
    { "patience", 0, 0, G_OPTION_ARG_INT, &patience,
      "with a validation: stop after N epochs without a better score (default 5; 0: run every "
      "epoch); the best epoch's weights are kept", "N" },
    { "keep", 0, 0, G_OPTION_ARG_STRING, &keep_name,
      "with a validation: which weights are kept and scored: best (default: the best-scoring "
      "epoch's) or last (the last epoch's, every epoch run: the settings are then compared by "
      "the score of the model they end with, and --refit repeats the whole schedule)", "WHICH" },
    { "average", 0, 0, G_OPTION_ARG_INT, &average,
      "keep the mean of the weights at the ends of the last N epochs (tail averaging, as SWA); "
      "implies --keep last (default 0: no average)", "N" },
    { "folds", 0, 0, G_OPTION_ARG_INT, &folds,
      "with --select and --refit, synthetic-complementary: k-fold cross-validation (as "
      "GridSearchCV(cv=K)) instead of one holdout: every setting is trained K times, each time "
      "with one fold of the pool items' CLs held out (folds by --holdout's item hash), and the "
      "settings are compared by the mean of their K held-out scores (default 0: one holdout)",
      "K" },
    { "select", 0, 0, G_OPTION_ARG_STRING_ARRAY, &select,
      "model selection on the held-out CLs: train every combination of the values listed "
      "(lr, epochs, model, hidden, features, weight-decay; repeat the option per key, and per "
      "feature spec) and keep the one that scores best", "KEY=V1,V2" },
    { "refit", 0, 0, G_OPTION_ARG_NONE, &refit,
      "after the held-out data chose the setting and the epoch, train that setting again on "
      "every item, nothing held out, for the number of epochs chosen (with --keep last or "
      "--average: the whole schedule)", NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, "random seed (default 1)", "N" },
    { "no-save", 0, 0, G_OPTION_ARG_NONE, &no_save,
      "do not save the model (opens the project read-only)", NULL },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &as_json, "print JSON (schema in the README)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "PROJECT — train a classifier and evaluate it on the test split");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (GHashTable) datasets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                           (GDestroyNotify) veto_dataset_free);
  g_autoptr (GPtrArray) axes = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autofree double *q = NULL;
  g_autofree char *metrics = NULL;
  g_autofree char *problem = NULL;
  g_autofree VetoTrainCandidate *candidates = NULL;
  g_autofree CandidateInfo *info = NULL;
  g_autofree VetoEvaluation *evals = NULL;
  g_autoptr (VetoModel) refit_model = NULL;
  VetoTrainResult refit_result = { 0 };
  VetoEvaluation refit_eval = { 0 };
  const VetoTrainResult *final;
  const VetoDataset *ds;
  VetoModel *model;
  const VetoTrainResult *result;
  const VetoTrainSpec *chosen_spec;
  VetoTrainSpec spec;
  VetoEvaluation *eval;
  double features_seconds = 0;
  gint64 version = 0;
  guint n_candidates = 1, best = 0;
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
  /* People's answers were asked with candidate sets, which SCL-NL ignores (it assumes every
   * other class was on offer): on a simulate run's 1,200 human-profile answers (informative
   * sets) SCL-NL trains to 0.098 and the candidate-aware loss to 0.349. */
  if (spec.supervision == VETO_SUPERVISION_ANSWERS)
    spec.cl_loss = VETO_LOSS_COMPLEMENTARY_CANDIDATE;
  if (loss_name && !veto_loss_complementary_from_string (loss_name, &spec.cl_loss, &error))
    return veto_cli_usage (context, error->message);
  if (criterion_name && !veto_cl_criterion_from_string (criterion_name, &spec.cl_criterion))
    return veto_cli_usage (context, "--criterion must be ure-01 or scel");
  if (per_item < 1 || estimate_q < 0 || hidden < 0 || epochs < 0 || batch < 0 || seed < 0
      || average < 0 || folds < 0)
    return veto_cli_usage (context, "numbers must be positive");
  if (holdout != -1 && !(holdout >= 0 && holdout < 1))
    return veto_cli_usage (context, "--holdout must be a share in [0, 1)");
  axes = parse_select (select, &problem);
  if (axes == NULL)
    return veto_cli_usage (context, problem);
  spec.hidden = hidden;
  spec.per_item = per_item;
  spec.estimate_q_from = estimate_q;
  if (folds > 0)
    {
      if (folds < 2 || folds > 20)
        return veto_cli_usage (context, "--folds must be between 2 and 20");
      if (holdout >= 0)
        return veto_cli_usage (context, "--folds holds out each fold in turn: no --holdout");
      if (axes->len == 0 || !refit)
        return veto_cli_usage (context, "--folds chooses a --select setting, which --refit "
                                        "then trains on every item: give both");
      if (spec.supervision != VETO_SUPERVISION_SYNTHETIC_CL)
        return veto_cli_usage (context, "--folds holds out synthetic CLs: "
                                        "--supervision synthetic-complementary");
    }
  spec.folds = folds;
  spec.holdout = holdout >= 0 ? holdout : axes->len > 0 && folds == 0 ? 0.1 : 0.0;
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
  if (patience >= 0)
    spec.train.patience = patience;
  if (g_strcmp0 (keep_name, "last") == 0)
    spec.train.keep_last = TRUE;
  else if (keep_name && strcmp (keep_name, "best") != 0)
    return veto_cli_usage (context, "--keep must be best or last");
  if (keep_name && strcmp (keep_name, "best") == 0 && average > 0)
    return veto_cli_usage (context, "--average keeps the last epochs' mean, not the best epoch");
  spec.train.average_epochs = average;
  if (g_strcmp0 (schedule_name, "constant") == 0)
    spec.train.schedule = VETO_LR_CONSTANT;
  else if (g_strcmp0 (schedule_name, "cosine") == 0)
    spec.train.schedule = VETO_LR_COSINE;
  else if (schedule_name)
    return veto_cli_usage (context, "--schedule must be cosine or constant");
  if (!features)
    features = g_strdup ("pixels");

  /* The grid: every combination of the axes' values, the first axis varying slowest. */
  for (guint a = 0; a < axes->len; a++)
    n_candidates *= ((SelectAxis *) axes->pdata[a])->values->len;
  candidates = g_new0 (VetoTrainCandidate, n_candidates);
  info = g_new0 (CandidateInfo, n_candidates);
  evals = g_new0 (VetoEvaluation, n_candidates);
  for (guint i = 0; i < n_candidates; i++)
    {
      GString *setting = g_string_new (NULL);
      guint rest = i;

      candidates[i].spec = spec;
      info[i].features = g_strdup (features);
      for (guint a = axes->len; a-- > 0;)
        {
          SelectAxis *axis = axes->pdata[a];
          const char *value = axis->values->pdata[rest % axis->values->len];

          rest /= axis->values->len;
          if (strcmp (axis->key, "features") == 0)
            {
              g_free (info[i].features);
              info[i].features = g_strdup (value);
            }
          else
            apply_setting (&candidates[i].spec, axis->key, value);
          g_string_prepend (setting, value);
          g_string_prepend_c (setting, '=');
          g_string_prepend (setting, axis->key);
          if (a > 0)
            g_string_prepend_c (setting, ' ');
        }
      info[i].setting = g_string_free (setting, FALSE);
      info[i].epoch_scores = g_array_new (FALSE, FALSE, sizeof (double));
      candidates[i].spec.train.progress = record_epoch;
      candidates[i].spec.train.progress_data = info[i].epoch_scores;
    }

  store = veto_store_open (argv[1], no_save, &error);
  if (store == NULL)
    {
      status = veto_cli_fail (error);
      goto out;
    }
  for (guint i = 0; i < n_candidates; i++)
    {
      VetoDataset *loaded = g_hash_table_lookup (datasets, info[i].features);
      double seconds = 0;

      if (loaded == NULL)
        {
          loaded = load_dataset (store, info[i].features, !no_save, &seconds, &error);
          if (loaded == NULL)
            {
              status = veto_cli_fail (error);
              goto out;
            }
          g_hash_table_insert (datasets, g_strdup (info[i].features), loaded);
          features_seconds += seconds;
        }
      candidates[i].dataset = loaded;
    }
  if (q_name && g_strcmp0 (q_name, "uniform") != 0)
    {
      guint k = 0, n_classes = veto_dataset_get_n_classes (candidates[0].dataset);

      q = veto_import_read_transition (q_name, &k, &error);
      if (q == NULL)
        {
          status = veto_cli_fail (error);
          goto out;
        }
      if (k != n_classes)
        {
          g_printerr ("veto: %s: a %u×%u matrix for a project of %u classes\n", q_name, k, k,
                      n_classes);
          status = VETO_EXIT_FAILED;
          goto out;
        }
      for (guint i = 0; i < n_candidates; i++)
        candidates[i].spec.q = q;
    }
  if (axes->len > 0)
    {
      if (!veto_sim_train_select (store, candidates, n_candidates, &best, NULL, &error))
        {
          status = veto_cli_fail (error);
          goto out;
        }
    }
  else
    {
      candidates[0].model = veto_sim_train (store, candidates[0].dataset, &candidates[0].spec,
                                            &candidates[0].result, NULL, &error);
      if (candidates[0].model == NULL)
        {
          status = veto_cli_fail (error);
          goto out;
        }
    }
  /* Test accuracy of every setting: reported beside the held-out score, never used to choose. */
  for (guint i = 0; i < n_candidates; i++)
    if (!veto_sim_evaluate (candidates[i].dataset, candidates[i].model, VETO_SPLIT_TEST,
                            candidates[i].spec.cl_loss == VETO_LOSS_COMPLEMENTARY_CPE_F
                                ? candidates[i].result.q_used
                                : NULL,
                            &evals[i], &error))
      g_clear_error (&error);
  ds = candidates[best].dataset;
  model = candidates[best].model;
  result = &candidates[best].result;
  chosen_spec = &candidates[best].spec;
  eval = &evals[best];
  final = result;
  if (refit && g_strcmp0 (result->validation, "none") == 0)
    {
      status = veto_cli_usage (context, "--refit needs a --holdout (or --select) to choose by");
      goto out;
    }
  if (refit)
    {
      VetoTrainSpec again = *chosen_spec;

      again.holdout = 0;
      again.folds = 0;
      again.train.max_epochs = result->best_epoch;
      again.train.progress = NULL;
      refit_model = veto_sim_train (store, ds, &again, &refit_result, NULL, &error);
      if (refit_model == NULL)
        {
          {
            status = veto_cli_fail (error);
            goto out;
          }
        }
      if (!veto_sim_evaluate (ds, refit_model, VETO_SPLIT_TEST,
                              chosen_spec->cl_loss == VETO_LOSS_COMPLEMENTARY_CPE_F
                                  ? refit_result.q_used
                                  : NULL,
                              &refit_eval, &error))
        g_clear_error (&error);
      model = refit_model;
      final = &refit_result;
      eval = &refit_eval;
    }

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "features");
  json_builder_add_string_value (b, veto_dataset_get_features_key (ds));
  json_builder_set_member_name (b, "model");
  json_builder_add_string_value (b, veto_model_kind_to_string (chosen_spec->model));
  json_builder_set_member_name (b, "supervision");
  json_builder_add_string_value (b, supervision_name ? supervision_name : "gold");
  json_builder_set_member_name (b, "loss");
  json_builder_add_string_value (b, spec.supervision == VETO_SUPERVISION_GOLD
                                        ? "ce"
                                        : veto_loss_complementary_to_string (spec.cl_loss));
  json_builder_set_member_name (b, "train_size");
  json_builder_add_int_value (b, final->train_size);
  json_builder_set_member_name (b, "answers_used");
  json_builder_add_int_value (b, final->n_terms);
  json_builder_set_member_name (b, "annotator_model_anchor_answers");
  json_builder_add_int_value (b, result->anchor_answers);
  /* the annotator models the loss read the answers through (with the candidate-aware loss, the
   * anchors' fit refined by every answer) */
  veto_train_result_add_annotator_models (result, veto_dataset_get_n_classes (ds), b);
  /* the transition matrix the loss used (rows = true class) */
  if (result->q_used != NULL)
    veto_json_add_matrix (b, "q_used", result->q_used, veto_dataset_get_n_classes (ds));
  add_validation (b, result);
  json_builder_set_member_name (b, "refit");
  json_builder_add_boolean_value (b, refit);
  json_builder_set_member_name (b, "epochs");
  json_builder_add_int_value (b, final->epochs);
  json_builder_set_member_name (b, "keep");
  json_builder_add_string_value (b, chosen_spec->train.keep_last
                                            || chosen_spec->train.average_epochs > 0
                                        ? "last"
                                        : "best");
  json_builder_set_member_name (b, "averaged_epochs");
  json_builder_add_int_value (b, final->averaged_epochs);
  json_builder_set_member_name (b, "learning_rate");
  json_builder_add_double_value (b, chosen_spec->train.learning_rate);
  json_builder_set_member_name (b, "features_seconds");
  json_builder_add_double_value (b, features_seconds);
  json_builder_set_member_name (b, "train_seconds");
  json_builder_add_double_value (b, final->train_seconds);
  if (eval->n)
    add_evaluation (b, ds, eval);
  if (axes->len > 0)
    {
      json_builder_set_member_name (b, "selection");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "criterion");
      json_builder_add_string_value (b, result->validation);
      json_builder_set_member_name (b, "holdout");
      json_builder_add_double_value (b, spec.holdout);
      json_builder_set_member_name (b, "folds");
      json_builder_add_int_value (b, spec.folds);
      json_builder_set_member_name (b, "chosen");
      json_builder_add_string_value (b, info[best].setting);
      json_builder_set_member_name (b, "candidates");
      json_builder_begin_array (b);
      for (guint i = 0; i < n_candidates; i++)
        {
          json_builder_begin_object (b);
          json_builder_set_member_name (b, "setting");
          json_builder_add_string_value (b, info[i].setting);
          json_builder_set_member_name (b, "held_out_score");
          json_builder_add_double_value (b, candidates[i].result.validation_score);
          if (candidates[i].result.folds > 0)
            {
              /* held_out_score is their mean */
              json_builder_set_member_name (b, "held_out_se");
              json_builder_add_double_value (b, candidates[i].result.validation_se);
              json_builder_set_member_name (b, "fold_scores");
              json_builder_begin_array (b);
              for (guint f = 0; f < candidates[i].result.folds; f++)
                json_builder_add_double_value (b, candidates[i].result.fold_scores[f]);
              json_builder_end_array (b);
            }
          json_builder_set_member_name (b, "best_epoch");
          json_builder_add_int_value (b, candidates[i].result.best_epoch);
          json_builder_set_member_name (b, "epochs");
          json_builder_add_int_value (b, candidates[i].result.epochs);
          veto_json_add_number (b, "estimated_accuracy", candidates[i].result.estimated_accuracy);
          json_builder_set_member_name (b, "train_seconds");
          json_builder_add_double_value (b, candidates[i].result.train_seconds);
          json_builder_set_member_name (b, "epoch_scores");
          json_builder_begin_array (b);
          for (guint e = 0; e < info[i].epoch_scores->len; e++)
            json_builder_add_double_value (b, g_array_index (info[i].epoch_scores, double, e));
          json_builder_end_array (b);
          /* reported only: the choice above never saw it */
          if (evals[i].n)
            veto_json_add_number (b, "test_accuracy", evals[i].accuracy);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  metrics = json_text (b, FALSE);
  if (!no_save)
    {
      g_autoptr (GBytes) weights = veto_model_save (model);

      if (!veto_store_add_round (store, info[best].features,
                                 veto_model_kind_to_string (chosen_spec->model),
                                 final->train_size, metrics, final->train_seconds, weights,
                                 &version, &error))
        status = veto_cli_fail (error);
    }
  if (error == NULL && as_json)
    {
      g_autofree char *pretty = json_text (b, TRUE);

      g_print ("%s\n", pretty);
    }
  else if (error == NULL)
    {
      if (axes->len > 0 && spec.folds > 0)
        {
          g_print ("Chose %s by %s, the mean over %u folds (each CL held out once, %u in all; "
                   "no gold, no test label):\n", info[best].setting,
                   describe_validation (result->validation), spec.folds, result->held_out);
          g_print ("  %-40s %19s %9s %14s\n", "setting", "fold mean ± SE", "epoch",
                   "test accuracy");
          for (guint i = 0; i < n_candidates; i++)
            g_print ("%c %-40s %10.4f ± %.4f %4u/%-4u %14.4f\n", i == best ? '*' : ' ',
                     info[i].setting, candidates[i].result.validation_score,
                     candidates[i].result.validation_se, candidates[i].result.best_epoch,
                     candidates[i].result.epochs, evals[i].n ? evals[i].accuracy : NAN);
          g_print ("  (test accuracy of each setting's fold-1 model, reported only: the choice "
                   "never saw it)\n");
        }
      else if (axes->len > 0)
        {
          g_print ("Chose %s by %s (%u held out: %g of the pool items; no gold, no test "
                   "label):\n", info[best].setting, describe_validation (result->validation),
                   result->held_out, spec.holdout);
          g_print ("  %-40s %10s %9s %14s\n", "setting", "held-out", "epoch", "test accuracy");
          for (guint i = 0; i < n_candidates; i++)
            g_print ("%c %-40s %10.4f %4u/%-4u %14.4f\n", i == best ? '*' : ' ', info[i].setting,
                     candidates[i].result.validation_score, candidates[i].result.best_epoch,
                     candidates[i].result.epochs, evals[i].n ? evals[i].accuracy : NAN);
          g_print ("  (test accuracy is reported only: the choice never saw it)\n");
        }
      g_print ("Trained %s on %s features: %u items, %u answers, %u epochs, %.2f s "
               "(features %.2f s)%s\n",
               veto_model_kind_to_string (chosen_spec->model), veto_dataset_get_features_key (ds),
               final->train_size, final->n_terms, final->epochs, final->train_seconds,
               features_seconds, version ? "" : "; not saved");
      if (final->averaged_epochs > 0)
        g_print ("Kept the mean of the weights of epochs %u-%u\n",
                 final->best_epoch - final->averaged_epochs + 1, final->best_epoch);
      if (refit && spec.folds > 0)
        g_print ("Refitted on every item for %u epochs; before, the %u folds' kept weights "
                 "(epoch %u on average) scored %.4f ± %.4f by %s on %u held-out\n",
                 final->epochs, spec.folds, result->best_epoch, result->validation_score,
                 result->validation_se, describe_validation (result->validation),
                 result->held_out);
      else if (refit)
        g_print ("Refitted on every item for %u epochs; before, the held-out run's epoch %u "
                 "scored %.4f by %s on %u held-out\n",
                 final->epochs, result->best_epoch, result->validation_score,
                 describe_validation (result->validation), result->held_out);
      else if (g_strcmp0 (result->validation, "none") != 0)
        g_print ("Kept epoch %u by %s: %.4f on %u held-out\n", result->best_epoch,
                 describe_validation (result->validation), result->validation_score,
                 result->held_out);
      if (!isnan (result->estimated_accuracy))
        g_print ("Estimated accuracy without gold %.4f [%.4f, %.4f] (from %s%s)\n",
                 result->estimated_accuracy, result->estimated_accuracy_low,
                 result->estimated_accuracy_high, result->estimated_from,
                 refit ? ", of the model before the refit" : "");
      if (eval->n)
        print_evaluation_text (ds, eval);
    }
  status = error ? status : VETO_EXIT_OK;
out:
  veto_evaluation_clear (&refit_eval);
  veto_train_result_clear (&refit_result);
  for (guint i = 0; i < n_candidates; i++)
    {
      veto_evaluation_clear (&evals[i]);
      veto_train_candidate_clear (&candidates[i]);
      g_free (info[i].setting);
      g_free (info[i].features);
      g_array_unref (info[i].epoch_scores);
    }
  return status;
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
