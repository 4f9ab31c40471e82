//! IAM: the machine credentials of each workspace (docs/adr/0007-datasets.md). Every
//! workspace gets a role and an instance profile named [`crate::workspace_role_name`]
//! (`atelier-<workspace id>`), under the deployment's folder of [`ROLE_PATH`], trusted by EC2 only, bounded by
//! the permissions boundary the template defines, with the template's base policy attached
//! (Session Manager, packages, the agent's report tags) and one inline policy,
//! [`DATA_POLICY`], that is the workspace's dataset document: exactly the attached prefixes,
//! read-only. [`WithWorkspaceRole`] creates them before any provisioner launches a machine;
//! [`WorkspaceRoles`] is the [`DataCredentials`] port the dataset use cases and the
//! data-access pass rewrite and delete them through.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use atelier_domain::{
    datasets::DataCredentials,
    kernel::{UpstreamError, WorkspaceId},
    workspaces::{Progress, ProvisionRequest, Provisioned, Provisioner, Workspace},
};
use aws_sdk_iam::{Client, types::Tag};

use crate::{error_code, upstream, workspace_role_name};

/// The path every workspace role and instance profile is under: the functions' IAM
/// permissions are limited to it. Each deployment has its own folder below it
/// ([`WorkspaceRoles::path`]), so that two stacks in one account (or two tests on one
/// local server) never take each other's roles for ended workspaces.
pub const ROLE_PATH: &str = "/atelier/workspaces/";

/// The inline policy holding the workspace's data permissions.
pub const DATA_POLICY: &str = "datasets";

/// Only EC2 may assume a workspace role (through the instance profile).
const TRUST_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

/// Creates, rewrites and deletes the workspace roles.
#[derive(Clone, Debug)]
pub struct WorkspaceRoles {
    client: Client,
    path: String,
    boundary: Option<String>,
    base_policy: Option<String>,
}

impl WorkspaceRoles {
    /// The roles of the deployment whose table is `table` (their path:
    /// [`WorkspaceRoles::path`]), bounded by `boundary` (a managed policy ARN) with
    /// `base_policy` attached; the deployed template always sets both
    /// (`ATELIER_WORKSPACE_ROLE_BOUNDARY`, `ATELIER_WORKSPACE_ROLE_POLICY`).
    pub fn new(client: Client, table: &str, boundary: Option<String>, base_policy: Option<String>) -> Self {
        Self { client, path: format!("{ROLE_PATH}{table}/"), boundary, base_policy }
    }

    /// The same, through a client built from `config`.
    pub fn from_config(
        config: &aws_types::SdkConfig,
        table: &str,
        boundary: Option<String>,
        base_policy: Option<String>,
    ) -> Self {
        Self::new(Client::new(config), table, boundary, base_policy)
    }

    /// The IAM path of this deployment's roles and profiles: `/atelier/workspaces/<table>/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Makes sure the workspace's role and instance profile exist, creating what is
    /// missing: create first, and "already exists" is success, so that a first launch costs
    /// three IAM calls (four with the base policy). A new role has no inline policy: it may
    /// read nothing of the lake until the dataset use cases write its `datasets` policy.
    /// Answers whether anything was created: IAM takes a few seconds before EC2 accepts a
    /// new instance profile.
    pub async fn ensure(&self, workspace: &Workspace) -> Result<bool, UpstreamError> {
        let name = workspace_role_name(&workspace.id);
        let created_role = self.ensure_role(workspace, &name).await?;
        let created_profile = self.ensure_profile(workspace, &name).await?;
        Ok(created_role || created_profile)
    }

    async fn ensure_role(&self, workspace: &Workspace, name: &str) -> Result<bool, UpstreamError> {
        let created = self
            .client
            .create_role()
            .role_name(name)
            .path(&self.path)
            .assume_role_policy_document(TRUST_POLICY)
            .description(format!("Atelier workspace {}: its machine's credentials", workspace.id))
            .set_permissions_boundary(self.boundary.clone())
            .set_tags(Some(tags(workspace)))
            .send()
            .await;
        let created = match created {
            Ok(_) => true,
            // An earlier attempt, or another provisioning of the same workspace, got there first.
            Err(e) if error_code(&e) == Some("EntityAlreadyExists") => false,
            Err(e) => return Err(upstream("iam", "CreateRole", e)),
        };
        if let Some(arn) = &self.base_policy {
            // Idempotent: attaching an attached policy changes nothing.
            self.client
                .attach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map_err(|e| upstream("iam", "AttachRolePolicy", e))?;
        }
        Ok(created)
    }

    async fn ensure_profile(&self, workspace: &Workspace, name: &str) -> Result<bool, UpstreamError> {
        let out = self
            .client
            .create_instance_profile()
            .instance_profile_name(name)
            .path(&self.path)
            .set_tags(Some(tags(workspace)))
            .send()
            .await;
        let created = match out {
            Ok(_) => true,
            Err(e) if error_code(&e) == Some("EntityAlreadyExists") => false,
            Err(e) => return Err(upstream("iam", "CreateInstanceProfile", e)),
        };
        let out = self.client.add_role_to_instance_profile().instance_profile_name(name).role_name(name).send().await;
        match out {
            Ok(_) => Ok(true),
            // A profile holds one role: it already holds this one.
            Err(e) if error_code(&e) == Some("LimitExceeded") => Ok(created),
            Err(e) => Err(upstream("iam", "AddRoleToInstanceProfile", e)),
        }
    }

    async fn put_policy(&self, name: &str, document: &str) -> Result<(), UpstreamError> {
        self.client
            .put_role_policy()
            .role_name(name)
            .policy_name(DATA_POLICY)
            .policy_document(document)
            .send()
            .await
            .map(drop)
            .map_err(|e| upstream("iam", "PutRolePolicy", e))
    }

    /// Detaches the managed policies and deletes the inline ones of role `name`.
    async fn strip(&self, name: &str) -> Result<(), UpstreamError> {
        let inline = self.client.list_role_policies().role_name(name).send().await;
        let inline = match inline {
            Ok(out) => out.policy_names,
            Err(e) if error_code(&e) == Some("NoSuchEntity") => return Ok(()),
            Err(e) => return Err(upstream("iam", "ListRolePolicies", e)),
        };
        for policy in inline {
            let out = self.client.delete_role_policy().role_name(name).policy_name(&policy).send().await;
            out.map(drop).or_else(|e| absent(e, "DeleteRolePolicy"))?;
        }
        let attached = self.client.list_attached_role_policies().role_name(name).send().await;
        let attached = match attached {
            Ok(out) => out.attached_policies.unwrap_or_default(),
            Err(e) if error_code(&e) == Some("NoSuchEntity") => return Ok(()),
            Err(e) => return Err(upstream("iam", "ListAttachedRolePolicies", e)),
        };
        for arn in attached.iter().filter_map(|p| p.policy_arn()) {
            let out = self.client.detach_role_policy().role_name(name).policy_arn(arn).send().await;
            out.map(drop).or_else(|e| absent(e, "DetachRolePolicy"))?;
        }
        Ok(())
    }
}

/// Accepts "it is not there" (the goal of a delete) and maps every other error.
fn absent<T: Default, E, R>(
    err: aws_smithy_runtime_api::client::result::SdkError<E, R>,
    operation: &'static str,
) -> Result<T, UpstreamError>
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    if error_code(&err) == Some("NoSuchEntity") { Ok(T::default()) } else { Err(upstream("iam", operation, err)) }
}

/// The tags every workspace resource carries (cost allocation, and the principal tags the
/// base policy's conditions read: `aws:PrincipalTag/atelier:workspace`).
fn tags(workspace: &Workspace) -> Vec<Tag> {
    [
        ("atelier:owner", workspace.owner.username.as_str()),
        ("atelier:workspace", workspace.id.as_str()),
        ("atelier:cost-centre", workspace.owner.cost_centre.as_deref().unwrap_or("unassigned")),
    ]
    .into_iter()
    .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
    .collect()
}

/// A policy document as IAM answers it (URL-encoded, RFC 3986), as JSON text; a document
/// that is not encoded is kept.
pub fn decode_policy(document: &str) -> String {
    let bytes = document.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| document.to_owned())
}

#[async_trait]
impl DataCredentials for WorkspaceRoles {
    /// Rewrites the role's data policy. The role itself is created by provisioning
    /// ([`WithWorkspaceRole`]); a workspace without one (launched before roles existed)
    /// fails with `NoSuchEntity`, reported by the data-access pass.
    async fn apply(&self, workspace: &Workspace, policy: &str) -> Result<(), UpstreamError> {
        self.put_policy(&workspace_role_name(&workspace.id), policy).await
    }

    async fn applied(&self, workspace: &WorkspaceId) -> Result<Option<String>, UpstreamError> {
        let out =
            self.client.get_role_policy().role_name(workspace_role_name(workspace)).policy_name(DATA_POLICY).send();
        match out.await {
            Ok(out) => Ok(Some(decode_policy(&out.policy_document))),
            Err(e) if error_code(&e) == Some("NoSuchEntity") => Ok(None),
            Err(e) => Err(upstream("iam", "GetRolePolicy", e)),
        }
    }

    async fn holders(&self) -> Result<Vec<WorkspaceId>, UpstreamError> {
        let mut holders = Vec::new();
        let mut pages = self.client.list_roles().path_prefix(&self.path).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| upstream("iam", "ListRoles", e))?;
            let ids = page.roles().iter().filter_map(|r| r.role_name().strip_prefix("atelier-"));
            holders.extend(ids.filter_map(|id| WorkspaceId::parse(id).ok()));
        }
        Ok(holders)
    }

    async fn remove(&self, workspace: &WorkspaceId) -> Result<(), UpstreamError> {
        let name = workspace_role_name(workspace);
        let out = self.client.remove_role_from_instance_profile().instance_profile_name(&name).role_name(&name).send();
        out.await.map(drop).or_else(|e| absent(e, "RemoveRoleFromInstanceProfile"))?;
        let out = self.client.delete_instance_profile().instance_profile_name(&name).send();
        out.await.map(drop).or_else(|e| absent(e, "DeleteInstanceProfile"))?;
        self.strip(&name).await?;
        let out = self.client.delete_role().role_name(&name).send();
        out.await.map(drop).or_else(|e| absent(e, "DeleteRole"))
    }
}

/// How often, and how long apart, a launch is retried while EC2 does not see a new
/// instance profile yet (IAM is eventually consistent: usually a few seconds).
const PROFILE_RETRIES: [Duration; 4] =
    [Duration::from_secs(2), Duration::from_secs(4), Duration::from_secs(8), Duration::from_secs(10)];

/// Any provisioner, with the workspace's role and instance profile created first: the
/// machine never starts with credentials other than its own.
pub struct WithWorkspaceRole {
    inner: Arc<dyn Provisioner>,
    roles: WorkspaceRoles,
}

impl WithWorkspaceRole {
    /// `inner`, after `roles` made sure of the workspace's credentials.
    pub fn new(inner: Arc<dyn Provisioner>, roles: WorkspaceRoles) -> Self {
        Self { inner, roles }
    }
}

/// EC2's answer while a new instance profile is not visible to it yet.
fn profile_not_visible(err: &UpstreamError) -> bool {
    let text = err.source.to_string();
    text.contains("iamInstanceProfile") || text.contains("Invalid IAM Instance Profile")
}

#[async_trait]
impl Provisioner for WithWorkspaceRole {
    async fn provision(&self, request: ProvisionRequest<'_>) -> Result<Provisioned, UpstreamError> {
        let created = self.roles.ensure(request.workspace).await?;
        let mut waits = PROFILE_RETRIES.iter();
        loop {
            match self.inner.provision(request).await {
                Err(err) if created && profile_not_visible(&err) => match waits.next() {
                    Some(wait) => tokio::time::sleep(*wait).await,
                    None => return Err(err),
                },
                outcome => return outcome,
            }
        }
    }

    async fn provisioning_progress(&self, provisioned: &Provisioned) -> Result<Progress, UpstreamError> {
        self.inner.provisioning_progress(provisioned).await
    }

    async fn terminate(&self, workspace: &Workspace) -> Result<Provisioned, UpstreamError> {
        self.inner.terminate(workspace).await
    }

    async fn termination_progress(&self, provisioned: &Provisioned) -> Result<Progress, UpstreamError> {
        self.inner.termination_progress(provisioned).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iam_documents_are_url_decoded_and_plain_ones_kept() {
        assert_eq!(decode_policy("%7B%22Version%22%3A%222012-10-17%22%7D"), r#"{"Version":"2012-10-17"}"#);
        assert_eq!(decode_policy(r#"{"a":"b"}"#), r#"{"a":"b"}"#);
        assert_eq!(decode_policy("100%"), "100%", "a lone percent sign is kept");
    }

    #[test]
    fn a_launch_waits_only_for_an_invisible_profile() {
        let invisible = UpstreamError::new(
            "ec2",
            "RunInstances",
            false,
            "InvalidParameterValue: Value (atelier-ws-1) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
        );
        assert!(profile_not_visible(&invisible));
        assert!(!profile_not_visible(&UpstreamError::new(
            "ec2",
            "RunInstances",
            false,
            "InsufficientInstanceCapacity"
        )));
    }
}
