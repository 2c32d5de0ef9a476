//! Snippets that only call a module function on variables and fields, such as the guard
//! `referral::meets_criteria(case, form, today)`, run the function straight from its
//! module's compiled script.
//!
//! Through a snippet, Rhai converts `case` and `form` into its scope and then copies each
//! argument again into the function's own variables: for the referral guard, the copies
//! were about a tenth of firing the transition. Here each argument is converted once,
//! from the JSON, and handed over without a copy; and only the fields the function can
//! read are converted (see `shape`).

use std::collections::HashMap;
use std::sync::Arc;

use rhai::{AST, CallFnOptions, Dynamic, Engine, Scope};

use super::bindings::{Bindings, FieldRead};
use super::shape::{Shape, parameter_shapes};

/// `module::function(argument, …)` where every argument is a variable or a chain of fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ModuleCall {
    module: String,
    function: String,
    arguments: Vec<FieldRead>,
}

impl ModuleCall {
    pub(super) fn parse(source: &str) -> Option<Self> {
        let (head, rest) = source.trim().split_once('(')?;
        let inner = rest.strip_suffix(')')?;
        let (module, function) = head.trim().split_once("::")?;
        if !is_name(module) || !is_name(function) {
            return None;
        }
        let arguments = if inner.trim().is_empty() {
            Vec::new()
        } else {
            inner
                .split(',')
                .map(FieldRead::parse)
                .collect::<Option<Vec<_>>>()?
        };
        Some(Self {
            module: module.to_owned(),
            function: function.to_owned(),
            arguments,
        })
    }
}

fn is_name(part: &str) -> bool {
    let mut chars = part.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The modules whose public functions may be called straight from their compiled script.
#[derive(Default)]
pub(super) struct DirectModules {
    modules: HashMap<String, DirectModule>,
}

struct DirectModule {
    ast: Arc<AST>,
    /// Each public function with the shape of each of its parameters.
    public: Vec<(String, Vec<Shape>)>,
}

impl DirectModules {
    /// Registers `ast` as module `name`, unless its functions read the module's own
    /// constants (`global::LIMIT`): only the registered module provides those.
    pub(super) fn add(&mut self, name: &str, ast: AST, reads_globals: bool) {
        if reads_globals {
            return;
        }
        let public = ast
            .iter_fn_def()
            .filter(|function| function.access == rhai::FnAccess::Public)
            .map(|function| (function.name.to_string(), parameter_shapes(&ast, function)))
            .collect();
        let ast = Arc::new(ast);
        self.modules
            .insert(name.to_owned(), DirectModule { ast, public });
    }

    /// Whether `call` names a public function of a registered module with as many parameters.
    pub(super) fn can_call(&self, call: &ModuleCall) -> bool {
        self.shapes(call).is_some()
    }

    fn shapes(&self, call: &ModuleCall) -> Option<(&DirectModule, &[Shape])> {
        let module = self.modules.get(&call.module)?;
        let (_, shapes) = module.public.iter().find(|(name, shapes)| {
            *name == call.function && shapes.len() == call.arguments.len()
        })?;
        Some((module, shapes))
    }

    /// The function's result, or `None` where the snippet should go through Rhai instead:
    /// an argument Rhai must work out itself, or a failure, whose message Rhai words as
    /// it would for the snippet (rules have no side effects, so running again is safe).
    pub(super) fn call(
        &self,
        engine: &Engine,
        call: &ModuleCall,
        bindings: &Bindings,
    ) -> Option<Dynamic> {
        let (module, shapes) = self.shapes(call)?;
        let arguments = call
            .arguments
            .iter()
            .zip(shapes)
            .map(|(argument, shape)| bindings.read_with(argument, |value| shape.to_dynamic(value)))
            .collect::<Option<Vec<_>>>()?;
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        engine
            .call_fn_with_options::<Dynamic>(
                options,
                &mut Scope::new(),
                &module.ast,
                &call.function,
                arguments,
            )
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::ModuleCall;
    use crate::rules::bindings::tests::{assert_gives_what_rhai_gives, at};
    use crate::rules::{Actor, Bindings, ReferenceData, Rules};
    use serde_json::{Value, json};

    const MODULE: &str = r#"
        fn meets(case, form, today) {
            let reasons = [];
            if case.client.born == () { reasons.push("no date of birth"); }
            if form.risk == "critical" && !form.plan { reasons.push("no plan"); }
            reasons
        }
        fn touch(case) { case.client.name = "changed"; case.client }
        fn sibling(case) { helper(case) + 1 }
        private fn helper(c) { c.count }
        fn kinds(form, actor) { `${type_of(form)} ${type_of(form.n)} ${type_of(form.big)} ${actor.roles}` }
        fn fails(case) { throw "refused: " + case.count }
        fn runs_away(case) { loop { case.count += 1; } }
        fn missing(case) { case.nothing.deeper }
        fn no_arguments() { 42 }
        fn narrow(case, form) {
            `${case.client.name} ${case.client.name.len} ${case.client.born.len()} ${case.list[1]} ${case?.nothing?.x} ${form.risk} ${case.client.name.missing}`
        }
        fn closes(case) { let add = |x| x + case.count; add.call(1) }
        fn in_scope(case) { peek!() }
        fn peek() { case.count }
        fn grow(case) { case.client.extra = 1; case }
        fn shadow(case) { let case = #{ count: 1 }; case.count }
    "#;

    const CALLS_ANOTHER: &str = "fn cross(case) { m::sibling(case) * 2 }";

    const WITH_CONSTANT: &str = r#"
        const LIMIT = 5;
        fn over(case) { case.count > global::LIMIT }
    "#;

    #[test]
    fn a_direct_call_gives_what_the_snippet_gives_through_rhai() {
        let modules = [
            ("m".to_owned(), MODULE.to_owned()),
            ("k".to_owned(), WITH_CONSTANT.to_owned()),
            ("n".to_owned(), CALLS_ANOTHER.to_owned()),
        ];
        let (rules, failures) = Rules::new(&modules, ReferenceData::default());
        assert!(failures.is_empty(), "{failures:?}");
        let case = json!({
            "client": {"name": "Aroha", "born": "2001-02-03"}, "count": 7,
            "list": [1, 2, 3], "other": {"x": 1}
        });
        let form = json!({"risk": "critical", "plan": false, "n": 2.5, "big": u64::MAX});
        let actor = Actor::user("u-1", vec!["clinician".to_owned()]);
        let direct = [
            "m::meets(case, form, today)",
            "m::touch(case)",
            "m::sibling(case)",
            "m::kinds(form, actor)",
            "m::fails(case)",
            "m::runs_away(case)",
            "m::missing(case)",
            "m::no_arguments()",
            "m::meets(case, case.client, today)",
            "n::cross(case)",
            "m::narrow(case, form)",
            "m::closes(case)",
            "m::in_scope(case)",
            "m::grow(case)",
            "m::shadow(case)",
        ];
        // A private function, a wrong number of arguments, a module with a constant.
        let not_direct = ["m::helper(case)", "m::touch(case, form)", "k::over(case)"];
        for source in direct.iter().chain(&not_direct) {
            let script = rules.compile(source).expect(source);
            assert_eq!(script.call.is_some(), direct.contains(source), "{source}");
            let fresh = || Bindings::new(&case, &form, &actor, at());
            assert_gives_what_rhai_gives(&rules, &script, fresh, source);
        }
        assert_eq!(
            case["client"]["name"],
            Value::from("Aroha"),
            "the case is left alone"
        );
    }

    #[test]
    fn only_a_module_function_on_fields_is_called_directly() {
        for source in [
            "referral::meets_criteria(case, form, today)",
            "  plans::fits ( case.plan , form.amount )\n",
            "m::f()",
            "m::f(links.plan.budget)",
        ] {
            assert!(ModuleCall::parse(source).is_some(), "{source}");
        }
        for source in [
            "meets_criteria(case)",
            "referral::meets_criteria(case, form) && true",
            "m::f(case.a + 1)",
            "m::f(\"text\")",
            "m::f(case,)",
            "a::b::f(case)",
            "m::f(case)(form)",
            "m::f(other)",
            "!m::f(case)",
        ] {
            assert!(ModuleCall::parse(source).is_none(), "{source}");
        }
    }
}
