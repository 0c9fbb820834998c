//! Cross-check against the real seqeval 1.2.2 (strict IOB2) and
//! scikit-learn: fixtures from `scripts/make_metric_fixtures.py`.

use std::path::PathBuf;

use serde_json::Value;
use smtl_metrics::*;

const TOL: f64 = 1e-9;

fn load(name: &str) -> Vec<Value> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/metrics")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn close(case: &str, what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= TOL,
        "{case}: {what} = {got}, seqeval/sklearn {want}"
    );
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

fn tags(v: &Value) -> Vec<Vec<String>> {
    serde_json::from_value(v.clone()).unwrap()
}

#[test]
fn entity_cases_match_seqeval_strict_iob2() {
    let cases = load("entity_cases.json");
    assert!(cases.len() >= 200, "{} cases", cases.len());
    let mut nonzero = 0;
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let gold = tags(&c["gold"]);
        let pred = tags(&c["pred"]);

        // Entity extraction equals seqeval's Entities(seqs, IOB2).
        for (key, seqs) in [("gold_entities", &gold), ("pred_entities", &pred)] {
            let mut got = Vec::new();
            for (sent, seq) in seqs.iter().enumerate() {
                for e in extract_entities(seq).unwrap() {
                    got.push((sent as u64, e.entity_type, e.start as u64, e.end as u64));
                }
            }
            let want: Vec<(u64, String, u64, u64)> = c[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e[0].as_u64().unwrap(),
                        e[1].as_str().unwrap().to_owned(),
                        e[2].as_u64().unwrap(),
                        e[3].as_u64().unwrap(),
                    )
                })
                .collect();
            assert_eq!(got, want, "{name}: {key}");
        }

        let r = EntityReport::compute(&gold, &pred).unwrap();
        close(name, "precision", r.precision, f(&c["precision"]));
        close(name, "recall", r.recall, f(&c["recall"]));
        close(name, "f1", r.f1, f(&c["f1"]));
        if r.f1 > 0.0 {
            nonzero += 1;
        }
        for key in ["macro_precision", "macro_recall", "macro_f1"] {
            let got = match key {
                "macro_precision" => r.macro_precision,
                "macro_recall" => r.macro_recall,
                _ => r.macro_f1,
            };
            match c[key].as_f64() {
                Some(want) => close(name, key, got, want),
                // seqeval: NaN (no entity type at all); here 0.
                None => {
                    assert!(r.per_type.is_empty(), "{name}");
                    assert_eq!(got, 0.0, "{name}: {key}");
                }
            }
        }
        match c["token_accuracy"].as_f64() {
            Some(want) => close(name, "token_accuracy", r.token_accuracy, want),
            None => assert_eq!((r.tokens, r.token_accuracy), (0, 0.0), "{name}"),
        }
        let per = c["per_type"].as_object().unwrap();
        let types: Vec<&str> = per.keys().map(String::as_str).collect();
        let mut want_types = types.clone();
        want_types.sort();
        let got_types: Vec<&str> = r.per_type.iter().map(|t| t.entity_type.as_str()).collect();
        assert_eq!(got_types, want_types, "{name}: types");
        for t in &r.per_type {
            let w = &per[&t.entity_type];
            close(
                name,
                &format!("{} precision", t.entity_type),
                t.precision,
                f(&w["precision"]),
            );
            close(
                name,
                &format!("{} recall", t.entity_type),
                t.recall,
                f(&w["recall"]),
            );
            close(name, &format!("{} f1", t.entity_type), t.f1, f(&w["f1"]));
            assert_eq!(
                t.support as u64,
                w["support"].as_u64().unwrap(),
                "{name}: {} support",
                t.entity_type
            );
        }
        assert_eq!(
            r.support,
            r.per_type.iter().map(|t| t.support).sum::<usize>()
        );
    }
    // The random cases are not all trivial.
    assert!(nonzero > 100, "only {nonzero} cases with f1 > 0");
}

#[test]
fn classification_cases_match_sklearn() {
    let cases = load("classification_cases.json");
    assert!(cases.len() >= 100);
    for c in &cases {
        let name = c["name"].as_str().unwrap();
        let k = c["num_labels"].as_u64().unwrap() as usize;
        let labels: Vec<String> = (0..k).map(|i| format!("c{i}")).collect();
        let gold: Vec<usize> = serde_json::from_value(c["gold"].clone()).unwrap();
        let pred: Vec<usize> = serde_json::from_value(c["pred"].clone()).unwrap();
        let r = ClassificationReport::compute(&gold, &pred, &labels).unwrap();
        close(name, "accuracy", r.accuracy, f(&c["accuracy"]));
        close(
            name,
            "macro_precision",
            r.macro_precision,
            f(&c["macro_precision"]),
        );
        close(name, "macro_recall", r.macro_recall, f(&c["macro_recall"]));
        close(name, "macro_f1", r.macro_f1, f(&c["macro_f1"]));
        close(name, "weighted_f1", r.weighted_f1, f(&c["weighted_f1"]));
        let per = c["per_class"].as_array().unwrap();
        assert_eq!(r.per_class.len(), per.len());
        for (i, (got, want)) in r.per_class.iter().zip(per).enumerate() {
            close(
                name,
                &format!("class {i} precision"),
                got.precision,
                f(&want["precision"]),
            );
            close(
                name,
                &format!("class {i} recall"),
                got.recall,
                f(&want["recall"]),
            );
            close(name, &format!("class {i} f1"), got.f1, f(&want["f1"]));
            assert_eq!(
                got.support as u64,
                want["support"].as_u64().unwrap(),
                "{name}"
            );
        }
        let confusion: Vec<Vec<usize>> = serde_json::from_value(c["confusion"].clone()).unwrap();
        assert_eq!(r.confusion, confusion, "{name}");
    }
}

/// Pearson and Spearman (average ranks for ties) against scipy's
/// `pearsonr` / `spearmanr` (fixtures from scripts/make_sts_fixtures.py).
#[test]
fn correlation_cases_match_scipy() {
    let cases = load("correlation_cases.json");
    assert!(cases.len() >= 8);
    for (i, case) in cases.iter().enumerate() {
        let xs: Vec<f64> = case["x"].as_array().unwrap().iter().map(f).collect();
        let ys: Vec<f64> = case["y"].as_array().unwrap().iter().map(f).collect();
        let name = format!("correlation case {i}");
        close(
            &name,
            "pearson",
            pearson(&xs, &ys).unwrap(),
            f(&case["pearson"]),
        );
        close(
            &name,
            "spearman",
            spearman(&xs, &ys).unwrap(),
            f(&case["spearman"]),
        );
    }
}
