/* veto-cli: what every subcommand shares: exit codes, error lines, terminal progress. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Exit codes of every subcommand (documented in the README and in `veto --help`). */
enum
{
  VETO_EXIT_OK = 0,
  VETO_EXIT_FAILED = 1,   /* an input file or the work itself failed; the project is unchanged */
  VETO_EXIT_USAGE = 2,    /* wrong arguments */
  VETO_EXIT_PROJECT = 3,  /* the project cannot be used: missing, not a project, newer, busy,
                             read-only or disk full */
};

/* Prints "veto: MESSAGE" on stderr and returns the exit code that fits the error. */
int veto_cli_fail (const GError *error);
int veto_cli_usage (GOptionContext *context, const char *problem);

/* Parses a subcommand's options; on failure prints why and returns FALSE with *out_status set. */
gboolean veto_cli_parse (GOptionContext *context, int *argc, char ***argv, int *out_status);

/* A progress line on stderr when it is a terminal, silent otherwise: a bar, done/total, the rate
 * per second and the time left (the elapsed time once done). */
typedef struct _VetoCliProgress VetoCliProgress;
VetoCliProgress *veto_cli_progress_new (const char *label);
void veto_cli_progress_update (gpointer progress, guint64 done, guint64 total);
/* The same, with the signature of feature extraction's progress callback. */
void veto_cli_progress_update_count (gpointer progress, guint done, guint total);
void veto_cli_progress_free (VetoCliProgress *progress);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoCliProgress, veto_cli_progress_free)

int veto_cmd_init (int argc, char **argv);
int veto_cmd_import (int argc, char **argv);
int veto_cmd_info (int argc, char **argv);
int veto_cmd_export (int argc, char **argv);
int veto_cmd_demo (int argc, char **argv);
int veto_cmd_train (int argc, char **argv);
int veto_cmd_eval (int argc, char **argv);
int veto_cmd_simulate (int argc, char **argv);
int veto_cmd_drive (int argc, char **argv);
int veto_cmd_campaign (int argc, char **argv);
int veto_cmd_merge (int argc, char **argv);
int veto_cmd_stats (int argc, char **argv);
int veto_cmd_serve (int argc, char **argv);
int veto_cmd_invite (int argc, char **argv);
int veto_cmd_check (int argc, char **argv);

G_END_DECLS
