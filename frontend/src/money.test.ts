import { describe, expect, it } from 'vitest';
import { formatMoney, multiply, parseAmount, toDecimalString } from './money';

describe('money', () => {
  it('parses decimal strings to ten-thousandths exactly', () => {
    expect(parseAmount('0.35')).toBe(3500n);
    expect(parseAmount('2.2')).toBe(22000n);
    expect(parseAmount('12')).toBe(120000n);
    expect(parseAmount('0.0001')).toBe(1n);
    expect(() => parseAmount('0.1e2')).toThrow();
    expect(() => parseAmount('1.23456')).toThrow();
    expect(() => parseAmount('')).toThrow();
  });

  it('multiplies without float error', () => {
    expect(multiply('0.35', 9)).toBe('3.15');
    expect(multiply('0.09', 9)).toBe('0.81');
    expect(multiply('2.20', 9)).toBe('19.80');
    expect(multiply('0.1', 3)).toBe('0.30'); // 0.1 * 3 = 0.30000000000000004 in floats
    expect(multiply('0.0125', 9)).toBe('0.1125');
    expect(multiply('12345678901234.57', 9)).toBe('111111110111111.13');
    expect(toDecimalString(-1500n)).toBe('-0.15');
  });

  it('formats per locale', () => {
    expect(formatMoney('0.35', 'EUR', 'en-GB')).toBe('€0.35');
    expect(formatMoney('3.15', 'EUR', 'fr-FR').replace(/\s/g, ' ')).toBe('3,15 €');
    expect(formatMoney('0.1125', 'EUR', 'en-GB')).toBe('€0.1125');
    expect(formatMoney('19.8', 'EUR', 'en-GB')).toBe('€19.80');
  });

  it('formats large amounts exactly (no binary float)', () => {
    expect(formatMoney('12345678901234567.35', 'EUR', 'en-GB')).toBe('€12,345,678,901,234,567.35');
  });
});
