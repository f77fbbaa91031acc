//! rekeyd: a credential-rotation daemon for AWS.
//!
//! The policy (`policy`) says what to rotate and when; `providers` ask AWS for
//! new secrets, `store` writes them to Secrets Manager, `rotation` ties one
//! rotation together and `daemon` schedules them.

pub mod audit;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod daemon;
pub mod exit;
pub mod journal;
pub mod lease;
pub mod logging;
pub mod metrics;
pub mod policy;
pub mod providers;
pub mod record;
pub mod retiring;
pub mod rotation;
pub mod secret;
pub mod shutdown;
pub mod store;
pub mod token;
