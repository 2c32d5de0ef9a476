//! Micro-benchmarks of the engine on the shipped referral workflow:
//! a compiled guard, a 15-field form, `fire` with guard + form + set (on a
//! borrowed case, and on one handed over as the service does),
//! `available`, and checking 100 workflow files.

use std::hint::black_box;
use std::path::Path;

use caseflow::engine::{CaseView, Catalog, available, fire, fire_with_bindings};
use caseflow::rules::{Actor, Bindings};
use chrono::{DateTime, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;

/// The service's allocator (`src/main.rs`), so `fire` is measured as the service runs it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn shipped() -> Catalog {
    let sources = caseflow::home::load_sources(Path::new(env!("CARGO_MANIFEST_DIR")), None);
    let (catalog, diagnostics) = Catalog::load(&sources);
    assert!(diagnostics.iter().all(|d| !d.is_error()), "{diagnostics:?}");
    catalog
}

fn case_data() -> serde_json::Value {
    json!({
        "client": {
            "name": "Aroha Ngata", "date_of_birth": "2008-04-01", "cultural_identity": ["maori"],
            "iwi": ["ngati_porou"], "primary_language": "mi", "interpreter_needed": false
        },
        "referrer": { "name": "Dr Hemi Walker", "organisation": "Tairāwhiti GP", "email": "hemi@example.org" },
        "reason": "Low mood and withdrawal at school"
    })
}

fn assessment_form() -> serde_json::Value {
    json!({
        "risk_level": "medium", "presenting_issue": "Low mood", "risk_factors": ["substance_use"],
        "safety_plan_in_place": true, "safety_plan_review_date": "2025-02-01", "interpreter_needed": true,
        "interpreter_language": "Samoan", "spiritual_needs": ["karakia"], "whanau_involvement": true,
        "recommended_program": "individual_counselling", "sessions_recommended": 6, "gp_informed": true,
        "next_contact_date": "2025-01-08", "contact_phone": "+64 21 555 0101", "notes": "Prefers mornings."
    })
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2025-01-01T09:00:00Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn engine(c: &mut Criterion) {
    let catalog = shipped();
    let referral = catalog
        .definition("referral")
        .expect("referral ships")
        .clone();
    let data = case_data();
    let form = assessment_form();
    let clinician = Actor::user("u-clinician", vec!["clinician".to_owned()]);

    let assess = &referral.transitions["assess"];
    let guard = &assess.guard.as_ref().expect("assess has a guard").script;
    let mut bindings = Bindings::new(&data, &form, &clinician, now());
    c.bench_function("guard: referral::meets_criteria", |b| {
        b.iter(|| {
            referral
                .rules
                .eval(black_box(guard), &mut bindings)
                .expect("guard runs")
        })
    });

    let assessment = catalog
        .forms
        .get("assessment")
        .expect("assessment form")
        .clone();
    assert!(assessment.validate(&form).is_empty());
    c.bench_function("form: validate 15-field assessment", |b| {
        b.iter(|| assessment.validate(black_box(&form)))
    });

    // As the service fires a case it holds alone: the case's data is handed over (its copy
    // here is made outside the measurement, as the service has it already).
    c.bench_function("fire taking the case: assess", |b| {
        b.iter_batched(
            || data.clone(),
            |data| {
                let bindings = Bindings::taking(data, black_box(&form), &clinician, now());
                fire_with_bindings(&referral, "submitted", bindings, "assess").expect("moves")
            },
            BatchSize::SmallInput,
        )
    });

    // A referral as staff write them: a long reason and a client of several iwi. Checking
    // the whole case after a move costs more with every field on file; checking the move's
    // changes does not.
    let mut long = data.clone();
    long["reason"] = json!("Low mood and withdrawal at school. ".repeat(60));
    long["client"]["iwi"] = json!([
        "ngati_porou",
        "ngai_tahu",
        "waikato_tainui",
        "te_arawa",
        "ngapuhi",
        "tuhoe"
    ]);
    for (name, case_data) in [
        ("fire: assess (guard + form + set)", &data),
        ("fire: assess, long referral", &long),
    ] {
        c.bench_function(name, |b| {
            b.iter(|| {
                let case = CaseView {
                    state: "submitted",
                    data: case_data,
                };
                fire(
                    &referral,
                    case,
                    "assess",
                    black_box(&form),
                    &clinician,
                    now(),
                )
                .expect("moves")
            })
        });
    }

    let lead = Actor::user("u-lead", vec!["team_leader".to_owned()]);
    c.bench_function("available: submitted case", |b| {
        b.iter(|| {
            available(
                &referral,
                CaseView {
                    state: "submitted",
                    data: &data,
                },
                &lead,
                now(),
            )
        })
    });
}

fn check_hundred(c: &mut Criterion) {
    let mut sources = caseflow::home::load_sources(Path::new(env!("CARGO_MANIFEST_DIR")), None);
    let referral = sources
        .workflows
        .iter()
        .find(|w| w.name == "referral")
        .expect("referral")
        .clone();
    sources.workflows = (0..100)
        .map(|i| {
            let mut copy = referral.clone();
            copy.path = format!("workflows/referral_{i}.yaml");
            copy.text =
                copy.text
                    .replacen("workflow: referral", &format!("workflow: referral_{i}"), 1);
            copy
        })
        .collect();
    let mut group = c.benchmark_group("check");
    group.sample_size(10);
    group.bench_function("100 workflow files", |b| {
        b.iter(|| Catalog::load(black_box(&sources)))
    });
    group.finish();
}

criterion_group!(benches, engine, check_hundred);
criterion_main!(benches);
