"""Check what the sdist and the wheel hold: `python .ci/check_dist.py SDIST WHEEL`.

Both: the license, the type information (py.typed, the extension's stub) and the files of twolayer draw's page,
which it serves from the package. The sdist: everything
that building and testing the package needs. Neither: build leftovers, caches or data.
"""

from __future__ import annotations

import re
import sys
import tarfile
import zipfile
from email.parser import HeaderParser

PAGE_ASSETS = tuple(
    f"twolayer/draw/static/{name}" for name in ("index.html", "draw.js", "draw.css")
)
SDIST_NEEDS = (
    "LICENSE",
    "README.md",
    "pyproject.toml",
    "CMakeLists.txt",
    "cpp/core/net.cpp",
    "cpp/bindings/module.cpp",
    "python/twolayer/__init__.py",
    "python/twolayer/py.typed",
    "python/twolayer/_core.pyi",
    "tests/conftest.py",
    "tests/cpp/CMakeLists.txt",
    "docs/pypi.md",
    *(f"python/{asset}" for asset in PAGE_ASSETS),
)
WHEEL_NEEDS = ("twolayer/__init__.py", "twolayer/py.typed", "twolayer/_core.pyi", *PAGE_ASSETS)
# Build trees, compiler output, caches, data: none of it belongs in a distribution.
LEFTOVER = re.compile(
    r"(^|/)(build|dist|CMakeFiles|__pycache__|\.pytest_cache|\.hypothesis|\.git)(/|$)"
    r"|CMakeCache\.txt$|\.(o|obj|a|lib|pyc|npz|so)$|(^|/)results[^/]*\.json$"
)


def check_sdist(path: str) -> list[str]:
    with tarfile.open(path) as sdist:
        names = [name.split("/", 1)[1] for name in sdist.getnames() if "/" in name]
    problems = [f"sdist lacks {need}" for need in SDIST_NEEDS if need not in names]
    return problems + [f"sdist holds {name}" for name in names if LEFTOVER.search(name)]


def check_wheel(path: str) -> list[str]:
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        (metadata_name,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        metadata = HeaderParser().parsestr(wheel.read(metadata_name).decode())
    problems = [f"wheel lacks {need}" for need in WHEEL_NEEDS if need not in names]
    if not any(re.fullmatch(r"twolayer/_core\.[^/]+\.(so|pyd)", n) for n in names):
        problems.append("wheel lacks the extension twolayer/_core")
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        problems.append("wheel lacks .dist-info/licenses/LICENSE")
    if metadata["License-Expression"] != "MIT" or metadata.get_all("License-File") != ["LICENSE"]:
        problems.append("wheel metadata lacks License-Expression: MIT and License-File: LICENSE")
    extension = re.compile(
        r"twolayer/_core\.[^/]+\.so$|\.libs/"
    )  # auditwheel puts libraries in .libs
    return problems + [
        f"wheel holds {name}"
        for name in names
        if LEFTOVER.search(name)
        and not extension.search(name)
        or not name.startswith(("twolayer/", "twolayer-", "twolayer.libs/"))
    ]


def main(sdist: str, wheel: str) -> int:
    problems = check_sdist(sdist) + check_wheel(wheel)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{sdist}, {wheel}: {'bad' if problems else 'complete, and nothing else'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
