//! Integration tests on the real ANSM thesaurus editions embedded in the crate.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use siagen_meds::{Check, DrugStatus, MedsError, Severity, Thesaurus};

fn t2020() -> &'static Thesaurus {
    static T: OnceLock<Thesaurus> = OnceLock::new();
    T.get_or_init(|| Thesaurus::builtin(Some("2020-01")).expect("2020-01 edition"))
}

/// (main, plus, levels) of every finding, as a set, to compare answers.
fn summary(c: &Check) -> BTreeSet<(String, String, Vec<Severity>)> {
    c.interactions
        .iter()
        .map(|i| (i.main.to_string(), i.plus.to_string(), i.levels.to_vec()))
        .collect()
}

fn subs(c: &Check, line: usize) -> Vec<&str> {
    c.drugs[line].substances.iter().map(|s| &**s).collect()
}

fn has(c: &Check, main: &str, plus: &str, levels: &[Severity]) -> bool {
    c.interactions.iter().any(|i| {
        let names = [&*i.main, &*i.plus];
        names.contains(&main) && names.contains(&plus) && *i.levels == *levels
    })
}

#[test]
fn thesaurus_is_send_sync_and_reports_edition() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Thesaurus>();
    let t = t2020();
    assert_eq!(t.edition(), "2020-01");
    assert_eq!(t.stats().entries, 3139);
    assert_eq!(t.stats().substances, 1084);
    let c = t.check(&["amiodarone", "simvastatine"]);
    assert_eq!(&*c.edition, "2020-01");
    assert!(c.interactions.iter().all(|i| &*i.edition == "2020-01"));
}

#[test]
fn editions_builtin_and_default_is_newest() {
    assert_eq!(siagen_meds::builtin_editions(), vec!["2019-09", "2020-01"]);
    assert_eq!(Thesaurus::builtin(None).unwrap().edition(), "2020-01");
    let old = Thesaurus::builtin(Some("2019-09")).unwrap();
    assert_eq!(old.edition(), "2019-09");
    assert_eq!(
        &*old.check(&["methotrexate", "trimethoprime"]).edition,
        "2019-09"
    );
    match Thesaurus::builtin(Some("2031-01")) {
        Err(MedsError::UnknownEdition { available, .. }) => assert!(available.contains("2020-01")),
        other => panic!("expected UnknownEdition, got {other:?}"),
    }
}

#[test]
fn each_severity_level_on_substance_pairs() {
    let t = t2020();
    let c = t.check(&["methotrexate", "trimethoprime"]);
    assert!(has(
        &c,
        "METHOTREXATE",
        "TRIMETHOPRIME",
        &[Severity::ContreIndication]
    ));
    let c = t.check(&["tramadol", "fluoxetine"]);
    assert!(has(
        &c,
        "TRAMADOL",
        "FLUOXETINE",
        &[Severity::AssociationDeconseillee]
    ));
    let c = t.check(&["amiodarone", "simvastatine"]);
    assert!(has(
        &c,
        "AMIODARONE",
        "SIMVASTATINE",
        &[Severity::PrecautionEmploi]
    ));
    let it = c
        .interactions
        .iter()
        .find(|i| &*i.plus == "SIMVASTATINE")
        .unwrap();
    assert!(it.conduct.contains("20 mg/j"), "conduct: {}", it.conduct);
    assert!(it.mechanism.contains("rhabdomyolyse"));
    let c = t.check(&["tramadol", "ondansetron"]);
    assert!(has(
        &c,
        "TRAMADOL",
        "ONDANSETRON",
        &[Severity::APrendreEnCompte]
    ));
}

#[test]
fn findings_sorted_by_severity() {
    let t = t2020();
    let c = t.check(&[
        "amiodarone",
        "simvastatine",
        "methotrexate",
        "trimethoprime",
        "tramadol",
        "ondansetron",
    ]);
    let sev: Vec<Severity> = c.interactions.iter().map(|i| i.severity).collect();
    let mut sorted = sev.clone();
    sorted.sort();
    assert_eq!(sev, sorted);
    assert_eq!(sev.first(), Some(&Severity::ContreIndication));
    assert_eq!(sev.last(), Some(&Severity::APrendreEnCompte));
}

#[test]
fn several_levels_keep_their_conditions() {
    let t = t2020();
    let c = t.check(&["aspirine", "warfarine"]);
    let it = c
        .interactions
        .iter()
        .find(|i| &*i.main == "ACIDE ACETYLSALICYLIQUE" && &*i.plus == "ANTICOAGULANTS ORAUX")
        .expect("aspirin + oral anticoagulants");
    assert_eq!(
        it.levels.to_vec(),
        vec![
            Severity::ContreIndication,
            Severity::AssociationDeconseillee,
            Severity::APrendreEnCompte
        ]
    );
    assert_eq!(it.severity, Severity::ContreIndication);
    assert!(it.level_details[0]
        .condition
        .contains("doses anti-inflammatoires"));
    assert!(it.level_details[2]
        .condition
        .contains("doses antiagrégantes"));
}

#[test]
fn substance_to_class_and_class_to_class() {
    let t = t2020();
    // substance ↔ class
    let c = t.check(&["lithium", "furosémide"]);
    assert!(has(
        &c,
        "LITHIUM",
        "DIURÉTIQUES DE L'ANSE",
        &[Severity::AssociationDeconseillee]
    ));
    // class ↔ class: amiodarone and citalopram meet through the two torsade classes.
    let c = t.check(&["amiodarone", "citalopram"]);
    assert!(c
        .interactions
        .iter()
        .any(|i| i.main.starts_with("TORSADOGÈNES") || i.plus.starts_with("TORSADOGÈNES")));
    assert_eq!(c.interactions[0].severity, Severity::ContreIndication);
    // class ↔ "other members of the class": two different NSAIDs.
    let c = t.check(&["ibuprofène", "kétoprofène"]);
    assert!(c
        .interactions
        .iter()
        .any(|i| &*i.main == "ANTI-INFLAMMATOIRES NON STÉROÏDIENS"
            && i.plus.to_uppercase().contains("AUTRES ANTI-INFLAMMATOIRES")));
}

#[test]
fn class_exceptions_exclude_the_excepted_substance() {
    let t = t2020();
    // Macrolides (sauf spiramycine) + colchicine: clarithromycin yes, spiramycin no.
    let c = t.check(&["clarithromycine", "colchicine"]);
    assert!(has(
        &c,
        "MACROLIDES (SAUF SPIRAMYCINE)",
        "COLCHICINE",
        &[Severity::ContreIndication]
    ));
    let c = t.check(&["spiramycine", "colchicine"]);
    assert!(!c
        .interactions
        .iter()
        .any(|i| i.main.starts_with("MACROLIDES") || i.plus.starts_with("MACROLIDES")));
    // Methadone is excepted from "torsadogènes": it must never match that side of an entry.
    let classes = t.classes_of("méthadone").unwrap();
    assert!(
        !classes
            .iter()
            .any(|c| c.to_lowercase().starts_with("torsadog")),
        "{classes:?}"
    );
    let c = t.check(&["méthadone", "amiodarone"]);
    for i in &c.interactions {
        let methadone_side: &str = if i.main_side == "a" { &i.main } else { &i.plus };
        assert!(!methadone_side.starts_with("TORSADOGÈNES"), "{i:?}");
    }
    // Sotalol is excepted from "bêta-bloquants (sauf esmolol et sotalol)".
    let classes = t.classes_of("sotalol").unwrap();
    assert!(
        !classes.iter().any(|c| c.contains("et sotalol")),
        "{classes:?}"
    );
}

#[test]
fn exceptions_apply_even_when_the_index_lists_the_substance() {
    // A thesaurus whose index wrongly puts an excepted substance in the class: the class name
    // decides, so the excepted substance does not match.
    let thesaurus = r#"[{"main_drug": "MACROLIDES (SAUF SPIRAMYCINE)", "plus_drug": "COLCHICINE",
        "between_main_and_plus_drug": "", "severity_levels": [{"level": "CONTRE-INDICATION", "info": ""}],
        "interaction_mechanism": "m", "description": "d"}]"#;
    let substances = r#"[{"substance": "spiramycine", "drug_classes": ["macrolides (sauf spiramycine)"]},
        {"substance": "clarithromycine", "drug_classes": ["macrolides (sauf spiramycine)"]},
        {"substance": "colchicine", "drug_classes": []}]"#;
    let t = Thesaurus::from_json("test-1", thesaurus, substances, "{}").unwrap();
    assert_eq!(t.stats().exception_removals, 1);
    assert!(t
        .check(&["spiramycine", "colchicine"])
        .interactions
        .is_empty());
    assert_eq!(
        t.check(&["clarithromycine", "colchicine"])
            .interactions
            .len(),
        1
    );
    assert_eq!(
        t.check(&["colchicine", "clarithromycine"]).interactions[0].main_side,
        "b"
    );
}

#[test]
fn brand_names_map_to_substances() {
    let t = t2020();
    let c = t.check(&["KARDEGIC 75 mg 1 sachet/j", "Eliquis 5mg x2/j"]);
    assert_eq!(subs(&c, 0), vec!["acide acetylsalicylique"]);
    assert_eq!(subs(&c, 1), vec!["apixaban"]);
    assert!(c.drugs[0].via[0].contains("B01AC06"));
    assert!(has(
        &c,
        "ACIDE ACETYLSALICYLIQUE",
        "ANTICOAGULANTS ORAUX",
        &[
            Severity::ContreIndication,
            Severity::AssociationDeconseillee,
            Severity::APrendreEnCompte
        ]
    ));
    assert_eq!(&*c.interactions[0].drug_a, "KARDEGIC 75 mg 1 sachet/j");
    assert_eq!(&*c.interactions[0].drug_b, "Eliquis 5mg x2/j");
    // A combination brand: every substance counts.
    let c = t.check(&["Bactrim forte 1 cp x2/j", "méthotrexate 10 mg/sem"]);
    assert!(
        c.drugs[0]
            .substances
            .iter()
            .any(|s| &**s == "trimethoprime"),
        "{:?}",
        c.drugs[0]
    );
    assert!(has(
        &c,
        "METHOTREXATE",
        "TRIMETHOPRIME",
        &[Severity::ContreIndication]
    ));
    let c = t.check(&["Doliprane 1000 mg", "Previscan 20 mg"]);
    assert_eq!(subs(&c, 0), vec!["paracetamol"]);
    // edsnlp files PREVISCAN under the ATC group "antivitamines k", a thesaurus class.
    assert_eq!(subs(&c, 1), vec!["antivitamines K"]);
    let c = t.check(&["Previscan 20 mg", "Kardégic 75 mg"]);
    assert!(has(
        &c,
        "ANTICOAGULANTS ORAUX",
        "ACIDE ACETYLSALICYLIQUE",
        &[
            Severity::ContreIndication,
            Severity::AssociationDeconseillee,
            Severity::APrendreEnCompte
        ]
    ));
}

#[test]
fn names_with_or_without_accents_and_case() {
    let t = t2020();
    let a = summary(&t.check(&["Méthotrexate", "TRIMÉTHOPRIME"]));
    let b = summary(&t.check(&["methotrexate", "trimethoprime"]));
    assert_eq!(a, b);
    assert!(!a.is_empty());
}

#[test]
fn unknown_drugs_are_reported() {
    let t = t2020();
    let c = t.check(&[
        "blorzoflex 3 cp",
        "amiodarone 200 mg",
        "",
        "SMECTA 1 sachet",
    ]);
    assert_eq!(c.unknown, vec![0, 2]);
    assert_eq!(c.drugs[0].status, DrugStatus::Unknown);
    assert_eq!(c.drugs[1].status, DrugStatus::Matched);
    // A real medicine that is recognised is never reported unknown.
    assert_ne!(c.drugs[3].status, DrugStatus::Unknown);
    assert!(c.to_table().contains("blorzoflex"));
}

#[test]
fn results_are_symmetric() {
    let t = t2020();
    let lines = [
        "amiodarone",
        "citalopram",
        "méthadone",
        "warfarine",
        "aspirine",
        "clarithromycine",
        "colchicine",
        "lithium",
        "furosémide",
        "tramadol",
    ];
    let forward = t.check(&lines);
    let mut rev = lines;
    rev.reverse();
    let backward = t.check(&rev);
    let n = lines.len() - 1;
    let norm = |c: &Check, flip: bool| -> BTreeSet<(usize, usize, String, String, Vec<Severity>)> {
        c.interactions
            .iter()
            .map(|i| {
                let (a, b) = if flip { (n - i.b, n - i.a) } else { (i.a, i.b) };
                let (x, y) = if i.main <= i.plus {
                    (&i.main, &i.plus)
                } else {
                    (&i.plus, &i.main)
                };
                (a, b, x.to_string(), y.to_string(), i.levels.to_vec())
            })
            .collect()
    };
    assert_eq!(norm(&forward, false), norm(&backward, true));
    assert!(forward.interactions.len() >= 10);
}

#[test]
fn lines_with_doses_forms_and_salts() {
    let t = t2020();
    let cases = [
        ("chlorhydrate de tramadol 50 mg gél", "tramadol"),
        ("Fluoxétine 20mg/5ml sol buv", "fluoxetine"),
        ("Amiodarone 200 mg cp", "amiodarone"),
        ("valproate de sodium LP 500 mg", "acide valproique"),
        ("Lithium carbonate 250mg", "lithium"),
        ("candésartan 8 mg 1 cp/j", "candesartan cilexetil"),
        ("ADALATE LP 20 mg", "nifedipine"),
        ("amoxicilline 1 g cp", "amoxicilline"),
        ("Augmentin 500 mg/5 ml", "amoxicilline"),
        ("Dépakine chrono 500 mg", "acide valproique"),
        ("Diffu K 2 gél/j", "potassium"),
        ("Flagyl 500 mg", "metronidazole"),
        ("Ixprim 1 cp x3/j", "tramadol"),
    ];
    for (line, sub) in cases {
        let c = t.check(&[line]);
        assert!(
            c.drugs[0].substances.iter().any(|s| &**s == sub),
            "{line:?} → {:?}",
            c.drugs[0]
        );
        assert!(!c.drugs[0]
            .substances
            .iter()
            .any(|s| &**s == "sodium (chlorure de)"));
    }
    let c = t.check(&[
        "chlorhydrate de tramadol 50 mg gél",
        "Fluoxétine 20mg/5ml sol buv",
    ]);
    assert!(has(
        &c,
        "TRAMADOL",
        "FLUOXETINE",
        &[Severity::AssociationDeconseillee]
    ));
}

#[test]
fn jsonl_line_format() {
    let t = t2020();
    let out = t
        .check_jsonl_line(r#"{"id": "rx-1", "drugs": ["KARDEGIC 75 mg", "Eliquis 5mg", "zzz"]}"#)
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["id"], "rx-1");
    assert_eq!(v["edition"], "2020-01");
    assert_eq!(v["unknown"], serde_json::json!([2]));
    let i = &v["interactions"][0];
    assert_eq!(i["a"], 0);
    assert_eq!(i["b"], 1);
    assert_eq!(i["levels"][0], "CONTRE-INDICATION");
    for k in ["main", "plus", "mechanism", "conduct"] {
        assert!(i[k].is_string(), "{k}");
    }
    assert!(matches!(
        t.check_jsonl_line("not json"),
        Err(MedsError::Request(_))
    ));
    let out = t.check_jsonl_line(r#"{"id": 7, "drugs": []}"#).unwrap();
    assert!(
        out.starts_with(r#"{"id":7,"edition":"2020-01","interactions":[]"#),
        "{out}"
    );
}

#[test]
fn load_dir_picks_editions_and_newest() {
    let dir = std::env::temp_dir().join(format!("siagen-meds-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/ansm-thesaurus");
    for f in ["thesaurus-2019-09.json", "substances-2019-09.json"] {
        std::fs::copy(format!("{data}/{f}"), dir.join(f)).unwrap();
    }
    assert_eq!(Thesaurus::editions_in_dir(&dir).unwrap(), vec!["2019-09"]);
    let t = Thesaurus::load_dir(&dir, None).unwrap();
    assert_eq!(t.edition(), "2019-09");
    assert!(!t.check(&["KARDEGIC", "ELIQUIS"]).interactions.is_empty());
    assert!(matches!(
        Thesaurus::load_dir(&dir, Some("2020-01")),
        Err(MedsError::UnknownEdition { .. })
    ));
    assert!(matches!(
        Thesaurus::load_dir(&dir, Some("../x")),
        Err(MedsError::InvalidEdition(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
    let empty = std::env::temp_dir().join(format!("siagen-meds-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    assert!(matches!(
        Thesaurus::load_dir(&empty, None),
        Err(MedsError::NoEdition(_))
    ));
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn same_substance_twice_is_not_an_interaction() {
    let t = t2020();
    let c = t.check(&["Kardégic 75", "aspirine 500 mg"]);
    assert!(c.interactions.is_empty(), "{:?}", c.interactions);
}

#[test]
fn table_lists_findings_and_unknowns() {
    let t = t2020();
    let table = t
        .check(&["KARDEGIC 75 mg", "Eliquis 5mg", "zzz"])
        .to_table();
    assert!(table.contains("édition 2020-01"));
    assert!(table.contains("CONTRE-INDICATION"));
    assert!(table.contains("MÉDICAMENT NON RECONNU"));
}
