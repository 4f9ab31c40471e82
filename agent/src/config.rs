//! The agent's settings, all from environment variables (the crate's documentation lists
//! them). A bad value is an error that names its variable.

use std::{
    net::SocketAddr,
    path::{Component, Path, PathBuf},
    time::Duration,
};

use atelier_proxy::guard::{GuardApp, parse_apps};

/// Data root: each dataset is mounted at `<data root>/<dataset id>`.
pub const DATA_ROOT: &str = "ATELIER_AGENT_DATA_ROOT";
/// Seconds between two passes of the reconcilers.
pub const INTERVAL_SECONDS: &str = "ATELIER_AGENT_INTERVAL_SECONDS";
/// Where the instance's tags are read: `imds` or `ec2`.
pub const TAGS_FROM: &str = "ATELIER_AGENT_TAGS_FROM";
/// The instance's id, instead of asking instance metadata.
pub const INSTANCE_ID: &str = "ATELIER_AGENT_INSTANCE_ID";
/// The Mountpoint for Amazon S3 command.
pub const MOUNT_COMMAND: &str = "ATELIER_AGENT_MOUNT_COMMAND";
/// Where the workspace guard listens (`host:port`), or `off`.
pub const GUARD_BIND: &str = "ATELIER_AGENT_GUARD_BIND";
/// The gateway's public key (SPKI PEM), which the guard verifies assertions with.
pub const GATEWAY_KEY_FILE: &str = "ATELIER_AGENT_GATEWAY_KEY_FILE";
/// The apps on the machine, `<app>=<port>,…`, or `off`.
pub const APPS: &str = "ATELIER_AGENT_APPS";
/// The workspace's id, instead of the instance's `atelier:workspace` tag.
pub const WORKSPACE_ID: &str = "ATELIER_AGENT_WORKSPACE_ID";

/// Where the instance's tags are read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagsFrom {
    /// Instance metadata (IMDSv2, `/latest/meta-data/tags/instance`): production, with
    /// instance metadata tags enabled on the product's launch template. No API call, no
    /// `ec2:DescribeTags` permission.
    Imds,
    /// EC2 `DescribeTags` on the instance's own id, with the instance's credentials: the
    /// local stack, and a fallback where metadata tags are disabled.
    Ec2,
}

/// The agent's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Absolute, normalised, not `/` (default `/data`).
    pub data_root: PathBuf,
    /// Between two passes (default 30 s).
    pub interval: Duration,
    /// Default [`TagsFrom::Imds`].
    pub tags_from: TagsFrom,
    /// `None`: asked from instance metadata (`/latest/meta-data/instance-id`).
    pub instance_id: Option<String>,
    /// Default `mount-s3` (found on `PATH`).
    pub mount_command: String,
    /// Default `0.0.0.0:8443`; `None` (`off`): no guard.
    pub guard_bind: Option<SocketAddr>,
    /// Default `/etc/atelier/gateway.pub` (written by the product's user data).
    pub gateway_key_file: PathBuf,
    /// Default `jupyterlab=8888,rstudio=8787`; empty (`off`): no app is probed or served.
    pub apps: Vec<GuardApp>,
    /// `None`: the instance's `atelier:workspace` tag.
    pub workspace_id: Option<String>,
}

/// A variable whose value the agent cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}={value:?}: {reason}")]
pub struct ConfigError {
    /// The variable's name.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong with it.
    pub reason: String,
}

impl Config {
    /// The settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The settings from `lookup` (a variable's value, `None` when unset). An empty value
    /// counts as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let data_root = match get(DATA_ROOT) {
            Some(value) => data_root(&value)?,
            None => PathBuf::from("/data"),
        };
        let interval = match get(INTERVAL_SECONDS) {
            Some(value) => interval(&value)?,
            None => Duration::from_secs(30),
        };
        let tags_from = match get(TAGS_FROM).as_deref() {
            None | Some("imds") => TagsFrom::Imds,
            Some("ec2") => TagsFrom::Ec2,
            Some(other) => return Err(bad(TAGS_FROM, other, "must be imds or ec2")),
        };
        let instance_id = get(INSTANCE_ID).map(|value| instance_id(&value)).transpose()?;
        let mount_command = get(MOUNT_COMMAND).unwrap_or_else(|| "mount-s3".to_owned());
        let guard_bind = match get(GUARD_BIND).as_deref() {
            Some("off") => None,
            Some(value) => Some(value.parse().map_err(|_| bad(GUARD_BIND, value, "must be <ip>:<port> or off"))?),
            None => Some(SocketAddr::from(([0, 0, 0, 0], 8443))),
        };
        let gateway_key_file =
            get(GATEWAY_KEY_FILE).map_or_else(|| PathBuf::from("/etc/atelier/gateway.pub"), PathBuf::from);
        let apps = match get(APPS).as_deref() {
            Some("off") => Vec::new(),
            Some(value) => parse_apps(value).map_err(|reason| bad(APPS, value, &reason))?,
            None => parse_apps("jupyterlab=8888,rstudio=8787").map_err(|reason| bad(APPS, "", &reason))?,
        };
        let workspace_id = get(WORKSPACE_ID).map(|value| workspace_id(&value)).transpose()?;
        Ok(Self {
            data_root,
            interval,
            tags_from,
            instance_id,
            mount_command,
            guard_bind,
            gateway_key_file,
            apps,
            workspace_id,
        })
    }
}

fn bad(variable: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError { variable, value: value.to_owned(), reason: reason.to_owned() }
}

fn data_root(value: &str) -> Result<PathBuf, ConfigError> {
    let path = Path::new(value);
    if !path.is_absolute() {
        return Err(bad(DATA_ROOT, value, "must be an absolute path"));
    }
    if path.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)) {
        return Err(bad(DATA_ROOT, value, "must not contain . or .. segments"));
    }
    let normalised: PathBuf = path.components().collect();
    if normalised.parent().is_none() {
        return Err(bad(DATA_ROOT, value, "must not be / (the agent unmounts what it finds under its root)"));
    }
    Ok(normalised)
}

fn interval(value: &str) -> Result<Duration, ConfigError> {
    match value.parse::<u64>() {
        Ok(seconds @ 1..=86_400) => Ok(Duration::from_secs(seconds)),
        _ => Err(bad(INTERVAL_SECONDS, value, "must be a whole number of seconds from 1 to 86400")),
    }
}

fn instance_id(value: &str) -> Result<String, ConfigError> {
    let hex = value.strip_prefix("i-").unwrap_or_default();
    if hex.len() < 8 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad(INSTANCE_ID, value, "must be an instance id such as i-0123456789abcdef0"));
    }
    Ok(value.to_owned())
}

/// A workspace id is one path segment of the gateway's URLs: letters, digits, `-` and `_`.
fn workspace_id(value: &str) -> Result<String, ConfigError> {
    let valid =
        (1..=64).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(bad(WORKSPACE_ID, value, "must be a workspace id such as ws-0123456789abcdefghjkmnpqrs"));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_need_no_variable() {
        let config = config(&[]).unwrap();
        assert_eq!(config.data_root, PathBuf::from("/data"));
        assert_eq!(config.interval, Duration::from_secs(30));
        assert_eq!(config.tags_from, TagsFrom::Imds);
        assert_eq!(config.instance_id, None);
        assert_eq!(config.mount_command, "mount-s3");
        assert_eq!(config.guard_bind, Some("0.0.0.0:8443".parse().unwrap()));
        assert_eq!(config.gateway_key_file, PathBuf::from("/etc/atelier/gateway.pub"));
        let apps: Vec<(&str, u16, bool)> =
            config.apps.iter().map(|a| (a.name.as_str(), a.port, a.strip_prefix)).collect();
        assert_eq!(apps, [("jupyterlab", 8888, false), ("rstudio", 8787, true)]);
        assert_eq!(config.workspace_id, None);
    }

    #[test]
    fn every_variable_is_read() {
        let config = config(&[
            (DATA_ROOT, "/mnt/datasets/"),
            (INTERVAL_SECONDS, "5"),
            (TAGS_FROM, "ec2"),
            (INSTANCE_ID, "i-0123456789abcdef0"),
            (MOUNT_COMMAND, "/usr/local/bin/mount-s3"),
            (GUARD_BIND, "127.0.0.1:9443"),
            (GATEWAY_KEY_FILE, "/tmp/gateway.pub"),
            (APPS, "jupyterlab=9888"),
            (WORKSPACE_ID, "ws-0123456789abcdefghjkmnpqrs"),
        ])
        .unwrap();
        assert_eq!(config.guard_bind, Some("127.0.0.1:9443".parse().unwrap()));
        assert_eq!(config.gateway_key_file, PathBuf::from("/tmp/gateway.pub"));
        assert_eq!(config.apps, [GuardApp { name: "jupyterlab".into(), port: 9888, strip_prefix: false }]);
        assert_eq!(config.workspace_id.as_deref(), Some("ws-0123456789abcdefghjkmnpqrs"));
        assert_eq!(config.data_root, PathBuf::from("/mnt/datasets"));
        assert_eq!(config.interval, Duration::from_secs(5));
        assert_eq!(config.tags_from, TagsFrom::Ec2);
        assert_eq!(config.instance_id.as_deref(), Some("i-0123456789abcdef0"));
        assert_eq!(config.mount_command, "/usr/local/bin/mount-s3");
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        for (variable, value) in [
            (DATA_ROOT, "data"),
            (DATA_ROOT, "/"),
            (DATA_ROOT, "/data/../etc"),
            (INTERVAL_SECONDS, "0"),
            (INTERVAL_SECONDS, "thirty"),
            (INTERVAL_SECONDS, "-1"),
            (TAGS_FROM, "IMDS"),
            (INSTANCE_ID, "my-instance"),
            (GUARD_BIND, "8443"),
            (GUARD_BIND, "on"),
            (APPS, "jupyterlab"),
            (APPS, "jupyterlab=8888,rstudio=x"),
            (WORKSPACE_ID, "ws/../other"),
            (WORKSPACE_ID, "ws 1"),
        ] {
            let error = config(&[(variable, value)]).unwrap_err();
            assert_eq!(error.variable, variable);
            assert!(error.to_string().starts_with(&format!("{variable}=")), "{error}");
        }
        let error = config(&[(APPS, "jupyterlab=8888,rstudio=x")]).unwrap_err();
        assert!(error.reason.contains("\"rstudio=x\""), "the bad entry is named: {error}");
    }

    #[test]
    fn the_guard_and_the_apps_can_be_turned_off() {
        let config = config(&[(GUARD_BIND, "off"), (APPS, "off")]).unwrap();
        assert_eq!(config.guard_bind, None);
        assert!(config.apps.is_empty());
    }
}
