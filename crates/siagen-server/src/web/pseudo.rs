//! « Pseudonymisation »: a text and a patient reference (POST body, never the URL); the
//! identifiers found are highlighted by type with a legend, and the pseudonymised text is shown
//! with its surrogates marked.
//!
//! Detection and pseudonymisation are the API's (`crate::shield`): same limits, role check,
//! vault and audit entries.

use super::html::{app_error_message, csrf_field, error_banner, esc, html, page};
use super::{textarea, CheckedForm, WebSession};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use siagen_shield::{Label, Span};
use std::collections::BTreeMap;

const TITLE: &str = "Pseudonymisation";

/// French name of an identifier type.
fn label_fr(l: Label) -> &'static str {
    match l {
        Label::Nom => "Nom",
        Label::Prenom => "Prénom",
        Label::Date => "Date",
        Label::DateNaissance => "Date de naissance",
        Label::Adresse => "Adresse",
        Label::Ville => "Ville",
        Label::Zip => "Code postal",
        Label::Tel => "Téléphone",
        Label::Mail => "Courriel",
        Label::Secu => "N° de sécurité sociale",
        Label::Ipp => "IPP",
        Label::Nda => "N° de séjour",
        Label::Hopital => "Établissement",
        Label::Rpps => "RPPS / ADELI",
        Label::Finess => "FINESS",
        Label::Iban => "IBAN",
        Label::Url => "Adresse web",
        Label::Age => "Âge > 89 ans",
    }
}

/// CSS class of an identifier type (one colour per family).
fn label_class(l: Label) -> &'static str {
    match l {
        Label::Nom | Label::Prenom => "pii-person",
        Label::Date | Label::DateNaissance | Label::Age => "pii-date",
        Label::Adresse | Label::Ville | Label::Zip => "pii-place",
        Label::Tel | Label::Mail | Label::Url => "pii-contact",
        Label::Secu | Label::Ipp | Label::Nda | Label::Iban => "pii-number",
        Label::Hopital | Label::Rpps | Label::Finess => "pii-care",
    }
}

/// `text` with `spans` (character offsets) marked (markup).
fn marked(text: &str, spans: &[Span], id: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut sorted: Vec<&Span> = spans.iter().collect();
    sorted.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut out = format!(r#"<div class="doc-text pii-text" id="{id}">"#);
    let mut at = 0usize;
    for s in sorted {
        let (start, end) = (s.start.min(chars.len()), s.end.min(chars.len()));
        if start < at || end <= start {
            continue;
        }
        out.push_str(&esc(&chars[at..start].iter().collect::<String>()));
        out.push_str(&format!(
            r#"<mark class="pii {}" data-label="{}" title="{}">{}<span class="pii-label">{}</span></mark>"#,
            label_class(s.label),
            s.label.as_str(),
            esc(label_fr(s.label)),
            esc(&chars[start..end].iter().collect::<String>()),
            esc(label_fr(s.label)),
        ));
        at = end;
    }
    out.push_str(&esc(&chars[at..].iter().collect::<String>()));
    out.push_str("</div>");
    out
}

fn legend(spans: &[Span]) -> String {
    let mut counts: BTreeMap<Label, usize> = BTreeMap::new();
    for s in spans {
        *counts.entry(s.label).or_default() += 1;
    }
    let mut out = String::from(
        r#"<ul class="pii-legend" id="pii-legend" aria-label="Légende des identifiants">"#,
    );
    for (l, n) in counts {
        out.push_str(&format!(
            r#"<li><mark class="pii {}">{}</mark> {n}</li>"#,
            label_class(l),
            esc(label_fr(l))
        ));
    }
    out.push_str("</ul>");
    out
}

fn form_html(sess: &WebSession, text: &str, patient_ref: &str, style: &str) -> String {
    let (real, tags) = if style == "tags" {
        ("", " checked")
    } else {
        (" checked", "")
    };
    format!(
        r#"<form method="post" action="/pseudonymisation" class="stack wide" id="pseudo-form">
{csrf}
<div class="field"><label for="texte">Texte à pseudonymiser</label>
<textarea id="texte" name="texte" rows="10" required aria-describedby="texte-hint">{text}</textarea>
<p class="hint" id="texte-hint">Le texte est traité sur ce serveur et n'est pas conservé ; seules les correspondances identifiant ↔ substitut sont gardées, chiffrées, pour la référence patient indiquée.</p></div>
<div class="field narrow"><label for="patient_ref">Référence patient (pseudonyme)</label>
<input type="text" id="patient_ref" name="patient_ref" value="{pref}" maxlength="64" required aria-describedby="pref-hint">
<p class="hint" id="pref-hint">Par exemple « P-2024-0042 » — jamais un nom. Les mêmes identifiants reçoivent les mêmes substituts pour cette référence.</p></div>
<fieldset><legend>Substituts</legend>
<label class="check"><input type="radio" name="style" value="realistic"{real}> réalistes (faux noms, faux numéros)</label>
<label class="check"><input type="radio" name="style" value="tags"{tags}> étiquettes (« [NOM_1] »)</label></fieldset>
<div class="buttons"><button type="submit" class="primary" id="btn-pseudo">Pseudonymiser</button></div>
</form>"#,
        csrf = csrf_field(sess),
        text = esc(text),
        pref = esc(patient_ref),
    )
}

fn intro() -> &'static str {
    r#"<h1>Pseudonymisation</h1>
<p class="lead">Repère les identifiants d'un texte (noms, dates, téléphones, adresses, numéros…) et les remplace par des substituts cohérents, avant de l'envoyer à un modèle ou de le partager. La détection est automatique : relisez toujours le résultat.</p>"#
}

pub(crate) async fn form(sess: WebSession) -> Response {
    if let Some(r) = super::html::require_clinical(&sess, "La pseudonymisation") {
        return r;
    }
    let body = format!("{}{}", intro(), form_html(&sess, "", "", "realistic"));
    html(
        StatusCode::OK,
        page(TITLE, Some(&sess), "/pseudonymisation", &body),
    )
}

#[derive(Deserialize)]
pub(crate) struct PseudoForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    texte: String,
    #[serde(default)]
    patient_ref: String,
    #[serde(default)]
    style: String,
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    CheckedForm { sess, form: f }: CheckedForm<PseudoForm>,
) -> Response {
    if let Some(r) = super::html::require_clinical(&sess, "La pseudonymisation") {
        return r;
    }
    let text = textarea(&f.texte);
    let patient_ref = f.patient_ref.trim().to_string();
    let style = if f.style == "tags" {
        "tags"
    } else {
        "realistic"
    };
    let render = |status: StatusCode, error: Option<&str>, results: &str| {
        let body = format!(
            "{}{}{}{}",
            intro(),
            error_banner(error),
            form_html(&sess, &text, &patient_ref, style),
            results
        );
        html(status, page(TITLE, Some(&sess), "/pseudonymisation", &body))
    };
    if text.trim().is_empty() {
        return render(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("Collez d'abord un texte."),
            "",
        );
    }
    let fail = |e: siagen_app::AppError| {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let msg = if e.slug() == "no-shield" {
            "Le module de pseudonymisation n'est pas configuré sur ce serveur.".to_string()
        } else {
            app_error_message(&e)
        };
        render(status, Some(&msg), "")
    };
    let spans = match siagen_app::privacy::detect(&state.app, &sess.actor, text.clone()).await {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let style: Option<siagen_shield::SurrogateStyle> =
        serde_json::from_value(json!(style)).unwrap_or_default();
    let pseudo = match siagen_app::privacy::pseudonymize(
        &state.app,
        &sess.actor,
        text.clone(),
        patient_ref.to_string(),
        style,
    )
    .await
    {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let (out_text, out_spans, replaced) = (pseudo.text, pseudo.spans, pseudo.replaced);
    let summary = if spans.is_empty() {
        r#"<p class="alert alert-warn" id="pii-none">Aucun identifiant repéré. La détection n'est pas infaillible : relisez le texte.</p>"#.to_string()
    } else {
        format!(
            r#"<p id="pii-count">{} identifiant{} repéré{}, {replaced} remplacé{} :</p>"#,
            spans.len(),
            if spans.len() > 1 { "s" } else { "" },
            if spans.len() > 1 { "s" } else { "" },
            if replaced > 1 { "s" } else { "" },
        )
    };
    let results = format!(
        r#"<section class="results" aria-labelledby="h-found" id="results">
<h2 id="h-found">Identifiants repérés</h2>
{summary}{legend}
{original}
<h2 id="h-out">Texte pseudonymisé</h2>
<p class="hint">Les substituts sont surlignés. Copiez ce texte pour l'utiliser ; la correspondance avec les vrais identifiants reste chiffrée sur ce serveur.</p>
{output}
</section>"#,
        legend = legend(&spans),
        original = marked(&text, &spans, "pii-original"),
        output = marked(&out_text, &out_spans, "pii-output"),
    );
    render(StatusCode::OK, None, &results)
}

super::csrf_forms!(PseudoForm);
