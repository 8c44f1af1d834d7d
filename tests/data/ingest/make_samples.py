"""Regenerate the self-made collection samples of this folder (deterministically).

    python tests/data/ingest/make_samples.py

Nothing here is downloaded: the texts were written for these samples, the record layout
follows each publisher's documentation (README.md in this folder cites it). Every run
writes the same bytes (fixed ids, dates and compression settings; checked by
tests/extract/test_collections.py).

* ``fineweb2-sample.parquet``: 6 rows with exactly the FineWeb-2 columns and types.
* ``hplt-sample.jsonl.zst``: 6 HPLT v2 documents (one with ``robotstxt: disallowed``, as
  in the deduplicated release) and one broken line, zstd-compressed.
* ``wet-sample.warc.wet.gz``: a Common Crawl style WET file, one gzip member per record:
  a warcinfo record, 4 conversion records and one empty conversion (a page without text).

The Italian text is in both the FineWeb-2 and the HPLT sample (under different URLs, as
a syndicated news item is): a cross-collection duplicate for dedup tests.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

HERE = Path(__file__).resolve().parent

# --------------------------------------------------------------------------- texts
DE_LIBRARY = (
    "Ab dem ersten Juli gelten in der Stadtbibliothek Lindenau die Sommeröffnungszeiten. Von Dienstag bis "
    "Freitag ist das Haus zwischen zehn und achtzehn Uhr geöffnet, samstags bleibt die Ausleihe geschlossen.\n"
    "Wer in den Ferien Bücher zurückgeben möchte, kann den Rückgabekasten am Haupteingang nutzen, der rund um "
    "die Uhr zugänglich ist. Für Kinder bieten wir jeden Mittwochnachmittag eine Vorlesestunde mit "
    "anschließendem Basteln an.\n"
    "Fragen zu Ihrem Leserkonto beantworten wir gerne per E-Mail an ausleihe@stadtbibliothek-lindenau.de "
    "oder telefonisch während der Öffnungszeiten."
)
FR_MARKET = (
    "Chaque samedi matin, la place de l'église de Saint-Aubin accueille une trentaine de producteurs de la "
    "région. On y trouve des légumes de saison, des fromages de chèvre affinés à la ferme et du pain cuit au "
    "feu de bois.\n"
    "Depuis l'année dernière, le marché propose aussi un stand de réparation de vélos tenu par des bénévoles "
    "de l'association du quartier. Les enfants peuvent participer à un atelier de dégustation organisé le "
    "premier samedi du mois.\n"
    "Le stationnement est gratuit sur le parking de la salle des fêtes, à deux minutes à pied."
)
PL_TRAIL = (
    "Szlak na Przełęcz pod Orlicą zaczyna się przy parkingu w centrum wsi i prowadzi przez gęsty las bukowy. "
    "Pierwsza część trasy jest dość stroma, dlatego warto zabrać ze sobą kije trekkingowe i zapas wody.\n"
    "Po mniej więcej dwóch godzinach marszu docieramy do polany, z której przy dobrej pogodzie widać całe "
    "pasmo Tatr. Schronisko na przełęczy jest otwarte przez cały rok i oferuje ciepłe posiłki oraz miejsca "
    "noclegowe.\n"
    "Zimą szlak bywa oblodzony, więc przed wyjściem sprawdźcie aktualne komunikaty na stronie parku."
)
# in both samples: the cross-collection duplicate
IT_CYCLE_PATH = (
    "Sabato mattina è stata inaugurata la nuova pista ciclabile che collega il centro del paese alla stazione "
    "ferroviaria. Il percorso, lungo circa quattro chilometri, costeggia il fiume e attraversa due piccoli "
    "ponti in legno restaurati durante l'inverno.\n"
    "Il sindaco ha ringraziato i volontari che hanno piantato più di duecento alberi lungo il tracciato. Nei "
    "prossimi mesi saranno installate anche alcune panchine e una fontanella per i ciclisti.\n"
    "La pista è aperta tutti i giorni dall'alba al tramonto e può essere percorsa anche a piedi."
)
SV_FERRY = (
    "Under sommaren går färjan mellan Stavsnäs och Sandhamn varje timme från klockan sju på morgonen till elva "
    "på kvällen. Biljetter köper du enklast i appen eller i kiosken vid bryggan, men kontant betalning tas "
    "inte längre emot ombord.\n"
    "Cyklar får tas med utan extra kostnad så länge det finns plats på däck. Vid hård vind kan turerna "
    "ställas in med kort varsel, och då meddelar vi det på vår webbplats och med sms till dig som har bokat.\n"
    "Hundar är välkomna men ska hållas kopplade under hela resan."
)
ES_GARDEN = (
    "El ayuntamiento organiza durante el mes de abril un taller gratuito sobre huertos urbanos en el centro "
    "cívico del barrio. Las sesiones se celebrarán los martes y jueves por la tarde y están pensadas para "
    "personas sin experiencia previa en jardinería.\n"
    "Los participantes aprenderán a preparar la tierra, elegir las semillas adecuadas para cada estación y "
    "aprovechar el agua de lluvia. Al final del curso, cada inscrito recibirá una pequeña parcela en el huerto "
    "comunitario junto al parque.\n"
    "Las plazas son limitadas y la inscripción debe hacerse en la oficina de atención ciudadana."
)
DE_VOLLEYBALL = (
    "Die Volleyballabteilung des Turnvereins Altenbach trainiert zweimal pro Woche in der Sporthalle der "
    "Grundschule. Neue Mitspielerinnen und Mitspieler sind jederzeit willkommen, auch ohne Vorkenntnisse.\n"
    "Im vergangenen Jahr ist unsere erste Mannschaft in die Bezirksliga aufgestiegen, und wir suchen noch "
    "Unterstützung für das Kampfgericht bei den Heimspielen. Die Jugendgruppe trifft sich freitags um "
    "sechzehn Uhr und wird von zwei ausgebildeten Übungsleitern betreut.\n"
    "Der Mitgliedsbeitrag kann bequem per Lastschrift bezahlt werden."
)
FR_MUSEUM = (
    "Le musée des Tisserands présente l'histoire de l'industrie textile de la vallée depuis le dix-huitième "
    "siècle. Les visiteurs peuvent voir fonctionner un ancien métier à tisser restauré par les membres de "
    "l'association des amis du musée.\n"
    "La visite guidée dure environ une heure et demie et se termine dans l'atelier, où chacun peut essayer de "
    "tisser un petit ruban. Les groupes scolaires sont accueillis du lundi au vendredi sur réservation.\n"
    "L'entrée est gratuite pour les moins de douze ans et pour tous le premier dimanche du mois."
)
PL_BRIDGE = (
    "Od poniedziałku rozpocznie się remont mostu na Odrze, który potrwa do końca października. W tym czasie "
    "ruch samochodowy będzie odbywał się wahadłowo, a piesi i rowerzyści skorzystają z tymczasowej kładki.\n"
    "Miasto uruchomi dodatkową linię autobusową, aby ułatwić mieszkańcom dojazd do szpitala i dworca "
    "kolejowego. Kierowcy powinni liczyć się z utrudnieniami zwłaszcza w godzinach porannego szczytu.\n"
    "Szczegółowy harmonogram prac jest dostępny w urzędzie miasta oraz na tablicach ogłoszeń."
)
EL_BEACH = (
    "Την Κυριακή το πρωί εθελοντές από όλη την περιοχή καθάρισαν την παραλία του χωριού. Μάζεψαν "
    "περισσότερες από εκατό σακούλες με πλαστικά, γυαλιά και παλιά δίχτυα ψαρέματος.\n"
    "Ο σύλλογος γονέων φρόντισε για νερό και φρούτα, ενώ τα παιδιά του δημοτικού σχολείου ζωγράφισαν "
    "πινακίδες που ζητούν από τους επισκέπτες να κρατούν την ακτή καθαρή.\n"
    "Ο δήμος ευχαρίστησε δημόσια όλους όσοι βοήθησαν. Η επόμενη δράση έχει προγραμματιστεί για τα τέλη "
    "Ιουνίου και όλοι είναι ευπρόσδεκτοι."
)
NL_BIKES = (
    "Bij het station is deze week een nieuwe bewaakte fietsenstalling geopend met plaats voor ruim tweeduizend "
    "fietsen. De eerste vierentwintig uur parkeren is gratis, daarna betaal je een klein bedrag per dag.\n"
    "In de stalling is ook een werkplaats waar je terecht kunt voor een lekke band of een kapotte verlichting. "
    "Medewerkers helpen reizigers bovendien met het vinden van een plek voor bakfietsen en fietsen met een "
    "kinderzitje.\n"
    "De stalling is elke dag geopend van vijf uur 's ochtends tot middernacht."
)
PT_BOOK_FAIR = (
    "A feira do livro regressa à praça central entre os dias dez e vinte de junho, com mais de quarenta bancas "
    "de editoras e livrarias independentes. Todas as tardes haverá sessões de autógrafos e conversas com "
    "escritores portugueses e brasileiros.\n"
    "Para os mais novos, a biblioteca municipal prepara uma tenda com leituras encenadas e oficinas de "
    "ilustração. A entrada é livre e o recinto está aberto até às onze da noite durante o fim de semana.\n"
    "Recomendamos o uso dos transportes públicos, porque o estacionamento no centro é muito limitado."
)
FI_SWIMMING_HALL = (
    "Uimahalli on suljettuna huoltotöiden vuoksi koko elokuun ajan. Remontin aikana altaiden laatoitus "
    "uusitaan ja saunaosastolle rakennetaan uusi ilmanvaihto.\n"
    "Asiakkaat voivat käyttää kesän ajan kaupungin maauimalaa, jonne pääsee samalla sarjakortilla. Kuntosali "
    "toimii normaalisti, mutta sisäänkäynti tapahtuu väliaikaisesti urheilukentän puoleisesta ovesta.\n"
    "Pahoittelemme remontista aiheutuvaa haittaa ja toivotamme kaikki tervetulleiksi uudistettuun halliin "
    "syyskuun alussa."
)
HU_BUSES = (
    "Szeptember elsejétől megváltozik a helyi buszjáratok menetrendje a belvárosban. A reggeli csúcsidőben a "
    "hármas és a hetes vonalon tízpercenként indulnak a járatok, így könnyebben el lehet jutni az iskolákhoz.\n"
    "A hétvégi éjszakai járat útvonala is módosul, és mostantól a vasútállomást is érinti. A bérletek ára nem "
    "változik, de a jegyeket ezentúl mobiltelefonon is meg lehet vásárolni.\n"
    "A részletes menetrend letölthető a társaság honlapjáról, vagy átvehető az ügyfélszolgálati irodában."
)
RO_GARDEN_TOUR = (
    "Grădina botanică organizează în fiecare duminică dimineață un tur ghidat gratuit pentru vizitatori. "
    "Ghizii prezintă colecția de plante medicinale, sera tropicală și grădina japoneză, care a fost renovată "
    "anul trecut.\n"
    "Turul durează aproximativ o oră și jumătate și pornește de la intrarea principală la ora zece. Copiii sub "
    "șapte ani nu plătesc bilet, iar pentru grupurile mai mari este nevoie de o programare prealabilă.\n"
    "În zilele ploioase, turul se desfășoară doar în interiorul serelor."
)


def record_uuid(name: str) -> str:
    """A fixed WARC-Record-ID style id (the same on every run)."""
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}>"


# --------------------------------------------------------------------------- FineWeb-2
# Columns and types as the dataset card's dataset_info lists them (every one a string but
# language_score float64 and minhash_cluster_size int64); top_langs is a JSON string.
FINEWEB2_SCHEMA = pa.schema([
    ("text", pa.string()), ("id", pa.string()), ("dump", pa.string()), ("url", pa.string()),
    ("date", pa.string()), ("file_path", pa.string()), ("language", pa.string()),
    ("language_score", pa.float64()), ("language_script", pa.string()),
    ("minhash_cluster_size", pa.int64()), ("top_langs", pa.string()),
])

FINEWEB2_ROWS = [
    # (text, url, dump, date, segment stamp, language, score, cluster size, second language)
    (DE_LIBRARY, "https://www.stadtbibliothek-lindenau.de/aktuelles/oeffnungszeiten-sommer", "CC-MAIN-2023-23",
     "2023-06-02T14:21:07Z", "20230602120000-20230602150000-00187", "deu", 0.9987, 1, None),
    (FR_MARKET, "https://www.marche-saint-aubin.fr/le-marche/producteurs", "CC-MAIN-2022-49",
     "2022-12-01T08:45:31Z", "20221201060000-20221201090000-00044", "fra", 0.9991, 3, None),
    (PL_TRAIL, "https://szlaki-beskidzkie.pl/trasy/przelecz-pod-orlica", "CC-MAIN-2024-10",
     "2024-02-22T19:03:55Z", "20240222180000-20240222210000-00312", "pol", 0.9996, 1, None),
    (IT_CYCLE_PATH, "https://www.cronaca-valtellina.it/2023/05/nuova-ciclabile-lungo-il-fiume", "CC-MAIN-2023-23",
     "2023-05-29T06:12:48Z", "20230529030000-20230529060000-00076", "ita", 0.9983, 2, None),
    (SV_FERRY, "https://www.skargardsfarjan.se/tidtabell/sommar", "CC-MAIN-2021-25",
     "2021-06-14T22:37:10Z", "20210614210000-20210615000000-00209", "swe", 0.9972, 1, "nob"),
    (ES_GARDEN, "https://www.ayuntamiento-villaverde.es/noticias/taller-huerto-urbano", "CC-MAIN-2024-18",
     "2024-04-16T11:58:02Z", "20240416090000-20240416120000-00155", "spa", 0.9979, 1, "glg"),
]


def fineweb2_table() -> pa.Table:
    rows = []
    for text, url, dump, date, segment, lang, score, cluster, second in FINEWEB2_ROWS:
        top = {f"{lang}_Latn_score": score}
        if second:
            top[f"{second}_Latn_score"] = round(1 - score - 0.0004, 4)
        rows.append({
            "text": text, "id": record_uuid(f"fineweb2:{url}"), "dump": dump, "url": url, "date": date,
            "file_path": f"s3://commoncrawl/crawl-data/{dump}/segments/1700000000000.{segment[-5:]}/warc/"
                         f"CC-MAIN-{segment}.warc.gz",
            "language": lang, "language_score": score, "language_script": "Latn",
            "minhash_cluster_size": cluster, "top_langs": json.dumps(top),
        })
    return pa.Table.from_pylist(rows, schema=FINEWEB2_SCHEMA)


# --------------------------------------------------------------------------- HPLT v2
HPLT_DOCS = [
    # (text, url, collection, ts, lang top-3, prob top-3, robotstxt)
    (DE_VOLLEYBALL, "https://www.turnverein-altenbach.de/abteilungen/volleyball", "wide16",
     "2021-09-18T07:41:22Z", ["deu_Latn", "ltz_Latn", "nld_Latn"], [0.9934, 0.0031, 0.0008], "allowed"),
    (FR_MUSEUM, "https://www.musee-des-tisserands.fr/visiter/horaires-et-tarifs", "cc22",
     "2022-05-16T03:12:45Z", ["fra_Latn", "oci_Latn", "cat_Latn"], [0.9962, 0.0012, 0.0004], "disallowed"),
    (IT_CYCLE_PATH, "https://notizie.sondrio-oggi.it/territorio/ciclabile-adda", "cc23",
     "2023-06-03T17:25:09Z", ["ita_Latn", "lij_Latn", "vec_Latn"], [0.9958, 0.0017, 0.0009], "allowed"),
    (PL_BRIDGE, "https://www.gazeta-nadodrzanska.pl/wiadomosci/remont-mostu", "wide17",
     "2022-03-07T12:09:33Z", ["pol_Latn", "szl_Latn", "slk_Latn"], [0.9971, 0.0015, 0.0003], "allowed"),
    (EL_BEACH, "https://www.paralia-news.gr/topika/katharismos-paralias", "cc21",
     "2021-07-02T09:54:16Z", ["ell_Grek", "eng_Latn", "cym_Latn"], [0.9994, 0.0002, 0.0001], "allowed"),
    (NL_BIKES, "https://www.fietsersbond-zwolle.nl/nieuws/nieuwe-fietsenstalling", "cc23",
     "2023-10-11T15:30:58Z", ["nld_Latn", "afr_Latn", "lim_Latn"], [0.9917, 0.0042, 0.0016], "allowed"),
]
HPLT_BROKEN_LINE = '{"f": "cc22/CC-MAIN-20220516021201-20220516051201-00412.warc.gz", "o": 771, "u": "https://'


def hplt_filter(text: str) -> str:
    """The v2 annotation's filter value for these texts (the documented rules: length and words per segment)."""
    segments = text.split("\n")
    if sum(len(s.split(" ")) for s in segments) / len(segments) <= 5:
        return "word_avg_5"
    return "length_500" if len(text) <= 500 else "keep"


def hplt_lines() -> list[str]:
    lines = []
    for i, (text, url, collection, ts, langs, probs, robots) in enumerate(HPLT_DOCS):
        f = f"{collection}/{20210000 + 977 * i}-{i:05d}.warc.gz"
        doc = {
            "f": f, "o": 1_048_576 * i + 4_211, "s": 9_000 + 37 * len(text) % 4_000, "rs": 40_000 + 11 * len(text),
            "u": url, "c": "text/html", "ts": ts, "collection": collection, "lang": langs, "prob": probs,
            "text": text, "seg_langs": [langs[0]] * len(text.split("\n")), "robotstxt": robots,
            # the annotation step's id: xxh128 of f + u + ts (monotextor-slurm scripts/annotate.py)
            "id": xxhash.xxh128_hexdigest((f + url + ts).encode()),
            "filter": hplt_filter(text), "pii": [],
            "doc_scores": [round(8.1 + 0.3 * i, 1), 9.7, 10.0, 9.8, 10.0, 9.6, 10.0, 4.0, 0.0],
        }
        lines.append(json.dumps(doc, ensure_ascii=False))
    lines.insert(4, HPLT_BROKEN_LINE)  # a line cut off in the middle (a damaged download)
    return lines


def write_zstd(path: Path, data: bytes) -> None:
    # pyarrow's zstd codec (the `zstandard` package is not an owd dependency): one standard
    # zstd frame, at a fixed level
    path.write_bytes(pa.Codec("zstd", compression_level=9).compress(data, asbytes=True))


# --------------------------------------------------------------------------- WET
WET_FILE = "CC-MAIN-20250207054411-20250207084411-00042.warc.wet.gz"
WET_DOCS = [
    # (text, url, WARC-Date, WARC-Identified-Content-Language)
    (PT_BOOK_FAIR, "https://www.feira-do-livro-braga.pt/programa", "2025-02-07T06:02:13Z", "por"),
    (FI_SWIMMING_HALL, "https://www.jarvenpaan-uimahalli.fi/aukioloajat", "2025-02-07T06:14:40Z", "fin"),
    (HU_BUSES, "https://www.varosi-kozlekedes-pecs.hu/hirek/menetrend-valtozas", "2025-02-07T06:31:02Z", "hun,eng"),
    (RO_GARDEN_TOUR, "https://www.gradina-botanica-cluj.ro/evenimente/tur-ghidat", "2025-02-07T07:05:57Z", "ron"),
    # Common Crawl writes a conversion record for a page without text too: an empty block
    ("", "https://www.galerie-foto-sibiu.ro/album/iarna", "2025-02-07T07:19:26Z", ""),
]


def block_digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()


def wet_bytes() -> bytes:
    out = io.BytesIO()
    writer = WARCWriter(out, gzip=True, warc_version="WARC/1.0")  # one gzip member per record, as CC does
    # CC's conversion records carry a block digest only (warcio would add a payload digest)
    writer.NO_PAYLOAD_DIGEST_TYPES = (*writer.NO_PAYLOAD_DIGEST_TYPES, "conversion")
    info = (f"Software-Info: ia-web-commons.1.1.10-SNAPSHOT-20250130120000\r\n"
            f"Extracted-Date: Fri, 07 Feb 2025 09:12:31 GMT\r\n"
            f"robots: checked via crawler-commons 1.5-SNAPSHOT (https://github.com/crawler-commons/crawler-commons)\r\n"
            f"isPartOf: CC-MAIN-2025-08\r\n"
            f"operator: Common Crawl Admin (info@commoncrawl.org)\r\n"
            f"description: Wide crawl of the web for February 2025\r\n"
            f"publisher: Common Crawl\r\n").encode()
    headers = StatusAndHeaders("", [
        ("WARC-Type", "warcinfo"), ("WARC-Date", "2025-02-07T09:12:31Z"), ("WARC-Filename", WET_FILE),
        ("WARC-Record-ID", record_uuid(f"wet:{WET_FILE}")), ("Content-Type", "application/warc-fields"),
    ], protocol="WARC/1.0")
    writer.write_record(writer.create_warc_record("", "warcinfo", payload=io.BytesIO(info), length=len(info),
                                                  warc_headers=headers))
    for text, url, date, langs in WET_DOCS:
        data = text.encode("utf-8")
        fields = [
            ("WARC-Type", "conversion"), ("WARC-Target-URI", url), ("WARC-Date", date),
            ("WARC-Record-ID", record_uuid(f"wet:{url}")), ("WARC-Refers-To", record_uuid(f"warc:{url}")),
            ("WARC-Block-Digest", block_digest(data)),
        ]
        if langs:
            fields.append(("WARC-Identified-Content-Language", langs))
        fields.append(("Content-Type", "text/plain"))
        record = writer.create_warc_record(url, "conversion", payload=io.BytesIO(data), length=len(data),
                                           warc_headers=StatusAndHeaders("", fields, protocol="WARC/1.0"))
        writer.write_record(record)
    return out.getvalue()


def main(folder: Path = HERE) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    # two row groups (4 + 2 rows): readers must carry the row index across groups
    pq.write_table(fineweb2_table(), folder / "fineweb2-sample.parquet", compression="zstd", row_group_size=4)
    write_zstd(folder / "hplt-sample.jsonl.zst", ("\n".join(hplt_lines()) + "\n").encode("utf-8"))
    (folder / "wet-sample.warc.wet.gz").write_bytes(wet_bytes())


if __name__ == "__main__":
    main()
