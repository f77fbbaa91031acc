//! End-to-end tests: the real AWS SDK for Rust (and the AWS CLI) against the emulator over HTTP.

mod util;

mod chime;
mod cli;
mod controls;
mod faults;
mod hostile;
mod iam;
mod iam_users;
mod ivs;
mod ivs_stages;
mod quotas;
mod secrets_listing;
mod secretsmanager;
