"""The same pipeline on Beam's PortableRunner (the protocol Dataflow, Flink and Spark speak) gives the same bytes.

Starts Beam's own local job service and an external worker pool as separate processes,
as a cluster would run them, and submits the pipeline through the Job API.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_GLOB, run_ccnet, run_dedup


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"service on port {port} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("localhost", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


@pytest.fixture(scope="module")
def portable_services(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("portable-services")
    job_port, pool_port = _free_port(), _free_port()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    logs = [open(tmp_path / name, "wb") for name in ("job_service.log", "worker_pool.log")]
    procs = [
        subprocess.Popen([sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main",
                          "--port", str(job_port)], stdout=logs[0], stderr=subprocess.STDOUT, env=env),
        subprocess.Popen([sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main",
                          "--service_port", str(pool_port)], stdout=logs[1], stderr=subprocess.STDOUT, env=env),
    ]
    try:
        _wait_for_port(job_port, procs[0])
        _wait_for_port(pool_port, procs[1])
        yield job_port, pool_port
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        for f in logs:
            f.close()


def _portable_flags(services) -> list[str]:
    job_port, pool_port = services
    return ["--runner", "PortableRunner", "--job_endpoint", f"localhost:{job_port}",
            "--environment_type", "EXTERNAL", "--environment_config", f"localhost:{pool_port}"]


def _assert_same_tree(out: Path, reference: Path) -> None:
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(reference) for p in reference.rglob("*") if p.is_file())
    assert len(files) > 3
    for f in files:
        assert (out / f).read_bytes() == (reference / f).read_bytes(), f


def test_portable_runner_gives_identical_shards(portable_services, sample_run, models_dir, tmp_path):
    out = tmp_path / "portable"
    assert run_ccnet(out, [SAMPLE_GLOB], models_dir, *_portable_flags(portable_services)) == 0
    _assert_same_tree(out, sample_run)


def test_portable_runner_dedup_identical(portable_services, dedup_run, tmp_path):
    out = tmp_path / "portable-dedup"
    assert run_dedup(out, [SAMPLE_GLOB], *_portable_flags(portable_services)) == 0
    _assert_same_tree(out, dedup_run)
