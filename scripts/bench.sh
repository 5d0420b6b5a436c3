#!/usr/bin/env bash
# Measures what docs/benchmarks.md reports: ingest throughput (fp32 and int8, seeds
# and squad2-dev), retrieval quality on squad2-dev per ranking, search latency,
# and the cold start of `footnote search`. Run on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh >/dev/null
source scripts/env.sh
[ -x /usr/bin/time ] && command -v bc >/dev/null || apt-get install -y -q time bc >/dev/null  # GNU time (peak memory), bc
FOOTNOTE=./target/release/footnote
SQUAD="${SQUAD:-../shared/benchmarks/squad2-dev}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "## ingest throughput"
for model in model.onnx model-int8.onnx; do
  for docs in seeds "$SQUAD/docs"; do
    rm -rf "$WORK/index"
    echo "### $model, $docs"
    FOOTNOTE_MODEL_FILE=$model $FOOTNOTE --data-dir "$WORK/index" ingest "$docs" | tail -2
  done
done

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
