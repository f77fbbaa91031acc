//! `replica_regions` through the binary: a secret rekeyd creates gets its
//! replicas, an existing one gets a missing replica at its next rotation,
//! and `audit` reports a missing replica or one that is not `InSync` as
//! drift, naming the region.

use crate::util::TestEnv;

/// The regions of `secret`'s replicas, with their status.
fn replicas(env: &TestEnv, secret: &str) -> Vec<(String, String)> {
    let truth = env.truth();
    let secret = truth
        .secrets
        .iter()
        .find(|s| s.name == secret)
        .unwrap_or_else(|| panic!("no secret {secret}"));
    let mut replicas: Vec<_> = (secret.replicas.iter())
        .map(|r| (r.region.clone(), r.status.clone()))
        .collect();
    replicas.sort();
    replicas
}

fn calls_of(env: &TestEnv, operation: &str) -> usize {
    (env.emulator.calls().iter())
        .filter(|c| c.operation == operation && c.status.is_some_and(|s| s < 300))
        .count()
}

/// The audit's JSON entry for `name`.
fn entry(report: &serde_json::Value, name: &str) -> serde_json::Value {
    (report["credentials"].as_array().unwrap().iter())
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no entry {name} in {report:#}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_are_made_added_and_audited_by_region() {
    let env = TestEnv::new().await;
    let standard = env.standard_policy("30d");
    let with_regions = |regions: &str| {
        standard.replacen(
            "[[chime_bot]]",
            &format!("[[chime_bot]]\nreplica_regions = [{regions}]"),
            1,
        )
    };
    let policy = env.write_policy(&with_regions("\"eu-west-1\""));

    // Created with its replica.
    env.rekeyd(&policy, &["rotate", "--all"])
        .await
        .assert_exit(0);
    assert_eq!(
        replicas(&env, "rekeyd/support-bot"),
        [("eu-west-1".to_owned(), "InSync".to_owned())]
    );
    assert_eq!(replicas(&env, "rekeyd/codecommit-sofia"), []);
    let audit = env.rekeyd(&policy, &["audit", "--format", "json"]).await;
    audit.assert_exit(0);

    // A region added to the policy: drift until the next rotation adds it.
    let policy = env.write_policy(&with_regions("\"eu-west-1\", \"ap-southeast-2\""));
    let audit = env.rekeyd(&policy, &["audit", "--format", "json"]).await;
    assert_eq!(audit.code(), 1, "{}", audit.stdout);
    let report: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    let bot = entry(&report, "support-bot");
    assert_eq!(bot["status"], "drift");
    let detail = bot["detail"].as_str().unwrap();
    assert!(
        detail.contains("no replica in region ap-southeast-2"),
        "{detail}"
    );
    assert_eq!(entry(&report, "codecommit-sofia")["status"], "ok");

    env.rekeyd(&policy, &["rotate", "support-bot"])
        .await
        .assert_exit(0);
    assert_eq!(calls_of(&env, "ReplicateSecretToRegions"), 1);
    assert_eq!(
        replicas(&env, "rekeyd/support-bot"),
        [
            ("ap-southeast-2".to_owned(), "InSync".to_owned()),
            ("eu-west-1".to_owned(), "InSync".to_owned())
        ]
    );
    env.rekeyd(&policy, &["audit"]).await.assert_exit(0);
    // Nothing is missing any more: the next rotation adds nothing.
    env.rekeyd(&policy, &["rotate", "support-bot"])
        .await
        .assert_exit(0);
    assert_eq!(calls_of(&env, "ReplicateSecretToRegions"), 1);

    // A replica that fell out of sync is drift, named by its region.
    env.emulator
        .set_replica_status(
            None,
            "rekeyd/support-bot",
            "eu-west-1",
            "Failed",
            Some("the KMS key is disabled"),
        )
        .unwrap();
    let audit = env.rekeyd(&policy, &["audit", "--format", "json"]).await;
    assert_eq!(audit.code(), 1, "{}", audit.stdout);
    let report: serde_json::Value = serde_json::from_str(&audit.stdout).unwrap();
    let bot = entry(&report, "support-bot");
    assert_eq!(bot["status"], "drift");
    let detail = bot["detail"].as_str().unwrap();
    assert!(
        detail.contains("the replica in region eu-west-1 is Failed: the KMS key is disabled"),
        "{detail}"
    );
    assert!(!detail.contains("ap-southeast-2"), "{detail}");
}
