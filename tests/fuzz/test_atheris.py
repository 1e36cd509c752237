"""Runs the coverage-guided fuzzer of the ingestion path (tests/fuzz/ingest_target.py).

libFuzzer, through atheris, mutates the seed bodies of tests/fuzz/corpus with the
dictionary of Segment's field names, for RUNS inputs. It fails on any exception other
than the refusals the endpoints answer with a 4xx, on an input taking more than
TIMEOUT seconds (a hang), and on memory beyond RSS_LIMIT_MB.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.figures import record

pytestmark = pytest.mark.alone
HERE = Path(__file__).parent
RUNS = int(os.environ.get("PROMOTER_FUZZ_RUNS", "200000"))
TIMEOUT = 10
RSS_LIMIT_MB = 512
#: Bodies up to a little over the 32 KB message limit.
MAX_LEN = 40_000


@pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris has no wheel for this platform (it is installed on x86-64 Linux)",
)
def test_ingestion_parser_under_libfuzzer(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(HERE / "corpus", corpus)
    run = subprocess.run(
        [
            # Through a shell that forks: libFuzzer reads its memory from getrusage, which
            # would otherwise start from this (large) test process's high-water mark.
            "sh",
            "-c",
            '"$@"; exit $?',
            "sh",
            sys.executable,
            str(HERE / "ingest_target.py"),
            str(corpus),
            f"-dict={HERE / 'segment.dict'}",
            f"-runs={RUNS}",
            f"-timeout={TIMEOUT}",
            f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-max_len={MAX_LEN}",
            f"-artifact_prefix={tmp_path}/",
            "-seed=1",
            "-print_final_stats=1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = run.stderr + run.stdout
    assert run.returncode == 0, f"the fuzzer found a problem:\n{output[-6000:]}"
    stats = dict(re.findall(r"stat::(\w+):\s+(\d+)", output))
    assert int(stats["number_of_executed_units"]) == RUNS, output[-2000:]
    coverage = re.findall(r"cov: (\d+)", output)
    record(
        "atheris-ingestion",
        "none",
        inputs_run=int(stats["number_of_executed_units"]),
        inputs_per_second=int(stats["average_exec_per_sec"]),
        coverage_edges=int(coverage[-1]) if coverage else None,
        peak_rss_mb=int(stats["peak_rss_mb"]),
        slowest_input_seconds=int(stats["slowest_unit_time_sec"]),
        crashes=0,
    )
