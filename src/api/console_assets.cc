#include "api/console_assets.h"

namespace meridian::api {

namespace {

// By file extension; an asset of another type is a build mistake and is not served.
std::optional<std::string_view> ContentTypeOf(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return std::nullopt;
}

}  // namespace

std::optional<ConsoleAsset> ConsoleAssets::Find(std::string_view name) {
  if (name.empty()) name = "index.html";
  if (name.find('/') != std::string_view::npos) return std::nullopt;
  std::optional<std::string_view> content_type = ContentTypeOf(name);
  if (!content_type) return std::nullopt;
  for (std::size_t i = 0; i < console_assets::kFileCount; ++i) {
    if (console_assets::kFiles[i].name == name) {
      return ConsoleAsset{*content_type, console_assets::kFiles[i].bytes};
    }
  }
  return std::nullopt;
}

}  // namespace meridian::api
