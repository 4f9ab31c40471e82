//! Cost Explorer actuals: fetched by the cost-actuals job from moto's Cost Explorer (with
//! configured results), stored, and shown beside the estimates as `actual`.

use atelier_adapters::costexplorer::CostExplorer;
use atelier_domain::{
    State,
    costs::actuals::fetch,
    testing::{WorkspaceBuilder, write_history},
};
use atelier_tests::{TestApp, moto, spawn_app};
use http::StatusCode;
use serde_json::json;

/// A workspace of `owner` running from `from` to `to` (then stopped).
async fn ran(app: &TestApp, owner: &str, from: &str, to: &str) -> String {
    let at = |s: &str| -> jiff::Timestamp { s.parse().unwrap() };
    let workspace = WorkspaceBuilder::new()
        .name("Actuals")
        .owner(owner)
        .product("python-r-standard", "m5.2xlarge")
        .provision_token(&atelier_tests::unique("actuals"))
        .build();
    let steps = [(at(from), State::Provisioning), (at(from), State::Running), (at(to), State::Stopped)];
    let workspace = write_history(app.app.table().as_ref(), workspace, &steps).await.unwrap();
    workspace.id.to_string()
}

#[tokio::test]
async fn actuals_come_from_cost_explorer_by_owner_and_workspace_tags() {
    let app = spawn_app().await;
    let alices = ran(&app, "alice", "2026-03-02T08:00:00Z", "2026-03-02T18:00:00Z").await;
    ran(&app, "bob", "2026-03-03T08:00:00Z", "2026-03-03T09:00:00Z").await;

    // What Cost Explorer will answer (moto's configured results), by day, in USD as most
    // accounts are billed: alice's workspace, a cost tagged with alice but no workspace, and
    // untagged costs that are nobody's; the last day is still estimated.
    let group = |owner: &str, workspace: &str, amount: &str| {
        json!({
            "Keys": [format!("atelier:owner${owner}"), format!("atelier:workspace${workspace}")],
            "Metrics": { "AmortizedCost": { "Amount": amount, "Unit": "USD" } }
        })
    };
    let day = |start: &str, end: &str, groups: Vec<serde_json::Value>, estimated: bool| json!({ "TimePeriod": { "Start": start, "End": end }, "Total": {}, "Groups": groups, "Estimated": estimated });
    // The second question (owner × atelier:component) answers the same days: of the 42.00
    // untagged, 39.1234 are the platform's (endpoints, NAT, keys...), 2.8766 nobody's.
    let component = |owner: &str, component: &str, amount: &str| {
        json!({
            "Keys": [format!("atelier:owner${owner}"), format!("atelier:component${component}")],
            "Metrics": { "AmortizedCost": { "Amount": amount, "Unit": "USD" } }
        })
    };
    let results = json!({ "results": [{
        "ResultsByTime": [
            day("2026-03-02", "2026-03-03", vec![group("alice", &alices, "3.9012"), group("", "", "40.00")], false),
            day("2026-03-14", "2026-03-15", vec![group("alice", "", "0.0988"), group("", "", "2.00")], true),
        ],
        "DimensionValueAttributes": []
    }, {
        "ResultsByTime": [
            day("2026-03-02", "2026-03-03", vec![component("alice", "", "3.9012"), component("", "platform", "38.1234"), component("", "", "1.8766")], false),
            day("2026-03-14", "2026-03-15", vec![component("alice", "", "0.0988"), component("", "platform", "1.00"), component("", "", "1.00")], true),
        ],
        "DimensionValueAttributes": []
    }]});
    let configured = reqwest::Client::new()
        .post(format!("{}/moto-api/static/ce/cost-and-usage-results", moto().endpoint()))
        .json(&results)
        .send()
        .await
        .expect("moto answers");
    assert!(configured.status().is_success(), "{}", configured.status());

    // Before the job ran: unknown, not zero.
    let before = app.get("ada", "/v1/costs/users?month=2026-03").await;
    assert_eq!(before.body["users"][0]["actual"], json!(null), "{}", before.body);

    let report = fetch(&CostExplorer::new(&app.sdk), app.app.table().as_ref(), "2026-03-15T06:00:00Z".parse().unwrap())
        .await
        .expect("the job runs");
    assert_eq!(report.months, [("2026-03".to_owned(), "2026-03-15".to_owned())]);

    let users = app.get("ada", "/v1/costs/users?month=2026-03").await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.body);
    let line =
        |user: &str| users.body["users"].as_array().unwrap().iter().find(|u| u["user"] == user).cloned().unwrap();
    // The owner's tagged costs, rounded for display, in Cost Explorer's currency (the
    // estimates are in EUR: nothing is relabelled), through the last closed day.
    assert_eq!(
        line("alice")["actual"],
        json!({ "amount": "4.00", "currency": "USD", "through": "2026-03-14", "estimated": true })
    );
    assert_eq!(users.body["currency"], "EUR");
    assert_eq!(line("bob")["actual"], json!(null), "nothing billed to bob's tag is known");
    // What no owner tag claims is the platform's overhead (allocated to users pro rata of
    // their actuals: alice alone has any) and the unallocated rest, shown to admins.
    let usd = |amount: &str| json!({ "amount": amount, "currency": "USD", "through": "2026-03-14", "estimated": true });
    assert_eq!(users.body["overhead"], usd("39.12"));
    assert_eq!(users.body["unallocated"], usd("2.88"));
    assert_eq!(line("alice")["overhead"], usd("39.12"));
    assert_eq!(line("bob")["overhead"], json!(null));
    // The whole bill, exact: Σ direct + overhead + unallocated = Cost Explorer's total.
    assert_eq!(
        users.body["reconciliation"],
        json!({
            "direct": "4", "overhead": "39.1234", "unallocated": "2.8766", "total": "46",
            "currency": "USD", "through": "2026-03-14", "estimated": true, "overheadAllocated": true
        })
    );
    let exact = |v: &serde_json::Value| v.as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap();
    let r = &users.body["reconciliation"];
    assert_eq!(exact(&r["direct"]) + exact(&r["overhead"]) + exact(&r["unallocated"]), exact(&r["total"]));
    // No exchange rate yet: no converted number, a stated reason; never USD under EUR.
    assert_eq!(line("alice")["actualConverted"], json!(null));
    assert_eq!(
        users.body["conversion"],
        json!({ "from": "USD", "to": "EUR", "rate": null, "rateDate": null,
                "reason": "no exchange rate from USD to EUR in force on 2026-03-31" })
    );
    // An admin records a rate; the month is converted with the one in force on its last day.
    let rate = app.put("ada", "/v1/exchange-rates/USD/EUR/2026-03-01", json!({ "rate": "0.9231" })).await;
    assert_eq!(rate.status, StatusCode::OK, "{}", rate.body);
    let users = app.get("ada", "/v1/costs/users?month=2026-03").await;
    let alice = users.body["users"].as_array().unwrap().iter().find(|u| u["user"] == "alice").cloned().unwrap();
    // 4.0000 × 0.9231 = 3.6924 → 3.69; 39.1234 × 0.9231 = 36.11481… → 36.11.
    assert_eq!(
        alice["actualConverted"],
        json!({ "amount": "3.69", "currency": "EUR", "rate": "0.9231", "rateDate": "2026-03-01", "from": "USD" })
    );
    assert_eq!(alice["overheadConverted"]["amount"], "36.11");
    assert_eq!(users.body["conversion"]["reason"], json!(null));
    let mine = app.get("alice", "/v1/costs/me?month=2026-03").await;
    assert_eq!(mine.body["workspaces"][0]["workspaceId"], alices.as_str());
    assert_eq!(mine.body["workspaces"][0]["actual"]["amount"], "3.90");
    // 3.9012 × 0.9231 = 3.60119… → 3.60, with the rate shown.
    assert_eq!(mine.body["workspaces"][0]["actualConverted"]["amount"], "3.60");
    assert_eq!(mine.body["conversion"]["rate"], "0.9231");
    assert!(mine.body.get("unallocated").is_none(), "a person never sees the platform's remainder");
    let bobs = app.get("bob", "/v1/costs/me?month=2026-03").await;
    assert_eq!(bobs.body["workspaces"][0]["actual"], json!(null), "bob never sees alice's");

    // The finance export ends with the same bill, exact, as `kind=actual` rows: alice's
    // workspace, her other tagged cost, her overhead share, and the unallocated rest; they
    // add up to Cost Explorer's 46 USD.
    let (status, _, csv) = app.get_text("fiona", "/v1/costs/export.csv?month=2026-03").await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|r| r.split(',').collect()).collect();
    let actual: Vec<_> = rows.iter().filter(|r| r[21] == "actual").collect();
    let cells: Vec<_> = actual.iter().map(|r| (r[1], r[4], r[6], r[12], r[13])).collect();
    assert_eq!(
        cells,
        [
            ("alice", alices.as_str(), "", "3.9012", "USD"),
            ("alice", "", "", "0.0988", "USD"),
            ("alice", "", "platform", "39.1234", "USD"),
            ("", "", "unallocated", "2.8766", "USD"),
        ]
    );
    assert!(actual.iter().all(|r| r[19] == "2026-03-01T00:00:00Z" && r[20] == "2026-03-15T00:00:00Z"));
    let billed: rust_decimal::Decimal = actual.iter().map(|r| r[12].parse::<rust_decimal::Decimal>().unwrap()).sum();
    assert_eq!(billed, exact(&r["total"]));
    assert!(rows.iter().take_while(|r| r[21] == "estimate").count() + actual.len() == rows.len(), "estimates first");
}
