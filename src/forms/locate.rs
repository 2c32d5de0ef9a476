//! Maps a JSON pointer back to a line and column in the schema text.
//!
//! `serde_json::Value` forgets where things were, and schema authors fix files in an editor, so a
//! schema error is only useful with a position. The scanner assumes the text already parsed as
//! JSON and gives up (returns `None`) rather than guess when it meets anything unexpected.

/// 1-based line and column of the member named by `pointer` (its key, so the editor lands on the
/// offending keyword), or of the array element it names.
pub(crate) fn locate(text: &str, pointer: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut at = skip_ws(bytes, 0);
    if pointer.is_empty() {
        return Some(line_col(text, at));
    }
    let segments: Vec<String> = pointer
        .strip_prefix('/')?
        .split('/')
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    for (depth, segment) in segments.iter().enumerate() {
        let last = depth + 1 == segments.len();
        let (found, value) = match bytes.get(at)? {
            b'{' => member(text, at, segment)?,
            b'[' => element(bytes, at, segment.parse().ok()?)?,
            _ => return None,
        };
        if last {
            return Some(line_col(text, found));
        }
        at = value;
    }
    None
}

/// Finds `key` in the object starting at `at`: (position of the key, position of its value).
fn member(text: &str, at: usize, key: &str) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut i = skip_ws(bytes, at + 1);
    while *bytes.get(i)? == b'"' {
        let key_end = skip_string(bytes, i)?;
        // Keys are decoded through serde_json so escaped names still compare equal.
        let name: String = serde_json::from_str(text.get(i..key_end)?).ok()?;
        let colon = skip_ws(bytes, key_end);
        if *bytes.get(colon)? != b':' {
            return None;
        }
        let value = skip_ws(bytes, colon + 1);
        if name == key {
            return Some((i, value));
        }
        i = skip_ws(bytes, skip_value(bytes, value)?);
        if *bytes.get(i)? == b',' {
            i = skip_ws(bytes, i + 1);
        }
    }
    None
}

/// Finds element `index` of the array starting at `at`; both positions are the element's.
fn element(bytes: &[u8], at: usize, index: usize) -> Option<(usize, usize)> {
    let mut i = skip_ws(bytes, at + 1);
    for _ in 0..index {
        if *bytes.get(i)? == b']' {
            return None;
        }
        i = skip_ws(bytes, skip_value(bytes, i)?);
        if *bytes.get(i)? != b',' {
            return None;
        }
        i = skip_ws(bytes, i + 1);
    }
    (*bytes.get(i)? != b']').then_some((i, i))
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// Position just after the string starting at `at` (which must be its opening quote).
fn skip_string(bytes: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match *bytes.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// Position just after the value starting at `at`.
fn skip_value(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'"' => skip_string(bytes, at),
        b'{' | b'[' => {
            // Strings are skipped whole, so brackets inside them never count.
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match *bytes.get(i)? {
                    b'"' => {
                        i = skip_string(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = at;
            while bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                i += 1;
            }
            Some(i)
        }
    }
}

/// Columns count characters, not bytes, to match what an editor shows for non-ASCII text.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::locate;

    const TEXT: &str =
        "{\n  \"a\": {\"b\": [1, {\"c~d\": \"x]\"}, 3]},\n  \"mō\": {\"type\": \"strnig\"}\n}";

    #[test]
    fn finds_keys_elements_and_escaped_names() {
        assert_eq!(locate(TEXT, ""), Some((1, 1)));
        assert_eq!(locate(TEXT, "/a"), Some((2, 3)));
        assert_eq!(locate(TEXT, "/a/b/1/c~0d"), Some((2, 19)));
        assert_eq!(locate(TEXT, "/a/b/2"), Some((2, 33)));
        assert_eq!(locate(TEXT, "/mō/type"), Some((3, 10)));
    }

    #[test]
    fn missing_members_are_none() {
        assert_eq!(locate(TEXT, "/nope"), None);
        assert_eq!(locate(TEXT, "/a/b/9"), None);
        assert_eq!(locate(TEXT, "/a/b/x"), None);
    }
}
