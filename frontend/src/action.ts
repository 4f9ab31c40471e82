import { useState } from 'react';

/**
 * What a form's buttons share: `busy` while an action runs, the `error` it threw (shown with
 * ErrorMessage), and `saved` once an action that saves has succeeded. `run` clears the last
 * error and confirmation first. Pass `saves = false` for actions that only look (a preview).
 */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const run = async (f: () => Promise<void>, saves = true) => {
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await f();
      if (saves) setSaved(true);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, saved, setSaved, run };
}
