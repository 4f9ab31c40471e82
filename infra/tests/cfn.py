"""What the infra tests share: templates parsed once (with cfn-lint's loader, which
understands the intrinsic-function tags), and their resources by type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

_loaded: dict[Path, dict] = {}


def load(path: Path) -> dict:
    if path not in _loaded:
        _loaded[path] = load_cfn_yaml(str(path))
    return _loaded[path]


def resources(path: Path, kind: str) -> dict[str, dict]:
    return {k: v for k, v in load(path)["Resources"].items() if v.get("Type") == kind}


def text(value: Any) -> str | None:
    """A literal string, or the template string of a Fn::Sub."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and list(value) == ["Fn::Sub"]:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    return None
