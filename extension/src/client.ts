/** The language client: starts the Python server, keeps it configured, restarts it on crashes. */
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import {
  CloseAction,
  DidChangeConfigurationNotification,
  ErrorAction,
  LanguageClient,
  RevealOutputChannelOn,
  State,
  TransportKind,
  WorkDoneProgress,
  type CloseHandlerResult,
  type ErrorHandler,
  type ErrorHandlerResult,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { PVSC_EXTENSION_ID } from '@vscode/python-extension';
import { Commands, CONFIG_SECTION, HOVER_COMMANDS, SAVED_SCHEME, SERVER_MODULE } from './constants';
import { errorMessage } from './core/async';
import { progressForwarder, type ProgressStep } from './core/progress';
import { BUILTIN_CATALOG, catalogFrom, knownNames, limitsSkew, readCapabilities, type Catalog } from './core/catalog';
import { MIN_PYTHON, settingsEditorCommand } from './core/interpreter';
import { needsUpdate, useManaged } from './core/setup';
import type { StatusParams } from './core/protocol';
import type { ClientState } from './core/serverDisplay';
import { Notifications, sendRequest, type SendOptions, type ServerRequest } from './core/requests';
import type { NotificationType } from 'vscode-jsonrpc';
import { needsRestart, serverSettings, type Settings } from './core/settings';
import { checkInterpreter, onPythonInterpreterChanged, resolveInterpreter, type CheckResult, type Interpreter } from './python';
import type { SetupService } from './setup';
import type { SettingsService } from './settings';

export type { ClientState } from './core/serverDisplay';

/** Thrown by `ensureStarted` when the server cannot start; the user was already told why. */
export class ServerUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerUnavailableError';
  }
}

/**
 * The language client, quiet about a server that exits cleanly: the library logs every exit of the
 * server process as an error, status 0 included, and while a stop is under way it reports the
 * closed connection as an error too.
 */
class AttenScopeLanguageClient extends LanguageClient {
  stopping = false;

  override error(message: string, data?: unknown, showNotification: boolean | 'force' = true): void {
    if (message === 'Server process exited with code 0.') {
      this.info('The server exited cleanly.', undefined, false);
      return;
    }
    if (this.stopping && message.startsWith('Connection to server got closed')) {
      this.info('The server stopped.', undefined, false);
      return;
    }
    super.error(message, data, showNotification);
  }
}

const RESTART_WINDOW_MS = 3 * 60_000;
const MAX_RESTARTS = 4;

class RestartingErrorHandler implements ErrorHandler {
  private restarts: number[] = [];

  constructor(
    private readonly log: vscode.LogOutputChannel,
    /** false while the first start is under way or the client is being stopped */
    private readonly mayRestart: () => boolean,
    private readonly onGiveUp: () => void,
  ) {}

  error(error: Error, _message: unknown, count: number | undefined): ErrorHandlerResult {
    this.log.error(`Connection error: ${error.message}`);
    return { action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown, handled: true };
  }

  closed(): CloseHandlerResult {
    if (!this.mayRestart()) {
      return { action: CloseAction.DoNotRestart, handled: true };
    }
    const now = Date.now();
    this.restarts = this.restarts.filter((t) => now - t < RESTART_WINDOW_MS);
    if (this.restarts.length < MAX_RESTARTS) {
      this.restarts.push(now);
      this.log.warn(`The Atten-Scope server stopped; restarting (${this.restarts.length}/${MAX_RESTARTS}).`);
      return { action: CloseAction.Restart, handled: true };
    }
    this.onGiveUp();
    return { action: CloseAction.DoNotRestart, handled: true };
  }
}

export class ServerClient implements vscode.Disposable {
  private client: AttenScopeLanguageClient | undefined;
  private starting: Promise<LanguageClient> | undefined;
  private interpreter: Interpreter | undefined;
  private stateValue: ClientState = 'stopped';
  private lastSent = '';
  private catalogValue: Catalog = BUILTIN_CATALOG;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly clientDisposables: vscode.Disposable[] = [];
  private readonly statusEmitter = new vscode.EventEmitter<StatusParams>();
  private readonly stateEmitter = new vscode.EventEmitter<ClientState>();
  private readonly restartEmitter = new vscode.EventEmitter<void>();

  /** the server's status notifications */
  readonly onStatus = this.statusEmitter.event;
  /** client state changes */
  readonly onState = this.stateEmitter.event;
  /** the server process was (re)started: analyses held by the old one are gone */
  readonly onDidStartServer = this.restartEmitter.event;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly log: vscode.LogOutputChannel,
    private readonly settings: SettingsService,
    private readonly setup: SetupService,
  ) {
    this.disposables.push(this.statusEmitter, this.stateEmitter, this.restartEmitter);
    this.disposables.push(settings.onDidChange(({ before, after }) => void this.onSettingsChanged(before, after)));
    void onPythonInterpreterChanged(() => {
      if (this.interpreter?.source === 'pythonExtension' && this.stateValue !== 'stopped') {
        this.log.info('The Python interpreter changed; restarting the server.');
        void this.restart();
      }
    }, log).then((d) => d && this.disposables.push(d));
  }

  get state(): ClientState {
    return this.stateValue;
  }

  /** Where the interpreter of the last start came from. */
  get interpreterSource(): Interpreter['source'] | undefined {
    return this.interpreter?.source;
  }

  get interpreterCommand(): string {
    return this.interpreter?.command.join(' ') ?? '';
  }

  get isRunning(): boolean {
    return this.stateValue === 'running' && this.client !== undefined;
  }

  private setState(state: ClientState): void {
    if (state !== this.stateValue) {
      this.stateValue = state;
      this.stateEmitter.fire(state);
    }
  }

  /** Starts the server unless it runs; throws ServerUnavailableError when it cannot start. */
  ensureStarted(): Promise<LanguageClient> {
    if (this.client && this.stateValue === 'running') {
      return Promise.resolve(this.client);
    }
    this.starting ??= this.start().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /**
   * Every request goes through here: starts the server first when needed, then sends with the
   * method's time limit and the caller's cancellation (core/requests.ts).
   */
  async request<P, R>(request: ServerRequest<P, R>, params: P, token?: vscode.CancellationToken, options?: Omit<SendOptions, 'token'>): Promise<R> {
    const client = await this.ensureStarted();
    return sendRequest(client, request, params, { ...options, token });
  }

  /**
   * As `request`, for a request that reports work-done progress: a fresh `workDoneToken` is sent
   * with it and the server's progress on it goes to `report` until the answer comes.
   */
  async requestWithProgress<P extends { workDoneToken?: string | number }, R>(
    request: ServerRequest<P, R>,
    params: P,
    report: (step: ProgressStep) => void,
    token?: vscode.CancellationToken,
  ): Promise<R> {
    const client = await this.ensureStarted();
    const workDoneToken = randomUUID();
    const listening = client.onProgress(WorkDoneProgress.type, workDoneToken, progressForwarder(report));
    try {
      return await sendRequest(client, request, { ...params, workDoneToken }, { token });
    } finally {
      listening.dispose();
    }
  }

  /** Sends a notification to the running server; none to a stopped one (it holds no analyses). */
  async notify<P>(type: NotificationType<P>, params: P): Promise<void> {
    if (this.client && this.stateValue === 'running') {
      await this.client.sendNotification(type, params);
    }
  }

  /**
   * The refinements, aggregates and views the running server offers (the last one that started),
   * or the built-in lists before any did or when it does not say.
   */
  get catalog(): Catalog {
    return this.catalogValue;
  }

  private async start(): Promise<LanguageClient> {
    this.setState('starting');
    const settings = this.settings.effective;
    let interpreter = await resolveInterpreter(settings, this.settings.trusted, this.log);
    const cwd = this.context.globalStorageUri.fsPath;
    try {
      await vscode.workspace.fs.createDirectory(this.context.globalStorageUri);
    } catch {
      // the folder exists
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PYTHONUNBUFFERED: '1',
      PYTHONIOENCODING: 'utf-8',
      // never import modules from the working directory
      PYTHONSAFEPATH: '1',
    };
    this.log.info(`Python (${interpreter.source}): ${interpreter.command.join(' ')}`);
    let check: CheckResult = await checkInterpreter(interpreter, cwd, env);
    const managed = this.setup.managedPython();
    if (useManaged(interpreter.source, check.ok, managed !== undefined) && managed) {
      // Nothing the user chose has the server: the environment that Set Up created runs it.
      this.log.info(`${interpreter.command.join(' ')} cannot run the server; using the environment of Set Up Atten-Scope: ${managed}`);
      interpreter = { command: [managed], source: 'managed' };
      check = await checkInterpreter(interpreter, cwd, env);
    }
    this.interpreter = interpreter;
    if (!check.ok) {
      this.setState('failed');
      const message = this.describeCheckFailure(interpreter, check.reason, check.detail);
      this.log.error(`${message} (${check.detail})`);
      void this.showStartError(message, false, check.reason !== 'failed' || interpreter.source === 'managed');
      throw new ServerUnavailableError(message);
    }
    this.log.info(`Python ${check.python} at ${check.executable}`);

    const [exe, ...preArgs] = interpreter.command;
    const serverOptions: ServerOptions = {
      command: exe,
      args: [...preArgs, '-m', SERVER_MODULE, 'serve'],
      transport: TransportKind.stdio,
      options: { cwd, env },
    };
    const clientOptions: LanguageClientOptions = {
      // `git`: the read-only side of a diff, so that a review shows attention on both sides
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }, { scheme: SAVED_SCHEME }, { scheme: 'git' }],
      outputChannel: this.log,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: { settings: serverSettings(settings) },
      errorHandler: new RestartingErrorHandler(this.log, () => this.client === client && this.stateValue === 'running', () => {
        this.setState('failed');
        void this.showStartError('The Atten-Scope server stopped several times and will not be restarted automatically.', true);
      }),
      initializationFailedHandler: (error: unknown) => {
        this.log.error(`The server failed to initialise: ${errorMessage(error)}`);
        return false;
      },
      middleware: {
        workspace: {
          configuration: (params) =>
            params.items.map((item) =>
              item.section === CONFIG_SECTION || item.section === undefined
                ? serverSettings(this.settings.effective)
                : null,
            ),
        },
      },
      // The hover card may run one command, Show Information Flow, from its link; nothing else in
      // its Markdown is trusted, and HTML stays off.
      markdown: { isTrusted: { enabledCommands: HOVER_COMMANDS }, supportHtml: false },
    };
    const client = new AttenScopeLanguageClient('attenScope', 'Atten-Scope', serverOptions, clientOptions);
    this.clientDisposables.push(
      client.onNotification(Notifications.status, (params: StatusParams) => this.statusEmitter.fire(params)),
      client.onDidChangeState((e) => {
        if (e.newState === State.Running) {
          this.lastSent = JSON.stringify(serverSettings(this.settings.effective));
          // each (re)start may be a different server: read what it offers before anyone asks
          this.readCapabilities(client);
          this.setState('running');
          // a configured name that only this server knows is valid now: send it
          void this.pushSettings();
          this.restartEmitter.fire();
        } else if (e.newState === State.Stopped && this.client === client && this.stateValue === 'running') {
          this.setState('stopped');
        }
      }),
    );
    this.client = client;
    try {
      await client.start();
      if (!client.isRunning()) {
        // a failed initialisation can resolve start() with a stopped client
        throw new Error('the server process exited during initialisation');
      }
    } catch (error) {
      this.setState('failed');
      this.log.error(`The server did not start: ${errorMessage(error)}`);
      const message = `The Atten-Scope server (${interpreter.command.join(' ')} -m ${SERVER_MODULE} serve) stopped while starting. Its error output is in the log.`;
      void this.showStartError(message, true);
      await this.disposeClient();
      throw new ServerUnavailableError(message);
    }
    this.lastSent = JSON.stringify(serverSettings(this.settings.effective));
    this.setState('running');
    void this.offerUpdate(client, interpreter);
    return client;
  }

  /** A managed environment older than the wheel this extension carries: offer to update it. */
  private async offerUpdate(client: LanguageClient, interpreter: Interpreter): Promise<void> {
    const running = client.initializeResult?.serverInfo?.version;
    const bundled = this.setup.bundled()?.version;
    if (!needsUpdate(running, bundled)) {
      return;
    }
    if (interpreter.source !== 'managed') {
      this.log.warn(`The server at ${interpreter.command.join(' ')} is version ${running}; this extension carries ${bundled}.`);
      return;
    }
    this.log.info(`The server in the managed environment is ${running}; this extension carries ${bundled}.`);
    const choice = await vscode.window.showInformationMessage(
      `Atten-Scope: the server in its environment is version ${running}; this extension carries ${bundled}.`,
      'Update',
    );
    if (choice === 'Update' && (await this.setup.update())) {
      await this.restart().catch(() => undefined);
    }
  }

  private readCapabilities(client: LanguageClient): void {
    const capabilities = readCapabilities(client.initializeResult?.capabilities.experimental);
    this.catalogValue = catalogFrom(capabilities);
    if (!capabilities) {
      this.log.info('The server does not describe its views (an older server); using the built-in lists.');
    } else {
      this.log.info(`Server protocol ${capabilities.version ?? '(no version)'}.`);
      const skew = limitsSkew(capabilities);
      if (skew.length > 0) {
        this.log.warn(`The server and the extension come from different releases: ${skew.join(' ')}`);
      }
    }
    this.settings.setKnownNames(knownNames(this.catalogValue));
  }

  private describeCheckFailure(interpreter: Interpreter, reason: string, detail: string): string {
    const exe = interpreter.command.join(' ');
    switch (reason) {
      case 'notFound':
        return `Atten-Scope could not run the Python interpreter "${exe}". Run "Atten-Scope: Set Up Atten-Scope", or set attenScope.pythonPath to a Python ${MIN_PYTHON.join('.')}+ interpreter that has the server.`;
      case 'missingModule':
        return `The Python package "${SERVER_MODULE}" is not installed in ${detail}. Run "Atten-Scope: Set Up Atten-Scope" to install the server in an environment of its own, or set attenScope.pythonPath to a Python that has it.`;
      case 'unsupported':
        return `${detail} Install a newer Python and run "Atten-Scope: Set Up Atten-Scope", or set attenScope.pythonPath to a Python ${MIN_PYTHON.join('.')}+ interpreter that has the server.`;
      default:
        return `Atten-Scope could not check the Python interpreter "${exe}": ${detail.split(/\r?\n/).pop() ?? detail}`;
    }
  }

  private async showStartError(message: string, offerRestart = false, offerSetUp = false): Promise<void> {
    const actions = offerSetUp ? ['Set Up Atten-Scope', 'Show Logs', 'Open Settings'] : ['Show Logs', 'Open Settings'];
    if (offerRestart) {
      actions.push('Restart Server');
    } else if (vscode.extensions.getExtension(PVSC_EXTENSION_ID)) {
      actions.push('Select Interpreter');
    }
    const choice = await vscode.window.showErrorMessage(message, ...actions);
    switch (choice) {
      case 'Show Logs':
        this.log.show(true);
        break;
      case 'Open Settings': {
        const open = settingsEditorCommand(vscode.env.remoteName, `${CONFIG_SECTION}.pythonPath`);
        await vscode.commands.executeCommand(open.command, open.args);
        break;
      }
      case 'Set Up Atten-Scope':
        await vscode.commands.executeCommand(Commands.setUp);
        break;
      case 'Select Interpreter':
        await vscode.commands.executeCommand('python.setInterpreter');
        break;
      case 'Restart Server':
        await vscode.commands.executeCommand(Commands.restartServer);
        break;
    }
  }

  private async onSettingsChanged(before: Settings, after: Settings): Promise<void> {
    if (this.stateValue === 'stopped') {
      return;
    }
    if (needsRestart(before, after)) {
      this.log.info('The interpreter setting changed; restarting the server.');
      await this.restart().catch(() => undefined);
      return;
    }
    await this.pushSettings(after);
  }

  /** Sends the settings when they differ from what the server has. */
  private async pushSettings(settings = this.settings.effective): Promise<void> {
    const payload = serverSettings(settings);
    const json = JSON.stringify(payload);
    if (!this.client || this.stateValue !== 'running' || json === this.lastSent) {
      return;
    }
    this.lastSent = json;
    try {
      await this.client.sendNotification(DidChangeConfigurationNotification.type, {
        settings: { [CONFIG_SECTION]: payload },
      });
    } catch (error) {
      this.log.error(`Could not send the settings to the server: ${errorMessage(error)}`);
    }
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.ensureStarted();
  }

  async stop(): Promise<void> {
    if (this.starting) {
      await this.starting.catch(() => undefined);
    }
    await this.disposeClient();
    this.setState('stopped');
  }

  private async disposeClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    vscode.Disposable.from(...this.clientDisposables.splice(0)).dispose();
    if (client) {
      client.stopping = true;
      try {
        if (client.isRunning()) {
          await client.stop(5000);
        }
      } catch (error) {
        this.log.warn(`Stopping the server: ${errorMessage(error)}`);
      }
      try {
        await client.dispose(2000);
      } catch {
        // already gone
      }
    }
  }

  dispose(): void {
    void this.stop();
    vscode.Disposable.from(...this.disposables).dispose();
  }
}
