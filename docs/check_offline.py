"""Check that the built HTML pages load nothing from the network.

Usage::

    python docs/check_offline.py docs/_build/html

Every page is scanned for resources the browser fetches by itself (scripts,
stylesheets, fonts, images, frames): each must be a file of the build. Plain
links (``<a href="https://...">``) are fine: a reader follows them by
choice. Exits 1, listing each offending page and address, if any resource is
remote or missing.
"""

import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

# Tag -> the attributes whose address the browser loads without a click.
_LOADED = {
    "script": ("src",),
    "img": ("src",),
    "iframe": ("src",),
    "embed": ("src",),
    "source": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "object": ("data",),
}
# <link rel=...> values whose href the browser loads.
_LOADED_LINKS = {"stylesheet", "preload", "modulepreload", "icon", "manifest"}


# url(...) in a stylesheet (fonts, images, @import) that points off the site.
_REMOTE_CSS_URL = re.compile(r"""url\(\s*['"]?(?:https?:)?//[^)]*\)""")


class _Resources(HTMLParser):
    def __init__(self):
        super().__init__()
        self.addresses = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in _LOADED.get(tag, ()):
            if attrs.get(name):
                self.addresses.append(attrs[name])
        if tag == "link" and attrs.get("href"):
            rel = set((attrs.get("rel") or "").lower().split())
            if rel & _LOADED_LINKS:
                self.addresses.append(attrs["href"])


def _pages(html_dir):
    # _static/ holds the theme's own files, some of them Jinja templates with
    # unrendered addresses; they are not pages.
    static = html_dir / "_static"
    return sorted(p for p in html_dir.rglob("*.html") if static not in p.parents)


def problems(html_dir):
    """Return ``(file, address, reason)`` for each remote or missing resource.

    Parameters
    ----------
    html_dir : path-like
        The directory of the built HTML pages.

    Returns
    -------
    list of tuple
        ``(path, address, reason)`` with ``reason`` ``"remote"`` or
        ``"missing"``; empty when every resource is a file of the build.
    """
    html_dir = Path(html_dir)
    found = []
    for page in _pages(html_dir):
        parser = _Resources()
        parser.feed(page.read_text(encoding="utf-8"))
        for address in parser.addresses:
            parts = urlsplit(address)
            if parts.scheme in ("http", "https") or address.startswith("//"):
                found.append((page, address, "remote"))
            elif parts.scheme in ("", "file"):
                target = (page.parent / unquote(parts.path)).resolve()
                if parts.path and not target.exists():
                    found.append((page, address, "missing"))
    for sheet in sorted(html_dir.rglob("*.css")):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        for match in _REMOTE_CSS_URL.finditer(text):
            found.append((sheet, match.group(0), "remote"))
    return found


def main(argv=None):
    """Check the directory given on the command line; return the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    html_dir = Path(argv[0])
    if not _pages(html_dir):
        print(f"no HTML page under {html_dir}", file=sys.stderr)
        return 1
    found = problems(html_dir)
    for page, address, reason in found:
        print(f"{page.relative_to(html_dir)}: {reason}: {address}")
    mathjax = html_dir / "_static" / "mathjax" / "tex-chtml.js"
    if not mathjax.exists():
        print(f"MathJax is not in the build ({mathjax} is missing)")
        return 1
    if found:
        return 1
    n_pages = len(_pages(html_dir))
    print(f"{n_pages} pages: every script, stylesheet, font and image is local")
    return 0


if __name__ == "__main__":
    sys.exit(main())
