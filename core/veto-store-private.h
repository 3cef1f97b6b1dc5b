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

G_END_DECLS
