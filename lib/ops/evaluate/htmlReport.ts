/**
 * A self-contained HTML report of an evaluation (no scripts, no external files): the headline
 * metrics, per-class scores, the confusion matrix as a shaded grid and the ROC curves, as SVG.
 */
import type { ClassificationReport } from './classification.js';
import type { Evaluation } from './evaluate.js';
import type { RegressionReport } from './regression.js';
import type { RocPoint } from './roc.js';

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const fmt = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(4));
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

function metricsTable(metrics: Record<string, number>): string {
  const rows = Object.entries(metrics).map(([name, value]) => `<tr><th>${escapeHtml(name)}</th><td>${fmt(value)}</td></tr>`);
  return `<table class="metrics">${rows.join('')}</table>`;
}

function perClassTable(report: ClassificationReport): string {
  const head = '<tr><th>class</th><th>precision</th><th>recall</th><th>f1</th><th>support</th></tr>';
  const rows = report.perClass.map(
    (m) => `<tr><th>${escapeHtml(m.label)}</th><td>${fmt(m.precision)}</td><td>${fmt(m.recall)}</td><td>${fmt(m.f1)}</td><td>${m.support}</td></tr>`,
  );
  const avg = (name: string, m: { precision: number; recall: number; f1: number }) =>
    `<tr class="avg"><th>${name}</th><td>${fmt(m.precision)}</td><td>${fmt(m.recall)}</td><td>${fmt(m.f1)}</td><td>${report.count}</td></tr>`;
  return `<table>${head}${rows.join('')}${avg('macro avg', report.macro)}${avg('weighted avg', report.weighted)}</table>`;
}

/** Cells shaded by the share of their true class (row), so small classes read as well as big ones. */
function confusionMatrixSvg(labels: string[], matrix: number[][]): string {
  const cell = Math.max(28, Math.min(56, Math.floor(480 / labels.length)));
  const margin = 90;
  const size = margin + cell * labels.length;
  const parts: string[] = [];
  matrix.forEach((row, t) => {
    const total = row.reduce((a, b) => a + b, 0) || 1;
    row.forEach((count, p) => {
      const share = count / total;
      const x = margin + p * cell;
      const y = margin + t * cell;
      const fill = t === p ? `rgba(44,160,44,${0.15 + 0.85 * share})` : `rgba(214,39,40,${share === 0 ? 0.03 : 0.15 + 0.85 * share})`;
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" stroke="#fff"><title>true ${escapeHtml(labels[t])}, predicted ${escapeHtml(labels[p])}: ${count}</title></rect>`,
      );
      parts.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" font-size="${cell > 36 ? 13 : 10}">${count}</text>`);
    });
  });
  labels.forEach((label, i) => {
    parts.push(`<text x="${margin + i * cell + cell / 2}" y="${margin - 8}" text-anchor="middle" font-size="12">${escapeHtml(label)}</text>`);
    parts.push(`<text x="${margin - 8}" y="${margin + i * cell + cell / 2 + 4}" text-anchor="end" font-size="12">${escapeHtml(label)}</text>`);
  });
  parts.push(`<text x="${margin + (cell * labels.length) / 2}" y="20" text-anchor="middle" font-weight="bold">predicted</text>`);
  parts.push(`<text transform="translate(18 ${margin + (cell * labels.length) / 2}) rotate(-90)" text-anchor="middle" font-weight="bold">true</text>`);
  return `<svg width="${size + 10}" height="${size + 10}" role="img" aria-label="confusion matrix">${parts.join('')}</svg>`;
}

function rocSvg(curves: { label: string; points: RocPoint[] }[], auc?: number): string {
  const size = 320;
  const pad = 40;
  const x = (fpr: number) => pad + fpr * (size - 2 * pad);
  const y = (tpr: number) => size - pad - tpr * (size - 2 * pad);
  const lines = curves.map((curve, i) => {
    const d = curve.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${x(p.fpr).toFixed(1)},${y(p.tpr).toFixed(1)}`).join(' ');
    return `<path d="${d}" fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="2"><title>${escapeHtml(curve.label)}</title></path>`;
  });
  const legend = curves.map(
    (c, i) =>
      `<text x="${size - pad}" y="${size - pad - 8 - 14 * (curves.length - 1 - i)}" text-anchor="end" font-size="11" fill="${COLORS[i % COLORS.length]}">${escapeHtml(c.label)}</text>`,
  );
  return `<svg width="${size}" height="${size}" role="img" aria-label="ROC curve">
<rect x="${pad}" y="${pad}" width="${size - 2 * pad}" height="${size - 2 * pad}" fill="none" stroke="#999"/>
<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#bbb" stroke-dasharray="4 4"/>
${lines.join('')}${legend.join('')}
<text x="${size / 2}" y="${size - 8}" text-anchor="middle" font-size="12">false positive rate</text>
<text transform="translate(14 ${size / 2}) rotate(-90)" text-anchor="middle" font-size="12">true positive rate</text>
<text x="${size / 2}" y="24" text-anchor="middle" font-weight="bold">ROC${auc !== undefined ? ` (AUC ${auc.toFixed(4)})` : ''}</text></svg>`;
}

function regressionSection(report: RegressionReport): string {
  return `<p>${report.count} rows. Errors are in the target's units.${report.r2Error ? ` ${escapeHtml(report.r2Error)}.` : ''}</p>`;
}

export function htmlReport(evaluation: Evaluation): string {
  const { report } = evaluation;
  const title = `${evaluation.model.name}:${evaluation.model.version} on ${evaluation.source}`;
  const body =
    'accuracy' in report
      ? `<h2>Per class</h2>${perClassTable(report)}
<div class="figures"><figure><figcaption>Confusion matrix (rows: true class, shaded by row share)</figcaption>${confusionMatrixSvg(
          report.perClass.map((m) => m.label),
          report.confusionMatrix,
        )}</figure>
${report.rocCurves ? `<figure><figcaption>ROC ${report.rocCurves.length > 1 ? '(one vs rest)' : ''}</figcaption>${rocSvg(report.rocCurves, report.rocAuc)}</figure>` : `<p>${escapeHtml(report.rocAucError ?? '')}</p>`}</div>`
      : regressionSection(report);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin:1rem 0}th,td{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:right}th{text-align:left}tr.avg{font-style:italic}.figures{display:flex;flex-wrap:wrap;gap:2rem}figcaption{font-weight:bold;margin-bottom:.5rem}</style>
</head><body>
<h1>${escapeHtml(title)}</h1>
<p>Task: ${escapeHtml(evaluation.task)}. ${evaluation.count} rows, evaluated ${escapeHtml(evaluation.createdAt)} in ${evaluation.durationMs} ms.</p>
<h2>Metrics</h2>${metricsTable(evaluation.metrics)}
${body}
</body></html>`;
}
