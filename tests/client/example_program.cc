// The example program of docs/client.md: writes a value, reads it back, resolves siblings.
// Usage: client_example_program [ENDPOINT] [CA_FILE]   (default endpoint http://127.0.0.1:8080)
#include <meridian/client.h>

#include <cstdio>
#include <string>

namespace mc = meridian::client;

int main(int argc, char** argv) {
  mc::ClientOptions options;
  if (argc > 1) options.endpoint = argv[1];
  if (argc > 2) options.ca_file = argv[2];  // for https with a private CA
  options.timeout_ms = 5000;

  auto created = mc::Client::Create(options);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.error().ToString().c_str());
    return 1;
  }
  mc::Client& client = **created;

  // A blind write in the bucket "default".
  auto written = client.Put("greeting", "hello");
  if (!written.ok()) {
    std::fprintf(stderr, "put: %s\n", written.error().ToString().c_str());
    return 1;
  }

  // Read it back. Concurrent blind writes would have left several siblings.
  auto read = client.Get("greeting");
  if (!read.ok()) {
    std::fprintf(stderr, "get: %s\n", read.error().ToString().c_str());
    return 1;
  }
  if (!read->found) {
    std::fprintf(stderr, "get: not found\n");
    return 3;
  }
  std::string merged;
  for (const mc::Sibling& sibling : read->siblings) merged += sibling.value;

  // Write back with the context: this supersedes exactly the siblings we read.
  mc::PutOptions resolve;
  resolve.context = read->context;
  resolve.durable_write = true;  // synced to disk before the reply
  auto resolved = client.Put("greeting", merged, resolve);
  if (!resolved.ok()) {
    std::fprintf(stderr, "put: %s\n", resolved.error().ToString().c_str());
    return 1;
  }
  std::printf("greeting = %s (%zu sibling(s) merged, durable=%s)\n", merged.c_str(),
              read->siblings.size(), resolved->durable ? "true" : "false");
  return 0;
}
