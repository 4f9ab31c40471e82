import { useEffect, useRef } from 'react';
import type { MyCosts } from '../api';
import { useApp } from '../app-context';
import { BarChart, BudgetBar } from '../components/chart';
import { ErrorMessage, Loading } from '../components/common';
import { currentMonth, formatHours, formatMonth } from '../format';
import { useI18n } from '../i18n';
import { formatMoney, parseAmount } from '../money';
import { useLoad } from '../poll';

/** Percentage of `budget` spent, for wording only. */
export function spentPercent(total: string, budget: string): number {
  const b = parseAmount(budget);
  return b > 0n ? Number((parseAmount(total) * 10_000n) / b) / 100 : 0;
}

/**
 * "Cost to date this month": total, budget, a bar per workspace and the detail table.
 * Loads again (keeping the figures on screen) whenever `refreshKey` changes, e.g. a state.
 */
export function CostPanel({ month = currentMonth(), refreshKey = '' }: { month?: string; refreshKey?: string }) {
  const { api } = useApp();
  const { data, error, loading, reload } = useLoad(() => api.myCosts(month), [api, month]);
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    void reload();
  }, [refreshKey, reload]);
  const { t, locale } = useI18n();
  return (
    <section className="panel" aria-labelledby="my-costs-title">
      <h2 id="my-costs-title">{t('myCostsTitle', { month: formatMonth(month, locale) })}</h2>
      {error !== null && <ErrorMessage error={error} onRetry={() => void reload()} />}
      {loading && data === null && <Loading />}
      {data !== null && <CostBody costs={data} />}
    </section>
  );
}

export function CostBody({ costs }: { costs: MyCosts }) {
  const { t, locale } = useI18n();
  const money = (a: string) => formatMoney(a, costs.currency, locale);
  const lines = [...costs.workspaces].sort((a, b) => (parseAmount(b.total) > parseAmount(a.total) ? 1 : -1));
  return (
    <>
      <p className="big" data-testid="my-costs-total" data-amount={costs.total}>
        {t('costToDate', { amount: money(costs.total) })}
      </p>
      {costs.budget === null ? (
        <p className="muted">{t('noBudget')}</p>
      ) : (
        <>
          <p>
            {t('budgetOf', {
              budget: money(costs.budget),
              percent: new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(spentPercent(costs.total, costs.budget)),
            })}
          </p>
          <BudgetBar
            spent={costs.total}
            budget={costs.budget}
            thresholds={[80, 100]}
            label={t('budgetBarLabel', { spent: money(costs.total), budget: money(costs.budget) })}
          />
          {costs.thresholdsCrossed.length > 0 && (
            <p className="warning-text">{t('thresholdsCrossed', { list: costs.thresholdsCrossed.map((p) => `${p} %`).join(', ') })}</p>
          )}
        </>
      )}
      {lines.length === 0 ? (
        <p>{t('noCostsYet')}</p>
      ) : (
        <>
          <BarChart
            title={t('costChartByWorkspace')}
            bars={lines.map((l) => ({ label: l.name, value: l.total, display: money(l.total) }))}
            testId="my-costs-chart"
          />
          <div className="table-wrap">
            <table>
              <caption className="sr-only">{t('costTableCaption')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('colName')}</th>
                  <th scope="col">{t('instanceType')}</th>
                  <th scope="col" className="num">{t('colRunning')}</th>
                  <th scope="col" className="num">{t('colCompute')}</th>
                  <th scope="col" className="num">{t('colStorage')}</th>
                  <th scope="col" className="num">{t('colTotal')}</th>
                </tr>
              </thead>
              <tbody>
                {lines.map((l) => (
                  <tr key={l.workspaceId} data-cost-line={l.name}>
                    <th scope="row">{l.name}</th>
                    <td>{l.instanceType}</td>
                    <td className="num">{formatHours(l.runningSeconds, locale)}</td>
                    <td className="num">{money(l.compute)}</td>
                    <td className="num">{money(l.storage)}</td>
                    <td className="num">{money(l.total)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <p className="help">{t('estimateNote')}</p>
        </>
      )}
    </>
  );
}
