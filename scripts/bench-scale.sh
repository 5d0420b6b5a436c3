#!/usr/bin/env bash
# Measures footnote at N passages (docs/benchmarks.md, "Scale"):
#
#   scripts/bench-scale.sh N                     # Qdrant Edge in a data directory
#   scripts/bench-scale.sh N --qdrant-url URL    # a Qdrant server (gRPC URL)
#
# It ingests squad2-dev and the seeds into a base index (828 real passages), then
# `footnote-scale build` copies them into a new index and adds derived passages
# up to N (crates/scale explains the derivation) and builds the search structures.
# `footnote-scale search` times the fused hybrid query over 300 squad2-dev
# questions (embedding excluded); then `footnote serve` is started on the index:
# start-up is the time to a ready /readyz, ask p50 is over 50 other questions
# through POST /api/v1/ask (judge on, the default), and rss_mib is the serving
# process's peak resident memory after them. The last line is JSON; on Qdrant
# Edge it adds search_cpu_p50_ms/search_cpu_p99_ms, the search thread's CPU time,
# steadier than the wall clock on a shared host.
#
# FOOTNOTE_BIN names the footnote binary to measure (else the release build);
# BENCH_SCALE_DIR keeps the indexes there instead of a temporary directory.
# With a server on this machine, QDRANT_PID (its process) and QDRANT_STORAGE (its
# storage directory) add the server's side: qdrant_rss_mib (resident after the
# questions), qdrant_peak_rss_mib (indexing included) and qdrant_disk_mib (the
# collection's directory).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
N="${1:?usage: scripts/bench-scale.sh N [--qdrant-url URL]}"
QDRANT_URL=""
[ "${2:-}" = --qdrant-url ] && QDRANT_URL="${3:?--qdrant-url needs a URL}"
FOOTNOTE_SETUP_NO_BUILD=1 scripts/setup.sh >/dev/null
source scripts/env.sh
SQUAD="${SQUAD:-../shared/benchmarks/squad2-dev}"
if [ -n "${FOOTNOTE_BIN:-}" ]; then
  FOOTNOTE="$FOOTNOTE_BIN"
  cargo build -q --release -p footnote-scale
else
  cargo build -q --release -p footnote -p footnote-scale
  FOOTNOTE=./target/release/footnote
fi
SCALE=./target/release/footnote-scale
if [ -n "${BENCH_SCALE_DIR:-}" ]; then
  WORK="$BENCH_SCALE_DIR"; mkdir -p "$WORK"
else
  WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
fi
grep -m1 "model name" /proc/cpuinfo >&2
echo "AVX-512: $(grep -qw avx512f /proc/cpuinfo && echo yes || echo no), VNNI: $(grep -qwE 'avx512_vnni|avx_vnni' /proc/cpuinfo && echo yes || echo no)" >&2

if [ ! -f "$WORK/base/index.json" ]; then
  "$FOOTNOTE" --data-dir "$WORK/base" ingest "$SQUAD/docs" ../shared/seeds >&2
fi
if [ -n "$QDRANT_URL" ]; then
  collection="footnote_scale_$N"
  target=(--qdrant-url "$QDRANT_URL" --collection "$collection")
  serve_target=(--qdrant-url "$QDRANT_URL" --qdrant-collection "$collection")
else
  rm -rf "$WORK/index-$N"
  target=(--data-dir "$WORK/index-$N")
  serve_target=(--data-dir "$WORK/index-$N")
fi
started=$(date +%s.%N)
"$SCALE" build --base "$WORK/base" --passages "$N" "${target[@]}" >&2
build_s=$(echo "$(date +%s.%N) - $started" | bc)
search=$("$SCALE" search --questions "$SQUAD/qa.jsonl" --count 300 "${target[@]}")
echo "search: $search" >&2
# After the first open, which cuts Qdrant Edge's write-ahead log (crates/index, edge.rs).
disk_mib=null
[ -z "$QDRANT_URL" ] && disk_mib=$(du -sm "$WORK/index-$N" | cut -f1)

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
started=$(date +%s.%N)
"$FOOTNOTE" "${serve_target[@]}" serve --addr "127.0.0.1:$port" --rate-limit 0 \
  --database-url "sqlite://$WORK/conversations-$N.db" >"$WORK/serve-$N.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; [ -n "${BENCH_SCALE_DIR:-}" ] || rm -rf "$WORK"' EXIT
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
  kill -0 $server 2>/dev/null || { cat "$WORK/serve-$N.log" >&2; exit 1; }
  sleep 0.05
done
startup_s=$(echo "$(date +%s.%N) - $started" | bc)
times=()
while IFS= read -r question; do
  body=$(python3 -c 'import json,sys; print(json.dumps({"question": sys.argv[1]}))' "$question")
  times+=("$(curl -sf -o /dev/null -w '%{time_total}' -H 'content-type: application/json' -d "$body" "http://127.0.0.1:$port/api/v1/ask")")
done < <(sed -n 301,350p "$SQUAD/qa.jsonl" | python3 -c 'import json,sys; [print(json.loads(l)["question"]) for l in sys.stdin]')
rss_kib=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
kill $server; wait $server 2>/dev/null || true
qdrant="{}"
if [ -n "$QDRANT_URL" ] && [ -n "${QDRANT_PID:-}" ]; then
  qdrant=$(awk -v disk="$([ -n "${QDRANT_STORAGE:-}" ] && du -sm "$QDRANT_STORAGE/collections/$collection" | cut -f1)" \
    '/VmRSS/ {rss=$2} /VmHWM/ {peak=$2} END {printf "{\"qdrant_rss_mib\": %d, \"qdrant_peak_rss_mib\": %d, \"qdrant_disk_mib\": %s}", rss/1024, peak/1024, disk == "" ? "null" : disk}' \
    "/proc/$QDRANT_PID/status")
fi
python3 - "$search" "$build_s" "$disk_mib" "$rss_kib" "$startup_s" "$qdrant" "${times[@]}" <<'PY'
import json, statistics, sys
search = json.loads(sys.argv[1])
asks = sorted(float(t) * 1000 for t in sys.argv[7:])
print(json.dumps({
    "passages": search["passages"],
    "build_s": round(float(sys.argv[2]), 1),
    "disk_mib": None if sys.argv[3] == "null" else int(sys.argv[3]),
    "rss_mib": round(int(sys.argv[4]) / 1024),
    "startup_s": round(float(sys.argv[5]), 2),
    "search_p50_ms": search["search_p50_ms"],
    "search_p99_ms": search["search_p99_ms"],
    # Edge only: the search thread's CPU time, which leaves out a busy host's steal.
    **{k: search[k] for k in ("search_cpu_p50_ms", "search_cpu_p99_ms") if k in search},
    "ask_p50_ms": round(statistics.median(asks), 1),
    **json.loads(sys.argv[6]),
}))
PY
