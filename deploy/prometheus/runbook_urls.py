"""Set every alert's `runbook_url` from one base, as monitoring mixins do (runbookURLPattern).

The base is the project's declared runbook address, `[project.urls] Runbook` in pyproject.toml
(docs/runbook.md of this repository); a site that keeps its own copy of the runbook (a wiki, an
internal Git server) passes `--base`. Each URL is the base plus `#` and the alert name in lower
case, the runbook's heading anchor. Rewrites qsan_alerts.yml and its unit tests line by line
(comments stay), then the Kubernetes PrometheusRule generated from them.

    python deploy/prometheus/runbook_urls.py                      # the declared default
    python deploy/prometheus/runbook_urls.py --base https://wiki.example.net/qsan-runbook
    python deploy/prometheus/runbook_urls.py --check              # exit 1 if a URL differs
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FILES = (HERE / "qsan_alerts.yml", HERE / "qsan_alerts.test.yml")
_URL = re.compile(r"^([ \t]*runbook_url:[ \t]*)(\S+)#([a-z0-9]+)[ \t]*$", re.M)


def declared_base() -> str:
    """The runbook address pyproject.toml declares: the one place to change it for everyone."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project["urls"]["Runbook"]


def rewrite(text: str, base: str) -> str:
    return _URL.sub(lambda m: f"{m.group(1)}{base.rstrip('#')}#{m.group(3)}", text)


def _regenerate_prometheusrule(check: bool) -> int:
    path = ROOT / "deploy" / "kubernetes" / "generate_prometheusrule.py"
    spec = importlib.util.spec_from_file_location("generate_prometheusrule", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(["--check"] if check else [])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="where your runbook lives (default: pyproject's Runbook)")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if stale")
    args = parser.parse_args(argv)
    base = args.base or declared_base()
    stale = []
    for path in FILES:
        text = path.read_text(encoding="utf-8")
        new = rewrite(text, base)
        if new != text:
            stale.append(path)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if args.check and stale:
        print(f"runbook URLs differ from {base} in: " + ", ".join(p.name for p in stale),
              file=sys.stderr)
        return 1
    return _regenerate_prometheusrule(args.check)


if __name__ == "__main__":
    raise SystemExit(main())
