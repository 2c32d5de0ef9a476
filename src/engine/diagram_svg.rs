//! SVG drawn in-process: `layout-rs` places the nodes and routes the arrows,
//! and [`Canvas`] turns its draw calls into the document, because the crate's
//! own `SVGWriter` sizes the picture wrongly and has no styling hooks.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use layout::core::base::Orientation;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::StyleAttr;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;

use super::{Edge, Node, WorkflowDoc, xml_escape};

const NODE_FONT: usize = 14;
const EDGE_FONT: usize = 12;
/// Sum of cubed row widths: about 0.06 s of crossing reduction in a release build.
const CROSSING_BUDGET: u64 = 60_000;
/// Shapes, labels and waypoints: about 0.3 s without crossing reduction.
const ELEMENT_BUDGET: u64 = 2_000;

const STYLE: &str = "text{font-family:'DejaVu Sans',Verdana,Arial,sans-serif;fill:#1d2733}\
.t{font-size:14px}.l{font-size:12px}.r{font-size:10px;fill:#5b6673}\
.l,.r{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}\
.state{fill:#eef4fb;stroke:#35577d;stroke-width:1.5}.initial{stroke-width:3}\
.terminal{fill:#f1f1f1}.ring{fill:none;stroke:#35577d;stroke-width:1.5}\
.start{fill:#1d2733}.edge{fill:none;stroke:#4a5563;stroke-width:1.3}\
.dashed{stroke-dasharray:5 4}.title{font-size:16px;font-weight:bold}";

/// The edges as node indices, as given and as laid out (back edges turned
/// round, so the initial state stays on top whatever layout-rs would flip).
struct Plan {
    pairs: Vec<(usize, usize)>,
    downs: Vec<(usize, usize)>,
    /// Edges by the topological position of their (laid out) source: each
    /// edge's head then has no edges yet when layout-rs checks for a cycle by
    /// walking every path from it, which is otherwise exponential.
    order: Vec<usize>,
    initial: usize,
}

pub(super) fn render(doc: &WorkflowDoc, nodes: &[Node<'_>], edges: &[Edge<'_>]) -> String {
    let index: HashMap<&str, usize> = nodes.iter().enumerate().map(|(i, n)| (n.name, i)).collect();
    // `nodes` holds every endpoint, so no edge is dropped here.
    let pairs = edges
        .iter()
        .filter_map(|e| Some((*index.get(e.from)?, *index.get(e.to)?)));
    let initial = nodes.iter().position(|n| n.initial).unwrap_or(0);
    let plan = plan(nodes.len(), initial, pairs.collect());
    let widths = row_widths(nodes.len(), &plan);
    let crossing = widths
        .iter()
        .fold(0u64, |sum, w| sum.saturating_add(w.saturating_pow(3)));
    let (down, across) = (Orientation::TopToBottom, Orientation::LeftToRight);
    let attempts = match (crossing <= CROSSING_BUDGET, widths.iter().sum::<u64>()) {
        (true, _) => vec![(true, down), (false, down), (true, across), (false, across)],
        (false, elements) if elements <= ELEMENT_BUDGET => vec![(false, down), (false, across)],
        (false, _) => Vec::new(),
    };
    // layout-rs's edge straightener asserts (`loc.x >= leftmost`) on about 1 in
    // 25 realistic workflows; another setting gets through: of 3000 generated
    // workflows, 2886 drew at once, 104 at the second try and 10 later.
    for (optimise, orientation) in attempts {
        let drawn = quietly(|| layered(doc, nodes, edges, &plan, optimise, orientation));
        if let Some(Some(svg)) = drawn {
            return svg;
        }
    }
    grid(doc, nodes, edges)
}

thread_local! {
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `layout` and catches its panic without the message, which would only
/// alarm: the caller has a fallback. Panics elsewhere still reach the hook that
/// was installed before ours.
fn quietly<T>(layout: impl FnOnce() -> T) -> Option<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|quiet| quiet.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(layout)).ok();
    QUIET.with(|quiet| quiet.set(false));
    result
}

fn layered(
    doc: &WorkflowDoc,
    nodes: &[Node<'_>],
    edges: &[Edge<'_>],
    plan: &Plan,
    optimise: bool,
    down: Orientation,
) -> Option<String> {
    let mut vg = VisualGraph::new(down);
    // `verify` walks every path after every edge; the plan is acyclic already.
    vg.dag.set_validate(false);
    let dot = ShapeKind::new_circle("");
    let start = Element::create_with_properties(dot, node_look(), down, Point::splat(14.), "start");
    let start = vg.add_node(start);
    let handles: Vec<_> = nodes
        .iter()
        .map(|node| vg.add_node(element(node, down)))
        .collect();
    if let Some(&first) = handles.get(plan.initial) {
        vg.add_edge(Arrow::simple_with_properties("", "edge"), start, first);
    }
    for &i in &plan.order {
        let dashed = edges[i].deadline.is_some();
        let class = if dashed { "edge dashed" } else { "edge" };
        let mut arrow = Arrow::simple_with_properties(&edges[i].lines().join("\n"), class);
        arrow.look.font_size = EDGE_FONT;
        // A reversed arrow keeps its head at the true target.
        if plan.downs[i] != plan.pairs[i] {
            arrow = arrow.reverse();
        }
        vg.add_edge(arrow, handles[plan.downs[i].0], handles[plan.downs[i].1]);
    }
    let mut canvas = Canvas::default();
    vg.do_it(false, !optimise, false, &mut canvas);
    canvas.finish(doc)
}

/// States are the only rounded shapes, which tells their text from edge labels.
fn node_look() -> StyleAttr {
    let mut look = StyleAttr::simple();
    (look.font_size, look.rounded) = (NODE_FONT, 8);
    look
}

fn element(node: &Node<'_>, down: Orientation) -> Element {
    let text = node.lines().join("\n");
    let chars = text.lines().map(|l| l.chars().count()).max().unwrap_or(1) as f64;
    let (w, h) = (chars * 8.7 + 28., text.lines().count() as f64 * 18. + 16.);
    let (shape, size, class) = match (node.terminal, node.initial) {
        (true, _) => (
            ShapeKind::DoubleCircle(text),
            Point::new(w * 1.3, h * 1.5),
            "terminal",
        ),
        (false, true) => (ShapeKind::Box(text), Point::new(w, h), "initial"),
        (false, false) => (ShapeKind::Box(text), Point::new(w, h), ""),
    };
    let class = format!("state {class}");
    Element::create_with_properties(shape, node_look(), down, size, class)
}

fn plan(count: usize, initial: usize, pairs: Vec<(usize, usize)>) -> Plan {
    let (downs, finish) = orient(count, initial, &pairs);
    let mut topological = vec![0; count];
    for (position, &node) in finish.iter().rev().enumerate() {
        topological[node] = position;
    }
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    order.sort_by_key(|&i| topological[downs[i].0]);
    Plan {
        pairs,
        downs,
        order,
        initial,
    }
}

/// Depth-first from the initial state, turning round each edge that points back
/// up the search; also the finishing order, bottom-up once they are turned.
fn orient(
    count: usize,
    initial: usize,
    pairs: &[(usize, usize)],
) -> (Vec<(usize, usize)>, Vec<usize>) {
    let mut out_edges = vec![Vec::new(); count];
    for (i, &(from, _)) in pairs.iter().enumerate() {
        out_edges[from].push(i);
    }
    let (mut on_stack, mut seen) = (vec![false; count], vec![false; count]);
    let (mut downs, mut finish) = (pairs.to_vec(), Vec::with_capacity(count));
    for root in std::iter::once(initial)
        .chain(0..count)
        .filter(|&root| root < count)
    {
        if seen[root] {
            continue;
        }
        (seen[root], on_stack[root]) = (true, true);
        let mut stack = vec![(root, 0usize)];
        while let Some((node, next)) = stack.last_mut() {
            let node = *node;
            let Some(&edge) = out_edges[node].get(*next) else {
                on_stack[node] = false;
                finish.push(node);
                stack.pop();
                continue;
            };
            *next += 1;
            let to = pairs[edge].1;
            if on_stack[to] && to != node {
                downs[edge] = (to, node);
            } else if !seen[to] {
                (seen[to], on_stack[to]) = (true, true);
                stack.push((to, 0));
            }
        }
    }
    (downs, finish)
}

/// What each row of the layout will hold: states on even rows, and on the rows
/// an edge passes, its label or a waypoint. layout-rs's crossing reduction
/// compares every pair in a row with the next row, so its cost goes as width³.
fn row_widths(count: usize, plan: &Plan) -> Vec<u64> {
    let mut rank = vec![0usize; count];
    for &(from, to) in plan.order.iter().map(|&i| &plan.downs[i]) {
        if from != to {
            rank[to] = rank[to].max(rank[from] + 1);
        }
    }
    let mut width = vec![0u64; 2 * rank.iter().max().unwrap_or(&0) + 2];
    rank.iter().for_each(|&r| width[2 * r] += 1);
    for &(from, to) in &plan.downs {
        // A self-loop's label sits beside its state. `get_mut`, though `orient`
        // guarantees `to` ranks below `from`: this runs outside `quietly`.
        let rows = if from == to {
            2 * rank[from]..2 * rank[from] + 1
        } else {
            2 * rank[from] + 1..2 * rank[to]
        };
        width
            .get_mut(rows)
            .into_iter()
            .flatten()
            .for_each(|w| *w += 1);
    }
    width
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
        let (min, max) = (Point::splat(f64::MAX / 4.), Point::splat(f64::MIN / 4.));
        Self {
            body: String::new(),
            min,
            max,
            broken: false,
        }
    }
}

impl Canvas {
    fn cover(&mut self, p: Point) {
        self.broken |= !(p.x.is_finite() && p.y.is_finite());
        self.min = Point::new(self.min.x.min(p.x), self.min.y.min(p.y));
        self.max = Point::new(self.max.x.max(p.x), self.max.y.max(p.y));
    }

    fn finish(mut self, doc: &WorkflowDoc) -> Option<String> {
        if self.min.x > self.max.x {
            (self.min, self.max) = (Point::zero(), Point::zero());
        }
        let title = format!("{} (v{})", doc.title, doc.version);
        let at = Point::new(self.min.x, self.min.y - 24.);
        self.cover(Point::new(
            at.x + title.chars().count() as f64 * 9.5,
            at.y - 12.,
        ));
        if self.broken {
            return None;
        }
        let (x, y) = (self.min.x - 12., self.min.y - 12.);
        let (w, h) = (self.max.x - self.min.x + 24., self.max.y - self.min.y + 24.);
        let (title, body) = (xml_escape(&title), self.body);
        Some(format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
             viewBox=\"{x:.1} {y:.1} {w:.1} {h:.1}\">\n<title>{title}</title>\n\
             <style>{STYLE}</style>\n<defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"10\" \
             refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" orient=\"auto-start-reverse\">\
             <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#4a5563\"/></marker></defs>\n\
             <rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"#fff\"/>\n\
             <text class=\"title\" x=\"{:.1}\" y=\"{:.1}\">{title}</text>\n{body}</svg>\n",
            at.x, at.y
        ))
    }
}

/// Our elements carry their CSS class in layout-rs's free-form `properties`.
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
        _: Option<ClipHandle>,
    ) {
        self.cover(xy);
        self.cover(xy.add(size));
        let (class, r) = (class(properties, "state"), look.rounded);
        let _ = writeln!(
            self.body,
            "<rect class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"{r}\"/>",
            xy.x, xy.y, size.x, size.y
        );
    }

    /// layout-rs draws plain lines only in its debug mode.
    fn draw_line(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}

    fn draw_circle(&mut self, xy: Point, size: Point, _: &StyleAttr, properties: Option<String>) {
        self.cover(xy.sub(size.scale(0.5)));
        self.cover(xy.add(size.scale(0.5)));
        // layout-rs draws a double circle's outer ring without properties.
        let class = class(properties, "ring");
        let (rx, ry) = (size.x / 2., size.y / 2.);
        let _ = writeln!(
            self.body,
            "<ellipse class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" rx=\"{rx:.1}\" ry=\"{ry:.1}\"/>",
            xy.x, xy.y
        );
    }

    fn draw_text(&mut self, xy: Point, text: &str, look: &StyleAttr) {
        let step = look.font_size as f64 * 1.25;
        let top = xy.y - step * (text.lines().count() as f64 - 1.) / 2.;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
        {
            // layout-rs moves edge labels onto waypoints with its own default
            // look, so tell state text from labels by shape, not by font size.
            let class = match (line.starts_with('['), look.rounded > 0) {
                (true, _) => "r",
                (false, true) => "t",
                (false, false) => "l",
            };
            let y = top + step * i as f64;
            let half = line.chars().count() as f64 * look.font_size as f64 * 0.31;
            self.cover(Point::new(xy.x - half, y - step / 2.));
            self.cover(Point::new(xy.x + half, y + step / 2.));
            let _ = writeln!(
                self.body,
                "<text class=\"{class}\" x=\"{:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" \
                 dominant-baseline=\"central\">{}</text>",
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
        _look: &StyleAttr,
        properties: Option<String>,
        _text: &str,
    ) {
        // Labels travel on layout-rs's connectors, so `_text` is always empty.
        if path.len() < 2 {
            return;
        }
        let mut d = String::new();
        for (i, &(a, b)) in path.iter().enumerate() {
            self.cover(a);
            self.cover(b);
            let (before, between) = [("M", " C"), (",", ","), (" S", ",")][i.min(2)];
            let _ = write!(
                d,
                "{before} {:.1} {:.1}{between} {:.1} {:.1}",
                a.x, a.y, b.x, b.y
            );
        }
        let class = class(properties, "edge");
        let start = if head.0 {
            " marker-start=\"url(#head)\""
        } else {
            ""
        };
        let end = if head.1 {
            " marker-end=\"url(#head)\""
        } else {
            ""
        };
        let _ = writeln!(self.body, "<path class=\"{class}\" d=\"{d}\"{start}{end}/>");
    }

    fn create_clip(&mut self, _: Point, _: Point, _: usize) -> ClipHandle {
        0
    }
}

/// The picture of last resort: states in rows, transitions listed beneath.
fn grid(doc: &WorkflowDoc, nodes: &[Node<'_>], edges: &[Edge<'_>]) -> String {
    let mut canvas = Canvas::default();
    let columns = (nodes.len() as f64).sqrt().ceil().max(1.) as usize;
    let look = node_look();
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
            &node.lines().join("\n"),
            &look,
        );
    }
    let top = nodes.len().div_ceil(columns) as f64 * 80. + 20.;
    let mut small = StyleAttr::simple();
    small.font_size = EDGE_FONT;
    for (i, edge) in edges.iter().enumerate() {
        let line = format!("{} → {}: {}", edge.from, edge.to, edge.lines().join(" "));
        let half = line.chars().count() as f64 * EDGE_FONT as f64 * 0.31;
        canvas.draw_text(Point::new(half, top + i as f64 * 18.), &line, &small);
    }
    let empty = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 10 10\"/>\n";
    canvas.finish(doc).unwrap_or_else(|| empty.to_owned())
}

#[cfg(test)]
#[path = "diagram_svg_tests.rs"]
mod tests;
