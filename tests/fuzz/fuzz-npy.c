/* fuzz-npy: libFuzzer target for the .npy decoder and its float32 matrix view (features npy:FILE). */
#include <glib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "veto-npy.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

G_GNUC_NORETURN static void
die (const char *what, const char *detail)
{
  fprintf (stderr, "fuzz-npy: invariant broken: %s%s%s\n", what, detail ? ": " : "",
           detail ? detail : "");
  abort ();
}

/* A failure must say why, a success must not. */
static void
check_error (gboolean ok, const GError *error, const char *what)
{
  if (!ok && error == NULL)
    die (what, "failed without setting an error");
  if (!ok && (error->domain != VETO_NPY_ERROR || error->message == NULL || !*error->message))
    die (what, "failed with an error outside VETO_NPY_ERROR or without a message");
  if (ok && error != NULL)
    die (what, error->message);
}

/* What the accessors say of a decoded array must hold together. */
static void
check_array (const VetoNpy *npy)
{
  guint ndim = 0;
  const gsize *shape = veto_npy_get_shape (npy, &ndim);
  gsize n = veto_npy_get_n_elements (npy), product = 1, size = 0;
  gconstpointer bytes = veto_npy_get_data (npy, &size);
  VetoNpyDtype dtype = veto_npy_get_dtype (npy);
  gsize element = veto_npy_dtype_size (dtype);

  if (element == 0 || veto_npy_dtype_to_string (dtype) == NULL)
    die ("decoded an unknown dtype", NULL);
  if (ndim > VETO_NPY_MAX_DIMS)
    die ("decoded more dimensions than VETO_NPY_MAX_DIMS", NULL);
  for (guint k = 0; k < ndim; k++)
    product *= shape[k];
  if (product != n)
    die ("n_elements is not the product of the shape", NULL);
  if (size != n * element)
    die ("the data size is not n_elements times the element size", NULL);
  if (size > 0 && bytes == NULL)
    die ("non-empty data without a pointer", NULL);
  /* Touch every byte: ASan sees a data pointer that runs past its buffer. */
  if (size > 0)
    {
      volatile guint8 sink = 0;

      for (gsize i = 0; i < size; i++)
        sink ^= ((const guint8 *) bytes)[i];
      (void) sink;
    }
}

/* Encoding what was decoded and decoding it again gives the same array. */
static void
check_round_trip (const VetoNpy *npy)
{
  guint ndim = 0;
  const gsize *shape = veto_npy_get_shape (npy, &ndim);
  gsize size = 0, again_size = 0;
  gconstpointer data = veto_npy_get_data (npy, &size);
  g_autoptr (GBytes) encoded = veto_npy_encode (veto_npy_get_dtype (npy), shape, ndim, data);
  g_autoptr (VetoNpy) again = NULL;
  g_autoptr (GError) error = NULL;
  const gsize *again_shape;
  gconstpointer again_data;
  guint again_ndim = 0;

  if (encoded == NULL)
    die ("veto_npy_encode refused a decoded array", NULL);
  again = veto_npy_decode (encoded, &error);
  if (again == NULL)
    die ("veto_npy_decode refused what veto_npy_encode wrote", error->message);
  again_shape = veto_npy_get_shape (again, &again_ndim);
  again_data = veto_npy_get_data (again, &again_size);
  if (veto_npy_get_dtype (again) != veto_npy_get_dtype (npy) || again_ndim != ndim
      || (ndim > 0 && memcmp (again_shape, shape, ndim * sizeof (gsize)) != 0))
    die ("the round trip changed the dtype or the shape", NULL);
  if (again_size != size || (size > 0 && memcmp (again_data, data, size) != 0))
    die ("the round trip changed the data", NULL);
}

static void
check_matrix (const VetoNpy *npy)
{
  g_autoptr (GError) error = NULL;
  g_autofree float *matrix = NULL;
  gsize rows = 0, cols = 0;
  guint ndim = 0;
  const gsize *shape = veto_npy_get_shape (npy, &ndim);

  matrix = veto_npy_to_float32_matrix (npy, &rows, &cols, &error);
  check_error (matrix != NULL, error, "veto_npy_to_float32_matrix");
  if (matrix == NULL)
    return;
  if (ndim != 2 || rows != shape[0] || cols != shape[1] || rows * cols == 0
      || rows * cols != veto_npy_get_n_elements (npy))
    die ("a matrix whose size is not the array's 2-D shape", NULL);
  if (veto_npy_get_dtype (npy) != VETO_NPY_FLOAT32 && veto_npy_get_dtype (npy) != VETO_NPY_FLOAT64)
    die ("a float32 matrix made from an integer array", NULL);
  for (gsize i = 0; i < rows * cols; i++)
    if (!isfinite (matrix[i]))
      die ("a matrix with a value that is not finite", NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  /* A copy the size of the input, so that ASan catches a read one byte past its end. */
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (VetoNpy) npy = NULL;
  g_autoptr (GError) error = NULL;

  npy = veto_npy_decode (bytes, &error);
  check_error (npy != NULL, error, "veto_npy_decode");
  if (npy == NULL)
    return 0;
  check_array (npy);
  check_round_trip (npy);
  check_matrix (npy);
  return 0;
}
