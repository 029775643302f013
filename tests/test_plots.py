"""Figures are written atomically: a crash mid-write leaves no partial file and the old file untouched."""

from __future__ import annotations

import os

import pytest

from gradsim import chain


@pytest.fixture
def plots():
    from gradsim import plots

    return plots


def test_a_crash_mid_write_leaves_the_old_file_and_no_temporary(plots, tmp_path, monkeypatch):
    path = tmp_path / "chain.png"
    path.write_bytes(b"the old figure")
    fig = plots.chain_figure(chain.vanish())

    def crash(self, fname, **kwargs):
        with open(fname, "wb") as half:
            half.write(b"\x89PNG half a figure")
        raise KeyboardInterrupt

    monkeypatch.setattr(type(fig), "savefig", crash)
    with pytest.raises(KeyboardInterrupt):
        plots.save(fig, path)
    assert path.read_bytes() == b"the old figure"
    assert [p.name for p in tmp_path.iterdir()] == ["chain.png"]


def test_save_replaces_a_file_whole_with_usual_permissions(plots, tmp_path):
    path = tmp_path / "chain.svg"
    path.write_text("old")
    plots.save(plots.chain_figure(chain.vanish(depth=6)), path)
    assert path.read_bytes().lstrip().startswith((b"<?xml", b"<svg"))
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask  # as open() would make it, not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["chain.svg"]


def test_an_interrupted_cli_run_leaves_no_file(run, tmp_path, monkeypatch, plots):
    def crash(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(plots, "chain_figure", crash)
    path = tmp_path / "x.png"
    with pytest.raises(RuntimeError):
        run("vanish", "--plot", str(path))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs a folder no file can be created in")
def test_a_folder_that_cannot_be_written_is_a_usage_error_before_any_output(run):
    # /proc exists but takes no new files, even for root (a chmod'ed folder would not stop root)
    result = run("vanish", "--plot", "/proc/gradsim-test.png")
    assert result.exit_code == 2 and result.stdout == ""
    assert "--plot" in result.stderr and "cannot write" in result.stderr
