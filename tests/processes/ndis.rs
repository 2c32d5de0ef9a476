//! NDIS (Australia): a participant's plan, sessions approved against it by a
//! second person, and the invoice the approved sessions are billed on.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::common::db::databases;
use super::{World, day, one_at_a_time};

fn participant() -> Value {
    json!({"name": "Jordan Lee", "ndis_number": "430123456"})
}

fn two_hours() -> Value {
    json!({
        "date": day(-1), "start_time": "07:00", "end_time": "09:00", "item_code": "01_011_0107_1_1",
        "travel_km": 12.5, "notes": "Morning routine and shower", "outcomes": ["Independence in personal care"],
        "participant_mood": "good"
    })
}

#[tokio::test]
async fn sessions_are_approved_by_someone_else_within_the_plan_and_billed() {
    let _serial = one_at_a_time().await;
    for db in databases().await {
        let world = World::new(&db).await;
        let plan = world
            .open("planner", "ndis_plan", json!({
                "participant": participant(), "plan_manager": "plan_managed",
                "start_date": day(-100), "end_date": day(200), "total_budget": 200.0, "used": 0.0
            }))
            .await;
        let invoice = world
            .open("finance", "invoice", json!({"invoice_number": "INV-2025-0001", "participant": participant(), "bill_to": "Plan Partners"}))
            .await;
        let session_data =
            json!({"participant": participant(), "plan_id": plan, "invoice_id": invoice});

        let first = world
            .open("both", "session_approval", session_data.clone())
            .await;
        let logged = world
            .moves("both", &first, "log_session", two_hours(), "pending")
            .await;
        assert_eq!(
            logged["data"]["cost"],
            json!(140.46),
            "{}: 2 hours at $70.23",
            db.kind
        );
        assert_eq!(
            logged["data"]["session"]["duration_minutes"],
            json!(120),
            "{}",
            db.kind
        );
        world
            .refused("both", &first, "approve", json!({}), "four eyes")
            .await;
        let (status, _) = world.fire("worker", &first, "approve", json!({})).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{}: a support worker approves nothing",
            db.kind
        );
        world
            .moves("coordinator", &first, "approve", json!({}), "approved")
            .await;

        // The workers record the cost on the plan and bill it on the invoice, once each.
        world
            .data_until(&plan, "the plan's spending", |data| {
                data["used"] == json!(140.46)
            })
            .await;
        let billed = world
            .data_until(&invoice, "the invoice line", |data| {
                data["items"].as_array().is_some_and(|i| i.len() == 1)
            })
            .await;
        assert_eq!(
            billed["data"]["items"][0]["amount"],
            json!(140.46),
            "{}",
            db.kind
        );
        assert_eq!(
            billed["data"]["totals"],
            json!({"subtotal": 140.46, "gst": 0.0, "total": 140.46}),
            "{}",
            db.kind
        );
        let (_, history) = world
            .api
            .get(
                &format!("/api/v1/cases/{plan}/history"),
                world.token("planner"),
            )
            .await;
        assert_eq!(
            history.as_array().map(Vec::len),
            Some(2),
            "{}: opened, then one record_usage: {history}",
            db.kind
        );

        // $59.54 left: another two hours cannot be paid for.
        let second = world.open("worker", "session_approval", session_data).await;
        world
            .moves("worker", &second, "log_session", two_hours(), "pending")
            .await;
        world
            .refused("coordinator", &second, "approve", json!({}), "not enough")
            .await;
        world
            .moves(
                "coordinator",
                &second,
                "reject",
                json!({"reason": "not_in_plan", "details": "Budget exhausted"}),
                "rejected",
            )
            .await;
        let mut short = two_hours();
        short["end_time"] = json!("07:30");
        world
            .refused("both", &second, "correct", short.clone(), "only the worker")
            .await;
        let corrected = world
            .moves("worker", &second, "correct", short, "pending")
            .await;
        assert_eq!(corrected["data"]["cost"], json!(35.12), "{}", db.kind);
        world
            .moves("coordinator", &second, "approve", json!({}), "approved")
            .await;
        world
            .data_until(&plan, "the second spending", |data| {
                data["used"] == json!(175.58)
            })
            .await;

        // Once the invoice is sent, sessions are billed on the next one, not this.
        world
            .data_until(&invoice, "the second line", |data| {
                data["items"].as_array().is_some_and(|i| i.len() == 2)
            })
            .await;
        world
            .moves(
                "finance",
                &invoice,
                "send",
                json!({"terms_days": 14}),
                "sent",
            )
            .await;
        let third = world
            .open(
                "worker",
                "session_approval",
                json!({"participant": participant(), "plan_id": plan, "invoice_id": invoice}),
            )
            .await;
        let mut quarter = two_hours();
        quarter["end_time"] = json!("07:15");
        world
            .moves("worker", &third, "log_session", quarter, "pending")
            .await;
        world
            .refused(
                "coordinator",
                &third,
                "approve",
                json!({}),
                "no longer open",
            )
            .await;
        // The coordinator's list of transitions says so before they try.
        let (_, listed) = world
            .api
            .get(
                &format!("/api/v1/cases/{third}/transitions"),
                world.token("coordinator"),
            )
            .await;
        let approve = listed
            .as_array()
            .and_then(|all| all.iter().find(|t| t["name"] == "approve"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(approve["allowed"], json!(false), "{}: {listed}", db.kind);
        assert!(
            approve["reasons"].to_string().contains("no longer open"),
            "{}: {approve}",
            db.kind
        );
        world.stop().await;
    }
}

#[tokio::test]
async fn a_session_after_the_plan_ended_is_refused() {
    let _serial = one_at_a_time().await;
    for db in databases().await {
        let world = World::new(&db).await;
        let plan = world
            .open(
                "planner",
                "ndis_plan",
                json!({
                    "participant": participant(), "start_date": day(-400), "end_date": day(-5),
                    "total_budget": 5000.0, "used": 0.0
                }),
            )
            .await;
        // The plan's end date has passed: the scheduler ends it.
        world.reaches(&plan, "ended").await;
        let session = world
            .open(
                "worker",
                "session_approval",
                json!({"participant": participant(), "plan_id": plan}),
            )
            .await;
        world
            .moves("worker", &session, "log_session", two_hours(), "pending")
            .await;
        world
            .refused("coordinator", &session, "approve", json!({}), "plan ended")
            .await;
        world.stop().await;
    }
}

#[tokio::test]
async fn an_invoice_charges_gst_only_on_gst_items_and_must_be_paid_in_full() {
    let _serial = one_at_a_time().await;
    for db in databases().await {
        let world = World::new(&db).await;
        let invoice = world
            .open("finance", "invoice", json!({"invoice_number": "INV-2025-0002", "participant": participant(), "bill_to_email": "accounts@planpartners.example"}))
            .await;
        let (status, body) = world
            .api
            .json("POST", "/api/v1/cases", Some(world.token("finance")), json!({"workflow": "invoice", "data": {"invoice_number": "INV-2025-0002", "participant": participant()}}))
            .await;
        assert_eq!(
            status,
            StatusCode::CONFLICT,
            "{}: invoice numbers are unique: {body}",
            db.kind
        );
        let (status, _) = world
            .api
            .json("POST", "/api/v1/cases", Some(world.token("south")), json!({"workflow": "invoice", "data": {"invoice_number": "INV-2025-0002", "participant": participant()}}))
            .await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "{}: within one organisation",
            db.kind
        );
        world
            .refused(
                "finance",
                &invoice,
                "send",
                json!({"terms_days": 14}),
                "no lines",
            )
            .await;
        world
            .moves(
                "finance",
                &invoice,
                "add_item",
                json!({"item_code": "01_011_0107_1_1", "quantity": 2}),
                "draft",
            )
            .await;
        let lines = world
            .moves(
                "finance",
                &invoice,
                "add_item",
                json!({"item_code": "01_799_0107_1_1", "quantity": 25}),
                "draft",
            )
            .await;
        assert_eq!(
            lines["data"]["totals"],
            json!({"subtotal": 165.21, "gst": 2.48, "total": 167.69}),
            "{}",
            db.kind
        );
        let (status, _) = world
            .fire(
                "finance_manager",
                &invoice,
                "add_item",
                json!({"item_code": "01_011_0107_1_1", "quantity": 1}),
            )
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}", db.kind);
        let sent = world
            .moves(
                "finance",
                &invoice,
                "send",
                json!({"terms_days": 14}),
                "sent",
            )
            .await;
        assert_eq!(sent["data"]["due_date"], json!(day(14)), "{}", db.kind);
        world
            .refused(
                "finance",
                &invoice,
                "record_payment",
                json!({"amount": 160.0, "paid_on": day(0), "reference": "EFT-1"}),
                "does not match",
            )
            .await;
        world
            .moves(
                "finance",
                &invoice,
                "record_payment",
                json!({"amount": 167.69, "paid_on": day(0), "reference": "EFT-1"}),
                "paid",
            )
            .await;
        world.stop().await;
    }
}
