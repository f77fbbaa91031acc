//! rekeyd's integration tests: the `rekeyd` binary against the bundled AWS
//! emulator (and moto's Secrets Manager), as a user runs it.

mod api_keys;
mod audit;
mod bench_scripts;
mod bench_smoke;
mod chaos;
mod chaos_replicas;
mod coordination_cli;
mod crash_safety;
mod daemon;
mod daemon_ops;
mod daemon_reads;
mod demo;
mod emulator_cli;
mod fenced_store;
mod generate;
mod hostile;
mod leases;
mod limits;
mod live_test;
mod moto;
mod no_dump;
mod overlap_grace;
mod package;
mod plan;
mod policy_cli;
mod quiet_journal;
mod quota_smoke;
mod replicas;
mod rotate;
mod systemd_units;
mod tls;
mod util;
