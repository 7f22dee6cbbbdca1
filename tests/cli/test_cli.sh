#!/usr/bin/env bash
# test_cli.sh: the `visor` command line as a user meets it: help, bad configuration
# (exit 2 with the reason), migrate, and serve: starts, answers, creates a product with an
# image, and stops cleanly (exit 0) on SIGINT.
set -uo pipefail
VISOR="$1"
SHARED="${VISOR_SHARED_DIR:-../shared}"
dir=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/check.sh"

check "help lists the commands" bash -c "'$VISOR' --help | grep -q 'serve'"
check "serve --help lists options" bash -c "'$VISOR' serve --help | grep -q -- '--max-upload-mb'"
"$VISOR" serve --port 70000 2>"$dir/err"; code=$?
check "bad port exits 2" test "$code" = 2
check "bad port is named" grep -q "port 70000 is out of range" "$dir/err"
VISOR_METADATA=mysql://x "$VISOR" serve 2>"$dir/err"; code=$?
check "bad URL in the environment exits 2" test "$code" = 2
check "bad URL is named" grep -q "mysql://x" "$dir/err"
echo '{"port": "eighty"}' > "$dir/bad.json"
"$VISOR" serve --config "$dir/bad.json" 2>"$dir/err"; code=$?
check "bad config file exits 2" test "$code" = 2
"$VISOR" frobnicate 2>/dev/null; code=$?
check "unknown command exits 2" test "$code" = 2
check "migrate creates the schema" bash -c "'$VISOR' migrate --data-dir '$dir/data' | grep -q 'schema version'"

VISOR_MODELS="$SHARED/models" "$VISOR" serve --data-dir "$dir/data" --host 127.0.0.1 --port 0 --workers 0 >"$dir/out" 2>"$dir/log" &
pid=$!
url=""
for _ in $(seq 1 100); do
  url=$(grep -o 'http://[^ ]*' "$dir/out" | head -1)
  [ -n "$url" ] && break
  sleep 0.1
done
check "serve prints its URL" test -n "$url"
check "healthz answers" bash -c "curl -sf '${url}healthz' | grep -q ok"
image="$SHARED/datasets/grocery/iconic-images-and-descriptions/Fruit/Banana/Banana_Iconic.jpg"
check "a product with an image is created" bash -c "curl -sf -F sku=CLI-1 -F name=Banana -F 'images=@$image' '${url}api/v1/products' | grep -q CLI-1"
check "the product is listed" bash -c "curl -sf '${url}api/v1/products' | grep -q CLI-1"
check "visor search reaches the server" bash -c "'$VISOR' search --url '${url%/}' --wait 1 '$image' | grep -q 'search '"
"$VISOR" search --url "${url%/}" /nonexistent.jpg 2>/dev/null; code=$?
check "visor search of a missing file exits 2" test "$code" = 2
kill -INT $pid
wait $pid; code=$?
check "SIGINT stops serve with exit 0" test "$code" = 0
check "the stop is logged" grep -q "stopped cleanly" "$dir/log"

"$VISOR" worker --data-dir "$dir/data" --kinds index,bogus 2>"$dir/err"; code=$?
check "worker with an unknown task kind exits 2" test "$code" = 2
check "the unknown kind is named" grep -q "'bogus' is not a task kind" "$dir/err"
"$VISOR" worker --data-dir "$dir/fresh" 2>"$dir/err"; code=$?
check "worker refuses an unmigrated store" test "$code" != 0
check "and says to run visor migrate" grep -q "visor migrate" "$dir/err"
VISOR_MODELS="$SHARED/models" "$VISOR" worker --data-dir "$dir/data" --host 127.0.0.1 --port 0 --concurrency 1 >"$dir/wout" 2>"$dir/wlog" &
pid=$!
wurl=""
for _ in $(seq 1 200); do
  wurl=$(grep -o 'http://[^ ]*healthz' "$dir/wout" | head -1)
  [ -n "$wurl" ] && break
  sleep 0.1
done
check "worker prints its health URL" test -n "$wurl"
check "worker healthz answers" bash -c "curl -sf '$wurl' | grep -q ok"
check "worker readyz answers" bash -c "curl -sf '${wurl%healthz}readyz' | grep -q ready"
check "worker indexes the product queued while it was away" bash -c "for i in \$(seq 1 100); do curl -sf '${wurl%healthz}metrics' | grep -q '^visor_tasks_total{kind=\"index\",outcome=\"done\"} 1' && exit 0; sleep 0.2; done; exit 1"
kill -TERM $pid
wait $pid; code=$?
check "SIGTERM stops the worker with exit 0" test "$code" = 0

check "visor check finds the stores consistent" bash -c "VISOR_MODELS='$SHARED/models' '$VISOR' check --data-dir '$dir/data' | grep -q 'orphans 0'"
mkdir -p "$dir/data/blobs/images/00000000-0000-7000-8000-000000000000"
echo stray > "$dir/data/blobs/images/00000000-0000-7000-8000-000000000000/original"
VISOR_MODELS="$SHARED/models" "$VISOR" check --data-dir "$dir/data" >"$dir/check" 2>&1; code=$?
check "visor check exits 1 on an object no row owns" test "$code" = 1
check "and names it" grep -q "orphan_objects: images/00000000-0000-7000-8000-000000000000/original" "$dir/check"
check "visor sweep keeps a young orphan" bash -c "'$VISOR' sweep --data-dir '$dir/data' | grep -q 'removed 0 without a row'"
check "visor sweep removes it past the grace period" bash -c "'$VISOR' sweep --data-dir '$dir/data' --sweep-grace-seconds 0 | grep -q 'removed 1 without a row'"
check "the stores are consistent again" bash -c "VISOR_MODELS='$SHARED/models' '$VISOR' check --data-dir '$dir/data' | grep -q 'orphans 0'"

echo "$((19 - failures)) passed, $failures failed"
[ "$failures" = 0 ]
