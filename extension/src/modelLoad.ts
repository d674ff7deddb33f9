/**
 * The model-loading notification: a first-use conversion, or any load that takes a while, with
 * the server's step, the time so far and a Cancel that stops the load on the server
 * (Requests.cancelLoad). Whatever starts a load (a new model setting, an analysis) shows it.
 */
import * as vscode from 'vscode';
import type { ServerClient } from './client';
import { CONFIG_SECTION } from './constants';
import { errorMessage } from './core/async';
import { cancelledNotice, LoadWatch, type LoadAction } from './core/modelLoad';
import { Requests } from './core/requests';

/** How often the time so far is brought up to date. */
const TICK_MS = 1000;

interface Shown {
  progress: vscode.Progress<{ message?: string }>;
  close: () => void;
}

export class ModelLoadNotice implements vscode.Disposable {
  private readonly watch = new LoadWatch();
  private shown: Shown | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(
    private readonly client: ServerClient,
    private readonly log: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      client.onStatus((status) => this.apply(this.watch.status(status, Date.now()))),
      client.onState((state) => {
        if (state === 'stopped' || state === 'failed') {
          this.apply(this.watch.stopped());
        }
      }),
    );
  }

  private apply(actions: LoadAction[]): void {
    for (const action of actions) {
      switch (action.kind) {
        case 'open':
          this.open(action.title, action.message);
          break;
        case 'update':
          this.shown?.progress.report({ message: action.message });
          this.schedule(TICK_MS);
          break;
        case 'close':
          this.hide();
          break;
        case 'wait':
          this.schedule(action.ms);
          break;
      }
    }
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.apply(this.watch.tick(Date.now())), ms);
  }

  private open(title: string, message: string): void {
    this.hide();
    const load = this.watch.loading;
    this.log.info(`Model load shown: ${message}`);
    void vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
      progress.report({ message });
      return new Promise<void>((resolve) => {
        const shown: Shown = { progress, close: resolve };
        this.shown = shown;
        token.onCancellationRequested(() => {
          if (this.shown === shown) {
            this.shown = undefined;
            clearTimeout(this.timer);
            this.watch.dismiss();
          }
          resolve();
          if (load) {
            void this.cancel(load);
          }
        });
      });
    });
    this.schedule(TICK_MS);
  }

  private hide(): void {
    clearTimeout(this.timer);
    this.shown?.close();
    this.shown = undefined;
  }

  /** Asks the server to stop the load, then says what happened and offers the model that worked before. */
  private async cancel(load: { model: string; conversion: boolean }): Promise<void> {
    if (!this.client.isRunning) {
      return; // the server went, and its load with it
    }
    const previous = this.watch.previous;
    let stopped: string | null;
    try {
      stopped = (await this.client.request(Requests.cancelLoad, {})).stopped;
    } catch (error) {
      this.log.warn(`Could not stop loading ${load.model}: ${errorMessage(error)}`);
      void vscode.window.showWarningMessage(`Atten-Scope could not stop loading ${load.model} (${errorMessage(error)}); the load goes on in the background.`);
      return;
    }
    this.log.info(stopped ? `Stopped loading ${stopped} at the user's request.` : `Cancel came after the load of ${load.model} had ended.`);
    const notice = cancelledNotice(load, stopped, previous);
    const use = notice.useModel ? `Use ${notice.useModel}` : undefined;
    const choice = await vscode.window.showInformationMessage(notice.message, ...(use ? [use] : []));
    if (use && choice === use && notice.useModel) {
      await useModel(notice.useModel);
    }
  }

  dispose(): void {
    this.hide();
    vscode.Disposable.from(...this.disposables).dispose();
  }
}

/** Sets attenScope.model where its value comes from: the workspace's settings when they set it (and count), else the user's. */
async function useModel(model: string): Promise<void> {
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION);
  const inWorkspace = vscode.workspace.isTrusted && config.inspect('model')?.workspaceValue !== undefined;
  await config.update('model', model, inWorkspace ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global);
}
