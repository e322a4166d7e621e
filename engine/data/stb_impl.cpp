// engine/data/stb_impl.cpp — the one translation unit that compiles stb_image's and
// stb_image_write's implementations (single-header libraries: exactly one .cpp in the
// whole program may define STB_IMAGE_IMPLEMENTATION / STB_IMAGE_WRITE_IMPLEMENTATION).
// Every other file includes the headers for declarations only.
// Third-party code: its own style trips our -Wall -Wextra, which are for our code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STB_IMAGE_IMPLEMENTATION
#define STBI_FAILURE_USERMSG  // readable reasons from stbi_failure_reason()
#include <stb_image.h>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>
#pragma GCC diagnostic pop
