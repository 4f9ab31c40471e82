//! Service Catalog and EC2 instance types as each test sets them.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::catalog::{InstanceTypeInfo, InstanceTypes, ScArtifact, ScProduct, ServiceCatalogProducts};
use crate::kernel::UpstreamError;

#[derive(Default)]
struct ScData {
    products: HashMap<String, ScProduct>,
    inactive: HashSet<String>,
    paths: HashMap<String, Vec<String>>,
}

/// Service Catalog: products added with [`FakeServiceCatalog::add`] (one recommended
/// artifact `pa-<name>` and one launch path `lpv2-<name>` each), artifacts deactivated with
/// [`FakeServiceCatalog::deactivate`], launch paths replaced with
/// [`FakeServiceCatalog::set_paths`].
#[derive(Default)]
pub struct FakeServiceCatalog {
    data: Mutex<ScData>,
}

impl FakeServiceCatalog {
    fn lock(&self) -> MutexGuard<'_, ScData> {
        self.data.lock().expect("fake Service Catalog lock")
    }

    /// Adds product `prod-<name>` named `name`; its artifact is `pa-<name>` and its path
    /// `lpv2-<name>`.
    pub fn add(&self, name: &str, description: &str) -> String {
        let id = format!("prod-{name}");
        let product = ScProduct {
            id: id.clone(),
            name: name.to_owned(),
            description: description.to_owned(),
            artifacts: vec![ScArtifact {
                id: format!("pa-{name}"),
                name: "v1".into(),
                created_at: Some(jiff::Timestamp::UNIX_EPOCH),
                recommended: true,
            }],
        };
        let mut data = self.lock();
        data.paths.insert(id.clone(), vec![format!("lpv2-{name}")]);
        data.products.insert(id.clone(), product);
        id
    }

    /// Makes `artifact` inactive.
    pub fn deactivate(&self, artifact: &str) {
        self.lock().inactive.insert(artifact.to_owned());
    }

    /// Replaces the launch paths of `product`.
    pub fn set_paths(&self, product: &str, paths: &[&str]) {
        self.lock().paths.insert(product.to_owned(), paths.iter().map(|p| (*p).to_owned()).collect());
    }
}

#[async_trait]
impl ServiceCatalogProducts for FakeServiceCatalog {
    async fn product(&self, id: &str) -> Result<Option<ScProduct>, UpstreamError> {
        Ok(self.lock().products.get(id).cloned())
    }

    async fn artifact_active(&self, product_id: &str, artifact_id: &str) -> Result<Option<bool>, UpstreamError> {
        let data = self.lock();
        let exists = data.products.get(product_id).is_some_and(|p| p.artifacts.iter().any(|a| a.id == artifact_id));
        Ok(exists.then(|| !data.inactive.contains(artifact_id)))
    }

    async fn launch_paths(&self, product_id: &str) -> Result<Vec<String>, UpstreamError> {
        Ok(self.lock().paths.get(product_id).cloned().unwrap_or_default())
    }
}

/// EC2's instance types: `t3.large`, `m5.2xlarge` (both can hibernate) and `r5.8xlarge`
/// (cannot), with their real vCPUs and memory; nothing else exists.
pub struct FakeInstanceTypes(HashMap<&'static str, InstanceTypeInfo>);

impl Default for FakeInstanceTypes {
    fn default() -> Self {
        let info = |vcpus, memory_gib: u64, hibernation_supported| InstanceTypeInfo {
            vcpus,
            memory_mib: memory_gib * 1024,
            hibernation_supported,
        };
        Self(HashMap::from([
            ("t3.large", info(2, 8, true)),
            ("m5.2xlarge", info(8, 32, true)),
            ("r5.8xlarge", info(32, 256, false)),
        ]))
    }
}

#[async_trait]
impl InstanceTypes for FakeInstanceTypes {
    async fn instance_type(&self, instance_type: &str) -> Result<Option<InstanceTypeInfo>, UpstreamError> {
        Ok(self.0.get(instance_type).copied())
    }
}
