import type { Notification } from '../api';
import { useApp } from '../app-context';
import { ErrorMessage, Loading } from '../components/common';
import { formatDateTime, formatMonth } from '../format';
import { useI18n, type I18n } from '../i18n';
import { formatMoney } from '../money';
import { useLoad } from '../poll';

/** At most this many pages (100 each) are shown; the API keeps the rest. */
const MAX_PAGES = 5;

/** What one notification says, in the reader's language ("your" when it is the reader's own). */
export function describeNotification(n: Notification, self: string | undefined, { t, locale }: Pick<I18n, 't' | 'locale'>): string {
  const vars = {
    user: n.user,
    month: formatMonth(n.month, locale),
    threshold: String(n.threshold),
    amount: formatMoney(n.amount, n.currency, locale),
    budget: formatMoney(n.budget, n.currency, locale),
  };
  const crossed = t(n.user === self ? 'notificationCrossingOwn' : 'notificationCrossingOther', vars);
  const stops = n.policy === 'stop-at-100' && n.threshold >= 100;
  return stops ? `${crossed} ${t(n.user === self ? 'notificationStoppedOwn' : 'notificationStoppedOther', vars)}` : crossed;
}

/** How its e-mail went. */
export function describeDelivery(n: Notification, { t, locale }: Pick<I18n, 't' | 'locale'>): string {
  const d = n.delivery;
  switch (d.status) {
    case 'sent':
      return t('deliverySent', { at: d.sentAt ? formatDateTime(d.sentAt, locale) : '' });
    case 'pending':
      return t('deliveryPending', { attempts: String(d.attempts) });
    case 'failed':
      return t('deliveryFailed', { error: d.lastError ?? '' });
    case 'no-address':
      return t('deliveryNoAddress');
  }
}

/** "Notifications": budget crossings the watch recorded for the caller (admins: everybody's), newest first. */
export function Notifications() {
  const { api, me } = useApp();
  const i18n = useI18n();
  const { t, locale } = i18n;
  const { data, error, loading, reload } = useLoad(() => api.all((tk) => api.notifications(tk), MAX_PAGES), [api]);
  return (
    <section className="panel" aria-labelledby="notifications-title">
      <h1 id="notifications-title">{t('notificationsTitle')}</h1>
      <p className="muted">{t('notificationsIntro')}</p>
      {error !== null && <ErrorMessage error={error} onRetry={() => void reload()} />}
      {loading && data === null && <Loading />}
      {data !== null &&
        (data.length === 0 ? (
          <p>{t('noNotifications')}</p>
        ) : (
          <ul className="notifications" data-testid="notifications">
            {data.map((n) => (
              <li key={n.id} data-kind={n.kind} data-status={n.delivery.status}>
                <time dateTime={n.at}>{formatDateTime(n.at, locale)}</time>
                <p>{describeNotification(n, me?.username, i18n)}</p>
                <p className={n.delivery.status === 'failed' ? 'warning-text' : 'muted'}>{describeDelivery(n, i18n)}</p>
              </li>
            ))}
          </ul>
        ))}
    </section>
  );
}
