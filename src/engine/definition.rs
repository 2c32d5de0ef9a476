//! A compiled workflow: names resolved, expressions compiled, forms attached.
//! Only [`compile`](super::compile) builds one, so every `Definition` is valid.

use std::sync::Arc;

use indexmap::IndexMap;

use super::Duration;
use super::model::{RetentionAction, WorkflowDoc};
use crate::forms::Form;
use crate::rules::{Rules, Script};

pub struct Definition {
    pub id: String,
    pub version: u32,
    pub title: String,
    pub initial: String,
    /// The YAML as written, for publishing and display.
    pub source: String,
    pub doc: WorkflowDoc,
    pub case_schema: Option<Arc<Form>>,
    pub states: IndexMap<String, State>,
    pub transitions: IndexMap<String, Transition>,
    /// Linked cases by name: (workflow, case data path of its id).
    pub links: IndexMap<String, Link>,
    /// Case data paths unique among this workflow's cases in an organisation.
    pub unique: Vec<String>,
    pub rules: Arc<Rules>,
}

#[derive(Debug, Clone)]
pub struct Link {
    pub workflow: String,
    pub field: String,
}

impl std::fmt::Debug for Definition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Definition")
            .field("id", &self.id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Definition {
    /// Transitions leaving `state`, in definition order.
    pub fn transitions_from<'a>(&'a self, state: &'a str) -> impl Iterator<Item = &'a Transition> {
        self.transitions
            .values()
            .filter(move |transition| transition.from.iter().any(|from| from == state))
    }
}

#[derive(Debug)]
pub struct State {
    pub name: String,
    pub title: String,
    pub terminal: bool,
    pub deadlines: Vec<Deadline>,
    pub retention: Option<Retention>,
}

#[derive(Debug)]
pub struct Deadline {
    pub when: DeadlineWhen,
    pub action: DeadlineAction,
}

#[derive(Debug)]
pub enum DeadlineWhen {
    After(Duration),
    At {
        date: Script,
        before: Option<Duration>,
    },
}

#[derive(Debug)]
pub enum DeadlineAction {
    Notify(Notify),
    Fire(String),
}

#[derive(Debug)]
pub struct Retention {
    pub after: Duration,
    pub action: RetentionAction,
    pub fields: Vec<String>,
}

#[derive(Debug)]
pub struct Notify {
    pub roles: Vec<String>,
    pub to: Option<Script>,
    pub template: String,
    /// Only when this is true.
    pub when: Option<Script>,
}

#[derive(Debug)]
pub struct Transition {
    pub name: String,
    pub title: String,
    pub from: Vec<String>,
    pub to: Target,
    /// `None`: any signed-in user of the organisation.
    pub roles: Option<Vec<String>>,
    pub form: Option<Arc<Form>>,
    pub guard: Option<Guard>,
    pub set: Vec<(String, Script)>,
    pub notify: Vec<Notify>,
    pub start: Vec<Start>,
    pub fire_linked: Vec<FireLinked>,
}

#[derive(Debug)]
pub struct FireLinked {
    pub link: String,
    pub transition: String,
    pub form: Vec<(String, Script)>,
}

#[derive(Debug)]
pub struct Guard {
    pub script: Script,
    /// Whether the guard reads `form`: such a guard can only be judged once the form is filled in.
    pub reads_form: bool,
}

#[derive(Debug)]
pub enum Target {
    State(String),
    Branches {
        branches: Vec<(Script, String)>,
        otherwise: String,
    },
}

impl Target {
    pub fn states(&self) -> Vec<&str> {
        match self {
            Self::State(state) => vec![state.as_str()],
            Self::Branches {
                branches,
                otherwise,
            } => branches
                .iter()
                .map(|(_, state)| state.as_str())
                .chain(std::iter::once(otherwise.as_str()))
                .collect(),
        }
    }
}

#[derive(Debug)]
pub struct Start {
    pub workflow: String,
    pub data: Vec<(String, Script)>,
}
