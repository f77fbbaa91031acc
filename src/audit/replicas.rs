//! The audit's look at `replica_regions`: each replicated secret's replicas
//! (DescribeSecret in its account), and a replica that is missing or not
//! `InSync` as `drift`, naming the region.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::status::{Assessment, SecretView, Status};
use crate::aws::Aws;
use crate::policy::Credential;
use crate::replicas::ReplicaState;

/// The replicas of every secret of rekeyd's with `replica_regions`, by
/// secret name (a secret that could not be described: its problem as the
/// one state's message).
pub(super) async fn read_all(
    aws: &Arc<Aws>,
    credentials: &[Credential],
    views: &[SecretView],
    concurrency: usize,
) -> HashMap<String, Result<Vec<ReplicaState>, String>> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (credential, view) in credentials.iter().zip(views) {
        if credential.replica_regions.is_empty() || !matches!(view, SecretView::Rekeyd(_)) {
            continue;
        }
        let aws = Arc::clone(aws);
        let permits = Arc::clone(&permits);
        let account = credential.secret_account.clone();
        let secret = credential.secret_name.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let read = crate::replicas::read(aws.account(account.as_deref()), &secret).await;
            (secret, read.map_err(|err| err.to_string()))
        });
    }
    let mut states = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((secret, read)) => {
                states.insert(secret, read);
            }
            Err(err) => tracing::error!(error = %err, "a replica read task failed"),
        }
    }
    states
}

/// A replica that is missing or not `InSync` makes an `ok` credential
/// `drift` (naming the region); a worse finding keeps its status and gains
/// the replicas' problem in its detail.
pub(super) fn judge(
    credential: &Credential,
    assessment: Assessment,
    states: &Result<Vec<ReplicaState>, String>,
) -> Assessment {
    let problem = match states {
        Ok(states) => crate::replicas::drift(credential, states),
        Err(err) => Some(format!("cannot read the replicas: {err}")),
    };
    match problem {
        None => assessment,
        Some(problem) if assessment.status == Status::Ok => Assessment {
            status: Status::Drift,
            detail: problem,
            ..assessment
        },
        Some(problem) => Assessment {
            detail: format!("{}; also {problem}", assessment.detail),
            ..assessment
        },
    }
}
