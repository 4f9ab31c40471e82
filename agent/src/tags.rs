//! The instance's tags: the agent's input (`atelier:dataset:*` and `atelier:workspace`,
//! written by the control plane) and its reports (`atelier:mounted:*`, `atelier:app:*`,
//! written by the agent). Read through a
//! [`TagSource`] (instance metadata in production, EC2 `DescribeTags` locally), written with
//! EC2 `CreateTags`/`DeleteTags` on the instance itself ([`TagWriter`]).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_ec2::{
    error::DisplayErrorContext,
    types::{Filter, Tag},
};

use crate::{
    apps::{APP_TAG_PREFIX, WORKSPACE_TAG},
    dataset::{DATASET_TAG_PREFIX, MOUNTED_TAG_PREFIX},
};

#[cfg(test)]
pub(crate) mod memory;

/// An instance's tags, key to value.
pub type Tags = BTreeMap<String, String>;

/// Reading or writing the instance's tags failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct TagError {
    /// What was asked, e.g. `ec2:DescribeTags` or `imds:/latest/meta-data/tags/instance`.
    pub operation: String,
    /// Why it failed.
    pub message: String,
}

impl TagError {
    /// An error of `operation`.
    pub fn new(operation: impl Into<String>, message: impl Into<String>) -> Self {
        Self { operation: operation.into(), message: message.into() }
    }
}

/// Where the agent reads its instance's tags.
#[async_trait]
pub trait TagSource: Send + Sync {
    /// The instance's tags that [`is_agent_key`] accepts (others may be included; the
    /// reconcilers ignore them).
    async fn read(&self) -> Result<Tags, TagError>;
}

/// How the agent writes its report into its instance's tags.
#[async_trait]
pub trait TagWriter: Send + Sync {
    /// Creates or overwrites `tags` on the instance (one `CreateTags`).
    async fn put(&self, tags: &Tags) -> Result<(), TagError>;
    /// Removes the tags with these keys, whatever their values (one `DeleteTags`).
    async fn delete(&self, keys: &[String]) -> Result<(), TagError>;
}

/// True for the keys the agent reads: `atelier:dataset:*`, `atelier:mounted:*`,
/// `atelier:app:*` and `atelier:workspace`.
pub fn is_agent_key(key: &str) -> bool {
    key == WORKSPACE_TAG
        || [DATASET_TAG_PREFIX, MOUNTED_TAG_PREFIX, APP_TAG_PREFIX].iter().any(|prefix| key.starts_with(prefix))
}

/// Instance metadata, IMDSv2 through the SDK's client: lists
/// `/latest/meta-data/tags/instance`, then reads each key the agent uses. Needs instance
/// metadata tags enabled on the instance (`InstanceMetadataTags: enabled`). The listing is
/// refreshed by EC2 shortly after a tag changes, so a change can take one more pass to show.
#[derive(Debug, Clone)]
pub struct ImdsTags {
    client: aws_config::imds::Client,
}

/// The listing of the instance's tag keys in instance metadata.
pub const IMDS_TAGS_PATH: &str = "/latest/meta-data/tags/instance";

impl ImdsTags {
    /// Reads through `client`.
    pub fn new(client: aws_config::imds::Client) -> Self {
        Self { client }
    }

    async fn get(&self, path: &str) -> Result<String, TagError> {
        self.client.get(path).await.map(String::from).map_err(|e| imds_error(path, &e))
    }
}

/// The keys of an IMDS tag listing (one per line) that the agent reads.
pub fn agent_keys(listing: &str) -> Vec<&str> {
    listing.lines().map(str::trim).filter(|key| is_agent_key(key)).collect()
}

fn imds_error(path: &str, error: &aws_config::imds::client::error::ImdsError) -> TagError {
    use aws_config::imds::client::error::ImdsError;
    let message = match error {
        ImdsError::ErrorResponse(response)
            if response.response().status().as_u16() == 404 && path == IMDS_TAGS_PATH =>
        {
            "not found: instance metadata tags are not enabled on this instance (enable InstanceMetadataTags, \
             or set ATELIER_AGENT_TAGS_FROM=ec2)"
                .to_owned()
        }
        other => other.to_string(),
    };
    TagError::new(format!("imds:{path}"), message)
}

#[async_trait]
impl TagSource for ImdsTags {
    async fn read(&self) -> Result<Tags, TagError> {
        let listing = self.get(IMDS_TAGS_PATH).await?;
        let mut tags = Tags::new();
        for key in agent_keys(&listing) {
            let value = self.get(&format!("{IMDS_TAGS_PATH}/{key}")).await?;
            tags.insert(key.to_owned(), value);
        }
        Ok(tags)
    }
}

/// The instance's id from instance metadata (`/latest/meta-data/instance-id`).
pub async fn instance_id_from_imds(client: &aws_config::imds::Client) -> Result<String, TagError> {
    let path = "/latest/meta-data/instance-id";
    client.get(path).await.map(String::from).map_err(|e| imds_error(path, &e))
}

/// EC2's tag API on one instance, with the instance's own credentials: `DescribeTags`
/// filtered on the instance id (reading), `CreateTags`/`DeleteTags` on it (writing).
#[derive(Debug, Clone)]
pub struct Ec2Tags {
    client: aws_sdk_ec2::Client,
    instance_id: String,
}

impl Ec2Tags {
    /// The tags of `instance_id`, through `client`.
    pub fn new(client: aws_sdk_ec2::Client, instance_id: impl Into<String>) -> Self {
        Self { client, instance_id: instance_id.into() }
    }
}

fn ec2_error<E: std::error::Error>(operation: &str) -> impl FnOnce(E) -> TagError {
    move |e| TagError::new(format!("ec2:{operation}"), DisplayErrorContext(e).to_string())
}

#[async_trait]
impl TagSource for Ec2Tags {
    async fn read(&self) -> Result<Tags, TagError> {
        let mut tags = Tags::new();
        let mut pages = self
            .client
            .describe_tags()
            .filters(Filter::builder().name("resource-id").values(&self.instance_id).build())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(ec2_error("DescribeTags"))?;
            for tag in page.tags() {
                if let (Some(key), Some(value)) = (tag.key(), tag.value())
                    && is_agent_key(key)
                {
                    tags.insert(key.to_owned(), value.to_owned());
                }
            }
        }
        Ok(tags)
    }
}

#[async_trait]
impl TagWriter for Ec2Tags {
    async fn put(&self, tags: &Tags) -> Result<(), TagError> {
        let tags = tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
        self.client
            .create_tags()
            .resources(&self.instance_id)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(ec2_error("CreateTags"))?;
        Ok(())
    }

    async fn delete(&self, keys: &[String]) -> Result<(), TagError> {
        // A tag given without a value is deleted whatever its value.
        let tags = keys.iter().map(|k| Tag::builder().key(k).build()).collect();
        self.client
            .delete_tags()
            .resources(&self.instance_id)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(ec2_error("DeleteTags"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_agents_keys_are_read_from_metadata() {
        let listing = "Name\natelier:owner\natelier:dataset:oncology\natelier:mounted:oncology\r\natelier:workspace\n\
                       atelier:app:rstudio\natelier:workspaces\natelier:cost-centre\n";
        assert_eq!(
            agent_keys(listing),
            ["atelier:dataset:oncology", "atelier:mounted:oncology", "atelier:workspace", "atelier:app:rstudio"]
        );
        assert!(agent_keys("").is_empty());
    }
}
