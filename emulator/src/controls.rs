//! The test-control API: seeding, fault injection, ground truth and the call log, as plain Rust methods.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::calls::{CallRecord, Service, ServiceCalls};
use crate::faults::{FaultRule, InvalidFaultRule};
use crate::quota::{InvalidQuota, Quota, QuotaSet};
use crate::secretsmanager::set_replica_status;
use crate::seed::{
    self, SeedAccount, SeedChimeBot, SeedDoc, SeedError, SeedIamCredential, SeedIvsStage,
    SeedReport, SeedRole, SeedSecret,
};
use crate::state::{Shared, State};
use crate::truth::{ChimeBotTruth, IamCredentialTruth, SecretTruth, Truth};

/// Why a control refused to act (names the thing it could not find or the value it refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidControl(pub String);

impl std::fmt::Display for InvalidControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidControl {}

/// A handle on a running emulator's state; cheap to clone, usable after the server stopped.
#[derive(Debug, Clone)]
pub struct Controls {
    shared: Arc<Shared>,
}

impl Default for Controls {
    fn default() -> Self {
        Controls::new()
    }
}

impl Controls {
    /// Fresh, empty state (the caller user exists).
    pub fn new() -> Self {
        Controls {
            shared: Arc::new(Shared::new()),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Creates everything in `doc`, or nothing when any item is refused.
    pub fn seed(&self, doc: &SeedDoc) -> Result<SeedReport, SeedError> {
        seed::apply(&mut self.shared.lock(), doc)
    }

    /// [`Controls::seed`] from the JSON seed format (what `POST /_emulator/seed` takes).
    pub fn seed_from_json(&self, doc: &str) -> Result<SeedReport, SeedError> {
        self.seed(&seed::parse(doc)?)
    }

    /// Creates a Chime bot with a fresh security token.
    pub fn seed_chime_bot(
        &self,
        account_id: &str,
        bot_id: &str,
    ) -> Result<ChimeBotTruth, SeedError> {
        let doc = SeedDoc {
            chime_bots: vec![SeedChimeBot {
                account_id: account_id.into(),
                bot_id: Some(bot_id.into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        Ok(self.seed(&doc)?.chime_bots.remove(0))
    }

    /// Creates an IAM user (no error when it exists).
    pub fn seed_iam_user(&self, user_name: &str) -> Result<(), SeedError> {
        self.seed(&SeedDoc {
            iam_users: vec![user_name.into()],
            ..Default::default()
        })
        .map(drop)
    }

    /// Creates a service-specific credential with a generated id; the user is created if missing.
    pub fn seed_service_credential(
        &self,
        user_name: &str,
        service_name: &str,
    ) -> Result<IamCredentialTruth, SeedError> {
        self.seed_credential(user_name, service_name, None)
    }

    /// Like [`Controls::seed_service_credential`], with a given credential id.
    pub fn seed_service_credential_with_id(
        &self,
        user_name: &str,
        service_name: &str,
        credential_id: &str,
    ) -> Result<IamCredentialTruth, SeedError> {
        self.seed_credential(user_name, service_name, Some(credential_id.into()))
    }

    fn seed_credential(
        &self,
        user: &str,
        service: &str,
        id: Option<String>,
    ) -> Result<IamCredentialTruth, SeedError> {
        let doc = SeedDoc {
            iam_credentials: vec![SeedIamCredential {
                user_name: Some(user.into()),
                service_name: Some(service.into()),
                credential_id: id,
                ..Default::default()
            }],
            ..Default::default()
        };
        Ok(self.seed(&doc)?.iam_credentials.remove(0))
    }

    /// Creates an IVS real-time stage.
    pub fn seed_stage(&self, stage_arn: &str) -> Result<(), SeedError> {
        self.seed(&SeedDoc {
            ivs_stages: vec![SeedIvsStage {
                arn: stage_arn.into(),
                name: None,
                account: None,
            }],
            ..Default::default()
        })
        .map(drop)
    }

    /// Creates a secret whose AWSCURRENT value is `value`, as if someone else had written it.
    pub fn seed_secret(&self, name: &str, value: &str) -> Result<SecretTruth, SeedError> {
        let doc = SeedDoc {
            secrets: vec![SeedSecret {
                name: name.into(),
                secret_string: Some(value.into()),
                ..Default::default()
            }],
            ..Default::default()
        };
        Ok(self.seed(&doc)?.secrets.remove(0))
    }

    /// Adds a fault rule after the existing ones.
    pub fn inject(&self, rule: FaultRule) -> Result<(), InvalidFaultRule> {
        rule.validate()?;
        self.shared.lock().faults.push(rule);
        Ok(())
    }

    /// Adds several rules, or none when any is invalid.
    pub fn inject_all(&self, rules: Vec<FaultRule>) -> Result<(), InvalidFaultRule> {
        rules.iter().try_for_each(FaultRule::validate)?;
        let mut state = self.shared.lock();
        rules.into_iter().for_each(|r| state.faults.push(r));
        Ok(())
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// The rules still active (exhausted `times` rules are gone).
    pub fn faults(&self) -> Vec<FaultRule> {
        self.shared.lock().faults.rules()
    }

    /// Sets request-rate quotas, keyed by service (`iam`, `chime`, `ivs-realtime`,
    /// `secretsmanager`) or `service:Operation`; other quotas stay. Each bucket starts full.
    /// A call finding any of its buckets empty gets the service's throttling error.
    pub fn set_quotas(&self, quotas: &BTreeMap<String, Quota>) -> Result<(), InvalidQuota> {
        QuotaSet::check(quotas)?;
        self.shared.lock().quotas.set(quotas);
        Ok(())
    }

    /// Sets one quota (see [`Controls::set_quotas`]).
    pub fn set_quota(&self, key: &str, quota: Quota) -> Result<(), InvalidQuota> {
        self.set_quotas(&BTreeMap::from([(key.to_owned(), quota)]))
    }

    /// Replaces every quota with `quotas` (none when empty).
    pub fn replace_quotas(&self, quotas: &BTreeMap<String, Quota>) -> Result<(), InvalidQuota> {
        QuotaSet::check(quotas)?;
        let mut state = self.shared.lock();
        state.quotas.clear();
        state.quotas.set(quotas);
        Ok(())
    }

    /// Removes every quota.
    pub fn clear_quotas(&self) {
        self.shared.lock().quotas.clear();
    }

    /// The quotas in force, by key.
    pub fn quotas(&self) -> BTreeMap<String, Quota> {
        self.shared.lock().quotas.quotas()
    }

    /// Makes the sessions `AssumeRole` issued expire now: every one, or those acting in
    /// `account_id`. Calls signed with them then get `ExpiredToken(Exception)`, as AWS
    /// answers expired credentials. Answers how many expired.
    pub fn expire_sessions(&self, account_id: Option<&str>) -> usize {
        self.shared
            .lock()
            .sts
            .expire(account_id, chrono::Utc::now())
    }

    /// Sets the status (`InSync`, `Failed`, `InProgress`) and status message (a default
    /// per status when `None`) of a secret's replica in `region`, for fault tests. The
    /// secret is named by name or ARN, in `account_id` (the default account when `None`).
    pub fn set_replica_status(
        &self,
        account_id: Option<&str>,
        secret_id: &str,
        region: &str,
        status: &str,
        message: Option<&str>,
    ) -> Result<(), InvalidControl> {
        let mut state = self.shared.lock();
        let account = account_id
            .map(str::to_owned)
            .unwrap_or_else(|| state.config.account_id.clone());
        let secrets = state
            .secrets
            .account_mut(&account)
            .find_mut(secret_id)
            .map_err(|_| InvalidControl(format!("no secret {secret_id} in account {account}")))?;
        set_replica_status(secrets, region, status, message)
            .map_err(|e| InvalidControl(format!("secret {secret_id}: {}", e.message)))
    }

    /// A snapshot of every bot token, credential, issued IVS token and secret version.
    pub fn truth(&self) -> Truth {
        self.shared.lock().truth()
    }

    /// Every call served so far, oldest first.
    pub fn calls(&self) -> Vec<CallRecord> {
        self.shared.lock().calls.records()
    }

    /// Calls and throttled calls per service, from the call log.
    pub fn call_summary(&self) -> BTreeMap<Service, ServiceCalls> {
        self.shared.lock().calls.summary()
    }

    /// Calls and throttled calls per account (the one each call acted in), then per service.
    pub fn call_summary_by_account(&self) -> BTreeMap<String, BTreeMap<Service, ServiceCalls>> {
        self.shared.lock().calls.summary_by_account()
    }

    /// Declares `account_id` (12 digits) if needed and creates a role there that the
    /// principals in `trust` may assume (see [`SeedRole::trust`]); answers its ARN.
    pub fn seed_role(
        &self,
        account_id: &str,
        role_name: &str,
        trust: &[&str],
    ) -> Result<String, SeedError> {
        self.seed(&SeedDoc {
            accounts: vec![SeedAccount {
                account_id: account_id.into(),
                roles: vec![SeedRole {
                    name: role_name.into(),
                    trust: trust.iter().map(|t| t.to_string()).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        })?;
        Ok(format!("arn:aws:iam::{account_id}:role/{role_name}"))
    }

    /// Empties the call log.
    pub fn clear_calls(&self) {
        self.shared.lock().calls.clear();
    }

    /// Forgets everything: resources, faults, quotas, calls, the caller name.
    pub fn reset(&self) {
        *self.shared.lock() = State::new();
    }
}
