class EventEmitter {
  constructor() {
    this.listeners = new Map();
  }

  on(name, listener) {
    if (!this.listeners.has(name)) {
      this.listeners.set(name, []);
    }
    this.listeners.get(name).push(listener);
    return this;
  }

  emit(name, ...args) {
    const list = this.listeners.get(name) || [];
    for (const listener of list) {
      listener(...
