#include "storage/tictac_rebuild.h"

#include <string>

#include "core/byte_codec.h"
#include "storage/key_encoding.h"
#include "storage/tictac_keys.h"

namespace meridian::storage {

Status AddStoredObject(TictacTree& tree, std::string_view storage_key,
                       std::string_view encoded_object) {
  auto version_hash = EncodedObjectVersionHash(encoded_object);
  if (!version_hash.ok()) return version_hash.status();
  tree.Update(storage_key, std::nullopt, *version_hash);
  return Status::Ok();
}

Result<TictacTree> RebuildTictacTree(TictacShape shape, const StoredObjectSource& source) {
  TictacTree tree(shape);
  Status object_status;
  std::string failed_key;
  Status scan_status = source([&](std::string_view key, std::string_view value) {
    object_status = AddStoredObject(tree, key, value);
    if (!object_status.ok()) failed_key.assign(key);
    return object_status.ok();
  });
  if (!object_status.ok()) {
    return Status(object_status.code(), "tictac rebuild: object under storage key (base64url) " +
                                            Base64UrlEncode(failed_key) + ": " +
                                            object_status.message());
  }
  if (!scan_status.ok()) return scan_status;
  return tree;
}

Result<TictacTree> RebuildTictacTree(TictacShape shape, Engine& engine, std::uint32_t partition) {
  const KeyRange range = PartitionRange(partition);
  return RebuildTictacTree(shape, [&](const ScanVisitor& visit) {
    return engine.Scan(Column::kObjects, range.begin, range.end, visit);
  });
}

}  // namespace meridian::storage
