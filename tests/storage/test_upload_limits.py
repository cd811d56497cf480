"""Files that expand past what the server can hold (issue 18, points 3 and 8): Excel
workbooks are checked before openpyxl expands them (zip members, shared strings, cell
sizes, rows x columns, a memory budget), compressed uploads stop at a limit set by the
settings, the upload limit and the free disk, and each person has quotas on uploads in
progress and on stored datasets, counted from the database."""
from __future__ import annotations

import io
import random
import string
import time
import zipfile
from collections import namedtuple
from pathlib import Path

import openpyxl
import pytest

from storage import Storage
from storage.errors import IngestError, QuotaExceeded
from storage.limits import Limits
from storage.sources import Expansion, prepare
from tests import bombs

MB = 1024 * 1024
PASSWORD = "correct horse battery"


def refused(path: Path, filename: str, work: Path, limit=Expansion(1024 * MB), memory_mb: int = 512) -> str:
    started = time.monotonic()
    with pytest.raises(IngestError) as caught:
        source = prepare(path, filename, work, limit, memory_budget=memory_mb * MB)
        source.cleanup()
    assert time.monotonic() - started < 30  # refused while reading, not after hours of padding
    assert list(work.glob("*")) == []  # no temp file left behind
    return caught.value.message


def _book(path: Path, rows) -> Path:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    workbook.save(path)
    return path


# --- Excel ---------------------------------------------------------------------------------


def test_a_300_mb_inline_string_cell_is_refused_before_it_is_expanded(tmp_path):
    path = bombs.inline_string_bomb(tmp_path / "bomb.xlsx")
    assert path.stat().st_size < 400_000
    message = refused(path, "bomb.xlsx", tmp_path / "work")
    assert message.startswith("bomb.xlsx expands to more than 250 times its size: its part "
                              "xl/worksheets/sheet1.xml is 299 KB zipped and 300 MB unzipped"), message
    # Under a smaller expansion cap, the cap compressed CSV has speaks first, naming its setting.
    message = refused(path, "bomb.xlsx", tmp_path / "work", Expansion(64 * MB, "DATAINSIGHT_MAX_EXPANDED_MB"))
    assert message == ("This Excel file (bomb.xlsx) expands to more than 64 MB when unzipped, which is over the "
                       "limit (DATAINSIGHT_MAX_EXPANDED_MB); save the sheet as CSV and upload that")


def test_a_cell_over_excels_32767_characters_is_refused(tmp_path):
    text = "".join(random.Random(1).choices(string.ascii_letters, k=40_000))  # does not compress: no ratio alarm
    path = bombs.inline_cells(tmp_path / "long.xlsx", ["name", text])
    message = refused(path, "long.xlsx", tmp_path / "work")
    assert message == ("A cell of long.xlsx holds more than 32,767 characters, which is more than Excel itself "
                       "allows; this file was not made by a spreadsheet program"), message


def test_a_shared_strings_table_past_the_memory_budget_is_refused(tmp_path):
    # 300,000 distinct strings: Python holds them in ~25 MB; the budget is 16 MB.
    path = bombs.shared_strings(tmp_path / "many.xlsx", [f"s{i:07d}x{i * 7919 % 100003:06d}" for i in range(300_000)])
    message = refused(path, "many.xlsx", tmp_path / "work", memory_mb=16)
    assert message.startswith("many.xlsx needs more than 16 MB of memory to read"), message
    assert "DATAINSIGHT_IMPORT_MEMORY_MB" in message


def test_a_shared_strings_bomb_is_refused(tmp_path):
    path = bombs.shared_strings_bomb(tmp_path / "sst.xlsx")
    message = refused(path, "sst.xlsx", tmp_path / "work")
    assert "sst.xlsx" in message and "more than" in message, message


def test_a_sheet_claiming_a_billion_cells_is_refused(tmp_path):
    path = bombs.billion_cells_bomb(tmp_path / "grid.xlsx")
    message = refused(path, "grid.xlsx", tmp_path / "work")
    assert message.startswith("The sheet 'Sheet1' of grid.xlsx spans 1,048,576 rows x 16,384 columns"), message
    assert "100,000,000 cells" in message


def test_an_empty_dimension_does_not_pad_a_small_sheet(tmp_path):
    """The <dimension> element is not trusted: a sheet that claims A1:XFD1048576 but holds
    a few cells is read as the cells it holds."""
    sheet = bombs._sheet([b'<row r="1"><c r="A1" t="inlineStr"><is><t>n</t></is></c></row>',
                          b'<row r="2"><c r="A2"><v>7</v></c></row>'], dimension="A1:XFD1048576")
    path = bombs._workbook(tmp_path / "small.xlsx", sheet)
    source = prepare(path, "small.xlsx", tmp_path / "work", Expansion(64 * MB))
    try:
        assert source.path.read_text() == "n\n7\n"
    finally:
        source.cleanup()


def test_a_zip_with_too_many_members_is_refused(tmp_path):
    path = tmp_path / "members.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for i in range(10_001):
            archive.writestr(f"xl/media/{i}.bin", b"")
    message = refused(path, "members.xlsx", tmp_path / "work")
    assert message.endswith("holds 10,001 files; this server opens zip files of at most 10,000"), message


def test_a_part_read_whole_past_its_cap_is_refused(tmp_path):
    path = _book(tmp_path / "styles.xlsx", [["a"], [1]])
    rebuilt = tmp_path / "big-styles.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/styles.xml":
                # A comment of random text: no ratio alarm, but 40 MB of XML read as one tree.
                noise = random.Random(2).randbytes(20 * MB).hex().encode()
                data = b"<!--" + noise + b"-->" + data
            out.writestr(info.filename, data)
    message = refused(rebuilt, "big-styles.xlsx", tmp_path / "work")
    assert message.startswith("big-styles.xlsx needs more than"), message


def test_an_ordinary_workbook_still_reads(tmp_path):
    path = _book(tmp_path / "ok.xlsx", [["id", "name"]] + [[i, f"name {i}"] for i in range(5000)])
    source = prepare(path, "ok.xlsx", tmp_path / "work", Expansion(64 * MB), memory_budget=16 * MB)
    try:
        lines = source.path.read_text().splitlines()
        assert (len(lines), lines[1], lines[-1]) == (5001, "0,name 0", "4999,name 4999")
    finally:
        source.cleanup()


# --- compressed files and the disk ------------------------------------------------------


def test_expansion_stops_at_the_setting_and_names_it(tmp_path):
    path = bombs.gzip_csv_bomb(tmp_path / "bomb.csv.gz", expanded_mb=64)
    limits = Limits(max_upload_mb=16, max_expanded_mb=8)
    message = refused(path, "bomb.csv.gz", tmp_path / "work", limits.expansion(tmp_path))
    assert message.startswith("The gzip file bomb.csv.gz expands to more than 8 MB when decompressed"), message
    assert "DATAINSIGHT_MAX_EXPANDED_MB" in message


def test_expansion_stops_at_8_times_the_upload_limit(tmp_path):
    limits = Limits(max_upload_mb=1, max_expanded_mb=4096)
    expansion = limits.expansion(tmp_path)
    assert (expansion.cap_bytes, expansion.setting) == (8 * MB, "DATAINSIGHT_MAX_UPLOAD_MB")


DiskUsage = namedtuple("DiskUsage", "total used free")


def test_expansion_stops_before_the_disk_fills(tmp_path, monkeypatch):
    """The free disk is read again while the file expands: other imports use it too."""
    path = bombs.gzip_csv_bomb(tmp_path / "bomb.csv.gz", expanded_mb=64)
    limits = Limits(max_upload_mb=1024, max_expanded_mb=4096, disk_reserve_mb=100)
    work = tmp_path / "work"
    work.mkdir()
    free = [140 * MB]  # 40 MB above the reserve when the import starts

    def usage(directory):
        written = sum(p.stat().st_size for p in work.glob("*"))
        return DiskUsage(10**12, 0, free[0] - written)

    monkeypatch.setattr("storage.limits.shutil.disk_usage", usage)
    monkeypatch.setattr("storage.sources.shutil.disk_usage", usage)
    monkeypatch.setattr("storage.sources.DISK_CHECK_BYTES", 4 * MB)
    expansion = limits.expansion(work)
    assert expansion.cap_bytes == 40 * MB and expansion.setting == "DATAINSIGHT_DISK_RESERVE_MB"
    free[0] = 120 * MB  # another import took 20 MB meanwhile: this one must stop near 20 MB, not 40
    message = refused(path, "bomb.csv.gz", work, expansion)
    assert message.startswith("The gzip file bomb.csv.gz expands to more than the server's free disk allows: "
                              "it keeps 100 MB free (DATAINSIGHT_DISK_RESERVE_MB)"), message
    # With the disk as it was, the cap computed at the start names the same setting.
    free[0] = 140 * MB
    message = refused(path, "bomb.csv.gz", work, expansion)
    assert message.startswith("The gzip file bomb.csv.gz expands to more than 40 MB when decompressed, which is "
                              "over the limit of the server's free disk"), message


def test_a_zip_of_csv_is_capped_the_same_way(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("bomb.csv", "w") as out:
        for piece in bombs._repeat(b"1,2\n", 32 * MB):
            out.write(piece)
    message = refused(path, "bomb.zip", tmp_path / "work", Limits(max_upload_mb=1, max_expanded_mb=4).expansion(tmp_path))
    assert message.startswith("The zip file bomb.zip expands to more than 4 MB"), message


def test_parquet_declaring_more_than_the_cap_is_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "wide.parquet"
    # 8 MB of one repeated value, dictionary-encoded into a few bytes on disk.
    pq.write_table(pa.table({"v": ["x" * 1024] * 8192}), path)
    assert path.stat().st_size < 100_000
    message = refused(path, "wide.parquet", tmp_path / "work", Limits(max_upload_mb=1, max_expanded_mb=4).expansion(tmp_path))
    assert message.startswith("wide.parquet expands to more than 4 MB when read"), message


# --- quotas --------------------------------------------------------------------------------


@pytest.fixture
def quota_storage(tmp_path):
    limits = Limits(max_upload_mb=4, user_quota_mb=1, uploads_in_progress_mb=6)
    store = Storage(f"sqlite:///{tmp_path / 'meta.db'}", tmp_path / "data", limits=limits)
    store.migrate()
    yield store
    store.dispose()


def test_uploads_in_progress_count_against_their_quota(quota_storage):
    ada = quota_storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()
    first = quota_storage.uploads.create(ada, "a.csv", 4 * MB)
    with pytest.raises(QuotaExceeded) as caught:
        quota_storage.uploads.create(ada, "b.csv", 3 * MB)
    assert caught.value.message == (
        "Your uploads in progress would take 7 MB; the most one person may have is 6 MB "
        "(DATAINSIGHT_UPLOADS_IN_PROGRESS_MB). Finish or cancel an upload first")
    quota_storage.uploads.discard(ada, first.id)
    assert quota_storage.uploads.create(ada, "b.csv", 3 * MB).size == 3 * MB


def test_whole_file_uploads_count_too(quota_storage):
    ada = quota_storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()
    quota_storage.uploads.create(ada, "a.csv", 4 * MB)
    with pytest.raises(QuotaExceeded):
        quota_storage.uploads.register_file(ada, "b.csv", io.BytesIO(b"a,b\n" * (800 * 1024)))
    assert sorted(p.name for p in (quota_storage.data_dir / "uploads").glob("*")).__len__() == 1


def test_stored_datasets_quota_refuses_new_uploads_and_imports(quota_storage, tmp_path):
    ada = quota_storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()
    workspace = quota_storage.workspaces.personal_workspace(ada).id
    rng = random.Random(3)
    data = "id,text\n" + "".join(f"{i},{''.join(rng.choices(string.ascii_letters, k=40))}\n" for i in range(40_000))
    csv_path = tmp_path / "big.csv"
    csv_path.write_text(data)  # ~1.9 MB of text that Parquet cannot shrink below the 1 MB quota
    with pytest.raises(QuotaExceeded) as caught:
        quota_storage.datasets.create_from_file(ada, workspace, csv_path, "big.csv")
    assert "DATAINSIGHT_USER_QUOTA_MB" in caught.value.message and "1 MB" in caught.value.message
    assert quota_storage.datasets.list(ada, workspace) == []
    assert list((quota_storage.data_dir / "datasets").glob("*")) == []
    assert [p for p in (quota_storage.data_dir / "tmp").glob("*") if p.is_file()] == []
    small = tmp_path / "small.csv"
    small.write_text("id\n" + "".join(f"{i}\n" for i in range(100_000)))
    quota_storage.datasets.create_from_file(ada, workspace, small, "small.csv")
    # Fill the quota from the database's view, as another worker's import would.
    from sqlalchemy import update

    from storage.tables import dataset_versions
    with quota_storage.engine.begin() as conn:
        conn.execute(update(dataset_versions).values(size_bytes=2 * MB))
    with pytest.raises(QuotaExceeded) as caught:
        quota_storage.uploads.create(ada, "more.csv", 1000)
    assert caught.value.message == ("Your datasets take 2 MB; the most one person may keep is 1 MB "
                                    "(DATAINSIGHT_USER_QUOTA_MB). Delete datasets or old versions first")


def test_a_row_past_the_memory_budget_is_refused_while_the_sheet_streams(tmp_path):
    rng = random.Random(4)
    cells = "".join(f'<c r="{_letters(i)}1" t="inlineStr"><is><t>{"".join(rng.choices(string.ascii_letters, k=500))}'
                    "</t></is></c>" for i in range(1, 10_001))
    path = bombs._workbook(tmp_path / "wide.xlsx", bombs._sheet([f'<row r="1">{cells}</row>'.encode()]))
    message = refused(path, "wide.xlsx", tmp_path / "work", memory_mb=16)
    assert message.startswith("wide.xlsx needs more than 16 MB of memory to read (a row of the sheet 'Sheet1')"), message


def _letters(column: int) -> str:
    name = ""
    while column:
        column, rest = divmod(column - 1, 26)
        name = chr(65 + rest) + name
    return name


def test_the_cell_check_keeps_memory_flat_even_without_the_ratio_check(tmp_path):
    """With the ratio alarm off, the 300 MB cell is still refused by streaming: opening the
    workbook (openpyxl reads a sheet without <dimension> to its end) never holds it. In a
    fresh process, so its peak memory is this file's alone (main took 2.6 GB)."""
    import subprocess
    import sys

    path = bombs.inline_string_bomb(tmp_path / "bomb.xlsx")
    script = f"""
import resource
from pathlib import Path
import storage.xlsx_guard as guard
guard.MAX_RATIO = 10**9
from storage.errors import IngestError
from storage.sources import prepare
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    prepare(Path({str(path)!r}), "bomb.xlsx", Path({str(tmp_path / 'work')!r}), 2**33)
except IngestError as error:
    print(error.message)
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    root = Path(__file__).resolve().parents[2]
    lines = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True,
                           check=True, timeout=120).stdout.splitlines()
    assert lines[0].startswith("A cell of bomb.xlsx holds more than 32,767 characters"), lines
    assert int(lines[1]) < 64, f"grew by {lines[1]} MB"


def test_a_text_file_converted_to_utf8_stops_at_the_cap_too(tmp_path):
    """A Windows-1252 file becomes a UTF-8 copy up to three times its size: that copy is
    capped like a decompressed one."""
    path = tmp_path / "latin.csv"
    with open(path, "wb") as out:
        out.write("name\n".encode("cp1252"))
        for piece in bombs._repeat("café €\n".encode("cp1252"), 8 * MB):
            out.write(piece)
    message = refused(path, "latin.csv", tmp_path / "work", Expansion(4 * MB, "DATAINSIGHT_MAX_EXPANDED_MB"))
    assert message.startswith("The file expands to more than 4 MB when converted to UTF-8, which is over the limit "
                              "(DATAINSIGHT_MAX_EXPANDED_MB)"), message
