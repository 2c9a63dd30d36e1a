//! Chunking for citations: a chunk never crosses a heading, packs whole paragraphs up to a word
//! budget, and carries the page of its first paragraph and the heading path of its section, so a
//! citation points to a page and a passage. A paragraph is split only when it alone exceeds the
//! budget (at sentence ends when possible).

use crate::parse::{Block, BlockKind};
use crate::types::Chunk;

/// Default word budget of a chunk.
pub const DEFAULT_CHUNK_WORDS: usize = 200;

/// Cuts blocks into chunks of at most about `max_words` words.
pub fn chunk(blocks: &[Block], max_words: usize) -> Vec<Chunk> {
    let max_words = max_words.max(20);
    let mut out = Vec::new();
    let mut headings: Vec<(u8, String)> = Vec::new();
    let mut cur: Vec<String> = Vec::new();
    let mut cur_words = 0usize;
    let mut cur_page: Option<u32> = None;

    fn path(headings: &[(u8, String)]) -> Option<String> {
        (!headings.is_empty()).then(|| {
            headings
                .iter()
                .map(|(_, h)| h.as_str())
                .collect::<Vec<_>>()
                .join(" > ")
        })
    }
    let flush = |out: &mut Vec<Chunk>,
                 cur: &mut Vec<String>,
                 cur_words: &mut usize,
                 page: Option<u32>,
                 headings: &[(u8, String)]| {
        if !cur.is_empty() {
            out.push(Chunk {
                ordinal: out.len() as u32,
                page,
                heading: path(headings),
                text: cur.join("\n\n"),
            });
            cur.clear();
            *cur_words = 0;
        }
    };

    for block in blocks {
        let text = block.text.trim();
        if text.is_empty() {
            continue;
        }
        match block.kind {
            BlockKind::Heading(level) => {
                flush(&mut out, &mut cur, &mut cur_words, cur_page, &headings);
                while headings.last().is_some_and(|(l, _)| *l >= level) {
                    headings.pop();
                }
                headings.push((level, text.to_string()));
            }
            BlockKind::Paragraph => {
                let words = text.split_whitespace().count();
                if words > max_words {
                    flush(&mut out, &mut cur, &mut cur_words, cur_page, &headings);
                    for piece in split_long(text, max_words) {
                        cur.push(piece);
                        flush(&mut out, &mut cur, &mut cur_words, block.page, &headings);
                    }
                    continue;
                }
                // A chunk stays on one page, so that its citation names the right page.
                if cur_words + words > max_words || (!cur.is_empty() && block.page != cur_page) {
                    flush(&mut out, &mut cur, &mut cur_words, cur_page, &headings);
                }
                if cur.is_empty() {
                    cur_page = block.page;
                }
                cur.push(text.to_string());
                cur_words += words;
            }
        }
    }
    flush(&mut out, &mut cur, &mut cur_words, cur_page, &headings);
    // A document made only of headings still gets its headings indexed.
    if out.is_empty() && !headings.is_empty() {
        out.push(Chunk {
            ordinal: 0,
            page: blocks.first().and_then(|b| b.page),
            heading: path(&headings),
            text: headings
                .iter()
                .map(|(_, h)| h.as_str())
                .collect::<Vec<_>>()
                .join("\n\n"),
        });
    }
    out
}

/// Splits an over-long paragraph into pieces of at most `max_words`, preferring sentence ends.
fn split_long(text: &str, max_words: usize) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut out = Vec::new();
    let mut start = 0;
    while start < words.len() {
        let end = (start + max_words).min(words.len());
        let mut cut = end;
        if end < words.len() {
            // Last sentence end in the second half of the window.
            if let Some(i) = (start + max_words / 2..end)
                .rev()
                .find(|&i| words[i].ends_with(['.', '!', '?', ';']))
            {
                cut = i + 1;
            }
        }
        out.push(words[start..cut].join(" "));
        start = cut;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn para(text: &str, page: u32) -> Block {
        Block {
            kind: BlockKind::Paragraph,
            page: Some(page),
            text: text.into(),
        }
    }

    #[test]
    fn headings_bound_chunks_and_pages_follow_first_paragraph() {
        let blocks = vec![
            Block {
                kind: BlockKind::Heading(1),
                page: Some(1),
                text: "Anticoagulants".into(),
            },
            para("Premier paragraphe.", 1),
            para("Suite du premier.", 1),
            para("Deuxième paragraphe.", 2),
            Block {
                kind: BlockKind::Heading(2),
                page: Some(2),
                text: "AVK".into(),
            },
            para("Troisième.", 3),
        ];
        let chunks = chunk(&blocks, 200);
        // Same page: packed; a new page starts a new chunk; a heading too.
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[0].page, Some(1));
        assert_eq!(chunks[0].heading.as_deref(), Some("Anticoagulants"));
        assert_eq!(chunks[0].text, "Premier paragraphe.\n\nSuite du premier.");
        assert_eq!(chunks[1].page, Some(2));
        assert_eq!(chunks[1].heading.as_deref(), Some("Anticoagulants"));
        assert_eq!(chunks[2].heading.as_deref(), Some("Anticoagulants > AVK"));
        assert_eq!(chunks[2].page, Some(3));
    }

    #[test]
    fn paragraphs_are_packed_but_not_split() {
        let p = "mot ".repeat(30);
        let blocks: Vec<Block> = (0..10).map(|i| para(&p, i)).collect();
        let chunks = chunk(&blocks, 100);
        assert!(chunks
            .iter()
            .all(|c| c.text.split_whitespace().count() <= 100));
        assert_eq!(
            chunks
                .iter()
                .map(|c| c.text.split("\n\n").count())
                .sum::<usize>(),
            10
        );
        let long = "Une phrase courte. ".repeat(100);
        let chunks = chunk(&[para(&long, 1)], 50);
        assert!(chunks.len() >= 6);
        assert!(chunks.iter().all(|c| c.text.ends_with('.')));
    }
}
