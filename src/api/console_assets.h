// ConsoleAssets: the web console's static files (src/api/console/: index.html, console.js,
// console.css), compiled into the binary at build time (cmake/embed_console_assets.cmake), by
// file name, with the content type each is served with. The files hold no data: the page
// fetches everything from the JSON API with the user's own token.
//
// Thread-safety: immutable after static initialisation; safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace meridian::api {

struct ConsoleAsset {
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;          // static storage: valid for the life of the process
};

class ConsoleAssets {
 public:
  // The asset named `name` ("index.html", "console.js", ...); "" is index.html. Nullopt for
  // an unknown name (also for anything with a '/': the console's files are all at its root).
  static std::optional<ConsoleAsset> Find(std::string_view name);
};

// The embedded bytes, defined by the generated console_assets_data.cc. Use ConsoleAssets.
namespace console_assets {
struct EmbeddedFile {
  std::string_view name;
  std::string_view bytes;
};
extern const EmbeddedFile kFiles[];
extern const std::size_t kFileCount;
}  // namespace console_assets

}  // namespace meridian::api
