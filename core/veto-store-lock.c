/* veto-store-lock: who may write a project: flock on its file, shared by writers, exclusive for a server. */
#include "veto-store.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/*
 * flock locks belong to an open file description, so two descriptors of one file in the same
 * process would conflict like two processes. Every claim on a file in this process therefore
 * shares one descriptor (and its one lock): the strongest kind claimed decides which lock it
 * holds. The descriptor stays open while any store of the file is open in the process, readers
 * included: closing any descriptor of a file drops every POSIX lock the process holds on it,
 * and SQLite's connections hold theirs on the project file for as long as they are open.
 * The kernel releases a flock when its last descriptor closes, a killed process's too: a stale
 * lock never blocks.
 */

typedef struct
{
  char *key;       /* "dev:inode" */
  dev_t dev;
  ino_t ino;
  int fd;          /* -1 until a writer or a server claims the file */
  int held;        /* LOCK_SH, LOCK_EX, or 0 */
  guint claims[3]; /* by VetoStoreClaimKind */
} LockedFile;

struct _VetoStoreClaim
{
  LockedFile *file;
  VetoStoreClaimKind kind;
};

static GMutex files_lock;
static GHashTable *files; /* "dev:inode" → LockedFile */

static guint
file_users (const LockedFile *file)
{
  return file->claims[0] + file->claims[1] + file->claims[2];
}

/* The lock the claims of this process call for. */
static int
wanted_lock (const LockedFile *file)
{
  if (file->claims[VETO_STORE_CLAIM_SERVE] > 0)
    return LOCK_EX;
  if (file->claims[VETO_STORE_CLAIM_WRITE] > 0)
    return LOCK_SH;
  return 0;
}

/* The other processes that hold a flock on the file (from /proc/locks): "N" or "N, M"; NULL
 * when none can be named. */
static char *
other_holders (const LockedFile *file)
{
  g_autofree char *text = NULL;
  g_autofree char *device = g_strdup_printf ("%02x:%02x:%ju", major (file->dev),
                                             minor (file->dev), (uintmax_t) file->ino);
  g_autoptr (GString) pids = g_string_new (NULL);
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/locks", &text, NULL, NULL))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      g_auto (GStrv) f = g_strsplit_set (lines[i], " ", -1);
      const char *w[8];
      guint nw = 0;

      for (guint j = 0; f[j] && nw < G_N_ELEMENTS (w); j++)
        if (f[j][0] != '\0')
          w[nw++] = f[j];
      /* "1: FLOCK  ADVISORY  WRITE 1234 08:02:5678 0 EOF"; blocked waiters have "->" second. */
      if (nw < 6 || strcmp (w[1], "FLOCK") != 0 || strcmp (w[5], device) != 0)
        continue;
      if (g_ascii_strtoll (w[4], NULL, 10) == getpid () || strcmp (w[4], "-1") == 0)
        continue;
      g_string_append_printf (pids, "%s%s", pids->len ? ", " : "", w[4]);
    }
  return pids->len ? g_strdup (pids->str) : NULL;
}

static void
set_busy (GError **error, const char *path, const LockedFile *file, VetoStoreClaimKind kind,
          gboolean by_server)
{
  g_autofree char *display = g_filename_display_name (path);
  g_autofree char *pids = other_holders (file);
  g_autofree char *who = pids ? g_strdup_printf (" (process %s)", pids) : g_strdup ("");

  if (kind != VETO_STORE_CLAIM_SERVE)
    g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_BUSY,
                 "%s: in use: veto serve%s is serving this project and is its only writer while "
                 "it runs; stop it (Ctrl+C where it runs, or kill -TERM %s) to change the project "
                 "here. Read-only commands (info, stats, export, check, eval) work meanwhile",
                 display, who, pids ? pids : "with its process id");
  else if (by_server)
    g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_BUSY,
                 "%s: in use: another veto serve%s is serving this project", display, who);
  else
    g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_BUSY,
                 "%s: in use: another Veto process%s has it open for writing (the window, or "
                 "a command such as drive or import); close that, then serve the project",
                 display, who);
}

/* The file could not be opened or looked at: FALSE, with error naming it. */
static gboolean
set_file_error (GError **error, const char *path, int saved_errno)
{
  g_autofree char *display = g_filename_display_name (path);

  g_set_error (error, VETO_STORE_ERROR,
               saved_errno == ENOENT ? VETO_STORE_ERROR_NOT_FOUND : VETO_STORE_ERROR_FAILED,
               "%s: %s", display, g_strerror (saved_errno));
  return FALSE;
}

/* Takes the lock the claims call for, or fails without changing what is held. */
static gboolean
update_lock (const char *path, LockedFile *file, VetoStoreClaimKind kind, GError **error)
{
  int want = wanted_lock (file);

  if (want == file->held)
    return TRUE;
  if (file->fd < 0)
    {
      file->fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
      if (file->fd < 0)
        return set_file_error (error, path, errno);
    }
  if (want == 0)
    {
      flock (file->fd, LOCK_UN);
      file->held = 0;
      return TRUE;
    }
  if (flock (file->fd, want | LOCK_NB) == 0)
    {
      file->held = want;
      return TRUE;
    }
  /* Linux converts a lock by dropping it first: a failed conversion leaves none. A shared lock
   * taken now tells who is in the way: other writers (it is granted) or a server (refused). */
  {
    gboolean shared_ok = flock (file->fd, LOCK_SH | LOCK_NB) == 0;

    file->held = shared_ok ? LOCK_SH : 0;
    if (shared_ok && want == LOCK_SH)
      return TRUE; /* the server stopped in between */
    if (shared_ok && file->claims[VETO_STORE_CLAIM_WRITE] == 0)
      {
        flock (file->fd, LOCK_UN);
        file->held = 0;
      }
    set_busy (error, path, file, kind, !shared_ok);
  }
  return FALSE;
}

static void
forget_file (LockedFile *file)
{
  if (file->fd >= 0)
    close (file->fd);
  g_hash_table_remove (files, file->key);
}

static void
locked_file_free (LockedFile *file)
{
  g_free (file->key);
  g_free (file);
}

VetoStoreClaim *
veto_store_claim (const char *path, VetoStoreClaimKind kind, GError **error)
{
  g_autofree char *key = NULL;
  VetoStoreClaim *claim;
  LockedFile *file;
  struct stat st;

  g_return_val_if_fail (kind <= VETO_STORE_CLAIM_SERVE, NULL);
  if (stat (path, &st) != 0)
    {
      set_file_error (error, path, errno);
      return NULL;
    }
  key = g_strdup_printf ("%ju:%ju", (uintmax_t) st.st_dev, (uintmax_t) st.st_ino);
  g_mutex_lock (&files_lock);
  if (files == NULL)
    files = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                   (GDestroyNotify) locked_file_free);
  file = g_hash_table_lookup (files, key);
  if (file == NULL)
    {
      file = g_new0 (LockedFile, 1);
      file->key = g_steal_pointer (&key);
      file->dev = st.st_dev;
      file->ino = st.st_ino;
      file->fd = -1;
      g_hash_table_insert (files, file->key, file);
    }
  file->claims[kind]++;
  if (!update_lock (path, file, kind, error))
    {
      file->claims[kind]--;
      if (file_users (file) == 0)
        forget_file (file);
      g_mutex_unlock (&files_lock);
      return NULL;
    }
  g_mutex_unlock (&files_lock);
  claim = g_new (VetoStoreClaim, 1);
  claim->file = file;
  claim->kind = kind;
  return claim;
}

void
veto_store_claim_release (VetoStoreClaim *claim)
{
  LockedFile *file;

  if (claim == NULL)
    return;
  file = claim->file;
  g_mutex_lock (&files_lock);
  file->claims[claim->kind]--;
  if (file_users (file) == 0)
    forget_file (file);
  else if (wanted_lock (file) != file->held && file->fd >= 0)
    {
      /* A server's writers outlive it only while it shuts down: a shared lock is enough then,
       * and failing to take it back (another server was quicker) leaves them unlocked. */
      int want = wanted_lock (file);

      if (want == 0 || flock (file->fd, want | LOCK_NB) != 0)
        {
          flock (file->fd, LOCK_UN);
          want = 0;
        }
      file->held = want;
    }
  g_mutex_unlock (&files_lock);
  g_free (claim);
}
