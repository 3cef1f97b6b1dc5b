#!/bin/bash
# make-fuzz-seeds: writes the seed inputs of fuzz-npy and fuzz-matrix into tests/fuzz/corpus/{npy,matrix}/.
# The files are committed; run this again (from anywhere) only to regenerate them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
corpus=$here/../fuzz/corpus
mkdir -p "$corpus/npy" "$corpus/matrix"
# Only the files this script writes are replaced; anything else in the folders stays.

# hex HEX...: the bytes spelled in hex pairs.
hex ()
{
  local h
  for h in "$@"; do
    # shellcheck disable=SC2059 # the format is the escape that makes the byte
    printf "\\x$h"
  done
}

# npy MAJOR HEADER-DICT: the prefix of a .npy file (magic, version, length, padded header).
npy ()
{
  local major=$1 dict=$2 prefix len
  prefix=$((major == 1 ? 10 : 12))
  while [ $(((prefix + ${#dict} + 1) % 64)) -ne 0 ]; do
    dict+=" "
  done
  dict+=$'\n'
  len=${#dict}
  printf '\223NUMPY'
  hex "0$major" 00
  hex "$(printf '%02x' $((len & 255)))" "$(printf '%02x' $((len >> 8 & 255)))"
  [ "$major" -eq 1 ] || hex 00 00
  printf '%s' "$dict"
}

# floats in little-endian float32 and float64, and the same big-endian
F4_ONE="00 00 80 3f" F4_TWO="00 00 00 40" F4_HALF="00 00 00 3f" F4_NAN="00 00 c0 7f"
F8_ONE="00 00 00 00 00 00 f0 3f" F8_TWO="00 00 00 00 00 00 00 40" F8_BIG="00 00 00 00 00 00 f0 7f"
F4_ONE_BE="3f 80 00 00" F4_TWO_BE="40 00 00 00"

n=$corpus/npy
# shellcheck disable=SC2086 # the byte lists are meant to split
{
  { npy 1 "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    hex $F4_ONE $F4_TWO $F4_HALF $F4_ONE $F4_TWO $F4_HALF; } >"$n/f4-2x3"
  { npy 1 "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }"
    hex $F8_ONE $F8_TWO $F8_TWO $F8_ONE; } >"$n/f8-2x2"
  { npy 1 "{'descr': '<f8', 'fortran_order': True, 'shape': (3, 2), }"
    hex $F8_ONE $F8_TWO $F8_ONE $F8_TWO $F8_ONE $F8_TWO; } >"$n/f8-fortran-3x2"
  { npy 1 "{'descr': '>f4', 'fortran_order': False, 'shape': (1, 2), }"
    hex $F4_ONE_BE $F4_TWO_BE; } >"$n/f4-big-endian-1x2"
  { npy 2 "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1), }"; hex $F4_ONE; } >"$n/v2-f4-1x1"
  { npy 3 "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1), }"; hex $F4_ONE $F4_TWO; } >"$n/v3-f4-2x1"
  { npy 1 "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }"; hex 01 02 03 04; } >"$n/u1-vector"
  { npy 1 "{'descr': '<i8', 'fortran_order': False, 'shape': (), }"; hex 2a 00 00 00 00 00 00 00; } >"$n/i8-scalar"
  { npy 1 "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 1, 2), }"
    hex 01 00 00 00 02 00 00 00 03 00 00 00 04 00 00 00; } >"$n/i4-3d"
  { npy 1 "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }"; } >"$n/f4-empty-0x3"
  { npy 1 "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2), }"; hex $F4_ONE $F4_NAN; } >"$n/f4-nan"
  { npy 1 "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }"; hex $F8_BIG; } >"$n/f8-infinity"
  { npy 1 "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"; hex $F4_ONE; } >"$n/f4-data-short"
  { npy 1 "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }"; } >"$n/shape-overflow"
  { npy 1 "{'fortran_order': False, 'shape': (1, 1), 'descr': '<f4'}"; hex $F4_ONE; } >"$n/keys-reordered"
  { npy 1 "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }"; hex $F8_ONE $F8_ONE; } >"$n/complex-unsupported"
  { npy 1 "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1)"; hex $F4_ONE; } >"$n/header-unclosed"
  { printf '\223NUMPY'; hex 01 00 ff ff; printf "{'descr'"; } >"$n/header-length-lies"
}

m=$corpus/matrix
printf '1 0\n0 1\n' >"$m/identity-2"
printf '0,0.5,0.5\n0.5,0,0.5\n0.5,0.5,0\n' >"$m/uniform-3-commas"
printf 'tensor([[0.0000, 0.3333, 0.6667],\n        [0.5000, 0.0000, 0.5000],\n        [0.2500, 0.7500, 0.0000]])\n' >"$m/pytorch-print"
printf '[[0 2 2]\n [1 0 1]\n [3 3 0]]\n' >"$m/numpy-print-unnormalised"
printf 'Q (rows = true class)\r\n0 1e-3 9.99e-1\r\n.5 0 .5\r\n+1 +1 0\r\n' >"$m/title-crlf-exponents"
printf '1 0\n0 1 0\n' >"$m/ragged"
printf '1 0 0\n0 1 0\n' >"$m/not-square"
printf '0 0\n1 1\n' >"$m/zero-row"
printf '1 -1\n1 1\n' >"$m/negative"
printf '1e308 1e308\n1 1\n' >"$m/huge-values"
printf '\377\376 1 0\n' >"$m/not-utf8"
printf '5\n' >"$m/one-number"
