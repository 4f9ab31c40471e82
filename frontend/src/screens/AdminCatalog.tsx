// Admins: the catalog. Every product (published or not) with its machine, price and groups;
// publishing a Service Catalog product; per product, editing its descriptive fields, appending
// a price version, unpublishing it (confirmed) and its history.
//
// Amounts stay decimal strings from the input to the request body (money.ts: never a float),
// and a `datetime-local` value is read in the browser's time zone and sent as UTC.
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import {
  ApiError,
  type EditProductInput,
  type PriceVersion,
  type PriceVersionInput,
  type Product,
  type ProductEvent,
  type PublishProductInput,
} from '../api';
import { useApp } from '../app-context';
import { AdminTabs } from '../components/AdminTabs';
import { appName } from '../components/Apps';
import { Dialog, ErrorMessage, Loading } from '../components/common';
import { browserTimeZone, formatDateTime, localDateTimeToUtc, toLocalDateTimeInput } from '../format';
import { useI18n, type I18n } from '../i18n';
import { formatMoney, normaliseDecimal } from '../money';
import { useLoad } from '../poll';
import { parseNames } from './Datasets';

/** The apps a product may declare, in the order the portal offers them (components/Apps.tsx names them). */
export const CATALOG_APPS = ['jupyterlab', 'rstudio'] as const;

/** Messages per input, keyed by the name a problem's `field` gives it (`price.effectiveFrom`). */
export type FieldErrors = Partial<Record<string, string>>;

/** What the portal refuses before sending: the message per input. */
class Invalid extends Error {
  readonly fields: FieldErrors;
  constructor(fields: FieldErrors) {
    super(Object.values(fields).join(' '));
    this.fields = fields;
  }
}

/**
 * The input among `keys` that a problem's `field` names: the input itself, one of its items
 * (`visibleTo[1]`) or one of its members (`price.currency`); null when none does.
 */
export function fieldFor(field: string | undefined, keys: readonly string[]): string | null {
  if (!field) return null;
  const longestFirst = [...keys].sort((a, b) => b.length - a.length);
  return longestFirst.find((k) => field === k || field.startsWith(`${k}[`) || field.startsWith(`${k}.`)) ?? null;
}

/**
 * A form's submission: `busy`, the messages next to its inputs (the portal's own checks, or
 * the API's problem when its `field` names one of `keys`) and any other error (shown below
 * the form). Focuses the first input marked invalid.
 */
function useSubmit(keys: readonly string[], strip = '') {
  const [busy, setBusy] = useState(false);
  const [fields, setFields] = useState<FieldErrors>({});
  const [other, setOther] = useState<unknown>(null);
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => {
    form.current?.querySelector<HTMLElement>('[aria-invalid="true"]')?.focus();
  }, [fields]);
  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    setFields({});
    setOther(null);
    try {
      await f();
    } catch (e) {
      const field = e instanceof ApiError ? e.problem?.field : undefined;
      const key = fieldFor(strip && field?.startsWith(strip) ? field.slice(strip.length) : field, keys);
      if (e instanceof Invalid) setFields(e.fields);
      else if (key && e instanceof Error) setFields({ [key]: e.message });
      else setOther(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, fields, other, form, run };
}

interface FieldAttrs {
  id: string;
  'aria-invalid': true | undefined;
  'aria-describedby': string | undefined;
}

/** A label, its input (`children` gets the input's id and ARIA attributes), the error next to it, and help. */
function Field({
  id,
  label,
  help,
  error,
  children,
}: {
  id: string;
  label: string;
  help?: string;
  error?: string;
  children: (attrs: FieldAttrs) => ReactNode;
}) {
  const describedBy = [error ? `${id}-error` : null, help ? `${id}-help` : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children({ id, 'aria-invalid': error ? true : undefined, 'aria-describedby': describedBy })}
      {error && <FieldError id={`${id}-error`} message={error} />}
      {help && (
        <p id={`${id}-help`} className="help">
          {help}
        </p>
      )}
    </div>
  );
}

function FieldError({ id, message }: { id: string; message: string }) {
  return (
    <p id={id} className="error-text field-error" role="alert">
      {message}
    </p>
  );
}

/** A tick box with its own error and help (hibernation). */
function CheckField({
  id,
  label,
  help,
  error,
  checked,
  onChange,
}: {
  id: string;
  label: string;
  help?: string;
  error?: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
}) {
  const describedBy = [error ? `${id}-error` : null, help ? `${id}-help` : null].filter(Boolean).join(' ') || undefined;
  return (
    <div className="field">
      <label className="radio" htmlFor={id}>
        <input
          id={id}
          type="checkbox"
          checked={checked}
          aria-invalid={error ? true : undefined}
          aria-describedby={describedBy}
          onChange={(e) => onChange(e.target.checked)}
        />
        <span>{label}</span>
      </label>
      {error && <FieldError id={`${id}-error`} message={error} />}
      {help && (
        <p id={`${id}-help`} className="help">
          {help}
        </p>
      )}
    </div>
  );
}

/** One tick box per app: the known ones, then any other the product already declares. */
function AppsField({
  id,
  options,
  value,
  error,
  onChange,
}: {
  id: string;
  options: readonly string[];
  value: readonly string[];
  error?: string;
  onChange: (apps: string[]) => void;
}) {
  const { t } = useI18n();
  return (
    <fieldset aria-describedby={[error ? `${id}-error` : null, `${id}-help`].filter(Boolean).join(' ')}>
      <legend>{t('productApps')}</legend>
      {options.map((app) => (
        <label key={app} className="radio">
          <input
            type="checkbox"
            name={id}
            value={app}
            checked={value.includes(app)}
            onChange={(e) => onChange(options.filter((o) => (o === app ? e.target.checked : value.includes(o))))}
          />
          <span>{appName(app)}</span>
        </label>
      ))}
      {error && <FieldError id={`${id}-error`} message={error} />}
      <p id={`${id}-help`} className="help">
        {t('productAppsHelp')}
      </p>
    </fieldset>
  );
}

/** A decimal string as money, or as typed when the portal cannot format it exactly. */
function money(amount: string, currency: string, locale: string): string {
  try {
    return formatMoney(amount, currency, locale);
  } catch {
    return `${amount} ${currency}`;
  }
}

/** The price version in force at `now`: the latest one that has started (`prices` oldest first). */
export function currentVersion(prices: readonly PriceVersion[], now: Date = new Date()): PriceVersion | null {
  let current: PriceVersion | null = null;
  for (const p of prices) if (Date.parse(p.effectiveFrom) <= now.getTime()) current = p;
  return current;
}

/** Required decimal input `key`, as the API's decimal string; records a message when it is not one. */
function decimal(value: string, key: string, errors: FieldErrors, t: I18n['t']): string {
  if (value.trim() === '') errors[key] = t('fieldRequired');
  const d = normaliseDecimal(value);
  if (d === null) errors[key] ??= t('invalidDecimal');
  return d ?? '';
}

function currencyOf(value: string, key: string, errors: FieldErrors, t: I18n['t']): string {
  const c = value.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(c)) errors[key] = t('invalidCurrency');
  return c;
}

// ---------------------------------------------------------------------------------------------
// Publish

interface PublishForm {
  id: string;
  serviceCatalogProductId: string;
  provisioningArtifactId: string;
  launchPathId: string;
  instanceType: string;
  volumeGiB: string;
  hibernation: boolean;
  visibleTo: string;
  apps: string[];
  computePerHour: string;
  storagePerGbMonth: string;
  currency: string;
  effectiveFrom: string;
}

const EMPTY_PUBLISH: PublishForm = {
  id: '',
  serviceCatalogProductId: '',
  provisioningArtifactId: '',
  launchPathId: '',
  instanceType: '',
  volumeGiB: '',
  hibernation: false,
  visibleTo: '',
  apps: [],
  computePerHour: '',
  storagePerGbMonth: '',
  currency: 'EUR',
  effectiveFrom: '',
};

/** The fields of `PublishProductInput`, as a problem's `field` names them. */
const PUBLISH_KEYS = [
  'id',
  'serviceCatalogProductId',
  'provisioningArtifactId',
  'launchPathId',
  'instanceType',
  'volumeGiB',
  'hibernation',
  'visibleTo',
  'apps',
  'price.computePerHour',
  'price.storagePerGbMonth',
  'price.currency',
  'price.effectiveFrom',
] as const;

/** The body of `POST /v1/products` for what the admin typed; throws [`Invalid`] on what cannot be sent. */
export function publishInput(f: PublishForm, t: I18n['t']): PublishProductInput {
  const errors: FieldErrors = {};
  const required = (key: string, value: string) => {
    if (value.trim() === '') errors[key] = t('fieldRequired');
    return value.trim();
  };
  const id = required('id', f.id);
  const serviceCatalogProductId = required('serviceCatalogProductId', f.serviceCatalogProductId);
  const instanceType = required('instanceType', f.instanceType);
  const volume = f.volumeGiB.trim();
  if (!/^\d{1,5}$/.test(volume) || Number(volume) < 8 || Number(volume) > 16384) errors.volumeGiB = t('invalidVolume');
  const visibleTo = parseNames(f.visibleTo);
  if (visibleTo.length === 0) errors.visibleTo = t('invalidGroups');
  const price: PublishProductInput['price'] = {
    computePerHour: decimal(f.computePerHour, 'price.computePerHour', errors, t),
    storagePerGbMonth: decimal(f.storagePerGbMonth, 'price.storagePerGbMonth', errors, t),
    currency: currencyOf(f.currency, 'price.currency', errors, t),
  };
  if (f.effectiveFrom.trim() !== '') {
    const from = localDateTimeToUtc(f.effectiveFrom);
    if (from === null) errors['price.effectiveFrom'] = t('invalidDateTime');
    else price.effectiveFrom = from;
  }
  if (Object.keys(errors).length > 0) throw new Invalid(errors);
  const input: PublishProductInput = {
    id,
    serviceCatalogProductId,
    instanceType,
    volumeGiB: Number(volume),
    hibernation: f.hibernation,
    visibleTo,
    apps: f.apps,
    price,
  };
  // Optional in the contract: absent means the newest active version, the only launch path.
  if (f.provisioningArtifactId.trim()) input.provisioningArtifactId = f.provisioningArtifactId.trim();
  if (f.launchPathId.trim()) input.launchPathId = f.launchPathId.trim();
  return input;
}

function PublishProduct({ onPublished }: { onPublished: (p: Product) => void }) {
  const { api } = useApp();
  const { t } = useI18n();
  const [f, setF] = useState<PublishForm>(EMPTY_PUBLISH);
  const [notice, setNotice] = useState<string | null>(null);
  const { busy, fields, other, form, run } = useSubmit(PUBLISH_KEYS);
  const zone = browserTimeZone();
  const set = (key: keyof PublishForm) => (e: React.ChangeEvent<HTMLInputElement>) => setF({ ...f, [key]: e.target.value });
  type TextKey = 'id' | 'serviceCatalogProductId' | 'provisioningArtifactId' | 'launchPathId' | 'instanceType' | 'visibleTo';
  const text = (key: TextKey, label: string, help?: string, extra: object = {}) => (
    <Field id={`pub-${key}`} label={label} help={help} error={fields[key]}>
      {(a) => <input {...a} {...extra} value={f[key]} onChange={set(key)} autoComplete="off" />}
    </Field>
  );

  return (
    <form
      ref={form}
      className="panel stack"
      aria-labelledby="publish-title"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        setNotice(null);
        void run(async () => {
          const published = await api.publishProduct(publishInput(f, t));
          setF(EMPTY_PUBLISH);
          setNotice(t('productPublished', { name: published.name }));
          onPublished(published);
        });
      }}
    >
      <h2 id="publish-title">{t('publishTitle')}</h2>
      <p className="help">{t('publishIntro')}</p>
      {text('id', t('publishId'), t('publishIdHelp'), { required: true, maxLength: 64 })}
      <fieldset>
        <legend>{t('serviceCatalog')}</legend>
        {text('serviceCatalogProductId', t('publishScProduct'), t('publishScProductHelp'), { required: true })}
        {text('provisioningArtifactId', t('publishArtifact'), t('publishArtifactHelp'))}
        {text('launchPathId', t('publishPath'), t('publishPathHelp'))}
      </fieldset>
      <fieldset>
        <legend>{t('publishMachine')}</legend>
        {text('instanceType', t('instanceType'), t('publishInstanceTypeHelp'), { required: true })}
        <Field id="pub-volumeGiB" label={t('publishVolume')} help={t('publishVolumeHelp')} error={fields.volumeGiB}>
          {(a) => (
            <input
              {...a}
              type="number"
              inputMode="numeric"
              min={8}
              max={16384}
              step={1}
              required
              value={f.volumeGiB}
              onChange={set('volumeGiB')}
            />
          )}
        </Field>
        <CheckField
          id="pub-hibernation"
          label={t('publishHibernation')}
          help={t('publishHibernationHelp')}
          error={fields.hibernation}
          checked={f.hibernation}
          onChange={(hibernation) => setF({ ...f, hibernation })}
        />
      </fieldset>
      {text('visibleTo', t('productVisibleTo'), t('productVisibleToHelp'), { required: true })}
      <AppsField id="pub-apps" options={CATALOG_APPS} value={f.apps} error={fields.apps} onChange={(apps) => setF({ ...f, apps })} />
      <fieldset>
        <legend>{t('publishPrice')}</legend>
        <PriceInputs
          idPrefix="pub"
          keyPrefix="price."
          value={f}
          fields={fields}
          onChange={(p) => setF({ ...f, ...p })}
          fromLabel={t('priceFromOptional')}
          fromHelp={t('priceFromOptionalHelp', { zone })}
        />
      </fieldset>
      {other !== null && <ErrorMessage error={other} />}
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? t('publishing') : t('publishSubmit')}
        </button>
      </div>
    </form>
  );
}

interface PriceFields {
  computePerHour: string;
  storagePerGbMonth: string;
  currency: string;
  effectiveFrom: string;
}

/** Compute and storage prices (decimal text), currency and effective-from, shared by both price forms. */
function PriceInputs({
  idPrefix,
  keyPrefix,
  value,
  fields,
  onChange,
  fromLabel,
  fromHelp,
  fromRequired = false,
}: {
  idPrefix: string;
  keyPrefix: '' | 'price.';
  value: PriceFields;
  fields: FieldErrors;
  onChange: (p: Partial<PriceFields>) => void;
  fromLabel: string;
  fromHelp: string;
  fromRequired?: boolean;
}) {
  const { t } = useI18n();
  const id = (k: keyof PriceFields) => `${idPrefix}-price-${k}`;
  const error = (k: keyof PriceFields) => fields[`${keyPrefix}${k}`];
  return (
    <>
      <Field id={id('computePerHour')} label={t('priceCompute')} help={t('priceComputeHelp')} error={error('computePerHour')}>
        {(a) => (
          <input
            {...a}
            inputMode="decimal"
            required
            autoComplete="off"
            value={value.computePerHour}
            onChange={(e) => onChange({ computePerHour: e.target.value })}
          />
        )}
      </Field>
      <Field id={id('storagePerGbMonth')} label={t('priceStorage')} help={t('priceStorageHelp')} error={error('storagePerGbMonth')}>
        {(a) => (
          <input
            {...a}
            inputMode="decimal"
            required
            autoComplete="off"
            value={value.storagePerGbMonth}
            onChange={(e) => onChange({ storagePerGbMonth: e.target.value })}
          />
        )}
      </Field>
      <Field id={id('currency')} label={t('priceCurrency')} help={t('priceCurrencyHelp')} error={error('currency')}>
        {(a) => (
          <input {...a} required maxLength={3} autoComplete="off" value={value.currency} onChange={(e) => onChange({ currency: e.target.value })} />
        )}
      </Field>
      <Field id={id('effectiveFrom')} label={fromLabel} help={fromHelp} error={error('effectiveFrom')}>
        {(a) => (
          <input
            {...a}
            type="datetime-local"
            required={fromRequired}
            min={toLocalDateTimeInput(new Date())}
            value={value.effectiveFrom}
            onChange={(e) => onChange({ effectiveFrom: e.target.value })}
          />
        )}
      </Field>
    </>
  );
}

// ---------------------------------------------------------------------------------------------
// One product: edit, price versions, unpublish, history

interface EditForm {
  name: string;
  description: string;
  visibleTo: string;
  apps: string[];
}

const EDIT_KEYS = ['name', 'description', 'visibleTo', 'apps'] as const;

/** The body of `PUT /v1/products/{id}`; throws [`Invalid`] on what cannot be sent. */
export function editInput(f: EditForm, t: I18n['t']): EditProductInput {
  const errors: FieldErrors = {};
  const name = f.name.trim();
  if (name === '') errors.name = t('fieldRequired');
  const visibleTo = parseNames(f.visibleTo);
  if (visibleTo.length === 0) errors.visibleTo = t('invalidGroups');
  if (Object.keys(errors).length > 0) throw new Invalid(errors);
  return { name, description: f.description.trim(), visibleTo, apps: f.apps };
}

function EditProduct({ product, onSaved }: { product: Product; onSaved: (p: Product) => void }) {
  const { api } = useApp();
  const { t } = useI18n();
  const [f, setF] = useState<EditForm>({
    name: product.name,
    description: product.description,
    visibleTo: (product.visibleTo ?? []).join(', '),
    apps: product.apps,
  });
  const { busy, fields, other, form, run } = useSubmit(EDIT_KEYS);
  const options = [...CATALOG_APPS, ...product.apps.filter((a) => !(CATALOG_APPS as readonly string[]).includes(a))];
  return (
    <form
      ref={form}
      className="stack"
      aria-labelledby="edit-product-title"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => onSaved(await api.editProduct(product.id, editInput(f, t))));
      }}
    >
      <h3 id="edit-product-title">{t('productEditTitle')}</h3>
      <Field id="edit-name" label={t('productName')} error={fields.name}>
        {(a) => <input {...a} required maxLength={100} value={f.name} onChange={(e) => setF({ ...f, name: e.target.value })} />}
      </Field>
      <Field id="edit-description" label={t('productDescription')} error={fields.description}>
        {(a) => <textarea {...a} maxLength={1000} value={f.description} onChange={(e) => setF({ ...f, description: e.target.value })} />}
      </Field>
      <Field id="edit-visibleTo" label={t('productVisibleTo')} help={t('productVisibleToHelp')} error={fields.visibleTo}>
        {(a) => <input {...a} required autoComplete="off" value={f.visibleTo} onChange={(e) => setF({ ...f, visibleTo: e.target.value })} />}
      </Field>
      <AppsField id="edit-apps" options={options} value={f.apps} error={fields.apps} onChange={(apps) => setF({ ...f, apps })} />
      {other !== null && <ErrorMessage error={other} />}
      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? t('saving') : t('productSave')}
        </button>
      </div>
    </form>
  );
}

const PRICE_KEYS = ['computePerHour', 'storagePerGbMonth', 'currency', 'effectiveFrom'] as const;

/** The body of `POST /v1/products/{id}/prices`; throws [`Invalid`] on what cannot be sent. */
export function priceInput(f: PriceFields, t: I18n['t']): PriceVersionInput {
  const errors: FieldErrors = {};
  const computePerHour = decimal(f.computePerHour, 'computePerHour', errors, t);
  const storagePerGbMonth = decimal(f.storagePerGbMonth, 'storagePerGbMonth', errors, t);
  const currency = currencyOf(f.currency, 'currency', errors, t);
  const effectiveFrom = localDateTimeToUtc(f.effectiveFrom);
  if (effectiveFrom === null) errors.effectiveFrom = t('invalidDateTime');
  if (Object.keys(errors).length > 0) throw new Invalid(errors);
  return { computePerHour, storagePerGbMonth, currency, effectiveFrom: effectiveFrom! };
}

function AddPriceVersion({ product, onAdded }: { product: Product; onAdded: (p: Product, from: string) => void }) {
  const { api } = useApp();
  const { t } = useI18n();
  const initial = (): PriceFields => ({
    computePerHour: product.hourlyPrice.amount,
    storagePerGbMonth: product.storagePrice?.amount ?? '',
    currency: product.hourlyPrice.currency,
    effectiveFrom: '',
  });
  const [f, setF] = useState<PriceFields>(initial);
  // The API names the body's own fields; `price.…` (as in a publish) lands on the same inputs.
  const { busy, fields, other, form, run } = useSubmit(PRICE_KEYS, 'price.');
  return (
    <form
      ref={form}
      className="stack"
      aria-labelledby="add-price-title"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        void run(async () => {
          const input = priceInput(f, t);
          const saved = await api.addProductPrice(product.id, input);
          setF({ ...f, effectiveFrom: '' });
          onAdded(saved, input.effectiveFrom);
        });
      }}
    >
      <h3 id="add-price-title">{t('priceAddTitle')}</h3>
      <p className="help">{t('priceAddIntro')}</p>
      <PriceInputs
        idPrefix="version"
        keyPrefix=""
        value={f}
        fields={fields}
        onChange={(p) => setF({ ...f, ...p })}
        fromLabel={t('priceFrom')}
        fromHelp={t('priceFromHelp', { zone: browserTimeZone() })}
        fromRequired
      />
      {other !== null && <ErrorMessage error={other} />}
      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? t('saving') : t('priceAdd')}
        </button>
      </div>
    </form>
  );
}

function PriceHistory({ prices }: { prices: readonly PriceVersion[] }) {
  const { t, locale } = useI18n();
  const now = new Date();
  const current = currentVersion(prices, now);
  if (prices.length === 0) return <p className="muted">{t('noPrices')}</p>;
  return (
    <div className="table-wrap">
      <table data-testid="price-history">
        <caption className="sr-only">{t('priceHistoryTitle')}</caption>
        <thead>
          <tr>
            <th scope="col">{t('colEffectiveFrom')}</th>
            <th scope="col" className="num">
              {t('colComputePerHour')}
            </th>
            <th scope="col" className="num">
              {t('colStoragePerGbMonth')}
            </th>
            <th scope="col">{t('colStatus')}</th>
          </tr>
        </thead>
        <tbody>
          {[...prices].reverse().map((p) => (
            <tr key={p.effectiveFrom} data-effective-from={p.effectiveFrom}>
              <td>{formatDateTime(p.effectiveFrom, locale)}</td>
              <td className="num">{money(p.computePerHour, p.currency, locale)}</td>
              <td className="num">{money(p.storagePerGbMonth, p.currency, locale)}</td>
              <td>{p === current ? t('priceInForce') : Date.parse(p.effectiveFrom) > now.getTime() ? t('priceScheduled') : t('priceSuperseded')}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A value of an event's details, in words: lists joined, objects as JSON. */
function plain(v: unknown): string {
  if (Array.isArray(v)) return v.map(plain).join(', ');
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** The "Details" cell of a history event: a price version's amounts, an edit's changes, else its fields. */
export function describeDetails(e: ProductEvent, i18n: Pick<I18n, 't' | 'locale'>): string {
  const d = e.details as Record<string, unknown>;
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const version = [d.version, d.price, d].find((v) => isObject(v) && typeof v.computePerHour === 'string') as
    | Record<string, string>
    | undefined;
  if (e.action === 'price' && version) {
    const currency = version.currency ?? '';
    return i18n.t('pevPriceDetails', {
      compute: money(version.computePerHour, currency, i18n.locale),
      storage: money(version.storagePerGbMonth ?? '0', currency, i18n.locale),
      from: version.effectiveFrom ? formatDateTime(version.effectiveFrom, i18n.locale) : '—',
    });
  }
  if (isObject(d.before) && isObject(d.after)) {
    const before = d.before;
    const after = d.after;
    return Object.keys(after)
      .filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]))
      .map((k) => `${k}: ${plain(before[k])} → ${plain(after[k])}`)
      .join('; ');
  }
  return Object.entries(d)
    .map(([k, v]) => `${k}: ${plain(v)}`)
    .join('; ');
}

function ProductHistory({ id, stamp }: { id: string; stamp: number }) {
  const { api } = useApp();
  const { t, locale } = useI18n();
  const events = useLoad(async () => {
    const items = await api.all((tk) => api.productEvents(id, tk), 5);
    // The API answers newest first; sort anyway so the page never depends on it.
    return items.sort((a, b) => b.at.localeCompare(a.at));
  }, [api, id, stamp]);
  return (
    <>
      {events.error !== null && <ErrorMessage error={events.error} onRetry={() => void events.reload()} />}
      {events.loading && events.data === null && <Loading />}
      {events.data !== null && events.data.length === 0 && <p className="muted">{t('noEvents')}</p>}
      {events.data !== null && events.data.length > 0 && (
        <div className="table-wrap">
          <table data-testid="product-history">
            <caption className="sr-only">{t('history')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('colWhen')}</th>
                <th scope="col">{t('colWho')}</th>
                <th scope="col">{t('colWhat')}</th>
                <th scope="col">{t('details')}</th>
              </tr>
            </thead>
            <tbody>
              {events.data.map((e, i) => (
                <tr key={`${e.at}-${i}`} data-action={e.action}>
                  <td>{formatDateTime(e.at, locale)}</td>
                  <td>{e.actor}</td>
                  <td>{t(`pev_${e.action}`)}</td>
                  <td>{describeDetails(e, { t, locale })}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}

function Unpublish({ product, onUnpublished }: { product: Product; onUnpublished: (p: Product) => void }) {
  const { api } = useApp();
  const { t } = useI18n();
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const close = () => {
    setAsking(false);
    setError(null);
  };
  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      const p = await api.unpublishProduct(product.id);
      setAsking(false);
      onUnpublished(p);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <p className="help">{t('unpublishHelp')}</p>
      <button type="button" className="danger" onClick={() => setAsking(true)}>
        {t('unpublishFor', { name: product.name })}
      </button>
      {asking && (
        <Dialog title={t('unpublishTitle', { name: product.name })} onClose={close}>
          <p>{t('unpublishWarning')}</p>
          {error !== null && <ErrorMessage error={error} />}
          <div className="dialog-buttons">
            <button type="button" className="secondary" onClick={close}>
              {t('cancel')}
            </button>
            <button type="button" className="danger" disabled={busy} onClick={() => void confirm()}>
              {t('unpublishConfirm')}
            </button>
          </div>
        </Dialog>
      )}
    </>
  );
}

function ManageProduct({ product, onChanged, onClose }: { product: Product; onChanged: (p: Product) => void; onClose: () => void }) {
  const { t, locale } = useI18n();
  const [notice, setNotice] = useState<string | null>(null);
  // Bumped by every change: the history is read again.
  const [stamp, setStamp] = useState(0);
  const heading = useRef<HTMLHeadingElement>(null);
  const titleId = useId();
  useEffect(() => heading.current?.focus(), []);
  const changed = (p: Product, message: string) => {
    onChanged(p);
    setNotice(message);
    setStamp((n) => n + 1);
  };
  const sc = product.serviceCatalog;
  const published = product.published !== false;
  return (
    <section className="panel" aria-labelledby={titleId} data-testid="manage-product" data-product={product.id}>
      <h2 id={titleId} ref={heading} tabIndex={-1}>
        {t('productManage', { name: product.name })}
      </h2>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <dl>
        <dt>{t('colStatus')}</dt>
        <dd>{published ? t('statusPublished') : t('statusUnpublished')}</dd>
        <dt>{t('serviceCatalog')}</dt>
        <dd>{sc ? sc.productId : '—'}</dd>
        <dt>{t('scArtifact')}</dt>
        <dd>{sc?.provisioningArtifactId ?? t('scArtifactNewest')}</dd>
        <dt>{t('scPath')}</dt>
        <dd>{sc?.pathId ?? t('scPathDefault')}</dd>
        <dt>{t('productApps')}</dt>
        <dd>{product.apps.length ? product.apps.map(appName).join(', ') : '—'}</dd>
        {product.version !== undefined && (
          <>
            <dt>{t('productVersion')}</dt>
            <dd>{product.version}</dd>
          </>
        )}
      </dl>
      <div className="grid2">
        <EditProduct key={`edit-${product.id}`} product={product} onSaved={(p) => changed(p, t('productSaved', { name: p.name }))} />
        <AddPriceVersion
          key={`price-${product.id}`}
          product={product}
          onAdded={(p, from) => changed(p, t('priceAdded', { name: p.name, date: formatDateTime(from, locale) }))}
        />
      </div>
      <h3>{t('priceHistoryTitle')}</h3>
      <PriceHistory prices={product.prices ?? []} />
      <h3>{t('history')}</h3>
      <ProductHistory id={product.id} stamp={stamp} />
      {published && (
        <>
          <h3>{t('unpublish')}</h3>
          <Unpublish product={product} onUnpublished={(p) => changed(p, t('productUnpublished', { name: p.name }))} />
        </>
      )}
      <div className="actions">
        <button type="button" className="secondary" onClick={onClose}>
          {t('close')}
        </button>
      </div>
    </section>
  );
}

// ---------------------------------------------------------------------------------------------
// The screen

function ProductRow({ product: p, onManage }: { product: Product; onManage: () => void }) {
  const { t, locale } = useI18n();
  const published = p.published !== false;
  return (
    <tr data-product={p.id} data-published={String(published)}>
      <th scope="row">
        {p.name} <span className="muted">({p.id})</span>
      </th>
      <td>{p.instanceType}</td>
      <td>{t('cpuMemory', { vcpus: p.vcpus, memory: p.memoryGiB })}</td>
      <td className="num">{t('gib', { n: p.volumeGiB })}</td>
      <td>{p.hibernation ? t('yes') : t('no')}</td>
      <td>
        {t('perHour', { price: money(p.hourlyPrice.amount, p.hourlyPrice.currency, locale) })}
        <br />
        <span className="muted small">
          {p.storagePrice
            ? t('perGbMonth', { price: money(p.storagePrice.amount, p.storagePrice.currency, locale) })
            : t('noStoragePrice')}
        </span>
      </td>
      <td>{published ? t('statusPublished') : t('statusUnpublished')}</td>
      <td>{(p.visibleTo ?? []).join(', ') || '—'}</td>
      <td>
        <button type="button" className="link" aria-label={t('productManage', { name: p.name })} onClick={onManage}>
          {t('manage')}
        </button>
      </td>
    </tr>
  );
}

/** Admins: the catalog (every product), publishing, and each product's edits, prices and history. */
export function AdminCatalog() {
  const { api } = useApp();
  const { t } = useI18n();
  const products = useLoad(() => api.all((tk) => api.products(tk)), [api]);
  const [managing, setManaging] = useState<string | null>(null);
  const list = products.data;
  const selected = list?.find((p) => p.id === managing) ?? null;

  return (
    <section>
      <h1>{t('adminCatalogTitle')}</h1>
      <AdminTabs current="adminCatalog" />
      <p className="muted">{t('adminCatalogIntro')}</p>
      {products.error !== null && <ErrorMessage error={products.error} onRetry={() => void products.reload()} />}
      {products.loading && list === null && <Loading />}
      {list !== null && list.length === 0 && <p>{t('noProducts')}</p>}
      {list !== null && list.length > 0 && (
        <div className="table-wrap">
          <table data-testid="catalog-products">
            <caption className="sr-only">{t('productsCaption')}</caption>
            <thead>
              <tr>
                <th scope="col">{t('productName')}</th>
                <th scope="col">{t('instanceType')}</th>
                <th scope="col">{t('colCpuMemory')}</th>
                <th scope="col" className="num">
                  {t('colVolume')}
                </th>
                <th scope="col">{t('colHibernation')}</th>
                <th scope="col">{t('colPrice')}</th>
                <th scope="col">{t('colStatus')}</th>
                <th scope="col">{t('colVisibleTo')}</th>
                <th scope="col">
                  <span className="sr-only">{t('colActions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((p) => (
                <ProductRow key={p.id} product={p} onManage={() => setManaging(p.id)} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      {selected && (
        <ManageProduct
          key={selected.id}
          product={selected}
          onChanged={(p) => products.setData((all) => (all ?? []).map((x) => (x.id === p.id ? p : x)))}
          onClose={() => setManaging(null)}
        />
      )}
      <PublishProduct
        onPublished={(p) => {
          products.setData((all) => [...(all ?? []).filter((x) => x.id !== p.id), p]);
          void products.reload();
        }}
      />
    </section>
  );
}
