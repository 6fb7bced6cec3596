/* Embeds the hash of the csrc/ sources a library was built from, so a binary can be traced to its source. */

/* The build passes TS_SOURCE_HASH (binding.gyp runs scripts/source-hash.mjs); hand builds say "unknown". */
#ifndef TS_SOURCE_HASH
#define TS_SOURCE_HASH "unknown"
#endif

/* The "tsmalloc-source:" prefix lets tools find the hash by scanning a stripped binary's bytes. */
__attribute__((visibility("default"), used)) const char tsmalloc_source_hash[] = "tsmalloc-source:" TS_SOURCE_HASH;
