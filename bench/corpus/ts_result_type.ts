type Result<T, E = Error> = { ok: true; value: T } | { ok: false; error: E };

function parseNumber(text: string): Result<number> {
  const value = Number(text);
  if (Number.isNaN(value)) {
    return { ok: false, error: new Error(`not a number: ${text}`) };
  }
  return { ok: true, value };
}

const parsed = parseNumber('42');
if (parsed.ok) {
  console.log(parsed.value * 2);
} else {
  console.error(parsed.
