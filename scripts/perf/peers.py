"""The inference engines a user would pick instead of this encoder, run on the same sentences.

Two steps, from the repository root, after scripts/setup and
`.venv/bin/pip install -r scripts/perf/requirements-peers.txt -c scripts/requirements-oracle.txt`:

  .venv/bin/python scripts/perf/peers.py prepare [--model models/all-MiniLM-L6-v2]
      Exports the sentence-transformers model (Transformer + Pooling + Normalize, the whole
      module pipeline, so every engine returns the final embedding) to target/peers/NAME/:
        model.onnx       fp32 ONNX (opset 17, eager attention so that ONNX Runtime's graph
                         optimizer can fuse it)
        model_int8.onnx  ONNX Runtime dynamic quantization, int8 weights per channel
                         (quantize_dynamic, per_channel=True; what sentence-transformers'
                         export_dynamic_quantized_onnx_model does)
        ov_fp32.xml      OpenVINO IR converted from model.onnx, fp32 weights
        ov_int8.xml      OpenVINO IR quantized by NNCF (nncf.quantize, ModelType.TRANSFORMER),
                         calibrated on 300 STS Benchmark train sentences, never on the
                         benchmark corpus (TREC + VADER sentences)

  .venv/bin/python scripts/perf/peers.py encode --engine ENGINE --input FILE [--model DIR]
          [--batch-size 32] [--threads 2] [--warmup 64] [--save OUT.npy]
      One timed encode of every line of FILE, batched as sentence-transformers batches
      (sorted by length, longest first), tokenization and batching included in the time as
      in SentenceTransformer.encode; prints one JSON line like scripts/bench-vs-python's
      Python side. ENGINE: ort-fp32, ort-int8, ov-fp32 (INFERENCE_PRECISION_HINT f32),
      ov-bf16 (hint bf16), ov-int8 (NNCF model, OpenVINO's default precision for the rest).

scripts/bench-vs-python --peers ort-fp32,ort-int8,ov-fp32,ov-bf16,ov-int8 runs these in its
alternating rounds next to this encoder and sentence-transformers and reports cosines to
sentence-transformers fp32. None of this is part of the Rust build, the tests or CI.
"""

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent.parent
ENGINES = ["ort-fp32", "ort-int8", "ov-fp32", "ov-bf16", "ov-int8"]
CALIBRATION_SENTENCES = 300


def peer_dir(model):
    return ROOT / "target" / "peers" / Path(model).resolve().name


def max_seq_length(model):
    config = Path(model) / "sentence_bert_config.json"
    return json.loads(config.read_text())["max_seq_length"] if config.exists() else 512


def calibration_sentences():
    """STS Benchmark train sentences (field 5 of data/stsb/sts-train.csv): not in the corpus."""
    rows = (ROOT / "data/stsb/sts-train.csv").read_text(encoding="utf-8").splitlines()
    sentences = [r.split("\t")[5] for r in rows if r.count("\t") >= 6]
    step = max(1, len(sentences) // CALIBRATION_SENTENCES)
    return sentences[::step][:CALIBRATION_SENTENCES]


def prepare(args):
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    out = peer_dir(args.model)
    out.mkdir(parents=True, exist_ok=True)
    st = SentenceTransformer(args.model, device="cpu", model_kwargs={"attn_implementation": "eager"})
    st.eval()

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self, st):
            super().__init__()
            self.st = st

        def forward(self, input_ids, attention_mask):
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
            return self.st(features)["sentence_embedding"]

    tok = st.tokenizer
    example = tok(["a first example sentence", "and a second, longer one to pad"], padding=True,
                  return_tensors="pt")
    onnx_path = out / "model.onnx"
    with torch.no_grad():
        torch.onnx.export(
            SentenceEmbedding(st),
            (example["input_ids"], example["attention_mask"]),
            str(onnx_path),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    print(f"peers: wrote {onnx_path}", file=sys.stderr)

    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(onnx_path), str(out / "model_int8.onnx"), weight_type=QuantType.QInt8,
                     per_channel=True)
    print(f"peers: wrote {out / 'model_int8.onnx'}", file=sys.stderr)

    import nncf
    import openvino as ov

    ov_model = ov.convert_model(str(onnx_path))
    ov.save_model(ov_model, str(out / "ov_fp32.xml"), compress_to_fp16=False)
    length = max_seq_length(args.model)
    items = []
    for s in calibration_sentences():
        enc = tok([s], truncation=True, max_length=length, return_tensors="np")
        items.append({"input_ids": enc["input_ids"].astype(np.int64),
                      "attention_mask": enc["attention_mask"].astype(np.int64)})
    quantized = nncf.quantize(ov_model, nncf.Dataset(items), model_type=nncf.ModelType.TRANSFORMER,
                              subset_size=len(items))
    ov.save_model(quantized, str(out / "ov_int8.xml"), compress_to_fp16=False)
    print(f"peers: wrote {out / 'ov_fp32.xml'} and {out / 'ov_int8.xml'} "
          f"(NNCF, {len(items)} STS-B train sentences)", file=sys.stderr)
    (out / "prepare.json").write_text(json.dumps({
        "model": str(Path(args.model).resolve()),
        "calibration": f"{len(items)} sentences of data/stsb/sts-train.csv",
        "opset": 17,
    }, indent=2))


def make_runner(engine, out, threads):
    """A function from (input_ids, attention_mask) int64 arrays to embeddings, and its settings."""
    if engine.startswith("ort-"):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        path = out / ("model.onnx" if engine == "ort-fp32" else "model_int8.onnx")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def run(ids, mask):
            return session.run(None, {"input_ids": ids, "attention_mask": mask})[0]

        return run, {"onnxruntime": ort.__version__, "file": path.name}
    import openvino as ov

    core = ov.Core()
    config = {"INFERENCE_NUM_THREADS": threads, "NUM_STREAMS": 1, "PERFORMANCE_HINT": "LATENCY"}
    if engine == "ov-fp32":
        config["INFERENCE_PRECISION_HINT"] = "f32"
    elif engine == "ov-bf16":
        config["INFERENCE_PRECISION_HINT"] = "bf16"
    path = out / ("ov_int8.xml" if engine == "ov-int8" else "ov_fp32.xml")
    compiled = core.compile_model(str(path), "CPU", config)
    request = compiled.create_infer_request()

    def run(ids, mask):
        return request.infer({"input_ids": ids, "attention_mask": mask})[compiled.output(0)].copy()

    settings = {"openvino": ov.__version__, "file": path.name,
                "inference_precision": str(compiled.get_property("INFERENCE_PRECISION_HINT"))}
    return run, settings


def encode(args):
    import numpy as np
    from transformers import AutoTokenizer

    out = peer_dir(args.model)
    if not (out / "prepare.json").exists():
        sys.exit(f"peers: {out} is not prepared (run: peers.py prepare --model {args.model})")
    with open(args.input, encoding="utf-8") as f:
        sentences = f.read().split("\n")
    if sentences and sentences[-1] == "":
        sentences.pop()
    tok = AutoTokenizer.from_pretrained(args.model)
    length = max_seq_length(args.model)
    run, settings = make_runner(args.engine, out, args.threads)

    def embed(xs):
        # sentence-transformers' order: longest first, then back to the input order.
        order = np.argsort([-len(s) for s in xs], kind="stable")
        rows = [None] * len(xs)
        for start in range(0, len(xs), args.batch_size):
            idx = order[start:start + args.batch_size]
            enc = tok([xs[i] for i in idx], padding=True, truncation=True, max_length=length,
                      return_tensors="np")
            emb = run(enc["input_ids"].astype(np.int64), enc["attention_mask"].astype(np.int64))
            for i, e in zip(idx, emb):
                rows[i] = e
        return np.stack(rows).astype(np.float32)

    if args.warmup:
        embed(sentences[:args.warmup])
    start = time.perf_counter()
    emb = embed(sentences)
    seconds = time.perf_counter() - start
    if args.save:
        np.save(args.save, emb)
    print(json.dumps({
        "impl": args.engine,
        "sentences": len(sentences),
        "seconds": seconds,
        "sentences_per_s": len(sentences) / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "dim": int(emb.shape[1]),
        **settings,
    }))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--model", default=str(ROOT / "models/all-MiniLM-L6-v2"))
    e = sub.add_parser("encode")
    e.add_argument("--engine", choices=ENGINES, required=True)
    e.add_argument("--input", required=True)
    e.add_argument("--model", default=str(ROOT / "models/all-MiniLM-L6-v2"))
    e.add_argument("--batch-size", type=int, default=32)
    e.add_argument("--threads", type=int, default=2)
    e.add_argument("--warmup", type=int, default=64)
    e.add_argument("--save")
    args = ap.parse_args()
    prepare(args) if args.command == "prepare" else encode(args)


if __name__ == "__main__":
    main()
