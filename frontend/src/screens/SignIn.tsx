import { useState } from 'react';
import type { PortalConfig } from '../api';
import { signIn, type Session } from '../auth';
import { ErrorMessage } from '../components/common';
import { useI18n } from '../i18n';

export function SignIn({
  config,
  expired,
  onSignedIn,
  fetchImpl,
}: {
  config: PortalConfig;
  expired: boolean;
  onSignedIn: (s: Session) => void;
  fetchImpl?: typeof fetch;
}) {
  const { t } = useI18n();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSignedIn(await signIn(config, username.trim(), password, fetchImpl));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <section className="signin">
      <h1>{t('signInTitle')}</h1>
      <p className="muted">{t('signInIntro')}</p>
      {expired && (
        <p className="notice" role="status">
          {t('sessionExpired')}
        </p>
      )}
      <form onSubmit={submit}>
        <label htmlFor="username">{t('username')}</label>
        <input id="username" autoComplete="username" required value={username} onChange={(e) => setUsername(e.target.value)} />
        <label htmlFor="password">{t('password')}</label>
        <input
          id="password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        {error !== null && <ErrorMessage error={error} />}
        <button type="submit" disabled={busy}>
          {busy ? t('signingIn') : t('signIn')}
        </button>
      </form>
    </section>
  );
}
