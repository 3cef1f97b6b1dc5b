/* veto-server: the lab server's HTTP handlers (libsoup 3), tokens, rate limits and grouped commits. */
#include "veto-server.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <math.h>
#include <string.h>
#include <sys/random.h>

#include "veto-image.h"

/* Nothing a client sends is bigger: an answer is a few dozen bytes. */
#define MAX_BODY 8192
/* Encoded images kept in memory; past this the cache starts again. */
#define MAX_CACHED_IMAGES 8192
#define RESOURCE_ROOT "/io/github/veto/Veto/web/"
/* The WAL is copied into the database (veto_store_checkpoint) once it has grown this much, at
 * most once a second: while a reader (the learner) holds an old snapshot, SQLite cannot start
 * the WAL again, and checkpointing after every sync would only compete with the syncs. */
#define CHECKPOINT_WAL_BYTES (4 << 20)
#define CHECKPOINT_INTERVAL_US G_USEC_PER_SEC
/* The page runs only its own script and style, and talks only to this server. */
#define CSP "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; " \
            "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

typedef struct
{
  double tokens;
  gint64 at_us;
} Bucket;

typedef struct
{
  guint status;
  const char *content_type;
  GBytes *body;
  const char *retry_after;
  gboolean deferred; /* an answer waiting for the commit that acknowledges it */
} Response;

typedef struct
{
  SoupServerMessage *msg;
  Response response;
  guint64 batch;     /* the commit it was in */
} Waiting;

struct _VetoServer
{
  VetoServerOptions options;
  char *campaign;
  SoupServer *soup;
  VetoEngine *learner;  /* owns store and sessions when there is one */
  VetoStore *store;
  VetoSessions *sessions;
  GHashTable *buckets;  /* token hash → Bucket */
  GHashTable *images;   /* item id → GBytes (PNG) */
  GArray *waiting;      /* Waiting: answers in the open transaction */
  GArray *syncing;      /* Waiting: committed, acknowledged once their batch is synced */
  guint commit_source;

  /* The syncer thread makes committed batches durable (veto_store_sync) while the main thread
   * goes on serving; batches grow by themselves while a sync runs. */
  GThread *syncer;
  GMutex lock;
  GCond cond;
  guint64 committed;    /* batches committed (main thread writes) */
  guint64 synced;       /* batches synced (syncer writes) */
  gboolean sync_ok;     /* the last sync worked */
  gboolean stop;
  GSource *notify;      /* the syncer's "synced" on the main context, or NULL */
  /* Checkpoints run on a thread of their own, so that neither the answers' commits (main
   * thread) nor their syncs (syncer) wait for one. */
  GThreadPool *checkpointer;
  gint checkpointing;   /* atomic: one is queued or running */
  gint64 checkpoint_at; /* when the syncer last queued one */
  GMainContext *context;
  VetoStoreClaim *claim; /* the project, exclusively: no other process writes it meanwhile */
};

void
veto_server_options_init (VetoServerOptions *options)
{
  *options = (VetoServerOptions) { .rate = 50, .burst = 200, .learn = TRUE, .idle_timeout = 60 };
}

static void
response_clear (Response *r)
{
  g_clear_pointer (&r->body, g_bytes_unref);
}

/* --- tokens --- */

char *
veto_server_token_hash (const char *token)
{
  return g_compute_checksum_for_string (G_CHECKSUM_SHA256, token, -1);
}

void
veto_server_token_new (char **out_token, char **out_hash)
{
  guint8 bytes[32];
  g_autofree char *b64 = NULL;
  gsize got = 0;

  while (got < sizeof bytes)
    {
      gssize n = getrandom (bytes + got, sizeof bytes - got, 0);

      if (n > 0)
        got += n;
    }
  b64 = g_base64_encode (bytes, sizeof bytes);
  /* URL-safe and without padding: it travels in a URL fragment. */
  g_strdelimit (b64, "+", '-');
  g_strdelimit (b64, "/", '_');
  *strchr (b64, '=') = '\0';
  *out_token = g_steal_pointer (&b64);
  *out_hash = veto_server_token_hash (*out_token);
}

/* --- responses --- */

static void
set_json (Response *r, guint status, JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  gsize length = 0;
  char *text = json_to_string (root, FALSE);

  length = strlen (text);
  r->status = status;
  r->content_type = "application/json";
  r->body = g_bytes_new_take (text, length);
}

static void
set_error (Response *r, guint status, const char *message)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, message);
  json_builder_end_object (b);
  set_json (r, status, b);
}

static guint
sessions_status (const GError *error)
{
  if (error->domain == VETO_SESSIONS_ERROR)
    switch ((VetoSessionsError) error->code)
      {
      case VETO_SESSIONS_ERROR_UNKNOWN:
        return 404;
      case VETO_SESSIONS_ERROR_FORBIDDEN:
        return 403;
      case VETO_SESSIONS_ERROR_INVALID:
        return 422;
      case VETO_SESSIONS_ERROR_NOTHING:
        return 409;
      }
  return 503;
}

static void
set_gerror (Response *r, const GError *error)
{
  set_error (r, sessions_status (error), error->message);
}

/* --- who asks --- */

typedef struct
{
  gint64 annotator;
  char *name;
  gboolean admin;
  char *hash;
} Caller;

static void
caller_clear (Caller *c)
{
  g_clear_pointer (&c->name, g_free);
  g_clear_pointer (&c->hash, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Caller, caller_clear)

static gboolean
authenticate (VetoServer *server, const char *authorization, Caller *out, Response *r)
{
  g_autoptr (GError) error = NULL;

  if (authorization == NULL || g_ascii_strncasecmp (authorization, "Bearer ", 7) != 0
      || authorization[7] == '\0' || strlen (authorization) > 256)
    {
      set_error (r, 401, "a token is needed: Authorization: Bearer TOKEN");
      return FALSE;
    }
  out->hash = veto_server_token_hash (authorization + 7);
  if (!veto_store_find_token (server->store, out->hash, &out->annotator, &out->name, &out->admin,
                              &error))
    {
      set_gerror (r, error);
      return FALSE;
    }
  if (out->annotator == 0)
    {
      set_error (r, 401, "unknown or revoked token");
      return FALSE;
    }
  return TRUE;
}

/* A token bucket per token: a flood is answered 429 once its burst is spent. */
static gboolean
within_rate (VetoServer *server, const char *hash, Response *r)
{
  Bucket *b = g_hash_table_lookup (server->buckets, hash);
  gint64 now = g_get_monotonic_time ();

  if (b == NULL)
    {
      b = g_new (Bucket, 1);
      *b = (Bucket) { server->options.burst, now };
      g_hash_table_insert (server->buckets, g_strdup (hash), b);
    }
  b->tokens = MIN ((double) server->options.burst,
                   b->tokens + (now - b->at_us) * server->options.rate / G_USEC_PER_SEC);
  b->at_us = now;
  if (b->tokens < 1)
    {
      set_error (r, 429, "too many requests: slow down");
      r->retry_after = "1";
      return FALSE;
    }
  b->tokens -= 1;
  return TRUE;
}

/* --- request bodies --- */

/* The body as a JSON object, or an error response (400). */
static JsonObject *
parse_object (const char *body, gsize length, JsonParser **out_parser, Response *r)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (GError) error = NULL;
  JsonNode *root;

  if (body == NULL || length == 0)
    {
      set_error (r, 400, "a JSON object is needed");
      return NULL;
    }
  if (!g_utf8_validate (body, length, NULL)
      || !json_parser_load_from_data (parser, body, length, &error))
    {
      set_error (r, 400, "the body is not valid JSON");
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      set_error (r, 400, "a JSON object is needed");
      return NULL;
    }
  *out_parser = g_steal_pointer (&parser);
  return json_node_get_object (root);
}

/* An integer member: JSON numbers that are whole and within 2^53. */
static gboolean
member_int (JsonObject *o, const char *name, gint64 *out)
{
  JsonNode *n = json_object_get_member (o, name);
  double d;

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n))
    return FALSE;
  if (json_node_get_value_type (n) == G_TYPE_INT64)
    {
      *out = json_node_get_int (n);
      return TRUE;
    }
  if (json_node_get_value_type (n) != G_TYPE_DOUBLE)
    return FALSE;
  d = json_node_get_double (n);
  if (!isfinite (d) || d != floor (d) || fabs (d) > 9007199254740992.0)
    return FALSE;
  *out = (gint64) d;
  return TRUE;
}

static const char *
member_string (JsonObject *o, const char *name)
{
  JsonNode *n = json_object_get_member (o, name);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

/* Answer ids: 8 to 64 characters of letters, digits, '-' and '_' (a UUID fits). */
static gboolean
valid_uid (const char *uid)
{
  gsize n = strlen (uid);

  if (n < 8 || n > 64)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isalnum (uid[i]) && uid[i] != '-' && uid[i] != '_')
      return FALSE;
  return TRUE;
}

/* --- the API --- */

static const char *
class_name (VetoServer *server, gint64 id)
{
  GPtrArray *classes = veto_sessions_get_classes (server->sessions);

  for (guint i = 0; i < classes->len; i++)
    if (((VetoClass *) g_ptr_array_index (classes, i))->id == id)
      return ((VetoClass *) g_ptr_array_index (classes, i))->name;
  return "?";
}

/* The campaign's name, or null in free mode (active learning on the pool). */
static void
add_campaign (VetoServer *server, JsonBuilder *b)
{
  const VetoCampaign *campaign = veto_sessions_get_campaign (server->sessions);

  json_builder_set_member_name (b, "campaign");
  if (campaign)
    json_builder_add_string_value (b, campaign->name);
  else
    json_builder_add_null_value (b);
}

static void
add_status (VetoServer *server, JsonBuilder *b, gint64 annotator)
{
  VetoSessionStatus st;

  veto_sessions_get_status (server->sessions, annotator, &st);
  json_builder_set_member_name (b, "answers");
  json_builder_add_int_value (b, st.answers);
  json_builder_set_member_name (b, "remaining");
  json_builder_add_int_value (b, st.remaining);
  json_builder_set_member_name (b, "seconds_per_answer");
  if (isnan (st.mean_seconds))
    json_builder_add_null_value (b);
  else
    json_builder_add_double_value (b, st.mean_seconds);
}

static void
get_question (VetoServer *server, const Caller *c, Response *r)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) b = NULL;
  g_autofree char *image = NULL;
  const VetoLease *q = veto_sessions_question (server->sessions, c->annotator,
                                               g_get_real_time (), &error);

  if (q == NULL && error)
    {
      set_gerror (r, error);
      return;
    }
  if (q == NULL)
    {
      r->status = 204;
      return;
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_int_value (b, q->id);
  json_builder_set_member_name (b, "kind");
  json_builder_add_string_value (b, veto_answer_kind_to_string (q->kind));
  json_builder_set_member_name (b, "item");
  json_builder_add_int_value (b, q->item);
  image = g_strdup_printf ("/api/image/%" G_GINT64_FORMAT, q->id);
  json_builder_set_member_name (b, "image");
  json_builder_add_string_value (b, image);
  if (q->kind == VETO_KIND_PREFERENCE)
    {
      g_autofree char *right = g_strdup_printf ("%s/right", image);

      json_builder_set_member_name (b, "left");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "item");
      json_builder_add_int_value (b, q->item);
      json_builder_set_member_name (b, "image");
      json_builder_add_string_value (b, image);
      json_builder_end_object (b);
      json_builder_set_member_name (b, "right");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "item");
      json_builder_add_int_value (b, q->right_item);
      json_builder_set_member_name (b, "image");
      json_builder_add_string_value (b, right);
      json_builder_end_object (b);
      json_builder_set_member_name (b, "criterion");
      json_builder_add_string_value (b, q->criterion);
    }
  else
    {
      GPtrArray *classes = veto_sessions_get_classes (server->sessions);
      /* An ordinary question offers every class (its lease lists them when they fit). */
      gboolean all = q->kind == VETO_KIND_ORDINARY && q->n_candidates == 0;
      guint n = all ? classes->len : q->n_candidates;

      json_builder_set_member_name (b, "candidates");
      json_builder_begin_array (b);
      for (guint i = 0; i < n; i++)
        {
          gint64 id = all ? ((VetoClass *) g_ptr_array_index (classes, i))->id
                          : q->candidates[i];

          json_builder_begin_object (b);
          json_builder_set_member_name (b, "id");
          json_builder_add_int_value (b, id);
          json_builder_set_member_name (b, "name");
          json_builder_add_string_value (b, class_name (server, id));
          json_builder_end_object (b);
        }
      json_builder_end_array (b);
    }
  json_builder_set_member_name (b, "flagged");
  json_builder_add_boolean_value (b, q->flagged);
  json_builder_set_member_name (b, "asked_before");
  json_builder_add_int_value (b, q->asked_before);
  add_campaign (server, b);
  add_status (server, b, c->annotator);
  json_builder_end_object (b);
  set_json (r, 200, b);
}

static void
answer_response (Response *r, gint64 annotation, gboolean duplicate)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "answer");
  json_builder_add_int_value (b, annotation);
  json_builder_set_member_name (b, "duplicate");
  json_builder_add_boolean_value (b, duplicate);
  json_builder_end_object (b);
  set_json (r, 200, b);
}

static void
post_answer (VetoServer *server, const Caller *c, const char *body, gsize length, Response *r)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *o = parse_object (body, length, &parser, r);
  VetoSessionAnswer answer = { 0 };
  const char *preferred;
  gint64 annotation = 0;
  gboolean duplicate = FALSE;

  if (o == NULL)
    return;
  if (!member_int (o, "question", &answer.question))
    {
      set_error (r, 400, "\"question\" must be the question's id");
      return;
    }
  preferred = member_string (o, "preferred");
  if (preferred)
    {
      if (g_str_equal (preferred, "left"))
        answer.preferred = VETO_PREFER_LEFT;
      else if (g_str_equal (preferred, "right"))
        answer.preferred = VETO_PREFER_RIGHT;
      else if (g_str_equal (preferred, "equal") || g_str_equal (preferred, "tie"))
        answer.preferred = VETO_PREFER_TIE;
      else
        {
          set_error (r, 400, "\"preferred\" must be \"left\", \"right\" or \"equal\"");
          return;
        }
    }
  else if (!member_int (o, "class", &answer.answer_class))
    {
      set_error (r, 400, "\"class\" (a class id) or \"preferred\" is needed");
      return;
    }
  else
    answer.preferred = (VetoPreferred) -1;
  if (json_object_has_member (o, "answer_id"))
    {
      answer.answer_uid = member_string (o, "answer_id");
      if (answer.answer_uid == NULL || !valid_uid (answer.answer_uid))
        {
          set_error (r, 400, "\"answer_id\" must be 8 to 64 letters, digits, '-' or '_'");
          return;
        }
    }
  if (!veto_sessions_answer (server->sessions, c->annotator, &answer, g_get_real_time (),
                             &annotation, &duplicate, &error))
    {
      set_gerror (r, error);
      return;
    }
  answer_response (r, annotation, duplicate);
  /* Even a duplicate waits: its first copy may be committed but not yet synced. */
  r->deferred = TRUE;
}

/* skip and flag: {"question": ID}. */
static void
post_question_action (VetoServer *server, const Caller *c, gboolean skip, const char *body,
                      gsize length, Response *r)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) b = NULL;
  JsonObject *o = parse_object (body, length, &parser, r);
  gint64 question;
  gboolean ok;

  if (o == NULL)
    return;
  if (!member_int (o, "question", &question))
    {
      set_error (r, 400, "\"question\" must be the question's id");
      return;
    }
  ok = skip ? veto_sessions_skip (server->sessions, c->annotator, question, g_get_real_time (),
                                  &error)
            : veto_sessions_flag (server->sessions, c->annotator, question, g_get_real_time (),
                                  &error);
  if (!ok)
    {
      set_gerror (r, error);
      return;
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, skip ? "skipped" : "flagged");
  json_builder_add_int_value (b, question);
  json_builder_end_object (b);
  set_json (r, 200, b);
}

static void
post_undo (VetoServer *server, const Caller *c, Response *r)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonBuilder) b = NULL;
  gint64 undone = 0;

  if (!veto_sessions_undo (server->sessions, c->annotator, g_get_real_time (), &undone, &error))
    {
      set_gerror (r, error);
      return;
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "undone");
  json_builder_add_int_value (b, undone);
  json_builder_end_object (b);
  set_json (r, 200, b);
}

static void
get_me (VetoServer *server, const Caller *c, Response *r)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, c->name);
  json_builder_set_member_name (b, "admin");
  json_builder_add_boolean_value (b, c->admin);
  add_campaign (server, b);
  add_status (server, b, c->annotator);
  json_builder_end_object (b);
  set_json (r, 200, b);
}

static void
get_progress (VetoServer *server, Response *r)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  const VetoCampaign *campaign = veto_sessions_get_campaign (server->sessions);
  VetoSessionsProgress p;

  veto_sessions_expire (server->sessions, g_get_real_time ());
  veto_sessions_get_progress (server->sessions, &p);
  json_builder_begin_object (b);
  add_campaign (server, b);
  json_builder_set_member_name (b, "per_item");
  json_builder_add_int_value (b, campaign ? campaign->per_item : 1);
  json_builder_set_member_name (b, "items");
  json_builder_add_int_value (b, p.items);
  json_builder_set_member_name (b, "answers");
  json_builder_add_int_value (b, p.answers);
  json_builder_set_member_name (b, "complete");
  json_builder_add_int_value (b, p.complete);
  json_builder_set_member_name (b, "leased");
  json_builder_add_int_value (b, p.leased);
  json_builder_set_member_name (b, "missing");
  json_builder_add_int_value (b, p.missing);
  if (server->learner)
    {
      VetoEngineStatus st;

      veto_engine_get_status (server->learner, &st);
      json_builder_set_member_name (b, "model_version");
      json_builder_add_int_value (b, st.model_version);
      json_builder_set_member_name (b, "estimated_accuracy");
      if (isnan (st.estimated_accuracy))
        json_builder_add_null_value (b);
      else
        json_builder_add_double_value (b, st.estimated_accuracy);
    }
  json_builder_end_object (b);
  set_json (r, 200, b);
}

static void
get_stats (VetoServer *server, Response *r)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) stats = veto_store_list_annotator_stats (server->store, &error);
  g_autoptr (JsonBuilder) b = NULL;

  if (stats == NULL)
    {
      set_gerror (r, error);
      return;
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "annotators");
  json_builder_begin_array (b);
  for (guint i = 0; i < stats->len; i++)
    {
      const VetoAnnotatorStats *s = g_ptr_array_index (stats, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, s->name);
      json_builder_set_member_name (b, "kind");
      json_builder_add_string_value (b, veto_annotator_kind_to_string (s->kind));
      json_builder_set_member_name (b, "answers");
      json_builder_add_int_value (b, s->answers);
      json_builder_set_member_name (b, "mean_seconds");
      if (isnan (s->mean_seconds))
        json_builder_add_null_value (b);
      else
        json_builder_add_double_value (b, s->mean_seconds);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  set_json (r, 200, b);
}

/* An item as PNG at its own size: the page scales it up with crisp pixels. */
static GBytes *
encode_item (VetoServer *server, gint64 item_id, GError **error)
{
  g_autoptr (VetoItem) item = veto_store_get_item (server->store, item_id, error);
  g_autoptr (VetoImage) image = NULL;
  g_autoptr (GdkPixbuf) pixbuf = NULL;
  gchar *png = NULL;
  gsize png_size = 0;

  if (item == NULL)
    return NULL;
  if (item->pixels)
    {
      gsize n = 0;
      const guint8 *data = g_bytes_get_data (item->pixels, &n);

      if (n != (gsize) item->width * item->height * item->channels)
        {
          g_set_error_literal (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE,
                               "the item's pixels do not match its size");
          return NULL;
        }
      image = veto_image_new_from_data (item->width, item->height, item->channels, data);
    }
  else
    {
      /* The file's bytes must have the row's sha256: a path edited to name another file (an
       * image of the project, a link out of its folder) is refused, never served. */
      g_autofree char *path = veto_store_item_file (server->store, item, error);
      g_autofree char *name = NULL;

      if (path == NULL)
        return NULL;
      name = veto_store_describe_item (server->store, item);
      image = veto_image_load_verified (path, item->sha256, name, 0, 0, error);
      if (image == NULL)
        return NULL;
    }
  pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, image->width, image->height);
  for (guint y = 0; y < image->height; y++)
    {
      guint8 *row = gdk_pixbuf_get_pixels (pixbuf) + y * gdk_pixbuf_get_rowstride (pixbuf);

      for (guint x = 0; x < image->width; x++)
        for (guint c = 0; c < 3; c++)
          row[x * 3 + c] = image->data[(y * image->width + x) * image->channels
                                       + (image->channels == 3 ? c : 0)];
    }
  if (!gdk_pixbuf_save_to_buffer (pixbuf, &png, &png_size, "png", error, NULL))
    return NULL;
  return g_bytes_new_take (png, png_size);
}

/* /api/image/QUESTION[/right]: only the asker's own live questions. */
static void
get_image (VetoServer *server, const Caller *c, const char *rest, Response *r)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) parts = g_strsplit (rest, "/", 3);
  guint n = g_strv_length (parts);
  const VetoLease *q;
  gint64 question = 0, item;
  GBytes *png;
  char *end = NULL;

  if (n >= 1 && parts[0][0] != '\0')
    question = g_ascii_strtoll (parts[0], &end, 10);
  if (question <= 0 || end == NULL || *end != '\0' || n > 2
      || (n == 2 && !g_str_equal (parts[1], "right")))
    {
      set_error (r, 404, "no such image");
      return;
    }
  q = veto_sessions_lookup (server->sessions, c->annotator, question, g_get_real_time (), &error);
  if (q == NULL)
    {
      set_gerror (r, error);
      return;
    }
  if (n == 2 && q->kind != VETO_KIND_PREFERENCE)
    {
      set_error (r, 404, "no such image");
      return;
    }
  item = n == 2 ? q->right_item : q->item;
  png = g_hash_table_lookup (server->images, &item);
  if (png == NULL)
    {
      png = encode_item (server, item, &error);
      if (png == NULL)
        {
          set_error (r, 500, error->message);
          return;
        }
      if (g_hash_table_size (server->images) >= MAX_CACHED_IMAGES)
        g_hash_table_remove_all (server->images);
      g_hash_table_insert (server->images, g_memdup2 (&item, sizeof item), png);
    }
  r->status = 200;
  r->content_type = "image/png";
  r->body = g_bytes_ref (png);
}

/* The page: a fixed set of names in the GResource; nothing else is reachable. */
static void
get_static (const char *name, Response *r)
{
  static const struct
  {
    const char *name;
    const char *type;
  } files[] = {
    { "index.html", "text/html; charset=utf-8" },
    { "app.js", "text/javascript; charset=utf-8" },
    { "style.css", "text/css; charset=utf-8" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    if (g_str_equal (name, files[i].name))
      {
        g_autofree char *path = g_strconcat (RESOURCE_ROOT, name, NULL);

        r->body = g_resources_lookup_data (path, G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
        if (r->body == NULL)
          break;
        r->status = 200;
        r->content_type = files[i].type;
        return;
      }
  set_error (r, 404, "no such file");
}

static gboolean
is_method (const char *method, const char *want, Response *r)
{
  if (g_str_equal (method, want))
    return TRUE;
  set_error (r, 405, "method not allowed");
  return FALSE;
}

static void
dispatch (VetoServer *server, const char *method, const char *path, const char *authorization,
          const char *body, gsize length, Response *r)
{
  g_auto (Caller) caller = { 0 };

  if (g_str_equal (path, "/") || g_str_equal (path, "/index.html"))
    {
      if (is_method (method, "GET", r))
        get_static ("index.html", r);
      return;
    }
  if (g_str_has_prefix (path, "/static/"))
    {
      if (is_method (method, "GET", r))
        get_static (path + strlen ("/static/"), r);
      return;
    }
  if (!g_str_has_prefix (path, "/api/"))
    {
      set_error (r, 404, "not found");
      return;
    }
  if (length > MAX_BODY)
    {
      set_error (r, 413, "the request body is too large");
      return;
    }
  if (!authenticate (server, authorization, &caller, r) || !within_rate (server, caller.hash, r))
    return;
  path += strlen ("/api/");
  if (g_str_equal (path, "question"))
    {
      if (is_method (method, "GET", r))
        get_question (server, &caller, r);
    }
  else if (g_str_equal (path, "answer"))
    {
      if (is_method (method, "POST", r))
        post_answer (server, &caller, body, length, r);
    }
  else if (g_str_equal (path, "skip") || g_str_equal (path, "flag"))
    {
      if (is_method (method, "POST", r))
        post_question_action (server, &caller, g_str_equal (path, "skip"), body, length, r);
    }
  else if (g_str_equal (path, "undo"))
    {
      if (is_method (method, "POST", r))
        post_undo (server, &caller, r);
    }
  else if (g_str_equal (path, "me"))
    {
      if (is_method (method, "GET", r))
        get_me (server, &caller, r);
    }
  else if (g_str_equal (path, "progress") || g_str_equal (path, "stats"))
    {
      if (!caller.admin)
        set_error (r, 403, "an admin token is needed");
      else if (is_method (method, "GET", r))
        {
          if (g_str_equal (path, "progress"))
            get_progress (server, r);
          else
            get_stats (server, r);
        }
    }
  else if (g_str_has_prefix (path, "image/"))
    {
      if (is_method (method, "GET", r))
        get_image (server, &caller, path + strlen ("image/"), r);
    }
  else
    set_error (r, 404, "not found");
}

/* --- libsoup --- */

/* libsoup 3.2 drops the Content-Length of a 204 as it writes the headers (RFC 7230 forbids one
 * there), and then takes a response without a length for one that ends at EOF, so it closes
 * the connection after every 204 ("nothing left to ask"). A 204 has no body by definition:
 * saying so once the headers are out keeps the connection alive. */
static void
no_content_keeps_alive (SoupServerMessage *msg, gpointer user_data)
{
  soup_message_headers_set_encoding (soup_server_message_get_response_headers (msg),
                                     SOUP_ENCODING_NONE);
}

static void
send_response (SoupServerMessage *msg, Response *r)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (h, "Content-Security-Policy", CSP);
  soup_message_headers_replace (h, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (h, "Referrer-Policy", "no-referrer");
  soup_message_headers_replace (h, "Cache-Control", "no-store");
  soup_message_headers_replace (h, "X-Frame-Options", "DENY");
  if (r->status == 401)
    soup_message_headers_replace (h, "WWW-Authenticate", "Bearer realm=\"veto\"");
  if (r->retry_after)
    soup_message_headers_replace (h, "Retry-After", r->retry_after);
  soup_server_message_set_status (msg, r->status, NULL);
  if (r->status == 204)
    g_signal_connect (msg, "wrote-headers", G_CALLBACK (no_content_keeps_alive), NULL);
  if (r->body)
    {
      gsize n = 0;
      gconstpointer data = g_bytes_get_data (r->body, &n);

      soup_server_message_set_response (msg, r->content_type, SOUP_MEMORY_COPY, data, n);
    }
}

static void
respond_waiting (Waiting *w, guint status, const char *problem)
{
  if (status != 200)
    {
      response_clear (&w->response);
      set_error (&w->response, status, problem);
    }
  send_response (w->msg, &w->response);
  soup_server_message_unpause (w->msg);
  response_clear (&w->response);
  g_object_unref (w->msg);
}

/* Commits the answers written since the last commit as one batch and hands it to the syncer;
 * on failure none of them is acknowledged. */
static void
commit_waiting (VetoServer *server)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = veto_sessions_commit (server->sessions, &error);
  guint64 batch;

  if (!ok)
    {
      for (guint i = 0; i < server->waiting->len; i++)
        respond_waiting (&g_array_index (server->waiting, Waiting, i), 503, error->message);
      g_array_set_size (server->waiting, 0);
      return;
    }
  if (server->waiting->len == 0)
    return;
  if (server->learner)
    veto_engine_note_answers (server->learner, server->waiting->len);
  g_mutex_lock (&server->lock);
  batch = ++server->committed;
  g_cond_signal (&server->cond);
  g_mutex_unlock (&server->lock);
  for (guint i = 0; i < server->waiting->len; i++)
    g_array_index (server->waiting, Waiting, i).batch = batch;
  g_array_append_vals (server->syncing, server->waiting->data, server->waiting->len);
  g_array_set_size (server->waiting, 0);
}

/* Acknowledges every answer whose batch is on disk now. */
static void
acknowledge_synced (VetoServer *server, guint64 synced, gboolean ok)
{
  guint done = 0;

  while (done < server->syncing->len
         && g_array_index (server->syncing, Waiting, done).batch <= synced)
    respond_waiting (&g_array_index (server->syncing, Waiting, done++), ok ? 200 : 503,
                     "the answer could not be made durable; send it again");
  g_array_remove_range (server->syncing, 0, done);
}

static gboolean
synced_on_main (gpointer data)
{
  VetoServer *server = data;
  guint64 synced;
  gboolean ok;

  g_mutex_lock (&server->lock);
  synced = server->synced;
  ok = server->sync_ok;
  g_clear_pointer (&server->notify, g_source_unref);
  g_mutex_unlock (&server->lock);
  acknowledge_synced (server, synced, ok);
  return G_SOURCE_REMOVE;
}

static gpointer
syncer_main (gpointer data)
{
  VetoServer *server = data;

  g_mutex_lock (&server->lock);
  for (;;)
    {
      guint64 target;
      gboolean ok;

      while (!server->stop && server->synced >= server->committed)
        g_cond_wait (&server->cond, &server->lock);
      if (server->stop)
        break;
      target = server->committed;
      g_mutex_unlock (&server->lock);
      ok = veto_store_sync (server->store, NULL);
      if (g_get_monotonic_time () - server->checkpoint_at >= CHECKPOINT_INTERVAL_US
          && g_atomic_int_compare_and_exchange (&server->checkpointing, 0, 1))
        {
          server->checkpoint_at = g_get_monotonic_time ();
          g_thread_pool_push (server->checkpointer, server, NULL);
        }
      g_mutex_lock (&server->lock);
      server->synced = target;
      server->sync_ok = ok;
      if (server->notify == NULL)
        {
          server->notify = g_idle_source_new ();
          g_source_set_priority (server->notify, G_PRIORITY_DEFAULT);
          g_source_set_callback (server->notify, synced_on_main, server, NULL);
          g_source_attach (server->notify, server->context);
        }
    }
  g_mutex_unlock (&server->lock);
  return NULL;
}

/* A failed checkpoint only leaves the WAL longer (every commit is in it, synced): the next
 * one tries again. */
static void
checkpoint_main (gpointer data, gpointer user_data)
{
  VetoServer *server = data;

  veto_store_checkpoint (server->store, CHECKPOINT_WAL_BYTES, NULL);
  g_atomic_int_set (&server->checkpointing, 0);
}

static gboolean
commit_idle (gpointer data)
{
  VetoServer *server = data;

  server->commit_source = 0;
  commit_waiting (server);
  return G_SOURCE_REMOVE;
}

static void
handle_message (SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer user_data)
{
  VetoServer *server = user_data;
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  SoupMessageBody *body = soup_server_message_get_request_body (msg);
  Response r = { 0 };

  /* Refused from its headers already (got_headers). */
  if (soup_server_message_get_status (msg) != 0)
    return;
  dispatch (server, soup_server_message_get_method (msg), path,
            soup_message_headers_get_one (h, "Authorization"), body ? body->data : NULL,
            body ? (gsize) body->length : 0, &r);
  if (r.deferred)
    {
      Waiting w = { g_object_ref (msg), r };

      g_array_append_val (server->waiting, w);
      soup_server_message_pause (msg);
    }
  else
    {
      send_response (msg, &r);
      response_clear (&r);
    }
  /* Answers (and questions handed out) of the same turn of the main loop share one commit. */
  if (server->commit_source == 0
      && (server->waiting->len > 0 || veto_sessions_pending (server->sessions)))
    {
      GSource *idle = g_idle_source_new ();

      g_source_set_priority (idle, G_PRIORITY_DEFAULT);
      g_source_set_callback (idle, commit_idle, server, NULL);
      server->commit_source = g_source_attach (idle, NULL);
      g_source_unref (idle);
    }
}

/* A declared body over the cap is refused, and so is a body of unknown length (chunked): libsoup
 * still reads what the client sends, but keeps none of it in memory. */
static void
got_headers (SoupServerMessage *msg, gpointer user_data)
{
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  SoupEncoding encoding = soup_message_headers_get_encoding (h);
  Response r = { 0 };

  if (encoding == SOUP_ENCODING_CONTENT_LENGTH
      && soup_message_headers_get_content_length (h) > MAX_BODY)
    set_error (&r, 413, "the request body is too large");
  else if (encoding != SOUP_ENCODING_CONTENT_LENGTH && encoding != SOUP_ENCODING_NONE)
    set_error (&r, 411, "a request body needs a Content-Length");
  else
    return;
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  send_response (msg, &r);
  response_clear (&r);
}

/* libsoup 3 has no timeout of its own for a server's connections. Each connection gets
 * idle_timeout to send a request whole (headers and body), counted from when it connects or from
 * its previous response, and again from the first bytes of the request: an idle keep-alive
 * connection and a request trickled in a byte at a time (slowloris) are both closed. The
 * deadline hangs on the connection's socket, so it goes with the connection. */
#define DEADLINE_KEY "veto-deadline"

static gboolean
connection_overdue (gpointer data)
{
  /* libsoup reads the end of the stream next and drops the connection; the client sees it
   * closed. */
  g_socket_shutdown (data, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

static void
deadline_free (gpointer data)
{
  g_source_destroy (data);
  g_source_unref (data);
}

/* Starts (or starts again) the connection's deadline; seconds 0 ends it. */
static void
set_deadline (VetoServer *server, SoupServerMessage *msg, guint seconds)
{
  GSocket *socket = soup_server_message_get_socket (msg);
  GSource *deadline;

  if (socket == NULL)
    return;
  if (seconds == 0)
    {
      g_object_set_data (G_OBJECT (socket), DEADLINE_KEY, NULL);
      return;
    }
  deadline = g_timeout_source_new_seconds (seconds);
  g_source_set_callback (deadline, connection_overdue, socket, NULL);
  g_source_attach (deadline, server->context);
  g_object_set_data_full (G_OBJECT (socket), DEADLINE_KEY, deadline, deadline_free);
}

static void
request_started (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  VetoServer *server = user_data;

  set_deadline (server, msg, server->options.idle_timeout);
  g_signal_connect (msg, "got-headers", G_CALLBACK (got_headers), NULL);
}

static void
request_read (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  set_deadline (user_data, msg, 0);
}

static void
request_finished (SoupServer *soup, SoupServerMessage *msg, gpointer user_data)
{
  VetoServer *server = user_data;

  set_deadline (server, msg, server->options.idle_timeout);
}

guint
veto_server_handle (VetoServer *server, const char *method, const char *path,
                    const char *authorization, const char *body, gsize body_length,
                    GBytes **out_body)
{
  Response r = { 0 };
  guint status;

  dispatch (server, method, path, authorization, body, body_length, &r);
  {
    g_autoptr (GError) error = NULL;

    if ((!veto_sessions_commit (server->sessions, &error)
         || (r.deferred && !veto_store_sync (server->store, &error)))
        && r.deferred)
      {
        response_clear (&r);
        set_error (&r, 503, error->message);
      }
  }
  status = r.status;
  if (out_body)
    *out_body = r.body ? g_bytes_ref (r.body) : g_bytes_new (NULL, 0);
  response_clear (&r);
  return status;
}

/* The learner: the engine's worker, on the project's one writing connection (the engine's), and
 * the sessions it orders: the campaign's, or free active learning on the pool when none is open
 * and none is named. */
static gboolean
start_learner (VetoServer *server, const char *project_path, GError **error)
{
  VetoEngineOptions eo;

  veto_engine_options_init (&eo);
  eo.learner_only = TRUE;
  eo.any_campaign = TRUE;
  eo.campaign_name = server->campaign;
  eo.lease_seconds = server->options.lease_seconds;
  server->learner = veto_engine_new (project_path, &eo, error);
  if (server->learner == NULL)
    return FALSE;
  server->store = veto_engine_get_store (server->learner);
  server->sessions = veto_engine_get_sessions (server->learner);
  return TRUE;
}

VetoServer *
veto_server_new (const char *project_path, const VetoServerOptions *options, GError **error)
{
  g_autoptr (VetoServer) server = g_new0 (VetoServer, 1);
  VetoSessionsOptions so;

  server->options = *options;
  if (server->options.rate <= 0)
    server->options.rate = 50;
  if (server->options.burst == 0)
    server->options.burst = 200;
  if (server->options.idle_timeout == 0)
    server->options.idle_timeout = 60;
  server->campaign = g_strdup (options->campaign);
  server->options.campaign = server->campaign;
  server->buckets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  server->images = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                          (GDestroyNotify) g_bytes_unref);
  server->waiting = g_array_new (FALSE, FALSE, sizeof (Waiting));
  server->syncing = g_array_new (FALSE, FALSE, sizeof (Waiting));
  g_mutex_init (&server->lock);
  g_cond_init (&server->cond);
  server->context = g_main_context_ref_thread_default ();
  /* Before the project is opened: the store's own claim then shares this one. */
  server->claim = veto_store_claim (project_path, VETO_STORE_CLAIM_SERVE, error);
  if (server->claim == NULL)
    return NULL;
  if (options->learn ? !start_learner (server, project_path, error)
                     : (server->store = veto_store_open (project_path, FALSE, error)) == NULL)
    return NULL;
  if (!veto_store_set_deferred_sync (server->store, TRUE, error))
    return NULL;
  if (server->learner == NULL)
    {
      veto_sessions_options_init (&so);
      so.campaign = server->campaign;
      if (options->lease_seconds)
        so.lease_seconds = options->lease_seconds;
      so.seed = g_get_real_time ();
      server->sessions = veto_sessions_new (server->store, &so, error);
      if (server->sessions == NULL)
        return NULL;
    }
  server->checkpointer = g_thread_pool_new (checkpoint_main, NULL, 1, FALSE, NULL);
  server->syncer = g_thread_new ("veto-sync", syncer_main, server);
  return g_steal_pointer (&server);
}

gboolean
veto_server_listen (VetoServer *server, const char *host, guint port, char **out_uri,
                    GError **error)
{
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (host);
  g_autoptr (GSocketAddress) socket_address = NULL;
  GSList *uris;
  GUri *uri;

  if (address == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s is not an IP address to listen on", host);
      return FALSE;
    }
  server->soup = soup_server_new ("server-header", "veto", NULL);
  soup_server_add_handler (server->soup, NULL, handle_message, server, NULL);
  g_signal_connect (server->soup, "request-started", G_CALLBACK (request_started), server);
  g_signal_connect (server->soup, "request-read", G_CALLBACK (request_read), server);
  g_signal_connect (server->soup, "request-finished", G_CALLBACK (request_finished), server);
  socket_address = g_inet_socket_address_new (address, port);
  if (!soup_server_listen (server->soup, socket_address, 0, error))
    return FALSE;
  uris = soup_server_get_uris (server->soup);
  uri = uris->data;
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    *out_uri = g_strdup_printf ("http://[%s]:%d/", host, g_uri_get_port (uri));
  else
    *out_uri = g_strdup_printf ("http://%s:%d/", host, g_uri_get_port (uri));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return TRUE;
}

void
veto_server_free (VetoServer *server)
{
  if (server == NULL)
    return;
  if (server->commit_source)
    g_source_remove (server->commit_source);
  if (server->syncer)
    {
      g_mutex_lock (&server->lock);
      server->stop = TRUE;
      g_cond_signal (&server->cond);
      g_mutex_unlock (&server->lock);
      g_thread_join (server->syncer);
      g_thread_pool_free (server->checkpointer, FALSE, TRUE);
      if (server->notify)
        {
          g_source_destroy (server->notify);
          g_clear_pointer (&server->notify, g_source_unref);
        }
      /* What is still waiting is committed and synced here, then answered. */
      commit_waiting (server);
      acknowledge_synced (server, server->committed, veto_store_sync (server->store, NULL));
    }
  if (server->soup)
    soup_server_disconnect (server->soup);
  g_clear_object (&server->soup);
  if (server->learner)
    {
      veto_engine_shutdown (server->learner);
      g_clear_object (&server->learner);
      server->store = NULL;
      server->sessions = NULL;
    }
  g_clear_pointer (&server->sessions, veto_sessions_free);
  g_clear_pointer (&server->store, veto_store_close);
  g_clear_pointer (&server->buckets, g_hash_table_unref);
  g_clear_pointer (&server->images, g_hash_table_unref);
  g_clear_pointer (&server->waiting, g_array_unref);
  g_clear_pointer (&server->syncing, g_array_unref);
  g_clear_pointer (&server->context, g_main_context_unref);
  g_mutex_clear (&server->lock);
  g_cond_clear (&server->cond);
  veto_store_claim_release (server->claim);
  g_free (server->campaign);
  g_free (server);
}
