/* veto-import: reads outside datasets (IDX, CIFAR binary, ImageFolder, CSV manifest) into a project. */
#pragma once

#include <gio/gio.h>

#include "veto-npy.h"
#include "veto-store.h"

G_BEGIN_DECLS

#define VETO_IMPORT_ERROR (veto_import_error_quark ())
GQuark veto_import_error_quark (void);

typedef enum
{
  VETO_IMPORT_ERROR_NOT_FOUND,    /* the source does not exist or cannot be read */
  VETO_IMPORT_ERROR_UNRECOGNISED, /* no importer knows the content */
  VETO_IMPORT_ERROR_TRUNCATED,    /* fewer bytes than the header promises */
  VETO_IMPORT_ERROR_INVALID,      /* a header, label, row or name that cannot be right */
  VETO_IMPORT_ERROR_TOO_LARGE,    /* absurd dimensions or sizes */
  VETO_IMPORT_ERROR_ESCAPES,      /* a path that leaves the folder it must stay in */
} VetoImportError;

typedef enum
{
  VETO_FORMAT_AUTO,
  VETO_FORMAT_IDX,
  VETO_FORMAT_CIFAR10,
  VETO_FORMAT_CIFAR100,
  VETO_FORMAT_IMAGE_FOLDER,
  VETO_FORMAT_CSV,
} VetoImportFormat;

const char *veto_import_format_to_string (VetoImportFormat format);
gboolean veto_import_format_from_string (const char *text, VetoImportFormat *out_format);

/* total is known before the first call (the files of a folder or manifest are listed first),
 * and done counts items read so far, duplicates included. */
typedef void (*VetoImportProgressFunc) (gpointer user_data, guint64 done, guint64 total);

typedef struct
{
  VetoImportFormat format;    /* VETO_FORMAT_AUTO detects it from the content */
  VetoSplit split;            /* for every item (a CSV row may name its own) */
  const char *labels_path;    /* IDX: the labels file, or NULL */
  gboolean cifar100_coarse;   /* CIFAR-100: the 20 coarse labels instead of the 100 fine ones */
  VetoImportProgressFunc progress;
  gpointer progress_data;
  GCancellable *cancellable;  /* may be NULL; a cancelled import changes nothing */
} VetoImportOptions;

typedef struct
{
  VetoImportFormat format;    /* what was read */
  guint added;                /* new items */
  guint per_split[VETO_N_SPLITS]; /* new items by the split they went to (CSV rows name theirs) */
  guint duplicates;           /* images skipped because their sha256 is in the project already */
  guint skipped;              /* files of a folder that are not images by name */
  guint classes_created;
} VetoImportResult;

/* Adds every item of SOURCE to the project in one transaction: on any error the project is left
 * exactly as it was, and the error names the file and the problem. */
gboolean veto_import (VetoStore *store, const char *source, const VetoImportOptions *options,
                      VetoImportResult *out_result, GError **error);

/* A NumPy .npy file, validated (see veto-npy.h); errors name the file. The file is read whole,
 * not mapped: the array stays as read when another program rewrites the file meanwhile
 * (np.save truncates it in place), where a mapping would raise SIGBUS. */
VetoNpy *veto_import_read_npy (const char *path, GError **error);

/* A K×K transition matrix from a text file: one row per line (rows = true class), numbers
 * separated by spaces or commas; anything that is not a number (brackets, "tensor(", a title)
 * is ignored, so PyTorch prints load as they are; a line starting with '#' is a comment.
 * Rows must be non-negative with a positive sum and are normalised to sum to 1. Returns K×K
 * doubles, row-major. */
double *veto_import_read_transition (const char *path, guint *out_k, GError **error);

G_END_DECLS
