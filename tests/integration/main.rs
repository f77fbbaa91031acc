//! rekeyd's integration tests: the `rekeyd` binary against the bundled AWS
//! emulator (and moto's Secrets Manager), as a user runs it.

mod rotate;
mod util;
