//! Report lines: the cost of one workspace in one month, rounded once.
//!
//! Rounding rule: every amount is computed at full precision from the intervals, then a
//! line's compute and storage are each rounded once to the cent (half-even), and the
//! line's total is the sum of those two rounded amounts, so every CSV row adds up. A
//! report's total — per user, per cost centre, or overall — is the exact sum of its
//! rounded line totals ([`sum_exact`]), never a re-rounding of unrounded sums: the CSV's
//! `total_cost` column and the users report agree to the cent.

use std::collections::BTreeMap;
use std::io::{self, Write};

use jiff::Timestamp;
use rust_decimal::Decimal;

use super::csv::{Cell, CsvWriter};
use super::interval::{Interval, Usage};
use super::month::{Month, MonthBoundary, split_by_month};
use super::price::{Billable, LineCost, PriceBook, round_line, split_cents, top_up_nanos};
use crate::kernel::{DomainError, ProductId, WorkspaceId};

/// What a report line says about the workspace besides its costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceInfo {
    /// The workspace.
    pub workspace_id: WorkspaceId,
    /// Its display name.
    pub workspace_name: String,
    /// The owner's username: the person every euro is traced to.
    pub owner: String,
    /// The owner's e-mail address, when known (empty otherwise).
    pub email: String,
    /// The owner's cost centre, when set.
    pub cost_centre: Option<String>,
    /// The catalog product.
    pub product: ProductId,
    /// The EC2 instance type.
    pub instance_type: String,
    /// Size of the workspace's volumes, GiB (storage is billed on it).
    pub volume_gib: u32,
    /// When the workspace was created: reports list lines oldest workspace first.
    pub created_at: Timestamp,
    /// When it reached `TERMINATED`, once it has: its volumes are gone from then on.
    pub ended_at: Option<Timestamp>,
}

/// One price version's share of a line: what finance needs to recompute it (one CSV row).
/// `compute = running_seconds × compute_rate / 3600` and `storage = storage_gib_seconds ×
/// storage_rate / the month's seconds`, each within a cent: a line's parts split its
/// once-rounded amounts ([`super::price::split_cents`]), so they add up to the line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinePart {
    /// The version: the instant its prices apply from.
    pub price_version: Timestamp,
    /// Its compute price per running hour.
    pub compute_rate: Decimal,
    /// Its storage price per GB-month.
    pub storage_rate: Decimal,
    /// Seconds billed running under it, EC2's minimum included, exact.
    pub running_seconds: Decimal,
    /// Seconds stopped or hibernated under it, exact.
    pub stopped_seconds: Decimal,
    /// GiB × seconds of volume under it, exact.
    pub storage_gib_seconds: Decimal,
    /// The part of the month it covers for this workspace: from the latest of the month's
    /// start, the workspace's creation and the version's start…
    pub period_start: Timestamp,
    /// …to the earliest of the month's end, the next version's start, the workspace's
    /// termination and the instant the report was computed at (exclusive).
    pub period_end: Timestamp,
    /// Its share of the line's compute, to the cent.
    pub compute: Decimal,
    /// Its share of the line's storage, to the cent.
    pub storage: Decimal,
}

/// The cost of one workspace in one month: one report line, one CSV row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspaceCost {
    /// The month.
    pub month: Month,
    /// Who and what.
    pub info: WorkspaceInfo,
    /// Seconds billed as running in the month, exact.
    pub running_seconds: Decimal,
    /// Seconds stopped or hibernated (storage only) in the month, exact.
    pub stopped_seconds: Decimal,
    /// Compute cost, rounded once.
    pub compute: Decimal,
    /// Storage cost, rounded once.
    pub storage: Decimal,
    /// `compute + storage`: exact, no further rounding.
    pub total: Decimal,
    /// ISO 4217 code.
    pub currency: String,
    /// By price version, oldest first; empty for lines closed before parts were kept.
    pub parts: Vec<LinePart>,
}

impl WorkspaceCost {
    /// Builds a line from full-precision costs, rounding each part once (no parts).
    pub fn new(
        month: Month,
        info: WorkspaceInfo,
        running_seconds: Decimal,
        stopped_seconds: Decimal,
        full: LineCost,
        currency: String,
    ) -> Self {
        let compute = round_line(full.compute);
        let storage = round_line(full.storage);
        Self {
            month,
            info,
            running_seconds,
            stopped_seconds,
            compute,
            storage,
            total: compute + storage,
            currency,
            parts: Vec::new(),
        }
    }

    /// Running hours as shown in the export: rounded to the hundredth, half-even. Display
    /// only; costs are computed from the exact seconds.
    pub fn running_hours(&self) -> Decimal {
        hours(self.running_seconds)
    }

    /// Stopped (and hibernated) hours as shown in the export; see [`Self::running_hours`].
    pub fn stopped_hours(&self) -> Decimal {
        hours(self.stopped_seconds)
    }

    /// Writes the line as CSV rows in [`super::csv::COLUMNS`] order: one per price version
    /// (`kind` `estimate`), whose amounts add up to the line's; a line closed before parts
    /// were kept is one row with the per-version columns empty.
    pub fn write_csv<W: Write>(&self, csv: &mut CsvWriter<W>) -> io::Result<()> {
        if self.parts.is_empty() {
            let row = Row {
                running_hours: Some(self.running_hours()),
                stopped_hours: Some(self.stopped_hours()),
                compute: Some(self.compute),
                storage: Some(self.storage),
                ..Row::new(self, self.total)
            };
            return row.write(csv);
        }
        for part in &self.parts {
            let (start, end) = (part.period_start.to_string(), part.period_end.to_string());
            let row = Row {
                running_hours: Some(hours(part.running_seconds)),
                stopped_hours: Some(hours(part.stopped_seconds)),
                compute: Some(part.compute),
                storage: Some(part.storage),
                running_seconds: Some(part.running_seconds),
                storage_gib_seconds: Some(part.storage_gib_seconds),
                compute_rate: Some(part.compute_rate),
                storage_rate: Some(part.storage_rate),
                price_version: Some(part.price_version),
                period: Some((&start, &end)),
                ..Row::new(self, part.compute + part.storage)
            };
            row.write(csv)?;
        }
        Ok(())
    }
}

/// What an actual row of the export is ([`ActualLine`]), written in its `product` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActualPart {
    /// Billed with the owner's tag: one workspace's (its id in `workspace_id`), or the
    /// owner's other tagged costs (no workspace).
    Direct,
    /// The owner's share of the platform's overhead (`product` = `platform`); with no
    /// user, the whole overhead of a month no user was billed in.
    Overhead,
    /// What neither an owner nor the platform's tag claims (`product` = `unallocated`).
    Unallocated,
}

/// A `kind` = `actual` row of the export: an amount Cost Explorer billed, exact as it
/// stated it (not rounded), in its own currency. A month's actual rows add up to Cost
/// Explorer's total for it (direct + overhead + unallocated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActualLine {
    /// The month.
    pub month: Month,
    /// The owner; empty for what no user is charged.
    pub user: String,
    /// The owner's e-mail, when known.
    pub email: String,
    /// The owner's cost centre that month, when recorded.
    pub cost_centre: Option<String>,
    /// The workspace, for a workspace's direct cost.
    pub workspace_id: Option<String>,
    /// What it is.
    pub part: ActualPart,
    /// The amount, exact.
    pub amount: Decimal,
    /// Cost Explorer's currency.
    pub currency: String,
    /// The days counted: from the month's start…
    pub period_start: Timestamp,
    /// …to the first day not counted yet (exclusive).
    pub period_end: Timestamp,
}

impl ActualLine {
    /// Writes the row in [`super::csv::COLUMNS`] order: no hours, rates or version.
    pub fn write_csv<W: Write>(&self, csv: &mut CsvWriter<W>) -> io::Result<()> {
        let (start, end) = (self.period_start.to_string(), self.period_end.to_string());
        Row {
            month: self.month,
            user: &self.user,
            email: &self.email,
            cost_centre: self.cost_centre.as_deref().unwrap_or(""),
            workspace_id: self.workspace_id.as_deref().unwrap_or(""),
            workspace_name: "",
            product: match self.part {
                ActualPart::Direct => "",
                ActualPart::Overhead => "platform",
                ActualPart::Unallocated => "unallocated",
            },
            instance_type: "",
            running_hours: None,
            stopped_hours: None,
            compute: None,
            storage: None,
            total: self.amount,
            currency: &self.currency,
            running_seconds: None,
            storage_gib_seconds: None,
            compute_rate: None,
            storage_rate: None,
            price_version: None,
            period: Some((&start, &end)),
            kind: "actual",
        }
        .write(csv)
    }
}

/// A CSV row of the export ([`super::csv::COLUMNS`]); `None` is an empty cell.
pub(crate) struct Row<'a> {
    pub month: Month,
    pub user: &'a str,
    pub email: &'a str,
    pub cost_centre: &'a str,
    pub workspace_id: &'a str,
    pub workspace_name: &'a str,
    pub product: &'a str,
    pub instance_type: &'a str,
    pub running_hours: Option<Decimal>,
    pub stopped_hours: Option<Decimal>,
    pub compute: Option<Decimal>,
    pub storage: Option<Decimal>,
    pub total: Decimal,
    pub currency: &'a str,
    pub running_seconds: Option<Decimal>,
    pub storage_gib_seconds: Option<Decimal>,
    pub compute_rate: Option<Decimal>,
    pub storage_rate: Option<Decimal>,
    pub price_version: Option<Timestamp>,
    pub period: Option<(&'a str, &'a str)>,
    pub kind: &'a str,
}

impl<'a> Row<'a> {
    /// An estimate row of `line` for `total`, every per-version cell empty.
    fn new(line: &'a WorkspaceCost, total: Decimal) -> Self {
        let info = &line.info;
        Row {
            month: line.month,
            user: &info.owner,
            email: &info.email,
            cost_centre: info.cost_centre.as_deref().unwrap_or(""),
            workspace_id: info.workspace_id.as_str(),
            workspace_name: &info.workspace_name,
            product: info.product.as_str(),
            instance_type: &info.instance_type,
            running_hours: None,
            stopped_hours: None,
            compute: None,
            storage: None,
            total,
            currency: &line.currency,
            running_seconds: None,
            storage_gib_seconds: None,
            compute_rate: None,
            storage_rate: None,
            price_version: None,
            period: None,
            kind: "estimate",
        }
    }

    pub(crate) fn write<W: Write>(&self, csv: &mut CsvWriter<W>) -> io::Result<()> {
        let number = |n: Option<Decimal>| n.map_or(Cell::Text(""), Cell::Number);
        let version = self.price_version.map(|v| v.to_string());
        let (start, end) = self.period.unwrap_or(("", ""));
        csv.write_cells(&[
            Cell::Month(self.month),
            Cell::Text(self.user),
            Cell::Text(self.email),
            Cell::Text(self.cost_centre),
            Cell::Text(self.workspace_id),
            Cell::Text(self.workspace_name),
            Cell::Text(self.product),
            Cell::Text(self.instance_type),
            number(self.running_hours),
            number(self.stopped_hours),
            number(self.compute),
            number(self.storage),
            Cell::Number(self.total),
            Cell::Text(self.currency),
            number(self.running_seconds),
            number(self.storage_gib_seconds),
            number(self.compute_rate),
            number(self.storage_rate),
            Cell::Text(version.as_deref().unwrap_or("")),
            Cell::Text(start),
            Cell::Text(end),
            Cell::Text(self.kind),
        ])
    }
}

/// `seconds / 3600` rounded to the hundredth, half-even, always with two decimals.
///
/// In integers when it can (the export calls this twice per row, and a `Decimal` division
/// is most of a row's cost): `seconds = m / 10^s`, so hundredths of an hour are
/// `m / (36 * 10^s)`, rounded half-even on the remainder. Exact, so it agrees with the
/// rounded `Decimal` quotient (`hours_are_the_rounded_quotient`).
fn hours(seconds: Decimal) -> Decimal {
    let scale = seconds.scale();
    let divisor = 10i128.checked_pow(scale).and_then(|p| p.checked_mul(36));
    match divisor {
        Some(divisor) => {
            let m = seconds.mantissa();
            let (mut q, r) = (m / divisor, m % divisor);
            // |r| < divisor ≤ 36e28 < i128::MAX / 2: doubling cannot overflow.
            let twice = 2 * r.abs();
            if twice > divisor || (twice == divisor && q % 2 != 0) {
                q += m.signum();
            }
            Decimal::from_i128_with_scale(q, 2)
        }
        None => round_line(seconds / Decimal::from(3600)),
    }
}

/// The lines of one workspace: its `intervals` split by month under `boundary`, priced by
/// `prices`, accumulated at full precision per month and rounded once per month. Months
/// come out in order; a month with no billable time has no line.
///
/// `intervals` must be the workspace's whole life up to now (as [`super::intervals`] builds
/// it, not cut at a month's end): a running interval is then a whole run, and one shorter
/// than [`super::MINIMUM_RUN_SECONDS`] is billed the minimum (its seconds counted as running).
/// `until` is the instant they are computed up to (where the intervals stop when the
/// workspace still bills): each line's parts cover no time after it.
pub fn workspace_costs(
    info: &WorkspaceInfo,
    intervals: &[Interval],
    prices: &PriceBook,
    boundary: &MonthBoundary,
    until: Timestamp,
) -> Result<Vec<WorkspaceCost>, DomainError> {
    // month → (running nanoseconds, stopped nanoseconds, the time to price)
    let mut months: BTreeMap<Month, (i128, i128, Billable)> = BTreeMap::new();
    for interval in intervals {
        // A run shorter than EC2's minimum is billed the minimum, in the month it started,
        // at the price in force when it started.
        let top_up = top_up_nanos(interval.usage, interval.duration_nanos());
        if top_up > 0 {
            let version = prices.index_at(interval.start).ok_or_else(|| {
                DomainError::unprocessable("prices", format!("no price is effective at {}", interval.start))
            })?;
            let entry = months.entry(Month::containing(interval.start, boundary)).or_default();
            entry.0 += top_up;
            entry.2.add_compute(version, top_up);
        }
        for (month, piece) in split_by_month(interval, boundary) {
            let entry = months.entry(month).or_default();
            match piece.usage {
                Usage::Running => entry.0 += piece.duration_nanos(),
                Usage::Stopped | Usage::Hibernated => entry.1 += piece.duration_nanos(),
            }
            entry.2.add(&piece, prices)?;
        }
    }
    months
        .into_iter()
        .map(|(month, (running, stopped, billable))| {
            line(boundary, month, info, (running, stopped), &billable, prices, until)
        })
        .collect()
}

/// The line of `month`: `running` and `stopped` nanoseconds, the cost of `billable`, split
/// by price version; `until` is the instant it is computed up to, `boundary` where months
/// start and end.
pub(crate) fn line(
    boundary: &MonthBoundary,
    month: Month,
    info: &WorkspaceInfo,
    (running, stopped): (i128, i128),
    billable: &Billable,
    prices: &PriceBook,
    until: Timestamp,
) -> Result<WorkspaceCost, DomainError> {
    let parts = billable.parts(info.volume_gib, prices)?;
    let mut full = LineCost::default();
    for part in &parts {
        full += part.cost;
    }
    let mut line = WorkspaceCost::new(
        month,
        info.clone(),
        Decimal::from_i128_with_scale(running, 9).normalize(),
        Decimal::from_i128_with_scale(stopped, 9).normalize(),
        full,
        prices.currency().to_owned(),
    );
    let computes = split_cents(line.compute, &parts.iter().map(|p| p.cost.compute).collect::<Vec<_>>());
    let storages = split_cents(line.storage, &parts.iter().map(|p| p.cost.storage).collect::<Vec<_>>());
    let month_start = month.start(boundary).unwrap_or(info.created_at);
    let mut month_end = month.end(boundary).unwrap_or(until).min(until);
    if let Some(ended) = info.ended_at {
        month_end = month_end.min(ended);
    }
    let seconds = |nanos: i128| Decimal::from_i128_with_scale(nanos, 9).normalize();
    line.parts = parts
        .iter()
        .zip(computes.into_iter().zip(storages))
        .map(|(part, (compute, storage))| {
            let version = &prices.versions()[part.version];
            let next = prices.versions().get(part.version + 1).map(|v| v.effective_from);
            LinePart {
                price_version: version.effective_from,
                compute_rate: version.compute_per_hour,
                storage_rate: version.storage_per_gb_month,
                running_seconds: seconds(part.running_nanos),
                stopped_seconds: seconds(part.stopped_nanos),
                storage_gib_seconds: (seconds(part.storage_nanos) * Decimal::from(info.volume_gib)).normalize(),
                period_start: month_start.max(info.created_at).max(version.effective_from),
                period_end: next.map_or(month_end, |n| month_end.min(n)),
                compute,
                storage,
            }
        })
        .collect();
    Ok(line)
}

/// A report's total: the exact sum of its lines' rounded totals. The lines of one report
/// share a currency (one price book currency per organisation); group by currency first
/// when they may not.
pub fn sum_exact<'a>(lines: impl IntoIterator<Item = &'a WorkspaceCost>) -> Decimal {
    lines.into_iter().map(|l| l.total).sum()
}

/// Totals per key (e.g. per user with `|l| l.info.owner.clone()`, per cost centre, per
/// month), each the exact sum of rounded line totals, so the subtotals add up to
/// [`sum_exact`] of the same lines.
pub fn subtotals<'a, K: Ord>(
    lines: impl IntoIterator<Item = &'a WorkspaceCost>,
    key: impl Fn(&WorkspaceCost) -> K,
) -> BTreeMap<K, Decimal> {
    let mut out = BTreeMap::new();
    for line in lines {
        *out.entry(key(line)).or_insert(Decimal::ZERO) += line.total;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::costs::csv::Separator;
    use crate::costs::price::PriceVersion;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn t(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn info(owner: &str, cost_centre: Option<&str>) -> WorkspaceInfo {
        WorkspaceInfo {
            workspace_id: WorkspaceId::generate(),
            workspace_name: "=analysis, \"q1\"".to_owned(),
            owner: owner.to_owned(),
            email: format!("{owner}@example.org"),
            cost_centre: cost_centre.map(str::to_owned),
            product: ProductId::parse("python-r-standard").expect("product"),
            instance_type: "m5.2xlarge".to_owned(),
            volume_gib: 100,
            created_at: t("2025-01-01T00:00:00Z"),
            ended_at: None,
        }
    }

    fn book(compute: &str) -> PriceBook {
        PriceBook::new(vec![PriceVersion {
            effective_from: t("2020-01-01T00:00:00Z"),
            compute_per_hour: d(compute),
            storage_per_gb_month: d("0.08"),
            currency: "EUR".to_owned(),
        }])
        .expect("book")
    }

    fn interval(info: &WorkspaceInfo, usage: Usage, start: &str, end: &str) -> Interval {
        Interval { workspace_id: info.workspace_id.clone(), usage, start: t(start), end: t(end) }
    }

    #[test]
    fn a_month_spanning_workspace_gets_one_line_per_month() {
        let ws = info("alice", Some("CC-42"));
        let intervals = [
            interval(&ws, Usage::Running, "2025-01-31T22:00:00Z", "2025-02-01T02:00:00Z"),
            interval(&ws, Usage::Stopped, "2025-02-01T02:00:00Z", "2025-02-01T12:00:00Z"),
        ];
        let lines = workspace_costs(&ws, &intervals, &book("0.35"), &MonthBoundary::Utc, t("2026-01-01T00:00:00Z"))
            .expect("costs");
        assert_eq!(lines.len(), 2);
        let (jan, feb) = (&lines[0], &lines[1]);
        assert_eq!(jan.month.to_string(), "2025-01");
        assert_eq!(jan.running_seconds, d("7200"));
        assert_eq!(jan.compute, d("0.70"));
        // 2 h × 100 GiB × 0.08 / 744 h (January) = 0.0215… → 0.02
        assert_eq!(jan.storage, d("0.02"));
        assert_eq!(jan.total, d("0.72"));
        assert_eq!(feb.running_seconds, d("7200"));
        assert_eq!(feb.stopped_seconds, d("36000"));
        assert_eq!(feb.compute, d("0.70"));
        // 12 h × 100 × 0.08 / 672 h (February) = 0.1428… → 0.14
        assert_eq!(feb.storage, d("0.14"));
        assert_eq!(feb.stopped_hours(), d("10"));
    }

    #[test]
    fn a_short_run_is_billed_a_minute_in_the_month_it_started() {
        let ws = info("alice", None);
        let intervals = [
            // Ten seconds at the end of January: billed 60, all in January.
            interval(&ws, Usage::Running, "2025-01-31T23:59:50Z", "2025-02-01T00:00:00Z"),
            interval(&ws, Usage::Stopped, "2025-02-01T00:00:00Z", "2025-02-01T01:00:00Z"),
            // Thirty seconds over the month end is one run: 60 s, 30 of them in each month.
            interval(&ws, Usage::Running, "2025-02-28T23:59:30Z", "2025-03-01T00:00:30Z"),
        ];
        let lines = workspace_costs(&ws, &intervals, &book("0.36"), &MonthBoundary::Utc, t("2026-01-01T00:00:00Z"))
            .expect("costs");
        let [jan, feb, mar] = &lines[..] else { panic!("three months: {lines:?}") };
        assert_eq!((jan.running_seconds, feb.running_seconds, mar.running_seconds), (d("60"), d("30"), d("30")));
        // 0.36 per hour is 0.0001 per second: 0.006 → 0.01 (half-even of 0.006), 0.003 → 0.00.
        assert_eq!((jan.compute, feb.compute, mar.compute), (d("0.01"), d("0.00"), d("0.00")));
    }

    #[test]
    fn csv_rows_follow_the_columns_and_neutralise_names() {
        let ws = info("alice", None);
        let intervals = [interval(&ws, Usage::Running, "2025-03-01T00:00:00Z", "2025-03-01T01:00:00Z")];
        let lines = workspace_costs(&ws, &intervals, &book("0.35"), &MonthBoundary::Utc, t("2026-01-01T00:00:00Z"))
            .expect("costs");
        let mut csv = CsvWriter::new(Vec::new(), Separator::Comma);
        lines[0].write_csv(&mut csv).expect("row");
        let out = String::from_utf8(csv.into_inner().expect("flush")).expect("utf-8");
        assert_eq!(
            out,
            format!(
                "2025-03,alice,alice@example.org,,{},\"'=analysis, \"\"q1\"\"\",python-r-standard,m5.2xlarge,1.00,0.00,0.35,0.01,0.36,EUR,\
                 3600,360000,0.35,0.08,2020-01-01T00:00:00Z,2025-03-01T00:00:00Z,2025-04-01T00:00:00Z,estimate\r\n",
                ws.workspace_id
            )
        );
        // A line closed before parts were kept: one row, the per-version cells empty.
        let mut legacy = lines[0].clone();
        legacy.parts.clear();
        let mut csv = CsvWriter::new(Vec::new(), Separator::Comma);
        legacy.write_csv(&mut csv).expect("row");
        let out = String::from_utf8(csv.into_inner().expect("flush")).expect("utf-8");
        assert!(out.ends_with(",0.35,0.01,0.36,EUR,,,,,,,,estimate\r\n"), "{out}");
    }

    /// Two price versions in one line: a row each, whose rates recompute its amounts and
    /// whose amounts add up to the line's (rounded once).
    #[test]
    fn a_price_change_splits_the_line_into_a_row_per_version() {
        let mut ws = info("bob", None);
        ws.volume_gib = 200;
        ws.ended_at = Some(t("2026-03-15T04:01:00Z"));
        let book = PriceBook::new(vec![
            PriceVersion {
                effective_from: t("2020-01-01T00:00:00Z"),
                compute_per_hour: d("2.20"),
                storage_per_gb_month: d("0.0928"),
                currency: "EUR".to_owned(),
            },
            PriceVersion {
                effective_from: t("2026-03-15T00:00:00Z"),
                compute_per_hour: d("2.64"),
                storage_per_gb_month: d("0.0928"),
                currency: "EUR".to_owned(),
            },
        ])
        .expect("book");
        let intervals = [
            interval(&ws, Usage::Running, "2026-03-14T22:00:00Z", "2026-03-15T02:00:00Z"),
            interval(&ws, Usage::Stopped, "2026-03-15T02:00:00Z", "2026-03-15T04:01:00Z"),
        ];
        let lines =
            workspace_costs(&ws, &intervals, &book, &MonthBoundary::Utc, t("2026-04-01T00:00:00Z")).expect("costs");
        let [line] = &lines[..] else { panic!("one line: {lines:?}") };
        assert_eq!((line.compute, line.storage, line.total), (d("9.68"), d("0.15"), d("9.83")));
        let [before, after] = &line.parts[..] else { panic!("two parts: {:?}", line.parts) };
        assert_eq!((before.running_seconds, before.stopped_seconds), (d("7200"), d("0")));
        assert_eq!((after.running_seconds, after.stopped_seconds), (d("7200"), d("7260")));
        assert_eq!((before.storage_gib_seconds, after.storage_gib_seconds), (d("1440000"), d("2892000")));
        assert_eq!((before.compute, after.compute), (d("4.40"), d("5.28")));
        // 7,200 s and 14,460 s × 200 GiB × 0.0928 / 2,678,400 s: 0.0498… and 0.1001…
        // (0.1500… → 0.15 once): truncated 0.04 + 0.10, the lost cent to the larger loss.
        assert_eq!((before.storage, after.storage), (d("0.05"), d("0.10")));
        assert_eq!(before.compute + before.storage + after.compute + after.storage, line.total);
        assert_eq!((before.period_start, before.period_end), (t("2026-03-01T00:00:00Z"), t("2026-03-15T00:00:00Z")));
        assert_eq!((after.period_start, after.period_end), (t("2026-03-15T00:00:00Z"), t("2026-03-15T04:01:00Z")));
        assert_eq!((before.compute_rate, after.compute_rate), (d("2.20"), d("2.64")));

        let mut csv = CsvWriter::new(Vec::new(), Separator::Comma);
        line.write_csv(&mut csv).expect("rows");
        let out = String::from_utf8(csv.into_inner().expect("flush")).expect("utf-8");
        let rows: Vec<&str> = out.split("\r\n").filter(|r| !r.is_empty()).collect();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].ends_with(",2.00,0.00,4.40,0.05,4.45,EUR,7200,1440000,2.20,0.0928,2020-01-01T00:00:00Z,2026-03-01T00:00:00Z,2026-03-15T00:00:00Z,estimate"), "{}", rows[0]);
        assert!(rows[1].ends_with(",2.00,2.02,5.28,0.10,5.38,EUR,7200,2892000,2.64,0.0928,2026-03-15T00:00:00Z,2026-03-15T00:00:00Z,2026-03-15T04:01:00Z,estimate"), "{}", rows[1]);
    }

    proptest! {
        /// The integer `hours` is the rounded `Decimal` quotient, equal in value for any
        /// seconds, and always written with two decimals (the quotient drops trailing
        /// zeros: 3,600 s was written `1`, now `1.00`).
        #[test]
        fn hours_are_the_rounded_quotient(
            lo in any::<u32>(), mid in any::<u32>(), hi in 0u32..1000, negative in any::<bool>(), scale in 0u32..=28,
            nanos in 0i64..=i64::MAX, tie in 0i64..1_000_000,
        ) {
            let any = Decimal::from_parts(lo, mid, hi, negative, scale);
            prop_assert_eq!(hours(any), round_line(any / Decimal::from(3600)));
            // Around the ties: 18 s is 0.005 h.
            for n in [i128::from(nanos), i128::from(tie) * 18_000_000_000] {
                let ledger = Decimal::from_i128_with_scale(n, 9);
                prop_assert_eq!(hours(ledger), round_line(ledger / Decimal::from(3600)));
                prop_assert_eq!(hours(ledger).scale(), 2);
            }
        }
    }

    proptest! {
        /// Whatever the workspaces and prices, the users report, the cost-centre report and
        /// the CSV's total_cost column all add up to the same amount, to the cent.
        #[test]
        fn every_total_agrees(
            workspaces in prop::collection::vec((0usize..4, 0i64..5_000_000, 1i64..5_000_000, any::<bool>()), 1..12),
            cents in 1u32..500,
        ) {
            let users = ["alice", "bob", "carol", "dave"];
            let prices = book(&format!("{}.{:02}7", cents / 100, cents % 100));
            let base = t("2025-01-01T00:00:00Z").as_second();
            let mut lines = Vec::new();
            for (user, offset, length, running) in workspaces {
                let ws = info(users[user], (user % 2 == 0).then_some("CC-1"));
                let usage = if running { Usage::Running } else { Usage::Hibernated };
                let start = Timestamp::from_second(base + offset).expect("ts");
                let end = Timestamp::from_second(base + offset + length).expect("ts");
                let iv = Interval { workspace_id: ws.workspace_id.clone(), usage, start, end };
                lines.extend(workspace_costs(&ws, &[iv], &prices, &MonthBoundary::Utc, t("2026-01-01T00:00:00Z")).expect("costs"));
            }
            let total = sum_exact(&lines);
            let by_user: Decimal = subtotals(&lines, |l| l.info.owner.clone()).values().copied().sum();
            let by_centre: Decimal = subtotals(&lines, |l| l.info.cost_centre.clone()).values().copied().sum();
            prop_assert_eq!(by_user, total);
            prop_assert_eq!(by_centre, total);

            let mut csv = CsvWriter::new(Vec::new(), Separator::Semicolon);
            csv.write_header().expect("header");
            for line in &lines {
                prop_assert_eq!(line.total, line.compute + line.storage);
                prop_assert!(line.total.scale() <= 2);
                line.write_csv(&mut csv).expect("row");
            }
            let out = String::from_utf8(csv.into_inner().expect("flush")).expect("utf-8");
            // Names contain neither ';' nor line breaks, so a naive split is enough here.
            let csv_total: Decimal = out
                .split("\r\n")
                .skip(1)
                .filter(|row| !row.is_empty())
                .map(|row| d(row.split(';').nth(12).expect("total_cost")))
                .sum();
            prop_assert_eq!(csv_total, total);
        }
    }
}
