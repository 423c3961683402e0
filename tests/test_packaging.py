"""The built wheel carries everything the package reads at run time (the page, shipped models)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import REPO


@pytest.mark.slow  # builds a wheel in a child process
def test_the_wheel_carries_every_file_the_package_ships(tmp_path):
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", "src/shoprank"], capture_output=True, text=True,
                             check=True).stdout.split()
    data = {p.removeprefix("src/") for p in tracked if not p.endswith(".py")}
    assert {"shoprank/service/static/index.html", "shoprank/ranking/models/default-e5/model.txt"} <= data
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path),
                          str(REPO)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("shoprank-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert not data - names, f"tracked package files missing from the wheel: {sorted(data - names)}"
