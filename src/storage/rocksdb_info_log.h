// RocksDB's info log (the LOG file in the database directory: flushes, compactions, errors),
// written by a logger that cannot fail the process. RocksDB's own file logger aborts
// (Debian's librocksdb is built with assertions: "Writer has previous error") on the first
// line after a write of the LOG failed — so a full disk used to kill the node from inside
// RocksDB's error handling. This one drops lines it cannot write and tries again later.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace rocksdb {
class Logger;
}  // namespace rocksdb

namespace meridian::storage {

// Appends to <db_path>/LOG; at `bytes_max` it becomes LOG.old (the previous LOG.old is
// dropped) and a new LOG starts. Thread-safe (RocksDB logs from its background threads).
std::shared_ptr<rocksdb::Logger> NewRocksDbInfoLog(const std::string& db_path,
                                                   std::size_t bytes_max);

}  // namespace meridian::storage
