/* veto-features: extractors (pixels, HOG, k-means single-layer, npy) and their cache blobs. */
#include "veto-features.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

G_DEFINE_QUARK (veto-features-error-quark, veto_features_error)

#define BLOB_MAGIC "VETOFEAT"
#define BLOB_VERSION 1
#define BLOB_HEADER_LEN 24
#define MAX_KEY_LEN 65536

/* HOG: Dalal & Triggs' L2-Hys clipping and a small regulariser so that nearly flat blocks
 * stay near zero instead of amplifying noise to unit norm. */
#define HOG_BLOCK 2
#define HOG_CLIP 0.2f
#define HOG_EPSILON 1e-2f
#define COLOR_BINS 4

/* Coates, Lee & Ng: contrast normalisation adds 10 to the patch variance (pixels in 0..255)
 * and ZCA adds 0.1 to the eigenvalues. */
#define KMEANS_CONTRAST_EPSILON 10.0f
#define KMEANS_ZCA_EPSILON 0.1
/* Rows per sgemm in the convolutional pass and in k-means. */
#define KMEANS_BATCH_ROWS 8192

struct _VetoFeatureSpec
{
  VetoFeatureKind kind;
  guint side;
  guint cell;
  guint bins;
  guint k;
  guint patch;
  guint samples;
  guint iters;
  guint seed;
  guint standardize;
  char *path;
  char *key;
};

struct _VetoFeatures
{
  guint n;
  guint d;
  float *data;     /* owned, or read-only inside backing */
  GBytes *backing; /* a .npy's data as read, not copied again */
  char *key;
};

typedef struct
{
  const char *name;
  guint min;
  guint max;
  guint fallback;
  gsize offset;
} SpecParam;

#define PARAM(field, lo, hi, def) { #field, lo, hi, def, G_STRUCT_OFFSET (VetoFeatureSpec, field) }
#define PARAM_SIDE PARAM (side, 8, 256, 32)
#define PARAM_STD { "std", 0, 1, 1, G_STRUCT_OFFSET (VetoFeatureSpec, standardize) }

static const SpecParam pixels_params[] = { PARAM_SIDE, PARAM_STD };
static const SpecParam hog_params[] = {
  PARAM_SIDE, PARAM (cell, 2, 32, 4), PARAM (bins, 2, 36, 9), PARAM_STD,
};
static const SpecParam kmeans_params[] = {
  PARAM_SIDE,
  PARAM (k, 2, 4096, 256),
  PARAM (patch, 2, 16, 6),
  PARAM (samples, 100, 4000000, 100000),
  PARAM (iters, 1, 500, 10),
  PARAM (seed, 0, G_MAXUINT32, 1),
  PARAM_STD,
};

static const struct
{
  const char *name;
  VetoFeatureKind kind;
  const SpecParam *params;
  guint n_params;
} extractors[] = {
  { "pixels", VETO_FEATURE_PIXELS, pixels_params, G_N_ELEMENTS (pixels_params) },
  { "hog", VETO_FEATURE_HOG, hog_params, G_N_ELEMENTS (hog_params) },
  { "kmeans", VETO_FEATURE_KMEANS, kmeans_params, G_N_ELEMENTS (kmeans_params) },
};

static guint *
spec_field (VetoFeatureSpec *spec, const SpecParam *param)
{
  return G_STRUCT_MEMBER_P (spec, param->offset);
}

static gboolean
spec_set_options (VetoFeatureSpec *spec, const char *name, const SpecParam *params,
                  guint n_params, const char *options, GError **error)
{
  g_auto (GStrv) items = g_strsplit (options, ",", -1);
  g_autofree gboolean *seen = g_new0 (gboolean, n_params);

  if (*options == '\0')
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_SPEC,
                   "%s: no options after ':'", name);
      return FALSE;
    }
  for (guint i = 0; items[i] != NULL; i++)
    {
      const char *eq = strchr (items[i], '=');
      g_autofree char *option = eq != NULL ? g_strndup (items[i], eq - items[i])
                                           : g_strdup (items[i]);
      guint p;
      guint64 value;

      for (p = 0; p < n_params; p++)
        if (strcmp (params[p].name, option) == 0)
          break;
      if (p == n_params)
        {
          g_autoptr (GString) known = g_string_new (NULL);

          for (guint q = 0; q < n_params; q++)
            g_string_append_printf (known, q > 0 ? ", %s" : "%s", params[q].name);
          g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_SPEC,
                       "%s: unknown option '%s' (known: %s)", name, option, known->str);
          return FALSE;
        }
      if (seen[p])
        {
          g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_SPEC,
                       "%s: option '%s' given twice", name, option);
          return FALSE;
        }
      seen[p] = TRUE;
      if (eq == NULL
          || !g_ascii_string_to_unsigned (eq + 1, 10, params[p].min, params[p].max, &value, NULL))
        {
          g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_SPEC,
                       "%s: option '%s' needs an integer from %u to %u (as %s=N)", name, option,
                       params[p].min, params[p].max, option);
          return FALSE;
        }
      *spec_field (spec, &params[p]) = (guint) value;
    }
  return TRUE;
}

VetoFeatureSpec *
veto_feature_spec_parse (const char *text, GError **error)
{
  g_autoptr (VetoFeatureSpec) spec = g_new0 (VetoFeatureSpec, 1);
  g_autoptr (GString) key = NULL;
  const char *colon;
  g_autofree char *name = NULL;
  guint e;

  g_return_val_if_fail (text != NULL, NULL);
  colon = strchr (text, ':');
  name = colon != NULL ? g_strndup (text, colon - text) : g_strdup (text);
  if (strcmp (name, "npy") == 0)
    {
      if (colon == NULL || colon[1] == '\0')
        {
          g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_SPEC,
                       "npy features need a file: npy:PATH");
          return NULL;
        }
      spec->kind = VETO_FEATURE_NPY;
      spec->path = g_strdup (colon + 1);
      spec->key = g_strconcat ("npy:v1:path=", spec->path, NULL);
      return g_steal_pointer (&spec);
    }
  for (e = 0; e < G_N_ELEMENTS (extractors); e++)
    if (strcmp (extractors[e].name, name) == 0)
      break;
  if (e == G_N_ELEMENTS (extractors))
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_SPEC,
                   "unknown feature extractor '%s' (expected pixels, hog, kmeans or npy:PATH)",
                   name);
      return NULL;
    }
  spec->kind = extractors[e].kind;
  for (guint p = 0; p < extractors[e].n_params; p++)
    *spec_field (spec, &extractors[e].params[p]) = extractors[e].params[p].fallback;
  if (colon != NULL
      && !spec_set_options (spec, name, extractors[e].params, extractors[e].n_params, colon + 1,
                            error))
    return NULL;
  if (spec->kind == VETO_FEATURE_KMEANS && spec->samples < spec->k)
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_SPEC,
                   "kmeans: samples (%u) must be at least k (%u)", spec->samples, spec->k);
      return NULL;
    }
  if (spec->kind == VETO_FEATURE_KMEANS && spec->patch > spec->side)
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_SPEC,
                   "kmeans: patch (%u) must not exceed side (%u)", spec->patch, spec->side);
      return NULL;
    }
  if (spec->kind == VETO_FEATURE_HOG && spec->cell * HOG_BLOCK > spec->side)
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_SPEC,
                   "hog: side (%u) must hold at least %u cells of %u pixels", spec->side,
                   HOG_BLOCK, spec->cell);
      return NULL;
    }
  key = g_string_new (name);
  g_string_append (key, ":v1:");
  for (guint p = 0; p < extractors[e].n_params; p++)
    g_string_append_printf (key, p > 0 ? ",%s=%u" : "%s=%u", extractors[e].params[p].name,
                            *spec_field (spec, &extractors[e].params[p]));
  spec->key = g_string_free (g_steal_pointer (&key), FALSE);
  return g_steal_pointer (&spec);
}

void
veto_feature_spec_free (VetoFeatureSpec *spec)
{
  if (spec == NULL)
    return;
  g_free (spec->path);
  g_free (spec->key);
  g_free (spec);
}

VetoFeatureKind
veto_feature_spec_get_kind (const VetoFeatureSpec *spec)
{
  return spec->kind;
}

const char *
veto_feature_spec_get_path (const VetoFeatureSpec *spec)
{
  return spec->path;
}

const char *
veto_feature_spec_get_key (const VetoFeatureSpec *spec)
{
  return spec->key;
}

/* Features objects. */

static VetoFeatures *
features_new_take (guint n, guint d, float *data, const char *key)
{
  VetoFeatures *features = g_new0 (VetoFeatures, 1);

  features->n = n;
  features->d = d;
  features->data = data;
  features->key = g_strdup (key);
  return features;
}

VetoFeatures *
veto_features_new_from_matrix (guint n, guint d, const float *data, const char *key)
{
  g_return_val_if_fail (n > 0 && d > 0 && data != NULL && key != NULL, NULL);
  return features_new_take (n, d, g_memdup2 (data, (gsize) n * d * sizeof (float)), key);
}

VetoFeatures *
veto_features_new_from_npy (const VetoNpy *npy, const char *key, guint expected_rows,
                            GError **error)
{
  g_autofree float *data = NULL;
  g_autoptr (GBytes) backing = NULL;
  g_autoptr (GError) local_error = NULL;
  gsize rows, cols;

  g_return_val_if_fail (npy != NULL && key != NULL, NULL);
  backing = veto_npy_float32_matrix_bytes (npy, &rows, &cols, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  if (backing == NULL)
    {
      data = veto_npy_to_float32_matrix (npy, &rows, &cols, error);
      if (data == NULL)
        return NULL;
    }
  if (rows > G_MAXUINT || cols > G_MAXUINT)
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_MISMATCH,
                   "the matrix is too large (%" G_GSIZE_FORMAT " x %" G_GSIZE_FORMAT ")", rows,
                   cols);
      return NULL;
    }
  if (expected_rows != 0 && rows != expected_rows)
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_MISMATCH,
                   "the matrix has %" G_GSIZE_FORMAT " rows but there are %u images", rows,
                   expected_rows);
      return NULL;
    }
  if (backing != NULL)
    {
      VetoFeatures *features = features_new_take ((guint) rows, (guint) cols,
                                                  (float *) g_bytes_get_data (backing, NULL), key);

      features->backing = g_steal_pointer (&backing);
      return features;
    }
  return features_new_take ((guint) rows, (guint) cols, g_steal_pointer (&data), key);
}

VetoFeatures *
veto_features_reorder (const VetoFeatures *features, const gint64 *row_ids, guint n_row_ids,
                       const gint64 *wanted_ids, guint n_wanted, GError **error)
{
  g_autoptr (GHashTable) rows = NULL;
  g_autofree float *data = NULL;

  g_return_val_if_fail (features != NULL, NULL);
  if (n_row_ids != features->n)
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_MISMATCH,
                   "there are %u ids for %u rows of features", n_row_ids, features->n);
      return NULL;
    }
  if (n_wanted == 0)
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_MISMATCH, "no rows wanted");
      return NULL;
    }
  rows = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (guint i = 0; i < n_row_ids; i++)
    {
      if (g_hash_table_contains (rows, &row_ids[i]))
        {
          g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_MISMATCH,
                       "id %" G_GINT64_FORMAT " is given to more than one row", row_ids[i]);
          return NULL;
        }
      g_hash_table_insert (rows, (gpointer) &row_ids[i], GUINT_TO_POINTER (i + 1));
    }
  data = g_new (float, (gsize) n_wanted * features->d);
  for (guint j = 0; j < n_wanted; j++)
    {
      guint row = GPOINTER_TO_UINT (g_hash_table_lookup (rows, &wanted_ids[j]));

      if (row == 0)
        {
          g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_MISMATCH,
                       "id %" G_GINT64_FORMAT " has no row in the features", wanted_ids[j]);
          return NULL;
        }
      memcpy (data + (gsize) j * features->d, features->data + (gsize) (row - 1) * features->d,
              features->d * sizeof (float));
    }
  return features_new_take (n_wanted, features->d, g_steal_pointer (&data), features->key);
}

void
veto_features_free (VetoFeatures *features)
{
  if (features == NULL)
    return;
  if (features->backing != NULL)
    g_bytes_unref (features->backing);
  else
    g_free (features->data);
  g_free (features->key);
  g_free (features);
}

guint
veto_features_get_n (const VetoFeatures *features)
{
  return features->n;
}

guint
veto_features_get_dim (const VetoFeatures *features)
{
  return features->d;
}

const float *
veto_features_get_data (const VetoFeatures *features)
{
  return features->data;
}

const float *
veto_features_get_row (const VetoFeatures *features, guint index)
{
  g_return_val_if_fail (index < features->n, NULL);
  return features->data + (gsize) index * features->d;
}

const char *
veto_features_get_key (const VetoFeatures *features)
{
  return features->key;
}

static void
put_u32 (guint8 *p, guint32 v)
{
  v = GUINT32_TO_LE (v);
  memcpy (p, &v, 4);
}

static guint32
get_u32 (const guint8 *p)
{
  guint32 v;

  memcpy (&v, p, 4);
  return GUINT32_FROM_LE (v);
}

GBytes *
veto_features_serialize (const VetoFeatures *features)
{
  gsize key_len = strlen (features->key);
  gsize n_values = (gsize) features->n * features->d;
  gsize total = BLOB_HEADER_LEN + key_len + n_values * 4;
  guint8 *out, *values;

  g_return_val_if_fail (key_len <= MAX_KEY_LEN, NULL);
  out = g_malloc (total);
  values = out + BLOB_HEADER_LEN + key_len;
  memcpy (out, BLOB_MAGIC, 8);
  put_u32 (out + 8, BLOB_VERSION);
  put_u32 (out + 12, features->n);
  put_u32 (out + 16, features->d);
  put_u32 (out + 20, key_len);
  memcpy (out + BLOB_HEADER_LEN, features->key, key_len);
  for (gsize i = 0; i < n_values; i++)
    {
      guint32 bits;

      memcpy (&bits, &features->data[i], 4);
      put_u32 (values + i * 4, bits);
    }
  return g_bytes_new_take (out, total);
}

static VetoFeatures *
corrupt (GError **error, const char *what)
{
  g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_CORRUPT,
               "damaged features cache: %s", what);
  return NULL;
}

VetoFeatures *
veto_features_new_from_bytes (GBytes *bytes, GError **error)
{
  gsize size;
  const guint8 *raw = g_bytes_get_data (bytes, &size);
  guint32 n, d, key_len;
  gsize n_values;
  g_autofree char *key = NULL;
  g_autofree float *data = NULL;

  if (size < BLOB_HEADER_LEN || memcmp (raw, BLOB_MAGIC, 8) != 0)
    return corrupt (error, "bad magic");
  if (get_u32 (raw + 8) != BLOB_VERSION)
    return corrupt (error, "unknown version");
  n = get_u32 (raw + 12);
  d = get_u32 (raw + 16);
  key_len = get_u32 (raw + 20);
  if (n == 0 || d == 0)
    return corrupt (error, "empty matrix");
  if (key_len > MAX_KEY_LEN || key_len > size - BLOB_HEADER_LEN)
    return corrupt (error, "key length out of range");
  n_values = (gsize) n * d;
  if (n_values > (size - BLOB_HEADER_LEN - key_len) / 4
      || BLOB_HEADER_LEN + key_len + n_values * 4 != size)
    return corrupt (error, "size does not match the dimensions");
  key = g_strndup ((const char *) raw + BLOB_HEADER_LEN, key_len);
  if (strlen (key) != key_len || !g_utf8_validate (key, -1, NULL))
    return corrupt (error, "invalid key");
  data = g_new (float, n_values);
  for (gsize i = 0; i < n_values; i++)
    {
      guint32 bits = get_u32 (raw + BLOB_HEADER_LEN + key_len + i * 4);

      memcpy (&data[i], &bits, 4);
      if (!isfinite (data[i]))
        return corrupt (error, "value not finite");
    }
  return features_new_take (n, d, g_steal_pointer (&data), key);
}

/* Per-dimension standardisation over the set, statistics in double. The floor keeps nearly
 * constant dimensions (a border pixel lit in one image out of thousands) from exploding. */
static void
standardize (float *x, gsize n, guint d)
{
  g_autofree double *mean = g_new0 (double, d);
  g_autofree double *var = g_new0 (double, d);
  double mean_std = 0, floor_std;

  for (gsize i = 0; i < n; i++)
    for (guint j = 0; j < d; j++)
      mean[j] += x[i * d + j];
  for (guint j = 0; j < d; j++)
    mean[j] /= n;
  for (gsize i = 0; i < n; i++)
    for (guint j = 0; j < d; j++)
      {
        double diff = x[i * d + j] - mean[j];

        var[j] += diff * diff;
      }
  for (guint j = 0; j < d; j++)
    {
      var[j] = sqrt (var[j] / n);
      mean_std += var[j] / d;
    }
  floor_std = MAX (1e-6, 0.01 * mean_std);
  for (guint j = 0; j < d; j++)
    var[j] = 1.0 / MAX (var[j], floor_std);
  for (gsize i = 0; i < n; i++)
    for (guint j = 0; j < d; j++)
      x[i * d + j] = (float) ((x[i * d + j] - mean[j]) * var[j]);
}

/* Image fetching and the set's geometry. */

#define FETCH_WINDOW 256
#define MAX_FETCH_THREADS 16

typedef struct
{
  guint n;
  VetoImageFetchFunc fetch;
  gpointer fetch_data;
  VetoProgressFunc progress;
  gpointer progress_data;
  GCancellable *cancellable;
  guint done;
  guint total;
  guint width;
  guint height;
  guint channels;
  VetoImage *first;
  /* Images are fetched, converted and resized a window at a time on every core; the
   * extractors then take them in order. */
  GThreadPool *pool;
  guint n_threads;
  GMutex lock;
  GCond cond;
  guint pending;
  guint window_indices[FETCH_WINDOW];
  VetoImage *window_images[FETCH_WINDOW];
  guint window_len;
  guint window_pos;
} Run;

static void
run_advance (Run *run)
{
  guint64 before = (guint64) run->done * 100 / run->total;
  guint64 percent = (guint64) ++run->done * 100 / run->total;

  if (run->progress != NULL && (run->done == run->total || percent != before))
    run->progress (run->progress_data, run->done, run->total);
}

/* min_width × min_height is what the image will be resized to (0 × 0 for the first image,
 * which sets it): the fetcher may let its decoder scale down to that. */
static VetoImage *
fetch_raw (Run *run, guint index, guint min_width, guint min_height, GError **error)
{
  g_autoptr (VetoImage) image = NULL;
  GError *local_error = NULL;

  if (g_cancellable_set_error_if_cancelled (run->cancellable, error))
    return NULL;
  image = run->fetch (run->fetch_data, index, min_width, min_height, &local_error);
  if (local_error != NULL)
    {
      g_propagate_error (error, local_error);
      return NULL;
    }
  if (image == NULL)
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_INPUT,
                   "image %u could not be read", index);
      return NULL;
    }
  if (image->width == 0 || image->height == 0 || (image->channels != 1 && image->channels != 3))
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_INPUT,
                   "image %u has an unusable layout (%ux%u, %u channels)", index, image->width,
                   image->height, image->channels);
      return NULL;
    }
  return g_steal_pointer (&image);
}

static guint8
luma (const guint8 *rgb)
{
  return (guint8) ((299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2] + 500) / 1000);
}

/* The set's geometry comes from its first image: its channel count, and its size with the
 * longest side brought down to at most side. */
static gboolean
run_begin (Run *run, guint side, GError **error)
{
  double scale;

  run->first = fetch_raw (run, 0, 0, 0, error);
  if (run->first == NULL)
    return FALSE;
  run->channels = run->first->channels;
  scale = MIN (1.0, (double) side / MAX (run->first->width, run->first->height));
  run->width = MAX (1, (guint) floor (run->first->width * scale + 0.5));
  run->height = MAX (1, (guint) floor (run->first->height * scale + 0.5));
  return TRUE;
}

/* Called on the worker threads: reads only what run_begin set. */
static VetoImage *
run_fetch_one (Run *run, guint index, GError **error)
{
  g_autoptr (VetoImage) image = NULL;

  if (index == 0)
    {
      if (g_cancellable_set_error_if_cancelled (run->cancellable, error))
        return NULL;
      image = veto_image_new_from_data (run->first->width, run->first->height,
                                        run->first->channels, run->first->data);
    }
  else
    {
      image = fetch_raw (run, index, run->width, run->height, error);
      if (image == NULL)
        return NULL;
    }
  if (image->channels != run->channels)
    {
      VetoImage *converted = veto_image_new (image->width, image->height, run->channels);
      gsize n_pixels = (gsize) image->width * image->height;

      for (gsize i = 0; i < n_pixels; i++)
        if (run->channels == 1)
          converted->data[i] = luma (image->data + i * 3);
        else
          memset (converted->data + i * 3, image->data[i], 3);
      veto_image_free (image);
      image = converted;
    }
  if (image->width != run->width || image->height != run->height)
    {
      VetoImage *resized = veto_image_resize (image, run->width, run->height);

      veto_image_free (image);
      image = resized;
    }
  return g_steal_pointer (&image);
}

typedef struct
{
  Run *run;
  const guint *indices;
  VetoImage **images;
  guint count;
  GError *error;
} FetchSlice;

static void
fetch_slice_run (gpointer data, gpointer user_data)
{
  FetchSlice *slice = data;
  Run *run = user_data;

  for (guint k = 0; k < slice->count && slice->error == NULL; k++)
    slice->images[k] = run_fetch_one (run, slice->indices[k], &slice->error);
  g_mutex_lock (&run->lock);
  run->pending--;
  g_cond_signal (&run->cond);
  g_mutex_unlock (&run->lock);
}

static void
run_window_clear (Run *run)
{
  for (guint k = run->window_pos; k < run->window_len; k++)
    g_clear_pointer (&run->window_images[k], veto_image_free);
  run->window_len = run->window_pos = 0;
}

/* Fetches images indices[0 .. count - 1] (count <= FETCH_WINDOW) on every core; the error
 * is the one a one-by-one fetch would have met first. */
static gboolean
run_window_fill (Run *run, const guint *indices, guint count, GError **error)
{
  FetchSlice slices[MAX_FETCH_THREADS];
  guint n_slices = MIN (run->n_threads, MAX (1, count / 8));
  GError *first_error = NULL;

  run_window_clear (run);
  memcpy (run->window_indices, indices, count * sizeof (guint));
  memset (run->window_images, 0, count * sizeof (VetoImage *));
  for (guint t = 0; t < n_slices; t++)
    {
      guint from = count * t / n_slices, to = count * (t + 1) / n_slices;

      slices[t] = (FetchSlice) { run, run->window_indices + from, run->window_images + from,
                                 to - from, NULL };
    }
  if (n_slices == 1)
    fetch_slice_run (&slices[0], run);
  else
    {
      g_mutex_lock (&run->lock);
      run->pending += n_slices;
      g_mutex_unlock (&run->lock);
      for (guint t = 0; t < n_slices; t++)
        g_thread_pool_push (run->pool, &slices[t], NULL);
      g_mutex_lock (&run->lock);
      while (run->pending > 0)
        g_cond_wait (&run->cond, &run->lock);
      g_mutex_unlock (&run->lock);
    }
  run->window_len = count;
  for (guint t = 0; t < n_slices; t++)
    if (first_error == NULL)
      first_error = g_steal_pointer (&slices[t].error);
    else
      g_clear_error (&slices[t].error);
  if (first_error != NULL)
    {
      run_window_clear (run);
      g_propagate_error (error, first_error);
      return FALSE;
    }
  return TRUE;
}

/* Image index, converted and resized to the set's geometry: from the window when it is the
 * next one there, else after fetching the window of images that follow it. */
static VetoImage *
run_fetch (Run *run, guint index, GError **error)
{
  if (run->window_pos >= run->window_len || run->window_indices[run->window_pos] != index)
    {
      guint indices[FETCH_WINDOW], count = MIN (FETCH_WINDOW, run->n - index);

      for (guint k = 0; k < count; k++)
        indices[k] = index + k;
      if (!run_window_fill (run, indices, count, error))
        return NULL;
    }
  return g_steal_pointer (&run->window_images[run->window_pos++]);
}

/* pixels */

static float *
extract_pixels (Run *run, guint *out_d, GError **error)
{
  guint d = run->width * run->height * run->channels;
  g_autofree float *out = g_new (float, (gsize) run->n * d);

  for (guint i = 0; i < run->n; i++)
    {
      g_autoptr (VetoImage) image = run_fetch (run, i, error);

      if (image == NULL)
        return NULL;
      for (guint j = 0; j < d; j++)
        out[(gsize) i * d + j] = image->data[j] / 255.0f;
      run_advance (run);
    }
  *out_d = d;
  return g_steal_pointer (&out);
}

/* HOG */

typedef struct
{
  guint width;
  guint height;
  guint cell;
  guint bins;
  guint cells_x;
  guint cells_y;
  float *grey;
  float *cells;
} Hog;

static guint
hog_dim (const Hog *hog)
{
  return (hog->cells_y - HOG_BLOCK + 1) * (hog->cells_x - HOG_BLOCK + 1) * HOG_BLOCK * HOG_BLOCK
         * hog->bins;
}

/* Centred [-1, 0, 1] gradients, unsigned orientation voted into the two nearest bins (bin b
 * centred on b * 180 / bins degrees), per-cell histograms, then overlapping 2 x 2 blocks
 * normalised with L2-Hys. */
static void
hog_compute (Hog *hog, const VetoImage *image, float *out)
{
  guint w = hog->width, h = hog->height, ch = image->channels;
  double bin_width = G_PI / hog->bins;
  guint block_len = HOG_BLOCK * HOG_BLOCK * hog->bins;

  for (gsize i = 0; i < (gsize) w * h; i++)
    hog->grey[i] = (ch == 1 ? image->data[i] : luma (image->data + i * 3)) / 255.0f;
  memset (hog->cells, 0, sizeof (float) * hog->cells_x * hog->cells_y * hog->bins);
  for (guint y = 0; y < hog->cells_y * hog->cell; y++)
    for (guint x = 0; x < hog->cells_x * hog->cell; x++)
      {
        float gx = hog->grey[y * w + MIN (x + 1, w - 1)] - hog->grey[y * w + (x > 0 ? x - 1 : 0)];
        float gy = hog->grey[MIN (y + 1, h - 1) * w + x] - hog->grey[(y > 0 ? y - 1 : 0) * w + x];
        float magnitude = sqrtf (gx * gx + gy * gy);
        double angle, position, frac;
        guint bin;
        float *hist;

        if (magnitude == 0)
          continue;
        angle = atan2 (gy, gx);
        if (angle < 0)
          angle += G_PI;
        position = angle / bin_width;
        bin = (guint) position;
        frac = position - bin;
        bin %= hog->bins;
        hist = hog->cells + ((y / hog->cell) * hog->cells_x + x / hog->cell) * hog->bins;
        hist[bin] += magnitude * (float) (1 - frac);
        hist[(bin + 1) % hog->bins] += magnitude * (float) frac;
      }
  for (guint by = 0; by + HOG_BLOCK <= hog->cells_y; by++)
    for (guint bx = 0; bx + HOG_BLOCK <= hog->cells_x; bx++)
      {
        float *block = out;
        double norm = 0;

        for (guint cy = 0; cy < HOG_BLOCK; cy++)
          for (guint cx = 0; cx < HOG_BLOCK; cx++)
            {
              memcpy (out, hog->cells + ((by + cy) * hog->cells_x + bx + cx) * hog->bins,
                      sizeof (float) * hog->bins);
              out += hog->bins;
            }
        for (int pass = 0; pass < 2; pass++)
          {
            float scale;

            norm = 0;
            for (guint i = 0; i < block_len; i++)
              norm += (double) block[i] * block[i];
            scale = (float) (1.0 / sqrt (norm + HOG_EPSILON * HOG_EPSILON));
            for (guint i = 0; i < block_len; i++)
              block[i] = pass == 0 ? MIN (block[i] * scale, HOG_CLIP) : block[i] * scale;
          }
      }
}

/* Joint RGB histogram, COLOR_BINS levels per channel, as fractions of the pixels. */
static void
color_histogram (const VetoImage *image, float *out)
{
  gsize n_pixels = (gsize) image->width * image->height;

  memset (out, 0, sizeof (float) * COLOR_BINS * COLOR_BINS * COLOR_BINS);
  for (gsize i = 0; i < n_pixels; i++)
    {
      const guint8 *p = image->data + i * 3;
      guint bin = ((p[0] * COLOR_BINS / 256) * COLOR_BINS + p[1] * COLOR_BINS / 256) * COLOR_BINS
                  + p[2] * COLOR_BINS / 256;

      out[bin] += 1.0f / n_pixels;
    }
}

static float *
extract_hog (const VetoFeatureSpec *spec, Run *run, guint *out_d, GError **error)
{
  Hog hog = { .width = run->width, .height = run->height, .cell = spec->cell,
              .bins = spec->bins };
  g_autofree float *grey = NULL;
  g_autofree float *cells = NULL;
  g_autofree float *out = NULL;
  guint color_dim = run->channels == 3 ? COLOR_BINS * COLOR_BINS * COLOR_BINS : 0;
  guint hog_d, d;

  hog.cells_x = run->width / spec->cell;
  hog.cells_y = run->height / spec->cell;
  if (hog.cells_x < HOG_BLOCK || hog.cells_y < HOG_BLOCK)
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_INPUT,
                   "images of %ux%u pixels are too small for HOG with %u-pixel cells "
                   "(at least %u pixels a side)", run->width, run->height, spec->cell,
                   HOG_BLOCK * spec->cell);
      return NULL;
    }
  hog.grey = grey = g_new (float, (gsize) run->width * run->height);
  hog.cells = cells = g_new (float, (gsize) hog.cells_x * hog.cells_y * spec->bins);
  hog_d = hog_dim (&hog);
  d = hog_d + color_dim;
  out = g_new (float, (gsize) run->n * d);
  for (guint i = 0; i < run->n; i++)
    {
      g_autoptr (VetoImage) image = run_fetch (run, i, error);

      if (image == NULL)
        return NULL;
      hog_compute (&hog, image, out + (gsize) i * d);
      if (color_dim > 0)
        color_histogram (image, out + (gsize) i * d + hog_d);
      run_advance (run);
    }
  *out_d = d;
  return g_steal_pointer (&out);
}

/* kmeans: Coates, Lee & Ng, "An Analysis of Single-Layer Networks in Unsupervised Feature
 * Learning" (AISTATS 2011). */

/* Cyclic Jacobi eigen-decomposition of the symmetric d x d matrix a (destroyed): eigenvalues
 * on its diagonal, eigenvectors in the columns of v. Small d (a patch) makes this cheap. */
static void
jacobi_eigen (double *a, guint d, double *v)
{
  for (guint i = 0; i < d; i++)
    for (guint j = 0; j < d; j++)
      v[i * d + j] = i == j;
  for (int sweep = 0; sweep < 100; sweep++)
    {
      double off = 0, total = 0;

      for (guint i = 0; i < d; i++)
        for (guint j = 0; j < d; j++)
          {
            total += a[i * d + j] * a[i * d + j];
            if (i != j)
              off += a[i * d + j] * a[i * d + j];
          }
      if (off <= 1e-28 * total)
        break;
      for (guint p = 0; p < d; p++)
        for (guint q = p + 1; q < d; q++)
          {
            double apq = a[p * d + q], theta, t, c, s;

            if (apq == 0)
              continue;
            theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
            t = (theta >= 0 ? 1 : -1) / (fabs (theta) + sqrt (theta * theta + 1));
            c = 1 / sqrt (t * t + 1);
            s = t * c;
            for (guint k = 0; k < d; k++)
              {
                double akp = a[k * d + p], akq = a[k * d + q];

                a[k * d + p] = c * akp - s * akq;
                a[k * d + q] = s * akp + c * akq;
              }
            for (guint k = 0; k < d; k++)
              {
                double apk = a[p * d + k], aqk = a[q * d + k];

                a[p * d + k] = c * apk - s * aqk;
                a[q * d + k] = s * apk + c * aqk;
              }
            for (guint k = 0; k < d; k++)
              {
                double vkp = v[k * d + p], vkq = v[k * d + q];

                v[k * d + p] = c * vkp - s * vkq;
                v[k * d + q] = s * vkp + c * vkq;
              }
          }
    }
}

gboolean
veto_features_zca_fit (const float *x, gsize n, guint d, double epsilon, float *out_mean,
                       float *out_whiten, GError **error)
{
  g_autofree double *mean = g_new0 (double, d);
  g_autofree double *cov = g_new0 (double, (gsize) d * d);
  g_autofree double *vectors = g_new (double, (gsize) d * d);
  g_autofree double *chunk = NULL;
  g_autofree double *scale = g_new (double, d);
  gsize chunk_rows = 4096;

  if (n < 2 || d == 0)
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_INPUT,
                   "whitening needs at least 2 samples of at least 1 dimension");
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    for (guint j = 0; j < d; j++)
      mean[j] += x[i * d + j];
  for (guint j = 0; j < d; j++)
    mean[j] /= n;
  chunk = g_new (double, chunk_rows * d);
  for (gsize start = 0; start < n; start += chunk_rows)
    {
      gsize rows = MIN (chunk_rows, n - start);

      for (gsize i = 0; i < rows; i++)
        for (guint j = 0; j < d; j++)
          chunk[i * d + j] = x[(start + i) * d + j] - mean[j];
      cblas_dsyrk (CblasRowMajor, CblasUpper, CblasTrans, d, rows, 1.0, chunk, d, 1.0, cov, d);
    }
  for (guint i = 0; i < d; i++)
    for (guint j = i; j < d; j++)
      {
        cov[i * d + j] /= n - 1;
        cov[j * d + i] = cov[i * d + j];
      }
  jacobi_eigen (cov, d, vectors);
  for (guint j = 0; j < d; j++)
    scale[j] = 1.0 / sqrt (MAX (cov[j * d + j], 0) + epsilon);
  /* whiten = V diag (scale) V^T */
  for (guint i = 0; i < d; i++)
    for (guint j = i; j < d; j++)
      {
        double acc = 0;

        for (guint k = 0; k < d; k++)
          acc += vectors[i * d + k] * scale[k] * vectors[j * d + k];
        out_whiten[i * d + j] = out_whiten[j * d + i] = (float) acc;
      }
  for (guint j = 0; j < d; j++)
    out_mean[j] = (float) mean[j];
  return TRUE;
}

typedef struct
{
  guint dim;
  guint k;
  float *mean;
  float *whiten;
  float *centroids;
  float *centroid_norms;
} Kmeans;

static void
kmeans_clear (Kmeans *km)
{
  g_free (km->mean);
  g_free (km->whiten);
  g_free (km->centroids);
  g_free (km->centroid_norms);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Kmeans, kmeans_clear)

static void
copy_patch (const VetoImage *image, guint x, guint y, guint patch, float *out)
{
  guint row_len = patch * image->channels;

  for (guint dy = 0; dy < patch; dy++)
    {
      const guint8 *src = image->data + ((gsize) (y + dy) * image->width + x) * image->channels;

      for (guint t = 0; t < row_len; t++)
        out[dy * row_len + t] = src[t];
    }
}

/* Brightness and contrast normalisation of each patch (row). */
static void
normalize_patches (float *x, gsize rows, guint dim)
{
  for (gsize r = 0; r < rows; r++)
    {
      float *p = x + r * dim;
      float sum = 0, sq = 0, mean, inv;

      /* Pixels are integers: the sum is exact in float. */
      for (guint j = 0; j < dim; j++)
        sum += p[j];
      mean = sum / dim;
      for (guint j = 0; j < dim; j++)
        sq += (p[j] - mean) * (p[j] - mean);
      inv = 1.0f / sqrtf (sq / (dim - 1) + KMEANS_CONTRAST_EPSILON);
      for (guint j = 0; j < dim; j++)
        p[j] = (p[j] - mean) * inv;
    }
}

/* out = (x - mean) W for normalised patches x (centred in place). */
static void
whiten_patches (const Kmeans *km, float *x, float *out, gsize rows)
{
  for (gsize r = 0; r < rows; r++)
    for (guint j = 0; j < km->dim; j++)
      x[r * km->dim + j] -= km->mean[j];
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, km->dim, km->dim, 1.0f, x,
               km->dim, km->whiten, km->dim, 0.0f, out, km->dim);
}

static int
compare_uint (gconstpointer a, gconstpointer b)
{
  guint x = *(const guint *) a, y = *(const guint *) b;

  return x < y ? -1 : x > y;
}

/* Random patches from a random subset of about one image in ten patches wanted. */
static float *
sample_patches (const VetoFeatureSpec *spec, Run *run, GRand *rand, guint n_images,
                GError **error)
{
  g_autofree guint *order = g_new (guint, run->n);
  guint dim = spec->patch * spec->patch * run->channels;
  g_autofree float *patches = g_new (float, (gsize) spec->samples * dim);
  guint taken = 0;

  for (guint i = 0; i < run->n; i++)
    order[i] = i;
  for (guint i = 0; i < n_images; i++)
    {
      guint j = g_rand_int_range (rand, i, run->n);
      guint t = order[i];

      order[i] = order[j];
      order[j] = t;
    }
  qsort (order, n_images, sizeof (guint), compare_uint);
  for (guint s = 0; s < n_images; s++)
    {
      g_autoptr (VetoImage) image = NULL;
      guint count = spec->samples / n_images + (s < spec->samples % n_images);

      if (s % FETCH_WINDOW == 0
          && !run_window_fill (run, order + s, MIN (FETCH_WINDOW, n_images - s), error))
        return NULL;
      image = run_fetch (run, order[s], error);
      if (image == NULL)
        return NULL;
      for (guint c = 0; c < count; c++)
        {
          guint x = g_rand_int_range (rand, 0, run->width - spec->patch + 1);
          guint y = g_rand_int_range (rand, 0, run->height - spec->patch + 1);

          copy_patch (image, x, y, spec->patch, patches + (gsize) taken++ * dim);
        }
      run_advance (run);
    }
  return g_steal_pointer (&patches);
}

/* Lloyd's k-means on the whitened patches x (n x dim), seeded with k distinct samples; an
 * emptied cluster is moved to a random sample. */
static void
kmeans_train (Kmeans *km, const float *x, gsize n, guint iters, GRand *rand)
{
  guint k = km->k, dim = km->dim;
  g_autofree guint *pick = g_new (guint, n);
  g_autofree double *sums = g_new (double, (gsize) k * dim);
  g_autofree guint *counts = g_new (guint, k);
  g_autofree float *half_norms = g_new (float, k);
  g_autofree float *scores = g_new (float, (gsize) KMEANS_BATCH_ROWS * k);

  for (gsize i = 0; i < n; i++)
    pick[i] = i;
  for (guint j = 0; j < k; j++)
    {
      guint r = g_rand_int_range (rand, j, n);
      guint t = pick[j];

      pick[j] = pick[r];
      pick[r] = t;
      memcpy (km->centroids + (gsize) j * dim, x + (gsize) pick[j] * dim, sizeof (float) * dim);
    }
  for (guint it = 0; it < iters; it++)
    {
      for (guint j = 0; j < k; j++)
        half_norms[j] = 0.5f * cblas_sdot (dim, km->centroids + (gsize) j * dim, 1,
                                           km->centroids + (gsize) j * dim, 1);
      memset (sums, 0, sizeof (double) * k * dim);
      memset (counts, 0, sizeof (guint) * k);
      for (gsize start = 0; start < n; start += KMEANS_BATCH_ROWS)
        {
          gsize rows = MIN (KMEANS_BATCH_ROWS, n - start);

          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, rows, k, dim, 1.0f,
                       x + start * dim, dim, km->centroids, dim, 0.0f, scores, k);
          for (gsize r = 0; r < rows; r++)
            {
              const float *row = scores + r * k;
              const float *sample = x + (start + r) * dim;
              guint best = 0;
              float best_score = row[0] - half_norms[0];

              for (guint j = 1; j < k; j++)
                if (row[j] - half_norms[j] > best_score)
                  {
                    best = j;
                    best_score = row[j] - half_norms[j];
                  }
              counts[best]++;
              for (guint t = 0; t < dim; t++)
                sums[(gsize) best * dim + t] += sample[t];
            }
        }
      for (guint j = 0; j < k; j++)
        {
          float *centroid = km->centroids + (gsize) j * dim;

          if (counts[j] == 0)
            memcpy (centroid, x + (gsize) g_rand_int_range (rand, 0, n) * dim,
                    sizeof (float) * dim);
          else
            for (guint t = 0; t < dim; t++)
              centroid[t] = (float) (sums[(gsize) j * dim + t] / counts[j]);
        }
    }
  for (guint j = 0; j < k; j++)
    km->centroid_norms[j] = cblas_sdot (dim, km->centroids + (gsize) j * dim, 1,
                                        km->centroids + (gsize) j * dim, 1);
}

/* The triangle activation of one patch, added to its quadrant's pool: z holds the dot
 * products with the centroids on entry and the distances z_j = |x - c_j| on return, and
 * pool_j += max (0, mean (z) - z_j). This is the innermost loop of the extractor (k values
 * for every patch of every image), hence the SSE path: GCC will not vectorise sqrtf while
 * it may set errno. */
static void
triangle_pool (float *z, float sq_norm, const float *centroid_norms, guint k, float *pool)
{
  float sum = 0, mean;
  guint j = 0;

#ifdef __SSE2__
  {
    __m128 zero = _mm_setzero_ps (), acc = _mm_setzero_ps ();
    __m128 xx = _mm_set1_ps (sq_norm), two = _mm_set1_ps (2.0f);
    float lanes[4];

    for (; j + 4 <= k; j += 4)
      {
        __m128 d2 = _mm_sub_ps (_mm_add_ps (xx, _mm_loadu_ps (centroid_norms + j)),
                                _mm_mul_ps (two, _mm_loadu_ps (z + j)));
        __m128 dist = _mm_sqrt_ps (_mm_max_ps (d2, zero));

        _mm_storeu_ps (z + j, dist);
        acc = _mm_add_ps (acc, dist);
      }
    _mm_storeu_ps (lanes, acc);
    sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  }
#endif
  for (; j < k; j++)
    {
      z[j] = sqrtf (MAX (sq_norm + centroid_norms[j] - 2.0f * z[j], 0.0f));
      sum += z[j];
    }
  mean = sum / k;
  j = 0;
#ifdef __SSE2__
  {
    __m128 zero = _mm_setzero_ps (), m = _mm_set1_ps (mean);

    for (; j + 4 <= k; j += 4)
      _mm_storeu_ps (pool + j, _mm_add_ps (_mm_loadu_ps (pool + j),
                                           _mm_max_ps (_mm_sub_ps (m, _mm_loadu_ps (z + j)),
                                                       zero)));
  }
#endif
  for (; j < k; j++)
    pool[j] += MAX (mean - z[j], 0.0f);
}

/* Every patch (stride 1) of every image, whitened; triangle activation
 * f_j = max (0, mean (z) - z_j) on the distances z to the centroids; summed over the four
 * quadrants of the image, giving 4k features. */
static float *
extract_kmeans (const VetoFeatureSpec *spec, Run *run, guint *out_d, GError **error)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (spec->seed);
  g_auto (Kmeans) km = { .dim = spec->patch * spec->patch * run->channels, .k = spec->k };
  g_autofree float *samples = NULL;
  g_autofree float *whitened = NULL;
  g_autofree float *x = NULL;
  g_autofree float *scores = NULL;
  g_autofree float *sq_norms = NULL;
  g_autofree guint *quadrant = NULL;
  g_autofree float *out = NULL;
  guint n_sample_images, out_w, out_h, n_pos, batch, d = 4 * spec->k;

  if (run->width < spec->patch || run->height < spec->patch)
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_INPUT,
                   "images of %ux%u pixels are smaller than the %u-pixel kmeans patches",
                   run->width, run->height, spec->patch);
      return NULL;
    }
  n_sample_images = MIN (run->n, MAX (1, spec->samples / 10));
  run->total = n_sample_images + run->n;
  samples = sample_patches (spec, run, rand, n_sample_images, error);
  if (samples == NULL)
    return NULL;
  normalize_patches (samples, spec->samples, km.dim);
  km.mean = g_new (float, km.dim);
  km.whiten = g_new (float, (gsize) km.dim * km.dim);
  if (!veto_features_zca_fit (samples, spec->samples, km.dim, KMEANS_ZCA_EPSILON, km.mean,
                              km.whiten, error))
    return NULL;
  whitened = g_new (float, (gsize) spec->samples * km.dim);
  whiten_patches (&km, samples, whitened, spec->samples);
  g_clear_pointer (&samples, g_free);
  km.centroids = g_new (float, (gsize) km.k * km.dim);
  km.centroid_norms = g_new (float, km.k);
  kmeans_train (&km, whitened, spec->samples, spec->iters, rand);
  g_clear_pointer (&whitened, g_free);

  out_w = run->width - spec->patch + 1;
  out_h = run->height - spec->patch + 1;
  n_pos = out_w * out_h;
  quadrant = g_new (guint, n_pos);
  for (guint y = 0; y < out_h; y++)
    for (guint xx = 0; xx < out_w; xx++)
      quadrant[y * out_w + xx] = (y >= (out_h + 1) / 2) * 2 + (xx >= (out_w + 1) / 2);
  batch = MAX (1, KMEANS_BATCH_ROWS / n_pos);
  x = g_new (float, (gsize) batch * n_pos * km.dim);
  whitened = g_new (float, (gsize) batch * n_pos * km.dim);
  scores = g_new (float, (gsize) batch * n_pos * km.k);
  sq_norms = g_new (float, (gsize) batch * n_pos);
  out = g_new0 (float, (gsize) run->n * d);
  for (guint start = 0; start < run->n; start += batch)
    {
      guint count = MIN (batch, run->n - start);
      gsize rows = (gsize) count * n_pos;

      for (guint b = 0; b < count; b++)
        {
          g_autoptr (VetoImage) image = run_fetch (run, start + b, error);

          if (image == NULL)
            return NULL;
          for (guint y = 0; y < out_h; y++)
            for (guint xx = 0; xx < out_w; xx++)
              copy_patch (image, xx, y, spec->patch,
                          x + ((gsize) b * n_pos + y * out_w + xx) * km.dim);
          run_advance (run);
        }
      normalize_patches (x, rows, km.dim);
      whiten_patches (&km, x, whitened, rows);
      for (gsize r = 0; r < rows; r++)
        sq_norms[r] = cblas_sdot (km.dim, whitened + r * km.dim, 1, whitened + r * km.dim, 1);
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, rows, km.k, km.dim, 1.0f, whitened,
                   km.dim, km.centroids, km.dim, 0.0f, scores, km.k);
      for (gsize r = 0; r < rows; r++)
        triangle_pool (scores + r * km.k, sq_norms[r], km.centroid_norms, km.k,
                       out + (gsize) (start + r / n_pos) * d + quadrant[r % n_pos] * km.k);
    }
  *out_d = d;
  return g_steal_pointer (&out);
}

VetoFeatures *
veto_features_extract (const VetoFeatureSpec *spec, guint n_images, VetoImageFetchFunc fetch,
                       gpointer fetch_data, VetoProgressFunc progress, gpointer progress_data,
                       GCancellable *cancellable, GError **error)
{
  Run run = { .n = n_images, .fetch = fetch, .fetch_data = fetch_data, .progress = progress,
              .progress_data = progress_data, .cancellable = cancellable };
  g_autofree float *data = NULL;
  guint d = 0;

  g_return_val_if_fail (spec != NULL && fetch != NULL, NULL);
  if (spec->kind == VETO_FEATURE_NPY)
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_SPEC,
                   "npy features are read from their file, not extracted from images");
      return NULL;
    }
  if (n_images == 0)
    {
      g_set_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_INPUT,
                   "there are no images to extract features from");
      return NULL;
    }
  run.total = n_images;
  if (!run_begin (&run, spec->side, error))
    return NULL;
  run.n_threads = CLAMP (g_get_num_processors (), 1, MAX_FETCH_THREADS);
  g_mutex_init (&run.lock);
  g_cond_init (&run.cond);
  run.pool = g_thread_pool_new (fetch_slice_run, &run, run.n_threads, FALSE, NULL);
  if (spec->kind == VETO_FEATURE_PIXELS)
    data = extract_pixels (&run, &d, error);
  else if (spec->kind == VETO_FEATURE_HOG)
    data = extract_hog (spec, &run, &d, error);
  else
    data = extract_kmeans (spec, &run, &d, error);
  g_thread_pool_free (run.pool, FALSE, TRUE);
  run_window_clear (&run);
  g_cond_clear (&run.cond);
  g_mutex_clear (&run.lock);
  veto_image_free (run.first);
  if (data == NULL)
    return NULL;
  if (spec->standardize)
    standardize (data, n_images, d);
  return features_new_take (n_images, d, g_steal_pointer (&data), spec->key);
}
