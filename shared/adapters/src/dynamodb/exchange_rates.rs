//! The exchange rates' revisions ([`ExchangeRateStore`], docs/adr/0006-costs.md, "Exchange
//! rates"): one item per (from, to, day, revision) under the `EXCHANGERATE` partition, each
//! written once (`attribute_not_exists`), so that a rate is never overwritten and a report
//! reads them all in one `Query` (a few items a month).

use async_trait::async_trait;
use atelier_domain::{
    costs::{ExchangeRate, ExchangeRateStore},
    kernel::{StoreError, all_pages},
};
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::{Table, items::corrupt, reads::Query, writes::Condition};

/// The partition of every exchange rate.
const EXCHANGE_RATE_PK: &str = "EXCHANGERATE";

/// A revision's `sk`: `<FROM>#<TO>#<YYYY-MM-DD>#<revision, 6 digits>` (codes are three
/// capital letters: no `#` in them).
fn sk(rate: &ExchangeRate) -> String {
    format!("{}#{}#{}#{:06}", rate.from, rate.to, rate.effective_from, rate.revision)
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExchangeRateItem {
    pk: String,
    sk: String,
    from: String,
    to: String,
    effective_from: String,
    /// The decimal string as recorded, never a float.
    rate: Decimal,
    revision: u32,
    actor: String,
    at: Timestamp,
}

impl TryFrom<ExchangeRateItem> for ExchangeRate {
    type Error = StoreError;

    fn try_from(item: ExchangeRateItem) -> Result<Self, StoreError> {
        Ok(ExchangeRate {
            effective_from: item.effective_from.parse().map_err(|_| corrupt("exchange rate", "effectiveFrom"))?,
            from: item.from,
            to: item.to,
            rate: item.rate,
            revision: item.revision,
            actor: item.actor,
            at: item.at,
        })
    }
}

#[async_trait]
impl ExchangeRateStore for Table {
    async fn exchange_rates(&self) -> Result<Vec<ExchangeRate>, StoreError> {
        all_pages(|page| async move {
            let query = Query::table(EXCHANGE_RATE_PK);
            self.query_page::<ExchangeRateItem, _>(query, &page, ExchangeRate::try_from).await
        })
        .await
    }

    async fn put_exchange_rate(&self, rate: &ExchangeRate) -> Result<(), StoreError> {
        let item = ExchangeRateItem {
            pk: EXCHANGE_RATE_PK.into(),
            sk: sk(rate),
            from: rate.from.clone(),
            to: rate.to.clone(),
            effective_from: rate.effective_from.to_string(),
            rate: rate.rate,
            revision: rate.revision,
            actor: rate.actor.clone(),
            at: rate.at,
        };
        // Created once: a revision is never replaced (a racing admin gets a conflict).
        self.put_item_if(&item, Condition::absent()).await
    }
}
