import { useState } from 'react';
import { ApiError, type ExchangeRate } from '../api';
import { useAction } from '../action';
import { useApp } from '../app-context';
import { ErrorMessage, Loading } from '../components/common';
import { useI18n } from '../i18n';
import { useLoad } from '../poll';

/**
 * Admin: the dated exchange rates actuals are converted with, every revision, and a form to
 * record one (`PUT /v1/exchange-rates/{from}/{to}/{date}`). The rate is sent as the decimal
 * string typed (a comma is read as the decimal mark), never as a number.
 */
export function ExchangeRates({ onChange }: { onChange?: () => void }) {
  const { api } = useApp();
  const { t } = useI18n();
  const rates = useLoad(() => api.exchangeRates(), [api]);
  const [from, setFrom] = useState('USD');
  const [to, setTo] = useState('EUR');
  const [date, setDate] = useState('');
  const [rate, setRate] = useState('');
  const [recorded, setRecorded] = useState<ExchangeRate | null>(null);
  const { busy, error, run } = useAction();
  const field = error instanceof ApiError ? error.problem?.field : undefined;

  const submit = () =>
    run(async () => {
      const saved = await api.putExchangeRate(from.trim().toUpperCase(), to.trim().toUpperCase(), date, rate.trim().replace(',', '.'));
      setRecorded(saved);
      await rates.reload();
      onChange?.();
    });

  return (
    <section aria-labelledby="rates-title">
      <h2 id="rates-title">{t('ratesTitle')}</h2>
      <p className="help">{t('ratesIntro')}</p>
      {rates.error !== null && <ErrorMessage error={rates.error} onRetry={() => void rates.reload()} />}
      {rates.loading && rates.data === null && <Loading />}
      {rates.data !== null && rates.data.rates.length === 0 && <p>{t('ratesEmpty')}</p>}
      {rates.data !== null && rates.data.rates.length > 0 && (
        <div className="table-wrap">
          <table data-testid="rates-table">
            <caption className="sr-only">{t('ratesCaption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('colRatePair')}</th>
                <th scope="col">{t('colRateFrom')}</th>
                <th scope="col" className="num">{t('colRate')}</th>
                <th scope="col" className="num">{t('colRevision')}</th>
                <th scope="col">{t('colRecordedBy')}</th>
              </tr>
            </thead>
            <tbody>
              {rates.data.rates.map((r) => (
                <tr key={`${r.from}-${r.to}-${r.effectiveFrom}-${r.revision}`} data-rate={`${r.from}/${r.to}/${r.effectiveFrom}/${r.revision}`}>
                  <th scope="row">
                    {r.from} → {r.to}
                  </th>
                  <td>{r.effectiveFrom}</td>
                  <td className="num">
                    {r.rate}
                    {r.current && <div className="muted small">{t('rateCurrent')}</div>}
                  </td>
                  <td className="num">{r.revision}</td>
                  <td>
                    {r.actor}
                    <div className="muted small">{r.at}</div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label htmlFor="rate-from">{t('rateFrom')}</label>
        <input id="rate-from" value={from} maxLength={3} aria-invalid={field === 'from' || undefined} onChange={(e) => setFrom(e.target.value)} />
        <label htmlFor="rate-to">{t('rateTo')}</label>
        <input id="rate-to" value={to} maxLength={3} aria-invalid={field === 'to' || undefined} onChange={(e) => setTo(e.target.value)} />
        <label htmlFor="rate-date">{t('rateDate')}</label>
        <input id="rate-date" type="date" value={date} aria-invalid={field === 'date' || undefined} onChange={(e) => setDate(e.target.value)} />
        <label htmlFor="rate-value">{t('rateValue')}</label>
        <input id="rate-value" inputMode="decimal" value={rate} aria-invalid={field === 'rate' || undefined} onChange={(e) => setRate(e.target.value)} />
        <div className="actions">
          <button type="submit" disabled={busy}>
            {t('rateSave')}
          </button>
        </div>
        {error !== null && <ErrorMessage error={error} />}
        {recorded !== null && error === null && (
          <p role="status">
            {t('rateSaved', { from: recorded.from, to: recorded.to, rate: recorded.rate, date: recorded.effectiveFrom, revision: String(recorded.revision) })}
          </p>
        )}
      </form>
    </section>
  );
}
