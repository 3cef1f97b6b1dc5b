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

G_END_DECLS
