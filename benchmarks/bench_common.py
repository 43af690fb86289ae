"""Measurement helpers shared by the benchmark scripts: process-tree memory, machine, BENCHMARKS.md sections."""
from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_rss(root: int, cpu: dict[int, float] | None = None) -> tuple[int, int, int]:
    """(sum of RSS over the tree, RSS of the root, largest RSS of a descendant); `cpu` collects each
    process's CPU seconds as last seen."""
    kids = _children_map()
    total = root_rss = largest = 0
    stack = [root]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        pid = stack.pop()
        stack.extend(kids.get(pid, []))
        try:
            with open(f"/proc/{pid}/statm") as f:
                rss = int(f.read().split()[1]) * page
        except OSError:
            continue
        if cpu is not None:
            cpu[pid] = max(cpu.get(pid, 0.0), _cpu_seconds(pid))
        total += rss
        if pid == root:
            root_rss = rss
        else:
            largest = max(largest, rss)
    return total, root_rss, largest


def measure(cmd: list[str], env: dict | None = None) -> dict:
    """Run a command; wall seconds, CPU seconds of its process tree (user + system of the command and
    every descendant it waited for), peak RSS of the tree (total, root, largest child).

    Output goes to temporary files, not pipes: a child writing more than a pipe holds while
    we only sample memory would block forever.
    """
    import tempfile

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.time()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        peak = peak_root = peak_child = 0
        sampled: dict[int, float] = {}
        while proc.poll() is None:
            total, root_rss, child = _tree_rss(proc.pid, sampled)
            peak, peak_root, peak_child = max(peak, total), max(peak_root, root_rss), max(peak_child, child)
            time.sleep(0.1)
        wall = time.time() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])}... failed ({proc.returncode}):\n{stderr[-3000:]}")
    lines = stdout.strip().splitlines()
    # descendants that nobody waited for are missing from rusage; sampling sees them (to 0.1 s)
    cpu = max((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), sum(sampled.values()))
    return {"wall": wall, "cpu": cpu, "peak_rss": peak, "peak_root": peak_root, "peak_child": peak_child,
            "last": lines[-1] if lines else ""}


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, {platform.system()} {platform.release()}"


def write_section(path: Path, name: str, text: str) -> None:
    """Replace (or append) the section `name` of BENCHMARKS.md, leaving the others alone."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    old = path.read_text() if path.exists() else "# Benchmarks\n\nEvery table here is written by a script in benchmarks/ from one real run.\n"
    block = f"{start}\n{text}\n{end}"
    if start in old:
        head, rest = old.split(start, 1)
        new = head + block + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(new)
