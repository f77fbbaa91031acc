//! Multi-Region secrets through the SDK: replicas on create and later, their status (and the
//! control that fails one), what a call signed for a replica's region may do, removal.

use aws_config::Region;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::types::{ReplicaRegionType, StatusType};
use serde_json::json;

use crate::util::{TestEnv, token, within};

fn replica(region: &str, kms: Option<&str>) -> ReplicaRegionType {
    ReplicaRegionType::builder()
        .region(region)
        .set_kms_key_id(kms.map(str::to_owned))
        .build()
}

fn regions_and_statuses(
    statuses: &[aws_sdk_secretsmanager::types::ReplicationStatusType],
) -> Vec<(String, StatusType)> {
    statuses
        .iter()
        .map(|s| (s.region().unwrap().to_string(), s.status().unwrap().clone()))
        .collect()
}

/// Replicas as any implementation keeps them: added on create, refused in the primary
/// region, listed in `DescribeSecret`, removed. Run against the emulator and moto.
pub async fn replica_scenario(sm: &aws_sdk_secretsmanager::Client) {
    let created = sm
        .create_secret()
        .name("scenario/replicated")
        .secret_string("v1")
        .add_replica_regions(replica("eu-west-1", None))
        .send()
        .await
        .unwrap();
    assert_eq!(
        regions_and_statuses(created.replication_status()),
        [("eu-west-1".into(), StatusType::InSync)]
    );
    let described = sm
        .describe_secret()
        .secret_id("scenario/replicated")
        .send()
        .await
        .unwrap();
    // (moto 5.2 leaves out the primary's PrimaryRegion; the emulator sends it.)
    assert_eq!(described.replication_status().len(), 1);
    let err = sm
        .replicate_secret_to_regions()
        .secret_id("scenario/replicated")
        .add_replica_regions(replica("us-east-1", None))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterException"));
    assert_eq!(err.message(), Some("Invalid replica region."));
    let out = sm
        .replicate_secret_to_regions()
        .secret_id("scenario/replicated")
        .add_replica_regions(replica("us-west-2", None))
        .send()
        .await
        .unwrap();
    assert_eq!(
        regions_and_statuses(out.replication_status()),
        [
            ("eu-west-1".into(), StatusType::InSync),
            ("us-west-2".into(), StatusType::InSync)
        ]
    );
    let out = sm
        .remove_regions_from_replication()
        .secret_id("scenario/replicated")
        .remove_replica_regions("eu-west-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        regions_and_statuses(out.replication_status()),
        [("us-west-2".into(), StatusType::InSync)]
    );
    let err = sm
        .delete_secret()
        .secret_id("scenario/replicated")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameterException"));
    assert!(
        err.message()
            .unwrap()
            .contains("still has replica regions [us-west-2]")
    );
}

#[tokio::test]
async fn the_replica_scenario_passes() {
    within(async {
        let env = TestEnv::start().await;
        replica_scenario(&env.sm()).await;
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn replicas_on_create_and_later_with_their_status_and_primary_region() {
    within(async {
        let env = TestEnv::start().await;
        let sm = env.sm();
        let created = sm
            .create_secret()
            .name("app/db")
            .secret_string("v1")
            .client_request_token(token(1))
            .add_replica_regions(replica("eu-west-1", Some("alias/eu")))
            .add_replica_regions(replica("us-west-2", None))
            .send()
            .await
            .unwrap();
        assert_eq!(
            regions_and_statuses(created.replication_status()),
            [
                ("eu-west-1".into(), StatusType::InSync),
                ("us-west-2".into(), StatusType::InSync)
            ]
        );
        let described = sm
            .describe_secret()
            .secret_id("app/db")
            .send()
            .await
            .unwrap();
        assert_eq!(described.primary_region(), Some("us-east-1"));
        let eu = &described.replication_status()[0];
        assert_eq!(eu.kms_key_id(), Some("alias/eu"));
        assert_eq!(
            described.replication_status()[1].kms_key_id(),
            Some("alias/aws/secretsmanager")
        );

        for (region, code, message) in [
            (
                "us-east-1",
                "InvalidParameterException",
                "Invalid replica region.",
            ),
            (
                "eu-west-1",
                "InvalidParameterException",
                "Secret app/db is already replicated to region eu-west-1.",
            ),
            ("EU", "ValidationException", ""),
        ] {
            let err = sm
                .replicate_secret_to_regions()
                .secret_id("app/db")
                .add_replica_regions(replica(region, None))
                .send()
                .await
                .unwrap_err();
            assert_eq!(err.code(), Some(code), "{region}");
            assert!(err.message().unwrap().contains(message), "{err:?}");
        }
        let out = sm
            .replicate_secret_to_regions()
            .secret_id("app/db")
            .add_replica_regions(replica("ap-south-1", None))
            .force_overwrite_replica_secret(true)
            .send()
            .await
            .unwrap();
        assert_eq!(out.replication_status().len(), 3);
        assert!(out.arn().unwrap().contains(":us-east-1:"));

        // A fault test fails one replica.
        let resp = env
            .raw(
                "POST",
                "/_emulator/replicas",
                &[],
                &json!({"secret_id": "app/db", "region": "us-west-2", "status": "Failed",
                        "status_message": "KMS key not found"})
                .to_string(),
            )
            .await;
        assert_eq!(resp.status, 200, "{}", resp.body);
        let described = sm
            .describe_secret()
            .secret_id("app/db")
            .send()
            .await
            .unwrap();
        let west = &described.replication_status()[1];
        assert_eq!(west.status(), Some(&StatusType::Failed));
        assert_eq!(west.status_message(), Some("KMS key not found"));
        let truth = env.emulator.truth();
        let secret = truth.secret("app/db").unwrap();
        assert_eq!(secret.primary_region, "us-east-1");
        assert_eq!(secret.replicas[1].status, "Failed");
        let bad = env
            .raw(
                "POST",
                "/_emulator/replicas",
                &[],
                &json!({"secret_id": "app/db", "region": "sa-east-1", "status": "Failed"})
                    .to_string(),
            )
            .await;
        assert_eq!(bad.status, 400);
        assert!(
            bad.body.contains("no replica in region sa-east-1"),
            "{}",
            bad.body
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_replica_region_reads_but_never_writes_and_removal_allows_deletion() {
    within(async {
        let env = TestEnv::start().await;
        let sm = env.sm();
        sm.create_secret()
            .name("app/key")
            .secret_string("v1")
            .client_request_token(token(1))
            .add_replica_regions(replica("eu-west-1", None))
            .send()
            .await
            .unwrap();
        let eu_config = env
            .config()
            .to_builder()
            .region(Region::new("eu-west-1"))
            .build();
        let eu = aws_sdk_secretsmanager::Client::new(&eu_config);
        let read = eu.get_secret_value().secret_id("app/key").send().await.unwrap();
        assert_eq!(read.secret_string(), Some("v1"));
        assert!(read.arn().unwrap().starts_with("arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/key-"));
        let described = eu.describe_secret().secret_id("app/key").send().await.unwrap();
        assert_eq!(described.primary_region(), Some("us-east-1"));
        let err = eu
            .put_secret_value()
            .secret_id("app/key")
            .secret_string("v2")
            .client_request_token(token(2))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidParameterException"));
        assert_eq!(
            err.message(),
            Some("Operation not permitted on a replica secret. Call must be made in primary secret's region.")
        );
        // The primary's view: the read left a last-accessed date on the replica.
        let described = sm.describe_secret().secret_id("app/key").send().await.unwrap();
        assert!(described.replication_status()[0].last_accessed_date().is_some());

        let err = sm.delete_secret().secret_id("app/key").send().await.unwrap_err();
        assert_eq!(err.code(), Some("InvalidParameterException"));
        assert!(err.message().unwrap().contains("still has replica regions [eu-west-1]"));
        let err = sm
            .remove_regions_from_replication()
            .secret_id("app/key")
            .remove_replica_regions("us-west-2")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("InvalidParameterException"));
        let out = sm
            .remove_regions_from_replication()
            .secret_id("app/key")
            .remove_replica_regions("eu-west-1")
            .send()
            .await
            .unwrap();
        assert!(out.replication_status().is_empty());
        let err = eu.get_secret_value().secret_id("app/key").send().await;
        // Without a replica there, the emulator serves the primary (it keeps one namespace
        // per account), with the primary's ARN.
        assert!(err.unwrap().arn().unwrap().contains(":us-east-1:"));
        sm.delete_secret().secret_id("app/key").send().await.unwrap();
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn seeded_replicas_carry_their_status() {
    within(async {
        let env = TestEnv::start().await;
        env.emulator
            .seed_from_json(
                r#"{"secrets": [{"name": "s", "secret_string": "v",
                     "replica_regions": [{"region": "eu-west-1"},
                                         {"region": "eu-central-1", "status": "InProgress"}]}]}"#,
            )
            .unwrap();
        let described = env.sm().describe_secret().secret_id("s").send().await.unwrap();
        assert_eq!(
            regions_and_statuses(described.replication_status()),
            [
                ("eu-west-1".into(), StatusType::InSync),
                ("eu-central-1".into(), StatusType::InProgress)
            ]
        );
        for bad in [
            r#"{"secrets": [{"name": "t", "replica_regions": [{"region": "us-east-1"}]}]}"#,
            r#"{"secrets": [{"name": "t", "replica_regions": [{"region": "eu-west-1", "status": "Broken"}]}]}"#,
        ] {
            assert!(env.emulator.seed_from_json(bad).is_err(), "{bad}");
        }
        assert!(env.emulator.truth().secret("t").is_none());
        env.shutdown().await;
    })
    .await;
}
