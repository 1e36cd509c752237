"""scripts/audit_dependencies.py: a known vulnerability fails, a silent service is said loudly.

The end-to-end cases run the script, and so pip-audit, against an OSV service on loopback;
one case asks the real services and is skipped, with their answer, when none of them answers.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "audit_dependencies.py"
JINJA2_CVE = {
    "id": "PYSEC-2019-217",
    "aliases": ["CVE-2019-10906", "GHSA-462w-v97r-4m45"],
    "summary": "sandbox escape through str.format_map",
    "affected": [
        {
            "package": {"name": "jinja2", "ecosystem": "PyPI"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.10.1"}]}],
        }
    ],
}


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_dependencies", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


audit = load_script()


class FakeOsv(BaseHTTPRequestHandler):
    """OSV's /v1/query: jinja2 before 2.10.1 has one vulnerability, the rest none."""

    mode = "answer"

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.mode == "down":
            self.send_response(503)
            self.end_headers()
            return
        known = self.mode == "answer" and query["package"]["name"] == "jinja2"
        vulnerable = known and tuple(map(int, query["version"].split("."))) < (2, 10, 1)
        body = json.dumps({"vulns": [JINJA2_CVE]} if vulnerable else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def osv_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOsv)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
        FakeOsv.mode = "answer"


def run_script(tmp_path: Path, pins: str, **env: str) -> tuple[int, str]:
    requirements = tmp_path / "pins.txt"
    requirements.write_text(pins)
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--requirement", str(requirements)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("PROMOTER_AUDIT_")},
            **env,
        },
    )
    return done.returncode, done.stdout + done.stderr


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/query"


def test_a_known_vulnerability_fails_the_audit(tmp_path: Path, osv_url: str) -> None:
    code, out = run_script(
        tmp_path,
        "jinja2==2.10\nclick==8.1.7\n",
        PROMOTER_AUDIT_SERVICES="osv",
        PROMOTER_AUDIT_OSV_URL=osv_url,
    )
    assert code == 1, out
    assert "VULNERABLE jinja2==2.10: PYSEC-2019-217 (CVE-2019-10906), fixed in 2.10.1" in out
    assert "known vulnerabilities in 1 of 2 dependencies" in out


def test_clean_pins_pass(tmp_path: Path, osv_url: str) -> None:
    code, out = run_script(
        tmp_path,
        "jinja2==3.1.6\nclick==8.1.7\n",
        PROMOTER_AUDIT_SERVICES="osv",
        PROMOTER_AUDIT_OSV_URL=osv_url,
    )
    assert code == 0, out
    assert f'no known vulnerabilities in 2 dependencies ("osv" ({osv_url}))' in out


@pytest.mark.parametrize("required", ["", "1"])
def test_an_unreachable_service_is_said_loudly_and_fails_only_when_required(
    tmp_path: Path, required: str
) -> None:
    url = closed_port_url()
    code, out = run_script(
        tmp_path,
        "jinja2==2.10\n",
        PROMOTER_AUDIT_SERVICES="osv",
        PROMOTER_AUDIT_OSV_URL=url,
        PROMOTER_AUDIT_REQUIRED=required,
    )
    notices = [line for line in out.splitlines() if line.startswith("AUDIT NOT RUN")]
    assert len(notices) == 1, out
    assert f'"osv" ({url})' in notices[0] and "Connection refused" in notices[0]
    assert code == (1 if required else 0), out
    assert "VULNERABLE" not in out


@pytest.mark.parametrize("mode", ["down", "empty"])
def test_a_service_that_answers_wrongly_does_not_pass_for_an_audit(
    tmp_path: Path, osv_url: str, mode: str
) -> None:
    FakeOsv.mode = mode
    code, out = run_script(
        tmp_path,
        "jinja2==2.10\n",
        PROMOTER_AUDIT_SERVICES="osv",
        PROMOTER_AUDIT_OSV_URL=osv_url,
        PROMOTER_AUDIT_REQUIRED="1",
    )
    assert code == 1, out
    assert out.startswith("AUDIT NOT RUN: no vulnerability service answered"), out
    reason = "503" if mode == "down" else "jinja2==2.10 has published vulnerabilities"
    assert reason in out


def test_the_real_services_flag_a_known_vulnerable_pin(tmp_path: Path) -> None:
    code, out = run_script(tmp_path, "jinja2==2.10\n")
    if out.startswith("AUDIT NOT RUN"):
        pytest.skip(f"no vulnerability service reachable from here: {out.strip()}")
    assert code == 1, out
    assert "VULNERABLE jinja2==2.10: " in out


def test_pypi_answering_404_per_release_counts_as_not_answering() -> None:
    stdout = json.dumps(
        {
            "dependencies": [
                {
                    "name": "jinja2",
                    "skip_reason": "Dependency not found on PyPI and could not be audited: "
                    "jinja2 (2.10)",
                }
            ],
            "fixes": [],
        }
    )
    report = audit.read_report(0, stdout, "No known vulnerabilities found\n")
    assert report.audited == 0 and not report.vulnerable
    assert audit.canary_failure(report).startswith("jinja2==2.10 skipped: Dependency not found")


def test_a_crash_that_is_not_the_network_breaks_the_audit() -> None:
    with pytest.raises(audit.AuditBroken, match="No module named pip_audit"):
        audit.read_report(1, "", "/venv/bin/python: No module named pip_audit\n")
    report = audit.read_report(
        1, "", "Traceback ...\nrequests.exceptions.ReadTimeout: read timed out\n"
    )
    assert report.unreachable == "requests.exceptions.ReadTimeout: read timed out"


def test_installed_pins_are_the_project_dependencies_without_the_audit_tooling() -> None:
    pins = audit.installed_pins()
    assert {"fastapi", "sqlalchemy", "psycopg-binary", "pytest", "jinja2"} <= pins.keys()
    assert "promoter" not in pins
    assert not {"pip-audit", "cyclonedx-python-lib", "cachecontrol", "pip"} & pins.keys()


def test_unpinned_input_is_refused(tmp_path: Path) -> None:
    code, out = run_script(tmp_path, "jinja2>=2.10\n")
    assert code == 2 and "AUDIT BROKEN" in out and "not a name==version pin" in out
