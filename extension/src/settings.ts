/** Reads the attenScope.* configuration, applies workspace trust and the pickers' view choices. */
import * as vscode from 'vscode';
import { CONFIG_SECTION } from './constants';
import {
  applyOverrides,
  pruneOverrides,
  resolveSettings,
  SETTING_KEYS,
  type Inspected,
  type Settings,
  type ViewOverrides,
} from './core/settings';
import { BUILTIN_NAMES, type KnownNames } from './core/protocol';

export interface SettingsChange {
  before: Settings;
  after: Settings;
}

export class SettingsService implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<SettingsChange>();
  private readonly disposables: vscode.Disposable[] = [this.emitter];
  private configured: Settings;
  private overrides: ViewOverrides = {};
  private names: KnownNames = BUILTIN_NAMES;
  private lastWarnings = '';

  /** Fires after the effective settings changed (configuration, trust or a view choice). */
  readonly onDidChange = this.emitter.event;

  constructor(private readonly log: vscode.LogOutputChannel) {
    this.configured = this.read();
    this.disposables.push(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (!e.affectsConfiguration(CONFIG_SECTION)) {
          return;
        }
        const before = this.effective;
        this.overrides = pruneOverrides(this.overrides, (key) =>
          e.affectsConfiguration(`${CONFIG_SECTION}.${key}`),
        );
        this.configured = this.read();
        this.emitter.fire({ before, after: this.effective });
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        const before = this.effective;
        this.configured = this.read();
        this.emitter.fire({ before, after: this.effective });
      }),
    );
  }

  /** Configuration plus the view choices made in this window. */
  get effective(): Settings {
    return applyOverrides(this.configured, this.overrides, this.names);
  }

  get trusted(): boolean {
    return vscode.workspace.isTrusted;
  }

  /** Changes the view for this window without writing the user's settings. */
  setView(view: ViewOverrides): void {
    const before = this.effective;
    this.overrides = { ...this.overrides, ...view };
    this.emitter.fire({ before, after: this.effective });
  }

  /** The refinements and aggregates the running server offers: values that name them are valid. */
  setKnownNames(names: KnownNames): void {
    if (JSON.stringify(names) === JSON.stringify(this.names)) {
      return;
    }
    const before = this.effective;
    this.names = names;
    this.configured = this.read();
    const after = this.effective;
    if (JSON.stringify(after) !== JSON.stringify(before)) {
      this.emitter.fire({ before, after });
    }
  }

  private read(): Settings {
    const config = vscode.workspace.getConfiguration(CONFIG_SECTION);
    const inspected: Inspected = {};
    for (const key of SETTING_KEYS) {
      const info = config.inspect(key);
      inspected[key] = info && {
        defaultValue: info.defaultValue,
        globalValue: info.globalValue,
        workspaceValue: info.workspaceValue,
        workspaceFolderValue: info.workspaceFolderValue,
      };
    }
    const { settings, warnings } = resolveSettings(inspected, vscode.workspace.isTrusted, this.names);
    const joined = warnings.join('\n');
    if (joined !== this.lastWarnings) {
      this.lastWarnings = joined;
      for (const w of warnings) {
        this.log.warn(w);
      }
    }
    return settings;
  }

  dispose(): void {
    vscode.Disposable.from(...this.disposables).dispose();
  }
}
