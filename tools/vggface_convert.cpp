// tools/vggface_convert.cpp — MatConvNet's published VGG-Face (vgg-face.mat, Parkhi et al. 2015)
// to the engine's weights file, so `--model vggface --weights FILE` loads it unchanged:
//
//     vggface_convert vgg-face.mat vggface.safetensors
//
// The file is read through libmatio (models/matconvnet.h: the layer structs' `weights`
// cells, HWIO filters, meta.normalization); anything that is not a MatConvNet VGG16 with
// VGG-Face's widths and 2,622 outputs is refused with an error listing what was expected.
// --any-vgg16 accepts other widths/outputs (the result is then a `vgg16`-layout net of those
// widths, which make_model builds only for the standard widths).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "engine/error.h"
#include "models/matconvnet.h"

int main(int argc, char** argv) {
  CLI::App app{"vgg-face.mat (MatConvNet) -> safetensors weights for --model vggface"};
  std::string in, out;
  bool any = false;
  app.add_option("mat", in, "MatConvNet network (.mat), e.g. vgg-face.mat")->required();
  app.add_option("out", out, "output .safetensors")->required();
  app.add_flag("--any-vgg16", any, "accept a VGG16 of other widths or outputs (tests, fine-tuned nets)");
  CLI11_PARSE(app, argc, argv);
  try {
    const ml::models::MatConvNetVgg16 net = ml::models::read_matconvnet_vgg16(in);
    if (!any) ml::models::check_vggface(net, in);
    ml::models::write_matconvnet_weights(net, "vggface", out, std::filesystem::path(in).filename().string());
    std::printf("%s: %zu tensors, %lld outputs, average image %.4f %.4f %.4f (%s)\n", out.c_str(), net.state.size(),
                static_cast<long long>(net.num_classes), net.average_image[0], net.average_image[1],
                net.average_image[2], net.average_image_note.c_str());
  } catch (const ml::Error& e) {
    std::fprintf(stderr, "vggface_convert: %s\n", e.what());
    return 1;
  }
  return 0;
}
