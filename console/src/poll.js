import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api.js';

/**
 * GETs `path` now and every `everyMs` while the page shows it (live figures without reloads); a
 * request still under way is not overlapped by the next. Returns { data, error, reload }.
 */
export function usePoll(path, everyMs = 3000) {
  const [state, setState] = useState({ data: undefined, error: undefined });
  const busy = useRef(false);
  const alive = useRef(true);
  const load = useCallback(async () => {
    if (busy.current || path === undefined) return;
    busy.current = true;
    try {
      const data = await api(path);
      if (alive.current) setState({ data, error: undefined });
    } catch (error) {
      if (alive.current) setState((s) => ({ data: s.data, error }));
    } finally {
      busy.current = false;
    }
  }, [path]);
  useEffect(() => {
    alive.current = true;
    setState({ data: undefined, error: undefined });
    void load();
    const timer = everyMs > 0 ? setInterval(load, everyMs) : undefined;
    return () => {
      alive.current = false;
      if (timer) clearInterval(timer);
    };
  }, [load, everyMs]);
  return { ...state, reload: load };
}

/** A bounded series kept in the page (at most `capacity` points), fed with a new value each time `value` changes. */
export function useSeries(value, atMs, capacity = 120) {
  const series = useRef({ x: [], y: [] });
  const last = useRef(undefined);
  if (value !== undefined && atMs !== undefined && atMs !== last.current) {
    last.current = atMs;
    series.current.x.push(atMs / 1000);
    series.current.y.push(value);
    if (series.current.x.length > capacity) {
      series.current.x.shift();
      series.current.y.shift();
    }
  }
  return series.current;
}
