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
  /** Ids of the attached datasets (mounted read-only under /data). */
  datasets?: string[];
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

export interface WorkspaceCost {
  workspaceId: string;
  name: string;
  instanceType: string;
  runningSeconds: number;
  stoppedSeconds: number;
  compute: string;
  storage: string;
  total: string;
  actual: string | null;
}

/** `GET /v1/costs/me`. */
export interface MyCosts {
  month: string;
  currency: string;
  total: string;
  /** The budget in force (own, else the organisation default), or null. */
  budget: string | null;
  /** Thresholds (percent) crossed this month; absent before budgets exist. */
  thresholdsCrossed?: number[];
  workspaces: WorkspaceCost[];
}

export interface UserCost {
  user: string;
  email: string;
  costCentre: string | null;
  runningSeconds: number;
  total: string;
  budget: string | null;
  actual: string | null;
  thresholdsCrossed?: number[];
}

/** `GET /v1/costs/users` (admins). */
export interface UsersCosts {
  month: string;
  currency: string;
  total: string;
  users: UserCost[];
}

export type BudgetPolicy = 'notify' | 'stop-at-100';
export const BUDGET_POLICIES: BudgetPolicy[] = ['notify', 'stop-at-100'];

/** `GET /v1/budgets/{user}`. */
export interface Budget {
  user: string;
  amount: string | null;
  currency: string;
  thresholds: number[];
  policy: BudgetPolicy;
  inherited: boolean;
  effective: string | null;
}

/** Body of `PUT /v1/budgets/{user}` and `PUT /v1/config/budget`. */
export interface BudgetInput {
  amount: string | null;
  thresholds: number[];
  policy: BudgetPolicy;
}

/** `GET /v1/config/budget`: the organisation default. */
export interface OrgBudget {
  amount: string | null;
  currency: string;
  thresholds: number[];
  policy: BudgetPolicy;
}

export type Classification = 'public' | 'internal' | 'confidential' | 'clinical';
export const CLASSIFICATIONS: Classification[] = ['public', 'internal', 'confidential', 'clinical'];

export interface Readers {
  groups: string[];
  users: string[];
}

/** A dataset (shared/web/src/datasets.rs); `readers` only for admins. */
export interface Dataset {
  id: string;
  name: string;
  description: string;
  location: string;
  classification: Classification;
  owner: string;
  readers?: Readers;
  readable: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface DatasetInput {
  name: string;
  description: string;
  location: string;
  classification: Classification;
  owner: string;
  readers: Readers;
}

export interface AccessInterval {
  datasetId: string;
  user: string;
  workspaceId: string;
  from: string;
  until: string | null;
}

export interface AccessEvent {
  at: string;
  datasetId: string;
  action: 'grant' | 'revoke' | 'attach' | 'detach';
  actor: string;
  user?: string;
  group?: string;
  workspaceId?: string;
  reason?: string;
}

export interface DataAccess {
  datasetId?: string;
  intervals: AccessInterval[];
  events: AccessEvent[];
}

export type Separator = 'comma' | 'semicolon';

/** A CSV export as downloaded. */
export interface CsvFile {
  filename: string;
  text: string;
}

/**
 * Every route the client calls: method and path template, as the OpenAPI document writes
 * them. Every request goes through this table (`Api.call`), so a test can compare it with
 * the document (shared/web/openapi/*.json).
 */
export const ROUTES = {
  me: { method: 'GET', path: '/v1/me' },
  products: { method: 'GET', path: '/v1/products', query: ['limit', 'nextToken'] },
  listWorkspaces: { method: 'GET', path: '/v1/workspaces', query: ['limit', 'nextToken', 'all', 'owner'] },
  createWorkspace: { method: 'POST', path: '/v1/workspaces' },
  getWorkspace: { method: 'GET', path: '/v1/workspaces/{id}' },
  terminateWorkspace: { method: 'DELETE', path: '/v1/workspaces/{id}' },
  startWorkspace: { method: 'POST', path: '/v1/workspaces/{id}/start' },
  stopWorkspace: { method: 'POST', path: '/v1/workspaces/{id}/stop' },
  hibernateWorkspace: { method: 'POST', path: '/v1/workspaces/{id}/hibernate' },
  workspaceEvents: { method: 'GET', path: '/v1/workspaces/{id}/events', query: ['limit', 'nextToken'] },
  getSchedule: { method: 'GET', path: '/v1/workspaces/{id}/schedule' },
  putSchedule: { method: 'PUT', path: '/v1/workspaces/{id}/schedule' },
  setOverride: { method: 'POST', path: '/v1/workspaces/{id}/override' },
  clearOverride: { method: 'DELETE', path: '/v1/workspaces/{id}/override' },
  getDefaultSchedule: { method: 'GET', path: '/v1/schedules/default' },
  putDefaultSchedule: { method: 'PUT', path: '/v1/schedules/default' },
  previewSchedule: { method: 'POST', path: '/v1/schedules/preview' },
  myCosts: { method: 'GET', path: '/v1/costs/me', query: ['month'] },
  usersCosts: { method: 'GET', path: '/v1/costs/users', query: ['month'] },
  exportCosts: { method: 'GET', path: '/v1/costs/export.csv', query: ['month', 'costCentre', 'separator'] },
  getBudget: { method: 'GET', path: '/v1/budgets/{user}' },
  putBudget: { method: 'PUT', path: '/v1/budgets/{user}' },
  getOrgBudget: { method: 'GET', path: '/v1/config/budget' },
  putOrgBudget: { method: 'PUT', path: '/v1/config/budget' },
  listDatasets: { method: 'GET', path: '/v1/datasets', query: ['limit', 'nextToken'] },
  createDataset: { method: 'POST', path: '/v1/datasets' },
  getDataset: { method: 'GET', path: '/v1/datasets/{id}' },
  putDataset: { method: 'PUT', path: '/v1/datasets/{id}' },
  deleteDataset: { method: 'DELETE', path: '/v1/datasets/{id}' },
  datasetAccess: { method: 'GET', path: '/v1/datasets/{id}/access' },
  exportDataAccess: { method: 'GET', path: '/v1/datasets/access.csv', query: ['month'] },
  myDataAccess: { method: 'GET', path: '/v1/me/data-access' },
  attachDataset: { method: 'POST', path: '/v1/workspaces/{id}/datasets/{datasetId}' },
  detachDataset: { method: 'DELETE', path: '/v1/workspaces/{id}/datasets/{datasetId}' },
} as const satisfies Record<string, ApiRoute>;

export interface ApiRoute {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** OpenAPI path template. */
  path: string;
  /** Query parameters the client may send. */
  query?: readonly string[];
}

export type RouteName = keyof typeof ROUTES;

/** `/v1/workspaces/{id}` + `{id: "a b"}` → `/v1/workspaces/a%20b`; a missing parameter throws. */
export function fillPath(template: string, params: Record<string, string> = {}): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`missing path parameter ${name} for ${template}`);
    return encodeURIComponent(value);
  });
}

/** The file name of a `Content-Disposition: attachment; filename="…"` header. */
export function dispositionFilename(header: string | null, fallback: string): string {
  const m = header ? /filename="?([^";]+)"?/i.exec(header) : null;
  return m ? m[1] : fallback;
}

interface CallOptions {
  params?: Record<string, string>;
  query?: Record<string, string | null | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  accept?: string;
}

export type ListScope = { kind: 'own' } | { kind: 'all' } | { kind: 'owner'; owner: string };

export class Api {
  private readonly base: string;
  private readonly opts: ClientOptions;

  constructor(opts: ClientOptions) {
    this.base = opts.baseUrl.replace(/\/+$/, '');
    this.opts = opts;
  }

  /** Sends one request of the route table; non-2xx becomes an [`ApiError`]. */
  async send(name: RouteName, o: CallOptions = {}): Promise<Response> {
    const route: ApiRoute = ROUTES[name];
    for (const key of Object.keys(o.query ?? {})) {
      if (!route.query?.includes(key)) throw new Error(`${name}: query parameter ${key} is not in ROUTES`);
    }
    const h: Record<string, string> = { Accept: o.accept ?? 'application/json, application/problem+json', ...o.headers };
    const token = await this.opts.getToken();
    if (token) h.Authorization = `Bearer ${token}`;
    if (o.body !== undefined) h['Content-Type'] = 'application/json';
    const doFetch = this.opts.fetch ?? fetch;
    let response: Response;
    try {
      response = await doFetch(`${this.base}${fillPath(route.path, o.params)}${query(o.query ?? {})}`, {
        method: route.method,
        headers: h,
        body: o.body === undefined ? undefined : JSON.stringify(o.body),
      });
    } catch (e) {
      throw new ApiError(0, e instanceof Error ? e.message : String(e), null);
    }
    if (!response.ok) {
      const error = await errorFrom(response);
      if (response.status === 401) this.opts.onUnauthorized?.(error);
      throw error;
    }
    return response;
  }

  async call<T>(name: RouteName, o: CallOptions = {}): Promise<T> {
    const response = await this.send(name, o);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  me(): Promise<Me> {
    return this.call('me');
  }

  products(nextToken?: string | null): Promise<Page<Product>> {
    return this.call('products', { query: { limit: '100', nextToken } });
  }

  workspaces(scope: ListScope = { kind: 'own' }, nextToken?: string | null): Promise<Page<Workspace>> {
    const q: Record<string, string | null | undefined> = { limit: '100', nextToken };
    if (scope.kind === 'all') q.all = 'true';
    if (scope.kind === 'owner') q.owner = scope.owner;
    return this.call('listWorkspaces', { query: q });
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
    return this.call('getWorkspace', { params: { id } });
  }

  create(productId: string, name: string, key: string = idempotencyKey(), datasets: string[] = []): Promise<Workspace> {
    const body = datasets.length > 0 ? { productId, name, datasets } : { productId, name };
    return this.call('createWorkspace', { body, headers: { 'Idempotency-Key': key } });
  }

  act(id: string, action: Action): Promise<Workspace> {
    const name: Record<Action, RouteName> = {
      start: 'startWorkspace',
      stop: 'stopWorkspace',
      hibernate: 'hibernateWorkspace',
      terminate: 'terminateWorkspace',
    };
    return this.call(name[action], { params: { id } });
  }

  events(id: string, nextToken?: string | null): Promise<Page<WorkspaceEvent>> {
    return this.call('workspaceEvents', { params: { id }, query: { limit: '100', nextToken } });
  }

  schedule(id: string): Promise<Schedule> {
    return this.call('getSchedule', { params: { id } });
  }

  setSchedule(id: string, schedule: Schedule): Promise<Workspace> {
    return this.call('putSchedule', { params: { id }, body: schedule });
  }

  setOverride(id: string, until: string): Promise<Workspace> {
    return this.call('setOverride', { params: { id }, body: { until } });
  }

  clearOverride(id: string): Promise<Workspace> {
    return this.call('clearOverride', { params: { id } });
  }

  defaultSchedule(): Promise<Schedule> {
    return this.call('getDefaultSchedule');
  }

  setDefaultSchedule(schedule: Schedule): Promise<Schedule> {
    return this.call('putDefaultSchedule', { body: schedule });
  }

  /** The next `count` transitions of `schedule` from `from` (RFC 3339). */
  previewSchedule(schedule: Schedule, from: string, count: number): Promise<{ items: Transition[] }> {
    return this.call('previewSchedule', { body: { schedule, from, count } });
  }

  myCosts(month: string): Promise<MyCosts> {
    return this.call('myCosts', { query: { month } });
  }

  usersCosts(month: string): Promise<UsersCosts> {
    return this.call('usersCosts', { query: { month } });
  }

  /** The finance export (finance and admins): the file's name and text. */
  async exportCosts(month: string, opts: { costCentre?: string | null; separator?: Separator } = {}): Promise<CsvFile> {
    const response = await this.send('exportCosts', {
      query: {
        month,
        costCentre: opts.costCentre || null,
        separator: opts.separator === 'semicolon' ? 'semicolon' : null,
      },
      accept: 'text/csv, application/problem+json',
    });
    return {
      filename: dispositionFilename(response.headers.get('Content-Disposition'), `atelier-costs-${month}.csv`),
      text: await response.text(),
    };
  }

  budget(user: string): Promise<Budget> {
    return this.call('getBudget', { params: { user } });
  }

  setBudget(user: string, input: BudgetInput): Promise<Budget> {
    return this.call('putBudget', { params: { user }, body: input });
  }

  orgBudget(): Promise<OrgBudget> {
    return this.call('getOrgBudget');
  }

  setOrgBudget(input: BudgetInput): Promise<OrgBudget> {
    return this.call('putOrgBudget', { body: input });
  }

  datasets(nextToken?: string | null): Promise<Page<Dataset>> {
    return this.call('listDatasets', { query: { limit: '100', nextToken } });
  }

  dataset(id: string): Promise<Dataset> {
    return this.call('getDataset', { params: { id } });
  }

  createDataset(input: DatasetInput & { id: string }): Promise<Dataset> {
    return this.call('createDataset', { body: input });
  }

  updateDataset(id: string, input: DatasetInput): Promise<Dataset> {
    return this.call('putDataset', { params: { id }, body: input });
  }

  deleteDataset(id: string): Promise<void> {
    return this.call('deleteDataset', { params: { id } });
  }

  datasetAccess(id: string): Promise<DataAccess> {
    return this.call('datasetAccess', { params: { id } });
  }

  myDataAccess(): Promise<DataAccess> {
    return this.call('myDataAccess');
  }

  /** The month's data-access trace (admins): the file's name and text. */
  async exportDataAccess(month: string): Promise<CsvFile> {
    const response = await this.send('exportDataAccess', { query: { month }, accept: 'text/csv, application/problem+json' });
    const filename = dispositionFilename(response.headers.get('Content-Disposition'), `atelier-data-access-${month}.csv`);
    return { filename, text: await response.text() };
  }

  attachDataset(id: string, datasetId: string): Promise<Workspace> {
    return this.call('attachDataset', { params: { id, datasetId } });
  }

  detachDataset(id: string, datasetId: string): Promise<Workspace> {
    return this.call('detachDataset', { params: { id, datasetId } });
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
