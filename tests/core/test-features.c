/* Tests for veto-features: specs and keys, each extractor on hand-made images, ZCA, blobs. */
#include "veto-features.h"

#include <math.h>
#include <string.h>

typedef struct
{
  GPtrArray *images; /* of VetoImage */
  guint fail_at;     /* index whose fetch fails, or G_MAXUINT */
  GCancellable *cancel_at_half;
} Source;

static VetoImage *
source_fetch (gpointer user_data, guint index, G_GNUC_UNUSED guint min_width,
              G_GNUC_UNUSED guint min_height, GError **error)
{
  Source *source = user_data;
  const VetoImage *image = g_ptr_array_index (source->images, index);

  if (index == source->fail_at)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "image %u is gone", index);
      return NULL;
    }
  if (source->cancel_at_half != NULL && index == source->images->len / 2)
    g_cancellable_cancel (source->cancel_at_half);
  return veto_image_new_from_data (image->width, image->height, image->channels, image->data);
}

static VetoImage *
fetch_null (G_GNUC_UNUSED gpointer user_data, G_GNUC_UNUSED guint index,
            G_GNUC_UNUSED guint min_width, G_GNUC_UNUSED guint min_height,
            G_GNUC_UNUSED GError **error)
{
  return NULL;
}

static void
source_init (Source *source)
{
  source->images = g_ptr_array_new_with_free_func ((GDestroyNotify) veto_image_free);
  source->fail_at = G_MAXUINT;
  source->cancel_at_half = NULL;
}

static void
source_clear (Source *source)
{
  g_clear_pointer (&source->images, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Source, source_clear)

static VetoImage *
add_image (Source *source, guint width, guint height, guint channels, guint8 fill)
{
  VetoImage *image = veto_image_new (width, height, channels);

  memset (image->data, fill, veto_image_n_bytes (image));
  g_ptr_array_add (source->images, image);
  return image;
}

static VetoFeatures *
extract (const char *text, Source *source, GError **error)
{
  g_autoptr (VetoFeatureSpec) spec = veto_feature_spec_parse (text, NULL);

  g_assert_nonnull (spec);
  return veto_features_extract (spec, source->images->len, source_fetch, source, NULL, NULL, NULL,
                                error);
}

static void
assert_spec_refused (const char *text, const char *fragment)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoFeatureSpec) spec = veto_feature_spec_parse (text, &error);

  g_assert_null (spec);
  g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_SPEC);
  if (strstr (error->message, fragment) == NULL)
    g_error ("'%s': message '%s' lacks '%s'", text, error->message, fragment);
}

static char *
key_of (const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoFeatureSpec) spec = veto_feature_spec_parse (text, &error);

  g_assert_no_error (error);
  return g_strdup (veto_feature_spec_get_key (spec));
}

static void
test_spec (void)
{
  g_autoptr (VetoFeatureSpec) npy = veto_feature_spec_parse ("npy:/data/emb:1.npy", NULL);
  g_autoptr (VetoFeatureSpec) hog = veto_feature_spec_parse ("hog", NULL);
  const char *texts[] = { "pixels", "pixels:side=16", "pixels:std=0", "hog", "hog:cell=8",
                          "hog:bins=12", "kmeans", "kmeans:k=400", "kmeans:patch=5",
                          "kmeans:seed=2", "kmeans:samples=5000", "kmeans:iters=3",
                          "kmeans:side=28", "npy:/a.npy", "npy:/b.npy" };
  g_autoptr (GHashTable) keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *k1 = key_of ("kmeans");
  g_autofree char *k2 = key_of ("kmeans:seed=1,k=256");

  g_assert_cmpint (veto_feature_spec_get_kind (npy), ==, VETO_FEATURE_NPY);
  g_assert_cmpstr (veto_feature_spec_get_path (npy), ==, "/data/emb:1.npy");
  g_assert_cmpint (veto_feature_spec_get_kind (hog), ==, VETO_FEATURE_HOG);
  g_assert_null (veto_feature_spec_get_path (hog));
  g_assert_cmpstr (veto_feature_spec_get_key (hog), ==, "hog:v1:side=32,cell=4,bins=9,std=1");
  g_assert_cmpstr (k1, ==, "kmeans:v1:side=32,k=256,patch=6,samples=100000,iters=10,seed=1,std=1");
  /* Defaults spelled out give the same key; every parameter change gives another. */
  g_assert_cmpstr (k1, ==, k2);
  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    g_assert_true (g_hash_table_add (keys, key_of (texts[i])));

  assert_spec_refused ("", "unknown feature extractor ''");
  assert_spec_refused ("sift", "unknown feature extractor 'sift'");
  assert_spec_refused ("npy", "npy:PATH");
  assert_spec_refused ("npy:", "npy:PATH");
  assert_spec_refused ("kmeans:", "no options after ':'");
  assert_spec_refused ("kmeans:k=8,", "unknown option ''");
  assert_spec_refused ("kmeans:k=1", "from 2 to 4096");
  assert_spec_refused ("kmeans:k=abc", "'k' needs an integer");
  assert_spec_refused ("kmeans:k=-5", "'k' needs an integer");
  assert_spec_refused ("kmeans:k", "'k' needs an integer");
  assert_spec_refused ("kmeans:k=8,k=9", "given twice");
  assert_spec_refused ("kmeans:cell=4", "unknown option 'cell' (known: side, k, patch");
  assert_spec_refused ("kmeans:k=500,samples=200", "at least k");
  assert_spec_refused ("kmeans:patch=12,side=8", "must not exceed side");
  assert_spec_refused ("hog:cell=32", "at least 2 cells");
  assert_spec_refused ("pixels:side=", "'side' needs an integer");
  assert_spec_refused ("pixels:std=2", "from 0 to 1");
}

/* Three 2x2 grey images; each pixel column has known mean and standard deviation. */
static void
test_pixels_exact (void)
{
  g_auto (Source) source = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoFeatures) features = NULL;
  const guint8 pixels[3][4] = { { 0, 200, 255, 7 }, { 51, 200, 0, 9 }, { 102, 200, 0, 11 } };
  const double s = sqrt (1.5), r = sqrt (2.0);
  const double expect[3][4] = { { -s, 0, r, -s }, { 0, 0, -r / 2, 0 }, { s, 0, -r / 2, s } };

  source_init (&source);
  for (int i = 0; i < 3; i++)
    memcpy (add_image (&source, 2, 2, 1, 0)->data, pixels[i], 4);
  features = extract ("pixels", &source, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (veto_features_get_n (features), ==, 3);
  g_assert_cmpuint (veto_features_get_dim (features), ==, 4);
  g_assert_cmpstr (veto_features_get_key (features), ==, "pixels:v1:side=32,std=1");
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      g_assert_cmpfloat_with_epsilon (veto_features_get_row (features, i)[j], expect[i][j], 1e-5);
  g_clear_pointer (&features, veto_features_free);

  features = extract ("pixels:std=0", &source, &error);
  g_assert_no_error (error);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      g_assert_cmpfloat (veto_features_get_data (features)[i * 4 + j], ==, pixels[i][j] / 255.0f);
}

static guint
pixels_dim (guint width, guint height, guint channels)
{
  g_auto (Source) source = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoFeatures) features = NULL;

  source_init (&source);
  add_image (&source, width, height, channels, 1);
  add_image (&source, 5, 9, 1, 2);
  features = extract ("pixels", &source, &error);
  g_assert_no_error (error);
  return veto_features_get_dim (features);
}

static void
test_pixels_resize (void)
{
  g_auto (Source) source = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoFeatures) features = NULL;
  VetoImage *rgb;

  /* Small images keep their size, larger ones are brought down to 32 on the longest side, and
   * the first image decides for the set. */
  g_assert_cmpuint (pixels_dim (28, 28, 1), ==, 784);
  g_assert_cmpuint (pixels_dim (40, 20, 1), ==, 32 * 16);
  g_assert_cmpuint (pixels_dim (20, 40, 3), ==, 16 * 32 * 3);
  g_assert_cmpuint (pixels_dim (32, 32, 3), ==, 32 * 32 * 3);
  g_assert_cmpuint (pixels_dim (3, 2, 1), ==, 6);

  /* Later images are resized and converted to the first one's geometry. */
  source_init (&source);
  add_image (&source, 4, 4, 1, 10);
  add_image (&source, 9, 7, 1, 100);
  rgb = add_image (&source, 2, 2, 3, 0);
  for (guint i = 0; i < 4; i++)
    memcpy (rgb->data + i * 3, "\x1e\x3c\x5a", 3); /* (30, 60, 90) has luma 54.45 */
  features = extract ("pixels:std=0", &source, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (veto_features_get_dim (features), ==, 16);
  for (guint j = 0; j < 16; j++)
    {
      g_assert_cmpfloat (veto_features_get_row (features, 1)[j], ==, 100 / 255.0f);
      g_assert_cmpfloat (veto_features_get_row (features, 2)[j], ==, 54 / 255.0f);
    }
  g_clear_pointer (&features, veto_features_free);

  /* A grey image in a colour set is replicated over the three channels. */
  g_ptr_array_remove_index (source.images, 0);
  g_ptr_array_remove_index (source.images, 0);
  add_image (&source, 3, 3, 1, 77);
  features = extract ("pixels:std=0", &source, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (veto_features_get_dim (features), ==, 12);
  for (guint j = 0; j < 12; j++)
    g_assert_cmpfloat (veto_features_get_row (features, 1)[j], ==, 77 / 255.0f);
}

static void
test_hog (void)
{
  g_auto (Source) source = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoFeatures) features = NULL;
  VetoImage *vertical, *horizontal, *colour;
  const guint d = 3 * 3 * 4 * 9;
  double bin_mass[3][9] = { { 0 } };

  source_init (&source);
  vertical = add_image (&source, 16, 16, 1, 0);
  horizontal = add_image (&source, 16, 16, 1, 0);
  add_image (&source, 16, 16, 1, 128);
  for (guint y = 0; y < 16; y++)
    for (guint x = 0; x < 16; x++)
      {
        vertical->data[y * 16 + x] = x < 8 ? 0 : 255;
        horizontal->data[y * 16 + x] = y < 8 ? 30 : 200;
      }
  features = extract ("hog:std=0", &source, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (veto_features_get_dim (features), ==, d);
  for (guint i = 0; i < 3; i++)
    for (guint j = 0; j < d; j++)
      {
        float v = veto_features_get_row (features, i)[j];

        g_assert_cmpfloat (v, >=, 0);
        g_assert_cmpfloat (v, <=, 1);
        bin_mass[i][j % 9] += v;
      }
  /* A vertical edge: the gradient is horizontal (0 degrees), all of it in bin 0. */
  g_assert_cmpfloat (bin_mass[0][0], >, 1);
  for (guint b = 1; b < 9; b++)
    g_assert_cmpfloat (bin_mass[0][b], ==, 0);
  /* A horizontal edge: 90 degrees, halfway between bins 4 (80) and 5 (100). */
  g_assert_cmpfloat_with_epsilon (bin_mass[1][4], bin_mass[1][5], 1e-4);
  g_assert_cmpfloat (bin_mass[1][4], >, 0.5);
  for (guint b = 0; b < 9; b++)
    if (b != 4 && b != 5)
      g_assert_cmpfloat (bin_mass[1][b], ==, 0);
  /* A uniform image has no gradient energy at all. */
  for (guint b = 0; b < 9; b++)
    g_assert_cmpfloat (bin_mass[2][b], ==, 0);
  g_clear_pointer (&features, veto_features_free);

  /* Colour sets get a 64-bin colour histogram after the HOG blocks. */
  g_ptr_array_set_size (source.images, 0);
  colour = add_image (&source, 16, 16, 3, 0);
  for (guint i = 0; i < 128; i++)
    colour->data[i * 3] = 255;
  add_image (&source, 8, 8, 1, 0);
  features = extract ("hog:std=0", &source, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (veto_features_get_dim (features), ==, d + 64);
  g_assert_cmpfloat (veto_features_get_row (features, 0)[d + 0], ==, 0.5f);
  g_assert_cmpfloat (veto_features_get_row (features, 0)[d + 48], ==, 0.5f);
  g_assert_cmpfloat (veto_features_get_row (features, 1)[d + 0], ==, 1.0f);
  g_clear_pointer (&features, veto_features_free);

  /* Standardised: zero mean per dimension. */
  features = extract ("hog", &source, &error);
  g_assert_no_error (error);
  for (guint j = 0; j < d + 64; j++)
    g_assert_cmpfloat_with_epsilon (veto_features_get_row (features, 0)[j]
                                    + veto_features_get_row (features, 1)[j], 0, 1e-5);
  g_clear_pointer (&features, veto_features_free);

  g_ptr_array_set_size (source.images, 0);
  add_image (&source, 7, 30, 1, 0);
  features = extract ("hog", &source, &error);
  g_assert_null (features);
  g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_INPUT);
}

/* Blobs and stripes at random places, grey or colour. */
static void
make_synthetic (Source *source, guint n, guint side, guint channels, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);

  for (guint i = 0; i < n; i++)
    {
      VetoImage *image = add_image (source, side, side, channels, 0);
      guint cx = g_rand_int_range (rand, 0, side), cy = g_rand_int_range (rand, 0, side);
      guint period = g_rand_int_range (rand, 2, 6);

      for (guint y = 0; y < side; y++)
        for (guint x = 0; x < side; x++)
          for (guint c = 0; c < channels; c++)
            {
              double dist = hypot ((double) x - cx, (double) y - cy);
              double v = (i % 2 ? 200.0 * exp (-dist * dist / 8) : ((x + c) / period % 2) * 180.0)
                         + g_rand_double_range (rand, 0, 40);

              image->data[(y * side + x) * channels + c] = (guint8) MIN (v, 255);
            }
    }
}

typedef struct
{
  guint calls;
  guint last;
  guint total;
  guint max_gap;
} Progress;

static void
on_progress (gpointer user_data, guint done, guint total)
{
  Progress *p = user_data;

  g_assert_cmpuint (done, >, p->last);
  g_assert_cmpuint (done, <=, total);
  p->max_gap = MAX (p->max_gap, done - p->last);
  p->calls++;
  p->last = done;
  p->total = total;
}

static void
test_kmeans (void)
{
  g_auto (Source) source = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoFeatures) a = NULL;
  g_autoptr (VetoFeatures) b = NULL;
  g_autoptr (VetoFeatures) c = NULL;
  g_autoptr (VetoFeatures) colour = NULL;
  g_autoptr (VetoFeatureSpec) spec = NULL;
  const char *text = "kmeans:k=8,patch=4,samples=600,iters=5,seed=3";
  Progress progress = { 0 };
  gsize size = 40 * 32 * sizeof (float);
  gboolean any_nonzero = FALSE;

  source_init (&source);
  make_synthetic (&source, 40, 12, 1, 7);
  spec = veto_feature_spec_parse (text, &error);
  g_assert_no_error (error);
  a = veto_features_extract (spec, 40, source_fetch, &source, on_progress, &progress, NULL,
                             &error);
  g_assert_no_error (error);
  g_assert_cmpuint (veto_features_get_n (a), ==, 40);
  g_assert_cmpuint (veto_features_get_dim (a), ==, 4 * 8);
  /* 60 images sampled for patches (capped at the 40 there are), then 40 extracted. */
  g_assert_cmpuint (progress.total, ==, 80);
  g_assert_cmpuint (progress.last, ==, 80);
  g_assert_cmpuint (progress.max_gap, ==, 1);
  for (gsize i = 0; i < 40 * 32; i++)
    {
      g_assert_true (isfinite (veto_features_get_data (a)[i]));
      any_nonzero |= veto_features_get_data (a)[i] != 0;
    }
  g_assert_true (any_nonzero);

  b = extract (text, &source, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (veto_features_get_data (a), size, veto_features_get_data (b), size);
  c = extract ("kmeans:k=8,patch=4,samples=600,iters=5,seed=4", &source, &error);
  g_assert_no_error (error);
  g_assert_cmpint (memcmp (veto_features_get_data (a), veto_features_get_data (c), size), !=, 0);
  g_assert_cmpstr (veto_features_get_key (a), !=, veto_features_get_key (c));

  g_ptr_array_set_size (source.images, 0);
  make_synthetic (&source, 10, 9, 3, 8);
  colour = extract ("kmeans:k=5,patch=3,samples=300,iters=3", &source, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (veto_features_get_dim (colour), ==, 20);
}

static double
gaussian (GRand *rand)
{
  double u = g_rand_double_range (rand, 1e-12, 1), v = g_rand_double (rand);

  return sqrt (-2 * log (u)) * cos (2 * G_PI * v);
}

static void
test_zca (void)
{
  const guint n = 20000, d = 5;
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  g_autofree float *x = g_new (float, n * d);
  g_autofree float *y = g_new0 (float, n * d);
  float mean[5], whiten[25];
  double mix[5][5], cov[5][5] = { { 0 } }, ymean[5] = { 0 };
  g_autoptr (GError) error = NULL;

  /* Strongly correlated, unequal scales, non-zero mean. */
  for (guint i = 0; i < d; i++)
    for (guint j = 0; j < d; j++)
      mix[i][j] = (i == j ? 3.0 * (i + 1) : 0) + g_rand_double_range (rand, -2, 2);
  for (guint r = 0; r < n; r++)
    {
      double g[5];

      for (guint j = 0; j < d; j++)
        g[j] = gaussian (rand);
      for (guint i = 0; i < d; i++)
        {
          double v = 10.0 * i;

          for (guint j = 0; j < d; j++)
            v += mix[i][j] * g[j];
          x[r * d + i] = (float) v;
        }
    }
  g_assert_true (veto_features_zca_fit (x, n, d, 1e-9, mean, whiten, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < d; i++)
    for (guint j = 0; j < d; j++)
      g_assert_cmpfloat_with_epsilon (whiten[i * d + j], whiten[j * d + i], 1e-6);
  for (guint r = 0; r < n; r++)
    for (guint i = 0; i < d; i++)
      for (guint j = 0; j < d; j++)
        y[r * d + i] += (x[r * d + j] - mean[j]) * whiten[j * d + i];
  for (guint r = 0; r < n; r++)
    for (guint i = 0; i < d; i++)
      ymean[i] += y[r * d + i] / n;
  for (guint r = 0; r < n; r++)
    for (guint i = 0; i < d; i++)
      for (guint j = 0; j < d; j++)
        cov[i][j] += (y[r * d + i] - ymean[i]) * (y[r * d + j] - ymean[j]) / (n - 1);
  for (guint i = 0; i < d; i++)
    {
      g_assert_cmpfloat_with_epsilon (ymean[i], 0, 1e-4);
      for (guint j = 0; j < d; j++)
        g_assert_cmpfloat_with_epsilon (cov[i][j], i == j ? 1 : 0, 1e-3);
    }
  g_assert_false (veto_features_zca_fit (x, 1, d, 0.1, mean, whiten, &error));
  g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_INPUT);
}

static void
test_serialize (void)
{
  float data[6] = { 1, -2.5f, 3e-7f, 4, 5e10f, -0.0f };
  g_autoptr (VetoFeatures) features = veto_features_new_from_matrix (2, 3, data, "hog:v1:x");
  g_autoptr (GBytes) blob = veto_features_serialize (features);
  g_autoptr (VetoFeatures) back = NULL;
  g_autoptr (GError) error = NULL;
  gsize len;
  const guint8 *raw = g_bytes_get_data (blob, &len);
  g_autofree guint8 *copy = g_malloc0 (len + 1);
  const struct
  {
    gsize offset;
    guint8 value;
    const char *fragment;
  } damage[] = {
    { 0, 'X', "bad magic" },
    { 8, 2, "unknown version" },
    { 12, 3, "size does not match" },
    { 16, 0, "empty matrix" },
    { 20, 200, "key length" },
    { 24 + 8 + 4 * 3 + 3, 0x7f, "not finite" }, /* 4 -> infinity */
  };

  g_assert_cmpuint (len, ==, 24 + 8 + 6 * 4);
  memcpy (copy, raw, len);
  back = veto_features_new_from_bytes (blob, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (veto_features_get_n (back), ==, 2);
  g_assert_cmpuint (veto_features_get_dim (back), ==, 3);
  g_assert_cmpstr (veto_features_get_key (back), ==, "hog:v1:x");
  g_assert_cmpmem (veto_features_get_data (back), sizeof data, data, sizeof data);

  for (gsize cut = 0; cut < len; cut++)
    {
      g_autoptr (GBytes) b = g_bytes_new (raw, cut);
      g_autoptr (VetoFeatures) f = veto_features_new_from_bytes (b, &error);

      g_assert_null (f);
      g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_CORRUPT);
      g_clear_error (&error);
    }
  {
    g_autoptr (GBytes) b = g_bytes_new (copy, len + 1);

    g_assert_null (veto_features_new_from_bytes (b, &error));
    g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_CORRUPT);
    g_clear_error (&error);
  }
  for (guint i = 0; i < G_N_ELEMENTS (damage); i++)
    {
      g_autoptr (GBytes) b = NULL;
      guint8 saved = copy[damage[i].offset];

      copy[damage[i].offset] = damage[i].value;
      b = g_bytes_new (copy, len);
      g_assert_null (veto_features_new_from_bytes (b, &error));
      g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_CORRUPT);
      if (strstr (error->message, damage[i].fragment) == NULL)
        g_error ("message '%s' lacks '%s'", error->message, damage[i].fragment);
      g_clear_error (&error);
      copy[damage[i].offset] = saved;
    }
}

static void
test_matrix_npy_reorder (void)
{
  double f8[6] = { 1, 2, 3, 4, 5, 6 };
  gint64 i8[6] = { 0 };
  gsize shape[2] = { 3, 2 };
  gint64 row_ids[3] = { 10, 20, 30 }, wanted[2] = { 30, 10 }, missing[1] = { 40 };
  gint64 duplicated[3] = { 10, 20, 10 };
  g_autoptr (GBytes) good = veto_npy_encode (VETO_NPY_FLOAT64, shape, 2, f8);
  g_autoptr (GBytes) ints = veto_npy_encode (VETO_NPY_INT64, shape, 2, i8);
  g_autoptr (GBytes) flat = veto_npy_encode (VETO_NPY_FLOAT64, shape, 1, f8);
  g_autoptr (VetoNpy) npy = veto_npy_decode (good, NULL);
  g_autoptr (VetoNpy) npy_ints = veto_npy_decode (ints, NULL);
  g_autoptr (VetoNpy) npy_flat = veto_npy_decode (flat, NULL);
  g_autoptr (VetoFeatures) features = NULL;
  g_autoptr (VetoFeatures) picked = NULL;
  g_autoptr (GError) error = NULL;

  features = veto_features_new_from_npy (npy, "npy:v1:path=e.npy", 3, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (veto_features_get_n (features), ==, 3);
  g_assert_cmpuint (veto_features_get_dim (features), ==, 2);
  g_assert_cmpfloat (veto_features_get_row (features, 2)[1], ==, 6);

  g_assert_null (veto_features_new_from_npy (npy, "k", 4, &error));
  g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_MISMATCH);
  g_clear_error (&error);
  g_assert_null (veto_features_new_from_npy (npy_ints, "k", 0, &error));
  g_assert_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_null (veto_features_new_from_npy (npy_flat, "k", 0, &error));
  g_assert_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_SHAPE);
  g_clear_error (&error);

  picked = veto_features_reorder (features, row_ids, 3, wanted, 2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (veto_features_get_n (picked), ==, 2);
  g_assert_cmpstr (veto_features_get_key (picked), ==, "npy:v1:path=e.npy");
  g_assert_cmpfloat (veto_features_get_row (picked, 0)[0], ==, 5);
  g_assert_cmpfloat (veto_features_get_row (picked, 1)[1], ==, 2);

  g_assert_null (veto_features_reorder (features, row_ids, 2, wanted, 2, &error));
  g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_MISMATCH);
  g_clear_error (&error);
  g_assert_null (veto_features_reorder (features, row_ids, 3, missing, 1, &error));
  g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_MISMATCH);
  g_assert_nonnull (strstr (error->message, "id 40"));
  g_clear_error (&error);
  g_assert_null (veto_features_reorder (features, duplicated, 3, wanted, 2, &error));
  g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_MISMATCH);
  g_clear_error (&error);
}

static void
test_errors (void)
{
  g_auto (Source) source = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (VetoFeatureSpec) pixels = veto_feature_spec_parse ("pixels", NULL);
  g_autoptr (VetoFeatureSpec) npy = veto_feature_spec_parse ("npy:x.npy", NULL);
  Progress progress = { 0 };

  source_init (&source);
  for (guint i = 0; i < 250; i++)
    add_image (&source, 4, 4, 1, i);

  {
    g_autoptr (VetoFeatures) f = veto_features_extract (pixels, 250, source_fetch, &source,
                                                        on_progress, &progress, NULL, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (veto_features_get_n (f), ==, 250);
    g_assert_cmpuint (progress.last, ==, 250);
    g_assert_cmpuint (progress.max_gap, <=, 3);
    g_assert_cmpuint (progress.calls, >=, 100);
  }
  source.fail_at = 120;
  g_assert_null (extract ("hog:cell=2", &source, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  source.fail_at = G_MAXUINT;

  source.cancel_at_half = cancellable;
  g_assert_null (veto_features_extract (pixels, 250, source_fetch, &source, NULL, NULL,
                                        cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  source.cancel_at_half = NULL;

  g_assert_null (veto_features_extract (pixels, 0, source_fetch, &source, NULL, NULL, NULL,
                                        &error));
  g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_null (veto_features_extract (pixels, 3, fetch_null, NULL, NULL, NULL, NULL, &error));
  g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_null (veto_features_extract (npy, 3, source_fetch, &source, NULL, NULL, NULL, &error));
  g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_SPEC);
  g_clear_error (&error);
  g_assert_null (extract ("kmeans:patch=8,k=2", &source, &error));
  g_assert_error (error, VETO_FEATURES_ERROR, VETO_FEATURES_ERROR_INPUT);
}

/* A float32 matrix as NumPy writes it is used where it lies (the file's bytes as read are not
 * copied again) and outlives the decoder; a flat array or a non-finite value is still refused. */
static void
test_npy_float32_in_place (void)
{
  float f4[6] = { 1, 2, 3, 4, 5, 6 };
  gsize shape[2] = { 3, 2 };
  g_autoptr (GBytes) good = veto_npy_encode (VETO_NPY_FLOAT32, shape, 2, f4);
  g_autoptr (GBytes) flat = veto_npy_encode (VETO_NPY_FLOAT32, shape, 1, f4);
  g_autoptr (GBytes) bad = NULL;
  g_autoptr (VetoNpy) npy = veto_npy_decode (good, NULL);
  g_autoptr (VetoNpy) npy_flat = veto_npy_decode (flat, NULL);
  g_autoptr (VetoNpy) npy_bad = NULL;
  g_autoptr (VetoFeatures) features = NULL;
  g_autoptr (GError) error = NULL;
  gsize size;
  const guint8 *raw = g_bytes_get_data (good, &size);

  features = veto_features_new_from_npy (npy, "k", 3, &error);
  g_assert_no_error (error);
  g_assert_true ((const guint8 *) veto_features_get_data (features) == raw + size - sizeof f4);
  g_clear_pointer (&npy, veto_npy_free);
  g_assert_cmpfloat (veto_features_get_row (features, 2)[1], ==, 6);

  g_assert_null (veto_features_new_from_npy (npy_flat, "k", 0, &error));
  g_assert_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_SHAPE);
  g_clear_error (&error);
  f4[4] = INFINITY;
  bad = veto_npy_encode (VETO_NPY_FLOAT32, shape, 2, f4);
  npy_bad = veto_npy_decode (bad, NULL);
  g_assert_null (veto_features_new_from_npy (npy_bad, "k", 0, &error));
  g_assert_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_VALUE);
  g_assert_nonnull (strstr (error->message, "row 2, column 0"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/features/spec", test_spec);
  g_test_add_func ("/features/pixels-exact", test_pixels_exact);
  g_test_add_func ("/features/pixels-resize", test_pixels_resize);
  g_test_add_func ("/features/hog", test_hog);
  g_test_add_func ("/features/kmeans", test_kmeans);
  g_test_add_func ("/features/zca", test_zca);
  g_test_add_func ("/features/serialize", test_serialize);
  g_test_add_func ("/features/matrix-npy-reorder", test_matrix_npy_reorder);
  g_test_add_func ("/features/errors", test_errors);
  g_test_add_func ("/features/npy-float32-in-place", test_npy_float32_in_place);
  return g_test_run ();
}
