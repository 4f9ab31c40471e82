//! Contract tests: realistic Service Catalog responses replayed with aws-smithy-mocks.

use super::*;
use atelier_domain::{
    Product, State,
    catalog::ServiceCatalogRef,
    testing::{ProductBuilder, WorkspaceBuilder},
};
use aws_sdk_servicecatalog::{
    config::retry::RetryConfig,
    error::ErrorMetadata,
    operation::{
        describe_record::DescribeRecordError,
        provision_product::ProvisionProductOutput,
        terminate_provisioned_product::{TerminateProvisionedProductError, TerminateProvisionedProductOutput},
    },
    types::{RecordDetail, RecordOutput, error::ResourceNotFoundException},
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use jiff::Timestamp;

const RECORD_ID: &str = "rec-3k2zq4xbnmw6e";
const PP_ID: &str = "pp-7ghd2ux5qkr4m";
const INSTANCE_ID: &str = "i-0abc123def4567890";

/// A mocked client, retries off so that a throttling answer comes back at once.
fn client(rules: &[&Rule]) -> Client {
    mock_client!(aws_sdk_servicecatalog, RuleMode::Sequential, rules, |b| b.retry_config(RetryConfig::disabled()))
}

fn provisioner(rules: &[&Rule]) -> ServiceCatalogProvisioner {
    ServiceCatalogProvisioner::new(client(rules))
}

fn product() -> Product {
    ProductBuilder::new("python-r-standard")
        .name("Python & R, standard")
        .description("JupyterLab and RStudio on 8 vCPUs.")
        .hourly("0.46")
        .no_storage_price()
        .service_catalog(Some(ServiceCatalogRef {
            product_id: "prod-abcdefghijklm".to_owned(),
            provisioning_artifact_id: Some("pa-abcdefghijklm".to_owned()),
            path_id: Some("lpv2-abcdefghijklm".to_owned()),
        }))
        .build()
}

fn workspace(cost_centre: Option<&str>) -> Workspace {
    WorkspaceBuilder::new()
        .name("Étude oncologie 2026")
        .owner("marie.curie")
        .owner_sub("8f4e2c1a-6b3d-4e5f-9a7b-1c2d3e4f5a6b")
        .cost_centre(cost_centre)
        .product("python-r-standard", "m5.2xlarge")
        .state(State::Provisioning)
        .provision_token("3f9a0c4e1b7d2a6f8e5c0b9d4a1f7e2c6b8d0a3e")
        .at(Timestamp::now())
        .build()
}

fn running_handle() -> Provisioned {
    Provisioned {
        provisioned_product_id: Some(PP_ID.to_owned()),
        record_id: Some(RECORD_ID.to_owned()),
        instance_id: Some(INSTANCE_ID.to_owned()),
    }
}

fn record(status: RecordStatus) -> RecordDetail {
    RecordDetail::builder()
        .record_id(RECORD_ID)
        .provisioned_product_id(PP_ID)
        .product_id("prod-abcdefghijklm")
        .provisioning_artifact_id("pa-abcdefghijklm")
        .record_type("PROVISION_PRODUCT")
        .provisioned_product_type("CFN_STACK")
        .status(status)
        .build()
}

fn output(key: &str, value: &str) -> RecordOutput {
    RecordOutput::builder().output_key(key).output_value(value).description("created by the template").build()
}

fn tag_value<'a>(tags: &'a [Tag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key() == key).map(Tag::value)
}

fn parameter_value<'a>(parameters: &'a [ProvisioningParameter], key: &str) -> Option<&'a str> {
    parameters.iter().find(|p| p.key() == Some(key)).and_then(ProvisioningParameter::value)
}

#[tokio::test]
async fn provision_sends_the_product_token_name_tags_and_parameters() {
    let ws = workspace(Some("CC-4410"));
    let expected = ws.clone();
    let rule = mock!(Client::provision_product)
        .match_requests(move |req| {
            req.product_id() == Some("prod-abcdefghijklm")
                && req.provisioning_artifact_id() == Some("pa-abcdefghijklm")
                && req.path_id() == Some("lpv2-abcdefghijklm")
                && req.provision_token() == Some(expected.provision_token.as_str())
                && req.provisioned_product_name() == Some(expected.id.as_str())
                && tag_value(req.tags(), "atelier:owner") == Some("marie.curie")
                && tag_value(req.tags(), "atelier:workspace") == Some(expected.id.as_str())
                && tag_value(req.tags(), "atelier:cost-centre") == Some("CC-4410")
                && req.tags().len() == 3
                && parameter_value(req.provisioning_parameters(), "InstanceType") == Some("m5.2xlarge")
                && parameter_value(req.provisioning_parameters(), "WorkspaceName") == Some("Étude oncologie 2026")
                && parameter_value(req.provisioning_parameters(), "WorkspaceId") == Some(expected.id.as_str())
        })
        .then_output(|| ProvisionProductOutput::builder().record_detail(record(RecordStatus::Created)).build());
    let sc = provisioner(&[&rule]);

    let provisioned =
        sc.provision(ProvisionRequest { workspace: &ws, product: &product() }).await.expect("provisioned");

    assert_eq!(
        provisioned,
        Provisioned {
            provisioned_product_id: Some(PP_ID.to_owned()),
            record_id: Some(RECORD_ID.to_owned()),
            instance_id: None
        }
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn provision_tags_a_missing_cost_centre_as_unassigned() {
    let rule = mock!(Client::provision_product)
        .match_requests(|req| tag_value(req.tags(), "atelier:cost-centre") == Some("unassigned"))
        .then_output(|| ProvisionProductOutput::builder().record_detail(record(RecordStatus::Created)).build());
    let sc = provisioner(&[&rule]);

    sc.provision(ProvisionRequest { workspace: &workspace(None), product: &product() }).await.expect("provisioned");
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn provision_refuses_a_product_without_service_catalog_reference() {
    let rule = mock!(Client::provision_product).then_output(|| ProvisionProductOutput::builder().build());
    let sc = provisioner(&[&rule]);
    let product = ProductBuilder::from(product()).service_catalog(None).build();

    let err =
        sc.provision(ProvisionRequest { workspace: &workspace(None), product: &product }).await.expect_err("refused");

    assert!(!err.retryable);
    assert!(err.source.to_string().contains("no Service Catalog reference"), "{}", err.source);
    assert_eq!(rule.num_calls(), 0);
}

#[tokio::test]
async fn provisioning_progress_follows_the_record_until_the_instance_output() {
    let rule = mock!(Client::describe_record)
        .match_requests(|req| req.id() == Some(RECORD_ID))
        .sequence()
        .output(|| DescribeRecordOutput::builder().record_detail(record(RecordStatus::InProgress)).build())
        .output(|| {
            DescribeRecordOutput::builder()
                .record_detail(record(RecordStatus::Succeeded))
                .record_outputs(output(
                    "CloudformationStackARN",
                    "arn:aws:cloudformation:eu-west-1:123456789012:stack/SC-123456789012-pp-7ghd2ux5qkr4m/0f1e2d3c",
                ))
                .record_outputs(output("InstanceId", INSTANCE_ID))
                .build()
        })
        .build();
    let sc = provisioner(&[&rule]);
    let handle = Provisioned {
        provisioned_product_id: Some(PP_ID.to_owned()),
        record_id: Some(RECORD_ID.to_owned()),
        instance_id: None,
    };

    assert_eq!(sc.provisioning_progress(&handle).await.expect("first poll"), Progress::InProgress);
    assert_eq!(
        sc.provisioning_progress(&handle).await.expect("second poll"),
        Progress::Succeeded { instance_id: Some(INSTANCE_ID.to_owned()) }
    );
}

#[tokio::test]
async fn provisioning_progress_reads_outputs_on_later_pages() {
    let rule = mock!(Client::describe_record)
        .match_requests(|req| req.id() == Some(RECORD_ID))
        .sequence()
        .output(|| {
            DescribeRecordOutput::builder()
                .record_detail(record(RecordStatus::Succeeded))
                .record_outputs(output("JupyterUrl", "https://10.0.3.17:8888"))
                .next_page_token("page-2")
                .build()
        })
        .build();
    let second_page = mock!(Client::describe_record)
        .match_requests(|req| req.id() == Some(RECORD_ID) && req.page_token() == Some("page-2"))
        .then_output(|| {
            DescribeRecordOutput::builder()
                .record_detail(record(RecordStatus::Succeeded))
                .record_outputs(output("InstanceId", INSTANCE_ID))
                .build()
        });
    let sc = provisioner(&[&rule, &second_page]);

    assert_eq!(
        sc.provisioning_progress(&running_handle()).await.expect("poll"),
        Progress::Succeeded { instance_id: Some(INSTANCE_ID.to_owned()) }
    );
    assert_eq!(second_page.num_calls(), 1);
}

#[tokio::test]
async fn in_progress_in_error_and_created_are_still_in_progress() {
    let rule = mock!(Client::describe_record)
        .sequence()
        .output(|| DescribeRecordOutput::builder().record_detail(record(RecordStatus::Created)).build())
        .output(|| DescribeRecordOutput::builder().record_detail(record(RecordStatus::InProgressInError)).build())
        .build();
    let sc = provisioner(&[&rule]);

    assert_eq!(sc.provisioning_progress(&running_handle()).await.expect("poll"), Progress::InProgress);
    assert_eq!(sc.provisioning_progress(&running_handle()).await.expect("poll"), Progress::InProgress);
}

#[tokio::test]
async fn a_failed_record_reports_its_errors() {
    let rule = mock!(Client::describe_record).then_output(|| {
        DescribeRecordOutput::builder()
            .record_detail(
                RecordDetail::builder()
                    .record_id(RECORD_ID)
                    .provisioned_product_id(PP_ID)
                    .record_type("PROVISION_PRODUCT")
                    .status(RecordStatus::Failed)
                    .record_errors(
                        RecordError::builder()
                            .code("InvalidParameter")
                            .description("Parameter InstanceType failed to satisfy constraint: must be a valid EC2 instance type.")
                            .build(),
                    )
                    .build(),
            )
            .build()
    });
    let sc = provisioner(&[&rule]);

    let Progress::Failed { reason } = sc.provisioning_progress(&running_handle()).await.expect("poll") else {
        panic!("expected Failed");
    };
    assert!(reason.contains(RECORD_ID), "{reason}");
    assert!(reason.contains("InvalidParameter: Parameter InstanceType failed to satisfy constraint"), "{reason}");
}

#[tokio::test]
async fn success_without_the_instance_output_is_a_failure_naming_it() {
    let rule = mock!(Client::describe_record).then_output(|| {
        DescribeRecordOutput::builder()
            .record_detail(record(RecordStatus::Succeeded))
            .record_outputs(output(
                "CloudformationStackARN",
                "arn:aws:cloudformation:eu-west-1:123456789012:stack/SC-x/y",
            ))
            .build()
    });
    let sc = provisioner(&[&rule]);

    let Progress::Failed { reason } = sc.provisioning_progress(&running_handle()).await.expect("poll") else {
        panic!("expected Failed");
    };
    assert!(reason.contains("InstanceId"), "{reason}");
}

#[tokio::test]
async fn a_custom_output_key_is_read() {
    let rule = mock!(Client::describe_record).then_output(|| {
        DescribeRecordOutput::builder()
            .record_detail(record(RecordStatus::Succeeded))
            .record_outputs(output("WorkspaceInstance", INSTANCE_ID))
            .build()
    });
    let sc = ServiceCatalogProvisioner::new(client(&[&rule])).with_output_key("WorkspaceInstance");

    assert_eq!(
        sc.provisioning_progress(&running_handle()).await.expect("poll"),
        Progress::Succeeded { instance_id: Some(INSTANCE_ID.to_owned()) }
    );
}

#[tokio::test]
async fn no_record_id_means_provisioning_failed() {
    let rule = mock!(Client::describe_record).then_output(|| DescribeRecordOutput::builder().build());
    let sc = provisioner(&[&rule]);

    let progress = sc.provisioning_progress(&Provisioned::default()).await.expect("no call");

    assert!(matches!(progress, Progress::Failed { ref reason } if reason.contains("no record id")), "{progress:?}");
    assert_eq!(rule.num_calls(), 0);
}

#[tokio::test]
async fn throttling_is_a_retryable_upstream_error() {
    let rule = mock!(Client::describe_record).then_error(|| {
        DescribeRecordError::generic(
            ErrorMetadata::builder().code("ThrottlingException").message("Rate exceeded").build(),
        )
    });
    let sc = provisioner(&[&rule]);

    let err = sc.provisioning_progress(&running_handle()).await.expect_err("throttled");

    assert!(err.retryable);
    assert_eq!((err.service, err.operation), ("servicecatalog", "DescribeRecord"));
    assert_eq!(rule.num_calls(), 1, "retries are off in the test client");
}

#[tokio::test]
async fn terminate_sends_the_product_id_and_a_valid_deterministic_token() {
    let mut ws = workspace(Some("CC-4410"));
    ws.provisioned = running_handle();
    let token = terminate_token(&ws.provision_token);
    let expected_token = token.clone();
    let rule = mock!(Client::terminate_provisioned_product)
        .match_requests(move |req| {
            req.provisioned_product_id() == Some(PP_ID) && req.terminate_token() == Some(expected_token.as_str())
        })
        .then_output(|| {
            TerminateProvisionedProductOutput::builder()
                .record_detail(
                    RecordDetail::builder()
                        .record_id("rec-9tq2w8zr5hnxa")
                        .provisioned_product_id(PP_ID)
                        .record_type("TERMINATE_PROVISIONED_PRODUCT")
                        .status(RecordStatus::Created)
                        .build(),
                )
                .build()
        });
    let sc = provisioner(&[&rule]);

    let handle = sc.terminate(&ws).await.expect("terminating");

    assert_eq!(handle, Provisioned { record_id: Some("rec-9tq2w8zr5hnxa".to_owned()), ..running_handle() });
    assert_eq!(rule.num_calls(), 1);
    assert_eq!(token, terminate_token(&ws.provision_token), "deterministic");
    assert_ne!(token, ws.provision_token);
    assert!((1..=128).contains(&token.len()));
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'), "{token}");
}

#[test]
fn terminate_tokens_stay_within_service_catalog_limits() {
    assert_eq!(terminate_token(""), "t");
    assert_eq!(terminate_token("a b/c"), "tabc");
    assert_eq!(terminate_token(&"x".repeat(200)).len(), TERMINATE_TOKEN_LEN);
}

#[tokio::test]
async fn terminating_a_product_that_is_already_gone_succeeds() {
    let mut ws = workspace(None);
    ws.provisioned = running_handle();
    let rule = mock!(Client::terminate_provisioned_product).then_error(|| {
        TerminateProvisionedProductError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .message("Provisioned product not found: pp-7ghd2ux5qkr4m")
                .meta(ErrorMetadata::builder().code("ResourceNotFoundException").build())
                .build(),
        )
    });
    let sc = provisioner(&[&rule]);

    let handle = sc.terminate(&ws).await.expect("already gone");

    assert_eq!(handle, Provisioned { record_id: None, provisioned_product_id: None, ..running_handle() });
    let rule = mock!(Client::describe_record).then_output(|| DescribeRecordOutput::builder().build());
    let done = provisioner(&[&rule]).termination_progress(&handle).await.expect("no call");
    assert_eq!(done, Progress::Succeeded { instance_id: None }, "a product already gone is terminated");
}

#[tokio::test]
async fn terminate_without_provisioned_product_calls_nothing() {
    let mut ws = workspace(None);
    ws.provisioned =
        Provisioned { provisioned_product_id: None, record_id: Some(RECORD_ID.to_owned()), instance_id: None };
    let rule = mock!(Client::terminate_provisioned_product)
        .then_output(|| TerminateProvisionedProductOutput::builder().build());
    let sc = provisioner(&[&rule]);

    let handle = sc.terminate(&ws).await.expect("nothing to do");

    assert_eq!(handle, ws.provisioned);
    assert_eq!(rule.num_calls(), 0);
}

#[tokio::test]
async fn termination_progress_reports_success_and_failure() {
    let rule = mock!(Client::describe_record)
        .match_requests(|req| req.id() == Some(RECORD_ID))
        .sequence()
        .output(|| DescribeRecordOutput::builder().record_detail(record(RecordStatus::InProgress)).build())
        .output(|| DescribeRecordOutput::builder().record_detail(record(RecordStatus::Succeeded)).build())
        .output(|| {
            DescribeRecordOutput::builder()
                .record_detail(
                    RecordDetail::builder()
                        .record_id(RECORD_ID)
                        .record_type("TERMINATE_PROVISIONED_PRODUCT")
                        .status(RecordStatus::Failed)
                        .record_errors(
                            RecordError::builder()
                                .code("DELETE_FAILED")
                                .description("The following resource(s) failed to delete: [WorkspaceVolume].")
                                .build(),
                        )
                        .build(),
                )
                .build()
        })
        .build();
    let sc = provisioner(&[&rule]);
    let handle = running_handle();

    assert_eq!(sc.termination_progress(&handle).await.expect("poll"), Progress::InProgress);
    assert_eq!(sc.termination_progress(&handle).await.expect("poll"), Progress::Succeeded { instance_id: None });
    let Progress::Failed { reason } = sc.termination_progress(&handle).await.expect("poll") else {
        panic!("expected Failed");
    };
    assert!(reason.contains("DELETE_FAILED: The following resource(s) failed to delete"), "{reason}");
}

#[tokio::test]
async fn termination_without_record_is_done() {
    let rule = mock!(Client::describe_record).then_output(|| DescribeRecordOutput::builder().build());
    let sc = provisioner(&[&rule]);

    let progress = sc.termination_progress(&Provisioned::default()).await.expect("no call");

    assert_eq!(progress, Progress::Succeeded { instance_id: None });
    assert_eq!(rule.num_calls(), 0);
}

#[tokio::test]
async fn a_termination_never_requested_is_not_started() {
    let rule = mock!(Client::describe_record).then_output(|| DescribeRecordOutput::builder().build());
    let sc = provisioner(&[&rule]);
    let handle = Provisioned { provisioned_product_id: Some("pp-abcdefghijklm".into()), ..Provisioned::default() };

    let progress = sc.termination_progress(&handle).await.expect("no call");

    assert_eq!(progress, Progress::NotStarted, "the provisioning record must never be read as the terminate record");
    assert_eq!(rule.num_calls(), 0);
}

#[tokio::test]
async fn a_name_with_an_apostrophe_and_accents_goes_only_into_the_workspace_name_parameter() {
    let ws = WorkspaceBuilder::from(workspace(Some("CC-4410"))).name("l'étude 2").build();
    let rule = mock!(Client::provision_product)
        .match_requests(|req| {
            parameter_value(req.provisioning_parameters(), "WorkspaceName") == Some("l'étude 2")
                // Service Catalog tag values refuse an apostrophe: the name is no tag.
                && req.tags().iter().all(|t| !t.value().contains('\''))
                && req.provisioned_product_name().is_some_and(|n| n.starts_with("ws-"))
        })
        .then_output(|| ProvisionProductOutput::builder().record_detail(record(RecordStatus::Created)).build());
    provisioner(&[&rule])
        .provision(ProvisionRequest { workspace: &ws, product: &product() })
        .await
        .expect("provisioned");
    assert_eq!(rule.num_calls(), 1);
}

mod publishing {
    //! What publishing reads: `DescribeProduct`, `DescribeProvisioningArtifact` and
    //! `ListLaunchPaths`, as the Service Catalog API reference shows their answers.

    use super::*;
    use atelier_domain::catalog::ServiceCatalogProducts;
    use aws_sdk_servicecatalog::{
        operation::{
            describe_product::{DescribeProductError, DescribeProductOutput},
            describe_provisioning_artifact::DescribeProvisioningArtifactOutput,
            list_launch_paths::ListLaunchPathsOutput,
        },
        primitives::DateTime,
        types::{
            LaunchPathSummary, ProductViewSummary, ProvisioningArtifact, ProvisioningArtifactDetail,
            ProvisioningArtifactGuidance,
        },
    };

    fn catalog(rules: &[&Rule]) -> ServiceCatalogCatalog {
        ServiceCatalogCatalog::new(client(rules))
    }

    #[tokio::test]
    async fn describe_product_gives_the_name_description_and_artifacts() {
        let rule = mock!(Client::describe_product)
            .match_requests(|r| r.id() == Some("prod-abcdefghijklm"))
            .then_output(|| {
                DescribeProductOutput::builder()
                    .product_view_summary(
                        ProductViewSummary::builder()
                            .id("prodview-abcdefghijklm")
                            .product_id("prod-abcdefghijklm")
                            .name("Atelier standard workstation")
                            .short_description("m5.2xlarge, Python, R")
                            .build(),
                    )
                    .provisioning_artifacts(
                        ProvisioningArtifact::builder()
                            .id("pa-old")
                            .name("v1")
                            .created_time(DateTime::from_secs(1_700_000_000))
                            .guidance(ProvisioningArtifactGuidance::Deprecated)
                            .build(),
                    )
                    .provisioning_artifacts(
                        ProvisioningArtifact::builder()
                            .id("pa-new")
                            .name("v2")
                            .created_time(DateTime::from_secs(1_760_000_000))
                            .guidance(ProvisioningArtifactGuidance::Default)
                            .build(),
                    )
                    .build()
            });
        let product = catalog(&[&rule]).product("prod-abcdefghijklm").await.unwrap().expect("known");
        assert_eq!(
            (product.id.as_str(), product.name.as_str()),
            ("prod-abcdefghijklm", "Atelier standard workstation")
        );
        assert_eq!(product.description, "m5.2xlarge, Python, R");
        let artifacts: Vec<(&str, bool)> = product.artifacts.iter().map(|a| (a.id.as_str(), a.recommended)).collect();
        assert_eq!(artifacts, [("pa-old", false), ("pa-new", true)]);
    }

    #[tokio::test]
    async fn an_unknown_product_is_none_and_throttling_an_error() {
        let missing = mock!(Client::describe_product).then_error(|| {
            DescribeProductError::ResourceNotFoundException(ResourceNotFoundException::builder().build())
        });
        assert_eq!(catalog(&[&missing]).product("prod-nope").await.unwrap(), None);
        let throttled = mock!(Client::describe_product)
            .then_error(|| DescribeProductError::generic(ErrorMetadata::builder().code("ThrottlingException").build()));
        assert!(catalog(&[&throttled]).product("prod-x").await.is_err());
    }

    #[tokio::test]
    async fn an_artifact_is_active_only_when_service_catalog_says_so() {
        let inactive = mock!(Client::describe_provisioning_artifact)
            .match_requests(|r| r.product_id() == Some("prod-a") && r.provisioning_artifact_id() == Some("pa-a"))
            .then_output(|| {
                DescribeProvisioningArtifactOutput::builder()
                    .provisioning_artifact_detail(
                        ProvisioningArtifactDetail::builder().id("pa-a").active(false).build(),
                    )
                    .build()
            });
        assert_eq!(catalog(&[&inactive]).artifact_active("prod-a", "pa-a").await.unwrap(), Some(false));
    }

    #[tokio::test]
    async fn launch_paths_are_read_to_the_last_page() {
        let first = mock!(Client::list_launch_paths).match_requests(|r| r.page_token().is_none()).then_output(|| {
            ListLaunchPathsOutput::builder()
                .launch_path_summaries(LaunchPathSummary::builder().id("lpv2-one").name("Atelier").build())
                .next_page_token("next")
                .build()
        });
        let second =
            mock!(Client::list_launch_paths).match_requests(|r| r.page_token() == Some("next")).then_output(|| {
                ListLaunchPathsOutput::builder()
                    .launch_path_summaries(LaunchPathSummary::builder().id("lpv2-two").name("Other").build())
                    .build()
            });
        let paths = catalog(&[&first, &second]).launch_paths("prod-a").await.unwrap();
        assert_eq!(paths, ["lpv2-one", "lpv2-two"]);
    }
}
