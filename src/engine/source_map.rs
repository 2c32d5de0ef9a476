//! Where every node of a YAML document sits, so that problems found after
//! deserialising (an unknown state, a Rhai error inside a guard) point at the
//! exact line and column the program manager wrote.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::diagnostics::Pos;

/// One step into a document: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

pub type Path = Vec<Seg>;

/// Builds a path from `"states"`, `"submitted"`, `0`, ... without ceremony.
#[macro_export]
macro_rules! yaml_path {
    ($($seg:expr),* $(,)?) => {
        [$($crate::engine::source_map::IntoSeg::into_seg($seg)),*]
    };
}

pub trait IntoSeg {
    fn into_seg(self) -> Seg;
}

impl IntoSeg for &str {
    fn into_seg(self) -> Seg {
        Seg::Key(self.to_owned())
    }
}

impl IntoSeg for &String {
    fn into_seg(self) -> Seg {
        Seg::Key(self.clone())
    }
}

impl IntoSeg for usize {
    fn into_seg(self) -> Seg {
        Seg::Index(self)
    }
}

#[derive(Debug, Clone, Copy)]
struct Node {
    key: Option<Pos>,
    value: Pos,
    style: Option<ScalarStyle>,
}

/// A key written twice in one mapping: YAML would silently keep the last one.
#[derive(Debug, Clone)]
pub struct DuplicateKey {
    pub key: String,
    pub first: Pos,
    pub again: Pos,
}

#[derive(Debug, Default)]
pub struct SourceMap {
    nodes: HashMap<Path, Node>,
    lines: Vec<String>,
    pub duplicates: Vec<DuplicateKey>,
}

enum Frame {
    Map {
        path: Path,
        key: Option<(String, Pos)>,
        seen: HashMap<String, Pos>,
    },
    Seq {
        path: Path,
        next: usize,
    },
}

fn pos(span: &Span) -> Pos {
    // saphyr-parser columns are 0-based.
    Pos::new(span.start.line(), span.start.col() + 1)
}

impl SourceMap {
    /// Indexes `text`; stops quietly at a syntax error, which the deserialiser reports.
    pub fn build(text: &str) -> Self {
        let mut map = SourceMap {
            lines: text.lines().map(str::to_owned).collect(),
            ..SourceMap::default()
        };
        let mut stack: Vec<Frame> = Vec::new();
        let mut in_document = false;
        for event in Parser::new_from_str(text) {
            let Ok((event, span)) = event else { break };
            match event {
                Event::DocumentStart(_) => {
                    if in_document {
                        break; // only the first document counts
                    }
                    in_document = true;
                }
                Event::Scalar(value, style, _, _) => {
                    map.node(&mut stack, pos(&span), Some(style), Some(value.as_ref()));
                }
                Event::Alias(_) => {
                    map.node(&mut stack, pos(&span), None, None);
                }
                Event::MappingStart(..) => {
                    if let Some(path) = map.node(&mut stack, pos(&span), None, None) {
                        stack.push(Frame::Map {
                            path,
                            key: None,
                            seen: HashMap::new(),
                        });
                    } else {
                        // A mapping used as a key: index its insides under a throwaway path.
                        stack.push(Frame::Seq {
                            path: Vec::new(),
                            next: 0,
                        });
                    }
                }
                Event::SequenceStart(..) => {
                    let path = map
                        .node(&mut stack, pos(&span), None, None)
                        .unwrap_or_default();
                    stack.push(Frame::Seq { path, next: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        map
    }

    /// Records a node and returns its path; `None` for a complex (non-scalar) mapping key.
    fn node(
        &mut self,
        stack: &mut [Frame],
        at: Pos,
        style: Option<ScalarStyle>,
        scalar: Option<&str>,
    ) -> Option<Path> {
        let Some(frame) = stack.last_mut() else {
            self.nodes.insert(
                Vec::new(),
                Node {
                    key: None,
                    value: at,
                    style,
                },
            );
            return Some(Vec::new());
        };
        match frame {
            Frame::Seq { path, next } => {
                let mut child = path.clone();
                child.push(Seg::Index(*next));
                *next += 1;
                self.nodes.insert(
                    child.clone(),
                    Node {
                        key: None,
                        value: at,
                        style,
                    },
                );
                Some(child)
            }
            Frame::Map {
                path, key, seen, ..
            } => match key.take() {
                None => {
                    let name = scalar?.to_owned();
                    if let Some(first) = seen.get(&name) {
                        self.duplicates.push(DuplicateKey {
                            key: name.clone(),
                            first: *first,
                            again: at,
                        });
                    } else {
                        seen.insert(name.clone(), at);
                    }
                    *key = Some((name, at));
                    None
                }
                Some((name, key_at)) => {
                    let mut child = path.clone();
                    child.push(Seg::Key(name));
                    self.nodes.entry(child.clone()).or_insert(Node {
                        key: Some(key_at),
                        value: at,
                        style,
                    });
                    Some(child)
                }
            },
        }
    }

    /// Position of the value at `path`, or of its nearest ancestor that exists.
    pub fn value(&self, path: &[Seg]) -> Pos {
        self.find(path).map_or(Pos::START, |node| node.value)
    }

    /// Position of the key naming `path` (for "unknown key" and "duplicate" messages).
    pub fn key(&self, path: &[Seg]) -> Pos {
        self.find(path)
            .map_or(Pos::START, |node| node.key.unwrap_or(node.value))
    }

    fn find(&self, path: &[Seg]) -> Option<&Node> {
        (0..=path.len())
            .rev()
            .find_map(|len| self.nodes.get(&path[..len]))
    }

    /// Maps a position inside a Rhai snippet (1-based, relative to the snippet) to the file.
    pub fn script(&self, path: &[Seg], line: usize, column: usize) -> Pos {
        let Some(node) = self.nodes.get(path) else {
            return self.value(path);
        };
        let start = node.value;
        match node.style {
            Some(ScalarStyle::Literal | ScalarStyle::Folded) => {
                // saphyr marks a block scalar at its first content line.
                let file_line = start.line + line.max(1) - 1;
                let indent = self
                    .lines
                    .get(file_line - 1)
                    .map_or(0, |text| text.len() - text.trim_start().len());
                Pos::new(file_line, indent + column)
            }
            Some(ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted) if line <= 1 => {
                Pos::new(start.line, start.column + column)
            }
            _ if line <= 1 => Pos::new(start.line, start.column + column.saturating_sub(1)),
            _ => Pos::new(start.line + line - 1, column),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "a: 1\nguard: |\n  let x = 1;\n  x ==\ntests:\n  - name: one\n    steps:\n      - { fire: go, expect: done }\n  - name: two\n";

    #[test]
    fn positions_of_values_and_keys() {
        let map = SourceMap::build(YAML);
        assert_eq!(map.value(&yaml_path!("a")), Pos::new(1, 4));
        assert_eq!(map.key(&yaml_path!("a")), Pos::new(1, 1));
        assert_eq!(map.value(&yaml_path!("tests", 1, "name")), Pos::new(9, 11));
        assert_eq!(
            map.value(&yaml_path!("tests", 0, "steps", 0, "expect")),
            Pos::new(8, 29)
        );
        assert_eq!(map.script(&yaml_path!("guard"), 2, 3), Pos::new(4, 5));
    }
}
