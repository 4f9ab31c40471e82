import { useState } from 'react';
import type { Action, Workspace } from '../api';
import { useApp } from '../app-context';
import { useI18n, type Key } from '../i18n';
import { Dialog, ErrorMessage } from './common';

const LABEL: Record<Action, Key> = {
  start: 'actionStart',
  stop: 'actionStop',
  hibernate: 'actionHibernate',
  terminate: 'actionTerminate',
};

/** One button per allowed action; terminate asks to type the workspace name. */
export function WorkspaceActions({
  workspace,
  onChanged,
}: {
  workspace: Workspace;
  onChanged: (w: Workspace) => void;
}) {
  const { api } = useApp();
  const { t } = useI18n();
  const [busy, setBusy] = useState<Action | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [confirming, setConfirming] = useState(false);

  const run = async (action: Action) => {
    setBusy(action);
    setError(null);
    try {
      onChanged(await api.act(workspace.id, action));
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="actions">
      {workspace.allowedActions.map((action) => (
        <button
          key={action}
          type="button"
          className={action === 'terminate' ? 'danger' : 'secondary'}
          disabled={busy !== null}
          aria-label={t('actionFor', { action: t(LABEL[action]), name: workspace.name })}
          onClick={() => (action === 'terminate' ? setConfirming(true) : void run(action))}
        >
          {t(LABEL[action])}
        </button>
      ))}
      {error !== null && !confirming && <ErrorMessage error={error} />}
      {confirming && (
        <TerminateDialog
          name={workspace.name}
          busy={busy === 'terminate'}
          error={error}
          onCancel={() => {
            setConfirming(false);
            setError(null);
          }}
          onConfirm={async () => {
            if (await run('terminate')) setConfirming(false);
          }}
        />
      )}
    </div>
  );
}

export function TerminateDialog({
  name,
  busy,
  error,
  onCancel,
  onConfirm,
}: {
  name: string;
  busy: boolean;
  error: unknown;
  onCancel: () => void;
  onConfirm: () => void;
}) {
  const { t } = useI18n();
  const [typed, setTyped] = useState('');
  const matches = typed === name;
  return (
    <Dialog title={t('terminateTitle', { name })} onClose={onCancel}>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (matches && !busy) onConfirm();
        }}
      >
        <p>{t('terminateWarning')}</p>
        <label htmlFor="terminate-confirm">{t('terminateConfirmLabel')}</label>
        <input
          id="terminate-confirm"
          autoComplete="off"
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
          placeholder={name}
        />
        {error !== null && <ErrorMessage error={error} />}
        <div className="dialog-buttons">
          <button type="button" className="secondary" onClick={onCancel}>
            {t('cancel')}
          </button>
          <button type="submit" className="danger" disabled={!matches || busy}>
            {t('terminateConfirm')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
