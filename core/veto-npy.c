/* veto-npy: NumPy .npy (versions 1.0, 2.0, 3.0) encoding and strictly validated decoding. */
#include "veto-npy.h"

#include <math.h>
#include <string.h>

G_DEFINE_QUARK (veto-npy-error-quark, veto_npy_error)

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
/* Header dicts written by NumPy are a few hundred bytes; anything longer than this is not a
 * header we could ever accept, and refusing it early keeps the parser's work bounded. */
#define NPY_MAX_HEADER_LEN (1u << 20)
#define NPY_MAX_STRING 64

struct _VetoNpy
{
  VetoNpyDtype dtype;
  guint ndim;
  gsize shape[VETO_NPY_MAX_DIMS];
  gsize n_elements;
  /* Either a slice of the input kept alive by a reference, or our own converted copy. */
  GBytes *bytes;
  gconstpointer data;
  gpointer owned;
  gsize size;
};

typedef struct
{
  const char *text;
  gsize len;
  gsize pos;
} Cursor;

typedef struct
{
  VetoNpyDtype dtype;
  gboolean big_endian;
  gboolean fortran_order;
  guint ndim;
  gsize shape[VETO_NPY_MAX_DIMS];
} Header;

static const struct
{
  char kind;
  guint size;
  VetoNpyDtype dtype;
} dtype_table[] = {
  { 'f', 4, VETO_NPY_FLOAT32 },
  { 'f', 8, VETO_NPY_FLOAT64 },
  { 'u', 1, VETO_NPY_UINT8 },
  { 'i', 8, VETO_NPY_INT64 },
  { 'i', 4, VETO_NPY_INT32 },
};

gsize
veto_npy_dtype_size (VetoNpyDtype dtype)
{
  for (guint i = 0; i < G_N_ELEMENTS (dtype_table); i++)
    if (dtype_table[i].dtype == dtype)
      return dtype_table[i].size;
  g_return_val_if_reached (0);
}

const char *
veto_npy_dtype_to_string (VetoNpyDtype dtype)
{
#if G_BYTE_ORDER == G_LITTLE_ENDIAN
  static const char *names[] = { "<f4", "<f8", "|u1", "<i8", "<i4" };
#else
  static const char *names[] = { ">f4", ">f8", "|u1", ">i8", ">i4" };
#endif

  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (names), NULL);
  return names[dtype];
}

static gboolean
header_error (GError **error, const Cursor *cur, const char *what)
{
  g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_FORMAT,
               "malformed .npy header at character %" G_GSIZE_FORMAT ": %s", cur->pos, what);
  return FALSE;
}

static void
skip_spaces (Cursor *cur)
{
  while (cur->pos < cur->len && (cur->text[cur->pos] == ' ' || cur->text[cur->pos] == '\t'))
    cur->pos++;
}

static gboolean
peek_is (Cursor *cur, char c)
{
  skip_spaces (cur);
  return cur->pos < cur->len && cur->text[cur->pos] == c;
}

static gboolean
expect_char (Cursor *cur, char c, GError **error)
{
  if (!peek_is (cur, c))
    {
      g_autofree char *what = g_strdup_printf ("expected '%c'", c);

      return header_error (error, cur, what);
    }
  cur->pos++;
  return TRUE;
}

/* A Python string literal without escapes, quoted with ' or ". */
static gboolean
parse_string (Cursor *cur, char *out, GError **error)
{
  char quote;
  gsize n = 0;

  skip_spaces (cur);
  if (cur->pos >= cur->len || (cur->text[cur->pos] != '\'' && cur->text[cur->pos] != '"'))
    return header_error (error, cur, "expected a quoted string");
  quote = cur->text[cur->pos++];
  while (cur->pos < cur->len && cur->text[cur->pos] != quote)
    {
      char c = cur->text[cur->pos];

      if (c == '\\' || c < 0x20 || c > 0x7e)
        return header_error (error, cur, "unsupported character in a string");
      if (n + 1 >= NPY_MAX_STRING)
        return header_error (error, cur, "string too long");
      out[n++] = c;
      cur->pos++;
    }
  if (cur->pos >= cur->len)
    return header_error (error, cur, "unterminated string");
  cur->pos++;
  out[n] = '\0';
  return TRUE;
}

static gboolean
parse_word (Cursor *cur, const char *word)
{
  gsize n = strlen (word);

  skip_spaces (cur);
  if (cur->len - cur->pos < n || memcmp (cur->text + cur->pos, word, n) != 0)
    return FALSE;
  if (cur->pos + n < cur->len && g_ascii_isalnum (cur->text[cur->pos + n]))
    return FALSE;
  cur->pos += n;
  return TRUE;
}

static gboolean
parse_descr (Cursor *cur, Header *header, GError **error)
{
  char descr[NPY_MAX_STRING];
  char order, kind;
  guint64 size;
  char *end;

  if (peek_is (cur, '['))
    {
      g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_UNSUPPORTED,
                   "structured .npy dtypes are not supported");
      return FALSE;
    }
  if (!parse_string (cur, descr, error))
    return FALSE;
  order = descr[0];
  kind = order != '\0' ? descr[1] : '\0';
  size = 0;
  if (kind != '\0' && g_ascii_isdigit (descr[2]))
    size = g_ascii_strtoull (descr + 2, &end, 10);
  else
    end = descr;
  for (guint i = 0; i < G_N_ELEMENTS (dtype_table) && *end == '\0'; i++)
    {
      if (dtype_table[i].kind != kind || dtype_table[i].size != size)
        continue;
      if (size == 1 && (order == '|' || order == '<' || order == '>' || order == '='))
        {
          header->dtype = dtype_table[i].dtype;
          header->big_endian = FALSE;
          return TRUE;
        }
      if (size > 1 && (order == '<' || order == '>' || order == '='))
        {
          header->dtype = dtype_table[i].dtype;
          header->big_endian = order == '>' || (order == '=' && G_BYTE_ORDER == G_BIG_ENDIAN);
          return TRUE;
        }
    }
  g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_UNSUPPORTED,
               "unsupported .npy dtype '%s' (supported: <f4, <f8, |u1, <i8, <i4, "
               "either byte order)", descr);
  return FALSE;
}

static gboolean
parse_dimension (Cursor *cur, gsize *out, GError **error)
{
  guint64 value = 0;
  gsize start;

  skip_spaces (cur);
  if (cur->pos < cur->len && cur->text[cur->pos] == '-')
    {
      g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_FORMAT,
                   "malformed .npy header: negative dimension in shape");
      return FALSE;
    }
  start = cur->pos;
  while (cur->pos < cur->len && g_ascii_isdigit (cur->text[cur->pos]))
    {
      guint digit = cur->text[cur->pos] - '0';

      if (value > (G_MAXSIZE - digit) / 10)
        {
          g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_FORMAT,
                       "malformed .npy header: dimension in shape is too large");
          return FALSE;
        }
      value = value * 10 + digit;
      cur->pos++;
    }
  if (cur->pos == start)
    return header_error (error, cur, "expected a non-negative integer in shape");
  /* Python 2 wrote long integers with an L suffix; NumPy still reads such files. */
  if (cur->pos < cur->len && cur->text[cur->pos] == 'L')
    cur->pos++;
  *out = value;
  return TRUE;
}

static gboolean
parse_shape (Cursor *cur, Header *header, GError **error)
{
  gboolean trailing_comma = FALSE;

  if (!expect_char (cur, '(', error))
    return FALSE;
  header->ndim = 0;
  while (!peek_is (cur, ')'))
    {
      if (header->ndim == VETO_NPY_MAX_DIMS)
        {
          g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_UNSUPPORTED,
                       "shape has more than %d dimensions", VETO_NPY_MAX_DIMS);
          return FALSE;
        }
      if (!parse_dimension (cur, &header->shape[header->ndim++], error))
        return FALSE;
      trailing_comma = FALSE;
      if (peek_is (cur, ')'))
        break;
      if (!expect_char (cur, ',', error))
        return FALSE;
      trailing_comma = TRUE;
    }
  /* "(5)" is the integer 5 in Python, not a tuple. */
  if (header->ndim == 1 && !trailing_comma)
    return header_error (error, cur, "a one-dimensional shape needs a trailing comma");
  cur->pos++;
  return TRUE;
}

static gboolean
parse_header (const char *text, gsize len, Header *header, GError **error)
{
  Cursor cur = { text, len, 0 };
  gboolean seen_descr = FALSE, seen_fortran = FALSE, seen_shape = FALSE;

  if (len == 0 || text[len - 1] != '\n')
    {
      g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_FORMAT,
                   "malformed .npy header: it does not end with a newline");
      return FALSE;
    }
  cur.len = len - 1;
  if (!expect_char (&cur, '{', error))
    return FALSE;
  while (!peek_is (&cur, '}'))
    {
      char key[NPY_MAX_STRING];
      gboolean *seen;

      if (!parse_string (&cur, key, error) || !expect_char (&cur, ':', error))
        return FALSE;
      if (strcmp (key, "descr") == 0)
        seen = &seen_descr;
      else if (strcmp (key, "fortran_order") == 0)
        seen = &seen_fortran;
      else if (strcmp (key, "shape") == 0)
        seen = &seen_shape;
      else
        {
          g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_FORMAT,
                       "malformed .npy header: unknown key '%s'", key);
          return FALSE;
        }
      if (*seen)
        {
          g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_FORMAT,
                       "malformed .npy header: key '%s' appears twice", key);
          return FALSE;
        }
      *seen = TRUE;
      if (seen == &seen_descr && !parse_descr (&cur, header, error))
        return FALSE;
      if (seen == &seen_shape && !parse_shape (&cur, header, error))
        return FALSE;
      if (seen == &seen_fortran)
        {
          if (parse_word (&cur, "True"))
            header->fortran_order = TRUE;
          else if (parse_word (&cur, "False"))
            header->fortran_order = FALSE;
          else
            return header_error (error, &cur, "fortran_order must be True or False");
        }
      if (peek_is (&cur, '}'))
        break;
      if (!expect_char (&cur, ',', error))
        return FALSE;
    }
  cur.pos++;
  skip_spaces (&cur);
  if (cur.pos != cur.len)
    return header_error (error, &cur, "unexpected text after the dictionary");
  if (!seen_descr || !seen_fortran || !seen_shape)
    {
      g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_FORMAT,
                   "malformed .npy header: missing key '%s'",
                   !seen_descr ? "descr" : !seen_fortran ? "fortran_order" : "shape");
      return FALSE;
    }
  return TRUE;
}

static void
swap_bytes (guint8 *data, gsize n_elements, gsize element_size)
{
  for (gsize i = 0; i < n_elements; i++)
    {
      guint8 *p = data + i * element_size;

      for (gsize a = 0, b = element_size - 1; a < b; a++, b--)
        {
          guint8 t = p[a];

          p[a] = p[b];
          p[b] = t;
        }
    }
}

/* Fortran order: the first index varies fastest. Walk the C-order destination and follow
 * the source offset incrementally. */
static void
fortran_to_c (const guint8 *src, guint8 *dst, const Header *header, gsize n_elements,
              gsize element_size)
{
  gsize stride[VETO_NPY_MAX_DIMS], index[VETO_NPY_MAX_DIMS] = { 0 };
  gsize offset = 0;

  for (guint k = 0; k < header->ndim; k++)
    stride[k] = k == 0 ? 1 : stride[k - 1] * header->shape[k - 1];
  for (gsize e = 0; e < n_elements; e++)
    {
      memcpy (dst + e * element_size, src + offset * element_size, element_size);
      for (guint k = header->ndim; k-- > 0;)
        {
          offset += stride[k];
          if (++index[k] < header->shape[k])
            break;
          offset -= stride[k] * header->shape[k];
          index[k] = 0;
        }
    }
}

VetoNpy *
veto_npy_decode (GBytes *bytes, GError **error)
{
  g_autoptr (VetoNpy) npy = NULL;
  const guint8 *raw;
  gsize size, header_start, header_len, data_start, data_len, element_size;
  guint major, minor;
  Header header = { 0 };

  g_return_val_if_fail (bytes != NULL, NULL);
  raw = g_bytes_get_data (bytes, &size);
  if (size < NPY_MAGIC_LEN + 2 || memcmp (raw, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
    {
      g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_FORMAT,
                   "not an .npy file (bad magic string)");
      return NULL;
    }
  major = raw[6];
  minor = raw[7];
  if (major < 1 || major > 3 || minor != 0)
    {
      g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_UNSUPPORTED,
                   "unsupported .npy format version %u.%u (supported: 1.0, 2.0, 3.0)", major,
                   minor);
      return NULL;
    }
  header_start = major == 1 ? 10 : 12;
  if (size < header_start)
    {
      g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_FORMAT,
                   "truncated .npy file: %" G_GSIZE_FORMAT " bytes, too short for a header",
                   size);
      return NULL;
    }
  if (major == 1)
    header_len = raw[8] | (gsize) raw[9] << 8;
  else
    header_len = raw[8] | (gsize) raw[9] << 8 | (gsize) raw[10] << 16 | (gsize) raw[11] << 24;
  if (header_len > size - header_start)
    {
      g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_FORMAT,
                   "truncated .npy file: the header claims %" G_GSIZE_FORMAT " bytes but only %"
                   G_GSIZE_FORMAT " follow", header_len, size - header_start);
      return NULL;
    }
  if (header_len > NPY_MAX_HEADER_LEN)
    {
      g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_FORMAT,
                   "malformed .npy header: %" G_GSIZE_FORMAT " bytes long", header_len);
      return NULL;
    }
  if (!parse_header ((const char *) raw + header_start, header_len, &header, error))
    return NULL;

  element_size = veto_npy_dtype_size (header.dtype);
  npy = g_new0 (VetoNpy, 1);
  npy->dtype = header.dtype;
  npy->ndim = header.ndim;
  memcpy (npy->shape, header.shape, sizeof header.shape);
  npy->n_elements = 1;
  for (guint k = 0; k < header.ndim; k++)
    {
      if (header.shape[k] != 0 && npy->n_elements > G_MAXSIZE / element_size / header.shape[k])
        {
          g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_SIZE,
                       "the .npy shape claims more elements than can be addressed");
          return NULL;
        }
      npy->n_elements *= header.shape[k];
    }
  data_start = header_start + header_len;
  data_len = size - data_start;
  npy->size = npy->n_elements * element_size;
  if (data_len != npy->size)
    {
      g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_SIZE,
                   "the .npy header claims %" G_GSIZE_FORMAT " bytes of data but the file has %"
                   G_GSIZE_FORMAT, npy->size, data_len);
      return NULL;
    }

  if (!header.big_endian && (!header.fortran_order || header.ndim < 2)
      && (GPOINTER_TO_SIZE (raw + data_start) % element_size) == 0)
    {
      npy->bytes = g_bytes_ref (bytes);
      npy->data = raw + data_start;
      return g_steal_pointer (&npy);
    }
  npy->owned = g_malloc (MAX (npy->size, 1));
  if (header.fortran_order && header.ndim >= 2)
    fortran_to_c (raw + data_start, npy->owned, &header, npy->n_elements, element_size);
  else
    memcpy (npy->owned, raw + data_start, npy->size);
  if (header.big_endian)
    swap_bytes (npy->owned, npy->n_elements, element_size);
  npy->data = npy->owned;
  return g_steal_pointer (&npy);
}

void
veto_npy_free (VetoNpy *npy)
{
  if (npy == NULL)
    return;
  g_clear_pointer (&npy->bytes, g_bytes_unref);
  g_free (npy->owned);
  g_free (npy);
}

VetoNpyDtype
veto_npy_get_dtype (const VetoNpy *npy)
{
  return npy->dtype;
}

const gsize *
veto_npy_get_shape (const VetoNpy *npy, guint *out_ndim)
{
  if (out_ndim != NULL)
    *out_ndim = npy->ndim;
  return npy->shape;
}

gsize
veto_npy_get_n_elements (const VetoNpy *npy)
{
  return npy->n_elements;
}

gconstpointer
veto_npy_get_data (const VetoNpy *npy, gsize *out_size)
{
  if (out_size != NULL)
    *out_size = npy->size;
  return npy->data;
}

/* Shape checks shared by both matrix readers. */
static gboolean
check_matrix_shape (const VetoNpy *npy, GError **error)
{
  if (npy->ndim != 2)
    {
      g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_SHAPE,
                   "expected a 2-D matrix, found %u dimensions", npy->ndim);
      return FALSE;
    }
  if (npy->n_elements == 0)
    {
      g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_SHAPE,
                   "the matrix is empty (%" G_GSIZE_FORMAT " x %" G_GSIZE_FORMAT ")",
                   npy->shape[0], npy->shape[1]);
      return FALSE;
    }
  return TRUE;
}

GBytes *
veto_npy_float32_matrix_bytes (const VetoNpy *npy, gsize *out_rows, gsize *out_cols,
                               GError **error)
{
  const float *v = npy->data;
  gsize offset;

  if (npy->dtype != VETO_NPY_FLOAT32 || npy->bytes == NULL)
    return NULL;
  if (!check_matrix_shape (npy, error))
    return NULL;
  for (gsize i = 0; i < npy->n_elements; i++)
    if (!isfinite (v[i]))
      {
        g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_VALUE,
                     "value at row %" G_GSIZE_FORMAT ", column %" G_GSIZE_FORMAT
                     " is not a finite float32 (%g)", i / npy->shape[1], i % npy->shape[1],
                     (double) v[i]);
        return NULL;
      }
  offset = (const guint8 *) npy->data - (const guint8 *) g_bytes_get_data (npy->bytes, NULL);
  *out_rows = npy->shape[0];
  *out_cols = npy->shape[1];
  return g_bytes_new_from_bytes (npy->bytes, offset, npy->size);
}

float *
veto_npy_to_float32_matrix (const VetoNpy *npy, gsize *out_rows, gsize *out_cols,
                            GError **error)
{
  g_autofree float *out = NULL;
  gsize n;

  if (npy->dtype != VETO_NPY_FLOAT32 && npy->dtype != VETO_NPY_FLOAT64)
    {
      g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_SHAPE,
                   "expected a float32 or float64 array, found dtype %s",
                   veto_npy_dtype_to_string (npy->dtype));
      return NULL;
    }
  if (!check_matrix_shape (npy, error))
    return NULL;
  n = npy->n_elements;
  out = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    {
      double v = npy->dtype == VETO_NPY_FLOAT32 ? ((const float *) npy->data)[i]
                                                : ((const double *) npy->data)[i];

      out[i] = (float) v;
      if (!isfinite (out[i]))
        {
          g_set_error (error, VETO_NPY_ERROR, VETO_NPY_ERROR_VALUE,
                       "value at row %" G_GSIZE_FORMAT ", column %" G_GSIZE_FORMAT
                       " is not a finite float32 (%g)", i / npy->shape[1], i % npy->shape[1], v);
          return NULL;
        }
    }
  *out_rows = npy->shape[0];
  *out_cols = npy->shape[1];
  return g_steal_pointer (&out);
}

GBytes *
veto_npy_encode (VetoNpyDtype dtype, const gsize *shape, guint ndim, gconstpointer data)
{
  g_autoptr (GString) header = g_string_new (NULL);
  guint8 *out;
  gsize n_elements = 1, element_size, prefix_len, total;

  g_return_val_if_fail (ndim <= VETO_NPY_MAX_DIMS, NULL);
  element_size = veto_npy_dtype_size (dtype);
  g_return_val_if_fail (element_size > 0, NULL);
  g_string_append_printf (header, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                          veto_npy_dtype_to_string (dtype));
  for (guint k = 0; k < ndim; k++)
    {
      g_return_val_if_fail (shape[k] == 0 || n_elements <= G_MAXSIZE / element_size / shape[k],
                            NULL);
      n_elements *= shape[k];
      g_string_append_printf (header, k + 1 < ndim ? "%" G_GSIZE_FORMAT ", "
                                                   : "%" G_GSIZE_FORMAT, shape[k]);
    }
  g_string_append (header, ndim == 1 ? ",), }" : "), }");
  /* NumPy pads the header with spaces so that the data starts on a 64-byte boundary. */
  prefix_len = NPY_MAGIC_LEN + 2 + 2;
  while ((prefix_len + header->len + 1) % 64 != 0)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');

  total = prefix_len + header->len + n_elements * element_size;
  out = g_malloc (total);
  memcpy (out, NPY_MAGIC "\x01\x00", NPY_MAGIC_LEN + 2);
  out[NPY_MAGIC_LEN + 2] = header->len & 0xff;
  out[NPY_MAGIC_LEN + 3] = header->len >> 8;
  memcpy (out + prefix_len, header->str, header->len);
  if (n_elements > 0)
    memcpy (out + prefix_len + header->len, data, n_elements * element_size);
  return g_bytes_new_take (out, total);
}
