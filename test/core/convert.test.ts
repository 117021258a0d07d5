import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  CocoBuilder,
  EmsegError,
  connectedComponents,
  decodeRle,
  labelMapToInstances,
  parseLabelboxExport,
  parseVocXml,
  rotatedBoxCorners,
  seededRandom,
} from '../../core/index.ts';
import { sharedDir } from '../helpers/fixtures.ts';

describe('labelMapToInstances', () => {
  it('splits an instance-id image into exact masks with tight boxes', () => {
    const W = 7, H = 5;
    // prettier-ignore
    const labels = [
      0, 0, 3, 3, 0, 0, 0,
      0, 1, 3, 0, 0, 2, 2,
      0, 1, 0, 0, 0, 2, 2,
      0, 1, 1, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 9,
    ];
    const inst = labelMapToInstances(labels, W, H);
    assert.deepEqual(inst.map((i) => i.label), [1, 2, 3, 9]);
    for (const i of inst) {
      const m = decodeRle(i.rle);
      assert.deepEqual([...m], labels.map((v) => (v === i.label ? 1 : 0)), `label ${i.label}`);
      assert.equal(i.area, m.reduce((a, b) => a + b, 0));
    }
    assert.deepEqual(inst[0].bbox, [1, 1, 2, 3]);
    assert.deepEqual(inst[3].bbox, [6, 4, 1, 1]);
    assert.deepEqual(labelMapToInstances(labels, W, H, { minArea: 3 }).map((i) => i.label), [1, 2, 3]);
    const withRbox = labelMapToInstances(labels, W, H, { rbox: true });
    assert.ok(withRbox.every((i) => i.rbox && i.rbox[2] >= 1 && i.rbox[3] >= 1));
  });
});

describe('connectedComponents', () => {
  it('matches a flood-fill oracle with 8-connectivity on random masks', () => {
    const rand = seededRandom(17);
    for (let t = 0; t < 40; t++) {
      const W = 1 + Math.floor(rand() * 30), H = 1 + Math.floor(rand() * 30);
      const mask = Uint8Array.from({ length: W * H }, () => (rand() < 0.4 ? 1 : 0));
      const { labels, count } = connectedComponents(mask, W, H);
      // Oracle: BFS flood fill.
      const seen = new Int32Array(W * H);
      let n = 0;
      for (let s = 0; s < W * H; s++) {
        if (!mask[s] || seen[s]) continue;
        n++;
        const queue = [s];
        seen[s] = n;
        while (queue.length) {
          const p = queue.pop()!;
          const x = p % W, y = (p - x) / W;
          for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
            const xx = x + dx, yy = y + dy;
            if (xx < 0 || yy < 0 || xx >= W || yy >= H) continue;
            const q = yy * W + xx;
            if (mask[q] && !seen[q]) {
              seen[q] = n;
              queue.push(q);
            }
          }
        }
      }
      assert.equal(count, n);
      assert.deepEqual([...labels], [...seen], `trial ${t}`);
    }
  });
});

describe('parseVocXml', () => {
  const voc = `<annotation><filename>a.png</filename><size><width>100</width><height>80</height><depth>1</depth></size>
    <object><name>vesicle</name><difficult>0</difficult><bndbox><xmin>11</xmin><ymin>21</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>
    <object><type>robndbox</type><name>rod</name><robndbox><cx>50</cx><cy>40</cy><w>30</w><h>6</h><angle>0.5</angle></robndbox></object></annotation>`;

  it('converts VOC boxes (1-based inclusive) as detectron2 does', () => {
    const a = parseVocXml(voc, 'a.xml');
    assert.equal(a.fileName, 'a.png');
    assert.deepEqual([a.width, a.height], [100, 80]);
    assert.deepEqual(a.objects[0].bbox, [10, 20, 20, 20]);
  });

  it("maps roLabelImg's clockwise radians to emseg's counter-clockwise degrees: same corners", () => {
    const [, rod] = parseVocXml(voc, 'a.xml').objects;
    assert.ok(rod.rbox);
    assert.ok(Math.abs(rod.rbox[4] - (-0.5 * 180) / Math.PI) < 1e-12);
    // roLabelImg's own reader puts corners at c + (u cos a - v sin a, u sin a + v cos a).
    const a = 0.5;
    const theirs = [[-15, -3], [15, -3], [15, 3], [-15, 3]].map(([u, v]) => [50 + u * Math.cos(a) - v * Math.sin(a), 40 + u * Math.sin(a) + v * Math.cos(a)]);
    const ours = rotatedBoxCorners(rod.rbox);
    for (let i = 0; i < 4; i++) {
      assert.ok(Math.abs(ours[i][0] - theirs[i][0]) < 1e-9 && Math.abs(ours[i][1] - theirs[i][1]) < 1e-9, `corner ${i}: ${ours[i]} vs ${theirs[i]}`);
    }
    // bbox is the rotated box's enclosing box.
    const xs = ours.map((p) => p[0]);
    assert.ok(Math.abs(rod.bbox[0] - Math.min(...xs)) < 1e-9);
  });

  it('rejects broken XML and missing fields with typed errors naming the file', () => {
    const expect = (xml: string, code: string, re: RegExp) =>
      assert.throws(() => parseVocXml(xml, 'bad.xml'), (e: unknown) => e instanceof EmsegError && e.code === code && re.test(e.message) && e.message.includes('bad.xml'));
    expect('<annotation><size>', 'EMSEG_XML_INVALID', /invalid XML/);
    expect('<foo/>', 'EMSEG_CONVERT_INVALID', /<annotation>/);
    expect(voc.replace('<xmin>11</xmin>', '<xmin>eleven</xmin>'), 'EMSEG_CONVERT_INVALID', /<bndbox><xmin>: expected a number/);
    expect(voc.replace('<width>100</width>', '<width>0</width>'), 'EMSEG_CONVERT_INVALID', /positive integer width/);
  });

  it('refuses well-formed XML the parser will not build (fuzzing: were plain Errors from fast-xml-parser)', () => {
    const refused = (xml: string, re: RegExp) =>
      assert.throws(() => parseVocXml(xml, 'odd.xml'), (e: unknown) => e instanceof EmsegError && e.code === 'EMSEG_XML_INVALID' && re.test(e.message) && e.message.startsWith('odd.xml: '));
    // A tag named like an Object.prototype member, and elements nested past the parser's limit.
    refused(voc.replace('<difficult>0</difficult>', '<constructor>0</constructor>'), /reserved JavaScript keyword/);
    refused(voc.replace('<depth>1</depth>', `${'<a>'.repeat(200)}${'</a>'.repeat(200)}`), /nested tags/);
  });
});

describe('parseLabelboxExport', () => {
  it('reads the DeepSEM nanowire export (3 images, 477 boxes, 3 classes)', () => {
    const file = join(sharedDir, 'data', 'deepsem-nanowires', 'labels', 'nw_yield_val.json');
    const rows = parseLabelboxExport(JSON.parse(readFileSync(file, 'utf8')), file);
    assert.equal(rows.length, 3);
    assert.equal(rows.reduce((s, r) => s + r.objects.length, 0), 477);
    assert.deepEqual([...new Set(rows.flatMap((r) => r.objects.map((o) => o.value)))].sort(), ['nanospade', 'nw', 'parasitic']);
  });

  it('rejects rows without boxes', () => {
    assert.throws(() => parseLabelboxExport([{ 'External ID': 'x.png', Label: { objects: [{ value: 'nw', polygon: [] }] } }], 'lb.json'), /lb\.json: row 0 \(x\.png\): object 0/);
    assert.throws(() => parseLabelboxExport({}, 'lb.json'), /expected a Labelbox JSON export/);
  });
});

describe('CocoBuilder', () => {
  it('numbers ids from 1 and categories in the given order', () => {
    const b = new CocoBuilder(['b', 'a']);
    const im = b.addImage('x.png', 10, 10);
    b.addObject(im, { category: 'a', bbox: [0, 0, 2, 3] });
    b.addObject(im, { category: 'c', bbox: [1, 1, 1, 1] });
    const ds = b.build();
    assert.deepEqual(ds.categories, [{ id: 1, name: 'b' }, { id: 2, name: 'a' }, { id: 3, name: 'c' }]);
    assert.deepEqual(ds.annotations.map((a) => [a.id, a.category_id, a.area]), [[1, 2, 6], [2, 3, 1]]);
  });
});
