/** The commands that ask how the attention or the prediction changes with the code: compare, remove lines. */
import { withEditor, type CommandFactory } from './context';

/** Compares the attention at the cursor with the saved file or a marked selection. */
export const compareWith: CommandFactory = ({ comparer }) => withEditor((editor) => comparer.pick(editor));

/** Marks the selection as one side of a later comparison. */
export const markSelection: CommandFactory = ({ comparer }) => withEditor((editor) => comparer.markSelection(editor));

/** What If These Lines Were Removed?: the prediction at a token with the selected lines gone. */
export const removeLines: CommandFactory = ({ remover }) => withEditor((editor) => remover.run(editor));
