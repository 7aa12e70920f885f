// Inference of an exported Pangu model in onnxruntime-node (CPU): the median
// of REPEAT runs in one session (default 1).
//
//   node tests/onnx_run.mjs DIR THREADS [MODULES_DIR [REPEAT]]
//
// DIR holds what tests/onnx_export.py wrote: model.onnx (plus its external
// data files, if any), io.json (input and output names, shapes and raw
// float32 files) and the input .bin files.  THREADS is onnxruntime's
// intra-op thread count (the calling thread included).  onnxruntime-node is
// resolved from MODULES_DIR/node_modules (default: the current directory's).
//
// Writes each output as raw float32 (native byte order, C order) to the file
// io.json names for it in DIR and prints one line:
//   onnxruntime 1.30.0: session 3.2 s, step 8.4 s, peak RSS 5012 MB, CPU 195%
// session: InferenceSession.create (graph load and optimisation); step: the
// median session.run, inputs already in memory; peak RSS: VmHWM of this process
// over everything (session creation included); CPU: (user + system) time of
// the process over the step / its wall time.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const [dir, threadsArg, modulesDir] = process.argv.slice(2);
if (!dir || !threadsArg) {
  console.error('usage: node onnx_run.mjs DIR THREADS [MODULES_DIR]');
  process.exit(2);
}
const threads = parseInt(threadsArg, 10);
const require = createRequire(path.resolve(modulesDir || process.cwd(), 'noop.js'));
let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  console.error(`onnx_run: cannot load onnxruntime-node: ${e.message}`);
  process.exit(3);
}
let version = ort.env?.versions?.node || ort.env?.versions?.common;
if (!version) {
  try {
    version = require('onnxruntime-node/package.json').version;
  } catch { version = '?'; }
}

const io = JSON.parse(fs.readFileSync(path.join(dir, 'io.json'), 'utf8'));

function readF32(file, shape) {
  const buf = fs.readFileSync(file);
  const n = shape.reduce((a, b) => a * b, 1);
  if (buf.length !== 4 * n) throw new Error(`${file}: ${buf.length} bytes, expected ${4 * n}`);
  // a Float32Array view needs 4-byte alignment; copy when the Buffer is not aligned
  if (buf.byteOffset % 4 === 0) return new Float32Array(buf.buffer, buf.byteOffset, n);
  const a = new Float32Array(n);
  new Uint8Array(a.buffer).set(buf);
  return a;
}

function vmHWM() {
  const m = fs.readFileSync('/proc/self/status', 'utf8').match(/^VmHWM:\s+(\d+)\s+kB/m);
  return m ? Math.round(parseInt(m[1], 10) / 1024) : NaN;
}

const feeds = {};
for (const t of io.inputs) feeds[t.name] = new ort.Tensor('float32', readF32(path.join(dir, t.file), t.shape), t.shape);

const opts = {
  executionProviders: ['cpu'],
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};
const t0 = process.hrtime.bigint();
const session = await ort.InferenceSession.create(path.join(dir, io.model || 'model.onnx'), opts);
const t1 = process.hrtime.bigint();
// the median of up to REPEAT runs (one only when the first takes a minute or more)
const repeat = Math.max(1, parseInt(process.argv[5] || '1', 10) || 1);
const c0 = process.cpuUsage();
const t2 = process.hrtime.bigint();
const times = [];
let results;
for (;;) {
  const ts = process.hrtime.bigint();
  results = await session.run(feeds);
  times.push(Number(process.hrtime.bigint() - ts) / 1e9);
  if (times.length >= repeat || times[0] >= 60) break;
}
const t3 = process.hrtime.bigint();
const c1 = process.cpuUsage(c0);
const rss = vmHWM();

for (const t of io.outputs) {
  const r = results[t.name];
  if (!r) throw new Error(`no output ${t.name}`);
  const want = t.shape.reduce((a, b) => a * b, 1);
  if (r.data.length !== want) throw new Error(`${t.name}: ${r.data.length} values, expected ${want}`);
  fs.writeFileSync(path.join(dir, t.file), new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength));
}
const sess = Number(t1 - t0) / 1e9;
const cpu = (c1.user + c1.system) / 1e6 / (Number(t3 - t2) / 1e9);
times.sort((a, b) => a - b);
const n = times.length;
const step = n % 2 ? times[(n - 1) / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
const spread = n > 1 ? ` (median of ${n}: ${times[0].toFixed(2)} to ${times[n - 1].toFixed(2)} s)` : ' (one run)';
console.log(`onnxruntime ${version}: session ${sess.toFixed(2)} s, step ${step.toFixed(2)} s, ` +
  `peak RSS ${rss} MB, ${threads} threads, CPU ${Math.round(100 * cpu)}%${spread}`);
