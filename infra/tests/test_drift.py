"""Drift check: infra/template.yaml against the Rust sources (read as text).

Run by `make infra-lint` (`python -m unittest discover -s infra/tests`). It fails when:
  (a) a function in the template has no functions/<name> crate, or a crate (other than
      dev-server) has no function in the template;
  (b) a function lacks an environment variable its code reads, or gets an ATELIER_* variable
      no code it runs reads. What each function reads is declared once, in the composition
      root's table (shared/app/src/settings.rs, `FUNCTIONS`), and nothing else reads settings
      from the environment (checked in shared/, with the local-only exceptions below);
  (c) an HttpApi route of the template is not registered by the router of the function that
      serves it, or a route of the API routers is missing. Which router serves which function
      is read from the composition root (shared/app/src/api.rs), the routes from
      shared/web/src/routes/*.rs;
  (d) the table's keys, GSIs or TTL differ from what the code queries and writes (INDEXES,
      KEY_ATTRIBUTES and the ttl attribute in shared/adapters/src/dynamodb/, every file of the
      module read as one source). The local table itself is created from the template
      (shared/devstack/src/template.rs), and tests/integration/local_stack.rs compares it;
  (e) the gateway's container (an ECS task definition, not a Lambda function) is not given
      exactly the variables `GATEWAY` declares in settings.rs, as environment variables or
      Secrets Manager secrets;
  (f) the template's HttpApi routes are not exactly the operations of the OpenAPI document
      (shared/web/openapi/*.json, the API's contract; /config.json aside, which CloudFront
      serves), or the routes without a token are not exactly its public operations
      (`security: []`).
"""

from __future__ import annotations

import json
import re
import unittest
from pathlib import Path

from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"
FUNCTIONS = ROOT / "functions"
SHARED = ROOT / "shared"
SETTINGS = SHARED / "app" / "src" / "settings.rs"
COMPOSITION = SHARED / "app" / "src" / "api.rs"
ROUTES = SHARED / "web" / "src" / "routes"
DYNAMODB = SHARED / "adapters" / "src" / "dynamodb"
OPENAPI = SHARED / "web" / "openapi"

# Crates that are never deployed.
NOT_DEPLOYED = {"dev-server"}
# Variables that are local-only, or set by Lambda itself.
NOT_IN_TEMPLATE = {
    "ATELIER_BIND",  # local HTTP bind address
    "ATELIER_SYNC_SECONDS",
    "ATELIER_SCHEDULER_SECONDS",
    "AWS_LAMBDA_RUNTIME_API",  # set by Lambda
    "AWS_REGION",  # set by Lambda
    "RUST_LOG",
}
NOT_IN_TEMPLATE_PREFIXES = ("ATELIER_MOTO_", "ATELIER_DEV_")
# Read by the code but must stay unset in AWS (the JWKS of a local Cognito): the test also
# checks that no function sets it.
MUST_NOT_BE_SET = {"ATELIER_COGNITO_JWKS_BASE"}
# Declared in settings.rs like the functions, but deployed as containers: the `Function` name ->
# (the task definition's logical id, the container's name).
CONTAINERS = {"gateway": ("GatewayTaskDefinition", "gateway")}
# The composition root's router functions -> the function that serves them.
ROUTER_FUNCTIONS = {"workspaces_routes": "workspaces-api", "catalog_routes": "catalog-api"}
# Sources that may read the environment for something else than a function's settings: the
# local stack (dev server, moto), the Lambda/local runners, the SDK configuration Lambda gives.
ENV_READERS_ALLOWED = {
    "shared/devstack/src/dev_server.rs",
    "shared/devstack/src/moto.rs",
    "shared/devstack/src/seed.rs",
    "shared/web/src/run.rs",
    "shared/app/src/job.rs",
    "shared/app/src/lib.rs",
    "shared/app/src/settings.rs",
}
# The only routes served without a token (Auth: Authorizer: NONE in the template).
PUBLIC_ROUTES = {("GET", "/v1/openapi.json")}
IGNORED_ROUTES = ("/_local/", "/config.json")
# Documented operations no function serves in AWS: CloudFront serves config.json from the portal
# bucket (infra/write-config.sh).
NOT_API_ROUTES = {("GET", "/config.json")}

ENV_READ = re.compile(r"\b(?:required|optional|var|var_os)\(\s*\"([A-Z][A-Z0-9_]*)\"\s*\)")
HTTP_METHODS = ("get", "post", "put", "delete", "patch")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def strip_comments(source: str) -> str:
    """The source without comments, and with char literals blanked (so `'{'` cannot unbalance
    braces). String literals, raw strings included, are kept."""
    out, i, n = [], 0, len(source)
    while i < n:
        c = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i)
            i = n if i < 0 else i
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            i = n if end < 0 else end + 2
            out.append(" ")
        elif c == "r" and re.match(r'r#*"', source[i:]) and not (i and (source[i - 1].isalnum() or source[i - 1] == "_")):
            hashes = re.match(r"r(#*)\"", source[i:]).group(1)
            end = source.find('"' + hashes, i + len(hashes) + 2)
            end = n if end < 0 else end + 1 + len(hashes)
            out.append(source[i:end])
            i = end
        elif c == '"':
            j = i + 1
            while j < n and source[j] != '"':
                j += 2 if source[j] == "\\" else 1
            out.append(source[i:j + 1])
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", source[i:])
            if m:
                out.append("' '")
                i += m.end()
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching(source: str, start: int, open_char: str, close_char: str) -> int:
    """Index just after the bracket closing the one at `start` (string literals skipped)."""
    depth, i, in_string = 0, start, False
    while i < len(source):
        c = source[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c == open_char:
            depth += 1
        elif c == close_char:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced brackets")


def declared_variables() -> dict[str, set[str]]:
    """Function name -> the ATELIER_* variables it declares in shared/app/src/settings.rs."""
    source = strip_comments(read(SETTINGS))
    constants = dict(re.findall(r'pub const (\w+): &str = "([A-Z][A-Z0-9_]*)";', source))
    out: dict[str, set[str]] = {}
    for m in re.finditer(r"pub const \w+: Function =\s*Function \{(.*?)\};", source, re.S):
        body = m.group(1)
        name = re.search(r'name:\s*"([^"]+)"', body).group(1)
        names = set()
        for field in ("required", "optional"):
            items = re.search(field + r":\s*&\[(.*?)\]", body, re.S).group(1)
            for item in re.findall(r"\w+", items):
                assert item in constants, f"{SETTINGS.name}: {name} declares {item}, which is not a variable"
                names.add(constants[item])
        out[name] = names
    return out


def env_readers() -> list[str]:
    """Sources under shared/ and functions/ that read a variable, outside ENV_READERS_ALLOWED."""
    found = []
    for path in sorted(list(SHARED.rglob("*.rs")) + list(FUNCTIONS.rglob("*.rs"))):
        relative = str(path.relative_to(ROOT))
        if relative in ENV_READERS_ALLOWED or path.name == "build.rs" or "/tests/" in relative or "/benches/" in relative:
            continue
        source = strip_comments(read(path))
        if re.search(r"\bstd::env::var(?:_os)?\(|\benv::var(?:_os)?\(", source):
            found.append(relative)
    return found


def deployable(name: str) -> bool:
    return name not in NOT_IN_TEMPLATE and not name.startswith(NOT_IN_TEMPLATE_PREFIXES)


def registered_routes(path: Path) -> set[tuple[str, str]]:
    """(METHOD, path) of every `.route("…", get(…).post(…))` in a router file."""
    source = strip_comments(read(path))
    routes = set()
    for m in re.finditer(r"\.route\(", source):
        call = source[m.end() - 1:matching(source, m.end() - 1, "(", ")")]
        route_path = re.match(r"\(\s*\"([^\"]+)\"\s*,", call)
        if not route_path:
            continue
        handlers = call[route_path.end():]
        for method in re.findall(r"(?<![\w.:])\.?(" + "|".join(HTTP_METHODS) + r")\(", handlers):
            routes.add((method.upper(), route_path.group(1)))
    return routes


def documented_operations() -> dict[tuple[str, str], dict]:
    """(METHOD, path) -> the operation, from every fragment of the OpenAPI document."""
    out: dict[tuple[str, str], dict] = {}
    for path in sorted(OPENAPI.glob("*.json")):
        for route, operations in (json.loads(read(path)).get("paths") or {}).items():
            for method, operation in operations.items():
                if method in HTTP_METHODS:
                    key = (method.upper(), route)
                    assert key not in out, f"{key} is documented twice ({path.name})"
                    out[key] = operation
    return out


class Template:
    def __init__(self) -> None:
        self.doc = load_cfn_yaml(str(TEMPLATE))
        self.resources = self.doc["Resources"]

    def functions(self) -> dict[str, dict]:
        """Binary name (from CodeUri ../build/lambda/<name>/bootstrap.zip) -> function properties."""
        out = {}
        for logical_id, resource in self.resources.items():
            if resource.get("Type") != "AWS::Serverless::Function":
                continue
            props = resource["Properties"]
            m = re.fullmatch(r"\.\./build/lambda/([\w-]+)/bootstrap\.zip", str(props.get("CodeUri", "")))
            assert m, f"{logical_id}: CodeUri must be ../build/lambda/<binary>/bootstrap.zip (make package)"
            out[m.group(1)] = props
        return out

    def routes(self) -> dict[tuple[str, str], str]:
        out = {}
        for name, props in self.functions().items():
            for event in (props.get("Events") or {}).values():
                if event.get("Type") == "HttpApi":
                    key = (str(event["Properties"]["Method"]).upper(), str(event["Properties"]["Path"]))
                    assert key not in out, f"route {key} is declared twice"
                    out[key] = name
        return out


class DriftTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.template = Template()
        cls.functions = cls.template.functions()
        cls.crates = {p.parent.name for p in FUNCTIONS.glob("*/Cargo.toml")}

    # (a)
    def test_every_function_has_a_crate_and_every_crate_a_function(self) -> None:
        for name in self.functions:
            cargo = FUNCTIONS / name / "Cargo.toml"
            self.assertTrue(cargo.exists(), f"template function {name} has no {cargo.relative_to(ROOT)}")
            package = re.search(r'^name\s*=\s*"([^"]+)"', read(cargo), re.M)
            self.assertEqual(package and package.group(1), name, f"{cargo.relative_to(ROOT)}: package name")
        missing = sorted(self.crates - NOT_DEPLOYED - set(self.functions))
        self.assertEqual(missing, [], "crates in functions/ without a function in infra/template.yaml")

    # (b)
    def test_environment_matches_what_the_code_reads(self) -> None:
        declared = declared_variables()
        problems = []
        for name in sorted(set(self.functions) | (set(declared) - set(CONTAINERS))):
            if name not in declared:
                problems.append(f"{name}: no Function in shared/app/src/settings.rs declares its variables")
                continue
            if name not in self.functions:
                problems.append(f"{name}: declared in shared/app/src/settings.rs, not in the template")
                continue
            variables = set(((self.functions[name].get("Environment") or {}).get("Variables") or {}).keys())
            reads = declared[name]
            wanted = {v for v in reads if deployable(v)} - MUST_NOT_BE_SET
            for v in sorted(wanted - variables):
                problems.append(f"{name}: the code reads {v}, the template does not set it")
            for v in sorted(v for v in variables - reads if v.startswith("ATELIER_")):
                problems.append(f"{name}: the template sets {v}, which no code of {name} reads")
            for v in sorted(variables & (MUST_NOT_BE_SET | NOT_IN_TEMPLATE)):
                problems.append(f"{name}: {v} must not be set in AWS")
        if problems:
            self.fail("\n" + "\n".join(problems))

    # (e)
    def test_gateway_container_gets_what_the_gateway_reads(self) -> None:
        declared = declared_variables()
        for name, (task_definition, container_name) in CONTAINERS.items():
            self.assertIn(name, declared, f"shared/app/src/settings.rs declares no Function named {name}")
            task = self.template.resources.get(task_definition)
            self.assertIsNotNone(task, f"{task_definition} is not in infra/template.yaml")
            self.assertEqual(task["Type"], "AWS::ECS::TaskDefinition")
            containers = {c["Name"]: c for c in task["Properties"]["ContainerDefinitions"]}
            container = containers[container_name]
            environment = [e["Name"] for e in container.get("Environment") or []]
            secrets = [e["Name"] for e in container.get("Secrets") or []]
            given = environment + secrets
            self.assertEqual(len(given), len(set(given)), f"{name}: a variable is given twice")
            reads = {v for v in declared[name] if deployable(v)} - MUST_NOT_BE_SET
            self.assertEqual(sorted(set(given)), sorted(reads), f"{name}: the container's environment and secrets")
            for v in sorted(set(given) & (MUST_NOT_BE_SET | NOT_IN_TEMPLATE)):
                self.fail(f"{name}: {v} must not be set in AWS")
            # The private key comes from Secrets Manager, never as a plain value.
            self.assertEqual(secrets, ["ATELIER_GATEWAY_SIGNING_KEY"], f"{name}: secrets")
            self.assertEqual(container["Secrets"][0]["ValueFrom"], {"Ref": "GatewaySigningKeySecretArn"})

    def test_settings_are_read_in_one_place(self) -> None:
        self.assertEqual(env_readers(), [], "read settings through shared/app/src/settings.rs")

    def test_logs_are_json(self) -> None:
        # AWS_LAMBDA_LOG_FORMAT=JSON is set by Lambda from LoggingConfig.LogFormat.
        for name, props in self.functions.items():
            self.assertEqual((props.get("LoggingConfig") or {}).get("LogFormat"), "JSON", name)

    # (c)
    def test_routes_match_the_routers(self) -> None:
        composition = strip_comments(read(COMPOSITION))
        served_by: dict[str, str] = {}
        for fn, function in ROUTER_FUNCTIONS.items():
            start = composition.index(f"fn {fn}(")
            body = composition[start:matching(composition, composition.index("{", start), "{", "}")]
            for module in re.findall(r"routes::(\w+)::router\(", body):
                served_by[module] = function
        self.assertEqual(set(served_by.values()), set(ROUTER_FUNCTIONS.values()), "the composition root's routers")
        code: dict[tuple[str, str], str | None] = {}
        for path in sorted(ROUTES.glob("*.rs")):
            for route in registered_routes(path):
                if route[1].startswith(IGNORED_ROUTES):
                    continue
                code[route] = served_by.get(path.stem)
        template = self.template.routes()
        problems = []
        for route, function in sorted(template.items()):
            if route not in code:
                problems.append(f"template route {route[0]} {route[1]} ({function}) is not registered in {ROUTES.relative_to(ROOT)}")
            elif code[route] != function:
                problems.append(f"template route {route[0]} {route[1]} goes to {function}, but {code[route]} serves it")
        for route, function in sorted(code.items()):
            if function is None:
                problems.append(f"route {route[0]} {route[1]} is served by no function of the composition root")
            elif route not in template:
                problems.append(f"route {route[0]} {route[1]} of {function} is not in the template")
        if problems:
            self.fail("\n" + "\n".join(problems))

    # (f)
    def test_routes_match_the_openapi_document(self) -> None:
        documented = documented_operations()
        self.assertTrue(documented, f"no operation in {OPENAPI.relative_to(ROOT)}")
        self.assertLessEqual(NOT_API_ROUTES, set(documented))
        template = self.template.routes()
        problems = [f"{m} {p} is documented but not a route of the template" for m, p in sorted(set(documented) - NOT_API_ROUTES - set(template))]
        problems += [f"{m} {p} ({template[(m, p)]}) is a route of the template but not documented" for m, p in sorted(set(template) - set(documented))]
        problems += [f"{m} {p} is documented but served by CloudFront, not the API" for m, p in sorted(NOT_API_ROUTES & set(template))]
        if problems:
            self.fail("\n" + "\n".join(problems))
        public = {route for route, operation in documented.items() if operation.get("security") == []} - NOT_API_ROUTES
        self.assertEqual(public, PUBLIC_ROUTES, "the documented public operations are the template's routes without a token")

    def test_every_route_requires_a_token_except_the_public_ones(self) -> None:
        api = next(r for r in self.template.resources.values() if r.get("Type") == "AWS::Serverless::HttpApi")
        self.assertTrue(api["Properties"]["Auth"].get("DefaultAuthorizer"))
        for name, props in self.functions.items():
            for event_name, event in (props.get("Events") or {}).items():
                if event.get("Type") == "HttpApi":
                    auth = event["Properties"].get("Auth") or {}
                    route = (str(event["Properties"]["Method"]).upper(), str(event["Properties"]["Path"]))
                    public = auth.get("Authorizer") == "NONE"
                    self.assertEqual(public, route in PUBLIC_ROUTES, f"{name}.{event_name}: public is {public}")

    # (d)
    def test_table_matches_dynamodb_rs(self) -> None:
        files = sorted(DYNAMODB.glob("*.rs")) + [p for p in [DYNAMODB.with_suffix(".rs")] if p.exists()]
        source = "\n".join(strip_comments(read(p)) for p in files)
        constants = dict(re.findall(r'pub const (\w+): &str = "([^"]+)";', source))
        indexes_src = re.search(r"pub const INDEXES[^=]*=\s*\[(.*?)\];", source, re.S)
        self.assertIsNotNone(indexes_src, "INDEXES not found in shared/adapters/src/dynamodb/")
        expected_indexes = sorted(
            (constants.get(index, index.strip('"')), pk, sk)
            for index, pk, sk in re.findall(r'\(\s*(\w+|"[^"]+")\s*,\s*"([^"]+)"\s*,\s*"([^"]+)"\s*\)', indexes_src.group(1))
        )
        # The key and the TTL attribute, as the code reads and writes them.
        key_attributes_src = re.search(r"const KEY_ATTRIBUTES[^=]*=\s*\[(.*?)\];", source, re.S)
        self.assertIsNotNone(key_attributes_src, "KEY_ATTRIBUTES not found in shared/adapters/src/dynamodb/")
        hash_key, range_key = re.findall(r'"(\w+)"', key_attributes_src.group(1))[:2]
        ttl = "ttl"
        self.assertRegex(source, r'\.name\("ttl"\)', "the code no longer writes the ttl attribute")

        table = next(r for r in self.template.resources.values() if r.get("Type") == "AWS::DynamoDB::Table")["Properties"]
        keys = lambda schema: [(k["AttributeName"], k["KeyType"]) for k in schema]  # noqa: E731
        self.assertEqual(keys(table["KeySchema"]), [(hash_key, "HASH"), (range_key, "RANGE")])
        actual_indexes = []
        for gsi in table["GlobalSecondaryIndexes"]:
            schema = dict((kind, name) for name, kind in keys(gsi["KeySchema"]))
            self.assertEqual(gsi["Projection"]["ProjectionType"], "ALL", gsi["IndexName"])
            actual_indexes.append((gsi["IndexName"], schema.get("HASH"), schema.get("RANGE")))
        self.assertEqual(sorted(actual_indexes), expected_indexes)
        key_attributes = {hash_key, range_key} | {a for _, pk, sk in expected_indexes for a in (pk, sk)}
        definitions = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
        self.assertEqual(definitions, {a: "S" for a in key_attributes})
        self.assertEqual(table["BillingMode"], "PAY_PER_REQUEST")
        self.assertEqual(table["TimeToLiveSpecification"], {"AttributeName": ttl, "Enabled": True})


if __name__ == "__main__":
    unittest.main()
