//! A line diff between two versions of a definition: the longest common
//! subsequence of lines, which for files of a few hundred lines is quick and
//! reads the way people expect.

use serde::Serialize;

/// Past this many lines on either side the diff is not worked out line by line.
const MAX_LINES: usize = 4_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiffLine {
    /// `same`, `added` or `removed`.
    pub kind: &'static str,
    /// Line number in the old text (absent for an added line).
    pub old: Option<usize>,
    /// Line number in the new text (absent for a removed line).
    pub new: Option<usize>,
    pub text: String,
}

/// Every line of both texts, marked as kept, removed or added.
pub fn line_diff(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len() > MAX_LINES || b.len() > MAX_LINES {
        return whole(&a, &b);
    }
    // lcs[i][j]: the common lines of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push(line("same", Some(i), Some(j), a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Removals before additions, as people read a change.
            out.push(line("removed", Some(i), None, a[i]));
            i += 1;
        } else {
            out.push(line("added", None, Some(j), b[j]));
            j += 1;
        }
    }
    out
}

/// Unchanged lines shown around each change; longer unchanged runs fold into one row.
const CONTEXT: usize = 3;

/// The diff as people read it: each change with a few unchanged lines around
/// it, and the long unchanged stretches between folded into a `gap` row
/// whose text says how many lines it stands for.
pub fn folded(lines: Vec<DiffLine>) -> Vec<DiffLine> {
    let near_change: Vec<bool> = (0..lines.len())
        .map(|i| {
            let from = i.saturating_sub(CONTEXT);
            let to = (i + CONTEXT + 1).min(lines.len());
            lines[from..to].iter().any(|l| l.kind != "same")
        })
        .collect();
    let mut out = Vec::new();
    let mut hidden = 0;
    for (line, keep) in lines.into_iter().zip(near_change) {
        if keep {
            if hidden > 0 {
                out.push(gap(hidden));
                hidden = 0;
            }
            out.push(line);
        } else {
            hidden += 1;
        }
    }
    if hidden > 0 {
        out.push(gap(hidden));
    }
    out
}

fn gap(count: usize) -> DiffLine {
    let plural = if count == 1 { "" } else { "s" };
    DiffLine {
        kind: "gap",
        old: None,
        new: None,
        text: format!("{count} unchanged line{plural}"),
    }
}

fn line(kind: &'static str, old: Option<usize>, new: Option<usize>, text: &str) -> DiffLine {
    DiffLine {
        kind,
        old: old.map(|n| n + 1),
        new: new.map(|n| n + 1),
        text: text.to_owned(),
    }
}

/// Too large to compare line by line: all of the old removed, all of the new added.
fn whole(a: &[&str], b: &[&str]) -> Vec<DiffLine> {
    let removed = a
        .iter()
        .enumerate()
        .map(|(i, text)| line("removed", Some(i), None, text));
    let added = b
        .iter()
        .enumerate()
        .map(|(j, text)| line("added", None, Some(j), text));
    removed.chain(added).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_unchanged_stretches_fold_around_the_changes() {
        let old: String = (1..=20).map(|n| format!("{n}\n")).collect();
        let new = old.replace("\n10\n", "\nten\n");
        let folded = folded(line_diff(&old, &new));
        let shown: Vec<&str> = folded.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(
            shown,
            vec![
                "6 unchanged lines",
                "7",
                "8",
                "9",
                "10",
                "ten",
                "11",
                "12",
                "13",
                "7 unchanged lines"
            ]
        );
    }

    #[test]
    fn changed_lines_are_removed_then_added_and_the_rest_kept() {
        let diff = line_diff("a\nb\nc\n", "a\nB\nc\nd\n");
        let marks: Vec<(&str, Option<usize>, Option<usize>, &str)> = diff
            .iter()
            .map(|l| (l.kind, l.old, l.new, l.text.as_str()))
            .collect();
        assert_eq!(
            marks,
            vec![
                ("same", Some(1), Some(1), "a"),
                ("removed", Some(2), None, "b"),
                ("added", None, Some(2), "B"),
                ("same", Some(3), Some(3), "c"),
                ("added", None, Some(4), "d"),
            ]
        );
    }
}
