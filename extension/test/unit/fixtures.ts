import type { Faithfulness } from '../../src/core/protocol';

/** A faithfulness value as the server sends it for a measured view. */
export const measuredFaithfulness: Readonly<Faithfulness> = Object.freeze({
  rho: 0.316,
  low: 0.2149,
  high: 0.41,
  snippets: 33,
  rank: 1,
  methods: 27,
  best: 'norm / lastLayers',
  bestRho: 0.316,
  model: 'embedded:smollm2-135m',
});
