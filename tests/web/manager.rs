//! The program manager's flow (fix a definition with an unknown state and
//! publish version 2, see it listed and diffed) and the pages on a phone.

use serde_json::json;

use crate::browser::Browser;
use crate::common::db::shipped_referral;
use crate::sign_in;
use crate::site::Site;

pub async fn program_manager(browser: &Browser, site: &Site, kind: &str) {
    browser.goto(&format!("{}/workflows", site.base)).await;
    browser.assert_accessible("the workflows").await;
    browser.screenshot(&format!("{kind}-11-workflows")).await;
    browser
        .goto(&format!("{}/workflows/editor", site.base))
        .await;
    // The site runs the referral as version 1; the shipped text is version 2.
    let fixed = shipped_referral();
    assert!(
        fixed.contains("\nversion: 2\n"),
        "the shipped referral is version 2"
    );
    let broken = fixed.replacen("\n    to: assessed\n", "\n    to: asessed\n", 1);
    let line = broken
        .lines()
        .position(|l| l == "    to: asessed")
        .expect("line")
        + 1;
    // Pasted, as a program manager would.
    browser
        .js(
            "document.getElementById('source').value = arguments[0];",
            vec![json!(broken)],
        )
        .await;
    browser.click("button[value=validate]").await;
    let errors = browser.text("#error-summary").await;
    assert!(
        errors.contains(&format!("Line {line}, column")) && errors.contains("asessed"),
        "{kind}: {errors}"
    );
    browser.assert_accessible("the editor with errors").await;
    browser
        .screenshot(&format!("{kind}-12-editor-errors"))
        .await;
    browser.click(&format!("a[data-line='{line}']")).await;
    let focused = browser
        .js("return document.activeElement.id;", vec![])
        .await;
    assert_eq!(
        focused,
        json!("source"),
        "{kind}: the error link goes to the text"
    );

    browser
        .js(
            "document.getElementById('source').value = arguments[0];",
            vec![json!(fixed)],
        )
        .await;
    browser.click("button[value=publish]").await;
    assert!(
        browser.text(".flash").await.contains("Published version 2"),
        "{kind}"
    );
    assert_eq!(
        browser.path().await,
        "/workflows/referral?version=2&published=2",
        "{kind}"
    );
    browser.assert_accessible("the workflow page").await;
    browser.screenshot(&format!("{kind}-13-workflow-v2")).await;
    browser.goto(&format!("{}/workflows", site.base)).await;
    let versions = browser.text("td.versions").await;
    assert!(
        versions.contains("v1") && versions.contains("v2"),
        "{kind}: {versions}"
    );
    browser
        .goto(&format!(
            "{}/workflows/referral/diff?from=1&to=2",
            site.base
        ))
        .await;
    let added = browser.text("table.diff tr.added").await;
    assert!(added.contains("version: 2"), "{kind}: {added}");
    let folded = browser.text("table.diff tr.gap").await;
    assert!(folded.ends_with("unchanged lines"), "{kind}: {folded}");
    browser.assert_accessible("the diff").await;
    browser.screenshot(&format!("{kind}-14-diff")).await;
}

pub async fn narrow_screen(site: &Site, kind: &str) {
    let phone = Browser::start_sized(Some(360))
        .await
        .expect("a second browser");
    sign_in(&phone, site, &format!("{kind}-15-phone"), "pm@example.org").await;
    let width = phone.js("return window.innerWidth;", vec![]).await;
    assert_eq!(width, json!(360), "{kind}: a phone's viewport");
    for (name, path) in [
        ("inbox", "/inbox".to_owned()),
        ("case", format!("/cases/{}", site.referral)),
        (
            "form",
            format!("/cases/{}/transitions/assign_program", site.referral),
        ),
        ("workflow", "/workflows/referral".to_owned()),
    ] {
        phone.goto(&format!("{}{path}", site.base)).await;
        let fits = phone
            .js(
                "return document.documentElement.scrollWidth <= window.innerWidth;",
                vec![],
            )
            .await;
        assert_eq!(
            fits,
            json!(true),
            "{kind}: {name} fits 360 px without sideways scrolling"
        );
        phone
            .assert_accessible(&format!("the {name} page on a phone"))
            .await;
        phone.screenshot(&format!("{kind}-15-phone-{name}")).await;
    }
    phone.stop().await;
}
