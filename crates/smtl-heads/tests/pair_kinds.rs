//! The pair kinds on a tiny real checkpoint (Dense and Normalize in its
//! module pipeline): their features are the encoder's sentence embeddings,
//! their losses are the configured sentence-transformers losses on them,
//! repeated positives leave MNRL's negatives, and their bad input is typed.

use smtl_heads::pair_losses::{cosent, cosine_mse, multiple_negatives_ranking};
use smtl_heads::{
    Example, HeadConfig, HeadError, MultiTaskModel, PairLoss, PairObjective, Prediction,
    SharedEncoderModel, TaskKind,
};
use tch::{Device, Kind, Tensor};

fn encoder(name: &str) -> smtl_embedding::SentenceEncoder {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny");
    smtl_embedding::SentenceEncoder::from_dir(dir.join(name), Device::Cpu).unwrap()
}

fn pair(first: &str, second: &str, score: Option<f64>) -> Example {
    Example::Pair {
        first: first.into(),
        second: second.into(),
        score,
    }
}

/// A model with a similarity task `sts` (`loss`, score_max 5) and a
/// ranking task `rank` (symmetric or not).
fn model(loss: PairLoss, symmetric: bool) -> SharedEncoderModel {
    let mut m = SharedEncoderModel::new(encoder("cls_dense_tanh_normalize"));
    let sts = PairObjective::new(loss);
    m.add_task(
        "sts",
        HeadConfig::pair(TaskKind::SentenceSimilarity, sts),
        vec![],
    )
    .unwrap();
    let rank = PairObjective {
        symmetric,
        ..PairObjective::new(PairLoss::Mnrl)
    };
    m.add_task(
        "rank",
        HeadConfig::pair(TaskKind::PairRanking, rank),
        vec![],
    )
    .unwrap();
    m
}

const PAIRS: [(&str, &str, f64); 5] = [
    ("a man plays a flute", "a man is playing the flute", 4.8),
    ("a cat sleeps", "the stock market fell", 0.2),
    ("two dogs run on grass", "dogs are running outside", 3.6),
    ("a woman slices onions", "someone cuts an onion", 4.0),
    ("the sky is blue", "a child eats rice", 0.0),
];

fn scored() -> Vec<Example> {
    PAIRS.iter().map(|(a, b, s)| pair(a, b, Some(*s))).collect()
}

#[test]
fn features_are_the_full_pipelines_sentence_embeddings() {
    let m = model(PairLoss::Cosent, false);
    let examples = scored();
    let refs: Vec<&Example> = examples.iter().collect();
    let batch = m.make_batch("sts", &refs).unwrap();
    let features = m.features(&batch, false).unwrap();
    assert_eq!(features.size(), vec![5, 2, m.encoder().embedding_dim()]);
    let first: Vec<&str> = PAIRS.iter().map(|p| p.0).collect();
    let second: Vec<&str> = PAIRS.iter().map(|p| p.1).collect();
    for (side, texts) in [(0, first), (1, second)] {
        let want = m.encoder().encode_tensor(&texts).unwrap();
        let got = features.select(1, side);
        let d = (&got - &want).abs().max().double_value(&[]);
        assert!(d < 1e-5, "side {side} differs from encode by {d}");
    }
    // Normalize is part of the pipeline: unit rows.
    let norms = features.norm_scalaropt_dim(2, [-1].as_slice(), false);
    assert!((norms - 1.0).abs().max().double_value(&[]) < 1e-5);
}

#[test]
fn each_loss_is_the_configured_sentence_transformers_loss_on_those_embeddings() {
    let examples = scored();
    let refs: Vec<&Example> = examples.iter().collect();
    let scaled = Tensor::from_slice(&PAIRS.map(|p| (p.2 / 5.0) as f32));
    for loss in [PairLoss::Cosent, PairLoss::CosineMse] {
        let m = model(loss, false);
        let batch = m.make_batch("sts", &refs).unwrap();
        let out = tch::no_grad(|| m.forward_t(&batch, false)).unwrap();
        let features = m.features(&batch, false).unwrap();
        let (a, b) = (features.select(1, 0), features.select(1, 1));
        let want = match loss {
            PairLoss::Cosent => cosent(&a, &b, &scaled, 20.0),
            _ => cosine_mse(&a, &b, &scaled),
        };
        let got = out.loss.unwrap().double_value(&[]);
        assert!((got - want.double_value(&[])).abs() < 1e-6, "{loss:?}");
    }
    for symmetric in [false, true] {
        let m = model(PairLoss::Cosent, symmetric);
        let ranking: Vec<Example> = PAIRS.iter().map(|(a, b, _)| pair(a, b, None)).collect();
        let refs: Vec<&Example> = ranking.iter().collect();
        let batch = m.make_batch("rank", &refs).unwrap();
        let out = tch::no_grad(|| m.forward_t(&batch, false)).unwrap();
        let features = m.features(&batch, false).unwrap();
        let want = multiple_negatives_ranking(
            &features.select(1, 0),
            &features.select(1, 1),
            20.0,
            symmetric,
            None,
        );
        let got = out.loss.unwrap().double_value(&[]);
        assert!(
            (got - want.double_value(&[])).abs() < 1e-6,
            "symmetric {symmetric}"
        );
    }
}

/// Pairs 0 and 2 share their positive: for anchors 0 and 2 the other's
/// copy is no negative, and for anchor 1 and 3 it is one negative, not
/// two; so the loss is MNRL over the distinct positives (each anchor
/// against 3 candidates), not over 4 columns with a copy of an anchor's
/// own positive scored as its negative.
#[test]
fn a_repeated_positive_is_no_in_batch_negative() {
    let m = model(PairLoss::Cosent, false);
    let texts = [
        ("a man plays a flute", "music is being played"),
        ("a cat sleeps", "an animal rests"),
        ("someone strums a guitar", "music is being played"),
        ("the market fell", "stocks went down"),
    ];
    let examples: Vec<Example> = texts.iter().map(|(a, b)| pair(a, b, None)).collect();
    let refs: Vec<&Example> = examples.iter().collect();
    let batch = m.make_batch("rank", &refs).unwrap();
    let got = tch::no_grad(|| m.forward_t(&batch, false))
        .unwrap()
        .loss
        .unwrap()
        .double_value(&[]);

    let features = m.features(&batch, false).unwrap().to_kind(Kind::Double);
    let anchors = features.select(1, 0);
    let distinct = features
        .select(1, 1)
        .index_select(0, &Tensor::from_slice(&[0i64, 1, 3]));
    let scores = anchors.matmul(&distinct.transpose(0, 1)) * 20.0;
    let targets = Tensor::from_slice(&[0i64, 1, 0, 2]);
    let want = -scores
        .log_softmax(-1, Kind::Double)
        .gather(1, &targets.unsqueeze(1), false)
        .mean(Kind::Double)
        .double_value(&[]);
    assert!((got - want).abs() < 1e-5, "{got} vs {want}");

    let plain = multiple_negatives_ranking(
        &features.select(1, 0),
        &features.select(1, 1),
        20.0,
        false,
        None,
    )
    .double_value(&[]);
    assert!(
        plain > got,
        "the unmasked loss counts the copy as a negative"
    );
}

#[test]
fn a_ranking_batch_of_one_pair_has_zero_loss_and_no_nan() {
    let m = model(PairLoss::Cosent, true);
    let one = [pair("a cat sleeps", "an animal rests", None)];
    let batch = m
        .make_batch("rank", &one.iter().collect::<Vec<_>>())
        .unwrap();
    let loss = m.forward_t(&batch, true).unwrap().loss.unwrap();
    assert_eq!(loss.double_value(&[]), 0.0);
}

#[test]
fn bad_pair_input_is_a_typed_error() {
    let m = model(PairLoss::Cosent, false);
    let over = [pair("a", "b", Some(5.5))];
    let err = m
        .make_batch("sts", &over.iter().collect::<Vec<_>>())
        .unwrap_err();
    assert!(
        matches!(err, HeadError::ScoreOutOfRange { score, score_max, .. } if score == 5.5 && score_max == 5.0),
        "{err}"
    );
    let below = [pair("a", "b", Some(-0.1))];
    assert!(m
        .make_batch("sts", &below.iter().collect::<Vec<_>>())
        .is_err());

    for line in ["only one side", "a\t", "\tb", "a\tb\tc"] {
        let err = m.predict("sts", &[line]).unwrap_err();
        assert!(matches!(err, HeadError::InvalidInput(_)), "{line:?}: {err}");
    }
    let wrong = [Example::Sentence {
        text: "x".into(),
        label: None,
    }];
    assert!(matches!(
        m.make_batch("rank", &wrong.iter().collect::<Vec<_>>()),
        Err(HeadError::WrongExampleKind { .. })
    ));

    // A similarity task does not train with MNRL, nor a ranking task with CoSENT.
    let mut m2 = SharedEncoderModel::new(encoder("mean"));
    for (kind, loss) in [
        (TaskKind::SentenceSimilarity, PairLoss::Mnrl),
        (TaskKind::PairRanking, PairLoss::Cosent),
    ] {
        let err = m2
            .add_task(
                "t",
                HeadConfig::pair(kind, PairObjective::new(loss)),
                vec![],
            )
            .unwrap_err();
        assert!(matches!(err, HeadError::InvalidConfig(_)), "{err}");
    }
    let symmetric_cosent = PairObjective {
        symmetric: true,
        ..PairObjective::new(PairLoss::Cosent)
    };
    assert!(m2
        .add_task(
            "t",
            HeadConfig::pair(TaskKind::SentenceSimilarity, symmetric_cosent),
            vec![]
        )
        .is_err());
}

/// An all-zero sentence embedding has no cosine: the score is a typed
/// error naming the task and the row, never NaN; the training losses stay
/// finite on it (torch's normalize epsilon, as sentence-transformers).
#[test]
fn an_all_zero_embedding_is_an_error_in_scores_and_finite_in_losses() {
    let m = model(PairLoss::Cosent, false);
    let examples = scored();
    let refs: Vec<&Example> = examples.iter().collect();
    let batch = m.make_batch("sts", &refs).unwrap();
    let features = m.features(&batch, false).unwrap();
    let zeroed = features.copy();
    let _ = zeroed.get(3).get(1).fill_(0.0);
    let out = m.forward_features(&batch, &zeroed, false).unwrap();
    assert!(out.loss.as_ref().unwrap().double_value(&[]).is_finite());
    let err = m.decode(&batch, &out).unwrap_err();
    assert!(
        matches!(&err, HeadError::ZeroEmbedding { task, row: 3 } if task == "sts"),
        "{err}"
    );
    let scores = m.decode(
        &batch,
        &m.forward_features(&batch, &features, false).unwrap(),
    );
    assert!(scores
        .unwrap()
        .iter()
        .all(|p| matches!(p, Prediction::PairScore { score, .. } if score.is_finite())));

    let labels = Tensor::from_slice(&PAIRS.map(|p| (p.2 / 5.0) as f32));
    for name in ["cosent", "cosine_mse", "mnrl"] {
        let a = zeroed.select(1, 0).copy().set_requires_grad(true);
        let b = zeroed.select(1, 1).copy().set_requires_grad(true);
        let loss = match name {
            "cosent" => cosent(&a, &b, &labels, 20.0),
            "cosine_mse" => cosine_mse(&a, &b, &labels),
            _ => multiple_negatives_ranking(&a, &b, 20.0, true, None),
        };
        assert!(loss.double_value(&[]).is_finite(), "{name}");
        loss.backward();
        for g in [a.grad(), b.grad()] {
            let finite = g.isfinite().all().int64_value(&[]);
            assert_eq!(finite, 1, "{name}: a non-finite gradient");
        }
    }
}
