// Charts drawn as plain SVG by this module: no library, nothing fetched. Each chart has a text
// alternative, and the page puts the numbers behind it in a table next to it.

import { h, svg } from './dom.js';

const WIDTH = 640;
const HEIGHT = 220;
const PAD = { left: 44, right: 8, top: 10, bottom: 28 };
const SERIES_STYLES = 6;

function legend(names) {
  return h('ul', { class: 'legend' },
    names.map((name, index) => h('li', {},
      h('span', { class: `swatch s${index % SERIES_STYLES}`, 'aria-hidden': 'true' }), name)));
}

/**
 * Bars per bucket, stacked by series. `series`: [{ name, values: [number per bucket] }];
 * `label` formats an axis value.
 */
export function stackedBars({ title, buckets, series, label = String }) {
  const stackTotals = buckets.map((_, index) =>
    series.reduce((sum, one) => sum + (one.values[index] || 0), 0));
  const top = Math.max(0, ...stackTotals) || 1;
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const plotHeight = HEIGHT - PAD.top - PAD.bottom;
  const slot = plotWidth / Math.max(1, buckets.length);
  const barWidth = Math.max(2, Math.min(40, slot * 0.7));
  const scale = (value) => (value / top) * plotHeight;
  const bars = [];
  buckets.forEach((bucket, index) => {
    let base = HEIGHT - PAD.bottom;
    series.forEach((one, seriesIndex) => {
      const value = one.values[index] || 0;
      if (value <= 0) return;
      const height = scale(value);
      base -= height;
      bars.push(svg('rect', {
        x: (PAD.left + index * slot + (slot - barWidth) / 2).toFixed(1),
        y: base.toFixed(1), width: barWidth.toFixed(1), height: height.toFixed(1),
        class: `s${seriesIndex % SERIES_STYLES}`, 'data-bucket': bucket, 'data-series': one.name,
        'data-value': value,
      }, svg('title', {}, `${bucket} · ${one.name}: ${label(value)}`)));
    });
  });
  const every = Math.ceil(buckets.length / 8);
  const ticks = buckets.map((bucket, index) => index % every === 0
    ? svg('text', { x: (PAD.left + index * slot + slot / 2).toFixed(1), y: HEIGHT - 8, 'text-anchor': 'middle' },
      bucket.length > 7 ? bucket.slice(5) : bucket)
    : null);
  const chart = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img',
    'aria-label': `${title}: ${buckets.length} buckets, highest ${label(top)}`,
  },
  svg('line', { class: 'axis', x1: PAD.left, x2: WIDTH - PAD.right, y1: HEIGHT - PAD.bottom, y2: HEIGHT - PAD.bottom }),
  svg('text', { x: PAD.left - 4, y: PAD.top + 8, 'text-anchor': 'end' }, label(top)),
  svg('text', { x: PAD.left - 4, y: HEIGHT - PAD.bottom, 'text-anchor': 'end' }, '0'),
  bars, ticks);
  return h('figure', { class: 'chart' }, h('figcaption', {}, h('strong', {}, title)), chart,
    legend(series.map((one) => one.name)));
}

/** One horizontal bar per item: [{ name, value: number, text }]. */
export function horizontalBars({ title, items }) {
  const rowHeight = 24;
  const height = Math.max(1, items.length) * rowHeight + 8;
  const top = Math.max(0, ...items.map((item) => item.value)) || 1;
  const labelWidth = 150;
  const plotWidth = WIDTH - labelWidth - 110;
  const rows = items.map((item, index) => {
    const y = 4 + index * rowHeight;
    const width = Math.max(item.value > 0 ? 1 : 0, (item.value / top) * plotWidth);
    return svg('g', {},
      svg('text', { x: labelWidth - 6, y: y + 15, 'text-anchor': 'end' }, item.name.slice(0, 24)),
      svg('rect', { x: labelWidth, y: y + 3, width: width.toFixed(1), height: rowHeight - 8,
        class: `s${index % SERIES_STYLES}`, 'data-series': item.name, 'data-value': item.value },
      svg('title', {}, `${item.name}: ${item.text}`)),
      svg('text', { x: labelWidth + width + 6, y: y + 15 }, item.text));
  });
  const chart = svg('svg', { viewBox: `0 0 ${WIDTH} ${height}`, role: 'img',
    'aria-label': `${title}: ${items.map((item) => `${item.name} ${item.text}`).join(', ')}` }, rows);
  return h('figure', { class: 'chart' }, h('figcaption', {}, h('strong', {}, title)), chart);
}
