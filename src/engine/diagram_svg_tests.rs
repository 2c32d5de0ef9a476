//! Tests of the SVG writer and layout fallbacks.

use super::super::{edges, nodes, tests::referral, to_svg};
use super::*;

/// Every `<tag` closes with `/>` or a matching `</tag>`; text holds no raw `>` or stray `&`.
fn assert_well_formed(svg: &str) {
    let (mut open, mut rest) = (Vec::new(), svg);
    while let Some(at) = rest.find('<') {
        let text = rest[..at]
            .replace("&amp;", "")
            .replace("&lt;", "")
            .replace("&gt;", "");
        let text = text.replace("&quot;", "").replace("&apos;", "");
        assert!(!text.contains(['&', '>']), "unescaped text {text:?}");
        let end = at
            + rest[at..]
                .find('>')
                .unwrap_or_else(|| panic!("unclosed tag"));
        let tag = &rest[at + 1..end];
        let name = tag
            .trim_start_matches('/')
            .split_whitespace()
            .next()
            .unwrap_or_default();
        if tag.starts_with('/') {
            assert_eq!(open.pop(), Some(name), "mismatched </{name}>");
        } else if !tag.ends_with('/') {
            open.push(name);
        }
        rest = &rest[end + 1..];
    }
    assert!(open.is_empty(), "unclosed {open:?}");
}

fn assert_complete(svg: &str, doc: &WorkflowDoc) {
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" width="));
    assert!(svg.ends_with("</svg>\n") && !svg.contains("NaN"));
    assert_well_formed(svg);
    for name in doc.states.keys().chain(doc.transitions.keys()) {
        assert!(
            [">", "[", ": "]
                .iter()
                .any(|before| svg.contains(&format!("{before}{name}"))),
            "{name} missing"
        );
    }
}

#[test]
fn svg_is_laid_out_well_formed_and_complete() {
    let doc = referral();
    let svg = to_svg(&doc);
    assert_complete(&svg, &doc);
    assert!(svg.contains("<path class=\"edge"), "fell back to the grid");
    assert!(svg.contains(">Whakaritenga</text>"));
    assert!(svg.contains(">Triage &quot;first look&quot;</text>"));
    assert!(svg.contains("<title>Referral &amp; &lt;intake&gt; (v3)</title>"));
    assert!(svg.contains(">consent_timeout (after 14d)</text>"));
    assert!(svg.contains("class=\"r\" ") && svg.contains("class=\"edge dashed\""));
    assert_eq!(svg.matches("<rect class=\"state initial\"").count(), 1);
    assert_eq!(svg.matches("<ellipse class=\"state terminal\"").count(), 2);
    assert_eq!(svg.matches("<ellipse class=\"ring\"").count(), 2);
    // One arrow per edge plus the entry arrow; every one has a head.
    assert_eq!(svg.matches("<path class=\"edge").count(), 11);
    assert_eq!(svg.matches("url(#head)").count(), 11);
    // Only active → triage points back up, drawn reversed with its head kept.
    assert_eq!(svg.matches("marker-start=").count(), 1);
}

#[test]
fn svg_survives_awkward_shapes() {
    let mut doc = referral();
    (doc.states, doc.transitions) = Default::default();
    assert_complete(&to_svg(&doc), &doc);

    // A ring of 36 states with skips and self-loops, plus a state on its own.
    let mut json = serde_json::json!({"workflow": "ring", "version": 1, "title": "Ring",
        "initial": "s0", "states": {"alone": {"terminal": true}}, "transitions": {}});
    for i in 0..36 {
        json["states"][format!("s{i}")] = serde_json::json!({"title": format!("<{i}> & ā\u{7}")});
        for (k, to) in [i, (i + 1) % 36, (i + 7) % 36].into_iter().enumerate() {
            json["transitions"][format!("t{i}_{k}")] =
                serde_json::json!({"from": format!("s{i}"), "to": format!("s{to}")});
        }
    }
    let doc: WorkflowDoc = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
    let svg = to_svg(&doc);
    assert_complete(&svg, &doc);
    assert!(
        svg.contains(">&lt;35&gt; &amp; ā </text>"),
        "control characters become spaces"
    );
    assert!(svg.contains("<path class=\"edge"), "fell back to the grid");
}

#[test]
fn back_edges_are_turned_round_from_the_initial_state() {
    // 0 → 1 → 2 → 0, 2 → 2, 3 → 1; the search starts at 1.
    let pairs = vec![(0, 1), (1, 2), (2, 0), (2, 2), (3, 1)];
    let (downs, finish) = orient(4, 1, &pairs);
    assert_eq!(downs, [(1, 0), (1, 2), (2, 0), (2, 2), (3, 1)]);
    assert_eq!(finish, [0, 2, 1, 3]);
    let plan = Plan {
        pairs,
        downs,
        order: vec![4, 0, 1, 2, 3],
        initial: 1,
    };
    // Ranks 3, 1, 2, 0 for states 0 to 3; the self-loop's label sits beside 2.
    assert_eq!(row_widths(4, &plan), [1, 1, 1, 2, 3, 2, 1, 0]);
}

#[test]
fn quietly_turns_a_panic_into_none() {
    assert_eq!(quietly(|| 7), Some(7));
    assert_eq!(quietly(|| -> u8 { panic!("layout-rs gave up") }), None);
}

#[test]
fn grid_fallback_is_complete() {
    let doc = referral();
    let svg = grid(&doc, &nodes(&doc), &edges(&doc));
    assert_complete(&svg, &doc);
    assert!(!svg.contains("<path class") && svg.contains(">triage → closed: close [lead]</text>"));
}
