//! [`Catalog`] on the table: products under `PRODUCT#<id>`, listed by id through `by-kind`,
//! and each product's history in its own partition (`EV#<µs>#<version>`).

use async_trait::async_trait;
use atelier_domain::{
    Product, ProductId,
    catalog::{Catalog, CatalogEvent, CatalogStore},
    kernel::{Page, PageRequest, StoreError},
};
use serde::{Deserialize, Serialize};

use super::{
    BY_KIND, Table,
    items::from_item,
    keys::{EVENT_PREFIX, PRODUCT_KIND, PRODUCT_SK, event_sk, product_pk},
    reads::Query,
    writes::Condition,
};

/// A catalog product: its fields flattened in (infra/README.md shows the layout).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ProductItem {
    pk: String,
    sk: String,
    kind_pk: String,
    kind_sk: String,
    #[serde(flatten)]
    product: Product,
}

impl From<&Product> for ProductItem {
    fn from(product: &Product) -> Self {
        Self {
            pk: product_pk(&product.id),
            sk: PRODUCT_SK.into(),
            kind_pk: PRODUCT_KIND.into(),
            kind_sk: product.id.to_string(),
            product: product.clone(),
        }
    }
}

/// One change of a product, next to it. The key carries the version the change produced,
/// so the transaction's condition on the product also makes the event unique.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProductEventItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    event: CatalogEvent,
}

impl ProductEventItem {
    fn new(product: &Product, event: &CatalogEvent) -> Self {
        Self { pk: product_pk(&product.id), sk: event_sk(event.at, product.version), event: event.clone() }
    }
}

#[async_trait]
impl Catalog for Table {
    async fn products(&self, page: &PageRequest) -> Result<Page<Product>, StoreError> {
        self.query_page(Query::index(BY_KIND, PRODUCT_KIND), page, |p: ProductItem| Ok(p.product)).await
    }

    async fn product(&self, id: &ProductId) -> Result<Option<Product>, StoreError> {
        let item = self.get_item(product_pk(id), PRODUCT_SK.into()).await?;
        Ok(item.map(from_item::<ProductItem>).transpose()?.map(|p| p.product))
    }
}

#[async_trait]
impl CatalogStore for Table {
    async fn insert_product(&self, product: &Product, event: &CatalogEvent) -> Result<(), StoreError> {
        let mut tx = self.transaction();
        tx.put_if(&ProductItem::from(product), Condition::absent())?;
        tx.put_if(&ProductEventItem::new(product, event), Condition::absent())?;
        Ok(tx.send().await?)
    }

    async fn update_product(&self, product: &Product, event: &CatalogEvent) -> Result<(), StoreError> {
        let mut tx = self.transaction();
        tx.put_if(&ProductItem::from(product), Condition::version(product.version - 1))?;
        tx.put_if(&ProductEventItem::new(product, event), Condition::absent())?;
        Ok(tx.send().await?)
    }

    async fn product_events(&self, id: &ProductId, page: &PageRequest) -> Result<Page<CatalogEvent>, StoreError> {
        let query = Query::table(product_pk(id)).begins_with(EVENT_PREFIX).newest_first();
        self.query_page(query, page, |e: ProductEventItem| Ok(e.event)).await
    }
}
