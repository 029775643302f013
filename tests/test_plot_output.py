"""Writing a figure: the path checks, the message on stderr, identical bytes, OS errors, signals, matplotlib's config."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from gradsim import chain  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

#: Cheap runs of every command that has --plot.
PLOTTING = {
    "vanish": (), "acts": (), "steps": (), "clip": ("--grad", "3,4"), "phase": ("--grid", "5"), "window": (),
    "ensemble": ("--depth", "6", "--trials", "200"), "train": ("--data", "synthetic", "--epochs", "1"),
}


@pytest.fixture
def plots():
    from gradsim import plots

    return plots


@pytest.mark.parametrize("command", sorted(PLOTTING))
def test_every_command_says_where_it_wrote_the_figure(run, tmp_path, command):
    path = tmp_path / "fig.png"
    result = run(command, *PLOTTING[command], "--plot", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-1] == f"wrote {path}"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("name", ["some/dir/", "existing"])
def test_a_directory_is_called_a_directory(run, tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "existing").mkdir()
    stderr = run.usage_error("vanish", "--plot", name, option="--plot")
    assert "is a directory" in stderr and "suffix" not in stderr


def test_svg_is_byte_identical_for_identical_runs_and_keeps_text_as_text(plots, tmp_path):
    a, b = tmp_path / "a.svg", tmp_path / "b.svg"
    plots.save(plots.chain_figure(chain.vanish()), a)
    plots.save(plots.chain_figure(chain.vanish()), b)
    assert a.read_bytes() == b.read_bytes()
    svg = a.read_text()
    assert "<dc:date>" not in svg
    assert "<text" in svg and "layer j (1 = first, nearest the input)" in svg  # editable, not glyph paths


def test_pdf_has_no_creation_date(plots, tmp_path):
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    plots.save(plots.chain_figure(chain.vanish()), a)
    plots.save(plots.chain_figure(chain.vanish()), b)
    assert b"/CreationDate" not in a.read_bytes()
    assert a.read_bytes() == b.read_bytes()


def test_a_name_too_long_is_a_usage_error(run, tmp_path):
    path = tmp_path / ("a" * 300 + ".png")
    stderr = run.usage_error("vanish", "--plot", str(path), option="--plot")
    assert "too long" in stderr.lower()
    assert list(tmp_path.iterdir()) == []


def test_a_name_that_fits_but_whose_temporary_would_not_is_written(run, tmp_path):
    path = tmp_path / ("a" * 250 + ".png")  # 254 bytes: legal; ".<name>.XXXXXXXX.tmp" would not be
    result = run("vanish", "--plot", str(path))
    assert result.exit_code == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_full_disk_after_the_table_is_a_usage_error_with_no_file_left(run, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def full(self, fname, **kwargs):
        with open(fname, "wb") as half:
            half.write(b"\x89PNG half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Figure, "savefig", full)
    result = run("vanish", "--plot", str(tmp_path / "chain.png"))
    # the table was printed before the figure was written; then the error, exit 2
    assert result.exit_code == 2
    assert "Nielsen's chain" in result.stdout
    assert "--plot" in result.stderr and "No space left on device" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_symlink_is_written_through_and_stays_a_link(plots, tmp_path):
    (tmp_path / "rw").mkdir()
    (tmp_path / "ro").mkdir()
    link = tmp_path / "ro" / "p.png"
    link.symlink_to(Path("..") / "rw" / "p.png")
    plots.save(plots.chain_figure(chain.vanish()), link)
    assert link.is_symlink()
    assert (tmp_path / "rw" / "p.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in (tmp_path / "ro").iterdir()) == ["p.png"]


def test_the_temporary_file_and_the_probe_go_beside_the_resolved_target(run, tmp_path, monkeypatch):
    import tempfile

    (tmp_path / "rw").mkdir()
    (tmp_path / "ro").mkdir()
    link = tmp_path / "ro" / "p.png"
    link.symlink_to(Path("..") / "rw" / "p.png")
    folders = []
    real = tempfile.mkstemp

    def spy(*args, **kwargs):
        folders.append(Path(kwargs["dir"]).resolve())
        return real(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", spy)
    assert run("vanish", "--plot", str(link)).exit_code == 0
    assert folders and set(folders) == {(tmp_path / "rw").resolve()}


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes in read-only folders")
def test_a_link_in_a_read_only_folder_to_a_writable_one_is_written(run, tmp_path):
    (tmp_path / "rw").mkdir()
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "p.png").symlink_to(Path("..") / "rw" / "p.png")
    ro.chmod(0o555)
    try:
        result = run("vanish", "--plot", str(ro / "p.png"))
    finally:
        ro.chmod(0o755)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "rw" / "p.png").read_bytes()[:4] == b"\x89PNG"


SLOW_WRITE = textwrap.dedent("""
    import sys, time
    from matplotlib.figure import Figure
    from gradsim import chain, plots

    def slow(self, fname, **kwargs):
        with open(fname, "wb") as half:
            half.write(b"half a figure")
        print("writing", flush=True)
        time.sleep(60)

    Figure.savefig = slow
    plots.save(plots.chain_figure(chain.vanish()), sys.argv[1])
""")


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_the_write_removes_the_temporary_file(tmp_path, signum):
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    with subprocess.Popen([sys.executable, "-c", SLOW_WRITE, str(out / "p.svg")], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, env=env, text=True) as child:
        try:
            assert child.stdout.readline() == "writing\n"
            assert len(list(out.iterdir())) == 1  # the temporary .p.svg.XXXX.tmp
            child.send_signal(signum)
            child.wait(timeout=30)
        finally:
            child.kill()
    assert list(out.iterdir()) == []
    if signum == signal.SIGTERM:
        assert child.returncode == -signal.SIGTERM  # ends as a SIGTERM would have ended it


def _quiet_run(tmp_path, **env_changes) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")}
    env.update(PYTHONPATH=str(ROOT), NO_COLOR="1", **env_changes)
    return subprocess.run([sys.executable, "-m", "gradsim", "vanish", "--plot", str(tmp_path / "v.png")],
                          capture_output=True, text=True, env=env, timeout=120)


def test_an_unusable_mplconfigdir_falls_back_quietly(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    done = _quiet_run(tmp_path, MPLCONFIGDIR=str(blocker / "matplotlib"))
    assert done.returncode == 0
    assert done.stderr == f"wrote {tmp_path / 'v.png'}\n"


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs a folder no one can create folders in")
def test_a_home_without_a_writable_config_falls_back_quietly(tmp_path):
    done = _quiet_run(tmp_path, HOME="/proc")  # even root cannot mkdir /proc/.config
    assert done.returncode == 0
    assert done.stderr == f"wrote {tmp_path / 'v.png'}\n"


@pytest.mark.parametrize("command", sorted(PLOTTING))
def test_every_bad_output_path_is_a_usage_error_in_every_command(run, tmp_path, command):
    bad = [tmp_path / ("a" * 300 + ".png"), tmp_path / ("b" * 300) / "x.png", tmp_path / "x" / ".." / "y.svg",
           Path(str(tmp_path) + "/" + "c/" * 2100 + "x.pdf"), tmp_path / "a-file" / "x.png"]
    (tmp_path / "a-file").write_text("a file, not a folder")
    if os.path.isdir("/proc"):
        bad.append(Path("/proc/gradsim-test.png"))
    for path in bad:
        run.usage_error(command, *PLOTTING[command], "--plot", str(path), option="--plot")
    assert [p.name for p in tmp_path.iterdir()] == ["a-file"]
