//! The web pages in a real headless Chromium, against the real service on a
//! port of its own, on SQLite and (with TEST_POSTGRES_URL) PostgreSQL: sign
//! in, the inbox, a referral assessment refused for a missing field then
//! completed, repeatable emergency-contact rows, and a program manager
//! fixing a definition and publishing version 2. Every page is checked with
//! axe-core and photographed into target/web-screenshots.

#[path = "../common/browser.rs"]
mod browser;
#[path = "../common/mod.rs"]
mod common;
mod manager;
#[path = "../common/site.rs"]
mod site;

use browser::Browser;
use common::api::PASSWORD;
use common::db::databases;
use serde_json::{Value, json};
use site::{Site, start_site};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_and_program_managers_use_the_pages_in_chromium() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    for db in databases().await {
        let site = start_site(&db).await;
        let kind = db.kind;
        browser.client.delete_all_cookies().await.expect("cookies");
        sign_in(
            &browser,
            &site,
            &format!("{kind}-01"),
            "clinician@example.org",
        )
        .await;
        assessment(&browser, &site, kind).await;
        emergency_contacts(&browser, &site, kind).await;
        browser.client.delete_all_cookies().await.expect("cookies");
        sign_in(&browser, &site, &format!("{kind}-10"), "pm@example.org").await;
        manager::program_manager(&browser, &site, kind).await;
        manager::narrow_screen(&site, kind).await;
        site.server.abort();
    }
    browser.stop().await;
}

pub async fn sign_in(browser: &Browser, site: &Site, shot: &str, email: &str) {
    let kind = shot;
    browser.goto(&format!("{}/inbox", site.base)).await;
    assert!(
        browser.path().await.starts_with("/login"),
        "{kind}: not signed in yet"
    );
    browser.assert_accessible("the sign-in page").await;
    browser.screenshot(&format!("{shot}-sign-in")).await;
    browser.type_into("#email", email).await;
    browser.type_into("#password", "not the password").await;
    browser.click("form.stack button[type=submit]").await;
    assert!(
        browser.text(".error-summary").await.contains("not right"),
        "{kind}: a wrong password is refused"
    );
    browser.type_into("#password", PASSWORD).await;
    browser.click("form.stack button[type=submit]").await;
    browser.find("#tasks-heading").await;
    assert_eq!(
        browser.path().await,
        "/inbox",
        "{kind}: back where they set out"
    );
}

async fn assessment(browser: &Browser, site: &Site, kind: &str) {
    // A notification for the unread count.
    let me = site
        .service
        .store()
        .user_by_email("clinician@example.org")
        .await
        .expect("user");
    let note = caseflow::storage::Notification {
        id: uuid::Uuid::now_v7(),
        case_id: Some(site.referral),
        template: "referral_waiting".to_owned(),
        subject: "A referral is waiting for assessment".to_owned(),
        body: "Please assess it.".to_owned(),
        created_at: chrono::Utc::now(),
        read_at: None,
    };
    site.service
        .store()
        .insert_notification(site.org, me.id, &note)
        .await
        .expect("notification");
    browser.goto(&format!("{}/inbox", site.base)).await;
    assert!(
        browser.text("#notes-heading").await.contains("1 unread"),
        "{kind}"
    );
    assert!(
        browser.text("header nav .badge").await.starts_with('1'),
        "{kind}"
    );
    let row = browser.text("table.tasks tbody").await;
    assert!(
        row.contains("Waiting for client link and assessment"),
        "{kind}: {row}"
    );
    assert!(row.contains("Record assessment"), "{kind}: {row}");
    browser.assert_accessible("the inbox").await;
    browser.screenshot(&format!("{kind}-02-inbox")).await;

    browser.click("table.tasks a").await;
    assert_eq!(
        browser.text("#case-state").await,
        "Waiting for client link and assessment",
        "{kind}"
    );
    browser.assert_accessible("the case page").await;
    browser.screenshot(&format!("{kind}-03-case")).await;
    browser
        .click(&format!(
            "a[href='/cases/{}/transitions/assess']",
            site.referral
        ))
        .await;

    // From the keyboard: Tab reaches the skip link first, shown and ringed.
    let tab = char::from(fantoccini::key::Key::Tab).to_string();
    browser
        .find("body")
        .await
        .send_keys(&tab)
        .await
        .expect("tab");
    let focused = browser
        .js(
            "const e = document.activeElement, s = getComputedStyle(e); \
             return [e.className, s.outlineStyle, e.getBoundingClientRect().left >= 0];",
            vec![],
        )
        .await;
    assert_eq!(
        focused,
        json!(["skip", "solid", true]),
        "{kind}: a visible focus"
    );

    // Risk level chosen, the presenting issue left out: refused at the field.
    browser.click("label[for='field-risk_level-1']").await;
    let language = "#field-interpreter_language";
    assert!(
        !browser
            .find(language)
            .await
            .is_displayed()
            .await
            .expect("shown?"),
        "{kind}"
    );
    browser.click("#field-interpreter_needed").await;
    assert!(
        browser
            .find(language)
            .await
            .is_displayed()
            .await
            .expect("shown?"),
        "{kind}: shown once ticked"
    );
    browser.type_into(language, "Samoan").await;
    browser.click("#field-interpreter_needed").await;
    assert!(
        !browser
            .find(language)
            .await
            .is_displayed()
            .await
            .expect("shown?"),
        "{kind}: hidden again"
    );
    browser
        .screenshot(&format!("{kind}-04-assessment-form"))
        .await;
    browser
        .click("form.generated .form-actions button[type=submit]")
        .await;
    let message = browser.text("#field-presenting_issue-error").await;
    assert!(
        message.ends_with("Presenting issue is required"),
        "{kind}: {message}"
    );
    assert_eq!(
        browser
            .find("#field-risk_level-1")
            .await
            .prop("checked")
            .await
            .expect("prop")
            .as_deref(),
        Some("true"),
        "{kind}: the typed values are kept"
    );
    browser.assert_accessible("the form with errors").await;
    browser
        .screenshot(&format!("{kind}-05-assessment-errors"))
        .await;

    browser
        .type_into("#field-presenting_issue", "Stress at school")
        .await;
    browser
        .click("form.generated .form-actions button[type=submit]")
        .await;
    browser.find(".flash").await;
    assert_eq!(
        browser.text("#case-state").await,
        "Assessed, waiting for a programme",
        "{kind}: the new state"
    );
    // What the clinician may not do next is shown greyed, with the reason.
    let greyed = browser
        .find("button[aria-describedby='why-assign_program']")
        .await;
    assert!(!greyed.is_enabled().await.expect("enabled?"), "{kind}");
    let why = browser.text("#why-assign_program").await;
    assert!(why.contains("team_leader"), "{kind}: {why}");
    let newest = browser.text(".timeline li").await;
    assert!(newest.contains("Record assessment"), "{kind}: {newest}");
    assert!(newest.contains("clinician@example.org"), "{kind}: {newest}");
    assert!(
        newest.contains("Medium"),
        "{kind}: the changed risk level: {newest}"
    );
    browser.screenshot(&format!("{kind}-06-assessed")).await;
    // The hidden interpreter language was not sent.
    let history = site
        .service
        .store()
        .history(site.org, site.referral)
        .await
        .expect("history");
    let form = history
        .last()
        .and_then(|entry| entry.form.clone())
        .unwrap_or(Value::Null);
    assert_eq!(
        form["presenting_issue"], "Stress at school",
        "{kind}: {form}"
    );
    assert!(form.get("interpreter_language").is_none(), "{kind}: {form}");
}

async fn emergency_contacts(browser: &Browser, site: &Site, kind: &str) {
    browser
        .goto(&format!(
            "{}/cases/{}/transitions/record_visit",
            site.base, site.visit
        ))
        .await;
    assert_eq!(
        browser.count("li.row").await,
        1,
        "{kind}: minItems rows to start"
    );
    browser
        .type_into("[name='emergency_contacts[0].name']", "Mere")
        .await;
    browser
        .type_into("[name='emergency_contacts[0].phone']", "021 555 0101")
        .await;
    browser
        .click("[data-repeat] > button[data-action=add]")
        .await;
    browser
        .click("[data-repeat] > button[data-action=add]")
        .await;
    assert_eq!(browser.count("li.row").await, 3, "{kind}: two rows added");
    browser
        .type_into("[name='emergency_contacts[1].name']", "Removed soon")
        .await;
    browser
        .type_into("[name='emergency_contacts[2].name']", "Hemi")
        .await;
    browser
        .type_into("[name='emergency_contacts[2].phone']", "027 555 0202")
        .await;
    browser
        .find("[name='emergency_contacts[2].relationship']")
        .await
        .select_by_value("whanau")
        .await
        .expect("choose");
    let options = browser
        .text("[name='emergency_contacts[2].relationship']")
        .await;
    assert!(
        options.contains("Family (whānau)"),
        "{kind}: choices from rules/data/relationships.yaml: {options}"
    );
    browser
        .screenshot(&format!("{kind}-07-contacts-three-rows"))
        .await;
    browser
        .click("li.row:nth-child(2) button[data-action=remove]")
        .await;
    assert_eq!(browser.count("li.row").await, 2, "{kind}: a row removed");
    // Hemi moves to the top: the first to call.
    browser
        .click("li.row:nth-child(2) button[data-action=up]")
        .await;
    let first = browser
        .js(
            "return document.querySelector(\"[name='emergency_contacts[0].name']\").value;",
            vec![],
        )
        .await;
    assert_eq!(
        first,
        json!("Hemi"),
        "{kind}: rows renumbered in screen order"
    );
    assert_eq!(
        browser.text("li.row:nth-child(2) .row-number").await,
        "2",
        "{kind}"
    );
    browser.assert_accessible("the repeatable rows").await;
    browser
        .screenshot(&format!("{kind}-08-contacts-reordered"))
        .await;
    browser
        .click("form.generated .form-actions button[type=submit]")
        .await;
    browser.find(".flash").await;
    let case = site
        .service
        .store()
        .case(site.org, site.visit)
        .await
        .expect("case");
    assert_eq!(
        case.data["emergency_contacts"],
        json!([{"name": "Hemi", "phone": "027 555 0202", "relationship": "whanau"}, {"name": "Mere", "phone": "021 555 0101"}]),
        "{kind}"
    );
    browser
        .screenshot(&format!("{kind}-09-visit-recorded"))
        .await;
}
