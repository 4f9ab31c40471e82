//! `POST /v1/costs/exports` against moto's S3: the export written to the exports bucket and
//! downloaded with the presigned link, with a plain HTTP GET (no token), is byte for byte
//! what `GET /v1/costs/export.csv` streams for the same month; in one `PutObject` when it
//! is smaller than a part, and in parts of 8 MiB (the last shorter) when it is not.

use atelier_domain::{
    State, WorkspaceId,
    costs::{Month, MonthIndex, WorkspaceCost},
};
use atelier_tests::{TestApp, spawn_app};
use http::StatusCode;
use serde_json::json;

/// alice's workspace of March 2026: an hour running, two stopped.
async fn alices_march(app: &TestApp) {
    let steps: Vec<(jiff::Timestamp, State)> = [
        ("2026-03-10T08:00:00Z", State::Provisioning),
        ("2026-03-10T09:00:00Z", State::Running),
        ("2026-03-10T10:00:00Z", State::Stopped),
        ("2026-03-10T12:00:00Z", State::Terminating),
        ("2026-03-10T12:30:00Z", State::Terminated),
    ]
    .iter()
    .map(|(at, state)| (at.parse().expect("an instant"), *state))
    .collect();
    app.write_history("alice", "python-r-standard", "m5.2xlarge", "Export history", &steps).await;
}

/// `POST /v1/costs/exports` as `user`, asserting 201, then a plain GET of its link: the
/// answer's body and the file's headers and bytes.
async fn export_and_download(
    app: &TestApp,
    user: &str,
    body: serde_json::Value,
) -> (serde_json::Value, http::HeaderMap, Vec<u8>) {
    let created = app.post(user, "/v1/costs/exports", Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let url = created.str("url");
    let download = reqwest::get(&url).await.expect("the link answers");
    assert_eq!(download.status(), 200, "{url}");
    let headers = download.headers().clone();
    let bytes = download.bytes().await.expect("the file").to_vec();
    (created.body, headers, bytes)
}

#[tokio::test]
async fn an_export_downloaded_from_its_link_is_the_streamed_export() {
    let app = spawn_app().await;
    alices_march(&app).await;
    let (_, _, streamed) = app.get_text("fiona", "/v1/costs/export.csv?month=2026-03&separator=semicolon").await;
    app.aws_calls.reset();
    let (answer, headers, file) =
        export_and_download(&app, "fiona", json!({ "month": "2026-03", "separator": "semicolon" })).await;
    assert_eq!(String::from_utf8(file).expect("UTF-8"), streamed, "the same bytes as GET /v1/costs/export.csv");
    assert_eq!(answer["month"], "2026-03");
    assert_eq!(answer["bytes"], streamed.len());
    let expires: jiff::Timestamp = answer["expiresAt"].as_str().expect("expiresAt").parse().expect("an instant");
    let left = expires.duration_since(jiff::Timestamp::now());
    assert!(left > jiff::SignedDuration::from_mins(14) && left <= jiff::SignedDuration::from_mins(15), "{left:?}");
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(headers["content-disposition"], "attachment; filename=\"atelier-costs-2026-03.csv\"");
    let url = answer["url"].as_str().expect("url");
    assert!(url.contains(&format!("/{}/exports/fiona/2026-03/", app.seeded.exports_bucket)), "{url}");
    let calls = app.aws_calls.counts();
    assert_eq!(calls.get("S3.PutObject"), Some(&1), "smaller than a part: one PutObject, {calls:?}");
    assert_eq!(calls.get("S3.CreateMultipartUpload"), None, "{calls:?}");

    // A cost-centre filter, as an admin; each export is a new object.
    let (_, _, oncology) = app.get_text("ada", "/v1/costs/export.csv?month=2026-03&costCentre=CC-ONCOLOGY").await;
    let (again, _, file) =
        export_and_download(&app, "ada", json!({ "month": "2026-03", "costCentre": "CC-ONCOLOGY" })).await;
    assert_eq!(String::from_utf8(file).expect("UTF-8"), oncology);
    assert!(again["url"].as_str().expect("url").contains("/exports/ada/2026-03/"));
}

#[tokio::test]
async fn bodies_are_checked_and_scientists_refused_before_anything_is_written() {
    let app = spawn_app().await;
    app.aws_calls.reset();
    let refused = app.post("alice", "/v1/costs/exports", Some(json!({ "month": "2026-03" }))).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    for (body, status, field) in [
        (json!({ "month": "2026-13" }), StatusCode::UNPROCESSABLE_ENTITY, "month"),
        (json!({ "month": "2999-01" }), StatusCode::UNPROCESSABLE_ENTITY, "month"),
        (json!({ "month": "2026-03", "separator": "tab" }), StatusCode::BAD_REQUEST, "separator"),
        (json!({ "month": "2026-03", "separator": null }), StatusCode::BAD_REQUEST, "separator"),
        (json!({ "month": "2026-03", "costCentre": null }), StatusCode::BAD_REQUEST, "costCentre"),
        (json!({ "month": "2026-03", "currency": "USD" }), StatusCode::BAD_REQUEST, "currency"),
        (json!({}), StatusCode::BAD_REQUEST, "month"),
    ] {
        let answer = app.post("fiona", "/v1/costs/exports", Some(body.clone())).await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        assert_eq!(answer.body["field"], field, "{body}");
    }
    let calls = app.aws_calls.counts();
    assert!(calls.keys().all(|call| !call.starts_with("S3.")), "{calls:?}");
}

#[tokio::test]
async fn a_month_larger_than_a_part_is_uploaded_in_parts_and_downloads_whole() {
    let app = spawn_app().await;
    alices_march(&app).await;
    // March 2026 closed with thousands of lines with long names: about 9.5 MiB of CSV, more
    // than one 8 MiB part, without writing thousands of histories.
    let month =
        Month::parse("2026-03", jiff::Timestamp::now(), &atelier_domain::costs::MONTH_BOUNDARY).expect("a month");
    let mut computed: Vec<WorkspaceCost> = Vec::new();
    let costs = app.app.root.costs();
    let fiona =
        atelier_domain::Caller { sub: "fiona".into(), username: "fiona".into(), groups: vec!["finance".into()] };
    let request = costs.export_request(&fiona, "2026-03", None, jiff::Timestamp::now()).expect("authorised");
    costs.stream_export(&request, &mut computed).await.expect("March's lines");
    let [line] = &computed[..] else { panic!("one line in March: {computed:?}") };
    let lines: Vec<WorkspaceCost> = (0..2_300)
        .map(|i| {
            let mut copy = line.clone();
            copy.info.workspace_id = WorkspaceId::generate();
            copy.info.workspace_name = format!("Long export {i:04} {}", "x".repeat(4_000));
            copy
        })
        .collect();
    let table = app.app.table();
    table.put_lines(month, &lines).await.expect("lines stored");
    table.close(month, jiff::Timestamp::now()).await.expect("month closed");

    let (_, _, streamed) = app.get_text("fiona", "/v1/costs/export.csv?month=2026-03").await;
    assert!(streamed.len() > 9 << 20, "{} bytes", streamed.len());
    app.aws_calls.reset();
    let (answer, _, file) = export_and_download(&app, "fiona", json!({ "month": "2026-03" })).await;
    assert_eq!(answer["bytes"], streamed.len());
    assert_eq!(file.len(), streamed.len());
    assert!(file == streamed.as_bytes(), "the object is the streamed export, whole and in order");
    let calls = app.aws_calls.counts();
    assert_eq!(calls.get("S3.CreateMultipartUpload"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("S3.UploadPart"), Some(&2), "an 8 MiB part and the rest, {calls:?}");
    assert_eq!(calls.get("S3.CompleteMultipartUpload"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("S3.PutObject"), None, "{calls:?}");
}
