//! rekeyd's integration tests: the `rekeyd` binary against the bundled AWS
//! emulator (and moto's Secrets Manager), as a user runs it.

mod daemon;
mod demo;
mod moto;
mod rotate;
mod util;
