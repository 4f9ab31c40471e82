//! [`DatasetStore`] on the table (docs/adr/0007-datasets.md; the items are in
//! docs/adr/0002-single-table.md): the registry, the attachments and the access trace in
//! each dataset's partition, and each workspace's policy document in the workspace's.
//!
//! Registry writes are conditional on the dataset's version and append their grant/revoke
//! events in the same transaction. An attach or detach writes the workspace (conditional
//! on its version and state), the attachment, the event and the policy document in one
//! transaction; an attach also checks that the dataset is still at the version it was
//! decided on. All of them go through the one transaction helper (`writes`), so a
//! throttled one is retryable (503) like every other.

use std::{
    collections::BTreeSet,
    hash::{BuildHasher, Hasher},
};

use async_trait::async_trait;
use atelier_domain::{
    WorkspaceId,
    datasets::{
        AccessEvent, Classification, Dataset, DatasetId, DatasetStore, Location, Readers,
        ports::{AccessFilter, Attachment, AttachmentChange},
    },
    kernel::{Page, PageRequest, StoreError, all_pages},
};
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{
    BY_KIND, BY_OWNER, Table,
    items::corrupt,
    keys::{self, ATTACHMENT_PREFIX, DATASET_KIND, DATASET_SK, EVENT_PREFIX, GUARD_SK, POLICY_SK, dataset_pk},
    reads::Query,
    writes::{Condition, Transaction},
};

/// A registry entry, listed by id through `by-kind`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DatasetItem {
    pk: String,
    sk: String,
    kind_pk: String,
    kind_sk: String,
    id: String,
    name: String,
    description: String,
    location: String,
    classification: Classification,
    owner: String,
    reader_groups: BTreeSet<String>,
    reader_users: BTreeSet<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
    version: u64,
}

impl From<&Dataset> for DatasetItem {
    fn from(d: &Dataset) -> Self {
        Self {
            pk: dataset_pk(&d.id),
            sk: DATASET_SK.into(),
            kind_pk: DATASET_KIND.into(),
            kind_sk: d.id.to_string(),
            id: d.id.to_string(),
            name: d.name.clone(),
            description: d.description.clone(),
            location: d.location.to_string(),
            classification: d.classification,
            owner: d.owner.clone(),
            reader_groups: d.readers.groups.clone(),
            reader_users: d.readers.users.clone(),
            created_at: d.created_at,
            updated_at: d.updated_at,
            version: d.version,
        }
    }
}

impl TryFrom<DatasetItem> for Dataset {
    type Error = StoreError;
    fn try_from(i: DatasetItem) -> Result<Self, StoreError> {
        Ok(Dataset {
            id: DatasetId::parse(&i.id).map_err(|e| corrupt("dataset id", e))?,
            name: i.name,
            description: i.description,
            location: Location::parse(&i.location).map_err(|e| corrupt("dataset location", e))?,
            classification: i.classification,
            owner: i.owner,
            readers: Readers { groups: i.reader_groups, users: i.reader_users },
            created_at: i.created_at,
            updated_at: i.updated_at,
            version: i.version,
        })
    }
}

/// An open attachment, in the dataset's partition (the revocation pass lists them).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttachmentItem {
    pk: String,
    sk: String,
    dataset_id: String,
    workspace_id: String,
    owner: String,
    since: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    mounted_at: Option<Timestamp>,
}

impl AttachmentItem {
    fn new(change: &AttachmentChange<'_>) -> Self {
        Self {
            pk: dataset_pk(change.dataset),
            sk: keys::attachment_sk(&change.workspace.id),
            dataset_id: change.dataset.to_string(),
            workspace_id: change.workspace.id.to_string(),
            owner: change.workspace.owner.username.clone(),
            since: change.event.at,
            mounted_at: None,
        }
    }
}

impl TryFrom<AttachmentItem> for Attachment {
    type Error = StoreError;
    fn try_from(i: AttachmentItem) -> Result<Self, StoreError> {
        Ok(Attachment {
            dataset_id: DatasetId::parse(&i.dataset_id).map_err(|e| corrupt("dataset id", e))?,
            workspace_id: WorkspaceId::parse(&i.workspace_id).map_err(|e| corrupt("workspace id", e))?,
            owner: i.owner,
            since: i.since,
            mounted_at: i.mounted_at,
        })
    }
}

/// A trace event: in the dataset's partition, and in the lists of its user (`by-owner`,
/// when it names one) and of its UTC month (`by-kind`).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessEventItem {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner_pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner_sk: Option<String>,
    kind_pk: String,
    kind_sk: String,
    #[serde(flatten)]
    event: AccessEvent,
}

impl AccessEventItem {
    fn new(event: &AccessEvent) -> Self {
        // Two events of the same dataset in the same microsecond stay two items.
        let nonce = std::collections::hash_map::RandomState::new().build_hasher().finish();
        let order = keys::in_time_order(event.at, format_args!("{nonce:016x}"));
        let month = event.at.to_zoned(jiff::tz::TimeZone::UTC).strftime("%Y-%m");
        Self {
            pk: dataset_pk(&event.dataset_id),
            sk: keys::access_event_sk(&order),
            owner_pk: event.user.as_deref().map(keys::data_user_pk),
            owner_sk: event.user.as_ref().map(|_| order.clone()),
            kind_pk: keys::data_month_pk(month),
            kind_sk: order,
            event: event.clone(),
        }
    }
}

/// A workspace's IAM policy document, in the workspace's partition.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyItem {
    pk: String,
    sk: String,
    workspace_id: String,
    document: String,
}

impl Transaction<'_> {
    /// Adds the trace `events`, each a new item.
    fn put_events(&mut self, events: &[AccessEvent]) -> Result<(), StoreError> {
        for event in events {
            self.put_if(&AccessEventItem::new(event), Condition::absent())?;
        }
        Ok(())
    }

    /// Adds what an attach and a detach both write around the attachment item: the workspace
    /// (conditional on its version and state) first, then `attachment` (the attachment's own
    /// write), the event and the workspace's new policy document. The policy is
    /// unconditional: it is derived from the workspace written in the same transaction.
    /// The dataset's guard item: `update` (`ADD` or `DELETE`) the workspace in its set.
    /// DynamoDB removes an emptied set, which is what a delete of the dataset requires.
    fn guard(&mut self, change: &AttachmentChange<'_>, update: &'static str) -> Result<usize, StoreError> {
        let workspace = AttributeValue::Ss(vec![change.workspace.id.to_string()]);
        let placeholders = Condition::new("").name("workspaces").value(":workspace", workspace);
        self.update(dataset_pk(change.dataset), GUARD_SK.into(), update, placeholders, false)
    }

    fn change_attachment(
        &mut self,
        change: &AttachmentChange<'_>,
        attachment: impl FnOnce(&mut Self) -> Result<usize, StoreError>,
    ) -> Result<(), StoreError> {
        self.put_workspace(change.workspace, change.expected_state)?;
        attachment(self)?;
        self.put_if(&AccessEventItem::new(change.event), Condition::absent())?;
        self.put(&PolicyItem {
            pk: keys::workspace_pk(&change.workspace.id),
            sk: POLICY_SK.into(),
            workspace_id: change.workspace.id.to_string(),
            document: change.policy.to_owned(),
        })?;
        Ok(())
    }
}

#[async_trait]
impl DatasetStore for Table {
    async fn insert_dataset(&self, dataset: &Dataset, events: &[AccessEvent]) -> Result<(), StoreError> {
        let mut tx = self.transaction();
        tx.put_if(&DatasetItem::from(dataset), Condition::absent())?;
        tx.put_events(events)?;
        Ok(tx.send().await?)
    }

    async fn dataset(&self, id: &DatasetId) -> Result<Option<Dataset>, StoreError> {
        let item: Option<DatasetItem> = self.get_as(dataset_pk(id), DATASET_SK.into()).await?;
        item.map(Dataset::try_from).transpose()
    }

    async fn datasets(&self, page: &PageRequest) -> Result<Page<Dataset>, StoreError> {
        self.query_page::<DatasetItem, _>(Query::index(BY_KIND, DATASET_KIND), page, Dataset::try_from).await
    }

    async fn update_dataset(&self, dataset: &Dataset, events: &[AccessEvent]) -> Result<(), StoreError> {
        let mut tx = self.transaction();
        tx.put_if(&DatasetItem::from(dataset), Condition::version(dataset.version - 1))?;
        tx.put_events(events)?;
        Ok(tx.send().await?)
    }

    async fn delete_dataset(&self, dataset: &Dataset, events: &[AccessEvent]) -> Result<(), StoreError> {
        let mut tx = self.transaction();
        tx.delete_if(dataset_pk(&dataset.id), DATASET_SK.into(), Condition::version(dataset.version))?;
        // No attach written since the caller looked (a missing guard is an empty one).
        tx.delete_if(
            dataset_pk(&dataset.id),
            GUARD_SK.into(),
            Condition::new("attribute_not_exists(#workspaces)").name("workspaces"),
        )?;
        tx.put_events(events)?;
        Ok(tx.send().await?)
    }

    async fn attachments(&self, id: &DatasetId) -> Result<Vec<Attachment>, StoreError> {
        all_pages(|page| async move {
            let query = Query::table(dataset_pk(id)).begins_with(ATTACHMENT_PREFIX);
            self.query_page::<AttachmentItem, _>(query, &page, Attachment::try_from).await
        })
        .await
    }

    async fn attach(&self, change: AttachmentChange<'_>) -> Result<(), StoreError> {
        let mut tx = self.transaction();
        tx.change_attachment(&change, |tx| tx.put_if(&AttachmentItem::new(&change), Condition::absent()))?;
        if let Some(version) = change.dataset_version {
            tx.check(dataset_pk(change.dataset), DATASET_SK.into(), Condition::version(version))?;
        }
        tx.guard(&change, "ADD #workspaces :workspace")?;
        Ok(tx.send().await?)
    }

    async fn detach(&self, change: AttachmentChange<'_>) -> Result<(), StoreError> {
        let mut tx = self.transaction();
        let (pk, sk) = (dataset_pk(change.dataset), keys::attachment_sk(&change.workspace.id));
        tx.change_attachment(&change, |tx| tx.delete_if(pk, sk, Condition::present()))?;
        tx.guard(&change, "DELETE #workspaces :workspace")?;
        Ok(tx.send().await?)
    }

    async fn access_events(&self, filter: &AccessFilter, page: &PageRequest) -> Result<Page<AccessEvent>, StoreError> {
        let query = match filter {
            AccessFilter::Dataset(id) => Query::table(dataset_pk(id)).begins_with(EVENT_PREFIX),
            AccessFilter::User(user) => Query::index(BY_OWNER, keys::data_user_pk(user)),
            AccessFilter::Month(month) => Query::index(BY_KIND, keys::data_month_pk(month)),
        };
        self.query_page(query, page, |i: AccessEventItem| Ok(i.event)).await
    }

    async fn policy(&self, workspace: &WorkspaceId) -> Result<Option<String>, StoreError> {
        let item: Option<PolicyItem> = self.get_as(keys::workspace_pk(workspace), POLICY_SK.into()).await?;
        Ok(item.map(|p| p.document))
    }

    async fn record_mount(&self, attachment: &Attachment, event: &AccessEvent) -> Result<(), StoreError> {
        let mut tx = self.transaction();
        let at = serde_dynamo::to_attribute_value(event.at).map_err(|e| corrupt("mount instant", e))?;
        let placeholders = Condition::new("attribute_exists(pk) AND attribute_not_exists(#mountedAt)")
            .name("mountedAt")
            .value(":at", at);
        let (pk, sk) = (dataset_pk(&attachment.dataset_id), keys::attachment_sk(&attachment.workspace_id));
        tx.update(pk, sk, "SET #mountedAt = :at", placeholders, true)?;
        tx.put_if(&AccessEventItem::new(event), Condition::absent())?;
        Ok(tx.send().await?)
    }
}
