//! AdamW: parity with torch.optim.AdamW, frozen groups, freezing mid-run,
//! state save/load, gradient bookkeeping and clipping.

use serde_json::Value;
use smtl_trainer::optim::{decays, AdamW, AdamWConfig, GroupSettings};
use smtl_trainer::TrainError;
use tch::{Kind, Tensor};

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/trainer/adamw.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("fixture JSON")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn values(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()
}

/// Backward of `sum_i (p_i * g_i).sum()`, which gives each `p_i` exactly the gradient `g_i`.
fn give_grads(pairs: &[(&Tensor, &Tensor)]) {
    let loss = pairs
        .iter()
        .map(|(p, g)| (*p * *g).sum(Kind::Float))
        .reduce(|a, b| a + b)
        .expect("at least one gradient");
    loss.backward();
}

/// A deep copy that is a fresh leaf (`Tensor::copy` of a tensor that requires
/// grad records the copy in the graph).
fn snapshot(t: &Tensor) -> Tensor {
    t.detach().copy()
}

fn settings(lr: f64, weight_decay: f64, frozen: bool) -> GroupSettings {
    GroupSettings {
        lr,
        weight_decay,
        frozen,
    }
}

#[test]
fn matches_torch_adamw() {
    let fx = fixture();
    let c = &fx["config"];
    let config = AdamWConfig {
        beta1: c["beta1"].as_f64().unwrap(),
        beta2: c["beta2"].as_f64().unwrap(),
        eps: c["eps"].as_f64().unwrap(),
        // torch.optim.AdamW decays every parameter it is given.
        decay_bias_and_norm: true,
    };
    let mut params = Vec::new(); // (param name, shape, tensor)
    let mut groups = Vec::new();
    for g in fx["groups"].as_array().unwrap() {
        let name = g["param"].as_str().unwrap().to_string();
        let shape: Vec<i64> = g["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_i64().unwrap())
            .collect();
        let t = Tensor::from_slice(&floats(&fx["initial"][&name])).reshape(&shape);
        params.push((name.clone(), shape, t.shallow_clone()));
        groups.push((
            g["name"].as_str().unwrap().to_string(),
            settings(
                g["lr"].as_f64().unwrap(),
                g["weight_decay"].as_f64().unwrap(),
                g["frozen"].as_bool().unwrap(),
            ),
            vec![(name, t)],
        ));
    }
    let mut opt = AdamW::new(groups, config);
    assert_eq!(opt.group_names(), ["body", "head", "frozen"]);
    assert!(!params[2].2.requires_grad() && params[0].2.requires_grad());
    assert_eq!(opt.trainable_parameter_count(), 9);

    let mut worst = 0f32;
    for (k, step) in fx["steps"].as_array().unwrap().iter().enumerate() {
        opt.zero_grad();
        let grads: Vec<(&Tensor, Tensor)> = params
            .iter()
            .filter(|(name, _, _)| !step["grads"][name].is_null())
            .map(|(name, shape, t)| {
                (
                    t,
                    Tensor::from_slice(&floats(&step["grads"][name])).reshape(shape),
                )
            })
            .collect();
        give_grads(&grads.iter().map(|(p, g)| (*p, g)).collect::<Vec<_>>());
        opt.step(step["lr_factor"].as_f64().unwrap()).unwrap();
        for (name, _, t) in &params {
            let want = floats(&step["expected"][name]);
            let got = values(t);
            for (a, b) in got.iter().zip(&want) {
                worst = worst.max((a - b).abs());
                assert!(
                    (a - b).abs() <= 1e-6,
                    "step {k} param {name}: {got:?} vs {want:?}"
                );
            }
        }
    }
    eprintln!("max |rust - torch| over all steps: {worst:e}");
    // "b" had no gradient at one step: 4 steps of state, like torch; "f" none.
    let meta = opt.state_meta();
    assert_eq!(meta["step"]["w"], 5);
    assert_eq!(meta["step"]["b"], 4);
    assert!(meta["step"].get("f").is_none());
    assert_eq!(opt.state_bytes(), (6 + 3) * 2 * 4);
}

#[test]
fn frozen_group_is_bit_identical_and_stateless() {
    tch::manual_seed(0);
    let w = Tensor::randn([4, 3], (Kind::Float, tch::Device::Cpu));
    let f = Tensor::randn([5], (Kind::Float, tch::Device::Cpu)).set_requires_grad(true);
    // Leave a nonzero gradient on the frozen parameter.
    give_grads(&[(&f, &Tensor::ones([5], (Kind::Float, tch::Device::Cpu)))]);
    let f_before = snapshot(&f);
    let mut opt = AdamW::new(
        vec![
            (
                "body".into(),
                settings(1e-2, 0.1, false),
                vec![("w".into(), w.shallow_clone())],
            ),
            (
                "frozen".into(),
                settings(1e-2, 0.5, true),
                vec![("f".into(), f.shallow_clone())],
            ),
        ],
        AdamWConfig::default(),
    );
    assert!(!f.requires_grad());
    assert!(f.grad().defined() && f.grad().abs().sum(Kind::Float).double_value(&[]) > 0.0);
    let w_before = snapshot(&w);
    for _ in 0..20 {
        give_grads(&[(&w, &Tensor::randn([4, 3], (Kind::Float, tch::Device::Cpu)))]);
        opt.clip_grad_norm(1.0);
        opt.step(1.0).unwrap();
    }
    assert!(f.equal(&f_before), "frozen parameter changed");
    assert!(!w.equal(&w_before), "trainable parameter did not move");
    assert!(opt.state_tensors().iter().all(|(n, _)| !n.ends_with(".f")));
    assert_eq!(
        opt.state_tensors()
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>(),
        ["exp_avg.w", "exp_avg_sq.w"]
    );
    assert!(opt.state_meta()["step"].get("f").is_none());
    assert_eq!(opt.trainable_parameter_count(), 12);
}

#[test]
fn freezing_drops_state_and_unfreezing_starts_fresh() {
    tch::manual_seed(1);
    let opts = (Kind::Float, tch::Device::Cpu);
    let a = Tensor::randn([3, 2], opts);
    let b = Tensor::randn([2], opts);
    let mut opt = AdamW::new(
        vec![
            (
                "a".into(),
                settings(1e-2, 0.01, false),
                vec![("a.weight".into(), a.shallow_clone())],
            ),
            (
                "b".into(),
                settings(1e-2, 0.01, false),
                vec![("b.bias".into(), b.shallow_clone())],
            ),
        ],
        AdamWConfig::default(),
    );
    for _ in 0..3 {
        opt.zero_grad();
        give_grads(&[
            (&a, &Tensor::randn([3, 2], opts)),
            (&b, &Tensor::randn([2], opts)),
        ]);
        opt.step(1.0).unwrap();
    }
    assert_eq!(opt.state_meta()["step"]["a.weight"], 3);
    let bytes_before = opt.state_bytes();

    opt.set_frozen("a", true).unwrap();
    assert!(opt.settings("a").unwrap().frozen);
    assert!(!a.requires_grad());
    assert!(opt.state_meta()["step"].get("a.weight").is_none());
    assert!(opt
        .state_tensors()
        .iter()
        .all(|(n, _)| !n.ends_with("a.weight")));
    assert_eq!(opt.state_bytes(), bytes_before - 2 * 6 * 4);
    assert_eq!(opt.trainable_parameter_count(), 2);
    let a_frozen = snapshot(&a);
    for _ in 0..2 {
        opt.zero_grad();
        give_grads(&[(&b, &Tensor::randn([2], opts))]);
        opt.step(1.0).unwrap();
    }
    assert!(a.equal(&a_frozen));
    assert_eq!(opt.state_meta()["step"]["b.bias"], 5);

    opt.set_frozen("a", false).unwrap();
    assert!(a.requires_grad());
    // One step after unfreezing equals the first step of a brand-new optimizer.
    let a_fresh = snapshot(&a);
    let mut fresh = AdamW::new(
        vec![(
            "a".into(),
            settings(1e-2, 0.01, false),
            vec![("a.weight".into(), a_fresh.shallow_clone())],
        )],
        AdamWConfig::default(),
    );
    let g = Tensor::randn([3, 2], opts);
    opt.zero_grad();
    give_grads(&[(&a, &g)]);
    opt.step(0.5).unwrap();
    give_grads(&[(&a_fresh, &g)]);
    fresh.step(0.5).unwrap();
    assert!(
        a.equal(&a_fresh),
        "unfrozen group did not start from fresh state"
    );
    assert_eq!(opt.state_meta()["step"]["a.weight"], 1);
    // b had no gradient in that step: untouched, step count unchanged.
    assert_eq!(opt.state_meta()["step"]["b.bias"], 5);

    assert!(matches!(
        opt.set_frozen("nope", true),
        Err(TrainError::InvalidConfig(_))
    ));
    assert!(matches!(
        opt.set_lr("nope", 1.0),
        Err(TrainError::InvalidConfig(_))
    ));
    opt.set_lr("a", 3e-4).unwrap();
    assert_eq!(opt.settings("a").unwrap().lr, 3e-4);
    assert!(opt.settings("nope").is_none());
}

fn two_group_optimizer(a: &Tensor, b: &Tensor) -> AdamW {
    AdamW::new(
        vec![
            (
                "body".into(),
                settings(2e-2, 0.05, false),
                vec![("a".into(), a.shallow_clone())],
            ),
            (
                "head".into(),
                settings(1e-2, 0.0, false),
                vec![("b".into(), b.shallow_clone())],
            ),
        ],
        AdamWConfig {
            beta1: 0.8,
            beta2: 0.99,
            eps: 1e-6,
            decay_bias_and_norm: false,
        },
    )
}

#[test]
fn state_round_trip_gives_bitwise_identical_steps() {
    tch::manual_seed(2);
    let opts = (Kind::Float, tch::Device::Cpu);
    let grads: Vec<(Tensor, Tensor)> = (0..6)
        .map(|_| (Tensor::randn([4, 4], opts), Tensor::randn([4], opts)))
        .collect();
    let a1 = Tensor::randn([4, 4], opts);
    let b1 = Tensor::randn([4], opts);
    let mut opt1 = two_group_optimizer(&a1, &b1);
    for (k, (ga, gb)) in grads[..3].iter().enumerate() {
        opt1.zero_grad();
        // b gets no gradient at step 1, so the two step counts differ.
        if k == 1 {
            give_grads(&[(&a1, ga)]);
        } else {
            give_grads(&[(&a1, ga), (&b1, gb)]);
        }
        opt1.step(1.0 - 0.1 * k as f64).unwrap();
    }
    // Save: tensors through a safetensors file, meta through JSON text.
    let dir = tempfile::tempdir().unwrap();
    let st = dir.path().join("optim.safetensors");
    let saved = opt1.state_tensors();
    Tensor::write_safetensors(&saved, &st).unwrap();
    let meta_text = serde_json::to_string(&opt1.state_meta()).unwrap();
    assert_eq!(opt1.state_meta()["step"]["a"], 3);
    assert_eq!(opt1.state_meta()["step"]["b"], 2);

    let a2 = snapshot(&a1);
    let b2 = snapshot(&b1);
    let mut opt2 = two_group_optimizer(&a2, &b2);
    let loaded = Tensor::read_safetensors(&st).unwrap();
    opt2.load_state(loaded, &serde_json::from_str(&meta_text).unwrap())
        .unwrap();
    assert_eq!(opt2.state_meta(), opt1.state_meta());
    assert_eq!(opt2.state_bytes(), opt1.state_bytes());

    for (k, (ga, gb)) in grads[3..].iter().enumerate() {
        for (opt, a, b) in [(&mut opt1, &a1, &b1), (&mut opt2, &a2, &b2)] {
            opt.zero_grad();
            give_grads(&[(a, ga), (b, gb)]);
            opt.clip_grad_norm(2.0);
            opt.step(0.7 + 0.1 * k as f64).unwrap();
        }
        assert!(
            a1.equal(&a2) && b1.equal(&b2),
            "step {k} after load differs"
        );
    }
    for ((n1, t1), (n2, t2)) in opt1.state_tensors().iter().zip(opt2.state_tensors().iter()) {
        assert_eq!(n1, n2);
        assert!(t1.equal(t2), "{n1}");
    }
    // state_tensors are copies: later steps do not change what was saved.
    let saved_again = Tensor::read_safetensors(&st).unwrap();
    for (n, t) in &saved {
        let on_disk = &saved_again.iter().find(|(m, _)| m == n).unwrap().1;
        assert!(t.equal(on_disk), "{n}");
    }
}

#[test]
fn load_state_rejects_mismatches_and_changes_nothing() {
    let opts = (Kind::Float, tch::Device::Cpu);
    let a = Tensor::randn([2, 2], opts);
    let b = Tensor::randn([3], opts);
    let mut opt = two_group_optimizer(&a, &b);
    give_grads(&[
        (&a, &Tensor::ones([2, 2], opts)),
        (&b, &Tensor::ones([3], opts)),
    ]);
    opt.step(1.0).unwrap();
    let tensors = opt.state_tensors();
    let meta = opt.state_meta();
    let clone = |ts: &[(String, Tensor)]| {
        ts.iter()
            .map(|(n, t)| (n.clone(), snapshot(t)))
            .collect::<Vec<_>>()
    };

    let mut target = two_group_optimizer(&snapshot(&a), &snapshot(&b));
    let cases: Vec<(Vec<(String, Tensor)>, Value)> = vec![
        // a tensor without a step count
        (
            {
                let mut t = clone(&tensors);
                t.push(("exp_avg.zzz".into(), Tensor::zeros([1], opts)));
                t
            },
            meta.clone(),
        ),
        // a missing moment
        (clone(&tensors[1..]), meta.clone()),
        // wrong shape
        (
            clone(&tensors)
                .into_iter()
                .map(|(n, t)| {
                    if n == "exp_avg.a" {
                        (n, Tensor::zeros([4], opts))
                    } else {
                        (n, t)
                    }
                })
                .collect(),
            meta.clone(),
        ),
        // unknown parameter
        (clone(&tensors), {
            let mut m = meta.clone();
            m["step"]["ghost"] = 1.into();
            m
        }),
        // bad step count
        (clone(&tensors), {
            let mut m = meta.clone();
            m["step"]["a"] = 0.into();
            m
        }),
        // no step map
        (clone(&tensors), serde_json::json!({})),
    ];
    for (i, (t, m)) in cases.into_iter().enumerate() {
        let err = target.load_state(t, &m).unwrap_err();
        assert!(
            matches!(err, TrainError::InvalidState(_)),
            "case {i}: {err}"
        );
        assert_eq!(target.state_bytes(), 0, "case {i} changed the state");
    }
    // State for a frozen group is refused.
    target.set_frozen("head", true).unwrap();
    assert!(target.load_state(clone(&tensors), &meta).is_err());
    target.set_frozen("head", false).unwrap();
    target.load_state(clone(&tensors), &meta).unwrap();
    assert_eq!(target.state_meta(), meta);
}

#[test]
fn untouched_gradients_count_as_absent() {
    let opts = (Kind::Float, tch::Device::Cpu);
    let a = Tensor::randn([3], opts);
    let b = Tensor::randn([3], opts);
    let mut opt = two_group_optimizer(&a, &b);
    give_grads(&[
        (&a, &Tensor::ones([3], opts)),
        (&b, &Tensor::ones([3], opts)),
    ]);
    opt.step(1.0).unwrap();
    opt.zero_grad();
    // Dropped, as torch's set_to_none=True...
    assert!(!b.grad().defined());
    // ...so, untouched by the next backward, it is skipped like torch's None.
    let b_before = snapshot(&b);
    let a_before = snapshot(&a);
    give_grads(&[(&a, &Tensor::ones([3], opts))]);
    assert!((opt.clip_grad_norm(1e9) - 3f64.sqrt()).abs() < 1e-6);
    opt.step(1.0).unwrap();
    assert!(b.equal(&b_before), "parameter without gradient moved");
    assert!(!a.equal(&a_before));
    assert_eq!(opt.state_meta()["step"]["b"], 1);
    assert_eq!(opt.state_meta()["step"]["a"], 2);
    // A real gradient that happens to be zero still counts (torch updates it).
    opt.zero_grad();
    give_grads(&[(&b, &Tensor::zeros([3], opts))]);
    opt.step(1.0).unwrap();
    assert_eq!(opt.state_meta()["step"]["b"], 2);
    assert_eq!(opt.state_meta()["step"]["a"], 2);
    // No gradients at all: clipping reports 0.
    opt.zero_grad();
    assert_eq!(opt.clip_grad_norm(1.0), 0.0);
}

#[test]
fn clip_grad_norm_matches_torch_semantics() {
    let opts = (Kind::Float, tch::Device::Cpu);
    let a = Tensor::zeros([2], opts);
    let b = Tensor::zeros([1], opts);
    let f = Tensor::zeros([1], opts).set_requires_grad(true);
    give_grads(&[(&f, &Tensor::from_slice(&[100f32]))]);
    let mut opt = AdamW::new(
        vec![
            (
                "body".into(),
                settings(1e-3, 0.0, false),
                vec![("a".into(), a.shallow_clone())],
            ),
            (
                "head".into(),
                settings(1e-3, 0.0, false),
                vec![("b".into(), b.shallow_clone())],
            ),
            (
                "frozen".into(),
                settings(1e-3, 0.0, true),
                vec![("f".into(), f.shallow_clone())],
            ),
        ],
        AdamWConfig::default(),
    );
    give_grads(&[
        (&a, &Tensor::from_slice(&[3f32, 0.0])),
        (&b, &Tensor::from_slice(&[4f32])),
    ]);
    // The frozen parameter's gradient is not counted: norm 5, not ~100.
    let norm = opt.clip_grad_norm(10.0);
    assert!((norm - 5.0).abs() < 1e-6, "{norm}");
    assert_eq!(values(&a.grad()), [3.0, 0.0]); // below max_norm: untouched
    let norm = opt.clip_grad_norm(1.0);
    assert!((norm - 5.0).abs() < 1e-6);
    let coef = 1.0 / (5.0 + 1e-6);
    let ga = values(&a.grad());
    let gb = values(&b.grad());
    assert!((ga[0] as f64 - 3.0 * coef).abs() < 1e-6 && ga[1] == 0.0);
    assert!((gb[0] as f64 - 4.0 * coef).abs() < 1e-6);
    assert_eq!(values(&f.grad()), [100.0]);
    // A non-finite norm is reported and the gradients are left alone.
    opt.zero_grad();
    give_grads(&[(&a, &Tensor::from_slice(&[f32::INFINITY, 1.0]))]);
    assert!(!opt.clip_grad_norm(1.0).is_finite());
    assert_eq!(values(&a.grad())[1], 1.0);
}

#[test]
#[should_panic(expected = "duplicate parameter name")]
fn duplicate_parameter_names_panic() {
    let t = Tensor::zeros([1], (Kind::Float, tch::Device::Cpu));
    let _ = AdamW::new(
        vec![
            (
                "x".into(),
                settings(1e-3, 0.0, false),
                vec![("p".into(), snapshot(&t))],
            ),
            (
                "y".into(),
                settings(1e-3, 0.0, false),
                vec![("p".into(), snapshot(&t))],
            ),
        ],
        AdamWConfig::default(),
    );
}

/// The Hugging Face Trainer's rule: biases and normalisation weights take no
/// weight decay by default; with `decay_bias_and_norm` everything does.
#[test]
fn biases_and_norms_are_exempt_from_weight_decay() {
    for name in [
        "encoder.layer.0.attention.self.query.bias",
        "embeddings.LayerNorm.weight",
        "transformer.layer.1.sa_layer_norm.weight",
        "encoder.layer.0.output_layer_norm.weight",
        "model.norm.weight",
        "layers.2.rmsnorm.weight",
    ] {
        assert!(!decays(name), "{name} should be exempt");
    }
    for name in [
        "encoder.layer.0.attention.self.query.weight",
        "embeddings.word_embeddings.weight",
        "head:trec.output.weight",
        "normal.weight",
    ] {
        assert!(decays(name), "{name} should decay");
    }
    // With a zero gradient AdamW moves a parameter by its decay alone.
    for (decay_all, bias_moves) in [(false, false), (true, true)] {
        let opts = (Kind::Float, tch::Device::Cpu);
        let w = Tensor::ones([2, 2], opts);
        let b = Tensor::ones([2], opts);
        let mut opt = AdamW::new(
            vec![(
                "layer.0".into(),
                settings(0.1, 0.5, false),
                vec![
                    ("layer.0.dense.weight".into(), w.shallow_clone()),
                    ("layer.0.dense.bias".into(), b.shallow_clone()),
                ],
            )],
            AdamWConfig {
                decay_bias_and_norm: decay_all,
                ..AdamWConfig::default()
            },
        );
        give_grads(&[
            (&w, &Tensor::zeros([2, 2], opts)),
            (&b, &Tensor::zeros([2], opts)),
        ]);
        opt.step(1.0).unwrap();
        assert_eq!(values(&w), [0.95; 4]);
        assert_eq!(values(&b) == [1.0, 1.0], !bias_moves, "{:?}", values(&b));
    }
}
