//! Pictures of a workflow: states as nodes, one arrow per (from → to) of every
//! transition. DOT and Mermaid are text for other tools; SVG is laid out here
//! (see `diagram_svg.rs`) so `caseflow diagram` works without Graphviz installed.

use std::fmt::Write as _;
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
    /// `if <condition>`, or `otherwise` for the last of several branches.
    when: Option<String>,
    roles: Option<String>,
}

impl Edge<'_> {
    /// Name, condition and roles on lines of their own; only roles start with `[`.
    fn lines(&self) -> Vec<String> {
        let head = match &self.deadline {
            Some(due) => format!("{} ({due})", self.transition),
            None => self.transition.to_owned(),
        };
        let roles = self.roles.as_ref().map(|roles| format!("[{roles}]"));
        std::iter::once(head)
            .chain(self.when.clone())
            .chain(roles)
            .collect()
    }
}

/// A state to draw; `title` is `None` when it would only repeat the name.
struct Node<'a> {
    name: &'a str,
    title: Option<&'a str>,
    terminal: bool,
    initial: bool,
}

impl Node<'_> {
    /// The title, then the name in small print (the `[` marks it as such).
    fn lines(&self) -> Vec<String> {
        match self.title {
            Some(title) => vec![title.to_owned(), format!("[{}]", self.name)],
            None => vec![self.name.to_owned()],
        }
    }
}

/// Every state, then any other name `initial` or a transition mentions, so an
/// unchecked definition still draws.
fn nodes(doc: &WorkflowDoc) -> Vec<Node<'_>> {
    let edges = edges(doc);
    let mentioned = doc
        .states
        .keys()
        .map(String::as_str)
        .chain([doc.initial.as_str()]);
    let mut out: Vec<Node<'_>> = Vec::new();
    for name in mentioned.chain(edges.iter().flat_map(|e| [e.from, e.to])) {
        if out.iter().all(|node| node.name != name) {
            let state = doc.states.get(name);
            out.push(Node {
                name,
                title: state
                    .and_then(|s| s.title.as_deref())
                    .filter(|t| t.trim() != name),
                terminal: state.is_some_and(|s| s.terminal),
                initial: name == doc.initial,
            });
        }
    }
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
            TargetDoc::State(to) => vec![(to, None)],
            TargetDoc::Branches(branches) => branches
                .iter()
                .map(|b| match &b.when {
                    Some(when) => (b.to.as_str(), Some(format!("if {}", shorten(when, 30)))),
                    None if branches.len() > 1 => (b.to.as_str(), Some("otherwise".to_owned())),
                    None => (b.to.as_str(), None),
                })
                .collect(),
        };
        let froms = match &transition.from {
            OneOrMany::One(one) => std::slice::from_ref(one),
            OneOrMany::Many(many) => many.as_slice(),
        };
        for from in froms {
            let deadlines = doc
                .states
                .get(from)
                .map(|s| s.deadlines.as_slice())
                .unwrap_or_default();
            let due: Vec<String> = deadlines
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

/// Replaces the characters in `table`; control characters and the two
/// non-characters, which XML forbids and which would break a line of DOT or
/// Mermaid, become spaces.
fn escape(text: &str, table: &[(char, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match table.iter().find(|(key, _)| *key == c) {
            Some((_, with)) => out.push_str(with),
            None if c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push(' '),
            None => out.push(c),
        }
    }
    out
}

fn xml_escape(text: &str) -> String {
    let table = [
        ('&', "&amp;"),
        ('<', "&lt;"),
        ('>', "&gt;"),
        ('"', "&quot;"),
        ('\'', "&apos;"),
    ];
    escape(text, &table)
}

fn dot_id(name: &str) -> String {
    format!("\"{}\"", escape(name, &[('\\', "\\\\"), ('"', "\\\"")]))
}

/// A DOT HTML-like label, which needs only XML escaping; `[roles]` in small print.
fn dot_label(lines: &[String]) -> String {
    let lines = lines
        .iter()
        .flat_map(|line| line.lines())
        .map(|line| match line {
            small if small.starts_with('[') => {
                format!("<FONT POINT-SIZE=\"9\">{}</FONT>", xml_escape(small))
            }
            line => xml_escape(line),
        });
    format!("<{}>", lines.collect::<Vec<_>>().join("<BR/>"))
}

pub fn to_dot(doc: &WorkflowDoc) -> String {
    let mut out = format!("digraph {} {{\n", dot_id(&doc.workflow));
    let title = dot_label(&[format!("{} (v{})", doc.title, doc.version)]);
    let _ = writeln!(
        out,
        "  graph [label={title}, labelloc=t, fontname=\"Helvetica\"];"
    );
    out.push_str(concat!(
        "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef4fb\", fontname=\"Helvetica\"];\n",
        "  edge [fontname=\"Helvetica\", fontsize=10];\n",
        // Quoted with parentheses so it can never clash with a state name.
        "  \"(start)\" [shape=point, width=0.15, fillcolor=black, label=\"\"];\n",
    ));
    let _ = writeln!(out, "  \"(start)\" -> {};", dot_id(&doc.initial));
    for node in nodes(doc) {
        let extra = match (node.terminal, node.initial) {
            (true, _) => ", style=filled, peripheries=2",
            (false, true) => ", penwidth=2.5",
            (false, false) => "",
        };
        let (id, label) = (dot_id(node.name), dot_label(&node.lines()));
        let _ = writeln!(out, "  {id} [label={label}{extra}];");
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

/// Mermaid decodes `#name;` entity codes itself, the one escape that works both
/// in quoted state descriptions and after a transition's `:`.
fn mermaid_text(text: &str) -> String {
    let table = [('#', "#35;"), ('"', "#quot;"), (';', "#59;"), ('%', "#37;")];
    let markup = [('<', "#lt;"), ('>', "#gt;"), ('&', "#amp;")];
    escape(text, &[&table[..], &markup[..]].concat())
}

/// State names are `[a-z0-9_]+`, but a few of those are Mermaid keywords.
fn mermaid_id(name: &str) -> String {
    const KEYWORDS: [&str; 7] = ["state", "note", "end", "as", "direction", "class", "style"];
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
    let title = mermaid_text(&doc.title);
    let mut out = format!("%% {title} (v{})\nstateDiagram-v2\n", doc.version);
    let nodes = nodes(doc);
    for node in &nodes {
        let id = mermaid_id(node.name);
        let shown = match node.title {
            Some(title) => format!("{} ({})", mermaid_text(title), node.name),
            None if id != node.name => mermaid_text(node.name),
            None => continue,
        };
        let _ = writeln!(out, "    state \"{shown}\" as {id}");
    }
    let _ = writeln!(out, "    [*] --> {}", mermaid_id(&doc.initial));
    for edge in edges(doc) {
        let (from, to) = (mermaid_id(edge.from), mermaid_id(edge.to));
        let _ = writeln!(
            out,
            "    {from} --> {to} : {}",
            mermaid_text(&edge.lines().join(" "))
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

    /// A referral: branches, a self-loop, a deadline that fires, a macron
    /// title, markup in titles, a state nothing reaches.
    pub(super) fn referral() -> WorkflowDoc {
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
        serde_json::from_value(json).unwrap_or_else(|err| panic!("bad test workflow: {err}"))
    }

    #[test]
    fn format_parses_and_lists_choices() {
        assert_eq!("svg".parse::<DiagramFormat>(), Ok(DiagramFormat::Svg));
        assert_eq!(
            " Mermaid".parse::<DiagramFormat>(),
            Ok(DiagramFormat::Mermaid)
        );
        assert_eq!("dot".parse::<DiagramFormat>(), Ok(DiagramFormat::Dot));
        let err = "png".parse::<DiagramFormat>().map_err(|e| e.to_string());
        assert_eq!(
            err,
            Err("`png` is not a diagram format (choose svg, mermaid or dot)".into())
        );
    }

    #[test]
    fn edges_cover_branches_froms_and_deadlines() {
        let doc = referral();
        let edges = edges(&doc);
        let got: Vec<String> = edges
            .iter()
            .map(|e| format!("{}>{}:{}", e.from, e.to, e.lines()[0]))
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
        assert_eq!(
            edges[1].when.as_deref(),
            Some("if case.risk_score >= 7 && case.…")
        );
        assert_eq!(
            edges[3].lines(),
            ["assess", "otherwise", "[assessor, lead]"]
        );
        assert_eq!(edges[7].roles, None, "an empty role list prints nothing");
        let names: Vec<&str> = nodes(&doc).iter().map(|n| n.name).collect();
        assert_eq!(
            names,
            [
                "received",
                "triage",
                "awaiting_consent",
                "active",
                "closed",
                "archived"
            ]
        );
    }

    #[test]
    fn dot_has_every_edge_and_escapes_labels() {
        let dot = to_dot(&referral());
        assert!(dot.starts_with("digraph \"referral\" {\n") && dot.ends_with("}\n"));
        for line in [
            "\"(start)\" -> \"received\";",
            "\"received\" -> \"triage\" [label=<submit<BR/><FONT POINT-SIZE=\"9\">[intake_worker]</FONT>>];",
            "\"triage\" -> \"triage\" [label=<add_note>];",
            "\"awaiting_consent\" -> \"closed\" [label=<consent_timeout (after 14d)>, style=dashed];",
            "\"triage\" -> \"active\" [label=<assess<BR/>if case.risk_score &gt;= 7 &amp;&amp; case.…<BR/>",
            "\"triage\" -> \"closed\" [label=<assess<BR/>otherwise<BR/>",
            "\"triage\" [label=<Triage &quot;first look&quot;<BR/><FONT POINT-SIZE=\"9\">[triage]</FONT>>];",
            "\"received\" [label=<Whakaritenga<BR/><FONT POINT-SIZE=\"9\">[received]</FONT>>, penwidth=2.5];",
            "\"archived\" [label=<archived>, style=filled, peripheries=2];",
            "graph [label=<Referral &amp; &lt;intake&gt; (v3)>",
        ] {
            assert!(dot.contains(line), "missing {line}\n{dot}");
        }
        assert_eq!(dot.matches(" -> ").count(), 11);
        assert_eq!(dot_id("a\"b\\c\n"), "\"a\\\"b\\\\c \"");
    }

    #[test]
    fn mermaid_has_every_edge_and_escapes_labels() {
        let mermaid = to_mermaid(&referral());
        assert!(mermaid.starts_with("%% Referral #amp; #lt;intake#gt; (v3)\nstateDiagram-v2\n"));
        for line in [
            "    state \"Whakaritenga (received)\" as received\n",
            "    state \"Triage #quot;first look#quot; (triage)\" as triage\n",
            "    [*] --> received\n",
            "    received --> triage : submit [intake_worker]\n",
            "    triage --> triage : add_note\n",
            "    awaiting_consent --> closed : consent_timeout (after 14d)\n",
            "    triage --> active : assess if case.risk_score #gt;= 7 #amp;#amp; case.… [assessor, lead]\n",
            "    closed --> [*]\n    archived --> [*]\n",
        ] {
            assert!(mermaid.contains(line), "missing {line}\n{mermaid}");
        }
        assert_eq!(mermaid.matches(" --> ").count(), 13);
        assert_eq!(mermaid_id("end"), "s_end");
        assert_eq!(mermaid_text("a;b#c\"\n"), "a#59;b#35;c#quot; ");
    }
}
