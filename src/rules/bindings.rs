//! The variables a snippet sees, put into Rhai's scope only when a snippet needs them.
//!
//! Most snippets of a move read one field (`form.risk_level`, `actor.id`) or one or two
//! variables, so converting the whole case, the form and the actor into Rhai values for
//! every move was most of the work of firing it. A snippet that only reads a field is
//! answered from the JSON ([`FieldRead`]); the others get just the variables they name.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use rhai::{Dynamic, Scope};
use serde_json::Value;

use super::scan::names_anywhere;
use super::{Actor, to_dynamic};
use crate::engine::data_path;

/// The variables every snippet may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Root {
    Case,
    Form,
    Actor,
    Now,
    Today,
    Links,
}

impl Root {
    pub(super) const ALL: [Root; 6] = [
        Root::Case,
        Root::Form,
        Root::Actor,
        Root::Now,
        Root::Today,
        Root::Links,
    ];

    pub(super) fn name(self) -> &'static str {
        match self {
            Root::Case => "case",
            Root::Form => "form",
            Root::Actor => "actor",
            Root::Now => "now",
            Root::Today => "today",
            Root::Links => "links",
        }
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of [`Root`]s: the variables a snippet names, or those already in scope.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Roots(u8);

impl Roots {
    /// Every variable whose name appears as a word in `source`, strings and comments
    /// included: naming one too many only costs its conversion, one too few breaks the rule.
    pub(super) fn named_in(source: &str) -> Self {
        let mut roots = Roots::default();
        for root in Root::ALL {
            if names_anywhere(source, root.name()) {
                roots.0 |= root.bit();
            }
        }
        roots
    }

    fn contains(self, root: Root) -> bool {
        self.0 & root.bit() != 0
    }
}

/// A snippet that is nothing but a variable and fields, such as `case.consent.expiry_date`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FieldRead {
    root: Root,
    fields: Vec<String>,
}

impl FieldRead {
    pub(super) fn parse(source: &str) -> Option<Self> {
        let mut parts = source.trim().split('.');
        let first = parts.next()?;
        let root = Root::ALL.into_iter().find(|root| root.name() == first)?;
        let fields = parts
            .map(|part| is_identifier(part).then(|| part.to_owned()))
            .collect::<Option<Vec<_>>>()?;
        Some(Self { root, fields })
    }
}

fn is_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The variables of one move (or one deadline, or one listing of what a user may do).
/// Built once and reused by every snippet of it; a `set` writes into its copy of the case.
pub struct Bindings<'a> {
    case: Cow<'a, Value>,
    form: &'a Value,
    actor: &'a Actor,
    now: DateTime<Utc>,
    links: &'a Value,
    pub(super) scope: Scope<'static>,
    in_scope: Roots,
}

impl<'a> Bindings<'a> {
    pub fn new(case: &'a Value, form: &'a Value, actor: &'a Actor, now: DateTime<Utc>) -> Self {
        Self {
            case: Cow::Borrowed(case),
            form,
            actor,
            now,
            links: &Value::Null,
            scope: Scope::new(),
            in_scope: Roots::default(),
        }
    }

    /// As [`Bindings::new`], owning the case's data, so that `set` changes it in place.
    pub fn taking(case: Value, form: &'a Value, actor: &'a Actor, now: DateTime<Utc>) -> Self {
        Self {
            case: Cow::Owned(case),
            ..Self::new(&Value::Null, form, actor, now)
        }
    }

    /// Who fires the move.
    pub fn actor(&self) -> &'a Actor {
        self.actor
    }

    /// The form sent with the move (`null` without one).
    pub fn form(&self) -> &'a Value {
        self.form
    }

    /// The move's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Lets rules read the linked cases' data as `links` (link name → data); a link whose
    /// case is not there reads as `()`, and without links `links` is an empty map.
    #[must_use]
    pub fn with_links(mut self, links: &'a Value) -> Self {
        self.links = links;
        self
    }

    /// The case as the move has left it so far.
    pub fn case(&self) -> &Value {
        &self.case
    }

    /// The case after the move's `set`s.
    pub fn into_case(self) -> Value {
        self.case.into_owned()
    }

    /// Writes one field of the case after a `set`, so later snippets of the same move see
    /// it. Null removes the field: an optional form field left empty unsets it rather than
    /// storing null, which a case schema's typed optional field would refuse.
    pub fn set_case_field(&mut self, path: &str, value: Value) {
        if value.is_null() {
            data_path::remove(self.case.to_mut(), path);
        } else {
            data_path::set(self.case.to_mut(), path, value);
        }
        self.case_changed();
    }

    /// As [`Bindings::set_case_field`], giving back the value that was there (null: none) and
    /// how many of the values on the way were objects ([`data_path::get_counting`]).
    pub fn put_case_field(&mut self, path: &str, value: Value) -> (Value, usize) {
        if value.is_null() {
            let (old, objects) = data_path::get_counting(&self.case, path);
            let old = old.cloned().unwrap_or(Value::Null);
            if !old.is_null() {
                self.set_case_field(path, value);
            }
            return (old, objects);
        }
        let (old, objects) = data_path::replace(self.case.to_mut(), path, value);
        self.case_changed();
        (old.unwrap_or(Value::Null), objects)
    }

    /// Rhai's copy is made again if a later snippet needs it: most moves have none.
    fn case_changed(&mut self) {
        if self.in_scope.contains(Root::Case) {
            let _outdated = self.scope.remove::<Dynamic>(Root::Case.name());
            self.in_scope.0 &= !Root::Case.bit();
        }
    }

    /// The JSON a variable stands for; without links, `links` is an empty map.
    fn root_value(&self, root: Root) -> Cow<'_, Value> {
        match root {
            Root::Case => Cow::Borrowed(&*self.case),
            Root::Form => Cow::Borrowed(self.form),
            Root::Links if self.links.is_object() => Cow::Borrowed(self.links),
            Root::Links => Cow::Owned(Value::Object(serde_json::Map::new())),
            Root::Actor => Cow::Owned(serde_json::json!({
                "id": self.actor.id, "roles": self.actor.roles, "system": self.actor.system
            })),
            Root::Now => Cow::Owned(Value::String(
                self.now.to_rfc3339_opts(SecondsFormat::Secs, true),
            )),
            Root::Today => Cow::Owned(Value::String(super::helpers::iso(self.now.date_naive()))),
        }
    }

    /// `actor.<name>` without building the whole `actor` object first.
    fn actor_field(&self, name: &str) -> Value {
        match name {
            "id" => Value::String(self.actor.id.clone()),
            "roles" => Value::from(self.actor.roles.clone()),
            "system" => Value::Bool(self.actor.system),
            _ => Value::Null,
        }
    }

    /// The field `read` names, or `None` where the way to it is not through maps
    /// (Rhai answers those, with its own error where there is one).
    pub(super) fn read(&self, read: &FieldRead) -> Option<Value> {
        self.read_with(read, Value::clone)
    }

    /// As [`Bindings::read`], the field as a Rhai value, converted in place.
    pub(super) fn read_dynamic(&self, read: &FieldRead) -> Option<Dynamic> {
        self.read_with(read, to_dynamic)
    }

    pub(super) fn read_with<T>(
        &self,
        read: &FieldRead,
        take: impl FnOnce(&Value) -> T,
    ) -> Option<T> {
        let (root, fields) = match (read.root, read.fields.split_first()) {
            (Root::Actor, Some((first, rest))) => (Cow::Owned(self.actor_field(first)), rest),
            _ => (self.root_value(read.root), read.fields.as_slice()),
        };
        let mut current = &*root;
        for field in fields {
            current = match current {
                Value::Object(fields) => fields.get(field).unwrap_or(&Value::Null),
                _ => return None,
            };
        }
        Some(take(current))
    }

    /// Puts into scope the variables of `roots` not there yet.
    pub(super) fn prepare(&mut self, roots: Roots) {
        for root in Root::ALL {
            if roots.contains(root) && !self.in_scope.contains(root) {
                let value = to_dynamic(&self.root_value(root));
                self.scope.push_constant_dynamic(root.name(), value);
                self.in_scope.0 |= root.bit();
            }
        }
    }
}

#[cfg(test)]
pub(in crate::rules) mod tests {
    use super::*;
    use crate::rules::{ReferenceData, Rules, Script};
    use serde_json::json;

    fn rules() -> Rules {
        let (rules, failures) = Rules::new(&[], ReferenceData::default());
        assert!(failures.is_empty());
        rules
    }

    pub(in crate::rules) fn at() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2025-03-04T05:06:07Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default()
    }

    /// The bindings with every variable already in Rhai's scope.
    fn everything(mut bindings: Bindings) -> Bindings {
        bindings.prepare(Roots(u8::MAX));
        bindings
    }

    /// What Rhai itself gives for `script`, with every variable in scope.
    fn through_rhai(rules: &Rules, script: &Script, bindings: Bindings) -> String {
        match rules.eval_rhai(script, &mut everything(bindings)) {
            Ok(value) => format!("{} {value:?}", value.type_name()),
            Err(error) => format!("error: {}", error.message),
        }
    }

    fn answered(rules: &Rules, script: &Script, bindings: &mut Bindings) -> String {
        match rules.eval(script, bindings) {
            Ok(value) => format!("{} {value:?}", value.type_name()),
            Err(error) => format!("error: {}", error.message),
        }
    }

    /// Asserts that `script` gives, as a Rhai value and as JSON, what Rhai itself gives
    /// with every variable in scope; `fresh` makes a new set of bindings each time.
    pub(in crate::rules) fn assert_gives_what_rhai_gives<'a>(
        rules: &Rules,
        script: &Script,
        fresh: impl Fn() -> Bindings<'a>,
        source: &str,
    ) {
        let expected = through_rhai(rules, script, fresh());
        assert_eq!(answered(rules, script, &mut fresh()), expected, "{source}");
        let as_json = rules.eval_json(script, &mut fresh());
        let rhai_json = rules
            .eval_rhai(script, &mut everything(fresh()))
            .and_then(|value| crate::rules::to_json(&value));
        assert_eq!(as_json, rhai_json, "{source} as JSON");
    }

    #[test]
    fn a_field_read_gives_what_rhai_gives() {
        let rules = rules();
        let case = json!({
            "client": {"name": "Aroha", "born": "2001-02-03", "tags": ["a", 1, 2.5, null]},
            "count": 3, "ratio": 0.5, "whole": 3.0, "huge": u64::MAX, "flag": true, "gone": null
        });
        let form = json!({"risk_level": "low", "nested": {"deep": {"x": -4}}});
        let links = json!({"plan": {"budget": 1200}, "missing": null});
        let actor = Actor::user("u-1", vec!["clinician".to_owned()]);
        let snippets = [
            "case",
            "case.client",
            "case.client.name",
            "case.client.tags",
            "case.count",
            "case.ratio",
            "case.whole",
            "case.huge",
            "case.flag",
            "case.gone",
            "case.nothing",
            "case.nothing.deeper",
            "case.client.name.len",
            "case.client.tags.len",
            "form",
            "form.risk_level",
            "form.nested.deep.x",
            "actor",
            "actor.id",
            "actor.roles",
            "actor.system",
            "actor.other",
            "now",
            "today",
            "links",
            "links.plan.budget",
            "links.missing",
            "links.missing.budget",
            "links.elsewhere",
            " form.risk_level ",
        ];
        // Where a field is read off something other than a map, Rhai answers.
        let left_to_rhai = [
            "case.nothing.deeper",
            "case.client.name.len",
            "case.client.tags.len",
            "links.missing.budget",
        ];
        for source in snippets {
            let script = rules.compile(source).expect(source);
            for links in [&links, &Value::Null] {
                let fresh = || Bindings::new(&case, &form, &actor, at()).with_links(links);
                let read = script.read.as_deref().and_then(|read| fresh().read(read));
                let rhai_answers = left_to_rhai.contains(&source)
                    || (links.is_null() && source == "links.plan.budget");
                assert_eq!(read.is_none(), rhai_answers, "{source}");
                assert_gives_what_rhai_gives(&rules, &script, fresh, source);
            }
        }
    }

    #[test]
    fn only_a_plain_chain_of_fields_is_read_without_rhai() {
        for source in ["case.a", "form.a_b.c9", "today", "  actor.id\n", "links._x"] {
            assert!(FieldRead::parse(source).is_some(), "{source}");
        }
        for source in [
            "case.a == 1",
            "case[\"a\"]",
            "case?.a",
            "case.a()",
            "form.1",
            "case.",
            "cases.a",
            "x.case",
            "case .a",
            "now + 1",
            "",
        ] {
            assert!(FieldRead::parse(source).is_none(), "{source}");
        }
    }

    #[test]
    fn a_snippet_gets_every_variable_it_names_even_inside_a_string() {
        let rules = rules();
        let case = json!({"name": "Aroha"});
        let actor = Actor::system();
        let script = rules
            .compile("`${case.name} on ${today}, by ${actor.id}`")
            .expect("compiles");
        let mut bindings = Bindings::new(&case, &Value::Null, &actor, at());
        let text = rules
            .eval(&script, &mut bindings)
            .expect("runs")
            .to_string();
        assert_eq!(text, "Aroha on 2025-03-04, by system");
        assert_eq!(Roots::named_in("links.plan"), Roots(Root::Links.bit()));
        assert_eq!(
            Roots::named_in("cases + today_x + formal"),
            Roots::default()
        );
    }

    #[test]
    fn a_set_is_seen_by_later_snippets_whether_or_not_rhai_has_the_case_yet() {
        let rules = rules();
        let case = json!({"client": {"name": "Aroha"}});
        let actor = Actor::system();
        let read = rules.compile("case.client.name").expect("compiles");
        let computed = rules.compile("case.client.name + \"!\"").expect("compiles");
        for rhai_first in [false, true] {
            let mut bindings = Bindings::new(&case, &Value::Null, &actor, at());
            if rhai_first {
                let shout = rules.eval(&computed, &mut bindings).expect("runs");
                assert_eq!(shout.to_string(), "Aroha!");
            }
            bindings.set_case_field("client.name", json!("Mere"));
            assert_eq!(rules.eval_json(&read, &mut bindings), Ok(json!("Mere")));
            let shout = rules.eval(&computed, &mut bindings).expect("runs");
            assert_eq!(shout.to_string(), "Mere!");
            bindings.set_case_field("client.name", Value::Null);
            assert_eq!(rules.eval_json(&read, &mut bindings), Ok(Value::Null));
            assert_eq!(bindings.into_case(), json!({"client": {}}));
        }
        assert_eq!(
            case,
            json!({"client": {"name": "Aroha"}}),
            "the original is left alone"
        );
    }
}
