//! The real-sentence corpora of the throughput measurements, built from the
//! data `scripts/setup` installs. Shared by `benches/encoder_throughput.rs`
//! and `examples/throughput_grid.rs` (`#[path]` module, so both measure the
//! same texts).
#![allow(dead_code)] // each user takes a different part

use std::path::{Path, PathBuf};

use sentence_mtl::SentenceEncoder;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn read_lossy(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run scripts/setup to install the data)",
            path.display()
        )
    });
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Line breaks and surrounding blanks out: one sentence is one line.
pub fn clean(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every real sentence of the data, in file order (TREC first, then the
/// sentiment files in name order).
pub fn real_sentences() -> Vec<String> {
    let data = root().join("data");
    let mut out = Vec::new();
    for line in read_lossy(&data.join("trec_question_labels.txt")).lines() {
        // "DESC:manner How did serfdom develop ...": drop the label.
        let text = match line.split_once(' ') {
            Some((label, rest)) if label.contains(':') => rest,
            _ => line,
        };
        let text = clean(text);
        if !text.is_empty() {
            out.push(text);
        }
    }
    let dir = data.join("hutto_ICWSM_2014");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup)", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("_GroundTruth.txt"))
        })
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no *_GroundTruth.txt in {}",
        dir.display()
    );
    for file in files {
        // "id<TAB>sentiment<TAB>text", with a header line "id sentiment text".
        for line in read_lossy(&file).lines().skip(1) {
            if let Some(text) = line.splitn(3, '\t').nth(2) {
                let text = clean(text);
                if !text.is_empty() {
                    out.push(text);
                }
            }
        }
    }
    out
}

/// `n` sentences spread evenly over `all` (every k-th), so that every source
/// contributes in proportion to its size.
pub fn spread(all: &[String], n: usize) -> Vec<String> {
    assert!(all.len() >= n, "only {} real sentences", all.len());
    (0..n).map(|i| all[i * all.len() / n].clone()).collect()
}

/// Wordpieces of a text, [CLS]/[SEP] included, counted by the encoder's own
/// tokenizer with truncation switched off.
pub struct Counter(Box<dyn Fn(&str) -> usize>);

impl Counter {
    pub fn new(encoder: &SentenceEncoder) -> Self {
        let mut tok = encoder.tokenizer().inner().clone();
        tok.with_truncation(None)
            .expect("switching truncation off cannot fail");
        Self(Box::new(move |s: &str| {
            tok.encode(s, true).expect("tokenizes").len()
        }))
    }

    pub fn count(&self, s: &str) -> usize {
        (self.0)(s)
    }

    pub fn mean(&self, sentences: &[String]) -> f64 {
        sentences.iter().map(|s| self.count(s)).sum::<usize>() as f64 / sentences.len() as f64
    }
}

/// `n` real sentences of `lo..=hi` wordpieces, spread over the data;
/// `None` when the data holds fewer than `n` of them.
pub fn natural_bucket(
    all: &[String],
    counter: &Counter,
    lo: usize,
    hi: usize,
    n: usize,
) -> Option<Vec<String>> {
    let fits: Vec<String> = all
        .iter()
        .filter(|s| (lo..=hi).contains(&counter.count(s)))
        .cloned()
        .collect();
    (fits.len() >= n).then(|| spread(&fits, n))
}

/// `n` texts of at most (and close to) `target` wordpieces: consecutive real
/// sentences joined until the target is reached, then cut back at a word
/// boundary.
pub fn long_bucket(all: &[String], counter: &Counter, target: usize, n: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    // Start each text at a different place in the data.
    for i in 0..n {
        let mut j = i * all.len() / n;
        let mut text = String::new();
        while counter.count(&text) < target {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(&all[j % all.len()]);
            j += 1;
        }
        // Largest prefix of words that fits (binary search on the word count).
        let words: Vec<&str> = text.split(' ').collect();
        let (mut lo, mut hi) = (1usize, words.len());
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if counter.count(&words[..mid].join(" ")) <= target {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        out.push(words[..lo].join(" "));
    }
    out
}
