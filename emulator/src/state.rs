//! The emulator's whole in-memory world behind one mutex, and its snapshot (the truth).

use std::sync::{Mutex, MutexGuard};

use chrono::Utc;

use crate::calls::CallLog;
use crate::chime::ChimeState;
use crate::context::Config;
use crate::dynamodb::DynamoState;
use crate::faults::FaultSet;
use crate::iam::IamState;
use crate::ivs::IvsState;
use crate::quota::QuotaSet;
use crate::secretsmanager::SecretsState;
use crate::truth::{self, IvsStageTruth, Truth};

/// Everything the emulator knows.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub config: Config,
    pub iam: IamState,
    pub chime: ChimeState,
    pub ivs: IvsState,
    pub secrets: SecretsState,
    pub dynamodb: DynamoState,
    pub faults: FaultSet,
    pub quotas: QuotaSet,
    pub calls: CallLog,
}

impl State {
    pub(crate) fn new() -> Self {
        let config = Config::default();
        let mut iam = IamState::default();
        iam.ensure_user(&config.caller_user_name, &config.account_id, Utc::now());
        State {
            config,
            iam,
            chime: ChimeState::default(),
            ivs: IvsState::default(),
            secrets: SecretsState::default(),
            dynamodb: DynamoState::default(),
            faults: FaultSet::default(),
            quotas: QuotaSet::default(),
            calls: CallLog::default(),
        }
    }

    /// Takes the snapshot.
    pub(crate) fn truth(&self) -> Truth {
        Truth {
            chime_bots: self.chime.bots().cloned().collect(),
            iam_users: self.iam.users().map(|u| u.name.clone()).collect(),
            iam_credentials: self.iam.credentials().map(truth::credential).collect(),
            ivs_stages: self
                .ivs
                .stages()
                .map(|s| IvsStageTruth {
                    arn: s.arn.clone(),
                    name: s.name.clone(),
                    tokens: s.tokens.to_vec(),
                })
                .collect(),
            secrets: self.secrets.secrets().iter().map(truth::secret).collect(),
            dynamodb_tables: self.dynamodb.tables().map(truth::table).collect(),
        }
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
