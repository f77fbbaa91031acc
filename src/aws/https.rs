//! The one HTTPS client every SDK client shares: rustls with the *ring*
//! crypto provider and the system's trust store.
//!
//! The SDK's `default-https-client` feature brings rustls on aws-lc-rs, whose
//! C build (aws-lc-sys) costs about 40 s of every clean build on the 2-core
//! machines and a few MiB of binary; ring does the same job for a client that
//! only talks TLS 1.2/1.3 to AWS endpoints (see BENCHMARKS.md, "Build and binary").

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// An HTTPS (and plain HTTP, for local endpoints) client for the AWS SDK.
pub fn client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}
