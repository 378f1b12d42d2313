"""What keeps the objects of a growing allocation site alive: the shortest path leakproof finds
from a root (a module global, a class attribute, a function's defaults or closure, a logger, a
frame of a live thread) to one of them, spelled the way the user's code spells it.

Shared like ``_sampling``: ``leakproof._holders`` in the package, ``_leakproof_holders`` beside
the runtime agent. Standard library only, Python 3.8+, no relative imports.

The objects of a site are those whose tracemalloc traceback has the site's line: tracemalloc was
restarted when the locate phase began, so every object with a traceback survived that window.
The search looks first at the newest items of large containers (and of every container a root
names: a dict of strings is not tracked by the collector), then at the newest tracked objects,
and walks up ``gc.get_referrers`` to a root only when no root names the holder directly. The
deadline is checked inside every loop; one ``get_referrers`` call (a pass over the heap) may
overrun it. The budget is the searching thread's CPU time (``time.thread_time``), what the search
costs the program: on a loaded machine the wall time stretches, the work done does not, so the
same holders are found (the agent's socket bounds the wall time).
"""

import collections
import gc
import sys
import threading
import _tracemalloc  # type: ignore[import-not-found]
import time
import tracemalloc
import types
import weakref
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

#: The clock of the search's budget: this thread's CPU time.
_clock = time.thread_time

# A container holding at least this many items is looked at first.
_LARGE = 16
# The newest items of a container that are looked at.
_NEWEST = 8
# The newest tracked objects scanned stop after this many in a row older than the locate phase.
_OLD_RUN = 20000
# Levels of referrers walked up from an object before giving up.
_DEPTH = 8
# The items of one holder counted as the site's (a bound on the count's cost).
_COUNT_LIMIT = 200000

# tracemalloc's raw traceback of an object: ((file, line), ...), newest frame first, or None.
_traceback = getattr(_tracemalloc, "_get_object_traceback", lambda obj: None)
_WEAK = (weakref.ref, weakref.ProxyType, weakref.CallableProxyType)
# Values that hold nothing a leak could be in.
_ATOMIC = frozenset(
    (str, int, float, bool, bytes, complex, type(None), property,
     types.BuiltinFunctionType, types.MethodDescriptorType, types.WrapperDescriptorType,
     types.GetSetDescriptorType, types.MemberDescriptorType, staticmethod, classmethod)
)
_CONTAINERS = (list, dict, set, collections.deque, collections.OrderedDict)

# A step down from a root: its text (`.HISTORY`, `[3]`) and the type of what it reaches.
Step = Tuple[str, str]
# A root's description and the steps from it to an object (`module app`, [(`app.X`, `list`)]).
Named = Tuple[str, List[Step]]


class _Search:
    """One search, for all the sites of one request, within one deadline."""

    def __init__(self, deadline: float, skip: Iterable[str]) -> None:
        self.deadline = deadline
        self.skip = set(skip)
        self.ignore: Set[int] = set()  # the search's own containers and leakproof's modules
        self.kept: List[Any] = []  # objects named by `names`, kept alive so their ids hold
        self.names: Dict[int, Named] = {}
        self.frames: Dict[int, str] = {}  # frames of the other live threads
        self.held: List[Any] = []  # the search's own containers, kept so their ids hold
        for own in (self.ignore, self.kept, self.names, self.frames, self.held, self.__dict__):
            self.ignore.add(id(own))
        self.over = False

    def own(self, obj: Any) -> Any:
        """``obj``, one of the search's own containers: never a referrer to follow."""
        self.ignore.add(id(obj))
        self.held.append(obj)
        return obj

    def late(self) -> bool:
        if not self.over and _clock() > self.deadline:
            self.over = True
        return self.over

    # -- the roots ---------------------------------------------------------------------------

    def name(self, obj: Any, parent: Any, fmt: str, key: Any) -> Any:
        """Names ``obj`` as ``parent``'s ``fmt % key`` (a root when ``parent`` is None: ``fmt``
        is its description); the entry, or None when it was named already or cannot hold."""
        if type(obj) in _ATOMIC:
            return None
        i = id(obj)
        if i in self.names or i in self.ignore:
            return None
        entry = self.names[i] = (parent, fmt, key, type(obj).__name__)
        self.kept.append(obj)
        return entry

    def index_roots(self, libraries: bool) -> None:
        """Names what the roots hold, two steps deep: loggers, the user's modules and the live
        threads' frames; or (``libraries``) the other modules."""
        if not libraries:
            self._index_loggers()
        modules = [(n, m) for n, m in list(sys.modules.items()) if isinstance(m, types.ModuleType)]
        modules = [nm for nm in modules if _is_library(nm[1]) == libraries]
        modules.sort(key=lambda nm: nm[0] != "__main__")
        for name, module in modules:
            if self.late():
                return
            if _module_file(module) in self.skip or name.startswith(("leakproof", "_leakproof")):
                self.ignore.update((id(module), id(module.__dict__)))
                continue
            self._index_module(name, module)
        if not libraries:
            self._index_threads()

    def _index_module(self, name: str, module: types.ModuleType) -> None:
        spelled = _spelled(name, module)
        root = self.name(module, None, "module " + spelled, spelled)
        if root is None:
            return
        for key, value in list(vars(module).items()):
            if key[:2] != "__" and type(value) is not types.ModuleType:
                entry = self.name(value, root, ".%s", key)
                if entry is not None:
                    self._index_members(value, entry, name)

    def _index_members(self, value: Any, entry: Any, module: str) -> None:
        """What a module global holds: a class's attributes and its methods' defaults, a
        function's defaults and closure, an instance's attributes."""
        if isinstance(value, type):
            if getattr(value, "__module__", None) != module:
                return
            for key, attr in list(vars(value).items()):
                inner = self.name(attr, entry, ".%s", key) if key[:2] != "__" else None
                if inner is not None and type(attr) is types.FunctionType:
                    self._index_function(attr, inner)
        elif type(value) is types.FunctionType:
            self._index_function(value, entry)
        else:
            attrs = getattr(value, "__dict__", None)
            if type(attrs) is dict:
                for key, attr in list(attrs.items()):
                    self.name(attr, entry, ".%s", key)

    def _index_function(self, f: types.FunctionType, entry: Any) -> None:
        for i, default in enumerate(f.__defaults__ or ()):
            self.name(default, entry, ".__defaults__[%d]", i)
        for key, default in list((f.__kwdefaults__ or {}).items()):
            self.name(default, entry, ".__kwdefaults__[%r]", key)
        for var, cell in zip(f.__code__.co_freevars, f.__closure__ or ()):
            try:
                inner = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            self.name(inner, entry, " closure's %s", var)

    def _index_loggers(self) -> None:
        logging = sys.modules.get("logging")
        if logging is None:
            return
        root = (None, "module logging", "logging", "module")
        loggers = [("", logging.getLogger())]
        loggers += list(logging.Logger.manager.loggerDict.items())
        for key, logger in loggers:
            if isinstance(logger, logging.Logger):
                entry = self.name(logger, root, ".getLogger(%s)", repr(key) if key else "")
                if entry is not None:
                    self.name(logger.handlers, entry, ".handlers", None)
                    self.name(logger.filters, entry, ".filters", None)

    def steps(self, entry: Any) -> Named:
        """An entry's root description and its steps from that root, spelled."""
        chain = []
        while entry[0] is not None:
            chain.append(entry)
            entry = entry[0]
        steps = []
        for parent, fmt, key, typ in reversed(chain):
            text = fmt % (key,) if "%" in fmt else fmt
            if parent[0] is None:
                text = parent[2] + text  # the module's name starts the expression
            steps.append((text, typ))
        return entry[1], steps

    def _index_threads(self) -> None:
        """Names the locals of the other live threads' frames (since 3.11 a running frame is not
        among its locals' referrers)."""
        me = threading.get_ident()
        threads = {t.ident: t.name for t in threading.enumerate()}
        for ident, frame in list(sys._current_frames().items()):
            while frame is not None and ident != me and not self.late():
                where = "%s (%s:%d)" % (frame.f_code.co_name, _base(frame), frame.f_lineno)
                root = (None, "thread %s, frame %s" % (threads.get(ident, ident), where), "", "frame")
                self.frames[id(frame)] = root[1]
                self.kept.append(frame)
                for key, value in list(frame.f_locals.items()):
                    self.name(value, root, "%s", key)
                frame = frame.f_back

    # -- the objects of a site ---------------------------------------------------------------

    def in_containers(self, wanted: Dict[Tuple[str, int], int], objects: List[Any]) -> Dict[int, Any]:
        """The holder of each wanted site found among the newest items of large containers:
        site index -> (container, item, count)."""
        found: Dict[int, Any] = self.own({})
        candidates = self.own([self.kept, objects])
        for group in candidates:
            if len(found) == len(wanted):
                break  # every site's holder is named by a root: the rest of the heap can wait
            for i in range(len(group) - 1, -1, -1):
                if i % 1024 == 0 and self.late():
                    return found
                c = group[i]
                large = 1 if group is self.kept else _LARGE
                if type(c) in _CONTAINERS and len(c) >= large and id(c) not in self.ignore:
                    self._look_into(c, wanted, found)
                elif group is self.kept and type(c) not in _CONTAINERS:
                    for inner in _internal(c):
                        if type(inner) in _CONTAINERS and len(inner) >= _LARGE:
                            self._look_into(inner, wanted, found, via=c)
        return found

    def _look_into(self, c: Any, wanted: Dict[Tuple[str, int], int], found: Dict[int, Any],
                   via: Any = None) -> None:
        for step, item in _newest(c):
            site = _item_site(item, wanted)
            if site is None or (site in found and found[site][2] >= len(c)):
                continue
            count = _count(c, wanted, site, self.deadline)
            if site not in found or count > found[site][2]:
                found[site] = self.own((c, self.own((step, item)), count, via))
            return

    def in_new_objects(self, wanted: Dict[Tuple[str, int], int], objects: List[Any],
                       found: Dict[int, Any]) -> None:
        """Sites not found in containers: the newest tracked objects of each."""
        done = set(found)
        old = 0
        for i in range(len(objects) - 1, -1, -1):
            if i % 1024 == 0 and self.late():
                return
            obj = objects[i]
            if not _traceback(obj):
                old += 1
                if old > _OLD_RUN:
                    return
                continue
            old = 0
            site = _site_of(obj, wanted)
            if site is None or site in done:
                continue
            if site in found:
                found[site] = self.own(found[site][:2] + (found[site][2] + 1, None))
            else:
                found[site] = self.own((None, self.own(("", obj)), 1, None))

    # -- the path to a root ------------------------------------------------------------------

    def path_to(self, obj: Any) -> Optional[Named]:
        """The root and steps to ``obj``: named directly, or through referrers."""
        if id(obj) in self.names:
            return self.steps(self.names[id(obj)])
        below: Dict[int, int] = {}  # referrer -> the object it refers to, one step down
        seen: Dict[int, Any] = {id(obj): obj}
        queue = collections.deque([(id(obj), 0)])
        for own in (below, seen, queue):
            self.own(own)
        while queue and not self.late():
            key, depth = queue.popleft()
            if depth >= _DEPTH:
                continue
            x = seen[key]
            referrers = self.own(gc.get_referrers(x))
            for r in referrers:
                if id(r) in self.ignore or id(r) in seen:
                    continue
                if isinstance(r, types.FrameType) and id(r) not in self.frames:
                    continue  # a frame of the search itself, or of the thread asking
                seen[id(r)] = r
                below[id(r)] = id(x)
                if id(r) in self.names or id(r) in self.frames:
                    return self._spell(r, below, seen)
                queue.append((id(r), depth + 1))
        return None

    def _spell(self, top: Any, below: Dict[int, int], seen: Dict[int, Any]) -> Named:
        if id(top) in self.frames:
            root, steps = self.frames[id(top)], []
        else:
            root, steps = self.steps(self.names[id(top)])
        parent = top
        namespace = False
        while id(parent) in below:
            child = seen[below[id(parent)]]
            text = _step(parent, child, namespace)
            namespace = text is None
            if text is not None:
                steps.append((text, type(child).__name__))
            parent = child
        if not steps:
            steps.append((root.split(" ", 1)[-1], type(top).__name__))
        return root, steps


def holders(sites: List[Dict[str, Any]], budget: float, skip: Iterable[str] = ()) -> Dict[str, Any]:
    """The holders of ``sites`` (``{"site": "app.py:12", "file": path, "line": 12}`` each) as
    the agents' reply: ``{"holders": [...], "missed": why}``; never raises."""
    search = _Search(_clock() + max(0.0, budget), skip)
    try:
        return _holders(search, sites)
    except Exception as e:  # noqa: BLE001 - a failed search is a note, never the target's end
        return {"holders": [], "missed": "the holder search failed: %r" % (e,)}


def _holders(search: _Search, sites: List[Dict[str, Any]]) -> Dict[str, Any]:
    wanted = {(s["file"], int(s["line"])): i for i, s in enumerate(sites)}
    if not wanted or not tracemalloc.is_tracing():
        return {"holders": [], "missed": "tracemalloc is not tracing"}
    search.index_roots(libraries=False)
    objects = search.own(gc.get_objects())
    found = search.in_containers(wanted, objects)
    if len(found) < len(wanted) and not search.late():
        search.index_roots(libraries=True)
        found.update((k, v) for k, v in search.in_containers(wanted, []).items() if k not in found)
    if len(found) < len(wanted):
        search.in_new_objects(wanted, objects, found)
    out = []
    for i, (holder, (step, item), count, via) in sorted(found.items()):
        named = search.path_to(via if via is not None else holder if holder is not None else item)
        if named is None:
            continue
        out.append(_holder(sites[i]["site"], named, holder, via, step, item, count))
    missed = ""
    if not out:
        missed = "no holder of the growing python objects found in %s" % (
            "the time allowed" if search.over else "the roots leakproof follows"
        )
    return {"holders": out, "missed": missed}


def _holder(site: str, named: Named, holder: Any, via: Any, step: str, item: Any, count: int) -> Dict[str, Any]:
    root, steps = named
    steps = list(steps)
    if via is not None:
        steps.append((_internal_step(via), type(holder).__name__))
    if holder is None:
        # Found among the new objects: the object's own referrer holds it.
        steps, last = steps[:-1], steps[-1]
        step = last[0]
        if not steps:  # a root holds it directly: a thread's local variable
            name = "local %s (%s) of %s" % (step, type(item).__name__, root)
            return {"site": site, "object": type(item).__name__, "count": count, "name": name,
                    "path": [root, "%s (%s)" % (step, type(item).__name__)]}
    spelled = "".join(s for s, _ in steps)
    kind = steps[-1][1]
    name = "%s (%s) \u2190 %s" % (spelled, kind, root) if spelled != root.split(" ", 1)[-1] else root
    path = [root] + ["%s (%s)" % s for s in steps] + ["%s (%s)" % (step or "", type(item).__name__)]
    return {"site": site, "object": type(item).__name__, "count": count, "name": name, "path": path}


# -- helpers ---------------------------------------------------------------------------------


def _site_of(obj: Any, wanted: Dict[Tuple[str, int], int]) -> Optional[int]:
    """The wanted site ``obj`` was allocated at, if any. (A weak reference keeps nothing.)"""
    frames = _traceback(obj)
    if not frames or type(obj) in _WEAK:
        return None
    for frame in frames:
        site = wanted.get(frame)
        if site is not None:
            return site
    return None


def _item_site(item: Any, wanted: Dict[Tuple[str, int], int]) -> Optional[int]:
    """The site of an item, or of one of its attributes (CPython 3.11 has no traceback for an
    instance with a managed dict)."""
    site = _site_of(item, wanted)
    if site is None and type(item) not in _ATOMIC:
        attrs = getattr(item, "__dict__", None)
        if type(attrs) is dict:
            for value in _copy(attrs.values())[:_NEWEST]:
                site = _site_of(value, wanted)
                if site is not None:
                    return site
    return site


def _copy(items: Any) -> List[Any]:
    """The items of a container (or a dict's view) copied at once. A running program's other
    threads may change the container while the search looks at it: copying a built-in container
    runs no Python code, so no other thread runs meanwhile; a subclass that does is retried."""
    for _ in range(3):
        try:
            return list(items)
        except RuntimeError:  # changed size during the copy
            continue
    return []


def _newest(c: Any) -> List[Tuple[str, Any]]:
    """The newest items of a container, with the step that reaches each."""
    if isinstance(c, dict):
        pairs = _copy(c.items())[-_NEWEST:]
        pairs.reverse()
        return [("[%s]" % _key(k), v) for k, v in pairs] + [("(a key)", k) for k, _ in pairs]
    items = _copy(c)
    if isinstance(c, (list, collections.deque)):
        n = len(items)
        return [("[%d]" % i, items[i]) for i in range(n - 1, max(-1, n - 1 - _NEWEST), -1)]
    return [("(an item)", item) for item in items[:_NEWEST]]


def _count(c: Any, wanted: Dict[Tuple[str, int], int], site: int, deadline: float) -> int:
    values = _copy(c.values() if isinstance(c, dict) else c)
    count = 0
    for i, item in enumerate(values):
        if i >= _COUNT_LIMIT or (i % 1024 == 0 and _clock() > deadline):
            break
        if _item_site(item, wanted) == site:
            count += 1
    return max(count, 1)


def _internal(obj: Any) -> List[Any]:
    """The containers an object holds that no attribute names (an ``lru_cache``'s dict)."""
    skipped = (type, types.ModuleType, types.FunctionType, types.FrameType)
    if isinstance(obj, skipped) or not gc.is_tracked(obj):
        return []
    attrs = getattr(obj, "__dict__", None)
    try:
        return [r for r in gc.get_referents(obj) if type(r) in _CONTAINERS and r is not attrs]
    except Exception:  # noqa: BLE001
        return []


def _internal_step(via: Any) -> str:
    if type(via).__name__ == "_lru_cache_wrapper":
        return "'s lru_cache"
    return "'s internal %s" % type(via).__name__


def _step(parent: Any, child: Any, namespace: bool) -> Optional[str]:
    """How ``parent`` refers to ``child``: ``.name``, ``[key]``, ``[3]``; None when ``child`` is
    ``parent``'s namespace (the next step then reads as an attribute)."""
    if isinstance(parent, dict):
        for k, v in _copy(parent.items()):
            if v is child:
                return ("." + k) if namespace and isinstance(k, str) else "[%s]" % _key(k)
        return "(a key)"
    if isinstance(parent, (list, tuple, collections.deque)):
        for i, v in enumerate(_copy(parent)):
            if v is child:
                return "[%d]" % i
    if isinstance(parent, (set, frozenset)):
        return "(an item)"
    if isinstance(parent, types.FunctionType):
        if parent.__defaults__ is child:
            return ".__defaults__"
        if parent.__closure__ is child:
            return ".__closure__"
        if parent.__kwdefaults__ is child:
            return ".__kwdefaults__"
    if isinstance(parent, types.CellType if hasattr(types, "CellType") else ()):
        return ".cell_contents"
    if isinstance(parent, types.FrameType):
        for k, v in list(parent.f_locals.items()):
            if v is child:
                return k
        return None if isinstance(child, dict) else "(a local)"
    if isinstance(child, dict) and (getattr(parent, "__dict__", None) is child or isinstance(parent, type)):
        return None
    attrs = getattr(parent, "__dict__", None)
    if isinstance(attrs, dict):
        for k, v in list(attrs.items()):
            if v is child:
                return "." + k
    return "'s internal %s" % type(child).__name__


def _key(k: Any) -> str:
    text = repr(k)
    return text if len(text) <= 40 else text[:37] + "..."


def _spelled(name: str, module: types.ModuleType) -> str:
    """A module as the user's code spells it: ``__main__`` by its file's name."""
    if name == "__main__":
        f = _module_file(module)
        if f:
            return f.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return name


def _module_file(module: types.ModuleType) -> str:
    f = getattr(module, "__file__", None)
    return f if isinstance(f, str) else ""


def _is_library(module: types.ModuleType) -> bool:
    f = _module_file(module)
    return not f or any(f.startswith(p) for p in {sys.base_prefix, sys.prefix, sys.exec_prefix})


def _base(frame: types.FrameType) -> str:
    return frame.f_code.co_filename.rsplit("/", 1)[-1]
