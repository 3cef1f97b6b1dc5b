/* veto-cmd-project: the subcommands that make and read a project: init, import, info, export. */
#include "veto-cli.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "veto-export.h"
#include "veto-import.h"
#include "veto-store.h"

static gboolean
add_classes (VetoStore *store, GStrv names, GError **error)
{
  if (!veto_store_begin (store, error))
    return FALSE;
  for (guint i = 0; names[i]; i++)
    {
      gint64 id;

      if (!veto_store_ensure_class (store, names[i], &id, NULL, error))
        {
          veto_store_rollback (store);
          return FALSE;
        }
    }
  return veto_store_commit (store, error);
}

int
veto_cmd_init (int argc, char **argv)
{
  g_autofree char *classes = NULL;
  GOptionEntry entries[] = {
    { "classes", 'c', 0, G_OPTION_ARG_STRING, &classes,
      "Comma-separated class names, in the order models number them", "A,B,..." },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("PROJECT — create an empty project");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) names = NULL;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Creates PROJECT (a new SQLite file; it must not exist).\n"
      "Exit status: 0 done, 1 failed, 2 usage, 3 the project file cannot be made.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return veto_cli_usage (context, "init takes one PROJECT");
  /* Check the names before the file exists, so that a refusal leaves nothing behind. */
  if (classes)
    {
      names = g_strsplit (classes, ",", -1);
      for (guint i = 0; names[i]; i++)
        {
          g_strstrip (names[i]);
          if (*names[i] == '\0' || !g_utf8_validate (names[i], -1, NULL))
            return veto_cli_usage (context, "class names must be non-empty UTF-8 text");
          for (guint j = 0; j < i; j++)
            if (g_str_equal (names[i], names[j]))
              {
                g_autofree char *problem = g_strdup_printf ("class \"%s\" is named twice",
                                                            names[i]);

                return veto_cli_usage (context, problem);
              }
        }
    }
  store = veto_store_create (argv[1], &error);
  if (store == NULL)
    return veto_cli_fail (error);
  if (names && !add_classes (store, names, &error))
    {
      g_clear_pointer (&store, veto_store_close);
      g_unlink (argv[1]);
      return veto_cli_fail (error);
    }
  g_print ("Created %s with %u classes\n", argv[1], names ? g_strv_length (names) : 0);
  return VETO_EXIT_OK;
}

int
veto_cmd_import (int argc, char **argv)
{
  g_autofree char *labels = NULL;
  g_autofree char *split_name = NULL;
  g_autofree char *format_name = NULL;
  gboolean coarse = FALSE;
  GOptionEntry entries[] = {
    { "labels", 'l', 0, G_OPTION_ARG_FILENAME, &labels,
      "IDX labels file for the images (gold labels, for evaluation)", "FILE" },
    { "split", 's', 0, G_OPTION_ARG_STRING, &split_name,
      "pool (default), test or validation", "SPLIT" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format_name,
      "idx, cifar10, cifar100, folder or csv (default: detected from the content)", "FORMAT" },
    { "coarse", 0, 0, G_OPTION_ARG_NONE, &coarse, "CIFAR-100: use the 20 coarse labels", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "PROJECT SOURCE — add the items of SOURCE to the project");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoCliProgress) progress = NULL;
  VetoImportOptions options = { .format = VETO_FORMAT_AUTO, .split = VETO_SPLIT_POOL };
  VetoImportResult result;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "SOURCE is an IDX file (MNIST, Fashion-MNIST; gzip or raw), a CIFAR-10/100 binary batch\n"
      "(or a folder of data_batch_*.bin), a folder of images (one subfolder per class, or\n"
      "flat) or a CSV manifest with a header path,label,split (paths relative to it).\n"
      "The import is one transaction: on any error the project is left as it was.\n"
      "Exit status: 0 done, 1 the source is bad (message names the file), 2 usage,\n"
      "3 the project cannot be used (missing, not a project, busy, read-only, disk full).");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 3)
    return veto_cli_usage (context, "import takes PROJECT and SOURCE");
  if (split_name && !veto_split_from_string (split_name, &options.split))
    return veto_cli_usage (context, "--split must be pool, test or validation");
  if (format_name && !veto_import_format_from_string (format_name, &options.format))
    return veto_cli_usage (context, "--format must be idx, cifar10, cifar100, folder or csv");
  options.labels_path = labels;
  options.cifar100_coarse = coarse;
  store = veto_store_open (argv[1], FALSE, &error);
  if (store == NULL)
    return veto_cli_fail (error);
  progress = veto_cli_progress_new ("Importing");
  options.progress = veto_cli_progress_update;
  options.progress_data = progress;
  if (!veto_import (store, argv[2], &options, &result, &error))
    {
      g_clear_pointer (&progress, veto_cli_progress_free);
      return veto_cli_fail (error);
    }
  g_clear_pointer (&progress, veto_cli_progress_free);
  g_print ("Imported %u items from %s (%s)", result.added, argv[2],
           veto_import_format_to_string (result.format));
  /* A CSV manifest may send rows to other splits than --split: say where they really went. */
  for (guint i = 0, listed = 0; i < VETO_N_SPLITS; i++)
    if (result.per_split[i] > 0 || (result.added == 0 && i == options.split))
      g_print ("%s%u %s", listed++ ? ", " : ": ", result.per_split[i],
               veto_split_to_string (i));
  if (result.duplicates)
    g_print ("; %u duplicates skipped", result.duplicates);
  if (result.skipped)
    g_print ("; %u files that are not images skipped", result.skipped);
  if (result.classes_created)
    g_print ("; %u classes created", result.classes_created);
  g_print ("\n");
  return VETO_EXIT_OK;
}

static JsonNode *
info_json (VetoStore *store, const VetoStoreSummary *s, GPtrArray *classes)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "schema_version");
  json_builder_add_int_value (b, s->schema_version);
  json_builder_set_member_name (b, "items");
  json_builder_add_int_value (b, s->items);
  json_builder_set_member_name (b, "splits");
  json_builder_begin_object (b);
  for (guint i = 0; i < VETO_N_SPLITS; i++)
    {
      json_builder_set_member_name (b, veto_split_to_string (i));
      json_builder_add_int_value (b, s->per_split[i]);
    }
  json_builder_end_object (b);
  json_builder_set_member_name (b, "with_gold");
  json_builder_add_int_value (b, s->with_gold);
  json_builder_set_member_name (b, "classes");
  json_builder_begin_array (b);
  for (guint i = 0; i < classes->len; i++)
    json_builder_add_string_value (b, ((VetoClass *) classes->pdata[i])->name);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "annotations");
  json_builder_begin_object (b);
  for (guint i = 0; i < VETO_N_KINDS; i++)
    {
      json_builder_set_member_name (b, veto_answer_kind_to_string (i));
      json_builder_add_int_value (b, s->annotations[i]);
    }
  json_builder_set_member_name (b, "undone");
  json_builder_add_int_value (b, s->undone);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "annotators");
  json_builder_add_int_value (b, s->annotators);
  json_builder_set_member_name (b, "rounds");
  json_builder_add_int_value (b, s->rounds);
  json_builder_set_member_name (b, "campaigns");
  json_builder_add_int_value (b, s->campaigns);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

int
veto_cmd_info (int argc, char **argv)
{
  gboolean as_json = FALSE;
  GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &as_json, "Print JSON (schema in the README)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("PROJECT — describe a project");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) classes = NULL;
  g_autoptr (JsonNode) root = NULL;
  VetoStoreSummary s;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Reads the project without writing to it.\n"
      "Exit status: 0 done, 2 usage, 3 the project cannot be read.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return veto_cli_usage (context, "info takes one PROJECT");
  store = veto_store_open (argv[1], TRUE, &error);
  if (store == NULL || !veto_store_summarize (store, &s, &error)
      || !(classes = veto_store_list_classes (store, &error)))
    return veto_cli_fail (error);
  root = info_json (store, &s, classes);
  if (as_json)
    {
      g_autofree char *text = json_to_string (root, TRUE);

      g_print ("%s\n", text);
      return VETO_EXIT_OK;
    }
  g_print ("%s (schema %d)\n", argv[1], s.schema_version);
  g_print ("  items        %" G_GUINT64_FORMAT " (pool %" G_GUINT64_FORMAT ", test %"
           G_GUINT64_FORMAT ", validation %" G_GUINT64_FORMAT "; %" G_GUINT64_FORMAT
           " with a gold label)\n", s.items, s.per_split[VETO_SPLIT_POOL],
           s.per_split[VETO_SPLIT_TEST], s.per_split[VETO_SPLIT_VALIDATION], s.with_gold);
  g_print ("  classes      %u:", classes->len);
  for (guint i = 0; i < classes->len; i++)
    g_print ("%s %s", i ? "," : "", ((VetoClass *) classes->pdata[i])->name);
  g_print ("\n  answers      ordinary %" G_GUINT64_FORMAT ", complementary %" G_GUINT64_FORMAT
           ", preference %" G_GUINT64_FORMAT ", soft %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
           " undone)\n", s.annotations[VETO_KIND_ORDINARY],
           s.annotations[VETO_KIND_COMPLEMENTARY], s.annotations[VETO_KIND_PREFERENCE],
           s.annotations[VETO_KIND_SOFT], s.undone);
  g_print ("  annotators   %" G_GUINT64_FORMAT "\n  rounds       %" G_GUINT64_FORMAT
           "\n  campaigns    %" G_GUINT64_FORMAT "\n", s.annotators, s.rounds, s.campaigns);
  return VETO_EXIT_OK;
}

/* climage and imagefolder: a dataset in a folder, of one campaign's answers or of all. */
static int
export_dataset (const char *project, const char *format_name, const char *campaign_name,
                const char *dir)
{
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (VetoCampaign) campaign = NULL;
  g_autoptr (GError) error = NULL;
  VetoExportSummary summary = { 0 };
  gboolean climage = g_str_equal (format_name, "climage");
  gboolean ok;

  store = veto_store_open (project, TRUE, &error);
  if (store == NULL
      || (campaign_name && !(campaign = veto_store_get_campaign (store, campaign_name, &error))))
    return veto_cli_fail (error);
  if (climage)
    ok = veto_export_climage (store, campaign ? campaign->id : 0, dir, &summary, &error);
  else
    ok = veto_export_imagefolder (store, campaign ? campaign->id : 0, dir, &summary, &error);
  if (!ok)
    return veto_cli_fail (error);
  if (climage)
    g_print ("Wrote %u items with %u complementary labels (up to %u each, %u candidates) to %s\n",
             summary.items, summary.answers, summary.per_item, summary.n_candidates, dir);
  else
    g_print ("Wrote %u images labelled by the majority of %u ordinary answers to %s (%u items "
             "without a majority left out)\n", summary.items, summary.answers, dir,
             summary.skipped);
  return VETO_EXIT_OK;
}

int
veto_cmd_export (int argc, char **argv)
{
  g_autofree char *format_name = NULL;
  g_autofree char *out = NULL;
  g_autofree char *campaign_name = NULL;
  GOptionEntry entries[] = {
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format_name, "jsonl, csv, climage or imagefolder",
      "FORMAT" },
    { "out", 'o', 0, G_OPTION_ARG_FILENAME, &out,
      "The file (jsonl, csv) or folder (climage, imagefolder) to write", "PATH" },
    { "campaign", 'c', 0, G_OPTION_ARG_STRING, &campaign_name,
      "climage, imagefolder: only this campaign's answers", "NAME" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "PROJECT — write every answer, with the question as shown");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (GError) error = NULL;
  VetoExportFormat format;
  guint count = 0;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Formats are documented in docs/export.md. The file appears whole or not at all;\n"
      "climage and imagefolder fill the folder PATH (docs/campaigns.md).\n"
      "Exit status: 0 done, 1 the file cannot be written, 2 usage, 3 the project cannot be "
      "read.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return veto_cli_usage (context, "export takes one PROJECT");
  if (out == NULL)
    return veto_cli_usage (context, "--out PATH is required");
  if (g_strcmp0 (format_name, "climage") == 0 || g_strcmp0 (format_name, "imagefolder") == 0)
    return export_dataset (argv[1], format_name, campaign_name, out);
  if (format_name == NULL || !veto_export_format_from_string (format_name, &format))
    return veto_cli_usage (context, "--format must be jsonl, csv, climage or imagefolder");
  if (campaign_name)
    return veto_cli_usage (context, "--campaign goes with climage and imagefolder");
  store = veto_store_open (argv[1], TRUE, &error);
  if (store == NULL || !veto_export_annotations (store, format, out, &count, &error))
    return veto_cli_fail (error);
  g_print ("Wrote %u answers to %s\n", count, out);
  return VETO_EXIT_OK;
}
