/* veto-import-job: makes a new project from outside data (or the demo) in a worker thread. */
#pragma once

#include <gio/gio.h>

#include "veto-import.h"

G_BEGIN_DECLS

#define VETO_TYPE_IMPORT_JOB (veto_import_job_get_type ())
G_DECLARE_FINAL_TYPE (VetoImportJob, veto_import_job, VETO, IMPORT_JOB, GObject)

/* A new project at PROJECT holding SOURCE (labels: an IDX labels file, or NULL). */
VetoImportJob *veto_import_job_new (const char *project, const char *source,
                                    VetoImportFormat format, const char *labels);
/* The Fashion-MNIST demo project at PROJECT, built unless a complete one is there. */
VetoImportJob *veto_import_job_new_demo (const char *project);

const char *veto_import_job_get_project (VetoImportJob *self);

/* Runs the job in a thread; "progress" (double fraction, 0 to 1) is emitted on the calling
 * thread's main context while it runs. On failure nothing is left at PROJECT. */
void veto_import_job_run_async (VetoImportJob *self, GAsyncReadyCallback callback,
                                gpointer user_data);
gboolean veto_import_job_run_finish (VetoImportJob *self, GAsyncResult *result, GError **error);
/* Stops a running job: it finishes with G_IO_ERROR_CANCELLED, leaving nothing at PROJECT (an
 * import is one transaction, rolled back). */
void veto_import_job_cancel (VetoImportJob *self);

G_END_DECLS
