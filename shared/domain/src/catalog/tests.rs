//! The catalog's use cases on the doubles.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use rust_decimal::Decimal;

use super::*;
use crate::kernel::{Caller, DomainError, PageRequest};
use crate::testing::{FakeInstanceTypes, FakeServiceCatalog, MemoryStore};

fn caller(username: &str, groups: &[&str]) -> Caller {
    Caller {
        sub: format!("sub-{username}"),
        username: username.into(),
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    }
}

fn ada() -> Caller {
    caller("ada", &["admins"])
}

fn now() -> Timestamp {
    "2026-03-15T10:00:00Z".parse().unwrap()
}

struct World {
    store: Arc<MemoryStore>,
    sc: Arc<FakeServiceCatalog>,
    cases: CatalogCases,
}

fn world(provisioning: Provisioning) -> World {
    let store = Arc::new(MemoryStore::default());
    let sc = Arc::new(FakeServiceCatalog::default());
    let cases = CatalogCases::new(store.clone(), sc.clone(), Arc::new(FakeInstanceTypes::default()), provisioning);
    World { store, sc, cases }
}

fn publish(sc_id: &str) -> PublishProduct {
    PublishProduct {
        id: "onco-notebook".into(),
        service_catalog_product_id: sc_id.into(),
        provisioning_artifact_id: None,
        launch_path_id: None,
        instance_type: "m5.2xlarge".into(),
        volume_gib: 100,
        hibernation: true,
        visible_to: vec!["oncology".into()],
        apps: vec!["jupyterlab".into()],
        price: FirstPrice {
            compute_per_hour: "0.35".parse().unwrap(),
            storage_per_gb_month: "0.0928".parse().unwrap(),
            currency: "EUR".into(),
            effective_from: None,
        },
    }
}

fn field(result: Result<Product, DomainError>) -> String {
    match result {
        Err(DomainError::Unprocessable { field, .. } | DomainError::Invalid { field, .. }) => field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[tokio::test]
async fn publishing_reads_name_and_description_from_service_catalog_and_the_machine_from_ec2() {
    let w = world(Provisioning::ServiceCatalog);
    let sc_id = w.sc.add("Oncology notebook", "JupyterLab for the oncology team.");
    let product = w.cases.publish(&ada(), publish(&sc_id), now()).await.unwrap();
    assert_eq!(
        (product.name.as_str(), product.description.as_str()),
        ("Oncology notebook", "JupyterLab for the oncology team.")
    );
    assert_eq!((product.vcpus, product.memory_gib), (8, 32));
    let sc = product.service_catalog.clone().unwrap();
    assert_eq!(sc.provisioning_artifact_id.as_deref(), Some("pa-Oncology notebook"));
    assert_eq!(sc.path_id.as_deref(), Some("lpv2-Oncology notebook"));
    assert_eq!(product.prices.len(), 1);
    assert_eq!(product.prices[0].effective_from, now());
    let events = w.store.product_events(&product.id, &PageRequest::first(10)).await.unwrap();
    assert_eq!(events.items.len(), 1);
    assert_eq!((events.items[0].action, events.items[0].actor.as_str()), (CatalogEventAction::Publish, "ada"));
}

#[tokio::test]
async fn only_admins_change_the_catalog() {
    let w = world(Provisioning::ServiceCatalog);
    let sc_id = w.sc.add("n", "d");
    let alice = caller("alice", &["scientists", "oncology"]);
    assert!(matches!(w.cases.publish(&alice, publish(&sc_id), now()).await, Err(DomainError::Forbidden(_))));
    let product = w.cases.publish(&ada(), publish(&sc_id), now()).await.unwrap();
    let edit = EditProduct { name: "x".into(), description: String::new(), visible_to: vec!["g".into()], apps: vec![] };
    assert!(matches!(w.cases.edit(&alice, product.id.as_str(), edit, now()).await, Err(DomainError::Forbidden(_))));
    assert!(matches!(w.cases.unpublish(&alice, product.id.as_str(), now()).await, Err(DomainError::Forbidden(_))));
    let events = w.cases.events(&alice, product.id.as_str(), &PageRequest::first(10)).await;
    assert!(matches!(events, Err(DomainError::Forbidden(_))));
}

#[tokio::test]
async fn what_aws_does_not_know_is_refused_naming_the_field() {
    let w = world(Provisioning::ServiceCatalog);
    let sc_id = w.sc.add("n", "d");
    assert_eq!(field(w.cases.publish(&ada(), publish("prod-unknown"), now()).await), "serviceCatalogProductId");
    let mut bad = publish(&sc_id);
    bad.instance_type = "m9.huge".into();
    assert_eq!(field(w.cases.publish(&ada(), bad, now()).await), "instanceType");
    let mut bad = publish(&sc_id);
    bad.provisioning_artifact_id = Some("pa-other".into());
    assert_eq!(field(w.cases.publish(&ada(), bad, now()).await), "provisioningArtifactId");
    w.sc.deactivate("pa-n");
    assert_eq!(field(w.cases.publish(&ada(), publish(&sc_id), now()).await), "provisioningArtifactId");
}

#[tokio::test]
async fn launch_paths_must_be_unambiguous_under_service_catalog() {
    let w = world(Provisioning::ServiceCatalog);
    let sc_id = w.sc.add("n", "d");
    w.sc.set_paths(&sc_id, &[]);
    assert_eq!(field(w.cases.publish(&ada(), publish(&sc_id), now()).await), "serviceCatalogProductId");
    w.sc.set_paths(&sc_id, &["lpv2-a", "lpv2-b"]);
    assert_eq!(field(w.cases.publish(&ada(), publish(&sc_id), now()).await), "launchPathId");
    let mut chosen = publish(&sc_id);
    chosen.launch_path_id = Some("lpv2-b".into());
    let product = w.cases.publish(&ada(), chosen, now()).await.unwrap();
    assert_eq!(product.service_catalog.unwrap().path_id.as_deref(), Some("lpv2-b"));
}

#[tokio::test]
async fn ec2_launch_needs_no_artifact_and_takes_no_launch_path() {
    let w = world(Provisioning::Ec2Launch);
    let sc_id = w.sc.add("n", "d");
    w.sc.set_paths(&sc_id, &[]);
    w.sc.deactivate("pa-n");
    let product = w.cases.publish(&ada(), publish(&sc_id), now()).await.unwrap();
    assert_eq!(product.service_catalog.unwrap().path_id, None);
    let mut with_path = publish(&sc_id);
    with_path.id = "other".into();
    with_path.launch_path_id = Some("lpv2-x".into());
    assert_eq!(field(w.cases.publish(&ada(), with_path, now()).await), "launchPathId");
}

#[tokio::test]
async fn hibernation_needs_the_family_and_room_for_the_ram() {
    let w = world(Provisioning::Ec2Launch);
    let sc_id = w.sc.add("n", "d");
    let mut big = publish(&sc_id);
    big.instance_type = "r5.8xlarge".into();
    big.volume_gib = 400;
    assert_eq!(field(w.cases.publish(&ada(), big.clone(), now()).await), "hibernation");
    big.hibernation = false;
    w.cases.publish(&ada(), big, now()).await.unwrap();
    let mut small = publish(&sc_id);
    small.id = "tight".into();
    small.volume_gib = 32 + HIBERNATION_OS_ALLOWANCE_GIB - 1;
    assert_eq!(field(w.cases.publish(&ada(), small.clone(), now()).await), "volumeGiB");
    small.volume_gib += 1;
    w.cases.publish(&ada(), small, now()).await.unwrap();
}

#[tokio::test]
async fn an_id_is_published_once() {
    let w = world(Provisioning::Ec2Launch);
    let sc_id = w.sc.add("n", "d");
    w.cases.publish(&ada(), publish(&sc_id), now()).await.unwrap();
    assert_eq!(field(w.cases.publish(&ada(), publish(&sc_id), now()).await), "id");
}

#[tokio::test]
async fn people_see_what_their_groups_may_launch_and_admins_see_everything() {
    let w = world(Provisioning::Ec2Launch);
    let sc_id = w.sc.add("n", "d");
    let product = w.cases.publish(&ada(), publish(&sc_id), now()).await.unwrap();
    let alice = caller("alice", &["scientists", "oncology"]);
    let bob = caller("bob", &["scientists"]);
    let page = PageRequest::first(10);
    assert_eq!(w.cases.list(&alice, &page).await.unwrap().items.len(), 1);
    assert!(w.cases.list(&bob, &page).await.unwrap().items.is_empty());
    assert!(matches!(w.cases.get(&bob, "onco-notebook").await, Err(DomainError::NotFound { kind: "product" })));
    assert!(product.launchable_by(&alice) && !product.launchable_by(&bob));
    let unpublished = w.cases.unpublish(&ada(), "onco-notebook", now()).await.unwrap();
    assert!(!unpublished.published && !unpublished.launchable_by(&alice) && !unpublished.launchable_by(&ada()));
    assert!(w.cases.list(&alice, &page).await.unwrap().items.is_empty());
    assert_eq!(w.cases.list(&ada(), &page).await.unwrap().items.len(), 1, "admins still see it");
    // Unpublishing twice writes nothing more.
    let again = w.cases.unpublish(&ada(), "onco-notebook", now()).await.unwrap();
    assert_eq!(again.version, unpublished.version);
}

#[tokio::test]
async fn a_price_version_applies_from_its_instant_and_never_before() {
    let w = world(Provisioning::Ec2Launch);
    let sc_id = w.sc.add("n", "d");
    w.cases.publish(&ada(), publish(&sc_id), now()).await.unwrap();
    let version = |from: Timestamp, compute: &str, currency: &str| PriceVersion {
        effective_from: from,
        compute_per_hour: compute.parse::<Decimal>().unwrap(),
        storage_per_gb_month: "0.1".parse().unwrap(),
        currency: currency.into(),
    };
    let past = now() - SignedDuration::from_secs(1);
    let later = now() + SignedDuration::from_hours(24);
    let field_of = |r: Result<Product, DomainError>| field(r);
    assert_eq!(
        field_of(w.cases.add_price(&ada(), "onco-notebook", version(past, "0.40", "EUR"), now()).await),
        "effectiveFrom"
    );
    assert_eq!(
        field_of(w.cases.add_price(&ada(), "onco-notebook", version(later, "0.40", "USD"), now()).await),
        "currency"
    );
    assert_eq!(
        field_of(w.cases.add_price(&ada(), "onco-notebook", version(later, "-1", "EUR"), now()).await),
        "computePerHour"
    );
    let product = w.cases.add_price(&ada(), "onco-notebook", version(later, "0.40", "EUR"), now()).await.unwrap();
    let book = crate::costs::PriceBook::for_product(&product).unwrap();
    assert_eq!(
        book.at(later - SignedDuration::from_secs(1)).unwrap().compute_per_hour,
        "0.35".parse::<Decimal>().unwrap()
    );
    assert_eq!(book.at(later).unwrap().compute_per_hour, "0.40".parse::<Decimal>().unwrap());
    // Not before the latest version either, even in the future.
    let between = now() + SignedDuration::from_hours(1);
    assert_eq!(
        field_of(w.cases.add_price(&ada(), "onco-notebook", version(between, "0.5", "EUR"), now()).await),
        "effectiveFrom"
    );
}

#[tokio::test]
async fn an_edit_is_recorded_with_what_changed_and_an_empty_edit_writes_nothing() {
    let w = world(Provisioning::Ec2Launch);
    let sc_id = w.sc.add("n", "d");
    let product = w.cases.publish(&ada(), publish(&sc_id), now()).await.unwrap();
    let same = EditProduct {
        name: product.name.clone(),
        description: product.description.clone(),
        visible_to: product.visible_to.clone(),
        apps: vec!["jupyterlab".into()],
    };
    assert_eq!(w.cases.edit(&ada(), "onco-notebook", same.clone(), now()).await.unwrap().version, 1);
    let renamed = EditProduct { name: "  L'étude notebook ".into(), ..same };
    let edited = w.cases.edit(&ada(), "onco-notebook", renamed, now()).await.unwrap();
    assert_eq!((edited.name.as_str(), edited.version), ("L'étude notebook", 2));
    let events = w.cases.events(&ada(), "onco-notebook", &PageRequest::first(10)).await.unwrap();
    assert_eq!(events.items[0].action, CatalogEventAction::Edit);
    assert_eq!(events.items[0].details["name"]["after"], "L'étude notebook");
    assert!(events.items[0].details.get("apps").is_none());
}

#[tokio::test]
async fn a_lost_race_is_a_conflict_not_a_lost_edit() {
    let w = world(Provisioning::Ec2Launch);
    let sc_id = w.sc.add("n", "d");
    let product = w.cases.publish(&ada(), publish(&sc_id), now()).await.unwrap();
    let event = CatalogEvent {
        at: now(),
        actor: "ada".into(),
        action: CatalogEventAction::Edit,
        product_id: product.id.clone(),
        details: serde_json::json!({}),
    };
    let stale = Product { name: "stale".into(), version: product.version + 2, ..product };
    assert!(matches!(w.store.update_product(&stale, &event).await, Err(crate::kernel::StoreError::Conflict)));
}
