//! Dotted paths into case data: `risk_level`, `consent.expiry_date`.

use serde_json::{Map, Value};

/// The keys of a dotted path. Found byte by byte: `str::split('.')` sets up a `char` searcher
/// for every key, which cost more than the short keys of a path take to scan.
fn keys(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(path);
    std::iter::from_fn(move || {
        let (key, inner) = first_key(rest?);
        rest = inner;
        Some(key)
    })
}

/// The first key of a dotted path, and the path after it.
pub fn first_key(path: &str) -> (&str, Option<&str>) {
    match path.bytes().position(|byte| byte == b'.') {
        Some(dot) => (path.get(..dot).unwrap_or_default(), path.get(dot + 1..)),
        None => (path, None),
    }
}

/// The value at `path`; a number reads an item of a list (`contacts.0.phone`).
pub fn get<'a>(data: &'a Value, path: &str) -> Option<&'a Value> {
    keys(path).try_fold(data, |value, key| match value {
        Value::Array(items) => key.parse::<usize>().ok().and_then(|index| items.get(index)),
        _ => value.get(key),
    })
}

/// As [`get`], with how many of the values on the way to `path` (the field itself not counted)
/// are objects, up to the first that is not.
pub fn get_counting<'a>(data: &'a Value, path: &str) -> (Option<&'a Value>, usize) {
    let mut current = data;
    let mut objects = 0;
    let mut keys = keys(path).enumerate().peekable();
    while let Some((index, key)) = keys.next() {
        let next = match current {
            Value::Array(items) => key.parse::<usize>().ok().and_then(|index| items.get(index)),
            _ => current.get(key),
        };
        let Some(next) = next else {
            return (None, objects);
        };
        if keys.peek().is_some() && next.is_object() && objects == index {
            objects += 1;
        }
        current = next;
    }
    (Some(current), objects)
}

/// Sets `path`, creating objects on the way; a non-object in the way is replaced.
pub fn set(data: &mut Value, path: &str, new: Value) {
    let mut current = data;
    let mut keys = keys(path).peekable();
    while let Some(key) = keys.next() {
        if !current.is_object() {
            *current = Value::Object(Map::new());
        }
        let Value::Object(object) = current else {
            return;
        };
        if keys.peek().is_none() {
            object.insert(key.to_owned(), new);
            return;
        }
        current = object.entry(key.to_owned()).or_insert(Value::Null);
    }
}

/// Sets `path` as [`set`] does, and gives back what [`get`] read there before, with the
/// objects on the way counted as [`get_counting`] counts them: one walk instead of two.
pub fn replace(data: &mut Value, path: &str, new: Value) -> (Option<Value>, usize) {
    let mut current = data;
    let mut rest = path;
    let mut depth = 0;
    let mut objects = 0;
    loop {
        let Value::Object(object) = current else {
            // A list or a value in the way: read through it as `get` does, then replace it.
            let old = get(current, rest).cloned();
            set(current, rest, new);
            return (old, objects);
        };
        let (key, inner) = first_key(rest);
        let Some(inner) = inner else {
            return (object.insert(key.to_owned(), new), objects);
        };
        current = object.entry(key.to_owned()).or_insert(Value::Null);
        if current.is_object() && objects == depth {
            objects += 1;
        }
        depth += 1;
        rest = inner;
    }
}

/// Removes `path`; the objects on the way stay, even when left empty.
pub fn remove(data: &mut Value, path: &str) -> Option<Value> {
    let (parent, last) = match path.rsplit_once('.') {
        Some((parent, last)) => (get_mut(data, parent)?, last),
        None => (data, path),
    };
    parent.as_object_mut()?.remove(last)
}

fn get_mut<'a>(data: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    keys(path).try_fold(data, |value, key| value.get_mut(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sets_and_gets_nested_fields() {
        let mut data = json!({"client": {"name": "Aroha"}});
        set(&mut data, "consent.expiry_date", json!("2026-01-01"));
        set(&mut data, "client.risk", json!("low"));
        assert_eq!(
            get(&data, "consent.expiry_date"),
            Some(&json!("2026-01-01"))
        );
        assert_eq!(get(&data, "client.name"), Some(&json!("Aroha")));
        assert_eq!(get(&data, "client.risk"), Some(&json!("low")));
        assert_eq!(get(&data, "client.missing"), None);
        let listed = json!({"contacts": [{"phone": "021"}]});
        assert_eq!(get(&listed, "contacts.0.phone"), Some(&json!("021")));
        assert_eq!(get(&listed, "contacts.1.phone"), None);
        assert_eq!(remove(&mut data, "client.risk"), Some(json!("low")));
        assert_eq!(remove(&mut data, "client.risk"), None);
        assert_eq!(remove(&mut data, "nowhere.at_all"), None);
        assert_eq!(get(&data, "client"), Some(&json!({"name": "Aroha"})));
    }

    #[test]
    fn keys_are_split_as_str_split_does() {
        for path in [
            "",
            ".",
            "a",
            "a.b",
            "a..b",
            ".a",
            "a.",
            "consent.expiry_date",
            "iwi.0.hapū",
        ] {
            assert_eq!(
                keys(path).collect::<Vec<_>>(),
                path.split('.').collect::<Vec<_>>(),
                "{path:?}"
            );
        }
    }

    #[test]
    fn replacing_reads_and_writes_as_get_and_set_do() {
        let data = json!({
            "client": {"name": "Aroha", "iwi": ["ngapuhi"]}, "reason": "x", "empty": null
        });
        for path in [
            "reason",
            "client.name",
            "client.phone",
            "assessment.by",
            "reason.length",
            "client.iwi.0",
            "client.iwi.0.name",
            "empty.field",
            "a.b.c",
            "client",
        ] {
            let mut replaced = data.clone();
            let (old, objects) = replace(&mut replaced, path, json!("new"));
            let mut written = data.clone();
            set(&mut written, path, json!("new"));
            let (read, counted) = get_counting(&data, path);
            assert_eq!(replaced, written, "{path}");
            assert_eq!((old.as_ref(), objects), (read, counted), "{path}");
        }
    }

    #[test]
    fn counts_the_objects_on_the_way() {
        let data = json!({"client": {"name": "Aroha", "iwi": ["ngapuhi"]}, "reason": "x"});
        assert_eq!(get_counting(&data, "reason"), (Some(&json!("x")), 0));
        assert_eq!(
            get_counting(&data, "client.name"),
            (Some(&json!("Aroha")), 1)
        );
        assert_eq!(get_counting(&data, "client.phone"), (None, 1));
        assert_eq!(get_counting(&data, "assessment.by"), (None, 0));
        assert_eq!(get_counting(&data, "reason.length"), (None, 0));
        // A list on the way is read through, but is not an object.
        assert_eq!(
            get_counting(&data, "client.iwi.0"),
            (Some(&json!("ngapuhi")), 1)
        );
    }
}
