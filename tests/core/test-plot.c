/* Tests for veto-plot: charts saved as PNG, SVG and PDF and read back, pixels where the data says. */
#include "veto-plot.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

static char *tmpdir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmpdir, name, NULL);
}

static cairo_surface_t *
load_png (const char *path, int width, int height)
{
  cairo_surface_t *surface = cairo_image_surface_create_from_png (path);

  g_assert_cmpint (cairo_surface_status (surface), ==, CAIRO_STATUS_SUCCESS);
  g_assert_cmpint (cairo_image_surface_get_width (surface), ==, width);
  g_assert_cmpint (cairo_image_surface_get_height (surface), ==, height);
  return surface;
}

static guint32
pixel (cairo_surface_t *surface, int x, int y)
{
  const guint8 *data = cairo_image_surface_get_data (surface);
  int stride = cairo_image_surface_get_stride (surface);

  g_assert_true (x >= 0 && x < cairo_image_surface_get_width (surface));
  g_assert_true (y >= 0 && y < cairo_image_surface_get_height (surface));
  return *(const guint32 *) (data + (gsize) y * stride + (gsize) x * 4) & 0xffffff;
}

static guint
count_not_white (cairo_surface_t *surface)
{
  guint count = 0;

  cairo_surface_flush (surface);
  for (int y = 0; y < cairo_image_surface_get_height (surface); y++)
    for (int x = 0; x < cairo_image_surface_get_width (surface); x++)
      count += pixel (surface, x, y) != 0xffffff;
  return count;
}

static int
color_distance (guint32 a, guint32 b)
{
  int d = 0;

  for (int shift = 0; shift <= 16; shift += 8)
    d = MAX (d, abs ((int) ((a >> shift) & 0xff) - (int) ((b >> shift) & 0xff)));
  return d;
}

static guint32
series_rgb (guint index)
{
  double r, g, b;

  veto_plot_series_color (index, &r, &g, &b);
  return (guint32) lround (r * 255) << 16 | (guint32) lround (g * 255) << 8
         | (guint32) lround (b * 255);
}

/* Whether the colour is found within a pixel of (x, y): antialiasing may blur one edge. */
static gboolean
color_near (cairo_surface_t *surface, double x, double y, guint32 rgb)
{
  for (int dy = -1; dy <= 1; dy++)
    for (int dx = -1; dx <= 1; dx++)
      if (color_distance (pixel (surface, (int) floor (x) + dx, (int) floor (y) + dy), rgb) <= 6)
        return TRUE;
  return FALSE;
}

static char *
read_text (const char *path)
{
  g_autoptr (GError) error = NULL;
  char *text = NULL;

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  return text;
}

/* Whether text (which may hold NUL bytes, as a PDF's streams do) contains needle. */
static gboolean
bytes_contain (const char *text, gsize len, const char *needle)
{
  gsize n = strlen (needle);

  for (gsize i = 0; i + n <= len; i++)
    if (memcmp (text + i, needle, n) == 0)
      return TRUE;
  return FALSE;
}

static void
assert_svg (const char *path, const char *const *fragments)
{
  g_autofree char *text = read_text (path);
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);

  g_assert_true (g_str_has_prefix (text, "<?xml") || g_str_has_prefix (text, "<svg"));
  for (guint i = 0; fragments[i]; i++)
    if (strstr (text, fragments[i]) == NULL)
      g_error ("%s lacks '%s'", path, fragments[i]);
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
}

static VetoPlotCurves *
two_constant_runs (void)
{
  g_autoptr (GError) error = NULL;
  VetoPlotCurves *curves = veto_plot_curves_new ("two seeds", "answers", "test accuracy");
  double x1[] = { 0, 5, 10 }, y1[] = { 0.2, 0.2, 0.2 };
  double x2[] = { 10, 2.5, 0, 7.5 }, y2[] = { 0.4, 0.4, 0.4, 0.4 };

  g_assert_true (veto_plot_curves_add_run (curves, "margin", x1, y1, 3, &error));
  g_assert_true (veto_plot_curves_add_run (curves, "margin", x2, y2, 4, &error));
  g_assert_no_error (error);
  return curves;
}

static void
test_curves_mean_line (void)
{
  g_autoptr (VetoPlotCurves) curves = two_constant_runs ();
  int sizes[][2] = { { 640, 400 }, { 1280, 800 } };

  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      int w = sizes[i][0], h = sizes[i][1];
      g_autofree char *name = g_strdup_printf ("mean-%d.png", w);
      g_autofree char *path = tmp_path (name);
      g_autoptr (GError) error = NULL;
      cairo_surface_t *png;
      double px, py, bx, by, top_x, top_y;

      g_assert_true (veto_plot_curves_save (curves, path, w, h, &error));
      g_assert_no_error (error);
      png = load_png (path, w, h);
      g_assert_cmpuint (count_not_white (png), >, (guint) (w * h / 100));

      g_assert_true (veto_plot_curves_to_device (curves, w, h, 5, 0.3, &px, &py, &error));
      g_assert_no_error (error);
      g_assert_true (px > w * 0.3 && px < w * 0.7 && py > h * 0.2 && py < h * 0.8);
      g_assert_true (color_near (png, px, py, series_rgb (0)));

      /* Half way to the mean, the translucent ±std band: tinted, yet not the line's colour. */
      g_assert_true (veto_plot_curves_to_device (curves, w, h, 5, 0.25, &bx, &by, &error));
      g_assert_cmpuint (pixel (png, (int) bx, (int) by), !=, 0xffffff);
      g_assert_cmpint (color_distance (pixel (png, (int) bx, (int) by), series_rgb (0)), >, 40);
      g_assert_cmpint (pixel (png, (int) bx, (int) by) & 0xff, >,
                       (pixel (png, (int) bx, (int) by) >> 16) & 0xff);

      /* Neither run is drawn: at y = 0.4 there is no line, only the band's edge. */
      g_assert_true (veto_plot_curves_to_device (curves, w, h, 5, 0.35, &top_x, &top_y, &error));
      g_assert_false (color_near (png, top_x, top_y, series_rgb (0)));
      cairo_surface_destroy (png);
    }
}

/* A run counts only inside its own x range, and is interpolated linearly within it. */
static void
test_curves_partial_runs (void)
{
  g_autoptr (VetoPlotCurves) curves = veto_plot_curves_new (NULL, NULL, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *path = tmp_path ("partial.png");
  double x1[] = { 0, 2, 10 }, y1[] = { 0.0, 0.2, 1.0 };
  double x2[] = { 5, 10 }, y2[] = { 0.9, 0.9 };
  cairo_surface_t *png;
  double px, py;

  veto_plot_curves_set_band (curves, VETO_PLOT_BAND_NONE);
  g_assert_true (veto_plot_curves_add_run (curves, "s", x1, y1, 3, &error));
  g_assert_true (veto_plot_curves_add_run (curves, "s", x2, y2, 2, &error));
  g_assert_true (veto_plot_curves_save (curves, path, 800, 500, &error));
  g_assert_no_error (error);
  png = load_png (path, 800, 500);

  /* The mean is taken at x = 0, 2, 5, 10: at 2 only the first run counts (0.2); at 5 and 10
   * both do, so half way between them it is ((0.5 + 0.9) / 2 + (1 + 0.9) / 2) / 2. */
  g_assert_true (veto_plot_curves_to_device (curves, 800, 500, 2, 0.2, &px, &py, &error));
  g_assert_true (color_near (png, px, py, series_rgb (0)));
  g_assert_true (veto_plot_curves_to_device (curves, 800, 500, 7.5, 0.825, &px, &py, &error));
  g_assert_true (color_near (png, px, py, series_rgb (0)));
  g_assert_true (veto_plot_curves_to_device (curves, 800, 500, 7.5, 0.6, &px, &py, &error));
  g_assert_false (color_near (png, px, py, series_rgb (0)));
  g_assert_no_error (error);
  cairo_surface_destroy (png);
}

static void
test_curves_svg (void)
{
  g_autoptr (VetoPlotCurves) curves = veto_plot_curves_new ("AL", "answers", "test accuracy");
  g_autoptr (GError) error = NULL;
  g_autofree char *svg = tmp_path ("curves.SVG");
  g_autofree char *png_path = tmp_path ("curves.png");
  const char *names[] = { "random", "least confidence", "BADGE <k=4> & co", "coreset" };
  const char *fragments[] = { "random", "least confidence", "BADGE &lt;k=4&gt; &amp; co",
                              "coreset", "scikit-learn 0.804", NULL };
  cairo_surface_t *png;

  for (guint s = 0; s < G_N_ELEMENTS (names); s++)
    for (guint seed = 0; seed < 3; seed++)
      {
        double x[12], y[12];

        for (guint i = 0; i < 12; i++)
          {
            x[i] = 50 * (i + 1) + seed * 7;
            y[i] = 0.3 + 0.5 * (1 - exp (-x[i] / (120.0 + 40 * s))) + 0.01 * seed;
          }
        g_assert_true (veto_plot_curves_add_run (curves, names[s], x, y, 12, &error));
      }
  veto_plot_curves_set_band (curves, VETO_PLOT_BAND_MINMAX);
  g_assert_true (veto_plot_curves_add_reference (curves, 0.804, "scikit-learn 0.804", &error));
  g_assert_true (veto_plot_curves_save (curves, svg, 1280, 800, &error));
  g_assert_true (veto_plot_curves_save (curves, png_path, 640, 400, &error));
  g_assert_no_error (error);
  assert_svg (svg, fragments);
  png = load_png (png_path, 640, 400);
  for (guint s = 0; s < G_N_ELEMENTS (names); s++)
    {
      guint found = 0;

      for (int y = 0; y < 400; y++)
        for (int x = 0; x < 640; x++)
          found += color_distance (pixel (png, x, y), series_rgb (s)) <= 6;
      g_assert_cmpuint (found, >, 50);
    }
  cairo_surface_destroy (png);
}

static void
test_curves_refused (void)
{
  g_autoptr (VetoPlotCurves) curves = veto_plot_curves_new ("t", "x", "y");
  g_autoptr (GError) error = NULL;
  g_autofree char *path = tmp_path ("empty.png");
  double x[] = { 0, 1, 1 }, y[] = { 0.5, NAN, 0.7 };
  double px, py;

  g_assert_false (veto_plot_curves_save (curves, path, 640, 400, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_false (veto_plot_curves_to_device (curves, 640, 400, 0, 0, &px, &py, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));

  g_assert_false (veto_plot_curves_add_run (curves, "nan", x, y, 3, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "nan"));
  g_clear_error (&error);
  y[1] = 0.6;
  g_assert_false (veto_plot_curves_add_run (curves, "twice", x, y, 3, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_false (veto_plot_curves_add_run (curves, "none", x, y, 0, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_false (veto_plot_curves_add_reference (curves, INFINITY, "far", &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_clear_error (&error);

  /* Refused runs left nothing behind: there is still nothing to draw. */
  g_assert_false (veto_plot_curves_save (curves, path, 640, 400, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_clear_error (&error);

  /* One point, a constant: drawable; sizes that are none or too small are refused. */
  g_assert_true (veto_plot_curves_add_run (curves, "one", x, y, 1, &error));
  g_assert_true (veto_plot_curves_save (curves, path, 640, 400, &error));
  g_assert_no_error (error);
  g_assert_false (veto_plot_curves_save (curves, path, 0, 400, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_SIZE);
  g_clear_error (&error);
  g_assert_false (veto_plot_curves_save (curves, path, 40, 20, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_SIZE);
  g_clear_error (&error);
  g_assert_false (veto_plot_curves_to_device (curves, NAN, 400, 0, 0, &px, &py, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_SIZE);
}

static void
test_save_errors (void)
{
  g_autoptr (VetoPlotCurves) curves = two_constant_runs ();
  g_autoptr (GError) error = NULL;
  g_autofree char *missing_dir = tmp_path ("no-such-folder");
  g_autofree char *missing = g_build_filename (missing_dir, "curves.png", NULL);
  g_autofree char *bad_ext = tmp_path ("curves.jpg");
  g_autofree char *path = tmp_path ("replaced.png");
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  gsize first_len, second_len;

  g_assert_false (veto_plot_curves_save (curves, missing, 640, 400, &error));
  g_assert_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT);
  g_assert_nonnull (strstr (error->message, missing));
  g_clear_error (&error);
  g_assert_false (g_file_test (missing_dir, G_FILE_TEST_EXISTS));

  g_assert_false (veto_plot_curves_save (curves, bad_ext, 640, 400, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, bad_ext));
  g_clear_error (&error);
  g_assert_false (g_file_test (bad_ext, G_FILE_TEST_EXISTS));

  /* Saving over a file replaces it whole and leaves no temporary behind. */
  g_assert_true (veto_plot_curves_save (curves, path, 640, 400, &error));
  g_assert_true (g_file_get_contents (path, &first, &first_len, &error));
  g_assert_true (veto_plot_curves_save (curves, path, 320, 200, &error));
  g_assert_true (g_file_get_contents (path, &second, &second_len, &error));
  g_assert_no_error (error);
  g_assert_true (first_len != second_len || memcmp (first, second, first_len) != 0);
  g_assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  cairo_surface_destroy (load_png (path, 320, 200));
}

/* The dashboard draws on its own context, scaled for HiDPI: the chart fills the logical size
 * and hands the context back as it came. */
static void
test_draw_live (void)
{
  g_autoptr (VetoPlotCurves) curves = two_constant_runs ();
  g_autoptr (GError) error = NULL;
  cairo_surface_t *surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, 640, 400);
  cairo_t *cr = cairo_create (surface);
  cairo_matrix_t before, after;
  double px, py;

  cairo_scale (cr, 2, 2);
  cairo_set_line_width (cr, 7);
  cairo_get_matrix (cr, &before);
  g_assert_true (veto_plot_curves_draw (curves, cr, 320, 200, &error));
  g_assert_no_error (error);
  cairo_get_matrix (cr, &after);
  g_assert_cmpfloat (cairo_get_line_width (cr), ==, 7);
  g_assert_true (memcmp (&before, &after, sizeof before) == 0);
  g_assert_cmpint (cairo_status (cr), ==, CAIRO_STATUS_SUCCESS);

  g_assert_true (veto_plot_curves_to_device (curves, 320, 200, 5, 0.3, &px, &py, &error));
  cairo_surface_flush (surface);
  g_assert_true (color_near (surface, px * 2, py * 2, series_rgb (0)));
  g_assert_cmpuint (pixel (surface, 639, 399), ==, 0xffffff);
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
}

static void
test_matrix (void)
{
  const char *labels[] = { "T-shirt/top", "Trouser", "Ankle boot & co" };
  double counts[] = { 50, 3, 0, 7, 41, 2, 0, 1, 60 };
  double probs[] = { 0, 0.5, 0.5, NAN, NAN, NAN, 0.25, 0.75, 0 };
  const char *fragments[] = { "T-shirt/top", "Trouser", "Ankle boot &amp; co", "true class",
                              "complementary label", NULL };
  g_autoptr (VetoPlotMatrix) confusion = veto_plot_matrix_new (counts, 3, labels);
  g_autoptr (VetoPlotMatrix) transition = veto_plot_matrix_new (probs, 3, labels);
  g_autoptr (GError) error = NULL;
  g_autofree char *png_path = tmp_path ("confusion.png");
  g_autofree char *svg = tmp_path ("transition.svg");
  g_autofree char *small = tmp_path ("transition-small.png");
  g_autofree char *pdf = tmp_path ("transition.PDF");
  g_autofree char *pdf_tmp = g_strconcat (pdf, ".tmp", NULL);
  g_autofree char *pdf_text = NULL;
  gsize pdf_len = 0;
  cairo_surface_t *png;

  g_assert_true (veto_plot_matrix_save (confusion, png_path, 1280, 800, &error));
  g_assert_no_error (error);
  png = load_png (png_path, 1280, 800);
  g_assert_cmpuint (count_not_white (png), >, 1280 * 800 / 20);
  cairo_surface_destroy (png);

  veto_plot_matrix_set_titles (transition, "Transition", "true class", "complementary label");
  veto_plot_matrix_set_value_format (transition, VETO_PLOT_VALUES_DECIMAL);
  g_assert_true (veto_plot_matrix_save (transition, svg, 640, 400, &error));
  g_assert_true (veto_plot_matrix_save (transition, small, 640, 400, &error));
  g_assert_no_error (error);
  assert_svg (svg, fragments);
  png = load_png (small, 640, 400);
  g_assert_cmpuint (count_not_white (png), >, 640 * 400 / 20);
  cairo_surface_destroy (png);

  /* A PDF page of the chart's size in points, titled as the chart. */
  g_assert_true (veto_plot_matrix_save (transition, pdf, 640, 400, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (pdf, &pdf_text, &pdf_len, &error));
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (pdf_text, "%PDF-"));
  g_assert_true (bytes_contain (pdf_text, pdf_len, "/MediaBox [ 0 0 640 400 ]"));
  g_assert_true (bytes_contain (pdf_text, pdf_len, "/Title (Transition)"));
  g_assert_nonnull (g_strrstr_len (pdf_text + pdf_len - 8, 8, "%%EOF"));
  g_assert_false (g_file_test (pdf_tmp, G_FILE_TEST_EXISTS));
}

static void
test_matrix_refused (void)
{
  double values[] = { 1, INFINITY, 0, 1 };
  g_autoptr (VetoPlotMatrix) empty = veto_plot_matrix_new (NULL, 0, NULL);
  g_autoptr (VetoPlotMatrix) infinite = veto_plot_matrix_new (values, 2, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *path = tmp_path ("refused.png");

  g_assert_false (veto_plot_matrix_save (empty, path, 640, 400, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_false (veto_plot_matrix_save (infinite, path, 640, 400, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "(0, 1)"));
  g_clear_error (&error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
}

static void
test_bars (void)
{
  g_autoptr (VetoPlotBars) bars = veto_plot_bars_new ("Answers per annotator", "answers");
  g_autoptr (VetoPlotBars) empty = veto_plot_bars_new (NULL, NULL);
  g_autoptr (GError) error = NULL;
  g_autofree char *png_path = tmp_path ("bars.png");
  g_autofree char *svg = tmp_path ("bars.svg");
  const char *fragments[] = { "alice", "bob", "carol (simulated)", "answers", NULL };
  cairo_surface_t *png;
  guint found = 0;

  veto_plot_bars_add (bars, "alice", 1240);
  veto_plot_bars_add (bars, "bob", -86);
  veto_plot_bars_add (bars, "carol (simulated)", 2000);
  veto_plot_bars_add (bars, "dave", NAN);
  g_assert_true (veto_plot_bars_save (bars, png_path, 640, 400, &error));
  g_assert_true (veto_plot_bars_save (bars, svg, 1280, 800, &error));
  g_assert_no_error (error);
  assert_svg (svg, fragments);
  png = load_png (png_path, 640, 400);
  for (int y = 0; y < 400; y++)
    for (int x = 0; x < 640; x++)
      found += color_distance (pixel (png, x, y), series_rgb (0)) <= 6;
  g_assert_cmpuint (found, >, 640 * 400 / 20);
  cairo_surface_destroy (png);

  g_assert_false (veto_plot_bars_save (empty, png_path, 640, 400, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_clear_error (&error);
  veto_plot_bars_add (empty, "far", -INFINITY);
  g_assert_false (veto_plot_bars_save (empty, png_path, 640, 400, &error));
  g_assert_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "far"));
}

static void
remove_tmpdir (void)
{
  g_autoptr (GDir) dir = g_dir_open (tmpdir, 0, NULL);
  const char *name;

  while (dir && (name = g_dir_read_name (dir)))
    {
      g_autofree char *path = tmp_path (name);

      g_unlink (path);
    }
  g_rmdir (tmpdir);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("veto-plot-XXXXXX", &error);
  g_assert_no_error (error);

  g_test_add_func ("/plot/curves/mean-line", test_curves_mean_line);
  g_test_add_func ("/plot/curves/partial-runs", test_curves_partial_runs);
  g_test_add_func ("/plot/curves/svg", test_curves_svg);
  g_test_add_func ("/plot/curves/refused", test_curves_refused);
  g_test_add_func ("/plot/save-errors", test_save_errors);
  g_test_add_func ("/plot/draw-live", test_draw_live);
  g_test_add_func ("/plot/matrix", test_matrix);
  g_test_add_func ("/plot/matrix/refused", test_matrix_refused);
  g_test_add_func ("/plot/bars", test_bars);
  status = g_test_run ();

  remove_tmpdir ();
  g_free (tmpdir);
  return status;
}
