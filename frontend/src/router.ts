import { useEffect, useState } from 'react';

export type Route =
  | { name: 'catalog' }
  | { name: 'workspaces' }
  | { name: 'workspace'; id: string }
  | { name: 'admin' }
  | { name: 'adminCosts' }
  | { name: 'adminBudgets' }
  | { name: 'adminSchedule' }
  | { name: 'adminDatasets' }
  | { name: 'adminCatalog' }
  | { name: 'finance' }
  | { name: 'notifications' }
  | { name: 'notFound' };

const FIXED: Record<string, Route['name']> = {
  '/catalog': 'catalog',
  '/admin': 'admin',
  '/admin/costs': 'adminCosts',
  '/admin/budgets': 'adminBudgets',
  '/admin/schedule': 'adminSchedule',
  '/admin/datasets': 'adminDatasets',
  '/admin/catalog': 'adminCatalog',
  '/finance': 'finance',
  '/notifications': 'notifications',
};

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/workspaces';
  if (path === '/' || path === '/workspaces') return { name: 'workspaces' };
  const fixed = FIXED[path];
  if (fixed) return { name: fixed } as Route;
  const m = /^\/workspaces\/([^/]+)$/.exec(path);
  if (m) return { name: 'workspace', id: decodeURIComponent(m[1]) };
  return { name: 'notFound' };
}

export function href(route: Route): string {
  switch (route.name) {
    case 'catalog':
      return '#/catalog';
    case 'workspaces':
      return '#/workspaces';
    case 'workspace':
      return `#/workspaces/${encodeURIComponent(route.id)}`;
    case 'admin':
      return '#/admin';
    case 'adminCosts':
      return '#/admin/costs';
    case 'adminBudgets':
      return '#/admin/budgets';
    case 'adminSchedule':
      return '#/admin/schedule';
    case 'adminDatasets':
      return '#/admin/datasets';
    case 'adminCatalog':
      return '#/admin/catalog';
    case 'finance':
      return '#/finance';
    case 'notifications':
      return '#/notifications';
    default:
      return '#/';
  }
}

export function navigate(route: Route): void {
  window.location.hash = href(route);
}

export function useRoute(): Route {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const on = () => setHash(window.location.hash);
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return parseRoute(hash);
}
