/* veto-import: reads outside datasets (IDX, CIFAR binary, ImageFolder, CSV manifest) into a project. */
#include "veto-import.h"

#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "veto-image.h"

G_DEFINE_QUARK (veto-import-error-quark, veto_import_error)

/* Limits that keep a lying header from costing memory or time. */
#define MAX_IDX_SIDE 10000
#define MAX_RECORD_BYTES (64u * 1024 * 1024)
#define MAX_IMAGE_FILE_BYTES VETO_IMAGE_MAX_FILE_BYTES
#define MAX_CSV_FIELD 65536
#define MAX_CLASSES 100000
#define READ_STEP 65536

static const char *const format_names[] = { "auto", "idx", "cifar10", "cifar100", "folder", "csv" };

/* NULL-terminated: copied with g_strdupv. */
static const char *const cifar10_names[] = {
  "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck", NULL,
};

static const char *const image_suffixes[] = {
  ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pnm",
  ".tga", ".ico",
};

const char *
veto_import_format_to_string (VetoImportFormat format)
{
  return format_names[format];
}

gboolean
veto_import_format_from_string (const char *text, VetoImportFormat *out_format)
{
  for (guint i = 0; i < G_N_ELEMENTS (format_names); i++)
    if (g_strcmp0 (text, format_names[i]) == 0)
      {
        *out_format = i;
        return TRUE;
      }
  return FALSE;
}

/* State shared by every importer during one import. */
typedef struct
{
  VetoStore *store;
  const VetoImportOptions *options;
  VetoImportResult *result;
  gint64 import_id;
  guint index;
  GPtrArray *classes;        /* VetoClass of the project, in model order */
  GHashTable *seen_sha256;   /* digests added by this import (folders and CSV de-duplicate) */
  GChecksum *checksum;
  guint64 progress_total;
  gboolean total_known;      /* progress_total was counted before the first item */
  guint64 progress_done;
  gint64 last_progress_us;
} Importer;

static gboolean check_cancelled (Importer *im, GError **error);

static void
report_progress (Importer *im, guint64 done, gboolean final)
{
  gint64 now;

  im->progress_done = done;
  if (im->options->progress == NULL)
    return;
  now = g_get_monotonic_time ();
  if (!final && now - im->last_progress_us < 100000)
    return;
  im->last_progress_us = now;
  im->options->progress (im->options->progress_data, done, MAX (done, im->progress_total));
}

static char *
display_name (const char *path)
{
  return g_filename_display_name (path);
}

static gboolean
refresh_classes (Importer *im, GError **error)
{
  g_clear_pointer (&im->classes, g_ptr_array_unref);
  im->classes = veto_store_list_classes (im->store, error);
  return im->classes != NULL;
}

static gboolean
ensure_class (Importer *im, const char *name, gint64 *out_id, GError **error)
{
  gboolean created = FALSE;

  if (!veto_store_ensure_class (im->store, name, out_id, &created, error))
    return FALSE;
  if (created)
    {
      im->result->classes_created++;
      return refresh_classes (im, error);
    }
  return TRUE;
}

/* Maps numeric dataset labels to class ids: by position when the project has classes already,
 * else creating one class per label, named from NAMES when given or by the number. */
static gboolean
classes_for_labels (Importer *im, const char *file, guint max_label, const char *const *names,
                    guint n_names, GArray **out_ids, GError **error)
{
  g_autofree char *display = display_name (file);
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));

  if (im->classes->len == 0)
    {
      if (max_label >= MAX_CLASSES)
        {
          g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                       "%s: label %u is absurd (more than %d classes)", display, max_label,
                       MAX_CLASSES);
          return FALSE;
        }
      for (guint label = 0; label <= max_label; label++)
        {
          g_autofree char *number = g_strdup_printf ("%u", label);
          gint64 id;

          if (!ensure_class (im, label < n_names ? names[label] : number, &id, error))
            return FALSE;
        }
    }
  else if (max_label >= im->classes->len)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: label %u is outside the project's %u classes (0 to %u)", display,
                   max_label, im->classes->len, im->classes->len - 1);
      return FALSE;
    }
  for (guint i = 0; i < im->classes->len; i++)
    g_array_append_val (ids, ((VetoClass *) im->classes->pdata[i])->id);
  *out_ids = g_steal_pointer (&ids);
  return TRUE;
}

static const char *
digest (Importer *im, const guint8 *data, gsize size)
{
  g_checksum_reset (im->checksum);
  g_checksum_update (im->checksum, data, size);
  return g_checksum_get_string (im->checksum);
}

static gboolean
add_embedded (Importer *im, const guint8 *pixels, guint width, guint height, guint channels,
              gint64 gold, GError **error)
{
  VetoItemRecord record = {
    .pixels = pixels,
    .width = width,
    .height = height,
    .channels = channels,
    .split = im->options->split,
    .gold_class = gold,
    .import_id = im->import_id,
    .import_index = im->index++,
  };

  record.sha256 = digest (im, pixels, (gsize) width * height * channels);
  if (!veto_store_add_item (im->store, &record, NULL, error))
    return FALSE;
  im->result->added++;
  im->result->per_split[record.split]++;
  return TRUE;
}

/* --- reading outside bytes --- */

/* Sources must be regular files: a FIFO or a device would block the import forever. */
static gboolean
require_regular_file (const char *path, GError **error)
{
  g_autofree char *display = display_name (path);
  GStatBuf st;

  if (g_stat (path, &st) != 0)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_NOT_FOUND, "%s: %s", display,
                   g_strerror (errno));
      return FALSE;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: not a regular file (a folder, pipe or device)", display);
      return FALSE;
    }
  return TRUE;
}

/* The gzip trailer's ISIZE is the uncompressed length modulo 2^32: a file that holds more after
 * the first gzip member (appended bytes, or a second member) does not end with it. */
static gboolean
gzip_ends_at (const char *path, guint64 uncompressed, GError **error)
{
  g_autofree char *display = display_name (path);
  guint8 tail[4];
  FILE *file = g_fopen (path, "rb");
  gboolean ok = file && fseek (file, -4, SEEK_END) == 0 && fread (tail, 1, 4, file) == 4;

  if (file)
    fclose (file);
  if (!ok || (tail[0] | (guint32) tail[1] << 8 | (guint32) tail[2] << 16
              | (guint32) tail[3] << 24) != (guint32) uncompressed)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: bytes after the end of the gzip stream (or a second gzip member)",
                   display);
      return FALSE;
    }
  return TRUE;
}

/* Opens a file for reading, transparently gunzipping it when it starts with the gzip magic. */
static GInputStream *
open_maybe_gzip (const char *path, gboolean *out_gzip, GError **error)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) raw = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *display = display_name (path);
  guint8 magic[2] = { 0, 0 };
  gsize got = 0;

  if (!require_regular_file (path, error))
    return NULL;
  raw = g_file_read (file, NULL, &local_error);
  if (raw == NULL)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_NOT_FOUND, "%s: %s", display,
                   local_error->message);
      return NULL;
    }
  if (!g_input_stream_read_all (G_INPUT_STREAM (raw), magic, 2, &got, NULL, &local_error)
      || !g_seekable_seek (G_SEEKABLE (raw), 0, G_SEEK_SET, NULL, &local_error))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_NOT_FOUND, "%s: %s", display,
                   local_error->message);
      return NULL;
    }
  *out_gzip = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
  if (*out_gzip)
    {
      g_autoptr (GZlibDecompressor) gunzip = g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);

      return g_converter_input_stream_new (G_INPUT_STREAM (raw), G_CONVERTER (gunzip));
    }
  return G_INPUT_STREAM (g_steal_pointer (&raw));
}

/* Reads exactly SIZE bytes into BUF (grown as bytes arrive, so that a lying size costs no more
 * memory than the file really holds). Returns how many bytes were read; < SIZE at the end. */
static gboolean
read_growing (GInputStream *stream, GByteArray *buf, gsize size, gsize *out_read,
              const char *path, GError **error)
{
  gsize total = 0;

  while (total < size)
    {
      gsize want = MIN (size - total, READ_STEP);
      gsize got = 0;
      g_autoptr (GError) local_error = NULL;

      if (buf->len < total + want)
        g_byte_array_set_size (buf, total + want);
      if (!g_input_stream_read_all (stream, buf->data + total, want, &got, NULL, &local_error))
        {
          g_autofree char *display = display_name (path);

          g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TRUNCATED,
                       "%s: cannot be read to its end (%s)", display, local_error->message);
          return FALSE;
        }
      total += got;
      if (got < want)
        break;
    }
  *out_read = total;
  return TRUE;
}

/* TRUE when the stream has no byte left. */
static gboolean
at_end (GInputStream *stream, const char *path, gboolean *out_end, GError **error)
{
  guint8 byte;
  gsize got = 0;
  g_autoptr (GError) local_error = NULL;

  if (!g_input_stream_read_all (stream, &byte, 1, &got, NULL, &local_error))
    {
      g_autofree char *display = display_name (path);

      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TRUNCATED,
                   "%s: cannot be read to its end (%s)", display, local_error->message);
      return FALSE;
    }
  *out_end = got == 0;
  return TRUE;
}

static guint32
read_be32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

/* --- IDX (MNIST, Fashion-MNIST) --- */

typedef struct
{
  guint32 count;
  guint32 dims[3]; /* rows, cols, channels for images */
  guint n_dims;
} IdxHeader;

static gboolean
read_idx_header (GInputStream *stream, const char *path, IdxHeader *out, GError **error)
{
  g_autofree char *display = display_name (path);
  g_autoptr (GByteArray) buf = g_byte_array_new ();
  guint8 *h;
  gsize got;

  if (!read_growing (stream, buf, 4, &got, path, error))
    return FALSE;
  h = buf->data;
  if (got < 4 || h[0] != 0 || h[1] != 0 || h[2] != 0x08 || h[3] < 1 || h[3] > 4)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: not an IDX file of unsigned bytes (bad magic number)", display);
      return FALSE;
    }
  out->n_dims = h[3] - 1;
  if (!read_growing (stream, buf, 4 * (gsize) h[3], &got, path, error))
    return FALSE;
  if (got < 4 * (gsize) (out->n_dims + 1))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TRUNCATED,
                   "%s: the IDX header is cut short", display);
      return FALSE;
    }
  out->count = read_be32 (buf->data);
  for (guint i = 0; i < out->n_dims; i++)
    out->dims[i] = read_be32 (buf->data + 4 * (i + 1));
  return TRUE;
}

/* Reads a whole IDX labels file (small: one byte a label). */
static GByteArray *
read_idx_labels (const char *path, GError **error)
{
  g_autofree char *display = display_name (path);
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (GByteArray) labels = g_byte_array_new ();
  IdxHeader header;
  gboolean gzip, end;
  gsize got;

  stream = open_maybe_gzip (path, &gzip, error);
  if (stream == NULL || !read_idx_header (stream, path, &header, error))
    return NULL;
  if (header.n_dims != 0)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: not an IDX labels file (it has %u dimensions, labels have 1)", display,
                   header.n_dims + 1);
      return NULL;
    }
  if (!read_growing (stream, labels, header.count, &got, path, error))
    return NULL;
  if (got < header.count)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TRUNCATED,
                   "%s: the header promises %u labels but the file holds %" G_GSIZE_FORMAT,
                   display, header.count, got);
      return NULL;
    }
  if (!at_end (stream, path, &end, error))
    return NULL;
  if (!end)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: more bytes than the header's %u labels", display, header.count);
      return NULL;
    }
  if (gzip && !gzip_ends_at (path, 8 + (guint64) header.count, error))
    return NULL;
  g_byte_array_set_size (labels, got);
  return g_steal_pointer (&labels);
}

static gboolean
import_idx (Importer *im, const char *path, GError **error)
{
  g_autofree char *display = display_name (path);
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (GByteArray) labels = NULL;
  g_autoptr (GByteArray) record = g_byte_array_new ();
  g_autoptr (GArray) class_ids = NULL;
  IdxHeader header;
  guint rows, cols, channels;
  gsize record_size, got;
  gboolean gzip, end;

  stream = open_maybe_gzip (path, &gzip, error);
  if (stream == NULL || !read_idx_header (stream, path, &header, error))
    return FALSE;
  if (header.n_dims < 2)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: an IDX file of %u dimension(s) holds no images (labels go in --labels)",
                   display, header.n_dims + 1);
      return FALSE;
    }
  rows = header.dims[0];
  cols = header.dims[1];
  channels = header.n_dims == 3 ? header.dims[2] : 1;
  if (rows == 0 || cols == 0 || rows > MAX_IDX_SIDE || cols > MAX_IDX_SIDE
      || (channels != 1 && channels != 3)
      || (guint64) rows * cols * channels > MAX_RECORD_BYTES)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TOO_LARGE,
                   "%s: absurd image dimensions %u x %u x %u in the IDX header", display, rows,
                   cols, channels);
      return FALSE;
    }
  record_size = (gsize) rows * cols * channels;
  if (im->options->labels_path)
    {
      g_autofree char *labels_display = display_name (im->options->labels_path);
      guint max_label = 0;

      labels = read_idx_labels (im->options->labels_path, error);
      if (labels == NULL)
        return FALSE;
      if (labels->len != header.count)
        {
          g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                       "%s: holds %u labels but %s has %u images", labels_display, labels->len,
                       display, header.count);
          return FALSE;
        }
      for (guint i = 0; i < labels->len; i++)
        max_label = MAX (max_label, labels->data[i]);
      if (!classes_for_labels (im, im->options->labels_path, max_label, NULL, 0, &class_ids,
                               error))
        return FALSE;
    }
  im->progress_total = header.count;
  for (guint i = 0; i < header.count; i++)
    {
      gint64 gold = labels ? g_array_index (class_ids, gint64, labels->data[i]) : 0;

      if (!read_growing (stream, record, record_size, &got, path, error))
        return FALSE;
      if (got < record_size)
        {
          g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TRUNCATED,
                       "%s: the header promises %u images but the file ends in image %u",
                       display, header.count, i + 1);
          return FALSE;
        }
      if (!add_embedded (im, record->data, cols, rows, channels, gold, error)
          || (i % 1024 == 0 && check_cancelled (im, error)))
        return FALSE;
      report_progress (im, i + 1, FALSE);
    }
  if (!at_end (stream, path, &end, error))
    return FALSE;
  if (!end)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: more bytes than the header's %u images", display, header.count);
      return FALSE;
    }
  return !gzip
         || gzip_ends_at (path, 4 + 4 * (guint64) (header.n_dims + 1)
                                    + (guint64) header.count * record_size, error);
}

/* --- CIFAR-10 / CIFAR-100 binary --- */

#define CIFAR_SIDE 32
#define CIFAR_PIXELS (CIFAR_SIDE * CIFAR_SIDE * 3)

/* Class names from the text file that ships beside the batches, if there is one. */
static char **
cifar_names_beside (const char *path, const char *name)
{
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *file = g_build_filename (dir, name, NULL);
  g_autofree char *text = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_auto (GStrv) lines = NULL;
  gsize length;

  if (!g_file_get_contents (file, &text, &length, NULL) || length > 1024 * 1024
      || !g_utf8_validate (text, length, NULL))
    return NULL;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      g_strstrip (lines[i]);
      if (*lines[i])
        g_ptr_array_add (names, g_strdup (lines[i]));
    }
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

static gboolean
import_cifar_file (Importer *im, const char *path, gboolean hundred, GError **error)
{
  g_autofree char *display = display_name (path);
  g_autofree guint8 *data = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GArray) class_ids = NULL;
  g_auto (GStrv) names = NULL;
  guint label_bytes = hundred ? 2 : 1;
  guint label_at = hundred && !im->options->cifar100_coarse ? 1 : 0;
  guint n_labels = hundred ? (im->options->cifar100_coarse ? 20 : 100) : 10;
  gsize record = label_bytes + CIFAR_PIXELS, size, n;
  guint8 pixels[CIFAR_PIXELS];
  guint max_label = 0;

  if (!require_regular_file (path, error))
    return FALSE;
  /* read, not mapped: a file another program truncates meanwhile must not raise SIGBUS */
  if (!g_file_get_contents (path, (char **) &data, &size, &local_error))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_NOT_FOUND, "%s: %s", display,
                   local_error->message);
      return FALSE;
    }
  if (size == 0 || size % record != 0)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TRUNCATED,
                   "%s: %" G_GSIZE_FORMAT " bytes is not a whole number of %" G_GSIZE_FORMAT
                   "-byte %s records", display, size, record, hundred ? "CIFAR-100" : "CIFAR-10");
      return FALSE;
    }
  n = size / record;
  for (gsize i = 0; i < n; i++)
    {
      guint label = data[i * record + label_at];

      if (label >= n_labels)
        {
          g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                       "%s: record %" G_GSIZE_FORMAT " has label %u, outside the %u classes of "
                       "%s", display, i, label, n_labels, hundred ? "CIFAR-100" : "CIFAR-10");
          return FALSE;
        }
      max_label = MAX (max_label, label);
    }
  names = cifar_names_beside (path, hundred ? (im->options->cifar100_coarse
                                                   ? "coarse_label_names.txt"
                                                   : "fine_label_names.txt")
                                            : "batches.meta.txt");
  if (names == NULL && !hundred)
    names = g_strdupv ((char **) cifar10_names);
  /* Every class of the dataset exists, even those this batch does not use. */
  if (!classes_for_labels (im, path, im->classes->len ? max_label : n_labels - 1,
                           (const char *const *) names, names ? g_strv_length (names) : 0,
                           &class_ids, error))
    return FALSE;
  if (!im->total_known)
    im->progress_total += n;
  for (gsize i = 0; i < n; i++)
    {
      const guint8 *rec = data + i * record;
      const guint8 *planes = rec + label_bytes;

      /* CIFAR stores three colour planes; items are stored interleaved (H×W×C). */
      for (guint p = 0; p < CIFAR_SIDE * CIFAR_SIDE; p++)
        for (guint c = 0; c < 3; c++)
          pixels[p * 3 + c] = planes[c * CIFAR_SIDE * CIFAR_SIDE + p];
      if (!add_embedded (im, pixels, CIFAR_SIDE, CIFAR_SIDE, 3,
                         g_array_index (class_ids, gint64, rec[label_at]), error)
          || (i % 1024 == 0 && check_cancelled (im, error)))
        return FALSE;
      report_progress (im, im->index, FALSE);
    }
  return TRUE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

/* A CIFAR-10 folder as distributed: every data_batch_*.bin in it. */
static gboolean
import_cifar_folder (Importer *im, const char *dir, GError **error)
{
  g_autoptr (GDir) handle = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) batches = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  while (handle && (name = g_dir_read_name (handle)))
    if (g_str_has_prefix (name, "data_batch_") && g_str_has_suffix (name, ".bin"))
      g_ptr_array_add (batches, g_build_filename (dir, name, NULL));
  g_ptr_array_sort (batches, compare_strings);
  /* The total comes from the files' sizes, so that progress knows it from the start. */
  for (guint i = 0; i < batches->len; i++)
    {
      GStatBuf st;

      if (g_stat (batches->pdata[i], &st) == 0)
        im->progress_total += (guint64) st.st_size / (1 + CIFAR_PIXELS);
    }
  im->total_known = TRUE;
  for (guint i = 0; i < batches->len; i++)
    if (!import_cifar_file (im, batches->pdata[i], FALSE, error))
      return FALSE;
  return TRUE;
}

/* --- image files (ImageFolder, CSV) --- */

static gboolean
is_image_name (const char *name)
{
  g_autofree char *lower = g_ascii_strdown (name, -1);

  for (guint i = 0; i < G_N_ELEMENTS (image_suffixes); i++)
    if (g_str_has_suffix (lower, image_suffixes[i]))
      return TRUE;
  return FALSE;
}

/* The path of TARGET relative to the folder BASE (both absolute and canonical). */
static char *
relative_path (const char *base, const char *target)
{
  g_auto (GStrv) b = g_strsplit (base, G_DIR_SEPARATOR_S, -1);
  g_auto (GStrv) t = g_strsplit (target, G_DIR_SEPARATOR_S, -1);
  g_autoptr (GPtrArray) parts = g_ptr_array_new ();
  guint common = 0;

  while (b[common] && t[common] && strcmp (b[common], t[common]) == 0)
    common++;
  for (guint i = common; b[i]; i++)
    if (*b[i])
      g_ptr_array_add (parts, (gpointer) "..");
  for (guint i = common; t[i]; i++)
    if (*t[i])
      g_ptr_array_add (parts, t[i]);
  g_ptr_array_add (parts, NULL);
  return g_build_filenamev ((char **) parts->pdata);
}

/* One image file of a folder or manifest. Workers read, hash and validate it (decoding it at
 * the smallest scale its decoder offers, which still reads every byte); the importing thread
 * then adds it, or skips it as a duplicate, in list order, so the result and the first error
 * reported are those of a one-by-one import. */
typedef struct
{
  char *path;
  gint64 gold;
  VetoSplit split;
  /* set by the worker */
  gboolean done;
  char *sha;
  char *relative;
  guint width;
  guint height;
  guint channels;
  GError *error;
} FileJob;

static void
file_job_free (gpointer data)
{
  FileJob *job = data;

  g_free (job->path);
  g_free (job->sha);
  g_free (job->relative);
  g_clear_error (&job->error);
  g_free (job);
}

static void
add_file_job (GPtrArray *jobs, const char *path, gint64 gold, VetoSplit split)
{
  FileJob *job = g_new0 (FileJob, 1);

  job->path = g_strdup (path);
  job->gold = gold;
  job->split = split;
  g_ptr_array_add (jobs, job);
}

/* Shared by the workers of one import: the jobs, and how the importing thread waits for them. */
typedef struct
{
  GMutex lock;
  GCond cond;
  gint stop;             /* set when the import fails or is cancelled: the rest is skipped */
  const char *base_dir;  /* the project's folder */
} FileQueue;

static gboolean
read_image_file (FileJob *job, const char *base_dir, GError **error)
{
  g_autofree char *display = display_name (job->path);
  g_autofree char *real = NULL;
  g_autofree char *contents = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (VetoImage) image = NULL;
  g_autoptr (GError) local_error = NULL;
  GStatBuf st;
  gsize length;

  if (!g_utf8_validate (job->path, -1, NULL))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: the file name is not valid UTF-8; rename it to import it", display);
      return FALSE;
    }
  if (g_stat (job->path, &st) != 0 || !S_ISREG (st.st_mode))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_NOT_FOUND,
                   "%s: no such image file", display);
      return FALSE;
    }
  if ((guint64) st.st_size > MAX_IMAGE_FILE_BYTES)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TOO_LARGE,
                   "%s: the file is larger than %u MiB", display, MAX_IMAGE_FILE_BYTES >> 20);
      return FALSE;
    }
  if (!g_file_get_contents (job->path, &contents, &length, &local_error))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_NOT_FOUND, "%s: %s", display,
                   local_error->message);
      return FALSE;
    }
  bytes = g_bytes_new_take (g_steal_pointer (&contents), length);
  image = veto_image_load_bytes_scaled (bytes, display, 1, 1, &job->width, &job->height, error);
  if (image == NULL)
    return FALSE;
  job->channels = image->channels;
  job->sha = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  real = realpath (job->path, NULL);
  if (real == NULL)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_NOT_FOUND,
                   "%s: no such image file", display);
      return FALSE;
    }
  job->relative = relative_path (base_dir, real);
  return TRUE;
}

static void
file_job_run (gpointer data, gpointer user_data)
{
  FileJob *job = data;
  FileQueue *queue = user_data;

  if (!g_atomic_int_get (&queue->stop))
    read_image_file (job, queue->base_dir, &job->error);
  g_mutex_lock (&queue->lock);
  job->done = TRUE;
  g_cond_broadcast (&queue->cond);
  g_mutex_unlock (&queue->lock);
}

static gboolean
check_cancelled (Importer *im, GError **error)
{
  return g_cancellable_set_error_if_cancelled (im->options->cancellable, error);
}

/* Adds a read file, or counts it as a duplicate (by sha256) of one already there. */
static gboolean
add_file_result (Importer *im, FileJob *job, GError **error)
{
  gint64 existing = 0;

  if (g_hash_table_contains (im->seen_sha256, job->sha))
    {
      im->result->duplicates++;
      return TRUE;
    }
  if (!veto_store_find_item_by_sha256 (im->store, job->sha, &existing, error))
    return FALSE;
  if (existing)
    {
      im->result->duplicates++;
      return TRUE;
    }
  {
    VetoItemRecord record = {
      .path = job->relative,
      .sha256 = job->sha,
      .width = job->width,
      .height = job->height,
      .channels = job->channels,
      .split = job->split,
      .gold_class = job->gold,
      .import_id = im->import_id,
      .import_index = im->index++,
    };

    if (!veto_store_add_item (im->store, &record, NULL, error))
      return FALSE;
  }
  g_hash_table_add (im->seen_sha256, g_steal_pointer (&job->sha));
  im->result->added++;
  im->result->per_split[job->split]++;
  return TRUE;
}

/* Reads the files on every core and adds them on this thread (the store's only writer). */
static gboolean
import_files (Importer *im, GPtrArray *jobs, GError **error)
{
  FileQueue queue = { .base_dir = veto_store_get_base_dir (im->store) };
  GThreadPool *pool;
  gboolean ok = TRUE;

  g_mutex_init (&queue.lock);
  g_cond_init (&queue.cond);
  im->progress_total = jobs->len;
  pool = g_thread_pool_new (file_job_run, &queue, MAX (1, g_get_num_processors ()), FALSE, NULL);
  for (guint i = 0; i < jobs->len; i++)
    g_thread_pool_push (pool, jobs->pdata[i], NULL);
  for (guint i = 0; i < jobs->len && ok; i++)
    {
      FileJob *job = jobs->pdata[i];

      g_mutex_lock (&queue.lock);
      while (!job->done)
        g_cond_wait (&queue.cond, &queue.lock);
      g_mutex_unlock (&queue.lock);
      if (check_cancelled (im, error))
        ok = FALSE;
      else if (job->error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&job->error));
          ok = FALSE;
        }
      else
        ok = add_file_result (im, job, error);
      report_progress (im, i + 1, FALSE);
    }
  g_atomic_int_set (&queue.stop, 1);
  g_thread_pool_free (pool, TRUE, TRUE);
  g_cond_clear (&queue.cond);
  g_mutex_clear (&queue.lock);
  return ok;
}

/* Sorted names of a folder's entries, hidden ones left out. */
static GPtrArray *
list_folder (const char *dir, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GDir) handle = g_dir_open (dir, 0, &local_error);
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (handle == NULL)
    {
      g_autofree char *display = display_name (dir);

      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_NOT_FOUND, "%s: %s", display,
                   local_error->message);
      return NULL;
    }
  while ((name = g_dir_read_name (handle)))
    if (name[0] != '.')
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_strings);
  return g_steal_pointer (&names);
}

static gboolean
list_folder_files (Importer *im, const char *dir, gint64 gold, GPtrArray *jobs, GError **error)
{
  g_autoptr (GPtrArray) names = list_folder (dir, error);

  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir, names->pdata[i], NULL);

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        continue;
      if (!is_image_name (names->pdata[i]))
        {
          im->result->skipped++;
          continue;
        }
      add_file_job (jobs, path, gold, im->options->split);
    }
  return TRUE;
}

/* Class subfolders give gold labels (their names); files at the top are unlabeled. */
static gboolean
import_image_folder (Importer *im, const char *dir, GError **error)
{
  g_autoptr (GPtrArray) names = list_folder (dir, error);
  g_autoptr (GPtrArray) jobs = g_ptr_array_new_with_free_func (file_job_free);

  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *sub = g_build_filename (dir, name, NULL);
      gint64 class_id;

      if (!g_file_test (sub, G_FILE_TEST_IS_DIR))
        continue;
      if (!g_utf8_validate (name, -1, NULL))
        {
          g_autofree char *display = display_name (sub);

          g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                       "%s: a class folder's name must be valid UTF-8", display);
          return FALSE;
        }
      if (!ensure_class (im, name, &class_id, error)
          || !list_folder_files (im, sub, class_id, jobs, error))
        return FALSE;
    }
  return list_folder_files (im, dir, 0, jobs, error) && import_files (im, jobs, error);
}

/* --- CSV manifest: path,label,split --- */

typedef struct
{
  const char *text;
  gsize length;
  gsize pos;
  guint line;
} CsvReader;

/* Reads one RFC 4180 record into FIELDS; FALSE at the end of the text. */
static gboolean
csv_next (CsvReader *csv, GPtrArray *fields, const char *path, GError **error)
{
  g_autoptr (GString) field = g_string_new (NULL);
  gboolean quoted = FALSE, any = FALSE;

  g_ptr_array_set_size (fields, 0);
  if (csv->pos >= csv->length)
    return FALSE;
  csv->line++;
  while (csv->pos < csv->length)
    {
      char c = csv->text[csv->pos++];

      any = TRUE;
      if (field->len > MAX_CSV_FIELD)
        {
          g_autofree char *display = display_name (path);

          g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TOO_LARGE,
                       "%s: line %u: a field longer than %d bytes", display, csv->line,
                       MAX_CSV_FIELD);
          return FALSE;
        }
      if (quoted)
        {
          if (c == '"' && csv->pos < csv->length && csv->text[csv->pos] == '"')
            {
              g_string_append_c (field, '"');
              csv->pos++;
            }
          else if (c == '"')
            quoted = FALSE;
          else
            g_string_append_c (field, c);
          continue;
        }
      if (c == '"' && field->len == 0)
        quoted = TRUE;
      else if (c == ',')
        {
          g_ptr_array_add (fields, g_strdup (field->str));
          g_string_truncate (field, 0);
        }
      else if (c == '\n')
        break;
      else if (c != '\r')
        g_string_append_c (field, c);
    }
  if (quoted)
    {
      g_autofree char *display = display_name (path);

      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: line %u: a quoted field is never closed", display, csv->line);
      return FALSE;
    }
  if (any)
    g_ptr_array_add (fields, g_strdup (field->str));
  return TRUE;
}

/* Resolves a manifest path and refuses one that leaves the manifest's folder (by "..", an
 * absolute path or a symbolic link). */
static char *
manifest_path (const char *manifest_dir, const char *entry, const char *manifest, guint line,
               GError **error)
{
  g_autofree char *display = display_name (manifest);
  g_autofree char *joined = NULL;
  g_autofree char *real = NULL;
  g_autofree char *real_dir = realpath (manifest_dir, NULL);

  if (*entry == '\0' || g_path_is_absolute (entry))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_ESCAPES,
                   "%s: line %u: path \"%s\" must be relative to the manifest's folder", display,
                   line, entry);
      return NULL;
    }
  joined = g_canonicalize_filename (entry, manifest_dir);
  real = realpath (joined, NULL);
  if (real == NULL)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_NOT_FOUND,
                   "%s: line %u: no such file \"%s\"", display, line, entry);
      return NULL;
    }
  if (real_dir == NULL || !g_str_has_prefix (real, real_dir)
      || real[strlen (real_dir)] != G_DIR_SEPARATOR)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_ESCAPES,
                   "%s: line %u: path \"%s\" leaves the manifest's folder; refused", display, line,
                   entry);
      return NULL;
    }
  return g_steal_pointer (&real);
}

static gboolean
import_csv (Importer *im, const char *path, GError **error)
{
  g_autofree char *display = display_name (path);
  g_autofree char *text = NULL;
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);
  g_autofree char *dir = g_path_get_dirname (absolute);
  g_autoptr (GPtrArray) fields = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) jobs = g_ptr_array_new_with_free_func (file_job_free);
  g_autoptr (GError) local_error = NULL;
  int col_path = -1, col_label = -1, col_split = -1;
  CsvReader csv = { 0 };

  if (!require_regular_file (path, error))
    return FALSE;
  if (!g_file_get_contents (path, &text, &csv.length, &local_error))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_NOT_FOUND, "%s: %s", display,
                   local_error->message);
      return FALSE;
    }
  csv.text = text;
  /* Spreadsheets write a UTF-8 byte-order mark before the header. */
  if (csv.length >= 3 && memcmp (text, "\xef\xbb\xbf", 3) == 0)
    csv.pos = 3;
  if (!g_utf8_validate (text, csv.length, NULL))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: the manifest is not valid UTF-8 text", display);
      return FALSE;
    }
  if (!csv_next (&csv, fields, path, error))
    {
      if (error && *error == NULL)
        g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                     "%s: the manifest is empty (expected a header path,label,split)", display);
      return FALSE;
    }
  for (guint i = 0; i < fields->len; i++)
    {
      const char *name = g_strstrip ((char *) fields->pdata[i]);

      if (g_ascii_strcasecmp (name, "path") == 0)
        col_path = i;
      else if (g_ascii_strcasecmp (name, "label") == 0)
        col_label = i;
      else if (g_ascii_strcasecmp (name, "split") == 0)
        col_split = i;
    }
  if (col_path < 0)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: the first line must be a header naming a \"path\" column "
                   "(path,label,split)", display);
      return FALSE;
    }
  for (;;)
    {
      g_autofree char *file = NULL;
      const char *label, *split_name;
      VetoSplit split = im->options->split;
      gint64 gold = 0;

      if (!csv_next (&csv, fields, path, error))
        {
          if (error != NULL && *error != NULL)
            return FALSE;
          return import_files (im, jobs, error);
        }
      if (fields->len == 1 && *(char *) fields->pdata[0] == '\0')
        continue;
      if ((int) fields->len <= MAX (col_path, MAX (col_label, col_split)))
        {
          g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                       "%s: line %u has %u fields, fewer than the header's", display, csv.line,
                       fields->len);
          return FALSE;
        }
      label = col_label >= 0 ? g_strstrip ((char *) fields->pdata[col_label]) : "";
      split_name = col_split >= 0 ? g_strstrip ((char *) fields->pdata[col_split]) : "";
      if (*split_name && !veto_split_from_string (split_name, &split))
        {
          g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                       "%s: line %u: split \"%s\" is not pool, test or validation", display,
                       csv.line, split_name);
          return FALSE;
        }
      file = manifest_path (dir, g_strstrip ((char *) fields->pdata[col_path]), path, csv.line,
                            error);
      if (file == NULL || (*label && !ensure_class (im, label, &gold, error)))
        return FALSE;
      add_file_job (jobs, file, gold, split);
    }
}

/* --- detection and the transaction --- */

static VetoImportFormat
detect_format (const char *source, GError **error)
{
  g_autofree char *display = display_name (source);
  g_autofree char *base = g_path_get_basename (source);
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (GByteArray) head = g_byte_array_new ();
  GStatBuf st;
  gboolean gzip = FALSE;
  gsize got = 0;

  if (g_stat (source, &st) != 0)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_NOT_FOUND, "%s: no such file or "
                   "folder", display);
      return VETO_FORMAT_AUTO;
    }
  if (S_ISDIR (st.st_mode))
    {
      g_autofree char *batch = g_build_filename (source, "data_batch_1.bin", NULL);

      return g_file_test (batch, G_FILE_TEST_EXISTS) ? VETO_FORMAT_CIFAR10
                                                     : VETO_FORMAT_IMAGE_FOLDER;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: not a regular file (a pipe or device)", display);
      return VETO_FORMAT_AUTO;
    }
  if (st.st_size == 0)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TRUNCATED,
                   "%s: the file is empty", display);
      return VETO_FORMAT_AUTO;
    }
  stream = open_maybe_gzip (source, &gzip, error);
  if (stream == NULL)
    return VETO_FORMAT_AUTO;
  if (!read_growing (stream, head, 64, &got, source, error))
    return VETO_FORMAT_AUTO;
  if (got >= 4 && head->data[0] == 0 && head->data[1] == 0 && head->data[2] == 0x08)
    return VETO_FORMAT_IDX;
  if (!gzip)
    {
      if (got >= 6 && memcmp (head->data, "\x93NUMPY", 6) == 0)
        {
          g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_UNRECOGNISED,
                       "%s: a NumPy array holds features, not items: use it with "
                       "--features npy:FILE", display);
          return VETO_FORMAT_AUTO;
        }
      if (g_str_has_suffix (base, ".csv")
          || (got >= 4 && g_ascii_strncasecmp ((const char *) head->data, "path", 4) == 0))
        return VETO_FORMAT_CSV;
      if (g_str_has_prefix (base, "data_batch_") || g_str_has_prefix (base, "test_batch"))
        return VETO_FORMAT_CIFAR10;
      if (g_str_equal (base, "train.bin") || g_str_equal (base, "test.bin"))
        return VETO_FORMAT_CIFAR100;
      if (st.st_size % (1 + CIFAR_PIXELS) == 0)
        return VETO_FORMAT_CIFAR10;
      if (st.st_size % (2 + CIFAR_PIXELS) == 0)
        return VETO_FORMAT_CIFAR100;
    }
  g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_UNRECOGNISED,
               "%s: not a format Veto imports (IDX, CIFAR binary, an image folder or a CSV "
               "manifest); name one with --format if detection is wrong", display);
  return VETO_FORMAT_AUTO;
}

static gboolean
run_importer (Importer *im, const char *source, VetoImportFormat format, GError **error)
{
  switch (format)
    {
    case VETO_FORMAT_IDX:
      return import_idx (im, source, error);
    case VETO_FORMAT_CIFAR10:
      if (g_file_test (source, G_FILE_TEST_IS_DIR))
        return import_cifar_folder (im, source, error);
      return import_cifar_file (im, source, FALSE, error);
    case VETO_FORMAT_CIFAR100:
      return import_cifar_file (im, source, TRUE, error);
    case VETO_FORMAT_IMAGE_FOLDER:
      if (!g_file_test (source, G_FILE_TEST_IS_DIR))
        {
          g_autofree char *display = display_name (source);

          g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                       "%s: an image folder import needs a folder", display);
          return FALSE;
        }
      return import_image_folder (im, source, error);
    case VETO_FORMAT_CSV:
      return import_csv (im, source, error);
    case VETO_FORMAT_AUTO:
    default:
      g_assert_not_reached ();
    }
  return FALSE;
}

gboolean
veto_import (VetoStore *store, const char *source, const VetoImportOptions *options,
             VetoImportResult *out_result, GError **error)
{
  VetoImportResult result = { 0 };
  Importer im = {
    .store = store,
    .options = options,
    .result = &result,
    .seen_sha256 = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL),
    .checksum = g_checksum_new (G_CHECKSUM_SHA256),
  };
  g_autofree char *display = display_name (source);
  VetoImportFormat format = options->format;
  gboolean ok = FALSE;

  if (format == VETO_FORMAT_AUTO)
    format = detect_format (source, error);
  if (format == VETO_FORMAT_AUTO)
    goto out;
  result.format = format;
  if (!veto_store_begin (store, error))
    goto out;
  ok = refresh_classes (&im, error)
       && veto_store_add_import (store, display, veto_import_format_to_string (format),
                                 options->split, &im.import_id, error)
       && run_importer (&im, source, format, error)
       && veto_store_finish_import (store, im.import_id, result.added, error);
  if (ok && result.added == 0 && result.duplicates == 0)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: holds no images to import", display);
      ok = FALSE;
    }
  ok = ok && veto_store_commit (store, error);
  if (!ok)
    veto_store_rollback (store);
  else
    report_progress (&im, MAX (im.progress_done, im.index), TRUE);

out:
  g_clear_pointer (&im.classes, g_ptr_array_unref);
  g_hash_table_unref (im.seen_sha256);
  g_checksum_free (im.checksum);
  if (ok && out_result)
    *out_result = result;
  return ok;
}

/* --- side files: .npy arrays and transition matrices --- */


#define MAX_MATRIX_TEXT (4u * 1024 * 1024)
#define MAX_MATRIX_K 1000

VetoNpy *
veto_import_read_npy (const char *path, GError **error)
{
  g_autofree char *display = display_name (path);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  VetoNpy *npy;

  if (!require_regular_file (path, error))
    return NULL;
  /* read, not mapped: the array may outlive the file's contents (another program rewriting
   * it in place), and a mapped page past a new end raises SIGBUS */
  if (!g_file_get_contents (path, &contents, &length, &local_error))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_NOT_FOUND, "%s: %s", display,
                   local_error->message);
      return NULL;
    }
  bytes = g_bytes_new_take (g_steal_pointer (&contents), length);
  npy = veto_npy_decode (bytes, &local_error);
  if (npy == NULL)
    g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID, "%s: %s", display,
                 local_error->message);
  return npy;
}

double *
veto_import_read_transition (const char *path, guint *out_k, GError **error)
{
  g_autofree char *display = display_name (path);
  g_autofree char *text = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autoptr (GArray) values = g_array_new (FALSE, FALSE, sizeof (double));
  g_auto (GStrv) lines = NULL;
  guint k = 0, n_rows = 0;
  gsize length;

  if (!require_regular_file (path, error))
    return NULL;
  if (!g_file_get_contents (path, &text, &length, &local_error))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_NOT_FOUND, "%s: %s", display,
                   local_error->message);
      return NULL;
    }
  if (length > MAX_MATRIX_TEXT || !g_utf8_validate (text, length, NULL)
      || memchr (text, '\0', length))
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: not a text matrix (binary, not UTF-8, or over 4 MiB)", display);
      return NULL;
    }
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    {
      guint in_row = 0;
      const char *p = lines[i];

      /* A line starting with '#' is a comment (provenance, class order). */
      if (*g_strchug (lines[i]) == '#')
        continue;
      while (*p)
        {
          char *end;
          double v;

          if (!(g_ascii_isdigit (*p) || ((*p == '-' || *p == '+' || *p == '.')
                                         && (g_ascii_isdigit (p[1]) || p[1] == '.'))))
            {
              p++;
              continue;
            }
          v = g_ascii_strtod (p, &end);
          if (end == p)
            {
              p++;
              continue;
            }
          if (!isfinite (v) || v < 0)
            {
              g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                           "%s: line %u: %s is not a probability", display, i + 1,
                           v < 0 ? "a negative number" : "a number out of range");
              return NULL;
            }
          g_array_append_val (values, v);
          in_row++;
          p = end;
        }
      if (in_row == 0)
        continue;
      if (k == 0)
        k = in_row;
      if (in_row != k || k > MAX_MATRIX_K)
        {
          g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                       "%s: line %u has %u numbers where the first row has %u", display, i + 1,
                       in_row, k);
          return NULL;
        }
      n_rows++;
    }
  if (k < 2 || n_rows != k)
    {
      g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                   "%s: a transition matrix must be square, K×K with K ≥ 2 (found %u rows of %u)",
                   display, n_rows, k);
      return NULL;
    }
  for (guint r = 0; r < k; r++)
    {
      double *row = &g_array_index (values, double, (gsize) r * k);
      double sum = 0;

      for (guint c = 0; c < k; c++)
        sum += row[c];
      if (!(sum > 0) || !isfinite (sum))
        {
          g_set_error (error, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                       "%s: row %u %s", display, r + 1,
                       sum > 0 ? "sums past the largest number" : "sums to zero");
          return NULL;
        }
      for (guint c = 0; c < k; c++)
        row[c] /= sum;
    }
  *out_k = k;
  return (double *) g_array_free (g_steal_pointer (&values), FALSE);
}
