#!/bin/bash
# make-hostile: writes a corpus of malformed inputs for every reader of outside files, and the list of how to feed each to veto.
#
# Usage: make-hostile.sh OUTDIR [VETO]
#          the corpus: OUTDIR/cases/NN-NAME/... and the list OUTDIR/cases.tsv (VETO, when given,
#          makes the real project that the damaged-project cases start from)
#        make-hostile.sh --unseen SEED COUNT CORPUS OUTDIR
#          COUNT mutants of CORPUS's cases (random byte flips, cuts, insertions and lying
#          fields, seeded by SEED) in OUTDIR/cases/, listed in OUTDIR/cases.tsv
#
# cases.tsv has one line per case, tab-separated:
#   KIND  DESCRIPTION  SHOWN  TARGET  SOURCE  EXTRA
# KIND says which command reads SOURCE (see test-hostile.sh): import, labels, npy, q,
# project-info, project-import. SHOWN is the name stderr must hold. TARGET is the file the
# unseen batch mutates ("-": none, e.g. a FIFO). EXTRA: more arguments (space-separated).
# Paths are relative to OUTDIR. Every fixture is made here with printf, head, awk, gzip, base64
# and sqlite3 (no Python); a few tiny images made once with GdkPixbuf are embedded as base64.
# Both batches are the same on every run (except the damaged real projects, which hold times).
set -u

# --- bytes ---

bytes ()
{
  local b
  for b in "$@"; do
    # shellcheck disable=SC2059 # the format is the escape that makes the byte
    printf "\\$(printf '%03o' "$b")"
  done
}
be32 () { bytes $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }
be16 () { bytes $(($1 >> 8 & 255)) $(($1 & 255)); }
le16 () { bytes $(($1 & 255)) $(($1 >> 8 & 255)); }
le32 () { bytes $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }

# fill COUNT BYTE: COUNT copies of one byte value.
fill ()
{
  head -c "$1" /dev/zero | tr '\0' "\\$(printf '%03o' "$2")"
}

# noise COUNT [SEED]: COUNT pseudo-random bytes, the same on every run (each call without SEED
# takes the next seed), so that the corpus and its mutants can be made again byte for byte.
NOISE_SEED=1
noise ()
{
  local seed=${2:-$NOISE_SEED}
  NOISE_SEED=$((NOISE_SEED + 1))
  LC_ALL=C awk -v n="$1" -v s="$seed" 'BEGIN { srand(s); for (i = 0; i < n; i++) printf "%c", int(rand() * 256) }'
}

# patch FILE OFFSET: writes stdin over FILE at OFFSET, keeping its length.
patch ()
{
  dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# idx_header NDIMS DIM...
idx_header ()
{
  local ndims=$1 d
  shift
  bytes 0 0 8 "$ndims"
  for d in "$@"; do be32 "$d"; done
}

# --- images ---

# Tiny valid images: a 2x2 PNG (as in tests/e2e), and a 2x2 JPEG, TIFF and ICO written once by
# gdk_pixbuf_save.
PNG_RED=iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAE0lEQVR42mP4z8AARAxcInJABAAYcwJ3KTN4rAAAAABJRU5ErkJggg==
JPEG_2X2=/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAACAAIDASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcFBAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwChRRRXuHnn/9k=
TIFF_2X2=SUkqABYAAAB4nDNOO2MMQwAh6gWVAAsAAAEDAAEAAAACAAAAAQEDAAEAAAACAAAAAgEDAAMAAACgAAAAAwEDAAEAAAAIAAAABgEDAAEAAAACAAAACgEDAAEAAAABAAAAEQEEAAEAAAAIAAAAFQEDAAEAAAADAAAAFgEDAAEAAAACAAAAFwEEAAEAAAANAAAAHAEDAAEAAAABAAAAAAAAAAgACAAIAA==
ICO_2X2=AAABAAEAAgIAAAEAGABAAAAAFgAAACgAAAACAAAABAAAAAEAGAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAADMZjPMZjMAAMxmM8xmMwAAAAAAAAAAAAA=
# Where the embedded files keep their dimensions.
JPEG_SOF_HEIGHT=163 # SOF0: height then width, 16-bit big-endian
TIFF_WIDTH=32       # ImageWidth and ImageLength entries' SHORT values, little-endian
TIFF_HEIGHT=44
ICO_OFFSET=18       # the directory entry's offset of the image data, 32-bit little-endian

good_png () { printf '%s' "$PNG_RED" | base64 -d; }

# crc32 FILE: the 4 big-endian bytes of FILE's CRC-32 (gzip's trailer holds it, little-endian).
crc32 ()
{
  be32 "$(gzip -c <"$1" | tail -c 8 | head -c 4 | od -An -tu4 | tr -d ' ')"
}

# png_with_ihdr WIDTH HEIGHT: the 2x2 PNG with an IHDR claiming WIDTH x HEIGHT (CRC correct).
png_with_ihdr ()
{
  local chunk=$WORK/ihdr
  { printf 'IHDR'; be32 "$1"; be32 "$2"; bytes 8 2 0 0 0; } >"$chunk"
  good_png | head -c 8
  be32 13
  cat "$chunk"
  crc32 "$chunk"
  good_png | tail -c +34
}

# gif WIDTH HEIGHT: a GIF89a whose screen and image claim WIDTH x HEIGHT, with 1 pixel of data.
gif ()
{
  printf 'GIF89a'
  le16 "$1"
  le16 "$2"
  bytes 128 0 0 0 0 0 255 255 255
  bytes 44 0 0 0 0
  le16 "$1"
  le16 "$2"
  bytes 0 2 2 68 1 0 59
}

# bmp WIDTH HEIGHT: a 24-bit BMP header claiming WIDTH x HEIGHT, then 16 bytes of pixels.
bmp ()
{
  printf 'BM'
  le32 70
  le32 0
  le32 54
  le32 40
  le32 "$1"
  le32 "$2"
  le16 1
  le16 24
  le32 0
  le32 16
  le32 2835
  le32 2835
  le32 0
  le32 0
  fill 16 200
}

# tga WIDTH HEIGHT: an uncompressed true-colour TGA claiming WIDTH x HEIGHT, 12 bytes of pixels.
tga ()
{
  bytes 0 0 2 0 0 0 0 0 0 0 0 0
  le16 "$1"
  le16 "$2"
  bytes 24 0
  fill 12 90
}

# --- the case list ---

# case_ KIND DESCRIPTION SHOWN TARGET SOURCE [EXTRA]: one line of cases.tsv.
case_ ()
{
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "${6-}" >>"$OUT/cases.tsv"
}

# untarget [N]: the last N cases (default 1) have nothing the unseen batch can mutate.
untarget ()
{
  local n=${1:-1} total
  total=$(wc -l <"$OUT/cases.tsv")
  awk -v from=$((total - n)) 'BEGIN { FS = OFS = "\t" } NR > from { $4 = "-" } { print }' \
    "$OUT/cases.tsv" >"$OUT/cases.tsv.new" && mv "$OUT/cases.tsv.new" "$OUT/cases.tsv"
}

# newcase NAME: makes the next case folder cases/NN-NAME, in $C (absolute) and $R (relative).
CASE_NO=0
newcase ()
{
  CASE_NO=$((CASE_NO + 1))
  R=cases/$(printf '%02d' "$CASE_NO")-$1
  C=$OUT/$R
  mkdir -p "$C"
}

# folder_case NAME FILE DESCRIPTION: an image folder holding a good image and FILE, the bad one,
# which the caller writes to $BAD.
folder_case ()
{
  newcase "$1"
  good_png >"$C/a-good.png"
  BAD=$C/$2
  case_ import "$3" "$2" "$R/$2" "$R"
}

make_corpus ()
{
  local veto=${1-} p s

  # ---------------- IDX images ----------------
  newcase idx-count-zero
  idx_header 3 0 28 28 >"$C/count-zero.idx"
  case_ import "IDX holding 0 images" count-zero.idx "$R/count-zero.idx" "$R/count-zero.idx"

  newcase idx-zero-rows
  { idx_header 3 5 0 28; fill 20 1; } >"$C/zero-rows.idx"
  case_ import "IDX whose images have 0 rows" zero-rows.idx "$R/zero-rows.idx" "$R/zero-rows.idx"

  newcase idx-no-dimensions
  { bytes 0 0 8 0; fill 8 7; } >"$C/no-dims.idx"
  case_ import "IDX declaring 0 dimensions" no-dims.idx "$R/no-dims.idx" "$R/no-dims.idx"

  newcase idx-255-dimensions
  { bytes 0 0 8 255; for _ in $(seq 12); do be32 1; done; fill 4 1; } >"$C/255-dims.idx"
  case_ import "IDX declaring 255 dimensions" 255-dims.idx "$R/255-dims.idx" "$R/255-dims.idx"

  newcase idx-float-type
  { bytes 0 0 13 3; be32 1; be32 2; be32 2; fill 16 0; } >"$C/float.idx"
  case_ import "IDX of float32 values (type 0x0D), --format idx" float.idx "$R/float.idx" \
    "$R/float.idx" "--format idx"

  newcase idx-count-bomb
  { idx_header 3 4294967295 28 28; noise 784; } >"$C/count-bomb.idx"
  case_ import "IDX claiming 4294967295 images of 28x28 (holds 1)" count-bomb.idx \
    "$R/count-bomb.idx" "$R/count-bomb.idx"

  newcase idx-side-bomb
  { idx_header 3 1 10000 10000; fill 100 3; } >"$C/side-bomb.idx"
  case_ import "IDX claiming one 10000x10000 image (holds 100 bytes)" side-bomb.idx \
    "$R/side-bomb.idx" "$R/side-bomb.idx"

  newcase idx-channels-5
  { idx_header 4 1 2 2 5; fill 20 9; } >"$C/channels-5.idx"
  case_ import "IDX of 5-channel images" channels-5.idx "$R/channels-5.idx" "$R/channels-5.idx"

  newcase idx-gz-trailing-garbage
  { idx_header 3 3 2 2; fill 12 5; } | gzip -9 -n -c >"$C/trailing.idx.gz"
  printf 'this is not gzip' >>"$C/trailing.idx.gz"
  case_ import "gzip'd IDX followed by garbage bytes" trailing.idx.gz "$R/trailing.idx.gz" \
    "$R/trailing.idx.gz"

  newcase idx-gz-corrupt
  { idx_header 3 100 28 28; noise 78400; } | gzip -1 -n -c >"$C/corrupt.idx.gz"
  s=$(stat -c %s "$C/corrupt.idx.gz")
  printf 'XXXXXXXX' | patch "$C/corrupt.idx.gz" $((s / 2))
  case_ import "gzip'd IDX with 8 bytes of its deflate stream overwritten" corrupt.idx.gz \
    "$R/corrupt.idx.gz" "$R/corrupt.idx.gz"

  newcase idx-gz-lying-count
  { idx_header 3 1000000 28 28; noise $((200 * 784)); } | gzip -1 -n -c >"$C/lying.idx.gz"
  case_ import "gzip'd IDX claiming 1000000 images (holds 200)" lying.idx.gz "$R/lying.idx.gz" \
    "$R/lying.idx.gz"

  newcase idx-gz-empty-stream
  printf '' | gzip -n -c >"$C/empty-stream.idx.gz"
  case_ import "a valid gzip stream of 0 bytes, --format idx" empty-stream.idx.gz \
    "$R/empty-stream.idx.gz" "$R/empty-stream.idx.gz" "--format idx"

  newcase idx-gz-of-gz
  { idx_header 3 3 2 2; fill 12 5; } | gzip -n -c | gzip -n -c >"$C/double.idx.gz"
  case_ import "gzip'd gzip of an IDX" double.idx.gz "$R/double.idx.gz" "$R/double.idx.gz"

  newcase idx-as-csv
  { idx_header 3 3 2 2; fill 12 5; } >"$C/images.idx"
  case_ import "an IDX file given with --format csv" images.idx "$R/images.idx" "$R/images.idx" \
    "--format csv"

  newcase cifar-as-idx
  { bytes 1; fill 3072 10; } >"$C/data_batch_1.bin"
  case_ import "a CIFAR-10 batch given with --format idx" data_batch_1.bin \
    "$R/data_batch_1.bin" "$R/data_batch_1.bin" "--format idx"

  newcase idx-directory
  mkdir -p "$C/images.idx"
  case_ import "a folder where an IDX file is expected (--format idx)" images.idx - \
    "$R/images.idx" "--format idx"

  newcase idx-fifo
  mkfifo "$C/pipe.idx"
  case_ import "a FIFO as the source, --format idx" pipe.idx - "$R/pipe.idx" "--format idx"
  case_ import "a FIFO as the source, format detected" pipe.idx - "$R/pipe.idx"

  newcase idx-symlink-loop
  ln -s loop.idx "$C/loop.idx"
  case_ import "a symlink loop as the source" loop.idx - "$R/loop.idx"

  # ---------------- IDX labels (with 3 good 2x2 images) ----------------
  newcase labels-are-images
  { idx_header 3 3 2 2; fill 12 1; } >"$C/labels-3d.idx"
  case_ labels "an images file (3 dimensions) given as --labels" labels-3d.idx \
    "$R/labels-3d.idx" "$R/labels-3d.idx"

  newcase labels-count-bomb
  { idx_header 1 4294967295; bytes 0 1 2; } >"$C/labels-bomb.idx"
  case_ labels "labels claiming 4294967295 entries (holds 3)" labels-bomb.idx \
    "$R/labels-bomb.idx" "$R/labels-bomb.idx"

  newcase labels-gz-cut
  { idx_header 1 3000; noise 3000; } | gzip -n -c >"$C/whole.gz"
  head -c $(($(stat -c %s "$C/whole.gz") / 2)) "$C/whole.gz" >"$C/labels-cut.idx.gz"
  rm -f "$C/whole.gz"
  case_ labels "gzip'd labels cut in the middle" labels-cut.idx.gz "$R/labels-cut.idx.gz" \
    "$R/labels-cut.idx.gz"

  newcase labels-directory
  mkdir -p "$C/labels.idx"
  case_ labels "a folder given as --labels" labels.idx - "$R/labels.idx"

  newcase labels-fifo
  mkfifo "$C/labels-pipe.idx"
  case_ labels "a FIFO given as --labels" labels-pipe.idx - "$R/labels-pipe.idx"

  # ---------------- CIFAR ----------------
  newcase cifar100-fine-100
  { bytes 3 100; fill 3072 40; } >"$C/train.bin"
  case_ import "CIFAR-100 record with fine label 100 (train.bin)" train.bin "$R/train.bin" \
    "$R/train.bin"

  newcase cifar100-coarse-20
  { bytes 20 7; fill 3072 60; } >"$C/test.bin"
  case_ import "CIFAR-100 record with coarse label 20, --coarse" test.bin "$R/test.bin" \
    "$R/test.bin" "--coarse"

  newcase cifar-one-byte
  bytes 1 >"$C/one-byte.bin"
  case_ import "a 1-byte file, --format cifar10" one-byte.bin "$R/one-byte.bin" \
    "$R/one-byte.bin" "--format cifar10"

  newcase cifar-second-batch-cut
  { bytes 1; fill 3072 10; bytes 2; fill 3072 20; } >"$C/data_batch_1.bin"
  { bytes 3; fill 3072 30; bytes 4; fill 1000 40; } >"$C/data_batch_2.bin"
  case_ import "CIFAR-10 folder: batch 1 good, batch 2 cut short" data_batch_2.bin \
    "$R/data_batch_2.bin" "$R"

  newcase cifar100-as-cifar10
  { bytes 1 7; fill 3072 11; bytes 2 8; fill 3072 12; } >"$C/hundred.bin"
  case_ import "CIFAR-100 batch given with --format cifar10" hundred.bin "$R/hundred.bin" \
    "$R/hundred.bin" "--format cifar10"

  newcase cifar-fifo
  mkfifo "$C/batch.bin"
  case_ import "a FIFO given with --format cifar10" batch.bin - "$R/batch.bin" "--format cifar10"

  newcase cifar-folder-without-batches
  printf 'airplane\n' >"$C/batches.meta.txt"
  case_ import "a folder without data_batch_*.bin, --format cifar10" "$(basename "$R")" - "$R" \
    "--format cifar10"

  # ---------------- image folders: a good image, then the bad one ----------------
  folder_case png-bomb b-bomb.png "PNG claiming 60000x60000 (CRC right)"
  png_with_ihdr 60000 60000 >"$BAD"

  folder_case jpeg-bomb b-bomb.jpg "JPEG whose SOF0 claims 60000x60000"
  printf '%s' "$JPEG_2X2" | base64 -d >"$BAD"
  { be16 60000; be16 60000; } | patch "$BAD" "$JPEG_SOF_HEIGHT"

  folder_case gif-bomb b-bomb.gif "GIF claiming 60000x60000"
  gif 60000 60000 >"$BAD"

  folder_case bmp-bomb b-bomb.bmp "BMP claiming 60000x60000"
  bmp 60000 60000 >"$BAD"

  folder_case bmp-negative b-negative.bmp "BMP claiming 60000 x -60000 (top-down)"
  bmp 60000 $((4294967296 - 60000)) >"$BAD"

  folder_case tiff-bomb b-bomb.tif "TIFF claiming 60000x60000"
  printf '%s' "$TIFF_2X2" | base64 -d >"$BAD"
  le16 60000 | patch "$BAD" "$TIFF_WIDTH"
  le16 60000 | patch "$BAD" "$TIFF_HEIGHT"

  folder_case tga-bomb b-bomb.tga "TGA claiming 60000x60000"
  tga 60000 60000 >"$BAD"

  folder_case pnm-bomb b-bomb.ppm "PPM claiming 60000x60000"
  { printf 'P6\n60000 60000\n255\n'; fill 30 77; } >"$BAD"

  folder_case xpm-bomb b-xpm.png "XPM claiming 60000x60000, named .png"
  printf '/* XPM */\nstatic char *x[] = {\n"60000 60000 1 1",\n". c #ffffff",\n".",\n};\n' >"$BAD"

  folder_case svg-bomb b-svg.png "SVG of 60000x60000, named .png"
  printf '<svg xmlns="http://www.w3.org/2000/svg" width="60000" height="60000"><rect width="60000" height="60000" fill="red"/></svg>\n' >"$BAD"

  folder_case png-short-data b-short.png "PNG claiming 6000x6000 (under the limits) with 2x2 of data"
  png_with_ihdr 6000 6000 >"$BAD"

  folder_case png-cut b-cut.png "PNG cut inside its IDAT chunk"
  good_png | head -c 50 >"$BAD"

  folder_case jpeg-cut b-cut.jpg "JPEG cut in its Huffman tables"
  printf '%s' "$JPEG_2X2" | base64 -d | head -c 300 >"$BAD"

  folder_case gif-cut b-cut.gif "GIF cut before its image data"
  gif 2 2 | head -c 22 >"$BAD"

  folder_case png-bad-crc b-crc.png "PNG whose IHDR CRC is wrong"
  good_png >"$BAD"
  printf '\000\000\000\000' | patch "$BAD" 29

  folder_case ico-offset b-offset.ico "ICO whose image offset points 2 GB past its end"
  printf '%s' "$ICO_2X2" | base64 -d >"$BAD"
  le32 2147483647 | patch "$BAD" "$ICO_OFFSET"

  folder_case symlink-loop b-loop.png "a symlink loop named .png in a folder"
  ln -s b-loop.png "$BAD"
  untarget

  folder_case fifo b-pipe.png "a FIFO named .png in a folder"
  mkfifo "$BAD"
  untarget

  folder_case sparse-300mb b-huge.png "a 300 MB (sparse) file named .png"
  truncate -s 300M "$BAD"
  untarget

  folder_case dangling b-dangling.png "a dangling symlink named .png"
  ln -s nowhere/missing.png "$BAD"
  untarget

  newcase class-not-utf8
  mkdir -p "$C/cat" "$C/"$'\xfe\xff'
  good_png >"$C/cat/a.png"
  printf '%s' "$JPEG_2X2" | base64 -d >"$C/"$'\xfe\xff'/b.jpg
  case_ import "class folder whose name is not UTF-8" $'\xef\xbf\xbd\xef\xbf\xbd' - "$R"

  # ---------------- CSV manifests: a good row, then the bad one ----------------
  csv_case ()
  {
    newcase "$1"
    mkdir -p "$C/img"
    good_png >"$C/img/good.png"
    printf 'path,label,split\nimg/good.png,a,pool\n' >"$C/list.csv"
    case_ import "$2" "${4:-list.csv}" "$R/list.csv" "$R/list.csv" "${3-}"
  }

  csv_case csv-10mb-field "CSV line of one 10 MB field"
  head -c 10485760 /dev/zero | tr '\0' 'x' >>"$C/list.csv"
  printf ',a,pool\n' >>"$C/list.csv"
  untarget

  csv_case csv-10mb-commas "CSV line of 10 MB of commas (5 million fields)"
  { printf 'img/missing.png'; head -c 10485760 /dev/zero | tr '\0' ','; printf '\n'; } >>"$C/list.csv"
  untarget

  # (these name the row's file, which is the one at fault)
  csv_case csv-row-directory "CSV row naming a folder" "" img
  printf 'img,a,pool\n' >>"$C/list.csv"

  csv_case csv-row-fifo "CSV row naming a FIFO" "" pipe.png
  mkfifo "$C/img/pipe.png"
  printf 'img/pipe.png,a,pool\n' >>"$C/list.csv"

  csv_case csv-row-loop "CSV row naming a symlink loop" "" loop.png
  ln -s loop.png "$C/img/loop.png"
  printf 'img/loop.png,a,pool\n' >>"$C/list.csv"

  newcase csv-linked-folder
  mkdir -p "$C/outside" "$C/manifest/img"
  good_png >"$C/manifest/img/good.png"
  printf '%s' "$TIFF_2X2" | base64 -d >"$C/outside/secret.tif"
  ln -s ../outside "$C/manifest/out"
  printf 'path,label,split\nimg/good.png,a,pool\nout/secret.tif,a,pool\n' >"$C/manifest/list.csv"
  case_ import "CSV path leaving its folder through a symlinked folder" list.csv \
    "$R/manifest/list.csv" "$R/manifest/list.csv"

  csv_case csv-nul "CSV with a NUL byte inside a label"
  printf 'img/good.png,c\000t,pool\n' >>"$C/list.csv"

  csv_case csv-utf16 "CSV in UTF-16 with a byte-order mark"
  printf 'path,label,split\nimg/good.png,a,pool\n' | sed 's/./&\x00/g; s/\n/\n\x00/' >"$C/body"
  { printf '\377\376'; cat "$C/body"; } >"$C/list.csv"
  rm -f "$C/body"

  csv_case csv-header-only "CSV with its header and no row"
  printf 'path,label,split\n' >"$C/list.csv"

  csv_case csv-binary "a PNG given with --format csv" "--format csv"
  good_png >"$C/list.csv"

  newcase csv-fifo
  mkfifo "$C/list.csv"
  case_ import "a FIFO given with --format csv" list.csv - "$R/list.csv" "--format csv"

  # ---------------- .npy features (train --features npy:FILE) ----------------
  npy_header ()
  {
    local dict=$1
    while [ $(((10 + ${#dict} + 1) % 64)) -ne 0 ]; do dict+=" "; done
    dict+=$'\n'
    printf '\223NUMPY\001\000'
    le16 ${#dict}
    printf '%s' "$dict"
  }
  npy_case ()
  {
    newcase "$1"
    case_ npy "$2" "$3" "$R/$3" "$R/$3"
    BAD=$C/$3
  }

  npy_case npy-cut "npy float32 2x3 cut inside its data" cut.npy
  { npy_header "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"; fill 10 0; } >"$BAD"

  npy_case npy-empty "zero-length .npy" empty.npy
  : >"$BAD"

  npy_case npy-wrong-rows "npy of 2 rows for a project of more items" rows.npy
  { npy_header "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"; fill 24 0; } >"$BAD"

  npy_case npy-nan "npy holding NaN" nan.npy
  { npy_header "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }"; bytes 0 0 192 127 0 0 192 127; } >"$BAD"

  npy_case npy-int "npy of int64" int.npy
  { npy_header "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }"; fill 32 0; } >"$BAD"

  npy_case npy-3d "npy of 3 dimensions" 3d.npy
  { npy_header "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2), }"; fill 16 0; } >"$BAD"

  npy_case npy-header-lies "npy whose header length claims 65535 bytes" lies.npy
  { printf '\223NUMPY\001\000'; le16 65535; printf "{'descr': '<f4'"; } >"$BAD"

  npy_case npy-shape-bomb "npy claiming shape (2^40, 2^40) with no data" bomb.npy
  npy_header "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }" >"$BAD"

  npy_case npy-version-9 "npy of format version 9.0" v9.npy
  { npy_header "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }"; fill 4 0; } >"$BAD"
  printf '\011' | patch "$BAD" 6

  npy_case npy-fifo "a FIFO given as npy:FILE" pipe.npy
  mkfifo "$BAD"
  untarget

  npy_case npy-directory "a folder given as npy:FILE" dir.npy
  mkdir -p "$BAD"
  untarget

  npy_case npy-loop "a symlink loop given as npy:FILE" loop.npy
  ln -s loop.npy "$BAD"
  untarget

  # ---------------- transition matrices (train --supervision synthetic-complementary --q FILE) ----
  # q_rows K [ROW VALUES...]: K rows of K uniform off-diagonal entries, with row 1 replaced.
  q_matrix ()
  {
    local k=$1 first=${2-} r c
    for ((r = 0; r < k; r++)); do
      if [ "$r" -eq 0 ] && [ -n "$first" ]; then
        echo "$first"
        continue
      fi
      for ((c = 0; c < k; c++)); do
        if [ "$c" -eq "$r" ]; then printf '0 '; else printf '0.111111 '; fi
      done
      echo
    done
  }
  q_case ()
  {
    newcase "$1"
    case_ q "$2" "$3" "$R/$3" "$R/$3"
    BAD=$C/$3
  }

  q_case q-not-square "matrix of 10 rows of 9" not-square.txt
  q_matrix 10 | sed 's/ 0.111111 $/ /' >"$BAD"

  q_case q-negative "10x10 matrix with a negative entry" negative.txt
  q_matrix 10 "0 -0.1 0.2 0.2 0.2 0.1 0.1 0.1 0.05 0.05" >"$BAD"

  q_case q-zero-row "10x10 matrix with a row of zeros" zero-row.txt
  q_matrix 10 "0 0 0 0 0 0 0 0 0 0" >"$BAD"

  q_case q-wrong-k "3x3 matrix for a project of 10 classes" three.txt
  q_matrix 3 >"$BAD"

  q_case q-binary "a PNG given as the matrix" binary.txt
  good_png >"$BAD"

  q_case q-huge-line "10 MB of numbers on one line" huge.txt
  head -c 10485760 /dev/zero | tr '\0' '1' | sed 's/1111/0.1 /g' >"$BAD"
  untarget

  q_case q-overflow "10x10 matrix whose first row sums past the largest double" overflow.txt
  q_matrix 10 "0 1e308 1e308 1 1 1 1 1 1 1" >"$BAD"

  q_case q-infinite "10x10 matrix with 1e999" infinite.txt
  q_matrix 10 "0 1e999 1 1 1 1 1 1 1 1" >"$BAD"

  q_case q-not-utf8 "matrix text that is not UTF-8" latin1.txt
  { printf 'Matrice de transition (cat\351gorie)\n'; q_matrix 10; } >"$BAD"

  q_case q-fifo "a FIFO given as --q" pipe.txt
  mkfifo "$BAD"
  untarget

  q_case q-directory "a folder given as --q" dir.txt
  mkdir -p "$BAD"
  untarget

  # ---------------- files given as the project ----------------
  project_case ()
  {
    newcase "$1"
    BAD=$C/$3
    case_ project-info "$2 (info)" "$3" "$R/$3" "$R/$3"
    case_ project-import "$2 (import)" "$3" "$R/$3" "$R/$3"
  }

  project_case project-png "a PNG image given as the project" image.veto
  good_png >"$BAD"

  project_case project-empty "a zero-length file given as the project" empty.veto
  : >"$BAD"

  project_case project-sqlite-header "the 100-byte SQLite header alone given as the project" header.veto
  { printf 'SQLite format 3\000'; be16 4096; bytes 1 1 0 64 32 32; be32 1; be32 1; fill 72 0; } >"$BAD"

  project_case project-fifo "a FIFO given as the project" pipe.veto
  mkfifo "$BAD"
  untarget 2

  project_case project-loop "a symlink loop given as the project" loop.veto
  ln -s loop.veto "$BAD"

  if [ -n "$veto" ]; then
    p=$WORK/real.veto
    "$veto" init "$p" --classes a,b,c >/dev/null 2>&1
    { idx_header 3 300 28 28; noise $((300 * 784)); } >"$WORK/real.idx"
    "$veto" import "$p" "$WORK/real.idx" >/dev/null 2>&1
    sqlite3 "$p" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null 2>&1

    project_case project-cut "a real project cut after its first 2 pages" cut.veto
    head -c 8192 "$p" >"$BAD"

    project_case project-scrambled "a real project whose pages after the header are random" scrambled.veto
    { head -c 100 "$p"; noise $(($(stat -c %s "$p") - 100)); } >"$BAD"
  fi
}

# ---------------------------------------------------------------------------------------------
# The unseen batch: mutants of the corpus's cases.

# rand N: a random number below N in $R, from $RANDOM (which make_unseen seeds). Never call it
# in $(...): bash seeds RANDOM afresh in every subshell, and the batch would not repeat.
R=0
rand ()
{
  R=$(((RANDOM * 32768 + RANDOM) % $1))
}

# mutate FILE: one to four random edits of FILE.
mutate ()
{
  local f=$1 size edits i kind off len v byte at value
  rand 4
  edits=$((1 + R))
  for ((i = 0; i < edits; i++)); do
    size=$(stat -c %s "$f")
    rand 6
    kind=$R
    [ "$size" -eq 0 ] && kind=2
    rand $((size > 0 ? size : 1))
    off=$R
    case $kind in
      0) # overwrite up to 8 random bytes
        rand 8
        len=$((1 + R))
        for ((v = 0; v < len; v++)); do
          rand 256
          byte=$R
          rand "$size"
          bytes "$byte" | patch "$f" "$R"
        done ;;
      1) # cut
        truncate -s "$off" "$f" ;;
      2) # insert random bytes
        rand 64
        len=$((1 + R))
        rand 1000000
        { head -c "$off" "$f"; noise "$len" "$R"; tail -c +$((off + 1)) "$f"; } >"$f.new"
        mv "$f.new" "$f" ;;
      3) # a lying 32-bit field: a value that header parsers trip on
        set -- 0 1 255 65535 60000 2147483647 4294967295 4294967040
        rand 8
        shift "$R"
        value=$1
        rand 2
        if [ "$R" -eq 0 ]; then be32 "$value"; else le32 "$value"; fi | patch "$f" "$off"
        truncate -s "$((size > off + 4 ? size : off + 4))" "$f" ;;
      4) # duplicate a chunk in place
        rand 256
        len=$((1 + R))
        { head -c "$off" "$f"; tail -c +$((off + 1)) "$f" | head -c "$len"; tail -c +$((off + 1)) "$f"; } >"$f.new"
        mv "$f.new" "$f" ;;
      5) # overwrite with one repeated byte (a run of 0x00 or 0xff)
        rand 128
        len=$((1 + R))
        rand 2
        at=$R
        fill "$len" $((at * 255)) | patch "$f" "$off" ;;
    esac
  done
}

make_unseen ()
{
  local seed=$1 count=$2 corpus=$3 n=0 line kind desc shown target source extra unit rel
  local -a mutable=()
  RANDOM=$seed
  while IFS= read -r line; do
    IFS=$'\t' read -r kind desc shown target source extra <<<"$line"
    # Only regular files small enough to copy quickly are mutated.
    if [ "$target" = - ] || [ ! -f "$corpus/$target" ] || [ -L "$corpus/$target" ] \
        || [ "$(stat -c %s "$corpus/$target")" -gt 1048576 ]; then
      continue
    fi
    mutable+=("$line")
  done <"$corpus/cases.tsv"
  [ ${#mutable[@]} -gt 0 ] || { echo "make-hostile: no mutable case in $corpus" >&2; return 1; }
  while [ "$n" -lt "$count" ]; do
    rand ${#mutable[@]}
    line=${mutable[$R]}
    IFS=$'\t' read -r kind desc shown target source extra <<<"$line"
    n=$((n + 1))
    # The unit copied is the case's folder (cases/NN-NAME), with everything beside the target.
    unit=${target#cases/}
    unit=cases/${unit%%/*}
    rel=cases/$(printf '%03d' "$n")-${unit#cases/}
    mkdir -p "$OUT/cases"
    cp -a "$corpus/$unit" "$OUT/$rel"
    mutate "$OUT/$rel/${target#"$unit"/}"
    case_ "$kind" "mutant $n of: $desc" "$shown" "$rel/${target#"$unit"/}" \
      "$rel${source#"$unit"}" "$extra"
  done
}

# ---------------------------------------------------------------------------------------------

if [ "${1-}" = --unseen ]; then
  [ $# -eq 5 ] || { echo "usage: $0 --unseen SEED COUNT CORPUS OUTDIR" >&2; exit 2; }
  OUT=$5
  mkdir -p "$OUT"
  : >"$OUT/cases.tsv"
  make_unseen "$2" "$3" "$(cd "$4" && pwd)"
  exit $?
fi

[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [VETO]" >&2; exit 2; }
OUT=$1
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/veto-make-hostile.XXXXXX") || exit 1
trap 'rm -rf "$WORK"' EXIT
: >"$OUT/cases.tsv"
make_corpus "${2-}"
