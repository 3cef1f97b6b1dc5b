/* veto-sim: composes store + features + model + loss: a project's dataset, training and evaluation. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "veto-active.h"
#include "veto-features.h"
#include "veto-loss.h"
#include "veto-model.h"
#include "veto-rng.h"
#include "veto-store.h"

G_BEGIN_DECLS

/* Every item of a project as a row of a feature matrix, with its split and gold label. */
typedef struct _VetoDataset VetoDataset;

/* Features come from the project's cache when their key matches, else they are extracted (and
 * cached unless the project was opened read-only). "npy:PATH" reads embeddings computed
 * elsewhere, one row per item in import order. progress may be NULL. */
VetoDataset *veto_dataset_load (VetoStore *store, const char *features, gboolean cache,
                                VetoProgressFunc progress, gpointer progress_data,
                                GCancellable *cancellable, GError **error);
void veto_dataset_free (VetoDataset *dataset);
guint veto_dataset_get_n (const VetoDataset *dataset);
guint veto_dataset_get_dim (const VetoDataset *dataset);
guint veto_dataset_get_n_classes (const VetoDataset *dataset);
const char *veto_dataset_get_class_name (const VetoDataset *dataset, guint index);
const float *veto_dataset_get_features (const VetoDataset *dataset);
const char *veto_dataset_get_features_key (const VetoDataset *dataset);
/* Rows of a split, in item order (borrowed). */
const guint *veto_dataset_get_split (const VetoDataset *dataset, VetoSplit split, guint *out_n);
/* The gold class index of a row, or -1. */
gint veto_dataset_get_gold (const VetoDataset *dataset, guint row);
/* The split a row belongs to. */
VetoSplit veto_dataset_get_row_split (const VetoDataset *dataset, guint row);
/* The row of an item id, or -1. */
gint veto_dataset_row_of_item (const VetoDataset *dataset, gint64 item_id);
gint64 veto_dataset_item_of_row (const VetoDataset *dataset, guint row);
gint64 veto_dataset_class_id (const VetoDataset *dataset, guint index);
gint veto_dataset_class_index (const VetoDataset *dataset, gint64 class_id);
/* Re-reads the project's classes after one was added (classes are only ever appended, so the
 * class indexes of the gold labels stay valid); the features are kept. */
gboolean veto_dataset_refresh_classes (VetoDataset *dataset, VetoStore *store, GError **error);

typedef enum
{
  VETO_SUPERVISION_GOLD,          /* the pool's gold labels: a ceiling */
  VETO_SUPERVISION_ANSWERS,       /* what annotators answered */
  VETO_SUPERVISION_SYNTHETIC_CL,  /* complementary labels drawn from gold through Q */
} VetoSupervision;

gboolean veto_supervision_from_string (const char *text, VetoSupervision *out_supervision);

/* Answers on gold anchors per class before the annotators' models replace the uniform one: K²
 * weights need evidence, and a model fitted to a few dozen answers made the early rounds worse
 * (docs/simulate.md: the demo's 1,000 answers, 50 of them anchors). */
#define VETO_SIM_MIN_ANCHORS_PER_CLASS 10

/* Complementary answers before, short of the anchors' fit (fewer than
 * VETO_SIM_MIN_ANCHORS_PER_CLASS per class, none at all included), the annotator model is the
 * uniform one refined by EM over every answer through cross-fitted classifiers, the anchors
 * with their gold class (docs/simulate.md: "Before the anchors' fit"). 200 is what it was
 * measured with: simulate's --init. */
#define VETO_SIM_MIN_ANSWERS_FOR_EM 200

/* What scores a model on held-out synthetic complementary labels (no gold): both need only
 * the CLs and the transition matrix Q they were drawn through (the loss's Q: --q, estimated,
 * or uniform). */
typedef enum
{
  VETO_CL_CRITERION_URE,  /* the unbiased estimate of the 0-1 risk of argmax p,
                             mean (Q^-1 l)_cl with l_j = [argmax p != j] (veto_loss_ure_risk ()):
                             its expectation is the error rate on the true labels */
  VETO_CL_CRITERION_SCEL, /* mean -log((p^T Q)_cl) (veto_loss_scel ()), libcll's default: lower
                             variance, but a likelihood rather than an error rate */
} VetoClCriterion;

gboolean veto_cl_criterion_from_string (const char *text, VetoClCriterion *out_criterion);
/* "ure-01" or "scel" */
const char *veto_cl_criterion_to_string (VetoClCriterion criterion);

typedef struct
{
  VetoModelKind model;
  guint hidden;
  VetoSupervision supervision;
  VetoLossComplementary cl_loss;
  const double *q;        /* K×K transition used to draw synthetic CLs; NULL: uniform */
  guint per_item;         /* synthetic CLs per pool item (distinct) */
  guint estimate_q_from;  /* > 0: estimate Q for the loss from this many pool items' gold + CLs */
  double q_smoothing;     /* α of Q = αU + (1−α)Q̂ when estimating (default 0.5) */
  gboolean loss_uses_true_q; /* FWD / URE / CPE-F use q itself (when not estimating) */
  guint64 seed;
  VetoModelTrainOptions train; /* max_epochs 0: sized from the number of items */
  VetoModel *warm_start;  /* optional: weights to continue from (copied); ignored when its
                             shape no longer fits (a class or a criterion was added since) */
  const char *annotator;  /* answers: only this annotator's (NULL: everyone's) */
  const double *annotator_model; /* K×K Luce weights A[y][c] of the candidate-aware loss
                                    (veto_loss_fit_annotator ()) for every answer; NULL: when
                                    fit_annotator, one model per annotator
                                    (veto_loss_fit_annotators (): pooled, and each person's own
                                    once they have enough) fitted to the answers on gold anchors
                                    (the campaigns' anchors and questions asked with strategy
                                    "anchor") once there are VETO_SIM_MIN_ANCHORS_PER_CLASS per
                                    class, each answer using its annotator's; before, the
                                    uniform annotator. With the candidate-aware loss the pooled
                                    model is then refined by EM over every complementary answer
                                    (veto_sim_refine_annotator_model ()) and each own model
                                    refitted towards it; short of the anchors' fit, the
                                    uniform model so refined, for everyone, once there are
                                    VETO_SIM_MIN_ANSWERS_FOR_EM. With answers, FWD without q
                                    takes each answer's Q from its model
                                    (veto_loss_annotator_transition (), as many classes shown as
                                    the answers saw); no model: the uniform Q */
  gboolean fit_annotator; /* default TRUE */
  double holdout;         /* answers: share of the items whose complementary answers are held
                             out of training, and when > 0 every answer asked as a gold anchor
                             (strategy "anchor") too; they choose the epoch when the validation
                             split has no gold, and give the accuracy estimate. Synthetic CLs:
                             share of the pool items whose drawn CLs are held out (the same
                             items and CLs for every setting of one seed), scored by
                             cl_criterion */
  VetoClCriterion cl_criterion; /* synthetic CLs held out: default VETO_CL_CRITERION_URE */
  guint folds;            /* ≥ 2 (holdout 0): the pool items are cut into this many folds by
                             the hash holdout uses (h = item id × 2654435761 mod 2^64, fold
                             ⌊(h mod 1000)·folds / 1000⌋) and fold `fold` is held out: its
                             synthetic CLs, or with answers its complementary answers (which
                             then choose the epoch, as a holdout's do) and every other answer
                             about its items (which are dropped). veto_sim_train_select ()
                             trains every fold in turn (synthetic CLs). 0: no folds */
  guint fold;             /* the fold held out, 0 ≤ fold < folds */
} VetoTrainSpec;

void veto_train_spec_init (VetoTrainSpec *spec);

typedef struct
{
  guint train_size;        /* items with at least one training term */
  guint n_terms;
  double train_seconds;
  guint epochs;
  double final_loss;
  double *q_used;          /* K×K the loss used (FWD/URE/CPE-F), or NULL; owned */
  guint anchor_answers;    /* answers on gold anchors (the campaigns' anchors and questions
                              asked as anchors) for the annotators' models (fitted once there
                              are VETO_SIM_MIN_ANCHORS_PER_CLASS per class) */
  guint annotators_fitted; /* annotators with a model of their own (the others use the pooled
                              one: veto_loss_fit_annotators ()) */
  double *annotator_model; /* K×K: the pooled choice model fitted to the gold anchors for the
                              loss (NULL while there are too few, or when spec->annotator_model
                              was given); owned. The engine asks its informative questions
                              with it when the person asked has no model of their own */
  gint64 *own_annotators;  /* annotators_fitted store ids: who has a model of their own (NULL
                              when nobody has); owned */
  double *own_models;      /* annotators_fitted K×K: their own models (pulled towards the
                              pooled one), in the order of own_annotators; owned. The engine
                              asks each of them with theirs */
  const char *validation;  /* what chose the epoch: "gold" (the validation split), "answers"
                              (held-out complementary answers, their candidate-aware
                              likelihood), "ure-01" or "scel" (held-out synthetic CLs,
                              VetoClCriterion) or "none" (the last epoch); static */
  double validation_score; /* that criterion's value for the kept weights (lower is better:
                              gold and ure-01 are error rates); NAN for "none" */
  guint best_epoch;        /* the epoch whose weights were kept (an average's last one) */
  guint averaged_epochs;   /* epochs averaged into the kept weights (train.average_epochs) */
  guint held_out;          /* answers or synthetic CLs held out of training (with folds: of
                              every fold, that is every CL once) */
  guint folds;             /* veto_sim_train_select () with spec.folds: the folds trained, and
                              validation_score is the mean of their kept weights' scores */
  double *fold_scores;     /* folds scores, fold by fold; owned; NULL without folds */
  double validation_se;    /* the fold scores' standard error (their standard deviation over
                              √folds); NAN without folds */
  /* Without the validation split's gold, from what a deployment has (NAN without held-out
   * answers): when answers asked as gold anchors (strategy "anchor") are held out (every one is
   * when holdout > 0), their items' gold labels, which the model never trained on, made more
   * precise by its confidence (prediction-powered: the pool's mean top probability plus the
   * anchors' mean of right − top probability), with a 95% normal interval (estimated_from
   * "anchors"); else the model's mean top probability over the pool after its temperature is
   * fitted to the held-out answers' likelihood ("answers", no interval, off by up to 0.2 on
   * the human profile). With held-out synthetic CLs: one minus their URE estimate of the 0-1
   * risk, with a 95% normal interval (estimated_from "cls"; unbiased for a model chosen
   * without them, a little optimistic for the epoch or setting they chose). estimated_from is
   * "none" without an estimate; static. */
  double estimated_accuracy;
  double estimated_accuracy_low;
  double estimated_accuracy_high;
  const char *estimated_from;
  guint estimate_items;    /* the anchors, or the held-out answers, behind it */
} VetoTrainResult;

void veto_train_result_clear (VetoTrainResult *result);
/* Adds the annotator models a training used to a JSON object being built (a round's metrics,
 * `train --json`): annotator_model, the pooled K × K Luce weights (rows = gold class), and
 * own_annotator_models, [{ annotator_id, weights }] for each person with a model of their own;
 * each only when there is one. */
void veto_train_result_add_annotator_models (const VetoTrainResult *result, guint n_classes,
                                             JsonBuilder *builder);

/* The annotator models a round's metrics carry (veto_train_result_add_annotator_models ()),
 * read back for a project of n_classes classes. */
typedef struct
{
  double *pooled;        /* K × K; NULL: none, or a round trained before classes were added
                            (fewer rows) */
  GArray *own_ids;       /* gint64: the people with a model of their own (NULL with pooled) */
  GPtrArray *own_models; /* double *, K × K each, in the order of own_ids */
} VetoRoundAnnotatorModels;

void veto_round_annotator_models_clear (VetoRoundAnnotatorModels *models);
/* The round's own model of annotator_id (K × K), NULL when it has none of them. */
const double *veto_round_annotator_models_find (const VetoRoundAnnotatorModels *models,
                                                gint64 annotator_id);
/* Fails (VETO_STORE_ERROR_CORRUPT, the message starting with the member's name) when
 * annotator_model is not a square matrix of positive weights with at most n_classes rows, or
 * own_annotator_models is not a list of { annotator_id, K × K positive weights }: a project from
 * someone else is read, not trusted. */
gboolean veto_round_annotator_models_read (JsonObject *metrics, guint n_classes,
                                           VetoRoundAnnotatorModels *out, GError **error);

/* Trains a new model (or continues spec->warm_start) on the dataset's pool. */
VetoModel *veto_sim_train (VetoStore *store, const VetoDataset *dataset, const VetoTrainSpec *spec,
                           VetoTrainResult *out_result, GCancellable *cancellable,
                           GError **error);

/* Class probabilities for pool rows from classifiers that never trained on those rows'
 * answers (cross-fitting, Chernozhukov et al. 2018): the items are cut in two by the hash of
 * spec->folds, a model is trained with spec on each half's answers (the other half's held out
 * choose its epoch) and scores the rows of the half it did not see. spec->annotator_model is
 * the loss's model for every answer (fit_annotator is ignored). The priors of the annotator
 * model's EM (veto_loss_fit_annotator_em ()): an answer explained by a classifier trained on
 * it would look like the truth. When every row is in one half, they get the uniform
 * distribution; fails when a half with rows to score has nothing to train on. out_probs:
 * n_rows × K. */
gboolean veto_sim_cross_fitted_probs (VetoStore *store, const VetoDataset *dataset,
                                      const VetoTrainSpec *spec, const guint *rows, guint n_rows,
                                      float *out_probs, GCancellable *cancellable,
                                      GError **error);

/* An annotator model io_a (K × K Luce weights) refined by EM over every answer
 * (veto_loss_fit_annotator_em (), a few rounds) through classifiers that never trained on the
 * answers they explain: obs[t] is an answer about item item_of[t] of n_items; item i's prior is
 * its gold class when gold[i] >= 0, else the p of pool row rows[i] (-1: none, for gold items
 * only) from veto_sim_cross_fitted_probs () with spec (answers supervision, io_a as the loss's
 * model). The estimated model of simulate, the engine and train (docs/simulate.md): a
 * classifier trained on the answers it explains makes its own mistakes look like the
 * annotator's habits. Fails when an item has neither gold nor a row, or a half cannot train. */
gboolean veto_sim_refine_annotator_model (VetoStore *store, const VetoDataset *dataset,
                                          const VetoTrainSpec *spec,
                                          const VetoLossChoiceObservation *obs,
                                          const guint *item_of, guint n_obs, const gint *rows,
                                          const gint *gold, guint n_items, double *io_a,
                                          GCancellable *cancellable, GError **error);

/* One setting of a model selection: the dataset (its features) and the spec to train with.
 * veto_sim_train_select () fills model and result. */
typedef struct
{
  const VetoDataset *dataset;
  VetoTrainSpec spec;
  VetoModel *model;        /* owned; NULL until trained */
  VetoTrainResult result;
} VetoTrainCandidate;

void veto_train_candidate_clear (VetoTrainCandidate *candidate);

/* Model selection without gold: trains every candidate (each one's validation must not be
 * "none": a holdout or a validation split) and sets *out_best to the one whose kept weights
 * score lowest on its validation (the first of equals). The candidates must be scored by the
 * same criterion on the same held-out data (same holdout, seed, q and items); fails otherwise,
 * or when one fails to train. With spec.folds ≥ 2 (k-fold cross-validation, synthetic CLs),
 * each candidate is trained once per fold with that fold held out, and scored by the mean
 * over folds (result.fold_scores, validation_se; best_epoch the folds' mean kept epoch,
 * rounded; the accuracy estimate one minus the mean, its interval from the folds' own);
 * the candidate's model is the one trained with fold 0 held out. */
gboolean veto_sim_train_select (VetoStore *store, VetoTrainCandidate *candidates, guint n,
                                guint *out_best, GCancellable *cancellable, GError **error);

typedef struct
{
  guint n;                 /* rows with a gold label */
  guint n_classes;
  double accuracy;
  double ece;
  double *per_class_accuracy; /* K; NAN for a class with no row */
  guint *confusion;        /* K×K counts, rows = gold, columns = predicted */
} VetoEvaluation;

void veto_evaluation_clear (VetoEvaluation *evaluation);
/* Scores a split against its gold labels; cpe_q set: decode predictions by CPE (argmin_k
 * ||pᵀQ − Q_k||₁) instead of argmax. */
gboolean veto_sim_evaluate (const VetoDataset *dataset, const VetoModel *model, VetoSplit split,
                            const double *cpe_q, VetoEvaluation *out_evaluation, GError **error);

/* Chooses batch of the n dataset rows `rows` by strategy. probs (n × K) are the model's
 * probabilities for those rows; labeled (n_labeled dataset rows) are the rows answered already,
 * which coreset and diversity keep away from. The model's penultimate layer is computed when
 * the strategy (or options->diversity) needs a space. correctness (n, or NULL) is how likely a
 * teacher is right on each row: distill needs it and is refused without. out_indices (batch)
 * index `rows`, most wanted first; out_scores may be NULL. */
gboolean veto_sim_select_batch (const VetoDataset *dataset, const VetoModel *model,
                                VetoActiveStrategy strategy, const VetoActiveOptions *options,
                                const guint *rows, guint n, const float *probs,
                                const float *correctness, const guint *labeled, guint n_labeled,
                                guint batch, guint *out_indices, double *out_scores,
                                GError **error);

/* --- simulated annotators (veto-sim-annotator.c) --- */

typedef enum
{
  VETO_SIM_ORDINARY,  /* answers the true class, or a uniformly wrong one at rate noise */
  VETO_SIM_UNIFORM,   /* complementary: a uniformly chosen shown class other than the true one */
  VETO_SIM_NOISY,     /* complementary: like uniform, but answers the true class (when shown) at
                         rate rho */
  VETO_SIM_BIASED,    /* complementary: follows a measured transition matrix */
  VETO_SIM_TEACHER,   /* soft labels: a teacher's probabilities */
} VetoSimKind;

typedef struct _VetoSimAnnotator VetoSimAnnotator;

/* PROFILE is "ordinary[:noise=R]", "uniform", "noisy[:rho=R]", "human" (CLImage's human
 * annotators of CLCIFAR10, for 10 classes: veto_sim_human_profile ()), "biased:FILE" (a K×K
 * matrix T[true][answer] measured under the CLImage protocol: n_candidates uniform candidates)
 * or "teacher". */
VetoSimAnnotator *veto_sim_annotator_new (const char *profile, guint n_classes,
                                          guint n_candidates, GError **error);
/* The 10×10 T[true][CL] of the "human" profile (data/profiles/human_cifar10_T.txt). */
const double *veto_sim_human_profile (void);

/* Largest |E - T| a biased profile's fitted choice model may leave on any entry of T. */
#define VETO_SIM_PROFILE_TOLERANCE 0.01

/* A biased annotator from a matrix already in memory (K×K, rows = true class). Fails, naming
 * the row, when no choice model over n_candidates uniform candidates reproduces T within
 * VETO_SIM_PROFILE_TOLERANCE. */
VetoSimAnnotator *veto_sim_annotator_new_biased (const double *t, guint n_classes,
                                                 guint n_candidates, GError **error);
void veto_sim_annotator_free (VetoSimAnnotator *annotator);
VetoSimKind veto_sim_annotator_get_kind (const VetoSimAnnotator *annotator);
const char *veto_sim_annotator_get_profile (const VetoSimAnnotator *annotator);
/* noise of an ordinary annotator, rho of a noisy one; 0 for the others */
double veto_sim_annotator_get_rate (const VetoSimAnnotator *annotator);
/* Its preference matrix A (K×K): P(answer c | true y, shown S) = A[y][c] / Σ_{s∈S} A[y][s]. For
 * a biased annotator A is fitted so that, under the protocol T was measured with, its answers
 * reproduce T; under any other candidate rule it answers from the same A restricted to S. */
const double *veto_sim_annotator_get_preferences (const VetoSimAnnotator *annotator);

/* Answers draw from the caller's seeded veto-rng stream, so one seed reproduces a run. */
guint veto_sim_annotator_answer_ordinary (VetoSimAnnotator *annotator, VetoRng *rng, guint truth);
guint veto_sim_annotator_answer_complementary (VetoSimAnnotator *annotator, VetoRng *rng,
                                               guint truth, const guint *shown, guint n_shown);

/* --- the headless active-learning loop (veto-sim-loop.c) --- */

typedef enum
{
  VETO_SIM_MODE_ORDINARY,
  VETO_SIM_MODE_COMPLEMENTARY,
  VETO_SIM_MODE_PREFERENCE,
  VETO_SIM_MODE_AGCD,
  VETO_SIM_MODE_DISTILL,
} VetoSimMode;

gboolean veto_sim_mode_from_string (const char *text, VetoSimMode *out_mode);
const char *veto_sim_mode_to_string (VetoSimMode mode);

/* What the candidate-aware loss assumes of a simulated complementary annotator. */
typedef enum
{
  VETO_SIM_MODEL_ESTIMATED, /* fitted each round to the answers on gold anchors
                               (veto_loss_fit_annotator_cv ()) once there are 10 per class, then
                               refined by EM over every answer, each item's prior from a
                               classifier that never trained on its answers
                               (veto_sim_cross_fitted_probs ()), as the engine's; the uniform
                               model before */
  VETO_SIM_MODEL_ORACLE,    /* the simulated annotator's own weights: a reference row only */
  VETO_SIM_MODEL_UNIFORM,   /* every wrong class alike, the truth at the default noise floor */
  VETO_SIM_MODEL_ANCHORS,   /* the fit to the gold anchors alone, without the EM: a reference
                               row (the estimated model until stop 19) */
} VetoSimAnnotatorModel;

gboolean veto_sim_annotator_model_from_string (const char *text,
                                               VetoSimAnnotatorModel *out_model);
const char *veto_sim_annotator_model_to_string (VetoSimAnnotatorModel model);

typedef struct
{
  VetoSimMode mode;
  VetoActiveStrategy strategy;
  VetoActiveOptions active;        /* seed is set per run */
  guint budget;                    /* answers in all, init included */
  guint batch;
  guint init;                      /* random answers before the first model */
  guint64 seed;
  const char *annotator;           /* profile, see veto_sim_annotator_new () */
  VetoActiveCandidateRule candidates;
  guint n_candidates;              /* K shown in a complementary question (CLImage: 4) */
  guint novel;                     /* agcd: classes hidden at the start */
  gboolean agcd_rule;              /* agcd: select by the AGCD rule rather than strategy */
  VetoTrainSpec train;             /* model, loss, epochs; supervision is set by the loop */
  VetoSimAnnotatorModel annotator_model; /* complementary: the loss's annotator model */
  double anchors;                  /* complementary: share of each batch (and of init) asked about
                                      gold anchors (random items, uniform candidates) to fit that
                                      model; anchors count in the budget and train like any answer */
  double holdout;                  /* complementary: share of items whose answers are held out of
                                      training to choose the epoch and estimate the accuracy */
} VetoSimConfig;

void veto_sim_config_init (VetoSimConfig *config);

/* One evaluation point of a run, after a round. */
typedef struct
{
  guint round;
  guint answers;
  double test_accuracy;
  double seconds;        /* since the run started */
  double metric[3];      /* the mode's own: agcd All / Old / New; distill teacher-wrong share */
  double coverage;       /* agcd: share of novel classes hit by a query so far */
  /* agcd, the previous round's queries (NAN before any): the share of novel classes among them
   * (ActiveGCD's novel ratio), and how evenly those novel queries spread over the novel classes
   * (their class entropy over log of the number of novel classes: 1 even, 0 all one class) */
  double novel_ratio;
  double novel_uniformity;
  double estimated_accuracy; /* without the test split (VetoTrainResult); NAN without */
  double estimated_accuracy_low, estimated_accuracy_high; /* its 95% interval, NAN without */
  const char *estimated_from; /* VetoTrainResult.estimated_from */
  const char *validation;    /* what chose the round's model (VetoTrainResult) */
  /* complementary: how far the loss's annotator model is from the simulated annotator's own
   * weights, mean |Â[y][c] − A[y][c]| over every entry, each row scaled so that its wrong
   * classes average 1 (a Luce row means the same at any scale); the uniform model when none */
  double annotator_error;
} VetoSimPoint;

typedef void (*VetoSimPointFunc) (gpointer user_data, const VetoSimPoint *point);

/* Runs one strategy for one seed on the project, writing every simulated answer to the store
 * under an annotator of kind "simulated" named after the run. */
gboolean veto_sim_run (VetoStore *store, const VetoDataset *dataset, const VetoSimConfig *config,
                       VetoSimPointFunc on_point, gpointer user_data, GCancellable *cancellable,
                       GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoSimAnnotator, veto_sim_annotator_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoDataset, veto_dataset_free)

G_END_DECLS
