/* Runtime benchmark driver (a harness, not corpus code): xxHash over short keys and a large buffer.
 *
 * usage: xxhash_bench [KiB of input] [rounds]
 * Hashes generated text with XXH32, XXH64 and XXH3 (64 and 128 bits), one
 * shot and streaming, over the whole buffer and over many short keys (as a
 * hash table would), and prints the digests. Prototypes are declared here so
 * the driver needs no header from the sources.
 */
#include "workload.h"

typedef struct {
  unsigned long long low64, high64;
} XXH128_hash_t;

unsigned XXH32(const void *input, size_t length, unsigned seed);
unsigned long long XXH64(const void *input, size_t length, unsigned long long seed);
unsigned long long XXH3_64bits(const void *input, size_t length);
unsigned long long XXH3_64bits_withSeed(const void *input, size_t length, unsigned long long seed);
XXH128_hash_t XXH3_128bits(const void *input, size_t length);
void *XXH64_createState(void);
int XXH64_reset(void *state, unsigned long long seed);
int XXH64_update(void *state, const void *input, size_t length);
unsigned long long XXH64_digest(const void *state);
int XXH64_freeState(void *state);

int main(int argc, char **argv) {
  const size_t size = (size_t)bench_arg(argc, argv, 1, 1024) * 1024;
  const long rounds = bench_arg(argc, argv, 2, 1);
  unsigned char *input = bench_alloc(size);
  bench_fill_text(input, size);
  unsigned long long digest = 0;
  for (long round = 0; round < rounds; round++) {
    digest ^= XXH32(input, size, (unsigned)round);
    digest ^= XXH64(input, size, round);
    digest ^= XXH3_64bits(input, size);
    XXH128_hash_t wide = XXH3_128bits(input, size);
    digest ^= wide.low64 ^ (wide.high64 << 1);
    void *state = XXH64_createState();
    XXH64_reset(state, round);
    for (size_t at = 0; at < size; at += 1000) XXH64_update(state, input + at, size - at < 1000 ? size - at : 1000);
    digest = digest * 31 + XXH64_digest(state);
    XXH64_freeState(state);
    for (size_t at = 0, length = 1; at + 64 <= size; at += length, length = length % 63 + 1) {
      digest += XXH3_64bits_withSeed(input + at, length, digest & 0xFF);
      digest ^= XXH32(input + at, length, 7) + XXH64(input + at, length, 11);
    }
  }
  printf("input %zu rounds %ld digest %016llx\n", size, rounds, digest);
  free(input);
  return 0;
}
