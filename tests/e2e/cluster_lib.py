"""cluster_lib.py: what the end-to-end test and the distributed benchmark share: starting
Visor processes as children (so they can be killed with SIGKILL and reaped), HTTP calls
with the standard library, the Grocery data set, and the server scripts of the local
cluster."""
import json
import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.environ.get("VISOR_SHARED_DIR", os.path.join(REPO, "..", "shared"))
DATASET = os.path.join(SHARED, "datasets", "grocery")


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
            if "json" not in (res.headers.get("Content-Type") or ""):
                return res.status, {"bytes": len(data)}
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

    def filtered_skus(self, path, category, k=10):
        body, headers = multipart([("k", str(k)), ("category", category)], [("image", path)])
        code, result = request("POST", self.base + "/api/v1/searches?wait=30", body, headers,
                               timeout=40)
        if code != 200 or result.get("status") != "done":
            fail(f"filtered search {path}: {code} {result}")
        return [p["product"]["sku"] for p in result["products"]]

    def wait_job(self, job_id, seconds):
        end = time.monotonic() + seconds
        status = None
        while time.monotonic() < end:
            code, job = request("GET", f"{self.base}/api/v1/jobs/{job_id}")
            status = job.get("status") if code == 200 else None
            if status in ("done", "failed"):
                break
            time.sleep(0.2)
        return status

    def unfinished_jobs(self):
        found = []
        for status in ("queued", "running"):
            code, page = request("GET", f"{self.base}/api/v1/jobs?kind=index&status={status}")
            found += page.get("items", []) if code == 200 else [page]
        return found

    def any_image_id(self):
        for product in self.products():
            code, full = request("GET", f"{self.base}/api/v1/products/{product['id']}")
            for image in full.get("images", []):
                return image["id"]
        fail("no image in the catalogue")

    def products(self):
        code, page = request("GET", self.base + "/api/v1/products?limit=200")
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


