#!/usr/bin/env bash
# Leak and memory-error check of the CVODE and CVODES paths (issue #14): runs every path of the
# leak-probe executable (Tests/LeakProbe: every CVODE algorithm and CVODES sensealg, success,
# failure and event paths) under valgrind's memcheck, and fails on any definitely-lost byte or
# any invalid access (any valgrind error other than a possible leak).
#
#   scripts/leak-check.sh              # every path
#   scripts/leak-check.sh bdf-nan ...  # the named paths (leak-probe --list names them)
#
# valgrind 3.19 (Debian 12) cannot read the DWARF 5 that Swift 6.3 emits, so the probe is built
# in release mode and a copy stripped of debug info (strip --strip-debug) runs under valgrind:
# reports then name functions (symbols are kept) but not lines.
#
# valgrind is installed with apt-get when missing and this runs as root; otherwise the exact
# sudo line is printed (as scripts/install-deps.sh does for the build's packages).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "leak-check needs valgrind. Run:  sudo apt-get update && sudo apt-get install -y valgrind" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi

swift build -c release --product leak-probe >&2
bin="$(swift build -c release --show-bin-path)/leak-probe"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
strip --strip-debug -o "$work/leak-probe" "$bin"

if [ $# -gt 0 ]; then paths=("$@"); else mapfile -t paths < <("$work/leak-probe" --list); fi

failed=()
for path in "${paths[@]}"; do
    log="$work/$path.log"
    # --errors-for-leak-kinds=definite: a definitely-lost block counts as an error, a possibly
    # lost one (the Swift runtime's metadata caches) does not. Any invalid read or write, use of
    # uninitialised memory or bad free is an error too; --error-exitcode makes them the exit code.
    set +e
    # (in a subshell: bash's own "Segmentation fault" notice would interleave with the report)
    ( OPENBLAS_NUM_THREADS=1 valgrind --quiet --leak-check=full --show-leak-kinds=definite \
        --errors-for-leak-kinds=definite --error-exitcode=99 --log-file="$log" \
        "$work/leak-probe" "$path" >"$work/$path.out" 2>&1; exit $? ) 2>/dev/null
    status=$?
    set -e
    lost=$(grep -Eo 'definitely lost: [0-9,]+ bytes' "$log" | head -1 || true)
    errors=$(grep -c '^==[0-9]*== \(Invalid\|Conditional\|Use of\|Syscall\|Mismatched\|Source and destination\)' "$log" || true)
    outcome=$(tail -1 "$work/$path.out" | cut -c1-110)
    if [ "$status" -ne 0 ]; then
        failed+=("$path")
        echo "FAIL  $path (exit $status; ${lost:-no leak summary}; $errors error reports): $outcome"
        # valgrind does not demangle Swift symbols; swift demangle does.
        grep -E '^==[0-9]+== +(Invalid|Conditional|Use of|Process terminating|Address|at 0x|by 0x)|definitely lost in' "$log" \
            | head -24 | { swift demangle --simplified 2>/dev/null || cat; } | cut -c1-200 | sed 's/^/      /'
    else
        echo "ok    $path: $outcome"
    fi
done

echo
if [ ${#failed[@]} -eq 0 ]; then
    echo "leak-check: ${#paths[@]} paths, 0 bytes definitely lost, 0 invalid accesses"
else
    echo "leak-check: ${#failed[@]} of ${#paths[@]} paths failed: ${failed[*]}"
    exit 1
fi
