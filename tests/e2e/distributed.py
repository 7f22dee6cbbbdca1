#!/usr/bin/env python3
"""distributed.py: the distributed topology end to end, for real.

`visor ml` + `visor api` + `visor worker --concurrency 2` as separate processes over the
real servers the local cluster runs (PostgreSQL and Redis; S3 and Chroma when their
server scripts are up, and then two worker processes), against `visor serve` on the same
photos:
  - products with real photos are indexed; one worker is killed with SIGKILL mid-indexing
    and started again: every job completes, each image has exactly one set of regions,
    and the vector store holds exactly one vector per live region;
  - Redis and PostgreSQL are restarted during the run: meanwhile the API answers 503 with
    the JSON error (never a crash), uploads taken while Redis is down are indexed after
    it returns, nothing half-written stays behind an upload refused while PostgreSQL is
    down;
  - searches of real test photos give the same top-1 products as `visor serve` (within a
    small margin) and top-5 accuracy within 0.05 of it.
Exits 77 (skipped) when PostgreSQL or Redis is not up. Bounded: about 3 minutes.
Usage: distributed.py VISOR_BIN (VISOR_SHARED_DIR names the shared folder).
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from cluster_lib import (DATASET, REPO, SHARED, Process, Visor, check, dataset_classes,
                         dataset_queries, fail, free_port, live_regions, log, metric, multipart,
                         request, server_script)

PRODUCTS = int(os.environ.get("VISOR_E2E_PRODUCTS", "72"))  # + 8 in the second batch: all 81
QUERIES = int(os.environ.get("VISOR_E2E_QUERIES", "120"))
ADMIN_TOKEN = "e2e-admin-token-0123456789"
DEADLINE = time.monotonic() + float(os.environ.get("VISOR_E2E_SECONDS", "420"))


def check_alive(procs, server):
    dead = [p for p in procs if not p.alive()]
    for p in dead:
        log(f"{p.name} exited with {p.proc.returncode}; its log ends:\n{p.tail()}")
    check(not dead, f"no process crashed while {server} was down")


def main():
    if len(sys.argv) < 2:
        print("usage: distributed.py VISOR_BIN", file=sys.stderr)
        return 2
    visor_bin = os.path.abspath(sys.argv[1])
    if not os.path.isdir(DATASET):
        print(f"no dataset at {DATASET}", file=sys.stderr)
        return 1
    if server_script("postgres", "status") is None or server_script("redis", "status") is None:
        print("PostgreSQL or Redis is not up (scripts/cluster.sh up): skipped")
        return 77
    tag = f"e2e{os.getpid()}"
    metadata = server_script("postgres", "newdb", f"visor_{tag}")
    queue = server_script("redis", "url") + f"?prefix=visor-{tag}"
    work = tempfile.mkdtemp(prefix="visor-e2e-")
    env = dict(os.environ)
    objects = f"file://{work}/blobs"
    vectors = f"hnsw://{work}/vectors"
    worker_count = 1  # hnsw:// belongs to one process
    if server_script("s3", "status") is not None:
        objects = server_script("s3", "url").replace("visor-test", f"visor-{tag}")
        for line in subprocess.run([os.path.join(REPO, "scripts/servers/s3.sh"), "env"],
                                   capture_output=True, text=True).stdout.splitlines():
            key, _, value = line.partition("=")
            env[key] = value
    if server_script("chroma", "status") is not None:
        vectors = server_script("chroma", "url").rsplit("/", 2)[0] + f"/visor_{tag}/visor_{tag}"
        worker_count = 2
    models = os.path.join(SHARED, "models")
    env.update({"VISOR_METADATA": metadata, "VISOR_QUEUE": queue, "VISOR_OBJECTS": objects,
                "VISOR_VECTORS": vectors, "VISOR_MODELS": models, "VISOR_DATA_DIR": work + "/data",
                "VISOR_LEASE_SECONDS": "3", "VISOR_ADMIN_TOKEN": ADMIN_TOKEN, "VISOR_RATE_LIMIT": "0", "VISOR_CLIENT_JOBS": "0", "VISOR_LOG_LEVEL": "warn"})
    log(f"topology: api + {worker_count} worker(s) x 2 + ml over {metadata}, {queue}, "
        f"{objects}, {vectors}")
    procs = []
    try:
        # A worker or api refuses the empty schema until `visor migrate` ran.
        ml_port = free_port()
        env["VISOR_ML"] = f"http://127.0.0.1:{ml_port}"
        early = subprocess.run([visor_bin, "api", "--port", "0"], env=env, capture_output=True,
                               text=True, timeout=60)
        check(early.returncode != 0 and "visor migrate" in early.stderr,
              "visor api refuses a schema that is too old and says to run visor migrate")
        migrated = subprocess.run([visor_bin, "migrate"], env=env, capture_output=True, text=True,
                                  timeout=60)
        check(migrated.returncode == 0, "visor migrate migrates the PostgreSQL store")
        ml = Process("ml", [visor_bin, "ml"], env, work)
        api = Process("api", [visor_bin, "api"], env, work)
        workers = [Process(f"worker{i}", [visor_bin, "worker", "--concurrency", "2"], env, work)
                   for i in range(worker_count)]
        procs = [ml, api, *workers]  # stopped by the finally below, even if one fails to start
        ml.start(ml_port)
        api.start(free_port())
        for worker in workers:
            worker.start(free_port())
        visor = Visor(f"http://127.0.0.1:{api.port}")

        classes = dataset_classes()[:PRODUCTS]
        # Upload everything, and kill -9 the first worker once indexing is under way.
        uploaded = 0
        killed = False
        for i, cls in enumerate(classes):
            code, body = visor.add_product(cls)
            if code != 201:
                fail(f"upload {cls['name']}: {code} {body}")
            uploaded += 1
            if not killed and i >= len(classes) // 3 and (visor.jobs("done") or 0) >= 2:
                workers[0].kill9()
                killed = True
                log(f"killed {workers[0].name} with SIGKILL after {visor.jobs('done')} jobs")
                workers[0].start(free_port())
        if not killed:
            workers[0].kill9()
            workers[0].start(free_port())
            log("killed worker0 after the uploads")
        done, failed = visor.wait_indexed(uploaded, 120)
        check(done == uploaded and failed == 0,
              f"every index job completes after a worker's kill -9 ({done} done, {failed} failed)")

        # A second batch, and Redis goes away while its tasks are queued and leased:
        # readiness and the queue routes say 503 (JSON); an upload meanwhile is kept in the
        # outbox; after Redis is back (AOF) every task of the batch still runs.
        batch = dataset_classes()[PRODUCTS:PRODUCTS + 8]
        for cls in batch[:6]:
            code, body = visor.add_product(cls)
            check(code == 201, f"upload {cls['name']} of the second batch")
        uploaded += 6
        server_script("redis", "down")
        code, body = request("GET", visor.base + "/readyz")
        check(code == 503 and body and body.get("checks", {}).get("queue") != "ok",
              "readyz answers 503 while Redis is down")
        code, body = request("GET", visor.base + "/api/v1/admin/queue",
                             headers={"Authorization": "Bearer " + ADMIN_TOKEN})
        check(code == 503 and body and body.get("error", {}).get("code") == "unavailable",
              "the admin queue route answers 503 with the JSON error while Redis is down")
        code, body = visor.add_product(batch[6])
        check(code == 201, "an upload while Redis is down is accepted (its task waits in the outbox)")
        uploaded += 1
        time.sleep(1)
        check_alive(procs, "Redis")
        server_script("redis", "up")

        # PostgreSQL goes away while tasks run: the API answers 503 with the JSON error and
        # writes nothing; the workers' tasks come back once it returns.
        code, body = visor.add_product(batch[7])
        check(code == 201, "upload just before PostgreSQL goes away")
        uploaded += 1
        server_script("postgres", "down")
        code, body = request("GET", visor.base + "/api/v1/products")
        check(code == 503 and body and body.get("error", {}).get("code") == "unavailable",
              "the API answers 503 unavailable while PostgreSQL is down")
        refused = dataset_classes()[PRODUCTS + 8]
        code, body = visor.add_product(refused)
        check(code == 503 and body and "error" in body,
              "an upload while PostgreSQL is down is refused with 503")
        check_alive(procs, "PostgreSQL")
        server_script("postgres", "up")
        for _ in range(100):
            if request("GET", visor.base + "/readyz")[0] == 200:
                break
            time.sleep(0.2)
        check(request("GET", visor.base + "/readyz")[0] == 200,
              "readyz is 200 again once PostgreSQL and Redis are back")

        if server_script("s3", "status") is not None:
            # The S3 server goes away: uploads and image reads answer 503 with the JSON error.
            image_id = visor.any_image_id()
            server_script("s3", "down")
            code, body = visor.add_product(refused)
            check(code == 503 and body and "error" in body,
                  "an upload while the S3 server is down is refused with 503")
            code, body = request("GET", f"{visor.base}/api/v1/images/{image_id}/content")
            check(code == 503 and body and body.get("error", {}).get("code") == "unavailable",
                  "reading an image while the S3 server is down answers 503 unavailable")
            check_alive(procs, "S3")
            server_script("s3", "up")
            code, _ = request("GET", f"{visor.base}/api/v1/images/{image_id}/content")
            check(code == 200, "images are served again once the S3 server is back")

        if server_script("chroma", "status") is not None:
            # Chroma goes away: a search submitted meanwhile is retried by the workers and
            # finishes once Chroma is back.
            server_script("chroma", "down")
            body, headers = multipart([("k", "5")], [("image", classes[0]["iconic"])])
            code, pending = request("POST", visor.base + "/api/v1/searches", body, headers)
            check(code == 202, "a search is accepted while Chroma is down")
            time.sleep(1.5)
            check_alive(procs, "Chroma")
            server_script("chroma", "up")
            code, result = request("GET", f"{visor.base}/api/v1/searches/{pending['id']}?wait=30",
                                   timeout=40)
            check(code == 200 and result.get("status") == "done" and result["products"]
                  and result["products"][0]["product"]["sku"] == classes[0]["name"],
                  "that search finishes after Chroma is back, and finds its product first")
        done, failed = visor.wait_indexed(uploaded, 90)
        if done != uploaded:
            log(f"unfinished jobs: {visor.unfinished_jobs()}")
        check(done == uploaded and failed == 0,
              f"every job completes after the restarts ({done} of {uploaded} done, {failed} failed)")
        skus = {p["sku"] for p in visor.products()}
        check(refused["name"] not in skus and len(skus) == uploaded,
              "the refused upload left no product behind, and nothing was duplicated")

        # The index task stores no crop (crops are made on first request), so even a worker
        # killed mid-index leaves no unowned object; the sweep below must find none either.
        checked = subprocess.run([visor_bin, "check", "--json"], env=env, capture_output=True,
                                 text=True, timeout=120)
        report = json.loads(checked.stdout) if checked.stdout.startswith("{") else {}
        leftovers = report.get("examples", {}).get("orphan_objects", [])
        check(report.get("orphan_vectors") == 0 and report.get("regions_without_vector") == 0
              and report.get("orphan_objects") == 0,
              f"after the drills no object is unowned, not even of an interrupted index attempt "
              f"({report.get('orphan_objects')}: {leftovers})")
        swept = subprocess.run([visor_bin, "sweep", "--sweep-grace-seconds", "0"], env=env,
                               capture_output=True, text=True, timeout=120)
        check(swept.returncode == 0, f"visor sweep runs: {swept.stdout.strip()} {swept.stderr.strip()}")
        checked = subprocess.run([visor_bin, "check", "--json"], env=env, capture_output=True,
                                 text=True, timeout=120)
        report = json.loads(checked.stdout) if checked.stdout.startswith("{") else {}
        check(checked.returncode == 0 and report.get("orphan_objects") == 0
              and report.get("orphan_vectors") == 0 and report.get("regions_without_vector") == 0,
              f"no object or vector without the row that owns it, no region without its vector "
              f"({report.get('objects')} objects, {report.get('vectors')} vectors): "
              f"{checked.stderr.strip()}")

        # A region's crop is cut on its first GET and cached in S3: the same bytes twice, and
        # the cached object is owned (visor check still finds nothing unowned).
        image_id = visor.any_image_id()
        code, image = request("GET", f"{visor.base}/api/v1/images/{image_id}")
        crop_url = visor.base + image["regions"][-1]["crop_url"]
        fetched = []
        for _ in range(2):
            with urllib.request.urlopen(crop_url, timeout=30) as res:
                fetched.append((res.status, res.read()))
        check(all(status == 200 for status, _ in fetched) and fetched[0][1] == fetched[1][1]
              and fetched[0][1][:2] == b"\xff\xd8",
              f"a crop made on first request is a JPEG, the same bytes twice ({crop_url})")
        checked = subprocess.run([visor_bin, "check", "--json"], env=env, capture_output=True,
                                 text=True, timeout=120)
        report = json.loads(checked.stdout) if checked.stdout.startswith("{") else {}
        check(checked.returncode == 0 and report.get("orphan_objects") == 0,
              f"the cached crop is owned by its region ({report.get('orphan_objects')} unowned)")

        regions = live_regions(visor)
        vectors_seen = [metric(w.port, "visor_vectors") for w in workers]
        check(regions > 0 and all(v == regions for v in vectors_seen),
              f"exactly one vector per live region ({regions} regions, vectors {vectors_seen})")

        # A product's new category reaches its vectors in the vector store (a meta job):
        # a search filtered on the new category finds it, on the old one no longer.
        moved = classes[1]
        product = next(p for p in visor.products() if p["sku"] == moved["name"])
        before = visor.filtered_skus(moved["iconic"], moved["category"])
        code, changed = request("PATCH", f"{visor.base}/api/v1/products/{product['id']}",
                                json.dumps({"category": "Moved"}).encode(),
                                {"Content-Type": "application/json"})
        check(code == 200 and changed.get("meta_job_id"), "a category change queues a meta job")
        check(visor.wait_job(changed["meta_job_id"], 30) == "done", "the meta job completes")
        check(moved["name"] in before and moved["name"] in visor.filtered_skus(moved["iconic"], "Moved")
              and moved["name"] not in visor.filtered_skus(moved["iconic"], moved["category"]),
              "a search filter follows the product's new category")
        request("PATCH", f"{visor.base}/api/v1/products/{product['id']}",
                json.dumps({"category": moved["category"]}).encode(),
                {"Content-Type": "application/json"})

        # Similar products through `visor api`, which has no vector store: the request is a
        # search-kind task a worker runs, and the API waits for its result.
        code, similar = request("GET", f"{visor.base}/api/v1/products/{product['id']}/similar?k=5",
                                timeout=60)
        similar_skus = [i["product"]["sku"] for i in (similar or {}).get("items", [])] if code == 200 else []
        check(code == 200 and similar_skus and moved["name"] not in similar_skus,
              f"similar products through visor api ({code}: {similar_skus[:3] or similar})")
        code, _ = request("GET", f"{visor.base}/api/v1/products/00000000-0000-4000-8000-000000000000/similar")
        check(code == 404, f"similar products of an unknown product: 404 at once ({code})")

        # The same photos through `visor serve`: the reference.
        serve_dir = os.path.join(work, "serve")
        serve_env = {k: v for k, v in os.environ.items() if not k.startswith("VISOR_")}
        serve_env.update({"VISOR_MODELS": models, "VISOR_DATA_DIR": serve_dir,
                          "VISOR_RATE_LIMIT": "0", "VISOR_CLIENT_JOBS": "0", "VISOR_LOG_LEVEL": "warn",
                          "VISOR_SHARED_DIR": SHARED})
        serve = Process("serve", [visor_bin, "serve"], serve_env, work)
        procs.append(serve)
        serve.start(free_port())
        reference = Visor(f"http://127.0.0.1:{serve.port}")
        for cls in classes + batch:
            code, body = reference.add_product(cls)
            if code != 201:
                fail(f"serve upload {cls['name']}: {code} {body}")
        done, failed = reference.wait_indexed(len(classes) + len(batch), 120)
        check(done == len(classes) + len(batch), "visor serve indexed the same photos")

        reference_product = next(p for p in reference.products() if p["sku"] == moved["name"])
        code, similar = request("GET", f"{reference.base}/api/v1/products/{reference_product['id']}"
                                "/similar?k=5")
        reference_skus = [i["product"]["sku"] for i in (similar or {}).get("items", [])]
        check(code == 200 and similar_skus[:1] and similar_skus[0] in reference_skus[:3],
              f"similar products: api + workers ({similar_skus[:3]}) answer like serve ({reference_skus[:3]})")

        names = {c["id"]: c["name"] for c in classes + batch}
        queries = dataset_queries(set(names), QUERIES)
        same_top1 = top5_distributed = top5_serve = 0
        for path, fine in queries:
            ours, theirs = visor.search(path), reference.search(path)
            same_top1 += bool(ours and theirs and ours[0] == theirs[0])
            top5_distributed += names[fine] in ours[:5]
            top5_serve += names[fine] in theirs[:5]
        n = len(queries)
        log(f"{n} queries: same top-1 {same_top1}/{n}; top-5 distributed {top5_distributed / n:.3f},"
            f" serve {top5_serve / n:.3f}")
        check(same_top1 >= 0.9 * n, "the distributed topology ranks like visor serve (top-1)")
        check(abs(top5_distributed - top5_serve) <= 0.05 * n,
              "top-5 accuracy within 0.05 of visor serve")
        check(time.monotonic() < DEADLINE, "finished within the time bound")
        log("distributed end-to-end: all checks passed")
        return 0
    finally:
        for p in procs:
            p.stop()
        for name in ("redis", "postgres", "s3", "chroma"):  # whatever a failed drill left down
            if os.access(os.path.join(REPO, "scripts", "servers", f"{name}.sh"), os.X_OK):
                server_script(name, "up")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
