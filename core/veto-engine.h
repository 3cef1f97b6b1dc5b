/* veto-engine: the project's learner and its sessions: the window's (and `veto drive`'s) one, or the lab server's many. */
#pragma once

#include <gio/gio.h>

#include "veto-active.h"
#include "veto-sessions.h"
#include "veto-sim.h"
#include "veto-store.h"

G_BEGIN_DECLS

/*
 * One engine per open project (DESIGN.md "Engine, sessions and threads"): the learner and the
 * sessions (veto-sessions.h). The thread that creates the engine (the UI thread) owns the only
 * writing connection and the sessions; the engine's own session (one annotator: the window's,
 * `veto drive`'s) answers through veto_engine_current/answer/skip/flag/undo, and every answer
 * is committed (synchronous = FULL) before veto_engine_answer returns. A learner alone
 * (learner_only: the lab server) lends its sessions to many annotators instead. One long-lived
 * worker thread has its own read-only connection: it retrains after every `retrain_every`
 * answers of anyone (warm start from the previous round) or when idle, rescores the pool, and
 * orders it for the sessions by the strategy. Its results come back to the creating thread's
 * main context with g_main_context_invoke; results older than the newest version delivered are
 * dropped. Nobody waits for the worker: a question is made at once from the last order (or at
 * random before the first model). Signals are emitted on the creating thread.
 */

#define VETO_TYPE_ENGINE (veto_engine_get_type ())
G_DECLARE_FINAL_TYPE (VetoEngine, veto_engine, VETO, ENGINE, GObject)

#define VETO_ENGINE_UNDO_DEPTH 10

typedef struct
{
  const char *annotator;            /* name; created as a human annotator when new */
  VetoAnnotatorKind annotator_kind; /* human for the window; simulated for `veto drive` */
  VetoAnswerKind kind;              /* ordinary, complementary or preference questions */
  VetoActiveStrategy strategy;      /* how items are chosen */
  gboolean agcd;                    /* AGCD selection (novel clusters) instead of strategy */
  VetoActiveCandidateRule candidates; /* complementary: informative (default), proportional or
                                         uniform (CLImage) */
  guint n_candidates;               /* complementary: K shown (default 4) */
  double anchors;                   /* free complementary questions: the share asked about gold
                                       anchors outside the pool (VetoSessionsOptions.anchors;
                                       default 0.05, none without such items) */
  const char *criterion;            /* preference: shown with the pair; NULL: the model's
                                       predicted class of the left item ("more clearly a c") */
  guint retrain_every;              /* answers between retrains (default 10) */
  guint queue_size;                 /* questions a batch strategy (coreset, BADGE, AGCD, pairs...)
                                       orders ahead, beyond retrain_every (default 20) */
  guint budget;                     /* answers wanted this session (0: no goal); for progress */
  const char *features;             /* extractor spec (default "pixels") */
  VetoModelKind model;
  gint64 campaign;                  /* serve this campaign's questions (0: none: free active
                                       learning on the pool) */
  const char *campaign_name;        /* or the campaign by name */
  gboolean any_campaign;            /* or, without either, the only open campaign if there is
                                       one (free when none is open: `veto serve`) */
  guint lease_seconds;              /* a question's lease (0: the sessions' default for a
                                       learner alone; the engine's own session keeps its own) */
  guint64 seed;
  gboolean learner_only;            /* the learner without a session of its own: no annotator
                                       is made, and current, answer, skip, flag and undo are
                                       not used (the lab server's sessions answer instead) */
} VetoEngineOptions;

/* The defaults: complementary questions (the 4 candidates of largest expected information gain
 * under the item's posterior, the model's p combined with the item's earlier answers, and the
 * model of the person asked: their own fitted to their gold anchors once they have 25 anchor
 * answers, else the pooled one, the uniform annotator until there is one,
 * veto_active_informative_candidates (); 5% of them on
 * gold anchors when the project has some), margin, a retrain every 10 answers, 20 questions
 * ahead, pixels, softmax, seed 1. A NULL annotator is the login name. With
 * a campaign, the campaign's protocol must be the kind, and its K replaces n_candidates. */
void veto_engine_options_init (VetoEngineOptions *options);

/* A question as it will be shown; everything needed to draw it and to record it. */
typedef struct
{
  VetoAnswerKind kind;
  gint64 item;                 /* the item asked about; preference: the left one */
  gint64 right_item;           /* preference: the right one (which is left is randomised) */
  gint64 candidates[16];       /* complementary: class ids in display order */
  guint n_candidates;
  char criterion[128];         /* preference: the criterion shown */
  gint64 model_version;        /* the round that chose it (0: none yet) */
  char strategy[32];
  double score;                /* the strategy's score (NAN when none) */
  gint64 guess_class;          /* the model's current guess for item (0: no model yet) */
  double guess_confidence;
  guint asked_before;          /* this person's answers on item before: complementary questions
                                  go round the pool again (VetoLease.asked_before) */
} VetoQuestion;

/* Opens the project (creating nothing) and starts the worker. Fails with a clear message when
 * the project cannot be opened for writing or is in use. */
VetoEngine *veto_engine_new (const char *project_path, const VetoEngineOptions *options,
                             GError **error);
/* Stops the worker (cancelling a retrain) and joins it; answers are all on disk already. */
void veto_engine_shutdown (VetoEngine *engine);

VetoStore *veto_engine_get_store (VetoEngine *engine);          /* the writing connection */
const VetoEngineOptions *veto_engine_get_options (VetoEngine *engine);
/* Classes in model order (borrowed; refreshed when a class is added). */
GPtrArray *veto_engine_get_classes (VetoEngine *engine);
/* The sessions, ordered by the learner (borrowed): the lab server's annotators answer there. */
VetoSessions *veto_engine_get_sessions (VetoEngine *engine);

/* The engine's own session's question to show now (leased to it); never blocks. NULL when the
 * pool (or the campaign) has nothing left for it. The time it is first returned is recorded as
 * shown_at. Borrowed until the next answer, skip or undo. */
const VetoQuestion *veto_engine_current (VetoEngine *engine);

/* Records the answer to the current question and commits it before returning TRUE (the
 * acknowledgement). answer_class: the class id (ordinary), the class the item is NOT
 * (complementary, one of the candidates); preferred for preference. On failure (disk full,
 * read-only, busy) nothing is recorded, the question stays current, and error says why. */
gboolean veto_engine_answer (VetoEngine *engine, gint64 answer_class, VetoPreferred preferred,
                             gint64 *out_annotation_id, GError **error);
/* Moves on without answering (the item comes back once nothing else is left). */
void veto_engine_skip (VetoEngine *engine);
/* Flags the current item for review (recorded with the next answer to it). */
void veto_engine_flag (VetoEngine *engine);
/* Marks the most recent answer of this session undone (up to VETO_ENGINE_UNDO_DEPTH back) and
 * makes its question current again. FALSE with error when there is nothing left to undo. */
gboolean veto_engine_undo (VetoEngine *engine, gint64 *out_undone_id, GError **error);
/* Tells the learner that n answers were recorded on the engine's store by others than this
 * engine's own session (the lab server's sessions): they count towards the next retrain as the
 * session's own do, so the one model learns from everyone's answers. */
void veto_engine_note_answers (VetoEngine *engine, guint n);
/* Adds a class (how AGCD users name a novel one); returns its id. */
gboolean veto_engine_add_class (VetoEngine *engine, const char *name, gint64 *out_id,
                                GError **error);

/* Progress of this session. */
typedef struct
{
  guint answers;               /* answered and not undone, this session */
  guint budget;
  double seconds_per_answer;   /* mean shown → answered */
  gint64 model_version;        /* newest round delivered (0: none) */
  double estimated_accuracy;   /* of that round: test gold if any, else validation gold, else
                                  (complementary questions) the answers of a tenth of the items
                                  held out of training; NAN when unknown */
  const char *accuracy_from;   /* "test", "validation", "anchors" (held-out answers on gold
                                  anchors), "answers" (held-out answers alone), NULL: unknown */
  gboolean training;           /* the worker is retraining now */
  guint queue_length;          /* items the learner has ordered that this session may get next
                                  (up to queue_size) */
} VetoEngineStatus;

void veto_engine_get_status (VetoEngine *engine, VetoEngineStatus *out_status);

/* The newest model's view of the pool, a copy the caller owns (for the gallery): item ids,
 * K probabilities each (model class order), and each item's AGCD cluster (-1 without AGCD).
 * NULL before the first model. */
typedef struct
{
  gint64 version;
  guint n;
  guint n_classes;
  gint64 *items;
  float *probs;
  gint *clusters;
} VetoEngineScores;

VetoEngineScores *veto_engine_get_scores (VetoEngine *engine);
void veto_engine_scores_free (VetoEngineScores *scores);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoEngineScores, veto_engine_scores_free)

/* Blocks (iterating the caller's main context) until the worker has delivered a model of at
 * least `version`, or timeout. For tests and `veto drive`, never for the window. */
gboolean veto_engine_wait_for_model (VetoEngine *engine, gint64 version, guint timeout_ms);
/* Blocks (iterating the caller's main context) until the worker has finished a round that saw
 * every answer and undo made so far (with a model, an error or nothing to learn from), or
 * timeout. A round starts after retrain_every changes, or once the annotators have been idle
 * for 3 s. `veto drive --lockstep` waits so after the start and after every retrain_every
 * answers: which model chooses each question then depends on the seed alone, not on timing. */
gboolean veto_engine_wait_for_round (VetoEngine *engine, guint timeout_ms);

/*
 * Signals (on the creating thread):
 *   "question-changed" ()                 the current question changed
 *   "status-changed" ()                   anything of VetoEngineStatus changed
 *   "model-updated" (gint64 version)      a newer round was delivered
 *   "error" (GError *error)               the worker failed (it keeps serving questions)
 */

G_END_DECLS
