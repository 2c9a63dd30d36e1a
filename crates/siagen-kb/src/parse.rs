//! Readers for the formats the knowledge base ingests. Each turns a file into metadata and a list
//! of [`Block`]s (headings and paragraphs with their page), which the chunker packs. The readers
//! are deliberately small: plain text and Markdown by lines, HTML by a tolerant tag scanner
//! (scripts, styles and the head skipped), DOCX as its `word/document.xml` (heading styles
//! `Heading1..`/`Titre1..`/`Title`, explicit page breaks) and `docProps/core.xml`, PDF through
//! lopdf page by page so that page numbers are kept.

use crate::error::{KbError, Result};
use crate::types::{DocMeta, Format};
use quick_xml::events::Event;
use std::io::Read;

/// What a block of text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// A heading of the given level (1 = top).
    Heading(u8),
    /// A paragraph (or list item, table cell...).
    Paragraph,
}

/// A heading or paragraph with its page (1-based) when the format has pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Heading or paragraph.
    pub kind: BlockKind,
    /// 1-based page, when known.
    pub page: Option<u32>,
    /// Text, whitespace normalised.
    pub text: String,
}

/// A file read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Metadata found in the file itself.
    pub meta: DocMeta,
    /// Pages (1 for formats without pages).
    pub pages: u32,
    /// Headings and paragraphs in order.
    pub blocks: Vec<Block>,
}

/// Reads `bytes` as `format`; `name` is used in error messages.
pub fn parse(format: Format, bytes: &[u8], name: &str) -> Result<Parsed> {
    let err = |reason: String| KbError::Parse {
        path: name.to_string(),
        reason,
    };
    let text = || {
        std::str::from_utf8(bytes)
            .map(|s| s.trim_start_matches('\u{feff}').to_string())
            .map_err(|e| err(format!("not UTF-8 text: {e}")))
    };
    let parsed = match format {
        Format::Text => parse_text(&text()?),
        Format::Markdown => parse_markdown(&text()?),
        Format::Html => parse_html(&String::from_utf8_lossy(bytes)),
        Format::Docx => parse_docx(bytes).map_err(err)?,
        Format::Pdf => parse_pdf(bytes).map_err(err)?,
    };
    if parsed.blocks.iter().all(|b| b.text.trim().is_empty()) {
        return Err(err("no text found".into()));
    }
    Ok(parsed)
}

fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn para(text: &str, page: Option<u32>) -> Option<Block> {
    let text = normalise(text);
    (!text.is_empty()).then_some(Block {
        kind: BlockKind::Paragraph,
        page,
        text,
    })
}

/// Paragraphs separated by blank lines.
fn parse_text(text: &str) -> Parsed {
    let blocks = text
        .replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|p| para(p, None))
        .collect();
    Parsed {
        meta: DocMeta::default(),
        pages: 1,
        blocks,
    }
}

/// Applies `key: value` metadata (Markdown front matter, PDF info...) to `meta`.
fn set_meta(meta: &mut DocMeta, key: &str, value: &str) {
    let value = value.trim().trim_matches('"').trim_matches('\'').trim();
    if value.is_empty() {
        return;
    }
    let slot = match key.trim().to_ascii_lowercase().as_str() {
        "title" | "titre" => &mut meta.title,
        "author" | "auteur" | "publisher" | "editeur" | "éditeur" | "creator" => {
            &mut meta.publisher
        }
        "date" => &mut meta.date,
        "source" | "url" | "reference" | "référence" => &mut meta.source,
        "licence" | "license" => &mut meta.licence,
        "kind" | "type" => &mut meta.kind,
        _ => return,
    };
    if slot.is_none() {
        *slot = Some(value.to_string());
    }
}

/// Markdown: optional `---` front matter, ATX headings, paragraphs by blank lines, list items as
/// paragraphs, inline markup removed.
fn parse_markdown(text: &str) -> Parsed {
    let text = text.replace("\r\n", "\n");
    let mut meta = DocMeta::default();
    let mut body: &str = &text;
    if let Some(rest) = text.strip_prefix("---\n") {
        if let Some(end) = rest.find("\n---") {
            for line in rest[..end].lines() {
                if let Some((k, v)) = line.split_once(':') {
                    set_meta(&mut meta, k, v);
                }
            }
            body = rest[end + 4..].trim_start_matches(['-', '\n']);
        }
    }
    let mut blocks = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, blocks: &mut Vec<Block>| {
        if let Some(b) = para(&strip_inline_markdown(cur), None) {
            blocks.push(b);
        }
        cur.clear();
    };
    for line in body.lines() {
        let trimmed = line.trim();
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            flush(&mut cur, &mut blocks);
            let title = strip_inline_markdown(trimmed[hashes..].trim().trim_end_matches('#'));
            if !title.trim().is_empty() {
                blocks.push(Block {
                    kind: BlockKind::Heading(hashes as u8),
                    page: None,
                    text: normalise(&title),
                });
            }
        } else if trimmed.is_empty() || trimmed.starts_with("```") {
            flush(&mut cur, &mut blocks);
        } else if let Some(item) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
            .or_else(|| trimmed.strip_prefix("+ "))
            .or_else(|| {
                let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
                (digits > 0)
                    .then(|| trimmed[digits..].strip_prefix(". "))
                    .flatten()
            })
        {
            flush(&mut cur, &mut blocks);
            cur.push_str(item);
        } else {
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(trimmed.trim_start_matches('>').trim());
        }
    }
    flush(&mut cur, &mut blocks);
    Parsed {
        meta,
        pages: 1,
        blocks,
    }
}

/// `[text](url)` → `text`, emphasis and code marks removed.
fn strip_inline_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find("](") {
            Some(close) if after[close + 2..].contains(')') => {
                out.push_str(&after[..close]);
                let tail = &after[close + 2..];
                rest = &tail[tail.find(')').map_or(0, |i| i + 1)..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out.replace("**", "")
        .replace("__", "")
        .replace('`', "")
        .replace(" *", " ")
        .replace("* ", " ")
        .trim_start_matches('*')
        .trim_end_matches('*')
        .to_string()
}

/// Decodes HTML character references (numeric and the named ones French text uses).
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &after[..e];
            let c = if let Some(num) = name.strip_prefix('#') {
                let n = match num.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => num.parse().ok(),
                };
                n.and_then(char::from_u32)
            } else {
                named_entity(name)
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn named_entity(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => ' ',
        "eacute" => 'é',
        "Eacute" => 'É',
        "egrave" => 'è',
        "Egrave" => 'È',
        "ecirc" => 'ê',
        "Ecirc" => 'Ê',
        "euml" => 'ë',
        "agrave" => 'à',
        "Agrave" => 'À',
        "acirc" => 'â',
        "ccedil" => 'ç',
        "Ccedil" => 'Ç',
        "icirc" => 'î',
        "iuml" => 'ï',
        "ocirc" => 'ô',
        "ouml" => 'ö',
        "ucirc" => 'û',
        "ugrave" => 'ù',
        "uuml" => 'ü',
        "oelig" => 'œ',
        "OElig" => 'Œ',
        "laquo" => '«',
        "raquo" => '»',
        "rsquo" => '\'',
        "lsquo" => '\'',
        "ldquo" => '"',
        "rdquo" => '"',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        "deg" => '°',
        "micro" => 'µ',
        "times" => '×',
        "le" => '≤',
        "ge" => '≥',
        "copy" => '©',
        _ => return None,
    })
}

/// A tolerant HTML reader: `<title>` and `<meta name=author|description|date|dc.*>` give the
/// metadata; `h1`..`h6` headings; `p`, `li`, `td`, `div`, `br`... end paragraphs; `script`,
/// `style`, `head`, `nav`, `noscript`, `template` and comments are skipped.
fn parse_html(html: &str) -> Parsed {
    let mut meta = DocMeta::default();
    let mut blocks = Vec::new();
    let mut cur = String::new();
    let mut heading: Option<u8> = None;
    let mut skip: Option<String> = None;
    let mut in_title = false;
    let mut title = String::new();
    let mut rest = html;
    let flush = |cur: &mut String, heading: Option<u8>, blocks: &mut Vec<Block>| {
        let text = normalise(&decode_entities(cur));
        cur.clear();
        if !text.is_empty() {
            blocks.push(Block {
                kind: heading.map_or(BlockKind::Paragraph, BlockKind::Heading),
                page: None,
                text,
            });
        }
    };
    while let Some(lt) = rest.find('<') {
        let text = &rest[..lt];
        if skip.is_none() {
            if in_title {
                title.push_str(text);
            } else {
                cur.push_str(text);
            }
        }
        rest = &rest[lt..];
        if let Some(comment) = rest.strip_prefix("<!--") {
            rest = comment.find("-->").map_or("", |e| &comment[e + 3..]);
            continue;
        }
        let Some(gt) = rest.find('>') else {
            rest = "";
            break;
        };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let closing = tag.starts_with('/');
        let tag_body = tag.trim_start_matches('/');
        let name: String = tag_body
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(s) = &skip {
            if closing && &name == s {
                skip = None;
            }
            continue;
        }
        match name.as_str() {
            "script" | "style" | "nav" | "noscript" | "template" | "svg"
                if !closing && !tag.ends_with('/') =>
            {
                skip = Some(name);
            }
            "script" | "style" | "nav" | "noscript" | "template" | "svg" => {}
            "title" => in_title = !closing,
            "meta" => {
                let attr = |a: &str| html_attr(tag_body, a);
                if let (Some(n), Some(c)) =
                    (attr("name").or_else(|| attr("property")), attr("content"))
                {
                    let key = n.to_ascii_lowercase();
                    let key = key
                        .trim_start_matches("dc.")
                        .trim_start_matches("dcterms.")
                        .trim_start_matches("citation_");
                    let key = match key {
                        "rights" => "licence",
                        "identifier" => "source",
                        "publisher" => "publisher",
                        k => k,
                    };
                    set_meta(&mut meta, key, &decode_entities(&c));
                }
            }
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                flush(&mut cur, heading, &mut blocks);
                heading = (!closing).then(|| name.as_bytes()[1] - b'0');
            }
            "p" | "li" | "td" | "th" | "div" | "br" | "tr" | "blockquote" | "dd" | "dt"
            | "section" | "article" | "ul" | "ol" | "table" | "pre" | "hr" | "body" | "main"
            | "header" | "footer" | "figcaption" => flush(&mut cur, heading, &mut blocks),
            _ => {}
        }
    }
    if skip.is_none() {
        cur.push_str(rest);
    }
    flush(&mut cur, heading, &mut blocks);
    let title = normalise(&decode_entities(&title));
    if !title.is_empty() {
        meta.title = Some(title);
    }
    Parsed {
        meta,
        pages: 1,
        blocks,
    }
}

/// The value of attribute `name` in a tag's text (quoted or not).
fn html_attr(tag: &str, name: &str) -> Option<String> {
    let lower = tag.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = at == 0 || lower.as_bytes()[at - 1].is_ascii_whitespace();
        let after = lower[from..].trim_start();
        if !before_ok || !after.starts_with('=') {
            continue;
        }
        let value_start = tag.len() - after.len() + 1;
        let v = tag[value_start..].trim_start();
        return Some(match v.chars().next() {
            Some(q @ ('"' | '\'')) => v[1..].split(q).next().unwrap_or("").to_string(),
            _ => v.split_whitespace().next().unwrap_or("").to_string(),
        });
    }
    None
}

fn zip_entry(archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>, name: &str) -> Option<String> {
    let mut file = archive.by_name(name).ok()?;
    let mut s = String::new();
    file.read_to_string(&mut s).ok()?;
    Some(s)
}

/// DOCX: paragraphs of `word/document.xml` with their style; page breaks counted.
fn parse_docx(bytes: &[u8]) -> Result<Parsed, String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| format!("not a DOCX (zip) file: {e}"))?;
    let document = zip_entry(&mut archive, "word/document.xml")
        .ok_or("not a DOCX file: word/document.xml missing")?;
    let mut meta = DocMeta::default();
    if let Some(core) = zip_entry(&mut archive, "docProps/core.xml") {
        let mut reader = quick_xml::Reader::from_str(&core);
        let mut key = String::new();
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => {
                    key = String::from_utf8_lossy(e.local_name().as_ref()).into_owned()
                }
                Ok(Event::Text(t)) => {
                    let v = t.unescape().map(|c| c.into_owned()).unwrap_or_default();
                    match key.as_str() {
                        "title" => set_meta(&mut meta, "title", &v),
                        "creator" => set_meta(&mut meta, "publisher", &v),
                        "created" | "date" => {
                            set_meta(&mut meta, "date", v.get(..10).unwrap_or(&v))
                        }
                        "identifier" => set_meta(&mut meta, "source", &v),
                        "rights" => set_meta(&mut meta, "licence", &v),
                        _ => {}
                    }
                }
                Ok(Event::End(_)) => key.clear(),
                Ok(Event::Eof) | Err(_) => break,
                _ => {}
            }
        }
    }
    let mut reader = quick_xml::Reader::from_str(&document);
    let mut blocks = Vec::new();
    let mut page = 1u32;
    let mut para_page = 1u32;
    let mut text = String::new();
    let mut style: Option<String> = None;
    let mut in_text = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("word/document.xml: {e}"))?;
        match event {
            Event::Start(e) | Event::Empty(e) => match e.local_name().as_ref() {
                b"p" => {
                    text.clear();
                    style = None;
                    para_page = page;
                }
                b"t" => in_text = true,
                b"tab" => text.push(' '),
                b"br" => {
                    let is_page = e.attributes().flatten().any(|a| {
                        a.key.local_name().as_ref() == b"type" && a.value.as_ref() == b"page"
                    });
                    if is_page {
                        page += 1;
                        if text.trim().is_empty() {
                            para_page = page;
                        }
                    } else {
                        text.push(' ');
                    }
                }
                b"pStyle" => {
                    style = e
                        .attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == b"val")
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned());
                }
                _ => {}
            },
            Event::Text(t) if in_text => {
                text.push_str(&t.unescape().map_err(|e| e.to_string())?);
            }
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => {
                    let level = style.as_deref().and_then(heading_level);
                    let t = normalise(&text);
                    if !t.is_empty() {
                        blocks.push(Block {
                            kind: level.map_or(BlockKind::Paragraph, BlockKind::Heading),
                            page: Some(para_page),
                            text: t,
                        });
                    }
                    text.clear();
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(Parsed {
        meta,
        pages: page,
        blocks,
    })
}

/// `Heading2`, `Titre2`, `heading 2`, `Title` → a heading level.
fn heading_level(style: &str) -> Option<u8> {
    let s = style.to_ascii_lowercase().replace(' ', "");
    if s == "title" || s == "titre" {
        return Some(1);
    }
    let digits = s
        .strip_prefix("heading")
        .or_else(|| s.strip_prefix("titre"))?;
    digits.parse::<u8>().ok().filter(|l| (1..=9).contains(l))
}

/// PDF: text of each page (lopdf), paragraphs by blank lines or sentence-final lines; the info
/// dictionary's Title, Author, CreationDate.
fn parse_pdf(bytes: &[u8]) -> Result<Parsed, String> {
    let doc = lopdf::Document::load_mem(bytes).map_err(|e| format!("not a readable PDF: {e}"))?;
    if doc.is_encrypted() {
        return Err("encrypted PDF".into());
    }
    let mut meta = DocMeta::default();
    if let Ok(info) = doc
        .trailer
        .get(b"Info")
        .and_then(|o| doc.dereference(o))
        .and_then(|(_, o)| o.as_dict())
    {
        let get = |k: &[u8]| {
            info.get(k)
                .ok()
                .and_then(|o| o.as_str().ok())
                .map(pdf_string)
        };
        if let Some(t) = get(b"Title") {
            set_meta(&mut meta, "title", &t);
        }
        if let Some(a) = get(b"Author") {
            set_meta(&mut meta, "publisher", &a);
        }
        if let Some(d) = get(b"CreationDate") {
            let d = d.trim_start_matches("D:");
            if d.len() >= 8 && d[..8].bytes().all(|b| b.is_ascii_digit()) {
                set_meta(
                    &mut meta,
                    "date",
                    &format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..8]),
                );
            }
        }
    }
    let pages = doc.get_pages();
    let mut blocks = Vec::new();
    for (&number, &page_id) in &pages {
        let text = pdf_page_text(&doc, page_id).map_err(|e| format!("page {number}: {e}"))?;
        let mut cur = String::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() {
                blocks.extend(para(&cur, Some(number)));
                cur.clear();
                continue;
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(line);
            if line.ends_with(['.', '!', '?', ':']) {
                blocks.extend(para(&cur, Some(number)));
                cur.clear();
            }
        }
        blocks.extend(para(&cur, Some(number)));
    }
    Ok(Parsed {
        meta,
        pages: pages.len() as u32,
        blocks,
    })
}

/// The text of one page: strings of `Tj`/`TJ`/`'`/`"` decoded with their font's encoding, a line
/// break at each text-positioning operator that moves to a new line (`Td`, `TD`, `T*`, `Tm`, `'`,
/// `"`, `ET`), a space for large negative kerning inside `TJ`. (lopdf's own `extract_text` glues
/// consecutive strings together, merging words.)
fn pdf_page_text(doc: &lopdf::Document, page_id: lopdf::ObjectId) -> lopdf::Result<String> {
    use lopdf::{content::Content, Document, Object};
    fn push_strings(
        out: &mut String,
        encoding: Option<&lopdf::Encoding>,
        operands: &[Object],
    ) -> lopdf::Result<()> {
        for operand in operands {
            match operand {
                Object::String(bytes, _) => match encoding {
                    Some(e) => out.push_str(&Document::decode_text(e, bytes)?),
                    None => out.push_str(&String::from_utf8_lossy(bytes)),
                },
                Object::Array(items) => push_strings(out, encoding, items)?,
                Object::Integer(i) if *i < -200 => out.push(' '),
                Object::Real(r) if *r < -200.0 => out.push(' '),
                _ => {}
            }
        }
        Ok(())
    }
    let encodings: std::collections::BTreeMap<Vec<u8>, lopdf::Encoding> = doc
        .get_page_fonts(page_id)?
        .into_iter()
        .filter_map(|(name, font)| font.get_font_encoding(doc).ok().map(|e| (name, e)))
        .collect();
    let content = Content::decode(&doc.get_page_content(page_id)?)?;
    let mut out = String::new();
    let mut current: Option<&lopdf::Encoding> = None;
    let newline = |out: &mut String| {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
    };
    for op in &content.operations {
        match op.operator.as_str() {
            "Tf" => {
                current = op
                    .operands
                    .first()
                    .and_then(|o| o.as_name().ok())
                    .and_then(|n| encodings.get(n));
            }
            "Tj" | "TJ" => push_strings(&mut out, current, &op.operands)?,
            "'" | "\"" => {
                newline(&mut out);
                push_strings(&mut out, current, &op.operands)?;
            }
            "Td" | "TD" => {
                // A move with a vertical component starts a new line; a purely horizontal
                // one continues it.
                let dy = op
                    .operands
                    .get(1)
                    .and_then(|o| o.as_float().ok())
                    .unwrap_or(0.0);
                if dy != 0.0 {
                    newline(&mut out);
                } else if !out.ends_with([' ', '\n']) {
                    out.push(' ');
                }
            }
            "T*" | "Tm" | "ET" => newline(&mut out),
            _ => {}
        }
    }
    Ok(out)
}

/// PDF text strings: UTF-16BE with a BOM, else PDFDocEncoding (Latin-1 for our purposes).
fn pdf_string(bytes: &[u8]) -> String {
    if let Some(utf16) = bytes.strip_prefix(&[0xfe, 0xff]) {
        let units: Vec<u16> = utf16
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        bytes.iter().map(|&b| b as char).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_headings_paragraphs_and_metadata() {
        let html = r#"<html><head><title>Guide &eacute;pilepsie</title>
            <meta name="author" content="HAS"><meta name="DC.rights" content="CC-BY-4.0">
            <style>p{color:red}</style><script>var x = "<p>no</p>";</script></head>
            <body><h1>Crises</h1><p>Premi&egrave;re ligne :<br>valproate</p><!-- c -->
            <ul><li>Point un</li><li>Point deux</li></ul></body></html>"#;
        let p = parse_html(html);
        assert_eq!(p.meta.title.as_deref(), Some("Guide épilepsie"));
        assert_eq!(p.meta.publisher.as_deref(), Some("HAS"));
        assert_eq!(p.meta.licence.as_deref(), Some("CC-BY-4.0"));
        let texts: Vec<&str> = p.blocks.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "Crises",
                "Première ligne :",
                "valproate",
                "Point un",
                "Point deux"
            ]
        );
        assert_eq!(p.blocks[0].kind, BlockKind::Heading(1));
    }

    #[test]
    fn markdown_front_matter_and_headings() {
        let md = "---\ntitle: Protocole\nlicence: Etalab-2.0\n---\n# Partie\n\nUn **gras** [lien](http://x).\n\n- item\n";
        let p = parse_markdown(md);
        assert_eq!(p.meta.title.as_deref(), Some("Protocole"));
        assert_eq!(p.meta.licence.as_deref(), Some("Etalab-2.0"));
        assert_eq!(p.blocks[0].kind, BlockKind::Heading(1));
        assert_eq!(p.blocks[1].text, "Un gras lien.");
        assert_eq!(p.blocks[2].text, "item");
    }
}
