/** Quick picks: direction, refinement and aggregation, layers and heads, the status menu. */
import * as vscode from 'vscode';
import { Commands, CONFIG_SECTION } from './constants';
import { compactList, parseIndexList, viewLabel } from './core/format';
import type { Catalog } from './core/catalog';
import { viewEntries, type ViewEntry } from './core/choices';
import { checkModelInput, modelChoices, rememberModel, type ModelChoice } from './core/models';
import { DEVICES, type Device, type IndexSelection, type ModelInfo } from './core/protocol';
import type { SettingsService } from './settings';
import { TINT_UNITS, type TintUnit } from './core/units';

export async function toggleDirection(settings: SettingsService): Promise<void> {
  const next = settings.effective.direction === 'attendsTo' ? 'attendedBy' : 'attendsTo';
  settings.setView({ direction: next });
  vscode.window.setStatusBarMessage(
    next === 'attendsTo' ? 'Atten-Scope: showing what the token attends to' : 'Atten-Scope: showing which tokens attend to it',
    3000,
  );
  return Promise.resolve();
}

export async function toggleHeatMode(settings: SettingsService): Promise<void> {
  const next = settings.effective.heatMode === 'attention' ? 'surprise' : 'attention';
  settings.setView({ heatMode: next });
  vscode.window.setStatusBarMessage(
    next === 'surprise'
      ? 'Atten-Scope: tints show how much each token surprised the model'
      : 'Atten-Scope: tints show what the cursor token attends to',
    3000,
  );
  return Promise.resolve();
}

const TINT_UNIT_CHOICES: Readonly<Record<TintUnit, { label: string; detail: string }>> = {
  token: { label: 'Tokens', detail: 'Each of the top tokens, by its own weight.' },
  identifier: { label: 'Identifiers', detail: 'Every occurrence of the top names, by the weight of all their tokens.' },
  definition: { label: 'Definitions', detail: "The lines of the top functions, classes and methods (the editor's symbols, else the server's parse; blocks of lines without either)." },
};

/** What the tints stand for, for this window (attenScope.tintUnit is the lasting choice). */
export async function chooseTintUnit(settings: SettingsService): Promise<void> {
  const current = settings.effective.tintUnit;
  const items = TINT_UNITS.map((unit) => ({
    label: `${unit === current ? '$(check) ' : ''}${TINT_UNIT_CHOICES[unit].label}`,
    detail: TINT_UNIT_CHOICES[unit].detail,
    unit,
  }));
  const choice = await vscode.window.showQuickPick(items, { title: 'Atten-Scope: tint by', placeHolder: 'What the tints in the editor stand for' });
  if (choice) {
    settings.setView({ tintUnit: choice.unit });
  }
}

/** Refinements and aggregates as the running server lists them (the built-in lists before it starts). */
export async function chooseRefinement(settings: SettingsService, catalog: Catalog): Promise<void> {
  type Item = vscode.QuickPickItem & { entry?: ViewEntry };
  const s = settings.effective;
  const items: Item[] = viewEntries(catalog, s).map((entry) =>
    entry.kind === 'separator'
      ? { label: entry.label, kind: vscode.QuickPickItemKind.Separator }
      : { label: `${entry.current ? '$(check) ' : ''}${entry.label}`, description: entry.description, detail: entry.detail, entry },
  );
  const choice = (await vscode.window.showQuickPick(items, {
    title: `Atten-Scope: view (${viewLabel(s)})`,
    placeHolder: 'Choose how attention is refined or combined',
    matchOnDescription: true,
    matchOnDetail: true,
  }))?.entry;
  if (choice?.kind === 'refinement') {
    settings.setView({ refinement: choice.refinement });
  } else if (choice?.kind === 'aggregate') {
    settings.setView({ aggregate: choice.aggregate });
  }
}

const RECENT_MODELS_KEY = 'attenScope.recentModels';

/**
 * Choose Model: an embedded model, a recent one, or a typed Hugging Face id / local path; then the
 * device. Written to the user settings (the model is a machine-level choice, and an untrusted
 * workspace's own value is ignored anyway); the server reloads in place and the analysed
 * documents are analysed again when shown.
 */
export async function chooseModel(settings: SettingsService, catalog: Catalog, memento: vscode.Memento): Promise<void> {
  type Item = vscode.QuickPickItem & { choice?: ModelChoice };
  const current = settings.effective;
  const recent = memento.get<string[]>(RECENT_MODELS_KEY, []);
  const items: Item[] = modelChoices(catalog.models, recent, current.model).map((choice) =>
    choice.kind === 'separator'
      ? { label: choice.label, kind: vscode.QuickPickItemKind.Separator }
      : {
          label: `${choice.kind === 'model' && choice.current ? '$(check) ' : ''}${choice.label}`,
          description: choice.description,
          detail: choice.kind === 'model' ? choice.detail : undefined,
          choice,
        },
  );
  const picked = (await vscode.window.showQuickPick(items, {
    title: `Atten-Scope: model (now ${current.model} on ${current.device})`,
    placeHolder: 'Choose the model whose attention is shown',
    matchOnDescription: true,
  }))?.choice;
  if (!picked || picked.kind === 'separator') {
    return;
  }
  let model = picked.kind === 'model' ? picked.id : undefined;
  if (picked.kind === 'enter') {
    const typed = await vscode.window.showInputBox({
      title: 'Atten-Scope: model id or path',
      prompt: 'A Hugging Face model id such as "Qwen/Qwen2.5-Coder-0.5B", or a local directory or .gguf file',
      value: current.model.startsWith('embedded:') ? '' : current.model,
      validateInput: checkModelInput,
    });
    model = typed?.trim();
  }
  if (!model) {
    return;
  }
  const devices: (vscode.QuickPickItem & { device: Device })[] = DEVICES.map((device) => ({
    label: `${device === current.device ? '$(check) ' : ''}${device}`,
    description: device === 'auto' ? 'CUDA, then Apple MPS, then the CPU' : '',
    device,
  }));
  const device = (await vscode.window.showQuickPick(devices, { title: `Atten-Scope: device for ${model}` }))?.device;
  if (!device) {
    return;
  }
  await memento.update(RECENT_MODELS_KEY, rememberModel(recent, model));
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION);
  await config.update('device', device, vscode.ConfigurationTarget.Global);
  await config.update('model', model, vscode.ConfigurationTarget.Global);
}

type IndexItem = vscode.QuickPickItem & { index: number };

/** One step: pick indices from a list (empty = all), or type a list when the count is unknown. */
async function pickIndices(
  noun: string,
  count: number | undefined,
  current: IndexSelection,
  step: number,
  totalSteps: number,
): Promise<IndexSelection | 'back' | undefined> {
  if (!count || count <= 0 || count > 512) {
    const text = await vscode.window.showInputBox({
      title: `Atten-Scope: ${noun}s (${step}/${totalSteps})`,
      prompt: `0-based ${noun} indices such as "0-3, 7", or "all"`,
      value: current === 'all' ? 'all' : compactList(current),
      validateInput: (v) => (parseIndexList(v) ? undefined : 'Use numbers and ranges like "0-3, 7", or "all".'),
    });
    return text === undefined ? undefined : parseIndexList(text);
  }
  return new Promise((resolve) => {
    const qp = vscode.window.createQuickPick<IndexItem>();
    qp.title = `Atten-Scope: ${noun}s (${step}/${totalSteps})`;
    qp.placeholder = `Select ${noun}s; none selected means all ${count}`;
    qp.canSelectMany = true;
    qp.step = step;
    qp.totalSteps = totalSteps;
    qp.buttons = step > 1 ? [vscode.QuickInputButtons.Back] : [];
    qp.items = Array.from({ length: count }, (_, i) => ({ label: `${noun} ${i}`, index: i }));
    qp.selectedItems = current === 'all' ? [] : qp.items.filter((it) => current.includes(it.index));
    let settled = false;
    const finish = (value: IndexSelection | 'back' | undefined) => {
      if (!settled) {
        settled = true;
        resolve(value);
        qp.dispose();
      }
    };
    qp.onDidTriggerButton((b) => {
      if (b === vscode.QuickInputButtons.Back) {
        finish('back');
      }
    });
    qp.onDidAccept(() => {
      const chosen = qp.selectedItems.map((it) => it.index);
      finish(chosen.length === 0 || chosen.length === count ? 'all' : chosen);
    });
    qp.onDidHide(() => finish(undefined));
    qp.show();
  });
}

export async function chooseLayersHeads(settings: SettingsService, model: ModelInfo | undefined): Promise<void> {
  const s = settings.effective;
  let layers: IndexSelection = s.layers;
  let step = 1;
  for (;;) {
    if (step === 1) {
      const picked = await pickIndices('layer', model?.layers, layers, 1, 2);
      if (picked === undefined || picked === 'back') {
        return;
      }
      layers = picked;
      step = 2;
    } else {
      const picked = await pickIndices('head', model?.heads, s.heads, 2, 2);
      if (picked === undefined) {
        return;
      }
      if (picked === 'back') {
        step = 1;
        continue;
      }
      settings.setView({ layers, heads: picked });
      return;
    }
  }
}

export async function statusMenu(): Promise<void> {
  const items: (vscode.QuickPickItem & { command: string })[] = [
    { label: '$(eye) Analyze File', command: Commands.analyzeFile },
    { label: '$(references) Analyze With Context Files...', command: Commands.analyzeWithContext },
    { label: '$(graph) Show Heatmap', command: Commands.showHeatmap },
    { label: '$(layers) Show Model View', command: Commands.showModelView },
    { label: '$(type-hierarchy) Show Information Flow', command: Commands.showFlow },
    { label: '$(layers-active) Show Accumulative Attention (ALTI rollout)', command: Commands.showAccumulative },
    { label: '$(arrow-swap) Toggle Direction', command: Commands.toggleDirection },
    { label: '$(flame) Toggle Heat Mode (Attention / Surprise)', command: Commands.toggleHeatMode },
    { label: '$(symbol-class) Choose Tint Unit', command: Commands.chooseTintUnit },
    { label: '$(settings) Choose Refinement', command: Commands.chooseRefinement },
    { label: '$(hubot) Choose Model', command: Commands.chooseModel },
    { label: '$(list-filter) Choose Layers/Heads', command: Commands.chooseLayersHeads },
    { label: '$(diff) Compare With...', command: Commands.compareWith },
    { label: '$(clear-all) Clear', command: Commands.clear },
    { label: '$(debug-restart) Restart Server', command: Commands.restartServer },
    { label: '$(output) Show Logs', command: Commands.showLogs },
  ];
  const choice = await vscode.window.showQuickPick(items, { title: 'Atten-Scope' });
  if (choice) {
    await vscode.commands.executeCommand(choice.command);
  }
}
