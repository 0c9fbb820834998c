//! Training regimes on the tiny model: the cached frozen-backbone path
//! against the plain path, and gradual unfreezing.

mod common;
use common::*;

use smtl_heads::{Example, MultiTaskModel, SharedEncoderModel, TaskBatch};
use smtl_trainer::{
    evaluate, evaluate_with, CachedSplit, FeatureCache, TaskData, TrainConfig, TrainError, Trainer,
};
use tch::Tensor;

/// Loss and head gradients of one backward pass of `model` on `features`.
fn head_grads(
    model: &SharedEncoderModel,
    batch: &TaskBatch,
    features: &Tensor,
) -> (f64, Vec<(String, Tensor)>) {
    for (_, t) in model.encoder().var_store().variables() {
        let mut g = t.grad();
        if g.defined() {
            let _ = g.zero_();
        }
    }
    let loss = model
        .forward_features(batch, features, false)
        .unwrap()
        .loss
        .unwrap();
    loss.backward();
    let prefix = format!("heads.{}.", batch.task);
    let mut grads: Vec<(String, Tensor)> = model
        .encoder()
        .var_store()
        .variables()
        .into_iter()
        .filter(|(n, _)| n.starts_with(&prefix))
        .map(|(n, t)| (n, t.grad().copy()))
        .collect();
    grads.sort_by(|a, b| a.0.cmp(&b.0));
    (loss.double_value(&[]), grads)
}

/// Heads only: the encoder's variables stay frozen (as `freeze =
/// ["backbone"]` leaves them), the heads' take gradients.
fn heads_trainable(model: &SharedEncoderModel) {
    for (n, t) in model.encoder().var_store().variables() {
        let _ = t.set_requires_grad(n.starts_with("heads."));
    }
}

#[test]
fn cached_features_give_the_plain_paths_loss_and_head_gradients() {
    let _rng = lock();
    let model = tiny_model();
    heads_trainable(&model);
    for data in tasks() {
        let examples: Vec<Example> = data.train[..6].to_vec();
        let refs: Vec<&Example> = examples.iter().collect();
        let batch = model.make_batch(&data.name, &refs).unwrap();
        let plain_features = model.features(&batch, false).unwrap();
        let (plain_loss, plain) = head_grads(&model, &batch, &plain_features);
        let cache = FeatureCache::build(
            &model,
            &[TaskData {
                name: data.name.clone(),
                train: examples.clone(),
                dev: Vec::new(),
            }],
        )
        .unwrap();
        // Rows come back in the batch's order, padded to its width.
        let cached_features = cache
            .batch(&data.name, CachedSplit::Train, &[0, 1, 2, 3, 4, 5])
            .unwrap();
        assert_eq!(
            cached_features.size(),
            plain_features.size(),
            "{}",
            data.name
        );
        let (cached_loss, cached) = head_grads(&model, &batch, &cached_features);
        assert!(
            (plain_loss - cached_loss).abs() < 1e-6,
            "{}: loss {plain_loss} vs {cached_loss}",
            data.name
        );
        assert!(!plain.is_empty());
        for ((name, a), (_, b)) in plain.iter().zip(&cached) {
            let diff = (a - b).abs().max().double_value(&[]);
            let scale = a.abs().max().double_value(&[]);
            assert!(scale > 0.0, "{}: {name} has no gradient", data.name);
            assert!(
                diff <= 1e-5,
                "{}: {name} gradient differs by {diff}",
                data.name
            );
        }
    }
}

#[test]
fn cached_predictions_equal_the_models_predictions() {
    let _rng = lock();
    let model = tiny_model();
    let all = tasks();
    let cache = FeatureCache::build(&model, &all).unwrap();
    assert!(cache.bytes() > 0);
    for data in &all {
        let expected = evaluate(&model, &data.name, &data.dev).unwrap();
        let got = evaluate_with(&model, &data.name, &data.dev, Some(&cache)).unwrap();
        assert_eq!(got.predictions, expected.predictions, "{}", data.name);
        assert_eq!(got.score, expected.score);
    }
}

#[test]
fn the_trainer_trains_heads_over_cached_features() {
    let _rng = lock();
    let out = tempfile::tempdir().unwrap();
    let model = tiny_model();
    let backbone_before = snapshot(&model, "backbone.");
    let heads_before = snapshot(&model, "heads.");
    let before: Vec<f64> = tasks()
        .iter()
        .map(|t| evaluate(&model, &t.name, &t.dev).unwrap().score)
        .collect();
    let mut trainer = Trainer::new(
        model,
        tasks(),
        TrainConfig {
            freeze: vec!["backbone".parse().unwrap()],
            cache_features: true,
            head_lr: 5e-2,
            ..config(8)
        },
    )
    .unwrap();
    let history = fit_into(&mut trainer, out.path()).unwrap();
    assert!(all_equal(
        &backbone_before,
        &snapshot(trainer.model(), "backbone.")
    ));
    assert!(!all_equal(
        &heads_before,
        &snapshot(trainer.model(), "heads.")
    ));
    // best/ holds the best dev epoch.
    let best_dev = history
        .epochs
        .iter()
        .filter_map(|e| e.dev_score)
        .fold(f64::MIN, f64::max);
    assert_eq!(trainer.state().best_score, Some(best_dev));
    let best = SharedEncoderModel::load(&out.path().join("best"), tch::Device::Cpu).unwrap();
    let after: Vec<f64> = tasks()
        .iter()
        .map(|t| evaluate(&best, &t.name, &t.dev).unwrap().score)
        .collect();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    assert!(
        (mean(&after) - best_dev).abs() < 1e-9,
        "{after:?} vs {best_dev}"
    );
    assert!(mean(&after) > mean(&before), "dev {before:?} -> {after:?}");
}

#[test]
fn the_cache_needs_a_frozen_encoder() {
    let _rng = lock();
    for config in [
        TrainConfig {
            cache_features: true,
            ..config(1)
        },
        TrainConfig {
            cache_features: true,
            freeze: vec!["bottom:1".parse().unwrap()],
            ..config(1)
        },
        TrainConfig {
            cache_features: true,
            freeze: vec!["backbone".parse().unwrap()],
            gradual_unfreezing: true,
            ..config(2)
        },
    ] {
        let err = Trainer::new(tiny_model(), tasks(), config).err().unwrap();
        assert!(matches!(err, TrainError::InvalidConfig(_)), "{err}");
        assert!(err.to_string().contains("cache_features"), "{err}");
    }
    let cache = FeatureCache::build(&tiny_model(), &tasks()).unwrap();
    assert!(cache.batch("nope", CachedSplit::Train, &[0]).is_err());
    assert!(cache.batch("topic", CachedSplit::Train, &[999]).is_err());
}

#[test]
fn gradual_unfreezing_opens_the_encoder_from_the_top() {
    let _rng = lock();
    let out = tempfile::tempdir().unwrap();
    let config = TrainConfig {
        gradual_unfreezing: true,
        ..config(2)
    };
    let mut trainer = Trainer::new(tiny_model(), tasks(), config).unwrap();
    // 2 layers over 2 epochs: the top layer first, then everything.
    assert_eq!(
        trainer.frozen_during(0).unwrap(),
        [
            smtl_heads::GroupId::Embeddings,
            smtl_heads::GroupId::Layer(0)
        ]
    );
    assert!(trainer.frozen_during(1).unwrap().is_empty());

    let steps_per_epoch = trainer.epoch_batches(0).len();
    let embeddings = snapshot(trainer.model(), "backbone.embeddings.");
    let layer0 = snapshot(trainer.model(), "backbone.encoder.layer.0.");
    let layer1 = snapshot(trainer.model(), "backbone.encoder.layer.1.");
    trainer.set_max_steps(steps_per_epoch);
    fit_into(&mut trainer, out.path()).unwrap();
    assert!(all_equal(
        &embeddings,
        &snapshot(trainer.model(), "backbone.embeddings.")
    ));
    assert!(all_equal(
        &layer0,
        &snapshot(trainer.model(), "backbone.encoder.layer.0.")
    ));
    assert!(!all_equal(
        &layer1,
        &snapshot(trainer.model(), "backbone.encoder.layer.1.")
    ));

    trainer.set_max_steps(0);
    fit_into(&mut trainer, out.path()).unwrap();
    assert!(!all_equal(
        &embeddings,
        &snapshot(trainer.model(), "backbone.embeddings.")
    ));
    assert!(!all_equal(
        &layer0,
        &snapshot(trainer.model(), "backbone.encoder.layer.0.")
    ));
}
