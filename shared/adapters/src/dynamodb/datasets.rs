//! Dataset items in the single table (docs/adr/0007-datasets.md):
//!
//! | item | `pk` | `sk` | index keys |
//! |---|---|---|---|
//! | dataset | `DATASET#<id>` | `DATASET` | `by-kind`: `DATASET` / `<id>` |
//! | attachment | `DATASET#<id>` | `ATTACH#<workspace id>` | — |
//! | access event | `DATASET#<id>` | `EV#<at µs>#<nonce>` | `by-owner`: `DATAUSER#<user>` / `<at µs>#<nonce>`; `by-kind`: `DATAEVENT#<YYYY-MM>` / `<at µs>#<nonce>` |
//! | workspace policy | `WS#<workspace id>` | `DATAPOLICY` | — |
//!
//! Registry writes are conditional on the dataset's version and append their grant/revoke
//! events in the same transaction. An attach or detach writes the workspace (conditional
//! on its version and state), the attachment, the event and the policy document in one
//! transaction; an attach also checks that the dataset is still at the version it was
//! decided on.

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
    kernel::{MAX_PAGE_SIZE, Page, PageRequest, StoreError},
};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{BY_KIND, BY_OWNER, Table, WorkspaceItem, cancellation_codes, corrupt, from_item, sort_instant, to_item};
use crate::upstream;

fn dataset_pk(id: &DatasetId) -> String {
    format!("DATASET#{id}")
}

const DATASET_SK: &str = "DATASET";
const POLICY_SK: &str = "DATAPOLICY";

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
            kind_pk: "DATASET".into(),
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

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttachmentItem {
    pk: String,
    sk: String,
    dataset_id: String,
    workspace_id: String,
    owner: String,
    since: Timestamp,
}

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
        let order = format!("{}#{nonce:016x}", sort_instant(event.at));
        let month = event.at.to_zoned(jiff::tz::TimeZone::UTC).strftime("%Y-%m").to_string();
        Self {
            pk: dataset_pk(&event.dataset_id),
            sk: format!("EV#{order}"),
            owner_pk: event.user.as_ref().map(|u| format!("DATAUSER#{u}")),
            owner_sk: event.user.as_ref().map(|_| order.clone()),
            kind_pk: format!("DATAEVENT#{month}"),
            kind_sk: order,
            event: event.clone(),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PolicyItem {
    pk: String,
    sk: String,
    workspace_id: String,
    document: String,
}

impl Table {
    fn unconditional_put<T: Serialize>(&self, item: &T) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(self.name())
            .set_item(Some(to_item(item)?))
            .build()
            .map_err(|e| StoreError::Upstream(atelier_domain::UpstreamError::new("dynamodb", "Put", false, e)))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn event_puts(&self, events: &[AccessEvent]) -> Result<Vec<TransactWriteItem>, StoreError> {
        events.iter().map(|e| self.put(&AccessEventItem::new(e), "attribute_not_exists(pk)", &[])).collect()
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) => match cancellation_codes(&e) {
                Some(codes) if codes.iter().any(|c| c == "ConditionalCheckFailed" || c == "TransactionConflict") => {
                    Err(StoreError::Conflict)
                }
                _ => Err(upstream("dynamodb", "TransactWriteItems", e).into()),
            },
        }
    }

    fn workspace_put(&self, change: &AttachmentChange<'_>) -> Result<TransactWriteItem, StoreError> {
        let values = [
            ("#version", ":expected_version", AttributeValue::N((change.workspace.version - 1).to_string())),
            ("#state", ":expected_state", AttributeValue::S(change.expected_state.as_str().to_owned())),
        ];
        self.put(
            &WorkspaceItem::try_from(change.workspace)?,
            "#version = :expected_version AND #state = :expected_state",
            &values,
        )
    }

    fn policy_put(&self, change: &AttachmentChange<'_>) -> Result<TransactWriteItem, StoreError> {
        self.unconditional_put(&PolicyItem {
            pk: format!("WS#{}", change.workspace.id),
            sk: POLICY_SK.into(),
            workspace_id: change.workspace.id.to_string(),
            document: change.policy.to_owned(),
        })
    }

    fn key(pk: String, sk: String) -> std::collections::HashMap<String, AttributeValue> {
        [("pk".to_owned(), AttributeValue::S(pk)), ("sk".to_owned(), AttributeValue::S(sk))].into()
    }
}

fn build_error(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Upstream(atelier_domain::UpstreamError::new("dynamodb", "build", false, e))
}

#[async_trait]
impl DatasetStore for Table {
    async fn insert_dataset(&self, dataset: &Dataset, events: &[AccessEvent]) -> Result<(), StoreError> {
        let mut items = vec![self.put(&DatasetItem::from(dataset), "attribute_not_exists(pk)", &[])?];
        items.extend(self.event_puts(events)?);
        self.transact(items).await
    }

    async fn dataset(&self, id: &DatasetId) -> Result<Option<Dataset>, StoreError> {
        let item = self.get_item(dataset_pk(id), DATASET_SK.into()).await?;
        item.map(|i| from_item::<DatasetItem>(i).and_then(Dataset::try_from)).transpose()
    }

    async fn datasets(&self, page: &PageRequest) -> Result<Page<Dataset>, StoreError> {
        let page: Page<DatasetItem> =
            self.query_page(Some(BY_KIND), ("kindPk", "DATASET".to_owned()), None, false, page).await?;
        Ok(Page {
            items: page.items.into_iter().map(Dataset::try_from).collect::<Result<_, _>>()?,
            next_token: page.next_token,
        })
    }

    async fn update_dataset(&self, dataset: &Dataset, events: &[AccessEvent]) -> Result<(), StoreError> {
        let mut items = vec![self.put(
            &DatasetItem::from(dataset),
            "#version = :expected_version",
            &[("#version", ":expected_version", AttributeValue::N((dataset.version - 1).to_string()))],
        )?];
        items.extend(self.event_puts(events)?);
        self.transact(items).await
    }

    async fn delete_dataset(&self, dataset: &Dataset, events: &[AccessEvent]) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(self.name())
            .set_key(Some(Table::key(dataset_pk(&dataset.id), DATASET_SK.into())))
            .condition_expression("#version = :expected_version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected_version", AttributeValue::N(dataset.version.to_string()))
            .build()
            .map_err(build_error)?;
        let mut items = vec![TransactWriteItem::builder().delete(delete).build()];
        items.extend(self.event_puts(events)?);
        self.transact(items).await
    }

    async fn attachments(&self, id: &DatasetId) -> Result<Vec<Attachment>, StoreError> {
        let mut out = Vec::new();
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        loop {
            let got: Page<AttachmentItem> =
                self.query_page(None, ("pk", dataset_pk(id)), Some(("sk", "ATTACH#")), false, &page).await?;
            for i in got.items {
                out.push(Attachment {
                    dataset_id: DatasetId::parse(&i.dataset_id).map_err(|e| corrupt("dataset id", e))?,
                    workspace_id: WorkspaceId::parse(&i.workspace_id).map_err(|e| corrupt("workspace id", e))?,
                    owner: i.owner,
                    since: i.since,
                });
            }
            match got.next_token {
                Some(token) => page.token = Some(token),
                None => return Ok(out),
            }
        }
    }

    async fn attach(&self, change: AttachmentChange<'_>) -> Result<(), StoreError> {
        let attachment = AttachmentItem {
            pk: dataset_pk(change.dataset),
            sk: format!("ATTACH#{}", change.workspace.id),
            dataset_id: change.dataset.to_string(),
            workspace_id: change.workspace.id.to_string(),
            owner: change.workspace.owner.username.clone(),
            since: change.event.at,
        };
        let mut items = vec![
            self.workspace_put(&change)?,
            self.put(&attachment, "attribute_not_exists(pk)", &[])?,
            self.put(&AccessEventItem::new(change.event), "attribute_not_exists(pk)", &[])?,
            self.policy_put(&change)?,
        ];
        if let Some(version) = change.dataset_version {
            let check = ConditionCheck::builder()
                .table_name(self.name())
                .set_key(Some(Table::key(dataset_pk(change.dataset), DATASET_SK.into())))
                .condition_expression("#version = :dataset_version")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":dataset_version", AttributeValue::N(version.to_string()))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().condition_check(check).build());
        }
        self.transact(items).await
    }

    async fn detach(&self, change: AttachmentChange<'_>) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(self.name())
            .set_key(Some(Table::key(dataset_pk(change.dataset), format!("ATTACH#{}", change.workspace.id))))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(build_error)?;
        let items = vec![
            self.workspace_put(&change)?,
            TransactWriteItem::builder().delete(delete).build(),
            self.put(&AccessEventItem::new(change.event), "attribute_not_exists(pk)", &[])?,
            self.policy_put(&change)?,
        ];
        self.transact(items).await
    }

    async fn access_events(&self, filter: &AccessFilter, page: &PageRequest) -> Result<Page<AccessEvent>, StoreError> {
        let page: Page<AccessEventItem> = match filter {
            AccessFilter::Dataset(id) => {
                self.query_page(None, ("pk", dataset_pk(id)), Some(("sk", "EV#")), false, page).await?
            }
            AccessFilter::User(user) => {
                self.query_page(Some(BY_OWNER), ("ownerPk", format!("DATAUSER#{user}")), None, false, page).await?
            }
            AccessFilter::Month(month) => {
                self.query_page(Some(BY_KIND), ("kindPk", format!("DATAEVENT#{month}")), None, false, page).await?
            }
        };
        Ok(Page { items: page.items.into_iter().map(|i| i.event).collect(), next_token: page.next_token })
    }

    async fn policy(&self, workspace: &WorkspaceId) -> Result<Option<String>, StoreError> {
        let item = self.get_item(format!("WS#{workspace}"), POLICY_SK.into()).await?;
        Ok(item.map(from_item::<PolicyItem>).transpose()?.map(|p| p.document))
    }
}
