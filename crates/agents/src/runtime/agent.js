'use strict';
// leakproof's node agent, loaded with NODE_OPTIONS=--require.
//
// It starts V8's sampling heap profiler through an in-process inspector session and answers one-line
// JSON requests on a Unix socket named after the process id in $LEAKPROOF_AGENT_DIR (never a TCP
// port). The server is unref'd: it never keeps the target alive. Cluster workers and forked node
// children load it too (NODE_OPTIONS is inherited), each with its own socket. `attach` serves a
// process that is already running instead (`leakproof watch --pid`, evaluated through the inspector).
const MARK = Symbol.for('leakproof.agent');
(function leakproofAgent() {
  const dir = process.env.LEAKPROOF_AGENT_DIR;
  if (!dir || process[MARK] || !require('worker_threads').isMainThread) {
    return;
  }
  try {
    start(dir);
  } catch (e) {
    // The agent must never stop the target: leakproof sees no socket and falls back to RSS.
    process.stderr.write(`leakproof agent not started: ${e}\n`);
  }
})();

// Removes leakproof's directory `dir` after leakproof died without removing it (killed), once no
// other process's agent socket is left in it: the last agent to detach removes it.
function removeOrphaned(fs, dir) {
  try {
    const path = require('path');
    if (path.basename(dir).startsWith('leakproof-agent-')
        && !fs.readdirSync(dir).some((name) => name.endsWith('.sock'))) {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } catch (e) {
    // Gone already, or not ours to remove: nothing is left to do.
  }
}

// Serves `dir` in a running process (leakproof evaluates this file through the inspector and calls
// it): 'ok', or 'busy' when an agent runs already. It stops serving (see `stop` in `start`) on a
// `detach` request, or by itself once `dir` is gone or the process `watcher` (leakproof) has exited;
// then nothing of it is left in the process.
function attach(dir, watcher) {
  if (process[MARK]) {
    return 'busy';
  }
  const fs = require('fs');
  const stop = start(dir);
  process[MARK] = 'attached';
  const alive = () => {
    try {
      process.kill(watcher, 0);
      return true;
    } catch (e) {
      return e.code === 'EPERM';
    }
  };
  const timer = setInterval(() => {
    if (!fs.existsSync(dir) || !alive()) {
      stop();
      removeOrphaned(fs, dir);
    }
  }, 1000);
  timer.unref();
  stop.also(() => clearInterval(timer));
  return 'ok';
}
if (typeof module === 'object' && module !== null) {
  module.exports = { attach };
}

function start(dir) {
  const fs = require('fs');
  const net = require('net');
  const os = require('os');
  const path = require('path');
  const url = require('url');
  const v8 = require('v8');
  const vm = require('vm');
  const inspector = require('inspector');

  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const interval = Number(process.env.LEAKPROOF_NODE_SAMPLING_INTERVAL) || 8192;
  const session = new inspector.Session();
  session.connect();
  session.post('HeapProfiler.startSampling', { samplingInterval: interval });
  const ownUrls = new Set([__filename, url.pathToFileURL(__filename).href]);
  const opens = openTracer(__filename);

  // The heap after a full GC, less the code V8 compiled from the program: its compilers go on
  // growing that for minutes under a new load (tiering up, optimizing), bounded by the program.
  function sample() {
    gc();
    const m = process.memoryUsage();
    const c = v8.getHeapCodeStatistics();
    const code = c.code_and_metadata_size + c.bytecode_and_metadata_size;
    return {
      ok: true,
      bytes: m.heapUsed + m.external - code,
      detail: m.external,
      heap_used: m.heapUsed,
      compiled_code: code,
      external: m.external,
      array_buffers: m.arrayBuffers,
      pid: process.pid,
    };
  }

  // `fn()`, with the main thread's pause for it as `spent` (see the connection handler).
  function timed(fn) {
    const started = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const reply = fn();
    const used = process.cpuUsage(cpu);
    const wall = Number(process.hrtime.bigint() - started) / 1e9;
    reply.spent = Math.min(wall, (used.user + used.system) / 1e6);
    return reply;
  }

  // V8's sampling profiler records functions, not lines: the line is where the function starts.
  function frameOf(callFrame) {
    // Builtins and V8's pseudo-frames ("(program)", "(V8 API)") have no url.
    let file = callFrame.url || '<native>';
    if (file.startsWith('file://')) {
      file = url.fileURLToPath(file);
    }
    return [file, callFrame.lineNumber + 1, callFrame.functionName || '(anonymous)'];
  }

  // Sites of a sampling profile: one per node with live bytes, frames innermost first. Subtrees
  // called from this file (the agent and its inspector session) are left out.
  function sitesOf(profile) {
    const counts = new Map();
    for (const s of profile.samples) {
      counts.set(s.nodeId, (counts.get(s.nodeId) || 0) + 1);
    }
    const sites = [];
    const todo = profile.head.children.map((node) => [node, []]);
    while (todo.length > 0) {
      const [node, outer] = todo.pop();
      if (ownUrls.has(node.callFrame.url)) {
        continue;
      }
      const stack = [frameOf(node.callFrame)].concat(outer);
      if (node.selfSize > 0) {
        sites.push([stack, node.selfSize, counts.get(node.id) || 0]);
      }
      for (const child of node.children) {
        todo.push([child, stack]);
      }
    }
    return sites;
  }

  function snapshot(done) {
    gc();
    session.post('HeapProfiler.getSamplingProfile', (err, res) => {
      if (err) {
        done({ ok: false, error: String(err) });
      } else {
        done({ ok: true, sites: sitesOf(res.profile), pid: process.pid });
      }
    });
  }

  // A heap snapshot of this process, written by V8 straight to `<pid>-<name>.heapsnapshot` in the
  // agent's private directory after a full GC; leakproof reads it and deletes it. The target's
  // event loop waits while it is written.
  // V8 builds the whole snapshot in memory first: up to about SNAPSHOT_FACTOR times the heap for a
  // heap of small objects (docs/performance.md; the variable is for tests). It is not taken when that would use more than
  // half of the memory available, so that the target is never the one to run out.
  const SNAPSHOT_FACTOR = Number(process.env.LEAKPROOF_NODE_SNAPSHOT_FACTOR) || 24;
  function heapSnapshot(name, done) {
    if (!/^[a-z]+$/.test(String(name))) {
      done({ ok: false, error: 'bad snapshot name' });
      return;
    }
    gc();
    const mib = (n) => Math.round(n / 1048576);
    const need = process.memoryUsage().heapUsed * SNAPSHOT_FACTOR;
    const limit = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() : 0;
    const available = limit > 0 ? Math.min(limit - process.memoryUsage().rss, os.freemem()) : os.freemem();
    if (need > available / 2) {
      done({
        ok: false,
        error: `heap snapshot not taken: it may need ${mib(need)} MiB and ${mib(available)} MiB are available`,
      });
      return;
    }
    const file = path.join(dir, `${process.pid}-${name}.heapsnapshot`);
    const started = process.hrtime.bigint();
    v8.writeHeapSnapshot(file);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    const bytes = fs.statSync(file).size;
    done({ ok: true, path: file, bytes, ms, script: __filename, pid: process.pid });
  }

  function answer(line, done) {
    let request;
    try {
      request = JSON.parse(line) || {};
    } catch (e) {
      request = {};
    }
    const cmd = request.cmd;
    try {
      if (cmd === 'sample' && process[MARK] === 'attached') {
        // A service sampled while it serves: let the sockets that finished meanwhile close first
        // (check, then close callbacks), so that their buffers are garbage by the full GC.
        setImmediate(() => setImmediate(() => done(timed(sample))));
      } else if (cmd === 'sample') {
        done(sample());
      } else if (cmd === 'snapshot' && process[MARK] === 'attached') {
        setImmediate(() => setImmediate(() => snapshot(done))); // as for a sample, above
      } else if (cmd === 'snapshot') {
        snapshot(done);
      } else if (cmd === 'heap_snapshot') {
        heapSnapshot(request.name, done);
      } else if (cmd === 'trace_opens') {
        (request.on ? opens.start : opens.stop)();
        done({ ok: true, pid: process.pid });
      } else if (cmd === 'open_sites') {
        done({ ok: true, sites: opens.sites(request.kind), pid: process.pid });
      } else if (cmd === 'frames') {
        done({ ok: true, restarted: false, pid: process.pid }); // V8 keeps whole stacks anyway
      } else if (cmd === 'hello') {
        done({ ok: true, agent: 'node', pid: process.pid });
      } else if (cmd === 'detach') {
        stop();
        done({ ok: true, detached: true, pid: process.pid });
      } else {
        done({ ok: false, error: 'unknown request' });
      }
    } catch (e) {
      done({ ok: false, error: String(e) });
    }
  }

  const socketPath = path.join(dir, process.pid + '.sock');
  const server = net.createServer((conn) => {
    conn.unref();
    conn.setEncoding('utf8');
    conn.on('error', () => {});
    let buf = '';
    conn.on('data', (chunk) => {
      buf += chunk;
      const i = buf.indexOf('\n');
      if (i >= 0) {
        const line = buf.slice(0, i);
        buf = '';
        const started = process.hrtime.bigint();
        const cpu = process.cpuUsage();
        answer(line, (reply) => {
          // The main thread's pause for the request: its wall time, or the process's CPU time when
          // less (the machine was busy elsewhere meanwhile); a deferred answer timed itself.
          const used = process.cpuUsage(cpu);
          const wall = Number(process.hrtime.bigint() - started) / 1e9;
          if (reply.spent === undefined) {
            reply.spent = Math.min(wall, (used.user + used.system) / 1e6);
          }
          conn.end(JSON.stringify(reply) + '\n');
        });
      }
    });
  });
  server.on('error', () => {});
  try {
    fs.unlinkSync(socketPath);
  } catch (e) {
    // not there: the usual case
  }
  server.listen(socketPath);
  server.unref();
  const removeSocket = () => {
    try {
      fs.unlinkSync(socketPath);
    } catch (e) {
      // already gone
    }
  };
  process.on('exit', removeSocket);
  process[MARK] = true;
  // Stops serving and profiling and forgets every hook: the process is as it was before `start`.
  const hooks = [];
  function stop() {
    if (!process[MARK]) {
      return;
    }
    delete process[MARK];
    session.post('HeapProfiler.stopSampling', () => session.disconnect());
    opens.stop();
    server.close();
    removeSocket();
    process.removeListener('exit', removeSocket);
    hooks.forEach((hook) => hook());
  }
  stop.also = (hook) => hooks.push(hook);
  return stop;
}

// Where descriptors, sockets and Worker threads opened while tracing were opened (the locate phase,
// `trace_opens`): `fs.open`, `fs.openSync` and `fs.promises.open` are wrapped, and an async hook sees
// each socket, server, pipe and Worker created. Both are in place only while tracing, the originals
// put back after: nothing is paid otherwise. `sites(kind)` answers `open_sites`: one block of size 1
// per descriptor or thread still open, by the JS stack that opened it, innermost first.
function openTracer(ownFile) {
  const fs = require('fs');
  const asyncHooks = require('async_hooks');
  const url = require('url');
  const HANDLES = new Set(['TCPWRAP', 'TCPSERVERWRAP', 'PIPEWRAP', 'PIPESERVERWRAP', 'UDPWRAP', 'TTYWRAP']);
  const DEPTH = 32;
  let files = new Map(); // fd -> { stack, target: what /proc/self/fd/<fd> named at open }
  let handles = new Map(); // asyncId -> { handle: WeakRef, stack } (a socket or a server)
  let workers = new Map(); // asyncId -> stack, until the Worker is destroyed
  let saved = null;

  // The JS stack here, as [file, line, function] innermost first, the agent's own frames left out.
  function stackHere() {
    const prepare = Error.prepareStackTrace;
    const limit = Error.stackTraceLimit;
    Error.prepareStackTrace = (e, callSites) => callSites;
    Error.stackTraceLimit = DEPTH + 8;
    const holder = {};
    Error.captureStackTrace(holder, stackHere);
    const callSites = holder.stack;
    Error.prepareStackTrace = prepare;
    Error.stackTraceLimit = limit;
    const frames = [];
    for (const s of Array.isArray(callSites) ? callSites : []) {
      let file = s.getFileName() || '<native>';
      if (file === ownFile || file === 'node:internal/async_hooks') {
        continue; // the agent, and node calling its hook
      }
      if (file.startsWith('file://')) {
        file = url.fileURLToPath(file);
      }
      frames.push([file, s.getLineNumber() || 0, s.getFunctionName() || '(anonymous)']);
    }
    return frames.slice(0, DEPTH);
  }

  function target(fd) {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch (e) {
      return null;
    }
  }

  function noteFile(fd, stack) {
    if (saved && Number.isInteger(fd) && stack.length > 0) {
      files.set(fd, { stack, target: target(fd) });
    }
  }

  const hook = asyncHooks.createHook({
    init(asyncId, type, triggerAsyncId, resource) {
      if (type === 'WORKER') {
        workers.set(asyncId, stackHere());
      } else if (HANDLES.has(type)) {
        // An accepted connection is created by node's C++ with no JS on the stack: it was opened
        // where its server was.
        let stack = stackHere();
        const server = handles.get(triggerAsyncId);
        if (stack.length === 0 && server) {
          stack = server.stack;
        }
        if (stack.length > 0) {
          handles.set(asyncId, { handle: new WeakRef(resource), stack });
        }
      }
    },
    destroy(asyncId) {
      handles.delete(asyncId);
      workers.delete(asyncId);
    },
  });

  function start() {
    if (saved) {
      return;
    }
    files = new Map();
    handles = new Map();
    workers = new Map();
    saved = { open: fs.open, openSync: fs.openSync, promisesOpen: fs.promises.open };
    const { open, openSync, promisesOpen } = saved;
    fs.open = function open_(...args) {
      const stack = stackHere();
      const i = args.findIndex((a) => typeof a === 'function');
      if (i >= 0) {
        const done = args[i];
        args[i] = function opened(err, fd) {
          if (!err) {
            noteFile(fd, stack);
          }
          return done.apply(this, arguments);
        };
      }
      return open.apply(this, args);
    };
    fs.openSync = function openSync_(...args) {
      const stack = stackHere();
      const fd = openSync.apply(this, args);
      noteFile(fd, stack);
      return fd;
    };
    fs.promises.open = function promisesOpen_(...args) {
      const stack = stackHere();
      return promisesOpen.apply(this, args).then((file) => {
        noteFile(file.fd, stack);
        return file;
      });
    };
    hook.enable();
  }

  // Puts the originals back; what was recorded stays for `sites` until the next `start`.
  function stop() {
    if (!saved) {
      return;
    }
    hook.disable();
    fs.open = saved.open;
    fs.openSync = saved.openSync;
    fs.promises.open = saved.promisesOpen;
    saved = null;
  }

  // Files still open (the same descriptor naming the same file) and handles that still have one.
  function fdSites() {
    const sites = [];
    for (const [fd, { stack, target: was }] of files) {
      const now = target(fd);
      if (now !== null && now === was) {
        sites.push([stack, 1, 1]);
      }
    }
    for (const { handle, stack } of handles.values()) {
      const h = handle.deref();
      const fd = h ? h.fd : -1;
      if (Number.isInteger(fd) && fd >= 0 && !files.has(fd) && target(fd) !== null) {
        sites.push([stack, 1, 1]);
      }
    }
    return sites;
  }

  function sites(kind) {
    if (kind === 'threads') {
      return Array.from(workers.values(), (stack) => [stack, 1, 1]).filter((s) => s[0].length > 0);
    }
    return fdSites();
  }

  return { start, stop, sites };
}
