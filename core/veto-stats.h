/* veto-stats: agreement and noise statistics of annotations (pure computation: no store). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VETO_STATS_ERROR (veto_stats_error_quark ())
GQuark veto_stats_error_quark (void);

typedef enum
{
  VETO_STATS_ERROR_INVALID, /* an answer names an item, annotator or class out of range */
} VetoStatsError;

typedef enum
{
  VETO_STATS_ORDINARY,      /* label is the class */
  VETO_STATS_COMPLEMENTARY, /* label is a class the item is NOT */
  VETO_STATS_N_KINDS
} VetoStatsKind;

typedef struct
{
  guint item;       /* index into the input's items */
  guint annotator;  /* index into the input's annotators */
  VetoStatsKind kind;
  guint label;      /* class index */
  double seconds;   /* shown → answered; NAN when unknown */
  const guint *shown; /* complementary: the candidate set shown (class indexes), or NULL */
  guint n_shown;
} VetoStatsAnswer;

typedef struct
{
  guint n_classes;
  guint n_items;
  const gint *gold;          /* n_items: gold class index, or -1 */
  const gboolean *anchor;    /* n_items, or NULL when there are no anchors */
  guint n_annotators;
  const VetoStatsAnswer *answers;
  gsize n_answers;
} VetoStatsInput;

/* n answers of which noisy were wrong: an ordinary answer that is not the gold class, a
 * complementary one that is. */
typedef struct
{
  guint n;
  guint noisy;
} VetoStatsCount;

/* noisy / n, or NAN when n is 0. */
double veto_stats_count_rate (const VetoStatsCount *count);

typedef struct
{
  guint answers;
  guint per_kind[VETO_STATS_N_KINDS];
  guint timed;                          /* answers whose time is known */
  double mean_seconds;                  /* NAN when none is timed */
  double median_seconds;
  VetoStatsCount gold;                  /* on items with a gold label, both kinds */
  VetoStatsCount gold_kind[VETO_STATS_N_KINDS];
  VetoStatsCount anchor;                /* on anchors only */
  /* The choice model fitted to the complementary answers on gold items with the sets shown, as
   * the learner fits it to its anchors (veto_loss_fit_annotators ()): for the overall row the
   * pooled model, for an annotator their own pulled towards it (choice_own; choice_strength the
   * pull chosen by cross-validation), or the pooled one below VETO_LOSS_MIN_OWN_ANSWERS
   * answers. Luce weights A[gold][answer] (n_classes × n_classes), NULL without such answers;
   * choice_answers of them; choice_noise: the share of the answers the model expects to name
   * the truth when shown. */
  double *choice_model;
  guint choice_answers;
  gboolean choice_own;
  double choice_strength;
  double choice_noise;
} VetoStatsAnnotator;

typedef struct
{
  guint n_classes;
  guint n_annotators;
  VetoStatsAnnotator overall;
  VetoStatsAnnotator *annotators;       /* n_annotators */
  /* Complementary answers on gold items: counts[gold][CL] and the rows normalised (a row
   * without answers is NAN), the estimate of the annotators' transition matrix T. */
  guint *transition_counts;             /* n_classes × n_classes */
  double *transition;
  /* Complementary answers on items whose ordinary answers have a strict majority class:
   * noisy counts those that name it. */
  VetoStatsCount cl_majority;
  /* Krippendorff's alpha (nominal) of the ordinary answers; NAN when no item has two of them
   * or when every value is the same (no variation to agree on). */
  double alpha;
  guint alpha_units;                    /* items with at least two ordinary answers */
  guint alpha_values;                   /* the pairable values in them */
} VetoStatsReport;

gboolean veto_stats_compute (const VetoStatsInput *input, VetoStatsReport *out_report,
                             GError **error);
void veto_stats_report_clear (VetoStatsReport *report);

/* Krippendorff's alpha for nominal data: n values, values[i] a category below n_categories
 * given to unit units[i] (any number of values per unit; units with one value do not count).
 * Returns NAN when it is undefined; out_pairable (may be NULL) gets the number of pairable
 * values. */
double veto_stats_krippendorff_alpha (const guint *units, const guint *values, gsize n,
                                      guint n_categories, guint *out_pairable);

/* The class with strictly more votes than any other, or -1 (no votes, or a tie). */
gint veto_stats_majority (const guint *votes, guint n_classes);

G_END_DECLS
