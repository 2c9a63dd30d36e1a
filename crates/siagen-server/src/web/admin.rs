//! Administration: accounts and roles, API tokens (secret shown once), and the audit trail for
//! auditors (recent entries, verification, JSON-lines export). The store checks every role;
//! the pages only show each section to those who may use it.

use super::html::{
    csrf_field, error_banner, error_page, esc, flash, fmt_ts, fr_message, html, page, role_fr,
    roles_fr,
};
use super::CsrfOnly;
use super::{problem_page, CheckedForm, WebPath, WebSession};
use crate::{blocking, AppState};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;
use siagen_store::{NewUser, Role, Roles, TokenInfo, User};

fn is_admin(s: &WebSession) -> bool {
    s.actor.roles.has(Role::Admin)
}

fn is_auditor(s: &WebSession) -> bool {
    s.actor.roles.has(Role::Auditor)
}

#[derive(Deserialize, Default)]
pub(crate) struct MsgQuery {
    msg: Option<String>,
}

/// What to show on top of the page after a POST that did not redirect.
#[derive(Default)]
struct Extra<'a> {
    error: Option<&'a str>,
    new_token: Option<(&'a TokenInfo, &'a str)>,
    new_name: &'a str,
}

fn role_checkboxes(prefix: &str, roles: Roles) -> String {
    let mut out = String::new();
    for r in Role::ALL {
        let checked = if roles.has(r) { " checked" } else { "" };
        out.push_str(&format!(
            r#"<label class="check"><input type="checkbox" name="role_{r}" value="1" id="{prefix}-{r}"{checked}> {fr}</label>"#,
            r = r.as_str(),
            fr = role_fr(r)
        ));
    }
    out
}

async fn admin_page(
    state: &AppState,
    sess: &WebSession,
    status: StatusCode,
    msg: Option<&str>,
    extra: Extra<'_>,
) -> Response {
    if !is_admin(sess) && !is_auditor(sess) {
        return error_page(
            StatusCode::FORBIDDEN,
            Some(sess),
            "L'administration est réservée aux administrateurs et aux auditeurs.",
        );
    }
    let mut body = String::from("<h1>Administration</h1>");
    body.push_str(&flash(msg));
    body.push_str(&error_banner(extra.error));
    if let Some((t, secret)) = extra.new_token {
        body.push_str(&format!(
            r#"<div class="alert alert-ok" role="status" id="new-token"><p><strong>Jeton n° {} créé pour {}.</strong> Copiez-le maintenant : il ne sera plus jamais affiché.</p>
<p><code class="secret" id="token-secret">{}</code> <button type="button" data-copy="token-secret">Copier</button></p></div>"#,
            t.id,
            esc(&t.user_name),
            esc(secret)
        ));
    }
    if is_admin(sess) {
        let store = state.store.clone();
        let actor = sess.actor.clone();
        let (users, tokens) = match blocking(move || {
            Ok((store.list_users(&actor)?, store.list_tokens(&actor, None)?))
        })
        .await
        {
            Ok(v) => v,
            Err(p) => return problem_page(p, sess),
        };
        body.push_str(&users_html(sess, &users, extra.new_name));
        body.push_str(&tokens_html(sess, &users, &tokens));
    }
    if is_auditor(sess) {
        body.push_str(
            r#"<section aria-labelledby="h-audit"><h2 id="h-audit">Journal d'audit</h2>
<p>Consultez les entrées récentes, vérifiez l'intégrité de la chaîne (empreintes et points de contrôle signés) ou exportez-la.</p>
<p><a class="button" href="/admin/journal" id="link-journal">Ouvrir le journal d'audit</a> <a class="button" href="/admin/journal/verifier" id="link-verify">Vérifier l'intégrité</a></p></section>"#,
        );
    }
    html(status, page("Administration", Some(sess), "/admin", &body))
}

fn users_html(sess: &WebSession, users: &[User], new_name: &str) -> String {
    let mut rows = String::new();
    for u in users {
        let me = sess.actor.user_id == Some(u.id);
        let status = if u.disabled {
            r#"<span class="badge state-rejected">désactivé</span>"#
        } else {
            r#"<span class="badge state-validated">actif</span>"#
        };
        let toggle = if me {
            r#"<span class="muted">(votre compte)</span>"#.to_string()
        } else {
            format!(
                r#"<form method="post" action="/admin/utilisateurs/{id}/etat" class="inline">{csrf}<input type="hidden" name="disabled" value="{v}"><button type="submit" class="{cls}">{label}</button></form>"#,
                id = u.id,
                csrf = csrf_field(sess),
                v = if u.disabled { "0" } else { "1" },
                cls = if u.disabled { "" } else { "danger" },
                label = if u.disabled {
                    format!("Réactiver {}", esc(&u.name))
                } else {
                    format!("Désactiver {}", esc(&u.name))
                }
            )
        };
        rows.push_str(&format!(
            r#"<tr id="user-{name}"><td>{name}</td><td>
<form method="post" action="/admin/utilisateurs/{id}/roles" class="roles-form" aria-label="Rôles de {name}">{csrf}
<fieldset><legend class="sr-only">Rôles de {name}</legend>{boxes}</fieldset><button type="submit">Enregistrer les rôles</button></form></td>
<td>{status}</td><td>{created}</td><td>{toggle}</td></tr>"#,
            id = u.id,
            name = esc(&u.name),
            csrf = csrf_field(sess),
            boxes = role_checkboxes(&format!("u{}", u.id), u.roles),
            created = esc(&fmt_ts(&u.created_at)),
        ));
    }
    format!(
        r#"<section aria-labelledby="h-users"><h2 id="h-users">Comptes et rôles</h2>
<div class="table-wrap"><table class="list" id="users"><thead><tr><th scope="col">Identifiant</th><th scope="col">Rôles</th><th scope="col">État</th><th scope="col">Créé le</th><th scope="col">Action</th></tr></thead><tbody>{rows}</tbody></table></div>
<h3>Créer un compte</h3>
<form method="post" action="/admin/utilisateurs" class="stack">{csrf}
<div class="field"><label for="new-name">Identifiant</label><input id="new-name" name="name" type="text" required maxlength="64" pattern="[a-z0-9._\-]{{2,64}}" aria-describedby="new-name-hint" value="{new_name}" autocomplete="off" spellcheck="false">
<p class="hint" id="new-name-hint">2 à 64 caractères parmi a-z, 0-9, « . », « _ » et « - ».</p></div>
<div class="field"><label for="new-password">Mot de passe initial</label><input id="new-password" name="password" type="password" required minlength="12" autocomplete="new-password" aria-describedby="new-password-hint">
<p class="hint" id="new-password-hint">Au moins 12 caractères ; à transmettre à la personne par un canal sûr.</p></div>
<fieldset class="field"><legend>Rôles</legend>{boxes}</fieldset>
<div class="buttons"><button type="submit" class="primary" id="btn-create-user">Créer le compte</button></div>
</form></section>"#,
        csrf = csrf_field(sess),
        new_name = esc(new_name),
        boxes = role_checkboxes("new", Roles::NONE),
    )
}

fn tokens_html(sess: &WebSession, users: &[User], tokens: &[TokenInfo]) -> String {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut rows = String::new();
    for t in tokens {
        let state = if t.revoked_at.is_some() {
            r#"<span class="badge state-rejected">révoqué</span>"#.to_string()
        } else if t.expires_at.as_ref().is_some_and(|e| *e <= now) {
            r#"<span class="badge state-draft">expiré</span>"#.to_string()
        } else {
            r#"<span class="badge state-validated">actif</span>"#.to_string()
        };
        let action = if t.revoked_at.is_none() {
            format!(
                r#"<form method="post" action="/admin/jetons/{}/revoquer" class="inline">{}<button type="submit" class="danger">Révoquer le jeton n° {}</button></form>"#,
                t.id,
                csrf_field(sess),
                t.id
            )
        } else {
            String::new()
        };
        rows.push_str(&format!(
            r#"<tr id="token-{id}"><td>{id}</td><td>{user}</td><td>{label}</td><td>{created}</td><td>{expires}</td><td>{state}</td><td>{action}</td></tr>"#,
            id = t.id,
            user = esc(&t.user_name),
            label = esc(&t.label),
            created = esc(&fmt_ts(&t.created_at)),
            expires = esc(&t.expires_at.as_deref().map(fmt_ts).unwrap_or_else(|| "jamais".into())),
        ));
    }
    let table = if tokens.is_empty() {
        r#"<p class="empty-list">Aucun jeton.</p>"#.to_string()
    } else {
        format!(
            r#"<div class="table-wrap"><table class="list" id="tokens"><thead><tr><th scope="col">N°</th><th scope="col">Compte</th><th scope="col">Libellé</th><th scope="col">Créé le</th><th scope="col">Expire le</th><th scope="col">État</th><th scope="col">Action</th></tr></thead><tbody>{rows}</tbody></table></div>"#
        )
    };
    let mut opts = String::new();
    for u in users.iter().filter(|u| !u.disabled) {
        opts.push_str(&format!(
            r#"<option value="{}">{} ({})</option>"#,
            u.id,
            esc(&u.name),
            esc(&roles_fr(u.roles))
        ));
    }
    format!(
        r#"<section aria-labelledby="h-tokens"><h2 id="h-tokens">Jetons d'API</h2>{table}
<h3>Créer un jeton</h3>
<form method="post" action="/admin/jetons" class="stack">{csrf}
<div class="field"><label for="tok-user">Compte</label><select id="tok-user" name="user_id" required>{opts}</select></div>
<div class="field"><label for="tok-label">Libellé (usage du jeton)</label><input id="tok-label" name="label" type="text" maxlength="200" required></div>
<div class="field narrow"><label for="tok-days">Durée de validité en jours (vide : sans expiration)</label><input id="tok-days" name="days" type="number" min="1" max="3650" inputmode="numeric"></div>
<div class="buttons"><button type="submit" class="primary" id="btn-create-token">Créer le jeton</button></div>
</form></section>"#,
        csrf = csrf_field(sess),
    )
}

pub(crate) async fn index(
    State(state): State<AppState>,
    sess: WebSession,
    Query(q): Query<MsgQuery>,
) -> Response {
    admin_page(
        &state,
        &sess,
        StatusCode::OK,
        q.msg.as_deref(),
        Extra::default(),
    )
    .await
}

async fn fail(state: &AppState, sess: &WebSession, p: crate::Problem, new_name: &str) -> Response {
    let msg = fr_message(p.status, &p.detail);
    admin_page(
        state,
        sess,
        p.status,
        None,
        Extra {
            error: Some(&msg),
            new_name,
            ..Extra::default()
        },
    )
    .await
}

fn roles_from(f: &RoleBoxes) -> Roles {
    let mut r = Roles::NONE;
    for (on, role) in [
        (&f.role_admin, Role::Admin),
        (&f.role_clinician, Role::Clinician),
        (&f.role_validator, Role::Validator),
        (&f.role_auditor, Role::Auditor),
    ] {
        if on.is_some() {
            r = r.with(role);
        }
    }
    r
}

#[derive(Deserialize)]
pub(crate) struct RoleBoxes {
    role_admin: Option<String>,
    role_clinician: Option<String>,
    role_validator: Option<String>,
    role_auditor: Option<String>,
}

#[derive(Deserialize)]
pub(crate) struct CreateUserForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(flatten)]
    roles: RoleBoxes,
}

pub(crate) async fn create_user(
    State(state): State<AppState>,
    CheckedForm { sess, form: f }: CheckedForm<CreateUserForm>,
) -> Response {
    let roles = roles_from(&f.roles);
    let name = f.name.trim().to_string();
    if roles.is_empty() {
        let p = crate::Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            "at least one role is needed",
        );
        return fail(&state, &sess, p, &name).await;
    }
    let store = state.store.clone();
    let actor = sess.actor.clone();
    let new = NewUser {
        name: name.clone(),
        password: f.password,
        roles,
    };
    match blocking(move || store.create_user(&actor, new)).await {
        Ok(_) => Redirect::to("/admin?msg=user_created").into_response(),
        Err(p) => fail(&state, &sess, p, &name).await,
    }
}

/// An account's name from its id (the URL carries ids only). Administrators only.
async fn user_by_id(state: &AppState, sess: &WebSession, id: i64) -> Result<User, crate::Problem> {
    let store = state.store.clone();
    let actor = sess.actor.clone();
    blocking(move || {
        store.authorize(&actor, "user.list", "user:?", |a| a.require(Role::Admin))?;
        store
            .list_users(&actor)?
            .into_iter()
            .find(|u| u.id == id)
            .ok_or_else(|| siagen_store::StoreError::NotFound(format!("no user with id {id}")))
    })
    .await
}

#[derive(Deserialize)]
pub(crate) struct SetRolesForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    roles: RoleBoxes,
}

pub(crate) async fn set_roles(
    State(state): State<AppState>,
    WebPath(id): WebPath,
    CheckedForm { sess, form: f }: CheckedForm<SetRolesForm>,
) -> Response {
    let user = match user_by_id(&state, &sess, id).await {
        Ok(u) => u,
        Err(p) => return fail(&state, &sess, p, "").await,
    };
    let roles = roles_from(&f.roles);
    if sess.actor.user_id == Some(id) && !roles.has(Role::Admin) {
        let msg = "Vous ne pouvez pas retirer votre propre rôle d'administrateur : demandez-le à un autre administrateur.";
        return admin_page(
            &state,
            &sess,
            StatusCode::CONFLICT,
            None,
            Extra {
                error: Some(msg),
                ..Extra::default()
            },
        )
        .await;
    }
    let store = state.store.clone();
    let actor = sess.actor.clone();
    match blocking(move || store.set_user_roles(&actor, &user.name, roles)).await {
        Ok(_) => Redirect::to("/admin?msg=roles_set").into_response(),
        Err(p) => fail(&state, &sess, p, "").await,
    }
}

#[derive(Deserialize)]
pub(crate) struct DisableForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    disabled: String,
}

pub(crate) async fn set_disabled(
    State(state): State<AppState>,
    WebPath(id): WebPath,
    CheckedForm { sess, form: f }: CheckedForm<DisableForm>,
) -> Response {
    let disabled = f.disabled == "1";
    if disabled && sess.actor.user_id == Some(id) {
        let msg = "Vous ne pouvez pas désactiver votre propre compte.";
        return admin_page(
            &state,
            &sess,
            StatusCode::CONFLICT,
            None,
            Extra {
                error: Some(msg),
                ..Extra::default()
            },
        )
        .await;
    }
    let user = match user_by_id(&state, &sess, id).await {
        Ok(u) => u,
        Err(p) => return fail(&state, &sess, p, "").await,
    };
    let store = state.store.clone();
    let actor = sess.actor.clone();
    match blocking(move || store.set_user_disabled(&actor, &user.name, disabled)).await {
        Ok(_) => Redirect::to(if disabled {
            "/admin?msg=user_disabled"
        } else {
            "/admin?msg=user_enabled"
        })
        .into_response(),
        Err(p) => fail(&state, &sess, p, "").await,
    }
}

#[derive(Deserialize)]
pub(crate) struct CreateTokenForm {
    #[serde(default)]
    csrf: String,
    user_id: Option<i64>,
    #[serde(default)]
    label: String,
    #[serde(default)]
    days: String,
}

pub(crate) async fn create_token(
    State(state): State<AppState>,
    CheckedForm { sess, form: f }: CheckedForm<CreateTokenForm>,
) -> Response {
    let days = match f.days.trim() {
        "" => None,
        d => match d.parse::<i64>() {
            Ok(n) if (1..=3650).contains(&n) => Some(n),
            _ => {
                let msg = "Durée de validité invalide : indiquez un nombre de jours entre 1 et 3650, ou laissez vide.";
                return admin_page(
                    &state,
                    &sess,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Extra {
                        error: Some(msg),
                        ..Extra::default()
                    },
                )
                .await;
            }
        },
    };
    let label = f.label.trim().to_string();
    if label.is_empty() || label.chars().count() > 200 {
        let msg = "Indiquez un libellé de 1 à 200 caractères (à quoi sert ce jeton).";
        return admin_page(
            &state,
            &sess,
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            Extra {
                error: Some(msg),
                ..Extra::default()
            },
        )
        .await;
    }
    let user = match user_by_id(&state, &sess, f.user_id.unwrap_or(-1)).await {
        Ok(u) => u,
        Err(p) => return fail(&state, &sess, p, "").await,
    };
    let store = state.store.clone();
    let actor = sess.actor.clone();
    let expires = days.map(|d| chrono::Utc::now() + chrono::Duration::days(d));
    match blocking(move || store.create_token(&actor, &user.name, &label, expires)).await {
        // Shown once, in this very response (never stored, never in a URL).
        Ok((info, secret)) => {
            admin_page(
                &state,
                &sess,
                StatusCode::OK,
                None,
                Extra {
                    new_token: Some((&info, &secret)),
                    ..Extra::default()
                },
            )
            .await
        }
        Err(p) => fail(&state, &sess, p, "").await,
    }
}

pub(crate) async fn revoke_token(
    State(state): State<AppState>,
    WebPath(id): WebPath,
    CheckedForm { sess, form: _ }: CheckedForm<CsrfOnly>,
) -> Response {
    let store = state.store.clone();
    let actor = sess.actor.clone();
    match blocking(move || store.revoke_token(&actor, id)).await {
        Ok(()) => Redirect::to("/admin?msg=token_revoked").into_response(),
        Err(p) => fail(&state, &sess, p, "").await,
    }
}

// ---------------------------------------------------------------------------------------------
// Audit trail (auditors)

/// Most entries read for one page or export.
const AUDIT_READ_LIMIT: i64 = 10_000;
/// Most entries shown on the page (the newest).
const AUDIT_SHOWN: usize = 300;

#[derive(Deserialize, Default)]
pub(crate) struct JournalQuery {
    depuis: Option<String>,
}

fn since_of(q: &JournalQuery) -> Result<String, ()> {
    match q.depuis.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok((chrono::Utc::now() - chrono::Duration::days(1))
            .format("%Y-%m-%d")
            .to_string()),
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
            .map(|d| d.format("%Y-%m-%d").to_string())
            .map_err(|_| ()),
    }
}

/// Entries since the query's date (an audited read), or the error page to answer with.
async fn read_entries(
    state: &AppState,
    sess: &WebSession,
    q: &JournalQuery,
    format: &'static str,
) -> Result<(String, Vec<siagen_store::AuditEntry>), Response> {
    let Ok(since) = since_of(q) else {
        return Err(error_page(
            StatusCode::BAD_REQUEST,
            Some(sess),
            "Date invalide : utilisez le format AAAA-MM-JJ.",
        ));
    };
    let store = state.store.clone();
    let actor = sess.actor.clone();
    let day = since.clone();
    blocking(move || {
        store.authorize(&actor, "audit.read", "audit", |a| a.require(Role::Auditor))?;
        store.audit_event(
            &actor.audit_label(),
            "audit.read",
            "audit",
            "ok",
            json!({ "since": since, "limit": AUDIT_READ_LIMIT, "via": format }),
        )?;
        store.audit_entries(Some(&since), Some(AUDIT_READ_LIMIT))
    })
    .await
    .map(|entries| (day, entries))
    .map_err(|p| problem_page(p, sess))
}

pub(crate) async fn journal(
    State(state): State<AppState>,
    sess: WebSession,
    Query(q): Query<JournalQuery>,
) -> Response {
    if !is_auditor(&sess) {
        return error_page(
            StatusCode::FORBIDDEN,
            Some(&sess),
            "Le journal d'audit est réservé aux auditeurs.",
        );
    }
    let (since, entries) = match read_entries(&state, &sess, &q, "web").await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let mut rows = String::new();
    for e in entries.iter().rev().take(AUDIT_SHOWN) {
        let outcome_cls = if e.outcome == "ok" {
            ""
        } else {
            " class=\"warn\""
        };
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td{outcome_cls}>{}</td><td><code class=\"details\">{}</code></td></tr>",
            e.seq,
            esc(&fmt_ts(&e.ts)),
            esc(&e.actor),
            esc(&e.action),
            esc(&e.target),
            esc(&e.outcome),
            esc(&e.details.to_string()),
        ));
    }
    let shown = entries.len().min(AUDIT_SHOWN);
    let body = format!(
        r#"<nav class="crumbs" aria-label="Fil d'Ariane"><a href="/admin">Administration</a> › Journal d'audit</nav>
<h1>Journal d'audit</h1>
<form method="get" action="/admin/journal" class="filters">
<div class="field"><label for="depuis">Depuis le</label><input id="depuis" name="depuis" type="date" value="{since}"></div>
<div class="field actions-inline"><button type="submit">Afficher</button></div>
</form>
<p><a class="button" href="/admin/journal/verifier" id="link-verify">Vérifier l'intégrité</a> <a class="button" href="/admin/journal/export?depuis={since}" download id="link-export">Exporter (JSON lines)</a></p>
<p class="count">{total} entrée(s) depuis le {since} ; {shown} plus récente(s) affichée(s), de la plus récente à la plus ancienne. Les acteurs et cibles sont des identifiants, jamais des noms.</p>
<div class="table-wrap"><table class="list audit" id="audit"><thead><tr><th scope="col">N°</th><th scope="col">Horodatage</th><th scope="col">Acteur</th><th scope="col">Action</th><th scope="col">Cible</th><th scope="col">Résultat</th><th scope="col">Détails</th></tr></thead><tbody>{rows}</tbody></table></div>"#,
        since = esc(&since),
        total = entries.len(),
    );
    html(
        StatusCode::OK,
        page("Journal d'audit", Some(&sess), "/admin", &body),
    )
}

pub(crate) async fn verify(State(state): State<AppState>, sess: WebSession) -> Response {
    let store = state.store.clone();
    let actor = sess.actor.clone();
    let report = match blocking(move || {
        store.authorize(&actor, "audit.verify", "audit", |a| {
            a.require(Role::Auditor)
        })?;
        store.audit_verify()
    })
    .await
    {
        Ok(r) => r,
        Err(p) => return problem_page(p, &sess),
    };
    let key = state.store.audit_public_key();
    let verdict = match &report.problem {
        None => format!(
            r#"<div class="alert alert-ok" role="status" id="verify-ok"><p><strong>Journal intègre.</strong> {} entrées et {} points de contrôle signés vérifiés.</p></div>"#,
            report.entries, report.checkpoints
        ),
        Some(p) => format!(
            r#"<div class="alert alert-error" role="alert" id="verify-bad"><p><strong>Journal altéré</strong> à l'entrée n° {} ({}) : {}</p><p>Conservez une copie de la base et prévenez le responsable de la sécurité.</p></div>"#,
            p.seq,
            esc(&p.kind),
            esc(&p.message)
        ),
    };
    let body = format!(
        r#"<nav class="crumbs" aria-label="Fil d'Ariane"><a href="/admin">Administration</a> › <a href="/admin/journal">Journal d'audit</a> › Vérification</nav>
<h1>Vérification du journal d'audit</h1>{verdict}
<p>Clé publique de signature (à conserver hors du serveur) : <code class="secret">{}</code></p>"#,
        esc(&key)
    );
    html(
        StatusCode::OK,
        page("Vérification du journal", Some(&sess), "/admin", &body),
    )
}

pub(crate) async fn export(
    State(state): State<AppState>,
    sess: WebSession,
    Query(q): Query<JournalQuery>,
) -> Response {
    let (since, entries) = match read_entries(&state, &sess, &q, "jsonl").await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let mut out = String::new();
    for e in &entries {
        match serde_json::to_string(e) {
            Ok(line) => {
                out.push_str(&line);
                out.push('\n');
            }
            Err(err) => return problem_page(crate::Problem::internal(&err), &sess),
        }
    }
    (
        [
            (header::CONTENT_TYPE, "application/x-ndjson".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"audit-depuis-{since}.jsonl\""),
            ),
        ],
        out,
    )
        .into_response()
}

super::csrf_forms!(CreateTokenForm, CreateUserForm, DisableForm, SetRolesForm);
