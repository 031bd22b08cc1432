#!/bin/sh
# The include graph of the C fast path (issue 11: C state with one owner):
# every `#include "..."` among the files of cgo/dp and cgo/dp/test, printed
# as "includer -> included", and checked for cycles with tsort. Fails on a
# cycle, or when the check itself would not see one (a cycle planted in a
# scratch directory must be found first).
#
#   cgo/dp/test/include_graph.sh [cgo/dp]      (run by `make test-c`)
set -eu

# edges DIR: "includer included" pairs, paths relative to DIR. An include
# resolves next to its includer first, then in DIR (meson's include path);
# names found in neither (fp_config.h, generated) are left out.
edges() {
	(
		cd "$1"
		for f in *.h *.c test/*.h test/*.c; do
			[ -f "$f" ] || continue
			d=$(dirname "$f")
			sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" |
				while read -r inc; do
					if [ -f "$d/$inc" ]; then
						to="$d/$inc"
					elif [ -f "$inc" ]; then
						to="$inc"
					else
						continue
					fi
					echo "${f#./} ${to#./}"
				done
		done
	)
}

# acyclic DIR: true when DIR's include graph has no cycle (tsort names the
# files of a loop on stderr).
acyclic() {
	edges "$1" | tsort >/dev/null
}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
printf '#include "b.h"\n' >"$scratch/a.h"
printf '#include "c.h"\n' >"$scratch/b.h"
printf '#include "a.h"\n' >"$scratch/c.h"
printf '#include "a.h"\n' >"$scratch/x.c"
if acyclic "$scratch" 2>/dev/null; then
	echo "include_graph: a planted cycle a.h -> b.h -> c.h -> a.h went unseen" >&2
	exit 1
fi

dir=${1:-$(dirname "$0")/..}
edges "$dir" | sed 's/ / -> /'
if ! acyclic "$dir"; then
	echo "include_graph: the headers of $dir include each other in a cycle (above)" >&2
	exit 1
fi
echo "include_graph: no cycle"
