/* fuzz-web: libFuzzer target for the lab server's request handlers (method, path, token, body). */
#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "veto-server.h"
#include "veto-store.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/*
 * An input is "METHOD PATH\nWHO\nBODY": WHO picks the Authorization header (0 none, 1 an
 * annotator's token, 2 an admin's, 3 a revoked one, anything else is sent as it is). "{Q}" in
 * PATH or BODY becomes the annotator's current question id, so that inputs reach answers, skips,
 * flags and images. Every response must have a status the API documents, a JSON body unless it
 * is 204 or a file, and 401 whenever the token is not a live one.
 */

static char *work_dir;
static VetoServer *server;
static char *tokens[4];

static void
remove_work_dir (void)
{
  g_autoptr (GDir) dir = NULL;
  const char *name;

  g_clear_pointer (&server, veto_server_free);
  dir = g_dir_open (work_dir, 0, NULL);
  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *path = g_build_filename (work_dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (work_dir);
}

static G_GNUC_NORETURN void
die (const char *what, const GError *error)
{
  fprintf (stderr, "fuzz-web: %s: %s\n", what, error ? error->message : "");
  abort ();
}

static void
make_project (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = veto_store_create (path, &error);
  VetoCampaignSpec spec = { .name = "fuzz", .protocol = VETO_KIND_COMPLEMENTARY,
                            .per_item = 1000, .n_candidates = 4, .split = VETO_SPLIT_POOL };
  gint64 id, import_id;
  guint8 pixels[16];

  if (store == NULL || !veto_store_begin (store, &error))
    die ("creating the project", error);
  for (guint c = 0; c < 6; c++)
    {
      g_autofree char *name = g_strdup_printf ("class %u", c);

      if (!veto_store_ensure_class (store, name, &id, NULL, &error))
        die ("adding a class", error);
    }
  if (!veto_store_add_import (store, "fuzz", "idx", VETO_SPLIT_POOL, &import_id, &error))
    die ("adding an import", error);
  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *sha = g_strdup_printf ("%064x", i);
      VetoItemRecord item = { .pixels = pixels, .sha256 = sha, .width = 4, .height = 4,
                              .channels = 1, .split = VETO_SPLIT_POOL, .import_id = import_id,
                              .import_index = i };

      memset (pixels, 30 * i, sizeof pixels);
      if (!veto_store_add_item (store, &item, NULL, &error))
        die ("adding an item", error);
    }
  for (guint t = 1; t < G_N_ELEMENTS (tokens); t++)
    {
      g_autofree char *hash = NULL;
      g_autofree char *name = g_strdup_printf ("person %u", t);

      veto_server_token_new (&tokens[t], &hash);
      if (!veto_store_ensure_annotator (store, name, VETO_ANNOTATOR_HUMAN, &id, &error)
          || !veto_store_add_token (store, id, hash, t == 2, &error))
        die ("adding a token", error);
      if (t == 3 && !veto_store_revoke_tokens (store, id, NULL, &error))
        die ("revoking a token", error);
    }
  if (!veto_store_commit (store, &error) || !veto_store_campaign_create (store, &spec, &id, &error))
    die ("creating the campaign", error);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  const char *base = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : g_get_tmp_dir ();
  g_autofree char *pattern = g_build_filename (base, "veto-fuzz-web-XXXXXX", NULL);
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;
  VetoServerOptions options;

  work_dir = g_mkdtemp (g_strdup (pattern));
  if (work_dir == NULL)
    die ("making a folder", NULL);
  atexit (remove_work_dir);
  path = g_build_filename (work_dir, "web.veto", NULL);
  make_project (path);
  veto_server_options_init (&options);
  options.rate = 1e9;
  options.burst = 1000000;
  /* The request handlers, not the learner: no training thread beside the fuzzer. */
  options.learn = FALSE;
  server = veto_server_new (path, &options, &error);
  if (server == NULL)
    die ("starting the server", error);
  return 0;
}

static gboolean
allowed_status (guint status)
{
  static const guint statuses[] = { 200, 204, 400, 401, 403, 404, 405, 409, 413, 422, 429 };

  for (guint i = 0; i < G_N_ELEMENTS (statuses); i++)
    if (status == statuses[i])
      return TRUE;
  return FALSE;
}

static char *
current_question (void)
{
  g_autoptr (GBytes) body = NULL;
  g_autofree char *auth = g_strconcat ("Bearer ", tokens[1], NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize n;
  const char *text;

  if (veto_server_handle (server, "GET", "/api/question", auth, NULL, 0, &body) != 200)
    return g_strdup ("0");
  text = g_bytes_get_data (body, &n);
  if (!json_parser_load_from_data (parser, text, n, NULL))
    abort ();
  return g_strdup_printf ("%" G_GINT64_FORMAT, json_object_get_int_member (
      json_node_get_object (json_parser_get_root (parser)), "id"));
}

static char *
replace_question (const char *text, gsize length, const char *question, gsize *out_length)
{
  g_autofree char *copy = g_strndup (text, length);
  g_auto (GStrv) parts = NULL;
  char *joined;

  if (memchr (text, '\0', length) || strstr (copy, "{Q}") == NULL)
    {
      char *same = g_malloc (length + 1);

      memcpy (same, text, length);
      same[length] = '\0';
      *out_length = length;
      return same;
    }
  parts = g_strsplit (copy, "{Q}", -1);
  joined = g_strjoinv (question, parts);
  *out_length = strlen (joined);
  return joined;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *text = (const char *) data;
  const char *end = text + size;
  const char *line1 = memchr (text, '\n', size);
  const char *line2 = line1 ? memchr (line1 + 1, '\n', end - line1 - 1) : NULL;
  g_autofree char *request = NULL;
  g_autofree char *who = NULL;
  g_autofree char *auth = NULL;
  g_autofree char *question = NULL;
  g_autofree char *body = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GBytes) response = NULL;
  char *space;
  gsize body_length, path_length;
  guint status;

  if (line1 == NULL || line2 == NULL)
    return 0;
  request = g_strndup (text, line1 - text);
  who = g_strndup (line1 + 1, line2 - line1 - 1);
  space = strchr (request, ' ');
  if (space == NULL || strlen (request) != (gsize) (line1 - text))
    return 0;
  *space = '\0';
  question = current_question ();
  path = replace_question (space + 1, strlen (space + 1), question, &path_length);
  body = replace_question (line2 + 1, end - line2 - 1, question, &body_length);
  if (g_str_equal (who, "0"))
    auth = NULL;
  else if (g_str_equal (who, "1") || g_str_equal (who, "2") || g_str_equal (who, "3"))
    auth = g_strconcat ("Bearer ", tokens[who[0] - '0'], NULL);
  else
    auth = g_strdup (who);
  status = veto_server_handle (server, request, path, auth, body, body_length, &response);
  if (!allowed_status (status))
    {
      fprintf (stderr, "fuzz-web: status %u for %s %s\n", status, request, path);
      abort ();
    }
  if (g_str_has_prefix (path, "/api/") && (auth == NULL || g_str_equal (who, "3"))
      && status != 401 && status != 413)
    {
      fprintf (stderr, "fuzz-web: no live token, yet status %u\n", status);
      abort ();
    }
  if (status != 204 && status != 200)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      gsize n;
      const char *reply = g_bytes_get_data (response, &n);

      if (!json_parser_load_from_data (parser, reply, n, NULL))
        {
          fprintf (stderr, "fuzz-web: a refusal that is not JSON\n");
          abort ();
        }
    }
  return 0;
}
