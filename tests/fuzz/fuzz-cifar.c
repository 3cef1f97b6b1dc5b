/* fuzz-cifar: libFuzzer target for the CIFAR-10 and CIFAR-100 (fine and coarse) binary importers. */
#include <stdint.h>

#include "fuzz-project.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char *input_path;

static void
check_import (const char *source, VetoImportFormat format, gboolean coarse)
{
  VetoImportOptions options = { .format = format, .split = VETO_SPLIT_TEST,
                                .cifar100_coarse = coarse };

  fuzz_project_check_import (source, &options, TRUE);
}

static void
check_all (void)
{
  check_import (input_path, VETO_FORMAT_CIFAR10, FALSE);
  check_import (input_path, VETO_FORMAT_CIFAR100, FALSE);
  check_import (input_path, VETO_FORMAT_CIFAR100, TRUE);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  /* One CIFAR-10 record (label 3) and one CIFAR-100 record (coarse 1, fine 7). */
  g_autofree guint8 *record = g_malloc0 (2 + 3 * 32 * 32);

  fuzz_project_init ("cifar");
  /* Named like no CIFAR file, so that only the forced format decides. */
  input_path = fuzz_project_path ("input.bin");
  /* Once through the importer, so that GLib's one-time allocations are not charged to an input. */
  record[0] = 3;
  fuzz_project_write (input_path, record, 1 + 3 * 32 * 32);
  check_import (input_path, VETO_FORMAT_CIFAR10, FALSE);
  record[0] = 1;
  record[1] = 7;
  fuzz_project_write (input_path, record, 2 + 3 * 32 * 32);
  check_import (input_path, VETO_FORMAT_CIFAR100, FALSE);
  check_import (input_path, VETO_FORMAT_CIFAR100, TRUE);
  fuzz_project_reset_if_dirty ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_project_reset_if_dirty ();
  fuzz_project_write (input_path, data, size);
  check_all ();
  return 0;
}
