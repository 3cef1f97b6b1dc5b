/* veto-main: the `veto` executable: dispatches to a subcommand. */
#include "veto-cli.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

typedef struct
{
  const char *name;
  int (*run) (int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "init", veto_cmd_init, "Create an empty project" },
  { "import", veto_cmd_import, "Add images from IDX, CIFAR, a folder or a CSV manifest" },
  { "info", veto_cmd_info, "Describe a project (--json for scripts)" },
  { "export", veto_cmd_export, "Write every answer as JSONL or CSV" },
  { "train", veto_cmd_train, "Train a classifier (features, model, loss) and evaluate it" },
  { "eval", veto_cmd_eval, "Evaluate a saved model on a split's gold labels" },
  { "simulate", veto_cmd_simulate, "Active learning with simulated annotators: learning curves" },
  { "demo", veto_cmd_demo, "Build (once) and open the Fashion-MNIST demo project" },
};

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage: veto COMMAND [OPTIONS…]\n\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\n'veto COMMAND --help' describes one command.\n"
                "Exit status: 0 done, 1 failed (an input is bad; the project is unchanged),\n"
                "2 usage, 3 the project cannot be used (missing, not a project, newer, busy,\n"
                "read-only, disk full).\n");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  if (argc < 2)
    {
      print_usage (stderr);
      return VETO_EXIT_USAGE;
    }
  if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0
      || strcmp (argv[1], "help") == 0)
    {
      print_usage (stdout);
      return VETO_EXIT_OK;
    }
  if (strcmp (argv[1], "--version") == 0)
    {
      printf ("veto %s\n", PACKAGE_VERSION);
      return VETO_EXIT_OK;
    }
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      {
        g_autofree char *prgname = g_strdup_printf ("veto %s", commands[i].name);

        g_set_prgname (prgname);
        return commands[i].run (argc - 1, argv + 1);
      }
  fprintf (stderr, "veto: unknown command \"%s\"\n", argv[1]);
  print_usage (stderr);
  return VETO_EXIT_USAGE;
}
