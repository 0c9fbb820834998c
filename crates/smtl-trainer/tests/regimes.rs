//! Training regimes on the tiny model: the cached frozen-backbone path
//! against the plain path, and gradual unfreezing.

mod common;
use common::*;

use smtl_heads::{Example, MultiTaskModel, SharedEncoderModel};
use smtl_trainer::cached::{train_cached, CachedHead, CachedTrainConfig, FeatureCache};
use smtl_trainer::{evaluate, TrainConfig, Trainer};
use tch::Tensor;

fn last_layer(model: &SharedEncoderModel) -> usize {
    model.encoder().backbone().config().num_hidden_layers as usize
}

/// Gradients of `task`'s head after one backward pass of the plain model on
/// `examples` (encoder in eval mode, as the cache is built).
fn plain_head_grads(
    model: &SharedEncoderModel,
    task: &str,
    examples: &[Example],
) -> (f64, Vec<(String, Tensor)>) {
    let refs: Vec<&Example> = examples.iter().collect();
    let batch = model.make_batch(task, &refs).unwrap();
    let loss = model.forward_t(&batch, false).unwrap().loss.unwrap();
    loss.backward();
    let prefix = format!("heads.{task}.");
    let mut grads: Vec<(String, Tensor)> = model
        .encoder()
        .var_store()
        .variables()
        .into_iter()
        .filter_map(|(n, t)| {
            n.strip_prefix(&prefix)
                .map(|k| (k.to_string(), t.grad().copy()))
        })
        .collect();
    grads.sort_by(|a, b| a.0.cmp(&b.0));
    (loss.double_value(&[]), grads)
}

fn cached_head_grads(head: &CachedHead, cache: &FeatureCache) -> (f64, Vec<(String, Tensor)>) {
    let items = Tensor::arange(cache.len() as i64, (tch::Kind::Int64, tch::Device::Cpu));
    let loss = head.loss(cache, &items, false);
    loss.backward();
    let mut grads: Vec<(String, Tensor)> = head
        .var_store()
        .variables()
        .into_iter()
        .map(|(n, t)| (n.trim_start_matches("head.").to_string(), t.grad().copy()))
        .collect();
    grads.sort_by(|a, b| a.0.cmp(&b.0));
    (loss.double_value(&[]), grads)
}

#[test]
fn the_cached_path_gives_the_plain_paths_head_gradients() {
    let _rng = lock();
    let model = tiny_model();
    for data in tasks() {
        let batch: Vec<Example> = data.train[..6].to_vec();
        let (plain_loss, plain) = plain_head_grads(&model, &data.name, &batch);
        let cache = FeatureCache::build(&model, &data.name, &batch, &[last_layer(&model)]).unwrap();
        let head = CachedHead::from_model(&model, &cache).unwrap();
        let (cached_loss, cached) = cached_head_grads(&head, &cache);
        assert!(
            (plain_loss - cached_loss).abs() < 1e-6,
            "{}: loss {plain_loss} vs {cached_loss}",
            data.name
        );
        assert_eq!(
            plain.iter().map(|g| &g.0).collect::<Vec<_>>(),
            cached.iter().map(|g| &g.0).collect::<Vec<_>>()
        );
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
    for data in tasks() {
        let expected = evaluate(&model, &data.name, &data.dev).unwrap();
        let cache =
            FeatureCache::build(&model, &data.name, &data.dev, &[last_layer(&model)]).unwrap();
        let labels = model
            .tasks()
            .into_iter()
            .find(|t| t.name == data.name)
            .unwrap()
            .labels;
        let got = CachedHead::from_model(&model, &cache)
            .unwrap()
            .evaluate(&cache, &labels)
            .unwrap();
        assert_eq!(got.predictions, expected.predictions, "{}", data.name);
        assert_eq!(got.score, expected.score);
    }
}

#[test]
fn cached_training_learns_and_keeps_the_best_dev_epoch() {
    let _rng = lock();
    let model = tiny_model();
    let layers: Vec<usize> = (0..=last_layer(&model)).collect();
    for data in tasks() {
        let spec = model
            .tasks()
            .into_iter()
            .find(|t| t.name == data.name)
            .unwrap();
        let train = FeatureCache::build(&model, &data.name, &data.train, &layers).unwrap();
        let dev = FeatureCache::build(&model, &data.name, &data.dev, &layers).unwrap();
        assert_eq!(train.features.size()[1], layers.len() as i64);
        let mut head_config = spec.head.clone();
        head_config.hidden = Some(16);
        tch::manual_seed(3);
        let mut head = CachedHead::new(&train, head_config, tch::Device::Cpu).unwrap();
        let before = head.evaluate(&dev, &spec.labels).unwrap().score;
        let config = CachedTrainConfig {
            epochs: 30,
            batch_size: 8,
            lr: 1e-2,
            weight_decay: 0.01,
            warmup_ratio: 0.1,
            seed: 5,
        };
        let fit = train_cached(&mut head, &train, &dev, &spec.labels, &config).unwrap();
        let after = head.evaluate(&dev, &spec.labels).unwrap().score;
        let best = fit.dev_scores.iter().cloned().fold(f64::MIN, f64::max);
        assert_eq!(
            after, best,
            "{}: the kept head is not the best dev epoch",
            data.name
        );
        assert!(after > before, "{}: dev {before} -> {after}", data.name);
        assert!(
            fit.trainable_parameters > 0
                && fit.optimizer_state_bytes == 2 * 4 * fit.trainable_parameters
        );
    }
}

#[test]
fn bad_cache_requests_are_typed_errors() {
    let _rng = lock();
    let model = tiny_model();
    let data = &tasks()[0];
    assert!(FeatureCache::build(&model, "topic", &[], &[1]).is_err());
    assert!(FeatureCache::build(&model, "topic", &data.train, &[]).is_err());
    assert!(FeatureCache::build(&model, "topic", &data.train, &[9]).is_err());
    assert!(FeatureCache::build(&model, "nope", &data.train, &[1]).is_err());
    let unlabelled = [Example::Sentence {
        text: "x".into(),
        label: None,
    }];
    assert!(FeatureCache::build(&model, "topic", &unlabelled, &[1]).is_err());
    let cache = FeatureCache::build(&model, "topic", &data.train, &[1]).unwrap();
    assert!(cache.keep_layers(&[0]).is_err());
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
    let embeddings = snapshot(trainer.model(), "bert.embeddings.");
    let layer0 = snapshot(trainer.model(), "bert.encoder.layer.0.");
    let layer1 = snapshot(trainer.model(), "bert.encoder.layer.1.");
    trainer.set_max_steps(steps_per_epoch);
    fit_into(&mut trainer, out.path()).unwrap();
    assert!(all_equal(
        &embeddings,
        &snapshot(trainer.model(), "bert.embeddings.")
    ));
    assert!(all_equal(
        &layer0,
        &snapshot(trainer.model(), "bert.encoder.layer.0.")
    ));
    assert!(!all_equal(
        &layer1,
        &snapshot(trainer.model(), "bert.encoder.layer.1.")
    ));

    trainer.set_max_steps(0);
    fit_into(&mut trainer, out.path()).unwrap();
    assert!(!all_equal(
        &embeddings,
        &snapshot(trainer.model(), "bert.embeddings.")
    ));
    assert!(!all_equal(
        &layer0,
        &snapshot(trainer.model(), "bert.encoder.layer.0.")
    ));
}
