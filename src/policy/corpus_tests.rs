//! The policy corpus in tests/policies.
