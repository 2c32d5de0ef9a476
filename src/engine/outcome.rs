//! What firing a transition returns: the move and its effects, or why not.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::forms::FieldError;

/// One field the move changed in the case data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub path: String,
    pub old: serde_json::Value,
    pub new: serde_json::Value,
}

impl Change {
    /// `{path, old, new}`, as `serde_json::to_value` gives it, but moving the
    /// values instead of copying them (the audit entry's copy is the last).
    pub fn into_value(self) -> serde_json::Value {
        let mut object = serde_json::Map::with_capacity(3);
        object.insert("path".to_owned(), serde_json::Value::String(self.path));
        object.insert("old".to_owned(), self.old);
        object.insert("new".to_owned(), self.new);
        serde_json::Value::Object(object)
    }
}

/// Work the move asks for; the engine performs none of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Tell people: everyone holding `roles`, and the addresses in `to`.
    Notify {
        template: String,
        roles: Vec<String>,
        to: Vec<String>,
    },
    /// The deadline `index` of `state` falls due at `due`.
    ScheduleDeadline {
        state: String,
        index: usize,
        due: DateTime<Utc>,
    },
    /// The case left `state`: its pending deadlines no longer apply.
    CancelDeadlines { state: String },
    /// Open a case of another workflow.
    StartCase {
        workflow: String,
        data: serde_json::Value,
    },
    /// Fire `transition` on the linked case `case` (its id as held in this case's data),
    /// as the system, with `form`.
    FireLinked {
        link: String,
        workflow: String,
        case: String,
        transition: String,
        form: serde_json::Value,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// `None` when the case was just opened.
    pub transition: Option<String>,
    pub from: Option<String>,
    pub to: String,
    /// The whole case data after the move.
    pub data: serde_json::Value,
    pub changes: Vec<Change>,
    pub effects: Vec<Effect>,
    /// Things that did not stop the move but someone should know (a deadline date missing).
    pub warnings: Vec<String>,
}

/// Why a move did not happen. Each kind has a stable code for APIs and tests.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error("no transition `{0}` in this workflow")]
    UnknownTransition(String),
    #[error("the case is in `{state}`, which is terminal and accepts no transition")]
    Terminal { state: String },
    #[error("`{transition}` leaves from {from:?}, but the case is in `{state}`")]
    WrongState {
        transition: String,
        state: String,
        from: Vec<String>,
    },
    #[error("`{transition}` needs one of the roles {required:?}")]
    Forbidden {
        transition: String,
        required: Vec<String>,
    },
    #[error("the form has {} problem(s)", .0.len())]
    InvalidForm(Vec<FieldError>),
    #[error("refused: {}", .0.join("; "))]
    Guard(Vec<String>),
    #[error("the case data would not match its schema: {}", describe_fields(.0))]
    InvalidCase(Vec<FieldError>),
    #[error("a rule failed: {0}")]
    Rule(String),
}

fn describe_fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|error| format!("{} {}", error.path, error.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl Refusal {
    /// Stable code: `unknown_transition`, `terminal`, `wrong_state`, `forbidden`,
    /// `invalid_form`, `guard`, `invalid_case`, `rule_error`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownTransition(_) => "unknown_transition",
            Self::Terminal { .. } => "terminal",
            Self::WrongState { .. } => "wrong_state",
            Self::Forbidden { .. } => "forbidden",
            Self::InvalidForm(_) => "invalid_form",
            Self::Guard(_) => "guard",
            Self::InvalidCase(_) => "invalid_case",
            Self::Rule(_) => "rule_error",
        }
    }
}

/// One transition as the caller sees it: may they fire it now, and if not, why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Availability {
    pub name: String,
    pub title: String,
    pub allowed: bool,
    pub reasons: Vec<String>,
    pub form: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::Change;
    use serde_json::json;

    #[test]
    fn a_change_becomes_the_value_serde_gives() {
        let change = Change {
            path: "client.risk".to_owned(),
            old: json!({"level": "low", "since": ["2025-01-01"]}),
            new: json!(null),
        };
        let serialised = serde_json::to_value(&change).expect("serialises");
        let moved = change.into_value();
        assert_eq!(moved, serialised);
        assert_eq!(moved.to_string(), serialised.to_string());
    }
}
