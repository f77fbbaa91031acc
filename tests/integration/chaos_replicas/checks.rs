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
//! was never stored: *unstored*. That is legitimate only as the price of a
//! rotation in doubt that was redone; the replicas log each such event
//! (*redone*: a rotation that failed in doubt, a lease taken over with a
//! rotation left in it, a restart finding its journal in doubt). So
//! `doubles = max(0, unstored - redone) + max(0, P - slots - redone)` per
//! credential, where `slots` is the most rotations a schedule of one every
//! 3 s allows in the run's length: two replicas rotating one credential at
//! once show up in the first term, two rotating it one after the other in
//! one slot in the second.

use std::collections::BTreeMap;

use crate::util::TestEnv;

use super::{bot_id, credentials, stage, user};

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

/// Per credential: provider rotations, unstored ones (see the module docs).
pub fn issued_and_unstored(env: &TestEnv) -> BTreeMap<String, (usize, usize)> {
    let calls = env.emulator.calls();
    let mut counts = BTreeMap::new();
    for credential in credentials() {
        let secret = format!("rekeyd/{}", credential.name);
        let (mut issued, mut unstored, mut pending) = (0, 0, false);
        for call in calls.iter().filter(|c| c.mutated) {
            let Some(resource) = call.resource.as_deref() else {
                continue;
            };
            if PROVIDER_OPERATIONS.contains(&call.operation.as_str())
                && credential.resources.iter().any(|r| r == resource)
            {
                issued += 1;
                unstored += usize::from(pending);
                pending = true;
            } else if STORE_OPERATIONS.contains(&call.operation.as_str())
                && (resource == secret || resource.contains(&format!(":secret:{secret}-")))
            {
                pending = false;
            }
        }
        counts.insert(credential.name, (issued, unstored));
    }
    counts
}

/// Per credential, the in-doubt rotations the replicas reported and redid.
pub fn redone(logs: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in logs.iter().flat_map(|l| l.lines()) {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let message = event["message"].as_str().unwrap_or_default();
        let in_doubt = match message {
            "rotation failed" => event["error"]
                .as_str()
                .unwrap_or_default()
                .contains("in doubt"),
            "the lease held a rotation left in doubt: rotating at once"
            | "the last rotation is in doubt: rotating again now" => true,
            _ => false,
        };
        let credential = event["credential"]
            .as_str()
            .or_else(|| event["span"]["credential"].as_str());
        if let (true, Some(credential)) = (in_doubt, credential) {
            *counts.entry(credential.to_owned()).or_default() += 1;
        }
    }
    counts
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
