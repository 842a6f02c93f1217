/* Runtime benchmark driver (a harness, not corpus code): Brotli compression round trips.
 *
 * usage: brotli_roundtrip [KiB of input] [rounds]
 * Compresses generated text at qualities 1, 5 and 9 with Brotli's one-shot
 * API, decompresses each result, checks it equals the input, and prints the
 * compressed sizes and a checksum. Prototypes are declared here (enums as
 * int) so the driver needs no header from the sources.
 */
#include <stdint.h>

#include "workload.h"

size_t BrotliEncoderMaxCompressedSize(size_t input_size);
int BrotliEncoderCompress(int quality, int lgwin, int mode, size_t input_size, const uint8_t *input,
                          size_t *encoded_size, uint8_t *encoded);
int BrotliDecoderDecompress(size_t encoded_size, const uint8_t *encoded, size_t *decoded_size, uint8_t *decoded);

enum { WINDOW_BITS = 22, MODE_TEXT = 1, DECODER_SUCCESS = 1 };

int main(int argc, char **argv) {
  static const int qualities[] = {1, 5, 9};
  const size_t size = (size_t)bench_arg(argc, argv, 1, 1024) * 1024;
  const long rounds = bench_arg(argc, argv, 2, 1);
  uint8_t *input = bench_alloc(size);
  bench_fill_text(input, size);
  const size_t bound = BrotliEncoderMaxCompressedSize(size);
  uint8_t *packed = bench_alloc(bound);
  uint8_t *unpacked = bench_alloc(size);
  unsigned long long digest = 0xCBF29CE484222325ull;
  for (long round = 0; round < rounds; round++) {
    for (size_t i = 0; i < sizeof qualities / sizeof qualities[0]; i++) {
      size_t packed_size = bound;
      bench_check(BrotliEncoderCompress(qualities[i], WINDOW_BITS, MODE_TEXT, size, input, &packed_size, packed),
                  "BrotliEncoderCompress");
      size_t unpacked_size = size;
      bench_check(BrotliDecoderDecompress(packed_size, packed, &unpacked_size, unpacked) == DECODER_SUCCESS &&
                      unpacked_size == size && !memcmp(input, unpacked, size),
                  "BrotliDecoderDecompress");
      digest = bench_fnv1a(packed, packed_size, digest);
      if (round == 0) printf("quality %d: %zu -> %zu\n", qualities[i], size, packed_size);
    }
    input[round % size] ^= 1;
  }
  printf("rounds %ld digest %016llx\n", rounds, digest);
  free(input);
  free(packed);
  free(unpacked);
  return 0;
}
