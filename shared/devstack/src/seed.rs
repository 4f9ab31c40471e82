//! Seeds a local AWS server with everything Atelier needs: the table, the Cognito user pool,
//! its app client and role groups (all four as `infra/template.yaml` defines them, through
//! [`crate::template`]), the demo users and data groups, the network `ec2-launch` launches into, the
//! demo catalog's products in Service Catalog, and the bucket cost exports are written to.
//! Idempotent: what exists already is reused. The catalog is then published through the admins' use case
//! ([`crate::local::LocalApp::publish_catalog`]), exactly as a deployed one is.

use atelier_adapters::{Ec2LaunchSettings, cognito::COST_CENTRE_ATTRIBUTE, dynamodb::Table};
use atelier_domain::{
    catalog::{FirstPrice, PublishProduct},
    kernel::StoreError,
};
use aws_sdk_cognitoidentityprovider::{
    Client as Cognito,
    types::{AttributeType, MessageActionType},
};
use aws_sdk_dynamodb::config::Credentials;

use crate::template::{GroupDefinition, Template};

/// Region of the local stack (Paris, as the organisation's).
pub const REGION: &str = "eu-west-3";
/// Password of the demo users unless `ATELIER_DEV_PASSWORD` says otherwise.
pub const DEFAULT_PASSWORD: &str = "Atelier-dev-2026!";

/// A demo user.
#[derive(Debug, Clone)]
pub struct DevUser {
    /// Cognito username, what one signs in with (`alice`).
    pub username: &'static str,
    /// Verified e-mail, `<username>@atelier.test` (a reserved domain: nothing is delivered).
    pub email: &'static str,
    /// The one role group the user is in (one of the template's `AWS::Cognito::UserPoolGroup`s);
    /// data groups are in [`DATA_GROUPS`].
    pub group: &'static str,
    /// `custom:cost_centre`, tagged on the user's workspaces (`CC-...`).
    pub cost_centre: &'static str,
}

/// The demo users: two scientists in different cost centres, an admin, a finance officer.
pub const USERS: [DevUser; 4] = [
    DevUser { username: "alice", email: "alice@atelier.test", group: "scientists", cost_centre: "CC-ONCOLOGY" },
    DevUser { username: "bob", email: "bob@atelier.test", group: "scientists", cost_centre: "CC-CARDIOLOGY" },
    DevUser { username: "ada", email: "ada@atelier.test", group: "admins", cost_centre: "CC-PLATFORM" },
    DevUser { username: "fiona", email: "fiona@atelier.test", group: "finance", cost_centre: "CC-FINANCE" },
];

/// Cognito groups that grant no role but read access to datasets whose readers name them
/// (docs/adr/0007-datasets.md), with their members: alice is in `oncology`, bob is not.
pub const DATA_GROUPS: [(&str, &[&str]); 1] = [("oncology", &["alice"])];

/// What to seed and under which names.
#[derive(Debug, Clone)]
pub struct Seed {
    /// Table name, created unless it exists (`atelier`).
    pub table: String,
    /// User pool name; a pool of that name among the first 60 listed is reused (`atelier`).
    pub user_pool_name: String,
    /// Every demo user's password, set as permanent: `ATELIER_DEV_PASSWORD`, else
    /// [`DEFAULT_PASSWORD`].
    pub password: String,
}

impl Default for Seed {
    fn default() -> Self {
        Self {
            table: "atelier".into(),
            user_pool_name: "atelier".into(),
            password: std::env::var("ATELIER_DEV_PASSWORD").unwrap_or_else(|_| DEFAULT_PASSWORD.into()),
        }
    }
}

/// What the seed created (or found).
#[derive(Debug, Clone)]
pub struct Seeded {
    /// The table name, as seeded.
    pub table: String,
    /// The pool's id, as the local Cognito made it (it changes with every new server).
    pub user_pool_id: String,
    /// The `portal` app client: password and refresh-token sign-in, no secret.
    pub client_id: String,
    /// The demo catalog as written to the table, with an image the local EC2 lists.
    /// The demo catalog as an admin publishes it, the Service Catalog ids filled in.
    pub catalog: Vec<PublishProduct>,
    /// Where `ec2-launch` launches (the local network, launch template and image).
    pub ec2_launch: Ec2LaunchSettings,
    /// The demo users' password.
    pub password: String,
    /// The SES identity the budget watch's e-mails come from, verified in the local SES:
    /// `budgets-<table>@atelier.test`, one per seeded stack, so that a test counts only
    /// its own stack's messages in moto's record of sent mail.
    pub notification_sender: String,
    /// The bucket cost exports are written to (`<table>-exports`): one per seeded stack,
    /// downloaded from moto with presigned links.
    pub exports_bucket: String,
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// A Cognito or EC2 call to the local server failed.
    #[error("{operation} failed: {message}")]
    Aws {
        /// The API operation, e.g. `CreateUserPool`.
        operation: &'static str,
        /// The SDK's error, with its context.
        message: String,
    },
    /// Creating the table or writing a product failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `infra/template.yaml` does not define what the local stack is built from.
    #[error(transparent)]
    Template(#[from] crate::template::TemplateError),
}

pub(crate) fn aws<E: std::error::Error>(operation: &'static str) -> impl FnOnce(E) -> SeedError {
    move |e| SeedError::Aws { operation, message: aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string() }
}

/// SDK configuration for the local server at `endpoint`, with dummy credentials.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "atelier-devstack"))
        .load()
        .await
}

impl Seed {
    /// Seeds the server `config` points at.
    pub async fn apply(&self, config: &aws_config::SdkConfig) -> Result<Seeded, SeedError> {
        let template = Template::deployed()?;
        let dynamodb = aws_sdk_dynamodb::Client::new(config);
        if !Table::new(dynamodb.clone(), &self.table).exists().await? {
            template.table()?.create(&dynamodb, &self.table).await?;
        }
        let ec2_launch = crate::network::local_network(&aws_sdk_ec2::Client::new(config)).await?;
        let catalog = service_catalog(&aws_sdk_servicecatalog::Client::new(config)).await?;
        let cognito = Cognito::new(config);
        let user_pool_id = self.user_pool(&template, &cognito).await?;
        let client_id = client(&template, &cognito, &user_pool_id).await?;
        // The role groups as the template defines them; the data groups are local demo data.
        for group in template.groups()? {
            group.create(&cognito, &user_pool_id).await?;
        }
        for (group, _) in DATA_GROUPS {
            GroupDefinition { group_name: group.into(), description: None }.create(&cognito, &user_pool_id).await?;
        }
        for user in &USERS {
            self.user(&cognito, &user_pool_id, user).await?;
        }
        for (group, members) in DATA_GROUPS {
            for member in members {
                cognito
                    .admin_add_user_to_group()
                    .user_pool_id(&user_pool_id)
                    .username(*member)
                    .group_name(group)
                    .send()
                    .await
                    .map_err(aws("AdminAddUserToGroup"))?;
            }
        }
        let notification_sender = format!("budgets-{}@atelier.test", self.table);
        verify_sender(&aws_sdk_sesv2::Client::new(config), &notification_sender).await?;
        let exports_bucket = format!("{}-exports", self.table);
        create_exports_bucket(config, &exports_bucket).await?;
        Ok(Seeded {
            notification_sender,
            exports_bucket,
            table: self.table.clone(),
            user_pool_id,
            client_id,
            catalog,
            ec2_launch,
            password: self.password.clone(),
        })
    }

    async fn user_pool(&self, template: &Template, cognito: &Cognito) -> Result<String, SeedError> {
        let pools = cognito.list_user_pools().max_results(60).send().await.map_err(aws("ListUserPools"))?;
        if let Some(id) =
            pools.user_pools().iter().find(|p| p.name() == Some(&self.user_pool_name)).and_then(|p| p.id())
        {
            return Ok(id.to_owned());
        }
        template.user_pool(&self.user_pool_name)?.create(cognito).await
    }

    async fn user(&self, cognito: &Cognito, pool: &str, user: &DevUser) -> Result<(), SeedError> {
        let attribute =
            |name: &str, value: &str| AttributeType::builder().name(name).value(value).build().expect("name is set");
        match cognito
            .admin_create_user()
            .user_pool_id(pool)
            .username(user.username)
            .message_action(MessageActionType::Suppress)
            .user_attributes(attribute("email", user.email))
            .user_attributes(attribute("email_verified", "true"))
            .user_attributes(attribute(COST_CENTRE_ATTRIBUTE, user.cost_centre))
            .send()
            .await
        {
            Ok(_) => {}
            Err(e) if code(&e) == Some("UsernameExistsException") => {}
            Err(e) => return Err(aws("AdminCreateUser")(e)),
        }
        cognito
            .admin_set_user_password()
            .user_pool_id(pool)
            .username(user.username)
            .password(&self.password)
            .permanent(true)
            .send()
            .await
            .map_err(aws("AdminSetUserPassword"))?;
        cognito
            .admin_add_user_to_group()
            .user_pool_id(pool)
            .username(user.username)
            .group_name(user.group)
            .send()
            .await
            .map_err(aws("AdminAddUserToGroup"))?;
        Ok(())
    }
}

async fn client(template: &Template, cognito: &Cognito, pool: &str) -> Result<String, SeedError> {
    let clients = cognito
        .list_user_pool_clients()
        .user_pool_id(pool)
        .max_results(60)
        .send()
        .await
        .map_err(aws("ListUserPoolClients"))?;
    if let Some(id) =
        clients.user_pool_clients().iter().find(|c| c.client_name() == Some("portal")).and_then(|c| c.client_id())
    {
        return Ok(id.to_owned());
    }
    template.app_client("portal")?.create(cognito, pool).await
}

/// EBS gp3 storage in eu-west-3 (Paris), EUR per GB-month: the storage price of every
/// seeded product (their root volumes are gp3).
pub const GP3_PER_GB_MONTH: &str = "0.0928";

/// A product of the demo catalog: the Service Catalog product the seed creates, and what
/// the admin adds when publishing it.
pub struct DemoProduct {
    /// The Service Catalog product's name (found by it when it exists).
    pub service_catalog_name: &'static str,
    /// Its short description in Service Catalog, which becomes the catalog card's.
    pub service_catalog_description: &'static str,
    /// Atelier's id.
    pub id: &'static str,
    /// The instance type offered.
    pub instance_type: &'static str,
    /// Compute, EUR per hour.
    pub hourly: &'static str,
    /// Whether it hibernates.
    pub hibernation: bool,
    /// Root volume, GiB.
    pub volume_gib: u32,
    /// Apps served.
    pub apps: &'static [&'static str],
}

/// The demo catalog. Every product is visible to `scientists`; prices apply from the Unix
/// epoch, so replayed past months are priced.
pub const DEMO_CATALOG: [DemoProduct; 3] = [
    DemoProduct {
        service_catalog_name: "Python & R workstation",
        service_catalog_description: "JupyterLab, RStudio Server, Python 3 and R with your datasets mounted read-only under /data.",
        id: "python-r-standard",
        instance_type: "m5.2xlarge",
        hourly: "0.35",
        hibernation: true,
        volume_gib: 100,
        apps: &["jupyterlab", "rstudio"],
    },
    DemoProduct {
        service_catalog_name: "Small notebook",
        service_catalog_description: "A light machine for notebooks, scripts and exploring small extracts.",
        id: "small-t3-large",
        instance_type: "t3.large",
        hourly: "0.09",
        hibernation: true,
        volume_gib: 50,
        apps: &["jupyterlab"],
    },
    DemoProduct {
        service_catalog_name: "Memory-heavy analysis",
        service_catalog_description: "256 GiB of memory for large in-memory data frames and genomics tools. Too much memory to hibernate.",
        id: "memory-r5-8xlarge",
        instance_type: "r5.8xlarge",
        hourly: "2.20",
        hibernation: false,
        volume_gib: 200,
        apps: &["jupyterlab", "rstudio"],
    },
];

/// A Service Catalog product the seed creates and leaves unpublished, for an admin to
/// publish from the portal.
pub const UNPUBLISHED: (&str, &str) =
    ("GPU-less notebook", "A small CPU machine for teaching sessions: JupyterLab only, nothing preloaded.");

/// Creates (or finds, by name) each demo product in Service Catalog, and [`UNPUBLISHED`];
/// the requests that publish the demo ones.
async fn service_catalog(sc: &aws_sdk_servicecatalog::Client) -> Result<Vec<PublishProduct>, SeedError> {
    let mut out = Vec::new();
    for demo in &DEMO_CATALOG {
        let id = service_catalog_product(sc, demo.service_catalog_name, demo.service_catalog_description).await?;
        out.push(demo.publish(id));
    }
    service_catalog_product(sc, UNPUBLISHED.0, UNPUBLISHED.1).await?;
    Ok(out)
}

/// The id of the Service Catalog product named `name`, created when there is none.
pub async fn service_catalog_product(
    sc: &aws_sdk_servicecatalog::Client,
    name: &str,
    description: &str,
) -> Result<String, SeedError> {
    if let Ok(found) = sc.describe_product().name(name).send().await
        && let Some(id) = found.product_view_summary().and_then(|p| p.product_id())
    {
        return Ok(id.to_owned());
    }
    sc.create_product()
        .name(name)
        .owner("Atelier platform team")
        .description(description)
        .product_type(aws_sdk_servicecatalog::types::ProductType::CloudFormationTemplate)
        // The name as the token: concurrent seeds make one product.
        .idempotency_token(name.replace(|c: char| !c.is_ascii_alphanumeric(), "-"))
        .send()
        .await
        .map_err(aws("CreateProduct"))?
        .product_view_detail()
        .and_then(|d| d.product_view_summary())
        .and_then(|p| p.product_id())
        .map(str::to_owned)
        .ok_or(SeedError::Aws { operation: "CreateProduct", message: "no product id returned".into() })
}

impl DemoProduct {
    /// The admin's publish request for it, once Service Catalog has it as `service_catalog_id`.
    pub fn publish(&self, service_catalog_id: String) -> PublishProduct {
        PublishProduct {
            id: self.id.into(),
            service_catalog_product_id: service_catalog_id,
            provisioning_artifact_id: None,
            launch_path_id: None,
            instance_type: self.instance_type.into(),
            volume_gib: self.volume_gib,
            hibernation: self.hibernation,
            visible_to: vec!["scientists".into()],
            apps: self.apps.iter().map(|a| (*a).to_owned()).collect(),
            price: FirstPrice {
                compute_per_hour: self.hourly.parse().expect("literal prices are decimals"),
                storage_per_gb_month: GP3_PER_GB_MONTH.parse().expect("literal prices are decimals"),
                currency: "EUR".into(),
                effective_from: Some(jiff::Timestamp::UNIX_EPOCH),
            },
        }
    }
}

fn code<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    err: &aws_sdk_dynamodb::error::SdkError<E, R>,
) -> Option<&str> {
    match err {
        aws_sdk_dynamodb::error::SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}

/// Verifies `sender` as an SES e-mail identity (moto verifies at once; SES refuses to send
/// from an unverified one, as AWS does).
async fn verify_sender(ses: &aws_sdk_sesv2::Client, sender: &str) -> Result<(), SeedError> {
    match ses.create_email_identity().email_identity(sender).send().await {
        Ok(_) => Ok(()),
        Err(e) if code(&e) == Some("AlreadyExistsException") => Ok(()),
        Err(e) => Err(aws("CreateEmailIdentity")(e)),
    }
}

/// The exports bucket in the local S3 (moto addresses buckets by path), unless it exists.
async fn create_exports_bucket(config: &aws_config::SdkConfig, bucket: &str) -> Result<(), SeedError> {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build());
    let location =
        CreateBucketConfiguration::builder().location_constraint(BucketLocationConstraint::from(REGION)).build();
    match s3.create_bucket().bucket(bucket).create_bucket_configuration(location).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_bucket_already_owned_by_you()) => Ok(()),
        Err(e) => Err(aws("CreateBucket")(e)),
    }
}
