/* veto-cmd-simulate: the headless research loop: strategies × seeds, learning curves out. */
#include "veto-cli.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>

#include "veto-plot.h"
#include "veto-sim.h"

/* Every point of every run, as curve.csv will hold them. */
typedef struct
{
  const char *strategy;
  guint64 seed;
  VetoSimPoint point;
} Row;

typedef struct
{
  GArray *rows;
  const char *strategy;
  guint64 seed;
  gboolean verbose;
  VetoSimMode mode;
} Collector;

static void
on_point (gpointer user_data, const VetoSimPoint *point)
{
  Collector *c = user_data;
  Row row = { c->strategy, c->seed, *point };

  g_array_append_val (c->rows, row);
  if (c->verbose)
    {
      g_printerr ("%-16s seed %-3" G_GUINT64_FORMAT " answers %-6u accuracy %.4f", c->strategy,
                  c->seed, point->answers, point->test_accuracy);
      if (c->mode == VETO_SIM_MODE_AGCD)
        g_printerr ("  all %.4f old %.4f new %.4f coverage %.2f novel ratio %.2f uniformity %.2f",
                    point->metric[0], point->metric[1], point->metric[2], point->coverage,
                    point->novel_ratio, point->novel_uniformity);
      if (c->mode == VETO_SIM_MODE_DISTILL)
        g_printerr ("  teacher wrong %.3f", point->metric[0]);
      g_printerr ("  %.1f s\n", point->seconds);
    }
}

static gboolean
write_curve_csv (const char *path, GArray *rows, VetoSimMode mode, GError **error)
{
  g_autoptr (GString) out = g_string_new ("strategy,seed,round,answers,test_accuracy");

  if (mode == VETO_SIM_MODE_AGCD)
    g_string_append (out, ",all_accuracy,old_accuracy,new_accuracy,novel_coverage,novel_ratio,"
                          "novel_uniformity");
  if (mode == VETO_SIM_MODE_DISTILL)
    g_string_append (out, ",teacher_wrong_rate");
  if (mode == VETO_SIM_MODE_COMPLEMENTARY)
    g_string_append (out, ",estimated_accuracy,validation,annotator_error,"
                          "estimated_accuracy_low,estimated_accuracy_high,estimated_from");
  g_string_append (out, ",seconds\n");
  for (guint i = 0; i < rows->len; i++)
    {
      Row *r = &g_array_index (rows, Row, i);

      g_string_append_printf (out, "%s,%" G_GUINT64_FORMAT ",%u,%u,%.6f", r->strategy, r->seed,
                              r->point.round, r->point.answers, r->point.test_accuracy);
      if (mode == VETO_SIM_MODE_AGCD)
        {
          g_string_append_printf (out, ",%.6f,%.6f,%.6f,%.6f", r->point.metric[0],
                                  r->point.metric[1], r->point.metric[2], r->point.coverage);
          /* empty before any query, and uniformity without novel queries */
          for (guint m = 0; m < 2; m++)
            {
              double v = m == 0 ? r->point.novel_ratio : r->point.novel_uniformity;

              if (isnan (v))
                g_string_append (out, ",");
              else
                g_string_append_printf (out, ",%.6f", v);
            }
        }
      if (mode == VETO_SIM_MODE_DISTILL)
        g_string_append_printf (out, ",%.6f", r->point.metric[0]);
      if (mode == VETO_SIM_MODE_COMPLEMENTARY && isnan (r->point.estimated_accuracy))
        g_string_append_printf (out, ",,%s", r->point.validation);
      else if (mode == VETO_SIM_MODE_COMPLEMENTARY)
        g_string_append_printf (out, ",%.6f,%s", r->point.estimated_accuracy,
                                r->point.validation);
      if (mode == VETO_SIM_MODE_COMPLEMENTARY)
        {
          g_string_append_printf (out, ",%.6f", r->point.annotator_error);
          for (guint m = 0; m < 2; m++)
            {
              double v = m == 0 ? r->point.estimated_accuracy_low
                                : r->point.estimated_accuracy_high;

              if (isnan (v))
                g_string_append (out, ",");
              else
                g_string_append_printf (out, ",%.6f", v);
            }
          g_string_append_printf (out, ",%s", r->point.estimated_from ? r->point.estimated_from
                                                                      : "none");
        }
      g_string_append_printf (out, ",%.3f\n", r->point.seconds);
    }
  return g_file_set_contents (path, out->str, out->len, error);
}

/* The last point of each (strategy, seed) run. */
static GArray *
final_points (GArray *rows, const char *strategy)
{
  GArray *finals = g_array_new (FALSE, FALSE, sizeof (Row));

  for (guint i = 0; i < rows->len; i++)
    {
      Row *r = &g_array_index (rows, Row, i);
      Row *next = i + 1 < rows->len ? &g_array_index (rows, Row, i + 1) : NULL;

      if (g_str_equal (r->strategy, strategy)
          && (next == NULL || next->seed != r->seed || !g_str_equal (next->strategy, strategy)))
        g_array_append_val (finals, *r);
    }
  return finals;
}

static void
add_mean_std (JsonBuilder *b, const char *name, const double *values, guint n)
{
  double mean = 0, var = 0;

  for (guint i = 0; i < n; i++)
    mean += values[i] / n;
  for (guint i = 0; i < n; i++)
    var += (values[i] - mean) * (values[i] - mean) / n;
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, mean);
  {
    g_autofree char *std_name = g_strconcat (name, "_std", NULL);

    json_builder_set_member_name (b, std_name);
    json_builder_add_double_value (b, sqrt (var));
  }
}

/* --seeds: "S" is seeds 1..S, "FIRST-LAST" a range (fresh seeds for a confirmation run). */
static gboolean
parse_seed_range (const char *text, guint64 *first, guint64 *last)
{
  g_auto (GStrv) ends = g_strsplit (text, "-", 3);
  guint n = g_strv_length (ends);

  if (n == 1)
    {
      *first = 1;
      return g_ascii_string_to_unsigned (ends[0], 10, 1, 1000000, last, NULL);
    }
  return n == 2 && g_ascii_string_to_unsigned (ends[0], 10, 1, 1000000, first, NULL)
         && g_ascii_string_to_unsigned (ends[1], 10, *first, 1000000, last, NULL);
}

static JsonNode *
summary_json (GArray *rows, GStrv strategies, VetoSimMode mode, double target)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "mode");
  json_builder_add_string_value (b, veto_sim_mode_to_string (mode));
  json_builder_set_member_name (b, "strategies");
  json_builder_begin_object (b);
  for (guint s = 0; strategies[s]; s++)
    {
      g_autoptr (GArray) finals = final_points (rows, strategies[s]);
      g_autofree double *acc = g_new (double, MAX (finals->len, 1));
      g_autofree double *metric = g_new (double, MAX (finals->len, 1));
      g_autofree double *coverage = g_new (double, MAX (finals->len, 1));

      json_builder_set_member_name (b, strategies[s]);
      json_builder_begin_object (b);
      for (guint i = 0; i < finals->len; i++)
        {
          Row *r = &g_array_index (finals, Row, i);

          acc[i] = r->point.test_accuracy;
          metric[i] = mode == VETO_SIM_MODE_AGCD ? r->point.metric[2] : r->point.metric[0];
          coverage[i] = r->point.coverage;
        }
      json_builder_set_member_name (b, "seeds");
      json_builder_add_int_value (b, finals->len);
      json_builder_set_member_name (b, "seed_list");
      json_builder_begin_array (b);
      for (guint i = 0; i < finals->len; i++)
        json_builder_add_int_value (b, (gint64) g_array_index (finals, Row, i).seed);
      json_builder_end_array (b);
      json_builder_set_member_name (b, "final_answers");
      json_builder_add_int_value (b, finals->len ? g_array_index (finals, Row, 0).point.answers
                                                 : 0);
      add_mean_std (b, "final_accuracy", acc, finals->len);
      json_builder_set_member_name (b, "final_accuracy_per_seed");
      json_builder_begin_array (b);
      for (guint i = 0; i < finals->len; i++)
        json_builder_add_double_value (b, acc[i]);
      json_builder_end_array (b);
      if (mode == VETO_SIM_MODE_AGCD)
        {
          add_mean_std (b, "new_accuracy", metric, finals->len);
          add_mean_std (b, "novel_coverage", coverage, finals->len);
        }
      if (mode == VETO_SIM_MODE_DISTILL)
        add_mean_std (b, "teacher_wrong_rate", metric, finals->len);
      if (mode == VETO_SIM_MODE_COMPLEMENTARY)
        {
          guint n_estimated = 0;

          /* An estimate from held-out answers alone, beside the true accuracy. */
          for (guint i = 0; i < finals->len; i++)
            if (!isnan (g_array_index (finals, Row, i).point.estimated_accuracy))
              metric[n_estimated++] = g_array_index (finals, Row, i).point.estimated_accuracy;
          if (n_estimated > 0)
            {
              add_mean_std (b, "final_estimated_accuracy", metric, n_estimated);
              json_builder_set_member_name (b, "final_estimated_accuracy_per_seed");
              json_builder_begin_array (b);
              for (guint i = 0; i < n_estimated; i++)
                json_builder_add_double_value (b, metric[i]);
              json_builder_end_array (b);
              json_builder_set_member_name (b, "estimated_from");
              json_builder_add_string_value (
                  b, g_array_index (finals, Row, 0).point.estimated_from
                         ? g_array_index (finals, Row, 0).point.estimated_from
                         : "none");
            }
          json_builder_set_member_name (b, "validation");
          json_builder_add_string_value (b, finals->len
                                                ? g_array_index (finals, Row, 0).point.validation
                                                : "none");
        }
      if (target > 0)
        {
          /* The first answer count at which each seed's run reached the target, if it did. */
          json_builder_set_member_name (b, "answers_to_target");
          json_builder_begin_array (b);
          for (guint i = 0; i < finals->len; i++)
            {
              guint64 seed = g_array_index (finals, Row, i).seed;
              gint64 first = -1;

              for (guint j = 0; j < rows->len && first < 0; j++)
                {
                  Row *r = &g_array_index (rows, Row, j);

                  if (r->seed == seed && g_str_equal (r->strategy, strategies[s])
                      && r->point.test_accuracy >= target)
                    first = r->point.answers;
                }
              if (first >= 0)
                json_builder_add_int_value (b, first);
              else
                json_builder_add_null_value (b);
            }
          json_builder_end_array (b);
        }
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
  if (target > 0)
    {
      json_builder_set_member_name (b, "target_accuracy");
      json_builder_add_double_value (b, target);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static gboolean
draw_curves (const char *path, GArray *rows, VetoSimMode mode, gboolean new_accuracy,
             GError **error)
{
  g_autoptr (GString) title = g_string_new (NULL);
  VetoPlotCurves *curves;
  gboolean ok = TRUE;

  g_string_printf (title, "Veto simulate: %s mode%s", veto_sim_mode_to_string (mode),
                   new_accuracy ? " (accuracy on novel classes)" : "");
  curves = veto_plot_curves_new (title->str, "answers",
                                 new_accuracy ? "New-class accuracy" : "test accuracy");
  for (guint i = 0; i < rows->len && ok;)
    {
      Row *first = &g_array_index (rows, Row, i);
      g_autoptr (GArray) x = g_array_new (FALSE, FALSE, sizeof (double));
      g_autoptr (GArray) y = g_array_new (FALSE, FALSE, sizeof (double));
      guint j = i;

      for (; j < rows->len; j++)
        {
          Row *r = &g_array_index (rows, Row, j);
          double xv = r->point.answers;
          double yv = new_accuracy ? r->point.metric[2] : r->point.test_accuracy;

          if (r->seed != first->seed || !g_str_equal (r->strategy, first->strategy))
            break;
          g_array_append_val (x, xv);
          g_array_append_val (y, yv);
        }
      ok = veto_plot_curves_add_run (curves, first->strategy, (double *) x->data,
                                     (double *) y->data, x->len, error);
      i = j;
    }
  ok = ok && veto_plot_curves_save (curves, path, 1280, 800, error);
  veto_plot_curves_free (curves);
  return ok;
}

int
veto_cmd_simulate (int argc, char **argv)
{
  g_autofree char *mode_name = NULL;
  g_autofree char *strategy_list = NULL;
  g_autofree char *annotator = NULL;
  g_autofree char *candidates_name = NULL;
  g_autofree char *out_dir = NULL;
  g_autofree char *features = NULL;
  g_autofree char *model_name = NULL;
  g_autofree char *loss_name = NULL;
  g_autofree char *model_kind = NULL;
  g_autofree char *seed_range = NULL;
  guint64 first_seed = 1, last_seed = 3;
  double anchors = -1, holdout = 0;
  gint budget = 1000, batch = 100, init = 100, novel = 3, k_shown = 0, max_pool = 0;
  gint epochs = 0;
  double target = 0;
  gboolean scratch = FALSE, diversity = FALSE, quiet = FALSE;
  GOptionEntry entries[] = {
    { "mode", 'm', 0, G_OPTION_ARG_STRING, &mode_name,
      "ordinary (default), complementary, preference, agcd or distill", "MODE" },
    { "strategy", 's', 0, G_OPTION_ARG_STRING, &strategy_list,
      "comma-separated: random, least-confidence, margin, entropy, density, coreset, badge, "
      "distill, information (default margin,random); every one runs on the same seeds",
      "S[,S2…]" },
    { "budget", 'b', 0, G_OPTION_ARG_INT, &budget, "answers per run, init included (1000)", "N" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "answers per round (100)", "B" },
    { "init", 0, 0, G_OPTION_ARG_INT, &init, "random answers before the first model (100)", "N0" },
    { "seeds", 0, 0, G_OPTION_ARG_STRING, &seed_range,
      "runs per strategy: seeds 1..S, or the seeds FIRST to LAST (3)", "S|FIRST-LAST" },
    { "novel", 0, 0, G_OPTION_ARG_INT, &novel, "agcd: classes hidden at the start (3)", "N" },
    { "annotator", 'a', 0, G_OPTION_ARG_STRING, &annotator,
      "ordinary[:noise=R], uniform, noisy[:rho=R], human, biased:FILE (default: fits the "
      "mode; complementary: human, CLImage's annotators, with 10 classes, else uniform)",
      "PROFILE" },
    { "candidates", 'c', 0, G_OPTION_ARG_STRING, &candidates_name,
      "complementary: informative (largest expected information gain, default), proportional "
      "(∝ the model's p) or uniform (CLImage)", "RULE" },
    { "shown", 'k', 0, G_OPTION_ARG_INT, &k_shown, "complementary: candidates shown (4, or K when there are fewer classes)", "K" },
    { "loss", 'l', 0, G_OPTION_ARG_STRING, &loss_name,
      "complementary loss (default candidate; scl-nl with uniform candidates and the uniform "
      "annotator model)", "NAME" },
    { "annotator-model", 0, 0, G_OPTION_ARG_STRING, &model_kind,
      "complementary: the annotator model of the loss: estimated (default: fitted to the "
      "answers on gold anchors, then refined by EM over every answer through classifiers that "
      "never trained on the answers they explain; short of the anchors' fit, the uniform model "
      "so refined from 200 answers on), anchors (the fit to the anchors alone), "
      "oracle (the simulated annotator's own; a reference) or uniform", "MODEL" },
    { "holdout", 0, 0, G_OPTION_ARG_DOUBLE, &holdout,
      "complementary: share of items whose answers are held out of training, to choose each "
      "round's epoch and estimate its accuracy without gold (0: none; try 0.1)", "SHARE" },
    { "anchors", 0, 0, G_OPTION_ARG_DOUBLE, &anchors,
      "complementary: share of each batch asked about gold anchors (random items, uniform "
      "candidates) to fit the annotator model (0.05)", "RATE" },
    { "features", 'F', 0, G_OPTION_ARG_STRING, &features, "as for train (pixels)", "SPEC" },
    { "model", 0, 0, G_OPTION_ARG_STRING, &model_name, "softmax (default) or mlp", "MODEL" },
    { "epochs", 'e', 0, G_OPTION_ARG_INT, &epochs, "epochs per round (default: sized)", "N" },
    { "diversity", 0, 0, G_OPTION_ARG_NONE, &diversity,
      "batches with diversity (k-center among the 10×batch best)", NULL },
    { "max-pool", 0, 0, G_OPTION_ARG_INT, &max_pool,
      "score a random subsample of this many items when the pool is larger", "N" },
    { "target", 0, 0, G_OPTION_ARG_DOUBLE, &target,
      "report the answers each run needs to reach this test accuracy", "ACC" },
    { "scratch", 0, 0, G_OPTION_ARG_NONE, &scratch,
      "work on a temporary copy of the project (the project is not changed)", NULL },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir,
      "folder for curve.csv, summary.json and curve.png (created)", "DIR" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "no line per round on stderr", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "PROJECT — run active learning with simulated annotators and draw learning curves");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (VetoDataset) ds = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (Row));
  g_autoptr (JsonNode) summary = NULL;
  g_autofree char *csv_path = NULL;
  g_autofree char *json_path = NULL;
  g_autofree char *png_path = NULL;
  g_autofree char *summary_text = NULL;
  g_auto (GStrv) strategies = NULL;
  const char *project;
  VetoSimConfig config;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "The pool's gold labels are the oracle; the test split's gold labels score each round.\n"
      "Simulated answers are written to the project under one annotator (kind simulated) per\n"
      "run, unless --scratch. Outputs are described in docs/simulate.md.\n"
      "Exit status: 0 done, 1 the runs failed, 2 usage, 3 the project cannot be used.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return veto_cli_usage (context, "simulate takes one PROJECT");
  if (out_dir == NULL)
    return veto_cli_usage (context, "--out DIR is required");
  veto_sim_config_init (&config);
  if (mode_name && !veto_sim_mode_from_string (mode_name, &config.mode))
    return veto_cli_usage (context,
                           "--mode must be ordinary, complementary, preference, agcd or distill");
  if (seed_range && !parse_seed_range (seed_range, &first_seed, &last_seed))
    return veto_cli_usage (context,
                           "--seeds must be a count S or a range FIRST-LAST, FIRST <= LAST");
  if (budget <= 0 || batch <= 0 || init < 0 || novel < 0 || k_shown == 1 || k_shown < 0
      || max_pool < 0 || epochs < 0)
    return veto_cli_usage (context, "numbers must be positive");
  strategies = g_strsplit (strategy_list ? strategy_list
                           : config.mode == VETO_SIM_MODE_DISTILL ? "distill,margin,random"
                           : config.mode == VETO_SIM_MODE_AGCD    ? "agcd,random"
                                                                  : "margin,random",
                           ",", -1);
  for (guint s = 0; strategies[s]; s++)
    {
      VetoActiveStrategy strategy;

      if (config.mode == VETO_SIM_MODE_AGCD && g_str_equal (strategies[s], "agcd"))
        continue;
      if (!veto_active_strategy_from_string (strategies[s], &strategy, &error))
        return veto_cli_usage (context, error->message);
    }
  if (candidates_name
      && !veto_active_candidate_rule_from_string (candidates_name, &config.candidates, &error))
    return veto_cli_usage (context, error->message);
  if (model_name && !veto_model_kind_from_string (model_name, &config.train.model))
    return veto_cli_usage (context, "--model must be softmax or mlp");
  if (model_kind
      && !veto_sim_annotator_model_from_string (model_kind, &config.annotator_model))
    return veto_cli_usage (context,
                           "--annotator-model must be estimated, anchors, oracle or uniform");
  if (anchors != -1 && !(anchors >= 0 && anchors <= 1))
    return veto_cli_usage (context, "--anchors must be a share between 0 and 1");
  config.anchors = anchors == -1 ? 0.05 : anchors;
  if (!(holdout >= 0 && holdout < 1))
    return veto_cli_usage (context, "--holdout must be a share in [0, 1)");
  config.holdout = holdout;
  config.train.cl_loss = config.candidates == VETO_ACTIVE_CANDIDATES_UNIFORM
                                 && config.annotator_model == VETO_SIM_MODEL_UNIFORM
                             ? VETO_LOSS_COMPLEMENTARY_SCL_NL
                             : VETO_LOSS_COMPLEMENTARY_CANDIDATE;
  if (loss_name && !veto_loss_complementary_from_string (loss_name, &config.train.cl_loss, &error))
    return veto_cli_usage (context, error->message);
  config.budget = budget;
  config.batch = batch;
  config.init = init;
  config.novel = novel;
  config.annotator = annotator;
  config.active.diversity = diversity;
  config.active.max_pool = max_pool;
  if (epochs)
    config.train.train.max_epochs = epochs;

  project = argv[1];
  store = scratch ? veto_store_open_scratch (project, &error) : veto_store_open (project, FALSE, &error);
  if (store == NULL)
    return veto_cli_fail (error);
  if (g_mkdir_with_parents (out_dir, 0755) != 0)
    {
      g_printerr ("veto: %s: cannot create the folder: %s\n", out_dir, g_strerror (errno));
      return VETO_EXIT_FAILED;
    }
  {
    g_autoptr (VetoCliProgress) progress = veto_cli_progress_new ("Features");

    ds = veto_dataset_load (store, features ? features : "pixels", TRUE,
                            veto_cli_progress_update_count, progress, NULL, &error);
  }
  if (ds == NULL)
    return veto_cli_fail (error);
  config.n_candidates = k_shown ? (guint) k_shown : MIN (4, veto_dataset_get_n_classes (ds));
  for (guint s = 0; strategies[s]; s++)
    for (guint64 seed = first_seed; seed <= last_seed; seed++)
      {
        Collector collector = { rows, strategies[s], seed, !quiet, config.mode };

        config.seed = seed;
        if (!(config.mode == VETO_SIM_MODE_AGCD && g_str_equal (strategies[s], "agcd")))
          veto_active_strategy_from_string (strategies[s], &config.strategy, NULL);
        config.agcd_rule = config.mode == VETO_SIM_MODE_AGCD && g_str_equal (strategies[s], "agcd");
        if (!veto_sim_run (store, ds, &config, on_point, &collector, NULL, &error))
          return veto_cli_fail (error);
      }
  csv_path = g_build_filename (out_dir, "curve.csv", NULL);
  json_path = g_build_filename (out_dir, "summary.json", NULL);
  png_path = g_build_filename (out_dir, "curve.png", NULL);
  summary = summary_json (rows, strategies, config.mode, target);
  summary_text = json_to_string (summary, TRUE);
  if (!write_curve_csv (csv_path, rows, config.mode, &error)
      || !g_file_set_contents (json_path, summary_text, -1, &error)
      || !draw_curves (png_path, rows, config.mode, FALSE, &error))
    return veto_cli_fail (error);
  if (config.mode == VETO_SIM_MODE_AGCD)
    {
      g_autofree char *new_png = g_build_filename (out_dir, "new-accuracy.png", NULL);

      if (!draw_curves (new_png, rows, config.mode, TRUE, &error))
        return veto_cli_fail (error);
    }
  g_print ("%s\n", summary_text);
  return VETO_EXIT_OK;
}
