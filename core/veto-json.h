/* veto-json: numbers and matrices added to JSON documents (round metrics, --json output) the same way everywhere. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Adds a number, null when it is not defined (NAN or infinite), which JSON cannot hold; name
 * is the member's (NULL inside an array). */
void veto_json_add_number (JsonBuilder *builder, const char *name, double value);
/* Adds a k × k matrix of numbers (row-major m) as an array of rows, each number as
 * veto_json_add_number () adds it. */
void veto_json_add_matrix (JsonBuilder *builder, const char *name, const double *m, guint k);
/* TRUE when node (may be NULL) is a JSON number, a double or an integer, which out_value gets;
 * a document from someone else is read, not trusted: anything else is FALSE. */
gboolean veto_json_get_number (JsonNode *node, double *out_value);

G_END_DECLS
