//! The pair losses against sentence-transformers' own loss modules
//! (`CoSENTLoss`, `CosineSimilarityLoss`, `MultipleNegativesRankingLoss`):
//! value and gradient with respect to both embedding batches, to 1e-5, on
//! seeded batches with tied labels (fixtures/losses/pair_losses.json from
//! scripts/make_loss_fixtures.py).

use serde_json::Value;
use smtl_heads::pair_losses::{cosent, cosine_mse, multiple_negatives_ranking};
use tch::{Kind, Tensor};

fn matrix(v: &Value) -> Tensor {
    let rows: Vec<Vec<f64>> = serde_json::from_value(v.clone()).unwrap();
    let (n, d) = (rows.len() as i64, rows[0].len() as i64);
    Tensor::from_slice(&rows.concat()).view([n, d])
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}

#[test]
fn pair_losses_equal_sentence_transformers_in_value_and_gradient() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/losses/pair_losses.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = fixture["cases"].as_array().unwrap();
    assert!(cases.len() >= 4);
    for (i, case) in cases.iter().enumerate() {
        let labels: Vec<f64> = serde_json::from_value(case["labels"].clone()).unwrap();
        let labels = Tensor::from_slice(&labels);
        for name in ["cosent", "cosine_mse", "mnrl", "mnrl_symmetric"] {
            let a = matrix(&case["a"]).set_requires_grad(true);
            let b = matrix(&case["b"]).set_requires_grad(true);
            let loss = match name {
                "cosent" => cosent(&a, &b, &labels, 20.0),
                "cosine_mse" => cosine_mse(&a, &b, &labels),
                "mnrl" => multiple_negatives_ranking(&a, &b, 20.0, false, None),
                _ => multiple_negatives_ranking(&a, &b, 20.0, true, None),
            };
            assert_eq!(loss.kind(), Kind::Double, "{name}");
            loss.backward();
            let want = &case[name];
            let value = loss.double_value(&[]);
            let expected = want["loss"].as_f64().unwrap();
            assert!(
                (value - expected).abs() <= 1e-5,
                "case {i} {name}: {value} vs {expected}"
            );
            for (side, grad) in [("a", a.grad()), ("b", b.grad())] {
                let d = max_diff(&grad, &matrix(&want[format!("grad_{side}")]));
                assert!(
                    d <= 1e-5,
                    "case {i} {name}: d loss / d {side} differs by {d}"
                );
            }
        }
    }
}
