/* veto-json: numbers and matrices written to JSON documents (round metrics, --json output) and read back from them the same way everywhere. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define VETO_JSON_ERROR (veto_json_error_quark ())

typedef enum {
  VETO_JSON_ERROR_SHAPE, /* a node is not the number, array or matrix asked for */
} VetoJsonError;

/* What a matrix read back may hold in every entry. */
typedef enum {
  VETO_JSON_ENTRIES_COUNTS,  /* finite and not negative (a confusion matrix) */
  VETO_JSON_ENTRIES_WEIGHTS, /* finite and positive (an annotator model's weights) */
} VetoJsonEntries;

GQuark veto_json_error_quark (void);

/* Adds a number, null when it is not defined (NAN or infinite), which JSON cannot hold; name
 * is the member's (NULL inside an array). */
void veto_json_add_number (JsonBuilder *builder, const char *name, double value);
/* Adds a k × k matrix of numbers (row-major m) as an array of rows, each number as
 * veto_json_add_number () adds it. */
void veto_json_add_matrix (JsonBuilder *builder, const char *name, const double *m, guint k);
/* TRUE when node (may be NULL) is a JSON number, a double or an integer, which out_value gets;
 * a document from someone else is read, not trusted: anything else is FALSE. */
gboolean veto_json_get_number (JsonNode *node, double *out_value);
/* Reads node (may be NULL) as veto_json_add_matrix () writes a matrix: an array of n rows, each
 * an array of n numbers of the kind entries asks for, 1 <= n <= max_n, into a new row-major
 * array (*out_values, n × n, and *out_n = n). A document from someone else is read, not trusted:
 * any other node is FALSE with VETO_JSON_ERROR_SHAPE, whose message names the first row (and
 * column) that is wrong ("row 2, column 3 is not a count"), for the caller to prefix with the
 * matrix's name. */
gboolean veto_json_read_square_matrix (JsonNode *node, guint max_n, VetoJsonEntries entries,
                                       double **out_values, guint *out_n, GError **error);

G_END_DECLS
