/** Standalone bundle entry: exposes the drawing code to plain pages (benchmarks). */
import { codeWeight, decodeGrid, logScale } from '../core/heatmapGrid';
import { decodeBase64, encodeBase64 } from '../core/triangle';
import { drawHeatmap, drawLayers, makeLayer, renderGrid } from './heatmapDraw';

const api = { drawHeatmap, drawLayers, makeLayer, renderGrid, decodeGrid, logScale, codeWeight, decodeBase64, encodeBase64 };

declare global {
  interface Window {
    drawHeatmap: typeof drawHeatmap;
    AttenScopeHeatmap: typeof api;
  }
}

window.drawHeatmap = drawHeatmap;
window.AttenScopeHeatmap = api;
