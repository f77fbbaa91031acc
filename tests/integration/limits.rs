//! `[aws.rate_limits]` and `[daemon] concurrency` as the emulator sees them.

use rekeyd_emulator::{FaultRule, Service};

use crate::util::{STAGE_ARN, TestEnv};

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_space_each_services_calls() {
    let env = TestEnv::new().await;
    let text = env.standard_policy("30d").replace(
        "[defaults]",
        "[aws.rate_limits]\nsecretsmanager = 5\n\n[defaults]",
    );
    let policy = env.write_policy(&text);

    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    let times: Vec<_> = env
        .emulator
        .calls()
        .iter()
        .filter(|c| c.service == Service::Secretsmanager)
        .map(|c| c.at)
        .collect();
    assert!(times.len() >= 6, "{} calls", times.len());
    // 5 per second: consecutive calls at least 200 ms apart (less a little
    // for the emulator stamping arrival, not departure).
    for pair in times.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!(gap >= 180, "calls {gap} ms apart: {times:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrency_bounds_the_rotations_in_flight() {
    let env = TestEnv::new().await;
    let mut text = env
        .standard_policy("30d")
        .replace("[defaults]", "[daemon]\nconcurrency = 1\n\n[defaults]");
    for i in 2..=4 {
        text.push_str(&format!(
            "\n[[ivs_participant_token]]\nname = \"stage-guest-{i}\"\nstage_arn = \"{STAGE_ARN}\"\nduration = \"1h\"\n"
        ));
    }
    let policy = env.write_policy(&text);
    env.emulator
        .inject(FaultRule::delay("CreateParticipantToken", 300))
        .unwrap();

    let out = env.rekeyd(&policy, &["rotate", "--all"]).await;
    assert_eq!(out.code(), 0, "stderr:\n{}", out.stderr);
    // With one rotation at a time, each token request starts after the
    // previous rotation (300 ms of it in the provider) ended.
    let starts: Vec<_> = env
        .emulator
        .calls()
        .iter()
        .filter(|c| c.operation == "CreateParticipantToken")
        .map(|c| c.at)
        .collect();
    assert_eq!(starts.len(), 4);
    for pair in starts.windows(2) {
        let gap = (pair[1] - pair[0]).num_milliseconds();
        assert!(gap >= 300, "token requests {gap} ms apart: overlap");
    }
}
