//! Seeds a local AWS server with everything Atelier needs: the table, a Cognito user pool
//! with its app client, groups and demo users, and the product catalog. Idempotent: what
//! exists already is reused.

use atelier_adapters::{cognito::COST_CENTRE_ATTRIBUTE, dynamodb::Table};
use atelier_domain::{Money, Product, ProductId, catalog::AppName, kernel::StoreError};
use aws_sdk_cognitoidentityprovider::{
    Client as Cognito,
    types::{AttributeDataType, AttributeType, ExplicitAuthFlowsType, MessageActionType, SchemaAttributeType},
};
use aws_sdk_dynamodb::config::Credentials;
use rust_decimal::Decimal;

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
    /// The one role group the user is in (one of [`GROUPS`]); data groups are in
    /// [`DATA_GROUPS`].
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

/// The Cognito groups that grant Atelier roles.
pub const GROUPS: [&str; 3] = ["scientists", "admins", "finance"];

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
    pub products: Vec<Product>,
    /// The demo users' password.
    pub password: String,
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
}

fn aws<E: std::error::Error>(operation: &'static str) -> impl FnOnce(E) -> SeedError {
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
        let table = Table::new(aws_sdk_dynamodb::Client::new(config), &self.table);
        if !table.exists().await? {
            table.create().await?;
        }
        let image_id = image_id(&aws_sdk_ec2::Client::new(config)).await?;
        let products = catalog(&image_id);
        for product in &products {
            table.put_product(product).await?;
        }
        let cognito = Cognito::new(config);
        let user_pool_id = self.user_pool(&cognito).await?;
        let client_id = client(&cognito, &user_pool_id).await?;
        for group in GROUPS.into_iter().chain(DATA_GROUPS.iter().map(|(g, _)| *g)) {
            match cognito.create_group().user_pool_id(&user_pool_id).group_name(group).send().await {
                Ok(_) => {}
                Err(e) if code(&e) == Some("GroupExistsException") => {}
                Err(e) => return Err(aws("CreateGroup")(e)),
            }
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
        Ok(Seeded { table: self.table.clone(), user_pool_id, client_id, products, password: self.password.clone() })
    }

    async fn user_pool(&self, cognito: &Cognito) -> Result<String, SeedError> {
        let pools = cognito.list_user_pools().max_results(60).send().await.map_err(aws("ListUserPools"))?;
        if let Some(id) =
            pools.user_pools().iter().find(|p| p.name() == Some(&self.user_pool_name)).and_then(|p| p.id())
        {
            return Ok(id.to_owned());
        }
        let created = cognito
            .create_user_pool()
            .pool_name(&self.user_pool_name)
            .schema(
                SchemaAttributeType::builder()
                    .name(COST_CENTRE_ATTRIBUTE.trim_start_matches("custom:"))
                    .attribute_data_type(AttributeDataType::String)
                    .mutable(true)
                    .build(),
            )
            .send()
            .await
            .map_err(aws("CreateUserPool"))?;
        created
            .user_pool()
            .and_then(|p| p.id())
            .map(str::to_owned)
            .ok_or(SeedError::Aws { operation: "CreateUserPool", message: "no pool id returned".into() })
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

async fn client(cognito: &Cognito, pool: &str) -> Result<String, SeedError> {
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
    let created = cognito
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name("portal")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .map_err(aws("CreateUserPoolClient"))?;
    created
        .user_pool_client()
        .and_then(|c| c.client_id())
        .map(str::to_owned)
        .ok_or(SeedError::Aws { operation: "CreateUserPoolClient", message: "no client id returned".into() })
}

/// An image the local EC2 knows (moto ships a set of public AMIs).
async fn image_id(ec2: &aws_sdk_ec2::Client) -> Result<String, SeedError> {
    let images = ec2.describe_images().owners("amazon").send().await.map_err(aws("DescribeImages"))?;
    let mut ids: Vec<&str> = images.images().iter().filter_map(|i| i.image_id()).collect();
    ids.sort_unstable();
    ids.first()
        .map(|s| (*s).to_owned())
        .ok_or(SeedError::Aws { operation: "DescribeImages", message: "the local EC2 lists no images".into() })
}

fn eur(amount: &str) -> Money {
    Money { amount: amount.parse::<Decimal>().expect("literal prices are decimals"), currency: "EUR".into() }
}

/// EBS gp3 storage in eu-west-3 (Paris), EUR per GB-month: the storage price of every
/// seeded product (their root volumes are gp3).
pub const GP3_PER_GB_MONTH: &str = "0.0928";

/// The demo catalog.
pub fn catalog(image_id: &str) -> Vec<Product> {
    let product = |id: &str,
                   name: &str,
                   description: &str,
                   instance_type: &str,
                   vcpus,
                   memory_gib,
                   price: &str,
                   hibernation,
                   volume_gib,
                   apps: &[&str]| Product {
        id: ProductId::parse(id).expect("literal ids are valid"),
        name: name.into(),
        description: description.into(),
        instance_type: instance_type.into(),
        vcpus,
        memory_gib,
        hourly_price: eur(price),
        storage_price: Some(eur(GP3_PER_GB_MONTH)),
        prices: Vec::new(),
        hibernation,
        image_id: image_id.into(),
        volume_gib,
        service_catalog: None,
        apps: apps.iter().map(|app| AppName::parse("apps", app).expect("literal apps are valid")).collect(),
    };
    vec![
        product(
            "python-r-standard",
            "Python & R workstation",
            "JupyterLab, RStudio Server, Python 3 and R with the data lake mounted read-only under /data.",
            "m5.2xlarge",
            8,
            32,
            "0.35",
            true,
            100,
            &["jupyterlab", "rstudio"],
        ),
        product(
            "small-t3-large",
            "Small notebook",
            "A light machine for notebooks, scripts and exploring small extracts.",
            "t3.large",
            2,
            8,
            "0.09",
            true,
            50,
            &["jupyterlab"],
        ),
        product(
            "memory-r5-8xlarge",
            "Memory-heavy analysis",
            "256 GiB of memory for large in-memory data frames and genomics tools. Too much memory to hibernate.",
            "r5.8xlarge",
            32,
            256,
            "2.20",
            false,
            200,
            &["jupyterlab", "rstudio"],
        ),
    ]
}

fn code<E: aws_sdk_dynamodb::error::ProvideErrorMetadata, R>(
    err: &aws_sdk_dynamodb::error::SdkError<E, R>,
) -> Option<&str> {
    match err {
        aws_sdk_dynamodb::error::SdkError::ServiceError(e) => e.err().code(),
        _ => None,
    }
}
