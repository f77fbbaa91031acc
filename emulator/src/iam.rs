//! IAM state: users and their service-specific credentials, with the rules IAM enforces on them.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use crate::error::ApiError;
use crate::random;

mod users;

pub(crate) use users::MAX_TAGS;

/// Services IAM issues service-specific credentials for.
pub(crate) const SUPPORTED_SERVICES: &[&str] = &[
    "codecommit.amazonaws.com",
    "cassandra.amazonaws.com",
    "bedrock.amazonaws.com",
    "logs.amazonaws.com",
];

/// Services whose credentials are API keys: IAM answers an alias and a
/// secret (no user name, no password), and they may expire.
pub(crate) const API_KEY_SERVICES: &[&str] = &["bedrock.amazonaws.com", "logs.amazonaws.com"];

/// Whether IAM issues `service_name`'s credentials as API keys.
pub(crate) fn issues_api_keys(service_name: &str) -> bool {
    API_KEY_SERVICES.contains(&service_name)
}

/// Credentials one user may hold per service.
const CREDENTIALS_PER_SERVICE: usize = 2;

/// An IAM user.
#[derive(Debug, Clone)]
pub(crate) struct IamUser {
    pub name: String,
    pub user_id: String,
    pub arn: String,
    pub path: String,
    pub create_date: DateTime<Utc>,
    /// Key and value, in the order they were added.
    pub tags: Vec<(String, String)>,
}

/// One service-specific credential: a user name and password (CodeCommit,
/// Keyspaces), or an API key's alias and secret (Bedrock, CloudWatch Logs).
#[derive(Debug, Clone)]
pub(crate) struct ServiceCredential {
    pub id: String,
    pub user_name: String,
    pub service_name: String,
    /// Empty for API keys.
    pub service_user_name: String,
    /// Empty for API keys.
    pub password: String,
    /// API keys only: the public part, `USER-at-ACCOUNT`.
    pub alias: Option<String>,
    /// API keys only: the bearer secret.
    pub secret: Option<String>,
    /// `Active` or `Inactive`, as set; see [`ServiceCredential::status_at`].
    pub status: String,
    pub create_date: DateTime<Utc>,
    /// API keys created with `CredentialAgeDays` only.
    pub expiration_date: Option<DateTime<Utc>>,
}

impl ServiceCredential {
    /// The status IAM reports at `now`: `Expired` once the expiration date passed.
    pub(crate) fn status_at(&self, now: DateTime<Utc>) -> &str {
        match self.expiration_date {
            Some(expiry) if expiry <= now => "Expired",
            _ => &self.status,
        }
    }

    /// A new secret (API keys) or password, as Reset issues it.
    fn renew_secret(&mut self) {
        if issues_api_keys(&self.service_name) {
            self.secret = Some(random::api_key_secret(
                &self.service_name,
                self.alias.as_deref().unwrap_or_default(),
            ));
        } else {
            self.password = random::service_password();
        }
    }
}

/// Every IAM user and credential. Credentials are kept per user (in
/// creation order), with every id in a set: a fleet of thousands is looked up
/// on every call.
#[derive(Debug, Clone, Default)]
pub(crate) struct IamState {
    users: BTreeMap<String, IamUser>,
    credentials: HashMap<String, Vec<ServiceCredential>>,
    ids: HashSet<String>,
}

/// True when `name` satisfies IAM's `[\w+=,.@-]+` of 1 to `max` characters.
pub(crate) fn valid_user_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// True when `id` satisfies `[\w]+` of 20 to 128 characters.
pub(crate) fn valid_credential_id(id: &str) -> bool {
    (20..=128).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn no_such_user(name: &str) -> ApiError {
    ApiError::new(
        404,
        "NoSuchEntity",
        format!("The user with name {name} cannot be found."),
    )
}

fn no_such_credential(id: &str, user: &str) -> ApiError {
    ApiError::new(
        404,
        "NoSuchEntity",
        format!("The Service Specific Credential with id {id} cannot be found for user {user}."),
    )
}

impl IamState {
    /// Returns the user, creating it first when missing.
    pub(crate) fn ensure_user(
        &mut self,
        name: &str,
        account: &str,
        now: DateTime<Utc>,
    ) -> &IamUser {
        self.users
            .entry(name.to_string())
            .or_insert_with(|| IamUser {
                name: name.to_string(),
                user_id: random::user_id(),
                arn: format!("arn:aws:iam::{account}:user/{name}"),
                path: "/".to_string(),
                create_date: now,
                tags: Vec::new(),
            })
    }

    /// The named user, or NoSuchEntity.
    pub(crate) fn user(&self, name: &str) -> Result<&IamUser, ApiError> {
        self.users.get(name).ok_or_else(|| no_such_user(name))
    }

    pub(crate) fn users(&self) -> impl Iterator<Item = &IamUser> {
        self.users.values()
    }

    /// Every credential, by user name, then in creation order.
    pub(crate) fn credentials(&self) -> impl Iterator<Item = &ServiceCredential> {
        self.users
            .keys()
            .filter_map(|user| self.credentials.get(user))
            .flatten()
    }

    /// The user's credentials, in creation order.
    fn held_by(&self, user_name: &str) -> &[ServiceCredential] {
        self.credentials.get(user_name).map_or(&[], Vec::as_slice)
    }

    /// Creates a credential; `id` and `password` are generated unless given (seeding).
    pub(crate) fn create_credential(
        &mut self,
        user_name: &str,
        service_name: &str,
        id: Option<String>,
        age_days: Option<u32>,
        account: &str,
        now: DateTime<Utc>,
    ) -> Result<ServiceCredential, ApiError> {
        self.user(user_name)?;
        if !SUPPORTED_SERVICES.contains(&service_name) {
            return Err(ApiError::new(
                404,
                "NotSupportedService",
                format!(
                    "No such service {service_name} is supported for Service-Specific Credentials"
                ),
            ));
        }
        let held = self
            .held_by(user_name)
            .iter()
            .filter(|c| c.service_name == service_name)
            .count();
        if held >= CREDENTIALS_PER_SERVICE {
            return Err(ApiError::new(
                409,
                "LimitExceeded",
                format!(
                    "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {CREDENTIALS_PER_SERVICE}"
                ),
            ));
        }
        if age_days.is_some() && !issues_api_keys(service_name) {
            return Err(ApiError::new(
                400,
                "InvalidInput",
                format!(
                    "CredentialAgeDays is only valid for Bedrock and CloudWatch Logs API keys, not {service_name}"
                ),
            ));
        }
        let id = id.unwrap_or_else(random::credential_id);
        if self.ids.contains(&id) {
            return Err(ApiError::new(
                409,
                "EntityAlreadyExists",
                format!("Service Specific Credential {id} already exists."),
            ));
        }
        let generated_name = format!("{user_name}-at-{account}");
        let api_key = issues_api_keys(service_name);
        let credential = ServiceCredential {
            id,
            user_name: user_name.to_string(),
            service_name: service_name.to_string(),
            service_user_name: if api_key {
                String::new()
            } else {
                generated_name.clone()
            },
            password: if api_key {
                String::new()
            } else {
                random::service_password()
            },
            secret: api_key.then(|| random::api_key_secret(service_name, &generated_name)),
            alias: api_key.then_some(generated_name),
            status: "Active".to_string(),
            create_date: now,
            // IAM answers dates in whole seconds.
            expiration_date: age_days.map(|d| {
                DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
                    + Duration::days(i64::from(d))
            }),
        };
        self.ids.insert(credential.id.clone());
        self.credentials
            .entry(user_name.to_string())
            .or_default()
            .push(credential.clone());
        Ok(credential)
    }

    fn find_mut(&mut self, user_name: &str, id: &str) -> Result<&mut ServiceCredential, ApiError> {
        self.user(user_name)?;
        self.credentials
            .get_mut(user_name)
            .and_then(|held| held.iter_mut().find(|c| c.id == id))
            .ok_or_else(|| no_such_credential(id, user_name))
    }

    /// Gives the credential a new password (an API key a new secret),
    /// keeping its id, alias, status and expiration date: AWS documents the
    /// expiry as set at creation (`CredentialAgeDays` is a parameter of
    /// Create only), and Reset as generating a new secret for the same key.
    pub(crate) fn reset(
        &mut self,
        user_name: &str,
        id: &str,
    ) -> Result<ServiceCredential, ApiError> {
        let credential = self.find_mut(user_name, id)?;
        credential.renew_secret();
        Ok(credential.clone())
    }

    /// Seeding: sets the password, or an API key's secret.
    pub(crate) fn set_secret(
        &mut self,
        user_name: &str,
        id: &str,
        value: String,
    ) -> Result<(), ApiError> {
        let credential = self.find_mut(user_name, id)?;
        if issues_api_keys(&credential.service_name) {
            credential.secret = Some(value);
        } else {
            credential.password = value;
        }
        Ok(())
    }

    /// Seeding: sets the expiration date (an API key's only).
    pub(crate) fn set_expiration_date(
        &mut self,
        user_name: &str,
        id: &str,
        expiration_date: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        let credential = self.find_mut(user_name, id)?;
        if !issues_api_keys(&credential.service_name) {
            return Err(ApiError::new(
                400,
                "InvalidInput",
                format!(
                    "only Bedrock and CloudWatch Logs API keys expire, not {}",
                    credential.service_name
                ),
            ));
        }
        credential.expiration_date = Some(expiration_date);
        Ok(())
    }

    pub(crate) fn delete(&mut self, user_name: &str, id: &str) -> Result<(), ApiError> {
        self.find_mut(user_name, id)?;
        if let Some(held) = self.credentials.get_mut(user_name) {
            held.retain(|c| c.id != id);
            if held.is_empty() {
                self.credentials.remove(user_name);
            }
        }
        self.ids.remove(id);
        Ok(())
    }

    /// Sets the status; the caller has checked it is `Active` or `Inactive`.
    pub(crate) fn update(
        &mut self,
        user_name: &str,
        id: &str,
        status: &str,
    ) -> Result<(), ApiError> {
        self.find_mut(user_name, id)?.status = status.to_string();
        Ok(())
    }

    /// The user's credentials (or everyone's), optionally for one service.
    pub(crate) fn list(
        &self,
        user_name: Option<&str>,
        service_name: Option<&str>,
    ) -> Result<Vec<&ServiceCredential>, ApiError> {
        let held: Box<dyn Iterator<Item = &ServiceCredential>> = match user_name {
            Some(user) => {
                self.user(user)?;
                Box::new(self.held_by(user).iter())
            }
            None => Box::new(self.credentials()),
        };
        Ok(held
            .filter(|c| service_name.is_none_or(|s| c.service_name == s))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CC: &str = "codecommit.amazonaws.com";

    fn state_with(user: &str) -> IamState {
        let mut s = IamState::default();
        s.ensure_user(user, "123456789012", Utc::now());
        s
    }

    #[test]
    fn two_credentials_per_service_then_limit() {
        let mut s = state_with("sofia");
        let now = Utc::now();
        let a = s
            .create_credential("sofia", CC, None, None, "123456789012", now)
            .unwrap();
        assert_eq!(a.service_user_name, "sofia-at-123456789012");
        s.create_credential("sofia", CC, None, None, "123456789012", now)
            .unwrap();
        let err = s
            .create_credential("sofia", CC, None, None, "123456789012", now)
            .unwrap_err();
        assert_eq!((err.status, err.code), (409, "LimitExceeded"));
        let err = s
            .create_credential("nobody", CC, None, None, "1", now)
            .unwrap_err();
        assert_eq!(err.code, "NoSuchEntity");
    }

    #[test]
    fn reset_keeps_id_and_changes_password() {
        let mut s = state_with("sofia");
        let c = s
            .create_credential("sofia", CC, None, None, "1", Utc::now())
            .unwrap();
        let r = s.reset("sofia", &c.id).unwrap();
        assert_eq!(r.id, c.id);
        assert_ne!(r.password, c.password);
        assert_eq!(s.reset("other", &c.id).unwrap_err().code, "NoSuchEntity");
    }

    #[test]
    fn api_keys_have_an_alias_and_a_secret_and_may_expire() {
        let mut s = state_with("ana");
        let now = Utc::now();
        let key = s
            .create_credential("ana", "bedrock.amazonaws.com", None, Some(90), "1", now)
            .unwrap();
        assert_eq!(key.alias.as_deref(), Some("ana-at-1"));
        assert!(key.secret.as_deref().is_some_and(|k| k.starts_with("ABSK")));
        assert_eq!(
            (key.password.as_str(), key.service_user_name.as_str()),
            ("", "")
        );
        let expiry = key.expiration_date.unwrap();
        assert_eq!(expiry.timestamp(), (now + Duration::days(90)).timestamp());
        assert_eq!(key.status_at(now), "Active");
        assert_eq!(key.status_at(expiry), "Expired");
        let reset = s.reset("ana", &key.id).unwrap();
        assert_ne!(reset.secret, key.secret);
        assert_eq!(
            (reset.alias, reset.expiration_date),
            (key.alias, key.expiration_date)
        );
        let logs = s
            .create_credential("ana", "logs.amazonaws.com", None, None, "1", now)
            .unwrap();
        assert!(logs.secret.is_some() && logs.expiration_date.is_none());
        let err = s
            .create_credential("ana", CC, None, Some(30), "1", now)
            .unwrap_err();
        assert_eq!((err.status, err.code), (400, "InvalidInput"));
    }

    #[test]
    fn validates_names_and_ids() {
        assert!(valid_user_name("sofia.b@x", 64));
        assert!(!valid_user_name("a b", 64));
        assert!(!valid_user_name("", 64));
        assert!(valid_credential_id("ACCAEXAMPLE123EXAMPLE"));
        assert!(!valid_credential_id("ACCA-EXAMPLE123EXAMPLE"));
        assert!(!valid_credential_id("ACCA"));
    }
}
