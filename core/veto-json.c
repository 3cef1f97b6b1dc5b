/* veto-json: numbers and matrices written to JSON documents (round metrics, --json output) and read back from them the same way everywhere. */
#include "veto-json.h"

#include <math.h>

G_DEFINE_QUARK (veto-json-error-quark, veto_json_error)

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

gboolean
veto_json_read_square_matrix (JsonNode *node, guint max_n, VetoJsonEntries entries,
                              double **out_values, guint *out_n, GError **error)
{
  const char *kind = entries == VETO_JSON_ENTRIES_COUNTS ? "count" : "positive weight";
  JsonArray *rows = node && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;
  guint n = rows ? json_array_get_length (rows) : 0;
  g_autofree double *values = NULL;

  if (n == 0 || n > max_n)
    {
      g_set_error (error, VETO_JSON_ERROR, VETO_JSON_ERROR_SHAPE,
                   "not an array of 1 to %u rows", max_n);
      return FALSE;
    }
  values = g_new (double, (gsize) n * n);
  for (guint r = 0; r < n; r++)
    {
      JsonNode *row = json_array_get_element (rows, r);
      JsonArray *cells = JSON_NODE_HOLDS_ARRAY (row) ? json_node_get_array (row) : NULL;

      if (cells == NULL || json_array_get_length (cells) != n)
        {
          g_set_error (error, VETO_JSON_ERROR, VETO_JSON_ERROR_SHAPE,
                       "row %u is not an array of %u numbers", r + 1, n);
          return FALSE;
        }
      for (guint c = 0; c < n; c++)
        {
          double *v = &values[(gsize) r * n + c];

          if (!veto_json_get_number (json_array_get_element (cells, c), v) || !isfinite (*v)
              || *v < 0 || (entries == VETO_JSON_ENTRIES_WEIGHTS && *v == 0))
            {
              g_set_error (error, VETO_JSON_ERROR, VETO_JSON_ERROR_SHAPE,
                           "row %u, column %u is not a %s", r + 1, c + 1, kind);
              return FALSE;
            }
        }
    }
  *out_values = g_steal_pointer (&values);
  *out_n = n;
  return TRUE;
}
