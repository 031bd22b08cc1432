#!/bin/sh
# Every global the fast path shares (an `extern` in a cgo/dp header) has one
# owner: the .c file that defines it is the only one that writes it (issue
# 11). Lists each global with its owner; fails when another file assigns it
# or a field of it, increments it, stores, exchanges or adds to it
# atomically, memsets or copies into it, or takes a non-const pointer into
# it. A lint, not a proof: it reads the source, not the compiled code. It
# first checks itself on a planted writer.
#
#   cgo/dp/test/state_owners.sh [cgo/dp]      (run by `make test-c`)
set -eu

# globals DIR: the names declared extern in DIR's headers.
globals() {
	cat "$1"/*.h | sed -n 's/^extern[[:space:]]\{1,\}\([^"(]*\);.*/\1/p' | tr ',' '\n' |
		sed 's/\[.*//; s/.*[^A-Za-z0-9_]//' | grep -v '^$' | sort -u
}

# owner DIR NAME: the .c file that defines NAME at file scope.
owner() {
	grep -l "^[A-Za-z_][^(=&]*[ *]$2\([[:space:]]*\[[^]]*\]\)*[[:space:]]*[;=,]" "$1"/*.c 2>/dev/null |
		while read -r f; do
			grep -q "^extern.*[^A-Za-z0-9_]$2" "$f" || echo "$f"
		done
}

# writes FILE NAME: lines of FILE that write NAME (or through a pointer
# into it).
writes() {
	n=$2
	sel="\\(\\[[^]]*\\]\\|\\.[A-Za-z0-9_]*\\|->[A-Za-z0-9_]*\\)*"
	grep -n \
		-e "\\(^\\|[^A-Za-z0-9_.>]\\)$n$sel[[:space:]]*\\([-+*/%&|^]\\|<<\\|>>\\)\\{0,1\\}=[^=]" \
		-e "\\(++\\|--\\)[[:space:]]*$n\\b" -e "\\b$n$sel[[:space:]]*\\(++\\|--\\)" \
		-e "atomic_\\(store\\|exchange\\|fetch_[a-z]*\\|compare_exchange_[a-z]*\\)\\(_explicit\\)\\{0,1\\}([[:space:]]*&[[:space:]]*$n\\b" \
		-e "\\(memset\\|memcpy\\|memmove\\)([[:space:]]*&\\{0,1\\}[[:space:]]*$n\\b" \
		"$1" | grep -v "const[^=]*=[[:space:]]*&[[:space:]]*$n\\b" |
		grep -v "^[0-9]*:[[:space:]]*\\(/\\*\\|\\*\\)" || true
	# a non-const pointer into it
	grep -n "^[[:space:]]*\\(struct[[:space:]]\\{1,\\}\\)\\{0,1\\}[A-Za-z0-9_]\\{1,\\}[[:space:]]*\\*[[:space:]]*[A-Za-z0-9_]\\{1,\\}[[:space:]]*=[[:space:]]*&[[:space:]]*$n\\b" "$1" || true
}

# check DIR: 0 when every shared global is written by its owner only.
check() {
	bad=0
	for g in $(globals "$1"); do
		own=$(owner "$1" "$g")
		if [ "$(echo "$own" | grep -c .)" -ne 1 ]; then
			echo "state_owners: $g is defined in [$(echo $own)], not in exactly one .c file"
			bad=1
			continue
		fi
		echo "$g: $(basename "$own")"
		for f in "$1"/*.c "$1"/test/*.c; do
			[ -f "$f" ] && [ "$f" != "$own" ] || continue
			w=$(writes "$f" "$g")
			[ -z "$w" ] && continue
			echo "state_owners: $f writes $g, owned by $(basename "$own"):"
			echo "$w" | sed 's/^/    /'
			bad=1
		done
	done
	return $bad
}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
printf 'extern struct s owned_tbl[4];\n' >"$scratch/a.h"
printf '#include "a.h"\nstruct s owned_tbl[4];\n' >"$scratch/a.c"
printf 'void f(void) { const struct s *p = &owned_tbl[1]; }\n' >"$scratch/reader.c"
check "$scratch" >/dev/null || { echo "state_owners: a reader was taken for a writer" >&2; exit 1; }
printf 'void g(void) { owned_tbl[2].n = 1; }\n' >"$scratch/writer.c"
if check "$scratch" >/dev/null; then
	echo "state_owners: a planted writer of owned_tbl went unseen" >&2
	exit 1
fi

check "${1:-$(dirname "$0")/..}"
