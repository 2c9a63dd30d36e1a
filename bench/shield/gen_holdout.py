#!/usr/bin/env python3
"""Third synthetic corpus, written once and scored once, after the rules
were tuned on the development and stress corpora, to estimate
generalisation honestly. New templates, layouts and name lists.

Usage: python3 gen_holdout.py [N_DOCS] [SEED] > holdout_corpus.jsonl
"""

import json
import random
import sys

FIRST = [("Ginette", "f"), ("Jacqueline", "f"), ("Mireille", "f"), ("Fabienne", "f"), ("Karine", "f"),
         ("Laetitia", "f"), ("Océane", "f"), ("Justine", "f"), ("Romane", "f"), ("Yasmine", "f"),
         ("Fatima", "f"), ("Mariam", "f"), ("Linh", "f"), ("Ophélie", "f"), ("Clotilde", "f"),
         ("Marie-Noëlle", "f"), ("Anne-Marie", "f"), ("Edwige", "f"), ("Gwendoline", "f"), ("Awa", "f"),
         ("Marius", "m"), ("Gaston", "m"), ("Henri", "m"), ("Lionel", "m"), ("Franck", "m"),
         ("Cédric", "m"), ("Quentin", "m"), ("Valentin", "m"), ("Ethan", "m"), ("Rayan", "m"),
         ("Bilal", "m"), ("Omar", "m"), ("Seydou", "m"), ("Minh", "m"), ("Killian", "m"),
         ("Jean-Claude", "m"), ("Pierre-Louis", "m"), ("Tanguy", "m"), ("Gwenaël", "m"), ("Eudes", "m")]
SURNAMES = ["Gautier", "Lebrun", "Leroux", "Perret", "Masson", "Lucas", "Dumas", "Mallet", "Rolland",
            "Guillot", "Hamon", "Gilbert", "Besson", "Poirier", "Collet", "Prevost", "Charpentier",
            "Le Meur", "Le Page", "Le Gac", "de Kersauson", "du Plessis", "de Saint-Exupéry", "N'Guessan",
            "M'Bappé", "Ben Ali", "Aït Kaci", "Abou Zeid", "Da Costa", "Van Damme", "Mac Mahon",
            "Pereira-Lopes", "Lemaire-Duval", "Coulibaly", "Fofana", "Bamba", "Truong", "Lim", "Kaya", "Demir",
            # Invented.
            "Chardonnel", "Vasselin", "Troumelec", "Gaillardin", "Morvanec", "Sabourot", "Pelletan",
            "Daubrac", "Ferrandou", "Lestradet", "Mourguet", "Quilliec", "Bernicot", "Tastavin"]
TOWNS = [("Poissy", "78300"), ("Mantes-la-Jolie", "78200"), ("Cergy", "95000"), ("Argenteuil", "95100"),
         ("Évreux", "27000"), ("Beauvais", "60000"), ("Compiègne", "60200"), ("Saint-Quentin", "02100"),
         ("Arras", "62000"), ("Lens", "62300"), ("Dunkerque", "59140"), ("Calais", "62100"),
         ("Troyes", "10000"), ("Auxerre", "89000"), ("Nevers", "58000"), ("Bourges", "18000"),
         ("Châteauroux", "36000"), ("Blois", "41000"), ("Angoulême", "16000"), ("Niort", "79000"),
         ("Périgueux", "24000"), ("Agen", "47000"), ("Tarbes", "65000"), ("Carcassonne", "11000"),
         ("Béziers", "34500"), ("Sète", "34200"), ("Arles", "13200"), ("Fréjus", "83600"),
         ("Gap", "05000"), ("Bourgoin-Jallieu", "38300"), ("Villefranche-sur-Saône", "69400"),
         ("Saint-Brieuc", "22000"), ("Quimperlé", "29300"), ("Concarneau", "29900"), ("Vitré", "35500")]
HOSPITALS = ["CHU de Reims", "CHU de Caen Normandie", "Hôpital Ambroise-Paré", "Hôpital Louis-Mourier",
             "Centre Hospitalier d'Arras", "Clinique du Val de Loire", "Hôpital privé Jacques Cartier",
             "CHRU de Lille", "Institut Bergonié", "Hôpital Beaujon", "Centre Hospitalier de Béziers",
             "Polyclinique Saint-Côme", "Hôpital Paul-Brousse", "Clinique Pasteur Lanroze"]
STREETS = ["rue de la Liberté", "avenue Jean Moulin", "rue des Prés", "chemin des Écoliers",
           "boulevard Victor Hugo", "rue Pierre Curie", "allée des Cerisiers", "route de Paris",
           "impasse des Glycines", "rue du Maréchal Foch", "place de l'Église", "rue Alsace-Lorraine"]
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre"]
PROSE = [
    "Pas de douleur thoracique, dyspnée stade II de la NYHA, œdèmes des membres inférieurs prenant le godet.",
    "ECG : rythme sinusal à 78/min, pas de trouble de repolarisation.",
    "Bilan biologique : natrémie 131 mmol/L, albumine 28 g/L, TSH 2,1 mUI/L.",
    "Mise sous Furosémide 40 mg le matin et Spironolactone 25 mg.",
    "Antécédent de maladie de Hodgkin traitée par ABVD en rémission.",
    "Score de Charlson à 6, GIR 3, MMSE à 22/30.",
    "Signe de Lasègue positif à droite à 40°, réflexes ostéotendineux présents.",
    "Cancer du sein gauche pT1cN0(sn) M0, RH+ HER2-, traité par tumorectomie et radiothérapie.",
    "Polyarthrite rhumatoïde séropositive sous Méthotrexate 15 mg/semaine et Speciafoldine.",
    "Pose d'une sonde urinaire, diurèse conservée, ECBU en cours.",
    "Maladie de Horton confirmée par biopsie, corticothérapie à 0,7 mg/kg/j.",
    "Coronarographie : sténose serrée de l'IVA proximale traitée par angioplastie et stent actif.",
    "Hypothyroïdie substituée, Lévothyrox 100 µg le matin à jeun.",
    "Ostéoporose fracturaire, introduction d'Acide zolédronique 5 mg IV annuel.",
    "Le patient est autonome pour les actes de la vie quotidienne, vit au domicile avec aides.",
    "Sevrage tabagique conseillé, substituts nicotiniques prescrits.",
    "Échographie abdominale : stéatose hépatique diffuse, pas de dilatation des voies biliaires.",
    "Infection urinaire à E. coli sensible, traitement par Ceftriaxone puis Ofloxacine.",
]


class Doc:
    def __init__(self):
        self.parts, self.spans, self.n = [], [], 0

    def t(self, s):
        self.parts.append(s); self.n += len(s)

    def e(self, s, label):
        self.spans.append({"start": self.n, "end": self.n + len(s), "label": label}); self.t(s)

    def text(self):
        return "".join(self.parts)


def P(r):
    f, g = r.choice(FIRST)
    return f, r.choice(SURNAMES), g


def dt(r, a=2018, b=2025):
    y, m, d = r.randint(a, b), r.randint(1, 12), r.randint(1, 28)
    return r.choice([f"{d:02d}/{m:02d}/{y}", f"{d} {MONTHS[m - 1]} {y}", f"{d:02d}.{m:02d}.{y}", f"{d:02d}/{m:02d}/{y % 100:02d}"])


def tel(r):
    p = r.choice(["01", "03", "04", "05", "06", "07", "09"]) + "".join(f"{r.randint(0, 99):02d}" for _ in range(4))
    return r.choice([" ".join(p[i:i + 2] for i in range(0, 10, 2)), ".".join(p[i:i + 2] for i in range(0, 10, 2)), p])


def letter(d, r):
    f, n, g = P(r); df, dn, _ = P(r); town, z = r.choice(TOWNS)
    d.t("Madame, Monsieur,\n\nJ'ai pris en charge " + ("Mlle " if g == "f" else "Mr ")); d.e(f, "PRENOM"); d.t(" "); d.e(n, "NOM")
    d.t(", " + ("née" if g == "f" else "né") + " le "); d.e(dt(r, 1940, 2000), "DATE_NAISSANCE"); d.t(", domicilié" + ("e" if g == "f" else "") + " à ")
    d.e(town, "VILLE"); d.t(", du "); d.e(dt(r), "DATE"); d.t(" au "); d.e(dt(r), "DATE"); d.t(". ")
    d.t(" ".join(r.sample(PROSE, 2)) + "\n\nPr. "); d.e(df, "PRENOM"); d.t(" "); d.e(dn, "NOM"); d.t("\n"); d.e(r.choice(HOSPITALS), "HOPITAL"); d.t("\n")


def table(d, r):
    f, n, g = P(r)
    d.t("Patient | "); d.e(n.upper(), "NOM"); d.t(" | "); d.e(f, "PRENOM"); d.t(" | "); d.e(dt(r, 1935, 2010), "DATE_NAISSANCE"); d.t(" | " + ("F" if g == "f" else "M"))
    d.t("\nDate d'entrée | "); d.e(dt(r), "DATE"); d.t("\nService | Gériatrie aiguë\n")
    d.t("Synthèse | " + r.choice(PROSE) + "\n")


def nurse(d, r):
    f, n, g = P(r); kf, _, _ = P(r); idf, idn, _ = P(r)
    d.t("14h30 : " + ("Mme " if g == "f" else "M. ")); d.e(n, "NOM"); d.t(" a peu mangé, hydratation encouragée. ")
    d.t("Sa fille "); d.e(kf, "PRENOM"); d.t(" est passée, elle rappellera demain. " + r.choice(PROSE) + "\n")
    d.t("22h00 : nuit calme. Signé : "); d.e(idf, "PRENOM"); d.t(" "); d.e(idn[0] + ".", "NOM"); d.t(", IDE\n")


def referral(d, r):
    f, n, g = P(r); df, dn, _ = P(r)
    d.t("Patient" + ("e" if g == "f" else "") + " adressé" + ("e" if g == "f" else "") + " par le Dr. "); d.e(dn, "NOM")
    d.t(" (tél : "); d.e(tel(r), "TEL"); d.t(") pour avis. " + " ".join(r.sample(PROSE, 2)) + " ")
    d.t(("Mme " if g == "f" else "M. ")); d.e(n.upper(), "NOM"); d.t(" sera revu" + ("e" if g == "f" else "") + " le "); d.e(dt(r), "DATE"); d.t(".\n")


def consent(d, r):
    f, n, g = P(r); town, z = r.choice(TOWNS)
    d.t("Je soussigné" + ("e" if g == "f" else "") + " "); d.e(f, "PRENOM"); d.t(" "); d.e(n.upper(), "NOM"); d.t(", demeurant ")
    d.e(f"{r.randint(1, 120)} {r.choice(STREETS)}", "ADRESSE"); d.t(", "); d.e(z, "ZIP"); d.t(" "); d.e(town, "VILLE")
    d.t(", autorise la réalisation de l'intervention. Fait à "); d.e(town, "VILLE"); d.t(", le "); d.e(dt(r), "DATE"); d.t(".\n")


def email_sig(d, r):
    f, n, g = P(r); pf, pn, _ = P(r)
    d.t("Bonjour,\n\nPour info, " + ("Mme " if g == "f" else "M. ")); d.e(pn, "NOM"); d.t(" a été transféré" + ("e" if g == "f" else "") + " ce matin. " + r.choice(PROSE) + "\n\n--\nDr ")
    d.e(f, "PRENOM"); d.t(" "); d.e(n.upper(), "NOM"); d.t("\nPraticien hospitalier\nService de médecine polyvalente\n"); d.e(r.choice(HOSPITALS), "HOPITAL")
    d.t("\nTél : "); d.e(tel(r), "TEL"); d.t(" | Fax : "); d.e(tel(r), "TEL"); d.t("\n")


def lab(d, r):
    f, n, g = P(r); pf, pn, _ = P(r); idf, idn, _ = P(r)
    d.t("LABORATOIRE DE BIOLOGIE MÉDICALE\nPrescripteur : Dr "); d.e(pn, "NOM"); d.t("\nPréleveur : IDE "); d.e(idf, "PRENOM"); d.t(" "); d.e(idn, "NOM")
    d.t("\nPatient : "); d.e(n.upper(), "NOM"); d.t(" "); d.e(f, "PRENOM"); d.t(" – né" + ("e" if g == "f" else "") + " le "); d.e(dt(r, 1930, 2015), "DATE_NAISSANCE")
    d.t("\nPrélevé le "); d.e(dt(r), "DATE"); d.t(" à 07h45\nHémoglobine 12,4 g/dL ; leucocytes 7,2 G/L ; plaquettes 245 G/L ; CRP < 5 mg/L.\n")


def prose_only(d, r):
    d.t(" ".join(r.sample(PROSE, 6)) + "\n")


KINDS = [letter, table, nurse, referral, consent, email_sig, lab, prose_only]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 240
    r = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 4242)
    for i in range(n):
        d = Doc(); k = KINDS[i % len(KINDS)]; k(d, r)
        print(json.dumps({"id": f"holdout{i:04d}", "kind": k.__name__, "text": d.text(), "spans": d.spans}, ensure_ascii=False))


if __name__ == "__main__":
    main()
