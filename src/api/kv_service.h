// KvService: what the front ends (HTTP, later RESP) need from the server — submit a client
// request, be called back once with its reply. The runtime implements it over a Node.
// Completions run on the service's event-loop thread; they must not block.
#pragma once

#include <functional>

#include "node/client_request.h"

namespace meridian::api {

class KvService {
 public:
  using Completion = std::function<void(node::ClientReply)>;
  virtual ~KvService() = default;
  virtual void Submit(node::ClientRequest request, Completion done) = 0;
};

}  // namespace meridian::api
