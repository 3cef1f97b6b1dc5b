/* veto-sim-loop: the headless active-learning loop with simulated annotators, one run at a time. */
#include "veto-sim.h"

#include "veto-agcd.h"
#include "veto-sessions.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

static const char *const mode_names[] = { "ordinary", "complementary", "preference", "agcd",
                                          "distill" };

gboolean
veto_sim_mode_from_string (const char *text, VetoSimMode *out_mode)
{
  for (guint i = 0; i < G_N_ELEMENTS (mode_names); i++)
    if (g_strcmp0 (text, mode_names[i]) == 0)
      {
        *out_mode = i;
        return TRUE;
      }
  return FALSE;
}

const char *
veto_sim_mode_to_string (VetoSimMode mode)
{
  return mode_names[mode];
}

static const char *const model_names[] = { "estimated", "oracle", "uniform", "anchors" };

gboolean
veto_sim_annotator_model_from_string (const char *text, VetoSimAnnotatorModel *out_model)
{
  for (guint i = 0; i < G_N_ELEMENTS (model_names); i++)
    if (g_strcmp0 (text, model_names[i]) == 0)
      {
        *out_model = i;
        return TRUE;
      }
  return FALSE;
}

const char *
veto_sim_annotator_model_to_string (VetoSimAnnotatorModel model)
{
  return model_names[model];
}

void
veto_sim_config_init (VetoSimConfig *config)
{
  *config = (VetoSimConfig) {
    .mode = VETO_SIM_MODE_ORDINARY,
    .strategy = VETO_ACTIVE_MARGIN,
    .budget = 1000,
    .batch = 100,
    .init = 100,
    .seed = 1,
    .candidates = VETO_ACTIVE_CANDIDATES_INFORMATIVE,
    .n_candidates = 4,
    .novel = 3,
  };
  veto_active_options_init (&config->active);
  veto_train_spec_init (&config->train);
}

/* Most candidates a complementary question shows here. */
#define MAX_SHOWN 64

/* A complementary answer as the annotator model needs it. */
typedef struct
{
  guint index;   /* pool index */
  guint truth;   /* the gold class: the model sees it only for anchors */
  guint answer;
  gboolean anchor;
  guint shown[MAX_SHOWN];
} Choice;

/* The state of one run. Pool indices (0..n_pool-1) name the pool items with a gold label. */
typedef struct
{
  VetoStore *store;
  const VetoDataset *ds;
  const VetoSimConfig *config;
  guint k, d, n_pool;
  GArray *pool;             /* dataset row of each pool index */
  const float *x_pool;      /* n_pool × d: the dataset's own rows when the pool's are
                               consecutive (no copy of a big pool), else x_pool_copy */
  float *x_pool_copy;
  gboolean *asked;          /* in this pass over the pool */
  guint n_asked;
  guint pass;               /* complementary runs go over the pool again (passes ()) */
  VetoRng rng;
  VetoSimAnnotator *annotator;
  GArray *choices;          /* Choice: every complementary answer of the run */
  GHashTable *answers_of;   /* pool index + 1 -> GArray of indices into choices */
  GArray *earlier;          /* VetoActiveAnswer: item_posterior ()'s scratch */
  double *annotator_a;      /* K×K: the loss's annotator model, NULL: uniform */
  char *annotator_name;
  gint64 annotator_id;
  guint answers;
  /* distill */
  float *teacher_probs;     /* n_pool × k */
  guint teacher_wrong;
  gint64 started_us;
  VetoModel *previous;      /* the last round's softmax: the next round starts from it */
} Run;

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->pool, g_array_unref);
  g_clear_pointer (&run->x_pool_copy, g_free);
  g_clear_pointer (&run->asked, g_free);
  g_clear_pointer (&run->annotator, veto_sim_annotator_free);
  g_clear_pointer (&run->choices, g_array_unref);
  g_clear_pointer (&run->answers_of, g_hash_table_unref);
  g_clear_pointer (&run->earlier, g_array_unref);
  g_clear_pointer (&run->annotator_a, g_free);
  g_clear_pointer (&run->annotator_name, g_free);
  g_clear_pointer (&run->teacher_probs, g_free);
  g_clear_pointer (&run->previous, veto_model_free);
}

static guint
pool_gold (Run *run, guint index)
{
  return veto_dataset_get_gold (run->ds, g_array_index (run->pool, guint, index));
}

/* A fresh annotator per run, so that runs sharing a project never train on each other. */
static gboolean
make_annotator (Run *run, GError **error)
{
  const VetoSimConfig *c = run->config;
  VetoAnnotatorKind kind = c->mode == VETO_SIM_MODE_DISTILL ? VETO_ANNOTATOR_TEACHER
                                                            : VETO_ANNOTATOR_SIMULATED;
  g_autofree char *base = g_strdup_printf ("sim/%s/%s/%s/seed%" G_GUINT64_FORMAT,
                                           veto_sim_mode_to_string (c->mode),
                                           c->agcd_rule ? "agcd"
                                           : veto_active_strategy_to_string (c->strategy),
                                           veto_sim_annotator_get_profile (run->annotator),
                                           c->seed);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *stamp = g_date_time_format (now, "%Y%m%dT%H%M%S");

  run->annotator_name = g_strdup_printf ("%s/%s-%06x", base, stamp,
                                         g_random_int_range (0, 0xffffff));
  return veto_store_ensure_annotator (run->store, run->annotator_name, kind, &run->annotator_id,
                                      error);
}

/* Whether a run may ask an item again, and so spend more answers than the pool has items. */
static gboolean
asks_again (const VetoSimConfig *config)
{
  return config->mode == VETO_SIM_MODE_COMPLEMENTARY
         && config->strategy == VETO_ACTIVE_INFORMATION;
}

/* How many times the run may ask about each pool item: complementary questions of the other
 * strategies go over the pool again once every item has been asked, up to VETO_SESSIONS_MAX_ASKS
 * times, as the window's sessions do; else once (the information strategy asks any item again
 * at any time). */
static guint
passes (const VetoSimConfig *config)
{
  return config->mode == VETO_SIM_MODE_COMPLEMENTARY && !asks_again (config)
           ? VETO_SESSIONS_MAX_ASKS
           : 1;
}

static gboolean
run_init (Run *run, VetoStore *store, const VetoDataset *ds, const VetoSimConfig *config,
          GError **error)
{
  guint n_rows;
  const guint *rows = veto_dataset_get_split (ds, VETO_SPLIT_POOL, &n_rows);
  const float *X = veto_dataset_get_features (ds);
  const char *profile = config->annotator;

  *run = (Run) { .store = store, .ds = ds, .config = config };
  run->started_us = g_get_monotonic_time ();
  run->k = veto_dataset_get_n_classes (ds);
  run->d = veto_dataset_get_dim (ds);
  run->pool = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < n_rows; i++)
    if (veto_dataset_get_gold (ds, rows[i]) >= 0)
      g_array_append_val (run->pool, rows[i]);
  run->n_pool = run->pool->len;
  if (((guint64) run->n_pool * passes (config) < config->budget && !asks_again (config))
      || config->batch == 0 || config->init > config->budget || run->n_pool < config->init)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                   "%s: a budget of %u answers (init %u, batches of %u) needs %u pool "
                   "items with a gold label (each asked at most %u times); the pool has %u",
                   veto_store_get_path (store), config->budget, config->init, config->batch,
                   (config->budget + passes (config) - 1) / passes (config), passes (config),
                   run->n_pool);
      return FALSE;
    }
  if (config->mode == VETO_SIM_MODE_COMPLEMENTARY
      && (config->n_candidates > MAX_SHOWN || !(config->anchors >= 0 && config->anchors <= 1)))
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                   "complementary questions show at most %u candidates (asked for %u) and "
                   "anchors are a share in [0, 1]", MAX_SHOWN, config->n_candidates);
      return FALSE;
    }
  {
    guint first = g_array_index (run->pool, guint, 0);
    gboolean consecutive = TRUE;

    for (guint i = 1; i < run->n_pool && consecutive; i++)
      consecutive = g_array_index (run->pool, guint, i) == first + i;
    if (consecutive)
      run->x_pool = X + (gsize) first * run->d;
    else
      {
        run->x_pool_copy = g_new (float, (gsize) run->n_pool * run->d);
        for (guint i = 0; i < run->n_pool; i++)
          memcpy (run->x_pool_copy + (gsize) i * run->d,
                  X + (gsize) g_array_index (run->pool, guint, i) * run->d,
                  run->d * sizeof (float));
        run->x_pool = run->x_pool_copy;
      }
  }
  run->asked = g_new0 (gboolean, run->n_pool);
  run->pass = 1;
  run->choices = g_array_new (FALSE, FALSE, sizeof (Choice));
  run->answers_of = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify) g_array_unref);
  run->earlier = g_array_new (FALSE, FALSE, sizeof (VetoActiveAnswer));
  veto_rng_init (&run->rng, config->seed * 7919 + 1);
  if (profile == NULL)
    profile = config->mode == VETO_SIM_MODE_COMPLEMENTARY ? (run->k == 10 ? "human" : "uniform")
              : config->mode == VETO_SIM_MODE_DISTILL     ? "teacher"
                                                          : "ordinary";
  run->annotator = veto_sim_annotator_new (profile, run->k, config->n_candidates, error);
  return run->annotator != NULL && make_annotator (run, error);
}

static char *
soft_json (const float *p, guint k)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_array (b);
  for (guint c = 0; c < k; c++)
    json_builder_add_double_value (b, p[c]);
  json_builder_end_array (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* Puts the questions for pool indices to the simulated annotator and commits the answers in one
 * transaction. candidates (n × n_candidates class indices) for complementary questions. */
static gboolean
ask (Run *run, const guint *indices, guint n, const guint *candidates, const double *scores,
     const char *strategy, GError **error)
{
  const VetoSimConfig *c = run->config;
  guint m = c->n_candidates;

  if (!veto_store_begin (run->store, error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      guint index = indices[i], y = pool_gold (run, index);
      gint64 shown[MAX_SHOWN];
      g_autofree char *soft = NULL;
      VetoAnswer answer = {
        .item = veto_dataset_item_of_row (run->ds, g_array_index (run->pool, guint, index)),
        .annotator = run->annotator_id,
        .strategy = strategy,
        .score = scores ? scores[i] : NAN,
        .shown_at_us = g_get_real_time (),
      };

      switch (c->mode)
        {
        case VETO_SIM_MODE_COMPLEMENTARY:
          {
            guint cl = veto_sim_annotator_answer_complementary (run->annotator, &run->rng, y,
                                                                candidates + (gsize) i * m, m);

            for (guint j = 0; j < m; j++)
              shown[j] = veto_dataset_class_id (run->ds, candidates[(gsize) i * m + j]);
            Choice choice = { index, y, cl, g_strcmp0 (strategy, "anchor") == 0, { 0 } };
            GArray *mine = g_hash_table_lookup (run->answers_of, GUINT_TO_POINTER (index + 1));

            if (mine == NULL)
              {
                mine = g_array_new (FALSE, FALSE, sizeof (guint));
                g_hash_table_insert (run->answers_of, GUINT_TO_POINTER (index + 1), mine);
              }
            g_array_append_val (mine, run->choices->len);

            memcpy (choice.shown, candidates + (gsize) i * m, m * sizeof (guint));
            g_array_append_val (run->choices, choice);
            answer.kind = VETO_KIND_COMPLEMENTARY;
            answer.answer_class = veto_dataset_class_id (run->ds, cl);
            answer.candidates = shown;
            answer.n_candidates = m;
          }
          break;
        case VETO_SIM_MODE_DISTILL:
          soft = soft_json (run->teacher_probs + (gsize) index * run->k, run->k);
          answer.kind = VETO_KIND_SOFT;
          answer.soft_json = soft;
          {
            const float *p = run->teacher_probs + (gsize) index * run->k;
            guint best = 0;

            for (guint j = 1; j < run->k; j++)
              if (p[j] > p[best])
                best = j;
            run->teacher_wrong += best != y;
          }
          break;
        case VETO_SIM_MODE_ORDINARY:
        case VETO_SIM_MODE_PREFERENCE:
        case VETO_SIM_MODE_AGCD:
        default:
          answer.kind = VETO_KIND_ORDINARY;
          answer.answer_class = veto_dataset_class_id (
              run->ds, veto_sim_annotator_answer_ordinary (run->annotator, &run->rng, y));
          break;
        }
      answer.answered_at_us = g_get_real_time ();
      if (!veto_store_add_annotation (run->store, &answer, NULL, error))
        {
          veto_store_rollback (run->store);
          return FALSE;
        }
      /* the information strategy may ask an item again */
      if (!run->asked[index])
        run->n_asked++;
      run->asked[index] = TRUE;
      run->answers++;
    }
  return veto_store_commit (run->store, error);
}

/* Posterior of the class of pool item `index`: the model's p combined with every answer the
 * item has under the annotator model (veto_active_posterior ()); the answers, all the run's one
 * annotator's, are left in run->earlier. */
static void
item_posterior (Run *run, const float *probs, guint index, double *out)
{
  GArray *mine = g_hash_table_lookup (run->answers_of, GUINT_TO_POINTER (index + 1));
  guint n = mine ? mine->len : 0;

  g_array_set_size (run->earlier, n);
  for (guint t = 0; t < n; t++)
    {
      const Choice *ch = &g_array_index (run->choices, Choice, g_array_index (mine, guint, t));

      g_array_index (run->earlier, VetoActiveAnswer, t) = (VetoActiveAnswer) {
        ch->shown, run->config->n_candidates, ch->answer, run->annotator_a, TRUE };
    }
  veto_active_posterior (probs + (gsize) index * run->k, run->k,
                         (const VetoActiveAnswer *) (gpointer) run->earlier->data, n, out);
}

/* Candidate sets for the chosen items, from the model's probabilities when the rule wants them. */
static gboolean
candidates_for (Run *run, const guint *indices, guint n, const float *probs, guint *out,
                GError **error)
{
  if (probs != NULL && run->config->candidates == VETO_ACTIVE_CANDIDATES_INFORMATIVE)
    {
      g_autofree double *posterior = g_new (double, run->k);
      guint m = run->config->n_candidates;

      /* the annotator is not shown a class they ruled out for the item before, as in the
       * window (veto_active_informative_set_without ()) */
      for (guint i = 0; i < n; i++)
        {
          item_posterior (run, probs, indices[i], posterior);
          veto_active_informative_set_without (
              posterior, run->k, run->annotator_a, m,
              veto_active_named_by_asked ((const VetoActiveAnswer *) (gpointer) run->earlier->data,
                                          run->earlier->len),
              out + (gsize) i * m);
        }
      return TRUE;
    }
  {
  g_autofree float *chosen = probs ? g_new (float, (gsize) n * run->k) : NULL;

  for (guint i = 0; chosen && i < n; i++)
    memcpy (chosen + (gsize) i * run->k, probs + (gsize) indices[i] * run->k,
            run->k * sizeof (float));
  return veto_active_candidates (chosen ? run->config->candidates
                                        : VETO_ACTIVE_CANDIDATES_UNIFORM,
                                 chosen, n, run->k, run->config->n_candidates,
                                 VETO_ACTIVE_DEFAULT_FLOOR,
                                 run->config->seed * 1000003 + run->answers, out, error);
  }
}

/* The information strategy: the items and sets of largest expected gain over the whole pool
 * (asked or not), under each item's posterior and the annotator model. */
static gboolean
informative_batch (Run *run, const float *probs, guint batch, guint *out_indices,
                   guint *out_candidates, double *out_scores, GError **error)
{
  guint k = run->k;
  g_autofree double *posteriors = g_new (double, (gsize) run->n_pool * k);

  for (guint i = 0; i < run->n_pool; i++)
    item_posterior (run, probs, i, posteriors + (gsize) i * k);
  return veto_active_informative_questions (posteriors, run->n_pool, k, run->annotator_a,
                                            run->config->n_candidates, batch, out_indices,
                                            out_candidates, out_scores, error);
}

/* The annotator's own weights as a choice model: the noisy kind names the shown truth at rate
 * rho whatever else is shown, which a truth weight of rho (m - 1) / (1 - rho) matches when the
 * other m - 1 shown classes weigh 1 each. */
static double *
oracle_model (Run *run)
{
  guint k = run->k, m = run->config->n_candidates;
  double *a = g_memdup2 (veto_sim_annotator_get_preferences (run->annotator),
                         (gsize) k * k * sizeof (double));

  if (veto_sim_annotator_get_kind (run->annotator) == VETO_SIM_NOISY)
    {
      double rho = MIN (veto_sim_annotator_get_rate (run->annotator), 0.999);

      for (guint y = 0; y < k; y++)
        a[(gsize) y * k + y] = rho * (m - 1) / (1.0 - rho);
    }
  return a;
}

/* The anchors' fit in io_a refined by EM over every answer of the run
 * (veto_sim_refine_annotator_model ()): an item asked as an anchor has its gold class, the
 * others the p of a classifier that never trained on their answers. */
static gboolean
refine_by_em (Run *run, double *io_a, GError **error)
{
  guint m = run->config->n_candidates, n = run->choices->len, n_items = 0;
  g_autofree VetoLossChoiceObservation *obs = g_new (VetoLossChoiceObservation, MAX (n, 1));
  g_autofree guint *item_of = g_new (guint, MAX (n, 1));
  g_autofree gint *item_of_index = g_new (gint, MAX (run->n_pool, 1));
  g_autofree gint *rows = g_new (gint, MAX (n, 1));
  g_autofree gint *gold = g_new (gint, MAX (n, 1));
  VetoTrainSpec spec = run->config->train;

  for (guint i = 0; i < run->n_pool; i++)
    item_of_index[i] = -1;
  for (guint t = 0; t < n; t++)
    {
      const Choice *ch = &g_array_index (run->choices, Choice, t);

      if (item_of_index[ch->index] < 0)
        {
          rows[n_items] = g_array_index (run->pool, guint, ch->index);
          gold[n_items] = -1;
          item_of_index[ch->index] = n_items++;
        }
      item_of[t] = item_of_index[ch->index];
      if (ch->anchor)
        gold[item_of[t]] = ch->truth;
      obs[t] = (VetoLossChoiceObservation) { ch->shown, m, ch->answer, NULL };
    }
  spec.annotator = run->annotator_name;
  spec.seed = run->config->seed;
  return veto_sim_refine_annotator_model (run->store, run->ds, &spec, obs, item_of, n, rows, gold,
                                          n_items, io_a, NULL, error);
}

/* The estimated model: fitted to the answers on gold anchors, the pull towards uniform chosen
 * by cross-validation (veto_loss_fit_annotator_cv ()), once there are
 * VETO_SIM_MIN_ANCHORS_PER_CLASS × K of them, then (unless anchors_only) refined by EM over
 * every answer (refine_by_em ()). Until then (and with anchors_only, always) the uniform model,
 * refined by that EM (the anchors with their gold class) once the run has
 * VETO_SIM_MIN_ANSWERS_FOR_EM answers. EM whose priors came from the classifier trained
 * on the very answers explained collapsed (0.16 from the uniform model, 0.311 from the
 * anchors' fit, human profile, 6,000 answers): it learns the classifier's mistakes as the
 * annotator's habits; the cross-fitted classifiers of refine_by_em () never saw the answers
 * they explain. */
static gboolean
estimate_model (Run *run, gboolean anchors_only, GError **error)
{
  guint k = run->k, m = run->config->n_candidates, n = 0;
  GArray *choices = run->choices;
  g_autofree VetoLossChoiceObservation *obs = g_new (VetoLossChoiceObservation,
                                                     MAX (choices->len, 1));
  g_autofree double *truth = g_new0 (double, (gsize) MAX (choices->len, 1) * k);
  g_autofree double *a = g_new (double, (gsize) k * k);

  for (guint t = 0; t < choices->len; t++)
    {
      const Choice *ch = &g_array_index (choices, Choice, t);

      if (!ch->anchor)
        continue;
      truth[(gsize) n * k + ch->truth] = 1.0;
      obs[n] = (VetoLossChoiceObservation) { ch->shown, m, ch->answer, truth + (gsize) n * k };
      n++;
    }
  g_clear_pointer (&run->annotator_a, g_free);
  if (n < VETO_SIM_MIN_ANCHORS_PER_CLASS * k)
    {
      if (anchors_only || choices->len < VETO_SIM_MIN_ANSWERS_FOR_EM)
        return TRUE;
      /* the uniform model refined by the same EM (docs/simulate.md: "Before the anchors' fit") */
      veto_loss_uniform_annotator (k, a);
      if (!refine_by_em (run, a, error))
        return FALSE;
      run->annotator_a = g_steal_pointer (&a);
      return TRUE;
    }
  if (!veto_loss_fit_annotator_cv (obs, n, k, a, NULL, NULL, error)
      || (!anchors_only && !refine_by_em (run, a, error)))
    return FALSE;
  run->annotator_a = g_steal_pointer (&a);
  return TRUE;
}

/* VetoSimPoint.annotator_error of the loss's current model. */
static double
annotator_error (Run *run)
{
  guint k = run->k;
  g_autofree double *truth = oracle_model (run);
  double total = 0.0;

  for (guint y = 0; y < k; y++)
    {
      double scale_fit = 0.0, scale_true = 0.0;

      for (guint c = 0; c < k; c++)
        if (c != y)
          {
            scale_fit += (run->annotator_a ? run->annotator_a[(gsize) y * k + c] : 1.0) / (k - 1);
            scale_true += truth[(gsize) y * k + c] / (k - 1);
          }
      for (guint c = 0; c < k; c++)
        {
          double fit = run->annotator_a ? run->annotator_a[(gsize) y * k + c]
                                        : c == y ? VETO_LOSS_DEFAULT_EPSILON : 1.0;

          total += fabs (fit / scale_fit - truth[(gsize) y * k + c] / scale_true);
        }
    }
  return total / ((double) k * k);
}

static VetoModel *
train_round (Run *run, VetoTrainResult *out_result, GError **error)
{
  VetoTrainSpec spec = run->config->train;
  VetoModel *model;
  gboolean warm;

  spec.supervision = VETO_SUPERVISION_ANSWERS;
  spec.annotator = run->annotator_name;
  spec.seed = run->config->seed;
  if (run->config->mode == VETO_SIM_MODE_COMPLEMENTARY)
    switch (run->config->annotator_model)
      {
      case VETO_SIM_MODEL_ORACLE:
        if (run->annotator_a == NULL)
          run->annotator_a = oracle_model (run);
        break;
      case VETO_SIM_MODEL_ESTIMATED:
      case VETO_SIM_MODEL_ANCHORS:
        if (!estimate_model (run, run->config->annotator_model == VETO_SIM_MODEL_ANCHORS,
                             error))
          return NULL;
        break;
      case VETO_SIM_MODEL_UNIFORM:
      default:
        break;
      }
  spec.annotator_model = run->annotator_a;
  spec.fit_annotator = FALSE;
  if (run->config->mode == VETO_SIM_MODE_COMPLEMENTARY)
    spec.holdout = run->config->holdout;
  /* A softmax on cross-entropy terms (ordinary answers, a teacher's soft labels) is solved to
   * its optimum by L-BFGS, so the previous round's weights only make the solve shorter. The
   * complementary and preference losses are not convex and keep AdamW, and continuing from the
   * previous round stalls them (human profile, margin, 3 seeds: 0.307 at 6,000 answers warm
   * against 0.552 cold; the demo's 1,000 answers: 0.195 against 0.303): they start afresh. */
  warm = spec.model == VETO_MODEL_KIND_SOFTMAX
         && (run->config->mode == VETO_SIM_MODE_ORDINARY
             || run->config->mode == VETO_SIM_MODE_DISTILL);
  if (warm)
    spec.warm_start = run->previous;
  model = veto_sim_train (run->store, run->ds, &spec, out_result, NULL, error);
  if (model != NULL && warm)
    {
      g_clear_pointer (&run->previous, veto_model_free);
      run->previous = veto_model_copy (model);
    }
  return model;
}

/* Picks a batch among the pool items not asked yet; out_indices are pool indices. */
static gboolean
select_batch (Run *run, VetoModel *model, const float *probs, guint batch, guint *out_indices,
              double *out_scores, GError **error)
{
  const VetoSimConfig *c = run->config;
  guint n_free = run->n_pool - run->n_asked, f = 0, l = 0;
  g_autofree guint *free_index = g_new (guint, MAX (n_free, 1));
  g_autofree guint *free_rows = g_new (guint, MAX (n_free, 1));
  g_autofree guint *labeled_rows = g_new (guint, MAX (run->n_pool, 1));
  g_autofree float *free_probs = g_new (float, (gsize) MAX (n_free, 1) * run->k);
  g_autofree float *correctness = run->teacher_probs ? g_new (float, MAX (n_free, 1)) : NULL;
  VetoActiveOptions options = c->active;

  for (guint i = 0; i < run->n_pool; i++)
    {
      guint row = g_array_index (run->pool, guint, i);

      /* after the first pass every item has an answer */
      if (run->pass > 1 || run->asked[i])
        labeled_rows[l++] = row;
      if (run->asked[i])
        continue;
      free_index[f] = i;
      free_rows[f] = row;
      memcpy (free_probs + (gsize) f * run->k, probs + (gsize) i * run->k,
              run->k * sizeof (float));
      /* How likely the teacher is right where it was not queried, without querying it (the
       * budgeted setting of Robust Active Distillation): the student's own top probability,
       * since both err on the same hard points. */
      if (correctness)
        {
          float top = 0;

          for (guint y = 0; y < run->k; y++)
            top = MAX (top, probs[(gsize) i * run->k + y]);
          correctness[f] = top;
        }
      f++;
    }
  options.seed = c->seed * 31 + run->answers;
  if (!veto_sim_select_batch (run->ds, model, c->strategy, &options, free_rows, n_free,
                              free_probs, correctness, labeled_rows, l, batch, out_indices,
                              out_scores, error))
    return FALSE;
  for (guint i = 0; i < batch; i++)
    out_indices[i] = free_index[out_indices[i]];
  return TRUE;
}

/* The teacher of active distillation: an MLP trained on the gold labels of a disjoint half of
 * the pool, so that it is good but wrong on hard points it never saw. Its soft labels are
 * computed for the whole pool at once for speed, but read only for the items queried; the
 * student may only ask about the other half. */
static gboolean
make_teacher (Run *run, GError **error)
{
  guint half = run->n_pool / 2, k = run->k, d = run->d;
  g_autofree guint *order = g_new (guint, run->n_pool);
  g_autofree float *x = g_new (float, (gsize) half * d);
  g_autoptr (VetoObjective) objective = veto_objective_new (half, k, 0);
  g_autoptr (VetoModel) teacher = veto_model_new (VETO_MODEL_KIND_MLP, d, k, 0, 0);
  VetoModelTrainOptions options;

  for (guint i = 0; i < run->n_pool; i++)
    order[i] = i;
  for (guint i = run->n_pool; i > 1; i--)
    {
      guint j = veto_rng_below (&run->rng, i), t = order[i - 1];

      order[i - 1] = order[j];
      order[j] = t;
    }
  for (guint u = 0; u < half; u++)
    {
      memcpy (x + (gsize) u * d, run->x_pool + (gsize) order[u] * d, d * sizeof (float));
      if (!veto_objective_add_ordinary (objective, u, pool_gold (run, order[u]), error))
        return FALSE;
      /* The teacher's own training half is never offered to the student. */
      run->asked[order[u]] = TRUE;
    }
  run->n_asked = half;
  veto_model_train_options_init (&options);
  options.schedule = VETO_LR_COSINE;
  options.learning_rate = 2e-3;
  options.batch_size = 256;
  options.max_epochs = 5;
  options.seed = run->config->seed + 1000;
  if (!veto_model_train (teacher, x, half, d, objective, veto_objective_gather,
                         veto_objective_loss, half, &options, NULL, NULL, error))
    return FALSE;
  run->teacher_probs = g_new (float, (gsize) run->n_pool * k);
  veto_model_predict_proba (teacher, run->x_pool, run->n_pool, d, run->teacher_probs);
  return TRUE;
}

/* Asks n random pool items not asked yet in this pass. Complementary questions get uniform
 * candidates, except that with the classifier's probs the first half get the run's rule: gold
 * anchors are asked half like every other question, so that the annotator model is fitted on
 * the sets the loss sees (the classes the model hesitates between), and half on uniform sets,
 * which reach every entry of the model. Human profile, margin, 6 seeds at 6,000 answers: 0.573
 * against 0.535 with uniform anchor sets only and 0.572 with the run's rule only; the skewed
 * check profile 0.791 against 0.783 and 0.756. With informative sets (the default) 0.622 and
 * 0.822, against 0.583 and 0.781 with every anchor on the run's rule. */
static gboolean
ask_random (Run *run, guint n, const float *probs, const char *strategy, GError **error)
{
  g_autofree guint *indices = g_new (guint, MAX (n, 1));
  g_autofree guint *candidates = NULL;
  guint got = 0;

  /* n items not asked in this pass are drawn: there must be that many */
  g_assert (n <= run->n_pool - run->n_asked);
  if (n == 0)
    return TRUE;
  while (got < n)
    {
      guint i = veto_rng_below (&run->rng, run->n_pool);
      gboolean dup = run->asked[i];

      for (guint j = 0; j < got && !dup; j++)
        dup = indices[j] == i;
      if (!dup)
        indices[got++] = i;
    }
  if (run->config->mode == VETO_SIM_MODE_COMPLEMENTARY)
    {
      candidates = g_new (guint, (gsize) n * run->config->n_candidates);
      guint ruled = probs ? n / 2 : 0;

      if (!candidates_for (run, indices, ruled, probs, candidates, error)
          || !candidates_for (run, indices + ruled, n - ruled, NULL,
                              candidates + (gsize) ruled * run->config->n_candidates, error))
        return FALSE;
    }
  return ask (run, indices, n, candidates, NULL, strategy, error);
}

/* How many of n questions go to gold anchors: the share config->anchors, rounded at random so
 * that the expected count is exact. */
static guint
anchors_in (Run *run, guint n)
{
  double want = run->config->mode == VETO_SIM_MODE_COMPLEMENTARY ? run->config->anchors * n : 0;
  guint whole = (guint) floor (want);

  return MIN (n, whole + (veto_rng_uniform (&run->rng) < want - whole));
}

static gboolean
run_active (Run *run, VetoSimPointFunc on_point, gpointer user_data, GCancellable *cancellable,
            GError **error)
{
  const VetoSimConfig *c = run->config;
  g_autofree float *probs = g_new (float, (gsize) run->n_pool * run->k);
  g_autofree guint *chosen = g_new (guint, c->batch);
  g_autofree double *scores = g_new (double, c->batch);
  g_autofree guint *candidates = g_new (guint, (gsize) c->batch * c->n_candidates);
  guint first_answers = run->answers;

  if (c->init > 0)
    {
      guint anchors = anchors_in (run, c->init);

      if (!ask_random (run, c->init - anchors, NULL, "init", error)
          || !ask_random (run, anchors, NULL, "anchor", error))
        return FALSE;
    }
  for (guint round = 1;; round++)
    {
      g_autoptr (VetoModel) model = NULL;
      VetoEvaluation eval = { 0 };
      VetoSimPoint point = { .round = round };
      VetoTrainResult trained = { 0 };
      guint batch, anchors;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      model = train_round (run, &trained, error);
      if (model == NULL || !veto_sim_evaluate (run->ds, model, VETO_SPLIT_TEST, NULL, &eval,
                                               error))
        return FALSE;
      point.estimated_accuracy = trained.estimated_accuracy;
      point.estimated_accuracy_low = trained.estimated_accuracy_low;
      point.estimated_accuracy_high = trained.estimated_accuracy_high;
      point.estimated_from = trained.estimated_from;
      point.annotator_error = c->mode == VETO_SIM_MODE_COMPLEMENTARY ? annotator_error (run) : NAN;
      point.validation = trained.validation;
      veto_train_result_clear (&trained);
      point.answers = run->answers - first_answers;
      point.test_accuracy = eval.accuracy;
      point.seconds = (g_get_monotonic_time () - run->started_us) / 1e6;
      if (c->mode == VETO_SIM_MODE_DISTILL)
        point.metric[0] = run->answers > first_answers
                              ? (double) run->teacher_wrong / (run->answers - first_answers)
                              : 0;
      veto_evaluation_clear (&eval);
      on_point (user_data, &point);
      if (point.answers >= c->budget)
        return TRUE;
      batch = MIN (c->batch, c->budget - point.answers);
      if (run->n_asked == run->n_pool && run->pass < passes (c))
        {
          /* every item asked in this pass: the next one */
          memset (run->asked, 0, run->n_pool * sizeof *run->asked);
          run->n_asked = 0;
          run->pass++;
        }
      batch = MIN (batch, asks_again (c) ? run->n_pool : run->n_pool - run->n_asked);
      if (batch == 0)
        return TRUE;
      veto_model_predict_proba (model, run->x_pool, run->n_pool, run->d, probs);
      anchors = MIN (anchors_in (run, batch), run->n_pool - run->n_asked);
      batch -= anchors;
      if (asks_again (c))
        {
          /* The anchors first: the batch may ask again, and may take the last items never
           * asked, where the anchors come from. */
          if (!ask_random (run, anchors, probs, "anchor", error)
              || (batch > 0
                  && !informative_batch (run, probs, batch, chosen, candidates, scores, error)))
            return FALSE;
          anchors = 0;
        }
      else if (batch > 0)
        {
          if (!select_batch (run, model, probs, batch, chosen, scores, error))
            return FALSE;
          if (c->mode == VETO_SIM_MODE_COMPLEMENTARY
              && !candidates_for (run, chosen, batch, probs, candidates, error))
            return FALSE;
        }
      if (!ask (run, chosen, batch, candidates, scores,
                veto_active_strategy_to_string (c->strategy), error)
          || !ask_random (run, anchors, probs, "anchor", error))
        return FALSE;
    }
}


/* AGCD: some classes are hidden as novel; the model is a semi-supervised k-means of the pool and
 * the test split together (the GCD protocol is transductive) into known + novel clusters, the
 * oracle's labels reach it through a stable Hungarian mapping, and each round asks a batch. */
typedef struct
{
  gboolean *novel;     /* per class */
  guint *old_classes;
  guint n_known;
  guint n_rows;        /* pool + test rows clustered */
  float *x;            /* n_rows × d: pool rows first, then test rows */
  guint *test_gold;
  guint n_test;
  GArray *queried;     /* true classes of the rows queried after init */
  gint *cluster_of_class;/* per class: its cluster, -1 while a novel class is unseen */
  gboolean *cluster_taken;
} Agcd;

/* Gives a newly revealed novel class a cluster of its own, for good (a stable mapping). */
static void
agcd_adopt_class (Agcd *a, const VetoAgcdMapping *mapping, guint y, guint k)
{
  int proposed = veto_agcd_mapping_get_cluster (mapping, y);

  if (a->cluster_of_class[y] >= 0)
    return;
  if (proposed < (int) a->n_known || a->cluster_taken[proposed])
    for (proposed = a->n_known; proposed < (int) k && a->cluster_taken[proposed]; proposed++)
      ;
  if (proposed >= (int) k)
    return;
  a->cluster_of_class[y] = proposed;
  a->cluster_taken[proposed] = TRUE;
}

static void
agcd_clear (Agcd *a)
{
  g_free (a->novel);
  g_free (a->old_classes);
  g_free (a->x);
  g_free (a->test_gold);
  g_free (a->cluster_of_class);
  g_free (a->cluster_taken);
  g_clear_pointer (&a->queried, g_array_unref);
}

static void
agcd_init (Run *run, Agcd *a)
{
  guint k = run->k, n_test_rows, hidden = 0;
  const guint *test = veto_dataset_get_split (run->ds, VETO_SPLIT_TEST, &n_test_rows);
  const float *X = veto_dataset_get_features (run->ds);

  a->novel = g_new0 (gboolean, k);
  while (hidden < MIN (run->config->novel, k - 1))
    {
      guint c = veto_rng_below (&run->rng, k);

      if (!a->novel[c])
        {
          a->novel[c] = TRUE;
          hidden++;
        }
    }
  a->old_classes = g_new (guint, k);
  a->cluster_of_class = g_new (gint, k);
  a->cluster_taken = g_new0 (gboolean, k);
  for (guint c = 0; c < k; c++)
    {
      a->cluster_of_class[c] = -1;
      if (!a->novel[c])
        {
          a->cluster_of_class[c] = a->n_known;
          a->cluster_taken[a->n_known] = TRUE;
          a->old_classes[a->n_known++] = c;
        }
    }
  a->test_gold = g_new (guint, MAX (n_test_rows, 1));
  a->x = g_new (float, (gsize) (run->n_pool + n_test_rows) * run->d);
  memcpy (a->x, run->x_pool, (gsize) run->n_pool * run->d * sizeof (float));
  for (guint i = 0; i < n_test_rows; i++)
    if (veto_dataset_get_gold (run->ds, test[i]) >= 0)
      {
        memcpy (a->x + (gsize) (run->n_pool + a->n_test) * run->d,
                X + (gsize) test[i] * run->d, run->d * sizeof (float));
        a->test_gold[a->n_test++] = veto_dataset_get_gold (run->ds, test[i]);
      }
  a->n_rows = run->n_pool + a->n_test;
  a->queried = g_array_new (FALSE, FALSE, sizeof (guint));
}

/* Test predictions, as clusters: a classifier trained on every answer so far (known and revealed
 * novel classes) decides among the clusters that own a class; a row that k-means puts in a
 * novel cluster no class owns yet stays there. The classifier is what makes the oracle's few
 * labels count against tens of thousands of unlabeled rows. */
static gboolean
agcd_predict_test (Run *run, Agcd *a, const guint *clusters, guint *out_predicted,
                   GError **error)
{
  guint k = run->k;
  g_autoptr (VetoModel) model = train_round (run, NULL, error);
  g_autofree float *probs = NULL;

  if (model == NULL)
    return FALSE;
  probs = g_new (float, (gsize) MAX (a->n_test, 1) * k);
  veto_model_predict_proba (model, a->x + (gsize) run->n_pool * run->d, a->n_test, run->d,
                            probs);
  for (guint t = 0; t < a->n_test; t++)
    {
      guint cluster = clusters[run->n_pool + t], best = 0;
      const float *p = probs + (gsize) t * k;

      for (guint c = 1; c < k; c++)
        if (p[c] > p[best])
          best = c;
      out_predicted[t] = !a->cluster_taken[cluster] || a->cluster_of_class[best] < 0
                             ? cluster
                             : (guint) a->cluster_of_class[best];
    }
  return TRUE;
}

/* The labeled start: random pool items of known classes until every known class has one and
 * there are init of them. */
static gboolean
agcd_ask_init (Run *run, Agcd *a, GError **error)
{
  guint want = MAX (run->config->init, a->n_known), got = 0, covered = 0;
  g_autofree guint *indices = g_new (guint, want);
  g_autofree gboolean *has = g_new0 (gboolean, run->k);

  for (guint tries = 0; got < want && tries < 100 * run->n_pool; tries++)
    {
      guint i = veto_rng_below (&run->rng, run->n_pool), y = pool_gold (run, i);
      gboolean dup = a->novel[y];

      for (guint j = 0; j < got && !dup; j++)
        dup = indices[j] == i;
      /* The last places go to classes still missing. */
      if (dup || (!has[y] ? FALSE : want - got <= a->n_known - covered))
        continue;
      covered += !has[y];
      has[y] = TRUE;
      indices[got++] = i;
    }
  if (covered < a->n_known)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_INVALID,
                   "agcd: the pool lacks items of some known class");
      return FALSE;
    }
  return ask (run, indices, got, NULL, NULL, "init", error);
}

static gboolean
run_agcd (Run *run, VetoSimPointFunc on_point, gpointer user_data, GCancellable *cancellable,
          GError **error)
{
  const VetoSimConfig *c = run->config;
  guint k = run->k;
  Agcd a = { 0 };
  g_autoptr (VetoAgcdMapping) mapping = veto_agcd_mapping_new (k, k);
  g_autofree int *labels = NULL;
  g_autofree guint *clusters = NULL;
  g_autofree float *soft = NULL;
  g_autofree guint *predicted = NULL;
  g_autofree guint *chosen = g_new (guint, c->batch);
  double last_ratio = NAN, last_uniformity = NAN;
  gboolean ok = FALSE;

  agcd_init (run, &a);
  predicted = g_new (guint, MAX (a.n_test, 1));
  labels = g_new (int, a.n_rows);
  clusters = g_new (guint, a.n_rows);
  soft = g_new (float, (gsize) a.n_rows * k);
  if (!agcd_ask_init (run, &a, error))
    goto out;
  for (guint round = 1;; round++)
    {
      VetoAgcdClusterOptions options;
      VetoAgcdMetrics metrics;
      VetoSimPoint point = { .round = round };
      g_autoptr (GArray) lab_clusters = g_array_new (FALSE, FALSE, sizeof (guint));
      g_autoptr (GArray) lab_classes = g_array_new (FALSE, FALSE, sizeof (guint));
      guint batch, n_free = 0;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        goto out;
      /* Known classes own clusters 0..n_known-1; a revealed novel class owns the cluster the
       * mapping gave it when it was first seen, and its labeled rows anchor that cluster. */
      for (guint i = 0; i < a.n_rows; i++)
        labels[i] = i < run->n_pool && run->asked[i] ? a.cluster_of_class[pool_gold (run, i)]
                                                     : -1;
      veto_agcd_cluster_options_init (&options);
      options.n_known = a.n_known;
      options.n_novel = k - a.n_known;
      options.max_iterations = 30;
      options.seed = c->seed * 101 + round;
      if (!veto_agcd_cluster (a.x, a.n_rows, run->d, labels, &options, clusters, NULL, soft, NULL,
                              cancellable, error))
        goto out;
      /* The Hungarian mapping over every labeled row proposes a cluster for each class; a novel
       * class seen for the first time takes its proposal (or a free novel cluster) for good. */
      for (guint i = 0; i < run->n_pool; i++)
        if (run->asked[i])
          {
            guint y = pool_gold (run, i);

            g_array_append_val (lab_clusters, clusters[i]);
            g_array_append_val (lab_classes, y);
          }
      if (!veto_agcd_mapping_update (mapping, (guint *) lab_clusters->data,
                                     (guint *) lab_classes->data, lab_clusters->len, error))
        goto out;
      for (guint i = 0; i < lab_classes->len; i++)
        agcd_adopt_class (&a, mapping, g_array_index (lab_classes, guint, i), k);
      if (!agcd_predict_test (run, &a, clusters, predicted, error)
          || !veto_agcd_evaluate (predicted, a.test_gold, a.n_test, k, k, a.old_classes,
                                  a.n_known, (guint *) a.queried->data, a.queried->len,
                                  &metrics, error))
        goto out;
      point.answers = run->answers;
      point.test_accuracy = metrics.acc_all;
      point.metric[0] = metrics.acc_all;
      point.metric[1] = metrics.acc_old;
      point.metric[2] = metrics.acc_new;
      point.coverage = isnan (metrics.novel_coverage) ? 0 : metrics.novel_coverage;
      point.novel_ratio = last_ratio;
      point.novel_uniformity = last_uniformity;
      point.seconds = (g_get_monotonic_time () - run->started_us) / 1e6;
      on_point (user_data, &point);
      if (run->answers >= c->budget)
        break;
      batch = MIN (c->batch, c->budget - run->answers);
      batch = MIN (batch, run->n_pool - run->n_asked);
      if (batch == 0)
        break;
      {
        g_autofree guint *free_index = g_new (guint, run->n_pool);
        g_autofree float *free_soft = g_new (float, (gsize) run->n_pool * k);

        for (guint i = 0; i < run->n_pool; i++)
          if (!run->asked[i])
            {
              free_index[n_free] = i;
              memcpy (free_soft + (gsize) n_free * k, soft + (gsize) i * k, k * sizeof (float));
              n_free++;
            }
        if (c->agcd_rule)
          ok = veto_agcd_select (free_soft, n_free, k, a.n_known, batch, round, 2, chosen, error);
        else
          {
            VetoActivePool pool = { .n = n_free, .probs = free_soft, .n_classes = k };
            VetoActiveOptions active = c->active;

            active.seed = c->seed * 31 + run->answers;
            ok = veto_active_select (c->strategy, &pool, batch, &active, chosen, NULL, error);
          }
        if (!ok)
          goto out;
        ok = FALSE;
        {
          g_autofree guint *novel_counts = g_new0 (guint, k);
          guint n_novel_queries = 0, n_novel_classes = 0;

          for (guint i = 0; i < batch; i++)
            {
              guint y;

              chosen[i] = free_index[chosen[i]];
              y = pool_gold (run, chosen[i]);
              g_array_append_val (a.queried, y);
              if (a.novel[y])
                {
                  novel_counts[y]++;
                  n_novel_queries++;
                }
            }
          last_ratio = (double) n_novel_queries / batch;
          last_uniformity = 0.0;
          for (guint y = 0; y < k; y++)
            {
              n_novel_classes += a.novel[y];
              if (novel_counts[y] > 0)
                last_uniformity -= (double) novel_counts[y] / n_novel_queries
                                   * log ((double) novel_counts[y] / n_novel_queries);
            }
          last_uniformity = n_novel_queries == 0 || n_novel_classes < 2
                                ? NAN
                                : last_uniformity / log (n_novel_classes);
        }
      }
      if (!ask (run, chosen, batch, NULL, NULL,
                c->agcd_rule ? "agcd" : veto_active_strategy_to_string (c->strategy), error))
        goto out;
    }
  ok = TRUE;

out:
  agcd_clear (&a);
  return ok;
}

/* Preference mode (after P2C, "Prefer to Classify"): after a few ordinary answers, every question
 * is a pair of pool items the model puts in the same class c, asked as "which of these two is
 * more clearly a c?". The simulated annotator answers from gold labels (the one that is a c;
 * a tie when both or neither are). Pairs are those whose order the model is least sure of
 * (random pairs for the random strategy). */
static gboolean
ask_pairs (Run *run, const guint *left, const guint *right, const guint *criterion, guint n,
           const double *scores, const char *strategy, GError **error)
{
  if (!veto_store_begin (run->store, error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      gboolean l = pool_gold (run, left[i]) == criterion[i];
      gboolean r = pool_gold (run, right[i]) == criterion[i];
      VetoAnswer answer = {
        .kind = VETO_KIND_PREFERENCE,
        .item = veto_dataset_item_of_row (run->ds, g_array_index (run->pool, guint, left[i])),
        .right_item = veto_dataset_item_of_row (run->ds,
                                                g_array_index (run->pool, guint, right[i])),
        .criterion = veto_dataset_get_class_name (run->ds, criterion[i]),
        .preferred = l == r ? VETO_PREFER_TIE : l ? VETO_PREFER_LEFT : VETO_PREFER_RIGHT,
        .annotator = run->annotator_id,
        .strategy = strategy,
        .score = scores ? scores[i] : NAN,
        .shown_at_us = g_get_real_time (),
        .answered_at_us = g_get_real_time (),
      };

      if (!veto_store_add_annotation (run->store, &answer, NULL, error))
        {
          veto_store_rollback (run->store);
          return FALSE;
        }
      run->answers++;
    }
  return veto_store_commit (run->store, error);
}

static gboolean
run_preference (Run *run, VetoSimPointFunc on_point, gpointer user_data,
                GCancellable *cancellable, GError **error)
{
  const VetoSimConfig *c = run->config;
  guint k = run->k;
  g_autofree float *probs = g_new (float, (gsize) run->n_pool * k);
  g_autofree float *scores = g_new (float, run->n_pool);
  g_autofree gint *labels = g_new (gint, run->n_pool);
  g_autofree guint *left = g_new (guint, c->batch);
  g_autofree guint *right = g_new (guint, c->batch);
  g_autofree guint *criterion = g_new (guint, c->batch);
  g_autofree double *pair_scores = g_new (double, c->batch);

  if (c->init > 0 && !ask_random (run, c->init, NULL, "init", error))
    return FALSE;
  for (guint round = 1;; round++)
    {
      g_autoptr (VetoModel) model = NULL;
      VetoEvaluation eval = { 0 };
      VetoSimPoint point = { .round = round };
      VetoActivePairPool pool = { .n = run->n_pool, .scores = scores, .labels = labels };
      gboolean random = c->strategy == VETO_ACTIVE_RANDOM;
      guint batch;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      model = train_round (run, NULL, error);
      if (model == NULL || !veto_sim_evaluate (run->ds, model, VETO_SPLIT_TEST, NULL, &eval,
                                               error))
        return FALSE;
      point.answers = run->answers;
      point.test_accuracy = eval.accuracy;
      point.seconds = (g_get_monotonic_time () - run->started_us) / 1e6;
      veto_evaluation_clear (&eval);
      on_point (user_data, &point);
      if (run->answers >= c->budget)
        return TRUE;
      batch = MIN (c->batch, c->budget - run->answers);
      veto_model_predict_proba (model, run->x_pool, run->n_pool, run->d, probs);
      /* Each item's score is the log-odds of its predicted class: how surely it is a c. */
      for (guint i = 0; i < run->n_pool; i++)
        {
          const float *p = probs + (gsize) i * k;
          guint best = 0;

          for (guint j = 1; j < k; j++)
            if (p[j] > p[best])
              best = j;
          labels[i] = best;
          scores[i] = logf (MAX (p[best], 1e-7f)) - logf (MAX (1 - p[best], 1e-7f));
        }
      if (!veto_active_pairs (&pool, batch, random ? batch : 20 * batch,
                              c->seed * 131 + run->answers, left, right, pair_scores, error))
        return FALSE;
      for (guint i = 0; i < batch; i++)
        criterion[i] = labels[left[i]];
      if (!ask_pairs (run, left, right, criterion, batch, random ? NULL : pair_scores,
                      random ? "random" : "least-sure-pair", error))
        return FALSE;
    }
}

gboolean
veto_sim_run (VetoStore *store, const VetoDataset *ds, const VetoSimConfig *config,
              VetoSimPointFunc on_point, gpointer user_data, GCancellable *cancellable,
              GError **error)
{
  Run run;
  gboolean ok;

  ok = run_init (&run, store, ds, config, error);
  if (ok && config->mode == VETO_SIM_MODE_DISTILL)
    ok = make_teacher (&run, error);
  if (ok)
    switch (config->mode)
      {
      case VETO_SIM_MODE_ORDINARY:
      case VETO_SIM_MODE_COMPLEMENTARY:
      case VETO_SIM_MODE_DISTILL:
        ok = run_active (&run, on_point, user_data, cancellable, error);
        break;
      case VETO_SIM_MODE_AGCD:
        ok = run_agcd (&run, on_point, user_data, cancellable, error);
        break;
      case VETO_SIM_MODE_PREFERENCE:
      default:
        ok = run_preference (&run, on_point, user_data, cancellable, error);
        break;
      }
  run_clear (&run);
  return ok;
}
