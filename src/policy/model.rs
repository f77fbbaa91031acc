//! The validated policy: types that cannot hold an invalid value.
//!
//! Built only by [`super::load`] from the raw TOML mirror; everything else in
//! rekeyd reads these types and never re-checks them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A whole, valid policy file.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The file it was read from (for messages only).
    pub source: PathBuf,
    pub aws: AwsSettings,
    pub daemon: DaemonSettings,
    /// `[coordination]`; `None`: this replica works alone.
    pub coordination: Option<Coordination>,
    /// In file order; names and secret names are unique.
    pub credentials: Vec<Credential>,
    /// What is valid but probably not meant, each `FILE:LINE: ...`.
    pub warnings: Vec<String>,
}

impl Policy {
    /// The credential called `name`, if the policy has it.
    pub fn credential(&self, name: &str) -> Option<&Credential> {
        self.credentials.iter().find(|c| c.name.as_str() == name)
    }
}

/// `[aws]`: how to reach AWS.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AwsSettings {
    /// Secrets Manager's (and IAM's, Chime's signing) region; `None`: the AWS config chain.
    pub region: Option<String>,
    /// Named profile from the AWS config files.
    pub profile: Option<String>,
    /// Endpoint for every service (an absolute http(s) URL).
    pub endpoint_url: Option<String>,
    /// Per-service endpoints; each wins over `endpoint_url`.
    pub endpoints: PerService<Option<String>>,
    /// Requests per second per service; `None`: unlimited. Applies to each
    /// account and region on its own (quotas are per account and region).
    pub rate_limits: PerService<Option<f64>>,
    /// `[aws.endpoints] sts`: where roles are assumed (wins over `endpoint_url`).
    pub sts_endpoint: Option<String>,
    /// `[accounts.NAME]`, by name: the roles rekeyd assumes.
    pub accounts: Vec<Arc<Account>>,
}

impl AwsSettings {
    /// Where rotations happen, as configured: two policies with the same
    /// scope talk to the same AWS (the journal keys entries by it).
    pub fn scope(&self) -> String {
        format!(
            "region={:?} profile={:?} endpoint={:?} endpoints={:?}",
            self.region, self.profile, self.endpoint_url, self.endpoints
        )
    }
}

/// `[accounts.NAME]`: an AWS account rekeyd works in by assuming a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The table's name, as credentials refer to it.
    pub name: String,
    /// `arn:aws:iam::ACCOUNT:role/NAME`.
    pub role_arn: String,
    /// Passed to `AssumeRole` when the role's trust requires it.
    pub external_id: Option<String>,
    /// The role session's name (default `rekeyd-<name>`).
    pub session_name: String,
    /// Where the account's Secrets Manager (and STS) is used; `None`: `[aws] region`.
    pub region: Option<String>,
}

impl Account {
    /// The 12-digit account id in the role ARN.
    pub fn account_id(&self) -> &str {
        self.role_arn.split(':').nth(4).unwrap_or_default()
    }
}

/// The name of `account` for output: `-` for rekeyd's own identity.
pub fn account_label(account: Option<&Account>) -> &str {
    account.map_or("-", |a| a.name.as_str())
}

/// One value per AWS service rekeyd talks to.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PerService<T> {
    pub iam: T,
    pub chime: T,
    pub ivs_realtime: T,
    pub secretsmanager: T,
    pub dynamodb: T,
}

/// `[daemon]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSettings {
    /// Rotations in flight at once (default 8).
    pub concurrency: NonZeroUsize,
    /// Explicit state directory; `None`: `$STATE_DIRECTORY`, then `/var/lib/rekeyd`.
    pub state_dir: Option<PathBuf>,
    /// Prometheus `/metrics` and `/healthz`; off when `None`.
    pub metrics_listen: Option<SocketAddr>,
    /// How long SIGTERM waits for rotations in flight (default 30s).
    pub shutdown_timeout: Duration,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        DaemonSettings {
            concurrency: NonZeroUsize::new(8).expect("8 is not zero"),
            state_dir: None,
            metrics_listen: None,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// `[coordination]`: several replicas share the policy through DynamoDB leases.
#[derive(Debug, Clone, PartialEq)]
pub struct Coordination {
    /// The table: partition key `credential` (String); rekeyd never creates it.
    pub dynamodb_table: String,
    /// How long a lease lasts without a heartbeat (10s..10m, default 30s).
    pub lease: Duration,
    /// This replica's name in the lease items (default: hostname and pid).
    pub replica_id: String,
    /// The table's account; `None`: rekeyd's own.
    pub account: Option<Arc<Account>>,
}

impl Coordination {
    /// The default lease duration.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
    /// The shortest lease accepted.
    pub const MIN_LEASE: Duration = Duration::from_secs(10);
    /// The longest lease accepted.
    pub const MAX_LEASE: Duration = Duration::from_secs(600);
}

/// A credential name: unique in the policy, `[a-zA-Z0-9_.-]+`.
///
/// Shared, not copied: the daemon keys its slots, its timeline and its
/// metrics by name, and a clone is a reference count, not a new string.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CredentialName(Arc<str>);

impl CredentialName {
    /// `Some` when `name` matches `[a-zA-Z0-9_.-]+`.
    pub fn new(name: &str) -> Option<Self> {
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        valid.then(|| CredentialName(Arc::from(name)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name's one allocation, for a map that keeps it beside the
    /// policy (the metrics' gauges) without a copy.
    pub fn shared(&self) -> &Arc<str> {
        &self.0
    }
}

/// Maps keyed by name are looked up by `&str` (hashing and ordering as the
/// string does).
impl std::borrow::Borrow<str> for CredentialName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CredentialName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One credential under rekeyd's care, with every default already applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub name: CredentialName,
    /// The Secrets Manager secret that holds it (`secret`, or `secret_prefix` + name).
    pub secret_name: String,
    /// KMS key for a secret rekeyd creates.
    pub kms_key_id: Option<String>,
    /// When the daemon rotates it.
    pub schedule: Schedule,
    /// Random delay added to each scheduled run (never to `rotate`).
    pub jitter: Duration,
    /// Audit: older than this is overdue.
    pub max_age: Option<Duration>,
    /// What is rotated, and how.
    pub target: Target,
    /// Its consumers' hooks; `None` when it has neither. Credentials that
    /// inherit `[defaults]`' hooks share one allocation.
    pub hooks: Option<Arc<Hooks>>,
    /// The account the provider call runs as; `None`: rekeyd's own.
    /// Shared with the policy's `[accounts]` (a pointer per credential).
    pub account: Option<Arc<Account>>,
    /// The account the secret lives in (`secret_account`, else `account`).
    pub secret_account: Option<Arc<Account>>,
    /// Regions the secret is replicated to (shared by the credentials that
    /// inherit them; empty: none).
    pub replica_regions: Arc<[String]>,
}

impl Credential {
    pub fn kind(&self) -> Kind {
        self.target.kind()
    }

    /// The `on_rotate` argv and its timeout, when set.
    pub fn on_rotate(&self) -> Option<(&[String], Duration)> {
        let hooks = self.hooks.as_deref()?;
        Some((hooks.on_rotate.as_deref()?, hooks.timeout))
    }

    /// The `on_failure` argv and its timeout, when set.
    pub fn on_failure(&self) -> Option<(&[String], Duration)> {
        let hooks = self.hooks.as_deref()?;
        Some((hooks.on_failure.as_deref()?, hooks.timeout))
    }
}

/// The commands run for a credential's consumers: argv, never a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hooks {
    /// Run after each successful store; argv[0] is an absolute path.
    pub on_rotate: Option<Vec<String>>,
    /// Run after a rotation that failed or is in doubt.
    pub on_failure: Option<Vec<String>>,
    /// How long one run may take before its process group is stopped.
    pub timeout: Duration,
}

impl Hooks {
    /// `hook_timeout` when unset.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// The shortest `hook_timeout` accepted.
    pub const MIN_TIMEOUT: Duration = Duration::from_secs(1);
    /// The longest `hook_timeout` accepted.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
}

/// The three credential kinds; `as_str` is the policy table's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    ChimeBot,
    IamServiceCredential,
    IvsParticipantToken,
}

impl Kind {
    pub const ALL: [Kind; 3] = [
        Kind::ChimeBot,
        Kind::IamServiceCredential,
        Kind::IvsParticipantToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ChimeBot => "chime_bot",
            Kind::IamServiceCredential => "iam_service_credential",
            Kind::IvsParticipantToken => "ivs_participant_token",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a credential is rotated.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    /// At the times of a six-field cron expression, in `timezone`.
    Cron(CronSchedule),
    /// This long after the last rotation recorded in Secrets Manager.
    Every(Duration),
    /// IVS tokens: `refresh_before` ahead of the stored token's expiry.
    BeforeExpiry { refresh_before: Duration },
}

/// A checked cron expression (seconds first) and the zone it is evaluated in.
///
/// Only the text is kept: a parsed `croner::Cron` holds about 4 KiB (one
/// byte per possible year), which at 10,000 credentials was most of the
/// daemon's memory. Parsing again where the schedule is evaluated costs
/// microseconds, a few times per rotation.
#[derive(Clone)]
pub struct CronSchedule {
    /// The expression as written, for messages and `plan`.
    pub expression: String,
    /// `chrono_tz::UTC` unless `timezone` was set.
    pub timezone: chrono_tz::Tz,
}

impl CronSchedule {
    /// The parsed expression.
    pub fn cron(&self) -> croner::Cron {
        super::values::cron(&self.expression)
            .expect("a cron expression is checked when the policy is loaded")
    }
}

impl fmt::Debug for CronSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CronSchedule")
            .field("expression", &self.expression)
            .field("timezone", &self.timezone)
            .finish()
    }
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression && self.timezone == other.timezone
    }
}

/// The provider-side resource and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    ChimeBot(ChimeBot),
    IamServiceCredential(IamServiceCredential),
    IvsParticipantToken(IvsParticipantToken),
}

impl Target {
    pub fn kind(&self) -> Kind {
        match self {
            Target::ChimeBot(_) => Kind::ChimeBot,
            Target::IamServiceCredential(_) => Kind::IamServiceCredential,
            Target::IvsParticipantToken(_) => Kind::IvsParticipantToken,
        }
    }
}

/// `[[chime_bot]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChimeBot {
    pub account_id: String,
    pub bot_id: String,
}

/// `[[iam_service_credential]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct IamServiceCredential {
    /// `None`: IAM means the caller.
    pub user_name: Option<String>,
    /// `[\w]+`, 20–128 characters.
    pub credential_id: String,
    pub strategy: IamStrategy,
    /// `overlap` only (zero otherwise): how long the replaced credential
    /// stays Inactive before it is deleted; zero deletes it at once.
    pub retire_grace: Duration,
    /// `overlap` only: API keys (Bedrock, CloudWatch Logs) are created to
    /// expire after this many days (1..=36600); `None`: they never expire.
    pub credential_age_days: Option<u32>,
    /// A stored key with an expiry is rotated this long before it (with
    /// `overlap`, which makes a key with a new expiry); default 33%.
    pub refresh_before: RefreshBefore,
}

impl IamServiceCredential {
    /// Whether a rotation gives the key a new expiry: `overlap` creates a
    /// new key; `reset` renews the secret of the same key, whose expiry IAM
    /// keeps, so rotating it earlier would not help.
    pub fn renews_expiry(&self) -> bool {
        self.strategy == IamStrategy::Overlap
    }
}

/// `refresh_before` when unset (IVS tokens, expiring keys): a third of the
/// secret's lifetime.
pub const DEFAULT_REFRESH_PERCENT: u32 = 33;

/// How long before an expiring secret's expiry the next one is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshBefore {
    /// This long before.
    Fixed(Duration),
    /// This percentage (1..=99) of the secret's lifetime before.
    Percent(u32),
}

impl RefreshBefore {
    /// The lead time for a secret that lives `lifetime`.
    pub fn of(self, lifetime: Duration) -> Duration {
        match self {
            RefreshBefore::Fixed(fixed) => fixed,
            RefreshBefore::Percent(percent) => lifetime * percent / 100,
        }
    }
}

impl fmt::Display for RefreshBefore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefreshBefore::Fixed(fixed) => write!(f, "{}", humantime::format_duration(*fixed)),
            RefreshBefore::Percent(percent) => write!(f, "{percent}% of its lifetime"),
        }
    }
}

/// How an IAM service-specific credential is rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IamStrategy {
    /// ResetServiceSpecificCredential: the old password dies at once.
    #[default]
    Reset,
    /// Create a second credential, store it, then delete the old one.
    Overlap,
}

impl IamStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            IamStrategy::Reset => "reset",
            IamStrategy::Overlap => "overlap",
        }
    }
}

/// `[[ivs_participant_token]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct IvsParticipantToken {
    pub stage_arn: StageArn,
    /// Token lifetime: whole minutes, 1 minute to 14 days.
    pub duration: Duration,
    /// How long before expiry the next token is made; shorter than `duration`.
    pub refresh_before: Duration,
    pub user_id: Option<String>,
    /// At most 1024 UTF-8 bytes of keys and values together.
    pub attributes: BTreeMap<String, String>,
    /// Non-empty, no duplicates; default both.
    pub capabilities: Vec<Capability>,
}

impl IvsParticipantToken {
    /// `duration` in whole minutes, as the API takes it.
    pub fn duration_minutes(&self) -> i32 {
        i32::try_from(self.duration.as_secs() / 60).expect("validated to at most 20160 minutes")
    }
}

/// An IVS stage ARN, `arn:aws:ivs:REGION:ACCOUNT:stage/ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageArn {
    arn: String,
    region_len: usize,
}

impl StageArn {
    /// `Some` when `arn` matches `arn:aws:ivs:[a-z0-9-]+:[0-9]+:stage/[a-zA-Z0-9-]+`.
    pub fn parse(arn: &str) -> Option<Self> {
        let rest = arn.strip_prefix("arn:aws:ivs:")?;
        let (region, rest) = rest.split_once(':')?;
        let (account, rest) = rest.split_once(':')?;
        let id = rest.strip_prefix("stage/")?;
        let region_ok = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let account_ok = !account.is_empty() && account.bytes().all(|b| b.is_ascii_digit());
        let id_ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        (region_ok && account_ok && id_ok).then(|| StageArn {
            arn: arn.to_owned(),
            region_len: region.len(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The region the stage lives in; the IVS client signs for it.
    pub fn region(&self) -> &str {
        let start = "arn:aws:ivs:".len();
        &self.arn[start..start + self.region_len]
    }
}

impl fmt::Display for StageArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// A participant capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    Publish,
    Subscribe,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Publish => "PUBLISH",
            Capability::Subscribe => "SUBSCRIBE",
        }
    }
}
