/* veto-plot: Cairo charts (learning curves, heatmaps, bars) drawn live or saved as PNG/SVG/PDF. */
#include "veto-plot.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

G_DEFINE_QUARK (veto-plot-error-quark, veto_plot_error)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (cairo_t, cairo_destroy)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (cairo_surface_t, cairo_surface_destroy)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (cairo_pattern_t, cairo_pattern_destroy)

/* ---- colours ---- */

typedef struct
{
  double r, g, b;
} Rgb;

#define RGB(hex) \
  { ((hex) >> 16 & 0xff) / 255.0, ((hex) >> 8 & 0xff) / 255.0, ((hex) & 0xff) / 255.0 }

/* Okabe & Ito (2008), ordered so that the first few stay apart for every colour vision; the
 * yellow, faint on white, comes last. */
static const Rgb palette[] = {
  RGB (0x0072B2), RGB (0xD55E00), RGB (0x009E73), RGB (0xE69F00),
  RGB (0xCC79A7), RGB (0x56B4E9), RGB (0x000000), RGB (0xF0E442),
};

/* ColorBrewer "Blues": one hue, so its order survives every colour vision and greyscale. */
static const Rgb blues[] = {
  RGB (0xF7FBFF), RGB (0xDEEBF7), RGB (0xC6DBEF), RGB (0x9ECAE1), RGB (0x6BAED6),
  RGB (0x4292C6), RGB (0x2171B5), RGB (0x08519C), RGB (0x08306B),
};

static const Rgb ink = RGB (0x222222);
static const Rgb muted = RGB (0x555555);
static const Rgb frame_rgb = RGB (0x888888);
static const Rgb grid_rgb = RGB (0xE4E4E4);
static const Rgb missing_rgb = RGB (0xE0E0E0);

static void
set_rgb (cairo_t *cr, Rgb c, double alpha)
{
  cairo_set_source_rgba (cr, c.r, c.g, c.b, alpha);
}

void
veto_plot_series_color (guint   index,
                        double *out_red,
                        double *out_green,
                        double *out_blue)
{
  Rgb c = palette[index % G_N_ELEMENTS (palette)];

  *out_red = c.r;
  *out_green = c.g;
  *out_blue = c.b;
}

static Rgb
blues_at (double t)
{
  double pos = CLAMP (t, 0.0, 1.0) * (G_N_ELEMENTS (blues) - 1);
  guint i = MIN ((guint) pos, G_N_ELEMENTS (blues) - 2);
  double f = pos - i;
  Rgb a = blues[i], b = blues[i + 1];

  return (Rgb) { a.r + f * (b.r - a.r), a.g + f * (b.g - a.g), a.b + f * (b.b - a.b) };
}

/* Dark text on light cells, white on dark ones (Rec. 709 luma of the sRGB values). */
static Rgb
text_on (Rgb c)
{
  static const Rgb white = RGB (0xFFFFFF);

  return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b < 0.55 ? white : ink;
}

/* ---- text and sizes ---- */

/* Sizes in device units for a chart of a given size, so that 640×400 and 1280×800 both read. */
typedef struct
{
  double font;  /* axis titles, legend, names */
  double small; /* tick labels, cell values */
  double big;   /* chart title */
  double pad;   /* outer margin */
  double gap;   /* between a label and what it labels */
  double line;  /* data lines */
} Style;

static Style
style_new (double width, double height)
{
  Style st;
  double s = sqrt (width * height);

  st.font = CLAMP (7.0 + s / 115.0, 8.0, 30.0);
  st.small = st.font * 0.87;
  st.big = st.font * 1.25;
  st.pad = st.font * 0.9;
  st.gap = st.font * 0.45;
  st.line = MAX (1.5, st.font / 7.0);
  return st;
}

/* Hinted metrics differ between surfaces; without them text measured on a scratch image
 * surface lays out exactly as on the caller's. */
static void
context_prepare (cairo_t *cr)
{
  cairo_font_options_t *options = cairo_font_options_create ();

  cairo_font_options_set_hint_metrics (options, CAIRO_HINT_METRICS_OFF);
  cairo_set_font_options (cr, options);
  cairo_font_options_destroy (options);
}

static cairo_t *
measure_context_new (void)
{
  g_autoptr (cairo_surface_t) surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, 1, 1);
  cairo_t *cr = cairo_create (surface);

  context_prepare (cr);
  return cr;
}

static void
font_set (cairo_t *cr, double size, gboolean bold)
{
  cairo_select_font_face (cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                          bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, size);
}

static double
text_width (cairo_t *cr, const char *text)
{
  cairo_text_extents_t te;

  cairo_text_extents (cr, text, &te);
  return te.x_advance;
}

/* Height of a line of text in the current font: ascent plus descent. */
static double
text_height (cairo_t *cr)
{
  cairo_font_extents_t fe;

  cairo_font_extents (cr, &fe);
  return fe.ascent + fe.descent;
}

/* Draws text so that the point (halign, valign) of its box is at (x, y): 0 is the left / top
 * edge, 0.5 the centre, 1 the right / bottom edge. */
static void
text_draw (cairo_t *cr, const char *text, double x, double y, double halign, double valign)
{
  cairo_font_extents_t fe;

  cairo_font_extents (cr, &fe);
  cairo_move_to (cr, x - halign * text_width (cr, text),
                 y - valign * (fe.ascent + fe.descent) + fe.ascent);
  cairo_show_text (cr, text);
}

/* Text turned a quarter left (reading bottom to top), centred on (x, y). */
static void
text_draw_vertical (cairo_t *cr, const char *text, double x, double y)
{
  cairo_save (cr);
  cairo_translate (cr, x, y);
  cairo_rotate (cr, -G_PI / 2);
  text_draw (cr, text, 0, 0, 0.5, 0.5);
  cairo_restore (cr);
}

static gboolean
has_text (const char *text)
{
  return text != NULL && *text != '\0';
}

/* One-pixel lines fall on pixel centres when the user space is the device's. */
static double
crisp (double v)
{
  return floor (v) + 0.5;
}

static void
rounded_rectangle (cairo_t *cr, double x, double y, double w, double h, double r)
{
  cairo_new_sub_path (cr);
  cairo_arc (cr, x + w - r, y + r, r, -G_PI / 2, 0);
  cairo_arc (cr, x + w - r, y + h - r, r, 0, G_PI / 2);
  cairo_arc (cr, x + r, y + h - r, r, G_PI / 2, G_PI);
  cairo_arc (cr, x + r, y + r, r, G_PI, 3 * G_PI / 2);
  cairo_close_path (cr);
}

static void
fill_background (cairo_t *cr, double width, double height)
{
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_rectangle (cr, 0, 0, width, height);
  cairo_fill (cr);
}

/* ---- numbers ---- */

static gboolean
check_size (double width, double height, GError **error)
{
  if (!(isfinite (width) && isfinite (height) && width > 0 && height > 0))
    {
      g_set_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_SIZE, "%g×%g is not a size to draw at",
                   width, height);
      return FALSE;
    }
  return TRUE;
}

static gboolean
too_small (double width, double height, GError **error)
{
  g_set_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_SIZE, "%g×%g is too small for this chart",
               width, height);
  return FALSE;
}

static gboolean
check_cairo (cairo_t *cr, GError **error)
{
  cairo_status_t status = cairo_status (cr);

  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_set_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_CAIRO, "Drawing failed: %s",
                   cairo_status_to_string (status));
      return FALSE;
    }
  return TRUE;
}

static gboolean
all_whole (const double *values, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (isfinite (values[i]) && values[i] != floor (values[i]))
      return FALSE;
  return TRUE;
}

static char *
format_value (double value, gboolean integer)
{
  if (isnan (value))
    return g_strdup ("–");
  return g_strdup_printf ("%.*f", integer ? 0 : 2, value);
}

/* An axis: data [lo, hi] drawn onto device [d0, d1], ticks every step (1, 2 or 5 × 10^n). */
typedef struct
{
  double lo, hi;
  double d0, d1;
  double step;
  gint64 first, last; /* ticks are k × step for k in [first, last] */
  guint decimals;
  gboolean whole; /* the data are counts (answers, rounds): no tick between integers */
} Axis;

static double
axis_map (const Axis *axis, double v)
{
  return axis->d0 + (v - axis->lo) / (axis->hi - axis->lo) * (axis->d1 - axis->d0);
}

static void
axis_set_ticks (Axis *axis, double target)
{
  double raw = (axis->hi - axis->lo) / MAX (target, 1.0);
  double mag = pow (10, floor (log10 (raw)));
  double norm = raw / mag;

  axis->step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  if (axis->whole)
    axis->step = MAX (axis->step, 1);
  axis->first = (gint64) ceil (axis->lo / axis->step - 1e-9);
  axis->last = (gint64) floor (axis->hi / axis->step + 1e-9);
  axis->decimals = axis->step >= 1 ? 0 : (guint) ceil (-log10 (axis->step) - 1e-9);
}

static char *
axis_tick_label (const Axis *axis, gint64 k)
{
  return g_strdup_printf ("%.*f", axis->decimals, k * axis->step);
}

static double
axis_widest_label (const Axis *axis, cairo_t *cr)
{
  double widest = 0;

  for (gint64 k = axis->first; k <= axis->last; k++)
    {
      g_autofree char *label = axis_tick_label (axis, k);

      widest = MAX (widest, text_width (cr, label));
    }
  return widest;
}

/* Ticks for a horizontal axis, as many as fit without their labels (in cr's font) touching. */
static void
axis_set_ticks_horizontal (Axis *axis, cairo_t *cr, double spacing)
{
  double target = fabs (axis->d1 - axis->d0) / spacing;

  for (guint attempt = 0; attempt < 12; attempt++)
    {
      double step_px;

      axis_set_ticks (axis, target);
      step_px = fabs (axis->d1 - axis->d0) * axis->step / (axis->hi - axis->lo);
      if (axis_widest_label (axis, cr) + spacing * 0.3 < step_px || target <= 1)
        return;
      target *= 0.7;
    }
}

/* Widens a degenerate (single-valued) range so that it can be mapped. */
static void
range_widen (double *lo, double *hi)
{
  if (*hi > *lo)
    return;
  {
    double half = *lo == 0 ? 1 : fabs (*lo) * 0.1;

    *lo -= half;
    *hi += half;
  }
}

/* ---- saving ---- */

typedef gboolean (*DrawFunc) (gconstpointer chart, cairo_t *cr, double width, double height,
                              GError **error);
/* A title and a plain-text summary for the SVG's <title> and <desc> (the PDF's Title and
 * Subject): text from the toy API is glyph outlines, and these keep the file readable by
 * screen readers and searches. */
typedef void (*DescribeFunc) (gconstpointer chart, GString *title, GString *desc);

static cairo_status_t
append_bytes (void *closure, const unsigned char *data, unsigned int length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

static gboolean
file_error (const char *path, int saved_errno, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);

  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
               "Could not write “%s”: %s", display, g_strerror (saved_errno));
  return FALSE;
}

static gboolean
write_atomically (const char *path, const guint8 *data, gsize len, GError **error)
{
  g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
  int fd = g_open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  gsize done = 0;
  int saved_errno;

  if (fd < 0)
    return file_error (path, errno, error);
  while (done < len)
    {
      gssize written = write (fd, data + done, len - done);

      if (written < 0 && errno == EINTR)
        continue;
      if (written < 0)
        goto fail;
      done += written;
    }
  if (fsync (fd) != 0)
    goto fail;
  if (close (fd) != 0)
    {
      fd = -1;
      goto fail;
    }
  fd = -1;
  if (g_rename (tmp, path) != 0)
    goto fail;
  return TRUE;

fail:
  saved_errno = errno;
  if (fd >= 0)
    close (fd);
  g_unlink (tmp);
  return file_error (path, saved_errno, error);
}

static void
svg_insert_description (GByteArray *svg, const char *title, const char *desc)
{
  const char *start = g_strstr_len ((const char *) svg->data, svg->len, "<svg");
  const char *end = start ? memchr (start, '>', svg->len - (start - (const char *) svg->data))
                          : NULL;
  g_autofree char *meta = g_markup_printf_escaped ("\n<title>%s</title>\n<desc>%s</desc>",
                                                   title, desc);
  gsize at, len = strlen (meta);

  if (end == NULL)
    return;
  at = end + 1 - (const char *) svg->data;
  g_byte_array_set_size (svg, svg->len + len);
  memmove (svg->data + at + len, svg->data + at, svg->len - len - at);
  memcpy (svg->data + at, meta, len);
}

static gboolean
save_chart (gconstpointer chart, DrawFunc draw, DescribeFunc describe, const char *path,
            int width, int height, GError **error)
{
  g_autofree char *lower = g_ascii_strdown (path, -1);
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  g_autoptr (GString) title = g_string_new (NULL);
  g_autoptr (GString) desc = g_string_new (NULL);
  gboolean svg = g_str_has_suffix (lower, ".svg"), pdf = g_str_has_suffix (lower, ".pdf");
  cairo_status_t status;

  if (!svg && !pdf && !g_str_has_suffix (lower, ".png"))
    {
      g_autofree char *display = g_filename_display_name (path);

      g_set_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_FORMAT,
                   "Cannot save “%s”: the name must end in .png, .svg or .pdf", display);
      return FALSE;
    }
  if (!check_size (width, height, error))
    return FALSE;
  if (svg || pdf)
    describe (chart, title, desc);
  {
    g_autoptr (cairo_surface_t) surface = NULL;
    g_autoptr (cairo_t) cr = NULL;

    if (svg)
      {
        surface = cairo_svg_surface_create_for_stream (append_bytes, bytes, width, height);
        /* Pixels, as the size was given; cairo's default, points, would enlarge it by 4/3. */
        cairo_svg_surface_set_document_unit (surface, CAIRO_SVG_UNIT_PX);
      }
    else if (pdf)
      {
        /* One point per pixel: the page is the chart's size at 72 dpi. */
        surface = cairo_pdf_surface_create_for_stream (append_bytes, bytes, width, height);
        cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_TITLE, title->str);
        cairo_pdf_surface_set_metadata (surface, CAIRO_PDF_METADATA_SUBJECT, desc->str);
      }
    else
      surface = cairo_image_surface_create (CAIRO_FORMAT_ARGB32, width, height);
    cr = cairo_create (surface);
    if (!draw (chart, cr, width, height, error))
      return FALSE;
    if (svg || pdf)
      {
        cairo_surface_finish (surface);
        status = cairo_surface_status (surface);
      }
    else
      status = cairo_surface_write_to_png_stream (surface, append_bytes, bytes);
  }
  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_autofree char *display = g_filename_display_name (path);

      g_set_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_CAIRO, "Could not render “%s”: %s",
                   display, cairo_status_to_string (status));
      return FALSE;
    }
  if (svg)
    svg_insert_description (bytes, title->str, desc->str);
  return write_atomically (path, bytes->data, bytes->len, error);
}

/* ---- learning curves ---- */

typedef struct
{
  guint n;
  double *x; /* increasing */
  double *y;
} Run;

typedef struct
{
  char *name;
  GPtrArray *runs; /* of Run */
} Series;

typedef struct
{
  double y;
  char *label;
} Reference;

struct _VetoPlotCurves
{
  char *title;
  char *x_label;
  char *y_label;
  GPtrArray *series; /* of Series, in order of first appearance */
  GArray *references;
  VetoPlotBand band;
  double y_min, y_max; /* NAN: fit the data */
};

/* A series reduced to what is drawn: at each x of the union of its runs, the mean and the
 * band's edges over the runs covering x. */
typedef struct
{
  guint n;
  double *x;
  double *mean;
  double *lo;
  double *hi;
} Summary;

typedef struct
{
  Style st;
  Axis x, y;           /* y.d0 is the bottom of the plot area, y.d1 its top */
  double title_h;      /* 0 without a title */
  double label_h;      /* height of an axis title line */
  double tick_h;       /* height of a tick label line */
} CurvesLayout;

static void
run_free (gpointer data)
{
  Run *run = data;

  g_free (run->x);
  g_free (run->y);
  g_free (run);
}

static void
series_free (gpointer data)
{
  Series *series = data;

  g_free (series->name);
  g_ptr_array_unref (series->runs);
  g_free (series);
}

static void
reference_clear (gpointer data)
{
  Reference *ref = data;

  g_free (ref->label);
}

static void
summary_free (gpointer data)
{
  Summary *summary = data;

  g_free (summary->x);
  g_free (summary->mean);
  g_free (summary->lo);
  g_free (summary->hi);
  g_free (summary);
}

VetoPlotCurves *
veto_plot_curves_new (const char *title,
                      const char *x_label,
                      const char *y_label)
{
  VetoPlotCurves *curves = g_new0 (VetoPlotCurves, 1);

  curves->title = g_strdup (title);
  curves->x_label = g_strdup (x_label);
  curves->y_label = g_strdup (y_label);
  curves->series = g_ptr_array_new_with_free_func (series_free);
  curves->references = g_array_new (FALSE, FALSE, sizeof (Reference));
  g_array_set_clear_func (curves->references, reference_clear);
  curves->band = VETO_PLOT_BAND_STD;
  curves->y_min = NAN;
  curves->y_max = NAN;
  return curves;
}

void
veto_plot_curves_free (VetoPlotCurves *curves)
{
  if (curves == NULL)
    return;
  g_free (curves->title);
  g_free (curves->x_label);
  g_free (curves->y_label);
  g_ptr_array_unref (curves->series);
  g_array_unref (curves->references);
  g_free (curves);
}

typedef struct
{
  double x, y;
} Point;

static int
point_compare (gconstpointer a, gconstpointer b)
{
  double xa = ((const Point *) a)->x, xb = ((const Point *) b)->x;

  return (xa > xb) - (xa < xb);
}

gboolean
veto_plot_curves_add_run (VetoPlotCurves *curves,
                          const char     *series,
                          const double   *x,
                          const double   *y,
                          guint           n,
                          GError        **error)
{
  g_autofree Point *points = NULL;
  Series *target = NULL;
  Run *run;

  g_return_val_if_fail (curves != NULL && series != NULL, FALSE);
  g_return_val_if_fail (n == 0 || (x != NULL && y != NULL), FALSE);

  if (n == 0)
    {
      g_set_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT, "A run of “%s” has no points",
                   series);
      return FALSE;
    }
  points = g_new (Point, n);
  for (guint i = 0; i < n; i++)
    {
      if (!isfinite (x[i]) || !isfinite (y[i]))
        {
          g_set_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT,
                       "Point %u of a run of “%s” is not finite (%g, %g)", i, series, x[i], y[i]);
          return FALSE;
        }
      points[i] = (Point) { x[i], y[i] };
    }
  qsort (points, n, sizeof (Point), point_compare);
  for (guint i = 1; i < n; i++)
    if (points[i].x == points[i - 1].x)
      {
        g_set_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT,
                     "A run of “%s” has two points at x = %g", series, points[i].x);
        return FALSE;
      }

  for (guint s = 0; s < curves->series->len && target == NULL; s++)
    if (g_str_equal (((Series *) curves->series->pdata[s])->name, series))
      target = curves->series->pdata[s];
  if (target == NULL)
    {
      target = g_new0 (Series, 1);
      target->name = g_strdup (series);
      target->runs = g_ptr_array_new_with_free_func (run_free);
      g_ptr_array_add (curves->series, target);
    }
  run = g_new0 (Run, 1);
  run->n = n;
  run->x = g_new (double, n);
  run->y = g_new (double, n);
  for (guint i = 0; i < n; i++)
    {
      run->x[i] = points[i].x;
      run->y[i] = points[i].y;
    }
  g_ptr_array_add (target->runs, run);
  return TRUE;
}

gboolean
veto_plot_curves_add_reference (VetoPlotCurves *curves,
                                double          y,
                                const char     *label,
                                GError        **error)
{
  Reference ref;

  g_return_val_if_fail (curves != NULL, FALSE);

  if (!isfinite (y))
    {
      g_set_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT,
                   "Reference line “%s” is not at a finite height", label ? label : "");
      return FALSE;
    }
  ref.y = y;
  ref.label = g_strdup (label);
  g_array_append_val (curves->references, ref);
  return TRUE;
}

void
veto_plot_curves_set_band (VetoPlotCurves *curves,
                           VetoPlotBand    band)
{
  g_return_if_fail (curves != NULL);

  curves->band = band;
}

void
veto_plot_curves_set_y_range (VetoPlotCurves *curves,
                              double          min,
                              double          max)
{
  g_return_if_fail (curves != NULL);
  g_return_if_fail ((isnan (min) && isnan (max))
                    || (isfinite (min) && isfinite (max) && min < max));

  curves->y_min = min;
  curves->y_max = max;
}

/* The run's value at x, linearly interpolated; FALSE when x is outside the run's range. */
static gboolean
run_at (const Run *run, double x, double *out_y)
{
  guint lo = 0, hi = run->n - 1;
  double t;

  if (x < run->x[0] || x > run->x[hi])
    return FALSE;
  if (run->n == 1)
    {
      *out_y = run->y[0];
      return TRUE;
    }
  while (hi - lo > 1)
    {
      guint mid = (lo + hi) / 2;

      if (run->x[mid] <= x)
        lo = mid;
      else
        hi = mid;
    }
  t = (x - run->x[lo]) / (run->x[hi] - run->x[lo]);
  *out_y = (1 - t) * run->y[lo] + t * run->y[hi];
  return TRUE;
}

static int
double_compare (gconstpointer a, gconstpointer b)
{
  double da = *(const double *) a, db = *(const double *) b;

  return (da > db) - (da < db);
}

static Summary *
summary_new (const Series *series, VetoPlotBand band)
{
  g_autoptr (GArray) xs = g_array_new (FALSE, FALSE, sizeof (double));
  Summary *summary = g_new0 (Summary, 1);
  guint n = 0;

  for (guint r = 0; r < series->runs->len; r++)
    {
      const Run *run = series->runs->pdata[r];

      g_array_append_vals (xs, run->x, run->n);
    }
  g_array_sort (xs, double_compare);
  for (guint i = 0; i < xs->len; i++)
    if (n == 0 || g_array_index (xs, double, i) != g_array_index (xs, double, n - 1))
      g_array_index (xs, double, n++) = g_array_index (xs, double, i);

  summary->n = n;
  summary->x = g_memdup2 (xs->data, n * sizeof (double));
  summary->mean = g_new (double, n);
  summary->lo = g_new (double, n);
  summary->hi = g_new (double, n);
  for (guint i = 0; i < n; i++)
    {
      double mean = 0, m2 = 0, min = INFINITY, max = -INFINITY;
      guint count = 0;

      /* Welford's update: one pass, no cancellation when runs agree to many digits. */
      for (guint r = 0; r < series->runs->len; r++)
        {
          double y, delta;

          if (!run_at (series->runs->pdata[r], summary->x[i], &y))
            continue;
          count++;
          delta = y - mean;
          mean += delta / count;
          m2 += delta * (y - mean);
          min = MIN (min, y);
          max = MAX (max, y);
        }
      summary->mean[i] = mean;
      switch (band)
        {
        case VETO_PLOT_BAND_STD:
          summary->lo[i] = mean - sqrt (m2 / count);
          summary->hi[i] = mean + sqrt (m2 / count);
          break;
        case VETO_PLOT_BAND_MINMAX:
          summary->lo[i] = min;
          summary->hi[i] = max;
          break;
        case VETO_PLOT_BAND_NONE:
        default:
          summary->lo[i] = mean;
          summary->hi[i] = mean;
          break;
        }
    }
  return summary;
}

static GPtrArray *
curves_summaries (const VetoPlotCurves *curves, GError **error)
{
  GPtrArray *summaries;

  if (curves->series->len == 0)
    {
      g_set_error_literal (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT, "No series to draw");
      return NULL;
    }
  summaries = g_ptr_array_new_with_free_func (summary_free);
  for (guint s = 0; s < curves->series->len; s++)
    g_ptr_array_add (summaries, summary_new (curves->series->pdata[s], curves->band));
  return summaries;
}

/* Axis ranges and the plot area, measured with a scratch context so that veto_plot_curves_to_device
 * and every surface drawn on agree to the pixel. */
static gboolean
curves_layout (const VetoPlotCurves *curves, GPtrArray *summaries, double width, double height,
               CurvesLayout *out, GError **error)
{
  g_autoptr (cairo_t) m = measure_context_new ();
  const Style *st = &out->st;
  double xmin = INFINITY, xmax = -INFINITY, ymin = INFINITY, ymax = -INFINITY;
  double top, bottom, left, right, y_labels_w, overhang;
  gboolean fixed_y = !isnan (curves->y_min), whole_x = TRUE;
  g_autofree char *last_label = NULL;

  if (!check_size (width, height, error))
    return FALSE;
  *out = (CurvesLayout) { .st = style_new (width, height) };

  for (guint s = 0; s < summaries->len; s++)
    {
      const Summary *summary = summaries->pdata[s];

      xmin = MIN (xmin, summary->x[0]);
      xmax = MAX (xmax, summary->x[summary->n - 1]);
      whole_x = whole_x && all_whole (summary->x, summary->n);
      for (guint i = 0; i < summary->n; i++)
        {
          ymin = MIN (ymin, summary->lo[i]);
          ymax = MAX (ymax, summary->hi[i]);
        }
    }
  for (guint r = 0; r < curves->references->len; r++)
    {
      double y = g_array_index (curves->references, Reference, r).y;

      ymin = MIN (ymin, y);
      ymax = MAX (ymax, y);
    }
  range_widen (&xmin, &xmax);
  range_widen (&ymin, &ymax);
  out->x.whole = whole_x;
  out->x.lo = xmin - 0.02 * (xmax - xmin);
  out->x.hi = xmax + 0.02 * (xmax - xmin);
  out->y.lo = fixed_y ? curves->y_min : ymin - 0.05 * (ymax - ymin);
  out->y.hi = fixed_y ? curves->y_max : ymax + 0.05 * (ymax - ymin);

  font_set (m, st->big, TRUE);
  out->title_h = has_text (curves->title) ? text_height (m) : 0;
  font_set (m, st->font, FALSE);
  out->label_h = text_height (m);
  font_set (m, st->small, FALSE);
  out->tick_h = text_height (m);

  top = st->pad + (out->title_h > 0 ? out->title_h + st->gap * 1.5 : out->tick_h / 2);
  bottom = st->pad + st->gap + out->tick_h
           + (has_text (curves->x_label) ? st->gap + out->label_h : 0);
  out->y.d0 = height - bottom;
  out->y.d1 = top;
  if (out->y.d0 - out->y.d1 < st->font * 2)
    return too_small (width, height, error);
  axis_set_ticks (&out->y, CLAMP ((out->y.d0 - out->y.d1) / (out->tick_h * 2.6), 2, 12));

  y_labels_w = axis_widest_label (&out->y, m);
  left = st->pad + (has_text (curves->y_label) ? out->label_h + st->gap : 0) + y_labels_w
         + st->gap;
  right = st->pad;
  out->x.d0 = left;
  out->x.d1 = width - right;
  if (out->x.d1 - out->x.d0 < st->font * 4)
    return too_small (width, height, error);
  axis_set_ticks_horizontal (&out->x, m, st->small * 5);

  /* The last tick label is centred on its tick: pull the right edge in if it would overflow. */
  last_label = axis_tick_label (&out->x, out->x.last);
  overhang = axis_map (&out->x, out->x.last * out->x.step) + text_width (m, last_label) / 2
             - (width - st->pad / 2);
  if (overhang > 0)
    out->x.d1 -= overhang;
  return TRUE;
}

static gboolean
curves_prepare (const VetoPlotCurves *curves, double width, double height,
                GPtrArray **out_summaries, CurvesLayout *out_layout, GError **error)
{
  g_autoptr (GPtrArray) summaries = curves_summaries (curves, error);

  if (summaries == NULL || !curves_layout (curves, summaries, width, height, out_layout, error))
    return FALSE;
  *out_summaries = g_steal_pointer (&summaries);
  return TRUE;
}

gboolean
veto_plot_curves_to_device (const VetoPlotCurves *curves,
                            double                width,
                            double                height,
                            double                x,
                            double                y,
                            double               *out_x,
                            double               *out_y,
                            GError              **error)
{
  g_autoptr (GPtrArray) summaries = NULL;
  CurvesLayout layout;

  g_return_val_if_fail (curves != NULL, FALSE);

  if (!curves_prepare (curves, width, height, &summaries, &layout, error))
    return FALSE;
  *out_x = axis_map (&layout.x, x);
  *out_y = axis_map (&layout.y, y);
  return TRUE;
}

static void
series_line_style (cairo_t *cr, guint index, double line)
{
  guint style = index / G_N_ELEMENTS (palette) % 3;
  double dashes[2][2] = { { line * 4, line * 2 }, { line * 1, line * 1.8 } };

  set_rgb (cr, palette[index % G_N_ELEMENTS (palette)], 1);
  cairo_set_line_width (cr, line);
  cairo_set_line_cap (cr, style == 2 ? CAIRO_LINE_CAP_ROUND : CAIRO_LINE_CAP_BUTT);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  if (style == 0)
    cairo_set_dash (cr, NULL, 0, 0);
  else
    cairo_set_dash (cr, dashes[style - 1], 2, 0);
}

static void
marker_draw (cairo_t *cr, guint index, double x, double y, double line)
{
  cairo_new_path (cr);
  cairo_arc (cr, x, y, line * 1.7, 0, 2 * G_PI);
  set_rgb (cr, palette[index % G_N_ELEMENTS (palette)], 1);
  cairo_fill_preserve (cr);
  cairo_set_source_rgb (cr, 1, 1, 1);
  cairo_set_dash (cr, NULL, 0, 0);
  cairo_set_line_width (cr, line * 0.6);
  cairo_stroke (cr);
}

/* Markers only where points are far enough apart to be told from the line. */
static gboolean
summary_has_markers (const Summary *summary, const CurvesLayout *l)
{
  return summary->n == 1 || (l->x.d1 - l->x.d0) / summary->n >= l->st.line * 7;
}

static void
curves_draw_grid (const CurvesLayout *l, cairo_t *cr)
{
  cairo_set_line_width (cr, 1);
  set_rgb (cr, grid_rgb, 1);
  for (gint64 k = l->x.first; k <= l->x.last; k++)
    {
      double px = crisp (axis_map (&l->x, k * l->x.step));

      cairo_move_to (cr, px, l->y.d1);
      cairo_line_to (cr, px, l->y.d0);
    }
  for (gint64 k = l->y.first; k <= l->y.last; k++)
    {
      double py = crisp (axis_map (&l->y, k * l->y.step));

      cairo_move_to (cr, l->x.d0, py);
      cairo_line_to (cr, l->x.d1, py);
    }
  cairo_stroke (cr);

  font_set (cr, l->st.small, FALSE);
  set_rgb (cr, muted, 1);
  for (gint64 k = l->x.first; k <= l->x.last; k++)
    {
      g_autofree char *label = axis_tick_label (&l->x, k);

      text_draw (cr, label, axis_map (&l->x, k * l->x.step), l->y.d0 + l->st.gap, 0.5, 0);
    }
  for (gint64 k = l->y.first; k <= l->y.last; k++)
    {
      g_autofree char *label = axis_tick_label (&l->y, k);

      text_draw (cr, label, l->x.d0 - l->st.gap, axis_map (&l->y, k * l->y.step), 1, 0.5);
    }
}

static void
curves_draw_data (const VetoPlotCurves *curves, GPtrArray *summaries, const CurvesLayout *l,
                  cairo_t *cr)
{
  cairo_save (cr);
  cairo_rectangle (cr, l->x.d0, l->y.d1, l->x.d1 - l->x.d0, l->y.d0 - l->y.d1);
  cairo_clip (cr);

  if (curves->band != VETO_PLOT_BAND_NONE)
    for (guint s = 0; s < summaries->len; s++)
      {
        const Summary *summary = summaries->pdata[s];

        if (summary->n < 2)
          continue;
        for (guint i = 0; i < summary->n; i++)
          cairo_line_to (cr, axis_map (&l->x, summary->x[i]), axis_map (&l->y, summary->hi[i]));
        for (guint i = summary->n; i-- > 0;)
          cairo_line_to (cr, axis_map (&l->x, summary->x[i]), axis_map (&l->y, summary->lo[i]));
        cairo_close_path (cr);
        set_rgb (cr, palette[s % G_N_ELEMENTS (palette)], 0.18);
        cairo_fill (cr);
      }

  for (guint s = 0; s < summaries->len; s++)
    {
      const Summary *summary = summaries->pdata[s];

      for (guint i = 0; i < summary->n; i++)
        cairo_line_to (cr, axis_map (&l->x, summary->x[i]), axis_map (&l->y, summary->mean[i]));
      series_line_style (cr, s, l->st.line);
      cairo_stroke (cr);
      if (summary_has_markers (summary, l))
        for (guint i = 0; i < summary->n; i++)
          marker_draw (cr, s, axis_map (&l->x, summary->x[i]),
                       axis_map (&l->y, summary->mean[i]), l->st.line);
    }
  cairo_restore (cr);
}

typedef struct
{
  double x, y, w, h;
} Box;

static gboolean
box_overlaps (const Box *a, const Box *b)
{
  return a->x < b->x + b->w && b->x < a->x + a->w && a->y < b->y + b->h && b->y < a->y + a->h;
}

static gboolean
box_contains (const Box *box, double x, double y)
{
  return x >= box->x && x <= box->x + box->w && y >= box->y && y <= box->y + box->h;
}

static void
curves_draw_references (const VetoPlotCurves *curves, const CurvesLayout *l, cairo_t *cr)
{
  g_autoptr (GArray) placed = g_array_new (FALSE, FALSE, sizeof (Box));
  double dashes[] = { l->st.line * 3, l->st.line * 2 };

  for (guint r = 0; r < curves->references->len; r++)
    {
      const Reference *ref = &g_array_index (curves->references, Reference, r);
      double py = axis_map (&l->y, ref->y);

      if (py < l->y.d1 - 0.5 || py > l->y.d0 + 0.5)
        continue;
      set_rgb (cr, muted, 1);
      cairo_set_line_width (cr, MAX (1, l->st.line * 0.7));
      cairo_set_dash (cr, dashes, 2, 0);
      cairo_move_to (cr, l->x.d0, py);
      cairo_line_to (cr, l->x.d1, py);
      cairo_stroke (cr);
      cairo_set_dash (cr, NULL, 0, 0);
    }

  font_set (cr, l->st.small, FALSE);
  for (guint r = 0; r < curves->references->len; r++)
    {
      const Reference *ref = &g_array_index (curves->references, Reference, r);
      double py = axis_map (&l->y, ref->y);
      double w, h = text_height (cr), inset = l->st.gap, lift = l->st.line;
      Box box = { 0 };

      if (!has_text (ref->label) || py < l->y.d1 - 0.5 || py > l->y.d0 + 0.5)
        continue;
      w = text_width (cr, ref->label);
      /* Above the line at the right, else below it, else at the left: labels of close lines
       * must not cover one another. */
      for (guint attempt = 0; attempt < 4; attempt++)
        {
          gboolean clash = FALSE;

          box.x = attempt < 2 ? l->x.d1 - inset - w : l->x.d0 + inset;
          box.y = attempt % 2 == 0 ? py - lift - h : py + lift;
          box.w = w;
          box.h = h;
          for (guint p = 0; p < placed->len && !clash; p++)
            clash = box_overlaps (&box, &g_array_index (placed, Box, p));
          if (!clash && box.y >= l->y.d1 && box.y + h <= l->y.d0)
            break;
        }
      g_array_append_val (placed, box);
      cairo_set_source_rgba (cr, 1, 1, 1, 0.8);
      cairo_rectangle (cr, box.x - 2, box.y, box.w + 4, box.h);
      cairo_fill (cr);
      set_rgb (cr, ink, 1);
      text_draw (cr, ref->label, box.x, box.y, 0, 0);
    }
}

/* How much of what is drawn inside the plot area falls in box: points sampled every two
 * device units along every drawn line. */
static guint
curves_overlap (const VetoPlotCurves *curves, GPtrArray *summaries, const CurvesLayout *l,
                const Box *box)
{
  guint hits = 0;

  for (guint s = 0; s < summaries->len; s++)
    {
      const Summary *summary = summaries->pdata[s];
      const double *lines[] = { summary->mean, summary->lo, summary->hi };

      for (guint k = 0; k < G_N_ELEMENTS (lines); k++)
        for (guint i = 0; i < summary->n; i++)
          {
            double ax = axis_map (&l->x, summary->x[i]), ay = axis_map (&l->y, lines[k][i]);
            double bx = i + 1 < summary->n ? axis_map (&l->x, summary->x[i + 1]) : ax;
            double by = i + 1 < summary->n ? axis_map (&l->y, lines[k][i + 1]) : ay;
            guint steps = (guint) MIN (hypot (bx - ax, by - ay) / 2, 10000) + 1;

            for (guint t = 0; t < steps; t++)
              hits += box_contains (box, ax + (bx - ax) * t / steps, ay + (by - ay) * t / steps);
          }
    }
  for (guint r = 0; r < curves->references->len; r++)
    {
      double py = axis_map (&l->y, g_array_index (curves->references, Reference, r).y);

      if (py >= box->y && py <= box->y + box->h)
        hits += (guint) (box->w / 2);
    }
  return hits;
}

static void
curves_draw_legend (const VetoPlotCurves *curves, GPtrArray *summaries, const CurvesLayout *l,
                    cairo_t *cr)
{
  double inner = l->st.small * 0.7, sample = l->st.small * 2.2;
  double row, names_w = 0, best_x = 0, best_y = 0;
  guint best = G_MAXUINT;
  Box box;

  font_set (cr, l->st.small, FALSE);
  row = text_height (cr) * 1.25;
  for (guint s = 0; s < curves->series->len; s++)
    names_w = MAX (names_w, text_width (cr, ((Series *) curves->series->pdata[s])->name));
  box.w = inner * 2 + sample + l->st.gap + names_w;
  box.h = inner * 2 + row * curves->series->len - (row - text_height (cr));

  /* Of the four corners, the one hiding the least data; ties go to the first listed. */
  for (guint corner = 0; corner < 4; corner++)
    {
      double margin = l->st.gap * 1.5;
      guint hits;

      box.x = corner % 2 == 0 ? l->x.d1 - margin - box.w : l->x.d0 + margin;
      box.y = corner < 2 ? l->y.d0 - margin - box.h : l->y.d1 + margin;
      hits = curves_overlap (curves, summaries, l, &box);
      if (hits < best)
        {
          best = hits;
          best_x = box.x;
          best_y = box.y;
        }
    }
  box.x = best_x;
  box.y = best_y;

  rounded_rectangle (cr, box.x, box.y, box.w, box.h, l->st.gap * 0.6);
  cairo_set_source_rgba (cr, 1, 1, 1, 0.9);
  cairo_fill_preserve (cr);
  set_rgb (cr, frame_rgb, 0.6);
  cairo_set_line_width (cr, 1);
  cairo_stroke (cr);

  for (guint s = 0; s < summaries->len; s++)
    {
      const Series *series = curves->series->pdata[s];
      double top = box.y + inner + s * row, mid = top + text_height (cr) / 2;
      double x0 = box.x + inner;

      if (curves->band != VETO_PLOT_BAND_NONE && series->runs->len > 1)
        {
          set_rgb (cr, palette[s % G_N_ELEMENTS (palette)], 0.18);
          cairo_rectangle (cr, x0, mid - row * 0.3, sample, row * 0.6);
          cairo_fill (cr);
        }
      cairo_move_to (cr, x0, mid);
      cairo_line_to (cr, x0 + sample, mid);
      series_line_style (cr, s, l->st.line);
      cairo_stroke (cr);
      if (summary_has_markers (summaries->pdata[s], l))
        marker_draw (cr, s, x0 + sample / 2, mid, l->st.line);
      set_rgb (cr, ink, 1);
      text_draw (cr, series->name, x0 + sample + l->st.gap, top, 0, 0);
    }
}

static gboolean
curves_draw (gconstpointer chart, cairo_t *cr, double width, double height, GError **error)
{
  const VetoPlotCurves *curves = chart;
  g_autoptr (GPtrArray) summaries = NULL;
  CurvesLayout l;

  if (!curves_prepare (curves, width, height, &summaries, &l, error))
    return FALSE;

  cairo_save (cr);
  context_prepare (cr);
  fill_background (cr, width, height);
  curves_draw_grid (&l, cr);
  curves_draw_data (curves, summaries, &l, cr);
  curves_draw_references (curves, &l, cr);

  set_rgb (cr, frame_rgb, 1);
  cairo_set_line_width (cr, 1);
  cairo_rectangle (cr, crisp (l.x.d0), crisp (l.y.d1), round (l.x.d1 - l.x.d0),
                   round (l.y.d0 - l.y.d1));
  cairo_stroke (cr);

  set_rgb (cr, ink, 1);
  if (has_text (curves->title))
    {
      font_set (cr, l.st.big, TRUE);
      text_draw (cr, curves->title, (l.x.d0 + l.x.d1) / 2, l.st.pad, 0.5, 0);
    }
  font_set (cr, l.st.font, FALSE);
  if (has_text (curves->x_label))
    text_draw (cr, curves->x_label, (l.x.d0 + l.x.d1) / 2, height - l.st.pad, 0.5, 1);
  if (has_text (curves->y_label))
    text_draw_vertical (cr, curves->y_label, l.st.pad + l.label_h / 2, (l.y.d0 + l.y.d1) / 2);

  curves_draw_legend (curves, summaries, &l, cr);
  cairo_restore (cr);
  return check_cairo (cr, error);
}

gboolean
veto_plot_curves_draw (const VetoPlotCurves *curves,
                       cairo_t              *cr,
                       double                width,
                       double                height,
                       GError              **error)
{
  g_return_val_if_fail (curves != NULL && cr != NULL, FALSE);

  return curves_draw (curves, cr, width, height, error);
}

static void
curves_describe (gconstpointer chart, GString *title, GString *desc)
{
  const VetoPlotCurves *curves = chart;

  g_string_append (title, has_text (curves->title) ? curves->title : "Learning curves");
  g_string_append_printf (desc, "x: %s; y: %s; series:", curves->x_label ? curves->x_label : "",
                          curves->y_label ? curves->y_label : "");
  for (guint s = 0; s < curves->series->len; s++)
    {
      const Series *series = curves->series->pdata[s];

      g_string_append_printf (desc, "%s %s (%u runs)", s ? "," : "", series->name,
                              series->runs->len);
    }
  for (guint r = 0; r < curves->references->len; r++)
    {
      const Reference *ref = &g_array_index (curves->references, Reference, r);

      g_string_append_printf (desc, "; reference %s at %g", ref->label ? ref->label : "", ref->y);
    }
}

gboolean
veto_plot_curves_save (const VetoPlotCurves *curves,
                       const char           *path,
                       int                   width,
                       int                   height,
                       GError              **error)
{
  g_return_val_if_fail (curves != NULL && path != NULL, FALSE);

  return save_chart (curves, curves_draw, curves_describe, path, width, height, error);
}

/* ---- matrix heatmap ---- */

struct _VetoPlotMatrix
{
  guint k;
  double *values;
  char **labels;
  char *title;
  char *row_title;
  char *column_title;
  VetoPlotValueFormat format;
};

VetoPlotMatrix *
veto_plot_matrix_new (const double      *values,
                      guint              k,
                      const char *const *labels)
{
  VetoPlotMatrix *matrix;

  g_return_val_if_fail (k == 0 || values != NULL, NULL);

  matrix = g_new0 (VetoPlotMatrix, 1);
  matrix->k = k;
  matrix->values = g_memdup2 (values, (gsize) k * k * sizeof (double));
  matrix->labels = g_new0 (char *, k + 1);
  for (guint i = 0; i < k; i++)
    matrix->labels[i] = labels && labels[i] ? g_strdup (labels[i]) : g_strdup_printf ("%u", i);
  matrix->row_title = g_strdup ("true class");
  matrix->column_title = g_strdup ("predicted class");
  return matrix;
}

void
veto_plot_matrix_free (VetoPlotMatrix *matrix)
{
  if (matrix == NULL)
    return;
  g_free (matrix->values);
  g_strfreev (matrix->labels);
  g_free (matrix->title);
  g_free (matrix->row_title);
  g_free (matrix->column_title);
  g_free (matrix);
}

void
veto_plot_matrix_set_titles (VetoPlotMatrix *matrix,
                             const char     *title,
                             const char     *row_title,
                             const char     *column_title)
{
  g_return_if_fail (matrix != NULL);

  g_free (matrix->title);
  g_free (matrix->row_title);
  g_free (matrix->column_title);
  matrix->title = g_strdup (title);
  matrix->row_title = g_strdup (row_title);
  matrix->column_title = g_strdup (column_title);
}

void
veto_plot_matrix_set_value_format (VetoPlotMatrix     *matrix,
                                   VetoPlotValueFormat format)
{
  g_return_if_fail (matrix != NULL);

  matrix->format = format;
}

static gboolean
matrix_check (const VetoPlotMatrix *matrix, GError **error)
{
  if (matrix->k == 0)
    {
      g_set_error_literal (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT, "The matrix is empty");
      return FALSE;
    }
  for (guint i = 0; i < matrix->k; i++)
    for (guint j = 0; j < matrix->k; j++)
      if (isinf (matrix->values[(gsize) i * matrix->k + j]))
        {
          g_set_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT,
                       "Cell (%s, %s) of the matrix is infinite", matrix->labels[i],
                       matrix->labels[j]);
          return FALSE;
        }
  return TRUE;
}

static void
matrix_draw_colorbar (const Axis *scale, double x, double w, const Style *st, cairo_t *cr)
{
  g_autoptr (cairo_pattern_t) gradient = cairo_pattern_create_linear (0, scale->d0, 0, scale->d1);

  for (guint i = 0; i < G_N_ELEMENTS (blues); i++)
    cairo_pattern_add_color_stop_rgb (gradient, (double) i / (G_N_ELEMENTS (blues) - 1),
                                      blues[i].r, blues[i].g, blues[i].b);
  cairo_rectangle (cr, x, scale->d1, w, scale->d0 - scale->d1);
  cairo_set_source (cr, gradient);
  cairo_fill_preserve (cr);
  set_rgb (cr, frame_rgb, 1);
  cairo_set_line_width (cr, 1);
  cairo_stroke (cr);

  font_set (cr, st->small, FALSE);
  for (gint64 k = scale->first; k <= scale->last; k++)
    {
      g_autofree char *label = axis_tick_label (scale, k);
      double py = axis_map (scale, k * scale->step);

      set_rgb (cr, frame_rgb, 1);
      cairo_move_to (cr, x + w, crisp (py));
      cairo_line_to (cr, x + w + st->gap * 0.6, crisp (py));
      cairo_stroke (cr);
      set_rgb (cr, muted, 1);
      text_draw (cr, label, x + w + st->gap, py, 0, 0.5);
    }
}

static gboolean
matrix_draw (gconstpointer chart, cairo_t *cr, double width, double height, GError **error)
{
  const VetoPlotMatrix *matrix = chart;
  guint k = matrix->k;
  gsize cells = (gsize) k * k;
  Style st;
  Axis scale = { 0 };
  gboolean integer, rotate = FALSE, show_labels, show_values;
  double vmin = 0, vmax = -INFINITY, title_h = 0, font_h, label_font, label_h;
  double top, bottom, left, right, bar_w, avail_w, avail_h, rows_w = 0, cols_w = 0, cols_h;
  double cell, mx, my, side, value_font;

  if (!check_size (width, height, error) || !matrix_check (matrix, error))
    return FALSE;
  st = style_new (width, height);
  integer = matrix->format == VETO_PLOT_VALUES_INTEGER
            || (matrix->format == VETO_PLOT_VALUES_AUTO && all_whole (matrix->values, cells));
  for (gsize i = 0; i < cells; i++)
    if (!isnan (matrix->values[i]))
      {
        vmin = MIN (vmin, matrix->values[i]);
        vmax = MAX (vmax, matrix->values[i]);
      }
  if (!(vmax > vmin))
    vmax = vmin + 1;

  cairo_save (cr);
  context_prepare (cr);
  fill_background (cr, width, height);

  font_set (cr, st.big, TRUE);
  if (has_text (matrix->title))
    title_h = text_height (cr);
  font_set (cr, st.font, FALSE);
  font_h = text_height (cr);
  top = st.pad + (title_h > 0 ? title_h + st.gap * 2 : 0);
  bottom = st.pad + (has_text (matrix->column_title) ? font_h + st.gap : 0);
  left = st.pad + (has_text (matrix->row_title) ? font_h + st.gap : 0);

  scale.lo = vmin;
  scale.hi = vmax;
  axis_set_ticks (&scale, 5);
  font_set (cr, st.small, FALSE);
  bar_w = st.small * 1.1;
  right = st.pad + st.font * 1.2 + bar_w + st.gap + axis_widest_label (&scale, cr);
  avail_w = width - left - right;
  avail_h = height - top - bottom;

  /* Labels shrink with the cells so that a 100-class matrix still draws; below a legible
   * size they are left out rather than smeared. */
  label_font = MIN (st.font, MIN (avail_w, avail_h) * 0.8 / k * 0.6);
  show_labels = label_font >= 5;
  font_set (cr, label_font, FALSE);
  label_h = text_height (cr);
  if (show_labels)
    for (guint i = 0; i < k; i++)
      {
        double w = text_width (cr, matrix->labels[i]);

        rows_w = MAX (rows_w, w);
        cols_w = MAX (cols_w, w);
      }
  rows_w += show_labels ? st.gap : 0;
  cols_h = show_labels ? label_h + st.gap : 0;
  cell = MIN (avail_w - rows_w, avail_h - cols_h) / k;
  if (show_labels && cols_w > cell * 0.92)
    {
      /* Long names are turned 45°; the first may then reach left past the row labels. */
      rotate = TRUE;
      cols_h = (cols_w + label_h) * G_SQRT2 / 2 + st.gap;
      cell = MIN (avail_w - rows_w, avail_h - cols_h) / k;
      rows_w = MAX (rows_w, cols_w * G_SQRT2 / 2 - cell / 2);
      cell = MIN (avail_w - rows_w, avail_h - cols_h) / k;
    }
  if (cell < 2)
    {
      cairo_restore (cr);
      return too_small (width, height, error);
    }
  side = cell * k;
  mx = left + rows_w + (avail_w - rows_w - side) / 2;
  my = top + (avail_h - cols_h - side) / 2;

  value_font = MIN (st.font, cell * 0.36);
  font_set (cr, value_font, FALSE);
  for (gsize i = 0; i < cells; i++)
    {
      g_autofree char *text = format_value (matrix->values[i], integer);
      double w = text_width (cr, text);

      if (w > cell * 0.86)
        value_font *= cell * 0.86 / w;
    }
  show_values = value_font >= 5;

  for (guint i = 0; i < k; i++)
    for (guint j = 0; j < k; j++)
      {
        double v = matrix->values[(gsize) i * k + j];
        Rgb fill = isnan (v) ? missing_rgb : blues_at ((v - vmin) / (vmax - vmin));

        set_rgb (cr, fill, 1);
        cairo_rectangle (cr, mx + j * cell, my + i * cell, cell, cell);
        cairo_fill (cr);
        if (show_values)
          {
            g_autofree char *text = format_value (v, integer);

            font_set (cr, value_font, FALSE);
            set_rgb (cr, isnan (v) ? muted : text_on (fill), 1);
            text_draw (cr, text, mx + (j + 0.5) * cell, my + (i + 0.5) * cell, 0.5, 0.5);
          }
      }
  if (cell >= 12)
    {
      cairo_set_source_rgb (cr, 1, 1, 1);
      cairo_set_line_width (cr, 1);
      for (guint i = 1; i < k; i++)
        {
          cairo_move_to (cr, mx + i * cell, my);
          cairo_line_to (cr, mx + i * cell, my + side);
          cairo_move_to (cr, mx, my + i * cell);
          cairo_line_to (cr, mx + side, my + i * cell);
        }
      cairo_stroke (cr);
    }
  set_rgb (cr, frame_rgb, 1);
  cairo_set_line_width (cr, 1);
  cairo_rectangle (cr, mx, my, side, side);
  cairo_stroke (cr);

  if (show_labels)
    {
      font_set (cr, label_font, FALSE);
      set_rgb (cr, ink, 1);
      for (guint i = 0; i < k; i++)
        {
          double cx = mx + (i + 0.5) * cell;

          text_draw (cr, matrix->labels[i], mx - st.gap, my + (i + 0.5) * cell, 1, 0.5);
          if (!rotate)
            text_draw (cr, matrix->labels[i], cx, my + side + st.gap, 0.5, 0);
          else
            {
              cairo_save (cr);
              cairo_translate (cr, cx, my + side + st.gap * 0.6);
              cairo_rotate (cr, -G_PI / 4);
              text_draw (cr, matrix->labels[i], -label_h * 0.3, label_h * 0.3, 1, 0.5);
              cairo_restore (cr);
            }
        }
    }

  scale.d0 = my + side;
  scale.d1 = my;
  matrix_draw_colorbar (&scale, mx + side + st.font * 1.2, bar_w, &st, cr);

  set_rgb (cr, ink, 1);
  if (title_h > 0)
    {
      font_set (cr, st.big, TRUE);
      text_draw (cr, matrix->title, width / 2, st.pad, 0.5, 0);
    }
  font_set (cr, st.font, FALSE);
  if (has_text (matrix->column_title))
    text_draw (cr, matrix->column_title, mx + side / 2, my + side + cols_h + st.gap, 0.5, 0);
  if (has_text (matrix->row_title))
    text_draw_vertical (cr, matrix->row_title, mx - rows_w - st.gap - font_h / 2, my + side / 2);

  cairo_restore (cr);
  return check_cairo (cr, error);
}

gboolean
veto_plot_matrix_draw (const VetoPlotMatrix *matrix,
                       cairo_t              *cr,
                       double                width,
                       double                height,
                       GError              **error)
{
  g_return_val_if_fail (matrix != NULL && cr != NULL, FALSE);

  return matrix_draw (matrix, cr, width, height, error);
}

static void
matrix_describe (gconstpointer chart, GString *title, GString *desc)
{
  const VetoPlotMatrix *matrix = chart;
  g_autofree char *labels = g_strjoinv (", ", matrix->labels);

  g_string_append (title, has_text (matrix->title) ? matrix->title : "Matrix");
  g_string_append_printf (desc, "%u × %u; rows: %s; columns: %s; classes: %s", matrix->k,
                          matrix->k, matrix->row_title ? matrix->row_title : "",
                          matrix->column_title ? matrix->column_title : "", labels);
}

gboolean
veto_plot_matrix_save (const VetoPlotMatrix *matrix,
                       const char           *path,
                       int                   width,
                       int                   height,
                       GError              **error)
{
  g_return_val_if_fail (matrix != NULL && path != NULL, FALSE);

  return save_chart (matrix, matrix_draw, matrix_describe, path, width, height, error);
}

/* ---- bar chart ---- */

typedef struct
{
  char *name;
  double value;
} Bar;

struct _VetoPlotBars
{
  char *title;
  char *value_label;
  GArray *bars;
  VetoPlotValueFormat format;
};

static void
bar_clear (gpointer data)
{
  Bar *bar = data;

  g_free (bar->name);
}

VetoPlotBars *
veto_plot_bars_new (const char *title,
                    const char *value_label)
{
  VetoPlotBars *bars = g_new0 (VetoPlotBars, 1);

  bars->title = g_strdup (title);
  bars->value_label = g_strdup (value_label);
  bars->bars = g_array_new (FALSE, FALSE, sizeof (Bar));
  g_array_set_clear_func (bars->bars, bar_clear);
  return bars;
}

void
veto_plot_bars_free (VetoPlotBars *bars)
{
  if (bars == NULL)
    return;
  g_free (bars->title);
  g_free (bars->value_label);
  g_array_unref (bars->bars);
  g_free (bars);
}

void
veto_plot_bars_add (VetoPlotBars *bars,
                    const char   *name,
                    double        value)
{
  Bar bar;

  g_return_if_fail (bars != NULL && name != NULL);

  bar.name = g_strdup (name);
  bar.value = value;
  g_array_append_val (bars->bars, bar);
}

void
veto_plot_bars_set_value_format (VetoPlotBars       *bars,
                                 VetoPlotValueFormat format)
{
  g_return_if_fail (bars != NULL);

  bars->format = format;
}

static gboolean
bars_check (const VetoPlotBars *bars, GError **error)
{
  if (bars->bars->len == 0)
    {
      g_set_error_literal (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT, "No bars to draw");
      return FALSE;
    }
  for (guint i = 0; i < bars->bars->len; i++)
    {
      const Bar *bar = &g_array_index (bars->bars, Bar, i);

      if (isinf (bar->value))
        {
          g_set_error (error, VETO_PLOT_ERROR, VETO_PLOT_ERROR_INPUT, "Bar “%s” is infinite",
                       bar->name);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
bars_draw (gconstpointer chart, cairo_t *cr, double width, double height, GError **error)
{
  const VetoPlotBars *bars = chart;
  guint n = bars->bars->len;
  g_autofree double *values = NULL;
  Style st;
  Axis axis = { 0 };
  gboolean integer, show_text;
  double lo = 0, hi = 0, title_h = 0, font_h, tick_h, top, bottom, left, row, font;
  double names_w = 0, right_w = 0, left_w = 0;

  if (!check_size (width, height, error) || !bars_check (bars, error))
    return FALSE;
  st = style_new (width, height);
  values = g_new (double, n);
  for (guint i = 0; i < n; i++)
    {
      values[i] = g_array_index (bars->bars, Bar, i).value;
      if (!isnan (values[i]))
        {
          lo = MIN (lo, values[i]);
          hi = MAX (hi, values[i]);
        }
    }
  if (!(hi > lo))
    hi = lo + 1;
  integer = bars->format == VETO_PLOT_VALUES_INTEGER
            || (bars->format == VETO_PLOT_VALUES_AUTO && all_whole (values, n));

  cairo_save (cr);
  context_prepare (cr);
  fill_background (cr, width, height);

  font_set (cr, st.big, TRUE);
  if (has_text (bars->title))
    title_h = text_height (cr);
  font_set (cr, st.font, FALSE);
  font_h = text_height (cr);
  font_set (cr, st.small, FALSE);
  tick_h = text_height (cr);
  top = st.pad + (title_h > 0 ? title_h + st.gap * 2 : 0);
  bottom = st.pad + st.gap + tick_h + (has_text (bars->value_label) ? st.gap + font_h : 0);
  row = (height - top - bottom) / n;
  font = MIN (st.font, row * 0.7);
  show_text = font >= 5;

  font_set (cr, font, FALSE);
  for (guint i = 0; show_text && i < n; i++)
    {
      g_autofree char *text = format_value (values[i], integer);
      double w = text_width (cr, text) + st.gap;

      names_w = MAX (names_w, text_width (cr, g_array_index (bars->bars, Bar, i).name));
      if (values[i] < 0)
        left_w = MAX (left_w, w);
      else
        right_w = MAX (right_w, w);
    }
  left = st.pad + (show_text ? names_w + st.gap : 0);

  axis.lo = lo;
  axis.hi = hi;
  axis.whole = integer;
  axis.d0 = left + left_w;
  axis.d1 = width - st.pad - right_w;
  if (row < 1.5 || axis.d1 - axis.d0 < st.font * 3)
    {
      cairo_restore (cr);
      return too_small (width, height, error);
    }
  /* The axis ends on ticks so the longest bar is read against the grid. */
  font_set (cr, st.small, FALSE);
  axis_set_ticks_horizontal (&axis, cr, st.small * 5);
  axis.lo = MIN (axis.lo, floor (lo / axis.step + 1e-9) * axis.step);
  axis.hi = MAX (axis.hi, ceil (hi / axis.step - 1e-9) * axis.step);
  axis.first = (gint64) ceil (axis.lo / axis.step - 1e-9);
  axis.last = (gint64) floor (axis.hi / axis.step + 1e-9);

  cairo_set_line_width (cr, 1);
  set_rgb (cr, grid_rgb, 1);
  for (gint64 k = axis.first; k <= axis.last; k++)
    {
      double px = crisp (axis_map (&axis, k * axis.step));

      cairo_move_to (cr, px, top);
      cairo_line_to (cr, px, top + row * n);
    }
  cairo_stroke (cr);
  set_rgb (cr, muted, 1);
  for (gint64 k = axis.first; k <= axis.last; k++)
    {
      g_autofree char *label = axis_tick_label (&axis, k);

      text_draw (cr, label, axis_map (&axis, k * axis.step), top + row * n + st.gap, 0.5, 0);
    }

  for (guint i = 0; i < n; i++)
    {
      const Bar *bar = &g_array_index (bars->bars, Bar, i);
      double yc = top + (i + 0.5) * row, zero = axis_map (&axis, 0);
      double end = isnan (bar->value) ? zero : axis_map (&axis, bar->value);
      double thickness = MIN (row * 0.68, st.font * 2);

      if (!isnan (bar->value))
        {
          set_rgb (cr, palette[0], 1);
          cairo_rectangle (cr, MIN (zero, end), yc - thickness / 2, fabs (end - zero), thickness);
          cairo_fill (cr);
        }
      if (show_text)
        {
          g_autofree char *text = format_value (bar->value, integer);

          font_set (cr, font, FALSE);
          set_rgb (cr, ink, 1);
          text_draw (cr, bar->name, left - st.gap, yc, 1, 0.5);
          set_rgb (cr, muted, 1);
          if (bar->value < 0)
            text_draw (cr, text, end - st.gap * 0.6, yc, 1, 0.5);
          else
            text_draw (cr, text, end + st.gap * 0.6, yc, 0, 0.5);
        }
    }
  set_rgb (cr, ink, 1);
  cairo_move_to (cr, crisp (axis_map (&axis, 0)), top);
  cairo_line_to (cr, crisp (axis_map (&axis, 0)), top + row * n);
  cairo_stroke (cr);

  if (title_h > 0)
    {
      font_set (cr, st.big, TRUE);
      text_draw (cr, bars->title, width / 2, st.pad, 0.5, 0);
    }
  if (has_text (bars->value_label))
    {
      font_set (cr, st.font, FALSE);
      text_draw (cr, bars->value_label, (axis.d0 + axis.d1) / 2, height - st.pad, 0.5, 1);
    }
  cairo_restore (cr);
  return check_cairo (cr, error);
}

gboolean
veto_plot_bars_draw (const VetoPlotBars *bars,
                     cairo_t            *cr,
                     double              width,
                     double              height,
                     GError            **error)
{
  g_return_val_if_fail (bars != NULL && cr != NULL, FALSE);

  return bars_draw (bars, cr, width, height, error);
}

static void
bars_describe (gconstpointer chart, GString *title, GString *desc)
{
  const VetoPlotBars *bars = chart;

  g_string_append (title, has_text (bars->title) ? bars->title : "Bar chart");
  g_string_append (desc, bars->value_label ? bars->value_label : "");
  for (guint i = 0; i < bars->bars->len; i++)
    {
      const Bar *bar = &g_array_index (bars->bars, Bar, i);

      g_string_append_printf (desc, "%s %s: %g", i ? "," : ";", bar->name, bar->value);
    }
}

gboolean
veto_plot_bars_save (const VetoPlotBars *bars,
                     const char         *path,
                     int                 width,
                     int                 height,
                     GError            **error)
{
  g_return_val_if_fail (bars != NULL && path != NULL, FALSE);

  return save_chart (bars, bars_draw, bars_describe, path, width, height, error);
}
