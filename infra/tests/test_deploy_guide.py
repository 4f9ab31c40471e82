"""The deploy guide (docs/deploy.md), followed step by step without AWS credentials.

`DeployGuide` (run by `make deploy-guide`, the last step of `make test`; skipped by
`make infra-lint`, which only sets up nothing it needs) copies the work tree (tracked and
untracked, not ignored, files, modification times kept) into a temporary directory, then runs
the guide's ```sh blocks there in order with `bash -euo pipefail`, in an environment with no AWS
variables, no AWS config or credentials file and no instance-metadata lookups (so the credential
chain finds nothing, locally, without a network call). It asserts that every block before the
first one that calls AWS (`aws …`, `sam …`, `make deploy`) succeeds, and that this one fails
because there are no credentials (the AWS CLI's "Unable to locate credentials"), not because of
a missing file, tool or parameter. Then `make deploy` itself must stop at its credential check
with every offline check passed, `make deploy-check` must name each missing value, and
`sam package` (what `sam deploy` does first) must upload the zips of CodeUri byte for byte to a
local S3 (moto, from `make venv`, on a loopback port).

Between the blocks it does what the guide asks a person to do: after `cp … deploy.env` it fills
in infra/deploy.env with sample values (SAMPLE below).

What it does not do as written, to stay fast:
- `make package` builds every function in release mode with LTO, one at a time: about
  `PACKAGE_COLD_MINUTES` minutes cold on the 2-core machines, too slow for every `make test`.
  The test runs `make package PACKAGE=catalog-api` instead: the same recipe (cargo lambda, zig,
  the zip, the architecture file, the size table) for one function; its build is cached in
  ~/.cache/atelier/lambda-target, so only the first run on a machine pays for it (about 8
  minutes), later ones take seconds. The other functions' zips and the agent binary are taken
  from the work tree's build/ when a real `make package` left them there, and are stand-ins
  otherwise: copies of catalog-api's zip (same architecture file) and a placeholder agent. They
  are never deployed (nothing is).
- The copy is always at the same place for a given work tree (under the temporary directory):
  cargo rebuilds a workspace crate whose checkout moved, which would cost a minute a run.
- `.venv` and `frontend/node_modules` of the copy are links to the work tree's, so the deploy
  venv (`make deploy-guide` builds it first) and the portal's packages are not installed again.
- infra/catalog.json, when the work tree has none yet, is a stand-in `[]` (deploy-check only
  asks that CATALOG_FILE exists; the catalog-import binary reads it after the stacks).
"""

from __future__ import annotations

import os
import hashlib
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deploy.md"
EXAMPLE = ROOT / "infra" / "deploy.env.example"
DEPLOY_SH = ROOT / "infra" / "deploy.sh"
MAKEFILE = ROOT / "Makefile"

# Measured on this project's 2-core machine (docs/deploy.md, "1. Build").
PACKAGE_COLD_MINUTES = 30
ONE_FUNCTION = "catalog-api"

# A line that calls AWS: the CLI, SAM, or make deploy (not deploy-check).
AWS_CALL = re.compile(r"^\s*(?:\|\|\s*)?(?:aws|sam)\s|^\s*make deploy\s*(?:#.*)?$", re.M)
# What a failure for want of credentials must not look like.
NOT_CREDENTIALS = re.compile(r"command not found|No such file|is not set|is missing|not on PATH|usage:|Traceback", re.I)

SAMPLE = {
    "AWS_REGION": "eu-west-3",
    "CORPORATE_CIDR": "10.0.0.0/8",
    "S3_PREFIX_LIST_ID": "pl-6ea54007",
    "DYNAMODB_PREFIX_LIST_ID": "pl-6fa54006",
    "COGNITO_DOMAIN_PREFIX": "atelier-guide-test",
    "DATA_LAKE_BUCKETS": "example-lake-a,example-lake-b",
    "CODEARTIFACT_DOMAIN": "example",
    "CODEARTIFACT_REPOSITORY": "atelier",
    "AGENT_ARTIFACT_BUCKET": "example-atelier-artefacts",
    "GATEWAY_IMAGE_URI": "123456789012.dkr.ecr.eu-west-3.amazonaws.com/atelier-gateway:guide-test",
    "GATEWAY_CERTIFICATE_ARN": "arn:aws:acm:eu-west-3:123456789012:certificate/00000000-0000-0000-0000-000000000000",
    "GATEWAY_DOMAIN_NAME": "atelier-gateway.corp.example.org",
    "API_CERTIFICATE_ARN": "arn:aws:acm:eu-west-3:123456789012:certificate/11111111-1111-1111-1111-111111111111",
    "API_DOMAIN_NAME": "atelier-api.example.org",
    "TEMPLATE_BUCKET": "example-atelier-artefacts",
    "GIT_REMOTE_URL": "https://git-codecommit.eu-west-3.amazonaws.com/v1/repos/example",
    "DATA_LAKE_EXEMPT_PRINCIPAL_ARNS": "arn:aws:iam::123456789012:role/ingestion",
}


def sh_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", text, re.S | re.M)


def required_names() -> list[str]:
    """The NAMEs infra/deploy.sh requires (its `"NAME|what"` entries)."""
    return re.findall(r'^\s*"([A-Z0-9_]+)\|', DEPLOY_SH.read_text(), re.M)


def filled(example: str, values: dict[str, str]) -> str:
    out = example
    for name, value in values.items():
        out, n = re.subn(rf"^{name}=.*$", f"{name}={value}", out, flags=re.M)
        assert n == 1, f"infra/deploy.env.example has no line {name}= (the test fills it in)"
    return out


class GuideText(unittest.TestCase):
    """Cheap checks that keep the guide, the example config and the script in step (always run)."""

    def test_every_required_value_has_a_line_in_the_example(self) -> None:
        example = EXAMPLE.read_text()
        names = required_names()
        self.assertIn("COGNITO_DOMAIN_PREFIX", names)
        for name in names:
            self.assertRegex(example, rf"(?m)^{name}=", f"{name} is required by infra/deploy.sh")

    def test_the_sample_fills_every_required_value(self) -> None:
        for name in required_names():
            if name != "STACK":  # has a default in the example
                self.assertIn(name, SAMPLE)

    def test_the_guide_calls_only_make_targets_that_exist(self) -> None:
        targets = set(re.findall(r"^([a-z][a-z0-9-]*):", MAKEFILE.read_text(), re.M))
        for block in sh_blocks(GUIDE.read_text()):
            for target in re.findall(r"(?:^|\|\|\s*)make ([a-z][a-z0-9-]*)", block, re.M):
                self.assertIn(target, targets, f"docs/deploy.md calls make {target}")

    def test_the_guide_has_an_aws_free_part_before_aws(self) -> None:
        blocks = sh_blocks(GUIDE.read_text())
        first_aws = next(i for i, b in enumerate(blocks) if AWS_CALL.search(b))
        offline = "\n".join(blocks[:first_aws])
        for step in ("make package", "make portal", "make gateway-keys", "infra/deploy.env.example", "make deploy-check"):
            self.assertIn(step, offline)


@unittest.skipUnless(os.environ.get("ATELIER_DEPLOY_GUIDE") == "1", "builds: run by make deploy-guide (part of make test)")
class DeployGuide(unittest.TestCase):
    work: Path
    env: dict[str, str]
    steps: list[tuple[str, subprocess.CompletedProcess[str], float]]
    first_aws: int

    @classmethod
    def setUpClass(cls) -> None:
        # One fixed place per work tree, emptied first: cargo rebuilds a workspace crate whose
        # checkout moved, so a new random directory every run would rebuild catalog-api.
        tmp = Path(tempfile.gettempdir()) / f"atelier-deploy-guide-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        cls._tmp_path = tmp
        cls.work = tmp / "atelier"
        copy_work_tree(cls.work)
        cls.env = no_aws_env(tmp)
        blocks = sh_blocks(GUIDE.read_text())
        cls.first_aws = next(i for i, b in enumerate(blocks) if AWS_CALL.search(b))
        cls.steps = []
        for i, block in enumerate(blocks[: cls.first_aws + 1]):
            script = block
            if re.search(r"(?m)^make package\s*$", block):
                script = re.sub(r"(?m)^make package\s*$", f"make package PACKAGE={ONE_FUNCTION}", block)
            started = time.monotonic()
            result = run(script, cls.work, cls.env, timeout=3600)
            cls.steps.append((block, result, time.monotonic() - started))
            print(f"\n[deploy guide] block {i + 1}: exit {result.returncode} in {time.monotonic() - started:.0f} s", flush=True)
            if result.returncode != 0:
                break
            if "make package" in script:
                stand_ins(cls.work)
            if "infra/deploy.env.example" in block:
                path = cls.work / "infra" / "deploy.env"
                path.write_text(filled(path.read_text(), SAMPLE))

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls._tmp_path, ignore_errors=True)

    def test_1_every_step_before_the_first_aws_call_succeeds(self) -> None:
        for block, result, _ in self.steps[: self.first_aws]:
            self.assertEqual(result.returncode, 0, f"this step of docs/deploy.md failed:\n{block}\n{tail(result)}")
        self.assertEqual(len(self.steps), self.first_aws + 1, "the guide stopped before its first AWS call")
        package = next(r for b, r, _ in self.steps if "make package" in b)
        self.assertRegex(package.stdout, rf"(?m)^{ONE_FUNCTION}\s+x86_64\s+[0-9]+\s+[0-9.]+\s+build/lambda/{ONE_FUNCTION}/bootstrap\.zip$",
                         "make package prints each zip with its size")
        check = next(r for b, r, _ in self.steps if "make deploy-check" in b)
        self.assertIn("deploy: check passed", check.stdout)

    def test_2_the_first_aws_call_fails_for_want_of_credentials(self) -> None:
        block, result, _ = self.steps[-1]
        self.assertTrue(AWS_CALL.search(block))
        self.assertNotEqual(result.returncode, 0, "an AWS call succeeded without credentials")
        output = result.stdout + result.stderr
        self.assertRegex(output, r"(?i)credentials", tail(result))
        self.assertNotRegex(output, NOT_CREDENTIALS, tail(result))

    def test_3_make_deploy_stops_at_its_credential_check(self) -> None:
        result = run("make deploy", self.work, self.env, timeout=600)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("deploy: check passed", result.stdout, tail(result))
        self.assertIn("deploy: no usable AWS credentials for eu-west-3", result.stderr, tail(result))
        self.assertIn("Nothing was deployed", result.stderr)
        self.assertNotIn("deploy: stack ", result.stdout + result.stderr)

    def test_4_deploy_check_names_what_is_missing(self) -> None:
        example = EXAMPLE.read_text()
        (self.work / "infra" / "empty.env").write_text(example)
        result = run("make deploy-check", self.work, {**self.env, "ATELIER_DEPLOY_ENV": "infra/empty.env"}, timeout=600)
        self.assertNotEqual(result.returncode, 0)
        for name in required_names():
            if name != "STACK":
                self.assertIn(f"deploy: infra/empty.env: {name} is not set", result.stderr)
        one_short = {**SAMPLE, "COGNITO_DOMAIN_PREFIX": ""}
        (self.work / "infra" / "one-short.env").write_text(filled(example, one_short))
        result = run("make deploy-check", self.work, {**self.env, "ATELIER_DEPLOY_ENV": "infra/one-short.env"}, timeout=600)
        self.assertNotEqual(result.returncode, 0)
        self.assertEqual(re.findall(r"(?m)^deploy: .*", result.stderr)[0],
                         "deploy: infra/one-short.env: COGNITO_DOMAIN_PREFIX is not set (template.yaml CognitoDomainPrefix)")
        self.assertIn("1 problem(s) before anything was deployed", result.stderr)

    def test_5_deploy_check_refuses_zips_of_two_architectures(self) -> None:
        marker = self.work / "build" / "lambda" / "scheduler" / "architecture"
        marker.write_text("arm64\n")
        try:
            result = run("make deploy-check", self.work, self.env, timeout=600)
        finally:
            marker.write_text("x86_64\n")
        self.assertNotEqual(result.returncode, 0)
        self.assertRegex(result.stderr, r"build/lambda/\S+ was built for '(arm64|x86_64)', the others for '(x86_64|arm64)'")

    def test_6_sam_package_uploads_the_zips_as_they_are(self) -> None:
        """What sam deploy does first with CodeUri: against moto's S3 on a loopback port."""
        moto = ROOT / ".venv" / "bin" / "moto_server"
        if not moto.exists():
            self.skipTest("needs make venv's moto_server")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    self.assertLess(time.monotonic(), deadline, "moto_server did not start")
                    time.sleep(0.2)
            env = {**self.env, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "local",
                   "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "eu-west-3"}
            result = run('export PATH="$PWD/.venv/deploy/bin:$PATH"\n'
                         "aws s3 mb s3://sam-package-check > /dev/null\n"
                         "sam package --template-file infra/template.yaml --s3-bucket sam-package-check "
                         "--output-template-file build/packaged.yaml > /dev/null\n"
                         'aws s3api list-objects-v2 --bucket sam-package-check --query "Contents[].Size" --output text',
                         self.work, env, timeout=600)
        finally:
            server.terminate()
            server.wait(timeout=30)
        self.assertEqual(result.returncode, 0, tail(result))
        template = (self.work / "infra" / "template.yaml").read_text()
        zips = [self.work / "build" / "lambda" / f / "bootstrap.zip"
                for f in re.findall(r"CodeUri: \.\./build/lambda/([\w-]+)/bootstrap\.zip", template)]
        # Uploaded byte for byte (sam names objects by content: identical stand-ins are one object).
        self.assertEqual({int(n) for n in result.stdout.split()}, {z.stat().st_size for z in zips})
        packaged = (self.work / "build" / "packaged.yaml").read_text()
        self.assertEqual(len(re.findall(r"CodeUri: s3://sam-package-check/", packaged)), len(zips))


def copy_work_tree(dest: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        source = ROOT / rel
        if source.is_file() and not source.is_symlink():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / rel)  # keeps mtimes: cargo's and make's caches stay valid
    # Directories too, last and deepest first (cargo watches some: shared/web/openapi).
    for folder in sorted((p for p in dest.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if (ROOT / folder.relative_to(dest)).is_dir():
            shutil.copystat(ROOT / folder.relative_to(dest), folder)
    for rel in (".venv", "frontend/node_modules"):
        if (ROOT / rel).is_dir():
            (dest / rel).symlink_to(ROOT / rel, target_is_directory=True)
    if (ROOT / "build").is_dir():
        shutil.copytree(ROOT / "build", dest / "build", copy_function=shutil.copy2)
    for key in ("gateway.key", "gateway.pub", "deploy.env"):
        (dest / "infra" / key).unlink(missing_ok=True)  # the guide makes its own
    catalog = dest / "infra" / "catalog.json"
    if not catalog.exists():
        catalog.write_text("[]\n")


def no_aws_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") or k == "AWS_CA_BUNDLE"}
    env.update(
        AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        SAM_CLI_TELEMETRY="0",
    )
    env.pop("ATELIER_DEPLOY_ENV", None)
    return env


def stand_ins(work: Path) -> None:
    """The zips and the agent that `make package PACKAGE=catalog-api` did not build (see the docstring)."""
    lambdas = work / "build" / "lambda"
    real = lambdas / ONE_FUNCTION
    functions = re.findall(r"CodeUri: \.\./build/lambda/([\w-]+)/bootstrap\.zip", (work / "infra" / "template.yaml").read_text())
    for f in functions:
        # A zip without its architecture file was not made by `make package` (cargo-lambda
        # also zips whatever other function binaries its target directory holds): a stand-in.
        if not (lambdas / f / "bootstrap.zip").exists() or not (lambdas / f / "architecture").exists():
            (lambdas / f).mkdir(parents=True, exist_ok=True)
            shutil.copy2(real / "bootstrap.zip", lambdas / f / "bootstrap.zip")
            shutil.copy2(real / "architecture", lambdas / f / "architecture")
        elif (lambdas / f / "architecture").read_text() != (real / "architecture").read_text():
            shutil.copy2(real / "architecture", lambdas / f / "architecture")
    agent = work / "build" / "agent" / "atelier-agent"
    if not agent.exists():
        agent.parent.mkdir(parents=True, exist_ok=True)
        agent.write_text("stand-in for make package's agent binary (infra/tests/test_deploy_guide.py)\n")


def run(script: str, cwd: Path, env: dict[str, str], timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def tail(result: subprocess.CompletedProcess[str], lines: int = 40) -> str:
    out = (result.stdout + "\n" + result.stderr).strip().splitlines()
    return "\n".join(out[-lines:])


if __name__ == "__main__":
    unittest.main()
