import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readImage } from '../../sdk-node/read-image.ts';
import { type BrowserSession, chromiumAvailable, openBrowser } from '../helpers/chromium.ts';
import { emFormatsDir } from '../helpers/em-formats.ts';

const root = new URL('../../', import.meta.url).pathname;
const samples = join(root, 'model-zoo/samples');
const images = ['tem-vesicles-0000.tif', 'tem-vesicles-0001.tif'];

/** CSV rows as cells. */
const csv = (text: string): string[][] => text.trim().split('\n').map((l) => l.split(','));

/** Same table: same header and rows; numbers within 1e-3 (px or relative), text equal. */
function assertSameCsv(got: string, want: string, what: string): void {
  const [g, w] = [csv(got), csv(want)];
  assert.deepEqual(g[0], w[0], `${what} header`);
  assert.equal(g.length, w.length, `${what} rows`);
  for (let r = 1; r < w.length; r++) {
    w[r].forEach((cell, c) => {
      const a = Number(g[r][c]), b = Number(cell);
      if (cell !== '' && Number.isFinite(b)) assert.ok(Math.abs(a - b) <= 1e-3 * Math.max(1, Math.abs(b)), `${what} row ${r} ${w[0][c]}: ${g[r][c]} vs ${cell}`);
      else assert.equal(g[r][c], cell, `${what} row ${r} ${w[0][c]}`);
    });
  }
}

/**
 * The web app (dist/app, `npm run app:build`) driven as a user drives it in headless Chromium: files
 * set on the picker, a zoo model chosen, Analyse clicked; its downloads hold emseg analyze's tables.
 */
describe('web app in headless Chromium', () => {
  let s: BrowserSession;
  let appUrl = '';
  const requests: string[] = [];
  before(async () => {
    if (!chromiumAvailable()) throw new Error('chromium is missing (apt-get install chromium; .ci/run installs it)');
    execFileSync(process.execPath, [join(root, 'scripts/build-app.mjs')]);
    s = await openBrowser({ '/app/': join(root, 'dist/app') });
    s.page.on('request', (r) => requests.push(r.url()));
    appUrl = new URL('/app/index.html', s.page.url()).href;
    await s.page.goto(appUrl);
    await s.page.waitForSelector('#model option[value="vesicle-large"]', { state: 'attached' });
  });
  after(async () => s?.close());

  it('analyses two images with vesicle-large (a corrupt third shows its error): the downloads match emseg analyze (objects.csv, summary.csv, summary.json, COCO)', async () => {
    const corrupt = join(mkdtempSync(join(tmpdir(), 'emseg-corrupt-')), 'corrupt.tif');
    writeFileSync(corrupt, Uint8Array.from([0x49, 0x49, 0x2a, 0x00, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3]));
    await s.page.setInputFiles('#files', [...images.map((f) => join(samples, f)), corrupt]);
    await s.page.waitForFunction(() => (globalThis as { emsegApp?: { entries(): number } }).emsegApp?.entries() === 3);
    await s.page.waitForFunction("document.querySelectorAll('#images figure').length === 3 && document.querySelectorAll('figcaption').length === 2");
    const error = (await s.page.evaluate("document.querySelectorAll('#images figure')[2].textContent")) as string;
    assert.match(error, /corrupt\.tif: .*(TIFF|IFD|offset|truncated|beyond)/i, `the corrupt file's figure says what is wrong: ${error}`);
    await s.page.waitForSelector('#run:not([disabled])');
    await s.page.selectOption('#model', 'vesicle-large');
    await s.page.click('#run');
    await s.page.waitForSelector('#results:not([hidden])', { timeout: 300_000 });
    // EMSEG_APP_SCREENSHOT=docs/app-screenshot.png writes the screenshot docs/ shows.
    if (process.env.EMSEG_APP_SCREENSHOT) await s.page.screenshot({ path: process.env.EMSEG_APP_SCREENSHOT });
    // Read through the app (a fetch of the blob: links is refused by the page's own CSP, connect-src 'self').
    const downloads = (await s.page.evaluate(`(async () => {
      const out = {};
      for (const a of document.querySelectorAll('#downloads a')) out[a.download] = await globalThis.emsegApp.download(a.download);
      return out;
    })()`)) as Record<string, string | number>;
    const rows = await s.page.locator('#objects tbody tr').count();
    const dir = mkdtempSync(join(tmpdir(), 'emseg-app-'));
    execFileSync(process.execPath, [join(root, 'dist/cli/emseg.js'), 'analyze', ...images, '--model', 'vesicle-large', '--out', dir, '--format', 'csv,json,coco,geojson'], { cwd: samples, stdio: 'pipe' });
    const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
    const labels = (t: string): Record<string, number> => csv(t).slice(1).reduce((m, r) => ({ ...m, [`${r[0]}:${r[2]}`]: (m[`${r[0]}:${r[2]}`] ?? 0) + 1 }), {} as Record<string, number>);
    assert.deepEqual(labels(downloads['objects.csv'] as string), labels(read('objects.csv')), 'objects per image and class');
    assertSameCsv(downloads['objects.csv'] as string, read('objects.csv'), 'objects.csv');
    assert.equal(rows, csv(read('objects.csv')).length - 1, 'one table row per object');
    assertSameCsv(downloads['summary.csv'] as string, read('summary.csv'), 'summary.csv');
    const [gs, ws] = [JSON.parse(downloads['summary.json'] as string), JSON.parse(read('summary.json'))];
    assert.equal(gs.model, ws.model);
    assert.equal(gs.images, ws.images);
    assert.deepEqual(Object.keys(gs.classes), Object.keys(ws.classes));
    for (const [k, c] of Object.entries(ws.classes as Record<string, { count: number }>)) assert.equal(gs.classes[k].count, c.count, `${k} count`);
    const [gc, wc] = [JSON.parse(downloads['predictions.coco.json'] as string), JSON.parse(read('predictions.coco.json'))];
    assert.deepEqual(gc.images, wc.images);
    assert.deepEqual(gc.categories, wc.categories);
    assert.equal(gc.annotations.length, wc.annotations.length);
    gc.annotations.forEach((a: { segmentation: unknown; bbox: number[] }, i: number) => {
      a.bbox.forEach((v, k) => assert.ok(Math.abs(v - wc.annotations[i].bbox[k]) <= 1e-3, `annotation ${i} bbox`));
      assert.deepEqual(a.segmentation, wc.annotations[i].segmentation, `annotation ${i} mask`);
    });
    for (const f of images) {
      const stem = f.replace(/\.tif$/, '');
      // analyze names per-image files by recordName (name + a hash of the path: inputs may share names).
      const geo = readdirSync(join(dir, 'geojson')).find((g) => g.startsWith(`${f}-`)) as string;
      const [gg, wg] = [JSON.parse(downloads[`${stem}.geojson`] as string), JSON.parse(read(`geojson/${geo}`))];
      assert.equal(gg.features.length, wg.features.length, `${stem}.geojson features`);
      gg.features.forEach((ft: { properties: { classification: unknown } }, i: number) => assert.deepEqual(ft.properties.classification, wg.features[i].properties.classification));
      assert.ok((downloads[`${stem}.png`] as number) > 1000, `${stem}.png overlay`);
    }
  });

  it('a 16-bit TIFF, a DM4, an MRC, a Velox and a Berkeley EMD (h5wasm, loaded on demand) and a SER with its .emi open with their size and nm/px', async () => {
    const files = ['tiff/FEI-Helios-Ebeam-16bits.tif', 'dm4/test-10.dm4', 'mrc/HAADFscan.mrc', 'emd/FFTComplexEven.emd', 'emd/Acquisition_18.emd', 'ser/16_STOimage_1.ser'];
    await s.page.goto(appUrl);
    // The .emi rides along, as a user drops a TIA folder; it is not an image of its own.
    await s.page.setInputFiles('#files', [...files, 'ser/16_STOimage.emi'].map((f) => join(emFormatsDir, f)));
    // Functions with an argument, not strings: the app's CSP forbids eval.
    await s.page.waitForFunction((n) => (globalThis as { emsegApp?: { entries(): number } }).emsegApp?.entries() === n, files.length);
    await s.page.waitForFunction((n) => (globalThis as unknown as { document: { querySelectorAll(q: string): { length: number } } }).document.querySelectorAll('figcaption').length === n, files.length);
    const captions = (await s.page.evaluate(`[...document.querySelectorAll('figcaption')].map((c) => ({ text: c.textContent, nm: c.querySelector('input').value }))`)) as { text: string; nm: string }[];
    for (const [i, f] of files.entries()) {
      const im = await readImage(join(emFormatsDir, f));
      assert.ok(captions[i].text.includes(`${im.width} × ${im.height} ${im.dtype}`), `${f}: ${captions[i].text}`);
      assert.equal(captions[i].nm, im.pixelSize ? String(im.pixelSize.x) : '', `${f} nm/px`);
    }
  });

  it('every request the app made stayed on its own server', () => {
    assert.ok(requests.some((u) => u.endsWith('.wasm')), requests.join('\n'));
    // blob: URLs of the page's own origin are the overlays it draws and the files it offers.
    assert.deepEqual(requests.filter((u) => !u.startsWith('http://127.0.0.1:') && !u.startsWith('blob:http://127.0.0.1:')), []);
  });
});
