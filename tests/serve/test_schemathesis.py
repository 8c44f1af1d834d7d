"""schemathesis against the running server's own /openapi.json: generated valid and
invalid requests for every operation, and no 500s."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ST = Path(sys.executable).with_name("st")
# per operation and phase. 40 since the fifth operation (/api/docs/{id}/similar): the same
# 200 cases a phase as 50 for each of the four before it (the run had grown from ~31 to ~53 s)
MAX_EXAMPLES = 40

# /api/facets is fuzzed in lexical mode only: its semantic and hybrid modes run the same
# code as /api/search's (fuzzed in every mode), and each new query text costs an embedding.
# Every check schemathesis has, except positive_data_acceptance: the query language
# has rules JSON Schema cannot state (at most 32 words in q, valid values after
# lang:/after: inside q), so a schema-valid q may rightly get 422.
CONFIG = """
[[operations]]
include-name = "GET /api/docs/{doc_id}"
parameters = { doc_id = "doc-html" }

[[operations]]
include-name = "GET /api/docs/{doc_id}/similar"
parameters = { doc_id = "doc-html" }

[[operations]]
include-name = "GET /api/facets"
parameters = { mode = "lexical" }
"""


def test_schemathesis_finds_no_server_errors_or_schema_violations(server: str, tmp_path: Path) -> None:
    if not ST.exists():
        pytest.fail(f"{ST} is missing: pip install -e '.[test]'")
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)  # a real id, so the document route is tested beyond its 404s
    report = tmp_path / "report.json"
    proc = subprocess.run(
        [str(ST), "--config-file", str(config), "run", f"{server}/openapi.json",
         "--checks", "all", "--exclude-checks", "positive_data_acceptance",
         "--max-examples", str(MAX_EXAMPLES), "--phases", "examples,coverage,fuzzing",
         "--request-timeout", "10", "--report", "json", "--report-json-path", str(report)],
        cwd=tmp_path, capture_output=True, text=True, timeout=180)
    out = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert report.exists(), out
    run = json.loads(report.read_text())
    cases = run["test_cases"]
    # the numbers go to the test log (pytest -s / -rA) for the record
    print(f"schemathesis: {run['operations']['tested']} operations, {cases['generated']} test cases, "
          f"{cases['with_failures']} with failures, {len(run['errors'])} errors")
    assert proc.returncode == 0 and run["exit_code"] == 0, out
    assert run["operations"]["tested"] == 5 and run["operations"]["errored"] == 0, out
    assert run["failures"] == [] and run["errors"] == [] and cases["with_failures"] == 0, out
    assert cases["generated"] >= 5 * 20, out  # it really exercised every operation
    assert "GET /api/docs/{doc_id}" not in run["warnings"]["missing_test_data"], out
