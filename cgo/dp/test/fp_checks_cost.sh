#!/bin/sh
# What the header checks that DPDK's l3fwd leaves out cost fibd's routing
# step: fp_route_burst of the work tree against HEAD with fp_ip4_check and
# fp_ip6_check cut down to l3fwd's own test (l3fwd_checks.patch: version 4
# and five words for IPv4, nothing for IPv6; no checksum, lengths or
# martians), in one process (fp_ab.sh; "old" is the cut-down step). Run
# from the repository after `ninja -C build`:
#   cgo/dp/test/fp_checks_cost.sh [ROUTES]
set -eu
root=$(git rev-parse --show-toplevel)
here=$root/cgo/dp/test
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git -C "$root" show HEAD:cgo/dp/fp_pkt.h > "$tmp/fp_pkt.h"
patch -s -o "$tmp/cut.h" "$tmp/fp_pkt.h" < "$here/l3fwd_checks.patch" ||
	{ echo "l3fwd_checks.patch no longer applies to fp_pkt.h: make it again" >&2; exit 1; }
# a commit object only (no branch moves): HEAD with the cut-down header
export GIT_INDEX_FILE="$tmp/index"
git -C "$root" read-tree HEAD
blob=$(git -C "$root" hash-object -w "$tmp/cut.h")
git -C "$root" update-index --cacheinfo "100644,$blob,cgo/dp/fp_pkt.h"
rev=$(git -C "$root" commit-tree "$(git -C "$root" write-tree)" -p HEAD -m "l3fwd's checks")
unset GIT_INDEX_FILE
"$here/fp_ab.sh" "$rev" "$@"
