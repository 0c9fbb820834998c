#!/usr/bin/env python3
"""The plain PyTorch reference of the default multi-task run (scripts/bench-training-step):
all-MiniLM-L6-v2 from Hugging Face transformers with a TREC-6 sentence head (mean pooling,
dropout, linear) and a WNUT-16 token head (dropout, linear on the first wordpiece of each
word), trained as `smtl train --config examples/configs/trec_wnut.toml` trains: batch 32,
proportional task sampling, cross-entropy, AdamW (backbone lr 5e-5, heads 1e-3, weight decay
0.01), 10 % linear warm-up, gradient clip 1.0, zero_grad(set_to_none=True), on the CPU.

Prints one JSON object with the wall time of every optimizer step (tokenization, forward,
backward, clip, AdamW, zero-grad), as `smtl train` records its steps in metrics.jsonl, and of
each phase of every step (phase_seconds: batch + forward + loss, backward, update), the
phases that `cargo run --release --example train_step_breakdown` times for this trainer.

    .venv/bin/python scripts/torch_train_steps.py --steps 60 [--threads 2] [--precision fp32|bf16]
        [--optimizer plain|fused] [--max-length 128]

--precision bf16 runs forward and loss under torch.autocast("cpu", dtype=torch.bfloat16)
(fp32 master weights and optimizer state). --optimizer plain is torch.optim.AdamW's default
(the single-tensor loop on the CPU); fused is AdamW(fused=True), the Hugging Face Trainer's.
"""

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

ROOT = Path(__file__).resolve().parent.parent
TREC_TRAIN_LINES = 5452  # smtl_data::TREC_TRAIN_LINES: the file ends with TREC's train_5500


def read_trec(path):
    lines = [l.strip() for l in open(path, encoding="utf-8", errors="replace")]
    while lines and not lines[-1]:
        lines.pop()
    out = []
    for i, line in enumerate(lines[-TREC_TRAIN_LINES:]):
        label, text = line.split(None, 1)
        if i % 10 not in (8, 9):  # smtl's split: i % 10 == 8 dev, 9 test
            out.append((text, label.split(":")[0]))
    return out


def read_conll(path):
    sentences, words, tags = [], [], []
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if not line.strip():
            if words:
                sentences.append((words, tags))
            words, tags = [], []
            continue
        word, tag = line.split("\t")[:2]
        words.append(word)
        tags.append(tag)
    if words:
        sentences.append((words, tags))
    return [s for i, s in enumerate(sentences) if i % 10 not in (8, 9)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--optimizer", choices=["plain", "fused"], default="plain")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    encoder = AutoModel.from_pretrained(args.model)
    encoder.train()
    hidden = encoder.config.hidden_size

    trec = read_trec(ROOT / "data" / "trec_question_labels.txt")
    wnut = read_conll(ROOT / "data" / "wnut16_ner.txt")
    trec_labels = sorted({l for _, l in trec})
    wnut_tags = sorted({t for _, tags in wnut for t in tags})
    heads = torch.nn.ModuleDict(
        {"trec": torch.nn.Linear(hidden, len(trec_labels)), "wnut16": torch.nn.Linear(hidden, len(wnut_tags))}
    )
    dropout = torch.nn.Dropout(0.1)

    optimizer = torch.optim.AdamW(
        [
            {"params": list(encoder.parameters()), "lr": 5e-5, "weight_decay": 0.01},
            {"params": list(heads.parameters()), "lr": 1e-3, "weight_decay": 0.01},
        ],
        fused=args.optimizer == "fused",
    )
    sizes = {"trec": len(trec), "wnut16": len(wnut)}
    batches = {t: -(-n // args.batch_size) for t, n in sizes.items()}
    total = sum(batches.values())
    warmup = round(0.1 * total * 3)  # the default run's 3 epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / max(1, warmup) if s < warmup else max(0.0, (3 * total - s) / max(1, 3 * total - warmup))
    )
    orders = {t: rng.sample(range(n), n) for t, n in sizes.items()}
    cursors = {t: 0 for t in sizes}

    def next_batch(task):
        order, start = orders[task], cursors[task]
        if start >= len(order):
            rng.shuffle(order)
            start = 0
        cursors[task] = start + args.batch_size
        return order[start : start + args.batch_size]

    def trec_loss(idx):
        texts = [trec[i][0] for i in idx]
        gold = torch.tensor([trec_labels.index(trec[i][1]) for i in idx])
        enc = tokenizer(texts, padding=True, truncation=True, max_length=args.max_length, return_tensors="pt")
        states = encoder(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.cross_entropy(heads["trec"](dropout(pooled)), gold)

    def wnut_loss(idx):
        words = [wnut[i][0] for i in idx]
        enc = tokenizer(
            words, is_split_into_words=True, padding=True, truncation=True, max_length=args.max_length,
            return_tensors="pt",
        )
        gold = torch.full(enc["input_ids"].shape, -100, dtype=torch.long)
        for row, i in enumerate(idx):
            seen = set()
            for pos, word in enumerate(enc.word_ids(row)):
                if word is not None and word not in seen:
                    seen.add(word)
                    gold[row, pos] = wnut_tags.index(wnut[i][1][word])
        states = encoder(**enc).last_hidden_state
        logits = heads["wnut16"](dropout(states))
        return torch.nn.functional.cross_entropy(logits.view(-1, len(wnut_tags)), gold.view(-1), ignore_index=-100)

    losses = {"trec": trec_loss, "wnut16": wnut_loss}
    tasks = list(sizes)
    weights = [batches[t] for t in tasks]
    step_seconds = []
    # CPU work is synchronous, so the clock between phases times each phase.
    phases = {"batch_forward_and_loss": [], "backward": [], "clip_adamw_zero_grad": []}
    for _ in range(args.steps):
        started = time.perf_counter()
        task = rng.choices(tasks, weights)[0]
        idx = next_batch(task)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            loss = losses[task](idx)
        forward_done = time.perf_counter()
        loss.float().backward()
        backward_done = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(list(encoder.parameters()) + list(heads.parameters()), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            raise SystemExit(f"non-finite loss {loss.item()}")
        done = time.perf_counter()
        step_seconds.append(done - started)
        phases["batch_forward_and_loss"].append(forward_done - started)
        phases["backward"].append(backward_done - forward_done)
        phases["clip_adamw_zero_grad"].append(done - backward_done)
    print(
        json.dumps(
            {
                "threads": torch.get_num_threads(),
                "precision": args.precision,
                "optimizer": args.optimizer,
                "torch": torch.__version__,
                "step_seconds": step_seconds,
                "phase_seconds": phases,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
