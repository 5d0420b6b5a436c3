#!/usr/bin/env python3
"""Writes the int8 all-MiniLM-L6-v2 that footnote chooses on CPUs with VNNI.

    quantize-minilm.py MODEL_ONNX OUT_ONNX

ONNX Runtime's dynamic quantisation with one scale per output channel of each
weight matrix. The shared folder's model-int8.onnx has one scale per matrix and
costs fused MRR@10 0.006 on squad2-dev; per channel costs 0.002 at about the
same speed (docs/benchmarks.md, "Ingest throughput"). Exits non-zero when the
result is far from the f32 model on a test phrase.
"""

import sys

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic

# "hello world" in all-MiniLM-L6-v2's word pieces: [CLS] hello world [SEP].
IDS = np.array([[101, 7592, 2088, 102]], dtype=np.int64)


def embed(path):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    inputs = {"input_ids": IDS, "attention_mask": np.ones_like(IDS), "token_type_ids": np.zeros_like(IDS)}
    names = {i.name for i in session.get_inputs()}
    hidden = session.run(None, {k: v for k, v in inputs.items() if k in names})[0]
    pooled = hidden.mean(axis=1)[0]
    return pooled / np.linalg.norm(pooled)


def main():
    source, out = sys.argv[1], sys.argv[2]
    quantize_dynamic(source, out, weight_type=QuantType.QInt8, per_channel=True)
    similarity = float(embed(source) @ embed(out))
    if similarity < 0.95:
        sys.exit(f"quantize-minilm: {out} is too far from {source} (cosine {similarity:.4f})")
    print(f"quantize-minilm: wrote {out} (cosine to f32 on 'hello world': {similarity:.4f})", file=sys.stderr)


if __name__ == "__main__":
    main()
