import { useState } from 'react';
import type { Separator } from '../api';
import { useApp } from '../app-context';
import { ErrorMessage, Loading } from '../components/common';
import { MonthPicker } from '../components/MonthPicker';
import { readCostCsv, summariseCosts } from '../csv';
import { currentMonth, formatMonth } from '../format';
import { useI18n } from '../i18n';
import { formatMoney } from '../money';
import { useLoad } from '../poll';

/** Saves `text` as a file through a temporary object URL. */
export function saveFile(filename: string, text: string, type = 'text/csv;charset=utf-8') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * Downloads the file at `url` (a presigned link whose answer is an attachment): the browser
 * saves it and stays on the page.
 */
export function openDownload(url: string) {
  const a = document.createElement('a');
  a.href = url;
  a.rel = 'noopener';
  a.style.display = 'none';
  document.body.appendChild(a);
  a.click();
  a.remove();
}

/** Finance: month and cost-centre pickers, a preview of the totals, and the CSV export. */
export function Finance() {
  const { api } = useApp();
  const { t, locale } = useI18n();
  const [month, setMonth] = useState(currentMonth);
  const [costCentre, setCostCentre] = useState('');
  const [separator, setSeparator] = useState<Separator>('comma');
  const [downloading, setDownloading] = useState(false);
  const [downloadError, setDownloadError] = useState<unknown>(null);
  const [downloaded, setDownloaded] = useState<string | null>(null);

  // The whole month: lists the cost centres and previews the totals (exact sums of total_cost).
  const month$ = useLoad(async () => summariseCosts(readCostCsv((await api.exportCosts(month)).text)), [api, month]);
  const summary = month$.data;
  const centres = summary?.byCostCentre.map((c) => c.costCentre) ?? [];
  const shownCentres = summary ? summary.byCostCentre.filter((c) => !costCentre || c.costCentre === costCentre) : [];
  const shownUsers = summary ? summary.byUser.filter((u) => !costCentre || u.costCentre === costCentre) : [];
  const currency = summary?.currency ?? 'EUR';
  const money = (a: string) => formatMoney(a, currency, locale);
  const filteredTotal = costCentre ? (shownCentres[0]?.total ?? '0.00') : (summary?.total ?? '0.00');

  const download = async () => {
    setDownloading(true);
    setDownloadError(null);
    setDownloaded(null);
    try {
      // Written to a file first, then downloaded from its link: a month of any size (the
      // streamed GET stops at API Gateway's 6 MB in AWS).
      const file = await api.createCostExport(month, { costCentre: costCentre || null, separator });
      openDownload(file.url);
      setDownloaded(`atelier-costs-${file.month}.csv`);
    } catch (e) {
      setDownloadError(e);
    } finally {
      setDownloading(false);
    }
  };

  return (
    <section>
      <h1>{t('financeTitle')}</h1>
      <p>{t('financeIntro')}</p>
      <form
        className="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void download();
        }}
      >
        <MonthPicker
          id="finance-month"
          value={month}
          onChange={(m) => {
            setMonth(m);
            setCostCentre('');
          }}
        />
        <div>
          <label htmlFor="finance-cc">{t('colCostCentre')}</label>
          <select id="finance-cc" value={costCentre} onChange={(e) => setCostCentre(e.target.value)}>
            <option value="">{t('allCostCentres')}</option>
            {centres
              .filter((c) => c !== '')
              .map((c) => (
                <option key={c} value={c}>
                  {c}
                </option>
              ))}
          </select>
        </div>
        <fieldset className="compact">
          <legend>{t('separatorLabel')}</legend>
          <label className="radio">
            <input type="radio" name="separator" value="comma" checked={separator === 'comma'} onChange={() => setSeparator('comma')} />
            <span>{t('separatorComma')}</span>
          </label>
          <label className="radio">
            <input
              type="radio"
              name="separator"
              value="semicolon"
              checked={separator === 'semicolon'}
              onChange={() => setSeparator('semicolon')}
            />
            <span>{t('separatorSemicolon')}</span>
          </label>
        </fieldset>
        <button type="submit" disabled={downloading}>
          {downloading ? t('downloading') : t('downloadCsv')}
        </button>
      </form>
      {downloaded && (
        <p className="notice" role="status">
          {t('downloaded', { file: downloaded })}
        </p>
      )}
      {downloadError !== null && <ErrorMessage error={downloadError} />}
      <h2>{t('previewTitle', { month: formatMonth(month, locale) })}</h2>
      {month$.error !== null && <ErrorMessage error={month$.error} onRetry={() => void month$.reload()} />}
      {month$.loading && summary === null && <Loading />}
      {summary !== null && (
        <>
          <p className="big" data-testid="finance-total" data-amount={filteredTotal}>
            {t('previewTotal', { amount: money(filteredTotal), lines: costCentre ? shownUsers.length : summary.byUser.length })}
          </p>
          {shownCentres.length === 0 ? (
            <p>{t('noCostsMonth')}</p>
          ) : (
            <div className="grid2">
              <div className="table-wrap">
                <table>
                  <caption>{t('byCostCentre')}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t('colCostCentre')}</th>
                      <th scope="col" className="num">{t('colUsers')}</th>
                      <th scope="col" className="num">{t('colTotal')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {shownCentres.map((c) => (
                      <tr key={c.costCentre}>
                        <th scope="row">{c.costCentre || t('noCostCentre')}</th>
                        <td className="num">{c.users}</td>
                        <td className="num">{money(c.total)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
              <div className="table-wrap">
                <table>
                  <caption>{t('byUser')}</caption>
                  <thead>
                    <tr>
                      <th scope="col">{t('colUser')}</th>
                      <th scope="col">{t('colCostCentre')}</th>
                      <th scope="col" className="num">{t('colTotal')}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {shownUsers.map((u) => (
                      <tr key={u.user} data-user={u.user}>
                        <th scope="row">{u.user}</th>
                        <td>{u.costCentre || t('noCostCentre')}</td>
                        <td className="num">{money(u.total)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </div>
          )}
        </>
      )}
    </section>
  );
}
