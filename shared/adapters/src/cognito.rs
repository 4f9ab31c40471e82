//! Cognito: the user directory, for what an access token does not carry (e-mail, cost centre).

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use atelier_domain::{
    costs::KnownUsers,
    kernel::{Profile, UpstreamError, UserDirectory},
};
use aws_sdk_cognitoidentityprovider::Client;

use crate::upstream;

/// The custom attribute holding a user's cost centre.
pub const COST_CENTRE_ATTRIBUTE: &str = "custom:cost_centre";

/// How long a profile is reused before asking Cognito again (cost centres change rarely;
/// a warm Lambda should not call AdminGetUser on every request).
const CACHE_TTL: Duration = Duration::from_secs(300);

/// The Cognito user pool as a [`UserDirectory`].
pub struct CognitoDirectory {
    client: Client,
    user_pool_id: String,
    cache: Mutex<HashMap<String, (Instant, Profile)>>,
}

impl CognitoDirectory {
    /// The pool `user_pool_id`, through `client`.
    pub fn new(client: Client, user_pool_id: impl Into<String>) -> Self {
        Self { client, user_pool_id: user_pool_id.into(), cache: Mutex::new(HashMap::new()) }
    }

    /// The same, through a client built from `config`.
    pub fn from_config(config: &aws_types::SdkConfig, user_pool_id: impl Into<String>) -> Self {
        Self::new(Client::new(config), user_pool_id)
    }
}

#[async_trait]
impl UserDirectory for CognitoDirectory {
    async fn profile(&self, username: &str) -> Result<Profile, UpstreamError> {
        if let Some((at, profile)) = self.cache.lock().expect("cache lock").get(username)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(profile.clone());
        }
        let output = self
            .client
            .admin_get_user()
            .user_pool_id(&self.user_pool_id)
            .username(username)
            .send()
            .await
            .map_err(|e| upstream("cognito-idp", "AdminGetUser", e))?;
        let attribute = |name: &str| {
            output.user_attributes().iter().find(|a| a.name() == name).and_then(|a| a.value()).map(str::to_owned)
        };
        let profile =
            Profile { email: attribute("email"), cost_centre: attribute(COST_CENTRE_ATTRIBUTE), sub: attribute("sub") };
        let mut cache = self.cache.lock().expect("cache lock");
        if cache.len() > 10_000 {
            cache.clear();
        }
        cache.insert(username.to_owned(), (Instant::now(), profile.clone()));
        Ok(profile)
    }
}

#[async_trait]
impl KnownUsers for CognitoDirectory {
    async fn exists(&self, username: &str) -> Result<bool, UpstreamError> {
        match self.client.admin_get_user().user_pool_id(&self.user_pool_id).username(username).send().await {
            Ok(_) => Ok(true),
            Err(e) if crate::error_code(&e) == Some("UserNotFoundException") => Ok(false),
            Err(e) => Err(upstream("cognito-idp", "AdminGetUser", e)),
        }
    }
}

#[async_trait]
impl atelier_domain::datasets::GroupDirectory for CognitoDirectory {
    /// Never cached: revocation must see a removal from a group on the next pass.
    async fn groups(&self, username: &str) -> Result<Vec<String>, UpstreamError> {
        let mut groups = Vec::new();
        let mut token = None;
        loop {
            let output = match self
                .client
                .admin_list_groups_for_user()
                .user_pool_id(&self.user_pool_id)
                .username(username)
                .limit(60)
                .set_next_token(token)
                .send()
                .await
            {
                Ok(output) => output,
                // A user removed from the pool reads nothing.
                Err(e) if crate::error_code(&e) == Some("UserNotFoundException") => return Ok(Vec::new()),
                Err(e) => return Err(upstream("cognito-idp", "AdminListGroupsForUser", e)),
            };
            groups.extend(output.groups().iter().filter_map(|g| g.group_name()).map(str::to_owned));
            match output.next_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(groups),
            }
        }
    }
}

#[async_trait]
impl atelier_domain::apps::Standings for CognitoDirectory {
    /// Never cached here (the gateway bounds how often it asks): a disabled, deleted or
    /// recreated user, or one removed from `admins`, stands as they are now.
    async fn standing(&self, username: &str) -> Result<atelier_domain::apps::Standing, UpstreamError> {
        let user = match self.client.admin_get_user().user_pool_id(&self.user_pool_id).username(username).send().await {
            Ok(user) => user,
            Err(e) if crate::error_code(&e) == Some("UserNotFoundException") => {
                return Ok(atelier_domain::apps::Standing { active: false, sub: None, groups: Vec::new() });
            }
            Err(e) => return Err(upstream("cognito-idp", "AdminGetUser", e)),
        };
        let sub = user.user_attributes().iter().find(|a| a.name() == "sub").and_then(|a| a.value()).map(str::to_owned);
        let groups = atelier_domain::datasets::GroupDirectory::groups(self, username).await?;
        Ok(atelier_domain::apps::Standing { active: user.enabled(), sub, groups })
    }
}

/// The group whose members are told of every budget crossing.
pub const ADMINS_GROUP: &str = "admins";

#[async_trait]
impl atelier_domain::notifications::Recipients for CognitoDirectory {
    /// `ListUsersInGroup` on `admins`, every page; never cached (someone removed from the
    /// group stops being told at once).
    async fn admins(&self) -> Result<Vec<atelier_domain::notifications::Recipient>, UpstreamError> {
        let mut admins = Vec::new();
        let mut token = None;
        loop {
            let output = self
                .client
                .list_users_in_group()
                .user_pool_id(&self.user_pool_id)
                .group_name(ADMINS_GROUP)
                .limit(60)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| upstream("cognito-idp", "ListUsersInGroup", e))?;
            admins.extend(
                output
                    .users()
                    .iter()
                    .filter(|u| u.enabled())
                    .filter_map(|u| u.username())
                    .map(|username| atelier_domain::notifications::Recipient { username: username.to_owned() }),
            );
            match output.next_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(admins),
            }
        }
    }
}
