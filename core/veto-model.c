/* Softmax regression and MLP on float32 features: sgemm forward/backward, AdamW, save/load. */
#include "veto-model.h"

#include "veto-rng.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#define MODEL_MAGIC "VETOMODL"
#define MODEL_MAGIC_LEN 8
#define MODEL_VERSION 1
#define MODEL_HEADER_FIELDS 7
#define MODEL_HEADER_LEN (MODEL_MAGIC_LEN + 4 * MODEL_HEADER_FIELDS)
#define MODEL_FLAG_HAS_WEIGHTS 1u
/* Keeps every dimension inside cblas' int and every product of two inside a gsize. */
#define MODEL_MAX_DIM (1u << 24)
/* Rows per sgemm when scoring many rows: enough for sgemm to run at full speed, few enough
 * that a block's outputs are still in cache for the softmax pass. */
#define BLOCK_ROWS 1024

struct _VetoModel
{
  VetoModelKind kind;
  guint n_features;
  guint n_classes;
  guint n_heads;
  guint n_outputs;
  guint hidden; /* 0 for softmax */
  gboolean has_weights;
  gsize n_params;
  /* W1 (n_features × first width), b1, then for an mlp W2 (hidden × n_outputs), b2; one
   * buffer so that Adam, copies and save walk it in one go. */
  float *params;
};

/* Offsets into params. For softmax w2 == b2 == n_params, so the ranges after b1 are empty. */
typedef struct
{
  gsize w1;
  gsize b1;
  gsize w2;
  gsize b2;
} Layout;

G_DEFINE_QUARK (veto-model-error-quark, veto_model_error)

const char *
veto_model_kind_to_string (VetoModelKind kind)
{
  switch (kind)
    {
    case VETO_MODEL_KIND_SOFTMAX:
      return "softmax";
    case VETO_MODEL_KIND_MLP:
      return "mlp";
    default:
      g_return_val_if_reached (NULL);
    }
}

gboolean
veto_model_kind_from_string (const char    *name,
                             VetoModelKind *out_kind)
{
  g_return_val_if_fail (name != NULL, FALSE);

  if (g_str_equal (name, "softmax"))
    *out_kind = VETO_MODEL_KIND_SOFTMAX;
  else if (g_str_equal (name, "mlp"))
    *out_kind = VETO_MODEL_KIND_MLP;
  else
    return FALSE;
  return TRUE;
}

/* Width of the first layer: the hidden layer of an mlp, the outputs of a softmax. */
static guint
first_width (const VetoModel *model)
{
  return model->kind == VETO_MODEL_KIND_MLP ? model->hidden : model->n_outputs;
}

static Layout
model_layout (const VetoModel *model)
{
  Layout layout;

  layout.w1 = 0;
  layout.b1 = (gsize) model->n_features * first_width (model);
  layout.w2 = layout.b1 + first_width (model);
  layout.b2 = layout.w2 + (gsize) model->hidden * model->n_outputs;
  return layout;
}

static guint64
count_params (VetoModelKind kind,
              guint64       n_features,
              guint64       n_outputs,
              guint64       hidden)
{
  if (kind == VETO_MODEL_KIND_MLP)
    return n_features * hidden + hidden + hidden * n_outputs + n_outputs;
  return n_features * n_outputs + n_outputs;
}

/* Dimensions are trusted: veto_model_new and veto_model_load check them first. */
static VetoModel *
model_alloc (VetoModelKind kind,
             guint         n_features,
             guint         n_classes,
             guint         n_heads,
             guint         hidden)
{
  VetoModel *model = g_new0 (VetoModel, 1);

  model->kind = kind;
  model->n_features = n_features;
  model->n_classes = n_classes;
  model->n_heads = n_heads;
  model->n_outputs = n_classes + n_heads;
  model->hidden = kind == VETO_MODEL_KIND_MLP ? hidden : 0;
  model->n_params = (gsize) count_params (kind, n_features, model->n_outputs, model->hidden);
  model->params = g_new0 (float, model->n_params);
  return model;
}

VetoModel *
veto_model_new (VetoModelKind kind,
                guint         n_features,
                guint         n_classes,
                guint         n_heads,
                guint         hidden)
{
  g_return_val_if_fail (kind == VETO_MODEL_KIND_SOFTMAX || kind == VETO_MODEL_KIND_MLP, NULL);
  g_return_val_if_fail (n_features > 0 && n_features <= MODEL_MAX_DIM, NULL);
  g_return_val_if_fail (n_classes <= MODEL_MAX_DIM && n_heads <= MODEL_MAX_DIM, NULL);
  g_return_val_if_fail (n_classes + n_heads > 0, NULL);
  g_return_val_if_fail (hidden <= MODEL_MAX_DIM, NULL);

  if (kind == VETO_MODEL_KIND_MLP && hidden == 0)
    hidden = VETO_MODEL_DEFAULT_HIDDEN;
  g_return_val_if_fail (count_params (kind, n_features, (guint64) n_classes + n_heads,
                                      kind == VETO_MODEL_KIND_MLP ? hidden : 0)
                        <= G_MAXSIZE / sizeof (float), NULL);
  return model_alloc (kind, n_features, n_classes, n_heads, hidden);
}

VetoModel *
veto_model_copy (const VetoModel *model)
{
  VetoModel *copy;

  g_return_val_if_fail (model != NULL, NULL);

  copy = g_memdup2 (model, sizeof *model);
  copy->params = g_memdup2 (model->params, model->n_params * sizeof (float));
  return copy;
}

void
veto_model_free (VetoModel *model)
{
  if (model == NULL)
    return;
  g_free (model->params);
  g_free (model);
}

VetoModelKind
veto_model_get_kind (const VetoModel *model)
{
  g_return_val_if_fail (model != NULL, VETO_MODEL_KIND_SOFTMAX);
  return model->kind;
}

guint
veto_model_get_n_features (const VetoModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->n_features;
}

guint
veto_model_get_n_classes (const VetoModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->n_classes;
}

guint
veto_model_get_n_heads (const VetoModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->n_heads;
}

guint
veto_model_get_n_outputs (const VetoModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->n_outputs;
}

guint
veto_model_get_hidden (const VetoModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->hidden;
}

guint
veto_model_get_embedding_dim (const VetoModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->kind == VETO_MODEL_KIND_MLP ? model->hidden : model->n_features;
}

gboolean
veto_model_has_weights (const VetoModel *model)
{
  g_return_val_if_fail (model != NULL, FALSE);
  return model->has_weights;
}

gsize
veto_model_get_n_params (const VetoModel *model)
{
  g_return_val_if_fail (model != NULL, 0);
  return model->n_params;
}

const float *
veto_model_get_params (const VetoModel *model)
{
  g_return_val_if_fail (model != NULL, NULL);
  return model->params;
}

void
veto_model_set_params (VetoModel   *model,
                       const float *params,
                       gsize        n_params)
{
  g_return_if_fail (model != NULL);
  g_return_if_fail (params != NULL);
  g_return_if_fail (n_params == model->n_params);

  memcpy (model->params, params, n_params * sizeof (float));
  model->has_weights = TRUE;
}

/* Softmax starts from zero, as its loss is convex and zero is the most uncertain model. The
 * mlp's hidden layer gets He init for the ReLU; its output layer is linear, so LeCun (1/fan-in). */
static void
init_weights_rng (VetoModel *model,
                  VetoRng       *rng)
{
  Layout layout = model_layout (model);

  memset (model->params, 0, model->n_params * sizeof (float));
  if (model->kind == VETO_MODEL_KIND_MLP)
    {
      double scale1 = sqrt (2.0 / model->n_features);
      double scale2 = sqrt (1.0 / model->hidden);

      for (gsize i = layout.w1; i < layout.b1; i++)
        model->params[i] = (float) (scale1 * veto_rng_normal (rng));
      for (gsize i = layout.w2; i < layout.b2; i++)
        model->params[i] = (float) (scale2 * veto_rng_normal (rng));
    }
  model->has_weights = TRUE;
}

void
veto_model_init_weights (VetoModel *model,
                         guint64    seed)
{
  VetoRng rng;

  g_return_if_fail (model != NULL);

  veto_rng_init (&rng, seed);
  init_weights_rng (model, &rng);
}

/* max (v, 0) by clearing negative numbers' bits: GCC at -O2 compiles the comparison to a jump,
 * which mispredicts on half the activations and made the mlp's forward pass 40% slower. */
static inline float
relu (float v)
{
  guint32 bits;

  memcpy (&bits, &v, sizeof bits);
  bits &= ~(guint32) ((gint32) bits >> 31);
  memcpy (&v, &bits, sizeof v);
  return v;
}

/* grad where the ReLU let its input through (activation > 0), else 0; branch-free as relu (). */
static inline float
relu_gate (float grad,
           float activation)
{
  guint32 g, a;

  memcpy (&g, &grad, sizeof g);
  memcpy (&a, &activation, sizeof a);
  g &= -(guint32) (a != 0);
  memcpy (&grad, &g, sizeof grad);
  return grad;
}

/* y = x w + b, through a ReLU if asked; x is n × in, w is in × out, all row-major. */
static void
affine (const float *x,
        guint        n,
        guint        in,
        const float *w,
        const float *b,
        guint        out,
        gboolean     with_relu,
        float       *y)
{
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) n, (int) out, (int) in,
               1.0f, x, (int) in, w, (int) out, 0.0f, y, (int) out);
  for (gsize i = 0; i < n; i++)
    {
      float *row = y + i * out;

      if (with_relu)
        for (guint j = 0; j < out; j++)
          row[j] = relu (row[j] + b[j]);
      else
        for (guint j = 0; j < out; j++)
          row[j] += b[j];
    }
}

/* Outputs of n contiguous rows; hidden (n × hidden) is scratch for an mlp, unused for softmax. */
static void
forward_block (const VetoModel *model,
               const float     *x,
               guint            n,
               float           *hidden,
               float           *out)
{
  Layout layout = model_layout (model);
  const float *p = model->params;

  if (model->kind == VETO_MODEL_KIND_SOFTMAX)
    {
      affine (x, n, model->n_features, p + layout.w1, p + layout.b1, model->n_outputs, FALSE, out);
      return;
    }
  affine (x, n, model->n_features, p + layout.w1, p + layout.b1, model->hidden, TRUE, hidden);
  affine (hidden, n, model->hidden, p + layout.w2, p + layout.b2, model->n_outputs, FALSE, out);
}

/* In place when z == p. */
static void
softmax_row (const float *z,
             guint        k,
             float       *p)
{
  float max = z[0];
  float sum = 0.0f;
  float inv;

  for (guint j = 1; j < k; j++)
    max = MAX (max, z[j]);
  for (guint j = 0; j < k; j++)
    {
      p[j] = expf (z[j] - max);
      sum += p[j];
    }
  inv = 1.0f / sum;
  for (guint j = 0; j < k; j++)
    p[j] *= inv;
}

static float *
new_hidden_scratch (const VetoModel *model,
                    guint            rows)
{
  if (model->kind != VETO_MODEL_KIND_MLP || rows == 0)
    return NULL;
  return g_new (float, (gsize) rows * model->hidden);
}

void
veto_model_forward (const VetoModel *model,
                    const float     *X,
                    guint            n,
                    guint            d,
                    float           *out_outputs)
{
  guint block;
  g_autofree float *hidden = NULL;

  g_return_if_fail (model != NULL);
  g_return_if_fail (d == model->n_features);
  g_return_if_fail (n == 0 || (X != NULL && out_outputs != NULL));

  block = MIN (n, BLOCK_ROWS);
  hidden = new_hidden_scratch (model, block);
  for (guint start = 0; start < n; start += block)
    forward_block (model, X + (gsize) start * d, MIN (block, n - start), hidden,
                   out_outputs + (gsize) start * model->n_outputs);
}

void
veto_model_forward_rows (const VetoModel *model,
                         const float     *X,
                         guint            n,
                         guint            d,
                         const guint     *rows,
                         guint            n_rows,
                         float           *out_outputs)
{
  guint block;
  g_autofree float *x = NULL;
  g_autofree float *hidden = NULL;

  g_return_if_fail (model != NULL);
  g_return_if_fail (d == model->n_features);
  g_return_if_fail (n_rows == 0 || (X != NULL && rows != NULL && out_outputs != NULL));

  block = MIN (n_rows, BLOCK_ROWS);
  if (block == 0)
    return;
  x = g_new (float, (gsize) block * d);
  hidden = new_hidden_scratch (model, block);
  for (guint start = 0; start < n_rows; start += block)
    {
      guint nb = MIN (block, n_rows - start);

      for (guint i = 0; i < nb; i++)
        {
          guint row = rows[start + i];

          g_return_if_fail (row < n);
          memcpy (x + (gsize) i * d, X + (gsize) row * d, d * sizeof (float));
        }
      forward_block (model, x, nb, hidden, out_outputs + (gsize) start * model->n_outputs);
    }
}

void
veto_model_outputs_to_proba (const VetoModel *model,
                             const float     *outputs,
                             guint            n,
                             float           *out_probs)
{
  g_return_if_fail (model != NULL);
  g_return_if_fail (model->n_classes > 0);
  g_return_if_fail (n == 0 || (outputs != NULL && out_probs != NULL));

  for (gsize i = 0; i < n; i++)
    softmax_row (outputs + i * model->n_outputs, model->n_classes,
                 out_probs + i * model->n_classes);
}

/* Scoring a pool with a linear model is one pass over X with K ≤ 16 outputs: a shape where a
 * general sgemm spends its time packing. This kernel keeps W (padded to 16 columns) in L1, reads
 * four rows of X at a time, and is compiled for AVX-512, AVX2 and the baseline, picked at run
 * time; rows are split across the cores. It reaches the memory bandwidth (bench/bench-rescore). */
#define THIN_WIDTH 16
#define THIN_MIN_ROWS 4096

typedef struct
{
  const VetoModel *model;
  const float *x;
  const float *w16;       /* n_features × THIN_WIDTH, zero-padded */
  guint begin, end;
  float *out_probs;
} ThinJob;

/* Row i of a row-major matrix X of d columns: X[rows[i]], or X[i] when rows is NULL. */
static inline const float *
row_of (const float *X, const guint *rows, guint i, guint d)
{
  return X + (gsize) (rows != NULL ? rows[i] : i) * d;
}

/* out (n × THIN_WIDTH) = X[rows] w16 (rows NULL: the first n rows of X), four rows per pass
 * over w16, whose row stays in one vector register: for a softmax of at most THIN_WIDTH
 * outputs, sgemm's packing of so thin a matrix costs more than its arithmetic. */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
thin_logits_rows (const float *X, const guint *rows, guint n, guint d, const float *w16,
                  float *out)
{
  guint i = 0;

  for (; i + 4 <= n; i += 4)
    {
      float a0[THIN_WIDTH] = { 0 }, a1[THIN_WIDTH] = { 0 };
      float a2[THIN_WIDTH] = { 0 }, a3[THIN_WIDTH] = { 0 };
      const float *x0 = row_of (X, rows, i, d), *x1 = row_of (X, rows, i + 1, d);
      const float *x2 = row_of (X, rows, i + 2, d), *x3 = row_of (X, rows, i + 3, d);

      for (guint j = 0; j < d; j++)
        {
          const float *wr = w16 + (gsize) j * THIN_WIDTH;
          float v0 = x0[j], v1 = x1[j], v2 = x2[j], v3 = x3[j];

          for (guint c = 0; c < THIN_WIDTH; c++)
            {
              a0[c] += v0 * wr[c];
              a1[c] += v1 * wr[c];
              a2[c] += v2 * wr[c];
              a3[c] += v3 * wr[c];
            }
        }
      memcpy (out + (gsize) i * THIN_WIDTH, a0, sizeof a0);
      memcpy (out + (gsize) (i + 1) * THIN_WIDTH, a1, sizeof a1);
      memcpy (out + (gsize) (i + 2) * THIN_WIDTH, a2, sizeof a2);
      memcpy (out + (gsize) (i + 3) * THIN_WIDTH, a3, sizeof a3);
    }
  for (; i < n; i++)
    {
      float a[THIN_WIDTH] = { 0 };
      const float *x = row_of (X, rows, i, d);

      for (guint j = 0; j < d; j++)
        for (guint c = 0; c < THIN_WIDTH; c++)
          a[c] += x[j] * w16[(gsize) j * THIN_WIDTH + c];
      memcpy (out + (gsize) i * THIN_WIDTH, a, sizeof a);
    }
}

static gpointer
thin_job_run (gpointer data)
{
  ThinJob *job = data;
  const VetoModel *model = job->model;
  Layout layout = model_layout (model);
  const float *b = model->params + layout.b1;
  guint d = model->n_features, k = model->n_classes;
  g_autofree float *logits = g_new (float, (gsize) BLOCK_ROWS * THIN_WIDTH);

  for (guint start = job->begin; start < job->end; start += BLOCK_ROWS)
    {
      guint nb = MIN (BLOCK_ROWS, job->end - start);

      thin_logits_rows (job->x + (gsize) start * d, NULL, nb, d, job->w16, logits);
      for (guint i = 0; i < nb; i++)
        {
          float *z = logits + (gsize) i * THIN_WIDTH;

          for (guint c = 0; c < k; c++)
            z[c] += b[c];
          softmax_row (z, k, job->out_probs + (gsize) (start + i) * k);
        }
    }
  return NULL;
}

static void
predict_proba_thin (const VetoModel *model, const float *X, guint n, float *out_probs)
{
  Layout layout = model_layout (model);
  guint d = model->n_features, o = model->n_outputs;
  guint n_threads = CLAMP (g_get_num_processors (), 1, 8);
  g_autofree float *w16 = g_new0 (float, (gsize) d * THIN_WIDTH);
  g_autofree ThinJob *jobs = g_new (ThinJob, n_threads);
  g_autofree GThread **threads = g_new0 (GThread *, n_threads);

  for (guint j = 0; j < d; j++)
    memcpy (w16 + (gsize) j * THIN_WIDTH, model->params + layout.w1 + (gsize) j * o,
            o * sizeof (float));
  for (guint t = 0; t < n_threads; t++)
    {
      jobs[t] = (ThinJob) { model, X, w16, (guint) ((guint64) n * t / n_threads),
                            (guint) ((guint64) n * (t + 1) / n_threads), out_probs };
      if (t > 0)
        threads[t] = g_thread_new ("veto-score", thin_job_run, &jobs[t]);
    }
  thin_job_run (&jobs[0]);
  for (guint t = 1; t < n_threads; t++)
    g_thread_join (threads[t]);
}

void
veto_model_predict_proba (const VetoModel *model,
                          const float     *X,
                          guint            n,
                          guint            d,
                          float           *out_probs)
{
  guint block;
  guint n_classes;
  guint n_outputs;
  g_autofree float *hidden = NULL;
  g_autofree float *scratch = NULL;

  g_return_if_fail (model != NULL);
  g_return_if_fail (d == model->n_features);
  g_return_if_fail (model->n_classes > 0);
  g_return_if_fail (n == 0 || (X != NULL && out_probs != NULL));

  if (model->kind == VETO_MODEL_KIND_SOFTMAX && model->n_outputs <= THIN_WIDTH
      && n >= THIN_MIN_ROWS)
    {
      predict_proba_thin (model, X, n, out_probs);
      return;
    }
  n_classes = model->n_classes;
  n_outputs = model->n_outputs;
  block = MIN (n, BLOCK_ROWS);
  hidden = new_hidden_scratch (model, block);
  /* Without heads the logits land straight in out_probs and are normalised in place. */
  if (model->n_heads > 0 && block > 0)
    scratch = g_new (float, (gsize) block * n_outputs);

  for (guint start = 0; start < n; start += block)
    {
      guint nb = MIN (block, n - start);
      float *probs = out_probs + (gsize) start * n_classes;
      float *outputs = scratch != NULL ? scratch : probs;

      forward_block (model, X + (gsize) start * d, nb, hidden, outputs);
      for (gsize i = 0; i < nb; i++)
        softmax_row (outputs + i * n_outputs, n_classes, probs + i * n_classes);
    }
}

void
veto_model_embed (const VetoModel *model,
                  const float     *X,
                  guint            n,
                  guint            d,
                  float           *out_embedding)
{
  Layout layout;

  g_return_if_fail (model != NULL);
  g_return_if_fail (d == model->n_features);
  g_return_if_fail (n == 0 || (X != NULL && out_embedding != NULL));

  if (model->kind == VETO_MODEL_KIND_SOFTMAX)
    {
      memcpy (out_embedding, X, (gsize) n * d * sizeof (float));
      return;
    }
  layout = model_layout (model);
  for (guint start = 0; start < n; start += BLOCK_ROWS)
    affine (X + (gsize) start * d, MIN (BLOCK_ROWS, n - start), d,
            model->params + layout.w1, model->params + layout.b1, model->hidden, TRUE,
            out_embedding + (gsize) start * model->hidden);
}

/* Buffers for one minibatch, grown to the largest gather seen. */
typedef struct
{
  guint *rows;
  guint max_rows;
  guint capacity;
  float *x;        /* gathered rows, capacity × n_features */
  float *hidden;   /* mlp activations, capacity × hidden */
  float *dhidden;  /* capacity × hidden */
  float *outputs;  /* capacity × n_outputs */
  float *doutputs; /* capacity × n_outputs */
  /* The thin softmax path: weights and their gradient zero-padded to THIN_WIDTH outputs, and
   * the minibatch's outputs gradient at that width. */
  float *w16;      /* n_features × THIN_WIDTH */
  float *g16;      /* n_features × THIN_WIDTH */
  float *z16;      /* capacity × THIN_WIDTH */
} Workspace;

static void
workspace_init (Workspace *ws,
                guint      max_rows)
{
  memset (ws, 0, sizeof *ws);
  ws->max_rows = max_rows;
  ws->rows = g_new (guint, max_rows);
}

static void
workspace_free_buffers (Workspace *ws)
{
  g_clear_pointer (&ws->x, g_free);
  g_clear_pointer (&ws->hidden, g_free);
  g_clear_pointer (&ws->dhidden, g_free);
  g_clear_pointer (&ws->outputs, g_free);
  g_clear_pointer (&ws->doutputs, g_free);
  g_clear_pointer (&ws->z16, g_free);
}

static void
workspace_clear (Workspace *ws)
{
  g_clear_pointer (&ws->rows, g_free);
  g_clear_pointer (&ws->w16, g_free);
  g_clear_pointer (&ws->g16, g_free);
  workspace_free_buffers (ws);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Workspace, workspace_clear)

static void
workspace_reserve (Workspace       *ws,
                   const VetoModel *model,
                   guint            n_rows)
{
  guint capacity;

  if (n_rows <= ws->capacity)
    return;
  capacity = MIN (MAX (n_rows, 2 * ws->capacity), ws->max_rows);
  workspace_free_buffers (ws);
  ws->capacity = capacity;
  ws->x = g_new (float, (gsize) capacity * model->n_features);
  ws->outputs = g_new (float, (gsize) capacity * model->n_outputs);
  ws->doutputs = g_new (float, (gsize) capacity * model->n_outputs);
  ws->z16 = g_new (float, (gsize) capacity * THIN_WIDTH);
  if (model->kind == VETO_MODEL_KIND_MLP)
    {
      ws->hidden = g_new (float, (gsize) capacity * model->hidden);
      ws->dhidden = g_new (float, (gsize) capacity * model->hidden);
    }
}

static void
column_sums (const float *a,
             guint        n,
             guint        m,
             float       *out)
{
  memset (out, 0, m * sizeof (float));
  for (gsize i = 0; i < n; i++)
    for (guint j = 0; j < m; j++)
      out[j] += a[i * m + j];
}

/* Gradients of every parameter from ws->doutputs, for the n_rows rows just forwarded. */
static void
backward (const VetoModel *model,
          Workspace       *ws,
          guint            n_rows,
          float           *grad)
{
  Layout layout = model_layout (model);
  int d = (int) model->n_features;
  int o = (int) model->n_outputs;
  int h = (int) model->hidden;
  int n = (int) n_rows;

  if (model->kind == VETO_MODEL_KIND_SOFTMAX)
    {
      cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, d, o, n, 1.0f, ws->x, d,
                   ws->doutputs, o, 0.0f, grad + layout.w1, o);
      column_sums (ws->doutputs, n_rows, model->n_outputs, grad + layout.b1);
      return;
    }

  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, h, o, n, 1.0f, ws->hidden, h,
               ws->doutputs, o, 0.0f, grad + layout.w2, o);
  column_sums (ws->doutputs, n_rows, model->n_outputs, grad + layout.b2);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, n, h, o, 1.0f, ws->doutputs, o,
               model->params + layout.w2, o, 0.0f, ws->dhidden, h);
  for (gsize i = 0; i < (gsize) n_rows * model->hidden; i++)
    ws->dhidden[i] = relu_gate (ws->dhidden[i], ws->hidden[i]);
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, d, h, n, 1.0f, ws->x, d,
               ws->dhidden, h, 0.0f, grad + layout.w1, h);
  column_sums (ws->dhidden, n_rows, model->hidden, grad + layout.b1);
}

/* A softmax with at most THIN_WIDTH outputs trains through thin_logits_rows (above) and this
 * kernel instead of sgemm: they read the minibatch's rows where they lie in X (no gathered
 * copy). g16 (d × THIN_WIDTH) = X[rows]^T z16, eight rows of g16 at a time held in vector
 * registers over the whole minibatch: each z16 row is loaded once per block and g16 is
 * written once (a pass per row of X re-loads and re-stores g16 for every four rows, which
 * made the loads and stores of g16, not the arithmetic, the limit: 0.155 s against 0.080 s
 * for the five epochs of bench-train.sh, measured side by side). */
__attribute__ ((target_clones ("avx512f", "avx2", "default")))
static void
thin_weight_gradient_rows (const float *X, const guint *rows, guint n, guint d,
                           const float *z16, float *g16)
{
  guint j = 0;

  for (; j + 8 <= d; j += 8)
    {
      float g0[THIN_WIDTH] = { 0 }, g1[THIN_WIDTH] = { 0 }, g2[THIN_WIDTH] = { 0 };
      float g3[THIN_WIDTH] = { 0 }, g4[THIN_WIDTH] = { 0 }, g5[THIN_WIDTH] = { 0 };
      float g6[THIN_WIDTH] = { 0 }, g7[THIN_WIDTH] = { 0 };
      float *g = g16 + (gsize) j * THIN_WIDTH;

      for (guint i = 0; i < n; i++)
        {
          const float *x = row_of (X, rows, i, d) + j, *z = z16 + (gsize) i * THIN_WIDTH;

          for (guint c = 0; c < THIN_WIDTH; c++)
            {
              g0[c] += x[0] * z[c];
              g1[c] += x[1] * z[c];
              g2[c] += x[2] * z[c];
              g3[c] += x[3] * z[c];
              g4[c] += x[4] * z[c];
              g5[c] += x[5] * z[c];
              g6[c] += x[6] * z[c];
              g7[c] += x[7] * z[c];
            }
        }
      memcpy (g, g0, sizeof g0);
      memcpy (g + THIN_WIDTH, g1, sizeof g1);
      memcpy (g + 2 * THIN_WIDTH, g2, sizeof g2);
      memcpy (g + 3 * THIN_WIDTH, g3, sizeof g3);
      memcpy (g + 4 * THIN_WIDTH, g4, sizeof g4);
      memcpy (g + 5 * THIN_WIDTH, g5, sizeof g5);
      memcpy (g + 6 * THIN_WIDTH, g6, sizeof g6);
      memcpy (g + 7 * THIN_WIDTH, g7, sizeof g7);
    }
  for (; j < d; j++)
    {
      float g[THIN_WIDTH] = { 0 };

      for (guint i = 0; i < n; i++)
        {
          float v = row_of (X, rows, i, d)[j];

          for (guint c = 0; c < THIN_WIDTH; c++)
            g[c] += v * z16[(gsize) i * THIN_WIDTH + c];
        }
      memcpy (g16 + (gsize) j * THIN_WIDTH, g, sizeof g);
    }
}

/* Forward, loss and backward of a thin softmax on the gathered rows ws->rows. */
static double
thin_softmax_gradients (const VetoModel *model, Workspace *ws, const float *X, guint n_rows,
                        gpointer objective, VetoBatchLossFunc batch_loss, const guint *units,
                        guint n_units, float *grad)
{
  Layout layout = model_layout (model);
  guint d = model->n_features, o = model->n_outputs;
  const float *w = model->params + layout.w1, *b = model->params + layout.b1;
  double loss;

  if (ws->w16 == NULL)
    {
      ws->w16 = g_new0 (float, (gsize) d * THIN_WIDTH);
      ws->g16 = g_new (float, (gsize) d * THIN_WIDTH);
    }
  for (guint j = 0; j < d; j++)
    memcpy (ws->w16 + (gsize) j * THIN_WIDTH, w + (gsize) j * o, o * sizeof (float));
  thin_logits_rows (X, ws->rows, n_rows, d, ws->w16, ws->z16);
  for (guint i = 0; i < n_rows; i++)
    for (guint c = 0; c < o; c++)
      ws->outputs[(gsize) i * o + c] = ws->z16[(gsize) i * THIN_WIDTH + c] + b[c];
  loss = batch_loss (objective, units, n_units, ws->rows, n_rows, ws->outputs, o, ws->doutputs);
  if (!isfinite (loss))
    return loss;
  memset (ws->z16, 0, (gsize) n_rows * THIN_WIDTH * sizeof (float));
  for (guint i = 0; i < n_rows; i++)
    memcpy (ws->z16 + (gsize) i * THIN_WIDTH, ws->doutputs + (gsize) i * o, o * sizeof (float));
  thin_weight_gradient_rows (X, ws->rows, n_rows, d, ws->z16, ws->g16);
  for (guint j = 0; j < d; j++)
    memcpy (grad + layout.w1 + (gsize) j * o, ws->g16 + (gsize) j * THIN_WIDTH,
            o * sizeof (float));
  column_sums (ws->doutputs, n_rows, o, grad + layout.b1);
  return loss;
}

/* Gather, forward, loss and backward for one minibatch of units; grad gets every parameter. */
static gboolean
batch_gradients (const VetoModel   *model,
                 Workspace         *ws,
                 const float       *X,
                 guint              n,
                 gpointer           objective,
                 VetoGatherFunc     gather,
                 VetoBatchLossFunc  batch_loss,
                 const guint       *units,
                 guint              n_units,
                 float             *grad,
                 double            *out_loss,
                 GError           **error)
{
  guint d = model->n_features;
  guint n_rows;
  double loss;

  n_rows = gather (objective, units, n_units, ws->rows, ws->max_rows);
  if (n_rows == 0 || n_rows > ws->max_rows)
    {
      g_set_error (error, VETO_MODEL_ERROR, VETO_MODEL_ERROR_OBJECTIVE,
                   "Gather returned %u rows for %u units (expected 1 to %u)",
                   n_rows, n_units, ws->max_rows);
      return FALSE;
    }
  workspace_reserve (ws, model, n_rows);
  for (guint i = 0; i < n_rows; i++)
    if (ws->rows[i] >= n)
      {
        g_set_error (error, VETO_MODEL_ERROR, VETO_MODEL_ERROR_OBJECTIVE,
                     "Gather returned row %u of a feature matrix of %u rows", ws->rows[i], n);
        return FALSE;
      }

  if (model->kind == VETO_MODEL_KIND_SOFTMAX && model->n_outputs <= THIN_WIDTH)
    loss = thin_softmax_gradients (model, ws, X, n_rows, objective, batch_loss, units, n_units,
                                   grad);
  else
    {
      for (guint i = 0; i < n_rows; i++)
        memcpy (ws->x + (gsize) i * d, X + (gsize) ws->rows[i] * d, d * sizeof (float));
      forward_block (model, ws->x, n_rows, ws->hidden, ws->outputs);
      loss = batch_loss (objective, units, n_units, ws->rows, n_rows, ws->outputs,
                         model->n_outputs, ws->doutputs);
      if (isfinite (loss))
        backward (model, ws, n_rows, grad);
    }
  if (!isfinite (loss))
    {
      g_set_error (error, VETO_MODEL_ERROR, VETO_MODEL_ERROR_DIVERGED,
                   "The minibatch loss is not finite (%g)", loss);
      return FALSE;
    }
  *out_loss = loss;
  return TRUE;
}

gboolean
veto_model_compute_gradients (const VetoModel   *model,
                              const float       *X,
                              guint              n,
                              guint              d,
                              gpointer           objective,
                              VetoGatherFunc     gather,
                              VetoBatchLossFunc  batch_loss,
                              const guint       *units,
                              guint              n_units,
                              float             *out_grad,
                              double            *out_loss,
                              GError           **error)
{
  g_auto (Workspace) ws = { 0 };
  double loss;

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (d == model->n_features, FALSE);
  g_return_val_if_fail (n > 0 && X != NULL, FALSE);
  g_return_val_if_fail (gather != NULL && batch_loss != NULL, FALSE);
  g_return_val_if_fail (n_units > 0 && units != NULL, FALSE);
  g_return_val_if_fail (out_grad != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  workspace_init (&ws, n);
  if (!batch_gradients (model, &ws, X, n, objective, gather, batch_loss, units, n_units,
                        out_grad, &loss, error))
    return FALSE;
  if (out_loss != NULL)
    *out_loss = loss;
  return TRUE;
}

void
veto_model_train_options_init (VetoModelTrainOptions *options)
{
  g_return_if_fail (options != NULL);

  memset (options, 0, sizeof *options);
  options->learning_rate = 1e-3;
  options->beta1 = 0.9;
  options->beta2 = 0.999;
  options->epsilon = 1e-8;
  options->weight_decay = 1e-4;
  options->batch_size = 128;
  options->max_epochs = 50;
  options->patience = 5;
  options->seed = 1;
}

static void
adam_range (float       *p,
            const float *g,
            float       *m,
            float       *v,
            gsize        begin,
            gsize        end,
            float        lr,
            float        beta1,
            float        beta2,
            float        eps,
            float        c1,
            float        c2,
            float        decay)
{
  for (gsize i = begin; i < end; i++)
    {
      m[i] = beta1 * m[i] + (1.0f - beta1) * g[i];
      v[i] = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
      p[i] = p[i] * decay - lr * (m[i] / c1) / (sqrtf (v[i] / c2) + eps);
    }
}

/* One AdamW step at step number t (from 1) with learning rate lr_t; weight decay is decoupled
 * and spares the biases. */
static void
adamw_step (VetoModel                   *model,
            const VetoModelTrainOptions *options,
            double                       lr_t,
            const float                 *grad,
            float                       *m,
            float                       *v,
            guint64                      t)
{
  Layout layout = model_layout (model);
  float lr = (float) lr_t;
  float beta1 = (float) options->beta1;
  float beta2 = (float) options->beta2;
  float eps = (float) options->epsilon;
  float c1 = (float) (1.0 - pow (options->beta1, (double) t));
  float c2 = (float) (1.0 - pow (options->beta2, (double) t));
  float decay = (float) (1.0 - lr_t * options->weight_decay);
  float *p = model->params;

  adam_range (p, grad, m, v, layout.w1, layout.b1, lr, beta1, beta2, eps, c1, c2, decay);
  adam_range (p, grad, m, v, layout.b1, layout.w2, lr, beta1, beta2, eps, c1, c2, 1.0f);
  adam_range (p, grad, m, v, layout.w2, layout.b2, lr, beta1, beta2, eps, c1, c2, decay);
  adam_range (p, grad, m, v, layout.b2, model->n_params, lr, beta1, beta2, eps, c1, c2, 1.0f);
}

/* The rate of step `step` (from 0) of `total`: constant, or cosine-annealed towards 0 over the
 * whole run (Loshchilov & Hutter 2017), which settles a short run at a better minimum. */
static double
learning_rate_at (const VetoModelTrainOptions *options, guint64 step, guint64 total)
{
  if (options->schedule == VETO_LR_CONSTANT || total == 0)
    return options->learning_rate;
  return options->learning_rate * 0.5 * (1.0 + cos (G_PI * (double) step / (double) total));
}

static gboolean
params_finite (const VetoModel *model)
{
  for (gsize i = 0; i < model->n_params; i++)
    if (!isfinite (model->params[i]))
      return FALSE;
  return TRUE;
}

/* --- full-batch L-BFGS (Nocedal & Wright, Numerical Optimization, algorithms 7.4 and 7.5) --- */

#define LBFGS_MEMORY 10
#define LBFGS_MAX_BACKTRACKS 30
/* Stop when an iteration lowers the objective by less than this fraction of it, or when the
 * largest gradient entry is this small: float32 gradients carry no more than that. */
#define LBFGS_FTOL 1e-7
#define LBFGS_GTOL 1e-5

typedef struct
{
  VetoModel *model;
  Workspace ws;
  const float *X;
  guint n;
  gpointer objective;
  VetoGatherFunc gather;
  VetoBatchLossFunc batch_loss;
  guint *units;
  guint n_units;
  double l2;
  float *grad;
} LbfgsProblem;

/* The objective (mean loss of every unit + l2 / 2 · |W|²) and its gradient at x. */
static gboolean
lbfgs_evaluate (LbfgsProblem *p, const double *x, double *out_f, double *out_g, GError **error)
{
  VetoModel *model = p->model;
  Layout layout = model_layout (model);
  double loss, penalty = 0;

  for (gsize i = 0; i < model->n_params; i++)
    model->params[i] = (float) x[i];
  if (!batch_gradients (model, &p->ws, p->X, p->n, p->objective, p->gather, p->batch_loss,
                        p->units, p->n_units, p->grad, &loss, error))
    return FALSE;
  for (gsize i = 0; i < model->n_params; i++)
    {
      gboolean weight = i < layout.b1 || (i >= layout.w2 && i < layout.b2);

      out_g[i] = p->grad[i] + (weight ? p->l2 * x[i] : 0);
      penalty += weight ? x[i] * x[i] : 0;
    }
  *out_f = loss + 0.5 * p->l2 * penalty;
  return TRUE;
}

static double
dot (const double *a, const double *b, gsize n)
{
  double acc = 0;

  for (gsize i = 0; i < n; i++)
    acc += a[i] * b[i];
  return acc;
}

/* Minimises from the model's weights; leaves the last accepted point in the model. */
static gboolean
train_lbfgs (LbfgsProblem *p, const VetoModelTrainOptions *options, GCancellable *cancellable,
             VetoModelTrainReport *report, GError **error)
{
  gsize np = p->model->n_params;
  g_autofree double *x = g_new (double, np);
  g_autofree double *g = g_new (double, np);
  g_autofree double *x_new = g_new (double, np);
  g_autofree double *g_new = g_new (double, np);
  g_autofree double *dir = g_new (double, np);
  g_autofree double *s = g_new (double, (gsize) LBFGS_MEMORY * np);
  g_autofree double *y = g_new (double, (gsize) LBFGS_MEMORY * np);
  double rho[LBFGS_MEMORY], alpha[LBFGS_MEMORY], f, f_new = 0;
  guint stored = 0, newest = 0, max_iter = MAX (options->max_epochs, 1);

  for (gsize i = 0; i < np; i++)
    x[i] = p->model->params[i];
  if (!lbfgs_evaluate (p, x, &f, g, error))
    return FALSE;
  for (guint iter = 1; iter <= max_iter; iter++)
    {
      double gtd, step = 1.0, g_max = 0, sy, yy;
      guint tries = 0;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      /* Two-loop recursion: dir = -H g, H the inverse Hessian built from the last pairs. */
      memcpy (dir, g, np * sizeof (double));
      for (guint k = 0; k < stored; k++)
        {
          guint j = (newest + LBFGS_MEMORY - k) % LBFGS_MEMORY;

          alpha[j] = rho[j] * dot (s + j * np, dir, np);
          for (gsize i = 0; i < np; i++)
            dir[i] -= alpha[j] * y[j * np + i];
        }
      if (stored > 0)
        {
          double *yn = y + newest * np;
          double gamma = dot (s + newest * np, yn, np) / dot (yn, yn, np);

          for (gsize i = 0; i < np; i++)
            dir[i] *= gamma;
        }
      else
        {
          /* The first step has no curvature yet: a unit step in the largest coordinate. */
          double g_inf = 0;

          for (gsize i = 0; i < np; i++)
            g_inf = MAX (g_inf, fabs (g[i]));
          for (gsize i = 0; i < np; i++)
            dir[i] /= MAX (g_inf, 1.0);
        }
      for (guint k = stored; k > 0; k--)
        {
          guint j = (newest + LBFGS_MEMORY - (k - 1)) % LBFGS_MEMORY;
          double beta = rho[j] * dot (y + j * np, dir, np);

          for (gsize i = 0; i < np; i++)
            dir[i] += s[j * np + i] * (alpha[j] - beta);
        }
      for (gsize i = 0; i < np; i++)
        dir[i] = -dir[i];
      gtd = dot (g, dir, np);
      if (gtd >= 0)
        {
          /* Not a descent direction (the pairs went stale): restart from steepest descent. */
          stored = 0;
          for (gsize i = 0; i < np; i++)
            dir[i] = -g[i];
          gtd = -dot (g, g, np);
        }
      /* Backtracking to the Armijo condition. */
      for (;;)
        {
          for (gsize i = 0; i < np; i++)
            x_new[i] = x[i] + step * dir[i];
          if (!lbfgs_evaluate (p, x_new, &f_new, g_new, error))
            return FALSE;
          if (isfinite (f_new) && f_new <= f + 1e-4 * step * gtd)
            break;
          if (++tries >= LBFGS_MAX_BACKTRACKS)
            {
              /* No decrease left to find at float precision: x is the answer. */
              for (gsize i = 0; i < np; i++)
                p->model->params[i] = (float) x[i];
              report->loss = f;
              return TRUE;
            }
          step *= 0.5;
        }
      report->epochs = iter;
      report->loss = f_new;
      if (options->progress != NULL)
        options->progress (options->progress_data, iter, f_new, NAN);
      /* Keep the pair only where it carries positive curvature. */
      newest = stored == 0 ? 0 : (newest + 1) % LBFGS_MEMORY;
      for (gsize i = 0; i < np; i++)
        {
          s[newest * np + i] = x_new[i] - x[i];
          y[newest * np + i] = g_new[i] - g[i];
          g_max = MAX (g_max, fabs (g_new[i]));
        }
      sy = dot (s + newest * np, y + newest * np, np);
      yy = dot (y + newest * np, y + newest * np, np);
      if (sy > 1e-12 * yy && yy > 0)
        {
          rho[newest] = 1.0 / sy;
          stored = MIN (stored + 1, LBFGS_MEMORY);
        }
      else
        newest = (newest + LBFGS_MEMORY - 1) % LBFGS_MEMORY;
      {
        gboolean converged = f - f_new <= LBFGS_FTOL * MAX (fabs (f), 1.0) || g_max <= LBFGS_GTOL;

        memcpy (x, x_new, np * sizeof (double));
        memcpy (g, g_new, np * sizeof (double));
        f = f_new;
        if (converged)
          break;
      }
    }
  for (gsize i = 0; i < np; i++)
    p->model->params[i] = (float) x[i];
  return TRUE;
}

gboolean
veto_model_train (VetoModel                   *model,
                  const float                 *X,
                  guint                        n,
                  guint                        d,
                  gpointer                     objective,
                  VetoGatherFunc               gather,
                  VetoBatchLossFunc            batch_loss,
                  guint                        n_units,
                  const VetoModelTrainOptions *options,
                  VetoModelTrainReport        *out_report,
                  GCancellable                *cancellable,
                  GError                     **error)
{
  VetoModelTrainOptions defaults;
  VetoModelTrainReport report = { 0, 0, 0, NAN, NAN };
  gsize param_bytes;
  gboolean had_weights;
  g_autofree float *initial = NULL;
  g_autofree float *best = NULL;
  g_autofree double *average = NULL;
  g_autofree float *grad = NULL;
  g_autofree float *adam_m = NULL;
  g_autofree float *adam_v = NULL;
  g_autofree guint *order = NULL;
  g_auto (Workspace) ws = { 0 };
  double best_score = INFINITY;
  guint since_best = 0, average_from;
  gboolean keep_last;
  guint64 step = 0, total_steps;
  int blas_threads;
  VetoRng rng;

  g_return_val_if_fail (model != NULL, FALSE);
  g_return_val_if_fail (d == model->n_features, FALSE);
  g_return_val_if_fail (n > 0 && X != NULL, FALSE);
  g_return_val_if_fail (gather != NULL && batch_loss != NULL, FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (options == NULL)
    {
      veto_model_train_options_init (&defaults);
      options = &defaults;
    }
  g_return_val_if_fail (options->batch_size > 0, FALSE);
  g_return_val_if_fail (options->learning_rate > 0.0, FALSE);
  g_return_val_if_fail (options->beta1 >= 0.0 && options->beta1 < 1.0, FALSE);
  g_return_val_if_fail (options->beta2 >= 0.0 && options->beta2 < 1.0, FALSE);
  g_return_val_if_fail (options->epsilon > 0.0 && options->weight_decay >= 0.0, FALSE);

  /* Minibatches of a few hundred rows are too small for BLAS threads to pay for their
   * synchronisation (one thread trains 1.5x faster here); scoring keeps them. */
  blas_threads = openblas_get_num_threads ();
  openblas_set_num_threads (1);

  /* A failed or cancelled run leaves the model exactly as it came. */
  param_bytes = model->n_params * sizeof (float);
  had_weights = model->has_weights;
  initial = g_memdup2 (model->params, param_bytes);

  veto_rng_init (&rng, options->seed);
  if (!model->has_weights)
    init_weights_rng (model, &rng);

  if (options->solver == VETO_SOLVER_LBFGS && model->kind == VETO_MODEL_KIND_SOFTMAX
      && n_units > 0)
    {
      LbfgsProblem problem = { model, { 0 }, X, n, objective, gather, batch_loss,
                               g_new (guint, n_units), n_units, options->l2,
                               g_new (float, model->n_params) };
      gboolean ok;

      for (guint i = 0; i < n_units; i++)
        problem.units[i] = i;
      workspace_init (&problem.ws, n);
      ok = train_lbfgs (&problem, options, cancellable, &report, error);
      workspace_clear (&problem.ws);
      g_free (problem.units);
      g_free (problem.grad);
      if (ok && !params_finite (model))
        {
          g_set_error (error, VETO_MODEL_ERROR, VETO_MODEL_ERROR_DIVERGED,
                       "The weights stopped being finite");
          ok = FALSE;
        }
      if (!ok)
        goto failed;
      report.best_epoch = report.epochs;
      if (options->validate != NULL)
        report.score = options->validate (options->validate_data, model);
      if (out_report != NULL)
        *out_report = report;
      openblas_set_num_threads (blas_threads);
      return TRUE;
    }

  grad = g_new (float, model->n_params);
  adam_m = g_new0 (float, model->n_params);
  adam_v = g_new0 (float, model->n_params);
  order = g_new (guint, MAX (n_units, 1));
  for (guint i = 0; i < n_units; i++)
    order[i] = i;
  /* Units never share a row within a minibatch, so a gather can never need more than n. */
  workspace_init (&ws, n);
  keep_last = options->keep_last || options->average_epochs > 0;
  if (options->validate != NULL && !keep_last)
    best = g_new (float, model->n_params);
  /* The average's first epoch: the last average_epochs of the run (all of a shorter one). */
  average_from = options->average_epochs >= options->max_epochs
                     ? 1
                     : options->max_epochs - options->average_epochs + 1;
  if (options->average_epochs > 0)
    average = g_new0 (double, model->n_params);

  total_steps = (guint64) options->max_epochs
                * ((n_units + options->batch_size - 1) / options->batch_size);
  for (guint epoch = 1; epoch <= options->max_epochs && n_units > 0; epoch++)
    {
      double loss_sum = 0.0;
      double score = NAN;

      for (guint i = n_units - 1; i > 0; i--)
        {
          guint j = veto_rng_below (&rng, i + 1);
          guint tmp = order[i];

          order[i] = order[j];
          order[j] = tmp;
        }

      for (guint start = 0; start < n_units; start += options->batch_size)
        {
          guint nb = MIN (options->batch_size, n_units - start);
          double loss;

          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            goto failed;
          if (!batch_gradients (model, &ws, X, n, objective, gather, batch_loss, order + start, nb,
                                grad, &loss, error))
            goto failed;
          adamw_step (model, options, learning_rate_at (options, step, total_steps), grad, adam_m,
                      adam_v, step + 1);
          step++;
          loss_sum += loss * nb;
        }

      if (!params_finite (model))
        {
          g_set_error (error, VETO_MODEL_ERROR, VETO_MODEL_ERROR_DIVERGED,
                       "The weights stopped being finite in epoch %u", epoch);
          goto failed;
        }

      report.epochs = epoch;
      report.loss = loss_sum / n_units;
      if (average != NULL && epoch >= average_from)
        {
          /* the running mean of the epochs' end weights (Polyak & Juditsky 1992) */
          report.averaged++;
          for (gsize i = 0; i < model->n_params; i++)
            average[i] += (model->params[i] - average[i]) / report.averaged;
        }
      if (options->validate != NULL)
        score = options->validate (options->validate_data, model);
      if (options->validate != NULL && keep_last)
        report.score = score;
      else if (options->validate != NULL)
        {
          if (score < best_score)
            {
              best_score = score;
              report.best_epoch = epoch;
              report.score = score;
              memcpy (best, model->params, param_bytes);
              since_best = 0;
            }
          else
            since_best++;
        }
      else
        report.best_epoch = epoch;

      if (options->progress != NULL)
        options->progress (options->progress_data, epoch, report.loss, score);
      if (options->validate != NULL && options->patience > 0 && since_best >= options->patience)
        break;
    }

  /* Without a finite validation score there is no best epoch: keep the last weights. */
  if (best != NULL && report.best_epoch > 0)
    memcpy (model->params, best, param_bytes);
  else
    report.best_epoch = report.epochs;
  if (report.averaged > 0)
    {
      for (gsize i = 0; i < model->n_params; i++)
        model->params[i] = (float) average[i];
      if (options->validate != NULL)
        report.score = options->validate (options->validate_data, model);
    }
  if (out_report != NULL)
    *out_report = report;
  openblas_set_num_threads (blas_threads);
  return TRUE;

failed:
  memcpy (model->params, initial, param_bytes);
  model->has_weights = had_weights;
  openblas_set_num_threads (blas_threads);
  return FALSE;
}

static void
put_u32 (guint8  *p,
         guint32  value)
{
  value = GUINT32_TO_LE (value);
  memcpy (p, &value, 4);
}

static guint32
get_u32 (const guint8 *p)
{
  guint32 value;

  memcpy (&value, p, 4);
  return GUINT32_FROM_LE (value);
}

GBytes *
veto_model_save (const VetoModel *model)
{
  guint32 header[MODEL_HEADER_FIELDS];
  gsize size;
  guint8 *data;

  g_return_val_if_fail (model != NULL, NULL);

  header[0] = MODEL_VERSION;
  header[1] = model->kind;
  header[2] = model->has_weights ? MODEL_FLAG_HAS_WEIGHTS : 0;
  header[3] = model->n_features;
  header[4] = model->n_classes;
  header[5] = model->n_heads;
  header[6] = model->hidden;

  size = MODEL_HEADER_LEN + model->n_params * 4;
  data = g_malloc (size);
  memcpy (data, MODEL_MAGIC, MODEL_MAGIC_LEN);
  for (guint i = 0; i < MODEL_HEADER_FIELDS; i++)
    put_u32 (data + MODEL_MAGIC_LEN + 4 * i, header[i]);
  for (gsize i = 0; i < model->n_params; i++)
    {
      guint32 bits;

      memcpy (&bits, &model->params[i], 4);
      put_u32 (data + MODEL_HEADER_LEN + 4 * i, bits);
    }
  return g_bytes_new_take (data, size);
}

gboolean
veto_model_load (GBytes     *bytes,
                 VetoModel **out_model,
                 GError    **error)
{
  const guint8 *data;
  gsize size;
  guint32 version, kind, flags, n_features, n_classes, n_heads, hidden;
  guint64 n_params;
  g_autoptr (VetoModel) model = NULL;

  g_return_val_if_fail (bytes != NULL, FALSE);
  g_return_val_if_fail (out_model != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  data = g_bytes_get_data (bytes, &size);
  if (size < MODEL_HEADER_LEN || memcmp (data, MODEL_MAGIC, MODEL_MAGIC_LEN) != 0)
    {
      if (size < MODEL_HEADER_LEN)
        g_set_error (error, VETO_MODEL_ERROR, VETO_MODEL_ERROR_FORMAT,
                     "Model data is truncated (%" G_GSIZE_FORMAT " bytes)", size);
      else
        g_set_error_literal (error, VETO_MODEL_ERROR, VETO_MODEL_ERROR_FORMAT,
                             "Not a Veto model");
      return FALSE;
    }
  version = get_u32 (data + MODEL_MAGIC_LEN);
  kind = get_u32 (data + MODEL_MAGIC_LEN + 4);
  flags = get_u32 (data + MODEL_MAGIC_LEN + 8);
  n_features = get_u32 (data + MODEL_MAGIC_LEN + 12);
  n_classes = get_u32 (data + MODEL_MAGIC_LEN + 16);
  n_heads = get_u32 (data + MODEL_MAGIC_LEN + 20);
  hidden = get_u32 (data + MODEL_MAGIC_LEN + 24);

  if (version != MODEL_VERSION)
    {
      g_set_error (error, VETO_MODEL_ERROR, VETO_MODEL_ERROR_VERSION,
                   "Unsupported model version %u (this Veto reads version %u)",
                   version, MODEL_VERSION);
      return FALSE;
    }
  if ((kind != VETO_MODEL_KIND_SOFTMAX && kind != VETO_MODEL_KIND_MLP)
      || (flags & ~MODEL_FLAG_HAS_WEIGHTS) != 0
      || n_features == 0 || n_features > MODEL_MAX_DIM
      || n_classes > MODEL_MAX_DIM || n_heads > MODEL_MAX_DIM || n_classes + n_heads == 0
      || hidden > MODEL_MAX_DIM
      || (kind == VETO_MODEL_KIND_MLP) != (hidden > 0))
    {
      g_set_error (error, VETO_MODEL_ERROR, VETO_MODEL_ERROR_FORMAT,
                   "Inconsistent model header (kind %u, flags %u, %u features, %u classes, "
                   "%u heads, %u hidden)", kind, flags, n_features, n_classes, n_heads, hidden);
      return FALSE;
    }
  n_params = count_params (kind, n_features, (guint64) n_classes + n_heads, hidden);
  if ((size - MODEL_HEADER_LEN) / 4 != n_params || (size - MODEL_HEADER_LEN) % 4 != 0)
    {
      g_set_error (error, VETO_MODEL_ERROR, VETO_MODEL_ERROR_FORMAT,
                   "Model data holds %" G_GSIZE_FORMAT " bytes of weights, its header "
                   "announces %" G_GUINT64_FORMAT " weights", size - MODEL_HEADER_LEN, n_params);
      return FALSE;
    }

  model = model_alloc (kind, n_features, n_classes, n_heads, hidden);
  for (gsize i = 0; i < model->n_params; i++)
    {
      guint32 bits = get_u32 (data + MODEL_HEADER_LEN + 4 * i);

      memcpy (&model->params[i], &bits, 4);
      if (!isfinite (model->params[i]))
        {
          g_set_error (error, VETO_MODEL_ERROR, VETO_MODEL_ERROR_FORMAT,
                       "Model weight %" G_GSIZE_FORMAT " is not finite", i);
          return FALSE;
        }
    }
  model->has_weights = (flags & MODEL_FLAG_HAS_WEIGHTS) != 0;
  *out_model = g_steal_pointer (&model);
  return TRUE;
}
