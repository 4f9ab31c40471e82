// @vitest-environment jsdom
import { cleanup, fireEvent, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Budget, MyCosts, Schedule, UsersCosts } from './api';
import { BudgetBar, ratio } from './components/chart';
import { ScheduleEditor, parseDates } from './components/ScheduleEditor';
import { currentMonth } from './format';
import { parseRoute } from './router';
import { UsersReport } from './screens/AdminCosts';
import { ExchangeRates } from './screens/ExchangeRates';
import { Budgets, normaliseAmount, parseThresholds } from './screens/Budgets';
import { Finance } from './screens/Finance';
import { CostBody } from './screens/MyCosts';
import { json, mockApi, problem, renderWith } from './test/mock-api';

afterEach(cleanup);

const myCosts: MyCosts = {
  month: '2026-11',
  currency: 'EUR',
  total: '12.40',
  budget: null,
  thresholdsCrossed: [],
  workspaces: [
    { workspaceId: 'ws-1', name: 'Analyse', instanceType: 'm5.2xlarge', runningSeconds: 5400, stoppedSeconds: 0, compute: '0.53', storage: '0.07', total: '0.60', actual: null, actualConverted: null },
    { workspaceId: 'ws-2', name: 'Genomics', instanceType: 'r5.8xlarge', runningSeconds: 19800, stoppedSeconds: 0, compute: '11.70', storage: '0.10', total: '11.80', actual: null, actualConverted: null },
  ],
  unpriced: [],
  conversion: null,
};

describe('cost to date', () => {
  it('shows "no budget", a bar per workspace (largest first) and locale money', () => {
    const { api } = mockApi({});
    renderWith(api, <CostBody costs={myCosts} />);
    expect(screen.getByText('Estimated cost so far: €12.40')).toBeTruthy();
    expect(screen.getByText(/No budget/)).toBeTruthy();
    const chart = screen.getByRole('img', { name: /Cost per workspace this month/ });
    expect(chart.getAttribute('aria-label')).toBe('Cost per workspace this month: Genomics €11.80; Analyse €0.60');
    const rects = chart.querySelectorAll('rect');
    expect(rects).toHaveLength(2);
    expect(Number(rects[0].getAttribute('width'))).toBeGreaterThan(Number(rects[1].getAttribute('width')));
    expect(screen.getByText('1.5 h')).toBeTruthy();
  });

  it('shows the budget, how much is used, the crossed thresholds, in French', () => {
    const { api } = mockApi({});
    renderWith(api, <CostBody costs={{ ...myCosts, budget: '15.50', thresholdsCrossed: [80] }} />, 'fr');
    const norm = (s: string | null) => (s ?? '').replace(/\s/g, ' ');
    expect(screen.getByText((t) => norm(t) === 'Budget mensuel 15,50 € : 80 % utilisés.')).toBeTruthy();
    expect(screen.getByText('Seuils franchis : 80 %')).toBeTruthy();
    expect(norm(screen.getByRole('img', { name: /dépensés/ }).getAttribute('aria-label'))).toBe('12,40 € dépensés sur un budget de 15,50 €');
  });

  it('draws ratios and budget levels without float money', () => {
    expect(ratio('5.00', '10.00')).toBe(0.5);
    expect(ratio('0', '0')).toBe(0);
    expect(ratio('20', '10')).toBe(1);
    const { api } = mockApi({});
    const { container } = renderWith(
      api,
      <>
        <BudgetBar spent="85.00" budget="100.00" thresholds={[80, 100]} label="a" />
        <BudgetBar spent="120.00" budget="100.00" thresholds={[80, 100]} label="b" />
        <BudgetBar spent="1.00" budget={null} thresholds={[80]} label="c" />
      </>,
    );
    const bars = container.querySelectorAll('.budget-bar');
    expect(bars).toHaveLength(2);
    expect(bars[0].className).toContain('budget-warn');
    expect(bars[0].getAttribute('data-percent')).toBe('85.00');
    expect(bars[1].className).toContain('budget-over');
  });
});

describe('admin cost report', () => {
  const report: UsersCosts = {
    month: '2026-11',
    currency: 'EUR',
    total: '120.00',
    users: [
      { user: 'alice', email: 'alice@x', costCentre: 'CC-ONCOLOGY', runningSeconds: 3600, total: '20.00', budget: null, actual: null, actualConverted: null, overhead: null, overheadConverted: null, thresholdsCrossed: [] },
      {
        user: 'bob',
        email: 'bob@x',
        costCentre: null,
        runningSeconds: 7200,
        total: '100.00',
        budget: '80.00',
        actual: { amount: '98.10', currency: 'USD', through: '2026-11-14', estimated: true },
        actualConverted: { amount: '90.56', currency: 'EUR', rate: '0.9231', rateDate: '2026-11-01', from: 'USD' },
        overhead: { amount: '30.00', currency: 'USD', through: '2026-11-14', estimated: true },
        overheadConverted: { amount: '27.69', currency: 'EUR', rate: '0.9231', rateDate: '2026-11-01', from: 'USD' },
        thresholdsCrossed: [80, 100],
      },
    ],
    unpriced: [],
    unallocated: { amount: '12.00', currency: 'USD', through: '2026-11-14', estimated: true },
    overhead: { amount: '30.00', currency: 'USD', through: '2026-11-14', estimated: true },
    reconciliation: { direct: '98.1', overhead: '30', unallocated: '12', total: '140.1', currency: 'USD', through: '2026-11-14', estimated: true, overheadAllocated: true },
    conversion: { from: 'USD', to: 'EUR', rate: '0.9231', rateDate: '2026-11-01', reason: null },
  };

  it('lists users by cost with budget bars, "no budget" when null, and the actual amount', () => {
    const { api } = mockApi({});
    renderWith(api, <UsersReport report={report} month="2026-11" />);
    expect(screen.getByTestId('report-total').textContent).toBe('Total for November 2026: €120.00');
    const rows = screen.getAllByRole('row').slice(1);
    expect(rows.map((r) => r.getAttribute('data-user'))).toEqual(['bob', 'alice']);
    expect(within(rows[1]).getByText('no budget')).toBeTruthy();
    expect(within(rows[0]).getByText('€80.00 (125 % used)')).toBeTruthy();
    // In Cost Explorer's currency, never relabelled as the estimates' euros.
    expect(within(rows[0]).getByText('US$98.10')).toBeTruthy();
    expect(within(rows[0]).getByText('billed by AWS through 2026-11-14, estimated')).toBeTruthy();
    expect(screen.getByTestId('report-unallocated').textContent).toBe('Billed by AWS to no one (untagged resources): US$12.00, through 2026-11-14.');
    // Converted beside the actual, with its rate and the rate's day; never in its place.
    expect(within(rows[0]).getByText('≈ €90.56 at 0.9231 (rate of 2026-11-01)')).toBeTruthy();
    expect(within(rows[0]).getByText('US$30.00')).toBeTruthy();
    expect(screen.getByTestId('report-overhead').textContent).toContain('Platform overhead (endpoints, NAT, keys, API, gateway): US$30.00, through 2026-11-14');
    expect(screen.getByTestId('report-reconciliation').textContent).toBe(
      'Reconciliation (USD, exact): users 98.1 + overhead 30 + unallocated 12 = AWS total 140.1.',
    );
    expect(screen.getByTestId('report-conversion').textContent).toBe(
      'Converted into EUR at 1 USD = 0.9231 EUR, the rate in force on the month’s last day (from 2026-11-01).',
    );
    expect(within(rows[0]).getByText('Thresholds crossed: 80 %, 100 %')).toBeTruthy();
    expect(within(rows[1]).getByText('not yet known')).toBeTruthy();
  });
});

describe('admin cost report without a rate', () => {
  it('shows no converted number, and says why', () => {
    const { api } = mockApi({});
    const report: UsersCosts = {
      month: '2026-11',
      currency: 'EUR',
      total: '0.00',
      users: [],
      unpriced: [],
      unallocated: null,
      overhead: null,
      reconciliation: null,
      conversion: { from: 'USD', to: 'EUR', rate: null, rateDate: null, reason: 'no exchange rate from USD to EUR in force on 2026-11-30' },
    };
    renderWith(api, <UsersReport report={report} month="2026-11" />, 'fr');
    expect(screen.getByTestId('report-conversion').textContent).toBe(
      'Non converti en EUR : no exchange rate from USD to EUR in force on 2026-11-30. Ajoutez un taux ci-dessous.',
    );
  });
});

describe('exchange rates', () => {
  const rate = { from: 'USD', to: 'EUR', effectiveFrom: '2026-11-01', rate: '0.92', revision: 1, current: true, actor: 'ada', at: '2026-11-02T09:00:00Z' };

  it('lists every revision and records a rate as a decimal string', async () => {
    let rates = [rate];
    const { api, calls } = mockApi({
      'GET /v1/exchange-rates': () => json(200, { rates }),
      'PUT /v1/exchange-rates/USD/EUR/2026-11-01': (r) => {
        const revised = { ...rate, rate: (r.body as { rate: string }).rate, revision: 2 };
        rates = [{ ...rate, current: false }, revised];
        return json(200, revised);
      },
    });
    renderWith(api, <ExchangeRates />);
    await screen.findByText('USD → EUR');
    fireEvent.change(screen.getByLabelText('Effective from'), { target: { value: '2026-11-01' } });
    fireEvent.change(screen.getByLabelText('Rate (1 from = rate to)'), { target: { value: '0,9231' } });
    fireEvent.click(screen.getByRole('button', { name: 'Record rate' }));
    await screen.findByText('Recorded: 1 USD = 0.9231 EUR from 2026-11-01 (revision 2).');
    expect(calls.find((c) => c.method === 'PUT')?.body).toEqual({ rate: '0.9231' });
    await screen.findAllByText('USD → EUR');
    expect(screen.getByTestId('rates-table').querySelectorAll('tbody tr')).toHaveLength(2);
  });

  it('marks the field a 422 names', async () => {
    const { api } = mockApi({
      'GET /v1/exchange-rates': () => json(200, { rates: [] }),
      'PUT /v1/exchange-rates/USD/EUR/2026-11-01': () => problem(422, 'rate: must be greater than zero', 'rate'),
    });
    renderWith(api, <ExchangeRates />);
    await screen.findByText('No exchange rate yet.');
    fireEvent.change(screen.getByLabelText('Effective from'), { target: { value: '2026-11-01' } });
    fireEvent.change(screen.getByLabelText('Rate (1 from = rate to)'), { target: { value: '0' } });
    fireEvent.click(screen.getByRole('button', { name: 'Record rate' }));
    await screen.findByText(/must be greater than zero/);
    expect(screen.getByLabelText('Rate (1 from = rate to)').getAttribute('aria-invalid')).toBe('true');
  });
});

describe('budgets editor', () => {
  const org = { amount: '250.00', currency: 'EUR', thresholds: [80, 100], policy: 'notify' };
  const alice: Budget = { user: 'alice', amount: null, currency: 'EUR', thresholds: [80, 100], policy: 'notify', inherited: true, effective: '250.00' };
  const users = { month: '2026-11', currency: 'EUR', total: '0.00', users: [{ user: 'alice' }, { user: 'bob' }] };

  it('loads the organisation default and saves it as the contract says', async () => {
    const { api, calls } = mockApi({
      'GET /v1/config/budget': () => json(200, org),
      'PUT /v1/config/budget': (r) => json(200, { ...(r.body as object), currency: 'EUR' }),
      'GET /v1/costs/users': () => json(200, users),
    });
    renderWith(api, <Budgets />);
    await screen.findByText('Default monthly budget: €250.00.');
    fireEvent.change(screen.getByLabelText('Default monthly budget (EUR)'), { target: { value: '300,50' } });
    fireEvent.change(screen.getByLabelText('Thresholds (%)'), { target: { value: '100, 50 80' } });
    fireEvent.click(screen.getAllByLabelText('Stop the user’s running workspaces at 100 %')[0]);
    fireEvent.click(screen.getAllByRole('button', { name: 'Save' })[0]);
    await screen.findByText('Default monthly budget: €300.50.');
    const put = calls.find((c) => c.method === 'PUT');
    expect(put?.body).toEqual({ amount: '300.50', thresholds: [50, 80, 100], policy: 'stop-at-100' });
  });

  it("opens a user's budget, shows that the default applies, and removes an own budget with an empty amount", async () => {
    const { api, calls } = mockApi({
      'GET /v1/config/budget': () => json(200, org),
      'GET /v1/costs/users': () => json(200, users),
      'GET /v1/budgets/alice': () => json(200, { ...alice, amount: '300.00', inherited: false, effective: '300.00' }),
      'PUT /v1/budgets/alice': () => json(200, alice),
    });
    renderWith(api, <Budgets />);
    fireEvent.change(screen.getByLabelText('User'), { target: { value: 'alice' } });
    fireEvent.click(screen.getByRole('button', { name: 'Open' }));
    await screen.findByText('Own budget: €300.00 per month.');
    fireEvent.change(screen.getByLabelText('Own monthly budget (EUR)'), { target: { value: '' } });
    const form = screen.getByTestId('user-budget');
    fireEvent.click(within(form).getByRole('button', { name: 'Save' }));
    await screen.findByText('No own budget: the organisation default applies (€250.00 per month).');
    expect(calls.filter((c) => c.method === 'PUT').map((c) => [c.path, c.body])).toEqual([
      ['/v1/budgets/alice', { amount: null, thresholds: [80, 100], policy: 'notify' }],
    ]);
  });

  it('shows the API refusal (unknown user, 422) and refuses bad input before sending', async () => {
    const { api, calls } = mockApi({
      'GET /v1/config/budget': () => json(200, { ...org, amount: null }),
      'GET /v1/costs/users': () => json(200, users),
      'GET /v1/budgets/nobody': () => problem(404, 'no user "nobody"'),
      'PUT /v1/config/budget': () => problem(422, 'thresholds: must be between 1 and 100', 'thresholds'),
    });
    renderWith(api, <Budgets />);
    await screen.findByText('No default budget.');
    fireEvent.change(screen.getByLabelText('User'), { target: { value: 'nobody' } });
    fireEvent.click(screen.getByRole('button', { name: 'Open' }));
    expect((await screen.findByText('no user "nobody"')).closest('[role="alert"]')).toBeTruthy();

    fireEvent.change(screen.getByLabelText('Default monthly budget (EUR)'), { target: { value: '12.345' } });
    fireEvent.click(screen.getAllByRole('button', { name: 'Save' })[0]);
    await screen.findByText(/at most two decimals/);
    expect(calls.some((c) => c.method === 'PUT')).toBe(false);

    fireEvent.change(screen.getByLabelText('Default monthly budget (EUR)'), { target: { value: '10' } });
    fireEvent.change(screen.getByLabelText('Thresholds (%)'), { target: { value: '0' } });
    fireEvent.click(screen.getAllByRole('button', { name: 'Save' })[0]);
    await screen.findByText('thresholds: must be between 1 and 100');
    expect(screen.getByLabelText('Thresholds (%)').getAttribute('aria-invalid')).toBe('true');
  });

  it('parses amounts and thresholds', () => {
    expect(normaliseAmount(' 1 200,5 ')).toBe('1200.5');
    expect(normaliseAmount('')).toBeNull();
    expect(() => normaliseAmount('-3')).toThrow();
    expect(parseThresholds('100;80, 80')).toEqual([80, 100]);
    expect(() => parseThresholds('80.5')).toThrow();
  });
});

describe('finance', () => {
  const HEADER =
    'month,user,email,cost_centre,workspace_id,workspace_name,product,instance_type,running_hours,stopped_hours,compute_cost,storage_cost,total_cost,currency';
  const csv = [
    HEADER,
    '2026-11,alice,a@x,CC-ONCOLOGY,ws-1,A,p,t,1.00,0.00,0.30,0.05,0.35,EUR',
    '2026-11,bob,b@x,CC-CARDIOLOGY,ws-2,B,p,t,1.00,0.00,2.20,0.05,2.25,EUR',
    '2026-11,bob,b@x,CC-CARDIOLOGY,ws-3,C,p,t,1.00,0.00,0.10,0.00,0.10,EUR',
    '',
  ].join('\r\n');

  const LINK = 'https://exports.example/exports/fiona/2026-11/x.csv?X-Amz-Signature=s';
  const exported = (month: string) =>
    json(201, { url: LINK, expiresAt: '2026-12-01T10:15:00Z', bytes: 321, month });

  it('previews the totals, filters by cost centre and downloads the written export from its link', async () => {
    const { api, calls } = mockApi({
      'GET /v1/costs/export.csv': () =>
        new Response(csv, { status: 200, headers: { 'Content-Disposition': 'attachment; filename="atelier-costs-2026-11.csv"' } }),
      'POST /v1/costs/exports': (req) => exported((req.body as { month: string }).month),
    });
    const opened: string[] = [];
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      opened.push(this.href);
    });
    renderWith(api, <Finance />);
    const total = await screen.findByTestId('finance-total');
    expect(total.getAttribute('data-amount')).toBe('2.70');
    expect(total.textContent).toBe('Total €2.70 (users: 2)');
    fireEvent.change(screen.getByLabelText('Cost centre'), { target: { value: 'CC-CARDIOLOGY' } });
    expect(screen.getByTestId('finance-total').getAttribute('data-amount')).toBe('2.35');
    expect(screen.queryByText('alice')).toBeNull();
    fireEvent.click(screen.getByLabelText('Semicolon (;) for spreadsheets in French'));
    fireEvent.click(screen.getByRole('button', { name: 'Download CSV' }));
    const month = currentMonth();
    await screen.findByText(`Downloaded atelier-costs-${month}.csv.`);
    // The file is written through POST /v1/costs/exports (no 6 MB limit), then opened by its link.
    const last = calls[calls.length - 1];
    expect(`${last.method} ${last.path}`).toBe('POST /v1/costs/exports');
    expect(last.body).toEqual({ month, costCentre: 'CC-CARDIOLOGY', separator: 'semicolon' });
    expect(opened).toEqual([LINK]);
    click.mockRestore();
  });

  it('asks for the whole month with commas by default', async () => {
    const { api, calls } = mockApi({
      'GET /v1/costs/export.csv': () => new Response(csv, { status: 200 }),
      'POST /v1/costs/exports': () => exported('2026-11'),
    });
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => {});
    renderWith(api, <Finance />);
    await screen.findByTestId('finance-total');
    fireEvent.click(screen.getByRole('button', { name: 'Download CSV' }));
    await screen.findByRole('status');
    expect(calls[calls.length - 1].body).toEqual({ month: currentMonth() });
    expect(click).toHaveBeenCalledOnce();
    click.mockRestore();
  });

  it("shows the API's refusal as a readable message", async () => {
    const { api } = mockApi({ 'GET /v1/costs/export.csv': () => problem(403, 'only finance and admins may export costs') });
    renderWith(api, <Finance />);
    expect((await screen.findByRole('alert')).textContent).toContain('only finance and admins may export costs');
  });

  it('names the field the export refused, and opens nothing', async () => {
    const { api } = mockApi({
      'GET /v1/costs/export.csv': () => new Response(csv, { status: 200 }),
      'POST /v1/costs/exports': () => problem(422, 'month: 2999-01 has not begun yet', 'month'),
    });
    const click = vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(() => {});
    renderWith(api, <Finance />);
    await screen.findByTestId('finance-total');
    fireEvent.click(screen.getByRole('button', { name: 'Download CSV' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('month: 2999-01 has not begun yet');
    expect(click).not.toHaveBeenCalled();
    click.mockRestore();
  });
});

describe('schedule editor', () => {
  const initial: Schedule = {
    timezone: 'Europe/Paris',
    windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '18:00' }],
    holidays: null,
    outside: 'stop',
    enabled: false,
  };

  it('builds the schedule the API expects from the form', async () => {
    const { api } = mockApi({});
    const onSave = vi.fn(async () => {});
    renderWith(api, <ScheduleEditor idPrefix="t" initial={initial} onSave={onSave} />);
    fireEvent.click(screen.getByLabelText('Follow a schedule'));
    fireEvent.change(screen.getByLabelText('Time zone'), { target: { value: 'America/New_York' } });
    fireEvent.click(screen.getByLabelText('Running hours 1: Friday'));
    fireEvent.click(screen.getByRole('button', { name: 'Add running hours' }));
    fireEvent.click(screen.getByLabelText('Running hours 2: Monday'));
    fireEvent.click(screen.getByLabelText('Running hours 2: Saturday'));
    fireEvent.change(screen.getAllByLabelText('From')[1], { target: { value: '22:00' } });
    fireEvent.change(screen.getAllByLabelText('To')[1], { target: { value: '06:00' } });
    fireEvent.click(screen.getByLabelText(/Hibernate the machine/));
    fireEvent.click(screen.getByLabelText('These dates'));
    fireEvent.change(screen.getByLabelText('Holiday dates'), { target: { value: '2026-12-31\n2026-12-24, 2026-12-24' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save schedule' }));
    await screen.findByText('Saved.');
    expect(onSave).toHaveBeenCalledWith({
      timezone: 'America/New_York',
      windows: [
        { days: ['mon', 'tue', 'wed', 'thu'], start: '09:00', end: '18:00' },
        { days: ['tue', 'wed', 'thu', 'fri', 'sat'], start: '22:00', end: '06:00' },
      ],
      holidays: ['2026-12-24', '2026-12-31'],
      outside: 'hibernate',
      enabled: true,
    });
  });

  it('shows the API error naming the field, and previews the next changes', async () => {
    const { api, calls } = mockApi({
      'POST /v1/schedules/preview': () =>
        json(200, { items: [{ at: '2026-11-23T08:00:00Z', to: 'RUNNING' }, { at: '2026-11-23T17:00:00Z', to: 'STOPPED' }] }),
    });
    const onSave = vi.fn(async () => {
      throw await import('./api').then((m) => new m.ApiError(422, 'unknown time zone "Mars/Olympus"', { type: 'x', title: 't', status: 422, detail: 'unknown time zone "Mars/Olympus"', field: 'timezone' }));
    });
    renderWith(api, <ScheduleEditor idPrefix="t" initial={initial} onSave={onSave} />);
    fireEvent.click(screen.getByLabelText('Public holidays of a country'));
    fireEvent.click(screen.getByRole('button', { name: 'Save schedule' }));
    expect((await screen.findByRole('alert')).textContent).toContain('unknown time zone "Mars/Olympus"');
    expect(screen.getByLabelText('Time zone').getAttribute('aria-invalid')).toBe('true');
    fireEvent.click(screen.getByRole('button', { name: 'Preview next changes' }));
    const list = await screen.findByTestId('schedule-preview');
    expect(within(list).getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      'Starts 23 Nov 2026, 09:00 (Europe/Paris)',
      'Stops 23 Nov 2026, 18:00 (Europe/Paris)',
    ]);
    expect((calls[0].body as { schedule: Schedule }).schedule.holidays).toBe('fr');
    expect((calls[0].body as { count: number }).count).toBe(6);
  });

  it('reads holiday dates', () => {
    expect(parseDates(' 2026-12-25;2026-01-01\n\n2026-12-25 ')).toEqual(['2026-01-01', '2026-12-25']);
  });
});

describe('routes', () => {
  it('parses the new screens', () => {
    expect(parseRoute('#/admin/costs')).toEqual({ name: 'adminCosts' });
    expect(parseRoute('#/admin/budgets')).toEqual({ name: 'adminBudgets' });
    expect(parseRoute('#/admin/schedule')).toEqual({ name: 'adminSchedule' });
    expect(parseRoute('#/finance')).toEqual({ name: 'finance' });
    expect(parseRoute('#/admin/nope')).toEqual({ name: 'notFound' });
  });
});
