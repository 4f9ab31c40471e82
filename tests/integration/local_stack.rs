//! The local stack is the deployed definition: the table and the role groups the seed created
//! on the local server, described back from it, equal `infra/template.yaml`'s (read by
//! `atelier_devstack::template`, the same reading the seed builds them from). A property the
//! seed dropped, or one moto did not take, fails here.

use std::collections::BTreeSet;

use atelier_devstack::template::{LOCAL_ONLY_FLOW, Template, TimeToLive};
use atelier_tests::spawn_app;

/// An index as (name, key schema, projection type).
type IndexShape = (String, Vec<(String, String)>, String);

fn pairs(schema: &[aws_sdk_dynamodb::types::KeySchemaElement]) -> Vec<(String, String)> {
    schema.iter().map(|k| (k.attribute_name().to_owned(), k.key_type().as_str().to_owned())).collect()
}

fn defined(keys: &[atelier_devstack::template::Key]) -> Vec<(String, String)> {
    keys.iter().map(|k| (k.attribute_name.clone(), k.key_type.clone())).collect()
}

#[tokio::test]
async fn the_local_table_is_the_template_s_table() {
    let app = spawn_app().await;
    let template = Template::deployed().unwrap().table().unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&app.sdk);
    let described = dynamodb.describe_table().table_name(&app.seeded.table).send().await.unwrap();
    let table = described.table().unwrap();

    assert_eq!(pairs(table.key_schema()), defined(&template.key_schema));
    let attributes: BTreeSet<(String, String)> = table
        .attribute_definitions()
        .iter()
        .map(|a| (a.attribute_name().to_owned(), a.attribute_type().as_str().to_owned()))
        .collect();
    let expected: BTreeSet<(String, String)> =
        template.attribute_definitions.iter().map(|a| (a.attribute_name.clone(), a.attribute_type.clone())).collect();
    assert_eq!(attributes, expected);
    assert_eq!(
        table.billing_mode_summary().and_then(|b| b.billing_mode()).map(|m| m.as_str().to_owned()),
        Some(template.billing_mode.clone())
    );

    let mut indexes: Vec<IndexShape> = table
        .global_secondary_indexes()
        .iter()
        .map(|i| {
            let projection = i.projection().and_then(|p| p.projection_type()).map(|p| p.as_str().to_owned());
            (i.index_name().unwrap_or_default().to_owned(), pairs(i.key_schema()), projection.unwrap_or_default())
        })
        .collect();
    indexes.sort();
    let mut expected: Vec<_> = template
        .global_secondary_indexes
        .iter()
        .map(|i| (i.index_name.clone(), defined(&i.key_schema), i.projection.projection_type.clone()))
        .collect();
    expected.sort();
    assert_eq!(indexes, expected);

    let ttl = dynamodb.describe_time_to_live().table_name(&app.seeded.table).send().await.unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    let on = ttl.time_to_live_status().map(|s| s.as_str()) == Some("ENABLED");
    assert_eq!(
        ttl.attribute_name().filter(|_| on).map(|name| TimeToLive { attribute_name: name.to_owned(), enabled: true }),
        template.time_to_live_specification
    );
}

#[tokio::test]
async fn the_local_role_groups_are_the_template_s_groups() {
    let app = spawn_app().await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&app.sdk);
    let listed = cognito.list_groups().user_pool_id(&app.seeded.user_pool_id).send().await.unwrap();
    let local: BTreeSet<(String, Option<String>)> = listed
        .groups()
        .iter()
        .map(|g| (g.group_name().unwrap_or_default().to_owned(), g.description().map(str::to_owned)))
        .collect();
    for group in Template::deployed().unwrap().groups().unwrap() {
        assert!(
            local.contains(&(group.group_name.clone(), group.description.clone())),
            "{} ({:?}) is not in the local pool as the template defines it: {local:?}",
            group.group_name,
            group.description
        );
    }
}

#[tokio::test]
async fn the_local_pool_is_the_template_s_pool() {
    let app = spawn_app().await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&app.sdk);
    let described = cognito.describe_user_pool().user_pool_id(&app.seeded.user_pool_id).send().await.unwrap();
    let pool = described.user_pool().unwrap();
    let template = Template::deployed().unwrap().user_pool(pool.name().unwrap()).unwrap();

    let policy = pool.policies().and_then(|p| p.password_policy()).unwrap();
    let expected = template.policies.unwrap().password_policy;
    assert_eq!(
        (
            policy.minimum_length(),
            policy.require_lowercase(),
            policy.require_uppercase(),
            policy.require_numbers(),
            policy.require_symbols(),
            policy.temporary_password_validity_days(),
        ),
        (
            Some(expected.minimum_length),
            expected.require_lowercase,
            expected.require_uppercase,
            expected.require_numbers,
            expected.require_symbols,
            expected.temporary_password_validity_days.unwrap_or(7),
        )
    );
    assert_eq!(pool.mfa_configuration().map(|m| m.as_str()), template.mfa_configuration.as_deref());
    let mfa = cognito.get_user_pool_mfa_config().user_pool_id(&app.seeded.user_pool_id).send().await.unwrap();
    assert_eq!(
        mfa.software_token_mfa_configuration().is_some_and(|c| c.enabled()),
        template.enabled_mfas.iter().any(|m| m == "SOFTWARE_TOKEN_MFA")
    );
    assert_eq!(
        pool.admin_create_user_config().map(|c| c.allow_admin_create_user_only()),
        template.admin_create_user_config.map(|c| c.allow_admin_create_user_only)
    );
    assert_eq!(
        pool.username_configuration().map(|c| c.case_sensitive()),
        template.username_configuration.map(|c| c.case_sensitive)
    );
    let verified: Vec<_> = pool.auto_verified_attributes().iter().map(|a| a.as_str().to_owned()).collect();
    assert_eq!(verified, template.auto_verified_attributes);

    // Every attribute the template declares, with its type, requiredness, mutability and bounds
    // (custom ones are listed by Cognito as `custom:<name>`).
    for attribute in &template.schema {
        let custom = format!("custom:{}", attribute.name);
        let local = pool
            .schema_attributes()
            .iter()
            .find(|a| a.name() == Some(attribute.name.as_str()) || a.name() == Some(custom.as_str()))
            .unwrap_or_else(|| panic!("{} is not in the local pool's schema", attribute.name));
        assert_eq!(local.attribute_data_type().map(|t| t.as_str()), Some(attribute.attribute_data_type.as_str()));
        assert_eq!(
            (local.required(), local.mutable()),
            (Some(attribute.required), Some(attribute.mutable)),
            "{}",
            attribute.name
        );
        if let Some(bounds) = &attribute.string_attribute_constraints {
            let local = local.string_attribute_constraints().unwrap();
            assert_eq!(
                (local.min_length(), local.max_length()),
                (bounds.min_length.as_deref(), bounds.max_length.as_deref()),
                "{}",
                attribute.name
            );
        }
    }
}

#[tokio::test]
async fn the_local_portal_client_is_the_template_s_but_for_the_password_flow() {
    let app = spawn_app().await;
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(&app.sdk);
    let described = cognito
        .describe_user_pool_client()
        .user_pool_id(&app.seeded.user_pool_id)
        .client_id(&app.seeded.client_id)
        .send()
        .await
        .unwrap();
    let client = described.user_pool_client().unwrap();
    let template = Template::deployed().unwrap().app_client("portal").unwrap();

    let flows: BTreeSet<&str> = client.explicit_auth_flows().iter().map(|f| f.as_str()).collect();
    let deployed: BTreeSet<&str> = template.explicit_auth_flows.iter().map(String::as_str).collect();
    // Exactly one flow more than AWS allows, the one the portal still uses (ADR 0004).
    assert_eq!(flows.difference(&deployed).copied().collect::<Vec<_>>(), [LOCAL_ONLY_FLOW]);
    assert!(deployed.is_subset(&flows));

    assert_eq!(
        (client.access_token_validity(), client.id_token_validity(), client.refresh_token_validity()),
        (template.access_token_validity, template.id_token_validity, template.refresh_token_validity.unwrap_or(30))
    );
    let units = client.token_validity_units().unwrap();
    let expected = template.token_validity_units.unwrap();
    assert_eq!(
        (
            units.access_token().map(|u| u.as_str().to_owned()),
            units.id_token().map(|u| u.as_str().to_owned()),
            units.refresh_token().map(|u| u.as_str().to_owned())
        ),
        (expected.access_token, expected.id_token, expected.refresh_token)
    );
    assert_eq!(
        client.prevent_user_existence_errors().map(|p| p.as_str().to_owned()),
        template.prevent_user_existence_errors
    );
    assert_eq!(client.enable_token_revocation(), template.enable_token_revocation);
}
