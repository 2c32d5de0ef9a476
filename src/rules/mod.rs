//! Rhai rules: one sandboxed engine, every script compiled once.
//!
//! Guards, `set` expressions, branch conditions and deadline dates are all
//! Rhai snippets evaluated with `case`, `form`, `actor`, `now`, `today` and
//! `links` (the data of linked cases) in scope. Modules in `rules/*.rhai` are registered as static modules, so a
//! snippet calls them as `referral::meets_criteria(case, form)`; nothing is
//! ever read from disk by the engine itself.

mod bindings;
mod data;
mod direct;
mod helpers;
mod scan;
mod shape;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use rhai::{AST, Dynamic, Engine, EvalAltResult, Module, Scope};

use bindings::{FieldRead, Roots};
use direct::{DirectModules, ModuleCall};
use scan::names_anywhere;

pub use bindings::Bindings;
pub use data::{Choice, ReferenceData};
pub use helpers::parse_date;
pub use scan::{fields_read, form_fields_read, mentions_variable, module_calls, tables_named};

/// The most work one evaluation may do: a loop without an exit stops here within milliseconds.
pub const MAX_OPERATIONS: u64 = 200_000;

/// A compiled snippet with its source, kept for messages.
#[derive(Clone)]
pub struct Script {
    ast: Arc<AST>,
    source: Arc<str>,
    /// The variables the snippet names: only those are put into Rhai's scope for it.
    roots: Roots,
    /// Set when the snippet only reads a field, which is then read from the JSON.
    read: Option<Arc<FieldRead>>,
    /// Set when the snippet only calls a module function on fields (see `direct`).
    call: Option<Arc<ModuleCall>>,
}

impl Script {
    pub fn source(&self) -> &str {
        &self.source
    }
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Script").field(&self.source).finish()
    }
}

/// A compile error with its 1-based position inside the snippet or module file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A rule that failed while running (not a refusal: the rule itself is broken or runaway).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RuleError {
    pub message: String,
}

/// Who is acting, as rules see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub id: String,
    pub roles: Vec<String>,
    pub system: bool,
}

impl Actor {
    /// The scheduler, which may fire any transition.
    pub fn system() -> Self {
        Self {
            id: "system".to_owned(),
            roles: Vec::new(),
            system: true,
        }
    }

    pub fn user(id: impl Into<String>, roles: Vec<String>) -> Self {
        Self {
            id: id.into(),
            roles,
            system: false,
        }
    }
}

/// JSON as Rhai values, built directly: it runs for the case and the form on
/// every move, and rhai's serde route costs several times as much. Numbers
/// follow that route's rules: integers that fit are `INT`, others `FLOAT`.
fn to_dynamic(value: &serde_json::Value) -> Dynamic {
    use serde_json::Value;
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(flag) => Dynamic::from_bool(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(int) => Dynamic::from_int(int),
            None => Dynamic::from_float(number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => text.as_str().into(),
        Value::Array(items) => Dynamic::from_array(items.iter().map(to_dynamic).collect()),
        Value::Object(fields) => {
            // Inserted one by one: collecting sorts a vector first and then builds the
            // tree, which cost more for the few fields a case or form object has.
            let mut map = rhai::Map::new();
            for (name, value) in fields {
                map.insert(name.as_str().into(), to_dynamic(value));
            }
            Dynamic::from_map(map)
        }
    }
}

/// Whether `value` holds a whole number too large for Rhai's `INT`, which the Rhai route
/// would turn into a float: a field read gives the same value that route does.
fn has_unsigned_beyond_int(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::Number(number) => number.is_u64() && number.as_i64().is_none(),
        Value::Array(items) => items.iter().any(has_unsigned_beyond_int),
        Value::Object(fields) => fields.values().any(has_unsigned_beyond_int),
        _ => false,
    }
}

/// Turns a rule's result into JSON for case data.
pub fn to_json(value: &Dynamic) -> Result<serde_json::Value, RuleError> {
    rhai::serde::from_dynamic(value).map_err(|error| RuleError {
        message: format!("the result cannot be stored in case data: {error}"),
    })
}

pub struct Rules {
    engine: Engine,
    /// Module name → the public functions it defines.
    modules: HashMap<String, HashSet<String>>,
    /// Modules that failed to compile: already reported, so callers stay quiet about them.
    broken: HashSet<String>,
    direct: DirectModules,
    data: Arc<ReferenceData>,
}

impl Rules {
    /// Builds the engine and compiles every module; `modules` are (name, source) pairs.
    /// Returns the modules that failed, with their errors, beside the engine.
    pub fn new(
        modules: &[(String, String)],
        data: ReferenceData,
    ) -> (Self, Vec<(String, CompileError)>) {
        let mut engine = sandboxed_engine();
        let data = Arc::new(data);
        helpers::register(&mut engine, data.clone());
        let mut failures = Vec::new();
        let mut compiled = HashMap::new();
        let mut direct = DirectModules::default();
        for (name, source) in modules {
            match compile_module(&engine, source) {
                Ok((module, ast, functions)) => {
                    direct.add(name, ast, names_anywhere(source, "global"));
                    engine.register_static_module(name.as_str(), Arc::new(module));
                    compiled.insert(name.clone(), functions);
                }
                Err(error) => failures.push((name.clone(), error)),
            }
        }
        let rules = Self {
            engine,
            modules: compiled,
            broken: failures.iter().map(|(name, _)| name.clone()).collect(),
            direct,
            data,
        };
        (rules, failures)
    }

    /// Whether `rules/data/` has a table `name` (even one left out for its errors, which are
    /// reported at the table).
    pub fn knows_table(&self, name: &str) -> bool {
        self.data.is_declared(name)
    }

    pub fn has_module(&self, name: &str) -> bool {
        self.modules.contains_key(name)
    }

    /// A module that exists but failed to compile.
    pub fn is_broken(&self, name: &str) -> bool {
        self.broken.contains(name)
    }

    /// Whether module `name` defines a function `function` (any arity).
    pub fn module_has_function(&self, name: &str, function: &str) -> bool {
        self.modules
            .get(name)
            .is_some_and(|functions| functions.contains(function))
    }

    pub fn compile(&self, source: &str) -> Result<Script, CompileError> {
        let ast = self
            .engine
            .compile(source)
            .map_err(|error| syntax_error(&error))?;
        Ok(Script {
            ast: Arc::new(ast),
            source: source.into(),
            roots: Roots::named_in(source),
            read: FieldRead::parse(source).map(Arc::new),
            call: ModuleCall::parse(source)
                .filter(|call| self.direct.can_call(call))
                .map(Arc::new),
        })
    }

    pub fn eval(&self, script: &Script, bindings: &mut Bindings) -> Result<Dynamic, RuleError> {
        if let Some(value) = script
            .read
            .as_deref()
            .and_then(|read| bindings.read_dynamic(read))
        {
            return Ok(value);
        }
        self.eval_script(script, bindings)
    }

    /// As [`Rules::eval`], the result as case data; a field read skips Rhai both ways.
    pub fn eval_json(
        &self,
        script: &Script,
        bindings: &mut Bindings,
    ) -> Result<serde_json::Value, RuleError> {
        match script.read.as_deref().and_then(|read| bindings.read(read)) {
            Some(value) if !has_unsigned_beyond_int(&value) => Ok(value),
            _ => to_json(&self.eval_script(script, bindings)?),
        }
    }

    /// A module call straight from its module where it can be, else the snippet through Rhai.
    fn eval_script(&self, script: &Script, bindings: &mut Bindings) -> Result<Dynamic, RuleError> {
        if let Some(value) = script
            .call
            .as_deref()
            .and_then(|call| self.direct.call(&self.engine, call, bindings))
        {
            return Ok(value);
        }
        self.eval_rhai(script, bindings)
    }

    fn eval_rhai(&self, script: &Script, bindings: &mut Bindings) -> Result<Dynamic, RuleError> {
        bindings.prepare(script.roots);
        let mark = bindings.scope.len();
        let result = self
            .engine
            .eval_ast_with_scope::<Dynamic>(&mut bindings.scope, &script.ast);
        bindings.scope.rewind(mark);
        result.map_err(|error| RuleError {
            message: describe(&error),
        })
    }
}

fn sandboxed_engine() -> Engine {
    let mut engine = Engine::new();
    engine
        .set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new())
        .set_max_operations(MAX_OPERATIONS)
        .set_max_call_levels(32)
        .set_max_expr_depths(64, 32)
        .set_max_string_size(64 * 1024)
        .set_max_array_size(10_000)
        .set_max_map_size(10_000)
        .set_max_variables(256)
        .set_max_functions(256)
        .set_max_modules(0)
        .on_print(|_| {})
        .on_debug(|_, _, _| {});
    engine.disable_symbol("eval");
    // `case` is reserved in Rhai for a future `switch` syntax, but it is the
    // word care workers use, so it is read as a plain variable name.
    #[allow(deprecated)]
    engine.on_parse_token(|token, _, _| match token {
        rhai::Token::Reserved(word) if word.as_str() == "case" => rhai::Token::Identifier(word),
        other => other,
    });
    engine
}

fn syntax_error(error: &rhai::ParseError) -> CompileError {
    let position = error.position();
    CompileError {
        line: position.line().unwrap_or(1),
        column: position.position().unwrap_or(1),
        message: error.err_type().to_string(),
    }
}

fn compile_module(
    engine: &Engine,
    source: &str,
) -> Result<(Module, AST, HashSet<String>), CompileError> {
    let ast = engine
        .compile(source)
        .map_err(|error| syntax_error(&error))?;
    let functions = ast
        .iter_functions()
        .filter(|function| function.access == rhai::FnAccess::Public)
        .map(|function| function.name.to_owned())
        .collect();
    let module = Module::eval_ast_as_new(Scope::new(), &ast, engine).map_err(|error| {
        let position = error.position();
        CompileError {
            line: position.line().unwrap_or(1),
            column: position.position().unwrap_or(1),
            message: describe(&error),
        }
    })?;
    Ok((module, ast, functions))
}

/// Says what went wrong in words a program manager can act on.
fn describe(error: &EvalAltResult) -> String {
    let at = error
        .position()
        .line()
        .map(|line| format!(" (line {line} of the rule)"))
        .unwrap_or_default();
    let what = match error {
        EvalAltResult::ErrorTooManyOperations(_) => format!(
            "stopped after {MAX_OPERATIONS} operations: the rule never ends or does far too much work (a loop without an exit?)"
        ),
        EvalAltResult::ErrorDataTooLarge(kind, _) => {
            format!(
                "stopped: {kind} grew beyond the allowed size (a rule that allocates without bound?)"
            )
        }
        EvalAltResult::ErrorStackOverflow(_) => {
            "stopped: calls nested too deeply (recursion without an end?)".to_owned()
        }
        EvalAltResult::ErrorRuntime(value, _) => format!("the rule threw: {value}"),
        EvalAltResult::ErrorInFunctionCall(name, _, inner, _) => {
            return format!("in `{name}`: {}", describe(inner));
        }
        EvalAltResult::ErrorFunctionNotFound(signature, _) => {
            format!("no function `{signature}` (check the name, the module and the argument types)")
        }
        // Rhai's own messages already carry their position.
        other => return other.to_string(),
    };
    format!("{what}{at}")
}

#[cfg(test)]
mod tests {
    use super::to_dynamic;

    #[test]
    fn json_becomes_the_same_rhai_values_as_through_serde() {
        let json = serde_json::json!({
            "name": "Aroha", "age": 42, "score": 7.5, "whole": 3.0, "huge": u64::MAX,
            "negative": -12, "flags": [true, false, null], "nested": {"list": [{"a": 1}], "empty": {}},
            "unicode": "Te Whānau-ā-Apanui"
        });
        let direct = to_dynamic(&json);
        let through_serde = rhai::serde::to_dynamic(&json).expect("serde conversion");
        assert_eq!(direct.to_string(), through_serde.to_string());
        assert_eq!(direct.type_name(), through_serde.type_name());
        let map = direct.cast::<rhai::Map>();
        assert_eq!(map["age"].type_name(), "i64");
        assert_eq!(map["whole"].type_name(), "f64");
        assert_eq!(map["huge"].type_name(), "f64");
        assert!(map["flags"].clone().into_array().expect("array")[2].is_unit());
    }
}
