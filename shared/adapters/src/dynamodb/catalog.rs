//! [`Catalog`] on the table: products under `PRODUCT#<id>`, listed by id through `by-kind`.

use async_trait::async_trait;
use atelier_domain::{
    Product, ProductId,
    catalog::Catalog,
    kernel::{Page, PageRequest, StoreError},
};
use serde::{Deserialize, Serialize};

use super::{
    BY_KIND, Table,
    items::from_item,
    keys::{PRODUCT_KIND, PRODUCT_SK, product_pk},
    reads::Query,
};

/// A catalog product: its fields flattened in (infra/README.md shows the layout to whoever
/// adds a product in AWS by hand).
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
