#!/bin/bash
# make-corpus: writes the small seed inputs of the fuzz targets into tests/fuzz/corpus/{idx,cifar,csv}/.
# The files are committed; run this again (from anywhere) only to regenerate them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/corpus
rm -rf "$corpus/idx" "$corpus/cifar" "$corpus/csv"
mkdir -p "$corpus/idx" "$corpus/cifar" "$corpus/csv"

# bytes N START: N bytes counting up from START (mod 256), through printf's octal escapes.
bytes () {
  local n=$1 v=$2 i fmt=""
  for ((i = 0; i < n; i++)); do
    fmt+=$(printf '\\%03o' $(((v + i) % 256)))
  done
  printf "$fmt"
}
# be32 N: N as 4 big-endian bytes.
be32 () {
  printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) \
    $(($1 >> 8 & 255)) $(($1 & 255)))"
}
# idx NDIMS COUNT DIM...: an IDX header of unsigned bytes.
idx () {
  local ndims=$1
  shift
  printf "\\000\\000\\010$(printf '\\%03o' "$ndims")"
  for d in "$@"; do be32 "$d"; done
}

# --- IDX: the target reads each input as an images file (alone, and with 3 fixed labels) and
# as the labels file of 3 fixed images of 2 x 2. ---
i=$corpus/idx
{ idx 3 3 2 2; bytes 12 0; } >"$i/images-3x2x2"
{ idx 3 2 2 2; bytes 8 100; } >"$i/images-2x2x2"
{ idx 3 1 28 28; bytes 784 7; } >"$i/images-1x28x28"
{ idx 4 1 2 2 3; bytes 12 50; } >"$i/images-rgb-1x2x2x3"
{ idx 4 1 2 2 2; bytes 8 50; } >"$i/images-2-channels"
{ idx 3 5 2 2; bytes 4 0; } >"$i/images-truncated"
{ idx 3 1 2 2; bytes 6 0; } >"$i/images-trailing-bytes"
{ idx 3 1 0 4; } >"$i/images-zero-rows"
{ idx 3 1 10001 2; } >"$i/images-too-wide"
{ idx 3 3 2; } >"$i/images-header-cut"
gzip -9 -n -c "$i/images-3x2x2" >"$i/images-3x2x2.gz"
{ idx 1 3; printf '\000\011\004'; } >"$i/labels-3"
{ idx 1 3; printf '\000\012\004'; } >"$i/labels-out-of-range"
{ idx 1 4; printf '\000\001\002\003'; } >"$i/labels-4"
{ idx 1 3; printf '\000\001'; } >"$i/labels-truncated"
gzip -9 -n -c "$i/labels-3" >"$i/labels-3.gz"
printf '\000\000\011\003' >"$i/not-unsigned-bytes"

# --- CIFAR: the target reads each input as CIFAR-10, CIFAR-100 fine and CIFAR-100 coarse. A
# record is the label byte(s) then 3 planes of 32 x 32. ---
c=$corpus/cifar
{ printf '\003'; bytes 3072 0; } >"$c/cifar10-label-3"
{ printf '\012'; bytes 3072 9; } >"$c/cifar10-label-10"
{ printf '\001\007'; bytes 3072 1; } >"$c/cifar100-coarse-1-fine-7"
{ printf '\023\011'; bytes 3072 2; } >"$c/cifar100-coarse-19-fine-9"
{ printf '\003'; bytes 100 0; } >"$c/cut-short"

# --- CSV manifests: the target's folder holds a.png, sub/b.png, not-an-image.png, link.png (a
# symbolic link to ../outside.png) and ../outside.png. ---
m=$corpus/csv
printf 'path,label,split\na.png,cat,pool\nsub/b.png,dog,test\n' >"$m/basic.csv"
printf 'path\na.png\n' >"$m/path-only.csv"
printf 'label,path\ncat,sub/b.png\n' >"$m/columns-reordered.csv"
printf '"path","label"\n"sub/b.png","a ""quoted"", label"\n' >"$m/quoted.csv"
printf 'path,split\r\na.png,validation\r\n' >"$m/crlf.csv"
printf 'PATH , Label\n a.png , x \n' >"$m/header-case-spaces.csv"
printf 'path\n\na.png\n\n' >"$m/blank-lines.csv"
printf 'path\na.png\n./a.png\nsub/../a.png\n' >"$m/duplicates.csv"
printf 'path,label\na.png,caf\303\251\n' >"$m/utf8-label.csv"
printf 'path\n../outside.png\n' >"$m/escape-dotdot.csv"
printf 'path\nlink.png\n' >"$m/escape-symlink.csv"
printf 'path\n/etc/passwd\n' >"$m/absolute.csv"
printf 'path\nnot-an-image.png\n' >"$m/not-an-image.csv"
printf 'path\nnope.png\n' >"$m/missing-file.csv"
printf 'path\nsub\n' >"$m/folder.csv"
printf 'path,split\na.png,train\n' >"$m/bad-split.csv"
printf 'path,label,split\na.png\n' >"$m/too-few-fields.csv"
printf 'path\n"a.png\n' >"$m/unclosed-quote.csv"
printf 'file,label\na.png,cat\n' >"$m/no-path-column.csv"
printf '\357\273\277path\na.png\n' >"$m/utf8-bom.csv"
printf 'path\n\377.png\n' >"$m/not-utf8.csv"

echo "wrote $(find "$corpus" -type f | wc -l) seeds under $corpus"
