//! Monthly budgets (docs/adr/0006-costs.md, "Budgets"): a budget per user set by admins,
//! an organisation default for everyone else, thresholds that are recorded once per
//! (user, month, threshold) when the month's estimate crosses them, and an optional
//! `stop-at-100` policy enforced by the budget watch ([`super::watch`]).
//!
//! A user's own budget replaces the default as a whole (amount, thresholds and policy);
//! without one, the default applies. Amounts are `Decimal` in the catalog's currency.

use std::str::FromStr;
use std::sync::Arc;

use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::month::Month;
use super::ports::{BudgetStore, KnownUsers};
use super::use_cases::DEFAULT_CURRENCY;
use crate::kernel::{Caller, DomainError, Role, all_pages};

/// The thresholds a budget has when none are given: 80 % and 100 %.
pub const DEFAULT_THRESHOLDS: [u16; 2] = [80, 100];

/// Largest budget amount accepted (a typo guard, not a policy).
pub const MAX_AMOUNT: i64 = 1_000_000_000;

/// Highest threshold accepted, in percent.
pub const MAX_THRESHOLD: u16 = 1000;

/// Most thresholds one budget may have.
pub const MAX_THRESHOLDS: usize = 10;

/// What happens when a user's month estimate reaches 100 % of their budget.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Policy {
    /// Record the crossing, nothing else.
    #[default]
    #[serde(rename = "notify")]
    Notify,
    /// Record it and stop the user's running workspaces (the budget watch, actor `budget`).
    #[serde(rename = "stop-at-100")]
    StopAt100,
}

impl Policy {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Notify => "notify",
            Policy::StopAt100 => "stop-at-100",
        }
    }
}

impl FromStr for Policy {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, DomainError> {
        match s {
            "notify" => Ok(Policy::Notify),
            "stop-at-100" => Ok(Policy::StopAt100),
            other => Err(DomainError::unprocessable(
                "policy",
                format!("expected \"notify\" or \"stop-at-100\", got {other:?}"),
            )),
        }
    }
}

/// A budget rule: a user's own, or the organisation default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// The monthly amount; `None` only for a default that sets thresholds and policy but
    /// no amount (nobody has a budget then).
    pub amount: Option<Decimal>,
    /// Percentages of the amount, strictly increasing.
    pub thresholds: Vec<u16>,
    /// What reaching 100 % does.
    pub policy: Policy,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { amount: None, thresholds: DEFAULT_THRESHOLDS.to_vec(), policy: Policy::Notify }
    }
}

impl Budget {
    /// Validates and builds a budget from what an admin sent: `amount` a decimal string
    /// (at most two places, above zero), thresholds 1..=1000 strictly increasing (at most
    /// ten; the default when absent), policy `notify` or `stop-at-100`. Unprocessable on
    /// the field at fault.
    pub fn parse(
        amount: Option<&str>,
        thresholds: Option<&[i64]>,
        policy: Option<&str>,
    ) -> Result<Budget, DomainError> {
        let amount = amount.map(parse_amount).transpose()?;
        let thresholds = match thresholds {
            None => DEFAULT_THRESHOLDS.to_vec(),
            Some(list) => parse_thresholds(list)?,
        };
        let policy = policy.map(Policy::from_str).transpose()?.unwrap_or_default();
        Ok(Budget { amount, thresholds, policy })
    }

    /// The thresholds `spent` has reached: those `t` with `spent ≥ amount × t / 100`.
    /// None without an amount.
    pub fn crossed(&self, spent: Decimal) -> Vec<u16> {
        let Some(amount) = self.amount else { return Vec::new() };
        self.thresholds.iter().copied().filter(|t| spent * Decimal::from(100) >= amount * Decimal::from(*t)).collect()
    }

    /// True when `spent` has reached the whole amount.
    pub fn exhausted(&self, spent: Decimal) -> bool {
        self.amount.is_some_and(|amount| spent >= amount)
    }
}

fn parse_amount(value: &str) -> Result<Decimal, DomainError> {
    let invalid = |why: &str| DomainError::unprocessable("amount", format!("{why}, got {value:?}"));
    let ok_chars = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if !ok_chars {
        return Err(invalid("expected a decimal string such as \"300.00\""));
    }
    let amount = Decimal::from_str(value).map_err(|_| invalid("expected a decimal string such as \"300.00\""))?;
    if amount.scale() > 2 {
        return Err(invalid("at most two decimal places"));
    }
    if amount <= Decimal::ZERO || amount > Decimal::from(MAX_AMOUNT) {
        return Err(invalid(&format!("must be above 0 and at most {MAX_AMOUNT}")));
    }
    Ok(amount)
}

fn parse_thresholds(list: &[i64]) -> Result<Vec<u16>, DomainError> {
    let invalid = |why: String| DomainError::unprocessable("thresholds", why);
    if list.is_empty() || list.len() > MAX_THRESHOLDS {
        return Err(invalid(format!("give 1 to {MAX_THRESHOLDS} percentages")));
    }
    let mut out = Vec::with_capacity(list.len());
    for t in list {
        let t = u16::try_from(*t)
            .ok()
            .filter(|t| (1..=MAX_THRESHOLD).contains(t))
            .ok_or_else(|| invalid(format!("each percentage is 1 to {MAX_THRESHOLD}, got {t}")))?;
        if out.last().is_some_and(|last| *last >= t) {
            return Err(invalid("percentages must be strictly increasing".into()));
        }
        out.push(t);
    }
    Ok(out)
}

/// A stored rule with the version its conditional writes compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    /// The rule as stored.
    pub value: T,
    /// Starts at 1 and grows by one with every write; the next write must name it.
    pub version: u64,
}

/// The record of a user's month estimate reaching a threshold: an audit event of the
/// `budget` actor, written at most once per (user, month, threshold).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Crossing {
    /// The Cognito username whose estimate crossed.
    pub user: String,
    /// `YYYY-MM`, in the cost month's zone ([`super::MONTH_BOUNDARY`]).
    pub month: String,
    /// Percent.
    pub threshold: u16,
    /// When the budget watch saw it.
    pub at: Timestamp,
    /// Always `budget`.
    pub actor: String,
    /// The month's estimate then.
    pub spent: Decimal,
    /// The budget amount then.
    pub budget: Decimal,
    /// ISO 4217 code of `spent` and `budget`: the estimate's.
    pub currency: String,
    /// The budget rule it was recorded under ([`Rule::revision`]): a crossing of an
    /// earlier rule does not suppress one of the rule in force (re-arming). Empty for
    /// crossings recorded before rules had revisions, which match no rule.
    #[serde(default)]
    pub revision: String,
}

/// The rule in force for a user, with the revision its crossings are recorded under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Amount, thresholds and policy.
    pub budget: Budget,
    /// Names the stored document and its version, and the amount: `u<version>-<amount>`
    /// for a user's own rule, `d<version>-<amount>` for the organisation default (`d0`:
    /// the built-in one). Any PUT of either changes it, so thresholds are re-armed; the
    /// amount is part of it so that a rule removed and created again (its version starts
    /// over at 1) with another amount is re-armed too.
    pub revision: String,
}

impl Rule {
    /// The rule of a user's own stored budget, else of the stored default, else the
    /// built-in default.
    pub fn of(own: Option<&Versioned<Budget>>, default: Option<&Versioned<Budget>>) -> Rule {
        let (source, versioned) = match (own, default) {
            (Some(own), _) => ("u", Some(own)),
            (None, default) => ("d", default),
        };
        let budget = versioned.map(|v| v.value.clone()).unwrap_or_default();
        let version = versioned.map_or(0, |v| v.version);
        let amount = budget.amount.map(|a| a.normalize().to_string()).unwrap_or_default();
        Rule { revision: format!("{source}{version}-{amount}"), budget }
    }

    /// A user's rule, read from `store`: their own (one `GetItem`), else the default (one more).
    pub async fn load(store: &dyn BudgetStore, user: &str) -> Result<Rule, DomainError> {
        match store.user_budget(user).await? {
            Some(own) => Ok(Rule::of(Some(&own), None)),
            None => Ok(Rule::of(None, store.org_budget().await?.as_ref())),
        }
    }
}

/// The users a month's last full pass found within reach of their budget: at or above
/// [`REACH_PERCENT`] of it, or projected to reach 100 % before the next full pass at the
/// rate of their running workspaces. The budget watch totals these on every tick.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Reach {
    /// The full pass that found them.
    pub pass_at: Timestamp,
    /// Cognito usernames, sorted.
    pub users: Vec<String>,
}

/// At or above this share of their budget, a user is totalled on every tick.
pub const REACH_PERCENT: u16 = 80;

/// A user's budget as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserBudgetView {
    /// The Cognito username (one the directory knows).
    pub user: String,
    /// Their own amount, if they have one.
    pub amount: Option<Decimal>,
    /// Always [`DEFAULT_CURRENCY`]: amounts are in the catalog's currency.
    pub currency: String,
    /// The thresholds in force (their own, else the default's).
    pub thresholds: Vec<u16>,
    /// The policy in force.
    pub policy: Policy,
    /// True when they have no own budget, so the default applies.
    pub inherited: bool,
    /// The amount in force: own, else the default's, else none.
    pub effective: Option<Decimal>,
}

/// The rule in force for a user: their own, else the default.
pub fn effective(own: Option<&Budget>, default: &Budget) -> Budget {
    own.cloned().unwrap_or_else(|| default.clone())
}

/// The budget use cases (admins; finance may read the default).
#[derive(Clone)]
pub struct Budgets {
    /// The default, users' own budgets and the crossings.
    pub store: Arc<dyn BudgetStore>,
    /// Refuses a budget for a username the directory does not know.
    pub users: Arc<dyn KnownUsers>,
}

impl Budgets {
    /// Refuses whoever is not an admin (before a request body is even looked at).
    pub fn require_admin(caller: &Caller) -> Result<(), DomainError> {
        require(caller, &[Role::Admin], "only admins may set budgets")
    }

    /// The organisation default (admins and finance); the built-in one when none is stored.
    pub async fn org_default(&self, caller: &Caller) -> Result<Budget, DomainError> {
        require(caller, &[Role::Admin, Role::Finance], "only admins and finance may read the default budget")?;
        Ok(self.store.org_budget().await?.map(|v| v.value).unwrap_or_default())
    }

    /// Replaces the organisation default (admins). `amount: None` leaves users without an
    /// own budget with none.
    pub async fn set_org_default(&self, caller: &Caller, budget: Budget) -> Result<Budget, DomainError> {
        require(caller, &[Role::Admin], "only admins may set the default budget")?;
        let current = self.store.org_budget().await?;
        self.store.put_org_budget(&budget, current.map(|c| c.version)).await?;
        Ok(budget)
    }

    /// A user's budget (admins). Unknown users are `NotFound`.
    pub async fn user(&self, caller: &Caller, user: &str) -> Result<UserBudgetView, DomainError> {
        require(caller, &[Role::Admin], "only admins may read budgets")?;
        self.known(user).await?;
        let own = self.store.user_budget(user).await?.map(|v| v.value);
        self.view(user, own).await
    }

    /// Sets (or with `amount: None`, removes) a user's own budget (admins).
    pub async fn set_user(&self, caller: &Caller, user: &str, budget: Budget) -> Result<UserBudgetView, DomainError> {
        require(caller, &[Role::Admin], "only admins may set budgets")?;
        self.known(user).await?;
        let current = self.store.user_budget(user).await?;
        let own = if budget.amount.is_none() {
            if let Some(current) = current {
                self.store.delete_user_budget(user, current.version).await?;
            }
            None
        } else {
            self.store.put_user_budget(user, &budget, current.map(|c| c.version)).await?;
            Some(budget)
        };
        self.view(user, own).await
    }

    async fn view(&self, user: &str, own: Option<Budget>) -> Result<UserBudgetView, DomainError> {
        let default = self.store.org_budget().await?.map(|v| v.value).unwrap_or_default();
        let rule = effective(own.as_ref(), &default);
        Ok(UserBudgetView {
            user: user.to_owned(),
            amount: own.as_ref().and_then(|b| b.amount),
            currency: DEFAULT_CURRENCY.to_owned(),
            thresholds: rule.thresholds,
            policy: rule.policy,
            inherited: own.is_none(),
            effective: rule.amount,
        })
    }

    async fn known(&self, user: &str) -> Result<(), DomainError> {
        known_user(self.users.as_ref(), user).await
    }
}

/// `Ok` when the directory has `user`, else NotFound `user`. Usernames never hold `#`,
/// whitespace or control characters, nor more than 128 characters: refusing them here
/// keeps them out of keys and calls.
pub(crate) async fn known_user(users: &dyn KnownUsers, user: &str) -> Result<(), DomainError> {
    let plausible = !user.is_empty()
        && user.chars().count() <= 128
        && !user.chars().any(|c| c == '#' || c.is_whitespace() || c.is_control());
    if plausible && users.exists(user).await? { Ok(()) } else { Err(DomainError::NotFound { kind: "user" }) }
}

/// Every user's own budget and the default, read once per report.
#[derive(Debug, Clone, Default)]
pub struct BudgetBook {
    /// The stored organisation default, if any.
    pub default: Option<Versioned<Budget>>,
    /// Users' own budgets, by Cognito username.
    pub own: std::collections::HashMap<String, Versioned<Budget>>,
}

impl BudgetBook {
    /// Reads the default and every own budget (paged).
    pub async fn load(store: &dyn BudgetStore) -> Result<BudgetBook, DomainError> {
        let default = store.org_budget().await?;
        let own = all_pages(|page| async move { store.user_budgets(&page).await }).await?.into_iter().collect();
        Ok(BudgetBook { default, own })
    }

    /// The budget in force for `user`.
    pub fn of(&self, user: &str) -> Budget {
        self.rule(user).budget
    }

    /// The rule in force for `user`, with its revision.
    pub fn rule(&self, user: &str) -> Rule {
        Rule::of(self.own.get(user), self.default.as_ref())
    }

    /// True when nobody has a budget amount (the watch then has nothing to total).
    pub fn is_empty(&self) -> bool {
        self.default.as_ref().is_none_or(|d| d.value.amount.is_none()) && self.own.is_empty()
    }
}

/// Every crossing of `month` (of one user, or everybody), paged through.
pub async fn crossings_of(
    store: &dyn BudgetStore,
    month: Month,
    user: Option<&str>,
) -> Result<Vec<Crossing>, DomainError> {
    Ok(all_pages(|page| async move { store.crossings(month, user, &page).await }).await?)
}

fn require(caller: &Caller, roles: &[Role], message: &str) -> Result<(), DomainError> {
    if roles.iter().any(|r| caller.has(*r)) { Ok(()) } else { Err(DomainError::Forbidden(message.to_owned())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    #[test]
    fn budgets_are_validated_field_by_field() {
        let ok = Budget::parse(Some("300.00"), Some(&[50, 80, 100]), Some("stop-at-100")).expect("valid");
        assert_eq!(ok.amount, Some(d("300")));
        assert_eq!(ok.policy, Policy::StopAt100);
        assert_eq!(Budget::parse(None, None, None).expect("defaults"), Budget::default());
        let field = |r: Result<Budget, DomainError>| match r {
            Err(DomainError::Unprocessable { field, .. }) => field,
            other => panic!("expected unprocessable, got {other:?}"),
        };
        for amount in ["-1", "0", "1.234", "abc", "", "1e3", "1000000001", " 3"] {
            assert_eq!(field(Budget::parse(Some(amount), None, None)), "amount", "{amount:?}");
        }
        for thresholds in [&[][..], &[0], &[80, 80], &[100, 80], &[1001], &[-5], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]] {
            assert_eq!(field(Budget::parse(Some("1"), Some(thresholds), None)), "thresholds", "{thresholds:?}");
        }
        assert_eq!(field(Budget::parse(Some("1"), None, Some("stop"))), "policy");
    }

    #[test]
    fn thresholds_are_crossed_exactly_at_their_share() {
        let budget = Budget::parse(Some("300.00"), Some(&[80, 100, 120]), None).expect("valid");
        assert_eq!(budget.crossed(d("239.99")), Vec::<u16>::new());
        assert_eq!(budget.crossed(d("240.00")), [80]);
        assert_eq!(budget.crossed(d("300.00")), [80, 100]);
        assert!(budget.exhausted(d("300.00")));
        assert!(!budget.exhausted(d("299.99")));
        assert_eq!(Budget::default().crossed(d("1000000")), Vec::<u16>::new(), "no amount, no crossing");
    }
}
