/* veto-loss.c: the objective's losses with analytic output gradients, and CL validation. */
#include "veto-loss.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (veto-loss-error-quark, veto_loss_error)

/* Below this a validation probability is treated as this, so one confident mistake does not
 * make a whole score infinite. */
#define SCEL_FLOOR 1e-12

/* Pivots smaller than this, relative to the largest entry, make a matrix singular. */
#define PIVOT_TOLERANCE 1e-12

static gboolean
batch_is_valid (const VetoLossBatch *batch)
{
  return batch != NULL && (batch->outputs != NULL || batch->n_rows == 0)
         && batch->n_classes >= 1 && batch->n_classes <= batch->n_outputs;
}

static const float *
batch_row (const VetoLossBatch *batch, guint row)
{
  return batch->outputs + (gsize) row * batch->n_outputs;
}

static float *
batch_grad (const VetoLossBatch *batch, guint row)
{
  return batch->grad != NULL ? batch->grad + (gsize) row * batch->n_outputs : NULL;
}

static void
add_grad (float *g, const double *dz, guint k, double scale)
{
  if (g == NULL)
    return;
  for (guint j = 0; j < k; j++)
    g[j] += (float) (scale * dz[j]);
}

/* -inf entries are left out, so a subset sum is a log-sum-exp with the rest at -inf. */
static double
log_sum_exp (const double *v, guint k)
{
  double m = -INFINITY;
  double s = 0.0;

  for (guint j = 0; j < k; j++)
    m = MAX (m, v[j]);
  if (!isfinite (m))
    return m;
  for (guint j = 0; j < k; j++)
    s += exp (v[j] - m);
  return m + log (s);
}

/* Returns log sum_j exp(z_j), the normaliser of the softmax. */
static double
log_softmax (const float *z, guint k, double *out_logp)
{
  double lse;

  for (guint j = 0; j < k; j++)
    out_logp[j] = z[j];
  lse = log_sum_exp (out_logp, k);
  for (guint j = 0; j < k; j++)
    out_logp[j] -= lse;
  return lse;
}

static double
sigmoid (double x)
{
  if (x >= 0)
    return 1.0 / (1.0 + exp (-x));
  return exp (x) / (1.0 + exp (x));
}

static double
softplus (double x)
{
  if (x > 0)
    return x + log1p (exp (-x));
  return log1p (exp (x));
}

/* Q[y][c]; NULL: the uniform transition (0 diagonal, 1/(K-1) elsewhere). */
static double
q_entry (const double *q, guint k, guint y, guint c)
{
  if (q != NULL)
    return q[(gsize) y * k + c];
  return y == c ? 0.0 : 1.0 / (k - 1);
}

/* Q^-1[r][c]; NULL: the inverse of the uniform Q, J - (K-1) I. */
static double
q_inv_entry (const double *q_inv, guint k, guint r, guint c)
{
  if (q_inv != NULL)
    return q_inv[(gsize) r * k + c];
  return r == c ? 2.0 - k : 1.0;
}

static guint
argmax_float (const float *v, guint k)
{
  guint best = 0;

  for (guint j = 1; j < k; j++)
    if (v[j] > v[best])
      best = j;
  return best;
}

/* Losses of one row with one label: return the loss, write dloss/dlogits into out_dz (K).
 * work holds 2K doubles of scratch. */
typedef double (*LabelTermFunc) (const float *z, guint k, guint label, const double *m,
                                 double *work, double *out_dz);

static double
cross_entropy_term (const float *z, guint k, guint label, G_GNUC_UNUSED const double *m,
                    double *work, double *out_dz)
{
  /* One exponential per class: the softmax's terms give both log p_label and p. */
  double *e = work, top = z[0], sum = 0.0;

  for (guint j = 1; j < k; j++)
    top = MAX (top, (double) z[j]);
  for (guint j = 0; j < k; j++)
    sum += e[j] = exp (z[j] - top);
  for (guint j = 0; j < k; j++)
    out_dz[j] = e[j] / sum - (j == label);
  return top + log (sum) - z[label];
}

/* -log(1 - p_c) = lse(z) - lse(z without c); its gradient is p minus the softmax over the
 * other classes, both exact even when p_c rounds to 1. */
static double
scl_nl_term (const float *z, guint k, guint label, G_GNUC_UNUSED const double *m, double *work,
             double *out_dz)
{
  double *v = work;
  double lse, lse_rest;

  for (guint j = 0; j < k; j++)
    v[j] = z[j];
  lse = log_sum_exp (v, k);
  v[label] = -INFINITY;
  lse_rest = log_sum_exp (v, k);
  for (guint j = 0; j < k; j++)
    out_dz[j] = exp (z[j] - lse) - (j == label ? 0.0 : exp (z[j] - lse_rest));
  return lse - lse_rest;
}

static double
scl_exp_term (const float *z, guint k, guint label, G_GNUC_UNUSED const double *m, double *work,
              double *out_dz)
{
  double *logp = work;
  double pc, e;

  log_softmax (z, k, logp);
  pc = exp (logp[label]);
  e = exp (pc);
  for (guint j = 0; j < k; j++)
    out_dz[j] = e * pc * ((j == label) - exp (logp[j]));
  return e;
}

/* -log sum_y p_y Q[y][c]: the gradient is p minus the posterior of the true class given
 * the CL, w_y = p_y Q[y][c] / (p^T Q)_c. */
static double
forward_term (const float *z, guint k, guint label, const double *q, double *work,
              double *out_dz)
{
  double *logp = work;
  double *v = work + k;
  double ls;

  log_softmax (z, k, logp);
  for (guint y = 0; y < k; y++)
    v[y] = logp[y] + log (q_entry (q, k, y, label));
  ls = log_sum_exp (v, k);
  if (ls == -INFINITY)
    {
      memset (out_dz, 0, k * sizeof (double));
      return INFINITY;
    }
  for (guint j = 0; j < k; j++)
    out_dz[j] = exp (logp[j]) - exp (v[j] - ls);
  return -ls;
}

/* (Q^-1 l)_c with l_j = -log p_j; dl_j/dz = p - e_j. */
static double
ure_term (const float *z, guint k, guint label, const double *q_inv, double *work,
          double *out_dz)
{
  double *logp = work;
  double value = 0.0;
  double row_sum = 0.0;

  log_softmax (z, k, logp);
  for (guint j = 0; j < k; j++)
    {
      double w = q_inv_entry (q_inv, k, label, j);

      value -= w * logp[j];
      row_sum += w;
    }
  for (guint j = 0; j < k; j++)
    out_dz[j] = row_sum * exp (logp[j]) - q_inv_entry (q_inv, k, label, j);
  return value;
}

static double
pc_term (const float *z, guint k, guint label, G_GNUC_UNUSED const double *m,
         G_GNUC_UNUSED double *work, double *out_dz)
{
  double value = 0.0;

  out_dz[label] = 0.0;
  for (guint j = 0; j < k; j++)
    {
      double s, d;

      if (j == label)
        continue;
      s = sigmoid ((double) z[label] - z[j]);
      d = s * (1.0 - s);
      value += s;
      out_dz[j] = -d;
      out_dz[label] += d;
    }
  return value;
}

static gboolean
labels_are_valid (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms)
{
  if (terms == NULL && n_terms > 0)
    return FALSE;
  for (guint i = 0; i < n_terms; i++)
    if (terms[i].row >= batch->n_rows || terms[i].label >= batch->n_classes)
      return FALSE;
  return TRUE;
}

static double
label_loss (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
            LabelTermFunc func, const double *m, double weight)
{
  guint k = batch->n_classes;
  double scale = weight / n_terms;
  double total = 0.0;
  g_autofree double *work = g_new (double, 3 * k);
  double *dz = work + 2 * k;

  for (guint i = 0; i < n_terms; i++)
    {
      total += func (batch_row (batch, terms[i].row), k, terms[i].label, m, work, dz);
      add_grad (batch_grad (batch, terms[i].row), dz, k, scale);
    }
  return scale * total;
}

double
veto_loss_cross_entropy (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
                         double weight)
{
  g_return_val_if_fail (batch_is_valid (batch), NAN);
  g_return_val_if_fail (labels_are_valid (batch, terms, n_terms), NAN);

  if (n_terms == 0)
    return 0.0;
  return label_loss (batch, terms, n_terms, cross_entropy_term, NULL, weight);
}

double
veto_loss_scl_nl (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
                  double weight)
{
  g_return_val_if_fail (batch_is_valid (batch) && batch->n_classes >= 2, NAN);
  g_return_val_if_fail (labels_are_valid (batch, terms, n_terms), NAN);

  if (n_terms == 0)
    return 0.0;
  return label_loss (batch, terms, n_terms, scl_nl_term, NULL, weight);
}

double
veto_loss_scl_exp (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
                   double weight)
{
  g_return_val_if_fail (batch_is_valid (batch), NAN);
  g_return_val_if_fail (labels_are_valid (batch, terms, n_terms), NAN);

  if (n_terms == 0)
    return 0.0;
  return label_loss (batch, terms, n_terms, scl_exp_term, NULL, weight);
}

double
veto_loss_forward (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
                   const double *q, double weight)
{
  g_return_val_if_fail (batch_is_valid (batch) && batch->n_classes >= 2, NAN);
  g_return_val_if_fail (labels_are_valid (batch, terms, n_terms), NAN);

  if (n_terms == 0)
    return 0.0;
  return label_loss (batch, terms, n_terms, forward_term, q, weight);
}

double
veto_loss_ure (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
               const double *q_inv, double weight)
{
  g_return_val_if_fail (batch_is_valid (batch) && batch->n_classes >= 2, NAN);
  g_return_val_if_fail (labels_are_valid (batch, terms, n_terms), NAN);

  if (n_terms == 0)
    return 0.0;
  return label_loss (batch, terms, n_terms, ure_term, q_inv, weight);
}

double
veto_loss_pairwise_comparison (const VetoLossBatch *batch, const VetoLossLabel *terms,
                               guint n_terms, double weight)
{
  g_return_val_if_fail (batch_is_valid (batch), NAN);
  g_return_val_if_fail (labels_are_valid (batch, terms, n_terms), NAN);

  if (n_terms == 0)
    return 0.0;
  return label_loss (batch, terms, n_terms, pc_term, NULL, weight);
}

/* The partial risks of Ishida et al. (2019), one per class j at which the loss is evaluated:
 * R_j = sum_k prior_k * mean_{cl = k} (Q^-1)[k][j] l_j. Each estimates pi_j E_{x|y=j}[l_j] >= 0,
 * which is what justifies clamping or ascending. Terms whose CL class has prior 0 drop out.
 * out_risk (K) receives R; out_scale[k] = prior_k / count_k. */
static void
ure_risks (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
           const double *q_inv, const double *priors, double *out_risk, double *out_scale)
{
  guint k = batch->n_classes;
  g_autofree double *logp = g_new (double, k);
  g_autofree double *sums = g_new0 (double, k * k);
  g_autofree guint *counts = g_new0 (guint, k);

  for (guint i = 0; i < n_terms; i++)
    {
      guint c = terms[i].label;

      log_softmax (batch_row (batch, terms[i].row), k, logp);
      for (guint j = 0; j < k; j++)
        sums[c * k + j] -= q_inv_entry (q_inv, k, c, j) * logp[j];
      counts[c]++;
    }
  for (guint c = 0; c < k; c++)
    {
      double prior = priors != NULL ? priors[c] : (double) counts[c] / n_terms;

      out_scale[c] = counts[c] > 0 ? prior / counts[c] : 0.0;
    }
  for (guint j = 0; j < k; j++)
    {
      out_risk[j] = 0.0;
      for (guint c = 0; c < k; c++)
        out_risk[j] += out_scale[c] * sums[c * k + j];
    }
}

void
veto_loss_ure_partial_risks (const VetoLossBatch *batch, const VetoLossLabel *terms,
                             guint n_terms, const double *q_inv, const double *priors,
                             double *out_risks)
{
  g_autofree double *scale = NULL;

  g_return_if_fail (batch_is_valid (batch) && batch->n_classes >= 2);
  g_return_if_fail (labels_are_valid (batch, terms, n_terms));
  g_return_if_fail (out_risks != NULL);

  if (n_terms == 0)
    {
      memset (out_risks, 0, batch->n_classes * sizeof (double));
      return;
    }
  scale = g_new (double, batch->n_classes);
  ure_risks (batch, terms, n_terms, q_inv, priors, out_risks, scale);
}

/* coef_j is d(loss)/d(R_j) for the chosen correction; the gradient of R_j with respect to the
 * logits of a term with CL c is scale_c (Q^-1)[c][j] (p - e_j). */
static double
ure_partial (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
             const double *q_inv, const double *priors, gboolean ascent, double weight)
{
  guint k = batch->n_classes;
  g_autofree double *risk = g_new (double, k);
  g_autofree double *scale = g_new (double, k);
  g_autofree double *coef = g_new (double, k);
  g_autofree double *logp = g_new (double, k);
  g_autofree double *dz = g_new (double, k);
  gboolean any_negative = FALSE;
  double value = 0.0;

  ure_risks (batch, terms, n_terms, q_inv, priors, risk, scale);
  for (guint j = 0; j < k; j++)
    any_negative |= risk[j] < 0;
  for (guint j = 0; j < k; j++)
    {
      if (ascent && any_negative)
        coef[j] = risk[j] < 0 ? -1.0 : 0.0;
      else if (ascent)
        coef[j] = 1.0;
      else
        coef[j] = risk[j] > 0 ? 1.0 : 0.0;
      value += coef[j] * risk[j];
    }

  if (batch->grad != NULL)
    for (guint i = 0; i < n_terms; i++)
      {
        guint c = terms[i].label;
        double total = 0.0;

        if (scale[c] == 0.0)
          continue;
        log_softmax (batch_row (batch, terms[i].row), k, logp);
        for (guint j = 0; j < k; j++)
          {
            dz[j] = coef[j] * q_inv_entry (q_inv, k, c, j);
            total += dz[j];
          }
        for (guint j = 0; j < k; j++)
          dz[j] = total * exp (logp[j]) - dz[j];
        add_grad (batch_grad (batch, terms[i].row), dz, k, weight * scale[c]);
      }
  return weight * value;
}

double
veto_loss_ure_nn (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
                  const double *q_inv, const double *priors, double weight)
{
  g_return_val_if_fail (batch_is_valid (batch) && batch->n_classes >= 2, NAN);
  g_return_val_if_fail (labels_are_valid (batch, terms, n_terms), NAN);

  if (n_terms == 0)
    return 0.0;
  return ure_partial (batch, terms, n_terms, q_inv, priors, FALSE, weight);
}

double
veto_loss_ure_ga (const VetoLossBatch *batch, const VetoLossLabel *terms, guint n_terms,
                  const double *q_inv, const double *priors, double weight)
{
  g_return_val_if_fail (batch_is_valid (batch) && batch->n_classes >= 2, NAN);
  g_return_val_if_fail (labels_are_valid (batch, terms, n_terms), NAN);

  if (n_terms == 0)
    return 0.0;
  return ure_partial (batch, terms, n_terms, q_inv, priors, TRUE, weight);
}

double
veto_loss_mcl_log (const VetoLossBatch *batch, const VetoLossSet *terms, guint n_terms,
                   double weight)
{
  guint k;
  double scale, total = 0.0;
  g_autofree double *v = NULL;
  g_autofree double *dz = NULL;
  g_autofree guint8 *in_set = NULL;

  g_return_val_if_fail (batch_is_valid (batch) && batch->n_classes >= 2, NAN);
  g_return_val_if_fail (terms != NULL || n_terms == 0, NAN);

  if (n_terms == 0)
    return 0.0;
  k = batch->n_classes;
  scale = weight / n_terms;
  v = g_new (double, k);
  dz = g_new (double, k);
  in_set = g_new (guint8, k);
  for (guint i = 0; i < n_terms; i++)
    {
      const VetoLossSet *t = &terms[i];
      const float *z;
      guint n_distinct = 0;
      double lse, lse_rest, factor;

      g_return_val_if_fail (t->row < batch->n_rows, NAN);
      z = batch_row (batch, t->row);
      memset (in_set, 0, k);
      for (guint s = 0; s < t->n_cls; s++)
        {
          g_return_val_if_fail (t->cls[s] < k, NAN);
          n_distinct += !in_set[t->cls[s]];
          in_set[t->cls[s]] = 1;
        }
      for (guint j = 0; j < k; j++)
        v[j] = z[j];
      lse = log_sum_exp (v, k);
      for (guint j = 0; j < k; j++)
        if (in_set[j])
          v[j] = -INFINITY;
      if (n_distinct == 0 || n_distinct == k)
        continue;
      lse_rest = log_sum_exp (v, k);
      factor = (double) (k - 1) / n_distinct;
      total += factor * (lse - lse_rest);
      for (guint j = 0; j < k; j++)
        dz[j] = factor * (exp (z[j] - lse) - (in_set[j] ? 0.0 : exp (z[j] - lse_rest)));
      add_grad (batch_grad (batch, t->row), dz, k, scale);
    }
  return scale * total;
}

/* A[y][c]; NULL: the uniform annotator with noise floor epsilon on the true class. */
static double
a_entry (const double *a, guint k, double epsilon, guint y, guint c)
{
  if (a != NULL)
    return a[(gsize) y * k + c];
  return y == c ? epsilon : 1.0;
}

double
veto_loss_candidate (const VetoLossBatch *batch, const VetoLossChoice *terms, guint n_terms,
                     const double *a, double epsilon, double weight)
{
  guint k;
  double scale, total = 0.0;
  g_autofree double *logp = NULL;
  g_autofree double *v = NULL;
  g_autofree double *dz = NULL;

  g_return_val_if_fail (batch_is_valid (batch), NAN);
  g_return_val_if_fail (terms != NULL || n_terms == 0, NAN);
  g_return_val_if_fail (epsilon >= 0, NAN);

  if (n_terms == 0)
    return 0.0;
  k = batch->n_classes;
  scale = weight / n_terms;
  logp = g_new (double, k);
  v = g_new (double, k);
  dz = g_new (double, k);
  for (guint i = 0; i < n_terms; i++)
    {
      const VetoLossChoice *t = &terms[i];
      guint n_shown = t->n_shown > 0 ? t->n_shown : k;
      double ls;

      const double *ta = t->a ? t->a : a;

      g_return_val_if_fail (t->row < batch->n_rows && t->cl < k, NAN);
      log_softmax (batch_row (batch, t->row), k, logp);
      for (guint y = 0; y < k; y++)
        {
          double shown_sum = 0.0;
          double p_choice;

          for (guint s = 0; s < n_shown; s++)
            {
              guint c = t->n_shown > 0 ? t->shown[s] : s;

              g_return_val_if_fail (c < k, NAN);
              shown_sum += a_entry (ta, k, epsilon, y, c);
            }
          if (shown_sum > 0)
            p_choice = a_entry (ta, k, epsilon, y, t->cl) / shown_sum;
          else
            p_choice = 1.0 / n_shown;
          v[y] = logp[y] + log (p_choice);
        }
      ls = log_sum_exp (v, k);
      if (ls == -INFINITY)
        {
          total = INFINITY;
          continue;
        }
      total -= ls;
      for (guint j = 0; j < k; j++)
        dz[j] = exp (logp[j]) - exp (v[j] - ls);
      add_grad (batch_grad (batch, t->row), dz, k, scale);
    }
  return scale * total;
}

static gboolean
pairs_are_valid (const VetoLossBatch *batch, const VetoLossPair *pairs, guint n_pairs)
{
  if (pairs == NULL && n_pairs > 0)
    return FALSE;
  for (guint i = 0; i < n_pairs; i++)
    {
      const VetoLossPair *p = &pairs[i];

      if (p->row_a >= batch->n_rows || p->row_b >= batch->n_rows
          || batch->n_classes + p->head >= batch->n_outputs
          || p->shared_label >= (gint) batch->n_classes)
        return FALSE;
    }
  return TRUE;
}

double
veto_loss_bradley_terry (const VetoLossBatch *batch, const VetoLossPair *pairs, guint n_pairs,
                         double weight)
{
  guint k;
  double scale, total = 0.0;

  g_return_val_if_fail (batch_is_valid (batch), NAN);
  g_return_val_if_fail (pairs_are_valid (batch, pairs, n_pairs), NAN);

  if (n_pairs == 0)
    return 0.0;
  k = batch->n_classes;
  scale = weight / n_pairs;
  for (guint i = 0; i < n_pairs; i++)
    {
      const VetoLossPair *p = &pairs[i];
      guint col = k + p->head;
      double d = (double) batch_row (batch, p->row_a)[col] - batch_row (batch, p->row_b)[col];
      double g = sigmoid (d) - p->target;

      total += p->target * softplus (-d) + (1.0 - p->target) * softplus (d);
      if (batch->grad != NULL)
        {
          batch_grad (batch, p->row_a)[col] += (float) (scale * g);
          batch_grad (batch, p->row_b)[col] -= (float) (scale * g);
        }
    }
  return scale * total;
}

static gboolean
pair_is_consistency_eligible (const VetoLossPair *pair)
{
  return pair->shared_label >= 0 && pair->target != 0.5;
}

double
veto_loss_consistency (const VetoLossBatch *batch, const VetoLossPair *pairs, guint n_pairs,
                       double margin, double weight)
{
  guint k, n_eligible = 0;
  double scale, total = 0.0;
  g_autofree double *logp_a = NULL;
  g_autofree double *logp_b = NULL;
  g_autofree double *dz = NULL;

  g_return_val_if_fail (batch_is_valid (batch), NAN);
  g_return_val_if_fail (pairs_are_valid (batch, pairs, n_pairs), NAN);

  for (guint i = 0; i < n_pairs; i++)
    n_eligible += pair_is_consistency_eligible (&pairs[i]);
  if (n_eligible == 0)
    return 0.0;
  k = batch->n_classes;
  scale = weight / n_eligible;
  logp_a = g_new (double, k);
  logp_b = g_new (double, k);
  dz = g_new (double, k);
  for (guint i = 0; i < n_pairs; i++)
    {
      const VetoLossPair *p = &pairs[i];
      guint y;
      double sign, py_a, py_b, hinge;

      if (!pair_is_consistency_eligible (p))
        continue;
      y = (guint) p->shared_label;
      sign = p->target > 0.5 ? 1.0 : -1.0;
      log_softmax (batch_row (batch, p->row_a), k, logp_a);
      log_softmax (batch_row (batch, p->row_b), k, logp_b);
      py_a = exp (logp_a[y]);
      py_b = exp (logp_b[y]);
      hinge = margin - sign * (py_a - py_b);
      if (hinge <= 0)
        continue;
      total += hinge;
      for (guint j = 0; j < k; j++)
        dz[j] = -sign * py_a * ((j == y) - exp (logp_a[j]));
      add_grad (batch_grad (batch, p->row_a), dz, k, scale);
      for (guint j = 0; j < k; j++)
        dz[j] = sign * py_b * ((j == y) - exp (logp_b[j]));
      add_grad (batch_grad (batch, p->row_b), dz, k, scale);
    }
  return scale * total;
}

/* KL(pi || pbar), pbar = mean_i p_i. With u_ik = pi_k p_ik / pbar_k, the gradient on row i
 * is (p_i sum_k u_ik - u_i) / n. */
static double
proportion_term (const VetoLossBatch *batch, const VetoLossBag *bag, double scale,
                 double *logp, double *log_pbar, double *u)
{
  guint k = batch->n_classes;
  guint n = bag->n_rows;
  double value = 0.0;

  for (guint r = 0; r < n; r++)
    log_softmax (batch_row (batch, bag->rows[r]), k, logp + (gsize) r * k);
  for (guint c = 0; c < k; c++)
    {
      double m = -INFINITY, s = 0.0;

      for (guint r = 0; r < n; r++)
        m = MAX (m, logp[(gsize) r * k + c]);
      for (guint r = 0; r < n; r++)
        s += exp (logp[(gsize) r * k + c] - m);
      log_pbar[c] = m + log (s / n);
      if (bag->proportions[c] > 0)
        value += bag->proportions[c] * (log (bag->proportions[c]) - log_pbar[c]);
    }
  if (batch->grad == NULL)
    return value;
  for (guint r = 0; r < n; r++)
    {
      const double *lp = logp + (gsize) r * k;
      double u_sum = 0.0;

      for (guint c = 0; c < k; c++)
        {
          u[c] = bag->proportions[c] * exp (lp[c] - log_pbar[c]);
          u_sum += u[c];
        }
      for (guint c = 0; c < k; c++)
        u[c] = exp (lp[c]) * u_sum - u[c];
      add_grad (batch_grad (batch, bag->rows[r]), u, k, scale / n);
    }
  return value;
}

double
veto_loss_proportion (const VetoLossBatch *batch, const VetoLossBag *bags, guint n_bags,
                      double weight)
{
  guint k, largest = 0;
  double scale, total = 0.0;
  g_autofree double *logp = NULL;
  g_autofree double *log_pbar = NULL;
  g_autofree double *u = NULL;

  g_return_val_if_fail (batch_is_valid (batch), NAN);
  g_return_val_if_fail (bags != NULL || n_bags == 0, NAN);

  if (n_bags == 0)
    return 0.0;
  k = batch->n_classes;
  for (guint b = 0; b < n_bags; b++)
    {
      g_return_val_if_fail (bags[b].proportions != NULL, NAN);
      for (guint r = 0; r < bags[b].n_rows; r++)
        g_return_val_if_fail (bags[b].rows[r] < batch->n_rows, NAN);
      largest = MAX (largest, bags[b].n_rows);
    }
  scale = weight / n_bags;
  logp = g_new (double, (gsize) MAX (largest, 1) * k);
  log_pbar = g_new (double, k);
  u = g_new (double, k);
  for (guint b = 0; b < n_bags; b++)
    if (bags[b].n_rows > 0)
      total += proportion_term (batch, &bags[b], scale, logp, log_pbar, u);
  return scale * total;
}

double
veto_loss_soft (const VetoLossBatch *batch, const VetoLossSoft *terms, guint n_terms,
                double temperature, double weight)
{
  guint k;
  double scale, total = 0.0;
  g_autofree double *logq = NULL;
  g_autofree double *dz = NULL;

  g_return_val_if_fail (batch_is_valid (batch), NAN);
  g_return_val_if_fail (terms != NULL || n_terms == 0, NAN);
  g_return_val_if_fail (temperature > 0, NAN);

  if (n_terms == 0)
    return 0.0;
  k = batch->n_classes;
  scale = weight / n_terms;
  logq = g_new (double, k);
  dz = g_new (double, k);
  for (guint i = 0; i < n_terms; i++)
    {
      const VetoLossSoft *t = &terms[i];
      const float *z;
      double lse, target_sum = 0.0;

      g_return_val_if_fail (t->row < batch->n_rows && t->target != NULL, NAN);
      z = batch_row (batch, t->row);
      for (guint j = 0; j < k; j++)
        logq[j] = z[j] / temperature;
      lse = log_sum_exp (logq, k);
      for (guint j = 0; j < k; j++)
        {
          logq[j] -= lse;
          target_sum += t->target[j];
          if (t->target[j] > 0)
            total += t->target[j] * (log (t->target[j]) - logq[j]);
        }
      for (guint j = 0; j < k; j++)
        dz[j] = (target_sum * exp (logq[j]) - t->target[j]) / temperature;
      add_grad (batch_grad (batch, t->row), dz, k, scale);
    }
  return scale * total;
}

gboolean
veto_loss_matrix_invert (const double *m, guint k, double *out_inv, GError **error)
{
  guint width = 2 * k;
  double largest = 0.0;
  g_autofree double *aug = NULL;

  g_return_val_if_fail (m != NULL && out_inv != NULL && k > 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  aug = g_new0 (double, (gsize) k * width);
  for (guint r = 0; r < k; r++)
    {
      for (guint c = 0; c < k; c++)
        {
          aug[(gsize) r * width + c] = m[(gsize) r * k + c];
          largest = MAX (largest, fabs (m[(gsize) r * k + c]));
        }
      aug[(gsize) r * width + k + r] = 1.0;
    }
  if (!isfinite (largest))
    {
      g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                   "Matrix has a non-finite entry");
      return FALSE;
    }

  for (guint c = 0; c < k; c++)
    {
      guint pivot = c;
      double *pivot_row;
      double inv;

      for (guint r = c + 1; r < k; r++)
        if (fabs (aug[(gsize) r * width + c]) > fabs (aug[(gsize) pivot * width + c]))
          pivot = r;
      if (largest == 0.0 || fabs (aug[(gsize) pivot * width + c]) <= PIVOT_TOLERANCE * largest)
        {
          g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_SINGULAR,
                       "Matrix is singular (no pivot in column %u)", c);
          return FALSE;
        }
      if (pivot != c)
        for (guint j = 0; j < width; j++)
          {
            double tmp = aug[(gsize) c * width + j];

            aug[(gsize) c * width + j] = aug[(gsize) pivot * width + j];
            aug[(gsize) pivot * width + j] = tmp;
          }
      pivot_row = aug + (gsize) c * width;
      inv = 1.0 / pivot_row[c];
      for (guint j = 0; j < width; j++)
        pivot_row[j] *= inv;
      for (guint r = 0; r < k; r++)
        {
          double *row = aug + (gsize) r * width;
          double f = row[c];

          if (r == c || f == 0.0)
            continue;
          for (guint j = 0; j < width; j++)
            row[j] -= f * pivot_row[j];
        }
    }
  for (guint r = 0; r < k; r++)
    memcpy (out_inv + (gsize) r * k, aug + (gsize) r * width + k, k * sizeof (double));
  return TRUE;
}

/* Every class shown with answer t is one of the k: TRUE, else FALSE with error. */
static gboolean
check_shown (const VetoLossChoiceObservation *o, guint t, guint k, GError **error)
{
  for (guint s = 0; s < o->n_shown; s++)
    if (o->shown[s] >= k)
      {
        g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                     "answer %u: class %u shown, out of %u", t, o->shown[s], k);
        return FALSE;
      }
  return TRUE;
}

/* The share of the answers (weighted by truth) that the model a expects to name the true class
 * when it is shown; without such answers, its share among K classes shown. */
static double
named_share (const VetoLossChoiceObservation *obs, guint n, guint k, const double *a)
{
  double named = 0.0, shown = 0.0;

  for (guint t = 0; t < n; t++)
    for (guint s = 0; s < obs[t].n_shown; s++)
      {
        guint y = obs[t].shown[s];
        double total = 0.0;

        for (guint r = 0; r < obs[t].n_shown; r++)
          total += a[(gsize) y * k + obs[t].shown[r]];
        named += obs[t].truth[y] * a[(gsize) y * k + y] / total;
        shown += obs[t].truth[y];
      }
  if (shown > 0)
    return named / shown;
  shown = 0.0;
  for (guint c = 0; c < k; c++)
    shown += a[c];
  return a[0] / shown;
}

/* veto_loss_fit_annotator (), with the noise weight held at fixed_noise unless that is NAN, and
 * pulled towards center's weights (NULL: uniform, and the noise weight towards
 * VETO_LOSS_PRIOR_NOISE). */
static gboolean
fit_annotator (const VetoLossChoiceObservation *obs, guint n, guint k, double strength,
               double fixed_noise, const double *center, double *out_a, double *out_noise,
               GError **error)
{
  g_autofree double *wins = g_new0 (double, (gsize) k * k);
  g_autofree double *denominators = g_new (double, (gsize) k * k);
  double prior_noise = center ? center[0] : VETO_LOSS_PRIOR_NOISE;
  double noise = isnan (fixed_noise) ? prior_noise : fixed_noise, noise_wins = 0.0;

  g_return_val_if_fail (obs != NULL || n == 0, FALSE);
  g_return_val_if_fail (out_a != NULL && k >= 2 && strength > 0, FALSE);

  for (guint t = 0; t < n; t++)
    {
      double sum = 0.0;
      gboolean answered_shown = FALSE;

      for (guint s = 0; s < obs[t].n_shown; s++)
        answered_shown |= obs[t].shown[s] == obs[t].answer;
      for (guint y = 0; y < k && obs[t].truth != NULL; y++)
        sum += obs[t].truth[y];
      if (obs[t].answer >= k || !answered_shown || obs[t].truth == NULL || fabs (sum - 1.0) > 1e-6)
        {
          g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                       "answer %u: the class answered is not among those shown, or the truth is "
                       "not a distribution over %u classes", t, k);
          return FALSE;
        }
      if (!check_shown (&obs[t], t, k, error))
        return FALSE;
      for (guint y = 0; y < k; y++)
        if (y == obs[t].answer)
          noise_wins += obs[t].truth[y];
        else
          wins[(gsize) y * k + obs[t].answer] += obs[t].truth[y];
    }
  for (guint i = 0; i < k * k; i++)
    out_a[i] = i % (k + 1) == 0 ? noise : center ? center[i] : 1.0;
  /* MM: each weight <- (its wins + prior) / (sum over the sets it was in of the answer weight
   * over the set's total + prior), all from the previous iterate. */
  for (guint iter = 0; iter < 500; iter++)
    {
      double noise_denominator = 0.0, change = 0.0;

      memset (denominators, 0, (gsize) k * k * sizeof (double));
      for (guint t = 0; t < n; t++)
        for (guint y = 0; y < k; y++)
          {
            double w = obs[t].truth[y], total = 0.0;

            if (w == 0.0)
              continue;
            for (guint s = 0; s < obs[t].n_shown; s++)
              total += out_a[(gsize) y * k + obs[t].shown[s]];
            for (guint s = 0; s < obs[t].n_shown; s++)
              {
                guint c = obs[t].shown[s];

                if (c == y)
                  noise_denominator += w / total;
                else
                  denominators[(gsize) y * k + c] += w / total;
              }
          }
      /* A row's weights matter only relative to each other, so each row's wrong classes are
       * kept at mean 1, which makes the shared noise weight comparable across rows. */
      for (guint y = 0; y < k; y++)
        {
          double sum = 0.0;

          for (guint c = 0; c < k; c++)
            if (c != y)
              sum += denominators[(gsize) y * k + c]
                  = (wins[(gsize) y * k + c]
                     + strength * (center ? center[(gsize) y * k + c] : 1.0))
                    / (denominators[(gsize) y * k + c] + strength);
          for (guint c = 0; c < k; c++)
            {
              gsize i = (gsize) y * k + c;
              double next = denominators[i] * (k - 1) / sum;

              if (c == y)
                continue;
              change = MAX (change, fabs (next - out_a[i]) / out_a[i]);
              out_a[i] = next;
            }
        }
      {
        /* The noise weight is one number for all rows, well measured even when each row's
         * weights are not: its prior is worth VETO_LOSS_PRIOR_NOISE_ANSWERS answers. */
        double next = !isnan (fixed_noise)
                          ? fixed_noise
                          : (noise_wins + VETO_LOSS_PRIOR_NOISE_ANSWERS * prior_noise)
                                / (noise_denominator + VETO_LOSS_PRIOR_NOISE_ANSWERS);

        change = MAX (change, fabs (next - noise) / noise);
        noise = next;
      }
      for (guint y = 0; y < k; y++)
        out_a[(gsize) y * k + y] = noise;
      if (change < 1e-7)
        break;
    }
  if (out_noise != NULL)
    *out_noise = named_share (obs, n, k, out_a);
  return TRUE;
}

void
veto_loss_uniform_annotator (guint k, double *out_a)
{
  g_return_if_fail (out_a != NULL);

  for (guint y = 0; y < k; y++)
    for (guint c = 0; c < k; c++)
      out_a[(gsize) y * k + c] = y == c ? VETO_LOSS_DEFAULT_EPSILON : 1.0;
}

gboolean
veto_loss_fit_annotator (const VetoLossChoiceObservation *obs, guint n, guint k, double strength,
                         double *out_a, double *out_noise, GError **error)
{
  return fit_annotator (obs, n, k, strength, NAN, NULL, out_a, out_noise, error);
}

/* Pulls towards uniform tried by veto_loss_fit_annotator_cv () (pseudo-answers per entry);
 * towards a pooled model, which is nearer the truth, stronger ones too. */
static const double fit_strengths[] = { 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0 };
#define N_STRENGTHS_UNIFORM 6
#define FIT_FOLDS 5

static double
choice_log_likelihood (const VetoLossChoiceObservation *o, const double *a, guint k)
{
  double value = 0.0;

  for (guint y = 0; y < k; y++)
    {
      double total = 0.0;

      if (o->truth[y] == 0.0)
        continue;
      for (guint s = 0; s < o->n_shown; s++)
        total += a[(gsize) y * k + o->shown[s]];
      value += o->truth[y] * log (a[(gsize) y * k + o->answer] / total);
    }
  return value;
}

/* veto_loss_fit_annotator_cv (), with the noise weight held at fixed_noise unless NAN, pulled
 * towards center (NULL: uniform). */
static gboolean
fit_annotator_cv (const VetoLossChoiceObservation *obs, guint n, guint k, double fixed_noise,
                  const double *center, double *out_a, double *out_strength, double *out_noise,
                  GError **error)
{
  g_autofree VetoLossChoiceObservation *train = g_new (VetoLossChoiceObservation, MAX (n, 1));
  g_autofree double *a = g_new (double, (gsize) k * k);
  guint n_strengths = center ? G_N_ELEMENTS (fit_strengths) : N_STRENGTHS_UNIFORM;
  /* too few answers to cross-validate: the strongest pull */
  double best = -INFINITY, best_strength = fit_strengths[n_strengths - 1];

  for (guint s = 0; n >= FIT_FOLDS && s < n_strengths; s++)
    {
      double held_out = 0.0;

      for (guint fold = 0; fold < FIT_FOLDS; fold++)
        {
          guint m = 0;

          for (guint t = 0; t < n; t++)
            if (t % FIT_FOLDS != fold)
              train[m++] = obs[t];
          if (!fit_annotator (train, m, k, fit_strengths[s], fixed_noise, center, a, NULL,
                              error))
            return FALSE;
          for (guint t = fold; t < n; t += FIT_FOLDS)
            held_out += choice_log_likelihood (&obs[t], a, k);
        }
      if (held_out > best)
        {
          best = held_out;
          best_strength = fit_strengths[s];
        }
    }
  if (center == NULL)
    best_strength *= VETO_LOSS_PULL_FACTOR;
  if (out_strength != NULL)
    *out_strength = best_strength;
  return fit_annotator (obs, n, k, best_strength, fixed_noise, center, out_a, out_noise, error);
}

gboolean
veto_loss_fit_annotator_cv (const VetoLossChoiceObservation *obs, guint n, guint k,
                            double *out_a, double *out_strength, double *out_noise,
                            GError **error)
{
  return fit_annotator_cv (obs, n, k, NAN, NULL, out_a, out_strength, out_noise, error);
}

gboolean
veto_loss_fit_annotator_towards (const VetoLossChoiceObservation *obs, guint n, guint k,
                                 const double *center, double *out_a, double *out_strength,
                                 double *out_noise, GError **error)
{
  return fit_annotator_cv (obs, n, k, NAN, center, out_a, out_strength, out_noise, error);
}

gboolean
veto_loss_fit_annotators (const VetoLossChoiceObservation *obs, const guint *annotator_of,
                          guint n, guint n_annotators, guint k, double *out_pooled,
                          double *out_pooled_noise, double *out_a, VetoLossAnnotatorFit *out_fits,
                          GError **error)
{
  g_autofree VetoLossChoiceObservation *own = g_new (VetoLossChoiceObservation, MAX (n, 1));

  g_return_val_if_fail ((obs != NULL && annotator_of != NULL) || n == 0, FALSE);
  g_return_val_if_fail (out_pooled != NULL && out_a != NULL && k >= 2, FALSE);

  for (guint t = 0; t < n; t++)
    if (annotator_of[t] >= n_annotators)
      {
        g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                     "answer %u is by annotator %u, out of %u", t, annotator_of[t],
                     n_annotators);
        return FALSE;
      }
  if (!veto_loss_fit_annotator_cv (obs, n, k, out_pooled, NULL, out_pooled_noise, error))
    return FALSE;
  for (guint j = 0; j < n_annotators; j++)
    {
      double *a = out_a + (gsize) j * k * k;
      VetoLossAnnotatorFit fit = { 0, FALSE, NAN, NAN };
      guint m = 0;

      for (guint t = 0; t < n; t++)
        if (annotator_of[t] == j)
          own[m++] = obs[t];
      fit.answers = m;
      if (m >= VETO_LOSS_MIN_OWN_ANSWERS)
        {
          fit.own = TRUE;
          if (!veto_loss_fit_annotator_towards (own, m, k, out_pooled, a, &fit.strength,
                                                &fit.noise, error))
            return FALSE;
        }
      else
        {
          /* the pooled model, and what it expects of this person's answers */
          memcpy (a, out_pooled, (gsize) k * k * sizeof (double));
          fit.noise = named_share (own, m, k, a);
        }
      if (out_fits)
        out_fits[j] = fit;
    }
  return TRUE;
}

gboolean
veto_loss_fit_annotator_em (const VetoLossChoiceObservation *obs, const guint *item_of, guint n,
                            const double *priors, guint n_items, guint k, guint iterations,
                            double *io_a, double *out_posteriors, GError **error)
{
  g_autofree VetoLossChoiceObservation *weighted = g_new (VetoLossChoiceObservation, MAX (n, 1));
  g_autofree double *posteriors = g_new (double, (gsize) MAX (n_items, 1) * k);
  double noise = io_a[0];

  g_return_val_if_fail ((obs != NULL && item_of != NULL) || n == 0, FALSE);
  g_return_val_if_fail (priors != NULL && io_a != NULL && k >= 2, FALSE);

  for (guint t = 0; t < n; t++)
    {
      if (item_of[t] >= n_items)
        {
          g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                       "answer %u is about item %u, out of %u", t, item_of[t], n_items);
          return FALSE;
        }
      if (!check_shown (&obs[t], t, k, error))
        return FALSE;
      weighted[t] = obs[t];
      weighted[t].truth = posteriors + (gsize) item_of[t] * k;
    }
  for (guint iter = 0; iter < iterations; iter++)
    {
      /* E-step, in logs: an item with many answers would underflow a product. */
      for (guint i = 0; i < n_items; i++)
        for (guint y = 0; y < k; y++)
          posteriors[(gsize) i * k + y] = log (MAX (priors[(gsize) i * k + y], 0.0));
      for (guint t = 0; t < n; t++)
        for (guint y = 0; y < k; y++)
          {
            double total = 0.0;

            for (guint s = 0; s < obs[t].n_shown; s++)
              total += io_a[(gsize) y * k + obs[t].shown[s]];
            posteriors[(gsize) item_of[t] * k + y] += log (io_a[(gsize) y * k + obs[t].answer]
                                                           / total);
          }
      for (guint i = 0; i < n_items; i++)
        {
          double *row = posteriors + (gsize) i * k, top = -INFINITY, z = 0.0;

          for (guint y = 0; y < k; y++)
            top = MAX (top, row[y]);
          for (guint y = 0; y < k; y++)
            z += row[y] = top > -INFINITY ? exp (row[y] - top) : 1.0;
          for (guint y = 0; y < k; y++)
            row[y] /= z;
        }
      /* M-step, the noise weight kept */
      if (!fit_annotator_cv (weighted, n, k, noise, NULL, io_a, NULL, NULL, error))
        return FALSE;
    }
  if (out_posteriors != NULL)
    memcpy (out_posteriors, posteriors, (gsize) n_items * k * sizeof (double));
  return TRUE;
}

/* Most m-subsets veto_loss_annotator_transition () averages over. */
#define MAX_SUBSETS 200000

gboolean
veto_loss_annotator_transition (const double *a, guint k, guint m, double *out_q,
                                GError **error)
{
  guint set[64];
  double subsets = 1.0;

  g_return_val_if_fail (a != NULL && out_q != NULL, FALSE);

  for (guint i = 0; i < m && m <= k; i++)
    subsets = subsets * (k - i) / (i + 1);
  if (m < 2 || m > k || m > G_N_ELEMENTS (set) || subsets > MAX_SUBSETS)
    {
      g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                   "a transition matrix averages over every set of %u of %u classes shown: "
                   "between 2 and %u shown, and at most %u sets", m, k,
                   MIN (k, (guint) G_N_ELEMENTS (set)), MAX_SUBSETS);
      return FALSE;
    }
  memset (out_q, 0, (gsize) k * k * sizeof (double));
  for (guint i = 0; i < m; i++)
    set[i] = i;
  for (;;)
    {
      gint i;

      for (guint y = 0; y < k; y++)
        {
          double total = 0.0;

          for (guint s = 0; s < m; s++)
            total += a[(gsize) y * k + set[s]];
          for (guint s = 0; s < m; s++)
            out_q[(gsize) y * k + set[s]] += total > 0 ? a[(gsize) y * k + set[s]] / total
                                                       : 1.0 / m;
        }
      for (i = (gint) m - 1; i >= 0 && set[i] == k - m + i; i--)
        ;
      if (i < 0)
        break;
      set[i]++;
      for (guint j = i + 1; j < m; j++)
        set[j] = set[j - 1] + 1;
    }
  for (guint i = 0; i < k * k; i++)
    out_q[i] /= subsets;
  return TRUE;
}

gboolean
veto_loss_estimate_transition (const guint *gold, const guint *cls, guint n, guint n_classes,
                               double alpha, double *out_q, GError **error)
{
  guint k = n_classes;
  g_autofree double *counts = NULL;

  g_return_val_if_fail ((gold != NULL && cls != NULL) || n == 0, FALSE);
  g_return_val_if_fail (out_q != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (k < 2 || !(alpha >= 0 && alpha <= 1))
    {
      g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                   "Need at least 2 classes and a smoothing alpha in [0, 1] (got %u, %g)", k,
                   alpha);
      return FALSE;
    }
  counts = g_new0 (double, (gsize) k * k);
  for (guint i = 0; i < n; i++)
    {
      if (gold[i] >= k || cls[i] >= k)
        {
          g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                       "Pair %u has a class out of range (%u, %u for %u classes)", i, gold[i],
                       cls[i], k);
          return FALSE;
        }
      counts[(gsize) gold[i] * k + cls[i]] += 1.0;
    }
  for (guint y = 0; y < k; y++)
    {
      double total = 0.0;

      for (guint c = 0; c < k; c++)
        total += counts[(gsize) y * k + c];
      for (guint c = 0; c < k; c++)
        {
          double uniform = q_entry (NULL, k, y, c);
          double seen = total > 0 ? counts[(gsize) y * k + c] / total : uniform;

          out_q[(gsize) y * k + c] = alpha * uniform + (1.0 - alpha) * seen;
        }
    }
  return TRUE;
}

void
veto_loss_cpe_decode (const float *probs, guint n, guint n_classes, const double *q,
                      guint *out_labels)
{
  guint k = n_classes;
  g_autofree double *v = NULL;

  g_return_if_fail ((probs != NULL && out_labels != NULL) || n == 0);
  g_return_if_fail (k >= 2);

  v = g_new (double, k);
  for (guint i = 0; i < n; i++)
    {
      const float *p = probs + (gsize) i * k;
      double best = INFINITY;

      for (guint c = 0; c < k; c++)
        {
          v[c] = 0.0;
          for (guint y = 0; y < k; y++)
            v[c] += p[y] * q_entry (q, k, y, c);
        }
      out_labels[i] = 0;
      for (guint y = 0; y < k; y++)
        {
          double dist = 0.0;

          for (guint c = 0; c < k; c++)
            dist += fabs (v[c] - q_entry (q, k, y, c));
          if (dist < best)
            {
              best = dist;
              out_labels[i] = y;
            }
        }
    }
}

double
veto_loss_scel (const float *probs, guint n, guint n_classes, const guint *cls, const double *q)
{
  guint k = n_classes;
  double total = 0.0;

  g_return_val_if_fail ((probs != NULL && cls != NULL) || n == 0, NAN);
  g_return_val_if_fail (k >= 2, NAN);

  if (n == 0)
    return 0.0;
  for (guint i = 0; i < n; i++)
    {
      const float *p = probs + (gsize) i * k;
      double s = 0.0;

      g_return_val_if_fail (cls[i] < k, NAN);
      for (guint y = 0; y < k; y++)
        s += p[y] * q_entry (q, k, y, cls[i]);
      total -= log (MAX (s, SCEL_FLOOR));
    }
  return total / n;
}

double
veto_loss_ure_risk (const float *probs, guint n, guint n_classes, const guint *cls,
                    const double *q_inv)
{
  guint k = n_classes;
  double total = 0.0;

  g_return_val_if_fail ((probs != NULL && cls != NULL) || n == 0, NAN);
  g_return_val_if_fail (k >= 2, NAN);

  if (n == 0)
    return 0.0;
  for (guint i = 0; i < n; i++)
    {
      guint pred = argmax_float (probs + (gsize) i * k, k);

      g_return_val_if_fail (cls[i] < k, NAN);
      for (guint j = 0; j < k; j++)
        if (j != pred)
          total += q_inv_entry (q_inv, k, cls[i], j);
    }
  return total / n;
}

double
veto_loss_ece (const float *probs, guint n, guint n_classes, const guint *gold,
               double *out_accuracy)
{
  guint k = n_classes;
  double confidence[VETO_LOSS_ECE_BINS] = { 0 };
  double correct[VETO_LOSS_ECE_BINS] = { 0 };
  double n_correct = 0.0, ece = 0.0;

  if (out_accuracy != NULL)
    *out_accuracy = 0.0;
  g_return_val_if_fail ((probs != NULL && gold != NULL) || n == 0, NAN);
  g_return_val_if_fail (k >= 1, NAN);

  if (n == 0)
    return 0.0;
  for (guint i = 0; i < n; i++)
    {
      const float *p = probs + (gsize) i * k;
      guint pred = argmax_float (p, k);
      double conf = p[pred];
      gint bin = (gint) ceil (conf * VETO_LOSS_ECE_BINS) - 1;

      bin = CLAMP (bin, 0, VETO_LOSS_ECE_BINS - 1);
      confidence[bin] += conf;
      correct[bin] += pred == gold[i];
      n_correct += pred == gold[i];
    }
  for (guint b = 0; b < VETO_LOSS_ECE_BINS; b++)
    ece += fabs (correct[b] - confidence[b]);
  if (out_accuracy != NULL)
    *out_accuracy = n_correct / n;
  return ece / n;
}

static const char *const complementary_names[] = {
  [VETO_LOSS_COMPLEMENTARY_SCL_NL] = "scl-nl",
  [VETO_LOSS_COMPLEMENTARY_SCL_EXP] = "scl-exp",
  [VETO_LOSS_COMPLEMENTARY_FWD] = "fwd",
  [VETO_LOSS_COMPLEMENTARY_URE] = "ure",
  [VETO_LOSS_COMPLEMENTARY_URE_NN] = "ure-nn",
  [VETO_LOSS_COMPLEMENTARY_URE_GA] = "ure-ga",
  [VETO_LOSS_COMPLEMENTARY_PC] = "pc",
  [VETO_LOSS_COMPLEMENTARY_CPE_F] = "cpe-f",
  [VETO_LOSS_COMPLEMENTARY_MCL_LOG] = "mcl-log",
  [VETO_LOSS_COMPLEMENTARY_CANDIDATE] = "candidate",
};

const char *
veto_loss_complementary_to_string (VetoLossComplementary loss)
{
  g_return_val_if_fail ((guint) loss < G_N_ELEMENTS (complementary_names), NULL);

  return complementary_names[loss];
}

gboolean
veto_loss_complementary_from_string (const char *name, VetoLossComplementary *out_loss,
                                     GError **error)
{
  g_return_val_if_fail (name != NULL && out_loss != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (complementary_names); i++)
    if (g_ascii_strcasecmp (name, complementary_names[i]) == 0)
      {
        *out_loss = (VetoLossComplementary) i;
        return TRUE;
      }
  g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
               "Unknown complementary loss “%s”", name);
  return FALSE;
}

/* The objective. */

enum
{
  LIST_ORDINARY,
  LIST_COMPLEMENTARY,
  LIST_PAIRS,
  LIST_BAGS,
  LIST_SOFT,
  N_LISTS
};

/* Terms of one list grouped by owning unit (a counting sort), rebuilt after additions:
 * the terms of unit u are order[start[u] .. start[u+1]). */
typedef struct
{
  GArray *terms;
  GArray *owner; /* guint per term */
  guint *start;
  guint *order;
  gboolean dirty;
} TermList;

typedef struct
{
  guint unit;
  guint label;
} UnitLabel;

typedef struct
{
  guint unit;
  guint cl;
  guint first_candidate;
  guint n_candidates;
  guint model; /* the answer's annotator model (veto_objective_set_annotators ()) */
} UnitChoice;

typedef struct
{
  guint unit_a;
  guint unit_b;
  guint head;
  double target;
  gint shared_label;
} UnitPair;

typedef struct
{
  guint first_unit;
  guint n_units;
  guint first_proportion;
} UnitBag;

typedef struct
{
  guint unit;
  guint first_target;
} UnitSoft;

struct _VetoObjective
{
  guint n_units;
  guint n_classes;
  guint n_heads;

  TermList lists[N_LISTS];
  GArray *candidates;      /* guint: shown sets of the complementary terms */
  GArray *bag_units;       /* guint */
  GArray *bag_proportions; /* double */
  GArray *soft_targets;    /* float */
  guint *cl_counts;        /* per CL class over the training set: URE-NN/GA priors */

  VetoLossComplementary loss;
  double *q;     /* NULL: uniform */
  double *q_inv; /* NULL: uniform, or Q is singular */
  gboolean q_singular;
  double *a; /* n_models annotator models, K×K each; NULL: uniform annotator */
  guint n_models;
  double *q_models; /* n_q_models transitions of FWD / CPE-F, one per model (rows normalised) */
  guint n_q_models;
  double epsilon;
  double weights[VETO_LOSS_N_KINDS];
  double margin;
  double temperature;

  /* Per-unit scratch of gather / loss, restored before they return. */
  guint8 *mark;
  gint *position;
};

static void
term_list_init (TermList *list, gsize element_size)
{
  list->terms = g_array_new (FALSE, FALSE, element_size);
  list->owner = g_array_new (FALSE, FALSE, sizeof (guint));
  list->dirty = TRUE;
}

static void
term_list_clear (TermList *list)
{
  g_array_unref (list->terms);
  g_array_unref (list->owner);
  g_free (list->start);
  g_free (list->order);
}

static void
term_list_append (TermList *list, guint owner, gconstpointer term)
{
  g_array_append_vals (list->terms, term, 1);
  g_array_append_val (list->owner, owner);
  list->dirty = TRUE;
}

static void
term_list_index (TermList *list, guint n_units)
{
  const guint *owner = (const guint *) list->owner->data;
  guint n = list->owner->len;
  g_autofree guint *fill = NULL;

  if (!list->dirty)
    return;
  g_free (list->start);
  g_free (list->order);
  list->start = g_new0 (guint, n_units + 1);
  list->order = g_new (guint, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    list->start[owner[i] + 1]++;
  for (guint u = 0; u < n_units; u++)
    list->start[u + 1] += list->start[u];
  fill = g_memdup2 (list->start, (gsize) (n_units + 1) * sizeof (guint));
  for (guint i = 0; i < n; i++)
    list->order[fill[owner[i]]++] = i;
  list->dirty = FALSE;
}

VetoObjective *
veto_objective_new (guint n_units, guint n_classes, guint n_heads)
{
  VetoObjective *self;

  g_return_val_if_fail (n_classes >= 1, NULL);

  self = g_new0 (VetoObjective, 1);
  self->n_units = n_units;
  self->n_classes = n_classes;
  self->n_heads = n_heads;
  term_list_init (&self->lists[LIST_ORDINARY], sizeof (UnitLabel));
  term_list_init (&self->lists[LIST_COMPLEMENTARY], sizeof (UnitChoice));
  term_list_init (&self->lists[LIST_PAIRS], sizeof (UnitPair));
  term_list_init (&self->lists[LIST_BAGS], sizeof (UnitBag));
  term_list_init (&self->lists[LIST_SOFT], sizeof (UnitSoft));
  self->candidates = g_array_new (FALSE, FALSE, sizeof (guint));
  self->bag_units = g_array_new (FALSE, FALSE, sizeof (guint));
  self->bag_proportions = g_array_new (FALSE, FALSE, sizeof (double));
  self->soft_targets = g_array_new (FALSE, FALSE, sizeof (float));
  self->cl_counts = g_new0 (guint, n_classes);
  self->loss = VETO_LOSS_COMPLEMENTARY_SCL_NL;
  self->epsilon = VETO_LOSS_DEFAULT_EPSILON;
  for (guint i = 0; i < VETO_LOSS_N_KINDS; i++)
    self->weights[i] = 1.0;
  self->margin = 0.0;
  self->temperature = 1.0;
  self->mark = g_new0 (guint8, MAX (n_units, 1));
  self->position = g_new (gint, MAX (n_units, 1));
  for (guint u = 0; u < n_units; u++)
    self->position[u] = -1;
  return self;
}

void
veto_objective_free (VetoObjective *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < N_LISTS; i++)
    term_list_clear (&self->lists[i]);
  g_array_unref (self->candidates);
  g_array_unref (self->bag_units);
  g_array_unref (self->bag_proportions);
  g_array_unref (self->soft_targets);
  g_free (self->cl_counts);
  g_free (self->q);
  g_free (self->q_inv);
  g_free (self->a);
  g_free (self->q_models);
  g_free (self->mark);
  g_free (self->position);
  g_free (self);
}

guint
veto_objective_get_n_units (VetoObjective *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->n_units;
}

guint
veto_objective_get_n_classes (VetoObjective *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->n_classes;
}

guint
veto_objective_get_n_outputs (VetoObjective *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->n_classes + self->n_heads;
}

static gboolean
unit_pair_is_eligible (const UnitPair *pair)
{
  return pair->shared_label >= 0 && pair->target != 0.5;
}

guint
veto_objective_get_n_terms (VetoObjective *self, VetoLossKind kind)
{
  GArray *pairs;
  guint n = 0;

  g_return_val_if_fail (self != NULL, 0);

  switch (kind)
    {
    case VETO_LOSS_KIND_ORDINARY:
      return self->lists[LIST_ORDINARY].terms->len;
    case VETO_LOSS_KIND_COMPLEMENTARY:
      return self->lists[LIST_COMPLEMENTARY].terms->len;
    case VETO_LOSS_KIND_PREFERENCE:
      return self->lists[LIST_PAIRS].terms->len;
    case VETO_LOSS_KIND_CONSISTENCY:
      pairs = self->lists[LIST_PAIRS].terms;
      for (guint i = 0; i < pairs->len; i++)
        n += unit_pair_is_eligible (&g_array_index (pairs, UnitPair, i));
      return n;
    case VETO_LOSS_KIND_PROPORTION:
      return self->lists[LIST_BAGS].terms->len;
    case VETO_LOSS_KIND_SOFT:
      return self->lists[LIST_SOFT].terms->len;
    case VETO_LOSS_N_KINDS:
    default:
      g_return_val_if_reached (0);
    }
}

static gboolean
check_unit (VetoObjective *self, guint unit, GError **error)
{
  if (unit < self->n_units)
    return TRUE;
  g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
               "Unit %u is out of range (%u units)", unit, self->n_units);
  return FALSE;
}

static gboolean
check_class (VetoObjective *self, guint label, GError **error)
{
  if (label < self->n_classes)
    return TRUE;
  g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
               "Class %u is out of range (%u classes)", label, self->n_classes);
  return FALSE;
}

/* Checks a nonnegative vector with a positive finite sum and returns that sum (0 if not). */
static double
distribution_sum (const double *v, guint n, GError **error)
{
  double sum = 0.0;

  for (guint i = 0; i < n; i++)
    {
      if (!(v[i] >= 0) || !isfinite (v[i]))
        {
          g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                       "Entry %u (%g) is not a finite nonnegative number", i, v[i]);
          return 0.0;
        }
      sum += v[i];
    }
  if (!(sum > 0))
    g_set_error_literal (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                         "The entries sum to zero");
  return sum;
}

gboolean
veto_objective_add_ordinary (VetoObjective *self, guint unit, guint label, GError **error)
{
  UnitLabel term = { unit, label };

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_unit (self, unit, error) || !check_class (self, label, error))
    return FALSE;
  term_list_append (&self->lists[LIST_ORDINARY], unit, &term);
  return TRUE;
}

gboolean
veto_objective_add_complementary (VetoObjective *self, guint unit, guint cl,
                                  const guint *candidates, guint n_candidates, GError **error)
{
  return veto_objective_add_complementary_by (self, unit, cl, candidates, n_candidates, 0,
                                              error);
}

gboolean
veto_objective_add_complementary_by (VetoObjective *self, guint unit, guint cl,
                                     const guint *candidates, guint n_candidates, guint model,
                                     GError **error)
{
  UnitChoice term = { unit, cl, 0, n_candidates, model };
  gboolean cl_shown = n_candidates == 0;
  g_autofree guint8 *seen = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (candidates != NULL || n_candidates == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_unit (self, unit, error) || !check_class (self, cl, error))
    return FALSE;
  if (self->n_classes < 2)
    {
      g_set_error_literal (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                           "Complementary labels need at least 2 classes");
      return FALSE;
    }
  seen = g_new0 (guint8, self->n_classes);
  for (guint i = 0; i < n_candidates; i++)
    {
      if (!check_class (self, candidates[i], error))
        return FALSE;
      if (seen[candidates[i]]++)
        {
          g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                       "Class %u is shown twice", candidates[i]);
          return FALSE;
        }
      cl_shown |= candidates[i] == cl;
    }
  if (!cl_shown)
    {
      g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                   "Complementary label %u is not among the classes shown", cl);
      return FALSE;
    }
  term.first_candidate = self->candidates->len;
  g_array_append_vals (self->candidates, candidates, n_candidates);
  term_list_append (&self->lists[LIST_COMPLEMENTARY], unit, &term);
  self->cl_counts[cl]++;
  return TRUE;
}

gboolean
veto_objective_add_preference (VetoObjective *self, guint unit_a, guint unit_b, guint head,
                               double target, gint shared_label, GError **error)
{
  UnitPair term = { unit_a, unit_b, head, target, shared_label };

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_unit (self, unit_a, error) || !check_unit (self, unit_b, error))
    return FALSE;
  if (head >= self->n_heads || !(target >= 0 && target <= 1)
      || (shared_label >= 0 && !check_class (self, (guint) shared_label, error)))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                     "Invalid preference: head %u of %u, target %g (must be in [0, 1])", head,
                     self->n_heads, target);
      return FALSE;
    }
  term_list_append (&self->lists[LIST_PAIRS], unit_a, &term);
  return TRUE;
}

gboolean
veto_objective_add_bag (VetoObjective *self, const guint *units, guint n_units,
                        const double *proportions, GError **error)
{
  UnitBag term;
  double sum;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (units != NULL || n_units == 0, FALSE);
  g_return_val_if_fail (proportions != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (n_units == 0)
    {
      g_set_error_literal (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID, "Empty bag");
      return FALSE;
    }
  for (guint i = 0; i < n_units; i++)
    if (!check_unit (self, units[i], error))
      return FALSE;
  sum = distribution_sum (proportions, self->n_classes, error);
  if (sum == 0.0)
    return FALSE;
  term.first_unit = self->bag_units->len;
  term.n_units = n_units;
  term.first_proportion = self->bag_proportions->len;
  g_array_append_vals (self->bag_units, units, n_units);
  for (guint c = 0; c < self->n_classes; c++)
    {
      double share = proportions[c] / sum;

      g_array_append_val (self->bag_proportions, share);
    }
  term_list_append (&self->lists[LIST_BAGS], units[0], &term);
  return TRUE;
}

gboolean
veto_objective_add_soft (VetoObjective *self, guint unit, const float *target, GError **error)
{
  UnitSoft term = { unit, 0 };
  g_autofree double *v = NULL;
  double sum;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (target != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_unit (self, unit, error))
    return FALSE;
  v = g_new (double, self->n_classes);
  for (guint c = 0; c < self->n_classes; c++)
    v[c] = target[c];
  sum = distribution_sum (v, self->n_classes, error);
  if (sum == 0.0)
    return FALSE;
  term.first_target = self->soft_targets->len;
  for (guint c = 0; c < self->n_classes; c++)
    {
      float share = (float) (v[c] / sum);

      g_array_append_val (self->soft_targets, share);
    }
  term_list_append (&self->lists[LIST_SOFT], unit, &term);
  return TRUE;
}

static gboolean
loss_is_ure (VetoLossComplementary loss)
{
  return loss == VETO_LOSS_COMPLEMENTARY_URE || loss == VETO_LOSS_COMPLEMENTARY_URE_NN
         || loss == VETO_LOSS_COMPLEMENTARY_URE_GA;
}

gboolean
veto_objective_set_complementary_loss (VetoObjective *self, VetoLossComplementary loss,
                                       GError **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail ((guint) loss < G_N_ELEMENTS (complementary_names), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (loss_is_ure (loss) && self->q_singular)
    {
      g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_SINGULAR,
                   "%s needs an invertible transition matrix",
                   veto_loss_complementary_to_string (loss));
      return FALSE;
    }
  self->loss = loss;
  return TRUE;
}

VetoLossComplementary
veto_objective_get_complementary_loss (VetoObjective *self)
{
  g_return_val_if_fail (self != NULL, VETO_LOSS_COMPLEMENTARY_SCL_NL);

  return self->loss;
}

/* Every class must be a possible answer for some true class, or its answers are +inf. */
static gboolean
check_columns (const double *m, guint k, const char *what, GError **error)
{
  for (guint c = 0; c < k; c++)
    {
      gboolean positive = FALSE;

      for (guint y = 0; y < k; y++)
        positive |= m[(gsize) y * k + c] > 0;
      if (!positive)
        {
          g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                       "Column %u of the %s is all zero: class %u could never be answered", c,
                       what, c);
          return FALSE;
        }
    }
  return TRUE;
}

/* out = q with every row normalised to sum to 1; a row that cannot be, or a class no row can
 * turn into, is an error about what (e.g. "the transition matrix"). */
static gboolean
normalise_transition (const double *q, guint k, const char *what, double *out, GError **error)
{
  for (guint y = 0; y < k; y++)
    {
      double sum = distribution_sum (q + (gsize) y * k, k, error);

      if (sum == 0.0)
        {
          g_prefix_error (error, "Row %u of %s: ", y, what);
          return FALSE;
        }
      for (guint c = 0; c < k; c++)
        out[(gsize) y * k + c] = q[(gsize) y * k + c] / sum;
    }
  return check_columns (out, k, "transition matrix", error);
}

gboolean
veto_objective_set_transition (VetoObjective *self, const double *q, GError **error)
{
  guint k;
  g_autofree double *normalised = NULL;
  g_autofree double *inverse = NULL;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  k = self->n_classes;
  if (q == NULL)
    {
      g_clear_pointer (&self->q, g_free);
      g_clear_pointer (&self->q_inv, g_free);
      self->q_singular = FALSE;
      return TRUE;
    }
  normalised = g_new (double, (gsize) k * k);
  if (!normalise_transition (q, k, "the transition matrix", normalised, error))
    return FALSE;
  inverse = g_new (double, (gsize) k * k);
  if (!veto_loss_matrix_invert (normalised, k, inverse, &local_error))
    {
      if (loss_is_ure (self->loss))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local_error), "%s: ",
                                      veto_loss_complementary_to_string (self->loss));
          return FALSE;
        }
      g_clear_pointer (&inverse, g_free);
    }
  g_free (self->q);
  g_free (self->q_inv);
  self->q = g_steal_pointer (&normalised);
  self->q_inv = g_steal_pointer (&inverse);
  self->q_singular = self->q_inv == NULL;
  return TRUE;
}

gboolean
veto_objective_set_transitions (VetoObjective *self, const double *q, guint n_models,
                                GError **error)
{
  guint k;
  g_autofree double *normalised = NULL;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (q != NULL || n_models == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  k = self->n_classes;
  normalised = g_new (double, (gsize) MAX (n_models, 1) * k * k);
  for (guint m = 0; m < n_models; m++)
    {
      g_autofree char *what = g_strdup_printf ("transition matrix %u", m);

      if (!normalise_transition (q + (gsize) m * k * k, k, what,
                                 normalised + (gsize) m * k * k, error))
        return FALSE;
    }
  g_free (self->q_models);
  self->q_models = n_models > 0 ? g_steal_pointer (&normalised) : NULL;
  self->n_q_models = n_models;
  return TRUE;
}

gboolean
veto_objective_set_annotator (VetoObjective *self, const double *a, GError **error)
{
  return veto_objective_set_annotators (self, a, a != NULL ? 1 : 0, error);
}

gboolean
veto_objective_set_annotators (VetoObjective *self, const double *a, guint n_models,
                               GError **error)
{
  guint k;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (a != NULL || n_models == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  k = self->n_classes;
  for (guint m = 0; m < n_models; m++)
    {
      const double *am = a + (gsize) m * k * k;

      for (guint i = 0; i < k * k; i++)
        if (!(am[i] >= 0) || !isfinite (am[i]))
          {
            g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                         "Annotator matrix %u, entry %u (%g) is not a finite nonnegative number",
                         m, i, am[i]);
            return FALSE;
          }
      if (!check_columns (am, k, "annotator matrix", error))
        return FALSE;
    }
  g_free (self->a);
  self->a = n_models > 0 ? g_memdup2 (a, (gsize) n_models * k * k * sizeof (double)) : NULL;
  self->n_models = n_models;
  return TRUE;
}

void
veto_objective_set_annotator_epsilon (VetoObjective *self, double epsilon)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (epsilon >= 0 && isfinite (epsilon));

  self->epsilon = epsilon;
}

void
veto_objective_set_weight (VetoObjective *self, VetoLossKind kind, double weight)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail ((guint) kind < VETO_LOSS_N_KINDS);
  g_return_if_fail (weight >= 0 && isfinite (weight));

  self->weights[kind] = weight;
}

void
veto_objective_set_margin (VetoObjective *self, double margin)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (isfinite (margin));

  self->margin = margin;
}

void
veto_objective_set_temperature (VetoObjective *self, double temperature)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (temperature > 0 && isfinite (temperature));

  self->temperature = temperature;
}

static void
objective_index (VetoObjective *self)
{
  for (guint i = 0; i < N_LISTS; i++)
    term_list_index (&self->lists[i], self->n_units);
}

static guint
gather_row (VetoObjective *self, guint row, guint *rows, guint n, guint max_rows)
{
  if (n < max_rows && !self->mark[row])
    {
      self->mark[row] = 1;
      rows[n++] = row;
    }
  return n;
}

guint
veto_objective_gather (gpointer objective, const guint *units, guint n_units, guint *out_rows,
                       guint max_rows)
{
  VetoObjective *self = objective;
  TermList *pairs, *bags;
  guint n = 0;

  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (units != NULL || n_units == 0, 0);
  g_return_val_if_fail (out_rows != NULL || max_rows == 0, 0);
  for (guint i = 0; i < n_units; i++)
    g_return_val_if_fail (units[i] < self->n_units, 0);

  objective_index (self);
  pairs = &self->lists[LIST_PAIRS];
  bags = &self->lists[LIST_BAGS];
  for (guint i = 0; i < n_units; i++)
    n = gather_row (self, units[i], out_rows, n, max_rows);
  for (guint i = 0; i < n_units; i++)
    {
      guint u = units[i];

      for (guint t = pairs->start[u]; t < pairs->start[u + 1]; t++)
        {
          const UnitPair *pair = &g_array_index (pairs->terms, UnitPair, pairs->order[t]);

          n = gather_row (self, pair->unit_b, out_rows, n, max_rows);
        }
      for (guint t = bags->start[u]; t < bags->start[u + 1]; t++)
        {
          const UnitBag *bag = &g_array_index (bags->terms, UnitBag, bags->order[t]);
          const guint *members = &g_array_index (self->bag_units, guint, bag->first_unit);

          for (guint m = 0; m < bag->n_units; m++)
            n = gather_row (self, members[m], out_rows, n, max_rows);
        }
    }
  for (guint r = 0; r < n; r++)
    self->mark[out_rows[r]] = 0;
  return n;
}

/* The batch row of a unit, or FALSE when it was not forwarded. */
static gboolean
unit_row (VetoObjective *self, guint unit, guint *out_row)
{
  if (self->position[unit] < 0)
    return FALSE;
  *out_row = (guint) self->position[unit];
  return TRUE;
}

/* Terms a minibatch owns are sums over units divided by n_units: hand a mean over n terms
 * the weight w * n / n_units. */
static double
kind_weight (VetoObjective *self, VetoLossKind kind, guint n_terms, guint n_units)
{
  return self->weights[kind] * n_terms / n_units;
}

static double
objective_ordinary (VetoObjective *self, const VetoLossBatch *batch, const guint *units,
                    guint n_units)
{
  TermList *list = &self->lists[LIST_ORDINARY];
  g_autoptr (GArray) terms = g_array_new (FALSE, FALSE, sizeof (VetoLossLabel));

  for (guint i = 0; i < n_units; i++)
    for (guint t = list->start[units[i]]; t < list->start[units[i] + 1]; t++)
      {
        const UnitLabel *src = &g_array_index (list->terms, UnitLabel, list->order[t]);
        VetoLossLabel term = { 0, src->label };

        if (unit_row (self, src->unit, &term.row))
          g_array_append_val (terms, term);
      }
  if (terms->len == 0)
    return 0.0;
  return veto_loss_cross_entropy (
    batch, (const VetoLossLabel *) terms->data, terms->len,
    kind_weight (self, VETO_LOSS_KIND_ORDINARY, terms->len, n_units));
}

/* MCL-LOG: one set of CLs per unit. */
static double
objective_cl_sets (VetoObjective *self, const VetoLossBatch *batch, const guint *units,
                   guint n_units)
{
  TermList *list = &self->lists[LIST_COMPLEMENTARY];
  g_autoptr (GArray) sets = g_array_new (FALSE, FALSE, sizeof (VetoLossSet));
  g_autoptr (GArray) members = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GArray) first = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; i < n_units; i++)
    {
      guint u = units[i];
      VetoLossSet set = { 0, NULL, 0 };
      guint start = members->len;

      if (list->start[u] == list->start[u + 1] || !unit_row (self, u, &set.row))
        continue;
      for (guint t = list->start[u]; t < list->start[u + 1]; t++)
        {
          const UnitChoice *src = &g_array_index (list->terms, UnitChoice, list->order[t]);

          g_array_append_val (members, src->cl);
        }
      set.n_cls = members->len - start;
      g_array_append_val (sets, set);
      g_array_append_val (first, start);
    }
  if (sets->len == 0)
    return 0.0;
  /* Only now is the members array at its final address. */
  for (guint s = 0; s < sets->len; s++)
    g_array_index (sets, VetoLossSet, s).cls
      = &g_array_index (members, guint, g_array_index (first, guint, s));
  return veto_loss_mcl_log (batch, (const VetoLossSet *) sets->data, sets->len,
                            kind_weight (self, VETO_LOSS_KIND_COMPLEMENTARY, sets->len, n_units));
}

static double
objective_cl_choices (VetoObjective *self, const VetoLossBatch *batch, const guint *units,
                      guint n_units)
{
  TermList *list = &self->lists[LIST_COMPLEMENTARY];
  g_autoptr (GArray) terms = g_array_new (FALSE, FALSE, sizeof (VetoLossChoice));

  for (guint i = 0; i < n_units; i++)
    for (guint t = list->start[units[i]]; t < list->start[units[i] + 1]; t++)
      {
        const UnitChoice *src = &g_array_index (list->terms, UnitChoice, list->order[t]);
        VetoLossChoice term = { 0, src->cl, NULL, src->n_candidates, NULL };

        /* an answer whose model is not set uses the first (or the uniform annotator) */
        if (src->model < self->n_models)
          term.a = self->a + (gsize) src->model * self->n_classes * self->n_classes;
        if (src->n_candidates > 0)
          term.shown = &g_array_index (self->candidates, guint, src->first_candidate);
        if (unit_row (self, src->unit, &term.row))
          g_array_append_val (terms, term);
      }
  if (terms->len == 0)
    return 0.0;
  return veto_loss_candidate (
    batch, (const VetoLossChoice *) terms->data, terms->len, self->a, self->epsilon,
    kind_weight (self, VETO_LOSS_KIND_COMPLEMENTARY, terms->len, n_units));
}

/* FWD with each answer's own Q (veto_objective_set_transitions ()): the terms of each model
 * together, each group weighed by its size so that the sum is the mean over every term; an
 * answer whose model has no Q uses the objective's one. */
static double
forward_by_model (VetoObjective *self, const VetoLossBatch *batch, GArray *terms, GArray *models,
                  guint n_units)
{
  g_autoptr (GArray) group = g_array_new (FALSE, FALSE, sizeof (VetoLossLabel));
  guint k = self->n_classes;
  double total = 0.0;

  for (guint m = 0; m <= self->n_q_models; m++)
    {
      const double *q = m < self->n_q_models ? self->q_models + (gsize) m * k * k : self->q;

      g_array_set_size (group, 0);
      for (guint t = 0; t < terms->len; t++)
        {
          guint model = g_array_index (models, guint, t);

          if (model == m || (m == self->n_q_models && model > m))
            g_array_append_val (group, g_array_index (terms, VetoLossLabel, t));
        }
      if (group->len > 0)
        total += veto_loss_forward (batch, (const VetoLossLabel *) group->data, group->len, q,
                                    kind_weight (self, VETO_LOSS_KIND_COMPLEMENTARY, group->len,
                                                 n_units));
    }
  return total;
}

static double
objective_cl_labels (VetoObjective *self, const VetoLossBatch *batch, const guint *units,
                     guint n_units)
{
  TermList *list = &self->lists[LIST_COMPLEMENTARY];
  g_autoptr (GArray) terms = g_array_new (FALSE, FALSE, sizeof (VetoLossLabel));
  g_autoptr (GArray) models = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree double *priors = NULL;
  const VetoLossLabel *data;
  double weight;
  guint n;

  for (guint i = 0; i < n_units; i++)
    for (guint t = list->start[units[i]]; t < list->start[units[i] + 1]; t++)
      {
        const UnitChoice *src = &g_array_index (list->terms, UnitChoice, list->order[t]);
        VetoLossLabel term = { 0, src->cl };

        if (unit_row (self, src->unit, &term.row))
          {
            g_array_append_val (terms, term);
            g_array_append_val (models, src->model);
          }
      }
  n = terms->len;
  if (n == 0)
    return 0.0;
  data = (const VetoLossLabel *) terms->data;
  weight = kind_weight (self, VETO_LOSS_KIND_COMPLEMENTARY, n, n_units);

  switch (self->loss)
    {
    case VETO_LOSS_COMPLEMENTARY_SCL_NL:
      return veto_loss_scl_nl (batch, data, n, weight);
    case VETO_LOSS_COMPLEMENTARY_SCL_EXP:
      return veto_loss_scl_exp (batch, data, n, weight);
    case VETO_LOSS_COMPLEMENTARY_FWD:
    case VETO_LOSS_COMPLEMENTARY_CPE_F:
      if (self->n_q_models > 0)
        return forward_by_model (self, batch, terms, models, n_units);
      return veto_loss_forward (batch, data, n, self->q, weight);
    case VETO_LOSS_COMPLEMENTARY_URE:
      return veto_loss_ure (batch, data, n, self->q_inv, weight);
    case VETO_LOSS_COMPLEMENTARY_PC:
      return veto_loss_pairwise_comparison (batch, data, n, weight);
    case VETO_LOSS_COMPLEMENTARY_URE_NN:
    case VETO_LOSS_COMPLEMENTARY_URE_GA:
      priors = g_new (double, self->n_classes);
      for (guint c = 0; c < self->n_classes; c++)
        priors[c] = (double) self->cl_counts[c] / list->terms->len;
      if (self->loss == VETO_LOSS_COMPLEMENTARY_URE_NN)
        return veto_loss_ure_nn (batch, data, n, self->q_inv, priors, weight);
      return veto_loss_ure_ga (batch, data, n, self->q_inv, priors, weight);
    case VETO_LOSS_COMPLEMENTARY_MCL_LOG:
    case VETO_LOSS_COMPLEMENTARY_CANDIDATE:
    default:
      g_return_val_if_reached (0.0);
    }
}

static double
objective_complementary (VetoObjective *self, const VetoLossBatch *batch, const guint *units,
                         guint n_units)
{
  if (self->loss == VETO_LOSS_COMPLEMENTARY_MCL_LOG)
    return objective_cl_sets (self, batch, units, n_units);
  if (self->loss == VETO_LOSS_COMPLEMENTARY_CANDIDATE)
    return objective_cl_choices (self, batch, units, n_units);
  return objective_cl_labels (self, batch, units, n_units);
}

static double
objective_pairs (VetoObjective *self, const VetoLossBatch *batch, const guint *units,
                 guint n_units)
{
  TermList *list = &self->lists[LIST_PAIRS];
  g_autoptr (GArray) pairs = g_array_new (FALSE, FALSE, sizeof (VetoLossPair));
  g_autoptr (GArray) eligible = g_array_new (FALSE, FALSE, sizeof (VetoLossPair));
  double value;

  for (guint i = 0; i < n_units; i++)
    for (guint t = list->start[units[i]]; t < list->start[units[i] + 1]; t++)
      {
        const UnitPair *src = &g_array_index (list->terms, UnitPair, list->order[t]);
        VetoLossPair pair = { 0, 0, src->head, src->target, src->shared_label };

        if (!unit_row (self, src->unit_a, &pair.row_a)
            || !unit_row (self, src->unit_b, &pair.row_b))
          continue;
        g_array_append_val (pairs, pair);
        if (unit_pair_is_eligible (src))
          g_array_append_val (eligible, pair);
      }
  if (pairs->len == 0)
    return 0.0;
  value = veto_loss_bradley_terry (
    batch, (const VetoLossPair *) pairs->data, pairs->len,
    kind_weight (self, VETO_LOSS_KIND_PREFERENCE, pairs->len, n_units));
  if (eligible->len > 0)
    value += veto_loss_consistency (
      batch, (const VetoLossPair *) eligible->data, eligible->len, self->margin,
      kind_weight (self, VETO_LOSS_KIND_CONSISTENCY, eligible->len, n_units));
  return value;
}

static double
objective_bags (VetoObjective *self, const VetoLossBatch *batch, const guint *units,
                guint n_units)
{
  TermList *list = &self->lists[LIST_BAGS];
  g_autoptr (GArray) bags = g_array_new (FALSE, FALSE, sizeof (VetoLossBag));
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GArray) first = g_array_new (FALSE, FALSE, sizeof (guint));

  for (guint i = 0; i < n_units; i++)
    for (guint t = list->start[units[i]]; t < list->start[units[i] + 1]; t++)
      {
        const UnitBag *src = &g_array_index (list->terms, UnitBag, list->order[t]);
        const guint *members = &g_array_index (self->bag_units, guint, src->first_unit);
        VetoLossBag bag = { NULL, src->n_units, NULL };
        guint start = rows->len;
        guint m;

        for (m = 0; m < src->n_units; m++)
          {
            guint row;

            if (!unit_row (self, members[m], &row))
              break;
            g_array_append_val (rows, row);
          }
        if (m < src->n_units)
          {
            g_array_set_size (rows, start);
            continue;
          }
        bag.proportions = &g_array_index (self->bag_proportions, double, src->first_proportion);
        g_array_append_val (bags, bag);
        g_array_append_val (first, start);
      }
  if (bags->len == 0)
    return 0.0;
  for (guint b = 0; b < bags->len; b++)
    g_array_index (bags, VetoLossBag, b).rows
      = &g_array_index (rows, guint, g_array_index (first, guint, b));
  return veto_loss_proportion (batch, (const VetoLossBag *) bags->data, bags->len,
                               kind_weight (self, VETO_LOSS_KIND_PROPORTION, bags->len, n_units));
}

static double
objective_soft (VetoObjective *self, const VetoLossBatch *batch, const guint *units,
                guint n_units)
{
  TermList *list = &self->lists[LIST_SOFT];
  g_autoptr (GArray) terms = g_array_new (FALSE, FALSE, sizeof (VetoLossSoft));

  for (guint i = 0; i < n_units; i++)
    for (guint t = list->start[units[i]]; t < list->start[units[i] + 1]; t++)
      {
        const UnitSoft *src = &g_array_index (list->terms, UnitSoft, list->order[t]);
        VetoLossSoft term = { 0, &g_array_index (self->soft_targets, float, src->first_target) };

        if (unit_row (self, src->unit, &term.row))
          g_array_append_val (terms, term);
      }
  if (terms->len == 0)
    return 0.0;
  return veto_loss_soft (batch, (const VetoLossSoft *) terms->data, terms->len,
                         self->temperature,
                         kind_weight (self, VETO_LOSS_KIND_SOFT, terms->len, n_units));
}

double
veto_objective_loss (gpointer objective, const guint *units, guint n_units, const guint *rows,
                     guint n_rows, const float *outputs, guint n_outputs, float *out_grad)
{
  VetoObjective *self = objective;
  VetoLossBatch batch = { outputs, out_grad, n_rows, n_outputs, 0 };
  double total = 0.0;

  g_return_val_if_fail (self != NULL, NAN);
  g_return_val_if_fail (units != NULL || n_units == 0, NAN);
  g_return_val_if_fail ((rows != NULL && outputs != NULL) || n_rows == 0, NAN);
  g_return_val_if_fail (n_outputs >= self->n_classes + self->n_heads, NAN);
  for (guint i = 0; i < n_units; i++)
    g_return_val_if_fail (units[i] < self->n_units, NAN);
  for (guint r = 0; r < n_rows; r++)
    g_return_val_if_fail (rows[r] < self->n_units, NAN);

  if (out_grad != NULL)
    memset (out_grad, 0, (gsize) n_rows * n_outputs * sizeof (float));
  if (n_units == 0)
    return 0.0;

  objective_index (self);
  batch.n_classes = self->n_classes;
  for (guint r = 0; r < n_rows; r++)
    self->position[rows[r]] = (gint) r;
  total += objective_ordinary (self, &batch, units, n_units);
  total += objective_complementary (self, &batch, units, n_units);
  total += objective_pairs (self, &batch, units, n_units);
  total += objective_bags (self, &batch, units, n_units);
  total += objective_soft (self, &batch, units, n_units);
  for (guint r = 0; r < n_rows; r++)
    self->position[rows[r]] = -1;
  return total;
}
