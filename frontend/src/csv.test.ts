import { describe, expect, it } from 'vitest';
import { detectSeparator, parseCsv, readCostCsv, summariseCosts } from './csv';

const HEADER =
  'month,user,email,cost_centre,workspace_id,workspace_name,product,instance_type,running_hours,stopped_hours,compute_cost,storage_cost,total_cost,currency';

describe('parseCsv', () => {
  it('reads RFC 4180 quoting, doubled quotes, CRLF and embedded separators and line breaks', () => {
    expect(parseCsv('a,"b,c","say ""hi"""\r\n"x\r\ny",,z\r\n')).toEqual([
      ['a', 'b,c', 'say "hi"'],
      ['x\r\ny', '', 'z'],
    ]);
  });

  it('reads semicolon files and detects the separator from the header', () => {
    const text = `${HEADER.replaceAll(',', ';')}\r\n2026-11;alice;"a;b"\r\n`;
    expect(detectSeparator(text)).toBe(';');
    expect(detectSeparator(`${HEADER}\r\n`)).toBe(',');
    expect(parseCsv(text, ';')[1]).toEqual(['2026-11', 'alice', 'a;b']);
  });

  it('refuses an unterminated quote', () => {
    expect(() => parseCsv('"abc')).toThrow(/unterminated/);
  });
});

describe('summariseCosts', () => {
  const line = (user: string, cc: string, ws: string, total: string) =>
    `2026-11,${user},${user}@x,${cc},ws-${ws},${ws},p,t,1.00,0.00,${total},0.00,${total},EUR`;

  it('sums total_cost exactly, per cost centre and per user', () => {
    // 0.1 + 0.2 is not 0.3 in floats; here it must be.
    const text = [HEADER, line('alice', 'CC-A', 'w1', '0.10'), line('alice', 'CC-A', 'w2', '0.20'), line('bob', 'CC-B', 'w3', '1234567.89'), ''].join('\r\n');
    const s = summariseCosts(readCostCsv(text));
    expect(s.total).toBe('1234568.19');
    expect(s.currency).toBe('EUR');
    expect(s.byCostCentre).toEqual([
      { costCentre: 'CC-A', total: '0.30', users: 1 },
      { costCentre: 'CC-B', total: '1234567.89', users: 1 },
    ]);
    expect(s.byUser.map((u) => [u.user, u.total])).toEqual([
      ['alice', '0.30'],
      ['bob', '1234567.89'],
    ]);
  });

  it("adds up the estimates only: Cost Explorer's actual rows are in their own currency", () => {
    const full = `${HEADER},running_seconds,storage_gib_seconds,compute_rate,storage_rate,price_version,period_start,period_end,kind`;
    const tail = ',3600,360000,0.35,0.0928,2020-01-01T00:00:00Z,2026-11-01T00:00:00Z,2026-12-01T00:00:00Z,estimate';
    const text = [
      full,
      line('alice', 'CC-A', 'w1', '0.10') + tail,
      line('alice', 'CC-A', 'w1', '0.25') + tail.replace('2020-01-01', '2026-11-15'),
      '2026-11,alice,alice@x,CC-A,ws-w1,,,,,,,,3.9012345678,USD,,,,,,2026-11-01T00:00:00Z,2026-11-15T00:00:00Z,actual',
      '2026-11,,,,,,unallocated,,,,,,42.00,USD,,,,,,2026-11-01T00:00:00Z,2026-11-15T00:00:00Z,actual',
      '',
    ].join('\r\n');
    const s = summariseCosts(readCostCsv(text));
    expect(s.total).toBe('0.35');
    expect(s.currency).toBe('EUR');
    expect(s.byUser).toEqual([{ user: 'alice', costCentre: 'CC-A', total: '0.35' }]);
  });

  it('keeps neutralised cells as text and rejects ragged lines', () => {
    const rows = readCostCsv(`${HEADER}\r\n2026-11,alice,a@x,,ws-1,'=SUM(A1),p,t,0,0,0.00,0.00,0.00,EUR\r\n`);
    expect(rows[0].workspace_name).toBe("'=SUM(A1)");
    expect(summariseCosts(rows).total).toBe('0.00');
    expect(() => readCostCsv(`${HEADER}\r\n2026-11,alice\r\n`)).toThrow(/line 2 has 2 cells, expected 14/);
  });
});
