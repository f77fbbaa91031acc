//! The emulator's whole in-memory world behind one mutex, and its snapshot (the truth).

use std::sync::{Mutex, MutexGuard};

use chrono::Utc;

use crate::by_account::ByAccount;
use crate::calls::CallLog;
use crate::chime::ChimeState;
use crate::context::{Config, Identity};
use crate::dynamodb::DynamoState;
use crate::faults::FaultSet;
use crate::iam::IamState;
use crate::ivs::IvsState;
use crate::quota::QuotaSet;
use crate::secretsmanager::SecretsState;
use crate::sts::{SessionRefused, StsState};
use crate::truth::{self, AccountTruth, IvsStageTruth, RoleTruth, Truth};

/// Everything the emulator knows. Each service's resources are per AWS account; the
/// fields deref to the default account's.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub config: Config,
    pub iam: ByAccount<IamState>,
    pub chime: ByAccount<ChimeState>,
    pub ivs: ByAccount<IvsState>,
    pub secrets: ByAccount<SecretsState>,
    pub dynamodb: ByAccount<DynamoState>,
    pub sts: StsState,
    pub faults: FaultSet,
    pub quotas: QuotaSet,
    pub calls: CallLog,
}

impl State {
    pub(crate) fn new() -> Self {
        let config = Config::default();
        let account = config.account_id.clone();
        let mut iam = ByAccount::<IamState>::new(&account);
        iam.ensure_user(&config.caller_user_name, &account, Utc::now());
        State {
            config,
            iam,
            chime: ByAccount::new(&account),
            ivs: ByAccount::new(&account),
            secrets: ByAccount::new(&account),
            dynamodb: ByAccount::new(&account),
            sts: StsState::default(),
            faults: FaultSet::default(),
            quotas: QuotaSet::default(),
            calls: CallLog::default(),
        }
    }

    /// Who signed with `access_key_id`: a session `AssumeRole` issued (refused once
    /// expired, or without its `session_token`), else the default account's caller user.
    pub(crate) fn identify(
        &self,
        access_key_id: Option<&str>,
        session_token: Option<&str>,
    ) -> Result<Identity, SessionRefused> {
        let default = || {
            let user_id = self
                .iam
                .user(&self.config.caller_user_name)
                .map(|u| u.user_id.clone())
                .unwrap_or_default();
            self.config.default_identity(access_key_id, &user_id)
        };
        self.sts
            .identify(access_key_id, session_token, default, Utc::now())
    }

    /// Whether seeding may put resources in `account_id`: the default account, or one declared.
    pub(crate) fn knows_account(&self, account_id: &str) -> bool {
        account_id == self.config.account_id || self.sts.is_declared(account_id)
    }

    /// Takes the snapshot.
    pub(crate) fn truth(&self) -> Truth {
        let mut t = Truth {
            chime_bots: Vec::new(),
            iam_users: Vec::new(),
            iam_credentials: Vec::new(),
            ivs_stages: Vec::new(),
            secrets: Vec::new(),
            dynamodb_tables: Vec::new(),
            accounts: Vec::new(),
            sessions: self.sts.sessions().map(truth::session).collect(),
        };
        t.sessions.sort_by_key(|s| s.issued);
        for (account, chime) in self.chime.iter() {
            t.chime_bots
                .extend(chime.bots().map(|b| truth::bot(b, account)));
        }
        for (account, iam) in self.iam.iter() {
            t.iam_users.extend(iam.users().map(|u| u.name.clone()));
            t.iam_credentials
                .extend(iam.credentials().map(|c| truth::credential_in(c, account)));
        }
        for (account, ivs) in self.ivs.iter() {
            t.ivs_stages.extend(ivs.stages().map(|s| IvsStageTruth {
                arn: s.arn.clone(),
                name: s.name.clone(),
                tokens: s.tokens.to_vec(),
                account_id: account.to_string(),
            }));
        }
        for (account, secrets) in self.secrets.iter() {
            t.secrets.extend(
                secrets
                    .secrets()
                    .iter()
                    .map(|s| truth::secret_in(s, account)),
            );
        }
        for (account, dynamodb) in self.dynamodb.iter() {
            t.dynamodb_tables
                .extend(dynamodb.tables().map(|d| truth::table_in(d, account)));
        }
        let mut accounts: Vec<&str> = vec![self.config.account_id.as_str()];
        accounts.extend(self.sts.accounts().filter(|a| *a != self.config.account_id));
        t.accounts = accounts
            .into_iter()
            .map(|account| AccountTruth {
                account_id: account.to_string(),
                iam_users: self
                    .iam
                    .account(account)
                    .map(|iam| iam.users().map(|u| u.name.clone()).collect())
                    .unwrap_or_default(),
                roles: self
                    .sts
                    .roles()
                    .filter(|r| r.account_id == account)
                    .map(|r| RoleTruth {
                        arn: r.arn.clone(),
                        name: r.name.clone(),
                        role_id: r.role_id.clone(),
                        trust: r.trust.clone(),
                        external_id: r.external_id.clone(),
                        max_session_duration: r.max_session_duration,
                    })
                    .collect(),
            })
            .collect();
        t
    }
}

/// The state shared by the server and the controls.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Shared {
            state: Mutex::new(State::new()),
        }
    }

    /// Locks the state; a panic elsewhere never makes the emulator unusable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::DEFAULT_CALLER;

    #[test]
    fn starts_with_the_default_caller() {
        assert!(State::new().iam.user(DEFAULT_CALLER).is_ok());
    }
}
