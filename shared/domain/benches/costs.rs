//! The costs benchmark (issue #4, "Scale"): a month of 1,000 users × 3 workspaces with
//! realistic transitions (about a million ledger records), through the real use cases on
//! the in-memory ports, which page like DynamoDB (100 items a page, items cloned out as a
//! query decodes them).
//!
//! `cargo bench -p atelier-domain --bench costs` prints, for the users report and the CSV
//! export: wall time, records/s, peak memory above the loaded store (a counting global
//! allocator), and for the export rows/s and MB/s; then ratios to the targets and
//! between the sealed (month index) and unsealed (by-state) reads. The CSV writer is also
//! timed alone, and the export once more on a "wide" month (20,000 users × 3 workspaces
//! with a few transitions each: many rows per ledger record), where the output, not the
//! reading, is the larger part. No assertion on time: the figures are for the closing
//! note. `BENCH_USERS=100` and `BENCH_WIDE_USERS=1000` make smaller months.

// The counting allocator implements `GlobalAlloc`, an unsafe trait, and forwards to the
// system allocator: the only unsafe code in the workspace.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use atelier_domain::costs::ledger::{HISTORY_READS, Ledger, ReadStats, close_month, index_month};
use atelier_domain::costs::month::Month;
use atelier_domain::costs::{
    Costs, CsvWriter, ExportRequest, LineSink, MonthIndex, MonthUsage, Separator, WorkspaceCost,
};
use atelier_domain::kernel::{Page, PageRequest, StoreError};
use atelier_domain::testing::{Call, FakeDirectory, Hooked, MemoryStore, ProductBuilder, WorkspaceBuilder};
use atelier_domain::{Actor, Caller, DomainError, Event, EventAction, Product, Profile, State, Workspace};
use jiff::{SignedDuration, Timestamp};

/// Counts live and peak heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Off while a throughput is timed without the counting's own cost.
static COUNTING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() && COUNTING.load(Ordering::Relaxed) {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let out = unsafe { System.realloc(ptr, layout, new_size) };
        if !out.is_null() && COUNTING.load(Ordering::Relaxed) {
            if new_size > layout.size() {
                let live = LIVE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(live, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        out
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A small deterministic generator (xorshift64*): the same month on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn t(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn products() -> Vec<Product> {
    [
        ("python-r-standard", "m5.2xlarge", "0.446", 100),
        ("small-t3-large", "t3.large", "0.0944", 50),
        ("gpu-g5", "g5.xlarge", "1.123", 200),
    ]
    .into_iter()
    .map(|(id, instance_type, price, volume)| {
        ProductBuilder::new(id)
            .name(id)
            .description(id)
            .instance_type(instance_type, 8, 32)
            .hourly(price)
            .volume(volume)
            .build()
    })
    .collect()
}

/// One workspace's history: created before or during March, then work sessions separated
/// by stops (some hibernations), as scientists and the scheduler cause them; a few are
/// terminated during the month. Returns the workspace and its events, oldest first.
fn history(
    rng: &mut Rng,
    user: &str,
    product: &Product,
    month_start: Timestamp,
    month_end: Timestamp,
    gap_mins: u64,
) -> (Workspace, Vec<Event>) {
    let created = if rng.below(4) == 0 {
        month_start + SignedDuration::from_mins(rng.below(20 * 24 * 60) as i64)
    } else {
        month_start - SignedDuration::from_hours(1 + rng.below(24 * 60) as i64)
    };
    let mut events = Vec::with_capacity(400);
    let mut at = created;
    let push =
        |events: &mut Vec<Event>, at: Timestamp, from: Option<State>, to: State, actor: &str, action: EventAction| {
            events.push(Event {
                at,
                actor: Actor(actor.to_owned()),
                action,
                from,
                to,
                reason: None,
                connection: None,
                instance: None,
            });
        };
    push(&mut events, at, None, State::Provisioning, user, EventAction::Create);
    at += SignedDuration::from_mins(4);
    push(&mut events, at, Some(State::Provisioning), State::Running, "state-sync", EventAction::Sync);
    let mut state = State::Running;
    let terminate_at =
        (rng.below(20) == 0).then(|| month_start + SignedDuration::from_hours(24 * (5 + rng.below(20) as i64)));
    // Start the cycles shortly before the month so pre-month history stays short.
    if at < month_start - SignedDuration::from_hours(12) {
        at = month_start - SignedDuration::from_hours(12);
    }
    loop {
        // 40 min to 7 h 20 between actions (mean 4 h): about 340 state events a month.
        at += SignedDuration::from_mins(40 + rng.below(gap_mins) as i64);
        if at >= month_end {
            break;
        }
        if terminate_at.is_some_and(|end| at >= end) {
            push(&mut events, at, Some(state), State::Terminating, user, EventAction::Terminate);
            push(
                &mut events,
                at + SignedDuration::from_mins(2),
                Some(State::Terminating),
                State::Terminated,
                "state-sync",
                EventAction::Sync,
            );
            state = State::Terminated;
            break;
        }
        let actor = if rng.below(3) == 0 { "scheduler" } else { user };
        match state {
            State::Running => {
                let (via, to, action) = if rng.below(5) == 0 {
                    (State::Hibernating, State::Hibernated, EventAction::Hibernate)
                } else {
                    (State::Stopping, State::Stopped, EventAction::Stop)
                };
                push(&mut events, at, Some(State::Running), via, actor, action);
                push(&mut events, at + SignedDuration::from_secs(50), Some(via), to, "state-sync", EventAction::Sync);
                state = to;
            }
            _ => {
                push(&mut events, at, Some(state), State::Starting, actor, EventAction::Start);
                push(
                    &mut events,
                    at + SignedDuration::from_secs(40),
                    Some(State::Starting),
                    State::Running,
                    "state-sync",
                    EventAction::Sync,
                );
                state = State::Running;
            }
        }
        at += SignedDuration::from_mins(1);
    }
    let last = events.last().expect("created").at;
    let mut workspace = WorkspaceBuilder::new()
        .name("Analysis")
        .owner(user)
        .owner_sub(user)
        .cost_centre(format!("CC-{}", user.len() % 7).as_str())
        .product(product.id.as_str(), &product.instance_type)
        .state(state)
        .instance("i-1")
        .provision_token("p")
        .at(created)
        .updated_at(last)
        .version(events.len() as u64)
        .build();
    // The month aggregate the writers fold from each event, as on the table.
    let mut usage = Some(MonthUsage::first(&events[0]));
    for event in &events[1..] {
        usage = usage.and_then(|u| u.after(event));
    }
    workspace.usage = usage;
    (workspace, events)
}

/// The month index with a round trip's latency on every call, counted.
struct SlowIndex {
    inner: Arc<MemoryStore>,
    latency: Duration,
    calls: AtomicUsize,
}

impl SlowIndex {
    async fn round_trip(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(self.latency).await;
    }
}

#[async_trait]
impl MonthIndex for SlowIndex {
    async fn indexed(&self, month: Month, page: &PageRequest) -> Result<Page<Workspace>, StoreError> {
        self.round_trip().await;
        self.inner.indexed(month, page).await
    }
    async fn add(&self, month: Month, workspace: &Workspace) -> Result<(), StoreError> {
        self.round_trip().await;
        self.inner.add(month, workspace).await
    }
    async fn sealed(&self, month: Month) -> Result<bool, StoreError> {
        self.round_trip().await;
        self.inner.sealed(month).await
    }
    async fn seal(&self, month: Month, at: Timestamp) -> Result<(), StoreError> {
        self.round_trip().await;
        self.inner.seal(month, at).await
    }
    async fn closed(&self, month: Month) -> Result<bool, StoreError> {
        self.round_trip().await;
        self.inner.closed(month).await
    }
    async fn put_lines(&self, month: Month, lines: &[WorkspaceCost]) -> Result<(), StoreError> {
        self.round_trip().await;
        self.inner.put_lines(month, lines).await
    }
    async fn close(&self, month: Month, at: Timestamp) -> Result<(), StoreError> {
        self.round_trip().await;
        self.inner.close(month, at).await
    }
    async fn lines(&self, month: Month, page: &PageRequest) -> Result<Page<WorkspaceCost>, StoreError> {
        self.round_trip().await;
        self.inner.lines(month, page).await
    }
    async fn changed_since(
        &self,
        state: State,
        since: Timestamp,
        page: &PageRequest,
    ) -> Result<Page<Workspace>, StoreError> {
        self.round_trip().await;
        self.inner.changed_since(state, since, page).await
    }
}

/// Counts bytes and throws them away.
struct CountingWriter(u64);

impl Write for CountingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What the HTTP export does, minus the socket: rows through the CsvWriter.
struct CsvSink {
    csv: CsvWriter<io::BufWriter<CountingWriter>>,
    rows: u64,
}

#[async_trait]
impl LineSink for CsvSink {
    async fn line(&mut self, line: WorkspaceCost) -> Result<(), DomainError> {
        line.write_csv(&mut self.csv).map_err(|e| DomainError::unprocessable("csv", e.to_string()))?;
        self.rows += 1;
        Ok(())
    }
}

struct Measured<T> {
    value: T,
    elapsed: Duration,
    peak_above_start: usize,
}

fn measure<T>(runtime: &tokio::runtime::Runtime, f: impl std::future::Future<Output = T>) -> Measured<T> {
    let start_live = LIVE.load(Ordering::Relaxed);
    PEAK.store(start_live, Ordering::Relaxed);
    let started = Instant::now();
    let value = runtime.block_on(f);
    let elapsed = started.elapsed();
    Measured { value, elapsed, peak_above_start: PEAK.load(Ordering::Relaxed).saturating_sub(start_live) }
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A generated month: the store with the catalog and the histories, the directory with
/// every user's profile, and how many ledger records (events) the histories hold.
struct Generated {
    store: Arc<MemoryStore>,
    directory: Arc<FakeDirectory>,
    records: usize,
}

/// A month of `users` × 3 workspaces, `40 + below(gap)` minutes between actions, loaded
/// into a fresh store with the catalog, and the users' profiles into a directory.
/// With `aggregates` false, the workspaces carry no month aggregate (as those written before
/// aggregates existed): every report reads their histories.
fn generate(users: usize, gap: u64, month_start: Timestamp, month_end: Timestamp, aggregates: bool) -> Generated {
    let store = Arc::new(MemoryStore::default());
    let directory = Arc::new(FakeDirectory::default());
    let catalog = products();
    for product in &catalog {
        store.put_product(product.clone());
    }
    let mut rng = Rng(0x00C0_FFEE_1234_5678);
    let mut records = 0usize;
    for u in 0..users {
        let user = format!("user{u:04}");
        directory.put_user(
            &user,
            Profile {
                email: Some(format!("{user}@example.org")),
                cost_centre: Some(format!("CC-{}", u % 12)),
                sub: None,
            },
        );
        for w in 0..3 {
            let (mut workspace, mut events) =
                history(&mut rng, &user, &catalog[(u + w) % catalog.len()], month_start, month_end, gap);
            if !aggregates {
                workspace.usage = None;
            }
            events.shrink_to_fit();
            records += events.len();
            store.load(workspace, events);
        }
    }
    Generated { store, directory, records }
}

fn costs_over(month: &Generated) -> Costs {
    let store = &month.store;
    Costs {
        store: store.clone(),
        catalog: store.clone(),
        directory: month.directory.clone(),
        index: store.clone(),
        budgets: store.clone(),
        actuals: store.clone(),
        cost_centres: store.clone(),
        rates: store.clone(),
        exports: Arc::new(atelier_domain::testing::MemoryExports::default()),
    }
}

fn finance_request(costs: &Costs, now: Timestamp) -> ExportRequest {
    costs
        .export_request(
            &Caller { sub: "fiona".into(), username: "fiona".into(), groups: vec!["finance".into()] },
            "2026-03",
            None,
            now,
        )
        .expect("authorised")
}

/// The export as finance asks for it: header, then every row through the CsvWriter into a
/// 64 KiB buffer that counts and drops the bytes. Returns the read stats, rows and bytes.
async fn export_month(costs: &Costs, now: Timestamp) -> (ReadStats, u64, u64) {
    let mut sink = CsvSink {
        csv: CsvWriter::new(io::BufWriter::with_capacity(64 * 1024, CountingWriter(0)), Separator::Comma),
        rows: 0,
    };
    sink.csv.write_header().expect("header");
    let stats = costs.stream_export(&finance_request(costs, now), &mut sink).await.expect("export");
    let bytes = sink.csv.into_inner().expect("flush").into_inner().map_err(|_| "flush").expect("flush").0;
    (stats, sink.rows, bytes)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let users: usize = std::env::var("BENCH_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);

    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let month = Month::new(2026, 3).expect("month");
    let (month_start, month_end) = (t("2026-03-01T00:00:00Z"), t("2026-04-01T00:00:00Z"));
    let now = t("2026-04-02T00:00:00Z");

    let generating = Instant::now();
    let generated = generate(users, 400, month_start, month_end, true);
    let (store, records) = (generated.store.clone(), generated.records);
    let store_bytes = LIVE.load(Ordering::Relaxed);
    println!(
        "month {month}: {users} users x 3 workspaces, {records} ledger records (events) generated in {:.1} s; store holds {:.0} MB",
        generating.elapsed().as_secs_f64(),
        mb(store_bytes)
    );

    let costs = costs_over(&generated);
    let admin = Caller { sub: "ada".into(), username: "ada".into(), groups: vec!["admins".into()] };

    // Unsealed first (index + by-state), then seal the month as the budget watch would.
    let unsealed = measure(&runtime, costs.users_report(&admin, "2026-03", now));
    let unsealed_report = unsealed.value.expect("users report");
    let ledger = Ledger::new(store.as_ref(), store.as_ref(), store.as_ref(), Some(store.as_ref()));
    let sealing = measure(&runtime, index_month(&ledger, month, now));
    let indexed = sealing.value.expect("sealed");

    let users_run = measure(&runtime, costs.users_report(&admin, "2026-03", now));
    let report = users_run.value.expect("users report");
    assert_eq!(report.total, unsealed_report.total, "sealed and unsealed reads agree");
    let secs = users_run.elapsed.as_secs_f64();
    println!(
        "users report (sealed month index): {:.3} s, {:.0} records/s, {} workspaces and {} events read, {} users, total {} {}; peak memory +{:.2} MB",
        secs,
        report.stats.events as f64 / secs,
        report.stats.workspaces,
        report.stats.events,
        report.users.len(),
        report.total,
        report.currency,
        mb(users_run.peak_above_start)
    );
    println!(
        "users report (unsealed: index + by-state): {:.3} s; peak memory +{:.2} MB; sealing the month indexed {} workspaces in {:.3} s",
        unsealed.elapsed.as_secs_f64(),
        mb(unsealed.peak_above_start),
        indexed,
        sealing.elapsed.as_secs_f64()
    );

    let export = measure(&runtime, export_month(&costs, now));
    let (stats, rows, bytes) = export.value;
    let secs = export.elapsed.as_secs_f64();
    println!(
        "CSV export (streamed): {:.3} s, {} rows, {:.2} MB, {:.0} rows/s, {:.2} MB/s of CSV, {:.0} records/s; peak memory +{:.2} MB",
        secs,
        rows,
        mb(bytes as usize),
        rows as f64 / secs,
        mb(bytes as usize) / secs,
        stats.events as f64 / secs,
        mb(export.peak_above_start)
    );

    // The CSV writer alone (the formatting cost of a row), on the same lines repeated.
    let lines: Vec<WorkspaceCost> = runtime.block_on(async {
        let mut lines = Vec::new();
        costs.stream_export(&finance_request(&costs, now), &mut lines).await.expect("export");
        lines
    });
    let writer = measure(&runtime, async {
        let mut csv = CsvWriter::new(io::BufWriter::with_capacity(64 * 1024, CountingWriter(0)), Separator::Comma);
        for _ in 0..100 {
            for line in &lines {
                line.write_csv(&mut csv).expect("row");
            }
        }
        csv.into_inner().expect("flush").into_inner().map_err(|_| "flush").expect("flush").0
    });
    let writer_secs = writer.elapsed.as_secs_f64();
    println!(
        "CSV writer alone: {} rows, {:.2} MB in {:.3} s = {:.0} rows/s, {:.1} MB/s; peak memory +{:.2} MB",
        lines.len() * 100,
        mb(writer.value as usize),
        writer_secs,
        (lines.len() * 100) as f64 / writer_secs,
        mb(writer.value as usize) / writer_secs,
        mb(writer.peak_above_start)
    );

    // A wide month: as many rows as possible per ledger record (few transitions per
    // workspace, many workspaces), so the export's own output rate shows. Sealed directly:
    // `load` indexed every workspace under its months.
    let wide_users: usize = std::env::var("BENCH_WIDE_USERS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let wide = generate(wide_users, 20_000, month_start, month_end, true);
    let (wide_store, wide_records) = (wide.store.clone(), wide.records);
    runtime.block_on(wide_store.seal(month, now)).expect("seal");
    let wide_costs = costs_over(&wide);
    let wide_export = measure(&runtime, export_month(&wide_costs, now));
    let (_, wide_rows, wide_bytes) = wide_export.value;
    let wide_secs = wide_export.elapsed.as_secs_f64();
    println!(
        "CSV export, wide month ({wide_users} users x 3 workspaces, {wide_records} records): {:.3} s, {} rows, {:.2} MB, {:.0} rows/s, {:.1} MB/s of CSV; peak memory +{:.2} MB",
        wide_secs,
        wide_rows,
        mb(wide_bytes as usize),
        wide_rows as f64 / wide_secs,
        mb(wide_bytes as usize) / wide_secs,
        mb(wide_export.peak_above_start)
    );

    // The same sealed users report with every read of the table (workspace store and month
    // index) taking a round trip: from the month aggregates, then from the histories.
    let latency = Duration::from_millis(5);
    // The current month (aggregates are the current month's): March up to the 28th, noon.
    let current_now = t("2026-03-28T12:00:00Z");
    let current = generate(users, 400, month_start, current_now, true);
    let current_store = current.store.clone();
    let current_ledger = Ledger::new(current_store.as_ref(), current_store.as_ref(), current_store.as_ref(), None);
    runtime.block_on(index_month(&current_ledger, month, current_now)).expect("sealed");
    let current_report =
        runtime.block_on(costs_over(&current).users_report(&admin, "2026-03", current_now)).expect("report");
    let slow_index = Arc::new(SlowIndex { inner: current_store.clone(), latency, calls: AtomicUsize::new(0) });
    let slow_all = Arc::new(Hooked::around(current_store.clone()));
    slow_all.latency(latency, Call::any);
    let aggregated_costs = Costs { store: slow_all.clone(), index: slow_index.clone(), ..costs_over(&current) };
    let aggregated_run = measure(&runtime, aggregated_costs.users_report(&admin, "2026-03", current_now));
    assert_eq!(aggregated_run.value.expect("users report").total, current_report.total, "the same report");
    let aggregate_reads = slow_all.calls().len() + slow_index.calls.load(Ordering::Relaxed);
    let aggregate_stats = runtime
        .block_on(current_ledger.each_line(&atelier_domain::costs::Scope::All, month, current_now, &mut Vec::new()))
        .expect("read");
    println!(
        "users report of the current month (sealed, {} records) from month aggregates with {} ms per table read: {:.3} s for {aggregate_reads} reads ({} store, {} month index; {} workspaces priced from their aggregate, {} histories read)",
        current.records,
        latency.as_millis(),
        aggregated_run.elapsed.as_secs_f64(),
        slow_all.calls().len(),
        slow_index.calls.load(Ordering::Relaxed),
        aggregate_stats.aggregated,
        aggregate_stats.workspaces,
    );

    // The memory store with a round trip's latency on every history read, as a DynamoDB
    // `Query` has: shows what reading histories [`HISTORY_READS`] at a time saves.
    let slow = Arc::new(Hooked::around(store.clone()));
    slow.latency(latency, Call::is_history_read);
    let slow_costs = Costs { store: slow.clone(), ..costs_over(&generated) };
    let slow_run = measure(&runtime, slow_costs.users_report(&admin, "2026-03", now));
    assert_eq!(slow_run.value.expect("users report").total, report.total, "same report with latency");
    let history_reads = slow.history_reads().len();
    let one_at_a_time = latency * history_reads as u32;
    println!(
        "users report (sealed, past month) from the histories with {} ms per history read: {:.2} s for {history_reads} reads, {HISTORY_READS} at a time; one at a time the reads alone would take {:.1} s",
        latency.as_millis(),
        slow_run.elapsed.as_secs_f64(),
        one_at_a_time.as_secs_f64()
    );

    // Both months closed (as the budget watch does an hour after a month ends): reports
    // and exports read the stored lines, one item per workspace.
    let closing = measure(&runtime, close_month(&ledger, month, now));
    let stored = closing.value.expect("close").expect("the month is over");
    let closed_users = measure(&runtime, costs.users_report(&admin, "2026-03", now));
    assert_eq!(closed_users.value.expect("users report").total, report.total, "closed = computed");
    let closed_export = measure(&runtime, export_month(&costs, now));
    assert_eq!(closed_export.value.2, bytes, "the closed month's CSV is the same size");
    let closed_secs = closed_export.elapsed.as_secs_f64();
    println!(
        "closed month: closing stored {stored} lines in {:.3} s; users report {:.3} s, peak +{:.2} MB; CSV export {:.4} s, {:.1} MB/s of CSV, peak +{:.2} MB",
        closing.elapsed.as_secs_f64(),
        closed_users.elapsed.as_secs_f64(),
        mb(closed_users.peak_above_start),
        closed_secs,
        mb(bytes as usize) / closed_secs,
        mb(closed_export.peak_above_start)
    );
    let wide_ledger =
        Ledger::new(wide_store.as_ref(), wide_store.as_ref(), wide_store.as_ref(), Some(wide_store.as_ref()));
    runtime.block_on(close_month(&wide_ledger, month, now)).expect("close").expect("the month is over");
    let wide_closed = measure(&runtime, export_month(&wide_costs, now));
    assert_eq!(wide_closed.value.2, wide_bytes, "the closed wide month's CSV is the same size");
    let wide_closed_secs = wide_closed.elapsed.as_secs_f64();
    println!(
        "closed wide month: CSV export {:.3} s, {:.0} rows/s, {:.1} MB/s of CSV; peak memory +{:.2} MB",
        wide_closed_secs,
        wide_rows as f64 / wide_closed_secs,
        mb(wide_bytes as usize) / wide_closed_secs,
        mb(wide_closed.peak_above_start)
    );

    // Throughput again without the allocation counting (its atomics cost a few hundred
    // nanoseconds a row); last, so nothing counted is freed uncounted afterwards.
    COUNTING.store(false, Ordering::Relaxed);
    let uncounted = |costs: &Costs| {
        let started = Instant::now();
        let (_, _, bytes) = runtime.block_on(export_month(costs, now));
        mb(bytes as usize) / started.elapsed().as_secs_f64()
    };
    let wide_closed_rate = uncounted(&wide_costs);
    println!("uncounted: CSV export of the closed wide month {wide_closed_rate:.1} MB/s of CSV");

    println!("ratios:");
    println!("  users report time / 2 s target: {:.2}", users_run.elapsed.as_secs_f64() / 2.0);
    println!("  users report peak / 64 MB target: {:.2}", mb(users_run.peak_above_start) / 64.0);
    println!("  export MB/s of CSV, 1M-record month / 100 MB/s target: {:.3}", (mb(bytes as usize) / secs) / 100.0);
    println!(
        "  export MB/s of CSV, wide month / 100 MB/s target: {:.2}",
        (mb(wide_bytes as usize) / wide_secs) / 100.0
    );
    println!(
        "  export MB/s of CSV, closed 1M-record month / 100 MB/s target: {:.2}",
        (mb(bytes as usize) / closed_secs) / 100.0
    );
    println!(
        "  export MB/s of CSV, closed wide month / 100 MB/s target: {:.2} (uncounted: {:.2})",
        (mb(wide_bytes as usize) / wide_closed_secs) / 100.0,
        wide_closed_rate / 100.0
    );
    println!("  closed / open export time, 1M-record month: {:.3}", closed_secs / secs);
    println!("  CSV writer MB/s / 100 MB/s target: {:.2}", (mb(writer.value as usize) / writer_secs) / 100.0);
    println!(
        "  users report with latency / history reads one at a time: {:.3}",
        slow_run.elapsed.as_secs_f64() / one_at_a_time.as_secs_f64()
    );
    println!("  export peak / store size: {:.4}", export.peak_above_start as f64 / store_bytes as f64);
    println!(
        "  unsealed / sealed users report time: {:.2}",
        unsealed.elapsed.as_secs_f64() / users_run.elapsed.as_secs_f64()
    );
}
