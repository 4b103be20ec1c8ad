"""Vocabulary of synthetic extractions: French names, professions, specialities, cities, structures.

Profession codes are those of the nomenclature TRE_G15-ProfessionSante; speciality (savoir-faire)
codes and labels follow TRE_R38 and are given for realism, not as a reference.
"""

from __future__ import annotations

# fmt: off

FIRST_NAMES = (
    "Jean", "Marie", "Pierre", "Anne", "Michel", "Françoise", "Philippe", "Isabelle", "Alain", "Catherine",
    "Nicolas", "Sophie", "François", "Nathalie", "Éric", "Valérie", "Laurent", "Sandrine", "Stéphane",
    "Céline", "Frédéric", "Hélène", "Jérôme", "Émilie", "Sébastien", "Aurélie", "Thierry", "Véronique",
    "Christophe", "Élodie", "Julien", "Camille", "Thomas", "Léa", "Antoine", "Chloé", "Maxime", "Manon",
    "Guillaume", "Inès", "Benoît", "Agnès", "Grégoire", "Noémie", "Jean-Marie", "Marie-Hélène", "Hervé",
    "Béatrice", "Loïc", "Gaëlle", "Cédric", "Mélanie", "Rémi", "Clémence", "Raphaël", "Zoé", "Joël", "Maëlle",
    "Yannick", "Solène", "Jean-François", "Anne-Sophie", "Bérénice", "Timothée", "Aurélien",
)

FEMININE = frozenset({
    "Agnès", "Anne", "Anne-Sophie", "Aurélie", "Béatrice", "Bérénice", "Camille", "Catherine", "Chloé",
    "Clémence", "Céline", "Françoise", "Gaëlle", "Hélène", "Inès", "Isabelle", "Léa", "Manon", "Marie",
    "Marie-Hélène", "Maëlle", "Mélanie", "Nathalie", "Noémie", "Sandrine", "Solène", "Sophie", "Valérie",
    "Véronique", "Zoé", "Élodie", "Émilie",
})

LAST_NAMES = (
    "MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU", "LAURENT",
    "SIMON", "MICHEL", "LEFÈVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL", "FOURNIER", "GIRARD",
    "BONNET", "DUPONT", "LAMBERT", "FONTAINE", "ROUSSEAU", "VINCENT", "MULLER", "LEFEBVRE", "FAURE", "ANDRÉ",
    "MERCIER", "BLANC", "GUÉRIN", "BOYER", "GARNIER", "CHEVALIER", "FRANÇOIS", "LEGRAND", "GAUTHIER",
    "GARCIA", "PERRIN", "ROBIN", "CLÉMENT", "MORIN", "NICOLAS", "HENRY", "ROUSSEL", "MATHIEU", "GAUTIER",
    "MASSON", "MARCHAND", "DUVAL", "DENIS", "DUMONT", "MARIE", "LEMAIRE", "NOËL", "MEYER", "DUFOUR",
    "MEUNIER", "BRUN", "BLANCHARD", "GIRAUD", "JOLY", "RIVIÈRE", "LUCAS", "BRUNET", "GAILLARD", "BARBIER",
    "ARNAUD", "MARTINEZ", "GÉRARD", "ROCHE", "RENARD", "SCHMITT", "ROY", "LEROUX", "COLIN", "VIDAL", "CARON",
    "PICARD", "ROGER", "FABRE", "AUBERT", "LEMOINE", "RENAUD", "DUMAS", "LACROIX", "OLIVIER", "PHILIPPE",
    "BOURGEOIS", "PIERRE", "BENOÎT", "REY", "LECLERC", "PAYET", "ROLLAND", "LE GALL", "LE ROUX", "COURTOIS",
    "BÉRARD", "DESCHAMPS", "HUET", "PRÉVOST", "CÔTÉ", "D'ALMEIDA", "SAINT-JUST", "LÉVÊQUE", "BÉGUIN",
    "COCHET", "MAILLARD", "JACQUET", "HÉBERT", "PELLETIER", "NGUYEN",
)

# (code, label, weight, national domain, civility of practice, specialities)
PROFESSIONS = (
    ("10", "Médecin", 45, "medecin.mssante.fr", "DR", (
        ('SM26', 'Qualifié en Médecine Générale'), ('SM54', 'Médecine Générale'),
        ('SM04', 'Cardiologie et maladies vasculaires'), ('SM02', 'Anesthésie-réanimation'),
        ('SM15', 'Gynécologie-obstétrique'), ('SM40', 'Pédiatrie'), ('SM42', 'Psychiatrie'),
        ('SM44', 'Radio-diagnostic'), ('SM38', 'Ophtalmologie'), ('SM16', 'Dermatologie et vénéréologie'),
        ('SM53', 'Chirurgie orthopédique et traumatologie'), ('SM33', 'Neurologie'),
    )),
    ("60", "Infirmier", 20, "infirmier.mssante.fr", "", ()),
    ("21", "Pharmacien", 10, "pharmacien.mssante.fr", "DR", (
        ('G15_21/A', "Pharmacien titulaire d'officine"), ('G15_21/H', 'Pharmacien hospitalier'),
    )),
    ("70", "Masseur-Kinésithérapeute", 8, "masseur-kinesitherapeute.mssante.fr", "", ()),
    ("40", "Chirurgien-Dentiste", 6, "chirurgien-dentiste.mssante.fr", "DR", (
        ('SCD01', 'Orthopédie dento-faciale'), ('SCD02', 'Chirurgie orale'),
        ('SCD03', 'Médecine bucco-dentaire'),
    )),
    ("50", "Sage-Femme", 4, "sagefemme.mssante.fr", "", ()),
    ("80", "Pédicure-Podologue", 2, "pedicure-podologue.mssante.fr", "", ()),
    ("91", "Orthophoniste", 2, "orthophoniste.mssante.fr", "", ()),
    ("92", "Orthoptiste", 1, "orthoptiste.mssante.fr", "", ()),
    ("96", "Psychomotricien", 1, "psychomotricien.mssante.fr", "", ()),
    ("94", "Ergothérapeute", 1, "ergotherapeute.mssante.fr", "", ()),
)

# (postal code, city, department, CEDEX postal code)
CITIES = (
    ('75013', 'PARIS', '75', '75651'), ('75015', 'PARIS', '75', '75908'),
    ('13005', 'MARSEILLE', '13', '13385'), ('69003', 'LYON', '69', '69437'),
    ('31059', 'TOULOUSE', '31', '31059'), ('06000', 'NICE', '06', '06202'),
    ('44093', 'NANTES', '44', '44093'), ('34295', 'MONTPELLIER', '34', '34295'),
    ('67091', 'STRASBOURG', '67', '67091'), ('33076', 'BORDEAUX', '33', '33076'),
    ('59037', 'LILLE', '59', '59037'), ('35033', 'RENNES', '35', '35033'), ('51092', 'REIMS', '51', '51092'),
    ('42055', 'SAINT-ÉTIENNE', '42', '42055'), ('83100', 'TOULON', '83', '83056'),
    ('76031', 'ROUEN', '76', '76031'), ('38043', 'GRENOBLE', '38', '38043'),
    ('21079', 'DIJON', '21', '21079'), ('49933', 'ANGERS', '49', '49933'), ('30029', 'NÎMES', '30', '30029'),
    ('63003', 'CLERMONT-FERRAND', '63', '63003'), ('72037', 'LE MANS', '72', '72037'),
    ('29609', 'BREST', '29', '29609'), ('37044', 'TOURS', '37', '37044'), ('80054', 'AMIENS', '80', '80054'),
    ('87042', 'LIMOGES', '87', '87042'), ('25030', 'BESANÇON', '25', '25030'),
    ('86021', 'POITIERS', '86', '86021'), ('54035', 'NANCY', '54', '54035'), ('57038', 'METZ', '57', '57038'),
    ('14033', 'CAEN', '14', '14033'), ('68070', 'MULHOUSE', '68', '68070'),
    ('66046', 'PERPIGNAN', '66', '66046'), ('64109', 'BAYONNE', '64', '64109'),
    ('97400', 'SAINT-DENIS', '974', '97405'), ('20000', 'AJACCIO', '2A', '20303'),
    ('84000', 'AVIGNON', '84', '84902'), ('17019', 'LA ROCHELLE', '17', '17019'),
    ('18020', 'BOURGES', '18', '18020'), ('05000', 'GAP', '05', '05007'), ('74000', 'ANNECY', '74', '74011'),
    ('62000', 'ARRAS', '62', '62022'), ('01000', 'BOURG-EN-BRESSE', '01', '01012'),
)

STREET_TYPES = (
    "RUE", "AV", "BD", "PL", "CHE", "ALL", "QUAI", "RTE",
)

STREET_NAMES = (
    "DE LA RÉPUBLIQUE", "VICTOR HUGO", "JEAN JAURÈS", "DU GÉNÉRAL DE GAULLE", "PASTEUR", "DES LILAS",
    "DE LA GARE", "DU MARÉCHAL FOCH", "GAMBETTA", "DE L'HÔPITAL", "SAINT-MICHEL", "DES ÉCOLES",
    "ANATOLE FRANCE", "DU PORT", "CLAUDE BERNARD", "DES TILLEULS", "LOUIS ARMAND", "DE VERDUN",
)

# (kind of structure, name pattern, domain pattern, weight)
STRUCTURES = (
    ("CHU", "CENTRE HOSPITALIER UNIVERSITAIRE {of_city}", "chu-{slug}.mssante.fr", 3),
    ("CH", "CENTRE HOSPITALIER {of_city}", "ch-{slug}.mssante.fr", 4),
    ("CLINIQUE", "CLINIQUE {saint} {of_city}", "clinique-{saint_slug}-{slug}.mssante.fr", 2),
    ("CABINET", "CABINET MÉDICAL {street}", "", 6),
    ("PHARMACIE", "PHARMACIE {street}", "", 3),
    ("MSP", "MAISON DE SANTÉ PLURIPROFESSIONNELLE {of_city}", "msp-{slug}.mssante.fr", 2),
    ("EHPAD", "EHPAD LES {flower}", "ehpad-{flower_slug}-{slug}.mssante.fr", 1),
)

SAINTS = (
    "SAINT-JOSEPH", "SAINTE-MARIE", "SAINT-MARTIN", "DU PARC", "DES CÈDRES", "SAINT-GEORGES", "BELLEDONNE",
)

FLOWERS = (
    "GLYCINES", "MIMOSAS", "TILLEULS", "ÉRABLES", "PRIMEVÈRES", "CHÊNES",
)

SERVICES = (
    ('cardiologie', 'Service de cardiologie'), ('urgences', 'Urgences adultes'), ('pediatrie', 'Pédiatrie'),
    ('radiologie', 'Imagerie médicale'), ('maternite', 'Maternité'), ('oncologie', 'Oncologie médicale'),
    ('secretariat', 'Secrétariat médical'), ('laboratoire', 'Laboratoire de biologie médicale'),
    ('pui', 'Pharmacie à usage intérieur'), ('medecine-interne', 'Médecine interne'),
    ('geriatrie', 'Gériatrie'), ('neurologie', 'Neurologie'), ('chirurgie', 'Chirurgie viscérale'),
    ('psychiatrie', 'Psychiatrie adulte'), ('dim', "Département d'information médicale"),
    ('bloc', 'Bloc opératoire'), ('reanimation', 'Réanimation'), ('nephrologie', 'Néphrologie'),
)
# fmt: on
