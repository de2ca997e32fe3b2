// Times the WebAssembly verifier in the browser (scripts/bench-wasm): loading the module, checking the
// signed lists, verifying one certificate from its text and from the pixels of its QR code. Medians of
// repeated runs; the result is posted back to the harness server.
import init, { Scanner } from "./verifier_wasm.js";

const RUNS_TEXT = 50;
const RUNS_IMAGE = 20;

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function text(path) {
  const response = await fetch(path);
  return response.text();
}

function timed(runs, call) {
  const times = [];
  let last;
  for (let i = 0; i < runs; i += 1) {
    const start = performance.now();
    last = call();
    times.push(performance.now() - start);
  }
  return { median: median(times), first: times[0], report: JSON.parse(last) };
}

async function run() {
  const started = performance.now();
  await init({ module_or_path: "./verifier_wasm_bg.wasm" });
  const initMs = performance.now() - started;
  const [trustList, revocationList, key, certificate] = await Promise.all(
    ["trust-list.jws", "revocation-list.jws", "key.pem", "certificate.txt"].map(text));
  const encoder = new TextEncoder();
  const now = Date.now() / 1000;
  const loadStart = performance.now();
  const scanner = new Scanner(encoder.encode(trustList), encoder.encode(revocationList), key, now);
  const loadMs = performance.now() - loadStart;
  const fromText = timed(RUNS_TEXT, () => scanner.verify(certificate, now));

  const picture = new Image();
  picture.src = "certificate.png";
  await picture.decode();
  const canvas = document.createElement("canvas");
  canvas.width = picture.naturalWidth;
  canvas.height = picture.naturalHeight;
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(picture, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  const rgba = new Uint8Array(pixels.data.buffer);
  const fromImage = timed(RUNS_IMAGE, () => scanner.verifyImage(rgba, pixels.width, pixels.height, now));

  return {
    userAgent: navigator.userAgent,
    initMs,
    loadListsMs: loadMs,
    verifyTextMedianMs: fromText.median,
    verifyTextFirstMs: fromText.first,
    verifyTextCode: fromText.report.code,
    verifyImageMedianMs: fromImage.median,
    verifyImageCode: fromImage.report.code,
    imageSize: `${pixels.width}x${pixels.height}`,
  };
}

run().then(
  (result) => result,
  (error) => ({ error: String(error) }),
).then((result) => {
  document.getElementById("out").textContent = JSON.stringify(result, null, 2);
  return fetch("/result", { method: "POST", body: JSON.stringify(result) });
});
