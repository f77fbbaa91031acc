//! Amazon IVS real-time stages and the participant tokens issued for them (restJson1).

use std::collections::BTreeMap;

use chrono::Duration;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::context::{Ctx, iso8601};
use crate::error::ApiError;
use crate::faults::FaultKind;
use crate::random;

mod stages;

const VALIDATION: &str = "ValidationException";
const CAPABILITIES: [&str; 2] = ["PUBLISH", "SUBSCRIBE"];

/// A token the emulator issued, kept in the type the truth reports.
pub(crate) type IssuedToken = crate::truth::IvsTokenTruth;

/// A stage and every token issued for it.
#[derive(Debug, Clone)]
pub(crate) struct Stage {
    pub arn: String,
    pub name: String,
    pub tokens: Vec<IssuedToken>,
    pub tags: BTreeMap<String, String>,
    /// `autoParticipantRecordingConfiguration` as given to CreateStage.
    pub recording: Option<Value>,
}

/// Every stage, by ARN.
#[derive(Debug, Clone, Default)]
pub(crate) struct IvsState {
    stages: BTreeMap<String, Stage>,
}

/// True when `arn` matches `arn:aws:ivs:[a-z0-9-]+:[0-9]+:stage/[a-zA-Z0-9-]+` (at most 128 characters).
pub(crate) fn valid_stage_arn(arn: &str) -> bool {
    let Some(rest) = arn.strip_prefix("arn:aws:ivs:") else {
        return false;
    };
    let parts: Vec<&str> = rest.splitn(3, ':').collect();
    let [region, account, resource] = parts.as_slice() else {
        return false;
    };
    let Some(id) = resource.strip_prefix("stage/") else {
        return false;
    };
    arn.len() <= 128
        && !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !account.is_empty()
        && account.chars().all(|c| c.is_ascii_digit())
        && !id.is_empty()
        && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(400, VALIDATION, message)
}

fn check_arn(arn: &str, field: &str) -> Result<(), ApiError> {
    if valid_stage_arn(arn) {
        Ok(())
    } else {
        Err(ApiError::constraint(
            400,
            VALIDATION,
            arn,
            field,
            "Member must satisfy regular expression pattern: arn:aws:ivs:[a-z0-9-]+:[0-9]+:stage/[a-zA-Z0-9-]+",
        ))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateTokenInput {
    stage_arn: Option<String>,
    duration: Option<i64>,
    user_id: Option<String>,
    attributes: Option<BTreeMap<String, String>>,
    capabilities: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct GetStageInput {
    arn: Option<String>,
}

pub(crate) fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| invalid(format!("Could not parse request body: {e}")))
}

impl IvsState {
    /// Adds a stage (seeding).
    pub(crate) fn add_stage(&mut self, arn: &str, name: Option<&str>) -> Result<(), ApiError> {
        check_arn(arn, "arn")?;
        if self.stages.contains_key(arn) {
            return Err(ApiError::new(
                409,
                "ConflictException",
                format!("Stage {arn} already exists."),
            ));
        }
        self.stages.insert(
            arn.to_string(),
            Stage {
                arn: arn.to_string(),
                name: name.unwrap_or("").to_string(),
                tokens: Vec::new(),
                tags: BTreeMap::new(),
                recording: None,
            },
        );
        Ok(())
    }

    pub(crate) fn stages(&self) -> impl Iterator<Item = &Stage> {
        self.stages.values()
    }

    fn stage_mut(&mut self, arn: &str) -> Result<&mut Stage, ApiError> {
        self.stages.get_mut(arn).ok_or_else(|| {
            ApiError::new(
                404,
                "ResourceNotFoundException",
                format!("Stage not found: {arn}"),
            )
        })
    }

    /// `CreateParticipantToken`.
    pub(crate) fn create_token(&mut self, ctx: &mut Ctx, body: &[u8]) -> Result<Value, ApiError> {
        let input: CreateTokenInput = parse(body)?;
        let arn = input
            .stage_arn
            .ok_or_else(|| ApiError::missing(400, VALIDATION, "stageArn"))?;
        check_arn(&arn, "stageArn")?;
        let duration = input.duration.unwrap_or(720);
        if !(1..=20160).contains(&duration) {
            return Err(ApiError::constraint(
                400,
                VALIDATION,
                &duration.to_string(),
                "duration",
                "Member must have value between 1 and 20160",
            ));
        }
        if let Some(user) = &input.user_id
            && user.chars().count() > 128
        {
            return Err(invalid("userId must be at most 128 characters"));
        }
        let attributes = input.attributes.unwrap_or_default();
        let attribute_bytes: usize = attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
        if attribute_bytes > 1024 {
            return Err(invalid(format!(
                "attributes must total at most 1 KB; got {attribute_bytes} bytes"
            )));
        }
        let capabilities = input
            .capabilities
            .unwrap_or_else(|| CAPABILITIES.iter().map(|c| c.to_string()).collect());
        if capabilities.len() > 2
            || capabilities
                .iter()
                .any(|c| !CAPABILITIES.contains(&c.as_str()))
        {
            return Err(invalid(format!(
                "capabilities must be a subset of [PUBLISH, SUBSCRIBE]; got {capabilities:?}"
            )));
        }
        let stage = self.stage_mut(&arn)?;
        let participant_id = random::alnum(12);
        let expiration_time = if ctx.fault == Some(FaultKind::ExpiredToken) {
            // A token that expired an hour before it was issued.
            ctx.now - Duration::hours(1)
        } else {
            ctx.now + Duration::minutes(duration)
        };
        let issued = IssuedToken {
            token: random::participant_token(&participant_id, expiration_time.timestamp()),
            participant_id,
            user_id: input.user_id,
            attributes,
            capabilities,
            duration_minutes: duration as u32,
            created: ctx.now,
            expiration_time,
        };
        stage.tokens.push(issued.clone());
        ctx.mutated = true;
        let mut token = json!({
            "participantId": issued.participant_id,
            "token": issued.token,
            "attributes": issued.attributes,
            "duration": issued.duration_minutes,
            "capabilities": issued.capabilities,
            "expirationTime": iso8601(issued.expiration_time),
        });
        if let Some(user) = &issued.user_id {
            token["userId"] = json!(user);
        }
        Ok(json!({ "participantToken": token }))
    }

    /// `GetStage`.
    pub(crate) fn get_stage(&mut self, body: &[u8]) -> Result<Value, ApiError> {
        let input: GetStageInput = parse(body)?;
        let arn = input
            .arn
            .ok_or_else(|| ApiError::missing(400, VALIDATION, "arn"))?;
        check_arn(&arn, "arn")?;
        Ok(json!({ "stage": stages::stage_json(self.stage_mut(&arn)?) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Config;

    const ARN: &str = "arn:aws:ivs:us-west-2:123456789012:stage/abcdABCDefgh";

    fn call(s: &mut IvsState, body: &str) -> Result<Value, ApiError> {
        let mut ctx = Ctx::new(&Config::default(), None);
        s.create_token(&mut ctx, body.as_bytes())
    }

    #[test]
    fn issues_tokens_with_defaults() {
        let mut s = IvsState::default();
        s.add_stage(ARN, Some("main")).unwrap();
        let out = call(&mut s, &format!(r#"{{"stageArn":"{ARN}","userId":"bob"}}"#)).unwrap();
        let t = &out["participantToken"];
        assert_eq!(t["duration"], 720);
        assert_eq!(t["capabilities"], json!(["PUBLISH", "SUBSCRIBE"]));
        assert_eq!(t["userId"], "bob");
        assert_eq!(s.stages().next().unwrap().tokens.len(), 1);
    }

    #[test]
    fn validates_inputs() {
        let mut s = IvsState::default();
        s.add_stage(ARN, None).unwrap();
        for body in [
            "{}".to_string(),
            "not json".to_string(),
            r#"{"stageArn":"arn:aws:ivs:x:1:channel/a"}"#.to_string(),
            format!(r#"{{"stageArn":"{ARN}","duration":0}}"#),
            format!(r#"{{"stageArn":"{ARN}","duration":"5"}}"#),
            format!(r#"{{"stageArn":"{ARN}","capabilities":["ADMIN"]}}"#),
            format!(
                r#"{{"stageArn":"{ARN}","attributes":{{"k":"{}"}}}}"#,
                "v".repeat(1024)
            ),
            format!(r#"{{"stageArn":"{ARN}","userId":"{}"}}"#, "u".repeat(129)),
        ] {
            let err = call(&mut s, &body).unwrap_err();
            assert_eq!((err.status, err.code), (400, VALIDATION), "{body}");
        }
        let other = "arn:aws:ivs:us-west-2:123456789012:stage/other";
        let err = call(&mut s, &format!(r#"{{"stageArn":"{other}"}}"#)).unwrap_err();
        assert_eq!((err.status, err.code), (404, "ResourceNotFoundException"));
    }
}
