#!/usr/bin/env python3
"""Golden fixtures for the encoder families beyond BERT, with sentence-transformers as the oracle.

Run from anywhere:  .venv/bin/python scripts/make_family_fixtures.py [--families-only]

Needs what scripts/setup installs (.venv, models/all-mpnet-base-v2) and the sentences that
scripts/make_fixtures.py wrote (fixtures/minilm/sentences.json, fixtures/tiny/sentences.json).
Offline, single-threaded, seeded: running it twice gives byte-identical files.

Writes
  fixtures/mpnet/sentences.json     the MiniLM fixture sentences + texts past 384 wordpieces
  fixtures/mpnet/embeddings.npy     float32 [n, 768] = SentenceTransformer(models/all-mpnet-base-v2)
                                    .encode(sentences, batch_size=32)
  fixtures/mpnet/token_ids.json     token ids per sentence (no padding), as sentence-transformers
  fixtures/families/<name>/...      a randomly initialised tiny model of each family (roberta,
                                    xlm-roberta, mpnet, distilbert, distilbert_sinusoidal) in full
                                    sentence-transformers layout + expected.npy (= encode of
                                    fixtures/tiny/sentences.json) + token_ids.json
  fixtures/families/manifest.json   per model: family, dims, max_seq_length, pad id
"""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import json
import math
import random
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import (  # noqa: E402  (shared helpers; importing runs nothing)
    OUT,
    SEED,
    TINY_HIDDEN,
    check_nondegenerate,
    long_text,
    randomize_,
    raw_tokenizer_ids,
    st_token_ids,
    train_vocab,
    write_json,
    write_npy,
)

ROOT = Path(__file__).resolve().parent.parent
MPNET_DIR = ROOT / "models" / "all-mpnet-base-v2"
TINY_MAX_SEQ = 24


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------------------
# Real all-mpnet-base-v2
# ----------------------------------------------------------------------------------------


def make_mpnet(notes: dict) -> None:
    from sentence_transformers import SentenceTransformer

    sentences = read_json(OUT / "minilm" / "sentences.json")
    rng = random.Random(SEED + 12)
    # Texts past MPNet's 384-wordpiece limit (the MiniLM set tops out near 256-300).
    sentences = sentences + [long_text(rng, n) for n in (330, 420, 600, 900)]
    model = SentenceTransformer(str(MPNET_DIR), device="cpu")
    model.eval()
    assert model.max_seq_length == 384, model.max_seq_length
    emb = model.encode(sentences, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
    n = len(sentences)
    assert emb.shape == (n, 768) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    ids = st_token_ids(model, sentences)
    raw = raw_tokenizer_ids(MPNET_DIR / "tokenizer.json", sentences, 384, lowercase_first=False)
    assert raw == ids, "tokenizer.json (no padding, truncation 384) disagrees with sentence-transformers"
    over = sum(1 for s in sentences if len(model.tokenizer(s, truncation=False)["input_ids"]) > 384)
    assert over >= 3, over
    emb_b1 = model.encode(sentences, batch_size=1, convert_to_numpy=True, show_progress_bar=False)
    alone = float(np.abs(emb_b1 - emb).max())
    print(f"  mpnet: {n} sentences, {over} past 384 wordpieces, max |diff| batch 1 vs 32: {alone:.3g}")
    assert alone < 1e-5
    out = OUT / "mpnet"
    write_json(out / "sentences.json", sentences)
    write_npy(out / "embeddings.npy", emb)
    write_json(out / "token_ids.json", ids, indent=None)
    notes["mpnet"] = dict(n=n, over_384=over, batch1_vs_32=alone)


# ----------------------------------------------------------------------------------------
# Tiny random models of each family
# ----------------------------------------------------------------------------------------

ROBERTA_SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # ids 0..3; <mask> goes last


def wordpiece_tokenizer(vocab: dict, specials: list, mask: str):
    """A WordPiece tokenizer over the shared tiny vocabulary with RoBERTa-style special tokens
    (<s> 0, <pad> 1, </s> 2, <unk> 3, ..., <mask> last) and RoBERTa's post-processor, which is
    what MPNet's real tokenizer.json is."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    pieces = [t for t in vocab if not (t.startswith("[") and t.endswith("]"))]
    v = {t: i for i, t in enumerate(specials + pieces + [mask])}
    tok = Tokenizer(models.WordPiece(v, unk_token="<unk>", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    tok.decoder = decoders.WordPiece()
    return tok, len(v)


def unigram_tokenizer(vocab: dict):
    """A SentencePiece-style Unigram tokenizer (as XLM-R's): the shared vocabulary's pieces as
    ▁-prefixed word starts and bare continuations, log-rank scores, Metaspace pre-tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    pieces, seen = [], set()
    for t in vocab:
        if t.startswith("[") and t.endswith("]"):
            continue
        p = t[2:] if t.startswith("##") else "\u2581" + t
        if p not in seen:
            seen.add(p)
            pieces.append(p)
    entries = [(s, 0.0) for s in ROBERTA_SPECIALS]
    entries += [(p, -math.log(rank + 2.0)) for rank, p in enumerate(pieces)]
    entries.append(("<mask>", 0.0))
    tok = Tokenizer(models.Unigram(entries, unk_id=3, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    return tok, len(entries)


def save_fast_tokenizer(tok, path: Path, bert_style: bool) -> None:
    from transformers import PreTrainedTokenizerFast

    if bert_style:
        names = dict(cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", unk_token="[UNK]", mask_token="[MASK]")
    else:
        names = dict(bos_token="<s>", eos_token="</s>", cls_token="<s>", sep_token="</s>", pad_token="<pad>",
                     unk_token="<unk>", mask_token="<mask>")
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=TINY_MAX_SEQ, **names)
    fast.save_pretrained(str(path))


def bert_wordpiece(vocab: dict):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.BertProcessing(("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"]))
    tok.decoder = decoders.WordPiece()
    return tok, len(vocab)


FAMILIES = [
    # name, model_type, extra config
    ("roberta", "roberta", {}),
    ("xlm-roberta", "xlm-roberta", {}),
    ("mpnet", "mpnet", {}),
    ("distilbert", "distilbert", {}),
    ("distilbert_sinusoidal", "distilbert", {"sinusoidal_pos_embds": True}),
]


def build_family_dir(path: Path, model_type: str, extra: dict, vocab: dict, seed: int) -> dict:
    import transformers as tf

    if model_type == "xlm-roberta":
        tok, vocab_size = unigram_tokenizer(vocab)
    elif model_type == "distilbert":
        tok, vocab_size = bert_wordpiece(vocab)
    else:
        tok, vocab_size = wordpiece_tokenizer(vocab, ROBERTA_SPECIALS, "<mask>")
    common = dict(vocab_size=vocab_size, max_position_embeddings=64 + 2)
    if model_type == "distilbert":
        cfg = tf.DistilBertConfig(dim=TINY_HIDDEN, n_layers=2, n_heads=4, hidden_dim=64, pad_token_id=0,
                                  max_position_embeddings=64, vocab_size=vocab_size, **extra)
        model = tf.DistilBertModel(cfg)
    else:
        shape = dict(hidden_size=TINY_HIDDEN, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                     hidden_act="gelu", pad_token_id=1, bos_token_id=0, eos_token_id=2, **common, **extra)
        if model_type == "mpnet":
            cfg = tf.MPNetConfig(layer_norm_eps=1e-5, relative_attention_num_buckets=32, **shape)
            model = tf.MPNetModel(cfg)
        elif model_type == "roberta":
            cfg = tf.RobertaConfig(layer_norm_eps=1e-5, type_vocab_size=1, **shape)
            model = tf.RobertaModel(cfg)
        else:
            cfg = tf.XLMRobertaConfig(layer_norm_eps=1e-5, type_vocab_size=1, **shape)
            model = tf.XLMRobertaModel(cfg)
    gen = torch.Generator().manual_seed(seed)
    sinusoidal = model.embeddings.position_embeddings.weight.detach().clone()
    randomize_(model, gen)
    if extra.get("sinusoidal_pos_embds"):
        # A fixed table: keep the sinusoids transformers made, do not randomise it.
        with torch.no_grad():
            model.embeddings.position_embeddings.weight.copy_(sinusoidal)
        assert float(sinusoidal[1, 1]) != 0.0, "expected a sinusoidal table"
    model.eval()
    model.save_pretrained(str(path), safe_serialization=True)
    save_fast_tokenizer(tok, path, bert_style=model_type == "distilbert")
    return dict(vocab_size=vocab_size, pad_token_id=cfg.pad_token_id)


def make_families(notes: dict) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Pooling, Transformer

    sentences = read_json(OUT / "tiny" / "sentences.json")
    corpus = read_json(OUT / "minilm" / "sentences.json") + sentences
    vocab = train_vocab(corpus, lowercase=True)
    root = OUT / "families"
    if root.exists():
        shutil.rmtree(root)
    manifest = []
    for index, (name, model_type, extra) in enumerate(FAMILIES):
        seed = SEED + 5000 + 100 * index
        out = root / name
        torch.manual_seed(seed)
        with tempfile.TemporaryDirectory() as tmp:
            hf = Path(tmp) / "hf"
            info = build_family_dir(hf, model_type, extra, vocab, seed)
            st = SentenceTransformer(
                modules=[Transformer(str(hf), max_seq_length=TINY_MAX_SEQ), Pooling(TINY_HIDDEN, pooling_mode="mean")],
                device="cpu",
            )
            st.save(str(out))
        readme = out / "README.md"
        if readme.exists():
            readme.unlink()
        model = SentenceTransformer(str(out), device="cpu")
        model.eval()
        assert type(model[0].auto_model).__name__.lower().startswith(model_type.replace("-", "")), type(
            model[0].auto_model
        )
        emb = model.encode(sentences, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
        ids = st_token_ids(model, sentences)
        raw = raw_tokenizer_ids(out / "tokenizer.json", sentences, model.max_seq_length, lowercase_first=False)
        assert raw == ids, f"{name}: tokenizer.json disagrees with sentence-transformers"
        assert max(len(x) for x in ids) == TINY_MAX_SEQ, name
        emb_b1 = model.encode(sentences, batch_size=1, convert_to_numpy=True, show_progress_bar=False)
        alone = float(np.abs(emb_b1 - emb).max())
        assert alone < 1e-5, (name, alone)
        stats = check_nondegenerate(name, emb, ids)
        write_npy(out / "expected.npy", emb)
        write_json(out / "token_ids.json", ids, indent=None)
        entry = dict(name=name, model_type=model_type, embedding_dim=TINY_HIDDEN, max_seq_length=model.max_seq_length,
                     **info, **extra)
        manifest.append(entry)
        print(f"  families/{name}: {entry} mean_cos={stats['mean_cos']:.3f} batch1_vs_32={alone:.2g}")
    write_json(root / "manifest.json", manifest, indent=1)
    (root / "README.md").write_text(FAMILIES_README, encoding="utf-8")
    notes["families"] = manifest


FAMILIES_README = """# Tiny checkpoints of the encoder families, and the real MPNet's reference

Generated by `scripts/make_family_fixtures.py`; do not edit by hand (deterministic: re-running it
reproduces these files byte for byte). What each family is and the parity measured against these
files: `docs/architectures.md`.

- `families/<name>/`: a randomly initialised tiny model (hidden 32, 2 layers, 4 heads,
  intermediate 64, vocabulary 800, max_seq_length 24, mean pooling) of `roberta`, `xlm-roberta`,
  `mpnet`, `distilbert` and `distilbert_sinusoidal` (fixed sinusoidal positions), made with
  transformers' `*Config`/`*Model` classes and saved with `SentenceTransformer.save`;
  `expected.npy` = `encode(tiny/sentences.json, batch_size=32)` after a reload from disk,
  `token_ids.json` = sentence-transformers' ids (no padding). `manifest.json` lists them.
- `mpnet/`: the real all-mpnet-base-v2 (`models/all-mpnet-base-v2`, installed by scripts/setup):
  `sentences.json` (the MiniLM fixture sentences + 4 texts of 330-900 words),
  `embeddings.npy` float32 `[n, 768]` = `encode(sentences, batch_size=32)`, `token_ids.json`.
"""


def main() -> int:
    for p in (MPNET_DIR / "model.safetensors", OUT / "minilm" / "sentences.json", OUT / "tiny" / "sentences.json"):
        if not p.exists():
            print(f"missing {p}: run scripts/setup (and scripts/make_fixtures.py) first", file=sys.stderr)
            return 1
    torch.set_num_threads(1)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    notes = {}
    if "--families-only" not in sys.argv:  # the MPNet part takes ~2 minutes
        print("all-mpnet-base-v2 ...")
        make_mpnet(notes)
    print("tiny families ...")
    make_families(notes)
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"  fixtures/ total {total / 2**20:.2f} MiB")
    assert total < 12 * 2**20, "fixtures/ must stay small"
    return 0


if __name__ == "__main__":
    sys.exit(main())
