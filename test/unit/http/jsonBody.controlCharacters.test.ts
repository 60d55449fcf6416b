// jsonBody refuses a control character in any string or key of the body (400 naming the field), whether the
// JSON carries it as an escape (\n, \u0000, \u001F) or as a literal DEL; whitespace between tokens and an
// escaped backslash followed by a letter are no control characters.
import { jsonBody } from '../../../src/http/input.js';
import { ValidationError } from '../../../src/errors.js';

const body = (raw: string) => jsonBody({ text: async () => raw });
const fieldOf = (raw: string) => body(raw).then(() => null, (e) => (e instanceof ValidationError ? e.field : `not a 400: ${e}`));

describe('jsonBody', () => {
  it.each([
    ['{"meter_id":"m\\u0000x"}', 'meter_id'],
    ['{"meter_id":"m\\u001Fx"}', 'meter_id'],
    ['{"a":{"b":["ok","x\\ny"]}}', 'a.b[1]'],
    ['[{"meter_id":"m"},{"meter_id":"\\t"}]', '[1].meter_id'],
    ['{"k\\r":1}', 'body'],
    ['{"meter_id":"m\u007fx"}', 'meter_id'],
    ['{"meter_id":"m\\u007Fx"}', 'meter_id'],
    ['"\\b"', 'body'],
  ])('%s is a 400 naming %s', async (raw, field) => {
    expect(await fieldOf(raw)).toBe(field);
  });

  it.each([['{\n\t"meter_id": "m1",\r\n "kwh": "1"\n}'], ['{"path":"C:\\\\new"}'], ['{"name":"caf\\u00e9 \\u2603"}']])('%j is accepted', async (raw) => {
    expect(await fieldOf(raw)).toBeNull();
  });

  it('a deeply nested body is walked without overflowing the stack', async () => {
    const deep = '['.repeat(100_000) + '"\\u0001"' + ']'.repeat(100_000);
    expect(await fieldOf(deep)).toMatch(/^(\[0\]){100000}$/);
  });
});
