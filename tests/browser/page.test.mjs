// The web page in headless Debian Chromium, driven by playwright-core.
//
// Needs: the page built into ../../dist (`trunk build --release`), the trainer binary
// (TRAINER, default ../../target/debug/trainer, built by `cargo test`), /usr/bin/chromium.
// Runs twice: with WebGPU (SwiftShader, --enable-unsafe-webgpu) and without it (the page must
// fall back to the CPU engine by itself). Prints the figures of the closing note; screenshots
// go to ARTIFACTS (default ../../target/browser-artifacts).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { join, extname, resolve, dirname } from 'node:path';
import { tmpdir, cpus } from 'node:os';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const dist = join(root, 'dist');
const trainer = process.env.TRAINER ?? join(root, 'target', 'debug', 'trainer');
// What the native figures were measured with (`TRAINER=target/release/trainer` for release ones).
const trainerBuild = /[\\/]release[\\/]/.test(trainer) ? 'release build' : 'debug build, deps optimised';
const artifacts = process.env.ARTIFACTS ?? join(root, 'target', 'browser-artifacts');
const weights = join(root, 'weights', 'modnet-mtat-distilled.safetensors');
const ogg = join(root, 'tests', 'fixtures', 'audio', 'pulse-stereo-44k.ogg');
// Agreement asked between the page and `trainer tag` on the same file and weights, by engine:
// the CPU engine runs the native code's kernels in another order of sums (measured ~1e-6);
// WebGPU (SwiftShader here) computes in other kernels and orders (measured ~1e-4).
const TOLERANCE = { cpu: 1e-5, webgpu: 1e-3 };
// The same for the pictures: power difference relative to each picture's peak. Measured (7 Dec,
// the 30 s and 3 s clips): 6.6e-5 on the CPU engine, 4.2e-3 on WebGPU (0.001 and 0.02 dB near
// the peak: the band-pass filterbank's sums cancel, so its small outputs carry more of the
// float error than the tags do); bounds ~8x that.
const PICTURE_TOLERANCE = { cpu: 5e-4, webgpu: 3e-2 };
// CPU engines the page runs on this machine: one per core, at most 4 (controller.rs).
const CPU_ENGINES = Math.min(cpus().length, 4);

const types = {
  '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.safetensors': 'application/octet-stream', '.md': 'text/markdown; charset=utf-8',
};

/// A 16 kHz mono 16-bit wav of `samples(t)` (clipped to ±1), `seconds` long.
function writeWav(path, seconds, samples) {
  const rate = 16000;
  const n = Math.round(seconds * rate);
  const data = Buffer.alloc(44 + 2 * n);
  data.write('RIFF', 0); data.writeUInt32LE(36 + 2 * n, 4); data.write('WAVE', 8);
  data.write('fmt ', 12); data.writeUInt32LE(16, 16); data.writeUInt16LE(1, 20);
  data.writeUInt16LE(1, 22); data.writeUInt32LE(rate, 24); data.writeUInt32LE(2 * rate, 28);
  data.writeUInt16LE(2, 32); data.writeUInt16LE(16, 34); data.write('data', 36);
  data.writeUInt32LE(2 * n, 40);
  for (let i = 0; i < n; i++) {
    const v = samples(i / rate);
    data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32767))), 44 + 2 * i);
  }
  writeFileSync(path, data);
}

/// A deterministic noise source in [-0.5, 0.5).
function noiseSource(seed) {
  return () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648 - 0.5; };
}

/// The fake microphone's file: 12 s of a slow pulsing bass, then 12 s of fast bright noise
/// bursts — two sounds a tagger must tell apart (the browser loops the file).
function makeTwoPartWav(path) {
  const noise = noiseSource(99);
  writeWav(path, 24, (t) => {
    if (t < 12) return 0.6 * Math.exp(-6 * (t % 1)) * Math.sin(2 * Math.PI * 55 * t);
    return 0.5 * Math.exp(-30 * ((t * 8) % 1)) * noise() * 2;
  });
}

/// A 16 kHz mono 16-bit wav: a pulsing low tone, a sustained high tone with 12 Hz tremolo, a
/// little noise (deterministic), `seconds` long.
function makeWav(path, seconds) {
  const noise = noiseSource(12345);
  writeWav(path, seconds, (t) => {
    const beat = Math.exp(-18 * ((t * 2) % 1)); // two hits a second
    const low = beat * Math.sin(2 * Math.PI * 110 * t);
    const high = (t % 10 < 5 ? 1 : 0) * (0.5 + 0.5 * Math.sin(2 * Math.PI * 12 * t)) * Math.sin(2 * Math.PI * 1760 * t);
    return 0.4 * low + 0.25 * high + 0.03 * noise();
  });
}

let server;
let url;
let work;
let wav;
let native;
// One 3 s chunk (the model's chunk length): the clip's one chunk and its one timeline chunk.
// WebGPU runs on SwiftShader here, about 40 times slower than the CPU engine (a 30 s clip took
// 112 s), so the WebGPU engine is checked on this clip alone.
let short;
let nativeShort;
const figures = [];
// The CPU engine's time for the 30 s clip (ms), for the page/native ratio.
let cpuMillis;
// Every temporary folder this file makes (the work folder, each browser profile), removed after.
const temporary = [];

before(async () => {
  assert.ok(existsSync(join(dist, 'index.html')), `build the page first: trunk build --release (${dist})`);
  assert.ok(existsSync(trainer), `build the trainer first (${trainer})`);
  mkdirSync(artifacts, { recursive: true });
  work = mkdtempSync(join(tmpdir(), 'modnet-page-'));
  temporary.push(work);
  wav = join(work, 'pulse-30s.wav');
  makeWav(wav, 30);
  short = join(work, 'pulse-3s.wav');
  makeWav(short, 3);
  makeTwoPartWav(join(work, 'microphone.wav'));
  writeFileSync(join(work, 'corrupt.mp3'), Buffer.from('ID3 this is not an mp3 at all '.repeat(200)));
  server = createServer((req, res) => {
    const path = join(dist, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = path.endsWith('/') ? join(path, 'index.html') : path;
    if (!file.startsWith(dist) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404); res.end(); return;
    }
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${server.address().port}/`;
  const started = performance.now();
  const out = execFileSync(trainer, ['tag', wav, '--weights', weights, '--json', '--backend', 'flex']);
  native = { seconds: (performance.now() - started) / 1000, result: JSON.parse(out.toString())[0] };
  const outShort = execFileSync(trainer, ['tag', short, '--weights', weights, '--json', '--backend', 'flex']);
  nativeShort = JSON.parse(outShort.toString())[0];
});

after(() => {
  server?.close();
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
  console.log('\n| figure | value |\n|---|---:|');
  for (const [k, v] of figures) console.log(`| ${k} | ${v} |`);
});

function sizes() {
  // scripts/test.sh builds for build time (index-test.html, the wasm-test profile: no LTO, no wasm-opt, the
  // CPU engine's kernels at opt-level 3, the rest at 1).
  const build = process.env.MODNET_PAGE_TEST_BUILD ? ' (test build: no LTO, no wasm-opt, kernels at opt-level 3)' : '';
  for (const f of ['modnet_web_bg.wasm', 'engine_cpu_bg.wasm', 'engine_gpu_bg.wasm', 'modnet-mtat-distilled.safetensors', 'MODEL_CARD.md']) {
    const bytes = readFileSync(join(dist, f));
    figures.push([`${f} raw / gzip${f.endsWith('.wasm') ? build : ''}`, `${(bytes.length / 1e6).toFixed(2)} MB / ${(gzipSync(bytes, { level: 9 }).length / 1e6).toFixed(2)} MB`]);
  }
}

async function launch(webgpu, extra = []) {
  const args = [
    '--headless', '--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', ...extra,
  ];
  if (webgpu) args.push('--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader');
  const userDataDir = mkdtempSync(join(tmpdir(), 'modnet-chromium-'));
  temporary.push(userDataDir);
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium', headless: true, args, viewport: { width: 1000, height: 900 },
  });
}

async function tagsOf(page) {
  return page.$$eval('#tags li', (lis) => lis.map((li) => [li.dataset.tag, Number(li.dataset.probability), Number(li.dataset.index)]));
}

/// Drops `file` on the page and waits until it is tagged: its clip tags and its whole timeline
/// (`#run-info` gets `data-millis` once the last timeline chunk is in).
async function upload(page, file, name) {
  await page.setInputFiles('#audio-input', file);
  await tagged(page, name);
}

async function tagged(page, name) {
  await page.waitForFunction((n) => {
    const info = document.querySelector('#run-info');
    return info?.textContent.includes(n) && info.dataset.millis !== undefined;
  }, name, { timeout: 300_000 });
}

async function canvasesFilled(page) {
  return page.$$eval('canvas', (cs) => cs.map((c) => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let painted = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) painted++;
    return [c.id || c.className, c.width * c.height, painted];
  }));
}

for (const mode of ['webgpu', 'cpu']) {
  test(`page on ${mode === 'webgpu' ? 'WebGPU (SwiftShader)' : 'the CPU fallback'}`, { timeout: 900_000 }, async () => {
    if (mode === 'webgpu') sizes();
    const context = await launch(mode === 'webgpu');
    const page = context.pages()[0] ?? await context.newPage();
    const logs = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    try {
      const started = performance.now();
      await page.goto(url);
      // While it loads the model, the WebGPU engine says which route it is timing (seconds a
      // route on SwiftShader); the line goes once the model is in.
      const timing = mode === 'webgpu'
        ? await page.waitForSelector('#convolutions-timing', { timeout: 300_000 }).then((e) => e.textContent())
        : null;
      if (timing) assert.match(timing, /timing the routes on this GPU \((direct|unfolded), \d of 2\)/);
      await page.waitForFunction(() => document.querySelector('#model-line')?.textContent.startsWith('model:')
        && document.querySelector('#backend')?.dataset.backend, null, { timeout: 300_000 });
      const loadSeconds = (performance.now() - started) / 1000;
      const backend = await page.$eval('#backend', (e) => e.dataset.backend);
      if (mode === 'webgpu') assert.equal(backend, 'wgpu (WebGPU)', 'WebGPU should run with --enable-unsafe-webgpu');
      else assert.equal(backend, 'Flex (CPU)', 'without WebGPU the page falls back to the CPU engine');
      figures.push([`page load to model ready, ${mode}`, `${loadSeconds.toFixed(1)} s`]);
      // The WebGPU engine times its convolution routes on the loaded model and runs the
      // fastest (the tags below are checked on that route); the CPU engine has none to choose.
      const convolutions = await page.$eval('#convolutions', (e) => ({ route: e.dataset.route, timed: e.dataset.timed, earlier: e.dataset.earlier, text: e.textContent }))
        .catch(() => null);
      assert.equal(await page.$('#convolutions-timing'), null, 'the timing line goes once the model is in');
      if (mode === 'webgpu') {
        assert.ok(convolutions, 'the WebGPU engine says how its convolutions run');
        const timed = Object.fromEntries(convolutions.timed.split(',').map((p) => p.split(':')).map(([r, ms]) => [r, Number(ms)]));
        assert.deepEqual(Object.keys(timed).sort(), ['direct', 'unfolded'], convolutions.timed);
        for (const ms of Object.values(timed)) assert.ok(ms > 0 && Number.isFinite(ms), convolutions.timed);
        const fastest = Object.keys(timed).reduce((a, b) => (timed[a] <= timed[b] ? a : b));
        assert.equal(convolutions.route, fastest, `the fastest route runs: ${convolutions.text}`);
        figures.push([`WebGPU convolution routes timed at load (SwiftShader; ms per forward pass of 4 chunks)`,
          Object.entries(timed).map(([r, ms]) => `${r} ${ms.toFixed(0)}`).join(', ') + ` → ${fastest}`]);
        assert.equal(convolutions.earlier, 'false', convolutions.text);
        // A revisit (same browser, same GPU, same model) takes the remembered route without
        // timing: the same route and the same times, said to be an earlier visit's.
        const revisit = performance.now();
        await page.reload();
        await page.waitForFunction(() => document.querySelector('#model-line')?.textContent.startsWith('model:'),
          null, { timeout: 300_000 });
        const again = await page.$eval('#convolutions', (e) => ({ route: e.dataset.route, timed: e.dataset.timed, earlier: e.dataset.earlier, text: e.textContent }));
        assert.deepEqual([again.route, again.timed, again.earlier], [convolutions.route, convolutions.timed, 'true'], again.text);
        assert.match(again.text, /timed at an earlier visit/);
        figures.push(['page load to model ready, webgpu, revisit (route remembered)', `${((performance.now() - revisit) / 1000).toFixed(1)} s`]);
      } else {
        assert.equal(convolutions, null, 'the CPU engine has no convolution route to show');
      }

      // A wav: tags, pictures, agreement with the native trainer.
      const [clip, clipName, clipWords, expected] = mode === 'webgpu'
        ? [short, 'pulse-3s.wav', 'a 3 s clip (1 clip chunk + 1 timeline chunk)', nativeShort.probabilities]
        : [wav, 'pulse-30s.wav', 'a 30 s clip (16 clip chunks + the timeline)', native.result.probabilities];
      await upload(page, clip, clipName);
      const tags = await tagsOf(page);
      assert.equal(tags.length, expected.length, 'one bar per tag');
      const names = await page.$eval('#model-line', (e) => e.textContent);
      assert.ok(names.includes('50 tags'), names);
      // The built-in model says what it is and links its card (served beside the page).
      const card = await page.$eval('#model-card a', (a) => a.href);
      assert.ok(card.endsWith('MODEL_CARD.md'), card);
      const cardText = await (await fetch(card)).text();
      assert.ok(cardText.includes('MTT_musicnn'), 'the model card is served');
      // All 50 tags, grouped as the paper's Fig. 2, the five best highlighted.
      const groups = await page.$$eval('.tag-group', (gs) => gs.map((g) => g.dataset.group));
      assert.deepEqual(groups, ['genre', 'instrument', 'vocal', 'mood', 'other']);
      const top = await page.$$eval('#tags li.top', (lis) => lis.map((li) => Number(li.dataset.index)));
      const best = [...expected.keys()].sort((a, b) => expected[b] - expected[a]).slice(0, 5);
      assert.deepEqual([...top].sort((a, b) => a - b), [...best].sort((a, b) => a - b), 'the five best tags are highlighted');
      let worst = 0;
      for (const [, p, index] of tags) worst = Math.max(worst, Math.abs(p - expected[index]));
      assert.ok(worst <= TOLERANCE[mode], `page vs trainer tag (${mode}): max |Δp| = ${worst}`);
      figures.push([`max |page − trainer tag| probability, ${mode}`, worst.toExponential(2)]);
      // The timeline drawn: every chunk's tags, as `trainer tag` gives them.
      const drawn = await page.$eval('#timeline', (c) => ({
        rows: Number(c.dataset.rows), cols: Number(c.dataset.cols), values: c.dataset.values.split(',').map(Number),
      }));
      // `trainer tag` gives a clip of one chunk no timeline; the page draws that one chunk,
      // whose tags are the clip's.
      const nativeResult = mode === 'webgpu' ? nativeShort : native.result;
      const nativeTimeline = nativeResult.timeline.length ? nativeResult.timeline : [[0, expected]];
      assert.equal(drawn.cols, nativeTimeline.length, 'one timeline column per chunk');
      assert.equal(drawn.rows, expected.length, 'one timeline row per tag');
      let timelineWorst = 0;
      nativeTimeline.forEach(([, probabilities], c) => probabilities.forEach((p, t) => {
        timelineWorst = Math.max(timelineWorst, Math.abs(p - drawn.values[t * drawn.cols + c]));
      }));
      assert.ok(timelineWorst <= TOLERANCE[mode], `timeline, page vs trainer tag (${mode}): max |Δp| = ${timelineWorst}`);
      figures.push([`max |page − trainer tag| timeline probability, ${mode}`, timelineWorst.toExponential(2)]);
      const millis = Number(await page.$eval('#run-info', (e) => e.dataset.millis));
      figures.push([`tag ${clipWords}, ${mode}`, `${(millis / 1000).toFixed(2)} s`]);
      if (mode === 'cpu') cpuMillis = millis;
      await page.waitForSelector('#modulation-large', { timeout: 300_000 });
      await page.waitForFunction(() => document.querySelectorAll('.modulation-thumb').length > 0);
      const canvases = await canvasesFilled(page);
      assert.ok(canvases.length >= 6, `canvases: ${JSON.stringify(canvases)}`);
      for (const [id, area, painted] of canvases) assert.ok(painted > area / 20, `canvas ${id} is empty (${painted} of ${area} pixels painted)`);
      const ids = canvases.map((c) => c[0]);
      for (const id of ['waveform', 'timeline', 'filterbank', 'modulation-large', 'sinc-responses', 'modulation-responses', 'modulation-thumb']) {
        assert.ok(ids.includes(id), `missing canvas ${id}`);
      }
      // The pictures' values, as the page offers them for download, against `trainer inspect`
      // (the model crate's own pictures) on the same chunk, pooled to the same columns.
      const [download] = await Promise.all([page.waitForEvent('download'), page.click('#picture-values')]);
      const shown = JSON.parse(readFileSync(await download.path(), 'utf8'));
      const inspected = JSON.parse(execFileSync(trainer, ['inspect', clip, '--start', String(shown.start_seconds),
        '--columns', String(shown.filterbank.cols), '--weights', weights, '--backend', 'flex'], { maxBuffer: 1 << 28 }).toString());
      // Both sides are f32 values: the page's JSON writes them as doubles, the trainer's as
      // the shortest decimal of the f32.
      const f32s = (xs) => xs.map(Math.fround);
      assert.equal(shown.start_seconds, inspected.start_seconds);
      assert.deepEqual(f32s(shown.filterbank_centre_hz), f32s(inspected.filterbank_centre_hz), 'rows in the same order');
      assert.deepEqual(f32s(shown.modulation_centre_hz), f32s(inspected.modulation_centre_hz), 'filters in the same order');
      assert.equal(shown.modulation.length, inspected.modulation.length);
      writeFileSync(join(artifacts, `pictures-${mode}.json`), JSON.stringify({ shown, inspected }));
      // Compared as power relative to each picture's peak: dB far below the peak are the
      // arithmetic's noise (a quiet band at -75 dB moves by dB where its power moves by 1e-8 of
      // the peak), so a bound in dB would measure nothing but that noise.
      let pictureWorst = 0;
      for (const [a, b] of [[shown.filterbank, inspected.filterbank], ...shown.modulation.map((m, i) => [m, inspected.modulation[i]])]) {
        assert.deepEqual([a.rows, a.cols], [b.rows, b.cols]);
        const peak = Math.max(...b.values);
        // The same 80 dB range (which the power bound cannot see): nothing below the page's
        // floor, and where the trainer's picture reaches its floor, the page's does too.
        const [lowA, highA, lowB] = [Math.min(...a.values), Math.max(...a.values), Math.min(...b.values)];
        assert.ok(lowA >= highA - 80 - 1e-3, 'clipped 80 dB below the peak');
        if (lowB <= peak - 80 + 1e-3) assert.ok(lowA <= highA - 80 + 1e-3, 'the same floor');
        for (let i = 0; i < a.values.length; i++) {
          const relative = Math.abs(10 ** ((a.values[i] - peak) / 10) - 10 ** ((b.values[i] - peak) / 10));
          pictureWorst = Math.max(pictureWorst, relative);
        }
      }
      assert.ok(pictureWorst <= PICTURE_TOLERANCE[mode], `pictures, page vs trainer inspect (${mode}): max |Δ power| / peak = ${pictureWorst}`);
      figures.push([`max |page − trainer inspect| picture power / peak, ${mode}`, pictureWorst.toExponential(2)]);
      await page.screenshot({ path: join(artifacts, `page-${mode}.png`), fullPage: true });
      // What follows is the page's own handling of files, the same whichever engine runs the model.
      if (mode === 'webgpu') return;

      // A corrupt file: a clear message, then a good file still works.
      await page.setInputFiles('#audio-input', join(work, 'corrupt.mp3'));
      await page.waitForSelector('#error', { timeout: 300_000 });
      const error = await page.$eval('#error', (e) => e.textContent);
      assert.match(error, /corrupt\.mp3.*not an audio file/);

      // A compressed, stereo, 44.1 kHz file (resampled and downmixed by the browser).
      await upload(page, ogg, 'pulse-stereo-44k.ogg');
      assert.equal(await page.$('#error'), null, 'the error goes away once a good file is tagged');
      const oggTags = await tagsOf(page);
      assert.equal(oggTags.length, expected.length);
      assert.ok(oggTags.every(([, p]) => p >= 0 && p <= 1));
      const firstGroup = await page.$$eval('.tag-group:first-child li', (lis) => lis.map((li) => Number(li.dataset.probability)));
      assert.ok(firstGroup.every((p, i) => i === 0 || firstGroup[i - 1] >= p), 'tags are sorted within a group');

      // A weights file that is not one: a clear message, the model stays.
      await page.setInputFiles('#weights-input', ogg);
      await page.waitForSelector('#error', { timeout: 300_000 });
      assert.match(await page.$eval('#error', (e) => e.textContent), /not a modnet weights file/);
      assert.ok((await page.$eval('#model-line', (e) => e.textContent)).includes('built-in model'));
    } catch (e) {
      await page.screenshot({ path: join(artifacts, `page-${mode}-failure.png`), fullPage: true }).catch(() => {});
      console.log(logs.join('\n'));
      throw e;
    } finally {
      await context.close();
    }
  });
}

test('CPU engines share a clip: one worker against one per core, and a 6-minute song', { timeout: 900_000 }, async () => {
  const song = join(work, 'song-6min.wav');
  makeWav(song, 360);
  const millis = {};
  for (const engines of [...new Set([1, CPU_ENGINES])]) {
    const context = await launch(false);
    const page = context.pages()[0] ?? await context.newPage();
    const logs = [];
    page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
    try {
      await page.goto(`${url}?cpu-engines=${engines}`);
      await page.waitForFunction(() => document.querySelector('#model-line')?.textContent.startsWith('model:'), null, { timeout: 300_000 });
      await upload(page, wav, 'pulse-30s.wav');
      const info = await page.$eval('#run-info', (e) => ({ ...e.dataset, text: e.textContent }));
      assert.equal(Number(info.engines), engines, info.text);
      // The shares put together give the tags of `trainer tag`, whatever the number of workers.
      let worst = 0;
      for (const [, p, index] of await tagsOf(page)) worst = Math.max(worst, Math.abs(p - native.result.probabilities[index]));
      assert.ok(worst <= TOLERANCE.cpu, `${engines} worker(s): page vs trainer tag max |Δp| = ${worst}`);
      millis[engines] = Number(info.millis);
      figures.push([`tag a 30 s clip, CPU engine, ${engines} worker(s)`, `${(millis[engines] / 1000).toFixed(2)} s`]);
      if (engines === CPU_ENGINES) {
        // The clip's tags show while the timeline is still being filled.
        await page.setInputFiles('#audio-input', song);
        await page.waitForFunction(() => {
          const info = document.querySelector('#run-info');
          return info?.textContent.includes('song-6min.wav') && info.dataset.millis === undefined;
        }, null, { timeout: 300_000 });
        const early = await page.$eval('#run-info', (e) => e.textContent);
        assert.match(early, /timeline \d+ \/ \d+ chunks/);
        assert.equal((await tagsOf(page)).length, native.result.probabilities.length, 'all tags show before the timeline is done');
        await tagged(page, 'song-6min.wav');
        const six = await page.$eval('#run-info', (e) => ({ ...e.dataset, text: e.textContent }));
        figures.push([`6-minute song: clip tags on the page after, CPU engine, ${engines} worker(s)`, `${(Number(six.tagsMillis) / 1000).toFixed(2)} s`]);
        assert.match(six.text, /16 chunks for the clip, \d+ for the timeline/);
        const timeline = Number(/(\d+) for the timeline/.exec(six.text)[1]);
        assert.ok(timeline >= 100, six.text);
        figures.push([`tag a 6-minute song (16 + ${timeline} chunks), CPU engine, ${engines} worker(s)`, `${(Number(six.millis) / 1000).toFixed(2)} s`]);
        // The same song natively: the page/native ratio for a long clip.
        const started = performance.now();
        const out = execFileSync(trainer, ['tag', song, '--weights', weights, '--json', '--backend', 'flex']);
        const seconds = (performance.now() - started) / 1000;
        const expected = JSON.parse(out.toString())[0].probabilities;
        let songWorst = 0;
        for (const [, p, index] of await tagsOf(page)) songWorst = Math.max(songWorst, Math.abs(p - expected[index]));
        assert.ok(songWorst <= TOLERANCE.cpu, `6-minute song: page vs trainer tag max |Δp| = ${songWorst}`);
        figures.push([`max |page − trainer tag| probability, 6-minute song, CPU engine`, songWorst.toExponential(2)]);
        figures.push([`\`trainer tag\` (${trainerBuild}; whole process), 6-minute song`, `${seconds.toFixed(2)} s`]);
        figures.push(['page CPU engine / native `trainer tag`, 6-minute song', `${(Number(six.millis) / 1000 / seconds).toFixed(1)}×`]);
      }
    } catch (e) {
      console.log(logs.join('\n'));
      throw e;
    } finally {
      await context.close();
    }
  }
  if (CPU_ENGINES > 1) figures.push([`30 s clip: 1 worker / ${CPU_ENGINES} workers`, `${(millis[1] / millis[CPU_ENGINES]).toFixed(2)}×`]);
});

test('listening live to a fake microphone (CPU engine)', { timeout: 600_000 }, async () => {
  const context = await launch(false, [
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
    `--use-file-for-fake-audio-capture=${join(work, 'microphone.wav')}`,
  ]);
  const page = context.pages()[0] ?? await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  try {
    await page.goto(`${url}?backend=cpu`);
    await page.waitForFunction(() => document.querySelector('#model-line')?.textContent.startsWith('model:'), null, { timeout: 300_000 });
    // A tag taught from one example recorded from the microphone and no counter-examples: the
    // built-in model's background set stands in for them.
    await page.click('#record-example');
    await page.waitForFunction(() => /stop recording \((3|4)\./.test(document.querySelector('#record-example').textContent), null, { timeout: 60_000 });
    await page.click('#record-example');
    const recorded = await page.$eval('#recorded', (e) => e.textContent);
    const seconds = Number(/recorded: 1 example \((\d+\.\d) s\), 0 counter-examples/.exec(recorded)?.[1]);
    assert.ok(seconds >= 3 && seconds < 6, recorded);
    await page.fill('#teach-name', 'heard');
    await page.click('#teach-button');
    await page.waitForSelector('#heads-table tr[data-tag="heard"]', { timeout: 120_000 });
    const said = await page.$eval('#heads-table tr[data-tag="heard"] .warnings', (e) => e.textContent);
    assert.match(said, /background set \(\d+ clips/, said);
    assert.equal(await page.$('#recorded'), null, 'a recording is used once, by the tag it taught');
    // A tag of the user's own (a head file of `trainer teach`) is heard live too.
    mkdirSync(join(work, 'live-low'), { recursive: true });
    mkdirSync(join(work, 'live-high'), { recursive: true });
    for (let i = 0; i < 4; i++) {
      makeTone(join(work, 'live-low', `${i}.wav`), 3.5, 55 + 10 * i);
      makeTone(join(work, 'live-high', `${i}.wav`), 3.5, 1800 + 300 * i);
    }
    const heads = join(work, 'live-heads.safetensors');
    execFileSync(trainer, ['teach', '--tag', `bass=${join(work, 'live-low')}`, '--tag', `treble=${join(work, 'live-high')}`, '--out', heads, '--backend', 'flex']);
    await page.setInputFiles('#heads-input', heads);
    await page.waitForSelector('#heads-table tr[data-tag="bass"]', { timeout: 120_000 });
    await page.click('#listen-button');
    await page.waitForSelector('#live-tags li', { timeout: 120_000 });
    // Snapshots of the live tags for 30 s: the file's two halves (12 s each) pass by.
    const snapshots = [];
    const until = performance.now() + 30_000;
    while (performance.now() < until) {
      snapshots.push(Object.fromEntries(await page.$$eval('#live-tags li', (lis) => lis.map((li) => [li.dataset.tag, Number(li.dataset.probability)]))));
      await page.waitForTimeout(500);
    }
    const stats = await page.$eval('#listen-status', (e) => ({ ...e.dataset, text: e.textContent }));
    const [tagged, dropped, latency] = [Number(stats.tagged), Number(stats.dropped), Number(stats.latency)];
    const [median, longest] = [Number(stats.modelMedian), Number(stats.modelMax)];
    assert.ok(tagged >= 10, `windows tagged in ~30 s: ${stats.text}`);
    assert.ok(latency > 0, stats.text);
    assert.ok(median > 0 && median <= longest, `model times: median ${median}, longest ${longest}`);
    assert.ok(snapshots.every((s) => Object.keys(s).length === 12), 'ten live tags and the user\'s two, each a probability');
    assert.ok(snapshots.every((s) => 'user:bass' in s && 'user:treble' in s), 'the user\'s tags are heard live');
    assert.ok(snapshots.every((s) => Object.values(s).every((p) => p >= 0 && p <= 1)));
    // The tags change when the sound does: the largest change of a shared tag between two
    // snapshots, or a different best tag.
    let change = 0;
    const best = (s) => Object.entries(s).sort((a, b) => b[1] - a[1])[0][0];
    for (const a of snapshots) {
      for (const b of snapshots) {
        if (best(a) !== best(b)) change = Math.max(change, 1);
        for (const [tag, p] of Object.entries(a)) if (tag in b) change = Math.max(change, Math.abs(p - b[tag]));
      }
    }
    assert.ok(change >= 0.05, `the live tags never changed (largest change ${change})`);
    // The pictures follow the live window.
    await page.waitForSelector('#modulation-large', { timeout: 60_000 });
    await page.screenshot({ path: join(artifacts, 'page-listen.png'), fullPage: true });
    figures.push(['live: windows tagged / dropped in 30 s (1 s hop, CPU engine)', `${tagged} / ${dropped}`]);
    figures.push(['live: model time per window (tags + pictures), CPU engine: median / longest', `${median.toFixed(0)} / ${longest.toFixed(0)} ms`]);
    figures.push(['live: latency, last block in → tags on the page', `${latency.toFixed(0)} ms`]);
    figures.push(['live: engine load (median model time / hop)', `${(median / 10).toFixed(0)} %`]);
    await page.click('#listen-button');
    await page.waitForFunction(() => document.querySelector('#listen-button').textContent.startsWith('listen'));
  } catch (e) {
    await page.screenshot({ path: join(artifacts, 'page-listen-failure.png'), fullPage: true }).catch(() => {});
    console.log(logs.join('\n'));
    throw e;
  } finally {
    await context.close();
  }
});

/// A 16 kHz wav of a decaying tone at `freq` Hz, pulsing twice a second.
function makeTone(path, seconds, freq) {
  writeWav(path, seconds, (t) => 0.5 * Math.exp(-6 * (t % 0.5)) * Math.sin(2 * Math.PI * freq * t));
}

test('teaching a tag in the page, and its head file in `trainer tag --heads` (CPU engine)', { timeout: 600_000 }, async () => {
  const high = [0, 1, 2, 3, 4].map((i) => join(work, `high-${i}.wav`));
  const low = [0, 1, 2, 3, 4].map((i) => join(work, `low-${i}.wav`));
  high.forEach((f, i) => makeTone(f, 3.5, 2000 + 200 * i));
  low.forEach((f, i) => makeTone(f, 3.5, 110 + 20 * i));
  const newHigh = join(work, 'new-high.wav');
  const newLow = join(work, 'new-low.wav');
  makeTone(newHigh, 7, 2500);
  makeTone(newLow, 7, 150);
  const context = await launch(false);
  const page = context.pages()[0] ?? await context.newPage();
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  const yours = () => page.$$eval('[data-group="yours"] li', (lis) => lis.map((li) => [li.dataset.tag, Number(li.dataset.probability), li.dataset.hasIt]));
  try {
    await page.goto(url);
    await page.waitForFunction(() => document.querySelector('#model-line')?.textContent.startsWith('model:'), null, { timeout: 300_000 });
    // A name the model already has is refused with a sentence.
    await page.fill('#teach-name', 'Piano');
    await page.setInputFiles('#teach-examples', high);
    await page.click('#teach-button');
    await page.waitForFunction(() => document.querySelector('#error')?.textContent.includes("the model's own tag 'piano'"), null, { timeout: 120_000 });
    // The tag taught from five examples and five counter-examples, in the engine.
    const started = performance.now();
    await page.fill('#teach-name', 'high');
    await page.setInputFiles('#teach-examples', high);
    await page.setInputFiles('#teach-counter', low);
    await page.click('#teach-button');
    await page.waitForSelector('#heads-table tr[data-tag="high"]', { timeout: 300_000 });
    figures.push(['teach a tag from 5 + 5 clips of 3.5 s in the page (decode, embed, learn; CPU engine)', `${((performance.now() - started) / 1000).toFixed(1)} s`]);
    const status = await page.$eval('#teach-status', (e) => e.textContent);
    assert.ok(status.includes('high (CV ROC-AUC'), status);
    // A clip that has it, and one that does not.
    await upload(page, newHigh, 'new-high.wav');
    let [[tag, p, hasIt]] = await yours();
    assert.equal(tag, 'user:high');
    assert.equal(hasIt, 'true', `user:high on a high tone: ${p}`);
    const onHigh = p;
    await page.screenshot({ path: join(artifacts, 'page-teach.png'), fullPage: true });
    await upload(page, newLow, 'new-low.wav');
    [[tag, p, hasIt]] = await yours();
    assert.equal(hasIt, 'false', `user:high on a low tone: ${p}`);
    // The timeline has a row for it.
    const rows = await page.$eval('#timeline', (c) => Number(c.dataset.rows));
    assert.equal(rows, 51);
    // The head file downloaded from the page gives `trainer tag --heads` the page's numbers.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#heads-download')]);
    const heads = join(work, 'page-heads.safetensors');
    await download.saveAs(heads);
    const cli = JSON.parse(execFileSync(trainer, ['tag', newHigh, '--heads', heads, '--json', '--backend', 'flex']).toString())[0];
    const delta = Math.abs(cli.user_tags[0].probability - onHigh);
    assert.ok(delta <= TOLERANCE.cpu, `page vs trainer tag --heads: |Δp| = ${delta}`);
    figures.push(['max |page − trainer tag --heads| probability of a taught tag, cpu', delta.toExponential(2)]);
    // The file loaded into a fresh page gives the same tag.
    await page.reload();
    await page.waitForFunction(() => document.querySelector('#model-line')?.textContent.startsWith('model:'), null, { timeout: 300_000 });
    await page.setInputFiles('#heads-input', heads);
    await page.waitForSelector('#heads-table tr[data-tag="high"]', { timeout: 120_000 });
    await upload(page, newHigh, 'new-high.wav');
    [[tag, p]] = await yours();
    assert.ok(Math.abs(p - onHigh) <= TOLERANCE.cpu, `a loaded head file: ${p} against ${onHigh}`);
  } catch (e) {
    await page.screenshot({ path: join(artifacts, 'page-teach-failure.png'), fullPage: true }).catch(() => {});
    console.log(logs.join('\n'));
    throw e;
  } finally {
    await context.close();
  }
});

test('native trainer tag on the same 30 s file', () => {
  figures.push([`\`trainer tag\` (${trainerBuild}; whole process), 30 s clip`, `${native.seconds.toFixed(2)} s`]);
  if (cpuMillis !== undefined) {
    figures.push(['page CPU engine / native `trainer tag`, 30 s clip', `${(cpuMillis / 1000 / native.seconds).toFixed(1)}×`]);
  }
  // The reference the page is held to: the built-in model's 50 MTAT tags, each a probability.
  assert.equal(native.result.probabilities.length, 50);
  assert.ok(native.result.probabilities.every((p) => p >= 0 && p <= 1));
});
