/* veto-loss.h: every loss of the objective, its gradient on the model outputs, CL validation. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Conventions shared by every function below.
 *
 * A batch is n_rows model output rows, row-major, n_outputs floats each: the first
 * n_classes (K) are class logits f(x), the next H are scalar preference heads r_h(x),
 * one per criterion (H = n_outputs - K, possibly 0). p = softmax(first K).
 *
 * Each veto_loss_<name>() computes in double, returns weight * L where L is the mean
 * described in its comment (0 when there are no terms), and ADDS weight * dL/doutputs
 * into batch->grad (which may be NULL to evaluate only). Terms name batch rows by
 * index. Log-probabilities are always taken through a log-sum-exp, never log(p).
 *
 * Matrices that are model parameters (Q, Q^-1, the annotator matrix A, proportions)
 * are double, K x K row-major; a NULL matrix means the uniform one stated in its
 * comment. Per-row data (outputs, probabilities, teacher targets) are float.
 */

#define VETO_LOSS_ERROR (veto_loss_error_quark ())

typedef enum
{
  VETO_LOSS_ERROR_INVALID,
  VETO_LOSS_ERROR_SINGULAR,
} VetoLossError;

GQuark veto_loss_error_quark (void);

/* Number of equal-width confidence bins of veto_loss_ece() (as Guo et al. 2017). */
#define VETO_LOSS_ECE_BINS 15

/* Default noise floor of the uniform annotator: A[y][y] = epsilon, 1 elsewhere. */
#define VETO_LOSS_DEFAULT_EPSILON 1e-3

/* Writes the uniform annotator's K×K weights (VETO_LOSS_DEFAULT_EPSILON on the diagonal, 1
 * elsewhere) to out_a: where EM without gold starts. */
void veto_loss_uniform_annotator (guint k, double *out_a);

typedef struct
{
  const float *outputs; /* n_rows x n_outputs */
  float *grad;          /* n_rows x n_outputs, accumulated into; NULL: value only */
  guint n_rows;
  guint n_outputs;
  guint n_classes;
} VetoLossBatch;

/* An ordinary label, or one complementary label (CL), of one row. */
typedef struct
{
  guint row;
  guint label;
} VetoLossLabel;

/* A CL chosen among the classes shown: cl must be in shown[]; n_shown == 0 means all K. a: the
 * annotator model of this answer (K×K, see veto_loss_candidate ()), NULL: the one the loss is
 * called with. */
typedef struct
{
  guint row;
  guint cl;
  const guint *shown;
  guint n_shown;
  const double *a;
} VetoLossChoice;

/* The set of distinct CLs given to one row (duplicates in cls[] count once). */
typedef struct
{
  guint row;
  const guint *cls;
  guint n_cls;
} VetoLossSet;

/* Preference between two rows on head `head`: target 1 = a preferred, 0 = b, 0.5 = tie.
 * shared_label >= 0 when both rows have that task class (enables the consistency hinge). */
typedef struct
{
  guint row_a;
  guint row_b;
  guint head;
  double target;
  gint shared_label;
} VetoLossPair;

/* A bag of rows and the target class proportions pi (K, sums to 1). */
typedef struct
{
  const guint *rows;
  guint n_rows;
  const double *proportions;
} VetoLossBag;

/* A teacher's soft label (K probabilities) for one row. */
typedef struct
{
  guint row;
  const float *target;
} VetoLossSoft;

/* Cross-entropy -log p_y; mean over terms. */
double veto_loss_cross_entropy (const VetoLossBatch *batch, const VetoLossLabel *terms,
                                guint n_terms, double weight);

/* SCL-NL -log(1 - p_cl); mean over terms. Needs K >= 2. */
double veto_loss_scl_nl (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
                         double weight);

/* SCL-EXP exp(p_cl); mean over terms. */
double veto_loss_scl_exp (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
                          double weight);

/* Forward correction -log((p^T Q)_cl), Q[y][cl] = P(CL = cl | true y), rows = true class;
 * NULL Q: uniform (0 diagonal, 1/(K-1) elsewhere). Mean over terms. This is also the
 * training loss of CPE-F, which differs from FWD only in decoding (veto_loss_cpe_decode()).
 * A CL whose column of Q is all zero gives +inf. */
double veto_loss_forward (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
                          const double *q, double weight);

/* Unbiased risk estimator of the cross-entropy, (Q^-1 l)_cl with l_j = -log p_j; NULL q_inv:
 * the uniform closed form sum_j l_j - (K-1) l_cl. Mean over terms (may be negative). */
double veto_loss_ure (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
                      const double *q_inv, double weight);

/* The non-negative corrections of Ishida et al. (ICML 2019) split the URE by the class j at
 * which the loss is evaluated: R_j = sum_k prior_k * mean over terms with cl = k of
 * (Q^-1)[k][j] l_j (uniform Q: sum_k prior_k mean_{cl=k} l_j - (K-1) prior_j mean_{cl=j} l_j).
 * Each R_j estimates pi_j E_{x|y=j}[l_j], which is >= 0, so a negative R_j is overfitting.
 * (The authors' code weighs the first term by prior_j rather than prior_k, the same under the
 * uniform CL prior they assume, and scales the ascent step by each CL class's count.)
 * priors: the CL class prior (K, from the whole training set); NULL: the fraction of these
 * terms with each CL, so that sum_j R_j is the URE mean. Fills out_risks (K) with R. */
void veto_loss_ure_partial_risks (const VetoLossBatch *batch, const VetoLossLabel *terms,
                                  guint n_terms, const double *q_inv, const double *priors,
                                  double *out_risks);

/* URE-NN: sum_j max(R_j, 0) with its gradient (classes with R_j <= 0 drop out). */
double veto_loss_ure_nn (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
                         const double *q_inv, const double *priors, double weight);

/* URE-GA: when every R_j >= 0, sum_j R_j; otherwise the value and gradient of
 * -sum_{R_j < 0} R_j, so a descent step raises the negative partial risks (gradient ascent).
 * The authors' code ascends on -sum_{R_j < 0} n_j R_j instead, n_j the minibatch's count of
 * CL j (about batch / K): that ties the ascent's strength to the batch size, and measured on
 * Fashion-MNIST (one uniform CL per item) it was no better with their own settings (softmax
 * 0.769 against 0.775, MLP 0.787 against 0.784) and ruins a run at our default rate (0.127
 * against 0.677). Comparison with their code: docs/ure-ga.md. */
double veto_loss_ure_ga (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
                         const double *q_inv, const double *priors, double weight);

/* Pairwise comparison sum_{k != cl} sigmoid(f_cl - f_k) on raw logits; mean over terms. */
double veto_loss_pairwise_comparison (const VetoLossBatch *batch, const VetoLossLabel *terms,
                                      guint n_terms, double weight);

/* MCL-LOG (K-1)/|S| * -log sum_{j not in S} p_j for a set S of CLs; mean over terms.
 * A set covering every class is contradictory: it adds nothing but still counts in the mean. */
double veto_loss_mcl_log (const VetoLossBatch *batch, const VetoLossSet *terms, guint n_terms,
                          double weight);

/* Candidate-aware likelihood -log sum_y p_y P(cl | y, S), with the annotator model
 * P(cl | y, S) = A[y][cl] / sum_{c in S} A[y][c] (uniform among S when that sum is 0), A the
 * term's own (VetoLossChoice.a) when it has one, else a.
 * NULL A: the uniform annotator, A[y][c] = 1 for c != y and epsilon (the noise floor: how
 * much less often than a wrong class the true class is picked) for c = y. So when y is not
 * shown the annotator picks uniformly among S. Mean over terms. */
double veto_loss_candidate (const VetoLossBatch *batch, const VetoLossChoice *terms,
                            guint n_terms, const double *a, double epsilon, double weight);

/* Bradley-Terry on head h: d = r_h(a) - r_h(b), cross-entropy of sigmoid(d) against the
 * target, t * softplus(-d) + (1-t) * softplus(d). Mean over pairs. */
double veto_loss_bradley_terry (const VetoLossBatch *batch, const VetoLossPair *pairs,
                                guint n_pairs, double weight);

/* P2C consistency hinge for pairs with shared_label y >= 0 and target != 0.5:
 * max(0, margin - s * (p_y(a) - p_y(b))), s = +1 if target > 0.5 else -1, i.e. the
 * classifier's confidence in y should be ordered like the preference. Mean over those
 * eligible pairs only (others are ignored). */
double veto_loss_consistency (const VetoLossBatch *batch, const VetoLossPair *pairs,
                              guint n_pairs, double margin, double weight);

/* Label proportions: KL(pi || mean_i p_i) over the rows of each bag (0 at a perfect fit;
 * classes with pi_k = 0 contribute nothing). Mean over bags. */
double veto_loss_proportion (const VetoLossBatch *batch, const VetoLossBag *bags, guint n_bags,
                             double weight);

/* Distillation KL(t || softmax(f / T)) per row; mean over terms. The gradient is
 * (softmax(f/T) - t) / T: pass weight * T^2 for the scaling of Hinton et al. */
double veto_loss_soft (const VetoLossBatch *batch, const VetoLossSoft *terms, guint n_terms,
                       double temperature, double weight);

/* Helpers on probabilities (n x K float, rows summing to 1). */

/* Inverse of a k x k matrix by Gauss-Jordan with partial pivoting; fails when singular. */
gboolean veto_loss_matrix_invert (const double *m, guint k, double *out_inv, GError **error);

/* One answer to a complementary question, for fitting an annotator's choice model: the set
 * shown, the class answered, and what is known of the item's true class (K probabilities:
 * one-hot for a gold item, a posterior otherwise). */
typedef struct
{
  const guint *shown;
  guint n_shown;
  guint answer;
  const double *truth;
} VetoLossChoiceObservation;

/* Prior of veto_loss_fit_annotator(): the noise weight (A[y][y] against wrong classes at 1)
 * before any evidence; with 4 candidates, 0.1 names the truth 3% of the times it is shown. */
#define VETO_LOSS_PRIOR_NOISE 0.1
#define VETO_LOSS_PRIOR_NOISE_ANSWERS 2.0

/* How many times the cross-validated pull towards uniform veto_loss_fit_annotator_cv () uses.
 * Cross-validation picks the pull that best predicts anchor answers, but the candidate-aware
 * loss pays more for a wrong-class weight that is wrong than for one left near uniform: on the
 * development project (docs/simulate.md), human profile, 6,000 answers, 0.3 times the pull
 * lost 0.070 and 10 times gained 0.039 on seeds 1-10; 3 times gained 0.034 +- 0.012 on seeds
 * 1-30 (0.024 on seeds 11-30, which chose it). */
#define VETO_LOSS_PULL_FACTOR 3.0

/* Fits the Luce choice model P(c | y, S) = A[y][c] / sum_{s in S} A[y][s] to observations by
 * the MM iteration of Hunter (2004), with a Gamma prior worth `strength` answers per entry
 * pulling every wrong-class weight towards 1 (uniform), and one noise weight shared by all
 * classes (A[y][y] = noise: rows seldom see their own truth) pulled towards
 * VETO_LOSS_PRIOR_NOISE by a prior worth VETO_LOSS_PRIOR_NOISE_ANSWERS answers.
 * Fills out_a (K×K); out_noise (may be NULL) gets the share of the answers (weighted by truth)
 * that the fitted model expects to name the true class when it is shown. Fails when an
 * observation names a class outside 0..K-1 or a truth that is not a distribution. */
gboolean veto_loss_fit_annotator (const VetoLossChoiceObservation *obs, guint n, guint n_classes,
                                  double strength, double *out_a, double *out_noise,
                                  GError **error);

/* veto_loss_fit_annotator () pulled VETO_LOSS_PULL_FACTOR times as hard as the strength (1, 2, 5,
 * 10, 20 or 50) whose fits best predict held-out answers (5-fold cross-validation of the
 * log-likelihood; observation t is in fold t mod 5; 50 below 5 observations), so the pull
 * towards uniform follows the evidence, erring towards uniform. */
gboolean veto_loss_fit_annotator_cv (const VetoLossChoiceObservation *obs, guint n,
                                     guint n_classes, double *out_a, double *out_strength,
                                     double *out_noise, GError **error);

/* veto_loss_fit_annotator_cv () pulled towards center (K×K weights, each row's wrong classes
 * averaging 1 as the fits leave them: a pooled model) rather than uniform: each wrong-class
 * weight towards center's, the noise weight towards center's own (its A[0][0]) by
 * VETO_LOSS_PRIOR_NOISE_ANSWERS answers; strengths up to 200 are tried, since the pool is
 * nearer the truth than uniform. NULL center: veto_loss_fit_annotator_cv (). */
gboolean veto_loss_fit_annotator_towards (const VetoLossChoiceObservation *obs, guint n,
                                          guint n_classes, const double *center, double *out_a,
                                          double *out_strength, double *out_noise,
                                          GError **error);

/* Fewest answers an annotator needs for a model of their own (fewer: the pooled model): five
 * folds of five for the cross-validation of the pull. */
#define VETO_LOSS_MIN_OWN_ANSWERS 25

/* What veto_loss_fit_annotators () made of one annotator. */
typedef struct
{
  guint answers;   /* their observations */
  gboolean own;    /* a model of their own (else the pooled one) */
  double strength; /* its pull towards the pooled model, chosen by cross-validation (NAN: none) */
  double noise;    /* the share of their answers the model expects to name the truth when shown
                      (as out_noise of veto_loss_fit_annotator ()) */
} VetoLossAnnotatorFit;

/* One choice model per annotator, pooling annotators until each has enough answers: the pooled
 * model fitted to every observation (veto_loss_fit_annotator_cv (); out_pooled K×K, its noise
 * share in out_pooled_noise, which may be NULL), then each annotator with at least
 * VETO_LOSS_MIN_OWN_ANSWERS observations their own, pulled towards the pooled model by
 * veto_loss_fit_annotator_towards (), and the pooled model for the others. obs[t] is by
 * annotator annotator_of[t] (< n_annotators); out_a gets n_annotators K×K models, out_fits
 * (may be NULL) n_annotators descriptions. */
gboolean veto_loss_fit_annotators (const VetoLossChoiceObservation *obs, const guint *annotator_of,
                                   guint n, guint n_annotators, guint n_classes,
                                   double *out_pooled, double *out_pooled_noise, double *out_a,
                                   VetoLossAnnotatorFit *out_fits, GError **error);

/* The annotator model from every answer, not only those on gold items: EM in the style of
 * Dawid and Skene (1979), jointly with a classifier. obs[t] is about item item_of[t] (its truth
 * is ignored); priors (n_items × K) give what is known of each item's class before its answers,
 * the classifier's p, or one-hot for a gold item (which so stays hard). Each of `iterations`
 * rounds computes every item's posterior pi_i(y) ∝ prior_i(y) Π_{t of i} A[y][c_t] / Σ_{s∈S_t}
 * A[y][s] under the current model (E-step), then refits A by veto_loss_fit_annotator_cv () on
 * every answer weighted by its item's posterior (M-step). Starts from io_a (the fit on gold
 * items alone, so that EM does not learn a near-chance classifier's mistakes as the
 * annotator's habits) and leaves the last model there; out_posteriors (n_items × K, may be
 * NULL) gets the last E-step's posteriors. */
gboolean veto_loss_fit_annotator_em (const VetoLossChoiceObservation *obs, const guint *item_of,
                                     guint n, const double *priors, guint n_items,
                                     guint n_classes, guint iterations, double *io_a,
                                     double *out_posteriors, GError **error);

/* The transition matrix a Luce annotator model induces when m of the K classes are shown
 * uniformly at random (CLImage's protocol): Q[y][c] = E_S[1{c ∈ S} A[y][c] / Σ_{s∈S} A[y][s]],
 * averaged exactly over every m-subset S. FWD's Q from a fitted model. Fails when m is not in
 * 2..min(K, 64) or there are more than 200,000 subsets. */
gboolean veto_loss_annotator_transition (const double *a, guint n_classes, guint m,
                                         double *out_q, GError **error);

/* Q = alpha U + (1 - alpha) Q_hat, Q_hat the row-normalised counts of (gold, cl) pairs and
 * U uniform (0 diagonal, 1/(K-1) elsewhere); a class never seen as gold gets U's row. */
gboolean veto_loss_estimate_transition (const guint *gold, const guint *cls, guint n,
                                        guint n_classes, double alpha, double *out_q,
                                        GError **error);

/* CPE decoding: out_labels[i] = argmin_k ||p_i^T Q - Q_k||_1 (NULL Q: uniform). */
void veto_loss_cpe_decode (const float *probs, guint n, guint n_classes, const double *q,
                           guint *out_labels);

/* SCEL validation score: mean -log((p^T Q)_cl) (NULL Q: uniform), with (p^T Q)_cl
 * floored at 1e-12 so that one confident mistake cannot make the score infinite. */
double veto_loss_scel (const float *probs, guint n, guint n_classes, const guint *cls,
                       const double *q);

/* URE estimate of the 0-1 risk of argmax p from CLs: mean (Q^-1 l)_cl with
 * l_j = [argmax p != j] (NULL q_inv: uniform, (K-1) * [argmax p == cl]). */
double veto_loss_ure_risk (const float *probs, guint n, guint n_classes, const guint *cls,
                           const double *q_inv);

/* Expected calibration error over VETO_LOSS_ECE_BINS bins (lo, hi] of max p, weighted by
 * bin size; out_accuracy (may be NULL) gets the accuracy of argmax p. */
double veto_loss_ece (const float *probs, guint n, guint n_classes, const guint *gold,
                      double *out_accuracy);

/* The objective: every answer over a training set of units (rows of a feature matrix).
 * gather() and loss() use scratch space inside the object: one thread at a time. */

typedef enum
{
  VETO_LOSS_COMPLEMENTARY_SCL_NL,
  VETO_LOSS_COMPLEMENTARY_SCL_EXP,
  VETO_LOSS_COMPLEMENTARY_FWD,
  VETO_LOSS_COMPLEMENTARY_URE,
  VETO_LOSS_COMPLEMENTARY_URE_NN,
  VETO_LOSS_COMPLEMENTARY_URE_GA,
  VETO_LOSS_COMPLEMENTARY_PC,
  VETO_LOSS_COMPLEMENTARY_CPE_F,
  VETO_LOSS_COMPLEMENTARY_MCL_LOG,
  VETO_LOSS_COMPLEMENTARY_CANDIDATE,
} VetoLossComplementary;

/* Stable names ("scl-nl", "scl-exp", "fwd", "ure", "ure-nn", "ure-ga", "pc", "cpe-f",
 * "mcl-log", "candidate") for command lines and project files. */
const char *veto_loss_complementary_to_string (VetoLossComplementary loss);
gboolean veto_loss_complementary_from_string (const char *name, VetoLossComplementary *out_loss,
                                              GError **error);

typedef enum
{
  VETO_LOSS_KIND_ORDINARY,
  VETO_LOSS_KIND_COMPLEMENTARY,
  VETO_LOSS_KIND_PREFERENCE,
  VETO_LOSS_KIND_CONSISTENCY,
  VETO_LOSS_KIND_PROPORTION,
  VETO_LOSS_KIND_SOFT,
  VETO_LOSS_N_KINDS,
} VetoLossKind;

typedef struct _VetoObjective VetoObjective;

VetoObjective *veto_objective_new (guint n_units, guint n_classes, guint n_heads);
void veto_objective_free (VetoObjective *self);

guint veto_objective_get_n_units (VetoObjective *self);
guint veto_objective_get_n_classes (VetoObjective *self);
guint veto_objective_get_n_outputs (VetoObjective *self);
/* Number of answers of a kind (complementary: CLs, not units). */
guint veto_objective_get_n_terms (VetoObjective *self, VetoLossKind kind);

gboolean veto_objective_add_ordinary (VetoObjective *self, guint unit, guint label,
                                      GError **error);
/* candidates: the classes shown, cl among them; NULL / 0: every class was offered. The answer
 * is model 0's (veto_objective_add_complementary_by ()). */
gboolean veto_objective_add_complementary (VetoObjective *self, guint unit, guint cl,
                                           const guint *candidates, guint n_candidates,
                                           GError **error);
/* The same, by the annotator whose model (veto_objective_set_annotators (),
 * veto_objective_set_transitions ()) is number `model`; a model not set is model 0's for the
 * candidate-aware loss (the uniform annotator without any) and the objective's Q for FWD. */
gboolean veto_objective_add_complementary_by (VetoObjective *self, guint unit, guint cl,
                                              const guint *candidates, guint n_candidates,
                                              guint model, GError **error);
/* target: 1 unit_a preferred, 0 unit_b, 0.5 tie; shared_label: the pair's task class or -1. */
gboolean veto_objective_add_preference (VetoObjective *self, guint unit_a, guint unit_b,
                                        guint head, double target, gint shared_label,
                                        GError **error);
/* proportions (K) are normalised to sum to 1. */
gboolean veto_objective_add_bag (VetoObjective *self, const guint *units, guint n_units,
                                 const double *proportions, GError **error);
/* target (K teacher probabilities) is normalised to sum to 1. */
gboolean veto_objective_add_soft (VetoObjective *self, guint unit, const float *target,
                                  GError **error);

/* Fails for a URE loss while the transition matrix is singular. */
gboolean veto_objective_set_complementary_loss (VetoObjective *self, VetoLossComplementary loss,
                                                GError **error);
VetoLossComplementary veto_objective_get_complementary_loss (VetoObjective *self);
/* Q (K x K, rows = true class; rows are normalised); NULL: uniform. Every column needs a
 * positive entry. Fails when singular while a URE loss is chosen. */
gboolean veto_objective_set_transition (VetoObjective *self, const double *q, GError **error);
/* Annotator preference matrix A of the candidate-aware loss; NULL: uniform. The one model of
 * veto_objective_set_annotators (). */
gboolean veto_objective_set_annotator (VetoObjective *self, const double *a, GError **error);
/* n_models annotator matrices (K×K each, one after the other) of the candidate-aware loss: each
 * answer uses its own (veto_objective_add_complementary_by ()). 0 models: uniform. */
gboolean veto_objective_set_annotators (VetoObjective *self, const double *a, guint n_models,
                                        GError **error);
/* n_models transition matrices of FWD / CPE-F (rows normalised, every column needs a positive
 * entry), one per answer's model as above; 0: every answer uses the objective's Q
 * (veto_objective_set_transition ()), which the URE losses always use. */
gboolean veto_objective_set_transitions (VetoObjective *self, const double *q, guint n_models,
                                         GError **error);
void veto_objective_set_annotator_epsilon (VetoObjective *self, double epsilon);
void veto_objective_set_weight (VetoObjective *self, VetoLossKind kind, double weight);
void veto_objective_set_margin (VetoObjective *self, double margin);
void veto_objective_set_temperature (VetoObjective *self, double temperature);

/* Fill out_rows with the feature-matrix rows to forward for this minibatch of units (the
 * units themselves plus any rows their terms also need, e.g. a preference pair's partner),
 * without duplicates; return how many (<= max_rows). */
guint veto_objective_gather (gpointer objective, const guint *units, guint n_units,
                             guint *out_rows, guint max_rows);

/* Given outputs (n_rows x n_outputs) for `rows` (as gathered), return the minibatch loss and
 * write dL/doutputs (zeroed first; may be NULL) into out_grad (n_rows x n_outputs). Only
 * terms owned by the minibatch's units count (a pair is owned by its first item, a bag by
 * its first row, anything else by its unit); terms whose rows are missing are skipped.
 * Loss = sum over kinds of weight_kind * (sum of that kind's owned terms) / n_units, so each
 * answer weighs the same in every minibatch and a minibatch estimates the full objective
 * without bias. URE-NN / URE-GA partial risks are computed over the minibatch's CLs with
 * the training set's CL class prior, as libcll, then scaled the same way. */
double veto_objective_loss (gpointer objective, const guint *units, guint n_units,
                            const guint *rows, guint n_rows, const float *outputs,
                            guint n_outputs, float *out_grad);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoObjective, veto_objective_free)

G_END_DECLS
