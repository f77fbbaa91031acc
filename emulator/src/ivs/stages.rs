//! IVS real-time stages' lifecycle: CreateStage (with its optional
//! participant tokens) and DeleteStage, members and errors as in botocore's
//! ivs-realtime 2020-07-14 model; and the `Stage` structure GetStage answers.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{IvsState, Stage, VALIDATION, invalid, parse};
use crate::context::Ctx;
use crate::error::ApiError;
use crate::random;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateStageInput {
    name: Option<String>,
    participant_token_configurations: Option<Vec<Value>>,
    tags: Option<BTreeMap<String, String>>,
    auto_participant_recording_configuration: Option<Value>,
}

#[derive(Deserialize)]
struct DeleteStageInput {
    arn: Option<String>,
}

impl IvsState {
    /// `CreateStage`: a stage in the request's region, with a participant
    /// token for each of up to 12 configurations.
    pub(crate) fn create_stage(&mut self, ctx: &mut Ctx, body: &[u8]) -> Result<Value, ApiError> {
        let input: CreateStageInput = parse(body)?;
        let name = input.name.unwrap_or_default();
        if name.chars().count() > 128
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ApiError::constraint(
                400,
                VALIDATION,
                &name,
                "name",
                "Member must satisfy regular expression pattern: [a-zA-Z0-9-_]*",
            ));
        }
        let configurations = input.participant_token_configurations.unwrap_or_default();
        if configurations.len() > 12 {
            return Err(invalid(
                "participantTokenConfigurations must have at most 12 items",
            ));
        }
        let tags = input.tags.unwrap_or_default();
        check_tags(&tags)?;
        if let Some(recording) = &input.auto_participant_recording_configuration
            && recording.get("storageConfigurationArn").is_none()
        {
            return Err(ApiError::missing(
                400,
                VALIDATION,
                "autoParticipantRecordingConfiguration.storageConfigurationArn",
            ));
        }
        let arn = format!(
            "arn:aws:ivs:{}:{}:stage/{}",
            ctx.region,
            ctx.account_id,
            random::alnum(12)
        );
        self.add_stage(&arn, Some(&name))?;
        let stage = self.stage_mut(&arn)?;
        stage.tags = tags;
        stage.recording = input.auto_participant_recording_configuration;
        let mut tokens = Vec::new();
        for mut configuration in configurations {
            let issued = if configuration.is_object() {
                configuration["stageArn"] = json!(arn);
                let body = serde_json::to_vec(&configuration).expect("a JSON value serializes");
                self.create_token(ctx, &body)
            } else {
                Err(invalid(
                    "participantTokenConfigurations items must be objects",
                ))
            };
            match issued {
                Ok(mut issued) => tokens.push(issued["participantToken"].take()),
                Err(err) => {
                    // Nothing is created when one configuration is refused.
                    self.stages.remove(&arn);
                    return Err(err);
                }
            }
        }
        ctx.mutated = true;
        let stage = stage_json(self.stage_mut(&arn)?);
        Ok(json!({ "stage": stage, "participantTokens": tokens }))
    }

    /// `DeleteStage`: the stage and every token issued for it.
    pub(crate) fn delete_stage(&mut self, ctx: &mut Ctx, body: &[u8]) -> Result<Value, ApiError> {
        let input: DeleteStageInput = parse(body)?;
        let arn = input
            .arn
            .ok_or_else(|| ApiError::missing(400, VALIDATION, "arn"))?;
        super::check_arn(&arn, "arn")?;
        self.stage_mut(&arn)?;
        self.stages.remove(&arn);
        ctx.mutated = true;
        Ok(json!({}))
    }
}

/// At most 50 tags, keys of 1 to 128 characters, values of up to 256.
fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if tags.len() > 50 {
        return Err(invalid("tags must have at most 50 entries"));
    }
    for (key, value) in tags {
        if !(1..=128).contains(&key.chars().count()) || value.chars().count() > 256 {
            return Err(invalid(format!(
                "tag {key}: keys must have 1 to 128 characters and values at most 256"
            )));
        }
    }
    Ok(())
}

/// The `Stage` structure (CreateStage, GetStage).
pub(super) fn stage_json(stage: &Stage) -> Value {
    let id = stage
        .arn
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_lowercase();
    let mut out = json!({
        "arn": stage.arn,
        "name": stage.name,
        "tags": stage.tags,
        "endpoints": {
            "events": "wss://global.events.live-video.net",
            "whip": format!("https://{id}.global-bm.whip.live-video.net"),
            "rtmp": format!("rtmp://{id}.global-contribute-staging.live-video.net/app/"),
            "rtmps": format!("rtmps://{id}.global-contribute.live-video.net:443/app/"),
        },
    });
    if let Some(recording) = &stage.recording {
        out["autoParticipantRecordingConfiguration"] = recording.clone();
    }
    out
}
