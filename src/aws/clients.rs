//! Builds the SDK clients once from `[aws]` and `[accounts]`: one set per
//! account (rekeyd's own identity, and each role it assumes), each with its
//! region, endpoints, timeouts and one rate-limited [`Gate`] per service,
//! since AWS quotas are per account and region.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_secretsmanager::config::{Credentials, SharedCredentialsProvider};

use super::gate::Gate;
use super::role::RoleCredentials;
use crate::policy::{Account, AwsSettings, Credential, PerService};

/// Chime's API lives in us-east-1 only.
const CHIME_REGION: &str = "us-east-1";

/// Every account's clients, built once.
#[derive(Debug)]
pub struct Aws {
    /// rekeyd's own identity (credentials without `account`).
    own: AccountClients,
    /// The `[accounts]` roles, by name.
    accounts: HashMap<String, AccountClients>,
}

/// The SDK clients and gates of one account.
#[derive(Debug)]
pub struct AccountClients {
    /// `None`: rekeyd's own identity.
    pub account: Option<Arc<Account>>,
    sdk_config: SdkConfig,
    endpoints: PerService<Option<String>>,
    rate_limits: PerService<Option<f64>>,
    pub iam: aws_sdk_iam::Client,
    pub chime: aws_sdk_chime::Client,
    pub secretsmanager: aws_sdk_secretsmanager::Client,
    /// For the `[coordination]` leases.
    pub dynamodb: aws_sdk_dynamodb::Client,
    /// For `check --online` (GetCallerIdentity).
    pub sts: aws_sdk_sts::Client,
    /// IVS clients by region (each stage ARN names its own).
    ivs_by_region: Mutex<HashMap<String, Arc<RegionalIvs>>>,
    pub gates: Gates,
}

/// One gate per service of an account (IVS: see [`RegionalIvs`]).
#[derive(Debug)]
pub struct Gates {
    pub iam: Gate,
    pub chime: Gate,
    pub secretsmanager: Gate,
    pub dynamodb: Gate,
}

/// The IVS real-time client and gate of one account in one region.
#[derive(Debug)]
pub struct RegionalIvs {
    pub client: aws_sdk_ivsrealtime::Client,
    pub gate: Gate,
}

/// Overrides for tests and the demo, which run without an AWS account.
#[derive(Debug, Clone, Default)]
pub struct AwsOverrides {
    /// Fixed credentials instead of the AWS credential chain.
    pub credentials: Option<Credentials>,
}

impl Aws {
    /// Loads the AWS configuration chain, applies `[aws]` on top, and makes
    /// the clients of each `[accounts]` role (no STS call yet: a role is
    /// assumed on its first use, then again shortly before its credentials
    /// expire).
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
        let base = loader.load().await;
        // One identity cache per account, shared by its clients: the
        // account's credentials are fetched once, not once per service.
        let own_config = base
            .clone()
            .into_builder()
            .identity_cache(IdentityCache::lazy().build())
            .build();
        let own = AccountClients::new(None, own_config, settings);
        let mut accounts = HashMap::new();
        for account in &settings.accounts {
            let role =
                RoleCredentials::new(Arc::clone(account), &base, sts_endpoint(settings)).await;
            let mut config = base
                .clone()
                .into_builder()
                .credentials_provider(SharedCredentialsProvider::new(role))
                .identity_cache(IdentityCache::lazy().build());
            if let Some(region) = &account.region {
                config.set_region(Some(Region::new(region.clone())));
            }
            let clients = AccountClients::new(Some(Arc::clone(account)), config.build(), settings);
            accounts.insert(account.name.clone(), clients);
        }
        Aws { own, accounts }
    }

    /// The clients of `account` (`None`: rekeyd's own identity).
    pub fn account(&self, account: Option<&Account>) -> &AccountClients {
        self.account_named(account.map(|a| a.name.as_str()))
    }

    /// The clients of the `[accounts]` table `name` (`None`: rekeyd's own).
    pub fn account_named(&self, name: Option<&str>) -> &AccountClients {
        match name {
            None => &self.own,
            Some(name) => self
                .accounts
                .get(name)
                .expect("the clients are built from the policy whose credentials name the account"),
        }
    }

    /// The clients `credential`'s provider calls go through.
    pub fn provider(&self, credential: &Credential) -> &AccountClients {
        self.account(credential.account.as_deref())
    }

    /// The clients `credential`'s secret is read and written through.
    pub fn secrets(&self, credential: &Credential) -> &AccountClients {
        self.account(credential.secret_account.as_deref())
    }

    /// The clients of rekeyd's own identity.
    pub fn own(&self) -> &AccountClients {
        &self.own
    }

    /// The `[accounts]` roles' clients, by name.
    pub fn roles(&self) -> impl Iterator<Item = &AccountClients> {
        let mut roles: Vec<_> = self.accounts.values().collect();
        roles.sort_by(|a, b| a.label().cmp(b.label()));
        roles.into_iter()
    }
}

/// `[aws.endpoints] sts`, else `[aws] endpoint_url` (already in the config).
fn sts_endpoint(settings: &AwsSettings) -> Option<&str> {
    settings.sts_endpoint.as_deref()
}

impl AccountClients {
    fn new(account: Option<Arc<Account>>, sdk_config: SdkConfig, settings: &AwsSettings) -> Self {
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
        let mut sts = aws_sdk_sts::config::Builder::from(&sdk_config);
        if let Some(url) = sts_endpoint(settings) {
            sts = sts.endpoint_url(url);
        }
        let label = account.as_ref().map_or("", |a| a.name.as_str());
        let region = sdk_config.region().map_or("", Region::as_ref);
        let limits = &settings.rate_limits;
        let gates = Gates {
            iam: Gate::new("iam", label, region, limits.iam),
            chime: Gate::new("chime", label, CHIME_REGION, limits.chime),
            secretsmanager: Gate::new("secretsmanager", label, region, limits.secretsmanager),
            dynamodb: Gate::new("dynamodb", label, region, limits.dynamodb),
        };
        AccountClients {
            iam: aws_sdk_iam::Client::from_conf(iam.build()),
            chime: aws_sdk_chime::Client::from_conf(chime.build()),
            secretsmanager: aws_sdk_secretsmanager::Client::from_conf(secretsmanager.build()),
            dynamodb: aws_sdk_dynamodb::Client::from_conf(dynamodb.build()),
            sts: aws_sdk_sts::Client::from_conf(sts.build()),
            ivs_by_region: Mutex::new(HashMap::new()),
            gates,
            rate_limits: settings.rate_limits.clone(),
            account,
            sdk_config,
            endpoints,
        }
    }

    /// The account's name in metrics and logs; empty for rekeyd's own identity.
    pub fn label(&self) -> &str {
        self.account.as_ref().map_or("", |a| a.name.as_str())
    }

    /// The IVS real-time client and gate for a stage's region.
    pub fn ivs(&self, region: &str) -> Arc<RegionalIvs> {
        let mut clients = self.ivs_by_region.lock().expect("ivs client lock");
        let regional = clients.entry(region.to_owned()).or_insert_with(|| {
            let mut config = aws_sdk_ivsrealtime::config::Builder::from(&self.sdk_config)
                .region(Region::new(region.to_owned()));
            if let Some(url) = &self.endpoints.ivs_realtime {
                config = config.endpoint_url(url);
            }
            Arc::new(RegionalIvs {
                client: aws_sdk_ivsrealtime::Client::from_conf(config.build()),
                gate: Gate::new(
                    "ivs_realtime",
                    self.label(),
                    region,
                    self.rate_limits.ivs_realtime,
                ),
            })
        });
        Arc::clone(regional)
    }

    /// The region Secrets Manager is used in, if one is known.
    pub fn region(&self) -> Option<&str> {
        self.sdk_config.region().map(Region::as_ref)
    }
}
