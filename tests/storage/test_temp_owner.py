"""Temp files are named by process and host (storage.jobs.temp_owner): on a data dir shared
by several machines, start-up removes the leftovers of this host's dead processes only,
never a live ingest of another machine whose pid happens to be free here."""
import os
import subprocess
import sys
import time

from storage.jobs import temp_owner, temp_owner_gone


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_only_this_hosts_dead_processes_files_are_gone():
    host = temp_owner().partition("@")[2]
    gone = dead_pid()
    assert temp_owner() == f"{os.getpid()}@{host}"
    assert temp_owner_gone(f"{gone}@{host}-abc.parquet.tmp") is True
    assert temp_owner_gone(f"{os.getpid()}@{host}-abc.parquet.tmp") is False
    assert temp_owner_gone(f"{gone}@another_machine-abc.parquet.tmp") is False
    assert temp_owner_gone(f"{gone}-abc.parquet.tmp") is False  # no host: its age decides
    assert temp_owner_gone("duckdb_temp_storage-0.tmp") is False


def test_start_up_keeps_another_hosts_ingest_and_removes_this_hosts_leftovers(storage):
    tmp = storage.datasets.tmp_dir
    host = temp_owner().partition("@")[2]
    gone = dead_pid()
    ours = tmp / f"{gone}@{host}-left.parquet.tmp"
    theirs = tmp / f"{gone}@another_machine-writing.parquet.tmp"
    old_theirs = tmp / f"{gone}@another_machine-old.parquet.tmp"
    for path in (ours, theirs, old_theirs):
        path.write_bytes(b"x")
    hour_ago = time.time() - 3600
    os.utime(old_theirs, (hour_ago, hour_ago))
    assert storage.datasets.recover()["tmp"] == 2
    assert sorted(p.name for p in tmp.iterdir() if p.is_file()) == [theirs.name]


def test_duckdb_spills_into_a_folder_of_this_host(tmp_path):
    from storage.duck import connect, spill_dir

    con = connect(tmp_path / "tmp", threads=1)
    where = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    assert where == str(spill_dir(tmp_path / "tmp")) and spill_dir(tmp_path / "tmp").name.startswith("duckdb@")
    con.close()
    assert [p for p in (tmp_path / "tmp").rglob("*") if p.is_file()] == []
