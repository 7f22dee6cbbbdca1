"""test_import.py: `visor import` and duplicate detection against real `visor serve`
processes (embedded backends, the real models), on the Grocery Store data set's 81 iconic
products written as CSV and JSON Lines at test time (scripts/grocery_catalogue.py):
bad rows reported with line and reason and a non-zero exit, reruns that add nothing, an
import killed halfway and run again, the progress bar in a pseudo-terminal and plain lines
in a pipe; exact / near duplicates at upload and indexing, and --skip-duplicates."""
import csv
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from cluster_lib import (DATASET, REPO, SHARED, Process, check, fail, free_port, log,  # noqa: E402
                         multipart)
from cluster_lib import request as single_request  # noqa: E402

VISOR = os.path.abspath(sys.argv[1])
WORK = tempfile.mkdtemp(prefix="visor-import-")
ICONIC = os.path.join(DATASET, "iconic-images-and-descriptions")
BANANA = os.path.join(ICONIC, "Fruit", "Banana", "Banana_Iconic.jpg")
servers = []


def request(method, url, body=None, headers=None, timeout=30):
    """One call, repeated while the server's rate limit answers 429."""
    for _ in range(100):
        code, answer = single_request(method, url, body, headers, timeout)
        if code != 429:
            return code, answer
        time.sleep(0.2)
    return code, answer


def serve(name, *extra):
    env = dict(os.environ, VISOR_MODELS=os.path.join(SHARED, "models"))
    process = Process(name, [VISOR, "serve", "--data-dir", os.path.join(WORK, name), *extra],
                      env, WORK)
    servers.append(process)
    process.start(free_port())
    return f"http://127.0.0.1:{process.port}"


def run_import(url, *args, timeout=300):
    result = subprocess.run([VISOR, "import", *args, "--url", url], capture_output=True,
                            text=True, timeout=timeout)
    return result.returncode, result.stdout, result.stderr


def catalogue(name):
    path = os.path.join(WORK, name)
    subprocess.run([sys.executable, os.path.join(REPO, "scripts", "grocery_catalogue.py"), DATASET,
                    path], check=True, capture_output=True)
    return path


def products(url):
    code, page = request("GET", url + "/api/v1/products?limit=200")
    if code != 200:
        fail(f"listing products: {code} {page}")
    return page


def image_digests(url, product_id):
    code, product = request("GET", f"{url}/api/v1/products/{product_id}")
    return [image["sha256"] for image in product["images"]]


def catalogue_state(url):
    """{sku: [sha256...]} of every live product."""
    return {p["sku"]: image_digests(url, p["id"]) for p in products(url)["items"]}


def check_no_duplicates(state, expected_images):
    for sku, digests in state.items():
        if len(digests) != len(set(digests)):
            fail(f"{sku} has an image twice: {digests}")
    total = sum(len(d) for d in state.values())
    check(total == expected_images, f"{total} images in the catalogue (expected {expected_images})")


def bad_rows_csv(good_csv):
    """The good catalogue plus one more image of the first product and five bad rows;
    returns the path and {line: reason keyword} of the bad ones."""
    text_file = os.path.join(WORK, "not-an-image.jpg")
    with open(text_file, "w") as f:
        f.write("this is text, not a JPEG\n")
    second = os.path.join(DATASET, "train", "Fruit", "Apple", "Golden-Delicious",
                          "Golden-Delicious_001.jpg")
    with open(good_csv, newline="") as f:
        rows = list(csv.reader(f))
    rows.append(["GROCERY-000", "Golden Delicious", "", "Apple", "group=Fruit", "1.5", "EUR",
                 second])
    bad = [(["", "No SKU", "", "", "", "1", "EUR", BANANA], "missing sku"),
           (["BAD-NOIMAGE", "No image", "", "", "", "1", "EUR", ""], "missing image"),
           (["BAD-UNREADABLE", "Text", "", "", "", "1", "EUR", text_file], "HTTP 4"),
           (["BAD-MISSING-FILE", "Gone", "", "", "", "1", "EUR", "/nonexistent/x.jpg"],
            "cannot read image"),
           (["BAD-PRICE", "Price", "", "", "", "cheap", "EUR", BANANA], "price"),
           (["BAD-LABELS", "Labels", "", "", "brand", "1", "EUR", BANANA], "labels")]
    expected = {}
    for row, keyword in bad:
        rows.append(row)
        expected[len(rows)] = keyword  # the header is line 1, so row n is line n
    path = os.path.join(WORK, "with-bad-rows.csv")
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return path, expected


def test_import_with_bad_rows(url, good_csv, jsonl):
    path, expected = bad_rows_csv(good_csv)
    errors = os.path.join(WORK, "errors.csv")
    code, out, err = run_import(url, path, "--parallel", "4", "--errors", errors)
    log(out.strip())
    check(code == 1, f"an import with bad rows exits 1 (got {code})")
    check("\r" not in err and "\033" not in err, "piped progress has no control characters")
    check("import: " in err and "rows" in err and "images/s" in err, "piped progress is plain lines")
    with open(errors, newline="") as f:
        reported = list(csv.DictReader(f))
    lines = {int(r["line"]): r["reason"] for r in reported}
    check(sorted(lines) == sorted(expected), f"every bad row is reported by line: {lines}")
    for line, keyword in expected.items():
        check(keyword in lines[line], f"line {line}: '{lines[line]}' says {keyword}")
    state = catalogue_state(url)
    check(len(state) == 81 and all(s.startswith("GROCERY-") for s in state),
          f"the 81 good products are imported ({len(state)})")
    check(len(state["GROCERY-000"]) == 2, "two rows with one SKU make one product with two images")
    check_no_duplicates(state, 82)

    code, out, _ = run_import(url, path, "--parallel", "4")
    check(code == 1, "the rerun still reports the bad rows")
    check("0 products created, 0 images uploaded, 82 already there" in out,
          f"the rerun uploads nothing: {out.strip()}")
    check(catalogue_state(url) == state, "the rerun changed nothing")

    state = catalogue_state(url)
    code, out, _ = run_import(url, jsonl, "--parallel", "2")
    check(code == 0, f"the JSON Lines catalogue of the same products imports cleanly ({code})")
    check("0 images uploaded, 81 already there" in out, f"and adds nothing: {out.strip()}")
    check_no_duplicates(catalogue_state(url), 82)

    code, out, _ = run_import(url, path, "--dry-run")
    check(code == 1 and "6 failed" in out, f"--dry-run finds the bad rows: {out.strip()}")
    check(catalogue_state(url) == state, "--dry-run uploads nothing")


def test_killed_import(url, jsonl):
    args = [VISOR, "import", jsonl, "--url", url, "--parallel", "1", "--progress", "none"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if products(url)["total"] >= 20:
            break
        time.sleep(0.02)
    if process.poll() is not None:
        fail("the import finished before it could be killed")
    process.send_signal(signal.SIGKILL)
    process.wait()
    halfway = products(url)["total"]
    check(20 <= halfway < 81, f"the import was killed halfway ({halfway} products)")
    code, out, _ = run_import(url, jsonl, "--parallel", "3")
    check(code == 0, f"the rerun completes ({code}): {out.strip()}")
    state = catalogue_state(url)
    check(len(state) == 81, f"all 81 products are there ({len(state)})")
    check(all(len(d) == 1 for d in state.values()), "each product has its one image")
    check_no_duplicates(state, 81)


def test_progress_bar(url, jsonl):
    master, slave = pty.openpty()
    process = subprocess.Popen([VISOR, "import", jsonl, "--url", url], stdin=slave, stdout=slave,
                               stderr=slave)
    os.close(slave)
    output = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=60)
    os.close(master)
    text = output.decode("utf-8", "replace")
    check("\r\033[K[" in text, "on a terminal the bar is redrawn in place")
    check("81/81 rows" in text and "ETA" in text and "error" in text,
          "the bar shows rows done/total, ETA and errors")
    check("import: " not in text, "no plain lines on a terminal")


def wait_indexed(url, count, seconds=180):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        code, page = request("GET", url + "/api/v1/jobs?kind=index&status=done&limit=1")
        if code == 200 and page["total"] >= count:
            return
        time.sleep(0.3)
    fail(f"{count} images were not indexed in {seconds} s")


def add(url, sku, image):
    body, headers = multipart([("sku", sku), ("name", sku)], [("images", image)])
    code, product = request("POST", url + "/api/v1/products", body, headers)
    if code != 201:
        fail(f"creating {sku}: {code} {product}")
    return product


def duplicates_of(url, product):
    code, page = request("GET", f"{url}/api/v1/products/{product['id']}/duplicates")
    if code != 200:
        fail(f"duplicates of {product['sku']}: {code} {page}")
    return page["items"]


def test_duplicates(url):
    reencoded = os.path.join(WORK, "banana-q85.jpg")
    subprocess.run(["vips", "copy", BANANA, reencoded + "[Q=85]"], check=True)
    other_photo = os.path.join(DATASET, "train", "Fruit", "Banana", "Banana_001.jpg")
    original = add(url, "DUP-ORIGINAL", BANANA)
    check(original["images"][0]["duplicates"] == [], "a new picture has no duplicates")
    wait_indexed(url, 1)
    copy = add(url, "DUP-COPY", BANANA)
    found = copy["images"][0]["duplicates"]
    check([d["sku"] for d in found] == ["DUP-ORIGINAL"],
          f"the upload answer names the exact duplicate: {found}")
    check([d["other_sku"] for d in duplicates_of(url, copy)] == ["DUP-ORIGINAL"],
          "and the exact pair is listed at once, before indexing")
    wait_indexed(url, 2)
    near = add(url, "DUP-REENCODED", reencoded)
    wait_indexed(url, 3)
    photo = add(url, "DUP-OTHER-PHOTO", other_photo)
    wait_indexed(url, 4)

    exact = duplicates_of(url, copy)
    check(any(d["other_sku"] == "DUP-ORIGINAL" and d["kind"] == "exact" and d["score"] == 1
              for d in exact), f"the copy is an exact duplicate of the original: {exact}")
    pairs = duplicates_of(url, near)
    log("re-encoded copy: " + ", ".join(f"{d['other_sku']} {d['kind']} {d['score']:.4f}"
                                        for d in pairs))
    check(any(d["other_sku"] == "DUP-ORIGINAL" and d["kind"] == "near" and 0.97 <= d["score"] < 1
              for d in pairs), "the re-encoded copy is a near duplicate at the default threshold")
    check(duplicates_of(url, photo) == [],
          "a different photo of the same product is not a duplicate")
    check(any(d["other_sku"] == "DUP-REENCODED" for d in duplicates_of(url, original)),
          "a pair is listed from both products")

    code, page = request("GET", url + "/api/v1/duplicates?limit=10")
    check(code == 200 and page["total"] == 3,
          f"the catalogue has three pairs (original-copy, original-reencoded, copy-reencoded): "
          f"{page.get('total')}")
    code, page = request("GET", url + "/api/v1/duplicates?kind=near")
    check(code == 200 and all(d["kind"] == "near" for d in page["items"]) and page["total"] == 2,
          "?kind=near lists the near pairs")
    code, _ = request("GET", url + "/api/v1/duplicates?kind=similar")
    check(code == 400, "an unknown kind is 400")
    code, _ = request("GET", url + "/api/v1/images?sha256=xyz")
    check(code == 400, "a malformed digest is 400")

    code, _ = request("DELETE", f"{url}/api/v1/products/{copy['id']}")
    check(not any(d["other_sku"] == "DUP-COPY" for d in duplicates_of(url, original)),
          "a deleted product's pairs are not listed")

    path = os.path.join(WORK, "skip.csv")
    apple = os.path.join(ICONIC, "Fruit", "Apple", "Granny-Smith", "Granny-Smith_Iconic.jpg")
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["sku", "name", "description", "category", "labels", "price", "currency",
                         "image"])
        writer.writerow(["DUP-SKIPPED", "Banana again", "", "", "", "", "", BANANA])
        writer.writerow(["DUP-NEW", "Granny Smith", "", "", "", "", "", apple])
    code, out, _ = run_import(url, path, "--skip-duplicates")
    check(code == 0 and "1 skipped as duplicates" in out, f"--skip-duplicates: {out.strip()}")
    skus = {p["sku"] for p in products(url)["items"]}
    check("DUP-NEW" in skus and "DUP-SKIPPED" not in skus,
          "the exact duplicate was skipped, the new picture imported")


def wait_for_log(process, text, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with open(process.log_path, "rb") as f:
            if text.encode() in f.read():
                return True
        time.sleep(0.2)
    return False


def test_serve_demo(good_csv):
    extra = ("--workers", "0", "--client-jobs", "0", "--demo", DATASET)
    url = serve("demo", *extra)
    check(wait_for_log(servers[-1], "demo: 81 products created, 81 images uploaded"),
          "serve --demo imports the 81 Grocery products at start")
    check(products(url)["total"] == 81, "and they are in the catalogue")
    code, out, _ = run_import(url, good_csv)
    check(code == 0 and "0 images uploaded, 81 already there" in out,
          f"make demo's catalogue is the same products: {out.strip()}")
    servers[-1].stop()
    servers.pop()
    url = serve("demo", *extra)  # the same data folder
    check(wait_for_log(servers[-1], "demo: 0 products created, 0 images uploaded, 81 already"),
          "a restart with --demo adds nothing")
    check(products(url)["total"] == 81, "still 81 products")


def main():
    try:
        good_csv, jsonl = catalogue("grocery.csv"), catalogue("grocery.jsonl")
        log("import with bad rows, reruns (no workers: uploads only)")
        url = serve("import", "--workers", "0", "--client-jobs", "0")
        test_import_with_bad_rows(url, good_csv, jsonl)
        log("an import killed halfway, and the progress bar")
        url = serve("killed", "--workers", "0", "--client-jobs", "0", "--rate-limit", "20",
                    "--rate-burst", "10")
        test_killed_import(url, jsonl)
        test_progress_bar(url, jsonl)
        log("serve --demo")
        test_serve_demo(good_csv)
        log("duplicates (with workers and the real models)")
        test_duplicates(serve("duplicates", "--workers", "1"))
        log("all import tests passed")
    finally:
        for process in servers:
            process.stop()
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
