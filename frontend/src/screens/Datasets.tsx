import { useEffect, useState } from 'react';
import { CLASSIFICATIONS, type Classification, type DataAccess, type Dataset, type DatasetInput } from '../api';
import { useApp } from '../app-context';
import { AdminTabs } from '../components/AdminTabs';
import { ErrorMessage, Loading } from '../components/common';
import { MonthPicker } from '../components/MonthPicker';
import { currentMonth, formatDateTime } from '../format';
import { useI18n } from '../i18n';
import { saveFile } from './Finance';

/** "a, b ,, c" → ["a", "b", "c"]. */
export function parseNames(text: string): string[] {
  return [...new Set(text.split(',').map((s) => s.trim()).filter(Boolean))];
}

interface Form {
  id: string;
  name: string;
  description: string;
  location: string;
  classification: Classification;
  owner: string;
  groups: string;
  users: string;
}

const EMPTY: Form = { id: '', name: '', description: '', location: '', classification: 'internal', owner: '', groups: '', users: '' };

function formOf(d: Dataset): Form {
  return {
    id: d.id,
    name: d.name,
    description: d.description,
    location: d.location,
    classification: d.classification,
    owner: d.owner,
    groups: (d.readers?.groups ?? []).join(', '),
    users: (d.readers?.users ?? []).join(', '),
  };
}

function inputOf(f: Form): DatasetInput {
  return {
    name: f.name.trim(),
    description: f.description,
    location: f.location.trim(),
    classification: f.classification,
    owner: f.owner.trim(),
    readers: { groups: parseNames(f.groups), users: parseNames(f.users) },
  };
}

/** Admins: the dataset registry (register, edit readers, delete) and each dataset's access report. */
export function AdminDatasets() {
  const { api } = useApp();
  const { t, locale } = useI18n();
  const [datasets, setDatasets] = useState<Dataset[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const [form, setForm] = useState<Form>(EMPTY);
  const [editing, setEditing] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const [access, setAccess] = useState<{ dataset: Dataset; report: DataAccess } | null>(null);
  const [month, setMonth] = useState(currentMonth());
  const [exportError, setExportError] = useState<unknown>(null);

  useEffect(() => {
    let live = true;
    setError(null);
    api
      .all((token) => api.datasets(token))
      .then((d) => live && setDatasets(d))
      .catch((e) => live && setError(e));
    return () => {
      live = false;
    };
  }, [api, attempt]);

  const set = (field: keyof Form) => (e: React.ChangeEvent<HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement>) =>
    setForm({ ...form, [field]: e.target.value });

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    setSaving(true);
    setSaveError(null);
    try {
      const saved = editing ? await api.updateDataset(editing, inputOf(form)) : await api.createDataset({ ...inputOf(form), id: form.id.trim() });
      setFlash(t('datasetSaved', { name: saved.name }));
      setForm(EMPTY);
      setEditing(null);
      setAttempt((n) => n + 1);
    } catch (err) {
      setSaveError(err);
    } finally {
      setSaving(false);
    }
  };

  const remove = async (d: Dataset) => {
    setSaveError(null);
    try {
      await api.deleteDataset(d.id);
      setFlash(t('datasetDeleted', { name: d.name }));
      setAttempt((n) => n + 1);
    } catch (err) {
      setSaveError(err);
    }
  };

  const showAccess = async (d: Dataset) => {
    setSaveError(null);
    try {
      setAccess({ dataset: d, report: await api.datasetAccess(d.id) });
    } catch (err) {
      setSaveError(err);
    }
  };

  const exportMonth = async () => {
    setExportError(null);
    try {
      const file = await api.exportDataAccess(month);
      saveFile(file.filename, file.text);
    } catch (err) {
      setExportError(err);
    }
  };

  return (
    <section>
      <h1>{t('datasetsTitle')}</h1>
      <AdminTabs current="adminDatasets" />
      <p className="muted">{t('datasetsIntro')}</p>
      {flash && (
        <p role="status" className="flash">
          {flash}
        </p>
      )}
      {error !== null && <ErrorMessage error={error} onRetry={() => setAttempt((n) => n + 1)} />}
      {datasets === null && error === null && <Loading />}
      {datasets !== null && (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">{t('datasetName')}</th>
                <th scope="col">{t('datasetLocation')}</th>
                <th scope="col">{t('datasetClassification')}</th>
                <th scope="col">{t('datasetGroups')}</th>
                <th scope="col">{t('datasetUsers')}</th>
                <th scope="col">
                  <span className="sr-only">{t('datasetSave')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {datasets.map((d) => (
                <tr key={d.id}>
                  <td>
                    {d.name} <span className="muted">({d.id})</span>
                  </td>
                  <td>{d.location}</td>
                  <td>{t(`classification_${d.classification}`)}</td>
                  <td>{(d.readers?.groups ?? []).join(', ')}</td>
                  <td>{(d.readers?.users ?? []).join(', ')}</td>
                  <td>
                    <button type="button" className="link" onClick={() => void showAccess(d)}>
                      {t('datasetAccessView', { name: d.name })}
                    </button>{' '}
                    <button
                      type="button"
                      className="link"
                      onClick={() => {
                        setEditing(d.id);
                        setForm(formOf(d));
                      }}
                    >
                      {t('datasetEdit', { name: d.name })}
                    </button>{' '}
                    <button type="button" className="link" onClick={() => void remove(d)}>
                      {t('datasetDelete', { name: d.name })}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {saveError !== null && <ErrorMessage error={saveError} />}
      {access && (
        <div className="panel" data-testid="dataset-access">
          <h2>{t('datasetAccessView', { name: access.dataset.name })}</h2>
          {access.report.intervals.length === 0 ? (
            <p>{t('accessNone')}</p>
          ) : (
            <table>
              <caption className="sr-only">{t('accessTitle')}</caption>
              <thead>
                <tr>
                  <th scope="col">{t('colUser')}</th>
                  <th scope="col">{t('colWorkspace')}</th>
                  <th scope="col">{t('colFrom')}</th>
                  <th scope="col">{t('colMounted')}</th>
                  <th scope="col">{t('colUntil')}</th>
                </tr>
              </thead>
              <tbody>
                {access.report.intervals.map((i) => (
                  <tr key={`${i.workspaceId}-${i.from}`}>
                    <td>{i.user}</td>
                    <td>{i.workspaceId}</td>
                    <td>{formatDateTime(i.from, locale)}</td>
                    <td>{i.mountedAt ? formatDateTime(i.mountedAt, locale) : t('notMounted')}</td>
                    <td>{i.until ? formatDateTime(i.until, locale) : t('stillAttached')}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
      <form
        className="panel"
        onSubmit={(e) => {
          e.preventDefault();
          void exportMonth();
        }}
      >
        <MonthPicker id="access-month" value={month} onChange={setMonth} />
        <button type="submit">{t('accessExport')}</button>
        {exportError !== null && <ErrorMessage error={exportError} />}
      </form>
      <form className="panel" onSubmit={save} aria-labelledby="dataset-form-title">
        <h2 id="dataset-form-title">{editing ? t('datasetEdit', { name: form.name }) : t('datasetRegister')}</h2>
        <label htmlFor="ds-id">{t('datasetId')}</label>
        <input id="ds-id" value={form.id} onChange={set('id')} required disabled={editing !== null} maxLength={64} />
        <label htmlFor="ds-name">{t('datasetName')}</label>
        <input id="ds-name" value={form.name} onChange={set('name')} required maxLength={128} />
        <label htmlFor="ds-description">{t('datasetDescription')}</label>
        <textarea id="ds-description" value={form.description} onChange={set('description')} maxLength={2000} />
        <label htmlFor="ds-location">{t('datasetLocation')}</label>
        <input id="ds-location" value={form.location} onChange={set('location')} required aria-describedby="ds-location-help" />
        <p id="ds-location-help" className="help">
          {t('datasetLocationHelp')}
        </p>
        <label htmlFor="ds-classification">{t('datasetClassification')}</label>
        <select id="ds-classification" value={form.classification} onChange={set('classification')}>
          {CLASSIFICATIONS.map((c) => (
            <option key={c} value={c}>
              {t(`classification_${c}`)}
            </option>
          ))}
        </select>
        <label htmlFor="ds-owner">{t('datasetOwner')}</label>
        <input id="ds-owner" value={form.owner} onChange={set('owner')} required maxLength={128} />
        <label htmlFor="ds-groups">{t('datasetGroups')}</label>
        <input id="ds-groups" value={form.groups} onChange={set('groups')} aria-describedby="ds-names-help" />
        <label htmlFor="ds-users">{t('datasetUsers')}</label>
        <input id="ds-users" value={form.users} onChange={set('users')} aria-describedby="ds-names-help" />
        <p id="ds-names-help" className="help">
          {t('datasetNamesHelp')}
        </p>
        <div className="dialog-buttons">
          {editing && (
            <button
              type="button"
              className="secondary"
              onClick={() => {
                setEditing(null);
                setForm(EMPTY);
              }}
            >
              {t('cancel')}
            </button>
          )}
          <button type="submit" disabled={saving}>
            {t('datasetSave')}
          </button>
        </div>
      </form>
    </section>
  );
}
