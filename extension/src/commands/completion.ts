/** Complete Here and Explain, and the Escape that dismisses its ghost text. */
import { withEditor, type CommandFactory } from './context';

/** The model completes the code at the cursor; the panel shows which context drove each token. */
export const completeHere: CommandFactory = ({ completer }) => withEditor((editor) => completer.run(editor));

/** Removes the completion's ghost text (bound to Escape while it shows). */
export const dismissCompletion: CommandFactory =
  ({ completer }) =>
  () =>
    completer.dismiss();
