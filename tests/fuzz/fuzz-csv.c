/* fuzz-csv: libFuzzer target for the CSV manifest importer, among real images, a non-image and a link out. */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "fuzz-project.h"
#include "veto-image.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char *input_path;  /* the manifest */

static gboolean
check_import (void)
{
  VetoImportOptions options = { .format = VETO_FORMAT_CSV, .split = VETO_SPLIT_POOL };

  /* Rows name their own split: only the count is checked. */
  return fuzz_project_check_import (input_path, &options, FALSE);
}

static void
save_png (const char *path, guint8 shade)
{
  g_autoptr (VetoImage) image = veto_image_new (2, 2, 3);
  g_autoptr (GError) error = NULL;

  for (gsize i = 0; i < veto_image_n_bytes (image); i++)
    image->data[i] = (guint8) (shade + 40 * i);
  if (!veto_image_save_png (image, path, &error))
    fuzz_project_die ("cannot write a PNG", error->message);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  static const char manifest[] = "path,label,split\na.png,cat,pool\nsub/b.png,dog,test\n";
  g_autofree char *sub = NULL;
  g_autofree char *a = NULL;
  g_autofree char *b = NULL;
  g_autofree char *not_image = NULL;
  g_autofree char *symlink_path = NULL;
  g_autofree char *outside = NULL;

  fuzz_project_init ("csv");
  /* What a manifest's paths can meet: two images (one in a subfolder), a file that is not an
   * image, an image outside the folder and a symbolic link to it. */
  sub = fuzz_project_path ("data/sub");
  if (g_mkdir_with_parents (sub, 0700) != 0)
    fuzz_project_die ("cannot make a folder", g_strerror (errno));
  input_path = fuzz_project_path ("data/manifest.csv");
  a = fuzz_project_path ("data/a.png");
  b = fuzz_project_path ("data/sub/b.png");
  not_image = fuzz_project_path ("data/not-an-image.png");
  symlink_path = fuzz_project_path ("data/link.png");
  outside = fuzz_project_path ("outside.png");
  save_png (a, 10);
  save_png (b, 20);
  save_png (outside, 30);
  fuzz_project_write (not_image, "not a PNG\n", 10);
  if (symlink ("../outside.png", symlink_path) != 0)
    fuzz_project_die ("cannot make a symbolic link", g_strerror (errno));
  /* Once through the importer, so that GLib's one-time allocations are not charged to an input. */
  fuzz_project_write (input_path, manifest, sizeof manifest - 1);
  check_import ();
  fuzz_project_reset_if_dirty ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_project_reset_if_dirty ();
  fuzz_project_write (input_path, data, size);
  /* Importing it again meets every image as a duplicate already in the project. */
  if (check_import ())
    check_import ();
  return 0;
}
