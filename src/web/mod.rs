//! Server-rendered HTML for staff and program managers: the page templates
//! (tera, compiled into the binary), the forms generated from JSON Schema,
//! reading a submitted form back into JSON, the case summary, a line diff,
//! and the stylesheet and script the pages use. No HTTP here: the handlers
//! live in `http::pages`.

mod diff;
mod form;
mod form_input;
mod schema;
mod summary;

use std::sync::OnceLock;

pub use diff::{DiffLine, folded, line_diff};
pub use form::{FormView, escape, field_id, pointer_to_name, render_fields, render_form};
pub use form_input::read_form;
pub use summary::{change_label, change_value, render_summary};

/// The stylesheet, served as `/static/app.css`.
pub const APP_CSS: &str = include_str!("../../static/app.css");
/// The script (repeatable rows, conditional fields, the editor's line numbers), served as `/static/app.js`.
pub const APP_JS: &str = include_str!("../../static/app.js");

/// Every page template, compiled into the binary so `caseflow serve` needs no files to show pages.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/web/base.html")),
    ("login.html", include_str!("../../templates/web/login.html")),
    ("inbox.html", include_str!("../../templates/web/inbox.html")),
    ("case.html", include_str!("../../templates/web/case.html")),
    (
        "transition.html",
        include_str!("../../templates/web/transition.html"),
    ),
    (
        "workflows.html",
        include_str!("../../templates/web/workflows.html"),
    ),
    (
        "workflow.html",
        include_str!("../../templates/web/workflow.html"),
    ),
    (
        "editor.html",
        include_str!("../../templates/web/editor.html"),
    ),
    ("diff.html", include_str!("../../templates/web/diff.html")),
    ("error.html", include_str!("../../templates/web/error.html")),
];

fn templates() -> Result<&'static tera::Tera, String> {
    static PAGES: OnceLock<Result<tera::Tera, String>> = OnceLock::new();
    PAGES
        .get_or_init(|| {
            let mut tera = tera::Tera::default();
            // `.html` templates escape every value unless marked `safe`.
            tera.add_raw_templates(TEMPLATES.iter().copied())
                .map_err(|error| format!("{error:?}"))?;
            Ok(tera)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Renders page template `name`; the error names what failed, for the log.
pub fn render(name: &str, context: &tera::Context) -> Result<String, String> {
    templates()?
        .render(name, context)
        .map_err(|error| format!("{error:?}"))
}

/// The languages the pages offer labels in.
pub const LANGUAGES: &[&str] = &["en", "mi"];

/// The user's language: their own choice when made, else the first of the
/// browser's `Accept-Language` preferences we have, else English.
pub fn language(chosen: Option<&str>, accept_language: Option<&str>) -> &'static str {
    let wanted = chosen.into_iter().chain(
        accept_language
            .unwrap_or("")
            .split(',')
            .map(|part| part.split(';').next().unwrap_or("").trim()),
    );
    for tag in wanted {
        let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
        if let Some(found) = LANGUAGES.iter().find(|lang| **lang == primary) {
            return found;
        }
    }
    "en"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_template_compiles() {
        assert!(templates().is_ok(), "{:?}", templates().err());
    }

    #[test]
    fn the_language_is_the_users_choice_then_the_browsers() {
        assert_eq!(language(None, Some("mi-NZ,en;q=0.8")), "mi");
        assert_eq!(language(None, Some("fr, en-NZ;q=0.5")), "en");
        assert_eq!(language(Some("en"), Some("mi")), "en");
        assert_eq!(language(Some("mi"), None), "mi");
        assert_eq!(language(None, None), "en");
    }
}
