/* Runtime benchmark driver (a harness, not corpus code): CRoaring compressed bitmap set algebra.
 *
 * usage: roaring_sets [thousands of values per set] [rounds]
 * Builds eight bitmaps of pseudo-random integers of different densities (array,
 * bitset and run containers), then per round: pairwise intersections, unions,
 * differences and symmetric differences with their cardinalities, run
 * compression, a serialize/deserialize round trip checked for equality, and
 * membership, rank and select queries; prints the cardinalities' checksum.
 * The library's prototypes are declared here (a bitmap is opaque), so the
 * driver needs no header from the sources.
 */
#include <stdbool.h>
#include <stdint.h>

#include "workload.h"

typedef struct roaring_bitmap_s roaring_bitmap_t;
roaring_bitmap_t *roaring_bitmap_create_with_capacity(uint32_t cap);
void roaring_bitmap_free(const roaring_bitmap_t *r);
void roaring_bitmap_add(roaring_bitmap_t *r, uint32_t x);
void roaring_bitmap_add_range_closed(roaring_bitmap_t *r, uint32_t min, uint32_t max);
roaring_bitmap_t *roaring_bitmap_and(const roaring_bitmap_t *r1, const roaring_bitmap_t *r2);
roaring_bitmap_t *roaring_bitmap_or(const roaring_bitmap_t *r1, const roaring_bitmap_t *r2);
roaring_bitmap_t *roaring_bitmap_xor(const roaring_bitmap_t *r1, const roaring_bitmap_t *r2);
roaring_bitmap_t *roaring_bitmap_andnot(const roaring_bitmap_t *r1, const roaring_bitmap_t *r2);
uint64_t roaring_bitmap_and_cardinality(const roaring_bitmap_t *r1, const roaring_bitmap_t *r2);
uint64_t roaring_bitmap_get_cardinality(const roaring_bitmap_t *r);
bool roaring_bitmap_run_optimize(roaring_bitmap_t *r);
size_t roaring_bitmap_portable_size_in_bytes(const roaring_bitmap_t *r);
size_t roaring_bitmap_portable_serialize(const roaring_bitmap_t *r, char *buf);
roaring_bitmap_t *roaring_bitmap_portable_deserialize(const char *buf);
bool roaring_bitmap_equals(const roaring_bitmap_t *r1, const roaring_bitmap_t *r2);
bool roaring_bitmap_contains(const roaring_bitmap_t *r, uint32_t val);
uint64_t roaring_bitmap_rank(const roaring_bitmap_t *r, uint32_t x);
bool roaring_bitmap_select(const roaring_bitmap_t *r, uint32_t rank, uint32_t *element);

enum { SETS = 8 };

static unsigned long long mix(unsigned long long digest, uint64_t value) {
  return bench_fnv1a(&value, sizeof value, digest);
}

int main(int argc, char **argv) {
  const long values = bench_arg(argc, argv, 1, 200) * 1000;
  const long rounds = bench_arg(argc, argv, 2, 1);
  roaring_bitmap_t *sets[SETS];
  for (int s = 0; s < SETS; s++) {
    sets[s] = roaring_bitmap_create_with_capacity(0);
    const uint32_t span = (uint32_t)values << (s % 4 + 1); /* density 1/2 down to 1/16 */
    for (long i = 0; i < values; i++) roaring_bitmap_add(sets[s], bench_next() % span);
    for (int r = 0; r < 32; r++) { /* some long runs */
      uint32_t start = bench_next() % span;
      roaring_bitmap_add_range_closed(sets[s], start, start + bench_next() % 4096);
    }
  }
  unsigned long long digest = 0xCBF29CE484222325ull;
  for (long round = 0; round < rounds; round++) {
    for (int a = 0; a < SETS; a++) {
      for (int b = a + 1; b < SETS; b++) {
        roaring_bitmap_t *results[4] = {roaring_bitmap_and(sets[a], sets[b]), roaring_bitmap_or(sets[a], sets[b]),
                                        roaring_bitmap_xor(sets[a], sets[b]), roaring_bitmap_andnot(sets[a], sets[b])};
        bench_check(roaring_bitmap_get_cardinality(results[0]) == roaring_bitmap_and_cardinality(sets[a], sets[b]),
                    "intersection cardinality");
        for (int k = 0; k < 4; k++) {
          digest = mix(digest, roaring_bitmap_get_cardinality(results[k]));
          roaring_bitmap_free(results[k]);
        }
      }
    }
    for (int s = 0; s < SETS; s++) {
      roaring_bitmap_run_optimize(sets[s]);
      size_t bytes = roaring_bitmap_portable_size_in_bytes(sets[s]);
      char *buffer = bench_alloc(bytes);
      bench_check(roaring_bitmap_portable_serialize(sets[s], buffer) == bytes, "serialize");
      roaring_bitmap_t *copy = roaring_bitmap_portable_deserialize(buffer);
      bench_check(copy && roaring_bitmap_equals(copy, sets[s]), "deserialize");
      digest = mix(digest, bytes);
      uint64_t found = 0, element = 0;
      for (long q = 0; q < values / 4; q++) {
        uint32_t x = bench_next() % ((uint32_t)values << 2);
        found += roaring_bitmap_contains(copy, x) + roaring_bitmap_rank(copy, x);
        uint32_t selected;
        if (roaring_bitmap_select(copy, (uint32_t)(q * 7), &selected)) element += selected;
      }
      digest = mix(mix(digest, found), element);
      roaring_bitmap_free(copy);
      free(buffer);
    }
    if (round == 0) {
      printf("cardinalities");
      for (int s = 0; s < SETS; s++) printf(" %llu", (unsigned long long)roaring_bitmap_get_cardinality(sets[s]));
      printf("\n");
    }
  }
  printf("rounds %ld digest %016llx\n", rounds, digest);
  for (int s = 0; s < SETS; s++) roaring_bitmap_free(sets[s]);
  return 0;
}
