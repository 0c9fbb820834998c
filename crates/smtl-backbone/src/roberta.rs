//! RoBERTa (`roberta`) and XLM-RoBERTa (`xlm-roberta`): BERT's tensor names
//! and block ([`crate::bert::NAMES`]), a one-row token-type table, and
//! fairseq's position numbering: real tokens are numbered from
//! `pad_token_id + 1`, padding sits at `pad_token_id` (so the position
//! table has `max_len + pad + 1` rows: 514 for 512 tokens). Task
//! checkpoints prefix the tensors `roberta.`, XLM-R's included.

use tch::{Kind, Tensor};

/// transformers' `create_position_ids_from_input_ids`: a token that is not
/// the padding id gets `padding_index + its rank among such tokens`, a
/// padding token gets `padding_index`. MPNet numbers positions the same way.
pub(crate) fn position_ids_after_padding(input_ids: &Tensor, padding_index: i64) -> Tensor {
    let real = input_ids.ne(padding_index).to_kind(Kind::Int64);
    real.cumsum(1, Kind::Int64) * &real + padding_index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_real_tokens_after_the_padding_index() {
        let ids = Tensor::from_slice2(&[[0i64, 9, 8, 2], [0, 7, 2, 1]]);
        let pos = position_ids_after_padding(&ids, 1);
        let got: Vec<Vec<i64>> = Vec::try_from(pos).unwrap();
        assert_eq!(got, vec![vec![2, 3, 4, 5], vec![2, 3, 4, 1]]);
    }
}
