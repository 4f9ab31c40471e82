//! `catalog-import --file infra/catalog.json`: publishes the Service Catalog products the
//! file lists through the admins' use case (`CatalogCases::publish_as`, actor
//! `catalog-import`), with the default AWS credential chain (profile, SSO, environment).
//! `make deploy` runs it after the stacks; it is safe to run again: a product already in the
//! catalog is left as it is. Reads `ATELIER_TABLE` and `ATELIER_PROVISIONER` (as deployed).
//!
//! Each entry names its Service Catalog product by the name `infra/products/portfolio.yaml`
//! gives it; the rest is `POST /v1/products`'s body without `serviceCatalogProductId`.

use std::process::ExitCode;

use atelier_app::{Root, Settings, settings::Function};
use atelier_domain::{
    DomainError,
    catalog::{FirstPrice, PublishProduct},
};
use serde::Deserialize;

/// What the import reads of the deployment's settings.
const CATALOG_IMPORT: Function = Function {
    name: "catalog-import",
    required: &[atelier_app::settings::TABLE],
    optional: &[atelier_app::settings::PROVISIONER],
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    products: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Entry {
    /// The product's name in Service Catalog.
    service_catalog_product: String,
    id: String,
    provisioning_artifact_id: Option<String>,
    launch_path_id: Option<String>,
    instance_type: String,
    #[serde(rename = "volumeGiB")]
    volume_gib: u32,
    hibernation: bool,
    visible_to: Vec<String>,
    #[serde(default)]
    apps: Vec<String>,
    price: Price,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Price {
    compute_per_hour: String,
    storage_per_gb_month: String,
    currency: String,
    effective_from: Option<jiff::Timestamp>,
}

fn decimal(entry: &str, field: &str, value: &str) -> Result<rust_decimal::Decimal, String> {
    value.parse().map_err(|_| format!("{entry}: price.{field} {value:?} is not a decimal"))
}

async fn import(path: &str) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let file: File = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    let settings = Settings::from_env(&CATALOG_IMPORT).map_err(|e| e.to_string())?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let service_catalog = aws_sdk_servicecatalog::Client::new(&sdk);
    let cases = Root::new(sdk, settings).catalog_cases();
    for entry in file.products {
        let name = &entry.service_catalog_product;
        let found = service_catalog.describe_product().name(name).send().await.map_err(|e| {
            format!("{}: DescribeProduct {name:?}: {}", entry.id, aws_sdk_servicecatalog::error::DisplayErrorContext(e))
        })?;
        let sc_id = found
            .product_view_summary()
            .and_then(|p| p.product_id())
            .ok_or_else(|| format!("{}: Service Catalog has no product named {name:?}", entry.id))?
            .to_owned();
        let request = PublishProduct {
            price: FirstPrice {
                compute_per_hour: decimal(&entry.id, "computePerHour", &entry.price.compute_per_hour)?,
                storage_per_gb_month: decimal(&entry.id, "storagePerGbMonth", &entry.price.storage_per_gb_month)?,
                currency: entry.price.currency,
                effective_from: entry.price.effective_from,
            },
            id: entry.id.clone(),
            service_catalog_product_id: sc_id.clone(),
            provisioning_artifact_id: entry.provisioning_artifact_id,
            launch_path_id: entry.launch_path_id,
            instance_type: entry.instance_type,
            volume_gib: entry.volume_gib,
            hibernation: entry.hibernation,
            visible_to: entry.visible_to,
            apps: entry.apps,
        };
        match cases.publish_as("catalog-import", request, jiff::Timestamp::now()).await {
            Ok(product) => println!(
                "published {} from {name:?} ({sc_id}), {} {}",
                product.id, product.vcpus, product.instance_type
            ),
            Err(DomainError::Unprocessable { field, .. }) if field == "id" => {
                println!("already in the catalog, left as it is: {}", entry.id);
            }
            Err(e) => return Err(format!("{}: {e}", entry.id)),
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let path = match args.as_slice() {
        [_, flag, path] if flag == "--file" => path.clone(),
        _ => {
            eprintln!("usage: catalog-import --file <catalog.json>");
            return ExitCode::from(2);
        }
    };
    match import(&path).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("catalog-import: {e}");
            ExitCode::FAILURE
        }
    }
}
