"""The measuring of benchmarks/bench_common.py and the wiring of bench_ccnet.py / bench_scale.py (no timing):
CPU-seconds of a whole process tree, a CPU-clock profile charged to the calling module, corpus subsets,
and the cost model's arithmetic."""
from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import pytest

from tests.shared_inputs import benchmark_modules

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bench():
    """The benchmark modules imported as their scripts run."""
    return benchmark_modules('bench_common', 'bench_ccnet', 'bench_scale')


def test_cpu_seconds_count_every_process_of_the_tree(bench, tmp_path):
    common = bench[0]
    burn = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\n"
    script = tmp_path / "tree.py"
    script.write_text(textwrap.dedent(f"""
        import subprocess, sys
        kids = [subprocess.Popen([sys.executable, "-c", {burn!r}]) for _ in range(2)]
        exec({burn!r})
        for k in kids: k.wait()
        print("done")
    """))
    m = common.measure([sys.executable, str(script)])
    assert m["last"] == "done"
    assert m["cpu"] >= 1.7, "the launcher and both children burnt 0.6 CPU-s each"
    assert m["peak_rss"] >= m["peak_root"] > 0
    (tmp_path / "scratch" / "sub").mkdir(parents=True)
    (tmp_path / "scratch" / "a").write_bytes(b"x" * 1000)
    (tmp_path / "scratch" / "sub" / "b").write_bytes(b"x" * 234)
    assert common.folder_bytes(tmp_path / "scratch") == 1234 and common.folder_bytes(tmp_path / "none") == 0


def test_the_profile_charges_c_time_to_the_python_module_that_called_it(bench, tmp_path):
    common = bench[0]
    script = tmp_path / "hot.py"
    script.write_text("import zlib\n\ndef squeeze():\n    for _ in range(15):\n"
                      "        zlib.compress(bytes(range(256)) * 20000, 9)\n\nsqueeze()\n")
    prof = tmp_path / "hot.prof"
    common.measure(common.profile_command(script, [], prof))
    total, rows = common.profile_by_module(prof)
    module, seconds, hottest = rows[0]
    assert module == "stdlib hot" and hottest == "squeeze" and seconds >= 0.8 * total > 0


def test_mb_takes_the_leading_files_that_hold_that_much_text(bench):
    ccnet = bench[1]
    files = [Path(f"f{i}.warc.wet.gz") for i in range(4)]
    sizes = {f.name: {"docs": 10, "bytes": 6_000_000} for f in files}
    assert ccnet.leading_files(files, sizes, 0) == files
    assert ccnet.leading_files(files, sizes, 10) == files[:2]
    assert ccnet.leading_files(files, sizes, 12) == files[:2]
    assert ccnet.leading_files(files, sizes, 12.5) == files[:3]


def test_the_cost_model_scales_measured_seconds_to_a_crawl(bench, tmp_path):
    scale = bench[2]
    (tmp_path / "wet").mkdir()
    m = {"wall": 100.0, "cpu": 180.0, "peak_rss": 2e9, "peak_root": 1e9, "peak_child": 5e8, "written": 4e8,
         "peak_watch": 1e8}
    stages = [scale.Stage("ccnet", 1000.0, m), scale.Stage("tokenizer-train", 0.0, dict(m, cpu=10.0))]
    args = argparse.Namespace(workers=2, crawl_tb=100.0, vcpu_hour_usd=0.05, gb_hour_usd=0.0, shuffle_gb_usd=0.01,
                              gb_per_vcpu=3.75)
    text = "\n".join(scale.report(args, tmp_path, stages, 1000.0))
    # 180 CPU-s per 1000 MB -> 50 CPU-hours per TB (the one-off tokenizer training is not scaled)
    assert "| ccnet | 50 | 100 | 400 | 1.00 |" in text
    # 100 TB: 5,000 vCPU-h * $0.05 + 10,000 GB shuffled * $0.01 = $350
    assert "5,000 vCPU-hours" in text and "**~$350**" in text
