/* Tests of who may write a project: writers share it, a server holds it alone, across processes. */
#include <errno.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "veto-engine.h"
#include "test-util.h"

typedef struct
{
  char *dir;
  char *path;
} Fixture;

/* A project of 20 items and 3 classes. */
static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = NULL;
  gint64 classes[3], import_id, id;

  f->dir = g_dir_make_tmp ("veto-writers-XXXXXX", NULL);
  f->path = g_build_filename (f->dir, "p.veto", NULL);
  store = veto_store_create (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (veto_store_begin (store, &error));
  for (guint c = 0; c < 3; c++)
    {
      g_autofree char *name = g_strdup_printf ("class-%u", c);

      g_assert_true (veto_store_ensure_class (store, name, &classes[c], NULL, &error));
    }
  g_assert_true (veto_store_add_import (store, "generated", "idx", VETO_SPLIT_POOL, &import_id,
                                        &error));
  for (guint i = 0; i < 20; i++)
    {
      guint8 pixels[16];
      g_autofree char *sha = NULL;
      VetoItemRecord record = {
        .pixels = pixels, .width = 4, .height = 4, .channels = 1, .split = VETO_SPLIT_POOL,
        .gold_class = classes[i % 3], .import_id = import_id, .import_index = i,
      };

      for (guint p = 0; p < 16; p++)
        pixels[p] = (guint8) (i * 16 + p);
      sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, pixels, sizeof pixels);
      record.sha256 = sha;
      g_assert_true (veto_store_add_item (store, &record, &id, &error));
    }
  g_assert_true (veto_store_commit (store, &error));
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
  veto_test_remove_tree (f->dir);
  g_free (f->path);
  g_free (f->dir);
}

/* Another process that claims the project (kind) and holds it until told to go, or is killed.
 * Forked without exec, it would share this process's descriptor of the project (and so its
 * lock) if this process had one: start it while this process has no store of the file open. */
typedef struct
{
  pid_t pid;
  int go;   /* write a byte: the child releases its claim and exits 0 */
} Holder;

static Holder
holder_start (Fixture *f, VetoStoreClaimKind kind)
{
  int ready[2], go[2];
  Holder h;
  char c;

  g_assert_cmpint (pipe (ready), ==, 0);
  g_assert_cmpint (pipe (go), ==, 0);
  h.pid = fork ();
  g_assert_cmpint (h.pid, >=, 0);
  if (h.pid == 0)
    {
      VetoStoreClaim *claim;

      /* EOF on go once the test ends, however it ends. */
      close (go[1]);
      close (ready[0]);
      claim = veto_store_claim (f->path, kind, NULL);
      c = claim ? 'y' : 'n';
      if (write (ready[1], &c, 1) != 1 || read (go[0], &c, 1) < 0)
        _exit (2);
      veto_store_claim_release (claim);
      _exit (0);
    }
  close (ready[1]);
  close (go[0]);
  g_assert_cmpint (read (ready[0], &c, 1), ==, 1);
  g_assert_cmpint (c, ==, 'y');
  close (ready[0]);
  h.go = go[1];
  return h;
}

static void
holder_stop (Holder *h, gboolean kill_it)
{
  int status = 0;
  char c = 'g';

  if (kill_it)
    kill (h->pid, SIGKILL);
  else
    g_assert_cmpint (write (h->go, &c, 1), ==, 1);
  g_assert_cmpint (waitpid (h->pid, &status, 0), ==, h->pid);
  if (kill_it)
    g_assert_true (WIFSIGNALED (status));
  else
    g_assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
  close (h->go);
}

/* The project file and its WAL, byte for byte. */
static GBytes *
snapshot (Fixture *f)
{
  g_autoptr (GByteArray) all = g_byte_array_new ();
  const char *suffixes[] = { "", "-wal" };

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *path = g_strconcat (f->path, suffixes[i], NULL);
      g_autofree char *bytes = NULL;
      gsize n = 0;

      if (g_file_get_contents (path, &bytes, &n, NULL))
        g_byte_array_append (all, (const guint8 *) bytes, n);
      g_byte_array_append (all, (const guint8 *) "|", 1);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&all));
}

static VetoEngine *
open_engine (Fixture *f, GError **error)
{
  VetoEngineOptions options;

  veto_engine_options_init (&options);
  options.kind = VETO_KIND_ORDINARY;
  options.annotator = "tester";
  return veto_engine_new (f->path, &options, error);
}

static void
assert_served_refusal (const GError *error)
{
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, "p.veto: in use: veto serve"));
  g_assert_nonnull (strstr (error->message, "is serving this project"));
  g_assert_nonnull (strstr (error->message, "kill -TERM"));
}

/* While another process serves the project, every writer is refused at once and nothing is
 * written; readers are not; a token writer is (for annotators and tokens only). */
static void
test_refused_while_served (Fixture *f, gconstpointer data)
{
  g_autoptr (GBytes) before = NULL;
  g_autoptr (GBytes) after = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoEngine) engine = NULL;
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (VetoStore) reader = NULL;
  g_autoptr (VetoStore) tokens = NULL;
  Holder server = holder_start (f, VETO_STORE_CLAIM_SERVE);
  gint64 started = g_get_monotonic_time (), annotator = 0;
  g_autofree char *message = NULL;

  before = snapshot (f);
  /* The window's path: the engine's own writing store. */
  engine = open_engine (f, &error);
  g_assert_null (engine);
  assert_served_refusal (error);
  message = g_strdup (error->message);
  g_clear_error (&error);
  store = veto_store_open (f->path, FALSE, &error);
  g_assert_null (store);
  assert_served_refusal (error);
  g_clear_error (&error);
  /* At once: no waiting on a busy timeout. */
  g_assert_cmpint (g_get_monotonic_time () - started, <, G_USEC_PER_SEC);
  /* The holder's process id is named. */
  {
    g_autofree char *pid = g_strdup_printf ("process %d", (int) server.pid);

    g_assert_nonnull (strstr (message, pid));
  }
  reader = veto_store_open (f->path, TRUE, &error);
  g_assert_no_error (error);
  g_clear_pointer (&reader, veto_store_close);
  after = snapshot (f);
  g_assert_true (g_bytes_equal (before, after));

  /* veto invite's exemption: annotators and tokens, nothing else. */
  tokens = veto_store_open_tokens (f->path, &error);
  g_assert_no_error (error);
  g_assert_true (veto_store_begin (tokens, &error));
  g_assert_true (veto_store_ensure_annotator (tokens, "alice", VETO_ANNOTATOR_HUMAN, &annotator,
                                              &error));
  g_assert_true (veto_store_add_token (tokens, annotator, "00ff", FALSE, &error));
  g_assert_true (veto_store_commit (tokens, &error));
  {
    gint64 class_id = 0;

    g_assert_true (veto_store_begin (tokens, &error));
    g_assert_false (veto_store_ensure_class (tokens, "class-new", &class_id, NULL, &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
    veto_store_rollback (tokens);
  }
  g_clear_pointer (&tokens, veto_store_close);

  /* Once the server is gone, writers are welcome again. */
  holder_stop (&server, FALSE);
  engine = open_engine (f, &error);
  g_assert_no_error (error);
  g_assert_nonnull (engine);
  veto_engine_shutdown (engine);
  g_clear_object (&engine);
  reader = veto_store_open (f->path, TRUE, &error);
  {
    gint64 found = 0;
    g_autofree char *name = NULL;
    gboolean admin = TRUE;
    g_autoptr (GPtrArray) classes = veto_store_list_classes (reader, &error);

    g_assert_true (veto_store_find_token (reader, "00ff", &found, &name, &admin, &error));
    g_assert_cmpint (found, ==, annotator);
    g_assert_cmpstr (name, ==, "alice");
    g_assert_cmpuint (classes->len, ==, 3);
  }
}

/* A server that was killed leaves no lock behind: the kernel drops it with the process. */
static void
test_killed_server_leaves_no_lock (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = NULL;
  Holder server = holder_start (f, VETO_STORE_CLAIM_SERVE);

  holder_stop (&server, TRUE);
  store = veto_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store);
}

/* A server is refused while another process writes, and writers share the project. */
static void
test_serve_refused_while_written (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStore) store = NULL;
  g_autoptr (VetoStoreClaim) claim = NULL;
  Holder writer = holder_start (f, VETO_STORE_CLAIM_WRITE);
  Holder second;

  claim = veto_store_claim (f->path, VETO_STORE_CLAIM_SERVE, &error);
  g_assert_null (claim);
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, "p.veto: in use: another Veto process"));
  g_assert_nonnull (strstr (error->message, "has it open for writing"));
  g_clear_error (&error);
  /* Two writers at once (SQLite orders their transactions). */
  store = veto_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  g_clear_pointer (&store, veto_store_close);
  holder_stop (&writer, FALSE);

  /* A second server is named as such. */
  second = holder_start (f, VETO_STORE_CLAIM_SERVE);
  claim = veto_store_claim (f->path, VETO_STORE_CLAIM_SERVE, &error);
  g_assert_null (claim);
  g_assert_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_BUSY);
  g_assert_nonnull (strstr (error->message, "another veto serve"));
  g_clear_error (&error);
  holder_stop (&second, FALSE);
}

/* Whether another process (util-linux's flock, forked and run by GLib: this process has threads
 * now) gets a shared or an exclusive lock on the project at once. */
static gboolean
other_process_locks (Fixture *f, gboolean exclusive)
{
  g_autoptr (GError) error = NULL;
  const char *argv[] = { "flock", "-n", exclusive ? "-x" : "-s", f->path, "true", NULL };
  int status = -1;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
                               NULL, &status, &error));
  g_assert_no_error (error);
  return g_spawn_check_wait_status (status, NULL);
}

/* The server's own stores share its claim: it does not lock itself out; a failed claim leaves
 * this process's writers their shared lock. */
static void
test_server_process (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoStoreClaim) claim = NULL;
  g_autoptr (VetoEngine) engine = NULL;
  g_autoptr (VetoStore) store = NULL;
  Holder other;

  claim = veto_store_claim (f->path, VETO_STORE_CLAIM_SERVE, &error);
  g_assert_no_error (error);
  engine = open_engine (f, &error);
  g_assert_no_error (error);
  g_assert_nonnull (engine);
  /* Another process still cannot write. */
  g_assert_false (other_process_locks (f, FALSE));
  veto_engine_shutdown (engine);
  g_clear_object (&engine);
  g_clear_pointer (&claim, veto_store_claim_release);

  /* Another process writes, this one too; the claim to serve is refused and the writer here
   * keeps its shared lock: a server elsewhere is then refused as well. */
  other = holder_start (f, VETO_STORE_CLAIM_WRITE);
  store = veto_store_open (f->path, FALSE, &error);
  g_assert_no_error (error);
  claim = veto_store_claim (f->path, VETO_STORE_CLAIM_SERVE, &error);
  g_assert_null (claim);
  g_clear_error (&error);
  holder_stop (&other, FALSE);
  g_assert_false (other_process_locks (f, TRUE));
  g_assert_true (other_process_locks (f, FALSE));
  g_clear_pointer (&store, veto_store_close);
  g_assert_true (other_process_locks (f, TRUE));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/writers/refused-while-served", Fixture, NULL, fixture_set_up,
              test_refused_while_served, fixture_tear_down);
  g_test_add ("/writers/killed-server-leaves-no-lock", Fixture, NULL, fixture_set_up,
              test_killed_server_leaves_no_lock, fixture_tear_down);
  g_test_add ("/writers/serve-refused-while-written", Fixture, NULL, fixture_set_up,
              test_serve_refused_while_written, fixture_tear_down);
  g_test_add ("/writers/server-process", Fixture, NULL, fixture_set_up, test_server_process,
              fixture_tear_down);
  return g_test_run ();
}
