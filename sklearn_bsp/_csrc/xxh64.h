/*
 * XXH64, the 64-bit hash of xxHash: the C side of sklearn_bsp._fingerprint.
 *
 * Written from the algorithm's specification ("xxHash fast digest
 * algorithm", doc/xxhash_spec.md of https://github.com/Cyan4973/xxHash,
 * version 0.1.1, by Yann Collet); the function returns the same values as
 * the reference implementation (tests/test_fingerprint.py checks vectors
 * it produced). The prediction cache keys itself on the hash of the arrays
 * it was built from instead of keeping a copy of them.
 */
#ifndef SKLEARN_BSP_XXH64_H
#define SKLEARN_BSP_XXH64_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#  define BSP_XXH_API __attribute__((visibility("hidden")))
#else
#  define BSP_XXH_API
#endif

/* XXH64 of the n bytes at data, with the given seed. */
BSP_XXH_API uint64_t bsp_xxh64(const void *data, size_t n, uint64_t seed);

#endif
