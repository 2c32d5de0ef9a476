//! The pure engine: definitions, their validation, and firing transitions.
//!
//! Nothing here performs I/O. Sources come in as text ([`Sources`]), moves go
//! out as [`Outcome`]s listing the effects for the service layer to carry out.

mod catalog;
mod checker;
mod compile;
pub mod data_path;
mod deadlines;
mod definition;
pub mod diagnostics;
pub mod diagram;
mod duration;
mod fire;
mod graph;
mod links;
pub mod model;
mod outcome;
mod parse;
mod reference;
pub mod retention;
pub mod scenario;
mod scenario_check;
pub mod source_map;

pub use catalog::{Catalog, SourceFile, Sources};
pub use deadlines::{DeadlineResult, deadline_due, deadline_due_with_links, due_dates};
pub use definition::{
    Deadline, DeadlineAction, DeadlineWhen, Definition, FireLinked, Guard, Link, Notify, Retention,
    Start, State, Target, Transition,
};
pub use diagnostics::{Diagnostic, Pos, Severity};
pub use duration::{Duration, DurationError, Unit};
pub use fire::{
    CaseView, available, available_with_links, fire, fire_with_bindings, fire_with_links, start,
};
pub use outcome::{Availability, Change, Effect, Outcome, Refusal};
pub use parse::{ParsedWorkflow, parse_workflow};

/// The JSON Schema of the workflow file format, for editors.
pub fn workflow_json_schema() -> serde_json::Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(model::WorkflowDoc))
        .unwrap_or(serde_json::Value::Null);
    if let Some(object) = schema.as_object_mut() {
        object.insert(
            "$id".to_owned(),
            "https://caseflow.local/schemas/workflow.schema.json".into(),
        );
    }
    schema
}
