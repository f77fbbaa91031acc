//! A hook's environment: rekeyd's own, without what would let the hook act
//! as rekeyd towards AWS or systemd, plus the `REKEYD_*` variables that say
//! what happened. Never a secret value.

use std::ffi::OsString;

use super::Context;

/// `AWS_*` variables a hook keeps: where AWS is, never who rekeyd is to it.
const AWS_KEPT: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];

/// systemd's variables for rekeyd's own process (a hook that used them
/// would speak for rekeyd).
const SYSTEMD_DROPPED: [&str; 6] = [
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
];

/// Whether a variable of rekeyd's environment is passed on to a hook.
///
/// Every `AWS_*` variable is dropped except the region ones and the
/// endpoint URLs: keys, session tokens, container and web-identity
/// credentials, the role, the profile and the credential and config file
/// paths all say who rekeyd is to AWS. `REKEYD_*` names a hook is given
/// are always rekeyd's, never inherited.
pub(super) fn passed_on(name: &str) -> bool {
    if let Some(rest) = name.strip_prefix("AWS_") {
        return AWS_KEPT.contains(&name) || rest.starts_with("ENDPOINT_URL");
    }
    !(SYSTEMD_DROPPED.contains(&name) || Context::NAMES.contains(&name))
}

/// rekeyd's environment as a hook gets it, then the run's `REKEYD_*` variables.
pub(super) fn environment(rekeyd: Vec<(&'static str, String)>) -> Vec<(OsString, OsString)> {
    let mut vars: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(name, _)| name.to_str().is_some_and(passed_on))
        .collect();
    vars.extend(
        rekeyd
            .into_iter()
            .map(|(name, value)| (OsString::from(name), OsString::from(value))),
    );
    vars
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_identity_and_systemd_variables_are_not_passed_on() {
        for dropped in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
            "AWS_PROFILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "NOTIFY_SOCKET",
            "REKEYD_ERROR",
            "REKEYD_EVENT",
        ] {
            assert!(!passed_on(dropped), "{dropped}");
        }
        for kept in [
            "PATH",
            "HOME",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            "REKEYD_CONFIG",
        ] {
            assert!(passed_on(kept), "{kept}");
        }
    }
}
