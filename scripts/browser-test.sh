#!/usr/bin/env bash
# The chat page in headless Chromium (Debian's package, never a downloaded
# browser), driven by playwright-core: tests/browser/chat.test.mjs.
# Screenshots go to target/browser/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh

if [ ! -x /usr/bin/chromium ]; then
  echo "browser-test: installing chromium from Debian" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! command -v node >/dev/null; then
  echo "browser-test: installing node.js from Debian" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
[ -x target/release/footnote ] || cargo build --release --locked --bin footnote
node tests/browser/chat.test.mjs
