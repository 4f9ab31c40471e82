//! `/v1/products`: the catalog-api function's routes. Everybody reads what they may launch;
//! admins publish Service Catalog products, edit them, append prices and unpublish them.

use atelier_domain::{
    Caller, DomainError, Money, Product,
    catalog::{CatalogCases, CatalogEvent, EditProduct, FirstPrice, PriceVersion, PublishProduct, ServiceCatalogRef},
    costs::PriceBook,
};
use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use jiff::Timestamp;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{
    ApiError, Authenticated,
    extract::{JsonBody, QueryParams},
    state::Area,
    views::{PageQuery, PageView},
};

/// The routes of the catalog-api function.
pub fn router(state: Area<CatalogCases>) -> Router {
    Router::new()
        .route("/v1/products", get(list).post(publish))
        .route("/v1/products/{id}", get(get_one).put(edit).delete(unpublish))
        .route("/v1/products/{id}/prices", post(add_price))
        .route("/v1/products/{id}/events", get(events))
        .with_state(state)
}

/// A product as the catalog shows it; the administrative fields only to admins.
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
    /// In force now.
    hourly_price: Money,
    /// In force now; null when the catalog has none.
    storage_price: Option<Money>,
    hibernation: bool,
    #[serde(rename = "volumeGiB")]
    volume_gib: u32,
    apps: Vec<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    admin: Option<AdminFields>,
}

/// What only admins see of a product.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AdminFields {
    published: bool,
    visible_to: Vec<String>,
    prices: Vec<PriceVersion>,
    service_catalog: Option<ServiceCatalogRef>,
    version: u64,
}

impl ProductView {
    fn of(p: Product, caller: &Caller, now: Timestamp) -> Result<Self, DomainError> {
        let book = PriceBook::for_product(&p)?;
        let current = book.at(now).or_else(|| book.versions().first()).cloned();
        let currency = book.currency().to_owned();
        let (hourly, storage) = match &current {
            Some(v) => (v.compute_per_hour, v.storage_per_gb_month),
            None => (p.hourly_price.amount, Decimal::ZERO),
        };
        // A legacy product without a storage price shows null, not a zero it never had.
        let storage_price = (p.storage_price.is_some() || !p.prices.is_empty())
            .then(|| Money { amount: storage, currency: currency.clone() });
        Ok(Self {
            admin: caller.is_admin().then(|| AdminFields {
                published: p.published,
                visible_to: p.visible_to.clone(),
                prices: book.versions().to_vec(),
                service_catalog: p.service_catalog.clone(),
                version: p.version,
            }),
            id: p.id.to_string(),
            name: p.name,
            description: p.description,
            instance_type: p.instance_type,
            vcpus: p.vcpus,
            memory_gib: p.memory_gib,
            hourly_price: Money { amount: hourly, currency },
            storage_price,
            hibernation: p.hibernation,
            volume_gib: p.volume_gib,
            apps: p.apps.iter().map(ToString::to_string).collect(),
        })
    }
}

/// A decimal sent as a string (`"0.35"`), exactly: numbers are refused so that no client
/// rounds a price through a float on the way.
fn decimal(field: &str, value: &str) -> Result<Decimal, DomainError> {
    let ok = !value.is_empty() && value.chars().all(|c| c.is_ascii_digit() || c == '.');
    match value.parse::<Decimal>() {
        Ok(d) if ok => Ok(d),
        _ => Err(DomainError::invalid(field, "must be a non-negative decimal written as a string, e.g. \"0.35\"")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PriceBody {
    compute_per_hour: String,
    storage_per_gb_month: String,
    currency: String,
    effective_from: Option<Timestamp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct PublishBody {
    id: String,
    service_catalog_product_id: String,
    provisioning_artifact_id: Option<String>,
    launch_path_id: Option<String>,
    instance_type: String,
    #[serde(rename = "volumeGiB")]
    volume_gib: u32,
    hibernation: bool,
    visible_to: Vec<String>,
    #[serde(default)]
    apps: Vec<String>,
    price: PriceBody,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EditBody {
    name: String,
    description: String,
    visible_to: Vec<String>,
    apps: Vec<String>,
}

fn forbid_unless_admin(caller: &Caller, what: &str) -> Result<(), ApiError> {
    if caller.is_admin() { Ok(()) } else { Err(DomainError::Forbidden(format!("only admins {what}")).into()) }
}

async fn list(
    State(s): State<Area<CatalogCases>>,
    Authenticated(caller): Authenticated,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Json<PageView<ProductView>>, ApiError> {
    let page = s.cases.list(&caller, &q.page()?).await?;
    let now = Timestamp::now();
    let items = page.items.into_iter().map(|p| ProductView::of(p, &caller, now)).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(PageView::from_page(atelier_domain::kernel::Page { items, next_token: page.next_token }, |v| v)))
}

async fn get_one(
    State(s): State<Area<CatalogCases>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ProductView>, ApiError> {
    let product = s.cases.get(&caller, &id).await?;
    Ok(Json(ProductView::of(product, &caller, Timestamp::now())?))
}

async fn publish(
    State(s): State<Area<CatalogCases>>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<PublishBody>,
) -> Result<(StatusCode, Json<ProductView>), ApiError> {
    // Before validating the body: a non-admin learns nothing from it.
    forbid_unless_admin(&caller, "publish products")?;
    let input = PublishProduct {
        id: body.id,
        service_catalog_product_id: body.service_catalog_product_id,
        provisioning_artifact_id: body.provisioning_artifact_id,
        launch_path_id: body.launch_path_id,
        instance_type: body.instance_type,
        volume_gib: body.volume_gib,
        hibernation: body.hibernation,
        visible_to: body.visible_to,
        apps: body.apps,
        price: FirstPrice {
            compute_per_hour: decimal("price.computePerHour", &body.price.compute_per_hour)?,
            storage_per_gb_month: decimal("price.storagePerGbMonth", &body.price.storage_per_gb_month)?,
            currency: body.price.currency,
            effective_from: body.price.effective_from,
        },
    };
    let now = Timestamp::now();
    let product = s.cases.publish(&caller, input, now).await?;
    Ok((StatusCode::CREATED, Json(ProductView::of(product, &caller, now)?)))
}

async fn edit(
    State(s): State<Area<CatalogCases>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<EditBody>,
) -> Result<Json<ProductView>, ApiError> {
    // NotFound for what the caller may not see comes before Forbidden and validation.
    s.cases.get(&caller, &id).await?;
    forbid_unless_admin(&caller, "edit products")?;
    let input =
        EditProduct { name: body.name, description: body.description, visible_to: body.visible_to, apps: body.apps };
    let now = Timestamp::now();
    let product = s.cases.edit(&caller, &id, input, now).await?;
    Ok(Json(ProductView::of(product, &caller, now)?))
}

async fn add_price(
    State(s): State<Area<CatalogCases>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<PriceBody>,
) -> Result<(StatusCode, Json<ProductView>), ApiError> {
    s.cases.get(&caller, &id).await?;
    forbid_unless_admin(&caller, "change prices")?;
    let effective_from = body.effective_from.ok_or_else(|| DomainError::invalid("effectiveFrom", "is required"))?;
    let price = PriceVersion {
        effective_from,
        compute_per_hour: decimal("computePerHour", &body.compute_per_hour)?,
        storage_per_gb_month: decimal("storagePerGbMonth", &body.storage_per_gb_month)?,
        currency: body.currency,
    };
    let now = Timestamp::now();
    let product = s.cases.add_price(&caller, &id, price, now).await?;
    Ok((StatusCode::CREATED, Json(ProductView::of(product, &caller, now)?)))
}

async fn unpublish(
    State(s): State<Area<CatalogCases>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<ProductView>, ApiError> {
    s.cases.get(&caller, &id).await?;
    forbid_unless_admin(&caller, "unpublish products")?;
    let now = Timestamp::now();
    let product = s.cases.unpublish(&caller, &id, now).await?;
    Ok(Json(ProductView::of(product, &caller, now)?))
}

async fn events(
    State(s): State<Area<CatalogCases>>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<PageQuery>,
) -> Result<Json<PageView<CatalogEvent>>, ApiError> {
    s.cases.get(&caller, &id).await?;
    forbid_unless_admin(&caller, "read the catalog's history")?;
    let page = s.cases.events(&caller, &id, &q.page()?).await?;
    Ok(Json(PageView::from_page(page, |e| e)))
}
