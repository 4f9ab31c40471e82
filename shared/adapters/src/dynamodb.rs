//! DynamoDB: the single table behind [`WorkspaceStore`] and [`Catalog`].
//!
//! Key design (docs/adr/0002-single-table.md), from the access patterns:
//!
//! | item | `pk` | `sk` | index keys |
//! |---|---|---|---|
//! | workspace | `WS#<id>` | `WS` | `by-owner`: `OWNER#<username>` / `<created µs>#<id>`; `by-state`: `STATE#<state>` / `<updated µs>#<id>`; `by-kind`: `WS` / `<created µs>#<id>` |
//! | event | `WS#<id>` | `EV#<at µs>#<version>` | — |
//! | idempotency key | `IDEM#<owner>#<key>` | `IDEM` | — (`ttl`) |
//! | active workspaces of a user | `USER#<owner>` | `ACTIVE` | — (`active`: a number) |
//! | product | `PRODUCT#<id>` | `PRODUCT` | `by-kind`: `PRODUCT` / `<id>` |
//! | default schedule | `CONFIG#schedule` | `CONFIG` | — |
//! | scheduler state | `SCHEDULER#state` | `STATE` | — |
//! | month index entry | `COSTMONTH#<YYYY-MM>` | `WS#<created µs>#<id>` | — (a workspace snapshot, no index keys) |
//! | month index seal | `COSTMONTH#<YYYY-MM>` | `SEALED` | — |
//! | closed month's line | `COSTMONTH#<YYYY-MM>` | `LINE#<created µs>#<id>` | — |
//! | closed month marker | `COSTMONTH#<YYYY-MM>` | `CLOSED` | — |
//! | default budget | `CONFIG#budget` | `CONFIG` | — |
//! | user budget | `BUDGET` | `USER#<username>` | — |
//! | budget crossing | `BUDGETEVENT#<YYYY-MM>` | `<username>#<threshold, 4 digits>` | — |
//! | Cost Explorer actuals | `ACTUALS#<YYYY-MM>` | `ACTUALS` | — |
//!
//! Every state change is a conditional write on the stored `version` and `state`, and
//! appends its event and its month index entry in the same transaction. No request path
//! scans.
//!
//! The per-user cap on active workspaces (neither TERMINATED nor FAILED) is a counter item
//! written in the same transactions: a create adds one on the condition that the count is
//! below the cap, and every update that moves a workspace into or out of TERMINATED/FAILED
//! adds -1 or +1. Two creates racing for the last slot cannot both pass the condition
//! (DynamoDB serialises transactions on an item), so the cap holds without a read-then-write.

use std::collections::HashMap;

use async_trait::async_trait;
use atelier_domain::{
    Event, Product, ProductId, State, Workspace, WorkspaceId, WorkspaceName,
    catalog::Catalog,
    costs::{
        ActualStore, Actuals, Budget, BudgetStore, Crossing, MONTH_BOUNDARY, Month, MonthIndex, Versioned,
        WorkspaceCost, WorkspaceInfo,
    },
    kernel::{MAX_PAGE_SIZE, Page, PageRequest, StoreError},
    schedule::{Override, Schedule, ScheduleDefaults, SchedulerRuns},
    workspaces::{IdempotencyRecord, Inserted, Owner, Provisioned, WorkspaceFilter, WorkspaceStore},
};
use aws_sdk_dynamodb::{
    Client,
    operation::transact_write_items::TransactWriteItemsError,
    types::{
        AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
        ProjectionType, Put, PutRequest, ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update,
        WriteRequest,
    },
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::upstream;

mod datasets;

/// Index over one owner's workspaces, newest first.
pub const BY_OWNER: &str = "by-owner";
/// Index over workspaces in one state.
pub const BY_STATE: &str = "by-state";
/// Index over every item of one kind (workspaces, products).
pub const BY_KIND: &str = "by-kind";

/// The table's key schema and indexes, as (index name, partition attribute, sort attribute).
/// `infra/` declares the same; a test compares them.
pub const INDEXES: [(&str, &str, &str); 3] =
    [(BY_OWNER, "ownerPk", "ownerSk"), (BY_STATE, "statePk", "stateSk"), (BY_KIND, "kindPk", "kindSk")];

/// Most active workspaces (neither TERMINATED nor FAILED) one user may have, unless
/// configured otherwise ([`Table::with_max_active`]).
pub const DEFAULT_MAX_ACTIVE_WORKSPACES: u32 = 5;

/// The Atelier table.
#[derive(Clone, Debug)]
pub struct Table {
    client: Client,
    name: String,
    max_active: u32,
}

impl Table {
    /// The table `name`, through `client`, with the default cap on active workspaces.
    pub fn new(client: Client, name: impl Into<String>) -> Self {
        Self { client, name: name.into(), max_active: DEFAULT_MAX_ACTIVE_WORKSPACES }
    }

    /// The table `name`, with a client built from `config`.
    pub fn from_config(config: &aws_types::SdkConfig, name: impl Into<String>) -> Self {
        Self::new(Client::new(config), name)
    }

    /// The same table, letting each user have at most `max` active workspaces.
    pub fn with_max_active(mut self, max: u32) -> Self {
        self.max_active = max;
        self
    }

    /// The cap on active workspaces per user.
    pub fn max_active(&self) -> u32 {
        self.max_active
    }

    /// How many active workspaces the counter item says `owner` has (0 when none was ever
    /// created).
    pub async fn active_workspaces(&self, owner: &str) -> Result<i64, StoreError> {
        let item = self.get_item(active_pk(owner), ACTIVE_SK.into()).await?;
        let count = item.as_ref().and_then(|item| item.get("active")).and_then(|v| v.as_n().ok());
        count.map_or(Ok(0), |n| n.parse().map_err(|e| corrupt("active workspaces counter", e)))
    }

    /// Adds `delta` to `owner`'s active-workspace counter; with `below`, only when the count is
    /// below it (a create). Part of the transaction that moves the workspace.
    fn count_active(&self, owner: &str, delta: i64, below: Option<u32>) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(active_pk(owner)))
            .key("sk", AttributeValue::S(ACTIVE_SK.into()))
            .update_expression("ADD #active :delta")
            .expression_attribute_names("#active", "active")
            .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()));
        if let Some(max) = below {
            update = update
                .condition_expression("attribute_not_exists(#active) OR #active < :max")
                .expression_attribute_values(":max", AttributeValue::N(max.to_string()));
        }
        let update = update
            .build()
            .map_err(|e| StoreError::Upstream(atelier_domain::UpstreamError::new("dynamodb", "Update", false, e)))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates the table with its indexes and TTL (local stack and tests; `infra/` in AWS).
    pub async fn create(&self) -> Result<(), StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type are set")
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().expect("name and type are set")
        };
        let mut request = self
            .client
            .create_table()
            .table_name(&self.name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range));
        for (index, pk, sk) in INDEXES {
            request = request.attribute_definitions(attr(pk)).attribute_definitions(attr(sk)).global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index)
                    .key_schema(key(pk, KeyType::Hash))
                    .key_schema(key(sk, KeyType::Range))
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
                    .build()
                    .expect("name, keys and projection are set"),
            );
        }
        request.send().await.map_err(|e| upstream("dynamodb", "CreateTable", e))?;
        self.client
            .update_time_to_live()
            .table_name(&self.name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().attribute_name("ttl").enabled(true).build().expect("fields are set"),
            )
            .send()
            .await
            .map_err(|e| upstream("dynamodb", "UpdateTimeToLive", e))?;
        Ok(())
    }

    /// True when the table exists.
    pub async fn exists(&self) -> Result<bool, StoreError> {
        match self.client.describe_table().table_name(&self.name).send().await {
            Ok(_) => Ok(true),
            Err(e) if crate::error_code(&e) == Some("ResourceNotFoundException") => Ok(false),
            Err(e) => Err(upstream("dynamodb", "DescribeTable", e).into()),
        }
    }

    /// Writes (or replaces) a catalog product.
    pub async fn put_product(&self, product: &Product) -> Result<(), StoreError> {
        let item = ProductItem {
            pk: format!("PRODUCT#{}", product.id),
            sk: "PRODUCT".into(),
            kind_pk: "PRODUCT".into(),
            kind_sk: product.id.to_string(),
            product: product.clone(),
        };
        self.replace_item(&item).await
    }

    async fn query_page<T: DeserializeOwned>(
        &self,
        index: Option<&str>,
        (pk_attr, pk_value): (&str, String),
        sk_prefix: Option<(&str, &str)>,
        newest_first: bool,
        page: &PageRequest,
    ) -> Result<Page<T>, StoreError> {
        let start = page.token.as_deref().map(|t| decode_token(t, pk_attr, &pk_value)).transpose()?;
        let mut condition = "#pk = :pk".to_owned();
        let mut query = self
            .client
            .query()
            .table_name(&self.name)
            .set_index_name(index.map(str::to_owned))
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", AttributeValue::S(pk_value))
            .scan_index_forward(!newest_first)
            .limit(page.limit.clamp(1, MAX_PAGE_SIZE) as i32)
            .set_exclusive_start_key(start);
        if let Some((sk_attr, prefix)) = sk_prefix {
            condition.push_str(" AND begins_with(#sk, :sk)");
            query = query
                .expression_attribute_names("#sk", sk_attr)
                .expression_attribute_values(":sk", AttributeValue::S(prefix.to_owned()));
        }
        let output =
            query.key_condition_expression(condition).send().await.map_err(|e| upstream("dynamodb", "Query", e))?;
        let items = output.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<Vec<T>, _>>()?;
        let next_token = output.last_evaluated_key.map(|k| encode_token(&k)).transpose()?;
        Ok(Page { items, next_token })
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
        let mut items = vec![
            self.put(&WorkspaceItem::try_from(workspace)?, "attribute_not_exists(pk)", &[])?,
            self.put(&EventItem::new(&workspace.id, workspace.version, event), "attribute_not_exists(pk)", &[])?,
        ];
        let key_index = idempotency.map(|_| items.len());
        if let Some(record) = idempotency {
            // An expired key (not yet deleted by TTL) may be reused.
            items.push(self.put(
                &IdempotencyItem::from(record),
                "attribute_not_exists(pk) OR #ttl < :now",
                &[("#ttl", ":now", AttributeValue::N(Timestamp::now().as_second().to_string()))],
            )?);
        }
        let counter_index = items.len();
        let active = is_active(workspace.state);
        if active {
            items.push(self.count_active(&workspace.owner.username, 1, Some(self.max_active))?);
        }
        // After the counter, whose position the cancellation codes are read at.
        items.push(self.month_entry(workspace, event.at)?);
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(Inserted::Created),
            Err(e) => match cancellation_codes(&e) {
                // The same key won first: the caller replays it, whatever the counter says.
                Some(codes) if key_index.is_some_and(|i| failed_check(&codes, i)) => Ok(Inserted::KeyTaken),
                Some(codes) if active && failed_check(&codes, counter_index) => {
                    Ok(Inserted::ActiveLimit { max: self.max_active })
                }
                Some(codes) if codes.iter().any(|c| c == "ConditionalCheckFailed" || c == "TransactionConflict") => {
                    Err(StoreError::Conflict)
                }
                Some(codes) if codes.iter().any(|c| c == "ThrottlingError") => Err(throttled(e).into()),
                _ => Err(upstream("dynamodb", "TransactWriteItems", e).into()),
            },
        }
    }

    async fn get(&self, id: &WorkspaceId) -> Result<Option<Workspace>, StoreError> {
        let item = self.get_item(format!("WS#{id}"), "WS".into()).await?;
        item.map(|item| from_item::<WorkspaceItem>(item).and_then(Workspace::try_from)).transpose()
    }

    async fn idempotency(&self, owner: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        let item = self.get_item(idempotency_pk(owner, key), "IDEM".into()).await?;
        let Some(item) = item else { return Ok(None) };
        let record = IdempotencyRecord::try_from(from_item::<IdempotencyItem>(item)?)?;
        Ok((record.expires_at > Timestamp::now()).then_some(record))
    }

    async fn list(&self, filter: &WorkspaceFilter, page: &PageRequest) -> Result<Page<Workspace>, StoreError> {
        let (index, key) = match filter {
            WorkspaceFilter::Owner(owner) => (BY_OWNER, ("ownerPk", format!("OWNER#{owner}"))),
            WorkspaceFilter::All => (BY_KIND, ("kindPk", "WS".to_owned())),
            WorkspaceFilter::State(state) => (BY_STATE, ("statePk", format!("STATE#{state}"))),
        };
        let newest_first = !matches!(filter, WorkspaceFilter::State(_));
        let page: Page<WorkspaceItem> = self.query_page(Some(index), key, None, newest_first, page).await?;
        Ok(Page {
            items: page.items.into_iter().map(Workspace::try_from).collect::<Result<_, _>>()?,
            next_token: page.next_token,
        })
    }

    async fn update(
        &self,
        workspace: &Workspace,
        expected_state: State,
        event: Option<&Event>,
    ) -> Result<(), StoreError> {
        let condition = "#version = :expected_version AND #state = :expected_state";
        let values = [
            ("#version", ":expected_version", AttributeValue::N((workspace.version - 1).to_string())),
            ("#state", ":expected_state", AttributeValue::S(expected_state.as_str().to_owned())),
        ];
        let put = self.put(&WorkspaceItem::try_from(workspace)?, condition, &values)?;
        // Into or out of TERMINATED/FAILED: the owner's active count moves in the same transaction.
        let delta = i64::from(is_active(workspace.state)) - i64::from(is_active(expected_state));
        let counter = (delta != 0).then(|| self.count_active(&workspace.owner.username, delta, None)).transpose()?;
        if event.is_none() && counter.is_none() {
            let put = put.put.expect("built as a put");
            return match self
                .client
                .put_item()
                .table_name(&self.name)
                .set_item(Some(put.item))
                .condition_expression(condition)
                .set_expression_attribute_names(put.expression_attribute_names)
                .set_expression_attribute_values(put.expression_attribute_values)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if crate::error_code(&e) == Some("ConditionalCheckFailedException") => Err(StoreError::Conflict),
                Err(e) => Err(upstream("dynamodb", "PutItem", e).into()),
            };
        }
        let mut items = vec![put];
        if let Some(event) = event {
            items.push(self.put(
                &EventItem::new(&workspace.id, workspace.version, event),
                "attribute_not_exists(pk)",
                &[],
            )?);
            items.push(self.month_entry(workspace, event.at)?);
        }
        items.extend(counter);
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(()),
            Err(e) => match cancellation_codes(&e) {
                Some(codes) if codes.iter().any(|c| c == "ConditionalCheckFailed" || c == "TransactionConflict") => {
                    Err(StoreError::Conflict)
                }
                Some(codes) if codes.iter().any(|c| c == "ThrottlingError") => Err(throttled(e).into()),
                _ => Err(upstream("dynamodb", "TransactWriteItems", e).into()),
            },
        }
    }

    async fn events(&self, id: &WorkspaceId, page: &PageRequest) -> Result<Page<Event>, StoreError> {
        let page: Page<EventItem> =
            self.query_page(None, ("pk", format!("WS#{id}")), Some(("sk", "EV#")), true, page).await?;
        Ok(Page { items: page.items.into_iter().map(|e| e.event).collect(), next_token: page.next_token })
    }
}

#[async_trait]
impl Catalog for Table {
    async fn products(&self, page: &PageRequest) -> Result<Page<Product>, StoreError> {
        let page: Page<ProductItem> =
            self.query_page(Some(BY_KIND), ("kindPk", "PRODUCT".to_owned()), None, false, page).await?;
        Ok(Page { items: page.items.into_iter().map(|p| p.product).collect(), next_token: page.next_token })
    }

    async fn product(&self, id: &ProductId) -> Result<Option<Product>, StoreError> {
        let item = self.get_item(format!("PRODUCT#{id}"), "PRODUCT".into()).await?;
        Ok(item.map(from_item::<ProductItem>).transpose()?.map(|p| p.product))
    }
}

const DEFAULT_SCHEDULE_PK: &str = "CONFIG#schedule";
const DEFAULT_SCHEDULE_SK: &str = "CONFIG";
const SCHEDULER_PK: &str = "SCHEDULER#state";
const SCHEDULER_SK: &str = "STATE";

#[async_trait]
impl ScheduleDefaults for Table {
    async fn get(&self) -> Result<Schedule, StoreError> {
        let item = self.get_item(DEFAULT_SCHEDULE_PK.into(), DEFAULT_SCHEDULE_SK.into()).await?;
        match item {
            Some(item) => decode_schedule(&from_item::<ScheduleItem>(item)?.schedule),
            None => Ok(Schedule::default()),
        }
    }

    async fn put(&self, schedule: &Schedule) -> Result<(), StoreError> {
        let item = ScheduleItem {
            pk: DEFAULT_SCHEDULE_PK.into(),
            sk: DEFAULT_SCHEDULE_SK.into(),
            schedule: encode_schedule(schedule)?,
        };
        // A whole-document replace by an admin (PUT semantics, no read-modify-write), so
        // there is no lost update for a version condition to catch: last writer wins.
        self.replace_item(&item).await
    }
}

#[async_trait]
impl SchedulerRuns for Table {
    async fn last_run(&self) -> Result<Option<Timestamp>, StoreError> {
        let item = self.get_item(SCHEDULER_PK.into(), SCHEDULER_SK.into()).await?;
        let Some(item) = item else { return Ok(None) };
        let item: SchedulerItem = from_item(item)?;
        Timestamp::from_microsecond(item.last_run).map(Some).map_err(|e| corrupt("scheduler last run", e))
    }

    async fn record_run(&self, at: Timestamp) -> Result<(), StoreError> {
        let item = SchedulerItem {
            pk: SCHEDULER_PK.into(),
            sk: SCHEDULER_SK.into(),
            last_run: at.as_microsecond(),
            last_run_at: at,
        };
        match self
            .client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(pk) OR lastRun < :at")
            .expression_attribute_values(":at", AttributeValue::N(at.as_microsecond().to_string()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if crate::error_code(&e) == Some("ConditionalCheckFailedException") => Err(StoreError::Conflict),
            Err(e) => Err(upstream("dynamodb", "PutItem", e).into()),
        }
    }
}

fn encode_schedule(schedule: &Schedule) -> Result<String, StoreError> {
    serde_json::to_string(schedule).map_err(|e| corrupt("schedule", e))
}

fn decode_schedule(json: &str) -> Result<Schedule, StoreError> {
    serde_json::from_str(json).map_err(|e| corrupt("schedule", e))
}

/// The organisation's default schedule: its wire JSON.
#[derive(Serialize, Deserialize)]
struct ScheduleItem {
    pk: String,
    sk: String,
    schedule: String,
}

/// Up to which instant the scheduler has acted.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchedulerItem {
    pk: String,
    sk: String,
    /// Microseconds since the epoch (a number, for the `lastRun < :at` condition).
    last_run: i64,
    /// The same instant, readable.
    last_run_at: Timestamp,
}

impl Table {
    /// Writes `item` unconditionally: only for whole documents that have no version (catalog
    /// products, the default schedule); every workspace write is conditional.
    async fn replace_item<T: Serialize>(&self, item: &T) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.name)
            .set_item(Some(to_item(item)?))
            .send()
            .await
            .map_err(|e| upstream("dynamodb", "PutItem", e))?;
        Ok(())
    }

    /// One item by its keys, read consistently (every caller decides on what it reads).
    async fn get_item(&self, pk: String, sk: String) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| upstream("dynamodb", "GetItem", e))?;
        Ok(output.item)
    }

    fn put<T: Serialize>(
        &self,
        item: &T,
        condition: &str,
        values: &[(&str, &str, AttributeValue)],
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put =
            Put::builder().table_name(&self.name).set_item(Some(to_item(item)?)).condition_expression(condition);
        for (name_placeholder, value_placeholder, value) in values {
            let name = name_placeholder.trim_start_matches('#');
            put = put
                .expression_attribute_names(*name_placeholder, name)
                .expression_attribute_values(*value_placeholder, value.clone());
        }
        let put = put
            .build()
            .map_err(|e| StoreError::Upstream(atelier_domain::UpstreamError::new("dynamodb", "Put", false, e)))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

impl Table {
    /// The month index entry a state change at `at` writes in its transaction: the
    /// workspace as it now is, under the month of the change. Unconditional: it carries
    /// only what the (conditional) workspace write carries, so a replay writes the same.
    fn month_entry(&self, workspace: &Workspace, at: Timestamp) -> Result<TransactWriteItem, StoreError> {
        let month = Month::containing(at, &MONTH_BOUNDARY);
        let put = Put::builder()
            .table_name(&self.name)
            .set_item(Some(month_item(month, workspace)?))
            .build()
            .map_err(|e| StoreError::Upstream(atelier_domain::UpstreamError::new("dynamodb", "Put", false, e)))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A conditional single-item put: [`StoreError::Conflict`] when the condition fails.
    async fn put_if(
        &self,
        item: HashMap<String, AttributeValue>,
        condition: &str,
        values: &[(&str, AttributeValue)],
    ) -> Result<(), StoreError> {
        let mut request =
            self.client.put_item().table_name(&self.name).set_item(Some(item)).condition_expression(condition);
        for (placeholder, value) in values {
            request = request.expression_attribute_values(*placeholder, value.clone());
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if crate::error_code(&e) == Some("ConditionalCheckFailedException") => Err(StoreError::Conflict),
            Err(e) => Err(upstream("dynamodb", "PutItem", e).into()),
        }
    }

    /// A versioned whole-document write: creates when `expected` is `None`, else replaces
    /// only the stored `version` `expected`.
    async fn put_versioned<T: Serialize>(&self, item: &T, expected: Option<u64>) -> Result<(), StoreError> {
        let item = to_item(item)?;
        match expected {
            None => self.put_if(item, "attribute_not_exists(pk)", &[]).await,
            Some(v) => self.put_if(item, "version = :v", &[(":v", AttributeValue::N(v.to_string()))]).await,
        }
    }
}

#[async_trait]
impl MonthIndex for Table {
    async fn indexed(&self, month: Month, page: &PageRequest) -> Result<Page<Workspace>, StoreError> {
        let page: Page<WorkspaceItem> =
            self.query_page(None, ("pk", month_pk(month)), Some(("sk", "WS#")), false, page).await?;
        Ok(Page {
            items: page.items.into_iter().map(Workspace::try_from).collect::<Result<_, _>>()?,
            next_token: page.next_token,
        })
    }

    async fn add(&self, month: Month, workspace: &Workspace) -> Result<(), StoreError> {
        // An entry written by a state change is newer than this snapshot: keep it.
        match self.put_if(month_item(month, workspace)?, "attribute_not_exists(pk)", &[]).await {
            Ok(()) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn sealed(&self, month: Month) -> Result<bool, StoreError> {
        Ok(self.get_item(month_pk(month), "SEALED".into()).await?.is_some())
    }

    async fn seal(&self, month: Month, at: Timestamp) -> Result<(), StoreError> {
        let item = SealItem { pk: month_pk(month), sk: "SEALED".into(), sealed_at: at };
        match self.put_if(to_item(&item)?, "attribute_not_exists(pk)", &[]).await {
            Ok(()) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn closed(&self, month: Month) -> Result<bool, StoreError> {
        Ok(self.get_item(month_pk(month), CLOSED_SK.into()).await?.is_some())
    }

    async fn put_lines(&self, month: Month, lines: &[WorkspaceCost]) -> Result<(), StoreError> {
        for chunk in lines.chunks(atelier_domain::costs::ledger::LINES_PER_WRITE) {
            let mut requests = chunk
                .iter()
                .map(|line| {
                    let put =
                        PutRequest::builder().set_item(Some(to_item(&LineItem::new(month, line))?)).build().map_err(
                            |e| StoreError::Upstream(atelier_domain::UpstreamError::new("dynamodb", "Put", false, e)),
                        )?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            // Unprocessed items (throttling) are sent again, backing off; the puts are
            // idempotent (same key, same line).
            for attempt in 0..LINE_WRITE_ATTEMPTS {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.name, requests)
                    .send()
                    .await
                    .map_err(|e| upstream("dynamodb", "BatchWriteItem", e))?;
                requests = output.unprocessed_items.and_then(|mut u| u.remove(&self.name)).unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
            if !requests.is_empty() {
                return Err(StoreError::Upstream(atelier_domain::UpstreamError::new(
                    "dynamodb",
                    "BatchWriteItem",
                    true,
                    format!("{} lines still unprocessed after {LINE_WRITE_ATTEMPTS} attempts", requests.len()),
                )));
            }
        }
        Ok(())
    }

    async fn close(&self, month: Month, at: Timestamp) -> Result<(), StoreError> {
        let item = SealItem { pk: month_pk(month), sk: CLOSED_SK.into(), sealed_at: at };
        match self.put_if(to_item(&item)?, "attribute_not_exists(pk)", &[]).await {
            Ok(()) | Err(StoreError::Conflict) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn lines(&self, month: Month, page: &PageRequest) -> Result<Page<WorkspaceCost>, StoreError> {
        let page: Page<LineItem> =
            self.query_page(None, ("pk", month_pk(month)), Some(("sk", "LINE#")), false, page).await?;
        Ok(Page {
            items: page.items.into_iter().map(WorkspaceCost::try_from).collect::<Result<_, _>>()?,
            next_token: page.next_token,
        })
    }

    async fn changed_since(
        &self,
        state: State,
        since: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<Workspace>, StoreError> {
        let pk = format!("STATE#{state}");
        let start = page.token.as_deref().map(|t| decode_token(t, "statePk", &pk)).transpose()?;
        let output = self
            .client
            .query()
            .table_name(&self.name)
            .index_name(BY_STATE)
            .key_condition_expression("statePk = :pk AND stateSk >= :since")
            .expression_attribute_values(":pk", AttributeValue::S(pk))
            .expression_attribute_values(":since", AttributeValue::S(sort_instant(since)))
            .limit(page.limit.clamp(1, MAX_PAGE_SIZE) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| upstream("dynamodb", "Query", e))?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| from_item::<WorkspaceItem>(i).and_then(Workspace::try_from))
            .collect::<Result<Vec<_>, _>>()?;
        let next_token = output.last_evaluated_key.map(|k| encode_token(&k)).transpose()?;
        Ok(Page { items, next_token })
    }
}

const BUDGET_DEFAULT_PK: &str = "CONFIG#budget";
const BUDGET_DEFAULT_SK: &str = "CONFIG";
const BUDGETS_PK: &str = "BUDGET";

fn user_budget_sk(user: &str) -> String {
    format!("USER#{user}")
}

fn crossing_pk(month: &str) -> String {
    format!("BUDGETEVENT#{month}")
}

fn crossing_sk(user: &str, threshold: u16) -> String {
    format!("{user}#{threshold:04}")
}

/// A budget rule with its version.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BudgetItem {
    pk: String,
    sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(flatten)]
    budget: Budget,
    version: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CrossingItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    crossing: Crossing,
}

const CLOSED_SK: &str = "CLOSED";

/// `BatchWriteItem` calls per chunk of lines before giving up on unprocessed items.
const LINE_WRITE_ATTEMPTS: u32 = 5;

/// A closed month's line (amounts as decimal strings, exactly as computed).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LineItem {
    pk: String,
    sk: String,
    workspace_id: String,
    workspace_name: String,
    owner: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cost_centre: Option<String>,
    product_id: String,
    instance_type: String,
    volume_gib: u32,
    created_at: Timestamp,
    running_seconds: Decimal,
    stopped_seconds: Decimal,
    compute: Decimal,
    storage: Decimal,
    total: Decimal,
    currency: String,
}

impl LineItem {
    /// The line's item; the e-mail is not stored (reports take it from the directory).
    fn new(month: Month, line: &WorkspaceCost) -> Self {
        let info = &line.info;
        LineItem {
            pk: month_pk(month),
            sk: format!("LINE#{}#{}", sort_instant(info.created_at), info.workspace_id),
            workspace_id: info.workspace_id.to_string(),
            workspace_name: info.workspace_name.clone(),
            owner: info.owner.clone(),
            cost_centre: info.cost_centre.clone(),
            product_id: info.product.to_string(),
            instance_type: info.instance_type.clone(),
            volume_gib: info.volume_gib,
            created_at: info.created_at,
            running_seconds: line.running_seconds,
            stopped_seconds: line.stopped_seconds,
            compute: line.compute,
            storage: line.storage,
            total: line.total,
            currency: line.currency.clone(),
        }
    }
}

impl TryFrom<LineItem> for WorkspaceCost {
    type Error = StoreError;
    fn try_from(i: LineItem) -> Result<Self, StoreError> {
        let month =
            i.pk.strip_prefix("COSTMONTH#")
                .and_then(|m| m.split_once('-'))
                .and_then(|(y, m)| Month::new(y.parse().ok()?, m.parse().ok()?))
                .ok_or_else(|| corrupt("line month", &i.pk))?;
        Ok(WorkspaceCost {
            month,
            info: WorkspaceInfo {
                workspace_id: WorkspaceId::parse(&i.workspace_id).map_err(|e| corrupt("workspace id", e))?,
                workspace_name: i.workspace_name,
                owner: i.owner,
                email: String::new(),
                cost_centre: i.cost_centre,
                product: ProductId::parse(&i.product_id).map_err(|e| corrupt("product id", e))?,
                instance_type: i.instance_type,
                volume_gib: i.volume_gib,
                created_at: i.created_at,
            },
            running_seconds: i.running_seconds,
            stopped_seconds: i.stopped_seconds,
            compute: i.compute,
            storage: i.storage,
            total: i.total,
            currency: i.currency,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SealItem {
    pk: String,
    sk: String,
    sealed_at: Timestamp,
}

/// A month's Cost Explorer actuals, as one JSON document (a few hundred bytes per user:
/// well under the 400 KB item limit at a thousand users).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActualsItem {
    pk: String,
    sk: String,
    actuals: String,
}

impl Table {
    async fn budget_at(&self, pk: String, sk: String) -> Result<Option<Versioned<Budget>>, StoreError> {
        let Some(item) = self.get_item(pk, sk).await? else { return Ok(None) };
        let item: BudgetItem = from_item(item)?;
        Ok(Some(Versioned { value: item.budget, version: item.version }))
    }
}

#[async_trait]
impl BudgetStore for Table {
    async fn org_budget(&self) -> Result<Option<Versioned<Budget>>, StoreError> {
        self.budget_at(BUDGET_DEFAULT_PK.into(), BUDGET_DEFAULT_SK.into()).await
    }

    async fn put_org_budget(&self, budget: &Budget, expected: Option<u64>) -> Result<(), StoreError> {
        let item = BudgetItem {
            pk: BUDGET_DEFAULT_PK.into(),
            sk: BUDGET_DEFAULT_SK.into(),
            user: None,
            budget: budget.clone(),
            version: expected.unwrap_or(0) + 1,
        };
        self.put_versioned(&item, expected).await
    }

    async fn user_budget(&self, user: &str) -> Result<Option<Versioned<Budget>>, StoreError> {
        self.budget_at(BUDGETS_PK.into(), user_budget_sk(user)).await
    }

    async fn put_user_budget(&self, user: &str, budget: &Budget, expected: Option<u64>) -> Result<(), StoreError> {
        let item = BudgetItem {
            pk: BUDGETS_PK.into(),
            sk: user_budget_sk(user),
            user: Some(user.to_owned()),
            budget: budget.clone(),
            version: expected.unwrap_or(0) + 1,
        };
        self.put_versioned(&item, expected).await
    }

    async fn delete_user_budget(&self, user: &str, expected: u64) -> Result<(), StoreError> {
        match self
            .client
            .delete_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(BUDGETS_PK.into()))
            .key("sk", AttributeValue::S(user_budget_sk(user)))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", AttributeValue::N(expected.to_string()))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if crate::error_code(&e) == Some("ConditionalCheckFailedException") => Err(StoreError::Conflict),
            Err(e) => Err(upstream("dynamodb", "DeleteItem", e).into()),
        }
    }

    async fn user_budgets(&self, page: &PageRequest) -> Result<Page<(String, Budget)>, StoreError> {
        let page: Page<BudgetItem> =
            self.query_page(None, ("pk", BUDGETS_PK.into()), Some(("sk", "USER#")), false, page).await?;
        let items = page
            .items
            .into_iter()
            .map(|i| Ok((i.user.ok_or_else(|| corrupt("budget", "no user"))?, i.budget)))
            .collect::<Result<_, StoreError>>()?;
        Ok(Page { items, next_token: page.next_token })
    }

    async fn record_crossing(&self, crossing: &Crossing) -> Result<bool, StoreError> {
        let item = CrossingItem {
            pk: crossing_pk(&crossing.month),
            sk: crossing_sk(&crossing.user, crossing.threshold),
            crossing: crossing.clone(),
        };
        match self.put_if(to_item(&item)?, "attribute_not_exists(pk)", &[]).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn crossings(
        &self,
        month: Month,
        user: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Crossing>, StoreError> {
        let prefix = user.map(|u| format!("{u}#"));
        let page: Page<CrossingItem> = self
            .query_page(
                None,
                ("pk", crossing_pk(&month.to_string())),
                prefix.as_deref().map(|p| ("sk", p)),
                false,
                page,
            )
            .await?;
        let items = page.items.into_iter().map(|i| i.crossing).filter(|c| user.is_none_or(|u| c.user == u)).collect();
        Ok(Page { items, next_token: page.next_token })
    }
}

#[async_trait]
impl ActualStore for Table {
    async fn actuals(&self, month: Month) -> Result<Actuals, StoreError> {
        let Some(item) = self.get_item(format!("ACTUALS#{month}"), "ACTUALS".into()).await? else {
            return Ok(Actuals::default());
        };
        let item: ActualsItem = from_item(item)?;
        serde_json::from_str(&item.actuals).map_err(|e| corrupt("actuals", e))
    }

    async fn put_actuals(&self, month: Month, actuals: &Actuals) -> Result<(), StoreError> {
        let item = ActualsItem {
            pk: format!("ACTUALS#{month}"),
            sk: "ACTUALS".into(),
            actuals: serde_json::to_string(actuals).map_err(|e| corrupt("actuals", e))?,
        };
        // Cost Explorer's answer for the month replaces the previous one as a whole.
        self.replace_item(&item).await
    }
}

/// A transaction DynamoDB cancelled because an item was throttled: worth retrying later
/// (the SDK does not retry cancelled transactions itself).
fn throttled<R>(err: aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>) -> atelier_domain::UpstreamError
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let mut err = upstream("dynamodb", "TransactWriteItems", err);
    err.retryable = true;
    err
}

/// The cancellation reason codes of a cancelled transaction, in item order.
fn cancellation_codes<R>(err: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError, R>) -> Option<Vec<String>> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => {
            Some(e.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect())
        }
        _ => None,
    }
}

/// The attributes that put an item in a secondary index.
const INDEX_ATTRIBUTES: [&str; 6] = ["ownerPk", "ownerSk", "statePk", "stateSk", "kindPk", "kindSk"];

fn month_pk(month: Month) -> String {
    format!("COSTMONTH#{month}")
}

fn month_sk(workspace: &Workspace) -> String {
    format!("WS#{}#{}", sort_instant(workspace.created_at), workspace.id)
}

/// A month index entry: the workspace's item without its index keys, under the month.
fn month_item(month: Month, workspace: &Workspace) -> Result<HashMap<String, AttributeValue>, StoreError> {
    let mut item = to_item(&WorkspaceItem::try_from(workspace)?)?;
    for attribute in INDEX_ATTRIBUTES {
        item.remove(attribute);
    }
    item.insert("pk".into(), AttributeValue::S(month_pk(month)));
    item.insert("sk".into(), AttributeValue::S(month_sk(workspace)));
    Ok(item)
}

const ACTIVE_SK: &str = "ACTIVE";

fn active_pk(owner: &str) -> String {
    format!("USER#{owner}")
}

/// Whether a workspace in `state` counts against its owner's cap.
fn is_active(state: State) -> bool {
    !state.is_ended()
}

/// Whether item `index` of a cancelled transaction failed its condition.
fn failed_check(codes: &[String], index: usize) -> bool {
    codes.get(index).is_some_and(|c| c == "ConditionalCheckFailed")
}

fn idempotency_pk(owner: &str, key: &str) -> String {
    format!("IDEM#{owner}#{key}")
}

/// Sort-key form of an instant: zero-padded microseconds since the epoch, so that string
/// order is time order.
fn sort_instant(t: Timestamp) -> String {
    format!("{:020}", t.as_microsecond())
}

fn to_item<T: Serialize>(value: &T) -> Result<HashMap<String, AttributeValue>, StoreError> {
    serde_dynamo::to_item(value)
        .map_err(|e| StoreError::Upstream(atelier_domain::UpstreamError::new("dynamodb", "encode", false, e)))
}

fn from_item<T: DeserializeOwned>(item: HashMap<String, AttributeValue>) -> Result<T, StoreError> {
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::Upstream(atelier_domain::UpstreamError::new("dynamodb", "decode", false, e)))
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Upstream(atelier_domain::UpstreamError::new(
        "dynamodb",
        "decode",
        false,
        format!("stored {what} is not valid: {detail}"),
    ))
}

/// Page tokens are the `LastEvaluatedKey` (all string attributes), base64url JSON. On the
/// way back in, the token must belong to the same list (same partition): a token from
/// another user's list is refused rather than followed.
fn encode_token(key: &HashMap<String, AttributeValue>) -> Result<String, StoreError> {
    let mut plain = std::collections::BTreeMap::new();
    for (name, value) in key {
        let AttributeValue::S(s) = value else { return Err(corrupt("page key", name)) };
        plain.insert(name.clone(), s.clone());
    }
    let json = serde_json::to_vec(&plain).map_err(|e| corrupt("page key", e))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

fn decode_token(token: &str, pk_attr: &str, pk_value: &str) -> Result<HashMap<String, AttributeValue>, StoreError> {
    if token.len() > 2048 {
        return Err(StoreError::BadPageToken);
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| StoreError::BadPageToken)?;
    let plain: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| StoreError::BadPageToken)?;
    if plain.get(pk_attr).map(String::as_str) != Some(pk_value) || plain.len() > 4 {
        return Err(StoreError::BadPageToken);
    }
    let allowed = ["pk", "sk", "ownerPk", "ownerSk", "statePk", "stateSk", "kindPk", "kindSk"];
    if !plain.keys().all(|k| allowed.contains(&k.as_str())) {
        return Err(StoreError::BadPageToken);
    }
    Ok(plain.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkspaceItem {
    pk: String,
    sk: String,
    // Index keys: absent on month index snapshots, which must stay out of the indexes.
    #[serde(default)]
    owner_pk: String,
    #[serde(default)]
    owner_sk: String,
    #[serde(default)]
    state_pk: String,
    #[serde(default)]
    state_sk: String,
    #[serde(default)]
    kind_pk: String,
    #[serde(default)]
    kind_sk: String,
    id: String,
    name: String,
    owner: String,
    owner_sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cost_centre: Option<String>,
    product_id: String,
    instance_type: String,
    hibernation: bool,
    state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    provisioned_product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    record_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    instance_id: Option<String>,
    provision_token: String,
    created_at: Timestamp,
    updated_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    version: u64,
    /// The schedule's wire JSON; absent on items written before schedules existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    schedule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    override_until: Option<Timestamp>,
    /// Attached dataset ids (docs/adr/0007-datasets.md); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    datasets: Vec<String>,
}

impl TryFrom<&Workspace> for WorkspaceItem {
    type Error = StoreError;
    fn try_from(w: &Workspace) -> Result<Self, StoreError> {
        let created = format!("{}#{}", sort_instant(w.created_at), w.id);
        Ok(Self {
            pk: format!("WS#{}", w.id),
            sk: "WS".into(),
            owner_pk: format!("OWNER#{}", w.owner.username),
            owner_sk: created.clone(),
            state_pk: format!("STATE#{}", w.state),
            state_sk: format!("{}#{}", sort_instant(w.updated_at), w.id),
            kind_pk: "WS".into(),
            kind_sk: created,
            id: w.id.to_string(),
            name: w.name.as_str().to_owned(),
            owner: w.owner.username.clone(),
            owner_sub: w.owner.sub.clone(),
            cost_centre: w.owner.cost_centre.clone(),
            product_id: w.product_id.to_string(),
            instance_type: w.instance_type.clone(),
            hibernation: w.hibernation,
            state: w.state.as_str().to_owned(),
            provisioned_product_id: w.provisioned.provisioned_product_id.clone(),
            record_id: w.provisioned.record_id.clone(),
            instance_id: w.provisioned.instance_id.clone(),
            provision_token: w.provision_token.clone(),
            created_at: w.created_at,
            updated_at: w.updated_at,
            error: w.error.clone(),
            version: w.version,
            schedule: Some(encode_schedule(&w.schedule)?),
            override_until: w.schedule.override_until().map(|o| o.until()),
            datasets: w.datasets.iter().map(ToString::to_string).collect(),
        })
    }
}

impl TryFrom<WorkspaceItem> for Workspace {
    type Error = StoreError;
    fn try_from(i: WorkspaceItem) -> Result<Self, StoreError> {
        Ok(Workspace {
            id: WorkspaceId::parse(&i.id).map_err(|e| corrupt("workspace id", e))?,
            name: WorkspaceName::parse(&i.name).map_err(|e| corrupt("workspace name", e))?,
            owner: Owner { username: i.owner, sub: i.owner_sub, cost_centre: i.cost_centre },
            product_id: ProductId::parse(&i.product_id).map_err(|e| corrupt("product id", e))?,
            instance_type: i.instance_type,
            hibernation: i.hibernation,
            state: State::parse(&i.state).ok_or_else(|| corrupt("state", &i.state))?,
            provisioned: Provisioned {
                provisioned_product_id: i.provisioned_product_id,
                record_id: i.record_id,
                instance_id: i.instance_id,
            },
            provision_token: i.provision_token,
            created_at: i.created_at,
            updated_at: i.updated_at,
            error: i.error,
            version: i.version,
            schedule: i
                .schedule
                .as_deref()
                .map(decode_schedule)
                .transpose()?
                .unwrap_or_default()
                .with_override(i.override_until.map(Override::restore)),
            datasets: i
                .datasets
                .iter()
                .map(|d| atelier_domain::datasets::DatasetId::parse(d).map_err(|e| corrupt("dataset id", e)))
                .collect::<Result<_, _>>()?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct EventItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    event: Event,
}

impl EventItem {
    fn new(id: &WorkspaceId, version: u64, event: &Event) -> Self {
        Self {
            pk: format!("WS#{id}"),
            sk: format!("EV#{}#{version:010}", sort_instant(event.at)),
            event: event.clone(),
        }
    }
}

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
            pk: idempotency_pk(&r.owner, &r.key),
            sk: "IDEM".into(),
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

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductItem {
    pk: String,
    sk: String,
    kind_pk: String,
    kind_sk: String,
    #[serde(flatten)]
    product: Product,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_instants_order_like_time() {
        let a = Timestamp::from_second(1).unwrap();
        let b = Timestamp::from_second(1_000_000_000).unwrap();
        assert!(sort_instant(a) < sort_instant(b));
    }

    #[test]
    fn page_tokens_round_trip_and_stay_in_their_list() {
        let key = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("WS#x".into())),
            ("ownerPk".to_owned(), AttributeValue::S("OWNER#alice".into())),
        ]);
        let token = encode_token(&key).unwrap();
        assert_eq!(decode_token(&token, "ownerPk", "OWNER#alice").unwrap(), key);
        assert!(matches!(decode_token(&token, "ownerPk", "OWNER#bob"), Err(StoreError::BadPageToken)));
        assert!(matches!(decode_token("not base64!", "ownerPk", "OWNER#alice"), Err(StoreError::BadPageToken)));
    }
}
