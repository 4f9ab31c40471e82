import { useEffect, useState } from 'react';
import type { Dataset, Workspace } from '../api';
import { useAction } from '../action';
import { useApp } from '../app-context';
import { ErrorMessage, Loading } from './common';
import { useI18n } from '../i18n';

/** The datasets the caller may read (the API lists only those; admins see all, so filter on `readable`). */
export function useReadableDatasets(): { datasets: Dataset[] | null; error: unknown } {
  const { api } = useApp();
  const [datasets, setDatasets] = useState<Dataset[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let live = true;
    api
      .all((token) => api.datasets(token))
      .then((all) => live && setDatasets(all.filter((d) => d.readable)))
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [api]);
  return { datasets, error };
}

/** Checkboxes of the readable datasets, for the launch dialog. */
export function DatasetPicker({ selected, onChange }: { selected: string[]; onChange: (ids: string[]) => void }) {
  const { t } = useI18n();
  const { datasets, error } = useReadableDatasets();
  return (
    <fieldset>
      <legend>{t('datasetsPicker')}</legend>
      <p className="help">{t('datasetsPickerHelp')}</p>
      {error !== null && <ErrorMessage error={error} />}
      {datasets === null && error === null && <Loading />}
      {datasets !== null && datasets.length === 0 && <p>{t('datasetsNone')}</p>}
      {datasets?.map((d) => (
        <label key={d.id} className="radio">
          <input
            type="checkbox"
            value={d.id}
            checked={selected.includes(d.id)}
            onChange={(e) => onChange(e.target.checked ? [...selected, d.id] : selected.filter((id) => id !== d.id))}
          />
          <span>
            {d.name} <span className="help">({t(`classification_${d.classification}`)}, {d.location})</span>
          </span>
        </label>
      ))}
    </fieldset>
  );
}

/** The workspace page's panel: attached datasets, detach buttons, and attach one more. */
export function WorkspaceDatasets({ workspace, onChanged }: { workspace: Workspace; onChanged: (w: Workspace) => void }) {
  const { api } = useApp();
  const { t } = useI18n();
  const { datasets, error: listError } = useReadableDatasets();
  const [choice, setChoice] = useState('');
  const { busy, error, run: act } = useAction();
  const attached = workspace.datasets;
  const ended = workspace.state === 'TERMINATING' || workspace.state === 'TERMINATED' || workspace.state === 'FAILED';
  const nameOf = (id: string) => datasets?.find((d) => d.id === id)?.name ?? id;
  const attachable = (datasets ?? []).filter((d) => !attached.includes(d.id));

  const run = (call: () => Promise<Workspace>) =>
    act(async () => {
      onChanged(await call());
      setChoice('');
    });

  return (
    <div className="panel" data-testid="workspace-datasets">
      <h2>{t('datasetsAttached')}</h2>
      {listError !== null && <ErrorMessage error={listError} />}
      {attached.length === 0 ? (
        <p>{t('datasetsAttachedNone')}</p>
      ) : (
        <ul>
          {attached.map((id) => (
            <li key={id}>
              {nameOf(id)}{' '}
              <button
                type="button"
                className="secondary"
                disabled={busy}
                onClick={() => void run(() => api.detachDataset(workspace.id, id))}
              >
                {t('datasetDetach', { name: nameOf(id) })}
              </button>
            </li>
          ))}
        </ul>
      )}
      {!ended && attachable.length > 0 && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (choice) void run(() => api.attachDataset(workspace.id, choice));
          }}
        >
          <label htmlFor="attach-dataset">{t('datasetAttachLabel')}</label>
          <select id="attach-dataset" value={choice} onChange={(e) => setChoice(e.target.value)}>
            <option value="" />
            {attachable.map((d) => (
              <option key={d.id} value={d.id}>
                {d.name}
              </option>
            ))}
          </select>
          <button type="submit" disabled={busy || !choice}>
            {t('datasetAttach')}
          </button>
        </form>
      )}
      {error !== null && <ErrorMessage error={error} />}
    </div>
  );
}
