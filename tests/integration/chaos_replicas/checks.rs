//! The replicated chaos run's checks: the stored state against the
//! providers' truth, and the double rotations counted from the emulator's
//! call log.
//!
//! **Double rotation**, precisely. Per credential, the emulator's call log
//! (its `resource` field) gives the provider calls that issued a new secret
//! (`P`: a mutated RegenerateSecurityToken, ResetServiceSpecificCredential,
//! CreateServiceSpecificCredential or CreateParticipantToken on that bot,
//! credential, user or stage) and the stores that made a new version current
//! (`S`: a mutated CreateSecret or UpdateSecretVersionStage on its secret).
//! A `P` followed by another `P` with no `S` between issued a secret that
//! was never stored (*unstored*: two replicas rotating at once, or one
//! superseding a rotation left in doubt); a `P` less than half a schedule
//! interval after the previous `P` is *early* (a second rotation in one
//! slot, or a redo). Both are legitimate only as the redo of a rotation in
//! doubt: *redone* is the number of distinct in-doubt rotations the replicas
//! logged for the credential (a rotation that failed in doubt; an intent
//! left in doubt, found in the journal at a restart or in the lease by the
//! replica that took it over, counted once by its start time). So, per
//! credential, `doubles = max(0, unstored - redone) + max(0, early - redone)`.

use std::collections::{BTreeMap, BTreeSet};

use crate::util::TestEnv;

use super::{EVERY_SECS, bot_id, credentials, stage, user};

pub const PROVIDER_OPERATIONS: [&str; 4] = [
    "RegenerateSecurityToken",
    "ResetServiceSpecificCredential",
    "CreateServiceSpecificCredential",
    "CreateParticipantToken",
];
pub const STORE_OPERATIONS: [&str; 2] = ["CreateSecret", "UpdateSecretVersionStage"];

/// Every way the stored state disagrees with the providers' truth.
pub fn stored_problems(env: &TestEnv) -> Vec<String> {
    let truth = env.truth();
    let now = chrono::Utc::now();
    let mut problems = Vec::new();
    for credential in credentials() {
        let name = &credential.name;
        let stored = truth
            .secrets
            .iter()
            .find(|s| s.name == format!("rekeyd/{name}"))
            .and_then(|s| {
                s.versions
                    .iter()
                    .find(|v| v.stages.iter().any(|st| st == "AWSCURRENT"))
            })
            .and_then(|v| v.secret_string.as_deref())
            .map(|v| serde_json::from_str::<serde_json::Value>(v).unwrap());
        let Some(v) = stored else {
            problems.push(format!("{name}: nothing stored"));
            continue;
        };
        let live = if let Some(i) = name.strip_prefix("bot-") {
            let id = bot_id(i.parse().unwrap());
            let bot = truth.chime_bots.iter().find(|b| b.bot_id == id).unwrap();
            v["security_token"] == bot.security_token.as_str()
        } else if let Some(i) = name.strip_prefix("git-") {
            let user = user(i.parse().unwrap());
            let held: Vec<_> = (truth.iam_credentials.iter())
                .filter(|c| c.user_name == user)
                .collect();
            held.iter().any(|c| {
                v["credential_id"] == c.credential_id.as_str()
                    && v["service_password"] == c.service_password.as_str()
            })
        } else {
            let arn = stage(name["stage-".len()..].parse().unwrap());
            let issued = &truth
                .ivs_stages
                .iter()
                .find(|s| s.arn == arn)
                .unwrap()
                .tokens;
            issued
                .iter()
                .any(|t| v["token"] == t.token.as_str() && t.expiration_time > now)
        };
        if !live {
            problems.push(format!(
                "{name}: the stored secret is not the provider's live one"
            ));
        }
    }
    problems
}

/// One credential's provider rotations, from the emulator's call log.
#[derive(Debug, Default)]
pub struct Issued {
    /// Provider calls that issued a new secret (`P`).
    pub issued: usize,
    /// `P`s followed by another `P` with no store between.
    pub unstored: usize,
    /// `P`s less than half a schedule interval after the previous `P`.
    pub early: usize,
}

impl Issued {
    /// The double rotations `redone` in-doubt rotations do not explain.
    pub fn doubles(&self, redone: usize) -> usize {
        self.unstored.saturating_sub(redone) + self.early.saturating_sub(redone)
    }
}

/// Per credential: what [`Issued`] counts (see the module docs).
pub fn issued(env: &TestEnv) -> BTreeMap<String, Issued> {
    let calls = env.emulator.calls();
    let half_slot = chrono::Duration::milliseconds(EVERY_SECS as i64 * 500);
    let mut counts = BTreeMap::new();
    for credential in credentials() {
        let secret = format!("rekeyd/{}", credential.name);
        let mut count = Issued::default();
        let (mut pending, mut last) = (false, None);
        for call in calls.iter().filter(|c| c.mutated) {
            let Some(resource) = call.resource.as_deref() else {
                continue;
            };
            if PROVIDER_OPERATIONS.contains(&call.operation.as_str())
                && credential.resources.iter().any(|r| r == resource)
            {
                count.issued += 1;
                count.unstored += usize::from(pending);
                count.early += usize::from(last.is_some_and(|at| call.at - at < half_slot));
                pending = true;
                last = Some(call.at);
            } else if STORE_OPERATIONS.contains(&call.operation.as_str())
                && (resource == secret || resource.contains(&format!(":secret:{secret}-")))
            {
                pending = false;
            }
        }
        counts.insert(credential.name, count);
    }
    counts
}

/// Per credential, the distinct in-doubt rotations the replicas reported:
/// each rotation that failed in doubt, and each intent left in doubt (a
/// restart reports its journal's intent again until it is redone, and the
/// replica that takes the lease over reports the same intent: one intent,
/// keyed by its start time).
pub fn redone(logs: &[String]) -> BTreeMap<String, usize> {
    let mut failed: BTreeMap<String, usize> = BTreeMap::new();
    let mut intents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in logs.iter().flat_map(|l| l.lines()) {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(credential) = event["credential"]
            .as_str()
            .or_else(|| event["span"]["credential"].as_str())
        else {
            continue;
        };
        let error = event["error"].as_str().unwrap_or_default();
        match event["message"].as_str().unwrap_or_default() {
            "rotation failed" if error.contains("in doubt") || error.contains("in-doubt") => {
                *failed.entry(credential.to_owned()).or_default() += 1;
            }
            "the lease held a rotation left in doubt: rotating at once"
            | "the last rotation is in doubt: rotating again now" => {
                let since = event["since"].as_str().unwrap_or_default().to_owned();
                intents
                    .entry(credential.to_owned())
                    .or_default()
                    .insert(since);
            }
            _ => {}
        }
    }
    for (credential, since) in intents {
        *failed.entry(credential).or_default() += since.len();
    }
    failed
}

/// What must hold even mid-chaos: no IAM user over two credentials.
pub fn problems_mid_run(env: &TestEnv) -> Vec<String> {
    let truth = env.truth();
    (0..4)
        .map(user)
        .filter_map(|u| {
            let held = truth
                .iam_credentials
                .iter()
                .filter(|c| c.user_name == u)
                .count();
            (held > 2).then(|| format!("{u}: held {held} credentials"))
        })
        .collect()
}

/// After the stop: clean exits, no panic, no
/// secret in any log.
pub fn problems_at_end(env: &TestEnv, logs: &[String], codes: &[i32]) -> Vec<String> {
    let mut found = Vec::new();
    for (n, code) in codes.iter().enumerate() {
        if *code != 0 {
            found.push(format!("replica-{} exited {code} on SIGTERM", n + 1));
        }
    }
    if logs.iter().any(|l| l.contains("panicked at")) {
        found.push("a replica panicked".to_owned());
    }
    let mut secrets = env.issued_secrets();
    for secret in env.truth().secrets {
        for version in secret.versions {
            let value: serde_json::Value =
                serde_json::from_str(version.secret_string.as_deref().unwrap_or("{}")).unwrap();
            for field in ["security_token", "service_password", "token"] {
                secrets.extend(value[field].as_str().map(str::to_owned));
            }
        }
    }
    secrets.sort();
    secrets.dedup();
    if secrets
        .iter()
        .any(|s| logs.iter().any(|l| l.contains(s.as_str())))
    {
        found.push("a secret value is in a replica's log".to_owned());
    }
    found
}
