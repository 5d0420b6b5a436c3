"""What these cores can do, for docs/benchmarks.md: single-precision matrix
multiplication throughput (numpy/OpenBLAS sgemm), and ONNX Runtime driven directly
on squad2-dev's passages at several batch sizes, fp32 and int8, without fastembed,
and on a short question one at a time and in batches on one thread.

    pip install numpy tokenizers          # and scripts/setup.sh for ONNX Runtime
    footnote --data-dir /tmp/sq ingest ../shared/benchmarks/squad2-dev/docs
    footnote --data-dir /tmp/sq passages --json > /tmp/sq-passages.json
    python3 scripts/ceiling.py /tmp/sq-passages.json
"""
import json
import os
import sys
import time

import numpy as np

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(root, ".cache", "onnxruntime"))
import onnxruntime as ort  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402

model_dir = os.environ.get("FOOTNOTE_MODEL_DIR", os.path.join(root, "..", "shared", "models", "all-MiniLM-L6-v2"))


def sgemm(m, k, n, repeats=10):
    a = np.random.rand(m, k).astype(np.float32)
    b = np.random.rand(k, n).astype(np.float32)
    a @ b
    best = 0.0
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        best = max(best, 2 * m * k * n / (time.perf_counter() - started) / 1e9)
    return best


print(f"sgemm 2048x2048x2048: {sgemm(2048, 2048, 2048, 5):.0f} GFLOP/s")
print(f"sgemm 5120x384x1536 (a feed-forward layer, 32 passages of 160): {sgemm(5120, 384, 1536):.0f} GFLOP/s")

passages = [p["text"] for p in json.load(open(sys.argv[1]))["passages"]]
tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
tokenizer.enable_truncation(256)
tokenizer.no_padding()
encodings = sorted(tokenizer.encode_batch(passages), key=lambda e: len(e.ids))
word_pieces = sum(len(e.ids) for e in encodings)


def batches(size):
    for i in range(0, len(encodings), size):
        batch = encodings[i : i + size]
        width = max(len(e.ids) for e in batch)
        ids = np.zeros((len(batch), width), np.int64)
        mask = np.zeros_like(ids)
        for j, e in enumerate(batch):
            ids[j, : len(e.ids)] = e.ids
            mask[j, : len(e.ids)] = 1
        yield {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


for onnx_file in ["model.onnx", "model-int8.onnx", "model-int8-per-channel.onnx"]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = os.cpu_count()
    session = ort.InferenceSession(os.path.join(model_dir, onnx_file), options)
    for size in [8, 16, 32, 64]:
        inputs = list(batches(size))
        session.run(None, inputs[0])
        started = time.perf_counter()
        for batch in inputs:
            session.run(None, batch)
        elapsed = time.perf_counter() - started
        print(f"{onnx_file} batch {size}: {word_pieces / elapsed:.0f} word pieces/s ({elapsed:.1f} s)")

# Questions, as a server embeds them (crates/index/src/embedder/sessions.rs): the
# example question (11 word pieces) on one single-threaded session, one at a time
# and in batches.
question = tokenizer.encode("why did Tokayev call early elections?")
options = ort.SessionOptions()
options.intra_op_num_threads = 1
session = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), options)
for size in [1, 2, 4, 8, 16]:
    ids = np.array([question.ids] * size, np.int64)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    for _ in range(20):
        session.run(None, feed)
    runs = 200
    started = time.perf_counter()
    for _ in range(runs):
        session.run(None, feed)
    per_run = (time.perf_counter() - started) / runs * 1e3
    print(f"model.onnx, one thread, {size} question(s) of {len(question.ids)} word pieces per run: "
          f"{per_run:.1f} ms per run, {per_run / size:.2f} ms per question")
