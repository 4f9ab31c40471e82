//! `/v1/products`: the catalog-api function's routes.

use std::sync::Arc;

use atelier_domain::{Money, Product, catalog::Catalog};
use axum::{Json, Router, extract::State, routing::get};
use serde::Serialize;

use crate::{
    ApiError, Authenticated,
    extract::QueryParams,
    state::Area,
    views::{PageQuery, PageView},
};

/// The routes of the catalog-api function.
pub fn router(state: Area<Arc<dyn Catalog>>) -> Router {
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
    State(s): State<Area<Arc<dyn Catalog>>>,
    Authenticated(_caller): Authenticated,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Json<PageView<ProductView>>, ApiError> {
    let page = s.cases.products(&q.page()?).await?;
    Ok(Json(PageView::from_page(page, ProductView::from)))
}
