/* veto-refresh: a widget's refresh from the project, read in a thread, applied on the UI thread, throttled and coalesced. */
#include "veto-refresh.h"

struct _VetoRefresh
{
  GtkWidget *owner; /* not referenced: the owner holds the refresh */
  char *path;
  GParamSpec *refreshing_pspec;
  guint delay_ms;
  VetoRefreshCollect collect;
  VetoRefreshRead read;
  VetoRefreshApply apply;
  GDestroyNotify free_data;

  guint source;
  gboolean when_mapped;
  gboolean running;
  gboolean again;
  GCancellable *cancellable;
  VetoStore *reader; /* NULL while a reading has it */
};

/* What one reading carries to its thread and back. It may outlive the refresh: the task drops
 * its reference on the owner, whose finalize frees the refresh, before freeing it. */
typedef struct
{
  VetoRefresh *refresh; /* valid until the task's callback has run */
  VetoStore *reader;
  gpointer data;
  GDestroyNotify free_data;
} Reading;

static void
reading_free (Reading *reading)
{
  g_clear_pointer (&reading->reader, veto_store_close);
  reading->free_data (reading->data);
  g_free (reading);
}

VetoRefresh *
veto_refresh_new (GtkWidget *owner, const char *path, GParamSpec *refreshing, guint delay_ms,
                  VetoRefreshCollect collect, VetoRefreshRead read, VetoRefreshApply apply,
                  GDestroyNotify free_data)
{
  VetoRefresh *refresh = g_new0 (VetoRefresh, 1);

  g_return_val_if_fail (GTK_IS_WIDGET (owner) && path != NULL, NULL);

  refresh->owner = owner;
  refresh->path = g_strdup (path);
  refresh->refreshing_pspec = refreshing;
  refresh->delay_ms = delay_ms;
  refresh->collect = collect;
  refresh->read = read;
  refresh->apply = apply;
  refresh->free_data = free_data;
  refresh->cancellable = g_cancellable_new ();
  return refresh;
}

static void
set_running (VetoRefresh *refresh, gboolean running)
{
  refresh->running = running;
  gtk_accessible_update_state (GTK_ACCESSIBLE (refresh->owner), GTK_ACCESSIBLE_STATE_BUSY,
                               running, -1);
  g_object_notify_by_pspec (G_OBJECT (refresh->owner), refresh->refreshing_pspec);
}

/* Runs in a thread of the pool; touches nothing but the reading. */
static void
read_in_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Reading *reading = task_data;
  g_autoptr (GError) error = NULL;

  if (reading->reader == NULL)
    reading->reader = veto_store_open (reading->refresh->path, TRUE, &error);
  if (reading->reader != NULL)
    reading->refresh->read (reading->reader, reading->data);
  else
    g_warning ("%s: %s", G_OBJECT_TYPE_NAME (source), error->message);
  g_task_return_boolean (task, TRUE);
}

static void start (VetoRefresh *refresh);

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Reading *reading = g_task_get_task_data (G_TASK (result));
  VetoRefresh *refresh = reading->refresh;

  g_task_propagate_boolean (G_TASK (result), NULL);
  refresh->reader = g_steal_pointer (&reading->reader);
  if (g_cancellable_is_cancelled (refresh->cancellable))
    return; /* stopped: the owner is going away */
  refresh->apply (refresh->owner, reading->data);
  if (refresh->again)
    start (refresh);
  else
    set_running (refresh, FALSE);
}

static void
start (VetoRefresh *refresh)
{
  Reading *reading = g_new0 (Reading, 1);
  g_autoptr (GTask) task = g_task_new (refresh->owner, refresh->cancellable, on_read, NULL);

  refresh->again = FALSE;
  reading->refresh = refresh;
  reading->reader = g_steal_pointer (&refresh->reader);
  reading->data = refresh->collect (refresh->owner);
  reading->free_data = refresh->free_data;
  g_task_set_source_tag (task, start);
  g_task_set_task_data (task, reading, (GDestroyNotify) reading_free);
  g_task_run_in_thread (task, read_in_thread);
  if (!refresh->running)
    set_running (refresh, TRUE);
}

void
veto_refresh_now (VetoRefresh *refresh)
{
  g_clear_handle_id (&refresh->source, g_source_remove);
  refresh->when_mapped = FALSE;
  if (g_cancellable_is_cancelled (refresh->cancellable))
    return;
  if (refresh->running)
    refresh->again = TRUE;
  else
    start (refresh);
}

static void
on_delay (gpointer user_data)
{
  VetoRefresh *refresh = user_data;

  refresh->source = 0;
  if (gtk_widget_get_mapped (refresh->owner))
    veto_refresh_now (refresh);
  else
    refresh->when_mapped = TRUE;
}

void
veto_refresh_schedule (VetoRefresh *refresh)
{
  if (refresh->source == 0 && !g_cancellable_is_cancelled (refresh->cancellable))
    refresh->source = g_timeout_add_once (refresh->delay_ms, on_delay, refresh);
}

void
veto_refresh_when_mapped (VetoRefresh *refresh)
{
  refresh->when_mapped = TRUE;
}

void
veto_refresh_mapped (VetoRefresh *refresh)
{
  if (refresh->when_mapped)
    veto_refresh_now (refresh);
}

gboolean
veto_refresh_is_running (VetoRefresh *refresh)
{
  return refresh->running;
}

void
veto_refresh_stop (VetoRefresh *refresh)
{
  g_clear_handle_id (&refresh->source, g_source_remove);
  g_cancellable_cancel (refresh->cancellable);
}

void
veto_refresh_free (VetoRefresh *refresh)
{
  if (refresh == NULL)
    return;
  veto_refresh_stop (refresh);
  g_clear_pointer (&refresh->reader, veto_store_close);
  g_clear_object (&refresh->cancellable);
  g_free (refresh->path);
  g_free (refresh);
}
