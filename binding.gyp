# Builds each allocator as a plain shared object named <allocator>.node (not a Node addon: nothing here calls
# Node) so that prebuildify ships it and node-gyp-build finds it. scripts/source-hash.mjs embeds the source hash.
{
  'variables': {
    # TSMALLOC_ONLY=<allocator> builds just that one (scripts/prebuilds.mjs: prebuildify ships one file per run).
    'only%': '<!(node -p "process.env.TSMALLOC_ONLY || \'all\'")',
  },
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
      # The default allocator: per-thread heaps, size classes, a reserved arena, purging (csrc/tsmalloc/internal.h).
      'target_name': 'tsmalloc',
      'sources': [
        'csrc/tsmalloc/alloc.c',
        'csrc/tsmalloc/exports.c',
        'csrc/tsmalloc/free.c',
        'csrc/tsmalloc/init.c',
        'csrc/tsmalloc/introspect.c',
        'csrc/tsmalloc/large.c',
        'csrc/tsmalloc/options.c',
        'csrc/tsmalloc/os.c',
        'csrc/tsmalloc/page.c',
        'csrc/tsmalloc/segment.c',
        'csrc/tsmalloc/stats.c',
      ],
      'defines': ['TS_SOURCE_HASH="<!(node scripts/source-hash.mjs tsmalloc)"'],
      'conditions': [['only not in ("all", "tsmalloc")', {'type': 'none'}]],
    },
    {
      # The teaching baseline: a used list and a free list, first fit, one mutex (csrc/simple/heap.c).
      'target_name': 'simple',
      'sources': ['csrc/simple/heap.c', 'csrc/simple/exports.c'],
      'defines': ['TS_SOURCE_HASH="<!(node scripts/source-hash.mjs simple)"'],
      'conditions': [['only not in ("all", "simple")', {'type': 'none'}]],
    },
  ],
}
