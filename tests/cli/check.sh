# check.sh: the check helper of the command-line test scripts (sourced): `check WHAT CMD...`
# runs CMD and prints "ok: WHAT" or "FAIL: WHAT", counting the failures in $failures.
failures=0
check() { # description, then a command that must succeed
  local what="$1"; shift
  if "$@"; then echo "ok: $what"; else echo "FAIL: $what"; failures=$((failures + 1)); fi
}
