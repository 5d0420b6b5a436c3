#!/usr/bin/env bash
# The API contract checked by tools we did not write, against a running
# `footnote serve` with the demo documents: a Python client generated from its
# OpenAPI document by openapi-python-client asks, searches, reads and adds
# documents and posts feedback (tests/api/client_test.py); then Schemathesis
# generates requests from the same document, without and with the admin token
# (tests/api/schemathesis.toml).
# Uses target/release/footnote (built when missing). Reports: target/api/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh

tools="$ROOT/.cache/api-tools"
if [ ! -x "$tools/bin/schemathesis" ] || [ ! -x "$tools/bin/openapi-python-client" ]; then
  echo "api-contract: installing schemathesis and openapi-python-client from PyPI into $tools" >&2
  python3 -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check schemathesis==4.32.5 openapi-python-client==0.29.1
fi
[ -x target/release/footnote ] || cargo build --release --locked --workspace

out="$ROOT/target/api"
rm -rf "$out" && mkdir -p "$out"
token="contract-$(date +%s%N)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
FOOTNOTE_ADMIN_TOKEN="$token" ./target/release/footnote serve --addr "127.0.0.1:$port" --data-dir "$out/data" \
  --rate-limit 0 >"$out/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do
  curl -sf "$base/readyz" >/dev/null && break
  kill -0 $server 2>/dev/null || { cat "$out/serve.log" >&2; exit 1; }
  sleep 0.5
done
curl -sf "$base/api/v1/openapi.json" -o "$out/openapi.json"

echo "api-contract: the generated Python client" >&2
# openapi-python-client 0.29.1 types a body that may be JSON or a multipart
# form (POST /api/v1/documents) as `... | Unset` without importing `Unset` (a
# `set` inside a Jinja loop does not outlive it). Its documented remedy is a
# custom template: its own endpoint module template, importing `Unset` too.
templates="$out/templates"
mkdir -p "$templates"
sed 's/^from \.\.\.types import Response, UNSET$/from ...types import Response, UNSET, Unset/' \
  "$("$tools/bin/python" -c 'import openapi_python_client, os; print(os.path.dirname(openapi_python_client.__file__))')/templates/endpoint_module.py.jinja" \
  >"$templates/endpoint_module.py.jinja"
grep -q 'UNSET, Unset$' "$templates/endpoint_module.py.jinja" || { echo "api-contract: the generator's template changed; see the comment above" >&2; exit 1; }
"$tools/bin/openapi-python-client" generate --path "$out/openapi.json" --output-path "$out/client" --overwrite \
  --custom-template-path "$templates" >"$out/generate.log" 2>&1 || { cat "$out/generate.log" >&2; exit 1; }
PYTHONPATH="$out/client" FOOTNOTE_URL="$base" FOOTNOTE_TOKEN="$token" "$tools/bin/python" tests/api/client_test.py

# Then Schemathesis, whose generated writes change the index (after the
# client, which asks about the demo documents).
status=0
for run in anonymous admin; do
  headers=()
  [ "$run" = admin ] && headers=(-H "Authorization: Bearer $token")
  echo "api-contract: schemathesis, $run" >&2
  (cd tests/api && "$tools/bin/schemathesis" run "$base/api/v1/openapi.json" --url "$base" --checks all \
    --phases examples,coverage,fuzzing --no-color "${headers[@]}" \
    --report junit --report-junit-path "$out/schemathesis-$run.xml") >"$out/schemathesis-$run.txt" 2>&1 || status=1
  sed -n '/SUMMARY/,$p' "$out/schemathesis-$run.txt" >&2
done
[ $status = 0 ] || { echo "api-contract: schemathesis found failures; see $out/schemathesis-*.txt" >&2; exit 1; }
