//! The deployed definitions, read from `infra/template.yaml` (compiled in), so the local stack
//! is built from what CloudFormation deploys rather than from a second description of it.
//!
//! Only what the local stack creates is read: the DynamoDB table (keys, attribute definitions,
//! global secondary indexes, billing mode, TTL), the user pool (password policy, MFA, schema,
//! username and sign-up settings, recovery, tier), the portal's app client (flows, token
//! lifetimes, protections) and the role groups. Intrinsic functions are resolved with the
//! parameters' defaults; one the local stack has no value for is an
//! error, never a silent default. What moto cannot hold or does not need (KMS encryption,
//! point-in-time recovery, deletion protection, the client's OAuth settings) is left out, and
//! said so where it is skipped. `tests/integration/local_stack.rs`
//! describes the local table and pool back from moto and compares them with this module's
//! reading of the template.

use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_dynamodb::{
    Client as Dynamo,
    types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
        ScalarAttributeType, TimeToLiveSpecification,
    },
};
use serde::Deserialize;
use serde_yaml_ng::{Mapping, Value};

use crate::seed::{SeedError, aws};

/// `infra/template.yaml`, as deployed.
pub const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

/// Why the template could not be read into a local definition.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The template is not YAML, or a resource's properties do not have the expected shape.
    #[error("infra/template.yaml: {0}")]
    Shape(String),
    /// A resource the local stack needs is missing.
    #[error("infra/template.yaml has no resource of type {0}")]
    Missing(&'static str),
}

/// The template's resources, and what its intrinsic functions resolve against.
#[derive(Debug, Clone)]
pub struct Template {
    resources: Mapping,
    /// Each parameter's default.
    defaults: std::collections::BTreeMap<String, String>,
    conditions: Mapping,
}

impl Template {
    /// The deployed template.
    pub fn deployed() -> Result<Self, TemplateError> {
        Self::parse(TEMPLATE)
    }

    /// A template read from `text` (CloudFormation YAML, short-form intrinsics allowed).
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let root: Value = serde_yaml_ng::from_str(text).map_err(|e| TemplateError::Shape(e.to_string()))?;
        let resources = root
            .get("Resources")
            .and_then(Value::as_mapping)
            .cloned()
            .ok_or_else(|| TemplateError::Shape("no Resources mapping".into()))?;
        let defaults = root
            .get("Parameters")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
            .filter_map(|(name, p)| {
                let default = match p.get("Default")? {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((name.as_str()?.to_owned(), default))
            })
            .collect();
        let conditions = root.get("Conditions").and_then(Value::as_mapping).cloned().unwrap_or_default();
        Ok(Self { resources, defaults, conditions })
    }

    /// The one `AWS::Cognito::UserPool`, named `name` (the stack's name in AWS), its
    /// parameters at their defaults.
    pub fn user_pool(&self, name: &str) -> Result<UserPoolDefinition, TemplateError> {
        let (id, properties) =
            self.of_type("AWS::Cognito::UserPool").next().ok_or(TemplateError::Missing("AWS::Cognito::UserPool"))?;
        let resolved = self.resolve(properties, name).map_err(|e| TemplateError::Shape(format!("{id}: {e}")))?;
        serde_yaml_ng::from_value(resolved.unwrap_or_default()).map_err(|e| TemplateError::Shape(format!("{id}: {e}")))
    }

    /// The `AWS::Cognito::UserPoolClient` named `client_name`: its flows, token lifetimes
    /// and protections. Its OAuth settings (callback and logout URLs, which name the
    /// CloudFront distribution) are not read: moto serves no managed login.
    pub fn app_client(&self, client_name: &str) -> Result<AppClientDefinition, TemplateError> {
        const READ: [&str; 8] = [
            "ClientName",
            "ExplicitAuthFlows",
            "AccessTokenValidity",
            "IdTokenValidity",
            "RefreshTokenValidity",
            "TokenValidityUnits",
            "PreventUserExistenceErrors",
            "EnableTokenRevocation",
        ];
        for (id, properties) in self.of_type("AWS::Cognito::UserPoolClient") {
            if properties.get("ClientName").and_then(Value::as_str) != Some(client_name) {
                continue;
            }
            let mut read = Mapping::new();
            for key in READ {
                if let Some(v) = properties.get(key) {
                    read.insert(Value::String(key.into()), v.clone());
                }
            }
            let resolved =
                self.resolve(&Value::Mapping(read), "").map_err(|e| TemplateError::Shape(format!("{id}: {e}")))?;
            return serde_yaml_ng::from_value(resolved.unwrap_or_default())
                .map_err(|e| TemplateError::Shape(format!("{id}: {e}")));
        }
        Err(TemplateError::Missing("AWS::Cognito::UserPoolClient"))
    }

    /// `value` with `Ref` (parameters at their defaults, `AWS::StackName` as `stack`,
    /// `AWS::NoValue`), `Fn::If` and the conditions it names resolved; `None` for a removed value.
    /// Anything else (`Fn::GetAtt`, `Fn::Sub`, …) is refused: the local stack has no value for it.
    fn resolve(&self, value: &Value, stack: &str) -> Result<Option<Value>, String> {
        match value {
            Value::Tagged(tagged) => {
                let function = tagged.tag.to_string();
                self.intrinsic(function.trim_start_matches('!'), &tagged.value, stack)
            }
            Value::Mapping(m)
                if m.len() == 1
                    && m.keys().all(|k| k.as_str().is_some_and(|k| k == "Ref" || k.starts_with("Fn::"))) =>
            {
                let (function, argument) = m.iter().next().expect("one entry");
                let function = function.as_str().expect("checked").trim_start_matches("Fn::");
                self.intrinsic(function, argument, stack)
            }
            Value::Mapping(m) => {
                let mut out = Mapping::new();
                for (k, v) in m {
                    if let Some(v) = self.resolve(v, stack)? {
                        out.insert(k.clone(), v);
                    }
                }
                Ok(Some(Value::Mapping(out)))
            }
            Value::Sequence(items) => {
                let mut out = Vec::new();
                for item in items {
                    out.extend(self.resolve(item, stack)?);
                }
                Ok(Some(Value::Sequence(out)))
            }
            other => Ok(Some(other.clone())),
        }
    }

    fn intrinsic(&self, function: &str, argument: &Value, stack: &str) -> Result<Option<Value>, String> {
        match function {
            "Ref" => match argument.as_str() {
                Some("AWS::NoValue") => Ok(None),
                Some("AWS::StackName") => Ok(Some(Value::String(stack.to_owned()))),
                Some(name) => self
                    .defaults
                    .get(name)
                    .map(|d| Some(Value::String(d.clone())))
                    .ok_or_else(|| format!("Ref {name}: no parameter default to resolve it with locally")),
                None => Err("Ref of a non-name".into()),
            },
            "If" => {
                let [condition, then, otherwise] = argument.as_sequence().map(Vec::as_slice).unwrap_or_default() else {
                    return Err("Fn::If takes [condition, then, else]".into());
                };
                let chosen =
                    if self.condition(condition.as_str().unwrap_or_default(), stack)? { then } else { otherwise };
                self.resolve(chosen, stack)
            }
            other => Err(format!("Fn::{other} has no local value")),
        }
    }

    fn condition(&self, name: &str, stack: &str) -> Result<bool, String> {
        let definition = self.conditions.get(name).ok_or_else(|| format!("no condition {name}"))?;
        self.truth(definition, stack)
    }

    fn truth(&self, value: &Value, stack: &str) -> Result<bool, String> {
        let (function, argument) = match value {
            Value::Tagged(t) => (t.tag.to_string().trim_start_matches('!').to_owned(), &t.value),
            Value::Mapping(m) if m.len() == 1 => {
                let (k, v) = m.iter().next().expect("one entry");
                (k.as_str().unwrap_or_default().trim_start_matches("Fn::").to_owned(), v)
            }
            _ => return Err("a condition is Fn::Equals, Fn::Not, Fn::And, Fn::Or or Condition".into()),
        };
        let items = argument.as_sequence().map(Vec::as_slice).unwrap_or_default();
        match function.as_str() {
            "Equals" => {
                let [a, b] = items else { return Err("Fn::Equals takes two values".into()) };
                Ok(self.resolve(a, stack)? == self.resolve(b, stack)?)
            }
            "Not" => {
                let [a] = items else { return Err("Fn::Not takes one condition".into()) };
                Ok(!self.truth(a, stack)?)
            }
            "And" => items.iter().try_fold(true, |all, c| Ok(all && self.truth(c, stack)?)),
            "Or" => items.iter().try_fold(false, |any, c| Ok(any || self.truth(c, stack)?)),
            "Condition" => self.condition(argument.as_str().unwrap_or_default(), stack),
            other => Err(format!("Fn::{other} is not a condition function")),
        }
    }

    /// The properties of every resource of `kind`, with their logical ids, in template order.
    fn of_type(&self, kind: &str) -> impl Iterator<Item = (&str, &Value)> {
        self.resources.iter().filter_map(move |(id, resource)| {
            (resource.get("Type").and_then(Value::as_str) == Some(kind))
                .then(|| Some((id.as_str()?, resource.get("Properties")?)))
                .flatten()
        })
    }

    /// The one `AWS::DynamoDB::Table`.
    pub fn table(&self) -> Result<TableDefinition, TemplateError> {
        let mut tables = self.of_type("AWS::DynamoDB::Table");
        let (id, properties) = tables.next().ok_or(TemplateError::Missing("AWS::DynamoDB::Table"))?;
        if tables.next().is_some() {
            return Err(TemplateError::Shape("more than one AWS::DynamoDB::Table".into()));
        }
        serde_yaml_ng::from_value(properties.clone()).map_err(|e| TemplateError::Shape(format!("{id}: {e}")))
    }

    /// Every `AWS::Cognito::UserPoolGroup`.
    pub fn groups(&self) -> Result<Vec<GroupDefinition>, TemplateError> {
        let groups: Vec<GroupDefinition> = self
            .of_type("AWS::Cognito::UserPoolGroup")
            .map(|(id, properties)| {
                serde_yaml_ng::from_value(properties.clone()).map_err(|e| TemplateError::Shape(format!("{id}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        if groups.is_empty() {
            return Err(TemplateError::Missing("AWS::Cognito::UserPoolGroup"));
        }
        Ok(groups)
    }
}

/// An `AWS::DynamoDB::Table`'s properties, as far as the local table takes them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDefinition {
    /// `PAY_PER_REQUEST` or `PROVISIONED`.
    pub billing_mode: String,
    /// Every key attribute, with its type.
    pub attribute_definitions: Vec<Attribute>,
    /// The table's key.
    pub key_schema: Vec<Key>,
    /// The global secondary indexes.
    #[serde(default)]
    pub global_secondary_indexes: Vec<Index>,
    /// The TTL attribute, when enabled.
    pub time_to_live_specification: Option<TimeToLive>,
}

/// An attribute definition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attribute {
    /// The attribute's name.
    pub attribute_name: String,
    /// `S`, `N` or `B`.
    pub attribute_type: String,
}

/// A key schema element.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Key {
    /// The attribute's name.
    pub attribute_name: String,
    /// `HASH` or `RANGE`.
    pub key_type: String,
}

/// A global secondary index.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Index {
    /// The index's name.
    pub index_name: String,
    /// Its key.
    pub key_schema: Vec<Key>,
    /// What it projects.
    pub projection: IndexProjection,
}

/// What an index projects.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IndexProjection {
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection_type: String,
    /// The attributes `INCLUDE` projects.
    #[serde(default)]
    pub non_key_attributes: Vec<String>,
}

/// A table's TTL.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TimeToLive {
    /// The attribute holding the expiry (epoch seconds).
    pub attribute_name: String,
    /// Whether expiry is on.
    pub enabled: bool,
}

/// An `AWS::Cognito::UserPool`'s properties, resolved, as far as the local pool takes them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserPoolDefinition {
    /// The pool's name.
    pub user_pool_name: String,
    /// `LITE`, `ESSENTIALS` or `PLUS`.
    pub user_pool_tier: Option<String>,
    /// Threat protection.
    pub user_pool_add_ons: Option<AddOns>,
    /// Who may create users.
    pub admin_create_user_config: Option<AdminCreateUser>,
    /// Whether usernames are case-sensitive.
    pub username_configuration: Option<UsernameConfiguration>,
    /// Attributes Cognito verifies itself.
    #[serde(default)]
    pub auto_verified_attributes: Vec<String>,
    /// `OFF`, `OPTIONAL` or `ON`.
    pub mfa_configuration: Option<String>,
    /// The MFA factors offered (`SOFTWARE_TOKEN_MFA`).
    #[serde(default)]
    pub enabled_mfas: Vec<String>,
    /// The password policy.
    pub policies: Option<Policies>,
    /// How a forgotten password is recovered.
    pub account_recovery_setting: Option<AccountRecovery>,
    /// Standard attributes' settings and the custom attributes.
    #[serde(default)]
    pub schema: Vec<SchemaAttribute>,
}

/// `UserPoolAddOns`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddOns {
    /// `OFF`, `AUDIT` or `ENFORCED`.
    pub advanced_security_mode: String,
}

/// `AdminCreateUserConfig`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AdminCreateUser {
    /// No self-service sign-up.
    pub allow_admin_create_user_only: bool,
}

/// `UsernameConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UsernameConfiguration {
    /// Whether `Alice` and `alice` are two users.
    pub case_sensitive: bool,
}

/// `Policies`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Policies {
    /// The password policy.
    pub password_policy: PasswordPolicy,
}

/// `PasswordPolicy`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[allow(clippy::struct_excessive_bools)]
pub struct PasswordPolicy {
    /// Fewest characters.
    pub minimum_length: i32,
    /// A lower-case letter is required.
    pub require_lowercase: bool,
    /// An upper-case letter is required.
    pub require_uppercase: bool,
    /// A digit is required.
    pub require_numbers: bool,
    /// A symbol is required.
    pub require_symbols: bool,
    /// Days a temporary password is valid.
    pub temporary_password_validity_days: Option<i32>,
    /// Earlier passwords that may not be reused.
    pub password_history_size: Option<i32>,
}

/// `AccountRecoverySetting`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountRecovery {
    /// The mechanisms, by priority.
    pub recovery_mechanisms: Vec<RecoveryMechanism>,
}

/// A recovery mechanism.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecoveryMechanism {
    /// `verified_email`, `verified_phone_number` or `admin_only`.
    pub name: String,
    /// 1 first.
    pub priority: i32,
}

/// A schema attribute.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchemaAttribute {
    /// The attribute's name (without `custom:` for a custom one).
    pub name: String,
    /// `String`, `Number`, `DateTime` or `Boolean`.
    pub attribute_data_type: String,
    /// Required at creation.
    #[serde(default)]
    pub required: bool,
    /// May change after creation.
    #[serde(default)]
    pub mutable: bool,
    /// A string's length bounds.
    pub string_attribute_constraints: Option<StringConstraints>,
}

/// `StringAttributeConstraints` (strings, as CloudFormation and the API take them).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StringConstraints {
    /// Fewest characters.
    pub min_length: Option<String>,
    /// Most characters.
    pub max_length: Option<String>,
}

/// What the local stack takes of an `AWS::Cognito::UserPoolClient`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AppClientDefinition {
    /// The client's name.
    pub client_name: String,
    /// The sign-in flows it allows (`ALLOW_USER_SRP_AUTH`, …).
    #[serde(default)]
    pub explicit_auth_flows: Vec<String>,
    /// In `token_validity_units.access_token`.
    pub access_token_validity: Option<i32>,
    /// In `token_validity_units.id_token`.
    pub id_token_validity: Option<i32>,
    /// In `token_validity_units.refresh_token`.
    pub refresh_token_validity: Option<i32>,
    /// The units of the three lifetimes.
    pub token_validity_units: Option<TokenUnits>,
    /// `ENABLED`: sign-in errors do not tell whether the user exists.
    pub prevent_user_existence_errors: Option<String>,
    /// Whether refresh tokens can be revoked.
    pub enable_token_revocation: Option<bool>,
}

/// `TokenValidityUnits`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TokenUnits {
    /// `seconds`, `minutes`, `hours` or `days`.
    pub access_token: Option<String>,
    /// The ID token's unit.
    pub id_token: Option<String>,
    /// The refresh token's unit.
    pub refresh_token: Option<String>,
}

/// The flow the local app client allows beyond the template's: the portal still signs in
/// with the password flow, which the deployed client refuses (docs/adr/0004-auth.md, "The
/// local pool is the template's"). `tests/integration/local_stack.rs` holds the difference
/// to exactly this one.
pub const LOCAL_ONLY_FLOW: &str = "ALLOW_USER_PASSWORD_AUTH";

impl AppClientDefinition {
    /// Creates the client in `pool`, as defined plus [`LOCAL_ONLY_FLOW`], and returns its id.
    pub async fn create(&self, cognito: &Cognito, pool: &str) -> Result<String, SeedError> {
        use aws_sdk_cognitoidentityprovider::types as t;
        let unit = |u: &Option<String>| u.as_deref().map(t::TimeUnitsType::from);
        let flows = self.explicit_auth_flows.iter().map(String::as_str).chain([LOCAL_ONLY_FLOW]);
        let created = cognito
            .create_user_pool_client()
            .user_pool_id(pool)
            .client_name(&self.client_name)
            .set_explicit_auth_flows(Some(flows.map(t::ExplicitAuthFlowsType::from).collect()))
            .set_access_token_validity(self.access_token_validity)
            .set_id_token_validity(self.id_token_validity)
            .set_refresh_token_validity(self.refresh_token_validity)
            .set_token_validity_units(self.token_validity_units.as_ref().map(|u| {
                t::TokenValidityUnitsType::builder()
                    .set_access_token(unit(&u.access_token))
                    .set_id_token(unit(&u.id_token))
                    .set_refresh_token(unit(&u.refresh_token))
                    .build()
            }))
            .set_prevent_user_existence_errors(
                self.prevent_user_existence_errors.as_deref().map(t::PreventUserExistenceErrorTypes::from),
            )
            .set_enable_token_revocation(self.enable_token_revocation)
            .send()
            .await
            .map_err(aws("CreateUserPoolClient"))?;
        created
            .user_pool_client()
            .and_then(|c| c.client_id())
            .map(str::to_owned)
            .ok_or(SeedError::Aws { operation: "CreateUserPoolClient", message: "no client id returned".into() })
    }
}

/// An `AWS::Cognito::UserPoolGroup`'s properties (its `UserPoolId` is the local pool's).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupDefinition {
    /// The group's name.
    pub group_name: String,
    /// What it grants, as the console shows it.
    pub description: Option<String>,
}

/// A builder's refusal (a field the template left out): the template's shape is wrong.
fn shape(e: impl std::fmt::Display) -> SeedError {
    SeedError::Template(TemplateError::Shape(e.to_string()))
}

fn key(k: &Key) -> Result<KeySchemaElement, SeedError> {
    KeySchemaElement::builder()
        .attribute_name(&k.attribute_name)
        .key_type(KeyType::from(k.key_type.as_str()))
        .build()
        .map_err(shape)
}

impl TableDefinition {
    /// Creates the table `name` as defined, then turns its TTL on. Server-side encryption
    /// with the stack's KMS key, point-in-time recovery and deletion protection are not asked
    /// of the local server: they protect data in AWS and change nothing the code can see.
    pub async fn create(&self, dynamodb: &Dynamo, name: &str) -> Result<(), SeedError> {
        let mut request =
            dynamodb.create_table().table_name(name).billing_mode(BillingMode::from(self.billing_mode.as_str()));
        for a in &self.attribute_definitions {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(&a.attribute_name)
                    .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                    .build()
                    .map_err(shape)?,
            );
        }
        for k in &self.key_schema {
            request = request.key_schema(key(k)?);
        }
        for index in &self.global_secondary_indexes {
            let mut gsi = GlobalSecondaryIndex::builder().index_name(&index.index_name).projection(
                Projection::builder()
                    .projection_type(ProjectionType::from(index.projection.projection_type.as_str()))
                    .set_non_key_attributes(
                        (!index.projection.non_key_attributes.is_empty())
                            .then(|| index.projection.non_key_attributes.clone()),
                    )
                    .build(),
            );
            for k in &index.key_schema {
                gsi = gsi.key_schema(key(k)?);
            }
            request = request.global_secondary_indexes(gsi.build().map_err(shape)?);
        }
        request.send().await.map_err(aws("CreateTable"))?;
        if let Some(ttl) = self.time_to_live_specification.as_ref().filter(|t| t.enabled) {
            dynamodb
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(&ttl.attribute_name)
                        .enabled(true)
                        .build()
                        .map_err(shape)?,
                )
                .send()
                .await
                .map_err(aws("UpdateTimeToLive"))?;
        }
        Ok(())
    }
}

impl UserPoolDefinition {
    /// Creates the pool as defined and returns its id. Deletion protection is not asked of
    /// the local server (each test makes pools of its own and throws the server away).
    pub async fn create(&self, cognito: &Cognito) -> Result<String, SeedError> {
        use aws_sdk_cognitoidentityprovider::types as t;
        let mut request = cognito
            .create_user_pool()
            .pool_name(&self.user_pool_name)
            .set_user_pool_tier(self.user_pool_tier.as_deref().map(t::UserPoolTierType::from))
            .set_mfa_configuration(self.mfa_configuration.as_deref().map(t::UserPoolMfaType::from))
            .set_auto_verified_attributes(Some(
                self.auto_verified_attributes.iter().map(|a| t::VerifiedAttributeType::from(a.as_str())).collect(),
            ));
        if let Some(add_ons) = &self.user_pool_add_ons {
            request = request.user_pool_add_ons(
                t::UserPoolAddOnsType::builder()
                    .advanced_security_mode(t::AdvancedSecurityModeType::from(add_ons.advanced_security_mode.as_str()))
                    .build()
                    .map_err(shape)?,
            );
        }
        if let Some(admin) = &self.admin_create_user_config {
            request = request.admin_create_user_config(
                t::AdminCreateUserConfigType::builder()
                    .allow_admin_create_user_only(admin.allow_admin_create_user_only)
                    .build(),
            );
        }
        if let Some(username) = &self.username_configuration {
            request = request.username_configuration(
                t::UsernameConfigurationType::builder()
                    .case_sensitive(username.case_sensitive)
                    .build()
                    .map_err(shape)?,
            );
        }
        if let Some(policies) = &self.policies {
            request = request.policies(policies.password_policy.to_sdk());
        }
        if let Some(recovery) = &self.account_recovery_setting {
            let mut setting = t::AccountRecoverySettingType::builder();
            for m in &recovery.recovery_mechanisms {
                setting = setting.recovery_mechanisms(
                    t::RecoveryOptionType::builder()
                        .name(t::RecoveryOptionNameType::from(m.name.as_str()))
                        .priority(m.priority)
                        .build()
                        .map_err(shape)?,
                );
            }
            request = request.account_recovery_setting(setting.build());
        }
        for a in &self.schema {
            request = request.schema(a.to_sdk());
        }
        let created = request.send().await.map_err(aws("CreateUserPool"))?;
        let id = created
            .user_pool()
            .and_then(|p| p.id())
            .map(str::to_owned)
            .ok_or(SeedError::Aws { operation: "CreateUserPool", message: "no pool id returned".into() })?;
        if self.enabled_mfas.iter().any(|m| m == "SOFTWARE_TOKEN_MFA") {
            cognito
                .set_user_pool_mfa_config()
                .user_pool_id(&id)
                .set_mfa_configuration(self.mfa_configuration.as_deref().map(t::UserPoolMfaType::from))
                .software_token_mfa_configuration(t::SoftwareTokenMfaConfigType::builder().enabled(true).build())
                .send()
                .await
                .map_err(aws("SetUserPoolMfaConfig"))?;
        }
        Ok(id)
    }
}

impl PasswordPolicy {
    fn to_sdk(&self) -> aws_sdk_cognitoidentityprovider::types::UserPoolPolicyType {
        use aws_sdk_cognitoidentityprovider::types as t;
        t::UserPoolPolicyType::builder()
            .password_policy(
                t::PasswordPolicyType::builder()
                    .minimum_length(self.minimum_length)
                    .require_lowercase(self.require_lowercase)
                    .require_uppercase(self.require_uppercase)
                    .require_numbers(self.require_numbers)
                    .require_symbols(self.require_symbols)
                    .set_temporary_password_validity_days(self.temporary_password_validity_days)
                    .set_password_history_size(self.password_history_size)
                    .build(),
            )
            .build()
    }
}

impl SchemaAttribute {
    fn to_sdk(&self) -> aws_sdk_cognitoidentityprovider::types::SchemaAttributeType {
        use aws_sdk_cognitoidentityprovider::types as t;
        t::SchemaAttributeType::builder()
            .name(&self.name)
            .attribute_data_type(t::AttributeDataType::from(self.attribute_data_type.as_str()))
            .required(self.required)
            .mutable(self.mutable)
            .set_string_attribute_constraints(self.string_attribute_constraints.as_ref().map(|c| {
                t::StringAttributeConstraintsType::builder()
                    .set_min_length(c.min_length.clone())
                    .set_max_length(c.max_length.clone())
                    .build()
            }))
            .build()
    }
}

impl GroupDefinition {
    /// Creates the group in `pool`; an existing group of that name is left as it is.
    pub async fn create(&self, cognito: &Cognito, pool: &str) -> Result<(), SeedError> {
        match cognito
            .create_group()
            .user_pool_id(pool)
            .group_name(&self.group_name)
            .set_description(self.description.clone())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_group_exists_exception()) => Ok(()),
            Err(e) => Err(aws("CreateGroup")(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deployed_table_is_read_with_every_index_and_its_ttl() {
        let table = Template::deployed().unwrap().table().unwrap();
        assert_eq!(table.billing_mode, "PAY_PER_REQUEST");
        let names: Vec<_> = table.global_secondary_indexes.iter().map(|i| i.index_name.as_str()).collect();
        assert_eq!(names, ["by-owner", "by-state", "by-kind", "by-instance"]);
        assert_eq!(table.time_to_live_specification, Some(TimeToLive { attribute_name: "ttl".into(), enabled: true }));
    }

    #[test]
    fn the_deployed_groups_are_the_three_roles() {
        let groups = Template::deployed().unwrap().groups().unwrap();
        let names: Vec<_> = groups.iter().map(|g| g.group_name.as_str()).collect();
        assert_eq!(names, ["scientists", "admins", "finance"]);
        assert!(groups.iter().all(|g| g.description.is_some()));
    }

    #[test]
    fn the_deployed_pool_resolves_its_parameters_and_conditions() {
        let pool = Template::deployed().unwrap().user_pool("atelier").unwrap();
        assert_eq!(pool.user_pool_name, "atelier");
        // MfaConfiguration's default (OPTIONAL) is not OFF, so the If keeps the TOTP factor.
        assert_eq!(pool.mfa_configuration.as_deref(), Some("OPTIONAL"));
        assert_eq!(pool.enabled_mfas, ["SOFTWARE_TOKEN_MFA"]);
        assert_eq!(pool.policies.unwrap().password_policy.minimum_length, 14);
        let custom: Vec<_> = pool.schema.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(custom, ["email", "cost_centre", "idp_groups"]);
    }

    #[test]
    fn a_removed_value_and_an_unresolvable_function_are_told_apart() {
        let template = Template::parse(
            "Parameters:\n  Mode: { Type: String, Default: \"OFF\" }\nConditions:\n  Off: !Equals [!Ref Mode, \"OFF\"]\n\
             Resources:\n  Pool:\n    Type: AWS::Cognito::UserPool\n    Properties:\n      UserPoolName: !Ref AWS::StackName\n\
             \x20     MfaConfiguration: !Ref Mode\n      EnabledMfas: !If [Off, !Ref AWS::NoValue, [SOFTWARE_TOKEN_MFA]]\n",
        )
        .unwrap();
        let pool = template.user_pool("p").unwrap();
        assert_eq!((pool.user_pool_name.as_str(), pool.enabled_mfas.len()), ("p", 0));
        let unresolvable = Template::parse(
            "Resources:\n  Pool:\n    Type: AWS::Cognito::UserPool\n    Properties:\n      UserPoolName: !GetAtt X.Name\n",
        )
        .unwrap();
        let error = unresolvable.user_pool("p").unwrap_err().to_string();
        assert!(error.contains("Fn::GetAtt has no local value"), "{error}");
    }

    #[test]
    fn the_deployed_portal_client_allows_srp_and_refresh_for_15_minutes() {
        let client = Template::deployed().unwrap().app_client("portal").unwrap();
        assert_eq!(client.explicit_auth_flows, ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]);
        assert_eq!((client.access_token_validity, client.id_token_validity), (Some(15), Some(15)));
        assert_eq!(client.token_validity_units.unwrap().access_token.as_deref(), Some("minutes"));
        assert!(!client.explicit_auth_flows.iter().any(|f| f == LOCAL_ONLY_FLOW));
    }

    #[test]
    fn a_template_without_a_table_says_so() {
        let template = Template::parse("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n").unwrap();
        assert!(matches!(template.table(), Err(TemplateError::Missing("AWS::DynamoDB::Table"))));
    }

    #[test]
    fn a_misshapen_table_names_its_logical_id() {
        let template = Template::parse(
            "Resources:\n  Table:\n    Type: AWS::DynamoDB::Table\n    Properties:\n      BillingMode: !Ref Mode\n",
        )
        .unwrap();
        let error = template.table().unwrap_err().to_string();
        assert!(error.contains("Table:"), "{error}");
    }
}
