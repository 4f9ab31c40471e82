//! The agent wired from its [`Config`]: the reconcilers, in the order they run. Later ones
//! (activity, app readiness) are added to the list here.

use crate::{
    config::{Config, TagsFrom},
    mounts::{MountsReconciler, mount_s3::MountS3},
    reconcile::Agent,
    tags::{Ec2Tags, ImdsTags, TagSource, instance_id_from_imds},
};

/// The agent `config` describes, calling AWS with `sdk` (the default chains in production:
/// the instance profile's credentials, the region from the environment or instance
/// metadata). Instance metadata is read only when it is needed: for the tags
/// ([`TagsFrom::Imds`]) or when `ATELIER_AGENT_INSTANCE_ID` is unset.
pub async fn agent(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Agent, String> {
    let imds = aws_config::imds::Client::builder().build();
    let instance_id = match &config.instance_id {
        Some(id) => id.clone(),
        None => instance_id_from_imds(&imds)
            .await
            .map_err(|e| format!("reading the instance id ({e}); or set ATELIER_AGENT_INSTANCE_ID"))?,
    };
    let ec2 = Ec2Tags::new(aws_sdk_ec2::Client::new(sdk), &instance_id);
    let source: Box<dyn TagSource> = match config.tags_from {
        TagsFrom::Imds => Box::new(ImdsTags::new(imds)),
        TagsFrom::Ec2 => Box::new(ec2.clone()),
    };
    let mounter = MountS3::new(&config.data_root, &config.mount_command);
    let mounts = MountsReconciler::new(source, Box::new(ec2), Box::new(mounter), &config.data_root);
    tracing::debug!(instance_id, "reconcilers built");
    Ok(Agent::new(vec![Box::new(mounts)]))
}
