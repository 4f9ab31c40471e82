import { describe, expect, it, vi } from 'vitest';
import { Api, ApiError, errorFrom } from './api';
import { sent } from './test/mock-api';

function response(status: number, body: string, type = 'application/problem+json'): Response {
  return new Response(body, { status, headers: { 'Content-Type': type } });
}

const problem = (status: number, type: string, detail: string, field?: string) =>
  JSON.stringify({ type, title: 'T', status, detail, ...(field ? { field } : {}) });

describe('Api', () => {
  it('sends the bearer token, Accept and JSON content type', async () => {
    const fetchMock = vi.fn(async () => response(202, JSON.stringify({ id: 'ws-1', name: 'A' }), 'application/json'));
    const api = new Api({ baseUrl: 'http://api.test/', getToken: () => 'tok', fetch: fetchMock as unknown as typeof fetch });
    const w = await api.create('python-r-standard', 'A', 'key-1');
    expect(w.id).toBe('ws-1');
    const [url, init] = await sent((fetchMock.mock.calls[0] as unknown as [Request])[0]);
    expect(url).toBe('http://api.test/v1/workspaces');
    expect(init.method).toBe('POST');
    const headers = init.headers as Record<string, string>;
    expect(headers.Authorization).toBe('Bearer tok');
    expect(headers['Content-Type']).toBe('application/json');
    expect(headers['Idempotency-Key']).toBe('key-1');
    expect(headers.Accept).toContain('application/json');
    expect(JSON.parse(init.body as string)).toEqual({ productId: 'python-r-standard', name: 'A' });
  });

  it('sends no body and no content type on GET, and builds list queries', async () => {
    const fetchMock = vi.fn(async () => response(200, '{"items":[],"nextToken":null}', 'application/json'));
    const api = new Api({ baseUrl: '', getToken: async () => 't', fetch: fetchMock as unknown as typeof fetch });
    await api.workspaces({ kind: 'all' }, 'abc');
    const [url, init] = await sent((fetchMock.mock.calls[0] as unknown as [Request])[0]);
    expect(url).toBe('/v1/workspaces?limit=100&nextToken=abc&all=true');
    expect((init.headers as Record<string, string>)['Content-Type']).toBeUndefined();
    expect(init.body).toBeUndefined();
  });

  it('maps actions to routes (terminate is DELETE)', async () => {
    const fetchMock = vi.fn(async () => response(202, '{}', 'application/json'));
    const api = new Api({ baseUrl: '', getToken: () => 't', fetch: fetchMock as unknown as typeof fetch });
    await api.act('ws-1', 'stop');
    await api.act('ws-1', 'terminate');
    const calls = await Promise.all((fetchMock.mock.calls as unknown as [Request][]).map(([r]) => sent(r)));
    expect(calls.map(([u, i]) => `${i.method} ${u}`)).toEqual(['POST /v1/workspaces/ws-1/stop', 'DELETE /v1/workspaces/ws-1']);
  });

  it('lists the apps and asks for break-glass access with the reason', async () => {
    const fetchMock = vi.fn(async () => response(200, '{"items":[]}', 'application/json'));
    const api = new Api({ baseUrl: '', getToken: () => 't', fetch: fetchMock as unknown as typeof fetch });
    await api.apps('ws 1');
    await api.breakGlass('ws-1', 'INC-42');
    const calls = await Promise.all((fetchMock.mock.calls as unknown as [Request][]).map(([r]) => sent(r)));
    expect(calls.map(([u, i]) => `${i.method} ${u}`)).toEqual(['GET /v1/workspaces/ws%201/apps', 'POST /v1/workspaces/ws-1/break-glass']);
    expect(JSON.parse(calls[1][1].body as string)).toEqual({ reason: 'INC-42' });
    expect(calls[1][1].headers['Content-Type']).toBe('application/json');
  });

  it('gives the current access token (for the gateway), null when signed out', async () => {
    expect(await new Api({ baseUrl: '', getToken: async () => 'fresh' }).accessToken()).toBe('fresh');
    expect(await new Api({ baseUrl: '', getToken: () => null }).accessToken()).toBeNull();
  });

  it('turns a problem document into an ApiError carrying its detail', async () => {
    const fetchMock = vi.fn(async () =>
      response(409, problem(409, '/problems/illegal-transition', 'cannot stop a STOPPED workspace')),
    );
    const api = new Api({ baseUrl: '', getToken: () => 't', fetch: fetchMock as unknown as typeof fetch });
    const error = await api.act('ws-1', 'stop').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe('cannot stop a STOPPED workspace');
    expect((error as ApiError).status).toBe(409);
    expect((error as ApiError).type).toBe('/problems/illegal-transition');
  });

  it('keeps the field of a 422 and calls onUnauthorized on 401', async () => {
    const e422 = await errorFrom(response(422, problem(422, '/problems/unprocessable', 'productId: unknown', 'productId')));
    expect(e422.problem?.field).toBe('productId');
    const onUnauthorized = vi.fn();
    const fetchMock = vi.fn(async () => response(401, problem(401, '/problems/unauthorized', 'a valid access token is required')));
    const api = new Api({ baseUrl: '', getToken: () => 'old', onUnauthorized, fetch: fetchMock as unknown as typeof fetch });
    await expect(api.me()).rejects.toThrow('a valid access token is required');
    expect(onUnauthorized).toHaveBeenCalledOnce();
  });

  it('gives a readable message for answers that are not problem documents', async () => {
    expect((await errorFrom(response(413, 'length limit exceeded', 'text/plain'))).message).toBe('length limit exceeded');
    expect((await errorFrom(new Response('', { status: 405, statusText: 'Method Not Allowed' }))).message).toBe(
      'Method Not Allowed',
    );
    expect((await errorFrom(new Response('', { status: 502 }))).message).toBe('HTTP 502');
  });

  it('reports network failures as ApiError with status 0', async () => {
    const api = new Api({
      baseUrl: '',
      getToken: () => null,
      fetch: (async () => {
        throw new TypeError('Failed to fetch');
      }) as unknown as typeof fetch,
    });
    await expect(api.products()).rejects.toMatchObject({ status: 0, message: 'Failed to fetch' });
  });

  it('follows nextToken across pages', async () => {
    const pages = [
      { items: [1, 2], nextToken: 'n1' },
      { items: [3], nextToken: null },
    ];
    const api = new Api({ baseUrl: '', getToken: () => null });
    const seen: (string | null)[] = [];
    const all = await api.all(async (token) => {
      seen.push(token);
      return pages[seen.length - 1];
    });
    expect(all).toEqual([1, 2, 3]);
    expect(seen).toEqual([null, 'n1']);
  });
});
