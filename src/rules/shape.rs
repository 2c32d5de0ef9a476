//! Which parts of its arguments a rule function can read, found from its compiled body, so
//! that a direct call converts only those parts of the case and the form into Rhai values.
//!
//! Converting the whole case and form, and dropping them again, was about half of calling
//! `referral::meets_criteria`, which reads three of their fields. A parameter whose every
//! use is a chain of field names (`case.client.date_of_birth`) is handed a map holding
//! just those chains; used in any other way (passed on, indexed, a method called on it,
//! captured by a closure) the part it is used as is converted whole.

use rhai::{AST, ASTNode, Dynamic, Expr, ScriptFuncDef, Stmt};
use serde_json::Value;

use super::to_dynamic;

/// The part of a value a function can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Shape {
    Whole,
    /// Only these fields of an object, each to its own shape. Anything but an object is
    /// converted whole, since its fields are not map entries to Rhai.
    Fields(Vec<(String, Shape)>),
}

impl Shape {
    /// `value` as Rhai sees it through this shape: identical for every chain of fields the
    /// function reads, missing only entries it never reads.
    pub(super) fn to_dynamic(&self, value: &Value) -> Dynamic {
        match (self, value) {
            (Shape::Fields(fields), Value::Object(object)) => {
                let mut map = rhai::Map::new();
                for (name, shape) in fields {
                    if let Some(value) = object.get(name) {
                        map.insert(name.as_str().into(), shape.to_dynamic(value));
                    }
                }
                Dynamic::from_map(map)
            }
            _ => to_dynamic(value),
        }
    }

    fn include(&mut self, path: &[String]) {
        let Shape::Fields(fields) = self else {
            return;
        };
        let Some((first, rest)) = path.split_first() else {
            *self = Shape::Whole;
            return;
        };
        let index = match fields.iter().position(|(name, _)| name == first) {
            Some(index) => index,
            None => {
                fields.push((first.clone(), Shape::Fields(Vec::new())));
                fields.len() - 1
            }
        };
        fields[index].1.include(rest);
    }
}

/// The shape of each parameter of `function`, a script function of `ast`.
pub(super) fn parameter_shapes(ast: &AST, function: &ScriptFuncDef) -> Vec<Shape> {
    let params = &function.params;
    // Rhai walks every function of the AST, so this one's nodes are told apart by where its
    // body lies. Closures inside it are walked with it: their uses only add to the shapes.
    let (start, end) = (function.body.start_position(), function.body.end_position());
    let mut shapes = vec![Shape::Fields(Vec::new()); params.len()];
    let mut runs_in_callers_scope = false;
    ast.walk(&mut |path: &[ASTNode]| {
        let within = path
            .first()
            .is_some_and(|top| (start..=end).contains(&top.position()));
        if !within {
            return true;
        }
        match path.last() {
            // `f!(…)` runs `f` in this function's scope, where it may read anything.
            Some(ASTNode::Expr(Expr::FnCall(call, _)) | ASTNode::Stmt(Stmt::FnCall(call, _)))
                if call.capture_parent_scope =>
            {
                runs_in_callers_scope = true;
            }
            Some(ASTNode::Expr(variable @ Expr::Variable(name, ..))) if name.2.is_empty() => {
                if let Some(index) = params.iter().position(|param| *param == name.1) {
                    let fields = match path.iter().rev().nth(1) {
                        Some(ASTNode::Expr(Expr::Dot(dot, ..)))
                            if std::ptr::eq(&dot.lhs, *variable) =>
                        {
                            fields_read(&dot.rhs)
                        }
                        _ => Vec::new(),
                    };
                    shapes[index].include(&fields);
                }
            }
            _ => {}
        }
        true
    });
    if runs_in_callers_scope {
        shapes.fill(Shape::Whole);
    }
    shapes
}

/// The field names a dot chain starts with: `client.date_of_birth` of
/// `case.client.date_of_birth`, `items` of `case.items[0]` or `case.items.len()`. The value
/// at the last of them is what the chain uses whole.
fn fields_read(chain: &Expr) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = chain;
    loop {
        match current {
            Expr::Property(property, _) => {
                fields.push(property.2.to_string());
                return fields;
            }
            Expr::Dot(dot, ..) | Expr::Index(dot, ..) => {
                let Expr::Property(property, _) = &dot.lhs else {
                    return fields;
                };
                fields.push(property.2.to_string());
                if matches!(current, Expr::Index(..)) {
                    return fields;
                }
                current = &dot.rhs;
            }
            _ => return fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Shape, parameter_shapes};

    fn shapes_of(source: &str, name: &str) -> Vec<Shape> {
        let engine = super::super::sandboxed_engine();
        let ast = engine.compile(source).expect("compiles");
        let function = ast
            .iter_fn_def()
            .find(|function| function.name == name)
            .expect("defined");
        parameter_shapes(&ast, function)
    }

    fn fields(entries: &[(&str, Shape)]) -> Shape {
        Shape::Fields(
            entries
                .iter()
                .map(|(name, shape)| (name.to_string(), shape.clone()))
                .collect(),
        )
    }

    #[test]
    fn a_parameter_read_only_through_fields_is_narrowed_to_them() {
        let source = r#"
            fn meets(case, form, today) {
                let born = case.client.date_of_birth;
                if form.risk == "critical" && !form.plan { return false; }
                case.client.name != () && age_on(born, today) > 5
            }
        "#;
        assert_eq!(
            shapes_of(source, "meets"),
            vec![
                fields(&[(
                    "client",
                    fields(&[("date_of_birth", Shape::Whole), ("name", Shape::Whole)])
                )]),
                fields(&[("risk", Shape::Whole), ("plan", Shape::Whole)]),
                Shape::Whole,
            ]
        );
    }

    #[test]
    fn any_other_use_takes_that_part_whole() {
        let source = r#"
            fn uses(case, form, links, actor) {
                let n = case.items[0];
                let m = form.notes.len();
                let f = |x| x + links.plan.total;
                other(actor.roles);
                case.items.extra
            }
            fn other(x) { x }
            fn unused(case) { 1 }
            fn in_my_scope(case) { peek!() }
            fn peek() { case.secret }
        "#;
        assert_eq!(
            shapes_of(source, "uses"),
            vec![
                fields(&[("items", Shape::Whole)]),
                fields(&[("notes", Shape::Whole)]),
                Shape::Whole,
                fields(&[("roles", Shape::Whole)]),
            ]
        );
        assert_eq!(shapes_of(source, "unused"), vec![Shape::Fields(Vec::new())]);
        assert_eq!(shapes_of(source, "in_my_scope"), vec![Shape::Whole]);
    }
}
