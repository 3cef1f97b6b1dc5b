/* Classifiers on feature matrices: softmax regression and MLP, AdamW trainer, save/load. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define VETO_MODEL_ERROR (veto_model_error_quark ())

typedef enum
{
  VETO_MODEL_ERROR_FORMAT,    /* saved bytes are not a model, truncated or inconsistent */
  VETO_MODEL_ERROR_VERSION,   /* saved by a newer Veto */
  VETO_MODEL_ERROR_OBJECTIVE, /* a training callback broke its contract */
  VETO_MODEL_ERROR_DIVERGED,  /* the loss or the weights stopped being finite */
} VetoModelError;

typedef enum
{
  VETO_MODEL_KIND_SOFTMAX, /* outputs = x W + b */
  VETO_MODEL_KIND_MLP,     /* outputs = relu (x W1 + b1) W2 + b2 */
} VetoModelKind;

#define VETO_MODEL_DEFAULT_HIDDEN 256

typedef struct _VetoModel VetoModel;

/* Fill out_rows with the feature-matrix rows to forward for this minibatch of units (units plus
 * any partner rows their terms need), no duplicates; return how many (<= max_rows). */
typedef guint (*VetoGatherFunc) (gpointer objective, const guint *units, guint n_units,
                                 guint *out_rows, guint max_rows);
/* Given outputs (n_rows × n_outputs) for `rows`, return the minibatch loss and write
 * dL/doutputs (zeroed first by the callee) into out_grad (n_rows × n_outputs). */
typedef double (*VetoBatchLossFunc) (gpointer objective, const guint *units, guint n_units,
                                     const guint *rows, guint n_rows, const float *outputs,
                                     guint n_outputs, float *out_grad);
/* Validation score of the current model, lower is better (e.g. validation error); optional. */
typedef double (*VetoValidateFunc) (gpointer user_data, VetoModel *model);
/* Called after every epoch with the mean minibatch loss and the validation score (NAN without
 * a validate callback). */
typedef void (*VetoTrainProgressFunc) (gpointer user_data, guint epoch, double loss, double score);

typedef enum
{
  VETO_LR_CONSTANT,
  VETO_LR_COSINE, /* annealed from learning_rate to 0 over max_epochs */
} VetoLearningRateSchedule;

typedef enum
{
  VETO_SOLVER_ADAMW, /* minibatch AdamW, any model */
  VETO_SOLVER_LBFGS, /* full-batch L-BFGS on loss + l2 / 2 · |W|² (weights only): a softmax
                      * only (convex under cross-entropy), an mlp still gets AdamW */
} VetoSolver;

typedef struct
{
  VetoSolver solver;   /* default AdamW */
  double l2;           /* L-BFGS: the L2 penalty on the weights (weight_decay is AdamW's) */
  double learning_rate;
  VetoLearningRateSchedule schedule; /* default constant */
  double beta1;
  double beta2;
  double epsilon;
  double weight_decay; /* decoupled (AdamW), on weight matrices only, not on biases */
  guint batch_size;    /* units per minibatch */
  guint max_epochs;    /* L-BFGS: the most iterations (each one a full-batch pass or more) */
  guint patience;      /* stop after this many epochs without a better validation score; 0: never */
  gboolean keep_last;  /* keep the last epoch's weights, not the best-scoring epoch's: every
                        * epoch runs (patience unused) and the score is the kept weights' */
  guint average_epochs; /* > 0: keep the mean of the weights at the ends of the last N epochs
                         * (tail / Polyak averaging, as SWA; implies keep_last); the score
                         * is the average's. AdamW only: L-BFGS keeps its converged weights */
  guint64 seed;        /* initial weights of a fresh model and the shuffles */
  VetoValidateFunc validate;
  gpointer validate_data;
  VetoTrainProgressFunc progress;
  gpointer progress_data;
} VetoModelTrainOptions;

typedef struct
{
  guint epochs;     /* epochs run (L-BFGS: iterations) */
  guint best_epoch; /* epoch whose weights were kept (the last one without validate or with
                     * keep_last; an average's is its last epoch) */
  guint averaged;   /* epochs whose weights were averaged into the kept ones (0: none) */
  double loss;      /* mean minibatch loss of the last epoch run */
  double score;     /* validation score of the kept weights, NAN without validate */
} VetoModelTrainReport;

GQuark       veto_model_error_quark        (void);

const char  *veto_model_kind_to_string     (VetoModelKind kind);
gboolean     veto_model_kind_from_string   (const char    *name,
                                            VetoModelKind *out_kind);

/* hidden is the mlp's width (0: VETO_MODEL_DEFAULT_HIDDEN), ignored for softmax. The new
 * model has no weights yet: training or veto_model_init_weights gives it some; until then its
 * outputs are its zero biases (uniform probabilities). */
VetoModel   *veto_model_new                (VetoModelKind kind,
                                            guint         n_features,
                                            guint         n_classes,
                                            guint         n_heads,
                                            guint         hidden);
VetoModel   *veto_model_copy               (const VetoModel *model);
void         veto_model_free               (VetoModel *model);

VetoModelKind veto_model_get_kind          (const VetoModel *model);
guint        veto_model_get_n_features     (const VetoModel *model);
guint        veto_model_get_n_classes      (const VetoModel *model);
guint        veto_model_get_n_heads        (const VetoModel *model);
guint        veto_model_get_n_outputs      (const VetoModel *model);
guint        veto_model_get_hidden         (const VetoModel *model);
guint        veto_model_get_embedding_dim  (const VetoModel *model);
gboolean     veto_model_has_weights        (const VetoModel *model);

/* The parameters as one vector: W1 (n_features × w, row-major), b1 (w), then for an mlp
 * W2 (hidden × n_outputs), b2 (n_outputs); w is hidden for an mlp, n_outputs for softmax. */
gsize        veto_model_get_n_params       (const VetoModel *model);
const float *veto_model_get_params         (const VetoModel *model);
void         veto_model_set_params         (VetoModel   *model,
                                            const float *params,
                                            gsize        n_params);
void         veto_model_init_weights       (VetoModel *model,
                                            guint64    seed);

void         veto_model_forward            (const VetoModel *model,
                                            const float     *X,
                                            guint            n,
                                            guint            d,
                                            float           *out_outputs);
void         veto_model_forward_rows       (const VetoModel *model,
                                            const float     *X,
                                            guint            n,
                                            guint            d,
                                            const guint     *rows,
                                            guint            n_rows,
                                            float           *out_outputs);
void         veto_model_outputs_to_proba   (const VetoModel *model,
                                            const float     *outputs,
                                            guint            n,
                                            float           *out_probs);
void         veto_model_predict_proba      (const VetoModel *model,
                                            const float     *X,
                                            guint            n,
                                            guint            d,
                                            float           *out_probs);
/* The penultimate layer, n × embedding_dim: the hidden ReLU layer of an mlp, the input of a
 * softmax. */
void         veto_model_embed              (const VetoModel *model,
                                            const float     *X,
                                            guint            n,
                                            guint            d,
                                            float           *out_embedding);

/* Training starts from the model's weights when it has some (warm start), else from
 * veto_model_init_weights (options->seed). With a validate callback the weights of the best
 * epoch are kept unless keep_last or average_epochs (AdamW; L-BFGS runs to convergence and
 * reports the final score). On failure
 * (error, cancellation, divergence) the model is left as it came. */
void         veto_model_train_options_init (VetoModelTrainOptions *options);
/* dL/dparams (n_params, laid out as the parameters) of one minibatch, without a step. */
gboolean     veto_model_compute_gradients  (const VetoModel  *model,
                                            const float      *X,
                                            guint             n,
                                            guint             d,
                                            gpointer          objective,
                                            VetoGatherFunc    gather,
                                            VetoBatchLossFunc batch_loss,
                                            const guint      *units,
                                            guint             n_units,
                                            float            *out_grad,
                                            double           *out_loss,
                                            GError          **error);
gboolean     veto_model_train              (VetoModel                   *model,
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
                                            GError                     **error);

GBytes      *veto_model_save               (const VetoModel *model);
gboolean     veto_model_load               (GBytes     *bytes,
                                            VetoModel **out_model,
                                            GError    **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoModel, veto_model_free)

G_END_DECLS
