//! Pictures of a workflow: states as nodes, one arrow per (from → to) of every
//! transition. DOT and Mermaid are text for other tools; SVG is laid out here
//! (see `diagram_svg.rs`) so `caseflow diagram` works without Graphviz installed.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use super::model::{DeadlineDoc, OneOrMany, TargetDoc, WorkflowDoc};

#[path = "diagram_svg.rs"]
mod svg;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagramFormat {
    Svg,
    Mermaid,
    Dot,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a diagram format (choose svg, mermaid or dot)")]
pub struct DiagramFormatError(pub String);

impl FromStr for DiagramFormat {
    type Err = DiagramFormatError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "svg" => Ok(Self::Svg),
            "mermaid" => Ok(Self::Mermaid),
            "dot" => Ok(Self::Dot),
            _ => Err(DiagramFormatError(text.to_owned())),
        }
    }
}

impl fmt::Display for DiagramFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Svg => "svg",
            Self::Mermaid => "mermaid",
            Self::Dot => "dot",
        })
    }
}

pub fn render(doc: &WorkflowDoc, format: DiagramFormat) -> String {
    match format {
        DiagramFormat::Svg => to_svg(doc),
        DiagramFormat::Mermaid => to_mermaid(doc),
        DiagramFormat::Dot => to_dot(doc),
    }
}

pub fn to_svg(doc: &WorkflowDoc) -> String {
    svg::render(doc, &nodes(doc), &edges(doc))
}

/// One arrow: a transition leaving one of its `from` states for one of its targets.
struct Edge<'a> {
    from: &'a str,
    to: &'a str,
    transition: &'a str,
    /// When a deadline of `from` fires this transition: when it falls due.
    deadline: Option<String>,
    /// `if <condition>` or `otherwise`, for one of several branches.
    when: Option<String>,
    roles: Option<String>,
}

impl Edge<'_> {
    fn head(&self) -> String {
        match &self.deadline {
            Some(due) => format!("{} ({due})", self.transition),
            None => self.transition.to_owned(),
        }
    }

    /// Name, condition and roles on their own lines; the roles line starts with `[`.
    fn lines(&self) -> Vec<String> {
        let mut lines = vec![self.head()];
        lines.extend(self.when.clone());
        lines.extend(self.roles.as_ref().map(|roles| format!("[{roles}]")));
        lines
    }
}

/// A state to draw; `title` is `None` when it would only repeat the name.
struct Node<'a> {
    name: &'a str,
    title: Option<&'a str>,
    terminal: bool,
    initial: bool,
}

/// Every state, then any name a transition or `initial` mentions that is not
/// one, so a definition that has not been validated still draws.
fn nodes(doc: &WorkflowDoc) -> Vec<Node<'_>> {
    let mut out: Vec<Node<'_>> = Vec::new();
    let mentioned = std::iter::once(doc.initial.as_str())
        .chain(doc.states.keys().map(String::as_str))
        .chain(edges(doc).into_iter().flat_map(|e| [e.from, e.to]));
    for name in mentioned {
        if out.iter().any(|node| node.name == name) {
            continue;
        }
        let state = doc.states.get(name);
        out.push(Node {
            name,
            title: state
                .and_then(|s| s.title.as_deref())
                .filter(|title| title.trim() != name),
            terminal: state.is_some_and(|s| s.terminal),
            initial: name == doc.initial,
        });
    }
    // The initial state leads the list for `once` above; restore file order.
    out.sort_by_key(|node| doc.states.get_index_of(node.name).unwrap_or(usize::MAX));
    out
}

fn edges(doc: &WorkflowDoc) -> Vec<Edge<'_>> {
    let mut out = Vec::new();
    for (name, transition) in &doc.transitions {
        let roles = transition
            .roles
            .as_ref()
            .filter(|r| !r.is_empty())
            .map(|r| r.join(", "));
        let targets: Vec<(&str, Option<String>)> = match &transition.to {
            TargetDoc::State(to) => vec![(to.as_str(), None)],
            TargetDoc::Branches(branches) => branches
                .iter()
                .map(|b| {
                    let when = match &b.when {
                        Some(when) => format!("if {}", shorten(when, 30)),
                        None if branches.len() > 1 => "otherwise".to_owned(),
                        None => return (b.to.as_str(), None),
                    };
                    (b.to.as_str(), Some(when))
                })
                .collect(),
        };
        let froms = match &transition.from {
            OneOrMany::One(one) => std::slice::from_ref(one),
            OneOrMany::Many(many) => many.as_slice(),
        };
        for from in froms {
            let due: Vec<String> = doc
                .states
                .get(from)
                .map(|state| state.deadlines.as_slice())
                .unwrap_or_default()
                .iter()
                .filter(|d| d.fire.as_deref() == Some(name.as_str()))
                .map(deadline_text)
                .collect();
            for (to, when) in &targets {
                out.push(Edge {
                    from,
                    to,
                    transition: name,
                    deadline: (!due.is_empty()).then(|| due.join(", ")),
                    when: when.clone(),
                    roles: roles.clone(),
                });
            }
        }
    }
    out
}

fn deadline_text(deadline: &DeadlineDoc) -> String {
    match (&deadline.after, &deadline.at, &deadline.before) {
        (Some(after), _, _) => format!("after {after}"),
        (None, Some(at), Some(before)) => format!("{before} before {}", shorten(at, 30)),
        (None, Some(at), None) => format!("at {}", shorten(at, 30)),
        (None, None, _) => "deadline".to_owned(),
    }
}

/// Collapses whitespace (expressions span lines in YAML) and cuts to `max` characters.
fn shorten(text: &str, max: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// Control characters are not allowed in XML and break line-based formats.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\n' { ' ' } else { c })
        .collect()
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in clean(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

fn dot_id(name: &str) -> String {
    format!(
        "\"{}\"",
        clean(name)
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', " ")
    )
}

/// DOT HTML-like label: escaped text, one `<BR/>` per line, roles in small print.
fn dot_label(lines: &[String]) -> String {
    let body: Vec<String> = lines
        .iter()
        .flat_map(|line| line.split('\n'))
        .map(|line| {
            if line.starts_with('[') {
                format!("<FONT POINT-SIZE=\"9\">{}</FONT>", xml_escape(line))
            } else {
                xml_escape(line)
            }
        })
        .collect();
    format!("<{}>", body.join("<BR/>"))
}

fn node_lines(node: &Node<'_>) -> Vec<String> {
    match node.title {
        Some(title) => vec![title.to_owned(), format!("[{}]", node.name)],
        None => vec![node.name.to_owned()],
    }
}

pub fn to_dot(doc: &WorkflowDoc) -> String {
    let mut out = format!("digraph {} {{\n", dot_id(&doc.workflow));
    let title = dot_label(&[format!("{} (v{})", doc.title, doc.version)]);
    let _ = writeln!(
        out,
        "  graph [label={title}, labelloc=t, fontname=\"Helvetica\"];"
    );
    out.push_str("  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef4fb\", fontname=\"Helvetica\"];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=10];\n");
    // Quoted with parentheses so it can never clash with a state name.
    out.push_str("  \"(start)\" [shape=point, width=0.15, label=\"\"];\n");
    let _ = writeln!(out, "  \"(start)\" -> {};", dot_id(&doc.initial));
    for node in nodes(doc) {
        let extra = match (node.initial, node.terminal) {
            (_, true) => ", style=filled, peripheries=2",
            (true, false) => ", penwidth=2.5",
            (false, false) => "",
        };
        let label = dot_label(&node_lines(&node));
        let _ = writeln!(out, "  {} [label={label}{extra}];", dot_id(node.name));
    }
    for edge in edges(doc) {
        let style = if edge.deadline.is_some() {
            ", style=dashed"
        } else {
            ""
        };
        let (from, to, label) = (dot_id(edge.from), dot_id(edge.to), dot_label(&edge.lines()));
        let _ = writeln!(out, "  {from} -> {to} [label={label}{style}];");
    }
    out.push_str("}\n");
    out
}

/// Mermaid decodes `#name;` entity codes itself, which is the only escape that
/// works both inside quoted state descriptions and after a transition's `:`.
fn mermaid_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in clean(text).chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            ';' => out.push_str("#59;"),
            '%' => out.push_str("#37;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// State names are `[a-z0-9_]+`, but a few of those are Mermaid keywords.
fn mermaid_id(name: &str) -> String {
    const KEYWORDS: [&str; 8] = [
        "state",
        "note",
        "end",
        "as",
        "direction",
        "class",
        "classdef",
        "style",
    ];
    let plain = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain && !KEYWORDS.contains(&name) {
        return name.to_owned();
    }
    let kept: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    format!("s_{kept}")
}

pub fn to_mermaid(doc: &WorkflowDoc) -> String {
    let mut out = format!(
        "%% {} (v{})\nstateDiagram-v2\n",
        mermaid_text(&doc.title),
        doc.version
    );
    let nodes = nodes(doc);
    for node in &nodes {
        let id = mermaid_id(node.name);
        if let Some(title) = node.title {
            let _ = writeln!(
                out,
                "    state \"{} ({})\" as {id}",
                mermaid_text(title),
                node.name
            );
        } else if id != node.name {
            let _ = writeln!(out, "    state \"{}\" as {id}", mermaid_text(node.name));
        }
    }
    let _ = writeln!(out, "    [*] --> {}", mermaid_id(&doc.initial));
    for edge in edges(doc) {
        let label = mermaid_text(&edge.lines().join(" "));
        let _ = writeln!(
            out,
            "    {} --> {} : {label}",
            mermaid_id(edge.from),
            mermaid_id(edge.to)
        );
    }
    for node in nodes.iter().filter(|node| node.terminal) {
        let _ = writeln!(out, "    {} --> [*]", mermaid_id(node.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A referral: branches, a self-loop, a deadline that fires, a macron title,
    /// markup in a title, an unreached state.
    fn referral() -> WorkflowDoc {
        let json = serde_json::json!({
            "workflow": "referral", "version": 3, "title": "Referral & <intake>",
            "initial": "received",
            "states": {
                "received": {"title": "Whakaritenga"},
                "triage": {"title": "Triage \"first look\""},
                "awaiting_consent": {"deadlines": [
                    {"after": "14d", "fire": "consent_timeout"},
                    {"after": "7d", "notify": {"template": "consent_reminder"}}
                ]},
                "active": {},
                "closed": {"title": "Closed", "terminal": true},
                "archived": {"terminal": true}
            },
            "transitions": {
                "submit": {"from": "received", "to": "triage", "roles": ["intake_worker"]},
                "assess": {"from": "triage", "roles": ["assessor", "lead"], "to": [
                    {"when": "case.risk_score >= 7 && case.needs.len() > 2", "to": "active"},
                    {"when": "case.consent < 1", "to": "awaiting_consent"},
                    {"to": "closed"}
                ]},
                "add_note": {"from": ["triage", "active"], "to": "triage"},
                "consent_given": {"from": "awaiting_consent", "to": "active"},
                "consent_timeout": {"from": "awaiting_consent", "to": "closed", "roles": []},
                "close": {"from": ["active", "triage"], "to": "closed", "roles": ["lead"]}
            }
        });
        match serde_json::from_value(json) {
            Ok(doc) => doc,
            Err(err) => panic!("test workflow does not parse: {err}"),
        }
    }

    #[test]
    fn format_parses_and_lists_choices() {
        assert_eq!("svg".parse::<DiagramFormat>(), Ok(DiagramFormat::Svg));
        assert_eq!(
            " Mermaid".parse::<DiagramFormat>(),
            Ok(DiagramFormat::Mermaid)
        );
        assert_eq!("dot".parse::<DiagramFormat>(), Ok(DiagramFormat::Dot));
        let err = "png"
            .parse::<DiagramFormat>()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("png") && err.contains("svg, mermaid or dot"),
            "{err}"
        );
        assert_eq!(DiagramFormat::Mermaid.to_string(), "mermaid");
    }

    #[test]
    fn edges_cover_branches_froms_and_deadlines() {
        let doc = referral();
        let got: Vec<String> = edges(&doc)
            .iter()
            .map(|e| format!("{}>{}:{}", e.from, e.to, e.head()))
            .collect();
        let want = [
            "received>triage:submit",
            "triage>active:assess",
            "triage>awaiting_consent:assess",
            "triage>closed:assess",
            "triage>triage:add_note",
            "active>triage:add_note",
            "awaiting_consent>active:consent_given",
            "awaiting_consent>closed:consent_timeout (after 14d)",
            "active>closed:close",
            "triage>closed:close",
        ];
        assert_eq!(got, want);
        let assess = &edges(&doc)[1];
        assert_eq!(
            assess.when.as_deref(),
            Some("if case.risk_score >= 7 && case.…")
        );
        assert_eq!(assess.when.as_ref().map(|w| w.chars().count()), Some(33));
        assert_eq!(edges(&doc)[3].when.as_deref(), Some("otherwise"));
        assert_eq!(
            edges(&doc)[7].roles,
            None,
            "an empty role list prints nothing"
        );
    }

    #[test]
    fn dot_has_every_edge_and_escapes_labels() {
        let dot = to_dot(&referral());
        assert!(dot.starts_with("digraph \"referral\" {\n") && dot.ends_with("}\n"));
        assert!(dot.contains("\"(start)\" -> \"received\";"));
        assert!(dot.contains("\"received\" -> \"triage\" [label=<submit<BR/><FONT POINT-SIZE=\"9\">[intake_worker]</FONT>>];"));
        assert!(dot.contains("\"triage\" -> \"triage\" [label=<add_note>];"));
        assert!(dot.contains("\"awaiting_consent\" -> \"closed\" [label=<consent_timeout (after 14d)>, style=dashed];"));
        assert!(
            dot.contains("[label=<assess<BR/>if case.risk_score &gt;= 7 &amp;&amp; case.…<BR/>")
        );
        assert!(dot.contains("\"triage\" [label=<Triage &quot;first look&quot;<BR/><FONT POINT-SIZE=\"9\">[triage]</FONT>>];"));
        assert!(dot.contains("\"received\" [label=<Whakaritenga<BR/>"));
        assert!(dot.contains("label=<Referral &amp; &lt;intake&gt; (v3)>"));
        assert!(
            dot.contains("\"archived\" [label=<archived>, style=filled, peripheries=2];"),
            "{dot}"
        );
        assert!(dot.contains("\"triage\" -> \"closed\" [label=<assess<BR/>otherwise<BR/>"));
        assert_eq!(dot.matches(" -> ").count(), 11);
        assert_eq!(dot_id("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn mermaid_has_every_edge_and_escapes_labels() {
        let mermaid = to_mermaid(&referral());
        assert!(
            mermaid.starts_with("%% Referral #amp; #lt;intake#gt; (v3)\nstateDiagram-v2\n"),
            "{mermaid}"
        );
        assert!(mermaid.contains("    state \"Whakaritenga (received)\" as received\n"));
        assert!(
            mermaid.contains("    state \"Triage #quot;first look#quot; (triage)\" as triage\n")
        );
        assert!(mermaid.contains("    [*] --> received\n"));
        assert!(mermaid.contains("    received --> triage : submit [intake_worker]\n"));
        assert!(mermaid.contains("    triage --> triage : add_note\n"));
        assert!(
            mermaid.contains("    awaiting_consent --> closed : consent_timeout (after 14d)\n")
        );
        assert!(mermaid.contains("    triage --> active : assess if case.risk_score #gt;= 7 #amp;#amp; case.… [assessor, lead]\n"));
        assert!(mermaid.contains("    closed --> [*]\n    archived --> [*]\n"));
        assert_eq!(mermaid.matches(" --> ").count(), 13);
        assert_eq!(mermaid_id("end"), "s_end");
    }

    /// Each `<tag` is closed by `/>` or a matching `</tag>`, and no raw `&` or `<` leaks into text.
    fn assert_balanced(svg: &str) {
        let mut open: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(at) = rest.find('<') {
            let text = &rest[..at];
            assert!(!text.contains('>'), "stray > in {text:?}");
            for (i, _) in text.match_indices('&') {
                let entity = &text[i..text[i..].find(';').map_or(i, |end| i + end + 1)];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].contains(&entity),
                    "bad entity in {text:?}"
                );
            }
            let end = rest[at..]
                .find('>')
                .map(|e| at + e)
                .unwrap_or_else(|| panic!("unclosed tag"));
            let tag = &rest[at + 1..end];
            let name = tag
                .trim_start_matches('/')
                .split_whitespace()
                .next()
                .unwrap_or_default();
            if let Some(closing) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(closing.trim()), "mismatched </{closing}>");
            } else if !tag.ends_with('/') && !tag.starts_with('?') {
                open.push(name);
            }
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "unclosed {open:?}");
    }

    fn assert_complete_svg(svg: &str, doc: &WorkflowDoc) {
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.trim_end().ends_with("</svg>") && !svg.contains("NaN"));
        assert_balanced(svg);
        for name in doc.states.keys().chain(doc.transitions.keys()) {
            assert!(svg.contains(name.as_str()), "{name} missing from the svg");
        }
    }

    #[test]
    fn svg_is_laid_out_well_formed_and_complete() {
        let doc = referral();
        let svg = to_svg(&doc);
        assert_complete_svg(&svg, &doc);
        assert!(svg.contains(">Whakaritenga</text>"));
        assert!(svg.contains(">Triage &quot;first look&quot;</text>"));
        assert!(svg.contains("<title>Referral &amp; &lt;intake&gt; (v3)</title>"));
        assert!(svg.contains(">consent_timeout (after 14d)</text>"));
        assert!(svg.contains("class=\"r\"") && svg.contains("marker-end="));
        // The layered drawing has curves; only the grid fallback has none.
        assert!(svg.contains("<path class=\"edge"), "fell back to the grid");
        assert_eq!(render(&doc, DiagramFormat::Svg), svg);
    }

    #[test]
    fn svg_survives_awkward_shapes() {
        let mut doc = referral();
        doc.states.clear();
        doc.transitions.clear();
        assert_complete_svg(&to_svg(&doc), &doc);

        // 36 states in a ring with skips and self-loops, plus one left alone.
        let mut states = serde_json::Map::new();
        let mut transitions = serde_json::Map::new();
        for i in 0..36 {
            states.insert(
                format!("s{i}"),
                serde_json::json!({"title": format!("Step <{i}> & ā\u{7}")}),
            );
            let to = vec![
                format!("s{}", (i + 1) % 36),
                format!("s{}", (i + 7) % 36),
                format!("s{i}"),
            ];
            for (k, to) in to.into_iter().enumerate() {
                transitions.insert(
                    format!("t{i}_{k}"),
                    serde_json::json!({"from": format!("s{i}"), "to": to}),
                );
            }
        }
        states.insert("alone".into(), serde_json::json!({"terminal": true}));
        let json = serde_json::json!({"workflow": "ring", "version": 1, "title": "Ring", "initial": "s0",
            "states": states, "transitions": transitions});
        let doc: WorkflowDoc = match serde_json::from_value(json) {
            Ok(doc) => doc,
            Err(err) => panic!("{err}"),
        };
        let svg = to_svg(&doc);
        assert_complete_svg(&svg, &doc);
        assert!(
            svg.contains("Step &lt;35&gt; &amp; ā "),
            "control characters become spaces"
        );
    }

    #[test]
    fn grid_fallback_is_complete() {
        let doc = referral();
        let svg = svg::grid(&doc, &nodes(&doc), &edges(&doc));
        assert_complete_svg(&svg, &doc);
        assert!(!svg.contains("<path class"));
    }
}
