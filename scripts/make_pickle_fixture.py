"""Writes fixtures/pickle/tiny_mean_pytorch_model.bin: the tiny random test
model's weights (fixtures/tiny/mean) as a PyTorch `torch.save` state dict,
the format of Hugging Face's `pytorch_model.bin`. The Rust tests check that
such a file is refused by default and, when allowed, gives the same
embeddings as sentence-transformers gave for the safetensors original.

Run with the project venv: .venv/bin/python scripts/make_pickle_fixture.py
"""
from pathlib import Path

import torch
from safetensors.torch import load_file

root = Path(__file__).resolve().parent.parent
state = load_file(root / "fixtures/tiny/mean/model.safetensors")
out = root / "fixtures/pickle/tiny_mean_pytorch_model.bin"
out.parent.mkdir(parents=True, exist_ok=True)
torch.save(state, out)
print(f"{out}: {len(state)} tensors")
