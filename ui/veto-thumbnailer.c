/* veto-thumbnailer: item thumbnails decoded off the main thread, kept in an LRU cache. */
#include "veto-thumbnailer.h"

#include "veto-image.h"
#include "veto-store.h"

#define MAX_THREADS 4

struct _VetoThumbnailer
{
  GObject parent_instance;

  char *path;
  guint capacity;
  GMainContext *context;    /* where "ready" is emitted */
  GHashTable *cache;        /* item id → GList link of lru */
  GQueue lru;               /* CacheEntry, most recently used first */
  GHashTable *pending;      /* item id → Job, queued and not delivered */
  GThreadPool *pool;
  GAsyncQueue *connections; /* idle read-only VetoStore connections of the workers */
  guint64 sequence;
};

G_DEFINE_FINAL_TYPE (VetoThumbnailer, veto_thumbnailer, G_TYPE_OBJECT)

enum
{
  SIGNAL_READY,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct
{
  gint64 item;
  GdkTexture *texture; /* NULL: the image could not be read */
} CacheEntry;

/* Shared by the pending table and the pool's queue; cancelled is read by the worker. */
typedef struct
{
  gint64 item;
  guint64 sequence;
  gint cancelled;
} Job;

typedef struct
{
  GWeakRef owner;
  Job *job;
  GBytes *pixels; /* RGB, width × height × 3; NULL when decoding failed */
  guint width;
  guint height;
} Result;

static Job *
job_ref (Job *job)
{
  return g_atomic_rc_box_acquire (job);
}

static void
job_unref (Job *job)
{
  g_atomic_rc_box_release (job);
}

static void
cache_entry_free (CacheEntry *entry)
{
  g_clear_object (&entry->texture);
  g_free (entry);
}

static void
result_free (Result *result)
{
  g_weak_ref_clear (&result->owner);
  job_unref (result->job);
  g_clear_pointer (&result->pixels, g_bytes_unref);
  g_free (result);
}

/* Newest requests first: the tiles on screen now were asked for last. */
static gint
compare_jobs (gconstpointer a, gconstpointer b, gpointer user_data)
{
  const Job *ja = a, *jb = b;

  return ja->sequence < jb->sequence ? 1 : ja->sequence > jb->sequence ? -1 : 0;
}

static VetoImage *
load_image (VetoStore *store, gint64 id, GError **error)
{
  g_autoptr (VetoItem) item = veto_store_get_item (store, id, error);
  g_autofree char *path = NULL;
  g_autofree char *name = NULL;

  if (item == NULL)
    return NULL;
  if (item->pixels)
    return veto_image_new_from_data (item->width, item->height, item->channels,
                                     g_bytes_get_data (item->pixels, NULL));
  path = veto_store_item_file (store, item, error);
  if (path == NULL)
    return NULL;
  name = veto_store_describe_item (store, item);
  /* A large photo is decoded straight at (about) the thumbnail's size where its decoder can. */
  if (MAX (item->width, item->height) > VETO_THUMBNAILER_SIZE)
    {
      double scale = (double) VETO_THUMBNAILER_SIZE / MAX (item->width, item->height);

      return veto_image_load_verified (path, item->sha256, name,
                                       MAX (1, (guint) (item->width * scale + 0.5)),
                                       MAX (1, (guint) (item->height * scale + 0.5)), error);
    }
  return veto_image_load_verified (path, item->sha256, name, 0, 0, error);
}

/* RGB pixels fitting VETO_THUMBNAILER_SIZE: large images box-filtered down, small ones
 * enlarged by a whole factor, pixel for pixel. */
static GBytes *
thumbnail_pixels (const VetoImage *image, guint *out_width, guint *out_height)
{
  g_autoptr (VetoImage) resized = NULL;
  const VetoImage *src = image;
  guint side = MAX (image->width, image->height), factor = 1, width, height;
  guint8 *rgb;

  if (side > VETO_THUMBNAILER_SIZE)
    {
      double scale = (double) VETO_THUMBNAILER_SIZE / side;

      resized = veto_image_resize (image, MAX (1, (guint) (image->width * scale + 0.5)),
                                   MAX (1, (guint) (image->height * scale + 0.5)));
      src = resized;
    }
  else
    factor = VETO_THUMBNAILER_SIZE / side;
  width = src->width * factor;
  height = src->height * factor;
  rgb = g_malloc ((gsize) width * height * 3);
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        const guint8 *p = src->data
                          + ((gsize) (y / factor) * src->width + x / factor) * src->channels;
        guint8 *q = rgb + ((gsize) y * width + x) * 3;

        q[0] = p[0];
        q[1] = src->channels == 3 ? p[1] : p[0];
        q[2] = src->channels == 3 ? p[2] : p[0];
      }
  *out_width = width;
  *out_height = height;
  return g_bytes_new_take (rgb, (gsize) width * height * 3);
}

static void
cache_insert (VetoThumbnailer *self, gint64 item, GdkTexture *texture)
{
  CacheEntry *entry;
  GList *link = g_hash_table_lookup (self->cache, &item);

  if (link != NULL)
    {
      entry = link->data;
      g_set_object (&entry->texture, texture);
      g_queue_unlink (&self->lru, link);
      g_queue_push_head_link (&self->lru, link);
      return;
    }
  entry = g_new0 (CacheEntry, 1);
  entry->item = item;
  entry->texture = texture ? g_object_ref (texture) : NULL;
  g_queue_push_head (&self->lru, entry);
  g_hash_table_insert (self->cache, &entry->item, self->lru.head);
  while (self->lru.length > self->capacity)
    {
      CacheEntry *old = g_queue_pop_tail (&self->lru);

      g_hash_table_remove (self->cache, &old->item);
      cache_entry_free (old);
    }
}

static gboolean
deliver (gpointer data)
{
  Result *result = data;
  g_autoptr (VetoThumbnailer) self = g_weak_ref_get (&result->owner);
  g_autoptr (GdkTexture) texture = NULL;
  gint64 item = result->job->item;

  if (self == NULL)
    return G_SOURCE_REMOVE;
  if (g_hash_table_lookup (self->pending, &item) == result->job)
    g_hash_table_remove (self->pending, &item);
  if (result->pixels)
    texture = gdk_memory_texture_new (result->width, result->height, GDK_MEMORY_R8G8B8,
                                      result->pixels, (gsize) result->width * 3);
  cache_insert (self, item, texture);
  g_signal_emit (self, signals[SIGNAL_READY], 0, item);
  return G_SOURCE_REMOVE;
}

static void
decode (gpointer data, gpointer user_data)
{
  Job *job = data;
  VetoThumbnailer *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoImage) image = NULL;
  VetoStore *store;
  Result *result;

  if (g_atomic_int_get (&job->cancelled))
    {
      job_unref (job);
      return;
    }
  store = g_async_queue_try_pop (self->connections);
  if (store == NULL)
    store = veto_store_open (self->path, TRUE, &error);
  if (store != NULL)
    {
      image = load_image (store, job->item, &error);
      g_async_queue_push (self->connections, store);
    }
  result = g_new0 (Result, 1);
  g_weak_ref_init (&result->owner, self);
  result->job = job;
  if (image != NULL)
    result->pixels = thumbnail_pixels (image, &result->width, &result->height);
  else
    g_debug ("No thumbnail for item %" G_GINT64_FORMAT ": %s", job->item, error->message);
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT_IDLE, deliver, result,
                              (GDestroyNotify) result_free);
}

static void
veto_thumbnailer_dispose (GObject *object)
{
  VetoThumbnailer *self = VETO_THUMBNAILER (object);
  GHashTableIter iter;
  gpointer job;

  /* Every queued job is cancelled, so the workers drop each (freeing it) at once; only the
   * decodes already under way, one image each, are waited for. */
  if (self->pool != NULL)
    {
      g_hash_table_iter_init (&iter, self->pending);
      while (g_hash_table_iter_next (&iter, NULL, &job))
        g_atomic_int_set (&((Job *) job)->cancelled, 1);
      g_thread_pool_free (g_steal_pointer (&self->pool), FALSE, TRUE);
    }
  g_clear_pointer (&self->pending, g_hash_table_unref);
  g_clear_pointer (&self->cache, g_hash_table_unref);
  g_queue_clear_full (&self->lru, (GDestroyNotify) cache_entry_free);

  G_OBJECT_CLASS (veto_thumbnailer_parent_class)->dispose (object);
}

static void
veto_thumbnailer_finalize (GObject *object)
{
  VetoThumbnailer *self = VETO_THUMBNAILER (object);

  g_async_queue_unref (self->connections);
  g_main_context_unref (self->context);
  g_free (self->path);

  G_OBJECT_CLASS (veto_thumbnailer_parent_class)->finalize (object);
}

static void
veto_thumbnailer_class_init (VetoThumbnailerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = veto_thumbnailer_dispose;
  object_class->finalize = veto_thumbnailer_finalize;

  signals[SIGNAL_READY] = g_signal_new ("ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                        0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT64);
}

static void
veto_thumbnailer_init (VetoThumbnailer *self)
{
  self->context = g_main_context_ref_thread_default ();
  self->cache = g_hash_table_new (g_int64_hash, g_int64_equal);
  self->pending = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                         (GDestroyNotify) job_unref);
  self->connections = g_async_queue_new_full ((GDestroyNotify) veto_store_close);
  g_queue_init (&self->lru);
}

VetoThumbnailer *
veto_thumbnailer_new (const char *project_path, guint capacity)
{
  VetoThumbnailer *self;

  g_return_val_if_fail (project_path != NULL, NULL);
  g_return_val_if_fail (capacity > 0, NULL);

  self = g_object_new (VETO_TYPE_THUMBNAILER, NULL);
  self->path = g_strdup (project_path);
  self->capacity = capacity;
  /* Never fails: non-exclusive pools start their threads lazily. */
  self->pool = g_thread_pool_new (decode, self, CLAMP (g_get_num_processors (), 1, MAX_THREADS),
                                  FALSE, NULL);
  g_thread_pool_set_sort_function (self->pool, compare_jobs, NULL);
  return self;
}

gboolean
veto_thumbnailer_lookup (VetoThumbnailer *self, gint64 item, GdkTexture **out_texture)
{
  GList *link;

  g_return_val_if_fail (VETO_IS_THUMBNAILER (self), FALSE);

  link = g_hash_table_lookup (self->cache, &item);
  if (link == NULL)
    return FALSE;
  g_queue_unlink (&self->lru, link);
  g_queue_push_head_link (&self->lru, link);
  *out_texture = ((CacheEntry *) link->data)->texture;
  return TRUE;
}

void
veto_thumbnailer_request (VetoThumbnailer *self, gint64 item)
{
  Job *job;

  g_return_if_fail (VETO_IS_THUMBNAILER (self));

  if (g_hash_table_contains (self->cache, &item) || g_hash_table_contains (self->pending, &item))
    return;
  job = g_atomic_rc_box_new0 (Job);
  job->item = item;
  job->sequence = ++self->sequence;
  g_hash_table_insert (self->pending, &job->item, job);
  g_thread_pool_push (self->pool, job_ref (job), NULL);
}

void
veto_thumbnailer_cancel (VetoThumbnailer *self, gint64 item)
{
  Job *job;

  g_return_if_fail (VETO_IS_THUMBNAILER (self));

  job = g_hash_table_lookup (self->pending, &item);
  if (job == NULL)
    return;
  g_atomic_int_set (&job->cancelled, 1);
  g_hash_table_remove (self->pending, &item);
}

guint
veto_thumbnailer_get_n_cached (VetoThumbnailer *self)
{
  g_return_val_if_fail (VETO_IS_THUMBNAILER (self), 0);

  return self->lru.length;
}

guint
veto_thumbnailer_get_n_pending (VetoThumbnailer *self)
{
  g_return_val_if_fail (VETO_IS_THUMBNAILER (self), 0);

  return g_hash_table_size (self->pending);
}
