#!/usr/bin/env bash
# Installs everything Visor needs on Debian 12, from nothing: Debian packages with
# apt-get, ONNX Runtime (library + C headers) from the npm registry into .deps/, and the
# web app's npm packages. Idempotent: quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# libhnswlib-dev and libfaiss-dev are only for bench/vector (built without them when missing).
APT_PACKAGES=(
  build-essential cmake pkg-config clang-format git curl ca-certificates
  libvips-dev libmicrohttpd-dev libhttp-parser-dev libjansson-dev libsqlite3-dev libcurl4-openssl-dev
  libcmocka-dev libhiredis-dev libpq-dev libhnswlib-dev libfaiss-dev libxml2-dev libssl-dev libcsv-dev libvips-tools
  liblapack-dev libblas-dev
  clang libclang-rt-14-dev chromium nodejs npm python3
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# nodejs/npm may come from elsewhere (e.g. a newer Node install): accept working commands.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for pkg in "${missing[@]}"; do [[ "$pkg" == nodejs || "$pkg" == npm ]] || filtered+=("$pkg"); done
  missing=("${filtered[@]}")
fi
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ONNX Runtime: a system install (pkg-config) wins; otherwise the official Linux x64 build
# and the C headers from the npm registry, unpacked into .deps/onnxruntime.
ORT_PACKAGE="com.github.asus4.onnxruntime@0.4.9"
ORT_DIR=".deps/onnxruntime"
if ! pkg-config --exists libonnxruntime 2>/dev/null && [ ! -f "$ORT_DIR/lib/libonnxruntime.so.1" ]; then
  echo "setup: fetching ONNX Runtime ($ORT_PACKAGE) from the npm registry"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$ORT_PACKAGE" >/dev/null)
  headers="package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64_x86_64-simulator/onnxruntime.framework/Headers"
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/Plugins/Linux/x64 "$headers"
  rm -rf "$ORT_DIR" && mkdir -p "$ORT_DIR/lib" "$ORT_DIR/include"
  cp "$tmp/$headers"/*.h "$ORT_DIR/include/"
  cp "$tmp/package/Plugins/Linux/x64/libonnxruntime.so" "$ORT_DIR/lib/libonnxruntime.so.1"
  ln -sf libonnxruntime.so.1 "$ORT_DIR/lib/libonnxruntime.so"
  cp "$tmp/package/Plugins/Linux/x64/libonnxruntime_providers_shared.so" "$ORT_DIR/lib/"
fi

# Test and web npm packages (lock file pinned), only when their folders exist.
for dir in web tests/tools; do
  if [ -f "$dir/package.json" ]; then
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
      echo "setup: npm install in $dir"
      (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
  fi
done
echo "setup: done"
