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

G_END_DECLS
