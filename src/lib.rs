//! rekeyd: a credential-rotation daemon for AWS.

pub mod policy;
