/* veto-import-job: makes a new project from outside data (or the demo) in a worker thread. */
#include "veto-import-job.h"

#include <glib/gstdio.h>

#include "veto-demo.h"

struct _VetoImportJob
{
  GObject parent_instance;

  char *project;
  char *source;   /* NULL for the demo */
  char *labels;
  VetoImportFormat format;
  GMainContext *context; /* where "progress" is emitted */
  GCancellable *cancellable;
};

G_DEFINE_FINAL_TYPE (VetoImportJob, veto_import_job, G_TYPE_OBJECT)

enum
{
  PROGRESS,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct
{
  VetoImportJob *job;
  double fraction;
} Progress;

static gboolean
emit_progress (gpointer user_data)
{
  Progress *p = user_data;

  g_signal_emit (p->job, signals[PROGRESS], 0, p->fraction);
  return G_SOURCE_REMOVE;
}

static void
progress_free (gpointer user_data)
{
  Progress *p = user_data;

  g_object_unref (p->job);
  g_free (p);
}

/* Called on the worker thread (at most ten times a second, as the importers throttle it). */
static void
report_progress (gpointer user_data, guint64 done, guint64 total)
{
  VetoImportJob *self = user_data;
  Progress *p = g_new (Progress, 1);

  p->job = g_object_ref (self);
  p->fraction = total > 0 ? (double) MIN (done, total) / total : 0;
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT, emit_progress, p,
                              progress_free);
}

/* The project and the files SQLite keeps beside it. */
static void
remove_project (const char *path)
{
  const char *suffixes[] = { "", "-wal", "-shm", "-journal" };

  for (guint i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      g_autofree char *file = g_strconcat (path, suffixes[i], NULL);

      g_unlink (file);
    }
}

static gboolean
import_into_new (VetoImportJob *self, GError **error)
{
  g_autoptr (VetoStore) store = veto_store_create (self->project, error);
  VetoImportOptions options = {
    .format = self->format,
    .split = VETO_SPLIT_POOL,
    .labels_path = self->labels,
    .progress = report_progress,
    .progress_data = self,
    .cancellable = self->cancellable,
  };

  return store != NULL && veto_import (store, self->source, &options, NULL, error);
}

static void
run_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  VetoImportJob *self = source;
  GError *error = NULL;
  gboolean ok;

  if (self->source == NULL)
    {
      gboolean complete = FALSE;

      ok = g_file_test (self->project, G_FILE_TEST_EXISTS)
           && veto_demo_is_complete (self->project, &complete, NULL) && complete;
      if (!ok)
        ok = veto_demo_build (self->project, VETO_DEMO_DATA_DIR, report_progress, self,
                              self->cancellable, &error);
    }
  else
    {
      ok = import_into_new (self, &error);
      /* veto_store_create made the file; a failed import must not leave it behind. */
      if (!ok && !g_error_matches (error, VETO_STORE_ERROR, VETO_STORE_ERROR_EXISTS))
        remove_project (self->project);
    }
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

void
veto_import_job_run_async (VetoImportJob *self, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (VETO_IS_IMPORT_JOB (self));

  g_clear_pointer (&self->context, g_main_context_unref);
  self->context = g_main_context_ref_thread_default ();
  task = g_task_new (self, self->cancellable, callback, user_data);
  /* The import itself rolls back when cancelled; the task must wait for that. */
  g_task_set_return_on_cancel (task, FALSE);
  /* What the import did decides the result, even when a cancel came too late to stop it. */
  g_task_set_check_cancellable (task, FALSE);
  g_task_set_source_tag (task, veto_import_job_run_async);
  g_task_run_in_thread (task, run_thread);
}

gboolean
veto_import_job_run_finish (VetoImportJob *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

void
veto_import_job_cancel (VetoImportJob *self)
{
  g_return_if_fail (VETO_IS_IMPORT_JOB (self));

  g_cancellable_cancel (self->cancellable);
}

const char *
veto_import_job_get_project (VetoImportJob *self)
{
  g_return_val_if_fail (VETO_IS_IMPORT_JOB (self), NULL);

  return self->project;
}

VetoImportJob *
veto_import_job_new (const char *project, const char *source, VetoImportFormat format,
                     const char *labels)
{
  VetoImportJob *self;

  g_return_val_if_fail (project != NULL && source != NULL, NULL);

  self = g_object_new (VETO_TYPE_IMPORT_JOB, NULL);
  self->project = g_strdup (project);
  self->source = g_strdup (source);
  self->format = format;
  self->labels = g_strdup (labels);
  return self;
}

VetoImportJob *
veto_import_job_new_demo (const char *project)
{
  VetoImportJob *self;

  g_return_val_if_fail (project != NULL, NULL);

  self = g_object_new (VETO_TYPE_IMPORT_JOB, NULL);
  self->project = g_strdup (project);
  return self;
}

static void
veto_import_job_finalize (GObject *object)
{
  VetoImportJob *self = VETO_IMPORT_JOB (object);

  g_free (self->project);
  g_free (self->source);
  g_free (self->labels);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (veto_import_job_parent_class)->finalize (object);
}

static void
veto_import_job_class_init (VetoImportJobClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = veto_import_job_finalize;

  signals[PROGRESS] =
    g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                  G_TYPE_NONE, 1, G_TYPE_DOUBLE);
}

static void
veto_import_job_init (VetoImportJob *self)
{
  self->cancellable = g_cancellable_new ();
}
