//! The agent wired from its [`Config`]: the reconcilers, in the order they run, and the
//! workspace guard that runs next to them. Later reconcilers (activity) are added to the
//! list here.

use std::{net::SocketAddr, path::Path};

use atelier_proxy::{guard::GuardConfig, identity::GatewayPublicKey};

use crate::{
    apps::{AppsReconciler, WORKSPACE_TAG},
    config::{Config, GATEWAY_KEY_FILE, TagsFrom, WORKSPACE_ID},
    mounts::{MountsReconciler, mount_s3::MountS3},
    reconcile::{Agent, Reconciler},
    tags::{Ec2Tags, ImdsTags, TagSource, instance_id_from_imds},
};

/// Everything the agent runs.
pub struct Wired {
    /// The reconcile loop.
    pub agent: Agent,
    /// The guard, unless `ATELIER_AGENT_GUARD_BIND=off`.
    pub guard: Option<Guard>,
}

/// The workspace guard to serve ([`atelier_proxy::guard::serve`]).
pub struct Guard {
    /// Where it listens.
    pub bind: SocketAddr,
    /// What it serves.
    pub config: GuardConfig,
}

/// The instance's tag channel: where its tags are read ([`Channel::source`], one per
/// reconciler), and its own EC2 tag API, which writes the reports.
struct Channel {
    imds: Option<ImdsTags>,
    ec2: Ec2Tags,
}

impl Channel {
    fn source(&self) -> Box<dyn TagSource> {
        match &self.imds {
            Some(imds) => Box::new(imds.clone()),
            None => Box::new(self.ec2.clone()),
        }
    }
}

/// The agent `config` describes, calling AWS with `sdk` (the default chains in production:
/// the instance profile's credentials, the region from the environment or instance
/// metadata). Instance metadata is read only when it is needed: for the tags
/// ([`TagsFrom::Imds`]) or when `ATELIER_AGENT_INSTANCE_ID` is unset.
pub async fn agent(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Agent, String> {
    let channel = channel(config, sdk).await?;
    Ok(Agent::new(reconcilers(config, &channel)))
}

/// The agent and, unless it is off, the guard. The guard needs the gateway's public key
/// (`ATELIER_AGENT_GATEWAY_KEY_FILE`) and the workspace id (`ATELIER_AGENT_WORKSPACE_ID`,
/// else the instance's `atelier:workspace` tag, read once now): without either it would
/// refuse everything, so the agent does not start.
pub async fn wire(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Wired, String> {
    let channel = channel(config, sdk).await?;
    let guard = match config.guard_bind {
        None => None,
        Some(bind) => {
            let key = gateway_key(&config.gateway_key_file)?;
            let workspace_id = match &config.workspace_id {
                Some(id) => id.clone(),
                None => workspace_from_tags(channel.source().as_ref()).await?,
            };
            let config = GuardConfig { workspace_id, key, apps: config.apps.clone(), app_host: "127.0.0.1".to_owned() };
            Some(Guard { bind, config })
        }
    };
    Ok(Wired { agent: Agent::new(reconcilers(config, &channel)), guard })
}

async fn channel(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Channel, String> {
    let imds = aws_config::imds::Client::builder().build();
    let instance_id = match &config.instance_id {
        Some(id) => id.clone(),
        None => instance_id_from_imds(&imds)
            .await
            .map_err(|e| format!("reading the instance id ({e}); or set ATELIER_AGENT_INSTANCE_ID"))?,
    };
    let ec2 = Ec2Tags::new(aws_sdk_ec2::Client::new(sdk), &instance_id);
    let imds = match config.tags_from {
        TagsFrom::Imds => Some(ImdsTags::new(imds)),
        TagsFrom::Ec2 => None,
    };
    tracing::debug!(instance_id, "tag channel built");
    Ok(Channel { imds, ec2 })
}

/// Mounts first (a scientist's data), then app readiness.
fn reconcilers(config: &Config, channel: &Channel) -> Vec<Box<dyn Reconciler>> {
    let mounter = MountS3::new(&config.data_root, &config.mount_command);
    let writer = Box::new(channel.ec2.clone());
    let mounts = MountsReconciler::new(channel.source(), writer.clone(), Box::new(mounter), &config.data_root);
    let mut reconcilers: Vec<Box<dyn Reconciler>> = vec![Box::new(mounts)];
    if !config.apps.is_empty() {
        let workspace_id = config.workspace_id.clone();
        reconcilers.push(Box::new(AppsReconciler::new(config.apps.clone(), workspace_id, channel.source(), writer)));
    }
    reconcilers
}

fn gateway_key(path: &Path) -> Result<GatewayPublicKey, String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| format!("{GATEWAY_KEY_FILE}={}: cannot read the gateway's public key: {e}", path.display()))?;
    GatewayPublicKey::from_pem(&pem).map_err(|e| format!("{GATEWAY_KEY_FILE}={}: {e}", path.display()))
}

async fn workspace_from_tags(source: &dyn TagSource) -> Result<String, String> {
    let tags =
        source.read().await.map_err(|e| format!("reading the tag {WORKSPACE_TAG} ({e}); or set {WORKSPACE_ID}"))?;
    tags.get(WORKSPACE_TAG)
        .cloned()
        .ok_or_else(|| format!("the instance has no tag {WORKSPACE_TAG}; set {WORKSPACE_ID}"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A configuration that needs no AWS call to wire (instance id and workspace id given).
    fn config(vars: &[(&str, &str)]) -> Config {
        let mut all: HashMap<String, String> = [
            ("ATELIER_AGENT_TAGS_FROM", "ec2"),
            ("ATELIER_AGENT_INSTANCE_ID", "i-0123456789abcdef0"),
            ("ATELIER_AGENT_WORKSPACE_ID", "ws-1"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Config::from_lookup(|name| all.get(name).cloned()).unwrap()
    }

    fn sdk() -> aws_config::SdkConfig {
        aws_config::SdkConfig::builder().behavior_version(aws_config::BehaviorVersion::latest()).build()
    }

    #[tokio::test]
    async fn the_guard_is_wired_with_the_key_file_the_workspace_and_the_apps() {
        let file = std::env::temp_dir().join(format!("atelier-gateway-{}.pub", std::process::id()));
        std::fs::write(&file, atelier_proxy::identity::keygen().1).unwrap();
        let wired = wire(&config(&[(GATEWAY_KEY_FILE, file.to_str().unwrap())]), &sdk()).await.unwrap();
        let guard = wired.guard.expect("on by default");
        assert_eq!(guard.bind, "0.0.0.0:8443".parse().unwrap());
        assert_eq!(guard.config.workspace_id, "ws-1");
        assert_eq!(guard.config.app_host, "127.0.0.1");
        assert_eq!(guard.config.apps.len(), 2);
        std::fs::remove_file(&file).unwrap();
    }

    #[tokio::test]
    async fn a_missing_or_bad_key_file_is_named() {
        let missing = wire(&config(&[(GATEWAY_KEY_FILE, "/nonexistent/gateway.pub")]), &sdk()).await.err().unwrap();
        assert!(missing.starts_with("ATELIER_AGENT_GATEWAY_KEY_FILE=/nonexistent/gateway.pub"), "{missing}");
        let file = std::env::temp_dir().join(format!("atelier-gateway-bad-{}.pub", std::process::id()));
        std::fs::write(&file, "not a key").unwrap();
        let bad = wire(&config(&[(GATEWAY_KEY_FILE, file.to_str().unwrap())]), &sdk()).await.err().unwrap();
        assert!(bad.contains("bad key"), "{bad}");
        std::fs::remove_file(&file).unwrap();
    }

    #[tokio::test]
    async fn the_guard_off_needs_no_key() {
        let wired = wire(&config(&[("ATELIER_AGENT_GUARD_BIND", "off"), (GATEWAY_KEY_FILE, "/nonexistent")]), &sdk())
            .await
            .unwrap();
        assert!(wired.guard.is_none());
    }
}
