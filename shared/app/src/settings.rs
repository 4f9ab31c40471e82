//! Configuration, read once at start-up. Every `ATELIER_*` variable a deployed function
//! reads is declared here, per function ([`FUNCTIONS`]): [`Settings::from_env`] reads
//! exactly the declared ones, refuses a missing required one or a malformed value naming
//! the variable, and nothing else in the code reads the environment for settings.
//! `infra/tests/test_drift.py` compares this table with what `infra/template.yaml` sets.

use atelier_domain::workspaces::Timeouts;
use jiff::SignedDuration;

/// The DynamoDB table.
pub const TABLE: &str = "ATELIER_TABLE";
/// The Cognito user pool (tokens, profiles, groups).
pub const USER_POOL_ID: &str = "ATELIER_USER_POOL_ID";
/// The portal's app client, whose access tokens the API accepts.
pub const USER_POOL_CLIENT_ID: &str = "ATELIER_USER_POOL_CLIENT_ID";
/// Where the pool's keys are served when it is not AWS's Cognito (the local stack only:
/// it must stay unset in AWS, which the drift check enforces).
pub const COGNITO_JWKS_BASE: &str = "ATELIER_COGNITO_JWKS_BASE";
/// The cap on active workspaces per user.
pub const MAX_ACTIVE_WORKSPACES: &str = "ATELIER_MAX_ACTIVE_WORKSPACES";
/// `service-catalog` (default) or `ec2-launch`.
pub const PROVISIONER: &str = "ATELIER_PROVISIONER";
/// The Service Catalog record output holding the instance id.
pub const PROVISIONING_OUTPUT: &str = "ATELIER_PROVISIONING_OUTPUT";
/// The private workspace subnet `ec2-launch` launches into (required with it).
pub const SUBNET_ID: &str = "ATELIER_SUBNET_ID";
/// The workspace security group `ec2-launch` gives its machines (required with it).
pub const SECURITY_GROUP_ID: &str = "ATELIER_SECURITY_GROUP_ID";
/// The KMS key `ec2-launch` encrypts root volumes with (required with it).
pub const VOLUME_KMS_KEY_ID: &str = "ATELIER_VOLUME_KMS_KEY_ID";
/// The machine image `ec2-launch` launches (required with it).
pub const IMAGE_ID: &str = "ATELIER_IMAGE_ID";
/// The launch template holding the workspaces' bootstrap (required with `ec2-launch`).
pub const LAUNCH_TEMPLATE_ID: &str = "ATELIER_LAUNCH_TEMPLATE_ID";

/// Every variable `ec2-launch` needs, declared together by the functions that provision.
const EC2_LAUNCH: [&str; 5] = [SUBNET_ID, SECURITY_GROUP_ID, VOLUME_KMS_KEY_ID, IMAGE_ID, LAUNCH_TEMPLATE_ID];
/// The permissions boundary (managed policy ARN) of every workspace role.
pub const WORKSPACE_ROLE_BOUNDARY: &str = "ATELIER_WORKSPACE_ROLE_BOUNDARY";
/// The managed policy (ARN) attached to every workspace role besides its data policy.
pub const WORKSPACE_ROLE_POLICY: &str = "ATELIER_WORKSPACE_ROLE_POLICY";
/// State-sync's timeout for `PROVISIONING`, in minutes.
pub const PROVISIONING_TIMEOUT: &str = "ATELIER_PROVISIONING_TIMEOUT_MINUTES";
/// State-sync's timeout for `STARTING`, `STOPPING` and `HIBERNATING`, in minutes.
pub const POWER_TIMEOUT: &str = "ATELIER_POWER_TIMEOUT_MINUTES";
/// State-sync's timeout for `TERMINATING`, in minutes.
pub const TERMINATING_TIMEOUT: &str = "ATELIER_TERMINATING_TIMEOUT_MINUTES";
/// How often the scheduler function totals the month against budgets, in minutes.
pub const BUDGET_EVERY: &str = "ATELIER_BUDGET_EVERY_MINUTES";
/// The verified SES identity (an address) the notifications' e-mail is sent from.
pub const NOTIFICATION_SENDER: &str = "ATELIER_NOTIFICATION_SENDER";
/// The gateway's base URL (`https://<gateway host>`): where the workspaces' apps are opened.
pub const GATEWAY_URL: &str = "ATELIER_GATEWAY_URL";
/// The gateway's Ed25519 private key (PKCS#8 PEM), injected by ECS from Secrets Manager.
pub const GATEWAY_SIGNING_KEY: &str = "ATELIER_GATEWAY_SIGNING_KEY";
/// The gateway's listen address (`0.0.0.0:8080` in its container).
pub const GATEWAY_BIND: &str = "ATELIER_GATEWAY_BIND";
/// The port of the workspace guard the gateway forwards to (8443).
pub const GATEWAY_GUARD_PORT: &str = "ATELIER_GATEWAY_GUARD_PORT";
/// The portal's URL (the gateway sends unauthenticated browsers there).
pub const PORTAL_URL: &str = "ATELIER_PORTAL_URL";
/// The S3 bucket finished cost exports are written to and downloaded from (presigned).
pub const EXPORTS_BUCKET: &str = "ATELIER_EXPORTS_BUCKET";

/// A deployed function and the variables it reads: `required` must be set (non-empty),
/// `optional` have defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    /// The crate in `functions/` and the binary in the template's `CodeUri`.
    pub name: &'static str,
    /// Must be set and non-empty, or start-up fails ([`SettingsError::Missing`]).
    pub required: &'static [&'static str],
    /// Read when set; unset or empty keeps the default. A variable in neither list is
    /// never read, whatever the environment holds.
    pub optional: &'static [&'static str],
}

/// `/v1/me`, workspaces, schedules, costs, budgets, datasets, the OpenAPI document.
pub const WORKSPACES_API: Function = Function {
    name: "workspaces-api",
    required: &[GATEWAY_URL, TABLE, USER_POOL_ID, USER_POOL_CLIENT_ID, EXPORTS_BUCKET],
    optional: &[
        COGNITO_JWKS_BASE,
        MAX_ACTIVE_WORKSPACES,
        PROVISIONER,
        PROVISIONING_OUTPUT,
        SUBNET_ID,
        SECURITY_GROUP_ID,
        VOLUME_KMS_KEY_ID,
        IMAGE_ID,
        LAUNCH_TEMPLATE_ID,
        WORKSPACE_ROLE_BOUNDARY,
        WORKSPACE_ROLE_POLICY,
    ],
};

/// `/v1/products` (publishing reads Service Catalog and EC2; which provisioner the
/// deployment uses decides what a product needs from Service Catalog).
pub const CATALOG_API: Function = Function {
    name: "catalog-api",
    required: &[TABLE, USER_POOL_ID, USER_POOL_CLIENT_ID],
    optional: &[COGNITO_JWKS_BASE, PROVISIONER],
};

/// State-sync (it retries provisioning, so it creates workspace roles too).
pub const STATE_SYNC: Function = Function {
    name: "state-sync",
    required: &[TABLE],
    optional: &[
        PROVISIONER,
        PROVISIONING_OUTPUT,
        SUBNET_ID,
        SECURITY_GROUP_ID,
        VOLUME_KMS_KEY_ID,
        IMAGE_ID,
        LAUNCH_TEMPLATE_ID,
        WORKSPACE_ROLE_BOUNDARY,
        WORKSPACE_ROLE_POLICY,
        PROVISIONING_TIMEOUT,
        POWER_TIMEOUT,
        TERMINATING_TIMEOUT,
    ],
};

/// The data-access pass: revocation, workspace credentials, mounts.
pub const DATA_ACCESS: Function = Function { name: "data-access", required: &[TABLE, USER_POOL_ID], optional: &[] };

/// The scheduler tick and the budget watch (its notifications: the admins and addresses
/// from the user pool, the e-mail through SES from the sender identity).
pub const SCHEDULER: Function =
    Function { name: "scheduler", required: &[TABLE, USER_POOL_ID, NOTIFICATION_SENDER], optional: &[BUDGET_EVERY] };

/// Cost Explorer's actuals.
pub const COST_ACTUALS: Function = Function { name: "cost-actuals", required: &[TABLE], optional: &[] };

/// The gateway (`atelier-gateway`, an ECS service, not a Lambda function: not in [`FUNCTIONS`]).
pub const GATEWAY: Function = Function {
    name: "gateway",
    required: &[TABLE, USER_POOL_ID, USER_POOL_CLIENT_ID, GATEWAY_SIGNING_KEY],
    optional: &[GATEWAY_BIND, GATEWAY_GUARD_PORT, PORTAL_URL],
};

/// Every deployed function.
pub const FUNCTIONS: [Function; 6] = [WORKSPACES_API, CATALOG_API, STATE_SYNC, DATA_ACCESS, SCHEDULER, COST_ACTUALS];

/// A missing or malformed variable, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A required variable is unset, or empty once trimmed.
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    /// A variable another setting makes required is unset.
    #[error("environment variable {name} is not set: {because}")]
    MissingFor {
        /// The variable, e.g. `ATELIER_SUBNET_ID`.
        name: &'static str,
        /// Why it is needed, in words.
        because: &'static str,
    },
    /// A declared variable holds a value that does not parse or is out of range.
    #[error("environment variable {name} is {value:?}: {expected}")]
    Invalid {
        /// The variable, e.g. `ATELIER_POWER_TIMEOUT_MINUTES`.
        name: &'static str,
        /// Its value, trimmed.
        value: String,
        /// What it should hold, in words (`a whole number of minutes, 1 to 10080`).
        expected: &'static str,
    },
}

/// Which adapter creates workspaces' AWS resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProvisionerKind {
    /// AWS Service Catalog products (production).
    ServiceCatalog,
    /// EC2 RunInstances, hardened as the products are (local stack, accounts without
    /// Service Catalog).
    Ec2Launch,
}

impl ProvisionerKind {
    /// What publishing a product needs from Service Catalog under this provisioner.
    pub fn provisioning(self) -> atelier_domain::catalog::Provisioning {
        match self {
            ProvisionerKind::ServiceCatalog => atelier_domain::catalog::Provisioning::ServiceCatalog,
            ProvisionerKind::Ec2Launch => atelier_domain::catalog::Provisioning::Ec2Launch,
        }
    }
}

/// Settings of the provisioner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisionerSettings {
    /// `ATELIER_PROVISIONER`; Service Catalog when unset.
    pub kind: ProvisionerKind,
    /// Where `ec2-launch` launches: `Some` exactly when it is the provisioner of a function
    /// that provisions (every variable of it is then required).
    pub ec2_launch: Option<atelier_adapters::Ec2LaunchSettings>,
    /// The Service Catalog record output holding the instance id.
    pub output_key: String,
}

impl Default for ProvisionerSettings {
    fn default() -> Self {
        Self { kind: ProvisionerKind::ServiceCatalog, ec2_launch: None, output_key: "InstanceId".into() }
    }
}

/// What every workspace role is created with (the template sets both; the local stack
/// neither, and moto's roles are then unbounded).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkspaceRoleSettings {
    /// `ATELIER_WORKSPACE_ROLE_BOUNDARY`: the permissions boundary's ARN.
    pub boundary: Option<String>,
    /// `ATELIER_WORKSPACE_ROLE_POLICY`: the base managed policy's ARN.
    pub policy: Option<String>,
}

/// An IAM managed policy's ARN (`arn:<partition>:iam::<account>:policy/...`).
fn policy_arn(name: &'static str, value: Option<String>) -> Result<Option<String>, SettingsError> {
    match value {
        Some(v) if !(v.starts_with("arn:") && v.contains(":iam::") && v.contains(":policy/")) => {
            Err(SettingsError::Invalid {
                name,
                value: v,
                expected: "an IAM managed policy ARN (arn:aws:iam::<account>:policy/<name>)",
            })
        }
        value => Ok(value),
    }
}

/// Everything a function is configured with, typed. What a function does not declare
/// keeps its default (or `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The function these were read for (`local` for the dev server and the tests).
    pub function: &'static str,
    /// `ATELIER_TABLE`: the DynamoDB table every store lives in (required by every function).
    pub table: String,
    /// `ATELIER_USER_POOL_ID`; `None` for a function that does not declare it (read it with
    /// [`Settings::user_pool_id`]).
    pub user_pool_id: Option<String>,
    /// `ATELIER_USER_POOL_CLIENT_ID`; `None` for a function that does not declare it (read
    /// it with [`Settings::user_pool_client_id`]).
    pub user_pool_client_id: Option<String>,
    /// `ATELIER_COGNITO_JWKS_BASE`: the local Cognito's URL; always `None` in AWS, where
    /// the keys come from the pool's public endpoint.
    pub cognito_jwks_base: Option<String>,
    /// Most active workspaces per user (default 5).
    pub max_active: u32,
    /// Which provisioner creates workspaces, and its options.
    pub provisioner: ProvisionerSettings,
    /// The workspace roles' permissions boundary and base policy.
    pub workspace_roles: WorkspaceRoleSettings,
    /// `ATELIER_GATEWAY_URL`: the gateway's base URL, for the apps' links (required by
    /// the workspaces API; `None` elsewhere).
    pub gateway_url: Option<String>,
    /// The gateway's own settings (the gateway service only).
    pub gateway: GatewaySettings,
    /// State-sync's timeouts (defaults: 60, 30, 60 minutes).
    pub timeouts: Timeouts,
    /// How often the budget watch totals budgets (default an hour; at most one tick:
    /// every tick).
    pub budget_every: SignedDuration,
    /// How far apart the scheduler's ticks come ([`atelier_domain::jobs::SCHEDULER_TICK`]
    /// in AWS; the dev server's interval locally).
    pub scheduler_tick: SignedDuration,
    /// `ATELIER_NOTIFICATION_SENDER`: the SES identity the budget watch's e-mails come
    /// from (required by the scheduler; `None` elsewhere).
    pub notification_sender: Option<String>,
    /// `ATELIER_EXPORTS_BUCKET`: where `POST /v1/costs/exports` writes (required by the
    /// workspaces API; `None` elsewhere, and in [`Settings::local`] until the stack names
    /// the bucket it created).
    pub exports_bucket: Option<String>,
}

impl Settings {
    /// The settings of `function`, from the process environment.
    pub fn from_env(function: &Function) -> Result<Self, SettingsError> {
        Self::from_vars(function, |name| std::env::var(name).ok())
    }

    /// The settings of `function`, with each declared variable read through `var`. Values
    /// are trimmed; an empty one counts as unset.
    pub fn from_vars(function: &Function, var: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let declared = |name: &str| function.required.contains(&name) || function.optional.contains(&name);
        let get = |name: &'static str| {
            let value =
                if declared(name) { var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) } else { None };
            match value {
                None if function.required.contains(&name) => Err(SettingsError::Missing(name)),
                value => Ok(value),
            }
        };
        let defaults = Timeouts::default();
        let timeouts = Timeouts::new(
            minutes(PROVISIONING_TIMEOUT, get(PROVISIONING_TIMEOUT)?, defaults.provisioning)?,
            minutes(POWER_TIMEOUT, get(POWER_TIMEOUT)?, defaults.power)?,
            minutes(TERMINATING_TIMEOUT, get(TERMINATING_TIMEOUT)?, defaults.terminating)?,
        )
        .map_err(|_| SettingsError::Invalid {
            name: POWER_TIMEOUT,
            value: get(POWER_TIMEOUT).ok().flatten().unwrap_or_default(),
            expected: "more minutes than the 2-minute reconciliation grace period",
        })?;
        Ok(Self {
            function: function.name,
            table: get(TABLE)?.unwrap_or_default(),
            user_pool_id: get(USER_POOL_ID)?,
            user_pool_client_id: get(USER_POOL_CLIENT_ID)?,
            cognito_jwks_base: get(COGNITO_JWKS_BASE)?,
            max_active: max_active(get(MAX_ACTIVE_WORKSPACES)?)?,
            provisioner: provisioner(function, get(PROVISIONER)?, get(PROVISIONING_OUTPUT)?, get)?,
            workspace_roles: WorkspaceRoleSettings {
                boundary: policy_arn(WORKSPACE_ROLE_BOUNDARY, get(WORKSPACE_ROLE_BOUNDARY)?)?,
                policy: policy_arn(WORKSPACE_ROLE_POLICY, get(WORKSPACE_ROLE_POLICY)?)?,
            },
            gateway_url: get(GATEWAY_URL)?,
            gateway: GatewaySettings {
                signing_key: get(GATEWAY_SIGNING_KEY)?,
                bind: get(GATEWAY_BIND)?.unwrap_or_else(|| DEFAULT_GATEWAY_BIND.to_owned()),
                guard_port: port(GATEWAY_GUARD_PORT, get(GATEWAY_GUARD_PORT)?, DEFAULT_GUARD_PORT)?,
                portal_url: get(PORTAL_URL)?,
            },
            timeouts,
            budget_every: minutes(BUDGET_EVERY, get(BUDGET_EVERY)?, SignedDuration::from_hours(1))?,
            scheduler_tick: atelier_domain::jobs::SCHEDULER_TICK,
            notification_sender: get(NOTIFICATION_SENDER)?,
            exports_bucket: get(EXPORTS_BUCKET)?,
        })
    }

    /// The settings of the local stack (dev server, tests): the seeded table and pool, the
    /// pool's keys served by the local server at `endpoint`, workspaces launched with
    /// `ec2-launch` into the seeded network (moto has no Service Catalog provisioning),
    /// budgets totalled on every scheduler tick of `tick`.
    pub fn local(
        table: &str,
        user_pool_id: &str,
        client_id: &str,
        endpoint: &str,
        ec2_launch: atelier_adapters::Ec2LaunchSettings,
        tick: SignedDuration,
    ) -> Self {
        Self {
            function: "local",
            table: table.to_owned(),
            user_pool_id: Some(user_pool_id.to_owned()),
            user_pool_client_id: Some(client_id.to_owned()),
            cognito_jwks_base: Some(endpoint.to_owned()),
            max_active: atelier_adapters::dynamodb::DEFAULT_MAX_ACTIVE_WORKSPACES,
            provisioner: ProvisionerSettings {
                kind: ProvisionerKind::Ec2Launch,
                ec2_launch: Some(ec2_launch),
                ..ProvisionerSettings::default()
            },
            workspace_roles: WorkspaceRoleSettings::default(),
            gateway_url: Some(LOCAL_GATEWAY_URL.to_owned()),
            gateway: GatewaySettings::default(),
            timeouts: Timeouts::default(),
            budget_every: SignedDuration::ZERO,
            scheduler_tick: tick,
            notification_sender: Some(LOCAL_NOTIFICATION_SENDER.to_owned()),
            exports_bucket: None,
        }
    }

    /// The user pool, which this function declared as required.
    pub fn user_pool_id(&self) -> &str {
        self.user_pool_id.as_deref().unwrap_or_else(|| panic!("{} does not declare {USER_POOL_ID}", self.function))
    }

    /// The app client, which this function declared as required.
    pub fn user_pool_client_id(&self) -> &str {
        self.user_pool_client_id
            .as_deref()
            .unwrap_or_else(|| panic!("{} does not declare {USER_POOL_CLIENT_ID}", self.function))
    }
}

/// The local stack's sender identity (the seed verifies it in the local SES) unless the
/// dev server or a test names another.
pub const LOCAL_NOTIFICATION_SENDER: &str = "budgets@atelier.test";

/// The local gateway's URL unless the dev server or a test binds it elsewhere.
pub const LOCAL_GATEWAY_URL: &str = "http://127.0.0.1:8081";

/// Where the gateway listens unless told otherwise (its container port).
pub const DEFAULT_GATEWAY_BIND: &str = "0.0.0.0:8080";
/// The workspace guard's port unless told otherwise.
pub const DEFAULT_GUARD_PORT: u16 = 8443;

/// The gateway's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySettings {
    /// `ATELIER_GATEWAY_SIGNING_KEY`: its Ed25519 private key (PKCS#8 PEM); required by the
    /// gateway, `None` elsewhere.
    pub signing_key: Option<String>,
    /// `ATELIER_GATEWAY_BIND`: its listen address (default `0.0.0.0:8080`).
    pub bind: String,
    /// `ATELIER_GATEWAY_GUARD_PORT`: the port of the workspace guards (default 8443).
    pub guard_port: u16,
    /// `ATELIER_PORTAL_URL`: where it sends a browser without a session (`None`: it answers
    /// 401 without a link).
    pub portal_url: Option<String>,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            signing_key: None,
            bind: DEFAULT_GATEWAY_BIND.to_owned(),
            guard_port: DEFAULT_GUARD_PORT,
            portal_url: None,
        }
    }
}

fn port(name: &'static str, value: Option<String>, default: u16) -> Result<u16, SettingsError> {
    let Some(value) = value else { return Ok(default) };
    match value.parse::<u16>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(SettingsError::Invalid { name, value, expected: "a TCP port number, 1 to 65535" }),
    }
}

fn max_active(value: Option<String>) -> Result<u32, SettingsError> {
    let Some(value) = value else { return Ok(atelier_adapters::dynamodb::DEFAULT_MAX_ACTIVE_WORKSPACES) };
    match value.parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(SettingsError::Invalid {
            name: MAX_ACTIVE_WORKSPACES,
            value,
            expected: "a whole number of workspaces, at least 1",
        }),
    }
}

fn provisioner(
    function: &Function,
    kind: Option<String>,
    output: Option<String>,
    get: impl Fn(&'static str) -> Result<Option<String>, SettingsError>,
) -> Result<ProvisionerSettings, SettingsError> {
    let kind = match kind.as_deref() {
        None | Some("service-catalog") => ProvisionerKind::ServiceCatalog,
        Some("ec2-launch") => ProvisionerKind::Ec2Launch,
        Some(_) => {
            return Err(SettingsError::Invalid {
                name: PROVISIONER,
                value: kind.unwrap_or_default(),
                expected: "service-catalog or ec2-launch",
            });
        }
    };
    // Only a function that provisions declares the ec2-launch variables; for it they are
    // all required, so that no launch falls back to the default VPC, group or EBS key.
    let provisions = EC2_LAUNCH.iter().all(|name| function.optional.contains(name));
    let ec2_launch = if kind == ProvisionerKind::Ec2Launch && provisions {
        let need = |name: &'static str, prefix: &'static str, because: &'static str, expected: &'static str| {
            let value = get(name)?.ok_or(SettingsError::MissingFor { name, because })?;
            if prefix.is_empty() || value.starts_with(prefix) {
                Ok(value)
            } else {
                Err(SettingsError::Invalid { name, value, expected })
            }
        };
        Some(atelier_adapters::Ec2LaunchSettings {
            subnet_id: need(
                SUBNET_ID,
                "subnet-",
                "ec2-launch launches only into the private workspace subnet",
                "a subnet id (subnet-...)",
            )?,
            security_group_id: need(
                SECURITY_GROUP_ID,
                "sg-",
                "ec2-launch gives every machine the workspace security group",
                "a security group id (sg-...)",
            )?,
            kms_key_id: need(
                VOLUME_KMS_KEY_ID,
                "",
                "ec2-launch encrypts every root volume with the workspace key",
                "a KMS key id, ARN or alias",
            )?,
            image_id: need(IMAGE_ID, "ami-", "ec2-launch needs the machine image to launch", "an image id (ami-...)")?,
            launch_template_id: need(
                LAUNCH_TEMPLATE_ID,
                "lt-",
                "ec2-launch takes the workspaces' bootstrap from the launch template",
                "a launch template id (lt-...)",
            )?,
        })
    } else {
        None
    };
    Ok(ProvisionerSettings { kind, ec2_launch, output_key: output.unwrap_or_else(|| "InstanceId".into()) })
}

/// A whole number of minutes, 1 to a week, or `default` when unset.
fn minutes(
    name: &'static str,
    value: Option<String>,
    default: SignedDuration,
) -> Result<SignedDuration, SettingsError> {
    let Some(value) = value else { return Ok(default) };
    match value.parse::<i64>() {
        Ok(m) if (1..=7 * 24 * 60).contains(&m) => Ok(SignedDuration::from_mins(m)),
        _ => Err(SettingsError::Invalid { name, value, expected: "a whole number of minutes, 1 to 10080" }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn a_function_reads_its_variables_and_keeps_defaults_for_the_rest() {
        let settings = Settings::from_vars(
            &STATE_SYNC,
            vars(&[(TABLE, "atelier"), (USER_POOL_ID, "pool"), (POWER_TIMEOUT, "45"), (BUDGET_EVERY, "5")]),
        )
        .expect("valid");
        assert_eq!(settings.table, "atelier");
        assert_eq!(settings.user_pool_id, None, "state-sync no longer declares the pool");
        assert_eq!(settings.timeouts.power, SignedDuration::from_mins(45));
        assert_eq!(settings.budget_every, SignedDuration::from_hours(1), "state-sync does not read the budget rate");
        assert_eq!(settings.provisioner, ProvisionerSettings::default());
    }

    #[test]
    fn missing_and_malformed_variables_are_named() {
        assert_eq!(Settings::from_vars(&SCHEDULER, vars(&[])), Err(SettingsError::Missing(TABLE)));
        assert_eq!(
            Settings::from_vars(&CATALOG_API, vars(&[(TABLE, "t"), (USER_POOL_ID, " ")])),
            Err(SettingsError::Missing(USER_POOL_ID)),
            "blank is unset"
        );
        let invalid = |function: &Function, name: &'static str, value: &str| {
            let mut pairs = vec![
                (TABLE, "t"),
                (USER_POOL_ID, "p"),
                (USER_POOL_CLIENT_ID, "c"),
                (GATEWAY_URL, "https://g"),
                (GATEWAY_SIGNING_KEY, "k"),
                (NOTIFICATION_SENDER, "budgets@example.org"),
                (EXPORTS_BUCKET, "exports"),
            ];
            pairs.push((name, value));
            match Settings::from_vars(function, vars(&pairs)) {
                Err(SettingsError::Invalid { name: named, .. }) => assert_eq!(named, name, "{value:?}"),
                other => panic!("{name}={value:?}: expected Invalid, got {other:?}"),
            }
        };
        invalid(&WORKSPACES_API, PROVISIONER, "terraform");
        for bad in ["0", "65536", "http"] {
            invalid(&GATEWAY, GATEWAY_GUARD_PORT, bad);
        }
        for (value, cap) in [("5", 5), (" 12 ", 12)] {
            let pairs = [
                (TABLE, "t"),
                (USER_POOL_ID, "p"),
                (USER_POOL_CLIENT_ID, "c"),
                (GATEWAY_URL, "https://g"),
                (EXPORTS_BUCKET, "exports"),
                (MAX_ACTIVE_WORKSPACES, value),
            ];
            assert_eq!(Settings::from_vars(&WORKSPACES_API, vars(&pairs)).expect("valid").max_active, cap, "{value:?}");
        }
        for bad in ["0", "-1", "five", "2.5"] {
            invalid(&WORKSPACES_API, MAX_ACTIVE_WORKSPACES, bad);
        }
        for bad in ["0", "-5", "1.5", "ten", "10081"] {
            invalid(&SCHEDULER, BUDGET_EVERY, bad);
            invalid(&STATE_SYNC, PROVISIONING_TIMEOUT, bad);
        }
        invalid(&STATE_SYNC, POWER_TIMEOUT, "2");
        invalid(&WORKSPACES_API, WORKSPACE_ROLE_BOUNDARY, "atelier-boundary");
        invalid(&STATE_SYNC, WORKSPACE_ROLE_POLICY, "arn:aws:iam::123456789012:role/not-a-policy");
        let arn = "arn:aws:iam::123456789012:policy/atelier-workspace-boundary";
        let pairs = [(TABLE, "t"), (WORKSPACE_ROLE_BOUNDARY, arn)];
        let roles = Settings::from_vars(&STATE_SYNC, vars(&pairs)).expect("valid").workspace_roles;
        assert_eq!(roles, WorkspaceRoleSettings { boundary: Some(arn.into()), policy: None });
        let scheduler = [(TABLE, "t"), (USER_POOL_ID, "p"), (NOTIFICATION_SENDER, "budgets@example.org")];
        let err = Settings::from_vars(&SCHEDULER, vars(&[(TABLE, "t"), (USER_POOL_ID, "p")])).unwrap_err();
        assert_eq!(err, SettingsError::Missing(NOTIFICATION_SENDER), "the budget watch's e-mail needs its sender");
        let read = Settings::from_vars(&SCHEDULER, vars(&scheduler)).expect("valid");
        assert_eq!(read.notification_sender.as_deref(), Some("budgets@example.org"));
        let err =
            Settings::from_vars(&SCHEDULER, vars(&[scheduler[0], scheduler[1], scheduler[2], (BUDGET_EVERY, "ten")]))
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable ATELIER_BUDGET_EVERY_MINUTES is \"ten\": a whole number of minutes, 1 to 10080"
        );
    }

    #[test]
    fn ec2_launch_refuses_to_start_without_its_network_naming_the_setting() {
        let base = [(TABLE, "t"), (PROVISIONER, "ec2-launch")];
        let err = Settings::from_vars(&STATE_SYNC, vars(&base)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable ATELIER_SUBNET_ID is not set: ec2-launch launches only into the private workspace subnet"
        );
        let mut all = base.to_vec();
        all.extend([
            (SUBNET_ID, "subnet-1"),
            (SECURITY_GROUP_ID, "sg-1"),
            (VOLUME_KMS_KEY_ID, "key-1"),
            (IMAGE_ID, "ami-1"),
            (LAUNCH_TEMPLATE_ID, "lt-1"),
        ]);
        for missing in [SECURITY_GROUP_ID, VOLUME_KMS_KEY_ID, IMAGE_ID, LAUNCH_TEMPLATE_ID] {
            let without: Vec<_> = all.iter().copied().filter(|(k, _)| *k != missing).collect();
            let err = Settings::from_vars(
                &WORKSPACES_API,
                vars(
                    &[&without[..], &[(GATEWAY_URL, "https://g"), (USER_POOL_ID, "p"), (USER_POOL_CLIENT_ID, "c")]]
                        .concat(),
                ),
            )
            .unwrap_err();
            assert!(matches!(err, SettingsError::MissingFor { name, .. } if name == missing), "{missing}: {err}");
        }
        let wrong: Vec<_> = all.iter().map(|&(k, v)| if k == SUBNET_ID { (k, "vpc-1") } else { (k, v) }).collect();
        assert!(matches!(
            Settings::from_vars(&STATE_SYNC, vars(&wrong)),
            Err(SettingsError::Invalid { name: SUBNET_ID, .. })
        ));
        let settings = Settings::from_vars(&STATE_SYNC, vars(&all)).expect("complete");
        assert_eq!(settings.provisioner.ec2_launch.map(|l| l.subnet_id), Some("subnet-1".into()));
        // Service Catalog needs none of them.
        let sc = Settings::from_vars(&STATE_SYNC, vars(&[(TABLE, "t")])).expect("service catalog");
        assert_eq!(sc.provisioner.ec2_launch, None);
    }

    #[test]
    fn only_declared_variables_are_read() {
        let asked = std::cell::RefCell::new(Vec::new());
        for function in FUNCTIONS {
            asked.borrow_mut().clear();
            Settings::from_vars(&function, |name| {
                asked.borrow_mut().push(name.to_owned());
                Some(match name {
                    PROVISIONER => "ec2-launch".into(),
                    WORKSPACE_ROLE_BOUNDARY | WORKSPACE_ROLE_POLICY => "arn:aws:iam::123456789012:policy/p".into(),
                    SUBNET_ID => "subnet-0a1b2c3d".into(),
                    SECURITY_GROUP_ID => "sg-0a1b2c3d".into(),
                    IMAGE_ID => "ami-0a1b2c3d".into(),
                    LAUNCH_TEMPLATE_ID => "lt-0a1b2c3d".into(),
                    _ => "45".into(),
                })
            })
            .expect("valid values");
            let mut declared: Vec<&str> = function.required.iter().chain(function.optional).copied().collect();
            declared.sort_unstable();
            let mut read = asked.borrow().clone();
            read.sort_unstable();
            read.dedup();
            assert_eq!(read, declared, "{}", function.name);
        }
    }
}
