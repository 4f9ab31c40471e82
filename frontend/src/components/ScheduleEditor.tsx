import { useMemo, useState } from 'react';
import { ApiError, WEEKDAYS, type Schedule, type ScheduleWindow, type Transition } from '../api';
import { useAction } from '../action';
import { useApp } from '../app-context';
import { dayName, formatDateTime } from '../format';
import { useI18n } from '../i18n';
import { ErrorMessage } from './common';

/** Holiday calendars the API ships (shared/domain/src/schedule/holidays.rs). */
export const CALENDARS = ['fr'];

type HolidayMode = 'none' | 'calendar' | 'dates';

function holidayMode(h: Schedule['holidays']): HolidayMode {
  if (typeof h === 'string') return 'calendar';
  if (Array.isArray(h)) return 'dates';
  return 'none';
}

/** "2026-12-24, 2026-12-31\n2027-01-02" → the dates, in order, without duplicates. */
export function parseDates(text: string): string[] {
  return [...new Set(text.split(/[\s,;]+/).filter(Boolean))].sort();
}

function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  try {
    return intl.supportedValuesOf?.('timeZone') ?? [];
  } catch {
    return [];
  }
}

/**
 * The weekly schedule editor: time zone, windows (days and hours), what happens outside them,
 * holidays, on/off; a preview of the next changes from the API; `onSave` sends it.
 */
export function ScheduleEditor({
  idPrefix,
  initial,
  onSave,
  onCancel,
}: {
  idPrefix: string;
  initial: Schedule;
  onSave: (schedule: Schedule) => Promise<void>;
  onCancel?: () => void;
}) {
  const { api } = useApp();
  const { t, locale } = useI18n();
  const [draft, setDraft] = useState<Schedule>(initial);
  const [mode, setMode] = useState<HolidayMode>(holidayMode(initial.holidays));
  const [calendar, setCalendar] = useState(typeof initial.holidays === 'string' ? initial.holidays : CALENDARS[0]);
  const [dates, setDates] = useState(Array.isArray(initial.holidays) ? initial.holidays.join('\n') : '');
  const { busy, error, saved, run } = useAction();
  const [preview, setPreview] = useState<{ items: Transition[]; zone: string } | null>(null);
  const zones = useMemo(timeZones, []);
  const field = error instanceof ApiError ? error.problem?.field : undefined;
  const id = (s: string) => `${idPrefix}-${s}`;

  const build = (): Schedule => ({
    ...draft,
    timezone: draft.timezone.trim(),
    holidays: mode === 'none' ? null : mode === 'calendar' ? calendar : parseDates(dates),
  });

  const setWindow = (i: number, w: Partial<ScheduleWindow>) =>
    setDraft((d) => ({ ...d, windows: d.windows.map((x, j) => (j === i ? { ...x, ...w } : x)) }));

  return (
    <form
      className="schedule-editor"
      aria-label={t('scheduleEditorTitle')}
      onSubmit={(e) => {
        e.preventDefault();
        void run(() => onSave(build()));
      }}
    >
      <label className="radio">
        <input
          type="checkbox"
          checked={draft.enabled}
          onChange={(e) => setDraft((d) => ({ ...d, enabled: e.target.checked }))}
        />
        <span>{t('scheduleEnabled')}</span>
      </label>
      <p className="help">{t('scheduleEnabledHelp')}</p>

      <label htmlFor={id('tz')}>{t('timezone')}</label>
      <input
        id={id('tz')}
        list={id('tz-list')}
        value={draft.timezone}
        required
        aria-invalid={field === 'timezone' || undefined}
        onChange={(e) => setDraft((d) => ({ ...d, timezone: e.target.value }))}
      />
      <datalist id={id('tz-list')}>
        {zones.map((z) => (
          <option key={z} value={z} />
        ))}
      </datalist>

      <fieldset>
        <legend>{t('windowsLegend')}</legend>
        {draft.windows.length === 0 && <p className="muted">{t('noWindows')}</p>}
        {draft.windows.map((w, i) => (
          <div className="window-row" key={i} role="group" aria-label={t('windowN', { n: i + 1 })}>
            <div className="days">
              {WEEKDAYS.map((day) => (
                <label key={day} className="day" title={dayName(day, locale, 'long')}>
                  <input
                    type="checkbox"
                    checked={w.days.includes(day)}
                    aria-label={t('windowDay', { n: i + 1, day: dayName(day, locale, 'long') })}
                    onChange={(e) =>
                      setWindow(i, {
                        days: e.target.checked ? WEEKDAYS.filter((d) => d === day || w.days.includes(d)) : w.days.filter((d) => d !== day),
                      })
                    }
                  />
                  <span aria-hidden="true">{dayName(day, locale, 'short')}</span>
                </label>
              ))}
            </div>
            <div>
              <label htmlFor={id(`w${i}-start`)}>{t('windowStart')}</label>
              <input
                id={id(`w${i}-start`)}
                type="time"
                required
                value={w.start}
                onChange={(e) => setWindow(i, { start: e.target.value })}
              />
            </div>
            <div>
              <label htmlFor={id(`w${i}-end`)}>{t('windowEnd')}</label>
              <input id={id(`w${i}-end`)} type="time" required value={w.end} onChange={(e) => setWindow(i, { end: e.target.value })} />
            </div>
            <button
              type="button"
              className="secondary"
              aria-label={t('windowRemove', { n: i + 1 })}
              onClick={() => setDraft((d) => ({ ...d, windows: d.windows.filter((_, j) => j !== i) }))}
            >
              {t('remove')}
            </button>
          </div>
        ))}
        <p className="help">{t('windowsHelp')}</p>
        <button
          type="button"
          className="secondary"
          onClick={() =>
            setDraft((d) => ({ ...d, windows: [...d.windows, { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '18:00' }] }))
          }
        >
          {t('windowAdd')}
        </button>
      </fieldset>

      <fieldset>
        <legend>{t('outsideLegend')}</legend>
        {(['stop', 'hibernate'] as const).map((o) => (
          <label key={o} className="radio">
            <input
              type="radio"
              name={id('outside')}
              value={o}
              checked={draft.outside === o}
              onChange={() => setDraft((d) => ({ ...d, outside: o }))}
            />
            <span>{t(o === 'stop' ? 'outsideStopOption' : 'outsideHibernateOption')}</span>
          </label>
        ))}
      </fieldset>

      <fieldset>
        <legend>{t('holidaysLegend')}</legend>
        {(['none', 'calendar', 'dates'] as const).map((m) => (
          <label key={m} className="radio">
            <input type="radio" name={id('holidays')} value={m} checked={mode === m} onChange={() => setMode(m)} />
            <span>{t(m === 'none' ? 'holidaysNone' : m === 'calendar' ? 'holidaysCalendarOption' : 'holidaysDatesOption')}</span>
          </label>
        ))}
        {mode === 'calendar' && (
          <>
            <label htmlFor={id('calendar')}>{t('holidaysCalendarLabel')}</label>
            <select id={id('calendar')} value={calendar} onChange={(e) => setCalendar(e.target.value)}>
              {CALENDARS.map((c) => (
                <option key={c} value={c}>
                  {t(`calendar_${c}` as 'calendar_fr')}
                </option>
              ))}
            </select>
          </>
        )}
        {mode === 'dates' && (
          <>
            <label htmlFor={id('dates')}>{t('holidaysDatesLabel')}</label>
            <textarea
              id={id('dates')}
              rows={3}
              value={dates}
              aria-describedby={id('dates-help')}
              aria-invalid={field === 'holidays' || undefined}
              onChange={(e) => setDates(e.target.value)}
            />
            <p id={id('dates-help')} className="help">
              {t('holidaysDatesHelp')}
            </p>
          </>
        )}
      </fieldset>

      <div className="actions">
        <button type="submit" disabled={busy}>
          {busy ? t('saving') : t('saveSchedule')}
        </button>
        <button
          type="button"
          className="secondary"
          disabled={busy}
          onClick={() =>
            void run(async () => {
              const schedule = build();
              const { items } = await api.previewSchedule(schedule, new Date().toISOString(), 6);
              setPreview({ items, zone: schedule.timezone });
            }, false)
          }
        >
          {t('previewSchedule')}
        </button>
        {onCancel && (
          <button type="button" className="secondary" onClick={onCancel}>
            {t('cancel')}
          </button>
        )}
      </div>
      {saved && (
        <p className="notice" role="status">
          {t('saved')}
        </p>
      )}
      {error !== null && <ErrorMessage error={error} />}
      {preview !== null && (
        <div aria-live="polite">
          <h3>{t('previewTitleSchedule')}</h3>
          {preview.items.length === 0 ? (
            <p>{t('noNextTransition')}</p>
          ) : (
            <ul data-testid="schedule-preview">
              {preview.items.map((p) => (
                <li key={p.at}>
                  {t(p.to === 'RUNNING' ? 'previewStarts' : 'previewStops', {
                    date: formatDateTime(p.at, locale, preview.zone),
                    zone: preview.zone,
                  })}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </form>
  );
}
