//! Names and places from chunk context: triggers (titles, fields, signatures, greetings), sequences, propagation.

use super::*;
use crate::dict::{commune_key, fold};
use crate::Label;

impl Shield {
    /// Names, initials, first names, cities from chunk context.
    pub(super) fn names_and_places(&self, text: &str, ch: &[Chunk], out: &mut Vec<Cand>) {
        let n = ch.len();
        let mut label: Vec<Option<Label>> = vec![None; n];
        let mut strong: Vec<bool> = vec![false; n];
        let mut i = 0;
        while i < n {
            let c = &ch[i];
            let particle_after_title = !c.namey()
                && c.w.particle()
                && i > 0
                && ch[i - 1].w.strong_title()
                && title_gap(gap(text, ch, i - 1))
                && i + 1 < ch.len()
                && (ch[i + 1].cap || ch[i + 1].upper || ch[i + 1].w.particle())
                && !ch[i + 1].w.title();
            if (!c.namey() && !particle_after_title) || label[i].is_some() {
                i += 1;
                continue;
            }
            // A town after "à" ("à Nancy", "à La Rochelle") or a multi-word
            // big town wins over a first-name reading.
            if c.cap || c.upper {
                let after_a = i > 0
                    && matches!(ch[i - 1].f.as_ref(), "a" | "à")
                    && gap(text, ch, i - 1) == " ";
                let worth = after_a || self.big_city_heads.contains(c.f.as_ref());
                if let Some(end) = if worth {
                    self.match_city(text, ch, i, after_a)
                } else {
                    None
                } {
                    let multi = end > i + 1;
                    let name_follows = end < ch.len()
                        && gap(text, ch, end - 1) == " "
                        && (ch[end].cap || ch[end].upper)
                        && !ch[end].w.common();
                    if (after_a || multi) && !name_follows && !self.eponym_context(ch, i) {
                        out.push(Cand {
                            s: ch[i].s,
                            e: ch[end - 1].e,
                            label: Label::Ville,
                            prio: 55,
                        });
                        for l in label.iter_mut().take(end).skip(i) {
                            *l = Some(Label::Ville);
                        }
                        i = end;
                        continue;
                    }
                }
            }
            let trig = if particle_after_title {
                Some(Trigger::Title)
            } else {
                self.trigger(text, ch, i)
            };
            if let Some(t) = trig {
                // Capitalised particles just before belong to the name ("LE GALL", "Da Silva").
                let mut st = i;
                while st > 0
                    && label[st - 1].is_none()
                    && (ch[st - 1].upper || ch[st - 1].cap)
                    && ch[st - 1].w.particle()
                    && gap(text, ch, st - 1) == " "
                {
                    st -= 1;
                }
                let end = self.extend_sequence(text, ch, i, t);
                if end > i {
                    self.assign(ch, st, end, t, &mut label);
                    for s in strong.iter_mut().take(end).skip(st) {
                        *s = t.strong();
                    }
                    i = end;
                    continue;
                }
            }
            i += 1;
        }
        // Propagation: a name seen once is a name everywhere in the text.
        let mut known: Vec<(String, Label)> = Vec::new();
        for k in 0..n {
            if let Some(l) = label[k] {
                let f = &ch[k].f;
                if f.chars().count() >= 3
                    && !self.particles.contains(f.as_ref())
                    && !self.d.common_words.contains(f.as_ref())
                    && !known.iter().any(|(x, _)| x == f)
                {
                    known.push((f.to_string(), l));
                }
            }
        }
        if !known.is_empty() {
            for k in 0..n {
                if label[k].is_some() || !(ch[k].cap || ch[k].upper) {
                    continue;
                }
                if let Some((_, l)) = known.iter().find(|(x, _)| *x == ch[k].f) {
                    if !self.eponym_context(ch, k) {
                        label[k] = Some(*l);
                    }
                }
            }
        }
        // Cities introduced by a preposition or a residence verb.
        let mut k = 0;
        while k < n {
            if label[k].is_some() || !(ch[k].cap || ch[k].upper) {
                k += 1;
                continue;
            }
            let prev = if k > 0 { ch[k - 1].f.as_ref() } else { "" };
            let gap_ok = k > 0
                && gap(text, ch, k - 1)
                    .chars()
                    .all(|c| c == ' ' || c == '\'' || c == '’');
            let dateline = text[ch[k].ls..ch[k].s].trim().is_empty()
                && line_of(text, ch[k].s).contains(", le ");
            let ctx = dateline
                || gap_ok
                    && matches!(
                        prev,
                        "a" | "de"
                            | "d'"
                            | "depuis"
                            | "vers"
                            | "habite"
                            | "domicilie"
                            | "domiciliee"
                            | "originaire"
                            | "resident"
                            | "residente"
                            | "residant"
                            | "vit"
                            | "sur"
                            | "pres"
                            | "commune"
                            | "ville"
                            | "demeurant"
                    );
            let worth = ctx || self.big_city_heads.contains(ch[k].f.as_ref());
            if let Some(end) = if worth {
                self.match_city(text, ch, k, ctx)
            } else {
                None
            } {
                let eponym = self.eponym_context(ch, k);
                if !eponym {
                    out.push(Cand {
                        s: ch[k].s,
                        e: ch[end - 1].e,
                        label: Label::Ville,
                        prio: 55,
                    });
                    for l in label.iter_mut().take(end).skip(k) {
                        *l = Some(Label::Ville);
                    }
                    k = end;
                    continue;
                }
            }
            k += 1;
        }
        // Emit name spans, merging neighbours of the same label.
        let mut k = 0;
        while k < n {
            let Some(l) = label[k] else {
                k += 1;
                continue;
            };
            if l == Label::Ville {
                k += 1;
                continue;
            }
            let mut e = k + 1;
            while e < n && label[e] == Some(l) {
                let g = gap(text, ch, e - 1);
                if g == " " || g == "-" || g == "'" || g == "’" {
                    e += 1;
                } else {
                    break;
                }
            }
            let prio = if strong[k] { 58 } else { 50 };
            let mut end = ch[e - 1].e;
            // Keep the period of an initial inside the span ("J.").
            if ch[e - 1].initial && text[end..].starts_with('.') {
                end += 1;
            }
            out.push(Cand {
                s: ch[k].s,
                e: end,
                label: l,
                prio,
            });
            k = e;
        }
    }

    pub(super) fn match_city(
        &self,
        text: &str,
        ch: &[Chunk],
        k: usize,
        ctx: bool,
    ) -> Option<usize> {
        let mut best = None;
        let mut key = String::new();
        for end in k..(k + 6).min(ch.len()) {
            if end > k {
                let g = gap(text, ch, end - 1);
                if !(g == " " || g == "-" || g == "'" || g == "’") {
                    break;
                }
                key.push('-');
            }
            let c = &ch[end];
            if !(c.cap
                || c.upper
                || (end > k && c.w.particle())
                || (end > k
                    && matches!(
                        c.f.as_ref(),
                        "sur" | "sous" | "en" | "les" | "les-" | "lez" | "l'" | "aux" | "au" | "et"
                    )))
            {
                break;
            }
            key.push_str(c.f.trim_end_matches('\''));
            let kk = commune_key(&key);
            let last_ok = c.cap || c.upper;
            if !last_ok {
                continue;
            }
            let big = self.big_cities.contains(&kk);
            if big || (ctx && self.d.communes.contains(&kk)) {
                best = Some(end + 1);
            }
        }
        if best.is_none()
            && ctx
            && ch[k].cap
            && ch[k].f.contains('-')
            && ch[k].w.first_name().is_none()
        {
            // A hyphenated town missing from the list ("Évry-Courcouronnes"):
            // accepted after a place context when its head is a commune.
            let w = &text[ch[k].s..ch[k].e];
            let parts: Vec<&str> = w.split('-').collect();
            let head = commune_key(parts[0]);
            let shape = parts.iter().all(|p| {
                p.chars().next().is_some_and(|c| c.is_uppercase())
                    || matches!(
                        fold(p).as_str(),
                        "sur"
                            | "sous"
                            | "en"
                            | "les"
                            | "le"
                            | "la"
                            | "de"
                            | "du"
                            | "des"
                            | "lez"
                            | "aux"
                            | "et"
                    )
            });
            let linked = parts.len() >= 3
                && parts[1..parts.len() - 1].iter().any(|p| {
                    matches!(
                        fold(p).as_str(),
                        "sur"
                            | "sous"
                            | "en"
                            | "les"
                            | "lez"
                            | "le"
                            | "la"
                            | "de"
                            | "du"
                            | "des"
                            | "aux"
                    )
                });
            if shape && (self.d.communes.contains(&head) || head.starts_with("saint") || linked) {
                best = Some(k + 1);
            }
        }
        let end = best?;
        if end == k + 1 {
            let f = &ch[k].f;
            if self.d.common_words.contains(f.as_ref()) || f.len() < 3 {
                return None;
            }
            // A bare first name after "de" is a filiation, not a town.
            if ch[k - usize::from(k > 0)].f == "de"
                && self.d.first_names.contains_key(f.as_ref())
                && !self.big_cities.contains(f.as_ref())
            {
                return None;
            }
        }
        Some(end)
    }

    /// Decides whether chunk `i` opens a name, and how strongly.
    pub(super) fn trigger(&self, text: &str, ch: &[Chunk], i: usize) -> Option<Trigger> {
        let c = &ch[i];
        let initial_after_title =
            c.initial && i > 0 && ch[i - 1].w.strong_title() && title_gap(gap(text, ch, i - 1));
        let compound_initial = c.initial && text[c.e..].starts_with(".-");
        if (c.w.title() && !initial_after_title && !compound_initial)
            || ((c.w.greeting() || c.w.closing()) && !c.upper)
        {
            return None;
        }
        // 1. Title right before ("M. Dupont", "Dr J. Martin", "Mme DUPONT").
        if i > 0 {
            let t = &ch[i - 1];
            let g = gap(text, ch, i - 1);
            let family_comma = g == ", "
                && matches!(
                    t.f.as_ref(),
                    "fille"
                        | "fils"
                        | "epouse"
                        | "epoux"
                        | "mari"
                        | "femme"
                        | "frere"
                        | "soeur"
                        | "mere"
                        | "pere"
                        | "compagnon"
                        | "compagne"
                        | "conjoint"
                        | "conjointe"
                        | "neveu"
                        | "niece"
                        | "tuteur"
                        | "tutrice"
                );
            if t.w.title()
                && (title_gap(g) || family_comma)
                && !(t.f == "m" && !g.starts_with('.') && !c.upper)
                && !(t.initial && t.f != "m")
            {
                let is_strong =
                    t.w.strong_title() && (t.cap || t.upper || t.initial || t.f == "mme");
                if is_strong {
                    return Some(Trigger::Title);
                }
                let initial_ok = c.initial && text[c.e..].starts_with('.');
                // "interne. Introduction": a weak title ends a sentence.
                let plain_gap = g == " " || family_comma;
                let fn_cap = c.cap && c.w.first_name().is_some_and(|f| f.rank < 1500);
                if plain_gap
                    && (c.cap || c.upper || initial_ok)
                    && (!c.w.common() || fn_cap)
                    && !c.w.title()
                    && !self.eponym_context(ch, i)
                {
                    return Some(Trigger::WeakTitle);
                }
            }
        }
        // 2. Field label ("Nom : ", "Rédigé par ").
        if let Some(kind) = self.field_before(text, ch, i) {
            let name_like = c.w.first_name().is_some()
                && i + 1 < ch.len()
                && gap(text, ch, i) == " "
                && (ch[i + 1].upper || ch[i + 1].cap);
            if !c.w.common()
                || c.upper
                || name_like
                || matches!(kind, Trigger::FieldNom | Trigger::FieldPrenom)
            {
                return Some(kind);
            }
        }
        // 3. Greeting ("Bonjour Julie,").
        if i > 0
            && gap(text, ch, i - 1) == " "
            && ch[i - 1].w.greeting()
            && c.cap
            && !c.w.common()
            && !c.w.title()
        {
            return Some(Trigger::Greeting);
        }
        // 4. Signature after a closing formula.
        if !c.w.closing()
            && !c.w.greeting()
            && self.after_closing(text, ch, i)
            && (!c.w.common() || c.w.first_name().is_some())
            && !c.w.title()
        {
            return Some(Trigger::Signature);
        }
        if self.eponym_context(ch, i) || c.w.eponym() {
            return None;
        }
        // 5. First name from the dictionary.
        // A first name that is also a word ("Rose", "Pierre") needs a
        // capitalised name right after it.
        let common_fn = c.w.common()
            && c.cap
            && i + 1 < ch.len()
            && gap(text, ch, i) == " "
            && (ch[i + 1].upper || (ch[i + 1].cap && !ch[i + 1].w.common()));
        if (c.cap || c.upper) && (!c.w.common() || common_fn) && !c.w.title() {
            if let Some(fnm) = c.w.first_name() {
                let next_particle = i + 2 < ch.len()
                    && gap(text, ch, i) == " "
                    && ch[i + 1].w.particle()
                    && !ch[i + 1].cap
                    && gap(text, ch, i + 1) == " "
                    && (ch[i + 2].cap || ch[i + 2].upper || ch[i + 2].w.particle());
                let next_namey = next_particle
                    || i + 1 < ch.len() && gap(text, ch, i) == " " && {
                        let nx = &ch[i + 1];
                        (nx.cap || nx.upper || nx.initial) && (!nx.w.common() || nx.upper)
                    };
                let after_a = i > 0
                    && matches!(ch[i - 1].f.as_ref(), "a" | "à")
                    && gap(text, ch, i - 1) == " ";
                let town = after_a
                    && (self.d.communes.contains(&commune_key(&c.f))
                        || self.big_cities.contains(c.f.as_ref()));
                if (next_namey && !town) || (fnm.rank < 1500 && c.cap && !town) {
                    return Some(Trigger::FirstName);
                }
            }
        }
        // 6. Upper-case surname from the dictionary ("DUPONT").
        // Short upper-case words are mostly acronyms ("l'IVA", "HER2").
        let acronym_like = c.f.chars().count() < 4
            || text[c.e..].starts_with(|x: char| x.is_ascii_digit())
            || (i > 0 && ch[i - 1].f.ends_with('\'') && gap(text, ch, i - 1).is_empty());
        if c.upper
            && c.f.chars().count() >= 3
            && !c.w.common()
            && (c.w.surname_rank() < 60_000)
            && (!acronym_like || self.neighbour_first_name(text, ch, i))
        {
            let line = line_of(text, c.s);
            if !mostly_upper(line) || self.neighbour_first_name(text, ch, i) {
                return Some(Trigger::UpperSurname);
            }
        }
        // 6a. An upper-case word that is not an acronym, in mixed-case text:
        // writers capitalise surnames ("le patient de la 14 (PLESSARD)").
        if c.upper
            && c.f.chars().count() >= 5
            && !c.w.common()
            && !c.w.medical()
            && c.f
                .chars()
                .any(|x| matches!(x, 'a' | 'e' | 'i' | 'o' | 'u' | 'y'))
            && c.f.split('-').all(|p| p.chars().count() >= 4)
            && !mostly_upper(line_of(text, c.s))
            && !text[c.e..].starts_with(|x: char| x.is_ascii_digit() || x == '-')
        {
            return Some(Trigger::UpperSurname);
        }
        // 6b. "OUEDRAGO Aldric": any upper-case word followed by a first name.
        if c.upper
            && c.f.chars().count() >= 3
            && !c.w.common()
            && i + 1 < ch.len()
            && gap(text, ch, i) == " "
            && ch[i + 1].cap
            && !ch[i + 1].w.common()
            && ch[i + 1].w.first_name().is_some_and(|f| f.rank < 5000)
        {
            return Some(Trigger::UpperSurname);
        }
        // 7. "Dupont Marie": a surname followed by a frequent first name.
        if c.cap
            && i + 1 < ch.len()
            && gap(text, ch, i) == " "
            && !c.w.common()
            && (c.w.surname_rank() < 60_000)
        {
            let nx = &ch[i + 1];
            if nx.cap && !nx.w.common() && nx.w.first_name().is_some_and(|f| f.rank < 2000) {
                return Some(Trigger::FirstName);
            }
        }
        None
    }

    pub(super) fn neighbour_first_name(&self, text: &str, ch: &[Chunk], i: usize) -> bool {
        let is_fn = |k: usize| ch[k].initial || (ch[k].cap && ch[k].w.first_name().is_some());
        (i > 0 && gap(text, ch, i - 1) == " " && is_fn(i - 1))
            || (i + 1 < ch.len() && gap(text, ch, i) == " " && is_fn(i + 1))
    }

    pub(super) fn eponym_context(&self, ch: &[Chunk], i: usize) -> bool {
        if i >= 2
            && matches!(ch[i - 1].f.as_ref(), "de" | "du" | "d'" | "des")
            && ch[i - 2].w.eponym_head()
        {
            return true;
        }
        if i >= 1 && ch[i - 1].w.eponym_head() && !ch[i - 1].cap {
            return true;
        }
        if ch[i].w.eponym() {
            // "Parkinson" alone is the disease; "M. Parkinson" was handled
            // by the title rule before this check.
            return true;
        }
        false
    }

    pub(super) fn field_before(&self, text: &str, ch: &[Chunk], i: usize) -> Option<Trigger> {
        if i == 0 {
            return None;
        }
        let g = gap(text, ch, i - 1);
        // Table cells ("Patient | DUPONT | Jean") work like "label :".
        let colon = g.contains(':') || g.contains('|');
        if g.contains('\n') && !colon {
            return None;
        }
        let list_sep = ((g.contains(',') || g.contains(';') || g.contains('|')) && g.len() <= 4)
            || (ch[i - 1].f == "et" && g == " ");
        // "Patient(e) :" — skip the inclusive "(e)".
        let i = if ch[i - 1].f == "e" && i >= 2 && gap(text, ch, i - 2) == "(" && colon {
            i - 1
        } else {
            i
        };
        if !colon && ch[i - 1].f != "par" && !list_sep {
            return None;
        }
        let mut phrase = String::new();
        for back in 1..=4usize {
            if back > i {
                break;
            }
            let k = i - back;
            if back > 1 {
                let gg = gap(text, ch, k);
                if gg != " " && gg != "'" && gg != "’" {
                    break;
                }
                phrase = format!("{}{}{}", ch[k].f, if gg == " " { " " } else { "'" }, phrase);
            } else {
                phrase = ch[k].f.to_string();
            }
            let phrase_ok = self.field_phrases.contains(&phrase);
            let par = phrase.ends_with(" par") || phrase == "par";
            if (phrase_ok && colon) || (par && phrase_ok && g.trim() == "") {
                if phrase.starts_with("prenom") {
                    return Some(Trigger::FieldPrenom);
                }
                if phrase.starts_with("nom") {
                    return Some(Trigger::FieldNom);
                }
                return Some(Trigger::Field);
            }
        }
        // Continuation of a list of names on the same line ("Présents : A, B et C").
        if list_sep {
            let line = &text[ch[i].ls..ch[i].s];
            if let Some(pos) = line.find([':', '|']) {
                let head = fold(line[..pos].trim());
                let head = head.trim_start_matches(['-', '*', ' ']).to_string();
                if self.field_phrases.contains(&head)
                    && !head.starts_with("nom")
                    && !head.starts_with("prenom")
                {
                    return Some(Trigger::Field);
                }
            }
        }
        None
    }

    pub(super) fn after_closing(&self, text: &str, ch: &[Chunk], i: usize) -> bool {
        // The previous line (or the same line before a comma) is a closing formula.
        // Cheap guard: the word just before must end a closing formula.
        if i == 0 || !ch[i - 1].w.closing_end() {
            return false;
        }
        let before = &text[..ch[i].s];
        let same_line = &text[ch[i].ls..ch[i].s];
        let first_on_line = same_line.trim().is_empty();
        if !first_on_line {
            // "... Merci ! Julie", "Bises Kaelig", "Cordialement, Jean".
            let t = same_line
                .trim_end()
                .trim_end_matches([',', '!', '.', ' ', '-']);
            let words: Vec<&str> = t.rsplit(|c: char| c.is_whitespace()).take(3).collect();
            let mut phrase = String::new();
            for w in words {
                phrase = if phrase.is_empty() {
                    fold(w)
                } else {
                    format!("{} {}", fold(w), phrase)
                };
                if self
                    .closings
                    .contains(phrase.trim_matches(|c: char| !c.is_alphanumeric()))
                {
                    return true;
                }
            }
            return false;
        }
        let candidate = if same_line.trim().is_empty() {
            let trimmed = before.trim_end();
            let start = trimmed.rfind('\n').map_or(0, |p| p + 1);
            &trimmed[start..]
        } else {
            same_line
        };
        let cand = candidate.trim().trim_end_matches([',', '.', '!', ' ', '-']);
        if cand.len() > 60 {
            return false;
        }
        let f = fold(cand);
        if f.is_empty() {
            return false;
        }
        self.closings.contains(&f)
            || (f
                .split(',')
                .next()
                .is_some_and(|x| self.closings.contains(x.trim()))
                && same_line.trim().ends_with(','))
    }

    /// Extends a name that starts at `i`; returns the end chunk (exclusive).
    pub(super) fn extend_sequence(&self, text: &str, ch: &[Chunk], i: usize, t: Trigger) -> usize {
        let mut end = i + 1;
        let mut k = i + 1;
        let mut after_particle = ch[i].w.particle();
        while k < ch.len() && k < i + 7 {
            let g = gap(text, ch, k - 1);
            let prev_initial = ch[k - 1].initial;
            let gap_ok = g == " "
                || (g.is_empty() && ch[k - 1].f.ends_with('\''))
                || (prev_initial && (g == ". " || g == "." || g == ".-" || g == ".- "))
                || g == "'"
                || g == "’";
            if !gap_ok {
                break;
            }
            let c = &ch[k];
            if c.w.title() && (c.cap || c.upper) && gap(text, ch, k) != " " {
                // "Dr" followed by a period opens another name.
                break;
            }
            if c.w.particle() {
                // Particles belong to the name only if a name word follows them.
                let mut m = k;
                while m < ch.len() && ch[m].w.particle() && m < k + 3 {
                    if !matches!(gap(text, ch, m), " " | "'" | "’" | "") {
                        break;
                    }
                    m += 1;
                }
                if m < ch.len()
                    && m > k
                    && ch[m - 1].w.particle()
                    && (ch[m].cap || ch[m].upper)
                    && !ch[m].w.title()
                {
                    k = m;
                    after_particle = true;
                    continue;
                }
                break;
            }
            if !c.namey() {
                break;
            }
            // A common word ends the name, unless a particle announced it
            // ("de La Tour") or it is a frequent surname after a first name
            // ("Baptiste Petit").
            let prev_first = ch[k - 1].cap && ch[k - 1].w.first_name().is_some();
            let frequent_surname = c.w.surname_rank() < 5000;
            if c.cap
                && c.w.common()
                && c.w.first_name().is_none()
                && !after_particle
                && !(prev_first && frequent_surname)
            {
                break;
            }
            if c.upper && c.w.medical() && !after_particle {
                break;
            }
            after_particle = false;
            k += 1;
            end = k;
        }
        // A lone initial after a weak trigger is noise ("A" at a line start).
        if end == i + 1
            && ch[i].initial
            && !matches!(
                t,
                Trigger::Title | Trigger::Field | Trigger::FieldNom | Trigger::FieldPrenom
            )
        {
            return i;
        }
        if end == i + 1
            && ch[i].initial
            && (i + 1 >= ch.len() || !text[ch[i].e..].starts_with('.'))
            && t != Trigger::FieldPrenom
        {
            return i;
        }
        end
    }

    pub(super) fn assign(
        &self,
        ch: &[Chunk],
        s: usize,
        e: usize,
        t: Trigger,
        label: &mut [Option<Label>],
    ) {
        let idx: Vec<usize> = (s..e)
            .filter(|&k| !ch[k].w.particle() || ch[k].initial || (ch[k].upper && ch[k].f.len() > 3))
            .collect();
        if idx.is_empty() {
            return;
        }
        let is_fn = |k: usize| ch[k].initial || (!ch[k].upper && ch[k].w.first_name().is_some());
        let any_upper = idx.iter().any(|&k| ch[k].upper && !ch[k].initial);
        let any_cap = idx.iter().any(|&k| ch[k].cap);
        let mut labs: Vec<Label> = vec![Label::Nom; idx.len()];
        match t {
            Trigger::FieldPrenom => labs.iter_mut().for_each(|l| *l = Label::Prenom),
            Trigger::FieldNom if !(any_upper && any_cap) => {}
            _ => {
                if any_upper && any_cap {
                    for (j, &k) in idx.iter().enumerate() {
                        labs[j] = if ch[k].upper && !ch[k].initial {
                            Label::Nom
                        } else {
                            Label::Prenom
                        };
                    }
                } else if idx.len() == 1 {
                    let k = idx[0];
                    labs[0] = match t {
                        Trigger::Title | Trigger::UpperSurname | Trigger::FieldNom => Label::Nom,
                        _ => {
                            if is_fn(k) {
                                Label::Prenom
                            } else {
                                Label::Nom
                            }
                        }
                    };
                    if ch[k].initial {
                        labs[0] = Label::Prenom;
                    }
                } else {
                    let first = idx[0];
                    let last = *idx.last().unwrap_or(&first);
                    if is_fn(first) {
                        // Leading run of first names, the rest is the surname.
                        let mut j = 0;
                        while j + 1 < idx.len()
                            && is_fn(idx[j])
                            && (ch[idx[j]].initial || !(ch[idx[j + 1]].initial))
                        {
                            labs[j] = Label::Prenom;
                            j += 1;
                        }
                        if j == 0 {
                            labs[0] = Label::Prenom;
                        }
                    } else if is_fn(last)
                        && !ch[last].initial
                        && ch[first].w.surname_rank() < 60_000
                    {
                        // "Dupont Marie": a known surname, then a first name.
                        let n = labs.len();
                        labs[n - 1] = Label::Prenom;
                    } else if (t != Trigger::FieldNom && ch[first].initial)
                        || matches!(t, Trigger::Title | Trigger::WeakTitle | Trigger::Field)
                    {
                        labs[0] = Label::Prenom;
                    }
                    for (j, &k) in idx.iter().enumerate() {
                        if ch[k].initial {
                            labs[j] = Label::Prenom;
                        }
                    }
                    // "Minh P.": an initial after a first name stands for the surname.
                    let n = idx.len();
                    if n >= 2
                        && ch[idx[n - 1]].initial
                        && !ch[idx[n - 2]].initial
                        && labs[n - 2] == Label::Prenom
                    {
                        labs[n - 1] = Label::Nom;
                    }
                }
            }
        }
        // Particles take the label of the following word.
        let mut j = 0;
        for (k, slot) in label.iter_mut().enumerate().take(e).skip(s) {
            if j < idx.len() && idx[j] == k {
                *slot = Some(labs[j]);
                j += 1;
            } else {
                *slot = Some(if j < labs.len() { labs[j] } else { Label::Nom });
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trigger {
    Title,
    WeakTitle,
    Field,
    FieldNom,
    FieldPrenom,
    Greeting,
    Signature,
    FirstName,
    UpperSurname,
}

impl Trigger {
    pub(super) fn strong(self) -> bool {
        matches!(
            self,
            Trigger::Title
                | Trigger::Field
                | Trigger::FieldNom
                | Trigger::FieldPrenom
                | Trigger::Signature
        )
    }
}
