#!/usr/bin/env python3
"""A second, independent synthetic corpus ("stress" set) with its own
templates, layouts and name lists, written after the detector rules were
frozen for the development corpus. It estimates how the rules generalise
to writing styles they were not tuned on (all-caps reports, narrative
notes, inline identity blocks, informal messages, identifier-free
paragraphs full of eponyms and drug names).

Usage: python3 gen_stress.py [N_DOCS] [SEED] > stress_corpus.jsonl
"""

import json
import random
import sys

FIRST = [
    ("Gilberte", "f"), ("Paulette", "f"), ("Yvette", "f"), ("Danielle", "f"), ("Corinne", "f"),
    ("Valérie", "f"), ("Stéphanie", "f"), ("Audrey", "f"), ("Pauline", "f"), ("Margaux", "f"),
    ("Lina", "f"), ("Rose", "f"), ("Héloïse", "f"), ("Malika", "f"), ("Aminata", "f"),
    ("Hoa", "f"), ("Sarah", "f"), ("Élise", "f"), ("Noémie", "f"), ("Armelle", "f"),
    ("Rolande", "f"), ("Marie-Thérèse", "f"), ("Anne-Laure", "f"), ("Brigitte", "f"),
    ("René", "m"), ("Roger", "m"), ("Guy", "m"), ("Patrick", "m"), ("Didier", "m"),
    ("Olivier", "m"), ("Sébastien", "m"), ("Maxime", "m"), ("Antoine", "m"), ("Théo", "m"),
    ("Noah", "m"), ("Adam", "m"), ("Ibrahima", "m"), ("Abdelkader", "m"), ("Samir", "m"),
    ("Duc", "m"), ("Pascal", "m"), ("Fabrice", "m"), ("Grégoire", "m"), ("Aurélien", "m"),
    ("Jean-Louis", "m"), ("Paul-Henri", "m"), ("François-Xavier", "m"), ("Bertrand", "m"),
]
SURNAMES = [
    "Lemoine", "Renaud", "Carpentier", "Marchand", "Dufour", "Brunet", "Blanchard", "Gaillard",
    "Barbier", "Arnaud", "Roche", "Schmitt", "Colin", "Vidal", "Caron", "Picard", "Roger",
    "Fabre", "Aubert", "Leclerc", "Lacroix", "Deschamps", "Fleury", "Huet", "Bouvier",
    "Le Corre", "Le Bris", "Le Guen", "de Montalembert", "d'Harcourt", "Ben Youssef",
    "El Khatib", "Mendes", "Sousa", "Tavares", "Ndiaye", "Sow", "Keita", "Pham", "Vo",
    "Wojcik", "Zimmermann", "Hoffmann", "Jacquemin", "Bonnefoy", "Castelnau", "Peyrefitte",
    # Invented surnames, found only by context.
    "Querneau", "Bramafan", "Kerlidou", "Montcharel", "Saubadie", "Vernassal", "Ardouinet",
    "Plessard", "Tourmelin", "Guérambeau", "Lafourcade", "Miramonde", "Escoubet", "Rouffiac",
]
TOWNS = [
    ("Versailles", "78000"), ("Nancy", "54000"), ("Metz", "57000"), ("Reims", "51100"),
    ("Amiens", "80000"), ("Rouen", "76000"), ("Caen", "14000"), ("Le Havre", "76600"),
    ("Toulon", "83000"), ("Nîmes", "30000"), ("Perpignan", "66000"), ("Pau", "64000"),
    ("Bayonne", "64100"), ("Annecy", "74000"), ("Chambéry", "73000"), ("Valence", "26000"),
    ("Saint-Nazaire", "44600"), ("Lorient", "56100"), ("Cherbourg-en-Cotentin", "50100"),
    ("Montauban", "82000"), ("Albi", "81000"), ("Rodez", "12000"), ("Vichy", "03200"),
    ("Sarcelles", "95200"), ("Bondy", "93140"), ("Ivry-sur-Seine", "94200"), ("Clamart", "92140"),
    ("Sainte-Geneviève-des-Bois", "91700"), ("Saint-Jean-de-Luz", "64500"), ("Landerneau", "29800"),
]
HOSPITALS = [
    "CHU de Nancy", "Hôpital Cochin", "hôpital Saint-Antoine", "Clinique de l'Anjou",
    "Centre Hospitalier de Lorient", "CHU Amiens-Picardie", "Hôpital Bichat", "Institut Paoli-Calmettes",
    "Hôpital Robert-Debré", "Clinique Sainte-Marie", "GHU Paris Psychiatrie", "Hôpital de la Croix-Rousse",
    "CH de Valence", "Polyclinique Bordeaux Nord", "Hôpital Tenon",
]
STREETS = ["rue Nationale", "avenue Pasteur", "rue de la Gare", "boulevard Carnot", "rue du Château",
           "impasse du Lavoir", "chemin de la Croix", "allée Marcel Pagnol", "rue Saint-Éloi", "place du Marché"]
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre"]

# Identifier-free clinical prose (must produce no span).
CLEAN = [
    "Patiente de 67 ans aux antécédents d'HTA et de diabète de type 2 sous Metformine 1000 mg x2/j.",
    "Examen clinique : auscultation cardiopulmonaire normale, pas de signe de Homans, mollets souples.",
    "Biologie : Hb 10,9 g/dL, plaquettes 312 G/L, CRP 48 mg/L, créatinine 102 µmol/L, kaliémie 4,1 mmol/L.",
    "Scanner thoracique : nodule du lobe supérieur droit de 14 mm, classé cT1bN0M0.",
    "Introduction d'Amoxicilline 1 g x3/j pendant 7 jours, relais per os dès J3.",
    "Maladie de Parkinson évoluant depuis dix ans, fluctuations motrices sous Modopar.",
    "Le score de Glasgow est à 14, pupilles symétriques et réactives.",
    "Syndrome de Sjögren connu, suivi en médecine interne.",
    "Pas de signe de Murphy, pas de défense, transit conservé.",
    "Traitement de sortie : Kardégic 75 mg, Bisoprolol 5 mg, Atorvastatine 40 mg, Ramipril 5 mg.",
    "Bilan de chute : test de Romberg négatif, Timed Up and Go à 18 secondes.",
    "Diagnostic retenu : pneumopathie communautaire (J18.9) chez un patient BPCO stade GOLD 3.",
    "Adénocarcinome prostatique Gleason 7 (4+3), PSA à 12 ng/mL, IRM PI-RADS 5.",
    "Hémoglobine glyquée à 8,1 %, adaptation de l'insulinothérapie par Lantus 24 UI le soir.",
    "Réévaluation à trois mois avec échographie cardiaque de contrôle.",
    "Cirrhose alcoolique Child-Pugh B8, MELD 15, varices oesophagiennes grade 2.",
    "Maladie de Crohn iléo-colique sous Stelara, calprotectine fécale à 450 µg/g.",
    "Signes de Kernig et de Brudzinski négatifs, pas de raideur méningée.",
    "Rééducation à la marche avec déambulateur, aide à la toilette par l'équipe soignante.",
    "Insuffisance cardiaque à FEVG altérée (35 %), NYHA III, sous Entresto 49/51 mg x2/j.",
    "Fracture du col fémoral Garden IV opérée par prothèse intermédiaire.",
    "Paracétamol 1 g toutes les 6 heures, Tramadol 50 mg si EVA supérieure à 4.",
    "Thrombose veineuse profonde surale gauche, anticoagulation par Apixaban 10 mg x2/j pendant 7 jours.",
    "Syndrome de Guillain-Barré post-infectieux, immunoglobulines polyvalentes IV sur 5 jours.",
    "Pas d'allergie médicamenteuse connue. Vaccinations à jour.",
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


def person(r):
    f, g = r.choice(FIRST)
    return f, r.choice(SURNAMES), g


def date(r, y0=2019, y1=2025):
    y, m, d = r.randint(y0, y1), r.randint(1, 12), r.randint(1, 28)
    return r.choice([f"{d:02d}/{m:02d}/{y}", f"{d}/{m}/{y}", f"{d} {MONTHS[m-1]} {y}", f"{d:02d}-{m:02d}-{y}",
                     f"{d} {MONTHS[m-1].upper()} {y}" if False else f"{d:02d}/{m:02d}/{y % 100:02d}"])


def birth(r):
    return date(r, 1930, 2005)


def phone(r):
    p = r.choice(["01", "02", "03", "04", "05", "06", "07"]) + "".join(f"{r.randint(0, 99):02d}" for _ in range(4))
    return r.choice([" ".join(p[i:i + 2] for i in range(0, 10, 2)), p, ".".join(p[i:i + 2] for i in range(0, 10, 2)),
                     "+33" + p[1:], "+33 " + p[1] + " " + " ".join(p[i:i + 2] for i in range(2, 10, 2))])


def nir(r, g):
    body = ("2" if g == "f" else "1") + f"{r.randint(30, 99):02d}{r.randint(1, 12):02d}" + r.choice(["75", "13", "2A", "59", "33"]) + f"{r.randint(1, 999):03d}{r.randint(1, 999):03d}"
    key = 97 - int(body.replace("2A", "19").replace("2B", "18")) % 97
    return f"{body}{key:02d}" if r.random() < 0.5 else f"{body[0]} {body[1:3]} {body[3:5]} {body[5:7]} {body[7:10]} {body[10:13]} {key:02d}"


def allcaps_report(d, r):
    f, n, g = person(r)
    dr_f, dr_n, _ = person(r)
    d.t("CENTRE HOSPITALIER - SERVICE DE PNEUMOLOGIE\n")
    d.t("NOM : "); d.e(n.upper(), "NOM"); d.t("   PRENOM : "); d.e(f.upper(), "PRENOM"); d.t("\n")
    d.t("NE(E) LE : "); d.e(birth(r), "DATE_NAISSANCE"); d.t("   N° SS : "); d.e(nir(r, g), "SECU"); d.t("\n")
    d.t("MEDECIN : DR "); d.e(dr_n.upper(), "NOM"); d.t("\n\n")
    d.t("COMPTE RENDU DE CONSULTATION DU "); d.e(date(r), "DATE"); d.t("\n")
    d.t(r.choice(CLEAN) + " " + r.choice(CLEAN) + "\n")


def narrative(d, r):
    f, n, g = person(r)
    wf, wn, _ = person(r)
    town, z = r.choice(TOWNS)
    d.t(("Mme " if g == "f" else "M. ")); d.e(n, "NOM"); d.t(", " + ("âgée" if g == "f" else "âgé") + " de 72 ans, vit avec "
        + ("son époux " if g == "f" else "son épouse ")); d.e(wf, "PRENOM"); d.t(" à "); d.e(town, "VILLE"); d.t(". ")
    d.t(r.choice(CLEAN) + " ")
    d.t("Elle a été hospitalisée à l'"); d.e(r.choice(HOSPITALS)[0].lower() + r.choice(HOSPITALS)[1:] if False else r.choice(HOSPITALS), "HOPITAL")
    d.t(" en " + r.choice(MONTHS) + " dernier. ")
    d.t(r.choice(CLEAN) + " Le fils, M. "); d.e(wn, "NOM"); d.t(", souhaite être appelé au "); d.e(phone(r), "TEL"); d.t(".\n")


def inline_identity(d, r):
    f, n, g = person(r)
    town, z = r.choice(TOWNS)
    d.t("Identité : "); d.e(n.upper(), "NOM"); d.t(" "); d.e(f, "PRENOM"); d.t(", né" + ("e" if g == "f" else "") + " le ")
    d.e(birth(r), "DATE_NAISSANCE"); d.t(" à "); d.e(town, "VILLE"); d.t(" ; domicile : ")
    d.e(f"{r.randint(2, 90)} {r.choice(STREETS)}", "ADRESSE"); d.t(" "); d.e(z, "ZIP"); d.t(" "); d.e(town, "VILLE")
    d.t(" ; tél. "); d.e(phone(r), "TEL"); d.t(" ; IPP "); d.e("8" + "".join(str(r.randint(0, 9)) for _ in range(9)), "IPP"); d.t(".\n")
    d.t(r.choice(CLEAN) + " " + r.choice(CLEAN) + "\n")


def letter(d, r):
    f, n, g = person(r)
    cf, cn, _ = person(r)
    sf, sn, _ = person(r)
    d.t("Monsieur le Docteur "); d.e(cf, "PRENOM"); d.t(" "); d.e(cn.upper(), "NOM"); d.t("\n")
    d.t("Objet : " + ("votre patiente" if g == "f" else "votre patient") + " "); d.e(f, "PRENOM"); d.t(" "); d.e(n, "NOM"); d.t("\n\n")
    d.t("Cher ami,\n\nJe vous remercie de m'avoir adressé " + ("Madame " if g == "f" else "Monsieur ")); d.e(n, "NOM")
    d.t(" que j'ai vu" + ("e" if g == "f" else "") + " le "); d.e(date(r), "DATE"); d.t(". " + r.choice(CLEAN) + " " + r.choice(CLEAN) + "\n\n")
    d.t("Bien confraternellement,\n\n"); d.t("Docteur "); d.e(sf, "PRENOM"); d.t(" "); d.e(sn, "NOM"); d.t("\n")
    d.e(r.choice(HOSPITALS), "HOPITAL"); d.t("\n")


def message(d, r):
    f, n, g = person(r)
    af, an, _ = person(r)
    d.t(r.choice(["Bonsoir ", "Hello ", "Salut "])); d.e(af, "PRENOM"); d.t(r.choice([", ", " ! "]))
    d.t("le patient de la 14 ("); d.e(n.upper(), "NOM"); d.t(") a refait de la fièvre, j'ai prélevé des hémocultures. ")
    d.t("Tu peux rappeler sa femme au "); d.e(phone(r), "TEL"); d.t(" ? ")
    d.t(r.choice(["Merci, ", "Bonne garde, ", "A+ "])); d.e(r.choice(FIRST)[0], "PRENOM"); d.t("\n")


def clean_only(d, r):
    for s in r.sample(CLEAN, 6):
        d.t(s + " ")


def rcp(d, r):
    members = [person(r) for _ in range(3)]
    f, n, g = person(r)
    d.t("RCP THORACIQUE du "); d.e(date(r), "DATE"); d.t("\nParticipants : ")
    for i, (mf, mn, _) in enumerate(members):
        if i:
            d.t(" ; ")
        d.t("Dr "); d.e(mn, "NOM")
    d.t("\nDossier : "); d.e(n.upper(), "NOM"); d.t(" "); d.e(f, "PRENOM"); d.t(" (DDN "); d.e(birth(r), "DATE_NAISSANCE"); d.t(")\n")
    d.t(r.choice(CLEAN) + "\nAvis : chirurgie par lobectomie, à discuter avec le Pr "); d.e(members[0][1], "NOM"); d.t(".\n")


KINDS = [allcaps_report, narrative, inline_identity, letter, message, clean_only, rcp]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 210
    r = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 777)
    for i in range(n):
        d = Doc()
        k = KINDS[i % len(KINDS)]
        k(d, r)
        print(json.dumps({"id": f"stress{i:04d}", "kind": k.__name__, "text": d.text(), "spans": d.spans}, ensure_ascii=False))


if __name__ == "__main__":
    main()
