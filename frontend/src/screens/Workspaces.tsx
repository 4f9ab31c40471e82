import { useState } from 'react';
import { TRANSITIONAL, type Workspace } from '../api';
import { useApp } from '../app-context';
import { WorkspaceActions } from '../components/actions';
import { QuickOpen } from '../components/Apps';
import { ErrorMessage, Loading, StateBadge } from '../components/common';
import { formatDateTime } from '../format';
import { useI18n } from '../i18n';
import { FAST_POLL_MS, SLOW_POLL_MS, usePolling } from '../poll';
import { href } from '../router';
import { CostPanel } from './MyCosts';

export function pollInterval(items: Workspace[]): number {
  return items.some((w) => TRANSITIONAL.has(w.state)) ? FAST_POLL_MS : SLOW_POLL_MS;
}

export function WorkspaceTable({
  items,
  showOwner,
  showApps = false,
  onChanged,
}: {
  items: Workspace[];
  showOwner: boolean;
  /** An "Open …" button per app that answers (the owner's list: admins need break-glass first). */
  showApps?: boolean;
  onChanged: (w: Workspace) => void;
}) {
  const { t, locale } = useI18n();
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">{t('colName')}</th>
            {showOwner && <th scope="col">{t('colOwner')}</th>}
            <th scope="col">{t('colProduct')}</th>
            <th scope="col">{t('colState')}</th>
            <th scope="col">{t('colCreated')}</th>
            <th scope="col">{t('colActions')}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((w) => (
            <tr key={w.id} data-workspace={w.name}>
              <th scope="row">
                <a href={href({ name: 'workspace', id: w.id })}>{w.name}</a>
              </th>
              {showOwner && <td>{w.owner}</td>}
              <td>
                {w.productId}
                <div className="muted small">{w.instanceType}</div>
              </td>
              <td>
                <StateBadge state={w.state} />
                {w.error && <div className="small error-text">{w.error}</div>}
              </td>
              <td>{formatDateTime(w.createdAt, locale)}</td>
              <td>
                <WorkspaceActions workspace={w} onChanged={onChanged} />
                {showApps && <QuickOpen workspace={w} />}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function replaceIn(items: Workspace[], w: Workspace): Workspace[] {
  return items.map((x) => (x.id === w.id ? w : x));
}

export function MyWorkspaces() {
  const { api } = useApp();
  const { t } = useI18n();
  const [flash] = useState(() => {
    const f = sessionStorage.getItem('atelier.flash');
    sessionStorage.removeItem('atelier.flash');
    return f;
  });
  const { data, error, loading, reload, setData } = usePolling(
    () => api.all((token) => api.workspaces({ kind: 'own' }, token)),
    pollInterval,
    [api],
  );
  return (
    <section>
      <h1>{t('workspacesTitle')}</h1>
      {flash && (
        <p className="notice" role="status">
          {flash}
        </p>
      )}
      {error !== null && <ErrorMessage error={error} onRetry={() => void reload()} />}
      {loading && data === null && <Loading />}
      {data !== null && data.length === 0 && (
        <p>
          {t('noWorkspaces')} <a href={href({ name: 'catalog' })}>{t('navCatalog')}</a>
        </p>
      )}
      {data !== null && data.length > 0 && (
        <WorkspaceTable
          items={data}
          showOwner={false}
          showApps
          onChanged={(w) => {
            setData(replaceIn(data, w));
            void reload();
          }}
        />
      )}
      <CostPanel refreshKey={(data ?? []).map((w) => `${w.id}:${w.state}`).join(',')} />
    </section>
  );
}
