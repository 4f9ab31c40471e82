// A fetch that answers by "METHOD /path" (query ignored) and records every request, for
// component tests of screens that talk to the API.
import { render } from '@testing-library/react';
import type { ReactNode } from 'react';
import { Api, type Me, type Problem } from '../api';
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

export const problem = (status: number, detail: string, field?: string) => {
  const body: Problem = { type: '/problems/x', title: 'T', status, detail, ...(field ? { field } : {}) };
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/problem+json' } });
};

/** A request as the API client sent it: URL (relative to the page when it is on the page's origin), method, headers (`Content-Type` style names), body text. */
export interface Sent {
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

export async function sent(request: Request): Promise<[string, Sent]> {
  const url = request.url.startsWith(`${location.origin}/`) ? request.url.slice(location.origin.length) : request.url;
  const headers = Object.fromEntries([...request.headers].map(([k, v]) => [k.replace(/(^|-)[a-z]/g, (c) => c.toUpperCase()), v]));
  const body = request.body === null ? undefined : await request.text();
  return [url, { method: request.method, headers, body }];
}

export function mockApi(routes: Record<string, Handler>) {
  const calls: Recorded[] = [];
  const fetchImpl = async (request: Request) => {
    const [url, init] = await sent(request);
    const { pathname, searchParams } = new URL(url, 'http://portal.test');
    const req: Recorded = {
      method: init.method,
      path: pathname,
      query: searchParams,
      body: init.body === undefined ? undefined : JSON.parse(init.body),
    };
    calls.push(req);
    const handler = routes[`${req.method} ${req.path}`];
    if (!handler) return new Response('', { status: 404, statusText: 'Not Found' });
    return handler(req);
  };
  const api = new Api({ baseUrl: '', getToken: () => 'tok', fetch: fetchImpl });
  return { api, calls };
}

export function renderWith(api: Api, ui: ReactNode, lang: Lang = 'en', me: Me | null = null) {
  return render(
    <I18nProvider lang={lang}>
      <AppContext.Provider value={{ api, config: { apiUrl: '', region: 'r', userPoolId: 'p', userPoolClientId: 'c' }, me }}>
        {ui}
      </AppContext.Provider>
    </I18nProvider>,
  );
}
