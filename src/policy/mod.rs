//! The TOML policy: loading, validation and the validated model.
//!
//! [`load`] reads a file, [`parse`] checks text: the TOML is read table by
//! table into a raw serde mirror (`raw.rs`, `read.rs`), then validated into
//! [`Policy`] (`validate/`). Every problem of the file is reported at once,
//! each with its line, credential and key.

mod chunks;
mod model;
mod problems;
mod raw;
mod read;
mod validate;
mod values;

#[cfg(test)]
mod accounts_tests;
#[cfg(test)]
mod check_tests;
#[cfg(test)]
mod coordination_tests;
#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod hooks_tests;
#[cfg(test)]
mod report_tests;
#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};

pub use model::*;
pub use problems::{Problem, Problems};

/// The commented example policy printed by `rekeyd example-policy`.
pub const EXAMPLE: &str = include_str!("../../config/example.toml");

/// Why a policy could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy file {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// One line per problem, each `FILE:LINE: ...`.
    #[error("{0}")]
    Invalid(Problems),
}

impl Policy {
    /// Logs what is valid in the policy but probably not meant, one line each.
    pub fn log_warnings(&self) {
        for warning in &self.warnings {
            tracing::warn!(policy = %self.source.display(), "{warning}");
        }
    }
}

/// Reads and validates the policy file at `path`.
pub fn load(path: &Path) -> Result<Policy, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text).map_err(PolicyError::Invalid)
}

/// Validates policy `text`; `file` is used only in messages and [`Policy::source`].
pub fn parse(file: &Path, text: &str) -> Result<Policy, Problems> {
    let mut sink = problems::Sink::new(text);
    if let Some(mut policy) = chunks::check_valid(text, file, &mut sink) {
        policy.warnings = sink.warnings(file);
        return Ok(policy);
    }
    let raw = read::read(text, &mut sink);
    match validate::validate(raw, file, &mut sink) {
        Some(mut policy) if sink.is_empty() => {
            policy.warnings = sink.warnings(file);
            Ok(policy)
        }
        _ => {
            if sink.is_empty() {
                // Not expected: every rejection pushes its reason.
                let ctx = problems::Ctx::root();
                sink.push(&ctx, 0, "", "the policy is invalid");
            }
            Err(sink.finish(file.to_owned()))
        }
    }
}
