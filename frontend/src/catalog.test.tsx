// @vitest-environment jsdom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PRODUCT_EVENT_ACTIONS, type Product, type ProductEvent } from './api';
import { AdminTabs } from './components/AdminTabs';
import { localDateTimeToUtc } from './format';
import { en, fr, translate } from './i18n';
import { normaliseDecimal } from './money';
import { href, parseRoute } from './router';
import { AdminCatalog, currentVersion, describeDetails, fieldFor } from './screens/AdminCatalog';
import { Catalog } from './screens/Catalog';
import { json, mockApi, problem, renderWith, type Recorded } from './test/mock-api';

afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

/** Fixes the clock (only `Date`; timers stay real, so `waitFor` works) at `iso`: what is "scheduled" depends on it. */
function at(iso: string) {
  vi.useFakeTimers({ toFake: ['Date'], now: new Date(iso) });
}

/** Runs `f` with the process (and so `Date`) in time zone `zone`, as a browser there would. */
async function inZone<T>(zone: string, f: () => T | Promise<T>): Promise<T> {
  const before = process.env.TZ;
  process.env.TZ = zone;
  try {
    return await f();
  } finally {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  }
}

const small: Product = {
  id: 'small-t3-large',
  name: 'Small notebook',
  description: 'JupyterLab on a small machine',
  instanceType: 't3.large',
  vcpus: 2,
  memoryGiB: 8,
  hourlyPrice: { amount: '0.09', currency: 'EUR' },
  storagePrice: { amount: '0.0928', currency: 'EUR' },
  hibernation: true,
  volumeGiB: 50,
  apps: ['jupyterlab'],
  published: true,
  visibleTo: ['scientists'],
  prices: [{ effectiveFrom: '2026-01-01T00:00:00Z', computePerHour: '0.09', storagePerGbMonth: '0.0928', currency: 'EUR' }],
  serviceCatalog: { productId: 'prod-small1', provisioningArtifactId: 'pa-small1', pathId: null },
  version: 3,
};
const memory: Product = {
  ...small,
  id: 'memory-r5-8xlarge',
  name: 'Memory-heavy analysis',
  instanceType: 'r5.8xlarge',
  vcpus: 32,
  memoryGiB: 256,
  hourlyPrice: { amount: '2.20', currency: 'EUR' },
  hibernation: false,
  volumeGiB: 200,
  apps: ['jupyterlab', 'rstudio'],
  published: false,
  visibleTo: ['scientists', 'oncology'],
};

const page = <T,>(items: T[]) => json(200, { items, nextToken: null });

/**
 * An event's details. The document says only `"type": "object"`, which openapi-typescript types
 * as `Record<string, never>`; the screen reads them as `Record<string, unknown>`.
 */
const details = (d: Record<string, unknown>): ProductEvent['details'] => d as never;

const events: ProductEvent[] = [
  { at: '2026-11-01T09:00:00Z', actor: 'catalog-import', action: 'publish', productId: 'small-t3-large', details: {} },
  {
    at: '2026-11-02T09:00:00Z',
    actor: 'ada',
    action: 'edit',
    productId: 'small-t3-large',
    details: details({ before: { name: 'Small', visibleTo: ['scientists'] }, after: { name: 'Small notebook', visibleTo: ['scientists'] } }),
  },
  {
    at: '2026-11-03T09:00:00Z',
    actor: 'ada',
    action: 'price',
    productId: 'small-t3-large',
    details: details({ version: { effectiveFrom: '2026-12-01T00:00:00Z', computePerHour: '0.10', storagePerGbMonth: '0.0928', currency: 'EUR' } }),
  },
  { at: '2026-11-04T09:00:00Z', actor: 'ada', action: 'unpublish', productId: 'small-t3-large', details: {} },
];

function adminApi(extra: Record<string, (req: Recorded) => Response> = {}) {
  return mockApi({
    'GET /v1/products': () => page([small, memory]),
    'GET /v1/products/small-t3-large/events': () => page(events.slice(0, 1)),
    ...extra,
  });
}

const publishForm = () => screen.getByRole('form', { name: 'Publish a Service Catalog product' });

/** Fills the publish form with the journey's product. */
function fillPublish(form: HTMLElement, effectiveFrom = '') {
  const type = (label: string, value: string) => fireEvent.change(within(form).getByLabelText(label), { target: { value } });
  type('Identifier in Atelier', 'gpu-less-notebook');
  type('Service Catalog product id', 'prod-abc123');
  type('Provisioning artifact id (optional)', 'pa-xyz789');
  type('Instance type', 't3.large');
  type('Disk size (GiB)', '50');
  fireEvent.click(within(form).getByLabelText('Workspaces can hibernate'));
  type('Visible to (groups)', 'scientists, oncology ,');
  fireEvent.click(within(form).getByLabelText('JupyterLab'));
  type('Compute price per hour', '0.09');
  // A French decimal comma: still the digits as typed, with a point.
  type('Storage price per GB-month', '0,0928');
  type('Currency', 'eur');
  if (effectiveFrom) type('Effective from (optional)', effectiveFrom);
}

describe('catalog helpers', () => {
  it('routes the admin catalog tab', () => {
    expect(parseRoute('#/admin/catalog')).toEqual({ name: 'adminCatalog' });
    expect(href({ name: 'adminCatalog' })).toBe('#/admin/catalog');
  });

  it('keep typed prices as decimal strings, never floats', () => {
    expect(normaliseDecimal('0.09')).toBe('0.09');
    expect(normaliseDecimal(' 0,0928 ')).toBe('0.0928');
    expect(normaliseDecimal('12')).toBe('12');
    expect(normaliseDecimal('0.10')).toBe('0.10');
    for (const bad of ['', '1e-2', '-1', '0.12345', '.5', '1.2.3', 'NaN']) expect(normaliseDecimal(bad), bad).toBeNull();
  });

  it("read a datetime-local value in the browser's time zone and give it in UTC", async () => {
    await inZone('Europe/Paris', () => {
      expect(localDateTimeToUtc('2026-12-02T09:00')).toBe('2026-12-02T08:00:00Z');
      expect(localDateTimeToUtc('2026-07-02T09:00:30')).toBe('2026-07-02T07:00:30Z');
      expect(localDateTimeToUtc('2026-12-03T00:30')).toBe('2026-12-02T23:30:00Z');
    });
    await inZone('America/New_York', () => expect(localDateTimeToUtc('2026-12-02T21:00')).toBe('2026-12-03T02:00:00Z'));
    await inZone('UTC', () => expect(localDateTimeToUtc('2026-12-02T09:00')).toBe('2026-12-02T09:00:00Z'));
    for (const bad of ['', '2026-12-02', '2026-02-30T09:00', '2026-12-02T25:00', 'tomorrow']) expect(localDateTimeToUtc(bad), bad).toBeNull();
  });

  it("land a problem's field on the input it names", () => {
    const keys = ['visibleTo', 'price.currency', 'price.effectiveFrom', 'id'];
    expect(fieldFor('price.effectiveFrom', keys)).toBe('price.effectiveFrom');
    expect(fieldFor('visibleTo[2]', keys)).toBe('visibleTo');
    expect(fieldFor('idempotency', keys)).toBeNull();
    expect(fieldFor(undefined, keys)).toBeNull();
  });

  it('pick the price version in force', () => {
    const v = (effectiveFrom: string) => ({ effectiveFrom, computePerHour: '1', storagePerGbMonth: '1', currency: 'EUR' });
    const prices = [v('2026-01-01T00:00:00Z'), v('2026-06-01T00:00:00Z'), v('2026-12-01T00:00:00Z')];
    expect(currentVersion(prices, new Date('2026-07-01T00:00:00Z'))).toBe(prices[1]);
    expect(currentVersion(prices, new Date('2025-07-01T00:00:00Z'))).toBeNull();
  });

  it('name every history action in English and French', () => {
    for (const a of PRODUCT_EVENT_ACTIONS) {
      expect(en[`pev_${a}`].length, a).toBeGreaterThan(0);
      expect(fr[`pev_${a}`], a).not.toBe(en[`pev_${a}`]);
    }
    const t = (k: Parameters<typeof translate>[1], p?: Record<string, string | number>) => translate('en', k, p);
    expect(describeDetails(events[1], { t, locale: 'en-GB' })).toBe('name: Small → Small notebook');
    expect(describeDetails(events[2], { t, locale: 'en-GB' })).toMatch(/^€0\.10 per hour, €0\.0928 per GB-month, from 1 Dec 2026/);
  });
});

describe('admin catalog', () => {
  it('is a tab of the admin area', () => {
    const { api } = mockApi({});
    renderWith(api, <AdminTabs current="adminCatalog" />);
    const link = screen.getByRole('link', { name: 'Catalog' });
    expect(link.getAttribute('href')).toBe('#/admin/catalog');
    expect(link.getAttribute('aria-current')).toBe('page');
  });

  it('lists every product with its machine, price, status and groups', async () => {
    const { api } = adminApi();
    renderWith(api, <AdminCatalog />);
    const row = (await screen.findByText('Small notebook')).closest('tr')!;
    expect(within(row).getByText('(small-t3-large)')).toBeTruthy();
    expect(within(row).getByText('t3.large')).toBeTruthy();
    expect(within(row).getByText('2 vCPU / 8 GiB')).toBeTruthy();
    expect(within(row).getByText('50 GiB')).toBeTruthy();
    expect(within(row).getByText('Yes')).toBeTruthy();
    expect(within(row).getByText('€0.09 per hour')).toBeTruthy();
    expect(within(row).getByText('€0.0928 per GB-month')).toBeTruthy();
    expect(within(row).getByText('Published')).toBeTruthy();
    expect(within(row).getByText('scientists')).toBeTruthy();
    const heavy = screen.getByText('Memory-heavy analysis').closest('tr')!;
    expect(heavy.getAttribute('data-published')).toBe('false');
    expect(within(heavy).getByText('Unpublished')).toBeTruthy();
    expect(within(heavy).getByText('No')).toBeTruthy();
    expect(within(heavy).getByText('scientists, oncology')).toBeTruthy();
  });

  it('publishes with the exact body: decimals as strings, groups and apps as lists, effectiveFrom in UTC', async () => {
    const { api, calls } = adminApi({
      'POST /v1/products': (req) =>
        json(201, { ...small, id: 'gpu-less-notebook', name: 'Atelier GPU-less notebook', ...(req.body as object), prices: [] }),
    });
    await inZone('Europe/Paris', async () => {
      renderWith(api, <AdminCatalog />);
      await screen.findByText('Small notebook');
      fillPublish(publishForm(), '2026-12-02T09:00');
      fireEvent.click(within(publishForm()).getByRole('button', { name: 'Publish' }));
      await within(publishForm()).findByText('Product Atelier GPU-less notebook published.');
    });
    const post = calls.find((c) => c.method === 'POST')!;
    expect(post.path).toBe('/v1/products');
    expect(post.body).toEqual({
      id: 'gpu-less-notebook',
      serviceCatalogProductId: 'prod-abc123',
      provisioningArtifactId: 'pa-xyz789',
      instanceType: 't3.large',
      volumeGiB: 50,
      hibernation: true,
      visibleTo: ['scientists', 'oncology'],
      apps: ['jupyterlab'],
      price: { computePerHour: '0.09', storagePerGbMonth: '0.0928', currency: 'EUR', effectiveFrom: '2026-12-02T08:00:00Z' },
    });
    // The list is read again: the new product joins it.
    expect(calls.filter((c) => c.method === 'GET' && c.path === '/v1/products')).toHaveLength(2);
    // The form is empty again.
    expect((within(publishForm()).getByLabelText('Identifier in Atelier') as HTMLInputElement).value).toBe('');
  });

  it('leaves out what is optional: no launch path, no effectiveFrom (from now)', async () => {
    const { api, calls } = adminApi({ 'POST /v1/products': (req) => json(201, { ...small, ...(req.body as object) }) });
    renderWith(api, <AdminCatalog />);
    await screen.findByText('Small notebook');
    fillPublish(publishForm());
    fireEvent.change(within(publishForm()).getByLabelText('Provisioning artifact id (optional)'), { target: { value: ' ' } });
    fireEvent.click(within(publishForm()).getByRole('button', { name: 'Publish' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    const body = calls.find((c) => c.method === 'POST')!.body as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual([
      'apps',
      'hibernation',
      'id',
      'instanceType',
      'price',
      'serviceCatalogProductId',
      'visibleTo',
      'volumeGiB',
    ]);
    expect(body.price).toEqual({ computePerHour: '0.09', storagePerGbMonth: '0.0928', currency: 'EUR' });
  });

  it.each([
    ['serviceCatalogProductId', 'Service Catalog product id', 'Service Catalog has no product prod-abc123'],
    ['instanceType', 'Instance type', 'EC2 does not know the instance type t3.large'],
    ['hibernation', 'Workspaces can hibernate', 'a 50 GiB volume cannot hold the 8 GiB of memory plus the system'],
    ['price.effectiveFrom', 'Effective from (optional)', 'effectiveFrom must not be in the past'],
    ['visibleTo[1]', 'Visible to (groups)', 'visibleTo: unknown group oncology'],
  ])('shows a 422 naming %s next to that input', async (field, label, detail) => {
    const { api } = adminApi({ 'POST /v1/products': () => problem(422, detail, field) });
    renderWith(api, <AdminCatalog />);
    await screen.findByText('Small notebook');
    fillPublish(publishForm(), '2026-12-02T09:00');
    fireEvent.click(within(publishForm()).getByRole('button', { name: 'Publish' }));
    const message = await within(publishForm()).findByText(detail);
    const input = within(publishForm()).getByLabelText(label);
    expect(input.getAttribute('aria-invalid')).toBe('true');
    // The message is the input's description, right after it in the form.
    expect(input.getAttribute('aria-describedby')?.split(' ')).toContain(message.id);
    expect(message.closest('.field')).toBe(input.closest('.field'));
    // Not repeated below the form, and the input has the focus.
    expect(within(publishForm()).getAllByRole('alert')).toHaveLength(1);
    await waitFor(() => expect(document.activeElement).toBe(input));
  });

  it('shows a problem without a field below the form', async () => {
    const { api } = adminApi({ 'POST /v1/products': () => problem(409, 'a product gpu-less-notebook exists') });
    renderWith(api, <AdminCatalog />);
    await screen.findByText('Small notebook');
    fillPublish(publishForm());
    fireEvent.click(within(publishForm()).getByRole('button', { name: 'Publish' }));
    const alert = await within(publishForm()).findByRole('alert');
    expect(alert.textContent).toContain('a product gpu-less-notebook exists');
    expect(within(publishForm()).queryAllByRole('textbox').some((i) => i.getAttribute('aria-invalid'))).toBe(false);
  });

  it('refuses, before sending, a price that is not a decimal and a disk that is not a number', async () => {
    const { api, calls } = adminApi();
    renderWith(api, <AdminCatalog />);
    await screen.findByText('Small notebook');
    fillPublish(publishForm());
    fireEvent.change(within(publishForm()).getByLabelText('Compute price per hour'), { target: { value: '9e-2' } });
    fireEvent.change(within(publishForm()).getByLabelText('Disk size (GiB)'), { target: { value: '50.5' } });
    fireEvent.click(within(publishForm()).getByRole('button', { name: 'Publish' }));
    const compute = within(publishForm()).getByLabelText('Compute price per hour');
    await waitFor(() => expect(compute.getAttribute('aria-invalid')).toBe('true'));
    expect(within(publishForm()).getByText('Not a price: digits, with at most four after the decimal point.')).toBeTruthy();
    expect(within(publishForm()).getByText('A whole number of GiB, 8 to 16384.')).toBeTruthy();
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
  });

  it('appends a price version: currency prefilled, effectiveFrom in UTC, history read again', async () => {
    at('2026-11-20T12:00:00Z');
    const { api, calls } = adminApi({
      'POST /v1/products/small-t3-large/prices': (req) =>
        json(201, { ...small, version: 4, prices: [...small.prices!, { ...(req.body as object) }] }),
    });
    await inZone('Europe/Paris', async () => {
      renderWith(api, <AdminCatalog />);
      fireEvent.click(await screen.findByRole('button', { name: 'Manage Small notebook' }));
      const form = screen.getByRole('form', { name: 'Add a price version' });
      expect((within(form).getByLabelText('Currency') as HTMLInputElement).value).toBe('EUR');
      expect((within(form).getByLabelText('Storage price per GB-month') as HTMLInputElement).value).toBe('0.0928');
      fireEvent.change(within(form).getByLabelText('Compute price per hour'), { target: { value: '0.10' } });
      fireEvent.change(within(form).getByLabelText('Effective from'), { target: { value: '2026-12-03T00:00' } });
      fireEvent.click(within(form).getByRole('button', { name: 'Add the price version' }));
      await screen.findByText(/^Price version from .* added to Small notebook\.$/);
    });
    const post = calls.find((c) => c.method === 'POST')!;
    expect(post.path).toBe('/v1/products/small-t3-large/prices');
    expect(post.body).toEqual({ computePerHour: '0.10', storagePerGbMonth: '0.0928', currency: 'EUR', effectiveFrom: '2026-12-02T23:00:00Z' });
    const history = within(screen.getByTestId('price-history'));
    expect(history.getByText('€0.10')).toBeTruthy();
    expect(history.getByText('scheduled')).toBeTruthy();
    expect(history.getByText('in force')).toBeTruthy();
    await waitFor(() => expect(calls.filter((c) => c.path === '/v1/products/small-t3-large/events')).toHaveLength(2));
  });

  it("shows the price route's 422 next to its field, and requires effectiveFrom before sending", async () => {
    const { api, calls } = adminApi({
      'POST /v1/products/small-t3-large/prices': () => problem(422, 'effectiveFrom is in the past', 'effectiveFrom'),
    });
    renderWith(api, <AdminCatalog />);
    fireEvent.click(await screen.findByRole('button', { name: 'Manage Small notebook' }));
    const form = screen.getByRole('form', { name: 'Add a price version' });
    fireEvent.click(within(form).getByRole('button', { name: 'Add the price version' }));
    await within(form).findByText('Give a date and a time.');
    expect(calls.some((c) => c.method === 'POST')).toBe(false);
    fireEvent.change(within(form).getByLabelText('Effective from'), { target: { value: '2020-01-01T00:00' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Add the price version' }));
    const message = await within(form).findByText('effectiveFrom is in the past');
    const input = within(form).getByLabelText('Effective from');
    expect(input.getAttribute('aria-invalid')).toBe('true');
    expect(input.getAttribute('aria-describedby')?.split(' ')).toContain(message.id);
  });

  it('edits the name, description, groups and apps', async () => {
    const { api, calls } = adminApi({
      'PUT /v1/products/small-t3-large': (req) => json(200, { ...small, ...(req.body as object), version: 4 }),
    });
    renderWith(api, <AdminCatalog />);
    fireEvent.click(await screen.findByRole('button', { name: 'Manage Small notebook' }));
    const form = screen.getByRole('form', { name: 'Edit' });
    fireEvent.change(within(form).getByLabelText('Name'), { target: { value: 'Small notebook (2 vCPU)' } });
    fireEvent.change(within(form).getByLabelText('Visible to (groups)'), { target: { value: 'scientists, finance' } });
    fireEvent.click(within(form).getByLabelText('RStudio'));
    fireEvent.click(within(form).getByRole('button', { name: 'Save the product' }));
    await screen.findByText('Product Small notebook (2 vCPU) saved.');
    expect(calls.find((c) => c.method === 'PUT')?.body).toEqual({
      name: 'Small notebook (2 vCPU)',
      description: 'JupyterLab on a small machine',
      visibleTo: ['scientists', 'finance'],
      apps: ['jupyterlab', 'rstudio'],
    });
    const row = screen.getByText('Small notebook (2 vCPU)', { selector: 'th' }).closest('tr')!;
    expect(within(row).getByText('scientists, finance')).toBeTruthy();
  });

  it('unpublishes only once confirmed', async () => {
    const { api, calls } = adminApi({
      'DELETE /v1/products/small-t3-large': () => json(200, { ...small, published: false, version: 4 }),
    });
    renderWith(api, <AdminCatalog />);
    fireEvent.click(await screen.findByRole('button', { name: 'Manage Small notebook' }));
    fireEvent.click(screen.getByRole('button', { name: 'Unpublish Small notebook' }));
    let dialog = screen.getByRole('dialog', { name: 'Unpublish Small notebook?' });
    expect(within(dialog).getByText(/Running workspaces are untouched/)).toBeTruthy();
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog')).toBeNull();
    expect(calls.some((c) => c.method === 'DELETE')).toBe(false);

    fireEvent.click(screen.getByRole('button', { name: 'Unpublish Small notebook' }));
    dialog = screen.getByRole('dialog', { name: 'Unpublish Small notebook?' });
    fireEvent.click(within(dialog).getByRole('button', { name: 'Unpublish the product' }));
    await screen.findByText('Product Small notebook unpublished.');
    expect(calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual(['/v1/products/small-t3-large']);
    expect(screen.queryByRole('dialog')).toBeNull();
    const row = screen.getByText('Small notebook', { selector: 'th' }).closest('tr')!;
    expect(within(row).getByText('Unpublished')).toBeTruthy();
    // Nothing left to unpublish.
    expect(screen.queryByRole('button', { name: 'Unpublish Small notebook' })).toBeNull();
  });

  it('keeps the dialog open with the error when unpublishing fails', async () => {
    const { api } = adminApi({ 'DELETE /v1/products/small-t3-large': () => problem(403, 'admins only') });
    renderWith(api, <AdminCatalog />);
    fireEvent.click(await screen.findByRole('button', { name: 'Manage Small notebook' }));
    fireEvent.click(screen.getByRole('button', { name: 'Unpublish Small notebook' }));
    const dialog = screen.getByRole('dialog');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Unpublish the product' }));
    expect((await within(dialog).findByRole('alert')).textContent).toContain('admins only');
  });

  it("shows the product's history with a label per action, in French too", async () => {
    const { api } = adminApi({ 'GET /v1/products/small-t3-large/events': () => page([...events].reverse()) });
    renderWith(api, <AdminCatalog />, 'fr');
    fireEvent.click(await screen.findByRole('button', { name: 'Gérer Small notebook' }));
    const history = within(await screen.findByTestId('product-history'));
    const rows = history.getAllByRole('row').slice(1);
    expect(rows.map((r) => r.getAttribute('data-action'))).toEqual(['unpublish', 'price', 'edit', 'publish']);
    expect(rows.map((r) => within(r).getAllByRole('cell')[2].textContent)).toEqual([
      'Dépublication',
      'Version de prix ajoutée',
      'Modification',
      'Publication',
    ]);
    expect(within(rows[3]).getByText('catalog-import')).toBeTruthy();
    const priceDetails = within(rows[1]).getAllByRole('cell')[3].textContent?.replace(/\s/g, ' ');
    expect(priceDetails).toMatch(/^0,10 € par heure, 0,0928 € par Go-mois, à partir du /);
  });

  it('speaks French', async () => {
    const { api } = adminApi();
    renderWith(api, <AdminCatalog />, 'fr');
    expect(await screen.findByRole('heading', { name: 'Administration du catalogue', level: 1 })).toBeTruthy();
    const form = screen.getByRole('form', { name: 'Publier un produit Service Catalog' });
    for (const label of [
      'Identifiant dans Atelier',
      'Identifiant du produit Service Catalog',
      'Type d’instance',
      'Taille du disque (Gio)',
      'Les espaces peuvent être mis en veille prolongée',
      'Visible par (groupes)',
      'Prix de calcul par heure',
      'Prix de stockage par Go-mois',
      'Devise',
      'En vigueur à partir du (facultatif)',
    ]) {
      expect(within(form).getByLabelText(label), label).toBeTruthy();
    }
    const row = (await screen.findByText('Memory-heavy analysis')).closest('tr')!;
    expect(within(row).getByText('Dépublié')).toBeTruthy();
    expect(within(row).getByText('Non')).toBeTruthy();
    expect(within(row).getByText('32 vCPU / 256 Gio')).toBeTruthy();
  });
});

describe("scientists' catalog with the admin fields", () => {
  it('shows disk and apps, and never offers an unpublished product (admins get those too)', async () => {
    const { api } = mockApi({ 'GET /v1/products': () => page([small, memory]) });
    renderWith(api, <Catalog />);
    const card = within(await screen.findByRole('article', { name: 'Small notebook' }));
    expect(card.getByText('50 GiB disk')).toBeTruthy();
    expect(card.getByText('JupyterLab')).toBeTruthy();
    expect(screen.queryByRole('article', { name: 'Memory-heavy analysis' })).toBeNull();
  });

  it('works with the fields every caller gets (no admin fields)', async () => {
    const { published: _p, visibleTo: _v, prices: _pr, serviceCatalog: _s, version: _ve, ...scientist } = memory;
    const { api } = mockApi({ 'GET /v1/products': () => page([scientist]) });
    renderWith(api, <Catalog />, 'fr');
    const card = within(await screen.findByRole('article', { name: 'Memory-heavy analysis' }));
    expect(card.getByText('200 Gio de disque')).toBeTruthy();
    expect(card.getByText('JupyterLab, RStudio')).toBeTruthy();
  });
});
