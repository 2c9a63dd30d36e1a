//! Documents: list with filters, creation, the document page (text with machine passages marked,
//! authorship, history, side-by-side diff, workflow buttons), editing, the workflow actions,
//! the print view and the FHIR download.

use super::diff::side_by_side;
use super::html::{
    csrf_field, error_banner, esc, flash, fmt_ts, fr_message, html, page, state_badge, state_fr,
};
use super::CsrfOnly;
use super::{problem_page, textarea, CheckedForm, WebPath, WebSession};
use crate::{blocking, AppState};
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use siagen_store::{
    Author, DocState, DocumentFilter, DocumentKind, DocumentSummary, DocumentView, HistoryEvent,
    RevisionView, Role,
};

/// Rows per page of the list.
const PER_PAGE: i64 = 25;
/// With a date filter, the list scans at most this many of the newest matching documents.
const DATE_SCAN_PAGES: i64 = 10;
const DATE_SCAN_PER_PAGE: i64 = 200;

fn is_clinician(s: &WebSession) -> bool {
    s.actor.roles.has(Role::Clinician)
}

fn is_validator(s: &WebSession) -> bool {
    s.actor.roles.has(Role::Validator)
}

// ---------------------------------------------------------------------------------------------
// List

#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    etat: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    auteur: Option<String>,
    du: Option<String>,
    au: Option<String>,
    page: Option<String>,
    msg: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn parse_date(v: &Option<String>, errors: &mut Vec<String>, label: &str) -> Option<String> {
    let s = non_empty(v)?;
    match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(d) => Some(d.format("%Y-%m-%d").to_string()),
        Err(_) => {
            errors.push(format!(
                "Date « {label} » invalide : utilisez le format AAAA-MM-JJ."
            ));
            None
        }
    }
}

fn select_options(selected: Option<&str>, options: &[(&str, &str)]) -> String {
    let mut out = String::from(r#"<option value="">Tous</option>"#);
    for (value, label) in options {
        let sel = if Some(*value) == selected {
            " selected"
        } else {
            ""
        };
        out.push_str(&format!(
            r#"<option value="{}"{sel}>{}</option>"#,
            esc(value),
            esc(label)
        ));
    }
    out
}

const STATES: [DocState; 4] = [
    DocState::Draft,
    DocState::InReview,
    DocState::Validated,
    DocState::Rejected,
];

pub(crate) async fn list(
    State(state): State<AppState>,
    sess: WebSession,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Some(r) = super::html::require_clinical(&sess, "La consultation des documents") {
        return r;
    }
    let mut errors = Vec::new();
    let doc_state = non_empty(&q.etat).and_then(|s| match s.parse::<DocState>() {
        Ok(v) => Some(v),
        Err(_) => {
            errors.push("État inconnu : filtre ignoré.".to_string());
            None
        }
    });
    let kind = non_empty(&q.kind).and_then(|s| match s.parse::<DocumentKind>() {
        Ok(v) => Some(v),
        Err(_) => {
            errors.push("Type de document inconnu : filtre ignoré.".to_string());
            None
        }
    });
    let author = non_empty(&q.auteur).map(str::to_string);
    let from = parse_date(&q.du, &mut errors, "du");
    let to = parse_date(&q.au, &mut errors, "au");
    let page_no = non_empty(&q.page)
        .and_then(|p| p.parse::<i64>().ok())
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1);

    let store = state.store.clone();
    let actor = sess.actor.clone();
    let dated = from.is_some() || to.is_some();
    let (from_c, to_c) = (from.clone(), to.clone());
    let result = blocking(move || {
        if !dated {
            let p = store.list_documents(
                &actor,
                &DocumentFilter {
                    state: doc_state,
                    kind,
                    author,
                    page: Some(page_no),
                    per_page: Some(PER_PAGE),
                },
            )?;
            return Ok((p.items, p.total, false));
        }
        // The store filters by state, kind and author; the creation date is filtered here,
        // scanning the newest documents (ids grow with time, so the scan stops early).
        let mut matched: Vec<DocumentSummary> = Vec::new();
        let mut truncated = false;
        for scan in 1..=DATE_SCAN_PAGES {
            let p = store.list_documents(
                &actor,
                &DocumentFilter {
                    state: doc_state,
                    kind,
                    author: author.clone(),
                    page: Some(scan),
                    per_page: Some(DATE_SCAN_PER_PAGE),
                },
            )?;
            let n = p.items.len() as i64;
            let mut older = false;
            for d in p.items {
                let day = d.created_at.get(..10).unwrap_or("").to_string();
                if from_c.as_ref().is_some_and(|f| day < *f) {
                    older = true;
                    continue;
                }
                if to_c.as_ref().is_some_and(|t| day > *t) {
                    continue;
                }
                matched.push(d);
            }
            if older || scan * DATE_SCAN_PER_PAGE >= p.total || n == 0 {
                break;
            }
            if scan == DATE_SCAN_PAGES {
                truncated = true;
            }
        }
        let total = matched.len() as i64;
        let start = ((page_no - 1) * PER_PAGE) as usize;
        let items = matched
            .into_iter()
            .skip(start)
            .take(PER_PAGE as usize)
            .collect();
        Ok((items, total, truncated))
    })
    .await;
    let (items, total, truncated) = match result {
        Ok(v) => v,
        Err(p) => return problem_page(p, &sess),
    };

    let state_opts: Vec<(&str, &str)> = STATES.iter().map(|s| (s.as_str(), state_fr(*s))).collect();
    let kind_opts: Vec<(&str, &str)> = DocumentKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label_fr()))
        .collect();
    let mut body = String::new();
    body.push_str(r#"<div class="page-head"><h1>Documents</h1>"#);
    if is_clinician(&sess) {
        body.push_str(
            r#"<a class="button primary" href="/documents/nouveau">Nouveau document</a>"#,
        );
    }
    body.push_str("</div>");
    body.push_str(&flash(q.msg.as_deref()));
    for e in &errors {
        body.push_str(&error_banner(Some(e)));
    }
    body.push_str(&format!(
        r#"<form method="get" action="/documents" class="filters" aria-label="Filtrer les documents">
<div class="field"><label for="f-etat">État</label><select id="f-etat" name="etat">{}</select></div>
<div class="field"><label for="f-type">Type</label><select id="f-type" name="type">{}</select></div>
<div class="field"><label for="f-auteur">Auteur (identifiant)</label><input id="f-auteur" name="auteur" type="text" maxlength="64" value="{}"></div>
<div class="field"><label for="f-du">Créé du</label><input id="f-du" name="du" type="date" value="{}"></div>
<div class="field"><label for="f-au">au</label><input id="f-au" name="au" type="date" value="{}"></div>
<div class="field actions-inline"><button type="submit">Filtrer</button> <a href="/documents">Effacer les filtres</a></div>
</form>"#,
        select_options(doc_state.map(|s| s.as_str()), &state_opts),
        select_options(kind.map(|k| k.as_str()), &kind_opts),
        esc(non_empty(&q.auteur).unwrap_or("")),
        esc(from.as_deref().unwrap_or("")),
        esc(to.as_deref().unwrap_or("")),
    ));
    if truncated {
        body.push_str(&format!(
            r#"<p class="hint">Le filtre de date porte sur les {} documents les plus récents ; précisez l'état, le type ou l'auteur pour remonter plus loin.</p>"#,
            DATE_SCAN_PAGES * DATE_SCAN_PER_PAGE
        ));
    }
    if items.is_empty() {
        body.push_str(r#"<p class="empty-list">Aucun document ne correspond à ces critères.</p>"#);
    } else {
        body.push_str(&format!(
            r#"<p class="count">{total} document{} au total.</p>
<div class="table-wrap"><table class="list" id="documents">
<thead><tr><th scope="col">N°</th><th scope="col">Titre</th><th scope="col">Type</th><th scope="col">Patient (pseudonyme)</th><th scope="col">État</th><th scope="col">Auteur</th><th scope="col">Créé le</th><th scope="col">Mis à jour</th></tr></thead><tbody>"#,
            if total > 1 { "s" } else { "" }
        ));
        for d in &items {
            body.push_str(&format!(
                r#"<tr><td>{id}</td><td><a href="/documents/{id}">{title}</a></td><td>{kind}</td><td><code>{pref}</code></td><td>{st}</td><td>{author}</td><td>{created}</td><td>{updated}</td></tr>"#,
                id = d.id,
                title = esc(&d.title),
                kind = esc(d.kind.label_fr()),
                pref = esc(&d.patient_ref),
                st = state_badge(d.state),
                author = esc(&d.created_by_name),
                created = esc(&fmt_ts(&d.created_at)),
                updated = esc(&fmt_ts(&d.updated_at)),
            ));
        }
        body.push_str("</tbody></table></div>");
        let pages = (total + PER_PAGE - 1) / PER_PAGE;
        if pages > 1 {
            let link = |p: i64| {
                let mut params = vec![format!("page={p}")];
                if let Some(s) = doc_state {
                    params.push(format!("etat={}", s.as_str()));
                }
                if let Some(k) = kind {
                    params.push(format!("type={}", k.as_str()));
                }
                if let Some(a) = non_empty(&q.auteur) {
                    params.push(format!("auteur={}", url_encode(a)));
                }
                if let Some(f) = &from {
                    params.push(format!("du={f}"));
                }
                if let Some(t) = &to {
                    params.push(format!("au={t}"));
                }
                esc(&format!("/documents?{}", params.join("&")))
            };
            body.push_str(r#"<nav class="pager" aria-label="Pages">"#);
            if page_no > 1 {
                body.push_str(&format!(
                    r#"<a href="{}" rel="prev">← Page précédente</a>"#,
                    link(page_no - 1)
                ));
            }
            body.push_str(&format!(" <span>Page {page_no} sur {pages}</span> "));
            if page_no < pages {
                body.push_str(&format!(
                    r#"<a href="{}" rel="next">Page suivante →</a>"#,
                    link(page_no + 1)
                ));
            }
            body.push_str("</nav>");
        }
    }
    html(
        StatusCode::OK,
        page("Documents", Some(&sess), "/documents", &body),
    )
}

/// Percent-encodes a query value (user names are already restricted to a-z 0-9 . _ -).
fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Creation

#[derive(Deserialize, Default)]
pub(crate) struct NewForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    patient_ref: String,
    #[serde(default)]
    text: String,
}

fn new_page(sess: &WebSession, status: StatusCode, f: &NewForm, error: Option<&str>) -> Response {
    let mut kinds = String::new();
    for k in DocumentKind::ALL {
        let sel = if k.as_str() == f.kind {
            " selected"
        } else {
            ""
        };
        kinds.push_str(&format!(
            r#"<option value="{}"{sel}>{}</option>"#,
            k.as_str(),
            esc(k.label_fr())
        ));
    }
    let body = format!(
        r#"<nav class="crumbs" aria-label="Fil d'Ariane"><a href="/documents">Documents</a> › Nouveau</nav>
<h1>Nouveau document</h1>
{err}
<form method="post" action="/documents/nouveau" class="stack wide">
{csrf}
<div class="field"><label for="kind">Type de document</label><select id="kind" name="kind" required>{kinds}</select></div>
<div class="field"><label for="title">Titre</label><input id="title" name="title" type="text" required maxlength="200" value="{title}"></div>
<div class="field"><label for="patient_ref">Référence patient (pseudonyme)</label>
<input id="patient_ref" name="patient_ref" type="text" required maxlength="64" pattern="[A-Za-z0-9._:\-]+" aria-describedby="patient_ref-hint" value="{pref}" autocomplete="off" spellcheck="false">
<p class="hint" id="patient_ref-hint">Jamais un nom : un identifiant pseudonyme (lettres, chiffres, « . », « _ », « : », « - »), par exemple P-000123.</p></div>
<div class="field"><label for="text">Texte</label><textarea id="text" name="text" rows="16" required>{text}</textarea></div>
<div class="buttons"><button type="submit" class="primary">Enregistrer le brouillon</button> <a href="/documents">Annuler</a></div>
</form>"#,
        err = error_banner(error),
        csrf = csrf_field(sess),
        title = esc(&f.title),
        pref = esc(&f.patient_ref),
        text = esc(&f.text),
    );
    html(
        status,
        page("Nouveau document", Some(sess), "/documents", &body),
    )
}

fn forbidden_writer(sess: &WebSession) -> Option<Response> {
    if is_clinician(sess) {
        None
    } else {
        Some(super::html::error_page(
            StatusCode::FORBIDDEN,
            Some(sess),
            "Rédiger ou modifier un document nécessite le rôle clinicien.",
        ))
    }
}

pub(crate) async fn new_form(sess: WebSession) -> Response {
    if let Some(r) = forbidden_writer(&sess) {
        return r;
    }
    new_page(&sess, StatusCode::OK, &NewForm::default(), None)
}

pub(crate) async fn create(
    State(state): State<AppState>,
    CheckedForm { sess, form: mut f }: CheckedForm<NewForm>,
) -> Response {
    f.text = textarea(&f.text);
    let kind = match f.kind.parse::<DocumentKind>() {
        Ok(k) => k,
        Err(_) => {
            return new_page(
                &sess,
                StatusCode::UNPROCESSABLE_ENTITY,
                &f,
                Some("Choisissez un type de document dans la liste."),
            )
        }
    };
    let store = state.store.clone();
    let actor = sess.actor.clone();
    let new = siagen_store::NewDocument {
        kind,
        title: f.title.clone(),
        patient_ref: f.patient_ref.trim().to_string(),
        text: f.text.clone(),
        generated_by: None,
    };
    match blocking(move || store.create_document(&actor, new)).await {
        Ok(view) => Redirect::to(&format!("/documents/{}?msg=created", view.id)).into_response(),
        Err(p) => {
            let msg = fr_message(p.status, &p.detail);
            new_page(&sess, p.status, &f, Some(&msg))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The document page

#[derive(Deserialize, Default)]
pub(crate) struct MsgQuery {
    msg: Option<String>,
}

fn author_html(a: &Author) -> String {
    match a {
        Author::Human { name, .. } => format!(
            r#"<span class="author author-human">{}</span> <span class="muted">(saisie humaine)</span>"#,
            esc(name)
        ),
        Author::Model {
            model,
            requested_by_name,
            ..
        } => {
            let params = model.parameters.to_string();
            let mut s = format!(
                r#"<span class="author author-model">Modèle {} </span><span class="muted">version {}, paramètres <code>{}</code>"#,
                esc(&model.model),
                esc(&model.version),
                esc(&params)
            );
            if let Some(seed) = model.seed {
                s.push_str(&format!(", graine {seed}"));
            }
            s.push_str(&format!(
                ", généré à la demande de {}</span>",
                esc(requested_by_name)
            ));
            s
        }
    }
}

fn event_fr(e: &str) -> &str {
    match e {
        "revision" => "Nouvelle version",
        "submitted" => "Soumis à validation",
        "validated" => "Validé",
        "rejected" => "Rejeté",
        other => other,
    }
}

/// The text as markup with its origin map: unchanged machine passages in `<mark
/// class="machine">`, machine text a person edited in `<mark class="edited">`, human text
/// plain. Passages of blanks alone are left unmarked (nothing to read there).
fn origin_markup(rev: &RevisionView) -> String {
    let text = &rev.text;
    if rev.origin_map.check(text).is_err() {
        return esc(text);
    }
    let mut out = String::with_capacity(text.len() + 64);
    for (range, origin) in rev.origin_map.byte_spans(text) {
        let part = &text[range];
        let model = origin.model();
        match (origin.kind(), model) {
            (kind @ ("machine" | "edited"), Some(m)) if !part.trim().is_empty() => {
                let title = if kind == "machine" {
                    format!("Généré par le modèle {}, non modifié", m.model)
                } else {
                    format!("Texte du modèle {} modifié par un humain", m.model)
                };
                out.push_str(&format!(
                    r#"<mark class="{kind}" title="{}">{}</mark>"#,
                    esc(&title),
                    esc(part)
                ));
            }
            _ => out.push_str(&esc(part)),
        }
    }
    out
}

/// The legend of the marks and the share of each origin, in French.
fn origin_legend(rev: &RevisionView) -> String {
    let shares = rev.origin_map.shares();
    let total = (shares.machine + shares.edited + shares.human).max(1) as f64;
    let pct = |n: usize| format!("{:.0} %", n as f64 * 100.0 / total);
    format!(
        r#"<p class="origin-legend" id="origin-legend">Origine des passages : <mark class="machine">généré par un modèle</mark> {} · <mark class="edited">texte du modèle modifié par un humain</mark> {} · <span class="origin-human">écrit par un humain</span> {}</p>"#,
        pct(shares.machine),
        pct(shares.edited),
        pct(shares.human)
    )
}

/// The last machine-written revision at or before the current one.
fn last_machine(revs: &[RevisionView], current: i64) -> Option<&RevisionView> {
    revs.iter()
        .filter(|r| r.author.is_model() && r.id <= current)
        .max_by_key(|r| r.id)
}

async fn load(
    state: &AppState,
    sess: &WebSession,
    id: i64,
) -> Result<(DocumentView, Vec<RevisionView>, Vec<HistoryEvent>), Response> {
    let store = state.store.clone();
    let actor = sess.actor.clone();
    blocking(move || {
        let view = store.get_document(&actor, id)?;
        let (revs, events) = store.history(&actor, id)?;
        Ok((view, revs, events))
    })
    .await
    .map_err(|p| problem_page(p, sess))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    sess: WebSession,
    WebPath(id): WebPath,
    Query(q): Query<MsgQuery>,
) -> Response {
    if let Some(r) = super::html::require_clinical(&sess, "La consultation des documents") {
        return r;
    }
    match load(&state, &sess, id).await {
        Ok((view, revs, events)) => document_page(
            &state,
            &sess,
            StatusCode::OK,
            &view,
            &revs,
            &events,
            q.msg.as_deref(),
            None,
        ),
        Err(r) => r,
    }
}

#[allow(clippy::too_many_arguments)]
fn document_page(
    state: &AppState,
    sess: &WebSession,
    status: StatusCode,
    view: &DocumentView,
    revs: &[RevisionView],
    events: &[HistoryEvent],
    msg: Option<&str>,
    error: Option<&str>,
) -> Response {
    let cur = &view.current_revision;
    let final_ = view.is_final();
    let machine = last_machine(revs, cur.id);
    let mut body = format!(
        r#"<nav class="crumbs" aria-label="Fil d'Ariane"><a href="/documents">Documents</a> › Document n° {id}</nav>
<div class="page-head"><h1>{title}</h1>{badge}</div>
{flash}{err}
<dl class="meta">
<div><dt>Type</dt><dd>{kind}</dd></div>
<div><dt>Patient (pseudonyme)</dt><dd><code>{pref}</code></dd></div>
<div><dt>État</dt><dd id="doc-state">{state}</dd></div>
<div><dt>Version actuelle</dt><dd>n° {num} <span class="muted">(identifiant {rid})</span></dd></div>
<div><dt>Rédigée par</dt><dd>{author}</dd></div>
<div><dt>Mis à jour</dt><dd>{updated}</dd></div>
</dl>"#,
        id = view.id,
        title = esc(&view.title),
        badge = state_badge(view.state),
        flash = flash(msg),
        err = error_banner(error),
        kind = esc(view.kind.label_fr()),
        pref = esc(&view.patient_ref),
        state = esc(state_fr(view.state)),
        num = cur.number,
        rid = cur.id,
        author = author_html(&cur.author),
        updated = esc(&fmt_ts(&view.updated_at)),
    );

    // Status banners: validated, rejected, machine text.
    if final_ {
        if let Some(v) = &view.validation {
            let mut s = format!(
                r#"<div class="alert alert-ok" role="status" id="validated-banner"><p><strong>Version validée</strong> par {} le {}.</p>"#,
                esc(&v.validator_name),
                esc(&fmt_ts(&v.validated_at))
            );
            if let Some(d) = v.edit_distance {
                s.push_str(&format!(
                    "<p>Part du brouillon du modèle réécrite par un humain : {:.0} %.</p>",
                    (d * 100.0).min(100.0)
                ));
            }
            s.push_str("</div>");
            body.push_str(&s);
        }
    } else if view.state == DocState::Rejected {
        if let Some(e) = events.iter().rev().find(|e| e.event == "rejected") {
            body.push_str(&format!(
                r#"<div class="alert alert-error" role="status"><p><strong>Rejeté</strong> par {} le {} — motif : {}</p><p>Modifiez le texte puis soumettez-le de nouveau.</p></div>"#,
                esc(&e.user_name),
                esc(&fmt_ts(&e.at)),
                esc(e.reason.as_deref().unwrap_or(""))
            ));
        }
    }

    // Machine passages come from the revision's origin map: unchanged machine text, machine
    // text a person edited, human text. They stay marked after validation too (the FHIR export
    // keeps its AI label while they remain); the banner says who still has to read them.
    let has_machine = cur.origin_map.has_machine_text();
    let text_html = if has_machine {
        origin_markup(cur)
    } else {
        esc(&cur.text)
    };
    let machine_note = if !has_machine {
        String::new()
    } else if final_ {
        format!(
            r#"<div class="alert alert-machine" role="note" id="machine-banner"><p><strong>Texte validé contenant des passages générés par un modèle.</strong> Ils ont été relus et validés par un professionnel de santé ; ils restent signalés dans l'export FHIR.</p>{}</div>"#,
            origin_legend(cur)
        )
    } else if cur.author.is_model() && cur.origin_map.shares().human == 0 {
        format!(
            r#"<div class="alert alert-machine" role="note" id="machine-banner"><p><strong>Texte généré par un modèle — à valider.</strong> Relisez et corrigez chaque passage avant de le soumettre : un professionnel de santé doit le valider avant tout usage.</p>{}</div>"#,
            origin_legend(cur)
        )
    } else {
        format!(
            r#"<div class="alert alert-machine" role="note" id="machine-banner"><p><strong>Ce texte contient des passages générés par un modèle — à valider.</strong> Les passages <mark class="machine">surlignés</mark> sont du modèle, tels quels ; les passages <mark class="edited">soulignés</mark> sont du modèle modifié par un humain. Ils le restent tant qu'un humain ne les a pas réécrits.</p>{}</div>"#,
            origin_legend(cur)
        )
    };
    body.push_str(&machine_note);
    body.push_str(&format!(
        r#"<section aria-labelledby="h-text"><h2 id="h-text">Texte actuel</h2><div class="doc-text" id="doc-text">{text_html}</div></section>"#
    ));

    // Actions the actor may take now (the store checks again on every POST).
    let mut actions = String::new();
    let id = view.id;
    if is_clinician(sess) {
        actions.push_str(&format!(
            r#"<a class="button" href="/documents/{id}/modifier" id="btn-edit">Modifier</a>"#
        ));
        if view.state == DocState::Draft {
            actions.push_str(&format!(
                r#"<form method="post" action="/documents/{id}/soumettre" class="inline">{}<button type="submit" class="primary" id="btn-submit">Soumettre à validation</button></form>"#,
                csrf_field(sess)
            ));
        }
    }
    let mut review = String::new();
    if is_validator(sess) && view.state == DocState::InReview {
        let own = sess.actor.user_id == Some(cur.author.responsible_user());
        if own && !state.store.config().allow_self_validation {
            review.push_str(r#"<p class="hint">Vous avez rédigé (ou fait générer) cette version : un autre validateur doit la valider.</p>"#);
        } else {
            actions.push_str(&format!(
                r#"<form method="post" action="/documents/{id}/valider" class="inline">{}<input type="hidden" name="revision_id" value="{}"><button type="submit" class="primary" id="btn-validate">Valider la version n° {}</button></form>"#,
                csrf_field(sess),
                cur.id,
                cur.number
            ));
        }
        review.push_str(&format!(
            r#"<details class="reject"><summary>Rejeter…</summary>
<form method="post" action="/documents/{id}/rejeter" class="stack">{}
<div class="field"><label for="reason">Motif du rejet (visible par l'auteur)</label><textarea id="reason" name="reason" rows="3" required maxlength="2000"></textarea></div>
<button type="submit" class="danger" id="btn-reject">Rejeter le document</button></form></details>"#,
            csrf_field(sess)
        ));
    }
    if final_ {
        actions.push_str(&format!(
            r#"<a class="button" href="/documents/{id}/fhir" download="document-{id}-fhir.json" id="btn-fhir">Exporter FHIR</a> <a class="button" href="/documents/{id}/imprimer" id="btn-print">Imprimer</a>"#
        ));
    }
    if !actions.is_empty() || !review.is_empty() {
        body.push_str(&format!(
            r#"<section class="actions" aria-labelledby="h-actions"><h2 id="h-actions">Actions</h2><div class="buttons">{actions}</div>{review}</section>"#
        ));
    }

    // Machine draft vs current text.
    if let Some(m) = machine {
        if m.id != cur.id {
            body.push_str(&format!(
                r#"<section aria-labelledby="h-diff"><h2 id="h-diff">Brouillon du modèle (version n° {}) et texte actuel</h2>
<p class="hint">À gauche le texte du modèle, à droite le texte actuel : <span class="legend del">retiré</span> <span class="legend ins">ajouté par un humain</span> <span class="legend same">inchangé</span>.</p>{}</section>"#,
                m.number,
                side_by_side(&m.text, &cur.text)
            ));
        }
    }

    // History.
    let mut rows = String::new();
    for e in events {
        let rev = e
            .revision_id
            .and_then(|rid| revs.iter().find(|r| r.id == rid));
        let what = match (e.event.as_str(), rev) {
            ("revision", Some(r)) => format!(
                "{} n° {} — {}",
                esc(event_fr(&e.event)),
                r.number,
                author_html(&r.author)
            ),
            (_, Some(r)) => format!("{} (version n° {})", esc(event_fr(&e.event)), r.number),
            _ => esc(event_fr(&e.event)),
        };
        let reason = e
            .reason
            .as_deref()
            .map(|r| format!(r#"<br><span class="reason">Motif : {}</span>"#, esc(r)))
            .unwrap_or_default();
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{what}{reason}</td><td>{}</td></tr>",
            esc(&fmt_ts(&e.at)),
            esc(&e.user_name)
        ));
    }
    body.push_str(&format!(
        r#"<section aria-labelledby="h-hist"><h2 id="h-hist">Historique</h2><div class="table-wrap"><table class="list" id="history">
<thead><tr><th scope="col">Date</th><th scope="col">Événement</th><th scope="col">Par</th></tr></thead><tbody>{rows}</tbody></table></div></section>"#
    ));
    html(status, page(&view.title, Some(sess), "/documents", &body))
}

/// After a refused action, the document page again with the reason (or an error page when the
/// document cannot be read).
async fn refused(state: &AppState, sess: &WebSession, id: i64, p: crate::Problem) -> Response {
    let msg = fr_message(p.status, &p.detail);
    match load(state, sess, id).await {
        Ok((view, revs, events)) => document_page(
            state,
            sess,
            p.status,
            &view,
            &revs,
            &events,
            None,
            Some(&msg),
        ),
        Err(_) => super::html::error_page(p.status, Some(sess), &msg),
    }
}

// ---------------------------------------------------------------------------------------------
// Editing and workflow actions

pub(crate) async fn edit_form(
    State(state): State<AppState>,
    sess: WebSession,
    WebPath(id): WebPath,
) -> Response {
    if let Some(r) = forbidden_writer(&sess) {
        return r;
    }
    let store = state.store.clone();
    let actor = sess.actor.clone();
    match blocking(move || store.get_document(&actor, id)).await {
        Ok(view) => edit_page(
            &sess,
            StatusCode::OK,
            &view,
            &view.current_revision.text,
            None,
        ),
        Err(p) => problem_page(p, &sess),
    }
}

fn edit_page(
    sess: &WebSession,
    status: StatusCode,
    view: &DocumentView,
    text: &str,
    error: Option<&str>,
) -> Response {
    let cur = &view.current_revision;
    let note = if cur.author.is_model() {
        r#"<div class="alert alert-machine" role="note"><p><strong>Texte généré par un modèle — à valider.</strong> Corrigez-le : vos modifications seront enregistrées comme une version rédigée par vous.</p></div>"#
    } else {
        ""
    };
    let review = if view.state == DocState::InReview {
        r#"<p class="hint">Ce document est en relecture : la nouvelle version devra être validée à son tour.</p>"#
    } else if view.state == DocState::Validated {
        r#"<p class="hint">Ce document est validé : une nouvelle version le fera repasser en brouillon.</p>"#
    } else {
        ""
    };
    let body = format!(
        r#"<nav class="crumbs" aria-label="Fil d'Ariane"><a href="/documents">Documents</a> › <a href="/documents/{id}">Document n° {id}</a> › Modifier</nav>
<h1>Modifier « {title} »</h1>
{err}{note}{review}
<form method="post" action="/documents/{id}/modifier" class="stack wide">
{csrf}<input type="hidden" name="base_revision_id" value="{rid}">
<div class="field"><label for="text">Texte (à partir de la version n° {num})</label><textarea id="text" name="text" rows="20" required>{text}</textarea></div>
<div class="buttons"><button type="submit" class="primary" id="btn-save">Enregistrer la nouvelle version</button> <a href="/documents/{id}">Annuler</a></div>
</form>"#,
        id = view.id,
        title = esc(&view.title),
        err = error_banner(error),
        csrf = csrf_field(sess),
        rid = cur.id,
        num = cur.number,
        text = esc(text),
    );
    html(
        status,
        page("Modifier le document", Some(sess), "/documents", &body),
    )
}

#[derive(Deserialize)]
pub(crate) struct ReviseForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    text: String,
    base_revision_id: Option<i64>,
}

pub(crate) async fn revise(
    State(state): State<AppState>,
    WebPath(id): WebPath,
    CheckedForm { sess, form: f }: CheckedForm<ReviseForm>,
) -> Response {
    let text = textarea(&f.text);
    let store = state.store.clone();
    let actor = sess.actor.clone();
    let t = text.clone();
    match blocking(move || store.add_revision(&actor, id, &t, None, f.base_revision_id)).await {
        Ok(_) => Redirect::to(&format!("/documents/{id}?msg=revised")).into_response(),
        Err(p) => {
            let msg = fr_message(p.status, &p.detail);
            let store = state.store.clone();
            let actor = sess.actor.clone();
            match blocking(move || store.get_document(&actor, id)).await {
                // Keep what the person typed, so nothing is lost on a conflict.
                Ok(view) => edit_page(&sess, p.status, &view, &text, Some(&msg)),
                Err(_) => super::html::error_page(p.status, Some(&sess), &msg),
            }
        }
    }
}

pub(crate) async fn submit(
    State(state): State<AppState>,
    WebPath(id): WebPath,
    CheckedForm { sess, form: _ }: CheckedForm<CsrfOnly>,
) -> Response {
    let store = state.store.clone();
    let actor = sess.actor.clone();
    match blocking(move || store.submit(&actor, id)).await {
        Ok(_) => Redirect::to(&format!("/documents/{id}?msg=submitted")).into_response(),
        Err(p) => refused(&state, &sess, id, p).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct ValidateForm {
    #[serde(default)]
    csrf: String,
    revision_id: Option<i64>,
}

pub(crate) async fn validate(
    State(state): State<AppState>,
    WebPath(id): WebPath,
    CheckedForm { sess, form: f }: CheckedForm<ValidateForm>,
) -> Response {
    let Some(rev) = f.revision_id else {
        return super::html::error_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&sess),
            "La version à valider n'est pas indiquée : rechargez le document puis validez-le.",
        );
    };
    let store = state.store.clone();
    let actor = sess.actor.clone();
    match blocking(move || store.validate(&actor, id, rev)).await {
        Ok(_) => Redirect::to(&format!("/documents/{id}?msg=validated")).into_response(),
        Err(p) => refused(&state, &sess, id, p).await,
    }
}

#[derive(Deserialize)]
pub(crate) struct RejectForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    reason: String,
}

pub(crate) async fn reject(
    State(state): State<AppState>,
    WebPath(id): WebPath,
    CheckedForm { sess, form: f }: CheckedForm<RejectForm>,
) -> Response {
    let store = state.store.clone();
    let actor = sess.actor.clone();
    let reason = textarea(&f.reason);
    match blocking(move || store.reject(&actor, id, &reason)).await {
        Ok(_) => Redirect::to(&format!("/documents/{id}?msg=rejected")).into_response(),
        Err(p) => refused(&state, &sess, id, p).await,
    }
}

// ---------------------------------------------------------------------------------------------
// Print and FHIR (validated documents only; the store refuses otherwise)

pub(crate) async fn print(
    State(state): State<AppState>,
    sess: WebSession,
    WebPath(id): WebPath,
) -> Response {
    let store = state.store.clone();
    let actor = sess.actor.clone();
    let view = match blocking(move || store.export_document(&actor, id, "print")).await {
        Ok(v) => v,
        Err(p) => return problem_page(p, &sess),
    };
    let v = view.validation.as_ref();
    let machine_author = v.and_then(|v| v.machine_author.as_ref());
    let ai = match (machine_author, v.and_then(|v| v.edit_distance)) {
        (Some(model), Some(d)) => format!(
            r#"<p class="ai-note">Rédigé avec l'aide du modèle {} (version {}), puis relu, modifié ({:.0} % réécrit) et validé par un professionnel de santé.</p>"#,
            esc(&model.model),
            esc(&model.version),
            (d * 100.0).min(100.0)
        ),
        _ => String::new(),
    };
    let body = format!(
        r#"<div class="print-tools no-print"><a href="/documents/{id}">← Retour au document</a> <button type="button" class="primary" data-print id="btn-do-print">Imprimer</button></div>
<article class="printable">
<header><p class="kind">{kind}</p><h1>{title}</h1><p>Patient : <code>{pref}</code></p></header>
<div class="doc-text">{text}</div>
<footer class="signature">
<p>Validé par <strong>{validator}</strong> le {at}.</p>
{ai}
<p class="muted small">Document n° {id}, version {rid}, empreinte SHA-256 {sha}</p>
</footer>
</article>"#,
        id = view.id,
        kind = esc(view.kind.label_fr()),
        title = esc(&view.title),
        pref = esc(&view.patient_ref),
        text = esc(&view.current_revision.text),
        validator = esc(v.map(|v| v.validator_name.as_str()).unwrap_or("")),
        at = esc(&v.map(|v| fmt_ts(&v.validated_at)).unwrap_or_default()),
        rid = view.current_revision.id,
        sha = esc(&view.current_revision.text_sha256),
    );
    html(
        StatusCode::OK,
        page(&view.title, Some(&sess), "/documents", &body),
    )
}

pub(crate) async fn fhir(
    State(state): State<AppState>,
    sess: WebSession,
    WebPath(id): WebPath,
) -> Response {
    // The API's export (same checks, same audit entry, same bundle), offered as a download.
    let actor = sess.actor.clone();
    match crate::documents::fhir(
        State(state),
        crate::auth::Auth(actor),
        crate::problem::ApiPath(id),
    )
    .await
    {
        Ok(mut resp) => {
            if let Ok(v) =
                HeaderValue::from_str(&format!("attachment; filename=\"document-{id}-fhir.json\""))
            {
                resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
        Err(p) => problem_page(p, &sess),
    }
}

super::csrf_forms!(NewForm, RejectForm, ReviseForm, ValidateForm);
