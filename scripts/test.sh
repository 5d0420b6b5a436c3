#!/usr/bin/env bash
# The test suite: unit tests, and integration tests with the real model, the real
# Qdrant Edge engine and the seed documents.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
source scripts/env.sh
if [ -z "${FOOTNOTE_MODEL_DIR:-}" ]; then
  echo "test: set FOOTNOTE_MODEL_DIR to a model directory (tests never download)" >&2
  exit 1
fi
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --locked --workspace --no-fail-fast
else
  cargo test --release --locked --workspace --no-fail-fast
fi
scripts/browser-test.sh
