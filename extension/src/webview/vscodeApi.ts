/** The webview side of postMessage. */

interface VsCodeApi {
  postMessage(message: unknown): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

let api: VsCodeApi | undefined;

/** The host API, or a stub that logs when the page runs outside VS Code (benchmarks, tests). */
export function host(): VsCodeApi {
  if (!api) {
    api =
      typeof acquireVsCodeApi === 'function'
        ? acquireVsCodeApi()
        : {
            postMessage: (m: unknown) => console.log('postMessage', m),
            getState: () => undefined,
            setState: () => undefined,
          };
  }
  return api;
}

export function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) {
    throw new Error(`Missing element #${id}`);
  }
  return el as T;
}
