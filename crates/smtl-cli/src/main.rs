//! The `smtl` binary: exit 0 on success, 2 on bad usage (clap), 1 on any
//! other error and 130 when a signal stopped the command; one `error:` line
//! with the cause chain on stderr, never a panic.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match smtl_cli::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print and exit 0; usage errors exit 2.
        Err(e) => e.exit(),
    };
    smtl_cli::exit_code(smtl_cli::run(&cli))
}
