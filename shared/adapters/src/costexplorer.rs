//! Cost Explorer: what AWS billed, grouped by the `atelier:owner` and `atelier:workspace`
//! cost allocation tags, then by `atelier:owner` and `atelier:component` for the platform's
//! share ([`CostSource`]): two questions, since Cost Explorer groups by two keys at most.
//! Linked only by the cost-actuals function.

use std::str::FromStr;

use async_trait::async_trait;
use atelier_domain::{
    UpstreamError,
    costs::{
        CostSource,
        actuals::{ActualGroup, COMPONENT_TAG, ComponentGroup, OWNER_TAG, WORKSPACE_TAG},
    },
};
use aws_sdk_costexplorer::{
    Client,
    types::{DateInterval, Dimension, DimensionValues, Expression, Granularity, GroupDefinition, GroupDefinitionType},
};
use jiff::civil::Date;
use rust_decimal::Decimal;

/// The metric asked for: amortised cost, so that a Savings Plan or a Reserved Instance's
/// upfront fee is spread over the days it covers, as finance reads the invoice, rather than
/// landing on the day it was bought.
pub const METRIC: &str = "AmortizedCost";

/// The record types counted: usage (on-demand, or covered by a Savings Plan or a
/// reservation). Credits, refunds, taxes and support fees are the account's, not a
/// workspace's, and would make an owner's actual negative or inflated.
pub const RECORD_TYPES: [&str; 3] = ["Usage", "SavingsPlanCoveredUsage", "DiscountedUsage"];

/// Cost Explorer's only endpoint region.
pub const REGION: &str = "us-east-1";

/// Cost Explorer as a [`CostSource`].
pub struct CostExplorer {
    client: Client,
}

impl CostExplorer {
    /// A client for Cost Explorer (always `us-east-1`, its only endpoint; an
    /// `AWS_ENDPOINT_URL` in `config` still applies).
    pub fn new(config: &aws_types::SdkConfig) -> Self {
        let conf =
            aws_sdk_costexplorer::config::Builder::from(config).region(aws_types::region::Region::new(REGION)).build();
        Self { client: Client::from_conf(conf) }
    }
}

/// The value of a group key `atelier:owner$alice`; `None` when untagged (`atelier:owner$`).
fn tag_value(key: &str, tag: &str) -> Option<String> {
    key.strip_prefix(tag)?.strip_prefix('$').filter(|v| !v.is_empty()).map(str::to_owned)
}

fn invalid(detail: String) -> UpstreamError {
    UpstreamError::new("ce", "GetCostAndUsage", false, detail)
}

/// One group of an answer: its keys, amount, currency and the day's estimated flag.
struct Row {
    keys: Vec<String>,
    amount: Decimal,
    currency: String,
    estimated: bool,
}

impl CostExplorer {
    /// Every group of `GetCostAndUsage` for the days `[start, end)` by the tags `by`, all
    /// pages, daily (each day's Estimated flag is Cost Explorer's own), usage records only.
    async fn rows(&self, start: Date, end: Date, by: [&str; 2]) -> Result<Vec<Row>, UpstreamError> {
        let period = DateInterval::builder()
            .start(start.to_string())
            .end(end.to_string())
            .build()
            .map_err(|e| invalid(e.to_string()))?;
        let group = |tag: &str| GroupDefinition::builder().r#type(GroupDefinitionType::Tag).key(tag).build();
        let usage = Expression::builder()
            .dimensions(
                DimensionValues::builder()
                    .key(Dimension::RecordType)
                    .set_values(Some(RECORD_TYPES.iter().map(|t| (*t).to_owned()).collect()))
                    .build(),
            )
            .build();
        let mut rows = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = self
                .client
                .get_cost_and_usage()
                .time_period(period.clone())
                .granularity(Granularity::Daily)
                .metrics(METRIC)
                .filter(usage.clone())
                .group_by(group(by[0]))
                .group_by(group(by[1]))
                .set_next_page_token(token.take())
                .send()
                .await
                .map_err(|e| crate::upstream("ce", "GetCostAndUsage", e))?;
            for result in output.results_by_time() {
                let estimated = result.estimated();
                for g in result.groups() {
                    let Some(metric) = g.metrics().and_then(|m| m.get(METRIC)) else { continue };
                    let amount = metric.amount().unwrap_or("0");
                    let amount = Decimal::from_str(amount)
                        .or_else(|_| Decimal::from_scientific(amount))
                        .map_err(|e| invalid(format!("amount {amount:?}: {e}")))?;
                    let currency = metric.unit().unwrap_or("USD").to_owned();
                    rows.push(Row { keys: g.keys().to_vec(), amount, currency, estimated });
                }
            }
            match output.next_page_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok(rows)
    }
}

#[async_trait]
impl CostSource for CostExplorer {
    async fn cost_by_tag(&self, start: Date, end: Date) -> Result<Vec<ActualGroup>, UpstreamError> {
        let rows = self.rows(start, end, [OWNER_TAG, WORKSPACE_TAG]).await?;
        Ok(rows
            .into_iter()
            .map(|r| ActualGroup {
                owner: r.keys.iter().find_map(|k| tag_value(k, OWNER_TAG)),
                workspace: r.keys.iter().find_map(|k| tag_value(k, WORKSPACE_TAG)),
                amount: r.amount,
                currency: r.currency,
                estimated: r.estimated,
            })
            .collect())
    }

    async fn cost_by_component(&self, start: Date, end: Date) -> Result<Vec<ComponentGroup>, UpstreamError> {
        let rows = self.rows(start, end, [OWNER_TAG, COMPONENT_TAG]).await?;
        Ok(rows
            .into_iter()
            .map(|r| ComponentGroup {
                owner: r.keys.iter().find_map(|k| tag_value(k, OWNER_TAG)),
                component: r.keys.iter().find_map(|k| tag_value(k, COMPONENT_TAG)),
                amount: r.amount,
                currency: r.currency,
                estimated: r.estimated,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_keys_name_tag_values() {
        assert_eq!(tag_value("atelier:owner$alice", OWNER_TAG).as_deref(), Some("alice"));
        assert_eq!(tag_value("atelier:owner$", OWNER_TAG), None);
        assert_eq!(tag_value("atelier:workspace$ws-1", OWNER_TAG), None);
    }
}
