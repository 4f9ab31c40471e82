//! EC2: powers instances on and off ([`PowerSwitch`]) and, where Service Catalog is not
//! used, launches the product's instance directly ([`Ec2Launch`]).

use std::collections::HashMap;

use async_trait::async_trait;
use atelier_domain::{
    UpstreamError, Workspace,
    workspaces::{InstanceState, InstanceStatus, PowerSwitch, Progress, ProvisionRequest, Provisioned, Provisioner},
};
use aws_sdk_ec2::{
    Client,
    types::{
        BlockDeviceMapping, CreditSpecificationRequest, EbsBlockDevice, Filter, HibernationOptionsRequest,
        HttpTokensState, InstanceMetadataEndpointState, InstanceMetadataOptionsRequest, InstanceMetadataTagsState,
        InstanceNetworkInterfaceSpecification, InstanceStateName, InstanceType, LaunchTemplateSpecification,
        ResourceType, Tag, TagSpecification, VolumeType,
    },
};

pub use crate::Ec2LaunchSettings;
use crate::upstream;

/// Largest number of instance ids EC2 accepts in one call here (it allows more for
/// DescribeInstances, but Start/Stop are capped per request by account limits in practice).
pub const BATCH: usize = 50;

/// EC2 power actions and observation.
#[derive(Clone, Debug)]
pub struct Ec2 {
    client: Client,
}

impl Ec2 {
    /// EC2 through `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// EC2 through a client built from `config`.
    pub fn from_config(config: &aws_types::SdkConfig) -> Self {
        Self::new(Client::new(config))
    }
}

#[async_trait]
impl PowerSwitch for Ec2 {
    async fn start(&self, instance_ids: &[String]) -> Result<(), UpstreamError> {
        for chunk in instance_ids.chunks(BATCH) {
            self.client
                .start_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| upstream("ec2", "StartInstances", e))?;
        }
        Ok(())
    }

    async fn stop(&self, instance_ids: &[String], hibernate: bool) -> Result<(), UpstreamError> {
        for chunk in instance_ids.chunks(BATCH) {
            self.client
                .stop_instances()
                .set_instance_ids(Some(chunk.to_vec()))
                .hibernate(hibernate)
                .send()
                .await
                .map_err(|e| upstream("ec2", "StopInstances", e))?;
        }
        Ok(())
    }

    async fn observe(&self, instance_ids: &[String]) -> Result<HashMap<String, InstanceState>, UpstreamError> {
        Ok(self.describe(instance_ids).await?.into_iter().map(|(id, status)| (id, status.state)).collect())
    }

    async fn describe(&self, instance_ids: &[String]) -> Result<HashMap<String, InstanceStatus>, UpstreamError> {
        let mut states: HashMap<String, InstanceStatus> =
            instance_ids.iter().map(|id| (id.clone(), InstanceState::Missing.into())).collect();
        // A filter (rather than InstanceIds) so that an id EC2 no longer knows comes back as
        // Missing instead of failing the whole batch with InvalidInstanceID.NotFound.
        for chunk in instance_ids.chunks(BATCH * 4) {
            let mut pages = self
                .client
                .describe_instances()
                .filters(Filter::builder().name("instance-id").set_values(Some(chunk.to_vec())).build())
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| upstream("ec2", "DescribeInstances", e))?;
                for instance in page.reservations().iter().flat_map(|r| r.instances()) {
                    if let (Some(id), Some(state)) = (instance.instance_id(), instance.state().and_then(|s| s.name())) {
                        // "User initiated (2026-03-10 14:02:11 GMT)" after a stop: when it happened.
                        let transition_reason =
                            instance.state_transition_reason().filter(|r| !r.trim().is_empty()).map(str::to_owned);
                        states
                            .insert(id.to_owned(), InstanceStatus { state: instance_state(state), transition_reason });
                    }
                }
            }
        }
        Ok(states)
    }

    async fn attached_volume_gib(&self, instance_id: &str) -> Result<Option<u32>, UpstreamError> {
        let mut pages = self
            .client
            .describe_volumes()
            .filters(Filter::builder().name("attachment.instance-id").values(instance_id).build())
            .into_paginator()
            .send();
        let mut total: Option<u32> = None;
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| upstream("ec2", "DescribeVolumes", e))?;
            for volume in page.volumes() {
                let size = u32::try_from(volume.size().unwrap_or(0)).unwrap_or(0);
                total = Some(total.unwrap_or(0).saturating_add(size));
            }
        }
        Ok(total)
    }
}

#[async_trait]
impl atelier_domain::catalog::InstanceTypes for Ec2 {
    async fn instance_type(
        &self,
        instance_type: &str,
    ) -> Result<Option<atelier_domain::catalog::InstanceTypeInfo>, UpstreamError> {
        let output =
            self.client.describe_instance_types().instance_types(InstanceType::from(instance_type)).send().await;
        let output = match output {
            Ok(output) => output,
            Err(e) if crate::error_code(&e).is_some_and(|c| c.starts_with("InvalidInstanceType")) => return Ok(None),
            Err(e) => return Err(upstream("ec2", "DescribeInstanceTypes", e)),
        };
        let Some(info) = output.instance_types().first() else { return Ok(None) };
        Ok(Some(atelier_domain::catalog::InstanceTypeInfo {
            vcpus: info.v_cpu_info().and_then(|v| v.default_v_cpus()).and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
            memory_mib: info
                .memory_info()
                .and_then(|m| m.size_in_mib())
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0),
            hibernation_supported: info.hibernation_supported().unwrap_or(false),
        }))
    }
}

/// The tag a workspace's agent reports each app's readiness in (`ready` or `down`).
pub const APP_TAG_PREFIX: &str = "atelier:app:";

/// [`AppEndpoints`](atelier_domain::apps::AppEndpoints) on EC2: a running instance's
/// private address with the guard port, and what its agent reports in its
/// `atelier:app:<app>` tags.
#[derive(Clone)]
pub struct Ec2AppEndpoints {
    client: Client,
    guard_port: u16,
}

impl Ec2 {
    /// The app endpoints of this EC2, the guards listening on `guard_port`.
    pub fn app_endpoints(&self, guard_port: u16) -> Ec2AppEndpoints {
        Ec2AppEndpoints { client: self.client.clone(), guard_port }
    }
}

#[async_trait]
impl atelier_domain::apps::AppEndpoints for Ec2AppEndpoints {
    async fn endpoint(&self, instance_id: &str) -> Result<Option<atelier_domain::apps::Endpoint>, UpstreamError> {
        let output = self.client.describe_instances().instance_ids(instance_id).send().await;
        let output = match output {
            Ok(output) => output,
            Err(e) if crate::error_code(&e).is_some_and(|c| c.starts_with("InvalidInstanceID")) => return Ok(None),
            Err(e) => return Err(upstream("ec2", "DescribeInstances", e)),
        };
        let Some(instance) = output.reservations().iter().flat_map(|r| r.instances()).next() else { return Ok(None) };
        let running = instance.state().and_then(|s| s.name()) == Some(&InstanceStateName::Running);
        let (true, Some(address)) = (running, instance.private_ip_address()) else { return Ok(None) };
        let ready = instance
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.strip_prefix(APP_TAG_PREFIX)?.to_owned(), t.value()? == "ready")))
            .collect();
        Ok(Some(atelier_domain::apps::Endpoint { upstream: format!("{address}:{}", self.guard_port), ready }))
    }
}

fn instance_state(name: &InstanceStateName) -> InstanceState {
    match name {
        InstanceStateName::Pending => InstanceState::Pending,
        InstanceStateName::Running => InstanceState::Running,
        InstanceStateName::Stopping => InstanceState::Stopping,
        InstanceStateName::Stopped => InstanceState::Stopped,
        InstanceStateName::ShuttingDown => InstanceState::ShuttingDown,
        InstanceStateName::Terminated => InstanceState::Terminated,
        _ => InstanceState::Pending,
    }
}

/// Launches a product's machine directly with EC2 RunInstances, as hardened as the Service
/// Catalog product: into the private workspace subnet with the workspace security group and
/// no public address, the root volume encrypted with the workspace key, the bootstrap and
/// metadata options of the workspace launch template, and Atelier's tags. Used against the
/// local AWS server, and valid in accounts without Service Catalog.
#[derive(Clone, Debug)]
pub struct Ec2Launch {
    ec2: Ec2,
    settings: Ec2LaunchSettings,
}

impl Ec2Launch {
    /// Launches with `settings`, each machine with its workspace's own instance profile
    /// ([`crate::workspace_role_name`]; wrap this provisioner in `iam::WithWorkspaceRole` so
    /// that it exists first).
    pub fn new(client: Client, settings: Ec2LaunchSettings) -> Self {
        Self { ec2: Ec2::new(client), settings }
    }

    /// The same, through a client built from `config`.
    pub fn from_config(config: &aws_types::SdkConfig, settings: Ec2LaunchSettings) -> Self {
        Self::new(Client::new(config), settings)
    }
}

/// The burstable families (CPU credits); the products offer t3 (infra/tests/test_credits.py).
const BURSTABLE_FAMILIES: [&str; 4] = ["t2", "t3", "t3a", "t4g"];

/// True for a T-family instance type (`t3.large`), which RunInstances launches in standard
/// credit mode: the only types for which a credit specification is valid.
pub fn burstable(instance_type: &str) -> bool {
    instance_type.split_once('.').is_some_and(|(family, _)| BURSTABLE_FAMILIES.contains(&family))
}

/// The tags every workspace resource carries (cost allocation and IAM conditions).
pub fn workspace_tags(workspace: &Workspace) -> Vec<Tag> {
    [
        ("atelier:owner", workspace.owner.username.as_str()),
        ("atelier:workspace", workspace.id.as_str()),
        ("atelier:cost-centre", workspace.owner.cost_centre.as_deref().unwrap_or("unassigned")),
        ("Name", workspace.name.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| Tag::builder().key(k).value(v).build())
    .collect()
}

#[async_trait]
impl Provisioner for Ec2Launch {
    async fn provision(&self, request: ProvisionRequest<'_>) -> Result<Provisioned, UpstreamError> {
        let ProvisionRequest { workspace, product } = request;
        let tags = workspace_tags(workspace);
        let tag_spec =
            |kind: ResourceType| TagSpecification::builder().resource_type(kind).set_tags(Some(tags.clone())).build();
        let settings = &self.settings;
        let run = self
            .ec2
            .client
            .run_instances()
            .launch_template(
                LaunchTemplateSpecification::builder()
                    .launch_template_id(&settings.launch_template_id)
                    .version("$Latest")
                    .build(),
            )
            .image_id(&settings.image_id)
            .instance_type(product.instance_type.as_str().into())
            .min_count(1)
            .max_count(1)
            // Derived from the workspace: a retried provisioning never launches twice.
            .client_token(&workspace.provision_token)
            .hibernation_options(HibernationOptionsRequest::builder().configured(product.hibernation).build())
            // T3 defaults to unlimited credits, billed beyond the hourly price that Atelier's
            // estimates use; standard throttles to the baseline instead (docs/adr/0006-costs.md).
            .set_credit_specification(
                burstable(product.instance_type.as_str())
                    .then(|| CreditSpecificationRequest::builder().cpu_credits("standard").build()),
            )
            // As the products' templates: IMDSv2 only, one hop (no container on the machine
            // reaches the role's credentials), and the tags in metadata for the agent.
            .metadata_options(
                InstanceMetadataOptionsRequest::builder()
                    .http_endpoint(InstanceMetadataEndpointState::Enabled)
                    .http_tokens(HttpTokensState::Required)
                    .http_put_response_hop_limit(1)
                    .instance_metadata_tags(InstanceMetadataTagsState::Enabled)
                    .build(),
            )
            .network_interfaces(
                InstanceNetworkInterfaceSpecification::builder()
                    .device_index(0)
                    .subnet_id(&settings.subnet_id)
                    .groups(&settings.security_group_id)
                    .associate_public_ip_address(false)
                    .delete_on_termination(true)
                    .build(),
            )
            .block_device_mappings(
                BlockDeviceMapping::builder()
                    .device_name("/dev/xvda")
                    .ebs(
                        EbsBlockDevice::builder()
                            .volume_size(product.volume_gib as i32)
                            .volume_type(VolumeType::Gp3)
                            // Hibernation stores RAM on the root volume, which must be encrypted,
                            // with the workspace key (not the account's default EBS key).
                            .encrypted(true)
                            .kms_key_id(&settings.kms_key_id)
                            .delete_on_termination(true)
                            .build(),
                    )
                    .build(),
            )
            .tag_specifications(tag_spec(ResourceType::Instance))
            .tag_specifications(tag_spec(ResourceType::Volume))
            .iam_instance_profile(
                aws_sdk_ec2::types::IamInstanceProfileSpecification::builder()
                    .name(crate::workspace_role_name(&workspace.id))
                    .build(),
            );
        let output = run.send().await.map_err(|e| upstream("ec2", "RunInstances", e))?;
        let instance_id = output.instances().first().and_then(|i| i.instance_id()).map(str::to_owned);
        if instance_id.is_none() {
            return Err(UpstreamError::new("ec2", "RunInstances", true, "RunInstances returned no instance"));
        }
        Ok(Provisioned { provisioned_product_id: None, record_id: None, instance_id })
    }

    async fn provisioning_progress(&self, provisioned: &Provisioned) -> Result<Progress, UpstreamError> {
        let Some(id) = provisioned.instance_id.clone() else {
            return Ok(Progress::Failed { reason: "no instance was launched".into() });
        };
        let states = self.ec2.observe(std::slice::from_ref(&id)).await?;
        Ok(match states.get(&id) {
            Some(InstanceState::Running | InstanceState::Stopped | InstanceState::Stopping) => {
                Progress::Succeeded { instance_id: Some(id) }
            }
            Some(InstanceState::Pending) => Progress::InProgress,
            Some(InstanceState::ShuttingDown | InstanceState::Terminated | InstanceState::Missing) | None => {
                Progress::Failed { reason: format!("instance {id} ended before it was ready") }
            }
        })
    }

    async fn terminate(&self, workspace: &Workspace) -> Result<Provisioned, UpstreamError> {
        if let Some(id) = &workspace.provisioned.instance_id {
            match self.ec2.client.terminate_instances().instance_ids(id).send().await {
                Ok(_) => {}
                Err(e) if crate::error_code(&e) == Some("InvalidInstanceID.NotFound") => {}
                Err(e) => return Err(upstream("ec2", "TerminateInstances", e)),
            }
        }
        Ok(workspace.provisioned.clone())
    }

    async fn termination_progress(&self, provisioned: &Provisioned) -> Result<Progress, UpstreamError> {
        let Some(id) = provisioned.instance_id.clone() else {
            return Ok(Progress::Succeeded { instance_id: None });
        };
        let states = self.ec2.observe(std::slice::from_ref(&id)).await?;
        Ok(match states.get(&id) {
            Some(InstanceState::Terminated | InstanceState::Missing) | None => {
                Progress::Succeeded { instance_id: None }
            }
            Some(InstanceState::ShuttingDown) => Progress::InProgress,
            // Still alive and not shutting down: the TerminateInstances call never happened.
            Some(
                InstanceState::Pending | InstanceState::Running | InstanceState::Stopping | InstanceState::Stopped,
            ) => Progress::NotStarted,
        })
    }
}

/// Tag key prefix of a workspace's mounts: one tag `atelier:dataset:<id>` = `s3://bucket/prefix/`
/// per attached dataset, which the machine's agent reads (instance metadata tags).
pub const DATASET_TAG_PREFIX: &str = "atelier:dataset:";

/// Tag key prefix of the agent's reports: one tag `atelier:mounted:<id>` = the RFC 3339
/// instant it mounted the dataset, per mounted dataset (docs/adr/0008-workspace-agent.md).
pub const MOUNTED_TAG_PREFIX: &str = "atelier:mounted:";

/// The agent's reports among an instance's tags; malformed ones are skipped (logged).
fn mount_reports(tags: &HashMap<String, String>) -> Vec<atelier_domain::datasets::MountReport> {
    let mut reports = Vec::new();
    for (key, value) in tags {
        let Some(id) = key.strip_prefix(MOUNTED_TAG_PREFIX) else { continue };
        match (atelier_domain::datasets::DatasetId::parse(id), value.parse::<jiff::Timestamp>()) {
            (Ok(dataset_id), Ok(mounted_at)) => {
                reports.push(atelier_domain::datasets::MountReport { dataset_id, mounted_at });
            }
            _ => tracing::warn!(tag = %key, value = %value, "a malformed mount report is ignored"),
        }
    }
    reports.sort_by(|a, b| a.dataset_id.cmp(&b.dataset_id));
    reports
}

#[async_trait]
impl atelier_domain::datasets::DataMounts for Ec2 {
    async fn publish(
        &self,
        workspace: &Workspace,
        mounts: &[atelier_domain::datasets::Mount],
    ) -> Result<Vec<atelier_domain::datasets::MountReport>, UpstreamError> {
        let Some(instance) = workspace.provisioned.instance_id.clone() else { return Ok(Vec::new()) };
        let mut current = self.atelier_tags(&instance).await?;
        let reports = mount_reports(&current);
        current.retain(|k, _| k.starts_with(DATASET_TAG_PREFIX));
        let wanted: HashMap<String, String> =
            mounts.iter().map(|m| (format!("{DATASET_TAG_PREFIX}{}", m.dataset_id), m.location.to_string())).collect();
        let stale: Vec<Tag> = current
            .iter()
            .filter(|(k, _)| !wanted.contains_key(*k))
            .map(|(k, _)| Tag::builder().key(k).build())
            .collect();
        let missing: Vec<Tag> = wanted
            .iter()
            .filter(|(k, v)| current.get(*k) != Some(*v))
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        if !stale.is_empty() {
            self.client
                .delete_tags()
                .resources(&instance)
                .set_tags(Some(stale))
                .send()
                .await
                .map_err(|e| upstream("ec2", "DeleteTags", e))?;
        }
        if !missing.is_empty() {
            self.client
                .create_tags()
                .resources(&instance)
                .set_tags(Some(missing))
                .send()
                .await
                .map_err(|e| upstream("ec2", "CreateTags", e))?;
        }
        Ok(reports)
    }
}

impl Ec2 {
    /// The `atelier:dataset:*` tags of an instance, key to value.
    pub async fn dataset_tags(&self, instance_id: &str) -> Result<HashMap<String, String>, UpstreamError> {
        let mut tags = self.atelier_tags(instance_id).await?;
        tags.retain(|k, _| k.starts_with(DATASET_TAG_PREFIX));
        Ok(tags)
    }

    /// The `atelier:dataset:*` and `atelier:mounted:*` tags of an instance, in one read.
    async fn atelier_tags(&self, instance_id: &str) -> Result<HashMap<String, String>, UpstreamError> {
        let mut tags = HashMap::new();
        let mut pages = self
            .client
            .describe_tags()
            .filters(Filter::builder().name("resource-id").values(instance_id).build())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| upstream("ec2", "DescribeTags", e))?;
            for tag in page.tags() {
                if let (Some(k), Some(v)) = (tag.key(), tag.value())
                    && (k.starts_with(DATASET_TAG_PREFIX) || k.starts_with(MOUNTED_TAG_PREFIX))
                {
                    tags.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        Ok(tags)
    }
}

#[cfg(test)]
mod tests {
    use super::burstable;

    #[test]
    fn only_t_families_are_burstable() {
        assert!(burstable("t3.large") && burstable("t3a.xlarge") && burstable("t4g.medium"));
        assert!(!burstable("m5.2xlarge") && !burstable("r5.8xlarge") && !burstable("trn1.2xlarge") && !burstable("t3"));
    }
}
