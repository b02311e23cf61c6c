"""twolayer/__init__.py: the version, and the installed metadata it must agree with."""

from __future__ import annotations

import re
from importlib import metadata

import twolayer


def test_version_is_the_installed_metadata():
    # The wheel's metadata reads __version__ from __init__.py at build time: one source.
    assert twolayer.__version__ == metadata.version("twolayer")
    assert re.fullmatch(r"\d+\.\d+\.\d+", twolayer.__version__)


def test_license_metadata():
    meta = metadata.metadata("twolayer")
    assert meta["License-Expression"] == "MIT"
    assert meta.get_all("License-File") == ["LICENSE"]


def test_long_description_has_no_repository_relative_links():
    # PyPI shows the long description without the repository, so a relative image or link breaks.
    description = (
        metadata.metadata("twolayer")["Description"] or metadata.metadata("twolayer").get_payload()
    )
    targets = re.findall(r"\]\(([^)]*)\)", description)
    assert all(re.match(r"https?://", target) for target in targets), targets
    assert "twolayer train" in description


def test_the_experiment_is_a_plain_install():
    # Figures and the progress bar are what `twolayer train` is for: not extras.
    requires = metadata.requires("twolayer") or []
    plain = {re.split(r"[<>=!~ ;\[]", r)[0] for r in requires if "extra ==" not in r}
    assert {"numpy", "matplotlib", "tqdm"} <= plain
