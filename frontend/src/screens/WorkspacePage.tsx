import { useState } from 'react';
import { TRANSITIONAL, type Workspace, type WorkspaceEvent } from '../api';
import { useAction } from '../action';
import { useApp } from '../app-context';
import { WorkspaceActions } from '../components/actions';
import { describeEvent, WorkspaceApps } from '../components/Apps';
import { ErrorMessage, Loading, StateBadge } from '../components/common';
import { ScheduleEditor } from '../components/ScheduleEditor';
import { WorkspaceDatasets } from '../components/DatasetPicker';
import { describeSchedule, describeTransition, formatDateTime, formatTime, nextLocalTime } from '../format';
import { useI18n } from '../i18n';
import { FAST_POLL_MS, SLOW_POLL_MS, usePolling } from '../poll';
import { href } from '../router';

interface Loaded {
  workspace: Workspace;
  events: WorkspaceEvent[];
}

export function WorkspacePage({ id }: { id: string }) {
  const { api } = useApp();
  const { t, locale } = useI18n();
  const { data, error, loading, reload, setData } = usePolling<Loaded>(
    async () => {
      const [workspace, events] = await Promise.all([api.workspace(id), api.all((tk) => api.events(id, tk), 5)]);
      // The API answers newest first; sort anyway so the page never depends on it.
      events.sort((a, b) => b.at.localeCompare(a.at));
      return { workspace, events };
    },
    (d) => (TRANSITIONAL.has(d.workspace.state) ? FAST_POLL_MS : SLOW_POLL_MS),
    [api, id],
  );

  const changed = (w: Workspace) => {
    if (data) setData({ ...data, workspace: w });
    void reload();
  };

  if (data === null) {
    return (
      <section>
        <p>
          <a href={href({ name: 'workspaces' })}>← {t('backToList')}</a>
        </p>
        {error !== null && <ErrorMessage error={error} onRetry={() => void reload()} />}
        {loading && <Loading />}
      </section>
    );
  }
  const w = data.workspace;
  return (
    <section>
      <p>
        <a href={href({ name: 'workspaces' })}>← {t('backToList')}</a>
      </p>
      <h1>{w.name}</h1>
      {error !== null && <ErrorMessage error={error} onRetry={() => void reload()} />}
      <div className="grid2">
        <div className="panel">
          <h2>{t('details')}</h2>
          <dl>
            <dt>{t('colState')}</dt>
            <dd>
              <StateBadge state={w.state} />
            </dd>
            <dt>{t('colOwner')}</dt>
            <dd>{w.owner}</dd>
            <dt>{t('colProduct')}</dt>
            <dd>{w.productId}</dd>
            <dt>{t('instanceType')}</dt>
            <dd>{w.instanceType}</dd>
            <dt>{t('instanceId')}</dt>
            <dd>{w.instanceId ?? '—'}</dd>
            <dt>{t('createdAt')}</dt>
            <dd>{formatDateTime(w.createdAt, locale)}</dd>
            <dt>{t('updatedAt')}</dt>
            <dd>{formatDateTime(w.updatedAt, locale)}</dd>
            {w.error && (
              <>
                <dt>{t('failure')}</dt>
                <dd className="error-text">{w.error}</dd>
              </>
            )}
          </dl>
          <WorkspaceActions workspace={w} onChanged={changed} />
        </div>
        <WorkspaceApps workspace={w} onGranted={() => void reload()} />
        <SchedulePanel workspace={w} onChanged={changed} />
        <WorkspaceDatasets workspace={w} onChanged={changed} />
      </div>
      <h2>{t('history')}</h2>
      {data.events.length === 0 ? (
        <p>{t('noEvents')}</p>
      ) : (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('colWhen')}</th>
                <th scope="col">{t('colWho')}</th>
                <th scope="col">{t('colWhat')}</th>
                <th scope="col">{t('colChange')}</th>
                <th scope="col">{t('colReason')}</th>
              </tr>
            </thead>
            <tbody>
              {data.events.map((e, i) => (
                <tr key={`${e.at}-${i}`}>
                  <td>{formatDateTime(e.at, locale)}</td>
                  <td>{e.actor}</td>
                  <td>{describeEvent(e, t)}</td>
                  <td>
                    {e.from ? `${t(`state_${e.from}`)} → ` : ''}
                    {t(`state_${e.to}`)}
                  </td>
                  <td>{e.reason ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function SchedulePanel({ workspace: w, onChanged }: { workspace: Workspace; onChanged: (w: Workspace) => void }) {
  const { api } = useApp();
  const i18n = useI18n();
  const { t, locale } = i18n;
  const [until, setUntil] = useState('20:00');
  const { busy, error, saved, setSaved, run: act } = useAction();
  const [editing, setEditing] = useState(false);
  const terminal = w.state === 'TERMINATED' || w.state === 'TERMINATING';

  const run = (f: () => Promise<Workspace>) => act(async () => onChanged(await f()));

  return (
    <div className="panel">
      <h2>{t('scheduleTitle')}</h2>
      <ul className="plain">
        {describeSchedule(w.schedule, i18n).map((line) => (
          <li key={line}>{line}</li>
        ))}
      </ul>
      <h3>{t('nextTransition')}</h3>
      <p data-testid="next-transition">{w.nextTransition ? describeTransition(w.nextTransition, i18n) : t('noNextTransition')}</p>
      <h3>{t('overrideTitle')}</h3>
      <p>{w.override ? t('overrideActive', { time: formatTime(w.override.until, locale) }) : t('overrideNone')}</p>
      {!terminal && (
        <>
          <form
            className="inline"
            onSubmit={(e) => {
              e.preventDefault();
              void run(() => api.setOverride(w.id, nextLocalTime(until)));
            }}
          >
            <div>
              <label htmlFor="override-until">{t('overrideUntil')}</label>
              <input
                id="override-until"
                type="time"
                required
                value={until}
                aria-describedby="override-help"
                onChange={(e) => setUntil(e.target.value)}
              />
            </div>
            <button type="submit" disabled={busy}>
              {t('overrideSet')}
            </button>
            {w.override && (
              <button type="button" className="secondary" disabled={busy} onClick={() => void run(() => api.clearOverride(w.id))}>
                {t('overrideClear')}
              </button>
            )}
          </form>
          <p id="override-help" className="help">
            {t('overrideHelp')}
          </p>
          <button
            type="button"
            className="secondary"
            disabled={busy}
            onClick={() => void run(() => api.setSchedule(w.id, { ...w.schedule, enabled: !w.schedule.enabled }))}
          >
            {w.schedule.enabled ? t('alwaysOnSet') : t('officeHoursSet')}
          </button>{' '}
          <button type="button" className="secondary" aria-expanded={editing} onClick={() => setEditing((e) => !e)}>
            {t('editSchedule')}
          </button>
          {editing && (
            <ScheduleEditor
              idPrefix="ws-schedule"
              initial={w.schedule}
              onCancel={() => setEditing(false)}
              onSave={async (schedule) => {
                onChanged(await api.setSchedule(w.id, schedule));
                setEditing(false);
                setSaved(true);
              }}
            />
          )}
        </>
      )}
      {saved && (
        <p className="notice" role="status">
          {t('saved')}
        </p>
      )}
      {error !== null && <ErrorMessage error={error} />}
    </div>
  );
}
