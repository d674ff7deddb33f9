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
  text: 'ρ +0.32 vs ablation (9 languages incl. C, last token)',
  sentence:
    'Faithfulness of this view: ρ = +0.32 [+0.21, +0.41] against leave-one-out ablation at the last token, ' +
    'measured on 9 languages, C among them (33 snippets; rank 1 of 27).',
});
