//! Configuration read once from the environment at start-up, with errors that say which
//! variable is missing or wrong.

/// A missing or malformed environment variable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is {value:?}: {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
}

/// The value of `name`, which must be set and non-empty.
pub fn required(name: &'static str) -> Result<String, SettingsError> {
    optional(name).ok_or(SettingsError::Missing(name))
}

/// The value of `name`, if set and non-empty.
pub fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Which adapter creates workspaces' AWS resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionerKind {
    /// AWS Service Catalog products (production).
    ServiceCatalog,
    /// EC2 RunInstances with the product's image (local stack, accounts without Service Catalog).
    Ec2Launch,
}

/// Settings of the provisioner (`ATELIER_PROVISIONER`, `ATELIER_SUBNET_ID`,
/// `ATELIER_INSTANCE_PROFILE`, `ATELIER_PROVISIONING_OUTPUT`).
#[derive(Debug, Clone)]
pub struct ProvisionerSettings {
    pub kind: ProvisionerKind,
    pub subnet_id: Option<String>,
    pub instance_profile: Option<String>,
    /// The Service Catalog record output holding the instance id.
    pub output_key: String,
}

impl ProvisionerSettings {
    /// Reads the provisioner settings; `ATELIER_PROVISIONER` defaults to `service-catalog`.
    pub fn from_env() -> Result<Self, SettingsError> {
        let kind = match optional("ATELIER_PROVISIONER").as_deref() {
            None | Some("service-catalog") => ProvisionerKind::ServiceCatalog,
            Some("ec2-launch") => ProvisionerKind::Ec2Launch,
            Some(other) => {
                return Err(SettingsError::Invalid {
                    name: "ATELIER_PROVISIONER",
                    value: other.to_owned(),
                    expected: "service-catalog or ec2-launch",
                });
            }
        };
        Ok(Self {
            kind,
            subnet_id: optional("ATELIER_SUBNET_ID"),
            instance_profile: optional("ATELIER_INSTANCE_PROFILE"),
            output_key: optional("ATELIER_PROVISIONING_OUTPUT").unwrap_or_else(|| "InstanceId".to_owned()),
        })
    }
}
