/* veto-welcome: the start page: the annotator's name, recent projects, new projects, the demo. */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define VETO_TYPE_WELCOME (veto_welcome_get_type ())
G_DECLARE_FINAL_TYPE (VetoWelcome, veto_welcome, VETO, WELCOME, AdwBin)

/*
 * Actions:
 *   welcome.new          s  a new project from "folder", "idx", "cifar" or "csv" data (choosers)
 *   welcome.demo            builds (once) and opens the Fashion-MNIST demo
 *   welcome.open-recent  s  opens a recent project
 *   welcome.forget       s  takes a project off the recent list
 *   welcome.use-name     s  answers under an earlier name
 * A project is opened by activating "win.open-project" with its path.
 */

GtkWidget *veto_welcome_new (GSettings *settings);

G_END_DECLS
