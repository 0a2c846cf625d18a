"""Issue 13, case 7a: what the embedded default writes under the data folder is owner-only."""

import os
import stat
import subprocess
import sys


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_fresh_data_folder_and_everything_in_it_are_owner_only(tmp_path):
    data = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALLYPROOF_", "DATABASE_URL", "REDIS_URL"))}
    env.update(ALLYPROOF_ENV="development", ALLYPROOF_DATA_DIR=str(data))
    env.pop("DJANGO_SETTINGS_MODULE", None)
    # A permissive umask, as on many desktops: modes must not depend on it.
    result = subprocess.run([sys.executable, "-c", "import os, runpy, sys; os.umask(0o002); "
                             "sys.argv = ['manage.py', 'migrate', '--no-input', '-v', '0']; runpy.run_path('manage.py', run_name='__main__')"],
                            env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr
    assert mode(data) == 0o700
    names = {p.name for p in data.iterdir()}
    assert {"allyproof.sqlite3", "huey.sqlite3", "secret_key", "encryption_keys"} <= names
    for path in data.rglob("*"):
        assert mode(path) & 0o077 == 0, f"{path.name} is {oct(mode(path))}"


def test_an_existing_world_readable_database_is_tightened(tmp_path):
    from allyproof.core import files

    path = tmp_path / "allyproof.sqlite3"
    path.write_bytes(b"")
    os.chmod(path, 0o644)
    files.private_file(path)
    assert mode(path) == 0o600
