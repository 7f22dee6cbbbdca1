#!/usr/bin/env bash
# test_eval_cache.sh: `visor eval --tune --embedding-cache` on a small real dataset (8 Grocery
# Store products, 4 train photos each, linked from ../shared): the cache records the embedder
# (name@version), a second run reads it (no embedding time) and reports exactly the same
# numbers, and a run with another embedder (the manifest without its colour histogram) does
# not read it. Also `--index-views-as regions`: each catalogue image's views (models.json's
# index views, 0.8 and 0.6) become regions of their own instead of being averaged in.
set -uo pipefail
VISOR="$1"
SOURCE_DIR="$2"
SHARED="${VISOR_SHARED_DIR:-../shared}"
GROCERY="$SHARED/datasets/grocery"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
source "$(dirname "${BASH_SOURCE[0]}")/check.sh"

data="$dir/grocery"
mkdir -p "$data"
for part in iconic-images-and-descriptions train test; do ln -s "$GROCERY/$part" "$data/$part"; done
head -9 "$GROCERY/classes.csv" > "$data/classes.csv"
for class in 0 1 2 3 4 5 6 7; do grep ", $class, " "$GROCERY/train.txt" | head -4; done > "$data/train.txt"
for class in 0 1 2 3 4 5 6 7; do grep ", $class, " "$GROCERY/test.txt" | head -1; done > "$data/test.txt"

run_eval() { # manifest, output file
  "$VISOR" eval "$data" --models "$SHARED/models" --model-manifest "$1" --catalogue iconic \
    --tune --embedding-cache "$dir/cache.bin" --workers 1 > "$2" 2>&1
}
manifest="$SOURCE_DIR/models/models.json"
run_eval "$manifest" "$dir/first"; code=$?
check "the first run succeeds" test "$code" = 0
check "it embeds the fit photos" bash -c "grep '^iconic tuned: projection' '$dir/first' | grep -vq 'embedding 0.0 s'"
check "the cache names the embedder" bash -c "head -c 200 '$dir/cache.bin' | grep -aq 'mobilenetv2-12-int8-embed@.*+hsv12x3x3@0.3'"
run_eval "$manifest" "$dir/second"; code=$?
check "the second run succeeds" test "$code" = 0
check "it reads every fit photo from the cache" bash -c "grep '^iconic tuned: projection' '$dir/second' | grep -q 'embedding 0.0 s'"
scores() { grep '^iconic tuned ' "$1" | awk '{NF = 10; print}'; } # name .. mAP, not the speeds
check "and reports the same scores" test "$(scores "$dir/first")" = "$(scores "$dir/second")"
check "which are there" bash -c "grep -q '^iconic tuned  *8 ' '$dir/first'"
python3 -c "
import json, sys
m = json.load(open(sys.argv[1]))
for model in m['models']:
    model['outputs'].get('embedding', {}).pop('colour_histogram', None)
json.dump(m, open(sys.argv[2], 'w'))" "$manifest" "$dir/no-colour.json"
check "the manifest without colour is written" test -s "$dir/no-colour.json"
run_eval "$dir/no-colour.json" "$dir/third"; code=$?
check "a run with another embedder succeeds" test "$code" = 0
check "it does not read the other embedder's cache" bash -c "grep '^iconic tuned: projection' '$dir/third' | grep -vq 'embedding 0.0 s'"

vectors() { # extra eval flags: the iconic catalogue's vector count
  "$VISOR" eval "$data" --models "$SHARED/models" --catalogue iconic --workers 1 --json "$@" \
    2>/dev/null | python3 -c "import json, sys; print(json.load(sys.stdin)['catalogues'][0]['vectors'])"
}
averaged=$(vectors)
as_regions=$(vectors --index-views-as regions)
check "views averaged in: a vector count ($averaged)" test "${averaged:-0}" -gt 8
check "views as regions: two more vectors per catalogue image ($as_regions)" \
  test "${as_regions:-0}" = "$((averaged + 2 * 8))"
"$VISOR" eval "$data" --models "$SHARED/models" --index-views-as sideways > "$dir/bad" 2>&1; code=$?
check "an unknown --index-views-as is refused" \
  bash -c "test '$code' != 0 && grep -q \"'sideways' is not average or regions\" '$dir/bad'"

echo "$((13 - failures)) passed, $failures failed"
[ "$failures" = 0 ]
