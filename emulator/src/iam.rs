//! IAM state: users and their service-specific credentials, with the rules IAM enforces on them.

use std::collections::BTreeMap;

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
];

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

/// One service-specific credential.
#[derive(Debug, Clone)]
pub(crate) struct ServiceCredential {
    pub id: String,
    pub user_name: String,
    pub service_name: String,
    pub service_user_name: String,
    pub password: String,
    pub status: String,
    pub create_date: DateTime<Utc>,
    pub expiration_date: Option<DateTime<Utc>>,
}

/// Every IAM user and credential.
#[derive(Debug, Clone, Default)]
pub(crate) struct IamState {
    users: BTreeMap<String, IamUser>,
    credentials: Vec<ServiceCredential>,
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

    pub(crate) fn credentials(&self) -> &[ServiceCredential] {
        &self.credentials
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
            .credentials
            .iter()
            .filter(|c| c.user_name == user_name && c.service_name == service_name)
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
        let id = id.unwrap_or_else(random::credential_id);
        if self.credentials.iter().any(|c| c.id == id) {
            return Err(ApiError::new(
                409,
                "EntityAlreadyExists",
                format!("Service Specific Credential {id} already exists."),
            ));
        }
        let credential = ServiceCredential {
            id,
            user_name: user_name.to_string(),
            service_name: service_name.to_string(),
            service_user_name: format!("{user_name}-at-{account}"),
            password: random::service_password(),
            status: "Active".to_string(),
            create_date: now,
            expiration_date: age_days.map(|d| now + Duration::days(i64::from(d))),
        };
        self.credentials.push(credential.clone());
        Ok(credential)
    }

    fn find_mut(&mut self, user_name: &str, id: &str) -> Result<&mut ServiceCredential, ApiError> {
        self.user(user_name)?;
        self.credentials
            .iter_mut()
            .find(|c| c.id == id && c.user_name == user_name)
            .ok_or_else(|| no_such_credential(id, user_name))
    }

    /// Gives the credential a new password, keeping its id.
    pub(crate) fn reset(
        &mut self,
        user_name: &str,
        id: &str,
    ) -> Result<ServiceCredential, ApiError> {
        let credential = self.find_mut(user_name, id)?;
        credential.password = random::service_password();
        Ok(credential.clone())
    }

    pub(crate) fn set_password(
        &mut self,
        user_name: &str,
        id: &str,
        password: String,
    ) -> Result<(), ApiError> {
        self.find_mut(user_name, id)?.password = password;
        Ok(())
    }

    pub(crate) fn delete(&mut self, user_name: &str, id: &str) -> Result<(), ApiError> {
        self.find_mut(user_name, id)?;
        self.credentials
            .retain(|c| !(c.id == id && c.user_name == user_name));
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
        if let Some(user) = user_name {
            self.user(user)?;
        }
        Ok(self
            .credentials
            .iter()
            .filter(|c| user_name.is_none_or(|u| c.user_name == u))
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
    fn validates_names_and_ids() {
        assert!(valid_user_name("sofia.b@x", 64));
        assert!(!valid_user_name("a b", 64));
        assert!(!valid_user_name("", 64));
        assert!(valid_credential_id("ACCAEXAMPLE123EXAMPLE"));
        assert!(!valid_credential_id("ACCA-EXAMPLE123EXAMPLE"));
        assert!(!valid_credential_id("ACCA"));
    }
}
