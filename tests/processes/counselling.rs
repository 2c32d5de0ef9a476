//! The New Zealand counselling service: the client registry and its lookup,
//! a referral from assessment to consent, and the enrolment it opens.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::common::db::databases;
use super::{World, day, one_at_a_time};

fn aroha() -> Value {
    json!({
        "name": "Aroha Ngata", "date_of_birth": "2008-04-01",
        "cultural_identity": ["maori"], "iwi": ["ngati_porou"], "spiritual_needs": ["karakia"],
        "primary_language": "mi", "interpreter_needed": false,
        "emergency_contacts": [{"name": "Mere Ngata", "relationship": "mother", "phone": "021 555 0101"}],
        "identifiers": {"nhi": "ZZZ0016"}
    })
}

#[tokio::test]
async fn intake_finds_an_existing_client_instead_of_registering_a_duplicate() {
    let _serial = one_at_a_time().await;
    for db in databases().await {
        let world = World::new(&db).await;
        let client = world.open("intake", "client", json!({})).await;
        let mut future = aroha();
        future["date_of_birth"] = json!(day(30));
        world
            .refused("intake", &client, "register", future, "not in the past")
            .await;
        let (status, _) = world.fire("lead", &client, "register", aroha()).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{}: a team leader does not register",
            db.kind
        );
        let mut bad_contact = aroha();
        bad_contact["emergency_contacts"] = json!([{"name": "Mere Ngata"}]);
        let (status, body) = world.fire("intake", &client, "register", bad_contact).await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}: {body}",
            db.kind
        );
        assert!(
            body.to_string().contains("/emergency_contacts/0"),
            "{}: {body}",
            db.kind
        );
        world
            .moves("intake", &client, "register", aroha(), "active")
            .await;

        let search = |query: &str| format!("/api/v1/clients?{query}");
        for query in [
            "name=aroha",
            "name=NGATA&date_of_birth=2008-04-01",
            "identifier=zzz%200016",
        ] {
            let (status, found) = world.api.get(&search(query), world.token("intake")).await;
            assert_eq!(status, StatusCode::OK, "{}: {found}", db.kind);
            let ids: Vec<&str> = found["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["id"].as_str())
                .collect();
            assert_eq!(ids, [client.as_str()], "{}: {query}", db.kind);
        }
        let (_, none) = world
            .api
            .get(
                &search("name=aroha&date_of_birth=2008-04-02"),
                world.token("intake"),
            )
            .await;
        assert_eq!(
            none["items"],
            json!([]),
            "{}: every criterion must match",
            db.kind
        );
        let (_, elsewhere) = world
            .api
            .get(&search("name=aroha"), world.token("south"))
            .await;
        assert_eq!(
            elsewhere["items"],
            json!([]),
            "{}: another organisation sees nothing",
            db.kind
        );
        let (status, _) = world
            .api
            .get(&search("name=a"), world.token("intake"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}", db.kind);
        let (_, openapi) = world.api.get("/openapi.json", world.token("intake")).await;
        assert!(
            openapi["paths"]["/api/v1/clients"]["get"].is_object(),
            "{}: the search is documented",
            db.kind
        );
        let (status, _) = world
            .api
            .get("/api/v1/clients", world.token("intake"))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{}", db.kind);

        world
            .moves(
                "clinician",
                &client,
                "review_risk",
                json!({"risk_level": "high", "notes": "Disclosed self-harm"}),
                "active",
            )
            .await;
        world.notified("lead", "client_high_risk").await;
        world.stop().await;
    }
}

#[tokio::test]
async fn a_referral_is_assessed_assigned_consented_and_opens_an_enrolment() {
    let _serial = one_at_a_time().await;
    for db in databases().await {
        let world = World::new(&db).await;
        let client = world.open("intake", "client", json!({})).await;
        world
            .moves("intake", &client, "register", aroha(), "active")
            .await;
        // The partner organisation refers through its own API key.
        let (status, issued) = world
            .api
            .json(
                "POST",
                "/api/v1/api-keys",
                Some(world.token("admin")),
                json!({"name": "tairawhiti-gp", "roles": ["referrer"]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {issued}", db.kind);
        let partner = issued["key"].as_str().expect("key").to_owned();
        let (status, opened) = world
            .api
            .json("POST", "/api/v1/cases", Some(&partner), json!({"workflow": "referral", "data": {
                "client": {"name": "Aroha Ngata", "date_of_birth": "2008-04-01", "iwi": ["ngati_porou"]},
                "referrer": {"name": "Dr Hemi Walker", "organisation": "Tairāwhiti GP", "email": "hemi@example.org"},
                "reason": "Low mood and withdrawal at school"
            }}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{}: {opened}", db.kind);
        assert_eq!(opened["created_by"], "apikey:tairawhiti-gp", "{}", db.kind);
        let referral = opened["id"].as_str().expect("id").to_owned();
        let (status, _) = world
            .api
            .json(
                "POST",
                &format!("/api/v1/cases/{referral}/transitions/decline"),
                Some(&partner),
                json!({"form": {"reason": "other", "details": "x"}}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{}: the partner only refers",
            db.kind
        );
        world
            .moves(
                "intake",
                &referral,
                "link_client",
                json!({"client_id": client}),
                "submitted",
            )
            .await;
        let assessment = json!({"risk_level": "medium", "presenting_issue": "Low mood", "interpreter_needed": false, "safety_plan_in_place": false, "spiritual_needs": ["karakia"]});
        let (status, _) = world
            .fire("intake", &referral, "assess", assessment.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{}: intake does not assess",
            db.kind
        );
        world
            .moves("clinician", &referral, "assess", assessment, "assessed")
            .await;
        world.moves("lead", &referral, "assign_program", json!({"program": "individual_counselling", "key_worker": "key@north.example", "start_date": day(-1)}), "program_assigned").await;
        world
            .moves(
                "intake",
                &referral,
                "request_consent",
                json!({}),
                "consent_requested",
            )
            .await;
        world
            .refused(
                "intake",
                &referral,
                "record_consent",
                json!({"consents": [{"type": "treatment", "given": true, "expiry_date": day(-3)}]}),
                "expired",
            )
            .await;
        let consents = json!({"consents": [
            {"type": "treatment", "given": true, "expiry_date": day(365)},
            {"type": "information_sharing", "given": true, "expiry_date": day(180)}
        ]});
        let enrolled = world
            .moves("intake", &referral, "record_consent", consents, "enrolled")
            .await;
        assert_eq!(
            enrolled["data"]["consent"]["expiry_date"],
            json!(day(180)),
            "{}",
            db.kind
        );

        // The workers open the enrolment; its start date has passed, so they start it too.
        let started = std::time::Instant::now();
        let enrolment = loop {
            let (_, page) = world
                .api
                .get("/api/v1/cases?workflow=enrolment", world.token("key"))
                .await;
            if let Some(found) = page["items"].as_array().and_then(|items| items.first()) {
                break found["id"].as_str().expect("id").to_owned();
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "{}: no enrolment opened",
                db.kind
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        let active = world.reaches(&enrolment, "active").await;
        assert_eq!(active["data"]["client_id"], json!(client), "{}", db.kind);
        assert_eq!(active["data"]["episode"], json!(1), "{}", db.kind);
        assert_eq!(
            active["data"]["consent_expiry"],
            json!(day(180)),
            "{}",
            db.kind
        );
        world.stop().await;
    }
}

#[tokio::test]
async fn an_enrolment_whose_consent_lapses_is_suspended_by_the_scheduler() {
    let _serial = one_at_a_time().await;
    for db in databases().await {
        let world = World::new(&db).await;
        let enrolment = world
            .open("intake", "enrolment", json!({
                "client": {"name": "Tama Ngata"}, "program": "whanau_support", "key_worker": "key@north.example",
                "start_date": day(-20), "episode": 1, "consent_expiry": day(0),
                "consents": [{"type": "treatment", "given": true, "expiry_date": day(0)}]
            }))
            .await;
        // Start date and consent expiry have both come: activated, then suspended, by the system.
        let suspended = world.reaches(&enrolment, "suspended").await;
        assert_eq!(
            suspended["data"]["suspended_on"],
            json!(day(0)),
            "{}",
            db.kind
        );
        let (_, history) = world
            .api
            .get(
                &format!("/api/v1/cases/{enrolment}/history"),
                world.token("lead"),
            )
            .await;
        let moves: Vec<(String, String)> = history
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                Some((
                    e["transition"].as_str()?.to_owned(),
                    e["actor"]["id"]
                        .as_str()
                        .or(e["actor"].as_str())?
                        .to_owned(),
                ))
            })
            .collect();
        assert_eq!(
            moves,
            [
                ("activate".to_owned(), "system".to_owned()),
                ("consent_lapsed".to_owned(), "system".to_owned())
            ],
            "{}",
            db.kind
        );
        world.notified("key", "enrolment_suspended").await;
        world
            .refused(
                "key",
                &enrolment,
                "renew_consent",
                json!({"consents": [{"type": "treatment", "given": true, "expiry_date": day(-1)}]}),
                "expired",
            )
            .await;
        let (status, _) = world.fire("lead", &enrolment, "renew_consent", json!({"consents": [{"type": "treatment", "given": true, "expiry_date": day(200)}]})).await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{}: renewing is for the key worker or intake",
            db.kind
        );
        world.moves("key", &enrolment, "renew_consent", json!({"consents": [{"type": "treatment", "given": true, "expiry_date": day(200)}]}), "active").await;
        // Staff assigned must be active users holding the role.
        for someone in [
            "nobody@north.example",
            "intake@north.example",
            "intake@south.example",
        ] {
            let (status, body) = world
                .fire(
                    "lead",
                    &enrolment,
                    "assign_key_worker",
                    json!({"key_worker": someone}),
                )
                .await;
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{}: {someone}: {body}",
                db.kind
            );
            assert!(
                body.to_string().contains("/key_worker"),
                "{}: {body}",
                db.kind
            );
        }
        world
            .moves(
                "lead",
                &enrolment,
                "assign_key_worker",
                json!({"key_worker": "key@north.example"}),
                "active",
            )
            .await;
        world
            .moves(
                "key",
                &enrolment,
                "exit",
                json!({"reason": "goals_met", "exit_date": day(0)}),
                "exited",
            )
            .await;
        world.stop().await;
    }
}
