//! `smtl info --model DIR`: what a model or checkpoint directory holds.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;
use smtl_embedding::{SentenceEncoder, SentenceStep, BACKBONE_PREFIX};
use smtl_heads::{MultiTaskModel, SharedEncoderModel};

#[derive(clap::Args, Debug, Clone)]
pub struct InfoArgs {
    /// A sentence-transformers directory or a checkpoint of `smtl train`.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

fn numel(vars: impl Iterator<Item = tch::Tensor>) -> i64 {
    vars.map(|t| t.numel() as i64).sum()
}

/// The description `smtl info` prints, as JSON.
pub fn describe(dir: &std::path::Path) -> Result<serde_json::Value> {
    let checkpoint = dir.join("tasks.json").is_file();
    let (encoder_json, tasks_json) = if checkpoint {
        let model = SharedEncoderModel::load(dir, tch::Device::Cpu)
            .with_context(|| format!("cannot load checkpoint {}", dir.display()))?;
        let vars = model.encoder().var_store().variables();
        let tasks: Vec<serde_json::Value> = model
            .tasks()
            .iter()
            .map(|t| {
                let prefix = format!("{}.{}.", smtl_heads::HEADS_PREFIX, t.name);
                json!({
                    "name": t.name,
                    "kind": t.head.kind.id(),
                    "labels": t.labels,
                    "hidden": t.head.hidden,
                    "parameters": numel(vars.iter().filter(|(n, _)| n.starts_with(&prefix)).map(|(_, v)| v.shallow_clone())),
                })
            })
            .collect();
        (encoder(model.encoder()), tasks)
    } else {
        let encoder_ = SentenceEncoder::from_dir(dir, tch::Device::Cpu)
            .with_context(|| format!("cannot load model {}", dir.display()))?;
        (encoder(&encoder_), Vec::new())
    };
    Ok(json!({
        "model": dir,
        "checkpoint": checkpoint,
        "encoder": encoder_json,
        "tasks": tasks_json,
        "backends": crate::backends(),
    }))
}

fn encoder(e: &SentenceEncoder) -> serde_json::Value {
    let c = e.backbone().config();
    let vars = e.var_store().variables();
    let count = |prefix: &str| {
        numel(
            vars.iter()
                .filter(|(n, _)| n.starts_with(prefix))
                .map(|(_, v)| v.shallow_clone()),
        )
    };
    let modules: Vec<serde_json::Value> = e
        .modules()
        .iter()
        .map(|m| json!({"name": m.name, "type": format!("{:?}", m.kind)}))
        .collect();
    let steps: Vec<String> = e
        .steps()
        .iter()
        .map(|s| match s {
            SentenceStep::Pooling(p) => format!(
                "Pooling({})",
                p.modes
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join("+")
            ),
            SentenceStep::Dense(d) => format!("Dense({} -> {})", d.in_features, d.out_features),
            SentenceStep::Normalize => "Normalize".into(),
        })
        .collect();
    let mut parameters = BTreeMap::new();
    parameters.insert("backbone", count(&format!("{BACKBONE_PREFIX}.")));
    parameters.insert("dense", count("dense."));
    json!({
        "architecture": c.family.model_type(),
        "layers": c.num_hidden_layers,
        "hidden_size": c.hidden_size,
        "attention_heads": c.num_attention_heads,
        "intermediate_size": c.intermediate_size,
        "vocab_size": c.vocab_size,
        "max_position_embeddings": c.max_position_embeddings,
        "max_seq_length": e.tokenizer().max_len(),
        "embedding_dim": e.embedding_dim(),
        "modules": modules,
        "pipeline": steps,
        "parameters": parameters,
    })
}

pub fn run(args: &InfoArgs) -> Result<()> {
    let info = describe(&args.model)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    let e = &info["encoder"];
    println!("model         {}", args.model.display());
    println!(
        "kind          {}",
        if info["checkpoint"] == true {
            "checkpoint of smtl train (encoder + task heads)"
        } else {
            "sentence-transformers model"
        }
    );
    println!(
        "architecture  {} ({} layers, hidden {}, {} heads, intermediate {}, vocab {}, max positions {})",
        e["architecture"].as_str().unwrap_or("?"),
        e["layers"],
        e["hidden_size"],
        e["attention_heads"],
        e["intermediate_size"],
        e["vocab_size"],
        e["max_position_embeddings"]
    );
    println!("max_seq_len   {}", e["max_seq_length"]);
    println!(
        "pipeline      Transformer -> {}",
        e["pipeline"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" -> ")
    );
    println!("embedding     {} dimensions", e["embedding_dim"]);
    println!(
        "parameters    backbone {}, dense {}",
        e["parameters"]["backbone"], e["parameters"]["dense"]
    );
    for t in info["tasks"].as_array().into_iter().flatten() {
        let labels: Vec<&str> = t["labels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l.as_str())
            .collect();
        println!(
            "task          {} ({}, {} parameters): {} labels: {}",
            t["name"].as_str().unwrap_or("?"),
            t["kind"].as_str().unwrap_or("?"),
            t["parameters"],
            labels.len(),
            labels.join(" ")
        );
    }
    println!(
        "backends      {}",
        info["backends"]["summary"].as_str().unwrap_or("?")
    );
    Ok(())
}
