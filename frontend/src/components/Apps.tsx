// The apps a workspace serves through the gateway (JupyterLab, RStudio): "Open" buttons, an
// admin's break-glass access to another person's workspace, and how app events read in the
// history.
//
// A browser session at the gateway opens by a top-level form POST of the portal's access token
// to `<app url>_atelier/session`, in a new tab: the gateway checks the Origin (the portal's),
// sets its own HttpOnly cookie and redirects to the app. The token is never put in a URL nor
// stored: the form lives only while it is submitted.
import { useEffect, useId, useRef, useState } from 'react';
import type { BreakGlass, Workspace, WorkspaceApp, WorkspaceEvent } from '../api';
import { useAction } from '../action';
import { useApp } from '../app-context';
import { formatDateTime } from '../format';
import { useI18n, type I18n } from '../i18n';
import { FAST_POLL_MS, SLOW_POLL_MS, usePolling } from '../poll';
import { ErrorMessage, Loading } from './common';

/** Display names of the apps products declare; any other app shows its identifier. */
const APP_NAMES: Record<string, string> = { jupyterlab: 'JupyterLab', rstudio: 'RStudio' };

export function appName(app: string): string {
  return APP_NAMES[app] ?? app;
}

/** The gateway's session route of an app whose URL is `url` (`…/w/<id>/<app>/`). */
export function sessionUrl(url: string): string {
  return `${url.endsWith('/') ? url : `${url}/`}_atelier/session`;
}

/**
 * Opens the app at `url` in a new tab: posts `token` to its session route from a form that is
 * removed at once (`doc` for tests).
 */
export function openApp(url: string, token: string, doc: Document = document): void {
  const form = doc.createElement('form');
  form.method = 'post';
  form.action = sessionUrl(url);
  form.target = '_blank';
  // No handle on the portal's window for the new tab (not `noreferrer`: the gateway needs the Origin).
  form.setAttribute('rel', 'noopener');
  form.hidden = true;
  const field = doc.createElement('input');
  field.type = 'hidden';
  field.name = 'access_token';
  field.value = token;
  form.append(field);
  doc.body.append(form);
  try {
    form.submit();
  } finally {
    form.remove();
  }
}

/** How often to ask for the apps: fast while a running workspace has an app not answering yet. */
export function appsPollInterval(state: Workspace['state'], apps: WorkspaceApp[]): number {
  return state === 'RUNNING' && apps.some((a) => !a.ready) ? FAST_POLL_MS : SLOW_POLL_MS;
}

/** The "What" cell of a history event: app events name the app (and where from). */
export function describeEvent(e: WorkspaceEvent, t: I18n['t']): string {
  const c = e.connection;
  if (!c || (e.action !== 'connect' && e.action !== 'disconnect')) return t(`ev_${e.action}`);
  const app = appName(c.app);
  const what =
    e.action === 'disconnect'
      ? t('ev_disconnectApp', { app })
      : c.source
        ? t('ev_connectFrom', { app, source: c.source })
        : t('ev_connectApp', { app });
  return c.via === 'break-glass' ? t('ev_viaBreakGlass', { what }) : what;
}

/** One "Open …" button: enabled when the app answers, else disabled with a hint saying why. */
function AppButton({
  app,
  workspace,
  label,
  onOpen,
}: {
  app: WorkspaceApp;
  workspace: Workspace;
  label?: string;
  onOpen: (app: WorkspaceApp) => void;
}) {
  const { t } = useI18n();
  const hint = useId();
  const name = appName(app.app);
  return (
    <>
      <button
        type="button"
        data-app={app.app}
        disabled={!app.ready}
        aria-label={label}
        aria-describedby={app.ready ? undefined : hint}
        onClick={() => onOpen(app)}
      >
        {t('appOpen', { app: name })}
      </button>
      {!app.ready && (
        <span id={hint} className="help">
          {' '}
          {workspace.state === 'RUNNING' ? t('appStarting', { app: name }) : t('appWaitRunning')}
        </span>
      )}
    </>
  );
}

/** Opens apps with the current access token; `error` when there is none (signed out). */
function useOpener() {
  const { api } = useApp();
  const { t } = useI18n();
  const [error, setError] = useState<string | null>(null);
  const open = async (app: WorkspaceApp) => {
    setError(null);
    const token = await api.accessToken();
    if (!token) {
      setError(t('appSignedOut', { app: appName(app.app) }));
      return;
    }
    openApp(app.url, token);
  };
  return { error, open: (app: WorkspaceApp) => void open(app) };
}

/**
 * The workspace page's "Apps" panel. The owner gets the Open buttons; an admin looking at
 * another person's workspace first asks for break-glass access (with a reason), then gets
 * them until the grant expires. `onGranted` lets the page reload its history.
 */
export function WorkspaceApps({ workspace: w, onGranted }: { workspace: Workspace; onGranted?: (g: BreakGlass) => void }) {
  const { api, me } = useApp();
  const { t, locale } = useI18n();
  const { data, error, reload } = usePolling(
    () => api.apps(w.id),
    (d) => appsPollInterval(w.state, d.items),
    [api, w.id, w.state],
  );
  const opener = useOpener();
  const [grant, setGrant] = useState<BreakGlass | null>(null);
  // Somebody else's workspace (an admin's view): the gateway lets them in with a grant only.
  const needsGrant = me !== null && me.username !== w.owner;

  useEffect(() => {
    if (!grant) return;
    const left = Date.parse(grant.expiresAt) - Date.now();
    const timer = setTimeout(() => setGrant(null), Math.min(Math.max(0, left), 2 ** 31 - 1));
    return () => clearTimeout(timer);
  }, [grant]);

  if (w.state === 'TERMINATING' || w.state === 'TERMINATED') return null;
  const items = data?.items ?? [];
  return (
    <div className="panel" data-testid="workspace-apps">
      <h2>{t('appsTitle')}</h2>
      {error !== null && <ErrorMessage error={error} onRetry={() => void reload()} />}
      {data === null && error === null && <Loading />}
      {data !== null && items.length === 0 && <p>{t('appsNone')}</p>}
      {needsGrant && grant === null ? (
        <BreakGlassAccess
          workspace={w}
          onGranted={(g) => {
            setGrant(g);
            onGranted?.(g);
          }}
        />
      ) : (
        items.length > 0 && (
          <>
            {grant !== null && (
              <p className="notice" role="status" data-testid="break-glass-active">
                {t('breakGlassActive', { time: formatDateTime(grant.expiresAt, locale) })}
              </p>
            )}
            <ul className="plain">
              {items.map((a) => (
                <li key={a.app}>
                  <AppButton app={a} workspace={w} onOpen={opener.open} />
                </li>
              ))}
            </ul>
            <p className="help">{t('appOpensInTab')}</p>
            {opener.error !== null && (
              <p className="error" role="alert">
                {opener.error}
              </p>
            )}
          </>
        )
      )}
    </div>
  );
}

/** The break-glass button, then a small form asking for the reason; calls the API. */
export function BreakGlassAccess({ workspace: w, onGranted }: { workspace: Workspace; onGranted: (g: BreakGlass) => void }) {
  const { api } = useApp();
  const { t } = useI18n();
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState('');
  const [invalid, setInvalid] = useState(false);
  const { busy, error, run } = useAction();
  const field = useRef<HTMLInputElement>(null);
  const ids = useId();

  useEffect(() => {
    if (asking) field.current?.focus();
  }, [asking]);

  return (
    <div data-testid="break-glass">
      <p>{t('breakGlassIntro', { owner: w.owner })}</p>
      {!asking ? (
        <button type="button" className="danger" aria-expanded={false} onClick={() => setAsking(true)}>
          {t('breakGlassButton')}
        </button>
      ) : (
        <form
          aria-label={t('breakGlassButton')}
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            const why = reason.trim();
            if (!why) {
              setInvalid(true);
              field.current?.focus();
              return;
            }
            setInvalid(false);
            void run(async () => onGranted(await api.breakGlass(w.id, why)), false);
          }}
        >
          <label htmlFor={`${ids}-reason`}>{t('breakGlassReason')}</label>
          <input
            id={`${ids}-reason`}
            ref={field}
            required
            maxLength={500}
            autoComplete="off"
            value={reason}
            aria-invalid={invalid || undefined}
            aria-describedby={invalid ? `${ids}-help ${ids}-invalid` : `${ids}-help`}
            onChange={(e) => {
              setReason(e.target.value);
              if (e.target.value.trim()) setInvalid(false);
            }}
          />
          <p id={`${ids}-help`} className="help">
            {t('breakGlassReasonHelp')}
          </p>
          {invalid && (
            <p id={`${ids}-invalid`} className="error-text">
              {t('breakGlassReasonRequired')}
            </p>
          )}
          {error !== null && <ErrorMessage error={error} />}
          <div className="actions">
            <button type="submit" className="danger" disabled={busy}>
              {busy ? t('breakGlassGranting') : t('breakGlassGrant')}
            </button>
            <button
              type="button"
              className="secondary"
              onClick={() => {
                setAsking(false);
                setInvalid(false);
              }}
            >
              {t('cancel')}
            </button>
          </div>
        </form>
      )}
    </div>
  );
}

/**
 * The workspace list's shortcut: an "Open …" button per app that answers, for a RUNNING
 * workspace (nothing otherwise, nor on an error: the workspace page says more).
 */
export function QuickOpen({ workspace: w }: { workspace: Workspace }) {
  const { api } = useApp();
  const { t } = useI18n();
  const running = w.state === 'RUNNING';
  const { data } = usePolling(
    async () => (running ? (await api.apps(w.id)).items : []),
    (items) => appsPollInterval(w.state, items),
    [api, w.id, running],
  );
  const opener = useOpener();
  const ready = running ? (data ?? []).filter((a) => a.ready) : [];
  if (ready.length === 0) return null;
  return (
    <div className="actions">
      {ready.map((a) => (
        <AppButton
          key={a.app}
          app={a}
          workspace={w}
          label={t('appOpenIn', { app: appName(a.app), name: w.name })}
          onOpen={opener.open}
        />
      ))}
      {opener.error !== null && (
        <p className="error" role="alert">
          {opener.error}
        </p>
      )}
    </div>
  );
}
