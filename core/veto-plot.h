/* Cairo charts (learning curves, matrix heatmaps, bar charts) drawn live or saved as PNG/SVG/PDF. */
#pragma once

#include <cairo.h>
#include <glib.h>

G_BEGIN_DECLS

#define VETO_PLOT_ERROR (veto_plot_error_quark ())

/* Failures to write a file are reported in the G_FILE_ERROR domain, naming the file. */
typedef enum
{
  VETO_PLOT_ERROR_INPUT,  /* nothing to draw, or values that cannot be drawn */
  VETO_PLOT_ERROR_SIZE,   /* the surface is too small (or not a size) for the chart */
  VETO_PLOT_ERROR_FORMAT, /* the file name ends in none of .png, .svg, .pdf */
  VETO_PLOT_ERROR_CAIRO,  /* cairo itself failed (out of memory, surface too large) */
} VetoPlotError;

/* What the translucent band around a mean curve shows, over the runs covering each x. */
typedef enum
{
  VETO_PLOT_BAND_STD,    /* mean ± one (population) standard deviation; the default */
  VETO_PLOT_BAND_MINMAX, /* from the lowest to the highest run */
  VETO_PLOT_BAND_NONE,
} VetoPlotBand;

typedef enum
{
  VETO_PLOT_VALUES_AUTO,    /* integers when every value is whole, else two decimals */
  VETO_PLOT_VALUES_INTEGER, /* counts */
  VETO_PLOT_VALUES_DECIMAL, /* two decimals: probabilities, rates */
} VetoPlotValueFormat;

typedef struct _VetoPlotCurves VetoPlotCurves;
typedef struct _VetoPlotMatrix VetoPlotMatrix;
typedef struct _VetoPlotBars VetoPlotBars;

GQuark          veto_plot_error_quark           (void);

/* The colour of the index-th series (Okabe–Ito, colour-blind safe; cycles after eight, where
 * curves switch to dashed lines), components in [0, 1]. */
void            veto_plot_series_color          (guint   index,
                                                 double *out_red,
                                                 double *out_green,
                                                 double *out_blue);

/* Learning curves: each series (a strategy, say) is the mean over its runs (seeds), taken at
 * the union of their x values with each run linearly interpolated inside its own x range,
 * drawn as a line over a band. Any text may be NULL. */
VetoPlotCurves *veto_plot_curves_new            (const char *title,
                                                 const char *x_label,
                                                 const char *y_label);
void            veto_plot_curves_free           (VetoPlotCurves *curves);
/* Adds one run of n points (in any x order, x distinct, all finite) to the series named
 * series, which is created, with the next colour, the first time it is named. */
gboolean        veto_plot_curves_add_run        (VetoPlotCurves *curves,
                                                 const char     *series,
                                                 const double   *x,
                                                 const double   *y,
                                                 guint           n,
                                                 GError        **error);
/* A labelled horizontal line, e.g. a baseline's accuracy ("scikit-learn 0.804"). */
gboolean        veto_plot_curves_add_reference  (VetoPlotCurves *curves,
                                                 double          y,
                                                 const char     *label,
                                                 GError        **error);
void            veto_plot_curves_set_band       (VetoPlotCurves *curves,
                                                 VetoPlotBand    band);
/* Fixes the y axis to [min, max] (min < max); NAN for both returns to fitting the data. */
void            veto_plot_curves_set_y_range    (VetoPlotCurves *curves,
                                                 double          min,
                                                 double          max);
/* Draws the whole chart (background included) in user space [0, width] × [0, height];
 * the state of cr is restored afterwards. */
gboolean        veto_plot_curves_draw           (const VetoPlotCurves *curves,
                                                 cairo_t              *cr,
                                                 double                width,
                                                 double                height,
                                                 GError              **error);
/* Where data point (x, y) lands when the chart is drawn at width × height. */
gboolean        veto_plot_curves_to_device      (const VetoPlotCurves *curves,
                                                 double                width,
                                                 double                height,
                                                 double                x,
                                                 double                y,
                                                 double               *out_x,
                                                 double               *out_y,
                                                 GError              **error);
/* PNG, SVG or PDF (one point per pixel, the chart's title and summary in its metadata) by the
 * extension of path (case-insensitive); the file appears whole or not at all (written to
 * path.tmp, then renamed). */
gboolean        veto_plot_curves_save           (const VetoPlotCurves *curves,
                                                 const char           *path,
                                                 int                   width,
                                                 int                   height,
                                                 GError              **error);

/* A k × k heatmap, values row-major (row = true class): confusion counts or transition
 * probabilities. NAN cells are drawn as missing (a class with no samples); infinite ones are
 * refused when drawing. labels may be NULL (classes are then numbered from 0). */
VetoPlotMatrix *veto_plot_matrix_new            (const double      *values,
                                                 guint              k,
                                                 const char *const *labels);
void            veto_plot_matrix_free           (VetoPlotMatrix *matrix);
/* Defaults: no title, "true class", "predicted class". Any may be NULL. */
void            veto_plot_matrix_set_titles     (VetoPlotMatrix *matrix,
                                                 const char     *title,
                                                 const char     *row_title,
                                                 const char     *column_title);
void            veto_plot_matrix_set_value_format (VetoPlotMatrix     *matrix,
                                                   VetoPlotValueFormat format);
gboolean        veto_plot_matrix_draw           (const VetoPlotMatrix *matrix,
                                                 cairo_t              *cr,
                                                 double                width,
                                                 double                height,
                                                 GError              **error);
gboolean        veto_plot_matrix_save           (const VetoPlotMatrix *matrix,
                                                 const char           *path,
                                                 int                   width,
                                                 int                   height,
                                                 GError              **error);

/* Horizontal bars in the order added, each labelled with its name and value. A NAN value
 * (no data) is shown as "–" without a bar; infinite ones are refused when drawing. */
VetoPlotBars   *veto_plot_bars_new              (const char *title,
                                                 const char *value_label);
void            veto_plot_bars_free             (VetoPlotBars *bars);
void            veto_plot_bars_add              (VetoPlotBars *bars,
                                                 const char   *name,
                                                 double        value);
void            veto_plot_bars_set_value_format (VetoPlotBars       *bars,
                                                 VetoPlotValueFormat format);
gboolean        veto_plot_bars_draw             (const VetoPlotBars *bars,
                                                 cairo_t            *cr,
                                                 double              width,
                                                 double              height,
                                                 GError            **error);
gboolean        veto_plot_bars_save             (const VetoPlotBars *bars,
                                                 const char         *path,
                                                 int                 width,
                                                 int                 height,
                                                 GError            **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoPlotCurves, veto_plot_curves_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoPlotMatrix, veto_plot_matrix_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoPlotBars, veto_plot_bars_free)

G_END_DECLS
