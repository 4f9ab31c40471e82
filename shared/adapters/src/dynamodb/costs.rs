//! The cost stores on the table (docs/adr/0006-costs.md): [`MonthIndex`] (each month's
//! index entries, its seal, and once closed its lines and marker, all under
//! `COSTMONTH#<YYYY-MM>`), [`BudgetStore`] (versioned budget documents and the crossings
//! the budget watch records once each) and [`ActualStore`] (a month's Cost Explorer
//! actuals, one document).

use async_trait::async_trait;
use atelier_domain::{
    ProductId, State, Workspace, WorkspaceId,
    costs::{
        ActualStore, Actuals, Budget, BudgetStore, Crossing, LinePart, Month, MonthIndex, Reach, Versioned,
        WorkspaceCost, WorkspaceInfo, ledger::LINES_PER_WRITE,
    },
    kernel::{Page, PageRequest, StoreError, UpstreamError},
    notifications::Notification,
};
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{
    BY_STATE, Table,
    items::{WorkspaceItem, build_error, corrupt, to_item, workspace},
    keys::{self, CLOSED_SK, CONFIG_SK, DEFAULT_BUDGET_PK, EVALUATED_SK, REACH_SK, SEALED_SK, USER_BUDGETS_PK},
    notifications::{NotificationItem, PendingItem},
    reads::Query,
    writes::Condition,
};
use crate::upstream;

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ended_at: Option<Timestamp>,
    running_seconds: Decimal,
    stopped_seconds: Decimal,
    compute: Decimal,
    storage: Decimal,
    total: Decimal,
    currency: String,
    /// By price version; absent on lines closed before parts were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    parts: Vec<LinePart>,
}

impl LineItem {
    /// The line's item; the e-mail is not stored (reports take it from the directory).
    fn new(month: Month, line: &WorkspaceCost) -> Self {
        let info = &line.info;
        LineItem {
            pk: keys::month_pk(month),
            sk: keys::line_sk(info.created_at, &info.workspace_id),
            workspace_id: info.workspace_id.to_string(),
            workspace_name: info.workspace_name.clone(),
            owner: info.owner.clone(),
            cost_centre: info.cost_centre.clone(),
            product_id: info.product.to_string(),
            instance_type: info.instance_type.clone(),
            volume_gib: info.volume_gib,
            created_at: info.created_at,
            ended_at: info.ended_at,
            running_seconds: line.running_seconds,
            stopped_seconds: line.stopped_seconds,
            compute: line.compute,
            storage: line.storage,
            total: line.total,
            currency: line.currency.clone(),
            parts: line.parts.clone(),
        }
    }
}

impl TryFrom<LineItem> for WorkspaceCost {
    type Error = StoreError;
    fn try_from(i: LineItem) -> Result<Self, StoreError> {
        Ok(WorkspaceCost {
            month: keys::month_of(&i.pk).ok_or_else(|| corrupt("line month", &i.pk))?,
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
                ended_at: i.ended_at,
            },
            running_seconds: i.running_seconds,
            stopped_seconds: i.stopped_seconds,
            compute: i.compute,
            storage: i.storage,
            total: i.total,
            currency: i.currency,
            parts: i.parts,
        })
    }
}

/// A month's seal or closed marker: when it was written.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SealItem {
    pk: String,
    sk: String,
    sealed_at: Timestamp,
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

/// A budget crossing, written once per user, month and threshold.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CrossingItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    crossing: Crossing,
}

/// A month's within-reach list (usernames: well under the 400 KB item limit at 20,000
/// users), written forward only on `passAt`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReachItem {
    pk: String,
    sk: String,
    pass_at: Timestamp,
    /// Sort-key form of `pass_at`, which the forward-only condition compares.
    pass_key: String,
    users: Vec<String>,
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

#[async_trait]
impl MonthIndex for Table {
    async fn indexed(&self, month: Month, page: &PageRequest) -> Result<Page<Workspace>, StoreError> {
        let query = Query::table(keys::month_pk(month)).begins_with(keys::MONTH_ENTRY_PREFIX);
        self.query_page(query, page, workspace).await
    }

    async fn add(&self, month: Month, workspace: &Workspace) -> Result<(), StoreError> {
        // An entry written by a state change is newer than this snapshot: keep it.
        self.put_new(&WorkspaceItem::month_entry(month, workspace)?).await.map(drop)
    }

    async fn sealed(&self, month: Month) -> Result<bool, StoreError> {
        Ok(self.get_item(keys::month_pk(month), SEALED_SK.into()).await?.is_some())
    }

    async fn seal(&self, month: Month, at: Timestamp) -> Result<(), StoreError> {
        self.put_new(&SealItem { pk: keys::month_pk(month), sk: SEALED_SK.into(), sealed_at: at }).await.map(drop)
    }

    async fn closed(&self, month: Month) -> Result<bool, StoreError> {
        Ok(self.get_item(keys::month_pk(month), CLOSED_SK.into()).await?.is_some())
    }

    async fn put_lines(&self, month: Month, lines: &[WorkspaceCost]) -> Result<(), StoreError> {
        for chunk in lines.chunks(LINES_PER_WRITE) {
            let mut requests = chunk
                .iter()
                .map(|line| {
                    let put = PutRequest::builder().set_item(Some(to_item(&LineItem::new(month, line))?));
                    Ok(WriteRequest::builder().put_request(put.build().map_err(build_error)?).build())
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
                return Err(StoreError::Upstream(UpstreamError::new(
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
        self.put_new(&SealItem { pk: keys::month_pk(month), sk: CLOSED_SK.into(), sealed_at: at }).await.map(drop)
    }

    async fn lines(&self, month: Month, page: &PageRequest) -> Result<Page<WorkspaceCost>, StoreError> {
        let query = Query::table(keys::month_pk(month)).begins_with(keys::LINE_PREFIX);
        self.query_page::<LineItem, _>(query, page, WorkspaceCost::try_from).await
    }

    async fn changed_since(
        &self,
        state: State,
        since: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<Workspace>, StoreError> {
        // `stateSk` begins with the update instant: from `since` on, oldest first.
        let query = Query::index(BY_STATE, keys::state_pk(state)).at_least(keys::sort_instant(since));
        self.query_page(query, page, workspace).await
    }
}

impl Table {
    async fn budget_at(&self, pk: String, sk: String) -> Result<Option<Versioned<Budget>>, StoreError> {
        let item: Option<BudgetItem> = self.get_as(pk, sk).await?;
        Ok(item.map(|item| Versioned { value: item.budget, version: item.version }))
    }

    /// Writes a budget document at the version after `expected`: a create when `expected` is
    /// `None`, else a replace of the stored version `expected` only.
    async fn put_budget(
        &self,
        (pk, sk): (String, String),
        user: Option<&str>,
        budget: &Budget,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let version = expected.unwrap_or(0) + 1;
        let item = BudgetItem { pk, sk, user: user.map(str::to_owned), budget: budget.clone(), version };
        self.put_item_if(&item, expected.map_or_else(Condition::absent, Condition::version)).await
    }
}

#[async_trait]
impl BudgetStore for Table {
    async fn org_budget(&self) -> Result<Option<Versioned<Budget>>, StoreError> {
        self.budget_at(DEFAULT_BUDGET_PK.into(), CONFIG_SK.into()).await
    }

    async fn put_org_budget(&self, budget: &Budget, expected: Option<u64>) -> Result<(), StoreError> {
        self.put_budget((DEFAULT_BUDGET_PK.into(), CONFIG_SK.into()), None, budget, expected).await
    }

    async fn user_budget(&self, user: &str) -> Result<Option<Versioned<Budget>>, StoreError> {
        self.budget_at(USER_BUDGETS_PK.into(), keys::user_budget_sk(user)).await
    }

    async fn put_user_budget(&self, user: &str, budget: &Budget, expected: Option<u64>) -> Result<(), StoreError> {
        self.put_budget((USER_BUDGETS_PK.into(), keys::user_budget_sk(user)), Some(user), budget, expected).await
    }

    async fn delete_user_budget(&self, user: &str, expected: u64) -> Result<(), StoreError> {
        self.delete_item_if(USER_BUDGETS_PK.into(), keys::user_budget_sk(user), Condition::version(expected)).await
    }

    async fn user_budgets(&self, page: &PageRequest) -> Result<Page<(String, Versioned<Budget>)>, StoreError> {
        let query = Query::table(USER_BUDGETS_PK).begins_with(keys::USER_BUDGET_PREFIX);
        self.query_page(query, page, |i: BudgetItem| {
            Ok((i.user.ok_or_else(|| corrupt("budget", "no user"))?, Versioned { value: i.budget, version: i.version }))
        })
        .await
    }

    /// One transaction: the crossing (`attribute_not_exists`), then each notification in its
    /// recipient's partition (`attribute_not_exists`) and in the pending list (derived from
    /// it). 1 + 2 × recipients items: at most 49 recipients (DynamoDB's 100 items).
    async fn record_crossing(&self, crossing: &Crossing, notifications: &[Notification]) -> Result<bool, StoreError> {
        let item = CrossingItem {
            pk: keys::crossing_pk(&crossing.month),
            sk: keys::crossing_sk(&crossing.user, &crossing.revision, crossing.threshold),
            crossing: crossing.clone(),
        };
        let mut transaction = self.transaction();
        let first = transaction.put_if(&item, Condition::absent())?;
        for notification in notifications {
            transaction.put_if(&NotificationItem::new(notification)?, Condition::absent())?;
            transaction.put(&PendingItem::new(notification)?)?;
        }
        match transaction.send().await {
            Ok(()) => Ok(true),
            Err(failed) if failed.failed_condition(first) => Ok(false),
            Err(failed) => Err(failed.into()),
        }
    }

    async fn crossed(&self, month: Month, user: &str, revision: &str, threshold: u16) -> Result<bool, StoreError> {
        let sk = keys::crossing_sk(user, revision, threshold);
        Ok(self.get_item(keys::crossing_pk(month), sk).await?.is_some())
    }

    async fn crossings(
        &self,
        month: Month,
        user: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Crossing>, StoreError> {
        let mut query = Query::table(keys::crossing_pk(month));
        if let Some(user) = user {
            query = query.begins_with(keys::crossing_prefix(user));
        }
        let mut page = self.query_page(query, page, |i: CrossingItem| Ok(i.crossing)).await?;
        // Only the user's own: a username containing `#` could share the `<user>#` prefix.
        page.items.retain(|c| user.is_none_or(|u| c.user == u));
        Ok(page)
    }

    async fn reach(&self, month: Month) -> Result<Option<Reach>, StoreError> {
        let item: Option<ReachItem> = self.get_as(keys::budget_watch_pk(month), REACH_SK.into()).await?;
        Ok(item.map(|i| Reach { pass_at: i.pass_at, users: i.users }))
    }

    async fn put_reach(&self, month: Month, reach: &Reach) -> Result<(), StoreError> {
        let pass_key = keys::sort_instant(reach.pass_at);
        let item = ReachItem {
            pk: keys::budget_watch_pk(month),
            sk: REACH_SK.into(),
            pass_at: reach.pass_at,
            pass_key: pass_key.clone(),
            users: reach.users.clone(),
        };
        let condition = Condition::new("attribute_not_exists(pk) OR #passKey < :pass_key")
            .name("passKey")
            .value(":pass_key", aws_sdk_dynamodb::types::AttributeValue::S(pass_key));
        self.put_item_if(&item, condition).await
    }

    async fn evaluated(&self, month: Month) -> Result<bool, StoreError> {
        Ok(self.get_item(keys::budget_watch_pk(month), EVALUATED_SK.into()).await?.is_some())
    }

    async fn mark_evaluated(&self, month: Month, at: Timestamp) -> Result<(), StoreError> {
        let item = SealItem { pk: keys::budget_watch_pk(month), sk: EVALUATED_SK.into(), sealed_at: at };
        self.put_new(&item).await.map(drop)
    }
}

#[async_trait]
impl ActualStore for Table {
    async fn actuals(&self, month: Month) -> Result<Actuals, StoreError> {
        let item: Option<ActualsItem> = self.get_as(keys::actuals_pk(month), keys::ACTUALS_SK.into()).await?;
        let Some(item) = item else { return Ok(Actuals::default()) };
        serde_json::from_str(&item.actuals).map_err(|e| corrupt("actuals", e))
    }

    async fn put_actuals(&self, month: Month, actuals: &Actuals) -> Result<(), StoreError> {
        let item = ActualsItem {
            pk: keys::actuals_pk(month),
            sk: keys::ACTUALS_SK.into(),
            actuals: serde_json::to_string(actuals).map_err(|e| corrupt("actuals", e))?,
        };
        // Cost Explorer's answer for the month replaces the previous one as a whole.
        self.replace_item(&item).await
    }
}
