"""The lock files install what pyproject.toml asks for, fully pinned and hashed, without torch.

scripts/install.sh installs requirements.lock with --require-hashes, then Kazi with --no-deps,
so a requirement of pyproject.toml that the lock does not meet would never be installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from engine.labeling.label_studio_server import LABEL_STUDIO_VERSION

REPO_ROOT = Path(__file__).resolve().parents[2]
ENGINE_LOCK = REPO_ROOT / "requirements.lock"
LABEL_STUDIO_LOCK = REPO_ROOT / "scripts" / "label-studio.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+?)\s*(\\)?$")
HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}\s*(\\)?$")


def parse_lock(text: str) -> dict[NormalizedName, tuple[Version, int]]:
    """name -> (pinned version, number of hashes); any other non-comment line fails."""
    pins: dict[NormalizedName, tuple[Version, int]] = {}
    current: NormalizedName | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if match := PIN.match(line):
            name = canonicalize_name(match.group(1))
            assert name not in pins, f"line {number}: {name} pinned twice"
            pins[name] = (Version(match.group(2)), 0)
            current = name
        elif HASH.match(line) and current is not None:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        else:
            raise AssertionError(f"line {number} is neither a pin, a hash nor a comment: {line!r}")
    return pins


def pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    texts = project["dependencies"] + project["optional-dependencies"]["test"]
    return [Requirement(text) for text in texts]


def unmet(
    requirements: list[Requirement], pins: dict[NormalizedName, tuple[Version, int]]
) -> list[str]:
    problems = []
    for req in requirements:
        if req.marker is not None and not req.marker.evaluate({"extra": "test"}):
            continue
        pinned = pins.get(canonicalize_name(req.name))
        if pinned is None:
            problems.append(f"{req}: not in the lock")
        elif not req.specifier.contains(pinned[0], prereleases=True):
            problems.append(f"{req}: the lock pins {pinned[0]}")
    return problems


def test_engine_lock_meets_every_pyproject_requirement() -> None:
    pins = parse_lock(ENGINE_LOCK.read_text())
    assert unmet(pyproject_requirements(), pins) == [], "run: bash scripts/lock.sh"


def test_unmet_finds_a_missing_and_an_out_of_range_requirement() -> None:
    pins = parse_lock("fastapi==0.110.0 \\\n    --hash=sha256:" + "a" * 64 + "\n")
    assert unmet([Requirement("FastAPI>=0.110"), Requirement("fastapi<0.100")], pins) == [
        "fastapi<0.100: the lock pins 0.110.0"
    ]
    assert unmet([Requirement("hypothesis>=6")], pins) == ["hypothesis>=6: not in the lock"]


@pytest.mark.parametrize("lock", [ENGINE_LOCK, LABEL_STUDIO_LOCK], ids=lambda p: p.name)
def test_every_pin_is_exact_and_hashed(lock: Path) -> None:
    pins = parse_lock(lock.read_text())
    assert len(pins) > 20
    assert [name for name, (_, hashes) in pins.items() if hashes == 0] == []


@pytest.mark.parametrize("lock", [ENGINE_LOCK, LABEL_STUDIO_LOCK], ids=lambda p: p.name)
def test_no_lock_pulls_in_torch_or_cuda(lock: Path) -> None:
    # faster-whisper runs on CTranslate2; a torch pin would download a multi-GB CUDA build.
    heavy = [n for n in parse_lock(lock.read_text()) if n in {"torch", "triton"} or "nvidia" in n]
    assert heavy == []


def test_label_studio_lock_pins_the_version_the_engine_expects() -> None:
    pins = parse_lock(LABEL_STUDIO_LOCK.read_text())
    assert pins[canonicalize_name("label-studio")][0] == Version(LABEL_STUDIO_VERSION)
    script = (REPO_ROOT / "scripts" / "label_studio.sh").read_text()
    assert f"\nLABEL_STUDIO_VERSION={LABEL_STUDIO_VERSION}\n" in script


def run_check_lock(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(root / "scripts" / "install.sh"), "--check-lock"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
    )


def test_install_check_accepts_the_repository_lock() -> None:
    done = run_check_lock(REPO_ROOT)
    assert done.returncode == 0, done.stderr


def test_install_fails_clearly_when_pyproject_outgrows_the_lock(tmp_path: Path) -> None:
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO_ROOT / "scripts" / "install.sh", tmp_path / "scripts" / "install.sh")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["fastapi>=0.200", "brand-new-dep>=1"]\n'
        '[project.optional-dependencies]\ntest = ["pytest>=8"]\n'
    )
    hashes = "    --hash=sha256:" + "0" * 64 + "\n"
    (tmp_path / "requirements.lock").write_text(
        f"fastapi==0.110.0 \\\n{hashes}pytest==8.3.0 \\\n{hashes}"
    )
    done = run_check_lock(tmp_path)
    assert done.returncode == 1
    assert "fastapi>=0.200: requirements.lock pins fastapi==0.110.0" in done.stderr
    assert "brand-new-dep>=1: not in requirements.lock" in done.stderr
    assert "scripts/lock.sh" in done.stderr
    assert not (tmp_path / ".venv").exists()  # refused before creating or installing anything
