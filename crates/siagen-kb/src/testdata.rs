//! Fixtures for tests and benchmarks (here and in the binary's end-to-end tests): real files of
//! each format (a PDF written through lopdf, a DOCX zipped from its XML parts, HTML, Markdown,
//! text), and a deterministic embedder, so that no test needs a downloaded model or document.

use crate::{EmbedKind, Embedder};
use std::io::Write;

/// A real embedding function, deterministic and model-free: hashed character trigrams of the
/// accent-folded, lower-cased text (a classic baseline). Not a mock: it is a genuine, if weak,
/// implementation of the trait.
pub struct TrigramEmbedder {
    pub dim: usize,
}

fn fold(c: char) -> char {
    match c {
        'à' | 'â' | 'ä' => 'a',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'î' | 'ï' => 'i',
        'ô' | 'ö' => 'o',
        'ù' | 'û' | 'ü' => 'u',
        'ç' => 'c',
        c => c,
    }
}

impl Embedder for TrigramEmbedder {
    fn model(&self) -> &str {
        "trigram-hash"
    }
    fn embed(&self, texts: &[String], _kind: EmbedKind) -> Result<Vec<Vec<f32>>, String> {
        Ok(texts
            .iter()
            .map(|t| {
                let mut v = vec![0f32; self.dim];
                for word in t
                    .to_lowercase()
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| w.chars().count() > 2)
                {
                    let chars: Vec<char> = format!(" {word} ").chars().map(fold).collect();
                    for w in chars.windows(3) {
                        let mut h: u64 = 1469598103934665603;
                        for c in w {
                            h ^= *c as u64;
                            h = h.wrapping_mul(1099511628211);
                        }
                        v[(h % self.dim as u64) as usize] += 1.0;
                    }
                }
                v
            })
            .collect())
    }
}

/// Latin-1 (WinAnsi) bytes of French text, for a PDF string.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            '’' => b'\'',
            c if (c as u32) < 256 => c as u8,
            _ => b'?',
        })
        .collect()
}

/// A PDF with one page per element of `pages`, each page a list of lines (Helvetica,
/// WinAnsiEncoding, one `Tj` per line, `T*` between lines), and an Info dictionary.
/// Panics on I/O errors (test helper).
pub fn pdf(title: &str, author: &str, pages: &[&[&str]]) -> Vec<u8> {
    use lopdf::content::{Content, Operation};
    use lopdf::{dictionary, Document, Object, Stream, StringFormat};
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! {
        "Font" => dictionary! { "F1" => font_id },
    });
    let mut kids = Vec::new();
    for lines in pages {
        let mut ops = vec![
            Operation::new("BT", vec![]),
            Operation::new("Tf", vec!["F1".into(), 11.into()]),
            Operation::new("TL", vec![14.into()]),
            Operation::new("Td", vec![50.into(), 780.into()]),
        ];
        for line in *lines {
            ops.push(Operation::new(
                "Tj",
                vec![Object::String(win_ansi(line), StringFormat::Literal)],
            ));
            ops.push(Operation::new("T*", vec![]));
        }
        ops.push(Operation::new("ET", vec![]));
        let content = Content { operations: ops };
        let content_id = doc.add_object(Stream::new(dictionary! {}, content.encode().unwrap()));
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
        });
        kids.push(page_id.into());
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! {
        "Type" => "Catalog",
        "Pages" => pages_id,
    });
    let info_id = doc.add_object(dictionary! {
        "Title" => Object::String(win_ansi(title), StringFormat::Literal),
        "Author" => Object::String(win_ansi(author), StringFormat::Literal),
        "CreationDate" => Object::String(b"D:20240315120000Z".to_vec(), StringFormat::Literal),
    });
    doc.trailer.set("Root", catalog_id);
    doc.trailer.set("Info", info_id);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A DOCX: `paragraphs` are (style, text); style `""` is body text, `"PAGE"` a page break.
pub fn docx(title: &str, creator: &str, paragraphs: &[(&str, &str)]) -> Vec<u8> {
    let mut body = String::new();
    for (style, text) in paragraphs {
        if *style == "PAGE" {
            body.push_str(r#"<w:p><w:r><w:br w:type="page"/></w:r></w:p>"#);
            continue;
        }
        body.push_str("<w:p>");
        if !style.is_empty() {
            body.push_str(&format!(r#"<w:pPr><w:pStyle w:val="{style}"/></w:pPr>"#));
        }
        body.push_str(&format!(
            r#"<w:r><w:t xml:space="preserve">{}</w:t></w:r></w:p>"#,
            xml_escape(text)
        ));
    }
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>{body}</w:body></w:document>"#
    );
    let core = format!(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"><dc:title>{}</dc:title><dc:creator>{}</dc:creator><dcterms:created>2023-06-01T00:00:00Z</dcterms:created></cp:coreProperties>"#,
        xml_escape(title),
        xml_escape(creator)
    );
    let content_types = r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>"#;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (name, data) in [
            ("[Content_Types].xml", content_types.to_string()),
            ("word/document.xml", document),
            ("docProps/core.xml", core),
        ] {
            zip.start_file(name, opts).unwrap();
            zip.write_all(data.as_bytes()).unwrap();
        }
        zip.finish().unwrap();
    }
    buf.into_inner()
}

/// The ANSM extract committed with the tests (amiodarone and antivitamines K entries).
pub const ANSM_EXTRACT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/ansm-amiodarone-avk.md"
);

/// Writes one file of each format about anticoagulation into `dir`.
pub fn write_corpus(dir: &std::path::Path) {
    std::fs::create_dir_all(dir.join("sous-dossier")).unwrap();
    std::fs::write(
        dir.join("protocole-avk.pdf"),
        pdf(
            "Protocole de relais héparine-AVK",
            "CHU de Test, pharmacie",
            &[
                &[
                    "Relais de l'héparine par un antivitamine K.",
                    "Le relais débute dès le premier jour du traitement.",
                ],
                &[
                    "Surveillance de l'INR deux fois par semaine.",
                    "Arrêter l'héparine lorsque l'INR est dans la cible deux jours de suite.",
                ],
            ],
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("sous-dossier/insuffisance-renale.docx"),
        docx(
            "Adaptation des doses chez l'insuffisant rénal",
            "Comité du médicament",
            &[
                ("Titre1", "Anticoagulants oraux directs"),
                ("", "Le dabigatran est contre-indiqué si la clairance de la créatinine est inférieure à 30 ml/min."),
                ("PAGE", ""),
                ("Heading2", "Apixaban"),
                ("", "L'apixaban est utilisé avec prudence entre 15 et 29 ml/min de clairance."),
            ],
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("hepatique.html"),
        r#"<!doctype html><html><head><title>Insuffisance h&eacute;patique et m&eacute;dicaments</title>
<meta name="author" content="Service d'hépatologie"><meta name="DC.rights" content="CC-BY-4.0">
<script>document.write("ne pas indexer")</script></head><body>
<h1>Insuffisance hépatique</h1><p>Chez les patients hépatiques sévères, le paracétamol est limité à 2 g par jour.</p>
<h2>Benzodiazépines</h2><ul><li>Préférer l'oxazépam.</li><li>Éviter le diazépam.</li></ul></body></html>"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("vaccins.md"),
        "---\ntitle: Vaccination des patients immunodéprimés\npublisher: Groupe infectiologie\ndate: 2022-09-01\nlicence: Etalab-2.0\nkind: guideline\n---\n# Vaccins vivants\n\nLes vaccins vivants atténués sont contre-indiqués sous immunosuppresseurs.\n\n# Vaccins inactivés\n\nLes vaccins inactivés peuvent être administrés ; la réponse peut être diminuée.\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("sous-dossier/note.txt"),
        "Note de service\n\nLes comprimés de méthotrexate se prennent une fois par semaine, jamais tous les jours.\n\nToute erreur de rythme d'administration doit être déclarée.",
    )
    .unwrap();
    // Not a format the knowledge base reads: skipped inside a folder.
    std::fs::write(dir.join("image.png"), [0x89, b'P', b'N', b'G']).unwrap();
}
