import { describe, expect, it } from 'vitest';
import { Api, dispositionFilename, fillPath, ROUTES, type Schedule } from './api';
import { sent, type Sent } from './test/mock-api';

const schedule: Schedule = { timezone: 'Europe/Paris', windows: [], holidays: null, outside: 'stop', enabled: true };

/** The template of ROUTES that `method path` matches, or null. */
function match(method: string, path: string): string | null {
  // Literal paths first, as the router does (/v1/datasets/access.csv before /v1/datasets/{id}).
  const routes = Object.values(ROUTES).sort((a, b) => Number(a.path.includes('{')) - Number(b.path.includes('{')));
  for (const r of routes) {
    const re = new RegExp(`^${r.path.replace(/[.]/g, '\\.').replace(/\{\w+\}/g, '[^/]+')}$`);
    if (r.method === method && re.test(path)) return `${r.method} ${r.path}`;
  }
  return null;
}

describe('the route table', () => {
  it('is every request the client makes, and every entry is used', async () => {
    const seen: string[] = [];
    const api = new Api({
      baseUrl: 'http://api.test',
      getToken: () => 't',
      fetch: async (request: Request) => {
        seen.push(`${request.method} ${new URL(request.url).pathname}`);
        return new Response(request.url.includes('.csv') ? 'month\r\n' : '{"items":[],"nextToken":null}', { status: 200 });
      },
    });
    const budget = { amount: null, thresholds: [80, 100], policy: 'notify' as const };
    const datasetInput = {
      name: 'D',
      description: '',
      location: 's3://lake/d/',
      classification: 'clinical' as const,
      owner: 'o',
      readers: { groups: [], users: [] },
    };
    const publish = {
      id: 'p',
      serviceCatalogProductId: 'prod-abc',
      instanceType: 't3.large',
      volumeGiB: 50,
      hibernation: true,
      visibleTo: ['scientists'],
      apps: ['jupyterlab'],
      price: { computePerHour: '0.09', storagePerGbMonth: '0.0928', currency: 'EUR' },
    };
    await Promise.all([
      api.me(),
      api.products(),
      api.publishProduct(publish),
      api.editProduct('p', { name: 'P', description: '', visibleTo: ['scientists'], apps: [] }),
      api.unpublishProduct('p'),
      api.addProductPrice('p', { computePerHour: '0.10', storagePerGbMonth: '0.0928', currency: 'EUR', effectiveFrom: '2026-12-02T08:00:00Z' }),
      api.productEvents('p'),
      api.workspaces(),
      api.create('p', 'n'),
      api.workspace('w 1'),
      ...(['start', 'stop', 'hibernate', 'terminate'] as const).map((a) => api.act('w', a)),
      api.events('w'),
      api.schedule('w'),
      api.setSchedule('w', schedule),
      api.setOverride('w', '2026-11-23T20:00:00Z'),
      api.clearOverride('w'),
      api.defaultSchedule(),
      api.setDefaultSchedule(schedule),
      api.previewSchedule(schedule, '2026-11-23T00:00:00Z', 3),
      api.myCosts('2026-11'),
      api.notifications(),
      api.usersCosts('2026-11'),
      api.exportCosts('2026-11'),
      api.createCostExport('2026-11'),
      api.budget('alice'),
      api.setBudget('alice', budget),
      api.orgBudget(),
      api.setOrgBudget(budget),
      api.exchangeRates(),
      api.putExchangeRate('USD', 'EUR', '2026-11-01', '0.92'),
      api.datasets(),
      api.dataset('d'),
      api.createDataset({ id: 'd', ...datasetInput }),
      api.updateDataset('d', datasetInput),
      api.deleteDataset('d'),
      api.datasetAccess('d'),
      api.exportDataAccess('2026-11'),
      api.myDataAccess(),
      api.attachDataset('w', 'd'),
      api.detachDataset('w', 'd'),
      api.apps('w'),
      api.breakGlass('w', 'INC-1'),
    ]);
    const unmatched = seen.filter((s) => match(...(s.split(' ') as [string, string])) === null);
    expect(unmatched).toEqual([]);
    const used = new Set(seen.map((s) => match(...(s.split(' ') as [string, string]))));
    const table = Object.values(ROUTES).map((r) => `${r.method} ${r.path}`);
    expect(table.filter((r) => !used.has(r))).toEqual([]);
    expect(new Set(table).size).toBe(table.length);
  });

  it('fills path parameters, encoded, and refuses a missing one', () => {
    expect(fillPath('/v1/workspaces/{id}/stop', { id: 'a b/c' })).toBe('/v1/workspaces/a%20b%2Fc/stop');
    expect(() => fillPath('/v1/budgets/{user}')).toThrow(/missing path parameter user/);
  });
});

describe('catalog requests', () => {
  it('send the admin catalog bodies as the contract says, amounts as decimal strings', async () => {
    const calls: [string, Sent][] = [];
    const api = new Api({
      baseUrl: '',
      getToken: () => 't',
      fetch: async (request: Request) => {
        calls.push(await sent(request));
        return new Response('{"items":[],"nextToken":null}', { status: 200 });
      },
    });
    const price = { computePerHour: '0.10', storagePerGbMonth: '0.0928', currency: 'EUR', effectiveFrom: '2026-12-02T08:00:00Z' };
    await api.addProductPrice('gpu less', price);
    await api.unpublishProduct('small-t3-large');
    await api.productEvents('small-t3-large', 'tok/1');
    expect(calls.map(([u, i]) => `${i.method} ${u}`)).toEqual([
      'POST /v1/products/gpu%20less/prices',
      'DELETE /v1/products/small-t3-large',
      'GET /v1/products/small-t3-large/events?limit=100&nextToken=tok%2F1',
    ]);
    expect(calls[0][1].body).toBe(JSON.stringify(price));
    expect(calls[1][1].body).toBeUndefined();
  });
});

describe('costs and budgets requests', () => {
  it('asks for the export with the cost centre and separator, and keeps its file name', async () => {
    const urls: string[] = [];
    const api = new Api({
      baseUrl: '',
      getToken: () => 't',
      fetch: async (request: Request) => {
        const [url, init] = await sent(request);
        urls.push(url);
        expect((init.headers as Record<string, string>).Accept).toContain('text/csv');
        return new Response('month;user\r\n', {
          status: 200,
          headers: { 'Content-Type': 'text/csv; charset=utf-8', 'Content-Disposition': 'attachment; filename="atelier-costs-2026-10.csv"' },
        });
      },
    });
    const file = await api.exportCosts('2026-10', { costCentre: 'CC-ONCOLOGY', separator: 'semicolon' });
    expect(urls[0]).toBe('/v1/costs/export.csv?month=2026-10&costCentre=CC-ONCOLOGY&separator=semicolon');
    expect(file).toEqual({ filename: 'atelier-costs-2026-10.csv', text: 'month;user\r\n' });
    await api.exportCosts('2026-10', { separator: 'comma' });
    expect(urls[1]).toBe('/v1/costs/export.csv?month=2026-10');
  });

  it('writes the export to a file with the cost centre and separator, and answers its link', async () => {
    const calls: [string, Sent][] = [];
    const answer = { url: 'https://exports.test/x.csv?sig=1', expiresAt: '2026-10-31T10:15:00Z', bytes: 12, month: '2026-10' };
    const api = new Api({
      baseUrl: '',
      getToken: () => 't',
      fetch: async (request: Request) => {
        calls.push(await sent(request));
        return new Response(JSON.stringify(answer), { status: 201, headers: { 'Content-Type': 'application/json' } });
      },
    });
    expect(await api.createCostExport('2026-10', { costCentre: 'CC-ONCOLOGY', separator: 'semicolon' })).toEqual(answer);
    await api.createCostExport('2026-10', { costCentre: null, separator: 'comma' });
    expect(calls.map(([url, init]) => [url, init.method])).toEqual([
      ['/v1/costs/exports', 'POST'],
      ['/v1/costs/exports', 'POST'],
    ]);
    expect(JSON.parse(calls[0][1].body ?? '')).toEqual({ month: '2026-10', costCentre: 'CC-ONCOLOGY', separator: 'semicolon' });
    expect(JSON.parse(calls[1][1].body ?? '')).toEqual({ month: '2026-10' });
  });

  it('reads the file name of a Content-Disposition header, with a fallback', () => {
    expect(dispositionFilename('attachment; filename="a.csv"', 'x')).toBe('a.csv');
    expect(dispositionFilename('attachment; filename=b.csv', 'x')).toBe('b.csv');
    expect(dispositionFilename(null, 'x.csv')).toBe('x.csv');
  });

  it('puts a budget as the contract says', async () => {
    const calls: [string, Sent][] = [];
    const api = new Api({
      baseUrl: '',
      getToken: () => 't',
      fetch: async (request: Request) => {
        calls.push(await sent(request));
        return new Response('{}', { status: 200 });
      },
    });
    await api.setBudget('alice', { amount: '300.00', thresholds: [80, 100], policy: 'stop-at-100' });
    await api.setOrgBudget({ amount: null, thresholds: [100], policy: 'notify' });
    expect(calls.map(([u, i]) => `${i.method} ${u}`)).toEqual(['PUT /v1/budgets/alice', 'PUT /v1/config/budget']);
    expect(JSON.parse(calls[0][1].body as string)).toEqual({ amount: '300.00', thresholds: [80, 100], policy: 'stop-at-100' });
    expect(JSON.parse(calls[1][1].body as string)).toEqual({ amount: null, thresholds: [100], policy: 'notify' });
  });
});
