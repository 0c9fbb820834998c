//! One file per subcommand: its flags and its `run`.

pub mod embed;
pub mod eval;
pub mod info;
pub mod merge;
pub mod predict;
pub mod train;
