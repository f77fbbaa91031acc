//! The replicated chaos run's second finding, reduced: a replica paused
//! mid-rotation of a Chime bot past its lease resumed and stored the token
//! it had in hand (`AWSCURRENT` had not moved: the replica that took the
//! lease over had not stored yet), right before the taker regenerated the
//! token and so killed what had just become current. The taker's own store
//! was then fenced out, and a shutdown before its redo left Secrets Manager
//! holding a dead token. Fixed: the taker moves the fence before it redoes
//! any rotation another replica left in doubt, not only an IAM `overlap` one.

use std::time::Duration;

use rekeyd_emulator::FaultRule;

use crate::chaos::{ACCOUNT, bot_id};
use crate::util::wait_until;

use super::{Replicas, TABLE};

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_holder_never_stores_a_token_the_taker_kills() {
    let env = crate::util::TestEnv::new().await;
    env.emulator
        .seed_from_json(&format!(
            r#"{{"dynamodb_tables": [{{"name": "{TABLE}", "partition_key": "credential"}}]}}"#
        ))
        .unwrap();
    let bot = bot_id(0);
    env.emulator.seed_chime_bot(ACCOUNT, &bot).unwrap();
    env.emulator
        .inject_all(vec![
            // Slow regenerations: the holder is caught with one in flight,
            // and the taker's own leaves the holder time to store first.
            FaultRule::delay("RegenerateSecurityToken", 3000),
            // Slow lease writes: the resumed holder learns that its lease is
            // lost only after its store.
            FaultRule::delay("UpdateItem", 1500),
        ])
        .unwrap();
    // A schedule short enough for a second rotation: the first creates the
    // secret, and a fence needs a current version to move.
    let fleet = format!(
        "\n[defaults]\nevery = \"15s\"\n\n[[chime_bot]]\nname = \"bot\"\naccount_id = \"{ACCOUNT}\"\nbot_id = \"{bot}\"\n"
    );
    let mut replicas = Replicas::start(&env, &fleet);

    // The holder, its regeneration in flight (its intent in the lease, its
    // version not stored yet) once the secret exists: paused.
    let lease = |truth: &rekeyd_emulator::Truth| {
        let item = truth.dynamodb_table(TABLE)?.item("bot")?.clone();
        let owner = item["owner"]["S"].as_str()?.to_owned();
        let rotation = item["intent"]["M"]["rotation"]["S"].as_str()?.to_owned();
        Some((owner, rotation))
    };
    let mut caught = None;
    let found = wait_until(Duration::from_secs(60), || {
        let truth = env.truth();
        let secret = truth.secrets.iter().find(|s| s.name == "rekeyd/bot");
        caught = lease(&truth).filter(|(_, rotation)| {
            secret
                .is_some_and(|s| !(s.versions.iter()).any(|v| v.client_request_token == *rotation))
        });
        caught.is_some()
    })
    .await;
    assert!(found, "no replica was caught mid-rotation");
    let (owner, rotation) = caught.unwrap();
    let holder: usize = owner.strip_prefix("replica-").unwrap().parse().unwrap();
    replicas.pause(
        holder - 1,
        std::time::Instant::now() + Duration::from_secs(3600),
    );

    // Another replica takes the lease over and redoes the rotation; the
    // holder resumes while the taker's regeneration is in flight.
    let taken = wait_until(Duration::from_secs(40), || {
        lease(&env.truth()).is_some_and(|(o, r)| o != owner && r != rotation)
    })
    .await;
    assert!(taken, "no replica took the lease over");
    replicas.resume_due(true);
    let settled = wait_until(Duration::from_secs(60), || {
        let truth = env.truth();
        let released = (truth.dynamodb_table(TABLE))
            .and_then(|t| t.item("bot").cloned())
            .is_some_and(|item| item.get("intent").is_none());
        let token = truth.chime_bots.iter().find(|b| b.bot_id == bot).unwrap();
        released && env.current("rekeyd/bot")["security_token"] == token.security_token.as_str()
    })
    .await;
    let (logs, _) = replicas.stop().await;
    let logs = logs.join("\n----\n");
    assert!(
        settled,
        "rekeyd/bot never held the live token; logs:\n{logs}"
    );
    // The holder's late store was refused: its rotation never finished.
    let finished = logs.lines().any(|line| {
        serde_json::from_str::<serde_json::Value>(line).is_ok_and(|event| {
            event["message"] == "rotation finished"
                && event["span"]["rotation"] == rotation.as_str()
        })
    });
    assert!(
        !finished,
        "the paused holder stored its token (rotation {rotation}) after the lease was taken over; logs:\n{logs}"
    );
}
