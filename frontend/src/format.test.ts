import { describe, expect, it } from 'vitest';
import type { Schedule } from './api';
import { describeSchedule, describeTransition, formatDays, nextLocalTime } from './format';
import { translate } from './i18n';

const en = { locale: 'en-GB', t: (k: Parameters<typeof translate>[1], p?: Record<string, string | number>) => translate('en', k, p) };

describe('format', () => {
  it('describes the next transition relative to today', () => {
    const now = new Date(2026, 10, 23, 10, 0);
    const today = new Date(2026, 10, 23, 18, 0).toISOString();
    const tomorrow = new Date(2026, 10, 24, 9, 0).toISOString();
    expect(describeTransition({ at: today, to: 'STOPPED' }, en, now)).toBe('stops today at 18:00');
    expect(describeTransition({ at: tomorrow, to: 'RUNNING' }, en, now)).toBe('starts tomorrow at 09:00');
    expect(describeTransition({ at: new Date(2026, 10, 27, 9, 0).toISOString(), to: 'RUNNING' }, en, now)).toMatch(/^starts on Fri/);
  });

  it('summarises a schedule', () => {
    const s: Schedule = {
      timezone: 'Europe/Paris',
      windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '18:00' }],
      holidays: 'fr',
      outside: 'stop',
      enabled: true,
    };
    expect(describeSchedule(s, en)).toEqual([
      'Mon–Fri 09:00–18:00',
      'Stopped outside these hours.',
      'Public holidays (fr) are days off.',
      'Time zone: Europe/Paris',
    ]);
    expect(describeSchedule({ ...s, enabled: false }, en)).toEqual(['Always on: the schedule is disabled.']);
    expect(formatDays(['sat', 'mon'], 'en-GB')).toBe('Mon, Sat');
  });

  it('picks the next occurrence of a local time', () => {
    const now = new Date(2026, 10, 23, 19, 0);
    expect(new Date(nextLocalTime('20:00', now)).getDate()).toBe(23);
    expect(new Date(nextLocalTime('08:00', now)).getDate()).toBe(24);
  });
});
