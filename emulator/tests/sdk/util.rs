//! The test environment: an emulator on 127.0.0.1:0, SDK clients pointed at it, a raw HTTP helper.

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_secretsmanager::config::Credentials;
use rekeyd_emulator::Emulator;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long any one test may take.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs a test body with a deadline.
pub async fn within<T>(body: impl Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIMEOUT, body)
        .await
        .expect("test did not finish within its deadline")
}

/// A running emulator and an SDK configuration pointing at it.
pub struct TestEnv {
    pub emulator: Emulator,
    config: SdkConfig,
}

impl TestEnv {
    /// Starts an emulator; SDK clients retry up to 3 attempts with short backoff.
    pub async fn start() -> TestEnv {
        TestEnv::start_with_attempts(3).await
    }

    /// Starts an emulator; SDK clients make at most `attempts` attempts per call.
    pub async fn start_with_attempts(attempts: u32) -> TestEnv {
        let emulator = Emulator::start("127.0.0.1:0".parse().unwrap())
            .await
            .expect("emulator binds 127.0.0.1:0");
        let config = sdk_config(&emulator.endpoint_url(), attempts).await;
        TestEnv { emulator, config }
    }

    pub fn iam(&self) -> aws_sdk_iam::Client {
        aws_sdk_iam::Client::new(&self.config)
    }

    pub fn chime(&self) -> aws_sdk_chime::Client {
        aws_sdk_chime::Client::new(&self.config)
    }

    pub fn ivs(&self) -> aws_sdk_ivsrealtime::Client {
        aws_sdk_ivsrealtime::Client::new(&self.config)
    }

    pub fn sm(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.config)
    }

    pub fn ddb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    pub fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.config)
    }

    /// The SDK configuration of the default caller (static key `AKID`).
    pub fn config(&self) -> &SdkConfig {
        &self.config
    }

    /// Sends one raw HTTP/1.1 request and returns the status, headers (lower-cased names) and body.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> RawResponse {
        raw_request(&self.emulator.endpoint_url(), method, path, headers, body).await
    }

    pub async fn shutdown(self) {
        self.emulator.shutdown().await;
    }
}

/// An SDK configuration for `endpoint`: static credentials, us-east-1, at most `attempts`
/// attempts per call with short backoff.
pub async fn sdk_config(endpoint: &str, attempts: u32) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(attempts)
                .with_initial_backoff(Duration::from_millis(10))
                .with_max_backoff(Duration::from_millis(50)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(10))
                .build(),
        )
        .load()
        .await
}

/// An answer read off the wire.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// A minimal HTTP/1.1 client: one request per connection, `Connection: close`.
pub async fn raw_request(
    endpoint: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    let host = endpoint.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host)
        .await
        .expect("connect to the emulator");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream
        .write_all(request.as_bytes())
        .await
        .expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    RawResponse {
        status,
        headers,
        body: body.to_string(),
    }
}

/// A valid ClientRequestToken made of one repeated digit.
pub fn token(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}
