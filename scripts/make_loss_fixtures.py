#!/usr/bin/env python3
"""Loss values and gradients of sentence-transformers' pair losses, for the Rust pair kinds.

Run from anywhere:  .venv/bin/python scripts/make_loss_fixtures.py

Writes fixtures/losses/pair_losses.json: seeded embedding batches (with tied and repeated labels)
and, for CoSENTLoss (scale 20), CosineSimilarityLoss (MSE) and MultipleNegativesRankingLoss
(scale 20, cosine) and MultipleNegativesSymmetricRankingLoss, the loss value and its gradient with respect to both embedding batches.
"""

import json
import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import torch

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses

    model = SentenceTransformer(str(ROOT / "fixtures" / "tiny" / "mean"), device="cpu")
    gen = torch.Generator().manual_seed(20241201)
    cases = []
    for i, (batch, dim) in enumerate([(2, 4), (5, 8), (8, 16), (16, 32)]):
        a = torch.randn(batch, dim, generator=gen, dtype=torch.float64)
        b = a * 0.5 + torch.randn(batch, dim, generator=gen, dtype=torch.float64)
        labels = torch.round(torch.rand(batch, generator=gen, dtype=torch.float64) * 5) / 5
        if i == 2:
            labels[1] = labels[0]  # a tie
        case = dict(a=a.tolist(), b=b.tolist(), labels=labels.tolist())
        for name, loss in [
            ("cosent", losses.CoSENTLoss(model, scale=20.0)),
            ("cosine_mse", losses.CosineSimilarityLoss(model)),
            ("mnrl", losses.MultipleNegativesRankingLoss(model, scale=20.0)),
            ("mnrl_symmetric", losses.MultipleNegativesSymmetricRankingLoss(model, scale=20.0)),
        ]:
            ea, eb = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
            value = loss.compute_loss_from_embeddings([ea, eb], labels.clone())
            value.backward()
            case[name] = dict(loss=float(value), grad_a=ea.grad.tolist(), grad_b=eb.grad.tolist())
        cases.append(case)
    out = ROOT / "fixtures" / "losses" / "pair_losses.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"cases": cases}) + "\n", encoding="utf-8")
    print(f"  {out.relative_to(ROOT)}: {len(cases)} cases")
    return 0


if __name__ == "__main__":
    sys.exit(main())
