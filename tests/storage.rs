//! Persistence and the service layer, on SQLite and on PostgreSQL: races,
//! stale versions, organisations kept apart, pinned definitions, the audit chain.

mod common;

use std::sync::Arc;

use caseflow::engine::Refusal;
use caseflow::rules::Actor;
use caseflow::service::{Service, ServiceError};
use caseflow::storage::{Commits, Store};
use common::db::{databases, service, shipped_referral};
use serde_json::{Value, json};
use uuid::Uuid;

fn clinician() -> Actor {
    Actor::user("u-clinician", vec!["clinician".to_owned()])
}

fn referral_data() -> Value {
    json!({
        "client": { "name": "Aroha Ngata", "date_of_birth": "2008-04-01", "interpreter_needed": false },
        "referrer": { "name": "Dr Hemi Walker", "organisation": "Tairāwhiti GP", "email": "hemi@example.org" },
        "reason": "Low mood"
    })
}

fn assessment() -> Value {
    json!({"risk_level": "low", "presenting_issue": "Stress", "interpreter_needed": false, "safety_plan_in_place": false})
}

async fn org_with_referral(service: &Service, name: &str) -> Uuid {
    let org = service
        .store()
        .create_org(name, chrono::Utc::now())
        .await
        .expect("org");
    service
        .publish(
            org.id,
            "workflows/referral.yaml",
            &shipped_referral(),
            "test",
        )
        .await
        .expect("publish");
    org.id
}

/// Opens a referral as the system.
async fn open_referral(
    service: &Service,
    org: Uuid,
) -> caseflow::service::ServiceResult<std::sync::Arc<caseflow::storage::CaseRecord>> {
    service
        .create_case(org, &Actor::system(), "referral", referral_data(), None)
        .await
}

/// The clinician assesses the case (low risk).
async fn assess(
    service: &Service,
    org: Uuid,
    case: Uuid,
) -> caseflow::service::ServiceResult<std::sync::Arc<caseflow::storage::CaseRecord>> {
    service
        .fire(org, &clinician(), case, "assess", &assessment(), None, None)
        .await
}

async fn count(store: &Store, sql: &'static str, case: Uuid) -> i64 {
    common::db::execute_unscoped(store, sql, case)
        .await
        .first()
        .copied()
        .expect("a count")
}

#[tokio::test]
async fn fifty_staff_pressing_the_same_button_make_exactly_one_move() {
    for db in databases().await {
        let service = service(db.store().await);
        let org = org_with_referral(&service, "race").await;
        let case = open_referral(&service, org).await.expect("open");
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50 {
            let (service, id) = (service.clone(), case.id);
            tasks.spawn(async move {
                let actor = Actor::user(format!("u-{i}"), vec!["clinician".to_owned()]);
                service
                    .fire(org, &actor, id, "assess", &assessment(), None, None)
                    .await
            });
        }
        let (mut moved, mut conflicts) = (0, 0);
        while let Some(joined) = tasks.join_next().await {
            match joined.expect("task") {
                Ok(_) => moved += 1,
                Err(ServiceError::Conflict(_)) => conflicts += 1,
                // Losers that read the case after the winner committed see it in `assessed`.
                Err(ServiceError::Refused(Refusal::WrongState { .. })) => conflicts += 1,
                Err(other) => panic!("{}: unexpected {other:?}", db.kind),
            }
        }
        assert_eq!((moved, conflicts), (1, 49), "{}", db.kind);
        let history = service
            .store()
            .history(org, case.id)
            .await
            .expect("history");
        assert_eq!(
            history.len(),
            2,
            "{}: the opening and exactly one move",
            db.kind
        );
        let (cases, breaks) = service
            .store()
            .verify_audit(Some(case.id))
            .await
            .expect("verify");
        assert_eq!((cases, breaks.len()), (1, 0), "{}: {breaks:?}", db.kind);
    }
}

/// The reference `caseflow bench --single` measures group commit against:
/// every write commits alone, from several connections at once on
/// PostgreSQL, and a race still has exactly one winner.
#[tokio::test]
async fn one_transaction_per_write_commits_each_alone_and_keeps_one_winner() {
    for db in databases().await {
        db.store().await.close().await;
        let alone = Commits::Alone { writers: 8 };
        let store = Store::connect_with(&db.url, caseflow::config::Durability::Normal, alone)
            .await
            .expect("connect");
        let service = service(store);
        let org = org_with_referral(&service, "alone").await;
        let before = service.store().batch_counts();
        let mut opening = tokio::task::JoinSet::new();
        for _ in 0..40 {
            let service = service.clone();
            opening.spawn(async move { open_referral(&service, org).await });
        }
        let opened: Vec<_> = opening
            .join_all()
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .expect("open");
        let after = service.store().batch_counts();
        let (batches, writes) = (after.0 - before.0, after.1 - before.1);
        assert_eq!(writes, 40, "{}", db.kind);
        assert_eq!(batches, 40, "{}: a commit took several writes", db.kind);

        let case = opened[0].id;
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50 {
            let service = service.clone();
            tasks.spawn(async move {
                let actor = Actor::user(format!("u-{i}"), vec!["clinician".to_owned()]);
                service
                    .fire(org, &actor, case, "assess", &assessment(), None, None)
                    .await
            });
        }
        let mut moved = 0;
        while let Some(joined) = tasks.join_next().await {
            match joined.expect("task") {
                Ok(_) => moved += 1,
                Err(
                    ServiceError::Conflict(_) | ServiceError::Refused(Refusal::WrongState { .. }),
                ) => {}
                Err(other) => panic!("{}: unexpected {other:?}", db.kind),
            }
        }
        assert_eq!(moved, 1, "{}", db.kind);
        let (cases, breaks) = service.store().verify_audit(None).await.expect("verify");
        assert_eq!((cases, breaks.len()), (40, 0), "{}: {breaks:?}", db.kind);
    }
}

#[tokio::test]
async fn a_stale_expected_version_is_a_conflict_and_writes_nothing() {
    for db in databases().await {
        let service = service(db.store().await);
        let org = org_with_referral(&service, "stale").await;
        let case = open_referral(&service, org).await.expect("open");
        let error = service
            .fire(
                org,
                &clinician(),
                case.id,
                "assess",
                &assessment(),
                Some(case.version + 1),
                None,
            )
            .await
            .expect_err("stale");
        assert!(
            matches!(error, ServiceError::Conflict(_)),
            "{}: {error:?}",
            db.kind
        );
        let moved = service
            .fire(
                org,
                &clinician(),
                case.id,
                "assess",
                &assessment(),
                Some(case.version),
                None,
            )
            .await
            .expect("current version moves");
        assert_eq!(
            (moved.state.as_str(), moved.version),
            ("assessed", 2),
            "{}",
            db.kind
        );
        let stored = service.store().case(org, case.id).await.expect("case");
        assert_eq!(
            stored, *moved,
            "{}: what fire returns is what was stored",
            db.kind
        );
    }
}

#[tokio::test]
async fn a_refused_move_writes_nothing() {
    for db in databases().await {
        let store = db.store().await;
        let service = service(store.clone());
        let org = org_with_referral(&service, "refused").await;
        let case = open_referral(&service, org).await.expect("open");
        let outbox_before = count(
            &store,
            "SELECT COUNT(*) FROM outbox WHERE case_id = $1",
            case.id,
        )
        .await;
        let critical = json!({"risk_level": "critical", "presenting_issue": "Self-harm", "interpreter_needed": false, "safety_plan_in_place": false});
        let error = service
            .fire(org, &clinician(), case.id, "assess", &critical, None, None)
            .await
            .expect_err("guard");
        assert!(
            matches!(error, ServiceError::Refused(Refusal::Guard(_))),
            "{}: {error:?}",
            db.kind
        );
        let error = service
            .fire(
                org,
                &clinician(),
                case.id,
                "assess",
                &json!({"risk_level": "extreme"}),
                None,
                None,
            )
            .await
            .expect_err("form");
        assert!(
            matches!(error, ServiceError::Refused(Refusal::InvalidForm(_))),
            "{}: {error:?}",
            db.kind
        );
        let stored = store.case(org, case.id).await.expect("case");
        assert_eq!(stored.version, 1, "{}", db.kind);
        assert_eq!(
            store.history(org, case.id).await.expect("history").len(),
            1,
            "{}",
            db.kind
        );
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM outbox WHERE case_id = $1",
                case.id
            )
            .await,
            outbox_before
        );
    }
}

#[tokio::test]
async fn a_move_writes_its_audit_entry_and_effects_together() {
    for db in databases().await {
        let store = db.store().await;
        let service = service(store.clone());
        let org = org_with_referral(&service, "effects").await;
        let case = service
            .create_case(
                org,
                &Actor::system(),
                "referral",
                referral_data(),
                Some("req-1"),
            )
            .await
            .expect("open");
        // Opening schedules the `submitted` reminder.
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM outbox WHERE case_id = $1 AND kind = 'schedule_deadline'",
                case.id
            )
            .await,
            1
        );
        let moved = service
            .fire(
                org,
                &clinician(),
                case.id,
                "assess",
                &assessment(),
                None,
                Some("req-2"),
            )
            .await
            .expect("assess");
        assert_eq!(moved.data["risk_level"], json!("low"));
        // Leaving `submitted` cancels its reminder without an outbox row:
        // the reminder's job finds the case gone from the state.
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM outbox WHERE case_id = $1 AND kind = 'cancel_deadlines'",
                case.id
            )
            .await,
            0
        );
        assert_eq!(
            count(
                &store,
                "SELECT COUNT(*) FROM outbox WHERE case_id = $1 AND kind = 'notify'",
                case.id
            )
            .await,
            1
        );
        let history = store.history(org, case.id).await.expect("history");
        let entry = &history[1];
        assert_eq!(entry.seq, 2);
        assert_eq!(entry.transition.as_deref(), Some("assess"));
        assert_eq!(
            (entry.from.as_deref(), entry.to.as_str()),
            (Some("submitted"), "assessed")
        );
        assert_eq!(entry.actor, "u-clinician");
        assert_eq!(entry.request_id.as_deref(), Some("req-2"));
        assert_eq!(entry.form.as_ref(), Some(&assessment()));
        assert!(
            entry.changes.as_array().is_some_and(|changes| changes
                .iter()
                .any(|c| c["path"] == "risk_level" && c["new"] == "low")),
            "{}",
            entry.changes
        );
        assert_eq!(entry.prev_hash, history[0].hash);
        let one = store.audit_entry(org, case.id, 2).await.expect("entry 2");
        assert_eq!((one.seq, one.hash.as_str()), (2, entry.hash.as_str()));
        assert!(matches!(
            store.audit_entry(org, case.id, 99).await,
            Err(caseflow::storage::StoreError::NotFound)
        ));
    }
}

#[tokio::test]
async fn another_organisation_can_neither_read_nor_move_a_case() {
    for db in databases().await {
        let service = service(db.store().await);
        let ours = org_with_referral(&service, "ours").await;
        let theirs = org_with_referral(&service, "theirs").await;
        let case = service
            .create_case(ours, &Actor::system(), "referral", referral_data(), None)
            .await
            .expect("open");
        assert!(
            matches!(
                service.store().case(theirs, case.id).await,
                Err(caseflow::storage::StoreError::NotFound)
            ),
            "{}",
            db.kind
        );
        let error = service
            .fire(
                theirs,
                &clinician(),
                case.id,
                "assess",
                &assessment(),
                None,
                None,
            )
            .await
            .expect_err("hidden");
        assert!(
            matches!(error, ServiceError::NotFound),
            "{}: {error:?}",
            db.kind
        );
        assert!(
            service
                .store()
                .history(theirs, case.id)
                .await
                .expect("history")
                .is_empty(),
            "{}",
            db.kind
        );
        let page = service
            .store()
            .cases(
                theirs,
                &caseflow::storage::CaseFilter {
                    limit: 50,
                    ..Default::default()
                },
            )
            .await
            .expect("list");
        assert!(page.items.is_empty(), "{}", db.kind);
        assert_eq!(
            service
                .store()
                .case(ours, case.id)
                .await
                .expect("ours")
                .version,
            1
        );
    }
}

#[tokio::test]
async fn publishing_a_new_version_leaves_running_cases_on_theirs() {
    for db in databases().await {
        let service = service(db.store().await);
        let org = org_with_referral(&service, "versions").await;
        let running = open_referral(&service, org).await.expect("open");
        assert_eq!(running.workflow_version, 2);

        let same = service
            .publish(org, "workflows/referral.yaml", &shipped_referral(), "pm")
            .await
            .expect("same text");
        assert!(
            !same.created,
            "{}: publishing the same text again is a no-op",
            db.kind
        );

        let edited = shipped_referral().replace(
            "title: Referral to enrolment",
            "title: Referral to enrolment (2026)",
        );
        let error = service
            .publish(org, "referral.yaml", &edited, "pm")
            .await
            .expect_err("not bumped");
        let ServiceError::Invalid(problems) = error else {
            panic!("{}: expected located problems", db.kind)
        };
        assert_eq!(problems.len(), 1);
        assert_eq!(
            (problems[0].line, problems[0].column),
            (6, 10),
            "{}: points at `version`",
            db.kind
        );
        assert!(
            problems[0].message.contains("bump `version` to 3"),
            "{}",
            problems[0].message
        );

        let bumped = edited.replace("version: 2\n", "version: 3\n");
        let published = service
            .publish(org, "referral.yaml", &bumped, "pm")
            .await
            .expect("bumped");
        assert_eq!((published.version, published.created), (3, true));

        let moved = assess(&service, org, running.id).await.expect("moves");
        assert_eq!(
            moved.workflow_version, 2,
            "{}: a running case stays on its version",
            db.kind
        );
        let fresh = open_referral(&service, org).await.expect("open");
        assert_eq!(
            fresh.workflow_version, 3,
            "{}: new cases start on the newest version",
            db.kind
        );
    }
}

#[tokio::test]
async fn an_invalid_definition_is_refused_with_located_errors() {
    for db in databases().await {
        let service = service(db.store().await);
        let org = service
            .store()
            .create_org("invalid", chrono::Utc::now())
            .await
            .expect("org")
            .id;
        let broken = shipped_referral().replace("    to: assessed\n", "    to: assesed\n");
        let ServiceError::Invalid(problems) = service
            .publish(org, "referral.yaml", &broken, "pm")
            .await
            .expect_err("invalid")
        else {
            panic!("{}: expected located problems", db.kind)
        };
        assert!(
            problems
                .iter()
                .any(|p| p.message.contains("unknown state `assesed`") && p.line > 1),
            "{problems:?}"
        );
        assert!(matches!(
            service.store().definition(org, "referral", None).await,
            Err(caseflow::storage::StoreError::NotFound)
        ));
    }
}

#[tokio::test]
async fn an_edited_audit_entry_breaks_the_chain() {
    for db in databases().await {
        let store = db.store().await;
        let service = service(store.clone());
        let org = org_with_referral(&service, "tamper").await;
        let case = open_referral(&service, org).await.expect("open");
        assess(&service, org, case.id).await.expect("assess");
        assert!(store.verify_audit(None).await.expect("verify").1.is_empty());
        let sql = "UPDATE audit_entries SET actor = 'someone-else' WHERE case_id = $1 AND seq = 2";
        common::db::execute_unscoped(&store, sql, case.id).await;
        let (_, breaks) = store.verify_audit(Some(case.id)).await.expect("verify");
        assert_eq!(breaks.len(), 1, "{}: {breaks:?}", db.kind);
        assert!(
            breaks
                .iter()
                .any(|b| b.seq == 2 && b.problem.contains("changed after it was written")),
            "{breaks:?}"
        );
    }
}

#[tokio::test]
async fn migrations_run_again_beside_another_migrator() {
    for db in databases().await {
        let store = db.store().await;
        // Another migrator (apalis) records its own versions in the same table.
        let sql = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (20990101000000, 'apalis', TRUE, $1, 0)";
        match store.db() {
            caseflow::storage::Db::Sqlite(pool) => sqlx::query(sql)
                .bind(vec![0u8; 48])
                .execute(pool)
                .await
                .map(|_| ()),
            caseflow::storage::Db::Postgres(pool) => sqlx::query(sql)
                .bind(vec![0u8; 48])
                .execute(pool)
                .await
                .map(|_| ()),
        }
        .expect("foreign migration row");
        store
            .migrate()
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", db.kind));
        let again = Arc::new(db.store().await);
        again.migrate().await.expect("idempotent");
    }
}

#[tokio::test]
async fn workflow_files_are_published_once_for_every_organisation() {
    for db in databases().await {
        let service = service(db.store().await);
        for name in ["north", "south"] {
            service
                .store()
                .create_org(name, chrono::Utc::now())
                .await
                .expect("org");
        }
        let mut sources =
            caseflow::home::load_sources(std::path::Path::new(env!("CARGO_MANIFEST_DIR")), None);
        let report = service.sync_files(&sources).await;
        assert_eq!(
            report.len(),
            2 * sources.workflows.len(),
            "{}: every shipped workflow for each organisation: {report:?}",
            db.kind
        );
        assert_eq!(
            report
                .iter()
                .filter(|line| line.contains("published referral version 2"))
                .count(),
            2,
            "{report:?}"
        );
        assert!(
            service.sync_files(&sources).await.is_empty(),
            "{}: unchanged files publish nothing",
            db.kind
        );

        let referral = sources
            .workflows
            .iter_mut()
            .find(|file| file.name == "referral")
            .expect("referral");
        referral.text = referral
            .text
            .replace("title: Referral to enrolment", "title: Referral");
        let report = service.sync_files(&sources).await;
        assert_eq!(report.len(), 2, "{report:?}");
        assert!(
            report
                .iter()
                .all(|line| line.contains("bump `version` to 3") && line.contains("not published")),
            "{report:?}"
        );
    }
}

#[tokio::test]
async fn stale_moves_in_a_shared_commit_fail_alone() {
    for db in databases().await {
        let store = db.store().await;
        let service = service(store.clone());
        let org = org_with_referral(&service, "batch").await;
        let mut cases = Vec::new();
        for _ in 0..20 {
            let case = open_referral(&service, org).await.expect("open");
            cases.push(assess(&service, org, case.id).await.expect("assess"));
        }
        // Every case is at version 2. Half the moves below were computed from version 1.
        let mut tasks = tokio::task::JoinSet::new();
        for (i, case) in cases.iter().enumerate() {
            let from_version = if i % 2 == 0 { 2 } else { 1 };
            let mut change = simple_move(org, case, from_version);
            change.outbox.push(marker());
            let (store, data) = (store.clone(), case.data.clone());
            tasks.spawn(async move { (i, store.apply_move(change, &data).await) });
        }
        // And for one case, a stale and a current move race each other.
        let mut stale = simple_move(org, &cases[0], 1);
        stale.outbox.push(marker());
        let (store_again, data) = (store.clone(), cases[0].data.clone());
        let raced = tokio::spawn(async move { store_again.apply_move(stale, &data).await });
        let mut applied = 0;
        while let Some(joined) = tasks.join_next().await {
            let (i, result) = joined.expect("task");
            match (i % 2, result) {
                (0, Ok(())) => applied += 1,
                // Refused for its version, not by the audit entry it would have duplicated.
                (1, Err(caseflow::storage::StoreError::Conflict(why)))
                    if why.contains("no longer at version") => {}
                (_, other) => panic!("{}: move {i}: {other:?}", db.kind),
            }
        }
        assert_eq!(applied, 10, "{}", db.kind);
        let mut markers = 0;
        for case in &cases {
            markers += count(
                &store,
                "SELECT COUNT(*) FROM outbox WHERE case_id = $1 AND kind = 'test_marker'",
                case.id,
            )
            .await;
        }
        assert_eq!(
            markers, 10,
            "{}: only applied moves leave outbox rows",
            db.kind
        );
        assert!(
            matches!(
                raced.await.expect("task"),
                Err(caseflow::storage::StoreError::Conflict(_))
            ),
            "{}",
            db.kind
        );
        let (checked, breaks) = store.verify_audit(None).await.expect("verify");
        assert_eq!((checked, breaks.len()), (20, 0), "{}: {breaks:?}", db.kind);
    }
}

/// An outbox row no worker acts on for a year, to count which moves left theirs.
fn marker() -> caseflow::storage::OutboxItem {
    caseflow::storage::OutboxItem {
        id: Uuid::now_v7(),
        kind: "test_marker".to_owned(),
        payload: "{}".into(),
        available_at: chrono::Utc::now() + chrono::Duration::days(365),
    }
}

/// A move written straight to the store, as the service would after the engine.
fn simple_move(
    org: Uuid,
    case: &caseflow::storage::CaseRecord,
    from_version: i64,
) -> caseflow::storage::Move {
    let at = caseflow::storage::stored_time(chrono::Utc::now());
    let mut audit = caseflow::storage::AuditEntry {
        case_id: case.id,
        seq: from_version + 1,
        org_id: org,
        transition: Some("note".to_owned()),
        from: Some(case.state.clone()),
        to: case.state.clone(),
        actor: "tester".to_owned(),
        form: None,
        changes: json!([]),
        reasons: json!([]),
        request_id: None,
        at,
        prev_hash: case.audit_hash.clone(),
        hash: String::new(),
        hash_scheme: caseflow::storage::HASH_SCHEME,
        form_digest: None,
        changes_digest: None,
        redacted_by: None,
    };
    audit.hash = caseflow::storage::entry_hash(&audit);
    caseflow::storage::Move {
        org_id: org,
        case_id: case.id,
        from_version,
        state: case.state.clone(),
        actor: "tester".to_owned(),
        at,
        closed: false,
        audit,
        outbox: Vec::new(),
    }
}

#[tokio::test]
async fn a_second_process_moving_a_case_is_seen_by_the_first() {
    for db in databases().await {
        let first = service(db.store().await);
        let second = service(db.store().await);
        let org = org_with_referral(&first, "two-processes").await;
        let case = open_referral(&first, org).await.expect("open");
        assess(&second, org, case.id)
            .await
            .expect("second assesses");

        // The first process last saw the case in `submitted`; it must not act on that.
        let error = assess(&first, org, case.id)
            .await
            .expect_err("already assessed");
        assert!(
            matches!(error, ServiceError::Refused(Refusal::WrongState { .. })),
            "{}: {error:?}",
            db.kind
        );
        let lead = Actor::user("u-lead", vec!["team_leader".to_owned()]);
        let programme = json!({"program": "individual_counselling", "key_worker": "kw@example.org", "start_date": "2026-01-05"});
        let moved = first
            .fire(
                org,
                &lead,
                case.id,
                "assign_program",
                &programme,
                None,
                None,
            )
            .await
            .expect("moves on fresh data");
        assert_eq!(
            (moved.state.as_str(), moved.version),
            ("program_assigned", 3),
            "{}",
            db.kind
        );
        assert_eq!(
            first
                .store()
                .history(org, case.id)
                .await
                .expect("history")
                .len(),
            3,
            "{}",
            db.kind
        );
    }
}

#[tokio::test]
async fn row_level_security_walls_organisations_apart_on_postgres() {
    for db in databases().await {
        let caseflow::storage::Db::Postgres(pool) = db.store().await.db().clone() else {
            continue;
        };
        let above: bool = sqlx::query_scalar(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&pool)
        .await
        .expect("role");
        if above {
            eprintln!("SKIPPED: connected as a superuser, whom row-level security does not bind");
            continue;
        }
        let store = db.store().await;
        let service = service(store.clone());
        let north = org_with_referral(&service, "north").await;
        let south = org_with_referral(&service, "south").await;
        for org in [north, north, south] {
            service
                .create_case(org, &clinician(), "referral", referral_data(), None)
                .await
                .expect("case");
        }
        let count = |setting: Option<String>| {
            let pool = pool.clone();
            async move {
                let mut tx = pool.begin().await.expect("begin");
                if let Some(setting) = setting {
                    sqlx::query("SELECT set_config('caseflow.org', $1, true)")
                        .bind(setting)
                        .execute(&mut *tx)
                        .await
                        .expect("scope");
                }
                // No org_id filter: only the policies stand between the organisations.
                let cases: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM cases")
                    .fetch_one(&mut *tx)
                    .await
                    .expect("count");
                let audit: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_entries")
                    .fetch_one(&mut *tx)
                    .await
                    .expect("count");
                (cases, audit)
            }
        };
        assert_eq!(count(None).await, (0, 0), "unset, nothing shows");
        assert_eq!(count(Some(north.to_string())).await, (2, 2));
        assert_eq!(count(Some(south.to_string())).await, (1, 1));
        assert_eq!(count(Some("all".to_owned())).await, (3, 3));
        // Nor can a row be written into another organisation.
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("SELECT set_config('caseflow.org', $1, true)")
            .bind(north.to_string())
            .execute(&mut *tx)
            .await
            .expect("scope");
        let moved = sqlx::query("UPDATE cases SET org_id = $1")
            .bind(south)
            .execute(&mut *tx)
            .await;
        assert!(moved.is_err(), "the policy's check refuses the row");
    }
}

fn read_of(org: Uuid, case: Uuid, what: &str) -> caseflow::storage::CaseRead {
    caseflow::storage::CaseRead {
        org_id: org,
        case_id: case,
        reader: "u-clinician".to_owned(),
        what: what.to_owned(),
        request_id: None,
        at: chrono::Utc::now(),
    }
}

async fn reads_of(store: &Store, org: Uuid, case: Uuid) -> Vec<String> {
    let mut what: Vec<String> = store
        .case_reads(org, case, 1000)
        .await
        .expect("reads")
        .into_iter()
        .map(|read| read.what)
        .collect();
    what.sort();
    what.dedup();
    what
}

#[tokio::test]
async fn the_access_log_is_written_alone_with_a_move_on_flush_and_on_close() {
    for db in databases().await {
        let service = service(db.store().await);
        let store = service.store().clone();
        let org = org_with_referral(&service, "reads").await;
        let case = open_referral(&service, org).await.expect("open").id;

        // With no case write to ride along with, the rows are committed on their own.
        store
            .log_case_reads(vec![read_of(org, case, "alone")])
            .await;
        let mut seen = Vec::new();
        for _ in 0..100 {
            seen = reads_of(&store, org, case).await;
            if !seen.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(seen, ["alone"], "{}", db.kind);

        // A move acknowledged after a read was logged has committed the read too.
        store
            .log_case_reads(vec![read_of(org, case, "before-move")])
            .await;
        assess(&service, org, case).await.expect("assess");
        assert_eq!(
            reads_of(&store, org, case).await,
            ["alone", "before-move"],
            "{}",
            db.kind
        );

        // More rows than one statement takes, then a flush: all of them are there.
        let other = open_referral(&service, org).await.expect("open").id;
        let many = (0..2500).map(|_| read_of(org, other, "many")).collect();
        store.log_case_reads(many).await;
        store.flush_case_reads().await;
        let written = count(
            &store,
            "SELECT COUNT(*) FROM case_reads WHERE case_id = $1",
            other,
        )
        .await;
        assert_eq!(written, 2500, "{}", db.kind);

        // Closing the store writes what is still buffered.
        store
            .log_case_reads(vec![read_of(org, case, "at-close")])
            .await;
        store.close().await;
        let reopened = db.store().await;
        assert!(
            reads_of(&reopened, org, case)
                .await
                .contains(&"at-close".to_owned()),
            "{}",
            db.kind
        );
        reopened.close().await;
    }
}

/// The group-commit writer keeps SQLite's one write connection from batch to batch
/// only for a while (a quarter of a second): a write outside the batch (here,
/// opening an organisation) gets its turn while moves keep coming, not only once
/// they stop. The movers stop as soon as it is in, so the bound costs nothing.
#[tokio::test]
async fn a_write_outside_the_batch_gets_in_while_moves_keep_coming() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    const CASES: usize = 20_000;
    for db in databases().await {
        let store = db.store().await;
        let service = service(store.clone());
        let org = org_with_referral(&service, "busy").await;
        let opened = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let mut movers = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (service, opened, stop) = (service.clone(), opened.clone(), stop.clone());
            movers.spawn(async move {
                while !stop.load(Ordering::Relaxed) && opened.load(Ordering::Relaxed) < CASES {
                    open_referral(&service, org).await.expect("open");
                    opened.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        while opened.load(Ordering::Relaxed) < 100 {
            tokio::task::yield_now().await;
        }
        store
            .create_org("beside the batch", chrono::Utc::now())
            .await
            .expect("org");
        let when_in = opened.load(Ordering::Relaxed);
        stop.store(true, Ordering::Relaxed);
        while movers.join_next().await.is_some() {}
        assert!(
            when_in < CASES,
            "{}: the organisation was written only after all {CASES} cases",
            db.kind
        );
    }
}

/// Under steady writes the WAL must start over well before the writer's own
/// checkpoint inside a commit at 128 MB, whose pause was most of the HTTP fire
/// p99: this test's WAL reached 131.9 MB before session 14, and 74–82 MB since
/// (it starts over from 32 MB, once the background has caught up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_wal_starts_over_while_cases_keep_opening() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const CASES: usize = 40_000;
    const MOST_BYTES: u64 = 96 << 20;
    let db = common::db::sqlite();
    let store = db.store().await;
    let service = service(store.clone());
    let org = org_with_referral(&service, "steady").await;
    let opened = Arc::new(AtomicUsize::new(0));
    let mut openers = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (service, opened) = (service.clone(), opened.clone());
        openers.spawn(async move {
            while opened.fetch_add(1, Ordering::Relaxed) < CASES {
                open_referral(&service, org).await.expect("open");
            }
        });
    }
    // A task that failed to open its cases fails the test, not a smaller WAL.
    openers.join_all().await;
    let path = db
        .url
        .strip_prefix("sqlite://")
        .and_then(|rest| rest.split('?').next())
        .expect("a SQLite file URL");
    // Read while the store is open: closing it checkpoints and removes the WAL.
    let wal = std::fs::metadata(format!("{path}-wal"))
        .expect("the WAL of an open database")
        .len();
    assert!(
        wal < MOST_BYTES,
        "the WAL grew to {:.1} MB under {CASES} cases",
        wal as f64 / (1 << 20) as f64
    );
    store.close().await;
}

/// A store on a fresh SQLite file, with sqlx's pool on it for looking at the
/// rows themselves; the file lives as long as the `TestDb`.
async fn sqlite_store() -> (common::db::TestDb, Store, sqlx::SqlitePool) {
    let db = common::db::sqlite();
    let store = db.store().await;
    let caseflow::storage::Db::Sqlite(pool) = store.db().clone() else {
        panic!("a SQLite URL gives a SQLite pool");
    };
    (db, store, pool)
}

/// On SQLite the group commit writes through a connection of its own, not
/// sqlx's: what it stores must be what sqlx would have stored. Times are text
/// in sqlx's format (due outbox rows and retention compare them as text), ids
/// 16-byte blobs.
#[tokio::test]
async fn the_sqlite_writer_stores_values_as_sqlx_would() {
    let (_db, store, pool) = sqlite_store().await;
    let service = service(store.clone());
    let org = org_with_referral(&service, "formats").await;
    let case = open_referral(&service, org).await.expect("open");
    let moved = assess(&service, org, case.id).await.expect("moves");
    let as_sqlx = |at: chrono::DateTime<chrono::Utc>| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, String>("SELECT ?")
                .bind(at)
                .fetch_one(&pool)
                .await
                .expect("sqlx's text for a time")
        }
    };
    let (id, org_id, created, updated, legal_hold): (String, String, String, String, String) =
        sqlx::query_as(
            "SELECT typeof(id), typeof(org_id), created_at, updated_at, typeof(legal_hold) \
             FROM cases WHERE id = ?",
        )
        .bind(case.id)
        .fetch_one(&pool)
        .await
        .expect("the case row");
    assert_eq!((id.as_str(), org_id.as_str()), ("blob", "blob"));
    assert_eq!(legal_hold, "integer");
    assert_eq!(created, as_sqlx(case.created_at).await);
    assert_eq!(updated, as_sqlx(moved.updated_at).await);
    let recorded: Vec<String> =
        sqlx::query_scalar("SELECT recorded_at FROM audit_entries WHERE case_id = ? ORDER BY seq")
            .bind(case.id)
            .fetch_all(&pool)
            .await
            .expect("audit rows");
    assert_eq!(
        recorded,
        vec![
            as_sqlx(case.created_at).await,
            as_sqlx(moved.updated_at).await
        ]
    );
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT typeof(case_id) || ' ' || typeof(available_at) FROM outbox WHERE case_id = ?",
    )
    .bind(case.id)
    .fetch_all(&pool)
    .await
    .expect("outbox rows");
    assert!(!due.is_empty());
    assert!(due.iter().all(|kinds| kinds == "blob text"), "{due:?}");
    // And the record reads back as it was answered.
    assert_eq!(store.case(org, case.id).await.expect("read"), *moved);
}

/// On a SQLite file one case is read through caseflow's own rusqlite
/// connection: it must decode every column as sqlx does, including values sqlx
/// wrote itself (a closing time, a legal hold) and text outside ASCII.
#[tokio::test]
async fn a_case_reads_back_as_sqlx_decodes_it() {
    type Columns = (
        Uuid,
        Uuid,
        String,
        i64,
        String,
        i64,
        sqlx::types::Json<Value>,
        String,
        chrono::DateTime<chrono::Utc>,
        String,
        chrono::DateTime<chrono::Utc>,
        String,
        Option<chrono::DateTime<chrono::Utc>>,
        bool,
    );
    let (_db, store, pool) = sqlite_store().await;
    let service = service(store.clone());
    let org = org_with_referral(&service, "decoding").await;
    let case = open_referral(&service, org).await.expect("open");
    assess(&service, org, case.id).await.expect("moves");
    let closed = chrono::DateTime::parse_from_rfc3339("2026-03-04T05:06:07.123456Z")
        .expect("a time")
        .to_utc();
    sqlx::query("UPDATE cases SET closed_at = ?, legal_hold = ?, updated_by = ? WHERE id = ?")
        .bind(closed)
        .bind(true)
        .bind("Aroha Ngāti Porou — ☕")
        .bind(case.id)
        .execute(&pool)
        .await
        .expect("sqlx writes the row");
    let row: Columns = sqlx::query_as(
        "SELECT id, org_id, workflow, workflow_version, state, version, data, audit_hash, \
         created_at, created_by, updated_at, updated_by, closed_at, legal_hold FROM cases WHERE id = ?",
    )
    .bind(case.id)
    .fetch_one(&pool)
    .await
    .expect("sqlx reads the row");
    let read = store.case(org, case.id).await.expect("read");
    assert_eq!(read.closed_at, Some(closed));
    assert!(read.legal_hold);
    let as_sqlx = caseflow::storage::CaseRecord {
        id: row.0,
        org_id: row.1,
        workflow: row.2,
        workflow_version: row.3,
        state: row.4,
        version: row.5,
        data: row.6.0,
        audit_hash: row.7,
        created_at: row.8,
        created_by: row.9,
        updated_at: row.10,
        updated_by: row.11,
        closed_at: row.12,
        legal_hold: row.13,
    };
    assert_eq!(read, as_sqlx);
    assert!(matches!(
        store.case(Uuid::now_v7(), case.id).await,
        Err(caseflow::storage::StoreError::NotFound)
    ));
}

/// An in-memory SQLite database is shared by sqlx's connections; the group
/// commit's own connection must join it rather than open a file of that name.
#[tokio::test]
async fn an_in_memory_sqlite_database_takes_moves() {
    let store = Store::connect("sqlite::memory:", caseflow::config::Durability::Normal)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let service = service(store.clone());
    let org = org_with_referral(&service, "memory").await;
    let case = open_referral(&service, org).await.expect("open");
    let moved = assess(&service, org, case.id).await.expect("moves");
    assert_eq!(store.case(org, case.id).await.expect("read"), *moved);
    let stray = std::fs::read_dir(".")
        .expect("the working directory")
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .contains("sqlx-in-memory")
        })
        .count();
    assert_eq!(stray, 0, "a file was created for the in-memory database");
}

/// In-app notifications ride along with the group commit: written at once,
/// each id only once (a retried job's copy, in the same batch or a later
/// one), and beside moves in the same batches without disturbing them.
#[tokio::test]
async fn notifications_are_written_once_beside_moves() {
    for db in databases().await {
        let store = db.store().await;
        let service = Arc::new(service(store.clone()));
        let org = org_with_referral(&service, "notes").await;
        let user = store
            .create_user(org, "kw@example.org", "x", &[], chrono::Utc::now())
            .await
            .expect("user");
        let case = open_referral(&service, org).await.expect("open");
        let note = |subject: &str| caseflow::storage::Notification {
            id: Uuid::now_v7(),
            case_id: Some(case.id),
            template: "referral_assessed".to_owned(),
            subject: subject.to_owned(),
            body: "Whakapā mai — see the case.".to_owned(),
            created_at: chrono::Utc::now(),
            read_at: None,
        };
        let first = note("first");
        let second = note("second");
        // Sent together, so they can share a batch with the move and each other.
        let (a, b, c, moved) = tokio::join!(
            store.insert_notification(org, user.id, &first),
            store.insert_notification(org, user.id, &first),
            store.insert_notification(org, user.id, &second),
            assess(&service, org, case.id),
        );
        for written in [a, b, c] {
            written.expect("written");
        }
        assert_eq!(
            moved.expect("the move beside them").version,
            2,
            "{}",
            db.kind
        );
        store
            .insert_notification(org, user.id, &second)
            .await
            .expect("a later copy is ignored");
        let mut kept = store
            .notifications(org, user.id, false, 10)
            .await
            .expect("read");
        kept.sort_by(|x, y| x.subject.cmp(&y.subject));
        let subjects: Vec<_> = kept.iter().map(|n| n.subject.as_str()).collect();
        assert_eq!(subjects, ["first", "second"], "{}", db.kind);
        let stored = kept.iter().find(|n| n.id == first.id).expect("first kept");
        assert_eq!(
            stored.created_at,
            caseflow::storage::stored_time(first.created_at)
        );
        assert_eq!(stored.body, first.body);
        assert!(
            store
                .notifications(Uuid::now_v7(), user.id, false, 10)
                .await
                .expect("read")
                .is_empty(),
            "{}: another organisation sees none",
            db.kind
        );
    }
}
