#!/usr/bin/env bash
# test-env.sh TAG: prints `export NAME=VALUE` lines that point the test suites at the
# servers scripts/cluster.sh started, with fresh databases / prefixes named after TAG (each
# test run gets empty ones). Backends whose server script is missing or down are left out,
# so the suites test the embedded backends alone. Usage: eval "$(scripts/test-env.sh asan)".
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TAG="${1:-unit}"
TMP="$(mktemp -d "/tmp/visor-test-$TAG-XXXXXX")"
up() { [[ -x "$REPO/scripts/servers/$1.sh" ]] && "$REPO/scripts/servers/$1.sh" status >/dev/null 2>&1; }
server() { "$REPO/scripts/servers/$1.sh" "${@:2}"; }
say() { printf 'export %s=%q\n' "$1" "$2"; }

metadata="sqlite://$TMP/store/visor.db"
queues="local"
blobs="file://$TMP/blobs"
vectors="hnsw://$TMP/vectors"
mkdir -p "$TMP/store"
if up postgres; then
  metadata="$metadata $(server postgres newdb "visor_${TAG}_store" | tail -1)"
  say VISOR_TEST_QUEUE_METADATA_URL "$(server postgres newdb "visor_${TAG}_queue" | tail -1)"
  say VISOR_TEST_WORKER_METADATA_URL "$(server postgres newdb "visor_${TAG}_worker" | tail -1)"
  say VISOR_TEST_ADMIN_JOBS_METADATA_URL "$(server postgres newdb "visor_${TAG}_adminjobs" | tail -1)"
  say VISOR_TEST_REVIEW_METADATA_URL "$(server postgres newdb "visor_${TAG}_review" | tail -1)"
  say VISOR_TEST_POSTGRES_SCRIPT "$REPO/scripts/servers/postgres.sh"
fi
if up redis; then
  base="$(server redis url | tail -1)"
  queues="$queues ${base}?prefix=visor-test-$TAG-$$"
  say VISOR_TEST_WORKER_QUEUE_URLS "local ${base}?prefix=visor-test-$TAG-worker-$$"
  say VISOR_TEST_REDIS_URL "${base}?prefix=visor-test-$TAG-outage-$$"
  say VISOR_TEST_REDIS_SCRIPT "$REPO/scripts/servers/redis.sh"
fi
if up s3; then
  blobs="$blobs $(server s3 url | tail -1)"
  server s3 env | sed 's/^/export /'
  say VISOR_TEST_S3_SCRIPT "$REPO/scripts/servers/s3.sh"
fi
if up chroma; then
  vectors="$vectors $(server chroma url | tail -1)"
  say VISOR_TEST_CHROMA_SCRIPT "$REPO/scripts/servers/chroma.sh"
fi
say VISOR_TEST_METADATA_URLS "$metadata"
say VISOR_TEST_QUEUE_URLS "$queues"
say VISOR_TEST_BLOB_URLS "$blobs"
say VISOR_TEST_VECTOR_URLS "$vectors"
