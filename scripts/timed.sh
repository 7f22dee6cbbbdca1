#!/usr/bin/env bash
# timed.sh NAME COMMAND...: runs COMMAND and prints how long the part NAME took (CI prints
# each part's time), keeping COMMAND's exit code.
set -uo pipefail
name=$1
shift
start=$(date +%s.%N)
"$@"
code=$?
printf "time: %-12s %7.1f s%s\n" "$name" "$(awk -v a="$start" -v b="$(date +%s.%N)" "BEGIN { print b - a }")" \
  "$([ $code -eq 0 ] || echo " (failed, exit $code)")"
exit $code
