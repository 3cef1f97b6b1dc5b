/* test-util: what the core test programs share: removing a fixture's folder. */
#pragma once

#include <glib.h>

/* Removes path and, for a folder, everything in it (symbolic links are removed, never
 * followed); asserts that nothing is left. */
void veto_test_remove_tree (const char *path);
