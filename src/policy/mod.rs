//! The TOML policy: loading, validation and the validated model.

mod model;

pub use model::*;
