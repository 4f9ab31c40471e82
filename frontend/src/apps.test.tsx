// @vitest-environment jsdom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BreakGlass, Me, Workspace, WorkspaceApp, WorkspaceEvent } from './api';
import { appsPollInterval, describeEvent, openApp, QuickOpen, sessionUrl, WorkspaceApps } from './components/Apps';
import { en, fr, translate, type Key, type Params } from './i18n';
import { FAST_POLL_MS, SLOW_POLL_MS } from './poll';
import { WorkspacePage } from './screens/WorkspacePage';
import { json, mockApi, problem, renderWith } from './test/mock-api';

const URL_ = 'http://127.0.0.1:8081/w/ws-1/jupyterlab/';
const jupyter = (ready: boolean): WorkspaceApp => ({ app: 'jupyterlab', url: URL_, ready });
const rstudio = (ready: boolean): WorkspaceApp => ({ app: 'rstudio', url: 'http://127.0.0.1:8081/w/ws-1/rstudio/', ready });

const workspace = (state: Workspace['state'] = 'RUNNING'): Workspace => ({
  id: 'ws-1',
  name: 'Study',
  owner: 'alice',
  productId: 'python-r-standard',
  instanceType: 'm5.2xlarge',
  state,
  instanceId: 'i-1',
  createdAt: '2026-11-02T10:00:00Z',
  updatedAt: '2026-11-02T10:00:00Z',
  error: null,
  hibernation: true,
  allowedActions: state === 'RUNNING' ? ['stop', 'terminate'] : ['start', 'terminate'],
  schedule: { timezone: 'Europe/Paris', windows: [], holidays: null, outside: 'stop', enabled: false },
  override: null,
  nextTransition: null,
  datasets: [],
});

const me = (username: string, groups: string[]): Me => ({ sub: username, username, email: null, groups, costCentre: null });
const ada = me('ada', ['admins']);
const alice = me('alice', ['scientists']);

/** What the form looked like when submitted (it is gone afterwards). */
interface Submitted {
  action: string;
  method: string;
  target: string;
  rel: string | null;
  fields: [string, string, string][];
  inDocument: boolean;
}
let submitted: Submitted[] = [];

beforeEach(() => {
  submitted = [];
  vi.spyOn(HTMLFormElement.prototype, 'submit').mockImplementation(function (this: HTMLFormElement) {
    submitted.push({
      action: this.action,
      method: this.method,
      target: this.target,
      rel: this.getAttribute('rel'),
      fields: [...this.querySelectorAll('input')].map((i) => [i.type, i.name, i.value]),
      inDocument: document.body.contains(this),
    });
  });
});

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

describe('opening an app', () => {
  it('posts the token in a hidden field of a form to <url>_atelier/session, in a new tab, then removes the form', () => {
    openApp(URL_, 'the-token');
    expect(submitted).toEqual([
      {
        action: 'http://127.0.0.1:8081/w/ws-1/jupyterlab/_atelier/session',
        method: 'post',
        target: '_blank',
        rel: 'noopener',
        fields: [['hidden', 'access_token', 'the-token']],
        inDocument: true,
      },
    ]);
    expect(submitted[0].action).not.toContain('the-token');
    expect(document.querySelectorAll('form')).toHaveLength(0);
  });

  it('removes the form even when submitting throws', () => {
    vi.mocked(HTMLFormElement.prototype.submit).mockImplementation(() => {
      throw new Error('blocked');
    });
    expect(() => openApp(URL_, 't')).toThrow('blocked');
    expect(document.querySelectorAll('form')).toHaveLength(0);
  });

  it('adds the slash a URL may lack', () => {
    expect(sessionUrl('http://gw/w/ws-1/jupyterlab')).toBe('http://gw/w/ws-1/jupyterlab/_atelier/session');
    expect(sessionUrl(URL_)).toBe(`${URL_}_atelier/session`);
  });

  it('polls fast only while a running workspace has an app not ready', () => {
    expect(appsPollInterval('RUNNING', [jupyter(false)])).toBe(FAST_POLL_MS);
    expect(appsPollInterval('RUNNING', [jupyter(true), rstudio(false)])).toBe(FAST_POLL_MS);
    expect(appsPollInterval('RUNNING', [jupyter(true)])).toBe(SLOW_POLL_MS);
    expect(appsPollInterval('STOPPED', [jupyter(false)])).toBe(SLOW_POLL_MS);
    expect(appsPollInterval('STARTING', [jupyter(false)])).toBe(SLOW_POLL_MS);
  });
});

describe('the Apps panel (owner)', () => {
  it('enables the button of a ready app, submits the current token on click; a starting app is disabled with a hint', async () => {
    const { api, calls } = mockApi({ 'GET /v1/workspaces/ws-1/apps': () => json(200, { items: [jupyter(true), rstudio(false)] }) });
    renderWith(api, <WorkspaceApps workspace={workspace('RUNNING')} />, 'en', alice);
    const open = await screen.findByRole('button', { name: 'Open JupyterLab' });
    expect((open as HTMLButtonElement).disabled).toBe(false);
    const rs = screen.getByRole('button', { name: 'Open RStudio' }) as HTMLButtonElement;
    expect(rs.disabled).toBe(true);
    expect(document.getElementById(rs.getAttribute('aria-describedby') ?? '')?.textContent).toContain(
      'Starting: RStudio does not answer yet.',
    );
    fireEvent.click(open);
    await waitFor(() => expect(submitted).toHaveLength(1));
    expect(submitted[0].action).toBe(`${URL_}_atelier/session`);
    expect(submitted[0].fields).toEqual([['hidden', 'access_token', 'tok']]);
    expect(document.querySelectorAll('form')).toHaveLength(0);
    expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual(['GET /v1/workspaces/ws-1/apps']);
  });

  it('disables every app of a stopped workspace and says when it starts, in English and French', async () => {
    const { api } = mockApi({ 'GET /v1/workspaces/ws-1/apps': () => json(200, { items: [jupyter(false)] }) });
    renderWith(api, <WorkspaceApps workspace={workspace('STOPPED')} />);
    const b = (await screen.findByRole('button', { name: 'Open JupyterLab' })) as HTMLButtonElement;
    expect(b.disabled).toBe(true);
    expect(b.getAttribute('aria-describedby')).toBeTruthy();
    expect(document.getElementById(b.getAttribute('aria-describedby')!)?.textContent).toContain(
      'Starts when the workspace is running',
    );
    fireEvent.click(b);
    expect(submitted).toHaveLength(0);
    cleanup();
    renderWith(api, <WorkspaceApps workspace={workspace('STOPPED')} />, 'fr');
    const f = (await screen.findByRole('button', { name: 'Ouvrir JupyterLab' })) as HTMLButtonElement;
    expect(f.disabled).toBe(true);
    expect(screen.getByText(/Démarre quand l’espace est en marche/)).toBeTruthy();
  });

  it('shows an error when there is no token, and the API error with a retry', async () => {
    let fail = true;
    const { api, calls } = mockApi({
      'GET /v1/workspaces/ws-1/apps': () => (fail ? problem(503, 'the store is unavailable') : json(200, { items: [jupyter(true)] })),
    });
    renderWith(api, <WorkspaceApps workspace={workspace()} />);
    await screen.findByText('the store is unavailable');
    fail = false;
    fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    const open = await screen.findByRole('button', { name: 'Open JupyterLab' });
    expect(calls).toHaveLength(2);
    vi.spyOn(api, 'accessToken').mockResolvedValue(null);
    fireEvent.click(open);
    expect((await screen.findByRole('alert')).textContent).toBe('Sign in again to open JupyterLab.');
    expect(submitted).toHaveLength(0);
  });

  it('is not shown for a terminated workspace', () => {
    const { api } = mockApi({ 'GET /v1/workspaces/ws-1/apps': () => json(200, { items: [jupyter(false)] }) });
    renderWith(api, <WorkspaceApps workspace={workspace('TERMINATED')} />);
    expect(screen.queryByTestId('workspace-apps')).toBeNull();
  });
});

describe('break-glass (an admin on another person’s workspace)', () => {
  const grant: BreakGlass = {
    workspaceId: 'ws-1',
    username: 'ada',
    reason: 'INC-42',
    grantedAt: '2026-11-02T10:00:00Z',
    expiresAt: '2099-11-02T11:00:00Z',
  };

  it('offers no Open button before a grant; refuses an empty reason; posts the reason; then shows until when and the buttons', async () => {
    const granted = vi.fn();
    const { api, calls } = mockApi({
      'GET /v1/workspaces/ws-1/apps': () => json(200, { items: [jupyter(true)] }),
      'POST /v1/workspaces/ws-1/break-glass': () => json(201, grant),
    });
    renderWith(api, <WorkspaceApps workspace={workspace()} onGranted={granted} />, 'en', ada);
    const button = await screen.findByRole('button', { name: 'Break-glass access' });
    expect(screen.getByText(/belongs to alice/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: /^Open / })).toBeNull();
    fireEvent.click(button);
    const form = screen.getByRole('form', { name: 'Break-glass access' });
    const reason = within(form).getByLabelText('Reason') as HTMLInputElement;
    expect(reason.required).toBe(true);
    expect(document.activeElement).toBe(reason);
    fireEvent.change(reason, { target: { value: '   ' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Grant access' }));
    expect(await within(form).findByText('Give a reason for the access.')).toBeTruthy();
    expect(reason.getAttribute('aria-invalid')).toBe('true');
    expect(calls.filter((c) => c.method === 'POST')).toEqual([]);
    fireEvent.change(reason, { target: { value: ' INC-42 ' } });
    fireEvent.click(within(form).getByRole('button', { name: 'Grant access' }));
    const active = await screen.findByTestId('break-glass-active');
    expect(active.textContent).toMatch(/^Break-glass access until .*2099/);
    expect(calls.filter((c) => c.method === 'POST')).toEqual([
      expect.objectContaining({ path: '/v1/workspaces/ws-1/break-glass', body: { reason: 'INC-42' } }),
    ]);
    expect(granted).toHaveBeenCalledWith(grant);
    expect(screen.queryByRole('form')).toBeNull();
    fireEvent.click(screen.getByRole('button', { name: 'Open JupyterLab' }));
    await waitFor(() => expect(submitted).toHaveLength(1));
  });

  it('shows the API’s refusal and keeps the form', async () => {
    const { api } = mockApi({
      'GET /v1/workspaces/ws-1/apps': () => json(200, { items: [jupyter(true)] }),
      'POST /v1/workspaces/ws-1/break-glass': () => problem(403, 'admins only'),
    });
    renderWith(api, <WorkspaceApps workspace={workspace()} />, 'fr', ada);
    fireEvent.click(await screen.findByRole('button', { name: 'Accès bris de glace' }));
    fireEvent.change(screen.getByLabelText('Raison'), { target: { value: 'INC-1' } });
    fireEvent.click(screen.getByRole('button', { name: 'Obtenir l’accès' }));
    expect((await screen.findByRole('alert')).textContent).toContain('admins only');
    expect(screen.getByRole('form', { name: 'Accès bris de glace' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: /^Ouvrir / })).toBeNull();
  });

  it('asks nothing of an admin on their own workspace', async () => {
    const { api } = mockApi({ 'GET /v1/workspaces/ws-1/apps': () => json(200, { items: [jupyter(true)] }) });
    renderWith(api, <WorkspaceApps workspace={{ ...workspace(), owner: 'ada' }} />, 'en', ada);
    await screen.findByRole('button', { name: 'Open JupyterLab' });
    expect(screen.queryByRole('button', { name: 'Break-glass access' })).toBeNull();
  });
});

describe('the workspace list shortcut', () => {
  it('shows "Open JupyterLab" for a running workspace whose JupyterLab is ready', async () => {
    const { api } = mockApi({ 'GET /v1/workspaces/ws-1/apps': () => json(200, { items: [jupyter(true), rstudio(false)] }) });
    renderWith(api, <QuickOpen workspace={workspace('RUNNING')} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Open JupyterLab in Study' }));
    expect(screen.queryByRole('button', { name: /RStudio/ })).toBeNull();
    await waitFor(() => expect(submitted.map((s) => s.action)).toEqual([`${URL_}_atelier/session`]));
  });

  it('asks nothing for a workspace that is not running', async () => {
    const { api, calls } = mockApi({ 'GET /v1/workspaces/ws-1/apps': () => json(200, { items: [jupyter(true)] }) });
    const { container } = renderWith(api, <QuickOpen workspace={workspace('STOPPED')} />);
    await new Promise((r) => setTimeout(r, 10));
    expect(calls).toEqual([]);
    expect(container.textContent).toBe('');
  });
});

describe('app events in the history', () => {
  const event = (action: WorkspaceEvent['action'], extra: Partial<WorkspaceEvent> = {}): WorkspaceEvent => ({
    at: '2026-11-02T10:00:00Z',
    actor: 'alice',
    action,
    from: 'RUNNING',
    to: 'RUNNING',
    reason: null,
    ...extra,
  });
  const conn = { app: 'jupyterlab', session: 's-1', source: '127.0.0.1', via: 'owner' } as const;
  const t = (lang: 'en' | 'fr') => (key: Key, params?: Params) => translate(lang, key, params);

  it('names the app, where from, and break-glass sessions', () => {
    expect(describeEvent(event('connect', { connection: conn }), t('en'))).toBe('Opened JupyterLab from 127.0.0.1');
    expect(describeEvent(event('connect', { connection: { ...conn, source: undefined } }), t('en'))).toBe('Opened JupyterLab');
    expect(describeEvent(event('connect', { connection: { ...conn, via: 'break-glass' } }), t('en'))).toBe(
      'Opened JupyterLab from 127.0.0.1 (break-glass)',
    );
    expect(describeEvent(event('disconnect', { connection: conn, reason: 'idle' }), t('en'))).toBe('Closed JupyterLab');
    expect(describeEvent(event('break-glass', { actor: 'ada', reason: 'INC-42' }), t('en'))).toBe('Break-glass access');
    expect(describeEvent(event('connect'), t('en'))).toBe('App opened');
    expect(describeEvent(event('stop'), t('en'))).toBe('Stop');
  });

  it('speaks French', () => {
    expect(describeEvent(event('connect', { connection: conn }), t('fr'))).toBe('JupyterLab ouvert depuis 127.0.0.1');
    expect(describeEvent(event('disconnect', { connection: { ...conn, app: 'rstudio' } }), t('fr'))).toBe('RStudio fermé');
    expect(describeEvent(event('break-glass'), t('fr'))).toBe('Accès bris de glace');
  });

  it('has every new string in both languages', () => {
    const keys = Object.keys(en).filter((k) => /^(app|breakGlass|ev_(connect|disconnect|break-glass|viaBreakGlass))/.test(k));
    expect(keys.length).toBeGreaterThanOrEqual(20);
    for (const k of keys) expect(fr[k as Key], k).toBeTruthy();
  });

  it('renders on the workspace page: the connection, the reason of a disconnect and of a break-glass', async () => {
    const events: WorkspaceEvent[] = [
      event('break-glass', { at: '2026-11-02T12:00:00Z', actor: 'ada', reason: 'INC-42' }),
      event('disconnect', { at: '2026-11-02T11:00:00Z', connection: conn, reason: 'idle for 2 hours' }),
      event('connect', { at: '2026-11-02T10:00:00Z', connection: conn }),
    ];
    const { api } = mockApi({
      'GET /v1/workspaces/ws-1': () => json(200, workspace()),
      'GET /v1/workspaces/ws-1/events': () => json(200, { items: events, nextToken: null }),
      'GET /v1/workspaces/ws-1/apps': () => json(200, { items: [jupyter(true)] }),
      'GET /v1/datasets': () => json(200, { items: [], nextToken: null }),
    });
    renderWith(api, <WorkspacePage id="ws-1" />, 'en', alice);
    const connect = await screen.findByRole('cell', { name: 'Opened JupyterLab from 127.0.0.1' });
    expect(connect.closest('tr')?.textContent).toContain('alice');
    const closed = screen.getByRole('cell', { name: 'Closed JupyterLab' }).closest('tr')!;
    expect(within(closed).getByRole('cell', { name: 'idle for 2 hours' })).toBeTruthy();
    const glass = screen.getByRole('cell', { name: 'Break-glass access' }).closest('tr')!;
    expect(within(glass).getByRole('cell', { name: 'INC-42' })).toBeTruthy();
    expect(within(glass).getByRole('cell', { name: 'ada' })).toBeTruthy();
    expect(await screen.findByRole('button', { name: 'Open JupyterLab' })).toBeTruthy();
  });
});
