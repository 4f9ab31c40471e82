"""make api-fuzz: schemathesis against a dev server this script starts on free ports.

1. Starts the dev-server binary (moto + seed + every router) with ATELIER_BIND and
   ATELIER_MOTO_PORT on free ports, and waits for it to answer.
2. Reads GET /v1/openapi.json without a token and validates it as OpenAPI 3.1
   (openapi-spec-validator).
3. Signs in as alice (scientist), ada (admin) and fiona (finance) with Cognito InitiateAuth
   against the dev stack's moto, and gives alice a workspace (so that list answers are not
   all empty).
4. Runs `schemathesis run` once per role with that role's access token, with every check but
   positive_data_acceptance (see CHECKS): no 5xx; every status, content type, header and body
   conforms to the document; invalid input is rejected with a 4xx; a request without the token
   is refused (ignored_auth); undocumented methods get 405; a deleted resource is gone.
5. Prints the number of generated cases per role and in total; exits non-zero if any run
   failed. The server is stopped in every case.

Usage: python fuzz/api_fuzz.py DEV_SERVER_BINARY [--max-examples N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = os.environ.get("ATELIER_DEV_PASSWORD", "Atelier-dev-2026!")
ROLES = {"scientist": "alice", "admin": "ada", "finance": "fiona"}
# Every schemathesis check but positive_data_acceptance ("schema-valid input must get a 2xx"):
# the API refuses some schema-valid input on purpose, for reasons a schema cannot say (a
# month that has not begun, a page token from another list, overlapping windows, an override
# more than 24 hours ahead): 422 or 400 with the field named, as the document says.
CHECKS = os.environ.get("ATELIER_FUZZ_CHECKS", "all")
# use_after_free (ST301) expects a 404 after a DELETE; none of the API's DELETEs erases:
# DELETE /v1/workspaces/{id} terminates (the workspace stays readable, TERMINATED, with its
# history and costs) and DELETE /v1/products/{id} unpublishes (admins still see the product,
# `published: false`, and its history). Both are documented (docs/api.md, README).
EXCLUDED_CHECKS = "positive_data_acceptance,use_after_free"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(url: str, server: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"api-fuzz: the dev server exited with {server.returncode} before answering")
        try:
            if http("GET", url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    sys.exit(f"api-fuzz: the dev server did not answer {url} within {seconds:.0f} s")


def login(moto: str, client_id: str, user: str) -> str:
    status, body = http(
        "POST",
        moto + "/",
        {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client_id, "AuthParameters": {"USERNAME": user, "PASSWORD": PASSWORD}},
        {
            "X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    if status != 200:
        sys.exit(f"api-fuzz: InitiateAuth for {user} answered {status}: {body[:300]!r}")
    return json.loads(body)["AuthenticationResult"]["AccessToken"]


def start_schemathesis(api: str, role: str, token: str, max_examples: int, report_dir: Path) -> subprocess.Popen:
    """Starts schemathesis for one role, its output going to report_dir/<role>.log.

    One worker per run, and the roles' runs in parallel processes: schemathesis's threaded
    workers trip a CPython 3.11 bug (SystemError "AST constructor recursion depth mismatch"
    from hypothesis's lambda descriptions), separate processes do not."""
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "--config-file",
        str(ROOT / "fuzz" / "schemathesis.toml"),
        "run",
        f"{api}/v1/openapi.json",
        "--url",
        api,
        "-H",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--exclude-checks",
        EXCLUDED_CHECKS,
        "--max-examples",
        str(max_examples),
        "--phases",
        os.environ.get("ATELIER_FUZZ_PHASES", "examples,coverage,fuzzing,stateful"),
        "--workers",
        "1",
        "--seed",
        os.environ.get("ATELIER_FUZZ_SEED", "20261122"),
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "too_slow,filter_too_much",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report_dir / f"{role}.ndjson"),
        "--output-truncate",
        "true",
    ]
    print(f"api-fuzz: schemathesis as {role} ({ROLES[role]})", flush=True)
    log = open(report_dir / f"{role}.log", "w", encoding="utf-8")
    return subprocess.Popen(command, cwd=report_dir, env={**os.environ, "NO_COLOR": "1"}, stdout=log, stderr=subprocess.STDOUT, text=True)


def finish_schemathesis(role: str, run: subprocess.Popen, report_dir: Path) -> tuple[int, int]:
    """Waits for one role's run; prints its summary (and its failures when it failed, lines cut
    at 300 characters, at most 400 lines); returns (exit code, generated cases)."""
    code = run.wait()
    log = report_dir / f"{role}.log"
    output = log.read_text(encoding="utf-8")
    lines = output.splitlines()
    start = next((i for i, l in enumerate(lines) if "FAILURES" in l or "ERRORS" in l), None) if code else None
    if start is None:
        start = next((i for i, l in enumerate(lines) if "SUMMARY" in l), 0)
    shown = [l if len(l) <= 300 else l[:300] + " [...]" for l in lines[start:] if l.strip()]
    print(f"api-fuzz: ---- {role} ----")
    print("\n".join(shown[:400]))
    print(f"api-fuzz: schemathesis's whole output: {log}")
    return code, count_cases(output, log)


def count_cases(output: str, log: Path) -> int:
    """Generated cases, from schemathesis's summary line ("Test cases: N generated, ...")."""
    m = re.search(r"Test cases:\s*([\d,]+) generated", output)
    if m:
        return int(m.group(1).replace(",", ""))
    raise SystemExit(f"api-fuzz: no 'Test cases: N generated' in schemathesis's output (see {log})")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dev_server")
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("ATELIER_FUZZ_EXAMPLES", "30")))
    args = parser.parse_args()

    api_port, moto_port = free_port(), free_port()
    api, moto = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{moto_port}"
    log = tempfile.NamedTemporaryFile(prefix="api-fuzz-dev-server-", suffix=".log", delete=False)
    env = {
        **os.environ,
        "ATELIER_BIND": f"127.0.0.1:{api_port}",
        "ATELIER_MOTO_PORT": str(moto_port),
        "ATELIER_SYNC_SECONDS": "2",
        "ATELIER_SCHEDULER_SECONDS": "3600",
        "RUST_LOG": os.environ.get("RUST_LOG", "warn"),
    }
    server = subprocess.Popen([args.dev_server], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    started = time.monotonic()
    try:
        wait_for(f"{api}/config.json", server)
        status, raw = http("GET", f"{api}/v1/openapi.json")
        if status != 200:
            sys.exit(f"api-fuzz: GET /v1/openapi.json without a token answered {status}")
        document = json.loads(raw)
        validate(document)
        operations = sum(1 for item in document["paths"].values() for m in item if m in ("get", "put", "post", "delete", "patch"))
        print(f"api-fuzz: /v1/openapi.json is valid OpenAPI {document['openapi']} ({operations} operations)")

        client_id = json.loads(http("GET", f"{api}/config.json")[1])["userPoolClientId"]
        tokens = {role: login(moto, client_id, user) for role, user in ROLES.items()}
        status, body = http(
            "POST",
            f"{api}/v1/workspaces",
            {"productId": "small-t3-large", "name": "Fuzz target"},
            {"Authorization": f"Bearer {tokens['scientist']}", "Content-Type": "application/json"},
        )
        if status != 202:
            sys.exit(f"api-fuzz: creating alice's workspace answered {status}: {body[:300]!r}")

        report_dir = ROOT / "fuzz" / "reports"
        report_dir.mkdir(exist_ok=True)
        failed, total = [], 0
        runs = {role: start_schemathesis(api, role, token, args.max_examples, report_dir) for role, token in tokens.items()}
        for role, run in runs.items():
            code, cases = finish_schemathesis(role, run, report_dir)
            total += cases
            print(f"api-fuzz: {role}: {cases} cases, exit {code}", flush=True)
            if code != 0:
                failed.append(role)
        if server.poll() is not None:
            failed.append(f"the dev server died (exit {server.returncode}, log {log.name})")
        print(
            f"api-fuzz: {total} generated cases over {operations} operations and {len(tokens)} roles "
            f"in {time.monotonic() - started:.0f} s; {'failed: ' + ', '.join(failed) if failed else 'no failure'}"
        )
        return 1 if failed else 0
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


if __name__ == "__main__":
    sys.exit(main())
