#!/usr/bin/env python3
"""sentence-transformers' own fine-tuning of a model on STS Benchmark: the reference for smtl train.

The recipe of sentence-transformers' training_stsb example, CoSENT variant: CoSENTLoss (scale 20),
batch 16, 4 epochs, learning rate 2e-5, 10 % linear warm-up then linear decay, AdamW with weight
decay 0.01, gradient clip 1.0 (the Trainer's default), fp32 on the CPU, seed 42. Prints one JSON
object: the test (and dev) spearman_cosine and pearson_cosine of the final model, as
EmbeddingSimilarityEvaluator reports them, and the wall time of the training alone.

Needs `datasets` and `accelerate` in the venv (the Trainer's dependencies; scripts/setup does not
install them):  .venv/bin/pip install datasets accelerate

    .venv/bin/python scripts/st_finetune_stsb.py [--model models/all-MiniLM-L6-v2] [--out runs/st_stsb]
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["WANDB_DISABLED"] = "true"

ROOT = Path(__file__).resolve().parent.parent


def read_stsb(path):
    """sts-*.csv: tab-separated, no quoting; score in field 4, sentences in 5 and 6."""
    s1, s2, scores = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        f = line.split("\t")
        s1.append(f[5])
        s2.append(f[6])
        scores.append(float(f[4]))
    return s1, s2, scores


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    ap.add_argument("--data", default=str(ROOT / "data" / "stsb"))
    ap.add_argument("--out", default=str(ROOT / "runs" / "st_stsb"))
    ap.add_argument("--epochs", type=int, default=4)
    args = ap.parse_args()

    import torch
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    torch.manual_seed(42)
    data = Path(args.data)
    train = read_stsb(data / "sts-train.csv")
    model = SentenceTransformer(args.model, device="cpu")
    dataset = Dataset.from_dict(
        {"sentence1": train[0], "sentence2": train[1], "score": [s / 5.0 for s in train[2]]}
    )
    training_args = SentenceTransformerTrainingArguments(
        output_dir=args.out,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=16,
        learning_rate=2e-5,
        warmup_ratio=0.1,
        lr_scheduler_type="linear",
        weight_decay=0.01,
        max_grad_norm=1.0,
        seed=42,
        save_strategy="no",
        eval_strategy="no",
        logging_steps=100,
        report_to=[],
        use_cpu=True,
        dataloader_drop_last=False,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=training_args,
        train_dataset=dataset,
        loss=losses.CoSENTLoss(model, scale=20.0),
    )
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started

    result = {
        "model": args.model,
        "epochs": args.epochs,
        "threads": torch.get_num_threads(),
        "train_seconds": seconds,
        "steps": trainer.state.global_step,
    }
    for split in ["dev", "test"]:
        s1, s2, scores = read_stsb(data / f"sts-{split}.csv")
        ev = EmbeddingSimilarityEvaluator(s1, s2, scores, name=split)
        metrics = ev(model)
        result[split] = {
            "pearson_cosine": metrics[f"{split}_pearson_cosine"],
            "spearman_cosine": metrics[f"{split}_spearman_cosine"],
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
