/* veto-main: the `veto` executable: dispatches to a subcommand. */
#include "veto-cli.h"

#include "veto-application.h"

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
  { "export", veto_cmd_export, "Write answers (JSONL, CSV) or a dataset (CLImage, ImageFolder)" },
  { "train", veto_cmd_train, "Train a classifier (features, model, loss) and evaluate it" },
  { "eval", veto_cmd_eval, "Evaluate a saved model on a split's gold labels" },
  { "simulate", veto_cmd_simulate, "Active learning with simulated annotators: learning curves" },
  { "drive", veto_cmd_drive, "Answer as the window does, with a simulated annotator (tests)" },
  { "campaign", veto_cmd_campaign, "Collection campaigns: create, show, close, simulate" },
  { "merge", veto_cmd_merge, "Merge the answers of projects annotated apart into one" },
  { "check", veto_cmd_check, "List everything wrong with a project file (--json for scripts)" },
  { "stats", veto_cmd_stats, "Annotators' noise, time and agreement (--json for scripts)" },
  { "serve", veto_cmd_serve, "Serve a campaign to many annotators' browsers (HTTP)" },
  { "invite", veto_cmd_invite, "Make (or --revoke) an annotator's token for 'veto serve'" },
  { "demo", veto_cmd_demo, "Build (once) and open the Fashion-MNIST demo project" },
};

static void
print_usage (FILE *out)
{
  fprintf (out, "Usage: veto COMMAND [OPTIONS…]\n"
                "       veto [PROJECT.veto…]   open the window (the welcome page, or projects)\n"
                "\nCommands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf (out, "\n'veto COMMAND --help' describes one command.\n"
                "Exit status: 0 done, 1 failed (an input is bad; the project is unchanged),\n"
                "2 usage, 3 the project cannot be used (missing, not a project, newer, busy,\n"
                "read-only, disk full).\n");
}

/* `veto PROJECT.veto` opens the window on it (which says so if it cannot); no command ends so. */
static gboolean
looks_like_project (const char *arg)
{
  return g_str_has_suffix (arg, ".veto");
}

int
main (int argc, char **argv)
{
  setlocale (LC_ALL, "");
  if (argc < 2)
    {
      if (veto_application_can_show ())
        return veto_application_run (NULL, NULL);
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
  if (looks_like_project (argv[1]))
    {
      if (!veto_application_can_show ())
        {
          fprintf (stderr, "veto: no display to open %s on ('veto info %s' describes it)\n",
                   argv[1], argv[1]);
          return VETO_EXIT_USAGE;
        }
      for (int i = 2; i < argc; i++)
        if (!looks_like_project (argv[i]))
          {
            fprintf (stderr, "veto: %s is not a project to open\n", argv[i]);
            return VETO_EXIT_USAGE;
          }
      return veto_application_run ((const char *const *) argv + 1, NULL);
    }
  fprintf (stderr, "veto: unknown command \"%s\"\n", argv[1]);
  print_usage (stderr);
  return VETO_EXIT_USAGE;
}
