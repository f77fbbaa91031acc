//! Real AWS endpoints are HTTPS: rekeyd's HTTP client (rustls on ring, the
//! system's trust store) rotates through a TLS endpoint it trusts and refuses
//! one it does not, before any provider call.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::util::TestEnv;

/// A test CA and a leaf certificate for 127.0.0.1 signed by it.
struct Certificates {
    ca: PathBuf,
    leaf: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(status.success(), "openssl {args:?} failed");
}

fn certificates(dir: &Path) -> Certificates {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=rekeyd test CA"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-subj", "/CN=127.0.0.1"];
    csr.extend(ec);
    csr.extend(["-keyout", "leaf.key", "-out", "leaf.csr"]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-days",
            "2",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-extfile",
            "leaf.ext",
            "-out",
            "leaf.pem",
        ],
    );
    Certificates {
        ca: dir.join("ca.pem"),
        leaf: dir.join("leaf.pem"),
        key: dir.join("leaf.key"),
    }
}

/// tests/support/tls_proxy.py in front of the emulator; its HTTPS URL.
async fn tls_proxy(certs: &Certificates, upstream: &str) -> (Child, String) {
    let upstream_port = upstream.rsplit(':').next().unwrap().trim_end_matches('/');
    let mut child = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/tls_proxy.py"
        ))
        .arg(&certs.leaf)
        .arg(&certs.key)
        .arg(upstream_port)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the TLS proxy");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the TLS proxy printed its port in time")
        .unwrap()
        .expect("a port line");
    (child, format!("https://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn rotates_through_a_trusted_https_endpoint_and_refuses_an_untrusted_one() {
    let env = TestEnv::new().await;
    let certs = certificates(env.dir.path());
    let (_proxy, url) = tls_proxy(&certs, &env.endpoint()).await;
    let policy = env.write_policy(&env.standard_policy("30d").replace(&env.endpoint(), &url));

    // Not trusted (the system's store has no test CA): nothing is rotated.
    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    out.assert_exit(1);
    assert!(
        out.stderr.contains("certificate") || out.stdout.contains("certificate"),
        "the error names the certificate problem:\n{}\n{}",
        out.stdout,
        out.stderr
    );
    assert_eq!(env.mutating_calls(), 0, "no provider was called");

    // Trusted through SSL_CERT_FILE, as with any rustls-native-certs client.
    let ca = certs.ca.to_str().unwrap();
    let out = env
        .rekeyd_env(&policy, &["rotate", "--all"], &[("SSL_CERT_FILE", ca)])
        .await;
    out.assert_exit(0);
    env.assert_bot_stored();
    env.assert_iam_stored();
    assert_eq!(env.version_count("rekeyd/stage-host-bob"), 1);
}
