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
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("VISOR_SHARED_DIR", os.path.join(REPO, "..", "shared"))
DATASET = os.path.join(SHARED, "datasets", "grocery")
PRODUCTS = int(os.environ.get("VISOR_E2E_PRODUCTS", "40"))
QUERIES = int(os.environ.get("VISOR_E2E_QUERIES", "60"))
ADMIN_TOKEN = "e2e-admin-token-0123456789"
DEADLINE = time.monotonic() + float(os.environ.get("VISOR_E2E_SECONDS", "420"))


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def fail(message):
    log("FAILED: " + message)
    raise SystemExit(1)


def check(condition, message):
    if not condition:
        fail(message)
    log("ok: " + message)


def server_script(name, *args):
    path = os.path.join(REPO, "scripts", "servers", f"{name}.sh")
    if not os.access(path, os.X_OK):
        return None
    result = subprocess.run([path, *args], capture_output=True, text=True, timeout=180)
    if result.returncode != 0:
        return None
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(method, url, body=None, headers=None, timeout=30):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            data = res.read()
            return res.status, (json.loads(data) if data else None)
    except urllib.error.HTTPError as e:
        data = e.read()
        try:
            return e.code, json.loads(data) if data else None
        except ValueError:
            return e.code, {"raw": data.decode("latin-1")}
    except (urllib.error.URLError, ConnectionError, socket.timeout, TimeoutError) as e:
        return 0, {"transport": str(e)}


def multipart(fields, files):
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    for name, path in files:
        with open(path, "rb") as f:
            data = f.read()
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{os.path.basename(path)}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
                     + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), {"Content-Type": f"multipart/form-data; boundary={boundary}"}


class Process:
    """A Visor process started as our child (so we can SIGKILL it and reap it)."""

    def __init__(self, name, args, env, log_dir):
        self.name, self.args, self.env = name, args, env
        self.log_path = os.path.join(log_dir, f"{name}.log")
        self.proc = None

    def start(self, port):
        self.port = port
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args + ["--port", str(port), "--host", "127.0.0.1"],
                                     env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(600):
            if self.proc.poll() is not None:
                fail(f"{self.name} exited with {self.proc.returncode}: {self.tail()}")
            status, _ = request("GET", f"http://127.0.0.1:{port}/healthz", timeout=2)
            if status == 200:
                return self
            time.sleep(0.1)
        fail(f"{self.name} did not answer /healthz: {self.tail()}")

    def tail(self):
        with open(self.log_path, "rb") as f:
            return f.read()[-2000:].decode("latin-1")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def dataset_classes():
    classes = []
    with open(os.path.join(DATASET, "classes.csv")) as f:
        next(f)
        for line in f:
            cols = line.strip().split(",")
            classes.append({"name": cols[0], "id": int(cols[1]), "category": cols[2],
                            "iconic": os.path.join(DATASET, cols[4].lstrip("/"))})
    return classes


def dataset_queries(class_ids, count):
    rows = []
    with open(os.path.join(DATASET, "test.txt")) as f:
        for line in f:
            path, fine, _ = [c.strip() for c in line.split(",")]
            if int(fine) in class_ids:
                rows.append((os.path.join(DATASET, path), int(fine)))
    random.Random(7).shuffle(rows)
    return rows[:count]


class Visor:
    def __init__(self, base):
        self.base = base

    def add_product(self, cls, sku_prefix=""):
        body, headers = multipart([("sku", sku_prefix + cls["name"]), ("name", cls["name"]),
                                   ("category", cls["category"])], [("images", cls["iconic"])])
        return request("POST", self.base + "/api/v1/products", body, headers)

    def jobs(self, status):
        code, page = request("GET", f"{self.base}/api/v1/jobs?kind=index&status={status}&limit=1")
        return page["total"] if code == 200 else None

    def wait_indexed(self, expected, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            done, failed = self.jobs("done"), self.jobs("failed")
            if done is not None and failed is not None and done + failed >= expected:
                return done, failed
            time.sleep(0.3)
        return self.jobs("done"), self.jobs("failed")

    def products(self):
        code, page = request("GET", self.base + "/api/v1/products?limit=100")
        return page["items"] if code == 200 else []

    def search(self, path, k=5):
        body, headers = multipart([("k", str(k))], [("image", path)])
        for _ in range(3):
            code, result = request("POST", self.base + "/api/v1/searches?wait=30", body, headers,
                                   timeout=40)
            if code == 200 and result.get("status") == "done":
                return [p["product"]["sku"] for p in result["products"]]
            time.sleep(0.5)
        fail(f"search {path} on {self.base}: {code} {result}")


def live_regions(visor):
    regions = 0
    for product in visor.products():
        code, full = request("GET", f"{visor.base}/api/v1/products/{product['id']}")
        for image in full.get("images", []):
            ids = [r["id"] for r in image.get("regions", [])]
            if len(ids) != len(set(ids)):
                fail(f"image {image['id']} has duplicate regions")
            if image.get("job", {}).get("status") == "done" and not ids:
                fail(f"image {image['id']} is indexed but has no regions")
            regions += len(ids)
    return regions


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as res:
        for line in res.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


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
                "VISOR_LEASE_SECONDS": "3", "VISOR_ADMIN_TOKEN": ADMIN_TOKEN, "VISOR_RATE_LIMIT": "0", "VISOR_LOG_LEVEL": "warn"})
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
        ml = Process("ml", [visor_bin, "ml"], env, work).start(ml_port)
        api = Process("api", [visor_bin, "api"], env, work).start(free_port())
        workers = [Process(f"worker{i}", [visor_bin, "worker", "--concurrency", "2"], env, work)
                   .start(free_port()) for i in range(worker_count)]
        procs = [ml, api, *workers]
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

        # Redis goes away: readiness and the queue routes say 503 (JSON); an upload is kept
        # in the outbox and indexed once Redis is back.
        server_script("redis", "down")
        code, body = request("GET", visor.base + "/readyz")
        check(code == 503 and body and body.get("checks", {}).get("queue") != "ok",
              "readyz answers 503 while Redis is down")
        code, body = request("GET", visor.base + "/api/v1/admin/queue",
                             headers={"Authorization": "Bearer " + ADMIN_TOKEN})
        check(code == 503 and body and body.get("error", {}).get("code") == "unavailable",
              "the admin queue route answers 503 with the JSON error while Redis is down")
        extra = dataset_classes()[PRODUCTS]
        code, body = visor.add_product(extra)
        check(code == 201, "an upload while Redis is down is accepted (its task waits in the outbox)")
        check(all(p.alive() for p in procs), "no process crashed while Redis was down")
        server_script("redis", "up")
        uploaded += 1

        # PostgreSQL goes away: the API answers 503 with the JSON error, writes nothing.
        server_script("postgres", "down")
        code, body = request("GET", visor.base + "/api/v1/products")
        check(code == 503 and body and body.get("error", {}).get("code") == "unavailable",
              "the API answers 503 unavailable while PostgreSQL is down")
        refused = dataset_classes()[PRODUCTS + 1]
        code, body = visor.add_product(refused)
        check(code == 503 and body and "error" in body,
              "an upload while PostgreSQL is down is refused with 503")
        check(all(p.alive() for p in procs), "no process crashed while PostgreSQL was down")
        server_script("postgres", "up")
        for _ in range(100):
            if request("GET", visor.base + "/readyz")[0] == 200:
                break
            time.sleep(0.2)
        check(request("GET", visor.base + "/readyz")[0] == 200,
              "readyz is 200 again once PostgreSQL and Redis are back")
        done, failed = visor.wait_indexed(uploaded, 90)
        check(done == uploaded and failed == 0,
              f"every job completes after the restarts ({done} of {uploaded} done)")
        skus = {p["sku"] for p in visor.products()}
        check(refused["name"] not in skus and len(skus) == uploaded,
              "the refused upload left no product behind, and nothing was duplicated")

        regions = live_regions(visor)
        vectors_seen = [metric(w.port, "visor_vectors") for w in workers]
        check(regions > 0 and all(v == regions for v in vectors_seen),
              f"exactly one vector per live region ({regions} regions, vectors {vectors_seen})")

        # The same photos through `visor serve`: the reference.
        serve_dir = os.path.join(work, "serve")
        serve_env = {k: v for k, v in os.environ.items() if not k.startswith("VISOR_")}
        serve_env.update({"VISOR_MODELS": models, "VISOR_DATA_DIR": serve_dir,
                          "VISOR_RATE_LIMIT": "0", "VISOR_LOG_LEVEL": "warn",
                          "VISOR_SHARED_DIR": SHARED})
        serve = Process("serve", [visor_bin, "serve"], serve_env, work).start(free_port())
        procs.append(serve)
        reference = Visor(f"http://127.0.0.1:{serve.port}")
        for cls in classes + [extra]:
            code, body = reference.add_product(cls)
            if code != 201:
                fail(f"serve upload {cls['name']}: {code} {body}")
        done, failed = reference.wait_indexed(len(classes) + 1, 120)
        check(done == len(classes) + 1, "visor serve indexed the same photos")

        names = {c["id"]: c["name"] for c in classes}
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
        server_script("redis", "up")
        server_script("postgres", "up")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
