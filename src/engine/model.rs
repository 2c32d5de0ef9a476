//! The workflow definition as written in `workflows/*.yaml`.
//!
//! These types mirror the YAML one to one; `compile` turns them into a
//! [`Definition`](super::Definition) whose names are resolved and whose
//! expressions are compiled. Unknown keys are collected by the parser and
//! reported as errors, so every struct here stays open to serde and closed in
//! the generated JSON Schema.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One workflow file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct WorkflowDoc {
    /// Identifier, `[a-z0-9_]+`; the file name without `.yaml` by convention.
    pub workflow: String,
    /// Bumped on every published change.
    pub version: u32,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Name of `schemas/<name>.json` validating the case data; absent: any object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_schema: Option<String>,
    /// The state a new case starts in.
    pub initial: String,
    /// The roles this workflow speaks of; when given, every role named elsewhere must be one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Rules modules (`rules/<name>.rhai`) callable as `name::function(...)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<String>,
    /// Cases of other workflows this one reads (as `links.NAME` in rules) and may fire
    /// transitions on (`fire_linked`): the linked case's id is held in a field of this case.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub links: IndexMap<String, LinkDoc>,
    /// Case data paths whose value no two cases of this workflow in an organisation share
    /// (e.g. `invoice_number`); checked by the service when a case opens or moves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique: Vec<String>,
    pub states: IndexMap<String, StateDoc>,
    pub transitions: IndexMap<String, TransitionDoc>,
    /// Scenarios run by `caseflow test`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<ScenarioDoc>,
}

/// A case of another workflow, found through a field of this case holding its id.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LinkDoc {
    /// The workflow of the linked case.
    pub workflow: String,
    /// Case data path holding the linked case's id, e.g. `plan_id`.
    pub field: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StateDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A terminal state accepts no transition.
    #[serde(default)]
    pub terminal: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deadlines: Vec<DeadlineDoc>,
    /// Only on terminal states: what happens to the case's data after it closes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionDoc>,
}

/// A deadline starts when a case enters the state and is cancelled when it leaves.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DeadlineDoc {
    /// A duration after entering the state: `90s`, `30m`, `12h`, `2d`, `3w`, `6mo`, `7y`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// A Rhai expression giving a date (`YYYY-MM-DD`) or time, e.g. `case.consent.expiry_date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// With `at`: fall due this long before that date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// Send a reminder or escalation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifyDoc>,
    /// Fire this transition as the system actor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fire: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NotifyDoc {
    /// Everyone in the organisation holding one of these roles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// A Rhai expression giving an e-mail address or a list of them, e.g. `case.referrer.email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Name of the template in `templates/`.
    pub template: String,
    /// Rhai condition: notify only when it is true (e.g. `form.severity == "serious"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RetentionDoc {
    /// How long after the case closed, e.g. `7y`.
    pub after: String,
    pub action: RetentionAction,
    /// Case data fields to scrub; absent: every field the case schema marks `x-personal`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RetentionAction {
    Anonymise,
    Delete,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TransitionDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The states this transition leaves from.
    pub from: OneOrMany,
    pub to: TargetDoc,
    /// Who may fire it; absent: any signed-in user of the organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Name of `schemas/<name>.json`: what staff fill in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<String>,
    /// Rhai expression: `true`, `false`, or a reason (string or list of strings) to refuse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<String>,
    /// Case data path → Rhai expression, applied in order.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub set: IndexMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<NotifyDoc>,
    /// Cases of other workflows started by this move.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub start: Vec<StartDoc>,
    /// Transitions fired on linked cases after this move, by the system, once each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fire_linked: Vec<FireLinkedDoc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct FireLinkedDoc {
    /// A name under `links`.
    pub link: String,
    /// The transition of the linked case's workflow to fire.
    pub transition: String,
    /// Field → Rhai expression giving that transition's form.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub form: IndexMap<String, String>,
}

/// A single name or a list of names.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            Self::One(one) => vec![one.clone()],
            Self::Many(many) => many.clone(),
        }
    }
}

/// `to: state`, or branches tried in order, the last one without `when`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TargetDoc {
    State(String),
    Branches(Vec<BranchDoc>),
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct BranchDoc {
    /// Rhai expression; the first branch whose `when` is true wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    pub to: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StartDoc {
    pub workflow: String,
    /// Field → Rhai expression giving the new case's data.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub data: IndexMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ScenarioDoc {
    pub name: String,
    /// The case data the scenario starts with.
    #[serde(default)]
    pub data: serde_json::Value,
    /// The data of the linked cases, by link name, as rules see it in `links`.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub links: serde_json::Value,
    /// The clock at the start, RFC 3339; default `2025-01-01T09:00:00Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
    pub steps: Vec<StepDoc>,
}

/// One step: `fire` a transition, or `advance` the fake clock (deadlines fall due).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct StepDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fire: Option<String>,
    /// The actor's roles; absent: the system actor.
    #[serde(default, rename = "as", skip_serializing_if = "Option::is_none")]
    pub as_roles: Option<Vec<String>>,
    /// The actor's id; default `user-` and the first role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<serde_json::Value>,
    /// A duration to move the clock forward by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advance: Option<String>,
    /// The state the case must be in after the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<String>,
    /// The step must be refused: `state`, `role`, `form`, `guard` or `terminal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// With `refused: guard`: a text every reason list must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Case data path → the value it must hold after the step.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub expect_data: IndexMap<String, serde_json::Value>,
    /// Templates that must have been notified by this step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_notify: Vec<String>,
    /// Workflows that must have been started by this step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_start: Vec<String>,
    /// Transitions this step fired on linked cases, as `LINK.TRANSITION`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect_linked: Vec<String>,
}
