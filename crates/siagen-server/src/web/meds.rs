//! « Vérifier une ordonnance »: drug lines in a textarea (POST body, never the URL), the
//! interactions of the ANSM thesaurus sorted by severity, with their levels and conditions,
//! mechanism and conduct, the edition named, and the lines that were not recognised.
//!
//! The check itself is the API's (`crate::meds::check`): same limits, role check and audit entry.

use super::html::{csrf_field, error_banner, esc, fr_message, html, page, severity_class};
use super::{CheckedForm, WebSession};
use crate::problem::ApiJson;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use siagen_meds::Severity;

fn form_html(state: &AppState, sess: &WebSession, lines: &str, edition: &str) -> String {
    let mut opts = String::new();
    for (i, t) in state.app.services.meds.iter().enumerate() {
        let e = t.edition();
        let sel = if e == edition || (edition.is_empty() && i == 0) {
            " selected"
        } else {
            ""
        };
        let default = if i == 0 { " (par défaut)" } else { "" };
        opts.push_str(&format!(
            r#"<option value="{}"{sel}>{}{default}</option>"#,
            esc(e),
            esc(e)
        ));
    }
    format!(
        r#"<form method="post" action="/ordonnance" class="stack wide">
{csrf}
<div class="field"><label for="lignes">Médicaments de l'ordonnance, un par ligne</label>
<textarea id="lignes" name="lignes" rows="8" required aria-describedby="lignes-hint">{lines}</textarea>
<p class="hint" id="lignes-hint">Nom commercial ou DCI, avec ou sans posologie — par exemple « KARDEGIC 75 mg 1 sachet/j ». 100 lignes au plus. N'indiquez aucune donnée identifiante.</p></div>
<div class="field narrow"><label for="edition">Édition du thésaurus ANSM</label><select id="edition" name="edition">{opts}</select></div>
<div class="buttons"><button type="submit" class="primary" id="btn-check">Vérifier les interactions</button></div>
</form>"#,
        csrf = csrf_field(sess),
        lines = esc(lines),
    )
}

const TITLE: &str = "Vérifier une ordonnance";

fn intro() -> &'static str {
    r#"<h1>Vérifier une ordonnance</h1>
<p class="lead">Recherche des interactions médicamenteuses dans le Thésaurus des interactions médicamenteuses de l'ANSM. La réponse est déterministe et cite l'édition utilisée ; elle ne remplace pas le jugement clinique.</p>"#
}

pub(crate) async fn form(State(state): State<AppState>, sess: WebSession) -> Response {
    if let Some(r) = super::html::require_clinical(&sess, "La vérification d'ordonnance") {
        return r;
    }
    let body = format!("{}{}", intro(), form_html(&state, &sess, "", ""));
    html(
        StatusCode::OK,
        page(TITLE, Some(&sess), "/ordonnance", &body),
    )
}

#[derive(Deserialize)]
pub(crate) struct CheckForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    lignes: String,
    #[serde(default)]
    edition: String,
}

pub(crate) async fn check(
    State(state): State<AppState>,
    CheckedForm { sess, form: f }: CheckedForm<CheckForm>,
) -> Response {
    if let Some(r) = super::html::require_clinical(&sess, "La vérification d'ordonnance") {
        return r;
    }
    let drugs: Vec<String> = f
        .lignes
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let render = |status: StatusCode, error: Option<&str>, results: &str| {
        let body = format!(
            "{}{}{}{}",
            intro(),
            error_banner(error),
            form_html(&state, &sess, &f.lignes, &f.edition),
            results
        );
        html(status, page(TITLE, Some(&sess), "/ordonnance", &body))
    };
    if drugs.is_empty() {
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Saisissez au moins une ligne de médicament."),
            "",
        );
    }
    let mut req = json!({ "drugs": drugs });
    if !f.edition.trim().is_empty() {
        req["edition"] = json!(f.edition.trim());
    }
    let body = match serde_json::from_value::<crate::meds::CheckBody>(req) {
        Ok(b) => b,
        Err(_) => return render(StatusCode::BAD_REQUEST, Some("Demande invalide."), ""),
    };
    let result = crate::meds::check(
        State(state.clone()),
        crate::auth::Auth(sess.actor.clone()),
        ApiJson(body),
    )
    .await;
    match result {
        Ok(axum::Json(v)) => render(StatusCode::OK, None, &results_html(&v)),
        Err(p) => {
            let msg = if p.slug == "unknown-edition" {
                "Cette édition du thésaurus n'est pas chargée : choisissez-en une dans la liste."
                    .to_string()
            } else {
                fr_message(p.status, &p.detail)
            };
            render(p.status, Some(&msg), "")
        }
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// A term and its definition (markup), or nothing when the thesaurus leaves it empty.
fn dt_dd(term: &str, value: &str) -> String {
    if value.trim().is_empty() {
        String::new()
    } else {
        format!("<dt>{}</dt><dd>{}</dd>", esc(term), esc(value))
    }
}

fn severity_of(v: &Value) -> Option<Severity> {
    serde_json::from_value(v.clone()).ok()
}

/// The answer of the check as markup.
fn results_html(v: &Value) -> String {
    let edition = s(v, "edition");
    let empty = Vec::new();
    let interactions = v
        .get("interactions")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    let drugs = v.get("drugs").and_then(Value::as_array).unwrap_or(&empty);
    let unknown: Vec<usize> = v
        .get("unknown")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_u64)
                .map(|i| i as usize)
                .collect()
        })
        .unwrap_or_default();
    let mut out = format!(
        r#"<section class="results" aria-labelledby="h-results" id="results"><h2 id="h-results">Résultat</h2>
<p class="edition" id="edition">Source : Thésaurus des interactions médicamenteuses de l'ANSM, édition <strong>{}</strong>.</p>"#,
        esc(edition)
    );
    if !unknown.is_empty() {
        out.push_str(r#"<div class="alert alert-warn" role="alert" id="unknown"><p><strong>Médicaments non reconnus</strong> — aucune interaction ne peut être recherchée pour eux ; vérifiez l'orthographe ou utilisez la DCI :</p><ul>"#);
        for i in &unknown {
            let input = drugs.get(*i).map(|d| s(d, "input")).unwrap_or("");
            out.push_str(&format!("<li>{}</li>", esc(input)));
        }
        out.push_str("</ul></div>");
    }
    let not_in: Vec<&str> = drugs
        .iter()
        .filter(|d| s(d, "status") == "not_in_thesaurus")
        .map(|d| s(d, "input"))
        .collect();
    if !not_in.is_empty() {
        out.push_str(r#"<div class="alert alert-warn" role="note"><p><strong>Médicaments connus mais absents de cette édition du thésaurus</strong> — aucune interaction ne peut être signalée pour eux :</p><ul>"#);
        for d in not_in {
            out.push_str(&format!("<li>{}</li>", esc(d)));
        }
        out.push_str("</ul></div>");
    }
    if interactions.is_empty() {
        out.push_str(r#"<p class="alert alert-ok" id="no-interaction">Aucune interaction répertoriée entre les médicaments reconnus.</p>"#);
    } else {
        out.push_str(&format!(
            r#"<p>{} interaction{} trouvée{}, de la plus grave à la moins grave :</p><ol class="interactions">"#,
            interactions.len(),
            if interactions.len() > 1 { "s" } else { "" },
            if interactions.len() > 1 { "s" } else { "" },
        ));
        for it in interactions {
            let sev = it.get("severity").and_then(severity_of);
            let class = sev.map(severity_class).unwrap_or("sev-pc");
            let label = sev.map(Severity::label).unwrap_or("");
            let mut levels = String::new();
            if let Some(details) = it.get("level_details").and_then(Value::as_array) {
                for d in details {
                    let lv = d.get("level").and_then(severity_of);
                    let cond = s(d, "condition");
                    levels.push_str(&format!(
                        r#"<li><span class="badge {}">{}</span>{}</li>"#,
                        lv.map(severity_class).unwrap_or("sev-pc"),
                        esc(s(d, "label")),
                        if cond.is_empty() {
                            String::new()
                        } else {
                            format!(" — {}", esc(cond))
                        }
                    ));
                }
            }
            let see_also = s(it, "see_also");
            out.push_str(&format!(
                r#"<li class="interaction {class}"><h3><span class="badge {class}">{label}</span> {a} + {b}</h3>
<p class="muted">Entrée du thésaurus : {main} + {plus} (lignes : « {da} » et « {db} »)</p>
<dl class="detail"><dt>Niveaux et conditions</dt><dd><ul class="levels">{levels}</ul></dd>{mech}{conduct}{see}</dl></li>"#,
                label = esc(label),
                a = esc(s(it, "substance_a")),
                b = esc(s(it, "substance_b")),
                main = esc(s(it, "main")),
                plus = esc(s(it, "plus")),
                da = esc(s(it, "drug_a")),
                db = esc(s(it, "drug_b")),
                mech = dt_dd("Mécanisme", s(it, "mechanism")),
                conduct = dt_dd("Conduite à tenir", s(it, "conduct")),
                see = dt_dd("Voir aussi", see_also),
            ));
        }
        out.push_str("</ol>");
    }
    out.push_str(r#"<h3>Lecture de chaque ligne</h3><div class="table-wrap"><table class="list" id="drug-lines"><thead><tr><th scope="col">Ligne</th><th scope="col">Reconnu comme</th><th scope="col">Par</th></tr></thead><tbody>"#);
    for d in drugs {
        let status = match s(d, "status") {
            "matched" => None,
            "not_in_thesaurus" => Some("absent du thésaurus"),
            _ => Some("non reconnu"),
        };
        let join = |k: &str| -> String {
            d.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default()
        };
        let subst = match status {
            None => esc(&join("substances")),
            Some(st) => format!(r#"<em class="warn">{}</em>"#, esc(st)),
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td>{subst}</td><td class=\"muted\">{}</td></tr>",
            esc(s(d, "input")),
            esc(&join("via"))
        ));
    }
    out.push_str("</tbody></table></div></section>");
    out
}

super::csrf_forms!(CheckForm);
