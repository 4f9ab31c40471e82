//! In-memory implementations of the cost ports, for domain tests and benchmarks only
//! (feature `test-support`; production code uses the DynamoDB adapter). They page like
//! DynamoDB: at most `limit` items per page, an opaque token to continue, items cloned
//! out as a query would decode them, and the month index written with every state change
//! as the adapter's transaction does.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use jiff::Timestamp;

use crate::catalog::{Catalog, Product};
use crate::costs::{
    ActualStore, Actuals, Budget, BudgetStore, Crossing, MONTH_BOUNDARY, Month, MonthIndex, Versioned, WorkspaceCost,
};
use crate::kernel::{Page, PageRequest, ProductId, Profile, StoreError, UpstreamError, UserDirectory, WorkspaceId};
use crate::workspaces::{
    Event, IdempotencyRecord, Inserted, InstanceState, PowerSwitch, State, Workspace, WorkspaceFilter, WorkspaceStore,
};

/// Everything in one lock.
#[derive(Default)]
struct Data {
    workspaces: BTreeMap<WorkspaceId, Workspace>,
    /// Oldest first.
    events: HashMap<WorkspaceId, Vec<Event>>,
    products: BTreeMap<ProductId, Product>,
    /// month → (created µs, id) → workspace snapshot.
    index: BTreeMap<Month, BTreeMap<(i64, WorkspaceId), Workspace>>,
    sealed: BTreeMap<Month, Timestamp>,
    /// month → (created µs, id) → a closed month's stored line.
    lines: BTreeMap<Month, BTreeMap<(i64, WorkspaceId), WorkspaceCost>>,
    closed: BTreeMap<Month, Timestamp>,
    org_budget: Option<Versioned<Budget>>,
    user_budgets: BTreeMap<String, Versioned<Budget>>,
    crossings: BTreeMap<(String, String, u16), Crossing>,
    actuals: BTreeMap<Month, Actuals>,
    profiles: HashMap<String, Profile>,
    stopped: Vec<String>,
}

/// The in-memory store behind every cost port.
#[derive(Default)]
pub struct MemoryStore {
    data: Mutex<Data>,
}

fn token_of(n: usize, len: usize) -> Option<String> {
    (n < len).then(|| n.to_string())
}

fn start_of(page: &PageRequest) -> Result<usize, StoreError> {
    page.token.as_deref().map_or(Ok(0), str::parse).map_err(|_| StoreError::BadPageToken)
}

/// One page of `all`, cloning only that page's items (as a query decodes only its page).
fn paged<T: Clone>(all: &[impl std::borrow::Borrow<T>], page: &PageRequest) -> Result<Page<T>, StoreError> {
    let from = start_of(page)?.min(all.len());
    let to = (from + page.limit as usize).min(all.len());
    Ok(Page {
        items: all[from..to].iter().map(|item| item.borrow().clone()).collect(),
        next_token: token_of(to, all.len()),
    })
}

impl MemoryStore {
    fn lock(&self) -> MutexGuard<'_, Data> {
        self.data.lock().expect("memory store lock")
    }

    /// Adds a catalog product.
    pub fn put_product(&self, product: Product) {
        self.lock().products.insert(product.id.clone(), product);
    }

    /// Sets a user's directory profile.
    pub fn put_profile(&self, user: &str, profile: Profile) {
        self.lock().profiles.insert(user.to_owned(), profile);
    }

    /// Instances stopped through [`PowerSwitch::stop`].
    pub fn stopped(&self) -> Vec<String> {
        self.lock().stopped.clone()
    }

    /// Loads a workspace with its whole history at once (benchmarks), indexing it under
    /// every month of an event, as the adapter's transactions would have.
    pub fn load(&self, workspace: Workspace, events: Vec<Event>) {
        let mut data = self.lock();
        for event in &events {
            let month = Month::containing(event.at, &MONTH_BOUNDARY);
            data.index.entry(month).or_default().insert(index_key(&workspace), workspace.clone());
        }
        data.events.insert(workspace.id.clone(), events);
        data.workspaces.insert(workspace.id.clone(), workspace);
    }
}

/// A page of `items` after the key in the page token, as `ExclusiveStartKey` continues a
/// DynamoDB query; the token is `<created µs>#<id>`.
fn keyed_page<V: Clone>(
    items: Option<&BTreeMap<(i64, WorkspaceId), V>>,
    page: &PageRequest,
) -> Result<Page<V>, StoreError> {
    let Some(items) = items else { return Ok(Page { items: Vec::new(), next_token: None }) };
    let after: Option<(i64, WorkspaceId)> = match page.token.as_deref() {
        None => None,
        Some(token) => {
            let (at, id) = token.split_once('#').ok_or(StoreError::BadPageToken)?;
            let at = at.parse().map_err(|_| StoreError::BadPageToken)?;
            Some((at, WorkspaceId::parse(id).map_err(|_| StoreError::BadPageToken)?))
        }
    };
    let range = match after {
        None => items.range(..),
        Some(key) => items.range((Bound::Excluded(key), Bound::Unbounded)),
    };
    let mut out = Vec::new();
    let mut last = None;
    let mut more = false;
    for (key, value) in range {
        if out.len() == page.limit as usize {
            more = true;
            break;
        }
        out.push(value.clone());
        last = Some(key);
    }
    let next_token = if more { last.map(|(at, id)| format!("{at}#{id}")) } else { None };
    Ok(Page { items: out, next_token })
}

fn index_key(w: &Workspace) -> (i64, WorkspaceId) {
    (w.created_at.as_microsecond(), w.id.clone())
}

fn index_event(data: &mut Data, workspace: &Workspace, event: &Event) {
    let month = Month::containing(event.at, &MONTH_BOUNDARY);
    data.index.entry(month).or_default().insert(index_key(workspace), workspace.clone());
}

#[async_trait]
impl WorkspaceStore for MemoryStore {
    async fn insert(
        &self,
        workspace: &Workspace,
        event: &Event,
        _: Option<&IdempotencyRecord>,
    ) -> Result<Inserted, StoreError> {
        let mut data = self.lock();
        if data.workspaces.contains_key(&workspace.id) {
            return Err(StoreError::Conflict);
        }
        data.workspaces.insert(workspace.id.clone(), workspace.clone());
        data.events.insert(workspace.id.clone(), vec![event.clone()]);
        index_event(&mut data, workspace, event);
        Ok(Inserted::Created)
    }

    async fn get(&self, id: &WorkspaceId) -> Result<Option<Workspace>, StoreError> {
        Ok(self.lock().workspaces.get(id).cloned())
    }

    async fn idempotency(&self, _: &str, _: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(None)
    }

    async fn list(&self, filter: &WorkspaceFilter, page: &PageRequest) -> Result<Page<Workspace>, StoreError> {
        let data = self.lock();
        let mut all: Vec<&Workspace> = data
            .workspaces
            .values()
            .filter(|w| match filter {
                WorkspaceFilter::Owner(owner) => w.owner.username == *owner,
                WorkspaceFilter::All => true,
                WorkspaceFilter::State(state) => w.state == *state,
            })
            .collect();
        match filter {
            WorkspaceFilter::State(_) => all.sort_unstable_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id))),
            _ => all.sort_unstable_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id))),
        }
        paged(&all, page)
    }

    async fn update(
        &self,
        workspace: &Workspace,
        expected_state: State,
        event: Option<&Event>,
    ) -> Result<(), StoreError> {
        let mut data = self.lock();
        let stored = data.workspaces.get(&workspace.id).ok_or(StoreError::Conflict)?;
        if stored.version + 1 != workspace.version || stored.state != expected_state {
            return Err(StoreError::Conflict);
        }
        data.workspaces.insert(workspace.id.clone(), workspace.clone());
        if let Some(event) = event {
            data.events.entry(workspace.id.clone()).or_default().push(event.clone());
            index_event(&mut data, workspace, event);
        }
        Ok(())
    }

    async fn events(&self, id: &WorkspaceId, page: &PageRequest) -> Result<Page<Event>, StoreError> {
        let data = self.lock();
        let all = data.events.get(id).map(Vec::as_slice).unwrap_or_default();
        // Newest first without copying the history: page n is a slice from the end.
        let from = start_of(page)?.min(all.len());
        let to = (from + page.limit as usize).min(all.len());
        let items = all[all.len() - to..all.len() - from].iter().rev().cloned().collect();
        Ok(Page { items, next_token: token_of(to, all.len()) })
    }
}

#[async_trait]
impl Catalog for MemoryStore {
    async fn products(&self, page: &PageRequest) -> Result<Page<Product>, StoreError> {
        let all: Vec<Product> = self.lock().products.values().cloned().collect();
        paged(&all, page)
    }

    async fn product(&self, id: &ProductId) -> Result<Option<Product>, StoreError> {
        Ok(self.lock().products.get(id).cloned())
    }
}

#[async_trait]
impl MonthIndex for MemoryStore {
    async fn indexed(&self, month: Month, page: &PageRequest) -> Result<Page<Workspace>, StoreError> {
        keyed_page(self.lock().index.get(&month), page)
    }

    async fn closed(&self, month: Month) -> Result<bool, StoreError> {
        Ok(self.lock().closed.contains_key(&month))
    }

    async fn put_lines(&self, month: Month, lines: &[WorkspaceCost]) -> Result<(), StoreError> {
        let mut data = self.lock();
        let stored = data.lines.entry(month).or_default();
        for line in lines {
            stored.insert((line.info.created_at.as_microsecond(), line.info.workspace_id.clone()), line.clone());
        }
        Ok(())
    }

    async fn close(&self, month: Month, at: Timestamp) -> Result<(), StoreError> {
        self.lock().closed.entry(month).or_insert(at);
        Ok(())
    }

    async fn lines(&self, month: Month, page: &PageRequest) -> Result<Page<WorkspaceCost>, StoreError> {
        keyed_page(self.lock().lines.get(&month), page)
    }

    async fn add(&self, month: Month, workspace: &Workspace) -> Result<(), StoreError> {
        self.lock().index.entry(month).or_default().entry(index_key(workspace)).or_insert_with(|| workspace.clone());
        Ok(())
    }

    async fn sealed(&self, month: Month) -> Result<bool, StoreError> {
        Ok(self.lock().sealed.contains_key(&month))
    }

    async fn seal(&self, month: Month, at: Timestamp) -> Result<(), StoreError> {
        self.lock().sealed.entry(month).or_insert(at);
        Ok(())
    }

    async fn changed_since(
        &self,
        state: State,
        since: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<Workspace>, StoreError> {
        let data = self.lock();
        let mut all: Vec<&Workspace> =
            data.workspaces.values().filter(|w| w.state == state && w.updated_at >= since).collect();
        all.sort_unstable_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id)));
        paged(&all, page)
    }
}

#[async_trait]
impl BudgetStore for MemoryStore {
    async fn org_budget(&self) -> Result<Option<Versioned<Budget>>, StoreError> {
        Ok(self.lock().org_budget.clone())
    }

    async fn put_org_budget(&self, budget: &Budget, expected: Option<u64>) -> Result<(), StoreError> {
        let mut data = self.lock();
        if data.org_budget.as_ref().map(|v| v.version) != expected {
            return Err(StoreError::Conflict);
        }
        data.org_budget = Some(Versioned { value: budget.clone(), version: expected.unwrap_or(0) + 1 });
        Ok(())
    }

    async fn user_budget(&self, user: &str) -> Result<Option<Versioned<Budget>>, StoreError> {
        Ok(self.lock().user_budgets.get(user).cloned())
    }

    async fn put_user_budget(&self, user: &str, budget: &Budget, expected: Option<u64>) -> Result<(), StoreError> {
        let mut data = self.lock();
        if data.user_budgets.get(user).map(|v| v.version) != expected {
            return Err(StoreError::Conflict);
        }
        data.user_budgets
            .insert(user.to_owned(), Versioned { value: budget.clone(), version: expected.unwrap_or(0) + 1 });
        Ok(())
    }

    async fn delete_user_budget(&self, user: &str, expected: u64) -> Result<(), StoreError> {
        let mut data = self.lock();
        if data.user_budgets.get(user).map(|v| v.version) != Some(expected) {
            return Err(StoreError::Conflict);
        }
        data.user_budgets.remove(user);
        Ok(())
    }

    async fn user_budgets(&self, page: &PageRequest) -> Result<Page<(String, Budget)>, StoreError> {
        let all: Vec<(String, Budget)> =
            self.lock().user_budgets.iter().map(|(u, v)| (u.clone(), v.value.clone())).collect();
        paged(&all, page)
    }

    async fn record_crossing(&self, crossing: &Crossing) -> Result<bool, StoreError> {
        let mut data = self.lock();
        let key = (crossing.month.clone(), crossing.user.clone(), crossing.threshold);
        if data.crossings.contains_key(&key) {
            return Ok(false);
        }
        data.crossings.insert(key, crossing.clone());
        Ok(true)
    }

    async fn crossings(
        &self,
        month: Month,
        user: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Crossing>, StoreError> {
        let month = month.to_string();
        let all: Vec<Crossing> = self
            .lock()
            .crossings
            .values()
            .filter(|c| c.month == month && user.is_none_or(|u| c.user == u))
            .cloned()
            .collect();
        paged(&all, page)
    }
}

#[async_trait]
impl ActualStore for MemoryStore {
    async fn actuals(&self, month: Month) -> Result<Actuals, StoreError> {
        Ok(self.lock().actuals.get(&month).cloned().unwrap_or_default())
    }

    async fn put_actuals(&self, month: Month, actuals: &Actuals) -> Result<(), StoreError> {
        self.lock().actuals.insert(month, actuals.clone());
        Ok(())
    }
}

#[async_trait]
impl UserDirectory for MemoryStore {
    async fn profile(&self, username: &str) -> Result<Profile, UpstreamError> {
        self.lock()
            .profiles
            .get(username)
            .cloned()
            .ok_or_else(|| UpstreamError::new("directory", "profile", false, "UserNotFoundException"))
    }
}

#[async_trait]
impl PowerSwitch for MemoryStore {
    async fn start(&self, _: &[String]) -> Result<(), UpstreamError> {
        Ok(())
    }

    async fn stop(&self, instance_ids: &[String], _: bool) -> Result<(), UpstreamError> {
        self.lock().stopped.extend(instance_ids.iter().cloned());
        Ok(())
    }

    async fn observe(&self, instance_ids: &[String]) -> Result<HashMap<String, InstanceState>, UpstreamError> {
        Ok(instance_ids.iter().map(|i| (i.clone(), InstanceState::Running)).collect())
    }
}
