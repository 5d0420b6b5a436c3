#!/usr/bin/env python3
"""The Python peer footnote's ingest is compared with (docs/benchmarks.md,
"Ingest throughput"): fastembed-py and qdrant-client in local mode, with the
same model file footnote uses.

    peer-ingest.py DOCS_DIR MODEL_DIR      (MODEL_DIR holds model.onnx and the tokenizer files)

Each text file's paragraphs (split at blank lines) are embedded under the
file's name as footnote embeds a passage under its title, with fastembed's
default batch size and threads, and upserted with their text as payload into a
local Qdrant collection on disk (dense vectors only: the peer computes no BM25
vectors, which makes it a little faster than footnote, which does). Prints one
line of JSON: passages, seconds (wall, from the first read to the last write),
embedding_seconds.
"""

import json
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

from fastembed import TextEmbedding
from qdrant_client import QdrantClient, models


def main():
    docs, model_dir = Path(sys.argv[1]), sys.argv[2]
    model = TextEmbedding(model_name="sentence-transformers/all-MiniLM-L6-v2", specific_model_path=model_dir)
    store = tempfile.mkdtemp()
    try:
        client = QdrantClient(path=store)
        client.create_collection(
            "peer", vectors_config=models.VectorParams(size=384, distance=models.Distance.COSINE)
        )
        started = time.perf_counter()
        texts, payloads = [], []
        for path in sorted(docs.rglob("*.txt")):
            for paragraph in path.read_text(encoding="utf-8").split("\n\n"):
                paragraph = " ".join(paragraph.split())
                if paragraph:
                    texts.append(f"{path.stem}\n\n{paragraph}")
                    payloads.append({"doc_id": path.name, "text": paragraph})
        embedding_started = time.perf_counter()
        vectors = list(model.embed(texts))
        embedding = time.perf_counter() - embedding_started
        for start in range(0, len(texts), 256):
            client.upsert(
                "peer",
                points=[
                    models.PointStruct(id=str(uuid.uuid4()), vector=vector.tolist(), payload=payload)
                    for vector, payload in zip(vectors[start : start + 256], payloads[start : start + 256])
                ],
            )
        client.close()
        seconds = time.perf_counter() - started
        print(json.dumps({"passages": len(texts), "seconds": round(seconds, 2), "embedding_seconds": round(embedding, 2)}))
    finally:
        shutil.rmtree(store, ignore_errors=True)


if __name__ == "__main__":
    main()
