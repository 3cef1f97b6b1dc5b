/* veto-stats-load: answers read into a VetoStatsInput: `veto stats`, the dashboard, the learner. */
#pragma once

#include "veto-stats.h"
#include "veto-store.h"

G_BEGIN_DECLS

typedef enum
{
  /* Every standing ordinary and complementary answer (of one campaign, or of all). */
  VETO_STATS_LOAD_ANSWERS,
  /* Only the complementary answers the learner fits the annotators' choice models to
   * (veto_store_foreach_anchor_answer ()), on items with a gold label. */
  VETO_STATS_LOAD_ANCHOR_ANSWERS,
} VetoStatsLoadWhat;

/* What was read: input points into the arrays below, which the load owns. Class indexes follow
 * the class list the load numbered by (classes); annotator indexes the order of first answers
 * (annotator_names, annotator_ids). An item is an anchor when it is a campaign's anchor (of the
 * campaign read, or of any) or was asked as one (strategy "anchor"). A complementary answer's
 * set keeps the classes of that list; it is dropped (shown NULL: the answer still counts, but
 * fits no choice model) when fewer than two remain or the class answered is not among them. An
 * answer naming a class outside the list is not read. */
typedef struct
{
  VetoStatsInput input;
  GPtrArray *classes;         /* VetoClass */
  GPtrArray *annotator_names; /* char * */
  GArray *annotator_ids;      /* gint64: their store ids */
  gint64 campaign;            /* the campaign read, 0: every answer */
  /*< private >*/
  GArray *gold;
  GArray *anchor;
  GArray *answers;
  GPtrArray *shown;
} VetoStatsLoad;

/* Reads the answers of campaign_name (NULL: every answer; only with VETO_STATS_LOAD_ANSWERS),
 * numbering classes by `classes` (VetoClass; NULL: the store's list now), so that a caller
 * holding an older list (a learner's dataset) gets its own numbering and no class it lacks.
 * Fails with VETO_STORE_ERROR_INVALID when no campaign has that name, or as the store fails;
 * out_load is then empty but must still be cleared. */
gboolean veto_stats_load (VetoStore *store, VetoStatsLoadWhat what, const char *campaign_name,
                          GPtrArray *classes, VetoStatsLoad *out_load, GError **error);
void veto_stats_load_clear (VetoStatsLoad *load);

G_END_DECLS
