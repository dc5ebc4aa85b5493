//! A line diff for mismatch reports: `-` expected, `+` actual, two lines of context around each
//! change. Longest common subsequence on lines; very long texts fall back to the first
//! differing line, which is enough to find the problem.

/// The diff of `want` and `got`, ready to print.
pub(crate) fn diff(want: &str, got: &str) -> String {
    let a: Vec<&str> = want.split_inclusive('\n').collect();
    let b: Vec<&str> = got.split_inclusive('\n').collect();
    if a.len().saturating_mul(b.len()) > 4_000_000 {
        return first_difference(&a, &b);
    }
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
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
    let mut ops: Vec<(char, &str)> = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Deletions first: `-` expected above `+` actual, as diff(1) prints them.
            ops.push(('-', a[i]));
            i += 1;
        } else {
            ops.push(('+', b[j]));
            j += 1;
        }
    }
    let changed: Vec<bool> = ops.iter().map(|(op, _)| *op != ' ').collect();
    let near = |k: usize| {
        let lo = k.saturating_sub(2);
        let hi = (k + 3).min(ops.len());
        changed[lo..hi].iter().any(|c| *c)
    };
    let mut out = String::new();
    let mut skipped = false;
    for (k, (op, line)) in ops.iter().enumerate() {
        if !near(k) {
            skipped = true;
            continue;
        }
        if skipped {
            out.push_str("  ...\n");
            skipped = false;
        }
        out.push_str(&format!("{op} {}\n", show(line)));
    }
    if skipped {
        out.push_str("  ...\n");
    }
    out
}

fn first_difference(a: &[&str], b: &[&str]) -> String {
    let at = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    format!(
        "first difference at line {}:\n- {}\n+ {}\n({} lines expected, {} lines actual)\n",
        at + 1,
        a.get(at).map_or("<end>".to_string(), |l| show(l)),
        b.get(at).map_or("<end>".to_string(), |l| show(l)),
        a.len(),
        b.len()
    )
}

/// A line without its newline; a missing final newline, control characters and trailing
/// spaces made visible.
fn show(line: &str) -> String {
    let (body, newline) = match line.strip_suffix('\n') {
        Some(body) => (body, true),
        None => (line, false),
    };
    let mut s: String = body
        .chars()
        .map(|c| {
            if c.is_control() && c != '\t' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    if body.ends_with(' ') {
        s.push('⏎');
    }
    if !newline {
        s.push_str("  (no newline at end)");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::diff;

    #[test]
    fn marks_changed_lines_with_context() {
        let want = "a\nb\nc\nd\ne\nf\ng\n";
        let got = "a\nb\nc\nD\ne\nf\ng\n";
        assert_eq!(
            diff(want, got),
            "  ...\n  b\n  c\n- d\n+ D\n  e\n  f\n  ...\n"
        );
    }

    #[test]
    fn shows_missing_newlines_and_control_characters() {
        assert_eq!(
            diff("x\n", "x\u{1b}"),
            "- x\n+ x\\u{1b}  (no newline at end)\n"
        );
        assert_eq!(diff("", "extra\n"), "+ extra\n");
    }
}
