//! SVG drawn in-process: `layout-rs` places the nodes and routes the arrows,
//! and the [`Canvas`] here turns its draw calls into the document, because the
//! crate's own `SVGWriter` sizes the picture wrongly and has no styling hooks.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};

use layout::core::base::Orientation;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::StyleAttr;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::{Edge, Node, WorkflowDoc, node_lines, xml_escape};

const NODE_FONT: usize = 14;
const EDGE_FONT: usize = 12;
/// `layout-rs` checks for cycles by walking every path from each edge's head,
/// so a dense graph costs exponential time; past this many steps, draw a grid.
const PATH_BUDGET: u64 = 2_000_000;
/// About 0.1 s in a release build (a 36-state ring with 108 edges costs 250 000).
const CROSSING_BUDGET: u64 = 60_000;

const STYLE: &str = "text{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;fill:#1d2733}\
.t{font-size:14px}.l{font-size:12px}.r{font-size:10px;fill:#5b6673}\
.l,.r{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}\
.state{fill:#eef4fb;stroke:#35577d;stroke-width:1.5}.initial{stroke-width:3}\
.terminal{fill:#f1f1f1}.ring{fill:none;stroke:#35577d;stroke-width:1.5}\
.start{fill:#1d2733;stroke:#1d2733}.edge{fill:none;stroke:#4a5563;stroke-width:1.3}\
.dashed{stroke-dasharray:5 4}.title{font-size:16px;font-weight:bold}";

pub(super) fn render(doc: &WorkflowDoc, nodes: &[Node<'_>], edges: &[Edge<'_>]) -> String {
    // layout-rs asserts on geometry it cannot handle (rare, seen only on random
    // dense graphs); a plainer picture beats failing the command.
    let laid_out = panic::catch_unwind(AssertUnwindSafe(|| layered(doc, nodes, edges)));
    match laid_out {
        Ok(Some(svg)) => svg,
        Ok(None) | Err(_) => grid(doc, nodes, edges),
    }
}

fn layered(doc: &WorkflowDoc, nodes: &[Node<'_>], edges: &[Edge<'_>]) -> Option<String> {
    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.name, i)).collect();
    let pairs: Vec<(usize, usize)> = edges
        .iter()
        .filter_map(|e| Some((*index.get(e.from)?, *index.get(e.to)?)))
        .collect();
    if pairs.len() != edges.len() {
        return None;
    }
    let initial = nodes.iter().position(|n| n.initial).unwrap_or(0);
    let (back, finish) = orient(nodes.len(), initial, &pairs);
    let succ = downward(nodes.len(), &pairs, &back);
    if path_cost(&succ, &finish) > PATH_BUDGET {
        return None;
    }
    // Past the budget, keep layout-rs's first ordering of each row: more
    // crossings, but seconds become milliseconds.
    let optimise = crossing_cost(&succ, &finish, &pairs) <= CROSSING_BUDGET;
    let optimise = match std::env::var("DIAG_OPT").as_deref() {
        Ok("on") => true,
        Ok("off") => false,
        _ => optimise,
    }; // TEMP

    let mut vg = VisualGraph::new(Orientation::TopToBottom);
    // `verify` re-walks every path after every edge; `orient` already made it acyclic.
    vg.dag.set_validate(false);
    let start = Element::create_with_properties(
        ShapeKind::new_circle(""),
        StyleAttr::simple(),
        Orientation::TopToBottom,
        Point::splat(14.),
        "start",
    );
    let start = vg.add_node(start);
    let handles: Vec<_> = nodes
        .iter()
        .map(|node| vg.add_node(element(node)))
        .collect();
    if let Some(&first) = handles.get(initial) {
        vg.add_edge(Arrow::simple_with_properties("", "edge"), start, first);
    }
    let mut look = StyleAttr::simple();
    look.font_size = EDGE_FONT;
    for ((edge, &(from, to)), &reversed) in edges.iter().zip(&pairs).zip(&back) {
        let class = if edge.deadline.is_some() {
            "edge dashed"
        } else {
            "edge"
        };
        let mut arrow = Arrow::simple_with_properties(&edge.lines().join("\n"), class);
        arrow.look = look.clone();
        // Drawing a back edge upside down with its head at the start keeps the
        // initial state on top instead of letting layout-rs pick what to flip.
        if reversed {
            vg.add_edge(arrow.reverse(), handles[to], handles[from]);
        } else {
            vg.add_edge(arrow, handles[from], handles[to]);
        }
    }
    let mut canvas = Canvas::default();
    let t = std::time::Instant::now(); // TEMP
    vg.do_it(false, !optimise, false, &mut canvas);
    if std::env::var("STATS").is_ok() {
        eprintln!(
            "STAT {} {} {} {}",
            crossing_cost(&succ, &finish, &pairs),
            elements_tmp(&succ, &finish, &pairs),
            vg.num_nodes(),
            t.elapsed().as_secs_f64()
        );
    } // TEMP
    canvas.finish(doc)
}

fn element(node: &Node<'_>) -> Element {
    let lines = node_lines(node);
    let chars = lines.iter().map(|l| l.chars().count()).max().unwrap_or(1) as f64;
    let (w, h) = (
        chars * NODE_FONT as f64 * 0.62 + 28.,
        lines.len() as f64 * 18. + 16.,
    );
    let mut look = StyleAttr::simple();
    look.font_size = NODE_FONT;
    look.rounded = 8;
    let (shape, size, class) = match (node.terminal, node.initial) {
        (true, _) => (
            ShapeKind::new_double_circle(&lines.join("\n")),
            Point::new(w * 1.3, h * 1.5),
            "state terminal",
        ),
        (false, true) => (
            ShapeKind::new_box(&lines.join("\n")),
            Point::new(w, h),
            "state initial",
        ),
        (false, false) => (
            ShapeKind::new_box(&lines.join("\n")),
            Point::new(w, h),
            "state",
        ),
    };
    Element::create_with_properties(shape, look, Orientation::TopToBottom, size, class)
}

/// Depth-first from the initial state: which edges point back up the search
/// (to be drawn reversed), and the finishing order, a reverse topological order
/// of the graph with those edges turned round.
fn orient(count: usize, initial: usize, pairs: &[(usize, usize)]) -> (Vec<bool>, Vec<usize>) {
    let mut out_edges = vec![Vec::new(); count];
    for (i, &(from, _)) in pairs.iter().enumerate() {
        out_edges[from].push(i);
    }
    // 0: unseen, 1: on the stack, 2: done.
    let (mut mark, mut back, mut finish) = (vec![0u8; count], vec![false; pairs.len()], Vec::new());
    for root in std::iter::once(initial)
        .chain(0..count)
        .filter(|&r| r < count)
    {
        if mark[root] != 0 {
            continue;
        }
        mark[root] = 1;
        let mut stack = vec![(root, 0usize)];
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            let Some(&edge) = out_edges[node].get(*next) else {
                mark[node] = 2;
                finish.push(node);
                stack.pop();
                continue;
            };
            *next += 1;
            let to = pairs[edge].1;
            match mark[to] {
                0 => {
                    mark[to] = 1;
                    stack.push((to, 0));
                }
                1 => back[edge] = to != node,
                _ => {}
            }
        }
    }
    (back, finish)
}

/// The edges as they will be laid out: self-loops dropped, back edges turned round.
fn downward(count: usize, pairs: &[(usize, usize)], back: &[bool]) -> Vec<Vec<usize>> {
    let mut succ = vec![Vec::new(); count];
    for (&(from, to), &reversed) in pairs.iter().zip(back) {
        match (from == to, reversed) {
            (true, _) => {}
            (false, true) => succ[to].push(from),
            (false, false) => succ[from].push(to),
        }
    }
    succ
}

/// Steps layout-rs's cycle check will take: the paths out of each edge's head.
fn path_cost(succ: &[Vec<usize>], finish: &[usize]) -> u64 {
    let mut paths = vec![1u64; succ.len()];
    for &node in finish {
        paths[node] = succ[node]
            .iter()
            .fold(1u64, |sum, &s| sum.saturating_add(paths[s]));
    }
    succ.iter()
        .flatten()
        .fold(0u64, |sum, &head| sum.saturating_add(paths[head]))
}

/// Roughly what layout-rs's crossing minimiser costs: it compares every pair in
/// a row against the next row, so the sum of cubed row widths, where a row
/// holds its states plus a label or waypoint for each edge passing through.
fn crossing_cost(succ: &[Vec<usize>], finish: &[usize], pairs: &[(usize, usize)]) -> u64 {
    let mut rank = vec![0usize; succ.len()];
    for &node in finish.iter().rev() {
        for &next in &succ[node] {
            rank[next] = rank[next].max(rank[node] + 1);
        }
    }
    // Labels sit on rows of their own between the states' rows.
    let mut width = vec![0u64; 2 * rank.iter().max().unwrap_or(&0) + 1];
    for (node, next) in succ.iter().enumerate() {
        width[2 * rank[node]] += 1;
        for &to in next {
            width[2 * rank[node] + 1..2 * rank[to]]
                .iter_mut()
                .for_each(|w| *w += 1);
        }
    }
    for &(node, _) in pairs.iter().filter(|(from, to)| from == to) {
        width[2 * rank[node]] += 1;
    }
    width
        .iter()
        .fold(0u64, |sum, w| sum.saturating_add(w.saturating_pow(3)))
}

/// Collects SVG elements and the extent they cover.
struct Canvas {
    body: String,
    min: Point,
    max: Point,
    /// A coordinate was NaN or infinite: the layout went wrong.
    broken: bool,
}

impl Default for Canvas {
    fn default() -> Self {
        let far = f64::MAX / 4.;
        Self {
            body: String::new(),
            min: Point::splat(far),
            max: Point::splat(-far),
            broken: false,
        }
    }
}

impl Canvas {
    fn cover(&mut self, p: Point) {
        if !(p.x.is_finite() && p.y.is_finite()) {
            self.broken = true;
            return;
        }
        self.min = Point::new(self.min.x.min(p.x), self.min.y.min(p.y));
        self.max = Point::new(self.max.x.max(p.x), self.max.y.max(p.y));
    }

    fn finish(mut self, doc: &WorkflowDoc) -> Option<String> {
        let title = format!("{} (v{})", doc.title, doc.version);
        let heading = Point::new(self.min.x, self.min.y - 24.);
        self.cover(Point::new(
            heading.x + title.chars().count() as f64 * 9.5,
            heading.y - 12.,
        ));
        if self.broken {
            return None;
        }
        let (x, y) = (self.min.x - 12., self.min.y - 12.);
        let (w, h) = (self.max.x - self.min.x + 24., self.max.y - self.min.y + 24.);
        let title = xml_escape(&title);
        Some(format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
             viewBox=\"{x:.1} {y:.1} {w:.1} {h:.1}\">\n<title>{title}</title>\n<style>{STYLE}</style>\n\
             <defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"9\" \
             markerHeight=\"9\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#4a5563\"/>\
             </marker></defs>\n<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"#fff\"/>\n\
             <text class=\"title\" x=\"{:.1}\" y=\"{:.1}\">{title}</text>\n{}</svg>\n",
            heading.x, heading.y, self.body
        ))
    }
}

fn class(properties: Option<String>, default: &str) -> String {
    xml_escape(properties.as_deref().unwrap_or(default))
}

impl RenderBackend for Canvas {
    fn draw_rect(
        &mut self,
        xy: Point,
        size: Point,
        look: &StyleAttr,
        properties: Option<String>,
        _clip: Option<ClipHandle>,
    ) {
        self.cover(xy);
        self.cover(xy.add(size));
        let class = class(properties, "state");
        let _ = writeln!(
            self.body,
            "<rect class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"{}\"/>",
            xy.x, xy.y, size.x, size.y, look.rounded
        );
    }

    fn draw_line(
        &mut self,
        start: Point,
        stop: Point,
        _look: &StyleAttr,
        properties: Option<String>,
    ) {
        self.cover(start);
        self.cover(stop);
        let class = class(properties, "edge");
        let _ = writeln!(
            self.body,
            "<line class=\"{class}\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
            start.x, start.y, stop.x, stop.y
        );
    }

    fn draw_circle(
        &mut self,
        xy: Point,
        size: Point,
        _look: &StyleAttr,
        properties: Option<String>,
    ) {
        self.cover(xy.sub(size.scale(0.5)));
        self.cover(xy.add(size.scale(0.5)));
        // layout-rs draws a double circle's outer ring without properties.
        let class = class(properties, "ring");
        let _ = writeln!(
            self.body,
            "<ellipse class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" rx=\"{:.1}\" ry=\"{:.1}\"/>",
            xy.x,
            xy.y,
            size.x / 2.,
            size.y / 2.
        );
    }

    fn draw_text(&mut self, xy: Point, text: &str, look: &StyleAttr) {
        let lines: Vec<&str> = text.lines().collect();
        let step = look.font_size as f64 * 1.25;
        let top = xy.y - step * (lines.len() as f64 - 1.) / 2.;
        for (i, line) in lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            // Only state shapes are rounded: layout-rs moves edge labels onto
            // connectors of its own, which carry its default font size, not ours.
            let class = match (line.starts_with('['), look.rounded > 0) {
                (true, _) => "r",
                (false, true) => "t",
                (false, false) => "l",
            };
            let (y, half) = (
                top + step * i as f64,
                line.chars().count() as f64 * look.font_size as f64 * 0.31,
            );
            self.cover(Point::new(xy.x - half, y - step / 2.));
            self.cover(Point::new(xy.x + half, y + step / 2.));
            let _ = writeln!(
                self.body,
                "<text class=\"{class}\" x=\"{:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" dominant-baseline=\"central\">{}</text>",
                xy.x,
                xml_escape(line)
            );
        }
    }

    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        _dashed: bool,
        head: (bool, bool),
        look: &StyleAttr,
        properties: Option<String>,
        text: &str,
    ) {
        let [(start, exit), (entry, end), rest @ ..] = path else {
            return;
        };
        let mut d = format!(
            "M {:.1} {:.1} C {:.1} {:.1}, {:.1} {:.1}, {:.1} {:.1}",
            start.x, start.y, exit.x, exit.y, entry.x, entry.y, end.x, end.y
        );
        for &(control, point) in rest {
            let _ = write!(
                d,
                " S {:.1} {:.1}, {:.1} {:.1}",
                control.x, control.y, point.x, point.y
            );
        }
        for &(a, b) in path {
            self.cover(a);
            self.cover(b);
        }
        let markers = match head {
            (true, true) => " marker-start=\"url(#head)\" marker-end=\"url(#head)\"",
            (true, false) => " marker-start=\"url(#head)\"",
            (false, true) => " marker-end=\"url(#head)\"",
            (false, false) => "",
        };
        let class = class(properties, "edge");
        let _ = writeln!(self.body, "<path class=\"{class}\" d=\"{d}\"{markers}/>");
        if let (false, Some((_, middle))) = (text.is_empty(), path.get(path.len() / 2)) {
            self.draw_text(*middle, text, look);
        }
    }

    fn create_clip(&mut self, _xy: Point, _size: Point, _rounded_px: usize) -> ClipHandle {
        0
    }
}

/// The picture of last resort: states in rows, transitions listed beneath.
pub(super) fn grid(doc: &WorkflowDoc, nodes: &[Node<'_>], edges: &[Edge<'_>]) -> String {
    let mut canvas = Canvas::default();
    let columns = (nodes.len() as f64).sqrt().ceil().max(1.) as usize;
    let mut look = StyleAttr::simple();
    look.font_size = NODE_FONT;
    look.rounded = 8;
    for (i, node) in nodes.iter().enumerate() {
        let at = Point::new((i % columns) as f64 * 240., (i / columns) as f64 * 80.);
        let class = match (node.terminal, node.initial) {
            (true, _) => "state terminal",
            (false, true) => "state initial",
            (false, false) => "state",
        };
        canvas.draw_rect(
            at,
            Point::new(220., 56.),
            &look,
            Some(class.to_owned()),
            None,
        );
        canvas.draw_text(
            at.add(Point::new(110., 28.)),
            &node_lines(node).join("\n"),
            &look,
        );
    }
    look.font_size = EDGE_FONT;
    let top = nodes.len().div_ceil(columns) as f64 * 80. + 20.;
    for (i, edge) in edges.iter().enumerate() {
        let line = format!("{} → {}: {}", edge.from, edge.to, edge.lines().join(" "));
        let half = line.chars().count() as f64 * EDGE_FONT as f64 * 0.31;
        canvas.draw_text(Point::new(half, top + i as f64 * 18.), &line, &look);
    }
    let fallback =
        String::from("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\"/>\n");
    canvas.finish(doc).unwrap_or(fallback)
}

fn elements_tmp(succ: &[Vec<usize>], finish: &[usize], pairs: &[(usize, usize)]) -> u64 {
    // TEMP
    let mut rank = vec![0usize; succ.len()];
    for &node in finish.iter().rev() {
        for &next in &succ[node] {
            rank[next] = rank[next].max(rank[node] + 1);
        }
    }
    let mut n = succ.len() as u64 + pairs.len() as u64;
    for (node, next) in succ.iter().enumerate() {
        for &to in next {
            n += (2 * (rank[to] - rank[node]) - 1) as u64;
        }
    }
    n
}
