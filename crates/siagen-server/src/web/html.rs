//! HTML building blocks: escaping, the page layout and its navigation, French labels, and the
//! French wording of the store's (English) error messages.
//!
//! Every dynamic value goes through [`esc`] before it reaches a page; the few helpers that
//! return markup say so in their name or documentation.

use super::WebSession;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use siagen_meds::Severity;
use siagen_store::{DocState, Role, Roles};

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One entry of the main navigation. New workspaces (assistant, questions, pseudonymisation)
/// are added by appending an entry to [`NAV`] and merging their routes in `web::routes`.
pub(crate) struct NavItem {
    /// Path of the page.
    pub href: &'static str,
    /// French label.
    pub label: &'static str,
    /// Who sees the entry (the page itself checks again, server-side).
    pub visible: fn(Roles) -> bool,
}

pub(crate) fn clinical(r: Roles) -> bool {
    r.clinical()
}

/// A 403 page unless the person is a clinician or a validator; `what` starts the sentence
/// ("La pseudonymisation").
pub(crate) fn require_clinical(
    sess: &super::WebSession,
    what: &str,
) -> Option<axum::response::Response> {
    (!clinical(sess.actor.roles)).then(|| {
        error_page(
            axum::http::StatusCode::FORBIDDEN,
            Some(sess),
            &format!("{what} nécessite le rôle clinicien ou validateur."),
        )
    })
}

fn administrative(r: Roles) -> bool {
    r.has(Role::Admin) || r.has(Role::Auditor)
}

fn anyone(_: Roles) -> bool {
    true
}

/// The main navigation, in display order.
pub(crate) const NAV: &[NavItem] = &[
    NavItem {
        href: "/documents",
        label: "Documents",
        visible: clinical,
    },
    NavItem {
        href: "/rediger",
        label: "Rédiger",
        visible: clinical,
    },
    NavItem {
        href: "/ordonnance",
        label: "Vérifier une ordonnance",
        visible: clinical,
    },
    NavItem {
        href: "/assistant",
        label: "Assistant",
        visible: clinical,
    },
    NavItem {
        href: "/questions",
        label: "Questions au corpus",
        visible: clinical,
    },
    NavItem {
        href: "/pseudonymisation",
        label: "Pseudonymisation",
        visible: clinical,
    },
    NavItem {
        href: "/energie",
        label: "Énergie",
        visible: anyone,
    },
    NavItem {
        href: "/admin",
        label: "Administration",
        visible: administrative,
    },
];

/// A full HTML page. `body` is markup built by the caller (with every value escaped).
pub(crate) fn page(title: &str, sess: Option<&WebSession>, active: &str, body: &str) -> String {
    let mut nav = String::new();
    let mut who = String::new();
    if let Some(s) = sess {
        nav.push_str(r#"<nav aria-label="Navigation principale"><ul>"#);
        for item in NAV.iter().filter(|i| (i.visible)(s.actor.roles)) {
            let current = if item.href == active {
                r#" aria-current="page""#
            } else {
                ""
            };
            nav.push_str(&format!(
                r#"<li><a href="{}"{current}>{}</a></li>"#,
                item.href,
                esc(item.label)
            ));
        }
        nav.push_str("</ul></nav>");
        who = format!(
            r#"<div class="who"><span><span class="who-name">{}</span> <span class="who-roles">({})</span></span>
<form method="post" action="/logout" class="inline">{}<button type="submit" class="link">Se déconnecter</button></form></div>"#,
            esc(&s.actor.name),
            esc(&roles_fr(s.actor.roles)),
            csrf_field(s)
        );
    }
    format!(
        r##"<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — siagen</title>
<link rel="stylesheet" href="/assets/siagen.css">
<script src="/assets/siagen.js" defer></script>
</head>
<body>
<a class="skip" href="#contenu">Aller au contenu</a>
<header class="top">
<a class="brand" href="/">siagen<span class="brand-sub">espace de travail</span></a>
{nav}
{who}
</header>
<main id="contenu" tabindex="-1">
{body}
</main>
<footer class="foot">siagen — les textes produits par un modèle doivent être relus et validés par un professionnel de santé.</footer>
</body>
</html>
"##,
        title = esc(title),
    )
}

/// The hidden anti-CSRF field of a form (markup).
pub(crate) fn csrf_field(s: &WebSession) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(&s.csrf)
    )
}

/// An HTML response.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    resp
}

/// A page that only explains an error and what to do next.
pub(crate) fn error_page(status: StatusCode, sess: Option<&WebSession>, message: &str) -> Response {
    let title = match status {
        StatusCode::FORBIDDEN => "Action refusée",
        StatusCode::NOT_FOUND => "Introuvable",
        StatusCode::CONFLICT => "Action impossible dans l'état actuel",
        StatusCode::TOO_MANY_REQUESTS => "Trop de tentatives",
        s if s.is_server_error() => "Erreur du serveur",
        _ => "Demande invalide",
    };
    let back = if sess.is_some() {
        r#"<p><a href="/">Revenir à l'accueil</a></p>"#
    } else {
        r#"<p><a href="/login">Se connecter</a></p>"#
    };
    let body = format!(
        r#"<h1>{}</h1><div class="alert alert-error" role="alert"><p>{}</p></div>{back}"#,
        esc(title),
        esc(message)
    );
    html(status, page(title, sess, "", &body))
}

/// An error banner (markup), or nothing.
pub(crate) fn error_banner(message: Option<&str>) -> String {
    match message {
        Some(m) => format!(
            r#"<div class="alert alert-error" role="alert"><p>{}</p></div>"#,
            esc(m)
        ),
        None => String::new(),
    }
}

/// A confirmation after a redirect: `?msg=<code>` names one of these fixed messages, so no
/// free text ever travels in a URL.
pub(crate) fn flash(code: Option<&str>) -> String {
    let text = match code.unwrap_or("") {
        "created" => "Document créé (brouillon). Relisez-le puis soumettez-le à validation.",
        "revised" => "Nouvelle version enregistrée.",
        "submitted" => "Document soumis à validation.",
        "validated" => "Version validée. Le document peut maintenant être exporté ou imprimé.",
        "rejected" => "Document rejeté ; son auteur verra le motif dans l'historique.",
        "user_created" => "Compte créé.",
        "roles_set" => "Rôles enregistrés.",
        "user_disabled" => "Compte désactivé ; ses sessions sont fermées.",
        "user_enabled" => "Compte réactivé.",
        "token_revoked" => "Jeton révoqué.",
        "logged_out" => "Vous êtes déconnecté.",
        "login_required" => "Connectez-vous pour accéder à cette page.",
        "session_ended" => "Votre session a expiré ou a été fermée : reconnectez-vous.",
        _ => return String::new(),
    };
    format!(
        r#"<div class="alert alert-ok" role="status"><p>{}</p></div>"#,
        esc(text)
    )
}

/// French name of a role.
pub(crate) fn role_fr(r: Role) -> &'static str {
    match r {
        Role::Admin => "administrateur",
        Role::Clinician => "clinicien",
        Role::Validator => "validateur",
        Role::Auditor => "auditeur",
    }
}

/// French names of a set of roles, comma-separated.
pub(crate) fn roles_fr(r: Roles) -> String {
    let v: Vec<&str> = r.list().into_iter().map(role_fr).collect();
    if v.is_empty() {
        "aucun rôle".into()
    } else {
        v.join(", ")
    }
}

/// French name of a workflow state.
pub(crate) fn state_fr(s: DocState) -> &'static str {
    match s {
        DocState::Draft => "Brouillon",
        DocState::InReview => "En relecture",
        DocState::Validated => "Validé",
        DocState::Rejected => "Rejeté",
    }
}

/// A state badge (markup).
pub(crate) fn state_badge(s: DocState) -> String {
    format!(
        r#"<span class="badge state-{}">{}</span>"#,
        s.as_str(),
        state_fr(s)
    )
}

/// CSS class of a thesaurus severity.
pub(crate) fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::ContreIndication => "sev-ci",
        Severity::AssociationDeconseillee => "sev-ad",
        Severity::PrecautionEmploi => "sev-pe",
        Severity::APrendreEnCompte => "sev-pc",
    }
}

/// An RFC 3339 UTC time as French readers expect it (falls back to the raw text).
pub(crate) fn fmt_ts(ts: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(ts) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%d/%m/%Y %H:%M UTC")
            .to_string(),
        Err(_) => ts.to_string(),
    }
}

/// The store's and the API's (English) error messages, said in French with what to do next.
/// Unknown messages keep a French lead and the original detail.
pub(crate) fn fr_message(status: StatusCode, detail: &str) -> String {
    let d = detail;
    let known: &[(&str, &str)] = &[
        ("wrong user name or password", "Identifiant ou mot de passe incorrect. Vérifiez votre saisie (majuscules, clavier) puis réessayez."),
        ("this account is disabled", "Ce compte est désactivé : adressez-vous à un administrateur."),
        ("session expired", "Votre session a expiré : reconnectez-vous."),
        ("session unknown or ended", "Votre session est terminée : reconnectez-vous."),
        ("only a draft can be submitted", "Seul un brouillon peut être soumis. Si le document a été rejeté, modifiez-le d'abord."),
        ("only a document in review can be validated", "Seul un document en relecture peut être validé : rechargez la page pour voir son état actuel."),
        ("only a document in review can be rejected", "Seul un document en relecture peut être rejeté : rechargez la page pour voir son état actuel."),
        ("is not the current revision", "Le texte a changé depuis votre lecture : relisez la version actuelle avant de la valider."),
        ("you wrote or requested revision", "Vous avez rédigé (ou fait générer) cette version : un autre validateur doit la valider."),
        ("the document changed since revision", "Le document a été modifié par quelqu'un d'autre depuis que vous l'avez ouvert : rechargez-le, reportez vos changements puis enregistrez."),
        ("a rejection needs a reason", "Indiquez le motif du rejet (1 à 2000 caractères)."),
        ("title must be", "Le titre doit compter de 1 à 200 caractères."),
        ("patient_ref must be", "La référence patient doit être un pseudonyme de 1 à 64 caractères parmi A-Z, a-z, 0-9, « . », « _ », « : » et « - » — jamais un nom."),
        ("text must not be empty", "Le texte ne doit pas être vide."),
        ("text too long", "Le texte est trop long (500 000 caractères au plus)."),
        ("cannot be exported", "Ce document ne peut pas être exporté ni imprimé : sa version actuelle n'est pas validée."),
        ("invalid user name", "Identifiant invalide : de 2 à 64 caractères parmi a-z, 0-9, « . », « _ » et « - »."),
        ("password too short", "Mot de passe trop court : au moins 12 caractères."),
        ("already exists", "Un compte porte déjà cet identifiant : choisissez-en un autre."),
        ("at least one role is needed", "Cochez au moins un rôle."),
        ("is already revoked", "Ce jeton est déjà révoqué."),
        ("only an administrator may create a token for someone else", "Seul un administrateur peut créer un jeton pour un autre compte."),
        ("only an administrator or the token's owner may revoke it", "Seul un administrateur ou le titulaire du jeton peut le révoquer."),
        ("reading documents needs the clinician or validator role", "La consultation des documents nécessite le rôle clinicien ou validateur."),
        ("checking prescriptions needs the clinician or validator role", "La vérification d'ordonnance nécessite le rôle clinicien ou validateur."),
        ("needs a named person's account", "Cette action doit être faite depuis le compte nominatif d'une personne."),
        ("no document with id", "Ce document n'existe pas (ou plus)."),
        ("drugs must hold", "Saisissez de 1 à 100 lignes de médicaments."),
        ("is longer than", "Une ligne de médicament est trop longue (500 caractères au plus)."),
    ];
    if let Some((_, fr)) = known.iter().find(|(en, _)| d.contains(en)) {
        return (*fr).to_string();
    }
    if let Some(rest) = d.strip_prefix("this action needs the ") {
        if let Some(role) = rest.strip_suffix(" role") {
            if let Ok(r) = role.parse::<Role>() {
                return format!(
                    "Cette action nécessite le rôle {} : demandez-le à un administrateur si besoin.",
                    role_fr(r)
                );
            }
        }
    }
    if d.starts_with("too many failed logins") {
        let secs: String = d.chars().filter(|c| c.is_ascii_digit()).collect();
        return format!("Trop de tentatives de connexion échouées : réessayez dans {secs} s.");
    }
    if let Some(reference) = d
        .strip_prefix("internal error (reference ")
        .and_then(|r| r.split(')').next())
    {
        return format!(
            "Erreur interne du serveur (référence {reference}) : réessayez ; si elle persiste, transmettez cette référence à un administrateur."
        );
    }
    let lead = match status {
        StatusCode::NOT_FOUND => "Élément introuvable",
        StatusCode::FORBIDDEN => "Action non autorisée pour votre compte",
        StatusCode::CONFLICT => "Action impossible dans l'état actuel",
        StatusCode::UNAUTHORIZED => "Authentification nécessaire",
        _ => "Demande refusée",
    };
    format!("{lead} (détail : {d}).")
}

/// The French message of a workflow error for a page: the store's precise messages through
/// [`fr_message`], the others from the error table; an internal error is logged under a
/// correlation id that the message gives.
pub(crate) fn app_error_message(e: &siagen_app::AppError) -> String {
    use siagen_app::AppError as E;
    match e {
        E::BadRequest(d)
        | E::Invalid(d)
        | E::Forbidden(d)
        | E::NotFound(d)
        | E::Conflict(d)
        | E::Unauthenticated(d) => fr_message(
            StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST),
            d,
        ),
        E::Internal(_) => e.message_fr(Some(&crate::Problem::log_internal(e))),
        _ => e.message_fr(None),
    }
}

/// An error page for a workflow error.
pub(crate) fn app_error_page(sess: Option<&WebSession>, e: &siagen_app::AppError) -> Response {
    error_page(
        StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        sess,
        &app_error_message(e),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_that_matters() {
        assert_eq!(
            esc(r#"<script>alert('x')</script>&"#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"
        );
        assert_eq!(esc(r#"a"b"#), "a&quot;b");
    }

    #[test]
    fn french_messages() {
        assert!(
            fr_message(StatusCode::UNAUTHORIZED, "wrong user name or password")
                .starts_with("Identifiant ou mot de passe incorrect")
        );
        assert!(fr_message(
            StatusCode::FORBIDDEN,
            "this action needs the validator role"
        )
        .contains("validateur"));
        assert!(fr_message(StatusCode::CONFLICT, "weird").contains("weird"));
    }
}
