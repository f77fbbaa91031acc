//! rekeyd: a credential-rotation daemon for AWS.
//!
//! The policy (`policy`) says what to rotate and when; `providers` ask AWS for
//! new secrets, `store` writes them to Secrets Manager, `rotation` ties one
//! rotation together and `daemon` schedules them.

// Layered, lowest floor first, one group per floor: a module imports only
// from floors listed before its own, never from its own floor or a later one
// (`scripts/import-cycles` finds any cycle). Helpers that several floors use
// live on the lowest (`error`).

// Nothing from the crate.
pub mod error;
pub mod exit;
pub mod metrics;
pub mod policy;
pub mod secret;
pub mod shutdown;

// Secrets that can be compared, never shown.
pub mod token;

// AWS access and local records, over the policy.
pub mod aws;
pub mod journal;
pub mod record;

// The providers and the store; then one rotation, then the daemon's many.
pub mod lease;
pub mod providers;
pub mod store;

pub mod retiring;

pub mod rotation;

pub mod daemon;

// Read-only checks (audit reads the daemon's timing).
pub mod audit;

// The command line, on top of everything.
pub mod cli;

pub mod commands;
pub mod logging;
