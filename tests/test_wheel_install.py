"""The wheel carries the bank and the proofs: installed (not editable), it works from anywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("quizcnn-*.whl")
    return built


def test_wheel_ships_questions_and_demos(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped_topics = sorted(p.name for p in (REPO / "questions").glob("*.yaml"))
    shipped_demos = sorted(p.name for p in (REPO / "demos").glob("*.py"))
    assert shipped_topics and shipped_demos
    for name in shipped_topics:
        assert f"quizcnn/questions/{name}" in names
    for name in shipped_demos:
        assert f"quizcnn/demos/{name}" in names


@pytest.mark.slow
def test_installed_wheel_runs_check_and_list_outside_the_repository(wheel, tmp_path):
    env_dir = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(env_dir)], check=True)
    bin_dir = env_dir / "bin"
    # Dependencies (torch included) come from the test environment through a .pth
    # file, so nothing is downloaded; quizcnn itself only from the wheel.
    (site_packages,) = (env_dir / "lib").glob("python*/site-packages")
    (site_packages / "deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {**os.environ, "QUIZCNN_HOME": str(tmp_path / "home")}
    env.pop("QUIZCNN_BANK", None)

    def quizcnn(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(bin_dir / "quizcnn"), *args], cwd=outside, env=env, capture_output=True, text=True
        )

    where = subprocess.run(
        [
            str(bin_dir / "python"),
            "-c",
            "import quizcnn.paths as p; print(p.questions_dir(), p.demos_dir())",
        ],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert all(str(site_packages) in path for path in where), where

    check = quizcnn("check", "--strict")
    assert check.returncode == 0, check.stdout + check.stderr
    listed = quizcnn("list", "--json")
    assert listed.returncode == 0, listed.stderr
    topics = json.loads(listed.stdout)
    shipped = {p.stem for p in (REPO / "questions").glob("*.yaml")} - {"bibliography"}
    assert {t["topic"] for t in topics} == shipped
    # the translations and the message catalog ship inside the wheel
    chinese = quizcnn("--lang", "zh", "check", "--strict")
    assert chinese.returncode == 0, chinese.stdout + chinese.stderr
    drill = subprocess.run(
        [str(bin_dir / "quizcnn"), "--lang", "zh", "drill", "--new", "1"],
        input="\n",
        capture_output=True,
        text=True,
        cwd=outside,
        env=env,
    )
    assert "显示答案" in drill.stdout, drill.stdout + drill.stderr
