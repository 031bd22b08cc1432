#!/bin/sh
# fp_route_burst of the work tree against the one at REV, in one process
# (bench_fp.c built with -DFP_AB); run from the repository, after
# `ninja -C build`:
#   cgo/dp/test/fp_ab.sh REV [ROUTES]
# The old fp_worker.c is compiled against REV's headers; the structures it
# shares with this tree (fp_wctx, fp_ports, fp_nh) must not have moved.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 REV [ROUTES]" >&2; exit 2; }
root=$(git rev-parse --show-toplevel)
lib=$root/build/cgo/dp/libfibdp.a
[ -f "$lib" ] || { echo "$lib: build first (ninja -C build)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$root" archive "$1" cgo/dp | tar -x -C "$tmp"
cflags="-O3 -march=corei7 -std=gnu11 -include rte_config.h -ftls-model=initial-exec $(pkg-config --cflags libdpdk)"
cc $cflags -I"$tmp/cgo/dp" -I"$root/build" -c "$tmp/cgo/dp/fp_worker.c" -o "$tmp/old0.o"
# only the old routing step stays global, renamed; the rest of the old
# file (its statics, its registry) is private to it
objcopy --redefine-sym fp_route_burst=old_fp_route_burst \
	--keep-global-symbol=old_fp_route_burst "$tmp/old0.o" "$tmp/old.o"
cc $cflags -DFP_AB -I"$root/cgo/dp" -I"$root/build" -o "$tmp/bench_fp" "$root/cgo/dp/test/bench_fp.c" \
	"$tmp/old.o" "$lib" $(pkg-config --libs libdpdk) -lm
"$tmp/bench_fp" ${2:-}
