"""Audit Promoter's installed dependencies for known vulnerabilities with pip-audit.

Run with the virtual environment's Python (`make audit`). It pins every distribution that
`promoter[test]` pulls in (pip-audit's own tooling excepted) to the version installed, then:

- probes each vulnerability service in turn (PROMOTER_AUDIT_SERVICES, default "pypi,osv")
  with a canary, a release with a published vulnerability: a service that does not report
  it is not answering, whatever pip-audit's exit code says;
- audits the pins with the first service that answered: a known vulnerability exits 1.

When no service answers, it prints one line starting with "AUDIT NOT RUN" and exits 0, or
1 when PROMOTER_AUDIT_REQUIRED=1. Exit 2 means the audit itself broke.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = "promoter"
EXTRAS = ("test",)
TOOLING = frozenset({"pip-audit"})
CANARY = "jinja2==2.10"
SERVICE_URLS = {
    "pypi": "https://pypi.org/pypi/<name>/<version>/json",
    "osv": "https://api.osv.dev/v1/query",
}
REQUEST_TIMEOUT_SECONDS = 10
RUN_TIMEOUT_SECONDS = 60
NETWORK_MARKERS = (
    "ConnectionError",
    "Timeout",
    "ServiceError",
    "HTTPError",
    "Max retries exceeded",
    "Could not connect",
)


class AuditBroken(Exception):
    """pip-audit failed for a reason other than the service: a bug to fix, not to skip."""


@dataclass
class Report:
    """What one pip-audit run said, or why it said nothing."""

    vulnerable: dict[str, list[str]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    audited: int = 0
    unreachable: str | None = None


def installed_pins(
    root: str = ROOT, extras: Sequence[str] = EXTRAS, exclude: frozenset[str] = TOOLING
) -> dict[str, str]:
    """Name -> installed version of every distribution `root[extras]` requires, transitively."""
    pins: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    queue: list[tuple[str, tuple[str, ...]]] = [(root, tuple(extras))]
    while queue:
        name, wanted = queue.pop()
        dist = metadata.distribution(name)
        for raw in dist.requires or ():
            req = Requirement(raw)
            dep = canonicalize_name(req.name)
            if dep in exclude or not _applies(req, wanted):
                continue
            for extra in ("", *sorted(req.extras)):
                if (dep, extra) in seen:
                    continue
                seen.add((dep, extra))
                try:
                    pins[dep] = metadata.version(dep)
                except metadata.PackageNotFoundError as missing:
                    raise AuditBroken(f"{dep} is required but not installed") from missing
                queue.append((dep, (extra,) if extra else ()))
    pins.pop(canonicalize_name(root), None)
    return pins


def read_pins(path: Path) -> dict[str, str]:
    """Name -> version from `name==version` lines (comments and blank lines ignored)."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        name, sep, version = text.partition("==")
        if not sep or not name.strip() or not version.strip():
            raise AuditBroken(f"{path}: not a name==version pin: {text!r}")
        pins[canonicalize_name(name.strip())] = version.strip()
    return pins


def _applies(req: Requirement, extras: Sequence[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({"extra": extra}) for extra in ("", *extras))


def pip_audit_command(requirements: Path, service: str, osv_url: str | None) -> list[str]:
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--requirement",
        str(requirements),
        "--no-deps",
        "--disable-pip",
        "--format",
        "json",
        "--progress-spinner",
        "off",
        "--vulnerability-service",
        service,
        "--timeout",
        str(REQUEST_TIMEOUT_SECONDS),
    ]
    if osv_url and service == "osv":
        command += ["--osv-url", osv_url]
    return command


def read_report(returncode: int, stdout: str, stderr: str) -> Report:
    """Turn one pip-audit run into a Report; raise AuditBroken when the tool itself failed."""
    try:
        parsed: Any = json.loads(stdout)
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict) or "dependencies" not in parsed:
        lines = [line.strip() for line in stderr.splitlines() if line.strip()]
        network = [line for line in lines if any(m in line for m in NETWORK_MARKERS)]
        if returncode != 0 and network:
            raised = [line for line in network if line.startswith("requests.exceptions.")]
            return Report(unreachable=(raised or network)[-1])
        last = lines[-1] if lines else "no output"
        raise AuditBroken(f"pip-audit exited {returncode} without a report: {last}")
    report = Report()
    for dep in parsed["dependencies"]:
        if "skip_reason" in dep:
            report.skipped[dep["name"]] = dep["skip_reason"]
            continue
        report.audited += 1
        ids = [_describe(vuln) for vuln in dep.get("vulns", [])]
        if ids:
            report.vulnerable[f"{dep['name']}=={dep['version']}"] = ids
    return report


def _describe(vuln: dict[str, Any]) -> str:
    fixed = ", ".join(vuln.get("fix_versions", [])) or "none yet"
    aliases = [alias for alias in vuln.get("aliases", []) if alias.startswith("CVE-")]
    named = f"{vuln['id']} ({', '.join(aliases)})" if aliases else vuln["id"]
    return f"{named}, fixed in {fixed}"


def run_pip_audit(pins: Iterable[str], service: str, osv_url: str | None) -> Report:
    with tempfile.TemporaryDirectory(prefix="promoter-audit-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text("".join(f"{pin}\n" for pin in pins))
        try:
            done = subprocess.run(
                pip_audit_command(requirements, service, osv_url),
                capture_output=True,
                text=True,
                timeout=RUN_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Report(unreachable=f"no answer within {RUN_TIMEOUT_SECONDS}s")
    return read_report(done.returncode, done.stdout, done.stderr)


def canary_failure(report: Report) -> str | None:
    """Why the service did not prove it answers (None when it reported the canary)."""
    if report.unreachable is not None:
        return report.unreachable
    if report.vulnerable:
        return None
    if report.skipped:
        return "; ".join(f"{CANARY} skipped: {why}" for why in report.skipped.values())
    return f"{CANARY} has published vulnerabilities, but the service reported none"


def service_label(service: str, osv_url: str | None) -> str:
    url = osv_url if service == "osv" and osv_url else SERVICE_URLS.get(service, "?")
    return f'"{service}" ({url})'


def choose_service(services: Sequence[str], osv_url: str | None) -> tuple[str | None, list[str]]:
    failures: list[str] = []
    for service in services:
        failure = canary_failure(run_pip_audit([CANARY], service, osv_url))
        if failure is None:
            return service, failures
        failures.append(f"{service_label(service, osv_url)}: {failure}")
    return None, failures


def audit(
    pins: dict[str, str], services: Sequence[str], osv_url: str | None, required: bool
) -> int:
    service, failures = choose_service(services, osv_url)
    if service is None:
        return not_run(
            f"no vulnerability service answered, {_count(len(pins))} unchecked "
            f"({' | '.join(failures)})",
            required,
        )
    label = service_label(service, osv_url)
    report = run_pip_audit(
        [f"{name}=={version}" for name, version in sorted(pins.items())], service, osv_url
    )
    if report.unreachable is not None:
        return not_run(f"{label} stopped answering: {report.unreachable}", required)
    for pin, vulns in sorted(report.vulnerable.items()):
        for vuln in vulns:
            print(f"VULNERABLE {pin}: {vuln}")
    if report.skipped:
        print(
            f"AUDIT INCOMPLETE: {label} could not audit {len(report.skipped)} of "
            f"{_count(len(pins))}: "
            + "; ".join(f"{name}: {why}" for name, why in sorted(report.skipped.items()))
        )
    if report.vulnerable:
        print(
            f"audit: known vulnerabilities in {len(report.vulnerable)} of "
            f"{_count(len(pins))} ({label})"
        )
        return 1
    print(f"audit: no known vulnerabilities in {_count(report.audited)} ({label})")
    return 1 if report.skipped and required else 0


def not_run(reason: str, required: bool) -> int:
    """Say on one line that the audit did not run; fail only when it is required."""
    hint = "" if required else "; set PROMOTER_AUDIT_REQUIRED=1 to fail on this"
    print(f"AUDIT NOT RUN: {reason}{hint}")
    return 1 if required else 0


def _count(n: int) -> str:
    return f"{n} dependency" if n == 1 else f"{n} dependencies"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "-r",
        "--requirement",
        type=Path,
        help="audit these exact pins (name==version lines) instead of the installed environment",
    )
    args = parser.parse_args(argv)
    services = [s.strip() for s in os.environ.get("PROMOTER_AUDIT_SERVICES", "pypi,osv").split(",")]
    osv_url = os.environ.get("PROMOTER_AUDIT_OSV_URL") or None
    required = os.environ.get("PROMOTER_AUDIT_REQUIRED", "") not in ("", "0")
    try:
        pins = read_pins(args.requirement) if args.requirement else installed_pins()
        return audit(pins, [s for s in services if s], osv_url, required)
    except AuditBroken as broken:
        print(f"AUDIT BROKEN: {broken}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
