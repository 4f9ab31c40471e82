// @vitest-environment jsdom
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Api, type Product, type Workspace } from './api';
import { AppContext } from './app-context';
import { TerminateDialog, WorkspaceActions } from './components/actions';
import { StateBadge } from './components/common';
import { I18nProvider, type Lang } from './i18n';
import { ProductCard } from './screens/Catalog';
import { pollInterval } from './screens/Workspaces';
import { SignIn } from './screens/SignIn';

afterEach(cleanup);

const product: Product = {
  id: 'python-r-standard',
  name: 'Python & R workstation',
  description: 'JupyterLab and RStudio',
  instanceType: 'm5.2xlarge',
  vcpus: 8,
  memoryGiB: 32,
  hourlyPrice: { amount: '0.35', currency: 'EUR' },
  storagePrice: null,
  hibernation: true,
  volumeGiB: 100,
  apps: ['jupyterlab', 'rstudio'],
};

const workspace: Workspace = {
  id: 'ws-1',
  name: 'Analyse 1',
  owner: 'alice',
  productId: 'python-r-standard',
  instanceType: 'm5.2xlarge',
  state: 'RUNNING',
  instanceId: 'i-1',
  createdAt: '2026-11-20T08:00:00Z',
  updatedAt: '2026-11-20T08:00:00Z',
  error: null,
  hibernation: true,
  allowedActions: ['stop', 'hibernate', 'terminate'],
  schedule: { timezone: 'Europe/Paris', windows: [], holidays: null, outside: 'stop', enabled: true },
  override: null,
  nextTransition: null,
  datasets: [],
};

function withI18n(ui: React.ReactNode, lang: Lang = 'en') {
  return render(<I18nProvider lang={lang}>{ui}</I18nProvider>);
}

describe('ProductCard', () => {
  it('shows specs and exact prices per hour and per working day', () => {
    withI18n(<ProductCard product={product} onLaunch={() => {}} />);
    expect(screen.getByRole('heading', { name: 'Python & R workstation' })).toBeTruthy();
    expect(screen.getByText('8 vCPU')).toBeTruthy();
    expect(screen.getByText('32 GiB memory')).toBeTruthy();
    expect(screen.getByText('€0.35 per hour')).toBeTruthy();
    expect(screen.getByText('€3.15 per 9-hour working day')).toBeTruthy();
  });

  it('formats in French', () => {
    withI18n(<ProductCard product={product} onLaunch={() => {}} />, 'fr');
    expect(screen.getByText((t) => t.replace(/\s/g, ' ') === '3,15 € par journée de travail de 9 heures')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Lancer Python & R workstation' })).toBeTruthy();
  });
});

describe('StateBadge', () => {
  it('shows a progress indicator only for transitional states', () => {
    const { rerender } = withI18n(<StateBadge state="STOPPING" />);
    expect(screen.getByLabelText('Stopping in progress')).toBeTruthy();
    rerender(
      <I18nProvider lang="en">
        <StateBadge state="STOPPED" />
      </I18nProvider>,
    );
    expect(screen.queryByRole('progressbar')).toBeNull();
  });

  it('polls fast while anything is transitional', () => {
    expect(pollInterval([{ ...workspace, state: 'PROVISIONING' }, workspace])).toBe(2000);
    expect(pollInterval([workspace])).toBeGreaterThan(2000);
  });
});

describe('WorkspaceActions', () => {
  it('offers exactly the allowed actions and shows API errors', async () => {
    const api = new Api({
      baseUrl: '',
      getToken: () => 't',
      fetch: (async () =>
        new Response(
          JSON.stringify({ type: '/problems/illegal-transition', title: 'x', status: 409, detail: 'cannot stop now' }),
          { status: 409 },
        )) as unknown as typeof fetch,
    });
    const onChanged = vi.fn();
    render(
      <I18nProvider lang="en">
        <AppContext.Provider value={{ api, config: { apiUrl: '', region: 'r', userPoolId: 'p', userPoolClientId: 'c' }, me: null }}>
          <WorkspaceActions workspace={workspace} onChanged={onChanged} />
        </AppContext.Provider>
      </I18nProvider>,
    );
    const names = screen.getAllByRole('button').map((b) => b.textContent);
    expect(names).toEqual(['Stop', 'Hibernate', 'Terminate']);
    fireEvent.click(screen.getByRole('button', { name: 'Stop Analyse 1' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('cannot stop now'));
    expect(onChanged).not.toHaveBeenCalled();
  });
});

describe('TerminateDialog', () => {
  it('enables the confirmation only once the exact name is typed', () => {
    const onConfirm = vi.fn();
    withI18n(<TerminateDialog name="Analyse 1" busy={false} error={null} onCancel={() => {}} onConfirm={onConfirm} />);
    const confirm = screen.getByRole('button', { name: 'Terminate workspace' }) as HTMLButtonElement;
    const input = screen.getByLabelText('Type the workspace name to confirm');
    expect(document.activeElement).toBe(input);
    expect(confirm.disabled).toBe(true);
    fireEvent.change(input, { target: { value: 'Analyse' } });
    expect(confirm.disabled).toBe(true);
    fireEvent.change(input, { target: { value: 'Analyse 1' } });
    expect(confirm.disabled).toBe(false);
    fireEvent.click(confirm);
    expect(onConfirm).toHaveBeenCalledOnce();
  });

  it('closes on Escape', () => {
    const onCancel = vi.fn();
    withI18n(<TerminateDialog name="A" busy={false} error={null} onCancel={onCancel} onConfirm={() => {}} />);
    fireEvent.keyDown(screen.getByRole('dialog'), { key: 'Escape' });
    expect(onCancel).toHaveBeenCalledOnce();
  });
});

describe('SignIn', () => {
  it("shows Cognito's refusal as a readable error", async () => {
    const fetchMock = (async () =>
      new Response(JSON.stringify({ __type: 'NotAuthorizedException', message: 'Incorrect username or password.' }), {
        status: 400,
      })) as unknown as typeof fetch;
    withI18n(
      <SignIn
        config={{ apiUrl: '', region: 'r', userPoolId: 'p', userPoolClientId: 'c' }}
        expired
        onSignedIn={() => {}}
        fetchImpl={fetchMock}
      />,
    );
    expect(screen.getByText(/session has expired/)).toBeTruthy();
    fireEvent.change(screen.getByLabelText('Username'), { target: { value: 'alice' } });
    fireEvent.change(screen.getByLabelText('Password'), { target: { value: 'x' } });
    fireEvent.click(screen.getByRole('button', { name: 'Sign in' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('Incorrect username or password.'));
  });
});
