"""leakproof's Python agent, loaded as `sitecustomize` through PYTHONPATH.

It starts tracemalloc and answers one-line JSON requests on a Unix socket named after the process
id in $LEAKPROOF_AGENT_DIR (never a TCP port), on a daemon thread. A forked child serves its own
socket. Afterwards the next `sitecustomize` on sys.path, if any, is loaded as if we were not here.
Standard library only; Python 3.8+.
"""

import gc
import json
import os
import socket
import sys
import threading
import tracemalloc

_DIR = os.environ.get("LEAKPROOF_AGENT_DIR", "")
_FRAMES_VAR = "LEAKPROOF_PY_FRAMES"
_DEFAULT_FRAMES = 1
_state = {"server": None, "path": None}
# CPython's type attribute cache (4096 slots) keeps a reference to the name string of each lookup
# it caches. A name built per request (`'do_' + self.command` in http.server) lands in a new slot
# now and then, so the heap creeps for thousands of requests and then stops: a bounded cache that
# looks like a leak for a long time. Emptying it before each reading removes that creep.
# (_clear_internal_caches replaces _clear_type_cache from Python 3.13.)
_clear_caches = getattr(sys, "_clear_internal_caches", None) or getattr(
    sys, "_clear_type_cache", lambda: None
)


def _frames():
    try:
        return max(1, int(os.environ.get(_FRAMES_VAR, _DEFAULT_FRAMES)))
    except ValueError:
        return _DEFAULT_FRAMES


def _set_frames(n):
    """Traces `n` frames from now on. A different depth restarts tracemalloc: traces so far are lost."""
    n = max(1, int(n))
    restarted = tracemalloc.get_traceback_limit() != n
    if restarted:
        tracemalloc.stop()
        tracemalloc.start(n)
    return {"ok": True, "restarted": restarted, "pid": os.getpid()}


def _sample():
    # Traced blocks only: tracemalloc's own tables (get_tracemalloc_memory) are allocated outside
    # the traced allocator, so they are not in get_traced_memory and nothing is subtracted.
    # len(gc.get_objects()) walks the collector's lists like gc.collect() does: same order of cost.
    gc.collect()
    _clear_caches()
    current = tracemalloc.get_traced_memory()[0]
    objects = len(gc.get_objects())
    return {"ok": True, "bytes": current, "detail": objects, "pid": os.getpid()}


def _snapshot():
    gc.collect()
    _clear_caches()
    # The agent's own allocations: anything with this file on its stack, or made by tracemalloc.
    # (Snapshot.filter_traces with all_frames=True does the same, a hundred times slower.)
    own = {__file__, tracemalloc.__file__}
    sites = []
    spans = {}
    for stat in tracemalloc.take_snapshot().statistics("traceback"):
        # Oldest frame first since Python 3.7: reverse to innermost first.
        tb = list(stat.traceback)
        if any(f.filename in own for f in tb):
            continue
        frames = [[f.filename, f.lineno, _function(f.filename, f.lineno, spans)] for f in reversed(tb)]
        sites.append([frames, stat.size, stat.count])
    return {"ok": True, "sites": sites, "pid": os.getpid()}


def _function(filename, line, cache):
    """The qualified name of the function around `line`: tracemalloc records no names."""
    key = (filename, line)
    name = cache.get(key)
    if name is None:
        lines = cache.get(filename)
        if lines is None:
            lines = cache[filename] = _read_lines(filename)
        name = cache[key] = _enclosing(lines, line)
    return name


def _read_lines(filename):
    try:
        with open(filename, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []


def _enclosing(lines, line):
    """Walks up from `line` through ever less indented lines, keeping `def` and `class` names.
    (ast would be exact but parses every file of the snapshot: tens of seconds.)"""
    if not 0 < line <= len(lines):
        return "<module>"
    text = lines[line - 1]
    limit = len(text) - len(text.lstrip())
    names = []
    for i in range(line - 2, -1, -1):
        if limit == 0:
            break
        text = lines[i]
        stripped = text.lstrip()
        indent = len(text) - len(stripped)
        if not stripped or stripped.startswith("#") or indent >= limit:
            continue
        limit = indent
        if stripped.startswith(("def ", "async def ", "class ")):
            names.append(stripped.split("(")[0].split(":")[0].split()[-1])
    return ".".join(reversed(names)) or "<module>"


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
    if cmd == "hello":
        return {"ok": True, "agent": "python", "pid": os.getpid()}
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
        try:
            reply = _answer(data.split(b"\n", 1)[0].decode("utf-8", "replace"))
        except Exception as e:  # noqa: BLE001 - any failure is reported, never kills the thread
            reply = {"ok": False, "error": repr(e)}
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


def _main():
    if _DIR and os.path.isdir(_DIR):
        if not tracemalloc.is_tracing():
            tracemalloc.start(_frames())
        _start()
        os.register_at_fork(after_in_child=_after_fork_in_child)
        import atexit

        atexit.register(_remove_socket)


try:
    _main()
except Exception as e:  # noqa: BLE001 - the agent must never stop the target
    sys.stderr.write("leakproof agent not started: %r\n" % (e,))
_chain_next_sitecustomize()
