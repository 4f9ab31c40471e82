import { useState } from 'react';
import type { Converted, UsersCosts } from '../api';
import { useApp } from '../app-context';
import { AdminTabs } from '../components/AdminTabs';
import { BarChart, BudgetBar } from '../components/chart';
import { ErrorMessage, Loading } from '../components/common';
import { MonthPicker } from '../components/MonthPicker';
import { estimateRows, readCostCsv, type CostRow } from '../csv';
import { currentMonth, formatHours, formatMonth } from '../format';
import { useI18n } from '../i18n';
import { formatMoney, parseAmount } from '../money';
import { useLoad } from '../poll';
import { ExchangeRates } from './ExchangeRates';
import { spentPercent } from './MyCosts';

/** Admin: every user's cost for a month, budget bars, a chart, and the workspace lines. */
export function AdminCosts() {
  const { api } = useApp();
  const { t, locale } = useI18n();
  const [month, setMonth] = useState(currentMonth);
  const report = useLoad(() => api.usersCosts(month), [api, month]);
  // The per-workspace lines come from the export (admins may read it): the users report has none.
  const lines = useLoad(async () => estimateRows(readCostCsv((await api.exportCosts(month)).text)), [api, month]);
  return (
    <section>
      <h1>{t('adminCostsTitle')}</h1>
      <AdminTabs current="adminCosts" />
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <MonthPicker id="costs-month" value={month} onChange={setMonth} />
      </form>
      {report.error !== null && <ErrorMessage error={report.error} onRetry={() => void report.reload()} />}
      {report.loading && report.data === null && <Loading />}
      {report.data !== null && <UsersReport report={report.data} month={month} />}
      <h2>{t('workspaceLines', { month: formatMonth(month, locale) })}</h2>
      {lines.error !== null && <ErrorMessage error={lines.error} onRetry={() => void lines.reload()} />}
      {lines.loading && lines.data === null && <Loading />}
      {lines.data !== null && <WorkspaceLines rows={lines.data} />}
      <ExchangeRates onChange={() => void report.reload()} />
    </section>
  );
}

/** An actual's conversion into the report's currency, with the rate and its day. */
export function ConvertedAmount({ converted }: { converted: Converted | null }) {
  const { t, locale } = useI18n();
  if (converted === null) return null;
  const amount = formatMoney(converted.amount, converted.currency, locale);
  return (
    <div className="small" data-converted={converted.amount}>
      {converted.rateDate === null ? t('convertedSame', { amount }) : t('converted', { amount, rate: converted.rate, date: converted.rateDate })}
    </div>
  );
}

export function UsersReport({ report, month }: { report: UsersCosts; month: string }) {
  const { t, locale } = useI18n();
  const money = (a: string) => formatMoney(a, report.currency, locale);
  const users = [...report.users].sort((a, b) => (parseAmount(b.total) > parseAmount(a.total) ? 1 : parseAmount(b.total) < parseAmount(a.total) ? -1 : a.user.localeCompare(b.user)));
  return (
    <>
      <p className="big" data-testid="report-total" data-amount={report.total}>
        {t('reportTotal', { month: formatMonth(month, locale), amount: money(report.total) })}
      </p>
      {report.unallocated !== null && (
        <p data-testid="report-unallocated">
          {t('unallocated', { amount: formatMoney(report.unallocated.amount, report.unallocated.currency, locale), date: report.unallocated.through })}
        </p>
      )}
      {report.overhead !== null && (
        <p data-testid="report-overhead">
          {t(report.reconciliation?.overheadAllocated === false ? 'overheadUnallocated' : 'overhead', {
            amount: formatMoney(report.overhead.amount, report.overhead.currency, locale),
            date: report.overhead.through,
          })}
        </p>
      )}
      {report.reconciliation !== null && (
        <p data-testid="report-reconciliation" className="small">
          {t('reconciliation', {
            currency: report.reconciliation.currency,
            direct: report.reconciliation.direct,
            overhead: report.reconciliation.overhead,
            unallocated: report.reconciliation.unallocated,
            total: report.reconciliation.total,
          })}
        </p>
      )}
      {report.conversion !== null && (
        <p data-testid="report-conversion" className={report.conversion.rate === null ? 'notice' : 'small'}>
          {report.conversion.rate === null
            ? t('conversionMissing', { to: report.conversion.to, reason: report.conversion.reason ?? '' })
            : t('conversionRate', { from: report.conversion.from, to: report.conversion.to, rate: report.conversion.rate, date: report.conversion.rateDate ?? '' })}
        </p>
      )}
      {report.unpriced.length > 0 && (
        <div className="notice" role="alert" data-testid="report-unpriced">
          <p>{t('unpriced', { count: String(report.unpriced.length) })}</p>
          <ul>
            {report.unpriced.map((u) => (
              <li key={u.workspaceId}>
                {u.user} · {u.workspaceId}: {u.reason}
              </li>
            ))}
          </ul>
        </div>
      )}
      {users.length === 0 ? (
        <p>{t('noCostsMonth')}</p>
      ) : (
        <>
          <BarChart
            title={t('costChartByUser')}
            bars={users.map((u) => ({ label: u.user, value: u.total, display: money(u.total) }))}
            testId="users-chart"
          />
          <div className="table-wrap">
            <table>
              <caption className="sr-only">{t('usersTableCaption')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('colUser')}</th>
                  <th scope="col">{t('colCostCentre')}</th>
                  <th scope="col" className="num">{t('colRunning')}</th>
                  <th scope="col" className="num">{t('colTotal')}</th>
                  <th scope="col" className="num">{t('colActual')}</th>
                  <th scope="col" className="num">{t('colOverhead')}</th>
                  <th scope="col">{t('colBudget')}</th>
                </tr>
              </thead>
              <tbody>
                {users.map((u) => (
                  <tr key={u.user} data-user={u.user} data-total={u.total}>
                    <th scope="row">
                      {u.user}
                      <div className="muted small">{u.email}</div>
                    </th>
                    <td>{u.costCentre ?? '—'}</td>
                    <td className="num">{formatHours(u.runningSeconds, locale)}</td>
                    <td className="num">{money(u.total)}</td>
                    <td className="num">
                      {u.actual === null ? (
                        <span className="muted">{t('actualUnknown')}</span>
                      ) : (
                        <>
                          {formatMoney(u.actual.amount, u.actual.currency, locale)}
                          <ConvertedAmount converted={u.actualConverted} />
                          <div className="muted small">
                            {t(u.actual.estimated ? 'actualThroughEstimated' : 'actualThrough', { date: u.actual.through })}
                          </div>
                        </>
                      )}
                    </td>
                    <td className="num" data-overhead={u.overhead?.amount ?? ''}>
                      {u.overhead === null ? (
                        <span className="muted">—</span>
                      ) : (
                        <>
                          {formatMoney(u.overhead.amount, u.overhead.currency, locale)}
                          <ConvertedAmount converted={u.overheadConverted} />
                        </>
                      )}
                    </td>
                    <td className="budget-cell">
                      {u.budget === null ? (
                        <span className="muted">{t('noBudgetShort')}</span>
                      ) : (
                        <>
                          <span>
                            {t('budgetUsed', {
                              budget: money(u.budget),
                              percent: new Intl.NumberFormat(locale, { maximumFractionDigits: 0 }).format(spentPercent(u.total, u.budget)),
                            })}
                          </span>
                          <BudgetBar
                            spent={u.total}
                            budget={u.budget}
                            thresholds={[80, 100]}
                            label={t('budgetBarLabel', { spent: money(u.total), budget: money(u.budget) })}
                          />
                          {u.thresholdsCrossed.length > 0 && (
                            <div className="small warning-text">
                              {t('thresholdsCrossed', { list: u.thresholdsCrossed.map((p) => `${p} %`).join(', ') })}
                            </div>
                          )}
                        </>
                      )}
                    </td>
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

export function WorkspaceLines({ rows }: { rows: CostRow[] }) {
  const { t, locale } = useI18n();
  if (rows.length === 0) return <p>{t('noCostsMonth')}</p>;
  const hours = (h: string) => `${new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 2 }).format(Number(h))} h`;
  return (
    <div className="table-wrap">
      <table>
        <caption className="sr-only">{t('workspaceLinesCaption')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('colUser')}</th>
            <th scope="col">{t('colName')}</th>
            <th scope="col">{t('colProduct')}</th>
            <th scope="col" className="num">{t('colRunning')}</th>
            <th scope="col" className="num">{t('colCompute')}</th>
            <th scope="col" className="num">{t('colStorage')}</th>
            <th scope="col" className="num">{t('colTotal')}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={`${r.workspace_id}-${r.month}-${r.price_version ?? ''}`} data-cost-line={r.workspace_name} data-owner={r.user}>
              <td>{r.user}</td>
              <th scope="row">{r.workspace_name}</th>
              <td>
                {r.product}
                <div className="muted small">{r.instance_type}</div>
              </td>
              <td className="num">{hours(r.running_hours)}</td>
              <td className="num">{formatMoney(r.compute_cost, r.currency, locale)}</td>
              <td className="num">{formatMoney(r.storage_cost, r.currency, locale)}</td>
              <td className="num">{formatMoney(r.total_cost, r.currency, locale)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
