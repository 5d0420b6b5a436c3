#!/usr/bin/env bash
# Set up, build and serve: the web chat page and the API on http://127.0.0.1:8080/.
# An empty index is filled with the demo documents in seeds/ on the first start.
# Extra arguments go to `footnote serve` (e.g. --addr 0.0.0.0:8080).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
source scripts/env.sh
exec ./target/release/footnote serve "$@"
