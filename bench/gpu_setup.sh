#!/usr/bin/env bash
# Build .gpu-site/ (git-ignored): Keras 3 + keras-hub and the few packages a JAX + PyTorch GPU machine without
# TensorFlow lacks, so that `PYTHONPATH=.gpu-site:. KERAS_BACKEND=jax python bench/gpu_bert.py` runs there offline.
#
#   bash bench/gpu_setup.sh            # needs pip + the package index here, not on the GPU machine
#
# What goes in (everything else keras/keras-hub import is already on that image: numpy, jax, ml-dtypes, h5py,
# absl-py, rich, packaging, regex, tokenizers, sentencepiece):
#   keras 3.15.1, keras-hub 0.32.0, namex, typing-extensions (optree needs it; pure Python, --no-deps)
#   optree (compiled): the CPython 3.12 manylinux wheel (the GPU image's python3) AND this machine's Python's,
#     merged into one folder: each extension module is named by its ABI tag (_C.cpython-312-...so), so one
#     .gpu-site serves both, which lets the same folder be smoke-tested here on the CPU first.
# tensorflow / tensorflow-text / kagglehub are NOT needed: keras-hub imports them only when present.
# DEVICE_PYTHON=3.13 bash bench/gpu_setup.sh builds for another device Python.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-$(test -x .venv/bin/python && echo .venv/bin/python || echo python3)}
PIP="$PY -m pip"
DEVICE_PYTHON=${DEVICE_PYTHON:-3.12}
OPTREE=${OPTREE_VERSION:-0.20.0}
SITE=.gpu-site
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

$PIP install -q --disable-pip-version-check --no-compile --no-deps --target "$TMP/site" \
    keras==3.15.1 keras-hub==0.32.0 namex==0.1.0 "typing-extensions>=4.12"
# optree for the GPU machine's Python ...
$PIP install -q --disable-pip-version-check --no-compile --no-deps --only-binary=:all: --target "$TMP/optree-dev" \
    --python-version "$DEVICE_PYTHON" --implementation cp --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 "optree==$OPTREE"
cp -r "$TMP/optree-dev/"* "$TMP/site/"
# ... and the extension module for this machine's Python, for the local smoke test.
$PIP install -q --disable-pip-version-check --no-compile --no-deps --only-binary=:all: --target "$TMP/optree-here" \
    "optree==$OPTREE"
cp "$TMP"/optree-here/optree/_C*.so "$TMP/site/optree/"
# trim what is never imported at run time
find "$TMP/site" -depth -type d \( -name __pycache__ -o -name tests -o -name testing \) -path "*keras*" \
    -exec rm -rf {} + 2>/dev/null || true
find "$TMP/site/keras" "$TMP/site/keras_hub" -name "*_test.py" -delete
rm -rf "$SITE"
mv "$TMP/site" "$SITE"
ls "$SITE"/optree/_C*.so
du -sh "$SITE"
echo "built $SITE for CPython $DEVICE_PYTHON (+ $($PY -c 'import sys; print("%d.%d" % sys.version_info[:2])') here)"
