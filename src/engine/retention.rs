//! Retention, decided without I/O: which steps are due for a closed case, and
//! what scrubbing them does to its data and to the forms and changes in its
//! audit trail. The service writes the result; nothing here touches storage.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::definition::Definition;
use super::duration::Duration;
use super::model::RetentionAction;

/// The organisation-wide periods that outlast any one workflow's policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetentionPeriods {
    /// After closing, the whole record and its audit trail are removed (10 years).
    pub audit: Duration,
    /// After closing, fields marked `x-financial` are scrubbed (7 years); until
    /// then no policy scrubs them.
    pub financial: Duration,
}

impl Default for RetentionPeriods {
    fn default() -> Self {
        Self {
            audit: Duration::years(10),
            financial: Duration::years(7),
        }
    }
}

/// What retention needs to know of a case.
#[derive(Debug, Clone, Copy)]
pub struct RetentionFacts<'a> {
    pub state: &'a str,
    pub closed_at: Option<DateTime<Utc>>,
    pub legal_hold: bool,
    pub anonymised: bool,
    pub financial_scrubbed: bool,
}

/// One thing retention will do to a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum RetentionStep {
    /// The state's policy, `action: anonymise`: scrub these fields.
    Anonymise { fields: Vec<String> },
    /// The state's policy, `action: delete`: the data goes, except the
    /// financial fields still within their period; the case is hidden.
    Delete { kept: Vec<String> },
    /// The financial period passed: scrub the `x-financial` fields.
    ScrubFinancial { fields: Vec<String> },
    /// The audit period passed: the case and its whole trail are removed.
    Purge,
}

impl RetentionStep {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Anonymise { .. } => "anonymise",
            Self::Delete { .. } => "delete",
            Self::ScrubFinancial { .. } => "scrub_financial",
            Self::Purge => "purge",
        }
    }
}

/// The steps due for `case` at `now`, in the order to apply them; none under
/// a legal hold or while the case is open.
pub fn retention_due(
    definition: &Definition,
    case: RetentionFacts<'_>,
    periods: RetentionPeriods,
    now: DateTime<Utc>,
) -> Vec<RetentionStep> {
    let Some(closed_at) = case.closed_at else {
        return Vec::new();
    };
    if case.legal_hold {
        return Vec::new();
    }
    let passed = |period: Duration| period.add_to(closed_at).is_some_and(|due| due <= now);
    if passed(periods.audit) {
        return vec![RetentionStep::Purge];
    }
    let financial = financial_pointers(definition);
    let mut steps = Vec::new();
    let policy = definition
        .states
        .get(case.state)
        .and_then(|state| state.retention.as_ref());
    if let Some(policy) = policy.filter(|policy| !case.anonymised && passed(policy.after)) {
        let financial_kept = if passed(periods.financial) {
            Vec::new()
        } else {
            financial.clone()
        };
        steps.push(match policy.action {
            RetentionAction::Anonymise => {
                let fields = if policy.fields.is_empty() {
                    personal_pointers(definition)
                } else {
                    policy
                        .fields
                        .iter()
                        .map(|path| dotted_to_pointer(path))
                        .collect()
                };
                RetentionStep::Anonymise {
                    fields: fields
                        .into_iter()
                        .filter(|field| !financial_kept.contains(field))
                        .collect(),
                }
            }
            RetentionAction::Delete => RetentionStep::Delete {
                kept: financial_kept,
            },
        });
    }
    if !case.financial_scrubbed && !financial.is_empty() && passed(periods.financial) {
        steps.push(RetentionStep::ScrubFinancial { fields: financial });
    }
    steps
}

/// Case fields the case schema marks `x-personal`.
pub fn personal_pointers(definition: &Definition) -> Vec<String> {
    definition
        .case_schema
        .as_ref()
        .map(|schema| schema.personal_fields())
        .unwrap_or_default()
}

fn financial_pointers(definition: &Definition) -> Vec<String> {
    definition
        .case_schema
        .as_ref()
        .map(|schema| schema.financial_fields().to_vec())
        .unwrap_or_default()
}

/// `client.name` as the pointer `/client/name`.
pub fn dotted_to_pointer(path: &str) -> String {
    let mut pointer = String::with_capacity(path.len() + 1);
    for part in path.split('.') {
        pointer.push('/');
        pointer.push_str(&part.replace('~', "~0").replace('/', "~1"));
    }
    pointer
}

/// `/client/contacts/0/name` as the dotted path `client.contacts.0.name`
/// audit changes use.
pub fn pointer_to_dotted(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|part| part.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// Removes every value `pointer` names (`*` is each array item); returns the
/// concrete pointers removed.
pub fn scrub(value: &mut Value, pointer: &str) -> Vec<String> {
    let mut removed = Vec::new();
    let parts: Vec<&str> = pointer.split('/').skip(1).collect();
    scrub_at(value, &parts, String::new(), &mut removed);
    removed
}

fn scrub_at(value: &mut Value, parts: &[&str], at: String, removed: &mut Vec<String>) {
    let Some((first, rest)) = parts.split_first() else {
        return;
    };
    match value {
        Value::Array(items) if *first == "*" => {
            for (index, item) in items.iter_mut().enumerate() {
                scrub_at(item, rest, format!("{at}/{index}"), removed);
            }
        }
        Value::Object(object) => {
            let key = first.replace("~1", "/").replace("~0", "~");
            if rest.is_empty() {
                if object.shift_remove(&key).is_some() {
                    removed.push(format!("{at}/{first}"));
                }
            } else if let Some(child) = object.get_mut(&key) {
                scrub_at(child, rest, format!("{at}/{first}"), removed);
            }
        }
        _ => {}
    }
}

/// The form and changes of one audit entry with `case_fields` (pointers into
/// the case data) and, in the entry's form, `form_fields` removed. `None`
/// when the entry held none of them.
pub fn scrub_entry(
    form: Option<&Value>,
    changes: &Value,
    case_fields: &[String],
    form_fields: &[String],
) -> Option<(Option<Value>, Value)> {
    let mut touched = false;
    let form = form.map(|form| {
        let mut form = form.clone();
        for field in form_fields {
            touched |= !scrub(&mut form, field).is_empty();
        }
        form
    });
    let mut changes = changes.clone();
    if let Some(items) = changes.as_array_mut() {
        for change in items.iter_mut() {
            let Some(path) = change.get("path").and_then(Value::as_str) else {
                continue;
            };
            let changed = dotted_to_pointer(path);
            for field in case_fields {
                touched |= scrub_change(change, &changed, field);
            }
        }
    }
    touched.then_some((form, changes))
}

/// A change at `changed` loses the part of its old and new values that
/// `field` names: all of them when the field holds the change, the inner
/// field when the change wrote a whole object holding it.
fn scrub_change(change: &mut Value, changed: &str, field: &str) -> bool {
    let mut touched = false;
    for side in ["old", "new"] {
        let Some(value) = change.get_mut(side) else {
            continue;
        };
        if value.is_null() {
            continue;
        }
        if covers(field, changed) {
            *value = Value::Null;
            touched = true;
        } else if let Some(inner) = field
            .strip_prefix(changed)
            .filter(|rest| rest.starts_with('/'))
        {
            touched |= !scrub(value, inner).is_empty();
        }
    }
    touched
}

/// Whether `field` (with `*` wildcards) names `pointer` or one of its ancestors.
fn covers(field: &str, pointer: &str) -> bool {
    let mut field_parts = field.split('/');
    let mut pointer_parts = pointer.split('/');
    loop {
        match (field_parts.next(), pointer_parts.next()) {
            (None, _) => return true,
            (Some(_), None) => return false,
            (Some(f), Some(p)) if f == p || (f == "*" && p.parse::<usize>().is_ok()) => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scrub_removes_fields_in_every_array_item() {
        let mut data = json!({"client": {"name": "Aroha", "contacts": [
            {"name": "Mere", "phone": "021"}, {"name": "Hemi", "phone": "022"}]}, "risk": "low"});
        let removed = scrub(&mut data, "/client/contacts/*/phone");
        assert_eq!(
            removed,
            ["/client/contacts/0/phone", "/client/contacts/1/phone"]
        );
        assert_eq!(
            data,
            json!({"client": {"name": "Aroha", "contacts": [{"name": "Mere"}, {"name": "Hemi"}]},
            "risk": "low"})
        );
        assert!(scrub(&mut data, "/client/missing").is_empty());
    }

    #[test]
    fn entries_lose_personal_values_in_forms_and_changes() {
        let changes = json!([
            {"path": "client.name", "old": "Aroha", "new": "Aroha N"},
            {"path": "client", "old": null, "new": {"name": "A", "iwi": "Ngāti Porou"}},
            {"path": "risk_level", "old": null, "new": "low"}
        ]);
        let form = json!({"reason": "moved away", "note": "lives with Mere"});
        let (form, changes) = scrub_entry(
            Some(&form),
            &changes,
            &["/client/name".to_owned()],
            &["/note".to_owned()],
        )
        .expect("something personal was there");
        assert_eq!(form, Some(json!({"reason": "moved away"})));
        assert_eq!(
            changes,
            json!([
                {"path": "client.name", "old": null, "new": null},
                {"path": "client", "old": null, "new": {"iwi": "Ngāti Porou"}},
                {"path": "risk_level", "old": null, "new": "low"}
            ])
        );
        let plain = json!([{"path": "risk_level", "old": null, "new": "low"}]);
        assert_eq!(
            scrub_entry(None, &plain, &["/client/name".to_owned()], &[]),
            None
        );
    }

    #[test]
    fn dotted_paths_become_pointers() {
        assert_eq!(dotted_to_pointer("client.name"), "/client/name");
        assert_eq!(
            pointer_to_dotted("/client/contacts/0/name"),
            "client.contacts.0.name"
        );
        assert!(covers("/contacts/*/phone", "/contacts/3/phone"));
        assert!(covers("/client", "/client/name"));
        assert!(!covers("/client/name", "/client"));
    }
}
