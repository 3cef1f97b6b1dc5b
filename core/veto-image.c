/* veto-image: decoded images as plain pixel buffers, decoding with GdkPixbuf and resizing. */
#include "veto-image.h"

#include <errno.h>
#include <fcntl.h>
#include <gdk-pixbuf/gdk-pixbuf.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>

G_DEFINE_QUARK (veto-image-error-quark, veto_image_error)

VetoImage *
veto_image_new (guint width, guint height, guint channels)
{
  VetoImage *image = g_new0 (VetoImage, 1);

  g_return_val_if_fail (channels == 1 || channels == 3, NULL);
  image->width = width;
  image->height = height;
  image->channels = channels;
  image->data = g_malloc0 ((gsize) width * height * channels);
  return image;
}

VetoImage *
veto_image_new_from_data (guint width, guint height, guint channels, const guint8 *data)
{
  VetoImage *image = veto_image_new (width, height, channels);

  memcpy (image->data, data, veto_image_n_bytes (image));
  return image;
}

void
veto_image_free (VetoImage *image)
{
  if (image == NULL)
    return;
  g_free (image->data);
  g_free (image);
}

gsize
veto_image_n_bytes (const VetoImage *image)
{
  return (gsize) image->width * image->height * image->channels;
}

/* What the size-prepared handler needs and learns. */
typedef struct
{
  gboolean too_large;
  gboolean scalable;  /* the decoder scales by itself (JPEG's DCT scaling) */
  guint min_width;
  guint min_height;
  guint width;        /* the file's own dimensions */
  guint height;
} SizeRequest;

static guint
div_up (guint value, guint divisor)
{
  return (value + divisor - 1) / divisor;
}

static void
on_size_prepared (GdkPixbufLoader *loader, int width, int height, gpointer user_data)
{
  SizeRequest *request = user_data;

  if (width <= 0 || height <= 0 || width > VETO_IMAGE_MAX_SIDE || height > VETO_IMAGE_MAX_SIDE
      || (gint64) width * height > VETO_IMAGE_MAX_PIXELS)
    {
      request->too_large = TRUE;
      /* A requested size of 0×0 makes the decoders stop before allocating the claimed one. */
      gdk_pixbuf_loader_set_size (loader, 0, 0);
      return;
    }
  request->width = width;
  request->height = height;
  if (!request->scalable || request->min_width == 0 || request->min_height == 0)
    return;
  /* libjpeg scales by 1/2, 1/4 or 1/8 in the inverse DCT, rounding sizes up, and GdkPixbuf's
   * loader asks it for the smallest of these that still covers the requested size. Asking for
   * exactly that size means the loader has nothing left to resample. */
  for (guint divisor = 8; divisor >= 2; divisor /= 2)
    if (div_up (width, divisor) >= request->min_width
        && div_up (height, divisor) >= request->min_height)
      {
        gdk_pixbuf_loader_set_size (loader, div_up (width, divisor), div_up (height, divisor));
        return;
      }
}

static VetoImage *
image_from_pixbuf (GdkPixbuf *pixbuf)
{
  guint width = gdk_pixbuf_get_width (pixbuf);
  guint height = gdk_pixbuf_get_height (pixbuf);
  guint n_channels = gdk_pixbuf_get_n_channels (pixbuf);
  gboolean has_alpha = gdk_pixbuf_get_has_alpha (pixbuf);
  guint stride = gdk_pixbuf_get_rowstride (pixbuf);
  const guint8 *pixels = gdk_pixbuf_read_pixels (pixbuf);
  g_autoptr (VetoImage) rgb = veto_image_new (width, height, 3);
  gboolean grey = TRUE;

  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      {
        const guint8 *src = pixels + (gsize) y * stride + (gsize) x * n_channels;
        guint8 *dst = rgb->data + ((gsize) y * width + x) * 3;

        for (guint c = 0; c < 3; c++)
          {
            guint v = src[c];

            if (has_alpha)
              v = (v * src[3] + 255u * (255u - src[3]) + 127u) / 255u;
            dst[c] = (guint8) v;
          }
        if (dst[0] != dst[1] || dst[1] != dst[2])
          grey = FALSE;
      }

  if (grey)
    {
      VetoImage *mono = veto_image_new (width, height, 1);

      for (gsize i = 0; i < (gsize) width * height; i++)
        mono->data[i] = rgb->data[i * 3];
      return mono;
    }
  return g_steal_pointer (&rgb);
}

/* The decoder for these bytes, by their magic number: only decoders of the common raster formats
 * ever see outside bytes (text formats such as XPM or SVG can be made to crawl or to allocate
 * gigabytes before any size check). NULL when the bytes are none of them. */
static const char *
sniff_format (const guint8 *data, gsize size)
{
  if (size >= 8 && memcmp (data, "\x89PNG\r\n\x1a\n", 8) == 0)
    return "png";
  if (size >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    return "jpeg";
  if (size >= 6 && (memcmp (data, "GIF87a", 6) == 0 || memcmp (data, "GIF89a", 6) == 0))
    return "gif";
  if (size >= 2 && data[0] == 'B' && data[1] == 'M')
    return "bmp";
  if (size >= 4 && (memcmp (data, "II*\0", 4) == 0 || memcmp (data, "MM\0*", 4) == 0))
    return "tiff";
  if (size >= 2 && data[0] == 'P' && data[1] >= '1' && data[1] <= '6')
    return "pnm";
  if (size >= 4 && memcmp (data, "\0\0\1\0", 4) == 0)
    return "ico";
  if (size >= 12 && memcmp (data, "RIFF", 4) == 0 && memcmp (data + 8, "WEBP", 4) == 0)
    return "webp";
  return NULL;
}

static guint32
be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

/* The dimensions in a PNM header ("P6 640 480 255", comments allowed), or FALSE when there are
 * none to read. Checked before decoding: GdkPixbuf's PNM loader cannot stop cleanly on a size. */
static gboolean
pnm_dimensions (const guint8 *data, gsize size, guint64 *out_width, guint64 *out_height)
{
  guint64 values[2] = { 0, 0 };
  gsize at = 2;

  for (guint v = 0; v < 2; v++)
    {
      while (at < size && (g_ascii_isspace (data[at]) || data[at] == '#'))
        if (data[at] == '#')
          while (at < size && data[at] != '\n')
            at++;
        else
          at++;
      if (at >= size || !g_ascii_isdigit (data[at]))
        return FALSE;
      while (at < size && g_ascii_isdigit (data[at]) && values[v] < G_MAXUINT32)
        values[v] = values[v] * 10 + (data[at++] - '0');
    }
  *out_width = values[0];
  *out_height = values[1];
  return TRUE;
}

/* A PNG must end with IEND (GdkPixbuf fills in the rows of one cut short without a word), and
 * its compressed data must be able to hold what IHDR claims: zlib never packs more than 1,032
 * bytes into one. Returns the problem, or NULL. */
static const char *
png_problem (const guint8 *data, gsize size)
{
  guint64 idat = 0, raw = 0;
  gboolean iend = FALSE;
  gsize at = 8;

  while (at + 12 <= size && !iend)
    {
      guint32 length = be32 (data + at);
      const guint8 *type = data + at + 4;

      if (length > size - at - 12)
        return "a PNG chunk runs past the end of the file (truncated)";
      if (memcmp (type, "IHDR", 4) == 0 && length >= 13)
        {
          const guint8 *h = data + at + 8;
          static const guint channels[7] = { 1, 0, 3, 1, 2, 0, 4 };
          guint bits = h[8] * (h[9] < 7 ? channels[h[9]] : 0);

          raw = (guint64) be32 (h + 4) * (((guint64) be32 (h) * bits + 7) / 8 + 1);
        }
      idat += memcmp (type, "IDAT", 4) == 0 ? length : 0;
      iend = memcmp (type, "IEND", 4) == 0;
      at += 12 + (gsize) length;
    }
  if (!iend)
    return "a truncated PNG (it has no IEND chunk)";
  if (idat * 1032 + 1024 < raw)
    return "a PNG whose header claims far more pixels than its data holds";
  return NULL;
}

static guint32
le32 (const guint8 *p)
{
  return (guint32) p[3] << 24 | (guint32) p[2] << 16 | (guint32) p[1] << 8 | p[0];
}

/* GdkPixbuf's BMP loader sizes its header buffer by the file's own header fields before it knows
 * the image's size: a header size or pixel offset of 4 GB reserves 4 GB (touched, 15 s of
 * page faults, under MALLOC_PERTURB_). The info header must be one of the known versions
 * (BITMAPCOREHEADER 12, OS/2 16 and 64, BITMAPINFOHEADER 40, its V2 52 and V3 56, V4 108, V5 124)
 * inside the file, and the pixels must start inside it. Returns the problem, or NULL. */
static const char *
bmp_problem (const guint8 *data, gsize size)
{
  static const guint32 known[] = { 12, 16, 40, 52, 56, 64, 108, 124 };
  guint32 header;
  gboolean is_known = FALSE;

  if (size < 14 + 12)
    return "a truncated BMP (its headers are cut short)";
  header = le32 (data + 14);
  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    is_known |= header == known[i];
  if (!is_known)
    return "a BMP whose info header has no known size (a damaged header)";
  if (14 + (gsize) header > size)
    return "a truncated BMP (its info header runs past the end of the file)";
  if (le32 (data + 10) >= size)
    return "a BMP whose pixel data would start past the end of the file";
  return NULL;
}

/* GdkPixbuf's JPEG loader returns a truncated JPEG as an image (grey below the cut) with only a
 * warning from libjpeg. A whole JPEG ends its first frame's scans with an EOI marker: walk the
 * marker segments to the first top-level SOS (an EXIF thumbnail inside APP1, with its own EOI,
 * is skipped by its segment length), then look for EOI in what follows (in entropy-coded data a
 * 0xFF byte is followed by 0x00 or a restart marker, so 0xFF 0xD9 there is the real EOI). Data
 * after EOI is allowed. Returns the problem, or NULL. */
static const char *
jpeg_problem (const guint8 *data, gsize size)
{
  gsize at = 2;

  for (;;)
    {
      guint8 marker;

      while (at < size && data[at] == 0xff)
        at++;
      if (at >= size)
        return "a truncated JPEG (it ends inside its header)";
      marker = data[at++];
      if (marker == 0xd9)
        return "a JPEG that ends before its image data";
      if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7))
        continue;
      if (at + 2 > size || ((gsize) data[at] << 8 | data[at + 1]) < 2
          || ((gsize) data[at] << 8 | data[at + 1]) > size - at)
        return "a truncated JPEG (a header segment runs past the end of the file)";
      at += (gsize) data[at] << 8 | data[at + 1];
      if (marker == 0xda)
        break;
    }
  for (; at + 1 < size; at++)
    if (data[at] == 0xff && data[at + 1] == 0xd9)
      return NULL;
  return "a truncated JPEG (its image data has no end marker)";
}

static void
set_too_large (GError **error, const char *name)
{
  g_set_error (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_TOO_LARGE,
               "%s: image dimensions are absurd (zero, over %d pixels a side or over %d pixels)",
               name, VETO_IMAGE_MAX_SIDE, VETO_IMAGE_MAX_PIXELS);
}

VetoImage *
veto_image_load_bytes_scaled (GBytes *bytes, const char *name, guint min_width, guint min_height,
                              guint *out_width, guint *out_height, GError **error)
{
  g_autoptr (GdkPixbufLoader) loader = NULL;
  g_autoptr (GError) local_error = NULL;
  SizeRequest request = { .min_width = min_width, .min_height = min_height };
  VetoImage *image;
  gboolean closed;
  const char *format, *problem;
  guint64 width, height;
  const guint8 *data;
  gsize size, chunk = 0;
  GdkPixbuf *pixbuf;

  data = g_bytes_get_data (bytes, &size);
  if (size == 0)
    {
      g_set_error (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE, "%s: empty file", name);
      return NULL;
    }
  format = sniff_format (data, size);
  if (format == NULL)
    {
      g_set_error (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE,
                   "%s: not an image Veto reads (PNG, JPEG, GIF, BMP, TIFF, PNM, ICO, WebP)", name);
      return NULL;
    }
  if (g_str_equal (format, "pnm") && pnm_dimensions (data, size, &width, &height)
      && (width == 0 || height == 0 || width > VETO_IMAGE_MAX_SIDE || height > VETO_IMAGE_MAX_SIDE
          || width * height > VETO_IMAGE_MAX_PIXELS))
    {
      set_too_large (error, name);
      return NULL;
    }
  /* what the format's decoder would take without a word, or size a buffer by */
  problem = g_str_equal (format, "png")    ? png_problem (data, size)
            : g_str_equal (format, "bmp")  ? bmp_problem (data, size)
            : g_str_equal (format, "jpeg") ? jpeg_problem (data, size)
                                           : NULL;
  if (problem != NULL)
    {
      g_set_error (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE, "%s: %s", name, problem);
      return NULL;
    }
  loader = gdk_pixbuf_loader_new_with_type (format, &local_error);
  if (loader == NULL)
    {
      g_set_error (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE,
                   "%s: no %s decoder is installed (%s)", name, format, local_error->message);
      return NULL;
    }
  request.scalable = g_str_equal (format, "jpeg");
  g_signal_connect (loader, "size-prepared", G_CALLBACK (on_size_prepared), &request);
  /* Feed the loader in chunks so that a header claiming absurd dimensions is caught before
   * any pixel is decoded into the (lazily committed) buffer it asked for. */
  for (gsize done = 0; done < size && !request.too_large; done += chunk)
    {
      chunk = MIN (size - done, 65536);
      if (!gdk_pixbuf_loader_write (loader, data + done, chunk, &local_error))
        break;
    }
  /* Small files may only announce their size when the loader is closed. */
  closed = gdk_pixbuf_loader_close (loader, local_error ? NULL : &local_error);
  if (request.too_large)
    {
      set_too_large (error, name);
      return NULL;
    }
  if (local_error != NULL || !closed)
    {
      g_set_error (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE, "%s: not a readable image (%s)",
                   name, local_error ? local_error->message : "the decoder gave up");
      return NULL;
    }
  pixbuf = gdk_pixbuf_loader_get_pixbuf (loader);
  if (pixbuf == NULL)
    {
      g_set_error (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE, "%s: not a readable image",
                   name);
      return NULL;
    }
  if (gdk_pixbuf_get_bits_per_sample (pixbuf) != 8 || gdk_pixbuf_get_n_channels (pixbuf) < 3)
    {
      g_set_error (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE,
                   "%s: unsupported pixel layout", name);
      return NULL;
    }
  image = image_from_pixbuf (pixbuf);
  if (out_width)
    *out_width = request.width ? request.width : image->width;
  if (out_height)
    *out_height = request.height ? request.height : image->height;
  return image;
}

VetoImage *
veto_image_load_bytes (GBytes *bytes, const char *name, GError **error)
{
  return veto_image_load_bytes_scaled (bytes, name, 0, 0, NULL, NULL, error);
}

/* Reads a whole image file, not mapped (a file truncated by another program meanwhile must give
 * an error or its old bytes, not SIGBUS). Only a regular file of a sane size is read: a path
 * that names a pipe or a device must not block or feed us forever. *out_size_on_disk (unless
 * NULL) gets the size fstat () gave; fewer bytes come back when the file shrank while it was
 * read. */
static GBytes *
read_image_file (const char *path, const char *name, gsize *out_size_on_disk, GError **error)
{
  g_autofree guint8 *data = NULL;
  struct stat st;
  gsize done = 0;
  int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

  if (fd < 0 || fstat (fd, &st) != 0 || !S_ISREG (st.st_mode)
      || (guint64) st.st_size > VETO_IMAGE_MAX_FILE_BYTES)
    {
      int saved = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_DECODE, "%s: %s", name,
                   fd < 0 ? g_strerror (saved)
                          : "not a regular image file of at most 256 MiB");
      return NULL;
    }
  data = g_malloc (MAX (st.st_size, 1));
  while (done < (gsize) st.st_size)
    {
      gssize n = read (fd, data + done, st.st_size - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break;
      done += n;
    }
  close (fd);
  if (out_size_on_disk != NULL)
    *out_size_on_disk = st.st_size;
  return g_bytes_new_take (g_steal_pointer (&data), done);
}

VetoImage *
veto_image_load_scaled (const char *path, guint min_width, guint min_height, guint *out_width,
                        guint *out_height, GError **error)
{
  g_autofree char *display = g_filename_display_name (path);
  g_autoptr (GBytes) bytes = read_image_file (path, display, NULL, error);

  if (bytes == NULL)
    return NULL;
  return veto_image_load_bytes_scaled (bytes, display, min_width, min_height, out_width,
                                       out_height, error);
}

VetoImage *
veto_image_load (const char *path, GError **error)
{
  return veto_image_load_scaled (path, 0, 0, NULL, NULL, error);
}

VetoImage *
veto_image_load_verified (const char *path, const char *sha256, const char *name,
                          guint min_width, guint min_height, GError **error)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autofree char *digest = NULL;
  gsize size_on_disk;

  bytes = read_image_file (path, name, &size_on_disk, error);
  if (bytes == NULL)
    return NULL;
  digest = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, bytes);
  if (g_bytes_get_size (bytes) != size_on_disk || g_strcmp0 (digest, sha256) != 0)
    {
      g_set_error (error, VETO_IMAGE_ERROR, VETO_IMAGE_ERROR_MISMATCH,
                   "%s: not the file that was imported (its sha256 differs): refused", name);
      return NULL;
    }
  return veto_image_load_bytes_scaled (bytes, name, min_width, min_height, NULL, NULL, error);
}

VetoImage *
veto_image_resize (const VetoImage *image, guint width, guint height)
{
  VetoImage *out = veto_image_new (width, height, image->channels);
  guint ch = image->channels;
  double sx = (double) image->width / width;
  double sy = (double) image->height / height;

  for (guint oy = 0; oy < height; oy++)
    {
      double y0 = oy * sy, y1 = y0 + sy;

      for (guint ox = 0; ox < width; ox++)
        {
          double x0 = ox * sx, x1 = x0 + sx;
          double acc[3] = { 0, 0, 0 };
          double total = 0;

          for (guint y = (guint) y0; y < image->height && y < y1; y++)
            {
              double wy = MIN (y1, y + 1.0) - MAX (y0, (double) y);

              for (guint x = (guint) x0; x < image->width && x < x1; x++)
                {
                  double w = wy * (MIN (x1, x + 1.0) - MAX (x0, (double) x));
                  const guint8 *src = image->data + ((gsize) y * image->width + x) * ch;

                  for (guint c = 0; c < ch; c++)
                    acc[c] += w * src[c];
                  total += w;
                }
            }
          for (guint c = 0; c < ch; c++)
            out->data[((gsize) oy * width + ox) * ch + c]
                = (guint8) CLAMP (acc[c] / total + 0.5, 0, 255);
        }
    }
  return out;
}

gboolean
veto_image_save_png (const VetoImage *image, const char *path, GError **error)
{
  g_autoptr (GdkPixbuf) pixbuf = gdk_pixbuf_new (GDK_COLORSPACE_RGB, FALSE, 8, image->width,
                                                 image->height);
  guint8 *pixels = gdk_pixbuf_get_pixels (pixbuf);
  guint stride = gdk_pixbuf_get_rowstride (pixbuf);

  for (guint y = 0; y < image->height; y++)
    for (guint x = 0; x < image->width; x++)
      {
        const guint8 *src = image->data + ((gsize) y * image->width + x) * image->channels;
        guint8 *dst = pixels + (gsize) y * stride + (gsize) x * 3;

        for (guint c = 0; c < 3; c++)
          dst[c] = src[image->channels == 3 ? c : 0];
      }
  return gdk_pixbuf_save (pixbuf, path, "png", error, NULL);
}
