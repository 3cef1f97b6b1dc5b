/* load-client: N annotators answering a served campaign as fast as it lets them (tests/web). */
#include <errno.h>
#include <glib.h>
#include <json-glib/json-glib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Usage: load-client PORT TOKENS-FILE ACKED-FILE
 * One thread per token (one line each), each on one keep-alive connection: GET /api/question,
 * POST /api/answer with the first candidate and a fresh answer id, until 204 or until the server
 * goes away. ACKED-FILE gets "ANSWER_ID ANNOTATION_ID" for every 200-acknowledged answer. Prints
 * one line: answers, seconds, answers/s, p50 and p99 answer latency (ms), refused requests.
 */

typedef struct
{
  guint16 port;
  char *token;
  GArray *latencies; /* double, ms */
  GString *acked;
  guint refused;
  char last_problem[160];
} Worker;

typedef struct
{
  int fd;
  char buffer[65536];
  gsize have;
} Conn;

static gboolean
conn_open (Conn *c, guint16 port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (port),
                              .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int one = 1;

  c->have = 0;
  c->fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0)
    return FALSE;
  setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return connect (c->fd, (struct sockaddr *) &addr, sizeof addr) == 0;
}

static gboolean
send_all (int fd, const char *data, gsize n)
{
  while (n > 0)
    {
      ssize_t k = send (fd, data, n, MSG_NOSIGNAL);

      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        return FALSE;
      data += k;
      n -= k;
    }
  return TRUE;
}

/* One response: its status and its body (Content-Length framed, as the server sends). */
static gboolean
read_response (Conn *c, guint *out_status, char **out_body)
{
  char *end;
  gsize head, length = 0;
  const char *cl;

  for (;;)
    {
      ssize_t k;

      c->buffer[c->have] = '\0';
      end = strstr (c->buffer, "\r\n\r\n");
      if (end)
        break;
      if (c->have >= sizeof c->buffer - 1)
        return FALSE;
      k = recv (c->fd, c->buffer + c->have, sizeof c->buffer - 1 - c->have, 0);
      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0)
        return FALSE;
      c->have += k;
    }
  head = end + 4 - c->buffer;
  if (sscanf (c->buffer, "HTTP/1.1 %u", out_status) != 1)
    return FALSE;
  cl = g_strstr_len (c->buffer, head, "Content-Length: ");
  if (cl)
    length = strtoul (cl + 16, NULL, 10);
  while (c->have < head + length)
    {
      ssize_t k = recv (c->fd, c->buffer + c->have, sizeof c->buffer - 1 - c->have, 0);

      if (k < 0 && errno == EINTR)
        continue;
      if (k <= 0 || c->have + k >= sizeof c->buffer)
        return FALSE;
      c->have += k;
    }
  *out_body = g_strndup (c->buffer + head, length);
  memmove (c->buffer, c->buffer + head + length, c->have - head - length);
  c->have -= head + length;
  return TRUE;
}

static gboolean
request (Conn *c, const Worker *w, const char *method, const char *path, const char *body,
         guint *out_status, char **out_body)
{
  g_autofree char *text = g_strdup_printf (
      "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
      method, path, w->token, body ? strlen (body) : 0, body ? body : "");

  return send_all (c->fd, text, strlen (text)) && read_response (c, out_status, out_body);
}

static gpointer
work (gpointer data)
{
  Worker *w = data;
  Conn c;

  if (!conn_open (&c, w->port))
    return NULL;
  for (;;)
    {
      g_autofree char *body = NULL;
      g_autofree char *answer = NULL;
      g_autofree char *reply = NULL;
      g_autoptr (JsonParser) parser = json_parser_new ();
      char uid[33];
      JsonObject *q;
      guint status;
      gint64 start, question, klass;

      if (!request (&c, w, "GET", "/api/question", NULL, &status, &body))
        break;
      if (status == 204)
        break;
      if (status != 200 || !json_parser_load_from_data (parser, body, -1, NULL))
        {
          w->refused++;
          g_snprintf (w->last_problem, sizeof w->last_problem, "GET %u %s", status, body);
          break;
        }
      q = json_node_get_object (json_parser_get_root (parser));
      question = json_object_get_int_member (q, "id");
      klass = json_object_get_int_member (
          json_array_get_object_element (json_object_get_array_member (q, "candidates"), 0),
          "id");
      for (guint i = 0; i < 32; i++)
        uid[i] = "0123456789abcdef"[g_random_int_range (0, 16)];
      uid[32] = '\0';
      answer = g_strdup_printf ("{\"question\": %" G_GINT64_FORMAT ", \"class\": %"
                                G_GINT64_FORMAT ", \"answer_id\": \"%s\"}", question, klass, uid);
      start = g_get_monotonic_time ();
      if (!request (&c, w, "POST", "/api/answer", answer, &status, &reply))
        break;
      if (status == 200)
        {
          double ms = (g_get_monotonic_time () - start) / 1000.0;
          const char *id = strstr (reply, "\"answer\":");

          g_array_append_val (w->latencies, ms);
          g_string_append_printf (w->acked, "%s %.*s\n", uid,
                                  id ? (int) strcspn (id + 9, ",}") : 1, id ? id + 9 : "0");
        }
      else if (status != 404)
        {
          w->refused++;
          g_snprintf (w->last_problem, sizeof w->last_problem, "POST %u %s", status, reply);
          break;
        }
    }
  close (c.fd);
  return NULL;
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

int
main (int argc, char **argv)
{
  g_autofree char *tokens_text = NULL;
  g_auto (GStrv) tokens = NULL;
  g_autoptr (GPtrArray) threads = g_ptr_array_new ();
  g_autoptr (GArray) all = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GString) acked = g_string_new (NULL);
  Worker *workers;
  guint n = 0, refused = 0;
  gint64 start;
  double seconds;
  FILE *out;

  if (argc != 4 || !g_file_get_contents (argv[2], &tokens_text, NULL, NULL))
    {
      fprintf (stderr, "usage: load-client PORT TOKENS-FILE ACKED-FILE\n");
      return 2;
    }
  tokens = g_strsplit (g_strstrip (tokens_text), "\n", -1);
  n = g_strv_length (tokens);
  workers = g_new0 (Worker, n);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      workers[i] = (Worker) { (guint16) atoi (argv[1]), tokens[i],
                              g_array_new (FALSE, FALSE, sizeof (double)), g_string_new (NULL) };
      g_ptr_array_add (threads, g_thread_new ("annotator", work, &workers[i]));
    }
  for (guint i = 0; i < n; i++)
    g_thread_join (g_ptr_array_index (threads, i));
  seconds = (g_get_monotonic_time () - start) / 1e6;
  for (guint i = 0; i < n; i++)
    {
      g_array_append_vals (all, workers[i].latencies->data, workers[i].latencies->len);
      g_string_append (acked, workers[i].acked->str);
      refused += workers[i].refused;
      if (workers[i].refused)
        fprintf (stderr, "annotator %u: %s\n", i, workers[i].last_problem);
      g_array_unref (workers[i].latencies);
      g_string_free (workers[i].acked, TRUE);
    }
  g_free (workers);
  g_array_sort (all, compare_double);
  out = fopen (argv[3], "w");
  if (out == NULL || fputs (acked->str, out) < 0 || fclose (out) != 0)
    return 1;
  printf ("%u %.3f %.1f %.2f %.2f %u\n", all->len, seconds, all->len / seconds,
          all->len ? g_array_index (all, double, all->len / 2) : 0.0,
          all->len ? g_array_index (all, double, MIN (all->len - 1, all->len * 99 / 100)) : 0.0,
          refused);
  return 0;
}
