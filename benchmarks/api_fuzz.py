"""API fuzz run: schemathesis against the live OpenAPI schema of a real ``watchkeeper serve``, authenticated.

What it does, in one run:

1. Writes a configuration in a temporary folder (one simulated RTSP camera recording, unless ``--cameras 0``;
   rate limits off and a short login backoff, so the fuzzer is not throttled), creates an admin user with
   ``watchkeeper users add``, starts ``watchkeeper serve`` as a subprocess and waits for ``/api/health``.
2. Signs in as the admin and creates an API token (``POST /api/auth/tokens``); ``api_fuzz_hooks.py`` does
   the same for schemathesis, again whenever a request answers 401 (the fuzzer may revoke its own token).
3. Runs ``schemathesis run`` on ``/openapi.json`` of that server with ``Authorization: Bearer <token>``, every
   operation, every phase (examples, coverage, fuzzing, stateful), the checks ``not_a_server_error``,
   ``status_code_conformance``, ``content_type_conformance``, ``response_headers_conformance`` and
   ``response_schema_conformance``, ``--max-examples`` cases per operation and a fixed seed.
4. Reads schemathesis' NDJSON event log: every request it sent and every check result.
5. Prints the failures (if any) and, as the LAST line, one JSON object::

       {"operations": ..., "requests": ..., "server_errors": 0, "schema_violations": 0, ...}

``server_errors`` counts responses with a status >= 500 (and failed ``not_a_server_error`` checks);
``schema_violations`` counts failed conformance checks (status code, content type, headers, body schema)
plus schemathesis errors (a request that could not be made, e.g. the server died). Exit status: 0 when both
are 0, 1 otherwise.

Run ``python benchmarks/api_fuzz.py --help``; the bounded CI version is ``tests/security/test_api_fuzz.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import yaml

ADMIN = "fuzz-admin"
ADMIN_PASSWORD = "fuzz-admin-password-0123456789"  # noqa: S105 - a throw-away user of a throw-away server
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
HOOKS = Path(__file__).resolve().with_name("api_fuzz_hooks.py")
OPERATION_LABEL = re.compile(r"^(GET|PUT|POST|DELETE|OPTIONS|HEAD|PATCH|TRACE) /\S*$")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@dataclass
class FuzzResult:
    """What one run found."""

    operations: int = 0
    schema_operations: int = 0
    requests: int = 0
    server_errors: int = 0
    schema_violations: int = 0
    errors: int = 0
    seconds: float = 0.0
    max_examples: int = 0
    seed: int = 0
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """The JSON line (without the failure texts)."""
        data = asdict(self)
        data.pop("failures")
        data["schema_violations"] = self.schema_violations + self.errors
        return data


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(folder: Path, port: int, camera_urls: list[str]) -> Path:
    cameras = [
        {
            "id": f"cam{index + 1}",
            "name": f"Fuzz camera {index + 1}",
            "site": "fuzz-site",
            "inputs": [{"url": url, "roles": ["record", "detect"]}],
        }
        for index, url in enumerate(camera_urls)
    ]
    document = {
        "sites": [{"id": "fuzz-site", "name": "Fuzz site"}],
        "cameras": cameras,
        "recording": {"segment_seconds": 1.0},
        "storage": {"database_url": "sqlite:///data/watchkeeper.db", "media_root": "data/media"},
        "server": {"host": "127.0.0.1", "port": port, "rate_limits": {"enabled": False}},
        # The fuzzer fails logins from 127.0.0.1 all the time; keep the backoff (its 429s are fuzzed too)
        # short, so the hooks can sign in again when the fuzzer revokes their token.
        "auth": {"lockout": {"free_attempts": 50, "base_delay_s": 0.05, "max_delay_s": 0.5}},
    }
    path = folder / "watchkeeper.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def watchkeeper(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watchkeeper", *args], input=stdin, capture_output=True, text=True, check=False
    )


@contextlib.contextmanager
def running_server(config: Path, port: int, log_path: Path) -> Iterator[str]:
    """``watchkeeper serve`` with an admin user; yields the base URL."""
    created = watchkeeper(
        "users", "add", "--config", str(config), "--username", ADMIN, "--role", "admin", "--password-stdin",
        stdin=ADMIN_PASSWORD + "\n",
    )  # fmt: skip
    if created.returncode != 0:
        raise SystemExit(f"cannot create the admin user: {created.stderr.strip()}")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "watchkeeper", "serve", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/api/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def api_token(base_url: str) -> str:
    """Sign in as the admin and create an API token for the fuzzer."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        login = client.post("/api/auth/login", json={"username": ADMIN, "password": ADMIN_PASSWORD})
        login.raise_for_status()
        csrf = {"X-CSRF-Token": login.json()["csrf_token"]}
        token = client.post("/api/auth/tokens", json={"name": "api-fuzz"}, headers=csrf)
        token.raise_for_status()
        return str(token.json()["token"])


def run_schemathesis(base_url: str, args: argparse.Namespace, report: Path) -> None:
    command = [
        str(SCHEMATHESIS), "run", f"{base_url}/openapi.json",
        "--checks", ",".join(CHECKS),
        "--max-examples", str(args.max_examples),
        "--seed", str(args.seed),
        "--workers", str(args.workers),
        "--request-timeout", "30",
        "--suppress-health-check", "all",
        "--output-sanitize", "true",
        "--report", "ndjson", "--report-ndjson-path", str(report),
    ]  # fmt: skip
    if args.max_time:
        command += ["--max-time", str(args.max_time)]
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": str(HOOKS),
        "WK_FUZZ_URL": base_url,
        "WK_FUZZ_USER": ADMIN,
        "WK_FUZZ_PASSWORD": ADMIN_PASSWORD,
    }
    output = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if args.verbose or not report.is_file():
        sys.stderr.write(output.stdout[-20000:] + output.stderr[-5000:])
    if not report.is_file():
        raise SystemExit(f"schemathesis wrote no report (exit {output.returncode})")


def tally(report: Path, result: FuzzResult) -> None:
    """Count operations, requests, 5xx answers and failed checks in schemathesis' NDJSON events."""
    operations: set[str] = set()
    for line in report.read_text().splitlines():
        event = json.loads(line)
        kind, body = next(iter(event.items()))
        if kind == "NonFatalError" or kind == "FatalError":
            result.errors += 1
            result.failures.append(f"error: {json.dumps(body)[:500]}")
        if kind != "ScenarioFinished":
            continue
        recorder = body.get("recorder", {})
        label = recorder.get("label", "")
        if OPERATION_LABEL.match(label):
            operations.add(label)
        for interaction in recorder.get("interactions", {}).values():
            result.requests += 1
            response = interaction.get("response") or {}
            if int(response.get("status_code", 0)) >= 500:
                result.server_errors += 1
                request = interaction.get("request", {})
                result.failures.append(
                    f"{response['status_code']}: {request.get('method')} {request.get('uri')}"
                )
        for checks in recorder.get("checks", {}).values():
            for check in checks:
                if check.get("status") != "failure" or check.get("name") == "not_a_server_error":
                    continue
                result.schema_violations += 1
                failure = json.dumps(check.get("failure_info") or check)[:600]
                result.failures.append(f"{label}: {check.get('name')}: {failure}")
    result.operations = len(operations)


def count_operations(base_url: str, token: str) -> int:
    """Operations in the live schema (what "all operations" means)."""
    schema = httpx.get(f"{base_url}/openapi.json", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    schema.raise_for_status()
    paths: dict[str, dict[str, object]] = schema.json()["paths"]
    return sum(1 for item in paths.values() for method in item if method in HTTP_METHODS)


def token_works(base_url: str, token: str) -> bool:
    answer = httpx.get(f"{base_url}/api/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    return answer.status_code == 200


def fuzz(args: argparse.Namespace) -> FuzzResult:
    result = FuzzResult(max_examples=args.max_examples, seed=args.seed)
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="wk-fuzz-")))
        urls: list[str] = []
        if args.cameras:
            from watchkeeper.simulator import FootageSpec, serve_simulated_cameras

            spec = FootageSpec(width=320, height=180, fps=10, duration_s=4.0, keyframe_interval=10)
            sim = stack.enter_context(serve_simulated_cameras(args.cameras, spec))
            urls = [sim.url(f"/cam{index + 1}") for index in range(args.cameras)]
        port = free_port()
        config = write_config(folder, port, urls)
        log_path = folder / "server.log"
        base_url = stack.enter_context(running_server(config, port, log_path))
        if urls:
            time.sleep(3)  # a few segments, so the media endpoints have something real to serve
        token = api_token(base_url)  # fail fast when signing in does not work
        if not token_works(base_url, token):
            raise SystemExit("a freshly created API token is refused")
        started = time.monotonic()
        report = folder / "events.ndjson"
        result.schema_operations = count_operations(base_url, token)
        run_schemathesis(base_url, args, report)
        result.seconds = round(time.monotonic() - started, 1)
        tally(report, result)
        if result.server_errors and args.verbose:
            sys.stderr.write(log_path.read_text(errors="replace")[-20000:])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=100, help="Test cases per operation and phase.")
    parser.add_argument("--seed", type=int, default=20240901, help="Random seed (reproducible runs).")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="Concurrent schemathesis workers (>1 trips a CPython < 3.11.5 bug).",
    )
    parser.add_argument("--cameras", type=int, default=1, help="Simulated cameras recording (0: none).")
    parser.add_argument("--max-time", type=int, default=0, help="Time budget in seconds (0: none).")
    parser.add_argument("--verbose", action="store_true", help="Show schemathesis' own report.")
    args = parser.parse_args()
    result = fuzz(args)
    for failure in result.failures[:50]:
        print(failure)
    print(
        f"{result.operations} of {result.schema_operations} operations, "
        f"{result.requests} requests in {result.seconds} s: "
        f"{result.server_errors} server errors, {result.schema_violations} schema violations, "
        f"{result.errors} errors"
    )
    print(json.dumps(result.summary()))
    return 0 if result.server_errors == 0 and result.schema_violations + result.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
