#!/usr/bin/env python3
"""Generate fixtures/trainer/adamw.json: torch.optim.AdamW as the oracle for smtl-trainer's AdamW.

Run from anywhere:  .venv/bin/python scripts/make_adamw_fixture.py

CPU, float32, single-threaded, fixed seed: running it twice gives a byte-identical file.

Three parameter groups, one parameter each:
  "body"   lr 1e-2, weight_decay 0.01   param "w" [2, 3]
  "head"   lr 5e-3, weight_decay 0.1    param "b" [3]     no gradient at step index 2
                                                          (grad None: torch skips it entirely)
  "frozen" lr 1e-2, weight_decay 0.1    param "f" [2]     requires_grad False, never has a grad
Five steps; before step k every group's lr is base_lr * lr_factors[k] (as LambdaLR does), the
gradients are set to grads[k] (None where null), then optimizer.step() (foreach=False, the
single-tensor path; torch's default on CPU). "expected"[k] holds every parameter after step k.
"""

import json
import os

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "trainer", "adamw.json")


def main():
    torch.manual_seed(1234)
    torch.set_num_threads(1)
    betas, eps = (0.9, 0.999), 1e-8
    groups = [
        {"name": "body", "lr": 1e-2, "weight_decay": 0.01, "frozen": False, "param": "w", "shape": [2, 3]},
        {"name": "head", "lr": 5e-3, "weight_decay": 0.1, "frozen": False, "param": "b", "shape": [3]},
        {"name": "frozen", "lr": 1e-2, "weight_decay": 0.1, "frozen": True, "param": "f", "shape": [2]},
    ]
    params = {}
    for g in groups:
        p = torch.randn(g["shape"], dtype=torch.float32)
        p.requires_grad_(not g["frozen"])
        params[g["param"]] = p
    initial = {name: p.detach().flatten().tolist() for name, p in params.items()}

    opt = torch.optim.AdamW(
        [{"params": [params[g["param"]]], "lr": g["lr"], "weight_decay": g["weight_decay"]} for g in groups],
        betas=betas,
        eps=eps,
        foreach=False,
    )
    lr_factors = [0.0, 0.5, 1.0, 0.75, 0.25]  # 0.0: the first step of a warm-up
    steps = []
    for k, factor in enumerate(lr_factors):
        for pg, g in zip(opt.param_groups, groups):
            pg["lr"] = g["lr"] * factor
        grads = {}
        for g in groups:
            p = params[g["param"]]
            if g["frozen"] or (g["param"] == "b" and k == 2):
                p.grad = None
                grads[g["param"]] = None
            else:
                # Scaled so the moments see a range of magnitudes.
                p.grad = torch.randn(g["shape"], dtype=torch.float32) * (0.1 + k)
                grads[g["param"]] = p.grad.flatten().tolist()
        opt.step()
        steps.append({
            "lr_factor": factor,
            "grads": grads,
            "expected": {name: p.detach().flatten().tolist() for name, p in params.items()},
        })

    fixture = {
        "description": "torch.optim.AdamW oracle; see scripts/make_adamw_fixture.py",
        "torch_version": torch.__version__,
        "config": {"beta1": betas[0], "beta2": betas[1], "eps": eps},
        "groups": [
            {k: g[k] for k in ("name", "lr", "weight_decay", "frozen", "param", "shape")} for g in groups
        ],
        "initial": initial,
        "steps": steps,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
