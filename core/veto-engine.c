/* veto-engine: the project's learner (a background worker) and the sessions it orders, the window's one among them. */
#include "veto-engine.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "veto-agcd.h"

/*
 * Two threads, and only copies between them. The creating thread owns the writing connection,
 * the sessions (veto-sessions: every question is composed and leased there, every answer
 * recorded there) and the newest scores; the worker owns its read-only connection, the dataset
 * and the live model. The worker learns of answers through a counter under `lock`; the creating
 * thread learns of rounds through messages posted to its main context, which carry the weights
 * (written there as a round row, whose version then goes on every answer to a question that
 * round ordered), the order of the pool (keys, scores, pairs) and a copy of the scores.
 *
 * The engine's own session (the window's, `veto drive`'s) is one annotator's in the sessions; a
 * learner alone (the lab server) has none and lends the sessions to its caller.
 */

/* Share of the items whose complementary answers a round holds out when there is no gold. */
#define ENGINE_HOLDOUT 0.1
/* Held-out items an estimate needs (with 4 to 8 the test below saw it off by 0.2 to 0.4). */
#define ENGINE_MIN_ESTIMATE_ITEMS 20
/* Answers not yet in a model are trained on after this long without a new answer. */
#define IDLE_RETRAIN_US (3 * G_USEC_PER_SEC)
/* AGCD asks about the surest rows of novel clusters first for this many rounds (as simulate). */
#define AGCD_WARM_ROUNDS 2
#define AGCD_ITERATIONS 30
/* The engine's own session has nobody to share its items with: its questions stay its own. */
#define OWN_LEASE_SECONDS (30 * 24 * 3600)
/* The learner's niceness: when both want a core, the thread that shows questions gets it. */
#define WORKER_NICE 10
/* The sizes of VetoQuestion's fixed arrays. */
#define MAX_CANDIDATES G_N_ELEMENTS (((VetoQuestion *) NULL)->candidates)
#define CRITERION_SIZE sizeof (((VetoQuestion *) NULL)->criterion)

enum
{
  SIGNAL_QUESTION_CHANGED,
  SIGNAL_STATUS_CHANGED,
  SIGNAL_MODEL_UPDATED,
  SIGNAL_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* What a message knows of its engine. Dispose clears it on the creating thread, where messages
 * are delivered; the worker only passes it on. (A GWeakRef could not be taken from the worker
 * while the engine is being disposed: the worker holds no reference.) */
typedef struct
{
  VetoEngine *engine;
} Link;

struct _VetoEngine
{
  GObject parent_instance;

  /* Set once in veto_engine_new (); the worker reads them without the lock. */
  VetoEngineOptions options; /* its strings point at the copies below */
  char *annotator;
  char *criterion;
  char *features;
  char *campaign_name;
  char *path;
  GMainContext *context;
  Link *link;                /* atomic refcounted: each message holds a reference */

  /* The creating thread's. */
  VetoStore *store;
  VetoSessions *sessions;
  gint64 annotator_id;       /* the engine's own session (0: a learner alone) */
  VetoQuestion current;      /* a copy of the session's current question */
  gint64 current_id;         /* its question id (0: none fetched since the last change) */
  gint64 model_version;
  double accuracy;
  const char *accuracy_from; /* what the estimate rests on (VetoEngineStatus); static */
  gboolean training;
  guint64 delivered_seq;
  guint settled_changes;     /* the changes the newest finished round saw (G_MAXUINT: the worker
                                stopped for good) */
  gboolean settled;          /* a round has finished */
  VetoEngineScores *scores;
  gboolean stopped;

  /* Shared with the worker. */
  GMutex lock;
  GCond cond;
  gboolean stop;
  guint changes;             /* answers and undos so far */
  gint64 last_change_us;
  gboolean classes_changed;
  GCancellable *cancellable;
  GThread *worker;
};

G_DEFINE_FINAL_TYPE (VetoEngine, veto_engine, G_TYPE_OBJECT)

void
veto_engine_options_init (VetoEngineOptions *options)
{
  *options = (VetoEngineOptions) {
    .annotator_kind = VETO_ANNOTATOR_HUMAN,
    .kind = VETO_KIND_COMPLEMENTARY,
    .strategy = VETO_ACTIVE_MARGIN,
    .candidates = VETO_ACTIVE_CANDIDATES_INFORMATIVE,
    .n_candidates = 4,
    .anchors = VETO_SESSIONS_DEFAULT_ANCHORS,
    .retrain_every = 10,
    .queue_size = 20,
    .features = "pixels",
    .model = VETO_MODEL_KIND_SOFTMAX,
    .seed = 1,
  };
}

void
veto_engine_scores_free (VetoEngineScores *scores)
{
  if (scores == NULL)
    return;
  g_free (scores->items);
  g_free (scores->probs);
  g_free (scores->clusters);
  g_free (scores);
}

static VetoEngineScores *
scores_copy (const VetoEngineScores *s)
{
  VetoEngineScores *copy = g_new (VetoEngineScores, 1);

  *copy = *s;
  copy->items = g_memdup2 (s->items, sizeof (gint64) * s->n);
  copy->probs = g_memdup2 (s->probs, sizeof (float) * s->n * s->n_classes);
  copy->clusters = g_memdup2 (s->clusters, sizeof (gint) * s->n);
  return copy;
}

/* Strategies whose order of the pool follows from the probabilities alone (the others need a
 * space or clusters): the worker ranks the whole pool by them, so that every question handed out
 * until the next round is the next best by the last scores. */
static gboolean
ranks_by_probabilities (const VetoEngineOptions *o)
{
  return !o->agcd && o->kind != VETO_KIND_PREFERENCE
         && (o->strategy == VETO_ACTIVE_LEAST_CONFIDENCE || o->strategy == VETO_ACTIVE_MARGIN
             || o->strategy == VETO_ACTIVE_ENTROPY);
}

/* The strategy's own score of one row of probabilities (as veto-active reports it), and a key
 * that is larger for the item to ask first. */
static void
uncertainty (VetoActiveStrategy strategy, const float *p, guint k, double *out_key,
             double *out_score)
{
  double p1 = 0, p2 = 0, h = 0;

  if (strategy == VETO_ACTIVE_ENTROPY)
    {
      for (guint c = 0; c < k; c++)
        if (p[c] > 0)
          h -= p[c] * log (p[c]);
      *out_key = *out_score = h;
      return;
    }
  for (guint c = 0; c < k; c++)
    if (p[c] > p1)
      {
        p2 = p1;
        p1 = p[c];
      }
    else if (p[c] > p2)
      p2 = p[c];
  if (strategy == VETO_ACTIVE_LEAST_CONFIDENCE)
    *out_key = *out_score = 1 - p1;
  else
    {
      *out_score = p1 - p2;
      *out_key = -*out_score;
    }
}

/* --- messages from the worker --- */

typedef enum
{
  MESSAGE_STARTED,  /* a round began */
  MESSAGE_FINISHED, /* a round ended: with a model, an error, or nothing to learn from yet */
} MessageKind;

typedef struct
{
  Link *link;
  MessageKind kind;
  guint64 seq;
  GError *error;
  GBytes *weights;
  char *model_kind;
  guint train_size;
  double seconds;
  char *metrics;
  double accuracy;
  const char *accuracy_from;
  VetoEngineScores *scores;
  float *keys;              /* per pool item (of scores): larger asks sooner, NAN: none */
  float *key_scores;        /* the strategy's score of each, NAN: none */
  gint64 *partners;         /* preference: the right item paired with each, or 0 */
  const char *strategy;     /* a static string */
  double *annotator_model;  /* K×K: the choice model fitted to the gold anchors (NULL: none) */
  guint changes;            /* finished: the engine's changes the round saw (G_MAXUINT: the
                               worker will run no round) */
  guint n_own_models;       /* annotators with a model of their own */
  gint64 *own_annotators;   /* their store ids */
  double *own_models;       /* n_own_models K×K: theirs */
} Message;

static void
message_free (gpointer data)
{
  Message *msg = data;

  g_clear_pointer (&msg->link, g_atomic_rc_box_release);
  g_clear_error (&msg->error);
  g_clear_pointer (&msg->weights, g_bytes_unref);
  g_free (msg->model_kind);
  g_free (msg->metrics);
  veto_engine_scores_free (msg->scores);
  g_free (msg->keys);
  g_free (msg->key_scores);
  g_free (msg->partners);
  g_free (msg->annotator_model);
  g_free (msg->own_annotators);
  g_free (msg->own_models);
  g_free (msg);
}

/* Records the round, then hands its order of the pool to the sessions. */
static void
deliver_round (VetoEngine *engine, Message *msg)
{
  g_autoptr (GError) error = NULL;
  VetoSessionsPriority priority;
  gint64 version;

  /* A round that cannot be recorded is dropped: every model_version on an answer names a row. */
  if (!veto_store_add_round (engine->store, engine->features, msg->model_kind, msg->train_size,
                             msg->metrics, msg->seconds, msg->weights, &version, &error))
    {
      g_signal_emit (engine, signals[SIGNAL_ERROR], 0, error);
      return;
    }
  engine->delivered_seq = msg->seq;
  engine->model_version = version;
  engine->accuracy = msg->accuracy;
  engine->accuracy_from = msg->accuracy_from;
  veto_engine_scores_free (engine->scores);
  engine->scores = g_steal_pointer (&msg->scores);
  engine->scores->version = version;
  priority = (VetoSessionsPriority) {
    .model_version = version,
    .n = engine->scores->n,
    .n_classes = engine->scores->n_classes,
    .items = engine->scores->items,
    .probs = engine->scores->probs,
    .keys = msg->keys,
    .scores = msg->key_scores,
    .partners = msg->partners,
    .strategy = msg->strategy,
    .annotator_model = msg->annotator_model,
    .n_own_models = msg->n_own_models,
    .own_annotators = msg->own_annotators,
    .own_models = msg->own_models,
  };
  veto_sessions_set_priority (engine->sessions, &priority);
  g_signal_emit (engine, signals[SIGNAL_MODEL_UPDATED], 0, version);
  if (engine->annotator_id && engine->current_id == 0)
    g_signal_emit (engine, signals[SIGNAL_QUESTION_CHANGED], 0);
}

static gboolean
deliver (gpointer data)
{
  Message *msg = data;
  g_autoptr (VetoEngine) engine = msg->link->engine ? g_object_ref (msg->link->engine) : NULL;

  if (engine == NULL || engine->stopped)
    return G_SOURCE_REMOVE;
  if (msg->error)
    g_signal_emit (engine, signals[SIGNAL_ERROR], 0, msg->error);
  switch (msg->kind)
    {
    case MESSAGE_STARTED:
      engine->training = TRUE;
      break;
    case MESSAGE_FINISHED:
    default:
      engine->training = FALSE;
      engine->settled = TRUE;
      engine->settled_changes = msg->changes;
      /* Results arrive in order, but a round older than one delivered must never win. */
      if (msg->weights && msg->seq > engine->delivered_seq)
        deliver_round (engine, msg);
      break;
    }
  g_signal_emit (engine, signals[SIGNAL_STATUS_CHANGED], 0);
  return G_SOURCE_REMOVE;
}

/* --- the worker --- */

typedef struct
{
  VetoEngine *engine;       /* alive while the worker runs: shutdown joins it first */
  VetoStore *store;         /* read-only, the worker's own */
  VetoDataset *ds;
  VetoModel *model;         /* the previous round's, for the warm start */
  const guint *pool;        /* dataset rows of the pool */
  guint n_pool;
  gint *pool_index;         /* per dataset row: its pool index, or -1 */
  gboolean first;
  guint trained_changes;
  gboolean refresh_classes;
  guint round;
  guint64 seq;
} Worker;

static void
post (Worker *w, MessageKind kind, Message *msg)
{
  if (msg == NULL)
    msg = g_new0 (Message, 1);
  msg->link = g_atomic_rc_box_acquire (w->engine->link);
  msg->kind = kind;
  msg->seq = ++w->seq;
  g_main_context_invoke_full (w->engine->context, G_PRIORITY_DEFAULT, deliver, msg, message_free);
}

typedef enum
{
  WORK_STOP,
  WORK_ROUND,
} Work;

/* Blocks until a round is due: first thing after the start, after retrain_every changes, or when
 * the annotators have been idle with changes the model has not seen. */
static Work
wait_for_work (Worker *w)
{
  VetoEngine *e = w->engine;
  Work work = WORK_STOP;

  g_mutex_lock (&e->lock);
  while (!e->stop)
    {
      guint pending = e->changes - w->trained_changes;
      gint64 idle_at = e->last_change_us + IDLE_RETRAIN_US;

      if (w->first || pending >= e->options.retrain_every
          || (pending > 0 && g_get_monotonic_time () >= idle_at))
        {
          work = WORK_ROUND;
          w->first = FALSE;
          w->trained_changes = e->changes;
          w->refresh_classes = e->classes_changed;
          e->classes_changed = FALSE;
          break;
        }
      if (pending > 0)
        g_cond_wait_until (&e->cond, &e->lock, idle_at);
      else
        g_cond_wait (&e->cond, &e->lock);
    }
  g_mutex_unlock (&e->lock);
  return work;
}

/* What the annotations say about each pool item this round. */
typedef struct
{
  Worker *w;
  const char *annotator; /* the engine's own ("": a learner alone, for whom every answer counts) */
  gboolean *mine;     /* answered by this annotator (standing): never chosen again */
  gboolean *labeled;  /* answered by anyone */
  gint *label;        /* ordinary answers' class index (AGCD's labeled rows), or -1 */
} Known;

static void
known_mark (Known *known, gint64 item, gboolean mine)
{
  gint row = veto_dataset_row_of_item (known->w->ds, item);
  gint i = row >= 0 ? known->w->pool_index[row] : -1;

  if (i < 0)
    return;
  known->labeled[i] = TRUE;
  known->mine[i] |= mine;
}

static gboolean
known_add (const VetoAnnotation *a, gpointer user_data)
{
  Known *known = user_data;
  gboolean mine = *known->annotator == '\0' || g_strcmp0 (a->annotator, known->annotator) == 0;

  known_mark (known, a->item, mine);
  if (a->kind == VETO_KIND_PREFERENCE)
    known_mark (known, a->right_item, mine);
  if (a->kind == VETO_KIND_ORDINARY && a->answer_class)
    {
      gint row = veto_dataset_row_of_item (known->w->ds, a->item);
      gint i = row >= 0 ? known->w->pool_index[row] : -1;

      for (guint c = 0; i >= 0 && c < veto_dataset_get_n_classes (known->w->ds); c++)
        if (g_strcmp0 (veto_dataset_get_class_name (known->w->ds, c), a->answer_class) == 0)
          known->label[i] = c;
    }
  return TRUE;
}

static void
known_clear (Known *known)
{
  g_free (known->mine);
  g_free (known->labeled);
  g_free (known->label);
}

/* Rows first..first+n-1 of the dataset, when the pool is stored that way (it usually is). */
static const float *
contiguous_pool (Worker *w)
{
  guint d = veto_dataset_get_dim (w->ds);

  if (w->n_pool == 0 || w->pool[w->n_pool - 1] - w->pool[0] != w->n_pool - 1)
    return NULL;
  return veto_dataset_get_features (w->ds) + (gsize) w->pool[0] * d;
}

static float *
score_pool (Worker *w, const VetoModel *model)
{
  guint k = veto_model_get_n_classes (model), d = veto_dataset_get_dim (w->ds);
  float *probs = g_new (float, (gsize) MAX (w->n_pool, 1) * k);
  const float *x = contiguous_pool (w);
  g_autofree float *outputs = NULL;

  if (x)
    {
      veto_model_predict_proba (model, x, w->n_pool, d, probs);
      return probs;
    }
  outputs = g_new (float, (gsize) MAX (w->n_pool, 1) * veto_model_get_n_outputs (model));
  veto_model_forward_rows (model, veto_dataset_get_features (w->ds), veto_dataset_get_n (w->ds),
                           d, w->pool, w->n_pool, outputs);
  veto_model_outputs_to_proba (model, outputs, w->n_pool, probs);
  return probs;
}

/* AGCD: the pool clustered by semi-supervised k-means into the classes answered so far (known)
 * plus novel clusters, then veto_agcd_select over the free items. */
static gboolean
choose_agcd (Worker *w, const Known *known, const guint *free_index, guint n_free, guint want,
             guint *out_chosen, gint *out_clusters, GError **error)
{
  VetoEngine *e = w->engine;
  guint k = veto_dataset_get_n_classes (w->ds), d = veto_dataset_get_dim (w->ds);
  guint n_known = 0, n_clusters;
  g_autofree gint *cluster_of_class = g_new (gint, k);
  g_autofree int *labels = g_new (int, MAX (w->n_pool, 1));
  g_autofree guint *clusters = g_new (guint, MAX (w->n_pool, 1));
  g_autofree float *soft = NULL;
  g_autofree float *free_soft = NULL;
  g_autofree float *gathered = NULL;
  const float *x = contiguous_pool (w);
  VetoAgcdClusterOptions options;

  for (guint c = 0; c < k; c++)
    cluster_of_class[c] = -1;
  for (guint i = 0; i < w->n_pool; i++)
    if (known->label[i] >= 0 && cluster_of_class[known->label[i]] < 0)
      cluster_of_class[known->label[i]] = 0;
  for (guint c = 0; c < k; c++)
    if (cluster_of_class[c] == 0)
      cluster_of_class[c] = n_known++;
  /* The classes nobody has answered yet are novel clusters; once every class has answers,
   * one more cluster stays open for a class not named yet. */
  n_clusters = MAX (k, n_known + 1);
  for (guint i = 0; i < w->n_pool; i++)
    labels[i] = known->label[i] >= 0 ? cluster_of_class[known->label[i]] : -1;
  if (x == NULL)
    {
      const float *X = veto_dataset_get_features (w->ds);

      gathered = g_new (float, (gsize) MAX (w->n_pool, 1) * d);
      for (guint i = 0; i < w->n_pool; i++)
        memcpy (gathered + (gsize) i * d, X + (gsize) w->pool[i] * d, d * sizeof (float));
      x = gathered;
    }
  veto_agcd_cluster_options_init (&options);
  options.n_known = n_known;
  options.n_novel = n_clusters - n_known;
  options.max_iterations = AGCD_ITERATIONS;
  options.seed = e->options.seed * 101 + w->round;
  soft = g_new (float, (gsize) MAX (w->n_pool, 1) * n_clusters);
  if (!veto_agcd_cluster (x, w->n_pool, d, labels, &options, clusters, NULL, soft, NULL,
                          e->cancellable, error))
    return FALSE;
  for (guint i = 0; i < w->n_pool; i++)
    out_clusters[i] = clusters[i];
  free_soft = g_new (float, (gsize) MAX (n_free, 1) * n_clusters);
  for (guint j = 0; j < n_free; j++)
    memcpy (free_soft + (gsize) j * n_clusters, soft + (gsize) free_index[j] * n_clusters,
            n_clusters * sizeof (float));
  return veto_agcd_select (free_soft, n_free, n_clusters, n_known, want, w->round,
                           AGCD_WARM_ROUNDS, out_chosen, error);
}

/* The order a round gives the pool: a key per item (larger: ask sooner; NAN: none), the
 * strategy's score of it, and for preference the right item paired with it. */
typedef struct
{
  float *keys;
  float *scores;
  gint64 *partners;
} Order;

/* Preference questions, after P2C as `veto simulate --mode preference`: pairs of free items the
 * model puts in the same class c whose order it is least sure of ("which is more clearly a c?"),
 * each item in one pair at most. The sessions show the left item's class as the criterion. */
static gboolean
choose_pairs (Worker *w, const Known *known, const float *probs, guint want, Order *order,
              GError **error)
{
  const VetoEngineOptions *o = &w->engine->options;
  guint k = veto_dataset_get_n_classes (w->ds), batch, n_pairs = 0;
  g_autofree float *scores = g_new (float, MAX (w->n_pool, 1));
  g_autofree gint *labels = g_new (gint, MAX (w->n_pool, 1));
  g_autofree guint *per_class = g_new0 (guint, k);
  g_autofree gboolean *used = g_new0 (gboolean, MAX (w->n_pool, 1));
  g_autofree guint *left = NULL;
  g_autofree guint *right = NULL;
  g_autofree double *pair_scores = NULL;
  gboolean random = o->strategy == VETO_ACTIVE_RANDOM;
  guint64 eligible = 0;
  VetoActivePairPool pool = { .n = w->n_pool, .scores = scores, .labels = labels };

  for (guint i = 0; i < w->n_pool; i++)
    {
      const float *p = probs + (gsize) i * k;
      guint best = veto_active_argmax (p, k);

      labels[i] = known->mine[i] ? -1 : (gint) best;
      /* How surely the item is a c: the log-odds of its predicted class. */
      scores[i] = logf (MAX (p[best], 1e-7f)) - logf (MAX (1 - p[best], 1e-7f));
      if (labels[i] >= 0)
        per_class[best]++;
    }
  for (guint c = 0; c < k; c++)
    eligible += (guint64) per_class[c] * (per_class[c] - (per_class[c] > 0)) / 2;
  /* Twice the pairs wanted, as the best pairs often share an item. */
  batch = (guint) MIN ((guint64) 2 * want, eligible);
  if (batch == 0)
    return TRUE;
  left = g_new (guint, batch);
  right = g_new (guint, batch);
  pair_scores = g_new (double, batch);
  if (!veto_active_pairs (&pool, batch, random ? batch : 20 * batch,
                          o->seed * 131 + w->round, left, right, pair_scores, error))
    return FALSE;
  for (guint i = 0; i < batch && n_pairs < want; i++)
    {
      if (used[left[i]] || used[right[i]])
        continue;
      used[left[i]] = used[right[i]] = TRUE;
      order->keys[left[i]] = batch - i;
      order->scores[left[i]] = random ? NAN : pair_scores[i];
      order->partners[left[i]] = veto_dataset_item_of_row (w->ds, w->pool[right[i]]);
      n_pairs++;
    }
  return TRUE;
}

/* The order of a round and the copy of the scores the creating thread keeps. The uncertainty
 * strategies key the whole pool; the others (a space, clusters, pairs) key the batch they
 * choose among the items not yet answered, and the rest of the pool follows in a random order. */
static gboolean
prepare_order (Worker *w, const VetoModel *model, Message *msg, GError **error)
{
  VetoEngine *e = w->engine;
  const VetoEngineOptions *o = &e->options;
  guint k = veto_dataset_get_n_classes (w->ds), n_free = 0, n_labeled = 0, want;
  g_autofree float *probs = score_pool (w, model);
  g_autofree guint *free_index = g_new (guint, MAX (w->n_pool, 1));
  g_autofree guint *free_rows = g_new (guint, MAX (w->n_pool, 1));
  g_autofree guint *labeled_rows = g_new (guint, MAX (w->n_pool, 1));
  g_autofree guint *chosen = NULL;
  g_autofree double *chosen_scores = NULL;
  g_autofree gint *clusters = g_new (gint, MAX (w->n_pool, 1));
  Known known = { w, e->annotator };
  Order order = {
    g_new (float, MAX (w->n_pool, 1)), g_new (float, MAX (w->n_pool, 1)),
    g_new0 (gint64, MAX (w->n_pool, 1)),
  };
  gboolean ok = FALSE;

  known.mine = g_new0 (gboolean, MAX (w->n_pool, 1));
  known.labeled = g_new0 (gboolean, MAX (w->n_pool, 1));
  known.label = g_new (gint, MAX (w->n_pool, 1));
  for (guint i = 0; i < w->n_pool; i++)
    {
      known.label[i] = -1;
      clusters[i] = -1;
      order.keys[i] = order.scores[i] = NAN;
    }
  if (!veto_store_foreach_annotation (w->store, FALSE, known_add, &known, error))
    goto out;
  for (guint i = 0; i < w->n_pool; i++)
    {
      if (!known.mine[i])
        {
          free_index[n_free] = i;
          free_rows[n_free++] = w->pool[i];
        }
      if (known.labeled[i])
        labeled_rows[n_labeled++] = w->pool[i];
    }
  /* More than are asked before the next round, which answers may bring early. */
  want = MIN (o->queue_size + o->retrain_every + 1, n_free);
  if (ranks_by_probabilities (o))
    for (guint i = 0; i < w->n_pool; i++)
      {
        double key, score;

        uncertainty (o->strategy, probs + (gsize) i * k, k, &key, &score);
        order.keys[i] = key;
        order.scores[i] = score;
      }
  else if (want > 0 && o->kind == VETO_KIND_PREFERENCE)
    {
      if (!choose_pairs (w, &known, probs, want, &order, error))
        goto out;
    }
  else if (want > 0)
    {
      chosen = g_new (guint, want);
      chosen_scores = g_new (double, want);
      if (o->agcd)
        {
          if (!choose_agcd (w, &known, free_index, n_free, want, chosen, clusters, error))
            goto out;
          for (guint j = 0; j < want; j++)
            chosen_scores[j] = NAN;
        }
      else
        {
          g_autofree float *free_probs = g_new (float, (gsize) n_free * k);
          VetoActiveOptions active;

          for (guint j = 0; j < n_free; j++)
            memcpy (free_probs + (gsize) j * k, probs + (gsize) free_index[j] * k,
                    k * sizeof (float));
          veto_active_options_init (&active);
          active.seed = o->seed * 31 + w->round;
          if (!veto_sim_select_batch (w->ds, model, o->strategy, &active, free_rows, n_free,
                                      free_probs, NULL, labeled_rows, n_labeled, want, chosen,
                                      chosen_scores, error))
            goto out;
        }
      for (guint j = 0; j < want; j++)
        {
          order.keys[free_index[chosen[j]]] = want - j;
          order.scores[free_index[chosen[j]]] = chosen_scores[j];
        }
    }
  msg->strategy = o->agcd ? "agcd"
                  : o->kind == VETO_KIND_PREFERENCE
                  ? (o->strategy == VETO_ACTIVE_RANDOM ? "random" : "least-sure-pair")
                  : veto_active_strategy_to_string (o->strategy);
  msg->keys = g_steal_pointer (&order.keys);
  msg->key_scores = g_steal_pointer (&order.scores);
  msg->partners = g_steal_pointer (&order.partners);
  msg->scores = g_new0 (VetoEngineScores, 1);
  msg->scores->n = w->n_pool;
  msg->scores->n_classes = k;
  msg->scores->items = g_new (gint64, MAX (w->n_pool, 1));
  for (guint i = 0; i < w->n_pool; i++)
    msg->scores->items[i] = veto_dataset_item_of_row (w->ds, w->pool[i]);
  msg->scores->probs = g_steal_pointer (&probs);
  msg->scores->clusters = g_steal_pointer (&clusters);
  ok = TRUE;

out:
  g_free (order.keys);
  g_free (order.scores);
  g_free (order.partners);
  known_clear (&known);
  return ok;
}

/* Whether a split has an item with a gold label to evaluate on. */
static gboolean
split_has_gold (const VetoDataset *ds, VetoSplit split)
{
  guint n;
  const guint *rows = veto_dataset_get_split (ds, split, &n);

  for (guint i = 0; i < n; i++)
    if (veto_dataset_get_gold (ds, rows[i]) >= 0)
      return TRUE;
  return FALSE;
}

/* Test gold when the project has some, else validation gold, else what training estimated
 * from answers it held out (result), else unknown (NAN). out_eval keeps the evaluation (n = 0
 * when there was none) for the round's metrics; *out_from names the source. */
static double
estimate_accuracy (const VetoDataset *ds, const VetoModel *model, const VetoTrainResult *result,
                   VetoEvaluation *out_eval, VetoSplit *out_split, const char **out_from)
{
  static const VetoSplit splits[] = { VETO_SPLIT_TEST, VETO_SPLIT_VALIDATION };

  for (guint s = 0; s < G_N_ELEMENTS (splits); s++)
    if (veto_sim_evaluate (ds, model, splits[s], NULL, out_eval, NULL))
      {
        *out_split = splits[s];
        *out_from = splits[s] == VETO_SPLIT_TEST ? "test" : "validation";
        return out_eval->accuracy;
      }
  /* A handful of held-out answers gives a figure off by tens of points: none rather than that. */
  if (isnan (result->estimated_accuracy) || result->estimate_items < ENGINE_MIN_ESTIMATE_ITEMS)
    {
      *out_from = NULL;
      return NAN;
    }
  *out_from = result->estimated_from;
  return result->estimated_accuracy;
}

/* The round's metrics as the dashboard, `veto eval` and `veto stats` read them: with test gold
 * labels they carry test_accuracy and the confusion matrix (rows = gold, columns = predicted);
 * with a fitted annotator model, the pooled one the loss read the answers through
 * (annotator_model, K × K Luce weights, rows = gold class) and the people's own
 * (own_annotator_models: annotator_id and weights each). */
static char *
round_metrics (const VetoTrainResult *result, guint k, double accuracy, const char *accuracy_from,
               const VetoEvaluation *eval, VetoSplit split, guint n_questions)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "source");
  json_builder_add_string_value (b, "engine");
  json_builder_set_member_name (b, "train_size");
  json_builder_add_int_value (b, result->train_size);
  json_builder_set_member_name (b, "answers_used");
  json_builder_add_int_value (b, result->n_terms);
  json_builder_set_member_name (b, "anchor_answers");
  json_builder_add_int_value (b, result->anchor_answers);
  json_builder_set_member_name (b, "annotators_fitted");
  json_builder_add_int_value (b, result->annotators_fitted);
  json_builder_set_member_name (b, "epochs");
  json_builder_add_int_value (b, result->epochs);
  json_builder_set_member_name (b, "final_loss");
  json_builder_add_double_value (b, result->final_loss);
  json_builder_set_member_name (b, "train_seconds");
  json_builder_add_double_value (b, result->train_seconds);
  json_builder_set_member_name (b, "estimated_accuracy");
  if (isnan (accuracy))
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, accuracy);
  json_builder_set_member_name (b, "estimated_from");
  if (accuracy_from == NULL)
    json_builder_add_null_value (b);
  else
    json_builder_add_string_value (b, accuracy_from);
  if (eval->n > 0 && split == VETO_SPLIT_TEST)
    {
      guint n = eval->n_classes;

      json_builder_set_member_name (b, "test_accuracy");
      json_builder_add_double_value (b, eval->accuracy);
      json_builder_set_member_name (b, "confusion");
      json_builder_begin_array (b);
      for (guint r = 0; r < n; r++)
        {
          json_builder_begin_array (b);
          for (guint c = 0; c < n; c++)
            json_builder_add_int_value (b, eval->confusion[(gsize) r * n + c]);
          json_builder_end_array (b);
        }
      json_builder_end_array (b);
    }
  veto_train_result_add_annotator_models (result, k, b);
  json_builder_set_member_name (b, "questions");
  json_builder_add_int_value (b, n_questions);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* One round: train on every standing answer, rescore the pool, choose the next
 * questions, and post all of it as copies. */
static void
worker_round (Worker *w)
{
  VetoEngine *e = w->engine;
  const VetoEngineOptions *o = &e->options;
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoModel) model = NULL;
  VetoTrainSpec spec;
  VetoTrainResult result = { 0 };
  VetoEvaluation eval = { 0 };
  VetoSplit eval_split = VETO_SPLIT_TEST;
  VetoStoreSummary summary;
  guint64 standing = 0;
  guint ordered = 0;
  gint64 started = g_get_monotonic_time ();
  Message *msg = g_new0 (Message, 1);

  post (w, MESSAGE_STARTED, NULL);
  if (w->refresh_classes && !veto_dataset_refresh_classes (w->ds, w->store, &error))
    goto out;
  if (!veto_store_summarize (w->store, &summary, &error))
    goto out;
  for (guint kind = 0; kind < VETO_N_KINDS; kind++)
    standing += summary.annotations[kind];
  /* Nothing to learn from yet is no failure: questions stay random until the first answers. */
  if (standing == 0)
    goto out;
  veto_train_spec_init (&spec);
  spec.model = o->model;
  spec.supervision = VETO_SUPERVISION_ANSWERS;
  /* Uniform sets: FWD, each answer's Q from its annotator's model fitted to the gold anchors'
   * answers (the campaigns' anchors and the questions asked as anchors; the uniform Q, the
   * same optimum as SCL-NL, until there are any); other sets: the candidate-aware loss with
   * those models. */
  spec.cl_loss = o->candidates == VETO_ACTIVE_CANDIDATES_UNIFORM
                     ? VETO_LOSS_COMPLEMENTARY_FWD
                     : VETO_LOSS_COMPLEMENTARY_CANDIDATE;
  spec.seed = o->seed;
  /* As in `veto simulate`: only the convex case (a softmax on ordinary answers, solved by L-BFGS)
   * continues from the previous round. The complementary and preference losses are not convex,
   * and continuing stalls them: a poor first round from a few dozen answers stays poor. */
  if (o->kind == VETO_KIND_ORDINARY && o->model == VETO_MODEL_KIND_SOFTMAX)
    spec.warm_start = w->model;
  /* Without gold to evaluate on (people labelling their own images), a tenth of the items'
   * complementary answers are held out of training to estimate the accuracy from. */
  if (o->kind == VETO_KIND_COMPLEMENTARY && !split_has_gold (w->ds, VETO_SPLIT_TEST)
      && !split_has_gold (w->ds, VETO_SPLIT_VALIDATION))
    spec.holdout = ENGINE_HOLDOUT;
  model = veto_sim_train (w->store, w->ds, &spec, &result, e->cancellable, &error);
  if (model == NULL)
    goto out;
  w->round++;
  if (!prepare_order (w, model, msg, &error))
    goto out;
  for (guint i = 0; i < msg->scores->n; i++)
    ordered += !isnan (msg->keys[i]);
  msg->accuracy = estimate_accuracy (w->ds, model, &result, &eval, &eval_split,
                                     &msg->accuracy_from);
  msg->weights = veto_model_save (model);
  msg->model_kind = g_strdup (veto_model_kind_to_string (o->model));
  msg->train_size = result.train_size;
  msg->seconds = (g_get_monotonic_time () - started) / 1e6;
  msg->metrics = round_metrics (&result, veto_dataset_get_n_classes (w->ds), msg->accuracy,
                                msg->accuracy_from, &eval, eval_split, ordered);
  msg->annotator_model = g_steal_pointer (&result.annotator_model);
  msg->n_own_models = result.own_annotators ? result.annotators_fitted : 0;
  msg->own_annotators = g_steal_pointer (&result.own_annotators);
  msg->own_models = g_steal_pointer (&result.own_models);
  g_clear_pointer (&w->model, veto_model_free);
  w->model = g_steal_pointer (&model);

out:
  veto_train_result_clear (&result);
  veto_evaluation_clear (&eval);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      message_free (msg);
      return;
    }
  msg->error = g_steal_pointer (&error);
  msg->changes = w->trained_changes;
  post (w, MESSAGE_FINISHED, msg);
}

static gpointer
worker_main (gpointer data)
{
  VetoEngine *e = data;
  /* A context of its own: g_main_context_invoke_full () would otherwise run the delivery right
   * here whenever the engine's context is the global default and nobody is iterating it. */
  g_autoptr (GMainContext) own = g_main_context_new ();
  g_autoptr (GError) error = NULL;
  Worker w = { .engine = e, .first = TRUE };

  g_main_context_push_thread_default (own);
#ifdef __linux__
  /* Linux keeps a niceness per thread, and the threads that score the pool inherit it. Relative
   * to the thread that made the engine (whose niceness this one inherited): under `nice veto
   * serve` an absolute 10 would put the learner level with the thread that answers. */
  {
    id_t tid = (id_t) syscall (SYS_gettid);
    int base;

    errno = 0;
    base = getpriority (PRIO_PROCESS, tid);
    if (errno == 0)
      setpriority (PRIO_PROCESS, tid, MIN (base + WORKER_NICE, 19));
  }
#endif
  w.store = veto_store_open (e->path, TRUE, &error);
  if (w.store)
    w.ds = veto_dataset_load (w.store, e->features, TRUE, NULL, NULL, e->cancellable, &error);
  if (w.ds)
    {
      guint n = veto_dataset_get_n (w.ds);

      w.pool = veto_dataset_get_split (w.ds, VETO_SPLIT_POOL, &w.n_pool);
      w.pool_index = g_new (gint, n);
      for (guint r = 0; r < n; r++)
        w.pool_index[r] = -1;
      for (guint i = 0; i < w.n_pool; i++)
        w.pool_index[w.pool[i]] = i;
      while (wait_for_work (&w) != WORK_STOP)
        worker_round (&w);
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      Message *msg = g_new0 (Message, 1);

      /* The session goes on with random questions. */
      msg->error = g_steal_pointer (&error);
      msg->changes = G_MAXUINT;
      post (&w, MESSAGE_FINISHED, msg);
    }
  g_free (w.pool_index);
  g_clear_pointer (&w.model, veto_model_free);
  g_clear_pointer (&w.ds, veto_dataset_free);
  g_clear_pointer (&w.store, veto_store_close);
  g_main_context_pop_thread_default (own);
  return NULL;
}

/* --- the creating thread --- */

static void
notify_worker (VetoEngine *engine)
{
  g_mutex_lock (&engine->lock);
  engine->changes++;
  engine->last_change_us = g_get_monotonic_time ();
  g_cond_signal (&engine->cond);
  g_mutex_unlock (&engine->lock);
}

void
veto_engine_note_answers (VetoEngine *engine, guint n)
{
  if (n == 0)
    return;
  g_mutex_lock (&engine->lock);
  engine->changes += n;
  engine->last_change_us = g_get_monotonic_time ();
  g_cond_signal (&engine->cond);
  g_mutex_unlock (&engine->lock);
}

/* Errors of the sessions are the engine's callers' mistakes: told as the store tells them. */
static void
propagate (VetoEngine *engine, GError *local, GError **error)
{
  g_autofree char *display = g_filename_display_name (engine->path);

  if (local->domain != VETO_SESSIONS_ERROR)
    {
      g_propagate_error (error, local);
      return;
    }
  g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID, "%s: %s", display,
               local->message);
  g_error_free (local);
}

const VetoQuestion *
veto_engine_current (VetoEngine *engine)
{
  g_autoptr (GError) error = NULL;
  const VetoLease *lease;

  g_return_val_if_fail (VETO_IS_ENGINE (engine), NULL);

  if (engine->annotator_id == 0)
    return NULL;
  lease = veto_sessions_question (engine->sessions, engine->annotator_id, g_get_real_time (),
                                  &error);
  if (lease == NULL)
    {
      engine->current_id = 0;
      if (error)
        g_signal_emit (engine, signals[SIGNAL_ERROR], 0, error);
      return NULL;
    }
  if (lease->id != engine->current_id)
    {
      engine->current_id = lease->id;
      engine->current = (VetoQuestion) {
        .kind = lease->kind,
        .item = lease->item,
        .right_item = lease->right_item,
        .n_candidates = lease->kind == VETO_KIND_COMPLEMENTARY ? lease->n_candidates : 0,
        .model_version = lease->model_version,
        .score = lease->score,
        .guess_class = lease->guess_class,
        .guess_confidence = lease->guess_confidence,
        .asked_before = lease->asked_before,
      };
      memcpy (engine->current.candidates, lease->candidates,
              sizeof (gint64) * engine->current.n_candidates);
      g_strlcpy (engine->current.criterion, lease->criterion, sizeof engine->current.criterion);
      g_strlcpy (engine->current.strategy, lease->strategy, sizeof engine->current.strategy);
    }
  return &engine->current;
}

gboolean
veto_engine_answer (VetoEngine *engine, gint64 answer_class, VetoPreferred preferred,
                    gint64 *out_annotation_id, GError **error)
{
  GError *local = NULL;
  VetoSessionAnswer answer;
  gint64 id = 0;

  g_return_val_if_fail (VETO_IS_ENGINE (engine), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (veto_engine_current (engine) == NULL)
    {
      g_autofree char *display = g_filename_display_name (engine->path);

      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                   "%s: no question to answer: every pool item has been asked", display);
      return FALSE;
    }
  answer = (VetoSessionAnswer) { engine->current_id, answer_class, preferred, NULL };
  if (!veto_sessions_answer_now (engine->sessions, engine->annotator_id, &answer,
                                 g_get_real_time (), &id, &local))
    {
      propagate (engine, local, error);
      return FALSE;
    }
  engine->current_id = 0;
  notify_worker (engine);
  if (out_annotation_id)
    *out_annotation_id = id;
  g_signal_emit (engine, signals[SIGNAL_STATUS_CHANGED], 0);
  g_signal_emit (engine, signals[SIGNAL_QUESTION_CHANGED], 0);
  return TRUE;
}

void
veto_engine_skip (VetoEngine *engine)
{
  g_return_if_fail (VETO_IS_ENGINE (engine));

  if (engine->current_id == 0)
    return;
  veto_sessions_skip (engine->sessions, engine->annotator_id, engine->current_id,
                      g_get_real_time (), NULL);
  engine->current_id = 0;
  g_signal_emit (engine, signals[SIGNAL_QUESTION_CHANGED], 0);
}

void
veto_engine_flag (VetoEngine *engine)
{
  g_return_if_fail (VETO_IS_ENGINE (engine));

  if (engine->current_id)
    veto_sessions_flag (engine->sessions, engine->annotator_id, engine->current_id,
                        g_get_real_time (), NULL);
}

gboolean
veto_engine_undo (VetoEngine *engine, gint64 *out_undone_id, GError **error)
{
  GError *local = NULL;
  gint64 undone = 0;

  g_return_val_if_fail (VETO_IS_ENGINE (engine), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (engine->annotator_id == 0
      || !veto_sessions_undo (engine->sessions, engine->annotator_id, g_get_real_time (),
                              &undone, &local))
    {
      if (local == NULL)
        local = g_error_new_literal (VETO_SESSIONS_ERROR, VETO_SESSIONS_ERROR_NOTHING,
                                     "nothing to undo: a learner alone answers nothing");
      propagate (engine, local, error);
      return FALSE;
    }
  engine->current_id = 0;
  notify_worker (engine);
  if (out_undone_id)
    *out_undone_id = undone;
  g_signal_emit (engine, signals[SIGNAL_STATUS_CHANGED], 0);
  g_signal_emit (engine, signals[SIGNAL_QUESTION_CHANGED], 0);
  return TRUE;
}

gboolean
veto_engine_add_class (VetoEngine *engine, const char *name, gint64 *out_id, GError **error)
{
  g_autofree char *trimmed = g_strstrip (g_strdup (name ? name : ""));
  gint64 id;

  g_return_val_if_fail (VETO_IS_ENGINE (engine), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (*trimmed == '\0')
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID, "a class needs a name");
      return FALSE;
    }
  if (!veto_store_ensure_class (engine->store, trimmed, &id, NULL, error)
      || !veto_sessions_reload_classes (engine->sessions, error))
    return FALSE;
  g_mutex_lock (&engine->lock);
  engine->classes_changed = TRUE;
  g_mutex_unlock (&engine->lock);
  if (out_id)
    *out_id = id;
  return TRUE;
}

VetoStore *
veto_engine_get_store (VetoEngine *engine)
{
  g_return_val_if_fail (VETO_IS_ENGINE (engine), NULL);
  return engine->store;
}

const VetoEngineOptions *
veto_engine_get_options (VetoEngine *engine)
{
  g_return_val_if_fail (VETO_IS_ENGINE (engine), NULL);
  return &engine->options;
}

GPtrArray *
veto_engine_get_classes (VetoEngine *engine)
{
  g_return_val_if_fail (VETO_IS_ENGINE (engine), NULL);
  return veto_sessions_get_classes (engine->sessions);
}

VetoSessions *
veto_engine_get_sessions (VetoEngine *engine)
{
  g_return_val_if_fail (VETO_IS_ENGINE (engine), NULL);
  return engine->sessions;
}

void
veto_engine_get_status (VetoEngine *engine, VetoEngineStatus *out_status)
{
  VetoSessionStatus st = { .mean_seconds = NAN };

  g_return_if_fail (VETO_IS_ENGINE (engine));

  if (engine->annotator_id)
    veto_sessions_get_status (engine->sessions, engine->annotator_id, &st);
  *out_status = (VetoEngineStatus) {
    .answers = st.session_answers,
    .budget = engine->options.budget,
    .seconds_per_answer = st.session_answers ? st.mean_seconds : 0,
    .model_version = engine->model_version,
    .estimated_accuracy = engine->accuracy,
    .accuracy_from = engine->accuracy_from,
    .training = engine->training,
    .queue_length = MIN (st.ready, engine->options.queue_size),
  };
}

VetoEngineScores *
veto_engine_get_scores (VetoEngine *engine)
{
  g_return_val_if_fail (VETO_IS_ENGINE (engine), NULL);
  return engine->scores ? scores_copy (engine->scores) : NULL;
}

static gboolean
wait_timed_out (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the engine's context until done (engine, target) holds, or timeout; returns it. */
static gboolean
iterate_until (VetoEngine *engine, gboolean (*done) (const VetoEngine *, gconstpointer),
               gconstpointer target, guint timeout_ms)
{
  g_autoptr (GSource) timeout = g_timeout_source_new (timeout_ms);
  gboolean timed_out = FALSE;

  g_source_set_callback (timeout, wait_timed_out, &timed_out, NULL);
  g_source_attach (timeout, engine->context);
  while (!done (engine, target) && !timed_out)
    g_main_context_iteration (engine->context, TRUE);
  g_source_destroy (timeout);
  return done (engine, target);
}

static gboolean
model_delivered (const VetoEngine *engine, gconstpointer version)
{
  return engine->model_version >= *(const gint64 *) version;
}

gboolean
veto_engine_wait_for_model (VetoEngine *engine, gint64 version, guint timeout_ms)
{
  g_return_val_if_fail (VETO_IS_ENGINE (engine), FALSE);
  return iterate_until (engine, model_delivered, &version, timeout_ms);
}

static gboolean
round_settled (const VetoEngine *engine, gconstpointer changes)
{
  return engine->settled && engine->settled_changes >= *(const guint *) changes;
}

gboolean
veto_engine_wait_for_round (VetoEngine *engine, guint timeout_ms)
{
  guint changes;

  g_return_val_if_fail (VETO_IS_ENGINE (engine), FALSE);

  g_mutex_lock (&engine->lock);
  changes = engine->changes;
  g_mutex_unlock (&engine->lock);
  return iterate_until (engine, round_settled, &changes, timeout_ms);
}

void
veto_engine_shutdown (VetoEngine *engine)
{
  g_return_if_fail (VETO_IS_ENGINE (engine));

  if (engine->worker == NULL)
    return;
  g_mutex_lock (&engine->lock);
  engine->stop = TRUE;
  g_cond_signal (&engine->cond);
  g_mutex_unlock (&engine->lock);
  g_cancellable_cancel (engine->cancellable);
  g_thread_join (g_steal_pointer (&engine->worker));
  /* Results still on their way are dropped: the session serves on without a learner. */
  engine->stopped = TRUE;
  engine->training = FALSE;
}

static gboolean
check_options (const VetoEngineOptions *o, GError **error)
{
  g_autoptr (VetoFeatureSpec) spec = NULL;
  const char *problem = NULL;

  if (o->kind != VETO_KIND_ORDINARY && o->kind != VETO_KIND_COMPLEMENTARY
      && o->kind != VETO_KIND_PREFERENCE)
    problem = "questions are ordinary, complementary or preference";
  else if (o->kind == VETO_KIND_COMPLEMENTARY
           && (o->n_candidates < 2 || o->n_candidates > MAX_CANDIDATES))
    problem = "a complementary question shows between 2 and 16 candidates";
  else if (o->retrain_every == 0 || o->queue_size == 0)
    problem = "retrain_every and queue_size must be positive";
  else if ((guint) o->strategy > VETO_ACTIVE_KMEANS_MARGIN)
    problem = "unknown strategy";
  else if (o->strategy == VETO_ACTIVE_DISTILL)
    problem = "the distill strategy needs a teacher (veto simulate --mode distill)";
  else if (o->criterion && strlen (o->criterion) >= CRITERION_SIZE)
    problem = "the criterion is too long";
  if (problem)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, problem);
      return FALSE;
    }
  spec = veto_feature_spec_parse (o->features ? o->features : "pixels", error);
  return spec != NULL;
}

/* A campaign given by id must ask the engine's kind of question; its name goes to the sessions.
 * (The campaign then sets, for complementary questions, how many candidates.) */
static gboolean
check_campaign (VetoEngine *engine, GError **error)
{
  VetoEngineOptions *o = &engine->options;
  g_autoptr (GPtrArray) campaigns = veto_store_list_campaigns (engine->store, error);
  g_autofree char *display = g_filename_display_name (engine->path);
  const VetoCampaign *c = NULL;

  if (campaigns == NULL)
    return FALSE;
  for (guint i = 0; i < campaigns->len; i++)
    if (((VetoCampaign *) campaigns->pdata[i])->id == o->campaign)
      c = campaigns->pdata[i];
  if (c == NULL)
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                   "%s: no campaign %" G_GINT64_FORMAT " in the project", display, o->campaign);
      return FALSE;
    }
  if (c->closed)
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                   "%s: campaign %s is closed", display, c->name);
      return FALSE;
    }
  if (c->protocol != o->kind)
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                   "%s: campaign %s asks %s questions, not %s ones", display, c->name,
                   veto_answer_kind_to_string (c->protocol), veto_answer_kind_to_string (o->kind));
      return FALSE;
    }
  if (c->protocol == VETO_KIND_COMPLEMENTARY && c->n_candidates > MAX_CANDIDATES)
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                   "%s: campaign %s shows %u candidates; a question holds %u at most", display,
                   c->name, c->n_candidates, (guint) MAX_CANDIDATES);
      return FALSE;
    }
  g_free (engine->campaign_name);
  engine->campaign_name = g_strdup (c->name);
  o->campaign_name = engine->campaign_name;
  return TRUE;
}

/* The sessions: the campaign's (named, or given by id, or with any_campaign the only open one)
 * or the free pool's. The engine's own session keeps its questions as long as it likes. */
static gboolean
open_sessions (VetoEngine *engine, GError **error)
{
  VetoEngineOptions *o = &engine->options;
  const VetoCampaign *c;
  VetoSessionsOptions so;

  veto_sessions_options_init (&so);
  so.campaign = engine->campaign_name;
  so.free = !o->campaign && !o->any_campaign && engine->campaign_name == NULL;
  so.lease_seconds = o->lease_seconds ? o->lease_seconds
                     : o->learner_only ? 0 : OWN_LEASE_SECONDS;
  so.criterion = o->criterion;
  so.seed = o->seed;
  so.kind = o->kind;
  so.candidates = o->candidates;
  so.n_candidates = o->n_candidates;
  so.anchors = o->anchors;
  engine->sessions = veto_sessions_new (engine->store, &so, error);
  /* Leases a previous run left that are void now are deleted at once. */
  if (engine->sessions == NULL || !veto_sessions_commit (engine->sessions, error))
    return FALSE;
  /* A campaign sets the kind of question and its K; the learner fits its uniform sets. */
  c = veto_sessions_get_campaign (engine->sessions);
  if (c)
    {
      o->campaign = c->id;
      o->kind = c->protocol;
      o->candidates = VETO_ACTIVE_CANDIDATES_UNIFORM;
      if (c->protocol == VETO_KIND_COMPLEMENTARY)
        o->n_candidates = c->n_candidates;
    }
  return TRUE;
}

VetoEngine *
veto_engine_new (const char *project_path, const VetoEngineOptions *options, GError **error)
{
  g_autoptr (VetoEngine) engine = NULL;
  g_autofree char *display = g_filename_display_name (project_path);
  g_autoptr (GPtrArray) classes = NULL;
  VetoEngineOptions *o;

  g_return_val_if_fail (project_path != NULL && options != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_options (options, error))
    return NULL;
  engine = g_object_new (VETO_TYPE_ENGINE, NULL);
  o = &engine->options;
  *o = *options;
  engine->path = g_strdup (project_path);
  /* A learner alone is nobody: no answer is "its own". */
  engine->annotator = g_strdup (options->learner_only ? ""
                                : options->annotator ? options->annotator : g_get_user_name ());
  engine->criterion = g_strdup (options->criterion);
  engine->features = g_strdup (options->features ? options->features : "pixels");
  engine->campaign_name = g_strdup (options->campaign_name);
  o->annotator = engine->annotator;
  o->criterion = engine->criterion;
  o->features = engine->features;
  o->campaign_name = engine->campaign_name;

  engine->store = veto_store_open (project_path, FALSE, error);
  if (engine->store == NULL)
    return NULL;
  classes = veto_store_list_classes (engine->store, error);
  if (classes == NULL || (o->campaign && !check_campaign (engine, error)))
    return NULL;
  /* A learner alone shows what the project has room for. */
  if (o->learner_only && o->kind == VETO_KIND_COMPLEMENTARY && classes->len >= 2)
    o->n_candidates = MIN (o->n_candidates, classes->len);
  if (classes->len < 2 || (o->kind == VETO_KIND_COMPLEMENTARY && !o->campaign
                           && !o->any_campaign && classes->len < o->n_candidates))
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                   "%s: the project has %u classes; questions need at least %u", display,
                   classes->len,
                   o->kind == VETO_KIND_COMPLEMENTARY ? MAX (o->n_candidates, 2) : 2);
      return NULL;
    }
  /* Taking the write lock now tells at once whether another process has the project. */
  if (!veto_store_begin (engine->store, error))
    return NULL;
  if ((!o->learner_only
       && !veto_store_ensure_annotator (engine->store, engine->annotator, o->annotator_kind,
                                        &engine->annotator_id, error))
      || !veto_store_commit (engine->store, error))
    {
      veto_store_rollback (engine->store);
      return NULL;
    }
  if (!open_sessions (engine, error))
    return NULL;
  engine->context = g_main_context_ref_thread_default ();
  engine->worker = g_thread_try_new ("veto-engine", worker_main, engine, error);
  if (engine->worker == NULL)
    return NULL;
  return g_steal_pointer (&engine);
}

static void
veto_engine_dispose (GObject *object)
{
  VetoEngine *engine = VETO_ENGINE (object);

  veto_engine_shutdown (engine);
  engine->link->engine = NULL;
  g_clear_pointer (&engine->scores, veto_engine_scores_free);
  G_OBJECT_CLASS (veto_engine_parent_class)->dispose (object);
}

static void
veto_engine_finalize (GObject *object)
{
  VetoEngine *engine = VETO_ENGINE (object);

  g_clear_pointer (&engine->sessions, veto_sessions_free);
  g_clear_pointer (&engine->store, veto_store_close);
  g_clear_pointer (&engine->context, g_main_context_unref);
  g_atomic_rc_box_release (engine->link);
  g_object_unref (engine->cancellable);
  g_mutex_clear (&engine->lock);
  g_cond_clear (&engine->cond);
  g_free (engine->annotator);
  g_free (engine->criterion);
  g_free (engine->features);
  g_free (engine->campaign_name);
  g_free (engine->path);
  G_OBJECT_CLASS (veto_engine_parent_class)->finalize (object);
}

static void
veto_engine_class_init (VetoEngineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = veto_engine_dispose;
  object_class->finalize = veto_engine_finalize;
  signals[SIGNAL_QUESTION_CHANGED] = g_signal_new ("question-changed", G_TYPE_FROM_CLASS (klass),
                                                   G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                   G_TYPE_NONE, 0);
  signals[SIGNAL_STATUS_CHANGED] = g_signal_new ("status-changed", G_TYPE_FROM_CLASS (klass),
                                                 G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                 G_TYPE_NONE, 0);
  signals[SIGNAL_MODEL_UPDATED] = g_signal_new ("model-updated", G_TYPE_FROM_CLASS (klass),
                                                G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                G_TYPE_NONE, 1, G_TYPE_INT64);
  signals[SIGNAL_ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_ERROR);
}

static void
veto_engine_init (VetoEngine *engine)
{
  engine->accuracy = NAN;
  engine->cancellable = g_cancellable_new ();
  engine->link = g_atomic_rc_box_new0 (Link);
  engine->link->engine = engine;
  g_mutex_init (&engine->lock);
  g_cond_init (&engine->cond);
}
