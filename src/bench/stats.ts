// Statistics for the bench: medians of runs, ratios to the baseline allocator and geometric means of ratios.

/** Median of the finite values (mean of the middle two for an even count); null when there are none. */
export function median(values: readonly number[]): number | null {
  const xs = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** Geometric mean of positive finite values; null when there are none. Zero or negative values are skipped. */
export function geomean(values: readonly number[]): number | null {
  const xs = values.filter((x) => Number.isFinite(x) && x > 0);
  if (xs.length === 0) return null;
  return Math.exp(xs.reduce((sum, x) => sum + Math.log(x), 0) / xs.length);
}

/** value / baseline, or null when either is missing or the baseline is not positive. */
export function ratio(value: number | null | undefined, baseline: number | null | undefined): number | null {
  if (value == null || baseline == null || !Number.isFinite(value) || !Number.isFinite(baseline)) return null;
  if (baseline <= 0) return null;
  return value / baseline;
}
