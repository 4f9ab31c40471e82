//! Reading a month: which workspaces were active in it, and their report lines, one at a
//! time (docs/adr/0006-costs.md, "The month index").
//!
//! The event history stays the ledger. The month index only answers "which workspaces may
//! have cost something in month M" without reading every workspace ever created:
//!
//! - every state change (and every creation) writes, in the same DynamoDB transaction, an
//!   index item for the workspace under the month of its event;
//! - a workspace that spends a whole month in one state has no change in it, so once per
//!   month the budget watch carries every live workspace into the month and then *seals*
//!   it ([`index_month`]): from then on the month's items are complete;
//! - a month that is not sealed (the current one before its first watch, or any month
//!   before the index existed) is read from what the index has plus the workspaces that
//!   are live now and those that ended since the month began (`by-state`), which is
//!   always complete. The index can thus be rebuilt at any time: [`index_month`] again.
//! - a month that is over is *closed* an hour after it ends ([`close_month`]): its lines
//!   are computed once and stored, and reads of it return them without any history.
//!
//! Lines are handed to a [`LineSink`] as they are computed, so neither the users report
//! nor the CSV export holds the month in memory.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use futures_util::stream::{self, StreamExt};
use jiff::Timestamp;

use super::aggregate::MonthUsage;
use super::cost_centres::CostCentreBook;
use super::interval::intervals;
use super::month::Month;
use super::ports::{CostCentreStore, MonthIndex};
use super::price::PriceBook;
use super::report::{self, ActualLine, WorkspaceCost, WorkspaceInfo, workspace_costs};
use super::use_cases::MONTH_BOUNDARY;
use crate::catalog::Catalog;
use crate::kernel::{DomainError, MAX_PAGE_SIZE, PageRequest, ProductId, all_pages};
use crate::workspaces::{Event, State, Workspace, WorkspaceFilter, WorkspaceStore};

/// The states of a workspace that may still cost something: every state but the ended
/// ones ([`State::is_ended`]), which `State::ALL` lists last.
pub const LIVE_STATES: [State; 8] = {
    let live = State::ALL.first_chunk::<8>().expect("ten states");
    // Checked when compiling: the two left out are the ended ones.
    assert!(State::ALL[8].is_ended() && State::ALL[9].is_ended() && !live[7].is_ended());
    *live
};

/// A workspace whose lines could not be computed (its product is gone, or has no price in
/// force for some of its time): reported and counted, while every other workspace's lines
/// are computed as usual. One bad product never breaks a report for everybody.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unpriced {
    /// The workspace.
    pub workspace_id: String,
    /// Its owner.
    pub user: String,
    /// Why it has no line, e.g. `prices: no price is effective at …`.
    pub reason: String,
}

/// Receives report lines as they are computed.
#[async_trait]
pub trait LineSink: Send {
    /// Takes the next line; an error stops the read and is its answer.
    async fn line(&mut self, line: WorkspaceCost) -> Result<(), DomainError>;

    /// Told of a workspace whose lines could not be computed (already logged and counted in
    /// [`ReadStats::unpriced`]); the read goes on.
    async fn unpriced(&mut self, _problem: Unpriced) -> Result<(), DomainError> {
        Ok(())
    }

    /// Takes an amount Cost Explorer billed (the export's `actual` rows, after every
    /// line); ignored unless the sink writes them.
    async fn actual(&mut self, _line: ActualLine) -> Result<(), DomainError> {
        Ok(())
    }
}

/// Keeps every line (tests, benchmarks, and one person's few lines).
#[async_trait]
impl LineSink for Vec<WorkspaceCost> {
    async fn line(&mut self, line: WorkspaceCost) -> Result<(), DomainError> {
        self.push(line);
        Ok(())
    }
}

/// Which workspaces a month read covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// One owner's (by-owner, their own few).
    Owner(String),
    /// Everybody's active in the month (the month index).
    All,
}

/// What a month read counted, for benchmarks and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    /// Workspaces whose history was read.
    pub workspaces: usize,
    /// Workspaces priced from their month aggregate ([`super::aggregate`]), no history read.
    pub aggregated: usize,
    /// Events read.
    pub events: usize,
    /// Lines produced.
    pub lines: usize,
    /// Workspaces whose lines could not be computed ([`Unpriced`]).
    pub unpriced: usize,
}

/// The ports a month read runs on. Lines carry the cost centre recorded on the workspace
/// and no e-mail; [`super::Costs`] adds the directory's.
#[derive(Clone, Copy)]
pub struct Ledger<'a> {
    /// The event histories (the ledger itself) and the live workspaces.
    pub store: &'a dyn WorkspaceStore,
    /// Each product's prices and volume size, asked once per product in a read.
    pub catalog: &'a dyn Catalog,
    /// Which workspaces a month concerns, and a closed month's stored lines.
    pub index: &'a dyn MonthIndex,
    /// Who is charged to which cost centre, by month. `None` for reads that only add up
    /// amounts (the budget's start check): lines then carry the cost centre recorded on the
    /// workspace, and no cost-centre change is read.
    pub cost_centres: Option<&'a dyn CostCentreStore>,
}

/// Per-read caches: price books by product.
#[derive(Default)]
struct Books(HashMap<ProductId, (PriceBook, u32)>);

impl<'a> Ledger<'a> {
    /// A month read on these ports; `cost_centres` as [`Ledger::cost_centres`] says.
    pub fn new(
        store: &'a dyn WorkspaceStore,
        catalog: &'a dyn Catalog,
        index: &'a dyn MonthIndex,
        cost_centres: Option<&'a dyn CostCentreStore>,
    ) -> Self {
        Ledger { store, catalog, index, cost_centres }
    }
}

impl Ledger<'_> {
    /// Hands every line of `month` in `scope`, computed up to `now`, to `sink`.
    pub async fn each_line(
        &self,
        scope: &Scope,
        month: Month,
        now: Timestamp,
        sink: &mut dyn LineSink,
    ) -> Result<ReadStats, DomainError> {
        let (start, end) = bounds(month)?;
        // Closed lines keep the cost centre they were closed with: no book needed.
        let closed = matches!(scope, Scope::All) && self.index.closed(month).await?;
        let cost_centres = match (scope, self.cost_centres) {
            (_, None) => CostCentreBook::default(),
            _ if closed => CostCentreBook::default(),
            (Scope::Owner(owner), Some(store)) => CostCentreBook::new(store.cost_centre_changes(Some(owner)).await?),
            (Scope::All, Some(store)) => CostCentreBook::new(store.cost_centre_changes(None).await?),
        };
        let mut run = Run {
            ledger: *self,
            month,
            start,
            end,
            cost_centres,
            // The whole life up to now, not cut at the month's end: a run that goes on
            // into the next month is one run (EC2's 60-second minimum is per run).
            until: now,
            books: Books::default(),
            stats: ReadStats::default(),
        };
        match scope {
            Scope::Owner(owner) => self.owner_lines(owner, &mut run, sink).await?,
            Scope::All if closed => self.stored_lines(month, &mut run, sink).await?,
            Scope::All => self.indexed_lines(month, &mut run, sink).await?,
        }
        Ok(run.stats)
    }

    /// One owner's lines, from their workspaces (by-owner: their own few).
    async fn owner_lines(&self, owner: &str, run: &mut Run<'_>, sink: &mut dyn LineSink) -> Result<(), DomainError> {
        let filter = &WorkspaceFilter::Owner(owner.to_owned());
        let mut all = all_pages(|page| async move { self.store.list(filter, &page).await }).await?;
        // Newest first from the index; reports read oldest first.
        all.reverse();
        for chunk in all.chunks(MAX_PAGE_SIZE as usize) {
            run.page(chunk, sink).await?;
        }
        Ok(())
    }

    /// A closed month's stored lines, without reading any history.
    async fn stored_lines(&self, month: Month, run: &mut Run<'_>, sink: &mut dyn LineSink) -> Result<(), DomainError> {
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        loop {
            let listed = self.index.lines(month, &page).await?;
            for line in listed.items {
                run.stats.workspaces += 1;
                run.stats.lines += 1;
                sink.line(line).await?;
            }
            match listed.next_token {
                Some(token) => page.token = Some(token),
                None => return Ok(()),
            }
        }
    }

    /// An open month's lines: the indexed workspaces' and, until the month is sealed,
    /// those of the workspaces that may have been active in it but are not indexed yet.
    async fn indexed_lines(&self, month: Month, run: &mut Run<'_>, sink: &mut dyn LineSink) -> Result<(), DomainError> {
        let sealed = self.index.sealed(month).await?;
        let mut seen = HashSet::new();
        let mut page = PageRequest::first(MAX_PAGE_SIZE);
        loop {
            let listed = self.index.indexed(month, &page).await?;
            if !sealed {
                seen.extend(listed.items.iter().map(|w| w.id.clone()));
            }
            run.page(&listed.items, sink).await?;
            match listed.next_token {
                Some(token) => page.token = Some(token),
                None => break,
            }
        }
        if !sealed {
            let (start, end) = (run.start, run.end);
            for_each_possibly_active(self, start, end, |workspace| !seen.contains(&workspace.id), run, sink).await?;
        }
        Ok(())
    }
}

/// The first instant of `month` and the first instant after it.
fn bounds(month: Month) -> Result<(Timestamp, Timestamp), DomainError> {
    let out_of_range = || DomainError::unprocessable("month", "out of the supported range");
    let start = month.start(&MONTH_BOUNDARY).ok_or_else(out_of_range)?;
    let end = month.end(&MONTH_BOUNDARY).ok_or_else(out_of_range)?;
    Ok((start, end))
}

/// Workspaces that may have been active in the month besides the indexed ones: live now
/// and created before its end, or ended (`TERMINATED`, `FAILED`) since it began.
async fn for_each_possibly_active(
    ledger: &Ledger<'_>,
    start: Timestamp,
    end: Timestamp,
    keep: impl Fn(&Workspace) -> bool,
    run: &mut Run<'_>,
    sink: &mut dyn LineSink,
) -> Result<(), DomainError> {
    let mut found = Vec::new();
    possibly_active(ledger, start, end, |w| {
        if keep(&w) {
            found.push(w);
        }
    })
    .await?;
    // Oldest first, like the index.
    found.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
    for chunk in found.chunks(MAX_PAGE_SIZE as usize) {
        run.page(chunk, sink).await?;
    }
    Ok(())
}

/// Calls `f` with every workspace that is live now and was created before `end`, and every
/// one that ended at or after `start`: a superset of those active in `[start, end)` that
/// needs no index.
async fn possibly_active(
    ledger: &Ledger<'_>,
    start: Timestamp,
    end: Timestamp,
    mut f: impl FnMut(Workspace),
) -> Result<(), DomainError> {
    let created_before_end = |w: &Workspace| w.created_at < end;
    for state in LIVE_STATES {
        let filter = &WorkspaceFilter::State(state);
        let listed = all_pages(|page| async move { ledger.store.list(filter, &page).await }).await?;
        listed.into_iter().filter(created_before_end).for_each(&mut f);
    }
    let terminated =
        all_pages(|page| async move { ledger.index.changed_since(State::Terminated, start, &page).await }).await?;
    terminated.into_iter().filter(created_before_end).for_each(&mut f);
    // FAILED: those that failed since `start`, and those whose instance state-sync has seen
    // (billed by what EC2 shows, ADR 0006), however long ago they failed.
    let filter = &WorkspaceFilter::State(State::Failed);
    let failed = all_pages(|page| async move { ledger.store.list(filter, &page).await }).await?;
    failed
        .into_iter()
        .filter(|w| created_before_end(w) && (w.updated_at >= start || w.instance_seen.is_some()))
        .for_each(&mut f);
    Ok(())
}

/// Carries every workspace that may have been active in `month` into its index, then seals
/// it (the budget watch does this once a month; running it again rebuilds the index).
/// Returns how many workspaces were indexed.
pub async fn index_month(ledger: &Ledger<'_>, month: Month, at: Timestamp) -> Result<usize, DomainError> {
    let (start, end) = bounds(month)?;
    let mut found = Vec::new();
    possibly_active(ledger, start, end, |w| found.push(w)).await?;
    for workspace in &found {
        if existed_during(workspace, start, end) {
            ledger.index.add(month, workspace).await?;
        }
    }
    ledger.index.seal(month, at).await?;
    Ok(found.len())
}

/// How long after its end a month is closed: events are stamped when a change is
/// decided and written a moment later, so the month's last ones may land just after it.
pub const CLOSE_AFTER: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

/// Lines are stored this many at a time (DynamoDB's `BatchWriteItem` limit).
pub const LINES_PER_WRITE: usize = 25;

/// Freezes a month that is over: computes every line once from the histories and stores
/// it, so later reports and exports of the month read one item per line instead of every
/// workspace's history (on DynamoDB: a few `Query` pages instead of thousands). A closed
/// month cannot change: every event is stamped with the time it happens, and
/// [`CLOSE_AFTER`] leaves time for the month's last writes to land. Prices apply from their
/// effective time, never retroactively, so recomputing gives the same lines; running
/// this again on a closed month does nothing.
///
/// Returns the lines stored, or `None` when the month is not over yet (by [`CLOSE_AFTER`])
/// or already closed.
pub async fn close_month(ledger: &Ledger<'_>, month: Month, now: Timestamp) -> Result<Option<usize>, DomainError> {
    let (_, end) = bounds(month)?;
    if now < end + CLOSE_AFTER || ledger.index.closed(month).await? {
        return Ok(None);
    }
    if !ledger.index.sealed(month).await? {
        index_month(ledger, month, now).await?;
    }
    struct Store<'a> {
        index: &'a dyn MonthIndex,
        month: Month,
        pending: Vec<WorkspaceCost>,
        stored: usize,
    }
    impl Store<'_> {
        async fn flush(&mut self) -> Result<(), DomainError> {
            if !self.pending.is_empty() {
                self.index.put_lines(self.month, &self.pending).await?;
                self.stored += self.pending.len();
                self.pending.clear();
            }
            Ok(())
        }
    }
    #[async_trait]
    impl LineSink for Store<'_> {
        async fn line(&mut self, line: WorkspaceCost) -> Result<(), DomainError> {
            self.pending.push(line);
            if self.pending.len() == LINES_PER_WRITE {
                self.flush().await?;
            }
            Ok(())
        }
    }
    let mut store = Store { index: ledger.index, month, pending: Vec::with_capacity(LINES_PER_WRITE), stored: 0 };
    let stats = ledger.each_line(&Scope::All, month, now, &mut store).await?;
    store.flush().await?;
    if stats.unpriced > 0 {
        // A closed month never changes: it stays open (its lines computed on each read,
        // the others' as usual) until every workspace has a price; each pass retries.
        tracing::error!(%month, unpriced = stats.unpriced, "month not closed: some workspaces have no price");
        return Ok(None);
    }
    ledger.index.close(month, now).await?;
    tracing::info!(%month, lines = store.stored, "month closed");
    Ok(Some(store.stored))
}

struct Run<'a> {
    ledger: Ledger<'a>,
    month: Month,
    start: Timestamp,
    end: Timestamp,
    cost_centres: CostCentreBook,
    until: Timestamp,
    books: Books,
    stats: ReadStats,
}

impl Run<'_> {
    /// The lines of a page of workspaces, in the page's order. Their histories are read
    /// [`HISTORY_READS`] at a time: on DynamoDB a month read is one `Query` (or a few) per
    /// workspace, and one after the other they would add up to minutes for a thousand
    /// users. At most one page of histories is held at once.
    async fn page(&mut self, workspaces: &[Workspace], sink: &mut dyn LineSink) -> Result<(), DomainError> {
        let (store, start, end) = (self.ledger.store, self.start, self.end);
        // Plain futures, no closures in the stream: a closure over a borrowed workspace
        // trips the `Send` proof of the spawned export task (higher-ranked lifetimes).
        // A workspace whose aggregate covers the month needs no history: its read is a
        // ready future, so lines keep the page's order.
        // Only the current month's: a past month's index entry holds the aggregate of the
        // workspace's last write in that month, and a run going on past it may have ended
        // since (its 60-second minimum needs its end); the history knows.
        let (month, until) = (self.month, self.until);
        let current = month == Month::containing(until, &MONTH_BOUNDARY);
        let mut reads = Vec::with_capacity(workspaces.len());
        for workspace in workspaces {
            if existed_during(workspace, start, end) {
                // An aggregate in another state than its workspace's was not written with
                // the workspace's last change: the history knows.
                let aggregated = current
                    && workspace
                        .usage
                        .as_ref()
                        .is_some_and(|u| u.open.state == workspace.state && u.in_month(month, until).is_some());
                reads.push(async move {
                    let events =
                        if aggregated { Ok(None) } else { events_since(store, workspace, start).await.map(Some) };
                    (workspace, events)
                });
            }
        }
        let mut histories = stream::iter(reads).buffered(HISTORY_READS);
        while let Some((workspace, events)) = histories.next().await {
            let events = match events? {
                Some(events) => events,
                None => match self.aggregated(workspace, sink).await? {
                    true => continue,
                    // A price version begins inside the month: the history, one read.
                    false => events_since(store, workspace, start).await?,
                },
            };
            self.priced(workspace, events, sink).await?;
        }
        Ok(())
    }

    /// Prices a workspace's month from its aggregate; false when the aggregate cannot say
    /// (a price version begins inside the month) and the history must be read.
    async fn aggregated(&mut self, workspace: &Workspace, sink: &mut dyn LineSink) -> Result<bool, DomainError> {
        let Some(usage) = &workspace.usage else { return Ok(false) };
        let line = match self.line_from(workspace, usage).await {
            Ok(None) => return Ok(false),
            Ok(Some(line)) => Ok(line),
            Err(err) => Err(err),
        };
        self.stats.aggregated += 1;
        self.emit(workspace, line, sink).await?;
        Ok(true)
    }

    /// The line of `self.month` from `usage`: `Some(None)` when it cost nothing in it,
    /// `None` when the aggregate cannot price it.
    async fn line_from(
        &mut self,
        workspace: &Workspace,
        usage: &MonthUsage,
    ) -> Result<Option<Option<WorkspaceCost>>, DomainError> {
        let Some((running, stopped, top_up)) = usage.in_month(self.month, self.until) else { return Ok(None) };
        if running + stopped + top_up == 0 {
            return Ok(Some(None));
        }
        let (month, until) = (self.month, self.until);
        let (book, volume_gib) = self.book(workspace).await?;
        let Some((running, stopped, billable)) = usage.billable(month, workspace.created_at, until, book) else {
            return Ok(None);
        };
        let info = self.info(workspace, volume_gib, usage.ended_at());
        let Some((book, _)) = self.books.0.get(&workspace.product_id) else { return Ok(None) };
        Ok(Some(Some(report::line(&MONTH_BOUNDARY, month, &info, (running, stopped), &billable, book, until)?)))
    }

    /// Hands a workspace's lines to `sink`, or its problem when they could not be computed.
    async fn emit(
        &mut self,
        workspace: &Workspace,
        lines: Result<Option<WorkspaceCost>, DomainError>,
        sink: &mut dyn LineSink,
    ) -> Result<(), DomainError> {
        match lines {
            Ok(line) => {
                if let Some(line) = line {
                    self.stats.lines += 1;
                    sink.line(line).await?;
                }
                Ok(())
            }
            Err(err) => self.left_out(workspace, err, sink).await,
        }
    }

    /// Prices `events` (see [`events_since`]) of a workspace that existed in the month.
    async fn priced(
        &mut self,
        workspace: &Workspace,
        events: Vec<Event>,
        sink: &mut dyn LineSink,
    ) -> Result<(), DomainError> {
        self.stats.workspaces += 1;
        self.stats.events += events.len();
        match self.lines_of(workspace, &events).await {
            Ok(lines) => {
                for line in lines {
                    self.stats.lines += 1;
                    sink.line(line).await?;
                }
                Ok(())
            }
            Err(err) => self.left_out(workspace, err, sink).await,
        }
    }

    /// A workspace whose lines could not be computed: what is wrong with its own data is
    /// logged, counted and told to `sink`; a store or network error is the whole read's.
    async fn left_out(
        &mut self,
        workspace: &Workspace,
        err: DomainError,
        sink: &mut dyn LineSink,
    ) -> Result<(), DomainError> {
        match err {
            err @ (DomainError::Unprocessable { .. } | DomainError::Invalid { .. }) => {
                self.stats.unpriced += 1;
                let problem = Unpriced {
                    workspace_id: workspace.id.to_string(),
                    user: workspace.owner.username.clone(),
                    reason: err.to_string(),
                };
                tracing::error!(month = %self.month, workspace = %problem.workspace_id, reason = %problem.reason, "workspace left out of the month's costs");
                sink.unpriced(problem).await
            }
            err => Err(err),
        }
    }

    /// The lines of `self.month` of one workspace, or why there are none.
    async fn lines_of(&mut self, workspace: &Workspace, events: &[Event]) -> Result<Vec<WorkspaceCost>, DomainError> {
        let billable = intervals(&workspace.id, events, self.until);
        if billable.is_empty() {
            return Ok(Vec::new());
        }
        let (_, volume_gib) = self.book(workspace).await?;
        // The history's first TERMINATED: nothing after it bills.
        let ended = events.iter().find(|e| e.to == State::Terminated).map(|e| e.at);
        let info = self.info(workspace, volume_gib, ended);
        let Some((book, _)) = self.books.0.get(&workspace.product_id) else { return Ok(Vec::new()) };
        let month = self.month;
        Ok(workspace_costs(&info, &billable, book, &MONTH_BOUNDARY, self.until)?
            .into_iter()
            .filter(|l| l.month == month)
            .collect())
    }

    /// The workspace's price book and the volume it is billed on, its product read once
    /// per month read.
    async fn book(&mut self, workspace: &Workspace) -> Result<(&PriceBook, u32), DomainError> {
        if !self.books.0.contains_key(&workspace.product_id) {
            let product = self.ledger.catalog.product(&workspace.product_id).await?.ok_or_else(|| {
                DomainError::unprocessable(
                    "prices",
                    format!(
                        "workspace {} uses product {}, which the catalog no longer has",
                        workspace.id, workspace.product_id
                    ),
                )
            })?;
            self.books.0.insert(workspace.product_id.clone(), (PriceBook::for_product(&product)?, product.volume_gib));
        }
        let (book, catalog_volume_gib) = self.books.0.get(&workspace.product_id).ok_or(DomainError::Concurrent)?;
        // The volume it was provisioned with; the catalog's current size only for
        // workspaces created before launches were recorded.
        Ok((book, workspace.volume_gib().unwrap_or(*catalog_volume_gib)))
    }

    /// What a line says about `workspace` besides its costs.
    fn info(&self, workspace: &Workspace, volume_gib: u32, ended_at: Option<Timestamp>) -> WorkspaceInfo {
        WorkspaceInfo {
            workspace_id: workspace.id.clone(),
            workspace_name: workspace.name.as_str().to_owned(),
            owner: workspace.owner.username.clone(),
            email: String::new(),
            // The cost centre recorded for the owner that month, else the one recorded on
            // the workspace at its creation; never the directory's current claim.
            cost_centre: self
                .cost_centres
                .in_force(&workspace.owner.username, self.month)
                .map(str::to_owned)
                .or_else(|| workspace.owner.cost_centre.clone()),
            product: workspace.product_id.clone(),
            instance_type: workspace.instance_type.clone(),
            volume_gib,
            created_at: workspace.created_at,
            ended_at,
        }
    }
}

/// How many workspace histories a month read fetches at once.
pub const HISTORY_READS: usize = 16;

/// The workspace's events from the last one before `start` (the state it entered the month
/// in) onwards, oldest first. Reads newest first and stops one page past it.
async fn events_since(
    store: &dyn WorkspaceStore,
    workspace: &Workspace,
    start: Timestamp,
) -> Result<Vec<Event>, DomainError> {
    let mut events = Vec::new();
    let mut page = PageRequest::first(MAX_PAGE_SIZE);
    loop {
        let read = store.events(&workspace.id, &page).await?;
        let reached_start = read.items.last().is_some_and(|e| e.at < start);
        events.extend(read.items);
        match read.next_token {
            Some(token) if !reached_start => page.token = Some(token),
            _ => break,
        }
    }
    events.reverse();
    Ok(events)
}

/// False when the workspace certainly cost nothing in `[start, end)`: created after it, or
/// terminated (or failed with no instance ever seen: such a workspace bills nothing) before
/// it. `updated_at` marks the last state change, so for those states it is when the
/// workspace got there. A FAILED workspace whose instance state-sync has seen is billed by
/// what EC2 showed, in events that do not move `updated_at`: its history decides.
pub fn existed_during(workspace: &Workspace, start: Timestamp, end: Timestamp) -> bool {
    if workspace.created_at >= end {
        return false;
    }
    let billed_by_its_instance = workspace.state == State::Failed && workspace.instance_seen.is_some();
    billed_by_its_instance || !(workspace.state.is_ended() && workspace.updated_at < start)
}
