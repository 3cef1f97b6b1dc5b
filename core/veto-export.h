/* veto-export: answers for other tools: JSONL, CSV, CLImage-style arrays, ImageFolder. */
#pragma once

#include <glib.h>

#include "veto-store.h"

G_BEGIN_DECLS

typedef enum
{
  VETO_EXPORT_JSONL,
  VETO_EXPORT_CSV,
} VetoExportFormat;

gboolean veto_export_format_from_string (const char *text, VetoExportFormat *out_format);

/* Writes every answer (undone ones included, flagged as such) with the question as shown.
 * The file appears complete or not at all (written beside, then renamed). */
gboolean veto_export_annotations (VetoStore *store, VetoExportFormat format, const char *path,
                                  guint *out_count, GError **error);

/* --- datasets (docs/campaigns.md) --- */

#define VETO_EXPORT_ERROR (veto_export_error_quark ())
GQuark veto_export_error_quark (void);

typedef enum
{
  VETO_EXPORT_ERROR_EMPTY,       /* no answer of the kind the format holds */
  VETO_EXPORT_ERROR_MIXED_SIZES, /* the items' images differ in size or channels */
} VetoExportError;

typedef struct
{
  guint items;        /* rows of the arrays, or images written */
  guint answers;      /* standing answers behind them */
  guint per_item;     /* climage: columns of cl_labels (m, or more where a merge overlapped) */
  guint n_candidates; /* climage: K */
  guint skipped;      /* imagefolder: items whose ordinary answers have no strict majority */
} VetoExportSummary;

/* A CLImage-style dataset of the standing complementary answers (of campaign; 0: of every
 * answer) in DIR: dataset.jsonl (one line per item), images.npy (uint8 N×H×W×C: items of one
 * size only), cl_labels.npy (int64 N×m, -1 padding), candidates.npy (int64 N×m×K class
 * indices, -1 padding), ord_labels.npy (int64 N, the gold class or -1) and classes.txt. The
 * rows are the campaign's items (anchors included), else the answered items, in id order. */
gboolean veto_export_climage (VetoStore *store, gint64 campaign, const char *dir,
                              VetoExportSummary *out_summary, GError **error);
/* DIR/CLASS/ITEM.png for every item whose standing ordinary answers (of campaign; 0: all) have a
 * strict majority class; "/" in a class name becomes "_". */
gboolean veto_export_imagefolder (VetoStore *store, gint64 campaign, const char *dir,
                                  VetoExportSummary *out_summary, GError **error);

G_END_DECLS
