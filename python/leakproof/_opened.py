"""Where the descriptors and threads opened during a locate phase and still open were opened.

Shared like ``_sampling``: ``leakproof._opened`` in the package, ``_leakproof_opened`` beside the
runtime agent. Standard library only, Python 3.8+, no relative imports.

``start()`` notes the descriptors and threads that exist, and wraps the ``os`` functions that
return raw descriptors (``os.open``, ``os.pipe``, ``os.dup``...) so that each records the stack
that called it; ``stop()`` puts them back, so nothing is paid outside a locate phase. A file or a
socket object is known by its own tracemalloc traceback (tracemalloc restarts when locating
starts), a thread by that of its ``Thread`` object. Sites are the agents' wire format:
``[[[file, line, function], ...], 1, 1]``, frames innermost first, one block per descriptor.
"""

import io
import os
import socket
import sys
import threading
import tracemalloc
from typing import Any, Callable, Dict, List, Optional, Set, Union

Frames = List[List[Union[str, int]]]

# os functions returning a new descriptor (or a tuple of them), where this Python has them.
_RAW = ("open", "pipe", "pipe2", "dup", "dup2", "openpty", "eventfd", "memfd_create", "pidfd_open")
# Frames kept of a raw descriptor's stack.
_DEPTH = 32

_state: Dict[str, Any] = {
    "on": False, "fds": set(), "threads": set(), "raw": {}, "started": {}, "saved": {}
}


def start() -> None:
    """Notes what is open now and starts recording the stacks of raw descriptors."""
    if _state["on"]:
        return
    _state["fds"] = _open_fds()
    _state["threads"] = {t.ident for t in threading.enumerate()}
    _state["raw"], _state["started"] = {}, {}
    _state["start"] = threading.Thread.start
    threading.Thread.start = _recording_start  # type: ignore[method-assign]
    for name in _RAW:
        original = getattr(os, name, None)
        if original is not None and name not in _state["saved"]:
            _state["saved"][name] = original
            setattr(os, name, _recording(original))
    _state["on"] = True


def stop() -> None:
    """Puts the ``os`` functions back and forgets the stacks."""
    _state["on"] = False
    if "start" in _state:
        threading.Thread.start = _state.pop("start")  # type: ignore[method-assign]
    for name, original in _state["saved"].items():
        setattr(os, name, original)
    _state["saved"] = {}
    _state["raw"] = {}


def _recording(original: Callable[..., Any]) -> Callable[..., Any]:
    def recording(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if _state["on"]:
            stack = _stack(sys._getframe(1))
            for fd in result if isinstance(result, tuple) else (result,):
                if isinstance(fd, int):
                    _state["raw"][fd] = stack
        return result

    recording.__name__ = getattr(original, "__name__", "recording")
    recording.__doc__ = getattr(original, "__doc__", None)
    return recording


def _recording_start(thread: threading.Thread) -> None:
    _state["start"](thread)
    if _state["on"]:
        _state["started"][thread.ident] = _stack(sys._getframe(1))


def fd_sites(function: Callable[[str, int], str]) -> List[List[Any]]:
    """The descriptors opened since ``start()`` and still open, one site each, by the stack that
    opened them (known ones only). ``function(file, line)`` names a traceback's functions."""
    new = _open_fds() - _state["fds"]
    found: Dict[int, Frames] = {}
    for obj in _io_objects():
        try:
            fd = obj.fileno()
        except (OSError, ValueError):
            continue
        if fd in new and fd not in found:
            frames = _object_frames(obj, function)
            if frames:
                found[fd] = frames
    for fd, stack in list(_state["raw"].items()):
        if fd in new and fd not in found:
            found[fd] = stack
    return [[frames, 1, 1] for _, frames in sorted(found.items())]


def thread_sites(function: Callable[[str, int], str]) -> List[List[Any]]:
    """The threads started since ``start()`` and still alive, one site each, by the traceback of
    their ``Thread`` object."""
    sites = []
    for thread in threading.enumerate():
        if thread.ident in _state["threads"] or thread.name == "leakproof-agent":
            continue
        frames = _state["started"].get(thread.ident) or _object_frames(thread, function)
        if frames:
            sites.append([frames, 1, 1])
    return sites


def _io_objects() -> List[Any]:
    import gc

    kinds = (io.FileIO, socket.socket)
    return [o for o in gc.get_objects() if isinstance(o, kinds) and not _closed(o)]


def _closed(obj: Any) -> bool:
    try:
        return bool(getattr(obj, "closed", False)) or getattr(obj, "_closed", False) is True
    except Exception:  # noqa: BLE001
        return True


def _object_frames(obj: Any, function: Callable[[str, int], str]) -> Optional[Frames]:
    tb = tracemalloc.get_object_traceback(obj)
    if tb is None:
        return None
    # Oldest frame first since Python 3.7: reverse to innermost first.
    return [[f.filename, f.lineno, function(f.filename, f.lineno)] for f in reversed(tb)]


def _stack(frame: Any) -> Frames:
    frames: Frames = []
    while frame is not None and len(frames) < _DEPTH:
        code = frame.f_code
        frames.append([code.co_filename, frame.f_lineno, getattr(code, "co_qualname", code.co_name)])
        frame = frame.f_back
    return frames


def _open_fds() -> Set[int]:
    for where in ("/proc/self/fd", "/dev/fd"):
        try:
            listed = {int(n) for n in os.listdir(where)}
        except (OSError, ValueError):
            continue
        return {fd for fd in listed if _is_open(fd)}  # not the listing's own descriptor
    return set()


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False
