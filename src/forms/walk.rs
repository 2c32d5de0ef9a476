//! The field tree of a schema, followed through `$ref`s into the other schemas of the registry.
//!
//! UI hints, personal-data markers and the property list all describe fields, and a field may be
//! declared directly, behind a `$ref`, or inside an `allOf`; this walk is the one place that knows
//! how to reach them, so the three never disagree about which fields a form has.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Base URI under which every schema of a registry is addressable by file name.
pub(crate) const BASE: &str = "https://caseflow.local/schemas/";

/// Nesting beyond this is almost certainly a recursive schema; fields past it are not listed.
const MAX_DEPTH: usize = 24;

/// The schemas a `$ref` may point to, keyed by every URI that names them.
#[derive(Default)]
pub(crate) struct Library {
    docs: HashMap<String, (String, Arc<Value>)>,
}

impl Library {
    /// Registers `value` under its file URI and, when it has one, its own `$id`.
    pub(crate) fn insert(&mut self, name: &str, value: Arc<Value>) {
        let base = base_uri(name, &value);
        let file = file_uri(name);
        self.docs.insert(file, (base.clone(), Arc::clone(&value)));
        self.docs.insert(base.clone(), (base, value));
    }

    /// The document at `uri` (no fragment) and the base its own references resolve against.
    pub(crate) fn get(&self, uri: &str) -> Option<(&str, &Value)> {
        let (base, value) = self.docs.get(uri.trim_end_matches('#'))?;
        Some((base.as_str(), value.as_ref()))
    }

    /// Resolves a `$ref` found in a document whose base is `base`: (target base, target schema).
    pub(crate) fn resolve<'a>(
        &'a self,
        base: &str,
        reference: &str,
    ) -> Option<(&'a str, &'a Value)> {
        let (uri, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let (base, doc) = self.get(&join(base, uri))?;
        match fragment {
            "" => Some((base, doc)),
            pointer if pointer.starts_with('/') => Some((base, doc.pointer(pointer)?)),
            _ => None,
        }
    }
}

/// The URI a schema is registered under when it is named by file: `<BASE><name>.json`.
pub(crate) fn file_uri(name: &str) -> String {
    let mut uri = String::from(BASE);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            uri.push(char::from(byte));
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    uri.push_str(".json");
    uri
}

/// A schema's own `$id` wins over its file URI, as JSON Schema requires.
pub(crate) fn base_uri(name: &str, schema: &Value) -> String {
    let file = file_uri(name);
    match schema.get("$id").and_then(Value::as_str) {
        Some(id) => join(&file, id.trim_end_matches('#')),
        None => file,
    }
}

/// RFC 3986 reference resolution, reduced to the cases schema files use (no `..` segments).
pub(crate) fn join(base: &str, reference: &str) -> String {
    let reference = reference.strip_prefix("./").unwrap_or(reference);
    if reference.is_empty() {
        base.to_owned()
    } else if reference.contains("://") || reference.starts_with("urn:") {
        reference.to_owned()
    } else if let Some(absolute) = reference.strip_prefix('/') {
        let (scheme, rest) = base.split_once("://").unwrap_or(("", base));
        let authority = rest.split('/').next().unwrap_or_default();
        format!("{scheme}://{authority}/{absolute}")
    } else {
        let directory = base.rsplit_once('/').map_or("", |(dir, _)| dir);
        format!("{directory}/{reference}")
    }
}

/// One declared field: its pointer ("/client/name", "/contacts/*/phone") and its schema.
pub(crate) struct Field<'a> {
    pub(crate) pointer: String,
    pub(crate) schema: &'a Value,
}

/// Every field reachable from `root`, in schema order; a field declared twice appears twice.
pub(crate) fn fields<'a>(library: &'a Library, base: &'a str, root: &'a Value) -> Vec<Field<'a>> {
    let mut out = Vec::new();
    let mut stack = Vec::new();
    walk(library, base, root, "", &mut stack, &mut out);
    out
}

fn walk<'a>(
    library: &'a Library,
    base: &'a str,
    schema: &'a Value,
    pointer: &str,
    stack: &mut Vec<*const Value>,
    out: &mut Vec<Field<'a>>,
) {
    let Some(object) = schema.as_object() else {
        return;
    };
    // A recursive schema (a referral whose children are referrals) has endless fields; it is
    // unrolled once, so the fields of the first nested level are listed too.
    let here: *const Value = schema;
    let visits = stack.iter().filter(|s| **s == here).count();
    if stack.len() >= MAX_DEPTH || visits >= 2 {
        return;
    }
    stack.push(here);
    if let Some((target_base, target)) = object
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| library.resolve(base, r))
    {
        walk(library, target_base, target, pointer, stack, out);
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        for branch in object
            .get(keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            walk(library, base, branch, pointer, stack, out);
        }
    }
    if let Some(properties) = object.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            let child = format!("{pointer}/{}", escape(name));
            out.push(Field {
                pointer: child.clone(),
                schema: property,
            });
            walk(library, base, property, &child, stack, out);
        }
    }
    if let Some(items) = object.get("items") {
        walk(library, base, items, &format!("{pointer}/*"), stack, out);
    }
    // Conditional fields come last: they are extras on top of the always-present ones.
    for keyword in ["then", "else"] {
        if let Some(branch) = object.get(keyword) {
            walk(library, base, branch, pointer, stack, out);
        }
    }
    stack.pop();
}

/// JSON pointer escaping of one property name (RFC 6901).
pub(crate) fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Whether `pointer` names a top-level property ("/x", not "/x/y").
pub(crate) fn is_top_level(pointer: &str) -> bool {
    pointer.len() > 1 && pointer.rfind('/') == Some(0)
}

#[cfg(test)]
mod tests {
    use super::{base_uri, file_uri, join};
    use serde_json::json;

    #[test]
    fn references_resolve_like_uris() {
        let base = "https://caseflow.local/schemas/a.json";
        assert_eq!(
            join(base, "client.json"),
            "https://caseflow.local/schemas/client.json"
        );
        assert_eq!(
            join(base, "./client.json"),
            "https://caseflow.local/schemas/client.json"
        );
        assert_eq!(join(base, "/x/y.json"), "https://caseflow.local/x/y.json");
        assert_eq!(join(base, "https://example.org/p"), "https://example.org/p");
        assert_eq!(join(base, ""), base);
    }

    #[test]
    fn file_names_become_uris_and_ids_win() {
        assert_eq!(
            file_uri("intake form"),
            "https://caseflow.local/schemas/intake%20form.json"
        );
        assert_eq!(
            base_uri("a", &json!({"$id": "https://example.org/a#"})),
            "https://example.org/a"
        );
        assert_eq!(
            base_uri("a", &json!({"$id": "v2/a.json"})),
            "https://caseflow.local/schemas/v2/a.json"
        );
    }
}
