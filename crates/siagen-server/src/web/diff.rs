//! What is still the machine's: the current text with the passages left unchanged since the last
//! machine-written revision marked, and a side-by-side line diff between the two (markup).

use super::html::esc;
use similar::{ChangeTag, DiffOp, TextDiff};
use std::time::Duration;

/// The current text as markup, with every passage that is unchanged from `machine` wrapped in
/// `<mark class="machine">`. Returns the markup and the number of characters still the
/// machine's.
pub(crate) fn marked_text(machine: &str, current: &str) -> (String, usize) {
    let diff = TextDiff::configure()
        .timeout(Duration::from_secs(1))
        .diff_words(machine, current);
    let mut out = String::new();
    let mut run = String::new();
    let mut run_machine = false;
    let mut machine_chars = 0;
    let flush = |out: &mut String, run: &mut String, machine: bool| {
        if run.is_empty() {
            return;
        }
        if machine && !run.trim().is_empty() {
            out.push_str(r#"<mark class="machine" title="Passage généré par un modèle, pas encore réécrit">"#);
            out.push_str(&esc(run));
            out.push_str("</mark>");
        } else {
            out.push_str(&esc(run));
        }
        run.clear();
    };
    for change in diff.iter_all_changes() {
        let is_machine = match change.tag() {
            ChangeTag::Delete => continue,
            ChangeTag::Equal => true,
            ChangeTag::Insert => false,
        };
        let value = change.value();
        if is_machine != run_machine {
            flush(&mut out, &mut run, run_machine);
            run_machine = is_machine;
        }
        if is_machine {
            machine_chars += value.chars().filter(|c| !c.is_whitespace()).count();
        }
        run.push_str(value);
    }
    flush(&mut out, &mut run, run_machine);
    (out, machine_chars)
}

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
    fn marks_only_unchanged_machine_words() {
        let (m, n) = marked_text("Patient <b> stable.", "Patient <b> très stable.");
        assert!(m.contains(r#"<mark class="machine""#));
        assert!(m.contains("&lt;b&gt;"));
        assert!(!m.contains("<b>"));
        assert!(m.contains("très"));
        assert!(n > 0);
        let (m, n) = marked_text("abc", "xyz");
        assert!(!m.contains("<mark"));
        assert_eq!(n, 0);
    }

    #[test]
    fn side_by_side_escapes() {
        let t = side_by_side("a\n<x>\n", "a\ny\n");
        assert!(t.contains("&lt;x&gt;") && t.contains(r#"class="ins">y"#));
        let t = side_by_side("a\nb", "a\nb\nc\n");
        assert!(!t.contains(r#"class="del""#));
    }
}
