import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

/**
 * A uPlot chart of one series over time. uPlot draws on a canvas and is rebuilt only when the size
 * changes; new data goes through setData, so a live chart costs little per refresh.
 */
export function TimeChart({ xs, ys, label, width = 640, height = 200, color = '#2563eb', sparkline = false }) {
  const host = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const options = sparkline
      ? {
          width,
          height,
          class: 'sparkline',
          cursor: { show: false },
          legend: { show: false },
          scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
          axes: [{ show: false }, { show: false }],
          padding: [3, 0, 3, 0],
          select: { show: false },
          series: [{}, { stroke: color, width: 1.5, fill: color + '22', points: { show: false } }],
        }
      : {
          width,
          height,
          scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
          series: [{}, { label, stroke: color, width: 2, fill: color + '18' }],
          axes: [{}, { size: 60 }],
        };
    plot.current = new uPlot(options, [xs.slice(), ys.slice()], host.current);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [width, height, sparkline, label, color]);
  useEffect(() => {
    plot.current?.setData([xs.slice(), ys.slice()]);
  });
  return html`<div class=${sparkline ? 'chart chart-spark' : 'chart'} ref=${host} data-points=${xs.length}></div>`;
}

/** A live chart of values the page polled; until two points are in, a line saying so (one point has no time axis). */
export function LiveChart({ series, label, color }) {
  if (series.x.length < 2) return html`<p class="muted">Collecting points for the chart (one per refresh)…</p>`;
  return html`<${TimeChart} xs=${series.x} ys=${series.y} label=${label} color=${color} />`;
}

/** A throughput series from the API ([{ atMs, recordsPerSecond }]) as a sparkline. */
export function Sparkline({ points, width = 160, height = 32 }) {
  if (!points || points.length < 2) return html`<span class="muted sparkline-empty" title="fewer than two samples yet">–</span>`;
  return html`<${TimeChart} xs=${points.map((p) => p.atMs / 1000)} ys=${points.map((p) => p.recordsPerSecond)} width=${width} height=${height} sparkline=${true} />`;
}
