import { useCallback, useEffect, useRef, useState } from 'react';

export const FAST_POLL_MS = 2000;
export const SLOW_POLL_MS = 15000;

/**
 * Loads `load()` now and again after `interval(data)` ms (or the slow interval after an
 * error). `reload()` fetches at once. Never leaves the caller without a state.
 */
export function usePolling<T>(load: () => Promise<T>, interval: (data: T) => number, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const intervalRef = useRef(interval);
  intervalRef.current = interval;

  const tick = useCallback(async () => {
    const mine = ++generation.current;
    if (timer.current) clearTimeout(timer.current);
    let next = SLOW_POLL_MS;
    try {
      const value = await loadRef.current();
      if (mine !== generation.current) return;
      setData(value);
      setError(null);
      next = intervalRef.current(value);
    } catch (e) {
      if (mine !== generation.current) return;
      setError(e);
    } finally {
      if (mine === generation.current) {
        setLoading(false);
        timer.current = setTimeout(() => void tick(), next);
      }
    }
  }, []);

  useEffect(() => {
    setLoading(true);
    setData(null);
    void tick();
    return () => {
      generation.current++;
      if (timer.current) clearTimeout(timer.current);
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  return { data, error, loading, reload: tick, setData };
}

/** Loads `load()` once per change of `deps`; `reload()` loads again. Stale answers are dropped. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    setError(null);
    try {
      const value = await loadRef.current();
      if (mine === generation.current) setData(value);
    } catch (e) {
      if (mine === generation.current) setError(e);
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  }, []);

  useEffect(() => {
    setData(null);
    void reload();
    return () => {
      generation.current++;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  return { data, error, loading, reload, setData };
}
