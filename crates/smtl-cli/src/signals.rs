//! SIGINT, SIGTERM and SIGHUP as a flag: long loops (streaming embeddings,
//! training) check it between batches and stop cleanly, leaving no partial
//! output; a second signal terminates at once (exit status 130).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

static INTERRUPTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the handlers (once per process; later calls do nothing).
pub fn catch_signals() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut first = false;
    let flag = INTERRUPTED.get_or_init(|| {
        first = true;
        Arc::new(AtomicBool::new(false))
    });
    if first {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(flag))?;
            signal_hook::flag::register(sig, Arc::clone(flag))?;
        }
    }
    Ok(())
}

/// A signal has arrived since [`catch_signals`].
pub fn interrupted() -> bool {
    INTERRUPTED.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

/// The error a command returns when a signal stopped it; `main` maps it to
/// exit status 130.
#[derive(Debug, thiserror::Error)]
#[error("interrupted by a signal; {0}")]
pub struct Interrupted(pub &'static str);

/// Ends a training run at the next optimizer step once a signal arrived
/// (the checkpoint observers still write `last/`).
pub struct StopOnSignal;

impl smtl_trainer::TrainObserver for StopOnSignal {
    fn should_stop(&self) -> bool {
        interrupted()
    }
}
