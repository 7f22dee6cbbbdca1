#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, -DVISOR_FUZZ=ON with clang, ASan + UBSan) in
# build-fuzz/ and runs each for SECONDS (default 30) on one core, one after another,
# starting from its seed corpus (tests/fuzz/corpus/NAME, read-only) plus a working corpus
# in build-fuzz/corpus/NAME. Prints each harness's executions and coverage (cov / ft from
# libFuzzer's last line) and exits non-zero if any harness crashed, leaked, hung or ran
# out of memory; the input that did is saved as build-fuzz/artifacts/NAME/crash-*.
# Usage: scripts/fuzz.sh [SECONDS] [NAME ...]   (names: multipart url framing validate image
# manifest hnsw filter; default all). Env: FUZZ_BUILD_DIR (build-fuzz), FUZZ_ARGS (extra flags).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${1:-30}
shift || true
ALL=(multipart url framing validate image manifest hnsw filter)
NAMES=("$@")
((${#NAMES[@]})) || NAMES=("${ALL[@]}")
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}

for tool in clang clang++; do
  command -v "$tool" >/dev/null || { echo "fuzz: $tool is missing (scripts/setup.sh installs clang and libclang-rt-14-dev)" >&2; exit 2; }
done
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  CC=clang CXX=clang++ cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVISOR_FUZZ=ON \
    -DVISOR_BENCH=OFF >/dev/null
fi
targets=()
for name in "${NAMES[@]}"; do targets+=("fuzz_$name"); done
cmake --build "$BUILD" -j2 --target "${targets[@]}" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/tests/lsan.supp}
failed=()
printf '%-10s %8s %12s %10s %6s %7s  %s\n' harness seconds executions exec/s cov ft result
for name in "${NAMES[@]}"; do
  corpus="$BUILD/corpus/$name" artifacts="$BUILD/artifacts/$name"
  mkdir -p "$corpus" "$artifacts"
  log="$BUILD/fuzz-$name.log"
  rc=0
  # One process, one thread (the default without -jobs/-fork): one core.
  # shellcheck disable=SC2086
  "$BUILD/tests/fuzz/fuzz_$name" -max_total_time="$SECONDS_EACH" -timeout=25 -rss_limit_mb=2560 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} \
    "$corpus" "tests/fuzz/corpus/$name" >"$log" 2>&1 || rc=$?
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  result=ok
  if [ "$rc" -ne 0 ] || grep -qE '^==[0-9]+==ERROR|runtime error:|^SUMMARY: ' "$log"; then
    result="FAILED (rc $rc): see $log and $artifacts/"
    failed+=("$name")
  fi
  printf '%-10s %8s %12s %10s %6s %7s  %s\n' "$name" "$SECONDS_EACH" "${runs:-?}" "${speed:-?}" \
    "${cov:-?}" "${ft:-?}" "$result"
done
if ((${#failed[@]})); then
  echo "fuzz: crashes in: ${failed[*]}" >&2
  for name in "${failed[@]}"; do
    grep -m1 -A12 -E '^==[0-9]+==ERROR|runtime error:' "$BUILD/fuzz-$name.log" >&2 || true
  done
  exit 1
fi
