/* veto-json: numbers and matrices added to JSON documents (round metrics, --json output) the same way everywhere. */
#include "veto-json.h"

#include <math.h>

void
veto_json_add_number (JsonBuilder *builder, const char *name, double value)
{
  if (name)
    json_builder_set_member_name (builder, name);
  if (isfinite (value))
    json_builder_add_double_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

void
veto_json_add_matrix (JsonBuilder *builder, const char *name, const double *m, guint k)
{
  json_builder_set_member_name (builder, name);
  json_builder_begin_array (builder);
  for (guint y = 0; y < k; y++)
    {
      json_builder_begin_array (builder);
      for (guint c = 0; c < k; c++)
        veto_json_add_number (builder, NULL, m[(gsize) y * k + c]);
      json_builder_end_array (builder);
    }
  json_builder_end_array (builder);
}

gboolean
veto_json_get_number (JsonNode *node, double *out_value)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node)
      || (json_node_get_value_type (node) != G_TYPE_DOUBLE
          && json_node_get_value_type (node) != G_TYPE_INT64))
    return FALSE;
  *out_value = json_node_get_double (node);
  return TRUE;
}
