#!/usr/bin/env bash
# Runs the libFuzzer targets for a while each (docs/fuzzing.md).
#
#   fuzz/run.sh BUILD_DIR SECONDS [TARGET...]     (default: every target)
#
# Each target starts from its committed seeds (fuzz/corpus/<t>, read only)
# and its known crashers (fuzz/crashes/<t>, which must not crash any more);
# what it finds goes to BUILD_DIR/fuzz-work/<t>/: corpus/ (new inputs),
# artifacts/ (crashes, leaks, timeouts) and log. FUZZ_JOBS=N runs N targets
# at a time (default 1). Exits 1 if any target failed; prints a summary
# (execs, exec/s, coverage) either way.
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [TARGET...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
secs=$2
shift 2
root=$(cd "$(dirname "$0")/.." && pwd)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(auth router json sse webhook text)
jobs=${FUZZ_JOBS:-1}
work=$build/fuzz-work

run_one() {
  local t=$1 dir=$work/$1
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  local args=(-max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048
              -artifact_prefix="$dir/artifacts/")
  [ -f "$root/fuzz/dict/$t.dict" ] && args+=(-dict="$root/fuzz/dict/$t.dict")
  # Per-target flags, one per line (fuzz/options/<t>).
  if [ -f "$root/fuzz/options/$t" ]; then
    while read -r opt; do
      [ -n "$opt" ] && [ "${opt#\#}" = "$opt" ] && args+=("$opt")
    done < "$root/fuzz/options/$t"
  fi
  local dirs=("$dir/corpus" "$root/fuzz/corpus/$t")
  [ -d "$root/fuzz/crashes/$t" ] && dirs+=("$root/fuzz/crashes/$t")
  "$build/fuzz/fuzz_$t" "${args[@]}" "${dirs[@]}" > "$dir/log" 2>&1
  echo $? > "$dir/rc"
}

# One line per target from its log: libFuzzer's final stats and its last
# coverage line.
summarise() {
  local t=$1 dir=$work/$1 rc
  rc=$(cat "$dir/rc" 2>/dev/null || echo 1)
  local execs rate last cov ft corp
  execs=$(grep -a 'stat::number_of_executed_units' "$dir/log" | awk '{print $2}' | tail -1)
  rate=$(grep -a 'stat::average_exec_per_sec' "$dir/log" | awk '{print $2}' | tail -1)
  last=$(grep -a -E '^#[0-9]+.*cov: ' "$dir/log" | tail -1)
  cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<< "$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<< "$last")
  local verdict=ok
  if [ "$rc" != 0 ]; then
    verdict="FAILED (exit $rc): see $dir/log"
    for a in "$dir"/artifacts/*; do
      [ -e "$a" ] && verdict="$verdict; $a"
    done
    # The harness's own finding, or the sanitizer's summary line.
    local why
    why=$(grep -a -m1 -E '^meetd fuzz: |^SUMMARY: ' "$dir/log" | cut -c1-300)
    [ -n "$why" ] && verdict="$verdict"$'\n         '"$why"
  fi
  printf '%-8s %10s execs %8s exec/s  cov %-6s ft %-7s corpus %-12s %s\n' \
    "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$verdict"
}

for t in "${targets[@]}"; do
  if [ ! -x "$build/fuzz/fuzz_$t" ]; then
    echo "fuzz: $build/fuzz/fuzz_$t is not built" >&2
    exit 1
  fi
done

echo "fuzz: ${targets[*]} for ${secs}s each, $jobs at a time; work in $work"
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

for t in "${targets[@]}"; do
  summarise "$t"
done | tee "$work/summary.txt"
! grep -q FAILED "$work/summary.txt"
