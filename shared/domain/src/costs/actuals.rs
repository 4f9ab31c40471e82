//! Actual costs: what AWS billed, from Cost Explorer, beside the estimates
//! (docs/adr/0006-costs.md, "Actuals").
//!
//! Cost Explorer answers per cost allocation tag (`atelier:owner`, `atelier:workspace`)
//! and only for closed days, a day or more late. A scheduled job ([`fetch`]) asks it for
//! the month so far and stores the answer; reports only read what was stored, so the
//! request path never calls Cost Explorer and `actual` stays `null` until it is known.
//!
//! An actual is always shown with what it is ([`Actual`]): the amount in the currency Cost
//! Explorer answered in (USD for most accounts, never relabelled as the estimates' EUR),
//! the last day it covers, and whether Cost Explorer still marks part of it estimated.
//! What no owner tag claims is kept as the month's unallocated remainder.
//!
//! The whole bill ("The whole bill", ADR 0006): a second question to Cost Explorer, grouped
//! by owner and by the `atelier:component` tag, gives the part of that remainder that is the
//! platform's own ([`Actuals::platform`]: the stacks Atelier deploys carry
//! `atelier:component=platform`). It is the month's overhead, allocated to users pro rata of
//! their direct actuals ([`allocate_overhead`]), so that the users' direct costs, their
//! overhead and the rest of the remainder add up to Cost Explorer's total exactly.

use std::collections::BTreeMap;

use jiff::{Timestamp, civil::Date};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::month::Month;
use super::ports::{ActualStore, CostSource};
use super::use_cases::MONTH_BOUNDARY;
use crate::kernel::DomainError;

/// The cost allocation tag that names a workspace's owner on its AWS resources.
pub const OWNER_TAG: &str = "atelier:owner";
/// The cost allocation tag that names the workspace.
pub const WORKSPACE_TAG: &str = "atelier:workspace";
/// The cost allocation tag every resource of Atelier's own stacks carries (infra/deploy.sh
/// tags each stack; CloudFormation puts a stack's tags on its resources).
pub const COMPONENT_TAG: &str = "atelier:component";
/// The value of [`COMPONENT_TAG`] on the platform's shared resources.
pub const PLATFORM_COMPONENT: &str = "platform";

/// One group of Cost Explorer's second answer: what one (owner, component) tag pair cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentGroup {
    /// The `atelier:owner` tag; `None` when untagged.
    pub owner: Option<String>,
    /// The `atelier:component` tag; `None` when untagged.
    pub component: Option<String>,
    /// Cost of the days asked, exact.
    pub amount: Decimal,
    /// ISO 4217 code of `amount`.
    pub currency: String,
    /// True when Cost Explorer marks the figure estimated.
    pub estimated: bool,
}

/// One group of a Cost Explorer answer: what one (owner, workspace) tag pair cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActualGroup {
    /// `None` for resources without the tag (not Atelier's, or untagged).
    pub owner: Option<String>,
    /// The `atelier:workspace` tag (a workspace id); `None` for resources without it.
    pub workspace: Option<String>,
    /// Amortised cost of the days asked, exact as Cost Explorer gives it.
    pub amount: Decimal,
    /// ISO 4217 code of `amount`.
    pub currency: String,
    /// True when Cost Explorer marks the figure estimated (the day is not final yet).
    pub estimated: bool,
}

/// What AWS billed someone (or something), as it is shown: never a bare number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actual {
    /// Exact, as summed from Cost Explorer.
    pub amount: Decimal,
    /// ISO 4217 code of `amount`: Cost Explorer's, whatever the catalog's currency.
    pub currency: String,
    /// The last day counted (inclusive; UTC days).
    pub through: Date,
    /// True when part of it is still estimated by Cost Explorer.
    pub estimated: bool,
}

/// What AWS billed in one month, by owner and workspace, for the days `[start, through)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actuals {
    /// Per owner: total and per workspace.
    pub owners: BTreeMap<String, OwnerActuals>,
    /// ISO 4217 code of every amount; `None` when no owner was billed or nothing was fetched.
    pub currency: Option<String>,
    /// The first day not covered (the days before it are closed and counted).
    pub through: Option<Date>,
    /// The instant of the run that stored these (its scheduled time); `None` when never fetched.
    pub fetched_at: Option<Timestamp>,
    /// True when Cost Explorer marked any of the days estimated.
    #[serde(default)]
    pub estimated: bool,
    /// Costs no owner tag claims (shared platform resources, untagged ones), exact.
    #[serde(default)]
    pub unallocated: Decimal,
    /// The part of [`Actuals::unallocated`] tagged `atelier:component=platform` (and no
    /// owner): the month's overhead, exact. Zero for documents stored before it existed.
    #[serde(default)]
    pub platform: Decimal,
}

/// One owner's actuals.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerActuals {
    /// Everything billed with the owner's tag, exact (summed, never rounded).
    pub total: Decimal,
    /// By workspace id; costs tagged with the owner but no workspace count in `total` only.
    pub workspaces: BTreeMap<String, Decimal>,
}

impl Actuals {
    /// Groups a Cost Explorer answer (any number of days). Untagged costs (no owner) are not
    /// Atelier's users': they add up to [`Actuals::unallocated`]. One answer has one currency.
    pub fn from_groups(groups: &[ActualGroup], through: Date, fetched_at: Timestamp) -> Result<Actuals, DomainError> {
        let mut out = Actuals { through: Some(through), fetched_at: Some(fetched_at), ..Actuals::default() };
        for group in groups {
            match &out.currency {
                None => out.currency = Some(group.currency.clone()),
                Some(c) if *c == group.currency => {}
                Some(c) => {
                    return Err(DomainError::unprocessable(
                        "currency",
                        format!("Cost Explorer answered in {c} and {}", group.currency),
                    ));
                }
            }
            out.estimated |= group.estimated;
            let Some(owner) = group.owner.as_deref().filter(|o| !o.is_empty()) else {
                out.unallocated += group.amount;
                continue;
            };
            let entry = out.owners.entry(owner.to_owned()).or_default();
            entry.total += group.amount;
            if let Some(workspace) = group.workspace.as_deref().filter(|w| !w.is_empty()) {
                *entry.workspaces.entry(workspace.to_owned()).or_default() += group.amount;
            }
        }
        Ok(out)
    }

    /// Adds Cost Explorer's (owner, component) answer for the same days: the platform's
    /// part of the unallocated remainder. Refused when its currency differs, or when it
    /// claims more than the remainder (the two answers disagree: the job fails and the
    /// month's stored actuals stay as they were).
    pub fn with_components(mut self, groups: &[ComponentGroup]) -> Result<Actuals, DomainError> {
        let mut platform = Decimal::ZERO;
        for group in groups {
            let owned = group.owner.as_deref().is_some_and(|o| !o.is_empty());
            if owned || group.component.as_deref() != Some(PLATFORM_COMPONENT) {
                continue;
            }
            match &self.currency {
                None => self.currency = Some(group.currency.clone()),
                Some(c) if *c == group.currency => {}
                Some(c) => {
                    return Err(DomainError::unprocessable(
                        "currency",
                        format!("Cost Explorer answered in {c} and {}", group.currency),
                    ));
                }
            }
            self.estimated |= group.estimated;
            platform += group.amount;
        }
        if platform > self.unallocated {
            return Err(DomainError::unprocessable(
                "platform",
                format!("the platform's costs ({platform}) exceed the untagged remainder ({})", self.unallocated),
            ));
        }
        self.platform = platform;
        Ok(self)
    }

    /// Everything Cost Explorer billed for these days: every owner's total and the
    /// unallocated remainder (which holds the platform's part), exact.
    pub fn total(&self) -> Decimal {
        self.owners.values().map(|o| o.total).sum::<Decimal>() + self.unallocated
    }

    /// The remainder once the platform's overhead is taken out: untagged costs that are
    /// neither a user's nor the platform's, exact.
    pub fn unclaimed(&self) -> Decimal {
        self.unallocated - self.platform
    }

    /// The month's overhead split between its owners ([`allocate_overhead`]).
    pub fn overhead_shares(&self) -> BTreeMap<String, Decimal> {
        let direct: BTreeMap<String, Decimal> = self.owners.iter().map(|(o, a)| (o.clone(), a.total)).collect();
        allocate_overhead(self.platform, &direct)
    }

    /// `amount` in these actuals' currency, through their last day; `None` before any fetch.
    pub fn stated(&self, amount: Decimal) -> Option<Actual> {
        self.actual(amount)
    }

    /// `amount` as an [`Actual`] of these days; `None` before any fetch.
    fn actual(&self, amount: Decimal) -> Option<Actual> {
        let (currency, through) = (self.currency.clone()?, self.through?.yesterday().ok()?);
        Some(Actual { amount, currency, through, estimated: self.estimated })
    }

    /// What one owner was billed, when known.
    pub fn owner_total(&self, owner: &str) -> Option<Actual> {
        self.owners.get(owner).and_then(|o| self.actual(o.total))
    }

    /// What one workspace was billed, when known.
    pub fn workspace_total(&self, owner: &str, workspace: &str) -> Option<Actual> {
        self.owners.get(owner).and_then(|o| o.workspaces.get(workspace)).and_then(|a| self.actual(*a))
    }

    /// What no owner tag claims, once fetched.
    pub fn unallocated_total(&self) -> Option<Actual> {
        self.actual(self.unallocated)
    }

    /// Only `owner`'s part (what a person may see of it).
    pub fn only_owner(mut self, owner: &str) -> Actuals {
        self.owners.retain(|o, _| o == owner);
        self.unallocated = Decimal::ZERO;
        self.platform = Decimal::ZERO;
        self
    }
}

/// Splits `overhead` between owners pro rata of their `direct` actuals, exactly:
///
/// 1. each owner's weight is their direct total (a negative one, a refund, weighs zero);
/// 2. each share is `overhead × weight / Σ weights`, truncated toward zero to the cent;
/// 3. what truncation left (the cents and anything below a cent in `overhead` itself) goes
///    to the owner with the largest direct total, the first by username on a tie.
///
/// The shares therefore add up to `overhead` exactly. No owner with a positive weight (no
/// user was billed anything): no shares, and the overhead stays the platform's line alone.
pub fn allocate_overhead(overhead: Decimal, direct: &BTreeMap<String, Decimal>) -> BTreeMap<String, Decimal> {
    let weights: Vec<(&String, Decimal)> = direct.iter().map(|(o, d)| (o, (*d).max(Decimal::ZERO))).collect();
    let sum: Decimal = weights.iter().map(|(_, w)| *w).sum();
    if sum.is_zero() || overhead.is_zero() {
        return BTreeMap::new();
    }
    let mut shares: BTreeMap<String, Decimal> = weights
        .iter()
        .map(|(o, w)| {
            let share = (overhead * *w / sum).round_dp_with_strategy(2, rust_decimal::RoundingStrategy::ToZero);
            ((*o).clone(), share)
        })
        .collect();
    let allocated: Decimal = shares.values().copied().sum();
    // The largest weight; `max_by` keeps the last of equals, so compare reversed names.
    if let Some((largest, _)) = weights.iter().max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        && let Some(share) = shares.get_mut(*largest)
    {
        *share += overhead - allocated;
    }
    shares
}

/// What one fetch did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchReport {
    /// Months fetched (`YYYY-MM`) with the first day not covered.
    pub months: Vec<(String, String)>,
    /// Owners with costs, added up over the months fetched (one in both counts twice).
    pub owners: usize,
}

/// Fetches the closed days of the month of `at` (and of the previous month while its last
/// days may still be settling: during the first three days of a month) and stores them.
/// A day is closed once it has ended in UTC; a month that has no closed day yet is skipped.
pub async fn fetch(
    source: &dyn CostSource,
    store: &dyn ActualStore,
    at: Timestamp,
) -> Result<FetchReport, DomainError> {
    let today = at.to_zoned(MONTH_BOUNDARY.time_zone()).date();
    let this = Month::containing(at, &MONTH_BOUNDARY);
    let mut months = vec![this];
    if today.day() <= 3
        && let Some(previous) = Month::new(
            if this.month() == 1 { this.year() - 1 } else { this.year() },
            if this.month() == 1 { 12 } else { this.month() - 1 },
        )
    {
        months.insert(0, previous);
    }
    let mut report = FetchReport { months: Vec::new(), owners: 0 };
    for month in months {
        let start = Date::new(month.year(), month.month(), 1)
            .map_err(|e| DomainError::unprocessable("month", e.to_string()))?;
        let month_end =
            start.last_of_month().tomorrow().map_err(|e| DomainError::unprocessable("month", e.to_string()))?;
        let end = today.min(month_end);
        if end <= start {
            continue;
        }
        let groups = source.cost_by_tag(start, end).await?;
        let components = source.cost_by_component(start, end).await?;
        let actuals = Actuals::from_groups(&groups, end, at)?.with_components(&components)?;
        report.owners += actuals.owners.len();
        store.put_actuals(month, &actuals).await?;
        report.months.push((month.to_string(), end.to_string()));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    use crate::testing::{FakeCostSource, MemoryStore};

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    /// Cost Explorer answering alice's two workspaces, a cost of hers with no workspace tag,
    /// and untagged costs.
    fn source() -> FakeCostSource {
        let group = |owner: Option<&str>, workspace: Option<&str>, amount: &str| ActualGroup {
            owner: owner.map(str::to_owned),
            workspace: workspace.map(str::to_owned),
            amount: d(amount),
            currency: "USD".into(),
            estimated: workspace == Some("ws-2"),
        };
        FakeCostSource::default().answering(vec![
            group(Some("alice"), Some("ws-1"), "1.10"),
            group(Some("alice"), Some("ws-2"), "0.20"),
            group(Some("alice"), None, "0.05"),
            group(None, None, "99"),
        ])
    }

    #[tokio::test]
    async fn closed_days_are_fetched_and_grouped_by_owner_and_workspace() {
        let source = source();
        let store = MemoryStore::default();
        let at: Timestamp = "2026-03-02T06:00:00Z".parse().expect("ts");
        let report = fetch(&source, &store, at).await.expect("fetch");
        let asked = source.asked();
        let date = |s: &str| -> Date { s.parse().expect("date") };
        assert_eq!(asked, [(date("2026-02-01"), date("2026-03-01")), (date("2026-03-01"), date("2026-03-02"))]);
        assert_eq!(report.months.len(), 2);
        let march = store.actuals(Month::new(2026, 3).expect("month")).await.expect("stored");
        let usd = |amount: &str| Actual {
            amount: d(amount),
            currency: "USD".into(),
            through: date("2026-03-01"),
            estimated: true,
        };
        assert_eq!(march.owner_total("alice"), Some(usd("1.35")));
        assert_eq!(march.workspace_total("alice", "ws-1"), Some(usd("1.10")));
        assert_eq!(march.owner_total("bob"), None);
        assert_eq!(march.through, Some(date("2026-03-02")));
        // The untagged remainder is kept, in its currency; a person's view has none of it.
        assert_eq!(march.unallocated_total(), Some(usd("99")));
        assert_eq!(march.clone().only_owner("alice").unallocated, Decimal::ZERO);

        // On the first of a month nothing of it is closed yet: only the previous month.
        let first: Timestamp = "2026-04-01T00:30:00Z".parse().expect("ts");
        let report = fetch(&source, &store, first).await.expect("fetch");
        assert_eq!(report.months, [("2026-03".to_owned(), "2026-04-01".to_owned())]);
    }

    fn component(owner: Option<&str>, component: Option<&str>, amount: &str) -> ComponentGroup {
        ComponentGroup {
            owner: owner.map(str::to_owned),
            component: component.map(str::to_owned),
            amount: d(amount),
            currency: "USD".into(),
            estimated: false,
        }
    }

    #[tokio::test]
    async fn the_platform_is_the_overhead_and_the_parts_add_up_to_the_bill() {
        // alice 1.35, 99 untagged of which 97.0001 the platform's (endpoints, NAT, keys...).
        let source = source().answering_components(vec![
            component(Some("alice"), None, "1.35"),
            component(None, Some("platform"), "90.0001"),
            component(None, Some("platform"), "7"),
            component(None, Some("other"), "1"),
            component(None, None, "0.9999"),
        ]);
        let store = MemoryStore::default();
        fetch(&source, &store, "2026-03-20T06:00:00Z".parse().expect("ts")).await.expect("fetch");
        let march = store.actuals(Month::new(2026, 3).expect("month")).await.expect("stored");
        assert_eq!(march.platform, d("97.0001"));
        assert_eq!(march.unallocated, d("99"), "the stored remainder keeps its meaning");
        assert_eq!(march.unclaimed(), d("1.9999"));
        let shares = march.overhead_shares();
        assert_eq!(shares.get("alice"), Some(&d("97.0001")), "the only user carries it all");
        let direct: Decimal = march.owners.values().map(|o| o.total).sum();
        assert_eq!(direct + shares.values().copied().sum::<Decimal>() + march.unclaimed(), march.total());
        assert_eq!(march.total(), d("100.35"));
        // A person's own view holds no platform figure.
        assert_eq!(march.only_owner("alice").platform, Decimal::ZERO);
    }

    #[test]
    fn a_platform_answer_larger_than_the_remainder_is_refused() {
        let groups =
            [ActualGroup { owner: None, workspace: None, amount: d("1"), currency: "USD".into(), estimated: false }];
        let at: Timestamp = "2026-03-20T06:00:00Z".parse().expect("ts");
        let actuals = Actuals::from_groups(&groups, "2026-03-20".parse().expect("date"), at).expect("grouped");
        let err = actuals.with_components(&[component(None, Some("platform"), "1.01")]).expect_err("refused");
        assert!(matches!(err, DomainError::Unprocessable { ref field, .. } if field == "platform"), "{err:?}");
    }

    #[test]
    fn overhead_goes_pro_rata_truncated_to_the_cent_with_the_rest_to_the_largest() {
        let direct: BTreeMap<String, Decimal> =
            [("alice", "10"), ("bob", "20"), ("carol", "20"), ("dave", "-3"), ("erin", "0")]
                .into_iter()
                .map(|(u, a)| (u.to_owned(), d(a)))
                .collect();
        let shares = allocate_overhead(d("100.005"), &direct);
        // 100.005 × 10/50 = 20.001 → 20.00; × 20/50 = 40.002 → 40.00 (twice); the 0.005 left
        // goes to bob, first by name of the two largest; a refund and a zero weigh nothing.
        assert_eq!(shares["alice"], d("20.00"));
        assert_eq!(shares["bob"], d("40.005"));
        assert_eq!(shares["carol"], d("40.00"));
        assert_eq!(shares["dave"], d("0"));
        assert_eq!(shares["erin"], d("0"));
        assert_eq!(shares.values().copied().sum::<Decimal>(), d("100.005"));
        assert!(allocate_overhead(d("5"), &BTreeMap::new()).is_empty(), "nobody billed: no shares");
    }

    proptest::proptest! {
        /// Whatever the direct totals and the overhead, the shares add up to it exactly and
        /// none is negative (for a non-negative overhead).
        #[test]
        fn shares_always_add_up(
            cents in proptest::collection::vec(-500i64..1_000_000, 1..30),
            overhead in 0i64..100_000_000,
            scale in 0u32..6,
        ) {
            let direct: BTreeMap<String, Decimal> =
                cents.iter().enumerate().map(|(i, c)| (format!("u{i:02}"), Decimal::new(*c, 2))).collect();
            let overhead = Decimal::new(overhead, scale);
            let shares = allocate_overhead(overhead, &direct);
            if direct.values().any(|d| d.is_sign_positive() && !d.is_zero()) && !overhead.is_zero() {
                proptest::prop_assert_eq!(shares.values().copied().sum::<Decimal>(), overhead);
                proptest::prop_assert!(shares.values().all(|s| !s.is_sign_negative()));
            } else {
                proptest::prop_assert!(shares.is_empty());
            }
        }
    }
}
