//! STS state: the accounts the emulator knows, their roles and whom each trusts, the sessions
//! `AssumeRole` issued, and which identity (account) signed each request.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::context::Identity;
use crate::error::ApiError;
use crate::random;

const VALIDATION: &str = "ValidationError";
/// The longest session a chained role (assumed with a role's own session) may ask for.
const CHAINED_MAX_SECONDS: u32 = 3600;

/// True for a 12-digit AWS account id.
pub(crate) fn valid_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// An IAM role that STS lets the principals it trusts assume.
#[derive(Debug, Clone)]
pub(crate) struct Role {
    pub arn: String,
    pub name: String,
    pub account_id: String,
    /// `AROA...`.
    pub role_id: String,
    /// Who may assume it: `*`, an account id (or its `arn:aws:iam::ID:root`), a user ARN, a
    /// role ARN (that role's sessions: role chaining), an assumed-role session ARN.
    pub trust: Vec<String>,
    /// The `ExternalId` every `AssumeRole` must carry, when set.
    pub external_id: Option<String>,
    /// The longest `DurationSeconds` allowed (3600..43200; AWS's default 3600).
    pub max_session_duration: u32,
    /// Test knob: issued credentials expire after this many seconds, whatever the
    /// `DurationSeconds` asked for (AWS's minimum of 900 s is too long for tests).
    pub session_lifetime: Option<u32>,
}

/// What a seed or control declares about a role.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoleSpec {
    pub name: String,
    pub trust: Vec<String>,
    pub external_id: Option<String>,
    pub max_session_duration: Option<u32>,
    pub session_lifetime: Option<u32>,
}

/// Temporary credentials `AssumeRole` issued.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    /// The role's account: where calls signed with this session act.
    pub account_id: String,
    pub role_arn: String,
    /// `ROLEID:SESSIONNAME`.
    pub assumed_role_id: String,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
    pub session_name: String,
    pub issued: DateTime<Utc>,
    pub expiration: DateTime<Utc>,
    /// The access key id of the identity that assumed the role, if it signed with one.
    pub assumed_by: Option<String>,
}

/// Why a request signed with session credentials acts nowhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionRefused {
    /// Past the session's expiration.
    Expired,
    /// Its `X-Amz-Security-Token` is missing or not the session's.
    InvalidToken,
}

/// `AssumeRole`'s members once the model's constraints held.
#[derive(Debug, Clone)]
pub(crate) struct AssumeRequest {
    pub role_arn: String,
    pub session_name: String,
    pub external_id: Option<String>,
    pub duration_seconds: Option<u32>,
}

/// Accounts, roles and sessions.
#[derive(Debug, Clone, Default)]
pub(crate) struct StsState {
    accounts: BTreeSet<String>,
    roles: BTreeMap<String, Role>,
    sessions: HashMap<String, Session>,
}

fn access_denied(caller: &Identity, role_arn: &str) -> ApiError {
    ApiError::new(
        403,
        "AccessDenied",
        format!(
            "User: {} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
            caller.arn
        ),
    )
}

/// The account id and role name of `arn:aws:iam::ACCOUNT:role/[PATH/]NAME`.
pub(crate) fn parse_role_arn(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("role/")?;
    let name = path_and_name.rsplit('/').next()?;
    (valid_account_id(account) && !name.is_empty()).then_some((account, name))
}

impl StsState {
    /// Makes an account known (idempotent).
    pub(crate) fn declare_account(&mut self, account_id: &str) -> Result<(), ApiError> {
        if !valid_account_id(account_id) {
            return Err(ApiError::new(
                400,
                VALIDATION,
                format!("account id {account_id:?} is not 12 digits"),
            ));
        }
        self.accounts.insert(account_id.to_string());
        Ok(())
    }

    pub(crate) fn is_declared(&self, account_id: &str) -> bool {
        self.accounts.contains(account_id)
    }

    /// The declared accounts, by id.
    pub(crate) fn accounts(&self) -> impl Iterator<Item = &str> {
        self.accounts.iter().map(String::as_str)
    }

    /// Creates a role in a declared account.
    pub(crate) fn add_role(
        &mut self,
        account_id: &str,
        spec: &RoleSpec,
    ) -> Result<&Role, ApiError> {
        let name = &spec.name;
        if !crate::iam::valid_user_name(name, 64) {
            return Err(ApiError::new(
                400,
                VALIDATION,
                format!("role name {name:?} must match [\\w+=,.@-]+ (1-64 characters)"),
            ));
        }
        let max = spec.max_session_duration.unwrap_or(3600);
        if !(3600..=43200).contains(&max) {
            return Err(ApiError::new(
                400,
                VALIDATION,
                format!("role {name}: max_session_duration {max} is not within 3600..43200"),
            ));
        }
        if spec.session_lifetime == Some(0) {
            return Err(ApiError::new(
                400,
                VALIDATION,
                format!("role {name}: session_lifetime_seconds must be at least 1"),
            ));
        }
        for principal in &spec.trust {
            let ok = principal == "*"
                || valid_account_id(principal)
                || principal.starts_with("arn:aws:iam::")
                || principal.starts_with("arn:aws:sts::");
            if !ok {
                return Err(ApiError::new(
                    400,
                    "MalformedPolicyDocument",
                    format!(
                        "role {name}: trusted principal {principal:?} is not *, an account id or an IAM/STS ARN"
                    ),
                ));
            }
        }
        let arn = format!("arn:aws:iam::{account_id}:role/{name}");
        if self.roles.contains_key(&arn) {
            return Err(ApiError::new(
                409,
                "EntityAlreadyExists",
                format!("Role with name {name} already exists."),
            ));
        }
        let role = Role {
            arn: arn.clone(),
            name: name.clone(),
            account_id: account_id.to_string(),
            role_id: random::role_id(),
            trust: spec.trust.clone(),
            external_id: spec.external_id.clone(),
            max_session_duration: max,
            session_lifetime: spec.session_lifetime,
        };
        Ok(self.roles.entry(arn).or_insert(role))
    }

    pub(crate) fn roles(&self) -> impl Iterator<Item = &Role> {
        self.roles.values()
    }

    /// Every session issued, expired ones included, in no order.
    pub(crate) fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.values()
    }

    /// The account a session key acts in, if STS issued it.
    pub(crate) fn session_account(&self, access_key_id: &str) -> Option<&str> {
        self.sessions
            .get(access_key_id)
            .map(|s| s.account_id.as_str())
    }

    /// Makes sessions expire now: all, or those acting in `account_id`. Answers how many.
    pub(crate) fn expire(&mut self, account_id: Option<&str>, now: DateTime<Utc>) -> usize {
        let mut count = 0;
        for session in self.sessions.values_mut() {
            if account_id.is_none_or(|a| a == session.account_id) && session.expiration > now {
                session.expiration = now;
                count += 1;
            }
        }
        count
    }

    /// Who signed with `access_key_id` (and `session_token`): the session's role when STS
    /// issued the key, else `default` (the default account's caller). A session key
    /// without its token, or past its expiration, is refused.
    pub(crate) fn identify(
        &self,
        access_key_id: Option<&str>,
        session_token: Option<&str>,
        default: impl FnOnce() -> Identity,
        now: DateTime<Utc>,
    ) -> Result<Identity, SessionRefused> {
        let Some(session) = access_key_id.and_then(|k| self.sessions.get(k)) else {
            return Ok(default());
        };
        if session_token != Some(session.session_token.as_str()) {
            return Err(SessionRefused::InvalidToken);
        }
        if session.expiration <= now {
            return Err(SessionRefused::Expired);
        }
        Ok(Identity {
            account_id: session.account_id.clone(),
            access_key_id: Some(session.access_key_id.clone()),
            arn: session.arn.clone(),
            user_id: session.assumed_role_id.clone(),
            role_arn: Some(session.role_arn.clone()),
        })
    }

    /// `AssumeRole`: the role must exist and trust the caller (and get its `ExternalId`).
    pub(crate) fn assume_role(
        &mut self,
        caller: &Identity,
        req: &AssumeRequest,
        now: DateTime<Utc>,
    ) -> Result<&Session, ApiError> {
        if parse_role_arn(&req.role_arn).is_none() {
            return Err(ApiError::new(
                400,
                VALIDATION,
                format!("{} is not a valid role ARN", req.role_arn),
            ));
        }
        let role = self
            .roles
            .get(&req.role_arn)
            .ok_or_else(|| access_denied(caller, &req.role_arn))?;
        if !trusts(role, caller) {
            return Err(access_denied(caller, &req.role_arn));
        }
        if let Some(wanted) = &role.external_id
            && req.external_id.as_deref() != Some(wanted.as_str())
        {
            return Err(access_denied(caller, &req.role_arn));
        }
        let duration = req.duration_seconds.unwrap_or(3600);
        if caller.role_arn.is_some() && duration > CHAINED_MAX_SECONDS {
            return Err(ApiError::new(
                400,
                VALIDATION,
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
            ));
        }
        if duration > role.max_session_duration {
            return Err(ApiError::new(
                400,
                VALIDATION,
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
            ));
        }
        let lifetime = role.session_lifetime.unwrap_or(duration);
        let access_key_id = random::session_access_key_id();
        let session = Session {
            access_key_id: access_key_id.clone(),
            secret_access_key: random::secret_access_key(),
            session_token: random::session_token(),
            account_id: role.account_id.clone(),
            role_arn: role.arn.clone(),
            assumed_role_id: format!("{}:{}", role.role_id, req.session_name),
            arn: format!(
                "arn:aws:sts::{}:assumed-role/{}/{}",
                role.account_id, role.name, req.session_name
            ),
            session_name: req.session_name.clone(),
            issued: now,
            expiration: now + Duration::seconds(i64::from(lifetime)),
            assumed_by: caller.access_key_id.clone(),
        };
        Ok(self.sessions.entry(access_key_id).or_insert(session))
    }
}

/// Whether the role's trust policy names the caller (directly, by its account, by its role).
fn trusts(role: &Role, caller: &Identity) -> bool {
    role.trust.iter().any(|p| {
        p == "*"
            || *p == caller.account_id
            || *p == format!("arn:aws:iam::{}:root", caller.account_id)
            || *p == caller.arn
            || caller.role_arn.as_deref() == Some(p.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str = "123456789012";
    const MEDIA: &str = "111111111111";

    fn user() -> Identity {
        Identity {
            account_id: HOME.into(),
            access_key_id: Some("AKID".into()),
            arn: format!("arn:aws:iam::{HOME}:user/rekeyd-caller"),
            user_id: "AIDAEXAMPLE".into(),
            role_arn: None,
        }
    }

    fn request(role_arn: &str) -> AssumeRequest {
        AssumeRequest {
            role_arn: role_arn.into(),
            session_name: "rekeyd-media".into(),
            external_id: None,
            duration_seconds: None,
        }
    }

    fn state(trust: &[&str], external_id: Option<&str>) -> StsState {
        let mut sts = StsState::default();
        sts.declare_account(MEDIA).unwrap();
        sts.add_role(
            MEDIA,
            &RoleSpec {
                name: "rotator".into(),
                trust: trust.iter().map(|t| t.to_string()).collect(),
                external_id: external_id.map(str::to_owned),
                ..Default::default()
            },
        )
        .unwrap();
        sts
    }

    const ROLE: &str = "arn:aws:iam::111111111111:role/rotator";

    #[test]
    fn a_trusted_caller_gets_credentials_acting_in_the_roles_account() {
        let now = Utc::now();
        let mut sts = state(&[HOME], None);
        let session = sts
            .assume_role(&user(), &request(ROLE), now)
            .unwrap()
            .clone();
        assert!(session.access_key_id.starts_with("ASIA"));
        assert_eq!(session.expiration, now + Duration::hours(1));
        assert_eq!(
            session.arn,
            "arn:aws:sts::111111111111:assumed-role/rotator/rekeyd-media"
        );
        let key = Some(session.access_key_id.as_str());
        let token = Some(session.session_token.as_str());
        let who = sts.identify(key, token, user, now).unwrap();
        assert_eq!(who.account_id, MEDIA);
        assert_eq!(who.role_arn.as_deref(), Some(ROLE));
        assert_eq!(sts.identify(Some("AKID"), None, user, now).unwrap(), user());
        assert_eq!(
            sts.identify(key, Some("forged"), user, now),
            Err(SessionRefused::InvalidToken)
        );
        assert_eq!(
            sts.identify(key, None, user, now),
            Err(SessionRefused::InvalidToken)
        );
        let later = now + Duration::hours(1);
        assert_eq!(
            sts.identify(key, token, user, later),
            Err(SessionRefused::Expired)
        );
    }

    #[test]
    fn untrusted_missing_and_wrong_external_id_are_access_denied() {
        let now = Utc::now();
        let mut sts = state(&["222222222222"], None);
        let err = sts.assume_role(&user(), &request(ROLE), now).unwrap_err();
        assert_eq!((err.status, err.code), (403, "AccessDenied"));
        assert_eq!(
            err.message,
            format!(
                "User: arn:aws:iam::{HOME}:user/rekeyd-caller is not authorized to perform: sts:AssumeRole on resource: {ROLE}"
            )
        );
        let other = "arn:aws:iam::111111111111:role/other";
        let err = sts.assume_role(&user(), &request(other), now).unwrap_err();
        assert_eq!(err.code, "AccessDenied");
        let err = sts
            .assume_role(&user(), &request("arn:aws:s3:::bucket-name"), now)
            .unwrap_err();
        assert_eq!(err.code, VALIDATION);

        let mut sts = state(
            &["arn:aws:iam::123456789012:user/rekeyd-caller"],
            Some("xyz"),
        );
        assert_eq!(
            sts.assume_role(&user(), &request(ROLE), now)
                .unwrap_err()
                .code,
            "AccessDenied"
        );
        let mut with_id = request(ROLE);
        with_id.external_id = Some("xyz".into());
        assert!(sts.assume_role(&user(), &with_id, now).is_ok());
    }

    #[test]
    fn chaining_needs_the_role_in_the_trust_and_at_most_an_hour() {
        let now = Utc::now();
        let mut sts = state(&[HOME], None);
        let chained_arn = "arn:aws:iam::222222222222:role/next";
        sts.declare_account("222222222222").unwrap();
        sts.add_role(
            "222222222222",
            &RoleSpec {
                name: "next".into(),
                trust: vec![ROLE.into()],
                max_session_duration: Some(7200),
                ..Default::default()
            },
        )
        .unwrap();
        let first = sts
            .assume_role(&user(), &request(ROLE), now)
            .unwrap()
            .clone();
        // The user itself is not trusted by the second role; the first role's session is.
        assert_eq!(
            sts.assume_role(&user(), &request(chained_arn), now)
                .unwrap_err()
                .code,
            "AccessDenied"
        );
        let (key, token) = (&first.access_key_id, &first.session_token);
        let session = sts.identify(Some(key), Some(token), user, now).unwrap();
        let mut long = request(chained_arn);
        long.duration_seconds = Some(7200);
        let err = sts.assume_role(&session, &long, now).unwrap_err();
        assert!(err.message.contains("role chaining"), "{}", err.message);
        let second = sts
            .assume_role(&session, &request(chained_arn), now)
            .unwrap();
        assert_eq!(second.account_id, "222222222222");
        assert_eq!(second.assumed_by, Some(first.access_key_id));
    }

    #[test]
    fn durations_and_lifetimes() {
        let now = Utc::now();
        let mut sts = state(&["*"], None);
        let mut long = request(ROLE);
        long.duration_seconds = Some(7200);
        let err = sts.assume_role(&user(), &long, now).unwrap_err();
        assert!(
            err.message.contains("MaxSessionDuration"),
            "{}",
            err.message
        );
        sts.add_role(
            MEDIA,
            &RoleSpec {
                name: "short".into(),
                trust: vec!["*".into()],
                session_lifetime: Some(5),
                ..Default::default()
            },
        )
        .unwrap();
        let short = "arn:aws:iam::111111111111:role/short";
        let session = sts.assume_role(&user(), &request(short), now).unwrap();
        assert_eq!(session.expiration, now + Duration::seconds(5));
        assert_eq!(sts.expire(Some(MEDIA), now), 1);
        assert!(
            sts.add_role(
                MEDIA,
                &RoleSpec {
                    name: "short".into(),
                    ..Default::default()
                }
            )
            .is_err()
        );
        assert!(sts.declare_account("1234").is_err());
    }
}
