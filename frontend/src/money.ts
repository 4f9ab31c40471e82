// Money without floats: decimal strings become integers of ten-thousandths (BigInt),
// arithmetic is exact, and Intl formats the decimal string itself.

export const SCALE_DIGITS = 4;
const SCALE = 10n ** BigInt(SCALE_DIGITS);

/** Hours in the working day the catalog prices ("per 9-hour working day"). */
export const WORKING_DAY_HOURS = 9;

/** "0.35" → 3500n (ten-thousandths). Throws on anything but a plain decimal with ≤ 4 decimals. */
export function parseAmount(amount: string): bigint {
  const m = /^(-)?(\d+)(?:\.(\d{1,4}))?$/.exec(amount.trim());
  if (!m) throw new Error(`not a decimal amount: "${amount}"`);
  const [, sign, whole, frac = ''] = m;
  const units = BigInt(whole) * SCALE + BigInt(frac.padEnd(SCALE_DIGITS, '0'));
  return sign ? -units : units;
}

/** 31500n → "3.15" (trailing zeros trimmed to at least two decimals). */
export function toDecimalString(units: bigint): string {
  const negative = units < 0n;
  const abs = negative ? -units : units;
  const whole = abs / SCALE;
  let frac = (abs % SCALE).toString().padStart(SCALE_DIGITS, '0');
  while (frac.length > 2 && frac.endsWith('0')) frac = frac.slice(0, -1);
  return `${negative ? '-' : ''}${whole}.${frac}`;
}

/** `amount` × `factor`, exactly: multiply("0.35", 9) = "3.15". */
export function multiply(amount: string, factor: number): string {
  if (!Number.isInteger(factor)) throw new Error('factor must be an integer');
  return toDecimalString(parseAmount(amount) * BigInt(factor));
}

/**
 * Formats a decimal string as currency in `locale`. Intl.NumberFormat accepts decimal
 * strings and formats them exactly (no conversion to a binary float).
 */
export function formatMoney(amount: string, currency: string, locale: string): string {
  const decimal = toDecimalString(parseAmount(amount));
  const decimals = decimal.split('.')[1]?.length ?? 2;
  const nf = new Intl.NumberFormat(locale, {
    style: 'currency',
    currency,
    minimumFractionDigits: 2,
    maximumFractionDigits: Math.max(2, decimals),
  });
  // The string overload is standard (Intl.NumberFormat v3) but not yet in TypeScript's lib.
  return (nf.format as (value: string) => string)(decimal);
}

/**
 * What an admin typed as a price ("0.09", "0,0928", " 12 ") as the API's decimal string
 * ("0.09", "0.0928", "12"): the digits as typed, never through a float. Null when it is not a
 * non-negative decimal with at most four decimals (what the portal can display exactly).
 */
export function normaliseDecimal(input: string): string | null {
  const s = input.trim().replace(/\s/g, '').replace(',', '.');
  if (!/^\d+(\.\d{1,4})?$/.test(s)) return null;
  return s;
}
