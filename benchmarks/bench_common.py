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


def _written_bytes(pid: int) -> int:
    """Bytes a live process has caused to be written to storage so far (0 if it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/io") as f:
            fields = dict(line.split(":", 1) for line in f)
    except OSError:
        return 0
    return max(0, int(fields["write_bytes"]) - int(fields.get("cancelled_write_bytes", 0)))


def folder_bytes(folder: Path) -> int:
    """Total size of the files under `folder` (0 when it does not exist); files vanishing meanwhile are skipped."""
    total = 0
    for root, _, names in os.walk(folder):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _tree_rss(root: int, cpu: dict[int, float] | None = None,
              written: dict[int, int] | None = None) -> tuple[int, int, int]:
    """(sum of RSS over the tree, RSS of the root, largest RSS of a descendant); `cpu` collects each
    process's CPU seconds as last seen, `written` its bytes written to storage."""
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
        if written is not None:
            written[pid] = max(written.get(pid, 0), _written_bytes(pid))
        total += rss
        if pid == root:
            root_rss = rss
        else:
            largest = max(largest, rss)
    return total, root_rss, largest


def measure(cmd: list[str], env: dict | None = None, watch: Path | None = None) -> dict:
    """Run a command; wall seconds, CPU seconds of its process tree (user + system of the command and
    every descendant it waited for), peak RSS of the tree (total, root, largest child), bytes the tree
    wrote to storage (sampled from /proc/PID/io) and, with `watch`, the largest size that folder
    reached (sampled about once a second: a scratch folder's peak).

    Output goes to temporary files, not pipes: a child writing more than a pipe holds while
    we only sample memory would block forever.
    """
    import tempfile

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.time()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        peak = peak_root = peak_child = peak_watch = 0
        sampled: dict[int, float] = {}
        written: dict[int, int] = {}
        next_watch = 0.0
        while proc.poll() is None:
            total, root_rss, child = _tree_rss(proc.pid, sampled, written)
            peak, peak_root, peak_child = max(peak, total), max(peak_root, root_rss), max(peak_child, child)
            if watch is not None and time.time() >= next_watch:
                peak_watch = max(peak_watch, folder_bytes(watch))
                next_watch = time.time() + 1.0
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
            "written": sum(written.values()), "peak_watch": peak_watch, "last": lines[-1] if lines else ""}


def profile_command(script: Path, args: list[str], out: Path) -> list[str]:
    """A command running `script args` under cProfile with a CPU-time clock (time.process_time, so other
    jobs on the machine do not count), dumping the stats to `out`."""
    code = ("import cProfile, runpy, sys, time; "
            f"sys.argv = [{str(script)!r}] + sys.argv[1:]; sys.path.insert(0, {str(script.parent)!r}); "
            "prof = cProfile.Profile(time.process_time); prof.enable()\n"
            f"try: runpy.run_path({str(script)!r}, run_name='__main__')\n"
            f"finally: prof.disable(); prof.dump_stats({str(out)!r})")
    return [sys.executable, "-c", code, *args]


def _module_of(filename: str) -> str:
    """Where a profiled function lives: a path in this repository, a third-party package, or stdlib."""
    path = Path(filename)
    if filename.startswith("<frozen importlib"):
        return "(imports)"
    if filename.startswith(("~", "<")):
        return "(C code)"
    parts = path.parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        return f"stdlib {path.stem}"


def profile_by_module(stats_path: Path, top: int = 12) -> tuple[float, list[tuple[str, float, str]]]:
    """(profiled CPU seconds, [(module, CPU seconds, hottest function)] largest first) from a cProfile dump:
    each function's own time goes to its module, and time inside C functions (fastText, SentencePiece,
    KenLM, zlib, pyarrow) to the module of the Python function that called them."""
    import pstats

    stats = pstats.Stats(str(stats_path)).stats  # type: ignore[attr-defined]
    by_module: dict[str, float] = {}
    by_function: dict[tuple[str, str], float] = {}

    def charge(func: tuple, seconds: float) -> None:
        module = _module_of(func[0])
        by_module[module] = by_module.get(module, 0.0) + seconds
        by_function[(module, func[2])] = by_function.get((module, func[2]), 0.0) + seconds

    total = 0.0
    for func, (_, _, own, _, callers) in stats.items():
        total += own
        python_callers = {c: edge[2] for c, edge in callers.items() if _module_of(c[0]) != "(C code)"}
        if _module_of(func[0]) == "(C code)" and python_callers and sum(python_callers.values()) > 0:
            share = sum(python_callers.values())
            for caller, seconds in python_callers.items():
                charge(caller, own * seconds / share)
        else:
            charge(func, own)
    rows = []
    for module, seconds in sorted(by_module.items(), key=lambda kv: -kv[1])[:top]:
        hottest = max((s, name) for (m, name), s in by_function.items() if m == module)[1]
        rows.append((module, seconds, hottest))
    return total, rows


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
    """Replace (or append) the section `name` of BENCHMARKS.md, leaving the others alone; atomically."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    old = path.read_text() if path.exists() else "# Benchmarks\n\nEvery table here is written by a script in benchmarks/ from one real run.\n"
    block = f"{start}\n{text}\n{end}"
    if start in old:
        head, rest = old.split(start, 1)
        new = head + block + rest.split(end, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + block + "\n"
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")   # a killed run leaves the old file whole
    tmp.write_text(new)
    os.replace(tmp, path)
