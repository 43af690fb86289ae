"""The run summary's cost table (pipelines/report/summary.py, measured by pipelines/cli/common.run_pipeline)."""
from __future__ import annotations

import json
import os
import re
import resource
from pathlib import Path

from pipelines import cli
from pipelines.report.summary import RunCost, run_cost

ARXIV = Path(__file__).parent / "data" / "arxiv" / "arXiv_src_0001_001.tar"


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def test_the_summary_prints_wall_cpu_of_every_process_and_rates_per_mb(tmp_path, capsys):
    before = _children_cpu()
    assert cli.main(["arxiv", "--input", str(ARXIV), "--output", str(tmp_path / "out"), "--workers", "1"]) == 0
    workers_cpu = _children_cpu() - before
    err = capsys.readouterr().err
    header = next(i for i, line in enumerate(err.splitlines()) if "CPU s per MB" in line)
    row = next(line for line in err.splitlines()[header + 1:] if re.search(r"\d", line))
    wall, cpu, mb, mb_s, per_mb = (float(x.replace(",", "")) for x in re.findall(r"[\d.,]+", row))
    stats = json.loads((tmp_path / "out" / "_stats.json").read_text())
    assert mb > 0 and abs(mb - stats["chars"]["read"] / 1e6) <= 0.005 * mb + 1e-6
    assert workers_cpu > 0.5, "the local runner's worker is a reaped child that did work"
    assert workers_cpu * 0.9 <= cpu <= wall * (os.cpu_count() or 1) + 1, "launcher + workers, within the cores"
    text_mb = stats["chars"]["read"] / 1e6
    assert abs(per_mb - cpu / text_mb) <= 0.05 / text_mb + 0.01 * per_mb, "CPU s is printed to 0.1 s"
    assert abs(mb_s - text_mb / wall) <= (0.05 / wall + 0.01) * mb_s + 1e-6, "wall s is printed to 0.1 s"


def test_costs_per_mb_and_unmeasured_cpu():
    cost = run_cost({"chars": {"read": 50_000_000}}, 20.0, 30.0)
    assert cost == RunCost(20.0, 30.0, 50.0) and cost.mb_per_s == 2.5 and cost.cpu_s_per_mb == 0.6
    assert run_cost({"chars": {"read": 0}}, 1.0, None).cpu_s_per_mb is None
