import { expect } from 'chai';
import { parsePrometheusText } from '../helpers/prometheus.js';

// The /metrics tests are only as good as this reader: it must refuse what Prometheus refuses.
describe('Prometheus text reader used by the /metrics tests', () => {
  it('reads HELP, TYPE, labels with escapes, histograms and special values', () => {
    const families = parsePrometheusText(
      [
        '# HELP a_total Things, with a \\\\ and a\\nnewline',
        '# TYPE a_total counter',
        'a_total{kind="x \\"y\\"",z="1"} 3',
        'a_total{kind="w",} 1 1700000000000',
        '# a plain comment',
        '# TYPE h histogram',
        'h_bucket{le="0.1"} 1',
        'h_bucket{le="+Inf"} 2',
        'h_sum 0.3',
        'h_count 2',
        'g NaN',
        'g2 -Inf',
        '',
      ].join('\n'),
    );
    expect(families.get('a_total')).to.deep.include({ type: 'counter', help: 'Things, with a \\ and a\nnewline' });
    expect(families.get('a_total')?.samples[0].labels).to.deep.equal({ kind: 'x "y"', z: '1' });
    expect(families.get('a_total')?.samples[1].timestamp).to.equal(1_700_000_000_000);
    expect(families.get('h')?.samples.map((s) => s.name)).to.deep.equal(['h_bucket', 'h_bucket', 'h_sum', 'h_count']);
    expect(families.get('g')?.samples[0].value).to.be.NaN;
  });

  it('refuses malformed expositions', () => {
    const bad: Array<[string, RegExp]> = [
      ['a 1', /end with a newline/],
      ['a{b="1} 2\n', /unterminated label value/],
      ['a{b=1} 2\n', /not quoted/],
      ['a{1b="x"} 2\n', /bad label name/],
      ['a{b="x",b="y"} 2\n', /repeated/],
      ['a{b="\\t"} 2\n', /bad escape/],
      ['a one\n', /bad sample value/],
      ['a 1 2 3\n', /value \[timestamp\]/],
      ['a 1 1.5\n', /bad timestamp/],
      ['a1\n', /expected a space/],
      ['9a 1\n', /not a sample/],
      ['# TYPE a counter\na -1\n', /negative counter/],
      ['# TYPE a wibble\n', /unknown type/],
      ['a 1\n# TYPE a gauge\n', /after its samples/],
      ['# HELP a x\n# HELP a y\n', /second HELP/],
      ['a 1\nb 1\na{x="1"} 2\n', /continues after another family/],
      ['a 1\na 2\n', /series repeated/],
      ['# TYPE h histogram\nh_bucket 1\n', /bucket without le/],
    ];
    for (const [text, pattern] of bad) expect(() => parsePrometheusText(text), JSON.stringify(text)).to.throw(pattern);
  });
});
