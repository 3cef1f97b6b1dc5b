/* Tests of the importers on fixtures made here: IDX, CIFAR, ImageFolder, CSV, and bad input. */
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "veto-image.h"
#include "veto-import.h"
#include "veto-npy.h"
#include "veto-store.h"
#include "test-util.h"

typedef struct
{
  char *dir;
  VetoStore *store;
} Fixture;

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL;

  f->dir = g_dir_make_tmp ("veto-import-XXXXXX", NULL);
  path = g_build_filename (f->dir, "p.veto", NULL);
  f->store = veto_store_create (path, &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  veto_store_close (f->store);
  veto_test_remove_tree (f->dir);
  g_free (f->dir);
}

static char *
write_file (Fixture *f, const char *name, const void *data, gsize size)
{
  char *path = g_build_filename (f->dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);

  g_mkdir_with_parents (parent, 0700);
  g_assert_true (g_file_set_contents (path, data, size, NULL));
  return path;
}

static GBytes *
gzip_bytes (const guint8 *data, gsize size)
{
  g_autoptr (GZlibCompressor) gz = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 6);
  g_autoptr (GOutputStream) mem = g_memory_output_stream_new_resizable ();
  g_autoptr (GOutputStream) out = g_converter_output_stream_new (mem, G_CONVERTER (gz));

  g_assert_true (g_output_stream_write_all (out, data, size, NULL, NULL, NULL));
  g_assert_true (g_output_stream_close (out, NULL, NULL));
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (mem));
}

/* An IDX images file: magic 0x00000803, count, rows, cols (big-endian), then pixels. */
static GByteArray *
idx_images (guint32 claimed, guint32 rows, guint32 cols, guint real)
{
  GByteArray *b = g_byte_array_new ();
  guint8 header[16] = { 0, 0, 8, 3 };

  for (guint i = 0; i < 3; i++)
    {
      guint32 v = i == 0 ? claimed : i == 1 ? rows : cols;

      header[4 + 4 * i] = v >> 24;
      header[5 + 4 * i] = v >> 16;
      header[6 + 4 * i] = v >> 8;
      header[7 + 4 * i] = v;
    }
  g_byte_array_append (b, header, 16);
  for (guint n = 0; n < real * rows * cols; n++)
    {
      guint8 v = (guint8) (n * 7 + 1);

      g_byte_array_append (b, &v, 1);
    }
  return b;
}

static GByteArray *
idx_labels (const guint8 *labels, guint n)
{
  GByteArray *b = g_byte_array_new ();
  guint8 header[8] = { 0, 0, 8, 1, n >> 24, n >> 16, n >> 8, n };

  g_byte_array_append (b, header, 8);
  g_byte_array_append (b, labels, n);
  return b;
}

typedef struct
{
  GPtrArray *items;
} Collected;

static gboolean
collect_item (const VetoItem *item, gpointer user_data)
{
  VetoItem *copy = g_new0 (VetoItem, 1);

  *copy = *item;
  copy->path = g_strdup (item->path);
  copy->sha256 = g_strdup (item->sha256);
  copy->pixels = item->pixels ? g_bytes_ref (item->pixels) : NULL;
  g_ptr_array_add (user_data, copy);
  return TRUE;
}

static GPtrArray *
all_items (Fixture *f)
{
  GPtrArray *items = g_ptr_array_new_with_free_func ((GDestroyNotify) veto_item_free);
  g_autoptr (GError) error = NULL;

  g_assert_true (veto_store_foreach_item (f->store, VETO_N_SPLITS, collect_item, items, &error));
  return items;
}

static guint64
count_items (Fixture *f)
{
  VetoStoreSummary s;

  g_assert_true (veto_store_summarize (f->store, &s, NULL));
  return s.items;
}

static void
add_classes (Fixture *f, guint n)
{
  g_assert_true (veto_store_begin (f->store, NULL));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *name = g_strdup_printf ("c%u", i);
      gint64 id;

      g_assert_true (veto_store_ensure_class (f->store, name, &id, NULL, NULL));
    }
  g_assert_true (veto_store_commit (f->store, NULL));
}

static void
test_idx_read_back (Fixture *f, gconstpointer gzip)
{
  g_autoptr (GByteArray) images = idx_images (3, 2, 3, 3);
  guint8 labels_data[3] = { 2, 0, 1 };
  g_autoptr (GByteArray) labels = idx_labels (labels_data, 3);
  g_autoptr (GBytes) packed = gzip ? gzip_bytes (images->data, images->len) : NULL;
  g_autofree char *img_path = gzip ? write_file (f, "img.gz", g_bytes_get_data (packed, NULL),
                                                 g_bytes_get_size (packed))
                                   : write_file (f, "img", images->data, images->len);
  g_autofree char *lab_path = write_file (f, "lab", labels->data, labels->len);
  g_autoptr (GPtrArray) items = NULL;
  g_autoptr (GPtrArray) classes = NULL;
  g_autoptr (GError) error = NULL;
  VetoImportOptions options = { .split = VETO_SPLIT_TEST, .labels_path = lab_path };
  VetoImportResult result;

  add_classes (f, 3);
  g_assert_true (veto_import (f->store, img_path, &options, &result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (result.format, ==, VETO_FORMAT_IDX);
  g_assert_cmpuint (result.added, ==, 3);
  items = all_items (f);
  classes = veto_store_list_classes (f->store, NULL);
  g_assert_cmpuint (items->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      VetoItem *item = items->pdata[i];
      gsize size;
      const guint8 *px = g_bytes_get_data (item->pixels, &size);

      g_assert_cmpuint (item->width, ==, 3);
      g_assert_cmpuint (item->height, ==, 2);
      g_assert_cmpuint (item->channels, ==, 1);
      g_assert_cmpint (item->split, ==, VETO_SPLIT_TEST);
      g_assert_cmpint (item->gold_class, ==,
                       ((VetoClass *) classes->pdata[labels_data[i]])->id);
      /* Pixel for pixel, as written. */
      g_assert_cmpmem (px, size, images->data + 16 + i * 6, 6);
    }
}

static void
expect_refused (Fixture *f, const char *path, const VetoImportOptions *options, GQuark domain,
                int code, const char *name_in_message)
{
  g_autoptr (GError) error = NULL;
  guint64 before = count_items (f);

  g_assert_false (veto_import (f->store, path, options, NULL, &error));
  g_assert_error (error, domain, code);
  g_assert_nonnull (strstr (error->message, name_in_message));
  g_assert_cmpuint (count_items (f), ==, before);
}

static void
test_idx_bad (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) lying = idx_images (5, 2, 2, 3);
  g_autoptr (GByteArray) huge = idx_images (1, 100000, 100000, 0);
  g_autoptr (GByteArray) ok = idx_images (3, 2, 2, 3);
  guint8 two[2] = { 0, 1 }, far[3] = { 0, 1, 7 };
  g_autoptr (GByteArray) short_labels = idx_labels (two, 2);
  g_autoptr (GByteArray) far_labels = idx_labels (far, 3);
  g_autofree char *lying_path = write_file (f, "lying.idx", lying->data, lying->len);
  g_autofree char *huge_path = write_file (f, "huge.idx", huge->data, huge->len);
  g_autofree char *ok_path = write_file (f, "ok.idx", ok->data, ok->len);
  g_autofree char *cut_path = write_file (f, "cut.idx", ok->data, 10);
  g_autofree char *short_path = write_file (f, "short.lab", short_labels->data,
                                            short_labels->len);
  g_autofree char *far_path = write_file (f, "far.lab", far_labels->data, far_labels->len);
  VetoImportOptions options = { .split = VETO_SPLIT_POOL };

  add_classes (f, 3);
  expect_refused (f, lying_path, &options, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TRUNCATED,
                  "lying.idx");
  expect_refused (f, huge_path, &options, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TOO_LARGE,
                  "huge.idx");
  expect_refused (f, cut_path, &options, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TRUNCATED,
                  "cut.idx");
  options.labels_path = short_path;
  expect_refused (f, ok_path, &options, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                  "short.lab");
  options.labels_path = far_path;
  expect_refused (f, ok_path, &options, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                  "far.lab");
}

static void
test_cifar_record (Fixture *f, gconstpointer data)
{
  guint8 records[2 * 3073];
  g_autofree char *path = NULL;
  g_autofree char *cut = NULL;
  g_autoptr (GPtrArray) items = NULL;
  g_autoptr (GPtrArray) classes = NULL;
  g_autoptr (GError) error = NULL;
  VetoImportOptions options = { .split = VETO_SPLIT_POOL };
  const guint8 *px;

  for (guint r = 0; r < 2; r++)
    {
      records[r * 3073] = r == 0 ? 3 : 9; /* cat, truck */
      for (guint c = 0; c < 3; c++)
        for (guint p = 0; p < 1024; p++)
          records[r * 3073 + 1 + c * 1024 + p] = (guint8) (c * 80 + p % 50 + r);
    }
  path = write_file (f, "data_batch_1.bin", records, sizeof records);
  cut = write_file (f, "cut/data_batch_9.bin", records, sizeof records - 5);
  expect_refused (f, cut, &options, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_TRUNCATED,
                  "data_batch_9.bin");
  g_assert_true (veto_import (f->store, path, &options, NULL, &error));
  g_assert_no_error (error);
  items = all_items (f);
  classes = veto_store_list_classes (f->store, NULL);
  g_assert_cmpuint (classes->len, ==, 10);
  g_assert_cmpstr (((VetoClass *) classes->pdata[3])->name, ==, "cat");
  g_assert_cmpuint (items->len, ==, 2);
  g_assert_cmpint (((VetoItem *) items->pdata[0])->gold_class, ==,
                   ((VetoClass *) classes->pdata[3])->id);
  g_assert_cmpint (((VetoItem *) items->pdata[1])->gold_class, ==,
                   ((VetoClass *) classes->pdata[9])->id);
  /* Planes become interleaved RGB: pixel 5 of record 1 is (0+5+1, 80+5+1, 160+5+1). */
  px = g_bytes_get_data (((VetoItem *) items->pdata[1])->pixels, NULL);
  g_assert_cmpuint (px[5 * 3 + 0], ==, 6);
  g_assert_cmpuint (px[5 * 3 + 1], ==, 86);
  g_assert_cmpuint (px[5 * 3 + 2], ==, 166);

  /* A label outside CIFAR-10's ten classes. */
  records[0] = 10;
  g_clear_pointer (&path, g_free);
  path = write_file (f, "bad/data_batch_2.bin", records, sizeof records);
  expect_refused (f, path, &options, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_INVALID,
                  "data_batch_2.bin");
}

static void
save_png (Fixture *f, const char *name, guint8 seed)
{
  g_autoptr (VetoImage) image = veto_image_new (4, 3, 3);
  g_autofree char *path = g_build_filename (f->dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);

  for (gsize i = 0; i < veto_image_n_bytes (image); i++)
    image->data[i] = (guint8) (seed * 31 + i * 13);
  g_mkdir_with_parents (parent, 0700);
  g_assert_true (veto_image_save_png (image, path, NULL));
}

static void
test_image_folder (Fixture *f, gconstpointer data)
{
  g_autofree char *folder = g_build_filename (f->dir, "set", NULL);
  g_autoptr (GPtrArray) items = NULL;
  g_autoptr (GPtrArray) classes = NULL;
  g_autoptr (GError) error = NULL;
  VetoImportOptions options = { .split = VETO_SPLIT_POOL };
  VetoImportResult result;

  save_png (f, "set/cat/a.png", 1);
  save_png (f, "set/cat/b.png", 2);
  save_png (f, "set/dog/c.png", 3);
  save_png (f, "set/dog/copy-of-a.png", 1);
  g_free (write_file (f, "set/dog/notes.txt", "not an image", 12));
  g_assert_true (veto_import (f->store, folder, &options, &result, &error));
  g_assert_no_error (error);
  g_assert_cmpint (result.format, ==, VETO_FORMAT_IMAGE_FOLDER);
  g_assert_cmpuint (result.added, ==, 3);
  g_assert_cmpuint (result.duplicates, ==, 1);
  g_assert_cmpuint (result.skipped, ==, 1);
  items = all_items (f);
  classes = veto_store_list_classes (f->store, NULL);
  g_assert_cmpuint (classes->len, ==, 2);
  g_assert_cmpstr (((VetoItem *) items->pdata[0])->path, ==, "set/cat/a.png");
  g_assert_cmpuint (((VetoItem *) items->pdata[2])->width, ==, 4);
  g_assert_cmpuint (((VetoItem *) items->pdata[2])->channels, ==, 3);
  g_assert_cmpint (((VetoItem *) items->pdata[2])->gold_class, ==,
                   ((VetoClass *) classes->pdata[1])->id);

  /* Importing again adds nothing: every image is a duplicate. */
  g_assert_true (veto_import (f->store, folder, &options, &result, &error));
  g_assert_cmpuint (result.added, ==, 0);
  g_assert_cmpuint (result.duplicates, ==, 4);

  /* One corrupt image spoils the whole import, and nothing of it stays. */
  save_png (f, "set2/x/fine.png", 7);
  g_free (write_file (f, "set2/x/zz-broken.png", "\x89PNG\r\n\x1a\n garbage", 17));
  g_clear_pointer (&folder, g_free);
  folder = g_build_filename (f->dir, "set2", NULL);
  expect_refused (f, folder, &options, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE,
                  "zz-broken.png");
  g_clear_pointer (&classes, g_ptr_array_unref);
  classes = veto_store_list_classes (f->store, NULL);
  g_assert_cmpuint (classes->len, ==, 2);
}

static void
test_csv_manifest (Fixture *f, gconstpointer data)
{
  g_autofree char *manifest = NULL;
  g_autofree char *escape = NULL;
  g_autoptr (GPtrArray) items = NULL;
  g_autoptr (GError) error = NULL;
  VetoImportOptions options = { .split = VETO_SPLIT_POOL };
  const char *text = "path,label,split\nimgs/a.png,cat,pool\n\"imgs/b, quoted.png\",\"dog\",test\n"
                     "imgs/c.png,,\n";

  save_png (f, "m/imgs/a.png", 1);
  save_png (f, "m/imgs/b, quoted.png", 2);
  save_png (f, "m/imgs/c.png", 3);
  save_png (f, "outside.png", 4);
  manifest = write_file (f, "m/list.csv", text, strlen (text));
  g_assert_true (veto_import (f->store, manifest, &options, NULL, &error));
  g_assert_no_error (error);
  items = all_items (f);
  g_assert_cmpuint (items->len, ==, 3);
  g_assert_cmpint (((VetoItem *) items->pdata[1])->split, ==, VETO_SPLIT_TEST);
  g_assert_cmpint (((VetoItem *) items->pdata[2])->gold_class, ==, 0);

  escape = write_file (f, "m/escape.csv", "path\n../outside.png\n", 20);
  expect_refused (f, escape, &options, VETO_IMPORT_ERROR, VETO_IMPORT_ERROR_ESCAPES,
                  "escape.csv");
}

/* A smooth 640×480 JPEG whose colours depend on seed (quality 90). */
static char *
save_jpeg (Fixture *f, const char *name, guint seed)
{
  g_autoptr (GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, 640, 480);
  char *path = g_build_filename (f->dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);
  guint stride = gdk_pixbuf_get_rowstride (pixbuf);

  for (guint y = 0; y < 480; y++)
    for (guint x = 0; x < 640; x++)
      {
        guint8 *p = pixels + (gsize) y * stride + x * 3;

        p[0] = (guint8) (x * 255 / 639);
        p[1] = (guint8) (y * 255 / 479);
        p[2] = (guint8) ((seed * 37 + (x / 80 + y / 60) * 23) % 256);
      }
  g_mkdir_with_parents (parent, 0700);
  g_assert_true (gdk_pixbuf_save (pixbuf, path, "jpeg", NULL, "quality", "90", NULL));
  return path;
}

/* JPEG is decoded at the scale the caller needs, and the result is close to a full decode
 * box-filtered down to the same size. */
static void
test_scaled_decode (Fixture *f, gconstpointer data)
{
  g_autofree char *path = save_jpeg (f, "big.jpg", 5);
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoImage) full = veto_image_load_scaled (path, 0, 0, NULL, NULL, &error);
  g_autoptr (VetoImage) eighth = NULL;
  g_autoptr (VetoImage) quarter = NULL;
  g_autoptr (VetoImage) reference = NULL;
  guint width = 0, height = 0;
  double diff = 0;

  g_assert_no_error (error);
  g_assert_cmpuint (full->width, ==, 640);
  eighth = veto_image_load_scaled (path, 32, 24, &width, &height, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (eighth->width, ==, 80);
  g_assert_cmpuint (eighth->height, ==, 60);
  g_assert_cmpuint (width, ==, 640);
  g_assert_cmpuint (height, ==, 480);
  /* 100 × 100 is more than 1/8 gives (80 × 60): 1/4 is the smallest scale that covers it. */
  quarter = veto_image_load_scaled (path, 100, 100, NULL, NULL, &error);
  g_assert_cmpuint (quarter->width, ==, 160);
  g_assert_cmpuint (quarter->height, ==, 120);
  reference = veto_image_resize (full, 80, 60);
  for (gsize i = 0; i < veto_image_n_bytes (reference); i++)
    diff += fabs ((double) reference->data[i] - eighth->data[i]);
  g_assert_cmpfloat (diff / veto_image_n_bytes (reference), <, 3.0);
}

/* Loads the first length bytes of the JPEG at path, then those bytes followed by tail. */
static VetoImage *
load_prefix (const char *path, gsize length, const char *tail, GError **error)
{
  g_autofree char *contents = NULL;
  g_autoptr (GBytes) bytes = NULL;
  gsize size;

  g_assert_true (g_file_get_contents (path, &contents, &size, NULL));
  g_assert_cmpuint (length, <=, size);
  contents = g_realloc (contents, length + strlen (tail));
  memcpy (contents + length, tail, strlen (tail));
  bytes = g_bytes_new (contents, length + strlen (tail));
  return veto_image_load_bytes (bytes, "p.jpg", error);
}

/* A JPEG cut anywhere in its image data decodes (GdkPixbuf fills the rest with grey) but is
 * refused as truncated; the whole file, and the file with data after its end marker, load. */
static void
test_truncated_jpeg (Fixture *f, gconstpointer data)
{
  g_autofree char *path = save_jpeg (f, "whole.jpg", 7);
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoImage) whole = NULL;
  g_autoptr (VetoImage) trailing = NULL;
  gsize size;

  g_assert_true (g_file_get_contents (path, &contents, &size, NULL));
  g_assert_cmpuint ((guint8) contents[size - 2], ==, 0xff);
  g_assert_cmpuint ((guint8) contents[size - 1], ==, 0xd9);
  whole = load_prefix (path, size, "", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (whole->width, ==, 640);
  trailing = load_prefix (path, size, "appended by a camera", &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 4; i++)
    {
      gsize cut = i < 3 ? size * (i + 1) / 4 : size - 2;
      g_autoptr (VetoImage) image = load_prefix (path, cut, "", &error);

      g_assert_null (image);
      g_assert_error (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE);
      g_assert_nonnull (strstr (error->message, "truncated JPEG"));
      g_clear_error (&error);
    }
}

typedef struct
{
  guint calls;
  guint64 last_done;
  guint64 total;
  GCancellable *cancel_after_first;
} ProgressLog;

static void
log_progress (gpointer user_data, guint64 done, guint64 total)
{
  ProgressLog *log = user_data;

  if (log->calls++ == 0)
    log->total = total;
  /* The total is known from the first call on, and never moves. */
  g_assert_cmpuint (total, ==, log->total);
  g_assert_cmpuint (done, >=, log->last_done);
  log->last_done = done;
  if (log->cancel_after_first != NULL)
    g_cancellable_cancel (log->cancel_after_first);
}

/* Many files read on every core: the items come out in the order of the listing, with their
 * full dimensions; progress knows the total from the start; a corrupt file anywhere spoils the
 * import; a cancelled import leaves the project as it was. */
static void
test_parallel_folder (Fixture *f, gconstpointer data)
{
  g_autofree char *folder = g_build_filename (f->dir, "photos", NULL);
  g_autofree char *cut = NULL;
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GPtrArray) items = NULL;
  g_autoptr (GError) error = NULL;
  ProgressLog log = { 0 };
  VetoImportOptions options = { .split = VETO_SPLIT_POOL, .progress = log_progress,
                                .progress_data = &log };
  VetoImportResult result;
  g_autofree char *contents = NULL;
  gsize length;

  for (guint i = 0; i < 24; i++)
    {
      g_autofree char *name = g_strdup_printf ("photos/%s/%02u.jpg", i % 2 ? "b" : "a", i);

      g_free (save_jpeg (f, name, i));
    }
  g_free (save_jpeg (f, "photos/b/dup.jpg", 3));
  g_assert_true (veto_import (f->store, folder, &options, &result, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (result.added, ==, 24);
  g_assert_cmpuint (result.duplicates, ==, 1);
  g_assert_cmpuint (log.total, ==, 25);
  g_assert_cmpuint (log.last_done, ==, 25);
  items = all_items (f);
  for (guint i = 0; i < items->len; i++)
    {
      const VetoItem *item = items->pdata[i];
      g_autofree char *expected = g_strdup_printf ("photos/%s/%02u.jpg", i < 12 ? "a" : "b",
                                                   i < 12 ? 2 * i : 2 * (i - 12) + 1);

      g_assert_cmpstr (item->path, ==, expected);
      g_assert_cmpuint (item->width, ==, 640);
      g_assert_cmpuint (item->height, ==, 480);
      g_assert_cmpuint (item->channels, ==, 3);
    }

  /* Other photos plus one cut in its header, last in the listing. */
  g_clear_pointer (&folder, g_free);
  folder = g_build_filename (f->dir, "more", NULL);
  for (guint i = 0; i < 16; i++)
    {
      g_autofree char *name = g_strdup_printf ("more/x/%02u.jpg", i);

      g_free (save_jpeg (f, name, 100 + i));
    }
  cut = save_jpeg (f, "more/x/zz.jpg", 200);
  g_assert_true (g_file_get_contents (cut, &contents, &length, NULL));
  g_assert_true (g_file_set_contents (cut, contents, 300, NULL));
  options.progress = NULL;
  expect_refused (f, folder, &options, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE, "zz.jpg");

  /* Cancelled after the first progress report. */
  g_unlink (cut);
  log = (ProgressLog) { .cancel_after_first = cancellable };
  options.progress = log_progress;
  options.cancellable = cancellable;
  expect_refused (f, folder, &options, G_IO_ERROR, G_IO_ERROR_CANCELLED, "");
  g_assert_cmpuint (count_items (f), ==, 24);
}

/* An array read from a .npy is Veto's own copy: the file truncated afterwards (another program
 * rewriting it in place) changes nothing, where a mapped file's pages past its new end would
 * raise SIGBUS on the next read. */
static void
test_npy_outlives_file (Fixture *f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VetoNpy) npy = NULL;
  g_autoptr (GBytes) encoded = NULL;
  g_autofree char *path = NULL;
  g_autofree float *values = g_new (float, 64 * 1024);
  const gsize shape[2] = { 64, 1024 };
  const float *read_back;
  gsize size;

  for (guint i = 0; i < 64 * 1024; i++)
    values[i] = (float) i * 0.5f;
  encoded = veto_npy_encode (VETO_NPY_FLOAT32, shape, 2, values);
  path = write_file (f, "features.npy", g_bytes_get_data (encoded, NULL),
                     g_bytes_get_size (encoded));
  npy = veto_import_read_npy (path, &error);
  g_assert_no_error (error);
  g_assert_true (truncate (path, 0) == 0);
  read_back = veto_npy_get_data (npy, &size);
  g_assert_cmpuint (size, ==, sizeof (float) * 64 * 1024);
  for (guint i = 0; i < 64 * 1024; i++)
    g_assert_cmpfloat (read_back[i], ==, values[i]);
  /* and the file as it is now is refused, naming it */
  g_clear_pointer (&npy, veto_npy_free);
  npy = veto_import_read_npy (path, &error);
  g_assert_null (npy);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "features.npy"));
}

/* A BMP of 3 × 2 pixels, 24 bits, bottom-up rows padded to 4 bytes, by hand; its info header is
 * BITMAPINFOHEADER (40 bytes) or BITMAPCOREHEADER (12, 16-bit sizes). */
static GByteArray *
hand_made_bmp (guint header)
{
  static const guint8 rgb[2][3][3] = { { { 255, 0, 0 }, { 0, 255, 0 }, { 0, 0, 255 } },
                                       { { 10, 20, 30 }, { 40, 50, 60 }, { 70, 80, 90 } } };
  GByteArray *b = g_byte_array_new ();
  guint offset = 14 + header, size = offset + 2 * 12;
  guint8 le[4];

#define PUT32(v) (le[0] = (v) & 255, le[1] = (v) >> 8 & 255, le[2] = (v) >> 16 & 255, \
                  le[3] = (guint) (v) >> 24, g_byte_array_append (b, le, 4))
#define PUT16(v) (le[0] = (v) & 255, le[1] = (v) >> 8 & 255, g_byte_array_append (b, le, 2))
  g_byte_array_append (b, (const guint8 *) "BM", 2);
  PUT32 (size);
  PUT32 (0);
  PUT32 (offset);
  PUT32 (header);
  if (header == 12)
    {
      PUT16 (3);
      PUT16 (2);
    }
  else
    {
      PUT32 (3);
      PUT32 (2);
    }
  PUT16 (1);  /* planes */
  PUT16 (24); /* bits per pixel */
  for (guint i = 0; header == 40 && i < 6; i++)
    PUT32 (0); /* BI_RGB, image size, resolution, colours */
  for (gint y = 1; y >= 0; y--)
    {
      for (guint x = 0; x < 3; x++)
        {
          const guint8 bgr[3] = { rgb[y][x][2], rgb[y][x][1], rgb[y][x][0] };

          g_byte_array_append (b, bgr, 3);
        }
      PUT16 (0);
      g_byte_array_append (b, (const guint8 *) "", 1); /* 9 bytes of pixels, 3 of padding */
    }
#undef PUT32
#undef PUT16
  g_assert_cmpuint (b->len, ==, size);
  return b;
}

static VetoImage *
load_bmp (GByteArray *b, GError **error)
{
  g_autoptr (GBytes) bytes = g_bytes_new (b->data, b->len);

  return veto_image_load_bytes (bytes, "b.bmp", error);
}

/* Both BMP headers decode to the pixels written; a header whose size or pixel offset lies is
 * refused before the decoder sizes a buffer by it (a 4 GB header size reserved 4 GB). */
static void
test_bmp (Fixture *f, gconstpointer data)
{
  const struct { guint at; guint32 value; const char *problem; } lies[] = {
    { 14, 0xeccacd1b, "no known size" },
    { 14, 41, "no known size" },
    { 10, 0xb1cca0b3, "past the end of the file" },
  };

  for (guint h = 0; h < 2; h++)
    {
      g_autoptr (GByteArray) b = hand_made_bmp (h ? 12 : 40);
      g_autoptr (GError) error = NULL;
      g_autoptr (VetoImage) image = load_bmp (b, &error);

      g_assert_no_error (error);
      g_assert_cmpuint (image->width, ==, 3);
      g_assert_cmpuint (image->height, ==, 2);
      g_assert_cmpuint (image->data[0], ==, 255);       /* top left red */
      g_assert_cmpuint (image->data[4], ==, 255);       /* top middle green */
      g_assert_cmpuint (image->data[3 * 3 + 2], ==, 30); /* bottom left (10, 20, 30) */
      g_assert_cmpuint (image->data[5 * 3 + 1], ==, 80); /* bottom right (70, 80, 90) */
    }
  for (guint i = 0; i < G_N_ELEMENTS (lies); i++)
    {
      g_autoptr (GByteArray) b = hand_made_bmp (40);
      g_autoptr (GError) error = NULL;

      for (guint j = 0; j < 4; j++)
        b->data[lies[i].at + j] = lies[i].value >> (8 * j) & 255;
      g_assert_null (load_bmp (b, &error));
      g_assert_error (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE);
      g_assert_nonnull (strstr (error->message, lies[i].problem));
      g_assert_true (g_str_has_prefix (error->message, "b.bmp: "));
    }
  {
    g_autoptr (GByteArray) b = hand_made_bmp (40);
    g_autoptr (GError) error = NULL;

    g_byte_array_set_size (b, 20);
    g_assert_null (load_bmp (b, &error));
    g_assert_nonnull (strstr (error->message, "truncated BMP"));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(name, data, fn) g_test_add (name, Fixture, data, fixture_set_up, fn, fixture_tear_down)
  ADD ("/import/idx/raw", NULL, test_idx_read_back);
  ADD ("/import/idx/gzip", GINT_TO_POINTER (1), test_idx_read_back);
  ADD ("/import/idx/bad", NULL, test_idx_bad);
  ADD ("/import/cifar", NULL, test_cifar_record);
  ADD ("/import/folder", NULL, test_image_folder);
  ADD ("/import/csv", NULL, test_csv_manifest);
  ADD ("/import/scaled-decode", NULL, test_scaled_decode);
  ADD ("/import/truncated-jpeg", NULL, test_truncated_jpeg);
  ADD ("/import/bmp", NULL, test_bmp);
  ADD ("/import/parallel-folder", NULL, test_parallel_folder);
  ADD ("/import/npy-outlives-file", NULL, test_npy_outlives_file);
#undef ADD
  return g_test_run ();
}
