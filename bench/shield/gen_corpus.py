#!/usr/bin/env python3
"""Generates the synthetic, annotated French clinical development corpus of
the shield (JSON lines: {"id", "kind", "text", "spans": [{start, end, label}]}).

Offsets are in Unicode code points, like the shield's output. The name,
street and commune lists below are written by hand for this generator and
deliberately differ from the detector's dictionaries: about a third of the
surnames and some first names are invented, so that the evaluation measures
the context rules and not only dictionary look-ups.

Usage: python3 gen_corpus.py [N_DOCS] [SEED] > corpus.jsonl
"""

import json
import random
import sys

FIRST_F = [
    "Marie", "Sophie", "Isabelle", "Nathalie", "Catherine", "Sylvie", "Christine", "Monique",
    "Françoise", "Camille", "Léa", "Chloé", "Manon", "Inès", "Emma", "Jade", "Louise", "Zoé",
    "Anne-Sophie", "Marie-Claire", "Marie-Hélène", "Aïcha", "Fatoumata", "Yasmina", "Nadia",
    "Samira", "Khadija", "Mélanie", "Élodie", "Aurélie", "Séverine", "Ghislaine", "Bernadette",
    "Odette", "Huguette", "Gisèle", "Solène", "Maëlys", "Anaïs", "Clémence", "Agathe",
    "Bérénice", "Capucine", "Ophélie", "Rosalie", "Thi Lan", "Ngoc", "Mei", "Olga", "Svetlana",
    "Priya", "Leïla", "Soazig", "Maïwenn", "Gwenaëlle", "Annick", "Josiane", "Lucienne",
]
FIRST_M = [
    "Jean", "Pierre", "Michel", "Philippe", "Alain", "Nicolas", "Christophe", "Laurent", "Thomas",
    "Julien", "Lucas", "Hugo", "Louis", "Gabriel", "Arthur", "Jean-Pierre", "Jean-Marc",
    "Jean-Baptiste", "Pierre-Yves", "Mohamed", "Karim", "Mamadou", "Moussa", "Youssef", "Rachid",
    "Mehdi", "Thierry", "Gérard", "Bernard", "Jacques", "Yves", "Hervé", "Loïc", "Gaël",
    "Erwan", "Yannick", "Ronan", "Benoît", "Rémi", "Jérôme", "Stéphane", "Frédéric", "Régis",
    "Marcel", "Raymond", "Lucien", "Armand", "Dimitri", "Vladimir", "Ahmed", "Ousmane",
    "Kévin", "Dylan", "Enzo", "Matteo", "Nathan", "Sacha", "Timothée", "Anatole", "Baptiste",
]
# Invented first names that no dictionary holds.
FIRST_OOV = ["Zélinda", "Orlane", "Kaelig", "Maëlane", "Théophraste", "Aldric", "Ysolde", "Naëlle", "Eulalie", "Corentine"]

SURNAMES = [
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Lefèvre", "Mercier", "Dupont", "Lambert",
    "Bonnet", "François", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc",
    "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin", "Morin", "Mathieu", "Clément",
    "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin", "Le Goff", "Le Gall",
    "Le Roux", "Le Bihan", "de La Tour", "de Villiers", "du Pont", "N'Diaye", "N'Guyen", "Ben Saïd",
    "Ben Ahmed", "Da Silva", "Dos Santos", "Van der Berg", "Martin-Lefèvre", "Dupont-Aignan",
    "Nguyen", "Tran", "Diallo", "Traoré", "Cissé", "Kone", "Benali", "Haddad", "Cohen", "Lévy",
    "Kowalski", "Nowak", "Schmitt", "Weber", "Meyer", "Fischer", "Hoarau", "Payet", "Grondin",
    "Kerbrat", "Quéré", "Le Floch", "Guillou", "Morvan", "Jaouen", "Prigent", "Ferreira",
    "Pereira", "Rodrigues", "Fernandes", "Gonçalves", "Mbappé", "Okafor", "Yilmaz", "Öztürk",
    "Abdallah", "El Amrani", "Ait Ouali", "Belkacem", "Boudjemaa", "Chaouch", "Saint-Martin",
]
# Invented surnames, absent from any list: only context can find them.
SURNAMES_OOV = [
    "Kervadec", "Brossolet", "Vanderkelen", "Pouzaquet", "Lemarchadour", "Trignac", "Azoulaine",
    "Mbokolo", "Quintrec", "Fauchereau", "Delavignette", "Rabastens", "Ouedrago", "Tchiakpe",
    "Bellicourt", "Courtemanche", "Grandpierre", "Jouvenot", "Malfilatre", "Pécastaing",
    "Sarrazac", "Vaudrelin", "Zimmerlin", "Hurtebize", "Loubradou", "Cazenobe", "Moutarlier",
    "Pradalié", "Ramondou", "Teyssandier", "Vialatoux", "Bouzigues", "Castagnède", "Fourcadet",
]

COMMUNES = [
    ("Paris", "75013"), ("Paris", "75020"), ("Lyon", "69003"), ("Marseille", "13005"),
    ("Toulouse", "31000"), ("Bordeaux", "33000"), ("Lille", "59000"), ("Nantes", "44000"),
    ("Rennes", "35000"), ("Brest", "29200"), ("Quimper", "29000"), ("Strasbourg", "67000"),
    ("Créteil", "94000"), ("Le Kremlin-Bicêtre", "94270"), ("Villejuif", "94800"),
    ("Boulogne-Billancourt", "92100"), ("Saint-Denis", "93200"), ("Montreuil", "93100"),
    ("Aubervilliers", "93300"), ("Saint-Étienne", "42000"), ("Clermont-Ferrand", "63000"),
    ("Aix-en-Provence", "13100"), ("L'Haÿ-les-Roses", "94240"), ("Issy-les-Moulineaux", "92130"),
    ("Saint-Malo", "35400"), ("Vannes", "56000"), ("Ajaccio", "20000"), ("Bastia", "20200"),
    ("Colmar", "68000"), ("Mulhouse", "68100"), ("Besançon", "25000"), ("Dijon", "21000"),
    ("Limoges", "87000"), ("Poitiers", "86000"), ("La Rochelle", "17000"), ("Angers", "49000"),
    ("Tours", "37000"), ("Orléans", "45000"), ("Chartres", "28000"), ("Évry-Courcouronnes", "91000"),
    ("Saint-Germain-en-Laye", "78100"), ("Pontoise", "95000"), ("Meaux", "77100"),
    ("Fontenay-sous-Bois", "94120"), ("Châtenay-Malabry", "92290"), ("Pointe-à-Pitre", "97110"),
    ("Saint-Pierre", "97410"), ("Fort-de-France", "97200"), ("Lannion", "22300"),
    ("Morlaix", "29600"), ("Douarnenez", "29100"), ("Ploërmel", "56800"), ("Carhaix-Plouguer", "29270"),
    ("Bagnols-sur-Cèze", "30200"), ("Lons-le-Saunier", "39000"), ("Bourg-en-Bresse", "01000"),
]

STREETS = [
    "rue des Lilas", "rue Victor Hugo", "avenue du Général de Gaulle", "boulevard Jean Jaurès",
    "rue de la République", "allée des Tilleuls", "impasse des Acacias", "chemin du Moulin",
    "place de la Mairie", "rue Pasteur", "avenue Foch", "rue du Faubourg Saint-Antoine",
    "quai de la Loire", "rue Saint-Jacques", "boulevard de l'Hôpital", "rue de Kerbrat",
    "route de Brest", "rue du Docteur Roux", "avenue de la Libération", "rue des Écoles",
    "rue Émile Zola", "square des Peupliers", "résidence Les Glycines", "lotissement Le Clos Fleuri",
    "rue Jean Moulin", "avenue Aristide Briand", "rue de Paris", "bd Gambetta", "av. Jean Jaurès",
    "rue du 8 Mai 1945", "rue des Trois Frères", "cours Mirabeau", "lieu-dit Kervenno",
]

HOSPITALS = [
    "Hôpital Bicêtre", "hôpital Pitié-Salpêtrière", "CHU de Bordeaux", "CHU de Rennes",
    "Centre Hospitalier de Versailles", "Clinique Saint-Jean", "Institut Curie",
    "Hôpital Européen Georges Pompidou", "CH de Saint-Malo", "Polyclinique du Parc",
    "hôpital Necker", "Hôpital Avicenne", "Hôpital Henri-Mondor", "CHRU de Brest",
    "Clinique des Cèdres", "Centre Hospitalier Intercommunal de Créteil", "GH Paris Saint-Joseph",
    "Hôpital Lariboisière", "hôpital Tenon", "Hôpital Foch", "clinique Pasteur", "CHU Grenoble Alpes",
    "Hôpital privé d'Antony", "Institut Gustave Roussy", "Centre Léon Bérard", "Hôpital Saint-Louis",
    "maternité Port-Royal", "CH Bretagne Atlantique", "Hôpital Nord Franche-Comté",
]

STREET_NOISE = ["", "bis ", "ter "]
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
          "octobre", "novembre", "décembre"]

# Phrases that must never be masked (medical eponyms, drugs, doses, labs, stages, codes).
TRAPS = [
    "Antécédent de maladie de Parkinson depuis 2015.",
    "Pas de syndrome de Cushing clinique.",
    "Signe de Babinski bilatéral.",
    "Score de Glasgow à 15.",
    "Traitement par Kardégic 75 mg/j et Lasilix 40 mg le matin.",
    "HbA1c à 7,2 % ; créatinine 85 µmol/L ; DFG 72 mL/min/1,73 m².",
    "Adénocarcinome pT2N0M0 (C18.7), grade 2.",
    "Maladie de Crohn iléale (K50.0) sous Humira.",
    "Thyroïdite de Hashimoto substituée par Levothyrox 75 µg.",
    "Cirrhose Child-Pugh B, score MELD à 14.",
    "Fracture de Pouteau-Colles droite consolidée.",
    "Test de Romberg négatif, signe de Lasègue absent.",
    "Dyspnée NYHA II, FEVG 45 %.",
    "EVA à 3/10 ce matin, TA 130/80 mmHg, FC 72/min.",
    "Mutation BRCA2 identifiée, score de Charlson à 4.",
    "Signe de Murphy positif à l'échographie.",
    "Maladie de Horton traitée par Cortancyl 40 mg.",
    "Plaquettes 250 G/L, hémoglobine 11,2 g/dL, CRP 12 mg/L.",
    "Classification de Gleason 3+4, PSA 6,4 ng/mL.",
    "Syndrome de Guillain-Barré en 2019, récupération complète.",
    "Score de Wells intermédiaire, D-dimères à 850 µg/L.",
    "Maladie d'Alzheimer au stade modéré, MMSE 18/30.",
    "Lymphome de Hodgkin en rémission complète.",
    "Insuffisance rénale chronique stade 3b (N18.3).",
    "Patient traité par Eliquis 5 mg x2/j, Bisoprolol 2,5 mg.",
    "Diabète de type 2 (E11.9) sous Metformine 1000 mg matin et soir.",
    "Maladie de Basedow, thyroïdectomie totale.",
    "Échelle de Norton à 14, score de Braden à 16.",
    "Manœuvre de Valsalva sans effet, Holter ECG prévu.",
    "Sonde de Foley retirée à J3.",
    "Tétralogie de Fallot opérée dans l'enfance.",
    "Reprise de Doliprane 1 g si douleur, maximum 4 g/24 h.",
]


class Doc:
    def __init__(self):
        self.parts = []
        self.spans = []
        self.length = 0

    def t(self, s):
        self.parts.append(s)
        self.length += len(s)

    def e(self, s, label):
        if not s:
            return
        self.spans.append({"start": self.length, "end": self.length + len(s), "label": label})
        self.t(s)

    def text(self):
        return "".join(self.parts)


class Person:
    def __init__(self, rng, female=None):
        self.female = rng.random() < 0.5 if female is None else female
        pool = FIRST_F if self.female else FIRST_M
        self.first = rng.choice(FIRST_OOV) if rng.random() < 0.08 else rng.choice(pool)
        self.last = rng.choice(SURNAMES_OOV) if rng.random() < 0.33 else rng.choice(SURNAMES)
        self.civ = ("Mme" if rng.random() < 0.8 else "Madame") if self.female else ("M." if rng.random() < 0.8 else "Monsieur")


def name(doc, rng, p, style=None, title=None):
    """Writes a person's name in one of the layouts seen in clinical text."""
    style = style or rng.choice(["PN", "PN", "NU_P", "P_NU", "N", "NU", "IN", "PNU"])
    if title:
        doc.t(title + " ")
    if style == "PN":
        doc.e(p.first, "PRENOM"); doc.t(" "); doc.e(p.last, "NOM")
    elif style == "PNU":
        doc.e(p.first, "PRENOM"); doc.t(" "); doc.e(p.last.upper(), "NOM")
    elif style == "NU_P":
        doc.e(p.last.upper(), "NOM"); doc.t(" "); doc.e(p.first, "PRENOM")
    elif style == "P_NU":
        doc.e(p.first, "PRENOM"); doc.t(" "); doc.e(p.last.upper(), "NOM")
    elif style == "N":
        doc.e(p.last, "NOM")
    elif style == "NU":
        doc.e(p.last.upper(), "NOM")
    elif style == "IN":
        initials = "-".join(x[0] + "." for x in p.first.replace(" ", "-").split("-"))
        doc.e(initials, "PRENOM"); doc.t(" "); doc.e(p.last, "NOM")


def date_str(rng, y0=2015, y1=2025):
    y = rng.randint(y0, y1); m = rng.randint(1, 12); d = rng.randint(1, 28)
    f = rng.random()
    if f < 0.35:
        return f"{d:02d}/{m:02d}/{y}"
    if f < 0.45:
        return f"{d:02d}/{m:02d}/{y % 100:02d}"
    if f < 0.52:
        return f"{d:02d}.{m:02d}.{y}"
    if f < 0.58:
        return f"{d}-{m:02d}-{y}"
    if f < 0.80:
        return f"{'1er' if d == 1 else d} {MONTHS[m - 1]} {y}"
    if f < 0.88:
        return f"{d} {MONTHS[m - 1]}"
    if f < 0.94:
        return f"{y}-{m:02d}-{d:02d}"
    return f"{MONTHS[m - 1]} {y}"


def birth_str(rng):
    y = rng.randint(1925, 2010); m = rng.randint(1, 12); d = rng.randint(1, 28)
    return rng.choice([f"{d:02d}/{m:02d}/{y}", f"{d} {MONTHS[m - 1]} {y}", f"{d:02d}.{m:02d}.{y}", f"{d:02d}/{m:02d}/{y}"])


def phone(rng):
    first = rng.choice(["01", "02", "03", "04", "05", "06", "07", "09"])
    groups = [first] + [f"{rng.randint(0, 99):02d}" for _ in range(4)]
    f = rng.random()
    if f < 0.35:
        return " ".join(groups)
    if f < 0.5:
        return ".".join(groups)
    if f < 0.6:
        return "-".join(groups)
    if f < 0.7:
        return "".join(groups)
    if f < 0.82:
        return "+33 " + groups[0][1] + " " + " ".join(groups[1:])
    if f < 0.88:
        return "+33 (0)" + groups[0][1] + " " + " ".join(groups[1:])
    if f < 0.94:
        return "0033 " + groups[0][1] + " " + " ".join(groups[1:])
    return " ".join(groups) + " poste " + str(rng.randint(1000, 9999))


def nir(rng, female):
    sex = "2" if female else "1"
    if rng.random() < 0.05:
        sex = rng.choice(["7", "8"])
    yy = f"{rng.randint(20, 99):02d}"; mm = f"{rng.randint(1, 12):02d}"
    dep = rng.choice(["75", "92", "93", "94", "29", "35", "2A", "2B", "13", "69", "59", "99"])
    com = f"{rng.randint(1, 999):03d}"; order = f"{rng.randint(1, 999):03d}"
    body = sex + yy + mm + dep + com + order
    num = int(body.replace("2A", "19").replace("2B", "18"))
    key = 97 - num % 97
    if rng.random() < 0.5:
        return f"{sex} {yy} {mm} {dep} {com} {order} {key:02d}"
    return f"{body}{key:02d}"


def luhn_complete(body):
    for d in range(10):
        s = body + str(d)
        total = 0
        for i, ch in enumerate(reversed(s)):
            x = int(ch)
            if i % 2 == 1:
                x *= 2
                if x > 9:
                    x -= 9
            total += x
        if total % 10 == 0:
            return s
    raise ValueError


def iban(rng):
    bban = "".join(str(rng.randint(0, 9)) for _ in range(23))
    num = int("".join(str(int(c, 36)) for c in bban + "FR00"))
    check = 98 - num % 97
    raw = f"FR{check:02d}{bban}"
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def mail_of(rng, p):
    import unicodedata
    def plain(s):
        return "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn").lower().replace(" ", "").replace("'", "")
    dom = rng.choice(["gmail.com", "orange.fr", "free.fr", "aphp.fr", "chu-rennes.fr", "wanadoo.fr", "laposte.net", "hotmail.fr"])
    return rng.choice([f"{plain(p.first)}.{plain(p.last)}@{dom}", f"{plain(p.first)[0]}{plain(p.last)}@{dom}", f"{plain(p.last)}{rng.randint(1, 99)}@{dom}"])


def address(doc, rng, with_city=True):
    num = str(rng.randint(1, 180))
    street = rng.choice(STREETS)
    if street.startswith(("lieu-dit", "résidence", "lotissement")):
        doc.e(street, "ADRESSE")
    else:
        doc.e(f"{num} {rng.choice(STREET_NOISE)}{street}", "ADRESSE")
    if with_city:
        c, z = rng.choice(COMMUNES)
        doc.t(", " if rng.random() < 0.6 else "\n")
        doc.e(z, "ZIP"); doc.t(" ")
        doc.e(c.upper() if rng.random() < 0.2 else c, "VILLE")


def ipp(rng):
    return "80" + "".join(str(rng.randint(0, 9)) for _ in range(8))


def nda(rng):
    return "".join(str(rng.randint(0, 9)) for _ in range(9))


def rpps(rng):
    return luhn_complete("10" + "".join(str(rng.randint(0, 9)) for _ in range(8)))


def finess(rng):
    return luhn_complete(rng.choice(["75", "92", "94", "29", "35", "69"]) + "".join(str(rng.randint(0, 9)) for _ in range(6)))


def trap(doc, rng, k=2):
    for s in rng.sample(TRAPS, k):
        doc.t(s + " ")


# ---------------------------------------------------------------- documents

def crh(doc, rng):
    pat = Person(rng); dr = Person(rng); intern = Person(rng); mt = Person(rng)
    hop = rng.choice(HOSPITALS)
    doc.e(hop, "HOPITAL"); doc.t(" – Service de médecine interne\n")
    doc.t("Tél. secrétariat : "); doc.e(phone(rng), "TEL"); doc.t("\n\n")
    doc.t("COMPTE RENDU D'HOSPITALISATION\n\n")
    doc.t("Patient : "); name(doc, rng, pat, rng.choice(["NU_P", "PN", "PNU"])); doc.t(", né" + ("e" if pat.female else "") + " le ")
    doc.e(birth_str(rng), "DATE_NAISSANCE"); doc.t("\nIPP : "); doc.e(ipp(rng), "IPP")
    doc.t(" – NDA : "); doc.e(nda(rng), "NDA"); doc.t("\n")
    doc.t("Adresse : "); address(doc, rng); doc.t("\n")
    doc.t("Hospitalisation du "); doc.e(date_str(rng), "DATE"); doc.t(" au "); doc.e(date_str(rng), "DATE"); doc.t("\n\n")
    doc.t("Motif : " + rng.choice(["altération de l'état général", "dyspnée fébrile", "chute à domicile", "douleur thoracique"]) + ".\n")
    doc.t("Antécédents : "); trap(doc, rng, 3); doc.t("\n")
    doc.t("Histoire de la maladie : " + pat.civ + " "); name(doc, rng, pat, rng.choice(["N", "NU"]))
    doc.t(f", {rng.randint(30, 88)} ans, est adressé" + ("e" if pat.female else "") + " par le Dr ")
    name(doc, rng, mt, rng.choice(["N", "PN", "IN"])); doc.t(" pour bilan. ")
    trap(doc, rng, 2); doc.t("\n")
    if rng.random() < 0.4:
        doc.t("Sa fille, ")
        name(doc, rng, Person(rng, True), "PN"); doc.t(", joignable au "); doc.e(phone(rng), "TEL"); doc.t(", est la personne de confiance.\n")
    doc.t("Évolution favorable. Sortie le "); doc.e(date_str(rng), "DATE"); doc.t(".\n\n")
    doc.t("Rendez-vous de contrôle avec le Pr "); name(doc, rng, dr, rng.choice(["N", "PN", "NU"])); doc.t(" le "); doc.e(date_str(rng), "DATE"); doc.t(".\n\n")
    doc.t("Dr "); name(doc, rng, intern, rng.choice(["PN", "P_NU", "IN"])); doc.t(", interne\n")
    doc.t("Pr "); name(doc, rng, dr, "PN"); doc.t(" – RPPS "); doc.e(rpps(rng), "RPPS"); doc.t("\n")
    doc.t("Copie : Dr "); name(doc, rng, mt, rng.choice(["PN", "N"])); doc.t(", médecin traitant, ")
    address(doc, rng); doc.t("\n")


def letter(doc, rng):
    pat = Person(rng); dr = Person(rng); conf = Person(rng)
    c, z = rng.choice(COMMUNES)
    doc.e(c, "VILLE"); doc.t(", le "); doc.e(date_str(rng), "DATE"); doc.t("\n\n")
    doc.t("Docteur "); name(doc, rng, conf, rng.choice(["PN", "P_NU"])); doc.t("\n"); address(doc, rng); doc.t("\n\n")
    doc.t("Cher confrère,\n\n")
    doc.t("J'ai revu en consultation " + ("votre patiente " if pat.female else "votre patient ") + pat.civ + " ")
    name(doc, rng, pat); doc.t(", âgé" + ("e" if pat.female else "") + " de ")
    age = rng.randint(18, 104)
    if age > 89:
        doc.e(str(age), "AGE")
    else:
        doc.t(str(age))
    doc.t(" ans, que vous m'aviez adressé" + ("e" if pat.female else "") + " pour avis. ")
    trap(doc, rng, 2)
    doc.t("Je " + rng.choice(["le", "la"]) + " reverrai en " + rng.choice(MONTHS) + ". ")
    if rng.random() < 0.5:
        doc.t("Son épouse nous a joints au "); doc.e(phone(rng), "TEL"); doc.t(". ")
    doc.t("\n\nJe vous prie de croire, cher confrère, en mes sentiments les meilleurs.\n\n")
    doc.t("Dr "); name(doc, rng, dr, rng.choice(["PN", "P_NU", "IN"])); doc.t("\n")
    doc.e(rng.choice(HOSPITALS), "HOPITAL"); doc.t(" – FINESS "); doc.e(finess(rng), "FINESS"); doc.t("\n")


def prescription(doc, rng):
    pat = Person(rng); dr = Person(rng)
    doc.t("Dr "); name(doc, rng, dr, rng.choice(["PN", "P_NU"])); doc.t("\nMédecine générale\n")
    address(doc, rng); doc.t("\nTél : "); doc.e(phone(rng), "TEL"); doc.t("\nN° RPPS : "); doc.e(rpps(rng), "RPPS"); doc.t("\n\n")
    doc.t("Le "); doc.e(date_str(rng), "DATE"); doc.t("\n\n")
    name(doc, rng, pat, rng.choice(["NU_P", "PN", "PNU"]), title=pat.civ); doc.t("\nNé" + ("e" if pat.female else "") + " le ")
    doc.e(birth_str(rng), "DATE_NAISSANCE"); doc.t(f" – {rng.randint(40, 95)} kg\n\n")
    doc.t("- Metformine 850 mg : 1 comprimé matin et soir, QSP 3 mois\n- Paracétamol 1 g : si douleur, max 3/j\n")
    doc.t("- Kardégic 75 mg : 1 sachet par jour\n\nN° de sécurité sociale : "); doc.e(nir(rng, pat.female), "SECU"); doc.t("\n")


def rcp(doc, rng):
    pat = Person(rng)
    doc.t("RÉUNION DE CONCERTATION PLURIDISCIPLINAIRE – ONCOLOGIE DIGESTIVE\n")
    doc.t("Date de la RCP : "); doc.e(date_str(rng), "DATE"); doc.t("\n")
    doc.t("Présents : ")
    members = [Person(rng) for _ in range(rng.randint(3, 5))]
    for i, m in enumerate(members):
        if i:
            doc.t(", ")
        t = rng.choice(["Dr", "Pr", "Dr", "Mme", "M."]) if rng.random() < 0.7 else None
        name(doc, rng, m, rng.choice(["PN", "NU", "N", "P_NU", "IN"]) if t else rng.choice(["PN", "NU_P", "P_NU"]), title=t)
        doc.t(" (" + rng.choice(["oncologue", "chirurgien", "radiologue", "IDE de coordination", "anatomopathologiste"]) + ")")
    doc.t("\n\nPatient : "); name(doc, rng, pat, rng.choice(["NU_P", "PN"])); doc.t(" – DDN : "); doc.e(birth_str(rng), "DATE_NAISSANCE")
    doc.t(" – IPP "); doc.e(ipp(rng), "IPP"); doc.t("\n")
    doc.t("Centre d'origine : "); doc.e(rng.choice(HOSPITALS), "HOPITAL"); doc.t("\n")
    doc.t("Histoire : "); trap(doc, rng, 3); doc.t("\n")
    doc.t("Proposition : chimiothérapie FOLFOX 6 cycles puis réévaluation. Dossier présenté par le Dr ")
    name(doc, rng, members[0], "N"); doc.t(".\n")


def nurse(doc, rng):
    pat = Person(rng); ide = Person(rng, True)
    doc.t("Transmissions ciblées – chambre 12 – "); name(doc, rng, pat, rng.choice(["NU_P", "NU"]), title=pat.civ); doc.t("\n")
    doc.t("Le "); doc.e(date_str(rng), "DATE"); doc.t(" à 14h : ")
    doc.t("patient" + ("e" if pat.female else "") + " algique, EVA 6/10, Skenan 10 mg donné. ")
    if rng.random() < 0.6:
        doc.t("Appel de sa fille "); name(doc, rng, Person(rng, True), rng.choice(["PN"]))
        doc.t(" au "); doc.e(phone(rng), "TEL"); doc.t(". ")
    if rng.random() < 0.5:
        doc.t("Visite de son fils "); doc.e(Person(rng, False).first, "PRENOM"); doc.t(" ce soir. ")
    trap(doc, rng, 1)
    doc.t("\n" + rng.choice(["IDE : ", "Infirmière : ", "IDE "]))
    name(doc, rng, ide, rng.choice(["PN", "P_NU", "IN"])); doc.t("\n")


def email(doc, rng):
    a = Person(rng); b = Person(rng); pat = Person(rng)
    doc.t("De : "); name(doc, rng, a, "PN"); doc.t(" <"); doc.e(mail_of(rng, a), "MAIL"); doc.t(">\n")
    doc.t("À : "); doc.e(mail_of(rng, b), "MAIL"); doc.t("\n")
    doc.t("Objet : RE: " + ("Mme " if pat.female else "M. ")); name(doc, rng, pat, rng.choice(["NU", "N"])); doc.t("\n\n")
    doc.t("Bonjour "); doc.e(b.first, "PRENOM"); doc.t(",\n\n")
    doc.t("Je te confirme que " + ("Mme " if pat.female else "M. ")); name(doc, rng, pat, "N")
    doc.t(" sera vu" + ("e" if pat.female else "") + " le "); doc.e(date_str(rng), "DATE")
    doc.t(" en hôpital de jour. ")
    trap(doc, rng, 1)
    doc.t("Tu peux me joindre au "); doc.e(phone(rng), "TEL"); doc.t(" ou voir "); doc.e("https://www.doctolib.fr/medecin/" + rng.choice(["paris", "rennes", "lyon"]) + "/" + a.last.lower().replace(" ", "-").replace("'", ""), "URL"); doc.t(".\n\n")
    doc.t(rng.choice(["Bien à toi,", "Amitiés,", "Cordialement,", "Bises,"]) + "\n"); doc.e(a.first, "PRENOM"); doc.t("\n")


def sms(doc, rng):
    a = Person(rng); pat = Person(rng)
    doc.t(rng.choice(["Salut ", "Coucou ", "Bonjour "])); doc.e(a.first, "PRENOM")
    doc.t(", " + ("Mme " if pat.female else "M. ")); name(doc, rng, pat, rng.choice(["N", "NU"]))
    doc.t(" est sorti" + ("e" if pat.female else "") + " ce matin, rappelle-moi au "); doc.e(phone(rng), "TEL"); doc.t(" stp. ")
    if rng.random() < 0.5:
        doc.t("Son adresse : "); address(doc, rng); doc.t(". ")
    doc.t("Merci ! " + rng.choice(["", "Bises "])); doc.e(Person(rng).first, "PRENOM")


def operative(doc, rng):
    pat = Person(rng); op = Person(rng); anes = Person(rng)
    doc.t("COMPTE RENDU OPÉRATOIRE\n")
    doc.t("Nom : "); doc.e(pat.last.upper(), "NOM"); doc.t("\nPrénom : "); doc.e(pat.first, "PRENOM"); doc.t("\n")
    doc.t("Date de naissance : "); doc.e(birth_str(rng), "DATE_NAISSANCE"); doc.t("\n")
    doc.t("N° de séjour : "); doc.e(nda(rng), "NDA"); doc.t("\n")
    doc.t("Date de l'intervention : "); doc.e(date_str(rng), "DATE"); doc.t("\n")
    doc.t("Opérateur : Dr "); name(doc, rng, op, rng.choice(["PN", "P_NU"])); doc.t("\n")
    doc.t("Anesthésiste : "); name(doc, rng, anes, "PN", title="Dr"); doc.t("\n\n")
    doc.t("Cholécystectomie par cœlioscopie. Incision de Pfannenstiel évitée. Triangle de Calot disséqué. ")
    trap(doc, rng, 1); doc.t("\nSuites simples.\n")


def imaging(doc, rng):
    pat = Person(rng); rad = Person(rng)
    doc.e(rng.choice(HOSPITALS), "HOPITAL"); doc.t(" – Service d'imagerie médicale\n")
    doc.t("Examen du "); doc.e(date_str(rng), "DATE"); doc.t("\n")
    doc.t("Patient(e) : "); name(doc, rng, pat, rng.choice(["NU_P", "PNU"])); doc.t(" (")
    doc.e(birth_str(rng), "DATE_NAISSANCE"); doc.t(")\nIdentifiant patient : "); doc.e(ipp(rng), "IPP"); doc.t("\n")
    doc.t("Indication : suspicion d'embolie pulmonaire, score de Wells à 5.\n")
    doc.t("Résultat : pas de défect endoluminal. Comparaison avec l'examen de " + rng.choice(MONTHS) + " réalisé à ")
    c, z = rng.choice(COMMUNES); doc.e(c, "VILLE"); doc.t(".\n")
    doc.t("Compte rendu validé par le Dr "); name(doc, rng, rad, rng.choice(["PN", "N", "P_NU"])); doc.t(".\n")


def social(doc, rng):
    pat = Person(rng); tut = Person(rng)
    doc.t("Note de l'assistante sociale – "); doc.e(date_str(rng), "DATE"); doc.t("\n")
    doc.t(pat.civ + " "); name(doc, rng, pat, rng.choice(["PN", "NU_P"])); doc.t(", ")
    age = rng.randint(90, 103); doc.e(str(age), "AGE"); doc.t(" ans, vit seul" + ("e" if pat.female else "") + " au ")
    address(doc, rng); doc.t(". ")
    doc.t("Sous tutelle : tuteur "); name(doc, rng, tut, "PN", title=tut.civ); doc.t(", tél. "); doc.e(phone(rng), "TEL"); doc.t(". ")
    doc.t("N° sécu "); doc.e(nir(rng, pat.female), "SECU"); doc.t(". Coordonnées bancaires pour l'APA : IBAN "); doc.e(iban(rng), "IBAN"); doc.t(".\n")
    doc.t("Demande d'EHPAD à ")
    c, z = rng.choice(COMMUNES); doc.e(c, "VILLE"); doc.t(" en cours. ")
    trap(doc, rng, 1)


def urgences(doc, rng):
    pat = Person(rng); sen = Person(rng)
    doc.t("SAU – Observation médicale\n")
    doc.e(pat.last.upper(), "NOM"); doc.t(" "); doc.e(pat.first, "PRENOM"); doc.t(" – ")
    doc.e(birth_str(rng), "DATE_NAISSANCE"); doc.t(" – "); doc.e(phone(rng), "TEL"); doc.t("\n")
    doc.t("Arrivée le "); doc.e(date_str(rng), "DATE"); doc.t(" par les pompiers depuis son domicile de ")
    c, z = rng.choice(COMMUNES); doc.e(c, "VILLE"); doc.t(". ")
    trap(doc, rng, 2)
    doc.t("Transfert vers "); doc.e(rng.choice(HOSPITALS), "HOPITAL"); doc.t(" discuté avec le Dr "); name(doc, rng, sen, rng.choice(["N", "PN"])); doc.t(".\n")
    doc.t("Senior : "); name(doc, rng, sen, rng.choice(["PN", "P_NU", "NU_P"])); doc.t("\n")


KINDS = [crh, letter, prescription, rcp, nurse, email, sms, operative, imaging, social, urgences]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 440
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 20260101
    rng = random.Random(seed)
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        doc = Doc()
        kind(doc, rng)
        print(json.dumps({"id": f"doc{i:04d}", "kind": kind.__name__, "text": doc.text(), "spans": doc.spans}, ensure_ascii=False))


if __name__ == "__main__":
    main()
