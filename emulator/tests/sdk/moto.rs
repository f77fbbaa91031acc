//! The same lease, staging-label, account and replica scenarios against moto, an independent
//! implementation of DynamoDB, Secrets Manager and STS: where both pass, the emulator agrees with it. moto 5.2's
//! known differences (AWS-NOTES.md) are avoided here and tested on the emulator alone.

use std::process::Stdio;
use std::time::Duration;

use aws_config::SdkConfig;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::util::{sdk_config, within};
use crate::{accounts, leases, replicas, secret_stages};

/// A moto server on 127.0.0.1 (a free port), killed when dropped.
struct Moto {
    config: SdkConfig,
    _child: Child,
}

impl Moto {
    /// Starts the repository's moto launcher (installed by `scripts/test`).
    async fn start() -> Moto {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/moto/serve.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("run python3 (moto is installed by scripts/test)");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let endpoint = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.starts_with("http://") {
                    return Some(line.trim().to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .expect("moto did not start: is it installed? (pip install 'moto[server]', or run scripts/test)");
        Moto {
            config: sdk_config(&endpoint, 3).await,
            _child: child,
        }
    }

    fn ddb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.config)
    }

    fn sm(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.config)
    }
}

#[tokio::test]
async fn lease_scenarios_agree_with_moto() {
    within(async {
        let moto = Moto::start().await;
        let ddb = moto.ddb();
        leases::lock_client_sequence(&ddb).await;
        leases::condition_grammar(&ddb).await;
        leases::refusals(&ddb).await;
    })
    .await;
}

#[tokio::test]
async fn fenced_store_agrees_with_moto() {
    within(async {
        let moto = Moto::start().await;
        let sm = moto.sm();
        secret_stages::fenced_store(&sm).await;
        secret_stages::stale_swap_fails(&sm).await;
    })
    .await;
}

#[tokio::test]
async fn assumed_accounts_agree_with_moto() {
    within(async {
        // moto's STS lets anyone assume any role, acting in the role's account.
        let moto = Moto::start().await;
        accounts::assumed_account_scenario(&moto.config).await;
    })
    .await;
}

#[tokio::test]
async fn replicas_agree_with_moto() {
    within(async {
        let moto = Moto::start().await;
        replicas::replica_scenario(&moto.sm()).await;
    })
    .await;
}
