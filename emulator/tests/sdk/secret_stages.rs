//! Staging labels through aws-sdk-secretsmanager: the fenced store (PutSecretValue under
//! AWSPENDING, then UpdateSecretVersionStage as a compare-and-swap of AWSCURRENT). The
//! scenarios take a client, so `moto.rs` runs them against moto too.

use std::collections::HashMap;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;

use crate::util::{TestEnv, token, within};

/// A fresh secret name, so scenarios can share one moto server.
fn secret_name(prefix: &str) -> String {
    format!("rekeyd/{prefix}-{}", fastrand::u32(..))
}

async fn value_at(sm: &Client, secret: &str, stage: &str) -> Option<String> {
    sm.get_secret_value()
        .secret_id(secret)
        .version_stage(stage)
        .send()
        .await
        .ok()
        .and_then(|out| out.secret_string)
}

async fn stages(sm: &Client, secret: &str) -> HashMap<String, Vec<String>> {
    sm.describe_secret()
        .secret_id(secret)
        .send()
        .await
        .unwrap()
        .version_ids_to_stages
        .unwrap_or_default()
}

async fn create(sm: &Client, secret: &str, value: &str, version: &str) {
    sm.create_secret()
        .name(secret)
        .secret_string(value)
        .client_request_token(version)
        .send()
        .await
        .unwrap();
}

async fn put_pending(sm: &Client, secret: &str, value: &str, version: &str) {
    let out = sm
        .put_secret_value()
        .secret_id(secret)
        .secret_string(value)
        .client_request_token(version)
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    assert_eq!(out.version_stages(), ["AWSPENDING".to_string()]);
}

async fn swap_current(
    sm: &Client,
    secret: &str,
    to: &str,
    from: Option<&str>,
) -> Result<(), String> {
    sm.update_secret_version_stage()
        .secret_id(secret)
        .version_stage("AWSCURRENT")
        .move_to_version_id(to)
        .set_remove_from_version_id(from.map(str::to_owned))
        .send()
        .await
        .map(drop)
        .map_err(|e| e.code().unwrap_or("no code").to_string())
}

/// rekeyd's store: the new value under AWSPENDING, then AWSCURRENT moved to it from the
/// version that was current when the rotation began.
pub async fn fenced_store(sm: &Client) {
    let secret = secret_name("fenced");
    let (v1, v2) = (token(1), token(2));
    create(sm, &secret, "one", &v1).await;
    put_pending(sm, &secret, "two", &v2).await;
    assert_eq!(
        value_at(sm, &secret, "AWSCURRENT").await.as_deref(),
        Some("one")
    );
    assert_eq!(
        value_at(sm, &secret, "AWSPENDING").await.as_deref(),
        Some("two")
    );
    swap_current(sm, &secret, &v2, Some(&v1)).await.unwrap();
    assert_eq!(
        value_at(sm, &secret, "AWSCURRENT").await.as_deref(),
        Some("two")
    );
    assert_eq!(
        value_at(sm, &secret, "AWSPREVIOUS").await.as_deref(),
        Some("one")
    );
    let stages = stages(sm, &secret).await;
    assert!(
        stages[&v2].contains(&"AWSCURRENT".to_string()),
        "{stages:?}"
    );
    assert_eq!(stages[&v1], ["AWSPREVIOUS".to_string()], "{stages:?}");
}

/// Another writer moved AWSCURRENT during the rotation: the swap from the old current
/// fails, overwrites nothing, and the new value stays readable under AWSPENDING.
pub async fn stale_swap_fails(sm: &Client) {
    let secret = secret_name("stale");
    let (v1, outside, ours) = (token(1), token(2), token(3));
    create(sm, &secret, "one", &v1).await;
    put_pending(sm, &secret, "ours", &ours).await;
    sm.put_secret_value()
        .secret_id(&secret)
        .secret_string("outside")
        .client_request_token(&outside)
        .send()
        .await
        .unwrap();
    assert_eq!(
        swap_current(sm, &secret, &ours, Some(&v1))
            .await
            .unwrap_err(),
        "InvalidParameterException"
    );
    assert_eq!(
        swap_current(sm, &secret, &ours, None).await.unwrap_err(),
        "InvalidParameterException",
        "AWSCURRENT is attached elsewhere: RemoveFromVersionId is required"
    );
    assert_eq!(
        value_at(sm, &secret, "AWSCURRENT").await.as_deref(),
        Some("outside")
    );
    assert_eq!(
        value_at(sm, &secret, "AWSPENDING").await.as_deref(),
        Some("ours")
    );
    assert_eq!(
        value_at(sm, &secret, "AWSPREVIOUS").await.as_deref(),
        Some("one")
    );
    // With the version that is current now, the swap goes through.
    swap_current(sm, &secret, &ours, Some(&outside))
        .await
        .unwrap();
    assert_eq!(
        value_at(sm, &secret, "AWSCURRENT").await.as_deref(),
        Some("ours")
    );
    assert_eq!(
        value_at(sm, &secret, "AWSPREVIOUS").await.as_deref(),
        Some("outside")
    );
}

#[tokio::test]
async fn fenced_store_on_the_emulator() {
    within(async {
        let env = TestEnv::start().await;
        let sm = env.sm();
        fenced_store(&sm).await;
        // A retried PutSecretValue of a version already there (same token, same value)
        // changes nothing, its labels included (moto 5.2 moves them: AWSCURRENT is lost).
        let secret = &env.emulator.truth().secrets[0].name.clone();
        sm.put_secret_value()
            .secret_id(secret)
            .secret_string("two")
            .client_request_token(token(2))
            .version_stages("AWSPENDING")
            .send()
            .await
            .unwrap();
        assert_eq!(
            value_at(&sm, secret, "AWSCURRENT").await.as_deref(),
            Some("two")
        );
        assert_eq!(
            value_at(&sm, secret, "AWSPENDING").await.as_deref(),
            Some("two")
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn stale_swap_fails_on_the_emulator() {
    within(async {
        let env = TestEnv::start().await;
        stale_swap_fails(&env.sm()).await;
        let calls = env.emulator.calls();
        let swaps: Vec<(bool, Option<&str>)> = calls
            .iter()
            .filter(|c| c.operation == "UpdateSecretVersionStage")
            .map(|c| (c.mutated, c.error_code.as_deref()))
            .collect();
        assert_eq!(
            swaps,
            [
                (false, Some("InvalidParameterException")),
                (false, Some("InvalidParameterException")),
                (true, None),
            ]
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn label_rules_where_moto_differs() {
    within(async {
        let env = TestEnv::start().await;
        let sm = env.sm();
        let (v1, v2) = (token(1), token(2));
        create(&sm, "s", "one", &v1).await;
        put_pending(&sm, "s", "two", &v2).await;
        swap_current(&sm, "s", &v2, Some(&v1)).await.unwrap();
        // Without VersionStage, GetSecretValue reads the new AWSCURRENT (moto 5.2 does not).
        let current = sm.get_secret_value().secret_id("s").send().await.unwrap();
        assert_eq!(current.version_id(), Some(v2.as_str()));

        // Any label, not only AWSCURRENT, moves only with the right RemoveFromVersionId.
        let label = |stage: &str, to: Option<&str>, from: Option<&str>| {
            sm.update_secret_version_stage()
                .secret_id("s")
                .version_stage(stage)
                .set_move_to_version_id(to.map(str::to_owned))
                .set_remove_from_version_id(from.map(str::to_owned))
                .send()
        };
        let err = label("AWSPENDING", Some(&v1), None).await.unwrap_err();
        assert_eq!(err.code(), Some("InvalidParameterException"));
        assert!(err.message().unwrap().contains(&v2), "{err:?}");
        label("AWSPENDING", None, Some(&v2)).await.unwrap();
        let err = label("AWSPENDING", None, Some(&v2)).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some("InvalidParameterException"),
            "v2 no longer holds it"
        );
        let err = label("AWSCURRENT", None, Some(&v2)).await.unwrap_err();
        assert_eq!(
            err.code(),
            Some("InvalidParameterException"),
            "AWSCURRENT only moves"
        );
        let err = label("AWSCURRENT", Some(&token(9)), Some(&v2))
            .await
            .unwrap_err();
        assert_eq!(
            err.code(),
            Some("InvalidParameterException"),
            "no such version"
        );
        let err = sm
            .update_secret_version_stage()
            .secret_id("nope")
            .version_stage("AWSCURRENT")
            .move_to_version_id(&v1)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ResourceNotFoundException"));

        // Rolling back: AWSCURRENT to the previous version swaps the two labels.
        swap_current(&sm, "s", &v1, Some(&v2)).await.unwrap();
        assert_eq!(
            stages(&sm, "s").await,
            HashMap::from([
                (v1.clone(), vec!["AWSCURRENT".to_string()]),
                (v2.clone(), vec!["AWSPREVIOUS".to_string()]),
            ])
        );
        // A third version takes AWSCURRENT; v2 is left without labels: deprecated, kept,
        // listed only with IncludeDeprecated, absent from VersionIdsToStages.
        put_pending(&sm, "s", "three", &token(3)).await;
        swap_current(&sm, "s", &token(3), Some(&v1)).await.unwrap();
        label("AWSPENDING", None, Some(&token(3))).await.unwrap();
        let listed = |deprecated: bool| {
            let sm = sm.clone();
            async move {
                let out = sm
                    .list_secret_version_ids()
                    .secret_id("s")
                    .include_deprecated(deprecated)
                    .send()
                    .await
                    .unwrap();
                let mut ids: Vec<String> = out
                    .versions()
                    .iter()
                    .map(|v| v.version_id().unwrap().to_string())
                    .collect();
                ids.sort();
                ids
            }
        };
        assert_eq!(listed(false).await, [v1.clone(), token(3)]);
        assert_eq!(listed(true).await, [v1.clone(), v2.clone(), token(3)]);
        assert!(!stages(&sm, "s").await.contains_key(&v2));
        let old = sm
            .get_secret_value()
            .secret_id("s")
            .version_id(&v2)
            .send()
            .await
            .unwrap();
        assert_eq!(old.secret_string(), Some("two"));
        assert!(old.version_stages().is_empty());
        env.shutdown().await;
    })
    .await;
}
