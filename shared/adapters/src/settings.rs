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

/// State-sync's timeouts for transitional states, in whole minutes
/// (`ATELIER_PROVISIONING_TIMEOUT_MINUTES`, `ATELIER_POWER_TIMEOUT_MINUTES`,
/// `ATELIER_TERMINATING_TIMEOUT_MINUTES`); each unset one keeps its default
/// ([`atelier_domain::sync::Timeouts::default`]: 60, 30, 60).
pub fn sync_timeouts() -> Result<atelier_domain::sync::Timeouts, SettingsError> {
    let defaults = atelier_domain::sync::Timeouts::default();
    let provisioning = minutes(
        "ATELIER_PROVISIONING_TIMEOUT_MINUTES",
        optional("ATELIER_PROVISIONING_TIMEOUT_MINUTES"),
        defaults.provisioning,
    )?;
    let power = minutes("ATELIER_POWER_TIMEOUT_MINUTES", optional("ATELIER_POWER_TIMEOUT_MINUTES"), defaults.power)?;
    let terminating = minutes(
        "ATELIER_TERMINATING_TIMEOUT_MINUTES",
        optional("ATELIER_TERMINATING_TIMEOUT_MINUTES"),
        defaults.terminating,
    )?;
    atelier_domain::sync::Timeouts::new(provisioning, power, terminating).map_err(|_| SettingsError::Invalid {
        name: "ATELIER_POWER_TIMEOUT_MINUTES",
        value: power.as_mins().to_string(),
        expected: "more minutes than the 2-minute reconciliation grace period",
    })
}

/// How often the scheduler function totals the month against budgets
/// (`ATELIER_BUDGET_EVERY_MINUTES`, default 60; 5 or less: on every tick). See
/// [`atelier_domain::costs::watch::budgets_due`].
pub fn budget_every() -> Result<jiff::SignedDuration, SettingsError> {
    minutes(
        "ATELIER_BUDGET_EVERY_MINUTES",
        optional("ATELIER_BUDGET_EVERY_MINUTES"),
        jiff::SignedDuration::from_hours(1),
    )
}

fn minutes(
    name: &'static str,
    value: Option<String>,
    default: jiff::SignedDuration,
) -> Result<jiff::SignedDuration, SettingsError> {
    let Some(value) = value else { return Ok(default) };
    match value.trim().parse::<i64>() {
        Ok(m) if (1..=7 * 24 * 60).contains(&m) => Ok(jiff::SignedDuration::from_mins(m)),
        _ => Err(SettingsError::Invalid { name, value, expected: "a whole number of minutes, 1 to 10080" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeout_minutes_are_whole_and_bounded() {
        let default = jiff::SignedDuration::from_mins(30);
        assert_eq!(minutes("X", None, default).unwrap(), default);
        assert_eq!(minutes("X", Some("45".into()), default).unwrap(), jiff::SignedDuration::from_mins(45));
        for bad in ["0", "-5", "1.5", "ten", "10081"] {
            let err = minutes("X", Some(bad.into()), default).unwrap_err();
            assert!(err.to_string().contains("whole number of minutes"), "{bad}: {err}");
        }
    }
}
