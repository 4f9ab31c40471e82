import { WEEKDAYS, type Schedule, type Transition, type Weekday } from './api';
import type { I18n } from './i18n';

export function formatDateTime(iso: string, locale: string, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone }).format(new Date(iso));
}

export function formatTime(iso: string | Date, locale: string, timeZone?: string): string {
  return new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', timeZone }).format(
    typeof iso === 'string' ? new Date(iso) : iso,
  );
}

function dayKey(d: Date): string {
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** "stops today at 18:00", "starts tomorrow at 09:00", "starts on Mon 24 Nov, 09:00" (browser time zone). */
export function describeTransition(t: Transition, i18n: Pick<I18n, 't' | 'locale'>, now: Date = new Date()): string {
  const at = new Date(t.at);
  const verb = i18n.t(t.to === 'RUNNING' ? 'verbStarts' : 'verbStops');
  const time = formatTime(at, i18n.locale);
  const tomorrow = new Date(now);
  tomorrow.setDate(now.getDate() + 1);
  if (dayKey(at) === dayKey(now)) return i18n.t('transitionToday', { verb, time });
  if (dayKey(at) === dayKey(tomorrow)) return i18n.t('transitionTomorrow', { verb, time });
  const date = new Intl.DateTimeFormat(i18n.locale, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    hour: '2-digit',
    minute: '2-digit',
  }).format(at);
  return i18n.t('transitionOn', { verb, date });
}

/** A localised day name (2024-01-01 was a Monday). */
export function dayName(day: Weekday, locale: string, style: 'short' | 'long' = 'short'): string {
  const i = WEEKDAYS.indexOf(day);
  return new Intl.DateTimeFormat(locale, { weekday: style, timeZone: 'UTC' }).format(new Date(Date.UTC(2024, 0, 1 + i)));
}

/** "Mon–Fri" for consecutive days, else a comma list. */
export function formatDays(days: readonly Weekday[], locale: string): string {
  const idx = days.map((d) => WEEKDAYS.indexOf(d)).sort((a, b) => a - b);
  if (idx.length === 0) return '';
  const consecutive = idx.every((v, i) => i === 0 || v === idx[i - 1] + 1);
  if (consecutive && idx.length > 2) return `${dayName(WEEKDAYS[idx[0]], locale)}–${dayName(WEEKDAYS[idx[idx.length - 1]], locale)}`;
  return idx.map((i) => dayName(WEEKDAYS[i], locale)).join(', ');
}

/** Lines summarising a schedule. */
export function describeSchedule(s: Schedule, i18n: Pick<I18n, 't' | 'locale'>): string[] {
  if (!s.enabled) return [i18n.t('scheduleDisabled')];
  const lines = s.windows.map((w) =>
    i18n.t('scheduleWindow', { days: formatDays(w.days, i18n.locale), start: w.start, end: w.end }),
  );
  lines.push(i18n.t(s.outside === 'hibernate' ? 'outsideHibernate' : 'outsideStop'));
  if (typeof s.holidays === 'string') lines.push(i18n.t('holidaysCalendar', { calendar: s.holidays }));
  else if (Array.isArray(s.holidays) && s.holidays.length > 0) lines.push(i18n.t('holidaysDates', { n: s.holidays.length }));
  lines.push(i18n.t('scheduleZone', { zone: s.timezone }));
  return lines;
}

/** The next occurrence of local time `hhmm` ("19:30") after `now`, as an RFC 3339 instant. */
export function nextLocalTime(hhmm: string, now: Date = new Date()): string {
  const [h, m] = hhmm.split(':').map(Number);
  const at = new Date(now);
  at.setHours(h, m, 0, 0);
  if (at.getTime() <= now.getTime()) at.setDate(at.getDate() + 1);
  return at.toISOString();
}

/** The current month in UTC, `YYYY-MM` (the cost API's months are UTC: ADR 0006). */
export function currentMonth(now: Date = new Date()): string {
  return `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** `2026-11` → "November 2026" / "novembre 2026". */
export function formatMonth(month: string, locale: string): string {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m) return month;
  return new Intl.DateTimeFormat(locale, { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(
    new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1)),
  );
}

/** Seconds as hours (one or two decimals), per locale: 5400 → "1.5 h" / "1,5 h". */
export function formatHours(seconds: number, locale: string): string {
  return `${new Intl.NumberFormat(locale, { minimumFractionDigits: 1, maximumFractionDigits: 2 }).format(seconds / 3600)} h`;
}

/** A percentage per locale: 82.5 → "82.5 %" / "82,5 %". */
export function formatPercent(percent: number, locale: string): string {
  return new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 0 }).format(percent / 100);
}

/**
 * A `datetime-local` value ("2026-12-02T09:00", seconds optional), read in the browser's time
 * zone, as an RFC 3339 instant in UTC ("2026-12-02T08:00:00Z" in Paris). Null when it is not
 * such a value. A local time skipped by a daylight-saving change moves forward, as `Date` does.
 */
export function localDateTimeToUtc(value: string): string | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value.trim());
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((x) => Number(x ?? 0));
  if (h > 23 || mi > 59 || s > 59) return null;
  const at = new Date(y, mo - 1, d, h, mi, s);
  // 2026-02-30 would roll over into March.
  if (Number.isNaN(at.getTime()) || at.getMonth() !== mo - 1 || at.getDate() !== d) return null;
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `at` as a `datetime-local` value in the browser's time zone, to the minute ("2026-12-02T09:00"). */
export function toLocalDateTimeInput(at: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${p(at.getMonth() + 1)}-${p(at.getDate())}T${p(at.getHours())}:${p(at.getMinutes())}`;
}

/** The browser's time zone (IANA name), for "your local time" hints. */
export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC';
}
