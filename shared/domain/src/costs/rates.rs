//! Exchange rates that admins maintain, dated, with their history (docs/adr/0006-costs.md,
//! "Exchange rates"). Cost Explorer answers in the account's billing currency (USD for most
//! accounts) and the catalog prices in its own (EUR): an actual is converted only through a
//! rate recorded here, shown with the rate and its date, never relabelled.
//!
//! Rules:
//!
//! - A rate says `1 <from> = <rate> <to>`, from its effective day on (a UTC day), until a
//!   later one of the same pair takes over. Only the pair asked is used: no inverse, no
//!   cross rate (either would be a rate nobody recorded).
//! - A rate is never overwritten. Recording another rate for a (from, to, day) already set
//!   adds a revision (1, 2, ...); the latest revision is in force, the earlier ones stay in
//!   the history with who recorded them and when. Recording the rate in force again is a
//!   no-op (a retried request adds nothing). Each revision is a create-only write, so two
//!   admins racing for the same revision get one success and one 409.
//! - A month's actuals are converted with the rate in force on the month's last day (the
//!   month-end rate finance closes a month with; for the month in progress, the latest rate
//!   recorded by then). The converted amount is the exact actual times the rate, rounded once
//!   to the cent, half-even (as report lines are).

use std::sync::Arc;

use jiff::{Timestamp, civil::Date};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use super::month::Month;
use super::ports::ExchangeRateStore;
use crate::kernel::{Caller, DomainError, Role, StoreError};

/// The largest rate accepted (guards against a pasted amount in place of a rate).
pub const MAX_RATE: i64 = 1_000_000;
/// Decimal places a rate may have.
pub const MAX_RATE_SCALE: u32 = 10;

/// One recorded revision of a rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExchangeRate {
    /// ISO 4217 code converted from.
    pub from: String,
    /// ISO 4217 code converted to.
    pub to: String,
    /// The first UTC day it applies to.
    pub effective_from: Date,
    /// `1 from = rate to`, exact as recorded.
    #[serde(with = "rust_decimal::serde::str")]
    pub rate: Decimal,
    /// 1 for the first rate of the day, then 2, 3...: the latest is in force.
    pub revision: u32,
    /// Who recorded it.
    pub actor: String,
    /// When.
    pub at: Timestamp,
}

/// A conversion of an actual into the catalog's currency, with what it was computed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    /// Rounded to the cent, half-even.
    pub amount: Decimal,
    /// The catalog's currency.
    pub currency: String,
    /// The rate applied (1 when the currencies are the same).
    pub rate: Decimal,
    /// The rate's effective day; `None` when no conversion was needed.
    pub rate_date: Option<Date>,
    /// The currency converted from (Cost Explorer's).
    pub from: String,
}

/// All recorded rates, to answer "which rate on that day".
#[derive(Debug, Clone, Default)]
pub struct RateBook(Vec<ExchangeRate>);

impl RateBook {
    /// The book of `rates`, in any order.
    pub fn new(mut rates: Vec<ExchangeRate>) -> Self {
        rates.sort_by(|a, b| {
            (&a.from, &a.to, a.effective_from, a.revision).cmp(&(&b.from, &b.to, b.effective_from, b.revision))
        });
        Self(rates)
    }

    /// Every revision, by pair, day and revision.
    pub fn all(&self) -> &[ExchangeRate] {
        &self.0
    }

    /// The latest revision of `from → to` for exactly `day`.
    pub fn latest_of_day(&self, from: &str, to: &str, day: Date) -> Option<&ExchangeRate> {
        self.0.iter().rev().find(|r| r.from == from && r.to == to && r.effective_from == day)
    }

    /// The rate in force on `day`: the latest revision of the latest effective day not after it.
    pub fn in_force(&self, from: &str, to: &str, day: Date) -> Option<&ExchangeRate> {
        // Sorted by day then revision: the last match is the one in force.
        self.0.iter().rev().find(|r| r.from == from && r.to == to && r.effective_from <= day)
    }

    /// `amount` (in `from`) in `to`, with the rate in force on `month`'s last day. The
    /// reason when it cannot be converted.
    pub fn convert(&self, amount: Decimal, from: &str, to: &str, month: Month) -> Result<Converted, String> {
        if from == to {
            return Ok(Converted {
                amount,
                currency: to.to_owned(),
                rate: Decimal::ONE,
                rate_date: None,
                from: from.into(),
            });
        }
        let day = rate_day(month);
        let rate = self
            .in_force(from, to, day)
            .ok_or_else(|| format!("no exchange rate from {from} to {to} in force on {day}"))?;
        Ok(Converted {
            amount: (amount * rate.rate).round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven),
            currency: to.to_owned(),
            rate: rate.rate,
            rate_date: Some(rate.effective_from),
            from: from.to_owned(),
        })
    }
}

/// The day whose rate converts `month`: its last day.
pub fn rate_day(month: Month) -> Date {
    Date::new(month.year(), month.month(), 1).map(|d| d.last_of_month()).unwrap_or(Date::MIN)
}

/// A currency code as ISO 4217 writes it: three ASCII capital letters.
fn currency(value: &str, field: &str) -> Result<String, DomainError> {
    if value.len() == 3 && value.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(value.to_owned())
    } else {
        Err(DomainError::unprocessable(field, "must be an ISO 4217 code: three capital letters (USD, EUR)"))
    }
}

/// A rate as a decimal string: positive, at most [`MAX_RATE`], at most [`MAX_RATE_SCALE`]
/// decimal places, no exponent.
pub fn parse_rate(value: &str) -> Result<Decimal, DomainError> {
    let invalid = |m: &str| DomainError::unprocessable("rate", m.to_owned());
    let trimmed = value.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+') {
        return Err(invalid("must be a decimal number written with digits and a point (0.9231)"));
    }
    let rate: Decimal = trimmed.parse().map_err(|_| invalid("must be a decimal number (0.9231)"))?;
    if rate <= Decimal::ZERO {
        return Err(invalid("must be greater than zero"));
    }
    if rate > Decimal::from(MAX_RATE) {
        return Err(invalid("must be at most 1000000"));
    }
    if rate.scale() > MAX_RATE_SCALE {
        return Err(invalid("must have at most 10 decimal places"));
    }
    Ok(rate.normalize())
}

/// The exchange-rate use cases (admins record; admins and finance read).
#[derive(Clone)]
pub struct ExchangeRates {
    /// The recorded revisions.
    pub store: Arc<dyn ExchangeRateStore>,
}

impl ExchangeRates {
    /// Every revision of every rate (admins and finance).
    pub async fn list(&self, caller: &Caller) -> Result<RateBook, DomainError> {
        if !caller.has(Role::Admin) && !caller.has(Role::Finance) {
            return Err(DomainError::Forbidden("only admins and finance may see exchange rates".into()));
        }
        Ok(RateBook::new(self.store.exchange_rates().await?))
    }

    /// Records `1 from = rate to` from `day` (`YYYY-MM-DD`) on (admins only). 422 naming
    /// `from`, `to`, `date` or `rate`. The same rate as the one recorded for that day is a
    /// no-op; another one is a new revision. Answers the revision in force for that day.
    pub async fn record(
        &self,
        caller: &Caller,
        from: &str,
        to: &str,
        day: &str,
        rate: &str,
        now: Timestamp,
    ) -> Result<ExchangeRate, DomainError> {
        if !caller.has(Role::Admin) {
            return Err(DomainError::Forbidden("only admins may record exchange rates".into()));
        }
        let from = currency(from, "from")?;
        let to = currency(to, "to")?;
        if from == to {
            return Err(DomainError::unprocessable("to", "must differ from 'from'"));
        }
        let day: Date = day
            .parse()
            .ok()
            .filter(|d: &Date| d.year() >= 2000)
            .ok_or_else(|| DomainError::unprocessable("date", "must be a day YYYY-MM-DD from 2000 on"))?;
        let rate = parse_rate(rate)?;
        let book = RateBook::new(self.store.exchange_rates().await?);
        let latest = book.latest_of_day(&from, &to, day);
        if let Some(latest) = latest
            && latest.rate == rate
        {
            return Ok(latest.clone());
        }
        let revision = latest.map_or(1, |r| r.revision + 1);
        let recorded =
            ExchangeRate { from, to, effective_from: day, rate, revision, actor: caller.username.clone(), at: now };
        match self.store.put_exchange_rate(&recorded).await {
            Ok(()) => Ok(recorded),
            Err(StoreError::Conflict) => Err(DomainError::Concurrent),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStore;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).expect("decimal")
    }

    fn caller(role: Role) -> Caller {
        let group = match role {
            Role::Admin => "admins",
            Role::Finance => "finance",
            Role::Scientist => "scientists",
        };
        Caller { sub: "sub-ada".into(), username: "ada".into(), groups: vec![group.into()] }
    }

    fn now() -> Timestamp {
        "2026-03-10T09:00:00Z".parse().expect("ts")
    }

    #[tokio::test]
    async fn a_changed_rate_is_a_new_revision_and_the_history_stays() {
        let rates = ExchangeRates { store: Arc::new(MemoryStore::default()) };
        let admin = caller(Role::Admin);
        let first = rates.record(&admin, "USD", "EUR", "2026-03-01", "0.92", now()).await.expect("recorded");
        assert_eq!((first.revision, first.rate), (1, d("0.92")));
        // The same rate again adds nothing (a retried request).
        let again = rates.record(&admin, "USD", "EUR", "2026-03-01", "0.920", now()).await.expect("same");
        assert_eq!(again.revision, 1);
        let second = rates.record(&admin, "USD", "EUR", "2026-03-01", "0.93", now()).await.expect("revised");
        assert_eq!((second.revision, second.rate), (2, d("0.93")));
        let book = rates.list(&caller(Role::Finance)).await.expect("listed");
        assert_eq!(book.all().len(), 2, "the first revision is kept");
        let march = Month::new(2026, 3).expect("month");
        let converted = book.convert(d("4.005"), "USD", "EUR", march).expect("converted");
        // 4.005 × 0.93 = 3.72465 → 3.72 (half-even to the cent).
        assert_eq!(converted.amount, d("3.72"));
        assert_eq!((converted.rate, converted.rate_date), (d("0.93"), Some("2026-03-01".parse().expect("date"))));
        // February has no rate in force on its last day: no number, a reason.
        let february = Month::new(2026, 2).expect("month");
        assert_eq!(
            book.convert(d("1"), "USD", "EUR", february),
            Err("no exchange rate from USD to EUR in force on 2026-02-28".to_owned())
        );
        // No inverse: EUR → USD was never recorded.
        assert!(book.convert(d("1"), "EUR", "USD", march).is_err());
        // The same currency needs no rate.
        assert_eq!(book.convert(d("1.234"), "EUR", "EUR", february).expect("same").rate, Decimal::ONE);
    }

    #[tokio::test]
    async fn the_rate_in_force_is_the_latest_day_begun_by_the_months_end() {
        let rates = ExchangeRates { store: Arc::new(MemoryStore::default()) };
        let admin = caller(Role::Admin);
        rates.record(&admin, "USD", "EUR", "2026-01-15", "0.90", now()).await.expect("recorded");
        rates.record(&admin, "USD", "EUR", "2026-03-31", "0.95", now()).await.expect("recorded");
        rates.record(&admin, "USD", "EUR", "2026-04-01", "0.99", now()).await.expect("recorded");
        let book = rates.list(&admin).await.expect("listed");
        let rate = |m: i8| book.convert(d("10"), "USD", "EUR", Month::new(2026, m).expect("m")).expect("rate").rate;
        assert_eq!((rate(1), rate(2), rate(3), rate(4)), (d("0.90"), d("0.90"), d("0.95"), d("0.99")));
    }

    #[tokio::test]
    async fn bad_values_are_refused_naming_the_field_and_only_admins_record() {
        let rates = ExchangeRates { store: Arc::new(MemoryStore::default()) };
        let admin = caller(Role::Admin);
        let field = |r: Result<ExchangeRate, DomainError>| match r {
            Err(DomainError::Unprocessable { field, .. }) => field,
            other => panic!("expected a 422, got {other:?}"),
        };
        assert_eq!(field(rates.record(&admin, "usd", "EUR", "2026-03-01", "0.9", now()).await), "from");
        assert_eq!(field(rates.record(&admin, "USD", "EURO", "2026-03-01", "0.9", now()).await), "to");
        assert_eq!(field(rates.record(&admin, "USD", "USD", "2026-03-01", "0.9", now()).await), "to");
        assert_eq!(field(rates.record(&admin, "USD", "EUR", "2026-02-30", "0.9", now()).await), "date");
        for bad in ["0", "-1", "abc", "1e3", "", "2000000", "0.00000000001", "NaN"] {
            assert_eq!(field(rates.record(&admin, "USD", "EUR", "2026-03-01", bad, now()).await), "rate", "{bad:?}");
        }
        let finance = rates.record(&caller(Role::Finance), "USD", "EUR", "2026-03-01", "0.9", now()).await;
        assert!(matches!(finance, Err(DomainError::Forbidden(_))));
        assert!(matches!(rates.list(&caller(Role::Scientist)).await, Err(DomainError::Forbidden(_))));
    }
}
