//! Costs: every euro traced to a person (docs/adr/0006-costs.md).
//!
//! Owns the estimate (the pipeline below), budgets and their watch, Cost Explorer's
//! actuals, and their ports ([`ports`]). May use: the kernel, the catalog (prices) and
//! workspaces (their histories are the ledger; the budget watch stops workspaces through
//! the lifecycle's writer, and the start check answers the workspaces' `StartGate`),
//! notifications (a crossing's, recorded with it) and the default schedule's zone (the
//! organisation's, to say until when a start is refused).
//!
//! The pure part of the cost pipeline, with no storage and no HTTP:
//!
//! 1. [`interval`]: a workspace's lifecycle events become a tiling of its life into
//!    running / stopped / hibernated intervals (the ledger's content, reconstructible from
//!    the event history at any time, so a crash between the state write and the ledger
//!    write loses nothing).
//! 2. [`month`]: intervals are split at month boundaries (UTC or the organisation's zone).
//! 3. [`price`]: versioned prices, applied from their effective time only, in `Decimal`.
//! 4. [`report`]: one line per workspace and month, rounded once, half-even.
//! 5. [`csv`]: the streaming RFC 4180 export, with CSV-injection neutralisation; [`export`]
//!    writes it once, in chunks, to a streaming body or an object of the exports bucket.
//!
//! [`use_cases`] runs the pipeline on the ports: the ledger is the workspace event history
//! (docs/adr/0006-costs.md), read per workspace; [`ledger`] bounds a month's read with the
//! month index and streams its lines. [`budget`] and [`watch`] are the monthly budgets and
//! their enforcement, [`gate`] the start check of `stop-at-100`; [`actuals`] what AWS
//! billed, from Cost Explorer, and [`rates`] the admins' dated exchange rates it is
//! converted with.
//!
//! No floats anywhere in the money path: durations are integer nanoseconds turned into
//! exact `Decimal` seconds, prices are `Decimal`, and rounding happens once per line.

pub mod actuals;
pub mod aggregate;
pub mod budget;
pub mod cost_centres;
pub mod csv;
pub mod export;
pub mod gate;
pub mod interval;
pub mod ledger;
pub mod month;
pub mod ports;
pub mod price;
pub mod rates;
pub mod report;
pub mod use_cases;
pub mod watch;

pub use actuals::{Actual, ActualGroup, Actuals, ComponentGroup, allocate_overhead};
pub use aggregate::MonthUsage;
pub use budget::{Budget, Budgets, Crossing, Policy, Reach, Rule, Versioned};
pub use cost_centres::{CostCentreBook, CostCentreChange, CostCentres};
pub use csv::{COLUMNS, Cell, CsvWriter, Separator};
pub use export::{CSV_CONTENT_TYPE, ChunkOut, EXPORT_CHUNK_BYTES, ExportedObject, content_disposition};
pub use gate::BudgetGate;
pub use interval::{Interval, Usage, intervals, usage_of};
pub use ledger::{Ledger, LineSink, ReadStats, Scope, Unpriced};
pub use month::{Month, MonthBoundary, split_by_month};
pub use ports::{
    ActualStore, BudgetStore, CostCentreStore, CostSource, ExchangeRateStore, ExportLink, ExportObject, ExportObjects,
    ExportUpload, KnownUsers, MonthIndex,
};
pub use price::{
    LineCost, MINIMUM_RUN_SECONDS, PriceBook, PriceVersion, cost, minimum_top_up, month_seconds, round_line,
};
pub use rates::{Converted, ExchangeRate, ExchangeRates, RateBook};
pub use report::{
    ActualLine, ActualPart, LinePart, WorkspaceCost, WorkspaceInfo, subtotals, sum_exact, workspace_costs,
};
pub use use_cases::{
    CostReport, Costs, DEFAULT_CURRENCY, ExportRequest, MONTH_BOUNDARY, MyCosts, UserCost, UsersReport, whole_seconds,
};
pub use watch::{BudgetWatch, WatchReport};
