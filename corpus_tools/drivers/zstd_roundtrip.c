/* Runtime benchmark driver (a harness, not corpus code): Zstandard compression round trips.
 *
 * usage: zstd_roundtrip [KiB of input] [rounds]
 * Compresses generated text at levels 1, 3 and 9 with zstd's one-shot API,
 * decompresses each result, checks it equals the input, and prints the
 * compressed sizes and a checksum. Prototypes are declared here so the driver
 * needs no header from the sources.
 */
#include "workload.h"

size_t ZSTD_compressBound(size_t srcSize);
size_t ZSTD_compress(void *dst, size_t dstCapacity, const void *src, size_t srcSize, int compressionLevel);
size_t ZSTD_decompress(void *dst, size_t dstCapacity, const void *src, size_t compressedSize);
unsigned ZSTD_isError(size_t code);

int main(int argc, char **argv) {
  static const int levels[] = {1, 3, 9};
  const size_t size = (size_t)bench_arg(argc, argv, 1, 1024) * 1024;
  const long rounds = bench_arg(argc, argv, 2, 1);
  unsigned char *input = bench_alloc(size);
  bench_fill_text(input, size);
  const size_t bound = ZSTD_compressBound(size);
  unsigned char *packed = bench_alloc(bound);
  unsigned char *unpacked = bench_alloc(size);
  unsigned long long digest = 0xCBF29CE484222325ull;
  for (long round = 0; round < rounds; round++) {
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
      size_t packed_size = ZSTD_compress(packed, bound, input, size, levels[i]);
      bench_check(!ZSTD_isError(packed_size), "ZSTD_compress");
      size_t unpacked_size = ZSTD_decompress(unpacked, size, packed, packed_size);
      bench_check(!ZSTD_isError(unpacked_size) && unpacked_size == size && !memcmp(input, unpacked, size),
                  "ZSTD_decompress");
      digest = bench_fnv1a(packed, packed_size, digest);
      if (round == 0) printf("level %d: %zu -> %zu\n", levels[i], size, packed_size);
    }
    input[round % size] ^= 1;
  }
  printf("rounds %ld digest %016llx\n", rounds, digest);
  free(input);
  free(packed);
  free(unpacked);
  return 0;
}
