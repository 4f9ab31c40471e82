//! Versioned prices and the cost of an interval, in exact decimals.
//!
//! Money never touches a float: durations are integer nanoseconds turned into `Decimal`
//! seconds, multiplied by the price first and divided last, so whole hours at a whole-cent
//! price come out exact and anything else is carried at `Decimal`'s full precision
//! (28 decimal places) until [`round_line`] rounds a report line, once.
//!
//! AWS's billing rules, each applied here and nowhere else:
//!
//! - **Compute** is billed per second while EC2 bills the instance (which Atelier states
//!   that is: [`super::interval`]), with a minimum of 60 seconds each time an instance
//!   starts ([`MINIMUM_RUN_SECONDS`]; "Per-second billing", Amazon EC2 On-Demand pricing,
//!   <https://aws.amazon.com/ec2/pricing/on-demand/>, and "Instance state and billing",
//!   <https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html>).
//! - **Storage** is quoted per GB-month and prorated per second over the *calendar* month,
//!   in UTC, the way the EBS pricing page works its examples ("… for 12 hours (43,200
//!   seconds) in a 30-day month", <https://aws.amazon.com/ebs/pricing/>): an hour of a
//!   February costs more than an hour of a March. Volume sizes are GiB, as EBS bills them:
//!   no GB/GiB conversion is applied.

use std::collections::BTreeMap;

use jiff::Timestamp;
use rust_decimal::{Decimal, RoundingStrategy};

use super::interval::{Interval, Usage};
use super::month::{Month, MonthBoundary, split_by_month};
use crate::catalog::Product;
use crate::kernel::DomainError;

/// The shortest run EC2 bills: an instance that runs 10 seconds is billed 60.
pub const MINIMUM_RUN_SECONDS: i64 = 60;

const SECONDS_PER_HOUR: u32 = 3600;

pub use crate::catalog::PriceVersion;

/// A product's price history. A price change applies from its effective time onwards,
/// never to time before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceBook {
    /// Sorted by `effective_from`, strictly increasing, one currency, never empty.
    versions: Vec<PriceVersion>,
}

impl PriceBook {
    /// Builds a book from versions in any order. Refused (422): no version, two versions
    /// effective at the same instant (which one applies would be a guess), negative
    /// prices, or mixed currencies (one product's lines must add up in one currency).
    pub fn new(mut versions: Vec<PriceVersion>) -> Result<PriceBook, DomainError> {
        versions.sort_by_key(|v| v.effective_from);
        let first = versions.first().ok_or_else(|| DomainError::unprocessable("prices", "no price version"))?;
        if versions.iter().any(|v| v.currency != first.currency) {
            return Err(DomainError::unprocessable(
                "prices",
                "all versions of a product's price must share one currency",
            ));
        }
        if versions.iter().any(|v| v.compute_per_hour.is_sign_negative() || v.storage_per_gb_month.is_sign_negative()) {
            return Err(DomainError::unprocessable("prices", "prices cannot be negative"));
        }
        if versions.windows(2).any(|w| w[0].effective_from == w[1].effective_from) {
            return Err(DomainError::unprocessable("prices", "two price versions share an effective time"));
        }
        Ok(PriceBook { versions })
    }

    /// The versions, oldest first.
    pub fn versions(&self) -> &[PriceVersion] {
        &self.versions
    }

    /// The book's currency.
    pub fn currency(&self) -> &str {
        &self.versions[0].currency
    }

    /// The version in force at `t`, or `None` before the first one.
    pub fn at(&self, t: Timestamp) -> Option<&PriceVersion> {
        let after = self.versions.partition_point(|v| v.effective_from <= t);
        after.checked_sub(1).map(|i| &self.versions[i])
    }

    /// Cuts `interval` at every effective time inside it, pairing each piece with the
    /// version in force. Time before the first version has no price: an error rather than
    /// a silent zero or a retroactive application of the first price.
    pub fn split<'a>(&'a self, interval: &Interval) -> Result<Vec<(&'a PriceVersion, Interval)>, DomainError> {
        Ok(self.split_indexed(interval)?.into_iter().map(|(i, piece)| (&self.versions[i], piece)).collect())
    }

    /// The index in [`Self::versions`] of the version in force at `t`.
    pub fn index_at(&self, t: Timestamp) -> Option<usize> {
        self.versions.partition_point(|v| v.effective_from <= t).checked_sub(1)
    }

    /// [`Self::split`], each piece with its version's index in [`Self::versions`].
    fn split_indexed(&self, interval: &Interval) -> Result<Vec<(usize, Interval)>, DomainError> {
        let mut out = Vec::new();
        if interval.end <= interval.start {
            return Ok(out);
        }
        let Some(mut index) = self.versions.iter().rposition(|v| v.effective_from <= interval.start) else {
            return Err(DomainError::unprocessable(
                "prices",
                format!(
                    "no price is effective at {} (the first applies from {})",
                    interval.start, self.versions[0].effective_from
                ),
            ));
        };
        let mut start = interval.start;
        while start < interval.end {
            let end = self.versions.get(index + 1).map_or(interval.end, |next| next.effective_from.min(interval.end));
            out.push((index, interval.with_bounds(start, end)));
            start = end;
            index += 1;
        }
        Ok(out)
    }
}

impl PriceBook {
    /// The prices costs are computed with: the product's versioned `prices` when it has
    /// any, else its current `hourly_price` and `storage_price` effective from the Unix
    /// epoch (so every interval, however old, has a price). A storage price in another
    /// currency than the hourly price is refused, as is any book [`PriceBook::new`] refuses.
    pub fn for_product(product: &Product) -> Result<PriceBook, DomainError> {
        if !product.prices.is_empty() {
            return PriceBook::new(product.prices.clone());
        }
        let storage = match &product.storage_price {
            Some(price) if price.currency != product.hourly_price.currency => {
                return Err(DomainError::unprocessable(
                    "prices",
                    format!("product {}: storage and compute prices are in different currencies", product.id),
                ));
            }
            Some(price) => price.amount,
            None => Decimal::ZERO,
        };
        PriceBook::new(vec![PriceVersion {
            effective_from: Timestamp::UNIX_EPOCH,
            compute_per_hour: product.hourly_price.amount,
            storage_per_gb_month: storage,
            currency: product.hourly_price.currency.clone(),
        }])
    }
}

/// The cost of some time, at full precision: not yet rounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineCost {
    /// Running time × compute price.
    pub compute: Decimal,
    /// All non-terminated time × storage price of the volumes.
    pub storage: Decimal,
}

impl std::ops::AddAssign for LineCost {
    fn add_assign(&mut self, other: LineCost) {
        self.compute += other.compute;
        self.storage += other.storage;
    }
}

/// The cost of `interval` for a workspace with `volume_gib` GiB of volumes, at full
/// precision, each part of it at the price in force then. Compute is billed for
/// [`Usage::Running`] only; storage for every interval (intervals exist only for
/// non-terminated, billable time), each second at its calendar UTC month's rate.
pub fn cost(interval: &Interval, volume_gib: u32, prices: &PriceBook) -> Result<LineCost, DomainError> {
    let overflow = || DomainError::unprocessable("prices", "cost out of range");
    let mut total = LineCost::default();
    for (price, piece) in prices.split(interval)? {
        // Exact: nanoseconds as a decimal with 9 places.
        let seconds = Decimal::from_i128_with_scale(piece.duration_nanos(), 9);
        // Multiply first, divide last: whole hours at a cent price stay exact.
        if piece.usage == Usage::Running {
            total.compute += seconds
                .checked_mul(price.compute_per_hour)
                .and_then(|x| x.checked_div(Decimal::from(SECONDS_PER_HOUR)))
                .ok_or_else(overflow)?;
        }
        for (month, part) in split_by_month(&piece, &MonthBoundary::Utc) {
            let seconds = Decimal::from_i128_with_scale(part.duration_nanos(), 9);
            total.storage += seconds
                .checked_mul(price.storage_per_gb_month)
                .and_then(|x| x.checked_mul(Decimal::from(volume_gib)))
                .and_then(|x| x.checked_div(Decimal::from(month_seconds(month)?)))
                .ok_or_else(overflow)?;
        }
    }
    Ok(total)
}

/// Billable time not priced yet: exact nanoseconds per price version (its index in the
/// book), of compute, and of storage per calendar UTC month. [`Billable::parts`] prices each
/// sum once, so the same time gives the same full-precision amount however it was cut into
/// intervals (the event history's or a month aggregate's, [`super::aggregate`]), and a line
/// is a few multiplications and divisions whatever the number of its intervals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Billable {
    compute: BTreeMap<usize, i128>,
    /// Stopped or hibernated time (storage only), per version: what the lines show.
    stopped: BTreeMap<usize, i128>,
    storage: BTreeMap<(usize, Month), i128>,
}

/// One price version's part of some billable time, at full precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartCost {
    /// The version's index in its book's [`PriceBook::versions`].
    pub version: usize,
    /// Nanoseconds billed as running (EC2's minimum included).
    pub running_nanos: i128,
    /// Nanoseconds stopped or hibernated.
    pub stopped_nanos: i128,
    /// Nanoseconds the volumes existed (storage is billed on them).
    pub storage_nanos: i128,
    /// What they cost, unrounded.
    pub cost: LineCost,
}

impl Billable {
    /// Adds `interval`: its running time to compute, all of it to storage (the volume
    /// exists), each part under the version in force then.
    pub fn add(&mut self, interval: &Interval, prices: &PriceBook) -> Result<(), DomainError> {
        for (version, piece) in prices.split_indexed(interval)? {
            if piece.usage == Usage::Running {
                self.add_compute(version, piece.duration_nanos());
            } else {
                self.add_stopped(version, piece.duration_nanos());
            }
            for (month, part) in split_by_month(&piece, &MonthBoundary::Utc) {
                *self.storage.entry((version, month)).or_default() += part.duration_nanos();
            }
        }
        Ok(())
    }

    /// Adds `nanos` of compute under version `version` (a run's minimum top-up).
    pub fn add_compute(&mut self, version: usize, nanos: i128) {
        *self.compute.entry(version).or_default() += nanos;
    }

    /// Adds `nanos` stopped or hibernated under version `version` (counted, not priced:
    /// storage prices that time through [`Self::add_storage`]).
    pub fn add_stopped(&mut self, version: usize, nanos: i128) {
        *self.stopped.entry(version).or_default() += nanos;
    }

    /// Adds `nanos` of storage in the UTC month `month` under version `version`.
    pub fn add_storage(&mut self, version: usize, month: Month, nanos: i128) {
        *self.storage.entry((version, month)).or_default() += nanos;
    }

    /// The time and cost under each price version, oldest version first: compute at its
    /// version's hourly price, storage at its version's GB-month price prorated over its
    /// month's seconds. Multiply first, divide last.
    pub fn parts(&self, volume_gib: u32, prices: &PriceBook) -> Result<Vec<PartCost>, DomainError> {
        let overflow = || DomainError::unprocessable("prices", "cost out of range");
        let mut parts: BTreeMap<usize, PartCost> = BTreeMap::new();
        fn part(parts: &mut BTreeMap<usize, PartCost>, version: usize) -> &mut PartCost {
            parts.entry(version).or_insert(PartCost {
                version,
                running_nanos: 0,
                stopped_nanos: 0,
                storage_nanos: 0,
                cost: LineCost::default(),
            })
        }
        for (&version, &nanos) in &self.compute {
            let price = &prices.versions[version];
            let part = part(&mut parts, version);
            part.running_nanos += nanos;
            part.cost.compute += Decimal::from_i128_with_scale(nanos, 9)
                .checked_mul(price.compute_per_hour)
                .and_then(|x| x.checked_div(Decimal::from(SECONDS_PER_HOUR)))
                .ok_or_else(overflow)?;
        }
        for (&version, &nanos) in &self.stopped {
            part(&mut parts, version).stopped_nanos += nanos;
        }
        for (&(version, month), &nanos) in &self.storage {
            let price = &prices.versions[version];
            let part = part(&mut parts, version);
            part.storage_nanos += nanos;
            part.cost.storage += Decimal::from_i128_with_scale(nanos, 9)
                .checked_mul(price.storage_per_gb_month)
                .and_then(|x| x.checked_mul(Decimal::from(volume_gib)))
                .and_then(|x| x.checked_div(Decimal::from(month_seconds(month)?)))
                .ok_or_else(overflow)?;
        }
        Ok(parts.into_values().collect())
    }
}

/// Splits `rounded`, the once-rounded sum of `exact`, into cent amounts that add up to it
/// exactly, each within a cent of its exact part: every part is truncated to the cent, and
/// the cents truncation lost go one each to the parts that lost the most (the first on a
/// tie). A line split by price version thus keeps the line's rounding-once total.
pub fn split_cents(rounded: Decimal, exact: &[Decimal]) -> Vec<Decimal> {
    let cent = Decimal::new(1, 2);
    let mut parts: Vec<Decimal> = exact.iter().map(|x| x.round_dp_with_strategy(2, RoundingStrategy::ToZero)).collect();
    let mut left = rounded - parts.iter().copied().sum::<Decimal>();
    let mut order: Vec<usize> = (0..exact.len()).collect();
    // Largest loss first; a stable sort keeps the first of equal losses first.
    order.sort_by(|&a, &b| (exact[b] - parts[b]).cmp(&(exact[a] - parts[a])));
    for &i in order.iter().cycle().take(exact.len() * 2) {
        if left < cent {
            break;
        }
        parts[i] += cent;
        left -= cent;
    }
    if let Some(last) = parts.last_mut() {
        // Only for amounts no cent split can reach (negative or sub-cent `rounded`).
        *last += left;
    }
    parts
}

/// The nanoseconds EC2's 60-second minimum adds to a run billed as `usage` that `ran`
/// nanoseconds (a whole run, see [`minimum_top_up`]).
pub fn top_up_nanos(usage: Usage, ran: i128) -> i128 {
    let minimum = i128::from(MINIMUM_RUN_SECONDS) * 1_000_000_000;
    if usage != Usage::Running || ran <= 0 || ran >= minimum { 0 } else { minimum - ran }
}

/// The seconds of a calendar UTC month: 2,419,200 for a February of 28 days, 2,678,400 for
/// a month of 31.
pub fn month_seconds(month: Month) -> Option<i64> {
    let (start, end) = (month.start(&MonthBoundary::Utc)?, month.end(&MonthBoundary::Utc)?);
    Some(end.as_second() - start.as_second())
}

/// What EC2's 60-second minimum adds to `run` (a whole run: a maximal running interval from
/// a start to the next stop, or to now while it lasts): nothing when it ran at least
/// [`MINIMUM_RUN_SECONDS`], else the missing seconds at the compute price in force when it
/// started. Returns `(seconds, compute)`, full precision.
pub fn minimum_top_up(run: &Interval, prices: &PriceBook) -> Result<(Decimal, Decimal), DomainError> {
    let minimum = i128::from(MINIMUM_RUN_SECONDS) * 1_000_000_000;
    let ran = run.duration_nanos();
    if run.usage != Usage::Running || ran <= 0 || ran >= minimum {
        return Ok((Decimal::ZERO, Decimal::ZERO));
    }
    let price = prices
        .at(run.start)
        .ok_or_else(|| DomainError::unprocessable("prices", format!("no price is effective at {}", run.start)))?;
    let seconds = Decimal::from_i128_with_scale(minimum - ran, 9);
    let compute = seconds
        .checked_mul(price.compute_per_hour)
        .and_then(|x| x.checked_div(Decimal::from(SECONDS_PER_HOUR)))
        .ok_or_else(|| DomainError::unprocessable("prices", "cost out of range"))?;
    Ok((seconds, compute))
}

/// Rounds a report line's amount to the cent, half to even (banker's rounding: no
/// upward drift over many lines). Called once per line, on full-precision sums.
pub fn round_line(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Money;
    use crate::kernel::WorkspaceId;
    use crate::testing::ProductBuilder;
    use crate::testing::fixtures::eur;
    use proptest::prelude::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn ts(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + seconds).expect("in range")
    }

    fn version(from: i64, compute: &str, storage: &str) -> PriceVersion {
        PriceVersion {
            effective_from: ts(from),
            compute_per_hour: d(compute),
            storage_per_gb_month: d(storage),
            currency: "EUR".to_owned(),
        }
    }

    fn interval(usage: Usage, start: i64, end: i64) -> Interval {
        Interval {
            workspace_id: WorkspaceId::parse("ws-0123456789abcdefghjkmnpqrs").expect("id"),
            usage,
            start: ts(start),
            end: ts(end),
        }
    }

    #[test]
    fn an_hour_at_35_cents_is_exactly_35_cents() {
        let book = PriceBook::new(vec![version(0, "0.35", "0")]).expect("book");
        let line = cost(&interval(Usage::Running, 0, 3600), 100, &book).expect("cost");
        assert_eq!(line, LineCost { compute: d("0.35"), storage: Decimal::ZERO });
    }

    #[test]
    fn a_second_is_kept_at_full_precision() {
        let book = PriceBook::new(vec![version(0, "0.35", "0")]).expect("book");
        let line = cost(&interval(Usage::Running, 0, 1), 100, &book).expect("cost");
        assert_eq!(line.compute, d("0.35") / Decimal::from(3600));
        assert_ne!(line.compute, Decimal::ZERO);
        assert_eq!(round_line(line.compute), Decimal::ZERO);
    }

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn between(usage: Usage, start: &str, end: &str) -> Interval {
        Interval { start: at(start), end: at(end), ..interval(usage, 0, 1) }
    }

    fn from_2020(compute: &str, storage: &str) -> PriceBook {
        PriceBook::new(vec![PriceVersion {
            effective_from: at("2020-01-01T00:00:00Z"),
            ..version(0, compute, storage)
        }])
        .expect("book")
    }

    #[test]
    fn storage_is_prorated_over_the_calendar_month() {
        // The EBS pricing page's example: 2,000 GB for 12 hours of a 30-day month at 0.10
        // per GB-month = 0.10 × 2000 × 43,200 / (86,400 × 30) = 3.33.
        let june = cost(
            &between(Usage::Stopped, "2026-06-10T00:00:00Z", "2026-06-10T12:00:00Z"),
            2000,
            &from_2020("1", "0.10"),
        );
        let june = june.expect("cost");
        assert_eq!((june.compute, round_line(june.storage)), (Decimal::ZERO, d("3.33")));
        assert_eq!(june.storage, d("200") / d("60"));
        let book = from_2020("1", "0.08");
        // A whole month costs the monthly price, whatever its length.
        for (start, end) in [
            ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"),
            ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"),
            ("2028-02-01T00:00:00Z", "2028-03-01T00:00:00Z"),
        ] {
            let line = cost(&between(Usage::Hibernated, start, end), 100, &book).expect("cost");
            assert_eq!(line.storage, d("8"), "{start}");
        }
        // An hour of February costs 31/28 of an hour of March: 0.08 × 100 / 672 and / 744.
        let feb = cost(&between(Usage::Stopped, "2026-02-10T00:00:00Z", "2026-02-10T01:00:00Z"), 100, &book);
        let mar = cost(&between(Usage::Stopped, "2026-03-10T00:00:00Z", "2026-03-10T01:00:00Z"), 100, &book);
        assert_eq!(feb.expect("cost").storage, d("8") / d("672"));
        assert_eq!(mar.expect("cost").storage, d("8") / d("744"));
        // An interval over a month end is prorated by each month's own length; running
        // bills storage too.
        let over = between(Usage::Running, "2026-02-28T23:00:00Z", "2026-03-01T01:00:00Z");
        let line = cost(&over, 100, &book).expect("cost");
        assert_eq!(line, LineCost { compute: d("2"), storage: d("8") / d("672") + d("8") / d("744") });
    }

    #[test]
    fn month_lengths_are_calendar_utc() {
        let m = |y, n| Month::new(y, n).expect("month");
        assert_eq!(month_seconds(m(2026, 2)), Some(28 * 86_400));
        assert_eq!(month_seconds(m(2028, 2)), Some(29 * 86_400));
        assert_eq!(month_seconds(m(2026, 3)), Some(31 * 86_400));
        assert_eq!(month_seconds(m(2026, 4)), Some(30 * 86_400));
    }

    #[test]
    fn a_start_is_billed_at_least_sixty_seconds() {
        let book = from_2020("0.36", "0");
        // 10 s running: 50 s more at 0.36 per hour (0.0001 per second) = 0.005.
        let short = between(Usage::Running, "2026-03-10T09:00:00Z", "2026-03-10T09:00:10Z");
        assert_eq!(minimum_top_up(&short, &book).expect("top-up"), (d("50"), d("0.005")));
        // 60 s or more, or time that bills no compute, adds nothing.
        let minute = between(Usage::Running, "2026-03-10T09:00:00Z", "2026-03-10T09:01:00Z");
        assert_eq!(minimum_top_up(&minute, &book).expect("top-up"), (Decimal::ZERO, Decimal::ZERO));
        let stopped = between(Usage::Stopped, "2026-03-10T09:00:00Z", "2026-03-10T09:00:10Z");
        assert_eq!(minimum_top_up(&stopped, &book).expect("top-up"), (Decimal::ZERO, Decimal::ZERO));
        // The price in force at the start, even when a new one applies within the minute.
        let changing = PriceBook::new(vec![
            PriceVersion { effective_from: at("2020-01-01T00:00:00Z"), ..version(0, "0.36", "0") },
            PriceVersion { effective_from: at("2026-03-10T09:00:30Z"), ..version(0, "3.60", "0") },
        ])
        .expect("book");
        assert_eq!(minimum_top_up(&short, &changing).expect("top-up"), (d("50"), d("0.005")));
    }

    #[test]
    fn a_price_change_applies_from_its_effective_time_only() {
        let book = PriceBook::new(vec![version(7200, "0.50", "0"), version(0, "0.35", "0")]).expect("book");
        assert_eq!(book.at(ts(-1)), None);
        assert_eq!(book.at(ts(0)).expect("v1").compute_per_hour, d("0.35"));
        assert_eq!(book.at(ts(7199)).expect("v1").compute_per_hour, d("0.35"));
        assert_eq!(book.at(ts(7200)).expect("v2").compute_per_hour, d("0.50"));
        // Two hours at the old price, one at the new.
        let line = cost(&interval(Usage::Running, 0, 3 * 3600), 0, &book).expect("cost");
        assert_eq!(line.compute, d("1.20"));
        // Time before the first price is an error, not free and not retroactively priced.
        assert!(cost(&interval(Usage::Running, -10, 10), 0, &book).is_err());
    }

    #[test]
    fn books_refuse_ambiguous_versions() {
        assert!(PriceBook::new(vec![]).is_err());
        assert!(PriceBook::new(vec![version(0, "1", "1"), version(0, "2", "1")]).is_err());
        assert!(PriceBook::new(vec![version(0, "-1", "1")]).is_err());
        let usd = PriceVersion { currency: "USD".to_owned(), ..version(10, "1", "1") };
        assert!(PriceBook::new(vec![version(0, "1", "1"), usd]).is_err());
    }

    #[test]
    fn rounding_is_half_even_to_the_cent() {
        for (input, expected) in
            [("0.125", "0.12"), ("0.135", "0.14"), ("0.145", "0.14"), ("0.1251", "0.13"), ("2.675", "2.68"), ("0", "0")]
        {
            assert_eq!(round_line(d(input)), d(expected), "{input}");
        }
    }

    proptest! {
        /// A line's cents split by version add up to the line and stay within a cent of
        /// each exact part.
        #[test]
        fn cents_split_adds_up_and_stays_within_a_cent(
            parts in prop::collection::vec((0i64..10_000_000_000, 0u32..=10), 1..6),
        ) {
            let exact: Vec<Decimal> = parts.iter().map(|(m, scale)| Decimal::new(*m, *scale)).collect();
            let rounded = round_line(exact.iter().copied().sum());
            let split = split_cents(rounded, &exact);
            prop_assert_eq!(split.iter().copied().sum::<Decimal>(), rounded);
            for (share, x) in split.iter().zip(&exact) {
                prop_assert!(share.scale() <= 2);
                prop_assert!((*share - *x).abs() < Decimal::new(1, 2), "{} for {}", share, x);
            }
        }

        /// The price split is a partition of the interval, each piece priced by the
        /// version in force at its start.
        #[test]
        fn splitting_preserves_time(
            changes in prop::collection::btree_set(1i64..100_000, 0..5),
            start in 0i64..50_000,
            length in 0i64..100_000,
        ) {
            let mut versions = vec![version(0, "0.35", "0.08")];
            versions.extend(changes.iter().enumerate().map(|(i, at)| version(*at, &format!("0.{}", i + 1), "0.1")));
            let book = PriceBook::new(versions).expect("book");
            let whole = interval(Usage::Running, start, start + length);
            let pieces = book.split(&whole).expect("split");
            let total: i128 = pieces.iter().map(|(_, p)| p.duration_nanos()).sum();
            prop_assert_eq!(total, whole.duration_nanos());
            for (price, piece) in &pieces {
                prop_assert_eq!(book.at(piece.start), Some(*price));
                prop_assert!(piece.end <= whole.end);
            }
        }
    }

    fn product(storage: Option<Money>, prices: Vec<PriceVersion>) -> Product {
        let product = ProductBuilder::new("python-r-standard").prices(prices);
        match storage {
            Some(price) => product.storage_price(price),
            None => product.no_storage_price(),
        }
        .build()
    }

    #[test]
    fn current_prices_apply_from_the_epoch() {
        let book = PriceBook::for_product(&product(Some(eur("0.0928")), vec![])).expect("book");
        let version = book.at(Timestamp::UNIX_EPOCH).expect("a version at the epoch");
        assert_eq!(version.compute_per_hour, Decimal::from_str("0.35").expect("decimal"));
        assert_eq!(version.storage_per_gb_month, Decimal::from_str("0.0928").expect("decimal"));
        let unpriced = PriceBook::for_product(&product(None, vec![])).expect("book");
        assert_eq!(unpriced.versions()[0].storage_per_gb_month, Decimal::ZERO);
        let usd = Money { currency: "USD".into(), ..eur("0.1") };
        assert!(PriceBook::for_product(&product(Some(usd), vec![])).is_err());
    }

    #[test]
    fn versioned_prices_win_and_old_items_read_back() {
        let version = PriceVersion {
            effective_from: Timestamp::from_second(1_700_000_000).expect("ts"),
            compute_per_hour: Decimal::ONE,
            storage_per_gb_month: Decimal::ONE,
            currency: "EUR".into(),
        };
        let book = PriceBook::for_product(&product(None, vec![version.clone()])).expect("book");
        assert_eq!(book.versions(), std::slice::from_ref(&version));

        let mut old = serde_json::to_value(product(None, vec![])).expect("json");
        old.as_object_mut().expect("object").remove("storagePrice");
        let read: Product = serde_json::from_value(old).expect("an item without storage price reads");
        assert_eq!(read.storage_price, None);
        assert!(read.prices.is_empty());
    }
}
