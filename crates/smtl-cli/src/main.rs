//! The `smtl` binary: exit 0 on success, 2 on bad usage (clap), 1 on any
//! other error and 130 when a signal stopped the command; one `error:` line
//! with the cause chain on stderr, never a panic.

use std::process::ExitCode;

use clap::Parser;
use smtl_cli::signals::Interrupted;

fn main() -> ExitCode {
    let cli = match smtl_cli::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version print and exit 0; usage errors exit 2.
        Err(e) => e.exit(),
    };
    match smtl_cli::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.downcast_ref::<Interrupted>().is_some() {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
