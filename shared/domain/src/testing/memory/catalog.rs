//! The catalog: products and their history.

use async_trait::async_trait;

use super::{MemoryStore, paged};
use crate::catalog::{Catalog, CatalogEvent, CatalogStore, Product};
use crate::kernel::{Page, PageRequest, ProductId, StoreError};

#[async_trait]
impl Catalog for MemoryStore {
    /// By id.
    async fn products(&self, page: &PageRequest) -> Result<Page<Product>, StoreError> {
        let data = self.lock();
        let all: Vec<&Product> = data.products.values().collect();
        paged("products", &all, page, self.limit(page))
    }

    async fn product(&self, id: &ProductId) -> Result<Option<Product>, StoreError> {
        Ok(self.lock().products.get(id).cloned())
    }
}

#[async_trait]
impl CatalogStore for MemoryStore {
    async fn insert_product(&self, product: &Product, event: &CatalogEvent) -> Result<(), StoreError> {
        let mut data = self.lock();
        if data.products.contains_key(&product.id) {
            return Err(StoreError::Conflict);
        }
        data.products.insert(product.id.clone(), product.clone());
        data.product_events.push(event.clone());
        Ok(())
    }

    async fn update_product(&self, product: &Product, event: &CatalogEvent) -> Result<(), StoreError> {
        let mut data = self.lock();
        match data.products.get(&product.id) {
            Some(current) if current.version + 1 == product.version => {}
            _ => return Err(StoreError::Conflict),
        }
        data.products.insert(product.id.clone(), product.clone());
        data.product_events.push(event.clone());
        Ok(())
    }

    /// Newest first.
    async fn product_events(&self, id: &ProductId, page: &PageRequest) -> Result<Page<CatalogEvent>, StoreError> {
        let data = self.lock();
        let events: Vec<&CatalogEvent> = data.product_events.iter().rev().filter(|e| &e.product_id == id).collect();
        paged("product-events", &events, page, self.limit(page))
    }
}
