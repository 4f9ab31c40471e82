//! [`MemoryStore`]: every storage port in memory (the DynamoDB table's ports), paging
//! like DynamoDB: at most `limit` items a page (and at most [`MemoryStore::with_page_size`]),
//! an opaque token to continue that only the list which handed it out accepts
//! ([`StoreError::BadPageToken`] otherwise), items cloned out as a query decodes them. The
//! writes keep the side effects the ports' contracts promise, as the adapter's
//! transactions do: the month index entry and the owner's active-workspace count move
//! with every workspace write, conditional writes check version and expected state.
//!
//! One file per area: [`workspaces`](self) (workspaces, catalog), costs (month index,
//! budgets, actuals), schedule (default schedule, scheduler runs), datasets; and the
//! exports bucket ([`MemoryExports`]), the one object store.

mod apps;
mod catalog;
mod costs;
mod datasets;
mod exports;
mod schedule;
#[cfg(test)]
mod tests;
mod workspaces;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use jiff::Timestamp;

pub use exports::{MemoryExports, StoredExport};

use crate::catalog::Product;
use crate::costs::{Actuals, Budget, Crossing, MONTH_BOUNDARY, Month, Versioned, WorkspaceCost};
use crate::datasets::ports::Attachment;
use crate::datasets::{AccessEvent, Dataset, DatasetId};
use crate::kernel::{MAX_PAGE_SIZE, Page, PageRequest, ProductId, StoreError, WorkspaceId};
use crate::schedule::Schedule;
use crate::workspaces::{Event, IdempotencyRecord, Workspace};

/// The cap on active workspaces per owner unless told otherwise (the adapter's default).
pub const DEFAULT_MAX_ACTIVE: u32 = 5;

/// A month index key: (creation µs, id), oldest workspace first.
type IndexKey = (i64, WorkspaceId);

/// Everything in one lock.
#[derive(Default)]
struct Data {
    workspaces: BTreeMap<WorkspaceId, Workspace>,
    /// Oldest first.
    events: HashMap<WorkspaceId, Vec<Event>>,
    /// (owner, key) → record.
    idempotency: HashMap<(String, String), IdempotencyRecord>,
    /// Owner → active workspaces (neither TERMINATED nor FAILED), as the adapter's counter.
    active: HashMap<String, u32>,
    products: BTreeMap<ProductId, Product>,
    /// In the order written.
    product_events: Vec<crate::catalog::CatalogEvent>,
    /// month → (created µs, id) → workspace snapshot.
    index: BTreeMap<Month, BTreeMap<IndexKey, Workspace>>,
    sealed: BTreeMap<Month, Timestamp>,
    /// month → (created µs, id) → a closed month's stored line.
    lines: BTreeMap<Month, BTreeMap<IndexKey, WorkspaceCost>>,
    closed: BTreeMap<Month, Timestamp>,
    org_budget: Option<Versioned<Budget>>,
    user_budgets: BTreeMap<String, Versioned<Budget>>,
    /// (month, user, revision, threshold) → crossing.
    crossings: BTreeMap<(String, String, String, u16), Crossing>,
    /// month → the last full pass's within-reach list.
    reach: BTreeMap<Month, crate::costs::Reach>,
    /// Months that had their final budget evaluation.
    evaluated: BTreeMap<Month, Timestamp>,
    /// id → notification.
    notifications: BTreeMap<String, crate::notifications::Notification>,
    actuals: BTreeMap<Month, Actuals>,
    /// (user, month) → recorded cost-centre change.
    cost_centres: BTreeMap<(String, Month), crate::costs::CostCentreChange>,
    /// (from, to, day, revision) → exchange rate.
    exchange_rates: BTreeMap<(String, String, jiff::civil::Date, u32), crate::costs::ExchangeRate>,
    default_schedule: Option<Schedule>,
    last_run: Option<Timestamp>,
    datasets: BTreeMap<DatasetId, Dataset>,
    /// (dataset, workspace) → open attachment.
    attachments: BTreeMap<(DatasetId, WorkspaceId), Attachment>,
    /// In the order written (stable-sorted by instant when read).
    access_events: Vec<AccessEvent>,
    policies: HashMap<WorkspaceId, String>,
    /// (workspace, admin sub) → break-glass grant.
    grants: BTreeMap<(WorkspaceId, String), crate::apps::BreakGlass>,
    /// Keys of the connection events recorded.
    recorded: std::collections::HashSet<(WorkspaceId, String)>,
}

/// The in-memory store behind every storage port: [`WorkspaceStore`](crate::workspaces::WorkspaceStore),
/// [`Catalog`](crate::catalog::Catalog), [`MonthIndex`](crate::costs::MonthIndex),
/// [`BudgetStore`](crate::costs::BudgetStore), [`ActualStore`](crate::costs::ActualStore),
/// [`ScheduleDefaults`](crate::schedule::ScheduleDefaults),
/// [`SchedulerRuns`](crate::schedule::SchedulerRuns) and
/// [`DatasetStore`](crate::datasets::DatasetStore). Faults are injected around it with
/// [`super::Hooked`].
pub struct MemoryStore {
    data: Mutex<Data>,
    page_size: u32,
    max_active: u32,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self { data: Mutex::default(), page_size: MAX_PAGE_SIZE, max_active: DEFAULT_MAX_ACTIVE }
    }
}

impl MemoryStore {
    /// An empty store: pages of up to [`MAX_PAGE_SIZE`] items, [`DEFAULT_MAX_ACTIVE`]
    /// active workspaces per owner.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same store answering at most `size` items a page, whatever the caller asks
    /// (as DynamoDB stops a page at 1 MB): for tests of reading page by page.
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = size.max(1);
        self
    }

    /// The same store letting each owner have at most `max` active workspaces
    /// ([`Inserted::ActiveLimit`](crate::workspaces::Inserted::ActiveLimit)).
    pub fn with_max_active(mut self, max: u32) -> Self {
        self.max_active = max;
        self
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().expect("memory store lock")
    }

    /// How many items a page of `page` holds here.
    fn limit(&self, page: &PageRequest) -> usize {
        page.limit.clamp(1, MAX_PAGE_SIZE).min(self.page_size) as usize
    }

    /// Adds (or replaces) a catalog product.
    pub fn put_product(&self, product: Product) {
        self.lock().products.insert(product.id.clone(), product);
    }

    /// Stores `workspace` as it is, with no history: for tests whose subject is not the
    /// history (the owner's active count moves as a write would move it).
    pub fn put_workspace(&self, workspace: Workspace) {
        self.load(workspace, Vec::new());
    }

    /// Loads a workspace with its whole history at once (benchmarks), indexing it under
    /// every month of an event and counting it when active, as the adapter's transactions
    /// would have.
    pub fn load(&self, workspace: Workspace, events: Vec<Event>) {
        let mut data = self.lock();
        for event in &events {
            index_event(&mut data, &workspace, event);
        }
        if let Some(before) = data.workspaces.get(&workspace.id) {
            let (owner, was_active) = (before.owner.username.clone(), is_active(before));
            move_active(&mut data, &owner, -i64::from(was_active));
        }
        move_active(&mut data, &workspace.owner.username, i64::from(is_active(&workspace)));
        data.events.insert(workspace.id.clone(), events);
        data.workspaces.insert(workspace.id.clone(), workspace);
    }

    /// The stored workspace `id`, if any.
    pub fn workspace(&self, id: &WorkspaceId) -> Option<Workspace> {
        self.lock().workspaces.get(id).cloned()
    }

    /// The history of workspace `id`, oldest first.
    pub fn history(&self, id: &WorkspaceId) -> Vec<Event> {
        self.lock().events.get(id).cloned().unwrap_or_default()
    }

    /// Every event of every workspace, by workspace id, each history oldest first.
    pub fn all_events(&self) -> Vec<(WorkspaceId, Event)> {
        let data = self.lock();
        let mut ids: Vec<&WorkspaceId> = data.events.keys().collect();
        ids.sort();
        ids.into_iter().flat_map(|id| data.events[id].iter().map(move |e| (id.clone(), e.clone()))).collect()
    }

    /// How many active workspaces the counter says `owner` has.
    pub fn active_workspaces(&self, owner: &str) -> u32 {
        self.lock().active.get(owner).copied().unwrap_or(0)
    }

    /// The workspaces indexed under `month`, oldest first (all pages at once).
    pub fn indexed_ids(&self, month: Month) -> Vec<WorkspaceId> {
        self.lock().index.get(&month).map(|m| m.values().map(|w| w.id.clone()).collect()).unwrap_or_default()
    }
}

fn is_active(workspace: &Workspace) -> bool {
    !workspace.state.is_ended()
}

fn move_active(data: &mut Data, owner: &str, delta: i64) {
    if delta != 0 {
        let count = data.active.entry(owner.to_owned()).or_default();
        *count = u32::try_from((i64::from(*count) + delta).max(0)).unwrap_or(u32::MAX);
    }
}

fn index_key(w: &Workspace) -> IndexKey {
    (w.created_at.as_microsecond(), w.id.clone())
}

/// The month index entry a write with `event` puts: the workspace as it now is, under
/// the month of the event.
fn index_event(data: &mut Data, workspace: &Workspace, event: &Event) {
    let month = Month::containing(event.at, &MONTH_BOUNDARY);
    data.index.entry(month).or_default().insert(index_key(workspace), workspace.clone());
}

/// A page token: the list it continues and where, so that a token handed out by one
/// list is refused by every other (the adapter's tokens carry their partition key).
fn token(list: &str, position: impl Display) -> String {
    format!("{list}:{position}")
}

/// Where `page` continues `list`: `None` from the start.
fn position<'p>(list: &str, page: &'p PageRequest) -> Result<Option<&'p str>, StoreError> {
    let Some(token) = page.token.as_deref() else { return Ok(None) };
    let rest = token.strip_prefix(list).and_then(|rest| rest.strip_prefix(':'));
    rest.filter(|rest| !rest.is_empty()).map(Some).ok_or(StoreError::BadPageToken)
}

/// The offset `page` continues `list` at.
fn offset(list: &str, page: &PageRequest) -> Result<usize, StoreError> {
    position(list, page)?.map_or(Ok(0), |at| at.parse().map_err(|_| StoreError::BadPageToken))
}

/// One page of `all` (the whole list, in its order), cloning only that page's items as a
/// query decodes only its page.
fn paged<T: Clone>(
    list: &str,
    all: &[impl std::borrow::Borrow<T>],
    page: &PageRequest,
    limit: usize,
) -> Result<Page<T>, StoreError> {
    let from = offset(list, page)?.min(all.len());
    let to = (from + limit).min(all.len());
    Ok(Page {
        items: all[from..to].iter().map(|item| item.borrow().clone()).collect(),
        next_token: (to < all.len()).then(|| token(list, to)),
    })
}

/// A page of `items` after the key in the page token, as `ExclusiveStartKey` continues a
/// DynamoDB query; the position is `<created µs>#<id>`.
fn keyed_page<V: Clone>(
    list: &str,
    items: Option<&BTreeMap<IndexKey, V>>,
    page: &PageRequest,
    limit: usize,
) -> Result<Page<V>, StoreError> {
    let after = match position(list, page)? {
        None => None,
        Some(at) => {
            let (micros, id) = at.split_once('#').ok_or(StoreError::BadPageToken)?;
            let micros = micros.parse().map_err(|_| StoreError::BadPageToken)?;
            Some((micros, WorkspaceId::parse(id).map_err(|_| StoreError::BadPageToken)?))
        }
    };
    let Some(items) = items else { return Ok(Page { items: Vec::new(), next_token: None }) };
    let range = match after {
        None => items.range::<IndexKey, _>(..),
        Some(key) => items.range((Bound::Excluded(key), Bound::Unbounded)),
    };
    let mut out = Vec::new();
    let mut last = None;
    let mut more = false;
    for (key, value) in range {
        if out.len() == limit {
            more = true;
            break;
        }
        out.push(value.clone());
        last = Some(key);
    }
    let next_token = if more { last.map(|(micros, id)| token(list, format!("{micros}#{id}"))) } else { None };
    Ok(Page { items: out, next_token })
}
