/** A small dependency-free SVG line chart for the bench pages (one x axis, several series). */

export interface Series {
  name: string;
  /** One value per x; NaN leaves a gap. */
  y: number[];
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  x: number[];
  series: Series[];
  /** x on a log scale (sizes that grow by orders of magnitude). */
  logX?: boolean;
  width?: number;
  height?: number;
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(value: number): number {
  if (!(value > 0)) return 1;
  const step = 10 ** Math.floor(Math.log10(value));
  return Math.ceil(value / step) * step;
}

const label = (n: number) => (n >= 10_000 ? `${Math.round(n / 1000)}k` : n >= 1000 ? `${(n / 1000).toFixed(1)}k` : String(Math.round(n * 10) / 10));

export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 560;
  const height = spec.height ?? 320;
  const m = { left: 64, right: 16, top: 36, bottom: 48 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const xs = spec.logX ? spec.x.map((v) => Math.log10(v)) : spec.x;
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const yMax = niceMax(Math.max(0, ...spec.series.flatMap((s) => s.y.filter(Number.isFinite))));
  const px = (i: number) => m.left + (x1 === x0 ? w / 2 : ((xs[i]! - x0) / (x1 - x0)) * w);
  const py = (v: number) => m.top + h - (v / yMax) * h;
  const parts: string[] = [];
  parts.push(`<text x="${m.left}" y="20" font-weight="600">${escape(spec.title)}</text>`);
  parts.push(`<line x1="${m.left}" y1="${m.top + h}" x2="${m.left + w}" y2="${m.top + h}" stroke="#888"/>`);
  parts.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + h}" stroke="#888"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = (yMax * k) / 4;
    parts.push(`<line x1="${m.left}" y1="${py(v)}" x2="${m.left + w}" y2="${py(v)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 6}" y="${py(v) + 4}" text-anchor="end" font-size="11">${label(v)}</text>`);
  }
  spec.x.forEach((v, i) => parts.push(`<text x="${px(i)}" y="${m.top + h + 16}" text-anchor="middle" font-size="11">${label(v)}</text>`));
  parts.push(`<text x="${m.left + w / 2}" y="${height - 8}" text-anchor="middle" font-size="12">${escape(spec.xLabel)}</text>`);
  parts.push(`<text x="14" y="${m.top + h / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${m.top + h / 2})">${escape(spec.yLabel)}</text>`);
  spec.series.forEach((s, k) => {
    const colour = COLOURS[k % COLOURS.length]!;
    // A missing point breaks the line instead of drawing it down to 0.
    let path = '';
    let pen = false;
    s.y.forEach((v, i) => {
      if (!Number.isFinite(v)) { pen = false; return; }
      path += `${pen ? 'L' : 'M'}${px(i).toFixed(1)},${py(v).toFixed(1)}`;
      pen = true;
      parts.push(`<circle cx="${px(i).toFixed(1)}" cy="${py(v).toFixed(1)}" r="3" fill="${colour}"><title>${escape(s.name)}: ${label(v)} at ${label(spec.x[i]!)}</title></circle>`);
    });
    parts.push(`<path d="${path}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    parts.push(`<text x="${m.left + w - 4}" y="${m.top + 14 + k * 15}" text-anchor="end" font-size="12" fill="${colour}">${escape(s.name)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}
