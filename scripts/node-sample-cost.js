#!/usr/bin/env node
'use strict';
// What a node agent's sample costs the target's main thread (docs/performance.md): a full GC,
// then V8's code statistics (the compiled code the sample leaves out of js-heap), on a heap
// holding a ballast of MIB MiB of small objects:
//
//     node scripts/node-sample-cost.js 0 && node scripts/node-sample-cost.js 100
//
// It prints the median of 5 of each, in milliseconds, side by side.
const v8 = require('v8');
const vm = require('vm');

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

const mib = Number(process.argv[2] || 0);
const ballast = [];
for (let i = 0; i < (mib * 1024 * 1024) / 64; i += 1) {
  ballast.push({ n: i, s: `x${i}` });
}

function ms(fn) {
  const started = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function median(values) {
  return values.sort((a, b) => a - b)[values.length >> 1];
}

const collections = [];
const statistics = [];
for (let k = 0; k < 5; k += 1) {
  collections.push(ms(gc));
  statistics.push(ms(() => v8.getHeapCodeStatistics()));
}
const heap = process.memoryUsage().heapUsed / 1048576;
console.log(
  `| ${heap.toFixed(0)} MiB (${ballast.length} objects) | ${median(collections).toFixed(1)} ms | ` +
    `${median(statistics).toFixed(1)} ms |`,
);
