/* veto-cmd-check: `veto check`: everything wrong with a project file, listed without changing it. */
#include "veto-cli.h"

#include <json-glib/json-glib.h>

#include "veto-image.h"
#include "veto-store.h"

static void
add_problem (GPtrArray *problems, const char *table, gint64 row, const char *text)
{
  VetoStoreProblem *p = g_new0 (VetoStoreProblem, 1);

  p->table = g_strdup (table);
  p->row = row;
  p->problem = g_strdup (text);
  g_ptr_array_add (problems, p);
}

typedef struct
{
  VetoStore *store;
  GPtrArray *problems;
  guint files;
} FileCheck;

/* A file item's file must be there and be the very file imported (same sha256). */
static gboolean
check_file (const VetoItem *item, gpointer user_data)
{
  FileCheck *fc = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;
  g_autofree char *name = NULL;
  g_autoptr (VetoImage) image = NULL;

  if (item->path == NULL)
    return TRUE;
  fc->files++;
  path = veto_store_item_file (fc->store, item, &error);
  if (path)
    {
      name = g_strdup_printf ("the file %s", item->path);
      image = veto_image_load_verified (path, item->sha256, name, 0, 0, &error);
    }
  if (image == NULL)
    add_problem (fc->problems, "items", item->id, error->message);
  return TRUE;
}

static void
print_json (const char *project, GPtrArray *problems, guint files)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "project");
  json_builder_add_string_value (b, project);
  json_builder_set_member_name (b, "ok");
  json_builder_add_boolean_value (b, problems->len == 0);
  json_builder_set_member_name (b, "files_checked");
  json_builder_add_int_value (b, files);
  json_builder_set_member_name (b, "problems");
  json_builder_begin_array (b);
  for (guint i = 0; i < problems->len; i++)
    {
      const VetoStoreProblem *p = problems->pdata[i];

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "table");
      json_builder_add_string_value (b, p->table);
      json_builder_set_member_name (b, "row");
      if (p->row > 0)
        json_builder_add_int_value (b, p->row);
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "problem");
      json_builder_add_string_value (b, p->problem);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, TRUE);
  g_print ("%s\n", text);
}

int
veto_cmd_check (int argc, char **argv)
{
  gboolean as_json = FALSE;
  GOptionEntry entries[] = {
    { "json", 'j', 0, G_OPTION_ARG_NONE, &as_json, "Print JSON (schema in the README)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("PROJECT — list everything wrong "
                                                             "with a project file");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) problems = NULL;
  g_autofree char *display = NULL;
  FileCheck fc = { 0 };
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Runs SQLite's integrity check, compares the schema with Veto's (tables, columns, indexes;\n"
      "no other table, trigger or view), checks every row against what Veto writes (pixels that\n"
      "fill their size, dimensions and channels the importer accepts, classes, items,\n"
      "annotators and campaigns that exist, question JSON that agrees with its answer, relative\n"
      "paths) and reads every file item's file, which must be the one imported (same sha256).\n"
      "Every other command refuses a project with any of these problems (exit 3).\n"
      "Reads the project without writing to it.\n"
      "Exit status: 0 no problem, 1 problems listed, 2 usage, 3 the file cannot be checked\n"
      "(missing, not a Veto project, written by a newer Veto).");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return veto_cli_usage (context, "check takes one PROJECT");
  problems = veto_store_check (argv[1], &error);
  if (problems == NULL)
    return veto_cli_fail (error);
  /* Files are read only through rows that are sound. */
  if (problems->len == 0)
    {
      g_autoptr (VetoStore) store = veto_store_open (argv[1], TRUE, &error);

      fc.store = store;
      fc.problems = problems;
      if (store == NULL
          || !veto_store_foreach_item (store, VETO_N_SPLITS, check_file, &fc, &error))
        return veto_cli_fail (error);
    }
  if (as_json)
    print_json (argv[1], problems, fc.files);
  else
    {
      display = g_filename_display_name (argv[1]);
      for (guint i = 0; i < problems->len; i++)
        {
          const VetoStoreProblem *p = problems->pdata[i];

          if (p->row > 0)
            g_print ("%s: %s row %" G_GINT64_FORMAT ": %s\n", display, p->table, p->row,
                     p->problem);
          else
            g_print ("%s: %s: %s\n", display, p->table, p->problem);
        }
      if (problems->len == 0)
        g_print ("%s: no problem found (%u item files read)\n", display, fc.files);
      else
        g_print ("%s: %u problem%s\n", display, problems->len, problems->len == 1 ? "" : "s");
    }
  return problems->len == 0 ? VETO_EXIT_OK : VETO_EXIT_FAILED;
}
