/* A loadable module that keeps its memory in its own static and is unloaded before exit, like a GL driver. */
#include <stdlib.h>

void *leaky_module_buffer;

void leaky_module_grow (void);

void
leaky_module_grow (void)
{
  leaky_module_buffer = realloc (leaky_module_buffer, 128);
}
