//! Reads, written once for every store: one item by its keys, and one page of a list (a
//! `Query` of one partition of the table or of an index), with the page token that
//! carries `LastEvaluatedKey` to the next request and back as `ExclusiveStartKey`.
//! No list scans (docs/adr/0002-single-table.md).

use std::collections::{BTreeMap, HashMap};

use atelier_domain::kernel::{MAX_PAGE_SIZE, Page, PageRequest, StoreError};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::de::DeserializeOwned;

use super::{
    INDEXES, Table,
    items::{Item, corrupt, from_item},
};
use crate::upstream;

/// One list: a partition of the table (`pk`) or of an index, optionally narrowed on the
/// sort key, in sort-key order or its reverse.
pub(super) struct Query {
    index: Option<&'static str>,
    partition: String,
    sort: Option<SortCondition>,
    newest_first: bool,
}

/// How a list narrows its partition on the sort key.
enum SortCondition {
    BeginsWith(String),
    AtLeast(String),
}

impl Query {
    /// The table's partition `pk` = `partition`.
    pub(super) fn table(partition: impl Into<String>) -> Self {
        Self { index: None, partition: partition.into(), sort: None, newest_first: false }
    }

    /// The partition `partition` of `index` (one of [`INDEXES`]).
    pub(super) fn index(index: &'static str, partition: impl Into<String>) -> Self {
        Self { index: Some(index), ..Self::table(partition) }
    }

    /// Only the items whose sort key begins with `prefix`.
    pub(super) fn begins_with(self, prefix: impl Into<String>) -> Self {
        Self { sort: Some(SortCondition::BeginsWith(prefix.into())), ..self }
    }

    /// Only the items whose sort key is `from` or after it.
    pub(super) fn at_least(self, from: impl Into<String>) -> Self {
        Self { sort: Some(SortCondition::AtLeast(from.into())), ..self }
    }

    /// Descending sort-key order (the sort keys begin with an instant: newest first).
    pub(super) fn newest_first(self) -> Self {
        Self { newest_first: true, ..self }
    }

    /// The (partition, sort) attribute names of the table or of the index.
    fn attributes(&self) -> (&'static str, &'static str) {
        match self.index {
            None => ("pk", "sk"),
            Some(index) => INDEXES
                .iter()
                .find(|(name, _, _)| *name == index)
                .map(|&(_, pk, sk)| (pk, sk))
                .expect("queries name one of INDEXES"),
        }
    }
}

impl Table {
    /// One item by its keys, read consistently (every caller decides on what it reads).
    pub(super) async fn get_item(&self, pk: String, sk: String) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| upstream("dynamodb", "GetItem", e))?;
        Ok(output.item)
    }

    /// One item by its keys, decoded as `T`.
    pub(super) async fn get_as<T: DeserializeOwned>(&self, pk: String, sk: String) -> Result<Option<T>, StoreError> {
        self.get_item(pk, sk).await?.map(from_item).transpose()
    }

    /// One page of `query`: at most `page.limit` items (1 to [`MAX_PAGE_SIZE`]), from where
    /// `page.token` left off, each decoded as `T` and turned into what the port answers by
    /// `convert`. The token must come from the same list ([`decode_token`]).
    pub(super) async fn query_page<T: DeserializeOwned, U>(
        &self,
        query: Query,
        page: &PageRequest,
        mut convert: impl FnMut(T) -> Result<U, StoreError>,
    ) -> Result<Page<U>, StoreError> {
        let (pk_attr, sk_attr) = query.attributes();
        let start = page.token.as_deref().map(|t| decode_token(t, pk_attr, &query.partition)).transpose()?;
        let mut request = self
            .client
            .query()
            .table_name(&self.name)
            .set_index_name(query.index.map(str::to_owned))
            .expression_attribute_names("#pk", pk_attr)
            .expression_attribute_values(":pk", AttributeValue::S(query.partition))
            .scan_index_forward(!query.newest_first)
            .limit(page.limit.clamp(1, MAX_PAGE_SIZE) as i32)
            .set_exclusive_start_key(start);
        let condition = match query.sort {
            None => "#pk = :pk",
            Some(sort) => {
                let (condition, value) = match sort {
                    SortCondition::BeginsWith(prefix) => ("#pk = :pk AND begins_with(#sk, :sk)", prefix),
                    SortCondition::AtLeast(from) => ("#pk = :pk AND #sk >= :sk", from),
                };
                request = request
                    .expression_attribute_names("#sk", sk_attr)
                    .expression_attribute_values(":sk", AttributeValue::S(value));
                condition
            }
        };
        let output =
            request.key_condition_expression(condition).send().await.map_err(|e| upstream("dynamodb", "Query", e))?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| from_item(item).and_then(&mut convert))
            .collect::<Result<_, _>>()?;
        let next_token = output.last_evaluated_key.map(|k| encode_token(&k)).transpose()?;
        Ok(Page { items, next_token })
    }
}

/// The attributes a `LastEvaluatedKey` can hold: the table's keys and the indexes'.
const KEY_ATTRIBUTES: [&str; 8] = ["pk", "sk", "ownerPk", "ownerSk", "statePk", "stateSk", "kindPk", "kindSk"];

/// Page tokens are the `LastEvaluatedKey` (all string attributes), base64url JSON. On the
/// way back in, the token must belong to the same list (same partition): a token from
/// another user's list is refused rather than followed.
pub(super) fn encode_token(key: &HashMap<String, AttributeValue>) -> Result<String, StoreError> {
    let mut plain = BTreeMap::new();
    for (name, value) in key {
        let AttributeValue::S(s) = value else { return Err(corrupt("page key", name)) };
        plain.insert(name.clone(), s.clone());
    }
    let json = serde_json::to_vec(&plain).map_err(|e| corrupt("page key", e))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

/// The `ExclusiveStartKey` of `token`, if it is one that the list of partition
/// `pk_attr` = `pk_value` handed out ([`StoreError::BadPageToken`] otherwise).
pub(super) fn decode_token(
    token: &str,
    pk_attr: &str,
    pk_value: &str,
) -> Result<HashMap<String, AttributeValue>, StoreError> {
    if token.len() > 2048 {
        return Err(StoreError::BadPageToken);
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| StoreError::BadPageToken)?;
    let plain: HashMap<String, String> = serde_json::from_slice(&bytes).map_err(|_| StoreError::BadPageToken)?;
    if plain.get(pk_attr).map(String::as_str) != Some(pk_value) || plain.len() > 4 {
        return Err(StoreError::BadPageToken);
    }
    if !plain.keys().all(|k| KEY_ATTRIBUTES.contains(&k.as_str())) {
        return Err(StoreError::BadPageToken);
    }
    Ok(plain.into_iter().map(|(k, v)| (k, AttributeValue::S(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_stay_in_their_list() {
        let key = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("WS#x".into())),
            ("ownerPk".to_owned(), AttributeValue::S("OWNER#alice".into())),
        ]);
        let token = encode_token(&key).unwrap();
        assert_eq!(decode_token(&token, "ownerPk", "OWNER#alice").unwrap(), key);
        assert!(matches!(decode_token(&token, "ownerPk", "OWNER#bob"), Err(StoreError::BadPageToken)));
        assert!(matches!(decode_token("not base64!", "ownerPk", "OWNER#alice"), Err(StoreError::BadPageToken)));
    }

    #[test]
    fn queries_read_the_keys_of_their_index() {
        assert_eq!(Query::table("WS#x").attributes(), ("pk", "sk"));
        for (index, pk, sk) in INDEXES {
            assert_eq!(Query::index(index, "x").attributes(), (pk, sk));
        }
    }
}
