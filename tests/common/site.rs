//! The service on a port of its own for the browser tests: the shipped
//! referral workflow plus a home-visit workflow whose form has repeatable
//! emergency contacts (their relationship a reference-data choice), an
//! admin and a clinician, and a case of each.

use std::sync::Arc;

use caseflow::engine::Catalog;
use caseflow::http::{AppState, router};
use caseflow::service::Service;
use serde_json::json;

use crate::common::Home;
use crate::common::api::user;
use crate::common::db::{TestDb, shipped_referral};

const VISIT_YAML: &str = r"workflow: visit
version: 1
title: Home visit
initial: planned
states:
  planned: { title: Visit planned }
  visited: { title: Visited, terminal: true }
transitions:
  record_visit:
    title: Record the visit
    from: [planned]
    form: home_visit
    set: { emergency_contacts: form.emergency_contacts }
    to: visited
";

const HOME_VISIT_SCHEMA: &str = r#"{
  "type": "object", "additionalProperties": false, "required": ["emergency_contacts"],
  "properties": {
    "visit_date": { "type": "string", "format": "date", "x-ui": { "label": "Visit date", "labels": { "mi": "Rā toro" } } },
    "emergency_contacts": {
      "type": "array", "minItems": 1,
      "x-ui": { "label": "Emergency contacts", "help": "In the order to call them." },
      "items": {
        "type": "object", "title": "Contact", "additionalProperties": false, "required": ["name", "phone"],
        "properties": {
          "name": { "type": "string", "minLength": 1, "x-ui": { "label": "Name" } },
          "phone": { "type": "string", "minLength": 6, "x-ui": { "label": "Phone" } },
          "relationship": { "type": "string", "x-ui": { "label": "Relationship", "options": "relationships" } }
        }
      }
    }
  }
}"#;

/// The running service: its address, the service behind it, the org and its cases.
pub struct Site {
    pub base: String,
    pub service: Arc<Service>,
    pub org: uuid::Uuid,
    pub referral: uuid::Uuid,
    pub visit: uuid::Uuid,
    pub server: tokio::task::JoinHandle<()>,
    _home: Home,
}

pub async fn start_site(db: &TestDb) -> Site {
    let home = Home::shipped();
    home.write("workflows/visit.yaml", VISIT_YAML);
    home.write("schemas/home_visit.json", HOME_VISIT_SCHEMA);
    home.write(
        "rules/data/relationships.yaml",
        "whanau: Family (whānau)\nfriend: Friend\nneighbour: Neighbour\n",
    );
    let (catalog, problems) = Catalog::load(&caseflow::home::load_sources(home.path(), None));
    assert!(problems.iter().all(|p| !p.is_error()), "{problems:?}");
    let service = Arc::new(Service::new(
        db.store().await,
        Arc::new(catalog),
        Arc::new(chrono::Utc::now),
    ));
    let org = service
        .store()
        .create_org("north", chrono::Utc::now())
        .await
        .expect("org")
        .id;
    for (file, text) in [
        // As version 1, so the program manager's edit publishes version 2.
        (
            "referral.yaml",
            shipped_referral().replacen("\nversion: 2\n", "\nversion: 1\n", 1),
        ),
        ("visit.yaml", VISIT_YAML.to_owned()),
    ] {
        service
            .publish(org, file, &text, "test")
            .await
            .expect("publish");
    }
    user(
        &service,
        org,
        "pm@example.org",
        &["admin", "clinician", "team_leader"],
    )
    .await;
    user(&service, org, "clinician@example.org", &["clinician"]).await;
    let actor = caseflow::rules::Actor::user("intake@example.org".to_owned(), vec![]);
    let data = json!({
        "client": {"name": "Aroha Ngata", "date_of_birth": "2008-04-01"},
        "referrer": {"name": "Dr Walker", "organisation": "GP", "email": "gp@example.org"},
        "reason": "Low mood"});
    let referral = service
        .create_case(org, &actor, "referral", data, None)
        .await
        .expect("referral")
        .id;
    let visit = service
        .create_case(org, &actor, "visit", json!({}), None)
        .await
        .expect("visit")
        .id;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let app = router(AppState::new(service.clone()));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Site {
        base,
        service,
        org,
        referral,
        visit,
        server,
        _home: home,
    }
}
