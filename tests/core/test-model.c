/* Tests for core/veto-model: gradients, toy problems, determinism, warm start, save/load. */
#include "veto-model.h"

#include <math.h>
#include <string.h>

/* A training objective written here, through the same two callbacks as the real one. Cross-entropy
 * maps unit i to row i; squared error also pulls row (u + 1) % n into unit u's term, so that a
 * gradient flows through a partner row. */
typedef struct
{
  const float *X;
  guint n;
  guint d;
  const guint *labels;  /* cross-entropy: class of each row */
  const float *targets; /* squared error: n × n_outputs */
  guint n_outputs;
  gboolean fail_gather; /* answer a row beyond the matrix */
  gboolean nan_loss;
} Objective;

static guint
gather_units (gpointer     user_data,
              const guint *units,
              guint        n_units,
              guint       *out_rows,
              guint        max_rows)
{
  Objective *obj = user_data;

  g_assert_cmpuint (n_units, <=, max_rows);
  memcpy (out_rows, units, n_units * sizeof (guint));
  if (obj->fail_gather)
    out_rows[0] = obj->n;
  return n_units;
}

static int
find_row (const guint *rows,
          guint        n_rows,
          guint        row)
{
  for (guint i = 0; i < n_rows; i++)
    if (rows[i] == row)
      return (int) i;
  return -1;
}

static guint
gather_partners (gpointer     user_data,
                 const guint *units,
                 guint        n_units,
                 guint       *out_rows,
                 guint        max_rows)
{
  Objective *obj = user_data;
  guint n_rows = 0;

  for (guint i = 0; i < n_units; i++)
    {
      guint wanted[2] = { units[i], (units[i] + 1) % obj->n };

      for (guint k = 0; k < 2; k++)
        if (find_row (out_rows, n_rows, wanted[k]) < 0)
          {
            g_assert_cmpuint (n_rows, <, max_rows);
            out_rows[n_rows++] = wanted[k];
          }
    }
  return n_rows;
}

static double
cross_entropy_loss (gpointer     user_data,
                    const guint *units G_GNUC_UNUSED,
                    guint        n_units,
                    const guint *rows,
                    guint        n_rows,
                    const float *outputs,
                    guint        n_outputs,
                    float       *out_grad)
{
  Objective *obj = user_data;
  guint k = n_outputs;
  double loss = 0.0;

  memset (out_grad, 0, (gsize) n_rows * n_outputs * sizeof (float));
  for (guint i = 0; i < n_rows; i++)
    {
      const float *z = outputs + (gsize) i * n_outputs;
      float *g = out_grad + (gsize) i * n_outputs;
      guint y = obj->labels[rows[i]];
      double max = z[0], sum = 0.0;

      for (guint j = 1; j < k; j++)
        max = MAX (max, z[j]);
      for (guint j = 0; j < k; j++)
        sum += exp (z[j] - max);
      loss += log (sum) + max - z[y];
      for (guint j = 0; j < k; j++)
        g[j] = (float) ((exp (z[j] - max) / sum - (j == y)) / n_units);
    }
  return obj->nan_loss ? NAN : loss / n_units;
}

static double
squared_error_loss (gpointer     user_data,
                    const guint *units,
                    guint        n_units,
                    const guint *rows,
                    guint        n_rows,
                    const float *outputs,
                    guint        n_outputs,
                    float       *out_grad)
{
  Objective *obj = user_data;
  double loss = 0.0;

  memset (out_grad, 0, (gsize) n_rows * n_outputs * sizeof (float));
  for (guint i = 0; i < n_units; i++)
    {
      int r = find_row (rows, n_rows, units[i]);
      int q = find_row (rows, n_rows, (units[i] + 1) % obj->n);
      const float *t = obj->targets + (gsize) units[i] * n_outputs;
      double diff;

      g_assert_cmpint (r, >=, 0);
      g_assert_cmpint (q, >=, 0);
      for (guint o = 0; o < n_outputs; o++)
        {
          diff = outputs[r * n_outputs + o] - t[o];
          loss += 0.5 * diff * diff;
          out_grad[r * n_outputs + o] += (float) (diff / n_units);
        }
      diff = outputs[r * n_outputs] - outputs[q * n_outputs] - 1.0;
      loss += 0.5 * diff * diff;
      out_grad[r * n_outputs] += (float) (diff / n_units);
      out_grad[q * n_outputs] -= (float) (diff / n_units);
    }
  return loss / n_units;
}

static float *
random_normal (GRand *rand,
               gsize  count,
               double scale)
{
  float *values = g_new (float, count);

  for (gsize i = 0; i < count; i++)
    {
      double u1 = 1.0 - g_rand_double (rand), u2 = g_rand_double (rand);

      values[i] = (float) (scale * sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2));
    }
  return values;
}

/* Smallest |pre-activation| of an mlp's hidden layer over the n rows of X (layout as in
 * veto_model_get_n_params): finite differences are only valid away from the ReLU's kink. */
static double
relu_margin (const VetoModel *model,
             const float     *X,
             guint            n)
{
  guint d = veto_model_get_n_features (model), h = veto_model_get_hidden (model);
  const float *w1 = veto_model_get_params (model), *b1 = w1 + d * h;
  double margin = INFINITY;

  for (guint r = 0; r < n; r++)
    for (guint j = 0; j < h; j++)
      {
        double z = b1[j];

        for (guint i = 0; i < d; i++)
          z += X[r * d + i] * w1[i * h + j];
        margin = MIN (margin, fabs (z));
      }
  return margin;
}

/* Largest |analytic - numeric| / max (1, |numeric|) over all parameters. */
static double
gradient_error (const float *analytic,
                const float *numeric,
                gsize        count)
{
  double worst = 0.0;

  for (gsize i = 0; i < count; i++)
    worst = MAX (worst, fabs (analytic[i] - numeric[i]) / MAX (1.0, fabs (numeric[i])));
  return worst;
}

static void
check_gradients (VetoModelKind kind)
{
  /* The softmax's 13 features cover both the thin gradient kernel's blocks of 8 and its tail. */
  const guint n = 9, d = kind == VETO_MODEL_KIND_SOFTMAX ? 13 : 5, k = 3, h = 2;
  const guint units[] = { 0, 2, 3, 7, 8 };
  const float eps = 2e-3f;
  g_autoptr (GRand) rand = g_rand_new_with_seed (22);
  g_autofree float *X = random_normal (rand, n * d, 1.0);
  g_autofree float *targets = random_normal (rand, n * (k + h), 1.0);
  g_autoptr (VetoModel) model = veto_model_new (kind, d, k, h, 7);
  Objective obj = { .X = X, .n = n, .d = d, .targets = targets, .n_outputs = k + h };
  gsize n_params = veto_model_get_n_params (model);
  g_autofree float *params = NULL;
  g_autofree float *noise = random_normal (rand, n_params, 0.3);
  g_autofree float *analytic = g_new (float, n_params);
  g_autofree float *numeric = g_new (float, n_params);
  g_autofree float *scratch = g_new (float, n_params);
  g_autoptr (GError) error = NULL;
  double loss, error_max;

  /* Random biases too, so that every parameter has a gradient worth checking. */
  veto_model_init_weights (model, 3);
  params = g_memdup2 (veto_model_get_params (model), n_params * sizeof (float));
  for (gsize i = 0; i < n_params; i++)
    params[i] += noise[i];
  veto_model_set_params (model, params, n_params);
  if (kind == VETO_MODEL_KIND_MLP)
    g_assert_cmpfloat (relu_margin (model, X, n), >, 10 * eps);

  g_assert_true (veto_model_compute_gradients (model, X, n, d, &obj, gather_partners,
                                               squared_error_loss, units, G_N_ELEMENTS (units),
                                               analytic, &loss, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (loss, >, 0.0);

  for (gsize i = 0; i < n_params; i++)
    {
      double plus, minus;
      float saved = params[i];

      params[i] = saved + eps;
      veto_model_set_params (model, params, n_params);
      g_assert_true (veto_model_compute_gradients (model, X, n, d, &obj, gather_partners,
                                                   squared_error_loss, units,
                                                   G_N_ELEMENTS (units), scratch, &plus, NULL));
      params[i] = saved - eps;
      veto_model_set_params (model, params, n_params);
      g_assert_true (veto_model_compute_gradients (model, X, n, d, &obj, gather_partners,
                                                   squared_error_loss, units,
                                                   G_N_ELEMENTS (units), scratch, &minus, NULL));
      params[i] = saved;
      numeric[i] = (float) ((plus - minus) / (2.0 * eps));
    }

  error_max = gradient_error (analytic, numeric, n_params);
  g_test_message ("%s: %" G_GSIZE_FORMAT " parameters, worst relative gradient error %g",
                  veto_model_kind_to_string (kind), n_params, error_max);
  g_assert_cmpfloat (error_max, <, 1e-3);

  /* The check itself must be able to fail: a gradient off by 5% in one place is caught. */
  analytic[n_params / 2] = numeric[n_params / 2] * 1.05f + 0.05f;
  g_assert_cmpfloat (gradient_error (analytic, numeric, n_params), >, 1e-3);
}

static void
test_gradients_softmax (void)
{
  check_gradients (VETO_MODEL_KIND_SOFTMAX);
}

static void
test_gradients_mlp (void)
{
  check_gradients (VETO_MODEL_KIND_MLP);
}

/* Points around `centers` with Gaussian noise, `per_center` each; label = center % n_classes. */
typedef struct
{
  guint n;
  float *X;
  guint *labels;
} Toy;

static void
toy_clear (Toy *toy)
{
  g_clear_pointer (&toy->X, g_free);
  g_clear_pointer (&toy->labels, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Toy, toy_clear)

static void
toy_init (Toy         *toy,
          const float *centers,
          guint        n_centers,
          guint        n_classes,
          guint        per_center,
          double       noise,
          guint32      seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  g_autofree float *jitter = random_normal (rand, 2 * n_centers * per_center, noise);

  toy->n = n_centers * per_center;
  toy->X = g_new (float, 2 * toy->n);
  toy->labels = g_new (guint, toy->n);
  for (guint i = 0; i < toy->n; i++)
    {
      guint c = i % n_centers;

      toy->X[2 * i] = centers[2 * c] + jitter[2 * i];
      toy->X[2 * i + 1] = centers[2 * c + 1] + jitter[2 * i + 1];
      toy->labels[i] = c % n_classes;
    }
}

static double
accuracy (const VetoModel *model,
          const Toy       *toy)
{
  guint k = veto_model_get_n_classes (model), correct = 0;
  g_autofree float *probs = g_new (float, toy->n * k);

  veto_model_predict_proba (model, toy->X, toy->n, 2, probs);
  for (guint i = 0; i < toy->n; i++)
    {
      guint best = 0;

      for (guint j = 1; j < k; j++)
        if (probs[i * k + j] > probs[i * k + best])
          best = j;
      correct += best == toy->labels[i];
    }
  return (double) correct / toy->n;
}

static void
train_toy (VetoModel   *model,
           const Toy   *toy,
           double       learning_rate,
           guint        epochs,
           guint64      seed)
{
  Objective obj = { .X = toy->X, .n = toy->n, .d = 2, .labels = toy->labels };
  VetoModelTrainOptions options;
  VetoModelTrainReport report;
  g_autoptr (GError) error = NULL;

  veto_model_train_options_init (&options);
  options.learning_rate = learning_rate;
  options.batch_size = 16;
  options.max_epochs = epochs;
  options.seed = seed;
  g_assert_true (veto_model_train (model, toy->X, toy->n, 2, &obj, gather_units,
                                   cross_entropy_loss, toy->n, &options, &report, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (report.epochs, ==, epochs);
  g_assert_cmpuint (report.best_epoch, ==, epochs);
  g_assert_true (isnan (report.score));
}

static void
test_separable_softmax (void)
{
  static const float two[] = { -3, -1, 3, 1 };
  static const float three[] = { -4, 0, 4, 0, 0, 5 };
  g_auto (Toy) toy2 = { 0 };
  g_auto (Toy) toy3 = { 0 };
  g_autoptr (VetoModel) model2 = veto_model_new (VETO_MODEL_KIND_SOFTMAX, 2, 2, 0, 0);
  g_autoptr (VetoModel) model3 = veto_model_new (VETO_MODEL_KIND_SOFTMAX, 2, 3, 0, 0);

  toy_init (&toy2, two, 2, 2, 30, 0.7, 5);
  toy_init (&toy3, three, 3, 3, 30, 0.7, 6);
  g_assert_cmpfloat (accuracy (model2, &toy2), <, 1.0);
  train_toy (model2, &toy2, 0.05, 100, 1);
  train_toy (model3, &toy3, 0.05, 100, 1);
  g_assert_cmpfloat (accuracy (model2, &toy2), ==, 1.0);
  g_assert_cmpfloat (accuracy (model3, &toy3), ==, 1.0);
}

static void
test_xor (void)
{
  /* Label 0 on the diagonal corners, 1 on the others: no line separates them. */
  static const float corners[] = { 1, 1, 1, -1, -1, -1, -1, 1 };
  g_auto (Toy) toy = { 0 };
  g_autoptr (VetoModel) mlp = veto_model_new (VETO_MODEL_KIND_MLP, 2, 2, 0, 16);
  g_autoptr (VetoModel) softmax = veto_model_new (VETO_MODEL_KIND_SOFTMAX, 2, 2, 0, 0);

  toy_init (&toy, corners, 4, 2, 25, 0.15, 7);
  train_toy (mlp, &toy, 0.01, 300, 2);
  train_toy (softmax, &toy, 0.01, 300, 2);
  g_test_message ("xor accuracy: mlp %.3f, softmax %.3f", accuracy (mlp, &toy),
                  accuracy (softmax, &toy));
  g_assert_cmpfloat (accuracy (mlp, &toy), ==, 1.0);
  g_assert_cmpfloat (accuracy (softmax, &toy), <, 0.8);
}

static VetoModel *
train_fresh (VetoModelKind kind,
             const Toy    *toy,
             guint64       seed)
{
  VetoModel *model = veto_model_new (kind, 2, 2, 0, 8);

  train_toy (model, toy, 0.01, 5, seed);
  return model;
}

static void
test_determinism (void)
{
  static const float corners[] = { 1, 1, 1, -1, -1, -1, -1, 1 };
  g_auto (Toy) toy = { 0 };

  toy_init (&toy, corners, 4, 2, 25, 0.15, 7);
  for (VetoModelKind kind = VETO_MODEL_KIND_SOFTMAX; kind <= VETO_MODEL_KIND_MLP; kind++)
    {
      g_autoptr (VetoModel) a = train_fresh (kind, &toy, 42);
      g_autoptr (VetoModel) b = train_fresh (kind, &toy, 42);
      g_autoptr (VetoModel) c = train_fresh (kind, &toy, 43);
      gsize bytes = veto_model_get_n_params (a) * sizeof (float);

      g_assert_cmpmem (veto_model_get_params (a), bytes, veto_model_get_params (b), bytes);
      g_assert_true (memcmp (veto_model_get_params (a), veto_model_get_params (c), bytes) != 0);
    }
}

typedef struct
{
  double losses[64];
  guint n;
} LossLog;

static void
log_progress (gpointer user_data,
              guint    epoch,
              double   loss,
              double   score)
{
  LossLog *log = user_data;

  g_assert_cmpuint (epoch, ==, log->n + 1);
  g_assert_true (isnan (score));
  log->losses[log->n++] = loss;
}

static void
test_warm_start (void)
{
  static const float three[] = { -2, 0, 2, 0, 0, 2 };
  g_auto (Toy) toy = { 0 };
  Objective obj = { 0 };
  g_autoptr (VetoModel) model = veto_model_new (VETO_MODEL_KIND_MLP, 2, 3, 0, 8);
  g_autoptr (VetoModel) loaded = NULL;
  g_autoptr (GBytes) saved = NULL;
  g_autoptr (GError) error = NULL;
  VetoModelTrainOptions options;
  LossLog first = { { 0 }, 0 }, second = { { 0 }, 0 };

  toy_init (&toy, three, 3, 3, 20, 0.8, 8);
  obj.X = toy.X;
  obj.n = toy.n;
  obj.d = 2;
  obj.labels = toy.labels;
  veto_model_train_options_init (&options);
  options.learning_rate = 0.005;
  options.batch_size = 8;
  options.max_epochs = 10;
  options.progress = log_progress;

  options.progress_data = &first;
  g_assert_true (veto_model_train (model, toy.X, toy.n, 2, &obj, gather_units,
                                   cross_entropy_loss, toy.n, &options, NULL, NULL, &error));
  g_assert_no_error (error);
  saved = veto_model_save (model);
  g_assert_true (veto_model_load (saved, &loaded, &error));
  g_assert_no_error (error);
  g_assert_true (veto_model_has_weights (loaded));

  options.progress_data = &second;
  options.seed = 99;
  g_assert_true (veto_model_train (loaded, toy.X, toy.n, 2, &obj, gather_units,
                                   cross_entropy_loss, toy.n, &options, NULL, NULL, &error));
  g_assert_no_error (error);

  g_test_message ("losses: first run %.4f .. %.4f, second run %.4f .. %.4f",
                  first.losses[0], first.losses[9], second.losses[0], second.losses[9]);
  g_assert_cmpuint (first.n, ==, 10);
  g_assert_cmpuint (second.n, ==, 10);
  g_assert_cmpfloat (first.losses[9], <, 0.8 * first.losses[0]);
  /* The second run picks up where the first stopped, and keeps going down. */
  g_assert_cmpfloat (second.losses[0], <, 1.05 * first.losses[9]);
  g_assert_cmpfloat (second.losses[9], <, second.losses[0]);
}

static VetoModel *
small_model (VetoModelKind kind,
             guint         d,
             guint         k,
             guint         h,
             guint32       seed)
{
  VetoModel *model = veto_model_new (kind, d, k, h, 4);
  gsize n_params = veto_model_get_n_params (model);
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  g_autofree float *params = random_normal (rand, n_params, 0.5);

  veto_model_set_params (model, params, n_params);
  return model;
}

static void
expect_load_error (GBytes *bytes,
                   int     code)
{
  g_autoptr (VetoModel) model = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_false (veto_model_load (bytes, &model, &error));
  g_assert_error (error, VETO_MODEL_ERROR, code);
  g_assert_null (model);
}

/* Copy of `bytes` with the little-endian u32 at `offset` replaced. */
static GBytes *
patched (GBytes *bytes,
         gsize   offset,
         guint32 value)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  guint8 *copy = g_memdup2 (data, size);

  value = GUINT32_TO_LE (value);
  memcpy (copy + offset, &value, 4);
  return g_bytes_new_take (copy, size);
}

static void
test_save_load (void)
{
  const guint n = 17, d = 3;
  g_autoptr (GRand) rand = g_rand_new_with_seed (12);
  g_autofree float *X = random_normal (rand, n * d, 1.0);

  for (VetoModelKind kind = VETO_MODEL_KIND_SOFTMAX; kind <= VETO_MODEL_KIND_MLP; kind++)
    {
      g_autoptr (VetoModel) model = small_model (kind, d, 2, 1, 4);
      g_autoptr (VetoModel) loaded = NULL;
      g_autoptr (VetoModel) copy = veto_model_copy (model);
      g_autoptr (GBytes) bytes = veto_model_save (model);
      g_autoptr (GBytes) again = NULL;
      g_autoptr (GBytes) trailing = NULL;
      g_autoptr (GError) error = NULL;
      g_autofree float *expected = g_new (float, n * 3);
      g_autofree float *outputs = g_new (float, n * 3);
      gsize size;
      const guint8 *data = g_bytes_get_data (bytes, &size);
      g_autofree guint8 *longer = g_malloc0 (size + 1);
      gsize param_bytes = veto_model_get_n_params (model) * sizeof (float);

      g_assert_true (veto_model_load (bytes, &loaded, &error));
      g_assert_no_error (error);
      g_assert_cmpint (veto_model_get_kind (loaded), ==, kind);
      g_assert_cmpuint (veto_model_get_n_features (loaded), ==, d);
      g_assert_cmpuint (veto_model_get_n_classes (loaded), ==, 2);
      g_assert_cmpuint (veto_model_get_n_heads (loaded), ==, 1);
      g_assert_cmpuint (veto_model_get_hidden (loaded), ==, kind == VETO_MODEL_KIND_MLP ? 4 : 0);
      g_assert_cmpmem (veto_model_get_params (loaded), param_bytes,
                       veto_model_get_params (model), param_bytes);
      g_assert_cmpmem (veto_model_get_params (copy), param_bytes,
                       veto_model_get_params (model), param_bytes);
      veto_model_forward (model, X, n, d, expected);
      veto_model_forward (loaded, X, n, d, outputs);
      g_assert_cmpmem (outputs, n * 3 * sizeof (float), expected, n * 3 * sizeof (float));
      again = veto_model_save (loaded);
      g_assert_true (g_bytes_equal (again, bytes));

      /* Every truncation, a trailing byte, and each header field made wrong. */
      for (gsize len = 0; len < size; len++)
        {
          g_autoptr (GBytes) cut = g_bytes_new_from_bytes (bytes, 0, len);

          expect_load_error (cut, VETO_MODEL_ERROR_FORMAT);
        }
      memcpy (longer, data, size);
      trailing = g_bytes_new (longer, size + 1);
      expect_load_error (trailing, VETO_MODEL_ERROR_FORMAT);
      {
        g_autoptr (GBytes) magic = patched (bytes, 0, 0x4f544557); /* "WETO" */
        g_autoptr (GBytes) version = patched (bytes, 8, 2);
        g_autoptr (GBytes) bad_kind = patched (bytes, 12, 7);
        g_autoptr (GBytes) bad_flags = patched (bytes, 16, 6);
        g_autoptr (GBytes) more_features = patched (bytes, 20, d + 1);
        g_autoptr (GBytes) no_classes = patched (bytes, 24, 0);
        g_autoptr (GBytes) no_outputs = patched (no_classes, 28, 0);
        g_autoptr (GBytes) huge_classes = patched (bytes, 24, G_MAXUINT32);
        g_autoptr (GBytes) hidden = patched (bytes, 32, kind == VETO_MODEL_KIND_MLP ? 0 : 4);
        g_autoptr (GBytes) nan_weight = patched (bytes, 36, 0x7fc00000);

        expect_load_error (magic, VETO_MODEL_ERROR_FORMAT);
        expect_load_error (version, VETO_MODEL_ERROR_VERSION);
        expect_load_error (bad_kind, VETO_MODEL_ERROR_FORMAT);
        expect_load_error (bad_flags, VETO_MODEL_ERROR_FORMAT);
        expect_load_error (more_features, VETO_MODEL_ERROR_FORMAT);
        expect_load_error (no_outputs, VETO_MODEL_ERROR_FORMAT);
        expect_load_error (huge_classes, VETO_MODEL_ERROR_FORMAT);
        expect_load_error (hidden, VETO_MODEL_ERROR_FORMAT);
        expect_load_error (nan_weight, VETO_MODEL_ERROR_FORMAT);
      }
    }
}

static void
test_save_fresh (void)
{
  g_autoptr (VetoModel) model = veto_model_new (VETO_MODEL_KIND_MLP, 5, 3, 0, 0);
  g_autoptr (VetoModel) loaded = NULL;
  g_autoptr (GBytes) bytes = veto_model_save (model);
  g_autoptr (GError) error = NULL;

  g_assert_cmpuint (veto_model_get_hidden (model), ==, VETO_MODEL_DEFAULT_HIDDEN);
  g_assert_false (veto_model_has_weights (model));
  g_assert_true (veto_model_load (bytes, &loaded, &error));
  g_assert_no_error (error);
  g_assert_false (veto_model_has_weights (loaded));
}

static void
check_proba (VetoModelKind kind,
             guint         n_heads)
{
  const guint n = 2500, d = 6, k = 4;
  guint o = k + n_heads;
  g_autoptr (GRand) rand = g_rand_new_with_seed (13);
  g_autofree float *X = random_normal (rand, (gsize) n * d, 1.0);
  g_autoptr (VetoModel) model = small_model (kind, d, k, n_heads, 14);
  g_autofree float *probs = g_new (float, (gsize) n * k);
  g_autofree float *outputs = g_new (float, (gsize) n * o);
  g_autofree float *expected = g_new (float, (gsize) n * k);
  g_autofree float *row_outputs = g_new (float, (gsize) n * o);
  g_autofree guint *rows = g_new (guint, n);

  veto_model_predict_proba (model, X, n, d, probs);
  veto_model_forward (model, X, n, d, outputs);
  veto_model_outputs_to_proba (model, outputs, n, expected);
  for (guint i = 0; i < n; i++)
    {
      double sum = 0.0;

      for (guint j = 0; j < k; j++)
        {
          g_assert_cmpfloat (probs[i * k + j], >, 0.0f);
          g_assert_cmpfloat_with_epsilon (probs[i * k + j], expected[i * k + j], 1e-6);
          sum += probs[i * k + j];
        }
      g_assert_cmpfloat_with_epsilon (sum, 1.0, 1e-5);
    }

  /* forward_rows on a permutation gives the same outputs, row by row. */
  for (guint i = 0; i < n; i++)
    rows[i] = (i * 7919u) % n;
  veto_model_forward_rows (model, X, n, d, rows, n, row_outputs);
  for (guint i = 0; i < n; i++)
    for (guint j = 0; j < o; j++)
      g_assert_cmpfloat_with_epsilon (row_outputs[i * o + j], outputs[rows[i] * o + j], 1e-5);
}

static void
test_predict_proba (void)
{
  check_proba (VETO_MODEL_KIND_SOFTMAX, 0);
  check_proba (VETO_MODEL_KIND_SOFTMAX, 2);
  check_proba (VETO_MODEL_KIND_MLP, 0);
  check_proba (VETO_MODEL_KIND_MLP, 1);
}

static void
test_untrained_uniform (void)
{
  const float X[] = { 1, 2, -3, 4 };
  g_autoptr (VetoModel) model = veto_model_new (VETO_MODEL_KIND_SOFTMAX, 2, 4, 0, 0);
  float probs[8];

  veto_model_predict_proba (model, X, 2, 2, probs);
  for (guint i = 0; i < 8; i++)
    g_assert_cmpfloat (probs[i], ==, 0.25f);
}

static void
test_embedding (void)
{
  const guint n = 1500, d = 5, k = 3, h = 1;
  g_autoptr (GRand) rand = g_rand_new_with_seed (15);
  g_autofree float *X = random_normal (rand, (gsize) n * d, 1.0);
  g_autoptr (VetoModel) softmax = small_model (VETO_MODEL_KIND_SOFTMAX, d, k, h, 16);
  g_autoptr (VetoModel) mlp = small_model (VETO_MODEL_KIND_MLP, d, k, h, 17);
  guint width = veto_model_get_embedding_dim (mlp);
  g_autofree float *embedding = g_new (float, (gsize) n * d);
  g_autofree float *outputs = g_new (float, (gsize) n * (k + h));
  const float *params = veto_model_get_params (mlp);
  const float *w2 = params + d * width + width;
  const float *b2 = w2 + width * (k + h);

  g_assert_cmpuint (veto_model_get_embedding_dim (softmax), ==, d);
  veto_model_embed (softmax, X, n, d, embedding);
  g_assert_cmpmem (embedding, (gsize) n * d * sizeof (float), X, (gsize) n * d * sizeof (float));

  /* The mlp's outputs are its embedding through the output layer, done by hand here. */
  g_assert_cmpuint (width, ==, 4);
  veto_model_embed (mlp, X, n, d, embedding);
  veto_model_forward (mlp, X, n, d, outputs);
  for (guint i = 0; i < n; i++)
    for (guint o = 0; o < k + h; o++)
      {
        double z = b2[o];

        for (guint j = 0; j < width; j++)
          {
            g_assert_cmpfloat (embedding[i * width + j], >=, 0.0f);
            z += embedding[i * width + j] * w2[j * (k + h) + o];
          }
        g_assert_cmpfloat_with_epsilon (outputs[i * (k + h) + o], z, 1e-5);
      }
}

typedef struct
{
  double scores[16];
  float *snapshots[16];
  guint calls;
} Validation;

static double
scripted_validate (gpointer   user_data,
                   VetoModel *model)
{
  Validation *val = user_data;
  guint i = val->calls++;

  val->snapshots[i] = g_memdup2 (veto_model_get_params (model),
                                 veto_model_get_n_params (model) * sizeof (float));
  return val->scores[i];
}

/* The toy problem and options of the tests below: an mlp on four noisy corners, scored by a
 * scripted validation. */
static void
scripted_run (Validation *val, guint max_epochs, guint patience, gboolean keep_last,
              guint average_epochs, VetoModel *model, VetoModelTrainReport *report)
{
  static const float corners[] = { 1, 1, 1, -1, -1, -1, -1, 1 };
  g_auto (Toy) toy = { 0 };
  Objective obj = { 0 };
  VetoModelTrainOptions options;
  g_autoptr (GError) error = NULL;

  toy_init (&toy, corners, 4, 2, 10, 0.15, 7);
  obj.X = toy.X;
  obj.n = toy.n;
  obj.d = 2;
  obj.labels = toy.labels;
  veto_model_train_options_init (&options);
  options.batch_size = 8;
  options.max_epochs = max_epochs;
  options.patience = patience;
  options.keep_last = keep_last;
  options.average_epochs = average_epochs;
  options.validate = scripted_validate;
  options.validate_data = val;
  g_assert_true (veto_model_train (model, toy.X, toy.n, 2, &obj, gather_units,
                                   cross_entropy_loss, toy.n, &options, report, NULL, &error));
  g_assert_no_error (error);
}

static void
test_early_stopping (void)
{
  Validation val = { { 5, 4, 3, 3.5, 3, 3.7, 1, 1 }, { NULL }, 0 };
  g_autoptr (VetoModel) model = veto_model_new (VETO_MODEL_KIND_MLP, 2, 2, 0, 8);
  VetoModelTrainReport report;
  gsize bytes = veto_model_get_n_params (model) * sizeof (float);

  scripted_run (&val, 16, 3, FALSE, 0, model, &report);

  /* Best at epoch 3; 3.5, 3 (not lower) and 3.7 exhaust the patience. */
  g_assert_cmpuint (val.calls, ==, 6);
  g_assert_cmpuint (report.epochs, ==, 6);
  g_assert_cmpuint (report.best_epoch, ==, 3);
  g_assert_cmpfloat (report.score, ==, 3.0);
  g_assert_cmpmem (veto_model_get_params (model), bytes, val.snapshots[2], bytes);
  g_assert_true (memcmp (val.snapshots[5], val.snapshots[2], bytes) != 0);
  for (guint i = 0; i < val.calls; i++)
    g_free (val.snapshots[i]);
}

static void
test_keep_last (void)
{
  Validation val = { { 1, 4, 3, 5, 2, 0.5 }, { NULL }, 0 };
  g_autoptr (VetoModel) model = veto_model_new (VETO_MODEL_KIND_MLP, 2, 2, 0, 8);
  VetoModelTrainReport report;
  gsize bytes = veto_model_get_n_params (model) * sizeof (float);

  /* The best score is epoch 1's and the patience of 2 runs out after epoch 3, but keep_last
   * runs all 5 epochs and keeps and scores the last one. */
  scripted_run (&val, 5, 2, TRUE, 0, model, &report);
  g_assert_cmpuint (val.calls, ==, 5);
  g_assert_cmpuint (report.epochs, ==, 5);
  g_assert_cmpuint (report.best_epoch, ==, 5);
  g_assert_cmpuint (report.averaged, ==, 0);
  g_assert_cmpfloat (report.score, ==, 2.0);
  g_assert_cmpmem (veto_model_get_params (model), bytes, val.snapshots[4], bytes);
  for (guint i = 0; i < val.calls; i++)
    g_free (val.snapshots[i]);
}

static void
test_average_last (void)
{
  Validation val = { { 1, 4, 3, 5, 2, 0.5 }, { NULL }, 0 };
  g_autoptr (VetoModel) model = veto_model_new (VETO_MODEL_KIND_MLP, 2, 2, 0, 8);
  VetoModelTrainReport report;
  gsize n_params = veto_model_get_n_params (model);
  const float *kept;
  double largest = 0;

  /* Five epochs, the last three averaged: every epoch is scored (calls 1-5), then the mean
   * once more (call 6), and its score is the report's. */
  scripted_run (&val, 5, 2, FALSE, 3, model, &report);
  g_assert_cmpuint (val.calls, ==, 6);
  g_assert_cmpuint (report.epochs, ==, 5);
  g_assert_cmpuint (report.best_epoch, ==, 5);
  g_assert_cmpuint (report.averaged, ==, 3);
  g_assert_cmpfloat (report.score, ==, 0.5);
  kept = veto_model_get_params (model);
  g_assert_cmpmem (kept, n_params * sizeof (float), val.snapshots[5], n_params * sizeof (float));
  for (gsize i = 0; i < n_params; i++)
    {
      double mean = ((double) val.snapshots[2][i] + val.snapshots[3][i] + val.snapshots[4][i])
                    / 3.0;

      g_assert_cmpfloat_with_epsilon (kept[i], mean, 1e-6 * (1.0 + fabs (mean)));
      largest = MAX (largest, fabs (kept[i] - val.snapshots[4][i]));
    }
  /* the weights moved between those epochs, so the mean is not the last epoch's */
  g_assert_cmpfloat (largest, >, 1e-4);
  for (guint i = 0; i < val.calls; i++)
    g_free (val.snapshots[i]);

  /* An average longer than the run takes every epoch. */
  memset (&val, 0, sizeof val);
  g_clear_pointer (&model, veto_model_free);
  model = veto_model_new (VETO_MODEL_KIND_MLP, 2, 2, 0, 8);
  scripted_run (&val, 2, 2, FALSE, 10, model, &report);
  g_assert_cmpuint (report.averaged, ==, 2);
  g_assert_cmpuint (val.calls, ==, 3);
  for (guint i = 0; i < val.calls; i++)
    g_free (val.snapshots[i]);
}

static void
cancel_on_second_epoch (gpointer user_data,
                        guint    epoch,
                        double   loss G_GNUC_UNUSED,
                        double   score G_GNUC_UNUSED)
{
  if (epoch == 2)
    g_cancellable_cancel (user_data);
}

static void
test_failures_leave_model (void)
{
  static const float corners[] = { 1, 1, 1, -1, -1, -1, -1, 1 };
  g_auto (Toy) toy = { 0 };
  Objective obj = { 0 };
  g_autoptr (VetoModel) fresh = veto_model_new (VETO_MODEL_KIND_MLP, 2, 2, 0, 8);
  g_autoptr (VetoModel) warm = small_model (VETO_MODEL_KIND_MLP, 2, 2, 0, 18);
  g_autoptr (VetoModel) before = veto_model_copy (warm);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GCancellable) cancelled = g_cancellable_new ();
  VetoModelTrainOptions options;
  gsize bytes = veto_model_get_n_params (warm) * sizeof (float);

  toy_init (&toy, corners, 4, 2, 10, 0.15, 7);
  obj.X = toy.X;
  obj.n = toy.n;
  obj.d = 2;
  obj.labels = toy.labels;
  veto_model_train_options_init (&options);
  options.batch_size = 8;

  {
    g_autoptr (GError) error = NULL;

    g_cancellable_cancel (cancelled);
    g_assert_false (veto_model_train (fresh, toy.X, toy.n, 2, &obj, gather_units,
                                      cross_entropy_loss, toy.n, &options, NULL, cancelled,
                                      &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_false (veto_model_has_weights (fresh));
  }
  {
    g_autoptr (GError) error = NULL;

    options.progress = cancel_on_second_epoch;
    options.progress_data = cancellable;
    g_assert_false (veto_model_train (warm, toy.X, toy.n, 2, &obj, gather_units,
                                      cross_entropy_loss, toy.n, &options, NULL, cancellable,
                                      &error));
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_assert_cmpmem (veto_model_get_params (warm), bytes, veto_model_get_params (before), bytes);
    options.progress = NULL;
  }
  {
    g_autoptr (GError) error = NULL;

    obj.fail_gather = TRUE;
    g_assert_false (veto_model_train (warm, toy.X, toy.n, 2, &obj, gather_units,
                                      cross_entropy_loss, toy.n, &options, NULL, NULL, &error));
    g_assert_error (error, VETO_MODEL_ERROR, VETO_MODEL_ERROR_OBJECTIVE);
    g_assert_cmpmem (veto_model_get_params (warm), bytes, veto_model_get_params (before), bytes);
    obj.fail_gather = FALSE;
  }
  {
    g_autoptr (GError) error = NULL;

    obj.nan_loss = TRUE;
    g_assert_false (veto_model_train (warm, toy.X, toy.n, 2, &obj, gather_units,
                                      cross_entropy_loss, toy.n, &options, NULL, NULL, &error));
    g_assert_error (error, VETO_MODEL_ERROR, VETO_MODEL_ERROR_DIVERGED);
    g_assert_cmpmem (veto_model_get_params (warm), bytes, veto_model_get_params (before), bytes);
  }
}

static void
test_kind_strings (void)
{
  VetoModelKind kind;

  g_assert_cmpstr (veto_model_kind_to_string (VETO_MODEL_KIND_SOFTMAX), ==, "softmax");
  g_assert_cmpstr (veto_model_kind_to_string (VETO_MODEL_KIND_MLP), ==, "mlp");
  g_assert_true (veto_model_kind_from_string ("mlp", &kind));
  g_assert_cmpint (kind, ==, VETO_MODEL_KIND_MLP);
  g_assert_true (veto_model_kind_from_string ("softmax", &kind));
  g_assert_cmpint (kind, ==, VETO_MODEL_KIND_SOFTMAX);
  g_assert_false (veto_model_kind_from_string ("svm", &kind));
}

/* A pool large enough for the threaded thin kernel scores exactly as forward + softmax. */
static void
test_predict_proba_large_pool (void)
{
  const guint n = 5003, d = 37, k = 7;
  g_autoptr (VetoModel) model = veto_model_new (VETO_MODEL_KIND_SOFTMAX, d, k, 2, 0);
  g_autoptr (GRand) rand = g_rand_new_with_seed (9);
  g_autofree float *X = g_new (float, (gsize) n * d);
  g_autofree float *outputs = g_new (float, (gsize) n * (k + 2));
  g_autofree float *expected = g_new (float, (gsize) n * k);
  g_autofree float *probs = g_new (float, (gsize) n * k);
  g_autofree float *params = NULL;

  for (gsize i = 0; i < (gsize) n * d; i++)
    X[i] = (float) g_rand_double_range (rand, -2, 2);
  veto_model_init_weights (model, 3);
  /* Softmax weights start at zero: give them values so that the check can fail. */
  params = g_new (float, veto_model_get_n_params (model));
  for (gsize i = 0; i < veto_model_get_n_params (model); i++)
    params[i] = (float) g_rand_double_range (rand, -0.5, 0.5);
  veto_model_set_params (model, params, veto_model_get_n_params (model));
  veto_model_forward (model, X, n, d, outputs);
  veto_model_outputs_to_proba (model, outputs, n, expected);
  veto_model_predict_proba (model, X, n, d, probs);
  for (gsize i = 0; i < (gsize) n * k; i++)
    g_assert_cmpfloat_with_epsilon (probs[i], expected[i], 1e-5);
}

/* The L-BFGS objective written out here: mean cross-entropy + l2 / 2 · |W|² (biases free). */
static double
lbfgs_objective (VetoModel *model, const Objective *obj, double l2, float *out_grad)
{
  gsize n_params = veto_model_get_n_params (model);
  guint n_weights = veto_model_get_n_features (model) * veto_model_get_n_outputs (model);
  const float *p = veto_model_get_params (model);
  g_autofree guint *units = g_new (guint, obj->n);
  g_autoptr (GError) error = NULL;
  double loss, penalty = 0;

  for (guint i = 0; i < obj->n; i++)
    units[i] = i;
  g_assert_true (veto_model_compute_gradients (model, obj->X, obj->n, obj->d, (gpointer) obj,
                                               gather_units, cross_entropy_loss, units, obj->n,
                                               out_grad, &loss, &error));
  for (gsize i = 0; i < n_params; i++)
    if (i < n_weights)
      {
        penalty += (double) p[i] * p[i];
        out_grad[i] += (float) (l2 * p[i]);
      }
  return loss + 0.5 * l2 * penalty;
}

static void
train_lbfgs (VetoModel *model, const Objective *obj, double l2, guint max_iterations,
             VetoModelTrainReport *out_report)
{
  VetoModelTrainOptions options;
  g_autoptr (GError) error = NULL;

  veto_model_train_options_init (&options);
  options.solver = VETO_SOLVER_LBFGS;
  options.l2 = l2;
  options.max_epochs = max_iterations;
  g_assert_true (veto_model_train (model, obj->X, obj->n, obj->d, (gpointer) obj, gather_units,
                                   cross_entropy_loss, obj->n, &options, out_report, NULL,
                                   &error));
  g_assert_no_error (error);
}

/* x = +1 is class 1, x = -1 class 0. By symmetry the optimum is W = (-a, a), equal biases,
 * where the objective log (1 + e^(-2a)) + l2 · a² is flat: sigmoid (-2a) = l2 · a, solved here
 * by bisection. L-BFGS must land there, and stop well before its limit. */
static void
test_lbfgs_known_optimum (void)
{
  static const float X[] = { 1, -1 };
  static const guint labels[] = { 1, 0 };
  Objective obj = { .X = X, .n = 2, .d = 1, .labels = labels };
  g_autoptr (VetoModel) model = veto_model_new (VETO_MODEL_KIND_SOFTMAX, 1, 2, 0, 0);
  VetoModelTrainReport report;
  const double l2 = 0.1;
  double lo = 0, hi = 1 / l2, a;
  const float *p;

  for (guint i = 0; i < 100; i++)
    {
      double mid = 0.5 * (lo + hi);

      if (1 / (1 + exp (2 * mid)) > l2 * mid)
        lo = mid;
      else
        hi = mid;
    }
  a = 0.5 * (lo + hi);
  train_lbfgs (model, &obj, l2, 200, &report);
  g_assert_cmpuint (report.epochs, <, 200);
  p = veto_model_get_params (model);
  g_assert_cmpfloat_with_epsilon (p[0], -a, 1e-4);
  g_assert_cmpfloat_with_epsilon (p[1], a, 1e-4);
  g_assert_cmpfloat_with_epsilon (p[2], p[3], 1e-4);
  g_assert_cmpfloat_with_epsilon (report.loss, log1p (exp (-2 * a)) + l2 * a * a, 1e-6);
}

/* On a random three-class problem: where L-BFGS stops, the objective's gradient (the model's own,
 * plus the penalty's) vanishes, and every coordinate moved either way raises the objective, so
 * the gradient it followed was the objective's. Started from that point it stops at once. */
static void
test_lbfgs_gradient_check (void)
{
  const guint n = 40, d = 3, k = 3;
  g_autoptr (GRand) rand = g_rand_new_with_seed (17);
  g_autofree float *X = random_normal (rand, (gsize) n * d, 1.0);
  g_autofree guint *labels = g_new (guint, n);
  Objective obj = { .X = X, .n = n, .d = d, .labels = labels };
  g_autoptr (VetoModel) model = veto_model_new (VETO_MODEL_KIND_SOFTMAX, d, k, 0, 0);
  g_autoptr (VetoModel) again = NULL;
  VetoModelTrainReport report;
  gsize n_params = veto_model_get_n_params (model);
  g_autofree float *grad = g_new (float, n_params);
  g_autofree float *params = NULL;
  double f;

  for (guint i = 0; i < n; i++)
    labels[i] = (X[i * d] > 0) + (X[i * d + 1] > 0.5) + (g_rand_double (rand) < 0.1) > 1
                    ? 2
                    : (X[i * d] > 0);
  train_lbfgs (model, &obj, 0.05, 500, &report);
  g_assert_cmpuint (report.epochs, <, 500);
  f = lbfgs_objective (model, &obj, 0.05, grad);
  g_assert_cmpfloat_with_epsilon (f, report.loss, 1e-6);
  for (gsize i = 0; i < n_params; i++)
    g_assert_cmpfloat (fabs (grad[i]), <, 1e-4);
  params = g_memdup2 (veto_model_get_params (model), n_params * sizeof (float));
  for (gsize i = 0; i < n_params; i++)
    for (int sign = -1; sign <= 1; sign += 2)
      {
        g_autoptr (VetoModel) moved = veto_model_copy (model);
        g_autofree float *q = g_memdup2 (params, n_params * sizeof (float));

        q[i] += sign * 0.01f;
        veto_model_set_params (moved, q, n_params);
        g_assert_cmpfloat (lbfgs_objective (moved, &obj, 0.05, grad), >, f);
      }
  again = veto_model_copy (model);
  train_lbfgs (again, &obj, 0.05, 500, &report);
  g_assert_cmpuint (report.epochs, <=, 2);
  for (gsize i = 0; i < n_params; i++)
    g_assert_cmpfloat_with_epsilon (veto_model_get_params (again)[i], params[i], 1e-3);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/model/gradients/softmax", test_gradients_softmax);
  g_test_add_func ("/model/gradients/mlp", test_gradients_mlp);
  g_test_add_func ("/model/toy/separable-softmax", test_separable_softmax);
  g_test_add_func ("/model/toy/xor", test_xor);
  g_test_add_func ("/model/train/determinism", test_determinism);
  g_test_add_func ("/model/train/warm-start", test_warm_start);
  g_test_add_func ("/model/train/early-stopping", test_early_stopping);
  g_test_add_func ("/model/train/keep-last", test_keep_last);
  g_test_add_func ("/model/train/average-last", test_average_last);
  g_test_add_func ("/model/train/failures-leave-model", test_failures_leave_model);
  g_test_add_func ("/model/save-load/round-trip", test_save_load);
  g_test_add_func ("/model/save-load/fresh", test_save_fresh);
  g_test_add_func ("/model/predict-proba", test_predict_proba);
  g_test_add_func ("/model/predict-proba/large-pool", test_predict_proba_large_pool);
  g_test_add_func ("/model/predict-proba/untrained-uniform", test_untrained_uniform);
  g_test_add_func ("/model/embedding", test_embedding);
  g_test_add_func ("/model/kind-strings", test_kind_strings);

  g_test_add_func ("/model/lbfgs/known-optimum", test_lbfgs_known_optimum);
  g_test_add_func ("/model/lbfgs/gradient-check", test_lbfgs_gradient_check);
  return g_test_run ();
}
