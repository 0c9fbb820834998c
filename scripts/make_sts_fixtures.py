#!/usr/bin/env python3
"""Fixtures for the STS evaluation, with scipy and sentence-transformers as the oracles.

Run from anywhere:  .venv/bin/python scripts/make_sts_fixtures.py

Needs what scripts/setup installs (.venv, models/, data/stsb). Offline, single-threaded,
seeded: running it twice gives the same files.

Writes
  fixtures/metrics/correlation_cases.json  scipy pearsonr / spearmanr on seeded cases, many with
                                           ties (spearman uses average ranks)
  fixtures/sts/evaluator_scores.json       EmbeddingSimilarityEvaluator(cosine) on STS-B dev and
                                           test for every real model: {model: {split: {pairs,
                                           pearson_cosine, spearman_cosine}}}
  fixtures/sts/ranking_scores.json         InformationRetrievalEvaluator(cosine) on the STS-B dev
                                           and test pairs with score >= 4.0 as (anchor, positive):
                                           each anchor a query, the distinct positives the corpus,
                                           its positive the one relevant document: {model: {split:
                                           {pairs, candidates, accuracy@1, mrr@10, recall@10}}}
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import json
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.stats import pearsonr, spearmanr

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures"
MODELS = ["all-MiniLM-L6-v2", "all-mpnet-base-v2"]


def read_stsb(path: Path):
    """STS-B as the Rust reader reads it: tab-separated, no quoting, fields 4..6 are score,
    sentence1, sentence2, extra trailing fields ignored."""
    s1, s2, scores = [], [], []
    for line in path.read_text(encoding="utf-8").split("\n"):
        if not line.strip():
            continue
        f = line.split("\t")
        scores.append(float(f[4]))
        s1.append(f[5])
        s2.append(f[6])
    return s1, s2, scores


def correlation_cases():
    rng = np.random.default_rng(20241201)
    cases = []
    for i in range(12):
        n = int(rng.integers(3, 60))
        x = rng.normal(size=n)
        y = 0.6 * x + rng.normal(size=n)
        if i % 3 == 0:  # STS-like gold scores: 0..5 in steps of 0.2 (many ties)
            x = np.round(rng.uniform(0, 5, size=n) * 5) / 5
        if i % 4 == 1:  # ties on both sides
            x, y = np.round(x), np.round(y * 2) / 2
        if np.std(x) == 0 or np.std(y) == 0:
            continue
        cases.append(dict(x=x.tolist(), y=y.tolist(), pearson=float(pearsonr(x, y)[0]),
                          spearman=float(spearmanr(x, y)[0])))
    # A hand-made case with heavy ties.
    x = [1, 2, 2, 2, 3, 3, 4, 5, 5, 5]
    y = [0.1, 0.3, 0.3, 0.2, 0.5, 0.4, 0.9, 0.7, 0.7, 0.8]
    cases.append(dict(x=x, y=y, pearson=float(pearsonr(x, y)[0]), spearman=float(spearmanr(x, y)[0])))
    return cases


def ranking_scores(model, split):
    """What `smtl eval --kind pair-ranking` reports, from sentence-transformers' IR evaluator."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    s1, s2, gold = read_stsb(ROOT / f"data/stsb/sts-{split}.csv")
    pairs = [(a, b) for a, b, g in zip(s1, s2, gold) if g >= 4.0]
    corpus_ids = {}
    for _, b in pairs:
        corpus_ids.setdefault(b, f"c{len(corpus_ids)}")
    queries = {f"q{i}": a for i, (a, _) in enumerate(pairs)}
    corpus = {cid: text for text, cid in corpus_ids.items()}
    relevant = {f"q{i}": {corpus_ids[b]} for i, (_, b) in enumerate(pairs)}
    ev = InformationRetrievalEvaluator(queries, corpus, relevant, name=split, write_csv=False,
                                       accuracy_at_k=[1], precision_recall_at_k=[10], mrr_at_k=[10])
    m = ev(model)
    return {"pairs": len(pairs), "candidates": len(corpus), "accuracy@1": float(m[f"{split}_cosine_accuracy@1"]),
            "mrr@10": float(m[f"{split}_cosine_mrr@10"]), "recall@10": float(m[f"{split}_cosine_recall@10"])}


def main() -> int:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for p in [ROOT / "data/stsb/sts-test.csv"] + [ROOT / "models" / m / "model.safetensors" for m in MODELS]:
        if not p.exists():
            print(f"missing {p}: run scripts/setup first", file=sys.stderr)
            return 1
    cases = correlation_cases()
    (OUT / "metrics" / "correlation_cases.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n", encoding="utf-8")
    print(f"  metrics/correlation_cases.json: {len(cases)} cases")
    scores, ranking = {}, {}
    for name in MODELS:
        model = SentenceTransformer(str(ROOT / "models" / name), device="cpu")
        scores[name] = {}
        for split in ("dev", "test"):
            s1, s2, gold = read_stsb(ROOT / f"data/stsb/sts-{split}.csv")
            ev = EmbeddingSimilarityEvaluator(s1, s2, gold, name=f"sts-{split}")
            m = ev(model)
            entry = dict(pairs=len(gold), pearson_cosine=float(m[f"sts-{split}_pearson_cosine"]),
                         spearman_cosine=float(m[f"sts-{split}_spearman_cosine"]))
            scores[name][split] = entry
            print(f"  {name} sts-{split}: {entry}")
            ranking.setdefault(name, {})[split] = ranking_scores(model, split)
            print(f"  {name} sts-{split} ranking (score >= 4): {ranking[name][split]}")
    (OUT / "sts").mkdir(exist_ok=True)
    (OUT / "sts" / "evaluator_scores.json").write_text(json.dumps(scores, indent=1) + "\n", encoding="utf-8")
    (OUT / "sts" / "ranking_scores.json").write_text(json.dumps(ranking, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
