/** Standalone bundle entry: exposes the drawing function to plain pages (benchmarks). */
import { decodeBase64, decodeTriangle, cellIndex, cellFromIndex, encodeBase64, triangleSize } from '../core/triangle';
import { drawHeatmap, renderTriangle } from './heatmapDraw';

const api = { drawHeatmap, renderTriangle, decodeBase64, encodeBase64, decodeTriangle, cellIndex, cellFromIndex, triangleSize };

declare global {
  interface Window {
    drawHeatmap: typeof drawHeatmap;
    AttenScopeHeatmap: typeof api;
  }
}

window.drawHeatmap = drawHeatmap;
window.AttenScopeHeatmap = api;
