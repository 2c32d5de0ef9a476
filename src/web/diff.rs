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
