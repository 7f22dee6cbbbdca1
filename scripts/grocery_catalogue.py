#!/usr/bin/env python3
"""grocery_catalogue.py: writes a `visor import` catalogue of the Grocery Store data set's
81 products (one per class, with its iconic image and description) as CSV or JSON Lines.
The demo loader (`make demo`) and the import tests use it; the data set is read where it
is (image paths are absolute), never copied.

Usage: grocery_catalogue.py DATASET_DIR OUT.csv|OUT.jsonl
"""
import csv
import json
import os
import sys


def products(dataset):
    with open(os.path.join(dataset, "classes.csv"), newline="") as f:
        rows = list(csv.reader(f))
    for row in rows[1:]:
        name, class_id, coarse, _, image, description = row[:6]
        group = image.strip("/").split("/")[1]  # Fruit, Packages or Vegetables
        text = ""
        path = os.path.join(dataset, description.lstrip("/"))
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                text = " ".join(f.read().split())[:4000]
        yield {
            "sku": f"GROCERY-{int(class_id):03d}",
            "name": name.replace("-", " "),
            "description": text,
            "category": coarse,
            "labels": {"group": group, "class": name},
            "price": round(0.5 + (int(class_id) * 37 % 40) / 10, 2),
            "currency": "EUR",
            "image": os.path.join(os.path.abspath(dataset), image.lstrip("/")),
        }


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    dataset, out = sys.argv[1], sys.argv[2]
    items = list(products(dataset))
    with open(out, "w", newline="") as f:
        if out.endswith(".jsonl"):
            for item in items:
                item = dict(item)
                item["images"] = [item.pop("image")]
                f.write(json.dumps(item) + "\n")
        else:
            writer = csv.writer(f)
            writer.writerow(["sku", "name", "description", "category", "labels", "price",
                             "currency", "image"])
            for item in items:
                labels = ";".join(f"{k}={v}" for k, v in item["labels"].items())
                writer.writerow([item["sku"], item["name"], item["description"], item["category"],
                                 labels, item["price"], item["currency"], item["image"]])
    print(f"{len(items)} products written to {out}")


if __name__ == "__main__":
    main()
