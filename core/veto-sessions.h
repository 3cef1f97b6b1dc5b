/* veto-sessions: per-annotator sessions over one project (a campaign or the free pool): leased questions. */
#pragma once

#include "veto-active.h"
#include "veto-store.h"

G_BEGIN_DECLS

/*
 * One VetoSessions per open project, on the thread that owns the store (the project's only
 * writer): the window has one session in it, the lab server one per annotator. Each annotator's
 * session holds its current question, an undo stack and its answers. A question leases its item:
 * a leased item is not handed to anyone else; a lease expires after lease_seconds without a
 * request from its holder (every request renews it), and the item returns to the others.
 *
 * Two modes. With a campaign: a live lease counts towards the campaign's m like an answer, so an
 * item is never handed out more than m times at once; the same person never gets an item twice
 * in the campaign; among the items a person may get the least covered (answers plus leases) come
 * first; the candidates are the campaign's K, uniform (CLImage's protocol); leases are saved in
 * the store so that a restarted server keeps them. Free (no campaign: active learning on the
 * pool): every pool item is eligible, once per person (complementary questions: once every item
 * has been asked, again with a new set, up to VETO_SESSIONS_MAX_ASKS times); the learner's order
 * decides what comes next (veto_sessions_set_priority), items answered by anyone since that order
 * was made coming after the others, so that people working at once spread over different items;
 * the question is composed here from the learner's scores (complementary: K candidates by the
 * configured rule, the informative one under the item's posterior, the learner's p combined
 * with the item's standing answers each under its answerer's model, for the model of the person
 * asked: their own, else the pooled one, else the uniform annotator;
 * preference: the learner's pair, else a partner in the same predicted class; ordinary: every
 * class), with the model's guess. Free complementary questions go, at the rate
 * options.anchors, to gold anchors outside the pool (VetoSessionsOptions.anchors), each once per
 * person, so that the learner can fit every annotator's choice model. Free leases live in memory
 * only. Either way, ties and items without a priority go in a random order.
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

/* How many times a free complementary session asks one person about one pool item, each time
 * after every item has been asked as often: CLImage's three answers an image. */
#define VETO_SESSIONS_MAX_ASKS 3

/* The share of free complementary questions asked about gold anchors by default. */
#define VETO_SESSIONS_DEFAULT_ANCHORS 0.05

typedef struct
{
  const char *campaign;   /* its name; NULL: the only open campaign, or free when none is open */
  gboolean free;          /* free even when a campaign is open (the window, `veto drive`) */
  guint lease_seconds;    /* default 300 */
  const char *criterion;  /* preference: the criterion shown (campaigns default to "clearer";
                             free: NULL shows the predicted class of the left item) */
  guint64 seed;
  /* Free mode only (a campaign has its own protocol and K): */
  VetoAnswerKind kind;                /* default complementary */
  VetoActiveCandidateRule candidates; /* complementary: informative (default), proportional to
                                         the model or uniform */
  guint n_candidates;                 /* complementary: K shown (default 4) */
  double anchors;                     /* complementary: the share of questions (default 0.05)
                                         asked about gold anchors, the validation split's items
                                         with a gold label (never the test split's), with
                                         uniform candidates and strategy "anchor"; none when the
                                         project has no such item. They fit the annotators'
                                         models and never count as the pool's progress */
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
  gint64 candidates[16];  /* complementary: K classes in display order; ordinary: every class
                             (none when the project has more than 16) */
  guint n_candidates;
  char criterion[128];
  gint64 shown_at_us;
  gint64 expires_us;
  gboolean flagged;
  gint64 model_version;   /* the learner's round that ordered it (0: none) */
  char strategy[32];      /* what chose it: the learner's strategy, "random", "campaign" or
                             "anchor" (a gold anchor outside the pool) */
  double score;           /* the strategy's score of the item (NAN when none) */
  gint64 guess_class;     /* the model's guess for item (0: no model yet) */
  double guess_confidence;
  guint asked_before;     /* this person's standing answers on the item: a free complementary
                             question going round again (VETO_SESSIONS_MAX_ASKS) */
} VetoLease;

typedef struct _VetoSessions VetoSessions;

/* Loads the campaign's (or the pool's) items and standing answers through store (which it
 * borrows). */
VetoSessions *veto_sessions_new (VetoStore *store, const VetoSessionsOptions *options,
                                 GError **error);
void veto_sessions_free (VetoSessions *sessions);

/* The campaign served; NULL in free mode. */
const VetoCampaign *veto_sessions_get_campaign (VetoSessions *sessions);
/* The kind of question asked (the campaign's protocol, or the free mode's kind). */
VetoAnswerKind veto_sessions_get_kind (VetoSessions *sessions);
/* Classes in creation order (borrowed; reloaded in place). */
GPtrArray *veto_sessions_get_classes (VetoSessions *sessions);
/* Reads the classes again (one was added): answers may name it at once. */
gboolean veto_sessions_reload_classes (VetoSessions *sessions, GError **error);

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
/* veto_sessions_answer and veto_sessions_commit in one, for a single annotator who waits (the
 * window): on failure nothing is recorded and the question stays current. */
gboolean veto_sessions_answer_now (VetoSessions *sessions, gint64 annotator,
                                   const VetoSessionAnswer *answer, gint64 now_us,
                                   gint64 *out_annotation, GError **error);
/* Commits what the answers since the last commit wrote. On failure everything since is rolled
 * back, the sessions are reloaded from the store, and error says why. */
gboolean veto_sessions_commit (VetoSessions *sessions, GError **error);
/* TRUE while answers wait for veto_sessions_commit. */
gboolean veto_sessions_pending (VetoSessions *sessions);

/* Gives the question back: its item returns to the others, and comes back to this person only
 * once nothing else is left. */
gboolean veto_sessions_skip (VetoSessions *sessions, gint64 annotator, gint64 question,
                             gint64 now_us, GError **error);
/* Flags the question's item for review: recorded with its answer. */
gboolean veto_sessions_flag (VetoSessions *sessions, gint64 annotator, gint64 question,
                             gint64 now_us, GError **error);
/* Marks the annotator's most recent answer (committed first; 10 deep) undone and makes its
 * question current again (the question it replaces keeps its lease and comes next); commits
 * before returning. */
gboolean veto_sessions_undo (VetoSessions *sessions, gint64 annotator, gint64 now_us,
                             gint64 *out_undone, GError **error);

/* The learner's view of the items, round model_version: everything is copied. */
typedef struct
{
  gint64 model_version;
  guint n;
  guint n_classes;
  const gint64 *items;
  const float *probs;      /* n × n_classes in the classes' order (NULL: none) */
  const float *keys;       /* larger: ask sooner; NAN: no priority (NULL: none has one) */
  const float *scores;     /* the strategy's own score of each item, NAN when none (may be NULL) */
  const gint64 *partners;  /* preference: the right item the learner paired with it, or 0 (may
                              be NULL) */
  const char *strategy;    /* its name, recorded with the questions it orders */
  const double *annotator_model; /* n_classes × n_classes: the annotators' choice model fitted
                                    to their gold anchors (veto_loss_fit_annotators ()'s pooled
                                    one), with which informative candidates are chosen for
                                    whoever has no model of their own (NULL: the uniform
                                    annotator) */
  guint n_own_models;            /* annotators with a model of their own (0: none) */
  const gint64 *own_annotators;  /* n_own_models annotator ids */
  const double *own_models;      /* n_own_models × n_classes × n_classes: each one's own model
                                    (veto_loss_fit_annotators (), pulled towards the pooled
                                    one), in the order of own_annotators: informative candidates
                                    for them are chosen with it */
} VetoSessionsPriority;

/* The learner's order: among the items a person may get (with a campaign: the least covered
 * first), the highest key first; items without a key come after those with one. The order may
 * be a round stale: nobody waits for a retrain. */
void veto_sessions_set_priority (VetoSessions *sessions, const VetoSessionsPriority *priority);

/* Ends the leases that ran out; veto_sessions_question does it too. */
void veto_sessions_expire (VetoSessions *sessions, gint64 now_us);

typedef struct
{
  guint items;
  guint answers;   /* standing, pending commits included */
  guint complete;  /* items with m answers (free: with one at least) */
  guint leased;    /* live leases */
  guint missing;   /* answers still needed (free: items nobody has answered) */
} VetoSessionsProgress;

void veto_sessions_get_progress (VetoSessions *sessions, VetoSessionsProgress *out_progress);

typedef struct
{
  guint answers;          /* standing answers of this person in the campaign (free: on the pool) */
  guint remaining;        /* items this person may still get (leased by others included); free
                             complementary: in this pass over the pool (ask again: the whole
                             pool once more, up to VETO_SESSIONS_MAX_ASKS passes) */
  guint session_answers;  /* answered through these sessions and not undone */
  double mean_seconds;    /* shown → answered, over those answers; NAN when none */
  guint ready;            /* items the learner has ordered that this person may get now (counted
                             up to 1,000) */
} VetoSessionStatus;

void veto_sessions_get_status (VetoSessions *sessions, gint64 annotator,
                               VetoSessionStatus *out_status);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoSessions, veto_sessions_free)

G_END_DECLS
