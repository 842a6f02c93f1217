/* Runtime benchmark driver (a harness, not corpus code): Snappy compression round trips (a C++ library, through
 * its C API; the program links the C++ runtime).
 *
 * usage: snappy_roundtrip [KiB of input] [rounds]
 * Compresses generated text in blocks of 4 KiB up to the whole input,
 * validates and decompresses each result, checks it equals the input, and
 * prints the compressed sizes and a checksum. The C API's prototypes are
 * declared here so the driver needs no header from the sources.
 */
#include "workload.h"

int snappy_compress(const char *input, size_t input_length, char *compressed, size_t *compressed_length);
int snappy_uncompress(const char *compressed, size_t compressed_length, char *uncompressed,
                      size_t *uncompressed_length);
size_t snappy_max_compressed_length(size_t source_length);
int snappy_uncompressed_length(const char *compressed, size_t compressed_length, size_t *result);
int snappy_validate_compressed_buffer(const char *compressed, size_t compressed_length);

int main(int argc, char **argv) {
  const size_t size = (size_t)bench_arg(argc, argv, 1, 1024) * 1024;
  const long rounds = bench_arg(argc, argv, 2, 1);
  char *input = bench_alloc(size);
  bench_fill_text((unsigned char *)input, size);
  char *packed = bench_alloc(snappy_max_compressed_length(size));
  char *unpacked = bench_alloc(size);
  unsigned long long digest = 0xCBF29CE484222325ull;
  for (long round = 0; round < rounds; round++) {
    for (size_t block = 4096; block <= size; block *= 4) {
      size_t total = 0;
      for (size_t offset = 0; offset + block <= size; offset += block) {
        size_t packed_size = snappy_max_compressed_length(block), length = 0, unpacked_size = block;
        bench_check(snappy_compress(input + offset, block, packed, &packed_size) == 0, "snappy_compress");
        bench_check(snappy_validate_compressed_buffer(packed, packed_size) == 0, "snappy_validate");
        bench_check(snappy_uncompressed_length(packed, packed_size, &length) == 0 && length == block, "length");
        bench_check(snappy_uncompress(packed, packed_size, unpacked, &unpacked_size) == 0 && unpacked_size == block &&
                        !memcmp(input + offset, unpacked, block),
                    "snappy");
        digest = bench_fnv1a(packed, packed_size, digest);
        total += packed_size;
      }
      if (round == 0) printf("block %zu compressed %zu\n", block, total);
    }
    input[round % size] ^= 1; /* next round compresses slightly different data */
  }
  printf("rounds %ld digest %016llx\n", rounds, digest);
  free(input);
  free(packed);
  free(unpacked);
  return 0;
}
