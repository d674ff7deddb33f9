import { describe, expect, it } from 'vitest';
import { cancelledNotice, elapsedText, isConversion, LoadWatch, LONG_LOAD_MS, loadMessage } from '../../src/core/modelLoad';

const GEMMA = 'embedded:gemma3-270m';
const SMOLLM = 'embedded:smollm2-135m';
// as the server words it (engine/model.py)
const CONVERTING =
  'Converting Gemma 3 270M (Q4_K_M) for first use: de-quantising its GGUF weights, once per machine, usually one to three minutes on a laptop CPU; later starts load the converted copy in seconds';

const loading = (message: string, model = GEMMA) => ({ state: 'loadingModel' as const, message, model });

describe('LoadWatch', () => {
  it('opens the notification at once for a first-use conversion, with the time so far', () => {
    const watch = new LoadWatch();
    expect(watch.status(loading(`Loading ${GEMMA}`), 0)).toEqual([{ kind: 'wait', ms: LONG_LOAD_MS }]);
    expect(watch.status(loading('Locating the embedded model Gemma 3 270M (Q4_K_M)'), 200)).toEqual([{ kind: 'wait', ms: LONG_LOAD_MS - 200 }]);
    const [open] = watch.status(loading(CONVERTING), 1_000);
    expect(open).toEqual({ kind: 'open', title: 'Atten-Scope', message: `${CONVERTING} (1 s so far)` });
    expect(watch.tick(147_400)).toEqual([{ kind: 'update', message: `${CONVERTING} (2 min 27 s so far)` }]);
    expect(watch.loading).toEqual({ model: GEMMA, conversion: true });
  });

  it('shows a load that is not a conversion only once it has taken a while', () => {
    const watch = new LoadWatch();
    expect(watch.status(loading(`Loading ${SMOLLM} (converted on an earlier start; a few seconds)`, SMOLLM), 0)[0].kind).toBe('wait');
    expect(watch.tick(LONG_LOAD_MS - 1)[0].kind).toBe('wait');
    expect(watch.tick(LONG_LOAD_MS)[0].kind).toBe('open');

    const quick = new LoadWatch();
    quick.status(loading(`Loading ${SMOLLM}`, SMOLLM), 0);
    // loaded within the time: nothing was shown, so there is nothing to close
    expect(quick.status({ state: 'ready', message: `${SMOLLM}: 30 layers x 9 heads on cpu`, model: SMOLLM }, 3_000)).toEqual([]);
    expect(quick.tick(LONG_LOAD_MS)).toEqual([]);
  });

  it('closes the notification when the load ends, fails, is superseded or the server stops', () => {
    for (const end of [
      { state: 'ready' as const, message: 'Gemma ready', model: GEMMA },
      { state: 'error' as const, message: 'Could not load' },
    ]) {
      const watch = new LoadWatch();
      watch.status(loading(CONVERTING), 0);
      expect(watch.status(end, 5_000), end.state).toEqual([{ kind: 'close' }]);
      expect(watch.loading).toBeUndefined();
    }
    const superseded = new LoadWatch();
    superseded.status(loading(CONVERTING), 0);
    const actions = superseded.status(loading('Converting SmolLM2 135M Instruct (Q4_1) for first use', SMOLLM), 4_000);
    expect(actions.map((a) => a.kind)).toEqual(['close', 'open']);
    expect(actions[1]).toMatchObject({ message: expect.stringMatching(/\(0 s so far\)$/) as unknown });

    const stopped = new LoadWatch();
    stopped.status(loading(CONVERTING), 0);
    expect(stopped.stopped()).toEqual([{ kind: 'close' }]);
  });

  it('keeps the notification closed for the rest of a load the user cancelled', () => {
    const watch = new LoadWatch();
    watch.status(loading(CONVERTING), 0);
    watch.dismiss();
    expect(watch.tick(10_000)).toEqual([]);
    expect(watch.status(loading(CONVERTING), 11_000)).toEqual([]);
    // the server's "stopped" status ends it; the next load is shown again
    expect(watch.status({ state: 'ready', message: `Stopped loading ${GEMMA}` }, 12_000)).toEqual([]);
    expect(watch.status(loading(CONVERTING), 60_000)[0]).toMatchObject({ kind: 'open' });
  });

  it('remembers the last model the server reported ready, not a stopped one', () => {
    const watch = new LoadWatch();
    watch.status({ state: 'ready', message: 'Ready', model: SMOLLM }, 0);
    watch.status(loading(CONVERTING), 1_000);
    watch.status({ state: 'ready', message: `Stopped loading ${GEMMA}: it loads again when a request needs it` }, 2_000);
    expect(watch.previous).toBe(SMOLLM);
  });
});

describe('the notification text', () => {
  it('tells a conversion from other steps', () => {
    expect(isConversion(CONVERTING)).toBe(true);
    expect(isConversion('Loading Gemma 3 270M (Q4_K_M) (converted on an earlier start; a few seconds)')).toBe(false);
    expect(isConversion('Downloading Qwen/Qwen2.5-Coder-0.5B from the Hugging Face Hub (huggingface.co)')).toBe(false);
  });

  it('writes the time so far in seconds, then minutes and seconds', () => {
    expect(elapsedText(0)).toBe('0 s');
    expect(elapsedText(59_999)).toBe('59 s');
    expect(elapsedText(60_000)).toBe('1 min 0 s');
    expect(elapsedText(147_000)).toBe('2 min 27 s');
    expect(loadMessage('Loading X.', 3_000)).toBe('Loading X (3 s so far)');
  });

  it('says after Cancel what stopped, and offers the model that worked before', () => {
    const conversion = cancelledNotice({ model: GEMMA, conversion: true }, GEMMA, SMOLLM);
    expect(conversion.message).toMatch(/stopped converting embedded:gemma3-270m; the partial conversion was discarded/);
    expect(conversion.message).toMatch(/starts over the next time/);
    expect(conversion.useModel).toBe(SMOLLM);

    const load = cancelledNotice({ model: GEMMA, conversion: false }, GEMMA, undefined);
    expect(load.message).toMatch(/stopped loading embedded:gemma3-270m\. It loads again/);
    expect(load.useModel).toBeUndefined();
    expect(cancelledNotice({ model: GEMMA, conversion: true }, GEMMA, GEMMA).useModel).toBeUndefined();

    const late = cancelledNotice({ model: GEMMA, conversion: true }, null, SMOLLM);
    expect(late.message).toMatch(/had already ended/);
    expect(late.useModel).toBeUndefined();
  });
});
