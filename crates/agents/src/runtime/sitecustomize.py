"""leakproof's Python agent, loaded as `sitecustomize` through PYTHONPATH.

It starts tracemalloc and answers one-line JSON requests on a Unix socket named after the process
id in $LEAKPROOF_AGENT_DIR (never a TCP port), on a daemon thread. A forked child serves its own
socket. Afterwards the next `sitecustomize` on sys.path, if any, is loaded as if we were not here.
`attach` serves a process that is already running instead (`leakproof watch --pid`, through
attach/bootstrap.py); it is all that runs when this file is loaded under another name.
Standard library only; Python 3.8+.
"""

import gc
import json
import os
import socket
import sys
import threading
import time
import tracemalloc

# The sampling and snapshot logic shared with the pytest plugin (leakproof/_sampling.py in the
# Python package), written beside this file by the harness.
import _leakproof_sampling as _sampling

# The holder search and the open sites (leakproof/_holders.py and _opened.py), written likewise.
import _leakproof_holders as _holders
import _leakproof_opened as _opened

_DIR = os.environ.get("LEAKPROOF_AGENT_DIR", "")
_FRAMES_VAR = "LEAKPROOF_PY_FRAMES"
_DEFAULT_FRAMES = 1
_state = {"server": None, "path": None}


def _frames():
    try:
        return max(1, int(os.environ.get(_FRAMES_VAR, _DEFAULT_FRAMES)))
    except ValueError:
        return _DEFAULT_FRAMES


def _set_frames(n):
    """Traces `n` frames from now on. A different depth restarts tracemalloc: traces so far are lost."""
    return {"ok": True, "restarted": _sampling.set_frames(n), "pid": os.getpid()}


def _sample():
    # len(gc.get_objects()) walks the collector's lists like gc.collect() does: same order of cost.
    current = _sampling.traced_bytes()
    objects = len(gc.get_objects())
    return {"ok": True, "bytes": current, "detail": objects, "pid": os.getpid()}


def _snapshot():
    # The agent's own allocations: anything with this file or the sampling module on its stack.
    sites = _sampling.snapshot(anywhere={__file__, _sampling.__file__})
    return {"ok": True, "sites": sites, "pid": os.getpid()}


def _own_files():
    return {__file__, _sampling.__file__, _holders.__file__, _opened.__file__}


def _holders_of(request):
    """What keeps the growing sites' objects alive (``{"sites": [...], "budget": seconds}``)."""
    found = _holders.holders(request.get("sites") or [], float(request.get("budget", 1.0)), _own_files())
    return dict(found, ok=True, pid=os.getpid())


def _trace_opens(request):
    """Starts (``"on": true``) or stops recording where descriptors and threads are opened."""
    (_opened.start if request.get("on") else _opened.stop)()
    return {"ok": True, "pid": os.getpid()}


def _open_sites(request):
    """The descriptors (``"kind": "fds"``) or threads opened since ``trace_opens`` and still open."""
    names = {}

    def function(filename, line):
        return _sampling._function(filename, line, names)

    kind = _opened.thread_sites if request.get("kind") == "threads" else _opened.fd_sites
    return {"ok": True, "sites": kind(function), "pid": os.getpid()}


def _answer(line):
    try:
        request = json.loads(line)
        cmd = request.get("cmd")
    except (ValueError, AttributeError):
        request, cmd = {}, None
    if cmd == "frames":
        return _set_frames(request.get("n", _DEFAULT_FRAMES))
    if cmd == "sample":
        return _sample()
    if cmd == "snapshot":
        return _snapshot()
    if cmd == "holders":
        return _holders_of(request)
    if cmd == "trace_opens":
        return _trace_opens(request)
    if cmd == "open_sites":
        return _open_sites(request)
    if cmd == "hello":
        return {"ok": True, "agent": "python", "pid": os.getpid()}
    if cmd == "detach":
        return _detach()
    return {"ok": False, "error": "unknown request"}


def _serve_one(conn):
    conn.settimeout(30)
    with conn:
        data = b""
        while b"\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        started = time.thread_time()
        try:
            reply = _answer(data.split(b"\n", 1)[0].decode("utf-8", "replace"))
        except Exception as e:  # noqa: BLE001 - any failure is reported, never kills the thread
            reply = {"ok": False, "error": repr(e)}
        # CPU time this thread took for the request, holding the GIL: the target's pause.
        reply["spent"] = time.thread_time() - started
        conn.sendall(json.dumps(reply, separators=(",", ":")).encode() + b"\n")


def _loop(server):
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        try:
            _serve_one(conn)
        except OSError:
            pass


def _start():
    path = os.path.join(_DIR, "%d.sock" % os.getpid())
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.unlink(path)
    except OSError:
        pass
    server.bind(path)
    server.listen(8)
    _state["server"], _state["path"] = server, path
    threading.Thread(target=_loop, args=(server,), name="leakproof-agent", daemon=True).start()


def _after_fork_in_child():
    old = _state["server"]
    if old is not None:
        old.close()  # the parent's socket: leave its file alone
    _start()


def _remove_socket():
    if _state["path"] is not None and _state["server"] is not None:
        try:
            if os.path.exists(_state["path"]):
                os.unlink(_state["path"])
        except OSError:
            pass


def _chain_next_sitecustomize():
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.path[:] = rest
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


def attach(directory, watcher, modules=()):
    """Serves requests from `directory` in a process already running (`leakproof watch --pid`; the
    bootstrap calls this in a thread of the target holding the GIL). Starts tracemalloc unless it
    runs already, and stops serving (see `_detach`) on a `detach` request, or by itself once
    `directory` is gone or the process `watcher` (leakproof) has exited. No fork hook, no atexit
    handler; `modules` (the helpers the bootstrap put in sys.modules) leave sys.modules on detach:
    detaching leaves the process as it was."""
    global _DIR
    _DIR = directory
    started = not tracemalloc.is_tracing()
    limit = None if started else tracemalloc.get_traceback_limit()
    path = os.path.join(directory, "%d.sock" % os.getpid())
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    server.settimeout(1.0)
    _state.update(server=server, path=path, attached=(started, limit, watcher, tuple(modules)))
    if started:
        tracemalloc.start(_DEFAULT_FRAMES)
    threading.Thread(
        target=_serve_attached, args=(server,), name="leakproof-agent", daemon=True
    ).start()


def _serve_attached(server):
    """`_loop` for an attached agent: also detaches once leakproof is gone."""
    while _state["server"] is server:
        try:
            conn, _ = server.accept()
        except socket.timeout:
            if not (os.path.isdir(_DIR) and _alive(_state["attached"][2])):
                _detach()
                _remove_orphaned(_DIR)
            continue
        except OSError:
            return
        try:
            conn.settimeout(None)
            _serve_one(conn)
        except OSError:
            pass


def _remove_orphaned(directory):
    """Removes leakproof's `directory` after leakproof died without removing it (killed), once no
    other process's agent socket is left in it: the last agent to detach removes it."""
    try:
        if os.path.basename(directory).startswith("leakproof-agent-") and not any(
            name.endswith(".sock") for name in os.listdir(directory)
        ):
            import shutil

            shutil.rmtree(directory, ignore_errors=True)
    except OSError:
        pass  # gone already, or not ours to remove


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass  # another user's process: alive
    return True


def _detach():
    """Stops an attached agent: closes and removes its socket, stops tracemalloc if `attach`
    started it (else gives it back its traceback depth), and takes the bootstrap's helper modules
    out of sys.modules. Safe to call twice."""
    server, path = _state["server"], _state["path"]
    started, limit, _, modules = _state.get("attached") or (False, None, 0, ())
    _state.update(server=None, path=None, attached=None)
    if server is not None:
        server.close()
    if path is not None:
        try:
            os.unlink(path)
        except OSError:
            pass
    if started:
        tracemalloc.stop()
    elif limit is not None and tracemalloc.get_traceback_limit() != limit:
        tracemalloc.stop()
        tracemalloc.start(limit)
    for name in modules:
        sys.modules.pop(name, None)
    return {"ok": True, "detached": True, "pid": os.getpid()}


def _main():
    if _DIR and os.path.isdir(_DIR):
        if not tracemalloc.is_tracing():
            tracemalloc.start(_frames())
        _start()
        os.register_at_fork(after_in_child=_after_fork_in_child)
        import atexit

        atexit.register(_remove_socket)


if __name__ == "sitecustomize":  # at startup; an attach loads this file under another name
    try:
        _main()
    except Exception as e:  # noqa: BLE001 - the agent must never stop the target
        sys.stderr.write("leakproof agent not started: %r\n" % (e,))
    _chain_next_sitecustomize()
