#!/usr/bin/env python3
"""Generate the metric fixtures under fixtures/metrics/ with seqeval and scikit-learn as oracles.

Run from anywhere:  .venv/bin/python scripts/make_metric_fixtures.py

Needs seqeval and scikit-learn (pinned in scripts/requirements-oracle.txt). Deterministic
(fixed seed, no threads): running it twice gives byte-identical files.

Writes
  fixtures/metrics/entity_cases.json          seqeval strict IOB2 entity scores per case
  fixtures/metrics/classification_cases.json  sklearn accuracy / P / R / F1 / confusion per case
  fixtures/metrics/README.md

entity_cases.json: {"oracle": ..., "cases": [{"name", "gold": [[tag]], "pred": [[tag]],
  "gold_entities"/"pred_entities": [[sent, type, start, end_exclusive]] (seqeval.scheme.Entities),
  "precision", "recall", "f1": micro (seqeval.metrics.*_score(mode="strict", scheme=IOB2)),
  "macro_precision", "macro_recall", "macro_f1": average="macro" (null where seqeval gives NaN:
  no entity type at all), "token_accuracy": seqeval.metrics.accuracy_score (null when there
  are no tokens), "per_type": {type: {precision, recall, f1, support}} (average=None)}]}

classification_cases.json: {"oracle": ..., "cases": [{"name", "num_labels", "gold", "pred",
  "accuracy", "macro_precision", "macro_recall", "macro_f1", "weighted_f1", "per_class":
  [{precision, recall, f1, support}], "confusion": [[...]]}]}. Every sklearn call passes
  labels=range(num_labels), so classes absent from both gold and pred count (with F1 = 0) in
  the macro mean; zero_division is sklearn's default ("warn", i.e. 0).
"""

import json
from importlib.metadata import version
import random
import warnings
from pathlib import Path

import numpy as np
import sklearn
from seqeval.metrics import accuracy_score as seq_accuracy
from seqeval.metrics import f1_score as seq_f1
from seqeval.metrics import precision_score as seq_precision
from seqeval.metrics import recall_score as seq_recall
from seqeval.metrics.v1 import precision_recall_fscore_support as seq_prfs
from seqeval.metrics.v1 import unique_labels as seq_unique_labels
from seqeval.scheme import IOB2, Entities
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)

warnings.filterwarnings("ignore")  # UndefinedMetricWarning: zero_division is the point

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "metrics"
SEED = 20240611
TYPES = ["PER", "LOC", "ORG", "geo-loc", "MISC"]


def num(x):
    """float, or None for NaN (JSON has no NaN)."""
    x = float(x)
    return None if np.isnan(x) else x


# ---- entities ---------------------------------------------------------------------------


def entity_expected(gold, pred):
    out = {
        "gold_entities": [
            [e.sent_id, e.tag, e.start, e.end] for sent in Entities(gold, IOB2).entities for e in sent
        ],
        "pred_entities": [
            [e.sent_id, e.tag, e.start, e.end] for sent in Entities(pred, IOB2).entities for e in sent
        ],
        "precision": num(seq_precision(gold, pred, mode="strict", scheme=IOB2)),
        "recall": num(seq_recall(gold, pred, mode="strict", scheme=IOB2)),
        "f1": num(seq_f1(gold, pred, mode="strict", scheme=IOB2)),
    }
    for key, fn in [("macro_precision", seq_precision), ("macro_recall", seq_recall), ("macro_f1", seq_f1)]:
        out[key] = num(fn(gold, pred, mode="strict", scheme=IOB2, average="macro"))
    n_tokens = sum(len(s) for s in gold)
    out["token_accuracy"] = num(seq_accuracy(gold, pred)) if n_tokens else None
    types = seq_unique_labels(gold, pred, scheme=IOB2, suffix=False)
    per = {}
    if types:
        p, r, f, s = seq_prfs(gold, pred, average=None, scheme=IOB2)
        for t, pi, ri, fi, si in zip(types, p, r, f, s):
            per[t] = {"precision": float(pi), "recall": float(ri), "f1": float(fi), "support": int(si)}
    out["per_type"] = per
    return out


def random_tag(rng, types):
    u = rng.random()
    if u < 0.5:
        return "O"
    return ("B-" if u < 0.8 else "I-") + rng.choice(types)


def wellformed(rng, n, types):
    """Mostly valid IOB2."""
    tags, prev_type = [], None
    for _ in range(n):
        u = rng.random()
        if prev_type is not None and u < 0.35:
            tags.append("I-" + prev_type)
        elif u < 0.65:
            tags.append("O")
            prev_type = None
        else:
            prev_type = rng.choice(types)
            tags.append("B-" + prev_type)
    return tags


def corrupt(rng, tags, types, p):
    out = []
    for t in tags:
        u = rng.random()
        if u >= p:
            out.append(t)
            continue
        kind = rng.randrange(5)
        if kind == 0:
            out.append("O")
        elif kind == 1 and t != "O":  # B <-> I: I- without B-, or a split entity
            out.append(("I-" if t[0] == "B" else "B-") + t[2:])
        elif kind == 2 and t != "O":  # type switch mid-entity
            out.append(t[:2] + rng.choice(types))
        else:
            out.append(random_tag(rng, types))
    return out


def entity_cases(rng):
    hand = [
        # (seqeval raises TypeError on an empty list of sentences: not a case here.)
        ("empty_sentences", [[], []], [[], []]),
        ("all_outside", [["O", "O"]], [["O", "O"]]),
        ("perfect", [["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]]),
        ("i_without_b_gold", [["I-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]]),
        ("i_without_b_pred", [["B-PER", "I-PER", "O"]], [["I-PER", "I-PER", "O"]]),
        ("i_without_b_both", [["I-PER", "I-PER"]], [["I-PER", "I-PER"]]),
        ("i_after_o", [["B-PER", "O", "I-PER"]], [["B-PER", "O", "B-PER"]]),
        ("type_switch", [["B-PER", "I-LOC", "I-LOC"]], [["B-PER", "B-LOC", "I-LOC"]]),
        ("type_switch_same_span", [["B-PER", "I-PER"]], [["B-PER", "I-LOC"]]),
        ("entity_at_end", [["O", "B-PER"]], [["O", "B-PER"]]),
        ("multi_token_at_end", [["O", "B-PER", "I-PER"]], [["O", "B-PER", "I-PER"]]),
        ("end_truncated", [["O", "B-PER", "I-PER"]], [["O", "B-PER", "O"]]),
        ("adjacent_b", [["B-PER", "B-PER"]], [["B-PER", "I-PER"]]),
        ("b_after_i", [["I-PER", "B-PER", "I-PER"]], [["B-PER", "B-PER", "I-PER"]]),
        ("single_token_seq", [["B-ORG"]], [["I-ORG"]]),
        ("no_gold_entities", [["O", "O", "O"]], [["B-MISC", "O", "I-MISC"]]),
        ("no_pred_entities", [["B-MISC", "O", "B-ORG"]], [["O", "O", "O"]]),
        ("same_span_other_sentence", [["B-PER", "O"], ["O", "O"]], [["O", "O"], ["B-PER", "O"]]),
        ("dashed_type", [["B-geo-loc", "I-geo-loc"]], [["B-geo-loc", "I-geo-loc"]]),
        ("longer_pred_span", [["B-LOC", "O"]], [["B-LOC", "I-LOC"]]),
    ]
    cases = [{"name": name, "gold": g, "pred": p, **entity_expected(g, p)} for name, g, p in hand]
    for i in range(200):
        types = TYPES[: rng.randint(1, len(TYPES))]
        n_sent = rng.randint(1, 6)
        mode = rng.randrange(3)
        gold, pred = [], []
        for _ in range(n_sent):
            n = rng.randint(0, 12)
            if mode == 0:  # valid gold, lightly corrupted prediction
                g = wellformed(rng, n, types)
                p = corrupt(rng, g, types, 0.2)
            elif mode == 1:  # corrupted gold too (I- without B-, switches)
                g = corrupt(rng, wellformed(rng, n, types), types, 0.25)
                p = corrupt(rng, g, types, 0.35)
            else:  # unrelated random tags
                g = [random_tag(rng, types) for _ in range(n)]
                p = [random_tag(rng, types) for _ in range(n)]
            gold.append(g)
            pred.append(p)
        cases.append({"name": f"random_{i}", "gold": gold, "pred": pred, **entity_expected(gold, pred)})
    return cases


# ---- classification --------------------------------------------------------------------


def classification_expected(k, gold, pred):
    labels = list(range(k))
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, average=None)
    mp, mr, mf, _ = precision_recall_fscore_support(gold, pred, labels=labels, average="macro")
    return {
        "accuracy": float(accuracy_score(gold, pred)),
        "macro_precision": float(mp),
        "macro_recall": float(mr),
        "macro_f1": float(f1_score(gold, pred, labels=labels, average="macro")),
        "macro_f1_prfs": float(mf),
        "weighted_f1": float(f1_score(gold, pred, labels=labels, average="weighted")),
        "per_class": [
            {"precision": float(a), "recall": float(b), "f1": float(c), "support": int(d)}
            for a, b, c, d in zip(p, r, f, s)
        ],
        "confusion": confusion_matrix(gold, pred, labels=labels).tolist(),
    }


def classification_cases(rng):
    hand = [
        ("perfect", 3, [0, 1, 2, 2], [0, 1, 2, 2]),
        ("all_wrong", 2, [0, 0, 1], [1, 1, 0]),
        ("single", 6, [3], [3]),
        ("absent_classes", 6, [0, 0, 1, 1], [0, 1, 1, 1]),
        ("never_predicted", 3, [0, 1, 2, 2], [0, 0, 0, 0]),
        ("predicted_not_gold", 3, [0, 0, 0], [0, 1, 2]),
    ]
    cases = [{"name": n, "num_labels": k, "gold": g, "pred": p, **classification_expected(k, g, p)} for n, k, g, p in hand]
    for i in range(100):
        k = rng.randint(2, 8)
        n = rng.randint(1, 80)
        skew = [rng.random() ** 3 for _ in range(k)]  # some classes rare or absent
        gold = rng.choices(range(k), weights=skew, k=n)
        noise = rng.random()
        pred = [g if rng.random() > noise else rng.randrange(k) for g in gold]
        cases.append({"name": f"random_{i}", "num_labels": k, "gold": gold, "pred": pred, **classification_expected(k, gold, pred)})
    return cases


def dump(oracle, cases):
    """JSON with one case per line (compact, diffable)."""
    head = json.dumps({"oracle": oracle, "seed": SEED})[:-1]
    body = ",\n".join(json.dumps(c, separators=(",", ":")) for c in cases)
    return head + ', "cases": [\n' + body + "\n]}\n"


def main():
    rng = random.Random(SEED)
    OUT.mkdir(parents=True, exist_ok=True)
    oracle = f"seqeval {version('seqeval')}, scikit-learn {sklearn.__version__}, numpy {np.__version__}"
    ent = entity_cases(rng)
    cls = classification_cases(rng)
    (OUT / "entity_cases.json").write_text(dump(oracle, ent))
    (OUT / "classification_cases.json").write_text(dump(oracle, cls))
    (OUT / "README.md").write_text(
        "# Metric fixtures\n\n"
        "Generated by `scripts/make_metric_fixtures.py` (`.venv/bin/python scripts/make_metric_fixtures.py`);\n"
        "do not edit by hand. Deterministic (seed " + str(SEED) + "). Oracles: " + oracle + ".\n\n"
        f"- `entity_cases.json`: {len(ent)} gold/pred tag-sequence sets scored by seqeval strict IOB2\n"
        "  (`f1_score(y_true, y_pred, mode=\"strict\", scheme=IOB2)` etc.): hand-written edge cases\n"
        "  (I- without B-, type switches, entities at the end, empty input) and random ones, with the\n"
        "  entities seqeval extracts, micro and macro P/R/F1, per-type scores, token accuracy.\n"
        f"- `classification_cases.json`: {len(cls)} gold/pred class-id lists scored by scikit-learn with\n"
        "  `labels=range(num_labels)`: accuracy, macro P/R/F1, weighted F1, per-class P/R/F1/support,\n"
        "  confusion matrix (rows gold, columns pred).\n\n"
        "Checked to 1e-9 by `crates/smtl-metrics/tests/oracle_fixtures.rs`.\n"
    )
    print(f"wrote {len(ent)} entity cases, {len(cls)} classification cases to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
