"""The operator's command line: python app.py create-user / create-token / migrate."""
import os
import subprocess
import sys
from pathlib import Path

from settings import Settings
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def run_cli(data_dir, *args, input_text=None):
    env = {**os.environ, "DATAINSIGHT_DATA_DIR": str(data_dir)}
    env.pop("DATAINSIGHT_DATABASE_URL", None)
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          input=input_text, timeout=120)


def test_create_user_and_token_then_use_the_token(tmp_path):
    data = tmp_path / "data"
    made = run_cli(data, "create-user", "--email", "ops@example.com", "--password", PASSWORD, "--admin", "--name", "Ops")
    assert made.returncode == 0, made.stderr
    assert "Created administrator ops@example.com" in made.stdout
    token = run_cli(data, "create-token", "--email", "ops@example.com")
    assert token.returncode == 0, token.stderr
    plaintext = token.stdout.strip().splitlines()[-1]
    assert plaintext.startswith("dit_")

    from app import create_app

    client = create_app(Settings.from_env({"DATAINSIGHT_DATA_DIR": str(data)})).server.test_client()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {plaintext}"})
    assert response.status_code == 200
    assert response.get_json()["user"]["email"] == "ops@example.com"
    assert response.get_json()["user"]["is_admin"] is True
    # A user made by the CLI means setup is done: no setup page for strangers.
    assert client.get("/setup").headers["Location"] == "/login"


def test_cli_errors_are_one_clear_line(tmp_path):
    data = tmp_path / "data"
    bad = run_cli(data, "create-user", "--email", "not-an-email", "--password", PASSWORD)
    assert bad.returncode == 1 and bad.stderr.strip() == "error: 'not-an-email' is not a valid email address"
    short = run_cli(data, "create-user", "--email", "a@example.com", "--password", "short")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr and "Traceback" not in short.stderr
    missing = run_cli(data, "create-token", "--email", "nobody@example.com")
    assert missing.returncode == 1 and "no account with the email nobody@example.com" in missing.stderr


def test_password_can_come_from_a_prompt_not_the_command_line(tmp_path):
    # getpass falls back to stdin when there is no terminal.
    made = run_cli(tmp_path / "data", "create-user", "--email", "p@example.com", input_text=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr


def test_migrate_command(tmp_path):
    result = run_cli(tmp_path / "data", "migrate")
    assert result.returncode == 0 and "up to date" in result.stdout
    assert (tmp_path / "data" / "datainsight.db").exists()


def test_a_bad_worker_metrics_port_is_refused_before_the_worker_starts(tmp_path):
    flag = run_cli(tmp_path / "data", "worker", "--metrics-port", "70000")
    assert flag.returncode == 2
    assert "--metrics-port must be a port number (1 to 65535), got 70000" in flag.stderr
    env = {**os.environ, "DATAINSIGHT_DATA_DIR": str(tmp_path / "data"), "DATAINSIGHT_WORKER_METRICS_PORT": "metrics"}
    env.pop("DATAINSIGHT_DATABASE_URL", None)
    setting = subprocess.run([sys.executable, "app.py", "worker"], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=120)
    assert setting.returncode == 1
    assert "DATAINSIGHT_WORKER_METRICS_PORT must be a port number (1 to 65535), got 'metrics'" in setting.stderr
