"""PII pseudonymisation: what must be found, what must never be touched, and stable placeholders."""

from __future__ import annotations

import re
import sys

import pytest

from owd.extract.pii import (_CASE_ODD, _KEYWORD_HINTS, _PHONE_KEYWORD_RE, PII_KINDS, PiiConfig, annotate, find_pii,
                             iban_valid, placeholder, pseudonymise)
from owd.core.schema import Document, PiiCounts
from owd.core.typed_config import ConfigError, build


def make_iban(country: str, bban: str, spaced: bool = False) -> str:
    """A valid IBAN: ISO 13616 check digits = 98 - (BBAN + country + "00" as digits) mod 97."""
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    iban = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4)) if spaced else iban


# Basic bank account numbers of the right length per country (made up; check digits computed).
BBANS = {
    "DE": "370400440532013000", "FR": "20041010050500013M02606", "NL": "ABNA0417164300",
    "BE": "539007547034", "SI": "263300012039086", "IT": "X0542811101000000123456",
    "ES": "21000418450200051332", "PL": "109010140000071219812874", "MT": "MALT011000012345MTLCAST001S",
    "AT": "1904300234573201", "IE": "AIBK93115212345678", "HR": "10010051863000160",
    "RO": "AAAA1B31007593840000", "BG": "BNBG96611020345678", "LV": "BANK0000435195001",
    "FI": "12345600000785", "SE": "50000000058398257466", "PT": "000201231234567890154",
}
IBANS = {cc: make_iban(cc, bban, spaced=i % 2 == 0) for i, (cc, bban) in enumerate(sorted(BBANS.items()))}


def test_known_iban_examples_validate() -> None:
    # Published example IBANs (ISO 13616 / national bank documentation).
    for iban in ("DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "NL91ABNA0417164300",
                 "FR1420041010050500013M02606", "BE68539007547034", "SI56263300012039086"):
        assert iban_valid(iban), iban
    assert make_iban("DE", "370400440532013000") == "DE89370400440532013000"


@pytest.mark.parametrize("cc", sorted(BBANS))
def test_generated_ibans_validate_and_one_changed_digit_does_not(cc: str) -> None:
    iban = IBANS[cc].replace(" ", "")
    assert iban_valid(iban)
    last = iban[-1]
    broken = iban[:-1] + ("0" if last != "0" else "1") if last.isdigit() else iban[:-2] + "00"
    assert not iban_valid(broken)
    assert not iban_valid(iban + "0") and not iban_valid(iban[:-1])  # wrong length for the country


# --------------------------------------------------------------------------- labelled set

# (text, [(kind, exact text that must be replaced), ...])
POSITIVES: list[tuple[str, list[tuple[str, str]]]] = [
    # e-mail: plain, plus-addressing, subdomains, IDN (Unicode and punycode), EAI, upper case
    ("Schreiben Sie an max.mustermann+news@beispiel.de.", [("email", "max.mustermann+news@beispiel.de")]),
    ("Contact: marie-claire.dupont@mairie-paris.fr ou jan.novak@seznam.cz",
     [("email", "marie-claire.dupont@mairie-paris.fr"), ("email", "jan.novak@seznam.cz")]),
    ("Pišite na info@občina-kranj.si ali kontakt@müller-bäckerei.de",
     [("email", "info@občina-kranj.si"), ("email", "kontakt@müller-bäckerei.de")]),
    ("punycode: info@xn--mller-kva.de, mailto:first.last@sub.domain.co.uk",
     [("email", "info@xn--mller-kva.de"), ("email", "first.last@sub.domain.co.uk")]),
    ("Στείλτε στο ελένη@παράδειγμα.ελ σήμερα.", [("email", "ελένη@παράδειγμα.ελ")]),
    ("(USER_42@EXAMPLE.COM)", [("email", "USER_42@EXAMPLE.COM")]),
    # phones, international
    ("Pokličite +386 1 234 56 78 med 8. in 16. uro.", [("phone", "+386 1 234 56 78")]),
    ("Rufen Sie +49 (0)30 1234567 oder 0049 30 1234567 an.",
     [("phone", "+49 (0)30 1234567"), ("phone", "0049 30 1234567")]),
    ("Appelez le +33 1 23 45 67 89.", [("phone", "+33 1 23 45 67 89")]),
    ("UK office: +44 20 7946 0958; US: +1 (555) 123-4567.",
     [("phone", "+44 20 7946 0958"), ("phone", "+1 (555) 123-4567")]),
    ("Bel +31 20 123 4567 of +32 2 123 45 67.", [("phone", "+31 20 123 4567"), ("phone", "+32 2 123 45 67")]),
    ("Chiamare +39 06 1234 5678, llamar +34 912 345 678.",
     [("phone", "+39 06 1234 5678"), ("phone", "+34 912 345 678")]),
    ("Zadzwoń +48 22 123 45 67, volejte +420 123 456 789.",
     [("phone", "+48 22 123 45 67"), ("phone", "+420 123 456 789")]),
    ("Soita +358 9 123 4567 tai ring +46 8 123 456 78.",
     [("phone", "+358 9 123 4567"), ("phone", "+46 8 123 456 78")]),
    ("+30 210 123 4567 · +36 1 234 5678 · +351 213 456 789 · +40 21 123 4567",
     [("phone", "+30 210 123 4567"), ("phone", "+36 1 234 5678"), ("phone", "+351 213 456 789"),
      ("phone", "+40 21 123 4567")]),
    ("+385 1 2345 678, +370 5 123 4567, +371 6712 3456, +372 612 3456, +356 2123 4567",
     [("phone", "+385 1 2345 678"), ("phone", "+370 5 123 4567"), ("phone", "+371 6712 3456"),
      ("phone", "+372 612 3456"), ("phone", "+356 2123 4567")]),
    ("+352 12 34 56, +45 12 34 56 78, +421 2 1234 5678, +359 2 123 4567, +43 1 234567",
     [("phone", "+352 12 34 56"), ("phone", "+45 12 34 56 78"), ("phone", "+421 2 1234 5678"),
      ("phone", "+359 2 123 4567"), ("phone", "+43 1 234567")]),
    # phones, national formats with the trunk 0
    ("Call (01) 234-5678 today.", [("phone", "(01) 234-5678")]),
    ("Tel. 030 1234567, Fax 030/123 45 68", [("phone", "030 1234567"), ("phone", "030/123 45 68")]),
    ("Numéro : 01 23 45 67 89.", [("phone", "01 23 45 67 89")]),
    ("Bel 06-12345678 of 020 7946 0958.", [("phone", "06-12345678"), ("phone", "020 7946 0958")]),
    ("Ring 08-123 456 78 eller hívja: 06 1 234 5678.", [("phone", "08-123 456 78"), ("phone", "06 1 234 5678")]),
    # phones, bare numbers after a phone keyword (countries without a trunk 0)
    ("Tel.: 912 34 56 78 (Madrid)", [("phone", "912 34 56 78")]),
    ("tel. 22 123 45 67, Tlf. 12 34 56 78", [("phone", "22 123 45 67"), ("phone", "12 34 56 78")]),
    ("τηλ. 210 1234567 — тел. 02 123 4567 — puh. 040 123 4567",
     [("phone", "210 1234567"), ("phone", "02 123 4567"), ("phone", "040 123 4567")]),
    ("Telefonnummer: 0301234567", [("phone", "0301234567")]),
    # IP addresses
    ("Requests from 192.168.1.20 and 203.0.113.45 were blocked.",
     [("ip", "192.168.1.20"), ("ip", "203.0.113.45")]),
    ("DNS 8.8.8.8, gateway 10.0.0.1.", [("ip", "8.8.8.8"), ("ip", "10.0.0.1")]),
    ("IPv6 2001:db8::8a2e:370:7334 and fe80::1ff:fe23:4567:890a",
     [("ip", "2001:db8::8a2e:370:7334"), ("ip", "fe80::1ff:fe23:4567:890a")]),
    ("full form 2001:0db8:85a3:0000:0000:8a2e:0370:7334, mapped ::ffff:192.0.2.128",
     [("ip", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"), ("ip", "::ffff:192.0.2.128")]),
    # IBANs, with and without spaces, several countries
    ("IBAN: DE89 3704 0044 0532 0130 00, BIC COBADEFFXXX", [("iban", "DE89 3704 0044 0532 0130 00")]),
    ("Virement sur GB82WEST12345698765432.", [("iban", "GB82WEST12345698765432")]),
    # more formats: extensions, "(0)" trunk markers, other separators, toll-free numbers
    ("Kontakt: Tel. +49 (0) 89 123 456-78", [("phone", "+49 (0) 89 123 456-78")]),
    ("Telefon 089 / 123 456 78; T: +43 (0)1 234 56 78",
     [("phone", "089 / 123 456 78"), ("phone", "+43 (0)1 234 56 78")]),
    ("Mobil: 0171 1234567, tél. 04 91 12 34 56, gsm 0470 12 34 56",
     [("phone", "0171 1234567"), ("phone", "04 91 12 34 56"), ("phone", "0470 12 34 56")]),
    ("Tel. +420 602 123 456, Puhelin 09 8765 4321, Phone: (0)20 7946 0958",
     [("phone", "+420 602 123 456"), ("phone", "09 8765 4321"), ("phone", "(0)20 7946 0958")]),
    ("Tel: 0039 06 1234567; tel.: 800 123 456; call 0800 123 4567 free",
     [("phone", "0039 06 1234567"), ("phone", "800 123 456"), ("phone", "0800 123 4567")]),
    ("+49-30-1234567, +49.30.1234567 and +4930123456",
     [("phone", "+49-30-1234567"), ("phone", "+49.30.1234567"), ("phone", "+4930123456")]),
    ("Contact us at support@shop.example.eu! email: a.b-c_d@e-f.g.hu",
     [("email", "support@shop.example.eu"), ("email", "a.b-c_d@e-f.g.hu")]),
    ("IP 85.214.132.117 logged; IBAN FR76 3000 6000 0112 3456 7890 189",
     [("ip", "85.214.132.117"), ("iban", "FR76 3000 6000 0112 3456 7890 189")]),
] + [(f"Bankverbindung {iban} (Kontoinhaber X).", [("iban", iban)]) for iban in IBANS.values()]

NEGATIVES: list[str] = [
    # dates
    "Die Sitzung ist am 2026-11-27, 27.11.2026, 27/11/2026 oder 1. 12. 2026.",
    "Vom 01.12.2026 10:30 bis 15.12.2026 18:00 Uhr; 05/06/2026 at 14:00; 2026/11/27; 27-11-2026.",
    "Le 1.12.–15.12.2026, Q4 2026, lundi 27 novembre 2026.",
    # times
    "Öffnungszeiten 10:30, 10:30:45, 09.00–17.00, 9:00 - 17:30 Uhr, 14h30, 12:34:56.789.",
    # years and number ranges
    "In 1989, 1990 and 2026; in den Jahren 2019 2020 2021; 1990–2026; pp. 123-456.",
    # prices and percentages
    "Preis 1.234,56 €, $1,299.99, € 12 345,00, CHF 1'299.–, £0.99, 0,99 € je Stück.",
    "Cena 1 299 Kč, ár 12 345 678 Ft, +12,5 %, -3.5%, 99,9 %, 12.5 %, 0,5 Mio. €.",
    # version and section numbers
    "Scrapy 2.19.0, Python 3.11.7, v1.2.3.4, version 1.2.3.4, Windows 10.0.19041.1, Release 2026.11.1.",
    "See section 1.2.3.4 and Art. 1.2.3.4 of the rules.",
    # ISBN / ISSN / DOI
    "ISBN 978-3-16-148410-0, ISBN 0-306-40615-2, ISBN 978 0 306 40615 7, ISSN 0317-8471, DOI 10.1000/182.",
    # postal codes and addresses
    "00-950 Warszawa, 01067 Dresden, 75008 Paris, SI-1000 Ljubljana, D-10115 Berlin, 1010 Wien.",
    "NL 1012 AB Amsterdam, EC1A 1BB London, D02 X285 Dublin.",
    # order, customer and company numbers
    "Order no. 0012345678, Bestellnummer 0301234567, Rechnung Nr. 030 123 4567, Kundennummer 0301 234567.",
    "Tracking 00340434161094042557; BE 0123.456.789; ondernemingsnummer 0123.456.789; SKU 0301-234567.",
    # too short to be a phone number
    "Call 12345, Tel. 12 34, +49 30, 030 123, ext. 1234, 0123 45.",
    # other numbers
    "pH 7.4, π 3.14159, 6.022e23, 1 000 000 people, 10 000 km, 46.0569, 14.5058.",
    "Article 5(1)(a), § 12 Abs. 3, COM(2026) 123 final, Regulation (EU) 2016/679, Directive 2001/29/EC.",
    "ECLI:EU:C:2026:123, case C-311/18, score 2:1 and 3-0, John 3:16, ratio 1:2:3.",
    # invalid IPs, MAC addresses, C++ names
    "256.1.1.1, 1.2.3, 192.168.1, 999.999.999.999, 1.2.3.4.5, 00:1A:2B:3C:4D:5E, std::vector, dead::beef.",
    "Localhost 127.0.0.1, any 0.0.0.0 and ::1 are not personal.",
    # invalid IBANs (checksum, length, unknown country)
    "DE89 3704 0044 0532 0130 01, DE8937040044053201300, XX89370400440532013000, NL00ABNA0417164300.",
    # not e-mail addresses
    "icon@2x.png, logo@3x.jpg, @handle, user@localhost, a@b, name @ example.com, 5 @ 3 €.",
    # lottery draws, numbered lists, model numbers, more identifiers
    "Lotto: 03 12 18 25 33 41 – Zusatzzahl 07. Kapitel 01 02 03 04 05 06.",
    "Model 0123-4567-89 is out of stock; Artikelnummer: 0815 4711 0815; Serial 0A1B-2C3D-4E5F.",
    "Steuernummer 12/345/67890, USt-IdNr. DE123456789, Aktenzeichen 1 BvR 123/26.",
    "Sendungsnummer 00 3404 3416 1094 0425 57; Page 0012 of 0345; Flight LH 0401 departs 06:15.",
    "Reference: 2026-11-27T10:00:00+01:00; range -10 to +35 °C; commit 0a1b2c3; Tel Aviv 2026.",
    "Build 10.0.22631.2861; kernel 6.5.0-14-generic; ZIP 10115, PLZ 01069, CAP 00184 Roma.",
    "Coordinates 48.8566, 2.3522 and 52.5200 13.4050; Euro 2.000.000,00; matchday 2-1, 0-0, 3-2.",
    # ordinary text in several EU languages, with numbers
    "Die Sitzung beginnt am 27.11.2026 um 10:30 Uhr im Raum 0.12; Kosten 1.234,56 €.",
    "Le prix est de 1 234,56 € TTC, soit 0,99 € par unité, livraison sous 3 à 5 jours.",
    "W 2026 r. odwiedziło nas 12 345 osób, o 7,5 % więcej niż w 2025 r.",
    "Το 2026 η τιμή ήταν 12,50 € και αυξήθηκε κατά 3,2 %.",
    "A 2026-os költségvetés 1 234 567 Ft, a 2025-ös 1 100 000 Ft volt.",
    "Leta 2026 je bilo v Ljubljani 295 504 prebivalcev, 1,2 % več kot leta 2025.",
    "Il 27 novembre 2026 alle 10.30 il comune ha approvato 3 delibere (n. 12/2026).",
    "Mo–Fr 08:00–18:00, Sa 09:00–13:00; Zimmer 101–112; 2 × 3 = 6.",
]


def found(text: str) -> set[tuple[str, str]]:
    return {(m.kind, text[m.start : m.end]) for m in find_pii(text)}


def test_labelled_set_precision_and_recall() -> None:
    tp = fp = fn = 0
    misses, wrong = [], []
    for text, expected in POSITIVES + [(t, []) for t in NEGATIVES]:
        got, want = found(text), set(expected)
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
        wrong += sorted(got - want)
        misses += sorted(want - got)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"PII labelled set: {tp} true positives, {fp} false, {fn} missed; "
          f"precision {precision:.3f}, recall {recall:.3f}")
    assert wrong == [], f"false positives: {wrong}"
    assert precision == 1.0
    assert recall >= 0.98, f"missed: {misses}"


@pytest.mark.parametrize("text", NEGATIVES)
def test_no_false_positive(text: str) -> None:
    assert find_pii(text) == []
    assert pseudonymise(text, salt="k") == (text, PiiCounts())


@pytest.mark.parametrize("text, expected", POSITIVES, ids=[p[1][0][1][:30] for p in POSITIVES])
def test_positive_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == set(expected)


# --------------------------------------------------------------------------- placeholders

PLACEHOLDER_RE = re.compile(r"<(EMAIL|PHONE|IP|IBAN)_[0-9a-f]{8}>")


def test_pseudonymise_replaces_and_counts() -> None:
    text = ("Mail jan@firma.eu or JAN@FIRMA.EU, call +49 30 1234567, server 192.168.1.20, "
            "pay to DE89 3704 0044 0532 0130 00.")
    out, counts = pseudonymise(text, salt="campaign-secret")
    assert counts == PiiCounts(email=2, phone=1, ip=1, iban=1)
    assert len(PLACEHOLDER_RE.findall(out)) == 5
    for raw in ("jan@firma.eu", "JAN@FIRMA.EU", "1234567", "192.168.1.20", "DE89"):
        assert raw not in out
    assert out.startswith("Mail <EMAIL_") and out.endswith(">.")
    # the same address in two spellings is one pseudonym
    emails = re.findall(r"<EMAIL_[0-9a-f]{8}>", out)
    assert emails[0] == emails[1]


def test_placeholders_are_stable_across_documents_and_calls() -> None:
    a, _ = pseudonymise("Write to anna@example.org.", salt="s1")
    b, _ = pseudonymise("Anna (anna@example.org) and Bob (bob@example.org).", salt="s1")
    ph = placeholder("email", "anna@example.org", "s1")
    assert ph in a and ph in b
    assert placeholder("email", "bob@example.org", "s1") in b and placeholder("email", "bob@example.org", "s1") != ph
    # international prefixes "+" and "00" give the same number
    assert pseudonymise("+49 30 1234567", salt="s1")[0] == pseudonymise("0049 30 1234567", salt="s1")[0]


def test_salt_changes_every_placeholder() -> None:
    text = "anna@example.org 192.168.1.20"
    assert pseudonymise(text, salt="a")[0] != pseudonymise(text, salt="b")[0]
    assert pseudonymise(text)[0] == pseudonymise(text, salt="")[0]


def test_pseudonymise_is_idempotent() -> None:
    text = " ".join(t for t, _ in POSITIVES)
    once, counts = pseudonymise(text, salt="x")
    twice, counts2 = pseudonymise(once, salt="x")
    assert twice == once and counts2 == PiiCounts()
    expected = PiiCounts()
    for _, spans in POSITIVES:
        for kind, _ in spans:
            setattr(expected, kind, getattr(expected, kind) + 1)
    assert counts == expected


def test_kinds_subset() -> None:
    text = "anna@example.org, +49 30 1234567, 192.168.1.20"
    out, counts = pseudonymise(text, kinds=["email"])
    assert counts == PiiCounts(email=1) and "+49 30 1234567" in out and "192.168.1.20" in out
    with pytest.raises(ValueError, match="unknown PII kinds"):
        pseudonymise(text, kinds=["name"])


def test_iban_wins_over_phone_inside_it() -> None:
    assert [m.kind for m in find_pii("DE89 3704 0044 0532 0130 00")] == ["iban"]


# --------------------------------------------------------------------------- config and annotate

def test_config_defaults_and_build() -> None:
    cfg = PiiConfig()
    cfg.check()
    assert cfg.enabled and cfg.kinds == list(PII_KINDS) and cfg.salt == ""
    cfg = build(PiiConfig, {"kinds": ["email", "iban"], "salt": "s"})
    assert cfg.kinds == ["email", "iban"]
    for bad, problem in (({"kinds": ["name"]}, "expected"), ({"kinds": []}, "at least one"),
                         ({"kinds": ["ip", "ip"]}, "twice")):
        with pytest.raises(ConfigError) as err:
            build(PiiConfig, bad, file="pii.yaml")
        assert err.value.field.startswith("kinds") and problem in err.value.problem
    build(PiiConfig, {"enabled": False, "kinds": []})  # nothing to do is fine when off


def _doc(**kw: object) -> Document:
    return Document(id="d", url="http://a.eu/", host="a.eu", campaign="t", **kw)  # type: ignore[arg-type]


def test_annotate_rewrites_text_title_description_and_counts() -> None:
    doc = _doc(text="Kontakt: anna@example.org, Tel. 030 1234567.", title="Anna (anna@example.org)",
               description="Server 192.168.1.20")
    annotate(doc, PiiConfig(salt="s"))
    assert doc.pii == PiiCounts(email=2, phone=1, ip=1, iban=0)
    ph = placeholder("email", "anna@example.org", "s")
    assert doc.text is not None and ph in doc.text and doc.title == f"Anna ({ph})"
    assert doc.description == "Server " + placeholder("ip", "192.168.1.20", "s")


def test_annotate_disabled_or_empty() -> None:
    doc = annotate(_doc(text="anna@example.org"), PiiConfig(enabled=False))
    assert doc.text == "anna@example.org" and doc.pii == PiiCounts()
    doc = annotate(_doc(text=None), PiiConfig())
    assert doc.text is None and doc.pii == PiiCounts()


# --------------------------------------------------------------------------- the fast scan

def test_keyword_hints_see_every_case_the_regex_engine_matches() -> None:
    # Phone keywords are looked for in text.lower() and the IGNORECASE pattern is tried
    # only there; that misses nothing as long as every character the engine matches with
    # a hint letter lowers to it (or is in _CASE_ODD, which sends the text to the plain
    # scan) and lower() keeps every other character's length.
    everything = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c < 0xE000)
    letters = sorted(set("".join(_KEYWORD_HINTS)))
    matched = set(re.findall("[" + re.escape("".join(letters)) + "]", everything, re.IGNORECASE))
    for ch in matched:
        for letter in letters:
            if re.fullmatch(re.escape(letter), ch, re.IGNORECASE):
                assert ch.lower() == letter or ch in _CASE_ODD, (ch, letter)
    assert {ch for ch in everything if len(ch.lower()) != 1} <= set(_CASE_ODD)
    assert all(any(m.group(0).lower().startswith(h) for h in _KEYWORD_HINTS)
               for m in _PHONE_KEYWORD_RE.finditer("Tel. TÉLÉPHONE Mobil GSM Fax tfn tlf Puh. ΤΗΛ. Тел. Tālr. ☎ 📞"))


@pytest.mark.parametrize("text, phone", [
    ("GſM 0171 2345678", "0171 2345678"),  # long s: IGNORECASE's "gsm", not lower()'s
    ("İzmir ofisi, tel. 0232 123 45 67", "0232 123 45 67"),  # İ: lower() lengthens it
    ("Hotel am See, Tel.: 0301234567, Zimmer 12", "0301234567"),  # "tel" inside a word first
    ("Preis 2000 EUR, +000 12, Hotline +49 30 1234567", "+49 30 1234567"),  # "00" runs before the "+"
    ("(030) 1234567 und (0)30 7654321", "(030) 1234567"),
])
def test_fast_scan_finds_what_the_patterns_find(text: str, phone: str) -> None:
    found = [text[m.start:m.end] for m in find_pii(text) if m.kind == "phone"]
    assert phone in found, found
