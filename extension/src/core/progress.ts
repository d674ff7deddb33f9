/**
 * Server work-done progress ($/progress) turned into the steps of a VS Code progress notification,
 * without 'vscode': the notification takes increments, the server sends percentages so far.
 */

/** What a $/progress value carries (begin, report or end). */
export interface ProgressValue {
  kind: string;
  message?: string;
  percentage?: number;
}

/** One step of a VS Code progress notification. */
export interface ProgressStep {
  message?: string;
  increment?: number;
}

/**
 * A handler for one request's $/progress values that reports each as a step: the message as sent,
 * and the percentage (clamped to 0-100) as the increment since the highest one reported, so a
 * repeated or lower percentage never moves the bar back. The end value is left to the request.
 */
export function progressForwarder(report: (step: ProgressStep) => void): (value: ProgressValue) => void {
  let reported = 0;
  return (value) => {
    if (value.kind === 'end') {
      return;
    }
    const pct =
      typeof value.percentage === 'number' && Number.isFinite(value.percentage)
        ? Math.min(100, Math.max(0, value.percentage))
        : undefined;
    const increment = pct !== undefined && pct > reported ? pct - reported : undefined;
    if (increment !== undefined) {
      reported = pct ?? reported;
    }
    report({ message: value.message, increment });
  };
}

/**
 * The progress note of an analysis run again after the server answered ContentModified: the
 * server's reason (the file, or the model, changed meanwhile) without its advice to analyse again,
 * which is what happens next.
 */
export function retryNote(reason: string): string {
  const what = reason
    .trim()
    .replace(/\s*:\s*(analyse|ask)\b[^:]*$/i, '')
    .replace(/\.$/, '');
  return what ? `${what.charAt(0).toLowerCase()}${what.slice(1)}; analysing again` : 'analysing again';
}
