/* veto-export: writes a project's answers out for other tools (JSONL, CSV). */
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

G_END_DECLS
