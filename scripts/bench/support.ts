// Shared by the benchmarks: the hardware line, a progress bar, a plain table, percentiles and the bar chart.
import { cpus, totalmem } from 'node:os';

export const hardware = (): string =>
  `${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;

export function progress(label: string, done: number, total: number): void {
  if (!process.stderr.isTTY && done !== total && done % Math.max(1, Math.floor(total / 10)) !== 0) return;
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(`\r${label.padEnd(28)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}${done === total ? '\n' : ''}`);
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

/** The value at percentile `p` (0–100) of `xs`, nearest rank; 0 for none. */
export const percentile = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

export interface Bar {
  label: string;
  value: number;
  /** Written after the bar; the value to one decimal when absent. */
  text?: string;
  color?: string;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The benchmarks' chart: one horizontal bar per value, as an SVG document. A log scale where the values
 * span orders of magnitude (run.ts's strategies), linear otherwise; `footer` carries the hardware line.
 */
export function barChart(opts: { title: string; bars: Bar[]; log?: boolean; footer?: string }): string {
  const labelWidth = Math.max(120, ...opts.bars.map((b) => b.label.length * 7 + 20));
  const scale = (v: number) => (opts.log ? Math.log10(Math.max(1, v)) : Math.max(0, v));
  const max = Math.max(...opts.bars.map((b) => scale(b.value * 1.5)), 1e-9);
  const rows = opts.bars
    .map((b, i) => {
      const w = Math.max(2, (scale(b.value) / max) * 520);
      const y = 26 + i * 36;
      return (
        `<text x="10" y="${y + 14}" font-size="13">${escapeXml(b.label)}</text>` +
        `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="20" fill="${b.color ?? '#3b7dd8'}"/>` +
        `<text x="${(labelWidth + 6 + w).toFixed(1)}" y="${y + 14}" font-size="12">${escapeXml(b.text ?? b.value.toFixed(1))}</text>`
      );
    })
    .join('');
  const height = 50 + opts.bars.length * 36 + (opts.footer ? 20 : 0);
  const footer = opts.footer ? `<text x="10" y="${height - 12}" font-size="11" fill="#555">${escapeXml(opts.footer)}</text>` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + 640}" height="${height}" font-family="sans-serif"><text x="10" y="16" font-size="14">${escapeXml(opts.title)}</text>${rows}${footer}</svg>\n`;
}
