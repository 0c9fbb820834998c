//! The training loop on a tiny random BERT (fixtures/tiny/mean) and small
//! synthetic tasks: freeze masks, resume, NaN handling, checkpoint parity
//! with sentence-transformers.

use serde_json::Value;
use smtl_heads::{Example, MultiTaskModel, SharedEncoderModel};
use smtl_trainer::{TrainConfig, TrainError, TrainPrecision, Trainer};
use tch::Device;

mod common;
use common::*;

/// Both precisions: bf16 mixed precision keeps fp32 master weights, so the
/// freeze masks hold bit for bit there too.
const PRECISIONS: [TrainPrecision; 2] = [TrainPrecision::Fp32, TrainPrecision::Bf16];

#[test]
fn a_frozen_backbone_stays_bit_identical_and_holds_no_optimizer_state() {
    let _rng = lock();
    for precision in PRECISIONS {
        let out = tempfile::tempdir().unwrap();
        let model = tiny_model();
        let backbone_before = snapshot(&model, "backbone.");
        let heads_before = snapshot(&model, "heads.");
        let mut trainer = Trainer::new(
            model,
            tasks(),
            TrainConfig {
                freeze: vec!["backbone".parse().unwrap()],
                precision,
                ..config(2)
            },
        )
        .unwrap();
        fit_into(&mut trainer, out.path()).unwrap();
        assert!(
            all_equal(&backbone_before, &snapshot(trainer.model(), "backbone.")),
            "{precision}: backbone moved"
        );
        assert!(
            !all_equal(&heads_before, &snapshot(trainer.model(), "heads.")),
            "{precision}: heads did not train"
        );
        assert!(trainer
            .optimizer()
            .state_tensors()
            .iter()
            .all(|(n, _)| !n.contains("backbone.")));
    }
}

#[test]
fn a_frozen_head_stays_bit_identical_while_the_rest_trains() {
    let _rng = lock();
    for precision in PRECISIONS {
        let out = tempfile::tempdir().unwrap();
        let model = tiny_model();
        let topic_before = snapshot(&model, "heads.topic.");
        let backbone_before = snapshot(&model, "backbone.");
        let mut trainer = Trainer::new(
            model,
            tasks(),
            TrainConfig {
                freeze: vec!["head:topic".parse().unwrap()],
                precision,
                ..config(1)
            },
        )
        .unwrap();
        fit_into(&mut trainer, out.path()).unwrap();
        assert!(
            all_equal(&topic_before, &snapshot(trainer.model(), "heads.topic.")),
            "{precision}: the frozen head moved"
        );
        assert!(
            !all_equal(&backbone_before, &snapshot(trainer.model(), "backbone.")),
            "{precision}: the backbone did not train"
        );
    }
}

#[test]
fn whole_network_frozen_changes_nothing() {
    let _rng = lock();
    let out = tempfile::tempdir().unwrap();
    let model = tiny_model();
    let before = snapshot(&model, "");
    let mut trainer = Trainer::new(
        model,
        tasks(),
        TrainConfig {
            freeze: vec!["all".parse().unwrap()],
            ..config(1)
        },
    )
    .unwrap();
    fit_into(&mut trainer, out.path()).unwrap();
    assert!(all_equal(&before, &snapshot(trainer.model(), "")));
    assert_eq!(trainer.optimizer().trainable_parameter_count(), 0);
}

#[test]
fn resuming_from_a_checkpoint_reproduces_the_uninterrupted_run() {
    let _rng = lock();
    for precision in PRECISIONS {
        let run = |max_steps| TrainConfig {
            max_steps,
            precision,
            ..config(2)
        };
        let full = tempfile::tempdir().unwrap();
        let reference = fit_into(
            &mut Trainer::new(tiny_model(), tasks(), run(0)).unwrap(),
            full.path(),
        )
        .unwrap()
        .losses();
        assert_eq!(reference.len(), 2 * (7 + 4));

        let split = tempfile::tempdir().unwrap();
        // Stop mid-epoch 0, then resume from last/ in a fresh trainer.
        let mut first = fit_into(
            &mut Trainer::new(tiny_model(), tasks(), run(5)).unwrap(),
            split.path(),
        )
        .unwrap()
        .losses();
        let mut resumed =
            Trainer::<SharedEncoderModel>::resume(&split.path().join("last"), tasks(), Device::Cpu)
                .unwrap();
        assert_eq!(resumed.state().global_step, 5);
        assert_eq!(
            resumed.config().precision,
            precision,
            "the checkpoint keeps the precision"
        );
        resumed.set_max_steps(0);
        first.extend(fit_into(&mut resumed, split.path()).unwrap().losses());
        let replay = first;
        assert_eq!(replay.len(), reference.len());
        for ((s1, l1), (s2, l2)) in reference.iter().zip(&replay) {
            assert_eq!(s1, s2);
            assert!(
                (l1 - l2).abs() <= 1e-5,
                "{precision} step {s1}: uninterrupted {l1} vs resumed {l2}"
            );
        }
    }
}

/// bf16 mixed precision really runs the products in bf16 (its losses are
/// close to fp32's but not equal), keeps fp32 master weights, and leaves
/// autocast off once the step is done.
#[test]
fn bf16_mixed_precision_trains_fp32_weights_with_bf16_products() {
    let _rng = lock();
    let losses = |precision| {
        let out = tempfile::tempdir().unwrap();
        let mut trainer = Trainer::new(
            tiny_model(),
            tasks(),
            TrainConfig {
                precision,
                ..config(1)
            },
        )
        .unwrap();
        let losses = fit_into(&mut trainer, out.path()).unwrap().losses();
        let kinds: Vec<_> = trainer
            .model()
            .encoder()
            .var_store()
            .variables()
            .into_values()
            .map(|t| t.kind())
            .collect();
        assert!(
            kinds.iter().all(|&k| k == tch::Kind::Float),
            "{precision}: {kinds:?}"
        );
        assert!(!smtl_kernels::Autocast::enabled(Device::Cpu));
        losses
    };
    let fp32 = losses(TrainPrecision::Fp32);
    let bf16 = losses(TrainPrecision::Bf16);
    assert_eq!(fp32.len(), bf16.len());
    let (first32, first16) = (fp32[0].1, bf16[0].1);
    assert!(
        first32 != first16,
        "bf16 gave fp32's loss {first32} exactly"
    );
    assert!(
        (first32 - first16).abs() <= 0.02 * first32.abs(),
        "first loss fp32 {first32} vs bf16 {first16}"
    );
    assert!(bf16.iter().all(|(_, l)| l.is_finite()));
}

#[test]
fn a_nan_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    let _rng = lock();
    let out = tempfile::tempdir().unwrap();
    let steps_per_epoch = 7 + 4;
    let mut trainer = Trainer::new(
        tiny_model(),
        tasks(),
        TrainConfig {
            max_steps: steps_per_epoch,
            ..config(3)
        },
    )
    .unwrap();
    fit_into(&mut trainer, out.path()).unwrap();
    assert_eq!(trainer.state().epoch, 1);
    // Poison a head weight: the next loss of that task is NaN.
    for (name, t) in trainer.model().encoder().var_store().variables() {
        if name.starts_with("heads.topic.") {
            tch::no_grad(|| {
                let _ = t.shallow_clone().fill_(f64::NAN);
            });
        }
    }
    trainer.set_max_steps(0);
    let err = fit_into(&mut trainer, out.path()).unwrap_err();
    assert!(matches!(err, TrainError::NonFiniteLoss { .. }), "{err}");
    assert!(err.to_string().contains("topic"));
    // last/ is the epoch-1 checkpoint, loadable and finite.
    let resumed =
        Trainer::<SharedEncoderModel>::resume(&out.path().join("last"), tasks(), Device::Cpu)
            .unwrap();
    assert_eq!(resumed.state().epoch, 1);
    for (_, t) in snapshot(resumed.model(), "heads.") {
        assert!(bool::try_from(t.isfinite().all()).unwrap());
    }
}

#[test]
fn predict_maps_labels_back_to_sentences_and_words() {
    let _rng = lock();
    let out = tempfile::tempdir().unwrap();
    let mut trainer = Trainer::new(tiny_model(), tasks(), config(1)).unwrap();
    fit_into(&mut trainer, out.path()).unwrap();
    let model = trainer.into_model();
    let tags = model.predict("ner", &["we met John Smith", "x"]).unwrap();
    match &tags[0] {
        smtl_heads::Prediction::Tags { ids, tags } => {
            assert_eq!(ids.len(), 4, "one tag per whitespace word");
            assert!(tags
                .iter()
                .all(|t| ["O", "B-X", "I-X"].contains(&t.as_str())));
        }
        other => panic!("{other:?}"),
    }
    match &model.predict("topic", &["a cat"]).unwrap()[0] {
        smtl_heads::Prediction::Label { id, label, score } => {
            assert!(*id < 3);
            assert_eq!(label, ["animal", "money", "code"][*id]);
            assert!(*score > 1.0 / 3.0 && *score <= 1.0, "{score}");
        }
        other => panic!("{other:?}"),
    }
    assert!(model.predict("nope", &["a"]).is_err());
}

#[test]
fn bad_training_input_is_a_typed_error() {
    let _rng = lock();
    let mut t = tasks();
    t[0].train.clear();
    assert!(matches!(
        Trainer::new(tiny_model(), t, config(1)),
        Err(TrainError::EmptyDataset(_))
    ));
    let mut t = tasks();
    t[1].train[0] = Example::Words {
        words: vec!["a".into(), "b".into()],
        tags: Some(vec![0]),
    };
    let out = tempfile::tempdir().unwrap();
    let err = fit_into(
        &mut Trainer::new(tiny_model(), t, config(1)).unwrap(),
        out.path(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("2 words but 1 tags"), "{err}");
    let mut t = tasks();
    t[0].train[0] = Example::Sentence {
        text: "x".into(),
        label: Some(9),
    };
    let err = fit_into(
        &mut Trainer::new(tiny_model(), t, config(1)).unwrap(),
        out.path(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("label id 9"), "{err}");
    assert!(Trainer::new(
        tiny_model(),
        tasks(),
        TrainConfig {
            freeze: vec!["layer.99".parse().unwrap()],
            ..config(1)
        }
    )
    .is_err());
}

/// The checkpoint's encoder is a sentence-transformers model: Python loads
/// it and embeds exactly as this crate does.
#[test]
fn sentence_transformers_loads_a_checkpoint_with_the_same_embeddings() {
    let _rng = lock();
    let out = tempfile::tempdir().unwrap();
    let mut trainer = Trainer::new(tiny_model(), tasks(), config(1)).unwrap();
    fit_into(&mut trainer, out.path()).unwrap();
    let best = out.path().join("best");
    let sentences = [
        "the cat sat on the mat",
        "stocks fell",
        "",
        "rust borrows are checked statically today",
    ];
    let rust = smtl_embedding::SentenceEncoder::from_dir(&best, Device::Cpu)
        .unwrap()
        .encode(&sentences)
        .unwrap();
    let untrained =
        smtl_embedding::SentenceEncoder::from_dir(repo().join("fixtures/tiny/mean"), Device::Cpu)
            .unwrap()
            .encode(&sentences)
            .unwrap();
    assert!(
        (&rust - &untrained).iter().any(|d| d.abs() > 1e-4),
        "fine-tuning changed the encoder"
    );

    let python = repo().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "run scripts/setup: {} is missing",
        python.display()
    );
    let script = r#"
import json, sys
from sentence_transformers import SentenceTransformer
m = SentenceTransformer(sys.argv[1], device="cpu")
print(json.dumps(m.encode(json.loads(sys.argv[2])).tolist()))
"#;
    let output = std::process::Command::new(python)
        .env("HF_HUB_OFFLINE", "1")
        .env("TRANSFORMERS_OFFLINE", "1")
        .args([
            "-c",
            script,
            best.to_str().unwrap(),
            &serde_json::to_string(&sentences).unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let py: Value = serde_json::from_slice(&output.stdout).unwrap();
    for (i, row) in py.as_array().unwrap().iter().enumerate() {
        for (j, v) in row.as_array().unwrap().iter().enumerate() {
            let d = (v.as_f64().unwrap() as f32 - rust[[i, j]]).abs();
            assert!(
                d <= 1e-5,
                "sentence {i} dim {j}: python {v} vs rust {}",
                rust[[i, j]]
            );
        }
    }
}
