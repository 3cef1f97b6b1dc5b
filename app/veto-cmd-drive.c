/* veto-cmd-drive: the window's answer path driven headless by a simulated annotator. */
#include "veto-cli.h"

#include <math.h>
#include <stdio.h>

#include "veto-engine.h"

#define LOCKSTEP_TIMEOUT_MS (30 * 60 * 1000)

typedef struct
{
  GHashTable *gold; /* item id -> gold class id (campaign anchors may be test items) */
  guint items;
} Gold;

static gboolean
collect_gold (const VetoItem *item, gpointer user_data)
{
  Gold *gold = user_data;

  gold->items++;
  if (item->gold_class)
    g_hash_table_insert (gold->gold, g_memdup2 (&item->id, sizeof item->id),
                         g_memdup2 (&item->gold_class, sizeof item->gold_class));
  return TRUE;
}

static gint
class_index (GPtrArray *classes, gint64 id)
{
  for (guint i = 0; i < classes->len; i++)
    if (((VetoClass *) classes->pdata[i])->id == id)
      return i;
  return -1;
}

static gint
class_by_name (GPtrArray *classes, const char *name)
{
  for (guint i = 0; i < classes->len; i++)
    if (g_strcmp0 (((VetoClass *) classes->pdata[i])->name, name) == 0)
      return i;
  return -1;
}

/* The simulated annotator's answer to q, whose item's gold class is truth (an index). */
static void
simulate_answer (VetoSimAnnotator *annotator, VetoRng *rng, GPtrArray *classes, Gold *gold,
                 const VetoQuestion *q, guint truth, gint64 *out_class,
                 VetoPreferred *out_preferred)
{
  *out_class = 0;
  *out_preferred = VETO_PREFER_TIE;
  switch (q->kind)
    {
    case VETO_KIND_COMPLEMENTARY:
      {
        guint shown[G_N_ELEMENTS (q->candidates)], cl;

        for (guint i = 0; i < q->n_candidates; i++)
          shown[i] = class_index (classes, q->candidates[i]);
        cl = veto_sim_annotator_answer_complementary (annotator, rng, truth, shown,
                                                      q->n_candidates);
        *out_class = ((VetoClass *) classes->pdata[cl])->id;
      }
      break;
    case VETO_KIND_PREFERENCE:
      {
        /* The one that is a c is more clearly a c; a tie when both or neither are. */
        gint c = class_by_name (classes, q->criterion);
        gint64 *right = g_hash_table_lookup (gold->gold, &q->right_item);
        gboolean l = c >= 0 && (gint) truth == c;
        gboolean r = c >= 0 && right && class_index (classes, *right) == c;

        *out_preferred = l == r ? VETO_PREFER_TIE : l ? VETO_PREFER_LEFT : VETO_PREFER_RIGHT;
      }
      break;
    case VETO_KIND_ORDINARY:
    case VETO_KIND_SOFT:
    case VETO_N_KINDS:
    default:
      *out_class = ((VetoClass *) classes->pdata[veto_sim_annotator_answer_ordinary (
                        annotator, rng, truth)])->id;
      break;
    }
}

typedef struct
{
  guint rounds;
  gint64 started_us;
  gint64 first_us;  /* when the first round arrived, 0 before */
} Rounds;

static void
count_round (VetoEngine *engine, gint64 version, gpointer user_data)
{
  Rounds *rounds = user_data;

  if (rounds->rounds++ == 0)
    rounds->first_us = g_get_monotonic_time ();
}

/* The learner's failures do not stop the answers (the window shows them and goes on too). */
static void
report_error (VetoEngine *engine, const GError *error, gpointer user_data)
{
  g_printerr ("veto: %s\n", error->message);
}

static gboolean
pace_over (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* One pass of the main context, or as many as come in pace_ms (a person's time to answer). */
static void
iterate (guint pace_ms)
{
  gboolean over = FALSE;

  if (pace_ms == 0)
    {
      g_main_context_iteration (NULL, FALSE);
      return;
    }
  g_timeout_add (pace_ms, pace_over, &over);
  while (!over)
    g_main_context_iteration (NULL, TRUE);
}

static int
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted values. */
static gint64
percentile (GArray *sorted, double q)
{
  guint rank = (guint) ceil (q * sorted->len);

  return g_array_index (sorted, gint64, MAX (rank, 1) - 1);
}

static gboolean
write_latencies (const char *path, GArray *latencies, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);

  for (guint i = 0; i < latencies->len; i++)
    g_string_append_printf (out, "%" G_GINT64_FORMAT "\n", g_array_index (latencies, gint64, i));
  return g_file_set_contents (path, out->str, out->len, error);
}

/* --lockstep: the learner's round on every answer so far, within LOCKSTEP_TIMEOUT_MS. */
static gboolean
wait_for_round (VetoEngine *engine, const char *path, GError **error)
{
  if (veto_engine_wait_for_round (engine, LOCKSTEP_TIMEOUT_MS))
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
               "%s: the learner did not finish a round within %u minutes (--lockstep)", path,
               LOCKSTEP_TIMEOUT_MS / 60000);
  return FALSE;
}

/* The project opened read-only; an older one is upgraded first, as the engine's open would. */
static VetoStore *
open_reader (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  VetoStore *reader = veto_store_open (path, TRUE, &local);

  if (reader == NULL && g_error_matches (local, VETO_STORE_ERROR, VETO_STORE_ERROR_READ_ONLY))
    {
      VetoStore *writer = veto_store_open (path, FALSE, error);

      if (writer == NULL)
        return NULL;
      veto_store_close (writer);
      return veto_store_open (path, TRUE, error);
    }
  if (reader == NULL)
    g_propagate_error (error, g_steal_pointer (&local));
  return reader;
}

int
veto_cmd_drive (int argc, char **argv)
{
  g_autofree char *kind_name = NULL;
  g_autofree char *annotator_name = NULL;
  g_autofree char *profile = NULL;
  g_autofree char *strategy_name = NULL;
  g_autofree char *candidates_name = NULL;
  g_autofree char *model_name = NULL;
  g_autofree char *features = NULL;
  g_autofree char *latency_path = NULL;
  g_autofree char *campaign_name = NULL;
  gint answers = 100, retrain_every = 10, queue = 20, shown = 4, seed = 1, pace = 0;
  double anchors = VETO_SESSIONS_DEFAULT_ANCHORS;
  gboolean acks = FALSE, lockstep = FALSE;
  GOptionEntry entries[] = {
    { "answers", 'n', 0, G_OPTION_ARG_INT, &answers, "answers to give (100)", "N" },
    { "kind", 'k', 0, G_OPTION_ARG_STRING, &kind_name,
      "ordinary, complementary (default) or preference questions", "KIND" },
    { "annotator", 'a', 0, G_OPTION_ARG_STRING, &annotator_name,
      "the annotator's name in the project (default \"veto-drive\"; kind simulated)", "NAME" },
    { "profile", 'p', 0, G_OPTION_ARG_STRING, &profile,
      "how it answers: ordinary[:noise=R] for ordinary questions (default), uniform (default), "
      "noisy[:rho=R] or biased:FILE for complementary ones; preference questions are answered "
      "from the gold labels", "PROFILE" },
    { "retrain-every", 'r', 0, G_OPTION_ARG_INT, &retrain_every,
      "answers between retrains (10)", "N" },
    { "strategy", 's', 0, G_OPTION_ARG_STRING, &strategy_name,
      "random, least-confidence, margin (default), entropy, density, coreset, badge, "
      "information, kmeans-margin, or agcd",
      "S" },
    { "queue", 'q', 0, G_OPTION_ARG_INT, &queue, "items the learner keeps ordered ahead for this session (20)", "N" },
    { "shown", 0, 0, G_OPTION_ARG_INT, &shown, "complementary: candidates shown (4)", "K" },
    { "candidates", 'c', 0, G_OPTION_ARG_STRING, &candidates_name,
      "complementary: informative (largest expected information gain, default), proportional "
      "(∝ the model's p) or uniform (CLImage)", "RULE" },
    { "model", 0, 0, G_OPTION_ARG_STRING, &model_name, "softmax (default) or mlp", "MODEL" },
    { "features", 'F', 0, G_OPTION_ARG_STRING, &features, "as for train (pixels)", "SPEC" },
    { "anchors", 0, 0, G_OPTION_ARG_DOUBLE, &anchors,
      "complementary: share of the questions asked about gold anchors, the validation split's "
      "gold items (0.05; none without such items)", "RATE" },
    { "campaign", 0, 0, G_OPTION_ARG_STRING, &campaign_name,
      "answer this campaign's questions (its protocol is the default --kind)", "NAME" },
    { "seed", 0, 0, G_OPTION_ARG_INT, &seed, "seed of the engine and the annotator (1)", "N" },
    { "pace", 0, 0, G_OPTION_ARG_INT, &pace,
      "milliseconds between an answer and the next one, spent iterating the main context as "
      "the window would while a person looks (0: answer at once)", "MS" },
    { "lockstep", 0, 0, G_OPTION_ARG_NONE, &lockstep,
      "wait for the learner's round after the start and after every --retrain-every answers, "
      "so that a run reproduces from its seed (the window and the server never wait)", NULL },
    { "acks", 0, 0, G_OPTION_ARG_NONE, &acks,
      "print \"ack ANNOTATION_ID\" (flushed) as soon as each answer is committed", NULL },
    { "latency", 'l', 0, G_OPTION_ARG_FILENAME, &latency_path,
      "write one line per answer: microseconds from the answer to the next question shown; "
      "print p50 and p99", "FILE" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "PROJECT — answer questions as the window does, with a simulated annotator");
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoEngine) engine = NULL;
  g_autoptr (VetoSimAnnotator) annotator = NULL;
  VetoRng rng;
  g_autoptr (GHashTable) gold_table = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                             g_free);
  g_autoptr (GArray) latencies = g_array_new (FALSE, FALSE, sizeof (gint64));
  Gold gold = { gold_table, 0 };
  VetoEngineOptions options;
  VetoEngineStatus status;
  const VetoQuestion *q;
  GPtrArray *classes;
  guint done = 0, skipped = 0, skipped_in_a_row = 0, on_anchors = 0;
  Rounds rounds = { 0, g_get_monotonic_time (), 0 };
  int exit_status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Drives the engine behind the window (veto-engine.h) without a display, for crash tests\n"
      "and benchmarks: each answer is committed before the next question is asked, the\n"
      "learner retrains in the background, and the main context is iterated between answers\n"
      "so that its results arrive as they would in the window (with --lockstep, drive waits for\n"
      "each round instead, and a run reproduces from its seed). The simulated annotator answers\n"
      "from the pool's gold labels; items without one are skipped. Answers are written to the\n"
      "project under the annotator's name.\n"
      "Exit status: 0 done, 1 an answer or the annotator failed (or a --lockstep round took over\n"
      "30 minutes), 2 usage, 3 the project cannot\n"
      "be used.");
  if (!veto_cli_parse (context, &argc, &argv, &exit_status))
    return exit_status;
  if (argc != 2)
    return veto_cli_usage (context, "drive takes one PROJECT");
  veto_engine_options_init (&options);
  options.annotator = annotator_name ? annotator_name : "veto-drive";
  options.annotator_kind = VETO_ANNOTATOR_SIMULATED;
  if (kind_name && (!veto_answer_kind_from_string (kind_name, &options.kind)
                    || options.kind == VETO_KIND_SOFT))
    return veto_cli_usage (context, "--kind must be ordinary, complementary or preference");
  if (answers <= 0 || retrain_every <= 0 || queue <= 0 || shown < 2 || seed < 0 || pace < 0)
    return veto_cli_usage (context, "numbers must be positive (and --shown at least 2)");
  if (!(anchors >= 0 && anchors <= 1))
    return veto_cli_usage (context, "--anchors is a share in [0, 1]");
  if (g_strcmp0 (strategy_name, "agcd") == 0)
    options.agcd = TRUE;
  else if (strategy_name
           && !veto_active_strategy_from_string (strategy_name, &options.strategy, &error))
    return veto_cli_usage (context, error->message);
  if (candidates_name
      && !veto_active_candidate_rule_from_string (candidates_name, &options.candidates, &error))
    return veto_cli_usage (context, error->message);
  if (model_name && !veto_model_kind_from_string (model_name, &options.model))
    return veto_cli_usage (context, "--model must be softmax or mlp");
  {
    /* The project is read, and the simulated annotator made (its profile may be refused),
     * before the engine opens it for writing: a refusal leaves the project as it was. */
    g_autoptr (VetoStore) reader = open_reader (argv[1], &error);
    g_autoptr (GPtrArray) project_classes = NULL;

    if (reader == NULL)
      return veto_cli_fail (error);
    if (campaign_name)
      {
        g_autoptr (VetoCampaign) campaign = veto_store_get_campaign (reader, campaign_name,
                                                                     &error);

        if (campaign == NULL)
          return veto_cli_fail (error);
        options.campaign = campaign->id;
        if (kind_name == NULL)
          options.kind = campaign->protocol;
        shown = campaign->n_candidates;
      }
    if (profile && options.kind == VETO_KIND_PREFERENCE)
      return veto_cli_usage (context, "preference questions are answered from the gold labels: "
                                      "no --profile");
    project_classes = veto_store_list_classes (reader, &error);
    if (project_classes == NULL)
      return veto_cli_fail (error);
    if (options.kind != VETO_KIND_PREFERENCE)
      {
        const char *name = profile ? profile
                           : options.kind == VETO_KIND_ORDINARY ? "ordinary"
                                                                : "uniform";
        VetoSimKind wanted;

        annotator = veto_sim_annotator_new (name, project_classes->len, shown, &error);
        if (annotator == NULL)
          return veto_cli_fail (error);
        wanted = veto_sim_annotator_get_kind (annotator);
        if ((options.kind == VETO_KIND_ORDINARY) != (wanted == VETO_SIM_ORDINARY)
            || wanted == VETO_SIM_TEACHER)
          return veto_cli_usage (context, "--profile does not answer this kind of question");
      }
  }
  options.retrain_every = retrain_every;
  options.queue_size = queue;
  options.n_candidates = shown;
  options.anchors = anchors;
  options.budget = answers;
  options.seed = seed;
  if (features)
    options.features = features;

  engine = veto_engine_new (argv[1], &options, &error);
  if (engine == NULL)
    return veto_cli_fail (error);
  classes = veto_engine_get_classes (engine);
  if (!veto_store_foreach_item (veto_engine_get_store (engine), VETO_N_SPLITS, collect_gold,
                                &gold, &error))
    return veto_cli_fail (error);
  veto_rng_init (&rng, seed * 7919 + 1);
  g_signal_connect (engine, "model-updated", G_CALLBACK (count_round), &rounds);
  g_signal_connect (engine, "error", G_CALLBACK (report_error), NULL);

  if (lockstep && !wait_for_round (engine, argv[1], &error))
    return veto_cli_fail (error);
  q = veto_engine_current (engine);
  while (q && done < (guint) answers)
    {
      gint64 *truth_id = g_hash_table_lookup (gold.gold, &q->item);
      gint64 answer_class, id, t0;
      VetoPreferred preferred;

      if (truth_id == NULL)
        {
          /* As many skips in a row as the project has items: nothing answerable is left. */
          if (++skipped_in_a_row > gold.items)
            break;
          skipped++;
          veto_engine_skip (engine);
          q = veto_engine_current (engine);
          continue;
        }
      simulate_answer (annotator, &rng, classes, &gold, q, class_index (classes, *truth_id),
                       &answer_class, &preferred);
      /* q is borrowed only until the answer */
      on_anchors += g_strcmp0 (q->strategy, "anchor") == 0;
      t0 = g_get_monotonic_time ();
      if (!veto_engine_answer (engine, answer_class, preferred, &id, &error))
        return veto_cli_fail (error);
      skipped_in_a_row = 0;
      if (lockstep && (done + 1) % (guint) retrain_every == 0
          && !wait_for_round (engine, argv[1], &error))
        return veto_cli_fail (error);
      if (acks)
        {
          printf ("ack %" G_GINT64_FORMAT "\n", id);
          fflush (stdout);
        }
      q = veto_engine_current (engine);
      {
        gint64 latency = g_get_monotonic_time () - t0;

        g_array_append_val (latencies, latency);
      }
      done++;
      iterate (pace);
    }
  veto_engine_get_status (engine, &status);
  printf ("drive: %u answers (%u on gold anchors, %u skipped) in %.2f s; %u rounds delivered",
          done, on_anchors, skipped, (g_get_monotonic_time () - rounds.started_us) / 1e6,
          rounds.rounds);
  if (rounds.rounds)
    printf (", the first %.2f s after the start, the last version %" G_GINT64_FORMAT
            " with estimated accuracy %.4f", (rounds.first_us - rounds.started_us) / 1e6,
            status.model_version, status.estimated_accuracy);
  printf ("\n");
  if (done < (guint) answers)
    g_printerr ("veto: the pool ran out of questions with a gold label after %u answers\n", done);
  if (latency_path)
    {
      g_autoptr (GArray) sorted = g_array_copy (latencies);

      if (!write_latencies (latency_path, latencies, &error))
        return veto_cli_fail (error);
      g_array_sort (sorted, compare_gint64);
      if (sorted->len > 0)
        printf ("latency p50 %" G_GINT64_FORMAT " us, p99 %" G_GINT64_FORMAT " us, max %"
                G_GINT64_FORMAT " us over %u answers\n",
                percentile (sorted, 0.50), percentile (sorted, 0.99),
                g_array_index (sorted, gint64, sorted->len - 1), sorted->len);
    }
  fflush (stdout);
  veto_engine_shutdown (engine);
  return VETO_EXIT_OK;
}
