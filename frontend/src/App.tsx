import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { Api, type ApiError, type Me, type PortalConfig } from './api';
import { AppContext } from './app-context';
import { refresh, REFRESH_MARGIN_MS, type Session } from './auth';
import { ErrorMessage, Loading } from './components/common';
import { LANGS, useI18n, type Lang } from './i18n';
import { href, useRoute } from './router';
import { Admin } from './screens/Admin';
import { AdminCatalog } from './screens/AdminCatalog';
import { AdminCosts } from './screens/AdminCosts';
import { Budgets } from './screens/Budgets';
import { AdminDatasets } from './screens/Datasets';
import { DefaultSchedule } from './screens/DefaultSchedule';
import { Finance } from './screens/Finance';
import { Notifications } from './screens/Notifications';
import { Catalog } from './screens/Catalog';
import { SignIn } from './screens/SignIn';
import { WorkspacePage } from './screens/WorkspacePage';
import { MyWorkspaces } from './screens/Workspaces';

/** The API's base URL: `apiUrl`, except under `vite` dev where the proxy makes it same-origin. */
function apiBase(config: PortalConfig): string {
  return import.meta.env.DEV ? '' : config.apiUrl;
}

export function App({ config }: { config: PortalConfig }) {
  const { t, lang, setLang } = useI18n();
  const route = useRoute();
  // In memory only (see auth.ts): a reload starts signed out.
  const [session, setSession] = useState<Session | null>(null);
  const [expired, setExpired] = useState(false);
  const sessionRef = useRef(session);
  sessionRef.current = session;
  const refreshing = useRef<Promise<Session | null> | null>(null);

  const update = useCallback((s: Session | null) => {
    sessionRef.current = s;
    setSession(s);
  }, []);

  const endSession = useCallback(() => {
    update(null);
    setExpired(true);
  }, [update]);

  /** Refreshes once (concurrent callers share the same attempt); ends the session on failure. */
  const doRefresh = useCallback(async (): Promise<Session | null> => {
    const current = sessionRef.current;
    if (!current) return null;
    if (!refreshing.current) {
      refreshing.current = refresh(config, current)
        .then((s) => {
          update(s);
          return s;
        })
        .catch(() => {
          endSession();
          return null;
        })
        .finally(() => {
          refreshing.current = null;
        });
    }
    return refreshing.current;
  }, [config, update, endSession]);

  // Refresh shortly before the access token expires.
  useEffect(() => {
    if (!session) return;
    const delay = Math.max(0, session.expiresAt - REFRESH_MARGIN_MS - Date.now());
    const timer = setTimeout(() => void doRefresh(), delay);
    return () => clearTimeout(timer);
  }, [session, doRefresh]);

  const api = useMemo(
    () =>
      new Api({
        baseUrl: apiBase(config),
        getToken: async () => {
          const s = sessionRef.current;
          if (!s) return null;
          if (s.expiresAt - Date.now() < 30_000) return (await doRefresh())?.accessToken ?? null;
          return s.accessToken;
        },
        onUnauthorized: (_e: ApiError) => endSession(),
      }),
    [config, doRefresh, endSession],
  );

  const [me, setMe] = useState<Me | null>(null);
  const [meError, setMeError] = useState<unknown>(null);
  const username = session?.username;
  useEffect(() => {
    setMe(null);
    setMeError(null);
    if (!username) return;
    let live = true;
    api
      .me()
      .then((m) => live && setMe(m))
      .catch((e) => live && setMeError(e));
    return () => {
      live = false;
    };
  }, [api, username]);

  const isAdmin = me?.groups.includes('admins') ?? false;
  const isFinance = isAdmin || (me?.groups.includes('finance') ?? false);
  const meLoading = me === null && meError === null;
  /** A screen for one role: loading until /v1/me answers, then the screen or "not found". */
  const gated = (allowed: boolean, node: React.ReactNode) => (meLoading ? <Loading /> : allowed ? node : <p>{t('notFound')}</p>);
  const ctx = useMemo(() => ({ api, config, me }), [api, config, me]);

  let screen;
  if (!session) {
    screen = (
      <SignIn
        config={config}
        expired={expired}
        onSignedIn={(s) => {
          setExpired(false);
          update(s);
          // The hash is untouched while signed out: the user is back on the page they were on.
        }}
      />
    );
  } else if (route.name === 'catalog') screen = <Catalog />;
  else if (route.name === 'workspaces') screen = <MyWorkspaces />;
  else if (route.name === 'workspace') screen = <WorkspacePage id={route.id} />;
  else if (route.name === 'admin') screen = gated(isAdmin, <Admin />);
  else if (route.name === 'adminCosts') screen = gated(isAdmin, <AdminCosts />);
  else if (route.name === 'adminBudgets') screen = gated(isAdmin, <Budgets />);
  else if (route.name === 'adminSchedule') screen = gated(isAdmin, <DefaultSchedule />);
  else if (route.name === 'adminDatasets') screen = gated(isAdmin, <AdminDatasets />);
  else if (route.name === 'adminCatalog') screen = gated(isAdmin, <AdminCatalog />);
  else if (route.name === 'finance') screen = gated(isFinance, <Finance />);
  else if (route.name === 'notifications') screen = <Notifications />;
  else screen = <p>{t('notFound')}</p>;

  const current = (name: string) => (route.name === name ? 'page' : undefined);

  return (
    <AppContext.Provider value={ctx}>
      <a className="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>
        {t('skipToContent')}
      </a>
      <header className="topbar">
        <span className="brand">{t('appName')}</span>
        {session && (
          <nav aria-label="Main">
            <a href={href({ name: 'catalog' })} aria-current={current('catalog')}>
              {t('navCatalog')}
            </a>
            <a href={href({ name: 'workspaces' })} aria-current={route.name === 'workspaces' || route.name === 'workspace' ? 'page' : undefined}>
              {t('navWorkspaces')}
            </a>
            <a href={href({ name: 'notifications' })} aria-current={current('notifications')}>
              {t('navNotifications')}
            </a>
            {isAdmin && (
              <a href={href({ name: 'admin' })} aria-current={route.name.startsWith('admin') ? 'page' : undefined}>
                {t('navAdmin')}
              </a>
            )}
            {isFinance && (
              <a href={href({ name: 'finance' })} aria-current={current('finance')}>
                {t('navFinance')}
              </a>
            )}
          </nav>
        )}
        <div className="right">
          <label htmlFor="lang" className="sr-only">
            {t('language')}
          </label>
          <select id="lang" value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
            {LANGS.map((l) => (
              <option key={l.code} value={l.code} lang={l.code}>
                {l.label}
              </option>
            ))}
          </select>
          {session && (
            <>
              <span className="muted" data-testid="whoami">{t('signedInAs', { user: session.username })}</span>
              <button
                type="button"
                className="secondary"
                onClick={() => {
                  setExpired(false);
                  update(null);
                  window.location.hash = '#/workspaces';
                }}
              >
                {t('signOut')}
              </button>
            </>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {meError !== null && session && <ErrorMessage error={meError} />}
        {screen}
      </main>
    </AppContext.Provider>
  );
}
