import { describe, expect, it } from 'vitest';
import { readFaithfulness } from '../../src/core/faithfulness';
import { measuredFaithfulness } from './fixtures';

const measured = measuredFaithfulness;

describe('readFaithfulness', () => {
  it('keeps a well-formed value', () => {
    expect(readFaithfulness(measured)).toEqual(measured);
    expect(readFaithfulness({ ...measured, rho: -0.05, low: -0.13, rank: 27 })).toMatchObject({ rho: -0.05 });
  });

  it('tells "not measured" from "unknown"', () => {
    expect(readFaithfulness(null)).toBeNull();
    expect(readFaithfulness(undefined)).toBeUndefined();
  });

  it('keeps the situation a figure was measured in and the one asked for', () => {
    const situated = {
      ...measured,
      position: 'interior',
      unit: 'line',
      asked: { position: 'interior', unit: 'line' },
    };
    expect(readFaithfulness(situated)).toEqual(situated);
    expect(readFaithfulness({ ...measured, position: 'last', unit: 'token' })).toMatchObject({ position: 'last' });
  });

  it('keeps the languages a figure was measured on and the document\'s', () => {
    const standing = { ...measured, languages: ['python'], language: 'c', standsIn: true };
    expect(readFaithfulness(standing)).toEqual(standing);
    expect(readFaithfulness({ ...standing, language: null })).toMatchObject({ language: null });
    expect(readFaithfulness({ ...standing, languages: 'python' })).toBeUndefined();
    expect(readFaithfulness({ ...standing, languages: [3] })).toBeUndefined();
    expect(readFaithfulness({ ...standing, standsIn: 'yes' })).toBeUndefined();
  });

  it('treats a malformed situation as unknown', () => {
    expect(readFaithfulness({ ...measured, position: 'middle', unit: 'token' })).toBeUndefined();
    expect(readFaithfulness({ ...measured, position: 'last', unit: 'word' })).toBeUndefined();
    expect(readFaithfulness({ ...measured, position: 'last' })).toBeUndefined();
    expect(readFaithfulness({ ...measured, unit: 'line' })).toBeUndefined();
    expect(readFaithfulness({ ...measured, asked: 'interior' })).toBeUndefined();
    expect(readFaithfulness({ ...measured, asked: { position: 'interior' } })).toBeUndefined();
  });

  it('treats a malformed value as unknown', () => {
    expect(readFaithfulness({})).toBeUndefined();
    expect(readFaithfulness([measured])).toBeUndefined();
    expect(readFaithfulness('ρ +0.32')).toBeUndefined();
    expect(readFaithfulness({ ...measured, rho: '0.3' })).toBeUndefined();
    expect(readFaithfulness({ ...measured, rho: Number.NaN })).toBeUndefined();
    expect(readFaithfulness({ ...measured, high: Infinity })).toBeUndefined();
    expect(readFaithfulness({ ...measured, snippets: 2.5 })).toBeUndefined();
    expect(readFaithfulness({ ...measured, rank: 0 })).toBeUndefined();
    expect(readFaithfulness({ ...measured, rank: 28 })).toBeUndefined();
    expect(readFaithfulness({ ...measured, best: 1 })).toBeUndefined();
    const noModel: Record<string, unknown> = { ...measured };
    delete noModel.model;
    expect(readFaithfulness(noModel)).toBeUndefined();
    for (const key of ['text', 'sentence']) {
      const wordless: Record<string, unknown> = { ...measured };
      delete wordless[key];
      expect(readFaithfulness(wordless)).toBeUndefined(); // the words are the server's: none, nothing to show
    }
    expect(readFaithfulness({ ...measured, text: 0.38 })).toBeUndefined();
  });
});
