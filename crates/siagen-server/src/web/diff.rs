//! A side-by-side line diff between the last machine draft and the current text (markup). Which
//! passages are still the machine's comes from the revision's origin map (`siagen_mark::origin`).

use super::html::esc;
use similar::{DiffOp, TextDiff};
use std::time::Duration;

/// A two-column table: the machine draft on the left, the current text on the right.
pub(crate) fn side_by_side(machine: &str, current: &str) -> String {
    // A last line without its newline would otherwise differ from the same line with one.
    let with_nl = |s: &str| {
        if s.ends_with('\n') {
            s.to_string()
        } else {
            format!("{s}\n")
        }
    };
    let (machine, current) = (with_nl(machine), with_nl(current));
    let diff = TextDiff::configure()
        .timeout(Duration::from_secs(1))
        .diff_lines(&machine, &current);
    let old = diff.old_slices();
    let new = diff.new_slices();
    let cell = |class: &str, line: Option<&str>| -> String {
        match line {
            Some(l) => format!(
                r#"<td class="{class}">{}</td>"#,
                esc(l.trim_end_matches(['\n', '\r']))
            ),
            None => r#"<td class="empty"></td>"#.to_string(),
        }
    };
    let mut rows = String::new();
    for op in diff.ops() {
        match *op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => {
                for i in 0..len {
                    rows.push_str(&format!(
                        "<tr>{}{}</tr>",
                        cell("same", Some(old[old_index + i])),
                        cell("same machine-kept", Some(new[new_index + i]))
                    ));
                }
            }
            DiffOp::Delete {
                old_index, old_len, ..
            } => {
                for i in 0..old_len {
                    rows.push_str(&format!(
                        "<tr>{}{}</tr>",
                        cell("del", Some(old[old_index + i])),
                        cell("", None)
                    ));
                }
            }
            DiffOp::Insert {
                new_index, new_len, ..
            } => {
                for i in 0..new_len {
                    rows.push_str(&format!(
                        "<tr>{}{}</tr>",
                        cell("", None),
                        cell("ins", Some(new[new_index + i]))
                    ));
                }
            }
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                for i in 0..old_len.max(new_len) {
                    let l = (i < old_len).then(|| old[old_index + i]);
                    let r = (i < new_len).then(|| new[new_index + i]);
                    rows.push_str(&format!("<tr>{}{}</tr>", cell("del", l), cell("ins", r)));
                }
            }
        }
    }
    format!(
        r#"<div class="diff-wrap"><table class="diff"><caption class="sr-only">Comparaison ligne à ligne</caption>
<thead><tr><th scope="col">Brouillon du modèle</th><th scope="col">Texte actuel</th></tr></thead>
<tbody>{rows}</tbody></table></div>"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_by_side_escapes() {
        let t = side_by_side("a\n<x>\n", "a\ny\n");
        assert!(t.contains("&lt;x&gt;") && t.contains(r#"class="ins">y"#));
        let t = side_by_side("a\nb", "a\nb\nc\n");
        assert!(!t.contains(r#"class="del""#));
    }
}
