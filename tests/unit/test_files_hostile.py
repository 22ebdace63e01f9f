"""A hostile log folder: every bad-file kind a new user meets, each read, salvaged or skipped with
its reason, and every line read accounted for in exactly one place."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import shutil
import tarfile
import zlib
from pathlib import Path

import pytest
import zstandard

from slo_assets.ingest import files as F
from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.index import assemble_day, build_index, index_summary
from tests.conftest import day_ms

CORPUS = Path(__file__).parents[1] / "data" / "hostile"


def _combined(day: int, second: int, status: int = 200, year: int = 2015, month: str = "May") -> str:
    return (f'10.0.0.{second % 250} - - [{day:02d}/{month}/{year}:10:{second // 60 % 60:02d}:{second % 60:02d} +0000] '
            f'"GET /shop/item/{second} HTTP/1.1" {status} 512 "-" "curl/8"')


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def make_corpus(folder: Path) -> None:
    """Write the corpus (deterministic bytes; tests/data/hostile holds its output)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(_combined(17, s) + "\n" for s in range(3000)).encode()
    whole = _gzip(lines)
    (folder / "truncated.log.gz").write_bytes(whole[:len(whole) * 6 // 10])  # cut mid-stream
    corrupt = bytearray(whole)
    corrupt[len(corrupt) // 2] ^= 0x55  # one damaged byte in the middle of the stream
    (folder / "corrupt.log.gz").write_bytes(bytes(corrupt))
    (folder / "garbage.bin").write_bytes(bytes(range(256)) * 4)
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00")
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo("inner.log")
        info.size, info.mtime = len(lines[:2000]), 0
        tar.addfile(info, io.BytesIO(lines[:2000]))
    (folder / "old-logs.tar.gz").write_bytes(_gzip(tar_buffer.getvalue()))
    # A first line longer than any fixed sniff window (300 KiB), then 600 valid lines; gzipped to stay small.
    long_first = json.dumps({"ts": "2015-05-18T00:00:00Z", "service": "big", "status": 200, "path": "/" + "a" * (300 << 10)})
    rest = "".join(json.dumps({"ts": f"2015-05-18T01:{i // 60 % 60:02d}:{i % 60:02d}Z", "service": "big", "status": 200}) + "\n"
                   for i in range(600))
    (folder / "long_first_line.jsonl.gz").write_bytes(_gzip((long_first + "\n" + rest).encode()))
    (folder / "apache_logs").write_text("".join(_combined(18, s) + "\n" for s in range(200)))
    rotated = "".join(_combined(19, s) + "\n" for s in range(100))
    (folder / "access.log.1").write_text(rotated)
    (folder / "access.log.1.gz").write_bytes(_gzip(rotated.encode()))
    future = ["not a log line before any timestamp"]
    future += [_combined(20, s) for s in range(100)]
    future += [_combined(1, 0, year=2099, month="Jan"), "garbage right after the far-future line", ""]
    future += [_combined(20, 100 + s) for s in range(100)]
    (folder / "far_future.log").write_text("\n".join(future) + "\n")
    (folder / "empty.log").write_bytes(b"")
    (folder / "README.md").write_text("The hostile corpus of tests/unit/test_files_hostile.py; make_corpus there writes it.\n")


def test_committed_corpus_is_what_make_corpus_writes(tmp_path):
    make_corpus(tmp_path / "fresh")
    committed = sorted(p.name for p in CORPUS.iterdir())
    assert committed == sorted(p.name for p in (tmp_path / "fresh").iterdir())
    for name in committed:
        assert (CORPUS / name).read_bytes() == (tmp_path / "fresh" / name).read_bytes(), name
    assert sum(p.stat().st_size for p in CORPUS.iterdir()) < 200_000


@pytest.fixture()
def corpus(tmp_path) -> Path:
    logs = tmp_path / "logs"
    shutil.copytree(CORPUS, logs)
    os.mkfifo(logs / "pipe.log")  # a FIFO would block any read forever: it must never be opened
    return logs


def _complete_lines_before_damage(data: bytes) -> int:
    inflater = zlib.decompressobj(wbits=31)
    out = b""
    for start in range(len(data)):  # a byte at a time: everything that inflates before the error
        try:
            out += inflater.decompress(data[start:start + 1])
        except zlib.error:
            break
    return out.count(b"\n")


def test_every_bad_file_is_named_with_its_reason_and_every_line_is_accounted(corpus, tmp_path):
    build = build_index(corpus, tmp_path / "stage", ParseConfig())
    index = build.index
    by_path = {row["path"]: row for row in index.iter_rows(named=True)}
    status = {path: (row["status"], row["problem"]) for path, row in by_path.items()}

    assert status["garbage.bin"] == ("skipped", F.SKIP_BINARY)
    assert status["image.png"] == ("skipped", F.SKIP_BINARY)
    assert status["old-logs.tar.gz"] == ("skipped", F.SKIP_BINARY)
    assert status["empty.log"] == ("skipped", F.SKIP_EMPTY)
    assert status["pipe.log"] == ("skipped", "not a regular file (FIFO)")
    assert status["README.md"] == ("skipped", "excluded by pattern '*.md'")
    assert status["truncated.log.gz"][0] == "salvaged" and status["truncated.log.gz"][1].startswith("gzip truncated")
    assert status["corrupt.log.gz"][0] == "salvaged" and status["corrupt.log.gz"][1].startswith("gzip corrupt")

    # Every complete line before the damage is salvaged, and nothing after it.
    truncated = _complete_lines_before_damage((corpus / "truncated.log.gz").read_bytes())
    assert 0 < truncated < 3000
    assert (by_path["truncated.log.gz"]["lines"], by_path["truncated.log.gz"]["rows"]) == (truncated, truncated)
    # The damaged byte garbles a few lines (quarantined); the checksum fails only at the end.
    corrupt = _complete_lines_before_damage((corpus / "corrupt.log.gz").read_bytes())
    assert by_path["corrupt.log.gz"]["lines"] == corrupt
    assert 0 < by_path["corrupt.log.gz"]["quarantined"] < 20

    # A file without extension is sniffed and read; a long first line does not hide the file's format.
    assert (by_path["apache_logs"]["format"], by_path["apache_logs"]["rows"]) == ("combined", 200)
    assert (by_path["long_first_line.jsonl.gz"]["format"], by_path["long_first_line.jsonl.gz"]["rows"]) == ("jsonl", 601)
    # The gzip copy of a rotated file is a duplicate: read once.
    assert by_path["access.log.1.gz"]["duplicate_of"] == "access.log.1"
    assert ("access.log.1.gz", "access.log.1") in build.duplicates

    for row in index.filter(index["status"].is_in(["read", "salvaged"])).iter_rows(named=True):
        assert row["lines"] == row["rows"] + row["quarantined"] + row["blank_lines"], row["path"]
        assert sum(row["day_rows"]) == row["rows"], row["path"]
        assert sum(row["day_quarantined"]) + row["unplaced"] == row["quarantined"], row["path"]

    summary = index_summary(index, "2015-05-01", "2015-05-31")
    assert summary.accounted()
    assert summary.outside_rows == 1 and summary.outside_quarantined == 0  # the 2099 row, and nothing placed beside it
    assert {path for path, _ in summary.skipped} == {"garbage.bin", "image.png", "old-logs.tar.gz", "empty.log", "pipe.log", "README.md"}
    assert {path for path, _ in summary.salvaged} == {"truncated.log.gz", "corrupt.log.gz"}
    assert summary.duplicate_files == (("access.log.1.gz", "access.log.1"),)
    assert summary.days_with_data == ("2015-05-17", "2015-05-18", "2015-05-19", "2015-05-20", "2099-01-01")
    assert summary.rows == sum(by_path[p]["rows"] for p in ("truncated.log.gz", "corrupt.log.gz", "apache_logs",
                                                          "long_first_line.jsonl.gz", "access.log.1", "far_future.log"))


def test_quarantined_lines_are_placed_by_their_neighbours_within_the_files_main_span(corpus, tmp_path):
    build = build_index(corpus, tmp_path / "stage", ParseConfig())
    twentieth = assemble_day(build.index, tmp_path / "stage", day_ms("2015-05-20"))
    bad = {(r["source_file"], r["source_line"]) for r in twentieth.quarantine.to_pylist()}
    # The line before any timestamp takes the next valid one; the garbage after the 2099 row stays
    # with the file's real day instead of inheriting the outlier's.
    assert bad == {("far_future.log", 1), ("far_future.log", 103)}
    future = assemble_day(build.index, tmp_path / "stage", day_ms("2099-01-01"))
    assert future.rows.num_rows == 1 and future.quarantine.num_rows == 0


def test_unreadable_file_and_folder_are_recorded_and_the_others_still_read(corpus, tmp_path, monkeypatch):
    (corpus / "locked").mkdir()
    (corpus / "locked" / "inside.log").write_text(_combined(18, 1) + "\n")
    (corpus / "secret.log").write_text(_combined(18, 2) + "\n")
    real_open, real_scandir = open, os.scandir

    def guarded_open(path, *args, **kwargs):  # tests run as root: permissions cannot refuse a read
        if str(path).endswith("secret.log"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    def guarded_scandir(path="."):
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr("builtins.open", guarded_open)
    monkeypatch.setattr(os, "scandir", guarded_scandir)
    index = build_index(corpus, tmp_path / "stage", ParseConfig()).index
    summary = index_summary(index)
    assert ("secret.log", "PermissionError: Permission denied") in summary.unreadable
    assert ("locked/", "PermissionError: Permission denied") in summary.unreadable
    assert index.filter(index["path"] == "apache_logs")["rows"].to_list() == [200]
    assert summary.accounted()


def test_wrong_format_places_lines_by_the_times_in_their_text_and_says_most_were_rejected(tmp_path):
    from slo_assets.ingest.index import mostly_rejected_files

    logs = tmp_path / "logs"
    logs.mkdir()
    text = ["no time on this first line"] + [_combined(18, s) for s in range(50)] + [_combined(19, s) for s in range(50)]
    (logs / "access.log").write_text("\n".join(text) + "\n")
    (logs / "notime.log").write_text('{"status": 200}\nbeta\n')  # JSON lines without a time (a text of no log shape is skipped)
    index = build_index(logs, tmp_path / "stage", ParseConfig(format="jsonl")).index
    by_path = {row["path"]: row for row in index.iter_rows(named=True)}
    assert by_path["access.log"]["days"] == [day_ms("2015-05-18") // 86_400_000, day_ms("2015-05-19") // 86_400_000]
    assert by_path["access.log"]["day_quarantined"] == [51, 50] and by_path["access.log"]["unplaced"] == 0
    assert (by_path["notime.log"]["unplaced"], by_path["notime.log"]["days"]) == (2, [])
    summary = index_summary(index)
    assert summary.accounted() and summary.unplaced == 2
    assert summary.rejected_note() == "103 of 103 lines rejected: invalid_json"
    notes = {f.path: f.note() for f in mostly_rejected_files(index)}
    assert notes["access.log"] == "101 of 101 lines rejected: invalid_json"
    assert notes["notime.log"] == "2 of 2 lines rejected: timestamp_missing (2 placed in no day: no time found)"


# Rotations as logrotate, Windows tools and crashes leave them: each content is read whole, whatever
# its compression (known by magic bytes: one has no suffix), text encoding or NUL bytes.
SPARSE_HEAD_BYTES = 64 << 10


def _lines(day: int, count: int, newline: str = "\n") -> str:
    return "".join(_combined(day, s) + newline for s in range(count))


def write_rotations(folder: Path, scale: int = 1, days: int = 10) -> dict[str, int]:
    """A log folder of every kind of rotation, the files' lines on May 1 to `days` of 2015 in turn;
    returns file -> lines. 20,000 lines at scale 1."""
    folder.mkdir(parents=True, exist_ok=True)
    sizes = {"access.log": 4000, "access.log.1.gz": 3000, "access.log.2.bz2": 3000, "access.log.3": 2000, "access.log.4.zst": 2000,
             "iis-utf16le.log": 1500, "iis-utf16be.log": 500, "utf8-bom.log": 1000, "copytruncated.log": 2000, "nul-line.log": 1000}
    sizes = {name: count // scale for name, count in sizes.items()}
    text = {name: _lines(1 + number % days, count) for number, (name, count) in enumerate(sizes.items())}
    (folder / "access.log").write_text(text["access.log"])
    (folder / "access.log.1.gz").write_bytes(_gzip(text["access.log.1.gz"].encode()))
    (folder / "access.log.2.bz2").write_bytes(bz2.compress(text["access.log.2.bz2"].encode()))
    (folder / "access.log.3").write_bytes(lzma.compress(text["access.log.3"].encode()))  # xz, without its suffix
    (folder / "access.log.4.zst").write_bytes(zstandard.ZstdCompressor().compress(text["access.log.4.zst"].encode()))
    (folder / "iis-utf16le.log").write_bytes(text["iis-utf16le.log"].replace("\n", "\r\n").encode("utf-16"))  # BOM, little-endian
    (folder / "iis-utf16be.log").write_bytes(b"\xfe\xff" + text["iis-utf16be.log"].encode("utf-16-be"))
    (folder / "utf8-bom.log").write_bytes(text["utf8-bom.log"].encode("utf-8-sig"))
    (folder / "copytruncated.log").write_bytes(b"\0" * SPARSE_HEAD_BYTES + text["copytruncated.log"].encode())
    lines = text["nul-line.log"].splitlines(keepends=True)
    lines[len(lines) // 2] = "\0" * 700 + "\n"  # a crash left a line of NULs
    (folder / "nul-line.log").write_text("".join(lines))
    return sizes


def test_every_rotation_kind_is_read_whole_each_line_a_row_or_quarantined(tmp_path):
    sizes = write_rotations(tmp_path / "logs")
    assert sum(sizes.values()) == 20_000
    build = build_index(tmp_path / "logs", tmp_path / "stage", ParseConfig())
    by_path = {row["path"]: row for row in build.index.iter_rows(named=True)}
    assert set(by_path) == set(sizes)
    for name, count in sizes.items():
        row = by_path[name]
        assert (row["status"], row["format"], row["lines"], row["blank_lines"]) == ("read", "combined", count, 0), name
        assert row["rows"] + row["quarantined"] == count, name
    assert {name for name, row in by_path.items() if row["compressed"]} == {"access.log.1.gz", "access.log.2.bz2", "access.log.3", "access.log.4.zst"}
    # The one line of NULs is quarantined with its reason, not the file skipped; every other line is a row.
    assert (by_path["nul-line.log"]["rows"], by_path["nul-line.log"]["quarantined"]) == (999, 1)
    assert json.loads(by_path["nul-line.log"]["reasons"]) == {"nul_bytes": 1}
    assert sum(row["quarantined"] for row in by_path.values()) == 1
    # The sparse head is no line: dropped, and its size said on the file's row.
    assert by_path["copytruncated.log"]["problem"].startswith(f"{SPARSE_HEAD_BYTES:,} NUL bytes before the first line dropped")
    assert all(row["problem"] is None for name, row in by_path.items() if name != "copytruncated.log")
    summary = index_summary(build.index, "2015-05-01", "2015-05-31")
    assert summary.accounted() and (summary.lines, summary.rows, summary.quarantined_lines) == (20_000, 19_999, 1)
    assert summary.skipped == () and summary.unreadable == () and summary.salvaged == ()
    day = assemble_day(build.index, tmp_path / "stage", day_ms("2015-05-10"))
    bad = day.quarantine.to_pylist()
    assert [(r["source_file"], r["source_line"], r["reason"], r["detail"]) for r in bad] == [
        ("nul-line.log", 501, "nul_bytes", "line: 700 NUL bytes")]
    assert bad[0]["raw"] == "\\x00" * 512  # shown, not invisible


def test_content_is_decompressed_and_decoded_by_its_first_bytes(tmp_path):
    sizes = write_rotations(tmp_path, scale=100)
    for name in sizes:
        report = F.ContentReport()
        content = b"".join(F.iter_content(tmp_path / name, report))
        day = list(sizes).index(name) + 1
        expected = _lines(day, sizes[name], "\r\n" if name == "iis-utf16le.log" else "\n").encode()
        if name == "nul-line.log":
            expected = (tmp_path / name).read_bytes()
        assert content == expected, name
        assert (report.damage, report.nul_head_bytes) == (None, SPARSE_HEAD_BYTES if name == "copytruncated.log" else 0), name
    # A compressed copy of a file has its fingerprint (read once); UTF-16 is read whole, never in byte ranges.
    (tmp_path / "copy.bz2").write_bytes(bz2.compress((tmp_path / "copytruncated.log").read_bytes()))
    assert F.fingerprint(tmp_path / "copy.bz2") == F.fingerprint(tmp_path / "copytruncated.log")
    assert [F.is_plain(tmp_path / n) for n in ("access.log", "utf8-bom.log", "copytruncated.log", "iis-utf16le.log", "access.log.3")] == [
        True, True, True, False, False]


@pytest.mark.parametrize("kind", ["bz2", "xz", "zstd"])
def test_damaged_bz2_xz_and_zstd_are_salvaged_up_to_the_damage(tmp_path, kind):
    compress = {"bz2": lambda d: bz2.compress(d, 1), "xz": lzma.compress, "zstd": lambda d: zstandard.ZstdCompressor().compress(d)}[kind]
    # Two streams (as pbzip2, pzstd or `cat a.xz b.xz` make): both read; then the second one cut short.
    first, second = _lines(17, 3000).encode(), _lines(18, 3000).encode()
    whole = compress(first) + compress(second)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "two-streams").write_bytes(whole)
    (tmp_path / "logs" / "cut").write_bytes(whole[:len(whole) - len(compress(second)) // 2])
    build = build_index(tmp_path / "logs", tmp_path / "stage", ParseConfig())
    by_path = {row["path"]: row for row in build.index.iter_rows(named=True)}
    assert (by_path["two-streams"]["status"], by_path["two-streams"]["rows"]) == ("read", 6000)
    cut = by_path["cut"]
    assert cut["status"] == "salvaged" and cut["problem"].startswith(f"{kind} truncated: the stream ends after ")
    assert 3000 <= cut["rows"] < 6000 and cut["rows"] == cut["lines"]  # the first stream whole, and the complete lines after
    corrupt = bytearray(compress(first))
    corrupt[len(corrupt) // 2] ^= 0xFF
    report = F.ContentReport()
    content = b"".join(F.iter_content(_write(tmp_path / "corrupt", bytes(corrupt)), report))
    assert report.damage.startswith(f"{kind} corrupt after ") and first.startswith(content)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_only_a_really_binary_file_is_skipped_whole(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "hole.log").write_bytes(b"\0" * 5000)  # preallocated, nothing written yet
    (logs / "nul-first.log").write_bytes(b"\0" * 700 + b"\n" + _lines(17, 20).encode())  # a line of NULs, not a hole
    (logs / "mostly-nul.log").write_bytes(_lines(17, 2).encode() + (b"\0" * 300 + b"\n") * 5)
    (logs / "core").write_bytes(b"\x7fELF\x02\x01\x01\0" + bytes(range(256)) * 8)
    build = build_index(logs, tmp_path / "stage", ParseConfig())
    by_path = {row["path"]: row for row in build.index.iter_rows(named=True)}
    assert (by_path["hole.log"]["status"], by_path["hole.log"]["problem"]) == ("skipped", f"{F.SKIP_ONLY_NUL} (5,000 bytes)")
    assert (by_path["nul-first.log"]["rows"], by_path["nul-first.log"]["quarantined"], by_path["nul-first.log"]["problem"]) == (20, 1, None)
    assert (by_path["mostly-nul.log"]["status"], by_path["mostly-nul.log"]["problem"]) == ("skipped", F.SKIP_BINARY)
    assert (by_path["core"]["status"], by_path["core"]["problem"]) == ("skipped", F.SKIP_BINARY)


def test_a_grown_file_with_a_sparse_head_or_a_byte_order_mark_is_extended_from_its_checkpoint(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "copytruncated.log").write_bytes(b"\0" * 5000 + _lines(3, 100).encode())
    (logs / "bom.log").write_bytes(b"\xef\xbb\xbf" + _lines(4, 100).encode())
    first = build_index(logs, tmp_path / "stage", ParseConfig())
    for name, day in (("copytruncated.log", 5), ("bom.log", 6)):
        with open(logs / name, "ab") as handle:
            handle.write(_lines(day, 50).encode())
        os.utime(logs / name, ns=(1, 1))  # another mtime, whatever the clock's resolution
    grown = build_index(logs, tmp_path / "stage", ParseConfig(), previous=first.index, checkpoints=first.checkpoints)
    assert sorted(grown.extended) == ["bom.log", "copytruncated.log"]  # only the appended bytes parsed
    rows = {row["path"]: (row["lines"], row["rows"], row["problem"]) for row in grown.index.iter_rows(named=True)}
    assert rows == {"bom.log": (150, 150, None),
                    "copytruncated.log": (150, 150, "5,000 NUL bytes before the first line dropped (a sparse head, as copytruncate leaves)")}


def test_the_live_tail_leaves_compressed_and_utf16_rotations_to_the_batch_ingestion(tmp_path):
    """A bz2 rotation or a UTF-16 file was tailed as raw bytes: only a plain file's appended bytes can be read alone."""

    from slo_assets.ingest.tail import tail_files

    line = '{"ts": "2026-10-01T10:00:00Z", "service": "api", "method": "GET", "path": "/a", "status": 200}\n'
    (tmp_path / "access.log").write_text(line * 3)
    (tmp_path / "access.log.1.bz2").write_bytes(bz2.compress(line.encode() * 3))
    (tmp_path / "windows.log").write_bytes(("\ufeff" + line * 3).encode("utf-16-le"))
    result = tail_files(tmp_path, [], ParseConfig())
    assert dict(result.skipped) == {
        "access.log.1.bz2": "bz2-compressed: a complete rotation, read by the batch ingestion, not tailed",
        "windows.log": "UTF-16/32 text: read by the batch ingestion, not tailed"}
    assert [read.path for read in result.files] == ["access.log"] and result.rows.height == 3
