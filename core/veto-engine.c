/* veto-engine: the answer path on the creating thread and the background learner that feeds it. */
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
 * the session (current question, queue, undo) and the newest scores; the worker owns its
 * read-only connection, the dataset and the live model. The worker learns of answers through a
 * counter under `lock`; the creating thread learns of rounds through messages posted to its main
 * context, which carry the weights (written there as a round row, whose version then goes on
 * every answer to a question that round chose), the questions and a copy of the scores.
 *
 * With options->campaign the questions come from the campaign's assignment instead (its
 * protocol, its K uniform candidates), and every answer counts towards it; the learner still
 * trains, for the guesses, the scores and the status.
 */

/* Answers not yet in a model are trained on after this long without a new answer. */
#define IDLE_RETRAIN_US (3 * G_USEC_PER_SEC)
/* AGCD asks about the surest rows of novel clusters first for this many rounds (as simulate). */
#define AGCD_WARM_ROUNDS 2
#define AGCD_ITERATIONS 30
/* Random draws of the fallback before it walks the pool for a free item. */
#define RANDOM_TRIES 64
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

typedef struct
{
  gint64 annotation;
  VetoQuestion question;
  double seconds;
} Undo;

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
  char *path;
  GMainContext *context;
  Link *link;                /* atomic refcounted: each message holds a reference */

  /* The creating thread's. */
  VetoStore *store;
  gint64 annotator_id;
  GPtrArray *classes;
  GArray *pool;              /* pool item ids, for questions before the first scores */
  GRand *rand;
  VetoQuestion current;
  gboolean has_current;
  gint64 shown_at_us;
  GQueue *queue;             /* VetoQuestion *, from the newest round or the campaign */
  GHashTable *taken;         /* item ids never to serve now: answered (standing), current, queued */
  GHashTable *flagged;       /* item ids to flag with their next answer */
  GArray *undo;              /* Undo, oldest first */
  guint answers;
  double answer_seconds;
  gint64 model_version;
  double accuracy;
  gboolean training;
  guint64 delivered_seq;
  VetoEngineScores *scores;
  guint *ranked;             /* the scores' pool indices in the strategy's order, or NULL */
  gboolean campaign_pending; /* the worker is fetching campaign items */
  gboolean stopped;

  /* Shared with the worker. */
  GMutex lock;
  GCond cond;
  gboolean stop;
  guint changes;             /* answers and undos so far */
  gint64 last_change_us;
  gboolean classes_changed;
  guint campaign_wanted;     /* campaign items the creating thread asks the worker for, or 0 */
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
    .candidates = VETO_ACTIVE_CANDIDATES_PROPORTIONAL,
    .n_candidates = 4,
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

static guint
argmax (const float *p, guint k)
{
  guint best = 0;

  for (guint c = 1; c < k; c++)
    if (p[c] > p[best])
      best = c;
  return best;
}

/* Strategies whose order of the pool follows from the probabilities alone (the others need a
 * space or clusters): the worker ranks the whole pool by them, so that the question made when
 * the queue runs dry is the next best by the last scores. */
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
  MESSAGE_CAMPAIGN, /* the campaign's next items (or why there are none) */
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
  GArray *questions;        /* VetoQuestion, model_version still 0 */
  VetoEngineScores *scores;
  guint *ranked;            /* pool indices (of scores), most wanted first; NULL: none */
  GArray *campaign_items;   /* VetoCampaignItem */
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
  g_clear_pointer (&msg->questions, g_array_unref);
  veto_engine_scores_free (msg->scores);
  g_free (msg->ranked);
  g_clear_pointer (&msg->campaign_items, g_array_unref);
  g_free (msg);
}

static void
release_items (VetoEngine *engine, const VetoQuestion *q)
{
  g_hash_table_remove (engine->taken, &q->item);
  if (q->kind == VETO_KIND_PREFERENCE)
    g_hash_table_remove (engine->taken, &q->right_item);
}

static void
take_items (VetoEngine *engine, const VetoQuestion *q)
{
  g_hash_table_add (engine->taken, g_memdup2 (&q->item, sizeof (gint64)));
  if (q->kind == VETO_KIND_PREFERENCE)
    g_hash_table_add (engine->taken, g_memdup2 (&q->right_item, sizeof (gint64)));
}

static gboolean
is_taken (VetoEngine *engine, gint64 item)
{
  return g_hash_table_contains (engine->taken, &item);
}

static void
clear_queue (VetoEngine *engine)
{
  VetoQuestion *q;

  while ((q = g_queue_pop_head (engine->queue)))
    {
      release_items (engine, q);
      g_free (q);
    }
}

/* Records the round, then serves its questions in place of the older round's. */
static void
deliver_round (VetoEngine *engine, Message *msg)
{
  g_autoptr (GError) error = NULL;
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
  veto_engine_scores_free (engine->scores);
  engine->scores = g_steal_pointer (&msg->scores);
  engine->scores->version = version;
  g_free (engine->ranked);
  engine->ranked = g_steal_pointer (&msg->ranked);
  /* A campaign's assignment, not the model, chooses a campaign's questions. */
  if (!engine->options.campaign)
    {
      clear_queue (engine);
      for (guint i = 0; i < msg->questions->len
                        && g_queue_get_length (engine->queue) < engine->options.queue_size; i++)
        {
          VetoQuestion *q = &g_array_index (msg->questions, VetoQuestion, i);

          /* Answered, or shown, while the round was being prepared. */
          if (is_taken (engine, q->item)
              || (q->kind == VETO_KIND_PREFERENCE && is_taken (engine, q->right_item)))
            continue;
          q->model_version = version;
          take_items (engine, q);
          g_queue_push_tail (engine->queue, g_memdup2 (q, sizeof *q));
        }
    }
  g_signal_emit (engine, signals[SIGNAL_MODEL_UPDATED], 0, version);
  if (!engine->has_current)
    g_signal_emit (engine, signals[SIGNAL_QUESTION_CHANGED], 0);
}

static void take_campaign_items (VetoEngine *engine, GArray *items);

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
    case MESSAGE_CAMPAIGN:
      engine->campaign_pending = FALSE;
      if (msg->campaign_items)
        take_campaign_items (engine, msg->campaign_items);
      /* Once the campaign had run dry, there may be something to ask again. */
      if (!engine->has_current && !g_queue_is_empty (engine->queue))
        g_signal_emit (engine, signals[SIGNAL_QUESTION_CHANGED], 0);
      return G_SOURCE_REMOVE;
    case MESSAGE_STARTED:
      engine->training = TRUE;
      break;
    case MESSAGE_FINISHED:
    default:
      engine->training = FALSE;
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
  WORK_CAMPAIGN,
  WORK_ROUND,
} Work;

/* Blocks until there is work: campaign items asked for (first: they are quick and awaited), or a
 * round due: first thing after the start, after retrain_every changes, or when the annotator
 * has been idle with changes the model has not seen. */
static Work
wait_for_work (Worker *w, guint *out_campaign_items)
{
  VetoEngine *e = w->engine;
  Work work = WORK_STOP;

  g_mutex_lock (&e->lock);
  while (!e->stop)
    {
      guint pending = e->changes - w->trained_changes;
      gint64 idle_at = e->last_change_us + IDLE_RETRAIN_US;

      if (e->campaign_wanted)
        {
          work = WORK_CAMPAIGN;
          *out_campaign_items = e->campaign_wanted;
          e->campaign_wanted = 0;
          break;
        }
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

/* The campaign's assignment is one scan of the campaign (a tenth of a second for tens of
 * thousands of items): here, out of the answers' way. */
static void
worker_campaign (Worker *w, guint max_items)
{
  VetoEngine *e = w->engine;
  Message *msg = g_new0 (Message, 1);

  msg->campaign_items = veto_store_campaign_next_items (w->store, e->options.campaign,
                                                       e->annotator_id, max_items, &msg->error);
  post (w, MESSAGE_CAMPAIGN, msg);
}

/* What the annotations say about each pool item this round. */
typedef struct
{
  Worker *w;
  const char *annotator;
  gboolean *mine;     /* answered by this annotator (standing): never asked again */
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
  gboolean mine = g_strcmp0 (a->annotator, known->annotator) == 0;

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

static void
question_init (Worker *w, VetoQuestion *q, guint index, const float *probs, const char *strategy,
               double score)
{
  guint k = veto_dataset_get_n_classes (w->ds);
  const float *p = probs + (gsize) index * k;
  guint guess = argmax (p, k);

  *q = (VetoQuestion) {
    .kind = w->engine->options.kind,
    .item = veto_dataset_item_of_row (w->ds, w->pool[index]),
    .score = score,
    .guess_class = veto_dataset_class_id (w->ds, guess),
    .guess_confidence = p[guess],
  };
  g_strlcpy (q->strategy, strategy, sizeof q->strategy);
}

/* Preference questions, after P2C as `veto simulate --mode preference`: pairs of free items the
 * model puts in the same class c whose order it is least sure of ("which is more clearly a c?"),
 * each item in one pair at most. */
static gboolean
choose_pairs (Worker *w, const Known *known, const float *probs, guint want, GArray *questions,
              GError **error)
{
  const VetoEngineOptions *o = &w->engine->options;
  guint k = veto_dataset_get_n_classes (w->ds), batch;
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
      guint best = argmax (p, k);

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
  for (guint i = 0; i < batch && questions->len < want; i++)
    {
      VetoQuestion q;

      if (used[left[i]] || used[right[i]])
        continue;
      used[left[i]] = used[right[i]] = TRUE;
      question_init (w, &q, left[i], probs, random ? "random" : "least-sure-pair",
                     random ? NAN : pair_scores[i]);
      q.right_item = veto_dataset_item_of_row (w->ds, w->pool[right[i]]);
      /* A class name as the criterion makes the pair a task label of that class in training. */
      g_strlcpy (q.criterion,
                 o->criterion ? o->criterion : veto_dataset_get_class_name (w->ds, labels[left[i]]),
                 sizeof q.criterion);
      g_array_append_val (questions, q);
    }
  return TRUE;
}

typedef struct
{
  double key;
  guint index;
} Ranked;

static int
compare_ranked (gconstpointer a, gconstpointer b)
{
  const Ranked *x = a, *y = b;

  if (x->key != y->key)
    return x->key > y->key ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

static guint *
rank_pool (Worker *w, const float *probs)
{
  guint k = veto_dataset_get_n_classes (w->ds);
  g_autofree Ranked *ranked = g_new (Ranked, MAX (w->n_pool, 1));
  guint *order = g_new (guint, MAX (w->n_pool, 1));

  for (guint i = 0; i < w->n_pool; i++)
    {
      double score;

      ranked[i].index = i;
      uncertainty (w->engine->options.strategy, probs + (gsize) i * k, k, &ranked[i].key, &score);
    }
  qsort (ranked, w->n_pool, sizeof (Ranked), compare_ranked);
  for (guint i = 0; i < w->n_pool; i++)
    order[i] = ranked[i].index;
  return order;
}

/* The questions of a round and the copy of the scores the creating thread keeps. */
static gboolean
prepare_questions (Worker *w, const VetoModel *model, GArray *questions,
                   VetoEngineScores **out_scores, guint **out_ranked, GError **error)
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
  const char *strategy = o->agcd ? "agcd" : veto_active_strategy_to_string (o->strategy);
  gboolean ok = FALSE;

  known.mine = g_new0 (gboolean, MAX (w->n_pool, 1));
  known.labeled = g_new0 (gboolean, MAX (w->n_pool, 1));
  known.label = g_new (gint, MAX (w->n_pool, 1));
  for (guint i = 0; i < w->n_pool; i++)
    {
      known.label[i] = -1;
      clusters[i] = -1;
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
  /* More than the queue holds: items answered while this round ran are dropped on arrival. */
  want = MIN (o->queue_size + o->retrain_every + 1, n_free);
  if (want > 0 && o->kind == VETO_KIND_PREFERENCE)
    {
      if (!choose_pairs (w, &known, probs, want, questions, error))
        goto out;
    }
  else if (want > 0)
    {
      g_autofree float *free_probs = g_new (float, (gsize) n_free * k);
      g_autofree guint *shown = NULL;

      chosen = g_new (guint, want);
      chosen_scores = g_new (double, want);
      for (guint j = 0; j < n_free; j++)
        memcpy (free_probs + (gsize) j * k, probs + (gsize) free_index[j] * k, k * sizeof (float));
      if (o->agcd)
        {
          if (!choose_agcd (w, &known, free_index, n_free, want, chosen, clusters, error))
            goto out;
          for (guint j = 0; j < want; j++)
            chosen_scores[j] = NAN;
        }
      else
        {
          VetoActiveOptions active;

          veto_active_options_init (&active);
          active.seed = o->seed * 31 + w->round;
          if (!veto_sim_select_batch (w->ds, model, o->strategy, &active, free_rows, n_free,
                                      free_probs, NULL, labeled_rows, n_labeled, want, chosen,
                                      chosen_scores, error))
            goto out;
        }
      if (o->kind == VETO_KIND_COMPLEMENTARY)
        {
          g_autofree float *chosen_probs = g_new (float, (gsize) want * k);

          for (guint j = 0; j < want; j++)
            memcpy (chosen_probs + (gsize) j * k, free_probs + (gsize) chosen[j] * k,
                    k * sizeof (float));
          shown = g_new (guint, (gsize) want * o->n_candidates);
          if (!veto_active_candidates (o->candidates, chosen_probs, want, k, o->n_candidates,
                                       VETO_ACTIVE_DEFAULT_FLOOR, o->seed * 1000003 + w->round,
                                       shown, error))
            goto out;
        }
      for (guint j = 0; j < want; j++)
        {
          VetoQuestion q;

          question_init (w, &q, free_index[chosen[j]], probs, strategy, chosen_scores[j]);
          if (shown)
            {
              q.n_candidates = o->n_candidates;
              for (guint c = 0; c < q.n_candidates; c++)
                q.candidates[c] = veto_dataset_class_id (w->ds,
                                                         shown[(gsize) j * o->n_candidates + c]);
            }
          g_array_append_val (questions, q);
        }
    }
  *out_ranked = ranks_by_probabilities (o) ? rank_pool (w, probs) : NULL;
  *out_scores = g_new0 (VetoEngineScores, 1);
  (*out_scores)->n = w->n_pool;
  (*out_scores)->n_classes = k;
  (*out_scores)->items = g_new (gint64, MAX (w->n_pool, 1));
  for (guint i = 0; i < w->n_pool; i++)
    (*out_scores)->items[i] = veto_dataset_item_of_row (w->ds, w->pool[i]);
  (*out_scores)->probs = g_steal_pointer (&probs);
  (*out_scores)->clusters = g_steal_pointer (&clusters);
  ok = TRUE;

out:
  known_clear (&known);
  return ok;
}

/* Test gold when the project has some, else validation gold, else unknown (NAN). out_eval keeps
 * the evaluation (n = 0 when there was none) for the round's metrics. */
static double
estimate_accuracy (const VetoDataset *ds, const VetoModel *model, VetoEvaluation *out_eval,
                   VetoSplit *out_split)
{
  static const VetoSplit splits[] = { VETO_SPLIT_TEST, VETO_SPLIT_VALIDATION };

  for (guint s = 0; s < G_N_ELEMENTS (splits); s++)
    if (veto_sim_evaluate (ds, model, splits[s], NULL, out_eval, NULL))
      {
        *out_split = splits[s];
        return out_eval->accuracy;
      }
  return NAN;
}

/* The round's metrics as the dashboard and `veto eval` read them: with test gold labels they
 * carry test_accuracy and the confusion matrix (rows = gold, columns = predicted). */
static char *
round_metrics (const VetoTrainResult *result, double accuracy, const VetoEvaluation *eval,
               VetoSplit split, guint n_questions)
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
  if (eval->n > 0 && split == VETO_SPLIT_TEST)
    {
      guint k = eval->n_classes;

      json_builder_set_member_name (b, "test_accuracy");
      json_builder_add_double_value (b, eval->accuracy);
      json_builder_set_member_name (b, "confusion");
      json_builder_begin_array (b);
      for (guint r = 0; r < k; r++)
        {
          json_builder_begin_array (b);
          for (guint c = 0; c < k; c++)
            json_builder_add_int_value (b, eval->confusion[(gsize) r * k + c]);
          json_builder_end_array (b);
        }
      json_builder_end_array (b);
    }
  json_builder_set_member_name (b, "questions");
  json_builder_add_int_value (b, n_questions);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  return json_to_string (root, FALSE);
}

/* One round: train on every standing answer (warm start), rescore the pool, choose the next
 * questions, and post all of it as copies. */
static void
worker_round (Worker *w)
{
  VetoEngine *e = w->engine;
  const VetoEngineOptions *o = &e->options;
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoModel) model = NULL;
  g_autoptr (GArray) questions = g_array_new (FALSE, FALSE, sizeof (VetoQuestion));
  VetoEngineScores *scores = NULL;
  VetoTrainSpec spec;
  VetoTrainResult result = { 0 };
  VetoEvaluation eval = { 0 };
  VetoSplit eval_split = VETO_SPLIT_TEST;
  VetoStoreSummary summary;
  guint64 standing = 0;
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
  /* Uniform sets: FWD, whose Q comes from the annotators' model fitted on the campaigns'
   * anchors (the uniform Q, the same optimum as SCL-NL, until there are any). */
  spec.cl_loss = o->candidates == VETO_ACTIVE_CANDIDATES_UNIFORM
                     ? VETO_LOSS_COMPLEMENTARY_FWD
                     : VETO_LOSS_COMPLEMENTARY_CANDIDATE;
  spec.seed = o->seed;
  spec.warm_start = w->model;
  model = veto_sim_train (w->store, w->ds, &spec, &result, e->cancellable, &error);
  if (model == NULL)
    goto out;
  w->round++;
  if (!prepare_questions (w, model, questions, &scores, &msg->ranked, &error))
    goto out;
  msg->accuracy = estimate_accuracy (w->ds, model, &eval, &eval_split);
  msg->weights = veto_model_save (model);
  msg->model_kind = g_strdup (veto_model_kind_to_string (o->model));
  msg->train_size = result.train_size;
  msg->seconds = (g_get_monotonic_time () - started) / 1e6;
  msg->metrics = round_metrics (&result, msg->accuracy, &eval, eval_split, questions->len);
  msg->questions = g_steal_pointer (&questions);
  msg->scores = g_steal_pointer (&scores);
  g_clear_pointer (&w->model, veto_model_free);
  w->model = g_steal_pointer (&model);

out:
  veto_train_result_clear (&result);
  veto_evaluation_clear (&eval);
  veto_engine_scores_free (scores);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      message_free (msg);
      return;
    }
  msg->error = g_steal_pointer (&error);
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
      Work work;
      guint campaign_items;

      while ((work = wait_for_work (&w, &campaign_items)) != WORK_STOP)
        if (work == WORK_CAMPAIGN)
          worker_campaign (&w, campaign_items);
        else
          worker_round (&w);
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      Message *msg = g_new0 (Message, 1);

      /* The session goes on with random questions. */
      msg->error = g_steal_pointer (&error);
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

/* A free index of ids (not taken, not avoid), at random; -1 when there is none. */
static gint
random_free (VetoEngine *engine, const gint64 *ids, guint n, gint avoid)
{
  guint start;

  if (n == 0)
    return -1;
  for (guint t = 0; t < RANDOM_TRIES; t++)
    {
      gint i = g_rand_int_range (engine->rand, 0, n);

      if (i != avoid && !is_taken (engine, ids[i]))
        return i;
    }
  start = g_rand_int_range (engine->rand, 0, n);
  for (guint j = 0; j < n; j++)
    {
      guint i = (start + j) % n;

      if ((gint) i != avoid && !is_taken (engine, ids[i]))
        return i;
    }
  return -1;
}

/* The index of item in ids (ascending, as pool item ids are kept), or -1. */
static gint
index_of (const gint64 *ids, guint n, gint64 item)
{
  guint lo = 0, hi = n;

  while (lo < hi)
    {
      guint mid = lo + (hi - lo) / 2;

      if (ids[mid] < item)
        lo = mid + 1;
      else
        hi = mid;
    }
  return lo < n && ids[lo] == item ? (gint) lo : -1;
}

/* Completes a question about q->item, which is ids[index] (-1: an item outside ids): the stale
 * guess, the candidates (by rule when the scores cover every class, else uniform), the pair's
 * partner (on a random side unless q->item must stay left); then takes its items. FALSE when no
 * partner is left. */
static gboolean
complete_question (VetoEngine *engine, VetoQuestion *q, const gint64 *ids, guint n, gint index,
                   VetoActiveCandidateRule rule, gboolean keep_left)
{
  const VetoEngineOptions *o = &engine->options;
  const VetoEngineScores *s = engine->scores;
  guint k = s ? s->n_classes : 0;
  const float *p = s && index >= 0 ? s->probs + (gsize) index * k : NULL;
  g_autoptr (GError) error = NULL;

  if (p)
    {
      q->guess_class = ((VetoClass *) engine->classes->pdata[argmax (p, k)])->id;
      q->guess_confidence = p[argmax (p, k)];
    }
  if (q->kind == VETO_KIND_COMPLEMENTARY)
    {
      guint K = engine->classes->len;
      guint shown[MAX_CANDIDATES];
      gboolean by_model = p && k == K;

      if (!veto_active_candidates (by_model ? rule : VETO_ACTIVE_CANDIDATES_UNIFORM,
                                   by_model ? p : NULL, 1, K, o->n_candidates,
                                   VETO_ACTIVE_DEFAULT_FLOOR, g_rand_int (engine->rand), shown,
                                   &error))
        {
          g_signal_emit (engine, signals[SIGNAL_ERROR], 0, error);
          return FALSE;
        }
      q->n_candidates = o->n_candidates;
      for (guint c = 0; c < q->n_candidates; c++)
        q->candidates[c] = ((VetoClass *) engine->classes->pdata[shown[c]])->id;
    }
  else if (q->kind == VETO_KIND_PREFERENCE)
    {
      gint right = -1;
      guint label = p ? argmax (p, k) : (guint) g_rand_int_range (engine->rand, 0,
                                                                  engine->classes->len);

      /* A partner the model puts in the same class, if one turns up quickly. */
      for (guint t = 0; p && t < RANDOM_TRIES && right < 0; t++)
        {
          gint i = random_free (engine, ids, n, index);

          if (i >= 0 && argmax (s->probs + (gsize) i * k, k) == label)
            right = i;
        }
      if (right < 0)
        right = random_free (engine, ids, n, index);
      if (right < 0 || ids[right] == q->item)
        return FALSE;
      q->right_item = ids[right];
      if (!keep_left && g_rand_boolean (engine->rand))
        {
          q->right_item = q->item;
          q->item = ids[right];
          /* The criterion and the guess are the left item's. */
          p = s ? s->probs + (gsize) right * k : NULL;
          label = p ? argmax (p, k) : label;
          q->guess_class = p ? ((VetoClass *) engine->classes->pdata[label])->id : 0;
          q->guess_confidence = p ? p[label] : 0;
        }
      g_strlcpy (q->criterion,
                 o->criterion ? o->criterion
                              : ((VetoClass *) engine->classes->pdata[label])->name,
                 sizeof q->criterion);
    }
  take_items (engine, q);
  return TRUE;
}

/* The question when the queue is empty, made at once: the best free item by the last scores for
 * an uncertainty strategy, else a random free item (the pair's partner in the same predicted
 * class when there are scores). FALSE when the pool is exhausted. */
static gboolean
make_fallback (VetoEngine *engine, VetoQuestion *q)
{
  const VetoEngineOptions *o = &engine->options;
  const VetoEngineScores *s = engine->scores;
  const gint64 *ids = s ? s->items : (const gint64 *) engine->pool->data;
  guint n = s ? s->n : engine->pool->len;
  gint best = -1;

  *q = (VetoQuestion) { .kind = o->kind, .score = NAN };
  if (engine->ranked)
    {
      double key;

      /* The taken items at the front are at most this session's answers and the queue. */
      for (guint r = 0; r < n && best < 0; r++)
        if (!is_taken (engine, ids[engine->ranked[r]]))
          best = engine->ranked[r];
      if (best >= 0)
        uncertainty (o->strategy, s->probs + (gsize) best * s->n_classes, s->n_classes, &key,
                     &q->score);
      g_strlcpy (q->strategy, veto_active_strategy_to_string (o->strategy), sizeof q->strategy);
    }
  else
    {
      best = random_free (engine, ids, n, -1);
      g_strlcpy (q->strategy, "random", sizeof q->strategy);
    }
  if (best < 0)
    return FALSE;
  q->item = ids[best];
  /* The stale round shaped the question (its guess, candidates or pair) if there is one. */
  q->model_version = s ? s->version : 0;
  return complete_question (engine, q, ids, n, best, o->candidates, FALSE);
}

/* Campaign questions, in the order of the campaign's assignment; the candidates are uniform, as
 * the protocol wants. Items already shown, queued or answered are passed over. */
static void
take_campaign_items (VetoEngine *engine, GArray *items)
{
  const VetoEngineOptions *o = &engine->options;
  const VetoEngineScores *s = engine->scores;
  const gint64 *ids = s ? s->items : (const gint64 *) engine->pool->data;
  guint n = s ? s->n : engine->pool->len;

  for (guint i = 0; i < items->len; i++)
    {
      VetoQuestion q = { .kind = o->kind, .score = NAN, .strategy = "campaign" };

      q.item = g_array_index (items, VetoCampaignItem, i).item;
      if (!is_taken (engine, q.item)
          && complete_question (engine, &q, ids, n, index_of (ids, n, q.item),
                                VETO_ACTIVE_CANDIDATES_UNIFORM, TRUE))
        g_queue_push_tail (engine->queue, g_memdup2 (&q, sizeof q));
    }
}

/* Keeps campaign questions coming: the worker fetches the next ones once half the queue is
 * gone; only an empty queue (at the start, or when the worker is late) fetches here. FALSE when
 * the campaign has nothing left for this annotator. */
static gboolean
refill_from_campaign (VetoEngine *engine)
{
  const VetoEngineOptions *o = &engine->options;
  guint queued = g_queue_get_length (engine->queue);

  if (queued == 0)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GArray) items = veto_store_campaign_next_items (engine->store, o->campaign,
                                                                 engine->annotator_id,
                                                                 o->queue_size, &error);

      if (items == NULL)
        {
          g_signal_emit (engine, signals[SIGNAL_ERROR], 0, error);
          return FALSE;
        }
      take_campaign_items (engine, items);
      if (g_queue_is_empty (engine->queue))
        return FALSE;
    }
  if (queued <= o->queue_size / 2 && !engine->campaign_pending && engine->worker)
    {
      engine->campaign_pending = TRUE;
      g_mutex_lock (&engine->lock);
      /* Items still queued here come back from the assignment too: ask for enough beyond. */
      engine->campaign_wanted = g_queue_get_length (engine->queue) + 1 + o->queue_size;
      g_cond_signal (&engine->cond);
      g_mutex_unlock (&engine->lock);
    }
  return TRUE;
}

const VetoQuestion *
veto_engine_current (VetoEngine *engine)
{
  g_return_val_if_fail (VETO_IS_ENGINE (engine), NULL);

  if (!engine->has_current)
    {
      g_autofree VetoQuestion *next = NULL;

      if (engine->options.campaign && !refill_from_campaign (engine))
        return NULL;
      next = g_queue_pop_head (engine->queue);
      if (next)
        engine->current = *next;
      else if (!make_fallback (engine, &engine->current))
        return NULL;
      engine->has_current = TRUE;
      engine->shown_at_us = 0;
    }
  if (engine->shown_at_us == 0)
    engine->shown_at_us = g_get_real_time ();
  return &engine->current;
}

static gboolean
check_answer (VetoEngine *engine, const VetoQuestion *q, gint64 answer_class,
              VetoPreferred preferred, GError **error)
{
  g_autofree char *display = g_filename_display_name (engine->path);
  gboolean found = FALSE;

  switch (q->kind)
    {
    case VETO_KIND_ORDINARY:
      for (guint i = 0; i < engine->classes->len; i++)
        found |= ((VetoClass *) engine->classes->pdata[i])->id == answer_class;
      if (!found)
        g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                     "%s: class %" G_GINT64_FORMAT " is not a class of the project", display,
                     answer_class);
      return found;
    case VETO_KIND_COMPLEMENTARY:
      for (guint i = 0; i < q->n_candidates; i++)
        found |= q->candidates[i] == answer_class;
      if (!found)
        g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                     "%s: class %" G_GINT64_FORMAT " is not one of the candidates shown",
                     display, answer_class);
      return found;
    case VETO_KIND_PREFERENCE:
      if (preferred != VETO_PREFER_LEFT && preferred != VETO_PREFER_RIGHT
          && preferred != VETO_PREFER_TIE)
        {
          g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                       "%s: a preference is left, right or tie", display);
          return FALSE;
        }
      return TRUE;
    case VETO_KIND_SOFT:
    case VETO_N_KINDS:
    default:
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                   "%s: the engine asks no such question", display);
      return FALSE;
    }
}

/* One transaction, so that a flagged answer is never on disk without its flag. */
static gboolean
commit_answer (VetoEngine *engine, const VetoAnswer *answer, gboolean flag, gint64 *out_id,
               GError **error)
{
  if (!flag)
    return veto_store_add_annotation (engine->store, answer, out_id, error);
  if (!veto_store_begin (engine->store, error))
    return FALSE;
  if (!veto_store_add_annotation (engine->store, answer, out_id, error)
      || !veto_store_flag_annotation (engine->store, *out_id, TRUE, error)
      || !veto_store_commit (engine->store, error))
    {
      veto_store_rollback (engine->store);
      return FALSE;
    }
  return TRUE;
}

gboolean
veto_engine_answer (VetoEngine *engine, gint64 answer_class, VetoPreferred preferred,
                    gint64 *out_annotation_id, GError **error)
{
  const VetoQuestion *q;
  VetoAnswer answer;
  Undo undo;
  gint64 id;
  gboolean flag;

  g_return_val_if_fail (VETO_IS_ENGINE (engine), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  q = veto_engine_current (engine);
  if (q == NULL)
    {
      g_autofree char *display = g_filename_display_name (engine->path);

      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                   "%s: no question to answer: every pool item has been asked", display);
      return FALSE;
    }
  if (!check_answer (engine, q, answer_class, preferred, error))
    return FALSE;
  answer = (VetoAnswer) {
    .kind = q->kind,
    .item = q->item,
    .annotator = engine->annotator_id,
    .answer_class = q->kind == VETO_KIND_PREFERENCE ? 0 : answer_class,
    .candidates = q->n_candidates ? q->candidates : NULL,
    .n_candidates = q->n_candidates,
    .right_item = q->right_item,
    .criterion = q->kind == VETO_KIND_PREFERENCE ? q->criterion : NULL,
    .preferred = preferred,
    .model_version = q->model_version,
    .strategy = q->strategy,
    .score = q->score,
    .campaign = engine->options.campaign,
    .shown_at_us = engine->shown_at_us,
    .answered_at_us = g_get_real_time (),
  };
  flag = g_hash_table_contains (engine->flagged, &q->item);
  if (!commit_answer (engine, &answer, flag, &id, error))
    return FALSE;

  undo = (Undo) { id, *q, (answer.answered_at_us - answer.shown_at_us) / 1e6 };
  g_array_append_val (engine->undo, undo);
  if (engine->undo->len > VETO_ENGINE_UNDO_DEPTH)
    g_array_remove_index (engine->undo, 0);
  g_hash_table_remove (engine->flagged, &q->item);
  engine->answers++;
  engine->answer_seconds += undo.seconds;
  engine->has_current = FALSE;
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

  if (!engine->has_current)
    return;
  release_items (engine, &engine->current);
  engine->has_current = FALSE;
  g_signal_emit (engine, signals[SIGNAL_QUESTION_CHANGED], 0);
}

void
veto_engine_flag (VetoEngine *engine)
{
  g_return_if_fail (VETO_IS_ENGINE (engine));

  if (engine->has_current)
    g_hash_table_add (engine->flagged, g_memdup2 (&engine->current.item, sizeof (gint64)));
}

gboolean
veto_engine_undo (VetoEngine *engine, gint64 *out_undone_id, GError **error)
{
  Undo undo;

  g_return_val_if_fail (VETO_IS_ENGINE (engine), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (engine->undo->len == 0)
    {
      g_autofree char *display = g_filename_display_name (engine->path);

      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                   "%s: nothing left to undo (the last %d answers of a session can be undone)",
                   display, VETO_ENGINE_UNDO_DEPTH);
      return FALSE;
    }
  undo = g_array_index (engine->undo, Undo, engine->undo->len - 1);
  if (!veto_store_undo_annotation (engine->store, undo.annotation, error))
    return FALSE;
  g_array_set_size (engine->undo, engine->undo->len - 1);
  /* The question on screen goes back to the front of the queue, still taken. */
  if (engine->has_current)
    g_queue_push_head (engine->queue, g_memdup2 (&engine->current, sizeof engine->current));
  engine->current = undo.question;
  engine->has_current = TRUE;
  engine->shown_at_us = 0;
  engine->answers--;
  engine->answer_seconds -= undo.seconds;
  notify_worker (engine);
  if (out_undone_id)
    *out_undone_id = undo.annotation;
  g_signal_emit (engine, signals[SIGNAL_STATUS_CHANGED], 0);
  g_signal_emit (engine, signals[SIGNAL_QUESTION_CHANGED], 0);
  return TRUE;
}

gboolean
veto_engine_add_class (VetoEngine *engine, const char *name, gint64 *out_id, GError **error)
{
  g_autoptr (GPtrArray) classes = NULL;
  g_autofree char *trimmed = g_strstrip (g_strdup (name ? name : ""));
  gint64 id;

  g_return_val_if_fail (VETO_IS_ENGINE (engine), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (*trimmed == '\0')
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID, "a class needs a name");
      return FALSE;
    }
  if (!veto_store_ensure_class (engine->store, trimmed, &id, NULL, error))
    return FALSE;
  classes = veto_store_list_classes (engine->store, error);
  if (classes == NULL)
    return FALSE;
  /* In place: callers may hold the array veto_engine_get_classes () lent them. */
  g_ptr_array_set_size (engine->classes, 0);
  g_ptr_array_extend_and_steal (engine->classes, g_steal_pointer (&classes));
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
  return engine->classes;
}

void
veto_engine_get_status (VetoEngine *engine, VetoEngineStatus *out_status)
{
  g_return_if_fail (VETO_IS_ENGINE (engine));

  *out_status = (VetoEngineStatus) {
    .answers = engine->answers,
    .budget = engine->options.budget,
    .seconds_per_answer = engine->answers ? engine->answer_seconds / engine->answers : 0,
    .model_version = engine->model_version,
    .estimated_accuracy = engine->accuracy,
    .training = engine->training,
    .queue_length = g_queue_get_length (engine->queue),
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

gboolean
veto_engine_wait_for_model (VetoEngine *engine, gint64 version, guint timeout_ms)
{
  g_autoptr (GSource) timeout = g_timeout_source_new (timeout_ms);
  gboolean timed_out = FALSE;

  g_return_val_if_fail (VETO_IS_ENGINE (engine), FALSE);

  g_source_set_callback (timeout, wait_timed_out, &timed_out, NULL);
  g_source_attach (timeout, engine->context);
  while (engine->model_version < version && !timed_out)
    g_main_context_iteration (engine->context, TRUE);
  g_source_destroy (timeout);
  return engine->model_version >= version;
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
collect_taken (const VetoAnnotation *a, gpointer user_data)
{
  VetoEngine *engine = user_data;

  if (g_strcmp0 (a->annotator, engine->annotator) != 0)
    return TRUE;
  g_hash_table_add (engine->taken, g_memdup2 (&a->item, sizeof (gint64)));
  if (a->kind == VETO_KIND_PREFERENCE)
    g_hash_table_add (engine->taken, g_memdup2 (&a->right_item, sizeof (gint64)));
  return TRUE;
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
  else if ((guint) o->strategy > VETO_ACTIVE_DISTILL)
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

/* A campaign sets the kind of question and, for complementary ones, how many candidates. */
static gboolean
adopt_campaign (VetoEngine *engine, GError **error)
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
  if (c->protocol == VETO_KIND_COMPLEMENTARY)
    o->n_candidates = c->n_candidates;
  return TRUE;
}

VetoEngine *
veto_engine_new (const char *project_path, const VetoEngineOptions *options, GError **error)
{
  g_autoptr (VetoEngine) engine = NULL;
  g_autofree char *display = g_filename_display_name (project_path);
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
  o->annotator = engine->annotator;
  o->criterion = engine->criterion;
  o->features = engine->features;
  engine->rand = g_rand_new_with_seed ((guint32) (o->seed * 2654435761u + 7));

  engine->store = veto_store_open (project_path, FALSE, error);
  if (engine->store == NULL)
    return NULL;
  engine->classes = veto_store_list_classes (engine->store, error);
  if (engine->classes == NULL || (o->campaign && !adopt_campaign (engine, error)))
    return NULL;
  if (engine->classes->len < 2 || (o->kind == VETO_KIND_COMPLEMENTARY
                                   && engine->classes->len < o->n_candidates))
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                   "%s: the project has %u classes; questions need at least %u", display,
                   engine->classes->len,
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
  engine->pool = veto_store_list_item_ids (engine->store, VETO_SPLIT_POOL, error);
  if (engine->pool == NULL
      || !veto_store_foreach_annotation (engine->store, FALSE, collect_taken, engine, error))
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
  clear_queue (engine);
  g_clear_pointer (&engine->scores, veto_engine_scores_free);
  g_clear_pointer (&engine->ranked, g_free);
  G_OBJECT_CLASS (veto_engine_parent_class)->dispose (object);
}

static void
veto_engine_finalize (GObject *object)
{
  VetoEngine *engine = VETO_ENGINE (object);

  g_clear_pointer (&engine->store, veto_store_close);
  g_clear_pointer (&engine->classes, g_ptr_array_unref);
  g_clear_pointer (&engine->pool, g_array_unref);
  g_clear_pointer (&engine->rand, g_rand_free);
  g_clear_pointer (&engine->context, g_main_context_unref);
  g_atomic_rc_box_release (engine->link);
  g_queue_free (engine->queue);
  g_hash_table_unref (engine->taken);
  g_hash_table_unref (engine->flagged);
  g_array_unref (engine->undo);
  g_object_unref (engine->cancellable);
  g_mutex_clear (&engine->lock);
  g_cond_clear (&engine->cond);
  g_free (engine->annotator);
  g_free (engine->criterion);
  g_free (engine->features);
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
  engine->queue = g_queue_new ();
  engine->taken = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  engine->flagged = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  engine->undo = g_array_new (FALSE, FALSE, sizeof (Undo));
  engine->accuracy = NAN;
  engine->cancellable = g_cancellable_new ();
  engine->link = g_atomic_rc_box_new0 (Link);
  engine->link->engine = engine;
  g_mutex_init (&engine->lock);
  g_cond_init (&engine->cond);
}
