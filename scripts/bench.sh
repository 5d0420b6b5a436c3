#!/usr/bin/env bash
# Measures what docs/benchmarks.md reports: ingest throughput (fp32 and int8, seeds
# and squad2-dev), retrieval quality on squad2-dev per ranking, search latency,
# the cold start of `footnote search`, and serving load. Run on an otherwise idle
# machine. `scripts/bench.sh load` measures serving load only;
# `scripts/bench.sh compare OLD_BINARY` runs the 16-client load three times on
# OLD_BINARY and on this build, alternating, to tell a change from the host's drift.
# `scripts/bench.sh judge` measures the answer judge: quality and ask latency on
# squad2-dev's reporting half (odd lines; the even lines are for tuning) and in
# full, on the seed sets, with the judge on and off, then serving load with a
# different question in every request.
# `scripts/bench.sh llm` measures generated answers: the seed sets answered by
# SmolLM2-135M-Instruct through llama.cpp's llama-server (scripts/llm-server.sh
# builds it once per machine), beside the extractive answers.
# `scripts/bench.sh ingest` measures ingest throughput only, against the Python peer.
# `scripts/bench.sh memory [OLD_BINARY]` measures a server's memory on the seeds
# with each embedding model file: at start-up, under questions, and after two
# uploads of squad2-dev's articles (on OLD_BINARY too when given, alternating).
# `scripts/bench.sh formats` compares PDF text extractors on tests/documents
# (scripts/pdf-extractors) and times `footnote ingest` of each format there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh >/dev/null
source scripts/env.sh
[ -x /usr/bin/time ] && command -v bc >/dev/null || apt-get install -y -q time bc >/dev/null  # GNU time (peak memory), bc
FOOTNOTE=./target/release/footnote
SQUAD="${SQUAD:-../shared/benchmarks/squad2-dev}"
WORK="$(mktemp -d)"
# A server still running (the run was interrupted) stops before its data goes:
# deleted under it, Qdrant Edge panics on its next flush.
trap '[ -n "${pid:-}" ] && stop_server 2>/dev/null; rm -rf "$WORK"' EXIT

MODE="${1:-all}"
if [ "$MODE" = compare ]; then
  BASELINE="${2:?usage: scripts/bench.sh compare OLD_BINARY}"
  [ -x "$BASELINE" ] || { echo "bench: $BASELINE is not an executable footnote binary" >&2; exit 1; }
fi
if [ "$MODE" = memory ] && [ -n "${2:-}" ]; then
  BASELINE="$2"
  [ -x "$BASELINE" ] || { echo "bench: $BASELINE is not an executable footnote binary" >&2; exit 1; }
fi
cpu_line() {
  grep -E "model name|^flags" /proc/cpuinfo | sort -u | sed -E 's/^flags.*/AVX-512: '"$(grep -qw avx512f /proc/cpuinfo && echo yes || echo no)"', VNNI: '"$(grep -qwE 'avx512_vnni|avx_vnni' /proc/cpuinfo && echo yes || echo no)"'/'
}
# Ingest throughput of each model file, and of the Python peer (fastembed-py and
# qdrant-client in local mode, scripts/peer-ingest.py) with the same files, one
# after the other in this one run. The per-channel int8 file is what
# `--model-file auto` takes on a CPU with VNNI.
ingest_comparison() {
  echo "## ingest throughput (squad2-dev, then seeds)"
  local peer="$ROOT/.cache/peer"
  [ -d "$peer/fastembed" ] || python3 -m pip install --quiet --disable-pip-version-check --target "$peer" \
    fastembed==0.9.1 qdrant-client==1.20.0
  for model in model.onnx model-int8-per-channel.onnx model-int8.onnx; do
    [ -f "$FOOTNOTE_MODEL_DIR/$model" ] || continue
    for docs in "$SQUAD/docs" seeds; do
      rm -rf "$WORK/index"
      echo "### footnote, $model, $docs"
      FOOTNOTE_MODEL_FILE=$model $FOOTNOTE --data-dir "$WORK/index" ingest "$docs" | tail -2
    done
    # The peer reads model.onnx from its directory: one holding this file under that name.
    rm -rf "$WORK/peer-model" && mkdir "$WORK/peer-model"
    for file in "$FOOTNOTE_MODEL_DIR"/*.json "$FOOTNOTE_MODEL_DIR"/vocab.txt; do ln -s "$(readlink -f "$file")" "$WORK/peer-model/"; done
    ln -s "$(readlink -f "$FOOTNOTE_MODEL_DIR/$model")" "$WORK/peer-model/model.onnx"
    echo "### peer (fastembed-py 0.9.1, qdrant-client 1.20.0 local), $model, $SQUAD/docs"
    PYTHONPATH="$peer" python3 scripts/peer-ingest.py "$SQUAD/docs" "$WORK/peer-model" 2>/dev/null
  done
}
if [ "$MODE" = ingest ]; then
  cpu_line
  ingest_comparison
  exit 0
fi
# Starts `SERVER --data-dir DATA serve` on a free port with no stored answers,
# with any further serve flags, and sets `pid` and `base` (its address) once
# it serves.
start_server() {
  local server=$1 data=$2
  shift 2
  rm -f "$data"/conversations.db* "$WORK/serve.out"
  "$server" --data-dir "$data" serve --addr 127.0.0.1:0 --rate-limit 0 --no-seed "$@" > "$WORK/serve.out" &
  pid=$!
  until grep -q "serving on" "$WORK/serve.out" 2>/dev/null; do sleep 0.2; done
  base="$(sed -n 's/^footnote is serving on \(.*\)\/$/\1/p' "$WORK/serve.out")"
}
stop_server() {
  kill -TERM "$pid" && wait "$pid"
  pid=
}
# The started server's memory in MiB (/proc/<pid>/status): VmRSS now, VmHWM
# the peak so far.
server_memory() {
  awk '/VmRSS/ {r = $2} /VmHWM/ {h = $2} END {printf "%d (peak %d)", r / 1024, h / 1024}' "/proc/$pid/status"
}
# The seeds' varied questions from 16 clients for SECONDS.
ask_for() {
  QUESTIONS=eval/seeds-dev.jsonl wrk -t2 -c16 -d"$1"s --timeout 10s -s scripts/ask-varied.lua "$base/api/v1/ask" > /dev/null
}
# The files in one POST /api/v1/documents, each as a `file` part.
upload() {
  curl -sf -o /dev/null -H "Authorization: Bearer $FOOTNOTE_ADMIN_TOKEN" "${@/#/-Ffile=@}" "$base/api/v1/documents"
}
# One server's memory at ready, after 20 s of questions, after uploading
# squad2-dev's 16 articles through the API, and after uploading them again
# under other names and 10 s more of questions.
memory_of() {
  local server=$1 data=$2 label=$3
  rm -rf "$WORK/run" && cp -r "$data" "$WORK/run"
  start_server "$server" "$WORK/run"
  sleep 1
  local ready asked uploaded again started took
  ready="$(server_memory)"
  ask_for 20
  asked="$(server_memory)"
  started=$(date +%s.%N)
  upload "$SQUAD"/docs/*
  took=$(echo "$(date +%s.%N) - $started" | bc)
  uploaded="$(server_memory)"
  upload "$WORK"/copies/*
  ask_for 10
  again="$(server_memory)"
  stop_server
  printf '| %s | %s | %s | %s (%.1f s) | %s |\n' "$label" "$ready" "$asked" "$uploaded" "$took" "$again"
}
if [ "$MODE" = memory ]; then
  export FOOTNOTE_ADMIN_TOKEN=bench  # the uploads' bearer token
  cpu_line
  command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
  mkdir "$WORK/copies"
  for file in "$SQUAD"/docs/*; do cp "$file" "$WORK/copies/copy-$(basename "$file")"; done
  for model in model-int8-per-channel.onnx model.onnx; do
    [ -f "$FOOTNOTE_MODEL_DIR/$model" ] && $FOOTNOTE --data-dir "$WORK/seeds-$model" ingest --model-file "$model" seeds >/dev/null
  done
  echo "| server, model file | ready | after questions | after an upload (its time) | after a second upload and questions |"
  echo "|---|---:|---:|---:|---:|"
  for run in 1 2; do
    for model in model-int8-per-channel.onnx model.onnx; do
      [ -d "$WORK/seeds-$model" ] || continue
      [ -n "${BASELINE:-}" ] && memory_of "$BASELINE" "$WORK/seeds-$model" "$BASELINE, $model, run $run"
      memory_of "$FOOTNOTE" "$WORK/seeds-$model" "this build, $model, run $run"
    done
  done
  exit 0
fi
if [ "$MODE" = llm ]; then
  cpu_line
  eval "$(scripts/llm-server.sh | sed 's/^/export /')"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$FOOTNOTE_TEST_LLAMA_SERVER" -m "$FOOTNOTE_TEST_LLM_MODEL" --host 127.0.0.1 --port "$port" --ctx-size 4096 --parallel 1 >"$WORK/llama.log" 2>&1 &
  llama=$!
  trap 'kill $llama 2>/dev/null; rm -rf "$WORK"' EXIT
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.5; done
  for set in eval/seeds-dev.jsonl eval/seeds-test.jsonl; do
    echo "### extractive (judge on): $set"
    $FOOTNOTE eval --docs seeds --qa "$set" 2>/dev/null | sed -n 1,14p
    echo "### generative, SmolLM2-135M-Instruct Q4_1 on llama-server: $set"
    $FOOTNOTE eval --docs seeds --qa "$set" --llm-url "http://127.0.0.1:$port/v1" --llm-model smollm2 --llm-timeout 120 2>/dev/null | sed -n 1,16p
  done
  exit 0
fi
if [ "$MODE" = formats ]; then
  cpu_line
  echo "### PDF text extractors, best of 20 passes per file"
  CARGO_TARGET_DIR="${PDF_EXTRACTORS_TARGET:-target/pdf-extractors}" cargo run -q --release \
    --manifest-path scripts/pdf-extractors/Cargo.toml -- tests/documents/expected-sentences.tsv tests/documents/*.pdf
  echo "### footnote ingest, one file into an empty index (fp32 model)"
  echo "| file | last page cited | passages | time | of which embedding |"
  echo "|---|---:|---:|---:|---:|"
  for file in tests/documents/long-report.pdf tests/documents/two-columns.pdf tests/documents/pypdf-pdflatex-outline.pdf tests/documents/ferries.docx tests/documents/orchard.odt; do
    rm -rf "$WORK/formats"
    $FOOTNOTE --data-dir "$WORK/formats" ingest --json "$file" > "$WORK/report.json"
    pages=$($FOOTNOTE --data-dir "$WORK/formats" passages --json | python3 -c 'import json,sys; p=[x.get("page") for x in json.load(sys.stdin)["passages"]]; print(max(p) if p and p[0] else "-")')
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("| %s | %s | %d | %.2f s | %.2f s |" % (sys.argv[2], sys.argv[3], r["passages_written"], r["elapsed"], r["embedding"]))' "$WORK/report.json" "$(basename "$file")" "$pages"
  done
  exit 0
fi
if [ "$MODE" = judge ]; then
  cpu_line
  $FOOTNOTE --data-dir "$WORK/squad" ingest "$SQUAD/docs" >/dev/null
  awk 'NR % 2 == 1' "$SQUAD/qa.jsonl" > "$WORK/qa-report.jsonl"
  awk 'NR % 2 == 1' "$SQUAD/unanswerable.jsonl" > "$WORK/unanswerable-report.jsonl"
  for judge in on off; do
    for set in "$WORK/qa-report.jsonl" "$WORK/unanswerable-report.jsonl" "$SQUAD/qa.jsonl" "$SQUAD/unanswerable.jsonl"; do
      echo "### judge $judge: squad2-dev $(basename "$set")"
      $FOOTNOTE --data-dir "$WORK/squad" eval --qa "$set" --judge "$judge" | sed -n 2,12p
    done
    for set in eval/seeds-dev.jsonl eval/seeds-test.jsonl; do
      echo "### judge $judge: $set"
      $FOOTNOTE eval --docs seeds --qa "$set" --judge "$judge" 2>/dev/null | sed -n 1,12p
    done
  done
  echo "### abstention curve, squad2-dev reporting half (answerable and unanswerable together)"
  cat "$WORK/qa-report.jsonl" "$WORK/unanswerable-report.jsonl" > "$WORK/report.jsonl"
  $FOOTNOTE --data-dir "$WORK/squad" eval --qa "$WORK/report.jsonl" --json > "$WORK/report.json"
  python3 scripts/fit-abstention.py curve "$WORK/report.json" "$WORK/qa-report.jsonl"
  $FOOTNOTE --data-dir "$WORK/squad" ingest seeds >/dev/null
fi
if [ "$MODE" = load ] || [ "$MODE" = compare ] || [ "$MODE" = judge ]; then
  $FOOTNOTE --data-dir "$WORK/seeds" ingest seeds >/dev/null
else
ingest_comparison

echo "## squad2-dev (fp32 index): answers through the ask path, then retrieval per ranking"
rm -rf "$WORK/squad" && $FOOTNOTE --data-dir "$WORK/squad" ingest "$SQUAD/docs" >/dev/null
start=$(date +%s.%N)
$FOOTNOTE --data-dir "$WORK/squad" eval --qa "$SQUAD/qa.jsonl" \
  --ranking dbsf --ranking dense --ranking bm25 --ranking rrf --ranking rrf:2 --ranking rrf:60:2:1 | head -20
echo "eval wall time: $(echo "$(date +%s.%N) - $start" | bc) s (includes the six extra retrieval passes)"
start=$(date +%s.%N)
$FOOTNOTE --data-dir "$WORK/squad" eval --qa "$SQUAD/qa.jsonl" >/dev/null
echo "eval of all questions, ask path only: $(echo "$(date +%s.%N) - $start" | bc) s"
echo "### squad2-dev unanswerable questions (hard; abstention only)"
$FOOTNOTE --data-dir "$WORK/squad" eval --qa "$SQUAD/unanswerable.jsonl" | sed -n 1,12p

echo "## seeds: answers, abstention and warm ask latency, then retrieval per ranking"
rm -rf "$WORK/seeds" && $FOOTNOTE --data-dir "$WORK/seeds" ingest seeds >/dev/null
$FOOTNOTE --data-dir "$WORK/seeds" eval --qa eval/seeds-dev.jsonl --ranking dbsf --ranking dense --ranking bm25 | head -19

echo "## cold start: footnote search, 10 runs (process start, model load, index open, one query)"
for i in 1 2 3 4 5 6 7 8 9 10; do
  /usr/bin/time -f "%e s, %M KiB max RSS" $FOOTNOTE --data-dir "$WORK/seeds" search "why did Tokayev call early elections?" -k 3 >/dev/null
done 2>&1 | sort -n
fi

echo "## load: POST /api/v1/ask (the example question), wrk, 16 connections for 30 s"
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
load() {
  local data=$1 label=$2
  shift 2
  start_server "${SERVER:-$FOOTNOTE}" "$data" "$@"
  local url="$base/api/v1/ask"
  if [ "$MODE" != compare ]; then
    echo "### $label, 1 connection, 10 s"
    wrk -t1 -c1 -d10s -s scripts/ask.lua "$url" | grep -E "Requests/sec|latency p|errors"
  fi
  echo "### $label, 16 connections, 30 s"
  wrk -t2 -c16 -d30s -s scripts/ask.lua "$url" | grep -E "Requests/sec|latency p|errors"
  grep VmHWM "/proc/$pid/status"
  stop_server
}
if [ "$MODE" = judge ]; then
  echo "## load: POST /api/v1/ask, a different squad2-dev question in every request, 16 connections for 30 s"
  for judge in on off; do
    start_server "$FOOTNOTE" "$WORK/squad" --judge "$judge"
    url="$base/api/v1/ask"
    echo "### seeds + squad2-dev (828 passages), judge $judge"
    QUESTIONS="$SQUAD/qa.jsonl" wrk -t2 -c16 -d30s --timeout 10s -s scripts/ask-varied.lua "$url" | grep -E "questions|Requests/sec|latency p|errors"
    grep VmHWM "/proc/$pid/status"
    stop_server
  done
  exit 0
fi
if [ "$MODE" = compare ]; then
  for run in 1 2 3; do
    SERVER="$BASELINE" load "$WORK/seeds" "seeds, baseline $BASELINE, run $run"
    load "$WORK/seeds" "seeds, this build, run $run"
  done
  exit 0
fi
for run in 1 2 3; do
  load "$WORK/seeds" "seeds (123 passages), run $run"
done
load "$WORK/seeds" "seeds (123 passages), --embedding-sessions 0 (one session on both cores)" --embedding-sessions 0
$FOOTNOTE --data-dir "$WORK/seeds" ingest "$SQUAD/docs" >/dev/null
load "$WORK/seeds" "seeds + squad2-dev (828 passages)"
