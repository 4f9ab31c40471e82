//! The cost use cases: a person's own costs, the per-user report and the finance export.
//!
//! The ledger is the workspace event history (docs/adr/0006-costs.md): every state change
//! writes its event in the same transaction as the workspace, so a report rebuilds each
//! workspace's billable intervals from its events and prices them with its product's
//! price book. The month index ([`super::ledger`]) bounds the admin and finance reports to
//! the workspaces active in the month, and lines flow through [`LineSink`]s one at a time:
//! the users report keeps one total per user, the export streams rows.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use jiff::Timestamp;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::actuals::{Actual, Actuals};
use super::budget::{BudgetBook, Rule, crossings_of};
use super::cost_centres::CostCentreBook;
use super::ledger::{Ledger, LineSink, ReadStats, Scope, Unpriced};
use super::month::{Month, MonthBoundary};
use super::ports::{ActualStore, BudgetStore, CostCentreStore, ExchangeRateStore, ExportObjects, MonthIndex};
use super::rates::{Converted, RateBook};
use super::report::{ActualLine, ActualPart, WorkspaceCost};
use crate::catalog::Catalog;
use crate::kernel::{Caller, DomainError, Profile, Role, UserDirectory};
use crate::workspaces::WorkspaceStore;

/// Where report months begin and end. UTC, like AWS billing and Cost Explorer, so that
/// estimates and actuals cover the same hours. A constant for now; an organisation setting
/// later ([`MonthBoundary::Zone`] is supported by the pure code).
pub const MONTH_BOUNDARY: MonthBoundary = MonthBoundary::Utc;

/// The currency a report with no line is shown in (the catalog's currency).
pub const DEFAULT_CURRENCY: &str = "EUR";

/// The ports the cost use cases run on.
#[derive(Clone)]
pub struct Costs {
    /// The event histories the lines are computed from.
    pub store: Arc<dyn WorkspaceStore>,
    /// The products' prices.
    pub catalog: Arc<dyn Catalog>,
    /// E-mails and cost centres, once per user per report; a user it no longer knows is
    /// reported without them.
    pub directory: Arc<dyn UserDirectory>,
    /// Which workspaces a month concerns, and closed months' lines.
    pub index: Arc<dyn MonthIndex>,
    /// Budgets in force and crossings recorded.
    pub budgets: Arc<dyn BudgetStore>,
    /// What Cost Explorer billed, as last fetched; never Cost Explorer itself.
    pub actuals: Arc<dyn ActualStore>,
    /// Who is charged to which cost centre, by month.
    pub cost_centres: Arc<dyn CostCentreStore>,
    /// The admins' dated exchange rates, that actuals are converted with.
    pub rates: Arc<dyn ExchangeRateStore>,
    /// Where exports written to an object are kept for download (the exports bucket).
    pub exports: Arc<dyn ExportObjects>,
}

/// How a report's actuals are converted into the catalog's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversion {
    /// Cost Explorer's currency.
    pub from: String,
    /// The catalog's.
    pub to: String,
    /// The rate used and its effective day, or why there is none.
    pub rate: Result<(Decimal, Option<jiff::civil::Date>), String>,
}

impl Conversion {
    /// The conversion of `actuals` (once fetched) into `to` with `book`'s rate for `month`.
    fn of(actuals: &Actuals, to: &str, book: &RateBook, month: Month) -> Option<Conversion> {
        let from = actuals.currency.clone()?;
        let rate = book.convert(Decimal::ZERO, &from, to, month).map(|c| (c.rate, c.rate_date));
        Some(Conversion { from, to: to.to_owned(), rate })
    }

    /// `actual` converted, when there is a rate and it is in this conversion's currency.
    pub fn convert(&self, actual: Option<&Actual>) -> Option<Converted> {
        let actual = actual.filter(|a| a.currency == self.from)?;
        let (rate, rate_date) = self.rate.clone().ok()?;
        Some(Converted {
            amount: (actual.amount * rate)
                .round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointNearestEven),
            currency: self.to.clone(),
            rate,
            rate_date,
            from: self.from.clone(),
        })
    }
}

/// The month's bill, whole: the users' direct actuals, the platform's overhead and the rest
/// of the untagged remainder add up to Cost Explorer's total, exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciliation {
    /// Σ every owner's direct actuals (every owner's: the users listed), exact.
    pub direct: Decimal,
    /// The platform's costs (`atelier:component=platform`), exact; Σ users' overhead shares
    /// when anybody was billed.
    pub overhead: Decimal,
    /// What is neither a user's nor the platform's, exact.
    pub unallocated: Decimal,
    /// Cost Explorer's total for the days counted, exact.
    pub total: Decimal,
    /// ISO 4217 code of every figure (Cost Explorer's).
    pub currency: String,
    /// The last day counted.
    pub through: jiff::civil::Date,
    /// True when part of it is still estimated.
    pub estimated: bool,
    /// True when the overhead is split between users (somebody was billed).
    pub overhead_allocated: bool,
}

/// A report's lines for one month, all in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CostReport {
    /// The month reported.
    pub month: Month,
    /// ISO 4217 code of every amount.
    pub currency: String,
    /// One line per workspace that cost something in the month, oldest workspace first.
    pub lines: Vec<WorkspaceCost>,
    /// The exact sum of the lines' rounded totals.
    pub total: Decimal,
    /// Workspaces left out because their lines could not be computed.
    pub unpriced: Vec<Unpriced>,
}

/// A person's own month: their lines, their budget and what it has crossed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyCosts {
    /// The caller's lines, computed up to the request's instant.
    pub report: CostReport,
    /// The budget amount in force, if any.
    pub budget: Option<Decimal>,
    /// Thresholds recorded as crossed this month, ascending.
    pub thresholds_crossed: Vec<u16>,
    /// What AWS billed per workspace for the month's closed days, when known.
    pub actuals: Actuals,
    /// How those actuals convert into the report's currency, once fetched.
    pub conversion: Option<Conversion>,
}

/// One user's share of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserCost {
    /// Username.
    pub user: String,
    /// E-mail address, empty when unknown.
    pub email: String,
    /// Cost centre, when known.
    pub cost_centre: Option<String>,
    /// Running seconds of all their workspaces in the month, exact.
    pub running_seconds: Decimal,
    /// The exact sum of their lines' rounded totals.
    pub total: Decimal,
    /// The budget amount in force, if any.
    pub budget: Option<Decimal>,
    /// Thresholds recorded as crossed this month, ascending.
    pub thresholds_crossed: Vec<u16>,
    /// What AWS billed them for the month's closed days, when known.
    pub actual: Option<Actual>,
    /// Their share of the platform's overhead ([`super::actuals::allocate_overhead`]), when
    /// actuals are known.
    pub overhead: Option<Actual>,
}

impl UserCost {
    /// `user` with nothing counted yet.
    fn empty(user: &str, email: String) -> Self {
        UserCost {
            user: user.to_owned(),
            email,
            cost_centre: None,
            running_seconds: Decimal::ZERO,
            total: Decimal::ZERO,
            budget: None,
            thresholds_crossed: Vec::new(),
            actual: None,
            overhead: None,
        }
    }
}

/// The users report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsersReport {
    /// The month reported.
    pub month: Month,
    /// ISO 4217 code of every amount ([`DEFAULT_CURRENCY`] when there is no line).
    pub currency: String,
    /// The exact sum of every line's rounded total.
    pub total: Decimal,
    /// By username.
    pub users: Vec<UserCost>,
    /// Workspaces left out because their lines could not be computed (the others are in).
    pub unpriced: Vec<Unpriced>,
    /// What AWS billed that neither an owner tag nor the platform's tag claims, when fetched.
    pub unallocated: Option<Actual>,
    /// The platform's costs, allocated to users as their `overhead`, when fetched.
    pub overhead: Option<Actual>,
    /// Direct + overhead + unallocated = Cost Explorer's total, when fetched.
    pub reconciliation: Option<Reconciliation>,
    /// How actuals convert into the report's currency, once fetched.
    pub conversion: Option<Conversion>,
    /// What was read.
    pub stats: ReadStats,
}

/// An authorised export of one month, ready to stream ([`Costs::stream_export`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRequest {
    /// The month to export; checked not to be in the future.
    pub month: Month,
    /// Only lines of this cost centre (the directory's, else the one recorded on the
    /// workspace); `None` for every line.
    pub cost_centre: Option<String>,
    /// The instant an open month is computed up to: when the request was authorised.
    pub now: Timestamp,
}

/// Whole seconds of an exact duration, rounded down (what the API shows).
pub fn whole_seconds(seconds: Decimal) -> u64 {
    seconds.floor().to_u64().unwrap_or(0)
}

impl Costs {
    fn ledger(&self) -> Ledger<'_> {
        Ledger::new(self.store.as_ref(), self.catalog.as_ref(), self.index.as_ref(), Some(self.cost_centres.as_ref()))
    }

    /// The caller's own workspaces' costs in `month` (`YYYY-MM`), computed up to `now`,
    /// with their budget. Any signed-in user; a malformed or future month is
    /// `Unprocessable` on `month`.
    pub async fn my_costs(&self, caller: &Caller, month: &str, now: Timestamp) -> Result<MyCosts, DomainError> {
        let month = Month::parse(month, now, &MONTH_BOUNDARY)?;
        let mut sink = Collect::new(self.directory.as_ref());
        self.ledger().each_line(&Scope::Owner(caller.username.clone()), month, now, &mut sink).await?;
        let report = sink.finish(month)?;
        // The caller's own rule, else the default: two reads, not every user's budgets.
        let rule = Rule::load(self.budgets.as_ref(), &caller.username).await?;
        // Only the rule in force's: a changed budget re-arms its thresholds.
        let thresholds_crossed = crossings_of(self.budgets.as_ref(), month, Some(&caller.username))
            .await?
            .into_iter()
            .filter(|c| c.revision == rule.revision)
            .map(|c| c.threshold)
            .collect();
        let budget = rule.budget;
        let actuals = self.actuals.actuals(month).await?.only_owner(&caller.username);
        let conversion = self.conversion(&actuals, &report.currency, month).await?;
        Ok(MyCosts { report, budget: budget.amount, thresholds_crossed, actuals, conversion })
    }

    /// Every user's costs in `month`, with budgets and crossings (admins only).
    pub async fn users_report(&self, caller: &Caller, month: &str, now: Timestamp) -> Result<UsersReport, DomainError> {
        require(caller, &[Role::Admin], "only admins may see every user's costs")?;
        let month = Month::parse(month, now, &MONTH_BOUNDARY)?;
        let mut sink = PerUser {
            profiles: Profiles::new(self.directory.as_ref()),
            users: BTreeMap::new(),
            currency: Currency::default(),
            total: Decimal::ZERO,
            unpriced: Vec::new(),
        };
        let stats = self.ledger().each_line(&Scope::All, month, now, &mut sink).await?;
        let budgets = BudgetBook::load(self.budgets.as_ref()).await?;
        let mut crossed: HashMap<String, Vec<u16>> = HashMap::new();
        for crossing in crossings_of(self.budgets.as_ref(), month, None).await? {
            if crossing.revision == budgets.rule(&crossing.user).revision {
                crossed.entry(crossing.user).or_default().push(crossing.threshold);
            }
        }
        let actuals = self.actuals.actuals(month).await?;
        // Everybody Cost Explorer billed is listed, with or without an estimate this month
        // (a snapshot kept after its workspace ended), so that the users add up to the bill.
        for owner in actuals.owners.keys() {
            if !sink.users.contains_key(owner) {
                let profile = profile_of(self.directory.as_ref(), owner).await?;
                sink.users.insert(owner.clone(), UserCost::empty(owner, profile.email.unwrap_or_default()));
            }
        }
        let shares = actuals.overhead_shares();
        let users = sink
            .users
            .into_values()
            .map(|mut u| {
                u.budget = budgets.of(&u.user).amount;
                u.thresholds_crossed = crossed.remove(&u.user).unwrap_or_default();
                u.actual = actuals.owner_total(&u.user);
                u.overhead = u
                    .actual
                    .as_ref()
                    .and_then(|_| actuals.stated(shares.get(&u.user).copied().unwrap_or(Decimal::ZERO)));
                u
            })
            .collect();
        let currency = sink.currency.finish();
        let conversion = self.conversion(&actuals, &currency, month).await?;
        let reconciliation = actuals.stated(actuals.total()).map(|total| Reconciliation {
            direct: actuals.owners.values().map(|o| o.total).sum(),
            overhead: actuals.platform,
            unallocated: actuals.unclaimed(),
            total: total.amount,
            currency: total.currency,
            through: total.through,
            estimated: total.estimated,
            overhead_allocated: !shares.is_empty(),
        });
        Ok(UsersReport {
            month,
            currency,
            total: sink.total,
            users,
            unpriced: sink.unpriced,
            unallocated: actuals.stated(actuals.unclaimed()),
            overhead: actuals.stated(actuals.platform),
            reconciliation,
            conversion,
            stats,
        })
    }

    /// The conversion of `actuals` into `currency` (no read before any fetch).
    async fn conversion(
        &self,
        actuals: &Actuals,
        currency: &str,
        month: Month,
    ) -> Result<Option<Conversion>, DomainError> {
        if actuals.currency.is_none() {
            return Ok(None);
        }
        let book = RateBook::new(self.rates.exchange_rates().await?);
        Ok(Conversion::of(actuals, currency, &book, month))
    }

    /// Authorises an export of `month` (finance and admins), optionally only one cost
    /// centre's lines. Nothing is read yet: errors here come before any byte is sent.
    pub fn export_request(
        &self,
        caller: &Caller,
        month: &str,
        cost_centre: Option<&str>,
        now: Timestamp,
    ) -> Result<ExportRequest, DomainError> {
        require(caller, &[Role::Finance, Role::Admin], "only finance and admins may export costs")?;
        let month = Month::parse(month, now, &MONTH_BOUNDARY)?;
        Ok(ExportRequest { month, cost_centre: cost_centre.map(str::to_owned), now })
    }

    /// Streams the export's lines to `sink`, with e-mails from the directory, then what
    /// Cost Explorer billed that month as `actual` rows ([`ActualLine`]). Without a
    /// cost-centre filter the lines' total is the users report's, and the actual rows add
    /// up to Cost Explorer's total; with one, only that cost centre's owners are written.
    pub async fn stream_export(
        &self,
        request: &ExportRequest,
        sink: &mut dyn LineSink,
    ) -> Result<ReadStats, DomainError> {
        let mut filtered = ExportSink {
            profiles: Profiles::new(self.directory.as_ref()),
            cost_centre: request.cost_centre.clone(),
            currency: Currency::default(),
            owners: HashMap::new(),
            inner: sink,
        };
        let stats = self.ledger().each_line(&Scope::All, request.month, request.now, &mut filtered).await?;
        let actuals = self.actuals.actuals(request.month).await?;
        let lines = actual_lines(&actuals, request.month)?;
        if lines.is_empty() {
            return Ok(stats);
        }
        let book = CostCentreBook::new(self.cost_centres.cost_centre_changes(None).await?);
        for mut line in lines {
            if !line.user.is_empty() {
                let (email, cost_centre) = match filtered.owners.get(&line.user) {
                    Some(seen) => seen.clone(),
                    None => {
                        let profile = profile_of(self.directory.as_ref(), &line.user).await?;
                        let recorded = book.in_force(&line.user, request.month).map(str::to_owned);
                        let seen = (profile.email.unwrap_or_default(), recorded);
                        filtered.owners.insert(line.user.clone(), seen.clone());
                        seen
                    }
                };
                (line.email, line.cost_centre) = (email, cost_centre);
            }
            if request.cost_centre.is_some() && line.cost_centre != request.cost_centre {
                continue;
            }
            filtered.inner.actual(line).await?;
        }
        Ok(stats)
    }
}

/// The `actual` rows of `month` from what Cost Explorer billed ([`ActualPart`]): per owner,
/// each workspace's cost, their other tagged costs and their overhead share; then the
/// overhead no user was charged (a month no user was billed in) and the unallocated rest.
/// Users and workspaces in order; e-mails and cost centres left for the caller to fill.
fn actual_lines(actuals: &Actuals, month: Month) -> Result<Vec<ActualLine>, DomainError> {
    let (Some(currency), Some(through)) = (&actuals.currency, actuals.through) else { return Ok(Vec::new()) };
    let period_start =
        month.start(&MONTH_BOUNDARY).ok_or_else(|| DomainError::unprocessable("month", "out of range"))?;
    let period_end = through
        .to_zoned(jiff::tz::TimeZone::UTC)
        .map_err(|e| DomainError::unprocessable("through", e.to_string()))?
        .timestamp();
    let row = |user: &str, workspace_id: Option<&str>, part: ActualPart, amount: Decimal| ActualLine {
        month,
        user: user.to_owned(),
        email: String::new(),
        cost_centre: None,
        workspace_id: workspace_id.map(str::to_owned),
        part,
        amount,
        currency: currency.clone(),
        period_start,
        period_end,
    };
    let shares = actuals.overhead_shares();
    let mut lines = Vec::new();
    for (owner, billed) in &actuals.owners {
        for (workspace, amount) in &billed.workspaces {
            lines.push(row(owner, Some(workspace), ActualPart::Direct, *amount));
        }
        let other = billed.total - billed.workspaces.values().copied().sum::<Decimal>();
        if !other.is_zero() {
            lines.push(row(owner, None, ActualPart::Direct, other));
        }
        if let Some(share) = shares.get(owner).filter(|s| !s.is_zero()) {
            lines.push(row(owner, None, ActualPart::Overhead, *share));
        }
    }
    if shares.is_empty() && !actuals.platform.is_zero() {
        lines.push(row("", None, ActualPart::Overhead, actuals.platform));
    }
    if !actuals.unclaimed().is_zero() {
        lines.push(row("", None, ActualPart::Unallocated, actuals.unclaimed()));
    }
    Ok(lines)
}

/// The one currency of a report: the first line's; any other is refused.
#[derive(Default)]
struct Currency(Option<String>);

impl Currency {
    fn check(&mut self, line: &WorkspaceCost) -> Result<(), DomainError> {
        match &self.0 {
            None => {
                self.0 = Some(line.currency.clone());
                Ok(())
            }
            Some(c) if *c == line.currency => Ok(()),
            Some(_) => {
                Err(DomainError::unprocessable("currency", "the catalog prices workspaces in several currencies"))
            }
        }
    }

    fn finish(self) -> String {
        self.0.unwrap_or_else(|| DEFAULT_CURRENCY.to_owned())
    }
}

/// Directory profiles, read once per user per report.
struct Profiles<'a> {
    directory: &'a dyn UserDirectory,
    cache: HashMap<String, Profile>,
}

impl<'a> Profiles<'a> {
    fn new(directory: &'a dyn UserDirectory) -> Self {
        Self { directory, cache: HashMap::new() }
    }

    /// Fills the line's e-mail and cost centre from the owner's profile (the recorded cost
    /// centre stays when the directory has none).
    async fn fill(&mut self, line: &mut WorkspaceCost) -> Result<(), DomainError> {
        // One lookup per line once the owner is known (the export's hot path).
        if let Some(profile) = self.cache.get(&line.info.owner) {
            Self::apply(profile, line);
            return Ok(());
        }
        let profile = profile_of(self.directory, &line.info.owner).await?;
        Self::apply(&profile, line);
        self.cache.insert(line.info.owner.clone(), profile);
        Ok(())
    }

    /// The e-mail only: a line's cost centre is Atelier's record for that month (the
    /// ledger's), never the directory's current value, so a closed month never moves.
    fn apply(profile: &Profile, line: &mut WorkspaceCost) {
        if let Some(email) = &profile.email {
            line.info.email.clone_from(email);
        }
    }
}

/// Keeps every line (one person's few).
struct Collect<'a> {
    profiles: Profiles<'a>,
    lines: Vec<WorkspaceCost>,
    currency: Currency,
    unpriced: Vec<Unpriced>,
}

impl<'a> Collect<'a> {
    fn new(directory: &'a dyn UserDirectory) -> Self {
        Self {
            profiles: Profiles::new(directory),
            lines: Vec::new(),
            currency: Currency::default(),
            unpriced: Vec::new(),
        }
    }

    fn finish(self, month: Month) -> Result<CostReport, DomainError> {
        let total = self.lines.iter().map(|l| l.total).sum();
        Ok(CostReport { month, currency: self.currency.finish(), lines: self.lines, total, unpriced: self.unpriced })
    }
}

#[async_trait]
impl LineSink for Collect<'_> {
    async fn unpriced(&mut self, problem: Unpriced) -> Result<(), DomainError> {
        self.unpriced.push(problem);
        Ok(())
    }

    async fn line(&mut self, mut line: WorkspaceCost) -> Result<(), DomainError> {
        self.currency.check(&line)?;
        self.profiles.fill(&mut line).await?;
        self.lines.push(line);
        Ok(())
    }
}

/// One running total per user.
struct PerUser<'a> {
    profiles: Profiles<'a>,
    users: BTreeMap<String, UserCost>,
    currency: Currency,
    total: Decimal,
    unpriced: Vec<Unpriced>,
}

#[async_trait]
impl LineSink for PerUser<'_> {
    async fn unpriced(&mut self, problem: Unpriced) -> Result<(), DomainError> {
        self.unpriced.push(problem);
        Ok(())
    }

    async fn line(&mut self, mut line: WorkspaceCost) -> Result<(), DomainError> {
        self.currency.check(&line)?;
        if !self.users.contains_key(&line.info.owner) {
            self.profiles.fill(&mut line).await?;
            let mut user = UserCost::empty(&line.info.owner, line.info.email.clone());
            user.cost_centre.clone_from(&line.info.cost_centre);
            self.users.insert(line.info.owner.clone(), user);
        }
        if let Some(user) = self.users.get_mut(&line.info.owner) {
            user.running_seconds += line.running_seconds;
            user.total += line.total;
        }
        self.total += line.total;
        Ok(())
    }
}

/// The export's filter and profile filling in front of the caller's sink.
struct ExportSink<'a, 's> {
    profiles: Profiles<'a>,
    cost_centre: Option<String>,
    currency: Currency,
    /// Each owner's e-mail and cost centre as their lines were written, for their actual
    /// rows.
    owners: HashMap<String, (String, Option<String>)>,
    inner: &'s mut dyn LineSink,
}

#[async_trait]
impl LineSink for ExportSink<'_, '_> {
    async fn line(&mut self, mut line: WorkspaceCost) -> Result<(), DomainError> {
        self.currency.check(&line)?;
        self.profiles.fill(&mut line).await?;
        if !self.owners.contains_key(&line.info.owner) {
            let seen = (line.info.email.clone(), line.info.cost_centre.clone());
            self.owners.insert(line.info.owner.clone(), seen);
        }
        if self.cost_centre.as_ref().is_some_and(|c| line.info.cost_centre.as_ref() != Some(c)) {
            return Ok(());
        }
        self.inner.line(line).await
    }
}

/// A user's directory profile. A user the directory no longer knows (a definitive,
/// non-retryable failure) still gets their costs, without e-mail; the cost centre then
/// comes from the workspace. A transient failure fails the report: a report silently
/// missing e-mails would look complete.
async fn profile_of(directory: &dyn UserDirectory, username: &str) -> Result<Profile, DomainError> {
    match directory.profile(username).await {
        Ok(profile) => Ok(profile),
        Err(err) if !err.retryable => {
            tracing::warn!(user = username, error = ?err, "no directory profile; reporting without it");
            Ok(Profile::default())
        }
        Err(err) => Err(err.into()),
    }
}

fn require(caller: &Caller, roles: &[Role], message: &str) -> Result<(), DomainError> {
    if roles.iter().any(|r| caller.has(*r)) { Ok(()) } else { Err(DomainError::Forbidden(message.to_owned())) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    use crate::costs::{CsvWriter, intervals as all_intervals, workspace_costs};
    use crate::testing::{FakeDirectory, Hooked, MemoryStore, ProductBuilder, WorkspaceBuilder, write_history};
    use crate::{Product, State, WorkspaceId};

    fn t(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn product() -> Product {
        ProductBuilder::new("python-r-standard").build()
    }

    /// The memory store with the catalog's one product, serving two items a page (so
    /// that a history is read page by page), behind hooks that record every read.
    fn store() -> Hooked<MemoryStore> {
        let memory = MemoryStore::default().with_page_size(2);
        memory.put_product(product());
        Hooked::new(memory)
    }

    /// A workspace of `owner` whose history is `steps`, the first being its creation.
    async fn workspace(store: &Hooked<MemoryStore>, owner: &str, steps: &[(&str, State)]) -> WorkspaceId {
        let workspace = WorkspaceBuilder::new()
            .name("w")
            .owner(owner)
            .cost_centre("CC-recorded")
            .product(product().id.as_str(), "m5.2xlarge")
            .build();
        let steps: Vec<_> = steps.iter().map(|(at, state)| (t(at), *state)).collect();
        write_history(store.inner().as_ref(), workspace, &steps).await.expect("written").id
    }

    /// The cost use cases on `store`, with a directory that knows alice and has forgotten
    /// everybody else.
    fn costs(store: Arc<Hooked<MemoryStore>>) -> Costs {
        let memory = store.inner().clone();
        let alice = Profile { email: Some("alice@example.org".into()), cost_centre: Some("CC-1".into()), sub: None };
        Costs {
            store,
            catalog: memory.clone(),
            directory: Arc::new(FakeDirectory::default().with_user("alice", alice)),
            index: memory.clone(),
            budgets: memory.clone(),
            actuals: memory.clone(),
            cost_centres: memory.clone(),
            rates: memory,
            exports: Arc::new(crate::testing::MemoryExports::default()),
        }
    }

    fn caller(username: &str, group: &str) -> Caller {
        Caller { sub: username.into(), username: username.into(), groups: vec![group.into()] }
    }

    #[tokio::test]
    async fn storage_is_billed_on_the_volume_a_workspace_launched_with_not_the_catalog_s_later_figure() {
        // Launched with 100 GiB; the product now says 200 GiB (a later product version).
        let memory = MemoryStore::default();
        memory.put_product(ProductBuilder::new("python-r-standard").volume(200).build());
        let store = Hooked::new(memory);
        let mut launched =
            WorkspaceBuilder::new().name("w").owner("alice").product("python-r-standard", "m5.2xlarge").build();
        launched.launch = Some(crate::workspaces::Launch {
            product_version: 1,
            provisioning_artifact_id: None,
            price_version: Some(Timestamp::UNIX_EPOCH),
            volume_gib: 100,
            provisioned_volume_gib: Some(100),
        });
        let steps = [
            (t("2026-02-20T08:00:00Z"), State::Provisioning),
            (t("2026-02-20T08:05:00Z"), State::Running),
            (t("2026-02-20T09:05:00Z"), State::Stopped),
        ];
        write_history(store.inner().as_ref(), launched, &steps).await.expect("written");
        let now = t("2026-04-15T00:00:00Z");
        let report =
            costs(Arc::new(store)).my_costs(&caller("alice", "scientists"), "2026-03", now).await.unwrap().report;
        let march = &report.lines[0];
        assert_eq!(march.info.volume_gib, 100);
        // Stopped all March: a whole calendar month of 100 GiB at 0.0928 EUR per GB-month.
        assert_eq!(march.storage, Decimal::from_str("9.28").unwrap());
    }

    #[tokio::test]
    async fn history_is_read_only_back_to_the_month_and_gives_the_full_history_s_costs() {
        let store = store();
        let steps = [
            ("2026-01-05T08:00:00Z", State::Provisioning),
            ("2026-01-05T08:05:00Z", State::Running),
            ("2026-01-05T18:00:00Z", State::Stopped),
            ("2026-02-02T08:00:00Z", State::Starting),
            ("2026-02-02T08:01:00Z", State::Running),
            ("2026-03-03T10:00:00Z", State::Stopping),
            ("2026-03-03T10:01:00Z", State::Stopped),
        ];
        let id = workspace(&store, "alice", &steps).await;
        let gone = workspace(
            &store,
            "alice",
            &[
                ("2026-01-01T00:00:00Z", State::Provisioning),
                ("2026-01-02T00:00:00Z", State::Terminating),
                ("2026-01-02T00:05:00Z", State::Terminated),
            ],
        )
        .await;
        let full = store.inner().history(&id);
        let store = Arc::new(store);
        let now = t("2026-04-15T00:00:00Z");
        let report =
            costs(store.clone()).my_costs(&caller("alice", "scientists"), "2026-03", now).await.expect("report").report;

        let march = Month::parse("2026-03", now, &MONTH_BOUNDARY).expect("month");
        let info = report.lines[0].info.clone();
        let expected = workspace_costs(
            &info,
            &all_intervals(&id, &full, t("2026-04-01T00:00:00Z")),
            &crate::costs::PriceBook::for_product(&product()).expect("book"),
            &MONTH_BOUNDARY,
            t("2026-04-01T00:00:00Z"),
        )
        .expect("costs");
        let expected: Vec<_> = expected.into_iter().filter(|l| l.month == march).collect();
        assert_eq!(report.lines, expected);
        // Running from 1 March 00:00 to 3 March 10:00 (STOPPING bills no compute).
        assert_eq!(report.lines[0].running_seconds, Decimal::from(2 * 86_400 + 10 * 3600));
        assert_eq!(report.total, report.lines[0].total);
        let reads = store.history_reads();
        assert_eq!(reads.iter().filter(|r| **r == id).count(), 2, "two pages of two reach February");
        assert!(!reads.contains(&gone), "a workspace terminated before the month is not read");
        assert_eq!(info.email, "alice@example.org");
        // Recorded on the workspace at its creation; the directory's CC-1 is a claim, not a record.
        assert_eq!(info.cost_centre.as_deref(), Some("CC-recorded"));
    }

    #[tokio::test]
    async fn a_workspace_without_a_price_is_reported_and_the_others_are_computed() {
        let store = store();
        let steps = [("2026-03-01T00:00:00Z", State::Provisioning), ("2026-03-01T00:00:00Z", State::Running)];
        workspace(&store, "alice", &steps).await;
        // A product whose only price applies from mid-March: its first half has no price.
        let late = ProductBuilder::new("late-priced")
            .prices(vec![crate::costs::PriceVersion {
                effective_from: t("2026-03-15T00:00:00Z"),
                compute_per_hour: Decimal::ONE,
                storage_per_gb_month: Decimal::ONE,
                currency: "EUR".into(),
            }])
            .build();
        store.inner().put_product(late);
        let orphan = WorkspaceBuilder::new().name("w").owner("zoe").product("late-priced", "m5.2xlarge").build();
        let steps: Vec<_> = steps.iter().map(|(at, state)| (t(at), *state)).collect();
        let orphan = write_history(store.inner().as_ref(), orphan, &steps).await.expect("written").id;
        let costs = costs(Arc::new(store));
        let now = t("2026-03-01T01:00:00Z");
        let report =
            costs.users_report(&caller("ada", "admins"), "2026-03", now).await.expect("a report for the others");
        assert_eq!(report.users.iter().map(|u| u.user.as_str()).collect::<Vec<_>>(), ["alice"]);
        assert_eq!(report.stats.unpriced, 1);
        assert_eq!(report.unpriced.len(), 1);
        assert_eq!(
            (report.unpriced[0].workspace_id.as_str(), report.unpriced[0].user.as_str()),
            (orphan.as_str(), "zoe")
        );
        assert!(report.unpriced[0].reason.contains("no price is effective"), "{}", report.unpriced[0].reason);
        let mine = costs.my_costs(&caller("zoe", "scientists"), "2026-03", now).await.expect("zoe's report");
        assert!(mine.report.lines.is_empty());
        assert_eq!(mine.report.unpriced.len(), 1);
    }

    #[tokio::test]
    async fn reports_group_by_user_and_survive_forgotten_users() {
        let store = store();
        let steps = [("2026-03-01T00:00:00Z", State::Provisioning), ("2026-03-01T00:00:00Z", State::Running)];
        workspace(&store, "alice", &steps).await;
        workspace(&store, "alice", &steps).await;
        workspace(&store, "zoe", &steps).await;
        // An admin moved alice to CC-1 from March; zoe has no recorded change.
        let change = crate::costs::CostCentreChange {
            user: "alice".into(),
            month: Month::new(2026, 3).expect("month"),
            cost_centre: "CC-1".into(),
            actor: "ada".into(),
            at: t("2026-02-20T00:00:00Z"),
        };
        crate::costs::CostCentreStore::put_cost_centre_change(store.inner().as_ref(), &change).await.expect("recorded");
        let costs = costs(Arc::new(store));
        let now = t("2026-03-01T01:00:00Z");
        let admin = caller("ada", "admins");
        let report = costs.users_report(&admin, "2026-03", now).await.expect("report");
        let users = &report.users;
        assert_eq!(users.len(), 2);
        assert_eq!(users[0].user, "alice");
        assert_eq!(users[0].cost_centre.as_deref(), Some("CC-1"), "the recorded change for March");
        assert_eq!(users[0].running_seconds, Decimal::from(7200));
        assert_eq!(users[0].total, Decimal::from_str("0.70").expect("d") + Decimal::from_str("0.02").expect("d"));
        assert_eq!(users[1].email, "", "a forgotten user keeps their costs");
        assert_eq!(users[1].cost_centre.as_deref(), Some("CC-recorded"));
        assert_eq!(users.iter().map(|u| u.total).sum::<Decimal>(), report.total);

        let request =
            costs.export_request(&caller("fiona", "finance"), "2026-03", Some("CC-1"), now).expect("authorised");
        let mut finance = Vec::new();
        costs.stream_export(&request, &mut finance).await.expect("export");
        assert_eq!(finance.len(), 2);
        let request = costs.export_request(&caller("ada", "admins"), "2026-03", None, now).expect("authorised");
        let mut all = Vec::new();
        costs.stream_export(&request, &mut all).await.expect("export");
        assert_eq!(all.iter().map(|l| l.total).sum::<Decimal>(), report.total);
        assert!(matches!(
            costs.users_report(&caller("fiona", "finance"), "2026-03", now).await,
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            costs.export_request(&caller("alice", "scientists"), "2026-03", None, now),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            costs.my_costs(&caller("alice", "scientists"), "2026-04", now).await,
            Err(DomainError::Unprocessable { ref field, .. }) if field == "month"
        ));
    }

    /// Keeps lines and actual rows.
    #[derive(Default)]
    struct Rows {
        lines: Vec<WorkspaceCost>,
        actuals: Vec<ActualLine>,
    }

    #[async_trait]
    impl LineSink for Rows {
        async fn line(&mut self, line: WorkspaceCost) -> Result<(), DomainError> {
            self.lines.push(line);
            Ok(())
        }

        async fn actual(&mut self, line: ActualLine) -> Result<(), DomainError> {
            self.actuals.push(line);
            Ok(())
        }
    }

    #[tokio::test]
    async fn the_export_ends_with_what_cost_explorer_billed_adding_up_to_its_total() {
        let store = store();
        let steps = [("2026-03-01T00:00:00Z", State::Provisioning), ("2026-03-01T00:00:00Z", State::Running)];
        let ws = workspace(&store, "alice", &steps).await;
        workspace(&store, "zoe", &steps).await;
        let d = |s: &str| Decimal::from_str(s).expect("d");
        let actuals = Actuals {
            owners: BTreeMap::from([
                (
                    "alice".to_owned(),
                    crate::costs::actuals::OwnerActuals {
                        total: d("4.0000"),
                        workspaces: BTreeMap::from([(ws.to_string(), d("3.9012"))]),
                    },
                ),
                (
                    "zoe".to_owned(),
                    crate::costs::actuals::OwnerActuals { total: d("1.00"), workspaces: BTreeMap::new() },
                ),
            ]),
            currency: Some("USD".into()),
            through: Some("2026-03-15".parse().expect("date")),
            fetched_at: Some(t("2026-03-15T06:00:00Z")),
            estimated: true,
            unallocated: d("5.00"),
            platform: d("3.00"),
        };
        let march = Month::new(2026, 3).expect("month");
        crate::costs::ActualStore::put_actuals(store.inner().as_ref(), march, &actuals).await.expect("stored");
        let costs = costs(Arc::new(store));
        let now = t("2026-03-15T07:00:00Z");

        let request = costs.export_request(&caller("fiona", "finance"), "2026-03", None, now).expect("authorised");
        let mut all = Rows::default();
        costs.stream_export(&request, &mut all).await.expect("export");
        assert_eq!(all.lines.len(), 2);
        let rows: Vec<_> = all
            .actuals
            .iter()
            .map(|a| (a.user.as_str(), a.workspace_id.is_some(), a.part, a.amount.to_string()))
            .collect();
        assert_eq!(
            rows,
            [
                ("alice", true, ActualPart::Direct, "3.9012".to_owned()),
                ("alice", false, ActualPart::Direct, "0.0988".to_owned()),
                // 3.00 of overhead pro rata of 4.00 and 1.00.
                ("alice", false, ActualPart::Overhead, "2.40".to_owned()),
                ("zoe", false, ActualPart::Direct, "1.00".to_owned()),
                ("zoe", false, ActualPart::Overhead, "0.60".to_owned()),
                ("", false, ActualPart::Unallocated, "2.00".to_owned()),
            ]
        );
        assert_eq!(all.actuals.iter().map(|a| a.amount).sum::<Decimal>(), actuals.total());
        let first = &all.actuals[0];
        assert_eq!((first.email.as_str(), first.cost_centre.as_deref()), ("alice@example.org", Some("CC-recorded")));
        assert_eq!((first.period_start, first.period_end), (t("2026-03-01T00:00:00Z"), t("2026-03-15T00:00:00Z")));
        assert_eq!(first.currency, "USD");
        let mut csv = CsvWriter::new(Vec::new(), crate::costs::Separator::Comma);
        all.actuals[2].write_csv(&mut csv).expect("row");
        assert_eq!(
            String::from_utf8(csv.into_inner().expect("flush")).expect("utf-8"),
            "2026-03,alice,alice@example.org,CC-recorded,,,platform,,,,,,2.40,USD,,,,,,\
             2026-03-01T00:00:00Z,2026-03-15T00:00:00Z,actual\r\n"
        );

        // One cost centre's export: its owners' rows only, never the unallocated rest.
        let zoe = costs.export_request(&caller("fiona", "finance"), "2026-03", Some("CC-recorded"), now).expect("ok");
        let mut some = Rows::default();
        costs.stream_export(&zoe, &mut some).await.expect("export");
        assert!(some.actuals.iter().all(|a| !a.user.is_empty()));
        assert_eq!(some.actuals.len(), 5);
    }

    #[test]
    fn seconds_are_rounded_down() {
        assert_eq!(whole_seconds(Decimal::from_str("3599.999999999").expect("d")), 3599);
        assert_eq!(whole_seconds(Decimal::from(3600)), 3600);
        assert_eq!(whole_seconds(Decimal::ZERO), 0);
    }
}
