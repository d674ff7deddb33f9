// The extension's webviews (they sit in nested iframes; playwright's frame API reaches them): the
// heatmap canvas, the information-flow graph, the completion panel and a pinned hover card.
import { waitFor } from './util.mjs';

// The heatmap webview's frame (it holds the #heatmap canvas), drawn or not.
export async function heatmapFrame(page, timeout) {
  return waitFor('the heatmap webview', async () => {
    for (const f of page.frames()) {
      if (f !== page.mainFrame() && await f.evaluate(() => !!document.getElementById('heatmap')).catch(() => false)) return f;
    }
    return false;
  }, { timeout, interval: 50 });
}

// The heatmap page's state: what the canvas shows, its axes, legend and tooltip.
export async function heatmapState(frame) {
  return frame.evaluate(() => {
    const canvas = document.getElementById('heatmap');
    const tip = document.getElementById('tooltip');
    return {
      loading: document.body.classList.contains('loading'),
      n: Number(canvas.dataset.n || 0),
      bins: Number(canvas.dataset.bins || 0),
      detail: canvas.dataset.detail || '',
      leftTicks: [...document.querySelectorAll('#left-axis .tick')].map((t) => t.textContent),
      topTicks: [...document.querySelectorAll('#top-axis .tick')].map((t) => t.textContent),
      legendTicks: [...document.querySelectorAll('#legend-ticks span')].map((t) => t.textContent),
      legend: document.getElementById('legend-caption').textContent,
      status: document.getElementById('status').textContent,
      tooltip: tip.hidden ? '' : tip.innerText,
    };
  });
}

// Moves the mouse to a canvas point of the heatmap frame (CSS px from the canvas' corner) and reads
// the tooltip there.
export async function heatmapTooltip(frame, pt) {
  const canvas = frame.locator('#heatmap');
  await canvas.hover({ position: { x: pt.x + 2, y: pt.y }, timeout: 10000 });
  await canvas.hover({ position: pt, timeout: 10000 });
  return waitFor('the heatmap tooltip', async () => (await heatmapState(frame)).tooltip, { timeout: 5000, interval: 100 });
}

// The information-flow page's state once it has drawn a graph (null before): what the SVG holds.
export async function flowState(frame) {
  return frame.evaluate(() => {
    const svg = document.getElementById('flow');
    if (!svg || document.body.dataset.ready !== 'true' || document.body.classList.contains('loading')) return null;
    const ids = new Set([...svg.querySelectorAll('.node')].map((n) => n.dataset.id));
    const edges = [...svg.querySelectorAll('.edge')].map((e) => ({ kind: e.dataset.kind, source: e.dataset.source, target: e.dataset.target, width: Number(e.getAttribute('stroke-width')) }));
    const tip = document.getElementById('tooltip');
    return {
      target: svg.dataset.target || '',
      nodes: ids.size,
      hasTarget: ids.has(svg.dataset.target),
      edges,
      placed: edges.every((e) => ids.has(e.source) && ids.has(e.target)),
      targetLabel: svg.querySelector('.token-label.target')?.textContent ?? '',
      labels: [...svg.querySelectorAll('.token-label')].map((t) => t.textContent),
      layers: [...svg.querySelectorAll('.layer-label')].map((t) => t.textContent),
      legend: [...document.querySelectorAll('#legend .legend-item')].map((t) => t.textContent),
      status: document.getElementById('status').textContent,
      threshold: document.getElementById('threshold').value,
      tooltip: tip.hidden ? '' : tip.textContent,
    };
  });
}

// The information-flow webview's frame once it shows a graph for which `accept(state)` holds.
export async function flowFrame(page, timeout, accept = () => true) {
  return waitFor('the information-flow webview with a graph', async () => {
    for (const f of page.frames()) {
      if (f === page.mainFrame()) continue;
      const state = await flowState(f).catch(() => null);
      if (state && accept(state)) return { frame: f, state };
    }
    return false;
  }, { timeout, interval: 500 });
}

// Finds the webview frame that holds a canvas (webviews sit in nested iframes).
export async function findCanvasFrame(page, timeout) {
  return waitFor('a webview frame with a drawn canvas', async () => {
    for (const f of page.frames()) {
      if (f === page.mainFrame()) continue;
      const info = await f.evaluate(() => {
        const cs = [...document.querySelectorAll('canvas')].filter((c) => c.width > 0 && c.height > 0);
        if (!cs.length) return null;
        cs.sort((a, b) => b.width * b.height - a.width * a.height);
        const c = cs[0];
        let ctx = null;
        try { ctx = c.getContext('2d'); } catch { /* webgl canvas */ }
        if (!ctx) return { w: c.width, h: c.height, nonBlank: -1 };
        if (c.dataset.ready !== undefined && c.dataset.ready !== 'true') return null;
        const d = ctx.getImageData(0, 0, c.width, c.height).data;
        const tr = (c.width - 1) * 4;
        const bgKey = `${d[tr]},${d[tr + 1]},${d[tr + 2]},${d[tr + 3]}`;
        let nonBlank = 0; const colours = new Set();
        for (let p = 0; p < d.length; p += 4) {
          if (d[p + 3] === 0) continue;
          const key = `${d[p]},${d[p + 1]},${d[p + 2]},${d[p + 3]}`;
          if (key !== bgKey) nonBlank++;
          if (colours.size < 64) colours.add(key);
        }
        return { w: c.width, h: c.height, cssW: c.clientWidth, cssH: c.clientHeight, nonBlank, colours: colours.size, canvases: cs.length, n: c.dataset.n, drawMs: c.dataset.drawMs };
      }).catch(() => null);
      if (info && info.nonBlank !== 0) return { frame: f, info };
    }
    return false;
  }, { timeout, interval: 500 });
}

// A canvas point (CSS px, relative to the canvas) on a heatmap cell: a non-background pixel near
// the middle of the lower triangle; with `margin`, one whose neighbours that far away are drawn too
// (not an edge pixel that smoothing coloured).
export async function pickCell(frame, margin = 0) {
  return frame.evaluate((margin) => {
    const cs = [...document.querySelectorAll('canvas')].filter((c) => c.width > 0 && c.height > 0)
      .sort((a, b) => b.width * b.height - a.width * a.height);
    const c = cs[0];
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const tr = (c.width - 1) * 4;
    const bg = d.slice(tr, tr + 4).join(',');
    const drawn = (x, y) => { const p = (y * c.width + x) * 4; return d[p + 3] > 0 && d.slice(p, p + 4).join(',') !== bg; };
    const at = (x, y) => drawn(x, y) && (margin === 0 || (x >= margin && y >= margin && x + margin < c.width && y + margin < c.height &&
      drawn(x - margin, y) && drawn(x + margin, y) && drawn(x, y - margin) && drawn(x, y + margin)));
    const target = { x: c.width * 0.35, y: c.height * 0.65 };
    let best = null; let bestD = Infinity;
    const step = Math.max(1, Math.floor(Math.min(c.width, c.height) / 200));
    for (let y = 0; y < c.height; y += step) {
      for (let x = 0; x < c.width; x += step) {
        if (!at(x, y)) continue;
        const dd = (x - target.x) ** 2 + (y - target.y) ** 2;
        if (dd < bestD) { bestD = dd; best = { x, y }; }
      }
    }
    if (!best) return null;
    return { x: best.x * (c.clientWidth / c.width), y: best.y * (c.clientHeight / c.height) };
  }, margin);
}


// The Completion page's state once it shows a completion (null before): what its sections hold.
export async function completionState(frame) {
  return frame.evaluate(() => {
    if (document.body.dataset.ready !== 'true' || document.body.classList.contains('loading') || !document.getElementById('tokens')) return null;
    const texts = (sel) => [...document.querySelectorAll(sel)].map((e) => e.textContent.replace(/\s+/g, ' ').trim());
    const chips = [...document.querySelectorAll('#tokens .chip')].map((c) => ({
      label: c.querySelector('.token .label')?.textContent ?? '',
      prob: c.querySelector('.token .prob')?.textContent ?? '',
      entropy: c.querySelector('.entropy')?.textContent ?? '',
      alternatives: c.querySelectorAll('button.alt').length,
      branchable: c.querySelectorAll('button.alt:not(:disabled)').length,
      forced: c.classList.contains('forced'),
      selected: c.classList.contains('selected'),
      read: [...c.classList].some((k) => /^read\d$/.test(k)),
    }));
    const section = (id) => {
      const root = document.getElementById(id);
      return root ? { heading: root.querySelector('h2')?.textContent ?? '', meta: root.querySelector('.meta')?.textContent ?? '', text: root.textContent.replace(/\s+/g, ' '), rows: root.querySelectorAll('tr[data-first]').length, tinted: root.querySelectorAll('td.swatch[class*="pos"], td.swatch[class*="neg"]').length } : null;
    };
    return {
      status: document.getElementById('status').textContent,
      note: document.getElementById('note').hidden ? '' : document.getElementById('note').textContent,
      text: document.getElementById('text').textContent,
      chips,
      attention: document.getElementById('attention').textContent,
      instant: section('instant'),
      removals: section('removals'),
      explainLabel: document.getElementById('explain').textContent,
      regenerated: document.getElementById('regenerated').hidden ? null : { reason: document.getElementById('regenerate-reason').textContent, parts: texts('#diff > *').length, ops: [...document.querySelectorAll('#diff > *')].map((e) => e.className) },
    };
  });
}

// The Completion webview's frame once its state satisfies `accept(state)`.
export async function completionFrame(page, timeout, accept = () => true) {
  return waitFor('the completion webview', async () => {
    for (const f of page.frames()) {
      if (f === page.mainFrame()) continue;
      const state = await completionState(f).catch(() => null);
      if (state && accept(state)) return { frame: f, state };
    }
    return false;
  }, { timeout, interval: 500 });
}

// A pinned hover card's page (null elsewhere): the card's text, its links and the copy status.
export async function pinnedState(frame) {
  return frame.evaluate(() => {
    const card = document.getElementById('card');
    if (!card || !document.getElementById('copy')) return null;
    return {
      text: card.innerText,
      links: [...card.querySelectorAll('a')].map((a) => a.getAttribute('href') || ''),
      tables: card.querySelectorAll('table').length,
      status: document.getElementById('status').textContent,
    };
  });
}

// The pinned hover card's frame once its state satisfies `accept(state)`.
export async function pinnedFrame(page, timeout, accept = () => true) {
  return waitFor('the pinned hover card webview', async () => {
    for (const f of page.frames()) {
      if (f === page.mainFrame()) continue;
      const state = await pinnedState(f).catch(() => null);
      if (state && accept(state)) return { frame: f, state };
    }
    return false;
  }, { timeout, interval: 500 });
}
