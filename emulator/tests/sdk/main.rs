//! End-to-end tests: the real AWS SDK for Rust (and the AWS CLI) against the emulator over HTTP,
//! and some of the same scenarios against moto.

mod util;

mod accounts;
mod chime;
mod cli;
mod controls;
mod dynamodb;
mod faults;
mod hostile;
mod iam;
mod iam_api_keys;
mod iam_users;
mod ivs;
mod ivs_stages;
mod leases;
mod moto;
mod quotas;
mod replicas;
mod secret_stages;
mod secrets_listing;
mod secretsmanager;
