interface State {
  count: number;
  history: number[];
}

type Action = { type: 'increment'; by: number } | { type: 'reset' };

export function reducer(state: State, action: Action): State {
  switch (action.type) {
    case 'increment':
      return {
        count: state.count + action.by,
        history: [...state.history, state.count],
      };
    case 'reset':
      return { count: 0, history: [] };
    default:
      return
