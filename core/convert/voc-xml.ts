import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { EmsegError } from '../errors.ts';
import { normalizeAngle } from '../geometry/rotated-box.ts';
import type { BoxXYWH, RotatedBox } from '../geometry/types.ts';

/** One image's objects from a LabelImg (Pascal VOC) or roLabelImg XML file. */
export interface VocAnnotation {
  fileName: string;
  width: number;
  height: number;
  objects: { name: string; difficult: boolean; bbox: BoxXYWH; rbox?: RotatedBox }[];
}

const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, isArray: (name) => name === 'object' });

/**
 * Parse LabelImg / roLabelImg XML.
 * - `bndbox` (xmin, ymin, xmax, ymax): Pascal VOC's 1-based inclusive pixel indices, converted as
 *   detectron2 does: x = xmin - 1, y = ymin - 1, w = xmax - x, h = ymax - y.
 * - `robndbox` (cx, cy, w, h, angle in radians): roLabelImg draws corners at
 *   (cx + u cos a - v sin a, cy + u sin a + v cos a), i.e. a positive angle turns the box CLOCKWISE
 *   on screen. emseg's XYWHA angle is counter-clockwise as displayed, so angleDeg = -a * 180 / pi
 *   (wrapped to [-180, 180)); cx, cy, w, h are unchanged. `bbox` is then the rotated box's enclosing box.
 */
export function parseVocXml(xml: string, file: string): VocAnnotation {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new EmsegError('EMSEG_XML_INVALID', `${file}: invalid XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`, { file });
  }
  let doc: { annotation?: Record<string, unknown> };
  try {
    doc = parser.parse(xml) as { annotation?: Record<string, unknown> };
  } catch (e) {
    // Well-formed XML the parser still refuses: elements nested deeper than its limit (100), tag
    // names such as "constructor" or "__proto__" (prototype pollution guard), entity expansion limits.
    throw new EmsegError('EMSEG_XML_INVALID', `${file}: cannot read the XML: ${e instanceof Error ? e.message : String(e)}`, { file, cause: e });
  }
  const ann = doc.annotation;
  if (!ann || typeof ann !== 'object') {
    throw new EmsegError('EMSEG_CONVERT_INVALID', `${file}: expected a Pascal VOC <annotation> root element`, { file });
  }
  const num = (v: unknown, where: string): number => {
    const n = typeof v === 'string' ? Number(v.trim()) : NaN;
    if (!Number.isFinite(n)) {
      throw new EmsegError('EMSEG_CONVERT_INVALID', `${file}: ${where}: expected a number, received ${JSON.stringify(v ?? null)}`, { file });
    }
    return n;
  };
  const size = (ann.size ?? {}) as Record<string, unknown>;
  const width = num(size.width, '<size><width>');
  const height = num(size.height, '<size><height>');
  if (!(Number.isInteger(width) && width > 0 && Number.isInteger(height) && height > 0)) {
    throw new EmsegError('EMSEG_CONVERT_INVALID', `${file}: <size> must give positive integer width and height, received ${width} x ${height}`, { file });
  }
  const objects = ((ann.object ?? []) as Record<string, unknown>[]).map((o, i) => {
    const where = `<object> ${i + 1}`;
    const name = typeof o.name === 'string' ? o.name.trim() : '';
    if (!name) throw new EmsegError('EMSEG_CONVERT_INVALID', `${file}: ${where}: missing <name>`, { file });
    const difficult = String(o.difficult ?? '0').trim() === '1';
    if (o.robndbox && typeof o.robndbox === 'object') {
      const r = o.robndbox as Record<string, unknown>;
      const cx = num(r.cx, `${where} <robndbox><cx>`);
      const cy = num(r.cy, `${where} <robndbox><cy>`);
      const w = num(r.w, `${where} <robndbox><w>`);
      const h = num(r.h, `${where} <robndbox><h>`);
      const a = num(r.angle, `${where} <robndbox><angle>`);
      if (w < 0 || h < 0) throw new EmsegError('EMSEG_CONVERT_INVALID', `${file}: ${where}: negative <robndbox> size ${w} x ${h}`, { file });
      const angle = normalizeAngle((-a * 180) / Math.PI);
      const t = (angle * Math.PI) / 180;
      const ex = (w * Math.abs(Math.cos(t)) + h * Math.abs(Math.sin(t))) / 2;
      const ey = (w * Math.abs(Math.sin(t)) + h * Math.abs(Math.cos(t))) / 2;
      return { name, difficult, bbox: [cx - ex, cy - ey, 2 * ex, 2 * ey] as BoxXYWH, rbox: [cx, cy, w, h, angle] as RotatedBox };
    }
    if (o.bndbox && typeof o.bndbox === 'object') {
      const b = o.bndbox as Record<string, unknown>;
      const xmin = num(b.xmin, `${where} <bndbox><xmin>`);
      const ymin = num(b.ymin, `${where} <bndbox><ymin>`);
      const xmax = num(b.xmax, `${where} <bndbox><xmax>`);
      const ymax = num(b.ymax, `${where} <bndbox><ymax>`);
      if (xmax < xmin || ymax < ymin) {
        throw new EmsegError('EMSEG_CONVERT_INVALID', `${file}: ${where}: <bndbox> has xmax < xmin or ymax < ymin`, { file });
      }
      const x = xmin - 1, y = ymin - 1;
      return { name, difficult, bbox: [x, y, xmax - x, ymax - y] as BoxXYWH };
    }
    throw new EmsegError('EMSEG_CONVERT_INVALID', `${file}: ${where}: has neither <bndbox> nor <robndbox>`, { file });
  });
  const fileName = typeof ann.filename === 'string' ? ann.filename.trim() : '';
  return { fileName, width, height, objects };
}
