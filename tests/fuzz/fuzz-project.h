/* fuzz-project: what the fuzz targets share: a work folder, a template project, and the import
 * invariants every importer input is checked against. */
#pragma once

#include <glib.h>

#include "test-util.h"
#include "veto-import.h"

/* Makes the work folder (in /dev/shm when it can) and a 10-class template project, opens a copy,
 * and removes it all at exit. */
void fuzz_project_init (const char *target);
/* A path inside the work folder (owned by the caller). */
char *fuzz_project_path (const char *name);
G_GNUC_NORETURN void fuzz_project_die (const char *what, const char *detail);
void fuzz_project_write (const char *path, const void *data, gsize size);
/* Every input starts from the template project (reset only after an import that succeeded). */
void fuzz_project_reset_if_dirty (void);
/* Imports source and aborts when an invariant breaks: a failure sets an error and leaves the
 * project as it was and usable; a success sets none and adds exactly result.added items (into
 * options->split when check_split). Returns whether the import succeeded. */
gboolean fuzz_project_check_import (const char *source, const VetoImportOptions *options,
                                    gboolean check_split);
