//! A UK debt-advice firm's FCA compliance checks, and a UK care home's care
//! plan reviews and incidents.

use axum::http::StatusCode;
use serde_json::json;

use super::common::db::databases;
use super::{World, day, one_at_a_time};

#[tokio::test]
async fn a_compliance_check_needs_an_independent_reviewer_and_escalates_when_late() {
    let _serial = one_at_a_time().await;
    for db in databases().await {
        let world = World::new(&db).await;
        let check = json!({
            "check_type": "file_review", "requirement": "conc_8_2_financial_statement",
            "subject_case": "DA-2025-0193", "adviser": "adviser@north.example", "deadline": day(-1)
        });
        let late = world.open("officer", "compliance", check.clone()).await;
        // Its deadline has passed: the manager is told.
        world
            .notified("compliance_manager", "compliance_overdue")
            .await;
        let evidence = world
            .moves(
                "adviser",
                &late,
                "provide_evidence",
                json!({"document_reference": "DMS-2025-00412"}),
                "under_review",
            )
            .await;
        assert_eq!(
            evidence["data"]["evidence"]["late"],
            json!(true),
            "{}",
            db.kind
        );
        let (status, _) = world.fire("adviser", &late, "mark_met", json!({})).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{}: the adviser does not sign off",
            db.kind
        );
        world.moves("officer", &late, "mark_not_met", json!({
            "finding": "Income not verified", "severity": "material_breach",
            "remedial_action": "Re-verify income on open cases", "remedial_deadline": day(30)
        }), "remediation").await;
        world
            .notified("compliance_manager", "material_breach")
            .await;
        world
            .moves(
                "officer",
                &late,
                "provide_remedial_evidence",
                json!({"document_reference": "DMS-2025-00520"}),
                "remedial_review",
            )
            .await;
        world
            .refused(
                "officer",
                &late,
                "mark_met",
                json!({}),
                "must not be the person",
            )
            .await;
        let unrelated = world.open("officer", "compliance", check).await;
        world
            .moves(
                "adviser",
                &unrelated,
                "provide_evidence",
                json!({"document_reference": "DMS-2025-00413"}),
                "under_review",
            )
            .await;
        world
            .moves(
                "officer",
                &unrelated,
                "mark_met",
                json!({"notes": "Complete"}),
                "met",
            )
            .await;
        world.stop().await;
    }
}

#[tokio::test]
async fn a_care_plan_falls_due_for_review_and_continues_with_its_next_date() {
    let _serial = one_at_a_time().await;
    for db in databases().await {
        let world = World::new(&db).await;
        let plan = world
            .open(
                "nurse",
                "care_plan_review",
                json!({
                    "resident": {"name": "Margaret Hughes", "room": "12"}, "plan_type": "nursing",
                    "named_nurse": "nurse@north.example", "review_date": day(0)
                }),
            )
            .await;
        world.reaches(&plan, "review_due").await;
        world.notified("nurse", "care_review_due").await;
        world
            .moves("nurse", &plan, "start_review", json!({}), "under_review")
            .await;
        world
            .refused(
                "nurse",
                &plan,
                "complete_review",
                json!({"outcome": "continue", "resident_involved": false, "summary": "No change"}),
                "must take part",
            )
            .await;
        let reviewed = world.moves("nurse", &plan, "complete_review", json!({"outcome": "continue", "resident_involved": true, "summary": "Mobility improved"}), "active").await;
        let next = (chrono::Utc::now().date_naive() + chrono::Months::new(3))
            .format("%Y-%m-%d")
            .to_string();
        assert_eq!(
            reviewed["data"]["review_date"],
            json!(next),
            "{}: nursing plans are reviewed every 3 months",
            db.kind
        );
        world.stop().await;
    }
}

#[tokio::test]
async fn a_serious_incident_tells_the_manager_at_once() {
    let _serial = one_at_a_time().await;
    for db in databases().await {
        let world = World::new(&db).await;
        let incident = world
            .open(
                "carer",
                "incident",
                json!({"resident": {"name": "Margaret Hughes", "room": "12"}}),
            )
            .await;
        world.moves("carer", &incident, "report", json!({
            "category": "fall", "severity": "serious", "occurred_on": day(0), "description": "Found on the floor",
            "immediate_action": "GP called"
        }), "reported").await;
        world.notified("manager", "incident_serious").await;
        let (status, _) = world
            .fire("carer", &incident, "investigate", json!({}))
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}", db.kind);
        world
            .moves(
                "manager",
                &incident,
                "investigate",
                json!({}),
                "investigating",
            )
            .await;
        world.moves("manager", &incident, "record_actions", json!({
            "findings": "Bed rails not raised", "root_cause": "training",
            "actions": [{"action": "Refresher on bed rails", "owner": "nurse@north.example", "due_date": day(14)}]
        }), "actions_recorded").await;
        world
            .refused(
                "manager",
                &incident,
                "close",
                json!({"actions_completed": true, "lessons_learned": "Checklist"}),
                "CQC notification",
            )
            .await;
        world.moves("manager", &incident, "close", json!({"actions_completed": true, "lessons_learned": "Checklist", "cqc_notification_reference": "INC-2025-0042"}), "closed").await;
        world.stop().await;
    }
}
