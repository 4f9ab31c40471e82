// Type-level tests of the generated API types (src/generated/openapi.ts, made from the OpenAPI
// document the Rust API serves: README "API types"). Checked by tsc (npm run build) and by
// vitest --typecheck (make portal-test): each @ts-expect-error line must fail to compile, so
// these fail the moment the portal could use a field the document lacks, or with another type.
import { describe, expectTypeOf, it } from 'vitest';
import {
  Api,
  everyOf,
  type ApiRoute,
  type Product,
  type ProductEventAction,
  type PublishProductInput,
  type State,
  type Transition,
  type Workspace,
} from './api';
import type { components } from './generated/openapi';

describe('the API types', () => {
  it('are the document schemas', () => {
    expectTypeOf<Workspace>().toEqualTypeOf<components['schemas']['Workspace']>();
    expectTypeOf<Workspace['state']>().toEqualTypeOf<components['schemas']['State']>();
    // Required in the document (the Rust view always sends them), so the portal needs no fallback.
    expectTypeOf<Workspace['datasets']>().toEqualTypeOf<string[]>();
    expectTypeOf<components['schemas']['MyCosts']['thresholdsCrossed']>().toEqualTypeOf<number[]>();
    // Narrower than State: the scheduler only ever aims at RUNNING or STOPPED.
    expectTypeOf<Transition['to']>().toEqualTypeOf<'RUNNING' | 'STOPPED'>();
    // Every caller gets these; the administrative fields are optional (admins only).
    expectTypeOf<Product['volumeGiB']>().toEqualTypeOf<number>();
    expectTypeOf<Product['apps']>().toEqualTypeOf<string[]>();
    expectTypeOf<Product['published']>().toEqualTypeOf<boolean | undefined>();
    expectTypeOf<ProductEventAction>().toEqualTypeOf<'publish' | 'edit' | 'price' | 'unpublish'>();
  });

  it('refuse a field the document does not have, or of another type', () => {
    const w = {} as Workspace;
    // @ts-expect-error: the document's Workspace has no `cost`
    void w.cost;
    // @ts-expect-error: `vcpus` is an integer in the document
    const p: Product['vcpus'] = '8';
    // @ts-expect-error: not a state of the document's enum
    const s: State = 'PAUSED';
    void [p, s];
  });

  it('type what the client sends by the document', () => {
    const api = {} as Api;
    // @ts-expect-error: a budget amount is a decimal string, never a number
    void api.setBudget('alice', { amount: 300 });
    // @ts-expect-error: the document's BudgetInput has no `currency`
    void api.setOrgBudget({ amount: '300.00', currency: 'EUR' });
    const publish = {} as PublishProductInput;
    // @ts-expect-error: a price is a decimal string, never a number
    void api.publishProduct({ ...publish, price: { ...publish.price, computePerHour: 0.09 } });
    // @ts-expect-error: name and description come from Service Catalog, not from the admin
    void api.publishProduct({ ...publish, name: 'GPU-less notebook' });
    // @ts-expect-error: a price version needs its effectiveFrom
    void api.addProductPrice('p', { computePerHour: '0.10', storagePerGbMonth: '0.0928', currency: 'EUR' });
    // @ts-expect-error: the instance type is not edited in place
    void api.editProduct('p', { name: 'P', description: '', visibleTo: ['scientists'], apps: [], instanceType: 't3.xlarge' });
  });

  it('check the route table against the document', () => {
    // @ts-expect-error: /v1/me has no POST
    void ({ method: 'POST', path: '/v1/me' } satisfies ApiRoute);
    // @ts-expect-error: not a path of the document
    void ({ method: 'GET', path: '/v1/invoices' } satisfies ApiRoute);
    // @ts-expect-error: /v1/me documents no query parameter
    void ({ method: 'GET', path: '/v1/me', query: ['limit'] } satisfies ApiRoute);
    void ({ method: 'GET', path: '/v1/products', query: ['limit', 'nextToken'] } satisfies ApiRoute);
  });

  it('keep the runtime lists complete', () => {
    expectTypeOf(everyOf<State>()).toBeFunction();
    // @ts-expect-error: a list of states that leaves some out
    everyOf<State>()(['RUNNING', 'STOPPED']);
    // @ts-expect-error: a value the document's enum lacks
    everyOf<'a' | 'b'>()(['a', 'b', 'c']);
  });
});
