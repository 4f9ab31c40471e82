import { useApp } from '../app-context';
import { AdminTabs } from '../components/AdminTabs';
import { ErrorMessage, Loading } from '../components/common';
import { ScheduleEditor } from '../components/ScheduleEditor';
import { describeSchedule } from '../format';
import { useI18n } from '../i18n';
import { useLoad } from '../poll';

/** Admin: the organisation's default schedule (new workspaces with the office-hours preset get it). */
export function DefaultSchedule() {
  const { api } = useApp();
  const i18n = useI18n();
  const { t } = i18n;
  const { data, error, loading, reload, setData } = useLoad(() => api.defaultSchedule(), [api]);
  return (
    <section>
      <h1>{t('defaultScheduleTitle')}</h1>
      <AdminTabs current="adminSchedule" />
      <p>{t('defaultScheduleIntro')}</p>
      {error !== null && <ErrorMessage error={error} onRetry={() => void reload()} />}
      {loading && data === null && <Loading />}
      {data !== null && (
        <div className="grid2">
          <div className="panel">
            <h2>{t('currentDefault')}</h2>
            <ul className="plain" data-testid="default-schedule-summary">
              {describeSchedule(data, i18n).map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
          </div>
          <div className="panel">
            <h2>{t('scheduleEditorTitle')}</h2>
            <ScheduleEditor
              idPrefix="default-schedule"
              initial={data}
              onSave={async (s) => setData(await api.setDefaultSchedule(s))}
            />
          </div>
        </div>
      )}
    </section>
  );
}
