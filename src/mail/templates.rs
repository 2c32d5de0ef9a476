//! Notification templates: `templates/notify/NAME.txt.tera` holds a first
//! line `Subject: ...` and the plain-text body; an optional
//! `NAME.html.tera` holds the HTML body, otherwise the text is wrapped.

use std::path::Path;

use serde_json::Value;

/// A rendered notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}:{column}: error: {message}")]
pub struct TemplateError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl TemplateError {
    fn new(file: String, message: String) -> Self {
        let (line, column) = position(&message).unwrap_or((1, 1));
        // Tera's parse errors draw the line with a caret over several lines;
        // one line saying what was expected reads better after FILE:LINE:COL.
        let summary = message
            .lines()
            .rev()
            .find_map(|l| l.trim_start().strip_prefix("= "))
            .map_or_else(
                || message.lines().next().unwrap_or_default().trim().to_owned(),
                |expected| format!("cannot parse the template: {}", expected.trim()),
            );
        Self {
            file,
            line,
            column,
            message: summary,
        }
    }
}

/// The `--> LINE:COL` tera's parser puts in its messages.
fn position(message: &str) -> Option<(usize, usize)> {
    let after = &message[message.find("--> ")? + 4..];
    let (line, rest) = after.split_once(':')?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

pub struct Templates {
    tera: tera::Tera,
}

/// Tera's error with its causes, which hold the useful part (line, column, what).
fn explain(error: &tera::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Templates {
    /// Compiles every template in `folder`, reporting every one that fails.
    pub fn load(folder: &Path) -> Result<Self, Vec<TemplateError>> {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![".html.tera"]);
        let mut errors = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(folder)
            .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
            .unwrap_or_default();
        files.sort();
        for path in files {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.ends_with(".tera") {
                continue;
            }
            let source = match std::fs::read_to_string(&path) {
                Ok(source) => source,
                Err(error) => {
                    errors.push(TemplateError::new(
                        path.display().to_string(),
                        error.to_string(),
                    ));
                    continue;
                }
            };
            if name.ends_with(".txt.tera") && !source.starts_with("Subject:") {
                errors.push(TemplateError::new(
                    path.display().to_string(),
                    "the first line must be `Subject: ...`".to_owned(),
                ));
            }
            if let Err(error) = tera.add_raw_template(name, &source) {
                errors.push(TemplateError::new(
                    path.display().to_string(),
                    explain(&error),
                ));
            }
        }
        if errors.is_empty() {
            Ok(Self { tera })
        } else {
            Err(errors)
        }
    }

    /// Renders template `name` with `context` (an object).
    pub fn render(&self, name: &str, context: &Value) -> Result<Rendered, TemplateError> {
        let fail = |message: String| {
            TemplateError::new(format!("templates/notify/{name}.txt.tera"), message)
        };
        let context =
            tera::Context::from_value(context.clone()).map_err(|error| fail(explain(&error)))?;
        let text = self
            .tera
            .render(&format!("{name}.txt.tera"), &context)
            .map_err(|error| fail(explain(&error)))?;
        let (subject, body) = text
            .split_once('\n')
            .map_or((text.as_str(), ""), |(first, rest)| (first, rest));
        let subject = subject.trim_start_matches("Subject:").trim().to_owned();
        let body = body.trim_start_matches('\n').to_owned();
        let html_name = format!("{name}.html.tera");
        let html = if self.tera.get_template_names().any(|n| n == html_name) {
            self.tera
                .render(&html_name, &context)
                .map_err(|error| fail(explain(&error)))?
        } else {
            wrap_as_html(&body)
        };
        Ok(Rendered {
            subject,
            text: body,
            html,
        })
    }
}

/// The plain text as HTML: escaped, one paragraph per blank-line block.
fn wrap_as_html(text: &str) -> String {
    use crate::web::escape;
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>", escape(p.trim()).replace('\n', "<br>")))
        .collect();
    format!(
        "<!doctype html><html><body>{}</body></html>",
        paragraphs.join("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("dir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        dir
    }

    #[test]
    fn a_template_renders_subject_text_and_escaped_html() {
        let dir = folder(&[(
            "waiting.txt.tera",
            "Subject: {{ case.name }} waits\n\nHello <{{ case.name }}>.\nSee {{ links.case }}\n\nBye",
        )]);
        let templates = Templates::load(dir.path()).expect("load");
        let rendered = templates
            .render(
                "waiting",
                &serde_json::json!({"case": {"name": "Aroha & co"}, "links": {"case": "http://x/1"}}),
            )
            .expect("render");
        assert_eq!(rendered.subject, "Aroha & co waits");
        assert_eq!(rendered.text, "Hello <Aroha & co>.\nSee http://x/1\n\nBye");
        assert_eq!(
            rendered.html,
            "<!doctype html><html><body><p>Hello &lt;Aroha &amp; co&gt;.<br>See http://x/1</p><p>Bye</p></body></html>"
        );
    }

    #[test]
    fn broken_templates_are_all_reported_with_their_file() {
        let dir = folder(&[
            ("a.txt.tera", "Subject: {{ oops\n"),
            ("b.txt.tera", "no subject line"),
            ("c.txt.tera", "Subject: fine\n{% if %}"),
        ]);
        let errors = Templates::load(dir.path()).err().expect("errors");
        let files: Vec<String> = errors
            .iter()
            .map(|e| e.file.rsplit('/').next().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(files, ["a.txt.tera", "b.txt.tera", "c.txt.tera"]);
        assert_eq!((errors[0].line, errors[0].column), (2, 1), "{}", errors[0]);
        assert!(!errors[0].to_string().contains('\n'), "{}", errors[0]);
        assert!(
            errors[1]
                .to_string()
                .ends_with("b.txt.tera:1:1: error: the first line must be `Subject: ...`")
        );
    }

    #[test]
    fn a_missing_variable_is_an_error_not_an_empty_string() {
        let dir = folder(&[("x.txt.tera", "Subject: hi\n{{ case.missing }}")]);
        let templates = Templates::load(dir.path()).expect("load");
        assert!(
            templates
                .render("x", &serde_json::json!({"case": {}}))
                .is_err()
        );
    }
}
