// Typed client for the Atelier API. Every type below is an alias of the OpenAPI document the API
// serves (src/generated/openapi.ts, generated from it by `npm run generate`; see README): a
// view that changes in Rust changes these types, and `tsc` fails where the portal disagrees.
// Requests go through openapi-fetch, typed by the same document (path, method, parameters,
// body and answer of every route in ROUTES).
import createClient, { type Client, type FetchOptions, type FetchResponse } from 'openapi-fetch';
import type { components, paths } from './generated/openapi';

type Schemas = components['schemas'];

export type State = Schemas['State'];
export type Action = Schemas['Command'];
export type PortalConfig = Schemas['PortalConfig'];
export type Money = Schemas['Money'];
/** A catalog product; `published`, `visibleTo`, `prices`, `serviceCatalog` and `version` only for admins. */
export type Product = Schemas['Product'];
export type CostExport = Schemas['CostExport'];
export type CostExportInput = Schemas['CostExportInput'];
/** One version of a product's prices (admins: `Product.prices`, oldest first). */
export type PriceVersion = Schemas['PriceVersion'];
/** Body of `POST /v1/products/{id}/prices`. */
export type PriceVersionInput = Schemas['PriceVersionInput'];
/** Body of `POST /v1/products` (admins): name, description, vCPU and memory come from AWS. */
export type PublishProductInput = Schemas['PublishProductInput'];
/** Body of `PUT /v1/products/{id}`. */
export type EditProductInput = Schemas['EditProductInput'];
export type ProductEvent = Schemas['ProductEvent'];
export type ProductEventAction = ProductEvent['action'];
export type ScheduleWindow = Schemas['Window'];
export type Weekday = ScheduleWindow['days'][number];
export type Schedule = Schemas['Schedule'];
/** What PUT schedule routes and the preview take: a schedule whose missing fields take the default's. */
export type ScheduleInput = Schemas['ScheduleInput'];
export type Transition = Schemas['Transition'];
export type Override = Schemas['Override'];
export type Workspace = Schemas['Workspace'];
export type WorkspaceEvent = Schemas['Event'];
export type EventAction = WorkspaceEvent['action'];
export type Problem = Schemas['Problem'];
export type Me = Schemas['Me'];
export type WorkspaceCost = Schemas['WorkspaceCost'];
/** `GET /v1/costs/me`. */
export type MyCosts = Schemas['MyCosts'];
export type UserCost = Schemas['UserCost'];
/** `GET /v1/costs/users` (admins). */
export type UsersCosts = Schemas['UsersCosts'];
/** An actual converted into the catalog's currency, with the rate and its day. */
export type Converted = Schemas['Converted'];
/** One revision of an admin's exchange rate (`GET /v1/exchange-rates`). */
export type ExchangeRate = Schemas['ExchangeRate'];
export type BudgetPolicy = Schemas['BudgetPolicy'];
/** `GET /v1/budgets/{user}`. */
export type Budget = Schemas['UserBudget'];
/** Body of `PUT /v1/budgets/{user}` and `PUT /v1/config/budget`. */
export type BudgetInput = Schemas['BudgetInput'];
/** `GET /v1/config/budget`: the organisation default. */
export type OrgBudget = Schemas['DefaultBudget'];
export type Classification = Schemas['Classification'];
export type Readers = Schemas['Readers'];
/** A dataset; `readers` only for admins. */
export type Dataset = Schemas['Dataset'];
export type DatasetInput = Schemas['DatasetInput'];
export type AccessInterval = Schemas['AccessInterval'];
export type AccessEvent = Schemas['AccessEvent'];
export type DataAccess = Schemas['DataAccess'];
/** An app a workspace serves through the gateway (`GET /v1/workspaces/{id}/apps`). */
export type WorkspaceApp = Schemas['App'];
export type AppList = Schemas['AppList'];
/** An admin's break-glass grant (`POST /v1/workspaces/{id}/break-glass`). */
export type BreakGlass = Schemas['BreakGlass'];
/** An app session of a connect or disconnect event. */
export type Connection = Schemas['Connection'];
/** What Atelier told the caller of its own accord (`GET /v1/me/notifications`). */
export type Notification = Schemas['Notification'];
export type Separator = NonNullable<paths['/v1/costs/export.csv']['get']['parameters']['query']['separator']>;

/** A page of any list route (`ProductPage`, `WorkspacePage`, … in the document). */
export interface Page<T> {
  items: T[];
  nextToken: Schemas['NextToken'];
}

/** The members of `U` that `L` leaves out, named in the compiler's error. */
type Complete<U, L extends readonly unknown[]> = [Exclude<U, L[number]>] extends [never] ? unknown : { missing: Exclude<U, L[number]> };

/**
 * `values`, checked by the compiler against the document's union `U`: a value the document
 * does not have, or one of its members left out, does not compile.
 */
export const everyOf =
  <U extends string>() =>
  <const L extends readonly U[]>(values: L & Complete<U, L>) =>
    values as readonly U[];

export const STATES = everyOf<State>()([
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
]);

export const TRANSITIONAL: ReadonlySet<State> = new Set<State>([
  'PROVISIONING',
  'STARTING',
  'STOPPING',
  'HIBERNATING',
  'TERMINATING',
]);

/** Monday first. */
export const WEEKDAYS = everyOf<Weekday>()(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
export const BUDGET_POLICIES = everyOf<BudgetPolicy>()(['notify', 'stop-at-100']);
export const CLASSIFICATIONS = everyOf<Classification>()(['public', 'internal', 'confidential', 'clinical']);
export const PRODUCT_EVENT_ACTIONS = everyOf<ProductEventAction>()(['publish', 'edit', 'price', 'unpublish']);

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

/**
 * The error of a failed answer whose body is `body` (parsed JSON, else its text): a problem's
 * `detail`; non-problem bodies (405, plain-text 413) keep their text.
 */
function apiError(response: Response, body: unknown): ApiError {
  if (isProblem(body)) return new ApiError(response.status, body.detail, body);
  const text = typeof body === 'string' ? body.trim() : body === undefined ? '' : JSON.stringify(body);
  return new ApiError(response.status, text || response.statusText || `HTTP ${response.status}`, null);
}

/** Turns a failed response into an [`ApiError`]. */
export async function errorFrom(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: its text
  }
  return apiError(response, body);
}

export interface ClientOptions {
  /** The API's origin (and path prefix); empty for the portal's own origin. */
  baseUrl: string;
  /** The current access token, refreshed if need be; null when signed out. */
  getToken: () => Promise<string | null> | string | null;
  /** Called on a 401 answer (the session is over). */
  onUnauthorized?: (error: ApiError) => void;
  /** Called with each request (a `Request`, as openapi-fetch builds it); defaults to the global fetch. */
  fetch?: (request: Request) => Promise<Response>;
}

function idempotencyKey(): string {
  if (typeof crypto !== 'undefined' && 'randomUUID' in crypto) return crypto.randomUUID();
  return `k-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/** A CSV export as downloaded. */
export interface CsvFile {
  filename: string;
  text: string;
}

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][Lowercase<M>]>;
type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
type QueryName<O> = [QueryOf<O>] extends [never] ? never : keyof QueryOf<O> & string;

/** A route of the document: one of its paths, a method that path has, query parameters it declares. */
export type ApiRoute = {
  [P in keyof paths]: {
    [M in Method]: [Operation<P, M>] extends [never]
      ? never
      : { method: M; path: P; /** Query parameters the client may send. */ query?: readonly QueryName<Operation<P, M>>[] };
  }[Method];
}[keyof paths];

/**
 * Every route the client calls: method and path template, as the OpenAPI document writes
 * them (checked by the compiler: see ApiRoute). Every request goes through this table
 * (`Api.send`), so a test can also compare it with the document (shared/web/openapi/*.json).
 */
export const ROUTES = {
  me: { method: 'GET', path: '/v1/me' },
  products: { method: 'GET', path: '/v1/products', query: ['limit', 'nextToken'] },
  publishProduct: { method: 'POST', path: '/v1/products' },
  editProduct: { method: 'PUT', path: '/v1/products/{id}' },
  unpublishProduct: { method: 'DELETE', path: '/v1/products/{id}' },
  addProductPrice: { method: 'POST', path: '/v1/products/{id}/prices' },
  productEvents: { method: 'GET', path: '/v1/products/{id}/events', query: ['limit', 'nextToken'] },
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
  myNotifications: { method: 'GET', path: '/v1/me/notifications', query: ['limit', 'nextToken'] },
  usersCosts: { method: 'GET', path: '/v1/costs/users', query: ['month'] },
  exportCosts: { method: 'GET', path: '/v1/costs/export.csv', query: ['month', 'costCentre', 'separator'] },
  createCostExport: { method: 'POST', path: '/v1/costs/exports' },
  getBudget: { method: 'GET', path: '/v1/budgets/{user}' },
  putBudget: { method: 'PUT', path: '/v1/budgets/{user}' },
  getOrgBudget: { method: 'GET', path: '/v1/config/budget' },
  putOrgBudget: { method: 'PUT', path: '/v1/config/budget' },
  listExchangeRates: { method: 'GET', path: '/v1/exchange-rates' },
  putExchangeRate: { method: 'PUT', path: '/v1/exchange-rates/{from}/{to}/{date}' },
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
  workspaceApps: { method: 'GET', path: '/v1/workspaces/{id}/apps' },
  breakGlass: { method: 'POST', path: '/v1/workspaces/{id}/break-glass' },
} as const satisfies Record<string, ApiRoute>;

export type RouteName = keyof typeof ROUTES;

/** Route N's operation in the document. */
type RouteOperation<N extends RouteName> = Operation<(typeof ROUTES)[N]['path'], (typeof ROUTES)[N]['method']>;
/** What route N takes (path, query and header parameters, body), per the document. */
type RouteInit<N extends RouteName> = N extends RouteName ? FetchOptions<RouteOperation<N>> : never;
/** The JSON of route N's success answer, per the document. */
type RouteData<N extends RouteName> = N extends RouteName
  ? NonNullable<FetchResponse<RouteOperation<N>, RouteInit<N>, 'application/json'>['data']>
  : never;
/** `init`, optional when the route has no required parameter or body. */
type InitArgs<N extends RouteName> = N extends RouteName
  ? {} extends RouteInit<N>
    ? [init?: RouteInit<N>]
    : [init: RouteInit<N>]
  : never;

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

/** `baseUrl` resolved against the page, as fetch would resolve a relative URL (a `Request` needs an absolute one). */
function absolute(baseUrl: string): string {
  const page = typeof location === 'undefined' ? undefined : location.href;
  return page ? new URL(baseUrl || '/', page).href.replace(/\/+$/, '') : baseUrl.replace(/\/+$/, '');
}

/** openapi-fetch's `request`, once the route is only known at run time. */
type Untyped = (
  method: Method,
  path: string,
  init: object,
) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

const ACCEPT = { json: 'application/json, application/problem+json', text: 'text/csv, application/problem+json' };

/** The query of one page of a list (as many items as the API gives). */
const pageQuery = (nextToken?: string | null) => ({ limit: 100, nextToken: nextToken ?? undefined });

export type ListScope = { kind: 'own' } | { kind: 'all' } | { kind: 'owner'; owner: string };

export class Api {
  private readonly client: Client<paths>;
  private readonly opts: ClientOptions;

  constructor(opts: ClientOptions) {
    this.opts = opts;
    this.client = createClient<paths>({
      baseUrl: absolute(opts.baseUrl),
      fetch: (request) => (opts.fetch ?? fetch)(request),
      pathSerializer: (path, params) => fillPath(path, params as Record<string, string>),
    });
  }

  /** Sends one request of the route table; non-2xx becomes an [`ApiError`]. */
  private async send(name: RouteName, init: { params?: { query?: object } } | undefined, parseAs: 'json' | 'text') {
    const route: ApiRoute = ROUTES[name];
    const query = init?.params?.query ?? {};
    const allowed: readonly string[] = route.query ?? [];
    for (const key of Object.keys(query)) {
      if (!allowed.includes(key)) throw new Error(`${name}: query parameter ${key} is not in ROUTES`);
    }
    const token = await this.opts.getToken();
    const headers: Record<string, string> = { Accept: ACCEPT[parseAs] };
    if (token) headers.Authorization = `Bearer ${token}`;
    // The callers are typed by the document (RouteInit<N>); openapi-fetch's generics cannot follow a route name.
    const request = this.client.request as Untyped;
    let result: Awaited<ReturnType<Untyped>>;
    try {
      result = await request(route.method, route.path, { ...init, headers, parseAs });
    } catch (e) {
      throw new ApiError(0, e instanceof Error ? e.message : String(e), null);
    }
    if (!result.response.ok) {
      const error = apiError(result.response, result.error);
      if (result.response.status === 401) this.opts.onUnauthorized?.(error);
      throw error;
    }
    return result;
  }

  private async call<N extends RouteName>(name: N, ...[init]: InitArgs<N>): Promise<RouteData<N>> {
    return (await this.send(name, init, 'json')).data as RouteData<N>;
  }

  /** A CSV export: the file's name (from Content-Disposition, else `fallback`) and text. */
  private async download<N extends 'exportCosts' | 'exportDataAccess'>(
    name: N,
    init: RouteInit<N>,
    fallback: string,
  ): Promise<CsvFile> {
    const { data, response } = await this.send(name, init, 'text');
    return { filename: dispositionFilename(response.headers.get('Content-Disposition'), fallback), text: data as string };
  }

  /**
   * The current access token (refreshed if need be), or null when signed out: what the
   * portal posts to the gateway to open an app (see components/Apps.tsx).
   */
  async accessToken(): Promise<string | null> {
    return (await this.opts.getToken()) ?? null;
  }

  me(): Promise<Me> {
    return this.call('me');
  }

  products(nextToken?: string | null): Promise<Page<Product>> {
    return this.call('products', { params: { query: pageQuery(nextToken) } });
  }

  /** Admins: publishes a Service Catalog product (201, the product as Atelier reads it from AWS). */
  publishProduct(input: PublishProductInput): Promise<Product> {
    return this.call('publishProduct', { body: input });
  }

  /** Admins: a product's name, description, groups and apps. */
  editProduct(id: string, input: EditProductInput): Promise<Product> {
    return this.call('editProduct', { params: { path: { id } }, body: input });
  }

  /** Admins: nobody can launch it any more; existing workspaces are untouched. */
  unpublishProduct(id: string): Promise<Product> {
    return this.call('unpublishProduct', { params: { path: { id } } });
  }

  /** Admins: appends a price version (from `effectiveFrom`, not in the past). */
  addProductPrice(id: string, input: PriceVersionInput): Promise<Product> {
    return this.call('addProductPrice', { params: { path: { id } }, body: input });
  }

  /** Admins: a page of the product's history, newest first. */
  productEvents(id: string, nextToken?: string | null): Promise<Page<ProductEvent>> {
    return this.call('productEvents', { params: { path: { id }, query: pageQuery(nextToken) } });
  }

  workspaces(scope: ListScope = { kind: 'own' }, nextToken?: string | null): Promise<Page<Workspace>> {
    const query = {
      ...pageQuery(nextToken),
      all: scope.kind === 'all' ? true : undefined,
      owner: scope.kind === 'owner' ? scope.owner : undefined,
    };
    return this.call('listWorkspaces', { params: { query } });
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
    return this.call('getWorkspace', { params: { path: { id } } });
  }

  create(productId: string, name: string, key: string = idempotencyKey(), datasets: string[] = []): Promise<Workspace> {
    const body = datasets.length > 0 ? { productId, name, datasets } : { productId, name };
    return this.call('createWorkspace', { params: { header: { 'Idempotency-Key': key } }, body });
  }

  act(id: string, action: Action): Promise<Workspace> {
    const name = {
      start: 'startWorkspace',
      stop: 'stopWorkspace',
      hibernate: 'hibernateWorkspace',
      terminate: 'terminateWorkspace',
    } as const satisfies Record<Action, RouteName>;
    return this.call(name[action], { params: { path: { id } } });
  }

  events(id: string, nextToken?: string | null): Promise<Page<WorkspaceEvent>> {
    return this.call('workspaceEvents', { params: { path: { id }, query: pageQuery(nextToken) } });
  }

  schedule(id: string): Promise<Schedule> {
    return this.call('getSchedule', { params: { path: { id } } });
  }

  setSchedule(id: string, schedule: ScheduleInput): Promise<Workspace> {
    return this.call('putSchedule', { params: { path: { id } }, body: schedule });
  }

  setOverride(id: string, until: string): Promise<Workspace> {
    return this.call('setOverride', { params: { path: { id } }, body: { until } });
  }

  clearOverride(id: string): Promise<Workspace> {
    return this.call('clearOverride', { params: { path: { id } } });
  }

  defaultSchedule(): Promise<Schedule> {
    return this.call('getDefaultSchedule');
  }

  setDefaultSchedule(schedule: ScheduleInput): Promise<Schedule> {
    return this.call('putDefaultSchedule', { body: schedule });
  }

  /** The next `count` transitions of `schedule` from `from` (RFC 3339). */
  previewSchedule(schedule: ScheduleInput, from: string, count: number): Promise<{ items: Transition[] }> {
    return this.call('previewSchedule', { body: { schedule, from, count } });
  }

  myCosts(month: string): Promise<MyCosts> {
    return this.call('myCosts', { params: { query: { month } } });
  }

  /** A page of the caller's notifications, newest first. */
  notifications(nextToken?: string | null): Promise<Page<Notification>> {
    return this.call('myNotifications', { params: { query: pageQuery(nextToken) } });
  }

  usersCosts(month: string): Promise<UsersCosts> {
    return this.call('usersCosts', { params: { query: { month } } });
  }

  /** The finance export (finance and admins): the file's name and text. */
  exportCosts(month: string, opts: { costCentre?: string | null; separator?: Separator } = {}): Promise<CsvFile> {
    const query = {
      month,
      costCentre: opts.costCentre || undefined,
      separator: opts.separator === 'semicolon' ? opts.separator : undefined,
    };
    return this.download('exportCosts', { params: { query } }, `atelier-costs-${month}.csv`);
  }

  /**
   * The finance export written to a file to download (finance and admins): what the
   * deployed portal uses, since API Gateway cuts answers at 6 MB. The link works for 15
   * minutes, without a token.
   */
  createCostExport(month: string, opts: { costCentre?: string | null; separator?: Separator } = {}): Promise<CostExport> {
    const body: CostExportInput = { month };
    if (opts.costCentre) body.costCentre = opts.costCentre;
    if (opts.separator === 'semicolon') body.separator = opts.separator;
    return this.call('createCostExport', { body });
  }

  budget(user: string): Promise<Budget> {
    return this.call('getBudget', { params: { path: { user } } });
  }

  /** Every exchange rate, every revision (admins, finance). */
  exchangeRates(): Promise<{ rates: ExchangeRate[] }> {
    return this.call('listExchangeRates');
  }

  /** Records 1 `from` = `rate` `to` from `date` on (admins); a new revision if the day has another. */
  putExchangeRate(from: string, to: string, date: string, rate: string): Promise<ExchangeRate> {
    return this.call('putExchangeRate', { params: { path: { from, to, date } }, body: { rate } });
  }

  setBudget(user: string, input: BudgetInput): Promise<Budget> {
    return this.call('putBudget', { params: { path: { user } }, body: input });
  }

  orgBudget(): Promise<OrgBudget> {
    return this.call('getOrgBudget');
  }

  setOrgBudget(input: BudgetInput): Promise<OrgBudget> {
    return this.call('putOrgBudget', { body: input });
  }

  datasets(nextToken?: string | null): Promise<Page<Dataset>> {
    return this.call('listDatasets', { params: { query: pageQuery(nextToken) } });
  }

  dataset(id: string): Promise<Dataset> {
    return this.call('getDataset', { params: { path: { id } } });
  }

  createDataset(input: DatasetInput & { id: string }): Promise<Dataset> {
    return this.call('createDataset', { body: input });
  }

  updateDataset(id: string, input: DatasetInput): Promise<Dataset> {
    return this.call('putDataset', { params: { path: { id } }, body: input });
  }

  async deleteDataset(id: string): Promise<void> {
    await this.call('deleteDataset', { params: { path: { id } } });
  }

  datasetAccess(id: string): Promise<DataAccess> {
    return this.call('datasetAccess', { params: { path: { id } } });
  }

  myDataAccess(): Promise<DataAccess> {
    return this.call('myDataAccess');
  }

  /** The month's data-access trace (admins): the file's name and text. */
  exportDataAccess(month: string): Promise<CsvFile> {
    return this.download('exportDataAccess', { params: { query: { month } } }, `atelier-data-access-${month}.csv`);
  }

  attachDataset(id: string, datasetId: string): Promise<Workspace> {
    return this.call('attachDataset', { params: { path: { id, datasetId } } });
  }

  detachDataset(id: string, datasetId: string): Promise<Workspace> {
    return this.call('detachDataset', { params: { path: { id, datasetId } } });
  }

  /** The apps the workspace serves through the gateway, with their URL and whether they answer now. */
  apps(id: string): Promise<AppList> {
    return this.call('workspaceApps', { params: { path: { id } } });
  }

  /** An admin's audited access to another person's workspace apps (403 for others). */
  breakGlass(id: string, reason: string): Promise<BreakGlass> {
    return this.call('breakGlass', { params: { path: { id } }, body: { reason } });
  }
}

/** Reads `/config.json` from the portal's origin. */
export async function loadConfig(fetchImpl: typeof fetch = fetch): Promise<PortalConfig> {
  const response = await fetchImpl('/config.json', { headers: { Accept: 'application/json' } });
  if (!response.ok) throw await errorFrom(response);
  return (await response.json()) as PortalConfig;
}
