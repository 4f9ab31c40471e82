// @vitest-environment jsdom
import { cleanup, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { Me, Notification } from './api';
import { href, parseRoute } from './router';
import { Notifications } from './screens/Notifications';
import { json, mockApi, renderWith } from './test/mock-api';

afterEach(cleanup);

const alice: Me = { sub: 's-alice', username: 'alice', email: 'alice@example.org', groups: ['admins'], costCentre: 'CC-1' };

const crossing = (over: Partial<Notification>): Notification => ({
  id: 'n-1',
  at: '2026-11-20T14:00:00Z',
  kind: 'budget-crossing',
  user: 'alice',
  month: '2026-11',
  threshold: 80,
  amount: '241.20',
  budget: '300.00',
  currency: 'EUR',
  policy: 'stop-at-100',
  delivery: { channel: 'email', status: 'sent', attempts: 1, sentAt: '2026-11-20T14:00:05Z', lastError: null },
  ...over,
});

describe('notifications', () => {
  it('has its own route', () => {
    expect(parseRoute('#/notifications')).toEqual({ name: 'notifications' });
    expect(href({ name: 'notifications' })).toBe('#/notifications');
  });

  it('lists every page, says whose budget and what stop-at-100 did, and how the e-mail went', async () => {
    const first = [
      crossing({ id: 'n-3', threshold: 100, amount: '301.10', delivery: { channel: 'email', status: 'pending', attempts: 2, sentAt: null, lastError: 'throttled' } }),
    ];
    const second = [
      crossing({ id: 'n-2', user: 'bob', policy: 'notify', threshold: 100, amount: '10.00', budget: '10.00', delivery: { channel: 'email', status: 'failed', attempts: 5, sentAt: null, lastError: 'MessageRejected: address not verified' } }),
      crossing({ id: 'n-1' }),
    ];
    const { api, calls } = mockApi({
      'GET /v1/me/notifications': (req) => json(200, req.query.get('nextToken') ? { items: second, nextToken: null } : { items: first, nextToken: 'p2' }),
    });
    renderWith(api, <Notifications />, 'en', alice);
    const list = await screen.findByTestId('notifications');
    const items = within(list).getAllByRole('listitem');
    expect(items).toHaveLength(3);
    expect(calls.map((c) => c.query.get('nextToken'))).toEqual([null, 'p2']);
    expect(items[0].textContent).toContain(
      'Your estimated cost for November 2026 reached 100 % of your budget: €301.10 of €300.00. Your running workspaces were stopped and starts are refused',
    );
    expect(items[0].textContent).toContain('E-mail not sent yet (2 attempts so far)');
    expect(items[1].textContent).toContain("bob's estimated cost for November 2026 reached 100 % of their budget: €10.00 of €10.00.");
    expect(items[1].textContent).not.toContain('stopped');
    expect(items[1].textContent).toContain('E-mail failed: MessageRejected: address not verified');
    expect(items[2].textContent).toContain('reached 80 % of your budget: €241.20 of €300.00.');
    expect(items[2].textContent).not.toContain('stopped');
    expect(items[2].textContent).toContain('E-mail sent');
  });

  it('says when there is none, in French', async () => {
    const { api } = mockApi({ 'GET /v1/me/notifications': () => json(200, { items: [], nextToken: null }) });
    renderWith(api, <Notifications />, 'fr', alice);
    expect(await screen.findByText('Aucune notification pour l’instant.')).toBeTruthy();
  });
});
