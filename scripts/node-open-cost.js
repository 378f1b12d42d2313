#!/usr/bin/env node
'use strict';
// The node agent's cost per traced `fs.openSync` + `fs.closeSync` (docs/performance.md): run as
//
//     d=$(mktemp -d) && LEAKPROOF_AGENT_DIR=$d node --require ./crates/agents/src/runtime/agent.js \
//         scripts/node-open-cost.js; rm -rf "$d"
//
// It times 20,000 opens of this file before, during and after the agent's `trace_opens`.
const fs = require('fs');
const net = require('net');
const path = require('path');

function ask(request) {
  const socket = path.join(process.env.LEAKPROOF_AGENT_DIR, `${process.pid}.sock`);
  return new Promise((done) => {
    const conn = net.connect(socket);
    conn.end(JSON.stringify(request) + '\n');
    conn.on('data', () => done());
  });
}

// Microseconds per open and close.
function run() {
  const n = 20000;
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i += 1) {
    fs.closeSync(fs.openSync(__filename, 'r'));
  }
  return Number(process.hrtime.bigint() - started) / 1e3 / n;
}

(async () => {
  run(); // warm-up
  const before = run();
  await ask({ cmd: 'trace_opens', on: true });
  const traced = run();
  await ask({ cmd: 'trace_opens', on: false });
  const after = run();
  const us = (x) => `${x.toFixed(2)} µs`;
  console.log(`untraced ${us(before)}, traced ${us(traced)}, after ${us(after)} per openSync+closeSync`);
})();
