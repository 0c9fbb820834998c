"""The server a Python user would stand up instead of `smtl serve`:
sentence-transformers behind FastAPI + uvicorn, one worker, one request ->
one `model.encode` call. The route takes TEI's `/embed` body so that one
load client measures both servers (scripts/bench-serving).

    .venv/bin/python scripts/st_fastapi_server.py MODEL_DIR PORT
"""

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from pydantic import BaseModel  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

model = SentenceTransformer(sys.argv[1], device="cpu")
app = FastAPI()


class EmbedRequest(BaseModel):
    inputs: str | list[str]
    normalize: bool = True


@app.post("/embed")
def embed(request: EmbedRequest) -> list[list[float]]:
    # A plain `def`: FastAPI runs it on its thread pool, as its docs advise
    # for blocking work.
    texts = [request.inputs] if isinstance(request.inputs, str) else request.inputs
    return model.encode(texts, batch_size=32, normalize_embeddings=request.normalize).tolist()


@app.get("/health")
def health() -> dict:
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), workers=1, log_level="warning")
