// A fetch that answers by "METHOD /path" (query ignored) and records every request, for
// component tests of screens that talk to the API.
import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { Api } from '../api';
import { AppContext } from '../app-context';
import { I18nProvider, type Lang } from '../i18n';

export interface Recorded {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

export type Handler = (req: Recorded) => Response | Promise<Response>;

export const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

export const problem = (status: number, detail: string, field?: string) =>
  new Response(JSON.stringify({ type: '/problems/x', title: 'T', status, detail, ...(field ? { field } : {}) }), {
    status,
    headers: { 'Content-Type': 'application/problem+json' },
  });

export function mockApi(routes: Record<string, Handler>) {
  const calls: Recorded[] = [];
  const fetchImpl = (async (input: string, init: RequestInit = {}) => {
    const url = new URL(input, 'http://portal.test');
    const req: Recorded = {
      method: init.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
    };
    calls.push(req);
    const handler = routes[`${req.method} ${req.path}`];
    if (!handler) return new Response('', { status: 404, statusText: 'Not Found' });
    return handler(req);
  }) as unknown as typeof fetch;
  const api = new Api({ baseUrl: '', getToken: () => 'tok', fetch: fetchImpl });
  return { api, calls };
}

export function renderWith(api: Api, ui: ReactNode, lang: Lang = 'en') {
  return render(
    <I18nProvider lang={lang}>
      <AppContext.Provider value={{ api, config: { apiUrl: '', region: 'r', userPoolId: 'p', userPoolClientId: 'c' }, me: null }}>
        {ui}
      </AppContext.Provider>
    </I18nProvider>,
  );
}
