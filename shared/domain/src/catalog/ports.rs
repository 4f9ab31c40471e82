//! What the catalog needs from the outside world: where its products are stored (DynamoDB).

use async_trait::async_trait;

use super::Product;
use crate::kernel::{Page, PageRequest, ProductId, StoreError};

/// The product catalog.
#[async_trait]
pub trait Catalog: Send + Sync {
    /// A page of products, by id.
    async fn products(&self, page: &PageRequest) -> Result<Page<Product>, StoreError>;
    /// One product.
    async fn product(&self, id: &ProductId) -> Result<Option<Product>, StoreError>;
}
