/* veto-cmd-demo: builds (once) the Fashion-MNIST demo project from Debian's dataset package. */
#include "veto-cli.h"

#include "veto-application.h"
#include "veto-demo.h"

/* The demo project at PATH, made if it is missing or incomplete. */
static gboolean
ensure_demo (const char *path, const char *data_dir, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_EXISTS))
    {
      gboolean complete;

      if (!veto_demo_is_complete (path, &complete, error))
        return FALSE;
      if (complete)
        return TRUE;
      g_printerr ("veto: %s is not the complete demo; making it again\n", path);
    }
  g_print ("Building the Fashion-MNIST demo project at %s\n", path);
  {
    g_autoptr (VetoCliProgress) progress = veto_cli_progress_new ("Importing Fashion-MNIST");

    return veto_demo_build (path, data_dir, veto_cli_progress_update, progress, NULL, error);
  }
}

/* Without a display: what the project holds, then a simulated annotator with the habits of
 * CLImage's human annotators answering complementary questions, with simulate's defaults (the
 * default strategy against random, informative candidates, as the window asks them), on a
 * scratch copy, with its learning curve written beside the project. */
static int
run_headless (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *out = g_build_filename (dir, "demo-run", NULL);
  char *info_argv[] = { (char *) "info", (char *) path, NULL };
  char *simulate_argv[] = {
    (char *) "simulate", (char *) path, (char *) "--scratch", (char *) "--quiet",
    (char *) "--mode", (char *) "complementary", (char *) "--annotator", (char *) "human",
    (char *) "--budget", (char *) "1000", (char *) "--batch", (char *) "100",
    (char *) "--init", (char *) "100", (char *) "--seeds", (char *) "3",
    (char *) "--out", out, NULL,
  };
  int status = veto_cmd_info (2, info_argv);

  if (status != VETO_EXIT_OK)
    return status;
  g_print ("\nNo display: a simulated annotator with the habits of CLImage's human annotators "
           "answers 1,000 complementary questions (\"which of these 4 classes is this image "
           "NOT?\", the 4 that tell most about its class under the model, as in the window) "
           "about items chosen by margin (the default strategy) and at random, three times "
           "(seeds 1-3: one run moves by ±0.1); from 200 answers the annotator's model is "
           "learned by EM, and 5%% are gold anchors, to which it is fitted once there are 10 "
           "per class. At this budget the "
           "model is still poor and random items do as well as margin's or better; margin pulls "
           "ahead with more answers (README: Measured figures)...\n");
  status = veto_cmd_simulate (G_N_ELEMENTS (simulate_argv) - 1, simulate_argv);
  if (status == VETO_EXIT_OK)
    g_print ("Learning curve: %s/curve.png (data in curve.csv and summary.json)\n", out);
  return status;
}

int
veto_cmd_demo (int argc, char **argv)
{
  g_autofree char *path = NULL;
  g_autofree char *data_dir = NULL;
  GOptionEntry entries[] = {
    { "project", 'p', 0, G_OPTION_ARG_FILENAME, &path,
      "Where the demo project lives (default: ~/.local/share/veto/fashion-mnist-demo.veto)",
      "PATH" },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Fashion-MNIST IDX files (default: " VETO_DEMO_DATA_DIR ")", "DIR" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "— build (once) and open the Fashion-MNIST demo project");
  g_autoptr (GError) error = NULL;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Needs Debian's dataset-fashion-mnist package: 60,000 pool items and 10,000 test items,\n"
      "their gold labels kept for evaluation only. With a display, the window opens on it\n"
      "(complementary questions); without one, it prints what the project holds and runs a\n"
      "short simulated annotation session, writing its learning curve to DIR/demo-run/.\n"
      "Exit status: 0 done, 1 the data cannot be read, 2 usage, 3 the project cannot be made.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return veto_cli_usage (context, "demo takes no arguments");
  if (path == NULL)
    path = veto_demo_default_path ();
  if (data_dir == NULL)
    data_dir = g_strdup (VETO_DEMO_DATA_DIR);
  if (!ensure_demo (path, data_dir, &error))
    return veto_cli_fail (error);
  if (veto_application_can_show ())
    {
      const char *projects[] = { path, NULL };

      return veto_application_run (projects, "complementary");
    }
  return run_headless (path);
}
