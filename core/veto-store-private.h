/* veto-store-private: what the store's own files (veto-store*.c) share; never included elsewhere. */
#pragma once

#include <sqlite3.h>

#include "veto-store.h"

G_BEGIN_DECLS

typedef sqlite3_stmt VetoStoreStatement;
void veto_store_statement_free (VetoStoreStatement *stmt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoStoreStatement, veto_store_statement_free)

/* Turns an SQLite failure on db (NULL when opening failed) into the store's error domain with a
 * message for people: "DISPLAY: DOING: why". */
void veto_store_set_sqlite_error (sqlite3 *db, const char *display, int rc, const char *doing,
                                  GError **error);

/* The store's own connection: the store's other files read through it, so that whoever holds
 * the store (the lab server: the project's only writer) sees its own uncommitted writes. */
sqlite3 *veto_store_get_db (VetoStore *store);

/* migrations[v] takes a file from user_version v to v + 1. */
extern const char *const veto_store_migrations[VETO_STORE_SCHEMA_VERSION];

/* What every connection to a project file gets before its first statement
 * (veto-store-check.c): a file is untrusted input. */
gboolean veto_store_harden (sqlite3 *db, const char *display, GError **error);
/* Opens path read-only and hardened, and refuses it unless it is a Veto project this build can
 * read (its schema version in out_version); nothing of the file beyond its header is read. */
gboolean veto_store_open_untrusted (const char *path, sqlite3 **out_db, int *out_version,
                                    GError **error);
/* Fails (NOT_A_PROJECT) unless db's schema is exactly the one Veto writes for version. */
gboolean veto_store_validate_schema (sqlite3 *db, const char *display, int version,
                                     GError **error);
/* Fails (CORRUPT) at the first row that breaks what Veto guarantees when it writes one; the error
 * names the table, the row and the problem. */
gboolean veto_store_validate_rows (sqlite3 *db, const char *display, GError **error);

G_END_DECLS
