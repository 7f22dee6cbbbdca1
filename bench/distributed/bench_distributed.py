#!/usr/bin/env python3
"""bench_distributed.py: the distributed topology against `visor serve`, in one run.

Topology: `visor api` + W x `visor worker --concurrency 2` + `visor ml` over the local
cluster's servers (PostgreSQL + Redis, and S3 + Chroma when up; W = 2 with Chroma, else 1,
since hnsw:// belongs to one process). Reference: `visor serve` (embedded backends,
in-process ML, 2 workers). Both get the same N Grocery train photos, one product each,
uploaded by one client (the per-client job cap off); indexing images/s runs from the first upload to the last index
job's finish. Then Q test photos are searched one at a time (?wait=30): p50 / p99 latency.
Prints a table with the ratio distributed / serve.

Usage (servers up: scripts/cluster.sh up):
  VISOR_SHARED_DIR=../shared bench/distributed/bench_distributed.py build/src/cli/visor [N] [Q]
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests", "e2e"))
from cluster_lib import (DATASET, SHARED, Process, Visor, fail, free_port, log,  # noqa: E402
                         multipart, request, server_script)


def train_photos(count):
    rows = []
    with open(os.path.join(DATASET, "train.txt")) as f:
        for line in f:
            path, fine, _ = [c.strip() for c in line.split(",")]
            rows.append((os.path.join(DATASET, path), int(fine)))
    step = max(1, len(rows) // count)
    return rows[::step][:count]


def test_photos(count):
    with open(os.path.join(DATASET, "test.txt")) as f:
        rows = [os.path.join(DATASET, line.split(",")[0].strip()) for line in f]
    step = max(1, len(rows) // count)
    return rows[::step][:count]


def index_rate(visor, photos, tag):
    started = time.monotonic()
    for i, (path, fine) in enumerate(photos):
        body, headers = multipart([("sku", f"{tag}-{i}"), ("name", f"photo {i}"),
                                   ("category", str(fine))], [("images", path)])
        code, answer = request("POST", visor.base + "/api/v1/products", body, headers)
        if code != 201:
            fail(f"upload {path}: {code} {answer}")
    done, failed = visor.wait_indexed(len(photos), 600)
    if done + failed < len(photos):
        fail(f"{visor.base}: only {done} of {len(photos)} indexed")
    return len(photos) / (time.monotonic() - started)


def search_latencies(visor, photos):
    latencies = []
    for path in photos:
        body, headers = multipart([("k", "5")], [("image", path)])
        start = time.monotonic()
        code, answer = request("POST", visor.base + "/api/v1/searches?wait=30", body, headers, 40)
        if code != 200 or answer.get("status") != "done":
            fail(f"search {path}: {code} {answer}")
        latencies.append((time.monotonic() - start) * 1000)
    latencies.sort()
    return statistics.median(latencies), latencies[min(len(latencies) - 1,
                                                        int(0.99 * len(latencies)))]


def main():
    visor_bin = os.path.abspath(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 120
    queries = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    if server_script("postgres", "status") is None or server_script("redis", "status") is None:
        fail("start the servers first: scripts/cluster.sh up")
    tag = f"bench{os.getpid()}"
    work = tempfile.mkdtemp(prefix="visor-bench-")
    models = os.path.join(SHARED, "models")
    env = dict(os.environ)
    objects, vectors, workers = f"file://{work}/blobs", f"hnsw://{work}/vectors", 1
    if server_script("s3", "status") is not None:
        objects = server_script("s3", "url").replace("visor-test", f"visor-{tag}")
        for line in subprocess.run([os.path.join(os.path.dirname(__file__), "..", "..",
                                                 "scripts/servers/s3.sh"), "env"],
                                   capture_output=True, text=True).stdout.splitlines():
            key, _, value = line.partition("=")
            env[key] = value
    if server_script("chroma", "status") is not None:
        vectors = server_script("chroma", "url").rsplit("/", 2)[0] + f"/visor_{tag}/visor_{tag}"
        workers = 2
    ml_port = free_port()
    env.update({"VISOR_METADATA": server_script("postgres", "newdb", f"visor_{tag}"),
                "VISOR_QUEUE": server_script("redis", "url") + f"?prefix=visor-{tag}",
                "VISOR_OBJECTS": objects, "VISOR_VECTORS": vectors, "VISOR_MODELS": models,
                "VISOR_ML": f"http://127.0.0.1:{ml_port}", "VISOR_DATA_DIR": work + "/data",
                "VISOR_RATE_LIMIT": "0", "VISOR_CLIENT_JOBS": "0", "VISOR_LOG_LEVEL": "warn"})
    serve_env = {k: v for k, v in os.environ.items() if not k.startswith("VISOR_")}
    serve_env.update({"VISOR_MODELS": models, "VISOR_DATA_DIR": work + "/serve",
                      "VISOR_RATE_LIMIT": "0", "VISOR_CLIENT_JOBS": "0",
                      "VISOR_LOG_LEVEL": "warn"})
    procs = []
    try:
        subprocess.run([visor_bin, "migrate"], env=env, check=True, capture_output=True)
        photos, probes = train_photos(count), test_photos(queries)
        serve = Process("serve", [visor_bin, "serve"], serve_env, work)
        procs.append(serve)
        serve.start(free_port())
        log(f"visor serve: indexing {len(photos)} photos")
        serve_rate = index_rate(Visor(f"http://127.0.0.1:{serve.port}"), photos, "serve")
        serve_p50, serve_p99 = search_latencies(Visor(f"http://127.0.0.1:{serve.port}"), probes)
        serve.stop()
        ml = Process("ml", [visor_bin, "ml"], env, work)
        api = Process("api", [visor_bin, "api"], env, work)
        procs += [ml, api]
        ml.start(ml_port)
        api.start(free_port())
        for i in range(workers):
            procs.append(Process(f"worker{i}", [visor_bin, "worker", "--concurrency", "2"], env,
                                 work))
            procs[-1].start(free_port())
        visor = Visor(f"http://127.0.0.1:{api.port}")
        log(f"distributed ({workers} worker process(es)): indexing {len(photos)} photos")
        dist_rate = index_rate(visor, photos, "dist")
        dist_p50, dist_p99 = search_latencies(visor, probes)
        print(f"\nbackends: {env['VISOR_METADATA'].split('@')[-1]}, redis, {objects.split('?')[0]},"
              f" {vectors.split('?')[0]}; {workers} worker process(es) x 2 threads; "
              f"{len(photos)} photos, {len(probes)} searches, 1 client\n")
        print("| measure | distributed | visor serve | ratio (distributed / serve) |")
        print("|---|---:|---:|---:|")
        print(f"| indexing, images/s | {dist_rate:.1f} | {serve_rate:.1f} | "
              f"{dist_rate / serve_rate:.2f} |")
        print(f"| search p50 ms | {dist_p50:.1f} | {serve_p50:.1f} | {dist_p50 / serve_p50:.2f} |")
        print(f"| search p99 ms | {dist_p99:.1f} | {serve_p99:.1f} | {dist_p99 / serve_p99:.2f} |")
        return 0
    finally:
        for p in procs:
            p.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
