#!/usr/bin/env python3
"""Times sentence-transformers' own training steps on STS-B (the recipe of
scripts/st_finetune_stsb.py: CoSENT, batch 16, lr 2e-5, AdamW, clip 1.0, CPU) for the
side-by-side training benchmark scripts/bench-training-vs-python. Prints one JSON object with the
wall time of every optimizer step (forward, backward, clip, AdamW, zero-grad), from the
Trainer's on_step_end callbacks.

    .venv/bin/python scripts/st_train_steps.py --steps 80 [--model models/all-MiniLM-L6-v2]
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
sys.path.insert(0, str(ROOT / "scripts"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    ap.add_argument("--data", default=str(ROOT / "data" / "stsb" / "sts-train.csv"))
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--out", default="/tmp/st_train_steps")
    args = ap.parse_args()

    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.sentence_transformer import losses
    from st_finetune_stsb import read_stsb

    s1, s2, scores = read_stsb(Path(args.data))
    model = SentenceTransformer(args.model, device="cpu")
    dataset = Dataset.from_dict({"sentence1": s1, "sentence2": s2, "score": [s / 5.0 for s in scores]})
    marks = []

    class Clock(TrainerCallback):
        def on_step_begin(self, a, state, control, **kw):
            if not marks:
                marks.append(time.perf_counter())

        def on_step_end(self, a, state, control, **kw):
            marks.append(time.perf_counter())

    targs = SentenceTransformerTrainingArguments(
        output_dir=args.out, max_steps=args.steps, per_device_train_batch_size=16, learning_rate=2e-5,
        warmup_ratio=0.1, lr_scheduler_type="linear", weight_decay=0.01, max_grad_norm=1.0, seed=42,
        save_strategy="no", eval_strategy="no", logging_steps=10_000, report_to=[], use_cpu=True,
        disable_tqdm=True)
    trainer = SentenceTransformerTrainer(model=model, args=targs, train_dataset=dataset,
                                         loss=losses.CoSENTLoss(model, scale=20.0), callbacks=[Clock()])
    trainer.train()
    steps = [b - a for a, b in zip(marks, marks[1:])]
    print(json.dumps({"threads": torch.get_num_threads(), "step_seconds": steps}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
