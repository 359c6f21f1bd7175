"""Colab and shell artefacts, neutralised during a grading run.

Learners' notebooks start with ``%tensorflow_version 1.x``, ``!pip install``,
``!wget ...setup_google_colab.py`` and ``setup_google_colab.setup_week2()``.
Offline grading must neither hang on these nor let them reach the network,
and they must not fail the notebook by themselves: the helpers they would
download are already on the kernel's path.  Each is skipped and recorded, and
the feedback lists what was skipped.
"""
from __future__ import annotations

import sys
import types

_SKIPPED: list[str] = []


def skipped() -> list[str]:
    """What the notebook asked for that the grading run skipped, in order."""
    return list(_SKIPPED)


def note(what: str) -> None:
    """Record that ``what`` was skipped (it goes to the result's notes) and say so in the output."""
    if what not in _SKIPPED:
        _SKIPPED.append(what)
    print(f"[grader] skipped during grading: {what}")


_note = note


def install(shell, *, tf1_compat: bool) -> None:
    """Register the no-op magics and shell handlers on the IPython ``shell``."""
    if shell is None:
        return

    def tensorflow_version(line: str = ""):
        mode = "TF1 compatibility mode is on" if tf1_compat else "current TensorFlow is used"
        _note(f"%tensorflow_version {line.strip()} ({mode})")

    def package_magic(name):
        def magic(line: str = ""):
            _note(f"%{name} {line.strip()} (packages are not installed while grading)")
        return magic

    shell.register_magic_function(tensorflow_version, "line", "tensorflow_version")
    for name in ("pip", "conda", "mamba"):
        shell.register_magic_function(package_magic(name), "line", name)

    # `!cmd` calls shell.system, `x = !cmd` calls shell.getoutput: neither may run
    # anything while grading (no network, no installs, no side effects on the host).
    def system(cmd):
        _note(f"!{cmd.strip()}")
        shell.user_ns["_exit_code"] = 0

    def getoutput(cmd, split=True, depth=0):
        _note(f"!{cmd.strip()}")
        from IPython.utils.text import SList

        return SList([]) if split else ""

    shell.system = system
    shell.system_piped = system
    shell.system_raw = system
    shell.getoutput = getoutput
    for cell_magic in ("bash", "sh", "script", "system", "sx"):
        def cell(line="", cell=None, _name=cell_magic):
            _note(f"%%{_name} cell")
        shell.register_magic_function(cell, "cell", cell_magic)
    shell.register_magic_function(lambda line="": _note(f"%system {line.strip()}"), "line", "system")
    shell.register_magic_function(lambda line="": _note(f"%sx {line.strip()}"), "line", "sx")

    # TensorBoard in a notebook (%load_ext tensorboard, %tensorboard --logdir ...) serves a web
    # page: pointless while grading, and tensorboard may not even be installed.
    def load_ext(line: str = ""):
        for name in line.split():
            if name in ("tensorboard", "tensorboard.notebook"):
                _note(f"%load_ext {name}")
            else:  # what IPython's own %load_ext does
                shell.extension_manager.load_extension(name)

    shell.register_magic_function(load_ext, "line", "load_ext")
    shell.register_magic_function(lambda line="": _note(f"%tensorboard {line.strip()}"), "line",
                                  "tensorboard")
    sys.modules.setdefault("setup_google_colab", _colab_setup_module())


def _colab_setup_module() -> types.ModuleType:
    """Stand-in for the course's setup_google_colab: every setup_* call is a recorded no-op."""
    module = types.ModuleType("setup_google_colab")
    module.__doc__ = "Replaced by the grader: the course helpers are already installed."

    def __getattr__(name):
        if name.startswith("setup") or name.startswith("download"):
            def noop(*args, **kwargs):
                _note(f"setup_google_colab.{name}() (the course helpers are already there)")
            return noop
        raise AttributeError(name)

    module.__getattr__ = __getattr__
    return module
