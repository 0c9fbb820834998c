//! `build.rs` helper for a crate that depends on `sentence-mtl` from outside
//! this workspace.
//!
//! torch-sys (under tch) finds libtorch through the `LIBTORCH` variable,
//! which a downstream crate sets in its own `.cargo/config.toml` (`[env]`,
//! what cargo supports). What cargo cannot do from a dependency is put
//! libtorch on the final binary's run-time search path: only the crate
//! that builds the binary can pass linker arguments. [`link_libtorch`] does
//! that from the downstream crate's `build.rs`:
//!
//! ```no_run
//! // in build.rs's `main`:
//! smtl_build::link_libtorch();
//! ```
//!
//! It takes `LIBTORCH` when set, else the libtorch that `scripts/setup`
//! linked into this project's venv (`.venv/libtorch`), checks that it is the
//! version tch 0.26 needs, and emits an rpath to its `lib/` folder, so the
//! binary runs from a plain shell (no `LD_LIBRARY_PATH`).

use std::fmt;
use std::path::{Path, PathBuf};

/// The PyTorch version tch 0.26 (torch-sys) is built against.
pub const TORCH_VERSION: &str = "2.13.0";

/// A libtorch that cannot be used.
#[derive(Debug)]
pub enum Error {
    /// The folder does not exist or holds no `lib/libtorch_cpu.so`.
    NotLibtorch { path: PathBuf, why: String },
    /// Another PyTorch version.
    WrongVersion { path: PathBuf, found: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotLibtorch { path, why } => write!(
                f,
                "LIBTORCH {} is no libtorch ({why}); sentence-mtl needs PyTorch {TORCH_VERSION}: \
                 run sentence-mtl's scripts/setup and point LIBTORCH at its .venv/libtorch",
                path.display()
            ),
            Error::WrongVersion { path, found } => write!(
                f,
                "LIBTORCH {} is PyTorch {found}, but tch 0.26 needs PyTorch {TORCH_VERSION} \
                 (sentence-mtl's scripts/setup installs it into .venv/libtorch)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for Error {}

/// The libtorch this project's `scripts/setup` installed.
pub fn project_libtorch() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/libtorch")
}

/// `LIBTORCH` when set, else [`project_libtorch`]; checked.
pub fn find_libtorch() -> Result<PathBuf, Error> {
    let path = std::env::var_os("LIBTORCH")
        .map(PathBuf::from)
        .unwrap_or_else(project_libtorch);
    check(&path)?;
    Ok(path.canonicalize().unwrap_or(path))
}

/// Checks `path` is a libtorch of [`TORCH_VERSION`] (the wheel's
/// `version.py`, or libtorch's `build-version`).
pub fn check(path: &Path) -> Result<(), Error> {
    let not = |why: &str| Error::NotLibtorch {
        path: path.to_path_buf(),
        why: why.to_string(),
    };
    if !path.is_dir() {
        return Err(not("no such directory"));
    }
    if !path.join("lib/libtorch_cpu.so").is_file() {
        return Err(not("no lib/libtorch_cpu.so"));
    }
    let found = std::fs::read_to_string(path.join("version.py"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("__version__ = "))
                .map(|v| v.trim_matches(|c| c == '\'' || c == '"').to_string())
        })
        .or_else(|| std::fs::read_to_string(path.join("build-version")).ok())
        .map(|v| v.trim().split('+').next().unwrap_or("").to_string());
    match found {
        Some(v) if v == TORCH_VERSION => Ok(()),
        Some(v) => Err(Error::WrongVersion {
            path: path.to_path_buf(),
            found: v,
        }),
        None => Err(not("no version.py or build-version to tell its version")),
    }
}

/// For `build.rs`: checks the libtorch and puts its `lib/` on the binary's
/// run-time search path. Panics with a clear message (the build fails
/// there, not in the linker) when it cannot be used.
pub fn link_libtorch() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    match find_libtorch() {
        Ok(libtorch) => {
            let lib = libtorch.join("lib");
            println!("cargo:rustc-link-search=native={}", lib.display());
            println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
        }
        Err(e) => panic!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_libtorch_passes_and_bad_ones_are_named() {
        check(&project_libtorch()).expect("run scripts/setup first");
        let tmp = std::env::temp_dir().join(format!("smtl-build-{}", std::process::id()));
        let err = check(&tmp.join("nowhere")).unwrap_err().to_string();
        assert!(
            err.contains("nowhere") && err.contains(TORCH_VERSION),
            "{err}"
        );
        std::fs::create_dir_all(tmp.join("lib")).unwrap();
        std::fs::write(tmp.join("lib/libtorch_cpu.so"), b"").unwrap();
        std::fs::write(tmp.join("version.py"), "__version__ = '2.5.1+cpu'\n").unwrap();
        let err = check(&tmp).unwrap_err().to_string();
        assert!(
            err.contains("2.5.1") && err.contains(TORCH_VERSION),
            "{err}"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
