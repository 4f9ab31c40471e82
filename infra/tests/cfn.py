"""What the infra tests share: templates parsed once (with cfn-lint's loader, which
understands the intrinsic-function tags), and their resources by type."""

from __future__ import annotations

from pathlib import Path

from cfnlint.decode.cfn_yaml import load as load_cfn_yaml

_loaded: dict[Path, dict] = {}


def load(path: Path) -> dict:
    if path not in _loaded:
        _loaded[path] = load_cfn_yaml(str(path))
    return _loaded[path]


def resources(path: Path, kind: str) -> dict[str, dict]:
    return {k: v for k, v in load(path)["Resources"].items() if v.get("Type") == kind}
