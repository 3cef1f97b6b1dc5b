/* veto-sim: composes store + features + model + loss: a project's dataset, training and evaluation. */
#include "veto-sim.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include <sys/statvfs.h>

#include "veto-image.h"
#include "veto-import.h"
#include "veto-json.h"
#include "veto-stats-load.h"

struct _VetoDataset
{
  VetoFeatures *features;
  GArray *item_ids;        /* gint64 per row */
  GArray *gold;            /* gint per row: class index or -1 */
  GArray *split_of;        /* VetoSplit per row */
  GArray *splits[VETO_N_SPLITS]; /* guint rows */
  GHashTable *row_of_item; /* item id -> row + 1 */
  GPtrArray *classes;      /* VetoClass, model order */
};

typedef struct
{
  VetoDataset *dataset;
  GPtrArray *items;        /* VetoItem copies (pixels / paths) for extraction */
  GHashTable *class_index; /* class id -> index + 1 */
  VetoStore *store;        /* only its path is read, from the extraction threads too */
  gboolean keep_items;
} LoadState;

static gboolean
collect_row (const VetoItem *item, gpointer user_data)
{
  LoadState *st = user_data;
  VetoDataset *ds = st->dataset;
  guint row = ds->item_ids->len;
  gint gold = item->gold_class
                  ? GPOINTER_TO_INT (g_hash_table_lookup (st->class_index,
                                                          &item->gold_class)) - 1
                  : -1;

  g_array_append_val (ds->item_ids, item->id);
  g_array_append_val (ds->gold, gold);
  g_array_append_val (ds->split_of, item->split);
  g_array_append_val (ds->splits[item->split], row);
  g_hash_table_insert (ds->row_of_item, g_memdup2 (&item->id, sizeof item->id),
                       GUINT_TO_POINTER (row + 1));
  if (st->keep_items)
    {
      VetoItem *copy = g_new0 (VetoItem, 1);

      *copy = *item;
      copy->path = g_strdup (item->path);
      copy->sha256 = g_strdup (item->sha256);
      copy->pixels = item->pixels ? g_bytes_ref (item->pixels) : NULL;
      g_ptr_array_add (st->items, copy);
    }
  return TRUE;
}

static VetoImage *
fetch_image (gpointer user_data, guint index, guint min_width, guint min_height, GError **error)
{
  LoadState *st = user_data;
  const VetoItem *item = st->items->pdata[index];
  g_autofree char *path = NULL;
  g_autofree char *name = NULL;

  if (item->pixels)
    return veto_image_new_from_data (item->width, item->height, item->channels,
                                     g_bytes_get_data (item->pixels, NULL));
  path = veto_store_item_file (st->store, item, error);
  if (path == NULL)
    return NULL;
  name = veto_store_describe_item (st->store, item);
  return veto_image_load_verified (path, item->sha256, name, min_width, min_height, error);
}

/* Whether the project's file system can take a features cache of size bytes three times over
 * (the write-ahead log, the checkpoint into the file, and as much again): a cache that fails
 * half-way leaves the log grown, and the space it took is then missing for the next answers. */
static gboolean
room_for_cache (VetoStore *store, gsize size)
{
  g_autofree char *folder = g_path_get_dirname (veto_store_get_path (store));
  struct statvfs fs;

  if (statvfs (folder, &fs) != 0)
    return FALSE;
  return (guint64) fs.f_bavail * fs.f_frsize / 3 > size;
}

/* The cache key names the extractor, its parameters and the exact set of items. */
static char *
cache_key (VetoStore *store, const char *spec_key, GError **error)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GArray) ids = veto_store_list_item_ids (store, VETO_N_SPLITS, error);

  if (ids == NULL)
    return NULL;
  g_checksum_update (sum, (const guint8 *) ids->data, ids->len * sizeof (gint64));
  return g_strdup_printf ("features/%s/%u/%.16s", spec_key, ids->len,
                          g_checksum_get_string (sum));
}

VetoDataset *
veto_dataset_load (VetoStore *store, const char *features, gboolean cache,
                   VetoProgressFunc progress, gpointer progress_data,
                   GCancellable *cancellable, GError **error)
{
  g_autoptr (VetoDataset) ds = g_new0 (VetoDataset, 1);
  g_autoptr (VetoFeatureSpec) spec = veto_feature_spec_parse (features, error);
  g_autoptr (GHashTable) class_index = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                                              NULL);
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func ((GDestroyNotify) veto_item_free);
  g_autofree char *key = NULL;
  g_autoptr (GBytes) cached = NULL;
  LoadState st = { 0 };

  if (spec == NULL)
    return NULL;
  ds->item_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  ds->gold = g_array_new (FALSE, FALSE, sizeof (gint));
  ds->split_of = g_array_new (FALSE, FALSE, sizeof (VetoSplit));
  for (guint s = 0; s < VETO_N_SPLITS; s++)
    ds->splits[s] = g_array_new (FALSE, FALSE, sizeof (guint));
  ds->row_of_item = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  ds->classes = veto_store_list_classes (store, error);
  if (ds->classes == NULL)
    return NULL;
  for (guint i = 0; i < ds->classes->len; i++)
    g_hash_table_insert (class_index,
                         g_memdup2 (&((VetoClass *) ds->classes->pdata[i])->id, sizeof (gint64)),
                         GUINT_TO_POINTER (i + 1));

  key = cache_key (store, veto_feature_spec_get_key (spec), error);
  if (key == NULL)
    return NULL;
  if (veto_feature_spec_get_kind (spec) != VETO_FEATURE_NPY)
    {
      g_autoptr (GError) cache_error = NULL;

      cached = veto_store_get_blob (store, key, &cache_error);
      if (cached)
        ds->features = veto_features_new_from_bytes (cached, NULL);
    }
  st = (LoadState) { .dataset = ds, .items = items, .class_index = class_index,
                     .store = store,
                     .keep_items = ds->features == NULL
                                   && veto_feature_spec_get_kind (spec) != VETO_FEATURE_NPY };
  if (!veto_store_foreach_item (store, VETO_N_SPLITS, collect_row, &st, error))
    return NULL;
  if (ds->item_ids->len == 0)
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_INVALID,
                   "%s: the project has no items", veto_store_get_path (store));
      return NULL;
    }
  if (ds->features && veto_features_get_n (ds->features) != ds->item_ids->len)
    g_clear_pointer (&ds->features, veto_features_free);
  if (ds->features == NULL && veto_feature_spec_get_kind (spec) == VETO_FEATURE_NPY)
    {
      g_autoptr (VetoNpy) npy = veto_import_read_npy (veto_feature_spec_get_path (spec), error);
      g_autoptr (GError) shape_error = NULL;

      if (npy == NULL)
        return NULL;
      ds->features = veto_features_new_from_npy (npy, veto_feature_spec_get_key (spec),
                                                 ds->item_ids->len, &shape_error);
      if (ds->features == NULL)
        {
          g_autofree char *display = g_filename_display_name (veto_feature_spec_get_path (spec));

          g_set_error (error, VETO_FEATURES_ERROR, shape_error->code, "%s: %s", display,
                       shape_error->message);
          return NULL;
        }
    }
  else if (ds->features == NULL)
    {
      ds->features = veto_features_extract (spec, items->len, fetch_image, &st, progress,
                                            progress_data, cancellable, error);
      if (ds->features == NULL)
        return NULL;
      if (cache)
        {
          g_autoptr (GBytes) blob = veto_features_serialize (ds->features);

          /* The cache is a convenience: a project that cannot take it still trains. */
          if (room_for_cache (store, g_bytes_get_size (blob)))
            veto_store_put_blob (store, key, blob, NULL);
        }
    }
  return g_steal_pointer (&ds);
}

void
veto_dataset_free (VetoDataset *ds)
{
  if (ds == NULL)
    return;
  g_clear_pointer (&ds->features, veto_features_free);
  g_clear_pointer (&ds->item_ids, g_array_unref);
  g_clear_pointer (&ds->gold, g_array_unref);
  g_clear_pointer (&ds->split_of, g_array_unref);
  for (guint s = 0; s < VETO_N_SPLITS; s++)
    g_clear_pointer (&ds->splits[s], g_array_unref);
  g_clear_pointer (&ds->row_of_item, g_hash_table_unref);
  g_clear_pointer (&ds->classes, g_ptr_array_unref);
  g_free (ds);
}

guint
veto_dataset_get_n (const VetoDataset *ds)
{
  return ds->item_ids->len;
}

guint
veto_dataset_get_dim (const VetoDataset *ds)
{
  return veto_features_get_dim (ds->features);
}

guint
veto_dataset_get_n_classes (const VetoDataset *ds)
{
  return ds->classes->len;
}

const char *
veto_dataset_get_class_name (const VetoDataset *ds, guint index)
{
  return ((VetoClass *) ds->classes->pdata[index])->name;
}

gint64
veto_dataset_class_id (const VetoDataset *ds, guint index)
{
  return ((VetoClass *) ds->classes->pdata[index])->id;
}

gint
veto_dataset_class_index (const VetoDataset *ds, gint64 class_id)
{
  for (guint i = 0; i < ds->classes->len; i++)
    if (((VetoClass *) ds->classes->pdata[i])->id == class_id)
      return i;
  return -1;
}

gboolean
veto_dataset_refresh_classes (VetoDataset *ds, VetoStore *store, GError **error)
{
  GPtrArray *classes = veto_store_list_classes (store, error);

  if (classes == NULL)
    return FALSE;
  g_ptr_array_unref (ds->classes);
  ds->classes = classes;
  return TRUE;
}

const float *
veto_dataset_get_features (const VetoDataset *ds)
{
  return veto_features_get_data (ds->features);
}

const char *
veto_dataset_get_features_key (const VetoDataset *ds)
{
  return veto_features_get_key (ds->features);
}

const guint *
veto_dataset_get_split (const VetoDataset *ds, VetoSplit split, guint *out_n)
{
  *out_n = ds->splits[split]->len;
  return (const guint *) ds->splits[split]->data;
}

gint
veto_dataset_get_gold (const VetoDataset *ds, guint row)
{
  return g_array_index (ds->gold, gint, row);
}

VetoSplit
veto_dataset_get_row_split (const VetoDataset *ds, guint row)
{
  return g_array_index (ds->split_of, VetoSplit, row);
}

gint
veto_dataset_row_of_item (const VetoDataset *ds, gint64 item_id)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (ds->row_of_item, &item_id)) - 1;
}

gint64
veto_dataset_item_of_row (const VetoDataset *ds, guint row)
{
  return g_array_index (ds->item_ids, gint64, row);
}

gboolean
veto_supervision_from_string (const char *text, VetoSupervision *out_supervision)
{
  static const char *const names[] = { "gold", "answers", "synthetic-complementary" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (text, names[i]) == 0)
      {
        *out_supervision = i;
        return TRUE;
      }
  return FALSE;
}

static const char *const cl_criterion_names[] = { "ure-01", "scel" };

gboolean
veto_cl_criterion_from_string (const char *text, VetoClCriterion *out_criterion)
{
  for (guint i = 0; i < G_N_ELEMENTS (cl_criterion_names); i++)
    if (g_strcmp0 (text, cl_criterion_names[i]) == 0)
      {
        *out_criterion = i;
        return TRUE;
      }
  return FALSE;
}

const char *
veto_cl_criterion_to_string (VetoClCriterion criterion)
{
  return criterion < G_N_ELEMENTS (cl_criterion_names) ? cl_criterion_names[criterion] : NULL;
}

void
veto_train_spec_init (VetoTrainSpec *spec)
{
  *spec = (VetoTrainSpec) {
    .model = VETO_MODEL_KIND_SOFTMAX,
    .supervision = VETO_SUPERVISION_GOLD,
    .cl_loss = VETO_LOSS_COMPLEMENTARY_SCL_NL,
    .cl_criterion = VETO_CL_CRITERION_URE,
    .per_item = 1,
    .q_smoothing = 0.5,
    .loss_uses_true_q = TRUE,
    .fit_annotator = TRUE,
    .seed = 1,
  };
  veto_model_train_options_init (&spec->train);
  spec->train.solver = VETO_SOLVER_LBFGS;
  spec->train.schedule = VETO_LR_COSINE;
  spec->train.learning_rate = 2e-3;
  spec->train.batch_size = 256;
  spec->train.max_epochs = 0;
}

/* Full-batch L-BFGS: about one pass over the units per iteration, against the 250 minibatches
 * of 256 (64,000 rows) AdamW takes; so it is the cheaper one up to a few thousand units (the
 * size of an active-learning round's training set), and AdamW's few epochs beyond. Measured on
 * Fashion-MNIST pixels with 1,000 labels, held-out pool items (not the test split): 20
 * iterations with L2 = 0.03 reach AdamW's accuracy (0.810 against 0.809), and more iterations
 * do not raise it (0.01: 0.805, 0.1: 0.808). */
#define LBFGS_MAX_UNITS 3000
#define LBFGS_L2 0.03

/* 20 iterations from 1,000 units on; with fewer (the first rounds) up to 200, about the rows
 * AdamW's run would go through. */
static guint
lbfgs_iterations (guint n_units)
{
  return CLAMP (20000 / MAX (n_units, 1), 20, 200);
}

/* L-BFGS is for the convex case: a softmax whose terms are all cross-entropies (ordinary
 * answers, gold labels, a teacher's soft labels). The complementary, preference and bag losses
 * are not convex; with the few answers of the first rounds their optimum under an L2 penalty
 * was measured to be a flatter, less accurate model than AdamW's run (the engine's tests
 * caught it), so they keep AdamW. */
static gboolean
lbfgs_suits (const VetoTrainSpec *spec, VetoObjective *objective, guint n_units)
{
  if (spec->model != VETO_MODEL_KIND_SOFTMAX || n_units > LBFGS_MAX_UNITS)
    return FALSE;
  for (guint kind = 0; kind < VETO_LOSS_N_KINDS; kind++)
    if (kind != VETO_LOSS_KIND_ORDINARY && kind != VETO_LOSS_KIND_SOFT
        && veto_objective_get_n_terms (objective, kind) > 0)
      return FALSE;
  return TRUE;
}

/* With max_epochs 0 the run is sized by steps: about 250 Adam steps, at least 5 and at most
 * 200 epochs, so that 60,000 items take 5 short epochs and 1,000 items get 63 (a round of active
 * learning then retrains in 0.09 s, and ends no less accurate than with 1,500 steps). */
static guint
auto_epochs (guint n_units, guint batch_size)
{
  guint steps_per_epoch = (n_units + batch_size - 1) / batch_size;

  return CLAMP ((250 + steps_per_epoch - 1) / steps_per_epoch, 5, 200);
}

void
veto_train_result_clear (VetoTrainResult *result)
{
  g_clear_pointer (&result->q_used, g_free);
  g_clear_pointer (&result->annotator_model, g_free);
  g_clear_pointer (&result->own_annotators, g_free);
  g_clear_pointer (&result->own_models, g_free);
  g_clear_pointer (&result->fold_scores, g_free);
}

/* Training rows: the dataset rows that carry at least one term, copied contiguously. */
typedef struct
{
  GArray *rows;            /* dataset row of each unit */
  GHashTable *unit_of_row; /* row + 1 -> unit + 1 */
} Units;

static guint
unit_for_row (Units *u, guint row)
{
  guint unit = GPOINTER_TO_UINT (g_hash_table_lookup (u->unit_of_row, GUINT_TO_POINTER (row + 1)));

  if (unit)
    return unit - 1;
  g_array_append_val (u->rows, row);
  g_hash_table_insert (u->unit_of_row, GUINT_TO_POINTER (row + 1),
                       GUINT_TO_POINTER (u->rows->len));
  return u->rows->len - 1;
}

/* Draws one class from a row of probabilities, skipping those already taken. */
static guint
draw_class (GRand *rand, const double *row, guint k, const gboolean *taken)
{
  double total = 0, r;

  for (guint c = 0; c < k; c++)
    if (!taken[c])
      total += row[c];
  r = g_rand_double (rand) * total;
  for (guint c = 0; c < k; c++)
    if (!taken[c])
      {
        if (r < row[c])
          return c;
        r -= row[c];
      }
  for (guint c = k; c-- > 0;)
    if (!taken[c] && row[c] > 0)
      return c;
  return 0;
}

typedef struct
{
  guint row;
  guint cl;
  gboolean held_out;       /* kept out of training to score the model */
} DrawnCl;

static gboolean is_held_out (gint64 item, double share);
static guint fold_of (gint64 item, guint folds);

static gboolean
add_synthetic (const VetoDataset *ds, const VetoTrainSpec *spec, Units *u, GArray *drawn,
               GError **error)
{
  guint k = veto_dataset_get_n_classes (ds), n_pool;
  const guint *pool = veto_dataset_get_split (ds, VETO_SPLIT_POOL, &n_pool);
  g_autoptr (GRand) rand = g_rand_new_with_seed ((guint32) (spec->seed * 2654435761u + 17));
  g_autofree double *uniform = g_new (double, (gsize) k * k);
  g_autofree gboolean *taken = g_new (gboolean, k);
  const double *q = spec->q ? spec->q : uniform;

  if (spec->per_item == 0 || spec->per_item >= k)
    {
      g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                   "--per-item must be between 1 and K - 1 = %u", k - 1);
      return FALSE;
    }
  for (guint y = 0; y < k; y++)
    for (guint c = 0; c < k; c++)
      uniform[y * k + c] = y == c ? 0.0 : 1.0 / (k - 1);
  for (guint i = 0; i < n_pool; i++)
    {
      gint y = veto_dataset_get_gold (ds, pool[i]);

      if (y < 0)
        continue;
      memset (taken, 0, k * sizeof (gboolean));
      for (guint j = 0; j < spec->per_item; j++)
        {
          gint64 item = veto_dataset_item_of_row (ds, pool[i]);
          DrawnCl d = { pool[i], draw_class (rand, q + (gsize) y * k, k, taken),
                        spec->folds > 1 ? fold_of (item, spec->folds) == spec->fold
                                        : is_held_out (item, spec->holdout) };

          taken[d.cl] = TRUE;
          if (!d.held_out)
            unit_for_row (u, d.row);
          g_array_append_val (drawn, d);
        }
    }
  return TRUE;
}

/* Estimates Q from the first n items (in a seeded order) that have gold and drawn CLs. */
static double *
estimate_q (const VetoDataset *ds, const VetoTrainSpec *spec, GArray *drawn, GError **error)
{
  guint k = veto_dataset_get_n_classes (ds);
  g_autoptr (GRand) rand = g_rand_new_with_seed ((guint32) (spec->seed + 99));
  g_autoptr (GArray) order = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GArray) gold = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GArray) cls = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree double *q = g_new (double, (gsize) k * k);
  g_autoptr (GHashTable) chosen = g_hash_table_new (NULL, NULL);
  guint n_pool;
  const guint *pool = veto_dataset_get_split (ds, VETO_SPLIT_POOL, &n_pool);

  for (guint i = 0; i < n_pool; i++)
    g_array_append_val (order, pool[i]);
  for (guint i = order->len; i > 1; i--)
    {
      guint j = g_rand_int_range (rand, 0, i);
      guint t = g_array_index (order, guint, i - 1);

      g_array_index (order, guint, i - 1) = g_array_index (order, guint, j);
      g_array_index (order, guint, j) = t;
    }
  for (guint i = 0; i < order->len && g_hash_table_size (chosen) < spec->estimate_q_from; i++)
    g_hash_table_add (chosen, GUINT_TO_POINTER (g_array_index (order, guint, i) + 1));
  for (guint i = 0; i < drawn->len; i++)
    {
      DrawnCl *d = &g_array_index (drawn, DrawnCl, i);
      guint y = veto_dataset_get_gold (ds, d->row);

      if (!g_hash_table_contains (chosen, GUINT_TO_POINTER (d->row + 1)))
        continue;
      g_array_append_val (gold, y);
      g_array_append_val (cls, d->cl);
    }
  /* A pull towards uniform keeps rows with few samples invertible. */
  if (!veto_loss_estimate_transition ((guint *) gold->data, (guint *) cls->data, gold->len, k,
                                      spec->q_smoothing, q, error))
    return NULL;
  return g_steal_pointer (&q);
}

/* Indexes of class names in the dataset. */
static gint
class_by_name (const VetoDataset *ds, const char *name)
{
  for (guint i = 0; name && i < ds->classes->len; i++)
    if (g_strcmp0 (((VetoClass *) ds->classes->pdata[i])->name, name) == 0)
      return i;
  return -1;
}

/* The class indices of a complementary answer's candidates that the dataset knows, into out
 * (room for a->candidates->len); how many. */
static guint
shown_classes (const VetoDataset *ds, const VetoAnnotation *a, guint *out)
{
  guint n = 0;

  for (guint i = 0; i < a->candidates->len; i++)
    {
      gint c = class_by_name (ds, a->candidates->pdata[i]);

      if (c >= 0)
        out[n++] = c;
    }
  return n;
}

/* A held-out complementary answer. */
typedef struct
{
  guint row;
  guint answer;
  guint n_shown;
  gboolean anchor;   /* asked as a gold anchor: its gold label may score the model */
  guint model;       /* its annotator's model (AnnotatorModels) */
  guint shown[64];
} HeldOut;

typedef struct
{
  const VetoDataset *ds;
  VetoObjective *objective;
  Units *units;
  GHashTable *heads;       /* criterion -> head + 1 */
  const char *annotator;   /* NULL: every annotator's answers */
  double holdout;
  guint folds, fold;       /* folds > 1: the answers on fold `fold`'s items are held out */
  GArray *held_out;        /* HeldOut */
  GHashTable *model_of;    /* annotator name → index of their model (none: 0) */
  GError *error;
} AnswerLoad;

/* The index of the annotator's model, 0 (the pooled one) when they have none of their own. */
static guint
answer_model (const AnswerLoad *al, const VetoAnnotation *a)
{
  return al->model_of ? GPOINTER_TO_UINT (g_hash_table_lookup (al->model_of, a->annotator)) : 0;
}

/* A hash of an item's id in 0..999 (Knuth's multiplicative hash): what decides which side of
 * a holdout, or which fold, an item is on, so an item asked again stays on its side. */
static guint
item_permille (gint64 item)
{
  return (guint) (((guint64) item * 2654435761u) % 1000);
}

/* Whether an item's complementary answers are held out. */
static gboolean
is_held_out (gint64 item, double share)
{
  return share > 0 && item_permille (item) < share * 1000;
}

/* The fold of an item under k-fold cross-validation, by is_held_out ()'s hash: fold f holds
 * the items whose hash falls in [1000·f / folds, 1000·(f + 1) / folds). */
static guint
fold_of (gint64 item, guint folds)
{
  return item_permille (item) * folds / 1000;
}

static gboolean
add_answer (const VetoAnnotation *a, gpointer user_data)
{
  AnswerLoad *al = user_data;
  gint row = veto_dataset_row_of_item (al->ds, a->item);
  gint cls = class_by_name (al->ds, a->answer_class);
  gboolean anchor = g_strcmp0 (a->strategy, "anchor") == 0;
  guint unit;

  if (row < 0 || (al->annotator && g_strcmp0 (al->annotator, a->annotator) != 0))
    return TRUE;
  /* Answers about the test split (a campaign over it, or its anchors) would leak into the
   * accuracy measured there. */
  if (veto_dataset_get_row_split (al->ds, row) == VETO_SPLIT_TEST)
    return TRUE;
  /* A gold anchor outside the pool (the window's validation items) only fits the annotators'
   * models and measures the classifier: it never trains it. */
  if (anchor && veto_dataset_get_row_split (al->ds, row) != VETO_SPLIT_POOL
      && !(al->holdout > 0 && a->kind == VETO_KIND_COMPLEMENTARY))
    return TRUE;
  if (a->kind == VETO_KIND_COMPLEMENTARY
      && (al->folds > 1 ? fold_of (a->item, al->folds) == al->fold
                        : is_held_out (a->item, al->holdout) || (al->holdout > 0 && anchor)))
    {
      HeldOut h = { row, 0, 0, anchor, answer_model (al, a), { 0 } };

      if (al->objective == NULL || cls < 0 || a->candidates->len > G_N_ELEMENTS (h.shown))
        return TRUE;
      h.answer = cls;
      h.n_shown = shown_classes (al->ds, a, h.shown);
      g_array_append_val (al->held_out, h);
      return TRUE;
    }
  /* A fold held out is held out whole: no answer of any kind about its items trains. */
  if (al->folds > 1
      && (fold_of (a->item, al->folds) == al->fold
          || (a->kind == VETO_KIND_PREFERENCE && fold_of (a->right_item, al->folds) == al->fold)))
    return TRUE;
  /* The first pass only numbers the units, so that the objective can be sized. */
  if (al->objective == NULL)
    {
      gint right = a->kind == VETO_KIND_PREFERENCE ? veto_dataset_row_of_item (al->ds,
                                                                               a->right_item)
                                                   : -1;

      if (a->kind != VETO_KIND_PREFERENCE || right >= 0)
        unit_for_row (al->units, row);
      if (right >= 0)
        unit_for_row (al->units, right);
      return TRUE;
    }
  switch (a->kind)
    {
    case VETO_KIND_ORDINARY:
      if (cls >= 0)
        {
          unit = unit_for_row (al->units, row);
          return veto_objective_add_ordinary (al->objective, unit, cls, &al->error);
        }
      break;
    case VETO_KIND_COMPLEMENTARY:
      if (cls >= 0)
        {
          g_autofree guint *shown = g_new (guint, MAX (a->candidates->len, 1));
          guint n = shown_classes (al->ds, a, shown);

          unit = unit_for_row (al->units, row);
          return veto_objective_add_complementary_by (al->objective, unit, cls, n ? shown : NULL,
                                                      n, answer_model (al, a), &al->error);
        }
      break;
    case VETO_KIND_PREFERENCE:
      {
        gint right = veto_dataset_row_of_item (al->ds, a->right_item);
        guint head = GPOINTER_TO_UINT (g_hash_table_lookup (al->heads, a->criterion));
        double target = g_strcmp0 (a->preferred, "left") == 0    ? 1.0
                        : g_strcmp0 (a->preferred, "right") == 0 ? 0.0
                                                                 : 0.5;

        if (right < 0 || head == 0)
          break;
        unit = unit_for_row (al->units, row);
        /* A criterion named after a class ("which is more clearly a Coat?") is a task label the
         * pair shares, which lets P2C's consistency term teach the classifier too. */
        return veto_objective_add_preference (al->objective, unit,
                                              unit_for_row (al->units, right), head - 1, target,
                                              class_by_name (al->ds, a->criterion), &al->error);
      }
    case VETO_KIND_SOFT:
      {
        g_autoptr (JsonNode) node = json_from_string (a->soft_json, NULL);
        JsonArray *array = node && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node)
                                                                 : NULL;
        guint k = veto_dataset_get_n_classes (al->ds);
        g_autofree float *target = g_new0 (float, k);

        if (array == NULL || json_array_get_length (array) != k)
          break;
        for (guint i = 0; i < k; i++)
          target[i] = (float) json_array_get_double_element (array, i);
        unit = unit_for_row (al->units, row);
        return veto_objective_add_soft (al->objective, unit, target, &al->error);
      }
    case VETO_N_KINDS:
    default:
      break;
    }
  return TRUE;
}

/* A copy that outlives the walk over the store. */
static gboolean
collect_annotation (const VetoAnnotation *a, gpointer user_data)
{
  VetoAnnotation *copy = g_new (VetoAnnotation, 1);

  *copy = *a;
  copy->item_sha256 = g_strdup (a->item_sha256);
  copy->annotator = g_strdup (a->annotator);
  copy->annotator_kind = g_strdup (a->annotator_kind);
  copy->answer_class = g_strdup (a->answer_class);
  copy->candidates = a->candidates ? g_ptr_array_ref (a->candidates) : NULL;
  copy->criterion = g_strdup (a->criterion);
  copy->preferred = g_strdup (a->preferred);
  copy->soft_json = g_strdup (a->soft_json);
  copy->question_json = g_strdup (a->question_json);
  copy->strategy = g_strdup (a->strategy);
  copy->shown_at = g_strdup (a->shown_at);
  copy->answered_at = g_strdup (a->answered_at);
  g_ptr_array_add (user_data, copy);
  return TRUE;
}

static gboolean
count_criteria (const VetoAnnotation *a, gpointer user_data)
{
  GHashTable *heads = user_data;

  if (a->kind == VETO_KIND_PREFERENCE && a->criterion
      && !g_hash_table_contains (heads, a->criterion))
    g_hash_table_insert (heads, g_strdup (a->criterion),
                         GUINT_TO_POINTER (g_hash_table_size (heads) + 1));
  return TRUE;
}

typedef struct
{
  const float *X;
  guint d;
  const guint *rows;
  guint n;
  const VetoDataset *ds;
} Validation;

/* Early stopping watches the error rate on the validation split's gold labels. */
static double
validation_error (gpointer user_data, VetoModel *model)
{
  Validation *v = user_data;
  guint k = veto_model_get_n_classes (model), wrong = 0;
  g_autofree float *x = g_new (float, (gsize) v->n * v->d);
  g_autofree float *p = g_new (float, (gsize) v->n * k);

  for (guint i = 0; i < v->n; i++)
    memcpy (x + (gsize) i * v->d, v->X + (gsize) v->rows[i] * v->d, v->d * sizeof (float));
  veto_model_predict_proba (model, x, v->n, v->d, p);
  for (guint i = 0; i < v->n; i++)
    {
      guint best = 0;

      for (guint c = 1; c < k; c++)
        if (p[(gsize) i * k + c] > p[(gsize) i * k + best])
          best = c;
      wrong += (gint) best != veto_dataset_get_gold (v->ds, v->rows[i]);
    }
  return v->n ? (double) wrong / v->n : 0.0;
}

typedef struct
{
  const float *X;
  guint d;
  GArray *held_out;
  const double *a;         /* annotator models, K×K each (HeldOut.model), NULL: uniform */
} AnswerValidation;

/* Mean -log P(answer | x, S) = -log Σ_y p_y^(1/T) / Z · A[y][c] / Σ_{s∈S} A[y][s] of the held-out
 * answers, from the model's probabilities p (rows of probs in held-out order). */
static double
held_out_nll (const AnswerValidation *v, const float *probs, guint k, double temperature)
{
  g_autofree double *tempered = g_new (double, k);
  double total = 0.0;

  for (guint i = 0; i < v->held_out->len; i++)
    {
      const HeldOut *h = &g_array_index (v->held_out, HeldOut, i);
      const double *a = v->a ? v->a + (gsize) h->model * k * k : NULL;
      double z = 0.0, likelihood = 0.0;

      for (guint y = 0; y < k; y++)
        z += tempered[y] = pow (MAX (probs[(gsize) i * k + y], 1e-30), 1.0 / temperature);
      for (guint y = 0; y < k; y++)
        {
          double shown_sum = 0.0, chosen;

          for (guint s = 0; s < h->n_shown; s++)
            shown_sum += a ? a[(gsize) y * k + h->shown[s]]
                              : h->shown[s] == y ? VETO_LOSS_DEFAULT_EPSILON : 1.0;
          chosen = a ? a[(gsize) y * k + h->answer]
                        : h->answer == y ? VETO_LOSS_DEFAULT_EPSILON : 1.0;
          if (shown_sum > 0)
            likelihood += tempered[y] / z * chosen / shown_sum;
        }
      total -= log (MAX (likelihood, 1e-300));
    }
  return v->held_out->len ? total / v->held_out->len : 0.0;
}

static float *
held_out_probs (const AnswerValidation *v, VetoModel *model)
{
  guint k = veto_model_get_n_classes (model), n = v->held_out->len;
  g_autofree float *x = g_new (float, (gsize) MAX (n, 1) * v->d);
  float *p = g_new (float, (gsize) MAX (n, 1) * k);

  for (guint i = 0; i < n; i++)
    memcpy (x + (gsize) i * v->d,
            v->X + (gsize) g_array_index (v->held_out, HeldOut, i).row * v->d,
            v->d * sizeof (float));
  veto_model_predict_proba (model, x, n, v->d, p);
  return p;
}

/* Early stopping on held-out complementary answers (no gold): their candidate-aware negative
 * log-likelihood, the generalisation of SCEL to any candidate sets and annotator model. */
static double
validation_answers (gpointer user_data, VetoModel *model)
{
  AnswerValidation *v = user_data;
  g_autofree float *p = held_out_probs (v, model);

  return held_out_nll (v, p, veto_model_get_n_classes (model), 1.0);
}

/* Held-out synthetic CLs (one entry per CL: an item with several appears once for each). */
typedef struct
{
  const float *X;
  guint n_rows;            /* of X */
  guint d;
  GArray *rows;            /* guint dataset row */
  GArray *cls;             /* guint */
  double *q;               /* the loss's Q, rows normalised; NULL: uniform */
  double *q_inv;           /* its inverse (URE); NULL: uniform */
  VetoClCriterion criterion;
  gboolean singular;       /* Q has no inverse: SCEL only */
} ClValidation;

/* The held-out CLs are scored with the loss's Q (rows normalised) and its inverse. A singular
 * Q leaves SCEL only (and no URE accuracy estimate); the URE criterion fails. */
static gboolean
cl_validation_set_q (ClValidation *v, const double *q, guint k, GError **error)
{
  v->q = g_memdup2 (q, sizeof (double) * k * k);
  for (guint y = 0; y < k; y++)
    {
      double total = 0.0;

      for (guint c = 0; c < k; c++)
        total += q[(gsize) y * k + c];
      for (guint c = 0; c < k && total > 0; c++)
        v->q[(gsize) y * k + c] /= total;
    }
  v->q_inv = g_new (double, (gsize) k * k);
  if (veto_loss_matrix_invert (v->q, k, v->q_inv,
                               v->criterion == VETO_CL_CRITERION_URE ? error : NULL))
    return TRUE;
  g_clear_pointer (&v->q_inv, g_free);
  v->singular = TRUE;
  return v->criterion != VETO_CL_CRITERION_URE;
}

static float *
cl_probs (const ClValidation *v, VetoModel *model)
{
  guint k = veto_model_get_n_classes (model), n_out = veto_model_get_n_outputs (model);
  guint n = v->rows->len;
  g_autofree float *outputs = g_new (float, (gsize) MAX (n, 1) * n_out);
  float *p = g_new (float, (gsize) MAX (n, 1) * k);

  veto_model_forward_rows (model, v->X, v->n_rows, v->d, (const guint *) v->rows->data, n,
                           outputs);
  veto_model_outputs_to_proba (model, outputs, n, p);
  return p;
}

/* Early stopping and model selection on held-out synthetic CLs (no gold). */
static double
validation_cls (gpointer user_data, VetoModel *model)
{
  ClValidation *v = user_data;
  g_autofree float *p = cl_probs (v, model);
  guint k = veto_model_get_n_classes (model);

  return v->criterion == VETO_CL_CRITERION_SCEL
             ? veto_loss_scel (p, v->rows->len, k, (const guint *) v->cls->data, v->q)
             : veto_loss_ure_risk (p, v->rows->len, k, (const guint *) v->cls->data, v->q_inv);
}

/* Sets result's estimate to base + sign · mean of n terms (their sum and sum of squares), with
 * a 95% normal interval from the terms' spread (sd_one when there is a single term). */
static void
set_estimate (VetoTrainResult *result, double base, double sign, double sum, double sum2,
              guint n, double sd_one, const char *from)
{
  double mean = sum / n;
  double sd = n > 1 ? sqrt (MAX (sum2 - n * mean * mean, 0.0) / (n - 1)) : sd_one;

  result->estimated_accuracy = base + sign * mean;
  result->estimated_accuracy_low = result->estimated_accuracy - 1.96 * sd / sqrt (n);
  result->estimated_accuracy_high = result->estimated_accuracy + 1.96 * sd / sqrt (n);
  result->estimated_from = from;
  result->estimate_items = n;
}

/* One minus the held-out CLs' URE estimate of the 0-1 risk, with a 95% normal interval from
 * the spread of the per-CL terms. */
static void
cl_accuracy (const ClValidation *v, VetoModel *model, VetoTrainResult *result)
{
  guint k = veto_model_get_n_classes (model), n = v->rows->len;
  g_autofree float *p = cl_probs (v, model);
  double sum = 0.0, sum2 = 0.0;

  for (guint i = 0; i < n; i++)
    {
      double r = veto_loss_ure_risk (p + (gsize) i * k, 1, k,
                                     &g_array_index (v->cls, guint, i), v->q_inv);

      sum += r;
      sum2 += r * r;
    }
  set_estimate (result, 1.0, -1.0, sum, sum2, n, 1.0, "cls");
}

/* Mean over the pool of the model's top probability, its probabilities tempered to the power
 * 1 / temperature and normalised again. */
static double
pool_confidence (const float *X, guint d, VetoModel *model, const VetoDataset *ds,
                 double temperature)
{
  guint k = veto_model_get_n_classes (model), n_pool;
  const guint *pool = veto_dataset_get_split (ds, VETO_SPLIT_POOL, &n_pool);
  g_autofree float *x = g_new (float, (gsize) 1024 * d);
  g_autofree float *p = g_new (float, (gsize) 1024 * k);
  double total = 0.0;

  for (guint start = 0; start < n_pool; start += 1024)
    {
      guint n = MIN (1024, n_pool - start);

      for (guint i = 0; i < n; i++)
        memcpy (x + (gsize) i * d, X + (gsize) pool[start + i] * d, d * sizeof (float));
      veto_model_predict_proba (model, x, n, d, p);
      for (guint i = 0; i < n; i++)
        {
          double z = 0.0, top = 0.0;

          for (guint y = 0; y < k; y++)
            {
              double w = pow (MAX (p[(gsize) i * k + y], 1e-30), 1.0 / temperature);

              z += w;
              top = MAX (top, w);
            }
          total += top / z;
        }
    }
  return n_pool ? total / n_pool : NAN;
}

/* The accuracy a model can be expected to have with no gold: its temperature fitted (golden
 * section on log T in [1/8, 8]) to the held-out answers' likelihood, then its mean top
 * probability over the pool. */
static double
estimate_accuracy (const AnswerValidation *v, VetoModel *model, const VetoDataset *ds)
{
  guint k = veto_model_get_n_classes (model);
  g_autofree float *p = held_out_probs (v, model);
  double lo = log (0.125), hi = log (8.0), golden = (sqrt (5.0) - 1) / 2;

  for (guint iter = 0; iter < 40; iter++)
    {
      double m1 = hi - golden * (hi - lo), m2 = lo + golden * (hi - lo);

      if (held_out_nll (v, p, k, exp (m1)) < held_out_nll (v, p, k, exp (m2)))
        hi = m2;
      else
        lo = m1;
    }
  return pool_confidence (v->X, v->d, model, ds, exp ((lo + hi) / 2));
}

/* The accuracy of the model from the held-out answers asked as gold anchors (random pool
 * items it never trained on), made more precise by the model's own confidence (prediction-
 * powered inference, Angelopoulos et al. 2023): the pool's mean top probability plus the
 * anchors' mean of (right − top probability), with a 95% normal interval from the spread of
 * that difference. FALSE without held-out anchors. */
static gboolean
anchor_accuracy (const AnswerValidation *v, VetoModel *model, const VetoDataset *ds,
                 VetoTrainResult *result)
{
  guint k = veto_model_get_n_classes (model), n = 0;
  g_autofree float *p = held_out_probs (v, model);
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
  double sum = 0.0, sum2 = 0.0;

  for (guint i = 0; i < v->held_out->len; i++)
    {
      const HeldOut *h = &g_array_index (v->held_out, HeldOut, i);
      gint gold = veto_dataset_get_gold (ds, h->row);
      guint best = 0;
      double residual;

      /* an item asked twice counts once */
      if (!h->anchor || gold < 0 || !g_hash_table_add (seen, GUINT_TO_POINTER (h->row + 1)))
        continue;
      for (guint c = 1; c < k; c++)
        if (p[(gsize) i * k + c] > p[(gsize) i * k + best])
          best = c;
      residual = ((gint) best == gold) - p[(gsize) i * k + best];
      sum += residual;
      sum2 += residual * residual;
      n++;
    }
  if (n == 0)
    return FALSE;
  set_estimate (result, pool_confidence (v->X, v->d, model, ds, 1.0), 1.0, sum, sum2, n, 0.5,
                "anchors");
  return TRUE;
}

/* The annotators' choice models (veto_loss_fit_annotators ()) from their complementary answers,
 * with the sets shown, on gold anchors: the campaigns' anchors and the questions asked as anchors
 * (strategy "anchor"), the items whose gold label the project may read for this, once there are
 * VETO_SIM_MIN_ANCHORS_PER_CLASS per class. Model 0 is the pooled one, model j + 1 annotator j's;
 * model_of maps an annotator's name to their model. */
typedef struct
{
  guint n_models;          /* 0: too few anchor answers */
  double *a;               /* n_models K×K */
  GHashTable *model_of;    /* name → model index */
  guint anchor_answers;
  guint own;               /* annotators with a model of their own */
  gint64 *own_ids;         /* own: their store ids */
  double *own_a;           /* own K×K: their models, in that order */
} AnnotatorModels;

static void
annotator_models_clear (AnnotatorModels *m)
{
  g_clear_pointer (&m->a, g_free);
  g_clear_pointer (&m->model_of, g_hash_table_unref);
  g_clear_pointer (&m->own_ids, g_free);
  g_clear_pointer (&m->own_a, g_free);
}

static gboolean refine_annotator_model (VetoStore *store, const VetoDataset *ds,
                                        const VetoTrainSpec *spec, GPtrArray *answers,
                                        const VetoLossChoiceObservation *obs,
                                        const guint *item_of, guint n_obs, const gint *rows,
                                        const gint *gold, guint n_items, double *io_a,
                                        GCancellable *cancellable, GError **error);

static gboolean
collect_anchor_id (const VetoAnnotation *a, gpointer user_data)
{
  g_hash_table_add (user_data, GINT_TO_POINTER (a->id));
  return TRUE;
}

/* The pooled model fitted to the anchors (out->a) refined by every complementary answer
 * (refine_annotator_model (), as simulate's estimated model is), each anchor answer an item of
 * its own whose gold class is known; then each person's own model fitted again to their anchor
 * answers, pulled towards the refined pooled one. The n_anchor anchor answers are those
 * fit_from_anchors () read (anchor_obs, annotator_of, anchor_gold); answers are the ones the
 * training reads. Nothing is refined (*out_refined FALSE) with fewer than min_answers answers,
 * the anchors' included. */
static gboolean
refine_by_cross_fitting (VetoStore *store, const VetoDataset *ds, const VetoTrainSpec *spec,
                         GPtrArray *answers, const VetoLossChoiceObservation *anchor_obs,
                         const guint *annotator_of, const gint *anchor_gold, guint n_anchor,
                         const VetoLossAnnotatorFit *fits, guint min_answers,
                         AnnotatorModels *out, gboolean *out_refined, GCancellable *cancellable,
                         GError **error)
{
  guint k = veto_dataset_get_n_classes (ds);
  g_autoptr (GHashTable) anchor_ids = g_hash_table_new (NULL, NULL);
  g_autoptr (GHashTable) item_index = g_hash_table_new (NULL, NULL);
  g_autoptr (GArray) obs = g_array_new (FALSE, FALSE, sizeof (VetoLossChoiceObservation));
  g_autoptr (GArray) item_of = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (gint));
  g_autoptr (GArray) gold = g_array_new (FALSE, FALSE, sizeof (gint));
  g_autoptr (GPtrArray) sets = g_ptr_array_new_with_free_func (g_free);
  g_autofree VetoLossChoiceObservation *own = g_new (VetoLossChoiceObservation,
                                                     MAX (n_anchor, 1));
  double *pooled = out->a;

  if (!veto_store_foreach_anchor_answer (store, collect_anchor_id, anchor_ids, error))
    return FALSE;
  for (guint t = 0; t < n_anchor; t++)
    {
      VetoLossChoiceObservation o = anchor_obs[t];
      gint none = -1;

      o.truth = NULL;
      g_array_append_val (obs, o);
      g_array_append_val (item_of, t);
      g_array_append_val (rows, none);
      g_array_append_val (gold, anchor_gold[t]);
    }
  for (guint i = 0; i < answers->len; i++)
    {
      const VetoAnnotation *a = answers->pdata[i];
      gint row = veto_dataset_row_of_item (ds, a->item);
      gint cls = class_by_name (ds, a->answer_class);
      guint n_shown, item;
      gboolean named = FALSE;
      guint *shown;
      gpointer index;

      if (a->kind != VETO_KIND_COMPLEMENTARY || row < 0 || cls < 0
          || veto_dataset_get_row_split (ds, row) != VETO_SPLIT_POOL
          || (spec->annotator && g_strcmp0 (spec->annotator, a->annotator) != 0)
          || g_hash_table_contains (anchor_ids, GINT_TO_POINTER (a->id)))
        continue;
      shown = g_new (guint, MAX (a->candidates->len, 1));
      n_shown = shown_classes (ds, a, shown);
      for (guint c = 0; c < n_shown; c++)
        named |= shown[c] == (guint) cls;
      g_ptr_array_add (sets, shown);
      if (n_shown < 2 || !named)
        continue;
      if (!g_hash_table_lookup_extended (item_index, GINT_TO_POINTER (row), NULL, &index))
        {
          gint unknown = -1;

          index = GUINT_TO_POINTER (rows->len);
          g_hash_table_insert (item_index, GINT_TO_POINTER (row), index);
          g_array_append_val (rows, row);
          g_array_append_val (gold, unknown);
        }
      item = GPOINTER_TO_UINT (index);
      g_array_append_val (obs, ((VetoLossChoiceObservation) { shown, n_shown, cls, NULL }));
      g_array_append_val (item_of, item);
    }
  *out_refined = FALSE;
  if (rows->len == n_anchor || obs->len < min_answers)
    return TRUE;
  *out_refined = TRUE;
  if (!refine_annotator_model (store, ds, spec, answers,
                               (const VetoLossChoiceObservation *) obs->data,
                               (const guint *) item_of->data, obs->len,
                               (const gint *) rows->data, (const gint *) gold->data, rows->len,
                               pooled, cancellable, error))
    return FALSE;
  for (guint j = 0; j + 1 < out->n_models; j++)
    {
      double *a = out->a + (gsize) (j + 1) * k * k;
      guint n_own = 0;

      if (!fits[j].own)
        {
          memcpy (a, pooled, sizeof (double) * k * k);
          continue;
        }
      for (guint t = 0; t < n_anchor; t++)
        if (annotator_of[t] == j)
          own[n_own++] = anchor_obs[t];
      if (!veto_loss_fit_annotator_towards (own, n_own, k, pooled, a, NULL, NULL, error))
        return FALSE;
    }
  return TRUE;
}

/* Short of the anchors' fit: one model for everyone, the uniform one refined by EM over every
 * complementary answer (refine_by_cross_fitting (), the n_anchor answers on gold anchors in
 * anchor_obs with their gold class) once there are VETO_SIM_MIN_ANSWERS_FOR_EM in all; before,
 * none (the loss's uniform annotator). */
static gboolean
fit_before_anchors (VetoStore *store, const VetoDataset *ds, const VetoTrainSpec *spec,
                    GPtrArray *answers, const VetoLossChoiceObservation *anchor_obs,
                    const gint *anchor_gold, guint n_anchor, AnnotatorModels *out,
                    GCancellable *cancellable, GError **error)
{
  guint k = veto_dataset_get_n_classes (ds);
  gboolean ok, refined = FALSE;

  /* fewer answers of any kind than EM needs: the store's anchor ids need not be read */
  if (answers->len + n_anchor < VETO_SIM_MIN_ANSWERS_FOR_EM)
    return TRUE;
  out->n_models = 1;
  out->a = g_new (double, (gsize) k * k);
  veto_loss_uniform_annotator (k, out->a);
  ok = refine_by_cross_fitting (store, ds, spec, answers, anchor_obs, NULL, anchor_gold,
                                n_anchor, NULL, VETO_SIM_MIN_ANSWERS_FOR_EM, out, &refined,
                                cancellable, error);
  if (!ok || !refined)
    {
      annotator_models_clear (out);
      out->n_models = 0;
    }
  return ok;
}

/* The annotators' models from the answers on gold anchors (veto_loss_fit_annotators ()); for
 * the candidate-aware loss, then refined by every answer (refine_by_cross_fitting ()). */
static gboolean
fit_from_anchors (VetoStore *store, const VetoDataset *ds, const VetoTrainSpec *spec,
                  GPtrArray *answers, AnnotatorModels *out, GCancellable *cancellable,
                  GError **error)
{
  guint k = veto_dataset_get_n_classes (ds), n = 0;
  VetoStatsLoad load;
  g_autofree VetoLossChoiceObservation *obs = NULL;
  g_autofree guint *annotator_of = NULL;
  g_autofree gint *gold = NULL;
  g_autofree double *truth = g_new0 (double, (gsize) k * k);
  g_autofree VetoLossAnnotatorFit *fits = NULL;
  GPtrArray *names;
  gboolean ok, refined;

  *out = (AnnotatorModels) { 0 };
  if (!veto_stats_load (store, VETO_STATS_LOAD_ANCHOR_ANSWERS, NULL, ds->classes, &load, error))
    return FALSE;
  names = load.annotator_names;
  for (guint y = 0; y < k; y++)
    truth[(gsize) y * k + y] = 1.0;
  obs = g_new (VetoLossChoiceObservation, MAX (load.input.n_answers, 1));
  annotator_of = g_new (guint, MAX (load.input.n_answers, 1));
  gold = g_new (gint, MAX (load.input.n_answers, 1));
  for (gsize i = 0; i < load.input.n_answers; i++)
    {
      const VetoStatsAnswer *a = &load.input.answers[i];

      if (a->shown == NULL)
        continue;
      annotator_of[n] = a->annotator;
      gold[n] = load.input.gold[a->item];
      obs[n++] = (VetoLossChoiceObservation) { a->shown, a->n_shown, a->label,
                                               truth + (gsize) load.input.gold[a->item] * k };
    }
  out->anchor_answers = n;
  /* K² weights need evidence: fitted to a few dozen answers they made the first rounds worse
   * (README: the demo's 1,000 answers, 50 of them anchors), so until then EM alone, from the
   * uniform model */
  if (n < VETO_SIM_MIN_ANCHORS_PER_CLASS * k)
    {
      ok = spec->cl_loss != VETO_LOSS_COMPLEMENTARY_CANDIDATE
           || fit_before_anchors (store, ds, spec, answers, obs, gold, n, out, cancellable,
                                  error);
      veto_stats_load_clear (&load);
      return ok;
    }
  out->n_models = names->len + 1;
  out->a = g_new (double, (gsize) out->n_models * k * k);
  fits = g_new (VetoLossAnnotatorFit, names->len);
  ok = veto_loss_fit_annotators (obs, annotator_of, n, names->len, k, out->a, NULL,
                                 out->a + (gsize) k * k, fits, error)
       && (spec->cl_loss != VETO_LOSS_COMPLEMENTARY_CANDIDATE
           || refine_by_cross_fitting (store, ds, spec, answers, obs, annotator_of, gold, n, fits,
                                       0, out, &refined, cancellable, error));
  if (ok)
    {
      out->model_of = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      out->own_ids = g_new (gint64, names->len);
      out->own_a = g_new (double, (gsize) names->len * k * k);
      for (guint j = 0; j < names->len; j++)
        {
          g_hash_table_insert (out->model_of, g_strdup (names->pdata[j]),
                               GUINT_TO_POINTER (j + 1));
          if (!fits[j].own)
            continue;
          out->own_ids[out->own] = g_array_index (load.annotator_ids, gint64, j);
          memcpy (out->own_a + (gsize) out->own * k * k, out->a + (gsize) (j + 1) * k * k,
                  sizeof (double) * k * k);
          out->own++;
        }
    }
  else
    annotator_models_clear (out);
  veto_stats_load_clear (&load);
  return ok;
}

/* How many classes complementary questions showed: the most any answer saw (all K for an
 * answer without candidates, and when there is none). */
static guint
shown_per_question (GPtrArray *answers, guint k)
{
  guint most = 0;

  for (guint i = 0; i < answers->len; i++)
    {
      const VetoAnnotation *an = answers->pdata[i];

      if (an->kind == VETO_KIND_COMPLEMENTARY)
        most = MAX (most, an->candidates && an->candidates->len > 0 ? an->candidates->len : k);
    }
  return most > 0 ? MIN (most, k) : k;
}

/* A warm start only continues a model of the shape this round needs. */
static gboolean
warm_start_fits (const VetoTrainSpec *spec, guint d, guint k, guint n_heads)
{
  const VetoModel *m = spec->warm_start;

  return m != NULL && veto_model_get_kind (m) == spec->model
         && veto_model_get_n_features (m) == d && veto_model_get_n_classes (m) == k
         && veto_model_get_n_heads (m) == n_heads
         && (spec->model != VETO_MODEL_KIND_MLP
             || veto_model_get_hidden (m) == (spec->hidden ? spec->hidden
                                                           : VETO_MODEL_DEFAULT_HIDDEN));
}

/* Every answer in the store, as the trainings read them. */
static GPtrArray *
read_answers (VetoStore *store, GError **error)
{
  g_autoptr (GPtrArray) answers = g_ptr_array_new_with_free_func (
      (GDestroyNotify) veto_annotation_free);

  if (!veto_store_foreach_annotation (store, FALSE, collect_annotation, answers, error))
    return NULL;
  return g_steal_pointer (&answers);
}

/* veto_sim_train () on the answers already read (given; NULL: read them from the store), so
 * that a training and the trainings it runs inside itself see the same answers. */
static VetoModel *
train_on (VetoStore *store, const VetoDataset *ds, const VetoTrainSpec *spec, GPtrArray *given,
          VetoTrainResult *out_result, GCancellable *cancellable, GError **error)
{
  guint k = veto_dataset_get_n_classes (ds), d = veto_dataset_get_dim (ds), n_pool, n_val;
  const guint *pool = veto_dataset_get_split (ds, VETO_SPLIT_POOL, &n_pool);
  const guint *val_rows = veto_dataset_get_split (ds, VETO_SPLIT_VALIDATION, &n_val);
  const float *X = veto_dataset_get_features (ds);
  g_autoptr (GHashTable) heads = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr (GArray) drawn = g_array_new (FALSE, FALSE, sizeof (DrawnCl));
  g_autoptr (GArray) val_gold_rows = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GArray) held_out = g_array_new (FALSE, FALSE, sizeof (HeldOut));
  AnswerValidation answer_validation = { veto_dataset_get_features (ds),
                                         veto_dataset_get_dim (ds), held_out,
                                         spec->annotator_model };
  ClValidation cl_validation = { veto_dataset_get_features (ds), veto_dataset_get_n (ds),
                                 veto_dataset_get_dim (ds),
                                 g_array_new (FALSE, FALSE, sizeof (guint)),
                                 g_array_new (FALSE, FALSE, sizeof (guint)), NULL, NULL,
                                 spec->cl_criterion, FALSE };
  /* The answers are read once: the passes below must see the same ones even while someone
   * answers (the engine's worker reads while the window writes). */
  g_autoptr (GPtrArray) answers = NULL;
  g_autoptr (VetoModel) model = NULL;
  g_autofree float *x_train = NULL;
  const float *x_rows;
  g_autofree double *q_loss = NULL;
  g_autofree double *q_models = NULL;
  AnnotatorModels fitted = { 0 };
  const double *models;
  guint n_models;
  Units units = { g_array_new (FALSE, FALSE, sizeof (guint)),
                  g_hash_table_new (NULL, NULL) };
  VetoObjective *objective = NULL;
  VetoModelTrainOptions train = spec->train;
  VetoModelTrainReport report = { 0 };
  Validation validation;
  VetoTrainResult result = { 0 };
  gint64 started = g_get_monotonic_time ();
  gboolean ok = FALSE;

  if (k < 2)
    {
      g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                   "%s: a classifier needs at least 2 classes (the project has %u)",
                   veto_store_get_path (store), k);
      goto out;
    }
  if (spec->folds > 0 && spec->supervision == VETO_SUPERVISION_GOLD)
    {
      g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                   "folds hold out complementary labels or answers: train with "
                   "synthetic-complementary or answers supervision");
      goto out;
    }
  if (spec->folds == 1 || (spec->folds > 1 && (spec->fold >= spec->folds || spec->holdout > 0)))
    {
      g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                   "folds: hold out fold 0 to %u of at least 2, without a holdout share "
                   "(fold %u of %u, holdout %g)", spec->folds ? spec->folds - 1 : 0, spec->fold,
                   spec->folds, spec->holdout);
      goto out;
    }
  if (spec->supervision != VETO_SUPERVISION_ANSWERS)
    answers = g_ptr_array_new ();
  else if (given != NULL)
    answers = g_ptr_array_ref (given);
  else if ((answers = read_answers (store, error)) == NULL)
    goto out;
  for (guint i = 0; i < answers->len; i++)
    count_criteria (answers->pdata[i], heads);
  if (spec->annotator_model == NULL && spec->fit_annotator
      && spec->supervision == VETO_SUPERVISION_ANSWERS
      && (spec->cl_loss == VETO_LOSS_COMPLEMENTARY_CANDIDATE
          || (spec->cl_loss == VETO_LOSS_COMPLEMENTARY_FWD && spec->q == NULL)))
    {
      if (!fit_from_anchors (store, ds, spec, answers, &fitted, cancellable, error))
        goto out;
      result.anchor_answers = fitted.anchor_answers;
      result.annotators_fitted = fitted.own;
      if (fitted.n_models > 0)
        result.annotator_model = g_memdup2 (fitted.a, sizeof (double) * k * k);
      if (fitted.own > 0)
        {
          result.own_annotators = g_steal_pointer (&fitted.own_ids);
          result.own_models = g_steal_pointer (&fitted.own_a);
        }
    }
  models = spec->annotator_model ? spec->annotator_model : fitted.a;
  n_models = spec->annotator_model ? 1 : fitted.n_models;
  /* Units first (their number sizes the objective), then the terms. */
  if (spec->supervision == VETO_SUPERVISION_GOLD)
    {
      for (guint i = 0; i < n_pool; i++)
        if (veto_dataset_get_gold (ds, pool[i]) >= 0)
          unit_for_row (&units, pool[i]);
    }
  else if (spec->supervision == VETO_SUPERVISION_SYNTHETIC_CL)
    {
      if (!add_synthetic (ds, spec, &units, drawn, error))
        goto out;
    }
  else
    {
      AnswerLoad numbering = { ds, NULL, &units, heads, spec->annotator, spec->holdout,
                               spec->folds, spec->fold, held_out, NULL, NULL };

      for (guint i = 0; i < answers->len; i++)
        add_answer (answers->pdata[i], &numbering);
    }
  objective = veto_objective_new (MAX (units.rows->len, 1), k, g_hash_table_size (heads));
  if (spec->supervision == VETO_SUPERVISION_GOLD)
    {
      for (guint u = 0; u < units.rows->len; u++)
        if (!veto_objective_add_ordinary (objective, u,
                                          veto_dataset_get_gold (ds, g_array_index (units.rows,
                                                                                    guint, u)),
                                          error))
          goto out;
    }
  else if (spec->supervision == VETO_SUPERVISION_SYNTHETIC_CL)
    {
      for (guint i = 0; i < drawn->len; i++)
        {
          DrawnCl *dc = &g_array_index (drawn, DrawnCl, i);

          if (dc->held_out)
            {
              g_array_append_val (cl_validation.rows, dc->row);
              g_array_append_val (cl_validation.cls, dc->cl);
            }
          else if (!veto_objective_add_complementary (objective, unit_for_row (&units, dc->row),
                                                      dc->cl, NULL, 0, error))
            goto out;
        }
    }
  else
    {
      AnswerLoad al = { ds, objective, &units, heads, spec->annotator, spec->holdout, spec->folds,
                        spec->fold, held_out, spec->annotator_model ? NULL : fitted.model_of,
                        NULL };

      for (guint i = 0; i < answers->len && add_answer (answers->pdata[i], &al); i++)
        ;
      if (al.error)
        {
          g_propagate_error (error, al.error);
          goto out;
        }
    }
  if (units.rows->len == 0)
    {
      g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                   "%s: nothing to train on (no %s in the pool)", veto_store_get_path (store),
                   spec->supervision == VETO_SUPERVISION_ANSWERS ? "answers" : "gold labels");
      goto out;
    }
  if (spec->supervision == VETO_SUPERVISION_SYNTHETIC_CL && spec->estimate_q_from > 0)
    {
      q_loss = estimate_q (ds, spec, drawn, error);
      if (q_loss == NULL)
        goto out;
    }
  else if (spec->q && spec->loss_uses_true_q)
    q_loss = g_memdup2 (spec->q, sizeof (double) * k * k);
  else if (spec->supervision == VETO_SUPERVISION_ANSWERS
           && spec->cl_loss == VETO_LOSS_COMPLEMENTARY_FWD && n_models > 0)
    {
      /* FWD's Q from each annotator's model, for the sets the answers were asked with; the
       * pooled one (model 0) is the objective's own */
      q_models = g_new (double, (gsize) n_models * k * k);
      for (guint m = 0; m < n_models; m++)
        if (!veto_loss_annotator_transition (models + (gsize) m * k * k, k,
                                             shown_per_question (answers, k),
                                             q_models + (gsize) m * k * k, error))
          goto out;
      q_loss = g_memdup2 (q_models, sizeof (double) * k * k);
      if (!veto_objective_set_transitions (objective, q_models, n_models, error))
        goto out;
    }
  if (q_loss && !veto_objective_set_transition (objective, q_loss, error))
    goto out;
  if (!veto_objective_set_complementary_loss (objective, spec->cl_loss, error))
    goto out;
  if (n_models > 0 && !veto_objective_set_annotators (objective, models, n_models, error))
    goto out;
  answer_validation.a = models;

  /* Units are numbered in row order, so on gold labels they are often the dataset's own
   * consecutive rows: those are trained on where they are, not copied. */
  {
    const guint *rows = (const guint *) units.rows->data;
    gboolean consecutive = TRUE;

    for (guint u = 1; u < units.rows->len && consecutive; u++)
      consecutive = rows[u] == rows[0] + u;
    if (consecutive)
      x_rows = X + (gsize) rows[0] * d;
    else
      {
        x_train = g_new (float, (gsize) units.rows->len * d);
        for (guint u = 0; u < units.rows->len; u++)
          memcpy (x_train + (gsize) u * d, X + (gsize) rows[u] * d, d * sizeof (float));
        x_rows = x_train;
      }
  }
  if (cl_validation.rows->len > 0 && q_loss
      && !cl_validation_set_q (&cl_validation, q_loss, k, error))
    goto out;
  for (guint i = 0; i < n_val; i++)
    if (veto_dataset_get_gold (ds, val_rows[i]) >= 0)
      g_array_append_val (val_gold_rows, val_rows[i]);
  if (val_gold_rows->len > 0)
    {
      validation = (Validation) { X, d, (const guint *) val_gold_rows->data, val_gold_rows->len,
                                  ds };
      train.validate = validation_error;
      train.validate_data = &validation;
      result.validation = "gold";
    }
  else if (held_out->len > 0)
    {
      train.validate = validation_answers;
      train.validate_data = &answer_validation;
      result.validation = "answers";
    }
  else if (cl_validation.rows->len > 0)
    {
      train.validate = validation_cls;
      train.validate_data = &cl_validation;
      result.validation = veto_cl_criterion_to_string (spec->cl_criterion);
    }
  else
    result.validation = "none";
  result.held_out = held_out->len + cl_validation.rows->len;
  train.seed = spec->seed;
  if (train.solver == VETO_SOLVER_LBFGS && !lbfgs_suits (spec, objective, units.rows->len))
    train.solver = VETO_SOLVER_ADAMW;
  if (train.solver == VETO_SOLVER_LBFGS && train.l2 == 0)
    train.l2 = LBFGS_L2;
  if (train.max_epochs == 0)
    train.max_epochs = train.solver == VETO_SOLVER_LBFGS
                           ? lbfgs_iterations (units.rows->len)
                           : auto_epochs (units.rows->len, train.batch_size);
  model = warm_start_fits (spec, d, k, g_hash_table_size (heads))
              ? veto_model_copy (spec->warm_start)
              : veto_model_new (spec->model, d, k, g_hash_table_size (heads), spec->hidden);
  if (!veto_model_train (model, x_rows, units.rows->len, d, objective, veto_objective_gather,
                         veto_objective_loss, units.rows->len, &train, &report, cancellable,
                         error))
    goto out;
  result.train_size = units.rows->len;
  for (guint kind = 0; kind < VETO_LOSS_N_KINDS; kind++)
    result.n_terms += veto_objective_get_n_terms (objective, kind);
  result.train_seconds = (g_get_monotonic_time () - started) / 1e6;
  result.epochs = report.epochs;
  result.best_epoch = report.best_epoch;
  result.averaged_epochs = report.averaged;
  result.validation_score = train.validate ? report.score : NAN;
  result.validation_se = NAN;
  result.final_loss = report.loss;
  result.q_used = g_steal_pointer (&q_loss);
  result.estimated_accuracy = NAN;
  result.estimated_accuracy_low = result.estimated_accuracy_high = NAN;
  result.estimated_from = "none";
  if (held_out->len > 0 && !anchor_accuracy (&answer_validation, model, ds, &result))
    {
      result.estimated_accuracy = estimate_accuracy (&answer_validation, model, ds);
      result.estimated_from = "answers";
      result.estimate_items = held_out->len;
    }
  else if (cl_validation.rows->len > 0 && !cl_validation.singular)
    cl_accuracy (&cl_validation, model, &result);
  ok = TRUE;

out:
  annotator_models_clear (&fitted);
  g_clear_pointer (&objective, veto_objective_free);
  g_array_unref (cl_validation.rows);
  g_array_unref (cl_validation.cls);
  g_free (cl_validation.q);
  g_free (cl_validation.q_inv);
  g_array_unref (units.rows);
  g_hash_table_unref (units.unit_of_row);
  if (!ok)
    {
      veto_train_result_clear (&result);
      return NULL;
    }
  if (out_result)
    *out_result = result;
  else
    veto_train_result_clear (&result);
  return g_steal_pointer (&model);
}

VetoModel *
veto_sim_train (VetoStore *store, const VetoDataset *ds, const VetoTrainSpec *spec,
                VetoTrainResult *out_result, GCancellable *cancellable, GError **error)
{
  return train_on (store, ds, spec, NULL, out_result, cancellable, error);
}

/* The two halves veto_sim_cross_fitted_probs () cuts the answered items into. */
#define CROSS_FIT_FOLDS 2

/* veto_sim_cross_fitted_probs () on the answers already read. */
static gboolean
cross_fitted_probs (VetoStore *store, const VetoDataset *ds, const VetoTrainSpec *spec,
                    GPtrArray *answers, const guint *rows, guint n_rows, float *out_probs,
                    GCancellable *cancellable, GError **error)
{
  guint k = veto_dataset_get_n_classes (ds), d = veto_dataset_get_dim (ds);
  const float *X = veto_dataset_get_features (ds);
  g_autofree float *x = g_new (float, (gsize) MAX (n_rows, 1) * d);
  g_autofree float *probs = g_new (float, (gsize) MAX (n_rows, 1) * k);
  g_autofree guint *which = g_new (guint, MAX (n_rows, 1));

  for (guint fold = 0; fold < CROSS_FIT_FOLDS; fold++)
    {
      VetoTrainSpec half = *spec;
      g_autoptr (VetoModel) model = NULL;
      guint n = 0;

      for (guint i = 0; i < n_rows; i++)
        if (fold_of (veto_dataset_item_of_row (ds, rows[i]), CROSS_FIT_FOLDS) == fold)
          {
            memcpy (x + (gsize) n * d, X + (gsize) rows[i] * d, d * sizeof (float));
            which[n++] = i;
          }
      if (n == 0)
        continue;
      /* Every row on this side: the other has nothing of them to learn from, and what knows
       * nothing says the uniform distribution. */
      if (n == n_rows)
        {
          for (gsize j = 0; j < (gsize) n_rows * k; j++)
            out_probs[j] = 1.0f / k;
          continue;
        }
      half.supervision = VETO_SUPERVISION_ANSWERS;
      half.folds = CROSS_FIT_FOLDS;
      half.fold = fold;
      half.holdout = 0;
      half.fit_annotator = FALSE;
      half.warm_start = NULL;
      model = train_on (store, ds, &half, answers, NULL, cancellable, error);
      if (model == NULL)
        return FALSE;
      veto_model_predict_proba (model, x, n, d, probs);
      for (guint j = 0; j < n; j++)
        memcpy (out_probs + (gsize) which[j] * k, probs + (gsize) j * k, k * sizeof (float));
    }
  return TRUE;
}

gboolean
veto_sim_cross_fitted_probs (VetoStore *store, const VetoDataset *ds, const VetoTrainSpec *spec,
                             const guint *rows, guint n_rows, float *out_probs,
                             GCancellable *cancellable, GError **error)
{
  g_autoptr (GPtrArray) answers = NULL;

  g_return_val_if_fail (store != NULL && ds != NULL && spec != NULL, FALSE);
  g_return_val_if_fail (rows != NULL || n_rows == 0, FALSE);
  g_return_val_if_fail (out_probs != NULL || n_rows == 0, FALSE);

  answers = read_answers (store, error);
  return answers != NULL
         && cross_fitted_probs (store, ds, spec, answers, rows, n_rows, out_probs, cancellable,
                                error);
}

/* EM rounds of veto_loss_fit_annotator_em () in veto_sim_refine_annotator_model (). */
#define REFINE_EM_ITERATIONS 3

/* veto_sim_refine_annotator_model () on the answers already read. */
static gboolean
refine_annotator_model (VetoStore *store, const VetoDataset *ds, const VetoTrainSpec *spec,
                        GPtrArray *answers, const VetoLossChoiceObservation *obs,
                        const guint *item_of, guint n_obs, const gint *rows, const gint *gold,
                        guint n_items, double *io_a, GCancellable *cancellable, GError **error)
{
  guint k = veto_dataset_get_n_classes (ds), n_scored = 0;
  g_autofree guint *scored = g_new (guint, MAX (n_items, 1));
  g_autofree guint *scored_rows = g_new (guint, MAX (n_items, 1));
  g_autofree float *probs = NULL;
  g_autofree double *priors = g_new0 (double, (gsize) MAX (n_items, 1) * k);
  VetoTrainSpec half = *spec;

  /* A gold item with a row is scored with the others and its p then replaced: the halves score
   * one batch each, as simulate's figures were measured (a batch of another size rounds
   * differently in the matrix product, and a run's later rounds follow the rounding). */
  for (guint i = 0; i < n_items; i++)
    if (rows[i] >= 0)
      {
        scored_rows[n_scored] = rows[i];
        scored[n_scored++] = i;
      }
    else if (gold[i] < 0)
      {
        g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                     "item %u of the annotator model's EM has neither a gold class nor a row", i);
        return FALSE;
      }
  half.supervision = VETO_SUPERVISION_ANSWERS;
  half.annotator_model = io_a;
  probs = g_new (float, (gsize) MAX (n_scored, 1) * k);
  if (!cross_fitted_probs (store, ds, &half, answers, scored_rows, n_scored, probs, cancellable,
                           error))
    return FALSE;
  for (guint j = 0; j < n_scored; j++)
    for (guint c = 0; c < k; c++)
      priors[(gsize) scored[j] * k + c] = MAX (probs[(gsize) j * k + c], 1e-6);
  for (guint i = 0; i < n_items; i++)
    if (gold[i] >= 0)
      {
        memset (priors + (gsize) i * k, 0, k * sizeof (double));
        priors[(gsize) i * k + gold[i]] = 1.0;
      }
  return veto_loss_fit_annotator_em (obs, item_of, n_obs, priors, n_items, k,
                                     REFINE_EM_ITERATIONS, io_a, NULL, error);
}

gboolean
veto_sim_refine_annotator_model (VetoStore *store, const VetoDataset *ds,
                                 const VetoTrainSpec *spec, const VetoLossChoiceObservation *obs,
                                 const guint *item_of, guint n_obs, const gint *rows,
                                 const gint *gold, guint n_items, double *io_a,
                                 GCancellable *cancellable, GError **error)
{
  g_autoptr (GPtrArray) answers = NULL;

  g_return_val_if_fail (store != NULL && ds != NULL && spec != NULL && io_a != NULL, FALSE);
  g_return_val_if_fail ((obs != NULL && item_of != NULL) || n_obs == 0, FALSE);
  g_return_val_if_fail ((rows != NULL && gold != NULL) || n_items == 0, FALSE);

  answers = read_answers (store, error);
  return answers != NULL
         && refine_annotator_model (store, ds, spec, answers, obs, item_of, n_obs, rows, gold,
                                    n_items, io_a, cancellable, error);
}

void
veto_train_result_add_annotator_models (const VetoTrainResult *result, guint k,
                                        JsonBuilder *b)
{
  g_return_if_fail (result != NULL && b != NULL);

  if (result->annotator_model != NULL)
    veto_json_add_matrix (b, "annotator_model", result->annotator_model, k);
  if (result->own_annotators == NULL)
    return;
  json_builder_set_member_name (b, "own_annotator_models");
  json_builder_begin_array (b);
  for (guint j = 0; j < result->annotators_fitted; j++)
    {
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "annotator_id");
      json_builder_add_int_value (b, result->own_annotators[j]);
      veto_json_add_matrix (b, "weights", result->own_models + (gsize) j * k * k, k);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

/* The people's own models (own_annotator_models; none when node is NULL) into out; FALSE when
 * node is not a list of { annotator_id, K × K weights }. */
static gboolean
read_own_models (JsonNode *node, guint k, VetoRoundAnnotatorModels *out)
{
  JsonArray *entries = node && JSON_NODE_HOLDS_ARRAY (node) ? json_node_get_array (node) : NULL;

  out->own_ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  out->own_models = g_ptr_array_new_with_free_func (g_free);
  if (node == NULL)
    return TRUE;
  if (entries == NULL)
    return FALSE;
  for (guint j = 0; j < json_array_get_length (entries); j++)
    {
      JsonNode *entry = json_array_get_element (entries, j);
      JsonObject *object = JSON_NODE_HOLDS_OBJECT (entry) ? json_node_get_object (entry) : NULL;
      JsonNode *id = object ? json_object_get_member (object, "annotator_id") : NULL;
      g_autofree double *values = NULL;
      guint n = 0;
      gint64 annotator;

      if (id == NULL || !JSON_NODE_HOLDS_VALUE (id) || json_node_get_value_type (id) != G_TYPE_INT64
          || !veto_json_read_square_matrix (json_object_get_member (object, "weights"), k,
                                            VETO_JSON_ENTRIES_WEIGHTS, &values, &n, NULL)
          || n != k)
        return FALSE;
      annotator = json_node_get_int (id);
      g_array_append_val (out->own_ids, annotator);
      g_ptr_array_add (out->own_models, g_steal_pointer (&values));
    }
  return TRUE;
}

void
veto_round_annotator_models_clear (VetoRoundAnnotatorModels *models)
{
  g_clear_pointer (&models->pooled, g_free);
  g_clear_pointer (&models->own_ids, g_array_unref);
  g_clear_pointer (&models->own_models, g_ptr_array_unref);
}

const double *
veto_round_annotator_models_find (const VetoRoundAnnotatorModels *models, gint64 annotator_id)
{
  g_return_val_if_fail (models != NULL, NULL);

  for (guint j = 0; models->own_ids != NULL && j < models->own_ids->len; j++)
    if (g_array_index (models->own_ids, gint64, j) == annotator_id)
      return models->own_models->pdata[j];
  return NULL;
}

gboolean
veto_round_annotator_models_read (JsonObject *metrics, guint k, VetoRoundAnnotatorModels *out,
                                  GError **error)
{
  g_autofree double *pooled = NULL;
  g_autoptr (GError) shape = NULL;
  guint n = 0;

  g_return_val_if_fail (metrics != NULL && out != NULL, FALSE);

  *out = (VetoRoundAnnotatorModels) { 0 };
  if (!json_object_has_member (metrics, "annotator_model"))
    return TRUE;
  if (!veto_json_read_square_matrix (json_object_get_member (metrics, "annotator_model"), k,
                                     VETO_JSON_ENTRIES_WEIGHTS, &pooled, &n, &shape))
    {
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_CORRUPT,
                   "annotator_model is not a square matrix of positive weights with at most %u "
                   "rows (%s)", k, shape->message);
      return FALSE;
    }
  /* fewer classes: trained before classes were added, so not a model of the current ones */
  if (n < k)
    return TRUE;
  if (!read_own_models (json_object_get_member (metrics, "own_annotator_models"), k, out))
    {
      veto_round_annotator_models_clear (out);
      g_set_error (error, VETO_STORE_ERROR, VETO_STORE_ERROR_CORRUPT,
                   "own_annotator_models is not a list of annotator ids with %u×%u matrices of "
                   "positive weights", k, k);
      return FALSE;
    }
  out->pooled = g_steal_pointer (&pooled);
  return TRUE;
}

void
veto_train_candidate_clear (VetoTrainCandidate *candidate)
{
  g_clear_pointer (&candidate->model, veto_model_free);
  veto_train_result_clear (&candidate->result);
}

/* Scores are comparable only when every candidate held out the same data and scored it the
 * same way. */
static gboolean
same_validation (const VetoTrainCandidate *a, const VetoTrainCandidate *b)
{
  return a->spec.supervision == b->spec.supervision && a->spec.holdout == b->spec.holdout
         && a->spec.folds == b->spec.folds
         && a->spec.seed == b->spec.seed && a->spec.q == b->spec.q
         && a->spec.per_item == b->spec.per_item
         && a->spec.estimate_q_from == b->spec.estimate_q_from
         && g_strcmp0 (a->spec.annotator, b->spec.annotator) == 0
         && g_strcmp0 (a->result.validation, b->result.validation) == 0
         && a->result.held_out == b->result.held_out;
}

/* k-fold cross-validation of one candidate: trained once per fold with that fold's CLs held
 * out; its result becomes the folds' mean score, their standard error, the mean kept epoch and
 * the mean accuracy estimate, and its model the one that held out fold 0. */
static gboolean
train_folds (VetoStore *store, VetoTrainCandidate *c, GCancellable *cancellable,
             GError **error)
{
  guint folds = c->spec.folds;
  double sum = 0.0, sum2 = 0.0, epochs = 0.0, estimate = 0.0, half2 = 0.0;
  guint held_out = 0;
  g_autofree double *scores = g_new (double, folds);

  for (guint f = 0; f < folds; f++)
    {
      VetoTrainSpec spec = c->spec;
      VetoTrainResult r = { 0 };
      VetoModel *model;

      spec.fold = f;
      model = veto_sim_train (store, c->dataset, &spec, &r, cancellable, error);
      if (model == NULL)
        return FALSE;
      scores[f] = r.validation_score;
      sum += r.validation_score;
      sum2 += r.validation_score * r.validation_score;
      epochs += r.best_epoch;
      held_out += r.held_out;
      estimate += r.estimated_accuracy;
      half2 += (r.estimated_accuracy_high - r.estimated_accuracy)
               * (r.estimated_accuracy_high - r.estimated_accuracy);
      if (f == 0)
        {
          c->model = model;
          c->result = r;
        }
      else
        {
          veto_model_free (model);
          veto_train_result_clear (&r);
          c->result.train_seconds += r.train_seconds;
        }
    }
  c->result.folds = folds;
  c->result.validation_score = sum / folds;
  c->result.validation_se =
      sqrt (MAX (sum2 - folds * (sum / folds) * (sum / folds), 0.0) / (folds - 1) / folds);
  c->result.best_epoch = (guint) lround (epochs / folds);
  c->result.held_out = held_out;
  c->result.fold_scores = g_steal_pointer (&scores);
  /* the mean of the folds' estimates; its interval treats them as independent */
  c->result.estimated_accuracy = estimate / folds;
  c->result.estimated_accuracy_low = c->result.estimated_accuracy - sqrt (half2) / folds;
  c->result.estimated_accuracy_high = c->result.estimated_accuracy + sqrt (half2) / folds;
  c->result.estimate_items = held_out;
  return TRUE;
}

gboolean
veto_sim_train_select (VetoStore *store, VetoTrainCandidate *candidates, guint n, guint *out_best,
                       GCancellable *cancellable, GError **error)
{
  guint best = 0;

  if (n == 0)
    {
      g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID, "no setting to choose from");
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      VetoTrainCandidate *c = &candidates[i];

      veto_train_candidate_clear (c);
      if (c->spec.folds > 1)
        {
          if (!train_folds (store, c, cancellable, error))
            return FALSE;
        }
      else
        {
          c->model = veto_sim_train (store, c->dataset, &c->spec, &c->result, cancellable,
                                     error);
          if (c->model == NULL)
            return FALSE;
        }
      if (g_strcmp0 (c->result.validation, "none") == 0 || isnan (c->result.validation_score))
        {
          g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                       "%s: nothing to choose a setting by: hold out a share of the answers "
                       "or give the project a validation split with gold labels",
                       veto_store_get_path (store));
          return FALSE;
        }
      if (!same_validation (c, &candidates[0]))
        {
          g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                       "setting %u is scored on other held-out data (%s, %u held out) than the "
                       "first (%s, %u)", i + 1, c->result.validation, c->result.held_out,
                       candidates[0].result.validation, candidates[0].result.held_out);
          return FALSE;
        }
      if (c->result.validation_score < candidates[best].result.validation_score)
        best = i;
    }
  *out_best = best;
  return TRUE;
}

void
veto_evaluation_clear (VetoEvaluation *e)
{
  g_clear_pointer (&e->per_class_accuracy, g_free);
  g_clear_pointer (&e->confusion, g_free);
}

gboolean
veto_sim_evaluate (const VetoDataset *ds, const VetoModel *model, VetoSplit split,
                   const double *cpe_q, VetoEvaluation *out, GError **error)
{
  guint k = veto_dataset_get_n_classes (ds), d = veto_dataset_get_dim (ds), n_rows, n = 0;
  const guint *rows = veto_dataset_get_split (ds, split, &n_rows);
  const float *X = veto_dataset_get_features (ds);
  g_autofree float *x = NULL;
  g_autofree float *p = NULL;
  g_autofree guint *gold = NULL;
  g_autofree guint *pred = NULL;
  g_autofree guint *per_class_n = g_new0 (guint, k);
  guint correct = 0;

  x = g_new (float, (gsize) MAX (n_rows, 1) * d);
  gold = g_new (guint, MAX (n_rows, 1));
  for (guint i = 0; i < n_rows; i++)
    {
      gint y = veto_dataset_get_gold (ds, rows[i]);

      if (y < 0)
        continue;
      memcpy (x + (gsize) n * d, X + (gsize) rows[i] * d, d * sizeof (float));
      gold[n++] = y;
    }
  if (n == 0)
    {
      g_set_error (error, VETO_LOSS_ERROR, VETO_LOSS_ERROR_INVALID,
                   "the %s split has no item with a gold label to evaluate on",
                   veto_split_to_string (split));
      return FALSE;
    }
  p = g_new (float, (gsize) n * k);
  pred = g_new (guint, n);
  veto_model_predict_proba (model, x, n, d, p);
  if (cpe_q)
    veto_loss_cpe_decode (p, n, k, cpe_q, pred);
  else
    for (guint i = 0; i < n; i++)
      {
        guint best = 0;

        for (guint c = 1; c < k; c++)
          if (p[(gsize) i * k + c] > p[(gsize) i * k + best])
            best = c;
        pred[i] = best;
      }
  *out = (VetoEvaluation) { .n = n, .n_classes = k };
  out->confusion = g_new0 (guint, (gsize) k * k);
  out->per_class_accuracy = g_new (double, k);
  for (guint i = 0; i < n; i++)
    {
      out->confusion[(gsize) gold[i] * k + pred[i]]++;
      per_class_n[gold[i]]++;
      correct += pred[i] == gold[i];
    }
  for (guint c = 0; c < k; c++)
    out->per_class_accuracy[c] = per_class_n[c]
                                     ? (double) out->confusion[(gsize) c * k + c] / per_class_n[c]
                                     : NAN;
  out->accuracy = (double) correct / n;
  out->ece = veto_loss_ece (p, n, k, gold, NULL);
  return TRUE;
}

/* Rows are embedded a slice at a time, so that only the embedding is ever held whole. */
#define EMBED_SLICE 4096

static float *
embed_rows (const VetoDataset *ds, const VetoModel *model, const guint *rows, guint n)
{
  guint d = veto_dataset_get_dim (ds), e = veto_model_get_embedding_dim (model);
  const float *X = veto_dataset_get_features (ds);
  float *out = g_new (float, (gsize) MAX (n, 1) * e);
  g_autofree float *slice = g_new (float, (gsize) MIN (MAX (n, 1), EMBED_SLICE) * d);

  for (guint start = 0; start < n; start += EMBED_SLICE)
    {
      guint m = MIN (EMBED_SLICE, n - start);

      for (guint i = 0; i < m; i++)
        memcpy (slice + (gsize) i * d, X + (gsize) rows[start + i] * d, d * sizeof (float));
      veto_model_embed (model, slice, m, d, out + (gsize) start * e);
    }
  return out;
}

gboolean
veto_sim_select_batch (const VetoDataset *ds, const VetoModel *model, VetoActiveStrategy strategy,
                       const VetoActiveOptions *options, const guint *rows, guint n,
                       const float *probs, const float *correctness, const guint *labeled,
                       guint n_labeled, guint batch, guint *out_indices, double *out_scores,
                       GError **error)
{
  VetoActivePool pool = { .n = n, .probs = probs, .n_classes = veto_model_get_n_classes (model),
                          .correctness = correctness };
  g_autofree float *embedding = NULL;
  g_autofree float *labeled_embedding = NULL;

  if (strategy == VETO_ACTIVE_DISTILL && correctness == NULL)
    {
      g_set_error (error, VETO_ACTIVE_ERROR, VETO_ACTIVE_ERROR_MISSING,
                   "the distill strategy needs a teacher (veto simulate --mode distill)");
      return FALSE;
    }
  /* The penultimate layer is the space of coreset, BADGE, density, kmeans-margin and
   * diversity. */
  if (strategy == VETO_ACTIVE_CORESET || strategy == VETO_ACTIVE_BADGE
      || strategy == VETO_ACTIVE_DENSITY || strategy == VETO_ACTIVE_KMEANS_MARGIN
      || (options && options->diversity))
    {
      embedding = embed_rows (ds, model, rows, n);
      labeled_embedding = embed_rows (ds, model, labeled, n_labeled);
      pool.embedding = embedding;
      pool.embedding_dim = veto_model_get_embedding_dim (model);
      pool.labeled_embedding = labeled_embedding;
      pool.n_labeled = n_labeled;
    }
  return veto_active_select (strategy, &pool, batch, options, out_indices, out_scores, error);
}
