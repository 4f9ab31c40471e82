//! `/v1/products`: the catalog-api function's routes.

use std::sync::Arc;

use atelier_domain::{Money, Product, ports::Catalog};
use axum::{
    Json, Router,
    extract::{FromRef, State},
    routing::get,
};
use serde::Serialize;

use crate::{
    ApiError, Authenticated, JwtVerifier,
    extract::QueryParams,
    workspaces::{PageQuery, PageView},
};

/// What the catalog routes run on.
#[derive(Clone)]
pub struct CatalogState {
    pub verifier: Arc<JwtVerifier>,
    pub catalog: Arc<dyn Catalog>,
}

impl FromRef<CatalogState> for Arc<JwtVerifier> {
    fn from_ref(state: &CatalogState) -> Self {
        state.verifier.clone()
    }
}

/// The routes of the catalog-api function.
pub fn router(state: CatalogState) -> Router {
    Router::new().route("/v1/products", get(products)).with_state(state)
}

/// A product as the catalog shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProductView {
    id: String,
    name: String,
    description: String,
    instance_type: String,
    vcpus: u32,
    #[serde(rename = "memoryGiB")]
    memory_gib: u32,
    hourly_price: Money,
    /// Storage price per GB-month of the product's volumes; null when the catalog has none.
    storage_price: Option<Money>,
    hibernation: bool,
}

impl From<Product> for ProductView {
    fn from(p: Product) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name,
            description: p.description,
            instance_type: p.instance_type,
            vcpus: p.vcpus,
            memory_gib: p.memory_gib,
            hourly_price: p.hourly_price,
            storage_price: p.storage_price,
            hibernation: p.hibernation,
        }
    }
}

async fn products(
    State(s): State<CatalogState>,
    Authenticated(_caller): Authenticated,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Json<PageView<ProductView>>, ApiError> {
    let page = s.catalog.products(&q.page()?).await?;
    Ok(Json(PageView::from_page(page, ProductView::from)))
}
