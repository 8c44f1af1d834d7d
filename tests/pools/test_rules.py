"""Pool rules on hand-made documents: each rule's edges, named one by one."""

from __future__ import annotations

import pytest
import yaml

from owd.core.config import ConfigError, PoolConfig, parse_campaign
from owd.core.schema import Document, MediaItem
from owd.pools.rules import Candidate, compile_pool, quality_score
from tests.pools.helpers import synthetic_documents

DOCS = {d.id.removeprefix("synthetic-"): d for d in synthetic_documents()}


def members(**rules: object) -> set[str]:
    rule = compile_pool(PoolConfig(name="p", **rules))  # type: ignore[arg-type]
    return {key for key, doc in DOCS.items() if rule.matches(doc)}


def test_empty_rules_take_every_kept_document_with_a_language_and_no_reservation() -> None:
    got = members()
    assert {"053", "054"}.isdisjoint(got)  # dropped; no language
    assert {"050", "051"}.isdisjoint(got)  # TDMRep-reserved; noai
    assert {"052", "055"} <= got  # tdm_reservation false is not a reservation; no text is still a document
    assert got == set(DOCS) - {"050", "051", "053", "054"}


def test_tdm_include_adds_exactly_the_reserved_documents() -> None:
    assert members(tdm="include") - members() == {"050", "051"}


def test_domain_globs_hosts_subdomains_and_case() -> None:
    assert members(domains=["*.gv.at"]) >= {"001", "052"}
    assert "002" not in members(domains=["*.gv.at"])  # the glob's own suffix is not a match
    assert members(domains=["sl.owdtest.si"]) == {"003"}  # subdomain, mixed-case host
    assert members(domains=["??.owdtest.fi"]) == {"004"}
    assert members(domains=["owdtest.hr"]) == set()  # a prefix of a host is not a suffix
    assert members(domains=["OWDTEST.FI"]) == {"004", "005"}  # the registered domain
    assert members(domains=["gv.at"]) >= {"001", "002", "052"}  # plain entry: host suffix


def test_tlds_match_whole_labels() -> None:
    assert members(tlds=["si"]) == {"003"}
    assert members(tlds=[".gv.at"]) >= {"001", "002"}
    assert members(tlds=["at"]) >= {"001", "002", "013"}
    assert members(tlds=["t"]) == set()


def test_keywords_whole_words_case_folded_prefix_and_phrases() -> None:
    assert members(keywords=["Gesundheit"]) == {"010", "012"}  # not Gesundheitsamt
    assert members(keywords=["gesundheit*"]) == {"010", "011", "012", "013"}
    assert members(keywords=["public health"]) == {"014", "015"}  # across a newline and a hyphen
    assert members(keywords=["STRASSE"]) == {"019"}  # Straße case-folds to strasse; Hauptstraße is another word
    assert members(keywords=["covid-19"]) == {"017"}  # COVID 19 yes; covid_19 and covid-1999 no
    assert members(keywords=["health"]) == {"014", "015"}  # not Unhealthy, not healthcare


def test_licenses_ignore_scheme_and_case_min_length_counts_characters() -> None:
    assert members(licenses=["https://creativecommons.org/licenses/by/"], min_length=500) == {"020"}
    assert "022" not in members(licenses=["https://creativecommons.org/licenses/by/"])  # by-sa is another license
    assert "023" not in members(licenses=["https://creativecommons.org/"])  # no license never matches


def test_media_kinds_and_url_patterns() -> None:
    assert members(media_kinds=["audio", "video"]) == {"030", "031", "033"}
    assert members(media_kinds=["audio", "video"], url_patterns=["/media", "(?i)VIDEO"]) == {"030", "031"}
    assert members(url_patterns=["VIDEO"]) == set()  # case-sensitive unless the pattern says (?i)


def test_min_quality_uses_the_classifier_score_then_the_heuristic() -> None:
    got = members(min_quality=0.6, languages=["en", "fr", "sl"])
    assert {"040", "042"} <= got and {"041", "043", "044"}.isdisjoint(got)
    assert quality_score({}) is None
    assert quality_score([("score", 0.3)]) == 0.3  # the map comes from Arrow as pairs
    assert quality_score({"alpha_words_frac": 1.0, "fw_line_punct_ratio": 0.5, "dup_line_char_frac": 0.5}) == 0.25


def test_one_candidate_serves_rows_and_documents_alike() -> None:
    doc = Document(id="x", url="https://a.si/", host="a.si", campaign="c", lang="sl", text="zdravje",
                   media=[MediaItem(url="https://a.si/1.png", kind="image")])
    row = {"drop_reason": None, "lang": "sl", "host": "a.si", "url": "https://a.si/", "text": "zdravje",
           "media": [{"kind": "image"}], "quality": []}
    rule = compile_pool(PoolConfig(name="p", keywords=["Zdravje"], media_kinds=["image"]))
    assert rule.matches(doc) and rule.matches(row) and rule.reject_reason(Candidate(row)) is None
    assert compile_pool(PoolConfig(name="p", media_kinds=["video"])).reject_reason(Candidate(row)) == "media_kinds"


GOOD = "campaign: t1\nseeds: {urls: ['http://a.eu/']}\npools:\n  - name: p\n"


@pytest.mark.parametrize("rule, field, expected", [
    ("languages: [xx]", "pools[0].languages[0]", "unknown language code 'xx'"),
    ("languages: [DE]", "pools[0].languages[0]", "lower-case"),
    ("domains: ['*.gv.at', 'a[b.at']", "pools[0].domains[1]", "'[' without a closing ']'"),
    ("domains: ['http://x.at/']", "pools[0].domains[0]", "expected a host, registered domain or glob"),
    ("tlds: ['s i']", "pools[0].tlds[0]", "expected a TLD"),
    ("url_patterns: ['(unclosed']", "pools[0].url_patterns[0]", "not a valid regular expression"),
    ("keywords: ['--']", "pools[0].keywords[0]", "at least one letter or digit"),
    ("keywords: ['*health']", "pools[0].keywords[0]", "'*' is only allowed right after the last word"),
    ("min_quality: 7", "pools[0].min_quality", "between 0 and 1"),
    ("licenses: [creativecommons.org]", "pools[0].licenses[0]", "license URL prefix"),
    ("min_length: -1", "pools[0].min_length", "must be >= 0"),
    ("media_kinds: [text]", "pools[0].media_kinds[0]", "expected one of 'image', 'audio', 'video'"),
    ("tdm: maybe", "pools[0].tdm", "expected one of 'exclude', 'include'"),
])
def test_a_bad_rule_is_one_config_error_naming_file_and_field(rule: str, field: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_campaign(yaml.safe_load(GOOD + f"    {rule}\n"), "c.yaml")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"c.yaml: {field}: "), message
    assert expected in message
