/** A 256-entry colour table for the heatmap: dark blue -> magenta -> orange -> pale yellow. */

const STOPS: [number, number, number, number][] = [
  // position, r, g, b
  [0.0, 13, 8, 64],
  [0.25, 84, 15, 109],
  [0.5, 187, 55, 84],
  [0.75, 249, 142, 9],
  [1.0, 252, 255, 164],
];

export function colorAt(t: number): [number, number, number] {
  const x = Number.isFinite(t) ? Math.min(1, Math.max(0, t)) : 0;
  for (let s = 1; s < STOPS.length; s++) {
    const [p1, r1, g1, b1] = STOPS[s];
    if (x <= p1) {
      const [p0, r0, g0, b0] = STOPS[s - 1];
      const f = (x - p0) / (p1 - p0);
      return [Math.round(r0 + (r1 - r0) * f), Math.round(g0 + (g1 - g0) * f), Math.round(b0 + (b1 - b0) * f)];
    }
  }
  const last = STOPS[STOPS.length - 1];
  return [last[1], last[2], last[3]];
}

/**
 * 256 packed opaque RGBA colours along the map, for ImageData viewed as Uint32 (little-endian:
 * 0xAABBGGRR): entry i is the colour of position i / 255 on a scale. The heatmap's scale is
 * logarithmic (core/heatmapGrid.ts), so the ramp itself is linear.
 */
export function buildLut(): Uint32Array {
  const lut = new Uint32Array(256);
  for (let v = 0; v < 256; v++) {
    const [r, g, b, a] = [...colorAt(v / 255), 255];
    lut[v] = ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
  }
  return lut;
}

/** CSS colour of a weight in [0, 1] (model view cells, legends). */
export function cssColor(t: number): string {
  const [r, g, b] = colorAt(t);
  return `rgb(${r}, ${g}, ${b})`;
}
