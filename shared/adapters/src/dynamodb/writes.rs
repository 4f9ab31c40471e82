//! Writes, written once for every store: the conditions they carry, the one
//! `TransactWriteItems` helper ([`Transaction`]) and the conditional single-item put and
//! delete. What a failed write means is decided here and nowhere else:
//!
//! - a single-item write whose condition fails (`ConditionalCheckFailedException`) is
//!   [`StoreError::Conflict`];
//! - a transaction cancelled with a `ConditionalCheckFailed` or `TransactionConflict`
//!   reason is [`StoreError::Conflict`]; one cancelled with a `ThrottlingError` reason is a
//!   retryable upstream error (the SDK does not retry cancelled transactions itself, and
//!   the API answers 503 with `Retry-After`); anything else is an upstream error. The
//!   caller also learns which item failed its condition ([`TransactionFailed::failed_condition`]).

use std::collections::HashMap;

use atelier_domain::kernel::StoreError;
use aws_sdk_dynamodb::{
    error::SdkError,
    operation::transact_write_items::TransactWriteItemsError,
    types::{AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update},
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use super::{
    Table,
    items::{build_error, to_item},
    keys,
};
use crate::upstream;

/// A condition on the item a write targets: the expression with its `#name` and `:value`
/// placeholders.
#[derive(Clone, Debug)]
pub(super) struct Condition {
    expression: &'static str,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Condition {
    /// `expression`, whose placeholders [`Condition::name`] and [`Condition::value`] fill.
    pub(super) fn new(expression: &'static str) -> Self {
        Self { expression, names: HashMap::new(), values: HashMap::new() }
    }

    /// Nothing is stored under the item's key yet: the write creates.
    pub(super) fn absent() -> Self {
        Self::new("attribute_not_exists(pk)")
    }

    /// Something is stored under the item's key.
    pub(super) fn present() -> Self {
        Self::new("attribute_exists(pk)")
    }

    /// The stored item's `version` is `version`: optimistic locking of a versioned document.
    pub(super) fn version(version: u64) -> Self {
        Self::new("#version = :expected_version")
            .name("version")
            .value(":expected_version", AttributeValue::N(version.to_string()))
    }

    /// `#attribute` in the expression stands for `attribute` (needed for reserved words
    /// such as `state` and `ttl`).
    pub(super) fn name(mut self, attribute: &str) -> Self {
        self.names.insert(format!("#{attribute}"), attribute.to_owned());
        self
    }

    /// `placeholder` (`:something`) in the expression stands for `value`.
    pub(super) fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.to_owned(), value);
        self
    }
}

/// `$builder` (any SDK request or transaction-item builder: they share the method names,
/// not a trait) with `$condition`. An empty placeholder map is left unset, because
/// DynamoDB refuses an empty `ExpressionAttributeNames` or `ExpressionAttributeValues`.
macro_rules! with_condition {
    ($builder:expr, $condition:expr) => {{
        let Condition { expression, names, values } = $condition;
        $builder
            .condition_expression(expression)
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
    }};
}

/// The items of one `TransactWriteItems`, all or nothing, in the order they are added
/// (the cancellation reasons come back in that order).
pub(super) struct Transaction<'t> {
    table: &'t Table,
    items: Vec<TransactWriteItem>,
}

impl Table {
    /// An empty transaction on this table.
    pub(super) fn transaction(&self) -> Transaction<'_> {
        Transaction { table: self, items: Vec::new() }
    }
}

impl Transaction<'_> {
    /// Adds `item`, built by the caller; answers its index.
    pub(super) fn push(&mut self, item: TransactWriteItem) -> usize {
        self.items.push(item);
        self.items.len() - 1
    }

    /// Adds a put of `item` on `condition`; answers its index.
    pub(super) fn put_if<T: Serialize>(&mut self, item: &T, condition: Condition) -> Result<usize, StoreError> {
        let put = Put::builder().table_name(self.table.name()).set_item(Some(to_item(item)?));
        let put = with_condition!(put, condition).build().map_err(build_error)?;
        Ok(self.push(TransactWriteItem::builder().put(put).build()))
    }

    /// Adds an unconditional put of `item`: only for items derived from what a conditional
    /// write of the same transaction carries (a replay writes the same), so that condition
    /// guards them too.
    pub(super) fn put<T: Serialize>(&mut self, item: &T) -> Result<usize, StoreError> {
        let put =
            Put::builder().table_name(self.table.name()).set_item(Some(to_item(item)?)).build().map_err(build_error)?;
        Ok(self.push(TransactWriteItem::builder().put(put).build()))
    }

    /// Adds a delete of the item `pk`/`sk` on `condition`; answers its index.
    pub(super) fn delete_if(&mut self, pk: String, sk: String, condition: Condition) -> Result<usize, StoreError> {
        let delete = Delete::builder().table_name(self.table.name()).set_key(Some(keys::key(pk, sk)));
        let delete = with_condition!(delete, condition).build().map_err(build_error)?;
        Ok(self.push(TransactWriteItem::builder().delete(delete).build()))
    }

    /// Adds an update of the item `pk`/`sk` with the update expression `update`, on
    /// `condition` (`None`: unconditional); the placeholders of both come from `placeholders`
    /// (a [`Condition`] whose expression is ignored when `condition` is `None`). Answers its
    /// index.
    pub(super) fn update(
        &mut self,
        pk: String,
        sk: String,
        update: &'static str,
        placeholders: Condition,
        conditional: bool,
    ) -> Result<usize, StoreError> {
        let Condition { expression, names, values } = placeholders;
        let builder = Update::builder()
            .table_name(self.table.name())
            .set_key(Some(keys::key(pk, sk)))
            .update_expression(update)
            .set_condition_expression(conditional.then(|| expression.to_owned()))
            .set_expression_attribute_names((!names.is_empty()).then_some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values));
        Ok(self.push(TransactWriteItem::builder().update(builder.build().map_err(build_error)?).build()))
    }

    /// Adds a check that the item `pk`/`sk` meets `condition`, writing nothing; answers its index.
    pub(super) fn check(&mut self, pk: String, sk: String, condition: Condition) -> Result<usize, StoreError> {
        let check = ConditionCheck::builder().table_name(self.table.name()).set_key(Some(keys::key(pk, sk)));
        let check = with_condition!(check, condition).build().map_err(build_error)?;
        Ok(self.push(TransactWriteItem::builder().condition_check(check).build()))
    }

    /// Sends the transaction.
    pub(super) async fn send(self) -> Result<(), TransactionFailed> {
        let request = self.table.client.transact_write_items().set_transact_items(Some(self.items));
        request.send().await.map(drop).map_err(TransactionFailed::new)
    }
}

/// A transaction that did not happen: the [`StoreError`] it means (see the module doc), and
/// which items failed their conditions.
#[derive(Debug)]
pub(super) struct TransactionFailed {
    /// The cancellation reason codes, in item order (empty when it was not cancelled).
    reasons: Vec<String>,
    error: StoreError,
}

impl TransactionFailed {
    fn new<R>(err: SdkError<TransactWriteItemsError, R>) -> Self
    where
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let reasons = match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                e.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None").to_owned()).collect()
            }
            _ => Vec::new(),
        };
        let any = |code: &str| reasons.iter().any(|c| c == code);
        let error = if any("ConditionalCheckFailed") || any("TransactionConflict") {
            StoreError::Conflict
        } else {
            let mut error = upstream("dynamodb", "TransactWriteItems", err);
            // An item was throttled: worth retrying later.
            error.retryable |= any("ThrottlingError");
            error.into()
        };
        Self { reasons, error }
    }

    /// Whether item `index` (as [`Transaction`]'s methods answered it) failed its condition.
    pub(super) fn failed_condition(&self, index: usize) -> bool {
        self.reasons.get(index).is_some_and(|c| c == "ConditionalCheckFailed")
    }
}

impl From<TransactionFailed> for StoreError {
    fn from(failed: TransactionFailed) -> Self {
        failed.error
    }
}

impl Table {
    /// Writes `item` unconditionally: only for whole documents that have no version (catalog
    /// products, the default schedule, a month's actuals); every workspace write is conditional.
    pub(super) async fn replace_item<T: Serialize>(&self, item: &T) -> Result<(), StoreError> {
        let request = self.client.put_item().table_name(&self.name).set_item(Some(to_item(item)?));
        request.send().await.map_err(|e| upstream("dynamodb", "PutItem", e))?;
        Ok(())
    }

    /// A conditional single-item put: [`StoreError::Conflict`] when `condition` fails.
    pub(super) async fn put_item_if<T: Serialize>(&self, item: &T, condition: Condition) -> Result<(), StoreError> {
        let request = self.client.put_item().table_name(&self.name).set_item(Some(to_item(item)?));
        conditional("PutItem", with_condition!(request, condition).send().await)
    }

    /// Writes `item` unless something is stored under its key: true when it was written,
    /// false when the key was taken (the first write stands: seals, crossings, snapshots).
    pub(super) async fn put_new<T: Serialize>(&self, item: &T) -> Result<bool, StoreError> {
        match self.put_item_if(item, Condition::absent()).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A conditional single-item update of `pk`/`sk` with the update expression `update`:
    /// [`StoreError::Conflict`] when `condition` fails. The placeholders of both come from
    /// `condition`.
    pub(super) async fn update_item_if(
        &self,
        pk: String,
        sk: String,
        update: &'static str,
        condition: Condition,
    ) -> Result<(), StoreError> {
        let request =
            self.client.update_item().table_name(&self.name).set_key(Some(keys::key(pk, sk))).update_expression(update);
        conditional("UpdateItem", with_condition!(request, condition).send().await)
    }

    /// A conditional single-item delete: [`StoreError::Conflict`] when `condition` fails.
    pub(super) async fn delete_item_if(&self, pk: String, sk: String, condition: Condition) -> Result<(), StoreError> {
        let request = self.client.delete_item().table_name(&self.name).set_key(Some(keys::key(pk, sk)));
        conditional("DeleteItem", with_condition!(request, condition).send().await)
    }
}

/// The outcome of a conditional single-item write.
fn conditional<O, E, R>(operation: &'static str, result: Result<O, SdkError<E, R>>) -> Result<(), StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match result {
        Ok(_) => Ok(()),
        Err(e) if crate::error_code(&e) == Some("ConditionalCheckFailedException") => Err(StoreError::Conflict),
        Err(e) => Err(upstream("dynamodb", operation, e).into()),
    }
}
