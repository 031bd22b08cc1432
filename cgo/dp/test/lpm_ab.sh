#!/bin/sh
# fp_lpm of the work tree against fp_lpm.c at REV, in one process (lpm_ab.c):
#   cgo/dp/test/lpm_ab.sh REV PREFIXES
set -eu
[ $# -eq 2 ] || { echo "usage: $0 REV PREFIXES" >&2; exit 2; }
dp=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cflags="-O3 -march=corei7 -std=gnu11 -I$dp"
git -C "$dp" show "$1:./fp_lpm.c" > "$tmp/old.c"
git -C "$dp" show "$1:./fp_lpm.h" > "$tmp/fp_lpm.h"
cc $cflags -c "$dp/fp_lpm.c" -o "$tmp/new.o"
# the earlier source against its own header, every exported symbol renamed
cc $cflags -I"$tmp" -c "$tmp/old.c" -o "$tmp/old0.o"
nm -g --defined-only "$tmp/old0.o" | awk '{print $3, "old_" $3}' > "$tmp/syms"
objcopy --redefine-syms="$tmp/syms" "$tmp/old0.o" "$tmp/old.o"
cc $cflags -o "$tmp/lpm_ab" "$dp/test/lpm_ab.c" "$tmp/new.o" "$tmp/old.o"
"$tmp/lpm_ab" "$2"
