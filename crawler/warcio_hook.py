"""warcio's own tools read Brotli records in the project's virtualenv (#13).

warcio 1.8.1 (the latest release) crashes on `Content-Encoding: br` with Google's `brotli`, which
Scrapy requires (see crawler.encodings). Our code imports the fix itself; warcio's command line
(`.venv/bin/warcio check|index|extract`) and any other program in the virtualenv do not. So
`make install` writes a `.pth` file into the virtualenv's site-packages (`python -m
crawler.warcio_hook --install`) that registers a finder: when `warcio.bufferedreaders` is
imported, crawler.encodings.install() runs right after it. Nothing else is imported at start-up,
and a warcio release that reads Brotli itself is left alone (install() checks).
"""

from __future__ import annotations

import sys
import sysconfig
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path
from types import ModuleType
from typing import Any

TARGET = "warcio.bufferedreaders"
PTH_NAME = "newsarchiver_warcio_brotli.pth"  # after setuptools' "__editable__..." (sorted)
# one line, run by `site` at every start-up of the virtualenv's Python; quiet if the project
# was removed
PTH_LINE = (
    "import importlib.util as u; u.find_spec('crawler.warcio_hook') and "
    "__import__('crawler.warcio_hook').warcio_hook.register()\n"
)


class _PatchedLoader(Loader):
    """warcio's own loader, then the Brotli fix on the module it made."""

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        return self.loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self.loader.exec_module(module)
        from crawler.encodings import install

        install()


class WarcioBrotliFinder(MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> ModuleSpec | None:
        if name != TARGET:
            return None
        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _PatchedLoader(spec.loader)
        return spec


def register() -> None:
    if not any(isinstance(finder, WarcioBrotliFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, WarcioBrotliFinder())


def install_pth() -> Path:
    """Write the .pth file into this interpreter's site-packages."""
    target = Path(sysconfig.get_paths()["purelib"]) / PTH_NAME
    target.write_text(PTH_LINE, encoding="utf-8")
    return target


if __name__ == "__main__":
    if sys.argv[1:] != ["--install"]:
        sys.exit("usage: python -m crawler.warcio_hook --install")
    print(f"warcio reads Brotli records in this virtualenv: {install_pth()}")
