// Types for the one node-gyp-build call tsmalloc makes (the package ships none).
declare module 'node-gyp-build' {
  interface NodeGypBuild {
    (dir: string): unknown;
    path(dir: string): string;
  }
  const nodeGypBuild: NodeGypBuild;
  export default nodeGypBuild;
}
