//! The raw serde mirror of the policy file, before validation.
//!
//! Every field is optional and spanned, so that a missing key is reported by
//! validation (with its name and line) rather than by serde, and every
//! struct denies unknown keys. Each table is deserialized on its own (see
//! `read.rs`); validation turns these into the types of `model.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::model::Kind;

/// A string value with its place in the file.
pub(crate) type Str = Option<Spanned<String>>;

/// An array of strings (a command's argv) with its place in the file.
pub(crate) type Argv = Option<Spanned<Vec<String>>>;

/// The whole file, assembled table by table.
#[derive(Debug, Default)]
pub(crate) struct RawPolicy {
    /// `[aws]`, with the byte offset of its header.
    pub aws: Option<Spanned<RawAws>>,
    /// `[defaults]`.
    pub defaults: Option<Spanned<RawDefaults>>,
    /// `[daemon]`.
    pub daemon: Option<Spanned<RawDaemon>>,
    /// `[coordination]`.
    pub coordination: Option<Spanned<RawCoordination>>,
    /// `[accounts.NAME]`, by name.
    pub accounts: Option<Spanned<BTreeMap<String, Spanned<RawAccount>>>>,
    /// Every `[[chime_bot]]`, `[[iam_service_credential]]` and
    /// `[[ivs_participant_token]]`, in file order.
    pub credentials: Vec<RawCredential>,
}

/// One credential table.
#[derive(Debug)]
pub(crate) struct RawCredential {
    /// Its name for messages: `chime_bot "support-bot"` or `chime_bot #2`.
    pub label: String,
    /// Byte offset of the table's header.
    pub header: usize,
    /// The table's keys. Boxed: the credentials are read whole before any
    /// is checked, and each body is freed as soon as it is (one `Vec` of
    /// bodies, 600 bytes apiece, lived until the last was checked).
    pub body: Box<RawBody>,
}

/// The kind-specific body of a credential table.
#[derive(Debug)]
pub(crate) enum RawBody {
    ChimeBot(RawChimeBot),
    IamServiceCredential(RawIamServiceCredential),
    IvsParticipantToken(RawIvsParticipantToken),
}

/// `[aws]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAws {
    /// Secrets Manager's region, `[a-z0-9-]+`.
    pub region: Str,
    /// Named profile from the AWS config files.
    pub profile: Str,
    /// Endpoint URL for every service.
    pub endpoint_url: Str,
    /// `[aws.endpoints]`: per-service endpoint URLs.
    pub endpoints: Option<Spanned<RawPerService<String>>>,
    /// `[aws.rate_limits]`: requests per second per service.
    pub rate_limits: Option<Spanned<RawPerService<f64>>>,
}

/// `[accounts.NAME]`: a role rekeyd assumes.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccount {
    /// `arn:aws:iam::ACCOUNT:role/NAME`.
    pub role_arn: Str,
    /// Passed to `AssumeRole`, 2 to 1224 characters.
    pub external_id: Str,
    /// The role session's name, `[\w+=,.@-]{2,64}`.
    pub session_name: Str,
    /// The account's region (Secrets Manager, STS).
    pub region: Str,
}

/// One optional value per service.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPerService<T> {
    /// IAM.
    pub iam: Option<Spanned<T>>,
    /// Amazon Chime.
    pub chime: Option<Spanned<T>>,
    /// Amazon IVS real-time.
    pub ivs_realtime: Option<Spanned<T>>,
    /// AWS Secrets Manager.
    pub secretsmanager: Option<Spanned<T>>,
    /// Amazon DynamoDB (the `[coordination]` leases).
    pub dynamodb: Option<Spanned<T>>,
    /// AWS STS (assuming the `[accounts]` roles): an endpoint only.
    pub sts: Option<Spanned<T>>,
}

/// `[defaults]`: keys every credential inherits unless it sets them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDefaults {
    /// Six-field cron expression, seconds first.
    pub schedule: Str,
    /// Rotation interval (humantime); the alternative to `schedule`.
    pub every: Str,
    /// Random delay added to each scheduled run (humantime).
    pub jitter: Str,
    /// Secret name = prefix + credential name.
    pub secret_prefix: Str,
    /// KMS key for secrets rekeyd creates.
    pub kms_key_id: Str,
    /// Audit: older than this is overdue (humantime).
    pub max_age: Str,
    /// IANA zone cron expressions are evaluated in.
    pub timezone: Str,
    /// Argv run after each successful store (no shell).
    pub on_rotate: Argv,
    /// Argv run after a rotation that failed or is in doubt (no shell).
    pub on_failure: Argv,
    /// How long a hook may run before its process group is stopped (humantime).
    pub hook_timeout: Str,
    /// The account provider calls run as, from `[accounts]`.
    pub account: Str,
    /// The account secrets live in, from `[accounts]`.
    pub secret_account: Str,
    /// Regions each secret is replicated to.
    pub replica_regions: Option<Spanned<Vec<String>>>,
}

/// `[daemon]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDaemon {
    /// Rotations in flight at once, 1 to 1024.
    pub concurrency: Option<Spanned<i64>>,
    /// State directory.
    pub state_dir: Str,
    /// Socket address of the metrics endpoint.
    pub metrics_listen: Str,
    /// How long SIGTERM waits for rotations in flight (humantime).
    pub shutdown_timeout: Str,
}

/// `[coordination]`: leases shared by several replicas.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCoordination {
    /// The DynamoDB table holding one lease item per credential.
    pub dynamodb_table: Str,
    /// Lease duration (humantime), 10s to 10m.
    pub lease: Str,
    /// This replica's name in the lease items.
    pub replica_id: Str,
    /// The table's account, from `[accounts]`.
    pub account: Str,
}

/// `[[chime_bot]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawChimeBot {
    /// Unique credential name.
    pub name: Str,
    /// Amazon Chime account id.
    pub account_id: Str,
    /// Amazon Chime bot id.
    pub bot_id: Str,
    /// As in `[defaults]`.
    pub schedule: Str,
    /// As in `[defaults]`.
    pub every: Str,
    /// As in `[defaults]`.
    pub jitter: Str,
    /// Explicit secret name (instead of `secret_prefix` + name).
    pub secret: Str,
    /// As in `[defaults]`.
    pub secret_prefix: Str,
    /// As in `[defaults]`.
    pub kms_key_id: Str,
    /// As in `[defaults]`.
    pub max_age: Str,
    /// As in `[defaults]`.
    pub timezone: Str,
    /// As in `[defaults]`.
    pub on_rotate: Argv,
    /// As in `[defaults]`.
    pub on_failure: Argv,
    /// As in `[defaults]`.
    pub hook_timeout: Str,
    /// As in `[defaults]`.
    pub account: Str,
    /// As in `[defaults]`.
    pub secret_account: Str,
    /// As in `[defaults]`.
    pub replica_regions: Option<Spanned<Vec<String>>>,
}

/// `[[iam_service_credential]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIamServiceCredential {
    /// Unique credential name.
    pub name: Str,
    /// IAM user owning the credential; `None`: the caller.
    pub user_name: Str,
    /// The service-specific credential id.
    pub credential_id: Str,
    /// `reset` or `overlap`.
    pub strategy: Str,
    /// `overlap` only: how long the old credential stays Inactive before it
    /// is deleted (humantime; `0s`: deleted at once).
    pub retire_grace: Str,
    /// `overlap` only: API keys are created to expire after this many days.
    pub credential_age_days: Option<Spanned<i64>>,
    /// A key with an expiry is rotated this long before it: humantime or
    /// `N%` of its lifetime.
    pub refresh_before: Str,
    /// As in `[defaults]`.
    pub schedule: Str,
    /// As in `[defaults]`.
    pub every: Str,
    /// As in `[defaults]`.
    pub jitter: Str,
    /// Explicit secret name (instead of `secret_prefix` + name).
    pub secret: Str,
    /// As in `[defaults]`.
    pub secret_prefix: Str,
    /// As in `[defaults]`.
    pub kms_key_id: Str,
    /// As in `[defaults]`.
    pub max_age: Str,
    /// As in `[defaults]`.
    pub timezone: Str,
    /// As in `[defaults]`.
    pub on_rotate: Argv,
    /// As in `[defaults]`.
    pub on_failure: Argv,
    /// As in `[defaults]`.
    pub hook_timeout: Str,
    /// As in `[defaults]`.
    pub account: Str,
    /// As in `[defaults]`.
    pub secret_account: Str,
    /// As in `[defaults]`.
    pub replica_regions: Option<Spanned<Vec<String>>>,
}

/// `[[ivs_participant_token]]`: takes neither `schedule` nor `every`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIvsParticipantToken {
    /// Unique credential name.
    pub name: Str,
    /// `arn:aws:ivs:REGION:ACCOUNT:stage/ID`.
    pub stage_arn: Str,
    /// Token lifetime (humantime), whole minutes, 1 minute to 14 days.
    pub duration: Str,
    /// How long before expiry to refresh: humantime or `N%` of `duration`.
    pub refresh_before: Str,
    /// User id placed in the token.
    pub user_id: Str,
    /// Attributes placed in the token.
    pub attributes: Option<Spanned<BTreeMap<String, String>>>,
    /// `PUBLISH` and/or `SUBSCRIBE`.
    pub capabilities: Option<Spanned<Vec<String>>>,
    /// As in `[defaults]`.
    pub jitter: Str,
    /// Explicit secret name (instead of `secret_prefix` + name).
    pub secret: Str,
    /// As in `[defaults]`.
    pub secret_prefix: Str,
    /// As in `[defaults]`.
    pub kms_key_id: Str,
    /// As in `[defaults]`.
    pub max_age: Str,
    /// As in `[defaults]`.
    pub timezone: Str,
    /// As in `[defaults]`.
    pub on_rotate: Argv,
    /// As in `[defaults]`.
    pub on_failure: Argv,
    /// As in `[defaults]`.
    pub hook_timeout: Str,
    /// As in `[defaults]`.
    pub account: Str,
    /// As in `[defaults]`.
    pub secret_account: Str,
    /// As in `[defaults]`.
    pub replica_regions: Option<Spanned<Vec<String>>>,
}

/// The keys every credential kind shares, gathered for validation.
#[derive(Debug, Default)]
pub(crate) struct RawCommon {
    /// Unique credential name.
    pub name: Str,
    /// Cron expression (never set for IVS tokens).
    pub schedule: Str,
    /// Rotation interval (never set for IVS tokens).
    pub every: Str,
    /// Random delay added to each scheduled run.
    pub jitter: Str,
    /// Explicit secret name.
    pub secret: Str,
    /// Secret name = prefix + name.
    pub secret_prefix: Str,
    /// KMS key for a secret rekeyd creates.
    pub kms_key_id: Str,
    /// Audit: older than this is overdue.
    pub max_age: Str,
    /// IANA zone for `schedule`.
    pub timezone: Str,
    /// Run after each successful store.
    pub on_rotate: Argv,
    /// Run after a failed or in-doubt rotation.
    pub on_failure: Argv,
    /// How long a hook may run.
    pub hook_timeout: Str,
    /// The account provider calls run as.
    pub account: Str,
    /// The account the secret lives in.
    pub secret_account: Str,
    /// Regions the secret is replicated to.
    pub replica_regions: Option<Spanned<Vec<String>>>,
}

impl RawBody {
    pub fn kind(&self) -> Kind {
        match self {
            RawBody::ChimeBot(_) => Kind::ChimeBot,
            RawBody::IamServiceCredential(_) => Kind::IamServiceCredential,
            RawBody::IvsParticipantToken(_) => Kind::IvsParticipantToken,
        }
    }

    /// Moves the shared keys out, leaving the kind-specific ones.
    pub fn take_common(&mut self) -> RawCommon {
        use std::mem::take;
        match self {
            RawBody::ChimeBot(b) => RawCommon {
                name: take(&mut b.name),
                schedule: take(&mut b.schedule),
                every: take(&mut b.every),
                jitter: take(&mut b.jitter),
                secret: take(&mut b.secret),
                secret_prefix: take(&mut b.secret_prefix),
                kms_key_id: take(&mut b.kms_key_id),
                max_age: take(&mut b.max_age),
                timezone: take(&mut b.timezone),
                on_rotate: take(&mut b.on_rotate),
                on_failure: take(&mut b.on_failure),
                hook_timeout: take(&mut b.hook_timeout),
                account: take(&mut b.account),
                secret_account: take(&mut b.secret_account),
                replica_regions: take(&mut b.replica_regions),
            },
            RawBody::IamServiceCredential(c) => RawCommon {
                name: take(&mut c.name),
                schedule: take(&mut c.schedule),
                every: take(&mut c.every),
                jitter: take(&mut c.jitter),
                secret: take(&mut c.secret),
                secret_prefix: take(&mut c.secret_prefix),
                kms_key_id: take(&mut c.kms_key_id),
                max_age: take(&mut c.max_age),
                timezone: take(&mut c.timezone),
                on_rotate: take(&mut c.on_rotate),
                on_failure: take(&mut c.on_failure),
                hook_timeout: take(&mut c.hook_timeout),
                account: take(&mut c.account),
                secret_account: take(&mut c.secret_account),
                replica_regions: take(&mut c.replica_regions),
            },
            RawBody::IvsParticipantToken(t) => RawCommon {
                name: take(&mut t.name),
                schedule: None,
                every: None,
                jitter: take(&mut t.jitter),
                secret: take(&mut t.secret),
                secret_prefix: take(&mut t.secret_prefix),
                kms_key_id: take(&mut t.kms_key_id),
                max_age: take(&mut t.max_age),
                timezone: take(&mut t.timezone),
                on_rotate: take(&mut t.on_rotate),
                on_failure: take(&mut t.on_failure),
                hook_timeout: take(&mut t.hook_timeout),
                account: take(&mut t.account),
                secret_account: take(&mut t.secret_account),
                replica_regions: take(&mut t.replica_regions),
            },
        }
    }
}
