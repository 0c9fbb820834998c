#!/usr/bin/env python3
"""Generate the committed golden fixtures under fixtures/ with sentence-transformers as the oracle.

Run from anywhere:  .venv/bin/python scripts/make_fixtures.py

Needs what scripts/setup installs: .venv (torch, sentence-transformers, transformers,
tokenizers, safetensors, numpy), models/all-MiniLM-L6-v2 and data/.  Never touches the
network (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE are forced on).  Deterministic: fixed seeds,
single-threaded torch, every-k-th-line data selection, and an own WordPiece vocabulary builder
(the `tokenizers` trainer breaks ties differently run to run); running it twice gives
byte-identical files.

Writes
  fixtures/minilm/sentences.json     JSON array of strings (no line breaks inside any string)
  fixtures/minilm/embeddings.npy     float32 [n, 384] = SentenceTransformer(...).encode(sentences, batch_size=32)
  fixtures/minilm/token_counts.json  wordpieces per sentence incl. [CLS]/[SEP], after truncation to 256
  fixtures/minilm/token_ids.json     the token ids themselves (unpadded)
  fixtures/tiny/sentences.json       the ~40 sentences every tiny model is checked on
  fixtures/tiny/<name>/...           a randomly initialised tiny BERT in full sentence-transformers
                                     layout (model.save) + expected.npy = model.encode(tiny sentences)
  fixtures/tiny/manifest.json        per tiny model: pooling modes, dims, effective max_seq_length, ...
  fixtures/README.md
"""

import os

# Offline, single-threaded, deterministic: set before torch / tokenizers are imported.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = ROOT / "models" / "all-MiniLM-L6-v2"
DATA_DIR = ROOT / "data"
OUT = ROOT / "fixtures"

SEED = 20240607
MINILM_BATCH = 32
TINY_MAX_SEQ = 24

# Characters that a line-oriented reader could treat as a line break: never inside a sentence.
LINE_BREAKS = set("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def seed_everything(seed: int = SEED) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------
# Sentences
# ----------------------------------------------------------------------------------------

WORDS = (
    "the quick brown fox jumps over lazy dog while researchers evaluate sentence embeddings "
    "on semantic textual similarity benchmarks using transformer encoders trained with "
    "contrastive objectives across many languages domains and tasks including retrieval "
    "clustering classification paraphrase mining question answering summarization "
    "tokenization truncation normalization pooling attention layers heads vectors "
    "unbelievably internationalization antidisestablishmentarianism pneumonoultramicroscopic "
    "électricité Straße naïve café résumé über 2024 3.14159 42 e-mail https://example.org"
).split()


def long_text(rng: random.Random, n_words: int) -> str:
    """A deterministic pseudo-text of n_words words with some punctuation."""
    out = []
    for i in range(n_words):
        w = rng.choice(WORDS)
        if i % 17 == 0:
            w = w.capitalize()
        out.append(w)
        if i % 13 == 12:
            out[-1] += rng.choice([",", ".", ";", "!", "?"])
    return " ".join(out)


def hand_written_sentences() -> list:
    s = [
        # empty and single characters
        "",
        "a",
        "A",
        "?",
        "é",
        "中",
        "ß",
        "0",
        " ",
        "\t",
        "   ",
        # punctuation only
        "...",
        "!!!",
        "?!?!",
        "—",
        "…",
        "«»",
        "()[]{}<>",
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "¿¡",
        "。、！？",
        # ordinary English, case variants
        "Hello, world!",
        "hello world",
        "HELLO WORLD",
        "hElLo WoRlD",
        "This is a simple sentence.",
        "THIS IS A SENTENCE WRITTEN ENTIRELY IN CAPITAL LETTERS TO TEST CASING.",
        "The cat sat on the mat.",
        "A man is eating food.",
        "A man is eating a piece of bread.",
        "The girl is carrying a baby.",
        "A man is riding a horse.",
        "A woman is playing violin.",
        "Two men pushed carts through the woods.",
        "A monkey is playing drums.",
        "Someone in a gorilla costume is playing a set of drums.",
        "iPhone vs. Android: which one is better?",
        "McDonald's O'Reilly rock'n'roll don't can't won't",
        "state-of-the-art well-known e-mail co-operate",
        "U.S.A. U.K. e.g. i.e. etc. Mr. Mrs. Dr.",
        "unaffable unbelievable unbelievably unbelievableness",
        "Supercalifragilisticexpialidocious",
        "pneumonoultramicroscopicsilicovolcanoconiosis",
        "Antidisestablishmentarianism is a long word.",
        # numbers / urls / emails / code
        "123",
        "3.14159265358979323846",
        "1,000,000 and 1.000.000 and 1 000 000",
        "-42 +17 1e-10 0x1F 0b1010 ½ ⅔ ²³",
        "Call me at +1 (555) 123-4567 or 555.123.4567.",
        "The meeting is on 2024-06-07T12:34:56Z.",
        "https://www.example.com/path/to/page?query=1&lang=en#section",
        "Visit http://localhost:8080/api/v1/users/42 for details.",
        "Contact: john.doe+filter@example.co.uk",
        "def f(x): return x ** 2 + 1",
        "fn main() { println!(\"Hello, {}!\", name); }",
        "for (int i = 0; i < n; ++i) { sum += a[i]; }",
        "SELECT * FROM users WHERE id = 42 AND name LIKE '%bob%';",
        "<div class=\"container\"><p>Hello</p></div>",
        "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
        "$ cargo test --release -- --nocapture",
        "git commit -m 'fix: handle empty input' && git push origin main",
        "x_1 + y_2 = z^3; α·β ≠ γ ≤ δ ≥ ε ∑ ∫ √ ∞",
        "C++ C# F# .NET Node.js snake_case camelCase PascalCase kebab-case",
        "#hashtag @mention $TSLA 100% 50°C 25€ £30 ¥500 ₹1000",
        # whitespace heavy (no line breaks)
        "  leading spaces",
        "trailing spaces   ",
        "   both sides   ",
        "multiple     spaces     between     words",
        "tabs\tbetween\twords",
        "\tleading tab",
        "trailing tab\t",
        " \t mixed \t\t whitespace \t ",
        "non\u00a0breaking\u00a0space",
        "ideographic\u3000space",
        "zero\u200bwidth\u200bspace",
        "soft\u00adhyphen",
        "en\u2002em\u2003thin\u2009spaces",
        "control\x07bell and\x1bescape",
        "null\x00byte",
        # accents / diacritics
        "Où est la bibliothèque ? Ça va très bien, merci.",
        "L'été dernier, nous sommes allés à la plage près de Nîmes.",
        "Les élèves français étudient l'histoire et la géographie.",
        "Größere Straßen führen über die Brücke nach Köln.",
        "Die Mädchen spielen Fußball im Park, während es regnet.",
        "Tiếng Việt có nhiều dấu thanh: à á ả ã ạ ă ằ ắ ẳ ẵ ặ.",
        "Tôi yêu Việt Nam và phở bò Hà Nội.",
        "El niño comió piñata en España; ¿qué más?",
        "Dziękuję bardzo, żółć gęślą jaźń.",
        "Čeština: příliš žluťoučký kůň úpěl ďábelské ódy.",
        "Ångström, Øresund, Æsir, façade, coöperate, naïve",
        "İstanbul'da ılık bir gün; ŞEHİR ve şehir",
        "İ ı I i Σ σ ς ẞ ß ǅ ǆ",
        # combining characters (NFD forms)
        "Cafe\u0301 au lait",
        "e\u0301e\u0300e\u0302e\u0308",
        "n\u0303 a\u030a o\u0308 u\u0308",
        "Z\u0351\u036b\u0343a\u0352\u0310l\u0344g\u0308o\u0327 text",
        "a\u0301\u0302\u0303\u0304\u0305\u0306\u0307\u0308\u0309",
        "\u0301 leading combining mark",
        "ﬁ ﬂ ﬀ ligatures and ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３",
        "Ⅷ ① ㈱ ㎏ ™ ℃ Å",
        # emoji
        "😀",
        "I love pizza 🍕🍕🍕!",
        "Great job 👍🏽👍🏿",
        "Family: 👨‍👩‍👧‍👦 and 👩‍💻 and 🏳️‍🌈",
        "Flags: 🇺🇸 🇫🇷 🇯🇵 🇩🇪 🇧🇷",
        "❤️ ♥ ☺️ ✨ ⭐ ☕",
        "🤖🧠🚀🔥💯",
        "keycap 1️⃣ 2️⃣ #️⃣",
        "smile:) sad:( wink;) <3 xD :-P ¯\\_(ツ)_/¯",
        # CJK
        "中文",
        "我爱北京天安门。",
        "今天天气很好，我们去公园散步吧。",
        "机器学习是人工智能的一个分支。",
        "自然語言處理（NLP）是計算機科學的一個領域。",
        "日本語の文章です。",
        "東京は日本の首都です。",
        "ひらがなとカタカナとカンジ",
        "私はコーヒーが好きです、でも紅茶も好きです。",
        "한국어 문장입니다.",
        "서울은 대한민국의 수도입니다.",
        "안녕하세요, 만나서 반갑습니다!",
        "Mixed 中文 English 日本語 한국어 text.",
        "𠀀𠀁𠀂 rare CJK extension B",
        # RTL
        "مرحبا بالعالم",
        "اللغة العربية جميلة جدا.",
        "السلام عليكم ورحمة الله وبركاته",
        "שלום עולם",
        "עברית היא שפה שמית.",
        "Mixed English and עברית and العربية text.",
        "سلام دنیا (Persian)",
        # Cyrillic / Greek / others
        "Привет, мир!",
        "Москва — столица России.",
        "ПРИВЕТ привет ПрИвЕт",
        "Съешь же ещё этих мягких французских булок, да выпей чаю.",
        "Γειά σου Κόσμε!",
        "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",
        "ΑΒΓΔΕ αβγδε ά έ ή ί ό ύ ώ ΐ ΰ",
        "नमस्ते दुनिया",
        "हिन्दी एक भाषा है।",
        "สวัสดีชาวโลก",
        "გამარჯობა მსოფლიო",
        "Բարեւ աշխարհ",
        "ሰላም ለዓለም",
        "வணக்கம் உலகம்",
        # repeated words / long tokens
        "hello " * 20,
        ("word " * 60).strip(),
        "a" * 100,
        "ab" * 150,
        "x" * 600,
        ("the " * 300).strip(),
        ("very " * 255 + "long").strip(),
        ("token " * 253).strip(),
        ("token " * 254).strip(),
        ("token " * 255).strip(),
        "中" * 300,
        "😀" * 120,
        "!" * 400,
        ("1 2 3 4 5 6 7 8 9 10 " * 40).strip(),
    ]
    rng = random.Random(SEED)
    # Long texts, far over 256 wordpieces, to exercise truncation.
    for n_words in (300, 350, 400, 450, 500, 600, 700, 800, 900, 1000, 1200, 1500):
        s.append(long_text(rng, n_words))
    # Long non-English texts too.
    s.append(" ".join(["Größere Straßen führen über die Brücke nach Köln."] * 50))
    s.append("".join(["机器学习是人工智能的一个分支。"] * 40))
    s.append(" ".join(["Привет, мир! Москва — столица России."] * 60))
    # Medium length around the truncation boundary.
    for n_words in (150, 200, 230, 240, 250):
        s.append(long_text(rng, n_words))
    return s


def read_text(path: Path) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def clean(text: str) -> str:
    return "".join(" " if c in LINE_BREAKS else c for c in text).strip()


def data_sentences() -> list:
    """~150 real sentences from data/, chosen deterministically (every k-th usable line)."""
    out = []
    # TREC questions: "COARSE:fine question text"
    trec = [l for l in read_text(DATA_DIR / "trec_question_labels.txt").splitlines() if l.strip()]
    qs = []
    for line in trec:
        label, _, rest = line.partition(" ")
        if ":" in label and label.split(":")[0].isupper():
            q = clean(rest)
        else:
            q = clean(line)
        if q:
            qs.append(q)
    k = max(1, len(qs) // 60)
    out += qs[::k][:60]
    # Sentiment ground truth: "id<TAB>score<TAB>text", several files.
    files = sorted((DATA_DIR / "hutto_ICWSM_2014").glob("*_GroundTruth.txt"))
    per_file = max(1, 90 // max(1, len(files)))
    for f in files:
        texts = []
        for line in read_text(f).splitlines():
            parts = line.split("\t", 2)
            if len(parts) == 3:
                t = clean(parts[2])
                if t:
                    texts.append(t)
        k = max(1, len(texts) // per_file)
        out += texts[::k][:per_file]
    return out


def minilm_sentences() -> list:
    s = hand_written_sentences() + data_sentences()
    seen, uniq = set(), []
    for x in s:
        if x not in seen:
            seen.add(x)
            uniq.append(x)
    for x in uniq:
        assert not (set(x) & LINE_BREAKS), repr(x)
    return uniq


def tiny_sentences() -> list:
    rng = random.Random(SEED + 1)
    return [
        "",
        "a",
        "Hello, world!",
        "hello world",
        "HELLO WORLD",
        "hElLo WoRlD",
        "The cat sat on the mat.",
        "THE CAT SAT ON THE MAT.",
        "A man is eating food.",
        "A man is riding a horse.",
        "A woman is playing violin.",
        "The quick brown fox jumps over the lazy dog.",
        "Sentence embeddings are useful for semantic search.",
        "What is the capital of France?",
        "How many people live in Tokyo?",
        "I love this movie, it is great!",
        "This was the worst experience ever :(",
        "Où est la bibliothèque ? Ça va très bien.",
        "Größere Straßen führen über die Brücke.",
        "Café CAFÉ cafe\u0301",
        "我爱北京天安门。",
        "日本語の文章です。",
        "Привет, мир!",
        "مرحبا بالعالم",
        "I love pizza 🍕!",
        "https://www.example.com/path?query=1",
        "john.doe@example.com",
        "def f(x): return x ** 2",
        "  leading and trailing spaces  ",
        "tabs\tbetween\twords",
        "unbelievably antidisestablishmentarianism",
        "123 456 7890 3.14",
        "!!! ??? ...",
        ("word " * 30).strip(),
        ("token " * 23).strip(),
        long_text(rng, 40),
        long_text(rng, 60),
        long_text(rng, 120),
        "Mixed Case Words In Every Position Here",
        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
    ]


# ----------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------


def write_json(path: Path, obj, indent=1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent)
        f.write("\n")


def write_npy(path: Path, arr: np.ndarray) -> None:
    arr = np.ascontiguousarray(arr, dtype="<f4")
    assert np.isfinite(arr).all(), path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.save(f, arr, allow_pickle=False)


def st_token_ids(model, sentences) -> list:
    """Token ids exactly as the SentenceTransformer's Transformer module produces them (no padding)."""
    out = []
    for s in sentences:
        feats = model.preprocess([s])
        ids = feats["input_ids"][0]
        mask = feats["attention_mask"][0]
        assert int(mask.sum()) == len(ids), "single sentence must not be padded"
        out.append([int(i) for i in ids])
    return out


def raw_tokenizer_ids(tokenizer_json: Path, sentences, max_len: int, lowercase_first: bool) -> list:
    """What a plain `tokenizers` user (e.g. the Rust crate) gets from tokenizer.json, with the
    sentence-transformers adjustments applied: no padding, truncation to max_seq_length, and
    do_lower_case implemented the way ST 6.2 does it (a Lowercase normalizer in front)."""
    from tokenizers import Tokenizer, normalizers

    tok = Tokenizer.from_file(str(tokenizer_json))
    tok.no_padding()
    tok.enable_truncation(max_length=max_len)
    if lowercase_first:
        norm = tok.normalizer
        seq = [normalizers.Lowercase()]
        if norm is not None:
            seq.append(norm)
        tok.normalizer = normalizers.Sequence(seq)
    return [e.ids for e in tok.encode_batch(list(sentences))]


def st_has_forced_lowercase(model) -> bool:
    from tokenizers import normalizers

    norm = model[0].tokenizer.backend_tokenizer.normalizer
    return isinstance(norm, normalizers.Sequence) and isinstance(norm[0], normalizers.Lowercase)


# ----------------------------------------------------------------------------------------
# all-MiniLM-L6-v2
# ----------------------------------------------------------------------------------------


def make_minilm(notes: dict) -> list:
    from sentence_transformers import SentenceTransformer
    from tokenizers import Tokenizer
    from transformers import AutoModel

    sentences = minilm_sentences()
    n = len(sentences)
    assert n >= 320, n
    model = SentenceTransformer(str(MODEL_DIR), device="cpu")
    model.eval()
    max_len = model.max_seq_length
    assert max_len == 256, max_len

    # The reference, computed the standard way.
    emb = model.encode(sentences, batch_size=MINILM_BATCH, convert_to_numpy=True, show_progress_bar=False)
    assert emb.shape == (n, 384) and emb.dtype == np.float32, (emb.shape, emb.dtype)
    norms = np.linalg.norm(emb, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5), (norms.min(), norms.max())

    ids = st_token_ids(model, sentences)
    counts = [len(x) for x in ids]
    assert max(counts) == max_len and min(counts) == 2, (min(counts), max(counts))
    n_trunc = sum(1 for s in sentences if len(model.tokenizer(s, truncation=False)["input_ids"]) > max_len)
    notes["minilm_truncated"] = n_trunc
    assert n_trunc >= 12, n_trunc

    # tokenizer.json (read by a plain `tokenizers` user) gives the same ids once its baked-in
    # Fixed(128) padding is dropped and truncation is set to max_seq_length (256).
    raw = raw_tokenizer_ids(MODEL_DIR / "tokenizer.json", sentences, max_len, lowercase_first=False)
    assert raw == ids, "tokenizer.json (no padding, truncation 256) disagrees with sentence-transformers"

    # --- padding checks -------------------------------------------------------------------
    diffs = {}
    # (a) no padding at all: one sentence per batch.
    emb_b1 = model.encode(sentences, batch_size=1, convert_to_numpy=True, show_progress_bar=False)
    diffs["batch_size=1 (no padding) vs batch_size=32"] = float(np.abs(emb_b1 - emb).max())

    # (b) every batch padded to a fixed 256 tokens (attention-masked).
    def encode_padded_to(width: int) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, n, MINILM_BATCH):
                feats = model.preprocess(sentences[i : i + MINILM_BATCH])
                for k in ("input_ids", "attention_mask", "token_type_ids"):
                    t = feats[k]
                    feats[k] = torch.nn.functional.pad(t, (0, width - t.shape[1]), value=0)
                out.append(model(feats)["sentence_embedding"].numpy())
        return np.concatenate(out)

    diffs["fixed padding to 256 vs standard"] = float(np.abs(encode_padded_to(max_len) - emb).max())

    # (c) tokenizer.json taken as-is (Fixed 128 padding AND truncation at 128).
    tok = Tokenizer.from_file(str(MODEL_DIR / "tokenizer.json"))
    as_is = []
    with torch.no_grad():
        for i in range(0, n, MINILM_BATCH):
            encs = tok.encode_batch(sentences[i : i + MINILM_BATCH])
            feats = {
                "input_ids": torch.tensor([e.ids for e in encs]),
                "attention_mask": torch.tensor([e.attention_mask for e in encs]),
                "token_type_ids": torch.tensor([e.type_ids for e in encs]),
                "modality": "text",
            }
            assert feats["input_ids"].shape[1] == 128
            as_is.append(model(feats)["sentence_embedding"].numpy())
    as_is = np.concatenate(as_is)
    long_mask = np.array([c > 128 for c in counts])
    notes["minilm_over_128"] = int(long_mask.sum())
    diffs["tokenizer.json as-is (pad+truncate 128), sentences <=128 tokens"] = float(
        np.abs(as_is[~long_mask] - emb[~long_mask]).max()
    )
    diffs["tokenizer.json as-is (pad+truncate 128), sentences >128 tokens"] = float(
        np.abs(as_is[long_mask] - emb[long_mask]).max()
    )

    # (d) plain transformers + masked mean pooling + L2 normalisation.
    hf = AutoModel.from_pretrained(str(MODEL_DIR)).eval()
    man = []
    with torch.no_grad():
        for i in range(0, n, MINILM_BATCH):
            enc = model.tokenizer(
                sentences[i : i + MINILM_BATCH], padding=True, truncation=True, max_length=max_len, return_tensors="pt"
            )
            h = hf(**enc).last_hidden_state
            m = enc["attention_mask"].unsqueeze(-1).float()
            v = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            man.append(torch.nn.functional.normalize(v, p=2, dim=-1).numpy())
    diffs["transformers AutoModel + masked mean + L2 vs standard"] = float(np.abs(np.concatenate(man) - emb).max())
    notes["minilm_diffs"] = diffs
    for k, v in diffs.items():
        print(f"  minilm: max |diff| {k}: {v:.3g}")
    assert diffs["batch_size=1 (no padding) vs batch_size=32"] < 1e-5
    assert diffs["fixed padding to 256 vs standard"] < 1e-5
    assert diffs["transformers AutoModel + masked mean + L2 vs standard"] < 1e-5

    out = OUT / "minilm"
    write_json(out / "sentences.json", sentences)
    write_npy(out / "embeddings.npy", emb)
    write_json(out / "token_counts.json", counts, indent=None)
    write_json(out / "token_ids.json", ids, indent=None)
    notes["minilm_n"] = n
    notes["minilm_max_seq_length"] = max_len
    return sentences


# ----------------------------------------------------------------------------------------
# Tiny random BERTs
# ----------------------------------------------------------------------------------------

TINY_HIDDEN = 32
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# name, tokenizer, pooling modes (concatenation order), dense out dim, normalize, extra options.
#   legacy_sbert: add the legacy keys {"max_seq_length", "do_lower_case"} to sentence_bert_config.json
#                 (ST 6.2 itself no longer writes them; hub models saved by older versions have them).
#   legacy_layout: rewrite the whole directory in the pre-v5 layout (old module type names in
#                 modules.json, boolean pooling_mode_* keys, sentence_bert_config.json with only
#                 max_seq_length/do_lower_case), like all-MiniLM-L6-v2 on the hub.
TINY_VARIANTS = [
    dict(name="mean", tok="uncased", pooling=("mean",)),  # pure ST 6.2 save: length from tokenizer_config
    dict(name="cls", tok="uncased", pooling=("cls",), legacy_sbert=dict(max_seq_length=24, do_lower_case=False)),
    dict(name="max", tok="cased", pooling=("max",), legacy_sbert=dict(max_seq_length=20, do_lower_case=False)),
    dict(
        name="mean_sqrt_len_tokens",
        tok="uncased",
        pooling=("mean_sqrt_len_tokens",),
        legacy_sbert=dict(max_seq_length=24, do_lower_case=False),
    ),
    dict(name="weightedmean", tok="cased", pooling=("weightedmean",), tokenizer_model_max_length=512),
    dict(name="lasttoken", tok="uncased", pooling=("lasttoken",), legacy_sbert=dict(max_seq_length=24, do_lower_case=False)),
    dict(
        name="mean_normalize",
        tok="uncased",
        pooling=("mean",),
        normalize=True,
        legacy_sbert=dict(max_seq_length=24, do_lower_case=False),
    ),
    dict(
        name="cls_dense_tanh_normalize",
        tok="uncased",
        pooling=("cls",),
        dense=16,
        normalize=True,
        legacy_sbert=dict(max_seq_length=24, do_lower_case=False),
    ),
    dict(
        name="mean_cls_concat",
        tok="uncased",
        pooling=("mean", "cls"),
        legacy_sbert=dict(max_seq_length=24, do_lower_case=False),
    ),
    dict(name="legacy_cls_mean", tok="uncased", pooling=("cls", "mean"), legacy_layout=True),
    dict(
        name="bert_prefix",
        tok="uncased",
        pooling=("mean",),
        prefix="bert.",
        legacy_sbert=dict(max_seq_length=24, do_lower_case=False),
    ),
    dict(
        name="cased_do_lower_case",
        tok="cased",
        pooling=("mean",),
        legacy_sbert=dict(max_seq_length=24, do_lower_case=True),
    ),
    dict(name="cased_mean", tok="cased", pooling=("mean",), legacy_sbert=dict(max_seq_length=24, do_lower_case=False)),
]

LEGACY_TYPES = {
    "Transformer": "sentence_transformers.models.Transformer",
    "Pooling": "sentence_transformers.models.Pooling",
    "Dense": "sentence_transformers.models.Dense",
    "Normalize": "sentence_transformers.models.Normalize",
}
LEGACY_POOLING_KEYS = [
    ("cls", "pooling_mode_cls_token"),
    ("max", "pooling_mode_max_tokens"),
    ("mean", "pooling_mode_mean_tokens"),
    ("mean_sqrt_len_tokens", "pooling_mode_mean_sqrt_len_tokens"),
    ("weightedmean", "pooling_mode_weightedmean_tokens"),
    ("lasttoken", "pooling_mode_lasttoken"),
]


def train_vocab(corpus, lowercase: bool, vocab_size: int = 800, alphabet_size: int = 150, min_frequency: int = 2) -> dict:
    """A small WordPiece vocabulary, built the way tokenizers' WordPieceTrainer does it (BPE merges
    over BERT-normalised, BERT-pre-tokenised words, continuation pieces prefixed with ##) but with
    deterministic tie-breaking: the `tokenizers` trainer itself is not reproducible run to run
    (hash-map order decides ties in the alphabet limit and in the merges)."""
    from collections import Counter

    from tokenizers import normalizers, pre_tokenizers

    norm = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    pre = pre_tokenizers.BertPreTokenizer()
    words = Counter()
    for text in corpus:
        for w, _ in pre.pre_tokenize_str(norm.normalize_str(text)):
            if len(w) <= 100:
                words[w] += 1
    chars = Counter()
    for w, c in words.items():
        for ch in w:
            chars[ch] += c
    alphabet = sorted(ch for ch, _ in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))[:alphabet_size])
    keep = set(alphabet)
    vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS)}
    for ch in alphabet:
        vocab.setdefault(ch, len(vocab))
    for ch in alphabet:
        vocab.setdefault("##" + ch, len(vocab))
    # Words as symbol lists; words with a character outside the alphabet cannot be merged.
    seqs = {w: [w[0]] + ["##" + ch for ch in w[1:]] for w in words if set(w) <= keep}
    while len(vocab) < vocab_size:
        pairs = Counter()
        for w, sym in seqs.items():
            c = words[w]
            for a, b in zip(sym, sym[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        (a, b), count = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if count < min_frequency:
            break
        merged = a + b[2:]
        vocab.setdefault(merged, len(vocab))
        for w, sym in seqs.items():
            if len(sym) < 2:
                continue
            out, i = [], 0
            while i < len(sym):
                if i + 1 < len(sym) and sym[i] == a and sym[i + 1] == b:
                    out.append(merged)
                    i += 2
                else:
                    out.append(sym[i])
                    i += 1
            seqs[w] = out
    return vocab


def randomize_(module: torch.nn.Module, gen: torch.Generator) -> None:
    """Deterministic, non-degenerate random weights: every tensor gets fresh values (LayerNorm
    weights around 1, biases small but non-zero) so a loader that skips a tensor is caught."""
    with torch.no_grad():
        for name, p in sorted(module.named_parameters(), key=lambda kv: kv[0]):
            r = torch.randn(p.shape, generator=gen, dtype=torch.float32)
            if "LayerNorm.weight" in name or name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * r)
            elif name.endswith("bias"):
                p.copy_(0.1 * r)
            elif "embeddings" in name:
                p.copy_(0.5 * r)
            else:  # Linear weight [out, in]
                p.copy_(r / (p.shape[-1] ** 0.5))


def build_hf_dir(path: Path, vocab: dict, lowercase: bool, seed: int, model_max_length: int) -> None:
    from transformers import BertConfig, BertModel, BertTokenizer

    cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=TINY_HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        type_vocab_size=2,
        hidden_act="gelu",
        layer_norm_eps=1e-12,
        pad_token_id=0,
        initializer_range=0.02,
    )
    model = BertModel(cfg)  # with pooler: real checkpoints have pooler.dense.*, loaders must ignore it
    gen = torch.Generator().manual_seed(seed)
    randomize_(model, gen)
    model.eval()
    model.save_pretrained(str(path), safe_serialization=True)
    tok = BertTokenizer(
        vocab=vocab,
        do_lower_case=lowercase,
        strip_accents=None,
        tokenize_chinese_chars=True,
        model_max_length=model_max_length,
    )
    tok.save_pretrained(str(path))


def rewrite_json(path: Path, fn) -> None:
    with open(path, encoding="utf-8") as f:
        obj = json.load(f)
    obj = fn(obj)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=4, ensure_ascii=False)
        f.write("\n")


def add_bert_prefix(st_file: Path, seed: int) -> None:
    """Rename every tensor to bert.<name> and add an MLM head, as in a BertForMaskedLM checkpoint."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(st_file), "pt") as f:
        tensors = {"bert." + k: f.get_tensor(k) for k in f.keys()}
        meta = f.metadata()
    vocab, hidden = tensors["bert.embeddings.word_embeddings.weight"].shape
    gen = torch.Generator().manual_seed(seed)
    tensors["cls.predictions.bias"] = 0.1 * torch.randn(vocab, generator=gen)
    tensors["cls.predictions.transform.dense.weight"] = torch.randn(hidden, hidden, generator=gen) / hidden**0.5
    tensors["cls.predictions.transform.dense.bias"] = 0.1 * torch.randn(hidden, generator=gen)
    tensors["cls.predictions.transform.LayerNorm.weight"] = 1.0 + 0.2 * torch.randn(hidden, generator=gen)
    tensors["cls.predictions.transform.LayerNorm.bias"] = 0.1 * torch.randn(hidden, generator=gen)
    save_file({k: tensors[k].contiguous() for k in sorted(tensors)}, str(st_file), metadata=meta)


def to_legacy_layout(out: Path, pooling, dim: int, max_seq_length: int) -> None:
    modules = json.loads((out / "modules.json").read_text(encoding="utf-8"))
    for m in modules:
        m["type"] = LEGACY_TYPES[m["type"].rsplit(".", 1)[-1]]
    write_json(out / "modules.json", modules, indent=2)
    pool = {"word_embedding_dimension": dim}
    for mode, key in LEGACY_POOLING_KEYS:
        pool[key] = mode in pooling
    write_json(out / "1_Pooling" / "config.json", pool, indent=2)
    write_json(out / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": False}, indent=2)


def check_nondegenerate(name: str, emb: np.ndarray, ids: list) -> dict:
    """Rows must be equal exactly when the token ids are equal, and the vectors must be spread out."""
    n = emb.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            same_ids = ids[i] == ids[j]
            d = float(np.abs(emb[i] - emb[j]).max())
            if same_ids:
                assert d < 1e-6, (name, i, j, d)
            else:
                assert d > 1e-4, (name, i, j, d, "different inputs give (almost) the same vector")
    u = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    cos = u @ u.T
    off = cos[~np.eye(n, dtype=bool)]
    stats = dict(
        mean_cos=float(off.mean()),
        max_cos_distinct=float(
            max(cos[i, j] for i in range(n) for j in range(n) if i != j and ids[i] != ids[j])
        ),
        min_dim_std=float(emb.std(axis=0).min()),
        identical_pairs=int(sum(1 for i in range(n) for j in range(i + 1, n) if ids[i] == ids[j])),
    )
    assert stats["mean_cos"] < 0.95 and stats["min_dim_std"] > 1e-3, (name, stats)
    return stats


def make_tiny(corpus: list, notes: dict) -> None:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Dense, Normalize, Pooling, Transformer

    S = tiny_sentences()
    tiny_root = OUT / "tiny"
    write_json(tiny_root / "sentences.json", S)

    vocabs = {}
    for kind, lower in (("uncased", True), ("cased", False)):
        v1 = train_vocab(corpus, lower)
        v2 = train_vocab(corpus, lower)
        assert v1 == v2, f"tokenizer training is not deterministic ({kind})"
        vocabs[kind] = v1
        print(f"  tiny: {kind} vocab: {len(v1)} tokens")

    manifest = []
    for index, spec in enumerate(TINY_VARIANTS):
        name = spec["name"]
        seed = SEED + 1000 * (index + 1)
        out = tiny_root / name
        if out.exists():
            shutil.rmtree(out)
        lower = spec["tok"] == "uncased"
        legacy_sbert = spec.get("legacy_sbert")
        legacy_layout = spec.get("legacy_layout", False)
        tok_max = spec.get("tokenizer_model_max_length", TINY_MAX_SEQ)
        with tempfile.TemporaryDirectory() as tmp:
            hf_dir = Path(tmp) / "hf"
            build_hf_dir(hf_dir, vocabs[spec["tok"]], lower, seed, tok_max)
            torch.manual_seed(seed)
            modules = [Transformer(str(hf_dir), max_seq_length=None if tok_max != TINY_MAX_SEQ else TINY_MAX_SEQ)]
            modules.append(Pooling(TINY_HIDDEN, pooling_mode=spec["pooling"]))
            dim = TINY_HIDDEN * len(spec["pooling"])
            if spec.get("dense"):
                dense = Dense(dim, spec["dense"], bias=True, activation_function=torch.nn.Tanh())
                randomize_(dense, torch.Generator().manual_seed(seed + 7))
                modules.append(dense)
                dim = spec["dense"]
            if spec.get("normalize"):
                modules.append(Normalize())
            st = SentenceTransformer(modules=modules, device="cpu")
            st.eval()
            st.save(str(out))
        # Post-processing of the saved directory.
        readme = out / "README.md"
        if readme.exists():
            readme.unlink()  # model card: irrelevant here
        if tok_max != TINY_MAX_SEQ:
            # Transformer() capped model_max_length at max_position_embeddings before saving;
            # restore the uncapped value so the loader's cap is what gets exercised.
            rewrite_json(out / "tokenizer_config.json", lambda c: {**c, "model_max_length": tok_max})
        if legacy_sbert:
            rewrite_json(out / "sentence_bert_config.json", lambda c: {**legacy_sbert, **c})
        if legacy_layout:
            to_legacy_layout(out, spec["pooling"], TINY_HIDDEN, TINY_MAX_SEQ)
        ref_unprefixed = None
        if spec.get("prefix"):
            ref_unprefixed = SentenceTransformer(str(out), device="cpu").encode(
                S, batch_size=32, convert_to_numpy=True, show_progress_bar=False
            )
            add_bert_prefix(out / "model.safetensors", seed + 11)

        # Reference: reload from disk exactly as a user would, then encode.
        model = SentenceTransformer(str(out), device="cpu")
        model.eval()
        emb = model.encode(S, batch_size=32, convert_to_numpy=True, show_progress_bar=False)
        assert emb.shape == (len(S), dim) and emb.dtype == np.float32, (name, emb.shape)
        if ref_unprefixed is not None:
            diff = float(np.abs(ref_unprefixed - emb).max())
            assert diff == 0.0, (name, diff)
            notes["bert_prefix_loads"] = True
        max_len = model.max_seq_length
        forced_lower = st_has_forced_lowercase(model)
        ids = st_token_ids(model, S)
        raw = raw_tokenizer_ids(out / "tokenizer.json", S, max_len, lowercase_first=forced_lower)
        assert raw == ids, f"{name}: tokenizer.json + (truncation, do_lower_case) disagrees with sentence-transformers"
        counts = [len(x) for x in ids]
        assert max(counts) == max_len, (name, max(counts), max_len)
        stats = check_nondegenerate(name, emb, ids)
        write_npy(out / "expected.npy", emb)
        pool_modes = model[1].pooling_mode
        pool_modes = [pool_modes] if isinstance(pool_modes, str) else list(pool_modes)
        entry = dict(
            name=name,
            embedding_dim=dim,
            pooling_modes=pool_modes,
            dense=dict(in_features=TINY_HIDDEN * len(spec["pooling"]), out_features=spec["dense"], activation="tanh")
            if spec.get("dense")
            else None,
            normalize=bool(spec.get("normalize")),
            max_seq_length=max_len,
            tokenizer_lowercase=lower,
            do_lower_case=forced_lower,
            weight_prefix=spec.get("prefix", ""),
            layout="legacy" if legacy_layout else ("st6+legacy_sbert_keys" if legacy_sbert else "st6"),
            token_counts=counts,
        )
        manifest.append(entry)
        print(
            f"  tiny/{name}: dim={dim} pooling={pool_modes} max_seq_length={max_len} "
            f"do_lower_case={forced_lower} identical_pairs={stats['identical_pairs']} "
            f"mean_cos={stats['mean_cos']:.3f} max_cos={stats['max_cos_distinct']:.4f}"
        )
    write_json(tiny_root / "manifest.json", manifest, indent=1)
    notes["tiny"] = manifest


# ----------------------------------------------------------------------------------------
# README
# ----------------------------------------------------------------------------------------


def write_readme(notes: dict) -> None:
    import sentence_transformers
    import tokenizers
    import transformers

    diffs = "\n".join(f"  - {k}: {v:.2g}" for k, v in notes["minilm_diffs"].items())
    rows = "\n".join(
        f"| `{m['name']}` | {m['embedding_dim']} | {' + '.join(m['pooling_modes'])}"
        f"{' + Dense(tanh)' if m['dense'] else ''}{' + Normalize' if m['normalize'] else ''} | "
        f"{m['max_seq_length']} | {'uncased' if m['tokenizer_lowercase'] else 'cased'}"
        f"{', do_lower_case' if m['do_lower_case'] else ''} | {m['layout']}"
        f"{', weights `bert.`-prefixed + MLM head' if m['weight_prefix'] else ''} |"
        for m in notes["tiny"]
    )
    text = f"""# Golden fixtures

Generated by `scripts/make_fixtures.py` (run `.venv/bin/python scripts/make_fixtures.py` after
`scripts/setup`). Do not edit by hand: the script is deterministic (fixed seeds, single-threaded)
and re-running it reproduces these files byte for byte. Oracle versions: torch {torch.__version__},
sentence-transformers {sentence_transformers.__version__}, transformers {transformers.__version__},
tokenizers {tokenizers.__version__}, numpy {np.__version__}; CPU, float32.

## `minilm/` (real `models/all-MiniLM-L6-v2`)

- `sentences.json`: {notes['minilm_n']} strings (edge cases written in the script + real sentences
  taken every k-th line from `data/trec_question_labels.txt` and
  `data/hutto_ICWSM_2014/*_GroundTruth.txt`). No string contains a line break, but some have
  leading/trailing spaces or tabs, and one is empty: compare them exactly, never trimmed.
  {notes['minilm_truncated']} sentences are longer than max_seq_length (256 wordpieces);
  {notes['minilm_over_128']} are longer than 128.
- `embeddings.npy`: float32 `[n, 384]`, `SentenceTransformer("models/all-MiniLM-L6-v2",
  device="cpu").encode(sentences, batch_size=32)` (modules: Transformer, mean Pooling, Normalize,
  so rows have unit norm).
- `token_counts.json`: wordpieces per sentence incl. `[CLS]`/`[SEP]` after truncation to 256.
- `token_ids.json`: the token ids themselves (no padding).

`tokenizer.json` ships with `padding: Fixed(128)` and `truncation: 128`; sentence-transformers
overrides both (pads to the longest in the batch, truncates at max_seq_length = 256). Maximum
absolute differences measured by the script:
{diffs}

So padding does not matter (attention-masked), but the 128 truncation baked into tokenizer.json
must be replaced by 256.

## `tiny/` (random tiny BERTs in sentence-transformers layout)

BERT with hidden 32, 2 layers, 4 heads, intermediate 64, 64 positions, vocab ~800 (a WordPiece
vocabulary trained on the MiniLM fixture sentences); every tensor randomly initialised (seeded).
Saved with `SentenceTransformer.save`, then reloaded from disk to compute
`expected.npy` = `model.encode(tiny/sentences.json, batch_size=32)` (float32 `[n, dim]`).
`tiny/manifest.json` lists each model's pooling modes (in concatenation order), effective
max_seq_length and do_lower_case as sentence-transformers resolved them, and token counts.

| model | dim | modules | max_seq_length | tokenizer | layout |
|---|---|---|---|---|---|
{rows}

Layouts: `st6` = exactly what sentence-transformers 6.2 writes (new module type names,
`pooling_mode` list, no max_seq_length in `sentence_bert_config.json`: the length comes from
`tokenizer_config.json`'s `model_max_length`, capped at `max_position_embeddings`);
`st6+legacy_sbert_keys` = the same plus the legacy `max_seq_length`/`do_lower_case` keys in
`sentence_bert_config.json` (these win over `model_max_length`); `legacy` = the pre-v5 layout of
hub models like all-MiniLM-L6-v2 (`sentence_transformers.models.*` types, boolean
`pooling_mode_*_tokens` keys whose concatenation order is cls, max, mean, mean_sqrt_len,
weightedmean, lasttoken). `weightedmean` keeps `model_max_length: 512` in tokenizer_config.json,
so its effective length is the 64 position embeddings. `max` has max_seq_length 20 in
sentence_bert_config.json but 24 in tokenizer_config.json. `cased_do_lower_case` has a cased
tokenizer.json and `do_lower_case: true` in sentence_bert_config.json: sentence-transformers
puts a `Lowercase` normalizer in front of the tokenizer's (accents are kept).
"""
    (OUT / "README.md").write_text(text, encoding="utf-8")


def main() -> int:
    for p in (MODEL_DIR / "model.safetensors", DATA_DIR / "trec_question_labels.txt", DATA_DIR / "hutto_ICWSM_2014"):
        if not p.exists():
            print(f"missing {p}: run scripts/setup first", file=sys.stderr)
            return 1
    torch.set_num_threads(1)
    seed_everything()
    OUT.mkdir(exist_ok=True)
    notes = {}
    print("all-MiniLM-L6-v2 ...")
    sentences = make_minilm(notes)
    print("tiny models ...")
    corpus = sentences + tiny_sentences()
    make_tiny(corpus, notes)
    write_readme(notes)
    total = 0
    for p in sorted(OUT.rglob("*")):
        if p.is_file():
            size = p.stat().st_size
            total += size
            print(f"  {size:>9}  {p.relative_to(ROOT)}")
    print(f"  {total:>9}  total ({total / 2**20:.2f} MiB)")
    assert total < 8 * 2**20, "fixtures/ must stay under 8 MiB"
    return 0


if __name__ == "__main__":
    sys.exit(main())
