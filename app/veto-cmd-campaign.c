/* veto-cmd-campaign: collection campaigns (create, show, close, simulate), merge and stats. */
#include "veto-cli.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "veto-active.h"
#include "veto-json.h"
#include "veto-sim.h"
#include "veto-stats-load.h"
#include "veto-store.h"

/* Lines of conflicts printed before the rest are only counted. */
#define MAX_CONFLICTS_SHOWN 50
/* Questions a simulated annotator takes per turn: one pass over the campaign for all of them. */
#define SIM_BATCH 256

static gboolean
protocol_from_string (const char *text, VetoAnswerKind *out_kind)
{
  return veto_answer_kind_from_string (text, out_kind)
         && (*out_kind == VETO_KIND_ORDINARY || *out_kind == VETO_KIND_COMPLEMENTARY
             || *out_kind == VETO_KIND_PREFERENCE);
}

/* --items: all, a split's name, or the first N pool items. */
static gboolean
parse_items (const char *text, VetoCampaignSpec *spec)
{
  guint64 n;

  spec->split = VETO_SPLIT_POOL;
  spec->limit = 0;
  if (text == NULL)
    return TRUE;
  if (g_str_equal (text, "all"))
    {
      spec->split = VETO_N_SPLITS;
      return TRUE;
    }
  if (veto_split_from_string (text, &spec->split))
    return TRUE;
  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXUINT, &n, NULL))
    return FALSE;
  spec->limit = n;
  return TRUE;
}

static int
campaign_create (int argc, char **argv)
{
  g_autofree char *name = NULL;
  g_autofree char *protocol = NULL;
  g_autofree char *items = NULL;
  int per_item = 0, candidates = 4;
  double anchors = 0;
  gint64 seed = 0;
  GOptionEntry entries[] = {
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name, "The campaign's name (unique)", "NAME" },
    { "protocol", 'p', 0, G_OPTION_ARG_STRING, &protocol,
      "complementary (K uniform candidates per answer), ordinary or preference", "PROTOCOL" },
    { "per-item", 'm', 0, G_OPTION_ARG_INT, &per_item,
      "Answers per item, each from a different annotator", "M" },
    { "candidates", 'k', 0, G_OPTION_ARG_INT, &candidates,
      "complementary: classes shown per question (default 4)", "K" },
    { "anchors", 'a', 0, G_OPTION_ARG_DOUBLE, &anchors,
      "Share of gold anchor items mixed in, in [0, 1) (default 0)", "RATE" },
    { "items", 'i', 0, G_OPTION_ARG_STRING, &items,
      "all, pool (default), test, validation, or N: the first N pool items", "ITEMS" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed of the anchors' draw (default 0)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("PROJECT — start a campaign");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (GError) error = NULL;
  VetoCampaignCoverage coverage = { 0 };
  VetoCampaignSpec spec = { 0 };
  gint64 id;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Anchors are items with a gold label from outside ITEMS and the test split; annotators\n"
      "are not told.\n"
      "Exit status: 0 done, 1 refused (name taken, too few items or anchors), 2 usage,\n"
      "3 the project cannot be used.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return veto_cli_usage (context, "campaign create takes one PROJECT");
  if (name == NULL)
    return veto_cli_usage (context, "--name is required");
  if (protocol == NULL || !protocol_from_string (protocol, &spec.protocol))
    return veto_cli_usage (context, "--protocol must be complementary, ordinary or preference");
  if (per_item < 1)
    return veto_cli_usage (context, "--per-item must be at least 1");
  if (candidates < 2)
    return veto_cli_usage (context, "--candidates must be at least 2");
  if (!(anchors >= 0 && anchors < 1))
    return veto_cli_usage (context, "--anchors must be in [0, 1)");
  if (!parse_items (items, &spec))
    return veto_cli_usage (context, "--items must be all, pool, test, validation or a count");
  spec.name = name;
  spec.per_item = per_item;
  spec.n_candidates = candidates;
  spec.anchor_rate = anchors;
  spec.seed = (guint64) seed;
  store = veto_store_open (argv[1], FALSE, &error);
  if (store == NULL || !veto_store_campaign_create (store, &spec, &id, &error)
      || !veto_store_campaign_coverage (store, id, &coverage, &error))
    return veto_cli_fail (error);
  g_print ("Created campaign \"%s\": %s, %d answers per item", name, protocol, per_item);
  if (spec.protocol == VETO_KIND_COMPLEMENTARY)
    g_print (", %d candidates", candidates);
  g_print (", %u items (%u of them anchors)\n", coverage.items, coverage.anchors);
  veto_campaign_coverage_clear (&coverage);
  return VETO_EXIT_OK;
}

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
add_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
campaign_json (JsonBuilder *b, const VetoCampaign *c, const VetoCampaignCoverage *cov)
{
  json_builder_begin_object (b);
  add_string (b, "name", c->name);
  add_string (b, "protocol", veto_answer_kind_to_string (c->protocol));
  add_int (b, "per_item", c->per_item);
  add_int (b, "candidates", c->n_candidates);
  veto_json_add_number (b, "anchor_rate", c->anchor_rate);
  add_string (b, "state", c->closed ? "closed" : "open");
  add_string (b, "created_at", c->created_at);
  add_string (b, "closed_at", c->closed_at);
  add_int (b, "items", cov->items);
  add_int (b, "anchors", cov->anchors);
  add_int (b, "answers", cov->answers);
  add_int (b, "complete_items", cov->complete);
  add_int (b, "over_covered_items", cov->over);
  add_int (b, "missing_answers", cov->missing);
  json_builder_set_member_name (b, "annotators");
  json_builder_begin_array (b);
  for (guint i = 0; i < cov->annotators->len; i++)
    {
      const VetoCampaignAnnotator *a = cov->annotators->pdata[i];

      json_builder_begin_object (b);
      add_string (b, "name", a->name);
      add_string (b, "kind", veto_annotator_kind_to_string (a->kind));
      add_int (b, "answers", a->answers);
      add_int (b, "anchor_answers", a->anchor_answers);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
}

static void
campaign_print (const VetoCampaign *c, const VetoCampaignCoverage *cov)
{
  g_print ("%s: %s, %u answers per item", c->name, veto_answer_kind_to_string (c->protocol),
           c->per_item);
  if (c->protocol == VETO_KIND_COMPLEMENTARY)
    g_print (", %u candidates", c->n_candidates);
  g_print (", %s\n", c->closed ? "closed" : "open");
  g_print ("  items        %u (%u anchors)\n", cov->items, cov->anchors);
  g_print ("  answers      %u (%u more needed)\n", cov->answers, cov->missing);
  g_print ("  complete     %u of %u items", cov->complete, cov->items);
  if (cov->over)
    g_print (" (%u with more than %u answers)", cov->over, c->per_item);
  g_print ("\n");
  for (guint i = 0; i < cov->annotators->len; i++)
    {
      const VetoCampaignAnnotator *a = cov->annotators->pdata[i];

      g_print ("  %-12s %u answers (%u on anchors)\n", a->name, a->answers, a->anchor_answers);
    }
}

static int
campaign_show (int argc, char **argv)
{
  g_autofree char *name = NULL;
  gboolean as_json = FALSE;
  GOptionEntry entries[] = {
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name, "Only this campaign", "NAME" },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &as_json, "Print JSON", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "PROJECT — coverage of the campaigns: items, answers, complete items, per annotator");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) campaigns = NULL;
  g_autoptr (JsonBuilder) b = json_builder_new ();
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Reads the project without writing to it.\n"
      "Exit status: 0 done, 1 no such campaign, 2 usage, 3 the project cannot be read.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return veto_cli_usage (context, "campaign show takes one PROJECT");
  store = veto_store_open (argv[1], TRUE, &error);
  if (store == NULL)
    return veto_cli_fail (error);
  if (name)
    {
      VetoCampaign *c = veto_store_get_campaign (store, name, &error);

      if (c == NULL)
        return veto_cli_fail (error);
      campaigns = g_ptr_array_new_with_free_func ((GDestroyNotify) veto_campaign_free);
      g_ptr_array_add (campaigns, c);
    }
  else if (!(campaigns = veto_store_list_campaigns (store, &error)))
    return veto_cli_fail (error);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "campaigns");
  json_builder_begin_array (b);
  for (guint i = 0; i < campaigns->len; i++)
    {
      const VetoCampaign *c = campaigns->pdata[i];
      VetoCampaignCoverage cov = { 0 };

      if (!veto_store_campaign_coverage (store, c->id, &cov, &error))
        return veto_cli_fail (error);
      if (as_json)
        campaign_json (b, c, &cov);
      else
        campaign_print (c, &cov);
      veto_campaign_coverage_clear (&cov);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  if (as_json)
    {
      g_autoptr (JsonNode) root = json_builder_get_root (b);
      g_autofree char *text = json_to_string (root, TRUE);

      g_print ("%s\n", text);
    }
  else if (campaigns->len == 0)
    g_print ("No campaigns\n");
  return VETO_EXIT_OK;
}

static int
campaign_close (int argc, char **argv)
{
  g_autofree char *name = NULL;
  GOptionEntry entries[] = {
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name, "The campaign to close", "NAME" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "PROJECT — close a campaign: no more questions from it");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (VetoCampaign) c = NULL;
  g_autoptr (GError) error = NULL;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Exit status: 0 done, 1 no such open campaign, 2 usage, 3 the project cannot be used.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return veto_cli_usage (context, "campaign close takes one PROJECT");
  if (name == NULL)
    return veto_cli_usage (context, "--name is required");
  store = veto_store_open (argv[1], FALSE, &error);
  if (store == NULL || !(c = veto_store_get_campaign (store, name, &error))
      || !veto_store_campaign_close (store, c->id, &error))
    return veto_cli_fail (error);
  g_print ("Closed campaign \"%s\"\n", name);
  return VETO_EXIT_OK;
}

/* What simulated annotators need of a campaign: its items' gold classes and the class ids. */
typedef struct
{
  VetoCampaign *campaign;
  GPtrArray *classes;
  GHashTable *truth;  /* item id → GINT_TO_POINTER (class index + 1) */
  guint n_items;
} SimCampaign;

static void
sim_campaign_clear (SimCampaign *s)
{
  g_clear_pointer (&s->campaign, veto_campaign_free);
  g_clear_pointer (&s->classes, g_ptr_array_unref);
  g_clear_pointer (&s->truth, g_hash_table_unref);
}

static gboolean
sim_campaign_load (VetoStore *store, const char *name, SimCampaign *s, GError **error)
{
  g_autoptr (GArray) items = NULL;

  s->campaign = veto_store_get_campaign (store, name, error);
  if (s->campaign == NULL || !(s->classes = veto_store_list_classes (store, error))
      || !(items = veto_store_campaign_list_items (store, s->campaign->id, error)))
    return FALSE;
  s->truth = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  s->n_items = items->len;
  for (guint i = 0; i < items->len; i++)
    {
      gint64 id = g_array_index (items, VetoCampaignItem, i).item;
      g_autoptr (VetoItem) item = veto_store_get_item (store, id, error);
      gint index = -1;

      if (item == NULL)
        return FALSE;
      for (guint c = 0; c < s->classes->len && item->gold_class > 0; c++)
        if (((VetoClass *) s->classes->pdata[c])->id == item->gold_class)
          index = c;
      if (index < 0)
        {
          g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                       "simulated annotators answer from gold labels, and item %" G_GINT64_FORMAT
                       " of campaign \"%s\" has none", id, name);
          return FALSE;
        }
      g_hash_table_insert (s->truth, g_memdup2 (&id, sizeof id), GINT_TO_POINTER (index + 1));
    }
  return TRUE;
}

/* One simulated annotator at work on the campaign. */
typedef struct
{
  gint64 id;
  VetoSimAnnotator *sim;
  VetoRng rng;
  gboolean done;
  guint answers;
} SimWorker;

/* Puts one question about item to w and saves its answer. */
static gboolean
sim_answer (VetoStore *store, SimCampaign *s, SimWorker *w, gint64 item, GError **error)
{
  const VetoCampaign *c = s->campaign;
  guint k = s->classes->len;
  g_autofree guint *shown = g_new (guint, MAX (c->n_candidates, 1));
  g_autofree gint64 *shown_ids = g_new (gint64, MAX (c->n_candidates, 1));
  guint truth, label;
  VetoAnswer answer = {
    .annotator = w->id, .strategy = "campaign", .score = NAN, .campaign = c->id,
  };

  answer.item = item;
  answer.shown_at_us = g_get_real_time ();
  truth = GPOINTER_TO_INT (g_hash_table_lookup (s->truth, &item)) - 1;
  if (c->protocol == VETO_KIND_ORDINARY)
    {
      answer.kind = VETO_KIND_ORDINARY;
      label = veto_sim_annotator_answer_ordinary (w->sim, &w->rng, truth);
    }
  else
    {
      /* A fresh uniform candidate set for every answer, as CLImage draws for CIFAR. */
      guint64 seed = veto_rng_next (&w->rng);

      if (!veto_active_candidates (VETO_ACTIVE_CANDIDATES_UNIFORM, NULL, 1, k, c->n_candidates,
                                   VETO_ACTIVE_DEFAULT_FLOOR, seed, shown, error))
        return FALSE;
      for (guint i = 0; i < c->n_candidates; i++)
        shown_ids[i] = ((VetoClass *) s->classes->pdata[shown[i]])->id;
      answer.kind = VETO_KIND_COMPLEMENTARY;
      answer.candidates = shown_ids;
      answer.n_candidates = c->n_candidates;
      label = veto_sim_annotator_answer_complementary (w->sim, &w->rng, truth, shown,
                                                       c->n_candidates);
    }
  answer.answer_class = ((VetoClass *) s->classes->pdata[label])->id;
  answer.answered_at_us = g_get_real_time ();
  if (!veto_store_add_annotation (store, &answer, NULL, error))
    return FALSE;
  w->answers++;
  return TRUE;
}

/* One turn of w: the next questions the campaign has for it, all answered before anyone asks
 * again (so coverage stays exact); sets w->done when nothing is left. */
static gboolean
sim_turn (VetoStore *store, SimCampaign *s, SimWorker *w, GError **error)
{
  g_autoptr (GArray) items = veto_store_campaign_next_items (store, s->campaign->id, w->id,
                                                             SIM_BATCH, error);

  if (items == NULL)
    return FALSE;
  w->done = items->len == 0;
  for (guint i = 0; i < items->len; i++)
    if (!sim_answer (store, s, w, g_array_index (items, VetoCampaignItem, i).item, error))
      return FALSE;
  return TRUE;
}

static gboolean
profile_fits (VetoSimAnnotator *sim, VetoAnswerKind protocol)
{
  VetoSimKind kind = veto_sim_annotator_get_kind (sim);

  if (protocol == VETO_KIND_ORDINARY)
    return kind == VETO_SIM_ORDINARY;
  return kind == VETO_SIM_UNIFORM || kind == VETO_SIM_NOISY || kind == VETO_SIM_BIASED;
}

/* The annotators take turns, each answering what the campaign's assignment gives it, until none
 * has a question left: with at least m of them that is when every item has m answers. */
static gboolean
simulate (VetoStore *store, SimCampaign *s, const char *profile, const char *prefix,
          guint n_annotators, guint64 seed, guint *out_answers, GError **error)
{
  const VetoCampaign *c = s->campaign;
  g_autofree SimWorker *workers = g_new0 (SimWorker, n_annotators);
  g_autoptr (VetoCliProgress) progress = veto_cli_progress_new ("Simulating");
  guint64 total = (guint64) s->n_items * c->per_item, done = 0;
  gboolean ok = TRUE, busy = TRUE;

  for (guint i = 0; i < n_annotators && ok; i++)
    {
      g_autofree char *name = g_strdup_printf ("%s-%u", prefix, i + 1);

      workers[i].sim = veto_sim_annotator_new (profile, s->classes->len,
                                               c->protocol == VETO_KIND_COMPLEMENTARY
                                                 ? c->n_candidates
                                                 : MIN (4, s->classes->len), error);
      /* One stream per annotator, all from the one seed. */
      veto_rng_init (&workers[i].rng, seed * 1000003u + i);
      if (workers[i].sim == NULL)
        ok = FALSE;
      else if (!profile_fits (workers[i].sim, c->protocol))
        {
          g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                       "profile \"%s\" does not answer %s questions", profile,
                       veto_answer_kind_to_string (c->protocol));
          ok = FALSE;
        }
      else
        ok = veto_store_ensure_annotator (store, name, VETO_ANNOTATOR_SIMULATED, &workers[i].id,
                                          error);
    }
  while (ok && busy)
    {
      busy = FALSE;
      for (guint i = 0; i < n_annotators && ok; i++)
        if (!workers[i].done)
          {
            guint before = workers[i].answers;

            ok = sim_turn (store, s, &workers[i], error);
            busy |= !workers[i].done;
            done += workers[i].answers - before;
            veto_cli_progress_update (progress, done, total);
          }
    }
  *out_answers = 0;
  for (guint i = 0; i < n_annotators; i++)
    {
      *out_answers += workers[i].answers;
      veto_sim_annotator_free (workers[i].sim);
    }
  return ok;
}

static int
campaign_simulate (int argc, char **argv)
{
  g_autofree char *name = NULL;
  g_autofree char *profile = NULL;
  g_autofree char *prefix = NULL;
  int n_annotators = 0;
  gint64 seed = 0;
  GOptionEntry entries[] = {
    { "name", 'n', 0, G_OPTION_ARG_STRING, &name, "The campaign to fill", "NAME" },
    { "annotators", 'a', 0, G_OPTION_ARG_INT, &n_annotators, "Simulated annotators", "A" },
    { "profile", 'p', 0, G_OPTION_ARG_STRING, &profile,
      "complementary: uniform, noisy[:rho=R] or biased:FILE (a K×K matrix T[true][CL]); "
      "ordinary: ordinary[:noise=R]", "PROFILE" },
    { "seed", 's', 0, G_OPTION_ARG_INT64, &seed, "Seed (default 0)", "S" },
    { "prefix", 0, 0, G_OPTION_ARG_STRING, &prefix,
      "Annotators are named PREFIX-1 … PREFIX-A (default sim)", "PREFIX" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "PROJECT — fill a campaign with simulated annotators");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (GError) error = NULL;
  SimCampaign s = { 0 };
  VetoCampaignCoverage cov = { 0 };
  guint answers = 0;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Each annotator answers through the campaign's assignment (the item it has not answered\n"
      "with the fewest answers) until nothing is left for it; answers are saved one by one,\n"
      "with the candidates shown (drawn uniformly for every answer). Needs gold labels.\n"
      "Exit status: 0 done, 1 refused (closed campaign, no gold, bad profile), 2 usage,\n"
      "3 the project cannot be used.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return veto_cli_usage (context, "campaign simulate takes one PROJECT");
  if (name == NULL || profile == NULL)
    return veto_cli_usage (context, "--name and --profile are required");
  if (n_annotators < 1)
    return veto_cli_usage (context, "--annotators must be at least 1");
  store = veto_store_open (argv[1], FALSE, &error);
  if (store == NULL || !sim_campaign_load (store, name, &s, &error))
    {
      sim_campaign_clear (&s);
      return veto_cli_fail (error);
    }
  if (s.campaign->protocol == VETO_KIND_PREFERENCE)
    {
      sim_campaign_clear (&s);
      g_printerr ("veto: simulated annotators answer ordinary and complementary campaigns, not "
                  "preference ones\n");
      return VETO_EXIT_FAILED;
    }
  if (!simulate (store, &s, profile, prefix ? prefix : "sim", n_annotators, (guint64) seed,
                 &answers, &error)
      || !veto_store_campaign_coverage (store, s.campaign->id, &cov, &error))
    {
      sim_campaign_clear (&s);
      return veto_cli_fail (error);
    }
  g_print ("%d simulated annotator%s (%s) gave %u answers; campaign \"%s\": %u of %u items "
           "complete, %u answers still needed\n", n_annotators, n_annotators == 1 ? "" : "s",
           profile, answers, name, cov.complete, cov.items, cov.missing);
  veto_campaign_coverage_clear (&cov);
  sim_campaign_clear (&s);
  return VETO_EXIT_OK;
}

int
veto_cmd_campaign (int argc, char **argv)
{
  static const struct
  {
    const char *name;
    int (*run) (int argc, char **argv);
  } subcommands[] = {
    { "create", campaign_create },
    { "show", campaign_show },
    { "close", campaign_close },
    { "simulate", campaign_simulate },
  };

  if (argc >= 2)
    for (guint i = 0; i < G_N_ELEMENTS (subcommands); i++)
      if (g_str_equal (argv[1], subcommands[i].name))
        {
          g_autofree char *prgname = g_strdup_printf ("veto campaign %s", argv[1]);

          g_set_prgname (prgname);
          return subcommands[i].run (argc - 1, argv + 1);
        }
  g_printerr ("Usage: veto campaign create|show|close|simulate PROJECT [OPTIONS…]\n"
              "'veto campaign SUBCOMMAND --help' describes one.\n");
  return VETO_EXIT_USAGE;
}

static void
print_merge_report (const VetoMergeReport *r)
{
  g_print ("  answers      %u added, %u already there\n", r->answers_added, r->answers_present);
  if (r->undos_added)
    g_print ("  marks        %u answers undone or flagged in a source, now also here\n",
             r->undos_added);
  g_print ("  added        %u classes, %u annotators, %u campaigns\n", r->classes_added,
           r->annotators_added, r->campaigns_added);
  if (r->campaigns_closed)
    g_print ("  closed       %u campaigns closed in a source\n", r->campaigns_closed);
  if (r->items_unused)
    g_print ("  ignored      %u source items missing here, never answered there\n",
             r->items_unused);
  if (r->items_over)
    g_print ("  note         %u campaign items now have more answers than the campaign asks "
             "for (copies overlapped)\n", r->items_over);
}

int
veto_cmd_merge (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new (
      "TARGET SOURCE… — add the answers of projects annotated apart to TARGET");
  g_autoptr (VetoStore) target = NULL;
  g_autoptr (GPtrArray) sources = g_ptr_array_new_with_free_func (
      (GDestroyNotify) veto_store_close);
  g_autoptr (GError) error = NULL;
  VetoMergeReport report = { 0 };
  int status;

  g_option_context_set_description (context,
      "Items are matched by content (sha256), classes, annotators (same name: same person) and\n"
      "campaigns by name; an answer already in TARGET (same annotator, item, kind, time and\n"
      "question) is not added again, so merging twice adds nothing. Any conflict (an answered\n"
      "item TARGET lacks, differing gold labels or campaign settings, the same answer with\n"
      "another value) is listed and the whole merge refused: TARGET is left unchanged.\n"
      "Documented in docs/campaigns.md.\n"
      "Exit status: 0 merged, 1 conflicts (nothing merged), 2 usage, 3 a project cannot be "
      "used.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc < 3)
    return veto_cli_usage (context, "merge takes TARGET and at least one SOURCE");
  target = veto_store_open (argv[1], FALSE, &error);
  if (target == NULL)
    return veto_cli_fail (error);
  for (int i = 2; i < argc; i++)
    {
      VetoStore *source = veto_store_open (argv[i], TRUE, &error);

      if (source == NULL)
        return veto_cli_fail (error);
      g_ptr_array_add (sources, source);
    }
  if (!veto_store_merge (target, (VetoStore *const *) sources->pdata, sources->len, &report,
                         &error))
    {
      for (guint i = 0; report.conflicts && i < MIN (report.conflicts->len, MAX_CONFLICTS_SHOWN);
           i++)
        g_printerr ("veto: conflict: %s\n", (const char *) report.conflicts->pdata[i]);
      if (report.conflicts && report.conflicts->len > MAX_CONFLICTS_SHOWN)
        g_printerr ("veto: … and %u more conflicts\n",
                    report.conflicts->len - MAX_CONFLICTS_SHOWN);
      veto_merge_report_clear (&report);
      return veto_cli_fail (error);
    }
  g_print ("Merged %u project%s into %s\n", sources->len, sources->len == 1 ? "" : "s", argv[1]);
  print_merge_report (&report);
  veto_merge_report_clear (&report);
  return VETO_EXIT_OK;
}

static void
annotator_json (JsonBuilder *b, const char *name, const VetoStatsAnnotator *a, guint k)
{
  json_builder_begin_object (b);
  if (name)
    add_string (b, "name", name);
  add_int (b, "answers", a->answers);
  add_int (b, "ordinary", a->per_kind[VETO_STATS_ORDINARY]);
  add_int (b, "complementary", a->per_kind[VETO_STATS_COMPLEMENTARY]);
  veto_json_add_number (b, "mean_seconds", a->mean_seconds);
  veto_json_add_number (b, "median_seconds", a->median_seconds);
  add_int (b, "answers_on_gold", a->gold.n);
  veto_json_add_number (b, "noise_rate", veto_stats_count_rate (&a->gold));
  veto_json_add_number (b, "noise_rate_ordinary",
                        veto_stats_count_rate (&a->gold_kind[VETO_STATS_ORDINARY]));
  veto_json_add_number (b, "noise_rate_complementary",
                        veto_stats_count_rate (&a->gold_kind[VETO_STATS_COMPLEMENTARY]));
  add_int (b, "answers_on_anchors", a->anchor.n);
  veto_json_add_number (b, "noise_rate_anchors", veto_stats_count_rate (&a->anchor));
  if (a->choice_model != NULL)
    {
      json_builder_set_member_name (b, "choice_model");
      json_builder_begin_object (b);
      add_int (b, "answers", a->choice_answers);
      if (name)
        {
          json_builder_set_member_name (b, "own");
          json_builder_add_boolean_value (b, a->choice_own);
          veto_json_add_number (b, "pull_towards_pooled", a->choice_strength);
        }
      veto_json_add_number (b, "names_truth_when_shown", a->choice_noise);
      veto_json_add_matrix (b, "weights", a->choice_model, k);
      json_builder_end_object (b);
    }
  json_builder_end_object (b);
}

/* The annotator models the learner's latest round read the answers through (its metrics:
 * with the candidate-aware loss, the anchors' fit refined by every answer), when that round
 * has them for the current classes. */
typedef struct
{
  gint64 round;
  VetoRoundAnnotatorModels models;
} LearnerModel;

/* Fails (CORRUPT, naming the project and the round) when the round's models are not what
 * veto_round_annotator_models_read () accepts. */
static gboolean
load_learner_model (VetoStore *store, guint k, LearnerModel *out, GError **error)
{
  g_autoptr (GPtrArray) rounds = veto_store_list_rounds (store, error);
  g_autoptr (JsonParser) parser = json_parser_new ();
  const VetoRoundInfo *last;

  *out = (LearnerModel) { 0 };
  if (rounds == NULL)
    return FALSE;
  if (rounds->len == 0)
    return TRUE;
  last = rounds->pdata[rounds->len - 1];
  if (!json_parser_load_from_data (parser, last->metrics_json, -1, NULL)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return TRUE;
  if (!veto_round_annotator_models_read (json_node_get_object (json_parser_get_root (parser)), k,
                                         &out->models, error))
    {
      g_prefix_error (error, "%s: round %" G_GINT64_FORMAT "'s ", veto_store_get_path (store),
                      last->version);
      return FALSE;
    }
  out->round = last->version;
  return TRUE;
}

/* The name of annotator id among those read (NULL when they have no answer here). */
static const char *
annotator_name (const VetoStatsLoad *in, gint64 id)
{
  for (guint j = 0; j < in->annotator_ids->len; j++)
    if (g_array_index (in->annotator_ids, gint64, j) == id)
      return in->annotator_names->pdata[j];
  return NULL;
}

static JsonNode *
stats_json (const VetoStatsLoad *in, const char *campaign, gboolean anchors_only,
            const VetoStatsReport *r, const LearnerModel *learner)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  guint k = r->n_classes;

  json_builder_begin_object (b);
  add_string (b, "campaign", campaign);
  json_builder_set_member_name (b, "anchors_only");
  json_builder_add_boolean_value (b, anchors_only);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint c = 0; c < k; c++)
    json_builder_add_string_value (b, ((VetoClass *) in->classes->pdata[c])->name);
  json_builder_end_array (b);
  add_int (b, "items", in->input.n_items);
  json_builder_set_member_name (b, "overall");
  annotator_json (b, NULL, &r->overall, k);
  json_builder_set_member_name (b, "learner_model");
  if (learner->models.pooled != NULL)
    {
      json_builder_begin_object (b);
      add_int (b, "round", learner->round);
      veto_json_add_matrix (b, "weights", learner->models.pooled, k);
      json_builder_set_member_name (b, "own");
      json_builder_begin_array (b);
      for (guint j = 0; learner->models.own_ids != NULL && j < learner->models.own_ids->len; j++)
        {
          gint64 id = g_array_index (learner->models.own_ids, gint64, j);

          json_builder_begin_object (b);
          add_int (b, "annotator_id", id);
          add_string (b, "annotator", annotator_name (in, id));
          veto_json_add_matrix (b, "weights", learner->models.own_models->pdata[j], k);
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "noise_rate");
  json_builder_begin_object (b);
  veto_json_add_number (b, "overall", veto_stats_count_rate (&r->overall.gold));
  veto_json_add_number (b, "ordinary",
                        veto_stats_count_rate (&r->overall.gold_kind[VETO_STATS_ORDINARY]));
  veto_json_add_number (b, "complementary",
                        veto_stats_count_rate (&r->overall.gold_kind[VETO_STATS_COMPLEMENTARY]));
  veto_json_add_number (b, "anchors", veto_stats_count_rate (&r->overall.anchor));
  add_int (b, "answers_on_gold", r->overall.gold.n);
  json_builder_set_member_name (b, "per_annotator");
  json_builder_begin_object (b);
  for (guint j = 0; j < r->n_annotators; j++)
    veto_json_add_number (b, in->annotator_names->pdata[j],
                          veto_stats_count_rate (&r->annotators[j].gold));
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "annotators");
  json_builder_begin_array (b);
  for (guint j = 0; j < r->n_annotators; j++)
    annotator_json (b, in->annotator_names->pdata[j], &r->annotators[j], k);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "transition_matrix");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint c = 0; c < k; c++)
    json_builder_add_string_value (b, ((VetoClass *) in->classes->pdata[c])->name);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "counts");
  json_builder_begin_array (b);
  for (guint y = 0; y < k; y++)
    {
      json_builder_begin_array (b);
      for (guint c = 0; c < k; c++)
        json_builder_add_int_value (b, r->transition_counts[(gsize) y * k + c]);
      json_builder_end_array (b);
    }
  json_builder_end_array (b);
  veto_json_add_matrix (b, "probabilities", r->transition, k);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "complementary");
  json_builder_begin_object (b);
  veto_json_add_number (b, "gold_hit_rate",
                        veto_stats_count_rate (&r->overall.gold_kind[VETO_STATS_COMPLEMENTARY]));
  add_int (b, "on_majority_items", r->cl_majority.n);
  veto_json_add_number (b, "majority_hit_rate", veto_stats_count_rate (&r->cl_majority));
  json_builder_end_object (b);
  if (r->overall.per_kind[VETO_STATS_ORDINARY] > 0)
    {
      veto_json_add_number (b, "krippendorff_alpha", r->alpha);
      add_int (b, "krippendorff_units", r->alpha_units);
      add_int (b, "krippendorff_pairable_values", r->alpha_values);
    }
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
print_rate (const char *label, const VetoStatsCount *count)
{
  if (count->n)
    g_print ("  %-30s %.2f%% (%u of %u)\n", label, 100 * veto_stats_count_rate (count),
             count->noisy, count->n);
}

static void
print_choice_model (const double *weights, guint k)
{
  for (guint y = 0; y < k; y++)
    {
      g_print ("     ");
      for (guint c = 0; c < k; c++)
        g_print (" %5.2f", weights[(gsize) y * k + c]);
      g_print ("\n");
    }
}

static void
stats_print (const VetoStatsLoad *in, const VetoStatsReport *r, const LearnerModel *learner)
{
  g_print ("  answers      %u ordinary, %u complementary, on %u items\n",
           r->overall.per_kind[VETO_STATS_ORDINARY], r->overall.per_kind[VETO_STATS_COMPLEMENTARY],
           in->input.n_items);
  print_rate ("noise on gold items", &r->overall.gold);
  print_rate ("noise on anchors", &r->overall.anchor);
  print_rate ("CLs naming the majority class", &r->cl_majority);
  if (r->overall.per_kind[VETO_STATS_ORDINARY] > 0)
    g_print ("  Krippendorff's alpha (nominal) %.4f over %u items\n", r->alpha, r->alpha_units);
  if (r->overall.choice_model != NULL)
    {
      g_print ("  pooled choice model (Luce weights, rows = gold class, fitted to %u answers on "
               "gold items; names the truth %.1f%% of the times it is shown):\n",
               r->overall.choice_answers, 100 * r->overall.choice_noise);
      print_choice_model (r->overall.choice_model, r->n_classes);
    }
  if (learner->models.pooled != NULL)
    {
      g_print ("  the learner's pooled model in round %" G_GINT64_FORMAT " (Luce weights, rows = "
               "gold class; with the candidate-aware loss the anchors' fit, or short of it the "
               "uniform model, refined by every answer):\n", learner->round);
      print_choice_model (learner->models.pooled, r->n_classes);
    }
  for (guint j = 0; j < r->n_annotators; j++)
    {
      const VetoStatsAnnotator *a = &r->annotators[j];
      const double *own = veto_round_annotator_models_find (
          &learner->models, g_array_index (in->annotator_ids, gint64, j));

      g_print ("  %-12s %u answers", (const char *) in->annotator_names->pdata[j], a->answers);
      if (a->gold.n)
        g_print (", noise %.2f%% on %u gold items", 100 * veto_stats_count_rate (&a->gold),
                 a->gold.n);
      if (a->timed)
        g_print (", median %.1f s per answer", a->median_seconds);
      g_print ("\n");
      if (a->choice_model != NULL && a->choice_own)
        {
          g_print ("    choice model (Luce weights, rows = gold class, fitted to %u answers on "
                   "gold items, pulled towards the pooled model by %g answers per weight; names "
                   "the truth %.1f%% of the times it is shown):\n",
                   a->choice_answers, a->choice_strength, 100 * a->choice_noise);
          print_choice_model (a->choice_model, r->n_classes);
        }
      if (own != NULL)
        {
          g_print ("    the learner's model of them in round %" G_GINT64_FORMAT " (their anchors' "
                   "fit pulled towards the learner's pooled model):\n", learner->round);
          print_choice_model (own, r->n_classes);
        }
      if (a->choice_model != NULL && !a->choice_own)
        g_print ("    choice model: the pooled one (%u answers on gold items, fewer than %d); "
                 "names the truth %.1f%% of the times it is shown\n", a->choice_answers,
                 VETO_LOSS_MIN_OWN_ANSWERS, 100 * a->choice_noise);
    }
}

int
veto_cmd_stats (int argc, char **argv)
{
  g_autofree char *campaign = NULL;
  gboolean as_json = FALSE, anchors_only = FALSE;
  GOptionEntry entries[] = {
    { "campaign", 'c', 0, G_OPTION_ARG_STRING, &campaign, "Only this campaign's answers", "NAME" },
    { "anchors-only", 'a', 0, G_OPTION_ARG_NONE, &anchors_only,
      "Only the answers the learner fits the annotators' choice models to (complementary, on "
      "gold anchors): the models it uses", NULL },
    { "json", 'j', 0, G_OPTION_ARG_NONE, &as_json, "Print JSON (docs/campaigns.md)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "PROJECT — annotators' noise, time and agreement; the estimated transition matrix");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (GError) error = NULL;
  VetoStatsLoad in = { 0 };
  VetoStatsReport report = { 0 };
  LearnerModel learner = { 0 };
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Standing ordinary and complementary answers: noise against gold labels (an ordinary\n"
      "answer that is not the gold class, a complementary one that is), on anchors and on\n"
      "every gold item; T[gold][CL]; Krippendorff's alpha of ordinary answers; each\n"
      "annotator's choice model fitted to the anchors, and (without --campaign) the pooled model\n"
      "the learner's latest round read the answers through.\n"
      "Exit status: 0 done, 1 no such campaign, 2 usage, 3 the project cannot be read.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return veto_cli_usage (context, "stats takes one PROJECT");
  if (anchors_only && campaign)
    return veto_cli_usage (context, "--anchors-only reads every campaign's anchors: no --campaign");
  store = veto_store_open (argv[1], TRUE, &error);
  if (store == NULL
      || !veto_stats_load (store,
                           anchors_only ? VETO_STATS_LOAD_ANCHOR_ANSWERS : VETO_STATS_LOAD_ANSWERS,
                           campaign, NULL, &in, &error))
    return veto_cli_fail (error);
  if (!veto_stats_compute (&in.input, &report, &error)
      || (campaign == NULL && !load_learner_model (store, report.n_classes, &learner, &error)))
    {
      veto_stats_report_clear (&report);
      veto_stats_load_clear (&in);
      return veto_cli_fail (error);
    }
  if (as_json)
    {
      g_autoptr (JsonNode) root = stats_json (&in, campaign, anchors_only, &report, &learner);
      g_autofree char *text = json_to_string (root, TRUE);

      g_print ("%s\n", text);
    }
  else
    {
      g_print ("%s%s%s%s\n", argv[1], campaign ? ", campaign " : "", campaign ? campaign : "",
               anchors_only ? ", the answers on gold anchors the learner fits its choice models to"
                            : "");
      stats_print (&in, &report, &learner);
    }
  veto_round_annotator_models_clear (&learner.models);
  veto_stats_report_clear (&report);
  veto_stats_load_clear (&in);
  return VETO_EXIT_OK;
}
