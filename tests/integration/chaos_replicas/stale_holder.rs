//! The replicated chaos run's finding, reduced: a replica paused mid-rotation
//! (IAM `overlap`) past its lease resumed and stored the credential it had
//! created, after the replica that took the lease over deleted that very
//! credential as "created but never stored". The fenced store let it through
//! (AWSCURRENT had not moved yet), so Secrets Manager held a dead credential,
//! and every later rotation of it failed ("... is not among the user's
//! credentials"). Fixed: the taker moves the fence (writes the current value
//! again and makes it current) before it touches the interrupted rotation,
//! and a holder whose lease is lost never stores.

use std::time::Duration;

use rekeyd_emulator::FaultRule;

use crate::util::wait_until;

use super::{Replicas, TABLE};

const USER: &str = "stale-user";
const CREDENTIAL_ID: &str = "ACCASTALEHOLDER0000001";

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_holder_never_stores_the_credential_the_taker_deleted() {
    let env = crate::util::TestEnv::new().await;
    env.emulator
        .seed_from_json(&format!(
            r#"{{"dynamodb_tables": [{{"name": "{TABLE}", "partition_key": "credential"}}]}}"#
        ))
        .unwrap();
    env.emulator.seed_iam_user(USER).unwrap();
    env.emulator
        .seed_service_credential_with_id(USER, "codecommit.amazonaws.com", CREDENTIAL_ID)
        .unwrap();
    // Slow creations: the holder is caught with one in flight, and the taker's
    // own creation leaves the holder time to store after the taker's delete.
    env.emulator
        .inject(FaultRule::delay("CreateServiceSpecificCredential", 3000))
        .unwrap();
    let fleet = format!(
        "\n[defaults]\nevery = \"1h\"\n\n[[iam_service_credential]]\nname = \"git\"\nuser_name = \"{USER}\"\ncredential_id = \"{CREDENTIAL_ID}\"\nstrategy = \"overlap\"\n"
    );
    let mut replicas = Replicas::start(&env, &fleet);

    // The holder, its creation in flight (its intent in the lease): paused.
    let mut holder = None;
    let caught = wait_until(Duration::from_secs(20), || {
        let truth = env.truth();
        holder = (|| {
            let item = truth.dynamodb_table(TABLE)?.item("git")?;
            let owner = item["owner"]["S"].as_str()?;
            let n: usize = owner.strip_prefix("replica-")?.parse().ok()?;
            item.get("intent").is_some().then_some(n - 1)
        })();
        holder.is_some()
    })
    .await;
    assert!(caught, "no replica was caught mid-rotation");
    let holder = holder.unwrap();
    replicas.pause(
        holder,
        std::time::Instant::now() + Duration::from_secs(3600),
    );

    // The taker deletes the holder's credential as never stored...
    let deleted = wait_until(Duration::from_secs(30), || {
        env.emulator
            .calls()
            .iter()
            .any(|c| c.operation == "DeleteServiceSpecificCredential" && c.mutated)
    })
    .await;
    assert!(deleted, "no replica took the lease over and cleaned up");
    // ... and the holder resumes while the taker's own creation is in flight.
    replicas.resume_due(true);
    tokio::time::sleep(Duration::from_secs(8)).await;
    let (logs, _) = replicas.stop().await;

    let stored = env.current("rekeyd/git");
    let truth = env.truth();
    let live = truth.iam_credentials.iter().any(|c| {
        stored["credential_id"] == c.credential_id.as_str()
            && stored["service_password"] == c.service_password.as_str()
    });
    assert!(
        live,
        "rekeyd/git holds credential {} which IAM no longer has; logs:\n{}",
        stored["credential_id"],
        logs.join("\n----\n")
    );
}
