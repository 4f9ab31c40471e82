//! [`Hooked`]: fault injection around any [`WorkspaceStore`], the in-memory one or the
//! real DynamoDB table alike. Every call is logged ([`Hooked::calls`]); hooks then make
//! the calls a test selects fail ([`Hooked::fail_after`]: the process died there), slow
//! ([`Hooked::latency`]: a round trip), or lose a race ([`Hooked::another_writer_wins`]).
//!
//! Selectors are plain functions of the [`Call`]: [`Call::any`], [`Call::is_write`],
//! [`Call::is_history_read`], or a closure of the test's own.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use crate::kernel::{Page, PageRequest, StoreError, UpstreamError, WorkspaceId};
use crate::workspaces::{Event, IdempotencyRecord, Inserted, State, Workspace, WorkspaceFilter, WorkspaceStore};

/// One call to the store, as [`Hooked`] logs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// [`WorkspaceStore::insert`] of this workspace.
    Insert(WorkspaceId),
    /// [`WorkspaceStore::get`] of this workspace.
    Get(WorkspaceId),
    /// [`WorkspaceStore::idempotency`] of (owner, key).
    Idempotency(String, String),
    /// [`WorkspaceStore::list`] with this filter.
    List(WorkspaceFilter),
    /// [`WorkspaceStore::update`] of this workspace.
    Update(WorkspaceId),
    /// [`WorkspaceStore::events`]: a page of this workspace's history.
    Events(WorkspaceId),
}

impl Call {
    /// Every call.
    pub fn any(&self) -> bool {
        true
    }

    /// A write: an insert or an update.
    pub fn is_write(&self) -> bool {
        matches!(self, Call::Insert(_) | Call::Update(_))
    }

    /// A page of a history read.
    pub fn is_history_read(&self) -> bool {
        matches!(self, Call::Events(_))
    }

    /// The DynamoDB operation the adapter makes for the call (named in injected errors).
    fn operation(&self) -> &'static str {
        match self {
            Call::Insert(_) | Call::Update(_) => "TransactWriteItems",
            Call::Get(_) | Call::Idempotency(..) => "GetItem",
            Call::List(_) | Call::Events(_) => "Query",
        }
    }
}

/// Which calls a hook applies to.
type Selector = Arc<dyn Fn(&Call) -> bool + Send + Sync>;

#[derive(Default)]
struct HookState {
    calls: Vec<Call>,
    /// Selected calls still allowed before every selected call fails.
    budget: Option<(usize, Selector)>,
    latency: Option<(Duration, Selector)>,
    another_writer: bool,
}

/// A [`WorkspaceStore`] that delegates to `inner` with the hooks a test sets; it holds
/// the inner store in an [`Arc`], so a test keeps reading it directly ([`Hooked::inner`]).
pub struct Hooked<S: ?Sized> {
    inner: Arc<S>,
    state: Mutex<HookState>,
}

impl<S: WorkspaceStore + ?Sized> Hooked<S> {
    /// `inner` with no hook set: calls are only logged.
    pub fn new(inner: S) -> Self
    where
        S: Sized,
    {
        Self::around(Arc::new(inner))
    }

    /// A store shared with the rest of the test (the table of a test app, a store a
    /// benchmark reads directly too), with no hook set.
    pub fn around(inner: Arc<S>) -> Self {
        Self { inner, state: Mutex::default() }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    fn lock(&self) -> MutexGuard<'_, HookState> {
        self.state.lock().expect("hook lock")
    }

    /// Lets `calls` of the calls `counted` selects through, then fails every one of them
    /// with a retryable DynamoDB error, as a process killed there leaves things, until
    /// [`Hooked::heal`]. Calls not selected always go through.
    pub fn fail_after(&self, calls: usize, counted: impl Fn(&Call) -> bool + Send + Sync + 'static) {
        self.lock().budget = Some((calls, Arc::new(counted)));
    }

    /// Ends [`Hooked::fail_after`]: every call goes through again.
    pub fn heal(&self) {
        self.lock().budget = None;
    }

    /// Delays each call `delayed` selects by `by` before it is made (a round trip).
    pub fn latency(&self, by: Duration, delayed: impl Fn(&Call) -> bool + Send + Sync + 'static) {
        self.lock().latency = Some((by, Arc::new(delayed)));
    }

    /// Just before the next update, another writer changes the same workspace (its
    /// version moves, nothing else), so that the update loses its conditional write, as
    /// when state-sync settles a workspace while its owner edits it.
    pub fn another_writer_wins(&self) {
        self.lock().another_writer = true;
    }

    /// True while [`Hooked::another_writer_wins`] is set and no update came yet.
    pub fn another_writer_pending(&self) -> bool {
        self.lock().another_writer
    }

    /// Every call so far, in order (failed ones included).
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }

    /// The workspace of every history page read, in order.
    pub fn history_reads(&self) -> Vec<WorkspaceId> {
        let state = self.lock();
        state.calls.iter().filter_map(|c| if let Call::Events(id) = c { Some(id.clone()) } else { None }).collect()
    }

    /// Logs `call` and applies the hooks that select it: waits its latency, then fails
    /// it when its budget is spent.
    async fn enter(&self, call: Call) -> Result<(), StoreError> {
        let (delay, outcome) = {
            let mut state = self.lock();
            let delay = state.latency.as_ref().filter(|(_, of)| of(&call)).map(|(by, _)| *by);
            let outcome = match state.budget.as_mut() {
                Some((0, counted)) if counted(&call) => Err(StoreError::Upstream(UpstreamError::new(
                    "dynamodb",
                    call.operation(),
                    true,
                    "injected: the process died here",
                ))),
                Some((left, counted)) if counted(&call) => {
                    *left -= 1;
                    Ok(())
                }
                _ => Ok(()),
            };
            state.calls.push(call);
            (delay, outcome)
        };
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        outcome
    }
}

#[async_trait]
impl<S: WorkspaceStore + ?Sized> WorkspaceStore for Hooked<S> {
    async fn insert(
        &self,
        workspace: &Workspace,
        event: &Event,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<Inserted, StoreError> {
        self.enter(Call::Insert(workspace.id.clone())).await?;
        self.inner.insert(workspace, event, idempotency).await
    }

    async fn get(&self, id: &WorkspaceId) -> Result<Option<Workspace>, StoreError> {
        self.enter(Call::Get(id.clone())).await?;
        self.inner.get(id).await
    }

    async fn idempotency(&self, owner: &str, key: &str) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.enter(Call::Idempotency(owner.to_owned(), key.to_owned())).await?;
        self.inner.idempotency(owner, key).await
    }

    async fn list(&self, filter: &WorkspaceFilter, page: &PageRequest) -> Result<Page<Workspace>, StoreError> {
        self.enter(Call::List(filter.clone())).await?;
        self.inner.list(filter, page).await
    }

    async fn update(
        &self,
        workspace: &Workspace,
        expected_state: State,
        event: Option<&Event>,
    ) -> Result<(), StoreError> {
        self.enter(Call::Update(workspace.id.clone())).await?;
        let interfere = std::mem::take(&mut self.lock().another_writer);
        if interfere && let Some(mut other) = self.inner.get(&workspace.id).await? {
            other.version += 1;
            self.inner.update(&other, other.state, None).await?;
        }
        self.inner.update(workspace, expected_state, event).await
    }

    async fn events(&self, id: &WorkspaceId, page: &PageRequest) -> Result<Page<Event>, StoreError> {
        self.enter(Call::Events(id.clone())).await?;
        self.inner.events(id, page).await
    }
}
