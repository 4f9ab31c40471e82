// Typed client for the Atelier API. The types mirror the Rust views exactly
// (shared/web/src/{workspaces,catalog,config,problem}.rs).

export type State =
  | 'PROVISIONING'
  | 'RUNNING'
  | 'STOPPING'
  | 'STOPPED'
  | 'STARTING'
  | 'HIBERNATING'
  | 'HIBERNATED'
  | 'TERMINATING'
  | 'TERMINATED'
  | 'FAILED';

export const STATES: State[] = [
  'PROVISIONING',
  'RUNNING',
  'STOPPING',
  'STOPPED',
  'STARTING',
  'HIBERNATING',
  'HIBERNATED',
  'TERMINATING',
  'TERMINATED',
  'FAILED',
];

export const TRANSITIONAL: ReadonlySet<State> = new Set<State>([
  'PROVISIONING',
  'STARTING',
  'STOPPING',
  'HIBERNATING',
  'TERMINATING',
]);

export type Action = 'start' | 'stop' | 'hibernate' | 'terminate';

export interface PortalConfig {
  apiUrl: string;
  region: string;
  userPoolId: string;
  userPoolClientId: string;
  cognitoEndpoint?: string;
}

export interface Money {
  amount: string;
  currency: string;
}

export interface Product {
  id: string;
  name: string;
  description: string;
  instanceType: string;
  vcpus: number;
  memoryGiB: number;
  hourlyPrice: Money;
  hibernation: boolean;
}

export interface ScheduleWindow {
  days: string[];
  start: string;
  end: string;
}

export interface Schedule {
  timezone: string;
  windows: ScheduleWindow[];
  holidays: string | string[] | null;
  outside: 'stop' | 'hibernate';
  enabled: boolean;
}

export interface Transition {
  at: string;
  to: State;
}

export interface Override {
  until: string;
}

export interface Workspace {
  id: string;
  name: string;
  owner: string;
  productId: string;
  instanceType: string;
  state: State;
  instanceId: string | null;
  createdAt: string;
  updatedAt: string;
  error: string | null;
  hibernation: boolean;
  allowedActions: Action[];
  schedule: Schedule;
  override: Override | null;
  nextTransition: Transition | null;
}

export type EventAction = 'create' | 'start' | 'stop' | 'hibernate' | 'terminate' | 'sync' | 'schedule' | 'override';

export interface WorkspaceEvent {
  at: string;
  actor: string;
  action: EventAction;
  from: State | null;
  to: State;
  reason: string | null;
}

export interface Page<T> {
  items: T[];
  nextToken: string | null;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  field?: string;
}

export interface Me {
  sub: string;
  username: string;
  email: string | null;
  groups: string[];
  costCentre: string | null;
}

/** Every non-2xx answer: `message` is the problem's `detail`, ready to display. */
export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;

  constructor(status: number, message: string, problem: Problem | null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.problem = problem;
  }

  get type(): string | undefined {
    return this.problem?.type;
  }
}

function isProblem(value: unknown): value is Problem {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.type === 'string' && typeof v.detail === 'string' && typeof v.status === 'number';
}

/** Turns a failed response into an [`ApiError`]. Non-problem bodies (405, plain-text 413) keep their text. */
export async function errorFrom(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  if (text) {
    try {
      const body: unknown = JSON.parse(text);
      if (isProblem(body)) return new ApiError(response.status, body.detail, body);
    } catch {
      // not JSON: fall through
    }
  }
  const fallback = text.trim() || response.statusText || `HTTP ${response.status}`;
  return new ApiError(response.status, fallback, null);
}

export interface ClientOptions {
  baseUrl: string;
  /** The current access token, refreshed if need be; null when signed out. */
  getToken: () => Promise<string | null> | string | null;
  /** Called on a 401 answer (the session is over). */
  onUnauthorized?: (error: ApiError) => void;
  fetch?: typeof fetch;
}

function idempotencyKey(): string {
  if (typeof crypto !== 'undefined' && 'randomUUID' in crypto) return crypto.randomUUID();
  return `k-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

export type ListScope = { kind: 'own' } | { kind: 'all' } | { kind: 'owner'; owner: string };

export class Api {
  private readonly base: string;
  private readonly opts: ClientOptions;

  constructor(opts: ClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.opts = opts;
  }

  async request<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
    const h: Record<string, string> = { Accept: 'application/json, application/problem+json', ...headers };
    const token = await this.opts.getToken();
    if (token) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const doFetch = this.opts.fetch ?? fetch;
    let response: Response;
    try {
      response = await doFetch(`${this.base}${path}`, {
        method,
        headers: h,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(0, e instanceof Error ? e.message : String(e), null);
    }
    if (!response.ok) {
      const error = await errorFrom(response);
      if (response.status === 401) this.opts.onUnauthorized?.(error);
      throw error;
    }
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  me(): Promise<Me> {
    return this.request('GET', '/v1/me');
  }

  products(nextToken?: string | null): Promise<Page<Product>> {
    return this.request('GET', `/v1/products${query({ limit: '100', nextToken })}`);
  }

  workspaces(scope: ListScope = { kind: 'own' }, nextToken?: string | null): Promise<Page<Workspace>> {
    const q: Record<string, string | null | undefined> = { limit: '100', nextToken };
    if (scope.kind === 'all') q.all = 'true';
    if (scope.kind === 'owner') q.owner = scope.owner;
    return this.request('GET', `/v1/workspaces${query(q)}`);
  }

  /** Every page of a list, following `nextToken` (at most `maxPages`). */
  async all<T>(fetchPage: (token: string | null) => Promise<Page<T>>, maxPages = 20): Promise<T[]> {
    const items: T[] = [];
    let token: string | null = null;
    for (let i = 0; i < maxPages; i++) {
      const page: Page<T> = await fetchPage(token);
      items.push(...page.items);
      token = page.nextToken;
      if (!token) break;
    }
    return items;
  }

  workspace(id: string): Promise<Workspace> {
    return this.request('GET', `/v1/workspaces/${encodeURIComponent(id)}`);
  }

  create(productId: string, name: string, key: string = idempotencyKey()): Promise<Workspace> {
    return this.request('POST', '/v1/workspaces', { productId, name }, { 'Idempotency-Key': key });
  }

  act(id: string, action: Action): Promise<Workspace> {
    const path = `/v1/workspaces/${encodeURIComponent(id)}`;
    return action === 'terminate' ? this.request('DELETE', path) : this.request('POST', `${path}/${action}`);
  }

  events(id: string, nextToken?: string | null): Promise<Page<WorkspaceEvent>> {
    return this.request('GET', `/v1/workspaces/${encodeURIComponent(id)}/events${query({ limit: '100', nextToken })}`);
  }

  setSchedule(id: string, schedule: Schedule): Promise<Workspace> {
    return this.request('PUT', `/v1/workspaces/${encodeURIComponent(id)}/schedule`, schedule);
  }

  setOverride(id: string, until: string): Promise<Workspace> {
    return this.request('POST', `/v1/workspaces/${encodeURIComponent(id)}/override`, { until });
  }

  clearOverride(id: string): Promise<Workspace> {
    return this.request('DELETE', `/v1/workspaces/${encodeURIComponent(id)}/override`);
  }
}

function query(params: Record<string, string | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v != null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Reads `/config.json` from the portal's origin. */
export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<PortalConfig> {
  const response = await fetchImpl('/config.json', { headers: { Accept: 'application/json' } });
  if (!response.ok) throw await errorFrom(response);
  return (await response.json()) as PortalConfig;
}
