"""The platform's overhead is found by tag (issue 18, "The whole bill").

Run by `make infra-lint`. cost-actuals asks Cost Explorer for what carries
`atelier:component=platform` (shared/domain/src/costs/actuals.rs, COMPONENT_TAG and
PLATFORM_COMPONENT, read as text). It fails when infra/deploy.sh deploys a stack (aws
cloudformation deploy or sam deploy) without that stack tag, or when the tag it sets is not
the one the Rust code asks for.
"""

from __future__ import annotations

import re
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_SH = ROOT / "infra" / "deploy.sh"
ACTUALS = ROOT / "shared" / "domain" / "src" / "costs" / "actuals.rs"


def rust_const(name: str) -> str:
    match = re.search(rf'pub const {name}: &str = "([^"]+)";', ACTUALS.read_text(encoding="utf-8"))
    assert match, f"{name} not found in {ACTUALS}"
    return match.group(1)


def commands(script: str) -> list[str]:
    """The deploy commands, each with its continuation lines joined."""
    joined = script.replace("\\\n", " ")
    lines = [line for line in joined.splitlines() if not line.lstrip().startswith("#")]
    return [line for line in lines if re.search(r"\b(aws cloudformation deploy|sam deploy)\b", line)]


class PlatformTagTest(unittest.TestCase):
    def test_every_stack_is_deployed_with_the_platform_tag_the_code_asks_for(self) -> None:
        script = DEPLOY_SH.read_text(encoding="utf-8")
        tag = re.search(r"^PLATFORM_TAG=(\S+)$", script, re.M)
        self.assertIsNotNone(tag, "deploy.sh: no PLATFORM_TAG=")
        assert tag is not None
        self.assertEqual(tag.group(1), f"{rust_const('COMPONENT_TAG')}={rust_const('PLATFORM_COMPONENT')}")
        found = commands(script)
        self.assertGreaterEqual(len(found), 2, "the parser found the deploy commands")
        for command in found:
            self.assertIn('--tags "$PLATFORM_TAG"', command, f"deploy.sh deploys without the platform tag: {command.strip()}")


if __name__ == "__main__":
    unittest.main()
