/** Complete Here and Explain, the Escape that dismisses its ghost text, and Which Code Does This Prediction Need?. */
import { withEditor, type CommandFactory } from './context';

/** The model completes the code at the cursor; the panel shows which context drove each token. */
export const completeHere: CommandFactory = ({ completer }) => withEditor((editor) => completer.run(editor));

/** The model's first choice at the cursor explained by removals: the panel lists the lines it needs. */
export const explainPrediction: CommandFactory = ({ completer }) => withEditor((editor) => completer.explainPrediction(editor));

/** Removes the completion's ghost text (bound to Escape while it shows). */
export const dismissCompletion: CommandFactory =
  ({ completer }) =>
  () =>
    completer.dismiss();
