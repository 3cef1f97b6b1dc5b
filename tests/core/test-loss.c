/* test-loss.c: finite-difference gradient checks and hand-solved answers for core/veto-loss. */
#include "veto-loss.h"

#include <math.h>
#include <string.h>

#define MAX_K 5
#define MAX_N 6
#define N_HEADS 2
#define N_SEEDS 6
#define STEP 1e-3f

/* Gradient checking */

typedef double (*EvalFunc) (gconstpointer data, const VetoLossBatch *batch);

/* Compares the analytic gradient with central differences (step 1e-3, 0.1% relative
 * tolerance). The losses compute in double from float inputs, so the difference is divided
 * by the step actually taken in float. */
static void
check_gradient (EvalFunc eval, gconstpointer data, float *outputs, guint n_rows, guint n_outputs,
                guint n_classes)
{
  VetoLossBatch batch = { outputs, NULL, n_rows, n_outputs, n_classes };
  g_autofree float *grad = g_new0 (float, n_rows * n_outputs);
  double value, largest = 0.0;

  batch.grad = grad;
  value = eval (data, &batch);
  g_assert_true (isfinite (value));
  batch.grad = NULL;
  g_assert_cmpfloat_with_epsilon (eval (data, &batch), value, 1e-12 * (1.0 + fabs (value)));

  for (guint i = 0; i < n_rows * n_outputs; i++)
    {
      float saved = outputs[i];
      float up, down;
      double loss_up, loss_down, numeric, tolerance;

      outputs[i] = saved + STEP;
      up = outputs[i];
      loss_up = eval (data, &batch);
      outputs[i] = saved - STEP;
      down = outputs[i];
      loss_down = eval (data, &batch);
      outputs[i] = saved;
      numeric = (loss_up - loss_down) / ((double) up - down);
      tolerance = 1e-5 + 1e-3 * MAX (fabs (numeric), fabs (grad[i]));
      if (fabs (numeric - grad[i]) > tolerance)
        g_error ("gradient entry %u (row %u, col %u): analytic %.8g, numeric %.8g", i,
                 i / n_outputs, i % n_outputs, grad[i], numeric);
      largest = MAX (largest, fabs (grad[i]));
    }
  g_assert_cmpfloat (largest, >, 1e-6);
}

/* Random small problems */

typedef struct
{
  guint k;
  guint n;
  guint n_outputs;
  float outputs[MAX_N * (MAX_K + N_HEADS)];
  VetoLossLabel labels[MAX_N];
  VetoLossLabel cls[MAX_N];
  VetoLossSet sets[MAX_N];
  guint set_cls[MAX_N][2];
  VetoLossChoice choices[MAX_N];
  guint shown[MAX_N][3];
  VetoLossPair pairs[MAX_N];
  VetoLossBag bags[2];
  guint bag_rows[2][3];
  double proportions[2][MAX_K];
  VetoLossSoft soft[MAX_N];
  float soft_targets[MAX_N][MAX_K];
  double q[MAX_K * MAX_K];
  double q_inv[MAX_K * MAX_K];
  double a[MAX_K * MAX_K];
  double priors[MAX_K];
  const double *matrix; /* the Q, Q^-1 or A a case uses; NULL for uniform */
} Problem;

static void
random_distribution (GRand *rand, double *v, guint k, gboolean sparse)
{
  double sum = 0.0;

  for (guint c = 0; c < k; c++)
    {
      v[c] = (sparse && c == 0) ? 0.0 : g_rand_double_range (rand, 0.05, 1.0);
      sum += v[c];
    }
  for (guint c = 0; c < k; c++)
    v[c] /= sum;
}

static guint
other_class (GRand *rand, guint k, const guint *taken, guint n_taken)
{
  for (;;)
    {
      guint c = (guint) g_rand_int_range (rand, 0, (gint32) k);
      gboolean used = FALSE;

      for (guint i = 0; i < n_taken; i++)
        used |= taken[i] == c;
      if (!used)
        return c;
    }
}

static void
problem_init (Problem *pb, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  g_autoptr (GError) error = NULL;

  memset (pb, 0, sizeof (*pb));
  pb->k = 4 + seed % 2;
  pb->n = (guint) g_rand_int_range (rand, 3, MAX_N + 1);
  pb->n_outputs = pb->k + N_HEADS;
  for (guint i = 0; i < pb->n * pb->n_outputs; i++)
    pb->outputs[i] = (float) g_rand_double_range (rand, -2.0, 2.0);

  for (guint i = 0; i < pb->n; i++)
    {
      guint cl = (guint) g_rand_int_range (rand, 0, (gint32) pb->k);
      guint partner;
      double d[MAX_K];

      pb->labels[i] = (VetoLossLabel) { i, (guint) g_rand_int_range (rand, 0, (gint32) pb->k) };
      pb->cls[i] = (VetoLossLabel) { i, cl };

      pb->set_cls[i][0] = cl;
      pb->set_cls[i][1] = other_class (rand, pb->k, &cl, 1);
      pb->sets[i] = (VetoLossSet) { i, pb->set_cls[i], 1 + i % 2 };

      pb->shown[i][0] = other_class (rand, pb->k, NULL, 0);
      pb->shown[i][1] = other_class (rand, pb->k, pb->shown[i], 1);
      pb->shown[i][2] = other_class (rand, pb->k, pb->shown[i], 2);
      pb->choices[i] = (VetoLossChoice) { i, pb->shown[i][i % 3], pb->shown[i], 3 };

      partner = (i + 1 + (guint) g_rand_int_range (rand, 0, (gint32) pb->n - 1)) % pb->n;
      pb->pairs[i] = (VetoLossPair) { i, partner, i % N_HEADS, (double) (i % 3) / 2.0,
                                      i % 4 == 3 ? -1 : (gint) (i % pb->k) };

      random_distribution (rand, d, pb->k, i % 2 == 1);
      for (guint c = 0; c < pb->k; c++)
        pb->soft_targets[i][c] = (float) d[c];
      pb->soft[i] = (VetoLossSoft) { i, pb->soft_targets[i] };
    }

  for (guint b = 0; b < 2; b++)
    {
      guint size = 2 + b;

      for (guint r = 0; r < size; r++)
        pb->bag_rows[b][r] = (b + 2 * r) % pb->n;
      random_distribution (rand, pb->proportions[b], pb->k, b == 1);
      pb->bags[b] = (VetoLossBag) { pb->bag_rows[b], size, pb->proportions[b] };
    }

  for (guint y = 0; y < pb->k; y++)
    {
      random_distribution (rand, pb->q + y * pb->k, pb->k, FALSE);
      for (guint c = 0; c < pb->k; c++)
        pb->a[y * pb->k + c] = g_rand_double_range (rand, 0.0, 2.0);
    }
  g_assert_true (veto_loss_matrix_invert (pb->q, pb->k, pb->q_inv, &error));
  g_assert_no_error (error);
  random_distribution (rand, pb->priors, pb->k, FALSE);
}

static double
eval_cross_entropy (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_cross_entropy (batch, pb->labels, pb->n, 0.7);
}

static double
eval_scl_nl (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_scl_nl (batch, pb->cls, pb->n, 1.3);
}

static double
eval_scl_exp (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_scl_exp (batch, pb->cls, pb->n, 1.0);
}

static double
eval_forward (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_forward (batch, pb->cls, pb->n, pb->matrix, 1.0);
}

static double
eval_ure (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_ure (batch, pb->cls, pb->n, pb->matrix, 1.0);
}

static double
eval_ure_nn (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_ure_nn (batch, pb->cls, pb->n, pb->matrix, pb->priors, 1.0);
}

static double
eval_ure_ga (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_ure_ga (batch, pb->cls, pb->n, pb->matrix, NULL, 1.0);
}

static double
eval_pc (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_pairwise_comparison (batch, pb->cls, pb->n, 1.0);
}

static double
eval_mcl_log (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_mcl_log (batch, pb->sets, pb->n, 1.0);
}

static double
eval_candidate (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_candidate (batch, pb->choices, pb->n, pb->matrix, 0.05, 1.0);
}

/* Every answer with its own annotator model: A, Q's rows as weights, or (every third) the
 * model the loss is called with. */
static double
eval_candidate_per_answer (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;
  VetoLossChoice terms[MAX_N];

  for (guint i = 0; i < pb->n; i++)
    {
      terms[i] = pb->choices[i];
      terms[i].a = i % 3 == 0 ? pb->a : i % 3 == 1 ? pb->q : NULL;
    }
  return veto_loss_candidate (batch, terms, pb->n, pb->matrix, 0.05, 1.0);
}

static double
eval_bradley_terry (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_bradley_terry (batch, pb->pairs, pb->n, 1.0);
}

static double
eval_consistency (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_consistency (batch, pb->pairs, pb->n, 0.3, 1.0);
}

static double
eval_proportion (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_proportion (batch, pb->bags, 2, 1.0);
}

static double
eval_soft (gconstpointer data, const VetoLossBatch *batch)
{
  const Problem *pb = data;

  return veto_loss_soft (batch, pb->soft, pb->n, 2.0, 0.9);
}

typedef enum
{
  MATRIX_UNIFORM,
  MATRIX_Q,
  MATRIX_Q_INV,
  MATRIX_A,
} MatrixChoice;

typedef struct
{
  const char *path;
  EvalFunc eval;
  MatrixChoice matrix;
} GradientCase;

static const GradientCase gradient_cases[] = {
  { "/loss/gradient/cross-entropy", eval_cross_entropy, MATRIX_UNIFORM },
  { "/loss/gradient/scl-nl", eval_scl_nl, MATRIX_UNIFORM },
  { "/loss/gradient/scl-exp", eval_scl_exp, MATRIX_UNIFORM },
  { "/loss/gradient/fwd-uniform", eval_forward, MATRIX_UNIFORM },
  { "/loss/gradient/fwd-q", eval_forward, MATRIX_Q },
  { "/loss/gradient/ure-uniform", eval_ure, MATRIX_UNIFORM },
  { "/loss/gradient/ure-q", eval_ure, MATRIX_Q_INV },
  { "/loss/gradient/ure-nn-uniform", eval_ure_nn, MATRIX_UNIFORM },
  { "/loss/gradient/ure-nn-q", eval_ure_nn, MATRIX_Q_INV },
  { "/loss/gradient/ure-ga-uniform", eval_ure_ga, MATRIX_UNIFORM },
  { "/loss/gradient/ure-ga-q", eval_ure_ga, MATRIX_Q_INV },
  { "/loss/gradient/pc", eval_pc, MATRIX_UNIFORM },
  { "/loss/gradient/mcl-log", eval_mcl_log, MATRIX_UNIFORM },
  { "/loss/gradient/candidate-uniform", eval_candidate, MATRIX_UNIFORM },
  { "/loss/gradient/candidate-a", eval_candidate, MATRIX_A },
  { "/loss/gradient/candidate-per-answer", eval_candidate_per_answer, MATRIX_UNIFORM },
  { "/loss/gradient/candidate-per-answer-a", eval_candidate_per_answer, MATRIX_A },
  { "/loss/gradient/bradley-terry", eval_bradley_terry, MATRIX_UNIFORM },
  { "/loss/gradient/consistency", eval_consistency, MATRIX_UNIFORM },
  { "/loss/gradient/proportion", eval_proportion, MATRIX_UNIFORM },
  { "/loss/gradient/soft", eval_soft, MATRIX_UNIFORM },
};

static void
test_gradient (gconstpointer data)
{
  const GradientCase *gc = data;

  for (guint32 seed = 1; seed <= N_SEEDS; seed++)
    {
      Problem pb;

      problem_init (&pb, seed);
      pb.matrix = gc->matrix == MATRIX_Q       ? pb.q
                  : gc->matrix == MATRIX_Q_INV ? pb.q_inv
                  : gc->matrix == MATRIX_A     ? pb.a
                                               : NULL;
      check_gradient (gc->eval, &pb, pb.outputs, pb.n, pb.n_outputs, pb.k);
    }
}

/* Known answers */

static void
test_uniform_logits (void)
{
  float outputs[2 * 4] = { 0 };
  VetoLossBatch batch = { outputs, NULL, 2, 4, 4 };
  VetoLossLabel labels[] = { { 0, 1 }, { 1, 3 } };
  guint set[] = { 0, 2, 2 };
  VetoLossSet sets[] = { { 0, set, 3 } };

  g_assert_cmpfloat_with_epsilon (veto_loss_cross_entropy (&batch, labels, 2, 1.0), log (4.0),
                                  1e-12);
  g_assert_cmpfloat_with_epsilon (veto_loss_scl_nl (&batch, labels, 2, 1.0), -log (0.75), 1e-12);
  g_assert_cmpfloat_with_epsilon (veto_loss_scl_exp (&batch, labels, 2, 1.0), exp (0.25), 1e-12);
  g_assert_cmpfloat_with_epsilon (veto_loss_forward (&batch, labels, 2, NULL, 1.0), log (4.0),
                                  1e-12);
  /* sum_j l_j - (K-1) l_cl = 4 log 4 - 3 log 4 */
  g_assert_cmpfloat_with_epsilon (veto_loss_ure (&batch, labels, 2, NULL, 1.0), log (4.0), 1e-12);
  /* three comparisons at sigmoid(0) */
  g_assert_cmpfloat_with_epsilon (veto_loss_pairwise_comparison (&batch, labels, 2, 1.0), 1.5,
                                  1e-12);
  /* {0, 2} (2 given twice): (K-1)/2 * -log(1/2) */
  g_assert_cmpfloat_with_epsilon (veto_loss_mcl_log (&batch, sets, 1, 1.0), 1.5 * log (2.0),
                                  1e-12);
  /* weight scales the value */
  g_assert_cmpfloat_with_epsilon (veto_loss_cross_entropy (&batch, labels, 2, 2.5),
                                  2.5 * log (4.0), 1e-12);
  g_assert_cmpfloat (veto_loss_cross_entropy (&batch, labels, 0, 1.0), ==, 0.0);
}

static void
test_gradient_accumulates (void)
{
  float outputs[4] = { 0.5f, -1.0f, 2.0f, 0.0f };
  float grad[4] = { 1.0f, 1.0f, 1.0f, 1.0f };
  VetoLossBatch batch = { outputs, grad, 1, 4, 4 };
  VetoLossLabel label = { 0, 2 };
  double lse = log (exp (0.5) + exp (-1.0) + exp (2.0) + exp (0.0));

  veto_loss_cross_entropy (&batch, &label, 1, 2.0);
  for (guint j = 0; j < 4; j++)
    g_assert_cmpfloat_with_epsilon (grad[j], 1.0 + 2.0 * (exp (outputs[j] - lse) - (j == 2)),
                                    1e-6);
}

static void
test_fwd_identity (void)
{
  for (guint32 seed = 1; seed <= N_SEEDS; seed++)
    {
      Problem pb;
      VetoLossBatch batch;

      problem_init (&pb, seed);
      batch = (VetoLossBatch) { pb.outputs, NULL, pb.n, pb.n_outputs, pb.k };
      for (guint i = 0; i < pb.n; i++)
        g_assert_cmpfloat_with_epsilon (veto_loss_forward (&batch, &pb.cls[i], 1, NULL, 1.0),
                                        veto_loss_scl_nl (&batch, &pb.cls[i], 1, 1.0)
                                          + log (pb.k - 1.0),
                                        1e-10);
    }
}

static void
test_ure_identity (void)
{
  for (guint32 seed = 1; seed <= N_SEEDS; seed++)
    {
      Problem pb;
      VetoLossBatch batch;
      double q[MAX_K * MAX_K], q_inv[MAX_K * MAX_K];
      g_autoptr (GError) error = NULL;

      problem_init (&pb, seed);
      batch = (VetoLossBatch) { pb.outputs, NULL, pb.n, pb.n_outputs, pb.k };
      for (guint y = 0; y < pb.k; y++)
        for (guint c = 0; c < pb.k; c++)
          q[y * pb.k + c] = y == c ? 0.0 : 1.0 / (pb.k - 1);
      g_assert_true (veto_loss_matrix_invert (q, pb.k, q_inv, &error));
      g_assert_no_error (error);
      for (guint i = 0; i < pb.n; i++)
        {
          const float *z = pb.outputs + i * pb.n_outputs;
          double lse = 0.0, by_hand = 0.0;

          for (guint j = 0; j < pb.k; j++)
            lse += exp (z[j]);
          lse = log (lse);
          for (guint j = 0; j < pb.k; j++)
            by_hand += lse - z[j];
          by_hand -= (pb.k - 1.0) * (lse - z[pb.cls[i].label]);
          g_assert_cmpfloat_with_epsilon (veto_loss_ure (&batch, &pb.cls[i], 1, NULL, 1.0),
                                          by_hand, 1e-9);
          g_assert_cmpfloat_with_epsilon (veto_loss_ure (&batch, &pb.cls[i], 1, q_inv, 1.0),
                                          by_hand, 1e-9);
        }
    }
}

static double
neg_log_softmax (const float *z, guint k, guint j)
{
  double m = z[0], lse = 0.0;

  for (guint c = 1; c < k; c++)
    m = MAX (m, z[c]);
  for (guint c = 0; c < k; c++)
    lse += exp (z[c] - m);
  return m + log (lse) - z[j];
}

static void
test_ure_corrections (void)
{
  /* Split by the class j at which the loss is evaluated (Ishida et al. 2019), batch priors
   * 1/2: R_j = 1/2 (l_j(x0) + l_j(x1)) - 3/2 l_j(x_cl=j). Row 0's CL 0 is its likeliest
   * class (l_0 small there: R_0 > 0); row 1's CL 1 is its least likely (l_1 large there:
   * R_1 < 0, the model rules class 1 out harder than any population of class-1 items can). */
  float outputs[] = { 3.0f, 0.0f, 0.0f, 0.0f, -1.0f, -3.0f, 0.0f, 0.0f };
  VetoLossBatch batch = { outputs, NULL, 2, 4, 4 };
  VetoLossLabel cls[] = { { 0, 0 }, { 1, 1 } };
  float flat[16] = { 0 };
  VetoLossBatch flat_batch = { flat, NULL, 4, 4, 4 };
  VetoLossLabel each[] = { { 0, 0 }, { 1, 1 }, { 2, 2 }, { 3, 3 } };
  double risk[4], by_hand[4], nn = 0.0, negative = 0.0;

  veto_loss_ure_partial_risks (&batch, cls, 2, NULL, NULL, risk);
  for (guint j = 0; j < 4; j++)
    {
      by_hand[j] = 0.5 * (neg_log_softmax (outputs, 4, j) + neg_log_softmax (outputs + 4, 4, j));
      if (j < 2)
        by_hand[j] -= 1.5 * neg_log_softmax (outputs + 4 * j, 4, j);
      g_assert_cmpfloat_with_epsilon (risk[j], by_hand[j], 1e-9);
      nn += MAX (by_hand[j], 0.0);
      negative += MIN (by_hand[j], 0.0);
    }
  g_assert_cmpfloat (by_hand[0], >, 0.0);
  g_assert_cmpfloat (by_hand[1], <, 0.0);
  g_assert_cmpfloat_with_epsilon (risk[0] + risk[1] + risk[2] + risk[3],
                                  veto_loss_ure (&batch, cls, 2, NULL, 1.0), 1e-9);
  g_assert_cmpfloat_with_epsilon (veto_loss_ure_nn (&batch, cls, 2, NULL, NULL, 1.0), nn, 1e-9);
  g_assert_cmpfloat_with_epsilon (veto_loss_ure_ga (&batch, cls, 2, NULL, NULL, 1.0), -negative,
                                  1e-9);
  /* Flat logits, one CL of each class: R_j = 1/4 (4 - 3) log 4 >= 0 for every j, so GA and
   * NN are the plain URE, log 4. */
  veto_loss_ure_partial_risks (&flat_batch, each, 4, NULL, NULL, risk);
  for (guint j = 0; j < 4; j++)
    g_assert_cmpfloat_with_epsilon (risk[j], log (4.0) / 4, 1e-9);
  g_assert_cmpfloat_with_epsilon (veto_loss_ure_ga (&flat_batch, each, 4, NULL, NULL, 1.0),
                                  log (4.0), 1e-9);
  g_assert_cmpfloat_with_epsilon (veto_loss_ure_nn (&flat_batch, each, 4, NULL, NULL, 1.0),
                                  log (4.0), 1e-9);
}

/* One URE-GA step on four rows of three classes, solved by hand. Logits are log p, in units of
 * L = log 2: rows 0 and 1 say "not 0" with l = (2, 1, 2) L and (2, 2, 1) L, row 2 says "not 1"
 * and row 3 "not 2", both with l = (1, 2, 2) L. With K = 3 and the batch's own priors,
 * R_j = 1/4 (sum over rows whose CL is not j of l_j - sum over rows whose CL is j of l_j):
 * R_0 = (1 + 1 - 2 - 2) L / 4 = -L/2, R_1 = R_2 = 3L/4. Only R_0 is negative: the rows that
 * say "not 0" rule class 0 out harder than the others support. GA's loss is then -R_0 = L/2, and
 * its gradient on a row with CL k is -(1/4) (Q^-1)[k][0] (p - e_0), (Q^-1)[k][0] = -1 for k = 0
 * and 1 otherwise; a descent step on it raises p_0 where the CL is 0 and lowers it elsewhere,
 * which raises R_0 and leaves the URE's descent (on R_1, R_2) out of this step. */
static void
test_ure_ga_step (void)
{
  static const double p[4][3] = { { 0.25, 0.5, 0.25 },
                                  { 0.25, 0.25, 0.5 },
                                  { 0.5, 0.25, 0.25 },
                                  { 0.5, 0.25, 0.25 } };
  static const double expected_grad[4][3] = { { -3.0 / 16, 1.0 / 8, 1.0 / 16 },
                                              { -3.0 / 16, 1.0 / 16, 1.0 / 8 },
                                              { 1.0 / 8, -1.0 / 16, -1.0 / 16 },
                                              { 1.0 / 8, -1.0 / 16, -1.0 / 16 } };
  const double l2 = log (2.0);
  float outputs[12], grad[12] = { 0 };
  VetoLossBatch batch = { outputs, grad, 4, 3, 3 };
  VetoLossLabel cls[] = { { 0, 0 }, { 1, 0 }, { 2, 1 }, { 3, 2 } };
  double risk[3], after[3];

  for (guint i = 0; i < 4; i++)
    for (guint j = 0; j < 3; j++)
      outputs[i * 3 + j] = (float) log (p[i][j]);
  veto_loss_ure_partial_risks (&batch, cls, 4, NULL, NULL, risk);
  g_assert_cmpfloat_with_epsilon (risk[0], -l2 / 2, 1e-6);
  g_assert_cmpfloat_with_epsilon (risk[1], 3 * l2 / 4, 1e-6);
  g_assert_cmpfloat_with_epsilon (risk[2], 3 * l2 / 4, 1e-6);
  g_assert_cmpfloat_with_epsilon (veto_loss_ure_ga (&batch, cls, 4, NULL, NULL, 1.0), l2 / 2,
                                  1e-6);
  for (guint i = 0; i < 4; i++)
    for (guint j = 0; j < 3; j++)
      g_assert_cmpfloat_with_epsilon (grad[i * 3 + j], expected_grad[i][j], 1e-6);

  /* The step the trainer takes (against the gradient) raises the negative risk. */
  for (guint i = 0; i < 12; i++)
    outputs[i] -= 0.1f * grad[i];
  veto_loss_ure_partial_risks (&batch, cls, 4, NULL, NULL, after);
  g_assert_cmpfloat (after[0], >, risk[0] + 0.01);
}

static guint
draw_from (GRand *rand, const double *p, guint k)
{
  double u = g_rand_double (rand);

  for (guint c = 0; c + 1 < k; c++)
    {
      if (u < p[c])
        return c;
      u -= p[c];
    }
  return k - 1;
}

/* The population property behind URE-NN / URE-GA: on data drawn here (class prior pi, a fixed
 * noisy scorer, CLs drawn through Q), each R_j matches pi_j E_{x|y=j}[l_j] computed from the
 * true labels, which is >= 0. The split by CL class has no such meaning and fails this. */
static void
test_ure_population (void)
{
  enum { K = 4, N = 100000 };
  static const double prior[K] = { 0.4, 0.3, 0.2, 0.1 };
  /* rows = true class; zero diagonal, far from uniform */
  static const double q[K * K] = { 0.0, 0.6, 0.3, 0.1,
                                   0.2, 0.0, 0.5, 0.3,
                                   0.5, 0.25, 0.0, 0.25,
                                   0.1, 0.3, 0.6, 0.0 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  g_autofree float *outputs = g_new (float, (gsize) N * K);
  g_autofree VetoLossLabel *cls = g_new (VetoLossLabel, N);
  g_autofree guint *gold = g_new (guint, N);
  double q_inv[K * K], uniform[K * K];
  g_autoptr (GError) error = NULL;
  VetoLossBatch batch = { outputs, NULL, N, K, K };

  g_assert_true (veto_loss_matrix_invert (q, K, q_inv, &error));
  g_assert_no_error (error);
  for (guint y = 0; y < K; y++)
    for (guint c = 0; c < K; c++)
      uniform[y * K + c] = y == c ? 0.0 : 1.0 / (K - 1);

  for (guint m = 0; m < 2; m++)
    {
      const double *transition = m == 0 ? uniform : q;
      double target[K] = { 0 }, risk[K];

      for (guint i = 0; i < N; i++)
        {
          float *z = outputs + (gsize) i * K;

          gold[i] = draw_from (rand, prior, K);
          for (guint c = 0; c < K; c++)
            {
              double u1 = g_rand_double_range (rand, 1e-12, 1.0), u2 = g_rand_double (rand);

              z[c] = (float) ((c == gold[i] ? 1.0 : 0.0)
                              + 0.8 * sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2));
            }
          cls[i] = (VetoLossLabel) { i, draw_from (rand, transition + gold[i] * K, K) };
          target[gold[i]] += neg_log_softmax (z, K, gold[i]) / N;
        }
      veto_loss_ure_partial_risks (&batch, cls, N, m == 0 ? NULL : q_inv, NULL, risk);
      for (guint j = 0; j < K; j++)
        {
          g_assert_cmpfloat (target[j], >, 0.0);
          g_assert_cmpfloat (risk[j], >=, 0.0);
          g_assert_cmpfloat_with_epsilon (risk[j], target[j], 0.03 + 0.05 * target[j]);
        }
    }
}

/* The URE estimate of the 0-1 risk, the criterion that chooses a model without gold, is
 * unbiased: on items and predictions drawn here, its expectation over the CL each item could
 * get (Q[y][c]) is the error rate of argmax p against the true classes, exactly; and the mean
 * over CLs drawn through Q lands within a few standard errors of it. SCEL is not an error
 * rate: its expectation is a likelihood, checked here to rank the two models the same way. */
static void
test_ure_risk_unbiased (void)
{
  enum { K = 4, N = 50000, DRAWS = 4 };
  static const double prior[K] = { 0.4, 0.3, 0.2, 0.1 };
  static const double q[K * K] = { 0.0, 0.6, 0.3, 0.1,
                                   0.2, 0.0, 0.5, 0.3,
                                   0.5, 0.25, 0.0, 0.25,
                                   0.1, 0.3, 0.6, 0.0 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (23);
  g_autofree float *probs = g_new (float, (gsize) N * K);
  g_autofree guint *gold = g_new (guint, N);
  g_autofree guint *cls = g_new (guint, N);
  double q_inv[K * K], uniform[K * K], scel[2] = { 0 };
  g_autoptr (GError) error = NULL;

  g_assert_true (veto_loss_matrix_invert (q, K, q_inv, &error));
  for (guint y = 0; y < K; y++)
    for (guint c = 0; c < K; c++)
      uniform[y * K + c] = y == c ? 0.0 : 1.0 / (K - 1);
  for (guint m = 0; m < 2; m++)
    {
      const double *transition = m == 0 ? uniform : q;
      /* sharpness 0: a weak model; 1: a better one, for the SCEL ranking */
      for (guint model = 0; model < 2; model++)
        {
          double errors = 0.0, expected = 0.0, drawn = 0.0, drawn2 = 0.0;

          for (guint i = 0; i < N; i++)
            {
              float *p = probs + (gsize) i * K;
              double z[K], total = 0.0;

              gold[i] = draw_from (rand, prior, K);
              for (guint c = 0; c < K; c++)
                {
                  double u1 = g_rand_double_range (rand, 1e-12, 1.0), u2 = g_rand_double (rand);

                  z[c] = (c == gold[i] ? 0.5 + 1.5 * model : 0.0)
                         + sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
                  total += exp (z[c]);
                }
              for (guint c = 0; c < K; c++)
                p[c] = (float) (exp (z[c]) / total);
            }
          for (guint i = 0; i < N; i++)
            {
              const float *p = probs + (gsize) i * K;
              guint best = 0;

              for (guint c = 1; c < K; c++)
                if (p[c] > p[best])
                  best = c;
              errors += best != gold[i];
              /* the expectation over the item's possible CLs, term by term */
              for (guint c = 0; c < K; c++)
                if (transition[gold[i] * K + c] > 0)
                  expected += transition[gold[i] * K + c]
                              * veto_loss_ure_risk (p, 1, K, &c, m == 0 ? NULL : q_inv);
            }
          errors /= N;
          expected /= N;
          g_assert_cmpfloat (errors, >, 0.05);
          g_assert_cmpfloat_with_epsilon (expected, errors, 1e-9);
          /* CLs drawn through Q: the mean of DRAWS × N terms, within 4 standard errors */
          for (guint t = 0; t < DRAWS; t++)
            {
              double r;

              for (guint i = 0; i < N; i++)
                cls[i] = draw_from (rand, transition + gold[i] * K, K);
              r = veto_loss_ure_risk (probs, N, K, cls, m == 0 ? NULL : q_inv);
              drawn += r / DRAWS;
              drawn2 += r * r / DRAWS;
              if (t == 0)
                scel[model] = veto_loss_scel (probs, N, K, cls, m == 0 ? NULL : q);
            }
          g_assert_cmpfloat (fabs (drawn - errors), <,
                             4.0 * sqrt (MAX (drawn2 - drawn * drawn, 1e-6) / DRAWS) + 0.01);
        }
      g_assert_cmpfloat (scel[1], <, scel[0]);
    }
}

/* Luce weights drawn here, answers simulated from them on uniform 3-of-5 sets, recovered by
 * the MM fit; with no answers the fit is its prior (uniform, noise weight at the prior). */
static void
test_fit_annotator (void)
{
  enum { K = 5, M = 3, N = 30000 };
  static const double noise = 0.3;
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autofree VetoLossChoiceObservation *obs = g_new (VetoLossChoiceObservation, N);
  g_autofree guint *shown = g_new (guint, N * M);
  g_autofree double *truth = g_new0 (double, N * K);
  g_autoptr (GError) error = NULL;
  double a[K * K], fitted[K * K], named;

  /* Luce weights are defined up to a factor per row: the model's wrong classes average 1. */
  for (guint y = 0; y < K; y++)
    {
      double sum = 0.0;

      for (guint c = 0; c < K; c++)
        if (c != y)
          sum += a[y * K + c] = 0.2 + 3.0 * ((y * 3 + c * 7) % 5) / 4.0;
      for (guint c = 0; c < K; c++)
        a[y * K + c] = c == y ? noise : a[y * K + c] * (K - 1) / sum;
    }
  for (guint t = 0; t < N; t++)
    {
      guint y = t % K, pool[K];
      double total = 0.0, r;

      for (guint c = 0; c < K; c++)
        pool[c] = c;
      for (guint i = 0; i < M; i++)
        {
          guint j = g_rand_int_range (rand, i, K), tmp = pool[i];

          pool[i] = pool[j];
          pool[j] = tmp;
          shown[t * M + i] = pool[i];
          total += a[y * K + pool[i]];
        }
      r = g_rand_double (rand) * total;
      obs[t] = (VetoLossChoiceObservation) { shown + t * M, M, shown[t * M + M - 1],
                                             truth + t * K };
      for (guint i = 0; i < M; i++)
        {
          if (r < a[y * K + shown[t * M + i]])
            {
              obs[t].answer = shown[t * M + i];
              break;
            }
          r -= a[y * K + shown[t * M + i]];
        }
      truth[t * K + y] = 1.0;
    }
  g_assert_true (veto_loss_fit_annotator (obs, N, K, 1.0, fitted, &named, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < K * K; i++)
    g_assert_cmpfloat_with_epsilon (fitted[i], a[i], 0.1 * a[i] + 0.02);
  /* the share of answers naming the truth when it is shown, as the true weights give it */
  {
    double expected = 0.0, count = 0.0;

    for (guint t = 0; t < N; t++)
      for (guint i = 0; i < M; i++)
        if (shown[t * M + i] == t % K)
          {
            double total = 0.0;

            for (guint j = 0; j < M; j++)
              total += a[(t % K) * K + shown[t * M + j]];
            expected += noise / total;
            count++;
          }
    g_assert_cmpfloat_with_epsilon (named, expected / count, 0.01);
  }

  g_assert_true (veto_loss_fit_annotator (obs, 0, K, 1.0, fitted, NULL, &error));
  for (guint y = 0; y < K; y++)
    for (guint c = 0; c < K; c++)
      g_assert_cmpfloat_with_epsilon (fitted[y * K + c], c == y ? VETO_LOSS_PRIOR_NOISE : 1.0,
                                      1e-12);
  /* An answer outside the set shown is refused. */
  obs[0].answer = (shown[0] + 1) % K == shown[1] || (shown[0] + 1) % K == shown[2]
                      ? (shown[0] + 2) % K == shown[1] || (shown[0] + 2) % K == shown[2]
                            ? (shown[0] + 3) % K
                            : (shown[0] + 2) % K
                      : (shown[0] + 1) % K;
  g_assert_false (veto_loss_fit_annotator (obs, 1, K, 1.0, fitted, NULL, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
}

/* One answer of a Luce annotator with weights a for an item of class y, on a uniform m-subset
 * of the k classes written to shown. */
static guint
draw_luce_answer (GRand *rand, const double *a, guint k, guint m, guint y, guint *shown)
{
  guint pool[16];
  double total = 0.0, r;

  for (guint c = 0; c < k; c++)
    pool[c] = c;
  for (guint i = 0; i < m; i++)
    {
      guint j = g_rand_int_range (rand, i, k), tmp = pool[i];

      pool[i] = pool[j];
      pool[j] = tmp;
      shown[i] = pool[i];
      total += a[y * k + pool[i]];
    }
  r = g_rand_double (rand) * total;
  for (guint i = 0; i + 1 < m; i++)
    {
      if (r < a[y * k + shown[i]])
        return shown[i];
      r -= a[y * k + shown[i]];
    }
  return shown[m - 1];
}

/* Mean |Â − A| over the wrong-class weights (both rows scaled to mean 1 there). */
static double
weight_error (const double *fitted, const double *a, guint k)
{
  double total = 0.0;

  for (guint y = 0; y < k; y++)
    {
      double sf = 0.0, sa = 0.0;

      for (guint c = 0; c < k; c++)
        if (c != y)
          {
            sf += fitted[y * k + c];
            sa += a[y * k + c];
          }
      for (guint c = 0; c < k; c++)
        if (c != y)
          total += fabs (fitted[y * k + c] / sf - a[y * k + c] / sa) * (k - 1);
    }
  return total / (k * (k - 1));
}

/* veto_loss_fit_annotator_cv ()'s pull, worked by hand: the test cross-validates the public
 * fixed-strength fit over the same folds (observation t in fold t mod 5) and strengths, and the
 * library must pull VETO_LOSS_PULL_FACTOR times the best of them, and fit at that pull. On 300
 * answers of a skewed annotator the best is a middling pull, so both ends of the rule are
 * reached; below 5 answers it is the strongest, times the factor. */
static void
test_fit_annotator_pull (void)
{
  enum { K = 6, M = 4, N = 300, FOLDS = 5 };
  static const double strengths[] = { 1, 2, 5, 10, 20, 50 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (23);
  g_autofree VetoLossChoiceObservation *obs = g_new (VetoLossChoiceObservation, N);
  g_autofree VetoLossChoiceObservation *train = g_new (VetoLossChoiceObservation, N);
  g_autofree guint *shown = g_new (guint, N * M);
  g_autofree double *truth = g_new0 (double, N * K);
  g_autoptr (GError) error = NULL;
  double a[K * K], fitted[K * K], by_hand[K * K], ones[K * K], best = -INFINITY;
  double best_strength = 0, strength;

  for (guint y = 0; y < K; y++)
    for (guint c = 0; c < K; c++)
      a[y * K + c] = c == y ? 0.2 : c == (y + 1) % K ? 3.0 : 1.0;
  for (guint t = 0; t < N; t++)
    {
      guint y = g_rand_int_range (rand, 0, K);

      obs[t] = (VetoLossChoiceObservation) {
        shown + t * M, M, draw_luce_answer (rand, a, K, M, y, shown + t * M), truth + t * K
      };
      truth[t * K + y] = 1.0;
    }
  for (guint s = 0; s < G_N_ELEMENTS (strengths); s++)
    {
      double held_out = 0.0;

      for (guint fold = 0; fold < FOLDS; fold++)
        {
          guint m = 0;

          for (guint t = 0; t < N; t++)
            if (t % FOLDS != fold)
              train[m++] = obs[t];
          g_assert_true (veto_loss_fit_annotator (train, m, K, strengths[s], fitted, NULL,
                                                  &error));
          for (guint t = fold; t < N; t += FOLDS)
            {
              guint y = 0;
              double total = 0.0;

              while (truth[t * K + y] == 0.0)
                y++;
              for (guint i = 0; i < M; i++)
                total += fitted[y * K + obs[t].shown[i]];
              held_out += log (fitted[y * K + obs[t].answer] / total);
            }
        }
      if (held_out > best)
        {
          best = held_out;
          best_strength = strengths[s];
        }
    }
  g_assert_cmpfloat (best_strength, >, 1);
  g_assert_cmpfloat (best_strength, <, 50);
  g_assert_true (veto_loss_fit_annotator_cv (obs, N, K, fitted, &strength, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (strength, ==, VETO_LOSS_PULL_FACTOR * best_strength);
  g_assert_true (veto_loss_fit_annotator (obs, N, K, strength, by_hand, NULL, &error));
  for (guint i = 0; i < K * K; i++)
    g_assert_cmpfloat_with_epsilon (fitted[i], by_hand[i], 1e-12);
  /* the pull errs towards uniform: the fit is nearer uniform than the likelihood's choice */
  for (guint i = 0; i < K * K; i++)
    ones[i] = 1.0;
  g_assert_true (veto_loss_fit_annotator (obs, N, K, best_strength, by_hand, NULL, &error));
  g_assert_cmpfloat (weight_error (fitted, ones, K), <, weight_error (by_hand, ones, K));
  g_assert_true (veto_loss_fit_annotator_cv (obs, 4, K, fitted, &strength, NULL, &error));
  g_assert_cmpfloat (strength, ==, VETO_LOSS_PULL_FACTOR * 50);
}

/* EM's first E-step solved by hand: prior (0.5, 0.3, 0.2), answer 0 from {0, 1} under the
 * prior model (noise weight 0.1, wrong classes 1): pi ∝ (0.5 · 0.1/1.1, 0.3 · 1/1.1, 0.2 · 1/2).
 * A gold item (one-hot prior) stays one-hot, and the noise weight stays the one EM started
 * from. */
static void
test_fit_annotator_em_known (void)
{
  enum { K = 3 };
  guint shown[] = { 0, 1 }, item_of[] = { 0, 1 };
  VetoLossChoiceObservation obs[] = { { shown, 2, 0, NULL }, { shown, 2, 1, NULL } };
  double priors[] = { 0.5, 0.3, 0.2, 0.0, 0.0, 1.0 }, a[K * K], post[2 * K];
  double z = 0.5 * 0.1 / 1.1 + 0.3 / 1.1 + 0.2 / 2;
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < K * K; i++)
    a[i] = i % (K + 1) == 0 ? 0.1 : 1.0;
  g_assert_true (veto_loss_fit_annotator_em (obs, item_of, 2, priors, 2, K, 1, a, post, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat_with_epsilon (post[0], 0.5 * 0.1 / 1.1 / z, 1e-12);
  g_assert_cmpfloat_with_epsilon (post[1], 0.3 / 1.1 / z, 1e-12);
  g_assert_cmpfloat_with_epsilon (post[2], 0.2 / 2 / z, 1e-12);
  g_assert_cmpfloat (post[3], ==, 0.0);
  g_assert_cmpfloat (post[4], ==, 0.0);
  g_assert_cmpfloat (post[5], ==, 1.0);
  for (guint y = 0; y < K; y++)
    g_assert_cmpfloat (a[y * K + y], ==, 0.1);
  /* an answer about an item that does not exist is refused */
  item_of[1] = 2;
  g_assert_false (veto_loss_fit_annotator_em (obs, item_of, 2, priors, 2, K, 1, a, NULL, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
}

/* A population property of EM: a skewed annotator answers one question on each of 3,000
 * items, 150 of them gold; with a calibrated prior on the others (0.6 on a class that is the
 * true one 60% of the time, 0.1 on each other), EM from the gold-only fit recovers the weights
 * better than the gold-only fit does. */
static void
test_fit_annotator_em_recovers (void)
{
  enum { K = 5, M = 3, N = 3000, GOLD = 150 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  g_autofree VetoLossChoiceObservation *obs = g_new (VetoLossChoiceObservation, N);
  g_autofree guint *shown = g_new (guint, N * M), *item_of = g_new (guint, N);
  g_autofree double *truth = g_new0 (double, N * K), *priors = g_new (double, N * K);
  g_autoptr (GError) error = NULL;
  double a[K * K], gold_fit[K * K], em_fit[K * K];

  /* class y names y+1 four times as often as another wrong class */
  for (guint y = 0; y < K; y++)
    for (guint c = 0; c < K; c++)
      a[y * K + c] = c == y ? 0.2 : c == (y + 1) % K ? 4.0 : 1.0;
  for (guint t = 0; t < N; t++)
    {
      guint y = g_rand_int_range (rand, 0, K);
      /* a calibrated prior: its peak is the true class 60% of the time */
      guint peak = g_rand_double (rand) < 0.6 ? y : (y + g_rand_int_range (rand, 1, K)) % K;

      obs[t] = (VetoLossChoiceObservation) {
        shown + t * M, M, draw_luce_answer (rand, a, K, M, y, shown + t * M), truth + t * K
      };
      truth[t * K + y] = 1.0;
      item_of[t] = t;
      for (guint c = 0; c < K; c++)
        priors[t * K + c] = t < GOLD ? (c == y) : c == peak ? 0.6 : 0.1;
    }
  g_assert_true (veto_loss_fit_annotator_cv (obs, GOLD, K, gold_fit, NULL, NULL, &error));
  memcpy (em_fit, gold_fit, sizeof em_fit);
  g_assert_true (veto_loss_fit_annotator_em (obs, item_of, N, priors, N, K, 5, em_fit, NULL,
                                             &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (weight_error (em_fit, a, K), <, 0.6 * weight_error (gold_fit, a, K));
  g_assert_cmpfloat (weight_error (em_fit, a, K), <, 0.15);
}

/* FWD's Q from a Luce model: all weights equal give every class 1/K (each is shown m/K of the
 * time and then named 1/m of it); a model fitted to 20,000 simulated answers gives the Q of
 * the true weights within 0.025 (measured 0.012 at most; 0.0065 is one standard error of
 * an entry counted from the answers); sizes no enumeration can cover are refused. */
static void
test_annotator_transition (void)
{
  enum { K = 6, M = 4, N = 20000 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  g_autofree VetoLossChoiceObservation *obs = g_new (VetoLossChoiceObservation, N);
  g_autofree guint *shown = g_new (guint, N * M);
  g_autofree double *truth = g_new0 (double, N * K);
  g_autoptr (GError) error = NULL;
  double a[K * K], fitted[K * K], q[K * K], q_true[K * K], ones[K * K];

  for (guint i = 0; i < K * K; i++)
    ones[i] = 1.0;
  g_assert_true (veto_loss_annotator_transition (ones, K, M, q, &error));
  for (guint i = 0; i < K * K; i++)
    g_assert_cmpfloat_with_epsilon (q[i], 1.0 / K, 1e-12);
  for (guint y = 0; y < K; y++)
    for (guint c = 0; c < K; c++)
      a[y * K + c] = c == y ? 0.3 : 0.3 + (y * 5 + c * 3) % 7;
  for (guint t = 0; t < N; t++)
    {
      guint y = t % K;

      obs[t] = (VetoLossChoiceObservation) {
        shown + t * M, M, draw_luce_answer (rand, a, K, M, y, shown + t * M), truth + t * K
      };
      truth[t * K + y] = 1.0;
    }
  g_assert_true (veto_loss_fit_annotator_cv (obs, N, K, fitted, NULL, NULL, &error));
  g_assert_true (veto_loss_annotator_transition (a, K, M, q_true, &error));
  g_assert_true (veto_loss_annotator_transition (fitted, K, M, q, &error));
  g_assert_no_error (error);
  for (guint y = 0; y < K; y++)
    {
      double row = 0.0;

      for (guint c = 0; c < K; c++)
        {
          row += q[y * K + c];
          g_assert_cmpfloat_with_epsilon (q[y * K + c], q_true[y * K + c], 0.025);
        }
      g_assert_cmpfloat_with_epsilon (row, 1.0, 1e-9);
    }
  g_assert_false (veto_loss_annotator_transition (a, K, 1, q, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
}

static void
test_candidate_absent (void)
{
  /* K = 6, S = {0, 1, 2, 3}: all the mass on classes not shown, so the uniform annotator
   * answers uniformly among 4 and the loss is log 4 whatever the choice and epsilon. */
  float outputs[] = { -60.0f, -60.0f, -60.0f, -60.0f, 1.0f, -0.5f };
  VetoLossBatch batch = { outputs, NULL, 1, 6, 6 };
  guint shown[] = { 0, 1, 2, 3 };

  for (guint cl = 0; cl < 4; cl++)
    {
      VetoLossChoice choice = { 0, cl, shown, 4 };

      g_assert_cmpfloat_with_epsilon (veto_loss_candidate (&batch, &choice, 1, NULL, 1e-3, 1.0),
                                      log (4.0), 1e-12);
      g_assert_cmpfloat_with_epsilon (veto_loss_candidate (&batch, &choice, 1, NULL, 0.3, 1.0),
                                      log (4.0), 1e-12);
    }
}

static void
test_candidate_by_hand (void)
{
  /* K = 3, p = (0.2, 0.3, 0.5), S = {0, 1}, CL 0: y = 0 picks itself with eps / (eps + 1),
   * y = 1 picks 0 with 1 / (1 + eps), y = 2 (not shown) picks 0 with 1/2. */
  float outputs[] = { (float) log (0.2), (float) log (0.3), (float) log (0.5) };
  VetoLossBatch batch = { outputs, NULL, 1, 3, 3 };
  guint shown[] = { 1, 0 };
  VetoLossChoice choice = { 0, 0, shown, 2 };
  double eps = 1e-3;
  double expected = -log (0.2 * eps / (1 + eps) + 0.3 / (1 + eps) + 0.5 / 2);
  double a[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
  /* with A: P(0 | y, S) = A[y][0] / (A[y][0] + A[y][1]) */
  double expected_a = -log (0.2 * 1 / 3.0 + 0.3 * 4 / 9.0 + 0.5 * 7 / 15.0);

  g_assert_cmpfloat_with_epsilon (veto_loss_candidate (&batch, &choice, 1, NULL, eps, 1.0),
                                  expected, 1e-7);
  g_assert_cmpfloat_with_epsilon (veto_loss_candidate (&batch, &choice, 1, a, eps, 1.0),
                                  expected_a, 1e-7);
  /* the answer's own model wins over the one the loss is called with */
  choice.a = a;
  g_assert_cmpfloat_with_epsilon (veto_loss_candidate (&batch, &choice, 1, NULL, eps, 1.0),
                                  expected_a, 1e-7);
}

static void
test_preference_known (void)
{
  float outputs[] = { 0, 0, 1.5f, 0, 0, 1.5f, 0, 0, -0.5f };
  VetoLossBatch batch = { outputs, NULL, 3, 3, 2 };
  VetoLossPair equal[] = { { 0, 1, 0, 1.0, -1 }, { 1, 0, 0, 0.5, -1 }, { 0, 1, 0, 0.0, -1 } };
  VetoLossPair win = { 0, 2, 0, 1.0, -1 };
  VetoLossPair loss = { 0, 2, 0, 0.0, -1 };

  g_assert_cmpfloat_with_epsilon (veto_loss_bradley_terry (&batch, equal, 3, 1.0), log (2.0),
                                  1e-12);
  g_assert_cmpfloat_with_epsilon (veto_loss_bradley_terry (&batch, &win, 1, 1.0),
                                  log1p (exp (-2.0)), 1e-12);
  g_assert_cmpfloat_with_epsilon (veto_loss_bradley_terry (&batch, &loss, 1, 1.0),
                                  log1p (exp (2.0)), 1e-12);
}

static void
test_consistency_known (void)
{
  /* K = 2, one head. p_0(row 0) = sigmoid(1), p_0(row 1) = 1/2. */
  float outputs[] = { 1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f };
  VetoLossBatch batch = { outputs, NULL, 2, 3, 2 };
  double gap = 1.0 / (1.0 + exp (-1.0)) - 0.5;
  VetoLossPair agree = { 0, 1, 0, 1.0, 0 };
  VetoLossPair disagree = { 0, 1, 0, 0.0, 0 };
  VetoLossPair pairs[] = { { 0, 1, 0, 0.0, 0 }, { 0, 1, 0, 0.5, 0 }, { 0, 1, 0, 0.0, -1 } };

  g_assert_cmpfloat (veto_loss_consistency (&batch, &agree, 1, 0.1, 1.0), ==, 0.0);
  g_assert_cmpfloat_with_epsilon (veto_loss_consistency (&batch, &agree, 1, 0.5, 1.0), 0.5 - gap,
                                  1e-12);
  g_assert_cmpfloat_with_epsilon (veto_loss_consistency (&batch, &disagree, 1, 0.1, 1.0),
                                  0.1 + gap, 1e-12);
  /* ties and pairs without a shared label are not counted, not even in the mean */
  g_assert_cmpfloat_with_epsilon (veto_loss_consistency (&batch, pairs, 3, 0.1, 1.0), 0.1 + gap,
                                  1e-12);
}

static void
test_proportion_soft_known (void)
{
  float outputs[3 * 4] = { 0 };
  VetoLossBatch batch = { outputs, NULL, 3, 4, 4 };
  guint rows[] = { 0, 1, 2 };
  double uniform[] = { 0.25, 0.25, 0.25, 0.25 };
  double one_hot[] = { 1, 0, 0, 0 };
  VetoLossBag fit = { rows, 3, uniform };
  VetoLossBag miss = { rows, 3, one_hot };
  float teacher[] = { 0.25f, 0.25f, 0.25f, 0.25f };
  float sharp[] = { 1, 0, 0, 0 };
  VetoLossSoft same = { 1, teacher };
  VetoLossSoft other = { 1, sharp };

  g_assert_cmpfloat_with_epsilon (veto_loss_proportion (&batch, &fit, 1, 1.0), 0.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (veto_loss_proportion (&batch, &miss, 1, 1.0), log (4.0), 1e-12);
  g_assert_cmpfloat_with_epsilon (veto_loss_soft (&batch, &same, 1, 3.0, 1.0), 0.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (veto_loss_soft (&batch, &other, 1, 1.0, 1.0), log (4.0), 1e-12);
}

/* Helpers */

static void
test_invert (void)
{
  double m[] = { 1, 2, 3, 0, 1, 4, 5, 6, 0 };
  double expected[] = { -24, 18, 5, 20, -15, -4, -5, 4, 1 };
  double inv[9];
  double singular[] = { 1, 2, 2, 4 };
  double out[4];
  g_autoptr (GError) error = NULL;

  g_assert_true (veto_loss_matrix_invert (m, 3, inv, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 9; i++)
    g_assert_cmpfloat_with_epsilon (inv[i], expected[i], 1e-10);

  g_assert_false (veto_loss_matrix_invert (singular, 2, out, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_SINGULAR);
}

static void
test_estimate_transition (void)
{
  guint gold[] = { 0, 0, 0, 1 };
  guint cls[] = { 1, 1, 2, 0 };
  /* Q_hat: row 0 (0, 2/3, 1/3), row 1 (1, 0, 0), row 2 unseen = U (1/2, 1/2, 0);
   * U row 1 is (1/2, 0, 1/2). */
  double expected_half[] = { 0, 0.25 + 1 / 3.0, 0.25 + 1 / 6.0, 0.75, 0, 0.25, 0.5, 0.5, 0 };
  double expected_raw[] = { 0, 2 / 3.0, 1 / 3.0, 1, 0, 0, 0.5, 0.5, 0 };
  double q[9];
  guint bad[] = { 3 };
  g_autoptr (GError) error = NULL;

  g_assert_true (veto_loss_estimate_transition (gold, cls, 4, 3, 0.5, q, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 9; i++)
    g_assert_cmpfloat_with_epsilon (q[i], expected_half[i], 1e-12);
  g_assert_true (veto_loss_estimate_transition (gold, cls, 4, 3, 0.0, q, &error));
  for (guint i = 0; i < 9; i++)
    g_assert_cmpfloat_with_epsilon (q[i], expected_raw[i], 1e-12);

  g_assert_false (veto_loss_estimate_transition (bad, cls, 1, 3, 0.5, q, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (veto_loss_estimate_transition (gold, cls, 4, 3, 1.5, q, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
}

static void
test_ece (void)
{
  /* Row 0 right and row 1 wrong share bin 13 (confidences 0.90, 0.92): |1 - 1.82|;
   * row 2 right in bin 9 (0.65): 0.35; row 3 right in bin 8 (0.55): 0.45. */
  float probs[] = { 0.90f, 0.10f, 0.08f, 0.92f, 0.35f, 0.65f, 0.55f, 0.45f };
  guint gold[] = { 0, 0, 1, 0 };
  double accuracy = -1;

  g_assert_cmpfloat_with_epsilon (veto_loss_ece (probs, 4, 2, gold, &accuracy),
                                  (0.82 + 0.35 + 0.45) / 4, 1e-6);
  g_assert_cmpfloat_with_epsilon (accuracy, 0.75, 1e-12);
}

static void
test_validation_scores (void)
{
  float probs[] = { 0.7f, 0.1f, 0.1f, 0.1f, 0.1f, 0.2f, 0.3f, 0.4f, 0.25f, 0.25f, 0.4f, 0.1f };
  guint cls[] = { 0, 1, 2 };
  guint decoded[3];
  double uniform_q[16], q_inv[16];
  g_autoptr (GError) error = NULL;
  /* uniform Q: (p^T Q)_cl = (1 - p_cl) / 3 */
  double scel = -(log (0.3 / 3) + log (0.8 / 3) + log (0.6 / 3)) / 3;

  g_assert_cmpfloat_with_epsilon (veto_loss_scel (probs, 3, 4, cls, NULL), scel, 1e-6);
  /* argmax = 0, 3, 2: rows 0 and 2 predict their CL, so the risk is 3 * 2/3 */
  g_assert_cmpfloat_with_epsilon (veto_loss_ure_risk (probs, 3, 4, cls, NULL), 2.0, 1e-12);

  for (guint y = 0; y < 4; y++)
    for (guint c = 0; c < 4; c++)
      uniform_q[y * 4 + c] = y == c ? 0 : 1 / 3.0;
  g_assert_true (veto_loss_matrix_invert (uniform_q, 4, q_inv, &error));
  g_assert_cmpfloat_with_epsilon (veto_loss_ure_risk (probs, 3, 4, cls, q_inv), 2.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (veto_loss_scel (probs, 3, 4, cls, uniform_q), scel, 1e-6);

  /* with the uniform Q, CPE decoding is the argmax */
  veto_loss_cpe_decode (probs, 3, 4, NULL, decoded);
  g_assert_cmpuint (decoded[0], ==, 0);
  g_assert_cmpuint (decoded[1], ==, 3);
  g_assert_cmpuint (decoded[2], ==, 2);
}

static void
test_names (void)
{
  g_autoptr (GError) error = NULL;
  VetoLossComplementary loss;

  for (guint i = 0; i <= VETO_LOSS_COMPLEMENTARY_CANDIDATE; i++)
    {
      const char *name = veto_loss_complementary_to_string ((VetoLossComplementary) i);

      g_assert_nonnull (name);
      g_assert_true (veto_loss_complementary_from_string (name, &loss, &error));
      g_assert_no_error (error);
      g_assert_cmpint (loss, ==, i);
    }
  g_assert_false (veto_loss_complementary_from_string ("nope", &loss, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
}

/* The objective */

#define OBJ_UNITS 10
#define OBJ_K 4

static VetoObjective *
mixed_objective (void)
{
  g_autoptr (VetoObjective) obj = veto_objective_new (OBJ_UNITS, OBJ_K, N_HEADS);
  g_autoptr (GError) error = NULL;
  guint shown0[] = { 1, 3, 0 };
  guint shown1[] = { 2, 0, 3 };
  guint shown1b[] = { 0, 1, 2 };
  guint shown4[] = { 1, 2, 3 };
  guint bag_a[] = { 2, 7, 9 };
  guint bag_b[] = { 4, 5 };
  double pi_a[] = { 0.5, 0.25, 0.25, 0 };
  double pi_b[] = { 0, 1, 1, 0 };
  float teacher0[] = { 0.25f, 0.25f, 0.25f, 0.25f };
  float teacher3[] = { 0.7f, 0.1f, 0.1f, 0.1f };

  g_assert_true (veto_objective_add_ordinary (obj, 0, 2, &error));
  g_assert_true (veto_objective_add_ordinary (obj, 3, 1, &error));
  g_assert_true (veto_objective_add_ordinary (obj, 7, 0, &error));
  g_assert_true (veto_objective_add_complementary (obj, 0, 1, shown0, 3, &error));
  g_assert_true (veto_objective_add_complementary (obj, 1, 2, shown1, 3, &error));
  g_assert_true (veto_objective_add_complementary (obj, 1, 0, shown1b, 3, &error));
  g_assert_true (veto_objective_add_complementary (obj, 2, 3, NULL, 0, &error));
  g_assert_true (veto_objective_add_complementary (obj, 4, 1, shown4, 3, &error));
  g_assert_true (veto_objective_add_complementary (obj, 8, 2, NULL, 0, &error));
  g_assert_true (veto_objective_add_complementary (obj, 3, 0, shown1b, 3, &error));
  g_assert_true (veto_objective_add_preference (obj, 0, 6, 0, 1.0, 2, &error));
  g_assert_true (veto_objective_add_preference (obj, 2, 9, 1, 0.0, -1, &error));
  g_assert_true (veto_objective_add_preference (obj, 1, 3, 0, 0.5, 1, &error));
  g_assert_true (veto_objective_add_preference (obj, 3, 8, 1, 0.0, 0, &error));
  g_assert_true (veto_objective_add_bag (obj, bag_a, 3, pi_a, &error));
  g_assert_true (veto_objective_add_bag (obj, bag_b, 2, pi_b, &error));
  g_assert_true (veto_objective_add_soft (obj, 0, teacher0, &error));
  g_assert_true (veto_objective_add_soft (obj, 3, teacher3, &error));
  g_assert_no_error (error);
  veto_objective_set_margin (obj, 0.3);
  veto_objective_set_temperature (obj, 1.5);
  veto_objective_set_weight (obj, VETO_LOSS_KIND_SOFT, 0.5);
  return g_steal_pointer (&obj);
}

static const guint minibatch[] = { 0, 1, 2, 3 };

static void
test_objective_gather (void)
{
  g_autoptr (VetoObjective) obj = mixed_objective ();
  guint rows[OBJ_UNITS];
  guint n = veto_objective_gather (obj, minibatch, 4, rows, OBJ_UNITS);
  guint seen[OBJ_UNITS] = { 0 };
  /* 0..3 themselves, pair partners 6, 9, 8 (3 is already in), bag member 7 */
  gboolean expected[OBJ_UNITS] = { 1, 1, 1, 1, 0, 0, 1, 1, 1, 1 };

  g_assert_cmpuint (n, ==, 8);
  for (guint i = 0; i < 4; i++)
    g_assert_cmpuint (rows[i], ==, minibatch[i]);
  for (guint i = 0; i < n; i++)
    {
      g_assert_true (expected[rows[i]]);
      g_assert_cmpuint (seen[rows[i]]++, ==, 0);
    }
  g_assert_cmpuint (veto_objective_gather (obj, minibatch, 4, rows, 5), ==, 5);
  /* unit 6 is only ever a partner */
  g_assert_cmpuint (veto_objective_gather (obj, (const guint[]) { 6 }, 1, rows, OBJ_UNITS), ==, 1);
  g_assert_cmpuint (veto_objective_get_n_terms (obj, VETO_LOSS_KIND_COMPLEMENTARY), ==, 7);
  g_assert_cmpuint (veto_objective_get_n_terms (obj, VETO_LOSS_KIND_CONSISTENCY), ==, 2);
  g_assert_cmpuint (veto_objective_get_n_outputs (obj), ==, OBJ_K + N_HEADS);
}

typedef struct
{
  VetoObjective *obj;
  const guint *units;
  guint n_units;
  const guint *rows;
  guint n_rows;
} ObjectiveCase;

static double
eval_objective (gconstpointer data, const VetoLossBatch *batch)
{
  const ObjectiveCase *oc = data;

  return veto_objective_loss (oc->obj, oc->units, oc->n_units, oc->rows, oc->n_rows,
                              batch->outputs, batch->n_outputs, batch->grad);
}

static void
random_outputs (float *outputs, guint n, guint32 seed)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);

  for (guint i = 0; i < n; i++)
    outputs[i] = (float) g_rand_double_range (rand, -2.0, 2.0);
}

static void
test_objective_gradient (void)
{
  double q[OBJ_K * OBJ_K], a[OBJ_K * OBJ_K];
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);

  for (guint i = 0; i < OBJ_K * OBJ_K; i++)
    {
      q[i] = i % (OBJ_K + 1) == 0 ? 0.02 : g_rand_double_range (rand, 0.1, 1.0);
      a[i] = g_rand_double_range (rand, 0.0, 2.0);
    }

  for (guint loss = 0; loss <= VETO_LOSS_COMPLEMENTARY_CANDIDATE; loss++)
    for (guint uniform = 0; uniform < 2; uniform++)
      {
        g_autoptr (VetoObjective) obj = mixed_objective ();
        g_autoptr (GError) error = NULL;
        guint rows[OBJ_UNITS];
        float outputs[OBJ_UNITS * (OBJ_K + N_HEADS)];
        ObjectiveCase oc = { obj, minibatch, 4, rows, 0 };

        if (!uniform)
          {
            g_assert_true (veto_objective_set_transition (obj, q, &error));
            g_assert_true (veto_objective_set_annotator (obj, a, &error));
          }
        g_assert_true (veto_objective_set_complementary_loss (obj, loss, &error));
        g_assert_no_error (error);
        oc.n_rows = veto_objective_gather (obj, minibatch, 4, rows, OBJ_UNITS);
        random_outputs (outputs, oc.n_rows * (OBJ_K + N_HEADS), 100 + loss);
        if (g_test_verbose ())
          g_test_message ("objective with %s, %s matrices",
                          veto_loss_complementary_to_string (loss),
                          uniform ? "uniform" : "random");
        check_gradient (eval_objective, &oc, outputs, oc.n_rows, OBJ_K + N_HEADS, OBJ_K);
      }
}

/* Every complementary answer with its annotator's model: the objective's gradient checks for the
 * candidate-aware loss and FWD (one Q per model), and an objective whose answers are all by
 * model 1 equals one with model 1 as its only model. */
static void
test_objective_per_answer (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (9);
  double a[3 * OBJ_K * OBJ_K], q[3 * OBJ_K * OBJ_K];
  guint shown[][3] = { { 1, 3, 0 }, { 2, 0, 3 }, { 0, 1, 2 }, { 1, 2, 3 } };
  VetoLossComplementary losses[] = { VETO_LOSS_COMPLEMENTARY_CANDIDATE,
                                     VETO_LOSS_COMPLEMENTARY_FWD };

  for (guint i = 0; i < 3 * OBJ_K * OBJ_K; i++)
    {
      a[i] = g_rand_double_range (rand, 0.05, 2.0);
      q[i] = g_rand_double_range (rand, 0.05, 1.0);
    }
  for (guint l = 0; l < G_N_ELEMENTS (losses); l++)
    {
      g_autoptr (VetoObjective) obj = veto_objective_new (OBJ_UNITS, OBJ_K, 0);
      g_autoptr (VetoObjective) by1 = veto_objective_new (OBJ_UNITS, OBJ_K, 0);
      g_autoptr (VetoObjective) only1 = veto_objective_new (OBJ_UNITS, OBJ_K, 0);
      g_autoptr (GError) error = NULL;
      guint rows[OBJ_UNITS];
      float outputs[OBJ_UNITS * OBJ_K];
      ObjectiveCase oc = { obj, minibatch, 4, rows, 0 };
      double v1, v2;

      /* models 0, 1, 2, and 5 (not set: model 0's) */
      for (guint t = 0; t < 8; t++)
        {
          guint unit = t % 4, model = t % 4 == 3 ? 5 : t % 3;

          g_assert_true (veto_objective_add_complementary_by (obj, unit, shown[unit][t % 3],
                                                              shown[unit], 3, model, &error));
          g_assert_true (veto_objective_add_complementary_by (by1, unit, shown[unit][t % 3],
                                                              shown[unit], 3, 1, &error));
          g_assert_true (veto_objective_add_complementary (only1, unit, shown[unit][t % 3],
                                                           shown[unit], 3, &error));
        }
      g_assert_true (veto_objective_set_annotators (obj, a, 3, &error));
      g_assert_true (veto_objective_set_transitions (obj, q, 3, &error));
      g_assert_true (veto_objective_set_annotators (by1, a, 3, &error));
      g_assert_true (veto_objective_set_transitions (by1, q, 3, &error));
      g_assert_true (veto_objective_set_annotator (only1, a + OBJ_K * OBJ_K, &error));
      g_assert_true (veto_objective_set_transition (only1, q + OBJ_K * OBJ_K, &error));
      for (guint i = 0; i < 3; i++)
        g_assert_true (veto_objective_set_complementary_loss (i == 0 ? obj : i == 1 ? by1 : only1,
                                                              losses[l], &error));
      g_assert_no_error (error);
      oc.n_rows = veto_objective_gather (obj, minibatch, 4, rows, OBJ_UNITS);
      random_outputs (outputs, oc.n_rows * OBJ_K, 300 + l);
      check_gradient (eval_objective, &oc, outputs, oc.n_rows, OBJ_K, OBJ_K);
      v1 = veto_objective_loss (by1, minibatch, 4, rows, oc.n_rows, outputs, OBJ_K, NULL);
      v2 = veto_objective_loss (only1, minibatch, 4, rows, oc.n_rows, outputs, OBJ_K, NULL);
      g_assert_cmpfloat_with_epsilon (v1, v2, 1e-9 * fabs (v2));
      g_assert_cmpfloat (fabs (veto_objective_loss (obj, minibatch, 4, rows, oc.n_rows, outputs,
                                                    OBJ_K, NULL) - v1), >, 1e-6);
    }
}

/* Two annotators with opposite habits (one names y+1 five times as readily as another wrong
 * class, the other y+2), 600 anchor answers each, and a third with 12: each of the first two
 * gets a model of its own, nearer its own truth than the other's and than the pooled model
 * is; the third gets the pooled model. */
static void
test_fit_annotators (void)
{
  enum { K = 5, M = 3, N = 1212 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (13);
  g_autofree VetoLossChoiceObservation *obs = g_new (VetoLossChoiceObservation, N);
  g_autofree guint *shown = g_new (guint, N * M), *who = g_new (guint, N);
  g_autofree double *truth = g_new0 (double, N * K);
  g_autoptr (GError) error = NULL;
  double habits[2][K * K], pooled[K * K], fitted[3 * K * K], pooled_noise;
  VetoLossAnnotatorFit fits[3];

  for (guint j = 0; j < 2; j++)
    for (guint y = 0; y < K; y++)
      for (guint c = 0; c < K; c++)
        habits[j][y * K + c] = c == y ? 0.05 : c == (y + 1 + j) % K ? 5.0 : 1.0;
  for (guint t = 0; t < N; t++)
    {
      guint y = g_rand_int_range (rand, 0, K);

      who[t] = t < 600 ? 0 : t < 1200 ? 1 : 2;
      obs[t] = (VetoLossChoiceObservation) {
        shown + t * M, M,
        draw_luce_answer (rand, habits[who[t] == 1], K, M, y, shown + t * M), truth + t * K
      };
      truth[t * K + y] = 1.0;
    }
  g_assert_true (veto_loss_fit_annotators (obs, who, N, 3, K, pooled, &pooled_noise, fitted,
                                           fits, &error));
  g_assert_no_error (error);
  for (guint j = 0; j < 2; j++)
    {
      const double *own = fitted + j * K * K;

      g_assert_true (fits[j].own);
      g_assert_cmpuint (fits[j].answers, ==, 600);
      g_assert_cmpfloat (weight_error (own, habits[j], K), <,
                         0.5 * weight_error (own, habits[1 - j], K));
      g_assert_cmpfloat (weight_error (own, habits[j], K), <,
                         0.5 * weight_error (pooled, habits[j], K));
      g_assert_cmpfloat (fits[j].noise, <, 0.05);
    }
  g_assert_false (fits[2].own);
  g_assert_cmpuint (fits[2].answers, ==, 12);
  g_assert_cmpmem (fitted + 2 * K * K, sizeof pooled, pooled, sizeof pooled);
  /* an answer by an annotator out of range is refused */
  who[0] = 3;
  g_assert_false (veto_loss_fit_annotators (obs, who, N, 3, K, pooled, NULL, fitted, NULL,
                                            &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
}

static void
test_objective_ownership (void)
{
  g_autoptr (VetoObjective) obj = mixed_objective ();
  guint rows[OBJ_UNITS], shuffled[OBJ_UNITS];
  float outputs[OBJ_UNITS * (OBJ_K + N_HEADS)], reordered[OBJ_UNITS * (OBJ_K + N_HEADS)];
  float grad[OBJ_UNITS * (OBJ_K + N_HEADS)];
  guint width = OBJ_K + N_HEADS;
  guint n = veto_objective_gather (obj, minibatch, 4, rows, OBJ_UNITS);
  double value;

  random_outputs (outputs, n * width, 3);
  value = veto_objective_loss (obj, minibatch, 4, rows, n, outputs, width, NULL);
  g_assert_true (isfinite (value) && value > 0);

  /* The same rows in another order give the same loss. */
  for (guint r = 0; r < n; r++)
    {
      shuffled[r] = rows[n - 1 - r];
      memcpy (reordered + r * width, outputs + (n - 1 - r) * width, width * sizeof (float));
    }
  g_assert_cmpfloat_with_epsilon (
    veto_objective_loss (obj, minibatch, 4, shuffled, n, reordered, width, NULL), value, 1e-9);

  /* Unit 6 owns nothing (it is only a partner): zero loss, zeroed gradient. */
  for (guint i = 0; i < width; i++)
    grad[i] = 5.0f;
  g_assert_cmpfloat (
    veto_objective_loss (obj, (const guint[]) { 6 }, 1, (const guint[]) { 6 }, 1, outputs, width,
                         grad),
    ==, 0.0);
  for (guint i = 0; i < width; i++)
    g_assert_cmpfloat (grad[i], ==, 0.0f);
}

static void
test_objective_normalisation (void)
{
  g_autoptr (VetoObjective) obj = veto_objective_new (3, 3, 0);
  g_autoptr (GError) error = NULL;
  guint units[] = { 0, 1, 2 };
  float outputs[] = { 0.5f, -1.0f, 0.0f, 2.0f, 0.0f, 1.0f, 0.0f, 0.0f, 0.0f };
  VetoLossBatch batch = { outputs, NULL, 3, 3, 3 };
  VetoLossLabel labels[] = { { 0, 2 }, { 1, 1 } };

  g_assert_true (veto_objective_add_ordinary (obj, 0, 2, &error));
  g_assert_true (veto_objective_add_ordinary (obj, 1, 1, &error));
  veto_objective_set_weight (obj, VETO_LOSS_KIND_ORDINARY, 3.0);
  /* Unit 2 has no answer: the sum of the two CE terms over 3 units. */
  g_assert_cmpfloat_with_epsilon (veto_objective_loss (obj, units, 3, units, 3, outputs, 3, NULL),
                                  3.0 * veto_loss_cross_entropy (&batch, labels, 2, 1.0) * 2 / 3,
                                  1e-9);
}

static void
test_objective_errors (void)
{
  g_autoptr (VetoObjective) obj = veto_objective_new (4, 3, 1);
  g_autoptr (GError) error = NULL;
  guint shown[] = { 0, 1 };
  guint twice[] = { 0, 0, 2 };
  double singular[] = { 0, 0.5, 0.5, 0, 0.5, 0.5, 1, 0, 0 };
  double dead_column[] = { 0, 1, 0, 1, 0, 0, 1, 0, 0 };
  double zeros[] = { 0, 0, 0 };

  g_assert_false (veto_objective_add_complementary (obj, 0, 2, shown, 2, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (veto_objective_add_complementary (obj, 0, 2, twice, 3, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (veto_objective_add_ordinary (obj, 4, 0, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (veto_objective_add_preference (obj, 0, 1, 1, 1.0, -1, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (veto_objective_add_bag (obj, (const guint[]) { 0 }, 1, zeros, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_false (veto_objective_set_transition (obj, dead_column, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID);
  g_clear_error (&error);

  /* A singular Q is fine for FWD, and then blocks the URE losses. */
  g_assert_true (veto_objective_set_complementary_loss (obj, VETO_LOSS_COMPLEMENTARY_FWD, &error));
  g_assert_true (veto_objective_set_transition (obj, singular, &error));
  g_assert_false (veto_objective_set_complementary_loss (obj, VETO_LOSS_COMPLEMENTARY_URE_NN,
                                                         &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_SINGULAR);
  g_clear_error (&error);
  g_assert_true (veto_objective_set_transition (obj, NULL, &error));
  g_assert_true (veto_objective_set_complementary_loss (obj, VETO_LOSS_COMPLEMENTARY_URE, &error));
  g_assert_false (veto_objective_set_transition (obj, singular, &error));
  g_assert_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_SINGULAR);
  g_assert_cmpint (veto_objective_get_complementary_loss (obj), ==, VETO_LOSS_COMPLEMENTARY_URE);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (gradient_cases); i++)
    g_test_add_data_func (gradient_cases[i].path, &gradient_cases[i], test_gradient);
  g_test_add_func ("/loss/known/uniform-logits", test_uniform_logits);
  g_test_add_func ("/loss/known/gradient-accumulates", test_gradient_accumulates);
  g_test_add_func ("/loss/known/fwd-identity", test_fwd_identity);
  g_test_add_func ("/loss/known/ure-identity", test_ure_identity);
  g_test_add_func ("/loss/known/ure-corrections", test_ure_corrections);
  g_test_add_func ("/loss/known/ure-population", test_ure_population);
  g_test_add_func ("/loss/known/ure-ga-step", test_ure_ga_step);
  g_test_add_func ("/loss/population/ure-risk-unbiased", test_ure_risk_unbiased);
  g_test_add_func ("/loss/known/fit-annotator", test_fit_annotator);
  g_test_add_func ("/loss/known/fit-annotator-pull", test_fit_annotator_pull);
  g_test_add_func ("/loss/known/fit-annotator-em", test_fit_annotator_em_known);
  g_test_add_func ("/loss/population/fit-annotator-em", test_fit_annotator_em_recovers);
  g_test_add_func ("/loss/population/annotator-transition", test_annotator_transition);
  g_test_add_func ("/loss/known/candidate-absent", test_candidate_absent);
  g_test_add_func ("/loss/known/candidate-by-hand", test_candidate_by_hand);
  g_test_add_func ("/loss/known/bradley-terry", test_preference_known);
  g_test_add_func ("/loss/known/consistency", test_consistency_known);
  g_test_add_func ("/loss/known/proportion-soft", test_proportion_soft_known);
  g_test_add_func ("/loss/helpers/invert", test_invert);
  g_test_add_func ("/loss/helpers/estimate-transition", test_estimate_transition);
  g_test_add_func ("/loss/helpers/ece", test_ece);
  g_test_add_func ("/loss/helpers/validation-scores", test_validation_scores);
  g_test_add_func ("/loss/helpers/names", test_names);
  g_test_add_func ("/loss/objective/gather", test_objective_gather);
  g_test_add_func ("/loss/objective/gradient", test_objective_gradient);
  g_test_add_func ("/loss/objective/per-answer", test_objective_per_answer);
  g_test_add_func ("/loss/population/fit-annotators", test_fit_annotators);
  g_test_add_func ("/loss/objective/ownership", test_objective_ownership);
  g_test_add_func ("/loss/objective/normalisation", test_objective_normalisation);
  g_test_add_func ("/loss/objective/errors", test_objective_errors);

  return g_test_run ();
}
