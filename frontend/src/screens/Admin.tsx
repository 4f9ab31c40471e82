import { useMemo, useState } from 'react';
import { STATES, type State } from '../api';
import { useApp } from '../app-context';
import { AdminTabs } from '../components/AdminTabs';
import { ErrorMessage, Loading } from '../components/common';
import { useI18n } from '../i18n';
import { usePolling } from '../poll';
import { pollInterval, replaceIn, WorkspaceTable } from './Workspaces';

export function Admin() {
  const { api } = useApp();
  const { t } = useI18n();
  const [owner, setOwner] = useState('');
  const [state, setState] = useState<State | ''>('');
  const [product, setProduct] = useState('');
  const { data, error, loading, reload, setData } = usePolling(
    () => api.all((token) => api.workspaces({ kind: 'all' }, token)),
    pollInterval,
    [api],
  );
  const owners = useMemo(() => [...new Set((data ?? []).map((w) => w.owner))].sort(), [data]);
  const products = useMemo(() => [...new Set((data ?? []).map((w) => w.productId))].sort(), [data]);
  const shown = (data ?? []).filter(
    (w) => (!owner || w.owner === owner) && (!state || w.state === state) && (!product || w.productId === product),
  );
  return (
    <section>
      <h1>{t('adminTitle')}</h1>
      <AdminTabs current="admin" />
      <form className="filters" onSubmit={(e) => e.preventDefault()}>
        <div>
          <label htmlFor="f-owner">{t('filterOwner')}</label>
          <select id="f-owner" value={owner} onChange={(e) => setOwner(e.target.value)}>
            <option value="">{t('filterAny')}</option>
            {owners.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-state">{t('filterState')}</label>
          <select id="f-state" value={state} onChange={(e) => setState(e.target.value as State | '')}>
            <option value="">{t('filterAny')}</option>
            {STATES.map((s) => (
              <option key={s} value={s}>
                {t(`state_${s}`)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="f-product">{t('filterProduct')}</label>
          <select id="f-product" value={product} onChange={(e) => setProduct(e.target.value)}>
            <option value="">{t('filterAny')}</option>
            {products.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </div>
      </form>
      {error !== null && <ErrorMessage error={error} onRetry={() => void reload()} />}
      {loading && data === null && <Loading />}
      {data !== null && (
        <p className="muted" role="status">
          {t('showing', { n: shown.length, total: data.length })}
        </p>
      )}
      {data !== null && shown.length === 0 && <p>{t('noMatches')}</p>}
      {shown.length > 0 && (
        <WorkspaceTable
          items={shown}
          showOwner
          onChanged={(w) => {
            if (data) setData(replaceIn(data, w));
            void reload();
          }}
        />
      )}
    </section>
  );
}
