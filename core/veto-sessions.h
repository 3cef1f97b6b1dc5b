/* veto-sessions: many annotators at once on one campaign: leased questions, per-person sessions. */
#pragma once

#include "veto-store.h"

G_BEGIN_DECLS

/*
 * One VetoSessions per served project, on the thread that owns the store (the project's only
 * writer). Each annotator has a session: its current question, an undo stack, its answers. A
 * question leases its item: a live lease counts towards the campaign's m like an answer, so an
 * item is never handed out more than m times at once; the same person never gets an item twice
 * in a campaign; a lease expires after lease_seconds without a request from its holder (every
 * request renews it), and the item returns to the others. Among the items a person may get, the
 * least covered (answers plus leases) comes first, ties broken at random, so people working at
 * the same time spread over different items.
 *
 * Answers are written inside the store's open write transaction (begun when none is) and are
 * acknowledged only after veto_sessions_commit: callers group the answers of concurrent requests
 * into one commit. A client-made answer id is unique in the store: the same id again is
 * recognised as the same answer and never recorded twice.
 */

#define VETO_SESSIONS_ERROR (veto_sessions_error_quark ())
GQuark veto_sessions_error_quark (void);

typedef enum
{
  VETO_SESSIONS_ERROR_UNKNOWN,   /* no such live question: never asked, answered, skipped or
                                    expired (its item may have gone to another) */
  VETO_SESSIONS_ERROR_FORBIDDEN, /* another annotator's question or answer id */
  VETO_SESSIONS_ERROR_INVALID,   /* an answer that does not fit the question */
  VETO_SESSIONS_ERROR_NOTHING,   /* nothing to undo */
} VetoSessionsError;

typedef struct
{
  const char *campaign;   /* its name; NULL: the only open campaign */
  guint lease_seconds;    /* default 300 */
  const char *criterion;  /* preference campaigns: the criterion shown (default "clearer") */
  guint64 seed;
} VetoSessionsOptions;

void veto_sessions_options_init (VetoSessionsOptions *options);

/* A question as handed out: what a client needs to show it and what is recorded with it. */
typedef struct
{
  gint64 id;              /* unguessable, positive, below 2^53 (exact in JSON numbers) */
  gint64 annotator;
  VetoAnswerKind kind;
  gint64 item;            /* preference: the left item */
  gint64 right_item;      /* preference only */
  gint64 candidates[16];  /* complementary: K classes in display order; ordinary: every class */
  guint n_candidates;
  char criterion[128];
  gint64 shown_at_us;
  gint64 expires_us;
  gboolean flagged;
  gint64 model_version;   /* the learner's round that ordered it (0: none) */
} VetoLease;

typedef struct _VetoSessions VetoSessions;

/* Loads the campaign's items and standing answers through store (which it borrows). */
VetoSessions *veto_sessions_new (VetoStore *store, const VetoSessionsOptions *options,
                                 GError **error);
void veto_sessions_free (VetoSessions *sessions);

const VetoCampaign *veto_sessions_get_campaign (VetoSessions *sessions);
/* Classes in creation order (borrowed). */
GPtrArray *veto_sessions_get_classes (VetoSessions *sessions);

/* The annotator's current question, its lease renewed, or a new one; NULL without error when
 * nothing is left for this annotator. The lease is borrowed until the next call. */
const VetoLease *veto_sessions_question (VetoSessions *sessions, gint64 annotator, gint64 now_us,
                                         GError **error);
/* A live lease of annotator's by question id (renewed); NULL with UNKNOWN or FORBIDDEN. */
const VetoLease *veto_sessions_lookup (VetoSessions *sessions, gint64 annotator,
                                       gint64 question, gint64 now_us, GError **error);

typedef struct
{
  gint64 question;
  gint64 answer_class;     /* ordinary: the class; complementary: the class it is NOT */
  VetoPreferred preferred; /* preference */
  const char *answer_uid;  /* the client's id (NULL: none) */
} VetoSessionAnswer;

/* Writes the answer in the open transaction and ends the lease. *out_duplicate is TRUE when the
 * answer id was recorded before (then *out_annotation is that answer and nothing is written). */
gboolean veto_sessions_answer (VetoSessions *sessions, gint64 annotator,
                               const VetoSessionAnswer *answer, gint64 now_us,
                               gint64 *out_annotation, gboolean *out_duplicate, GError **error);
/* Commits what the answers since the last commit wrote. On failure everything since is rolled
 * back, the sessions are reloaded from the store, and error says why. */
gboolean veto_sessions_commit (VetoSessions *sessions, GError **error);
/* TRUE while answers wait for veto_sessions_commit. */
gboolean veto_sessions_pending (VetoSessions *sessions);

/* Gives the question back (its item returns to the others; this person may get it again). */
gboolean veto_sessions_skip (VetoSessions *sessions, gint64 annotator, gint64 question,
                             gint64 now_us, GError **error);
/* Flags the question's item for review: recorded with its answer. */
gboolean veto_sessions_flag (VetoSessions *sessions, gint64 annotator, gint64 question,
                             gint64 now_us, GError **error);
/* Marks the annotator's most recent answer (committed first) undone and makes its question
 * current again; commits before returning. */
gboolean veto_sessions_undo (VetoSessions *sessions, gint64 annotator, gint64 now_us,
                             gint64 *out_undone, GError **error);

/* The learner's order (round model_version): keys[i] (larger: ask sooner) for items[i]; among the items a person may
 * get, the least covered still come first, and the highest key among those. Items without a key
 * come after those with one. Keys may be a round stale: nobody waits for a retrain. */
void veto_sessions_set_priority (VetoSessions *sessions, gint64 model_version,
                                 const gint64 *items, const float *keys, guint n);

/* Ends the leases that ran out; veto_sessions_question does it too. */
void veto_sessions_expire (VetoSessions *sessions, gint64 now_us);

typedef struct
{
  guint items;
  guint answers;   /* standing, pending commits included */
  guint complete;  /* items with m answers */
  guint leased;    /* live leases */
  guint missing;   /* answers still needed */
} VetoSessionsProgress;

void veto_sessions_get_progress (VetoSessions *sessions, VetoSessionsProgress *out_progress);

typedef struct
{
  guint answers;          /* standing answers of this person in the campaign */
  guint remaining;        /* items this person may still get (leased by others included) */
  double mean_seconds;    /* shown → answered, over this server's answers of this person */
} VetoSessionStatus;

void veto_sessions_get_status (VetoSessions *sessions, gint64 annotator,
                               VetoSessionStatus *out_status);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoSessions, veto_sessions_free)

G_END_DECLS
