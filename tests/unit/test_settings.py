import os
import stat

import pytest

from settings import Settings, SettingsError


def test_defaults_put_everything_under_the_data_dir(tmp_path):
    s = Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path)})
    assert s.data_dir == tmp_path.resolve()
    assert s.database_url == f"sqlite:///{tmp_path.resolve() / 'datainsight.db'}"
    assert (s.host, s.port, s.max_upload_mb) == ("127.0.0.1", 8050, 1024)
    assert s.secret_key is None


def test_default_data_dir_is_the_ignored_runtime_folder():
    s = Settings.from_env({})
    assert s.data_dir.parts[-2:] == ("data", "runtime")


def test_values_come_from_prefixed_variables(tmp_path):
    s = Settings.from_env(
        {
            "DATAINSIGHT_DATA_DIR": str(tmp_path),
            "DATAINSIGHT_DATABASE_URL": "postgresql+psycopg://u:p@db/x",
            "DATAINSIGHT_HOST": "0.0.0.0",
            "DATAINSIGHT_PORT": "9000",
            "DATAINSIGHT_SECRET_KEY": "k" * 40,
            "DATAINSIGHT_MAX_UPLOAD_MB": "50",
            "DATAINSIGHT_SECURE_COOKIES": "yes",
        }
    )
    assert s.database_url == "postgresql+psycopg://u:p@db/x"
    assert (s.host, s.port, s.max_upload_mb, s.secure_cookies) == ("0.0.0.0", 9000, 50, True)
    assert s.resolved_secret_key() == "k" * 40


@pytest.mark.parametrize(
    "name,value,fragment",
    [("PORT", "eighty", "DATAINSIGHT_PORT must be a whole number"),
     ("MAX_UPLOAD_MB", "0", "DATAINSIGHT_MAX_UPLOAD_MB must be at least 1"),
     ("SECURE_COOKIES", "maybe", "DATAINSIGHT_SECURE_COOKIES must be true or false")],
)
def test_bad_values_name_the_variable(tmp_path, name, value, fragment):
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path), f"DATAINSIGHT_{name}": value})


def test_secret_key_is_generated_once_and_kept_private(tmp_path):
    s = Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path)})
    first = s.resolved_secret_key()
    again = Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path)}).resolved_secret_key()
    assert first == again and len(first) == 64
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600
    other = Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path / "other")}).resolved_secret_key()
    assert other != first


def test_upload_limits_and_quotas_have_defaults_and_reach_storage(tmp_path):
    from storage.limits import Limits

    s = Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path)})
    assert Limits.from_settings(s) == Limits(max_upload_mb=1024, max_expanded_mb=4096, disk_reserve_mb=1024,
                                             user_quota_mb=10240, uploads_in_progress_mb=2048, import_memory_mb=512)
    s = Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path), "DATAINSIGHT_MAX_EXPANDED_MB": "100",
                           "DATAINSIGHT_USER_QUOTA_MB": "0", "DATAINSIGHT_UPLOADS_IN_PROGRESS_MB": "300",
                           "DATAINSIGHT_DISK_RESERVE_MB": "0", "DATAINSIGHT_IMPORT_MEMORY_MB": "64"})
    assert (s.max_expanded_mb, s.user_quota_mb, s.uploads_in_progress_mb, s.disk_reserve_mb,
            s.import_memory_mb) == (100, 0, 300, 0, 64)
    with pytest.raises(SettingsError, match="DATAINSIGHT_IMPORT_MEMORY_MB must be at least 16"):
        Settings.from_env({"DATAINSIGHT_DATA_DIR": str(tmp_path), "DATAINSIGHT_IMPORT_MEMORY_MB": "1"})
