//! Per-caller request counts (atelier_domain::kernel::limits): one item per caller, class
//! and window, `LIMIT#<sub>` / `<class>#<window start>`, counted with one conditional
//! `UpdateItem` (`ADD n 1` while `n` is under the limit), so every function instance shares
//! the count and no two requests can both take the last place. The item expires with the
//! table's TTL an hour after its window.

use async_trait::async_trait;
use atelier_domain::kernel::{
    StoreError,
    limits::{Limit, RequestCounter, Window},
};
use aws_sdk_dynamodb::types::AttributeValue;

use super::{Table, keys, writes::Condition};

/// How long a window's count is kept after the window: only for reading it while it matters.
const KEPT_AFTER: i64 = 3600;

#[async_trait]
impl RequestCounter for Table {
    async fn count(&self, caller: &str, limit: &Limit, window: &Window) -> Result<bool, StoreError> {
        let condition = Condition::new("attribute_not_exists(#n) OR #n < :limit")
            .name("n")
            .name("ttl")
            .value(":limit", AttributeValue::N(limit.requests.to_string()))
            .value(":one", AttributeValue::N("1".into()))
            .value(":ttl", AttributeValue::N((window.end.as_second() + KEPT_AFTER).to_string()));
        let update = "SET #ttl = :ttl ADD #n :one";
        match self
            .update_item_if(keys::limit_pk(caller), keys::limit_sk(limit.class, window.start), update, condition)
            .await
        {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
