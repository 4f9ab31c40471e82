import { describe, expect, it } from 'vitest';
import { en, fr, tables, translate } from './i18n';

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('i18n tables', () => {
  it('have the same keys in every language', () => {
    const keys = Object.keys(en).sort();
    for (const [lang, table] of Object.entries(tables)) {
      expect(Object.keys(table).sort(), lang).toEqual(keys);
    }
  });

  it('use the same placeholders in every language, and no empty strings', () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(placeholders(fr[key]), key).toEqual(placeholders(en[key]));
      expect(fr[key].length, key).toBeGreaterThan(0);
    }
  });

  it('interpolates parameters', () => {
    expect(translate('en', 'signedInAs', { user: 'alice' })).toBe('Signed in as alice');
    expect(translate('fr', 'launchTitle', { product: 'X' })).toBe('Lancer X');
  });
});
