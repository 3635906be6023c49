"""A corpus of malformed incident files and option values, made by code.

Each case is what real exports and real users do: placeholder dates, decimal commas,
files joined with their headers, a cut last record, UTF-16 without a BOM, a zip, a
polygon layer... Every case says what must happen: exit 0 with the rows accounted for
(and which reject codes appear), or exit 1/2 with one line that names the problem.
"""

from __future__ import annotations

import codecs
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HEADER = ["incident_id", "occurred_at", "outcome", "longitude", "latitude"]


def good_rows(n: int = 60, *, seed: int = 0, start_day: int = 0) -> list[list[str]]:
    """Rows of a small city (Sampleton-like, Kansas), dated within 2024."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        day = (start_day + i) % 300
        stamp = f"2024-{1 + day // 28:02d}-{1 + day % 28:02d} {rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}"
        rows.append([f"R{i + 1:05d}", stamp, "fatal" if i % 7 == 0 else "nonfatal",
                     f"{-97.41 + rng.normal(0, 0.01):.6f}", f"{38.21 + rng.normal(0, 0.01):.6f}"])
    return rows


def csv_text(rows, header=HEADER, delimiter=",") -> str:
    return "\n".join(delimiter.join(r) for r in [header, *rows]) + "\n"


@dataclass
class Case:
    """One malformed input. ``exit`` 0 means the run must succeed with ``codes`` among the rejects."""

    name: str
    content: bytes
    suffix: str = ".csv"
    args: tuple[str, ...] = ()
    exit: int = 0
    codes: dict[str, int] = field(default_factory=dict)  # reject code -> exact count (0: must be absent)
    message: str = ""  # must appear in the one error line (exit != 0) or in run.json notes
    undated: int | None = None  # n_used_undated expected

    def write(self, folder: Path) -> Path:
        path = folder / f"{self.name}{self.suffix}"
        path.write_bytes(self.content)
        return path


def _rows_with(values: dict[int, tuple[int, str]], n: int = 60, seed: int = 0) -> list[list[str]]:
    rows = good_rows(n, seed=seed)
    for pos, (col, value) in values.items():
        rows[pos][col] = value
    return rows


def _zip_of(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buf.getvalue()


def data_cases() -> list[Case]:
    """Files that must be read, with each bad value one reject (or a repair that is said)."""
    good = csv_text(good_rows()).encode()
    cases = [Case("clean", good)]
    for placeholder in ("9999-12-31", "0001-01-01", "2262-04-12", "1677-09-21"):
        cases.append(Case(f"placeholder_{placeholder}", csv_text(_rows_with({5: (1, placeholder)})).encode(),
                          codes={"bad_date": 1}))
    for old in ("1900-01-01", "1899-12-30", "2100-01-01", "1970-01-01"):
        cases.append(Case(f"implausible_{old}", csv_text(_rows_with({3: (1, old)})).encode(),
                          codes={"implausible_date": 1}))
    cases.append(Case("implausible_accepted", csv_text(_rows_with({3: (1, "1900-01-01")})).encode(),
                      args=("--accept-implausible-dates",), codes={"implausible_date": 0}))
    me_rows = good_rows(60)
    for i, row in enumerate(me_rows):  # a medical examiner export: slashes, +00 offsets, empty dates
        row[1] = "" if i % 6 == 0 else row[1].replace("-", "/") + ":00+00"
    cases.append(Case("medical_examiner_offsets_and_empty_dates", csv_text(me_rows).encode(),
                      args=("--timezone", "UTC"),
                      codes={"missing_date": 0, "bad_date": 0}, undated=10))
    cases.append(Case("all_dates_empty", csv_text(_rows_with(dict.fromkeys(range(60), (1, "")))).encode(),
                      undated=60))
    cases.append(Case("unreadable_date", csv_text(_rows_with({7: (1, "yesterday")})).encode(), codes={"bad_date": 1}))
    dayfirst = good_rows(30)
    for i, row in enumerate(dayfirst):
        row[1] = f"{(i % 28) + 1:02d}/{(i % 12) + 1:02d}/2024 10:00"
    cases.append(Case("day_first_proven_by_a_later_row", csv_text(dayfirst).encode(), codes={"bad_date": 0}))
    both = [r[:] for r in dayfirst]
    both[0][1], both[1][1] = "13/01/2024 10:00", "01/13/2024 10:00"
    cases.append(Case("day_and_month_first", csv_text(both).encode(), exit=1, message="mixes day-first"))
    cases.append(Case("day_and_month_first_with_format", csv_text(both).encode(),
                      args=("--date-format", "%d/%m/%Y %H:%M"), codes={"bad_date": 1}))
    for bad in ("inf", "-inf", "Infinity", "1e309", "nan?", "abc", "--97.4"):
        cases.append(Case(f"coordinate_{bad}", csv_text(_rows_with({4: (3, bad)})).encode(),
                          codes={"bad_coordinate": 1}))
    cases.append(Case("latitude_200", csv_text(_rows_with({4: (4, "200")})).encode(),
                      codes={"coordinate_out_of_range": 1}))
    zero = good_rows()
    zero[4][3] = zero[4][4] = "0"
    cases.append(Case("zero_zero", csv_text(zero).encode(),
                      codes={"zero_coordinates": 1}))
    swapped = good_rows()
    swapped[9][3], swapped[9][4] = swapped[9][4], swapped[9][3]
    cases.append(Case("swapped_pair", csv_text(swapped).encode(), codes={"swapped_coordinates": 1}))
    cases.append(Case("only_latitude", csv_text(_rows_with({2: (3, "")})).encode(), codes={"partial_coordinates": 1}))
    cases.append(Case("no_location", csv_text(_rows_with({2: (3, ""), 2 + 1: (4, "")})).encode()))
    euro_rows = [[r[0], r[1], r[2], r[3].replace(".", ","), r[4].replace(".", ",")] for r in good_rows()]
    cases.append(Case("semicolon_decimal_commas", csv_text(euro_rows, delimiter=";").encode(),
                      codes={"bad_coordinate": 0}))
    mixed = good_rows(60)
    text = csv_text(mixed[:30]) + "".join(";".join(r) + "\n" for r in mixed[30:45]) + \
        "".join(",".join(r) + "\n" for r in mixed[45:])
    cases.append(Case("rows_in_another_delimiter", text.encode(), codes={"bad_row": 15}))
    joined = csv_text(good_rows(30)) + csv_text(good_rows(30, seed=1, start_day=100))
    joined = joined.replace("R000", "B000", 0)
    second = good_rows(30, seed=1, start_day=100)
    for r in second:
        r[0] = "B" + r[0]
    cases.append(Case("two_exports_joined", (csv_text(good_rows(30)) + csv_text(second)).encode(),
                      codes={"repeated_header": 1}))
    cases.append(Case("extra_field", (csv_text(good_rows(20)) + "R9,2024-05-05 10:00,fatal,-97.41,38.21,x\n").encode(),
                      codes={"bad_row": 1}))
    cases.append(Case("short_row", (csv_text(good_rows(20)) + "R9,2024-05-05 10:00\n").encode(), codes={"bad_row": 1}))
    cases.append(Case("blank_lines_inside", csv_text(good_rows(20)).replace("\nR00005", "\n\nR00005").encode(),
                      codes={"empty_row": 1}))
    cases.append(Case("trailing_blank_lines", (csv_text(good_rows(20)) + "\n\n\n").encode()))
    cases.append(Case("duplicate_ids", csv_text(_rows_with({3: (0, "R00001")})).encode(), codes={"duplicate_id": 1}))
    cases.append(Case("utf16_with_bom", csv_text(good_rows()).encode("utf-16")))
    cases.append(Case("utf16le_without_bom", csv_text(good_rows()).encode("utf-16-le")))
    cases.append(Case("utf16be_without_bom", csv_text(good_rows()).encode("utf-16-be")))
    cases.append(Case("utf8_bom", codecs.BOM_UTF8 + good))
    cp = csv_text(good_rows(), header=[*HEADER, "place"]).replace("\n", ",Caf\u00e9 \u00d1and\u00fa\n")
    cp = cp.replace(",Caf\u00e9 \u00d1and\u00fa\n", "\n", 1)  # the header keeps its five names + place
    cases.append(Case("windows_1252", cp.encode("cp1252")))
    names = csv_text([[*r, "Jos\u00e9 \u00c1lvar\u00e9"] for r in good_rows()], header=[*HEADER, "name"]).encode()
    cases.append(Case("last_record_cut_in_a_character", names.rstrip(b"\n")[:-1],
                      message="damaged_characters_replaced"))
    cases.append(Case("zip_holding_a_csv", _zip_of({"calls.csv": good}), suffix=".zip"))
    dup = csv_text([[*r, r[4]] for r in good_rows()], header=[*HEADER, "latitude"]).encode()
    cases.append(Case("two_identical_latitude_columns", dup))
    dup_diff = csv_text([[*r, "38.0"] for r in good_rows()], header=[*HEADER, "latitude"]).encode()
    cases.append(Case("two_different_latitude_columns", dup_diff, exit=1, message="2 columns are named 'latitude'"))
    cases.append(Case("two_different_latitude_columns_chosen", dup_diff, args=("--lat-col", "latitude (2)")))
    both_dates = csv_text([[*r, r[1]] for r in good_rows()], header=[*HEADER, "date"]).encode()
    cases.append(Case("date_and_occurred_at", both_dates))
    far = good_rows(60)
    far[0][3], far[0][4] = "-97.41", "0.0001"
    cases.append(Case("one_point_near_the_equator", csv_text(far).encode(), exit=1, message="--drop-outliers"))
    cases.append(Case("one_point_near_the_equator_dropped", csv_text(far).encode(), args=("--drop-outliers",),
                      codes={"outlier": 1}))
    rng = np.random.default_rng(5)
    world = [[f"W{i}", "2024-03-01 10:00", "fatal", f"{rng.uniform(-170, 170):.4f}", f"{rng.uniform(-60, 60):.4f}"]
             for i in range(50)]
    cases.append(Case("points_spread_over_the_world", csv_text(world).encode(), exit=1, message="too wide"))
    fiji = [[f"F{i}", "2024-03-01 10:00", "fatal", f"{(180.0 + rng.normal(0, 0.03) + 180) % 360 - 180:.5f}",
             f"{-17.0 + rng.normal(0, 0.03):.5f}"] for i in range(60)]
    cases.append(Case("points_across_the_antimeridian", csv_text(fiji).encode(), exit=1, message="180th meridian"))
    aleutians = [[f"A{i}", "2024-03-01 10:00", "fatal", f"{-176.64 + rng.normal(0, 0.01):.5f}",
                  f"{51.88 + rng.normal(0, 0.01):.5f}"] for i in range(60)]
    aleutians[0][3:5] = ["173.18", "52.94"]  # one record on Attu, across the meridian from Adak
    cases.append(Case("one_point_across_the_antimeridian", csv_text(aleutians).encode(), exit=1,
                      message="--drop-outliers"))
    cases.append(Case("one_point_across_the_antimeridian_dropped", csv_text(aleutians).encode(),
                      args=("--drop-outliers",), codes={"outlier": 1}))
    stack = [[f"S{i}", "2024-03-01 10:00", "fatal", "-97.41", "38.21"] for i in range(30)]
    cases.append(Case("all_at_one_point", csv_text(stack).encode()))
    cases.append(Case("one_incident", csv_text(good_rows(1)).encode()))
    cases.append(Case("header_only", csv_text([]).encode(), exit=1, message="no located incidents"))
    cases.append(Case("every_row_rejected", csv_text(_rows_with(dict.fromkeys(range(60), (3, "x")))).encode(),
                      exit=1, message="no located incidents"))
    cases.append(Case("quoted_newlines", csv_text([[r[0], r[1], f'"{r[2]}\nsecond line"', r[3], r[4]]
                                                    for r in good_rows(20)]).encode()))
    unterminated = csv_text(good_rows(20)) + 'R99,"2024-05-05,fatal,-97.41,38.21\n'
    cases.append(Case("unterminated_quote", unterminated.encode()))
    cases.append(Case("spaces_around_values", csv_text([[f" {v} " for v in r] for r in good_rows()]).encode()))
    cases.append(Case("crlf_line_ends", csv_text(good_rows()).replace("\n", "\r\n").encode()))
    cases.append(Case("tab_separated", csv_text(good_rows(), delimiter="\t").encode(), suffix=".tsv"))
    cases.append(Case("pipe_separated", csv_text(good_rows(), delimiter="|").encode()))
    cases.append(Case("outcome_words", csv_text(_rows_with({i: (2, w) for i, w in enumerate(
        ["DECEASED", "Survived", "?", "1", "no"])})).encode()))
    return cases


def file_cases() -> list[Case]:
    """Files and options that cannot be analysed: one line, exit 1 (usage: exit 2)."""
    good = csv_text(good_rows()).encode()
    return [
        Case("binary", b"\x00\x01\x02PK\x03\x04" * 200, exit=1, message="binary"),
        Case("empty_file", b"", exit=1, message="empty"),
        Case("no_date_column", csv_text([r[:1] + r[2:] for r in good_rows()],
                                        header=[h for h in HEADER if h != "occurred_at"]).encode(),
             exit=1, message="no date column"),
        Case("no_coordinates", csv_text([r[:3] for r in good_rows()], header=HEADER[:3]).encode(),
             exit=1, message="no coordinate columns"),
        Case("zip_of_two_files", _zip_of({"a.csv": good, "b.csv": good}), suffix=".zip", exit=1,
             message="a .zip must hold"),
        Case("not_a_zip", b"PK\x03\x04 this is not really a zip" * 20, suffix=".zip", exit=1, message="zip"),
        Case("bad_timezone", good, args=("--timezone", "Mars/Olympus"), exit=2, message="not a time zone"),
        Case("bad_crs", good, args=("--crs", "EPSG:99999999"), exit=2, message="--crs"),
        Case("bandwidth_inf", good, args=("--bandwidth", "inf"), exit=2, message="--bandwidth"),
        Case("bandwidth_nan", good, args=("--bandwidth", "nan"), exit=2, message="--bandwidth"),
        Case("bandwidth_negative", good, args=("--bandwidth", "-5"), exit=2, message="--bandwidth"),
        Case("cell_size_nan", good, args=("--cell-size", "nan"), exit=2, message="--cell-size"),
        Case("eps_huge", good, args=("--eps", "5000000"), exit=2, message="--eps"),
        Case("gi_distance_huge", good, args=("--gi-distance", "5000000"), exit=2, message="neighbours"),
        Case("gi_rings_500", good, args=("--gi-rings", "500"), exit=2, message="ring"),
        Case("permutations_huge", good, args=("--permutations", "100000000"), exit=2, message="permutations"),
        Case("resolution_15", good, args=("--resolution", "15"), exit=2, message="Gi* at H3 resolution"),
        Case("negative_seed", good, args=("--seed", "-1"), exit=2, message="--seed"),
        Case("mask_points_garbage", good, args=("--audience", "restricted", "--mask-points", "a,b"), exit=2,
             message="--mask-points"),
        Case("mask_points_reversed", good, args=("--audience", "restricted", "--mask-points", "300,50"), exit=2,
             message="--mask-points"),
        Case("mask_points_public", good, args=("--audience", "public", "--mask-points", "50,300"), exit=2,
             message="--mask-points"),
        Case("tiles_without_template", good, args=("--tiles", "https://tiles.example.org/map.png"), exit=2,
             message="{z}"),
        Case("tiles_unknown_name", good, args=("--tiles", "NoSuchTiles"), exit=2, message="tile provider"),
        Case("since_after_until", good, args=("--since", "2024-06-01", "--until", "2024-01-01"), exit=2,
             message="--until"),
        Case("since_not_a_date", good, args=("--since", "last week"), exit=2, message="--since"),
        Case("lon_col_missing", good, args=("--lon-col", "LONG_X"), exit=1, message="'LONG_X'"),
        Case("min_count_zero", good, args=("--min-count", "0"), exit=2, message="--min-count"),
        Case("outcome_unknown", good, args=("--outcome", "dead"), exit=2, message="--outcome"),
    ]
