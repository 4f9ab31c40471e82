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
use super::price::{Billable, LineCost, PriceBook, round_line, top_up_nanos};
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
}

impl WorkspaceCost {
    /// Builds a line from full-precision costs, rounding each part once.
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
        Self { month, info, running_seconds, stopped_seconds, compute, storage, total: compute + storage, currency }
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

    /// Writes the line as one CSV row, in [`super::csv::COLUMNS`] order.
    pub fn write_csv<W: Write>(&self, csv: &mut CsvWriter<W>) -> io::Result<()> {
        csv.write_cells(&[
            Cell::Month(self.month),
            Cell::Text(&self.info.owner),
            Cell::Text(&self.info.email),
            Cell::Text(self.info.cost_centre.as_deref().unwrap_or("")),
            Cell::Text(self.info.workspace_id.as_str()),
            Cell::Text(&self.info.workspace_name),
            Cell::Text(self.info.product.as_str()),
            Cell::Text(&self.info.instance_type),
            Cell::Number(self.running_hours()),
            Cell::Number(self.stopped_hours()),
            Cell::Number(self.compute),
            Cell::Number(self.storage),
            Cell::Number(self.total),
            Cell::Text(&self.currency),
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
pub fn workspace_costs(
    info: &WorkspaceInfo,
    intervals: &[Interval],
    prices: &PriceBook,
    boundary: &MonthBoundary,
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
        .map(|(month, (running, stopped, billable))| line(month, info, running, stopped, &billable, prices))
        .collect()
}

/// The line of `month`: `running` and `stopped` nanoseconds, the cost of `billable`.
pub(crate) fn line(
    month: Month,
    info: &WorkspaceInfo,
    running: i128,
    stopped: i128,
    billable: &Billable,
    prices: &PriceBook,
) -> Result<WorkspaceCost, DomainError> {
    Ok(WorkspaceCost::new(
        month,
        info.clone(),
        Decimal::from_i128_with_scale(running, 9).normalize(),
        Decimal::from_i128_with_scale(stopped, 9).normalize(),
        billable.cost(info.volume_gib, prices)?,
        prices.currency().to_owned(),
    ))
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
        let lines = workspace_costs(&ws, &intervals, &book("0.35"), &MonthBoundary::Utc).expect("costs");
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
        let lines = workspace_costs(&ws, &intervals, &book("0.36"), &MonthBoundary::Utc).expect("costs");
        let [jan, feb, mar] = &lines[..] else { panic!("three months: {lines:?}") };
        assert_eq!((jan.running_seconds, feb.running_seconds, mar.running_seconds), (d("60"), d("30"), d("30")));
        // 0.36 per hour is 0.0001 per second: 0.006 → 0.01 (half-even of 0.006), 0.003 → 0.00.
        assert_eq!((jan.compute, feb.compute, mar.compute), (d("0.01"), d("0.00"), d("0.00")));
    }

    #[test]
    fn csv_rows_follow_the_columns_and_neutralise_names() {
        let ws = info("alice", None);
        let intervals = [interval(&ws, Usage::Running, "2025-03-01T00:00:00Z", "2025-03-01T01:00:00Z")];
        let lines = workspace_costs(&ws, &intervals, &book("0.35"), &MonthBoundary::Utc).expect("costs");
        let mut csv = CsvWriter::new(Vec::new(), Separator::Comma);
        lines[0].write_csv(&mut csv).expect("row");
        let out = String::from_utf8(csv.into_inner().expect("flush")).expect("utf-8");
        assert_eq!(
            out,
            format!(
                "2025-03,alice,alice@example.org,,{},\"'=analysis, \"\"q1\"\"\",python-r-standard,m5.2xlarge,1.00,0.00,0.35,0.01,0.36,EUR\r\n",
                ws.workspace_id
            )
        );
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
                lines.extend(workspace_costs(&ws, &[iv], &prices, &MonthBoundary::Utc).expect("costs"));
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
