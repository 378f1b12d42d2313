#!/usr/bin/env node
'use strict';
// A small HTTP service whose heap is bounded, or grows by one rendered page per request (--leak).
//
// node's standard library only. Used by leakproof's runtime-agent tests and benchmarks:
//
//     node examples/node_service.js --port 8080          # keeps the last 32 pages: Stable
//     node examples/node_service.js --port 8080 --leak   # keeps every page: the heap grows
//     node examples/node_service.js --port 0 --workers 2 # cluster workers on one port
//
// It prints `listening on PORT` once it accepts connections (port 0 picks a free port).

const cluster = require('cluster');
const http = require('http');

const args = process.argv.slice(2);
const leak = args.includes('--leak');
const option = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const port = option('--port', 8080);
const workers = option('--workers', 1);

const history = [];

// Keeps a rendered page per request: every page with --leak, the last 32 otherwise.
function remember(n) {
  history.push(`<li>request ${String(n).padStart(6, '0')}</li>\n`.repeat(40)); // the growing line with --leak
  if (!leak && history.length > 32) {
    history.shift();
  }
}

// `--leak-fds` keeps a descriptor of this file open per request (one never closed): the heap stays
// bounded, the process's descriptors grow.
const fs = require('fs');
const leakFds = args.includes('--leak-fds');
const kept = [];
function keepDescriptor() {
  kept.push(fs.openSync(__filename, 'r')); // the opening line with --leak-fds
}

function serve() {
  let count = 0;
  const server = http.createServer((req, res) => {
    count += 1;
    remember(count);
    if (leakFds) {
      keepDescriptor();
    }
    res.setHeader('Content-Length', '3');
    res.end('ok\n');
  });
  server.listen(port, '127.0.0.1', () => {
    if (cluster.isPrimary || workers <= 1) {
      console.log(`listening on ${server.address().port}`);
    } else if (process.send) {
      process.send({ port: server.address().port });
    }
  });
}

if (workers > 1 && cluster.isPrimary) {
  // Port 0 in cluster mode: the primary shares one port, chosen by the first worker.
  let announced = false;
  for (let i = 0; i < workers; i += 1) {
    cluster.fork().on('message', (msg) => {
      if (!announced && msg && msg.port) {
        announced = true;
        console.log(`listening on ${msg.port}`);
      }
    });
  }
} else {
  serve();
}
