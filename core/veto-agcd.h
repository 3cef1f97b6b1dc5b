/* Active Generalized Category Discovery: Hungarian, SS-k-means, label mapping, queries, metrics. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Clusters are numbered 0 .. K-1 with K = n_known + n_novel: clusters 0 .. n_known-1 stand
 * for the known (old) classes, the rest are the novel ones. The oracle numbers its classes
 * its own way (0 .. n_classes-1); a VetoAgcdMapping translates between the two.
 */

#define VETO_AGCD_ERROR (veto_agcd_error_quark ())

typedef enum
{
  VETO_AGCD_ERROR_INVALID, /* a size, index or value out of its range */
} VetoAgcdError;

typedef struct
{
  guint n_known;
  guint n_novel;
  guint max_iterations; /* Lloyd iterations; default 100 */
  /* Converged when the centroids' total squared shift in an iteration is at most tolerance ×
   * the data's mean per-feature variance (scikit-learn's rule); default 1e-4. */
  double tolerance;
  /* Soft assignments are softmax (-dist² / (temperature × scale)) over the clusters, scale
   * being the mean squared distance of the rows to their own centroid, so the temperature
   * does not depend on the data's units; default 0.5. */
  double temperature;
  guint64 seed; /* k-means++ seeding */
} VetoAgcdClusterOptions;

typedef struct
{
  guint iterations;   /* Lloyd iterations run */
  gboolean converged; /* stopped by the tolerance rather than max_iterations */
  double inertia;     /* sum of squared distances of the rows to their cluster's centroid */
  double scale;       /* inertia / n: the unit of the soft assignments' temperature */
} VetoAgcdClusterReport;

typedef struct
{
  double acc_all; /* accuracy after one Hungarian match of clusters to classes over the set */
  double acc_old; /* the same matching's accuracy on the rows of old classes (NAN if none) */
  double acc_new; /* ... on the rows of new classes (NAN if none) */
  guint n_all;
  guint n_old;
  guint n_new;
  /* Share of the new classes that the queried classes hit at least once (NAN when no class is
   * new or no query list was given). */
  double novel_coverage;
} VetoAgcdMetrics;

typedef struct _VetoAgcdMapping VetoAgcdMapping;

GQuark   veto_agcd_error_quark                (void);

/* Maximum-weight assignment of rows to columns (Kuhn-Munkres with potentials, O(n² m)): as
 * many pairs as the smaller side has, no row or column used twice, the sum of the weights of
 * the pairs as large as possible. out_assignment (n_rows) receives each row's column, or -1
 * for the rows left over when n_rows > n_cols; out_total (optional) the sum of their weights.
 * Weights (n_rows × n_cols, row-major) may be negative but must be finite. */
gboolean veto_agcd_hungarian                  (const double *weights,
                                               guint         n_rows,
                                               guint         n_cols,
                                               int          *out_assignment,
                                               double       *out_total,
                                               GError      **error);

void     veto_agcd_cluster_options_init       (VetoAgcdClusterOptions *options);
/* Semi-supervised k-means (GCD's SS-k-means) of X (n × d, row-major) into K clusters.
 * labels (n entries, or NULL for none) gives a labeled row's cluster, -1 for an unlabeled
 * row: each labeled cluster starts at the mean of its labeled rows and those rows stay in it
 * while its centroid moves; every known cluster needs at least one labeled row. The other
 * clusters are seeded by k-means++ over the unlabeled rows, then Lloyd iterations with
 * distances from cblas_sgemm. Fills out_clusters (n), and optionally out_centroids (K × d),
 * out_soft (n × K, see temperature) and out_report. Deterministic for a seed on one machine.
 * The cancellable is checked between iterations (G_IO_ERROR_CANCELLED). */
gboolean veto_agcd_cluster                    (const float                  *X,
                                               guint                         n,
                                               guint                         d,
                                               const int                    *labels,
                                               const VetoAgcdClusterOptions *options,
                                               guint                        *out_clusters,
                                               float                        *out_centroids,
                                               float                        *out_soft,
                                               VetoAgcdClusterReport        *out_report,
                                               GCancellable                 *cancellable,
                                               GError                      **error);

/* The stable label mapping between the model's clusters and the oracle's classes. */
VetoAgcdMapping *veto_agcd_mapping_new        (guint n_clusters,
                                               guint n_classes);
void     veto_agcd_mapping_free               (VetoAgcdMapping *mapping);
guint    veto_agcd_mapping_get_n_clusters     (const VetoAgcdMapping *mapping);
guint    veto_agcd_mapping_get_n_classes      (const VetoAgcdMapping *mapping);
/* Rebuilds the mapping from the labeled rows: clusters[i] is the model's cluster of labeled row
 * i, classes[i] its oracle class. The count matrix w[cluster][class] is matched by
 * veto_agcd_hungarian to maximise agreements; among equally good matchings the one closest to
 * the previous round's wins, so the mapping only changes when the data asks for it. A pair
 * the matching makes without a single agreeing row is left unmatched. */
gboolean veto_agcd_mapping_update             (VetoAgcdMapping *mapping,
                                               const guint     *clusters,
                                               const guint     *classes,
                                               guint            n,
                                               GError         **error);
/* The class of a cluster, the cluster of a class; -1 when unmatched or out of range. */
int      veto_agcd_mapping_get_class          (const VetoAgcdMapping *mapping,
                                               guint                  cluster);
int      veto_agcd_mapping_get_cluster        (const VetoAgcdMapping *mapping,
                                               guint                  klass);
/* Oracle labels to cluster indices (-1 for an unmatched class) before training on them. */
gboolean veto_agcd_mapping_remap              (const VetoAgcdMapping *mapping,
                                               const guint           *classes,
                                               guint                  n,
                                               int                   *out_clusters,
                                               GError               **error);

/* AGCD's query rule. probs (n_rows × n_clusters) is the model's sharpened softmax over the
 * clusters for each pool row (for instance veto_agcd_cluster's out_soft); a row's prediction
 * is its argmax, its margin p1 - p2. Rows predicted in a novel cluster (>= n_known) are taken
 * round-robin over the novel clusters, at most ceil (batch / n_novel) from each; within a
 * cluster the most confident (largest margin) first while round < warm_rounds, the least
 * confident first afterwards. A shortfall is filled from the remaining predicted-novel rows in
 * that same order, then from the other rows by margin, smallest first. Fills out_rows with
 * MIN (batch, n_rows) distinct row indices in the order chosen; ties go to the lower row. */
gboolean veto_agcd_select                     (const float *probs,
                                               guint        n_rows,
                                               guint        n_clusters,
                                               guint        n_known,
                                               guint        batch,
                                               guint        round,
                                               guint        warm_rounds,
                                               guint       *out_rows,
                                               GError     **error);

/* The GCD protocol on a test set: clusters[i] predicted, classes[i] true (< n_classes);
 * old_classes lists the known classes. queried (optional) lists the true classes of the rows
 * queried so far, for novel_coverage. */
gboolean veto_agcd_evaluate                   (const guint     *clusters,
                                               const guint     *classes,
                                               guint            n,
                                               guint            n_clusters,
                                               guint            n_classes,
                                               const guint     *old_classes,
                                               guint            n_old_classes,
                                               const guint     *queried,
                                               guint            n_queried,
                                               VetoAgcdMetrics *out_metrics,
                                               GError         **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoAgcdMapping, veto_agcd_mapping_free)

G_END_DECLS
