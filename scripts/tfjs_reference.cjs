// Run a TensorFlow.js graph model on raw float32 inputs with the pure-JS CPU backend and dump its outputs.
//
// Usage: NODE_PATH=<folder with @tensorflow/tfjs-{core,converter,backend-cpu}> \
//          node scripts/tfjs_reference.cjs MODEL_JSON INPUT_NAME DIMS OUTPUT_JSON INPUT.f32 [INPUT.f32 ...]
// DIMS is the input shape as comma-separated integers (for example 1,3,416,416). Each INPUT.f32 holds one
// input tensor as little-endian float32. OUTPUT_JSON receives
//   {"backend": "cpu", "tfjs": VERSION, "frames": [{"input": PATH, "outputs": {NAME: {"shape": [...],
//    "data_f32_base64": "..."}}}]}
// scripts/build_models.py --check-tfjs drives this and compares the result with ONNX Runtime.
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const tfconv = require('@tensorflow/tfjs-converter');

function fileHandler(modelJson) {
  return {
    load: async () => {
      const json = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
      const dir = path.dirname(modelJson);
      const specs = json.weightsManifest.flatMap((group) => group.weights);
      const shards = json.weightsManifest.flatMap((group) => group.paths.map((p) => fs.readFileSync(path.join(dir, p))));
      const data = Buffer.concat(shards);
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
        weightSpecs: specs,
        weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
      };
    },
  };
}

async function main() {
  const [modelJson, inputName, dims, outputJson, ...inputs] = process.argv.slice(2);
  if (!inputs.length) {
    console.error('usage: tfjs_reference.cjs MODEL_JSON INPUT_NAME DIMS OUTPUT_JSON INPUT.f32 [...]');
    process.exit(2);
  }
  await tf.setBackend('cpu');
  const model = await tfconv.loadGraphModel(fileHandler(modelJson));
  const shape = dims.split(',').map(Number);
  const names = model.outputs.map((o) => o.name);
  const frames = [];
  for (const file of inputs) {
    const raw = fs.readFileSync(file);
    const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    const input = tf.tensor(values, shape, 'float32');
    const results = await model.executeAsync({ [inputName]: input }, names);
    const outputs = {};
    for (let i = 0; i < names.length; i += 1) {
      const data = await results[i].data();
      outputs[names[i].replace(/:0$/, '')] = {
        shape: results[i].shape,
        data_f32_base64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
      };
      results[i].dispose();
    }
    input.dispose();
    frames.push({ input: file, outputs });
  }
  fs.writeFileSync(outputJson, JSON.stringify({ backend: tf.getBackend(), tfjs: tf.version_core, frames }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
