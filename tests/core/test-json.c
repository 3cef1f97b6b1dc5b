/* Tests of veto-json: matrices written and read back, and a hand-edited matrix refused with its row named. */
#include "veto-json.h"

static JsonNode *
parse (const char *text)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, text, -1, NULL));
  return json_node_copy (json_parser_get_root (parser));
}

/* What veto_json_add_matrix () writes, veto_json_read_square_matrix () reads back exactly. */
static void
test_round_trip (void)
{
  const double m[9] = { 3, 0, 1.5, 2, 7, 0.25, 1e-3, 4, 9 };
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree double *read = NULL;
  guint n = 0;

  json_builder_begin_object (builder);
  veto_json_add_matrix (builder, "m", m, 3);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  g_assert_true (veto_json_read_square_matrix (
      json_object_get_member (json_node_get_object (root), "m"), 3, VETO_JSON_ENTRIES_COUNTS,
      &read, &n, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n, ==, 3);
  for (guint i = 0; i < 9; i++)
    g_assert_cmpfloat (read[i], ==, m[i]);
}

/* Fewer rows than the most allowed are read (a round trained before classes were added). */
static void
test_smaller (void)
{
  g_autoptr (JsonNode) node = parse ("[[1, 2], [3, 4]]");
  g_autofree double *read = NULL;
  guint n = 0;

  g_assert_true (veto_json_read_square_matrix (node, 10, VETO_JSON_ENTRIES_WEIGHTS, &read, &n,
                                               NULL));
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpfloat (read[3], ==, 4);
}

typedef struct {
  const char *json;
  guint max_n;
  VetoJsonEntries entries;
  const char *message;
} Refused;

/* Each shape a hand-edited project could hold is refused, the first wrong row or cell named. */
static void
test_refused (void)
{
  const Refused cases[] = {
    { "{\"a\": 1}", 3, VETO_JSON_ENTRIES_COUNTS, "not an array of 1 to 3 rows" },
    { "[]", 3, VETO_JSON_ENTRIES_COUNTS, "not an array of 1 to 3 rows" },
    { "[[1,0,0],[0,1,0],[0,0,1]]", 2, VETO_JSON_ENTRIES_COUNTS, "not an array of 1 to 2 rows" },
    { "[[1,2],[3]]", 3, VETO_JSON_ENTRIES_COUNTS, "row 2 is not an array of 2 numbers" },
    { "[[1,2],5]", 3, VETO_JSON_ENTRIES_COUNTS, "row 2 is not an array of 2 numbers" },
    { "[[1,-2],[3,4]]", 3, VETO_JSON_ENTRIES_COUNTS, "row 1, column 2 is not a count" },
    { "[[1,2],[\"3\",4]]", 3, VETO_JSON_ENTRIES_COUNTS, "row 2, column 1 is not a count" },
    { "[[1,2],[3,null]]", 3, VETO_JSON_ENTRIES_COUNTS, "row 2, column 2 is not a count" },
    { "[[1,2],[3,true]]", 3, VETO_JSON_ENTRIES_COUNTS, "row 2, column 2 is not a count" },
    { "[[1,0],[3,4]]", 3, VETO_JSON_ENTRIES_WEIGHTS, "row 1, column 2 is not a positive weight" },
    { "[[1,1e400],[3,4]]", 3, VETO_JSON_ENTRIES_WEIGHTS,
      "row 1, column 2 is not a positive weight" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (JsonParser) parser = json_parser_new ();
      g_autoptr (GError) error = NULL;
      double *read = NULL;
      guint n = 0;

      /* json-glib reads 1e400 as infinity */
      g_assert_true (json_parser_load_from_data (parser, cases[i].json, -1, NULL));
      g_assert_false (veto_json_read_square_matrix (json_parser_get_root (parser), cases[i].max_n,
                                                    cases[i].entries, &read, &n, &error));
      g_assert_error (error, VETO_JSON_ERROR, VETO_JSON_ERROR_SHAPE);
      g_assert_cmpstr (error->message, ==, cases[i].message);
      g_assert_null (read);
      g_assert_cmpuint (n, ==, 0);
    }
  /* a zero count is a count; no node is no matrix */
  {
    g_autoptr (JsonNode) zero = parse ("[[0]]");
    g_autofree double *read = NULL;
    guint n = 0;

    g_assert_true (veto_json_read_square_matrix (zero, 1, VETO_JSON_ENTRIES_COUNTS, &read, &n,
                                                 NULL));
    g_assert_false (veto_json_read_square_matrix (NULL, 1, VETO_JSON_ENTRIES_COUNTS, &read, &n,
                                                  NULL));
  }
}

/* A matrix claiming a million rows is refused before anything is allocated for it. */
static void
test_many_rows (void)
{
  g_autoptr (GString) text = g_string_new ("[");
  g_autoptr (JsonNode) node = NULL;
  g_autoptr (GError) error = NULL;
  double *read = NULL;
  guint n = 0;

  for (guint i = 0; i < 1000000; i++)
    g_string_append (text, i ? ",[]" : "[]");
  g_string_append_c (text, ']');
  node = parse (text->str);
  g_assert_false (veto_json_read_square_matrix (node, 10, VETO_JSON_ENTRIES_COUNTS, &read, &n,
                                                &error));
  g_assert_cmpstr (error->message, ==, "not an array of 1 to 10 rows");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/json/matrix/round-trip", test_round_trip);
  g_test_add_func ("/json/matrix/fewer-rows", test_smaller);
  g_test_add_func ("/json/matrix/refused", test_refused);
  g_test_add_func ("/json/matrix/many-rows", test_many_rows);
  return g_test_run ();
}
