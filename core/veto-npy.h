/* veto-npy: NumPy .npy (versions 1.0, 2.0, 3.0) encoding and strictly validated decoding. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VETO_NPY_ERROR (veto_npy_error_quark ())
GQuark veto_npy_error_quark (void);

typedef enum
{
  VETO_NPY_ERROR_FORMAT,      /* not an .npy, or a malformed header */
  VETO_NPY_ERROR_UNSUPPORTED, /* a valid .npy this codec does not read (dtype, version) */
  VETO_NPY_ERROR_SIZE,        /* the data does not have the length the header claims */
  VETO_NPY_ERROR_SHAPE,       /* the array's dtype or shape is not what the caller asked for */
  VETO_NPY_ERROR_VALUE,       /* a value cannot be used (NaN, infinity, out of range) */
} VetoNpyError;

typedef enum
{
  VETO_NPY_FLOAT32, /* '<f4' */
  VETO_NPY_FLOAT64, /* '<f8' */
  VETO_NPY_UINT8,   /* '|u1' */
  VETO_NPY_INT64,   /* '<i8' */
  VETO_NPY_INT32,   /* '<i4' */
} VetoNpyDtype;

/* Same limit as NumPy 1.x. */
#define VETO_NPY_MAX_DIMS 32

typedef struct _VetoNpy VetoNpy;

/* Parses a whole .npy file held in memory. Big-endian arrays are converted to native order,
 * Fortran-order arrays are transposed to C order, so the data is always native and row-major.
 * Never allocates more than the size of bytes, whatever the header claims. Error messages
 * do not name the file: callers prefix it. */
VetoNpy *veto_npy_decode (GBytes *bytes, GError **error);
void veto_npy_free (VetoNpy *npy);

VetoNpyDtype veto_npy_get_dtype (const VetoNpy *npy);
/* Borrowed; out_ndim may be 0 (a scalar). */
const gsize *veto_npy_get_shape (const VetoNpy *npy, guint *out_ndim);
gsize veto_npy_get_n_elements (const VetoNpy *npy);
/* Borrowed, native byte order, C order; out_size is the length in bytes. */
gconstpointer veto_npy_get_data (const VetoNpy *npy, gsize *out_size);

/* A 2-D float32 or float64 array as a newly allocated float32 row-major matrix. Refuses other
 * dtypes and shapes, empty matrices, and values that are not finite as float32. */
float *veto_npy_to_float32_matrix (const VetoNpy *npy, gsize *out_rows, gsize *out_cols,
                                   GError **error);

/* The same checks without the copy, for a float32 matrix whose data is a slice of the bytes it
 * was decoded from (native byte order, C order, aligned: what NumPy writes on this machine):
 * those bytes, so that a file read whole is not copied a second time. NULL without an
 * error when the data is not of that kind (use veto_npy_to_float32_matrix), NULL with one when
 * the matrix cannot be used. */
GBytes *veto_npy_float32_matrix_bytes (const VetoNpy *npy, gsize *out_rows, gsize *out_cols,
                                       GError **error);

/* Bytes of a version 1.0 .npy holding data: the product of shape elements of dtype, in native
 * byte order and C order (ndim at most VETO_NPY_MAX_DIMS). */
GBytes *veto_npy_encode (VetoNpyDtype dtype, const gsize *shape, guint ndim, gconstpointer data);

/* Size in bytes of one element. */
gsize veto_npy_dtype_size (VetoNpyDtype dtype);
/* The descr string written in headers for this machine's byte order, e.g. "<f4". */
const char *veto_npy_dtype_to_string (VetoNpyDtype dtype);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VetoNpy, veto_npy_free)

G_END_DECLS
