"""A bounded run of ``benchmarks/api_fuzz.py``: schemathesis over every operation of a live, authenticated
server finds no 5xx and no answer that contradicts the OpenAPI schema.

The long run (``python benchmarks/api_fuzz.py``, 100 examples per operation) and its figures are in
docs/benchmarks.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "api_fuzz.py"


@pytest.mark.timeout(300)
def test_fuzzing_every_operation_finds_no_server_error_and_no_schema_violation() -> None:
    pytest.importorskip("schemathesis", reason="pip install schemathesis (a dev dependency)")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--max-examples", "3", "--cameras", "0", "--seed", "7"],
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-3000:]
    result = json.loads(lines[-1])
    report = done.stdout[-6000:] + done.stderr[-3000:]
    assert result["server_errors"] == 0, report
    assert result["schema_violations"] == 0, report
    assert result["operations"] == result["schema_operations"], report
    assert result["requests"] > result["operations"] * 5
    assert done.returncode == 0, report
