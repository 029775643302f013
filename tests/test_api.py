"""The Python API: submodules reachable as attributes after `import gradsim`, loaded only when used."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ("gradsim.ensemble", "gradsim.meanfield", "gradsim.clipping", "gradsim.training", "gradsim.window",
        "gradsim.init", "gradsim.theory", "gradsim.descent", "gradsim.chain", "gradsim.activations")


def python(code: str) -> None:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_submodules_are_attributes_loaded_on_first_use():
    python("import sys, gradsim\n"
           f"assert not set({CORE!r}) & set(sys.modules), sorted(set({CORE!r}) & set(sys.modules))\n"
           "assert gradsim.clipping.clip_by_value([3.0, -4.0], 0.5).tolist() == [0.5, -0.5]\n"
           "assert 'gradsim.clipping' in sys.modules and 'gradsim.training' not in sys.modules\n"
           "assert gradsim.theory.init_sigma_w2('he', 'relu') == 2.0\n"
           "assert gradsim.init.init_sigma_w2('xavier', 'tanh') == 1.0\n"
           "assert gradsim.meanfield.chi1('tanh', 1.0, 0.0) == gradsim.chi1('tanh', 1.0, 0.0)\n")


def test_public_functions_still_win_over_their_submodules():
    python("import gradsim, types\n"
           "gradsim.theory  # imports gradsim.window, the module\n"
           "assert callable(gradsim.window) and gradsim.window.__module__ == 'gradsim.window'\n"
           "import gradsim.ensemble\n"
           "assert callable(gradsim.ensemble) and gradsim.ensemble.__module__ == 'gradsim.ensemble'\n"
           "assert isinstance(gradsim.training, types.ModuleType) and callable(gradsim.train)\n"
           "assert {'clipping', 'theory', 'meanfield', 'init'} <= set(dir(gradsim))\n")


def test_unknown_names_are_attribute_errors():
    python("import gradsim\n"
           "for name in ('nope', '_private', '__wrapped__'):\n"
           "    try:\n        getattr(gradsim, name)\n    except AttributeError:\n        pass\n"
           "    else:\n        raise SystemExit(name)\n")


def test_every_dotted_path_in_the_readme_resolves():
    """The README names gradsim.clipping.clip_by_value, gradsim.init.init_sigma_w2, ...: each one works."""
    paths = sorted(set(re.findall(r"\bgradsim(?:\.[a-z_][a-z_0-9]*)+", (ROOT / "README.md").read_text())))
    paths = [p for p in paths if p.count(".") >= 2]
    assert "gradsim.clipping.clip_by_value" in paths
    python("import gradsim, functools\n"
           f"for path in {paths!r}:\n"
           "    functools.reduce(getattr, path.split('.')[1:], gradsim)\n")


def test_gradsim_vanish_loads_only_its_own_core():
    python("import sys\nfrom gradsim.cli import main\nsys.argv = ['gradsim', 'vanish']\n"
           "try:\n    main()\nexcept SystemExit:\n    pass\n"
           "loaded = {m for m in sys.modules if m.startswith('gradsim.')}\n"
           "assert not loaded & {'gradsim.ensemble', 'gradsim.meanfield', 'gradsim.clipping', 'gradsim.training',"
           " 'gradsim.window', 'gradsim.theory', 'gradsim.init', 'gradsim.commands.train', 'matplotlib'}, loaded\n")
