"""Text presets are known by their lines' shape (the issue: ingress-nginx lines read as combined took
$request_length for the request time, 0 to 450 s where the requests took 0-33 ms, with no option given)."""

from __future__ import annotations

import shutil
from pathlib import Path

from slo_assets.ingest import parse as P
from slo_assets.ingest.config import ParseConfig
from slo_assets.ingest.index import build_index
from slo_assets.ingest.sniffing import sniff

DATA = Path(__file__).parents[1] / "data"
INGRESS = DATA / "formats" / "ingress-nginx.log"
APACHE = DATA / "real" / "apache_logs"


def _copy(source: Path, tmp_path: Path, name: str) -> Path:
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    return Path(shutil.copy(source, logs / name))


def test_ingress_lines_are_sniffed_as_upstreaminfo_and_read_with_its_request_time(tmp_path):
    path = _copy(INGRESS, tmp_path, "access.log")
    assert sniff(path).format == "upstreaminfo"
    build = build_index(path.parent, tmp_path / "stage", ParseConfig())  # format auto, no log_format
    assert build.index.select("path", "format", "rows", "quarantined").rows() == [("access.log", "upstreaminfo", 29, 0)]
    rows = P.parse_chunk(path.read_bytes(), 1, sniff(path).format, ParseConfig()).rows
    durations = rows["duration_ms"].to_list()
    assert (len(durations), min(durations), max(durations)) == (29, 0.0, 33.0)  # NOTES.md: request_time 0.000 to 0.033 s


def test_combined_shapes_stay_combined_and_a_chosen_log_format_wins(tmp_path):
    assert sniff(_copy(APACHE, tmp_path, "apache_logs")).format == "combined"  # Apache combined, no request time
    main = '10.0.0.1 - - [04/Mar/2025:10:00:{:02d} +0000] "GET /a/b HTTP/1.1" 200 5 "-" "ua" "1.2.3.4" 0.042\n'
    path = tmp_path / "main.log"
    path.write_text("".join(main.format(i) for i in range(20)))
    assert sniff(path).format == "combined"  # nginx main + $request_time: the combined parser reads it as the preset does
    read = P.parse_chunk(path.read_bytes(), 1, "combined", ParseConfig())
    assert read.rows["duration_ms"].to_list() == P.parse_chunk(path.read_bytes(), 1, "combined", ParseConfig(log_format="main")).rows[
        "duration_ms"].to_list() == [42.0] * 20
    ingress = _copy(INGRESS, tmp_path, "ingress.log")
    assert sniff(ingress, "auto", "combined").format == "combined"  # the user's log_format is read, no preset tried
    assert sniff(ingress, "combined").format == "combined"


def test_a_file_of_mostly_plain_combined_lines_is_not_read_as_a_preset(tmp_path):
    ingress = INGRESS.read_text().splitlines(keepends=True)
    apache = APACHE.read_text().splitlines(keepends=True)
    path = tmp_path / "mixed.log"
    path.write_text("".join(apache[:30] + ingress[:10]))
    assert sniff(path).format == "combined"
    path.write_text("".join(ingress[:30] + apache[:10]))
    assert sniff(path).format == "upstreaminfo"
