// fuzz-links: portcullis_proxy
// The TLS listener's ClientHello peek, fed whatever a client could send. Invariants: a verdict
// on a prefix never contradicts the verdict on the whole (the listener decides on prefixes as
// bytes arrive), a complete hello never claims bytes it was not given, and a server name is
// always a plain bounded host name.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proxy/tls_client_hello.h"

using namespace portcullis::proxy;  // NOLINT

namespace {

void require(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const ClientHelloPeek whole = peekClientHello(bytes);
  if (whole.status == ClientHelloPeek::Status::kComplete) {
    require(whole.record_bytes > 0 && whole.record_bytes <= size);
    require(whole.record_bytes <= kMaxClientHelloBuffer);
    require(whole.server_name.size() <= 255);
    for (char c : whole.server_name) require(c > ' ' && c < 0x7f);
    // What follows the hello does not change the verdict on it.
    const ClientHelloPeek exact = peekClientHello(bytes.substr(0, whole.record_bytes));
    require(exact.status == whole.status && exact.server_name == whole.server_name);
  } else {
    require(whole.server_name.empty() && whole.record_bytes == 0);
  }
  if (whole.status == ClientHelloPeek::Status::kNeedMore) require(size < kMaxClientHelloBuffer);
  // A prefix is either undecided or already decided the same way.
  const ClientHelloPeek half = peekClientHello(bytes.substr(0, size / 2));
  if (half.status != ClientHelloPeek::Status::kNeedMore) {
    require(half.status == whole.status && half.server_name == whole.server_name);
  }
  return 0;
}
