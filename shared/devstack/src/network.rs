//! The local stand-ins for what `infra/network.yaml` and `infra/products/portfolio.yaml`
//! create and `ec2-launch` requires: a VPC with a private workspace subnet (no public
//! addresses), the workspace security group, the workspace launch template (the products'
//! metadata options) and an image. Found by name when they exist, so seeding twice (or
//! from concurrent tests) reuses them. Within a process, seeds find-or-create one at a time
//! ([`ONE_AT_A_TIME`]); each moto server belongs to one process (a test binary, a dev server).
//!
//! moto has no KMS check on `RunInstances`: the volume key is the alias the portfolio's key
//! carries in AWS, passed through as given.

use atelier_adapters::Ec2LaunchSettings;
use aws_sdk_ec2::{
    Client,
    types::{
        Filter, LaunchTemplateHttpTokensState, LaunchTemplateInstanceMetadataEndpointState,
        LaunchTemplateInstanceMetadataOptionsRequest, LaunchTemplateInstanceMetadataTagsState,
        RequestLaunchTemplateData, ResourceType, Tag, TagSpecification,
    },
};

use crate::seed::{SeedError, aws};

/// The `Name` tag of the local VPC, subnet and security group.
const NAME: &str = "atelier-workspaces";
/// The workspace volume key's alias, as in AWS.
pub const VOLUME_KEY_ALIAS: &str = "alias/atelier-workspace-volumes";

fn named(kind: ResourceType) -> TagSpecification {
    TagSpecification::builder().resource_type(kind).tags(Tag::builder().key("Name").value(NAME).build()).build()
}

fn by_name() -> Filter {
    Filter::builder().name("tag:Name").values(NAME).build()
}

/// The seeds of one process (a test binary seeds for every test, two at a time) look for
/// the network and create what is missing one at a time: "create unless it exists" is two
/// calls, and two seeds that both found no subnet both created one, the second refused
/// (`InvalidSubnet.Conflict` on its CIDR) and its test failed before it began.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Creates (or finds) the local network and launch template; the settings `ec2-launch`
/// launches with.
pub async fn local_network(ec2: &Client) -> Result<Ec2LaunchSettings, SeedError> {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let vpc_id = match ec2.describe_vpcs().filters(by_name()).send().await.map_err(aws("DescribeVpcs"))?.vpcs().first()
    {
        Some(vpc) => vpc.vpc_id().unwrap_or_default().to_owned(),
        None => ec2
            .create_vpc()
            .cidr_block("10.42.0.0/16")
            .tag_specifications(named(ResourceType::Vpc))
            .send()
            .await
            .map_err(aws("CreateVpc"))?
            .vpc()
            .and_then(|v| v.vpc_id())
            .unwrap_or_default()
            .to_owned(),
    };
    let subnets = ec2.describe_subnets().filters(by_name()).send().await.map_err(aws("DescribeSubnets"))?;
    let subnet_id = match subnets.subnets().first() {
        Some(subnet) => subnet.subnet_id().unwrap_or_default().to_owned(),
        None => ec2
            .create_subnet()
            .vpc_id(&vpc_id)
            .cidr_block("10.42.1.0/24")
            .tag_specifications(named(ResourceType::Subnet))
            .send()
            .await
            .map_err(aws("CreateSubnet"))?
            .subnet()
            .and_then(|s| s.subnet_id())
            .unwrap_or_default()
            .to_owned(),
    };
    let groups =
        ec2.describe_security_groups().filters(by_name()).send().await.map_err(aws("DescribeSecurityGroups"))?;
    let security_group_id = match groups.security_groups().first() {
        Some(group) => group.group_id().unwrap_or_default().to_owned(),
        None => ec2
            .create_security_group()
            .group_name(NAME)
            .description("Atelier workspaces: ingress from the gateway only")
            .vpc_id(&vpc_id)
            .tag_specifications(named(ResourceType::SecurityGroup))
            .send()
            .await
            .map_err(aws("CreateSecurityGroup"))?
            .group_id()
            .unwrap_or_default()
            .to_owned(),
    };
    Ok(Ec2LaunchSettings {
        subnet_id,
        security_group_id,
        kms_key_id: VOLUME_KEY_ALIAS.to_owned(),
        image_id: image_id(ec2).await?,
        launch_template_id: launch_template(ec2).await?,
    })
}

/// The workspace launch template: the products' metadata options; no user data (moto
/// boots nothing; the local machines are processes, `crate::machines`).
async fn launch_template(ec2: &Client) -> Result<String, SeedError> {
    let found = ec2.describe_launch_templates().launch_template_names(NAME).send().await;
    if let Ok(found) = &found
        && let Some(id) = found.launch_templates().first().and_then(|t| t.launch_template_id())
    {
        return Ok(id.to_owned());
    }
    let data = RequestLaunchTemplateData::builder()
        .metadata_options(
            LaunchTemplateInstanceMetadataOptionsRequest::builder()
                .http_endpoint(LaunchTemplateInstanceMetadataEndpointState::Enabled)
                .http_tokens(LaunchTemplateHttpTokensState::Required)
                .http_put_response_hop_limit(1)
                .instance_metadata_tags(LaunchTemplateInstanceMetadataTagsState::Enabled)
                .build(),
        )
        .build();
    let created = ec2.create_launch_template().launch_template_name(NAME).launch_template_data(data).send().await;
    match created {
        Ok(created) => {
            Ok(created.launch_template().and_then(|t| t.launch_template_id()).unwrap_or_default().to_owned())
        }
        // A concurrent seed made it first.
        Err(_) => {
            let found = ec2
                .describe_launch_templates()
                .launch_template_names(NAME)
                .send()
                .await
                .map_err(aws("DescribeLaunchTemplates"))?;
            found.launch_templates().first().and_then(|t| t.launch_template_id()).map(str::to_owned).ok_or(
                SeedError::Aws { operation: "CreateLaunchTemplate", message: "no template made or found".into() },
            )
        }
    }
}

/// An image the local EC2 knows (moto ships a set of public AMIs).
async fn image_id(ec2: &Client) -> Result<String, SeedError> {
    let images = ec2.describe_images().owners("amazon").send().await.map_err(aws("DescribeImages"))?;
    let mut ids: Vec<&str> = images.images().iter().filter_map(|i| i.image_id()).collect();
    ids.sort_unstable();
    ids.first()
        .map(|s| (*s).to_owned())
        .ok_or(SeedError::Aws { operation: "DescribeImages", message: "the local EC2 lists no images".into() })
}
