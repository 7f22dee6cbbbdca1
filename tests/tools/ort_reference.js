#!/usr/bin/env node
// ort_reference.js: runs an ONNX model with ONNX Runtime itself (onnxruntime-node) on an
// input tensor read from a raw float32 file, as the reference the C path is compared with
// (tests/ml/test_ort_equality.c) and timed against (bench/ml).
//
//   node ort_reference.js --model M.onnx --input NAME --shape 1,3,224,224 --data in.f32
//        --outputs out1,out2 [--out PREFIX] [--threads N] [--bench ITERATIONS]
//
// Without --bench: writes PREFIX.<output>.f32 (raw float32, little-endian) for each output.
// With --bench: runs warm-up + ITERATIONS timed runs and prints JSON timings (ms) on stdout.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const args = {};
  for (let i = 2; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) throw new Error(`bad argument ${argv[i]}`);
    args[argv[i].slice(2)] = argv[i + 1];
  }
  for (const required of ['model', 'input', 'shape', 'data', 'outputs'])
    if (!args[required]) throw new Error(`missing --${required}`);
  return args;
}

async function main() {
  const args = parseArgs(process.argv);
  const shape = args.shape.split(',').map(Number);
  const bytes = fs.readFileSync(args.data);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const expected = shape.reduce((a, b) => a * b, 1);
  if (data.length !== expected) throw new Error(`${args.data} has ${data.length} floats, shape needs ${expected}`);
  const options = { graphOptimizationLevel: 'all' };
  if (args.threads) options.intraOpNumThreads = Number(args.threads);
  const session = await ort.InferenceSession.create(args.model, options);
  const feeds = { [args.input]: new ort.Tensor('float32', data, shape) };
  const outputs = args.outputs.split(',');

  if (args.bench) {
    const iterations = Number(args.bench);
    for (let i = 0; i < Math.max(3, iterations / 10); i++) await session.run(feeds, outputs);
    const times = [];
    for (let i = 0; i < iterations; i++) {
      const start = process.hrtime.bigint();
      await session.run(feeds, outputs);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    times.sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    console.log(JSON.stringify({ mean_ms: mean, median_ms: times[Math.floor(times.length / 2)],
                                 min_ms: times[0], iterations, version: ort.env.versions.common }));
    return;
  }
  const results = await session.run(feeds, outputs);
  for (const name of outputs) {
    const tensor = results[name];
    fs.writeFileSync(`${args.out}.${name}.f32`, Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  }
}

main().catch((error) => {
  console.error(`ort_reference: ${error.message}`);
  process.exit(1);
});
