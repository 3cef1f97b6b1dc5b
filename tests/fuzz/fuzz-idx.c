/* fuzz-idx: libFuzzer target for the IDX importer, the input read as an images file and as a labels file. */
#include <stdint.h>

#include "fuzz-project.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* The fixed files the input is paired with: 3 images of 2 x 2 and their 3 labels. */
#define FIXED_COUNT 3

static char *input_path;
static char *fixed_images_path;
static char *fixed_labels_path;

static void
check_import (const char *source, const char *labels)
{
  VetoImportOptions options = { .format = VETO_FORMAT_IDX, .split = VETO_SPLIT_TEST,
                                .labels_path = labels };

  fuzz_project_check_import (source, &options, TRUE);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* Big-endian IDX: magic 0x00000803 (3 dims), count, rows, cols; then the pixels. */
  static const guint8 images[] = {
    0, 0, 8, 3, 0, 0, 0, FIXED_COUNT, 0, 0, 0, 2, 0, 0, 0, 2,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
  };
  static const guint8 labels[] = { 0, 0, 8, 1, 0, 0, 0, FIXED_COUNT, 0, 9, 4 };

  fuzz_project_init ("idx");
  input_path = fuzz_project_path ("input-idx-ubyte");
  fixed_images_path = fuzz_project_path ("fixed-images-idx3-ubyte");
  fixed_labels_path = fuzz_project_path ("fixed-labels-idx1-ubyte");
  fuzz_project_write (fixed_images_path, images, sizeof images);
  fuzz_project_write (fixed_labels_path, labels, sizeof labels);
  /* Once through the importer, so that GLib's one-time allocations are not charged to an input. */
  check_import (fixed_images_path, fixed_labels_path);
  fuzz_project_reset_if_dirty ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_project_reset_if_dirty ();
  fuzz_project_write (input_path, data, size);
  /* The input as the images file, alone and with the fixed labels... */
  check_import (input_path, NULL);
  check_import (input_path, fixed_labels_path);
  /* ...and as the labels file of the fixed images. */
  check_import (fixed_images_path, input_path);
  return 0;
}
