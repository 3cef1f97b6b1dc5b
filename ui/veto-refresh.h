/* veto-refresh: a widget's refresh from the project, read in a thread, applied on the UI thread, throttled and coalesced. */
#pragma once

#include <gtk/gtk.h>

#include "veto-store.h"

G_BEGIN_DECLS

/* One widget's refreshes. A reading runs in a thread of the pool through a read-only
 * connection of the refresh's own (opened by the first reading, on the path given, and lent to
 * each in turn: it stays on the file it opened, so the project may be moved or renamed while
 * open); asked for again while one runs, it reads once more after it, since what it read may
 * be older than the change asked about. While one runs the owner is busy (its accessible state,
 * and the boolean property `refreshing` it notifies). */
typedef struct _VetoRefresh VetoRefresh;

/* On the UI thread when a reading starts: what the reading needs from the owner (copied), and
 * where it puts what it reads; freed by the refresh's free_data. */
typedef gpointer (*VetoRefreshCollect) (GtkWidget *owner);
/* In a thread: reads into data through reader (never NULL); touches nothing but data. */
typedef void (*VetoRefreshRead) (VetoStore *reader, gpointer data);
/* Back on the UI thread: applies what was read (not called once the refresh is stopped). */
typedef void (*VetoRefreshApply) (GtkWidget *owner, gpointer data);

VetoRefresh *veto_refresh_new (GtkWidget *owner, const char *path, GParamSpec *refreshing,
                               guint delay_ms, VetoRefreshCollect collect, VetoRefreshRead read,
                               VetoRefreshApply apply, GDestroyNotify free_data);
/* Reads now (or once more after the reading that runs). */
void veto_refresh_now (VetoRefresh *refresh);
/* Reads after delay_ms, at most once per delay however often asked; while the owner is not
 * mapped, when it is next mapped (veto_refresh_mapped ()). */
void veto_refresh_schedule (VetoRefresh *refresh);
/* Reads when the owner is next mapped. */
void veto_refresh_when_mapped (VetoRefresh *refresh);
/* For the owner's map: reads if a refresh waited for it. */
void veto_refresh_mapped (VetoRefresh *refresh);
gboolean veto_refresh_is_running (VetoRefresh *refresh);
/* For the owner's dispose: no more readings start, and one that runs is applied nowhere. */
void veto_refresh_stop (VetoRefresh *refresh);
/* For the owner's finalize (no reading runs then: each holds a reference on the owner). */
void veto_refresh_free (VetoRefresh *refresh);

G_END_DECLS
