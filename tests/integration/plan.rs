//! `rekeyd plan`: next rotation times and reasons, read-only.

use crate::daemon_reads::{assert_read_in_batches, fleet};
use crate::util::TestEnv;

#[tokio::test(flavor = "multi_thread")]
async fn plan_shows_next_times_and_reasons_without_changing_anything() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&env.standard_policy("30d"));
    assert_eq!(
        env.rekeyd(&policy, &["rotate", "support-bot", "stage-host-bob"])
            .await
            .code(),
        0
    );
    let mutations = env.mutating_calls();

    let out = env.rekeyd(&policy, &["plan", "--format", "json"]).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    assert_eq!(env.mutating_calls(), mutations, "plan is read-only");
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let find = |name: &str| {
        plan["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()
            .clone()
    };
    let bot = find("support-bot");
    assert_eq!(bot["reason"], "interval");
    let last: chrono::DateTime<chrono::Utc> =
        bot["last_rotated"].as_str().unwrap().parse().unwrap();
    let next: chrono::DateTime<chrono::Utc> =
        bot["next_rotation"].as_str().unwrap().parse().unwrap();
    assert_eq!(next - last, chrono::TimeDelta::days(30));

    let iam = find("codecommit-sofia");
    assert!(
        iam["reason"].as_str().unwrap().contains("no secret yet"),
        "{iam}"
    );

    let ivs = find("stage-host-bob");
    assert_eq!(ivs["reason"], "token expiry");
    let expires: chrono::DateTime<chrono::Utc> =
        ivs["expires_at"].as_str().unwrap().parse().unwrap();
    let next: chrono::DateTime<chrono::Utc> =
        ivs["next_rotation"].as_str().unwrap().parse().unwrap();
    // refresh_before defaults to 33% of the 12 h duration.
    let lead = (expires - next).num_seconds();
    assert!((lead - 14_256).abs() <= 1, "lead {lead}");

    let table = env.rekeyd(&policy, &["plan"]).await;
    assert_eq!(table.code(), 0);
    assert!(table.stdout.starts_with("NAME"), "{}", table.stdout);
    assert_eq!(table.stdout.lines().count(), 4, "{}", table.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_reads_the_secrets_twenty_at_a_time() {
    let env = TestEnv::new().await;
    let policy = env.write_policy(&fleet(&env, 45, true));

    let out = env.rekeyd(&policy, &["plan", "--format", "json"]).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    let plan: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let credentials = plan["credentials"].as_array().unwrap();
    assert_eq!(credentials.len(), 46);
    // In the policy's order, each with what its own secret holds.
    assert_eq!(credentials[0]["name"], "a-missing");
    assert!(
        credentials[0]["reason"]
            .as_str()
            .unwrap()
            .contains("no secret yet"),
        "{}",
        credentials[0]
    );
    for (i, planned) in credentials[1..].iter().enumerate() {
        assert_eq!(planned["name"], format!("bot-{i:03}"));
        assert_eq!(planned["reason"], "interval", "{planned}");
        let secret = env.current(&format!("rekeyd/bot-{i:03}"));
        let stored: chrono::DateTime<chrono::Utc> =
            secret["rotated_at"].as_str().unwrap().parse().unwrap();
        let last: chrono::DateTime<chrono::Utc> =
            planned["last_rotated"].as_str().unwrap().parse().unwrap();
        assert_eq!(last, stored, "{planned}");
    }

    assert_read_in_batches(&env, 46);
}
