/**
 * `$(VAR)` expansion with Kubernetes' rules: `$(NAME)` becomes the value of NAME when
 * it is defined and stays `$(NAME)` when it is not; `$$` is an escaped `$`; a `$`
 * followed by anything else, or a `$(` that is never closed, is kept literally.
 */
export function expandVars(input: string, lookup: (name: string) => string | undefined): string {
  let out = '';
  let i = 0;
  while (i < input.length) {
    const dollar = input.indexOf('$', i);
    if (dollar < 0 || dollar === input.length - 1) break;
    out += input.slice(i, dollar);
    const next = input[dollar + 1];
    if (next === '$') {
      out += '$';
      i = dollar + 2;
    } else if (next === '(') {
      const close = input.indexOf(')', dollar + 2);
      if (close < 0) {
        // Unclosed reference: keep "$(" and scan on after it.
        out += '$(';
        i = dollar + 2;
      } else {
        const name = input.slice(dollar + 2, close);
        const value = lookup(name);
        out += value ?? `$(${name})`;
        i = close + 1;
      }
    } else {
      out += '$' + next;
      i = dollar + 2;
    }
  }
  return out + input.slice(i);
}
