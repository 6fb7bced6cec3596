// Builds a target's environment with the allocator first in LD_PRELOAD, keeping whatever the user preloads.
/** Prepends libPath to LD_PRELOAD (the loader accepts ':' or ' ' separators); null leaves env as it is. */
export function preloadEnv(libPath: string | null, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (libPath === null) return { ...env };
  const existing = env.LD_PRELOAD?.trim();
  return { ...env, LD_PRELOAD: existing ? `${libPath}:${existing}` : libPath };
}
