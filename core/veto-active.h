/* veto-active.h: which items to ask about next, which candidates to show, which pairs to rank. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Pure computation on matrices: probabilities, embeddings and features in, indices and scores
 * out. Every matrix is row-major float with one row per pool item. Every random choice comes
 * from a seed, so the same inputs and seed give the same answer on every platform. Ties are
 * broken towards the lower index.
 */

#define VETO_ACTIVE_ERROR (veto_active_error_quark ())

typedef enum
{
  VETO_ACTIVE_ERROR_INVALID, /* a bad argument: a size, a dimension, a probability */
  VETO_ACTIVE_ERROR_MISSING, /* the strategy needs an input the pool does not have */
} VetoActiveError;

GQuark veto_active_error_quark (void);

/* Query strategies. Each names the score it reports for a chosen item (out_scores). */
typedef enum
{
  VETO_ACTIVE_RANDOM,           /* uniform without replacement; score 0 */
  VETO_ACTIVE_LEAST_CONFIDENCE, /* largest 1 - max p first; score 1 - max p */
  VETO_ACTIVE_MARGIN,           /* smallest p1 - p2 (two largest p) first; score p1 - p2 */
  VETO_ACTIVE_ENTROPY,          /* largest -sum p log p (nats) first; score the entropy */
  /* Largest u * s^beta first, u the uncertainty of density_base scaled to [0, 1] (1 - p1,
   * 1 - (p1 - p2) or entropy / log K) and s the item's mean cosine similarity to the pool
   * (itself included), clamped at 0: s = x̂ · mean(x̂), so O(n d), never O(n²). An outlier
   * is as uncertain as anything but teaches the model little about the rest of the pool.
   * Score u * s^beta. */
  VETO_ACTIVE_DENSITY,
  /* k-center greedy (Sener & Savarese 2018): repeatedly the item farthest (Euclidean, in the
   * chosen space) from every labeled item and every earlier pick. With nothing labeled the
   * first pick is a seeded random item. Score: that distance (0 for a random first pick). */
  VETO_ACTIVE_CORESET,
  /* BADGE (Ash et al. 2020): k-means++ seeding over the gradient embeddings
   * g = (p - onehot(argmax p)) ⊗ h, h the item's row in the chosen space. The first pick is
   * the largest ‖g‖, each next one is drawn with probability ∝ D², the squared distance to
   * the nearest earlier pick. g is never formed: ‖g_i - g_j‖² = ‖p̃_i‖²‖h_i‖² + ‖p̃_j‖²‖h_j‖²
   * - 2 (p̃_i · p̃_j)(h_i · h_j), and D² is kept as a lazily refreshed upper bound with
   * rejection sampling, which draws from exactly the same distribution with far fewer passes
   * over h. When every remaining D² is 0 the batch is filled by largest ‖g‖. Score: D² at
   * the pick (‖g‖² for the first). */
  VETO_ACTIVE_BADGE,
  /* Active distillation, in the spirit of Robust Active Distillation (Baykal et al. 2023):
   * the teacher's soft label costs a query and is often wrong exactly where the student is
   * unsure, so a point is worth asking only if it is informative AND the teacher is likely
   * right on it. Rule: gain_i = 1 - (p1 - p2) of the student; w_i = c_i^gamma * gain_i with
   * c_i = pool->correctness[i]; the window is the factor * batch items with w_i > 0 of
   * largest gain; batch items are drawn from it without replacement with probability ∝ w_i
   * (successive sampling). The window keeps the queries informative, c^gamma keeps the
   * expected number of wrong teacher labels, sum (1 - c_i), low, and sampling rather than
   * taking the top spreads the batch so no single kind of hard point (where an adversarial
   * teacher would place its mistakes) takes all of it. gamma = 0 ignores the teacher;
   * large gamma asks only where it is surest. When fewer than batch items have w_i > 0 the
   * rest are the most informative of the others. Score w_i. */
  VETO_ACTIVE_DISTILL,
  /* Expected information gain of a complementary question (below): largest
   * max_S I(y; answer | S) first, S over the sets of min(4, K) classes, for the uniform
   * annotator and the model's p alone (entropy beyond 64 classes; diversity does not apply).
   * The simulator asks it with the item's full posterior, the annotator's model and the set
   * that gain is for, and may ask an item again. Score: that gain (nats). Measured on the
   * Fashion-MNIST demo with the human profile (README): it does not beat margin with
   * proportional candidates (0.564, one seed, against 0.617 at 6,000 answers; 0.206 against
   * 0.286 at 1,000, three seeds), so it is not the default anywhere. */
  VETO_ACTIVE_INFORMATION,
  /* Margin with diversity inside each batch (Zhdanov 2019, "Diverse mini-batch active
   * learning"; the same remedy as Cluster-Margin, Citovsky et al. 2021): the factor * batch
   * items of smallest p1 - p2 form a shortlist, k-means (k-means++ seeding, Lloyd iterations,
   * in the chosen space) cuts it into batch clusters C_1..C_batch, and each cluster asks its
   * member nearest its centre, argmin_{i∈C_c} ‖x_i - mean(C_c)‖², larger clusters first.
   * Plain margin spends a batch on near-duplicates of one confusion; one question per cluster
   * spreads the batch over every confusion the shortlist holds, and the member nearest the
   * centre is typical of its cluster, not an outlier (which k-center diversity would pick).
   * Clusters left empty are filled by the shortlist's smallest margins. factor 1: margin.
   * Score p1 - p2. */
  VETO_ACTIVE_KMEANS_MARGIN,
} VetoActiveStrategy;

/* Stable names ("random", "least-confidence", "margin", "entropy", "density", "coreset",
 * "badge", "distill", "information", "kmeans-margin") for command lines and project files. */
const char        *veto_active_strategy_to_string   (VetoActiveStrategy strategy);
gboolean           veto_active_strategy_from_string (const char         *name,
                                                     VetoActiveStrategy *out_strategy,
                                                     GError            **error);
/* Every name, in enum order, NULL-terminated (static). */
const char *const *veto_active_strategy_names       (void);

/* The space of coreset, BADGE's h, density, kmeans-margin and diversity. AUTO: the embedding
 * when the pool has one, else the features. */
typedef enum
{
  VETO_ACTIVE_SPACE_AUTO,
  VETO_ACTIVE_SPACE_EMBEDDING,
  VETO_ACTIVE_SPACE_FEATURES,
} VetoActiveSpace;

/* The pool to choose from: n items. Only what a strategy uses must be set: probabilities for
 * all but random and coreset, a space for coreset, BADGE, density, kmeans-margin and
 * diversity, correctness for distill. Rows of probs sum to 1. Labeled rows (items already answered, not in the
 * pool) are only used by coreset and diversity, in the same space and dimension. */
typedef struct
{
  guint n;
  const float *probs;             /* n × n_classes */
  guint n_classes;
  const float *embedding;         /* n × embedding_dim: the model's penultimate layer */
  guint embedding_dim;
  const float *features;          /* n × n_features */
  guint n_features;
  const float *labeled_embedding; /* n_labeled × embedding_dim */
  const float *labeled_features;  /* n_labeled × n_features */
  guint n_labeled;
  const float *correctness;       /* n, in [0, 1]: how likely the teacher is right (distill) */
} VetoActivePool;

#define VETO_ACTIVE_DEFAULT_FACTOR 10

typedef struct
{
  guint64 seed;
  VetoActiveSpace space;
  /* > 0 and smaller than n: score only a seeded random subsample of this many items (the
   * indices returned still index the whole pool). Random ignores it. */
  guint max_pool;
  /* least-confidence, margin, entropy and density: take the factor * batch best-scored items,
   * then batch of them by k-center greedy in the chosen space (from the labeled rows when
   * there are some, else from the best-scored item), so one batch does not spend every
   * query on near-duplicates. The scores reported stay the strategy's own. */
  gboolean diversity;
  guint factor;                    /* diversity, kmeans-margin's shortlist and distill window:
                                      factor * batch; default 10 */
  VetoActiveStrategy density_base; /* least-confidence, margin or entropy; default margin */
  double density_beta;             /* default 1 */
  double distill_gamma;            /* default 1 */
} VetoActiveOptions;

void     veto_active_options_init (VetoActiveOptions *options);

/* Writes batch distinct pool indices, most wanted first (for k-center and k-means++ based
 * choices: in pick order), and their scores (out_scores may be NULL). options NULL: the
 * defaults. Fails on a batch of 0 or more than the pool (or than max_pool), on sizes that do
 * not match, on probabilities that are not a distribution, and when an input is missing. */
gboolean veto_active_select       (VetoActiveStrategy       strategy,
                                   const VetoActivePool    *pool,
                                   guint                    batch,
                                   const VetoActiveOptions *options,
                                   guint                   *out_indices,
                                   double                  *out_scores,
                                   GError                 **error);

/* Candidate sets for a complementary question ("which of these is NOT the class?"). */
typedef enum
{
  /* k distinct classes uniformly at random: the CLImage protocol. Every class has the same
   * chance k/K to be shown whatever the item, so the complementary label it yields follows
   * the uniform transition that SCL, URE and FWD assume, and answers stay comparable across
   * annotators and projects. */
  VETO_ACTIVE_CANDIDATES_UNIFORM,
  /* k distinct classes drawn without replacement with probability ∝ max(p_c, floor), p the
   * model's probabilities for the item. "Not this one" then removes probability mass the
   * model really holds, which a class it already rules out cannot do: with peaked p the top
   * class is nearly always shown, and the answer either confirms it (by naming another) or
   * refutes the model's belief. The floor keeps every class's chance to be shown above zero,
   * so answers can still reach classes the model has written off and any reweighting by
   * inclusion probability stays bounded. The labels no longer follow a uniform transition:
   * train them with the candidate-aware loss, which conditions on the set shown. */
  VETO_ACTIVE_CANDIDATES_PROPORTIONAL,
  /* The set of largest expected information gain (veto_active_informative_set (), formula
   * below) under the model's p and the uniform annotator here; the window's sessions use the
   * item's posterior (the model's p and its earlier answers) and the fitted model of the person
   * asked, their own or the pooled one, once there is one (veto_active_informative_candidates
   * ()), the simulator the item's posterior and the annotator's model. Deterministic, shown in
   * a random order.
   * Candidate-aware loss. The default of `simulate`, the engine and the window
   * (docs/simulate.md): with margin, 5% gold
   * anchors and the estimated annotator model at 6,000 answers, 3 seeds, it beats proportional
   * sets on every profile measured: CLImage's human profile 0.632 against 0.590 (6 seeds 0.622
   * against 0.573), the skewed check profile 0.822 against 0.791 (6 seeds), the uniform
   * annotator 0.816 against 0.807. Random items do worse with it on the human profile (0.451
   * against 0.509), and better in the demo's first 1,000 answers, where they overtake margin. */
  VETO_ACTIVE_CANDIDATES_INFORMATIVE,
} VetoActiveCandidateRule;

/* Weight floor of the proportional rule. Classes below it are all equally likely: once the
 * classes holding the mass are drawn, the rest of a set comes uniformly from them. With
 * p = (.85, .06, .04, .02, .01, .01, .005, .005, 0, 0) and k = 4, a class with p = 0 is
 * shown in 3% of the sets and the top class in all but 0.01%. */
#define VETO_ACTIVE_DEFAULT_FLOOR 1e-3

/* Informative questions. An item whose class has posterior pi (the classifier's p combined
 * with every earlier answer: pi(y) ∝ p_y Π_t P(c_t | y, S_t)) is asked "which of S is it
 * NOT?" of an annotator whose choice model is P(c | y, S) = A[y][c] / Σ_{s∈S} A[y][s]. The
 * expected information gain of S is
 *   H(pi) - Σ_{c∈S} P(c | S) H(pi | c, S) = Σ_y pi(y) Σ_{c∈S} P(c | y, S) log (P(c | y, S) / P(c | S)),
 * P(c | S) = Σ_y pi(y) P(c | y, S), in nats; it never exceeds H(pi). Uniform sets spend answers on
 * classes pi has already excluded; a set around pi's mass, answered by a known annotator,
 * approaches a bit. a NULL: the uniform annotator (1 off the diagonal, VETO_LOSS's default
 * noise floor 1e-3 on it). */
double veto_active_information_gain (const double *posterior, guint n_classes, const double *a,
                                     const guint *shown, guint k);
/* An earlier answer to a complementary question about the item: the classes shown, the one
 * named ("not this one"), the choice model of the person who gave it (K×K Luce weights
 * A[y][c]; NULL: the uniform annotator), and whether that person is the one about to be asked
 * again (veto_active_informative_candidates () then does not show them the class they named). */
typedef struct
{
  const guint *shown;
  guint n_shown;
  guint answer;
  const double *a;
  gboolean by_asked;
} VetoActiveAnswer;

/* The posterior pi of an item's class: the classifier's p (n_classes probabilities, each
 * floored at 1e-12) combined with the item's earlier answers,
 *   pi(y) ∝ max(p_y, 1e-12) Π_t A_t[y][c_t] / Σ_{s∈S_t} A_t[y][s],
 * normalised (uniform when the product vanishes everywhere). With p = (.4, .3, .2, .1, 0) and
 * one answer "not 0" of the uniform annotator among S = {0, 1, 2, 3}, class 0 keeps 1e-3 of
 * its share: pi ≈ (.0007, .4997, .3331, .1666, 0). No answers: p normalised. */
void veto_active_posterior (const float *p, guint n_classes, const VetoActiveAnswer *answers,
                            guint n_answers, double *out_posterior);

/* The k-set of largest gain, in class order: exhaustive over the C(n_classes, k) sets when
 * there are at most 5,000 of them, else grown greedily one class at a time. Returns its gain. */
double veto_active_informative_set (const double *posterior, guint n_classes, const double *a,
                                    guint k, guint *out_shown);

/* The classes named in the answers marked by_asked (bit c: class c; classes from 64 on are left
 * out of the mask). */
guint64 veto_active_named_by_asked (const VetoActiveAnswer *answers, guint n_answers);

/* The same among the sets without the classes of `left_out` (bit c: class c) while at least k
 * classes remain (else among all sets). A person asked about an item again is not shown the
 * classes they ruled out for it: the posterior counts their answers as independent draws, but
 * a person asked "not this one?" again about the same class repeats themselves, and sees their
 * first answer ignored. */
double veto_active_informative_set_without (const double *posterior, guint n_classes,
                                            const double *a, guint k, guint64 left_out,
                                            guint *out_shown);

/* The batch items (of n, posteriors n × n_classes) whose informative set has the largest
 * gain, best first, with those sets (out_shown batch × k, may be NULL) and gains (out_scores,
 * may be NULL). Exact: items are taken in decreasing H(pi), and the search stops once H(pi)
 * is below the batch-th best gain found, so a confident pool costs little. */
gboolean veto_active_informative_questions (const double *posteriors, guint n, guint n_classes,
                                            const double *a, guint k, guint batch,
                                            guint *out_indices, guint *out_shown,
                                            double *out_scores, GError **error);

/* One item's informative candidates: the k-set of largest gain under the item's posterior
 * (veto_active_posterior () of the classifier's p, n_classes probabilities, and its n_answers
 * earlier answers, which may be 0) for the annotator about to be asked, whose model is a (K×K
 * Luce weights A[y][c], as for veto_active_information_gain (); NULL: the uniform annotator),
 * in a random display order drawn from seed, without the classes named in the answers
 * marked by_asked (veto_active_named_by_asked (), veto_active_informative_set_without ()).
 * The engine's sessions ask with the asker's own
 * model fitted to their gold anchors, else the pooled one, once there is one. Fails on k
 * outside 1..n_classes, more than 64 classes, p not a distribution, or an answer that shows
 * or names a class outside 0..n_classes-1. */
gboolean veto_active_informative_candidates (const float *p, guint n_classes,
                                             const VetoActiveAnswer *answers, guint n_answers,
                                             const double *a, guint k, guint64 seed,
                                             guint *out_shown, GError **error);

/* Stable names ("uniform", "proportional", "informative"). */
const char        *veto_active_candidate_rule_to_string   (VetoActiveCandidateRule rule);
gboolean           veto_active_candidate_rule_from_string (const char              *name,
                                                           VetoActiveCandidateRule *out_rule,
                                                           GError                 **error);
const char *const *veto_active_candidate_rule_names       (void);

/* One candidate set of k distinct classes for each of n items: out_classes is n × k, in a
 * random display order (never the draw order, which would leak the model's belief).
 * probs (n × n_classes) is only read by the proportional rule (NULL allowed for uniform);
 * weight_floor in (0, 1]. */
gboolean veto_active_candidates   (VetoActiveCandidateRule rule,
                                   const float            *probs,
                                   guint                   n,
                                   guint                   n_classes,
                                   guint                   k,
                                   double                  weight_floor,
                                   guint64                 seed,
                                   guint                  *out_classes,
                                   GError                **error);

/* Items for preference questions: r_i the model's scalar score (its preference head). */
typedef struct
{
  guint n;
  const float *scores;    /* n */
  const float *variances; /* n, optional: the uncertainty of each score (0 when NULL) */
  const gint *labels;     /* n, optional: task class, -1 unknown; pairs then share a class */
} VetoActivePairPool;

/* The batch distinct pairs whose order the model is least sure of: smallest
 * |P(a before b) - 1/2|, with P(a before b) = σ((r_a - r_b) / sqrt(1 + π (v_a + v_b) / 8))
 * (Bradley-Terry with the probit approximation to the expected sigmoid: uncertain scores
 * make an order less sure). The pairs examined are every eligible pair when there are at
 * most 4 * max_candidates of them, else max_candidates distinct pairs drawn uniformly
 * (max_candidates 0: 20 * batch). With labels, both items of a pair have the same known
 * class, and items with -1 are never used. out_a is shown on the left; which of the two is
 * left is random. An item may appear in several pairs. Score |P - 1/2| (out_scores may be
 * NULL). Fails when fewer than batch pairs are eligible. */
gboolean veto_active_pairs        (const VetoActivePairPool *pool,
                                   guint                     batch,
                                   guint                     max_candidates,
                                   guint64                   seed,
                                   guint                    *out_a,
                                   guint                    *out_b,
                                   double                   *out_scores,
                                   GError                  **error);

/* The index of the largest of p's k values (the first when tied). */
guint veto_active_argmax (const float *p, guint k);

G_END_DECLS
