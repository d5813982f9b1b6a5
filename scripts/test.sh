#!/usr/bin/env bash
# make test: runs its phases one after the other, each under a banner that
# says what it is doing, and ends with one summary of them all.
#
#   scripts/test.sh                       the three phases of `make test`
#   scripts/test.sh 'NAME|WHAT|COMMAND'…  these phases instead
#
# A failed phase does not stop the later ones: the summary is meant to tell
# everything at once (fuzzing, the plain suite, the ASan suite fail for
# different reasons). The exit status is 0 only when every phase passed.
#
# CI reads CTest's own closing line ("100% tests passed, 0 tests failed out
# of N"): each phase's output goes through unchanged, and the summary repeats
# that line for each suite, so it also closes the whole output.
set -u

make_cmd=${MAKE:-make}
if [ $# -eq 0 ]; then
    set -- \
        "fuzz smoke|every libFuzzer target for 10 s on a copy of its corpus (docs/fuzzing.md)|$make_cmd --no-print-directory fuzz-smoke" \
        "plain suite|unit and end-to-end tests on the RelWithDebInfo build|$make_cmd --no-print-directory test-plain" \
        "ASan suite|the same tests on the ASan+UBSan build|$make_cmd --no-print-directory test-asan"
fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/meetd-test.XXXXXX") || exit 1
trap 'rm -rf "$logs"' EXIT

duration() {
    local s=$1
    if [ "$s" -ge 60 ]; then printf '%dm%02ds' $((s / 60)) $((s % 60)); else printf '%ds' "$s"; fi
}

total=$#
n=0
failed=0
rows=()
for phase in "$@"; do
    n=$((n + 1))
    name=${phase%%|*}
    rest=${phase#*|}
    what=${rest%%|*}
    cmd=${rest#*|}
    printf '\n==> make test, phase %d of %d: %s: %s\n\n' "$n" "$total" "$name" "$what"
    start=$SECONDS
    bash -c "$cmd" 2>&1 | tee "$logs/$n"
    status=${PIPESTATUS[0]}
    took=$(duration $((SECONDS - start)))
    result=passed
    if [ "$status" -ne 0 ]; then
        result="FAILED (exit $status)"
        failed=$((failed + 1))
    fi
    printf '\n==> phase %d of %d: %s %s in %s\n' "$n" "$total" "$name" "$result" "$took"
    ctest_line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$logs/$n" | tail -n 1)
    rows+=("$(printf '%-12s  %-16s  %7s  %s' "$name" "$result" "$took" "$ctest_line")")
done

printf '\n==> make test: %d of %d phases passed\n' $((total - failed)) "$total"
for row in "${rows[@]}"; do
    printf '    %s\n' "$row" | sed 's/ *$//'
done
[ "$failed" -eq 0 ]
