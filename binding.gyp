# Builds each allocator as a plain shared object named <allocator>.node (not a Node addon: nothing here calls
# Node) so that prebuildify ships it and node-gyp-build finds it. scripts/source-hash.mjs embeds the source hash.
{
  'target_defaults': {
    'type': 'loadable_module',
    'product_extension': 'node',
    'include_dirs': ['csrc/common'],
    'sources': ['csrc/common/diag.c', 'csrc/common/source_hash.c'],
    'cflags': [
      '-std=gnu11',
      # gcc would otherwise fold malloc+memset into a call to calloc: infinite recursion inside calloc.
      '-fno-builtin',
      # glibc's "Replacing malloc": a preloaded allocator must not use the general-dynamic TLS model.
      '-ftls-model=initial-exec',
      '-fvisibility=hidden',
      '-pthread',
      '-g',
    ],
    'cflags!': ['-fno-exceptions', '-fno-rtti'],
    'ldflags': ['-pthread', '-Wl,--as-needed', '-Wl,--no-undefined', '-Wl,-z,now'],
  },
  'targets': [
    {
      'target_name': 'simple',
      'sources': ['csrc/simple/heap.c', 'csrc/simple/exports.c'],
      'defines': ['TS_SOURCE_HASH="<!(node scripts/source-hash.mjs simple)"'],
    },
  ],
}
