"""warcio's own tools read Brotli records in the project's virtualenv (#13).

warcio 1.8.1 crashed on `Content-Encoding: br` with Google's `brotli`, which Scrapy requires;
1.8.2 decodes br only through brotlicffi, which the project does not install, and hands such a
payload on still compressed (see crawler.net.encodings). Our code imports the decoder itself;
warcio's command line (`.venv/bin/warcio check|index|extract`, `cdxj-indexer`) does not. So
`make install` writes a `.pth` file into the virtualenv's site-packages
(`python -m crawler.net.warcio_hook --install`) whose
one line registers a finder: when `warcio.bufferedreaders` is imported, crawler.net.encodings is
imported right after it, and installs the fix (only where warcio's own decoder is broken).

The line imports nothing of the project at start-up: a Scrapyd job must import `crawler` from
its egg, not from the checkout the virtualenv was installed from. It also silences the one
warning those tools print on every call and nobody can act on (#24): py3amf, which
cdxj-indexer and wacz import, imports the deprecated pkg_resources.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

PTH_NAME = "newsarchiver_warcio_brotli.pth"
# Run by `site` at every start-up of the virtualenv's Python (as one line of the .pth file).
HOOK_SOURCE = '''
import sys
import warnings
from importlib.machinery import PathFinder

warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

class WarcioBrotliLoader:
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        if "crawler.net.encodings" in sys.modules:
            return  # being imported (it imported warcio): it installs the fix itself
        try:
            import crawler.net.encodings  # noqa: F401
        except ImportError:
            pass  # the project is not importable here: warcio as it is

class WarcioBrotliFinder:
    def find_spec(self, name, path, target=None):
        if name != "warcio.bufferedreaders":
            return None
        spec = PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            spec.loader = WarcioBrotliLoader(spec.loader)
        return spec

if not any(type(f).__name__ == "WarcioBrotliFinder" for f in sys.meta_path):
    sys.meta_path.insert(0, WarcioBrotliFinder())
'''
PTH_LINE = f"import sys; exec({HOOK_SOURCE!r}, {{'__name__': 'newsarchiver_warcio_hook'}})\n"


def register() -> None:
    """What the .pth line does, for this interpreter."""
    exec(HOOK_SOURCE, {"__name__": "newsarchiver_warcio_hook"})


def install_pth() -> Path:
    """Write the .pth file into this interpreter's site-packages."""
    target = Path(sysconfig.get_paths()["purelib"]) / PTH_NAME
    target.write_text(PTH_LINE, encoding="utf-8")
    return target


if __name__ == "__main__":
    if sys.argv[1:] != ["--install"]:
        sys.exit("usage: python -m crawler.net.warcio_hook --install")
    print(f"warcio reads Brotli records in this virtualenv: {install_pth()}")
