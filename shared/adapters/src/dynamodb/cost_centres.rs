//! The dated cost-centre changes ([`CostCentreStore`], docs/adr/0006-costs.md, "Cost
//! centres"): one item per (user, first month) under the `COSTCENTRE` partition, so that a
//! report reads everybody's in one `Query` (a few pages at most: one item per change).

use async_trait::async_trait;
use atelier_domain::{
    costs::{CostCentreChange, CostCentreStore, Month},
    kernel::{StoreError, all_pages},
};
use aws_sdk_dynamodb::types::AttributeValue;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Table, items::corrupt, reads::Query, writes::Condition};

/// The partition of every cost-centre change.
const COST_CENTRE_PK: &str = "COSTCENTRE";

/// A change's `sk`: `USER#<user>#<YYYY-MM>`. A user's changes are read with the prefix
/// `USER#<user>#` and kept only when the item's `user` is exactly theirs (a username may
/// itself contain `#`).
fn sk(user: &str, month: Month) -> String {
    format!("{}{month}", prefix(user))
}

fn prefix(user: &str) -> String {
    format!("USER#{user}#")
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CostCentreItem {
    pk: String,
    sk: String,
    user: String,
    month: String,
    cost_centre: String,
    actor: String,
    /// RFC 3339, so that the condition compares instants as strings of one width.
    at: String,
}

impl CostCentreItem {
    fn new(change: &CostCentreChange) -> Self {
        Self {
            pk: COST_CENTRE_PK.into(),
            sk: sk(&change.user, change.month),
            user: change.user.clone(),
            month: change.month.to_string(),
            cost_centre: change.cost_centre.clone(),
            actor: change.actor.clone(),
            at: at_text(change.at),
        }
    }
}

/// Fixed width (microseconds, UTC), so that string order is time order in the condition.
fn at_text(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

impl TryFrom<CostCentreItem> for CostCentreChange {
    type Error = StoreError;

    fn try_from(item: CostCentreItem) -> Result<Self, StoreError> {
        Ok(CostCentreChange {
            month: Month::parse_field(&item.month, "month").map_err(|_| corrupt("cost centre", "month"))?,
            at: item.at.parse().map_err(|_| corrupt("cost centre", "at"))?,
            user: item.user,
            cost_centre: item.cost_centre,
            actor: item.actor,
        })
    }
}

#[async_trait]
impl CostCentreStore for Table {
    async fn cost_centre_changes(&self, user: Option<&str>) -> Result<Vec<CostCentreChange>, StoreError> {
        let changes: Vec<CostCentreChange> = all_pages(|page| async move {
            let query = match user {
                Some(user) => Query::table(COST_CENTRE_PK).begins_with(prefix(user)),
                None => Query::table(COST_CENTRE_PK),
            };
            self.query_page::<CostCentreItem, _>(query, &page, CostCentreChange::try_from).await
        })
        .await?;
        Ok(changes.into_iter().filter(|c| user.is_none_or(|u| c.user == u)).collect())
    }

    async fn put_cost_centre_change(&self, change: &CostCentreChange) -> Result<(), StoreError> {
        // A newer decision for the same month is never overwritten by an older one.
        let condition = Condition::new("attribute_not_exists(pk) OR #at <= :at")
            .name("at")
            .value(":at", AttributeValue::S(at_text(change.at)));
        self.put_item_if(&CostCentreItem::new(change), condition).await
    }
}
