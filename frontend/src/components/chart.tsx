import { parseAmount } from '../money';

export interface Bar {
  label: string;
  /** Decimal string (money) or plain number, used only for the bar's length. */
  value: string;
  /** What is written next to the bar. */
  display: string;
}

/** A ratio for drawing only (never money arithmetic): `value / max`, in [0, 1]. */
export function ratio(value: string, max: string): number {
  const m = parseAmount(max);
  if (m <= 0n) return 0;
  const v = parseAmount(value);
  if (v <= 0n) return 0;
  // Ten-thousandths of a percent are plenty for pixels.
  return Math.min(1, Number((v * 1_000_000n) / m) / 1_000_000);
}

/**
 * Horizontal bars in plain SVG. The SVG is an image with a text alternative; the same
 * figures are in a table next to it for screen readers.
 */
export function BarChart({ title, bars, testId }: { title: string; bars: Bar[]; testId?: string }) {
  const rowH = 26;
  const labelW = 180;
  const valueW = 110;
  const width = 640;
  const barW = width - labelW - valueW - 16;
  const max = bars.reduce((m, b) => (parseAmount(b.value) > parseAmount(m) ? b.value : m), '0');
  const height = Math.max(1, bars.length) * rowH + 8;
  const summary = `${title}: ${bars.map((b) => `${b.label} ${b.display}`).join('; ')}`;
  return (
    <figure className="chart" data-testid={testId}>
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={summary} preserveAspectRatio="xMinYMin meet">
        <title>{summary}</title>
        {bars.map((b, i) => {
          const y = 4 + i * rowH;
          const w = Math.max(b.value === '0' ? 0 : 2, ratio(b.value, max) * barW);
          return (
            <g key={`${b.label}-${i}`}>
              <text x={labelW - 8} y={y + rowH / 2 + 5} textAnchor="end" className="chart-label">
                {b.label.length > 24 ? `${b.label.slice(0, 23)}…` : b.label}
              </text>
              <rect x={labelW} y={y + 4} width={w} height={rowH - 8} className="chart-bar" rx="2" />
              <text x={labelW + w + 6} y={y + rowH / 2 + 5} className="chart-value">
                {b.display}
              </text>
            </g>
          );
        })}
      </svg>
      <figcaption className="sr-only">{title}</figcaption>
    </figure>
  );
}

/** Spent against a budget: a meter-like bar with the budget's thresholds marked. */
export function BudgetBar({
  spent,
  budget,
  thresholds,
  label,
}: {
  spent: string;
  budget: string | null;
  thresholds: number[];
  label: string;
}) {
  if (budget === null) return null;
  const b = parseAmount(budget);
  const s = parseAmount(spent);
  const percent = b > 0n ? Number((s * 10_000n) / b) / 100 : s > 0n ? 100 : 0;
  const level = percent >= 100 ? 'over' : thresholds.some((t) => percent >= t) ? 'warn' : 'ok';
  return (
    <div className={`budget-bar budget-${level}`} role="img" aria-label={label} data-percent={percent.toFixed(2)}>
      <div className="budget-fill" style={{ width: `${Math.min(100, percent)}%` }} />
      {thresholds
        .filter((t) => t > 0 && t < 100)
        .map((t) => (
          <span key={t} className="budget-mark" style={{ left: `${t}%` }} aria-hidden="true" />
        ))}
    </div>
  );
}
