//! « Énergie »: energy and CO2e of the generations per day, per model and per user, as bar
//! charts drawn here in SVG (no script, no library), each with its table, and the method note
//! (measured vs estimated). The store decides what each person sees: administrators and
//! auditors all generations, everyone else their own.

use super::html::{esc, html, page};
use super::{problem_page, WebSession};
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use siagen_store::{EnergyBy, EnergyRow, Role};

const TITLE: &str = "Énergie";

#[derive(Deserialize)]
pub(crate) struct EnergyQuery {
    #[serde(default)]
    periode: Option<String>,
}

/// Fixed periods offered (code, label, days).
const PERIODS: &[(&str, &str, Option<i64>)] = &[
    ("7", "7 derniers jours", Some(7)),
    ("30", "30 derniers jours", Some(30)),
    ("365", "12 derniers mois", Some(365)),
    ("tout", "Depuis le début", None),
];

/// A number with a French decimal comma. A value that rounds to zero is written 0, never
/// « -0,0000 » (negative zero, or a tiny negative share of idle energy).
fn num(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    let s = match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => s,
    };
    s.replace('.', ",")
}

fn decimals(max: f64) -> usize {
    if max >= 100.0 {
        0
    } else if max >= 1.0 {
        2
    } else {
        4
    }
}

/// A horizontal bar chart of Wh per key, with CO2e in each label (markup).
fn chart(id: &str, caption: &str, rows: &[EnergyRow]) -> String {
    const LABEL_W: f64 = 170.0;
    const BAR_W: f64 = 400.0;
    const VALUE_W: f64 = 210.0;
    const ROW_H: f64 = 28.0;
    const TOP: f64 = 8.0;
    let width = LABEL_W + BAR_W + VALUE_W;
    let height = TOP * 2.0 + ROW_H * rows.len() as f64;
    let max = rows.iter().map(|r| r.wh).fold(0.0f64, f64::max);
    let d = decimals(max);
    let mut out = format!(
        r#"<figure class="chart"><svg id="{id}" class="bars" role="img" aria-labelledby="{id}-title" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" xmlns="http://www.w3.org/2000/svg"><title id="{id}-title">{caption}</title>"#,
        caption = esc(caption)
    );
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let w = if max > 0.0 {
            (r.wh / max * BAR_W).max(1.0)
        } else {
            1.0
        };
        let class = if r.measured >= r.generations && r.generations > 0 {
            "bar measured"
        } else if r.measured > 0 {
            "bar mixed"
        } else {
            "bar estimated"
        };
        let key: String = if r.key.chars().count() > 24 {
            format!("{}…", r.key.chars().take(23).collect::<String>())
        } else {
            r.key.clone()
        };
        out.push_str(&format!(
            r#"<g><text class="bar-key" x="{lx}" y="{ty}" text-anchor="end">{key}</text><rect class="{class}" x="{LABEL_W}" y="{ry}" width="{w:.1}" height="{bh}" rx="2"><title>{full} : {wh} Wh, {co2} g CO2e</title></rect><text class="bar-value" x="{vx:.1}" y="{ty}">{wh} Wh · {co2} g CO2e</text></g>"#,
            lx = LABEL_W - 8.0,
            ty = y + ROW_H / 2.0 + 4.0,
            ry = y + 4.0,
            bh = ROW_H - 8.0,
            key = esc(&key),
            full = esc(&r.key),
            vx = LABEL_W + w + 6.0,
            wh = num(r.wh, d),
            co2 = num(r.co2e_g, decimals(r.co2e_g.max(max))),
        ));
    }
    out.push_str(&format!(
        r#"</svg><figcaption class="muted">{}</figcaption></figure>"#,
        esc(caption)
    ));
    out
}

fn table(id: &str, head: &str, rows: &[EnergyRow]) -> String {
    let max = rows.iter().map(|r| r.wh).fold(0.0f64, f64::max);
    let d = decimals(max);
    let mut out = format!(
        r#"<div class="table-wrap"><table class="list" id="{id}"><thead><tr><th scope="col">{}</th><th scope="col">Générations</th><th scope="col">Jetons</th><th scope="col">Énergie (Wh)</th><th scope="col">CO2e (g)</th><th scope="col">Mesurées</th></tr></thead><tbody>"#,
        esc(head)
    );
    for r in rows {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td></tr>",
            esc(&r.key),
            r.generations,
            r.tokens,
            num(r.wh, d),
            num(r.co2e_g, decimals(r.co2e_g.max(max))),
            r.measured,
            r.generations
        ));
    }
    out.push_str("</tbody></table></div>");
    out
}

fn section(id: &str, title: &str, head: &str, rows: &[EnergyRow]) -> String {
    let content = if rows.is_empty() {
        r#"<p class="empty-list">Aucune génération sur la période.</p>"#.to_string()
    } else {
        format!(
            "{}{}",
            chart(&format!("chart-{id}"), title, rows),
            table(&format!("table-{id}"), head, rows)
        )
    };
    format!(
        r#"<section class="energy" aria-labelledby="h-{id}"><h2 id="h-{id}">{}</h2>{content}</section>"#,
        esc(title)
    )
}

pub(crate) async fn show(
    State(state): State<AppState>,
    sess: WebSession,
    Query(q): Query<EnergyQuery>,
) -> Response {
    let code = q.periode.as_deref().unwrap_or("30");
    let (code, days) = PERIODS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(c, _, d)| (*c, *d))
        .unwrap_or(("30", Some(30)));
    let since = days.map(|d| {
        (chrono::Utc::now() - chrono::Duration::days(d))
            .format("%Y-%m-%d")
            .to_string()
    });
    let store = state.store.clone();
    let actor = sess.actor.clone();
    let result = crate::blocking(move || {
        let s = since.as_deref();
        Ok((
            store.energy_report(&actor, EnergyBy::Day, s)?,
            store.energy_report(&actor, EnergyBy::Model, s)?,
            store.energy_report(&actor, EnergyBy::User, s)?,
        ))
    })
    .await;
    let (by_day, by_model, by_user) = match result {
        Ok(r) => r,
        Err(p) => return problem_page(p, &sess),
    };
    let everyone = sess.actor.roles.has(Role::Admin) || sess.actor.roles.has(Role::Auditor);
    let scope = if everyone {
        "Toutes les générations du serveur."
    } else {
        "Vos générations uniquement (les administrateurs et auditeurs voient celles de tous)."
    };
    let mut periods = String::new();
    for (c, label, _) in PERIODS {
        let current = if *c == code {
            r#" aria-current="true" class="current""#
        } else {
            ""
        };
        periods.push_str(&format!(
            r#"<li><a href="/energie?periode={c}"{current}>{}</a></li>"#,
            esc(label)
        ));
    }
    let total_gen: i64 = by_model.iter().map(|r| r.generations).sum();
    let total_measured: i64 = by_model.iter().map(|r| r.measured).sum();
    let total_wh: f64 = by_model.iter().map(|r| r.wh).sum();
    let total_co2: f64 = by_model.iter().map(|r| r.co2e_g).sum();
    let body = format!(
        r#"<h1>Énergie et empreinte carbone</h1>
<p class="lead">Consommation électrique et émissions de CO2 équivalent des générations de texte faites sur ce serveur. {scope}</p>
<nav aria-label="Période"><ul class="periods">{periods}</ul></nav>
<p id="energy-total"><strong>{total_gen}</strong> génération{s} : <strong>{wh} Wh</strong>, <strong>{co2} g CO2e</strong> ({total_measured} mesurée{sm}, {estimated} estimée{se}).</p>
<ul class="chart-legend"><li><span class="swatch measured"></span> mesuré</li><li><span class="swatch mixed"></span> en partie mesuré</li><li><span class="swatch estimated"></span> estimé</li></ul>
{day}{model}{user}
<section class="method" aria-labelledby="h-method"><h2 id="h-method">Méthode</h2>
<p><strong>Mesuré</strong> : l'énergie vient des compteurs du matériel — processeurs (Linux powercap / RAPL) et cartes graphiques NVIDIA (NVML) — relevés pendant la génération ; quand plusieurs générations tournent en même temps, l'énergie est partagée au prorata des jetons traités.</p>
<p><strong>Estimé</strong> : sans compteur accessible, l'énergie est estimée à partir du temps de calcul et de la puissance nominale (TDP) des processeurs et des cartes graphiques ; c'est un ordre de grandeur, pas une mesure.</p>
<p><strong>CO2e</strong> = énergie (kWh) × PUE de la salle × intensité carbone du réseau électrique (France par défaut, source ADEME), selon la configuration du serveur. Seule l'électricité de la génération est comptée : ni la fabrication du matériel, ni l'entraînement des modèles.</p>
</section>"#,
        s = if total_gen > 1 { "s" } else { "" },
        sm = if total_measured > 1 { "s" } else { "" },
        estimated = total_gen - total_measured,
        se = if total_gen - total_measured > 1 {
            "s"
        } else {
            ""
        },
        wh = num(total_wh, decimals(total_wh)),
        co2 = num(total_co2, decimals(total_co2)),
        day = section("day", "Par jour (UTC)", "Jour", &by_day),
        model = section("model", "Par modèle", "Modèle", &by_model),
        user = section("user", "Par utilisateur", "Utilisateur", &by_user),
    );
    html(StatusCode::OK, page(TITLE, Some(&sess), "/energie", &body))
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_round_to_an_unsigned_zero() {
        assert_eq!(super::num(-0.0, 4), "0,0000");
        assert_eq!(super::num(-0.00001, 4), "0,0000");
        assert_eq!(super::num(-1.5, 1), "-1,5");
        assert_eq!(super::num(2.25, 2), "2,25");
        assert_eq!(super::num(0.0, 0), "0");
    }
}
