#!/usr/bin/env bash
# Set up, index the demo documents and ask the first question a new user asks.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
source scripts/env.sh
./target/release/footnote ingest seeds/
./target/release/footnote ask "why did Tokayev call early elections?"
