"""Campaign configs: good files load into typed objects; bad ones get one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from owd.core.config import CampaignConfig, ConfigError, load_campaign, parse_campaign
from owd.core.typed_config import ByteSize, Duration
from tests.conftest import REPO, run_owd

GOOD = {"campaign": "t1", "seeds": {"urls": ["http://a.example.eu/"]}}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "campaign.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", ["demo.yaml", "example-eu-news.yaml"])
def test_shipped_configs_load(name: str) -> None:
    cfg = load_campaign(REPO / "configs" / name)
    assert isinstance(cfg, CampaignConfig)
    assert cfg.politeness.delay > 0
    assert cfg.pools and all(p.tdm == "exclude" for p in cfg.pools)


def test_demo_config_is_typed() -> None:
    cfg = load_campaign(REPO / "configs" / "demo.yaml")
    assert cfg.limits.max_response_bytes == 10 * 2**20 and isinstance(cfg.limits.max_response_bytes, ByteSize)
    assert cfg.media.kinds == ["image", "audio", "video"]
    assert cfg.testweb is not None and cfg.testweb.port == 8631
    assert cfg.resolve(cfg.seeds.files[0]).is_file()
    assert cfg.focus.topics[0].keywords["de"] == ["Gesundheit"]


def test_minimal_config_gets_defaults() -> None:
    cfg = parse_campaign(GOOD, "mem.yaml")
    assert cfg.scope.max_depth == 5 and cfg.politeness.obey_robots and cfg.politeness.tdm == "record"
    assert cfg.warc.max_file_bytes == 10**9


@pytest.mark.parametrize(
    "yaml_text, field, expected",
    [
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\nsede: 1\n", "sede", "unknown key"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\npoliteness: {delay: 1, speed: 3}\n",
         "politeness.speed", "unknown key"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\npoliteness: {delay: fast}\n",
         "politeness.delay", "expected a number, got str 'fast'"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\nscope: {max_depth: 2.5}\n",
         "scope.max_depth", "expected an integer"),
        ("campaign: t1\nseeds: {urls: 'http://a.eu/'}\n", "seeds.urls", "expected a list of a string"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/', 42]}\n", "seeds.urls[1]", "expected a string, got int 42"),
        ("campaign: t1\n", "seeds", "required"),
        ("campaign: t1\nseeds: {}\n", "seeds", "at least one of urls, files or sitemaps is required"),
        ("campaign: t1\nseeds: {urls: ['ftp://a.eu/']}\n", "seeds.urls[0]", "expected an http(s) URL"),
        ("campaign: Bad Name\nseeds: {urls: ['http://a.eu/']}\n", "campaign", "expected lowercase"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\nscope: {exclude: ['(unclosed']}\n",
         "scope.exclude[0]", "not a valid regular expression"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\nlimits: {max_response_bytes: 10 parsecs}\n",
         "limits.max_response_bytes", "expected a size"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\npoliteness: {tdm: ignore}\n",
         "politeness.tdm", "expected one of 'record', 'skip'"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\nnetwork: {allow_networks: [10.0.0.0/33]}\n",
         "network.allow_networks[0]", "expected a network"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\npools: [{name: a}, {name: a}]\n",
         "pools", "'a' is repeated"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\npools: [{name: x, min_quality: high}]\n",
         "pools[0].min_quality", "expected a number, got str 'high'"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\npools: [{name: x}, {name: y, languages: [de, xx]}]\n",
         "pools[1].languages[1]", "unknown language code 'xx'"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\npools: [{name: x, url_patterns: ['/news/(']}]\n",
         "pools[0].url_patterns[0]", "not a valid regular expression"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\npools: [{name: x, domains: ['*.gv.at', '[a-z.at']}]\n",
         "pools[0].domains[1]", "bad glob '[a-z.at'"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\npools: [{name: x, min_quality: 1.5}]\n",
         "pools[0].min_quality", "between 0 and 1"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\nrevisit: {interval: 7 fortnights}\n",
         "revisit.interval", "expected a duration"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\nrevisit: {rules: [{interval: 6h}]}\n",
         "revisit.rules[0].hosts", "give hosts or urls"),
        ("campaign: t1\nseeds: {urls: ['http://a.eu/']}\nrevisit: {kinds: [pages]}\n",
         "revisit.kinds[0]", "expected one of 'page'"),
        ("campaign: t1\nseeds: {files: [missing.txt]}\n", "seeds.files[0]", "no such file"),
        ("campaign: [t1\n", "line 2, column 1", "not valid YAML"),
        ("- just\n- a list\n", "<top level>", "expected a mapping"),
    ],
)
def test_bad_configs_name_file_field_and_expectation(tmp_path: Path, yaml_text: str, field: str, expected: str) -> None:
    path = write(tmp_path, yaml_text)
    with pytest.raises(ConfigError) as err:
        load_campaign(path)
    message = str(err.value)
    assert message.startswith(f"{path}: "), message
    assert field in message and expected in message, message
    assert "\n" not in message


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_campaign(tmp_path / "nope.yaml")


def test_durations() -> None:
    assert Duration.parse("90s") == 90 and Duration.parse("15m") == 900 and Duration.parse("6h") == 21600
    assert Duration.parse("7d") == 7 * 86400 and Duration.parse("2w") == 14 * 86400 and Duration.parse(30) == 30
    assert Duration.parse("1.5h") == 5400
    for bad in ("7 fortnights", True, -1, float("inf"), "d"):
        with pytest.raises(ValueError):
            Duration.parse(bad)


def test_byte_sizes() -> None:
    assert ByteSize.parse("5 MiB") == 5 * 2**20
    assert ByteSize.parse("1GB") == 10**9
    assert ByteSize.parse(123) == 123
    for bad in ("5 parsecs", True, -1.5, "MiB"):
        with pytest.raises(ValueError):
            ByteSize.parse(bad)


@pytest.mark.parametrize("command", [["config", "check"], ["crawl"]])
def test_cli_bad_config_exits_2_with_one_line_and_no_traceback(tmp_path: Path, command: list[str]) -> None:
    path = write(tmp_path, "campaign: t1\nseeds: {urls: ['http://a.eu/']}\npoliteness: {delay: fast}\n")
    result = run_owd(*command, str(path), timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines == [f"owd: error: {path}: politeness.delay: expected a number, got str 'fast'"], result.stderr


@pytest.mark.parametrize("section,field,value,problem", [
    ("politeness", "delay", float("nan"), "expected a finite number"),
    ("politeness", "delay", float("inf"), "expected a finite number"),
    ("politeness", "delay", -1.0, "must be >= 0"),
    ("politeness", "slow_host_factor", float("-inf"), "expected a finite number"),
    ("politeness", "max_crawl_delay", 0.0, "must be > 0"),
    ("politeness", "concurrency", 0, "must be >= 1"),
    ("politeness", "concurrency_per_host", 0, "must be >= 1"),
    ("politeness", "max_retry_after", float("nan"), "expected a finite number"),
    ("limits", "timeout", 0.0, "must be > 0"),
    ("limits", "timeout", float("inf"), "expected a finite number"),
    ("limits", "max_response_bytes", 0, "must be > 0"),
    ("limits", "max_redirects", -1, "must be >= 0"),
    ("warc", "max_file_bytes", 0, "must be > 0"),
    ("focus", "weight", float("nan"), "expected a finite number"),
    ("process", "doc_timeout", float("inf"), "expected a finite number"),
])
def test_numbers_must_be_finite_and_in_range(tmp_path: Path, section: str, field: str, value: object,
                                             problem: str) -> None:
    # issue 11: `.nan` made every delay comparison false (14 requests in 1.3 s), `.inf` hung
    data = {"campaign": "x", "seeds": {"urls": ["https://a.eu/"]}, section: {field: value}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as err:
        load_campaign(path)
    assert str(err.value).startswith(f"{path}: {section}.{field}: {problem}"), str(err.value)


def test_config_check_refuses_a_storage_root_that_cannot_be_written(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"campaign": "x", "seeds": {"urls": ["https://a.eu/"]},
                                    "storage_root": "/proc/owd-no"}))
    result = run_owd("config", "check", str(path), timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == f"owd: error: {path}: storage_root: cannot create or write /proc/owd-no/x: " \
                                    "No such file or directory"
    ok = tmp_path / "ok.yaml"
    ok.write_text(yaml.safe_dump({"campaign": "x", "seeds": {"urls": ["https://a.eu/"]}, "storage_root": "data"}))
    assert run_owd("config", "check", str(ok), timeout=60).returncode == 0
    assert not (tmp_path / "data").exists()  # the check leaves nothing behind
