//! Builds the SDK clients once from `[aws]`: region, profile, endpoints,
//! timeouts, and one rate-limited [`Gate`] per service.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_secretsmanager::config::Credentials;

use super::gate::Gate;
use crate::policy::{AwsSettings, PerService};

/// Chime's API lives in us-east-1 only.
const CHIME_REGION: &str = "us-east-1";

/// The SDK clients and gates rekeyd uses, built once.
#[derive(Debug)]
pub struct Aws {
    sdk_config: SdkConfig,
    endpoints: PerService<Option<String>>,
    pub iam: aws_sdk_iam::Client,
    pub chime: aws_sdk_chime::Client,
    pub secretsmanager: aws_sdk_secretsmanager::Client,
    /// For the `[coordination]` leases.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// IVS clients by region (each stage ARN names its own).
    ivs_by_region: Mutex<HashMap<String, aws_sdk_ivsrealtime::Client>>,
    pub gates: PerService<Gate>,
}

/// Overrides for tests and the demo, which run without an AWS account.
#[derive(Debug, Clone, Default)]
pub struct AwsOverrides {
    /// Fixed credentials instead of the AWS credential chain.
    pub credentials: Option<Credentials>,
}

impl Aws {
    /// Loads the AWS configuration chain, then applies `[aws]` on top.
    pub async fn build(settings: &AwsSettings, overrides: AwsOverrides) -> Aws {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(super::https::client())
            // One retry policy for every service is ours (see `retry`).
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .read_timeout(Duration::from_secs(20))
                    .operation_attempt_timeout(Duration::from_secs(30))
                    .build(),
            );
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(credentials) = overrides.credentials {
            loader = loader.credentials_provider(credentials);
        }
        let sdk_config = loader.load().await;
        let endpoints = settings.endpoints.clone();

        let mut iam = aws_sdk_iam::config::Builder::from(&sdk_config);
        if let Some(url) = &endpoints.iam {
            iam = iam.endpoint_url(url);
        }
        let mut chime =
            aws_sdk_chime::config::Builder::from(&sdk_config).region(Region::new(CHIME_REGION));
        if let Some(url) = &endpoints.chime {
            chime = chime.endpoint_url(url);
        }
        let mut secretsmanager = aws_sdk_secretsmanager::config::Builder::from(&sdk_config);
        if let Some(url) = &endpoints.secretsmanager {
            secretsmanager = secretsmanager.endpoint_url(url);
        }
        let mut dynamodb = aws_sdk_dynamodb::config::Builder::from(&sdk_config);
        if let Some(url) = &endpoints.dynamodb {
            dynamodb = dynamodb.endpoint_url(url);
        }
        let limits = &settings.rate_limits;
        Aws {
            iam: aws_sdk_iam::Client::from_conf(iam.build()),
            chime: aws_sdk_chime::Client::from_conf(chime.build()),
            secretsmanager: aws_sdk_secretsmanager::Client::from_conf(secretsmanager.build()),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            ivs_by_region: Mutex::new(HashMap::new()),
            gates: PerService {
                iam: Gate::new("iam", limits.iam),
                chime: Gate::new("chime", limits.chime),
                ivs_realtime: Gate::new("ivs_realtime", limits.ivs_realtime),
                secretsmanager: Gate::new("secretsmanager", limits.secretsmanager),
                dynamodb: Gate::new("dynamodb", limits.dynamodb),
            },
            sdk_config,
            endpoints,
        }
    }

    /// The IVS real-time client for a stage's region.
    pub fn ivs(&self, region: &str) -> aws_sdk_ivsrealtime::Client {
        let mut clients = self.ivs_by_region.lock().expect("ivs client lock");
        clients
            .entry(region.to_owned())
            .or_insert_with(|| {
                let mut config = aws_sdk_ivsrealtime::config::Builder::from(&self.sdk_config)
                    .region(Region::new(region.to_owned()));
                if let Some(url) = &self.endpoints.ivs_realtime {
                    config = config.endpoint_url(url);
                }
                aws_sdk_ivsrealtime::Client::from_conf(config.build())
            })
            .clone()
    }

    /// The region Secrets Manager is used in, if one is known.
    pub fn region(&self) -> Option<&str> {
        self.sdk_config.region().map(Region::as_ref)
    }
}
