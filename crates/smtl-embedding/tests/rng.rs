//! Loading an encoder draws the same from libtorch's global generator every
//! time (variable initialisation before the weights are copied in), whether
//! or not the once-per-process kernel check runs inside that load: callers
//! seed the generator and then initialise heads, and the heads of a run must
//! not depend on which load came first. (Its own test binary, so that the
//! kernel check really runs inside the first load.)

mod common;

use common::*;
use smtl_embedding::SentenceEncoder;
use tch::{Device, Kind, Tensor};

fn draw_after_load() -> Tensor {
    tch::manual_seed(11);
    let _encoder = SentenceEncoder::from_dir(fixtures().join("tiny/mean"), Device::Cpu).unwrap();
    Tensor::randn([16], (Kind::Float, Device::Cpu))
}

#[test]
fn the_first_load_draws_what_every_later_load_draws() {
    let first = draw_after_load();
    let second = draw_after_load();
    assert!(first.equal(&second));
}
