/* veto-cmd-serve: `veto serve` (the lab server) and `veto invite` (its annotators' tokens). */
#include "veto-cli.h"

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "veto-server.h"
#include "veto-store.h"

static gboolean
quit_on_signal (gpointer data)
{
  g_main_loop_quit (data);
  return G_SOURCE_CONTINUE;
}

/* HOST:PORT, [IPv6]:PORT, or HOST alone (port 0: any free port). */
static gboolean
parse_listen (const char *text, char **out_host, guint *out_port)
{
  const char *colon;
  guint64 port = 0;

  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');

      if (close == NULL || (close[1] != '\0' && close[1] != ':'))
        return FALSE;
      *out_host = g_strndup (text + 1, close - text - 1);
      colon = close[1] == ':' ? close + 1 : NULL;
    }
  else
    {
      colon = strrchr (text, ':');
      *out_host = colon ? g_strndup (text, colon - text) : g_strdup (text);
    }
  if (colon && !g_ascii_string_to_unsigned (colon + 1, 10, 0, 65535, &port, NULL))
    return FALSE;
  *out_port = port;
  if (g_ascii_strcasecmp (*out_host, "localhost") == 0)
    {
      g_free (*out_host);
      *out_host = g_strdup ("127.0.0.1");
    }
  return (*out_host)[0] != '\0';
}

int
veto_cmd_serve (int argc, char **argv)
{
  g_autofree char *listen = NULL;
  g_autofree char *campaign = NULL;
  g_autofree char *host = NULL;
  g_autofree char *uri = NULL;
  int lease = 0, burst = 0, idle = 0;
  gboolean no_learner = FALSE;
  double rate = 0;
  GOptionEntry entries[] = {
    { "listen", 'l', 0, G_OPTION_ARG_STRING, &listen,
      "Address and port to listen on (default 127.0.0.1:8080; port 0: any free port)",
      "HOST:PORT" },
    { "campaign", 'c', 0, G_OPTION_ARG_STRING, &campaign,
      "The campaign to serve (default: the project's only open campaign)", "NAME" },
    { "lease", 0, 0, G_OPTION_ARG_INT, &lease,
      "Seconds a question stays reserved without a request from its holder (default 300)", "S" },
    { "rate", 0, 0, G_OPTION_ARG_DOUBLE, &rate,
      "Requests per second allowed to one token (default 50)", "R" },
    { "burst", 0, 0, G_OPTION_ARG_INT, &burst,
      "Requests one token may send at once before the rate applies (default 200)", "N" },
    { "idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle,
      "Seconds a connection may take to send its next request whole, idle or trickling "
      "(default 60)", "S" },
    { "no-learner", 0, 0, G_OPTION_ARG_NONE, &no_learner,
      "Hand items out in coverage order only, without retraining a model on the answers", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "PROJECT — serve a campaign to annotators' browsers");
  g_autoptr (VetoServer) server = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  VetoServerOptions options;
  guint port = 8080;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Each annotator opens http://HOST:PORT/#TOKEN with a token from 'veto invite'. The\n"
      "server is the project's only writer while it runs; SIGINT or SIGTERM stop it.\n"
      "Put it behind a TLS reverse proxy to serve beyond this machine (docs/server.md).\n"
      "Exit status: 0 stopped, 1 cannot listen or no campaign, 2 usage, 3 the project\n"
      "cannot be used.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return veto_cli_usage (context, "serve takes one PROJECT");
  if (!parse_listen (listen ? listen : "127.0.0.1:8080", &host, &port))
    return veto_cli_usage (context, "--listen takes HOST:PORT");
  if (lease < 0 || rate < 0 || burst < 0 || idle < 0)
    return veto_cli_usage (context,
                           "--lease, --rate, --burst and --idle-timeout take positive numbers");
  veto_server_options_init (&options);
  options.campaign = campaign;
  options.lease_seconds = lease;
  options.learn = !no_learner;
  options.idle_timeout = idle;
  if (rate > 0)
    options.rate = rate;
  if (burst > 0)
    options.burst = burst;
  server = veto_server_new (argv[1], &options, &error);
  if (server == NULL)
    return veto_cli_fail (error);
  loop = g_main_loop_new (NULL, FALSE);
  if (!veto_server_listen (server, host, port, &uri, &error))
    return veto_cli_fail (error);
  g_unix_signal_add (SIGINT, quit_on_signal, loop);
  g_unix_signal_add (SIGTERM, quit_on_signal, loop);
  printf ("Listening on %s\n", uri);
  fflush (stdout);
  g_main_loop_run (loop);
  g_clear_pointer (&server, veto_server_free);
  g_printerr ("veto: stopped; every acknowledged answer is saved\n");
  return VETO_EXIT_OK;
}

int
veto_cmd_invite (int argc, char **argv)
{
  gboolean admin = FALSE, revoke = FALSE;
  GOptionEntry entries[] = {
    { "admin", 'a', 0, G_OPTION_ARG_NONE, &admin,
      "The token may also read the campaign's progress and statistics", NULL },
    { "revoke", 'r', 0, G_OPTION_ARG_NONE, &revoke, "End every token of NAME instead", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "PROJECT NAME — a token for an annotator of 'veto serve'");
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *token = NULL;
  g_autofree char *hash = NULL;
  gint64 annotator;
  guint revoked = 0;
  int status;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (context,
      "Creates the annotator NAME (or reuses it) and prints a new token on one line; the\n"
      "project keeps only its SHA-256. Give the person http://HOST:PORT/#TOKEN.\n"
      "Exit status: 0 done, 2 usage, 3 the project cannot be used.");
  if (!veto_cli_parse (context, &argc, &argv, &status))
    return status;
  if (argc != 3)
    return veto_cli_usage (context, "invite takes PROJECT and NAME");
  if (argv[2][0] == '\0' || !g_utf8_validate (argv[2], -1, NULL) || strlen (argv[2]) > 200)
    return veto_cli_usage (context, "NAME must be 1 to 200 bytes of UTF-8");
  if (revoke && admin)
    return veto_cli_usage (context, "--revoke and --admin do not go together");
  /* Tokens only, also while the project is served (the server reads them at every request). */
  store = veto_store_open_tokens (argv[1], &error);
  if (store == NULL || !veto_store_begin (store, &error))
    return veto_cli_fail (error);
  if (!veto_store_ensure_annotator (store, argv[2], VETO_ANNOTATOR_HUMAN, &annotator, &error))
    goto fail;
  if (revoke)
    {
      if (!veto_store_revoke_tokens (store, annotator, &revoked, &error))
        goto fail;
    }
  else
    {
      veto_server_token_new (&token, &hash);
      if (!veto_store_add_token (store, annotator, hash, admin, &error))
        goto fail;
    }
  if (!veto_store_commit (store, &error))
    goto fail;
  if (revoke)
    printf ("revoked %u token%s of %s\n", revoked, revoked == 1 ? "" : "s", argv[2]);
  else
    printf ("%s\n", token);
  return VETO_EXIT_OK;

fail:
  veto_store_rollback (store);
  return veto_cli_fail (error);
}
