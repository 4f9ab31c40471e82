import { useEffect, useState } from 'react';
import type { Product } from '../api';
import { useApp } from '../app-context';
import { Dialog, ErrorMessage, Loading } from '../components/common';
import { appName } from '../components/Apps';
import { DatasetPicker } from '../components/DatasetPicker';
import { useI18n } from '../i18n';
import { formatMoney, multiply, WORKING_DAY_HOURS } from '../money';
import { navigate } from '../router';

export function ProductCard({ product, onLaunch }: { product: Product; onLaunch: (p: Product) => void }) {
  const { t, locale } = useI18n();
  const { amount, currency } = product.hourlyPrice;
  const headingId = `product-${product.id}`;
  return (
    <article className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{product.name}</h2>
      <p className="muted">{product.description}</p>
      <ul className="specs">
        <li>{t('vcpus', { n: product.vcpus })}</li>
        <li>{t('memory', { n: product.memoryGiB })}</li>
        <li>{t('volume', { n: product.volumeGiB })}</li>
        <li>{product.instanceType}</li>
        {product.hibernation && <li>{t('hibernationSupported')}</li>}
        {product.apps.length > 0 && <li>{product.apps.map(appName).join(', ')}</li>}
      </ul>
      <p className="price">
        <strong>{t('perHour', { price: formatMoney(amount, currency, locale) })}</strong>
        <br />
        <span>{t('perDay', { price: formatMoney(multiply(amount, WORKING_DAY_HOURS), currency, locale) })}</span>
      </p>
      <button type="button" onClick={() => onLaunch(product)} aria-label={`${t('launch')} ${product.name}`}>
        {t('launch')}
      </button>
    </article>
  );
}

export function Catalog() {
  const { api } = useApp();
  const { t } = useI18n();
  const [products, setProducts] = useState<Product[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [launching, setLaunching] = useState<Product | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let live = true;
    setError(null);
    api
      .all((token) => api.products(token))
      // Admins get every product, unpublished ones too (`published` is theirs only): those cannot be launched.
      .then((p) => live && setProducts(p.filter((x) => x.published !== false)))
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [api, attempt]);

  return (
    <section>
      <h1>{t('catalogTitle')}</h1>
      <p className="muted">{t('catalogIntro')}</p>
      {error !== null && <ErrorMessage error={error} onRetry={() => setAttempt((n) => n + 1)} />}
      {products === null && error === null && <Loading />}
      {products !== null && products.length === 0 && <p>{t('noProducts')}</p>}
      {products !== null && (
        <div className="cards">
          {products.map((p) => (
            <ProductCard key={p.id} product={p} onLaunch={setLaunching} />
          ))}
        </div>
      )}
      {launching && <LaunchDialog product={launching} onClose={() => setLaunching(null)} />}
    </section>
  );
}

type Preset = 'office' | 'always';

export function LaunchDialog({ product, onClose }: { product: Product; onClose: () => void }) {
  const { api } = useApp();
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [preset, setPreset] = useState<Preset>('office');
  const [datasets, setDatasets] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // One key per dialog: a retried submit returns the same workspace.
  const [key] = useState(() =>
    typeof crypto !== 'undefined' && 'randomUUID' in crypto ? crypto.randomUUID() : `k-${Date.now()}-${Math.random()}`,
  );

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await api.create(product.id, name.trim(), key, datasets);
      if (preset === 'always') {
        await api.setSchedule(created.id, { ...created.schedule, enabled: false });
      }
      sessionStorage.setItem('atelier.flash', t('launched', { name: created.name }));
      onClose();
      navigate({ name: 'workspaces' });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <Dialog title={t('launchTitle', { product: product.name })} onClose={onClose}>
      <form onSubmit={submit}>
        <label htmlFor="ws-name">{t('workspaceName')}</label>
        <input
          id="ws-name"
          value={name}
          required
          maxLength={64}
          aria-describedby="ws-name-help"
          onChange={(e) => setName(e.target.value)}
        />
        <p id="ws-name-help" className="help">
          {t('workspaceNameHelp')}
        </p>
        <fieldset>
          <legend>{t('schedulePreset')}</legend>
          <label className="radio">
            <input type="radio" name="preset" value="office" checked={preset === 'office'} onChange={() => setPreset('office')} />
            <span>
              {t('presetOffice')} <span className="help">{t('presetOfficeHelp')}</span>
            </span>
          </label>
          <label className="radio">
            <input type="radio" name="preset" value="always" checked={preset === 'always'} onChange={() => setPreset('always')} />
            <span>
              {t('presetAlwaysOn')} <span className="help">{t('presetAlwaysOnHelp')}</span>
            </span>
          </label>
        </fieldset>
        <DatasetPicker selected={datasets} onChange={setDatasets} />
        {error !== null && <ErrorMessage error={error} />}
        <div className="dialog-buttons">
          <button type="button" className="secondary" onClick={onClose}>
            {t('cancel')}
          </button>
          <button type="submit" disabled={busy}>
            {busy ? t('launching') : t('launch')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
