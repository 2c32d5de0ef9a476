//! What a snippet reads, found from its text, for definition checks.
//!
//! The checks here only warn or catch misspelt names, so a scan of the text
//! that skips string literals and comments is enough (`shape` walks the
//! compiled AST where the answer must be exact).

/// The snippet with string literals and comments blanked out, byte for byte the same
/// length, so an index into it is an index into the source.
fn code_only(source: &str) -> String {
    let blank = |out: &mut String, c: char| {
        if c == '\n' {
            out.push('\n');
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    };
    let mut out = String::with_capacity(source.len());
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' | '`' | '\'' => {
                out.push(' ');
                let mut escaped = false;
                for inner in chars.by_ref() {
                    blank(&mut out, inner);
                    if !escaped && inner == c {
                        break;
                    }
                    escaped = !escaped && inner == '\\';
                }
            }
            '/' if chars.peek() == Some(&'/') => {
                out.push(' ');
                for inner in chars.by_ref() {
                    blank(&mut out, inner);
                    if inner == '\n' {
                        break;
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Fields read as `form.name` (the first level only).
pub fn form_fields_read(source: &str) -> Vec<String> {
    fields_read(source, "form")
}

/// Fields read as `VARIABLE.name` (the first level only), e.g. the links named in `links.plan`.
pub fn fields_read(source: &str, variable: &str) -> Vec<String> {
    let code = code_only(source);
    let prefix = format!("{variable}.");
    let mut fields = Vec::new();
    let mut rest = code.as_str();
    let mut offset = 0;
    while let Some(found) = rest.find(&prefix) {
        let start = offset + found;
        let before_ok = code[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !is_ident(c) && c != '.');
        let name: String = code[start + prefix.len()..]
            .chars()
            .take_while(|c| is_ident(*c))
            .collect();
        if before_ok && !name.is_empty() && !fields.contains(&name) {
            fields.push(name);
        }
        offset = start + prefix.len();
        rest = &code[offset..];
    }
    fields
}

/// Whether the snippet names `variable` at all (as `form`, `form.x` or `form["x"]`).
pub fn mentions_variable(source: &str, variable: &str) -> bool {
    has_word(&code_only(source), variable, |c| c != '.' && c != ':')
}

/// Whether `word` appears as a whole word anywhere in `source`, strings and comments
/// included, so a name used only inside `${…}` of a template string counts too.
pub(super) fn names_anywhere(source: &str, word: &str) -> bool {
    has_word(source, word, |_| true)
}

/// Whether `word` occurs in `text` as a whole identifier whose preceding character,
/// if any, `before_ok` accepts.
fn has_word(text: &str, word: &str, before_ok: impl Fn(char) -> bool) -> bool {
    text.match_indices(word).any(|(index, _)| {
        let before = text[..index].chars().next_back();
        let after = text[index + word.len()..].chars().next();
        before.is_none_or(|c| !is_ident(c) && before_ok(c)) && after.is_none_or(|c| !is_ident(c))
    })
}

/// Calls written as `module::function`, in order of appearance.
pub fn module_calls(source: &str) -> Vec<(String, String)> {
    let code = code_only(source);
    let mut calls = Vec::new();
    for (index, _) in code.match_indices("::") {
        let module: String = code[..index]
            .chars()
            .rev()
            .take_while(|c| is_ident(*c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let function: String = code[index + 2..]
            .chars()
            .take_while(|c| is_ident(*c))
            .collect();
        if !module.is_empty() && !function.is_empty() {
            calls.push((module, function));
        }
    }
    calls
}

/// Functions over the reference tables whose first argument names a table.
const TABLE_FUNCTIONS: [&str; 4] = ["lookup", "has_key", "options", "label"];

/// Tables named as a text literal in `lookup("t", ...)`, `has_key`, `options` or `label`:
/// (table, line, column of the literal), 1-based within the snippet.
pub fn tables_named(source: &str) -> Vec<(String, usize, usize)> {
    let code = code_only(source);
    let mut found = Vec::new();
    for function in TABLE_FUNCTIONS {
        for (index, _) in code.match_indices(function) {
            let before_ok = code[..index]
                .chars()
                .next_back()
                .is_none_or(|c| !is_ident(c) && c != '.' && c != ':');
            let after = &code[index + function.len()..];
            let open = after.len() - after.trim_start().len();
            if !before_ok || !after[open..].starts_with('(') {
                continue;
            }
            // Past `(` and any spaces, in the original text, where the literal is.
            let start = index + function.len() + open + 1;
            let rest = &source[start..];
            let quote = start + (rest.len() - rest.trim_start().len());
            if !source[quote..].starts_with('"') {
                continue;
            }
            let Some(end) = source[quote + 1..].find('"') else {
                continue;
            };
            // Only a literal standing alone as the argument names the table.
            let after_literal = source[quote + end + 2..].trim_start();
            if !after_literal.starts_with([',', ')']) {
                continue;
            }
            let name = source[quote + 1..quote + 1 + end].to_owned();
            let line = source[..quote].matches('\n').count() + 1;
            let column = source[..quote]
                .rsplit('\n')
                .next()
                .map_or(0, |text| text.chars().count())
                + 1;
            found.push((name, line, column));
        }
    }
    found.sort_by_key(|(_, line, column)| (*line, *column));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_form_fields_outside_strings() {
        let source = r#"form.risk_level == "high" && form.reason != "form.fake" // form.comment"#;
        assert_eq!(form_fields_read(source), vec!["risk_level", "reason"]);
        assert!(form_fields_read("platform.x + myform.y").is_empty());
    }

    #[test]
    fn sees_a_variable_passed_whole() {
        assert!(mentions_variable("referral::meets(case, form)", "form"));
        assert!(!mentions_variable("case.platform == \"form\"", "form"));
    }

    #[test]
    fn finds_tables_named_by_literal() {
        let source = "// ā lookup(\"nope\")\nlookup(\"ndis_items\", form.code) != () && \"ō\" != \"\" &&\n  options( \"iwi\").len() > 0 && lookup(table, x) && mylookup(\"no\") && label(\"a\" + b, c)";
        assert_eq!(
            tables_named(source),
            vec![("ndis_items".to_owned(), 2, 8), ("iwi".to_owned(), 3, 12)]
        );
    }

    #[test]
    fn finds_module_calls() {
        let source = "referral::meets_criteria(case, form) && ndis::price(\"a::b\")";
        assert_eq!(
            module_calls(source),
            vec![
                ("referral".to_owned(), "meets_criteria".to_owned()),
                ("ndis".to_owned(), "price".to_owned())
            ]
        );
    }
}
