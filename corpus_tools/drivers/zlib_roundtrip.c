/* Runtime benchmark driver (a harness, not corpus code): zlib compression round trips.
 *
 * usage: zlib_roundtrip [KiB of input] [rounds]
 * Compresses generated text at levels 1, 6 and 9 (compress2), decompresses
 * each result (uncompress), checks it equals the input, and prints the
 * compressed sizes, the input's CRC-32 and Adler-32, and a checksum. The
 * library's prototypes are declared here so the driver needs no header from
 * the sources.
 */
#include "workload.h"

unsigned long compressBound(unsigned long sourceLen);
int compress2(unsigned char *dest, unsigned long *destLen, const unsigned char *source, unsigned long sourceLen,
              int level);
int uncompress(unsigned char *dest, unsigned long *destLen, const unsigned char *source, unsigned long sourceLen);
unsigned long crc32(unsigned long crc, const unsigned char *buf, unsigned len);
unsigned long adler32(unsigned long adler, const unsigned char *buf, unsigned len);

int main(int argc, char **argv) {
  static const int levels[] = {1, 6, 9};
  const unsigned long size = (unsigned long)bench_arg(argc, argv, 1, 1024) * 1024;
  const long rounds = bench_arg(argc, argv, 2, 1);
  unsigned char *input = bench_alloc(size);
  bench_fill_text(input, size);
  const unsigned long bound = compressBound(size);
  unsigned char *packed = bench_alloc(bound);
  unsigned char *unpacked = bench_alloc(size);
  unsigned long long digest = 0xCBF29CE484222325ull;
  for (long round = 0; round < rounds; round++) {
    unsigned long sizes[3];
    for (int i = 0; i < 3; i++) {
      unsigned long packed_size = bound, unpacked_size = size;
      bench_check(compress2(packed, &packed_size, input, size, levels[i]) == 0, "compress2");
      bench_check(uncompress(unpacked, &unpacked_size, packed, packed_size) == 0 && unpacked_size == size &&
                      !memcmp(input, unpacked, size),
                  "zlib");
      digest = bench_fnv1a(packed, packed_size, digest);
      sizes[i] = packed_size;
    }
    unsigned long crc = crc32(0, input, (unsigned)size), adler = adler32(1, input, (unsigned)size);
    if (round == 0)
      printf("input %lu level1 %lu level6 %lu level9 %lu crc32 %08lx adler32 %08lx\n", size, sizes[0], sizes[1],
             sizes[2], crc, adler);
    input[round % size] ^= 1; /* next round compresses slightly different data */
  }
  printf("rounds %ld digest %016llx\n", rounds, digest);
  free(input);
  free(packed);
  free(unpacked);
  return 0;
}
