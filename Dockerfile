# Container build of sentence-mtl that reuses the project's own set-up script,
# so that it cannot drift from a local checkout:
#
#   docker build -t sentence-mtl .
#   docker run --rm sentence-mtl                      # embeds the demo sentences
#   docker run --rm -v "$PWD:/io" sentence-mtl \
#       cargo run --release --example embed_sentences -- --input /io/in.txt --output /io/out.npy
#
# NOTE: written and checked by reading only: there was no Docker engine on the
# machine where it was written, so it has never been built. The build needs
# network access (PyPI for torch/sentence-transformers/model/data packages via
# scripts/setup, crates.io for cargo). The image is large: the PyPI torch
# wheel that provides libtorch comes with its CUDA libraries (~5 GB).

# Exactly the toolchain rust-toolchain.toml pins; scripts/setup checks for a
# toolchain named 1.95.0, which is what this image installs.
FROM rust:1.95.0-bookworm

# The image's rustup profile is minimal; rust-toolchain.toml lists these.
RUN rustup component add rustfmt clippy

# Python for the venv that holds the PyTorch wheel (libtorch) and the
# sentence-transformers oracle. g++ (for torch-sys) is in the base image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv python3-pip \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1
WORKDIR /app

# Set-up first, from the script alone, so that the multi-GB Python layer stays
# cached while the Rust sources change. It creates .venv (torch, libtorch
# link), models/all-MiniLM-L6-v2 (sha256-checked) and data/.
COPY rust-toolchain.toml ./
COPY scripts/ scripts/
RUN ./scripts/setup

# The sources (.dockerignore keeps target/, .venv/, models/ and data/ out, so
# the set-up's results above are not overwritten). .cargo/config.toml points
# LIBTORCH at .venv/libtorch and puts it on the binaries' rpath. The second
# scripts/setup is the idempotent no-op check a local checkout runs too.
COPY . .
RUN ./scripts/setup && cargo build --release --example embed_sentences --bin smtl

# `docker run IMAGE` embeds the sample sentences; `docker run IMAGE
# target/release/smtl embed --model ... --input ... --output ...` runs the
# command (mount the data folder). The server:
#   docker run -p 8080:8080 IMAGE target/release/smtl serve --model models/all-MiniLM-L6-v2 --host 0.0.0.0
# (deploy/serve-deployment.yaml runs replicas of it on Kubernetes).
EXPOSE 8080
CMD ["cargo", "run", "--release", "--example", "embed_sentences"]
