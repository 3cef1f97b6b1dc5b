/* veto-server: the lab server: many annotators answer one project's campaign in their browsers. */
#pragma once

#include <gio/gio.h>

#include "veto-engine.h"
#include "veto-sessions.h"
#include "veto-store.h"

G_BEGIN_DECLS

/*
 * HTTP on libsoup 3, on the thread that runs the main context it was created in. The server owns
 * the project's writing connection (the only writer while it runs). Every /api/ request needs
 * "Authorization: Bearer TOKEN" of a token made by `veto invite`; only the token's SHA-256 is
 * stored. An answer is acknowledged (200) only once its commit is on disk: the answers that
 * arrive together are committed together. docs/server.md is the contract.
 */

typedef struct
{
  const char *campaign;     /* NULL: the project's only open campaign */
  guint lease_seconds;      /* 0: the default (300) */
  double rate;              /* requests per second per token (0: the default, 50) */
  guint burst;              /* requests a token may send at once (0: the default, 200) */
  gboolean learn;           /* run the learner (default TRUE): one model retrained from
                               everyone's answers orders the items handed out */
  guint idle_timeout;       /* seconds a connection may take to send its next request whole,
                               from connecting or from the previous response (0: 60) */
} VetoServerOptions;

void veto_server_options_init (VetoServerOptions *options);

typedef struct _VetoServer VetoServer;

/* Opens the project for writing and the campaign's sessions. */
VetoServer *veto_server_new (const char *project_path, const VetoServerOptions *options,
                             GError **error);
/* Starts listening on host:port (port 0: any free port); out_uri gets "http://HOST:PORT/". */
gboolean veto_server_listen (VetoServer *server, const char *host, guint port, char **out_uri,
                             GError **error);
/* Stops listening, answers the requests still waiting for a commit, closes the project. */
void veto_server_free (VetoServer *server);

/* The whole of one request, as a test or a fuzzer sends it without a socket: method, path,
 * Authorization header value (or NULL), body. Returns the status; out_body (may be NULL) gets
 * the response body. Answers are committed before it returns. */
guint veto_server_handle (VetoServer *server, const char *method, const char *path,
                          const char *authorization, const char *body, gsize body_length,
                          GBytes **out_body);

/* A fresh token (43 characters, URL-safe) and the hex SHA-256 that is stored for it. */
void veto_server_token_new (char **out_token, char **out_hash);
char *veto_server_token_hash (const char *token);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoServer, veto_server_free)

G_END_DECLS
