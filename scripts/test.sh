#!/usr/bin/env bash
# The test suite: unit tests; integration tests with the real model, the real
# Qdrant Edge engine, SQLite and the seed documents (the command line, and the
# HTTP API over real HTTP, the Slack bot against a Slack stand-in, the
# conversation store on SQLite and PostgreSQL, the index store contract on Qdrant
# Edge and, when QDRANT_TEST_URL is set, on a Qdrant server; generated answers
# against a scripted chat-completions server and a real llama-server with
# SmolLM2); then the API contract (Schemathesis, a generated client) and the
# chat page in headless Chromium. compose.yaml and the Dockerfile are checked first.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
FOOTNOTE_SETUP_NO_BUILD=1 scripts/setup.sh
source scripts/env.sh
if [ -z "${FOOTNOTE_MODEL_DIR:-}" ]; then
  echo "test: no embedding model: scripts/setup.sh should have written one into .cache/all-MiniLM-L6-v2; or set FOOTNOTE_MODEL_DIR" >&2
  exit 1
fi
# The quality bars and expected answers of the tests were set with the f32 model;
# `--model-file auto` would take the int8 one on a CPU with VNNI. The tests of
# that choice (crates/server/tests/cli.rs) unset this.
export FOOTNOTE_MODEL_FILE=model.onnx
# compose.yaml and the Dockerfile, which no Docker engine here can run.
scripts/check-deploy.sh
# The conversation store is tested on PostgreSQL too: Debian's server on loopback.
if [ -z "${FOOTNOTE_TEST_POSTGRES_URL:-}" ]; then
  FOOTNOTE_TEST_POSTGRES_URL="$(scripts/postgres.sh)"
  export FOOTNOTE_TEST_POSTGRES_URL
fi
# The generative answerer is tested against a real llama-server with SmolLM2,
# built once per machine outside the clone (scripts/llm-server.sh).
if [ -z "${FOOTNOTE_TEST_LLAMA_SERVER:-}" ] || [ -z "${FOOTNOTE_TEST_LLM_MODEL:-}" ]; then
  llm="$(scripts/llm-server.sh)"
  export FOOTNOTE_TEST_LLAMA_SERVER="$(echo "$llm" | sed -n 's/^FOOTNOTE_TEST_LLAMA_SERVER=//p')"
  export FOOTNOTE_TEST_LLM_MODEL="$(echo "$llm" | sed -n 's/^FOOTNOTE_TEST_LLM_MODEL=//p')"
fi
case "$FOOTNOTE_TEST_POSTGRES_URL" in
  postgres://*|postgresql://*) ;;
  *) echo "test: FOOTNOTE_TEST_POSTGRES_URL is not a postgres:// URL: '$FOOTNOTE_TEST_POSTGRES_URL'" >&2; exit 1 ;;
esac
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --locked --workspace --no-fail-fast
else
  cargo test --release --locked --workspace --no-fail-fast
fi
# The API contract: Schemathesis and a generated client against the binary just built.
scripts/api-contract.sh
scripts/browser-test.sh
