"""The wheel that the extension bundles: built offline, installed on its own, its CLI runs.

The wheel is installed into a new virtual environment that does not see this one (no system site
packages, no PYTHONPATH, nothing from the source tree); its third-party dependencies (torch,
transformers, the model packages) come from this environment's site-packages through a ``.pth``
file rather than a second multi-gigabyte install, and the test checks that ``atten_scope`` itself
is imported from the wheel's copy. The full install from the package indexes is what
"Atten-Scope: Set Up Atten-Scope" runs (checked end to end in VS Code).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.packaging


def _setuptools_can_build() -> str | None:
    """Why the wheel cannot be built offline here, or None when it can."""
    if importlib.util.find_spec("setuptools") is None:
        return "setuptools is not installed (the wheel is built without build isolation, offline)"
    from importlib.metadata import version

    major = int(version("setuptools").split(".")[0])
    if major < 77:  # the SPDX `license = "MIT"` of pyproject.toml
        return f"setuptools {version('setuptools')} is older than 77"
    return None


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = _setuptools_can_build()
    if reason is not None:
        pytest.skip(reason)
    src = tmp_path_factory.mktemp("wheel-src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "server", src / "server", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    dist = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(dist),
            str(src),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    wheels = list(dist.glob("atten_scope-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_holds_the_package_data_and_the_entry_point(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    data = sorted(p.relative_to(ROOT / "server").as_posix() for p in (ROOT / "server/atten_scope/data").iterdir())
    assert data and set(data) <= names, set(data) - names
    assert "atten_scope/lsp/server.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "atten-scope = atten_scope.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False, system_site_packages=False, symlinks=os.name != "nt").create(env_dir)
    scripts = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = scripts / ("python.exe" if os.name == "nt" else "python")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # This environment's third-party packages, after the new environment's own.
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (Path(site) / "zz-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n", encoding="utf-8")
    return scripts


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["HF_HUB_OFFLINE"] = "1"
    return env


def _run_outside(command: list[str], cwd: Path, timeout: int) -> subprocess.CompletedProcess[str]:
    """``command`` run away from this checkout (``cwd``), without its import path, offline."""
    return subprocess.run(command, capture_output=True, text=True, env=_clean_env(), cwd=cwd, timeout=timeout)


def test_installed_package_is_the_wheels_copy(installed: Path, tmp_path: Path) -> None:
    python = installed / ("python.exe" if os.name == "nt" else "python")
    probe = "import atten_scope, importlib.metadata as m; print(atten_scope.__file__); print(m.version('atten-scope'))"
    result = _run_outside([str(python), "-c", probe], tmp_path, 120)
    assert result.returncode == 0, result.stderr
    where, version = result.stdout.split()
    assert Path(where).resolve().is_relative_to(installed.parent.resolve()), where
    assert not Path(where).resolve().is_relative_to(ROOT.resolve()), where
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    assert f'version = "{version}"' in pyproject


def test_installed_cli_lists_models_and_analyses_a_file(installed: Path, tmp_path: Path) -> None:
    cli = installed / ("atten-scope.exe" if os.name == "nt" else "atten-scope")
    assert cli.is_file()
    models = _run_outside([str(cli), "models"], tmp_path, 300)
    assert models.returncode == 0, models.stderr
    assert "embedded:smollm2-135m" in models.stdout
    sample = tmp_path / "tiny.py"
    sample.write_text("def add(a, b):\n    return a + b\n", encoding="utf-8")
    result = _run_outside(
        [str(cli), "analyze", str(sample), "--at", "2:12", "--json", "--top-k", "3", "--device", "cpu"], tmp_path, 600
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["token"]["range"]["start"]["line"] == 1
    assert 0 < len(data["targets"]) <= 3
    # Package data read from the installed wheel: the view's measured faithfulness.
    assert data["faithfulness"]["model"] == "embedded:smollm2-135m"
