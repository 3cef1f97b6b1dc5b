/* veto-store: the project file (SQLite): schema, migrations, transactions and every query. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VETO_STORE_ERROR (veto_store_error_quark ())
GQuark veto_store_error_quark (void);

typedef enum
{
  VETO_STORE_ERROR_NOT_FOUND,     /* no such project file */
  VETO_STORE_ERROR_EXISTS,        /* creating over an existing file */
  VETO_STORE_ERROR_NOT_A_PROJECT, /* not SQLite, or SQLite but not Veto's */
  VETO_STORE_ERROR_TOO_NEW,       /* written by a newer Veto */
  VETO_STORE_ERROR_READ_ONLY,     /* the file or its folder cannot be written */
  VETO_STORE_ERROR_BUSY,          /* another process holds the write lock */
  VETO_STORE_ERROR_FULL,          /* the disk (or the file's size limit) is full */
  VETO_STORE_ERROR_CORRUPT,
  VETO_STORE_ERROR_INVALID,       /* a request that does not fit the project (unknown class...) */
  VETO_STORE_ERROR_FAILED,
} VetoStoreError;

/* The schema this build writes; files with a higher PRAGMA user_version are refused. */
#define VETO_STORE_SCHEMA_VERSION 2

typedef enum
{
  VETO_SPLIT_POOL,
  VETO_SPLIT_TEST,
  VETO_SPLIT_VALIDATION,
  VETO_N_SPLITS
} VetoSplit;

typedef enum
{
  VETO_KIND_ORDINARY,
  VETO_KIND_COMPLEMENTARY,
  VETO_KIND_PREFERENCE,
  VETO_KIND_SOFT,
  VETO_N_KINDS
} VetoAnswerKind;

typedef enum
{
  VETO_ANNOTATOR_HUMAN,
  VETO_ANNOTATOR_SIMULATED,
  VETO_ANNOTATOR_TEACHER,
} VetoAnnotatorKind;

typedef enum
{
  VETO_PREFER_LEFT,
  VETO_PREFER_RIGHT,
  VETO_PREFER_TIE,
} VetoPreferred;

const char *veto_split_to_string (VetoSplit split);
gboolean veto_split_from_string (const char *text, VetoSplit *out_split);
const char *veto_answer_kind_to_string (VetoAnswerKind kind);
gboolean veto_answer_kind_from_string (const char *text, VetoAnswerKind *out_kind);
const char *veto_annotator_kind_to_string (VetoAnnotatorKind kind);
const char *veto_preferred_to_string (VetoPreferred preferred);

typedef struct _VetoStore VetoStore;

/* Who writes a project (veto-store-lock.c). Every store opened for writing holds a shared lock
 * (flock) on the project file while it is open, so any number of windows and commands may write
 * together (SQLite orders their transactions); `veto serve` claims the file exclusively and is
 * then its only writer. A claim is refused at once (BUSY, the message naming the file, who holds
 * it and how to stop them) when it conflicts with another process's: a writer while a server
 * serves the file, a server while anyone else writes it. Claims of one process never conflict
 * with each other: the server's own stores share its claim. Read-only opens are never refused.
 * The kernel drops the locks of a process that ends, however it ends. */
typedef enum
{
  VETO_STORE_CLAIM_READ,  /* takes no lock */
  VETO_STORE_CLAIM_WRITE, /* shared */
  VETO_STORE_CLAIM_SERVE, /* exclusive */
} VetoStoreClaimKind;

typedef struct _VetoStoreClaim VetoStoreClaim;
VetoStoreClaim *veto_store_claim (const char *path, VetoStoreClaimKind kind, GError **error);
void veto_store_claim_release (VetoStoreClaim *claim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoStoreClaim, veto_store_claim_release)

/* Creates a new, empty project; fails if PATH exists. */
VetoStore *veto_store_create (const char *path, GError **error);
/* Opens an existing project; read_only opens it without ever writing to it. An older schema is
 * migrated (after a backup copy PATH.vN.bak is kept) unless read_only. */
VetoStore *veto_store_open (const char *path, gboolean read_only, GError **error);
/* A writable store on a temporary copy of the project at PATH, which is only read (any schema
 * this build knows; the copy is migrated). File items resolve against PATH's folder. The copy is
 * deleted by veto_store_close: for runs that must leave the project as it was. */
VetoStore *veto_store_open_scratch (const char *path, GError **error);
/* Opens a project to write its annotators and access tokens only (`veto invite`), also while
 * `veto serve` serves it: the one exemption to the server being the only writer. The server
 * reads tokens through its connection at every request, so a token made or revoked here counts
 * from the server's next request; every other write through this store is refused. */
VetoStore *veto_store_open_tokens (const char *path, GError **error);
void veto_store_close (VetoStore *store);
const char *veto_store_get_path (VetoStore *store);
/* The folder that file items' relative paths start from. */
const char *veto_store_get_base_dir (VetoStore *store);

/* Commits are durable when veto_store_commit returns (synchronous = FULL: they survive an OS
 * crash or a power cut). A server that groups many commits may defer that: with deferred sync a
 * commit survives a killed process at once, and an OS crash once veto_store_sync has returned. */
gboolean veto_store_set_deferred_sync (VetoStore *store, gboolean deferred, GError **error);
/* Makes every commit so far durable. Touches only the files, never the connection: it may run
 * on another thread while the store's thread goes on writing. */
gboolean veto_store_sync (VetoStore *store, GError **error);
/* With deferred sync the store's own connection no longer copies the WAL into the database
 * (a checkpoint syncs both files: a stall for whoever commits). This does it when the WAL has
 * grown to min_wal_bytes, through a connection of its own, without waiting for readers or
 * writers: call it on one thread other than the store's (it may run beside veto_store_sync). */
gboolean veto_store_checkpoint (VetoStore *store, guint64 min_wal_bytes, GError **error);

/* Write transactions (BEGIN IMMEDIATE). Every failing call leaves the transaction open for the
 * caller to roll back; rollback never fails loudly. */
gboolean veto_store_begin (VetoStore *store, GError **error);
gboolean veto_store_commit (VetoStore *store, GError **error);
void veto_store_rollback (VetoStore *store);

/* --- classes --- */
typedef struct
{
  gint64 id;
  char *name;
  char *description;
  gboolean novel;
} VetoClass;

void veto_class_free (VetoClass *klass);
/* Finds a class by name, or creates it; out_created tells which. */
gboolean veto_store_ensure_class (VetoStore *store, const char *name, gint64 *out_id,
                                  gboolean *out_created, GError **error);
/* Classes in creation order: the class index used by models is the position in this array. */
GPtrArray *veto_store_list_classes (VetoStore *store, GError **error);

/* --- imports and items --- */
gboolean veto_store_add_import (VetoStore *store, const char *source, const char *format,
                                VetoSplit split, gint64 *out_id, GError **error);
gboolean veto_store_finish_import (VetoStore *store, gint64 import_id, guint n_items,
                                   GError **error);

typedef struct
{
  const char *path;      /* relative to the project's folder, for file items; else NULL */
  const guint8 *pixels;  /* embedded pixels (H×W×C uint8), for IDX / CIFAR items; else NULL */
  const char *sha256;    /* hex digest of the pixels or of the file's bytes */
  guint width, height, channels;
  VetoSplit split;
  gint64 gold_class;     /* class id, or 0 for none */
  gint64 import_id;
  guint import_index;
} VetoItemRecord;

/* Adds an item inside an open transaction (veto_store_begin). */
gboolean veto_store_add_item (VetoStore *store, const VetoItemRecord *item, gint64 *out_id,
                              GError **error);
gboolean veto_store_find_item_by_sha256 (VetoStore *store, const char *sha256, gint64 *out_id,
                                         GError **error);

/* One item as stored; pixels is set for embedded items, path for file items. */
typedef struct
{
  gint64 id;
  char *path;
  GBytes *pixels;
  char *sha256;
  guint width, height, channels;
  VetoSplit split;
  gint64 gold_class; /* 0 when none */
} VetoItem;

void veto_item_free (VetoItem *item);
VetoItem *veto_store_get_item (VetoStore *store, gint64 id, GError **error);
/* Item ids of a split (or of every split with split = VETO_N_SPLITS), in import order. */
GArray *veto_store_list_item_ids (VetoStore *store, VetoSplit split, GError **error);
/* Ids of a split's items that have a gold label, in id order. */
GArray *veto_store_list_gold_item_ids (VetoStore *store, VetoSplit split, GError **error);

/* Calls func for every item of a split (VETO_N_SPLITS: all) in id order; the item is borrowed.
 * Returning FALSE from func stops the walk. */
typedef gboolean (*VetoItemFunc) (const VetoItem *item, gpointer user_data);
gboolean veto_store_foreach_item (VetoStore *store, VetoSplit split, VetoItemFunc func,
                                  gpointer user_data, GError **error);

/* --- annotators --- */
gboolean veto_store_ensure_annotator (VetoStore *store, const char *name, VetoAnnotatorKind kind,
                                      gint64 *out_id, GError **error);

/* --- annotations --- */
typedef struct
{
  VetoAnswerKind kind;
  gint64 item;              /* the item asked about; for preference the left item */
  gint64 annotator;
  gint64 answer_class;      /* ordinary: the class; complementary: the class it is NOT */
  const gint64 *candidates; /* complementary: the classes shown, in the order shown */
  guint n_candidates;
  gint64 right_item;        /* preference: the item shown on the right */
  const char *criterion;    /* preference */
  VetoPreferred preferred;  /* preference */
  const char *soft_json;    /* soft: JSON array of class probabilities */
  gint64 model_version;     /* 0 when no model chose the question */
  const char *strategy;     /* how the question was chosen ("random", "margin", ...) */
  double score;             /* the strategy's score for it (NaN when none) */
  gint64 campaign;          /* 0 when outside a campaign */
  gint64 shown_at_us;       /* g_get_real_time () when the question appeared */
  gint64 answered_at_us;
  const char *answer_uid;   /* the client's id for this answer, unique in the project; or NULL */
} VetoAnswer;

/* Commits one answer (its own transaction unless one is open). */
gboolean veto_store_add_annotation (VetoStore *store, const VetoAnswer *answer, gint64 *out_id,
                                    GError **error);
/* The annotation that carries a client's answer id: *out_id is 0 when there is none;
 * out_annotator (may be NULL) gets who gave it. Sees the store's own uncommitted writes. */
gboolean veto_store_find_answer_uid (VetoStore *store, const char *answer_uid, gint64 *out_id,
                                     gint64 *out_annotator, GError **error);
/* Marks an answer undone (the row stays). Fails if it is unknown or already undone. */
gboolean veto_store_undo_annotation (VetoStore *store, gint64 annotation_id, GError **error);
gboolean veto_store_flag_annotation (VetoStore *store, gint64 annotation_id, gboolean flagged,
                                     GError **error);

/* An annotation as read back, with names resolved for exports. */
typedef struct
{
  gint64 id;
  VetoAnswerKind kind;
  gint64 item;
  char *item_sha256;
  char *annotator;
  gint64 annotator_id;
  char *annotator_kind;
  char *answer_class;       /* name, or NULL */
  GPtrArray *candidates;    /* names in the order shown (complementary), else empty */
  gint64 right_item;
  char *criterion;
  char *preferred;
  char *soft_json;
  char *question_json;      /* the full question as shown */
  gint64 model_version;
  char *strategy;
  double score;
  gint64 campaign;
  char *shown_at;           /* ISO 8601, UTC */
  char *answered_at;
  gboolean undone;
  gboolean flagged;
} VetoAnnotation;

void veto_annotation_free (VetoAnnotation *annotation);
/* answered_at − shown_at in seconds; NAN when either is unknown or unreadable. */
double veto_annotation_seconds (const VetoAnnotation *annotation);
typedef gboolean (*VetoAnnotationFunc) (const VetoAnnotation *annotation, gpointer user_data);
/* Every annotation in id order, undone ones included (include_undone) or not. */
gboolean veto_store_foreach_annotation (VetoStore *store, gboolean include_undone,
                                        VetoAnnotationFunc func, gpointer user_data,
                                        GError **error);
/* The standing complementary answers on gold anchors, those the annotators' choice models are
 * fitted to: asked as anchors (strategy "anchor") or about an item that is a campaign's anchor;
 * in id order. */
gboolean veto_store_foreach_anchor_answer (VetoStore *store, VetoAnnotationFunc func,
                                           gpointer user_data, GError **error);

/* --- summary --- */
typedef struct
{
  guint64 items;
  guint64 per_split[VETO_N_SPLITS];
  guint64 with_gold;
  guint64 annotations[VETO_N_KINDS]; /* not undone */
  guint64 undone;
  guint64 annotators;
  guint64 rounds;
  guint64 campaigns;
  int schema_version;
} VetoStoreSummary;

gboolean veto_store_summarize (VetoStore *store, VetoStoreSummary *out_summary, GError **error);

/* --- derived data cache (recomputable: features, models) --- */
gboolean veto_store_put_blob (VetoStore *store, const char *key, GBytes *bytes, GError **error);
/* Returns NULL without error when the key is absent. */
GBytes *veto_store_get_blob (VetoStore *store, const char *key, GError **error);

/* --- rounds (one trained model each) --- */
gboolean veto_store_add_round (VetoStore *store, const char *features, const char *model_kind,
                               guint train_size, const char *metrics_json, double seconds,
                               GBytes *weights, gint64 *out_version, GError **error);

/* Writes a consistent copy of the project to PATH (which must not exist). */
gboolean veto_store_copy_to (VetoStore *store, const char *path, GError **error);

/* A saved round: version 0 asks for the latest. Fails with INVALID when there is none. */
gboolean veto_store_get_round (VetoStore *store, gint64 version, gint64 *out_version,
                               char **out_features, GBytes **out_weights, GError **error);

/* --- the lab server's access tokens: only a hash of each is stored --- */
/* Adds a token (its hash, as hex text) for an annotator; admin tokens may read progress and
 * statistics. */
gboolean veto_store_add_token (VetoStore *store, gint64 annotator, const char *hash,
                               gboolean admin, GError **error);
/* Revokes every live token of an annotator; out_revoked (may be NULL) counts them. */
gboolean veto_store_revoke_tokens (VetoStore *store, gint64 annotator, guint *out_revoked,
                                   GError **error);
/* The live (not revoked) token with that hash: *out_annotator is 0 when there is none. */
gboolean veto_store_find_token (VetoStore *store, const char *hash, gint64 *out_annotator,
                                char **out_annotator_name, gboolean *out_admin, GError **error);

/* A standing (not undone) answer of a campaign: who answered which item (for a preference
 * answer, its left item). */
typedef struct
{
  gint64 item;
  gint64 annotator;
} VetoCampaignAnswer;

/* Every standing answer of a campaign (VetoCampaignAnswer elements), in answer order, through
 * the store's own connection (its uncommitted writes included). */
GArray *veto_store_campaign_list_answers (VetoStore *store, gint64 campaign, GError **error);
/* Every standing answer, of a campaign or not, as VetoCampaignAnswer elements in answer order;
 * a preference answer gives two, its left item and its right one. Through the store's own
 * connection, as above. */
GArray *veto_store_list_answered (VetoStore *store, GError **error);

/* One class a standing complementary answer on an item showed. */
typedef struct
{
  gint64 annotation;
  gint64 annotator;
  gint64 answer_class;  /* the class it is NOT */
  gint64 shown_class;
} VetoShownClass;

/* The standing complementary answers on an item, in answer order, one element per class each
 * showed, in the order shown, through the store's own connection (its uncommitted writes
 * included). A few indexed rows: the sessions read it as they compose a question. */
GArray *veto_store_list_complementary (VetoStore *store, gint64 item, GError **error);

/* Questions of a campaign handed out and not yet answered (the lab server's leases), each kept
 * as its holder's JSON text so that a restarted server hands the same questions back. */
gboolean veto_store_put_lease (VetoStore *store, gint64 question, gint64 campaign,
                               gint64 annotator, const char *lease, GError **error);
gboolean veto_store_delete_lease (VetoStore *store, gint64 question, GError **error);
/* The leases' texts, in question order. */
GPtrArray *veto_store_list_leases (VetoStore *store, gint64 campaign, GError **error);

/* --- checking a project file (veto-store-check.c) --- */
/* Every open refuses a file whose schema is not Veto's (NOT_A_PROJECT) or that holds a row Veto
 * would never have written (CORRUPT, naming the table, the row and the problem): pixels that do
 * not fill width × height × channels, dimensions or channels the importer refuses, a class,
 * item, annotator or campaign that does not exist, a question whose JSON does not parse or does
 * not agree with its columns, an absolute path. */

/* One problem found: in a row (row > 0) of a table, or in the schema or the file (row 0, table
 * then names the object: "trigger wipe", "index items_split", "file"). */
typedef struct
{
  char *table;
  gint64 row;
  char *problem;
} VetoStoreProblem;

void veto_store_problem_free (VetoStoreProblem *problem);
/* Checks a project file without writing to it: SQLite's integrity check, the schema, and every
 * row (its first problem, one per bad row). Fails only when path cannot be checked at all
 * (missing, not a Veto project, written by a newer Veto); otherwise returns the problems
 * (VetoStoreProblem elements; empty when the file is sound). File items' paths are checked
 * here as text only: veto_store_item_file and the image loader check the files themselves. */
GPtrArray *veto_store_check (const char *path, GError **error);

/* The file behind a file item, for reading: refuses (CORRUPT) a path that is absolute or not
 * clean UTF-8. The caller checks the file's bytes against item->sha256 as it reads them
 * (veto_image_load_verified), so that a path edited to point anywhere else is never used. */
char *veto_store_item_file (VetoStore *store, const VetoItem *item, GError **error);
/* "PROJECT: items row ID (PATH)": how errors about an item's file name it. */
char *veto_store_describe_item (VetoStore *store, const VetoItem *item);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoStoreProblem, veto_store_problem_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoStore, veto_store_close)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoClass, veto_class_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoItem, veto_item_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoAnnotation, veto_annotation_free)

/* --- statistics for the dashboard (veto-store-stats.c) --- */
/* These read through the store's own connection, on its thread: they see what its holder has
 * written, committed or not. */

/* A standing (not undone) answer touching an item; a preference answer touches both items. */
typedef struct
{
  gint64 item;
  VetoAnswerKind kind;
  gint64 answer_class; /* ordinary: the class; complementary: the class it is NOT; else 0 */
} VetoItemAnswer;

/* Every standing answer, by item then in answer order (VetoItemAnswer elements). */
GArray *veto_store_list_item_answers (VetoStore *store, GError **error);
/* Every answer to one item, undone ones included, either side of a pair, in answer order
 * (VetoAnnotation elements). */
GPtrArray *veto_store_list_item_annotations (VetoStore *store, gint64 item, GError **error);

/* A round as listed (its weights left out). */
typedef struct
{
  gint64 version;
  char *model;
  guint train_size;
  char *metrics_json;
  double seconds;
  char *trained_at;
} VetoRoundInfo;

void veto_round_info_free (VetoRoundInfo *round);
/* Every round in version order (VetoRoundInfo elements). */
GPtrArray *veto_store_list_rounds (VetoStore *store, GError **error);

/* A standing complementary answer on an item with a gold label, as class ids. */
typedef struct
{
  gint64 gold_class;
  gint64 answer_class;
} VetoGoldAnswer;

/* In answer order (VetoGoldAnswer elements): the counts behind a transition-matrix estimate. */
GArray *veto_store_list_complementary_gold (VetoStore *store, GError **error);

typedef struct
{
  char *name;
  VetoAnnotatorKind kind;
  guint answers;       /* standing */
  double mean_seconds; /* shown → answered over standing answers with a shown time; NAN: none */
} VetoAnnotatorStats;

void veto_annotator_stats_free (VetoAnnotatorStats *stats);
/* Every annotator in creation order (VetoAnnotatorStats elements). */
GPtrArray *veto_store_list_annotator_stats (VetoStore *store, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoRoundInfo, veto_round_info_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoAnnotatorStats, veto_annotator_stats_free)

/* --- campaigns and merging (veto-store-campaign.c) --- */
/* The reads go through the store's own connection (they see its uncommitted writes too); what
 * writes (create, close, merge) goes through a short-lived connection of its own in one
 * transaction: call those outside a write transaction of the store's. */

/* A collection campaign: every item answered m times, by m distinct annotators. */
typedef struct
{
  gint64 id;
  char *name;
  VetoAnswerKind protocol; /* ordinary, complementary or preference */
  guint per_item;          /* m: answers per item, each from a different annotator */
  guint n_candidates;      /* complementary: K classes shown, drawn uniformly for every answer */
  double anchor_rate;      /* share of the campaign's items that are gold anchors */
  gboolean closed;
  char *created_at;
  char *closed_at;         /* NULL while open */
} VetoCampaign;

void veto_campaign_free (VetoCampaign *campaign);

typedef struct
{
  const char *name;
  VetoAnswerKind protocol;
  guint per_item;
  guint n_candidates;     /* complementary: 2 ≤ K ≤ number of classes; ignored otherwise */
  double anchor_rate;     /* in [0, 1) */
  VetoSplit split;        /* the items of this split (VETO_N_SPLITS: of every split) */
  guint limit;            /* only the first limit of them in import order (0: all) */
  guint64 seed;           /* draws the anchors */
} VetoCampaignSpec;

/* Creates an open campaign over the items spec selects, plus round (rate · n / (1 − rate))
 * anchors (at least one when rate > 0): items with a gold label outside the selection, drawn
 * uniformly, so that anchors make up rate of the campaign's items. Annotators are not told
 * which items are anchors. */
gboolean veto_store_campaign_create (VetoStore *store, const VetoCampaignSpec *spec,
                                     gint64 *out_id, GError **error);
/* Fails with INVALID when there is no campaign of that name. */
VetoCampaign *veto_store_get_campaign (VetoStore *store, const char *name, GError **error);
/* Every campaign in creation order (VetoCampaign elements). */
GPtrArray *veto_store_list_campaigns (VetoStore *store, GError **error);
/* Closes an open campaign: veto_store_campaign_next then refuses it. */
gboolean veto_store_campaign_close (VetoStore *store, gint64 campaign, GError **error);

typedef struct
{
  gint64 item;
  gboolean anchor;
} VetoCampaignItem;

/* The campaign's items in id order (VetoCampaignItem elements). */
GArray *veto_store_campaign_list_items (VetoStore *store, gint64 campaign, GError **error);

/* The next item to put to annotator: one it has no standing (not undone) answer to in this
 * campaign and that has fewer than m standing answers there, the least-covered first (ties in a
 * pseudo-random order of its own for each annotator name, so anchors come mixed in). Sets
 * *out_item to 0 when nothing is left for this annotator. Answers count towards a campaign
 * through VetoAnswer.campaign; a preference answer counts for its left item. Fails on a closed
 * campaign. */
gboolean veto_store_campaign_next (VetoStore *store, gint64 campaign, gint64 annotator,
                                   gint64 *out_item, gboolean *out_is_anchor, GError **error);
/* The first max_items of those items, in that order (VetoCampaignItem elements; empty when
 * nothing is left): one pass over the campaign for many questions. Coverage stays exact when
 * they are all answered before anyone asks again. */
GArray *veto_store_campaign_next_items (VetoStore *store, gint64 campaign, gint64 annotator,
                                        guint max_items, GError **error);

typedef struct
{
  char *name;
  VetoAnnotatorKind kind;
  guint answers;        /* standing answers in the campaign */
  guint anchor_answers; /* of which on anchors */
} VetoCampaignAnnotator;

typedef struct
{
  guint items;          /* anchors included */
  guint anchors;
  guint answers;        /* standing answers in the campaign */
  guint complete;       /* items with at least m standing answers */
  guint over;           /* items with more than m (copies that overlapped, merged) */
  guint missing;        /* answers still needed: Σ max(0, m − answers) over items */
  GPtrArray *annotators; /* VetoCampaignAnnotator, in annotator creation order */
} VetoCampaignCoverage;

void veto_campaign_coverage_clear (VetoCampaignCoverage *coverage);
gboolean veto_store_campaign_coverage (VetoStore *store, gint64 campaign,
                                       VetoCampaignCoverage *out_coverage, GError **error);

/* What a merge did, or would have done. */
typedef struct
{
  guint answers_added;
  guint answers_present;  /* already in the target: merging the same source again adds nothing */
  guint undos_added;      /* answers in both, undone (or flagged) only in a source: marked so */
  guint classes_added;
  guint annotators_added;
  guint campaigns_added;
  guint campaigns_closed; /* open in the target, closed in a source */
  guint items_unused;     /* source items the target lacks that no answer or campaign uses */
  guint items_over;       /* campaign items with more than m standing answers afterwards */
  GPtrArray *conflicts;   /* one sentence each; any conflict means nothing was written */
} VetoMergeReport;

void veto_merge_report_clear (VetoMergeReport *report);
/* Merges what annotators added to copies of a project (sources, opened read-only) into store,
 * all in one transaction. Items are matched by sha256 (equal digests pair in id order), classes,
 * annotators (same name: same person) and campaigns by name; an answer is the same answer when
 * (annotator, item, kind, answered_at, question) are equal. Source classes, annotators and
 * campaigns the target lacks are added. Conflicts (a used item the target lacks, gold labels,
 * annotator kinds or campaign settings or items that differ, the same answer with another
 * answer) are all listed in out_report, and the merge is then refused with INVALID: the target
 * is left unchanged. */
gboolean veto_store_merge (VetoStore *store, VetoStore *const *sources, guint n_sources,
                           VetoMergeReport *out_report, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoCampaign, veto_campaign_free)

G_END_DECLS
