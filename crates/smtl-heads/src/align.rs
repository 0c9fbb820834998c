//! Word-level labels <-> wordpiece positions.
//!
//! Only the first wordpiece of each word carries the word's label; later
//! pieces and special tokens get [`IGNORE_INDEX`](crate::IGNORE_INDEX), so
//! every word counts once in the loss. At prediction time each word takes the
//! label predicted at its first piece; a word cut off by truncation gets none.

use crate::IGNORE_INDEX;

/// Per-token label ids for one sentence, from its tokens' word ids.
pub fn labels_for_tokens(word_ids: &[Option<u32>], word_labels: &[i64]) -> Vec<i64> {
    let mut previous = None;
    word_ids
        .iter()
        .map(|w| {
            let label = match *w {
                Some(w) if previous != Some(w) => {
                    word_labels.get(w as usize).copied().unwrap_or(IGNORE_INDEX)
                }
                _ => IGNORE_INDEX,
            };
            previous = *w;
            label
        })
        .collect()
}

/// Position of each word's first token; `None` for words cut by truncation.
pub fn first_token_of_words(word_ids: &[Option<u32>], num_words: usize) -> Vec<Option<usize>> {
    let mut first = vec![None; num_words];
    for (pos, w) in word_ids.iter().enumerate() {
        if let Some(w) = *w {
            if let Some(slot) = first.get_mut(w as usize) {
                slot.get_or_insert(pos);
            }
        }
    }
    first
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_first_pieces_are_labelled() {
        // [CLS] new york ##er ! [SEP]  for words: new(0) yorker(1) !(2)
        let word_ids = [None, Some(0), Some(1), Some(1), Some(2), None];
        assert_eq!(
            labels_for_tokens(&word_ids, &[3, 4, 0]),
            vec![-100, 3, 4, -100, 0, -100]
        );
        assert_eq!(
            first_token_of_words(&word_ids, 3),
            vec![Some(1), Some(2), Some(4)]
        );
    }

    #[test]
    fn truncated_words_have_no_token() {
        let word_ids = [None, Some(0), Some(1), None];
        assert_eq!(
            first_token_of_words(&word_ids, 4),
            vec![Some(1), Some(2), None, None]
        );
    }
}
