#!/usr/bin/env bash
# mutation-check.sh - does the test suite catch what it claims? Applies each
# source mutation of tools/mutations.txt in turn to a private copy of the
# tree, rebuilds, runs the tests listed for it and reports which mutants the
# tests killed, and the kill rate.
#
# DESIGN
# A surviving mutant is a change of behaviour no test notices: the audit of
# ../shared/findings/tests-2026-12.md found four of eleven alive through all
# of CI. This script makes that check repeatable. It never touches the
# developer's checkout or build: the tracked and untracked-but-not-ignored
# files are copied to a fresh directory under $TMPDIR (the working tree as it
# is, uncommitted edits included), configured and built once there
# (a fresh build dir, -DOSH_TESTS=ON), and the baseline (no mutant) must pass
# every listed test first, so a kill is never a test that fails anyway.
# Then per mutant: apply (the "-" block must match exactly once, else the
# mutant is reported BAD and the run fails), incremental build (an error
# is reported NOBUILD and fails the run: a mutant must compile to test
# anything), ctest -R <regex> (fixtures
# excluded, --no-tests=error), restore the file byte for byte. Not in CI:
# about 10-20 minutes on 2 cores.
#
# Usage: tools/mutation-check.sh [--only ID[,ID...]] [--keep] [--list FILE]
# Environment: OSH_MUT_JOBS (build and ctest -j, default nproc),
#   OCSF_SCHEMA_DIR (for codegen_fresh; default ../shared/ocsf-schema/1.7.0
#   next to the checkout, as codegen finds it).
# Exit: 0 every mutant killed, 1 a mutant survived (or was BAD, or the
# baseline failed), 2 usage.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
list="$root/tools/mutations.txt"
only=""
keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--only) only=${2:?--only needs IDs}; shift 2 ;;
	--keep) keep=1; shift ;;
	--list) list=${2:?--list needs a file}; shift 2 ;;
	-h|--help) sed -n '2,30p' "$0"; exit 0 ;;
	*) echo "mutation-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
[ -f "$list" ] || { echo "mutation-check: no mutation list $list" >&2; exit 2; }
jobs=${OSH_MUT_JOBS:-$(nproc)}
if [ -z "${OCSF_SCHEMA_DIR:-}" ] && [ -d "$root/../shared/ocsf-schema/1.7.0" ]; then
	export OCSF_SCHEMA_DIR
	OCSF_SCHEMA_DIR=$(cd "$root/../shared/ocsf-schema/1.7.0" && pwd)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/osh-mutation-XXXXXX")
cleanup() { [ "$keep" = 1 ] && echo "kept $work" >&2 || rm -rf "$work"; }
trap cleanup EXIT
src="$work/src"
bld="$work/build"
mkdir -p "$src"
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
	tar --null -T - -cf -) | tar -xf - -C "$src"

# The mutant table (one per line: ID<TAB>module<TAB>file<TAB>regex) and
# apply/restore, in Python for exact, whitespace-aware matching.
mut() { /usr/bin/python3 - "$list" "$src" "$@" <<'PY'
import os, sys
lst, src, cmd = sys.argv[1], sys.argv[2], sys.argv[3]

def parse():
    muts, cur = [], None
    for n, line in enumerate(open(lst, encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if line.startswith("== "):
            parts = [p.strip() for p in line[3:].split("|", 3)]
            if len(parts) != 4 or not all(parts):
                sys.exit("%s:%d: header needs 'ID | module | file | regex'" % (lst, n))
            cur = {"id": parts[0], "module": parts[1], "file": parts[2], "re": parts[3],
                   "old": [], "new": []}
            muts.append(cur)
        elif line.startswith("- ") and cur:
            cur["old"].append(line[2:].strip())
        elif line.startswith("+ ") and cur:
            cur["new"].append(line[2:].strip())
        elif line.strip() and not line.startswith("#"):
            sys.exit("%s:%d: not a header, '- ' or '+ ' line: %r" % (lst, n, line))
    ids = [m["id"] for m in muts]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        sys.exit("%s: duplicate mutant ids %s" % (lst, sorted(dup)))
    return muts

muts = parse()
if cmd == "table":
    for m in muts:
        if not m["old"]:
            sys.exit("%s: mutant %s has no '- ' line" % (lst, m["id"]))
        print("\t".join((m["id"], m["module"], m["file"], m["re"])))
    sys.exit(0)
m = {x["id"]: x for x in muts}[sys.argv[4]]
path = os.path.join(src, m["file"])
if cmd == "apply":
    text = open(path, encoding="utf-8").read()
    lines = text.split("\n")
    k = len(m["old"])
    hits = [i for i in range(len(lines) - k + 1)
            if [l.strip() for l in lines[i:i + k]] == m["old"]]
    if len(hits) != 1:
        sys.exit("mutant %s: the '-' block matches %d times in %s (must be 1)"
                 % (m["id"], len(hits), m["file"]))
    i = hits[0]
    indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
    open(path + ".mutation-orig", "w", encoding="utf-8").write(text)
    lines[i:i + k] = [indent + l for l in m["new"]]
    open(path, "w", encoding="utf-8").write("\n".join(lines))
elif cmd == "restore":
    os.replace(path + ".mutation-orig", path)
PY
}

table=$(mut table)
if [ -n "$only" ]; then
	table=$(printf '%s\n' "$table" | awk -F'\t' -v ids=",$only," 'index(ids, "," $1 ",")')
	[ -n "$table" ] || { echo "mutation-check: no mutant matches --only $only" >&2; exit 2; }
fi

echo "mutation-check: copy in $work; configure and build (baseline)"
cmake -S "$src" -B "$bld" -G Ninja -DOSH_TESTS=ON >"$work/configure.log" 2>&1 ||
	{ cat "$work/configure.log" >&2; exit 1; }
cmake --build "$bld" -j"$jobs" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; exit 1; }
# The baseline runs the union of the listed tests (by name: CMake's regex
# engine allows few groups, so the mutants' regexes are not joined).
names=$(ctest --test-dir "$bld" -N | sed -n 's/^ *Test *#[0-9]*: //p')
all=$(printf '%s\n' "$table" | cut -f4 | while read -r re; do
	printf '%s\n' "$names" | grep -E "$re" || { echo "mutation-check: no test matches $re" >&2; exit 1; }
done | sort -u | paste -sd'|')
all_re="^($all)\$"
if ! ctest --test-dir "$bld" -R "$all_re" -FA '.*' -j"$jobs" --no-tests=error \
	--output-on-failure >"$work/baseline.log" 2>&1; then
	tail -60 "$work/baseline.log" >&2
	echo "mutation-check: the baseline (no mutant) fails a listed test: fix that first" >&2
	exit 1
fi

killed=0 survived=0 bad=0 total=0
report="$work/report.txt"
printf '%-5s %-20s %-9s %6s  %s\n' ID MODULE RESULT SECS "KILLED BY / TESTS" | tee "$report"
while IFS=$'\t' read -r id module file re; do
	total=$((total + 1))
	t0=$(date +%s)
	if ! err=$(mut apply "$id" 2>&1); then
		bad=$((bad + 1))
		printf '%-5s %-20s %-9s %6s  %s\n' "$id" "$module" BAD 0 "$err" | tee -a "$report"
		continue
	fi
	result=SURVIVED
	by="$re"
	if ! cmake --build "$bld" -j"$jobs" >"$work/$id.build.log" 2>&1; then
		# Not a kill: a mutant the compiler rejects tests nothing. Fix
		# the mutant so it builds.
		result=NOBUILD
		by=$(grep -m1 -E 'error' "$work/$id.build.log" | cut -c1-160)
	elif ! ctest --test-dir "$bld" -R "$re" -FA '.*' -j"$jobs" --no-tests=error \
		--timeout 600 >"$work/$id.ctest.log" 2>&1; then
		result=KILLED
		by=$(grep -E '^\s+[0-9]+ - .*\((Failed|Timeout|SEGFAULT|Subprocess aborted|Exception)' \
			"$work/$id.ctest.log" | sed -E 's/^\s+[0-9]+ - //; s/ \(.*//' | paste -sd, -)
		[ -n "$by" ] || by="ctest failed (see $id.ctest.log)"
	fi
	mut restore "$id"
	case "$result" in
	KILLED) killed=$((killed + 1)) ;;
	NOBUILD) bad=$((bad + 1)) ;;
	*) survived=$((survived + 1)) ;;
	esac
	printf '%-5s %-20s %-9s %6s  %s\n' "$id" "$module" "$result" $(($(date +%s) - t0)) "$by" |
		tee -a "$report"
done <<<"$table"
# Leave the copy built as the source is (no mutant) for --keep users.
cmake --build "$bld" -j"$jobs" >/dev/null 2>&1 || true
echo "mutation-check: $killed of $total mutants killed, $survived survived, $bad bad" \
	"(kill rate $((total ? 100 * killed / total : 0))%)" | tee -a "$report"
[ "$survived" = 0 ] && [ "$bad" = 0 ]
