// @vitest-environment jsdom
import { cleanup, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import type { Dataset, Workspace } from './api';
import { DatasetPicker, WorkspaceDatasets } from './components/DatasetPicker';
import { parseRoute } from './router';
import { LaunchDialog } from './screens/Catalog';
import { AdminDatasets, parseNames } from './screens/Datasets';
import { json, mockApi, problem, renderWith } from './test/mock-api';

afterEach(cleanup);

const onco: Dataset = {
  id: 'onco-2026',
  name: 'Oncology 2026',
  description: 'Cohort',
  location: 's3://atelier-lake/oncology/2026/',
  classification: 'clinical',
  owner: 'data-office',
  readable: true,
  createdAt: '2026-11-02T10:00:00Z',
  updatedAt: '2026-11-02T10:00:00Z',
};
const cardio: Dataset = { ...onco, id: 'cardio', name: 'Cardiology', location: 's3://atelier-lake/cardio/', readable: false };
const admin = (d: Dataset, groups: string[]): Dataset => ({ ...d, readers: { groups, users: [] } });

const workspace = (datasets: string[]): Workspace => ({
  id: 'ws-1',
  name: 'Study',
  owner: 'alice',
  productId: 'small-t3-large',
  instanceType: 't3.large',
  state: 'RUNNING',
  instanceId: 'i-1',
  createdAt: '2026-11-02T10:00:00Z',
  updatedAt: '2026-11-02T10:00:00Z',
  error: null,
  hibernation: true,
  allowedActions: ['stop', 'terminate'],
  schedule: { timezone: 'Europe/Paris', windows: [], holidays: null, outside: 'stop', enabled: true },
  override: null,
  nextTransition: null,
  datasets,
});

describe('dataset picker', () => {
  it('offers only readable datasets and reports the selection', async () => {
    const { api } = mockApi({ 'GET /v1/datasets': () => json(200, { items: [onco, cardio], nextToken: null }) });
    let selected: string[] = [];
    renderWith(api, <DatasetPicker selected={[]} onChange={(ids) => (selected = ids)} />);
    const box = await screen.findByRole('checkbox', { name: /Oncology 2026/ });
    expect(screen.queryByRole('checkbox', { name: /Cardiology/ })).toBeNull();
    fireEvent.click(box);
    expect(selected).toEqual(['onco-2026']);
  });

  it('sends the chosen datasets with the launch, and shows a 404 as an error', async () => {
    const { api, calls } = mockApi({
      'GET /v1/datasets': () => json(200, { items: [onco], nextToken: null }),
      'POST /v1/workspaces': () => problem(404, 'dataset not found'),
    });
    renderWith(
      api,
      <LaunchDialog
        product={{ id: 'small-t3-large', name: 'Small', description: '', instanceType: 't3.large', vcpus: 2, memoryGiB: 8, hourlyPrice: { amount: '0.09', currency: 'EUR' }, storagePrice: null, hibernation: true, volumeGiB: 50, apps: ['jupyterlab'] }}
        onClose={() => {}}
      />,
    );
    fireEvent.change(screen.getByLabelText('Workspace name'), { target: { value: 'Study' } });
    fireEvent.click(await screen.findByRole('checkbox', { name: /Oncology 2026/ }));
    fireEvent.click(screen.getByRole('button', { name: 'Launch' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('dataset not found'));
    const post = calls.find((c) => c.method === 'POST');
    expect(post?.body).toEqual({ productId: 'small-t3-large', name: 'Study', datasets: ['onco-2026'] });
  });

  it('speaks French', async () => {
    const { api } = mockApi({ 'GET /v1/datasets': () => json(200, { items: [], nextToken: null }) });
    renderWith(api, <DatasetPicker selected={[]} onChange={() => {}} />, 'fr');
    expect(await screen.findByText('Aucun jeu de données ne vous est accessible.')).toBeTruthy();
    expect(screen.getByText('Jeux de données à monter')).toBeTruthy();
  });
});

describe('workspace datasets panel', () => {
  it('detaches and attaches through the API', async () => {
    const { api, calls } = mockApi({
      'GET /v1/datasets': () => json(200, { items: [onco, { ...onco, id: 'ref', name: 'Reference' }], nextToken: null }),
      'DELETE /v1/workspaces/ws-1/datasets/onco-2026': () => json(200, workspace([])),
      'POST /v1/workspaces/ws-1/datasets/ref': () => json(200, workspace(['ref'])),
    });
    const changes: Workspace[] = [];
    renderWith(api, <WorkspaceDatasets workspace={workspace(['onco-2026'])} onChanged={(w) => changes.push(w)} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Detach Oncology 2026' }));
    await waitFor(() => expect(changes).toHaveLength(1));
    fireEvent.change(screen.getByLabelText('Dataset to attach'), { target: { value: 'ref' } });
    fireEvent.click(screen.getByRole('button', { name: 'Attach' }));
    await waitFor(() => expect(changes).toHaveLength(2));
    expect(calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.path}`)).toEqual([
      'DELETE /v1/workspaces/ws-1/datasets/onco-2026',
      'POST /v1/workspaces/ws-1/datasets/ref',
    ]);
  });
});

describe('admin dataset registry', () => {
  it('is routed under the admin area', () => {
    expect(parseRoute('#/admin/datasets')).toEqual({ name: 'adminDatasets' });
  });

  it('parses reader names', () => {
    expect(parseNames(' oncology, ,radiology ,oncology')).toEqual(['oncology', 'radiology']);
  });

  it('registers a dataset with its readers and shows the access intervals', async () => {
    const { api, calls } = mockApi({
      'GET /v1/datasets': () => json(200, { items: [admin(onco, ['oncology'])], nextToken: null }),
      'POST /v1/datasets': (req) => json(201, { ...onco, ...(req.body as object), readable: false }),
      'GET /v1/datasets/onco-2026/access': () =>
        json(200, {
          datasetId: 'onco-2026',
          intervals: [
            {
              datasetId: 'onco-2026',
              user: 'alice',
              workspaceId: 'ws-1',
              from: '2026-11-02T10:00:00Z',
              mountedAt: '2026-11-02T10:01:00Z',
              until: '2026-11-02T12:00:00Z',
            },
            { datasetId: 'onco-2026', user: 'carol', workspaceId: 'ws-2', from: '2026-11-03T10:00:00Z', mountedAt: null, until: null },
          ],
          events: [],
        }),
    });
    renderWith(api, <AdminDatasets />);
    const row = (await screen.findByText('Oncology 2026')).closest('tr')!;
    expect(within(row).getByText('oncology')).toBeTruthy();
    expect(within(row).getByText('Clinical')).toBeTruthy();

    fireEvent.click(within(row).getByRole('button', { name: 'Access of Oncology 2026' }));
    const report = await screen.findByTestId('dataset-access');
    expect(within(report).getByText('alice')).toBeTruthy();
    expect(within(report).getByText('still attached')).toBeTruthy();
    // What the machine's agent reported, not only what the API allowed.
    expect(within(report).getByText('not reported')).toBeTruthy();

    fireEvent.change(screen.getByLabelText('Identifier'), { target: { value: 'cardio-2026' } });
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'Cardiology 2026' } });
    fireEvent.change(screen.getByLabelText('S3 location'), { target: { value: 's3://atelier-lake/cardio/2026/' } });
    fireEvent.change(screen.getByLabelText('Classification'), { target: { value: 'confidential' } });
    fireEvent.change(screen.getByLabelText('Data owner'), { target: { value: 'cardio-office' } });
    fireEvent.change(screen.getByLabelText('Reader groups'), { target: { value: 'cardiology, radiology' } });
    fireEvent.change(screen.getByLabelText('Reader users'), { target: { value: 'bob' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));
    await screen.findByText('Dataset Cardiology 2026 saved.');
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({
      id: 'cardio-2026',
      name: 'Cardiology 2026',
      description: '',
      location: 's3://atelier-lake/cardio/2026/',
      classification: 'confidential',
      owner: 'cardio-office',
      readers: { groups: ['cardiology', 'radiology'], users: ['bob'] },
    });
  });

  it('shows a refused registration as the API words it', async () => {
    const { api } = mockApi({
      'GET /v1/datasets': () => json(200, { items: [], nextToken: null }),
      'POST /v1/datasets': () => problem(400, 'location: prefix "x*/" must not contain wildcards', 'location'),
    });
    renderWith(api, <AdminDatasets />, 'fr');
    fireEvent.change(await screen.findByLabelText('Identifiant'), { target: { value: 'x-1' } });
    fireEvent.change(screen.getByLabelText('Nom'), { target: { value: 'X' } });
    fireEvent.change(screen.getByLabelText('Emplacement S3'), { target: { value: 's3://lake/x*/' } });
    fireEvent.change(screen.getByLabelText('Responsable des données'), { target: { value: 'o' } });
    fireEvent.click(screen.getByRole('button', { name: 'Enregistrer' }));
    await waitFor(() => expect(screen.getByRole('alert').textContent).toContain('wildcards'));
  });
});
