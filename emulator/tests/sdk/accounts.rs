//! Many accounts through the SDK: STS `AssumeRole` (also through aws-config's
//! `AssumeRoleProvider`) and `GetCallerIdentity`, resources that only their own account sees,
//! the call log's signer and account, expired session credentials, per-account quotas.

use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_secretsmanager::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use rekeyd_emulator::{ACCOUNT_ID, Quota, Service};

use crate::chime::{ACCOUNT as CHIME_ACCOUNT, BOT};
use crate::util::{TestEnv, within};

const MEDIA: &str = "111111111111";
const SECURITY: &str = "222222222222";
const MEDIA_ROLE: &str = "arn:aws:iam::111111111111:role/rekeyd-rotator";
const SECURITY_ROLE: &str = "arn:aws:iam::222222222222:role/rekeyd-store";

/// Media trusts the default account; security trusts only media's role and wants an external id.
fn seed_accounts(env: &TestEnv) {
    let role = env
        .emulator
        .seed_role(MEDIA, "rekeyd-rotator", &[ACCOUNT_ID])
        .unwrap();
    assert_eq!(role, MEDIA_ROLE);
    env.emulator
        .seed_from_json(
            r#"{"accounts": [
                {"account_id": "111111111111", "iam_users": ["media-user"]},
                {"account_id": "222222222222",
                 "roles": [{"name": "rekeyd-store", "external_id": "sec-ext",
                            "trust": ["arn:aws:iam::111111111111:role/rekeyd-rotator",
                                      "arn:aws:iam::123456789012:user/rekeyd-caller"]}]}
            ]}"#,
        )
        .unwrap();
}

/// `base` with credentials from aws-config's `AssumeRoleProvider` (and the SDK's identity
/// cache in front of it, as rekeyd uses it).
async fn assumed(base: &SdkConfig, role_arn: &str, external_id: Option<&str>) -> SdkConfig {
    let mut builder = AssumeRoleProvider::builder(role_arn).session_name("rekeyd-test");
    if let Some(id) = external_id {
        builder = builder.external_id(id);
    }
    let provider = builder.configure(base).build().await;
    base.to_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

/// What any multi-account implementation must do, given `base` (the default caller) that
/// may assume [`MEDIA_ROLE`]: act in the role's account, where the default account does
/// not see the secret. Run against the emulator and moto.
pub async fn assumed_account_scenario(base: &SdkConfig) {
    let media = assumed(base, MEDIA_ROLE, None).await;
    let who = aws_sdk_sts::Client::new(&media)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(who.account(), Some(MEDIA));
    assert_eq!(
        who.arn(),
        Some("arn:aws:sts::111111111111:assumed-role/rekeyd-rotator/rekeyd-test")
    );
    let sm = aws_sdk_secretsmanager::Client::new(&media);
    let created = sm
        .create_secret()
        .name("scenario/media")
        .secret_string("m1")
        .send()
        .await
        .unwrap();
    assert!(
        created
            .arn()
            .unwrap()
            .contains(":111111111111:secret:scenario/media-")
    );
    let read = sm
        .get_secret_value()
        .secret_id("scenario/media")
        .send()
        .await;
    assert_eq!(read.unwrap().secret_string(), Some("m1"));
    let err = aws_sdk_secretsmanager::Client::new(base)
        .get_secret_value()
        .secret_id("scenario/media")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

#[tokio::test]
async fn the_assumed_account_scenario_passes() {
    within(async {
        let env = TestEnv::start().await;
        seed_accounts(&env);
        assumed_account_scenario(env.config()).await;
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn assumed_role_credentials_act_in_the_roles_account_and_the_call_log_says_so() {
    within(async {
        let env = TestEnv::start().await;
        seed_accounts(&env);
        let media = assumed(env.config(), MEDIA_ROLE, None).await;

        let me = env.sts().get_caller_identity().send().await.unwrap();
        assert_eq!(me.account(), Some(ACCOUNT_ID));
        assert_eq!(
            me.arn(),
            Some("arn:aws:iam::123456789012:user/rekeyd-caller")
        );
        assert!(me.user_id().unwrap().starts_with("AIDA"));
        let them = aws_sdk_sts::Client::new(&media)
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        assert_eq!(them.account(), Some(MEDIA));
        assert_eq!(
            them.arn(),
            Some("arn:aws:sts::111111111111:assumed-role/rekeyd-rotator/rekeyd-test")
        );
        assert!(them.user_id().unwrap().ends_with(":rekeyd-test"));

        let sm = aws_sdk_secretsmanager::Client::new(&media);
        let created = sm
            .create_secret()
            .name("app/key")
            .secret_string("v1")
            .send()
            .await
            .unwrap();
        assert!(
            created
                .arn()
                .unwrap()
                .starts_with("arn:aws:secretsmanager:us-east-1:111111111111:secret:app/key-"),
            "{created:?}"
        );
        // The default account has no such secret; the same name there is another secret.
        let err = env
            .sm()
            .get_secret_value()
            .secret_id("app/key")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ResourceNotFoundException"));
        env.sm()
            .create_secret()
            .name("app/key")
            .secret_string("home")
            .send()
            .await
            .unwrap();
        let read = sm.get_secret_value().secret_id("app/key").send().await;
        assert_eq!(read.unwrap().secret_string(), Some("v1"));

        let truth = env.emulator.truth();
        let in_media = truth.secret_in(MEDIA, "app/key").unwrap();
        assert_eq!(
            in_media.current().unwrap().secret_string.as_deref(),
            Some("v1")
        );
        let at_home = truth.secret_in(ACCOUNT_ID, "app/key").unwrap();
        assert_eq!(
            at_home.current().unwrap().secret_string.as_deref(),
            Some("home")
        );
        assert_eq!(
            truth.sessions.len(),
            1,
            "the identity cache assumed the role once"
        );
        let session = &truth.sessions[0];
        assert_eq!(session.account_id, MEDIA);
        assert_eq!(session.assumed_by.as_deref(), Some("AKID"));
        assert!(session.access_key_id.starts_with("ASIA"));
        let media_role = &truth.account(MEDIA).unwrap().roles[0];
        assert_eq!(media_role.arn, MEDIA_ROLE);
        assert_eq!(truth.account(MEDIA).unwrap().iam_users, ["media-user"]);

        let calls = env.emulator.calls();
        let assume = calls
            .iter()
            .find(|c| c.service == Service::Sts && c.operation == "AssumeRole")
            .unwrap();
        assert_eq!(assume.access_key_id.as_deref(), Some("AKID"));
        assert_eq!(assume.account_id, ACCOUNT_ID);
        assert_eq!(assume.resource.as_deref(), Some(MEDIA_ROLE));
        let creates: Vec<_> = calls
            .iter()
            .filter(|c| c.operation == "CreateSecret")
            .map(|c| (c.account_id.as_str(), c.access_key_id.as_deref()))
            .collect();
        assert_eq!(
            creates,
            [
                (MEDIA, Some(session.access_key_id.as_str())),
                (ACCOUNT_ID, Some("AKID"))
            ]
        );
        assert!(calls.iter().all(|c| c.region == "us-east-1"));
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn each_service_shows_a_call_only_its_own_accounts_resources() {
    within(async {
        let env = TestEnv::start().await;
        seed_accounts(&env);
        let stage = "arn:aws:ivs:us-west-2:111111111111:stage/mediaStage";
        env.emulator
            .seed_from_json(&format!(
                r#"{{"chime_bots": [{{"account": "{MEDIA}", "account_id": "{CHIME_ACCOUNT}", "bot_id": "{BOT}"}}],
                    "iam_credentials": [{{"account": "{MEDIA}", "user_name": "media-user",
                                         "credential_id": "ACCAMEDIAEXAMPLE00001"}}],
                    "ivs_stages": [{{"arn": "{stage}"}}],
                    "dynamodb_tables": [{{"account": "{MEDIA}", "name": "leases", "partition_key": "credential"}}]}}"#
            ))
            .unwrap();
        let media = assumed(env.config(), MEDIA_ROLE, None).await;

        let chime = aws_sdk_chime::Client::new(&media);
        let bot = chime.get_bot().account_id(CHIME_ACCOUNT).bot_id(BOT);
        assert!(bot.send().await.is_ok());
        let err = env
            .chime()
            .get_bot()
            .account_id(CHIME_ACCOUNT)
            .bot_id(BOT)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("NotFoundException"));

        let iam = aws_sdk_iam::Client::new(&media);
        let listed = iam
            .list_service_specific_credentials()
            .user_name("media-user")
            .send()
            .await
            .unwrap();
        assert_eq!(listed.service_specific_credentials().len(), 1);
        let err = env
            .iam()
            .list_service_specific_credentials()
            .user_name("media-user")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("NoSuchEntity"));

        let ivs = aws_sdk_ivsrealtime::Client::new(&media);
        assert!(ivs.get_stage().arn(stage).send().await.is_ok());
        let err = env.ivs().get_stage().arn(stage).send().await.unwrap_err();
        assert_eq!(err.code(), Some("ResourceNotFoundException"));

        let ddb = aws_sdk_dynamodb::Client::new(&media);
        assert!(ddb.describe_table().table_name("leases").send().await.is_ok());
        let err = env
            .ddb()
            .describe_table()
            .table_name("leases")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ResourceNotFoundException"));

        let truth = env.emulator.truth();
        assert_eq!(truth.chime_bot(CHIME_ACCOUNT, BOT).unwrap().aws_account_id, MEDIA);
        assert_eq!(
            truth.iam_credential("ACCAMEDIAEXAMPLE00001").unwrap().account_id,
            MEDIA
        );
        assert_eq!(truth.ivs_stage(stage).unwrap().account_id, MEDIA);
        assert_eq!(truth.dynamodb_table("leases").unwrap().account_id, MEDIA);
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn untrusted_callers_wrong_external_ids_and_bad_members_are_refused() {
    within(async {
        let env = TestEnv::start().await;
        seed_accounts(&env);
        let sts = env.sts();
        // The security role trusts the caller user, but wants its external id.
        let err = sts
            .assume_role()
            .role_arn(SECURITY_ROLE)
            .role_session_name("s1")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("AccessDenied"));
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 403);
        assert_eq!(
            err.message(),
            Some(
                "User: arn:aws:iam::123456789012:user/rekeyd-caller is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::222222222222:role/rekeyd-store"
            )
        );
        let unknown = "arn:aws:iam::111111111111:role/nobody";
        let err = sts
            .assume_role()
            .role_arn(unknown)
            .role_session_name("s1")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("AccessDenied"));
        let err = sts
            .assume_role()
            .role_arn(MEDIA_ROLE)
            .role_session_name("x")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ValidationError"));
        let err = sts
            .assume_role()
            .role_arn(MEDIA_ROLE)
            .role_session_name("ok")
            .duration_seconds(600)
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ValidationError"));

        // Role chaining: media's session may assume the security role (with its id).
        let media = assumed(env.config(), MEDIA_ROLE, None).await;
        let security = assumed(&media, SECURITY_ROLE, Some("sec-ext")).await;
        let who = aws_sdk_sts::Client::new(&security)
            .get_caller_identity()
            .send()
            .await
            .unwrap();
        assert_eq!(who.account(), Some(SECURITY));
        // The security role's session may not go back to media (not trusted there).
        let back = assumed(&security, MEDIA_ROLE, None).await;
        let err = aws_sdk_sts::Client::new(&back)
            .get_caller_identity()
            .send()
            .await
            .unwrap_err();
        let text = format!("{:?}", aws_sdk_sts::error::DisplayErrorContext(&err));
        assert!(text.contains("AccessDenied"), "{text}");
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn expired_or_tokenless_session_credentials_get_each_protocols_error() {
    within(async {
        let env = TestEnv::start_with_attempts(1).await;
        seed_accounts(&env);
        let out = env
            .sts()
            .assume_role()
            .role_arn(MEDIA_ROLE)
            .role_session_name("short")
            .send()
            .await
            .unwrap();
        let c = out.credentials().unwrap();
        let expires = c.expiration();
        let remaining = expires.secs() - chrono::Utc::now().timestamp();
        assert!((3590..=3600).contains(&remaining), "{remaining}");
        let creds = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "assumed",
        );
        let config = env
            .config()
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(creds))
            .build();
        let sm = aws_sdk_secretsmanager::Client::new(&config);
        sm.create_secret().name("m").send().await.unwrap();
        // A role session is no IAM user: GetUser needs a UserName.
        let err = aws_sdk_iam::Client::new(&config)
            .get_user()
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ValidationError"));
        assert!(err.message().unwrap().contains("non-User credentials"));
        // The key without its session token is refused.
        let forged = Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some("forged".to_string()),
            None,
            "forged",
        );
        let forged = env
            .config()
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(forged))
            .build();
        let err = aws_sdk_secretsmanager::Client::new(&forged)
            .describe_secret()
            .secret_id("m")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("UnrecognizedClientException"));
        assert_eq!(env.emulator.expire_sessions(Some(SECURITY)), 0);
        assert_eq!(env.emulator.expire_sessions(Some(MEDIA)), 1);
        let err = sm
            .describe_secret()
            .secret_id("m")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ExpiredTokenException"));
        assert_eq!(err.raw_response().unwrap().status().as_u16(), 403);
        let err = aws_sdk_iam::Client::new(&config)
            .get_user()
            .user_name("media-user")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ExpiredToken"));
        let err = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("ExpiredToken"));
        // The default caller is unaffected.
        assert!(env.sts().get_caller_identity().send().await.is_ok());
        let last = env.emulator.calls().into_iter().rev().nth(1).unwrap();
        assert_eq!(last.error_code.as_deref(), Some("ExpiredToken"));
        assert_eq!(last.access_key_id.as_deref(), Some(c.access_key_id()));
        assert_eq!(
            last.account_id, MEDIA,
            "a refused call names the session's account"
        );
        env.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_quota_applies_to_each_account_separately() {
    within(async {
        let env = TestEnv::start_with_attempts(1).await;
        seed_accounts(&env);
        let media = assumed(env.config(), MEDIA_ROLE, None).await;
        let media_sm = aws_sdk_secretsmanager::Client::new(&media);
        // Resolve the media credentials before the quota is set.
        media_sm.list_secrets().send().await.unwrap();
        env.emulator
            .set_quota("secretsmanager", Quota::per_second(0.001).burst(2.0))
            .unwrap();
        for client in [env.sm(), media_sm] {
            for _ in 0..2 {
                client.list_secrets().send().await.unwrap();
            }
            let err = client.list_secrets().send().await.unwrap_err();
            assert_eq!(err.code(), Some("ThrottlingException"));
        }
        let calls = env.emulator.calls();
        let throttled: Vec<&str> = calls
            .iter()
            .filter(|c| c.throttled)
            .map(|c| c.account_id.as_str())
            .collect();
        assert_eq!(throttled, [ACCOUNT_ID, MEDIA]);
        let by_account = env.emulator.call_summary_by_account();
        assert_eq!(by_account[MEDIA][&Service::Secretsmanager].calls, 4);
        assert_eq!(by_account[MEDIA][&Service::Secretsmanager].throttled, 1);
        assert_eq!(by_account[ACCOUNT_ID][&Service::Sts].calls, 1);
        let over_http = env
            .raw("GET", "/_emulator/calls/summary?by=account", &[], "")
            .await
            .json();
        assert_eq!(over_http[MEDIA]["secretsmanager"]["throttled"], 1);
        assert_eq!(over_http[ACCOUNT_ID]["secretsmanager"]["calls"], 3);
        env.shutdown().await;
    })
    .await;
}
