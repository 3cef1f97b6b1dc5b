/* veto-label-view: asks the engine's current question and records the annotator's answer. */
#pragma once

#include <adwaita.h>

#include "veto-engine.h"

G_BEGIN_DECLS

#define VETO_TYPE_LABEL_VIEW (veto_label_view_get_type ())
G_DECLARE_FINAL_TYPE (VetoLabelView, veto_label_view, VETO, LABEL_VIEW, AdwBin)

/*
 * Actions (keys work anywhere in the window while the view is shown):
 *   label.answer     u  the n-th choice as shown, from 0 (keys 1–9, 0)
 *   label.choose     x  a class by id (the choice buttons)
 *   label.prefer     s  "left", "right" or "tie" (←, →, =)
 *   label.skip          (Space)
 *   label.flag          flags the item for review (F)
 *   label.undo          the last answer, up to VETO_ENGINE_UNDO_DEPTH back (Ctrl+Z, BackSpace)
 *   label.new-class     asks for a name, adds the class and answers with it (ordinary)
 *   label.zoom-in, label.zoom-out, label.zoom-reset   (+, −, Ctrl+0)
 */

/* The engine whose questions are asked (NULL: none). The view never waits for it. */
void veto_label_view_set_engine (VetoLabelView *self, VetoEngine *engine);

/* The question on screen (NULL when there is none), as it was shown. */
const VetoQuestion *veto_label_view_get_question (VetoLabelView *self);
/* Class ids of the choices as shown now, in order (ordinary: after filtering). */
GArray *veto_label_view_get_choices (VetoLabelView *self);
/* The type-to-filter entry of ordinary questions with more than ten classes. */
GtkEditable *veto_label_view_get_filter (VetoLabelView *self);

G_END_DECLS
