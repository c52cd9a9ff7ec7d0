// Reads the server name (SNI, RFC 6066 3) of the first ClientHello of a TLS connection without
// terminating TLS, so the bytes can be relayed untouched. A hand parser of the record layer
// (RFC 8446 5.1), the handshake header and the extensions, strictly bounded and fuzzed
// (tests/fuzz/tls_client_hello_fuzzer.cc); the ClientHello may span several records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace portcullis::proxy {

struct ClientHelloPeek {
  enum class Status : uint8_t {
    kNeedMore,   // a prefix of a valid ClientHello: read more
    kComplete,   // server_name holds the SNI host name, or is empty when there is none
    kMalformed,  // not a TLS ClientHello (or a broken one)
    kTooLarge,   // beyond kMaxClientHelloBytes or kMaxClientHelloRecords
  };
  Status status = Status::kNeedMore;
  std::string server_name;
  size_t record_bytes = 0;  // kComplete: bytes of the records that carried the ClientHello
};

// A ClientHello (handshake header included) is at most 16 KiB: real ones are 0.2-2 KiB, post-
// quantum key shares included; more is a client we refuse rather than buffer for.
inline constexpr size_t kMaxClientHelloBytes = 16 * 1024;
// Records it may be split into: fragmenting into 1-byte records would otherwise make the
// 5-byte record headers dominate the buffer.
inline constexpr size_t kMaxClientHelloRecords = 16;
// What a reader must be able to buffer before peekClientHello() decides (the header of one
// record too many included).
inline constexpr size_t kMaxClientHelloBuffer =
    kMaxClientHelloBytes + 5 * (kMaxClientHelloRecords + 1);

// Looks at everything received so far (from the connection's first byte); call again with
// more bytes on kNeedMore. Never reads past `bytes`, never allocates more than the bound.
ClientHelloPeek peekClientHello(std::string_view bytes);

const char* toString(ClientHelloPeek::Status status);

}  // namespace portcullis::proxy
