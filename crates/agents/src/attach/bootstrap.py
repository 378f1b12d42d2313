"""leakproof's attach bootstrap, run inside a running CPython by `leakproof watch --pid`.

leakproof's debugger (gdb) stops one thread of the target where it was about to take the GIL back
(the entry of PyEval_RestoreThread), takes the GIL for it, runs through PyRun_SimpleString a line
that starts a new thread, gives the GIL back and detaches. That thread runs this file in a fresh
namespace, taking turns at the GIL with the target's own threads. It loads the agent
(sitecustomize.py, from the same private directory, and the `_leakproof_*` helpers it imports)
under a private name, starts it serving, and says how that went in `attach.status` beside it:
`ok`, or why not. It must never raise: an exception here would be printed on the target's
stderr. Standard library only; any Python 3.
"""

import os
import sys
import threading
import types

_HERE = os.path.dirname(os.path.abspath(__file__))


def _status(text):
    path = os.path.join(_HERE, "attach.status")
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def _bootstrap(watcher):
    if sys.version_info < (3, 8):
        return "python %d.%d is older than 3.8" % sys.version_info[:2]
    if any(t.name == "leakproof-agent" for t in threading.enumerate()):
        return "busy: another leakproof agent already runs in this process"
    if any(name.startswith("_leakproof_") for name in sys.modules):
        return "busy: another leakproof agent is loaded in this process"
    # Two bootstraps' threads may run at once (two leakproofs attached one after the other): one
    # claims the process, atomically; the claim is ours, so it leaves sys.modules with the helpers.
    claim = types.ModuleType("_leakproof_bootstrap")
    claim.__file__ = __file__  # noqa: F821 - given by the line that runs this
    if sys.modules.setdefault(claim.__name__, claim) is not claim:
        return "busy: another leakproof agent is being loaded in this process"
    sys.path.insert(0, _HERE)
    try:
        _load(watcher)
    except BaseException:
        for name in [n for n, m in list(sys.modules.items()) if _is_ours(m)]:
            sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(_HERE)
    return "ok"


def _load(watcher):
    """Imports the agent's helpers (the `_leakproof_*.py` files beside it, which it and each other
    import by name, with this directory on sys.path for a moment: they stay in sys.modules for as
    long as the agent is attached, and detaching takes them out again), then the agent, and starts
    it serving."""
    import importlib
    import importlib.util

    helpers = sorted(
        name[:-3]
        for name in os.listdir(_HERE)
        if name.startswith("_leakproof_") and name.endswith(".py")
    )
    for name in helpers:
        importlib.import_module(name)
    spec = importlib.util.spec_from_file_location(
        "leakproof_agent", os.path.join(_HERE, "sitecustomize.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.attach(_HERE, watcher, [n for n, m in list(sys.modules.items()) if _is_ours(m)])


def _is_ours(module):
    path = getattr(module, "__file__", None)
    return isinstance(path, str) and os.path.dirname(os.path.abspath(path)) == _HERE


try:
    _status(_bootstrap(WATCHER))  # noqa: F821 - WATCHER is given by the one line that runs this
except BaseException as e:  # noqa: BLE001 - never let anything out into the target
    try:
        _status("failed: %r" % (e,))
    except BaseException:  # noqa: BLE001
        pass
