import { useEffect, useRef } from "react";

/**
 * Calls `load` now and then every `intervalMs` (never two at once) until the
 * component unmounts or `key` changes; each call gets an AbortSignal that is
 * aborted on cleanup. Errors are passed to `onError`, success clears them.
 */
export function usePoll<T>(
  key: string | null,
  intervalMs: number,
  load: (signal: AbortSignal) => Promise<T>,
  onData: (data: T) => void,
  onError: (err: unknown | null) => void,
): void {
  const callbacks = useRef({ load, onData, onError });
  callbacks.current = { load, onData, onError };

  useEffect(() => {
    if (key === null) return undefined;
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;

    const tick = async (): Promise<void> => {
      try {
        const data = await callbacks.current.load(controller.signal);
        if (controller.signal.aborted) return;
        callbacks.current.onData(data);
        callbacks.current.onError(null);
      } catch (err) {
        if (controller.signal.aborted) return;
        callbacks.current.onError(err);
      }
      timer = setTimeout(() => void tick(), intervalMs);
    };

    void tick();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [key, intervalMs]);
}
