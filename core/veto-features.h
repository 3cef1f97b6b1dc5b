/* veto-features: extractors (pixels, HOG, k-means single-layer, npy) and their cache blobs. */
#pragma once

#include <gio/gio.h>

#include "veto-image.h"
#include "veto-npy.h"

G_BEGIN_DECLS

#define VETO_FEATURES_ERROR (veto_features_error_quark ())
GQuark veto_features_error_quark (void);

typedef enum
{
  VETO_FEATURES_ERROR_SPEC,     /* the extractor description cannot be parsed */
  VETO_FEATURES_ERROR_INPUT,    /* the images cannot be used (none, too small, bad layout) */
  VETO_FEATURES_ERROR_MISMATCH, /* row counts or ids do not match */
  VETO_FEATURES_ERROR_CORRUPT,  /* a serialised blob is damaged */
} VetoFeaturesError;

/* Returns image index of the set, owned by the caller; NULL with error set on failure. Images
 * may differ in size and channel count. The extractor will resize the image to min_width ×
 * min_height (0 × 0: it needs the full size), so the fetcher may return it scaled down by its
 * decoder as long as it stays at least that large (veto_image_load_scaled). Called from several
 * worker threads at once. */
typedef VetoImage *(*VetoImageFetchFunc) (gpointer user_data, guint index, guint min_width,
                                          guint min_height, GError **error);
typedef void (*VetoProgressFunc) (gpointer user_data, guint done, guint total);

typedef enum
{
  VETO_FEATURE_PIXELS,
  VETO_FEATURE_HOG,
  VETO_FEATURE_KMEANS,
  VETO_FEATURE_NPY,
} VetoFeatureKind;

typedef struct _VetoFeatureSpec VetoFeatureSpec;

/* "pixels", "hog", "kmeans" optionally followed by ":name=value,..." (pixels: side, std;
 * hog: side, cell, bins, std; kmeans: side, k, patch, samples, iters, seed, std), or
 * "npy:PATH". Unknown names, unknown or repeated options and out-of-range values are errors.
 * side caps the longest image side (smaller images keep their size); std=0 skips the final
 * per-dimension standardisation. */
VetoFeatureSpec *veto_feature_spec_parse (const char *text, GError **error);
void veto_feature_spec_free (VetoFeatureSpec *spec);
VetoFeatureKind veto_feature_spec_get_kind (const VetoFeatureSpec *spec);
/* The PATH of "npy:PATH", NULL for the other kinds. */
const char *veto_feature_spec_get_path (const VetoFeatureSpec *spec);
/* Names the extractor and every parameter value, e.g. "hog:v1:side=32,cell=4,bins=9,std=1",
 * so it changes whenever the features would; known before anything is extracted. */
const char *veto_feature_spec_get_key (const VetoFeatureSpec *spec);

/* An N x D float32 matrix, row-major, one row per image, and the key of what produced it. */
typedef struct _VetoFeatures VetoFeatures;

/* Runs a pixels, hog or kmeans extractor over images 0 .. n_images - 1, fetching them on every
 * core. The first image sets
 * the geometry of the set (its size, capped by side, and its channel count); the others are
 * resized and converted to it. progress (may be NULL) is told at least every 1% of the work.
 * Deterministic for a spec. npy specs are refused: callers read the file and use
 * veto_features_new_from_npy(). */
VetoFeatures *veto_features_extract (const VetoFeatureSpec *spec, guint n_images,
                                     VetoImageFetchFunc fetch, gpointer fetch_data,
                                     VetoProgressFunc progress, gpointer progress_data,
                                     GCancellable *cancellable, GError **error);

/* Copies data (n x d, both at least 1). */
VetoFeatures *veto_features_new_from_matrix (guint n, guint d, const float *data, const char *key);
/* A 2-D float32/float64 .npy as features; expected_rows 0 accepts any row count. */
VetoFeatures *veto_features_new_from_npy (const VetoNpy *npy, const char *key, guint expected_rows,
                                          GError **error);
/* Rows picked by id: row_ids[i] is the id of row i of features (n_row_ids must equal its row
 * count, ids unique); the result's row j is the row whose id is wanted_ids[j]. */
VetoFeatures *veto_features_reorder (const VetoFeatures *features, const gint64 *row_ids,
                                     guint n_row_ids, const gint64 *wanted_ids, guint n_wanted,
                                     GError **error);
void veto_features_free (VetoFeatures *features);

guint veto_features_get_n (const VetoFeatures *features);
guint veto_features_get_dim (const VetoFeatures *features);
const float *veto_features_get_data (const VetoFeatures *features);
const float *veto_features_get_row (const VetoFeatures *features, guint index);
const char *veto_features_get_key (const VetoFeatures *features);

/* A self-describing blob (magic, version, n, d, key, little-endian float32 data) for caching. */
GBytes *veto_features_serialize (const VetoFeatures *features);
/* Checks magic, version, sizes (the data must be exactly n x d floats) and finiteness. */
VetoFeatures *veto_features_new_from_bytes (GBytes *bytes, GError **error);

/* ZCA whitening fitted on n rows of dimension d: out_mean (d) and the symmetric out_whiten
 * (d x d) such that (x - mean) * whiten has covariance close to identity, eigenvalues being
 * regularised by epsilon. Used by the kmeans extractor; n must be at least 2. */
gboolean veto_features_zca_fit (const float *x, gsize n, guint d, double epsilon,
                                float *out_mean, float *out_whiten, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoFeatureSpec, veto_feature_spec_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoFeatures, veto_features_free)

G_END_DECLS
