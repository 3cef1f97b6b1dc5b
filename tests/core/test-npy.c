/* Tests for veto-npy: round trips, hand-written files, every malformed family, and NumPy itself. */
#include "veto-npy.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* An .npy of the given version whose header is dict (padded and ended with a newline as
 * NumPy does), followed by data. */
static GBytes *
make_npy (guint major, const char *dict, gconstpointer data, gsize data_len)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  g_autoptr (GString) header = g_string_new (dict);
  gsize prefix = major == 1 ? 10 : 12;
  guint8 version[2] = { major, 0 };
  guint8 len[4];

  while ((prefix + header->len + 1) % 64 != 0)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');
  len[0] = header->len & 0xff;
  len[1] = (header->len >> 8) & 0xff;
  len[2] = (header->len >> 16) & 0xff;
  len[3] = (header->len >> 24) & 0xff;
  g_byte_array_append (out, (const guint8 *) "\x93NUMPY", 6);
  g_byte_array_append (out, version, 2);
  g_byte_array_append (out, len, major == 1 ? 2 : 4);
  g_byte_array_append (out, (const guint8 *) header->str, header->len);
  g_byte_array_append (out, data, data_len);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static void
assert_refused (GBytes *bytes, gint code, const char *fragment)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoNpy) npy = veto_npy_decode (bytes, &error);

  g_assert_null (npy);
  g_assert_error (error, VETO_NPY_ERROR, code);
  if (strstr (error->message, fragment) == NULL)
    g_error ("message '%s' lacks '%s'", error->message, fragment);
}

static void
assert_dict_refused (const char *dict, gsize data_len, gint code, const char *fragment)
{
  g_autofree guint8 *data = g_malloc0 (data_len + 1);
  g_autoptr (GBytes) bytes = make_npy (1, dict, data, data_len);

  assert_refused (bytes, code, fragment);
}

static void
test_round_trip (void)
{
  float f4[6] = { 1.5f, -2, 0, 3.25f, 1e30f, -1e-30f };
  double f8[3] = { G_PI, -1e300, 0.5 };
  guint8 u1[24];
  gint64 i8[4] = { G_MININT64, -1, 0, G_MAXINT64 };
  gint32 i4[2] = { G_MININT32, G_MAXINT32 };
  struct
  {
    VetoNpyDtype dtype;
    gsize shape[3];
    guint ndim;
    gconstpointer data;
  } cases[] = {
    { VETO_NPY_FLOAT32, { 2, 3 }, 2, f4 },
    { VETO_NPY_FLOAT64, { 3 }, 1, f8 },
    { VETO_NPY_UINT8, { 2, 3, 4 }, 3, u1 },
    { VETO_NPY_INT64, { 4, 1 }, 2, i8 },
    { VETO_NPY_INT32, { 0 }, 0, i4 },
    { VETO_NPY_INT32, { 0, 2 }, 2, i4 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (u1); i++)
    u1[i] = i * 10;
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (GBytes) bytes = veto_npy_encode (cases[c].dtype, cases[c].shape, cases[c].ndim,
                                                  cases[c].data);
      g_autoptr (GError) error = NULL;
      g_autoptr (VetoNpy) npy = veto_npy_decode (bytes, &error);
      gsize n = 1, size, bytes_len;
      const gsize *shape;
      guint ndim;
      const guint8 *raw = g_bytes_get_data (bytes, &bytes_len);
      gsize header_len = raw[8] | raw[9] << 8;

      g_assert_no_error (error);
      g_assert_cmpint ((10 + header_len) % 64, ==, 0);
      g_assert_cmpint (veto_npy_get_dtype (npy), ==, cases[c].dtype);
      shape = veto_npy_get_shape (npy, &ndim);
      g_assert_cmpuint (ndim, ==, cases[c].ndim);
      for (guint k = 0; k < ndim; k++)
        {
          g_assert_cmpuint (shape[k], ==, cases[c].shape[k]);
          n *= shape[k];
        }
      g_assert_cmpuint (veto_npy_get_n_elements (npy), ==, n);
      g_assert_cmpmem (veto_npy_get_data (npy, &size), n * veto_npy_dtype_size (cases[c].dtype),
                       cases[c].data, n * veto_npy_dtype_size (cases[c].dtype));
      g_assert_cmpuint (size, ==, n * veto_npy_dtype_size (cases[c].dtype));
    }
}

static void
test_encode_exact_bytes (void)
{
  gint32 v[2] = { 1, 2 };
  gsize shape[1] = { 2 };
  g_autoptr (GBytes) bytes = veto_npy_encode (VETO_NPY_INT32, shape, 1, v);
  gsize len;
  const char *raw = g_bytes_get_data (bytes, &len);
  const char *expect = "{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }";

  if (G_BYTE_ORDER != G_LITTLE_ENDIAN)
    {
      g_test_skip ("byte-exact layout is checked on little-endian machines");
      return;
    }
  g_assert_cmpuint (len, ==, 128 + 8);
  g_assert_cmpmem (raw, 8, "\x93NUMPY\x01\x00", 8);
  g_assert_cmpint ((guint8) raw[8], ==, 118);
  g_assert_cmpint (raw[9], ==, 0);
  g_assert_cmpmem (raw + 10, strlen (expect), expect, strlen (expect));
  g_assert_cmpint (raw[127], ==, '\n');
  g_assert_cmpmem (raw + 128, 8, "\x01\x00\x00\x00\x02\x00\x00\x00", 8);
}

static void
test_hand_written (void)
{
  /* 1.0, 2.0 and 3.0 headers, little and big endian, Fortran order, Python 2 longs. */
  const guint8 le_f4[8] = { 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0 }; /* 1, -2 */
  const guint8 be_f8[16] = { 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18,
                             0xbf, 0xf0, 0, 0, 0, 0, 0, 0 };                   /* pi, -1 */
  const guint8 be_i4[8] = { 0, 0, 0, 7, 0xff, 0xff, 0xff, 0xfe };              /* 7, -2 */
  const gint32 fortran[6] = { 1, 4, 2, 5, 3, 6 }; /* [[1, 2, 3], [4, 5, 6]] column-major */
  const gint64 i8[3] = { 10, 20, 30 };
  const guint8 u1[4] = { 1, 2, 3, 255 };

  {
    g_autoptr (GBytes) b = make_npy (1, "{'descr': '<f4', 'fortran_order': False, "
                                        "'shape': (1, 2), }", le_f4, 8);
    g_autoptr (VetoNpy) npy = veto_npy_decode (b, NULL);
    const float *f = veto_npy_get_data (npy, NULL);

    g_assert_nonnull (npy);
    g_assert_cmpfloat (f[0], ==, 1.0f);
    g_assert_cmpfloat (f[1], ==, -2.0f);
  }
  {
    g_autoptr (GBytes) b = make_npy (2, "{\"descr\": \">f8\", \"fortran_order\": False, "
                                        "\"shape\": (2,)}", be_f8, 16);
    g_autoptr (VetoNpy) npy = veto_npy_decode (b, NULL);
    const double *f = veto_npy_get_data (npy, NULL);

    g_assert_nonnull (npy);
    g_assert_cmpint (veto_npy_get_dtype (npy), ==, VETO_NPY_FLOAT64);
    g_assert_cmpfloat (f[0], ==, G_PI);
    g_assert_cmpfloat (f[1], ==, -1.0);
  }
  {
    g_autoptr (GBytes) b = make_npy (3, "{'shape': (2L,), 'fortran_order': False, "
                                        "'descr': '>i4'}", be_i4, 8);
    g_autoptr (VetoNpy) npy = veto_npy_decode (b, NULL);
    const gint32 *v = veto_npy_get_data (npy, NULL);

    g_assert_nonnull (npy);
    g_assert_cmpint (v[0], ==, 7);
    g_assert_cmpint (v[1], ==, -2);
  }
  {
    g_autoptr (GBytes) b = make_npy (1, "{'descr': '<i4', 'fortran_order': True, "
                                        "'shape': (2, 3), }", fortran, sizeof fortran);
    g_autoptr (VetoNpy) npy = veto_npy_decode (b, NULL);
    const gint32 *v = veto_npy_get_data (npy, NULL);

    g_assert_nonnull (npy);
    for (int i = 0; i < 6; i++)
      g_assert_cmpint (v[i], ==, i + 1);
  }
  {
    g_autoptr (GBytes) b = make_npy (1, "{'descr':'<i8','fortran_order':False,'shape':(3,)}",
                                     i8, sizeof i8);
    g_autoptr (VetoNpy) npy = veto_npy_decode (b, NULL);

    g_assert_nonnull (npy);
    g_assert_cmpint (((const gint64 *) veto_npy_get_data (npy, NULL))[2], ==, 30);
  }
  {
    g_autoptr (GBytes) b = make_npy (1, "{'descr': '|u1', 'fortran_order': False, "
                                        "'shape': (2, 2), }", u1, 4);
    g_autoptr (VetoNpy) npy = veto_npy_decode (b, NULL);

    g_assert_nonnull (npy);
    g_assert_cmpint (((const guint8 *) veto_npy_get_data (npy, NULL))[3], ==, 255);
  }
  {
    /* A 0-d array holds one element. */
    g_autoptr (GBytes) b = make_npy (1, "{'descr': '<f4', 'fortran_order': False, "
                                        "'shape': (), }", le_f4, 4);
    g_autoptr (VetoNpy) npy = veto_npy_decode (b, NULL);
    guint ndim = 9;

    g_assert_nonnull (npy);
    veto_npy_get_shape (npy, &ndim);
    g_assert_cmpuint (ndim, ==, 0);
    g_assert_cmpuint (veto_npy_get_n_elements (npy), ==, 1);
  }
}

static void
test_malformed_container (void)
{
  float data[4] = { 0 };
  gsize shape[2] = { 2, 2 };
  g_autoptr (GBytes) good = veto_npy_encode (VETO_NPY_FLOAT32, shape, 2, data);
  gsize len;
  const guint8 *raw = g_bytes_get_data (good, &len);
  g_autofree guint8 *copy = g_memdup2 (raw, len);

  /* Truncated anywhere: inside the magic, the length field, the header, the data. */
  for (gsize cut = 0; cut < len; cut++)
    {
      g_autoptr (GBytes) b = g_bytes_new (raw, cut);
      g_autoptr (GError) error = NULL;
      g_autoptr (VetoNpy) npy = veto_npy_decode (b, &error);

      g_assert_null (npy);
      g_assert_error (error, VETO_NPY_ERROR,
                      (cut < len - sizeof data ? VETO_NPY_ERROR_FORMAT : VETO_NPY_ERROR_SIZE));
    }
  {
    g_autofree guint8 *longer = g_malloc0 (len + 1);
    g_autoptr (GBytes) b = NULL;

    memcpy (longer, raw, len);
    b = g_bytes_new (longer, len + 1);
    assert_refused (b, VETO_NPY_ERROR_SIZE, "claims 16 bytes of data but the file has 17");
  }
  {
    g_autoptr (GBytes) b = NULL;

    copy[1] = 'X';
    b = g_bytes_new (copy, len);
    assert_refused (b, VETO_NPY_ERROR_FORMAT, "bad magic");
    copy[1] = 'N';
  }
  {
    g_autoptr (GBytes) b = NULL;

    copy[6] = 4;
    b = g_bytes_new (copy, len);
    assert_refused (b, VETO_NPY_ERROR_UNSUPPORTED, "version 4.0");
    copy[6] = 1;
  }
  {
    g_autoptr (GBytes) b = NULL;

    copy[8] = 0xff;
    copy[9] = 0x7f;
    b = g_bytes_new (copy, len);
    assert_refused (b, VETO_NPY_ERROR_FORMAT, "header claims 32767 bytes");
  }
  {
    /* A header length pointing inside the header: the newline is not where it says. */
    g_autoptr (GBytes) b = NULL;

    copy[8] = 20;
    copy[9] = 0;
    b = g_bytes_new (copy, len);
    assert_refused (b, VETO_NPY_ERROR_FORMAT, "newline");
  }
  {
    /* Version 2.0 with a 4 GiB header length. */
    guint8 v2[16] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0, 0xff, 0xff, 0xff, 0xff, '{' };
    g_autoptr (GBytes) b = g_bytes_new (v2, sizeof v2);

    assert_refused (b, VETO_NPY_ERROR_FORMAT, "header claims 4294967295 bytes");
  }
  {
    g_autoptr (GBytes) b = g_bytes_new ("", 0);

    assert_refused (b, VETO_NPY_ERROR_FORMAT, "bad magic");
  }
}

static void
test_malformed_header (void)
{
  /* Shapes that lie about the data. */
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, "
                       "1000000000), }", 16, VETO_NPY_ERROR_SIZE, "claims 4000000000000000000");
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }", 16,
                       VETO_NPY_ERROR_SIZE, "claims 24 bytes of data but the file has 16");
  /* Negative and overflowing dimensions. */
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }", 16,
                       VETO_NPY_ERROR_FORMAT, "negative dimension");
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': False, 'shape': "
                       "(4294967296, 4294967296, 16), }", 16, VETO_NPY_ERROR_SIZE,
                       "more elements than can be addressed");
  assert_dict_refused ("{'descr': '<f8', 'fortran_order': False, 'shape': "
                       "(3074457345618258603,), }", 16, VETO_NPY_ERROR_SIZE,
                       "more elements than can be addressed");
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': False, 'shape': "
                       "(99999999999999999999999,), }", 16, VETO_NPY_ERROR_FORMAT, "too large");
  /* Wrong dtypes. */
  assert_dict_refused ("{'descr': '<i2', 'fortran_order': False, 'shape': (8,), }", 16,
                       VETO_NPY_ERROR_UNSUPPORTED, "dtype '<i2'");
  assert_dict_refused ("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16,
                       VETO_NPY_ERROR_UNSUPPORTED, "dtype '<c8'");
  assert_dict_refused ("{'descr': '|f4', 'fortran_order': False, 'shape': (4,), }", 16,
                       VETO_NPY_ERROR_UNSUPPORTED, "dtype '|f4'");
  assert_dict_refused ("{'descr': '<f4x', 'fortran_order': False, 'shape': (4,), }", 16,
                       VETO_NPY_ERROR_UNSUPPORTED, "dtype");
  assert_dict_refused ("{'descr': '', 'fortran_order': False, 'shape': (4,), }", 16,
                       VETO_NPY_ERROR_UNSUPPORTED, "dtype ''");
  assert_dict_refused ("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", 16,
                       VETO_NPY_ERROR_UNSUPPORTED, "structured");
  /* Garbage dictionaries. */
  assert_dict_refused ("", 16, VETO_NPY_ERROR_FORMAT, "expected '{'");
  assert_dict_refused ("[1, 2, 3]", 16, VETO_NPY_ERROR_FORMAT, "expected '{'");
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': False, 'shape': (4), }", 16,
                       VETO_NPY_ERROR_FORMAT, "trailing comma");
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': False, 'shape': (4,,), }", 16,
                       VETO_NPY_ERROR_FORMAT, "non-negative integer");
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': False, 'shape': [4], }", 16,
                       VETO_NPY_ERROR_FORMAT, "expected '('");
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': False, 'shape': (4,) }}", 16,
                       VETO_NPY_ERROR_FORMAT, "after the dictionary");
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': 0, 'shape': (4,), }", 16,
                       VETO_NPY_ERROR_FORMAT, "True or False");
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': Falsey, 'shape': (4,), }", 16,
                       VETO_NPY_ERROR_FORMAT, "True or False");
  assert_dict_refused ("{'descr': '<f4', 'shape': (4,), }", 16, VETO_NPY_ERROR_FORMAT,
                       "missing key 'fortran_order'");
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'x': 1}", 16,
                       VETO_NPY_ERROR_FORMAT, "unknown key 'x'");
  assert_dict_refused ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                       "'shape': (4,)}", 16, VETO_NPY_ERROR_FORMAT, "appears twice");
  assert_dict_refused ("{'descr': '<f4' 'fortran_order': False, 'shape': (4,)}", 16,
                       VETO_NPY_ERROR_FORMAT, "expected ','");
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': False, 'shape': (4,)", 16,
                       VETO_NPY_ERROR_FORMAT, "expected ','");
  assert_dict_refused ("{'descr': '<f\\x34', 'fortran_order': False, 'shape': (4,)}", 16,
                       VETO_NPY_ERROR_FORMAT, "unsupported character");
  assert_dict_refused ("{'descr: '<f4', 'fortran_order': False, 'shape': (4,)}", 16,
                       VETO_NPY_ERROR_FORMAT, "expected ':'");
  assert_dict_refused ("{descr: '<f4', 'fortran_order': False, 'shape': (4,)}", 16,
                       VETO_NPY_ERROR_FORMAT, "quoted string");
  assert_dict_refused ("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), } ; import os",
                       16, VETO_NPY_ERROR_FORMAT, "after the dictionary");
  {
    /* 33 dimensions. */
    g_autoptr (GString) dict = g_string_new ("{'descr': '<f4', 'fortran_order': False, 'shape': (");

    for (int i = 0; i < 33; i++)
      g_string_append (dict, "1, ");
    g_string_append (dict, "), }");
    assert_dict_refused (dict->str, 4, VETO_NPY_ERROR_UNSUPPORTED, "more than 32 dimensions");
  }
  {
    /* Header without its final newline. */
    const guint8 raw[] = "\x93NUMPY\x01\x00\x39\x00{'descr': '<f4', 'fortran_order': False, "
                         "'shape': (0,), }";
    g_autoptr (GBytes) b = g_bytes_new (raw, sizeof raw - 1);

    assert_refused (b, VETO_NPY_ERROR_FORMAT, "newline");
  }
}

static void
test_float32_matrix (void)
{
  double f8[6] = { 1, 2, 3, 4, 5, 6.5 };
  gsize shape2[2] = { 2, 3 }, shape1[1] = { 6 }, shape0[2] = { 0, 3 };
  g_autoptr (GError) error = NULL;

  {
    g_autoptr (GBytes) b = veto_npy_encode (VETO_NPY_FLOAT64, shape2, 2, f8);
    g_autoptr (VetoNpy) npy = veto_npy_decode (b, &error);
    g_autofree float *m = NULL;
    gsize rows = 0, cols = 0;

    g_assert_no_error (error);
    m = veto_npy_to_float32_matrix (npy, &rows, &cols, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (rows, ==, 2);
    g_assert_cmpuint (cols, ==, 3);
    g_assert_cmpfloat (m[5], ==, 6.5f);
  }
  {
    g_autoptr (GBytes) b = veto_npy_encode (VETO_NPY_FLOAT64, shape1, 1, f8);
    g_autoptr (VetoNpy) npy = veto_npy_decode (b, NULL);
    gsize rows, cols;

    g_assert_null (veto_npy_to_float32_matrix (npy, &rows, &cols, &error));
    g_assert_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_SHAPE);
    g_clear_error (&error);
  }
  {
    g_autoptr (GBytes) b = veto_npy_encode (VETO_NPY_FLOAT32, shape0, 2, f8);
    g_autoptr (VetoNpy) npy = veto_npy_decode (b, NULL);
    gsize rows, cols;

    g_assert_null (veto_npy_to_float32_matrix (npy, &rows, &cols, &error));
    g_assert_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_SHAPE);
    g_clear_error (&error);
  }
  {
    gint64 i8[6] = { 0 };
    g_autoptr (GBytes) b = veto_npy_encode (VETO_NPY_INT64, shape2, 2, i8);
    g_autoptr (VetoNpy) npy = veto_npy_decode (b, NULL);
    gsize rows, cols;

    g_assert_null (veto_npy_to_float32_matrix (npy, &rows, &cols, &error));
    g_assert_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_SHAPE);
    g_assert_nonnull (strstr (error->message, "float32 or float64"));
    g_clear_error (&error);
  }
  f8[4] = NAN;
  {
    g_autoptr (GBytes) b = veto_npy_encode (VETO_NPY_FLOAT64, shape2, 2, f8);
    g_autoptr (VetoNpy) npy = veto_npy_decode (b, NULL);
    gsize rows, cols;

    g_assert_null (veto_npy_to_float32_matrix (npy, &rows, &cols, &error));
    g_assert_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_VALUE);
    g_assert_nonnull (strstr (error->message, "row 1, column 1"));
    g_clear_error (&error);
  }
  f8[4] = 1e300;
  {
    g_autoptr (GBytes) b = veto_npy_encode (VETO_NPY_FLOAT64, shape2, 2, f8);
    g_autoptr (VetoNpy) npy = veto_npy_decode (b, NULL);
    gsize rows, cols;

    g_assert_null (veto_npy_to_float32_matrix (npy, &rows, &cols, &error));
    g_assert_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_VALUE);
  }
}

static gboolean
have_numpy (void)
{
  const char *argv[] = { "/usr/bin/python3", "-c", "import numpy", NULL };
  int status = 1;

  if (!g_file_test (argv[0], G_FILE_TEST_IS_EXECUTABLE))
    return FALSE;
  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL
                     | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, &status, NULL))
    return FALSE;
  return g_spawn_check_wait_status (status, NULL);
}

static char *
run_python (const char *script, const char *arg)
{
  const char *argv[] = { "/usr/bin/python3", "-c", script, arg, NULL };
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL, *err = NULL;
  int status;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                               &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("python failed: %s", err);
  return g_strstrip (g_steal_pointer (&out));
}

/* Our encoder read by NumPy, and NumPy's writer (every version, big-endian, Fortran order)
 * read by our decoder, compared through a checksum printed by each side. */
static void
test_numpy (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  float f4[12];
  guint8 u1[2 * 3 * 2 * 3];
  gint64 i8[5] = { -3, 0, 7, G_MAXINT32 + 5LL, -G_MAXINT32 * 3LL };
  gsize shape_f4[2] = { 3, 4 }, shape_u1[4] = { 2, 3, 2, 3 }, shape_i8[1] = { 5 };
  struct
  {
    VetoNpyDtype dtype;
    const gsize *shape;
    guint ndim;
    gconstpointer data;
    const char *expect;
  } cases[] = {
    { VETO_NPY_FLOAT32, shape_f4, 2, f4, "float32 (3, 4) 7.5" },
    { VETO_NPY_UINT8, shape_u1, 4, u1, "uint8 (2, 3, 2, 3) 4110" },
    { VETO_NPY_INT64, shape_i8, 1, i8, "int64 (5,) -4294967285" },
  };

  if (!have_numpy ())
    {
      g_test_skip ("/usr/bin/python3 with numpy is not available");
      return;
    }
  for (int i = 0; i < 12; i++)
    f4[i] = i * 0.75f - 3.5f;
  for (guint i = 0; i < G_N_ELEMENTS (u1); i++)
    u1[i] = (i * 37) % 256;
  dir = g_dir_make_tmp ("veto-npy-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (dir, "a.npy", NULL);

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr (GBytes) b = veto_npy_encode (cases[c].dtype, cases[c].shape, cases[c].ndim,
                                              cases[c].data);
      g_autofree char *out = NULL;

      g_assert_true (g_file_set_contents (path, g_bytes_get_data (b, NULL),
                                          g_bytes_get_size (b), &error));
      out = run_python ("import sys, numpy as np\n"
                        "a = np.load(sys.argv[1])\n"
                        "f = a.dtype.kind == 'f'\n"
                        "s = a.astype(np.float64).sum() if f else int(a.astype(object).sum())\n"
                        "print(a.dtype, a.shape, s)", path);
      g_assert_cmpstr (out, ==, cases[c].expect);
    }

  for (int version = 1; version <= 3; version++)
    {
      g_autofree char *script = g_strdup_printf (
          "import sys, numpy as np\n"
          "a = (np.arange(24, dtype=np.float64).reshape(2, 3, 4) * 0.5 - 1).astype('>f8')\n"
          "a = np.asfortranarray(a)\n"
          "with open(sys.argv[1], 'wb') as f:\n"
          "    np.lib.format.write_array(f, a, version=(%d, 0))\n"
          "print(float((a * np.arange(24).reshape(2, 3, 4)).sum()))", version);
      g_autofree char *out = run_python (script, path);
      g_autofree char *contents = NULL;
      gsize len;
      g_autoptr (GBytes) b = NULL;
      g_autoptr (VetoNpy) npy = NULL;
      const double *v;
      double weighted = 0;

      g_assert_true (g_file_get_contents (path, &contents, &len, &error));
      b = g_bytes_new (contents, len);
      npy = veto_npy_decode (b, &error);
      g_assert_no_error (error);
      g_assert_cmpint (veto_npy_get_dtype (npy), ==, VETO_NPY_FLOAT64);
      g_assert_cmpuint (veto_npy_get_n_elements (npy), ==, 24);
      v = veto_npy_get_data (npy, NULL);
      for (int i = 0; i < 24; i++)
        weighted += v[i] * i;
      g_assert_cmpfloat_with_epsilon (weighted, g_ascii_strtod (out, NULL), 1e-9);
    }
  g_remove (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/npy/round-trip", test_round_trip);
  g_test_add_func ("/npy/encode-exact-bytes", test_encode_exact_bytes);
  g_test_add_func ("/npy/hand-written", test_hand_written);
  g_test_add_func ("/npy/malformed-container", test_malformed_container);
  g_test_add_func ("/npy/malformed-header", test_malformed_header);
  g_test_add_func ("/npy/float32-matrix", test_float32_matrix);
  g_test_add_func ("/npy/numpy", test_numpy);
  return g_test_run ();
}
