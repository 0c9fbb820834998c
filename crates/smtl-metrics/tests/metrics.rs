//! Hand-checked cases and error paths.

use smtl_metrics::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|t| t.to_string()).collect()
}

fn ent(t: &str, start: usize, end: usize) -> Entity {
    Entity {
        entity_type: t.into(),
        start,
        end,
    }
}

#[test]
fn strict_iob2_extraction() {
    assert_eq!(
        extract_entities(&["B-PER", "I-PER", "O", "B-LOC"]).unwrap(),
        [ent("PER", 0, 2), ent("LOC", 3, 4)]
    );
    // I- without B- is no entity in strict mode.
    assert_eq!(extract_entities(&["I-PER", "I-PER", "O"]).unwrap(), []);
    assert_eq!(extract_entities(&["O", "I-PER"]).unwrap(), []);
    // A type switch ends the entity; the I- of the other type is dropped.
    assert_eq!(
        extract_entities(&["B-PER", "I-LOC", "I-LOC"]).unwrap(),
        [ent("PER", 0, 1)]
    );
    // Adjacent B- start new entities; entities at the end are closed.
    assert_eq!(
        extract_entities(&["B-PER", "B-PER", "I-PER"]).unwrap(),
        [ent("PER", 0, 1), ent("PER", 1, 3)]
    );
    assert_eq!(
        extract_entities(&["I-PER", "B-PER", "I-PER"]).unwrap(),
        [ent("PER", 1, 3)]
    );
    assert_eq!(
        extract_entities(&["B-geo-loc"]).unwrap(),
        [ent("geo-loc", 0, 1)]
    );
    assert_eq!(extract_entities::<&str>(&[]).unwrap(), []);
    for bad in ["E-PER", "S-PER", "B-", "B", "BPER", "", "o"] {
        match extract_entities(&["O", bad]) {
            Err(MetricsError::InvalidTag {
                sequence,
                position,
                tag,
            }) => {
                assert_eq!((sequence, position, tag.as_str()), (0, 1, bad))
            }
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn entity_report_by_hand() {
    let gold = vec![s(&["B-PER", "I-PER", "O", "B-LOC"]), s(&["B-ORG", "O"])];
    let pred = vec![s(&["B-PER", "I-PER", "O", "B-PER"]), s(&["I-ORG", "O"])];
    let r = EntityReport::compute(&gold, &pred).unwrap();
    // gold: PER(0,0..2) LOC(0,3..4) ORG(1,0..1); pred: PER(0,0..2) PER(0,3..4)
    assert_eq!((r.support, r.predicted, r.correct), (3, 2, 1));
    assert!((r.precision - 0.5).abs() < 1e-12);
    assert!((r.recall - 1.0 / 3.0).abs() < 1e-12);
    assert!((r.f1 - 0.4).abs() < 1e-12);
    let types: Vec<_> = r.per_type.iter().map(|t| t.entity_type.as_str()).collect();
    assert_eq!(types, ["LOC", "ORG", "PER"]);
    let per = &r.per_type[2];
    assert_eq!((per.support, per.predicted, per.correct), (1, 2, 1));
    assert!((r.macro_f1 - (0.0 + 0.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
    assert_eq!(r.tokens, 6);
    assert!((r.token_accuracy - 4.0 / 6.0).abs() < 1e-12);
    // Reports serialise.
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["per_type"][0]["entity_type"], "LOC");
}

#[test]
fn entity_report_errors_and_empty() {
    let gold = vec![s(&["O", "B-X"]), s(&["O"])];
    let pred = vec![s(&["O", "B-X"]), s(&["O", "O"])];
    assert_eq!(
        EntityReport::compute(&gold, &pred).unwrap_err(),
        MetricsError::LengthMismatch {
            index: 1,
            gold: 1,
            pred: 2
        }
    );
    assert_eq!(
        EntityReport::compute(&gold, &pred[..1]).unwrap_err(),
        MetricsError::CountMismatch { gold: 2, pred: 1 }
    );
    let pred = vec![s(&["O", "B-X"]), s(&["E-X"])];
    let err = EntityReport::compute(&gold, &pred).unwrap_err();
    assert_eq!(
        err,
        MetricsError::InvalidTag {
            sequence: 1,
            position: 0,
            tag: "E-X".into()
        }
    );
    assert!(err.to_string().contains("sequence 1, token 0"));
    let empty: Vec<Vec<String>> = vec![];
    let r = EntityReport::compute(&empty, &empty).unwrap();
    assert_eq!(
        (r.f1, r.macro_f1, r.token_accuracy, r.per_type.len()),
        (0.0, 0.0, 0.0, 0)
    );
}

#[test]
fn classification_by_hand() {
    let labels = s(&["a", "b", "c"]);
    let r = ClassificationReport::compute(&[0, 0, 1, 2], &[0, 1, 1, 1], &labels).unwrap();
    assert_eq!(r.confusion, [[1, 1, 0], [0, 1, 0], [0, 1, 0]]);
    assert_eq!((r.total, r.correct), (4, 2));
    assert!((r.accuracy - 0.5).abs() < 1e-12);
    let a = &r.per_class[0];
    assert_eq!((a.support, a.predicted, a.correct), (2, 1, 1));
    assert!((a.f1 - 2.0 / 3.0).abs() < 1e-12);
    let b = &r.per_class[1];
    assert!((b.precision - 1.0 / 3.0).abs() < 1e-12 && b.recall == 1.0);
    assert!((b.f1 - 0.5).abs() < 1e-12);
    assert_eq!(r.per_class[2].f1, 0.0);
    assert!((r.macro_f1 - (2.0 / 3.0 + 0.5) / 3.0).abs() < 1e-12);
    assert!((r.weighted_f1 - (2.0 * 2.0 / 3.0 + 0.5 + 0.0) / 4.0).abs() < 1e-12);
    assert_eq!(
        serde_json::to_value(&r).unwrap()["per_class"][1]["label"],
        "b"
    );
}

#[test]
fn classification_errors_and_empty() {
    let labels = s(&["a", "b"]);
    assert_eq!(
        ClassificationReport::compute(&[0, 1], &[0], &labels).unwrap_err(),
        MetricsError::CountMismatch { gold: 2, pred: 1 }
    );
    assert_eq!(
        ClassificationReport::compute(&[0, 1], &[0, 2], &labels).unwrap_err(),
        MetricsError::LabelOutOfRange {
            position: 1,
            id: 2,
            num_labels: 2
        }
    );
    let r = ClassificationReport::compute(&[], &[], &labels).unwrap();
    assert_eq!((r.accuracy, r.macro_f1, r.weighted_f1), (0.0, 0.0, 0.0));
    assert_eq!(r.confusion, [[0, 0], [0, 0]]);
}
