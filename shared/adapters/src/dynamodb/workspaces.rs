//! [`WorkspaceStore`] on the table: workspaces, their events, idempotency records and the
//! per-user counter of active workspaces.
//!
//! Every state change is a conditional write on the stored `version` and `state`, and
//! appends its event in the same transaction. The per-user cap on active workspaces
//! (neither TERMINATED nor FAILED) is a counter item written in the same transactions: a
//! create adds one on the condition that the count is below the cap, and every update that
//! moves a workspace into or out of TERMINATED/FAILED adds -1 or +1. Two creates racing for
//! the last slot cannot both pass the condition (DynamoDB serialises transactions on an
//! item), so the cap holds without a read-then-write.

use async_trait::async_trait;
use atelier_domain::{
    Event, State, Workspace, WorkspaceId,
    costs::{MONTH_BOUNDARY, Month},
    kernel::{Page, PageRequest, StoreError},
    workspaces::{IdempotencyRecord, Inserted, WorkspaceFilter, WorkspaceStore},
};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{
    BY_INSTANCE, BY_KIND, BY_OWNER, BY_STATE, Table,
    items::{WorkspaceItem, build_error, corrupt, workspace},
    keys::{self, ACTIVE_SK, EVENT_PREFIX, IDEMPOTENCY_SK, WORKSPACE_KIND, WORKSPACE_SK},
    reads::Query,
    writes::{Condition, Transaction},
};

/// A workspace event, in the workspace's partition.
#[derive(Serialize, Deserialize)]
pub(super) struct EventItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    event: Event,
}

impl EventItem {
    fn new(id: &WorkspaceId, version: u64, event: &Event) -> Self {
        Self { pk: keys::workspace_pk(id), sk: keys::event_sk(event.at, version), event: event.clone() }
    }

    /// An event that changes no state (a grant, a connection), told apart from the other
    /// events of its instant by `suffix`.
    pub(super) fn stateless(id: &WorkspaceId, suffix: &str, event: &Event) -> Self {
        Self { pk: keys::workspace_pk(id), sk: keys::stateless_event_sk(event.at, suffix), event: event.clone() }
    }
}

/// A remembered `Idempotency-Key`, scoped to its owner, until DynamoDB's TTL removes it.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdempotencyItem {
    pk: String,
    sk: String,
    owner: String,
    key: String,
    request_hash: String,
    workspace_id: String,
    /// Epoch seconds: DynamoDB TTL deletes the item some time after this.
    ttl: i64,
}

impl From<&IdempotencyRecord> for IdempotencyItem {
    fn from(r: &IdempotencyRecord) -> Self {
        Self {
            pk: keys::idempotency_pk(&r.owner, &r.key),
            sk: IDEMPOTENCY_SK.into(),
            owner: r.owner.clone(),
            key: r.key.clone(),
            request_hash: r.request_hash.clone(),
            workspace_id: r.workspace_id.to_string(),
            ttl: r.expires_at.as_second(),
        }
    }
}

impl TryFrom<IdempotencyItem> for IdempotencyRecord {
    type Error = StoreError;
    fn try_from(i: IdempotencyItem) -> Result<Self, StoreError> {
        Ok(IdempotencyRecord {
            owner: i.owner,
            key: i.key,
            request_hash: i.request_hash,
            workspace_id: WorkspaceId::parse(&i.workspace_id).map_err(|e| corrupt("workspace id", e))?,
            expires_at: Timestamp::from_second(i.ttl).map_err(|e| corrupt("ttl", e))?,
        })
    }
}

/// Whether a workspace in `state` counts against its owner's cap.
fn is_active(state: State) -> bool {
    !state.is_ended()
}

/// The condition of every write of an existing workspace: stored at the version before
/// this one, in the state the change was decided from.
fn unchanged_since(workspace: &Workspace, expected_state: State) -> Condition {
    Condition::new("#version = :expected_version AND #state = :expected_state")
        .name("version")
        .value(":expected_version", AttributeValue::N((workspace.version - 1).to_string()))
        .name("state")
        .value(":expected_state", AttributeValue::S(expected_state.as_str().to_owned()))
}

impl Transaction<'_> {
    /// Adds the replacement of `workspace`, on the condition that the stored one is at the
    /// previous version and in `expected_state` (state changes, schedule changes, dataset
    /// attachments).
    pub(super) fn put_workspace(&mut self, workspace: &Workspace, expected_state: State) -> Result<usize, StoreError> {
        self.put_if(&WorkspaceItem::try_from(workspace)?, unchanged_since(workspace, expected_state))
    }

    /// Adds the month index entry of a creation or state change at `at`: the workspace as
    /// it now is, under the month of the change. This side effect is part of the
    /// `WorkspaceStore` contract (shared/domain/src/workspaces/ports.rs: `insert` and
    /// `update` with an event index the workspace for the cost month index), not a
    /// convenience. Unconditional: it carries only what the (conditional) workspace write
    /// carries, so a replay writes the same.
    fn put_month_entry(&mut self, workspace: &Workspace, at: Timestamp) -> Result<usize, StoreError> {
        self.put(&WorkspaceItem::month_entry(Month::containing(at, &MONTH_BOUNDARY), workspace)?)
    }
}

impl Table {
    /// Adds `delta` to `owner`'s active-workspace counter; with `below`, only when the count is
    /// below it (a create). Part of the transaction that moves the workspace.
    fn count_active(&self, owner: &str, delta: i64, below: Option<u32>) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(keys::active_pk(owner)))
            .key("sk", AttributeValue::S(ACTIVE_SK.into()))
            .update_expression("ADD #active :delta")
            .expression_attribute_names("#active", "active")
            .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()));
        if let Some(max) = below {
            update = update
                .condition_expression("attribute_not_exists(#active) OR #active < :max")
                .expression_attribute_values(":max", AttributeValue::N(max.to_string()));
        }
        Ok(TransactWriteItem::builder().update(update.build().map_err(build_error)?).build())
    }
}

#[async_trait]
impl WorkspaceStore for Table {
    async fn insert(
        &self,
        workspace: &Workspace,
        event: &Event,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Inserted, StoreError> {
        let mut tx = self.transaction();
        tx.put_if(&WorkspaceItem::try_from(workspace)?, Condition::absent())?;
        tx.put_if(&EventItem::new(&workspace.id, workspace.version, event), Condition::absent())?;
        // An expired key (not yet deleted by TTL) may be reused.
        let unused_key = Condition::new("attribute_not_exists(pk) OR #ttl < :now")
            .name("ttl")
            .value(":now", AttributeValue::N(Timestamp::now().as_second().to_string()));
        let key = idempotency.map(|record| tx.put_if(&IdempotencyItem::from(record), unused_key)).transpose()?;
        let counter = if is_active(workspace.state) {
            Some(tx.push(self.count_active(&workspace.owner.username, 1, Some(self.max_active))?))
        } else {
            None
        };
        tx.put_month_entry(workspace, event.at)?;
        match tx.send().await {
            Ok(()) => Ok(Inserted::Created),
            // The same key won first: the caller replays it, whatever the counter says.
            Err(failed) if key.is_some_and(|i| failed.failed_condition(i)) => Ok(Inserted::KeyTaken),
            Err(failed) if counter.is_some_and(|i| failed.failed_condition(i)) => {
                Ok(Inserted::ActiveLimit { max: self.max_active })
            }
            Err(failed) => Err(failed.into()),
        }
    }

    async fn get(&self, id: &WorkspaceId) -> Result<Option<Workspace>, StoreError> {
        let item: Option<WorkspaceItem> = self.get_as(keys::workspace_pk(id), WORKSPACE_SK.into()).await?;
        item.map(workspace).transpose()
    }

    async fn idempotency(&self, owner: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let item: Option<IdempotencyItem> =
            self.get_as(keys::idempotency_pk(owner, key), IDEMPOTENCY_SK.into()).await?;
        let Some(item) = item else { return Ok(None) };
        let record = IdempotencyRecord::try_from(item)?;
        Ok((record.expires_at > Timestamp::now()).then_some(record))
    }

    async fn list(&self, filter: &WorkspaceFilter, page: &PageRequest) -> Result<Page<Workspace>, StoreError> {
        let query = match filter {
            WorkspaceFilter::Owner(owner) => Query::index(BY_OWNER, keys::owner_pk(owner)).newest_first(),
            WorkspaceFilter::All => Query::index(BY_KIND, WORKSPACE_KIND).newest_first(),
            WorkspaceFilter::State(state) => Query::index(BY_STATE, keys::state_pk(*state)),
            WorkspaceFilter::Instance(id) => Query::index(BY_INSTANCE, keys::instance_pk(id)),
        };
        self.query_page(query, page, workspace).await
    }

    async fn update(
        &self,
        workspace: &Workspace,
        expected_state: State,
        event: Option<&Event>,
    ) -> Result<(), StoreError> {
        // Into or out of TERMINATED/FAILED: the owner's active count moves in the same transaction.
        let delta = i64::from(is_active(workspace.state)) - i64::from(is_active(expected_state));
        if event.is_none() && delta == 0 {
            // Nothing else to write with it (what AWS returned, no transition): one put.
            let item = WorkspaceItem::try_from(workspace)?;
            return self.put_item_if(&item, unchanged_since(workspace, expected_state)).await;
        }
        let mut tx = self.transaction();
        tx.put_workspace(workspace, expected_state)?;
        if let Some(event) = event {
            tx.put_if(&EventItem::new(&workspace.id, workspace.version, event), Condition::absent())?;
            tx.put_month_entry(workspace, event.at)?;
        }
        if delta != 0 {
            tx.push(self.count_active(&workspace.owner.username, delta, None)?);
        }
        Ok(tx.send().await?)
    }

    async fn events(&self, id: &WorkspaceId, page: &PageRequest) -> Result<Page<Event>, StoreError> {
        let query = Query::table(keys::workspace_pk(id)).begins_with(EVENT_PREFIX).newest_first();
        self.query_page(query, page, |e: EventItem| Ok(e.event)).await
    }
}
