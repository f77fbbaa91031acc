//! The daemon: one slot per credential, a timeline of due times, rotations
//! run at most `concurrency` at a time and never two for one credential,
//! SIGHUP reloads that change only what changed, systemd notifications, and a
//! shutdown that lets rotations in flight finish.

mod alarm;
pub mod notify;
mod owed;
mod reads;
mod run;
mod slots;
#[cfg(test)]
mod slots_tests;
mod startup;
pub mod timing;

pub use reads::last_of_read;
pub use run::{Options, run};

use crate::policy::{CredentialName, Kind};
use crate::rotation::Rotated;
use timing::Due;

/// What the daemon tells an observer (the demo, tests).
#[derive(Debug, Clone)]
pub enum Event {
    /// The credential's next run is set.
    Scheduled { name: CredentialName, due: Due },
    Rotated {
        name: CredentialName,
        kind: Kind,
        rotated: Rotated,
    },
    Failed {
        name: CredentialName,
        kind: Kind,
        error: String,
        in_doubt: bool,
    },
}

/// How the daemon ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// Rotations still running when `shutdown_timeout` ran out.
    pub abandoned: Vec<CredentialName>,
}
