"""test_reindex_cli.py: `visor reindex` against a real `visor serve` (embedded backends, the
real models) over 30 iconic Grocery Store products: bad usage exits 2 (no scope, two scopes,
an unknown product, no token) and a wrong token 1; one product with plain progress lines in
a pipe; everything with the bar in a pseudo-terminal; and a server killed (SIGKILL) in the
middle of a run of everything: after a restart the run finishes by itself, every image has
exactly one set of regions (of the same size as before), and `visor check` finds no vector
or object that no row owns."""
import os
import pty
import select
import subprocess
import sys
import tempfile
import time
import shutil

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from cluster_lib import (DATASET, SHARED, Process, check, fail, free_port, log,  # noqa: E402
                         multipart, request)

VISOR = os.path.abspath(sys.argv[1])
WORK = tempfile.mkdtemp(prefix="visor-reindex-cli-")
DATA = os.path.join(WORK, "data")
TOKEN = "reindex-cli-token-0123456789"
ICONIC = os.path.join(DATASET, "iconic-images-and-descriptions")
MODELS = os.path.join(SHARED, "models")
PRODUCTS = 30
server = None


def serve():
    global server
    env = dict(os.environ, VISOR_MODELS=MODELS)
    process = Process("serve", [VISOR, "serve", "--data-dir", DATA, "--admin-token", TOKEN,
                                "--lease-seconds", "1", "--client-jobs", "0", "--rate-limit", "0"],
                      env, WORK)
    process.start(free_port())
    server = process
    return f"http://127.0.0.1:{process.port}"


def reindex(url, *args, token=TOKEN, timeout=300):
    command = [VISOR, "reindex", *args, "--url", url]
    if token:
        command += ["--admin-token", token]
    env = {k: v for k, v in os.environ.items() if k != "VISOR_ADMIN_TOKEN"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    return result.returncode, result.stdout, result.stderr


def admin(method, url, path):
    return request(method, url + path, headers={"Authorization": f"Bearer {TOKEN}"})


def images():
    found = []
    for root, _, files in sorted(os.walk(ICONIC)):
        found += [os.path.join(root, f) for f in sorted(files) if f.endswith("_Iconic.jpg")]
    return found[:PRODUCTS]


def add_products(url):
    ids = []
    for i, path in enumerate(images()):
        category = os.path.relpath(path, ICONIC).split(os.sep)[0].lower()
        body, headers = multipart([("sku", f"P{i:03d}"), ("name", os.path.basename(path)),
                                   ("category", category)], [("images", path)])
        code, product = request("POST", url + "/api/v1/products", body, headers)
        if code != 201:
            fail(f"adding {path}: {code} {product}")
        ids.append(product["id"])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        code, page = request("GET", url + "/api/v1/jobs?kind=index&status=done&limit=1")
        if code == 200 and page["total"] >= len(ids):
            return ids
        time.sleep(0.3)
    fail("the products were not indexed in 300 s")


def regions(url, product_id):
    code, product = request("GET", f"{url}/api/v1/products/{product_id}")
    if code != 200:
        fail(f"GET product {product_id}: {code} {product}")
    return sorted(r["id"] for image in product["images"] for r in image["regions"])


def test_usage(url, product_id):
    code, _, err = reindex(url)
    check(code == 2 and "no scope" in err, f"no scope: exit 2 ({code}, {err.strip()})")
    code, _, err = reindex(url, "--all", "--stale")
    check(code == 2, f"two scopes: exit 2 ({code}, {err.strip()})")
    code, _, err = reindex(url, "--all", token=None)
    check(code == 2 and "admin token" in err, f"no token: exit 2 ({code}, {err.strip()})")
    code, _, err = reindex(url, "--product", "00000000-0000-7000-8000-000000000000")
    check(code == 2 and "not found" in err, f"unknown product: exit 2 ({code}, {err.strip()})")
    code, _, err = reindex(url, "--category", "no-such-category")
    check(code == 2, f"unknown category: exit 2 ({code}, {err.strip()})")
    code, _, err = reindex(url, "--all", token="wrong-token-0123456789")
    check(code == 1 and "403" in err, f"a wrong token: exit 1 ({code}, {err.strip()})")
    code, page = admin("GET", url, "/api/v1/admin/reindex")
    check(code == 200 and page["total"] == 0, f"nothing was started ({page})")


def test_one_product_piped(url, product_id):
    before = regions(url, product_id)
    code, out, err = reindex(url, "--product", product_id)
    check(code == 0, f"one product: exit 0 ({code}, {out} {err})")
    check("reindex: 1/1 images" in err and "\033" not in err,
          f"plain progress lines in a pipe: {err!r}")
    check("1 of 1 images re-indexed, 0 failed" in out, f"the summary: {out!r}")
    after = regions(url, product_id)
    check(len(after) == len(before) and set(after).isdisjoint(before),
          f"new regions, as many ({len(before)} -> {len(after)})")


def test_bar(url):
    master, slave = pty.openpty()
    process = subprocess.Popen([VISOR, "reindex", "--all", "--url", url, "--admin-token", TOKEN],
                               stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    output = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    code = process.wait(timeout=60)
    os.close(master)
    text = output.decode("utf-8", "replace")
    check(code == 0, f"everything: exit 0 ({code}): {text[-300:]!r}")
    check("\r\033[K[" in text, "on a terminal the bar is redrawn in place")
    check(f"{PRODUCTS}/{PRODUCTS} images" in text and "ETA" in text,
          f"the bar shows images done/total and ETA: {text[-300:]!r}")
    check("reindex: " not in text, "no plain lines on a terminal")


def test_killed_run(url, ids):
    before = {pid: len(regions(url, pid)) for pid in ids}
    code, out, err = reindex(url, "--all", "--no-wait")
    check(code == 0 and "re-index run" in out, f"--no-wait starts a run ({code}, {out} {err})")
    run_id = out.split()[2].rstrip(":")
    done = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        code, run = admin("GET", url, f"/api/v1/admin/reindex/{run_id}")
        done = run.get("done", 0) if code == 200 else 0
        if done >= 3:
            break
        time.sleep(0.02)
    server.kill9()
    check(3 <= done < PRODUCTS, f"the server was killed halfway ({done}/{PRODUCTS} done)")
    log(f"killed the server with {done}/{PRODUCTS} images re-indexed")
    url = serve()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        code, run = admin("GET", url, f"/api/v1/admin/reindex/{run_id}")
        if code == 200 and run["status"] != "running":
            break
        time.sleep(0.3)
    check(run["status"] == "done" and run["done"] == PRODUCTS and run["failed"] == 0,
          f"the run finished after the restart: {run}")
    after = {pid: len(regions(url, pid)) for pid in ids}
    changed = {pid: (before[pid], after[pid]) for pid in ids if before[pid] != after[pid]}
    check(not changed, f"one set of regions per image, as many as before (changed: {changed})")
    server.stop()
    result = subprocess.run([VISOR, "check", "--data-dir", DATA, "--models", MODELS],
                            capture_output=True, text=True, timeout=120)
    check(result.returncode == 0,
          f"visor check finds nothing left over: {result.stdout[-800:]} {result.stderr[-400:]}")
    return serve()


def main():
    try:
        url = serve()
        ids = add_products(url)
        log("bad usage")
        test_usage(url, ids[0])
        log("one product, piped")
        test_one_product_piped(url, ids[0])
        log("everything, on a terminal")
        test_bar(url)
        log("a server killed during a run")
        test_killed_run(url, ids)
        log("all reindex CLI tests passed")
    finally:
        if server:
            server.stop()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
