/**
 * Digits drawn the way a person draws them in a paint program: thick dark strokes on a white
 * 120x120 canvas, as base64 PNG. Nothing like MNIST's white-on-black 28x28 crops, so they
 * exercise the image transform's inversion, cropping and centring.
 */
import { PNG } from 'pngjs';

type Point = [number, number];
const SIZE = 120;
const PEN = 7;

function strokePoints(stroke: Point[], steps = 200): Point[] {
  const out: Point[] = [];
  for (let s = 0; s + 1 < stroke.length; s += 1) {
    const [[x0, y0], [x1, y1]] = [stroke[s], stroke[s + 1]];
    for (let i = 0; i <= steps; i += 1) out.push([x0 + ((x1 - x0) * i) / steps, y0 + ((y1 - y0) * i) / steps]);
  }
  return out;
}

function ellipse(cx: number, cy: number, rx: number, ry: number, from = 0, to = 2 * Math.PI, n = 48): Point[] {
  return Array.from({ length: n + 1 }, (_, i) => {
    const t = from + ((to - from) * i) / n;
    return [cx + rx * Math.cos(t), cy + ry * Math.sin(t)] as Point;
  });
}

export const DRAWINGS: Record<string, Point[][]> = {
  '0': [ellipse(60, 60, 26, 40)],
  '1': [
    [
      [52, 28],
      [64, 18],
      [64, 102],
    ],
  ],
  '4': [
    [
      [70, 18],
      [30, 74],
      [92, 74],
    ],
    [
      [74, 40],
      [74, 104],
    ],
  ],
  '7': [
    [
      [30, 22],
      [90, 22],
      [50, 104],
    ],
  ],
};

export function drawDigitPng(digit: keyof typeof DRAWINGS): string {
  const png = new PNG({ width: SIZE, height: SIZE });
  png.data.fill(255);
  for (const stroke of DRAWINGS[digit]) {
    for (const [px, py] of strokePoints(stroke)) {
      for (let y = Math.floor(py - PEN); y <= py + PEN; y += 1) {
        for (let x = Math.floor(px - PEN); x <= px + PEN; x += 1) {
          if (x < 0 || y < 0 || x >= SIZE || y >= SIZE || (x - px) ** 2 + (y - py) ** 2 > PEN * PEN) continue;
          const i = (y * SIZE + x) * 4;
          png.data[i] = png.data[i + 1] = png.data[i + 2] = 20;
        }
      }
    }
  }
  return PNG.sync.write(png).toString('base64');
}
