"""chatconform as a user installs it: a wheel, used from a directory that is not this checkout.

* The distribution lists every package of the engine and maps the repository's
  suites/, schemas/ and fixtures/ into the package (pyproject.toml).
* A wheel built from the checkout and installed outside it runs the suites through
  `chatconform run` and through `pytest --pyargs chatconform.suites`, with the same
  verdict as the checkout.
* Installed, the plugin leaves an unrelated project's pytest run alone: its own
  `--model` option and `client` fixture keep working, and no verdict is printed.
* The build works on the oldest setuptools pyproject.toml admits.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = pathlib.Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_every_engine_package_is_distributed():
    engine = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "chatconform").rglob("__init__.py")}
    missing = engine - set(SETUPTOOLS["packages"])
    assert not missing, f"packages missing from pyproject.toml [tool.setuptools] packages: {sorted(missing)}"


def test_top_level_folders_are_mapped_not_moved():
    assert SETUPTOOLS["package-dir"] == {
        "chatconform.suites": "suites",
        "chatconform.data.schemas": "schemas",
        "chatconform.data.fixtures": "fixtures",
    }
    for folder in ("suites", "schemas", "fixtures"):
        assert (ROOT / folder).is_dir()
    # every data folder is a listed package, so its files are carried
    for base, pkg in (("schemas", "chatconform.data.schemas"), ("fixtures", "chatconform.data.fixtures")):
        for d in (ROOT / base).iterdir():
            if d.is_dir() and d.name.isidentifier():
                assert f"{pkg}.{d.name}" in SETUPTOOLS["packages"], d


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> pathlib.Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (whl,) = out.glob("chatconform-*.whl")
    return whl


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> pathlib.Path:
    """The wheel unpacked into a directory of its own (`pip install --target`); this
    interpreter provides the dependencies, PYTHONPATH puts the installed copy first."""
    target = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return target


def _env(installed: pathlib.Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CHATCONFORM_HYPOTHESIS"))}
    env["PYTHONPATH"] = str(installed)
    return env


def test_wheel_carries_the_suites_and_their_data(installed):
    pkg = installed / "chatconform"
    for rel in (
        "suites/test_stream.py",
        "suites/conftest.py",
        "data/schemas/request.schema.json",
        "data/schemas/openai/openai-chat-completions.normalized.openapi.yaml",
        "data/fixtures/tools/get_weather.json",
        "data/fixtures/media/red-16x16.png",
        "data/fixtures/sdk-stream-captures/parse_nothing.sse",
        "rules.yaml",
        "pytest.ini",
    ):
        assert (pkg / rel).is_file(), rel
    entry_points = next(installed.glob("chatconform-*.dist-info")) / "entry_points.txt"
    assert "[pytest11]" in entry_points.read_text() and "chatconform.plugin" in entry_points.read_text()


def _verdict(path: pathlib.Path) -> dict:
    data = json.loads(path.read_text())
    return {rid: r["outcome"] for rid, r in data["rules"].items()}


@pytest.mark.selftest_slow
def test_installed_wheel_runs_from_any_directory_with_the_checkouts_verdict(installed, tmp_path):
    elsewhere = tmp_path / "their-project"
    elsewhere.mkdir()
    where = subprocess.run(
        [sys.executable, "-c", "import chatconform; print(chatconform.__file__)"],
        cwd=elsewhere,
        env=_env(installed),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.stdout.strip().startswith(str(installed)), where.stdout
    runs = {
        "cli": [sys.executable, "-m", "chatconform", "run", "--budget", "smoke", "-p", "no:cacheprovider"],
        "pyargs": [
            sys.executable,
            "-m",
            "pytest",
            "--pyargs",
            "chatconform.suites",
            "--budget",
            "smoke",
            "-p",
            "no:cacheprovider",
        ],
    }
    verdicts = {}
    for name, cmd in runs.items():
        out = tmp_path / f"{name}.json"
        proc = subprocess.run(
            cmd + ["--results", str(out)],
            cwd=elsewhere,
            env=_env(installed),
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, f"{name}: exit {proc.returncode}\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}"
        assert "chatconform verdict" in proc.stdout
        verdicts[name] = _verdict(out)
    checkout = tmp_path / "checkout.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--budget", "smoke", "-p", "no:cacheprovider", "--results", str(checkout)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert verdicts["cli"] == verdicts["pyargs"] == _verdict(checkout)
    assert not (elsewhere / ".hypothesis").exists()


CONFTEST = """
import pytest

def pytest_addoption(parser):
    parser.addoption("--model", default="theirs")

@pytest.fixture
def client():
    return "their client"
"""
TEST = """
def test_their_own(client, request):
    assert client == "their client"
    assert request.config.getoption("model") == "x"
"""


def test_installed_plugin_is_inert_in_an_unrelated_project(installed, tmp_path):
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_theirs.py").write_text(TEST)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "--model", "x", "-p", "no:cacheprovider", "-W", "error"],
        cwd=tmp_path,
        env=_env(installed),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout and "chatconform" not in proc.stdout
    plugins = subprocess.run(
        [sys.executable, "-m", "pytest", "--co", "-q", "-p", "no:cacheprovider", "--trace-config"],
        cwd=tmp_path,
        env=_env(installed),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "chatconform" in plugins.stdout  # loaded, yet it changed nothing above


@pytest.mark.selftest_slow
def test_builds_with_the_oldest_setuptools_admitted(tmp_path):
    floor = next(r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools"))
    version = floor.split(">=")[1]
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    proc = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", f"setuptools=={version}.*", "wheel"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = subprocess.run(
        [str(py), "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert list(tmp_path.glob("chatconform-*.whl"))
