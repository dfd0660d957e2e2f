"""The check that built documentation pages load nothing from the network."""

import importlib.util
from pathlib import Path

import pytest

_SCRIPT = Path(__file__).resolve().parent.parent / "docs" / "check_offline.py"


@pytest.fixture(scope="module")
def check_offline():
    spec = importlib.util.spec_from_file_location("check_offline", _SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _site(tmp_path, body, css=""):
    (tmp_path / "_static" / "mathjax").mkdir(parents=True)
    (tmp_path / "_static" / "mathjax" / "tex-chtml.js").write_text("")
    (tmp_path / "_static" / "local.js").write_text("")
    (tmp_path / "_static" / "theme.css").write_text(css)
    (tmp_path / "index.html").write_text(f"<html><head>{body}</head></html>")
    return tmp_path


def test_local_site_passes(check_offline, tmp_path, capsys):
    site = _site(
        tmp_path,
        '<script src="_static/local.js"></script>'
        '<link rel="stylesheet" href="_static/theme.css">'
        '<a href="https://doi.org/10.3389/fnsys.2021.620558">paper</a>',
    )
    assert check_offline.problems(site) == []
    assert check_offline.main([str(site)]) == 0


@pytest.mark.parametrize(
    "body, css",
    [
        ('<script src="https://cdn.jsdelivr.net/npm/mathjax@3/tex.js"></script>', ""),
        ('<script src="//cdn.example.org/x.js"></script>', ""),
        ('<link rel="stylesheet" href="http://fonts.example.org/a.css">', ""),
        ('<img src="https://example.org/a.png">', ""),
        ("", "@font-face { src: url('https://fonts.example.org/f.woff2'); }"),
    ],
)
def test_remote_resource_fails(check_offline, tmp_path, body, css):
    site = _site(tmp_path, body, css)
    found = check_offline.problems(site)
    assert [reason for _, _, reason in found] == ["remote"]
    assert check_offline.main([str(site)]) == 1


def test_missing_local_file_fails(check_offline, tmp_path):
    site = _site(tmp_path, '<script src="_static/gone.js"></script>')
    assert [reason for _, _, reason in check_offline.problems(site)] == ["missing"]


def test_build_without_mathjax_fails(check_offline, tmp_path):
    site = _site(tmp_path, "")
    (site / "_static" / "mathjax" / "tex-chtml.js").unlink()
    assert check_offline.main([str(site)]) == 1
