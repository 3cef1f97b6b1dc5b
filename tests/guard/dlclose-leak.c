/* Loads leaky-module, lets it allocate and unloads it: LeakSanitizer then reports a leak that names no module. */
#include <dlfcn.h>
#include <stdio.h>

int
main (int argc, char **argv)
{
  void *module;
  void (*grow) (void);

  if (argc != 2)
    {
      fprintf (stderr, "usage: %s MODULE.so\n", argv[0]);
      return 2;
    }
  module = dlopen (argv[1], RTLD_NOW | RTLD_LOCAL);
  if (module == NULL)
    {
      fprintf (stderr, "%s\n", dlerror ());
      return 2;
    }
  *(void **) &grow = dlsym (module, "leaky_module_grow");
  if (grow == NULL)
    return 2;
  grow ();
  dlclose (module);
  puts ("1..1");
  puts ("ok 1 - the module was loaded, used and unloaded");
  return 0;
}
